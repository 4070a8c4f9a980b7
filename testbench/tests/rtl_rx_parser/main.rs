//! RTL test of `rx_parser` at DATA_WIDTH 64 and 512 (models `rx_parser_w64`:
//! BUFLET_BYTES 256, `rx_parser_w512`: BUFLET_BYTES 512; NUM_BUFLETS 64, small
//! buflets so that frames span many of them).
//!
//! Frames are built with etherparse (good TCP frames of many sizes, with and
//! without 802.1Q tag, IPv4 options, TCP options, Ethernet padding) and then
//! corrupted in known ways (bad IP checksum, bad TCP checksum, truncated,
//! ARP/IPv6, bad version/IHL/total length, fragments, UDP, bad data offset,
//! too long). The buflet pool is modelled in Rust: it serves allocations
//! (refusing them on purpose for some frames), applies link and RAM writes.
//! Every metadata record is checked: the reason against the case's expected
//! reason, the fields of good frames against etherparse's own parse, the
//! buflet chain walked through the link writes, and the stored bytes against
//! the frame. Random idle cycles on the input and random metadata backpressure.
//!
//! Version 0.2 metadata: the acknowledgment number of every passing frame, and
//! the window scale option of SYN segments (docs/tcp-receive.md "Frame
//! metadata from rx_parser"). SYN frames with option lists built with
//! etherparse (valid element lists; raw lists with NOPs, EOL, several WS,
//! WS beyond 14, malformed lengths, options running past the end) are checked
//! against an independent option walk over etherparse's view of the options.
//!
//! Receive paths besides TCP (docs/rx-paths.md): UDP datagrams built with
//! etherparse (good, padded, tagged, with IPv4 options, zero checksum, bad
//! checksum, UDP length shorter or longer than the IP payload, IP payload
//! under 8 bytes), other IP protocols (NO_SOCKET), ARP requests, replies and
//! malformed ARP packets (wrong htype/ptype/hlen/plen/oper, one byte short),
//! tagged or not. Every record's `m_meta_udp`, `m_meta_arp_req` (with the
//! sender MAC, SPA, TPA and VLAN of a request) is checked against the case's
//! expectation, which is itself checked against the Rust model's parser.
//!
//! The files, by responsibility:
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | shared imports and constants, the list of tests |
//! | `harness.rs` | the ports, the buflet pool, the run and its record checks |
//! | `frames.rs` | frame builders: TCP with options, UDP, padding, ARP |
//! | `oracle.rs` | the reference: fields from etherparse, the option walk, UDP and ARP records |
//! | `cases.rs` | a case and its expectation, the random case mix |
//! | `random.rs` | random runs, full rate, fuzz against the Rust model |
//! | `directed.rs` | SYN walks back to back, the SYN option table, the walk latency |

mod cases;
mod directed;
mod frames;
mod harness;
mod oracle;
mod random;

use buflet_sim::axis::{AxisBus, AxisSink, AxisSource, Beat};
use buflet_sim::{ports, Model};
use buflet_spec::DropReason;
use buflet_testbench::rtl_check::assert_quiet;
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, IpHeaders, IpNumber, Ipv4Header,
    Ipv4Options, NetHeaders, PacketBuilder, PacketHeaders, TcpHeader, TcpOptionElement,
    TransportHeader, VlanId,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, VecDeque};

use cases::*;
use frames::*;
use harness::*;
use oracle::*;

const NULL: u64 = 0xFFFF;
const NUM_BUFLETS: usize = 64;

/// Declares, per row `runner => w64_test(seed), w512_test(seed);`, one test of each width:
/// `runner(model, bytes per word, buflet bytes, seed)` on rx_parser_w64 (8, 256) and
/// rx_parser_w512 (64, 512).
macro_rules! both_widths {
    ($($runner:expr => $n64:ident($s64:expr), $n512:ident($s512:expr);)*) => {
        $(
            #[test]
            fn $n64() {
                ($runner)("rx_parser_w64", 8, 256, $s64)
            }
            #[test]
            fn $n512() {
                ($runner)("rx_parser_w512", 64, 512, $s512)
            }
        )*
    };
}

both_widths! {
    random::udp_arp_run => rx_parser_w64_udp_arp(25), rx_parser_w512_udp_arp(26);
    random::fuzz_vs_model => rx_parser_w64_fuzz_vs_model(21), rx_parser_w512_fuzz_vs_model(22);
    random::random_run => rx_parser_w64_random(11), rx_parser_w512_random(12);
    random::full_rate => rx_parser_w64_full_rate(13), rx_parser_w512_full_rate(14);
    random::full_rate_no_syn => rx_parser_w64_full_rate_no_syn(15), rx_parser_w512_full_rate_no_syn(16);
    directed::syn_walks_back_to_back => rx_parser_w64_syn_walks(17), rx_parser_w512_syn_walks(18);
    directed::syn_option_table => rx_parser_w64_syn_option_table(19), rx_parser_w512_syn_option_table(20);
    |p, kw, _, seed| directed::walk_latency(p, kw, seed) => rx_parser_w64_walk_latency(23), rx_parser_w512_walk_latency(24);
}
