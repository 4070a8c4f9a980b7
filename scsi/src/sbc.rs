//! The block command set: [`BlockLu`], a direct-access logical unit (SPC-4 / SBC-3).
//!
//! The logical unit keeps only its *state* (mode parameters, unit attentions, persistent
//! reservations, the logical block provisioning map); the medium's data moves through the
//! command's [`CmdIo`]. Many packets execute at once on different worker threads, so the state
//! sits behind one `Mutex`, held briefly and never across a `CmdIo` call. COMPARE AND WRITE is
//! atomic against every other medium write through an `RwLock`: writes hold it shared,
//! COMPARE AND WRITE exclusive.
//!
//! Order of checks for a command: the operation code (and service action) is known and the
//! CDB long enough, then a pending unit attention of the nexus is reported (except for
//! INQUIRY, REPORT LUNS and REQUEST SENSE), then a persistent reservation conflict (SPC-4
//! 5.12.2 table), then the command's own CDB fields, the LBA range (before any data moves),
//! and the data.
//!
//! Residuals follow SAM-5 / RFC 7143: the command's own transfer length (the CDB's blocks, or
//! the allocation length capped by the data available) is compared with the packet's expected
//! length; the smaller is moved, and the difference reported as underflow or overflow.
//!
//! Persistent reservations are keyed by the packet's INITIATOR (the I_T nexus id): the
//! transport must give one initiator port (iSCSI name + ISID) through one target port the
//! same id across sessions, so registrations follow the nexus as SPC-4 says.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, RwLock};

use crate::packet::EmuPacket;
use crate::{iscsi_transport_id, status, CmdIo, IoError, LuHandler, TmFunction};

/// Operation codes the logical unit implements.
pub mod opcode {
    /// TEST UNIT READY.
    pub const TEST_UNIT_READY: u8 = 0x00;
    /// REQUEST SENSE.
    pub const REQUEST_SENSE: u8 = 0x03;
    /// READ(6).
    pub const READ_6: u8 = 0x08;
    /// WRITE(6).
    pub const WRITE_6: u8 = 0x0A;
    /// INQUIRY.
    pub const INQUIRY: u8 = 0x12;
    /// MODE SELECT(6).
    pub const MODE_SELECT_6: u8 = 0x15;
    /// MODE SENSE(6).
    pub const MODE_SENSE_6: u8 = 0x1A;
    /// START STOP UNIT.
    pub const START_STOP_UNIT: u8 = 0x1B;
    /// PREVENT ALLOW MEDIUM REMOVAL.
    pub const PREVENT_ALLOW: u8 = 0x1E;
    /// READ CAPACITY(10).
    pub const READ_CAPACITY_10: u8 = 0x25;
    /// READ(10).
    pub const READ_10: u8 = 0x28;
    /// WRITE(10).
    pub const WRITE_10: u8 = 0x2A;
    /// WRITE AND VERIFY(10).
    pub const WRITE_VERIFY_10: u8 = 0x2E;
    /// VERIFY(10).
    pub const VERIFY_10: u8 = 0x2F;
    /// PRE-FETCH(10).
    pub const PREFETCH_10: u8 = 0x34;
    /// SYNCHRONIZE CACHE(10).
    pub const SYNC_CACHE_10: u8 = 0x35;
    /// WRITE SAME(10).
    pub const WRITE_SAME_10: u8 = 0x41;
    /// UNMAP.
    pub const UNMAP: u8 = 0x42;
    /// MODE SELECT(10).
    pub const MODE_SELECT_10: u8 = 0x55;
    /// MODE SENSE(10).
    pub const MODE_SENSE_10: u8 = 0x5A;
    /// PERSISTENT RESERVE IN.
    pub const PR_IN: u8 = 0x5E;
    /// PERSISTENT RESERVE OUT.
    pub const PR_OUT: u8 = 0x5F;
    /// READ(16).
    pub const READ_16: u8 = 0x88;
    /// COMPARE AND WRITE.
    pub const COMPARE_AND_WRITE: u8 = 0x89;
    /// WRITE(16).
    pub const WRITE_16: u8 = 0x8A;
    /// WRITE AND VERIFY(16).
    pub const WRITE_VERIFY_16: u8 = 0x8E;
    /// VERIFY(16).
    pub const VERIFY_16: u8 = 0x8F;
    /// PRE-FETCH(16).
    pub const PREFETCH_16: u8 = 0x90;
    /// SYNCHRONIZE CACHE(16).
    pub const SYNC_CACHE_16: u8 = 0x91;
    /// WRITE SAME(16).
    pub const WRITE_SAME_16: u8 = 0x93;
    /// SERVICE ACTION IN(16): READ CAPACITY(16) (0x10), GET LBA STATUS (0x12).
    pub const SERVICE_ACTION_IN_16: u8 = 0x9E;
    /// REPORT LUNS.
    pub const REPORT_LUNS: u8 = 0xA0;
    /// MAINTENANCE IN: REPORT SUPPORTED OPERATION CODES (0x0C).
    pub const MAINTENANCE_IN: u8 = 0xA3;
    /// READ(12).
    pub const READ_12: u8 = 0xA8;
    /// WRITE(12).
    pub const WRITE_12: u8 = 0xAA;
    /// WRITE AND VERIFY(12).
    pub const WRITE_VERIFY_12: u8 = 0xAE;
    /// VERIFY(12).
    pub const VERIFY_12: u8 = 0xAF;
    /// Service action of READ CAPACITY(16).
    pub const SA_READ_CAPACITY_16: u16 = 0x10;
    /// Service action of GET LBA STATUS.
    pub const SA_GET_LBA_STATUS: u16 = 0x12;
    /// Service action of REPORT SUPPORTED OPERATION CODES.
    pub const SA_REPORT_OPCODES: u16 = 0x0C;
}

/// Sense keys.
pub mod sense_key {
    /// NO SENSE.
    pub const NO_SENSE: u8 = 0x0;
    /// MEDIUM ERROR.
    pub const MEDIUM_ERROR: u8 = 0x3;
    /// HARDWARE ERROR.
    pub const HARDWARE_ERROR: u8 = 0x4;
    /// ILLEGAL REQUEST.
    pub const ILLEGAL_REQUEST: u8 = 0x5;
    /// UNIT ATTENTION.
    pub const UNIT_ATTENTION: u8 = 0x6;
    /// DATA PROTECT.
    pub const DATA_PROTECT: u8 = 0x7;
    /// ABORTED COMMAND.
    pub const ABORTED_COMMAND: u8 = 0xB;
    /// MISCOMPARE.
    pub const MISCOMPARE: u8 = 0xE;
}

/// Additional sense codes (ASC, ASCQ) the logical unit reports.
pub mod asc {
    /// WRITE ERROR.
    pub const WRITE_ERROR: (u8, u8) = (0x0C, 0x00);
    /// UNRECOVERED READ ERROR.
    pub const READ_ERROR: (u8, u8) = (0x11, 0x00);
    /// PARAMETER LIST LENGTH ERROR.
    pub const PARAMETER_LIST_LENGTH: (u8, u8) = (0x1A, 0x00);
    /// MISCOMPARE DURING VERIFY OPERATION.
    pub const MISCOMPARE_VERIFY: (u8, u8) = (0x1D, 0x00);
    /// INVALID COMMAND OPERATION CODE.
    pub const INVALID_OPCODE: (u8, u8) = (0x20, 0x00);
    /// LOGICAL BLOCK ADDRESS OUT OF RANGE.
    pub const LBA_OUT_OF_RANGE: (u8, u8) = (0x21, 0x00);
    /// INVALID FIELD IN CDB.
    pub const INVALID_FIELD_IN_CDB: (u8, u8) = (0x24, 0x00);
    /// INVALID FIELD IN PARAMETER LIST.
    pub const INVALID_FIELD_IN_PARAM: (u8, u8) = (0x26, 0x00);
    /// INVALID RELEASE OF PERSISTENT RESERVATION.
    pub const INVALID_RELEASE: (u8, u8) = (0x26, 0x04);
    /// WRITE PROTECTED.
    pub const WRITE_PROTECTED: (u8, u8) = (0x27, 0x00);
    /// POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
    pub const POWER_ON_RESET: (u8, u8) = (0x29, 0x00);
    /// I_T NEXUS LOSS OCCURRED.
    pub const NEXUS_LOSS: (u8, u8) = (0x29, 0x07);
    /// MODE PARAMETERS CHANGED.
    pub const MODE_PARAMETERS_CHANGED: (u8, u8) = (0x2A, 0x01);
    /// RESERVATIONS PREEMPTED.
    pub const RESERVATIONS_PREEMPTED: (u8, u8) = (0x2A, 0x03);
    /// RESERVATIONS RELEASED.
    pub const RESERVATIONS_RELEASED: (u8, u8) = (0x2A, 0x04);
    /// REGISTRATIONS PREEMPTED.
    pub const REGISTRATIONS_PREEMPTED: (u8, u8) = (0x2A, 0x05);
    /// SAVING PARAMETERS NOT SUPPORTED.
    pub const SAVING_NOT_SUPPORTED: (u8, u8) = (0x39, 0x00);
    /// INTERNAL TARGET FAILURE.
    pub const INTERNAL_TARGET_FAILURE: (u8, u8) = (0x44, 0x00);
}

/// Persistent reservation types (SPC-4 table 171).
pub mod pr_type {
    /// WRITE EXCLUSIVE.
    pub const WRITE_EXCLUSIVE: u8 = 1;
    /// EXCLUSIVE ACCESS.
    pub const EXCLUSIVE_ACCESS: u8 = 3;
    /// WRITE EXCLUSIVE – REGISTRANTS ONLY.
    pub const WRITE_EXCLUSIVE_RO: u8 = 5;
    /// EXCLUSIVE ACCESS – REGISTRANTS ONLY.
    pub const EXCLUSIVE_ACCESS_RO: u8 = 6;
    /// WRITE EXCLUSIVE – ALL REGISTRANTS.
    pub const WRITE_EXCLUSIVE_AR: u8 = 7;
    /// EXCLUSIVE ACCESS – ALL REGISTRANTS.
    pub const EXCLUSIVE_ACCESS_AR: u8 = 8;
}

/// Configuration of a [`BlockLu`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LuConfig {
    /// Logical blocks of the medium.
    pub blocks: u64,
    /// Logical block size, bytes (a power of two, 512..=65536).
    pub block_size: u32,
    /// Unit serial number (VPD 0x80), printable ASCII.
    pub serial: String,
    /// 8-byte NAA identifier (VPD 0x83); its top nibble is forced to 5 (IEEE Registered).
    pub naa: u64,
    /// T10 vendor identification, up to 8 ASCII characters (space padded).
    pub vendor: String,
    /// Product identification, up to 16 ASCII characters.
    pub product: String,
    /// Product revision level, up to 4 ASCII characters.
    pub revision: String,
    /// Refuse every medium write with DATA PROTECT / WRITE PROTECTED.
    pub read_only: bool,
    /// MAXIMUM TRANSFER LENGTH, blocks (VPD 0xB0); longer READ/WRITE/VERIFY fail.
    pub max_transfer_blocks: u32,
    /// OPTIMAL TRANSFER LENGTH GRANULARITY, blocks.
    pub optimal_granularity_blocks: u16,
    /// MAXIMUM UNMAP LBA COUNT.
    pub max_unmap_blocks: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
    pub max_unmap_descriptors: u32,
    /// MAXIMUM WRITE SAME LENGTH, blocks.
    pub max_write_same_blocks: u64,
    /// MAXIMUM COMPARE AND WRITE LENGTH, blocks (1..=255).
    pub max_compare_write_blocks: u8,
    /// Whether the medium starts mapped (an image with data) or deallocated (a fresh, zeroed
    /// thin medium).
    pub initially_mapped: bool,
}

impl Default for LuConfig {
    fn default() -> Self {
        LuConfig {
            blocks: 2048,
            block_size: 512,
            serial: "BUFLET0001".into(),
            naa: 0x5000_0000_0000_0001,
            vendor: "BUFLET".into(),
            product: "Block LU".into(),
            revision: "0001".into(),
            read_only: false,
            max_transfer_blocks: 8192,
            optimal_granularity_blocks: 8,
            max_unmap_blocks: 1 << 16,
            max_unmap_descriptors: 64,
            max_write_same_blocks: 1 << 16,
            max_compare_write_blocks: 16,
            initially_mapped: true,
        }
    }
}

/// A [`LuConfig`] the logical unit cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LuConfigError {
    /// The medium has no blocks.
    #[error("the medium has no blocks")]
    NoBlocks,
    /// The block size is not a power of two in 512..=65536.
    #[error("block size {0} is not a power of two in 512..=65536")]
    BlockSize(u32),
    /// A limit is zero or out of range.
    #[error("limit {0} out of range")]
    Limit(&'static str),
    /// An identification string is not printable ASCII or too long.
    #[error("{0} is not printable ASCII of the allowed length")]
    Ident(&'static str),
}

/// A SCSI failure as the logical unit reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fail {
    /// CHECK CONDITION with fixed sense; `info` sets INFORMATION and VALID.
    Check {
        key: u8,
        asc: (u8, u8),
        info: Option<u32>,
    },
    /// A status without sense (RESERVATION CONFLICT).
    Status(u8),
}

const fn illegal(asc: (u8, u8)) -> Fail {
    Fail::Check {
        key: sense_key::ILLEGAL_REQUEST,
        asc,
        info: None,
    }
}
const BAD_CDB: Fail = illegal(asc::INVALID_FIELD_IN_CDB);
const BAD_PARAM: Fail = illegal(asc::INVALID_FIELD_IN_PARAM);
const PARAM_LEN: Fail = illegal(asc::PARAMETER_LIST_LENGTH);
const OUT_OF_RANGE: Fail = illegal(asc::LBA_OUT_OF_RANGE);
const CONFLICT: Fail = Fail::Status(status::RESERVATION_CONFLICT);

fn io_fail(e: IoError) -> Fail {
    let (key, asc) = match e {
        IoError::Write(_) => (sense_key::MEDIUM_ERROR, asc::WRITE_ERROR),
        IoError::Read(_) => (sense_key::MEDIUM_ERROR, asc::READ_ERROR),
        IoError::Gone(_) => (sense_key::ABORTED_COMMAND, (0, 0)),
        IoError::Range(_) => (sense_key::HARDWARE_ERROR, asc::INTERNAL_TARGET_FAILURE),
    };
    Fail::Check {
        key,
        asc,
        info: None,
    }
}

fn miscompare(offset: u64) -> Fail {
    Fail::Check {
        key: sense_key::MISCOMPARE,
        asc: asc::MISCOMPARE_VERIFY,
        info: Some(u32::try_from(offset).unwrap_or(u32::MAX)),
    }
}

/// A command's successful end: status and the bytes its CDB asks to transfer (for the
/// residual) and data-in bytes produced.
#[derive(Debug, Clone, Copy)]
struct Done {
    status: u8,
    want: u64,
    data_in: u64,
}

impl Done {
    fn good() -> Self {
        Done {
            status: status::GOOD,
            want: 0,
            data_in: 0,
        }
    }
    fn want(want: u64) -> Self {
        Done {
            want,
            ..Done::good()
        }
    }
}

type R = Result<Done, Fail>;

/// The packet's input fields a command needs.
struct Cmd {
    cdb: [u8; 16],
    initiator: u64,
    expected: u64,
}

impl Cmd {
    fn be16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.cdb[at], self.cdb[at + 1]])
    }
    fn be32(&self, at: usize) -> u32 {
        u32::from_be_bytes([
            self.cdb[at],
            self.cdb[at + 1],
            self.cdb[at + 2],
            self.cdb[at + 3],
        ])
    }
    fn be64(&self, at: usize) -> u64 {
        (u64::from(self.be32(at)) << 32) | u64::from(self.be32(at + 4))
    }
    fn sa(&self) -> u16 {
        u16::from(self.cdb[1] & 0x1F)
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}

/// How a command stands against a persistent reservation (SPC-4 5.12.2, SBC-3 4.17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Allowed under every reservation.
    Always,
    /// Reads the medium: conflicts under the exclusive-access types for non-holders.
    Read,
    /// Changes the medium or the unit: conflicts for non-holders under every type.
    Write,
}

/// One supported command: opcode, service action, CDB length, reservation class.
struct CmdDesc {
    op: u8,
    sa: Option<u16>,
    len: u8,
    access: Access,
}

const fn d(op: u8, len: u8, access: Access) -> CmdDesc {
    CmdDesc {
        op,
        sa: None,
        len,
        access,
    }
}
const fn dsa(op: u8, sa: u16, len: u8, access: Access) -> CmdDesc {
    CmdDesc {
        op,
        sa: Some(sa),
        len,
        access,
    }
}

use opcode as op;
use Access::{Always, Read, Write};

/// Every command the logical unit implements (REPORT SUPPORTED OPERATION CODES lists these).
const COMMANDS: &[CmdDesc] = &[
    d(op::TEST_UNIT_READY, 6, Always),
    d(op::REQUEST_SENSE, 6, Always),
    d(op::READ_6, 6, Read),
    d(op::WRITE_6, 6, Write),
    d(op::INQUIRY, 6, Always),
    d(op::MODE_SELECT_6, 6, Write),
    d(op::MODE_SENSE_6, 6, Read),
    d(op::START_STOP_UNIT, 6, Write),
    d(op::PREVENT_ALLOW, 6, Always),
    d(op::READ_CAPACITY_10, 10, Always),
    d(op::READ_10, 10, Read),
    d(op::WRITE_10, 10, Write),
    d(op::WRITE_VERIFY_10, 10, Write),
    d(op::VERIFY_10, 10, Read),
    d(op::PREFETCH_10, 10, Read),
    d(op::SYNC_CACHE_10, 10, Write),
    d(op::WRITE_SAME_10, 10, Write),
    d(op::UNMAP, 10, Write),
    d(op::MODE_SELECT_10, 10, Write),
    d(op::MODE_SENSE_10, 10, Read),
    dsa(op::PR_IN, 0, 10, Always),
    dsa(op::PR_IN, 1, 10, Always),
    dsa(op::PR_IN, 2, 10, Always),
    dsa(op::PR_IN, 3, 10, Always),
    dsa(op::PR_OUT, 0, 10, Always),
    dsa(op::PR_OUT, 1, 10, Always),
    dsa(op::PR_OUT, 2, 10, Always),
    dsa(op::PR_OUT, 3, 10, Always),
    dsa(op::PR_OUT, 4, 10, Always),
    dsa(op::PR_OUT, 5, 10, Always),
    dsa(op::PR_OUT, 6, 10, Always),
    d(op::READ_16, 16, Read),
    d(op::COMPARE_AND_WRITE, 16, Write),
    d(op::WRITE_16, 16, Write),
    d(op::WRITE_VERIFY_16, 16, Write),
    d(op::VERIFY_16, 16, Read),
    d(op::PREFETCH_16, 16, Read),
    d(op::SYNC_CACHE_16, 16, Write),
    d(op::WRITE_SAME_16, 16, Write),
    dsa(
        op::SERVICE_ACTION_IN_16,
        op::SA_READ_CAPACITY_16,
        16,
        Always,
    ),
    dsa(op::SERVICE_ACTION_IN_16, op::SA_GET_LBA_STATUS, 16, Read),
    d(op::REPORT_LUNS, 12, Always),
    dsa(op::MAINTENANCE_IN, op::SA_REPORT_OPCODES, 12, Always),
    d(op::READ_12, 12, Read),
    d(op::WRITE_12, 12, Write),
    d(op::WRITE_VERIFY_12, 12, Write),
    d(op::VERIFY_12, 12, Read),
];

fn has_sa(opc: u8) -> bool {
    COMMANDS.iter().any(|c| c.op == opc && c.sa.is_some())
}

fn find_cmd(opc: u8, sa: u16) -> Option<&'static CmdDesc> {
    COMMANDS
        .iter()
        .find(|c| c.op == opc && c.sa.is_none_or(|s| s == sa))
}

/// CDB USAGE DATA of a command: the opcode, the service action where it has one, every other
/// field bit marked as evaluated, the CONTROL byte's NACA bit not supported.
fn cdb_usage(c: &CmdDesc) -> Vec<u8> {
    let mut u = vec![0xFFu8; usize::from(c.len)];
    u[0] = c.op;
    if let Some(sa) = c.sa {
        u[1] = if c.op == op::PR_OUT || c.op == op::PR_IN {
            sa as u8
        } else {
            (sa as u8) & 0x1F
        };
    }
    if let Some(last) = u.last_mut() {
        *last = 0x00;
    }
    u
}

/// Mapped extents of the medium (logical block provisioning): a set of disjoint,
/// non-adjacent `[start, end)` ranges.
#[derive(Debug, Default, Clone)]
struct Extents {
    map: BTreeMap<u64, u64>,
}

impl Extents {
    fn insert(&mut self, s: u64, e: u64) {
        if s >= e {
            return;
        }
        let (mut ns, mut ne) = (s, e);
        let keys: Vec<u64> = self
            .map
            .range(..=e)
            .rev()
            .take_while(|(_, &end)| end >= s)
            .map(|(&k, _)| k)
            .collect();
        for k in keys {
            if let Some(end) = self.map.remove(&k) {
                ns = ns.min(k);
                ne = ne.max(end);
            }
        }
        self.map.insert(ns, ne);
    }

    fn remove(&mut self, s: u64, e: u64) {
        if s >= e {
            return;
        }
        let keys: Vec<u64> = self
            .map
            .range(..e)
            .rev()
            .take_while(|(_, &end)| end > s)
            .map(|(&k, _)| k)
            .collect();
        for k in keys {
            if let Some(end) = self.map.remove(&k) {
                if k < s {
                    self.map.insert(k, s);
                }
                if end > e {
                    self.map.insert(e, end);
                }
            }
        }
    }

    /// Whether `lba` is mapped, and how many blocks from it (up to `cap`) share that state.
    fn run(&self, lba: u64, cap: u64) -> (bool, u64) {
        if let Some((_, &end)) = self.map.range(..=lba).next_back() {
            if end > lba {
                return (true, end.min(cap) - lba);
            }
        }
        let next = self
            .map
            .range(lba..)
            .next()
            .map_or(cap, |(&k, _)| k.min(cap));
        (false, next.saturating_sub(lba))
    }
}

/// A persistent reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reservation {
    holder: u64,
    rtype: u8,
}

impl Reservation {
    fn all_registrants(&self) -> bool {
        matches!(
            self.rtype,
            pr_type::WRITE_EXCLUSIVE_AR | pr_type::EXCLUSIVE_ACCESS_AR
        )
    }
    fn registrants_only(&self) -> bool {
        matches!(
            self.rtype,
            pr_type::WRITE_EXCLUSIVE_RO | pr_type::EXCLUSIVE_ACCESS_RO
        )
    }
}

/// Persistent reservation state.
#[derive(Debug, Default)]
struct PrState {
    generation: u32,
    /// Registered nexus -> its reservation key.
    regs: BTreeMap<u64, u64>,
    res: Option<Reservation>,
}

impl PrState {
    fn is_holder(&self, nexus: u64) -> bool {
        match self.res {
            Some(r) if r.all_registrants() => self.regs.contains_key(&nexus),
            Some(r) => r.holder == nexus,
            None => false,
        }
    }

    fn conflicts(&self, nexus: u64, access: Access) -> bool {
        let Some(r) = self.res else { return false };
        if access == Always {
            return false;
        }
        let allowed = if r.all_registrants() || r.registrants_only() {
            self.regs.contains_key(&nexus)
        } else {
            r.holder == nexus
        };
        if allowed {
            return false;
        }
        match r.rtype {
            pr_type::WRITE_EXCLUSIVE
            | pr_type::WRITE_EXCLUSIVE_RO
            | pr_type::WRITE_EXCLUSIVE_AR => access == Write,
            _ => true,
        }
    }

    /// Remove the registration of `nexus`, releasing a reservation it held as SPC-4 5.12.11
    /// says; the nexuses to tell RESERVATIONS RELEASED.
    fn unregister(&mut self, nexus: u64) -> Vec<u64> {
        self.regs.remove(&nexus);
        let mut tell = Vec::new();
        if let Some(r) = self.res {
            let release = if r.all_registrants() {
                self.regs.is_empty()
            } else {
                r.holder == nexus
            };
            if release {
                self.res = None;
                if r.registrants_only() {
                    tell.extend(self.regs.keys().copied());
                }
            }
        }
        tell
    }
}

/// Mutable logical-unit state.
#[derive(Debug)]
struct LuState {
    wce: bool,
    dexcpt: bool,
    ua: HashMap<u64, VecDeque<(u8, u8)>>,
    known: HashSet<u64>,
    pr: PrState,
    mapped: Extents,
    identity: HashMap<u64, (Vec<u8>, u16)>,
}

impl LuState {
    fn ua_push(&mut self, nexus: u64, code: (u8, u8)) {
        let q = self.ua.entry(nexus).or_default();
        if !q.contains(&code) && q.len() < 16 {
            q.push_back(code);
        }
    }
}

const PAGE_CACHING: u8 = 0x08;
const PAGE_CONTROL: u8 = 0x0A;
const PAGE_IEC: u8 = 0x1C;
const MODE_PAGES: [u8; 3] = [PAGE_CACHING, PAGE_CONTROL, PAGE_IEC];

/// Page control values of MODE SENSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pc {
    Current,
    Changeable,
    Default,
}

/// A direct-access block logical unit (SPC-4 / SBC-3) over the medium its commands'
/// [`CmdIo`] reach; fit for libiscsi's conformance suite.
pub struct BlockLu {
    cfg: LuConfig,
    state: Mutex<LuState>,
    /// Medium writes hold it shared, COMPARE AND WRITE exclusive.
    order: RwLock<()>,
}

impl std::fmt::Debug for BlockLu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockLu").field("cfg", &self.cfg).finish()
    }
}

fn ident_ok(s: &str, max: usize) -> bool {
    s.len() <= max && s.bytes().all(|b| (0x20..0x7F).contains(&b))
}

fn padded(s: &str, n: usize) -> Vec<u8> {
    let mut v: Vec<u8> = s.bytes().take(n).collect();
    v.resize(n, b' ');
    v
}

/// Medium data compared per chunk (VERIFY, WRITE AND VERIFY), bytes at most. The transport
/// must hold a whole chunk of data-out before the logical unit sees it: over iSCSI a chunk
/// waits in named buffers, and an initiator that pushes every other segment (each PSH returns
/// a buffer) fills 16 of them with about 46 KB. 16 KiB fits in 12 buffers of one full segment
/// each, so Linux's initiator never needs the target's bounce (docs/iscsi.md, "Small
/// pushes"), which copies the data-out out of the buffers when they run out.
const COMPARE_CHUNK: u64 = 16 << 10;

impl BlockLu {
    /// A logical unit with configuration `cfg`.
    pub fn new(cfg: LuConfig) -> Result<Self, LuConfigError> {
        if cfg.blocks == 0 {
            return Err(LuConfigError::NoBlocks);
        }
        if !cfg.block_size.is_power_of_two() || !(512..=65536).contains(&cfg.block_size) {
            return Err(LuConfigError::BlockSize(cfg.block_size));
        }
        if cfg.max_transfer_blocks == 0 {
            return Err(LuConfigError::Limit("max_transfer_blocks"));
        }
        if cfg.max_compare_write_blocks == 0 {
            return Err(LuConfigError::Limit("max_compare_write_blocks"));
        }
        if cfg.max_unmap_descriptors == 0 || cfg.max_unmap_blocks == 0 {
            return Err(LuConfigError::Limit("max_unmap"));
        }
        if cfg.max_write_same_blocks == 0 {
            return Err(LuConfigError::Limit("max_write_same_blocks"));
        }
        if !ident_ok(&cfg.vendor, 8) {
            return Err(LuConfigError::Ident("vendor"));
        }
        if !ident_ok(&cfg.product, 16) {
            return Err(LuConfigError::Ident("product"));
        }
        if !ident_ok(&cfg.revision, 4) {
            return Err(LuConfigError::Ident("revision"));
        }
        if cfg.serial.is_empty() || !ident_ok(&cfg.serial, 200) {
            return Err(LuConfigError::Ident("serial"));
        }
        let mut mapped = Extents::default();
        if cfg.initially_mapped {
            mapped.insert(0, cfg.blocks);
        }
        Ok(BlockLu {
            cfg,
            state: Mutex::new(LuState {
                wce: true,
                dexcpt: true,
                ua: HashMap::new(),
                known: HashSet::new(),
                pr: PrState::default(),
                mapped,
                identity: HashMap::new(),
            }),
            order: RwLock::new(()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LuConfig {
        &self.cfg
    }

    /// The persistent reservations generation (PRgeneration), for tests and reports.
    pub fn pr_generation(&self) -> u32 {
        self.lock().pr.generation
    }

    fn lock(&self) -> MutexGuard<'_, LuState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bs(&self) -> u64 {
        u64::from(self.cfg.block_size)
    }

    /// LBA OUT OF RANGE unless `lba..lba + n` lies on the medium and `lba` addresses a block.
    fn range(&self, lba: u64, n: u64) -> Result<(), Fail> {
        match lba.checked_add(n) {
            Some(end) if lba < self.cfg.blocks && end <= self.cfg.blocks => Ok(()),
            _ => Err(OUT_OF_RANGE),
        }
    }

    fn writable(&self) -> Result<(), Fail> {
        if self.cfg.read_only {
            Err(Fail::Check {
                key: sense_key::DATA_PROTECT,
                asc: asc::WRITE_PROTECTED,
                info: None,
            })
        } else {
            Ok(())
        }
    }

    fn write_guard(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.order.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes of data-out usable: what the transport holds, within the expected length.
    fn data_out(cmd: &Cmd, io: &dyn CmdIo) -> u64 {
        io.data_out_len().min(cmd.expected)
    }

    /// Bytes of data-in room: the transport's buffer within the expected length.
    fn data_in(cmd: &Cmd, io: &dyn CmdIo) -> u64 {
        io.data_in_len().min(cmd.expected)
    }

    /// Send `data`, truncated to the allocation length `alloc` and the data-in room.
    fn send(cmd: &Cmd, io: &dyn CmdIo, data: &[u8], alloc: u64) -> R {
        let want = (data.len() as u64).min(alloc);
        let n = want.min(Self::data_in(cmd, io));
        if n > 0 {
            // n <= data.len(), so the cast and slice hold.
            io.fill(0, &data[..n as usize]).map_err(io_fail)?;
        }
        Ok(Done {
            status: status::GOOD,
            want,
            data_in: n,
        })
    }

    /// Read `len` bytes of data-out (a parameter list), within what the transport holds.
    fn param(cmd: &Cmd, io: &dyn CmdIo, len: u64) -> Result<Vec<u8>, Fail> {
        if Self::data_out(cmd, io) < len {
            return Err(PARAM_LEN);
        }
        let mut buf = vec![0u8; usize::try_from(len).map_err(|_| PARAM_LEN)?];
        io.peek(0, &mut buf).map_err(io_fail)?;
        Ok(buf)
    }

    fn dispatch(&self, cmd: &Cmd, cdb_len: usize, io: &dyn CmdIo) -> R {
        let opc = cmd.cdb[0];
        let sa = cmd.sa();
        let Some(desc) = find_cmd(opc, sa) else {
            return Err(if has_sa(opc) {
                BAD_CDB
            } else {
                illegal(asc::INVALID_OPCODE)
            });
        };
        if cdb_len < usize::from(desc.len) {
            return Err(BAD_CDB);
        }
        {
            let mut st = self.lock();
            st.known.insert(cmd.initiator);
            if !matches!(opc, op::INQUIRY | op::REPORT_LUNS | op::REQUEST_SENSE) {
                if let Some(code) = st.ua.get_mut(&cmd.initiator).and_then(|q| q.pop_front()) {
                    return Err(Fail::Check {
                        key: sense_key::UNIT_ATTENTION,
                        asc: code,
                        info: None,
                    });
                }
            }
            if st.pr.conflicts(cmd.initiator, desc.access) {
                return Err(CONFLICT);
            }
        }
        match opc {
            op::TEST_UNIT_READY => Ok(Done::good()),
            op::REQUEST_SENSE => self.request_sense(cmd, io),
            op::INQUIRY => self.inquiry(cmd, io),
            op::READ_CAPACITY_10 => self.read_capacity_10(cmd, io),
            op::SERVICE_ACTION_IN_16 if sa == op::SA_READ_CAPACITY_16 => {
                self.read_capacity_16(cmd, io)
            }
            op::SERVICE_ACTION_IN_16 => self.get_lba_status(cmd, io),
            op::REPORT_LUNS => self.report_luns(cmd, io),
            op::MAINTENANCE_IN => self.report_opcodes(cmd, io),
            op::MODE_SENSE_6 | op::MODE_SENSE_10 => self.mode_sense(cmd, io),
            op::MODE_SELECT_6 | op::MODE_SELECT_10 => self.mode_select(cmd, io),
            op::READ_6 | op::READ_10 | op::READ_12 | op::READ_16 => self.read(cmd, io),
            op::WRITE_6 | op::WRITE_10 | op::WRITE_12 | op::WRITE_16 => self.write(cmd, io, false),
            op::WRITE_VERIFY_10 | op::WRITE_VERIFY_12 | op::WRITE_VERIFY_16 => {
                self.write(cmd, io, true)
            }
            op::VERIFY_10 | op::VERIFY_12 | op::VERIFY_16 => self.verify(cmd, io),
            op::WRITE_SAME_10 | op::WRITE_SAME_16 => self.write_same(cmd, io),
            op::UNMAP => self.unmap(cmd, io),
            op::COMPARE_AND_WRITE => self.compare_and_write(cmd, io),
            op::SYNC_CACHE_10 | op::SYNC_CACHE_16 => self.sync_cache(cmd, io),
            op::PREFETCH_10 | op::PREFETCH_16 => self.prefetch(cmd),
            op::START_STOP_UNIT => Ok(Done::good()),
            op::PREVENT_ALLOW => {
                if cmd.cdb[4] & 0x03 == 0 {
                    Ok(Done::good())
                } else {
                    Err(BAD_CDB)
                }
            }
            op::PR_IN => self.pr_in(cmd, io),
            op::PR_OUT => self.pr_out(cmd, io),
            _ => Err(illegal(asc::INVALID_OPCODE)),
        }
    }

    // ---- SPC: identification and status -------------------------------------------------

    fn request_sense(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        if cmd.cdb[1] & 0x01 != 0 {
            // DESC: only fixed format is supported.
            return Err(BAD_CDB);
        }
        let code = self
            .lock()
            .ua
            .get_mut(&cmd.initiator)
            .and_then(|q| q.pop_front());
        let mut s = [0u8; 18];
        s[0] = 0x70;
        s[7] = 10;
        if let Some((a, q)) = code {
            s[2] = sense_key::UNIT_ATTENTION;
            s[12] = a;
            s[13] = q;
        }
        Self::send(cmd, io, &s, u64::from(cmd.cdb[4]))
    }

    fn inquiry(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let evpd = cmd.cdb[1] & 0x01 != 0;
        let cmddt = cmd.cdb[1] & 0x02 != 0;
        let page = cmd.cdb[2];
        let alloc = u64::from(cmd.be16(3));
        if cmddt || (!evpd && page != 0) {
            return Err(BAD_CDB);
        }
        let data = if evpd {
            self.vpd(page).ok_or(BAD_CDB)?
        } else {
            self.standard_inquiry()
        };
        Self::send(cmd, io, &data, alloc)
    }

    fn standard_inquiry(&self) -> Vec<u8> {
        let mut d = vec![0u8; 96];
        d[0] = 0x00; // connected, direct access block device
        d[2] = 0x06; // SPC-4
        d[3] = 0x12; // HISUP, response data format 2
        d[4] = (d.len() - 5) as u8;
        d[7] = 0x02; // CMDQUE
        d[8..16].copy_from_slice(&padded(&self.cfg.vendor, 8));
        d[16..32].copy_from_slice(&padded(&self.cfg.product, 16));
        d[32..36].copy_from_slice(&padded(&self.cfg.revision, 4));
        // Version descriptors: SAM-5, iSCSI, SPC-4, SBC-3.
        for (i, v) in [0x00A0u16, 0x0960, 0x0460, 0x04C0].iter().enumerate() {
            d[58 + 2 * i..60 + 2 * i].copy_from_slice(&v.to_be_bytes());
        }
        d
    }

    fn vpd(&self, page: u8) -> Option<Vec<u8>> {
        let mut d = vec![0u8, page, 0, 0];
        match page {
            0x00 => d.extend_from_slice(&[0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2]),
            0x80 => d.extend_from_slice(self.cfg.serial.as_bytes()),
            0x83 => {
                let naa = (self.cfg.naa & 0x0FFF_FFFF_FFFF_FFFF) | (0x5 << 60);
                // NAA, binary, logical unit association.
                d.extend_from_slice(&[0x01, 0x03, 0x00, 0x08]);
                d.extend_from_slice(&naa.to_be_bytes());
                // T10 vendor ID, ASCII: vendor + product + serial.
                let mut t10 = padded(&self.cfg.vendor, 8);
                t10.extend_from_slice(&padded(&self.cfg.product, 16));
                t10.extend_from_slice(self.cfg.serial.as_bytes());
                t10.truncate(252);
                d.extend_from_slice(&[0x02, 0x01, 0x00, t10.len() as u8]);
                d.extend_from_slice(&t10);
            }
            0xB0 => {
                let mut p = [0u8; 60];
                p[0] = 0x01; // WSNZ: WRITE SAME of 0 blocks is refused
                p[1] = self.cfg.max_compare_write_blocks;
                p[2..4].copy_from_slice(&self.cfg.optimal_granularity_blocks.to_be_bytes());
                p[4..8].copy_from_slice(&self.cfg.max_transfer_blocks.to_be_bytes());
                p[8..12].copy_from_slice(&self.cfg.max_transfer_blocks.to_be_bytes());
                p[12..16].copy_from_slice(&self.cfg.max_transfer_blocks.to_be_bytes());
                p[16..20].copy_from_slice(&self.cfg.max_unmap_blocks.to_be_bytes());
                p[20..24].copy_from_slice(&self.cfg.max_unmap_descriptors.to_be_bytes());
                p[24..28].copy_from_slice(&1u32.to_be_bytes()); // optimal unmap granularity
                p[32..40].copy_from_slice(&self.cfg.max_write_same_blocks.to_be_bytes());
                d.extend_from_slice(&p);
            }
            0xB1 => {
                let mut p = [0u8; 60];
                p[0..2].copy_from_slice(&1u16.to_be_bytes()); // non-rotating medium
                d.extend_from_slice(&p);
            }
            0xB2 => {
                // LBPU, LBPWS, LBPWS10, LBPRZ; provisioning type 2 (thin).
                d.extend_from_slice(&[0x00, 0xE4, 0x02, 0x00]);
            }
            _ => return None,
        }
        let len = (d.len() - 4) as u16;
        d[2..4].copy_from_slice(&len.to_be_bytes());
        Some(d)
    }

    fn read_capacity_10(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let pmi = cmd.cdb[8] & 0x01 != 0;
        if !pmi && cmd.be32(2) != 0 {
            return Err(BAD_CDB);
        }
        let last = self.cfg.blocks - 1;
        let mut d = [0u8; 8];
        d[0..4].copy_from_slice(&u32::try_from(last).unwrap_or(u32::MAX).to_be_bytes());
        d[4..8].copy_from_slice(&self.cfg.block_size.to_be_bytes());
        Self::send(cmd, io, &d, 8)
    }

    fn read_capacity_16(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let mut d = [0u8; 32];
        d[0..8].copy_from_slice(&(self.cfg.blocks - 1).to_be_bytes());
        d[8..12].copy_from_slice(&self.cfg.block_size.to_be_bytes());
        d[14] = 0xC0; // LBPME, LBPRZ
        Self::send(cmd, io, &d, u64::from(cmd.be32(10)))
    }

    fn report_luns(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        if cmd.cdb[2] > 2 {
            return Err(BAD_CDB);
        }
        let alloc = u64::from(cmd.be32(6));
        if alloc < 16 {
            return Err(BAD_CDB);
        }
        let mut d = [0u8; 16];
        d[0..4].copy_from_slice(&8u32.to_be_bytes());
        Self::send(cmd, io, &d, alloc)
    }

    fn report_opcodes(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let rctd = cmd.cdb[2] & 0x80 != 0;
        let options = cmd.cdb[2] & 0x07;
        let req_op = cmd.cdb[3];
        let req_sa = cmd.be16(4);
        let alloc = u64::from(cmd.be32(6));
        let timeouts = |d: &mut Vec<u8>| {
            if rctd {
                d.extend_from_slice(&[0x00, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            }
        };
        let mut d = Vec::new();
        match options {
            0 => {
                d.extend_from_slice(&[0; 4]);
                for c in COMMANDS {
                    d.push(c.op);
                    d.push(0);
                    d.extend_from_slice(&c.sa.unwrap_or(0).to_be_bytes());
                    d.push(0);
                    d.push(u8::from(rctd) << 1 | u8::from(c.sa.is_some()));
                    d.extend_from_slice(&u16::from(c.len).to_be_bytes());
                    timeouts(&mut d);
                }
                let len = (d.len() - 4) as u32;
                d[0..4].copy_from_slice(&len.to_be_bytes());
            }
            1..=3 => {
                let sa_cmd = has_sa(req_op);
                let found = match options {
                    1 if sa_cmd => return Err(BAD_CDB),
                    2 if !sa_cmd => return Err(BAD_CDB),
                    1 => find_cmd(req_op, 0),
                    _ if sa_cmd => COMMANDS
                        .iter()
                        .find(|c| c.op == req_op && c.sa == Some(req_sa)),
                    _ => find_cmd(req_op, 0),
                };
                match found {
                    Some(c) => {
                        let usage = cdb_usage(c);
                        d.push(0);
                        d.push(u8::from(rctd) << 7 | 0x03);
                        d.extend_from_slice(&(usage.len() as u16).to_be_bytes());
                        d.extend_from_slice(&usage);
                        timeouts(&mut d);
                    }
                    None => d.extend_from_slice(&[0, 0x01, 0, 0]),
                }
            }
            _ => return Err(BAD_CDB),
        }
        Self::send(cmd, io, &d, alloc)
    }

    // ---- Mode parameters ----------------------------------------------------------------

    fn mode_page(st: &LuState, page: u8, pc: Pc) -> Vec<u8> {
        match page {
            PAGE_CACHING => {
                let mut p = vec![0u8; 20];
                p[0] = PAGE_CACHING;
                p[1] = 0x12;
                p[2] = match pc {
                    Pc::Current => u8::from(st.wce) << 2,
                    Pc::Changeable | Pc::Default => 0x04,
                };
                p
            }
            PAGE_CONTROL => {
                let mut p = vec![0u8; 12];
                p[0] = PAGE_CONTROL;
                p[1] = 0x0A;
                if pc != Pc::Changeable {
                    p[3] = 0x10; // unrestricted queue algorithm modifier
                }
                p
            }
            _ => {
                let mut p = vec![0u8; 12];
                p[0] = PAGE_IEC;
                p[1] = 0x0A;
                p[2] = match pc {
                    Pc::Current => u8::from(st.dexcpt) << 3,
                    Pc::Changeable | Pc::Default => 0x08,
                };
                p
            }
        }
    }

    fn mode_sense(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let six = cmd.cdb[0] == op::MODE_SENSE_6;
        let dbd = cmd.cdb[1] & 0x08 != 0;
        let llbaa = !six && cmd.cdb[1] & 0x10 != 0;
        let pc = match cmd.cdb[2] >> 6 {
            0 => Pc::Current,
            1 => Pc::Changeable,
            2 => Pc::Default,
            _ => return Err(illegal(asc::SAVING_NOT_SUPPORTED)),
        };
        let page = cmd.cdb[2] & 0x3F;
        let sub = cmd.cdb[3];
        let alloc = if six {
            u64::from(cmd.cdb[4])
        } else {
            u64::from(cmd.be16(7))
        };
        let pages: Vec<u8> = if page == 0x3F && (sub == 0 || sub == 0xFF) {
            MODE_PAGES.to_vec()
        } else if MODE_PAGES.contains(&page) && sub == 0 {
            vec![page]
        } else {
            return Err(BAD_CDB);
        };
        let mut body = Vec::new();
        {
            let st = self.lock();
            for p in pages {
                body.extend_from_slice(&Self::mode_page(&st, p, pc));
            }
        }
        let mut bd = Vec::new();
        if !dbd {
            if llbaa {
                bd.extend_from_slice(&self.cfg.blocks.to_be_bytes());
                bd.extend_from_slice(&[0; 4]);
                bd.extend_from_slice(&self.cfg.block_size.to_be_bytes());
            } else {
                let n = u32::try_from(self.cfg.blocks).unwrap_or(u32::MAX);
                bd.extend_from_slice(&n.to_be_bytes());
                bd.push(0);
                bd.extend_from_slice(&self.cfg.block_size.to_be_bytes()[1..]);
            }
        }
        let dsp = (u8::from(self.cfg.read_only) << 7) | 0x10; // WP, DPOFUA
        let mut d = Vec::new();
        if six {
            let total = 4 + bd.len() + body.len();
            d.extend_from_slice(&[(total - 1) as u8, 0, dsp, bd.len() as u8]);
        } else {
            let total = 8 + bd.len() + body.len();
            d.extend_from_slice(&((total - 2) as u16).to_be_bytes());
            d.extend_from_slice(&[0, dsp, u8::from(llbaa && !dbd), 0]);
            d.extend_from_slice(&(bd.len() as u16).to_be_bytes());
        }
        d.extend_from_slice(&bd);
        d.extend_from_slice(&body);
        Self::send(cmd, io, &d, alloc)
    }

    fn mode_select(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let six = cmd.cdb[0] == op::MODE_SELECT_6;
        if cmd.cdb[1] & 0x01 != 0 {
            // SP: parameters cannot be saved.
            return Err(BAD_CDB);
        }
        let plen = if six {
            u64::from(cmd.cdb[4])
        } else {
            u64::from(cmd.be16(7))
        };
        if plen == 0 {
            return Ok(Done::good());
        }
        let buf = Self::param(cmd, io, plen)?;
        let hdr = if six { 4 } else { 8 };
        if buf.len() < hdr {
            return Err(PARAM_LEN);
        }
        let (bdlen, longlba) = if six {
            (usize::from(buf[3]), false)
        } else {
            (
                usize::from(u16::from_be_bytes([buf[6], buf[7]])),
                buf[4] & 0x01 != 0,
            )
        };
        let want_bd = if longlba { 16 } else { 8 };
        if bdlen != 0 && bdlen != want_bd {
            return Err(BAD_PARAM);
        }
        if hdr + bdlen > buf.len() {
            return Err(PARAM_LEN);
        }
        if bdlen != 0 {
            let b = &buf[hdr..hdr + bdlen];
            let len = if longlba {
                be32(b, 12)
            } else {
                u32::from_be_bytes([0, b[5], b[6], b[7]])
            };
            if len != self.cfg.block_size {
                return Err(BAD_PARAM);
            }
        }
        let mut st = self.lock();
        let mut updates: Vec<(u8, Vec<u8>)> = Vec::new();
        let mut off = hdr + bdlen;
        while off < buf.len() {
            if buf.len() - off < 2 {
                return Err(PARAM_LEN);
            }
            if buf[off] & 0x40 != 0 {
                return Err(BAD_PARAM); // no subpages
            }
            let page = buf[off] & 0x3F;
            let len = usize::from(buf[off + 1]);
            if off + 2 + len > buf.len() {
                return Err(PARAM_LEN);
            }
            if !MODE_PAGES.contains(&page) {
                return Err(BAD_PARAM);
            }
            let cur = Self::mode_page(&st, page, Pc::Current);
            let chg = Self::mode_page(&st, page, Pc::Changeable);
            if len + 2 != cur.len() {
                return Err(BAD_PARAM);
            }
            let new = &buf[off..off + 2 + len];
            for i in 2..cur.len() {
                if (new[i] ^ cur[i]) & !chg[i] != 0 {
                    return Err(BAD_PARAM);
                }
            }
            updates.push((page, new.to_vec()));
            off += 2 + len;
        }
        let mut changed = false;
        for (page, p) in updates {
            match page {
                PAGE_CACHING => {
                    changed |= st.wce != (p[2] & 0x04 != 0);
                    st.wce = p[2] & 0x04 != 0;
                }
                PAGE_IEC => {
                    changed |= st.dexcpt != (p[2] & 0x08 != 0);
                    st.dexcpt = p[2] & 0x08 != 0;
                }
                _ => {}
            }
        }
        if changed {
            let others: Vec<u64> = st
                .known
                .iter()
                .copied()
                .filter(|&n| n != cmd.initiator)
                .collect();
            for n in others {
                st.ua_push(n, asc::MODE_PARAMETERS_CHANGED);
            }
        }
        Ok(Done::want(plen))
    }

    // ---- SBC: medium access --------------------------------------------------------------

    /// LBA, transfer length and the flags byte of a READ/WRITE/VERIFY-family CDB.
    fn rw_fields(cmd: &Cmd) -> (u64, u64, u8) {
        let c = &cmd.cdb;
        match c[0] {
            op::READ_6 | op::WRITE_6 => {
                let lba = u64::from(u32::from_be_bytes([0, c[1] & 0x1F, c[2], c[3]]));
                let n = if c[4] == 0 { 256 } else { u64::from(c[4]) };
                (lba, n, 0)
            }
            0x28..=0x2F | op::PREFETCH_10 | op::SYNC_CACHE_10 => {
                (u64::from(cmd.be32(2)), u64::from(cmd.be16(7)), c[1])
            }
            0xA8..=0xAF => (u64::from(cmd.be32(2)), u64::from(cmd.be32(6)), c[1]),
            _ => (cmd.be64(2), u64::from(cmd.be32(10)), c[1]),
        }
    }

    fn check_transfer(&self, lba: u64, n: u64) -> Result<(), Fail> {
        self.range(lba, n)?;
        if n > u64::from(self.cfg.max_transfer_blocks) {
            return Err(BAD_CDB);
        }
        Ok(())
    }

    fn read(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let (lba, n, flags) = Self::rw_fields(cmd);
        if flags & 0xE0 != 0 {
            return Err(BAD_CDB); // RDPROTECT without protection information
        }
        self.check_transfer(lba, n)?;
        let bs = self.bs();
        let room = Self::data_in(cmd, io);
        let moved = n.min(room / bs);
        if moved > 0 {
            io.read(lba, moved as u32, 0).map_err(io_fail)?;
        }
        // A data-in buffer that ends inside a block gets that block's first bytes (the rest
        // is residual overflow): read into the logical unit's memory and filled in.
        let part = if moved < n { room - moved * bs } else { 0 };
        if part > 0 {
            let b = io.read_to_vec(lba + moved, 1).map_err(io_fail)?;
            let k = (part as usize).min(b.len());
            io.fill(moved * bs, &b[..k]).map_err(io_fail)?;
        }
        Ok(Done {
            status: status::GOOD,
            want: n * bs,
            data_in: moved * bs + part,
        })
    }

    fn mark_mapped(&self, lba: u64, n: u64, mapped: bool) {
        let mut st = self.lock();
        let end = lba.saturating_add(n);
        if mapped {
            st.mapped.insert(lba, end);
        } else {
            st.mapped.remove(lba, end);
        }
    }

    fn after_write(&self, io: &dyn CmdIo, fua: bool) -> Result<(), Fail> {
        if fua || !self.lock().wce {
            io.sync().map_err(io_fail)?;
        }
        Ok(())
    }

    fn write(&self, cmd: &Cmd, io: &dyn CmdIo, verify: bool) -> R {
        let (lba, n, flags) = Self::rw_fields(cmd);
        if flags & 0xE0 != 0 {
            return Err(BAD_CDB); // WRPROTECT without protection information
        }
        self.writable()?;
        self.check_transfer(lba, n)?;
        let bs = self.bs();
        let moved = n.min(Self::data_out(cmd, io) / bs);
        if verify && flags & 0x02 != 0 && moved > 0 {
            // BYTCHK: a chunk at a time, the data-out is read first (the write hands its
            // buffers back to the transport), written, read back from the medium and compared.
            let _g = self.write_guard();
            let chunk = (COMPARE_CHUNK / bs).max(1);
            let mut done = 0u64;
            while done < moved {
                let k = chunk.min(moved - done);
                let mut expect = vec![0u8; (k * bs) as usize];
                io.peek(done * bs, &mut expect).map_err(io_fail)?;
                io.write(lba + done, k as u32, done * bs).map_err(io_fail)?;
                self.mark_mapped(lba + done, k, true);
                io.release(done * bs, k * bs);
                let medium = io.read_to_vec(lba + done, k as u32).map_err(io_fail)?;
                if let Some(i) = (0..expect.len()).find(|&i| medium.get(i) != Some(&expect[i])) {
                    return Err(miscompare(done * bs + i as u64));
                }
                done += k;
            }
            self.after_write(io, true)?;
            return Ok(Done::want(n * bs));
        }
        if moved > 0 {
            let _g = self.write_guard();
            io.write(lba, moved as u32, 0).map_err(io_fail)?;
            self.mark_mapped(lba, moved, true);
        }
        let fua = !verify && flags & 0x08 != 0;
        self.after_write(io, fua || verify)?;
        Ok(Done::want(n * bs))
    }

    /// Compare `n` medium blocks from `lba` with data-out from `off` (or, with `same`, the
    /// one data-out block at `off` with each); MISCOMPARE carries the byte offset.
    fn compare(&self, io: &dyn CmdIo, lba: u64, n: u64, off: u64, same: bool) -> Result<(), Fail> {
        let bs = self.bs();
        let chunk = (COMPARE_CHUNK / bs).max(1);
        let mut one = Vec::new();
        if same {
            one = vec![0u8; bs as usize];
            io.peek(off, &mut one).map_err(io_fail)?;
        }
        let mut done = 0u64;
        while done < n {
            let k = chunk.min(n - done);
            let medium = io.read_to_vec(lba + done, k as u32).map_err(io_fail)?;
            let len = (k * bs) as usize;
            let mut expect = vec![0u8; len];
            if same {
                for b in expect.chunks_mut(bs as usize) {
                    b.copy_from_slice(&one);
                }
            } else {
                io.peek(off + done * bs, &mut expect).map_err(io_fail)?;
            }
            if medium.len() < len {
                return Err(io_fail(IoError::Range("short medium read".into())));
            }
            if let Some(i) = (0..len).find(|&i| medium[i] != expect[i]) {
                return Err(miscompare(done * bs + i as u64));
            }
            if !same {
                // Compared: its buffers may go back to the transport.
                io.release(off + done * bs, len as u64);
            }
            done += k;
        }
        Ok(())
    }

    fn verify(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let (lba, n, flags) = Self::rw_fields(cmd);
        if flags & 0xE0 != 0 {
            return Err(BAD_CDB); // VRPROTECT
        }
        let bytchk = (flags >> 1) & 0x03;
        if bytchk == 2 {
            return Err(BAD_CDB);
        }
        self.range(lba, n)?;
        let bs = self.bs();
        match bytchk {
            0 => Ok(Done::good()),
            1 => {
                if n > u64::from(self.cfg.max_transfer_blocks) {
                    return Err(BAD_CDB);
                }
                let moved = n.min(Self::data_out(cmd, io) / bs);
                self.compare(io, lba, moved, 0, false)?;
                Ok(Done::want(n * bs))
            }
            _ => {
                if n > 0 {
                    if Self::data_out(cmd, io) < bs {
                        return Err(BAD_CDB);
                    }
                    self.compare(io, lba, n, 0, true)?;
                }
                Ok(Done::want(if n > 0 { bs } else { 0 }))
            }
        }
    }

    fn write_same(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let sixteen = cmd.cdb[0] == op::WRITE_SAME_16;
        let flags = cmd.cdb[1];
        let (lba, n) = if sixteen {
            (cmd.be64(2), u64::from(cmd.be32(10)))
        } else {
            (u64::from(cmd.be32(2)), u64::from(cmd.be16(7)))
        };
        let unmap = flags & 0x08 != 0;
        let ndob = sixteen && flags & 0x01 != 0;
        if flags & 0xE0 != 0 || flags & 0x10 != 0 {
            return Err(BAD_CDB); // WRPROTECT, ANCHOR
        }
        self.writable()?;
        if n == 0 || n > self.cfg.max_write_same_blocks {
            return Err(BAD_CDB); // WSNZ = 1
        }
        self.range(lba, n)?;
        let bs = self.bs();
        let zero = if ndob {
            true
        } else {
            if Self::data_out(cmd, io) < bs {
                return Err(BAD_CDB);
            }
            let mut b = vec![0u8; bs as usize];
            io.peek(0, &mut b).map_err(io_fail)?;
            b.iter().all(|&x| x == 0)
        };
        let _g = self.write_guard();
        let mut done = 0u64;
        while done < n {
            let k = (n - done).min(u64::from(u32::MAX));
            if zero {
                io.write_zeros(lba + done, k as u32).map_err(io_fail)?;
            } else {
                io.write_same(lba + done, k as u32, 0).map_err(io_fail)?;
            }
            done += k;
        }
        self.mark_mapped(lba, n, !(unmap && zero));
        drop(_g);
        self.after_write(io, false)?;
        Ok(Done::want(if ndob { 0 } else { bs }))
    }

    fn unmap(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        if cmd.cdb[1] & 0x01 != 0 {
            return Err(BAD_CDB); // ANCHOR
        }
        self.writable()?;
        let plen = u64::from(cmd.be16(7));
        if plen == 0 {
            return Ok(Done::good());
        }
        if plen < 8 {
            return Err(PARAM_LEN);
        }
        let buf = Self::param(cmd, io, plen)?;
        let bd_len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        let avail = (buf.len() - 8).min(bd_len);
        let count = avail / 16;
        if count as u64 > u64::from(self.cfg.max_unmap_descriptors) {
            return Err(BAD_PARAM);
        }
        let mut ranges = Vec::with_capacity(count);
        for i in 0..count {
            let d = &buf[8 + 16 * i..24 + 16 * i];
            let lba = be64(d, 0);
            let n = u64::from(be32(d, 8));
            if n == 0 {
                continue;
            }
            self.range(lba, n)?;
            if n > u64::from(self.cfg.max_unmap_blocks) {
                return Err(BAD_PARAM);
            }
            ranges.push((lba, n));
        }
        let _g = self.write_guard();
        for (lba, n) in ranges {
            io.write_zeros(lba, n as u32).map_err(io_fail)?;
            self.mark_mapped(lba, n, false);
        }
        Ok(Done::want(plen))
    }

    fn get_lba_status(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let lba = cmd.be64(2);
        let alloc = u64::from(cmd.be32(10));
        if lba >= self.cfg.blocks {
            return Err(OUT_OF_RANGE);
        }
        let max_desc = (alloc.saturating_sub(8) / 16).clamp(1, 64);
        let mut d = vec![0u8; 8];
        {
            let st = self.lock();
            let mut at = lba;
            let mut count = 0;
            while at < self.cfg.blocks && count < max_desc {
                let (mapped, run) = st.mapped.run(at, self.cfg.blocks);
                let run = run.clamp(1, u64::from(u32::MAX));
                d.extend_from_slice(&at.to_be_bytes());
                d.extend_from_slice(&(run as u32).to_be_bytes());
                d.extend_from_slice(&[u8::from(!mapped), 0, 0, 0]);
                at += run;
                count += 1;
            }
        }
        let len = (d.len() - 4) as u32;
        d[0..4].copy_from_slice(&len.to_be_bytes());
        Self::send(cmd, io, &d, alloc)
    }

    fn compare_and_write(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let flags = cmd.cdb[1];
        if flags & 0xE0 != 0 {
            return Err(BAD_CDB);
        }
        let lba = cmd.be64(2);
        let n = u64::from(cmd.cdb[13]);
        self.writable()?;
        if n > u64::from(self.cfg.max_compare_write_blocks) {
            return Err(BAD_CDB);
        }
        if n == 0 {
            // No blocks, yet a data-out phase: the length cannot be what the initiator
            // meant (a count of 256 does not fit the one-byte field).
            if Self::data_out(cmd, io) > 0 {
                return Err(BAD_CDB);
            }
            self.range(lba, 0)?;
            return Ok(Done::good());
        }
        self.range(lba, n)?;
        let bs = self.bs();
        if Self::data_out(cmd, io) < 2 * n * bs {
            return Err(BAD_CDB);
        }
        {
            let _g = self.order.write().unwrap_or_else(|e| e.into_inner());
            self.compare(io, lba, n, 0, false)?;
            io.write(lba, n as u32, n * bs).map_err(io_fail)?;
            self.mark_mapped(lba, n, true);
        }
        self.after_write(io, flags & 0x08 != 0)?;
        Ok(Done::want(2 * n * bs))
    }

    fn sync_cache(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let (lba, n, _) = Self::rw_fields(cmd);
        self.range(lba, n)?;
        io.sync().map_err(io_fail)?;
        Ok(Done::good())
    }

    fn prefetch(&self, cmd: &Cmd) -> R {
        let (lba, n, _) = Self::rw_fields(cmd);
        self.range(lba, n)?;
        Ok(Done {
            status: status::CONDITION_MET,
            ..Done::good()
        })
    }

    // ---- Persistent reservations ----------------------------------------------------------

    fn pr_in(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let alloc = u64::from(cmd.be16(7));
        let st = self.lock();
        let pr = &st.pr;
        let mut d = Vec::new();
        d.extend_from_slice(&pr.generation.to_be_bytes());
        d.extend_from_slice(&[0; 4]);
        match cmd.sa() {
            0 => {
                for key in pr.regs.values() {
                    d.extend_from_slice(&key.to_be_bytes());
                }
            }
            1 => {
                if let Some(r) = pr.res {
                    let key = if r.all_registrants() {
                        0
                    } else {
                        pr.regs.get(&r.holder).copied().unwrap_or(0)
                    };
                    d.extend_from_slice(&key.to_be_bytes());
                    d.extend_from_slice(&[0, 0, 0, 0, 0, r.rtype & 0x0F, 0, 0]);
                }
            }
            2 => {
                d.clear();
                // Length 8; TMV; type mask: all six types. No SIP_C, ATP_C, PTPL_C.
                d.extend_from_slice(&[0x00, 0x08, 0x00, 0x80, 0xEA, 0x01, 0x00, 0x00]);
                drop(st);
                return Self::send(cmd, io, &d, alloc);
            }
            _ => {
                for (&nexus, &key) in &pr.regs {
                    let holder = pr.is_holder(nexus);
                    let (tid, port) = st.identity.get(&nexus).cloned().unwrap_or_else(|| {
                        (
                            iscsi_transport_id(&format!("unknown.nexus.{nexus:016x}")),
                            0,
                        )
                    });
                    d.extend_from_slice(&key.to_be_bytes());
                    d.extend_from_slice(&[0; 4]);
                    d.push(u8::from(holder));
                    d.push(match pr.res {
                        Some(r) if holder => r.rtype & 0x0F,
                        _ => 0,
                    });
                    d.extend_from_slice(&[0; 4]);
                    d.extend_from_slice(&port.to_be_bytes());
                    d.extend_from_slice(&(tid.len() as u32).to_be_bytes());
                    d.extend_from_slice(&tid);
                }
            }
        }
        let len = u32::try_from(d.len() - 8).unwrap_or(u32::MAX);
        d[4..8].copy_from_slice(&len.to_be_bytes());
        drop(st);
        Self::send(cmd, io, &d, alloc)
    }

    fn pr_out(&self, cmd: &Cmd, io: &dyn CmdIo) -> R {
        let sa = cmd.sa();
        let scope = cmd.cdb[2] >> 4;
        let rtype = cmd.cdb[2] & 0x0F;
        let plen = u64::from(cmd.be32(5));
        if plen != 24 {
            return Err(PARAM_LEN);
        }
        let p = Self::param(cmd, io, 24)?;
        let key = be64(&p, 0);
        let sa_key = be64(&p, 8);
        let spec_i_pt = p[20] & 0x08 != 0;
        let all_tg_pt = p[20] & 0x04 != 0;
        let aptpl = p[20] & 0x01 != 0;
        let nexus = cmd.initiator;
        let type_ok = matches!(rtype, 1 | 3 | 5 | 6 | 7 | 8);
        let mut st = self.lock();
        let registered = st.pr.regs.get(&nexus).copied();
        match sa {
            // REGISTER, REGISTER AND IGNORE EXISTING KEY
            0 | 6 => {
                if spec_i_pt || all_tg_pt || aptpl {
                    return Err(BAD_PARAM);
                }
                if sa == 0 && registered.unwrap_or(0) != key {
                    return Err(CONFLICT);
                }
                if registered.is_none() && sa_key == 0 {
                    return Ok(Done::want(24));
                }
                if sa_key == 0 {
                    let tell = st.pr.unregister(nexus);
                    for n in tell {
                        st.ua_push(n, asc::RESERVATIONS_RELEASED);
                    }
                } else {
                    st.pr.regs.insert(nexus, sa_key);
                }
                st.pr.generation = st.pr.generation.wrapping_add(1);
            }
            // RESERVE
            1 => {
                if registered != Some(key) {
                    return Err(CONFLICT);
                }
                if scope != 0 || !type_ok {
                    return Err(BAD_CDB);
                }
                match st.pr.res {
                    Some(r) if st.pr.is_holder(nexus) => {
                        if r.rtype != rtype {
                            return Err(CONFLICT);
                        }
                    }
                    Some(_) => return Err(CONFLICT),
                    None => {
                        st.pr.res = Some(Reservation {
                            holder: nexus,
                            rtype,
                        })
                    }
                }
            }
            // RELEASE
            2 => {
                if registered != Some(key) {
                    return Err(CONFLICT);
                }
                let Some(r) = st.pr.res else {
                    return Ok(Done::want(24));
                };
                if !st.pr.is_holder(nexus) {
                    return Ok(Done::want(24));
                }
                if scope != 0 || r.rtype != rtype {
                    return Err(illegal(asc::INVALID_RELEASE));
                }
                st.pr.res = None;
                if r.registrants_only() || r.all_registrants() {
                    let others: Vec<u64> =
                        st.pr.regs.keys().copied().filter(|&n| n != nexus).collect();
                    for n in others {
                        st.ua_push(n, asc::RESERVATIONS_RELEASED);
                    }
                }
            }
            // CLEAR
            3 => {
                if registered != Some(key) {
                    return Err(CONFLICT);
                }
                let others: Vec<u64> = st.pr.regs.keys().copied().filter(|&n| n != nexus).collect();
                st.pr.regs.clear();
                st.pr.res = None;
                st.pr.generation = st.pr.generation.wrapping_add(1);
                for n in others {
                    st.ua_push(n, asc::RESERVATIONS_PREEMPTED);
                }
            }
            // PREEMPT, PREEMPT AND ABORT
            4 | 5 => {
                if registered != Some(key) {
                    return Err(CONFLICT);
                }
                if scope != 0 || !type_ok {
                    return Err(BAD_CDB);
                }
                let victims = |st: &LuState, k: u64| -> Vec<u64> {
                    st.pr
                        .regs
                        .iter()
                        .filter(|&(&n, &rk)| rk == k && n != nexus)
                        .map(|(&n, _)| n)
                        .collect()
                };
                match st.pr.res {
                    Some(r) if r.all_registrants() && sa_key == 0 => {
                        let others: Vec<u64> =
                            st.pr.regs.keys().copied().filter(|&n| n != nexus).collect();
                        for n in &others {
                            st.pr.regs.remove(n);
                            st.ua_push(*n, asc::REGISTRATIONS_PREEMPTED);
                        }
                        st.pr.res = Some(Reservation {
                            holder: nexus,
                            rtype,
                        });
                    }
                    Some(r)
                        if !r.all_registrants() && st.pr.regs.get(&r.holder) == Some(&sa_key) =>
                    {
                        for n in victims(&st, sa_key) {
                            st.pr.regs.remove(&n);
                            st.ua_push(n, asc::REGISTRATIONS_PREEMPTED);
                        }
                        st.pr.res = Some(Reservation {
                            holder: nexus,
                            rtype,
                        });
                    }
                    _ => {
                        if sa_key == 0 {
                            return Err(BAD_PARAM);
                        }
                        let v = victims(&st, sa_key);
                        if v.is_empty() && st.pr.regs.get(&nexus) != Some(&sa_key) {
                            return Err(CONFLICT);
                        }
                        for n in v {
                            let tell = st.pr.unregister(n);
                            st.ua_push(n, asc::REGISTRATIONS_PREEMPTED);
                            for t in tell {
                                st.ua_push(t, asc::RESERVATIONS_RELEASED);
                            }
                        }
                    }
                }
                st.pr.generation = st.pr.generation.wrapping_add(1);
            }
            _ => return Err(BAD_CDB),
        }
        Ok(Done::want(24))
    }
}

impl LuHandler for BlockLu {
    fn execute(&self, pkt: &mut EmuPacket, io: &dyn CmdIo) {
        let cmd = Cmd {
            cdb: pkt.cdb16(),
            initiator: pkt.initiator(),
            expected: u64::from(pkt.expected_len()),
        };
        let cdb_len = usize::from(pkt.cdb_len()).min(16);
        match self.dispatch(&cmd, cdb_len, io) {
            Ok(done) => {
                let data_in = done.data_in.min(cmd.expected);
                pkt.set_data_in_len(data_in as u32);
                let (flags, count) = match done.want.cmp(&cmd.expected) {
                    std::cmp::Ordering::Less => {
                        (crate::packet::RESIDUAL_UNDERFLOW, cmd.expected - done.want)
                    }
                    std::cmp::Ordering::Greater => {
                        (crate::packet::RESIDUAL_OVERFLOW, done.want - cmd.expected)
                    }
                    std::cmp::Ordering::Equal => (0, 0),
                };
                pkt.set_residual(flags, u32::try_from(count).unwrap_or(u32::MAX));
                pkt.complete(done.status);
            }
            Err(Fail::Check { key, asc, info }) => {
                pkt.set_data_in_len(0);
                pkt.set_residual(0, 0);
                pkt.check_condition_info(key, asc.0, asc.1, info);
            }
            Err(Fail::Status(s)) => {
                pkt.set_data_in_len(0);
                pkt.set_residual(0, 0);
                pkt.complete(s);
            }
        }
    }

    fn task_management(&self, function: TmFunction, initiator: u64) {
        let mut st = self.lock();
        match function {
            TmFunction::LogicalUnitReset
            | TmFunction::TargetWarmReset
            | TmFunction::TargetColdReset => {
                let all: Vec<u64> = st.known.iter().copied().collect();
                for n in all {
                    st.ua_push(n, asc::POWER_ON_RESET);
                }
            }
            TmFunction::ItNexusReset => st.ua_push(initiator, asc::NEXUS_LOSS),
            TmFunction::AbortTask
            | TmFunction::AbortTaskSet
            | TmFunction::ClearTaskSet
            | TmFunction::ClearAca => {}
        }
    }

    fn nexus_lost(&self, initiator: u64) {
        let mut st = self.lock();
        st.ua.remove(&initiator);
        st.known.remove(&initiator);
    }

    fn nexus_identity(&self, initiator: u64, transport_id: &[u8], relative_port: u16) {
        self.lock()
            .identity
            .insert(initiator, (transport_id.to_vec(), relative_port));
    }
}
