//! RTL test of `prot_table` (device protection table, seed 004) at 32 and 5 slots.
//!
//! Random REG_REGION / DEREG_REGION entries (valid and invalid: slots past the table, zero and
//! wrapping lengths, bad permission bits) are offered with random gaps, with random backpressure
//! on the completion output, while every lookup port asks a random access in every cycle (most
//! of them at the edges of registered regions) and CTRL.PROT_EN toggles now and then. An
//! independent oracle written from docs/protection.md (a list of slots and the `allowed` rule
//! in 128-bit arithmetic) gives the expected completions and the expected answer of every
//! lookup in every cycle.
//!
//! Directed tests pin the protection checks of the other modules (`reg_block`, `blk_dma`,
//! `dma_guard`) and of the whole `buflet_nic` top.
//!
//! The files, by responsibility:
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | shared imports, the list of tests |
//! | `oracle.rs` | the oracle: slots, request statuses, the `allowed` rule |
//! | `stimulus.rs` | region bases and lengths, random entries and accesses, the REG_REGION builder |
//! | `random.rs` | the random run of `prot_table` against the oracle |
//! | `modules.rs` | directed tests: `prot_table` reset and timing, `reg_block`, `blk_dma`, `dma_guard` |
//! | `nic_host.rs` | a tiny host for the `buflet_nic` top |
//! | `nic.rs` | `buflet_nic` tests: refused ring accesses, anonymous buffers, named buffers |

mod modules;
mod nic;
mod nic_host;
mod oracle;
mod random;
mod stimulus;

use buflet_sim::{ports, Model, Port};
use buflet_spec::{Cpl, CplKind, Opcode, RegionDesc, RegionPerm, ReqHdr, Status};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use nic_host::*;
use oracle::*;
use stimulus::*;

buflet_testbench::test_list! {
    random => {
        prot_table_32_slots_matches_oracle,
        prot_table_5_slots_matches_oracle,
    },
    modules => {
        prot_table_reset_and_timing,
        reg_block_protection_registers,
        blk_dma_refuses_element_fetch,
        blk_dma_refuses_write_source_and_read_destination,
        dma_guard_refusals,
    },
    nic => {
        nic_ring_faults_w64,
        nic_ring_faults_w512,
        nic_anon_refused_w64,
        nic_anon_refused_w512,
        nic_nb_refused_w64,
        nic_nb_refused_w512,
    },
}
