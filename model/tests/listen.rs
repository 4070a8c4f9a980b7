//! Listening sockets (docs/tcp-receive.md, "Listening sockets"): SOCK_LISTEN / SOCK_UNLISTEN /
//! SOCK_POOL validation, a SYN taking the pool's head, the ACCEPT completion on every way out
//! of SYN_RCVD, LISTEN_FULL, HALF_OPEN / HALF_OPEN_MAX / ACCEPT_POOL, the lookup cost counters,
//! and a 65,536-socket build. Unit tests of the Rust model through its register and ring
//! interface; frames are built with etherparse.

mod common;

use buflet_model::hash_x;
use buflet_platform::DeviceConfig;
use buflet_spec::{
    param, reg, Cpl, CplKind, IpProto, ListenDesc, Opcode, ReqHdr, SockFlags, Status,
};
use common::*;
use etherparse::{PacketBuilder, PacketHeaders, TransportHeader};

const LISTEN_ISS: u32 = 0x1234_0000;
const PORT: u16 = 8000;

fn listen_desc(slot: u16, tag: u32) -> ListenDesc {
    ListenDesc {
        opcode: Opcode::SockListen,
        flags: SockFlags::empty(),
        slot,
        tag,
        local_mac: LOCAL_MAC,
        proto: IpProto::Tcp.code(),
        local_ip: LOCAL_IP.into(),
        local_port: PORT,
        iss: LISTEN_ISS,
        rcv_buf: 1 << 20,
        mss: 1460,
        rcv_wscale: 7,
        ..Default::default()
    }
}

fn hdr(op: Opcode, sref: u16, tag: u32) -> [u8; 64] {
    ReqHdr {
        opcode: op.code(),
        sock_ref: sref,
        tag,
        ..Default::default()
    }
    .to_bytes()
}

/// A peer's TCP segment to the listen port.
fn seg(peer: [u8; 4], port: u16, seq: u32, flags: &str, ack: u32, payload: &[u8]) -> Vec<u8> {
    let mac = [2, 0, 0, 0, peer[2], peer[3]];
    let mut b = PacketBuilder::ethernet2(mac, LOCAL_MAC)
        .ipv4(peer, LOCAL_IP, 64)
        .tcp(port, PORT, seq, 65535);
    for c in flags.chars() {
        b = match c {
            'S' => b.syn(),
            'A' => b.ack(ack),
            'R' => b.rst(),
            'F' => b.fin(),
            _ => b,
        };
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// (dst MAC, dst port, SEQ, ACK, SYN, RST) of a transmitted frame.
fn tx(f: &[u8]) -> ([u8; 6], u16, u32, u32, bool, bool) {
    let h = PacketHeaders::from_ethernet_slice(f).unwrap();
    let Some(TransportHeader::Tcp(t)) = h.transport else {
        panic!("not TCP")
    };
    let mut mac = [0; 6];
    mac.copy_from_slice(&f[..6]);
    (
        mac,
        t.destination_port,
        t.sequence_number,
        t.acknowledgment_number,
        t.syn,
        t.rst,
    )
}

fn rig(name: &str) -> Rig {
    Rig::new(name, DeviceConfig::with_width(64), 256, 1024)
}

fn only(cs: &[Cpl]) -> Cpl {
    assert_eq!(cs.len(), 1, "{cs:?}");
    cs[0]
}

fn accept(sref: u16, status: Status, tag: u32, peer: [u8; 4], port: u16, slot: u32) -> Cpl {
    Cpl {
        kind: CplKind::Accept,
        status,
        sock_ref: sref,
        tag,
        ref_num: u32::from_be_bytes(peer),
        bytes: port as u32 | slot << 16,
        opcode: Opcode::SockListen.code(),
        ..Cpl::default()
    }
}

#[test]
fn requests_are_validated() {
    let mut r = rig("listen-req");
    assert_eq!(r.r(reg::NUM_LISTEN), param::DEF_NUM_LISTEN as u32);
    assert_eq!(r.r(reg::HALF_OPEN_MAX), param::DEF_HALF_OPEN_MAX as u32);
    let bad = [
        ListenDesc {
            slot: param::DEF_NUM_LISTEN as u16,
            ..listen_desc(0, 1)
        },
        ListenDesc {
            proto: 17,
            ..listen_desc(0, 2)
        },
        ListenDesc {
            rcv_buf: 0,
            ..listen_desc(0, 3)
        },
        ListenDesc {
            rcv_buf: (1 << 30) + 1,
            ..listen_desc(0, 4)
        },
        ListenDesc {
            rcv_wscale: 15,
            ..listen_desc(0, 5)
        },
        ListenDesc {
            flags: SockFlags::CONNECT,
            ..listen_desc(0, 6)
        },
        ListenDesc {
            flags: SockFlags::ACCEPTED,
            ..listen_desc(0, 7)
        },
    ];
    for d in bad {
        r.submit(&d.to_bytes());
        let c = only(&r.wait_cpls(1));
        assert_eq!(
            (c.kind, c.status, c.tag),
            (CplKind::CmdDone, Status::BadSock, d.tag)
        );
    }
    let ok = ListenDesc {
        flags: SockFlags::PSH_RETURN | SockFlags::HOLD,
        ..listen_desc(3, 10)
    };
    r.submit(&ok.to_bytes());
    let c = only(&r.wait_cpls(1));
    assert_eq!(
        (c.kind, c.status, c.tag, c.opcode),
        (CplKind::CmdDone, Status::Ok, 10, Opcode::SockListen.code())
    );
    // Listening already.
    r.submit(&listen_desc(3, 11).to_bytes());
    assert_eq!(only(&r.wait_cpls(1)).status, Status::BadSock);
    // UNLISTEN: a slot that does not listen, out of range, then the listening one, twice.
    for (slot, st) in [
        (2, Status::BadSock),
        (200, Status::BadSock),
        (3, Status::Ok),
        (3, Status::BadSock),
    ] {
        r.submit(&hdr(Opcode::SockUnlisten, slot, 20));
        let c = only(&r.wait_cpls(1));
        assert_eq!((c.status, c.opcode), (st, Opcode::SockUnlisten.code()));
    }
    // POOL: no completion on success; refused out of range, in use, pooled already.
    r.submit(&sock_add(5, 30, 0));
    assert_eq!(only(&r.wait_cpls(1)).status, Status::Ok);
    r.submit(&hdr(Opcode::SockPool, 7, 31));
    r.submit(&hdr(Opcode::SockPool, 8, 32));
    for s in [64u16, 5, 7] {
        r.submit(&hdr(Opcode::SockPool, s, 33));
        let c = only(&r.wait_cpls(1));
        assert_eq!((c.status, c.sock_ref), (Status::BadSock, s));
    }
    assert_eq!(r.r(reg::ACCEPT_POOL), 2);
    // A pooled slot is refused like a free one: SOCK_ADD, SOCK_DEL, NB_POST, SOCK_CLOSE.
    r.submit(&sock_add(7, 40, 0));
    r.submit(&sock_del(7, 41));
    r.submit(&nb_post(7, 42, 0, 4096, 0x1000, 1));
    r.submit(&hdr(Opcode::SockClose, 7, 43));
    for c in r.wait_cpls(4) {
        assert_eq!((c.status, c.sock_ref), (Status::BadSock, 7), "{c:?}");
    }
    // SOCK_ADD may not set ACCEPTED.
    let mut d = sock_desc(9, 50, 0);
    d.flags = SockFlags::ACCEPTED;
    r.submit(&d.to_bytes());
    assert_eq!(only(&r.wait_cpls(1)).status, Status::BadSock);
    assert_eq!(r.r(reg::ACCEPT_POOL), 2);
}

#[test]
fn accept_handshake_data_and_lookup_counters() {
    let mut r = rig("listen-accept");
    r.submit(&listen_desc(2, 0xABC).to_bytes());
    assert_eq!(only(&r.wait_cpls(1)).status, Status::Ok);
    for s in [11u16, 12] {
        r.submit(&hdr(Opcode::SockPool, s, 0));
    }
    r.run(2000);
    assert!(r.cpls().is_empty());
    assert_eq!(r.r(reg::ACCEPT_POOL), 2);
    let peer = [10, 77, 1, 5];
    let irs = 1000;
    // A SYN to another port: no listen, NO_SOCKET. Then the SYN to the listen.
    let other = {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([2; 6], LOCAL_MAC)
            .ipv4(peer, LOCAL_IP, 64)
            .tcp(40001, PORT + 1, irs, 65535)
            .syn()
            .write(&mut v, &[])
            .unwrap();
        v
    };
    r.push(other);
    r.push(seg(peer, 40001, irs, "S", 0, &[]));
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 1);
    assert_eq!((r.r(reg::HALF_OPEN), r.r(reg::ACCEPT_POOL)), (1, 1));
    let iss = LISTEN_ISS.wrapping_add(hash_x(
        u32::from_be_bytes(peer),
        u32::from_be_bytes(LOCAL_IP),
        40001,
        PORT,
    ));
    let f = r.wire.recv().expect("SYN-ACK");
    assert!(r.wire.recv().is_none());
    assert_eq!(
        tx(&f),
        ([2, 0, 0, 0, 1, 5], 40001, iss, irs + 1, true, false),
        "SYN-ACK to the SYN's source MAC, ISS = template + x"
    );
    assert!(r.cpls().is_empty(), "no ACCEPT before the handshake ends");
    // The handshake ACK with 100 bytes of data: ACK, then ACCEPT OK.
    let data = bytes(7, 100);
    r.push(seg(peer, 40001, irs + 1, "A", iss.wrapping_add(1), &data));
    r.settle();
    let a = only(&r.cpls());
    assert_eq!(a, accept(11, Status::Ok, 0xABC, peer, 40001, 2));
    let f = r.wire.recv().expect("ACK");
    assert_eq!(tx(&f).3, irs + 101);
    assert_eq!(
        (
            r.r(reg::HALF_OPEN),
            r.r(reg::CNT_ACCEPTS),
            r.r(reg::CNT_RX_ACCEPTED)
        ),
        (0, 1, 1)
    );
    // The data waits for a named buffer posted after the ACCEPT.
    let pages = r.post_nb(11, 5, 0, 100);
    let c = only(&r.wait_cpls(1));
    assert_eq!((c.kind, c.bytes), (CplKind::NbReturn, 100));
    assert_eq!(r.nb_read(&pages, 100), data);
    // Lookups: the port-8001 SYN (empty bucket: 1), the first SYN (1), the ACK (match, 2).
    assert_eq!(r.r(reg::CNT_LOOKUPS), 3);
    assert_eq!(r.r(reg::CNT_LOOKUP_CYCLES), 4);
    // Delete and re-pool; unlisten: the accepted socket goes on, new SYNs are NO_SOCKET.
    r.delete(11);
    r.submit(&hdr(Opcode::SockPool, 11, 0));
    r.submit(&hdr(Opcode::SockUnlisten, 2, 9));
    assert_eq!(only(&r.wait_cpls(1)).status, Status::Ok);
    assert_eq!(r.r(reg::ACCEPT_POOL), 2);
    r.push(seg([10, 77, 1, 6], 40002, 5, "S", 0, &[]));
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 2);
    r.assert_all_free();
}

#[test]
fn listen_full_half_open_max_rst_timeout_abort_del() {
    let mut r = rig("listen-full");
    r.w(reg::HALF_OPEN_MAX, 3);
    r.submit(&listen_desc(0, 77).to_bytes());
    assert_eq!(only(&r.wait_cpls(1)).status, Status::Ok);
    // Empty pool: LISTEN_FULL, no answer.
    r.push(seg([10, 0, 0, 1], 1000, 1, "S", 0, &[]));
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_LISTEN_FULL), 1);
    assert!(r.wire.recv().is_none());
    for s in 20..26u16 {
        r.submit(&hdr(Opcode::SockPool, s, 0));
    }
    r.run(5000);
    assert_eq!(r.r(reg::ACCEPT_POOL), 6);
    // Four SYNs: three half-open (slots 20, 21, 22 in pool order), the fourth LISTEN_FULL.
    let peers: Vec<[u8; 4]> = (1..=4).map(|i| [10, 0, 1, i]).collect();
    for (i, p) in peers.iter().enumerate() {
        r.push(seg(*p, 2000 + i as u16, 100, "S", 0, &[]));
    }
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_LISTEN_FULL), 2);
    assert_eq!((r.r(reg::HALF_OPEN), r.r(reg::ACCEPT_POOL)), (3, 3));
    let sa: Vec<_> = std::iter::from_fn(|| r.wire.recv())
        .map(|f| tx(&f))
        .collect();
    assert_eq!(sa.len(), 3);
    // A retransmitted SYN is answered again, not a new socket.
    r.push(seg(peers[0], 2000, 100, "S", 0, &[]));
    r.settle();
    assert_eq!(r.r(reg::HALF_OPEN), 3);
    assert_eq!(tx(&r.wire.recv().unwrap()), sa[0]);
    // RST at RCV_NXT on the first: CLOSED, ACCEPT RESET.
    r.push(seg(peers[0], 2000, 101, "R", 0, &[]));
    r.settle();
    assert_eq!(
        only(&r.cpls()),
        accept(20, Status::Reset, 77, peers[0], 2000, 0)
    );
    assert_eq!(r.r(reg::HALF_OPEN), 2);
    // Abort on the second: RST out, ACCEPT RESET, then the CMD_DONE.
    r.submit(
        &ReqHdr {
            opcode: Opcode::SockClose.code(),
            flags: 1,
            sock_ref: 21,
            tag: 0x5A,
        }
        .to_bytes(),
    );
    let cs = r.wait_cpls(2);
    assert_eq!(cs[0], accept(21, Status::Reset, 77, peers[1], 2001, 0));
    assert_eq!(
        (cs[1].kind, cs[1].status, cs[1].tag),
        (CplKind::CmdDone, Status::Ok, 0x5A)
    );
    assert!(tx(&r.wire.recv().expect("RST")).5);
    // SOCK_DEL of the third: no ACCEPT, HALF_OPEN back to 0.
    let cs = r.delete(22);
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(r.r(reg::HALF_OPEN), 0);
    // A new SYN takes slot 23; its SYN-ACK retries run out: ACCEPT TIMEOUT.
    r.w(reg::RTO_INIT, 1);
    r.w(reg::RTO_MAX, 1);
    r.w(reg::TX_RETRIES, 2);
    r.push(seg([10, 0, 2, 9], 3000, 7, "S", 0, &[]));
    r.settle();
    assert_eq!(r.r(reg::HALF_OPEN), 1);
    let mut got = vec![];
    for _ in 0..5 {
        r.w(reg::TIMER_KICK, 1);
        r.run(2000);
        got.extend(r.cpls());
    }
    assert_eq!(
        got,
        vec![accept(23, Status::Timeout, 77, [10, 0, 2, 9], 3000, 0)]
    );
    assert_eq!(r.r(reg::HALF_OPEN), 0);
    assert_eq!(r.r(reg::CNT_ACCEPTS), 0);
    // The CLOSED sockets stay until deleted; their slots may be pooled again.
    for s in [20u16, 21, 23] {
        r.delete(s);
        r.submit(&hdr(Opcode::SockPool, s, 0));
    }
    r.run(1000);
    assert_eq!(r.r(reg::ACCEPT_POOL), 5);
    r.assert_all_free();
}

/// A build with 65,536 socket slots: every slot pooled, thousands of connections accepted,
/// the lookup stays short and the table small.
#[test]
fn sixty_five_thousand_sockets() {
    let cfg = DeviceConfig::with_sockets(64, 65536);
    let mut r = Rig::new("listen-64k", cfg, 4096, 8192);
    assert_eq!(r.r(reg::NUM_SOCKETS), 65536);
    r.w(reg::HALF_OPEN_MAX, 100_000);
    r.submit(&listen_desc(0, 1).to_bytes());
    assert_eq!(only(&r.wait_cpls(1)).status, Status::Ok);
    // Pool slots 65535 down to 62536 (refs near 0xFFFF included).
    for s in (62536..=65535u16).rev() {
        r.submit(&hdr(Opcode::SockPool, s, 0));
        if s % 1024 == 0 {
            r.run(20_000);
        }
    }
    r.run(200_000);
    assert_eq!(r.r(reg::ACCEPT_POOL), 3000);
    let n = 3000u32;
    // Peers at seeded random addresses and ports (distinct: the index is in the address).
    let mut x = 0x9E37_79B9u32;
    let peers: Vec<([u8; 4], u16)> = (0..n)
        .map(|i| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let ip = [
                10 + (x >> 28) as u8,
                (x >> 20) as u8,
                (i >> 8) as u8,
                i as u8,
            ];
            (ip, 1024 + (x % 60000) as u16)
        })
        .collect();
    for (i, &(peer, port)) in peers.iter().enumerate() {
        r.push(seg(peer, port, i as u32, "S", 0, &[]));
    }
    r.settle();
    assert_eq!(r.r(reg::HALF_OPEN), n);
    while r.wire.recv().is_some() {}
    let before = (r.r(reg::CNT_LOOKUPS), r.r(reg::CNT_LOOKUP_CYCLES));
    for (i, &(peer, port)) in peers.iter().enumerate() {
        let iss = LISTEN_ISS.wrapping_add(hash_x(
            u32::from_be_bytes(peer),
            u32::from_be_bytes(LOCAL_IP),
            port,
            PORT,
        ));
        let ack = iss.wrapping_add(1);
        r.push(seg(peer, port, i as u32 + 1, "A", ack, &[]));
    }
    r.settle();
    let mut accepted = 0;
    for c in r.cpls() {
        assert_eq!((c.kind, c.status), (CplKind::Accept, Status::Ok));
        assert!(c.sock_ref >= 62536);
        accepted += 1;
    }
    assert_eq!(accepted, n);
    assert_eq!(r.r(reg::HALF_OPEN), 0);
    let looks = r.r(reg::CNT_LOOKUPS) - before.0;
    let cycles = r.r(reg::CNT_LOOKUP_CYCLES) - before.1;
    assert_eq!(looks, n);
    // 3000 sockets in 262,144 buckets: almost every lookup visits one socket.
    assert!(
        cycles < 2 * n + n / 10,
        "lookup cycles {cycles} for {looks} lookups"
    );
}
