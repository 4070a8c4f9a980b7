//! The receive paths besides TCP streams (docs/rx-paths.md), end to end through the host
//! driver, on both backends: UDP datagrams into named buffers, the ARP responder, frames for
//! no socket (ICMP, an unknown port, a foreign EtherType) into anonymous buffers, and named
//! buffers returned on timeout by TIMER_KICK and by the periodic timer. Frames are built and
//! parsed with etherparse; what landed in host memory is checked by sha256 and byte for byte.
//! Every case ends with every socket deleted and every buflet back on the free list.

mod common;

use buflet_driver::{AnonBuffer, Completion, CplKind, Driver, NamedBuffer, SocketSpec};
use buflet_platform::WirePort;
use buflet_spec::op;
use buflet_spec::IpProto;
use buflet_spec::{CplFlags, SockFlags, Status};
use buflet_testbench::{sha256_hex, Backend, Bench};
use etherparse::{
    ArpHardwareId, ArpOperation, EtherType, Ethernet2Header, IpHeaders, LinkSlice, NetSlice,
    PacketBuilder, PacketBuilderStep, SlicedPacket,
};

const NIC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const NIC_IP: [u8; 4] = [10, 0, 0, 2];
const PEER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const PEER_IP: [u8; 4] = [10, 0, 0, 1];
const UDP_PORT: u16 = 4789;
const PEER_UDP_PORT: u16 = 50_000;
const TCP_PORT: u16 = 5001;
const PEER_TCP_PORT: u16 = 40_000;
/// Cycles the driver may wait for one expected completion.
const WAIT: u64 = 2_000_000;

/// A bench on `backend` at `width` bits, its scratch disk removed on drop.
fn rig(backend: Backend, width: u32, name: &str) -> Bench {
    Bench::builder(backend)
        .width(width)
        .name(&format!("rxpaths-{name}-{width}"))
        .build()
        .unwrap()
}

/// Run until `n` completions have arrived (besides those already in `got`).
fn collect(drv: &mut Driver, n: usize) -> Vec<Completion> {
    let mut got = Vec::new();
    let mut waited = 0;
    while got.len() < n {
        got.extend(drv.wait(10_000).unwrap());
        waited += 10_000;
        assert!(
            waited < WAIT * n.max(1) as u64,
            "{} of {n} completions: {got:?}",
            got.len()
        );
    }
    got
}

/// Run until the device has taken every frame, then a little longer; return what it sent.
fn settle(drv: &mut Driver, wire: &WirePort) -> (Vec<Completion>, Vec<Vec<u8>>) {
    let mut cpls = Vec::new();
    let mut tx = Vec::new();
    for _ in 0..1000 {
        cpls.extend(drv.wait(1000).unwrap());
        while let Some(f) = wire.recv() {
            tx.push(f);
        }
        if wire.pending() == 0 {
            break;
        }
    }
    for _ in 0..40 {
        drv.run(1000);
        cpls.extend(drv.completions().unwrap());
        while let Some(f) = wire.recv() {
            tx.push(f);
        }
    }
    (cpls, tx)
}

fn spec(local_port: u16, remote_port: u16) -> SocketSpec {
    SocketSpec {
        local_mac: NIC_MAC,
        remote_mac: PEER_MAC,
        vlan: 0,
        local_ip: NIC_IP,
        remote_ip: PEER_IP,
        local_port,
        remote_port,
        iss: 0x1000,
        rcv_buf: 1 << 20,
        mss: 1460,
        rcv_wscale: 7,
        flags: SockFlags::empty(),
        proto: IpProto::Tcp,
    }
}

/// The frame a finished etherparse builder step writes (with the payload arguments given).
macro_rules! frame {
    ($step:expr $(, $payload:expr)?) => {{
        let mut v = Vec::new();
        $step.write(&mut v $(, $payload)?).unwrap();
        v
    }};
}

/// The start of an IPv4 packet from the peer to the NIC.
fn peer_ipv4() -> PacketBuilderStep<IpHeaders> {
    PacketBuilder::ethernet2(PEER_MAC, NIC_MAC).ipv4(PEER_IP, NIC_IP, 64)
}

/// A UDP datagram from the peer to the NIC's UDP socket, built by etherparse.
fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    frame!(peer_ipv4().udp(PEER_UDP_PORT, dport), payload)
}

/// Deterministic bytes.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(seed as u32 % 32) as u8
                ^ seed
        })
        .collect()
}

fn free_all(r: &mut Bench) {
    common::assert_buflets_free(&mut r.drv);
}

/// UDP datagrams of many sizes each land in their own named buffer, returned DATAGRAM with
/// HDR_BYTES 8; the buffers hold the UDP header then the payload, and the payloads' sha256 is
/// the source's. A datagram longer than its buffer is cut (TRUNC). A datagram for another port
/// matches no socket and, with no anonymous buffer posted, is dropped NO_SOCKET.
fn udp_datagrams(backend: Backend, width: u32) {
    let mut r = rig(backend, width, "udp");
    let Bench { drv, wire, .. } = &mut r;
    let (sock, early) = drv
        .add_socket(&SocketSpec {
            proto: IpProto::Udp,
            ..spec(UDP_PORT, PEER_UDP_PORT)
        })
        .unwrap();
    assert!(early.is_empty());
    let sizes = [0usize, 1, 7, 8, 100, 1472, 2000, 4088, 4089, 6000, 8000];
    let mut nbs: Vec<NamedBuffer> = Vec::new();
    for _ in 0..sizes.len() {
        let nb = drv.alloc_nb(2).unwrap();
        drv.post_nb(sock, &nb, 0).unwrap();
        nbs.push(nb);
    }
    // One more, smaller buffer for a datagram that does not fit.
    let small = drv.alloc_nb(1).unwrap();
    let mut source = Vec::new();
    let mut frames = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let p = pattern(i as u8 + 1, n);
        source.extend_from_slice(&p);
        frames.push(udp(UDP_PORT, &p));
    }
    for f in &frames {
        wire.send(f.clone());
    }
    let cs = collect(drv, sizes.len());
    assert_eq!(cs.len(), sizes.len(), "{cs:?}");
    let mut landed = Vec::new();
    let mut offset = 0u64;
    for (i, c) in cs.iter().enumerate() {
        assert_eq!(c.kind, CplKind::NbReturn, "{c:?}");
        assert_eq!(c.status, Status::Ok);
        assert_eq!(c.flags, CplFlags::DATAGRAM, "{c:?}");
        assert_eq!(c.hdr_bytes, 8);
        assert_eq!(c.bytes as usize, sizes[i] + 8, "datagram {i}");
        // Stream offsets count the bytes written, headers included (rx-paths.md decision 5).
        assert_eq!(c.stream_off, offset);
        offset += c.bytes as u64;
        let nb = nbs.iter().find(|b| b.ref_num == c.ref_num).unwrap();
        let got = drv.read_nb(nb, c.bytes as usize).unwrap();
        let l4 = 14 + 20;
        assert_eq!(
            &got[..8],
            &frames[i][l4..l4 + 8],
            "UDP header of datagram {i}"
        );
        landed.extend_from_slice(&got[8..]);
    }
    assert_eq!(sha256_hex(&landed), sha256_hex(&source));
    // Too long: 6000 bytes into a 4096-byte buffer.
    drv.post_nb(sock, &small, 0).unwrap();
    let big = pattern(99, 6000);
    wire.send(udp(UDP_PORT, &big));
    let cs = collect(drv, 1);
    assert_eq!(
        (cs[0].flags, cs[0].bytes, cs[0].hdr_bytes),
        (CplFlags::DATAGRAM | CplFlags::TRUNC, 4096, 8)
    );
    assert_eq!(drv.read_nb(&small, 4096).unwrap()[8..], big[..4088]);
    // Another port: no socket.
    wire.send(udp(UDP_PORT + 1, b"nobody"));
    let (cs, tx) = settle(drv, wire);
    assert!(cs.is_empty() && tx.is_empty(), "{cs:?}");
    let c = drv.counters();
    assert_eq!(c.drop_count("NO_SOCKET"), 1);
    assert_eq!(c.rx_accepted as usize, sizes.len() + 1);
    assert_eq!(c.nb_returned as usize, sizes.len() + 1);
    assert_eq!(c.tx_frames, 0, "UDP is never acknowledged");
    assert_eq!(c.delivered_bytes as u64, offset + 4096);
    assert!(drv.del_socket(sock).unwrap().is_empty());
    free_all(&mut r);
}

/// An ARP request for NIC_IP is answered by the NIC (the reply parsed by etherparse); a request
/// for another address, and ARP with the responder off, go to the anonymous path.
fn arp(backend: Backend, width: u32) {
    let mut r = rig(backend, width, "arp");
    let Bench { drv, wire, .. } = &mut r;
    drv.set_nic_addr(NIC_MAC, NIC_IP);
    let req = |tpa: [u8; 4]| buflet_testbench::frames::arp_request(PEER_MAC, PEER_IP, tpa);
    wire.send(req(NIC_IP));
    let (cs, tx) = settle(drv, wire);
    assert!(cs.is_empty());
    assert_eq!(tx.len(), 1, "one ARP reply");
    let p = SlicedPacket::from_ethernet(&tx[0]).expect("the reply parses");
    let Some(LinkSlice::Ethernet2(eth)) = &p.link else {
        panic!("not Ethernet II")
    };
    assert_eq!((eth.destination(), eth.source()), (PEER_MAC, NIC_MAC));
    assert_eq!(eth.ether_type(), EtherType::ARP);
    let Some(NetSlice::Arp(a)) = &p.net else {
        panic!("not ARP: {:?}", p.net)
    };
    assert_eq!(a.operation(), ArpOperation::REPLY);
    assert_eq!(a.hw_addr_type(), ArpHardwareId::ETHERNET);
    assert_eq!(a.proto_addr_type(), EtherType::IPV4);
    assert_eq!(a.sender_hw_addr(), &NIC_MAC[..]);
    assert_eq!(a.sender_protocol_addr(), &NIC_IP[..]);
    assert_eq!(a.target_hw_addr(), &PEER_MAC[..]);
    assert_eq!(a.target_protocol_addr(), &PEER_IP[..]);
    assert_eq!(tx[0].len(), Ethernet2Header::LEN + 28, "no padding");
    // Not for us, then the responder off: both go to anonymous buffers.
    let mut anon = Vec::new();
    for _ in 0..2 {
        let a = drv.alloc_anon(128).unwrap();
        drv.post_anon(&a).unwrap();
        anon.push(a);
    }
    // The posts are fetched before the frames arrive.
    let (cs, _) = settle(drv, wire);
    assert!(
        cs.is_empty(),
        "ANON_POST completes only with a frame: {cs:?}"
    );
    let other = req([10, 0, 0, 3]);
    wire.send(other.clone());
    let cs = collect(drv, 1);
    assert_eq!(cs[0].kind, CplKind::AnonRx);
    assert_eq!(drv.read_anon(&anon[0], &cs[0]).unwrap(), other);
    drv.set_nic_addr(NIC_MAC, [0, 0, 0, 0]);
    let ours = req(NIC_IP);
    wire.send(ours.clone());
    let cs = collect(drv, 1);
    assert_eq!(
        (cs[0].kind, cs[0].ref_num),
        (CplKind::AnonRx, anon[1].ref_num)
    );
    assert_eq!(drv.read_anon(&anon[1], &cs[0]).unwrap(), ours);
    let (_, tx) = settle(drv, wire);
    assert!(tx.is_empty());
    let c = drv.counters();
    assert_eq!((c.arp_replies, c.anon_rx, c.tx_frames), (1, 2, 1));
    assert_eq!(c.tx_bytes, 42);
    assert_eq!(c.dropped(), 0, "{:?}", c.drops);
    free_all(&mut r);
}

/// Frames for no socket go into anonymous buffers, first posted first used, from their first
/// byte: an ICMP echo request, a TCP segment for an unknown port, a UDP datagram for an
/// unknown port, an IPv6 frame; a frame longer than its buffer is cut (TRUNC). With the list
/// empty such frames are dropped under their own reason. Bad ANON_POSTs complete BAD_NB.
fn anonymous(backend: Backend, width: u32) {
    let mut r = rig(backend, width, "anon");
    let Bench { drv, wire, .. } = &mut r;
    let mut frames = Vec::new();
    let echo = peer_ipv4().icmpv4_echo_request(0x1234, 7);
    frames.push(frame!(echo, &pattern(3, 56)));
    let syn = peer_ipv4().tcp(PEER_TCP_PORT, 9, 1000, 4096).syn();
    frames.push(frame!(syn, &[]));
    frames.push(udp(7, &pattern(4, 1200)));
    let (mut s6, mut d6) = ([0u8; 16], [0u8; 16]);
    s6[..2].copy_from_slice(&[0xfe, 0x80]);
    d6[..2].copy_from_slice(&[0xfe, 0x80]);
    s6[15] = 1;
    d6[15] = 2;
    let v6 = PacketBuilder::ethernet2(PEER_MAC, NIC_MAC)
        .ipv6(s6, d6, 64)
        .udp(1, 2);
    frames.push(frame!(v6, &pattern(5, 300)));
    // A 5000-byte ICMP frame into a 4096-byte buffer.
    let big = peer_ipv4().icmpv4_echo_request(1, 1);
    frames.push(frame!(big, &pattern(6, 5000 - 42)));
    let lens = [128u32, 64, 2048, 1024, 4096];
    let mut bufs: Vec<AnonBuffer> = Vec::new();
    let mut tags = Vec::new();
    for &l in &lens {
        let a = drv.alloc_anon(l).unwrap();
        tags.push(drv.post_anon(&a).unwrap());
        bufs.push(a);
    }
    let (cs, _) = settle(drv, wire);
    assert!(
        cs.is_empty(),
        "ANON_POST completes only with a frame: {cs:?}"
    );
    for f in &frames {
        wire.send(f.clone());
    }
    let cs = collect(drv, frames.len());
    for (i, c) in cs.iter().enumerate() {
        let want = frames[i].len().min(lens[i] as usize);
        assert_eq!(c.kind, CplKind::AnonRx, "{c:?}");
        assert_eq!(
            (c.status, c.tag, c.ref_num, c.opcode, c.bytes as usize),
            (
                Status::Ok,
                tags[i],
                bufs[i].ref_num,
                op::ANON_POST as u8,
                want
            ),
            "frame {i}"
        );
        assert_eq!(c.has(CplFlags::TRUNC), want < frames[i].len(), "frame {i}");
        let got = drv.read_anon(&bufs[i], c).unwrap();
        assert_eq!(
            sha256_hex(&got),
            sha256_hex(&frames[i][..want]),
            "frame {i}"
        );
    }
    // The list is empty now: the same kind of frames are dropped and counted.
    wire.send(frames[0].clone());
    wire.send(frames[3].clone());
    let (cs, _) = settle(drv, wire);
    assert!(cs.is_empty(), "{cs:?}");
    // Bad posts: a length below ANON_MIN_LEN, a busy slot.
    let tiny = AnonBuffer {
        ref_num: bufs[0].ref_num,
        addr: bufs[0].addr,
        len: 10,
    };
    drv.post_anon(&tiny).unwrap();
    drv.post_anon(&bufs[1]).unwrap();
    drv.post_anon(&bufs[1]).unwrap();
    let cs = collect(drv, 2);
    settle(drv, wire);
    assert!(cs
        .iter()
        .all(|c| c.kind == CplKind::CmdDone && c.status == Status::BadNb));
    let c = drv.counters();
    assert_eq!(c.anon_rx as usize, frames.len());
    assert_eq!(c.drop_count("NO_SOCKET"), 1);
    assert_eq!(c.drop_count("NOT_IPV4"), 1);
    assert_eq!(c.req_errors, 2);
    // The buffer still posted (slot 1) takes the next frame.
    wire.send(frames[0].clone());
    let cs = collect(drv, 1);
    assert_eq!((cs[0].ref_num, cs[0].bytes as usize), (bufs[1].ref_num, 64));
    free_all(&mut r);
    for a in bufs {
        r.drv.free_anon(a);
    }
}

/// A TCP connection: the SYN (answered by a SYN-ACK), then the handshake ACK carrying `data`
/// (answered by an ACK).
fn tcp_open(drv: &mut Driver, wire: &WirePort, data: &[u8]) {
    let seg = |seq: u32, syn: bool, payload: &[u8]| {
        let b = peer_ipv4().tcp(PEER_TCP_PORT, TCP_PORT, seq, 65535);
        let b = if syn { b.syn() } else { b.ack(0x1001) };
        frame!(b, payload)
    };
    wire.send(seg(500, true, &[]));
    let (_, tx) = settle(drv, wire);
    assert_eq!(tx.len(), 1, "SYN-ACK");
    wire.send(seg(501, false, data));
    let (_, tx) = settle(drv, wire);
    assert_eq!(tx.len(), 1, "ACK of the data");
}

/// Named buffers returned on timeout: a partly filled TCP buffer with TIMEOUT 2 comes back
/// after exactly two TIMER_KICKs with its bytes; then the periodic timer returns the next
/// (empty) buffer, reporting where the stream stands; a buffer with TIMEOUT 0 never times out.
fn timeouts(backend: Backend, width: u32) {
    let mut r = rig(backend, width, "timeout");
    let Bench { drv, wire, .. } = &mut r;
    let (sock, _) = drv.add_socket(&spec(TCP_PORT, PEER_TCP_PORT)).unwrap();
    let a = drv.alloc_nb(1).unwrap();
    let b = drv.alloc_nb(1).unwrap();
    let keep = drv.alloc_nb(1).unwrap();
    drv.post_nb(sock, &a, 2).unwrap();
    drv.post_nb(sock, &b, 3).unwrap();
    drv.post_nb(sock, &keep, 0).unwrap();
    let data = pattern(8, 700);
    tcp_open(drv, wire, &data);
    let (cs, _) = settle(drv, wire);
    assert!(cs.is_empty(), "{cs:?}");
    drv.timer_kick();
    let (cs, _) = settle(drv, wire);
    assert!(cs.is_empty(), "one tick of two: {cs:?}");
    drv.timer_kick();
    let cs = collect(drv, 1);
    assert_eq!(
        (
            cs[0].kind,
            cs[0].ref_num,
            cs[0].bytes,
            cs[0].flags,
            cs[0].stream_off
        ),
        (CplKind::NbReturn, a.ref_num, 700, CplFlags::TIMEOUT, 0)
    );
    assert_eq!(drv.read_nb(&a, 700).unwrap(), data);
    // The periodic timer: buffer b (3 ticks) comes back empty, at stream offset 700.
    drv.set_timer_period(5000);
    let cs = collect(drv, 1);
    assert_eq!(
        (cs[0].ref_num, cs[0].bytes, cs[0].flags, cs[0].stream_off),
        (b.ref_num, 0, CplFlags::TIMEOUT, 700)
    );
    // `keep` has no timeout: more ticks return nothing.
    drv.run(50_000);
    drv.set_timer_period(0);
    let (cs, _) = settle(drv, wire);
    assert!(cs.is_empty(), "{cs:?}");
    let c = drv.counters();
    assert_eq!(c.timeouts, 2);
    assert!(c.ticks >= 2 + 3 + 9, "{} ticks", c.ticks);
    let cs = drv.del_socket(sock).unwrap();
    assert_eq!(
        (cs.len(), cs[0].ref_num, cs[0].flags),
        (1, keep.ref_num, CplFlags::DELETE)
    );
    free_all(&mut r);
}

buflet_testbench::backend_tests! {
    udp_datagrams => udp_datagrams_model(64)(512), udp_datagrams_rtl(64)(512);
    arp => arp_model(64), arp_rtl(64)(512);
    anonymous => anonymous_model(64)(512), anonymous_rtl(64)(512);
    timeouts => timeouts_model(64), timeouts_rtl(64)(512);
}
