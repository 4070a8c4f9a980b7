//! The 48-byte Basic Header Segment (RFC 7143 section 11.2) and the typed PDU headers.
//!
//! [`Bhs`] is a view over any byte buffer (smoltcp style): [`Bhs::new_checked`] validates the
//! length and the opcode once, after which no accessor can panic (they never panic anyway: a
//! short buffer made with [`Bhs::new_unchecked`] reads as zeros and ignores writes). The `Repr`
//! structs (one per PDU type) `parse` a `&[u8; 48]` and `emit` into a `&mut [u8; 48]`; `emit`
//! writes every byte of the header (reserved bytes as zero), including DataSegmentLength.
//!
//! Also here: the extended-CDB and bidirectional AHS of a SCSI Command, the CRC32C header and
//! data digests, padding and PDU-length arithmetic, and serial-number comparison.

use crate::error::{Error, Result};

/// Length of the Basic Header Segment.
pub const BHS_LEN: usize = 48;
/// Length of a header or data digest on the wire.
pub const DIGEST_LEN: usize = 4;
/// Largest value the 24-bit DataSegmentLength can hold.
pub const MAX_DATA_SEGMENT_LENGTH: u32 = (1 << 24) - 1;
/// The Initiator Task Tag value reserved for "no task" (unsolicited NOP-In, Reject, Async).
pub const RESERVED_TAG: u32 = 0xffff_ffff;

/// The PDU types of RFC 7143 section 11 (the low 6 bits of byte 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// NOP-Out (initiator): ping or answer to a NOP-In.
    NopOut = 0x00,
    /// SCSI Command (initiator).
    ScsiCommand = 0x01,
    /// SCSI Task Management Function Request (initiator).
    TaskMgmtRequest = 0x02,
    /// Login Request (initiator).
    LoginRequest = 0x03,
    /// Text Request (initiator).
    TextRequest = 0x04,
    /// SCSI Data-Out (initiator): write data.
    DataOut = 0x05,
    /// Logout Request (initiator).
    LogoutRequest = 0x06,
    /// SNACK Request (initiator).
    Snack = 0x10,
    /// NOP-In (target).
    NopIn = 0x20,
    /// SCSI Response (target).
    ScsiResponse = 0x21,
    /// SCSI Task Management Function Response (target).
    TaskMgmtResponse = 0x22,
    /// Login Response (target).
    LoginResponse = 0x23,
    /// Text Response (target).
    TextResponse = 0x24,
    /// SCSI Data-In (target): read data.
    DataIn = 0x25,
    /// Logout Response (target).
    LogoutResponse = 0x26,
    /// Ready To Transfer (target): solicits Data-Out.
    R2t = 0x31,
    /// Asynchronous Message (target).
    AsyncMessage = 0x32,
    /// Reject (target): the data segment is the rejected header.
    Reject = 0x3f,
}

impl Opcode {
    /// The opcode of a 6-bit value, or `None` if RFC 7143 does not define it.
    pub fn from_u8(value: u8) -> Option<Opcode> {
        Some(match value & 0x3f {
            0x00 => Opcode::NopOut,
            0x01 => Opcode::ScsiCommand,
            0x02 => Opcode::TaskMgmtRequest,
            0x03 => Opcode::LoginRequest,
            0x04 => Opcode::TextRequest,
            0x05 => Opcode::DataOut,
            0x06 => Opcode::LogoutRequest,
            0x10 => Opcode::Snack,
            0x20 => Opcode::NopIn,
            0x21 => Opcode::ScsiResponse,
            0x22 => Opcode::TaskMgmtResponse,
            0x23 => Opcode::LoginResponse,
            0x24 => Opcode::TextResponse,
            0x25 => Opcode::DataIn,
            0x26 => Opcode::LogoutResponse,
            0x31 => Opcode::R2t,
            0x32 => Opcode::AsyncMessage,
            0x3f => Opcode::Reject,
            _ => return None,
        })
    }

    /// True for the opcodes an initiator sends (0x00..=0x1f), which a target receives.
    pub fn is_initiator(self) -> bool {
        (self as u8) < 0x20
    }
}

impl TryFrom<u8> for Opcode {
    type Error = Error;
    fn try_from(value: u8) -> Result<Opcode> {
        Opcode::from_u8(value).ok_or(Error::UnknownOpcode(value & 0x3f))
    }
}

// ----- byte helpers on a fixed 48-byte header (constant offsets: no input-dependent panic) ---

fn get_u16(b: &[u8; BHS_LEN], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}
fn get_u24(b: &[u8; BHS_LEN], o: usize) -> u32 {
    u32::from_be_bytes([0, b[o], b[o + 1], b[o + 2]])
}
fn get_u32(b: &[u8; BHS_LEN], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn get_u64(b: &[u8; BHS_LEN], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_be_bytes(a)
}
fn put_u16(b: &mut [u8; BHS_LEN], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_be_bytes());
}
fn put_u24(b: &mut [u8; BHS_LEN], o: usize, v: u32) {
    b[o..o + 3].copy_from_slice(&v.to_be_bytes()[1..]);
}
fn put_u32(b: &mut [u8; BHS_LEN], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_be_bytes());
}
fn put_u64(b: &mut [u8; BHS_LEN], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_be_bytes());
}

/// Field offsets inside the BHS (RFC 7143 section 11), shared by the view and the reprs.
pub mod field {
    /// Byte 0: I bit (0x40) and the 6-bit opcode.
    pub const OPCODE: usize = 0;
    /// Byte 1: the F bit (0x80) and opcode-specific flags.
    pub const FLAGS: usize = 1;
    /// Bytes 2..4: opcode-specific (Response/Status, version max/min, ...).
    pub const SPECIFIC: usize = 2;
    /// Byte 4: TotalAHSLength in 4-byte words.
    pub const TOTAL_AHS_LENGTH: usize = 4;
    /// Bytes 5..8: DataSegmentLength (24 bits).
    pub const DATA_SEGMENT_LENGTH: usize = 5;
    /// Bytes 8..16: LUN, or ISID (8..14) and TSIH (14..16) in Login PDUs.
    pub const LUN: usize = 8;
    /// Bytes 14..16: TSIH in Login PDUs.
    pub const TSIH: usize = 14;
    /// Bytes 16..20: Initiator Task Tag.
    pub const ITT: usize = 16;
    /// Bytes 20..24: TTT / Expected Data Transfer Length / RTT / SNACK Tag / CID (u16).
    pub const WORD20: usize = 20;
    /// Bytes 24..28: CmdSN (requests) or StatSN (responses).
    pub const WORD24: usize = 24;
    /// Bytes 28..32: ExpStatSN (requests) or ExpCmdSN (responses).
    pub const WORD28: usize = 28;
    /// Bytes 32..36: MaxCmdSN (responses), RefCmdSN (TMF), start of the CDB (SCSI Command).
    pub const WORD32: usize = 32;
    /// Bytes 36..40: DataSN / R2TSN / ExpDataSN / status class+detail.
    pub const WORD36: usize = 36;
    /// Bytes 40..44: Buffer Offset / BegRun / bidi residual / Time2Wait+Time2Retain.
    pub const WORD40: usize = 40;
    /// Bytes 44..48: Residual Count / Desired Data Transfer Length / RunLength.
    pub const WORD44: usize = 44;
}

/// The F (final) bit of byte 1, shared by most PDU types.
pub const FLAG_FINAL: u8 = 0x80;
/// The I (immediate delivery) bit of byte 0.
pub const FLAG_IMMEDIATE: u8 = 0x40;

/// A read/write view of a Basic Header Segment over any buffer (the first 48 bytes are used).
///
/// Accessors never panic: after [`Bhs::new_checked`] all fields are in bounds; a short buffer
/// wrapped by [`Bhs::new_unchecked`] reads zeros and drops writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bhs<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Bhs<T> {
    /// Wraps a buffer without checking it (see [`Bhs::check_len`]).
    pub fn new_unchecked(buffer: T) -> Bhs<T> {
        Bhs { buffer }
    }

    /// Wraps a buffer after checking it holds 48 bytes and a defined opcode.
    pub fn new_checked(buffer: T) -> Result<Bhs<T>> {
        let bhs = Bhs::new_unchecked(buffer);
        bhs.check_len()?;
        bhs.opcode()?;
        Ok(bhs)
    }

    /// Checks the buffer is at least 48 bytes long.
    pub fn check_len(&self) -> Result<()> {
        let have = self.buffer.as_ref().len();
        if have < BHS_LEN {
            return Err(Error::Truncated {
                need: BHS_LEN,
                have,
            });
        }
        Ok(())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The 48 header bytes as an array, for the `Repr::parse` functions.
    pub fn header(&self) -> Result<&[u8; BHS_LEN]> {
        let b = self.buffer.as_ref();
        b.first_chunk::<BHS_LEN>().ok_or(Error::Truncated {
            need: BHS_LEN,
            have: b.len(),
        })
    }

    fn byte(&self, i: usize) -> u8 {
        self.buffer.as_ref().get(i).copied().unwrap_or(0)
    }

    fn be(&self, o: usize, n: usize) -> u64 {
        (o..o + n).fold(0u64, |acc, i| (acc << 8) | u64::from(self.byte(i)))
    }

    /// The raw 6-bit opcode.
    pub fn opcode_raw(&self) -> u8 {
        self.byte(field::OPCODE) & 0x3f
    }

    /// The opcode, or an error if it is not defined.
    pub fn opcode(&self) -> Result<Opcode> {
        Opcode::try_from(self.opcode_raw())
    }

    /// The I bit: immediate delivery (requests only).
    pub fn immediate(&self) -> bool {
        self.byte(field::OPCODE) & FLAG_IMMEDIATE != 0
    }

    /// The F bit (byte 1, bit 7); the T bit in Login PDUs.
    pub fn final_flag(&self) -> bool {
        self.byte(field::FLAGS) & FLAG_FINAL != 0
    }

    /// The whole flags byte (byte 1), F bit included.
    pub fn flags(&self) -> u8 {
        self.byte(field::FLAGS)
    }

    /// Byte 2 (Response, Version-max, Reject reason, ...).
    pub fn byte2(&self) -> u8 {
        self.byte(2)
    }

    /// Byte 3 (Status, Version-min/active, ...).
    pub fn byte3(&self) -> u8 {
        self.byte(3)
    }

    /// TotalAHSLength in 4-byte words.
    pub fn total_ahs_length(&self) -> u8 {
        self.byte(field::TOTAL_AHS_LENGTH)
    }

    /// TotalAHSLength in bytes.
    pub fn ahs_len_bytes(&self) -> usize {
        usize::from(self.total_ahs_length()) * 4
    }

    /// DataSegmentLength: payload bytes, excluding padding and digest.
    pub fn data_segment_length(&self) -> u32 {
        self.be(field::DATA_SEGMENT_LENGTH, 3) as u32
    }

    /// Checks DataSegmentLength against the receiver's limit.
    pub fn check_data_segment_length(&self, max: u32) -> Result<()> {
        let len = self.data_segment_length();
        if len > max {
            return Err(Error::DataSegmentTooLong { len, max });
        }
        Ok(())
    }

    /// Bytes 8..16 as a LUN (8-byte SAM encoding, big-endian).
    pub fn lun(&self) -> u64 {
        self.be(field::LUN, 8)
    }

    /// Bytes 8..14: the ISID (Login PDUs).
    pub fn isid(&self) -> [u8; 6] {
        let mut a = [0u8; 6];
        for (i, b) in a.iter_mut().enumerate() {
            *b = self.byte(field::LUN + i);
        }
        a
    }

    /// Bytes 14..16: the TSIH (Login PDUs).
    pub fn tsih(&self) -> u16 {
        self.be(field::TSIH, 2) as u16
    }

    /// Initiator Task Tag.
    pub fn itt(&self) -> u32 {
        self.be(field::ITT, 4) as u32
    }

    /// Bytes 20..24: Target Transfer Tag (Data-Out/In, R2T, NOP, Text, SNACK).
    pub fn ttt(&self) -> u32 {
        self.be(field::WORD20, 4) as u32
    }

    /// Bytes 20..24: Expected Data Transfer Length (SCSI Command).
    pub fn expected_data_transfer_length(&self) -> u32 {
        self.ttt()
    }

    /// Bytes 20..24: Referenced Task Tag (TMF Request).
    pub fn referenced_task_tag(&self) -> u32 {
        self.ttt()
    }

    /// Bytes 20..22: CID (Login and Logout Requests).
    pub fn cid(&self) -> u16 {
        self.be(field::WORD20, 2) as u16
    }

    /// Bytes 24..28: CmdSN (initiator PDUs).
    pub fn cmd_sn(&self) -> u32 {
        self.be(field::WORD24, 4) as u32
    }

    /// Bytes 24..28: StatSN (target PDUs).
    pub fn stat_sn(&self) -> u32 {
        self.cmd_sn()
    }

    /// Bytes 28..32: ExpStatSN (initiator PDUs).
    pub fn exp_stat_sn(&self) -> u32 {
        self.be(field::WORD28, 4) as u32
    }

    /// Bytes 28..32: ExpCmdSN (target PDUs).
    pub fn exp_cmd_sn(&self) -> u32 {
        self.exp_stat_sn()
    }

    /// Bytes 32..36: MaxCmdSN (target PDUs).
    pub fn max_cmd_sn(&self) -> u32 {
        self.be(field::WORD32, 4) as u32
    }

    /// Bytes 32..36: RefCmdSN (TMF Request).
    pub fn ref_cmd_sn(&self) -> u32 {
        self.max_cmd_sn()
    }

    /// Bytes 36..40: DataSN (Data-In/Out).
    pub fn data_sn(&self) -> u32 {
        self.be(field::WORD36, 4) as u32
    }

    /// Bytes 36..40: R2TSN (R2T).
    pub fn r2t_sn(&self) -> u32 {
        self.data_sn()
    }

    /// Bytes 36..40: ExpDataSN (SCSI Response, TMF Request).
    pub fn exp_data_sn(&self) -> u32 {
        self.data_sn()
    }

    /// Bytes 40..44: Buffer Offset (Data-In/Out, R2T).
    pub fn buffer_offset(&self) -> u32 {
        self.be(field::WORD40, 4) as u32
    }

    /// Bytes 44..48: Residual Count (SCSI Response, Data-In).
    pub fn residual_count(&self) -> u32 {
        self.be(field::WORD44, 4) as u32
    }

    /// Bytes 44..48: Desired Data Transfer Length (R2T).
    pub fn desired_data_transfer_length(&self) -> u32 {
        self.residual_count()
    }

    /// Bytes 32..48: the CDB (SCSI Command).
    pub fn cdb(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        for (i, b) in a.iter_mut().enumerate() {
            *b = self.byte(field::WORD32 + i);
        }
        a
    }

    /// Length of the whole PDU on the wire (BHS, AHS, header digest, padded data, data
    /// digest) given the digests negotiated on the connection.
    pub fn pdu_len(&self, header_digest: bool, data_digest: bool) -> usize {
        pdu_len(
            self.ahs_len_bytes(),
            self.data_segment_length(),
            header_digest,
            data_digest,
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Bhs<T> {
    fn set_byte(&mut self, i: usize, v: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(i) {
            *b = v;
        }
    }

    fn set_be(&mut self, o: usize, n: usize, v: u64) {
        for i in 0..n {
            self.set_byte(o + i, (v >> (8 * (n - 1 - i))) as u8);
        }
    }

    /// The 48 header bytes as a mutable array, for the `Repr::emit` functions.
    pub fn header_mut(&mut self) -> Result<&mut [u8; BHS_LEN]> {
        let b = self.buffer.as_mut();
        let have = b.len();
        b.first_chunk_mut::<BHS_LEN>().ok_or(Error::Truncated {
            need: BHS_LEN,
            have,
        })
    }

    /// Sets the opcode (keeps the I bit).
    pub fn set_opcode(&mut self, op: Opcode) {
        let b = self.byte(field::OPCODE) & FLAG_IMMEDIATE;
        self.set_byte(field::OPCODE, b | op as u8);
    }

    /// Sets the I bit.
    pub fn set_immediate(&mut self, on: bool) {
        let b = self.byte(field::OPCODE) & 0x3f;
        self.set_byte(field::OPCODE, b | if on { FLAG_IMMEDIATE } else { 0 });
    }

    /// Sets the whole flags byte (byte 1).
    pub fn set_flags(&mut self, v: u8) {
        self.set_byte(field::FLAGS, v);
    }

    /// Sets TotalAHSLength (4-byte words).
    pub fn set_total_ahs_length(&mut self, words: u8) {
        self.set_byte(field::TOTAL_AHS_LENGTH, words);
    }

    /// Sets DataSegmentLength (truncated to 24 bits).
    pub fn set_data_segment_length(&mut self, len: u32) {
        self.set_be(field::DATA_SEGMENT_LENGTH, 3, u64::from(len & 0xff_ffff));
    }

    /// Sets bytes 8..16 (LUN).
    pub fn set_lun(&mut self, lun: u64) {
        self.set_be(field::LUN, 8, lun);
    }

    /// Sets the Initiator Task Tag.
    pub fn set_itt(&mut self, v: u32) {
        self.set_be(field::ITT, 4, u64::from(v));
    }

    /// Sets bytes 20..24 (TTT and its aliases).
    pub fn set_ttt(&mut self, v: u32) {
        self.set_be(field::WORD20, 4, u64::from(v));
    }

    /// Sets bytes 24..28 (StatSN or CmdSN).
    pub fn set_stat_sn(&mut self, v: u32) {
        self.set_be(field::WORD24, 4, u64::from(v));
    }

    /// Sets bytes 28..32 (ExpCmdSN or ExpStatSN).
    pub fn set_exp_cmd_sn(&mut self, v: u32) {
        self.set_be(field::WORD28, 4, u64::from(v));
    }

    /// Sets bytes 32..36 (MaxCmdSN).
    pub fn set_max_cmd_sn(&mut self, v: u32) {
        self.set_be(field::WORD32, 4, u64::from(v));
    }
}

/// Checks the opcode of a header before a typed parse.
fn expect(b: &[u8; BHS_LEN], op: Opcode) -> Result<()> {
    let found = b[0] & 0x3f;
    if found != op as u8 {
        return Err(Error::WrongOpcode {
            expected: op,
            found,
        });
    }
    Ok(())
}

/// Starts an emit: zeroes the header and writes opcode, I bit and flags.
fn start(b: &mut [u8; BHS_LEN], op: Opcode, immediate: bool, flags: u8) {
    *b = [0; BHS_LEN];
    b[0] = op as u8 | if immediate { FLAG_IMMEDIATE } else { 0 };
    b[1] = flags;
}

fn dsl(b: &[u8; BHS_LEN]) -> u32 {
    get_u24(b, field::DATA_SEGMENT_LENGTH)
}

fn no_data(b: &[u8; BHS_LEN], op: Opcode) -> Result<()> {
    if dsl(b) != 0 {
        return Err(Error::UnexpectedData(op));
    }
    Ok(())
}

fn bit(b: u8, mask: u8) -> bool {
    b & mask != 0
}

fn flag(on: bool, mask: u8) -> u8 {
    if on {
        mask
    } else {
        0
    }
}

// ===================================== initiator PDUs =====================================

/// Task attribute of a SCSI Command (ATTR, byte 1 bits 0..3).
pub mod task_attr {
    /// Untagged.
    pub const UNTAGGED: u8 = 0;
    /// Simple.
    pub const SIMPLE: u8 = 1;
    /// Ordered.
    pub const ORDERED: u8 = 2;
    /// Head of queue.
    pub const HEAD_OF_QUEUE: u8 = 3;
    /// ACA.
    pub const ACA: u8 = 4;
}

/// SCSI Command (0x01, RFC 7143 section 11.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScsiCommand {
    /// I bit: immediate delivery.
    pub immediate: bool,
    /// F bit: no unsolicited Data-Out follows.
    pub final_: bool,
    /// R bit: data flows to the initiator.
    pub read: bool,
    /// W bit: data flows to the target.
    pub write: bool,
    /// ATTR: the task attribute ([`task_attr`]).
    pub attr: u8,
    /// TotalAHSLength in 4-byte words (extended CDB, bidirectional read length).
    pub total_ahs_length: u8,
    /// DataSegmentLength: immediate data bytes.
    pub data_segment_length: u32,
    /// Logical unit number (8-byte SAM encoding).
    pub lun: u64,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Expected Data Transfer Length (the write length for bidirectional commands).
    pub expected_data_transfer_length: u32,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
    /// The first 16 bytes of the CDB (the rest, if any, is in the extended-CDB AHS).
    pub cdb: [u8; 16],
}

impl ScsiCommand {
    /// Parses a SCSI Command header.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<ScsiCommand> {
        expect(b, Opcode::ScsiCommand)?;
        let mut cdb = [0u8; 16];
        cdb.copy_from_slice(&b[32..48]);
        Ok(ScsiCommand {
            immediate: bit(b[0], FLAG_IMMEDIATE),
            final_: bit(b[1], 0x80),
            read: bit(b[1], 0x40),
            write: bit(b[1], 0x20),
            attr: b[1] & 0x07,
            total_ahs_length: b[field::TOTAL_AHS_LENGTH],
            data_segment_length: dsl(b),
            lun: get_u64(b, field::LUN),
            itt: get_u32(b, field::ITT),
            expected_data_transfer_length: get_u32(b, field::WORD20),
            cmd_sn: get_u32(b, field::WORD24),
            exp_stat_sn: get_u32(b, field::WORD28),
            cdb,
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        let flags = flag(self.final_, 0x80)
            | flag(self.read, 0x40)
            | flag(self.write, 0x20)
            | (self.attr & 0x07);
        start(b, Opcode::ScsiCommand, self.immediate, flags);
        b[field::TOTAL_AHS_LENGTH] = self.total_ahs_length;
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.expected_data_transfer_length);
        put_u32(b, field::WORD24, self.cmd_sn);
        put_u32(b, field::WORD28, self.exp_stat_sn);
        b[32..48].copy_from_slice(&self.cdb);
    }
}

/// AHS type of the extended CDB (RFC 7143 section 11.2.2.3).
pub const AHS_EXTENDED_CDB: u8 = 1;
/// AHS type of the bidirectional expected read-data length (section 11.2.2.4).
pub const AHS_BIDI_READ_LENGTH: u8 = 2;
/// The longest CDB this crate accepts (16 in the BHS plus up to 244 in the AHS; SPC caps
/// variable-length CDBs at 260 bytes).
pub const MAX_CDB_LEN: usize = 260;

/// The additional header segments a SCSI Command may carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandAhs {
    /// CDB bytes beyond the first 16 (extended-CDB AHS), if present.
    pub extended_cdb: Option<Vec<u8>>,
    /// Expected read-data length of a bidirectional command, if present.
    pub bidi_read_length: Option<u32>,
}

impl CommandAhs {
    /// Parses the AHS bytes (exactly TotalAHSLength * 4 bytes following the BHS).
    pub fn parse(ahs: &[u8]) -> Result<CommandAhs> {
        let mut out = CommandAhs::default();
        let mut rest = ahs;
        while !rest.is_empty() {
            let [l0, l1, ty, ..] = *rest else {
                return Err(Error::BadAhs("header shorter than 4 bytes"));
            };
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            // AHSLength counts the bytes after AHSType (the reserved byte included).
            let total = 3 + len;
            let padded = total.next_multiple_of(4);
            let body = rest
                .get(3..total)
                .ok_or(Error::BadAhs("AHSLength past the end"))?;
            rest = rest.get(padded..).unwrap_or(&[]);
            match ty & 0x3f {
                AHS_EXTENDED_CDB => {
                    if out.extended_cdb.is_some() {
                        return Err(Error::BadAhs("two extended-CDB AHS"));
                    }
                    let cdb = body.get(1..).unwrap_or(&[]);
                    if cdb.is_empty() || cdb.len() + 16 > MAX_CDB_LEN {
                        return Err(Error::BadAhs("extended CDB length"));
                    }
                    out.extended_cdb = Some(cdb.to_vec());
                }
                AHS_BIDI_READ_LENGTH => {
                    if out.bidi_read_length.is_some() {
                        return Err(Error::BadAhs("two bidirectional AHS"));
                    }
                    let [_, a, b, c, d] = *body else {
                        return Err(Error::BadAhs("bidirectional AHSLength is not 5"));
                    };
                    out.bidi_read_length = Some(u32::from_be_bytes([a, b, c, d]));
                }
                _ => return Err(Error::BadAhs("unknown AHS type")),
            }
        }
        Ok(out)
    }

    /// The encoded AHS bytes (a multiple of 4; TotalAHSLength is `len / 4`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(ext) = &self.extended_cdb {
            let len = (ext.len() + 1) as u16;
            out.extend_from_slice(&len.to_be_bytes());
            out.push(AHS_EXTENDED_CDB);
            out.push(0);
            out.extend_from_slice(ext);
            out.resize(out.len().next_multiple_of(4), 0);
        }
        if let Some(len) = self.bidi_read_length {
            out.extend_from_slice(&[0, 5, AHS_BIDI_READ_LENGTH, 0]);
            out.extend_from_slice(&len.to_be_bytes());
        }
        out
    }

    /// The whole CDB: the 16 bytes of the BHS followed by the extended part.
    pub fn full_cdb(&self, bhs_cdb: &[u8; 16]) -> Vec<u8> {
        let mut cdb = bhs_cdb.to_vec();
        if let Some(ext) = &self.extended_cdb {
            cdb.extend_from_slice(ext);
        }
        cdb
    }
}

/// SCSI Data-Out (0x05, RFC 7143 section 11.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataOut {
    /// F bit: last PDU of the sequence.
    pub final_: bool,
    /// DataSegmentLength.
    pub data_segment_length: u32,
    /// LUN (copied from the R2T, or the command's for unsolicited data).
    pub lun: u64,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Target Transfer Tag (0xffffffff for unsolicited data).
    pub ttt: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
    /// DataSN within the sequence.
    pub data_sn: u32,
    /// Buffer Offset of this PDU's data in the command's buffer.
    pub buffer_offset: u32,
}

impl DataOut {
    /// Parses a Data-Out header.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<DataOut> {
        expect(b, Opcode::DataOut)?;
        Ok(DataOut {
            final_: bit(b[1], 0x80),
            data_segment_length: dsl(b),
            lun: get_u64(b, field::LUN),
            itt: get_u32(b, field::ITT),
            ttt: get_u32(b, field::WORD20),
            exp_stat_sn: get_u32(b, field::WORD28),
            data_sn: get_u32(b, field::WORD36),
            buffer_offset: get_u32(b, field::WORD40),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(b, Opcode::DataOut, false, flag(self.final_, 0x80));
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.ttt);
        put_u32(b, field::WORD28, self.exp_stat_sn);
        put_u32(b, field::WORD36, self.data_sn);
        put_u32(b, field::WORD40, self.buffer_offset);
    }
}

/// NOP-Out (0x00, RFC 7143 section 11.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NopOut {
    /// I bit.
    pub immediate: bool,
    /// DataSegmentLength (ping data).
    pub data_segment_length: u32,
    /// LUN (echoed when answering a NOP-In).
    pub lun: u64,
    /// ITT; 0xffffffff when answering a NOP-In (no response wanted).
    pub itt: u32,
    /// TTT: the NOP-In's TTT when answering one, else 0xffffffff.
    pub ttt: u32,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
}

impl NopOut {
    /// Parses a NOP-Out header.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<NopOut> {
        expect(b, Opcode::NopOut)?;
        Ok(NopOut {
            immediate: bit(b[0], FLAG_IMMEDIATE),
            data_segment_length: dsl(b),
            lun: get_u64(b, field::LUN),
            itt: get_u32(b, field::ITT),
            ttt: get_u32(b, field::WORD20),
            cmd_sn: get_u32(b, field::WORD24),
            exp_stat_sn: get_u32(b, field::WORD28),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(b, Opcode::NopOut, self.immediate, 0x80);
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.ttt);
        put_u32(b, field::WORD24, self.cmd_sn);
        put_u32(b, field::WORD28, self.exp_stat_sn);
    }
}

/// Task management function codes (RFC 7143 section 11.5.1).
pub mod tmf_function {
    /// ABORT TASK.
    pub const ABORT_TASK: u8 = 1;
    /// ABORT TASK SET.
    pub const ABORT_TASK_SET: u8 = 2;
    /// CLEAR ACA.
    pub const CLEAR_ACA: u8 = 3;
    /// CLEAR TASK SET.
    pub const CLEAR_TASK_SET: u8 = 4;
    /// LOGICAL UNIT RESET.
    pub const LOGICAL_UNIT_RESET: u8 = 5;
    /// TARGET WARM RESET.
    pub const TARGET_WARM_RESET: u8 = 6;
    /// TARGET COLD RESET.
    pub const TARGET_COLD_RESET: u8 = 7;
    /// TASK REASSIGN.
    pub const TASK_REASSIGN: u8 = 8;
}

/// Task Management Function Request (0x02, RFC 7143 section 11.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskMgmtRequest {
    /// I bit.
    pub immediate: bool,
    /// Function code ([`tmf_function`]), 7 bits.
    pub function: u8,
    /// LUN.
    pub lun: u64,
    /// Initiator Task Tag of this request.
    pub itt: u32,
    /// Referenced Task Tag (ABORT TASK), else 0xffffffff.
    pub referenced_task_tag: u32,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
    /// RefCmdSN: CmdSN of the referenced task.
    pub ref_cmd_sn: u32,
    /// ExpDataSN (TASK REASSIGN).
    pub exp_data_sn: u32,
}

impl TaskMgmtRequest {
    /// Parses a TMF Request header (it carries no data).
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<TaskMgmtRequest> {
        expect(b, Opcode::TaskMgmtRequest)?;
        no_data(b, Opcode::TaskMgmtRequest)?;
        Ok(TaskMgmtRequest {
            immediate: bit(b[0], FLAG_IMMEDIATE),
            function: b[1] & 0x7f,
            lun: get_u64(b, field::LUN),
            itt: get_u32(b, field::ITT),
            referenced_task_tag: get_u32(b, field::WORD20),
            cmd_sn: get_u32(b, field::WORD24),
            exp_stat_sn: get_u32(b, field::WORD28),
            ref_cmd_sn: get_u32(b, field::WORD32),
            exp_data_sn: get_u32(b, field::WORD36),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(
            b,
            Opcode::TaskMgmtRequest,
            self.immediate,
            0x80 | (self.function & 0x7f),
        );
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.referenced_task_tag);
        put_u32(b, field::WORD24, self.cmd_sn);
        put_u32(b, field::WORD28, self.exp_stat_sn);
        put_u32(b, field::WORD32, self.ref_cmd_sn);
        put_u32(b, field::WORD36, self.exp_data_sn);
    }
}

/// A login stage (CSG/NSG values, RFC 7143 section 11.12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Stage {
    /// 0: security negotiation.
    Security,
    /// 1: login operational negotiation.
    Operational,
    /// 3: full feature phase.
    FullFeature,
}

impl Stage {
    /// The 2-bit code of a stage.
    pub fn code(self) -> u8 {
        match self {
            Stage::Security => 0,
            Stage::Operational => 1,
            Stage::FullFeature => 3,
        }
    }

    /// The stage of a 2-bit code; 2 is reserved.
    pub fn from_code(code: u8) -> Result<Stage> {
        match code & 3 {
            0 => Ok(Stage::Security),
            1 => Ok(Stage::Operational),
            3 => Ok(Stage::FullFeature),
            _ => Err(Error::BadField("login stage 2 is reserved")),
        }
    }
}

/// Login Request (0x03, RFC 7143 section 11.12). Always sent with the I bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRequest {
    /// T bit: the initiator is ready to transit to `nsg`.
    pub transit: bool,
    /// C bit: the text continues in the next Login Request.
    pub continue_: bool,
    /// Current stage.
    pub csg: Stage,
    /// Next stage (meaningful only with `transit`; a reserved code reads as `Security`).
    pub nsg: Stage,
    /// Version-max.
    pub version_max: u8,
    /// Version-min.
    pub version_min: u8,
    /// DataSegmentLength (text bytes).
    pub data_segment_length: u32,
    /// Initiator Session ID.
    pub isid: [u8; 6],
    /// Target Session Identifying Handle: 0 for a new session.
    pub tsih: u16,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Connection ID.
    pub cid: u16,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
}

fn login_flags(transit: bool, cont: bool, csg: Stage, nsg: Stage) -> u8 {
    flag(transit, 0x80)
        | flag(cont, 0x40)
        | (csg.code() << 2)
        | if transit { nsg.code() } else { 0 }
}

fn login_stages(flags: u8) -> Result<(Stage, Stage)> {
    let csg = Stage::from_code((flags >> 2) & 3)?;
    let nsg = if bit(flags, 0x80) {
        Stage::from_code(flags & 3)?
    } else {
        Stage::Security
    };
    Ok((csg, nsg))
}

impl LoginRequest {
    /// Parses a Login Request header; a reserved stage code (2) is an error.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<LoginRequest> {
        expect(b, Opcode::LoginRequest)?;
        let (csg, nsg) = login_stages(b[1])?;
        let mut isid = [0u8; 6];
        isid.copy_from_slice(&b[8..14]);
        Ok(LoginRequest {
            transit: bit(b[1], 0x80),
            continue_: bit(b[1], 0x40),
            csg,
            nsg,
            version_max: b[2],
            version_min: b[3],
            data_segment_length: dsl(b),
            isid,
            tsih: get_u16(b, field::TSIH),
            itt: get_u32(b, field::ITT),
            cid: get_u16(b, field::WORD20),
            cmd_sn: get_u32(b, field::WORD24),
            exp_stat_sn: get_u32(b, field::WORD28),
        })
    }

    /// Writes the header (I bit set, as RFC 7143 requires).
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        let flags = login_flags(self.transit, self.continue_, self.csg, self.nsg);
        start(b, Opcode::LoginRequest, true, flags);
        b[2] = self.version_max;
        b[3] = self.version_min;
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        b[8..14].copy_from_slice(&self.isid);
        put_u16(b, field::TSIH, self.tsih);
        put_u32(b, field::ITT, self.itt);
        put_u16(b, field::WORD20, self.cid);
        put_u32(b, field::WORD24, self.cmd_sn);
        put_u32(b, field::WORD28, self.exp_stat_sn);
    }
}

/// Text Request (0x04, RFC 7143 section 11.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRequest {
    /// I bit.
    pub immediate: bool,
    /// F bit: last PDU of the request.
    pub final_: bool,
    /// C bit: the text continues in the next PDU.
    pub continue_: bool,
    /// DataSegmentLength.
    pub data_segment_length: u32,
    /// LUN (reserved, usually 0).
    pub lun: u64,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Target Transfer Tag: 0xffffffff to start, else the one of the target's last response.
    pub ttt: u32,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
}

impl TextRequest {
    /// Parses a Text Request header.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<TextRequest> {
        expect(b, Opcode::TextRequest)?;
        Ok(TextRequest {
            immediate: bit(b[0], FLAG_IMMEDIATE),
            final_: bit(b[1], 0x80),
            continue_: bit(b[1], 0x40),
            data_segment_length: dsl(b),
            lun: get_u64(b, field::LUN),
            itt: get_u32(b, field::ITT),
            ttt: get_u32(b, field::WORD20),
            cmd_sn: get_u32(b, field::WORD24),
            exp_stat_sn: get_u32(b, field::WORD28),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        let flags = flag(self.final_, 0x80) | flag(self.continue_, 0x40);
        start(b, Opcode::TextRequest, self.immediate, flags);
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.ttt);
        put_u32(b, field::WORD24, self.cmd_sn);
        put_u32(b, field::WORD28, self.exp_stat_sn);
    }
}

/// Logout reason codes (RFC 7143 section 11.14.1).
pub mod logout_reason {
    /// Close the session.
    pub const CLOSE_SESSION: u8 = 0;
    /// Close the connection.
    pub const CLOSE_CONNECTION: u8 = 1;
    /// Remove the connection for recovery.
    pub const REMOVE_FOR_RECOVERY: u8 = 2;
}

/// Logout Request (0x06, RFC 7143 section 11.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogoutRequest {
    /// I bit.
    pub immediate: bool,
    /// Reason code ([`logout_reason`]), 7 bits.
    pub reason: u8,
    /// Initiator Task Tag.
    pub itt: u32,
    /// CID of the connection to close (reasons 1 and 2).
    pub cid: u16,
    /// CmdSN.
    pub cmd_sn: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
}

impl LogoutRequest {
    /// Parses a Logout Request header (it carries no data).
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<LogoutRequest> {
        expect(b, Opcode::LogoutRequest)?;
        no_data(b, Opcode::LogoutRequest)?;
        Ok(LogoutRequest {
            immediate: bit(b[0], FLAG_IMMEDIATE),
            reason: b[1] & 0x7f,
            itt: get_u32(b, field::ITT),
            cid: get_u16(b, field::WORD20),
            cmd_sn: get_u32(b, field::WORD24),
            exp_stat_sn: get_u32(b, field::WORD28),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(
            b,
            Opcode::LogoutRequest,
            self.immediate,
            0x80 | (self.reason & 0x7f),
        );
        put_u32(b, field::ITT, self.itt);
        put_u16(b, field::WORD20, self.cid);
        put_u32(b, field::WORD24, self.cmd_sn);
        put_u32(b, field::WORD28, self.exp_stat_sn);
    }
}

/// SNACK types (RFC 7143 section 11.16.1).
pub mod snack_type {
    /// Data/R2T SNACK.
    pub const DATA_R2T: u8 = 0;
    /// Status SNACK.
    pub const STATUS: u8 = 1;
    /// DataACK.
    pub const DATA_ACK: u8 = 2;
    /// R-Data SNACK.
    pub const R_DATA: u8 = 3;
}

/// SNACK Request (0x10, RFC 7143 section 11.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snack {
    /// SNACK type ([`snack_type`]), 4 bits.
    pub type_: u8,
    /// LUN (DataACK), else reserved.
    pub lun: u64,
    /// Initiator Task Tag (0xffffffff for status SNACK).
    pub itt: u32,
    /// Target Transfer Tag or SNACK Tag.
    pub ttt: u32,
    /// ExpStatSN.
    pub exp_stat_sn: u32,
    /// BegRun: first DataSN, R2TSN or StatSN missing.
    pub beg_run: u32,
    /// RunLength: how many are missing (0: all after BegRun).
    pub run_length: u32,
}

impl Snack {
    /// Parses a SNACK header (it carries no data).
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<Snack> {
        expect(b, Opcode::Snack)?;
        no_data(b, Opcode::Snack)?;
        Ok(Snack {
            type_: b[1] & 0x0f,
            lun: get_u64(b, field::LUN),
            itt: get_u32(b, field::ITT),
            ttt: get_u32(b, field::WORD20),
            exp_stat_sn: get_u32(b, field::WORD28),
            beg_run: get_u32(b, field::WORD40),
            run_length: get_u32(b, field::WORD44),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(b, Opcode::Snack, false, 0x80 | (self.type_ & 0x0f));
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.ttt);
        put_u32(b, field::WORD28, self.exp_stat_sn);
        put_u32(b, field::WORD40, self.beg_run);
        put_u32(b, field::WORD44, self.run_length);
    }
}

// ====================================== target PDUs ======================================

/// The sequence numbers every target response carries (StatSN, ExpCmdSN, MaxCmdSN).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnTriple {
    /// StatSN (for Data-In only meaningful with the S bit; R2T: the next StatSN, unconsumed).
    pub stat_sn: u32,
    /// ExpCmdSN: the next CmdSN the target expects.
    pub exp_cmd_sn: u32,
    /// MaxCmdSN: the highest CmdSN the target will accept.
    pub max_cmd_sn: u32,
}

fn get_sns(b: &[u8; BHS_LEN]) -> SnTriple {
    SnTriple {
        stat_sn: get_u32(b, field::WORD24),
        exp_cmd_sn: get_u32(b, field::WORD28),
        max_cmd_sn: get_u32(b, field::WORD32),
    }
}

fn put_sns(b: &mut [u8; BHS_LEN], sn: &SnTriple) {
    put_u32(b, field::WORD24, sn.stat_sn);
    put_u32(b, field::WORD28, sn.exp_cmd_sn);
    put_u32(b, field::WORD32, sn.max_cmd_sn);
}

/// iSCSI Response codes of a SCSI Response (byte 2).
pub mod scsi_response {
    /// Command completed at target (the Status byte is valid).
    pub const COMPLETED: u8 = 0x00;
    /// Target failure.
    pub const TARGET_FAILURE: u8 = 0x01;
}

/// SCSI Response (0x21, RFC 7143 section 11.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScsiResponse {
    /// o bit: bidirectional read residual overflow.
    pub bidi_overflow: bool,
    /// u bit: bidirectional read residual underflow.
    pub bidi_underflow: bool,
    /// O bit: residual overflow.
    pub overflow: bool,
    /// U bit: residual underflow.
    pub underflow: bool,
    /// Response ([`scsi_response`]).
    pub response: u8,
    /// SCSI status (valid when `response` is COMPLETED).
    pub status: u8,
    /// DataSegmentLength: sense data (2-byte length + sense) or response data.
    pub data_segment_length: u32,
    /// Initiator Task Tag.
    pub itt: u32,
    /// SNACK Tag (0 unless answering an R-Data SNACK).
    pub snack_tag: u32,
    /// StatSN, ExpCmdSN, MaxCmdSN.
    pub sn: SnTriple,
    /// ExpDataSN: number of Data-In (and R2T) PDUs sent for the command.
    pub exp_data_sn: u32,
    /// Bidirectional Read Residual Count.
    pub bidi_residual_count: u32,
    /// Residual Count.
    pub residual_count: u32,
}

impl ScsiResponse {
    /// Parses a SCSI Response header.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<ScsiResponse> {
        expect(b, Opcode::ScsiResponse)?;
        Ok(ScsiResponse {
            bidi_overflow: bit(b[1], 0x10),
            bidi_underflow: bit(b[1], 0x08),
            overflow: bit(b[1], 0x04),
            underflow: bit(b[1], 0x02),
            response: b[2],
            status: b[3],
            data_segment_length: dsl(b),
            itt: get_u32(b, field::ITT),
            snack_tag: get_u32(b, field::WORD20),
            sn: get_sns(b),
            exp_data_sn: get_u32(b, field::WORD36),
            bidi_residual_count: get_u32(b, field::WORD40),
            residual_count: get_u32(b, field::WORD44),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        let flags = 0x80
            | flag(self.bidi_overflow, 0x10)
            | flag(self.bidi_underflow, 0x08)
            | flag(self.overflow, 0x04)
            | flag(self.underflow, 0x02);
        start(b, Opcode::ScsiResponse, false, flags);
        b[2] = self.response;
        b[3] = self.status;
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.snack_tag);
        put_sns(b, &self.sn);
        put_u32(b, field::WORD36, self.exp_data_sn);
        put_u32(b, field::WORD40, self.bidi_residual_count);
        put_u32(b, field::WORD44, self.residual_count);
    }
}

/// SCSI Data-In (0x25, RFC 7143 section 11.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataIn {
    /// F bit: last PDU of the sequence.
    pub final_: bool,
    /// A bit: the target asks for a DataACK SNACK (ErrorRecoveryLevel > 0).
    pub acknowledge: bool,
    /// O bit: residual overflow (valid with S).
    pub overflow: bool,
    /// U bit: residual underflow (valid with S).
    pub underflow: bool,
    /// S bit: the PDU carries the command's status (phase collapse); requires F.
    pub status_present: bool,
    /// SCSI status (valid with S).
    pub status: u8,
    /// DataSegmentLength.
    pub data_segment_length: u32,
    /// LUN (with A), else reserved.
    pub lun: u64,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Target Transfer Tag (with A), else 0xffffffff.
    pub ttt: u32,
    /// StatSN (valid with S), ExpCmdSN, MaxCmdSN.
    pub sn: SnTriple,
    /// DataSN.
    pub data_sn: u32,
    /// Buffer Offset.
    pub buffer_offset: u32,
    /// Residual Count (valid with S).
    pub residual_count: u32,
}

impl DataIn {
    /// Parses a Data-In header; S without F is an error (RFC 7143 section 11.7.3). Without
    /// S, the status, StatSN, O/U bits and residual are reserved and read as zero.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<DataIn> {
        expect(b, Opcode::DataIn)?;
        if bit(b[1], 0x01) && !bit(b[1], 0x80) {
            return Err(Error::BadField("Data-In S bit without F bit"));
        }
        let s = bit(b[1], 0x01);
        let mut sn = get_sns(b);
        if !s {
            sn.stat_sn = 0;
        }
        Ok(DataIn {
            final_: bit(b[1], 0x80),
            acknowledge: bit(b[1], 0x40),
            overflow: s && bit(b[1], 0x04),
            underflow: s && bit(b[1], 0x02),
            status_present: s,
            status: if s { b[3] } else { 0 },
            data_segment_length: dsl(b),
            lun: get_u64(b, field::LUN),
            itt: get_u32(b, field::ITT),
            ttt: get_u32(b, field::WORD20),
            sn,
            data_sn: get_u32(b, field::WORD36),
            buffer_offset: get_u32(b, field::WORD40),
            residual_count: if s { get_u32(b, field::WORD44) } else { 0 },
        })
    }

    /// Writes the header. Status, StatSN and residuals are written only with the S bit, as
    /// RFC 7143 reserves them otherwise.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        let s = self.status_present;
        let flags = flag(self.final_ || s, 0x80)
            | flag(self.acknowledge, 0x40)
            | flag(s && self.overflow, 0x04)
            | flag(s && self.underflow, 0x02)
            | flag(s, 0x01);
        start(b, Opcode::DataIn, false, flags);
        if s {
            b[3] = self.status;
        }
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.ttt);
        let mut sn = self.sn;
        if !s {
            sn.stat_sn = 0;
        }
        put_sns(b, &sn);
        put_u32(b, field::WORD36, self.data_sn);
        put_u32(b, field::WORD40, self.buffer_offset);
        put_u32(b, field::WORD44, if s { self.residual_count } else { 0 });
    }
}

/// Ready To Transfer (0x31, RFC 7143 section 11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct R2t {
    /// LUN.
    pub lun: u64,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Target Transfer Tag the Data-Out PDUs must carry.
    pub ttt: u32,
    /// StatSN (the next one, not consumed), ExpCmdSN, MaxCmdSN.
    pub sn: SnTriple,
    /// R2TSN.
    pub r2t_sn: u32,
    /// Buffer Offset of the solicited data.
    pub buffer_offset: u32,
    /// Desired Data Transfer Length (nonzero, at most MaxBurstLength).
    pub desired_data_transfer_length: u32,
}

impl R2t {
    /// Parses an R2T header (it carries no data).
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<R2t> {
        expect(b, Opcode::R2t)?;
        no_data(b, Opcode::R2t)?;
        Ok(R2t {
            lun: get_u64(b, field::LUN),
            itt: get_u32(b, field::ITT),
            ttt: get_u32(b, field::WORD20),
            sn: get_sns(b),
            r2t_sn: get_u32(b, field::WORD36),
            buffer_offset: get_u32(b, field::WORD40),
            desired_data_transfer_length: get_u32(b, field::WORD44),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(b, Opcode::R2t, false, 0x80);
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.ttt);
        put_sns(b, &self.sn);
        put_u32(b, field::WORD36, self.r2t_sn);
        put_u32(b, field::WORD40, self.buffer_offset);
        put_u32(b, field::WORD44, self.desired_data_transfer_length);
    }
}

/// NOP-In (0x20, RFC 7143 section 11.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NopIn {
    /// DataSegmentLength (echoed ping data).
    pub data_segment_length: u32,
    /// LUN.
    pub lun: u64,
    /// ITT of the NOP-Out answered, or 0xffffffff for a target ping.
    pub itt: u32,
    /// TTT: 0xffffffff when answering, else a tag the initiator must echo.
    pub ttt: u32,
    /// StatSN, ExpCmdSN, MaxCmdSN.
    pub sn: SnTriple,
}

impl NopIn {
    /// Parses a NOP-In header.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<NopIn> {
        expect(b, Opcode::NopIn)?;
        Ok(NopIn {
            data_segment_length: dsl(b),
            lun: get_u64(b, field::LUN),
            itt: get_u32(b, field::ITT),
            ttt: get_u32(b, field::WORD20),
            sn: get_sns(b),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(b, Opcode::NopIn, false, 0x80);
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.ttt);
        put_sns(b, &self.sn);
    }
}

/// TMF Response codes (RFC 7143 section 11.6.1).
pub mod tmf_response {
    /// Function complete.
    pub const COMPLETE: u8 = 0;
    /// Task does not exist.
    pub const TASK_DOES_NOT_EXIST: u8 = 1;
    /// LUN does not exist.
    pub const LUN_DOES_NOT_EXIST: u8 = 2;
    /// Task still allegiant.
    pub const TASK_STILL_ALLEGIANT: u8 = 3;
    /// Task allegiance reassignment not supported.
    pub const REASSIGNMENT_NOT_SUPPORTED: u8 = 4;
    /// Task management function not supported.
    pub const NOT_SUPPORTED: u8 = 5;
    /// Function authorization failed.
    pub const AUTHORIZATION_FAILED: u8 = 6;
    /// Function rejected.
    pub const REJECTED: u8 = 255;
}

/// Task Management Function Response (0x22, RFC 7143 section 11.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskMgmtResponse {
    /// Response ([`tmf_response`]).
    pub response: u8,
    /// Initiator Task Tag of the TMF Request.
    pub itt: u32,
    /// StatSN, ExpCmdSN, MaxCmdSN.
    pub sn: SnTriple,
}

impl TaskMgmtResponse {
    /// Parses a TMF Response header (it carries no data).
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<TaskMgmtResponse> {
        expect(b, Opcode::TaskMgmtResponse)?;
        no_data(b, Opcode::TaskMgmtResponse)?;
        Ok(TaskMgmtResponse {
            response: b[2],
            itt: get_u32(b, field::ITT),
            sn: get_sns(b),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(b, Opcode::TaskMgmtResponse, false, 0x80);
        b[2] = self.response;
        put_u32(b, field::ITT, self.itt);
        put_sns(b, &self.sn);
    }
}

/// Login Response status (class << 8 | detail), RFC 7143 section 11.13.5.
pub mod login_status {
    /// Success.
    pub const SUCCESS: u16 = 0x0000;
    /// Target moved temporarily (redirection).
    pub const TARGET_MOVED_TEMPORARILY: u16 = 0x0101;
    /// Target moved permanently (redirection).
    pub const TARGET_MOVED_PERMANENTLY: u16 = 0x0102;
    /// Initiator error (miscellaneous).
    pub const INITIATOR_ERROR: u16 = 0x0200;
    /// Authentication failure.
    pub const AUTHENTICATION_FAILURE: u16 = 0x0201;
    /// Authorization failure.
    pub const AUTHORIZATION_FAILURE: u16 = 0x0202;
    /// Target not found.
    pub const NOT_FOUND: u16 = 0x0203;
    /// Target removed.
    pub const TARGET_REMOVED: u16 = 0x0204;
    /// Unsupported version.
    pub const UNSUPPORTED_VERSION: u16 = 0x0205;
    /// Too many connections.
    pub const TOO_MANY_CONNECTIONS: u16 = 0x0206;
    /// Missing parameter.
    pub const MISSING_PARAMETER: u16 = 0x0207;
    /// Can't include in session.
    pub const CANT_INCLUDE_IN_SESSION: u16 = 0x0208;
    /// Session type not supported.
    pub const SESSION_TYPE_NOT_SUPPORTED: u16 = 0x0209;
    /// Session does not exist.
    pub const SESSION_DOES_NOT_EXIST: u16 = 0x020a;
    /// Invalid request type during login.
    pub const INVALID_DURING_LOGIN: u16 = 0x020b;
    /// Target error (miscellaneous).
    pub const TARGET_ERROR: u16 = 0x0300;
    /// Service unavailable.
    pub const SERVICE_UNAVAILABLE: u16 = 0x0301;
    /// Out of resources.
    pub const OUT_OF_RESOURCES: u16 = 0x0302;
}

/// Login Response (0x23, RFC 7143 section 11.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginResponse {
    /// T bit: the target agrees to transit to `nsg`.
    pub transit: bool,
    /// C bit: the text continues in the next Login Response.
    pub continue_: bool,
    /// Current stage.
    pub csg: Stage,
    /// Next stage (meaningful only with `transit`).
    pub nsg: Stage,
    /// Version-max (0x00).
    pub version_max: u8,
    /// Version-active (0x00).
    pub version_active: u8,
    /// DataSegmentLength (text bytes).
    pub data_segment_length: u32,
    /// ISID, echoed.
    pub isid: [u8; 6],
    /// TSIH: the session's handle in the final response, else 0 (or the request's).
    pub tsih: u16,
    /// Initiator Task Tag, echoed.
    pub itt: u32,
    /// StatSN, ExpCmdSN, MaxCmdSN.
    pub sn: SnTriple,
    /// Status-Class (byte 36).
    pub status_class: u8,
    /// Status-Detail (byte 37).
    pub status_detail: u8,
}

impl LoginResponse {
    /// The status as one number (class << 8 | detail), as in [`login_status`].
    pub fn status(&self) -> u16 {
        u16::from(self.status_class) << 8 | u16::from(self.status_detail)
    }

    /// Parses a Login Response header.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<LoginResponse> {
        expect(b, Opcode::LoginResponse)?;
        let (csg, nsg) = login_stages(b[1])?;
        let mut isid = [0u8; 6];
        isid.copy_from_slice(&b[8..14]);
        Ok(LoginResponse {
            transit: bit(b[1], 0x80),
            continue_: bit(b[1], 0x40),
            csg,
            nsg,
            version_max: b[2],
            version_active: b[3],
            data_segment_length: dsl(b),
            isid,
            tsih: get_u16(b, field::TSIH),
            itt: get_u32(b, field::ITT),
            sn: get_sns(b),
            status_class: b[36],
            status_detail: b[37],
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        let flags = login_flags(self.transit, self.continue_, self.csg, self.nsg);
        start(b, Opcode::LoginResponse, false, flags);
        b[2] = self.version_max;
        b[3] = self.version_active;
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        b[8..14].copy_from_slice(&self.isid);
        put_u16(b, field::TSIH, self.tsih);
        put_u32(b, field::ITT, self.itt);
        put_sns(b, &self.sn);
        b[36] = self.status_class;
        b[37] = self.status_detail;
    }
}

/// Text Response (0x24, RFC 7143 section 11.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextResponse {
    /// F bit: last response of the exchange.
    pub final_: bool,
    /// C bit: the text continues in the next response.
    pub continue_: bool,
    /// DataSegmentLength.
    pub data_segment_length: u32,
    /// LUN (reserved).
    pub lun: u64,
    /// Initiator Task Tag, echoed.
    pub itt: u32,
    /// TTT: 0xffffffff with F, else a tag the initiator echoes to continue.
    pub ttt: u32,
    /// StatSN, ExpCmdSN, MaxCmdSN.
    pub sn: SnTriple,
}

impl TextResponse {
    /// Parses a Text Response header.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<TextResponse> {
        expect(b, Opcode::TextResponse)?;
        Ok(TextResponse {
            final_: bit(b[1], 0x80),
            continue_: bit(b[1], 0x40),
            data_segment_length: dsl(b),
            lun: get_u64(b, field::LUN),
            itt: get_u32(b, field::ITT),
            ttt: get_u32(b, field::WORD20),
            sn: get_sns(b),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        let flags = flag(self.final_, 0x80) | flag(self.continue_, 0x40);
        start(b, Opcode::TextResponse, false, flags);
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, self.itt);
        put_u32(b, field::WORD20, self.ttt);
        put_sns(b, &self.sn);
    }
}

/// Logout Response codes (RFC 7143 section 11.15.1).
pub mod logout_response {
    /// Connection or session closed successfully.
    pub const CLOSED: u8 = 0;
    /// CID not found.
    pub const CID_NOT_FOUND: u8 = 1;
    /// Connection recovery is not supported.
    pub const RECOVERY_NOT_SUPPORTED: u8 = 2;
    /// Cleanup failed for various reasons.
    pub const CLEANUP_FAILED: u8 = 3;
}

/// Logout Response (0x26, RFC 7143 section 11.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogoutResponse {
    /// Response ([`logout_response`]).
    pub response: u8,
    /// Initiator Task Tag, echoed.
    pub itt: u32,
    /// StatSN, ExpCmdSN, MaxCmdSN.
    pub sn: SnTriple,
    /// Time2Wait (seconds).
    pub time2wait: u16,
    /// Time2Retain (seconds).
    pub time2retain: u16,
}

impl LogoutResponse {
    /// Parses a Logout Response header (it carries no data).
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<LogoutResponse> {
        expect(b, Opcode::LogoutResponse)?;
        no_data(b, Opcode::LogoutResponse)?;
        Ok(LogoutResponse {
            response: b[2],
            itt: get_u32(b, field::ITT),
            sn: get_sns(b),
            time2wait: get_u16(b, field::WORD40),
            time2retain: get_u16(b, field::WORD40 + 2),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(b, Opcode::LogoutResponse, false, 0x80);
        b[2] = self.response;
        put_u32(b, field::ITT, self.itt);
        put_sns(b, &self.sn);
        put_u16(b, field::WORD40, self.time2wait);
        put_u16(b, field::WORD40 + 2, self.time2retain);
    }
}

/// Reject reasons (RFC 7143 section 11.17.1).
pub mod reject_reason {
    /// Data (payload) digest error.
    pub const DATA_DIGEST_ERROR: u8 = 0x02;
    /// SNACK reject.
    pub const SNACK_REJECT: u8 = 0x03;
    /// Protocol error.
    pub const PROTOCOL_ERROR: u8 = 0x04;
    /// Command not supported.
    pub const COMMAND_NOT_SUPPORTED: u8 = 0x05;
    /// Immediate command rejected: too many immediate commands.
    pub const IMMEDIATE_COMMAND_REJECT: u8 = 0x06;
    /// Task in progress.
    pub const TASK_IN_PROGRESS: u8 = 0x07;
    /// Invalid data ACK.
    pub const INVALID_DATA_ACK: u8 = 0x08;
    /// Invalid PDU field.
    pub const INVALID_PDU_FIELD: u8 = 0x09;
    /// Long operation reject: out of resources.
    pub const LONG_OPERATION_REJECT: u8 = 0x0a;
    /// Deprecated (negotiation reset).
    pub const NEGOTIATION_RESET: u8 = 0x0b;
    /// Waiting for logout.
    pub const WAITING_FOR_LOGOUT: u8 = 0x0c;
}

/// Reject (0x3f, RFC 7143 section 11.17). The data segment is the rejected PDU's BHS
/// (48 bytes), so `data_segment_length` is normally 48.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject {
    /// Reason ([`reject_reason`]).
    pub reason: u8,
    /// DataSegmentLength (48: the rejected header).
    pub data_segment_length: u32,
    /// StatSN, ExpCmdSN, MaxCmdSN.
    pub sn: SnTriple,
    /// DataSN/R2TSN (only for a rejected SNACK), else 0.
    pub data_sn: u32,
}

impl Reject {
    /// Parses a Reject header.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<Reject> {
        expect(b, Opcode::Reject)?;
        Ok(Reject {
            reason: b[2],
            data_segment_length: dsl(b),
            sn: get_sns(b),
            data_sn: get_u32(b, field::WORD36),
        })
    }

    /// Writes the header (ITT is the reserved tag 0xffffffff).
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(b, Opcode::Reject, false, 0x80);
        b[2] = self.reason;
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        put_u32(b, field::ITT, RESERVED_TAG);
        put_sns(b, &self.sn);
        put_u32(b, field::WORD36, self.data_sn);
    }
}

/// Asynchronous events (RFC 7143 section 11.9.1).
pub mod async_event {
    /// SCSI asynchronous event (sense data in the data segment).
    pub const SCSI_EVENT: u8 = 0;
    /// The target requests a logout.
    pub const LOGOUT_REQUEST: u8 = 1;
    /// The target will drop a connection.
    pub const CONNECTION_DROP: u8 = 2;
    /// The target will drop all connections of the session.
    pub const SESSION_DROP: u8 = 3;
    /// The target requests parameter negotiation.
    pub const NEGOTIATION_REQUEST: u8 = 4;
    /// The target will terminate a task (RFC 7143).
    pub const TASK_TERMINATION: u8 = 5;
    /// Vendor-specific event.
    pub const VENDOR: u8 = 255;
}

/// Asynchronous Message (0x32, RFC 7143 section 11.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncMessage {
    /// DataSegmentLength (sense data and/or vendor data).
    pub data_segment_length: u32,
    /// LUN (SCSI events).
    pub lun: u64,
    /// StatSN, ExpCmdSN, MaxCmdSN.
    pub sn: SnTriple,
    /// AsyncEvent ([`async_event`]).
    pub event: u8,
    /// AsyncVCode (vendor code).
    pub vcode: u8,
    /// Parameter1.
    pub parameter1: u16,
    /// Parameter2.
    pub parameter2: u16,
    /// Parameter3.
    pub parameter3: u16,
}

impl AsyncMessage {
    /// Parses an Asynchronous Message header.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<AsyncMessage> {
        expect(b, Opcode::AsyncMessage)?;
        Ok(AsyncMessage {
            data_segment_length: dsl(b),
            lun: get_u64(b, field::LUN),
            sn: get_sns(b),
            event: b[36],
            vcode: b[37],
            parameter1: get_u16(b, 38),
            parameter2: get_u16(b, 40),
            parameter3: get_u16(b, 42),
        })
    }

    /// Writes the header (ITT is the reserved tag 0xffffffff).
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        start(b, Opcode::AsyncMessage, false, 0x80);
        put_u24(b, field::DATA_SEGMENT_LENGTH, self.data_segment_length);
        put_u64(b, field::LUN, self.lun);
        put_u32(b, field::ITT, RESERVED_TAG);
        put_sns(b, &self.sn);
        b[36] = self.event;
        b[37] = self.vcode;
        put_u16(b, 38, self.parameter1);
        put_u16(b, 40, self.parameter2);
        put_u16(b, 42, self.parameter3);
    }
}

// ================================= any PDU, by opcode =====================================

/// A parsed header of any type, for code that dispatches on the opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pdu {
    /// NOP-Out.
    NopOut(NopOut),
    /// SCSI Command.
    ScsiCommand(ScsiCommand),
    /// TMF Request.
    TaskMgmtRequest(TaskMgmtRequest),
    /// Login Request.
    LoginRequest(LoginRequest),
    /// Text Request.
    TextRequest(TextRequest),
    /// Data-Out.
    DataOut(DataOut),
    /// Logout Request.
    LogoutRequest(LogoutRequest),
    /// SNACK.
    Snack(Snack),
    /// NOP-In.
    NopIn(NopIn),
    /// SCSI Response.
    ScsiResponse(ScsiResponse),
    /// TMF Response.
    TaskMgmtResponse(TaskMgmtResponse),
    /// Login Response.
    LoginResponse(LoginResponse),
    /// Text Response.
    TextResponse(TextResponse),
    /// Data-In.
    DataIn(DataIn),
    /// Logout Response.
    LogoutResponse(LogoutResponse),
    /// R2T.
    R2t(R2t),
    /// Asynchronous Message.
    AsyncMessage(AsyncMessage),
    /// Reject.
    Reject(Reject),
}

impl Pdu {
    /// Parses a header of any type.
    pub fn parse(b: &[u8; BHS_LEN]) -> Result<Pdu> {
        Ok(match Opcode::try_from(b[0])? {
            Opcode::NopOut => Pdu::NopOut(NopOut::parse(b)?),
            Opcode::ScsiCommand => Pdu::ScsiCommand(ScsiCommand::parse(b)?),
            Opcode::TaskMgmtRequest => Pdu::TaskMgmtRequest(TaskMgmtRequest::parse(b)?),
            Opcode::LoginRequest => Pdu::LoginRequest(LoginRequest::parse(b)?),
            Opcode::TextRequest => Pdu::TextRequest(TextRequest::parse(b)?),
            Opcode::DataOut => Pdu::DataOut(DataOut::parse(b)?),
            Opcode::LogoutRequest => Pdu::LogoutRequest(LogoutRequest::parse(b)?),
            Opcode::Snack => Pdu::Snack(Snack::parse(b)?),
            Opcode::NopIn => Pdu::NopIn(NopIn::parse(b)?),
            Opcode::ScsiResponse => Pdu::ScsiResponse(ScsiResponse::parse(b)?),
            Opcode::TaskMgmtResponse => Pdu::TaskMgmtResponse(TaskMgmtResponse::parse(b)?),
            Opcode::LoginResponse => Pdu::LoginResponse(LoginResponse::parse(b)?),
            Opcode::TextResponse => Pdu::TextResponse(TextResponse::parse(b)?),
            Opcode::DataIn => Pdu::DataIn(DataIn::parse(b)?),
            Opcode::LogoutResponse => Pdu::LogoutResponse(LogoutResponse::parse(b)?),
            Opcode::R2t => Pdu::R2t(R2t::parse(b)?),
            Opcode::AsyncMessage => Pdu::AsyncMessage(AsyncMessage::parse(b)?),
            Opcode::Reject => Pdu::Reject(Reject::parse(b)?),
        })
    }

    /// Writes the header.
    pub fn emit(&self, b: &mut [u8; BHS_LEN]) {
        match self {
            Pdu::NopOut(p) => p.emit(b),
            Pdu::ScsiCommand(p) => p.emit(b),
            Pdu::TaskMgmtRequest(p) => p.emit(b),
            Pdu::LoginRequest(p) => p.emit(b),
            Pdu::TextRequest(p) => p.emit(b),
            Pdu::DataOut(p) => p.emit(b),
            Pdu::LogoutRequest(p) => p.emit(b),
            Pdu::Snack(p) => p.emit(b),
            Pdu::NopIn(p) => p.emit(b),
            Pdu::ScsiResponse(p) => p.emit(b),
            Pdu::TaskMgmtResponse(p) => p.emit(b),
            Pdu::LoginResponse(p) => p.emit(b),
            Pdu::TextResponse(p) => p.emit(b),
            Pdu::DataIn(p) => p.emit(b),
            Pdu::LogoutResponse(p) => p.emit(b),
            Pdu::R2t(p) => p.emit(b),
            Pdu::AsyncMessage(p) => p.emit(b),
            Pdu::Reject(p) => p.emit(b),
        }
    }
}

// ============================ digests, lengths, sequence numbers =========================

/// CRC32C (Castagnoli) of the header bytes (BHS and AHS), the HeaderDigest=CRC32C value.
pub fn header_digest(header: &[u8]) -> u32 {
    crc32c::crc32c(header)
}

/// CRC32C of a data segment including its padding to a multiple of 4 (RFC 7143 section
/// 11.1: the data digest covers the pad bytes, which are zero); `data` is the unpadded payload.
pub fn data_digest(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    let pad = [0u8; 3];
    crc32c::crc32c_append(crc, &pad[..pad_len(data.len())])
}

/// The four wire bytes of a digest: the CRC32C value in little-endian order, as RFC 3720
/// appendix B.4 shows (32 zero bytes give `aa 36 91 8a`, the value 0x8a9136aa) and as
/// libiscsi and Linux write it.
pub fn digest_to_wire(digest: u32) -> [u8; DIGEST_LEN] {
    digest.to_le_bytes()
}

/// The digest value of four wire bytes (see [`digest_to_wire`]).
pub fn digest_from_wire(bytes: [u8; DIGEST_LEN]) -> u32 {
    u32::from_le_bytes(bytes)
}

/// Checks a received digest (`wire`, the 4 bytes after the covered bytes) against `computed`.
pub fn check_digest(computed: u32, wire: [u8; DIGEST_LEN]) -> Result<()> {
    let received = digest_from_wire(wire);
    if computed != received {
        return Err(Error::DigestMismatch { computed, received });
    }
    Ok(())
}

/// Pad bytes after a segment of `len` bytes (0..=3) to reach a multiple of 4.
pub fn pad_len(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// `len` rounded up to a multiple of 4.
pub fn padded_len(len: usize) -> usize {
    len + pad_len(len)
}

/// Length on the wire of a PDU with `ahs_len` AHS bytes and `data_segment_length` data bytes,
/// given the negotiated digests (a data digest is present only when there is data).
pub fn pdu_len(
    ahs_len: usize,
    data_segment_length: u32,
    header_digest: bool,
    data_digest: bool,
) -> usize {
    let data = data_segment_length as usize;
    BHS_LEN
        + ahs_len
        + if header_digest { DIGEST_LEN } else { 0 }
        + padded_len(data)
        + if data_digest && data > 0 {
            DIGEST_LEN
        } else {
            0
        }
}

/// Serial-number arithmetic (RFC 1982, SERIAL_BITS = 32) for CmdSN, StatSN, DataSN, R2TSN.
///
/// `a < b` when `b` is ahead of `a` by less than 2^31; at exactly 2^31 apart neither is less.
pub fn sn_lt(a: u32, b: u32) -> bool {
    let d = b.wrapping_sub(a);
    d != 0 && d < 0x8000_0000
}

/// `a <= b` in serial-number arithmetic.
pub fn sn_le(a: u32, b: u32) -> bool {
    a == b || sn_lt(a, b)
}

/// `a > b` in serial-number arithmetic.
pub fn sn_gt(a: u32, b: u32) -> bool {
    sn_lt(b, a)
}

/// `a >= b` in serial-number arithmetic.
pub fn sn_ge(a: u32, b: u32) -> bool {
    a == b || sn_lt(b, a)
}

/// True when `sn` lies in the window `[lo, hi]` of serial numbers (e.g. ExpCmdSN..=MaxCmdSN).
pub fn sn_in_window(sn: u32, lo: u32, hi: u32) -> bool {
    sn_le(lo, sn) && sn_le(sn, hi)
}
