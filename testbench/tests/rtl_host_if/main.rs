//! RTL tests of the host-interface modules: `reg_block`, `req_fetch`, `cpl_writer` and the
//! arbiters `dma_rd_arb`, `dma_wr_arb`, `stream_arb`. Every test uses a seeded RNG for idle
//! cycles on the inputs and backpressure on the outputs, and checks against a plain Rust
//! reference of the behaviour in docs/architecture.md.
//!
//! The files, by responsibility:
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | shared imports, the list of tests |
//! | `dut.rs` | the model held in reset, DMA read response words |
//! | `regs.rs` | the register block's reference: register reads, read/write registers, counters |
//! | `reg_block.rs` | `reg_block`: registers, counters and IRQ at random, the timer pinned by hand |
//! | `req_fetch.rs` | `req_fetch` at 64 and 512 bits |
//! | `cpl_writer.rs` | `cpl_writer` at 64 and 512 bits |
//! | `arbiters.rs` | `dma_rd_arb`, `dma_wr_arb`, `stream_arb` with three clients |
//! | `nic_smoke.rs` | the whole `buflet_nic` top at 64 and 512 bits |

mod arbiters;
mod cpl_writer;
mod dut;
mod nic_smoke;
mod reg_block;
mod regs;
mod req_fetch;

use std::collections::{HashMap, VecDeque};

use buflet_sim::{ports, Model, Port};
use buflet_spec::{cpl, drop, param, reg, DropReason};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use dut::*;
use regs::*;

buflet_testbench::test_list! {
    reg_block => {
        reg_block_registers_counters_irq,
        reg_block_timer,
    },
    req_fetch => {
        req_fetch_w64,
        req_fetch_w512,
    },
    cpl_writer => {
        cpl_writer_w64,
        cpl_writer_w512,
    },
    arbiters => {
        dma_rd_arb_three_clients,
        dma_wr_arb_three_clients,
        stream_arb_three_sources,
    },
    nic_smoke => {
        buflet_nic_smoke_w64,
        buflet_nic_smoke_w512,
    },
}
