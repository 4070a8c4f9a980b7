//! How a run is configured and what it reports (JSON fields documented in the README).

use super::*;

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
    /// Write a waveform of the RTL to this path (FST; none from a `BUFLET_TRACE=0` build).
    pub trace: Option<PathBuf>,
    /// The waveform's first cycle and how many cycles it holds (None: to the end).
    pub trace_from: u64,
    pub trace_cycles: Option<u64>,
    /// Where to put the disk image; a temporary file when None. An existing file there is
    /// overwritten only when it is a previous Buflet image, it is empty, or `force` is set.
    pub image: Option<PathBuf>,
    /// Overwrite whatever file is at `image` (`--force`).
    pub force: bool,
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
            trace_from: 0,
            trace_cycles: None,
            image: None,
            force: false,
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
    /// BFW1: records whose data is durable on the block device by the end of the run, in
    /// order (what the server's WRITE_ACKs report; issue 12), and their data bytes.
    pub framed_durable: u64,
    /// Data bytes of those records.
    pub framed_durable_bytes: u64,
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
    /// Device cycles of the whole run: setup, handshake, transfer, then the harness's wait for
    /// a quiet wire and the socket's close.
    pub cycles: u64,
    /// Device cycles from the run's start to the last byte durable on disk (every block
    /// command complete, every byte acknowledged): the transfer, without the wait and the close.
    pub transfer_cycles: u64,
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
    /// The one TCP connection, as a multi-connection run lists its connections (client
    /// "ip:port", file bytes, sha256 of what landed, verified).
    pub connections: Vec<ConnReport>,
    /// Socket slots of the build (`NUM_SOCKETS`).
    pub sockets: u32,
    /// Connections accepted from a listen slot (`CNT_ACCEPTS`: 0, the socket is prepared), SYNs
    /// dropped `LISTEN_FULL`, and the lookup cost (`CNT_LOOKUP_CYCLES / CNT_LOOKUPS`).
    pub accepts: u64,
    pub listen_full_drops: u64,
    pub lookup_cycles_per_frame: f64,
    /// What went wrong besides the data (a buflet leak, a counter that disagrees with the
    /// wire, a named buffer returned with an error, a reset). Empty on a good run.
    pub failures: Vec<String>,
    /// `verified` and no `failures`.
    pub passed: bool,
    pub wall_seconds: f64,
    pub sim_cycles_per_second: f64,
    pub image: String,
}

pub(super) fn mode_name<S: Serializer>(m: &WriteMode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name())
}
