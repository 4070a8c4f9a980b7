//! Listening sockets (docs/tcp-receive.md "Listening sockets") end to end on both backends,
//! through the host driver: SOCK_LISTEN and SOCK_POOL, a SYN built by etherparse answered by a SYN-ACK
//! to the SYN's Ethernet source with ISS = the listen's ISS + the folded hash of the 4-tuple,
//! the handshake's ACK posting ACCEPT OK (data delivered after it), an abort of a half-open
//! connection (RST on the wire, ACCEPT RESET before the abort's CMD_DONE), LISTEN_FULL, the
//! registers (NUM_LISTEN, HALF_OPEN_MAX, HALF_OPEN, ACCEPT_POOL, CNT_ACCEPTS, CNT_LOOKUPS,
//! CNT_LOOKUP_CYCLES); and the socket-scaled build (`buflet_nic_w64_s4096`, picked for
//! `DeviceConfig::with_sockets(64, 4096)`) accepting many connections, with its lookup cost and
//! simulation speed printed (the model runs the same socket-scaled configuration).

mod common;

use buflet_driver::{Accepted, Completion, CplKind, Driver, ListenSpec};
use buflet_platform::{DeviceConfig, WirePort};
use buflet_spec::{reg, DropReason, SockFlags, Status};
use buflet_testbench::{Backend, Bench};
use etherparse::{LinkSlice, PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice};

const NIC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const NIC_IP: [u8; 4] = [10, 0, 0, 2];
const PORT: u16 = 445;
const ISS: u32 = 0xF000_0000;

/// The 32-bit folded hash of a 4-tuple (docs/architecture.md, socket lookup): `x` before the
/// bucket mask.
fn fold(remote_ip: [u8; 4], local_ip: [u8; 4], remote_port: u16, local_port: u16) -> u32 {
    let mut x = u32::from_be_bytes(remote_ip)
        ^ u32::from_be_bytes(local_ip)
        ^ ((remote_port as u32) << 16 | local_port as u32);
    x ^= x >> 16;
    x ^= x >> 8;
    x
}

/// Peer `i`: its MAC, IPv4 address and port, spread (peers whose address and port rise
/// together would share a bucket: the fold XORs their bytes, so their low bytes cancel).
fn peer(i: u32) -> ([u8; 6], [u8; 4], u16) {
    let b = i.to_be_bytes();
    let h = (i.wrapping_mul(2_654_435_761) >> 16).to_be_bytes();
    (
        [0x02, 0x10, b[0], b[1], b[2], b[3]],
        [10, 1, h[2], h[3]],
        1024 + (i.wrapping_mul(40_503) % 60_000) as u16,
    )
}

/// A TCP segment from peer `i` to the listen port, built by etherparse.
fn seg(i: u32, seq: u32, ack: Option<u32>, syn: bool, payload: &[u8]) -> Vec<u8> {
    let (mac, ip, port) = peer(i);
    let mut b = PacketBuilder::ethernet2(mac, NIC_MAC)
        .ipv4(ip, NIC_IP, 64)
        .tcp(port, PORT, seq, 65535);
    if syn {
        b = b
            .syn()
            .options(&[
                TcpOptionElement::MaximumSegmentSize(1460),
                TcpOptionElement::WindowScale(7),
            ])
            .unwrap();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    if !payload.is_empty() {
        b = b.psh(); // with the listen's PSH_RETURN: the named buffer comes back at once
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// (destination MAC, SEQ, ACK, SYN, ACK flag, RST) of a frame the NIC sent.
fn tcp_of(f: &[u8]) -> ([u8; 6], u32, u32, bool, bool, bool) {
    let p = SlicedPacket::from_ethernet(f).expect("the NIC's frame parses");
    let Some(LinkSlice::Ethernet2(eth)) = &p.link else {
        panic!("not Ethernet II")
    };
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        panic!("not TCP")
    };
    (
        eth.destination(),
        t.sequence_number(),
        t.acknowledgment_number(),
        t.syn(),
        t.ack(),
        t.rst(),
    )
}

/// Runs the device until the wire is idle and `n` completions came (at most `max` cycles);
/// returns them and the frames the NIC sent.
fn run(drv: &mut Driver, wire: &WirePort, n: usize, max: u64) -> (Vec<Completion>, Vec<Vec<u8>>) {
    let (mut cs, mut tx) = (Vec::new(), Vec::new());
    let t0 = drv.cycles();
    loop {
        cs.extend(drv.wait(2000).unwrap());
        while let Some(f) = wire.recv() {
            tx.push(f);
        }
        if cs.len() >= n && wire.pending() == 0 {
            break;
        }
        assert!(
            drv.cycles() - t0 < max,
            "{} of {n} completions: {cs:?}",
            cs.len()
        );
    }
    for _ in 0..20 {
        drv.run(500);
        cs.extend(drv.completions().unwrap());
        while let Some(f) = wire.recv() {
            tx.push(f);
        }
    }
    (cs, tx)
}

fn listen_spec() -> ListenSpec {
    ListenSpec {
        local_mac: NIC_MAC,
        vlan: 0,
        local_ip: NIC_IP,
        local_port: PORT,
        iss: ISS,
        rcv_buf: 1 << 20,
        mss: 1460,
        rcv_wscale: 7,
        flags: SockFlags::PSH_RETURN,
    }
}

#[test]
fn rtl_accept_abort_listen_full_and_registers() {
    accept_abort_listen_full_and_registers(Backend::Rtl);
}

#[test]
fn model_accept_abort_listen_full_and_registers() {
    accept_abort_listen_full_and_registers(Backend::Model);
}

fn accept_abort_listen_full_and_registers(backend: Backend) {
    let mut r = Bench::builder(backend).name("listen-rtl").build().unwrap();
    let Bench { drv, wire, .. } = &mut r;
    assert_eq!(drv.rd(reg::NUM_LISTEN), 8);
    assert_eq!(drv.rd(reg::HALF_OPEN_MAX), 16);
    drv.wr(reg::HALF_OPEN_MAX, 5);
    assert_eq!(drv.rd(reg::HALF_OPEN_MAX), 5);
    let (slot, early) = drv.listen(&listen_spec()).unwrap();
    assert!(early.is_empty());
    assert_eq!(drv.pool_sockets(2).unwrap(), 2);
    drv.run(2000);
    assert_eq!((drv.rd(reg::ACCEPT_POOL), drv.rd(reg::HALF_OPEN)), (2, 0));
    // the SYN: a SYN-ACK to its Ethernet source, ISS = ISS + x
    let (mac0, ip0, port0) = peer(0);
    wire.send(seg(0, 1000, None, true, &[]));
    let (cs, tx) = run(drv, wire, 0, 200_000);
    assert!(cs.is_empty(), "{cs:?}");
    assert_eq!(tx.len(), 1);
    let iss0 = ISS.wrapping_add(fold(ip0, NIC_IP, port0, PORT));
    assert_eq!(tcp_of(&tx[0]), (mac0, iss0, 1001, true, true, false));
    assert_eq!((drv.rd(reg::ACCEPT_POOL), drv.rd(reg::HALF_OPEN)), (1, 1));
    // the handshake's ACK with data: ACCEPT OK
    let data = b"hello, listening NIC".to_vec();
    wire.send(seg(0, 1001, Some(iss0.wrapping_add(1)), false, &data));
    let (cs, tx) = run(drv, wire, 1, 200_000);
    assert_eq!(tx.len(), 1, "the data's ACK");
    assert_eq!(cs.len(), 1, "{cs:?}");
    let a = Accepted::from_cpl(&cs[0]).expect("ACCEPT");
    assert_eq!(
        (a.status, a.slot, a.peer_ip, a.peer_port),
        (Status::Ok, slot, ip0, port0)
    );
    let (a, _) = drv.accepted(&cs[0]).unwrap().unwrap();
    assert_eq!(a.sock, 0, "the pool's head");
    assert_eq!(drv.rd(reg::HALF_OPEN), 0);
    assert_eq!(drv.rd(reg::CNT_ACCEPTS), 1);
    let nb = drv.alloc_nb(1).unwrap();
    drv.post_nb(a.sock, &nb, 0).unwrap();
    let (cs, _) = run(drv, wire, 1, 200_000);
    assert_eq!(
        (cs[0].kind, cs[0].bytes as usize),
        (CplKind::NbReturn, data.len())
    );
    assert_eq!(drv.read_nb(&nb, data.len()).unwrap(), data);
    // a second peer, aborted while half-open: RST, then ACCEPT RESET before the CMD_DONE
    let (_, ip1, port1) = peer(1);
    wire.send(seg(1, 5000, None, true, &[]));
    let (_, tx) = run(drv, wire, 0, 200_000);
    assert_eq!(tx.len(), 1);
    assert_eq!(drv.rd(reg::HALF_OPEN), 1);
    // the pool is a FIFO and the driver pooled slots 0 then 1: this SYN took slot 1
    let abort_sock = 1;
    let tag = drv.sock_abort(abort_sock).unwrap();
    let (cs, tx) = run(drv, wire, 2, 200_000);
    assert_eq!(tx.len(), 1);
    assert!(tcp_of(&tx[0]).5, "an RST");
    let kinds: Vec<_> = cs.iter().map(|c| (c.kind, c.status, c.sock_ref)).collect();
    assert_eq!(
        kinds,
        vec![
            (CplKind::Accept, Status::Reset, abort_sock),
            (CplKind::CmdDone, Status::Ok, abort_sock)
        ],
        "ACCEPT RESET before the abort's CMD_DONE"
    );
    assert_eq!(cs[1].tag, tag);
    let b = Accepted::from_cpl(&cs[0]).unwrap();
    assert_eq!((b.peer_ip, b.peer_port), (ip1, port1));
    assert!(drv.accepted(&cs[0]).unwrap().is_some());
    assert_eq!(drv.rd(reg::HALF_OPEN), 0);
    assert_eq!(drv.rd(reg::CNT_ACCEPTS), 1);
    // the pool is empty: a third SYN is dropped LISTEN_FULL, unanswered
    assert_eq!(drv.rd(reg::ACCEPT_POOL), 0);
    wire.send(seg(2, 7, None, true, &[]));
    let (cs, tx) = run(drv, wire, 0, 200_000);
    assert!(cs.is_empty() && tx.is_empty());
    assert_eq!(drv.drop_count(DropReason::ListenFull), 1);
    assert_eq!(drv.rd(reg::CNT_DROP_LISTEN_FULL), 1);
    // four frames reached the lookup (SYN, ACK, SYN, SYN): each a bucket read and a short chain
    let (l, c) = (drv.rd(reg::CNT_LOOKUPS), drv.rd(reg::CNT_LOOKUP_CYCLES));
    assert_eq!(l, 4);
    assert!(
        (l..=3 * l).contains(&c),
        "lookup cycles {c} for {l} lookups"
    );
    println!(
        "default build: {l} lookups, {c} cycles ({:.2} per lookup)",
        c as f64 / l as f64
    );
    drv.unlisten(slot).unwrap();
    assert!(drv.del_socket(a.sock).unwrap().is_empty());
    common::assert_buflets_free(drv);
}

#[test]
fn rtl_s4096_build_accepts_many_connections() {
    s4096_accepts_many_connections(Backend::Rtl);
}

#[test]
fn model_s4096_accepts_many_connections() {
    s4096_accepts_many_connections(Backend::Model);
}

fn s4096_accepts_many_connections(backend: Backend) {
    let cfg = DeviceConfig::with_sockets(64, 4096);
    assert_eq!(
        buflet_sim::build_for(&cfg).unwrap(),
        "buflet_nic_w64_s4096",
        "the socket-scaled build"
    );
    assert_eq!(
        buflet_sim::build_for(&DeviceConfig::with_width(64)).unwrap(),
        "buflet_nic_w64"
    );
    let err = buflet_sim::build_for(&DeviceConfig::with_sockets(64, 1024)).unwrap_err();
    assert!(
        err.to_string().contains("buflet_nic_w64_s4096"),
        "the error names the builds: {err}"
    );
    accept_many(backend, cfg, 200, "s4096");
}

/// The default build through the same steps (sockets for 60 connections): its speed beside the
/// socket-scaled build's.
#[test]
fn rtl_default_build_accepts_many_connections() {
    accept_many(Backend::Rtl, DeviceConfig::with_width(64), 60, "default");
}

#[test]
fn model_default_build_accepts_many_connections() {
    accept_many(Backend::Model, DeviceConfig::with_width(64), 60, "default");
}

/// `n` peers connect to one listen slot of a bench with configuration `cfg` (SYNs, then ACKs):
/// a SYN-ACK and an ACCEPT OK each; prints the cycles, the simulation speed and the lookup cost.
fn accept_many(backend: Backend, cfg: DeviceConfig, n: u32, what: &str) {
    let (sockets, buckets) = (cfg.num_sockets, cfg.hash_buckets);
    let t_build = std::time::Instant::now();
    let mut r = Bench::builder(backend)
        .config(cfg)
        .mem(64 << 20)
        .name(&format!("listen-{what}"))
        .build()
        .unwrap();
    println!("{what} bench up in {:.2?}", t_build.elapsed());
    let Bench { drv, wire, .. } = &mut r;
    assert_eq!(drv.rd(reg::NUM_SOCKETS), sockets);
    assert_eq!(drv.rd(reg::HASH_BUCKETS), buckets);
    drv.wr(reg::HALF_OPEN_MAX, n);
    let (slot, _) = drv.listen(&listen_spec()).unwrap();
    assert_eq!(drv.pool_sockets(n as usize).unwrap(), n as usize);
    drv.run(20_000);
    assert_eq!(drv.rd(reg::ACCEPT_POOL), n);
    let (c0, t0) = (drv.cycles(), std::time::Instant::now());
    for i in 0..n {
        wire.send(seg(i, 1000 + i, None, true, &[]));
    }
    let (cs, tx) = run(drv, wire, 0, 5_000_000);
    assert!(cs.is_empty());
    assert_eq!(tx.len(), n as usize, "a SYN-ACK each");
    assert_eq!(drv.rd(reg::HALF_OPEN), n);
    for i in 0..n {
        let (_, ip, port) = peer(i);
        let iss = ISS.wrapping_add(fold(ip, NIC_IP, port, PORT));
        wire.send(seg(i, 1001 + i, Some(iss.wrapping_add(1)), false, &[]));
    }
    let (cs, _) = run(drv, wire, n as usize, 5_000_000);
    let (cycles, wall) = (drv.cycles() - c0, t0.elapsed());
    assert_eq!(cs.len(), n as usize);
    let mut socks = Vec::new();
    for c in &cs {
        let (a, _) = drv.accepted(c).unwrap().unwrap();
        assert_eq!(a.status, Status::Ok);
        socks.push(a.sock);
    }
    assert_eq!(drv.rd(reg::HALF_OPEN), 0);
    assert_eq!(drv.rd(reg::CNT_ACCEPTS), n);
    let (l, c) = (drv.rd(reg::CNT_LOOKUPS), drv.rd(reg::CNT_LOOKUP_CYCLES));
    assert_eq!(l, 2 * n);
    println!(
        "{what} build: {n} connections accepted in {cycles} cycles, {wall:.2?} ({:.0} cycles/s); \
         {l} lookups, {c} cycles ({:.3} per lookup)",
        cycles as f64 / wall.as_secs_f64(),
        c as f64 / l as f64
    );
    drv.unlisten(slot).unwrap();
    for s in socks {
        assert!(drv.del_socket(s).unwrap().is_empty());
    }
    common::assert_buflets_free(drv);
}
