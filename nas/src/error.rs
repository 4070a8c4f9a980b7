//! What a write reports: its block operations, errors, callback and counters.

use crate::WriteMode;
use buflet_driver::DriverError;
use buflet_spec::Status;

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
    /// Received bytes the CPU copied out of named buffers the socket needed back
    /// ([`crate::stream::NasStream::bounce`]).
    pub bounced_bytes: u64,
}
