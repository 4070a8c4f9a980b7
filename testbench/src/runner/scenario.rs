//! What a run sends: the protocol on the stream, the scenario (demo, replay, framed records) and the file it must produce.

use super::*;

/// The application protocol the NAS server speaks on the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The whole client-to-server stream is the file, at offset 0.
    Raw,
    /// SMB2/3 over NetBIOS session framing: each WRITE's data goes at its file offset.
    Smb2,
    /// Buflet's framed write protocol (BFW1, `buflet_nas::framed`): each record's data goes at
    /// its file offset.
    Framed,
}

impl Protocol {
    /// "raw", "smb2" or "framed".
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Raw => "raw",
            Protocol::Smb2 => "smb2",
            Protocol::Framed => "framed",
        }
    }
}

impl std::str::FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "raw" => Ok(Protocol::Raw),
            "smb2" => Ok(Protocol::Smb2),
            "framed" => Ok(Protocol::Framed),
            _ => Err(format!(
                "unknown protocol '{s}' (expected smb2, framed or raw)"
            )),
        }
    }
}

/// TCP port of SMB2 over direct TCP: a replay of a connection to it speaks SMB2.
pub const SMB2_PORT: u16 = 445;

/// Largest file a scenario may write (the disk image is sized to it; the reference and the
/// read-back are sparse and streamed, so memory follows the bytes written).
pub const MAX_FILE_BYTES: u64 = 1 << 32;

/// Most cycles the device runs between two looks at the NIC's transmit side and completions.
pub(super) const STEP: u64 = 4096;
/// Cycles without progress (ACK, bytes received or written, scenario frames sent) before the
/// run is declared stalled.
pub(super) const STALL_CYCLES: u64 = 4_000_000;
/// After the last frame: cycles the NIC must stay silent before the socket is deleted.
pub(super) const SETTLE_CYCLES: u64 = 8192;

/// A stream to deliver: the frames the server's NIC receives and what the stream should be.
pub struct Scenario {
    /// Frames in wire (capture) order, starting with the client's SYN.
    pub frames: Vec<Vec<u8>>,
    /// The connection and the NIC socket's TCP parameters (ISS, RCV_BUF, MSS, RCV_WSCALE).
    pub socket: SocketSpec,
    /// Client initial sequence number (from its SYN).
    pub isn: u32,
    /// The client-to-server byte stream, known independently of the NIC.
    pub source: Vec<u8>,
    /// A frame that does not fit the window may be overtaken by later frames that do (replays
    /// of captures: an impaired capture's retransmission of a lost segment comes later in
    /// capture order than frames beyond the window). When false, frames go strictly in order.
    pub overtake: bool,
    /// What the stream carries: the file itself, SMB2 requests or BFW1 records.
    pub protocol: Protocol,
    /// Per frame: whether it is a segment of the connection, as the capture's reference
    /// receiver decided ([`crate::pcap::Reference`]); the sender paces those by the NIC's
    /// window and sends the others as they come. `None`: every client frame of the 4-tuple
    /// with valid checksums is a segment.
    pub taken: Option<Vec<bool>>,
}

/// One BFW1 record a client sends: its data goes to the file at `file_off`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedRecord {
    /// File offset of the first data byte.
    pub file_off: u64,
    /// The data.
    pub data: Vec<u8>,
}

/// The records of the framed demo for a file of `bytes` seeded bytes (`frames::payload(seed,
/// bytes)`): the file cut into pieces of seeded sizes (a few bytes to 64 KiB; some whole
/// blocks, most not, so most offsets are unaligned) that cover it, sent in a seeded order; after
/// about one piece in four, a rewrite of a seeded range overlapping that piece with fresh seeded
/// bytes (it may reach into pieces sent before or after it; applied in order, the later bytes
/// win). At least one rewrite when the file is not empty.
pub fn framed_demo_records(seed: u64, bytes: usize) -> Vec<FramedRecord> {
    use rand::seq::SliceRandom;
    use rand::{Rng, RngCore, SeedableRng};
    let file = frames::payload(seed, bytes);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xBF01_5EED_0000_0001);
    let mut pieces = Vec::new();
    let mut off = 0usize;
    while off < bytes {
        let n: usize = match rng.gen_range(0..20) {
            0..=2 => rng.gen_range(1..=511),
            3..=8 => rng.gen_range(512..=16_383),
            9..=13 => 4096 * rng.gen_range(1..=16),
            _ => rng.gen_range(16_384..=65_536),
        };
        let n = n.min(bytes - off);
        pieces.push((off, n));
        off += n;
    }
    pieces.shuffle(&mut rng);
    // A rewrite overlaps the piece just sent (and may reach into pieces sent before or after).
    let rewrite = |rng: &mut rand_chacha::ChaCha8Rng, at: usize, n: usize| {
        let lo = at.saturating_sub(5000);
        let start = rng.gen_range(lo..at + n);
        let min = at.saturating_sub(start) + 1;
        let len = rng.gen_range(min..=(bytes - start).min(min + 20_000));
        let mut data = vec![0u8; len];
        rng.fill_bytes(&mut data);
        FramedRecord {
            file_off: start as u64,
            data,
        }
    };
    let mut out = Vec::with_capacity(pieces.len() * 5 / 4 + 1);
    let mut rewrites = 0;
    for &(at, n) in &pieces {
        out.push(FramedRecord {
            file_off: at as u64,
            data: file[at..at + n].to_vec(),
        });
        if rng.gen_range(0..4) == 0 {
            out.push(rewrite(&mut rng, at, n));
            rewrites += 1;
        }
    }
    if let (0, Some(&(at, n))) = (rewrites, pieces.last()) {
        out.push(rewrite(&mut rng, at, n));
    }
    out
}

/// The BFW1 stream carrying `records` in order (headers by `buflet_nas::framed::header`).
///
/// # Panics
/// If a record holds more than `u32::MAX` bytes (no stream can say so).
pub fn framed_stream(records: &[FramedRecord]) -> Vec<u8> {
    let mut s = Vec::with_capacity(records.iter().map(|r| r.data.len() + 24).sum());
    for r in records {
        let len = u32::try_from(r.data.len()).expect("a BFW1 record holds at most 4 GiB");
        s.extend_from_slice(&buflet_nas::framed::header(len, r.file_off));
        s.extend_from_slice(&r.data);
    }
    s
}

impl Scenario {
    /// The synthetic demo stream: `source` sent in segments of `mss` payload bytes by a
    /// client with ISN `isn` to a NIC socket with ISS `iss` (MSS option from the same MTU).
    pub fn demo(source: Vec<u8>, mss: usize, isn: u32, iss: u32) -> Self {
        let opt_mss = (mss + frames::DATA_OPTION_BYTES).min(65535) as u16;
        Scenario {
            frames: frames::tcp_stream(&source, mss, isn, iss),
            socket: frames::demo_socket(iss, opt_mss),
            isn,
            source,
            overtake: false,
            protocol: Protocol::Raw,
            taken: None,
        }
    }

    /// [`Scenario::demo`] from `client` (one of many: [`frames::Client::nth`]).
    pub fn demo_from(
        client: &frames::Client,
        source: Vec<u8>,
        mss: usize,
        isn: u32,
        iss: u32,
    ) -> Self {
        let opt_mss = (mss + frames::DATA_OPTION_BYTES).min(65535) as u16;
        Scenario {
            frames: frames::tcp_stream_from(client, &source, mss, isn, iss),
            socket: client.socket(iss, opt_mss),
            ..Scenario::demo(Vec::new(), mss, isn, iss)
        }
        .with_source(source)
    }

    fn with_source(mut self, source: Vec<u8>) -> Self {
        self.source = source;
        self
    }

    /// The NIC's ISS became known (from its SYN-ACK: a socket accepted from a listen slot):
    /// every frame that acknowledges the NIC's SYN now acknowledges `iss + 1`.
    pub fn set_iss(&mut self, iss: u32) {
        self.socket.iss = iss;
        let ack = iss.wrapping_add(1);
        for f in &mut self.frames {
            rewrite_ack(f, ack);
        }
    }

    /// A replay of a capture: its server-bound frames as they are, the NIC's ISS set to the
    /// capture's server ISN so the capture's own ACKs complete the handshake. The protocol is
    /// SMB2 when the server port is 445, raw otherwise (see [`Scenario::with_protocol`]).
    pub fn replay(cap: Capture) -> Self {
        let protocol = if cap.socket.local_port == SMB2_PORT {
            Protocol::Smb2
        } else {
            Protocol::Raw
        };
        // The NIC plays the server but sends none of the captured server's data, so the
        // client's acknowledgments of that data would acknowledge bytes never sent (dropped
        // BAD_ACK, RFC 9293 3.10.7.4): they acknowledge the NIC's SYN only.
        let ack = cap.socket.iss.wrapping_add(1);
        let frames = cap
            .frames
            .into_iter()
            .map(|mut f| {
                rewrite_ack(&mut f, ack);
                f
            })
            .collect();
        Scenario {
            frames,
            socket: cap.socket,
            isn: cap.isn,
            source: cap.stream,
            overtake: true,
            protocol,
            taken: Some(cap.taken),
        }
    }

    /// Replays of every connection of a capture ([`crate::pcap::load_all`]), to run at once:
    /// each connection's scenario sends the frames of its own 4-tuple; the frames of no
    /// connection (ARP, other ports, unparsable frames) go with the first connection's, in
    /// capture order. One connection: [`Scenario::replay`] as it is.
    pub fn replay_all(caps: Vec<Capture>) -> Vec<Scenario> {
        if caps.len() <= 1 {
            return caps.into_iter().map(Scenario::replay).collect();
        }
        let tuples: Vec<SocketSpec> = caps.iter().map(|c| c.socket).collect();
        let owner = |f: &[u8]| -> Option<usize> {
            let (t, _) = tcp_info(f)?;
            tuples.iter().position(|s| is_ours_from_client(&t, s))
        };
        caps.into_iter()
            .enumerate()
            .map(|(k, cap)| {
                let keep: Vec<bool> = cap
                    .frames
                    .iter()
                    .map(|f| owner(f).map_or(k == 0, |o| o == k))
                    .collect();
                let mut it = keep.iter();
                let frames = cap
                    .frames
                    .iter()
                    .filter(|_| *it.next().unwrap_or(&false))
                    .cloned()
                    .collect();
                let mut it = keep.iter();
                let taken = cap
                    .taken
                    .iter()
                    .copied()
                    .filter(|_| *it.next().unwrap_or(&false))
                    .collect();
                Scenario::replay(Capture {
                    frames,
                    taken,
                    ..cap
                })
            })
            .collect()
    }

    /// The framed demo: `records` sent as one BFW1 stream, in segments of `mss` payload bytes,
    /// like [`Scenario::demo`].
    pub fn framed(records: &[FramedRecord], mss: usize, isn: u32, iss: u32) -> Self {
        Scenario::demo(framed_stream(records), mss, isn, iss).with_protocol(Protocol::Framed)
    }

    /// The same scenario with the stream read as `protocol`.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The file the stream should leave on disk, known independently of the NIC: the stream
    /// itself (raw), or every SMB2 WRITE of the stream (reassembled from the capture, not from
    /// the NIC) applied to an empty file: its length is the highest offset written, zeros
    /// where no WRITE landed. An SMB2 stream is read up to its first encrypted or compressed
    /// message, or its first WRITE to a second file, which are not supported (nothing of them
    /// is written). A BFW1 stream's records are decoded here from the documented layout (not
    /// by `buflet_nas::framed`) and applied in order up to the first bad header; a record cut
    /// by the end of the stream is applied as far as it goes.
    pub fn expected_file(&self) -> Result<SparseFile, TbError> {
        use buflet_nas::smb2::{parse_message, MsgKind};
        match self.protocol {
            Protocol::Raw => return Ok(SparseFile::from_bytes(self.source.clone())),
            Protocol::Framed => return expected_framed_file(&self.source),
            Protocol::Smb2 => {}
        }
        let s = &self.source;
        let mut read = |off: u64, buf: &mut [u8]| -> bool {
            let (a, b) = (off as usize, off as usize + buf.len());
            b <= s.len() && {
                buf.copy_from_slice(&s[a..b]);
                true
            }
        };
        let bad = |msg: String| TbError::Input {
            path: "SMB2 stream".into(),
            msg,
        };
        let mut file = SparseFile::new();
        let mut at = 0u64;
        let mut file_id = None;
        while let Some(m) =
            parse_message(at, s.len() as u64, &mut read).map_err(|e| bad(e.to_string()))?
        {
            if matches!(m.kind, MsgKind::Encrypted | MsgKind::Compressed) {
                break;
            }
            for w in m.commands.iter().filter_map(|c| c.write) {
                if *file_id.get_or_insert(w.file_id) != w.file_id {
                    // A second file: not supported, nothing more is written.
                    return Ok(file);
                }
                if w.file_off.saturating_add(w.len as u64) > MAX_FILE_BYTES {
                    return Err(bad(format!(
                        "a WRITE at file offset {} beyond the {MAX_FILE_BYTES}-byte limit of a replayed file",
                        w.file_off
                    )));
                }
                let (n, o) = (w.len as usize, w.stream_off as usize);
                // In range: the limit above keeps the end far from wrapping.
                let _ = file.write(w.file_off, &s[o..o + n]);
            }
            at = m.end;
        }
        Ok(file)
    }
}

/// The file a BFW1 stream leaves: its records (magic "BFW1", u32 LE length at most
/// `framed::MAX_LEN`, u64 LE file offset with offset + length at most `framed::MAX_FILE_END`,
/// 8 zero bytes, then the data) applied in order to an empty file, up to the first bad header.
pub(super) fn expected_framed_file(s: &[u8]) -> Result<SparseFile, TbError> {
    use buflet_nas::framed::{MAX_FILE_END, MAX_LEN};
    let mut file = SparseFile::new();
    let mut at = 0usize;
    while at + 24 <= s.len() {
        let h = &s[at..at + 24];
        let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let off = h[8..16]
            .iter()
            .rev()
            .fold(0u64, |a, &b| (a << 8) | b as u64);
        if &h[..4] != b"BFW1"
            || h[16..].iter().any(|&b| b != 0)
            || len > MAX_LEN
            || off.saturating_add(len as u64) > MAX_FILE_END
        {
            break;
        }
        let data = &s[(at + 24).min(s.len())..(at + 24 + len as usize).min(s.len())];
        if !data.is_empty() {
            let end = off + data.len() as u64;
            if end > MAX_FILE_BYTES {
                return Err(TbError::Input {
                    path: "BFW1 stream".into(),
                    msg: format!(
                        "a record at file offset {off} beyond the {MAX_FILE_BYTES}-byte limit of a file the testbench builds"
                    ),
                });
            }
            // In range: the limit above keeps the end far from wrapping.
            let _ = file.write(off, data);
        }
        at += 24 + len as usize;
    }
    Ok(file)
}

/// Set the acknowledgment number of an IPv4/TCP frame with ACK set to `ack`, adjusting the
/// TCP checksum incrementally (RFC 1624, eqn. 3), so a frame whose checksum was wrong stays
/// wrong by the same amount. Frames too short to hold the field, or not IPv4/TCP, are left as
/// they are.
pub(crate) fn rewrite_ack(f: &mut [u8], ack: u32) {
    let mut l3 = 14;
    if f.len() < 14 {
        return;
    }
    if f[12..14] == [0x81, 0x00] {
        l3 = 18;
    }
    if f.len() < l3 + 20 || f[l3 - 2..l3] != [0x08, 0x00] || f[l3] >> 4 != 4 || f[l3 + 9] != 6 {
        return;
    }
    let l4 = l3 + (f[l3] & 0x0F) as usize * 4;
    if f.len() < l4 + 18 || f[l4 + 13] & 0x10 == 0 {
        return;
    }
    let old = [
        u16::from_be_bytes([f[l4 + 8], f[l4 + 9]]),
        u16::from_be_bytes([f[l4 + 10], f[l4 + 11]]),
    ];
    let new = [(ack >> 16) as u16, ack as u16];
    let mut sum = u32::from(!u16::from_be_bytes([f[l4 + 16], f[l4 + 17]]));
    for (o, n) in old.into_iter().zip(new) {
        sum += u32::from(!o) + u32::from(n);
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    f[l4 + 8..l4 + 12].copy_from_slice(&ack.to_be_bytes());
    f[l4 + 16..l4 + 18].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

#[cfg(test)]
mod ack_tests {
    use super::rewrite_ack;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    /// The rewritten frame still verifies (etherparse recomputes the checksum), and a frame
    /// with a broken checksum stays broken.
    #[test]
    fn rewritten_acks_keep_their_checksum_state() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 445, 1000, 5000)
            .ack(0xDEAD_BEEF);
        let mut f = Vec::new();
        b.write(&mut f, b"hello").unwrap();
        let ok = |f: &[u8]| {
            let p = SlicedPacket::from_ethernet(f).unwrap();
            let (Some(etherparse::NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(t))) =
                (&p.net, &p.transport)
            else {
                panic!()
            };
            let want = t
                .to_header()
                .calc_checksum_ipv4(&ip.header().to_header(), t.payload())
                .unwrap();
            (t.acknowledgment_number(), t.checksum() == want)
        };
        rewrite_ack(&mut f, 0x1234_5678);
        assert_eq!(ok(&f), (0x1234_5678, true));
        let n = f.len();
        f[n - 1] ^= 0xFF; // the payload no longer matches the checksum
        rewrite_ack(&mut f, 7);
        assert_eq!(ok(&f), (7, false));
        let mut short = f[..40].to_vec();
        rewrite_ack(&mut short, 9); // too short for the field: untouched
        assert_eq!(short, f[..40].to_vec());
    }
}
