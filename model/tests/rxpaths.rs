//! The receive paths of docs/rx-paths.md: UDP sockets and datagram delivery, anonymous
//! buffers, the ARP responder and the named-buffer timeout sweep.
//!
//! These are unit tests of the Rust model only (`buflet_model::ModelDevice`). The RTL
//! counterpart is tested by `testbench/tests/rtl_rx_parser.rs` (UDP and ARP parse metadata),
//! `testbench/tests/rtl_toe_engine/` and `testbench/tests/rtl_tx_builder.rs` (the engine and
//! the ARP reply frame), `testbench/tests/rxpaths.rs` (these paths end to end through the
//! driver, on both backends) and `testbench/tests/cosim.rs` (the whole RTL against this model,
//! transaction by transaction).

mod common;

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

fn kick(r: &mut Rig) {
    r.w(reg::TIMER_KICK, 1);
    r.run(500);
}

// ---------------------------------------------------------------------------------------
// UDP
// ---------------------------------------------------------------------------------------

/// Datagrams wait on the socket's list until named buffers come; each then goes into its
/// own buffer, returned with DATAGRAM (| TRUNC), BYTES = FILLED, HDR_BYTES = min(8, FILLED).
fn udp_datagrams(width: u32) {
    let mut r = rig(&format!("udp-{width}"), width);
    ok(&mut r, &udp_sock_add(2, 10, 0));
    ok(&mut r, &udp_sock_add(3, 11, 7));
    let sizes = [100usize, 5000, 300, 0, 40];
    let frames: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| udp_frame(None, REMOTE_PORT, LOCAL_PORT, &bytes(i as u64, n)))
        .collect();
    for f in &frames {
        r.push(f.clone());
    }
    let tagged = udp_frame(Some(7), REMOTE_PORT, LOCAL_PORT, &bytes(99, 700));
    r.push(tagged.clone());
    r.settle();
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 6);
    assert!(r.cpls().is_empty());
    assert!(r.txs().is_empty(), "UDP is never answered");
    assert!(r.r(reg::CNT_FREE_BUFLETS) < 256, "datagrams are held");

    // Buffers: room for all, room for all over two pages, too small, room for an empty
    // datagram, smaller than the UDP header.
    let totals = [4096u32, 8192, 100, 4096, 5];
    let mut pages = vec![];
    for (i, &t) in totals.iter().enumerate() {
        pages.push(post_nb(&mut r, 2, 200 + i as u32, 10 + i as u32, t, 0));
    }
    let cs = r.wait_cpls(5);
    let dg = CplFlags::DATAGRAM;
    let tr = CplFlags::TRUNC;
    assert_eq!(
        cs,
        vec![
            nb_ret(2, 200, 10, 108, dg, 8, 0),
            nb_ret(2, 201, 11, 5008, dg, 8, 108),
            nb_ret(2, 202, 12, 100, dg | tr, 8, 5116),
            nb_ret(2, 203, 13, 8, dg, 8, 5216),
            nb_ret(2, 204, 14, 5, dg | tr, 5, 5224),
        ]
    );
    for (i, c) in cs.iter().enumerate() {
        let n = c.bytes as usize;
        assert_eq!(
            r.nb_read(&pages[i], n),
            &frames[i][34..34 + n],
            "datagram {i}"
        );
    }
    // Nothing past FILLED is written.
    assert!(r.cpu_read(pages[2][0], 400)[100..].iter().all(|&b| b == 0));
    assert_eq!(r.r(reg::CNT_DELIVERED_BYTES), 108 + 5008 + 100 + 8 + 5);

    // The tagged datagram went to the VLAN 7 socket (UDP header at 18 + 20).
    let p = post_nb(&mut r, 3, 300, 20, 4096, 0);
    let cs = r.wait_cpls(1);
    assert_eq!(cs, vec![nb_ret(3, 300, 20, 708, dg, 8, 0)]);
    assert_eq!(r.nb_read(&p, 708), &tagged[38..]);
    assert_eq!(r.r(reg::CNT_NB_RETURNED), 6);
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 0);
    assert!(r.txs().is_empty());
    r.assert_all_free();
    assert_eq!(r.delete(2).len(), 1);
    assert_eq!(r.delete(3).len(), 1);
    r.assert_all_free();
}

#[test]
fn udp_datagrams_w64() {
    udp_datagrams(64);
}

#[test]
fn udp_datagrams_w512() {
    udp_datagrams(512);
}

/// Drop counters in the order of `reasons`.
fn drops(r: &mut Rig) -> Vec<u32> {
    DropReason::ALL[1..]
        .iter()
        .map(|d| r.r(d.counter().unwrap()))
        .collect()
}

/// An IPv4 packet of protocol 17 whose IP payload is `udp` (raw bytes, header included).
fn raw_udp(udp: &[u8]) -> Vec<u8> {
    let mut ip = Ipv4Header::new(udp.len() as u16, 64, IpNumber::UDP, REMOTE_IP, LOCAL_IP).unwrap();
    ip.header_checksum = ip.calc_header_checksum();
    let mut v = vec![];
    etherparse::Ethernet2Header {
        source: REMOTE_MAC,
        destination: LOCAL_MAC,
        ether_type: EtherType::IPV4,
    }
    .write(&mut v)
    .unwrap();
    ip.write(&mut v).unwrap();
    v.extend_from_slice(udp);
    v
}

/// UDP parse checks: short payload, length field, checksum (0 = none). Failing datagrams are
/// counted and never passed up, even with an anonymous buffer posted.
#[test]
fn udp_checks() {
    let mut r = rig("udpchk", 64);
    ok(&mut r, &udp_sock_add(2, 10, 0));
    let anon = post_anon(&mut r, 77, 0, 2048);
    let payload = bytes(5, 50);
    let good = udp_frame(None, REMOTE_PORT, LOCAL_PORT, &payload);
    assert_eq!(good.len(), 34 + 58);
    let mut cases: Vec<(DropReason, Vec<u8>)> = vec![];
    // A payload byte flipped: the checksum is wrong.
    let mut f = good.clone();
    f[50] ^= 0x01;
    cases.push((DropReason::BadL4Csum, f));
    // A wrong checksum field.
    let mut f = good.clone();
    f[41] ^= 0x10;
    assert_ne!(&f[40..42], &[0, 0]);
    cases.push((DropReason::BadL4Csum, f));
    // Checksum 0: not checked, so a flipped byte is accepted (case index 2).
    let mut f = good.clone();
    f[40] = 0;
    f[41] = 0;
    f[50] ^= 0x01;
    cases.push((DropReason::None, f));
    // UDP length one more / one less than the IP payload.
    for d in [1i32, -1] {
        let mut f = good.clone();
        f[38..40].copy_from_slice(&((58 + d) as u16).to_be_bytes());
        cases.push((DropReason::BadL4Hdr, f));
    }
    // A UDP length shorter than the IP payload (2 trailing bytes inside the IP packet), with
    // a checksum right over the 58 datagram bytes.
    let ip = Ipv4Header::new(60, 64, IpNumber::UDP, REMOTE_IP, LOCAL_IP).unwrap();
    let udp = UdpHeader::with_ipv4_checksum(REMOTE_PORT, LOCAL_PORT, &ip, &payload).unwrap();
    let mut body = udp.to_bytes().to_vec();
    body.extend_from_slice(&payload);
    body.extend_from_slice(&[0, 0]);
    cases.push((DropReason::BadL4Hdr, raw_udp(&body)));
    // IP payload shorter than the UDP header.
    for n in [0usize, 4, 7] {
        cases.push((DropReason::Truncated, raw_udp(&vec![0; n])));
    }
    // Exactly the header: an empty datagram with checksum 0 (case index 9).
    let mut h = vec![0u8; 8];
    h[0..2].copy_from_slice(&REMOTE_PORT.to_be_bytes());
    h[2..4].copy_from_slice(&LOCAL_PORT.to_be_bytes());
    h[4..6].copy_from_slice(&8u16.to_be_bytes());
    cases.push((DropReason::None, raw_udp(&h)));
    let mut accepted = vec![];
    for (reason, f) in cases {
        let before = drops(&mut r);
        let acc = r.r(reg::CNT_RX_ACCEPTED);
        r.push(f.clone());
        r.settle();
        let after = drops(&mut r);
        for &d in &DropReason::ALL[1..] {
            let k = d.code() as usize - 1;
            let want = before[k] + (d == reason) as u32;
            assert_eq!(after[k], want, "reason {reason}: counter {d}");
        }
        assert_eq!(
            r.r(reg::CNT_RX_ACCEPTED),
            acc + (reason == DropReason::None) as u32
        );
        if reason == DropReason::None {
            accepted.push(f);
        }
    }
    assert_eq!(r.r(reg::CNT_ANON_RX), 0);
    assert!(r.cpls().is_empty());
    assert!(r.cpu_read(anon, 2048).iter().all(|&b| b == 0));
    // The accepted datagrams come out whole.
    let p0 = post_nb(&mut r, 2, 1, 0, 4096, 0);
    let p1 = post_nb(&mut r, 2, 2, 1, 4096, 0);
    let cs = r.wait_cpls(2);
    let dg = CplFlags::DATAGRAM;
    assert_eq!(
        cs,
        vec![nb_ret(2, 1, 0, 58, dg, 8, 0), nb_ret(2, 2, 1, 8, dg, 8, 58)]
    );
    assert_eq!(r.nb_read(&p0, 58), &accepted[0][34..]);
    assert_eq!(r.nb_read(&p1, 8), &accepted[1][34..]);
    r.delete(2);
    r.assert_all_free();
}

/// A frame matches a socket only when the protocol matches too.
#[test]
fn tcp_and_udp_sockets_on_one_tuple() {
    let mut r = rig("tcpudp", 64);
    ok(&mut r, &udp_sock_add(2, 10, 0));
    // A TCP SYN for the UDP socket's 4-tuple matches nothing.
    r.send(Seg {
        seq: 5,
        syn: true,
        ..Seg::default()
    });
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 1);
    assert!(r.txs().is_empty());
    // With a TCP socket on the same tuple, TCP goes to it and UDP to the UDP socket.
    ok(&mut r, &sock_add(1, 11, 0));
    let seq = r.handshake(1000);
    let tcp_data = bytes(1, 700);
    r.send(Seg {
        seq,
        payload: tcp_data.clone(),
        ..Seg::default()
    });
    let dgram = udp_frame(None, REMOTE_PORT, LOCAL_PORT, &bytes(2, 300));
    r.push(dgram.clone());
    r.settle();
    assert_eq!(r.txs().len(), 1, "the TCP segment is ACKed");
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 2);
    let pt = post_nb(&mut r, 1, 21, 1, 700, 0);
    let pu = post_nb(&mut r, 2, 22, 2, 4096, 0);
    let mut cs = r.wait_cpls(2);
    cs.sort_by_key(|c| c.tag);
    assert_eq!(
        cs,
        vec![
            nb_ret(1, 21, 1, 700, CplFlags::FULL, 0, 0),
            nb_ret(2, 22, 2, 308, CplFlags::DATAGRAM, 8, 0),
        ]
    );
    assert_eq!(r.nb_read(&pt, 700), tcp_data);
    assert_eq!(r.nb_read(&pu, 308), &dgram[34..]);
    // Without the UDP socket, a datagram does not match the TCP socket.
    r.delete(2);
    r.push(dgram);
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 2);
    assert!(r.txs().is_empty());
    r.delete(1);
    r.assert_all_free();
}

// ---------------------------------------------------------------------------------------
// Anonymous buffers
// ---------------------------------------------------------------------------------------

fn anonymous_buffers(width: u32) {
    let mut r = rig(&format!("anon-{width}"), width);
    set_nic(&mut r, NIC_MAC, LOCAL_IP);
    ok(&mut r, &sock_add(1, 1, 0));
    // Five buffers, used first posted first.
    let posts = [
        (40u32, 3u32, 2048u32),
        (41, 0, 64),
        (42, 7, 16384),
        (43, 1, 100),
        (44, 2, 1500),
    ];
    let addrs: Vec<u64> = posts
        .iter()
        .map(|&(tag, rn, len)| post_anon(&mut r, tag, rn, len))
        .collect();
    let icmp = {
        let mut v = vec![];
        PacketBuilder::ethernet2(REMOTE_MAC, LOCAL_MAC)
            .ipv4(REMOTE_IP, LOCAL_IP, 64)
            .icmpv4_echo_request(1, 2)
            .write(&mut v, &bytes(3, 100))
            .unwrap();
        v
    };
    let ipv6 = {
        let mut v = vec![];
        PacketBuilder::ethernet2(REMOTE_MAC, LOCAL_MAC)
            .ipv6([1; 16], [2; 16], 64)
            .udp(5, 6)
            .write(&mut v, &bytes(4, 30))
            .unwrap();
        v
    };
    let frames = vec![
        // TCP to a port without a socket.
        frame(&Seg {
            seq: 1,
            dport: Some(9999),
            payload: bytes(1, 200),
            ..Seg::default()
        }),
        // ICMP: an IP protocol other than TCP/UDP (into 64 bytes: truncated).
        icmp,
        // UDP to a port without a socket, 9042 bytes: three DMA writes.
        udp_frame(None, REMOTE_PORT, 5353, &bytes(2, 9000)),
        // IPv6.
        ipv6.clone(),
        // ARP for another address.
        arp_frame(
            None,
            OTHER_MAC,
            ArpOperation::REQUEST,
            OTHER_MAC,
            REMOTE_IP,
            [10, 77, 0, 99],
        ),
    ];
    r.env.mem.set_write_log(true);
    for f in &frames {
        r.push(f.clone());
    }
    r.settle();
    let cs = r.wait_cpls(5);
    let lens: Vec<usize> = frames.iter().map(|f| f.len()).collect();
    assert_eq!(lens[2], 9042);
    assert_eq!(lens[3], 92);
    assert_eq!(lens[4], 42);
    let mut want = vec![];
    for (i, &(tag, rn, len)) in posts.iter().enumerate() {
        let n = lens[i].min(len as usize);
        let flags = if n < lens[i] {
            CplFlags::TRUNC
        } else {
            CplFlags::empty()
        };
        want.push(anon_rx(tag, rn, n as u32, flags));
        assert_eq!(r.cpu_read(addrs[i], n), &frames[i][..n], "frame {i}");
        // Nothing past n is written.
        let rest = r.cpu_read(addrs[i], len as usize);
        assert!(rest[n..].iter().all(|&b| b == 0), "frame {i}");
    }
    assert_eq!(cs, want);
    assert_eq!(want[1].flags, CplFlags::TRUNC);
    // DMA writes of at most 4096 bytes, each at ADDR + 4096k.
    let ring = r.cpl_base..r.cpl_base + r.cpl_size as u64 * 32;
    let writes: Vec<(u64, usize)> = r
        .env
        .mem
        .take_write_log()
        .into_iter()
        .filter(|w| !ring.contains(&w.addr))
        .map(|w| (w.addr, w.data.len()))
        .collect();
    let a = &addrs;
    assert_eq!(
        writes,
        vec![
            (a[0], lens[0]),
            (a[1], 64),
            (a[2], 4096),
            (a[2] + 4096, 4096),
            (a[2] + 8192, 850),
            (a[3], 92),
            (a[4], 42),
        ]
    );
    assert!(r.dev.irq(), "ANON_RX raises the completion interrupt");
    assert_eq!(r.r(reg::CNT_ANON_RX), 5);
    assert!(drops(&mut r).iter().all(|&d| d == 0), "no drop is counted");
    assert_eq!(r.r(reg::CNT_DELIVERED_BYTES), 0);
    assert_eq!(r.r(reg::CNT_NB_RETURNED), 0);
    r.assert_all_free();

    // With the list empty, frames are dropped under their reason.
    r.push(udp_frame(None, REMOTE_PORT, 5353, &bytes(2, 10)));
    r.push(ipv6.clone());
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 1);
    assert_eq!(r.r(reg::CNT_DROP_NOT_IPV4), 1);
    assert_eq!(r.r(reg::CNT_ANON_RX), 5);
    assert!(r.cpls().is_empty());

    // A returned slot can be posted again.
    let b = post_anon(&mut r, 50, 3, 128);
    r.push(ipv6.clone());
    r.settle();
    assert_eq!(r.wait_cpls(1), vec![anon_rx(50, 3, 92, CplFlags::empty())]);
    assert_eq!(r.cpu_read(b, 92), ipv6);
    assert_eq!(r.r(reg::CNT_RX_FRAMES), 8);
    r.delete(1);
    r.assert_all_free();
}

#[test]
fn anonymous_buffers_w64() {
    anonymous_buffers(64);
}

#[test]
fn anonymous_buffers_w512() {
    anonymous_buffers(512);
}

#[test]
fn anon_post_validation() {
    let c = DeviceConfig {
        num_anon: 4,
        ..cfg(64)
    };
    let mut r = Rig::new("anonpost", c, 32, 32);
    assert_eq!(r.r(reg::NUM_ANON), 4);
    let a = r.alloc(16384);
    let cases: Vec<([u8; 64], bool)> = vec![
        (anon_post(1, 4, 64, a), false),    // REF_NUM >= NUM_ANON
        (anon_post(2, 0, 63, a), false),    // below ANON_MIN_LEN
        (anon_post(3, 0, 16385, a), false), // above ANON_MAX_LEN
        (anon_post(4, 0, 64, a), true),     // smallest
        (anon_post(5, 0, 100, a), false),   // slot busy
        (anon_post(6, 3, 16384, a), true),  // largest
        (anon_post(7, 0xFFFF_FFFF, 64, a), false),
    ];
    let mut want = vec![];
    for (e, good) in &cases {
        r.submit(e);
        if !good {
            want.push(AnonDesc::parse(e).unwrap().tag);
        }
    }
    let cs = r.wait_cpls(want.len());
    assert_eq!(cs.iter().map(|c| c.tag).collect::<Vec<_>>(), want);
    for c in &cs {
        assert_eq!(
            (c.kind, c.status, c.opcode),
            (CplKind::CmdDone, Status::BadNb, Opcode::AnonPost.code())
        );
    }
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 5);
    // Both good posts are used, in order.
    r.push(udp_frame(None, 1, 2, &[1; 100]));
    r.push(udp_frame(None, 1, 2, &[2; 100]));
    r.settle();
    let cs = r.wait_cpls(2);
    assert_eq!(
        cs,
        vec![
            anon_rx(4, 0, 64, CplFlags::TRUNC),
            anon_rx(6, 3, 142, CplFlags::empty())
        ]
    );
    assert_eq!(Rig::new("anondef", cfg(64), 4, 4).r(reg::NUM_ANON), 16);
    r.assert_all_free();
}

/// A frame the pool could not store whole is never passed up; UDP datagrams hold buflets
/// without any window.
#[test]
fn anon_and_udp_with_the_pool_dry() {
    let c = DeviceConfig {
        num_buflets: 16,
        ..cfg(64)
    };
    let mut r = Rig::new("anondry", c, 64, 64);
    set_nic(&mut r, NIC_MAC, LOCAL_IP);
    ok(&mut r, &udp_sock_add(2, 10, 0));
    let dgrams: Vec<Vec<u8>> = (0..16)
        .map(|i| udp_frame(None, REMOTE_PORT, LOCAL_PORT, &bytes(i, 1000)))
        .collect();
    for f in &dgrams {
        r.push(f.clone());
    }
    r.settle();
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 0);
    let a = post_anon(&mut r, 9, 0, 2048);
    let ipv6 = {
        let mut v = vec![];
        PacketBuilder::ethernet2(REMOTE_MAC, LOCAL_MAC)
            .ipv6([1; 16], [2; 16], 64)
            .udp(5, 6)
            .write(&mut v, &bytes(4, 30))
            .unwrap();
        v
    };
    r.push(ipv6.clone());
    r.push(udp_frame(None, REMOTE_PORT, LOCAL_PORT, &[1; 10]));
    // An ARP request for NIC_IP needs no buflet to be answered.
    r.push(arp_frame(
        None,
        REMOTE_MAC,
        ArpOperation::REQUEST,
        REMOTE_MAC,
        REMOTE_IP,
        LOCAL_IP,
    ));
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NOT_IPV4), 1);
    assert_eq!(r.r(reg::CNT_DROP_NO_BUFLET), 1);
    assert_eq!(r.r(reg::CNT_ANON_RX), 0);
    assert_eq!(r.r(reg::CNT_ARP_REPLIES), 1);
    assert!(r.dev.tx_pop().is_some() && r.dev.tx_pop().is_none());
    assert!(r.cpls().is_empty());
    // Buffers drain the socket; then the anonymous buffer takes the next frame.
    let mut pages = vec![];
    for i in 0..16u32 {
        pages.push(post_nb(&mut r, 2, 100 + i, i, 2048, 0));
    }
    let cs = r.wait_cpls(16);
    for (i, c) in cs.iter().enumerate() {
        assert_eq!(
            *c,
            nb_ret(
                2,
                100 + i as u32,
                i as u32,
                1008,
                CplFlags::DATAGRAM,
                8,
                1008 * i as u64
            )
        );
        assert_eq!(r.nb_read(&pages[i], 1008), &dgrams[i][34..]);
    }
    r.assert_all_free();
    r.push(ipv6.clone());
    r.settle();
    assert_eq!(r.wait_cpls(1), vec![anon_rx(9, 0, 92, CplFlags::empty())]);
    assert_eq!(r.cpu_read(a, 92), ipv6);
    r.delete(2);
    r.assert_all_free();
}

// ---------------------------------------------------------------------------------------
// ARP responder
// ---------------------------------------------------------------------------------------

/// A transmitted ARP reply, parsed with etherparse.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    len: usize,
    eth_dst: [u8; 6],
    eth_src: [u8; 6],
    vlan: Option<u16>,
    sender_mac: [u8; 6],
    sender_ip: [u8; 4],
    target_mac: [u8; 6],
    target_ip: [u8; 4],
}

fn parse_reply(f: &[u8]) -> Reply {
    let h = PacketHeaders::from_ethernet_slice(f).expect("reply parses");
    let Some(LinkHeader::Ethernet2(eth)) = h.link else {
        panic!("no Ethernet header")
    };
    let vlan = match h.link_exts.first() {
        Some(LinkExtHeader::Vlan(v)) => {
            assert_eq!(v.ether_type, EtherType::ARP);
            assert_eq!(v.pcp, etherparse::VlanPcp::ZERO);
            assert!(!v.drop_eligible_indicator);
            Some(v.vlan_id.value())
        }
        Some(_) => panic!("unexpected link extension"),
        None => {
            assert_eq!(eth.ether_type, EtherType::ARP);
            None
        }
    };
    let Some(NetHeaders::Arp(arp)) = h.net else {
        panic!("not ARP")
    };
    let a = arp.try_eth_ipv4().expect("Ethernet/IPv4 ARP");
    assert_eq!(a.operation, ArpOperation::REPLY);
    assert!(h.transport.is_none());
    assert_eq!(f.len(), 42 + 4 * vlan.is_some() as usize, "no padding");
    Reply {
        len: f.len(),
        eth_dst: eth.destination,
        eth_src: eth.source,
        vlan,
        sender_mac: a.sender_mac,
        sender_ip: a.sender_ipv4,
        target_mac: a.target_mac,
        target_ip: a.target_ipv4,
    }
}

#[test]
fn arp_responder() {
    let mut r = rig("arp", 64);
    // Registers read back (NIC_MAC_HI holds 16 bits).
    r.w(reg::NIC_MAC_HI, 0xABCD_5544);
    assert_eq!(r.r(reg::NIC_MAC_HI), 0x5544);
    set_nic(&mut r, NIC_MAC, LOCAL_IP);
    assert_eq!(r.r(reg::NIC_MAC_LO), 0x3322_1102);
    assert_eq!(r.r(reg::NIC_IP), 0x0A4D_0002);
    let anon = post_anon(&mut r, 5, 0, 256);
    let req =
        |vlan, sha, spa| arp_frame(vlan, OTHER_MAC, ArpOperation::REQUEST, sha, spa, LOCAL_IP);
    // Untagged, tagged, and tagged with Ethernet padding to 64 bytes.
    let mut padded = req(Some(4095), [7; 6], [192, 168, 1, 1]);
    padded.resize(64, 0xEE);
    for f in [
        req(None, REMOTE_MAC, REMOTE_IP),
        req(Some(5), [2, 9, 8, 7, 6, 5], [10, 77, 0, 50]),
        padded,
    ] {
        r.push(f);
    }
    r.settle();
    let mut out = vec![];
    while let Some(f) = r.dev.tx_pop() {
        out.push(parse_reply(&f));
    }
    let reply = |len, dst: [u8; 6], vlan, ip: [u8; 4]| Reply {
        len,
        eth_dst: dst,
        eth_src: NIC_MAC,
        vlan,
        sender_mac: NIC_MAC,
        sender_ip: LOCAL_IP,
        target_mac: dst,
        target_ip: ip,
    };
    assert_eq!(
        out,
        vec![
            // The reply goes to the ARP sender hardware address, not the Ethernet source.
            reply(42, REMOTE_MAC, None, REMOTE_IP),
            reply(46, [2, 9, 8, 7, 6, 5], Some(5), [10, 77, 0, 50]),
            reply(46, [7; 6], Some(4095), [192, 168, 1, 1]),
        ]
    );
    assert_eq!(r.r(reg::CNT_ARP_REPLIES), 3);
    assert_eq!(r.r(reg::CNT_TX_FRAMES), 3);
    assert_eq!(r.r(reg::CNT_TX_BYTES), 42 + 46 + 46);
    assert!(
        drops(&mut r).iter().all(|&d| d == 0),
        "consumed, not dropped"
    );
    assert_eq!(r.r(reg::CNT_ANON_RX), 0);
    assert!(r.cpls().is_empty());
    r.assert_all_free();

    // Not answered: a request for another address (to the anonymous buffer), then with the
    // list empty a reply for NIC_IP, a request with protocol type IPv6, a truncated request.
    let other = arp_frame(
        None,
        OTHER_MAC,
        ArpOperation::REQUEST,
        OTHER_MAC,
        REMOTE_IP,
        [10, 77, 0, 3],
    );
    r.push(other.clone());
    r.push(arp_frame(
        None,
        OTHER_MAC,
        ArpOperation::REPLY,
        OTHER_MAC,
        REMOTE_IP,
        LOCAL_IP,
    ));
    let mut v6 = req(None, REMOTE_MAC, REMOTE_IP);
    v6[16..18].copy_from_slice(&[0x86, 0xDD]);
    r.push(v6);
    let mut short = req(None, REMOTE_MAC, REMOTE_IP);
    short.truncate(14 + 27);
    r.push(short);
    r.settle();
    assert_eq!(r.wait_cpls(1), vec![anon_rx(5, 0, 42, CplFlags::empty())]);
    assert_eq!(r.cpu_read(anon, 42), other);
    assert_eq!(r.r(reg::CNT_DROP_NOT_IPV4), 3);
    assert_eq!(r.dev.tx_pop(), None);

    // NIC_IP 0 turns the responder off, even for a request for 0.0.0.0.
    r.w(reg::NIC_IP, 0);
    r.push(req(None, REMOTE_MAC, REMOTE_IP));
    r.push(arp_frame(
        None,
        OTHER_MAC,
        ArpOperation::REQUEST,
        OTHER_MAC,
        REMOTE_IP,
        [0; 4],
    ));
    r.settle();
    assert_eq!(r.dev.tx_pop(), None);
    assert_eq!(r.r(reg::CNT_DROP_NOT_IPV4), 5);
    assert_eq!(r.r(reg::CNT_ARP_REPLIES), 3);
    // And back on.
    r.w(reg::NIC_IP, u32::from_be_bytes(LOCAL_IP));
    r.push(req(Some(1), REMOTE_MAC, REMOTE_IP));
    r.settle();
    let f = r.dev.tx_pop().expect("answered again");
    assert_eq!(parse_reply(&f), reply(46, REMOTE_MAC, Some(1), REMOTE_IP));
    assert_eq!(r.r(reg::CNT_ARP_REPLIES), 4);
    r.assert_all_free();
}

// ---------------------------------------------------------------------------------------
// Named-buffer timeouts
// ---------------------------------------------------------------------------------------

fn tcp_data(r: &mut Rig, seq: u32, payload: Vec<u8>) {
    r.send(Seg {
        seq,
        payload,
        ..Seg::default()
    });
    r.settle();
    let _ = r.txs();
}

#[test]
fn timeouts_by_kick() {
    let mut r = rig("tkick", 64);
    ok(&mut r, &sock_add(0, 1, 0));
    let mut seq = r.handshake(5000);
    let stream = bytes(7, 20_000);
    let mut off = 0usize;
    let mut send = |r: &mut Rig, n: usize| {
        tcp_data(r, seq, stream[off..off + n].to_vec());
        seq += n as u32;
        off += n;
    };
    let to = CplFlags::TIMEOUT;

    // An empty buffer: returned after exactly TIMEOUT ticks, with the socket's STREAM_OFF.
    post_nb(&mut r, 0, 10, 1, 4096, 3);
    r.run(2_000);
    kick(&mut r);
    kick(&mut r);
    assert!(r.cpls().is_empty());
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(0, 10, 1, 0, to, 0, 0)]);
    assert_eq!(r.r(reg::CNT_TICKS), 3);
    assert_eq!(r.r(reg::CNT_TIMEOUTS), 1);

    // TIMEOUT 0: never. Only head buffers count down.
    let p1 = post_nb(&mut r, 0, 11, 2, 4096, 0);
    let p2 = post_nb(&mut r, 0, 12, 3, 4096, 2);
    r.run(2_000);
    send(&mut r, 100);
    for _ in 0..6 {
        kick(&mut r);
    }
    assert!(r.cpls().is_empty());
    // Fill the head: the second buffer becomes the head with its ticks untouched.
    send(&mut r, 3996);
    assert_eq!(r.cpls(), vec![nb_ret(0, 11, 2, 4096, CplFlags::FULL, 0, 0)]);
    assert_eq!(r.nb_read(&p1, 4096), &stream[..4096]);
    kick(&mut r);
    assert!(r.cpls().is_empty());
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(0, 12, 3, 0, to, 0, 4096)]);
    assert!(r.cpu_read(p2[0], 4096).iter().all(|&b| b == 0));

    // Partly filled: returned with what it holds; later data goes to the next buffer.
    let p3 = post_nb(&mut r, 0, 13, 4, 8192, 2);
    let p4 = post_nb(&mut r, 0, 14, 5, 1000, 0);
    r.run(2_000);
    send(&mut r, 500);
    kick(&mut r);
    assert!(r.cpls().is_empty());
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(0, 13, 4, 500, to, 0, 4096)]);
    assert_eq!(r.nb_read(&p3, 500), &stream[4096..4596]);
    send(&mut r, 1000);
    assert_eq!(
        r.cpls(),
        vec![nb_ret(0, 14, 5, 1000, CplFlags::FULL, 0, 4596)]
    );
    assert_eq!(r.nb_read(&p4, 1000), &stream[4596..5596]);

    // Data waiting without a buffer goes to the buffer posted after a timeout.
    post_nb(&mut r, 0, 15, 6, 4096, 1);
    r.run(2_000);
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(0, 15, 6, 0, to, 0, 5596)]);
    send(&mut r, 300);
    assert!(r.cpls().is_empty());
    let p6 = post_nb(&mut r, 0, 16, 7, 300, 1);
    assert_eq!(
        r.wait_cpls(1),
        vec![nb_ret(0, 16, 7, 300, CplFlags::FULL, 0, 5596)]
    );
    assert_eq!(r.nb_read(&p6, 300), &stream[5596..5896]);

    let ticks = 3 + 6 + 2 + 2 + 1;
    assert_eq!(r.r(reg::CNT_TICKS), ticks);
    assert_eq!(r.r(reg::CNT_TIMEOUTS), 4);
    assert_eq!(r.r(reg::CNT_NB_RETURNED), 7);
    r.delete(0);
    // A tick with no socket on the active list.
    kick(&mut r);
    assert_eq!(r.r(reg::CNT_TICKS), ticks + 1);
    assert!(r.cpls().is_empty());
    r.assert_all_free();
}

/// The sweep walks the active list from its head, where SOCK_ADD inserts: the newest socket's
/// buffer is returned first. UDP sockets are on the list too; SOCK_DEL unlinks.
#[test]
fn timeout_sweep_order_and_udp() {
    let mut r = rig("tsweep", 64);
    ok(&mut r, &sock_add(4, 1, 0));
    ok(&mut r, &udp_sock_add(9, 2, 0));
    ok(&mut r, &sock_add(6, 3, 3));
    for (i, s) in [4u16, 9, 6].into_iter().enumerate() {
        post_nb(&mut r, s, 20 + i as u32, i as u32, 4096, 1);
    }
    r.run(2_000);
    kick(&mut r);
    let to = CplFlags::TIMEOUT;
    assert_eq!(
        r.cpls(),
        vec![
            nb_ret(6, 22, 2, 0, to, 0, 0),
            nb_ret(9, 21, 1, 0, to, 0, 0),
            nb_ret(4, 20, 0, 0, to, 0, 0),
        ]
    );
    // After SOCK_DEL of the middle one, the others still count down.
    r.delete(9);
    post_nb(&mut r, 6, 30, 0, 4096, 2);
    post_nb(&mut r, 4, 31, 1, 4096, 1);
    r.run(2_000);
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(4, 31, 1, 0, to, 0, 0)]);
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(6, 30, 0, 0, to, 0, 0)]);
    assert_eq!(r.r(reg::CNT_TIMEOUTS), 5);
    r.delete(4);
    r.delete(6);
    r.assert_all_free();
}

#[test]
fn timeouts_by_period() {
    let mut r = rig("tperiod", 64);
    ok(&mut r, &sock_add(0, 1, 0));
    post_nb(&mut r, 0, 10, 1, 4096, 5);
    r.run(2_000);
    assert_eq!(r.r(reg::CNT_TICKS), 0);
    r.w(reg::TIMER_PERIOD, 1000);
    assert_eq!(r.r(reg::TIMER_PERIOD), 1000);
    // Ticks 1000, 2000, ... cycles after the write.
    r.run(4_500);
    assert_eq!(r.r(reg::CNT_TICKS), 4);
    assert!(r.cpls().is_empty());
    r.run(1_000);
    assert_eq!(r.r(reg::CNT_TICKS), 5);
    assert_eq!(r.cpls(), vec![nb_ret(0, 10, 1, 0, CplFlags::TIMEOUT, 0, 0)]);
    r.run(10_000);
    let t = r.r(reg::CNT_TICKS);
    assert!((15..=16).contains(&t), "{t}");
    // 0 stops the periodic ticks; kicks still work.
    r.w(reg::TIMER_PERIOD, 0);
    let t = r.r(reg::CNT_TICKS);
    r.run(50_000);
    assert_eq!(r.r(reg::CNT_TICKS), t);
    kick(&mut r);
    assert_eq!(r.r(reg::CNT_TICKS), t + 1);
    // A period of 1: requests merge while a tick is pending or being swept.
    r.w(reg::TIMER_PERIOD, 1);
    r.run(1_000);
    r.w(reg::TIMER_PERIOD, 0);
    let n = r.r(reg::CNT_TICKS) - t - 1;
    assert!(n > 100 && n < 1_000, "{n}");
    assert_eq!(r.r(reg::CNT_TIMEOUTS), 1);
    r.delete(0);
    r.assert_all_free();
}
