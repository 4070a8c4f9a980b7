//! Seed 003: a SCSI block logical unit emulated in user space.
//!
//! A transport (the iSCSI target of the NAS application, or the block device's pass-through)
//! turns each SCSI command into an [`EmuPacket`]: a byte layout with documented field offsets
//! ([`packet`]) holding the CDB, the LUN, the data direction and expected length, and the
//! initiator and port contexts, plus the output fields the logical unit completes (state,
//! status, sense, residual). The asynchronous emulation module ([`emu::EmuModule`]) hands each
//! packet to the logical unit ([`LuHandler`]) on a worker thread of its own (the seed's door
//! call), many at once; completions come back in any order and are matched by tag.
//!
//! The logical unit never holds the command's data. It reaches it through [`CmdIo`], the
//! mapping of the transport's buffers: it tells the *medium* (the NIC's block engine behind the
//! target) to move data-out bytes to the blocks, or blocks to data-in bytes, so a WRITE's
//! payload goes from where the NIC delivered it to the disk without the CPU touching it. Only
//! parameter lists, compare data and the small data-in of INQUIRY, MODE SENSE and the like are
//! read or written by the CPU ([`CmdIo::peek`], [`CmdIo::fill`]).
//!
//! The command set ([`sbc::BlockLu`]) is the one a real initiator needs (SPC-4 / SBC-3):
//! INQUIRY with the VPD pages, READ CAPACITY, TEST UNIT READY, REQUEST SENSE, REPORT LUNS,
//! MODE SENSE / SELECT, READ / WRITE / VERIFY / WRITE AND VERIFY, WRITE SAME, UNMAP, GET LBA
//! STATUS, COMPARE AND WRITE, SYNCHRONIZE CACHE, PERSISTENT RESERVE IN / OUT.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod emu;
pub mod packet;
pub mod sbc;

pub use emu::{EmuModule, EmuStats};
pub use packet::{Direction, EmuPacket, PacketState};

/// SCSI status codes (SAM-5).
pub mod status {
    /// GOOD.
    pub const GOOD: u8 = 0x00;
    /// CHECK CONDITION: the sense data holds the reason.
    pub const CHECK_CONDITION: u8 = 0x02;
    /// CONDITION MET.
    pub const CONDITION_MET: u8 = 0x04;
    /// BUSY.
    pub const BUSY: u8 = 0x08;
    /// RESERVATION CONFLICT.
    pub const RESERVATION_CONFLICT: u8 = 0x18;
    /// TASK SET FULL.
    pub const TASK_SET_FULL: u8 = 0x28;
    /// TASK ABORTED.
    pub const TASK_ABORTED: u8 = 0x40;
}

/// A failure of the medium (the block engine) or of the data mapping, as the logical unit
/// sees it: it completes the command with the matching sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoError {
    /// The medium failed a write (sense MEDIUM ERROR, WRITE ERROR).
    #[error("medium write error: {0}")]
    Write(String),
    /// The medium failed a read (sense MEDIUM ERROR, UNRECOVERED READ ERROR).
    #[error("medium read error: {0}")]
    Read(String),
    /// The transport could not reach the mapped data (the connection ended, the task was
    /// aborted): the command ends without touching more of the medium.
    #[error("the command's data is gone: {0}")]
    Gone(String),
    /// The request is outside the mapping (a logical-unit bug: reported, never a panic).
    #[error("out of the mapping: {0}")]
    Range(String),
}

/// The mapping of one command's data and the medium behind it, as the transport gives them to
/// the logical unit. Offsets are bytes into the command's data-out or data-in buffer; LBAs and
/// block counts are in the medium's logical blocks ([`CmdIo::block_size`]). Every call may
/// block the calling worker until the transport has done it (a door call); none may be made
/// after the handler returned.
pub trait CmdIo {
    /// Logical block size of the medium, bytes.
    fn block_size(&self) -> u32;
    /// Logical blocks of the medium.
    fn blocks(&self) -> u64;
    /// Bytes of data-out the transport holds for the command (what the initiator sent).
    fn data_out_len(&self) -> u64;
    /// Bytes of data-in buffer the command may fill (its allocation / expected length).
    fn data_in_len(&self) -> u64;
    /// Move data-out bytes `off..off + blocks * block_size` to the medium at `lba`, zero-copy.
    fn write(&self, lba: u64, blocks: u32, off: u64) -> Result<(), IoError>;
    /// Write the one data-out block at `off` to each of `blocks` blocks from `lba` (WRITE SAME).
    fn write_same(&self, lba: u64, blocks: u32, off: u64) -> Result<(), IoError>;
    /// Write zeros to `blocks` blocks from `lba` (UNMAP, WRITE SAME with NDOB).
    fn write_zeros(&self, lba: u64, blocks: u32) -> Result<(), IoError>;
    /// Move `blocks` blocks from `lba` into data-in bytes from `off`, zero-copy.
    fn read(&self, lba: u64, blocks: u32, off: u64) -> Result<(), IoError>;
    /// Read `blocks` blocks from `lba` into the logical unit's own memory (compare data of
    /// VERIFY and COMPARE AND WRITE: the CPU reads them).
    fn read_to_vec(&self, lba: u64, blocks: u32) -> Result<Vec<u8>, IoError>;
    /// Make every completed write durable (SYNCHRONIZE CACHE, FUA).
    fn sync(&self) -> Result<(), IoError>;
    /// CPU read of data-out bytes (parameter lists, compare data).
    fn peek(&self, off: u64, out: &mut [u8]) -> Result<(), IoError>;
    /// The logical unit will not read data-out bytes `off..off + len` again (it compared or
    /// wrote them): the transport may give their buffers back, so a command whose data-out
    /// is larger than the transport's buffers is served piece by piece. Reading them again
    /// afterwards fails with [`IoError::Gone`].
    fn release(&self, off: u64, len: u64) {
        let _ = (off, len);
    }
    /// CPU write of data-in bytes (INQUIRY data, mode pages, ...), at most
    /// [`CmdIo::data_in_len`] bytes from `off`; the transport sends what was filled.
    fn fill(&self, off: u64, data: &[u8]) -> Result<(), IoError>;
}

/// A user-space SCSI logical unit: executes emulation packets, any number at once (one per
/// worker), each with its command's [`CmdIo`]. It may write only the packet's output fields
/// ([`EmuPacket::set_status`], [`EmuPacket::set_sense`], [`EmuPacket::set_residual`],
/// [`EmuPacket::set_state`]); the emulation module catches a handler that writes elsewhere.
pub trait LuHandler: Send + Sync {
    /// Execute `pkt` (state `Executing` on entry) and complete it.
    fn execute(&self, pkt: &mut EmuPacket, io: &dyn CmdIo);
    /// A task-management function (ABORT TASK SET, LOGICAL UNIT RESET, I_T NEXUS RESET, ...)
    /// for the logical unit's own state (reservations survive, unit attentions are set as
    /// SAM-5 says). `initiator` is the nexus that asked.
    fn task_management(&self, function: TmFunction, initiator: u64);
    /// An I_T nexus is gone (its session ended): state kept per nexus may go.
    fn nexus_lost(&self, initiator: u64);
    /// The transport tells the logical unit who nexus `initiator` is: its initiator port's
    /// TransportID (SPC-4 7.6.4; for iSCSI see [`iscsi_transport_id`]) and the relative
    /// target port identifier it came through, reported by PERSISTENT RESERVE IN READ FULL
    /// STATUS. The default ignores it.
    fn nexus_identity(&self, initiator: u64, transport_id: &[u8], relative_port: u16) {
        let _ = (initiator, transport_id, relative_port);
    }
}

/// An iSCSI TransportID (SPC-4 7.6.4.6, format code 00b: the iSCSI name alone) for initiator
/// port `name` (for a nexus, the name with `,i,0x<ISID>` appended): protocol identifier 5,
/// the name NUL-terminated and padded to a multiple of four bytes, at least 24 bytes in all.
pub fn iscsi_transport_id(name: &str) -> Vec<u8> {
    let name = name.as_bytes();
    // Name, NUL, pad to 4; additional length is a u16.
    let n = (name.len().min(0xFFF0) + 1).div_ceil(4).max(5) * 4;
    let mut v = vec![0u8; 4 + n];
    v[0] = 0x05;
    v[2..4].copy_from_slice(&(n as u16).to_be_bytes());
    let take = name.len().min(n - 1);
    v[4..4 + take].copy_from_slice(&name[..take]);
    v
}

/// Task-management functions a logical unit sees (SAM-5 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TmFunction {
    /// ABORT TASK.
    AbortTask,
    /// ABORT TASK SET.
    AbortTaskSet,
    /// CLEAR TASK SET.
    ClearTaskSet,
    /// CLEAR ACA.
    ClearAca,
    /// LOGICAL UNIT RESET.
    LogicalUnitReset,
    /// TARGET WARM RESET.
    TargetWarmReset,
    /// TARGET COLD RESET.
    TargetColdReset,
    /// I_T NEXUS RESET.
    ItNexusReset,
}

#[cfg(test)]
mod tests {
    use super::iscsi_transport_id;

    #[test]
    fn iscsi_transport_id_layout() {
        let t = iscsi_transport_id("iqn.x");
        assert_eq!(t.len(), 24, "at least 24 bytes");
        assert_eq!(t[0], 0x05);
        assert_eq!(u16::from_be_bytes([t[2], t[3]]) as usize, t.len() - 4);
        assert_eq!(&t[4..9], b"iqn.x");
        assert_eq!(t[9], 0, "NUL terminated");
        let name = "iqn.2024-01.org.example:a-rather-long-initiator-name,i,0x23d000000001";
        let t = iscsi_transport_id(name);
        assert_eq!(t.len() % 4, 0);
        assert_eq!(&t[4..4 + name.len()], name.as_bytes());
        assert_eq!(t[4 + name.len()], 0);
    }
}
