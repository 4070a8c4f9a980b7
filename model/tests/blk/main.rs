//! Block-controller DMA: scatter-gather walk, straddling and ZERO elements, every status, for
//! BLK_WRITE and BLK_READ (docs/storage.md), and both interleaved on the request ring.
//!
//! The files, by responsibility:
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | the scatter-gather list helper and the rig's disk size |
//! | `write.rs` | BLK_WRITE: the walk, straddling and ZERO elements, every status, parked completions |
//! | `read.rs` | BLK_READ: the walk, a read behind a write of the same block, every status and what reaches host memory |
//! | `random.rs` | random BLK_WRITE and BLK_READ requests interleaved, against an independent oracle of the walk |

#[path = "../common/mod.rs"]
mod common;

mod random;
mod read;
mod write;

use buflet_spec::{reg, CplKind, Opcode, SgElem, SgFlags, Status};
use common::*;

/// The end of a run without errors: host memory saw `blk_read` bytes read and `blk_written`
/// written by the block DMA, `nic_read` by the request fetch, and no stray access; no request
/// failed; every buflet is free.
fn clean_end(r: &mut Rig, blk_read: u64, blk_written: u64, nic_read: u64) {
    let s = r.env.mem.stats();
    assert_eq!(s.blk_read, blk_read, "bytes the block DMA read");
    assert_eq!(s.blk_written, blk_written, "bytes the block DMA wrote");
    assert_eq!(s.nic_read, nic_read, "bytes the request fetch read");
    assert_eq!(s.stray_accesses, 0);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 0);
    r.assert_all_free();
}

/// Write a linked list of elements into registered host memory; returns its address.
fn sg_list(r: &mut Rig, els: &[El]) -> u64 {
    let base = r.alloc(32 * els.len() as u64);
    r.sg_write(base, els);
    base
}

/// Disk image size of the rig (`Rig::new`).
const DISK: u64 = 1 << 20;
