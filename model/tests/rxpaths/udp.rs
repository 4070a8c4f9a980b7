//! UDP sockets (docs/rx-paths.md): datagrams waiting for named buffers and delivered one per
//! buffer, the UDP parse checks, and a frame matching a socket only when the protocol matches.

use super::*;

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

width_tests!(udp_datagrams: udp_datagrams_w64 = 64, udp_datagrams_w512 = 512);

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
    r.finish(2);
}

/// A frame matches a socket only when the protocol matches too.
#[test]
fn tcp_and_udp_sockets_on_one_tuple() {
    let mut r = rig("tcpudp", 64);
    ok(&mut r, &udp_sock_add(2, 10, 0));
    // A TCP SYN for the UDP socket's 4-tuple matches nothing.
    r.send(Seg::at(5).syn());
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 1);
    assert!(r.txs().is_empty());
    // With a TCP socket on the same tuple, TCP goes to it and UDP to the UDP socket.
    ok(&mut r, &sock_add(1, 11, 0));
    let seq = r.handshake(1000);
    let tcp_data = bytes(1, 700);
    r.send(Seg::at(seq).payload(tcp_data.clone()));
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
    r.finish(1);
}
