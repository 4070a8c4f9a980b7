//! RTL test of `blk_dma` (block-controller DMA, seed 000) at 64 and 512 bits.
//!
//! The test drives the engine with BLK_WRITE and BLK_READ entries, interleaved in its command
//! FIFO, and plays host memory (DMA reads with random latency, random idle words, refused
//! ranges; DMA writes with random backpressure on the request and the data) and the block device
//! (a disk image; random backpressure on the request and the write data, random latency and idle
//! words on the read data, random status latency, injected errors), with random backpressure on
//! the completion output. An independent Rust walk of the scatter-gather list (the oracle in
//! `oracle.rs`, written from docs/architecture.md and docs/storage.md, over its own copies of
//! host memory and disk) gives the expected host reads, block operations, host writes,
//! completions and the final host memory and disk contents.
//!
//! p2p (docs/p2p.md): the bench also plays buflet memory (the buflet_pool second read port,
//! registered, data held until the next read, and the combinational exposed bitmap, changed
//! between batches). BLK_WRITE lists mix DEVMEM elements (odd offsets and lengths inside one
//! exposed buflet) with host and ZERO elements; every DEVMEM BAD_SG rule is injected. The
//! oracle also gives the buflet-memory reads (each chunk one run of consecutive words read in
//! consecutive cycles: one word per cycle) and the CNT_BLK_DEV_BYTES events.
//!
//! The files, by responsibility:
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | shared constants and imports, the list of tests |
//! | `memory.rs` | host memory with refused ranges, buflet memory and the DEVMEM rules |
//! | `oracle.rs` | commands, expected completions and observations, the oracle's list walk |
//! | `stimulus.rs` | scatter-gather list builder, the kinds of list damage |
//! | `bench.rs` | the bench over `ports::BlkDma`: host memory, block device and buflet memory played cycle by cycle |
//! | `random.rs` | the random run at 64 and 512 bits, its checks and coverage |

mod bench;
mod memory;
mod oracle;
mod random;
mod stimulus;

use std::collections::{HashMap, VecDeque};

use buflet_sim::axis::{AxisBus, AxisSink};
use buflet_sim::{ports, Model, Port};
use buflet_spec::{BlkReq, CplFlags, CplKind, Opcode, SgElem, SgFlags, Status};
use buflet_testbench::rtl_check::{count_cycle, reset};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use bench::*;
use memory::*;
use oracle::*;
use stimulus::*;

const BLOCK: usize = 4096;
const MEM_BYTES: usize = 6 << 20;
const SG_REGION: u64 = 5 << 20; // data in [DATA_BASE, SG_REGION), elements in [SG_REGION, MEM_BYTES)
/// No host data below: the bench's protection lookup refuses every range starting there, so a
/// DEVMEM source (buflet memory addresses are below it) would be refused if it were looked up.
const DATA_BASE: u64 = 1 << 20;
const DISK_BYTES: usize = 8 << 20;
/// BLK_TIMEOUT of the bench: far above the bench's slowest answer in time, so only the answers
/// it makes late on purpose (`Bench::disk_late`) run past it.
const BLK_TIMEOUT: u64 = 600;

buflet_testbench::test_list! {
    random => {
        blk_dma_w64,
        blk_dma_w512,
    },
}
