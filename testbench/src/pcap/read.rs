//! Reading the frames of a capture file, classic pcap or pcapng, from memory with pcap-file's
//! slice parsers (a record cannot make the reader allocate more than the file holds), with
//! one clear line for each way a file can be wrong.

use pcap_file::pcapng::Block;
use pcap_file::{DataLink, PcapError};
use std::path::Path;

/// Largest capture file read (it is held in memory with its frames).
pub const MAX_CAPTURE_BYTES: u64 = 1 << 30;

const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];

/// Every frame of the capture at `path`, in order; an error says what is wrong in one line.
pub fn frames(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot open: {e}"))?;
    if meta.is_dir() {
        return Err("is a directory, not a capture file".into());
    }
    if meta.len() == 0 {
        return Err("is empty (0 bytes), not a capture".into());
    }
    if meta.len() > MAX_CAPTURE_BYTES {
        return Err(format!(
            "is {} bytes, more than the {} MiB a replay reads",
            meta.len(),
            MAX_CAPTURE_BYTES >> 20
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    from_bytes(&bytes)
}

/// Every frame of a capture held in memory; an error says what is wrong in one line.
pub fn from_bytes(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if bytes.is_empty() {
        return Err("is empty (0 bytes), not a capture".into());
    }
    let magic: [u8; 4] = bytes
        .get(..4)
        .and_then(|m| m.try_into().ok())
        .unwrap_or([0; 4]);
    if magic == PCAPNG_MAGIC {
        pcapng(bytes)
    } else if PCAP_MAGICS.contains(&magic) {
        pcap(bytes)
    } else {
        Err(format!(
            "is not a pcap or pcapng capture (it starts with {:02x?}); write one with tcpdump -w or Wireshark",
            &bytes[..bytes.len().min(4)]
        ))
    }
}

/// Frames the capture's snaplen cut short: an error naming them.
fn cut_frames(cut: &[(usize, usize, u32)]) -> Result<(), String> {
    let Some(&(i, got, orig)) = cut.first() else {
        return Ok(());
    };
    Err(format!(
        "{} frame(s) were cut by the capture's snaplen, the first is frame {} ({got} of {orig} bytes captured): capture again with the whole frame (tcpdump -s 0)",
        cut.len(),
        i + 1
    ))
}

fn ethernet(link: DataLink) -> Result<(), String> {
    if link == DataLink::ETHERNET {
        Ok(())
    } else {
        Err(format!("link type {link:?} is not Ethernet"))
    }
}

fn pcap(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let (mut rest, parser) = pcap_file::pcap::PcapParser::new(bytes).map_err(|e| match e {
        PcapError::IncompleteBuffer => format!(
            "is {} bytes, too short for a pcap file header (24 bytes)",
            bytes.len()
        ),
        e => format!("bad pcap file header: {e}"),
    })?;
    ethernet(parser.header().datalink)?;
    let mut out = Vec::new();
    let mut cut = Vec::new();
    while !rest.is_empty() {
        let at = bytes.len() - rest.len();
        // The raw record: pcap-file's checked one refuses ORIG_LEN > SNAPLEN, which is what
        // every snaplen-limited capture has; the lengths are judged here instead.
        let (r, p) = parser.next_raw_packet(rest).map_err(|e| match e {
            PcapError::IncompleteBuffer => format!(
                "the file ends inside record {} (at byte {at}): the capture is truncated",
                out.len() + 1
            ),
            e => format!("record {} (at byte {at}) is corrupt: {e}", out.len() + 1),
        })?;
        if p.incl_len > p.orig_len {
            return Err(format!(
                "record {} (at byte {at}) is corrupt: {} bytes captured of a {}-byte frame",
                out.len() + 1,
                p.incl_len,
                p.orig_len
            ));
        }
        if p.incl_len < p.orig_len {
            cut.push((out.len(), p.data.len(), p.orig_len));
        }
        out.push(p.data.into_owned());
        rest = r;
    }
    cut_frames(&cut)?;
    Ok(out)
}

fn pcapng(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let (mut rest, mut parser) =
        pcap_file::pcapng::PcapNgParser::new(bytes).map_err(|e| match e {
            PcapError::IncompleteBuffer => "the pcapng section header is cut short".to_string(),
            e => format!("bad pcapng section header: {e}"),
        })?;
    let mut out = Vec::new();
    let mut cut = Vec::new();
    while !rest.is_empty() {
        let at = bytes.len() - rest.len();
        let (r, block) = parser.next_block(rest).map_err(|e| match e {
            PcapError::IncompleteBuffer => {
                format!(
                    "the file ends inside a pcapng block (at byte {at}): the capture is truncated"
                )
            }
            e => format!("pcapng block at byte {at} is corrupt: {e}"),
        })?;
        let (data, orig) = match &block {
            Block::EnhancedPacket(p) => {
                let link = parser
                    .packet_interface(p)
                    .map(|i| i.linktype)
                    .ok_or_else(|| format!("packet at byte {at} names an undeclared interface"))?;
                ethernet(link)?;
                (p.data.to_vec(), p.original_len)
            }
            Block::SimplePacket(p) => {
                let link = parser
                    .interfaces()
                    .first()
                    .map(|i| i.linktype)
                    .ok_or_else(|| format!("packet at byte {at} comes before any interface"))?;
                ethernet(link)?;
                (p.data.to_vec(), p.original_len)
            }
            Block::Packet(_) => {
                return Err(format!(
                    "obsolete pcapng Packet block at byte {at}: convert the file with editcap -F pcapng"
                ))
            }
            _ => {
                rest = r;
                continue;
            }
        };
        if (data.len() as u64) < orig as u64 {
            cut.push((out.len(), data.len(), orig));
        }
        out.push(data);
        rest = r;
    }
    cut_frames(&cut)?;
    Ok(out)
}
