//! `buflet peer`: a real TCP implementation (smoltcp) sends a stream to the NIC over a lossy link.
//!
//! The peer is a smoltcp [`Interface`] in `Medium::Ip` over [`link::PeerPhy`]; the link adapter
//! wraps its IPv4 packets in Ethernet frames for the NIC and strips the Ethernet header of the
//! NIC's frames, and impairs each direction independently (seeded loss, reordering,
//! duplication). The peer actively opens to the NIC's listening socket, sends N seeded bytes and
//! closes; only the NIC's SYN-ACK, ACKs and windows pace it. The stream goes through the
//! driver's zero-copy NAS path to the disk image, whose sha256 is compared with the source.
//!
//! Time: smoltcp's clock is the device clock (cycles / CLOCK_MHZ) plus a skip offset. When the
//! device and the link are quiet, smoltcp's clock jumps to its next deadline (retransmission or
//! zero-window-probe timer) without simulating idle cycles. No wall clock is read, so a run is a
//! function of its options.

pub mod iscsi;
pub mod link;
pub mod many;

use crate::frames::{self, CLIENT_IP, CLIENT_MAC, CLIENT_PORT, SERVER_IP, SERVER_MAC, SERVER_PORT};
use crate::{sha256_hex, Backend, Bench, TbError};
use buflet_driver::{DriverError, SocketSpec};
use buflet_nas::answer::Cow;
use buflet_nas::framed::{self, header_of, Kind, HDR};
use buflet_nas::{AppKind, ExtentFile, NasServer, ServeError, ServerConfig, WriteError, WriteMode};
use buflet_platform::DiskError;
use buflet_spec::{reg, CplKind, Status};
use link::{eth_wrap, peer_seg, AckObserver, AckStats, Dir, Impair, LinkStats, PeerPhy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};
use std::collections::{BTreeMap, VecDeque};

/// Named buffers kept posted, and host pages per named buffer.
const NBS: usize = 16;
const PAGES_PER_NB: usize = 16;
/// Bytes per zero-copy block write (block writes kept outstanding: `buflet_nas::app`).
const WRITE_CHUNK: u64 = 64 * 1024;
/// The NIC socket's receive buffer and MSS (the rest is `frames::demo_socket`).
const RCV_BUF: u32 = 256 * 1024;
const MSS: u16 = 1460;
/// The peer's IP MTU (so its MSS is 1460) and its socket buffers.
const PEER_MTU: usize = 1500;
const PEER_TX_BUF: usize = 4 << 20;
const PEER_RX_BUF: usize = 4096;
/// Most cycles the device runs between two looks at the peer.
const STEP: u64 = 1024;
/// Cycles without any frame, completion or pending work before the link counts as quiet.
const SETTLE: u64 = 8192;
/// Quiet cycles with no peer timer pending before the run is declared stalled.
const IDLE_LIMIT: u64 = 2_000_000;
/// Simulated time, and device cycles, without progress before the run is declared stalled.
/// smoltcp backs its retransmission timer off up to 60 s, so fifteen retransmissions at the
/// longest timeout fit: heavy loss (30% per direction loses half the round trips) needs them.
const NO_PROGRESS_US: i64 = 900_000_000;
const NO_PROGRESS_CYCLES: u64 = 100_000_000;
/// Bound on the simulated time of a whole run (a safety net: every step of progress already
/// has to come within NO_PROGRESS_US).
const MAX_SIM_US: i64 = 86_400_000_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct PeerOpts {
    /// Which device implementation.
    pub backend: Backend,
    /// Datapath width in bits (64..=512).
    pub width: u32,
    /// Stream bytes the peer sends.
    pub bytes: u64,
    /// Per-direction probability that the link loses a frame.
    pub loss: f64,
    /// Per-direction probability that a frame is held back behind 1..=3 later ones.
    pub reorder: f64,
    /// Per-direction probability that a frame is delivered twice.
    pub dup: f64,
    /// Seed of the payload, the NIC's ISS, smoltcp's generator and the link.
    pub seed: u64,
    /// Read the file back (issue 12): the peer writes the stream as BFW1 `WRITE` records,
    /// waits for the NAS's `WRITE_ACK` of every one, reads the whole file back with `READ`s
    /// over the same connection, checks the bytes, then closes.
    pub read_back: bool,
    /// How the NAS picks the pages it writes its answers' headers into (seed 002).
    pub cow: Cow,
    /// Write every frame on the NIC's port (those that reached it after the link's
    /// impairments, those it sent before them) to this pcap file, timestamped in device time.
    pub pcap_out: Option<std::path::PathBuf>,
    /// How payload moves between the NIC and the disk (the write direction, and the read
    /// direction of a read-back).
    pub mode: WriteMode,
}

/// Bytes per BFW1 `WRITE` record and per `READ` of a read-back.
pub const RECORD_BYTES: u64 = 64 * 1024;
/// The NIC's timer tick when it sends (read-back), and its retransmission timeout's bounds
/// in device cycles (200 us and 4 ms at 250 MHz: below the stall detector's idle limit).
const TX_TICK: u32 = 2500;
const RTO_MIN_CYCLES: u64 = 50_000;
const RTO_MAX_CYCLES: u64 = 1_000_000;
/// The peer's delayed-ACK timeout when it reads back (below the NIC's RTO_MIN).
const PEER_ACK_DELAY_US: u64 = 40;
/// The peer's receive buffer when it reads back.
const PEER_RX_BUF_READ: usize = 256 * 1024;

/// Extra `READ`s of seeded ranges after the whole file's (unaligned offsets and lengths, one
/// of 0 bytes, ranges across the server's 64 KiB chunks), and their longest length.
const EXTRA_READS: usize = 8;
const EXTRA_READ_MAX: u64 = 150_000;

/// The peer's side of a read-back: the BFW1 records it sends, and the answers it parses.
struct Client {
    /// The file as written, record by record: (length, file offset) in order.
    records: Vec<(u32, u64)>,
    /// The `READ`s to send once every record is acknowledged: (length, file offset).
    reads: Vec<(u32, u64)>,
    /// `READ`s sent and not answered yet, in order.
    pending: VecDeque<(u32, u64)>,
    /// Received bytes not parsed yet.
    rx: Vec<u8>,
    /// `WRITE_ACK`s received (each checked against the records in order).
    acks: usize,
    /// File bytes the acknowledged records cover, from offset 0.
    acked_bytes: u64,
    /// `READ`s sent.
    reads_sent: bool,
    /// The file as read back.
    back: Vec<u8>,
    /// Data bytes of `READ_DATA` records received.
    read_got: u64,
    /// The `READ_DATA` record whose data is arriving: next file offset, bytes left.
    cur: Option<(u64, u64)>,
    /// The first thing wrong with the server's stream.
    bad: Option<String>,
}

impl Client {
    /// A client that writes `source`, then reads it back whole and in `EXTRA_READS` seeded
    /// ranges; with `past_end`, its last `READ` reaches `past_end` bytes beyond the file (a
    /// hostile request the server must refuse). Returns it with the bytes it sends first: its
    /// `WRITE` records.
    fn new(source: &[u8], seed: u64, past_end: Option<u64>) -> (Self, Vec<u8>) {
        let mut out = Vec::with_capacity(source.len() + source.len() / 2048 + 64);
        let mut records = Vec::new();
        for (k, data) in source.chunks(RECORD_BYTES as usize).enumerate() {
            let off = k as u64 * RECORD_BYTES;
            out.extend_from_slice(&header_of(Kind::Write, data.len() as u32, off));
            out.extend_from_slice(data);
            records.push((data.len() as u32, off));
        }
        let len = source.len() as u64;
        let mut reads = records.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7265_6164_6261_636b);
        for k in 0..EXTRA_READS {
            let off = rng.gen_range(0..=len);
            let n = if k == 0 {
                0
            } else {
                rng.gen_range(0..=EXTRA_READ_MAX.min(len - off))
            };
            reads.push((n as u32, off));
        }
        if let Some(extra) = past_end {
            let off = len.saturating_sub(100);
            reads.push(((100 + extra) as u32, off));
        }
        let client = Client {
            records,
            reads,
            pending: VecDeque::new(),
            rx: Vec::new(),
            acks: 0,
            acked_bytes: 0,
            reads_sent: false,
            back: vec![0; source.len()],
            read_got: 0,
            cur: None,
            bad: None,
        };
        (client, out)
    }

    /// Parse what the server sent; every `READ_DATA` byte is checked against `source` (the
    /// file as written) as it arrives.
    fn feed(&mut self, data: &[u8], source: &[u8]) {
        if self.bad.is_some() {
            return;
        }
        self.rx.extend_from_slice(data);
        let mut pos = 0usize;
        loop {
            if let Some((off, left)) = self.cur {
                let n = (left as usize).min(self.rx.len() - pos);
                if n == 0 {
                    break;
                }
                let (o, got) = (off as usize, &self.rx[pos..pos + n]);
                if let Some(i) = (0..n).find(|&i| got[i] != source[o + i]) {
                    self.bad = Some(format!(
                        "READ_DATA byte at file offset {} is {:#04x}, the file has {:#04x}",
                        o + i,
                        got[i],
                        source[o + i]
                    ));
                    break;
                }
                self.back[o..o + n].copy_from_slice(got);
                pos += n;
                self.read_got += n as u64;
                self.cur = (left > n as u64).then_some((off + n as u64, left - n as u64));
                continue;
            }
            if self.rx.len() - pos < HDR as usize {
                break;
            }
            let mut h = [0u8; HDR as usize];
            h.copy_from_slice(&self.rx[pos..pos + HDR as usize]);
            pos += HDR as usize;
            match framed::parse(0, &h) {
                Ok(r) if r.kind == Kind::WriteAck => match self.records.get(self.acks) {
                    Some(&(len, off)) if (len, off) == (r.len, r.file_off) => {
                        self.acks += 1;
                        self.acked_bytes = off + u64::from(len);
                    }
                    want => {
                        self.bad = Some(format!(
                            "WRITE_ACK {} of ({}, {}) where the peer expected {want:?}",
                            self.acks, r.len, r.file_off
                        ));
                        break;
                    }
                },
                Ok(r) if r.kind == Kind::ReadData => {
                    let want = self.pending.pop_front();
                    if want != Some((r.len, r.file_off))
                        || r.file_off + u64::from(r.len) > self.back.len() as u64
                    {
                        self.bad = Some(format!(
                            "READ_DATA of {} bytes at {} where the peer expected {want:?} (a {}-byte file)",
                            r.len,
                            r.file_off,
                            self.back.len()
                        ));
                        break;
                    }
                    self.cur = (r.len > 0).then_some((r.file_off, u64::from(r.len)));
                }
                Ok(r) => {
                    self.bad = Some(format!("the server sent a {:?} record", r.kind));
                    break;
                }
                Err(e) => {
                    self.bad = Some(format!("the server's stream: {e}"));
                    break;
                }
            }
        }
        self.rx.drain(..pos);
    }

    /// Every record acknowledged: append the `READ`s to `out`, the bytes the peer sends.
    fn maybe_read(&mut self, out: &mut Vec<u8>) {
        if self.reads_sent || self.acks < self.records.len() {
            return;
        }
        for &(len, off) in &self.reads {
            out.extend_from_slice(&header_of(Kind::Read, len, off));
            self.pending.push_back((len, off));
        }
        self.reads_sent = true;
    }

    /// Every `READ` is answered.
    fn done(&self) -> bool {
        self.reads_sent && self.cur.is_none() && self.pending.is_empty()
    }
}

/// Faults beyond the link's loss, reordering and duplication, for the fault campaign
/// ([`crate::faults`]). The default is none: [`run`] is [`run_with`] without faults.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Faults {
    /// Per-direction probability that a byte past a frame's Ethernet header is changed.
    pub corrupt: f64,
    /// Per-direction probability that a frame is cut short.
    pub truncate: f64,
    /// Probability that a block-device operation fails.
    pub disk_error_rate: f64,
    /// Retries of a failed block operation (`None`: the writer's default).
    pub max_retries: Option<u32>,
    /// The peer aborts the connection (RST) once this many bytes are acknowledged.
    pub abort_after: Option<u64>,
    /// Named-buffer timeouts: timer period in cycles, `TIMEOUT` in ticks.
    pub nb_timeout: Option<(u32, u32)>,
    /// The application stalls: from device cycle `.0`, for `.1` cycles, it takes no
    /// completion and posts no named buffer while the device runs on (received data waits in
    /// buflets and the window closes).
    pub app_stall: Option<(u64, u64)>,
    /// The NIC socket's receive buffer instead of 256 KiB. Larger than the buflet pool, it
    /// lets a stalled application's data fill the pool: frames then find no free buflet
    /// (`NO_BUFLET`) until the application drains it.
    pub rcv_buf: Option<u32>,
    /// Named buffers the application keeps posted instead of 16 (1..=16): with few, a stall
    /// leaves the received data in buflets rather than in host memory.
    pub nbs: Option<usize>,
    /// Read-back: the client's last `READ` reaches this many bytes past the end of the file
    /// (past the file's extent on disk): the NAS must refuse it with an error naming it.
    pub read_past_end: Option<u64>,
    /// The block device answers this many operations, then none: each block command then
    /// ends with DISK_TIMEOUT after [`HUNG_DISK_TIMEOUT`] cycles.
    pub disk_hang_after: Option<u64>,
}

/// `BLK_TIMEOUT` of a run whose disk stops answering ([`Faults::disk_hang_after`]).
pub const HUNG_DISK_TIMEOUT: u32 = 20_000;

/// What a run measured. Serialized as the CLI's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct PeerReport {
    /// "model" or "rtl".
    pub backend: String,
    /// Datapath width in bits.
    pub data_width: u32,
    /// Stream bytes sent by the peer (and expected on disk).
    pub bytes: u64,
    /// The disk holds exactly the source stream.
    pub verified: bool,
    /// sha256 of the source stream.
    pub source_sha256: String,
    /// sha256 of the file region read back from the disk image (up to the FIN).
    pub disk_sha256: String,
    /// What the link did in each direction.
    pub link: LinkStats,
    /// Duplicate ACKs and window movements of the NIC's ACKs (before the link impairs them).
    pub nic_acks: AckStats,
    /// Frames the NIC transmitted (register CNT_TX_FRAMES).
    pub nic_tx_frames: u64,
    /// Segments the NIC held out of order (register CNT_OOO_HELD).
    pub ooo_held: u64,
    /// Device drop counters by spec name (every reason, zeros included).
    pub drops: BTreeMap<String, u64>,
    /// Device clock cycles.
    pub cycles: u64,
    /// Simulated time: device time plus the idle time skipped while the peer's timers ran.
    pub sim_time_ms: f64,
    /// Segments the peer sent that start below the highest sequence number it had already
    /// sent (retransmissions, seen on the link before impairment).
    pub peer_retransmissions: Option<u64>,
    /// Retransmission episodes (runs of consecutive retransmitted segments) that the peer
    /// started right after its clock jumped over an idle period to a timer: retransmission
    /// timeouts (RFC 6298; smoltcp's RTO is at least 1 s, far longer than a run's device
    /// time, so a timeout only fires across such a jump).
    pub peer_timeouts: u64,
    /// Retransmission episodes the peer started without such a jump: fast retransmits on three
    /// duplicate ACKs (RFC 5681), which smoltcp only counts when they repeat the window.
    pub peer_fast_retransmits: u64,
    /// Times the peer's clock jumped over an idle period to its next timer.
    pub time_skips: u64,
    /// Free buflets after the socket was deleted.
    pub buflets_free_end: u32,
    /// Buflets of the device.
    pub num_buflets: u32,
    /// Stream bytes the peer saw acknowledged (its send buffer released them).
    pub acked: u64,
    /// The peer aborted the connection ([`Faults::abort_after`]).
    pub aborted: bool,
    /// Why the NAS gave up (a block write failed for good: the message names the file bytes
    /// not written), if it did.
    pub failure: Option<String>,
    /// With `failure`: the file bytes `a..b` not known to be on disk, from the first byte
    /// not written to the end of what arrived (the NAS writes nothing after a write fails for
    /// good).
    pub not_on_disk: Option<(u64, u64)>,
    /// Acknowledged bytes that are not on disk and not in the range `failure` names. Must be 0.
    pub acked_lost: u64,
    /// Named buffers the device returned on timeout (`CNT_TIMEOUTS`).
    pub nb_timeouts: u64,
    /// Block commands the device gave up on `BLK_TIMEOUT` (`CNT_BLK_TIMEOUTS`).
    pub blk_timeouts: u64,
    /// Block writes issued whose completion never came (must be 0).
    pub completions_missing: u64,
    /// Fewest free buflets seen (sampled every step): at the pool's reserve
    /// (`NUM_BUFLETS / POOL_RESERVE_DIV`) or below, the pool was exhausted for the window.
    pub min_free_buflets: u32,
    /// Host-DRAM bytes moved (every agent) per byte written, from the socket's start to the
    /// first `READ` served (or the end of the run): the write direction's figure.
    pub dram_crossings_per_byte: Option<f64>,
    /// The peer read the file back ([`PeerOpts::read_back`]); `verified` then also means the
    /// bytes read back equal the source.
    pub read_back: bool,
    /// How payload moved between the NIC and the disk ("zerocopy", "p2p", "splice", "copy").
    pub mode: String,
    /// How the writes moved (`mode`, except that a p2p read-back writes zero-copy: its BFW1
    /// headers must reach host memory).
    pub write_mode: String,
    /// How the reads moved (read-back only).
    pub read_mode: Option<String>,
    /// How the NAS picked its header pages.
    pub cow: Cow,
    /// File bytes the NAS sent back (`READ_DATA`).
    pub read_bytes: u64,
    /// sha256 of the file as the peer read it back.
    pub read_sha256: Option<String>,
    /// Host-DRAM bytes moved (every agent) from the first `READ` served to the last answer
    /// acknowledged, per byte read back: about 2 when the block engine writes each byte into
    /// host memory once and the NIC reads it once.
    pub read_dram_crossings_per_byte: Option<f64>,
    /// `WRITE_ACK`s the peer received (one per record, checked in order).
    pub write_acks: u64,
    /// What the NAS's answer path did.
    pub answers: Option<buflet_nas::answer::AnswerStats>,
    /// Data segments the NIC sent (`CNT_TX_SEGS`).
    pub tx_segs: u64,
    /// Segments the NIC sent again (`CNT_TX_RETRANS`).
    pub tx_retransmits: u64,
    /// The NIC's retransmission timeouts (`CNT_TX_RTO`).
    pub tx_timeouts: u64,
    /// The NIC's fast retransmits (`CNT_TX_FAST_RETRANS`).
    pub tx_fast_retransmits: u64,
    /// CPU writes into pages the NIC owned (seed 002): each copied the page.
    pub cow_faults: u64,
    /// Most pages in the driver's copy-on-write table at once.
    pub cow_table_peak: u64,
    /// Bytes the CPU copied (copy-on-write faults included).
    pub cpu_copied_bytes: u64,
    /// Bytes the block engine wrote into buflet memory (`CNT_BLK_DEV_WR_BYTES`: p2p reads).
    pub blk_dev_wr_bytes: u64,
}

impl From<ServeError> for PeerError {
    fn from(e: ServeError) -> Self {
        match e {
            ServeError::Driver(e) => PeerError::Driver(e),
            ServeError::Write(e) => PeerError::Write(e),
            ServeError::App(e) => PeerError::Device(format!("block write failed: {e}")),
        }
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// An option is out of range.
    #[error("bad option: {0}")]
    Options(String),
    /// The testbench could not set up the backend.
    #[error(transparent)]
    Testbench(#[from] TbError),
    /// The driver failed.
    #[error("driver: {0}")]
    Driver(#[from] DriverError),
    /// A zero-copy write failed.
    #[error("zero-copy write: {0}")]
    Write(#[from] WriteError),
    /// The disk image failed.
    #[error("disk: {0}")]
    Disk(#[from] DiskError),
    /// smoltcp refused an operation or its connection ended early.
    #[error("peer (smoltcp): {0}")]
    Peer(String),
    /// The device reported an error for the stream.
    #[error("device: {0}")]
    Device(String),
    /// The run stopped making progress.
    #[error("stalled after {sim_ms:.1} simulated ms ({cycles} cycles): {detail}")]
    Stalled {
        /// Simulated time when the stall was declared.
        sim_ms: f64,
        /// Device cycles then.
        cycles: u64,
        /// What the peer, the link and the NIC looked like.
        detail: String,
    },
    /// Buflets were missing after SOCK_DEL.
    #[error("{free} of {total} buflets free after the socket was deleted: buflets leaked")]
    Leaked {
        /// Free buflets read from CNT_FREE_BUFLETS.
        free: u32,
        /// NUM_BUFLETS.
        total: u32,
    },
}

fn check_opts(o: &PeerOpts) -> Result<(), PeerError> {
    if !(64..=512).contains(&o.width) || !o.width.is_power_of_two() {
        return Err(PeerError::Options(format!(
            "width {} (expected 64, 128, 256 or 512)",
            o.width
        )));
    }
    for (name, p, max) in [
        ("loss", o.loss, 0.5),
        ("reorder", o.reorder, 0.9),
        ("dup", o.dup, 0.9),
    ] {
        if !(p.is_finite() && (0.0..=max).contains(&p)) {
            return Err(PeerError::Options(format!(
                "{name} {p} (expected a probability from 0 to {max})"
            )));
        }
    }
    if o.bytes > crate::MAX_STREAM_BYTES {
        return Err(PeerError::Options(format!(
            "bytes {} (at most {} MiB)",
            o.bytes,
            crate::MAX_STREAM_BYTES >> 20
        )));
    }
    Ok(())
}

/// Block writes of the received stream to the file, issued as whole chunks while the stream
impl PeerOpts {
    /// The link's impairment in each direction: loss, reordering and duplication as asked,
    /// nothing corrupted or cut.
    pub fn impair(&self) -> Impair {
        Impair {
            loss: self.loss,
            reorder: self.reorder,
            dup: self.dup,
            corrupt: 0.0,
            truncate: 0.0,
        }
    }
}

/// The peer's smoltcp interface: IP medium, the client address, seeded.
fn client_iface(phy: &mut PeerPhy, seed: u64, now: Instant) -> Interface {
    let mut cfg = Config::new(HardwareAddress::Ip);
    cfg.random_seed = seed;
    let mut iface = Interface::new(cfg, phy, now);
    iface.update_ip_addrs(|a| {
        // One address on a fresh interface always fits.
        let _ = a.push(IpCidr::new(
            IpAddress::Ipv4(Ipv4Address::from(CLIENT_IP)),
            24,
        ));
    });
    iface
}

/// The NIC's retransmission timeout when it sends, in ticks of `tick` cycles: scaled to this
/// link's microsecond round trips and the peer's delayed ACKs.
fn set_send_rto(drv: &mut buflet_driver::Driver, tick: u32) {
    let ticks = |cycles: u64| (cycles / u64::from(tick.max(1))).clamp(2, 1 << 20) as u32;
    drv.set_rto(
        ticks(2 * RTO_MIN_CYCLES),
        ticks(RTO_MIN_CYCLES),
        ticks(RTO_MAX_CYCLES),
    );
}

/// Device time plus skipped idle time, as smoltcp's clock.
struct Clock {
    clock_mhz: u64,
    skip_us: i64,
}

impl Clock {
    fn micros(&self, cycles: u64) -> i64 {
        (cycles / self.clock_mhz) as i64 + self.skip_us
    }
    fn now(&self, cycles: u64) -> Instant {
        Instant::from_micros(self.micros(cycles))
    }
}

/// Counts the peer's retransmissions from the segments it sends, and sorts retransmission
/// episodes (runs of consecutive retransmitted segments) into timeouts and fast retransmits.
#[derive(Default)]
struct RetxCounter {
    /// End of the highest sequence space sent so far.
    hi: Option<u32>,
    count: u64,
    /// The peer's clock jumped to a timer since the last segment it sent.
    skipped: bool,
    /// The last segment the peer sent was a retransmission.
    in_episode: bool,
    timeouts: u64,
    fast: u64,
}

impl RetxCounter {
    /// The peer's clock jumped over an idle period to its next timer.
    fn skip(&mut self) {
        self.skipped = true;
    }

    fn see(&mut self, ip: &[u8]) {
        let Some(s) = peer_seg(ip) else { return };
        if s.len == 0 {
            return;
        }
        let skipped = std::mem::take(&mut self.skipped);
        let end = s.seq.wrapping_add(s.len);
        match self.hi {
            None if s.syn => self.hi = Some(end),
            None => {}
            Some(hi) => {
                let retx = (s.seq.wrapping_sub(hi) as i32) < 0;
                if retx {
                    self.count += 1;
                    if !self.in_episode || skipped {
                        if skipped {
                            self.timeouts += 1;
                        } else {
                            self.fast += 1;
                        }
                    }
                }
                self.in_episode = retx;
                if (end.wrapping_sub(hi) as i32) > 0 {
                    self.hi = Some(end);
                }
            }
        }
    }
}

/// Run one transfer: smoltcp connects to the NIC, sends `bytes` seeded bytes over the impaired
/// link and closes; the NIC's stream is written zero-copy to a disk image and compared.
pub fn run(opts: &PeerOpts) -> Result<PeerReport, PeerError> {
    run_with(opts, &Faults::default())
}

/// [`run`] with `faults` added. A failed block write or the peer's abort ends the run with a
/// report (what was acknowledged, what landed, what the NAS said) instead of an error.
pub fn run_with(opts: &PeerOpts, faults: &Faults) -> Result<PeerReport, PeerError> {
    check_opts(opts)?;
    let source = frames::payload(opts.seed, opts.bytes as usize);
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x7065_6572_5f68_3621);
    let nic_iss: u32 = rng.gen();
    let smol_seed: u64 = rng.gen();
    let imp = Impair {
        corrupt: faults.corrupt,
        truncate: faults.truncate,
        ..opts.impair()
    };
    let mut to_nic = Dir::new(rng.gen(), imp);
    let mut to_peer = Dir::new(rng.gen(), imp);
    let mut bad_nic_frames = 0u64;

    // The device, host memory and a disk image with room for the stream.
    let block = 4096u64;
    let file_cap = opts.bytes.div_ceil(block) * block + block;
    let disk_start = 1u64 << 20;
    let mem_size = ((NBS * PAGES_PER_NB * 4096) as u64 + (8 << 20)).next_power_of_two();
    let mut bench = Bench::builder(opts.backend)
        .width(opts.width)
        .mem(mem_size)
        .blank_disk(disk_start + file_cap + (1 << 20))
        .name("peer")
        .build()?;
    let Bench { drv, wire, .. } = &mut bench;
    if let Some(n) = faults.disk_hang_after {
        drv.set_blk_timeout(HUNG_DISK_TIMEOUT);
        drv.env.disk.stop_answering_after(Some(n));
    }
    if faults.disk_error_rate > 0.0 {
        drv.env
            .disk
            .set_error_rate(faults.disk_error_rate, opts.seed)?;
    }
    let clock_mhz = u64::from(drv.info.clock_mhz.max(1));

    // The NIC's listening socket: the demo's, with this link's receive buffer.
    let mut spec = SocketSpec {
        rcv_buf: faults.rcv_buf.unwrap_or(RCV_BUF),
        ..frames::demo_socket(nic_iss, MSS)
    };
    if opts.read_back {
        // A request waits for its answer: a named buffer comes back on the peer's PSH
        // instead of waiting to fill.
        spec.flags |= buflet_spec::SockFlags::PSH_RETURN;
    }
    let file = ExtentFile {
        disk_start,
        capacity: file_cap,
    };
    let scfg = ServerConfig {
        nbs: faults.nbs.unwrap_or(NBS).clamp(1, NBS),
        pages_per_nb: PAGES_PER_NB,
        // p2p: the read-back's BFW1 headers are read through the NIC's window (docs/p2p.md).
        mode: opts.mode,
        read_mode: opts.read_back.then_some(opts.mode),
        iscsi: None,
        max_retries: faults.max_retries,
        write_chunk: WRITE_CHUNK,
        nb_timeout: faults.nb_timeout,
        answers: opts.read_back,
        cow: opts.cow,
    };
    let kind = if opts.read_back {
        AppKind::Framed
    } else {
        AppKind::Raw
    };
    let mut srv = NasServer::start(drv, &spec, kind, file, &scfg)?;
    if opts.read_back {
        // The NIC sends: its retransmission timer runs on the device's tick (the named-buffer
        // timeout's tick when there is one), scaled to this link's microsecond round trips
        // and smoltcp's delayed ACKs, which the idle skip delivers within SETTLE cycles.
        let tick = match faults.nb_timeout {
            Some((period, _)) => period,
            None => {
                drv.set_timer_period(TX_TICK);
                TX_TICK
            }
        };
        set_send_rto(drv, tick);
    }
    let mem_start = drv.env.mem.stats();
    // What the peer sends: the stream itself, or (read-back) BFW1 records of it.
    let (mut client, mut out) = if opts.read_back {
        let (c, out) = Client::new(&source, opts.seed, faults.read_past_end);
        (Some(c), out)
    } else {
        (None, source.clone())
    };
    let sock = srv.stream.sock();

    // The peer.
    let mut clock = Clock {
        clock_mhz,
        skip_us: 0,
    };
    let mut phy = PeerPhy::new(PEER_MTU);
    let mut iface = client_iface(&mut phy, smol_seed, clock.now(drv.cycles()));
    let mut storage = [SocketStorage::EMPTY];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let handle = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(vec![
            0u8;
            if opts.read_back {
                PEER_RX_BUF_READ
            } else {
                PEER_RX_BUF
            }
        ]),
        tcp::SocketBuffer::new(vec![0u8; PEER_TX_BUF]),
    ));
    if opts.read_back {
        // The peer's delayed ACK scaled like the NIC's retransmission timeout (smoltcp's
        // default 10 ms would outlast the NIC's 200 us RTO while the device is busy).
        sockets
            .get_mut::<tcp::Socket>(handle)
            .set_ack_delay(Some(Duration::from_micros(PEER_ACK_DELAY_US)));
    }
    sockets
        .get_mut::<tcp::Socket>(handle)
        .connect(
            iface.context(),
            (IpAddress::Ipv4(Ipv4Address::from(SERVER_IP)), SERVER_PORT),
            CLIENT_PORT,
        )
        .map_err(|e| PeerError::Peer(format!("connect: {e}")))?;

    let mut pcap: Option<Vec<(u64, Vec<u8>)>> = opts.pcap_out.as_ref().map(|_| Vec::new());
    let mut sent = 0usize;
    let mut closed = false;
    let mut connected = false;
    let mut retx = RetxCounter::default();
    let mut acks = AckObserver::default();
    let mut quiet_since = drv.cycles();
    let mut skips = 0u64;
    let mut progress_key = (0u64, 0u64, 0u64, None, 0u64);
    let mut progress_us = clock.micros(drv.cycles());
    let mut progress_cycles = drv.cycles();
    let mut aborted = false;
    let mut failure: Option<String> = None;
    let mut peer_acked = 0u64;
    let mut min_free = u32::MAX;
    let mut last_delivered = 0u32;

    loop {
        // The peer: take what arrived, queue more data, send what it may.
        let now = clock.now(drv.cycles());
        iface.poll(now, &mut phy, &mut sockets);
        let acked;
        {
            let s = sockets.get_mut::<tcp::Socket>(handle);
            if s.may_send() {
                connected = true;
            }
            if let Some(n) = faults.abort_after {
                if !aborted && connected && (sent - s.send_queue()) as u64 >= n {
                    s.abort();
                    aborted = true;
                }
            }
            if connected && !aborted && !s.is_open() {
                return Err(PeerError::Peer(format!(
                    "the connection ended early (state {}) after {sent} of {} bytes were queued",
                    s.state(),
                    out.len()
                )));
            }
            if let Some(c) = client.as_mut() {
                // Read-back: take the server's answers; once every record is acknowledged,
                // the READs follow the WRITEs.
                while s.can_recv() {
                    let n = s
                        .recv(|b| {
                            c.feed(b, &source);
                            (b.len(), b.len())
                        })
                        .map_err(|e| PeerError::Peer(format!("recv: {e}")))?;
                    if n == 0 {
                        break;
                    }
                }
                if let Some(m) = &c.bad {
                    return Err(PeerError::Device(format!("the NAS's answers: {m}")));
                }
                c.maybe_read(&mut out);
            }
            if sent < out.len() && s.can_send() {
                sent += s
                    .send_slice(&out[sent..])
                    .map_err(|e| PeerError::Peer(format!("send: {e}")))?;
            }
            let finished = client.as_ref().map_or(sent == out.len(), |c| c.done());
            if finished && !closed && s.may_send() {
                s.close();
                closed = true;
            }
            acked = (sent - s.send_queue()) as u64;
            // Read-back: what the NAS acknowledged (WRITE_ACK), not what TCP did.
            peer_acked = match &client {
                Some(c) => c.acked_bytes,
                None => peer_acked.max(acked),
            };
        }
        iface.poll(now, &mut phy, &mut sockets);

        // Peer -> link -> NIC.
        let mut active = !phy.tx.is_empty();
        for ip in phy.tx.drain(..) {
            retx.see(&ip);
            to_nic.offer(eth_wrap(CLIENT_MAC, SERVER_MAC, &ip));
        }
        for f in to_nic.take() {
            if let Some(l) = pcap.as_mut() {
                l.push((drv.cycles(), f.clone()));
            }
            wire.send(f);
        }

        // The NIC and the driver (an application stall runs the device alone).
        let stalling = faults
            .app_stall
            .is_some_and(|(from, len)| (from..from.saturating_add(len)).contains(&drv.cycles()));
        if stalling {
            drv.run(STEP);
            // Time passes for the peer as for the device: its clock does not jump over a stall.
            active = true;
        }
        let polled = match (!stalling).then(|| srv.poll(drv, STEP)).transpose() {
            Ok(p) => p.unwrap_or_default(),
            Err(ServeError::App(m)) => {
                failure = Some(m);
                break;
            }
            Err(e) => return Err(e.into()),
        };
        // An empty buffer back on timeout moves no data: it is no activity (else the peer's
        // clock would never jump to its retransmission timer while the timer keeps ticking).
        active |= polled.completions > polled.empty_timeouts;
        if let Some(c) = polled.unhandled.iter().find(|c| c.status != Status::Ok) {
            return Err(PeerError::Device(format!(
                "completion kind {} for request {} failed with status {} ({})",
                c.kind,
                c.opcode,
                c.status,
                c.status.name()
            )));
        }
        let nas = &srv.stream;
        if let Some(c) = nas.errors.first() {
            return Err(PeerError::Device(format!(
                "named buffer {} returned with status {} ({})",
                c.ref_num,
                c.status,
                c.status.name()
            )));
        }
        if nas.reset && !aborted {
            return Err(PeerError::Device(format!(
                "a named buffer came back with flag RST at stream offset {:?}: the peer reset the connection",
                nas.eof
            )));
        }

        min_free = min_free.min(drv.counter(reg::CNT_FREE_BUFLETS));
        // Bytes moving into a posted named buffer are activity too, though no frame and no
        // completion shows it until the buffer is full: after an abort, a quiet check that
        // missed it deleted the socket while the NIC was still delivering acknowledged bytes.
        let delivered = drv.counter(reg::CNT_DELIVERED_BYTES);
        if delivered != last_delivered {
            last_delivered = delivered;
            active = true;
        }

        // NIC -> link -> peer.
        while let Some(f) = wire.recv() {
            active = true;
            if let Some(l) = pcap.as_mut() {
                l.push((drv.cycles(), f.clone()));
            }
            acks.see(&f);
            to_peer.offer(f);
        }
        phy.receive(&mut to_peer, &mut bad_nic_frames);

        if srv.done() {
            break;
        }
        // After an abort whose RST the link lost, the NIC hears nothing more: once it and the
        // writer are quiet, the connection is over.
        if aborted
            && !active
            && wire.pending() == 0
            && srv.stream.writes_in_flight() == 0
            && drv.cycles() - quiet_since > SETTLE
        {
            break;
        }

        // Progress and stall detection.
        let cycles = drv.cycles();
        let now_us = clock.micros(cycles);
        let answered = client.as_ref().map_or(0, |c| c.read_got + c.acks as u64);
        let key = (acked, nas.received(), nas.written(), nas.eof, answered);
        if key != progress_key {
            progress_key = key;
            progress_us = now_us;
            progress_cycles = cycles;
        }
        macro_rules! stalled {
            ($why:expr) => {{
                let s = sockets.get::<tcp::Socket>(handle);
                PeerError::Stalled {
                    sim_ms: now_us as f64 / 1000.0,
                    cycles,
                    detail: format!(
                        "{}; peer {} with {sent} of {} bytes queued, {acked} acked, {} unsent or \
                         unacked; NIC: {} bytes received, {} on disk, eof {:?}, drops {:?}; link {:?}",
                        $why,
                        s.state(),
                        source.len(),
                        s.send_queue(),
                        nas.received(),
                        nas.written(),
                        nas.eof,
                        drv.counters()
                            .drops
                            .into_iter()
                            .filter(|(_, n)| *n > 0)
                            .collect::<Vec<_>>(),
                        LinkStats {
                            to_nic: to_nic.stats,
                            to_peer: to_peer.stats,
                            bad_nic_frames
                        }
                    ),
                }
            }};
        }
        if now_us - progress_us > NO_PROGRESS_US {
            return Err(stalled!("no progress for 900 simulated seconds"));
        }
        if cycles - progress_cycles > NO_PROGRESS_CYCLES {
            return Err(stalled!("no progress for 100M device cycles"));
        }
        if now_us > MAX_SIM_US {
            return Err(stalled!("the run exceeded a simulated day"));
        }

        // Quiet: nothing on the wire, in the device's queues or in flight to the disk.
        if active || wire.pending() > 0 || nas.writes_in_flight() > 0 || !phy.rx.is_empty() {
            quiet_since = cycles;
            continue;
        }
        if cycles - quiet_since < SETTLE {
            continue;
        }
        if to_nic.in_flight() > 0 || to_peer.in_flight() > 0 {
            // Frames held back with nothing behind them: they arrive late, not never.
            to_nic.flush();
            to_peer.flush();
            for f in to_nic.take() {
                if let Some(l) = pcap.as_mut() {
                    l.push((drv.cycles(), f.clone()));
                }
                wire.send(f);
            }
            phy.receive(&mut to_peer, &mut bad_nic_frames);
            quiet_since = cycles;
            continue;
        }
        match iface.poll_delay(clock.now(cycles), &sockets) {
            Some(d) if d > Duration::ZERO => {
                clock.skip_us += d.total_micros() as i64;
                skips += 1;
                retx.skip();
                quiet_since = cycles;
            }
            Some(_) => {}
            None => {
                // Answers in flight: the NIC's retransmission timer is pending.
                if srv.answers.as_ref().is_some_and(|a| !a.idle()) {
                    quiet_since = cycles;
                }
                if cycles - quiet_since > IDLE_LIMIT {
                    return Err(stalled!(
                        "the NIC and the link are idle and the peer has no timer pending"
                    ));
                }
            }
        }
    }

    // The read direction's host-memory traffic: from the first READ served to the last
    // answer acknowledged.
    let mem_end = drv.env.mem.stats();
    let answers = srv
        .answers
        .as_ref()
        .map(|a| (a.stats, a.mem_at_first_read.clone()));

    // Delete the socket: its remaining named buffers come back first (flag DELETE), with
    // whatever else completed meanwhile (a block write, which the writer takes as it comes).
    for c in drv.del_socket(sock)? {
        if c.kind == CplKind::NbReturn && c.status != Status::Ok {
            return Err(PeerError::Device(format!(
                "SOCK_DEL returned named buffer {} with status {} ({})",
                c.ref_num,
                c.status,
                c.status.name()
            )));
        }
        srv.stream.handle(drv, &c)?;
    }
    // p2p reads: the host buflets go back to the pool (every post of them is done).
    if drv.rd(reg::HOST_BUFLETS) != 0 {
        drv.set_host_buflets(0)?;
    }
    // Frames still on the wire or inside the device's receive pipeline hold buflets until the
    // engine drops them (NO_SOCKET now): let them through before counting.
    for _ in 0..10_000 {
        if wire.pending() == 0 {
            break;
        }
        drv.run(STEP);
    }
    drv.run(SETTLE);
    // What the NIC sent after the run (an ACK of a late frame) goes to the capture too; the
    // peer has closed.
    while let Some(f) = wire.recv() {
        if let Some(l) = pcap.as_mut() {
            l.push((drv.cycles(), f));
        }
    }
    let num_buflets = drv.info.num_buflets;
    let counters = drv.counters();
    let free = counters.free_buflets;
    if free != num_buflets {
        return Err(PeerError::Leaked {
            free,
            total: num_buflets,
        });
    }

    // After a failure the writes still in flight finish (nothing new is issued), so what is
    // on disk is known.
    if failure.is_some() {
        for _ in 0..100_000 {
            if srv.stream.writes_in_flight() == 0 {
                break;
            }
            let _ = srv.poll(drv, STEP);
        }
    }
    // The connection is over: what arrived is the stream (an abort whose RST was lost leaves
    // no end mark), written to its last byte.
    if failure.is_none() {
        if let Err(ServeError::App(m)) = srv.finish(drv, STEP) {
            failure = Some(m);
        }
    }
    let len = if opts.read_back {
        srv.file_len()
    } else {
        srv.stream.eof.unwrap_or(0)
    } as usize;
    let mut back = vec![0u8; len.max(peer_acked as usize).min(source.len())];
    drv.env.disk.read_bytes(disk_start, &mut back)?;
    // A failure names what is not on disk: from the first byte not known written to the end
    // of what arrived (the NAS writes nothing after a write fails for good).
    let not_on_disk = failure
        .as_ref()
        .map(|_| {
            if opts.read_back {
                // BFW1: file bytes (records are written in order from offset 0).
                (srv.written(), srv.file_len().max(peer_acked))
            } else {
                (srv.stream.written(), srv.stream.received().max(peer_acked))
            }
        })
        .filter(|(a, b)| a < b);
    if let (Some(m), Some((a, b))) = (failure.as_mut(), not_on_disk) {
        m.push_str(&format!(
            "; the NAS stopped writing there: file bytes {a}..{b} are not known to be on disk"
        ));
    }
    let acked_lost = (0..peer_acked.min(back.len() as u64))
        .filter(|&i| back[i as usize] != source[i as usize])
        .filter(|i| !not_on_disk.is_some_and(|(a, b)| (a..b).contains(i)))
        .count() as u64;
    back.truncate(len);
    let disk_sha256 = sha256_hex(&back);
    let source_sha256 = sha256_hex(&source);
    if let (Some(path), Some(log)) = (&opts.pcap_out, &pcap) {
        crate::runner::write_pcap(path, log, drv.info.clock_mhz)?;
    }
    let cycles = drv.cycles();
    let read_sha256 = client.as_ref().map(|c| sha256_hex(&c.back));
    let read_verified = read_sha256.as_ref().is_none_or(|h| *h == source_sha256);
    let (read_bytes, read_dram_crossings_per_byte) = match &answers {
        Some((st, Some(base))) if st.read_bytes > 0 => (
            st.read_bytes,
            Some((mem_end.total() - base.total()) as f64 / st.read_bytes as f64),
        ),
        Some((st, _)) => (st.read_bytes, None),
        None => (0, None),
    };
    let mem = drv.env.mem.stats();
    // The write direction: up to the first READ served (or the end of the run).
    let write_end = match &answers {
        Some((_, Some(base))) => base.total(),
        _ => mem_end.total(),
    };
    let dram_crossings_per_byte =
        (opts.bytes > 0).then(|| (write_end - mem_start.total()) as f64 / opts.bytes as f64);
    Ok(PeerReport {
        dram_crossings_per_byte,
        read_back: opts.read_back,
        mode: opts.mode.name().to_string(),
        write_mode: scfg.mode.name().to_string(),
        read_mode: opts.read_back.then(|| opts.mode.name().to_string()),
        cow: opts.cow,
        read_bytes,
        read_sha256,
        read_dram_crossings_per_byte,
        write_acks: client.as_ref().map_or(0, |c| c.acks as u64),
        answers: answers.as_ref().map(|a| a.0),
        tx_segs: u64::from(drv.counter(reg::CNT_TX_SEGS)),
        tx_retransmits: u64::from(drv.counter(reg::CNT_TX_RETRANS)),
        tx_timeouts: u64::from(drv.counter(reg::CNT_TX_RTO)),
        tx_fast_retransmits: u64::from(drv.counter(reg::CNT_TX_FAST_RETRANS)),
        cow_faults: mem.cow_faults,
        cow_table_peak: drv.cow_table_len().1 as u64,
        cpu_copied_bytes: mem.cpu_copied,
        blk_dev_wr_bytes: u64::from(drv.counter(reg::CNT_BLK_DEV_WR_BYTES)),
        backend: drv.backend().to_string(),
        data_width: drv.info.data_width,
        bytes: opts.bytes,
        verified: disk_sha256 == source_sha256
            && !source.is_empty()
            && read_verified
            && failure.is_none(),
        source_sha256,
        disk_sha256,
        link: LinkStats {
            to_nic: to_nic.stats,
            to_peer: to_peer.stats,
            bad_nic_frames,
        },
        nic_acks: acks.stats,
        nic_tx_frames: counters.tx_frames as u64,
        ooo_held: counters.ooo_held as u64,
        drops: counters
            .drops
            .iter()
            .map(|&(name, n)| (name.to_string(), n as u64))
            .collect(),
        cycles,
        sim_time_ms: clock.micros(cycles) as f64 / 1000.0,
        peer_retransmissions: Some(retx.count),
        peer_timeouts: retx.timeouts,
        peer_fast_retransmits: retx.fast,
        time_skips: skips,
        buflets_free_end: free,
        num_buflets,
        acked: peer_acked,
        aborted,
        failure,
        not_on_disk,
        acked_lost,
        nb_timeouts: u64::from(counters.timeouts),
        blk_timeouts: u64::from(counters.blk_timeouts),
        completions_missing: srv.stream.writes_in_flight() as u64,
        min_free_buflets: min_free.min(free),
    })
}
