//! The NAS application's receive side and its file writer (seed 000).
//!
//! A [`NasStream`] owns one socket's named buffers. Received data stays where the NIC's DMA put
//! it; [`NasStream::write`] maps a file range to disk blocks through a [`FileMap`] and hands it to
//! the block-controller DMA engine:
//!
//! - whole, aligned blocks go zero-copy: a linked scatter-gather list straight over the named
//!   buffers' host pages, each file-system block in one block-device write;
//! - a block the write covers only partly (less than one block, a non-integer number of blocks,
//!   an offset not aligned to a block) takes the seed's read-modify-write path: `OP_BLK_READ`
//!   brings the block's *kept* old bytes into a host bounce block (the bytes the write replaces
//!   are discarded by ZERO elements and never reach host memory), then the block is written from
//!   a list that points at the bounce block for the old bytes and at the named buffer for the new
//!   ones. The CPU copies no payload byte in [`WriteMode::ZeroCopy`].
//!
//! Writes that share a disk block are serialized in submission order (a later write's block read
//! sees the earlier write's data); writes on disjoint blocks run concurrently, at most
//! [`DEFAULT_MAX_COMMANDS`] block commands at a time. A block command that fails with
//! `DISK_ERROR` is retried from the block that failed, up to [`NasStream::set_max_retries`]
//! times in a row for that block; a final failure reaches the write's callback with the file
//! range that is not known to be written, and the stream keeps the bytes so the write can be
//! issued again. [`WriteMode::Splice`] and [`WriteMode::Copy`] are the seed's prior-art paths
//! (4 and 6 host-DRAM crossings per byte), with real CPU copies through host memory.
//! [`WriteMode::P2p`] (docs/p2p.md) keeps the payload in the NIC: the stream's socket is a hold
//! socket, its named buffers receive hold records, and block writes read the payload from
//! buflet memory (`DEVMEM` elements); held chains go back with `BUF_RELEASE` once written.
//! `docs/storage.md` says which bytes cross host DRAM in each case.

mod plan;

use crate::regcache::Perms;
use crate::{Completion, CplKind, Driver, DriverError, HoldRec, NamedBuffer};
use buflet_platform::Agent;
use buflet_spec::{param, sg_elem, CplFlags, SgElem, SgFlags, SockFlags, Status};
use plan::{BlockPlan, Extent, RangeSet, SgPlan};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Where a file's bytes live on the block device.
pub trait FileMap {
    /// Disk byte address of file offset `off` (a multiple of the block size), if mapped.
    fn disk_addr(&self, off: u64) -> Option<u64>;
}

/// A file stored as one contiguous extent of the disk.
#[derive(Debug, Clone, Copy)]
pub struct ExtentFile {
    /// Disk byte address of file offset 0 (block aligned).
    pub disk_start: u64,
    /// Largest file size the extent holds.
    pub capacity: u64,
}

impl FileMap for ExtentFile {
    fn disk_addr(&self, off: u64) -> Option<u64> {
        (off < self.capacity).then_some(self.disk_start + off)
    }
}

/// How the NAS writer moves a write's bytes from the named buffers to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WriteMode {
    /// Seed 000: the block DMA reads the bytes where the NIC put them (2 host-DRAM crossings
    /// per byte: the NIC's DMA write, the block DMA's read).
    #[default]
    ZeroCopy,
    /// The seed's prior art (splice): the CPU copies the named buffer (kernel buffer) into a
    /// page-cache buffer, which the block DMA reads (4 crossings per byte).
    Splice,
    /// The conventional path: the CPU copies the named buffer (kernel buffer) into an
    /// application buffer, then into a page-cache buffer, which the block DMA reads (6 crossings
    /// per byte).
    Copy,
    /// p2p (docs/p2p.md): the payload never enters host DRAM. The stream's socket is a hold
    /// socket (`sock_flag::HOLD`): its named buffers receive hold records, and block writes read
    /// the payload straight from the NIC's buflet memory (`DEVMEM` elements). 0 payload
    /// crossings; only metadata (records, elements, requests) crosses host DRAM.
    P2p,
}

impl WriteMode {
    /// Every mode, cheapest first.
    pub const ALL: [WriteMode; 4] = [
        WriteMode::P2p,
        WriteMode::ZeroCopy,
        WriteMode::Splice,
        WriteMode::Copy,
    ];

    /// Name on the command line: "p2p", "zerocopy", "splice" or "copy".
    pub fn name(self) -> &'static str {
        match self {
            WriteMode::ZeroCopy => "zerocopy",
            WriteMode::Splice => "splice",
            WriteMode::Copy => "copy",
            WriteMode::P2p => "p2p",
        }
    }

    /// Whether the mode needs a hold socket (only [`WriteMode::P2p`]); every other mode needs
    /// the payload in host memory, so a socket without `HOLD`.
    pub fn needs_hold(self) -> bool {
        self == WriteMode::P2p
    }

    /// Host-DRAM crossings per payload byte of an aligned whole-block write, by construction of
    /// the path (the tests measure them from the host memory counters; p2p adds about 0.08 of
    /// metadata per byte on top of its 0).
    pub fn crossings_per_byte(self) -> u32 {
        match self {
            WriteMode::P2p => 0,
            WriteMode::ZeroCopy => 2,
            WriteMode::Splice => 4,
            WriteMode::Copy => 6,
        }
    }
}

impl std::fmt::Display for WriteMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A write mode name that is not one of "p2p", "zerocopy", "splice", "copy".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown write mode '{0}' (expected p2p, zerocopy, splice or copy)")]
pub struct ParseModeError(pub String);

impl std::str::FromStr for WriteMode {
    type Err = ParseModeError;
    fn from_str(s: &str) -> Result<Self, ParseModeError> {
        match s {
            "zerocopy" | "zero-copy" => Ok(WriteMode::ZeroCopy),
            "splice" => Ok(WriteMode::Splice),
            "copy" => Ok(WriteMode::Copy),
            "p2p" => Ok(WriteMode::P2p),
            _ => Err(ParseModeError(s.to_string())),
        }
    }
}

/// Retries of a failed block operation, by default.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// Block commands a stream keeps outstanding at most, by default: below the block engine's
/// 4-deep command FIFO, so a block command never holds up a named-buffer post behind it.
pub const DEFAULT_MAX_COMMANDS: usize = 3;

/// Most pages of a hold socket's named buffer: its record room (`pages * 512` records) must fit
/// the 16-bit `nb_desc.RECS`, or the device never returns it for want of room.
pub const MAX_HOLD_NB_PAGES: usize = 127;

/// Largest write accepted in one call.
pub const MAX_WRITE_BYTES: u64 = 1 << 30;

/// Which block operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockOp {
    /// `OP_BLK_READ` (the read of read-modify-write).
    Read,
    /// `OP_BLK_WRITE`.
    Write,
}

impl std::fmt::Display for BlockOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BlockOp::Read => "read",
            BlockOp::Write => "write",
        })
    }
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The request cannot be served (zero length, too large, offsets overflow).
    #[error("unsupported write: {0}")]
    Unsupported(&'static str),
    /// Part of the requested stream range is not held by the stream (not received yet, or
    /// already written or discarded and its named buffer re-posted).
    #[error("stream bytes {0}..{1} have not been received")]
    NotReceived(u64, u64),
    /// The file map has no disk address for an offset.
    #[error("file offset {0} is not mapped to the disk")]
    Unmapped(u64),
    /// A block operation failed for good: after `attempts` tries at the same block (retries
    /// only for `DISK_ERROR`), or at once for any other status. File bytes
    /// `file_start..file_end` of the write are not known to be on disk (those before
    /// `file_start` are); the stream still holds the write's bytes, so it can be issued again.
    #[error(
        "block {op} failed with status {code} ({status}) after {attempts} attempt(s): file bytes {file_start}..{file_end} not written",
        code = .status.code()
    )]
    Block {
        /// The operation that failed.
        op: BlockOp,
        /// Its completion status.
        status: Status,
        /// Attempts at the failing block.
        attempts: u32,
        /// First file byte not known to be written.
        file_start: u64,
        /// End of the write's file range.
        file_end: u64,
    },
    /// The stream was dropped with the write unfinished.
    #[error("the stream was dropped before the write finished")]
    Aborted,
    /// The write mode does not fit the stream's socket: p2p needs a hold socket
    /// (`sock_flag::HOLD`), and a hold socket's payload is only reachable in p2p mode.
    #[error("write mode {mode} on a {kind} socket: {why}", kind = if *.hold { "hold" } else { "non-hold" })]
    ModeMismatch {
        /// The mode asked for.
        mode: WriteMode,
        /// Whether the stream's socket is a hold socket.
        hold: bool,
        /// What to do instead.
        why: &'static str,
    },
    /// The CPU was asked to read payload of a p2p stream ([`NasStream::peek`]): it stays in
    /// the NIC's buflet memory, so protocols that parse headers (SMB2, BFW1) cannot run on p2p.
    #[error("stream bytes {0}..{1} stay in the NIC's buflet memory (p2p): the CPU cannot read them; protocols that parse headers (SMB2, framed) need zerocopy, splice or copy")]
    PayloadInNic(u64, u64),
    /// The driver failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
}

/// Called once when a write finishes: its file bytes written (the write's length), or the error.
pub type WriteCallback = Box<dyn FnOnce(Result<u64, WriteError>)>;

/// Counters of a stream's writer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteStats {
    /// Writes that completed successfully.
    pub writes_ok: u64,
    /// Writes that failed (their callback got an error).
    pub writes_failed: u64,
    /// File bytes of successful writes.
    pub bytes_written: u64,
    /// Block commands submitted (reads, writes and retries).
    pub commands: u64,
    /// Block commands re-submitted after a `DISK_ERROR` (from the block that failed).
    pub retries: u64,
    /// Blocks read back for read-modify-write.
    pub rmw_blocks: u64,
    /// Old bytes kept by read-modify-write (read into host memory and written back).
    pub rmw_kept_bytes: u64,
    /// Payload bytes the CPU copied (only in [`WriteMode::Splice`] and [`WriteMode::Copy`]).
    pub cpu_copied: u64,
    /// p2p: hold records read from returned named buffers.
    pub hold_records: u64,
    /// p2p: payload bytes block writes took from buflet memory (`DEVMEM` elements submitted;
    /// a retry counts its elements again).
    pub dev_bytes: u64,
    /// p2p: held chains given back with `BUF_RELEASE`, and the requests that carried them.
    pub chains_released: u64,
    pub release_requests: u64,
    /// Writes that waited for an earlier write on a shared block.
    pub serialized: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpState {
    Queued,
    Reading,
    Writing,
}

/// A block command in flight and its scatter-gather list in host memory.
struct Cmd {
    op: BlockOp,
    tag: u32,
    sg: SgPlan,
    sg_addr: u64,
    /// Size of the list's buffer (the list rounded up to a size class, so buffers are reused).
    sg_bytes: u64,
    /// Buffers acquired in the registration cache for the command: the list, and the named
    /// buffer pages it reads (zero-copy). Released when the command is over.
    held: Vec<(u64, u64)>,
    /// Block (index into `sg.blocks`) the current submission started at.
    start: usize,
    /// Block that failed last, and how many times in a row.
    fail_block: Option<usize>,
    tries: u32,
}

/// One write, from submission to its callback.
struct Op {
    file_off: u64,
    len: u64,
    stream_off: u64,
    mode: WriteMode,
    plans: Vec<BlockPlan>,
    /// Disk addresses of the blocks, sorted (for the per-block ordering).
    keys: Vec<u64>,
    extents: Vec<Extent>,
    cb: Option<WriteCallback>,
    state: OpState,
    /// Bounce blocks (zero-copy) or page-cache blocks (copy, splice): address and length,
    /// an I/O buffer of the driver acquired in the registration cache for the block DMA.
    host: Option<(u64, u64)>,
    cmd: Option<Cmd>,
    waited: bool,
}

impl Op {
    fn shares_block(&self, other: &Op) -> bool {
        let (mut i, mut j) = (0, 0);
        while i < self.keys.len() && j < other.keys.len() {
            match self.keys[i].cmp(&other.keys[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}

struct Returned {
    nb: NamedBuffer,
    bytes: u64,
    /// p2p: the buffer's hold records with the stream offset of each one's first byte.
    recs: Vec<(u64, HoldRec)>,
}

/// p2p: a held buflet chain (one segment) and the stream bytes it holds.
#[derive(Debug, Clone, Copy)]
struct Chain {
    start: u64,
    end: u64,
    head: u16,
}

/// One socket's receive stream held in named buffers, and its file writer.
pub struct NasStream {
    sock: u16,
    posted: HashMap<u32, NamedBuffer>,
    returned: BTreeMap<u64, Returned>,
    /// Stream offset of the end of data, once FIN was seen.
    pub eof: Option<u64>,
    /// Stream bytes written to disk or discarded: their named buffers can be re-posted.
    done: RangeSet,
    ops: Vec<Op>,
    next_id: u32,
    mode: WriteMode,
    max_retries: u32,
    max_commands: usize,
    zero_tail_at_eof: bool,
    stats: WriteStats,
    /// Errors reported by the device for this stream (NB returns with a bad status).
    pub errors: Vec<Completion>,
    /// The peer reset the connection (a buffer came back with flag RST): the stream ends at
    /// [`NasStream::eof`], abnormally.
    pub reset: bool,
    /// The socket was deleted (a buffer came back with flag DELETE): buffers are no longer
    /// re-posted, and those returned empty are freed.
    pub deleted: bool,
    /// The socket is a hold socket (p2p): buffers carry hold records.
    hold: bool,
    /// Buflet size of the device (p2p addresses).
    buflet_bytes: u32,
    /// p2p: held chains not yet released, in stream order.
    chains: VecDeque<Chain>,
    /// p2p: stream offset where the segment whose closing record has not come yet begins.
    chain_start: u64,
    /// p2p: after a `SOCK_DEL`, bytes from here on belonged to a segment the device freed;
    /// they are not used.
    hold_end: Option<u64>,
    /// p2p: `BUF_RELEASE` requests in flight, by tag: their heads.
    releasing: HashMap<u32, Vec<u16>>,
    /// The driver knew the socket at [`NasStream::start`], so its deletion can be noticed.
    known: bool,
}

impl NasStream {
    /// Allocate `count` named buffers of `pages` host pages each and designate them to `sock`.
    /// The writer starts in [`WriteMode::P2p`] when `sock` is a hold socket (added with
    /// `sock_flag::HOLD`: its buffers receive hold records, `pages` bounds the payload per
    /// buffer and the records), else in [`WriteMode::ZeroCopy`]; with [`DEFAULT_MAX_RETRIES`].
    pub fn start(
        drv: &mut Driver,
        sock: u16,
        count: usize,
        pages: usize,
    ) -> Result<Self, DriverError> {
        let flags = drv.socket_flags(sock);
        let hold = flags.is_some_and(|f| f.contains(SockFlags::HOLD));
        if hold && pages > MAX_HOLD_NB_PAGES {
            return Err(DriverError::Invalid(
                "a hold socket's named buffer has at most 127 pages (nb_desc.RECS is 16 bits)",
            ));
        }
        let mut s = NasStream {
            sock,
            posted: HashMap::new(),
            returned: BTreeMap::new(),
            eof: None,
            done: RangeSet::default(),
            ops: Vec::new(),
            next_id: 1,
            mode: if hold {
                WriteMode::P2p
            } else {
                WriteMode::ZeroCopy
            },
            max_retries: DEFAULT_MAX_RETRIES,
            max_commands: DEFAULT_MAX_COMMANDS,
            zero_tail_at_eof: true,
            stats: WriteStats::default(),
            errors: Vec::new(),
            reset: false,
            deleted: false,
            hold,
            buflet_bytes: drv.info.buflet_bytes,
            chains: VecDeque::new(),
            chain_start: 0,
            hold_end: None,
            releasing: HashMap::new(),
            known: flags.is_some(),
        };
        for _ in 0..count {
            let nb = drv.alloc_nb(pages)?;
            drv.post_nb(sock, &nb, 0)?;
            s.posted.insert(nb.ref_num, nb);
        }
        Ok(s)
    }

    /// Socket this stream belongs to.
    pub fn sock(&self) -> u16 {
        self.sock
    }

    /// How writes submitted from now on move their bytes (writes already submitted keep theirs).
    /// The mode must fit the socket, which [`NasStream::start`] saw: [`WriteMode::P2p`] only on
    /// a hold socket, every other mode only on a socket without `HOLD`
    /// ([`WriteError::ModeMismatch`] otherwise, and the mode is unchanged).
    pub fn set_mode(&mut self, mode: WriteMode) -> Result<(), WriteError> {
        if mode.needs_hold() != self.hold {
            return Err(WriteError::ModeMismatch {
                mode,
                hold: self.hold,
                why: if self.hold {
                    "the payload stays in the NIC's buflets, only p2p writes it"
                } else {
                    "p2p needs a socket added with sock_flag::HOLD (SocketSpec::with_hold)"
                },
            });
        }
        self.mode = mode;
        Ok(())
    }

    /// Whether the stream's socket is a hold socket (p2p).
    pub fn is_hold(&self) -> bool {
        self.hold
    }

    /// p2p: held chains not yet released (their buflets are not free on the NIC), and
    /// `BUF_RELEASE` requests not yet completed.
    pub fn held_chains(&self) -> (usize, usize) {
        (self.chains.len(), self.releasing.len())
    }

    /// The current write mode.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    /// Retries of a block command that failed with `DISK_ERROR` at the same block, before the
    /// write fails (default [`DEFAULT_MAX_RETRIES`]; 0 = no retry).
    pub fn set_max_retries(&mut self, n: u32) {
        self.max_retries = n;
    }

    /// The retry limit.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// Block commands kept outstanding at most (default [`DEFAULT_MAX_COMMANDS`], at least 1).
    pub fn set_max_commands(&mut self, n: usize) {
        self.max_commands = n.max(1);
    }

    /// Whether a write that ends exactly at the end of the stream (FIN seen) writes the rest of
    /// its last block as zeros instead of reading the old bytes: the stream is the file, and
    /// bytes past a file's end are zeros on a file system. On by default; off, every partial
    /// block is read-modify-write.
    pub fn set_zero_tail_at_eof(&mut self, on: bool) {
        self.zero_tail_at_eof = on;
    }

    /// The writer's counters.
    pub fn stats(&self) -> WriteStats {
        self.stats.clone()
    }

    /// Bytes of the stream received contiguously from offset 0 (held in named buffers, or
    /// already written or discarded).
    pub fn received(&self) -> u64 {
        let mut pos = 0;
        let lim = self.hold_end.unwrap_or(u64::MAX);
        loop {
            if let Some(e) = self.done.run_end(pos) {
                pos = e;
                continue;
            }
            match self.returned.range(..=pos).next_back() {
                Some((&o, r)) if pos < o + r.bytes && pos < lim => pos = (o + r.bytes).min(lim),
                _ => return pos,
            }
        }
    }

    /// Bytes of the stream from offset 0 that are on disk or were discarded
    /// ([`NasStream::discard`]).
    pub fn written(&self) -> u64 {
        self.done.prefix()
    }

    /// Writes submitted and not yet completed (queued or running).
    pub fn writes_in_flight(&self) -> usize {
        self.ops.len()
    }

    /// Block commands outstanding at the device.
    pub fn commands_in_flight(&self) -> usize {
        self.ops.iter().filter(|o| o.cmd.is_some()).count()
    }

    /// Capacity of the named buffers posted and not yet returned.
    pub fn posted_bytes(&self) -> u64 {
        self.posted.values().map(|n| n.bytes as u64).sum()
    }

    /// Named buffers posted and not yet returned.
    pub fn posted_count(&self) -> usize {
        self.posted.len()
    }

    /// Named buffers returned and still held (their bytes are not all written or discarded, or
    /// a write in flight uses them).
    pub fn held_count(&self) -> usize {
        self.returned.len()
    }

    /// Read received stream bytes with the CPU (for example a NAS protocol header), without
    /// consuming them. Counted as CPU reads of host memory. Not on a p2p stream
    /// ([`WriteError::PayloadInNic`]): its payload never enters host memory.
    pub fn peek(
        &self,
        drv: &mut Driver,
        stream_off: u64,
        out: &mut [u8],
    ) -> Result<(), WriteError> {
        let end = stream_off
            .checked_add(out.len() as u64)
            .ok_or(WriteError::Unsupported("stream offset overflows"))?;
        if self.hold {
            return Err(WriteError::PayloadInNic(stream_off, end));
        }
        let page = drv.info.page_bytes as u64;
        let mut pos = stream_off;
        while pos < end {
            let (src, n) = self.locate(pos, end, page)?;
            let at = (pos - stream_off) as usize;
            drv.env
                .mem
                .read(Agent::Cpu, src, &mut out[at..at + n as usize])
                .map_err(|e| WriteError::Driver(DriverError::Mem(e)))?;
            pos += n;
        }
        Ok(())
    }

    /// Host address of stream byte `pos` and how many bytes from there lie in the same page
    /// of the same named buffer (at most up to `end`). p2p: the device (buflet memory) address
    /// and the bytes from there in the same hold record.
    fn locate(&self, pos: u64, end: u64, page: u64) -> Result<(u64, u64), WriteError> {
        if self.hold_end.is_some_and(|l| pos >= l) {
            return Err(WriteError::NotReceived(pos, end));
        }
        let (&nb_off, r) = self
            .returned
            .range(..=pos)
            .next_back()
            .filter(|(&o, r)| pos < o + r.bytes)
            .ok_or(WriteError::NotReceived(pos, end))?;
        if self.hold {
            let k = r.recs.partition_point(|(o, _)| *o <= pos);
            let (o, rec) = r
                .recs
                .get(k.wrapping_sub(1))
                .ok_or(WriteError::NotReceived(pos, end))?;
            let rec_end = o + rec.len as u64;
            if pos >= rec_end {
                return Err(WriteError::NotReceived(pos, end));
            }
            let n = (rec_end - pos).min(end - pos);
            return Ok((rec.dev_addr(self.buflet_bytes) + (pos - o), n));
        }
        let in_nb = pos - nb_off;
        let pg = (in_nb / page) as usize;
        let in_pg = in_nb % page;
        let n = (page - in_pg).min(nb_off + r.bytes - pos).min(end - pos);
        let addr =
            r.nb.pages
                .get(pg)
                .ok_or(WriteError::NotReceived(pos, end))?;
        Ok((addr + in_pg, n))
    }

    /// The application is done with stream bytes `[stream_off, stream_off+len)` without writing
    /// them (for example NAS protocol headers): once every byte of a named buffer is written or
    /// discarded, and no write in flight uses it, the buffer is posted again. Discarded bytes
    /// count in [`NasStream::received`] and [`NasStream::written`] (bytes discarded before they
    /// arrive release their buffer as soon as it comes back). Discarding the range of a write
    /// in flight lets its buffers go once it finishes, even if it fails.
    pub fn discard(
        &mut self,
        drv: &mut Driver,
        stream_off: u64,
        len: u64,
    ) -> Result<(), DriverError> {
        self.note_deleted(drv);
        self.done.insert(stream_off, stream_off.saturating_add(len));
        self.recycle(drv)
    }

    /// The application needs no stream byte below `upto` any more (headers parsed, data handed
    /// to writes): [`NasStream::discard`] of `[0, upto)`. Writes already submitted keep their
    /// bytes until they finish.
    pub fn consume(&mut self, drv: &mut Driver, upto: u64) -> Result<(), DriverError> {
        self.discard(drv, 0, upto)
    }

    /// The socket was deleted ([`Driver::del_socket`]; noticed by itself at the next
    /// [`NasStream::handle`], [`NasStream::write`] or [`NasStream::discard`] once the driver no
    /// longer knows the socket): buffers are no longer re-posted, and on a p2p stream the bytes
    /// of a segment the device had only partly delivered (its records carry no `HEAD`; the
    /// device freed its chain) are no longer used: the stream ends before them.
    pub fn socket_deleted(&mut self) {
        self.deleted = true;
        if self.hold {
            let lim = self.hold_end.unwrap_or(u64::MAX).min(self.chain_start);
            self.hold_end = Some(lim);
        }
    }

    fn note_deleted(&mut self, drv: &Driver) {
        if self.known && !self.deleted && drv.socket_flags(self.sock).is_none() {
            self.socket_deleted();
        }
    }

    /// Feed a completion. Returns true if it belonged to this stream.
    ///
    /// A named buffer comes back with its bytes at its stream offset; with flag FIN or RST the
    /// stream ends after them (RST also sets [`NasStream::reset`]); with flag DELETE (the socket
    /// was deleted) it is kept only if it holds bytes, and nothing is re-posted from then on.
    /// A `BLK_DONE` of one of this stream's block commands advances its write: the next
    /// command, a retry, or the write's callback.
    pub fn handle(&mut self, drv: &mut Driver, c: &Completion) -> Result<bool, DriverError> {
        self.note_deleted(drv);
        if c.kind == CplKind::NbReturn && c.sock_ref == self.sock {
            let Some(nb) = self.posted.remove(&c.ref_num) else {
                return Ok(false);
            };
            if c.status != Status::Ok {
                self.errors.push(*c);
            }
            if c.has(CplFlags::RST) {
                self.reset = true;
            }
            if c.has(CplFlags::DELETE) {
                self.deleted = true;
            }
            if c.has(CplFlags::FIN | CplFlags::RST) {
                self.eof = Some(c.stream_off + c.bytes as u64);
            }
            let recs = if self.hold && c.bytes > 0 {
                match drv.read_hold_records(&nb, c.bytes) {
                    Ok(r) => r,
                    Err(e) => {
                        self.errors.push(*c);
                        drv.free_nb(nb);
                        return Err(e);
                    }
                }
            } else {
                Vec::new()
            };
            self.stats.hold_records += recs.len() as u64;
            let mut at = c.stream_off;
            let recs: Vec<(u64, HoldRec)> = recs
                .into_iter()
                .map(|r| {
                    let o = at;
                    at += r.len as u64;
                    if let Some(head) = r.held_head() {
                        self.chains.push_back(Chain {
                            start: self.chain_start,
                            end: at,
                            head,
                        });
                        self.chain_start = at;
                    }
                    (o, r)
                })
                .collect();
            if c.has(CplFlags::DELETE) {
                // The device freed the segment still on the socket: its records (HEAD 0xFFFF)
                // must not be used.
                self.socket_deleted();
            }
            if c.bytes > 0 {
                self.returned.insert(
                    c.stream_off,
                    Returned {
                        nb,
                        bytes: c.bytes as u64,
                        recs,
                    },
                );
                // Bytes discarded before they arrived.
                self.recycle(drv)?;
            } else {
                let repost = self.eof.is_none() && !self.deleted;
                self.release(drv, nb, repost)?;
            }
            return Ok(true);
        }
        if c.kind == CplKind::CmdDone {
            if self.releasing.remove(&c.tag).is_none() {
                return Ok(false);
            }
            if !c.is_ok() {
                // BAD_BUF: a head the device does not hold (a driver error); BYTES heads were
                // released before it, the rest stay held on the device.
                self.errors.push(*c);
            }
            return Ok(true);
        }
        if c.kind == CplKind::BlkDone {
            let Some(i) = self
                .ops
                .iter()
                .position(|o| o.cmd.as_ref().is_some_and(|k| k.tag == c.tag))
            else {
                return Ok(false);
            };
            self.advance(drv, i, c);
            self.schedule(drv);
            self.recycle(drv)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Re-post (or free, once the stream ended) every returned buffer whose bytes are all
    /// written or discarded and that no unfinished write uses.
    fn recycle(&mut self, drv: &mut Driver) -> Result<(), DriverError> {
        let free: Vec<u64> = self
            .returned
            .iter()
            .filter(|(&off, r)| {
                let end = off + r.bytes;
                self.done.covers(off, end)
                    && !self
                        .ops
                        .iter()
                        .any(|o| o.stream_off < end && off < o.stream_off + o.len)
            })
            .map(|(&off, _)| off)
            .collect();
        for off in free {
            if let Some(r) = self.returned.remove(&off) {
                let repost = self.eof.is_none() && !self.deleted;
                self.release(drv, r.nb, repost)?;
            }
        }
        self.release_chains(drv)
    }

    /// p2p: give back, in stream order, the held chains whose bytes are all written or given
    /// up and that no unfinished write reads, up to `RELEASE_MAX` heads per `BUF_RELEASE`.
    fn release_chains(&mut self, drv: &mut Driver) -> Result<(), DriverError> {
        let max = param::RELEASE_MAX as usize;
        let mut heads = Vec::new();
        while let Some(ch) = self.chains.front() {
            let free = self.done.covers(ch.start, ch.end)
                && !self
                    .ops
                    .iter()
                    .any(|o| o.stream_off < ch.end && ch.start < o.stream_off + o.len);
            if !free {
                break;
            }
            heads.push(ch.head);
            self.chains.pop_front();
            if heads.len() == max {
                self.send_release(drv, std::mem::take(&mut heads))?;
            }
        }
        if !heads.is_empty() {
            self.send_release(drv, heads)?;
        }
        Ok(())
    }

    fn send_release(&mut self, drv: &mut Driver, heads: Vec<u16>) -> Result<(), DriverError> {
        let tag = drv.buf_release(&heads)?;
        self.stats.chains_released += heads.len() as u64;
        self.stats.release_requests += 1;
        self.releasing.insert(tag, heads);
        Ok(())
    }

    fn release(
        &mut self,
        drv: &mut Driver,
        nb: NamedBuffer,
        repost: bool,
    ) -> Result<(), DriverError> {
        if repost {
            drv.post_nb(self.sock, &nb, 0)?;
            self.posted.insert(nb.ref_num, nb);
        } else {
            drv.free_nb(nb);
        }
        Ok(())
    }

    /// Write stream bytes `[stream_off, stream_off+len)` to `file` at `file_off`, in the
    /// stream's [`WriteMode`]. Returns the write's id; `cb` is called exactly once, from a later
    /// [`NasStream::handle`] (or from this call when the write fails to start), with the write's
    /// length or a [`WriteError`]. When this call returns an error the write was not accepted
    /// and `cb` is dropped uncalled.
    ///
    /// Any offset and length: whole aligned blocks go straight from the named buffers; partial
    /// blocks are read-modify-write (the old bytes they keep are read with `OP_BLK_READ`).
    /// A write that ends at the end of the stream writes zeros after its end in its last block
    /// instead ([`NasStream::set_zero_tail_at_eof`]). The stream range must have been received;
    /// the stream holds it until the write completes, and marks it written on success (its
    /// named buffers are then re-posted). A write sharing a disk block with an earlier
    /// unfinished write waits for it.
    pub fn write(
        &mut self,
        drv: &mut Driver,
        file: &dyn FileMap,
        file_off: u64,
        stream_off: u64,
        len: u64,
        cb: WriteCallback,
    ) -> Result<u32, WriteError> {
        let block = drv.info.block_bytes as u64;
        let page = drv.info.page_bytes as u64;
        self.note_deleted(drv);
        if len == 0 {
            return Err(WriteError::Unsupported("zero length"));
        }
        if len > MAX_WRITE_BYTES {
            return Err(WriteError::Unsupported("longer than MAX_WRITE_BYTES"));
        }
        let (Some(end), Some(file_end)) = (stream_off.checked_add(len), file_off.checked_add(len))
        else {
            return Err(WriteError::Unsupported("offset plus length overflows"));
        };
        if file_end.checked_add(block).is_none() {
            return Err(WriteError::Unsupported("file offset too large"));
        }
        let mode = self.mode;
        if mode.needs_hold() != self.hold {
            return Err(WriteError::ModeMismatch {
                mode,
                hold: self.hold,
                why: "the stream's mode and socket disagree",
            });
        }
        let zero_tail = self.zero_tail_at_eof && self.eof == Some(end);
        let paged = matches!(mode, WriteMode::Splice | WriteMode::Copy);
        let plans = plan::blocks(file_off, len, block, zero_tail, paged, |off| {
            file.disk_addr(off)
        })
        .map_err(WriteError::Unmapped)?;
        if plans.iter().any(|p| p.disk % 512 != 0) {
            return Err(WriteError::Unsupported(
                "file block not sector aligned on disk",
            ));
        }
        // Where the bytes lie: pieces inside one page of one named buffer and one block.
        let mut extents = Vec::new();
        let mut pos = stream_off;
        while pos < end {
            let (src, n) = self.locate(pos, end, page)?;
            let f = file_off + (pos - stream_off);
            let n = n.min(block - f % block);
            extents.push(Extent {
                src,
                len: n,
                file: f,
                dev: self.hold,
            });
            pos += n;
        }
        let mut keys: Vec<u64> = plans.iter().map(|p| p.disk).collect();
        keys.sort_unstable();
        keys.dedup();
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.ops.push(Op {
            file_off,
            len,
            stream_off,
            mode,
            plans,
            keys,
            extents,
            cb: Some(cb),
            state: OpState::Queued,
            host: None,
            cmd: None,
            waited: false,
        });
        self.schedule(drv);
        Ok(id)
    }

    /// Start every queued write that shares no block with an earlier unfinished write, within
    /// the command limit.
    fn schedule(&mut self, drv: &mut Driver) {
        let mut i = 0;
        while i < self.ops.len() {
            if self.ops[i].state != OpState::Queued {
                i += 1;
                continue;
            }
            if self.commands_in_flight() >= self.max_commands {
                return;
            }
            if self.ops[..i].iter().any(|o| o.shares_block(&self.ops[i])) {
                if !self.ops[i].waited {
                    self.ops[i].waited = true;
                    self.stats.serialized += 1;
                }
                i += 1;
                continue;
            }
            match self.begin(drv, i) {
                Ok(()) => i += 1,
                Err(e) => self.finish(drv, i, Err(e)), // removes op i
            }
        }
    }

    /// Start write `i`: its host blocks, the CPU copies of the copy modes, then its block read
    /// (read-modify-write) or straight its block write.
    fn begin(&mut self, drv: &mut Driver, i: usize) -> Result<(), WriteError> {
        let block = drv.info.block_bytes as u64;
        let mem = |e| WriteError::Driver(DriverError::Mem(e));
        let nslots = plan::slots(&self.ops[i].plans) as u64;
        if nslots > 0 {
            let bytes = nslots * block;
            let a = drv.io_buf_alloc(bytes, block)?;
            if let Err(e) = drv.reg_acquire(a, bytes, Perms::RW) {
                drv.io_buf_free(a, bytes, block);
                return Err(e.into());
            }
            self.ops[i].host = Some((a, bytes));
        }
        let op = &self.ops[i];
        let host = op.host.map_or(0, |h| h.0);
        let first = op.plans.first().map_or(0, |p| p.file);
        match op.mode {
            WriteMode::ZeroCopy | WriteMode::P2p => {}
            WriteMode::Splice => {
                // Kernel buffer (named buffer) -> page cache.
                for e in &op.extents {
                    drv.env
                        .mem
                        .cpu_copy(e.src, host + (e.file - first), e.len as usize)
                        .map_err(mem)?;
                }
                self.stats.cpu_copied += op.len;
            }
            WriteMode::Copy => {
                // Kernel buffer (named buffer) -> application buffer -> page cache.
                let app = drv.env.mem.alloc(op.len, 64).map_err(mem)?;
                let copied = op
                    .extents
                    .iter()
                    .try_for_each(|e| {
                        drv.env
                            .mem
                            .cpu_copy(e.src, app + (e.file - op.file_off), e.len as usize)
                    })
                    .and_then(|()| {
                        drv.env
                            .mem
                            .cpu_copy(app, host + (op.file_off - first), op.len as usize)
                    });
                drv.env.mem.free(app);
                copied.map_err(mem)?;
                self.stats.cpu_copied += 2 * op.len;
            }
        }
        let read = plan::read_list(&op.plans, block, host);
        if read.blocks.is_empty() {
            self.submit_write(drv, i)
        } else {
            for &(_, b) in &read.blocks {
                self.stats.rmw_blocks += 1;
                self.stats.rmw_kept_bytes += self.ops[i].plans[b].kept(block);
            }
            let host = self.ops[i].host;
            let cmd = self.submit(drv, BlockOp::Read, read, host)?;
            self.ops[i].cmd = Some(cmd);
            self.ops[i].state = OpState::Reading;
            Ok(())
        }
    }

    fn submit_write(&mut self, drv: &mut Driver, i: usize) -> Result<(), WriteError> {
        let block = drv.info.block_bytes as u64;
        let op = &self.ops[i];
        let host = op.host.map_or(0, |h| h.0);
        let sg = match op.mode {
            WriteMode::ZeroCopy | WriteMode::P2p => {
                plan::write_list_zero_copy(&op.plans, &op.extents, block, host)
            }
            WriteMode::Splice | WriteMode::Copy => {
                plan::write_list_page_cache(&op.plans, block, host)
            }
        };
        let host = self.ops[i].host;
        let cmd = self.submit(drv, BlockOp::Write, sg, host)?;
        self.ops[i].cmd = Some(cmd);
        self.ops[i].state = OpState::Writing;
        Ok(())
    }

    /// Lay a list out in host memory (descriptor bytes only), acquire it and the named buffer
    /// pages it reads in the registration cache, and submit it whole. `host` is the write's
    /// own bounce or page-cache blocks (acquired by the write itself).
    fn submit(
        &mut self,
        drv: &mut Driver,
        op: BlockOp,
        sg: SgPlan,
        host: Option<(u64, u64)>,
    ) -> Result<Cmd, WriteError> {
        let mem = |e| WriteError::Driver(DriverError::Mem(e));
        let used = (sg.elems.len() * sg_elem::SIZE) as u64;
        let sg_bytes = used.max(SG_BUF_MIN).next_power_of_two();
        let sg_addr = drv.io_buf_alloc(sg_bytes, 64)?;
        let mut list = vec![0u8; used as usize];
        for (k, e) in sg.elems.iter().enumerate() {
            let d = &mut list[k * sg_elem::SIZE..(k + 1) * sg_elem::SIZE];
            let flags = if e.zero {
                SgFlags::ZERO
            } else if e.dev {
                SgFlags::DEVMEM
            } else {
                SgFlags::empty()
            };
            let next = if k + 1 < sg.elems.len() {
                sg_addr + ((k + 1) * sg_elem::SIZE) as u64
            } else {
                0
            };
            SgElem {
                src_addr: e.src,
                // the planner cuts elements at block boundaries: LEN <= BLOCK_BYTES
                len: e.len as u32,
                flags,
                disk_addr: e.disk,
                next,
            }
            .emit(d);
        }
        if let Err(e) = drv.env.mem.write(Agent::Cpu, sg_addr, &list) {
            drv.io_buf_free(sg_addr, sg_bytes, 64);
            return Err(mem(e));
        }
        let page = drv.info.page_bytes as u64;
        let mut want = vec![(sg_addr, sg_bytes, Perms::READ)];
        want.extend(
            plan::pages_outside(&sg.elems, page, host)
                .into_iter()
                .map(|p| (p, page, Perms::READ)),
        );
        let mut held = Vec::with_capacity(want.len());
        for (a, n, p) in want {
            match drv.reg_acquire(a, n, p) {
                Ok(_) => held.push((a, n)),
                Err(e) => {
                    for (a, n) in held {
                        let _ = drv.reg_release(a, n);
                    }
                    drv.io_buf_free(sg_addr, sg_bytes, 64);
                    return Err(e.into());
                }
            }
        }
        let mut cmd = Cmd {
            op,
            tag: 0,
            sg,
            sg_addr,
            sg_bytes,
            held,
            start: 0,
            fail_block: None,
            tries: 0,
        };
        match self.issue(drv, &mut cmd, 0) {
            Ok(()) => Ok(cmd),
            Err(e) => {
                free_list(drv, &cmd);
                Err(e)
            }
        }
    }

    /// Submit `cmd`'s list from its block `from` to the end.
    fn issue(&mut self, drv: &mut Driver, cmd: &mut Cmd, from: usize) -> Result<(), WriteError> {
        let block = drv.info.block_bytes as u64;
        let first = cmd.sg.blocks[from].0;
        let addr = cmd.sg_addr + (first * sg_elem::SIZE) as u64;
        let count = (cmd.sg.elems.len() - first) as u32;
        let bytes = ((cmd.sg.blocks.len() - from) as u64 * block) as u32;
        cmd.tag = match cmd.op {
            BlockOp::Read => drv.blk_read(addr, count, bytes)?,
            BlockOp::Write => drv.blk_write(addr, count, bytes)?,
        };
        self.stats.dev_bytes += cmd.sg.elems[first..]
            .iter()
            .filter(|e| e.dev)
            .map(|e| e.len)
            .sum::<u64>();
        cmd.start = from;
        self.stats.commands += 1;
        Ok(())
    }

    /// A block command of write `i` completed.
    fn advance(&mut self, drv: &mut Driver, i: usize, c: &Completion) {
        let block = drv.info.block_bytes as u64;
        let Some(mut cmd) = self.ops[i].cmd.take() else {
            return;
        };
        let at = cmd.start + (c.bytes as u64 / block) as usize;
        if c.status == Status::Ok {
            free_list(drv, &cmd);
            let next = match cmd.op {
                BlockOp::Read => self.submit_write(drv, i),
                BlockOp::Write => {
                    let len = self.ops[i].len;
                    self.finish(drv, i, Ok(len));
                    return;
                }
            };
            if let Err(e) = next {
                self.finish(drv, i, Err(e));
            }
            return;
        }
        let retry = c.status == Status::DiskError && at < cmd.sg.blocks.len();
        if retry {
            if cmd.fail_block == Some(at) {
                cmd.tries += 1;
            } else {
                cmd.fail_block = Some(at);
                cmd.tries = 1;
            }
        }
        if retry && cmd.tries <= self.max_retries {
            self.stats.retries += 1;
            match self.issue(drv, &mut cmd, at) {
                Ok(()) => self.ops[i].cmd = Some(cmd),
                Err(e) => {
                    free_list(drv, &cmd);
                    self.finish(drv, i, Err(e));
                }
            }
            return;
        }
        let op = &self.ops[i];
        let file_end = op.file_off + op.len;
        let file_start = match cmd.op {
            BlockOp::Read => op.file_off,
            BlockOp::Write => cmd
                .sg
                .blocks
                .get(at)
                .map_or(op.file_off, |&(_, b)| op.plans[b].file.max(op.file_off)),
        };
        let err = WriteError::Block {
            op: cmd.op,
            status: c.status,
            attempts: cmd.tries.max(1),
            file_start,
            file_end,
        };
        free_list(drv, &cmd);
        self.finish(drv, i, Err(err));
    }

    /// Write `i` is over: free its host memory, mark its stream range written on success, and
    /// call its callback.
    fn finish(&mut self, drv: &mut Driver, i: usize, r: Result<u64, WriteError>) {
        let mut op = self.ops.remove(i);
        if let Some(cmd) = op.cmd.take() {
            free_list(drv, &cmd);
        }
        if let Some((a, n)) = op.host.take() {
            let _ = drv.reg_release(a, n);
            drv.io_buf_free(a, n, drv.info.block_bytes as u64);
        }
        match &r {
            Ok(_) => {
                self.stats.writes_ok += 1;
                self.stats.bytes_written += op.len;
                self.done.insert(op.stream_off, op.stream_off + op.len);
            }
            Err(_) => self.stats.writes_failed += 1,
        }
        if let Some(cb) = op.cb.take() {
            cb(r);
        }
    }
}

/// The command is over: release what it held (it stays registered in the cache) and retire
/// its list's buffer for reuse.
fn free_list(drv: &mut Driver, cmd: &Cmd) {
    for &(a, n) in &cmd.held {
        let _ = drv.reg_release(a, n);
    }
    drv.io_buf_free(cmd.sg_addr, cmd.sg_bytes, 64);
}

/// Smallest scatter-gather list buffer: lists are laid out in power-of-two buffers from this
/// size up, so a later command of a similar size reuses a registered buffer.
const SG_BUF_MIN: u64 = 256;

impl Drop for NasStream {
    /// Writes still unfinished report [`WriteError::Aborted`] (their host memory stays with the
    /// driver's allocator).
    fn drop(&mut self) {
        for op in &mut self.ops {
            if let Some(cb) = op.cb.take() {
                cb(Err(WriteError::Aborted));
            }
        }
    }
}
