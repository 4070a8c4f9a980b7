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
//! | `dma_rd.rs` | the host side of DMA reads: requests taken, responses played |
//! | `regs.rs` | the register block's reference: register reads, read/write registers and their reset values, counters |
//! | `reg_block.rs` | `reg_block`: registers, counters and IRQ at random, the timer and the send side's registers and counters pinned by hand |
//! | `req_fetch.rs` | `req_fetch` at 64 and 512 bits |
//! | `cpl_writer.rs` | `cpl_writer` at 64 and 512 bits |
//! | `arbiters.rs` | `dma_rd_arb`, `dma_wr_arb`, `stream_arb` with three clients |
//! | `nic_smoke.rs` | the whole `buflet_nic` top at 64 and 512 bits |

/// The `m_dma_rd_req_*` and `s_axis_dma_rd_*` ports of a bound port struct, as a
/// [`dma_rd::RdPorts`].
macro_rules! dma_rd_ports {
    ($p:expr) => {
        $crate::dma_rd::RdPorts {
            req_valid: $p.m_dma_rd_req_valid,
            req_ready: $p.m_dma_rd_req_ready,
            req_addr: $p.m_dma_rd_req_addr,
            req_len: $p.m_dma_rd_req_len,
            tdata: $p.s_axis_dma_rd_tdata,
            tkeep: $p.s_axis_dma_rd_tkeep,
            tlast: $p.s_axis_dma_rd_tlast,
            tuser: $p.s_axis_dma_rd_tuser,
            tvalid: $p.s_axis_dma_rd_tvalid,
            tready: $p.s_axis_dma_rd_tready,
        }
    };
}

/// Model `$name` with its ports bound as `ports::$ports`, held in reset (`dut::reset`):
/// `(model, ports)`.
macro_rules! dut {
    ($name:expr, $ports:ident) => {{
        let mut m = model($name);
        let p = ports::$ports::bind(&m).expect("ports");
        reset(&mut m, p.clk, p.rst);
        (m, p)
    }};
}

mod arbiters;
mod cpl_writer;
mod dma_rd;
mod dut;
mod nic_smoke;
mod reg_block;
mod regs;
mod req_fetch;

use std::collections::{HashMap, VecDeque};

use buflet_sim::axis::{AxisBus, AxisSink};
use buflet_sim::{ports, Model, Port};
use buflet_spec::{cpl, drop, param, reg, DropReason};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use dma_rd::*;
use dut::*;
use regs::*;

buflet_testbench::test_list! {
    reg_block => {
        reg_block_registers_counters_irq,
        reg_block_timer,
        reg_block_tx_registers,
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
