//! Seed 003: the block device as a SCSI logical unit emulated in user space.
//!
//! With `--disk scsi`, the block controller's writes do not go straight to the image. A
//! pass-through module (the seed's kernel-resident "first emulation module") turns each block I/O
//! into an [`EmulationPacket`]: a small structure with the CDB (WRITE(16), READ(16),
//! SYNCHRONIZE CACHE(16)), the command state, the data direction and length, and the initiator,
//! logical-unit and port contexts. The packet goes to a user-space handler (the "second emulation
//! module", [`LuHandler`]) together with a *mapping* of the DMA buffer: the handler reads or fills
//! the very bytes the block engine moved, never a copy ([`DataMap`] borrows them). The handler
//! decodes the CDB, stores to or loads from the image, and completes the packet with GOOD or with
//! CHECK CONDITION and fixed-format sense data, which the block device reports as an error.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use serde::Serialize;

/// SCSI operation codes the logical unit implements.
pub mod opcode {
    /// READ(16).
    pub const READ_16: u8 = 0x88;
    /// WRITE(16).
    pub const WRITE_16: u8 = 0x8A;
    /// SYNCHRONIZE CACHE(16).
    pub const SYNCHRONIZE_CACHE_16: u8 = 0x91;
}

/// SCSI status GOOD.
pub const GOOD: u8 = 0x00;
/// SCSI status CHECK CONDITION (sense data holds the reason).
pub const CHECK_CONDITION: u8 = 0x02;

/// Sense keys used by the logical unit.
pub mod sense_key {
    /// MEDIUM ERROR.
    pub const MEDIUM_ERROR: u8 = 0x3;
    /// ILLEGAL REQUEST.
    pub const ILLEGAL_REQUEST: u8 = 0x5;
}

/// Where a command is in its life; kept in the packet, as the seed keeps command state there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PacketState {
    /// Built by the pass-through, not yet seen by the handler.
    New,
    /// The handler is executing it.
    Executing,
    /// Completed (status and sense are final).
    Done,
}

/// Direction of the data phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Direction {
    /// No data (SYNCHRONIZE CACHE).
    None,
    /// Initiator to logical unit (WRITE).
    ToDevice,
    /// Logical unit to initiator (READ).
    FromDevice,
}

/// The DMA buffer of a command, mapped into the handler: the same bytes, borrowed.
#[derive(Debug)]
pub enum DataMap<'a> {
    /// No data phase.
    None,
    /// Data to store (WRITE).
    Out(&'a [u8]),
    /// Buffer to fill (READ).
    In(&'a mut [u8]),
}

impl DataMap<'_> {
    /// Address of the mapped buffer (tests check it is the DMA buffer itself).
    pub fn addr(&self) -> Option<*const u8> {
        match self {
            DataMap::None => None,
            DataMap::Out(d) => Some(d.as_ptr()),
            DataMap::In(d) => Some(d.as_ptr()),
        }
    }
    fn len(&self) -> usize {
        match self {
            DataMap::None => 0,
            DataMap::Out(d) => d.len(),
            DataMap::In(d) => d.len(),
        }
    }
}

/// Who sent the command: the seed's initiator, logical-unit and port provider contexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Contexts {
    /// Initiator (the block-controller DMA engine of this NIC).
    pub initiator: u64,
    /// Logical unit number.
    pub lun: u64,
    /// Target port.
    pub port: u32,
}

/// One command as the pass-through hands it to the user-space handler.
#[derive(Debug)]
pub struct EmulationPacket<'a> {
    /// Command tag, unique per pass-through.
    pub tag: u64,
    /// The CDB.
    pub cdb: [u8; 16],
    /// Command state.
    pub state: PacketState,
    /// Data direction.
    pub direction: Direction,
    /// Expected data transfer length in bytes.
    pub length: u32,
    /// SCSI status once done.
    pub status: u8,
    /// Fixed-format sense data (valid with CHECK CONDITION).
    pub sense: [u8; 18],
    /// Initiator, LU and port contexts.
    pub ctx: Contexts,
    /// The mapped DMA buffer.
    pub data: DataMap<'a>,
    /// Set by the handler: address of the buffer it actually stored from or loaded into. The
    /// pass-through compares it with the block engine's buffer to count copied bytes.
    pub accessed: Option<usize>,
}

impl EmulationPacket<'_> {
    /// Complete with CHECK CONDITION and fixed-format sense data.
    pub fn check_condition(&mut self, key: u8, asc: u8, ascq: u8) {
        self.status = CHECK_CONDITION;
        self.sense = [0; 18];
        self.sense[0] = 0x70; // current error, fixed format
        self.sense[2] = key;
        self.sense[7] = 10; // additional sense length
        self.sense[12] = asc;
        self.sense[13] = ascq;
        self.state = PacketState::Done;
    }
    /// Complete with GOOD.
    pub fn good(&mut self) {
        self.status = GOOD;
        self.state = PacketState::Done;
    }
}

/// A user-space SCSI logical unit: executes emulation packets.
pub trait LuHandler {
    /// Execute `pkt` (state Executing on entry) and complete it.
    fn execute(&mut self, pkt: &mut EmulationPacket<'_>);
}

/// A CHECK CONDITION as the block device reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("SCSI CHECK CONDITION: sense key {key:#x}, ASC {asc:#04x}, ASCQ {ascq:#04x}")]
pub struct Sense {
    /// Sense key.
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Additional sense code qualifier.
    pub ascq: u8,
}

/// Pass-through counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScsiStats {
    /// Commands passed to the handler.
    pub commands: u64,
    /// Commands completed with CHECK CONDITION.
    pub check_conditions: u64,
    /// Payload bytes handed to the handler as a mapping.
    pub bytes_mapped: u64,
    /// Payload bytes the handler moved from or to a buffer other than the block engine's own
    /// (a copy somewhere between them); 0 when the handler works on the mapping.
    pub bytes_copied: u64,
}

/// The pass-through: block I/O in, emulation packets out to the handler.
pub struct ScsiPassThrough {
    handler: Box<dyn LuHandler + Send>,
    ctx: Contexts,
    next_tag: u64,
    block: u32,
    stats: ScsiStats,
    /// Address the handler accessed for the last data phase (zero-copy evidence for tests).
    pub last_mapped_addr: Option<usize>,
}

impl ScsiPassThrough {
    /// A pass-through to `handler`, with logical blocks of `block` bytes.
    pub fn new(handler: Box<dyn LuHandler + Send>, block: u32, ctx: Contexts) -> Self {
        ScsiPassThrough {
            handler,
            ctx,
            next_tag: 1,
            block,
            stats: ScsiStats::default(),
            last_mapped_addr: None,
        }
    }

    /// Replace the handler (counters are kept).
    pub fn set_handler(&mut self, handler: Box<dyn LuHandler + Send>) {
        self.handler = handler;
    }

    fn cdb16(op: u8, lba: u64, blocks: u32) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0] = op;
        c[2..10].copy_from_slice(&lba.to_be_bytes());
        c[10..14].copy_from_slice(&blocks.to_be_bytes());
        c
    }

    fn submit(
        &mut self,
        cdb: [u8; 16],
        direction: Direction,
        data: DataMap<'_>,
    ) -> Result<(), Sense> {
        let mut pkt = EmulationPacket {
            tag: self.next_tag,
            cdb,
            state: PacketState::New,
            direction,
            length: data.len() as u32,
            status: GOOD,
            sense: [0; 18],
            ctx: self.ctx,
            data,
            accessed: None,
        };
        let engine_buf = pkt.data.addr().map(|p| p as usize);
        self.next_tag += 1;
        self.stats.commands += 1;
        self.stats.bytes_mapped += pkt.data.len() as u64;
        pkt.state = PacketState::Executing;
        self.handler.execute(&mut pkt);
        if pkt.accessed.is_some() {
            self.last_mapped_addr = pkt.accessed;
            if pkt.accessed != engine_buf {
                self.stats.bytes_copied += pkt.length as u64;
            }
        }
        if pkt.state != PacketState::Done {
            // A handler that returns without completing is a handler bug: report it as an
            // internal target failure rather than pretending success.
            pkt.check_condition(0x4, 0x44, 0x00);
        }
        if pkt.status == GOOD {
            Ok(())
        } else {
            self.stats.check_conditions += 1;
            Err(Sense {
                key: pkt.sense[2] & 0x0F,
                asc: pkt.sense[12],
                ascq: pkt.sense[13],
            })
        }
    }

    /// WRITE(16) of `data` at logical block `lba`.
    pub fn write(&mut self, lba: u64, data: &[u8]) -> Result<(), Sense> {
        let blocks = (data.len() / self.block as usize) as u32;
        let cdb = Self::cdb16(opcode::WRITE_16, lba, blocks);
        self.submit(cdb, Direction::ToDevice, DataMap::Out(data))
    }

    /// READ(16) into `out` from logical block `lba`.
    pub fn read(&mut self, lba: u64, out: &mut [u8]) -> Result<(), Sense> {
        let blocks = (out.len() / self.block as usize) as u32;
        let cdb = Self::cdb16(opcode::READ_16, lba, blocks);
        self.submit(cdb, Direction::FromDevice, DataMap::In(out))
    }

    /// SYNCHRONIZE CACHE(16) of the whole unit.
    pub fn sync(&mut self) -> Result<(), Sense> {
        let cdb = Self::cdb16(opcode::SYNCHRONIZE_CACHE_16, 0, 0);
        self.submit(cdb, Direction::None, DataMap::None)
    }

    /// Counters.
    pub fn stats(&self) -> ScsiStats {
        self.stats.clone()
    }
}

/// Decides, per CDB, whether the logical unit fails the command with MEDIUM ERROR.
pub type FailFn = Box<dyn FnMut(&[u8; 16]) -> bool + Send>;

/// A disk logical unit over an image file: the user-space handler of `--disk scsi`.
pub struct DiskLu {
    file: File,
    path: PathBuf,
    blocks: u64,
    block: u32,
    /// Fail the next commands with MEDIUM ERROR: decided per command by this predicate.
    pub fail: Option<FailFn>,
    /// The first error the image file raised (reported to the initiator as MEDIUM ERROR),
    /// shared with the [`crate::BlockDevice`] that made this unit so the harness can tell a
    /// failing host file system from a medium error.
    pub io_failure: HostFailure,
}

/// The first failure of a disk image file on the host, shared between the block device and
/// its SCSI logical unit.
pub type HostFailure = std::sync::Arc<std::sync::Mutex<Option<String>>>;

impl DiskLu {
    /// A logical unit of `blocks` blocks of `block` bytes stored in `file` at `path`.
    pub fn new(file: File, path: PathBuf, blocks: u64, block: u32) -> Self {
        DiskLu {
            file,
            path,
            blocks,
            block,
            fail: None,
            io_failure: HostFailure::default(),
        }
    }
}

impl LuHandler for DiskLu {
    fn execute(&mut self, pkt: &mut EmulationPacket<'_>) {
        let op = pkt.cdb[0];
        let lba = u64::from_be_bytes(pkt.cdb[2..10].try_into().unwrap_or([0; 8]));
        let n = u32::from_be_bytes(pkt.cdb[10..14].try_into().unwrap_or([0; 4])) as u64;
        let (want_dir, data) = match op {
            opcode::WRITE_16 => (Direction::ToDevice, true),
            opcode::READ_16 => (Direction::FromDevice, true),
            opcode::SYNCHRONIZE_CACHE_16 => (Direction::None, false),
            // INVALID COMMAND OPERATION CODE
            _ => return pkt.check_condition(sense_key::ILLEGAL_REQUEST, 0x20, 0x00),
        };
        if data {
            if lba.checked_add(n).is_none_or(|e| e > self.blocks) {
                // LOGICAL BLOCK ADDRESS OUT OF RANGE
                return pkt.check_condition(sense_key::ILLEGAL_REQUEST, 0x21, 0x00);
            }
            if pkt.direction != want_dir || n * self.block as u64 != pkt.data.len() as u64 {
                // INVALID FIELD IN CDB: the transfer length does not match the data phase
                return pkt.check_condition(sense_key::ILLEGAL_REQUEST, 0x24, 0x00);
            }
        }
        if let Some(fail) = self.fail.as_mut() {
            if fail(&pkt.cdb) {
                let asc = if op == opcode::READ_16 { 0x11 } else { 0x0C };
                return pkt.check_condition(sense_key::MEDIUM_ERROR, asc, 0x00);
            }
        }
        let off = lba * self.block as u64;
        pkt.accessed = pkt.data.addr().map(|p| p as usize);
        let r = match &mut pkt.data {
            DataMap::Out(d) => self.file.write_all_at(d, off),
            DataMap::In(d) => self.file.read_exact_at(d, off),
            DataMap::None => self.file.sync_data(),
        };
        match r {
            Ok(()) => pkt.good(),
            Err(e) => {
                if let Ok(mut f) = self.io_failure.lock() {
                    f.get_or_insert_with(|| format!("{}: {e}", self.path.display()));
                }
                let asc = if op == opcode::READ_16 { 0x11 } else { 0x0C };
                pkt.check_condition(sense_key::MEDIUM_ERROR, asc, 0x00)
            }
        }
    }
}
