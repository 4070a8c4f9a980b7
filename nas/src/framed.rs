//! Buflet's minimal framed write protocol ("BFW1"), for demos and tests.
//!
//! A stream is a sequence of records, each a 24-byte header and, for the kinds that carry data,
//! `len` data bytes. The client sends `WRITE` records (their data goes to the file at
//! `file_off`; records may overlap, a later record's bytes replace an earlier one's) and `READ`
//! records (no data: "send me `len` file bytes from `file_off`"); the server answers each
//! `WRITE` with a `WRITE_ACK` once its data is durable on the block device, and each `READ`
//! with a `READ_DATA` record carrying the bytes, in the order the requests came.
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic `BFW1` |
//! | 4..8 | length, u32 little-endian, at most [`MAX_LEN`] (data bytes that follow for `WRITE` and `READ_DATA`; bytes asked for by `READ`, made durable by `WRITE_ACK`) |
//! | 8..16 | file offset, u64 little-endian; offset + length at most [`MAX_FILE_END`] |
//! | 16 | kind: 0 `WRITE`, 1 `READ`, 2 `WRITE_ACK`, 3 `READ_DATA` ([`Kind`]) |
//! | 17..24 | reserved, 0 |
//!
//! A header that breaks any of these rules is a [`BadRecord`]: a receiver stops at it and
//! writes nothing of it or after it. (Streams from before the kinds existed have 0 at byte 16:
//! `WRITE` records.)

/// Record header length.
pub const HDR: u64 = 24;
/// Record magic.
pub const MAGIC: [u8; 4] = *b"BFW1";
/// Largest data length of one record (16 MiB).
pub const MAX_LEN: u32 = 1 << 24;
/// Largest file offset + length a record may reach (256 TiB).
pub const MAX_FILE_END: u64 = 1 << 48;

/// A record's kind (header byte 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Kind {
    /// Client to server: `len` data bytes for the file at `file_off`.
    Write = 0,
    /// Client to server: send `len` file bytes from `file_off` (no data follows).
    Read = 1,
    /// Server to client: the `WRITE` of `len` bytes at `file_off` is durable (no data follows).
    WriteAck = 2,
    /// Server to client: `len` file bytes from `file_off` follow (the answer to a `READ`).
    ReadData = 3,
}

impl Kind {
    /// The kind of header byte 16, if it is one.
    pub fn of(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::Write,
            1 => Kind::Read,
            2 => Kind::WriteAck,
            3 => Kind::ReadData,
            _ => return None,
        })
    }

    /// Data bytes follow the header (`WRITE`, `READ_DATA`).
    pub fn has_data(self) -> bool {
        matches!(self, Kind::Write | Kind::ReadData)
    }

    /// A client sends it (`WRITE`, `READ`); the server sends the others.
    pub fn from_client(self) -> bool {
        matches!(self, Kind::Write | Kind::Read)
    }
}

/// One record: its kind, stream range and file offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Record {
    /// What the record is.
    pub kind: Kind,
    /// Stream offset of the record header.
    pub start: u64,
    /// Stream offset of the first data byte.
    pub stream_off: u64,
    /// Data bytes (`WRITE`, `READ_DATA`) or bytes asked for / acknowledged (`READ`,
    /// `WRITE_ACK`).
    pub len: u32,
    /// File offset of the first data byte.
    pub file_off: u64,
}

impl Record {
    /// Stream offset just past the record (and its data, for the kinds that carry data): the
    /// next record's header.
    pub fn end(&self) -> u64 {
        self.stream_off + self.data_len()
    }

    /// Data bytes that follow the header in the stream.
    pub fn data_len(&self) -> u64 {
        if self.kind.has_data() {
            self.len as u64
        } else {
            0
        }
    }
}

/// A header that is not a valid BFW1 header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRecord {
    /// The first four bytes are not `BFW1`.
    #[error("BFW1 record at stream offset {off}: bad magic {found:02x?} (expected \"BFW1\")")]
    Magic {
        /// Where the header was expected.
        off: u64,
        /// Its first bytes.
        found: [u8; 4],
    },
    /// Header byte 16 is not a [`Kind`].
    #[error("BFW1 record at stream offset {off}: unknown kind {kind}")]
    Kind {
        /// Header offset.
        off: u64,
        /// The kind byte.
        kind: u8,
    },
    /// The reserved bytes are not zero.
    #[error("BFW1 record at stream offset {off}: reserved bytes are not zero")]
    Reserved {
        /// Header offset.
        off: u64,
    },
    /// The data length is over [`MAX_LEN`].
    #[error(
        "BFW1 record at stream offset {off}: data length {len} is over the {MAX_LEN}-byte limit"
    )]
    TooLong {
        /// Header offset.
        off: u64,
        /// The length field.
        len: u32,
    },
    /// File offset + length is over [`MAX_FILE_END`].
    #[error("BFW1 record at stream offset {off}: file range {file_off}+{len} ends past the {MAX_FILE_END}-byte limit")]
    PastEnd {
        /// Header offset.
        off: u64,
        /// The file offset field.
        file_off: u64,
        /// The length field.
        len: u32,
    },
}

impl BadRecord {
    /// Stream offset of the bad header.
    pub fn off(&self) -> u64 {
        match *self {
            BadRecord::Magic { off, .. }
            | BadRecord::Reserved { off }
            | BadRecord::Kind { off, .. }
            | BadRecord::TooLong { off, .. }
            | BadRecord::PastEnd { off, .. } => off,
        }
    }
}

/// Encode a `WRITE` record header (used by senders).
pub fn header(len: u32, file_off: u64) -> [u8; HDR as usize] {
    header_of(Kind::Write, len, file_off)
}

/// Encode a record header of any kind.
pub fn header_of(kind: Kind, len: u32, file_off: u64) -> [u8; HDR as usize] {
    let mut h = [0u8; HDR as usize];
    h[..4].copy_from_slice(&MAGIC);
    h[4..8].copy_from_slice(&len.to_le_bytes());
    h[8..16].copy_from_slice(&file_off.to_le_bytes());
    h[16] = kind as u8;
    h
}

/// Parse the record header at stream offset `start` (`hdr` = its 24 bytes).
pub fn parse(start: u64, hdr: &[u8; HDR as usize]) -> Result<Record, BadRecord> {
    let found = [hdr[0], hdr[1], hdr[2], hdr[3]];
    if found != MAGIC {
        return Err(BadRecord::Magic { off: start, found });
    }
    if hdr[17..].iter().any(|&b| b != 0) {
        return Err(BadRecord::Reserved { off: start });
    }
    let Some(kind) = Kind::of(hdr[16]) else {
        return Err(BadRecord::Kind {
            off: start,
            kind: hdr[16],
        });
    };
    let len = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
    let mut fo = [0u8; 8];
    fo.copy_from_slice(&hdr[8..16]);
    let file_off = u64::from_le_bytes(fo);
    if len > MAX_LEN {
        return Err(BadRecord::TooLong { off: start, len });
    }
    if file_off
        .checked_add(len as u64)
        .is_none_or(|e| e > MAX_FILE_END)
    {
        return Err(BadRecord::PastEnd {
            off: start,
            file_off,
            len,
        });
    }
    Ok(Record {
        kind,
        start,
        stream_off: start + HDR,
        len,
        file_off,
    })
}

/// How a whole stream held in memory parses: its records in order, and the reason parsing
/// stopped early, if it did (a bad header, or a stream that ends inside a record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The valid records before the stop (the last one may be cut short by the stream's end:
    /// see `truncated`).
    pub records: Vec<Record>,
    /// The first bad header, if any.
    pub bad: Option<BadRecord>,
    /// The stream ends inside a header or a record's data, at this offset.
    pub truncated: Option<u64>,
}

/// Parse a whole stream held in memory (for senders' self-checks and tests; the NAS
/// application parses headers straight out of the named buffers).
pub fn parse_all(stream: &[u8]) -> Parsed {
    let end = stream.len() as u64;
    let mut records = Vec::new();
    let mut at = 0u64;
    while at < end {
        if at + HDR > end {
            return Parsed {
                records,
                bad: None,
                truncated: Some(end),
            };
        }
        let mut h = [0u8; HDR as usize];
        h.copy_from_slice(&stream[at as usize..(at + HDR) as usize]);
        match parse(at, &h) {
            Ok(r) => {
                records.push(r);
                if r.end() > end {
                    return Parsed {
                        records,
                        bad: None,
                        truncated: Some(end),
                    };
                }
                at = r.end();
            }
            Err(e) => {
                return Parsed {
                    records,
                    bad: Some(e),
                    truncated: None,
                }
            }
        }
    }
    Parsed {
        records,
        bad: None,
        truncated: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_bad_magic_is_an_error() {
        let h = header(12345, 1 << 40);
        let r = parse(100, &h).unwrap();
        assert_eq!((r.stream_off, r.len, r.file_off), (124, 12345, 1 << 40));
        assert_eq!(r.end(), 124 + 12345);
        let mut bad = h;
        bad[0] = b'X';
        let e = parse(7, &bad).unwrap_err();
        assert_eq!(e.off(), 7);
        assert!(matches!(e, BadRecord::Magic { found, .. } if found == *b"XFW1"));
        assert!(e.to_string().contains("bad magic"), "{e}");
    }

    #[test]
    fn header_layout_is_little_endian_as_documented() {
        let h = header(0x0403_0201, 0x0c0b_0a09_0807_0605);
        assert_eq!(&h[..4], b"BFW1");
        assert_eq!(&h[4..16], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert_eq!(&h[16..], &[0u8; 8]);
    }

    #[test]
    fn bounds_and_reserved_bytes_are_checked() {
        assert!(parse(0, &header(MAX_LEN, 0)).is_ok());
        assert_eq!(
            parse(5, &header(MAX_LEN + 1, 0)),
            Err(BadRecord::TooLong {
                off: 5,
                len: MAX_LEN + 1
            })
        );
        assert!(parse(0, &header(10, MAX_FILE_END - 10)).is_ok());
        assert!(matches!(
            parse(0, &header(11, MAX_FILE_END - 10)),
            Err(BadRecord::PastEnd { .. })
        ));
        assert!(matches!(
            parse(0, &header(1, u64::MAX)),
            Err(BadRecord::PastEnd { .. })
        ));
        let mut h = header(1, 0);
        h[23] = 1;
        assert_eq!(parse(3, &h), Err(BadRecord::Reserved { off: 3 }));
    }

    #[test]
    fn kinds_round_trip_and_only_data_kinds_carry_data() {
        for (k, b) in [
            (Kind::Write, 0u8),
            (Kind::Read, 1),
            (Kind::WriteAck, 2),
            (Kind::ReadData, 3),
        ] {
            let h = header_of(k, 1000, 4096);
            assert_eq!(h[16], b);
            let r = parse(10, &h).unwrap();
            assert_eq!(r.kind, k);
            assert_eq!(r.end(), 34 + if k.has_data() { 1000 } else { 0 });
            assert_eq!(k.from_client(), b < 2);
        }
        let mut h = header(1, 0);
        h[16] = 4;
        assert_eq!(parse(9, &h), Err(BadRecord::Kind { off: 9, kind: 4 }));
        // a READ then a WRITE: the READ carries no data
        let mut s = header_of(Kind::Read, 500, 0).to_vec();
        s.extend_from_slice(&header(2, 7));
        s.extend_from_slice(b"hi");
        let p = parse_all(&s);
        assert_eq!(p.records.len(), 2);
        assert_eq!((p.records[1].start, p.records[1].kind), (24, Kind::Write));
        assert_eq!((p.bad, p.truncated), (None, None));
    }

    #[test]
    fn parse_all_stops_at_a_bad_header_or_a_cut() {
        let mut s = Vec::new();
        s.extend_from_slice(&header(3, 100));
        s.extend_from_slice(b"abc");
        s.extend_from_slice(&header(0, 7));
        let good = parse_all(&s);
        assert_eq!(good.records.len(), 2);
        assert_eq!((good.bad.clone(), good.truncated), (None, None));
        assert_eq!(good.records[1].start, 27);

        let mut bad = s.clone();
        bad.extend_from_slice(b"BFW2");
        bad.extend_from_slice(&[0u8; 20]);
        bad.extend_from_slice(&header(1, 0));
        bad.push(9);
        let p = parse_all(&bad);
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.bad.map(|b| b.off()), Some(51));

        let mut cut = s.clone();
        cut.extend_from_slice(&header(10, 0));
        cut.extend_from_slice(b"12345");
        let p = parse_all(&cut);
        assert_eq!(p.records.len(), 3);
        assert_eq!(p.truncated, Some(cut.len() as u64));
        let p = parse_all(&cut[..60]);
        assert_eq!((p.records.len(), p.truncated), (2, Some(60)));
    }
}
