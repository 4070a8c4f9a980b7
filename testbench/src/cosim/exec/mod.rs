//! Lockstep execution: one step on both backends, each run to quiescence, then compared.

use super::compare::{self, Observed};
use super::gen::MAX_NB_PAGES;
use super::stim::{
    AnonPost, AnonSlot, BlkBad, BlkParams, NbPost, NbSlot, PageList, RelBad, SockParams, Step,
    Stimulus,
};
use super::{CaseResult, CosimError, Mismatch};
use crate::{Backend, Bench, TbError};
use buflet_driver::regcache::Perms;
use buflet_driver::Completion;
use buflet_model::costs as model_costs;
use buflet_platform::{Agent, DeviceConfig, HostMemory};
use buflet_spec::{
    self as spec, hold_rec, param, reg, sg_elem, AnonDesc, BlkReq, BufRelease, HoldRec, NbDesc,
    Opcode, ReqHdr, SgElem, SgFlags,
};
use buflet_spec::{CplKind, SockFlags};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod host;
mod lockstep;
mod side;
use host::*;
pub use lockstep::{run_case, run_lockstep};
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
