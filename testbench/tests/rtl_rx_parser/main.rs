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
//! | `main.rs` | shared imports, drop reasons, the list of tests |
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

// Drop reasons (spec: BF_DROP_*).
const NONE: u8 = 0;
const TRUNCATED: u8 = 1;
const NOT_IPV4: u8 = 2;
const BAD_IP_HDR: u8 = 3;
const BAD_IP_CSUM: u8 = 4;
const BAD_L4_HDR: u8 = 5;
const BAD_L4_CSUM: u8 = 6;
const NO_SOCKET: u8 = 7;
const NO_BUFLET: u8 = 8;
const TOO_LONG: u8 = 10;
const NULL: u64 = 0xFFFF;
const NUM_BUFLETS: usize = 64;

buflet_testbench::test_list! {
    random => {
        rx_parser_w64_udp_arp,
        rx_parser_w512_udp_arp,
        rx_parser_w64_fuzz_vs_model,
        rx_parser_w512_fuzz_vs_model,
        rx_parser_w64_random,
        rx_parser_w512_random,
        rx_parser_w64_full_rate,
        rx_parser_w512_full_rate,
        rx_parser_w64_full_rate_no_syn,
        rx_parser_w512_full_rate_no_syn,
    },
    directed => {
        rx_parser_w64_syn_walks,
        rx_parser_w512_syn_walks,
        rx_parser_w64_syn_option_table,
        rx_parser_w512_syn_option_table,
        rx_parser_w64_walk_latency,
        rx_parser_w512_walk_latency,
    },
}
