//! Buflet's minimal framed write protocol ("BFW1"), for demos and tests.
//!
//! A stream is a sequence of records: a 24-byte header then `len` data bytes.
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic `BFW1` |
//! | 4..8 | data length, u32 little-endian |
//! | 8..16 | file offset, u64 little-endian |
//! | 16..24 | reserved, 0 |

/// Record header length.
pub const HDR: u64 = 24;
/// Record magic.
pub const MAGIC: [u8; 4] = *b"BFW1";

/// One record's data: its stream range and file offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Record {
    /// Stream offset of the record header.
    pub start: u64,
    /// Stream offset of the first data byte.
    pub stream_off: u64,
    /// Data bytes.
    pub len: u32,
    /// File offset of the first data byte.
    pub file_off: u64,
}

/// A header that is not a BFW1 header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream offset {off}: not a BFW1 record header ({found:02x?})")]
pub struct BadRecord {
    /// Where the header was expected.
    pub off: u64,
    /// Its first bytes.
    pub found: [u8; 4],
}

/// Encode a record header (used by senders).
pub fn header(len: u32, file_off: u64) -> [u8; HDR as usize] {
    let mut h = [0u8; HDR as usize];
    h[..4].copy_from_slice(&MAGIC);
    h[4..8].copy_from_slice(&len.to_le_bytes());
    h[8..16].copy_from_slice(&file_off.to_le_bytes());
    h
}

/// Parse the record header at stream offset `start` (`hdr` = its 24 bytes).
pub fn parse(start: u64, hdr: &[u8; HDR as usize]) -> Result<Record, BadRecord> {
    let found = [hdr[0], hdr[1], hdr[2], hdr[3]];
    if found != MAGIC || hdr[16..].iter().any(|&b| b != 0) {
        return Err(BadRecord { off: start, found });
    }
    Ok(Record {
        start,
        stream_off: start + HDR,
        len: u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]),
        file_off: u64::from_le_bytes(hdr[8..16].try_into().unwrap_or([0; 8])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_bad_magic_is_an_error() {
        let h = header(12345, 1 << 40);
        let r = parse(100, &h).unwrap();
        assert_eq!((r.stream_off, r.len, r.file_off), (124, 12345, 1 << 40));
        let mut bad = h;
        bad[0] = b'X';
        assert_eq!(parse(7, &bad).unwrap_err().off, 7);
    }
}
