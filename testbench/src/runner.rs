//! Run one TCP stream through the NIC and the zero-copy write, then check the disk.
//!
//! The sender is paced by the NIC itself (docs/tcp-receive.md): every frame the NIC transmits
//! comes out of [`buflet_platform::Device::tx_pop`] and is parsed with etherparse; the sender
//! keeps the highest acknowledgment number and the latest window, and sends (in scenario order)
//! the frames whose data ends at or before `ack + window`. The stream starts with the client's
//! SYN; nothing else of the connection is sent before the NIC's SYN-ACK arrives and checks out.
//!
//! Like any TCP sender it recovers from what the NIC did not take (a segment trimmed or dropped
//! because the window shrank while it was on the wire): when the NIC has been silent for
//! [`RunOptions::rto_cycles`] with nothing left on the wire, the frame holding the first
//! unacknowledged byte is sent again, and in that recovery every partial ACK re-sends the frame
//! at the new ACK at once (NewReno). When everything sent is acknowledged but the window is too
//! small for the next frame, or the window is closed (zero), the NIC sends no window update of
//! its own, so the sender probes as Linux does: a pure ACK one byte left of the window (`SEQ = ack - 1`), which the NIC answers
//! with an ACK carrying its window and counts as an OUT_OF_WINDOW drop. Both are counted in the
//! report (`retransmits`, `probes`). A run that stops making progress is an error.
//!
//! At the end the socket is deleted (SOCK_DEL returns its named buffers first), and every
//! buflet must be back on the free list.
//!
//! The NAS application on top ([`Protocol`]) writes the file: the whole stream at offset 0
//! (raw), each SMB2 WRITE's data at its file offset (`buflet_nas::app::Smb2App`), or each
//! BFW1 record's data at its file offset (`buflet_nas::app::FramedApp`). The file
//! is one extent of a raw disk image, or a file of a real ext2/ext4 file system
//! ([`RunOptions::fs`]) whose blocks come from the file system's own metadata; then it is read
//! back (and, on a file system, checked by `e2fsck -fn` and read by `debugfs cat`) and compared
//! with the file known from the scenario alone ([`Scenario::expected_file`]).
//!
//! With [`RunOptions::pcap_out`] every frame on the wire, both directions, is written to a
//! classic pcap file, which `buflet replay` (and [`crate::pcap::load`]) reads back.

use crate::pcap::{tcp_info, Capture, TcpInfo};
use crate::temp_image::TempImage;
use crate::{frames, make_device, sha256_hex, Backend, TbError};
use buflet_driver::{Counters, Driver, SocketSpec};
use buflet_fs::{FsCheck, FsFile, FsKind};
use buflet_nas::app::{DiskPump, FramedApp, Smb2App};
use buflet_nas::{ExtentFile, FileMap, NasStream, WriteMode, WriteStats};
use buflet_platform::{BlockDevice, DeviceConfig, DiskMode, HostEnv, HostMemory};
use buflet_spec::reg;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

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

/// Largest file a scenario may write (the image and the oracle are built in full).
pub const MAX_FILE_BYTES: u64 = 1 << 32;

/// Most cycles the device runs between two looks at the NIC's transmit side and completions.
const STEP: u64 = 4096;
/// Cycles without progress (ACK, bytes received or written, scenario frames sent) before the
/// run is declared stalled.
const STALL_CYCLES: u64 = 4_000_000;
/// After the last frame: cycles the NIC must stay silent before the socket is deleted.
const SETTLE_CYCLES: u64 = 8192;

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
        Scenario {
            frames: cap.frames,
            socket: cap.socket,
            isn: cap.isn,
            source: cap.stream,
            overtake: true,
            protocol,
        }
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
    pub fn expected_file(&self) -> Result<Vec<u8>, TbError> {
        use buflet_nas::smb2::{parse_message, MsgKind};
        match self.protocol {
            Protocol::Raw => return Ok(self.source.clone()),
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
        let mut file = Vec::new();
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
                if w.file_off + w.len as u64 > MAX_FILE_BYTES {
                    return Err(bad(format!(
                        "a WRITE at file offset {} beyond the {MAX_FILE_BYTES}-byte limit of a replayed file",
                        w.file_off
                    )));
                }
                let (f, n, o) = (w.file_off as usize, w.len as usize, w.stream_off as usize);
                if file.len() < f + n {
                    file.resize(f + n, 0);
                }
                file[f..f + n].copy_from_slice(&s[o..o + n]);
            }
            at = m.end;
        }
        Ok(file)
    }
}

/// The file a BFW1 stream leaves: its records (magic "BFW1", u32 LE length at most
/// `framed::MAX_LEN`, u64 LE file offset with offset + length at most `framed::MAX_FILE_END`,
/// 8 zero bytes, then the data) applied in order to an empty file, up to the first bad header.
fn expected_framed_file(s: &[u8]) -> Result<Vec<u8>, TbError> {
    use buflet_nas::framed::{MAX_FILE_END, MAX_LEN};
    let mut file = Vec::new();
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
            if file.len() < end as usize {
                file.resize(end as usize, 0);
            }
            file[off as usize..end as usize].copy_from_slice(data);
        }
        at += 24 + len as usize;
    }
    Ok(file)
}

/// How to run a scenario.
#[derive(Clone)]
pub struct RunOptions {
    /// Which backend.
    pub backend: Backend,
    /// Device configuration (datapath width, latencies, line rate).
    pub config: DeviceConfig,
    /// Named buffers kept posted.
    pub nbs: usize,
    /// Host pages per named buffer.
    pub pages_per_nb: usize,
    /// Bytes per zero-copy write (a multiple of the block size).
    pub write_chunk: u64,
    /// Cycles the NIC must be silent, with nothing left on the wire, before the sender
    /// retransmits the first unacknowledged frame or probes a window too small for the next.
    pub rto_cycles: u64,
    /// Write a waveform of the RTL to this path (RTL built with BUFLET_TRACE only).
    pub trace: Option<PathBuf>,
    /// Where to put the disk image; a temporary file when None.
    pub image: Option<PathBuf>,
    /// Called with (stream bytes on disk, stream bytes in total) as the run progresses.
    pub progress: Option<Rc<dyn Fn(u64, u64)>>,
    /// How block I/O reaches the image: straight, or through seed 003's SCSI pass-through to a
    /// user-space logical unit (`--disk scsi`).
    pub disk: DiskMode,
    /// A real file system on the image holding the file (`--image` with `--fs`); None: the
    /// file is one extent of a raw disk.
    pub fs: Option<FsKind>,
    /// Path of the file inside the file system.
    pub file_path: String,
    /// Probability that a block-device operation fails (`--disk-error-rate`), seeded by
    /// `error_seed`; the NAS writer retries.
    pub disk_error_rate: f64,
    /// Seed of the error injection.
    pub error_seed: u64,
    /// Retries of a failed block operation (the writer's default when None).
    pub max_retries: Option<u32>,
    /// How the NAS writer moves the payload: zero-copy, or the seed's prior-art paths.
    pub mode: WriteMode,
    /// Write every frame on the wire (both directions, in order, stamped with the device's
    /// cycle count at its clock) to this classic pcap file after the run.
    pub pcap_out: Option<PathBuf>,
}

impl RunOptions {
    /// Defaults for a backend at a datapath width.
    pub fn new(backend: Backend, data_width: u32) -> Self {
        RunOptions {
            backend,
            config: DeviceConfig::with_width(data_width),
            nbs: 16,
            pages_per_nb: 16,
            write_chunk: 64 * 1024,
            rto_cycles: 50_000,
            trace: None,
            image: None,
            progress: None,
            disk: DiskMode::Direct,
            fs: None,
            file_path: "/nas/upload.bin".into(),
            disk_error_rate: 0.0,
            error_seed: 1,
            max_retries: None,
            mode: WriteMode::ZeroCopy,
            pcap_out: None,
        }
    }
}

/// Drop counters by reason, serialized as a JSON object `{"TRUNCATED": n, ...}` with every
/// reason of the spec, in code order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounts(pub Vec<(&'static str, u32)>);

impl DropCounts {
    /// The count of a reason by its spec name; 0 for an unknown name.
    pub fn get(&self, name: &str) -> u32 {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// Sum over all reasons.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, v)| *v as u64).sum()
    }

    /// The reasons with a non-zero count.
    pub fn nonzero(&self) -> Vec<(&'static str, u32)> {
        self.0.iter().copied().filter(|(_, v)| *v > 0).collect()
    }
}

impl Serialize for DropCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// What a run measured. Serialized as the CLI's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub backend: String,
    pub data_width: u32,
    /// "raw", "smb2" or "framed".
    pub protocol: Protocol,
    /// Bytes of the client-to-server stream (the NIC delivered them all).
    pub stream_bytes: u64,
    /// Bytes of the file: the stream (raw), or the highest offset an SMB2 WRITE reached.
    pub payload_bytes: u64,
    /// SMB2: WRITE requests, NetBIOS messages parsed, other commands skipped.
    pub smb2_writes: u64,
    pub smb2_messages: u64,
    pub smb2_skipped: u64,
    /// What the NAS refused to serve (an encrypted SMB2 session), if anything; a failure.
    pub unsupported: Option<String>,
    /// BFW1: valid records found (all of them written on a passing run) and their data bytes.
    pub framed_records: u64,
    pub framed_record_bytes: u64,
    /// BFW1: the bad record (or the cut) the NAS stopped at, if any; nothing of it or after it
    /// was written. A failure.
    pub stream_error: Option<String>,
    /// Blocks the NAS writer read back for read-modify-write (also in `writer`).
    pub rmw_blocks: u64,
    /// "ext2" or "ext4" when the image holds a real file system (`--image`), else null.
    pub fs: Option<FsKind>,
    /// Path of the file inside the file system, or null.
    pub file_path: Option<String>,
    /// `e2fsck -fn` found nothing to fix (null without a file system).
    pub fsck_clean: Option<bool>,
    /// e2fsck's summary line, or its error.
    pub fsck_summary: Option<String>,
    /// sha256 of the file as stock `debugfs -R "cat PATH"` reads it (null without a file system).
    pub debugfs_sha256: Option<String>,
    /// "p2p", "zerocopy", "splice" or "copy" (`--mode`).
    #[serde(serialize_with = "mode_name")]
    pub mode: WriteMode,
    /// p2p: `CNT_HOLD_RECORDS`, `CNT_BUF_RELEASED` and `CNT_BLK_DEV_BYTES` (bytes the block
    /// engine read from buflet memory) at the end; 0 in the other modes.
    pub hold_records: u64,
    pub chains_released: u64,
    pub blk_dev_bytes: u64,
    /// `--disk-error-rate` and what the writer did about it: block commands re-submitted after
    /// a disk error, and writes that failed for good (the run then fails).
    pub disk_error_rate: f64,
    pub write_retries: u64,
    pub write_failures: u64,
    /// The NAS writer's counters (read-modify-write blocks, CPU copies, ...).
    pub writer: WriteStats,
    /// Block-device read operations (read-modify-write reads).
    pub disk_reads: u64,
    /// Bytes the block device wrote to and read from the image.
    pub disk_bytes_written: u64,
    pub disk_bytes_read: u64,
    /// Frames in the scenario.
    pub frames: u64,
    /// Frames put on the wire to the NIC: the scenario's, plus retransmissions and probes.
    pub frames_sent: u64,
    /// Frames sent again because the NIC had not acknowledged them (see the module doc).
    pub retransmits: u64,
    /// Window probes sent (each one is also an OUT_OF_WINDOW drop).
    pub probes: u64,
    /// Frames the NIC transmitted (CNT_TX_FRAMES): SYN-ACKs and ACKs.
    pub tx_frames: u64,
    /// Frames the sender took from the NIC's transmit side (must equal `tx_frames`).
    pub tx_frames_seen: u64,
    /// Bytes the NIC transmitted (CNT_TX_BYTES).
    pub tx_bytes: u64,
    /// Segments the NIC held out of order (CNT_OOO_HELD).
    pub ooo_held: u64,
    /// Segments accepted in order with data (CNT_RX_ACCEPTED).
    pub rx_accepted: u64,
    /// Sum of all drop counters.
    pub dropped: u64,
    /// Every drop counter by spec name.
    pub drops: DropCounts,
    pub cycles: u64,
    pub cpu_copied_bytes: u64,
    /// The driver's registration cache (seed 004): lookups, hits, registrations, collections.
    pub regcache: buflet_driver::regcache::RegStats,
    pub verified: bool,
    pub disk_sha256: String,
    pub source_sha256: String,
    pub dram_crossings_per_byte: f64,
    pub host_dram_bytes: u64,
    pub nic_dma_written: u64,
    pub nic_dma_read: u64,
    pub blk_dma_read: u64,
    pub cpu_read: u64,
    pub cpu_written: u64,
    pub stray_accesses: u64,
    pub disk_writes: u64,
    /// "direct" or "scsi" (`--disk`).
    pub disk: DiskMode,
    /// SCSI mode: commands the pass-through handed to the user-space logical unit.
    pub scsi_commands: u64,
    /// SCSI mode: payload bytes mapped to the handler, and bytes copied (always 0: zero copy).
    pub scsi_bytes_mapped: u64,
    pub scsi_bytes_copied: u64,
    /// CNT_FREE_BUFLETS after the socket was deleted: must equal `num_buflets`.
    pub buflets_free_end: u32,
    pub num_buflets: u32,
    /// What went wrong besides the data (a buflet leak, a counter that disagrees with the
    /// wire, a named buffer returned with an error, a reset). Empty on a good run.
    pub failures: Vec<String>,
    /// `verified` and no `failures`.
    pub passed: bool,
    pub wall_seconds: f64,
    pub sim_cycles_per_second: f64,
    pub image: String,
}

fn mode_name<S: Serializer>(m: &WriteMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name())
}

/// Sequence space of one client frame of the connection, relative to the client's ISN + 1
/// (the SYN is at -1).
#[derive(Debug, Clone, Copy)]
struct Seg {
    /// Relative SEQ.
    start: i64,
    /// Relative end of the payload (start + payload length).
    data_end: i64,
    /// Relative end of the sequence space it occupies (data end + FIN; 0 for the SYN).
    seq_end: i64,
    syn: bool,
}

impl Seg {
    fn seg_len(&self) -> i64 {
        self.seq_end - self.start
    }
}

/// The NIC's transmit side as the sender sees it.
#[derive(Debug, Default)]
struct Peer {
    /// Highest acknowledgment, relative (None before the SYN-ACK).
    acked: Option<i64>,
    /// Latest window, in bytes (already scaled).
    window: u64,
    /// Shift applied to the window field of ACKs (0 unless both SYNs carried window scale).
    shift: u32,
    /// Frames taken from the NIC.
    seen: u64,
}

impl Peer {
    /// Right edge of the window, relative.
    fn right(&self) -> Option<i64> {
        self.acked.map(|a| a + self.window as i64)
    }
}

/// The sender: the scenario's frames, which are still to go, and what went.
struct Sender {
    base: u32,
    segs: Vec<Option<Seg>>,
    pending: Vec<usize>,
    /// Sent frames of the connection by relative start.
    sent: BTreeMap<i64, Vec<usize>>,
    high_sent: Option<i64>,
    recover: Option<i64>,
    overtake: bool,
    syn_offers_ws: bool,
    frames_sent: u64,
    retransmits: u64,
    probes: u64,
    /// Every frame on the wire with the cycle it went (only with `RunOptions::pcap_out`).
    log: Option<Vec<(u64, Vec<u8>)>>,
}

/// Relative sequence number of `x` (against `base`), unwrapped to the value nearest `near`.
fn unwrap_rel(x: u32, base: u32, near: i64) -> i64 {
    let near32 = base.wrapping_add(near as u32);
    near + x.wrapping_sub(near32) as i32 as i64
}

/// Whether a frame's IPv4 header and TCP checksums are right (etherparse's view). A frame
/// that fails is no segment of the connection: it is passed through unpaced (the NIC drops it).
fn checksums_ok(f: &[u8]) -> bool {
    let Ok(p) = SlicedPacket::from_ethernet(f) else {
        return false;
    };
    let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(t))) = (&p.net, &p.transport) else {
        return false;
    };
    let ih = ip.header();
    ih.header_checksum() == ih.to_header().calc_header_checksum()
        && t.calc_checksum_ipv4(ih.source(), ih.destination()).ok() == Some(t.checksum())
}

fn is_ours_from_client(t: &TcpInfo, s: &SocketSpec) -> bool {
    t.src_ip == s.remote_ip
        && t.dst_ip == s.local_ip
        && t.src_port == s.remote_port
        && t.dst_port == s.local_port
}

impl Sender {
    fn new(sc: &Scenario) -> Self {
        let base = sc.isn.wrapping_add(1);
        let mut near = 0i64;
        let mut syn_offers_ws = false;
        let segs = sc
            .frames
            .iter()
            .map(|f| {
                let (t, _) = tcp_info(f)?;
                if !is_ours_from_client(&t, &sc.socket) || !checksums_ok(f) {
                    return None;
                }
                let start = unwrap_rel(t.seq, base, near);
                near = start;
                if t.syn && !t.ack && t.wscale.is_some() {
                    syn_offers_ws = true;
                }
                let data_end = start + t.payload_len as i64;
                let seq_end = data_end + t.fin as i64 + t.syn as i64;
                Some(Seg {
                    start,
                    data_end,
                    seq_end,
                    syn: t.syn,
                })
            })
            .collect();
        Sender {
            base,
            segs,
            pending: (0..sc.frames.len()).collect(),
            sent: BTreeMap::new(),
            high_sent: None,
            recover: None,
            overtake: sc.overtake,
            syn_offers_ws,
            frames_sent: 0,
            retransmits: 0,
            probes: 0,
            log: None,
        }
    }

    /// Put a frame on the wire to the NIC.
    fn wire(&mut self, drv: &mut Driver, frame: Vec<u8>) {
        if let Some(l) = &mut self.log {
            l.push((drv.cycles(), frame.clone()));
        }
        drv.rx_push(frame);
        self.frames_sent += 1;
    }

    /// A frame the NIC transmitted, for the log.
    fn heard(&mut self, cycle: u64, frame: &[u8]) {
        if let Some(l) = &mut self.log {
            l.push((cycle, frame.to_vec()));
        }
    }

    /// Whether a connection frame may go now.
    fn fits(seg: &Seg, peer: &Peer) -> bool {
        if seg.syn {
            return true;
        }
        let Some(right) = peer.right() else {
            return false;
        };
        seg.data_end <= right && (seg.seg_len() == 0 || seg.start < right)
    }

    fn push(&mut self, drv: &mut Driver, sc: &Scenario, idx: usize) {
        self.wire(drv, sc.frames[idx].clone());
        if let Some(seg) = self.segs[idx] {
            self.high_sent = Some(self.high_sent.map_or(seg.seq_end, |h| h.max(seg.seq_end)));
            self.sent.entry(seg.start).or_default().push(idx);
        }
    }

    /// Send every pending frame that fits (in order; overtaking if the scenario allows).
    /// Returns how many went.
    fn send_ready(&mut self, drv: &mut Driver, sc: &Scenario, peer: &Peer) -> usize {
        let pending = std::mem::take(&mut self.pending);
        let mut kept = Vec::with_capacity(pending.len());
        let mut blocked = false;
        let mut sent = 0;
        for idx in pending {
            let go = !blocked && self.segs[idx].as_ref().is_none_or(|s| Self::fits(s, peer));
            if go {
                self.push(drv, sc, idx);
                sent += 1;
            } else {
                kept.push(idx);
                if !self.overtake {
                    blocked = true;
                }
            }
        }
        self.pending = kept;
        sent
    }

    /// The sent frame holding relative sequence number `at` (reaching furthest; the latest
    /// in scenario order among equals, as a capture's retransmission comes after the
    /// original), if any.
    fn covering(&self, at: i64) -> Option<usize> {
        self.sent
            .range(..=at)
            .rev()
            .flat_map(|(_, v)| v.iter().copied())
            .filter_map(|i| self.segs[i].map(|s| (i, s)))
            .filter(|(_, s)| s.start <= at && at < s.seq_end)
            .max_by_key(|(i, s)| (s.seq_end, *i))
            .map(|(i, _)| i)
    }

    /// The first unacknowledged byte, if anything sent is unacknowledged.
    fn unacked(&self, peer: &Peer) -> Option<i64> {
        let a = peer.acked.unwrap_or(-1);
        self.high_sent.filter(|&h| h > a).map(|_| a)
    }

    fn retransmit(&mut self, drv: &mut Driver, sc: &Scenario, at: i64) -> bool {
        match self.covering(at) {
            Some(idx) => {
                self.wire(drv, sc.frames[idx].clone());
                self.retransmits += 1;
                true
            }
            None => false,
        }
    }

    /// The NIC has been silent with nothing on the wire: retransmit, or probe the window.
    /// With the window closed, nothing is retransmitted (the NIC would refuse it): the
    /// window is probed instead.
    fn on_timeout(&mut self, drv: &mut Driver, sc: &Scenario, peer: &Peer) {
        if let Some(at) = self
            .unacked(peer)
            .filter(|_| peer.acked.is_none() || peer.window > 0)
        {
            if self.retransmit(drv, sc, at) {
                self.recover = self.high_sent;
                return;
            }
        }
        let waiting =
            self.pending.iter().any(|&i| self.segs[i].is_some()) || self.unacked(peer).is_some();
        if let (Some(a), true) = (peer.acked, waiting) {
            let seq = self.base.wrapping_add(a as u32).wrapping_sub(1);
            let ack = sc.socket.iss.wrapping_add(1);
            self.wire(drv, frames::peer_ack(&sc.socket, seq, ack));
            self.probes += 1;
        }
    }

    /// The NIC's ACK advanced: in recovery, a partial ACK re-sends the frame at the new ACK.
    fn on_ack_advance(&mut self, drv: &mut Driver, sc: &Scenario, peer: &Peer) {
        let (Some(r), Some(a)) = (self.recover, peer.acked) else {
            return;
        };
        if a >= r {
            self.recover = None;
        } else if self.unacked(peer).is_some() && peer.window > 0 {
            self.retransmit(drv, sc, a);
        }
    }
}

/// Check one frame the NIC transmitted and take its ACK and window (an ARP reply is let pass).
fn take_nic_frame(
    f: &[u8],
    sc: &Scenario,
    sender: &Sender,
    peer: &mut Peer,
) -> Result<(), TbError> {
    let bad = |m: String| TbError::Protocol(format!("the NIC transmitted {m}"));
    let s = &sc.socket;
    // An ARP reply (docs/rx-paths.md, only when NIC_IP is set) is no part of the connection.
    if let Ok(SlicedPacket {
        net: Some(NetSlice::Arp(_)),
        ..
    }) = SlicedPacket::from_ethernet(f)
    {
        return Ok(());
    }
    if f.len() < 14 || f[0..6] != s.remote_mac || f[6..12] != s.local_mac {
        return Err(bad(format!(
            "a frame with the wrong MAC addresses ({} bytes)",
            f.len()
        )));
    }
    let p = SlicedPacket::from_ethernet(f)
        .map_err(|e| bad(format!("a frame etherparse cannot parse: {e}")))?;
    let vlan = p.vlan_ids().first().map_or(0, |v| v.value());
    if vlan != s.vlan {
        return Err(bad(format!("a frame on VLAN {vlan}, expected {}", s.vlan)));
    }
    let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(t))) = (&p.net, &p.transport) else {
        return Err(bad("a frame that is not IPv4/TCP".into()));
    };
    let ih = ip.header();
    if ih.header_checksum() != ih.to_header().calc_header_checksum() {
        return Err(bad("an IPv4 header with a wrong checksum".into()));
    }
    let csum = t
        .calc_checksum_ipv4(ih.source(), ih.destination())
        .map_err(|e| bad(format!("an oversized TCP segment: {e}")))?;
    if csum != t.checksum() {
        return Err(bad(format!(
            "a TCP segment with checksum {:#06x}, expected {csum:#06x}",
            t.checksum()
        )));
    }
    let (info, payload) = tcp_info(f).ok_or_else(|| bad("an unparsable TCP segment".into()))?;
    if info.src_ip != s.local_ip
        || info.dst_ip != s.remote_ip
        || info.src_port != s.local_port
        || info.dst_port != s.remote_port
    {
        return Err(bad("a segment of another connection".into()));
    }
    if !payload.is_empty() || info.fin || info.rst || !info.ack {
        return Err(bad(format!(
            "a segment that is not an ACK or SYN-ACK (flags SYN {} ACK {} FIN {} RST {}, {} payload bytes)",
            info.syn,
            info.ack,
            info.fin,
            info.rst,
            payload.len()
        )));
    }
    let iss = s.iss;
    let near = peer.acked.unwrap_or(0);
    let ack = unwrap_rel(info.ack_num, sender.base, near);
    if info.syn {
        if info.seq != iss {
            return Err(bad(format!(
                "a SYN-ACK with SEQ {}, expected ISS {iss}",
                info.seq
            )));
        }
        if ack != 0 {
            return Err(bad(format!(
                "a SYN-ACK acknowledging {}, expected the client's ISN + 1 = {}",
                info.ack_num, sender.base
            )));
        }
        if info.mss != Some(s.mss) {
            return Err(bad(format!(
                "a SYN-ACK with MSS option {:?}, expected {}",
                info.mss, s.mss
            )));
        }
        let want_ws = sender.syn_offers_ws.then_some(s.rcv_wscale);
        if info.wscale != want_ws {
            return Err(bad(format!(
                "a SYN-ACK with window scale {:?}, expected {want_ws:?}",
                info.wscale
            )));
        }
        peer.shift = info.wscale.map_or(0, |w| w.min(14) as u32);
        if peer.acked.is_none() {
            peer.acked = Some(0);
        }
        // RFC 7323: the window of a SYN-ACK is never scaled.
        peer.window = info.window as u64;
    } else {
        if peer.acked.is_none() {
            return Err(bad("an ACK before its SYN-ACK".into()));
        }
        if info.seq != iss.wrapping_add(1) {
            return Err(bad(format!(
                "an ACK with SEQ {}, expected ISS + 1 = {}",
                info.seq,
                iss.wrapping_add(1)
            )));
        }
        peer.acked = peer.acked.map(|a| a.max(ack));
        peer.window = (info.window as u64) << peer.shift;
    }
    Ok(())
}

/// Where the file lives on the disk: one extent of a raw disk, or a file of a real file system.
#[derive(Debug, Clone)]
enum Store {
    Extent(ExtentFile),
    Fs(FsFile),
}

impl FileMap for Store {
    fn disk_addr(&self, off: u64) -> Option<u64> {
        match self {
            Store::Extent(e) => e.disk_addr(off),
            Store::Fs(f) => f.disk_addr(off),
        }
    }
}

impl Store {
    /// Read file bytes `0..len` back from the image through the mapping.
    fn read_back(&self, disk: &BlockDevice, len: u64) -> Result<Vec<u8>, TbError> {
        let mut out = vec![0u8; len as usize];
        let block = buflet_fs::BLOCK;
        for (i, chunk) in out.chunks_mut(block as usize).enumerate() {
            let off = i as u64 * block;
            let addr = self.disk_addr(off).ok_or_else(|| {
                TbError::WriteFailed(format!(
                    "reading the file back: offset {off} is not mapped to the disk"
                ))
            })?;
            disk.read_bytes(addr, chunk)?;
        }
        Ok(out)
    }
}

/// What the NAS application does with the stream.
enum App {
    /// The stream is the file at offset 0.
    Raw(DiskPump<Store>),
    /// SMB2 WRITEs at their file offsets.
    Smb2(Smb2App),
    /// BFW1 records at their file offsets.
    Framed(FramedApp),
}

impl App {
    fn pump(
        &mut self,
        drv: &mut Driver,
        nas: &mut NasStream,
        store: &Store,
    ) -> Result<(), TbError> {
        match self {
            App::Raw(p) => p.pump(drv, nas)?,
            App::Smb2(a) => a.pump(drv, nas, store)?,
            App::Framed(a) => a.pump(drv, nas, store)?,
        }
        Ok(())
    }

    fn failed(&self) -> Option<String> {
        match self {
            App::Raw(p) => p.failed(),
            App::Smb2(a) => a.failed(),
            App::Framed(a) => a.failed(),
        }
    }

    /// File bytes on disk so far.
    fn written(&self, nas: &NasStream) -> u64 {
        match self {
            App::Raw(_) => nas.written(),
            App::Smb2(a) => a.written(),
            App::Framed(a) => a.written(),
        }
    }

    fn done(&self, nas: &NasStream) -> bool {
        match self {
            App::Raw(_) => {
                nas.eof.is_some_and(|e| nas.written() >= e) && nas.writes_in_flight() == 0
            }
            App::Smb2(a) => a.done(nas),
            App::Framed(a) => a.done(nas),
        }
    }
}

/// Deliver the scenario's frames; the NAS application writes the file zero-copy (the stream at
/// offset 0, or each SMB2 WRITE at its offset) to a raw disk extent or to a file of a real file
/// system; then read the file back from the disk image (and with stock e2fsprogs) and compare.
pub fn run_stream(sc: &Scenario, opt: &RunOptions) -> Result<RunReport, TbError> {
    let started = Instant::now();
    if opt.mode == WriteMode::P2p && sc.protocol != Protocol::Raw {
        return Err(TbError::Unsupported(format!(
            "--mode p2p serves the raw protocol only: a {} stream needs its headers read by the CPU, and p2p payload never enters host memory",
            sc.protocol.name()
        )));
    }
    let block = buflet_fs::BLOCK;
    let expected = sc.expected_file()?;
    let file_len = expected.len() as u64;
    let disk_start = 1 << 20;
    let tmp = opt
        .image
        .is_none()
        .then(|| TempImage::new(opt.backend.name()));
    let image = match (&opt.image, &tmp) {
        (Some(p), _) => p.clone(),
        (None, Some(t)) => t.0.clone(),
        (None, None) => unreachable!("a temporary image exists when no path is given"),
    };
    let (mut disk, store) = match opt.fs {
        None => {
            let file_cap = file_len.div_ceil(block) * block + block;
            let disk = BlockDevice::create(&image, disk_start + file_cap + (1 << 20))?;
            let ext = ExtentFile {
                disk_start,
                capacity: file_cap,
            };
            (disk, Store::Extent(ext))
        }
        Some(kind) => {
            let fs_err = |e: buflet_fs::FsError| TbError::Input {
                path: image.display().to_string(),
                msg: e.to_string(),
            };
            let f = buflet_fs::format_with_file(
                &image,
                buflet_fs::image_bytes_for(file_len),
                kind,
                &opt.file_path,
                file_len,
            )
            .map_err(fs_err)?;
            if sc.protocol != Protocol::Raw {
                // A new file on the server reads as zeros where no write lands.
                buflet_fs::zero_blocks(&image, &f).map_err(fs_err)?;
            }
            (BlockDevice::open(&image)?, Store::Fs(f))
        }
    };
    if opt.disk == DiskMode::Scsi {
        disk.use_scsi()?;
    }
    if opt.disk_error_rate > 0.0 {
        disk.set_error_rate(opt.disk_error_rate, opt.error_seed)?;
    }
    let mem_size = ((opt.nbs * opt.pages_per_nb * 4096) as u64 + (8 << 20)).next_power_of_two();
    let env = HostEnv {
        mem: HostMemory::new(mem_size),
        disk,
    };
    let mut dev = make_device(opt.backend, opt.config.clone())?;
    if let Some(t) = &opt.trace {
        dev.trace_open(t)
            .map_err(|e| TbError::Backend(opt.backend.name().into(), e))?;
    }
    let mut drv = Driver::new(dev, env)?;
    // p2p: the stream's socket is a hold socket, and the writer's mode follows from it.
    let (sock, early) = drv.add_socket(&sc.socket.with_hold(opt.mode.needs_hold()))?;
    let mut nas = NasStream::start(&mut drv, sock, opt.nbs, opt.pages_per_nb)?;
    nas.set_mode(opt.mode)?;
    if let Some(n) = opt.max_retries {
        nas.set_max_retries(n);
    }
    // SMB2, BFW1: a write ending at the end of the stream is no end of the file.
    nas.set_zero_tail_at_eof(sc.protocol == Protocol::Raw);
    for c in &early {
        nas.handle(&mut drv, c)?;
    }
    let mut app = match sc.protocol {
        Protocol::Raw => App::Raw(DiskPump::new(store.clone(), opt.write_chunk)),
        Protocol::Smb2 => App::Smb2(Smb2App::new(opt.write_chunk)),
        Protocol::Framed => App::Framed(FramedApp::new(opt.write_chunk)),
    };
    let total = file_len;

    let mut sender = Sender::new(sc);
    if opt.pcap_out.is_some() {
        sender.log = Some(Vec::new());
    }
    let mut peer = Peer::default();
    let mut last_activity = drv.cycles();
    let mut last_progress = drv.cycles();
    let mut last_state = (None, 0u64, 0u64, 0u64, usize::MAX, None);
    let debug = std::env::var("BUFLET_DEBUG").is_ok();
    loop {
        // What the NIC transmitted: its SYN-ACK and ACKs pace the sender.
        let before = peer.acked;
        while let Some(f) = drv.tx_pop() {
            take_nic_frame(&f, sc, &sender, &mut peer)?;
            sender.heard(drv.cycles(), &f);
            peer.seen += 1;
            last_activity = drv.cycles();
        }
        if peer.acked > before && before.is_some() {
            sender.on_ack_advance(&mut drv, sc, &peer);
        }
        if sender.send_ready(&mut drv, sc, &peer) > 0 {
            last_activity = drv.cycles();
        }
        if drv.rx_pending() > 0 {
            last_activity = drv.cycles();
        } else if drv.cycles() - last_activity >= opt.rto_cycles {
            sender.on_timeout(&mut drv, sc, &peer);
            last_activity = drv.cycles();
        }

        let c0 = drv.cycles();
        for c in drv.wait(STEP)? {
            nas.handle(&mut drv, &c)?;
        }
        if drv.cycles() == c0 {
            drv.run(64);
        }
        if let Some(e) = app.failed() {
            return Err(TbError::WriteFailed(e));
        }
        if debug {
            let fb = drv.rd(reg::CNT_FREE_BUFLETS);
            eprintln!(
                "cyc {} pending {} acked {:?} win {} recv {} written {} posted {} inflight {} free {} wire {} retx {} probes {}",
                drv.cycles(),
                sender.pending.len(),
                peer.acked,
                peer.window,
                nas.received(),
                app.written(&nas),
                nas.posted_bytes(),
                nas.writes_in_flight(),
                fb,
                drv.rx_pending(),
                sender.retransmits,
                sender.probes
            );
        }
        app.pump(&mut drv, &mut nas, &store)?;
        if let Some(p) = &opt.progress {
            p(app.written(&nas).min(total), total);
        }
        if app.done(&nas) && (sender.pending.is_empty() || nas.reset) && drv.rx_pending() == 0 {
            break;
        }
        let state = (
            peer.acked,
            nas.received(),
            nas.written(),
            app.written(&nas),
            sender.pending.len(),
            nas.eof,
        );
        if state != last_state {
            last_state = state;
            last_progress = drv.cycles();
        } else if drv.cycles() - last_progress > STALL_CYCLES {
            let d = drops(&mut drv);
            return Err(TbError::Stalled(format!(
                "no progress for {STALL_CYCLES} cycles: {} of {} frames still to send, NIC acked {:?} window {}, {} bytes received, {} on disk, eof {:?}, {} retransmits, {} probes, drops {:?}",
                sender.pending.len(),
                sc.frames.len(),
                peer.acked,
                peer.window,
                nas.received(),
                app.written(&nas),
                nas.eof,
                sender.retransmits,
                sender.probes,
                d.nonzero()
            )));
        }
    }

    // Let the NIC answer the last frames, then delete the socket: its named buffers come back
    // first (flag DELETE), and every buflet must return to the free list.
    let mut quiet_since = drv.cycles();
    while drv.cycles() - quiet_since < SETTLE_CYCLES {
        for c in drv.wait(STEP)? {
            nas.handle(&mut drv, &c)?;
        }
        let mut active = drv.rx_pending() > 0;
        while let Some(f) = drv.tx_pop() {
            take_nic_frame(&f, sc, &sender, &mut peer)?;
            sender.heard(drv.cycles(), &f);
            peer.seen += 1;
            active = true;
        }
        if active {
            quiet_since = drv.cycles();
        }
    }
    for c in drv.del_socket(sock)? {
        nas.handle(&mut drv, &c)?;
    }
    drv.run(STEP);
    while let Some(f) = drv.tx_pop() {
        take_nic_frame(&f, sc, &sender, &mut peer)?;
        sender.heard(drv.cycles(), &f);
        peer.seen += 1;
    }
    if let Some(e) = app.failed() {
        return Err(TbError::WriteFailed(e));
    }

    if let (Some(path), Some(log)) = (&opt.pcap_out, &sender.log) {
        write_pcap(path, log, opt.config.clock_mhz)?;
    }
    let stream_len = nas.eof.unwrap_or(0);
    let (len, smb, framed) = match &app {
        App::Raw(_) => (stream_len, None, None),
        App::Smb2(a) => (a.file_len, Some(a), None),
        App::Framed(a) => (a.file_len, None, Some(a)),
    };
    let back = store.read_back(&drv.env.disk, len)?;
    let fs_check: Option<FsCheck> = match &store {
        Store::Fs(f) => Some(buflet_fs::check(&image, &f.path, sha256_hex)),
        Store::Extent(_) => None,
    };
    let cycles = drv.cycles();
    let s = drv.env.mem.stats();
    let scsi = drv.env.disk.scsi_stats().unwrap_or_default();
    let disk_stats = drv.env.disk.stats();
    let writer = nas.stats();
    let counters: Counters = drv.counters();
    let drops = DropCounts(counters.drops.clone());
    let wall = started.elapsed().as_secs_f64();
    let disk_sha256 = sha256_hex(&back);
    let source_sha256 = sha256_hex(&expected);
    let mut verified = disk_sha256 == source_sha256;
    let num_buflets = drv.info.num_buflets;
    let mut failures = Vec::new();
    if !verified {
        failures.push("the disk does not hold the source bytes".to_string());
    }
    if let Some(c) = &fs_check {
        if !c.fsck_clean {
            failures.push(format!("e2fsck -fn: {}", c.fsck_summary));
        }
        if c.debugfs_sha256 != source_sha256 {
            failures.push(format!(
                "debugfs cat reads {} bytes with sha256 {}, not the source",
                c.debugfs_bytes, c.debugfs_sha256
            ));
        }
        verified &= c.fsck_clean && c.debugfs_sha256 == source_sha256;
    }
    if let Some(u) = smb.and_then(|a| a.unsupported.clone()) {
        failures.push(u);
    }
    if let Some(e) = framed.and_then(|a| a.stream_error.clone()) {
        failures.push(e);
    }
    if counters.free_buflets != num_buflets {
        failures.push(format!(
            "{} of {} buflets free after SOCK_DEL: {} leaked",
            counters.free_buflets,
            num_buflets,
            num_buflets.saturating_sub(counters.free_buflets)
        ));
    }
    let (chains_held, releases_open) = nas.held_chains();
    if chains_held + releases_open > 0 {
        failures.push(format!(
            "p2p: {chains_held} held chains never released, {releases_open} BUF_RELEASE requests never completed"
        ));
    }
    if counters.tx_frames as u64 != peer.seen {
        failures.push(format!(
            "CNT_TX_FRAMES is {} but {} frames came out of the NIC",
            counters.tx_frames, peer.seen
        ));
    }
    if nas.reset {
        failures.push("the NIC returned a named buffer with flag RST".to_string());
    }
    for c in &nas.errors {
        failures.push(format!(
            "named buffer {} returned with status {} ({})",
            c.ref_num,
            c.status,
            c.status.name()
        ));
    }
    let report = RunReport {
        backend: drv.backend().to_string(),
        data_width: drv.info.data_width,
        protocol: sc.protocol,
        stream_bytes: stream_len,
        payload_bytes: len,
        smb2_writes: smb.map_or(0, |a| a.writes),
        smb2_messages: smb.map_or(0, |a| a.messages),
        smb2_skipped: smb.map_or(0, |a| a.skipped),
        unsupported: smb.and_then(|a| a.unsupported.clone()),
        framed_records: framed.map_or(0, |a| a.records),
        framed_record_bytes: framed.map_or(0, |a| a.record_bytes),
        stream_error: framed.and_then(|a| a.stream_error.clone()),
        rmw_blocks: writer.rmw_blocks,
        fs: opt.fs,
        file_path: opt.fs.map(|_| opt.file_path.clone()),
        fsck_clean: fs_check.as_ref().map(|c| c.fsck_clean),
        fsck_summary: fs_check.as_ref().map(|c| c.fsck_summary.clone()),
        debugfs_sha256: fs_check.as_ref().map(|c| c.debugfs_sha256.clone()),
        mode: opt.mode,
        hold_records: counters.hold_records as u64,
        chains_released: counters.buf_released as u64,
        blk_dev_bytes: counters.blk_dev_bytes as u64,
        disk_error_rate: opt.disk_error_rate,
        write_retries: writer.retries,
        write_failures: writer.writes_failed,
        writer,
        disk_reads: disk_stats.reads,
        disk_bytes_written: disk_stats.bytes_written,
        disk_bytes_read: disk_stats.bytes_read,
        frames: sc.frames.len() as u64,
        frames_sent: sender.frames_sent,
        retransmits: sender.retransmits,
        probes: sender.probes,
        tx_frames: counters.tx_frames as u64,
        tx_frames_seen: peer.seen,
        tx_bytes: counters.tx_bytes as u64,
        ooo_held: counters.ooo_held as u64,
        rx_accepted: counters.rx_accepted as u64,
        dropped: drops.total(),
        drops,
        cycles,
        cpu_copied_bytes: s.cpu_copied,
        regcache: drv.reg_stats(),
        verified,
        disk_sha256,
        source_sha256,
        dram_crossings_per_byte: if len > 0 {
            s.total() as f64 / len as f64
        } else {
            0.0
        },
        host_dram_bytes: s.total(),
        nic_dma_written: s.nic_written,
        nic_dma_read: s.nic_read,
        blk_dma_read: s.blk_read,
        cpu_read: s.cpu_read,
        cpu_written: s.cpu_written,
        stray_accesses: s.stray_accesses,
        disk_writes: disk_stats.writes,
        disk: drv.env.disk.mode(),
        scsi_commands: scsi.commands,
        scsi_bytes_mapped: scsi.bytes_mapped,
        scsi_bytes_copied: scsi.bytes_copied,
        buflets_free_end: counters.free_buflets,
        num_buflets,
        passed: failures.is_empty(),
        failures,
        wall_seconds: wall,
        sim_cycles_per_second: cycles as f64 / wall.max(1e-9),
        image: image.display().to_string(),
    };
    Ok(report)
}

/// Write `log` (cycle, frame) as a classic pcap file of Ethernet frames, the cycle count turned
/// into time at `clock_mhz`.
fn write_pcap(
    path: &std::path::Path,
    log: &[(u64, Vec<u8>)],
    clock_mhz: u32,
) -> Result<(), TbError> {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let err = |e: String| TbError::Input {
        path: path.display().to_string(),
        msg: e,
    };
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let header = PcapHeader {
        ts_resolution: pcap_file::TsResolution::NanoSecond,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(std::io::BufWriter::new(file), header)
        .map_err(|e| err(e.to_string()))?;
    let mhz = clock_mhz.max(1) as u128;
    for (cycle, f) in log {
        let ns = (*cycle as u128 * 1000 / mhz).min(u64::MAX as u128) as u64;
        w.write_packet(&PcapPacket::new(
            std::time::Duration::from_nanos(ns),
            f.len() as u32,
            f,
        ))
        .map_err(|e| err(e.to_string()))?;
    }
    use std::io::Write;
    w.into_writer().flush().map_err(|e| err(e.to_string()))
}

/// Every drop counter of the device, by spec name.
pub fn drops(drv: &mut Driver) -> DropCounts {
    DropCounts(
        buflet_driver::drop_reasons()
            .map(|r| (r.name(), drv.drop_count(r)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sequence_numbers_unwrap_across_2_pow_32() {
        let base = 0xffff_fff0u32;
        assert_eq!(unwrap_rel(base, base, 0), 0);
        assert_eq!(unwrap_rel(base.wrapping_sub(1), base, 0), -1);
        assert_eq!(unwrap_rel(0x10, base, 0), 0x20);
        // Far along a long stream, near the previous value.
        let near = 5_000_000_000i64;
        let x = base.wrapping_add(near as u32).wrapping_add(1448);
        assert_eq!(unwrap_rel(x, base, near), near + 1448);
    }

    #[test]
    fn drop_counts_serialize_as_an_object_in_spec_order() {
        let d = DropCounts(vec![
            ("TRUNCATED", 0),
            ("OUT_OF_WINDOW", 3),
            ("DUPLICATE", 1),
        ]);
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"TRUNCATED":0,"OUT_OF_WINDOW":3,"DUPLICATE":1}"#
        );
        assert_eq!(d.get("OUT_OF_WINDOW"), 3);
        assert_eq!(d.get("NO_SUCH"), 0);
        assert_eq!(d.total(), 4);
        assert_eq!(d.nonzero(), vec![("OUT_OF_WINDOW", 3), ("DUPLICATE", 1)]);
    }

    #[test]
    fn a_frame_fits_when_its_data_ends_inside_the_window() {
        let peer = Peer {
            acked: Some(1000),
            window: 2000,
            ..Peer::default()
        };
        let seg = |start: i64, len: i64, fin: bool| Seg {
            start,
            data_end: start + len,
            seq_end: start + len + fin as i64,
            syn: false,
        };
        assert!(Sender::fits(&seg(1000, 2000, false), &peer));
        assert!(!Sender::fits(&seg(1001, 2000, false), &peer));
        // Duplicates left of the ACK still go.
        assert!(Sender::fits(&seg(0, 1000, false), &peer));
        // A FIN needs a byte of window, a pure ACK does not.
        assert!(Sender::fits(&seg(2999, 0, true), &peer));
        assert!(!Sender::fits(&seg(3000, 0, true), &peer));
        assert!(Sender::fits(&seg(3000, 0, false), &peer));
        // Nothing but the SYN before the SYN-ACK.
        let none = Peer::default();
        assert!(!Sender::fits(&seg(0, 0, false), &none));
        let syn = Seg {
            start: -1,
            data_end: -1,
            seq_end: 0,
            syn: true,
        };
        assert!(Sender::fits(&syn, &none));
    }
}
