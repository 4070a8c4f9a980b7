//! What the send-side tests share (tx.rs, tx_hostile.rs, tx_review.rs): a peer's TCP segment
//! built with etherparse, and the macro that runs each case on both backends.

#![allow(dead_code)]

use buflet_testbench::frames::{
    CLIENT_IP, CLIENT_MAC, CLIENT_PORT, SERVER_IP, SERVER_MAC, SERVER_PORT,
};
use etherparse::{PacketBuilder, TcpOptionElement};

/// Flags of a peer segment.
#[derive(Default, Clone, Copy)]
pub struct F {
    pub syn: bool,
    pub ack: Option<u32>,
    pub rst: bool,
    pub fin: bool,
}

/// The peer's segment (client to server) with SEQ `seq`, WINDOW `win`, flags `f`, options
/// `opts` and `payload`.
pub fn pkt(seq: u32, win: u16, f: F, opts: &[TcpOptionElement], payload: &[u8]) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC)
        .ipv4(CLIENT_IP, SERVER_IP, 64)
        .tcp(CLIENT_PORT, SERVER_PORT, seq, win);
    if f.syn {
        b = b.syn();
    }
    if let Some(a) = f.ack {
        b = b.ack(a);
    }
    if f.rst {
        b = b.rst();
    }
    if f.fin {
        b = b.fin();
    }
    if !opts.is_empty() {
        b = b.options(opts).unwrap();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

/// Each case `fn name(b: Backend)` as two tests, `model::name` and `rtl::name`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod model {
            $( #[test] fn $name() { super::$name(super::Backend::Model) } )*
        }
        mod rtl {
            $( #[test] fn $name() { super::$name(super::Backend::Rtl) } )*
        }
    };
}
