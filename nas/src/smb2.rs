//! SMB2 over direct TCP (port 445): NetBIOS session framing, the SMB2 header and WRITE requests.
//!
//! Only what a zero-copy NAS write path needs: find every WRITE's data (where it sits in the TCP
//! stream, how long it is, at which file offset it goes) and skip everything else. The data is
//! never copied: the caller reads header bytes on demand through a closure and hands the data's
//! stream range to the block engine. Dialects 2.0.2 to 3.1.1 share this header; signed messages
//! parse the same (the signature is not checked here). Encrypted (TRANSFORM) and compressed
//! messages are recognised and reported as unsupported, so nothing is written from them.

use serde::Serialize;

/// NetBIOS session service header length (RFC 1002, as used by SMB2 direct TCP).
pub const NETBIOS_HDR: u64 = 4;
/// SMB2 header length.
pub const HDR: usize = 64;
/// Fixed part of the WRITE request body.
pub const WRITE_BODY: usize = 48;
/// SMB2 WRITE command code.
pub const CMD_WRITE: u16 = 0x0009;
/// SMB2 header flag: a response (server to client).
pub const FLAG_RESPONSE: u32 = 0x0000_0001;
/// SMB2 header flag: the message is signed.
pub const FLAG_SIGNED: u32 = 0x0000_0008;

const PROTO_SMB2: [u8; 4] = [0xFE, b'S', b'M', b'B'];
const PROTO_SMB1: [u8; 4] = [0xFF, b'S', b'M', b'B'];
const PROTO_TRANSFORM: [u8; 4] = [0xFD, b'S', b'M', b'B'];
const PROTO_COMPRESSED: [u8; 4] = [0xFC, b'S', b'M', b'B'];

/// Why a message cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Smb2Error {
    /// The caller's reader failed (bytes not received or not readable).
    #[error("stream bytes {off}..{} not available", off + *len as u64)]
    Unavailable {
        /// First byte.
        off: u64,
        /// Bytes asked for.
        len: usize,
    },
    /// The message does not start with a known protocol id.
    #[error("message at stream offset {off}: unknown protocol id {id:02x?}")]
    BadProtocol {
        /// Message start.
        off: u64,
        /// The four bytes found.
        id: [u8; 4],
    },
    /// A length or offset field points outside its message.
    #[error("message at stream offset {off}: {what}")]
    Malformed {
        /// Offset of the offending header.
        off: u64,
        /// What is wrong.
        what: String,
    },
}

/// What kind of message a NetBIOS session message carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MsgKind {
    /// Not a session message (keepalive and other NetBIOS types): skipped.
    NetbiosControl,
    /// SMB1 (a client's first NEGOTIATE may be SMB1): skipped.
    Smb1,
    /// One SMB2 message or a compound chain.
    Smb2,
    /// SMB2 TRANSFORM header: an encrypted session. Unsupported; nothing is written.
    Encrypted,
    /// SMB2 compression transform. Unsupported; nothing is written.
    Compressed,
}

/// A WRITE request's data: where it is in the stream and where it goes in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Write {
    /// Stream offset of the first data byte.
    pub stream_off: u64,
    /// Data bytes.
    pub len: u32,
    /// File offset of the first data byte.
    pub file_off: u64,
    /// FileId (persistent, volatile).
    pub file_id: (u64, u64),
}

/// One SMB2 command of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    /// Stream offset of its SMB2 header.
    pub off: u64,
    /// Command code.
    pub command: u16,
    /// Header flags.
    pub flags: u32,
    /// MessageId.
    pub message_id: u64,
    /// A WRITE request's data (requests only; responses and other commands: None).
    pub write: Option<Write>,
}

/// One NetBIOS session message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Stream offset of its NetBIOS header.
    pub start: u64,
    /// Stream offset just past it (the next message's start).
    pub end: u64,
    /// What it carried.
    pub kind: MsgKind,
    /// Its SMB2 commands (kind Smb2 only).
    pub commands: Vec<Command>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// Length of the message behind a NetBIOS header (type, then a 24-bit big-endian length), and
/// whether it is a session message (type 0).
pub fn netbios(hdr: [u8; 4]) -> (bool, u32) {
    (hdr[0] == 0, u32::from_be_bytes([0, hdr[1], hdr[2], hdr[3]]))
}

/// Parse the message whose NetBIOS header starts at stream offset `start`, reading only header
/// bytes through `read(off, buf)` (which fills `buf` with stream bytes `off..off+buf.len()` or
/// returns false). `received` is the number of stream bytes available: `Ok(None)` means the
/// message is not complete yet (its data must all be received before it is used).
pub fn parse_message(
    start: u64,
    received: u64,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
) -> Result<Option<Message>, Smb2Error> {
    parse(start, received, read, true)
}

/// Like [`parse_message`], but needs only the header bytes to be received (the NetBIOS header,
/// each SMB2 header and a WRITE's fixed body), not the data behind them: a WRITE's data can then
/// be written piece by piece as it arrives, so a message larger than the receive buffers (a
/// 1 MiB WRITE) does not have to be held whole. `Ok(None)`: a header is not complete yet.
pub fn parse_head(
    start: u64,
    received: u64,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
) -> Result<Option<Message>, Smb2Error> {
    parse(start, received, read, false)
}

fn parse(
    start: u64,
    received: u64,
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    whole: bool,
) -> Result<Option<Message>, Smb2Error> {
    if received < start + NETBIOS_HDR {
        return Ok(None);
    }
    let mut nb = [0u8; 4];
    fetch(read, start, &mut nb)?;
    let (session, len) = netbios(nb);
    let body = start + NETBIOS_HDR;
    let end = body + len as u64;
    // Bytes needed before anything of the message is used.
    let need = |upto: u64| if whole { end } else { upto.min(end) };
    if received < need(body + 4) {
        return Ok(None);
    }
    let mut msg = Message {
        start,
        end,
        kind: MsgKind::NetbiosControl,
        commands: Vec::new(),
    };
    if !session || len == 0 {
        return Ok(Some(msg));
    }
    if len < 4 {
        return Err(Smb2Error::Malformed {
            off: start,
            what: format!("session message of {len} bytes"),
        });
    }
    let mut id = [0u8; 4];
    fetch(read, body, &mut id)?;
    msg.kind = match id {
        PROTO_SMB2 => MsgKind::Smb2,
        PROTO_SMB1 => MsgKind::Smb1,
        PROTO_TRANSFORM => MsgKind::Encrypted,
        PROTO_COMPRESSED => MsgKind::Compressed,
        _ => return Err(Smb2Error::BadProtocol { off: body, id }),
    };
    if msg.kind != MsgKind::Smb2 {
        return Ok(Some(msg));
    }
    // A compound chain: each header's NextCommand is the distance to the next (8-byte aligned).
    let mut off = body;
    loop {
        let left = end - off;
        if left < HDR as u64 {
            return Err(Smb2Error::Malformed {
                off,
                what: format!("SMB2 header needs 64 bytes, {left} left"),
            });
        }
        let mut h = vec![0u8; (HDR + WRITE_BODY).min(left as usize)];
        if received < need(off + h.len() as u64) {
            return Ok(None);
        }
        fetch(read, off, &mut h)?;
        if h[..4] != PROTO_SMB2 {
            return Err(Smb2Error::Malformed {
                off,
                what: "compound command without the SMB2 protocol id".into(),
            });
        }
        let command = le16(&h, 12);
        let flags = le32(&h, 16);
        let next = le32(&h, 20) as u64;
        let cmd_end = if next == 0 { end } else { off + next };
        if next != 0 && (next < HDR as u64 || cmd_end > end) {
            return Err(Smb2Error::Malformed {
                off,
                what: format!("NextCommand {next} outside the message"),
            });
        }
        let mut c = Command {
            off,
            command,
            flags,
            message_id: le64(&h, 24),
            write: None,
        };
        if command == CMD_WRITE && flags & FLAG_RESPONSE == 0 {
            if h.len() < HDR + WRITE_BODY {
                return Err(Smb2Error::Malformed {
                    off,
                    what: "WRITE request shorter than its fixed body".into(),
                });
            }
            let b = &h[HDR..];
            let data_offset = le16(b, 2) as u64;
            let len = le32(b, 4);
            let data = off + data_offset;
            if data_offset < (HDR + WRITE_BODY) as u64 || data + len as u64 > cmd_end {
                return Err(Smb2Error::Malformed {
                    off,
                    what: format!("WRITE data {data_offset}+{len} outside its command"),
                });
            }
            if le32(b, 32) != 0 {
                return Err(Smb2Error::Malformed {
                    off,
                    what: "WRITE over an RDMA channel".into(),
                });
            }
            c.write = Some(Write {
                stream_off: data,
                len,
                file_off: le64(b, 8),
                file_id: (le64(b, 16), le64(b, 24)),
            });
        }
        msg.commands.push(c);
        if next == 0 {
            break;
        }
        off = cmd_end;
    }
    Ok(Some(msg))
}

fn fetch(
    read: &mut dyn FnMut(u64, &mut [u8]) -> bool,
    off: u64,
    buf: &mut [u8],
) -> Result<(), Smb2Error> {
    if read(off, buf) {
        Ok(())
    } else {
        Err(Smb2Error::Unavailable {
            off,
            len: buf.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NetBIOS session message with one SMB2 WRITE request of `data` at `file_off`, built by
    /// hand from [MS-SMB2] 2.2.1 and 2.2.21.
    fn write_msg(file_off: u64, data: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; HDR + WRITE_BODY];
        m[..4].copy_from_slice(&PROTO_SMB2);
        m[4] = 64; // StructureSize
        m[12] = 9; // WRITE
        m[24..32].copy_from_slice(&7u64.to_le_bytes()); // MessageId
        m[64] = 49; // StructureSize of the request body
        m[66] = 112; // DataOffset
        m[68..72].copy_from_slice(&(data.len() as u32).to_le_bytes());
        m[72..80].copy_from_slice(&file_off.to_le_bytes());
        m.extend_from_slice(data);
        let mut out = (m.len() as u32).to_be_bytes().to_vec();
        out[0] = 0;
        out.extend_from_slice(&m);
        out
    }

    #[test]
    fn head_is_enough_for_a_write_whose_data_is_still_coming() {
        let s = write_msg(4096, &[0x5a; 3000]);
        let mut read = |off: u64, buf: &mut [u8]| {
            let (a, b) = (off as usize, off as usize + buf.len());
            b <= s.len() && {
                buf.copy_from_slice(&s[a..b]);
                true
            }
        };
        // Headers only: not yet for the whole message, but the head parses.
        let got = 4 + 112 + 10;
        assert_eq!(parse_message(0, got, &mut read).unwrap(), None);
        let m = parse_head(0, got, &mut read).unwrap().unwrap();
        assert_eq!(m.end, s.len() as u64);
        let w = m.commands[0].write.unwrap();
        assert_eq!((w.stream_off, w.len, w.file_off), (116, 3000, 4096));
        assert_eq!(m.commands[0].message_id, 7);
        // One byte short of the WRITE's fixed body: nothing yet.
        assert_eq!(parse_head(0, 4 + 111, &mut read).unwrap(), None);
        // Whole: both agree.
        let whole = parse_message(0, s.len() as u64, &mut read)
            .unwrap()
            .unwrap();
        assert_eq!(whole, m);
    }
}
