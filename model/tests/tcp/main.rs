//! The TCP receive engine of docs/tcp-receive.md: handshake and SYN-ACK bytes, acceptability
//! and trimming, reassembly, FIN, RST, SOCK_DEL, PSH_RETURN, the window (closing, the promise
//! kept after the pool closes, the right edge that never moves left, the window frozen while
//! segments wait for reassembly).
//!
//! These are unit tests of the Rust model only (`buflet_model::ModelDevice`). The RTL
//! counterpart is tested by `testbench/tests/rtl_toe_engine/` (toe_engine against an
//! independent oracle), `testbench/tests/rtl_rx_parser/` (parse metadata) and
//! `testbench/tests/cosim.rs` (the whole RTL against this model, transaction by transaction).
//!
//! The files, by responsibility:
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | the rig, socket and segment helpers, the window edge check the reassembly and window tests share |
//! | `handshake.rs` | LISTEN and SYN_RCVD: the handshake, SYN-ACK bytes and options, VLAN sockets |
//! | `acceptability.rs` | acceptability and trimming against exact windows, the zero window and its probes |
//! | `reassembly.rs` | reassembly: a reference of the insertion rules against random streams, the cases one by one, a burst of held segments |
//! | `close.rs` | FIN in order and ahead, RST exact versus in the window, SOCK_DEL |
//! | `psh.rs` | PSH_RETURN |
//! | `window.rs` | the window: closing on the pool and on RCV_BUF, the promise kept, duplicate ACKs that repeat it, the SYN-ACK's edge |

#[path = "../common/mod.rs"]
mod common;

mod acceptability;
mod close;
mod handshake;
mod psh;
mod reassembly;
mod window;

use buflet_spec::{reg, Cpl, CplFlags, CplKind, Opcode, SockFlags, Status};
use common::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

fn rig(name: &str, width: u32) -> Rig {
    Rig::new(name, cfg(width), 64, 256)
}

/// A rig of width 64 with socket `sref` added with the default options and opened by a
/// handshake at `irs`: the rig and the first data SEQ.
fn opened(name: &str, sref: u16, irs: u32) -> (Rig, u32) {
    opened_with(name, sref, &SockOpts::default(), irs, true)
}

/// [`opened`] with socket options `o`, and a SYN without the window scale option unless `ws`.
fn opened_with(name: &str, sref: u16, o: &SockOpts, irs: u32, ws: bool) -> (Rig, u32) {
    let mut r = rig(name, 64);
    add(&mut r, sref, o);
    let base = r.handshake_full(irs, None, ws);
    (r, base)
}

/// A rig of width 64 with 32 buflets (so the pool window matters) and socket 0 added with the
/// default options.
fn small_pool(name: &str) -> Rig {
    let mut c = cfg(64);
    c.num_buflets = 32;
    let mut r = Rig::new(name, c, 64, 64);
    add(&mut r, 0, &SockOpts::default());
    r
}

fn add(r: &mut Rig, sref: u16, o: &SockOpts) {
    r.submit(&sock_add_opts(sref, 1000 + sref as u32, o));
    let cs = r.wait_cpls(1);
    assert_eq!((cs[0].tag, cs[0].status), (1000 + sref as u32, Status::Ok));
}

/// Post a named buffer of `total` bytes (tag `tag`, NB 0) to socket 0, wait for its return and
/// check it: `want.len()` bytes with FLAGS `flags`, holding `want`. Returns the completion.
fn nb_returns(r: &mut Rig, tag: u32, total: u32, want: &[u8], flags: CplFlags) -> Cpl {
    let pages = r.post_nb(0, tag, 0, total);
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].tag, cs[0].bytes, cs[0].flags),
        (tag, want.len() as u32, flags),
        "{cs:?}"
    );
    assert_eq!(r.nb_read(&pages, want.len()), want);
    cs[0]
}

/// A data segment at stream offset `off` (sequence `base + off`).
fn data(base: u32, off: usize, stream: &[u8], end: usize) -> Seg {
    Seg::at(base.wrapping_add(off as u32)).payload(stream[off..end].to_vec())
}

/// Checks the ACKs of one connection against the window rules of docs/tcp-receive.md that hold
/// whatever the pool and buffers do, as long as the pool is not empty (every test using it
/// keeps it far from empty): the advertised right edge `ack + (window << shift)` never moves
/// left of the largest edge advertised so far by a scale unit or more (the rounding of the
/// scaled window is the only slack), and a duplicate ACK sent while segments wait in the
/// reassembly list repeats the previous ACK's window exactly.
struct EdgeCheck {
    shift: u8,
    /// The largest right edge advertised (stream offset).
    max_edge: Option<u64>,
    /// The previous ACK: (ack, window field).
    prev: Option<(u64, u16)>,
    /// Duplicate ACKs checked during loss episodes.
    frozen: u32,
}

impl EdgeCheck {
    fn new(shift: u8) -> Self {
        EdgeCheck {
            shift,
            max_edge: None,
            prev: None,
            frozen: 0,
        }
    }

    /// One ACK at stream offset `ack` with window field `window`; `held` says whether the
    /// reassembly list is non-empty after the segment it answers.
    fn see(&mut self, ack: u64, window: u16, held: bool, what: &str) {
        let edge = ack + ((window as u64) << self.shift);
        if let Some(max) = self.max_edge {
            assert!(
                edge + (1 << self.shift) > max,
                "{what}: the right edge moved left: ack {ack} window {window} -> edge {edge}, \
                 {max} was advertised"
            );
        }
        self.max_edge = Some(self.max_edge.unwrap_or(0).max(edge));
        if let Some((pack, pwin)) = self.prev {
            if held && pack == ack && pwin > 0 {
                assert_eq!(
                    window, pwin,
                    "{what}: a duplicate ACK during a loss episode changed the window"
                );
                self.frozen += 1;
            }
        }
        self.prev = Some((ack, window));
    }
}
