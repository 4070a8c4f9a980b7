//! The emulation packet: one SCSI command as a fixed string of bytes with documented offsets.
//!
//! The seed passes each command from the kernel-resident pass-through to the user-space
//! emulation module as a small packet (under 200 bytes) whose fields are defined by offset and
//! type, split into *input* fields (set by the transport, never changed by the logical unit) and
//! *output* fields (the only ones the logical unit writes). [`EmuPacket`] is that packet: a
//! `[u8; PKT_BYTES]` with getters for every field and setters only for the output fields. All
//! integers are little-endian.
//!
//! | Offset | Size | Field            | Side   | Meaning                                             |
//! |-------:|-----:|------------------|--------|-----------------------------------------------------|
//! | 0      | 8    | `TAG`            | input  | command tag, unique per transport                   |
//! | 8      | 8    | `LUN`            | input  | logical unit number                                 |
//! | 16     | 16   | `CDB`            | input  | the CDB, zero padded                                |
//! | 32     | 1    | `CDB_LEN`        | input  | CDB bytes that are meaningful (1..=16)              |
//! | 33     | 1    | `DIRECTION`      | input  | 0 none, 1 to device, 2 from device, 3 bidirectional |
//! | 34     | 1    | `TASK_ATTR`      | input  | SAM task attribute (0 simple, 1 head, 2 ordered, 4 ACA) |
//! | 35     | 1    | —                | input  | reserved, zero                                      |
//! | 36     | 4    | `EXPECTED_LEN`   | input  | expected data transfer length, bytes                |
//! | 40     | 8    | `INITIATOR`      | input  | I_T nexus id                                        |
//! | 48     | 4    | `PORT`           | input  | target port (relative port id)                      |
//! | 52     | 12   | —                | input  | reserved, zero                                      |
//! | 64     | 1    | `STATE`          | output | [`PacketState`]                                     |
//! | 65     | 1    | `STATUS`         | output | SCSI status ([`crate::status`])                     |
//! | 66     | 1    | `SENSE_LEN`      | output | valid sense bytes (0..=96)                          |
//! | 67     | 1    | `RESIDUAL_FLAGS` | output | bit 0 underflow, bit 1 overflow                     |
//! | 68     | 4    | `RESIDUAL`       | output | residual count, bytes                               |
//! | 72     | 4    | `DATA_IN_LEN`    | output | data-in bytes the logical unit produced             |
//! | 76     | 4    | —                | output | reserved, must stay zero                            |
//! | 80     | 96   | `SENSE`          | output | sense data                                          |
//!
//! [`PKT_BYTES`] is 176.

use serde::Serialize;

/// Size of an emulation packet, bytes.
pub const PKT_BYTES: usize = 176;
/// Offset of the command tag (u64).
pub const TAG: usize = 0;
/// Offset of the logical unit number (u64).
pub const LUN: usize = 8;
/// Offset of the CDB (16 bytes, zero padded).
pub const CDB: usize = 16;
/// Bytes reserved for the CDB.
pub const CDB_MAX: usize = 16;
/// Offset of the CDB length (u8).
pub const CDB_LEN: usize = 32;
/// Offset of the data direction (u8, [`Direction`]).
pub const DIRECTION: usize = 33;
/// Offset of the SAM task attribute (u8).
pub const TASK_ATTR: usize = 34;
/// Offset of the expected data transfer length (u32).
pub const EXPECTED_LEN: usize = 36;
/// Offset of the I_T nexus id (u64).
pub const INITIATOR: usize = 40;
/// Offset of the target port (u32).
pub const PORT: usize = 48;
/// End of the input fields: bytes `0..INPUT_END` are the transport's.
pub const INPUT_END: usize = 64;
/// Offset of the command state (u8, [`PacketState`]).
pub const STATE: usize = 64;
/// Offset of the SCSI status (u8).
pub const STATUS: usize = 65;
/// Offset of the sense length (u8).
pub const SENSE_LEN: usize = 66;
/// Offset of the residual flags (u8: [`RESIDUAL_UNDERFLOW`], [`RESIDUAL_OVERFLOW`]).
pub const RESIDUAL_FLAGS: usize = 67;
/// Offset of the residual count (u32).
pub const RESIDUAL: usize = 68;
/// Offset of the data-in length the logical unit produced (u32).
pub const DATA_IN_LEN: usize = 72;
/// Offset of the reserved output bytes (4, must stay zero).
pub const OUT_RESERVED: usize = 76;
/// Offset of the sense data.
pub const SENSE: usize = 80;
/// Bytes reserved for the sense data.
pub const SENSE_MAX: usize = 96;

/// Residual flag: the command moved less than the expected length.
pub const RESIDUAL_UNDERFLOW: u8 = 0x01;
/// Residual flag: the command wanted more than the expected length.
pub const RESIDUAL_OVERFLOW: u8 = 0x02;

/// Length of fixed-format sense data as built by [`EmuPacket::check_condition`].
pub const FIXED_SENSE_LEN: usize = 18;

/// Errors building a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The CDB is empty or longer than 16 bytes.
    #[error("CDB of {0} bytes (1..=16 accepted)")]
    CdbLength(usize),
    /// A byte is not a valid value of the named field.
    #[error("invalid {field} value {value}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// The value found.
        value: u8,
    },
    /// Sense data longer than the packet holds.
    #[error("sense of {0} bytes (at most 96)")]
    SenseLength(usize),
}

/// Direction of the data phase, as the transport saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Direction {
    /// No data.
    None = 0,
    /// Initiator to logical unit (data-out).
    ToDevice = 1,
    /// Logical unit to initiator (data-in).
    FromDevice = 2,
    /// Both.
    Bidirectional = 3,
}

impl TryFrom<u8> for Direction {
    type Error = PacketError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Ok(match v {
            0 => Direction::None,
            1 => Direction::ToDevice,
            2 => Direction::FromDevice,
            3 => Direction::Bidirectional,
            _ => {
                return Err(PacketError::InvalidField {
                    field: "direction",
                    value: v,
                })
            }
        })
    }
}

/// Where a command is in its life; kept in the packet, as the seed keeps command state there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PacketState {
    /// Built by the transport, not yet seen by the logical unit.
    New = 0,
    /// The logical unit is executing it.
    Executing = 1,
    /// Completed: status, sense and residual are final.
    Done = 2,
}

impl TryFrom<u8> for PacketState {
    type Error = PacketError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Ok(match v {
            0 => PacketState::New,
            1 => PacketState::Executing,
            2 => PacketState::Done,
            _ => {
                return Err(PacketError::InvalidField {
                    field: "state",
                    value: v,
                })
            }
        })
    }
}

/// One SCSI command as the transport hands it to the logical unit: a fixed byte layout (see
/// the module documentation for the offsets).
#[derive(Clone, PartialEq, Eq)]
pub struct EmuPacket {
    bytes: [u8; PKT_BYTES],
}

impl std::fmt::Debug for EmuPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmuPacket")
            .field("tag", &self.tag())
            .field("lun", &self.lun())
            .field("cdb", &self.cdb())
            .field("initiator", &self.initiator())
            .field("state", &self.state())
            .field("status", &self.status())
            .field("sense", &self.sense())
            .field("residual_flags", &self.residual_flags())
            .field("residual", &self.residual())
            .field("data_in_len", &self.data_in_len())
            .finish()
    }
}

impl EmuPacket {
    /// A new packet (state `New`, status GOOD, no sense) for a command with CDB `cdb`
    /// (1..=16 bytes), the data `direction` and `expected_len` bytes of expected data transfer
    /// length, from I_T nexus `initiator` through target `port`.
    pub fn new(
        tag: u64,
        lun: u64,
        cdb: &[u8],
        direction: Direction,
        expected_len: u32,
        initiator: u64,
        port: u32,
    ) -> Result<Self, PacketError> {
        if cdb.is_empty() || cdb.len() > CDB_MAX {
            return Err(PacketError::CdbLength(cdb.len()));
        }
        let mut p = EmuPacket {
            bytes: [0; PKT_BYTES],
        };
        p.put_u64(TAG, tag);
        p.put_u64(LUN, lun);
        p.bytes[CDB..CDB + cdb.len()].copy_from_slice(cdb);
        p.bytes[CDB_LEN] = cdb.len() as u8;
        p.bytes[DIRECTION] = direction as u8;
        p.put_u32(EXPECTED_LEN, expected_len);
        p.put_u64(INITIATOR, initiator);
        p.put_u32(PORT, port);
        Ok(p)
    }

    /// A packet from raw bytes (as received over a door or read back from shared memory).
    pub fn from_bytes(bytes: [u8; PKT_BYTES]) -> Self {
        EmuPacket { bytes }
    }

    /// Set the SAM task attribute (input field; the transport sets it before submitting).
    pub fn with_task_attr(mut self, attr: u8) -> Self {
        self.bytes[TASK_ATTR] = attr;
        self
    }

    fn u32_at(&self, off: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.bytes[off..off + 4]);
        u32::from_le_bytes(b)
    }
    fn u64_at(&self, off: usize) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.bytes[off..off + 8]);
        u64::from_le_bytes(b)
    }
    fn put_u32(&mut self, off: usize, v: u32) {
        self.bytes[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, off: usize, v: u64) {
        self.bytes[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// Command tag.
    pub fn tag(&self) -> u64 {
        self.u64_at(TAG)
    }
    /// Logical unit number.
    pub fn lun(&self) -> u64 {
        self.u64_at(LUN)
    }
    /// The full 16-byte CDB field (zero padded past [`EmuPacket::cdb_len`]).
    pub fn cdb16(&self) -> [u8; CDB_MAX] {
        let mut c = [0u8; CDB_MAX];
        c.copy_from_slice(&self.bytes[CDB..CDB + CDB_MAX]);
        c
    }
    /// The meaningful CDB bytes (a hostile CDB_LEN above 16 is clamped to 16).
    pub fn cdb(&self) -> &[u8] {
        let n = (self.cdb_len() as usize).min(CDB_MAX);
        &self.bytes[CDB..CDB + n]
    }
    /// CDB length as stored.
    pub fn cdb_len(&self) -> u8 {
        self.bytes[CDB_LEN]
    }
    /// Data direction (`Err` for a byte that is no direction).
    pub fn direction(&self) -> Result<Direction, PacketError> {
        Direction::try_from(self.bytes[DIRECTION])
    }
    /// SAM task attribute.
    pub fn task_attr(&self) -> u8 {
        self.bytes[TASK_ATTR]
    }
    /// Expected data transfer length, bytes.
    pub fn expected_len(&self) -> u32 {
        self.u32_at(EXPECTED_LEN)
    }
    /// I_T nexus id.
    pub fn initiator(&self) -> u64 {
        self.u64_at(INITIATOR)
    }
    /// Target port.
    pub fn port(&self) -> u32 {
        self.u32_at(PORT)
    }
    /// Command state (`Err` for a byte that is no state).
    pub fn state(&self) -> Result<PacketState, PacketError> {
        PacketState::try_from(self.bytes[STATE])
    }
    /// SCSI status.
    pub fn status(&self) -> u8 {
        self.bytes[STATUS]
    }
    /// Valid sense bytes as stored.
    pub fn sense_len(&self) -> u8 {
        self.bytes[SENSE_LEN]
    }
    /// The valid sense bytes (a hostile SENSE_LEN above 96 is clamped).
    pub fn sense(&self) -> &[u8] {
        let n = (self.sense_len() as usize).min(SENSE_MAX);
        &self.bytes[SENSE..SENSE + n]
    }
    /// Sense key, ASC and ASCQ of fixed-format sense, if there is sense.
    pub fn sense_triplet(&self) -> Option<(u8, u8, u8)> {
        let s = self.sense();
        (s.len() >= 14).then(|| (s[2] & 0x0F, s[12], s[13]))
    }
    /// The INFORMATION field of fixed-format sense when its VALID bit is set.
    pub fn sense_information(&self) -> Option<u32> {
        let s = self.sense();
        (s.len() >= 7 && s[0] & 0x80 != 0).then(|| u32::from_be_bytes([s[3], s[4], s[5], s[6]]))
    }
    /// Residual flags ([`RESIDUAL_UNDERFLOW`], [`RESIDUAL_OVERFLOW`]).
    pub fn residual_flags(&self) -> u8 {
        self.bytes[RESIDUAL_FLAGS]
    }
    /// Residual count, bytes.
    pub fn residual(&self) -> u32 {
        self.u32_at(RESIDUAL)
    }
    /// Data-in bytes the logical unit produced (what the transport sends).
    pub fn data_in_len(&self) -> u32 {
        self.u32_at(DATA_IN_LEN)
    }

    /// Set the command state (output field).
    pub fn set_state(&mut self, s: PacketState) {
        self.bytes[STATE] = s as u8;
    }
    /// Set the SCSI status (output field).
    pub fn set_status(&mut self, status: u8) {
        self.bytes[STATUS] = status;
    }
    /// Set the sense data (output field): at most 96 bytes, the rest of the field is zeroed.
    pub fn set_sense(&mut self, sense: &[u8]) -> Result<(), PacketError> {
        if sense.len() > SENSE_MAX {
            return Err(PacketError::SenseLength(sense.len()));
        }
        self.bytes[SENSE..SENSE + SENSE_MAX].fill(0);
        self.bytes[SENSE..SENSE + sense.len()].copy_from_slice(sense);
        self.bytes[SENSE_LEN] = sense.len() as u8;
        Ok(())
    }
    /// Set the residual (output fields): `flags` of [`RESIDUAL_UNDERFLOW`] /
    /// [`RESIDUAL_OVERFLOW`] and the count in bytes.
    pub fn set_residual(&mut self, flags: u8, count: u32) {
        self.bytes[RESIDUAL_FLAGS] = flags;
        self.put_u32(RESIDUAL, count);
    }
    /// Set the data-in bytes produced (output field).
    pub fn set_data_in_len(&mut self, n: u32) {
        self.put_u32(DATA_IN_LEN, n);
    }

    /// Complete with CHECK CONDITION and fixed-format sense data (response code 0x70, no
    /// INFORMATION).
    pub fn check_condition(&mut self, key: u8, asc: u8, ascq: u8) {
        self.check_condition_info(key, asc, ascq, None);
    }

    /// Complete with CHECK CONDITION and fixed-format sense data; with `info`, the
    /// INFORMATION field holds it and the VALID bit is set (MISCOMPARE offsets).
    pub fn check_condition_info(&mut self, key: u8, asc: u8, ascq: u8, info: Option<u32>) {
        let mut s = [0u8; FIXED_SENSE_LEN];
        s[0] = 0x70;
        s[2] = key & 0x0F;
        if let Some(i) = info {
            s[0] |= 0x80;
            s[3..7].copy_from_slice(&i.to_be_bytes());
        }
        s[7] = 10;
        s[12] = asc;
        s[13] = ascq;
        // 18 bytes always fit the 96-byte field.
        let _ = self.set_sense(&s);
        self.set_status(crate::status::CHECK_CONDITION);
        self.set_state(PacketState::Done);
    }

    /// Complete with GOOD (sense cleared).
    pub fn good(&mut self) {
        self.complete(crate::status::GOOD);
    }

    /// Complete with a status that carries no sense (GOOD, CONDITION MET, RESERVATION
    /// CONFLICT, BUSY, TASK SET FULL, TASK ABORTED); sense is cleared.
    pub fn complete(&mut self, status: u8) {
        let _ = self.set_sense(&[]);
        self.set_status(status);
        self.set_state(PacketState::Done);
    }

    /// The packet's bytes.
    pub fn as_bytes(&self) -> &[u8; PKT_BYTES] {
        &self.bytes
    }

    /// The packet's bytes, writable: the raw door-call view. Nothing stops a handler from
    /// writing input fields through it; the emulation module ([`crate::EmuModule`]) compares
    /// the input bytes before and after execution and fails a packet whose handler did.
    pub fn bytes_mut(&mut self) -> &mut [u8; PKT_BYTES] {
        &mut self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trip() {
        let cdb = [0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0];
        let p = EmuPacket::new(
            0x1122334455667788,
            3,
            &cdb,
            Direction::FromDevice,
            512,
            77,
            9,
        )
        .unwrap();
        let b = p.as_bytes();
        assert_eq!(b[TAG], 0x88);
        assert_eq!(b[TAG + 7], 0x11);
        assert_eq!(b[LUN], 3);
        assert_eq!(&b[CDB..CDB + 10], &cdb);
        assert_eq!(b[CDB_LEN], 10);
        assert_eq!(b[DIRECTION], 2);
        assert_eq!(&b[EXPECTED_LEN..EXPECTED_LEN + 4], &512u32.to_le_bytes());
        assert_eq!(b[INITIATOR], 77);
        assert_eq!(b[PORT], 9);
        assert!(b[52..].iter().all(|&x| x == 0));
        assert_eq!(p.tag(), 0x1122334455667788);
        assert_eq!(p.cdb(), &cdb);
        assert_eq!(p.direction(), Ok(Direction::FromDevice));
        assert_eq!(p.expected_len(), 512);
        assert_eq!(p.initiator(), 77);
        assert_eq!(p.port(), 9);
        assert_eq!(p.state(), Ok(PacketState::New));
        assert_eq!(PKT_BYTES, SENSE + SENSE_MAX);
    }

    #[test]
    fn cdb_length_refused() {
        assert_eq!(
            EmuPacket::new(1, 0, &[0u8; 17], Direction::None, 0, 0, 0),
            Err(PacketError::CdbLength(17))
        );
        assert_eq!(
            EmuPacket::new(1, 0, &[], Direction::None, 0, 0, 0),
            Err(PacketError::CdbLength(0))
        );
    }

    #[test]
    fn sense_and_outputs() {
        let mut p = EmuPacket::new(1, 0, &[0], Direction::None, 0, 0, 0).unwrap();
        p.check_condition(0x5, 0x24, 0x00);
        assert_eq!(p.status(), crate::status::CHECK_CONDITION);
        assert_eq!(p.sense_len(), 18);
        assert_eq!(p.sense()[0], 0x70);
        assert_eq!(p.sense()[7], 10);
        assert_eq!(p.sense_triplet(), Some((5, 0x24, 0)));
        assert_eq!(p.sense_information(), None);
        assert_eq!(p.state(), Ok(PacketState::Done));
        p.check_condition_info(0xE, 0x1D, 0, Some(513));
        assert_eq!(p.sense()[0], 0xF0);
        assert_eq!(p.sense_information(), Some(513));
        p.set_residual(RESIDUAL_UNDERFLOW, 100);
        p.set_data_in_len(36);
        assert_eq!(p.as_bytes()[RESIDUAL_FLAGS], 1);
        assert_eq!(p.residual(), 100);
        assert_eq!(p.data_in_len(), 36);
        p.good();
        assert_eq!(p.status(), 0);
        assert_eq!(p.sense_len(), 0);
        assert!(p.as_bytes()[SENSE..].iter().all(|&x| x == 0));
        assert!(p.set_sense(&[0; 97]).is_err());
        // Output setters never touch input bytes.
        let q = EmuPacket::new(1, 0, &[0], Direction::None, 0, 0, 0).unwrap();
        assert_eq!(&p.as_bytes()[..INPUT_END], &q.as_bytes()[..INPUT_END]);
    }

    #[test]
    fn enums_from_bytes() {
        assert_eq!(Direction::try_from(3), Ok(Direction::Bidirectional));
        assert!(Direction::try_from(4).is_err());
        assert_eq!(PacketState::try_from(1), Ok(PacketState::Executing));
        assert!(PacketState::try_from(9).is_err());
        let mut p = EmuPacket::new(1, 0, &[0], Direction::None, 0, 0, 0).unwrap();
        p.bytes_mut()[CDB_LEN] = 200;
        assert_eq!(p.cdb().len(), 16);
        p.bytes_mut()[SENSE_LEN] = 255;
        assert_eq!(p.sense().len(), 96);
    }
}
