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
//! p2p reads (docs/p2p.md "p2p reads"): the bench drives HOST_BUFLETS (changed between batches:
//! 0, NUM_BUFLETS/2, 1 or random) and plays the pool's shared write port (`bram_wr_*`), busy in
//! random bursts as the receive side would hold it (full rate every third batch), recording
//! every word written into its buflet memory. BLK_READ lists mix DEVMEM elements (multiples of
//! DEV_ALIGN = 64 at 64-byte offsets of the block, inside one host buflet, some spanning two
//! blocks) with host and ZERO elements; every BLK_READ DEVMEM BAD_SG rule is injected alone
//! (ZERO, SRC_ADDR, LEN or DISK_ADDR not aligned, beyond buflet memory, crossing its buflet, not
//! a host buflet, the latter also with HOST_BUFLETS 0). The oracle gives the words written
//! (command, word address, data, in order; a block's chunks before a later failure stay
//! written), the buflet memory after every batch, the CNT_BLK_DEV_WR_BYTES events (per chunk
//! and per command), and each chunk's words must come in consecutive cycles but for the busy
//! ones: one word per cycle whenever the port is free, so at full rate a chunk of n words takes
//! n cycles.
//!
//! The files, by responsibility:
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | shared constants and imports, the list of tests |
//! | `memory.rs` | host memory with refused ranges, buflet memory and the DEVMEM rules (write and read) |
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
const BLK_TIMEOUT: u64 = 8000;

buflet_testbench::test_list! {
    random => {
        blk_dma_w64,
        blk_dma_w512,
    },
}
