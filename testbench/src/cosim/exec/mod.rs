//! Lockstep execution: one step on both backends, each run to quiescence, then compared.

use super::compare::{self, Observed};
use super::gen::MAX_NB_PAGES;
use super::stim::{
    AnonPost, AnonSlot, BlkBad, BlkParams, DevBad, DevRead, ListenParams, NbPost, NbSlot, PageList,
    RelBad, SockParams, Step, Stimulus, TxBad, TxPost,
};
use super::{CaseLog, CaseOpts, CaseResult, CosimError, Mismatch, Waves};
use crate::{Backend, Bench, TbError};
use buflet_driver::regcache::Perms;
use buflet_driver::Completion;
use buflet_model::costs as model_costs;
use buflet_platform::{Agent, DeviceConfig, HostMemory};
use buflet_spec::{
    self as spec, hold_rec, param, reg, sg_elem, AnonDesc, BlkReq, BufRelease, HoldRec, NbDesc,
    Opcode, ReqHdr, SgElem, SgFlags, Status, TxDesc, TxFlags,
};
use buflet_spec::{CplKind, SockFlags};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod host;
mod lockstep;
mod side;
use host::*;
pub use lockstep::{run_case, run_case_with, run_lockstep, run_lockstep_with};
use side::*;

/// Host memory of each side.
const MEM_BYTES: u64 = 8 << 20;
/// Disk image of each side (sparse).
const DISK_BYTES: u64 = 32 << 20;
/// Most cycles one step may keep a backend busy before the case is abandoned.
const STEP_LIMIT: u64 = 20_000_000;
/// Steps of context in a mismatch report.
const RECENT: usize = 6;
/// Scatter-gather elements the SG area holds.
const SG_SLOTS: u64 = 16;
/// Held chains a BUF_RELEASE step leaves alone while their extents wait for a DEVMEM write.
const HOLD_KEEP: usize = 12;
/// Pages of the send pool reserved for a case's iSCSI connection (gen/iscsi.rs); the other
/// connections share the rest.
pub const ISCSI_TX_PAGES: u64 = 192;
/// Page lists reserved for a case's iSCSI connection: the most TX_POSTs it makes.
pub const ISCSI_TX_POSTS: u64 = 128;
/// Pages of the send pool (TX_POST payload), per case.
pub const TX_POOL_PAGES: u64 = 640 + ISCSI_TX_PAGES;
/// Page lists of the send pool, and the bytes of each (up to 8 pages).
const TX_LIST_SLOTS: u64 = 512 + ISCSI_TX_POSTS;
const TX_LIST_BYTES: u64 = 64;
/// First tag of the host's own requests: far above the driver's tags (TX_POST goes through
/// the driver, which tags it), so no completion of one is taken for the other's.
const HOST_TAG0: u32 = 0x4000_0000;
