//! The NAS writer (seed 000) on both backends: read-modify-write of partial blocks through
//! `OP_BLK_READ` (the seed's three cases), ordering of writes that share a block, random writes
//! against a plain `Vec` oracle (sha256 of the disk image), disk errors retried from the block
//! that failed and a permanent failure reaching the caller with its file range, and the
//! host-DRAM crossings per byte of each mode measured from the host memory counters. Every
//! mode runs, p2p included (docs/p2p.md: a hold socket, block writes from buflet memory).
//!
//! The files, by responsibility (the rig, the stream receiver and the file maps are shared
//! with other tests in `../common/mod.rs`):
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | shared imports, the list of tests, the property tests |
//! | `oracle.rs` | the `Vec` oracle of the disk, the disk and callback checks, copies per mode |
//! | `rmw.rs` | read-modify-write cases, writes sharing a block, the tail at the end of the stream |
//! | `random.rs` | random writes against the oracle and their strategies |
//! | `failures.rs` | disk errors retried, a permanent failure, a disk that stops answering, bad requests |
//! | `modes.rs` | host-DRAM crossings per byte of each mode, mode names |
//! | `p2p.rs` | p2p streams: the mode and the socket, chain releases, SOCK_DEL |
//! | `bounce.rs` | bytes copied out of named buffers the socket needs back |

mod bounce;
#[path = "../common/mod.rs"]
mod common;
mod failures;
mod modes;
mod oracle;
mod p2p;
mod random;
mod rmw;

use buflet_driver::CplResult;
use buflet_spec::Status;

use buflet_driver::{CplKind, DriverError};
use buflet_nas::{BlockOp, ExtentFile, FileMap, WriteError, WriteMode};
use buflet_spec::reg;
use buflet_testbench::{frames, sha256_hex, Backend};
use common::{
    blocks_of, calls, oracle_write, oracle_zero_tail, recorder, Outcomes, Rig, Scattered, BLOCK,
};
use proptest::prelude::*;

use oracle::*;
use random::*;

buflet_testbench::test_list! {
    bounce => {
        bounce_model,
        bounce_rtl,
    },
    rmw => {
        rmw_cases_model,
        rmw_cases_rtl,
        rmw_cases_p2p_model,
        rmw_cases_p2p_rtl,
        eof_tail_model,
        eof_tail_rtl,
    },
    failures => {
        disk_errors_are_retried_model,
        disk_errors_are_retried_rtl,
        permanent_failure_reaches_the_caller_model,
        permanent_failure_reaches_the_caller_rtl,
        a_hung_disk_ends_in_disk_timeout_model,
        a_hung_disk_ends_in_disk_timeout_rtl,
        bad_requests_are_errors_not_panics,
    },
    modes => {
        crossings_per_byte_of_each_mode_model,
        crossings_per_byte_of_each_mode_rtl,
        mode_names_round_trip,
    },
    p2p => {
        p2p_mode_follows_the_socket_model,
        p2p_mode_follows_the_socket_rtl,
        p2p_sock_del_leaves_held_chains_to_the_driver_model,
        p2p_sock_del_leaves_held_chains_to_the_driver_rtl,
        p2p_window_reads_held_bytes_model,
        p2p_window_reads_held_bytes_rtl,
    },
}

/// A property test of random writes against the oracle on `backend`: 8 cases, shrinking a
/// failure for at most `shrink` iterations.
macro_rules! random_writes_test {
    ($name:ident, $backend:expr, $shrink:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 8,
                failure_persistence: None,
                max_shrink_iters: $shrink,
                ..ProptestConfig::default()
            })]
            #[test]
            fn $name(m in mode(), seed in 0u64..1000, w in write_list()) {
                random_writes($backend, m, seed, &w);
            }
        }
    };
}

random_writes_test!(random_writes_match_oracle_model, Backend::Model, 64);
random_writes_test!(random_writes_match_oracle_rtl, Backend::Rtl, 32);
