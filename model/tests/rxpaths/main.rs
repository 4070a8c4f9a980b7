//! The receive paths of docs/rx-paths.md: UDP sockets and datagram delivery, anonymous
//! buffers, the ARP responder and the named-buffer timeout sweep.
//!
//! These are unit tests of the Rust model only (`buflet_model::ModelDevice`). The RTL
//! counterpart is tested by `testbench/tests/rtl_rx_parser/` (UDP and ARP parse metadata),
//! `testbench/tests/rtl_toe_engine/` and `testbench/tests/rtl_tx_builder/` (the engine and
//! the ARP reply frame), `testbench/tests/rxpaths.rs` (these paths end to end through the
//! driver, on both backends) and `testbench/tests/cosim.rs` (the whole RTL against this model,
//! transaction by transaction).
//!
//! The files, by responsibility:
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | the rig, request helpers, the completions expected for named and anonymous buffers, drop counters, TCP data |
//! | `udp.rs` | UDP sockets: datagrams into named buffers, the parse checks, TCP and UDP sockets on one 4-tuple |
//! | `anon.rs` | anonymous buffers: delivery, ANON_POST validation, the pool running dry |
//! | `arp.rs` | the ARP responder and its reply frames |
//! | `timeouts.rs` | named-buffer timeouts: by TIMER_KICK, the sweep order, by TIMER_PERIOD |

#[path = "../common/mod.rs"]
mod common;

mod anon;
mod arp;
mod timeouts;
mod udp;

use buflet_platform::{Device, DeviceConfig};
use buflet_spec::{reg, AnonDesc, Cpl, CplFlags, CplKind, DropReason, Opcode, Status};
use common::*;
use etherparse::{
    ArpOperation, EtherType, IpNumber, Ipv4Header, LinkExtHeader, LinkHeader, NetHeaders,
    PacketBuilder, PacketHeaders, UdpHeader,
};

const NIC_MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

/// Another host on the segment.
const OTHER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x77];

fn rig(name: &str, width: u32) -> Rig {
    Rig::new(name, cfg(width), 64, 256)
}

/// Submit a request that completes with CMD_DONE/OK and wait for it.
fn ok(r: &mut Rig, e: &[u8; 64]) {
    r.submit(e);
    let cs = r.wait_cpls(1);
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(
        (cs[0].kind, cs[0].status),
        (CplKind::CmdDone, Status::Ok),
        "{cs:?}"
    );
}

/// Submit a request that posts no completion now (NB_POST, ANON_POST) and let it execute.
fn quiet(r: &mut Rig, e: &[u8; 64]) {
    r.submit(e);
    r.run(2_000);
    let cs = r.cpls();
    assert!(cs.is_empty(), "{cs:?}");
}

/// The NB_RETURN completion expected for a buffer.
#[allow(clippy::too_many_arguments)]
fn nb_ret(
    sock_ref: u16,
    tag: u32,
    ref_num: u32,
    bytes: u32,
    flags: CplFlags,
    hdr_bytes: u8,
    stream_off: u64,
) -> Cpl {
    Cpl {
        kind: CplKind::NbReturn,
        status: Status::Ok,
        sock_ref,
        tag,
        ref_num,
        bytes,
        flags,
        opcode: Opcode::NbPost.code(),
        hdr_bytes,
        phase: 0,
        stream_off,
    }
}

/// The ANON_RX completion expected for an anonymous buffer.
fn anon_rx(tag: u32, ref_num: u32, bytes: u32, flags: CplFlags) -> Cpl {
    Cpl {
        kind: CplKind::AnonRx,
        status: Status::Ok,
        sock_ref: 0,
        tag,
        ref_num,
        bytes,
        flags,
        opcode: Opcode::AnonPost.code(),
        hdr_bytes: 0,
        phase: 0,
        stream_off: 0,
    }
}

fn set_nic(r: &mut Rig, mac: [u8; 6], ip: [u8; 4]) {
    r.w(
        reg::NIC_MAC_LO,
        u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
    );
    r.w(reg::NIC_MAC_HI, u16::from_le_bytes([mac[4], mac[5]]) as u32);
    r.w(reg::NIC_IP, u32::from_be_bytes(ip));
}

/// Allocate an anonymous buffer of `len` bytes and post it.
fn post_anon(r: &mut Rig, tag: u32, ref_num: u32, len: u32) -> u64 {
    let a = r.alloc(len as u64);
    quiet(r, &anon_post(tag, ref_num, len, a));
    a
}

/// Post a named buffer of `total` bytes (with `timeout`) to socket `sref`; returns its pages.
fn post_nb(r: &mut Rig, sref: u16, tag: u32, ref_num: u32, total: u32, timeout: u32) -> Vec<u64> {
    let (hmd, pages) = r.nb_mem(total);
    let e = nb_post_timeout(sref, tag, ref_num, total, hmd, pages.len() as u32, timeout);
    r.submit(&e);
    pages
}

/// Drop counters in the order of `reasons`.
fn drops(r: &mut Rig) -> Vec<u32> {
    DropReason::ALL[1..]
        .iter()
        .map(|d| r.r(d.counter().unwrap()))
        .collect()
}

fn tcp_data(r: &mut Rig, seq: u32, payload: Vec<u8>) {
    r.send(Seg::at(seq).payload(payload));
    r.settle();
    let _ = r.txs();
}
