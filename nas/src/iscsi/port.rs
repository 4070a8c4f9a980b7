//! The logical unit's door into the device thread: [`PortIo`] is the [`CmdIo`] of one command.
//! Each call becomes an [`IoReq`] on a crossbeam channel to the thread that owns the device,
//! the driver and the connection's named buffers, and blocks the logical unit's worker until
//! that thread has done it (the NIC's block engine moved the blocks, or the CPU read a
//! parameter list) and replied.

use buflet_scsi::{CmdIo, IoError};
use crossbeam_channel::{bounded, Sender};

/// What the logical unit asks of the device thread for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoOp {
    /// Data-out bytes `off..` to `blocks` blocks from `lba` (zero-copy block write).
    Write { lba: u64, blocks: u32, off: u64 },
    /// The data-out block at `off` to each of `blocks` blocks from `lba`.
    WriteSame { lba: u64, blocks: u32, off: u64 },
    /// Zeros to `blocks` blocks from `lba`.
    Zeros { lba: u64, blocks: u32 },
    /// `blocks` blocks from `lba` into data-in bytes from `off` (zero-copy block read).
    Read { lba: u64, blocks: u32, off: u64 },
    /// `blocks` blocks from `lba` into the logical unit's memory.
    ReadVec { lba: u64, blocks: u32 },
    /// Every completed write durable.
    Sync,
    /// CPU read of data-out bytes.
    Peek { off: u64, len: u64 },
    /// CPU write of data-in bytes.
    Fill { off: u64, data: Vec<u8> },
    /// The logical unit is done with data-out bytes `[off, off + len)`.
    Release { off: u64, len: u64 },
}

/// A request of the logical unit, routed to its connection by `conn` and `sock`.
#[derive(Debug)]
pub struct IoReq {
    /// The connection's id (unique for the server's life: a socket slot is reused).
    pub conn: u64,
    /// The connection's socket.
    pub sock: u16,
    /// The command's tag (the emulation packet's).
    pub tag: u64,
    /// What to do.
    pub op: IoOp,
    /// Where the answer goes: bytes for `ReadVec` and `Peek`, empty otherwise.
    pub reply: Sender<Result<Vec<u8>, IoError>>,
}

/// The [`CmdIo`] of one command: its geometry, and a channel to the device thread.
pub struct PortIo {
    pub(crate) tx: Sender<IoReq>,
    pub(crate) conn: u64,
    pub(crate) sock: u16,
    pub(crate) tag: u64,
    pub(crate) block_size: u32,
    pub(crate) blocks: u64,
    pub(crate) data_out_len: u64,
    pub(crate) data_in_len: u64,
}

impl PortIo {
    fn call(&self, op: IoOp) -> Result<Vec<u8>, IoError> {
        let (reply, rx) = bounded(1);
        self.tx
            .send(IoReq {
                conn: self.conn,
                sock: self.sock,
                tag: self.tag,
                op,
                reply,
            })
            .map_err(|_| IoError::Gone("the device thread stopped".into()))?;
        rx.recv().map_err(|_| {
            IoError::Gone("the connection ended before the request was served".into())
        })?
    }
}

impl CmdIo for PortIo {
    fn block_size(&self) -> u32 {
        self.block_size
    }
    fn blocks(&self) -> u64 {
        self.blocks
    }
    fn data_out_len(&self) -> u64 {
        self.data_out_len
    }
    fn data_in_len(&self) -> u64 {
        self.data_in_len
    }
    fn write(&self, lba: u64, blocks: u32, off: u64) -> Result<(), IoError> {
        self.call(IoOp::Write { lba, blocks, off }).map(drop)
    }
    fn write_same(&self, lba: u64, blocks: u32, off: u64) -> Result<(), IoError> {
        self.call(IoOp::WriteSame { lba, blocks, off }).map(drop)
    }
    fn write_zeros(&self, lba: u64, blocks: u32) -> Result<(), IoError> {
        self.call(IoOp::Zeros { lba, blocks }).map(drop)
    }
    fn read(&self, lba: u64, blocks: u32, off: u64) -> Result<(), IoError> {
        self.call(IoOp::Read { lba, blocks, off }).map(drop)
    }
    fn read_to_vec(&self, lba: u64, blocks: u32) -> Result<Vec<u8>, IoError> {
        self.call(IoOp::ReadVec { lba, blocks })
    }
    fn sync(&self) -> Result<(), IoError> {
        self.call(IoOp::Sync).map(drop)
    }
    fn peek(&self, off: u64, out: &mut [u8]) -> Result<(), IoError> {
        let b = self.call(IoOp::Peek {
            off,
            len: out.len() as u64,
        })?;
        if b.len() != out.len() {
            return Err(IoError::Range(format!(
                "peek of {} bytes at {off} answered with {}",
                out.len(),
                b.len()
            )));
        }
        out.copy_from_slice(&b);
        Ok(())
    }
    fn release(&self, off: u64, len: u64) {
        // The answer carries nothing; a connection that is gone has released it all.
        let _ = self.call(IoOp::Release { off, len });
    }
    fn fill(&self, off: u64, data: &[u8]) -> Result<(), IoError> {
        self.call(IoOp::Fill {
            off,
            data: data.to_vec(),
        })
        .map(drop)
    }
}
