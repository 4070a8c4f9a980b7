//! RTL test of `tx_builder` at DATA_WIDTH 64 and 512 (models `tx_builder_w64`,
//! `tx_builder_w512`).
//!
//! Random `tx_cmd` entries (spec layout; random VLAN ids including values
//! above 0x0FFF, random FLAGS, every OPTS combination plus junk bits, junk in
//! the reserved bytes) are offered with random idle cycles while the MAC side
//! applies random backpressure. Every frame is checked three ways:
//! - parsed with etherparse: every header field equals the command, the
//!   options are exactly MSS / NOP+WS as asked, there is no payload and no
//!   padding, and both checksums equal etherparse's own calculation;
//! - byte for byte against the same frame built by etherparse's PacketBuilder;
//! - the AXI-Stream rules: packed words (all full but the last), stable
//!   while stalled, and `ev_tx_frame`/`ev_tx_bytes` exactly on the last word.
//!
//! A second run with no idle cycles and no backpressure checks one word per
//! cycle with back-to-back frames.
//!
//! Data segments (docs/tcp-transmit.md): TCP commands with PAY_LEN > 0 (random payloads of 1
//! to TX_MAX_SEG bytes, odd lengths included, with and without VLAN tag and options, PAY_SUM
//! computed independently) whose payload words come on `s_axis_pay` (packed, garbage past the
//! end of the last word and on the bus while idle, random idle cycles). Each frame is parsed
//! with etherparse (lengths, payload, both checksums) and compared byte for byte with
//! `buflet_model::tx::frame_with` and etherparse's PacketBuilder; every payload word must be
//! taken, none more. The full-rate data run checks one word per cycle with no bubble between
//! a header and its payload. ARP commands carry junk PAY_LEN/PAY_SUM (ignored) and TCP commands
//! without payload junk PAY_SUM (ignored).
//!
//! ARP replies (docs/rx-paths.md "Reply frame", `KIND = ARP`) are mixed into
//! the same runs, their TCP fields random (they must not matter). Each is
//! parsed back with etherparse's ARP support (operation REPLY, sender =
//! SRC_MAC/SRC_IP, target = DST_MAC/DST_IP), compared byte for byte with the
//! docs table assembled by hand and with etherparse's PacketBuilder, and
//! counted by `ev_tx_frame`/`ev_tx_bytes` like any frame. Every frame, TCP or
//! ARP, is also compared with the Rust model's `buflet_model::tx::frame`. KIND values
//! other than TCP and ARP build a TCP segment, as in the model.
//!
//! The files, by responsibility:
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | shared imports, the list of tests |
//! | `cmd.rs` | commands: random ones, their entries, the reference frames |
//! | `check.rs` | every frame parsed and checked against its command and the references |
//! | `random.rs` | random runs (control and data) with idle cycles and backpressure, the full-rate runs |
//! | `directed.rs` | hand-written ARP replies, the latency of one command |

mod check;
mod cmd;
mod directed;
mod random;

use buflet_sim::axis::{AxisBus, AxisSink, AxisSource, Beat};
use buflet_sim::{ports, Model};
use buflet_spec::{param, tx_cmd, TcpFlags, TxCmd, TxKind, TxOpts};
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, IpHeaders, IpNumber, Ipv4Header, NetHeaders,
    PacketBuilder, PacketHeaders, TcpHeader, TcpOptionElement, TransportHeader, VlanHeader, VlanId,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::net::Ipv4Addr;

use check::*;
use cmd::*;
use random::*;

buflet_testbench::test_list! {
    random => {
        tx_builder_w64_random,
        tx_builder_w512_random,
        tx_builder_w64_random_control,
        tx_builder_w512_random_control,
        tx_builder_w64_full_rate,
        tx_builder_w512_full_rate,
        tx_builder_w64_full_rate_data,
        tx_builder_w512_full_rate_data,
    },
    directed => {
        tx_builder_w64_arp_table,
        tx_builder_w512_arp_table,
        tx_builder_w64_latency,
        tx_builder_w512_latency,
    },
}
