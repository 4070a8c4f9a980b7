//! Anonymous buffers (docs/rx-paths.md): frames no socket takes delivered into them, ANON_POST
//! validation, and the pool running dry with anonymous buffers and UDP datagrams.

use super::*;

/// An IPv6 UDP datagram from the remote peer: a frame no socket can take.
fn ipv6_udp() -> Vec<u8> {
    let mut v = vec![];
    PacketBuilder::ethernet2(REMOTE_MAC, LOCAL_MAC)
        .ipv6([1; 16], [2; 16], 64)
        .udp(5, 6)
        .write(&mut v, &bytes(4, 30))
        .unwrap();
    v
}

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
    let ipv6 = ipv6_udp();
    let frames = vec![
        // TCP to a port without a socket.
        frame(&Seg::at(1).dport(9999).payload(bytes(1, 200))),
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
    r.finish(1);
}

width_tests!(anonymous_buffers: anonymous_buffers_w64 = 64, anonymous_buffers_w512 = 512);

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
    let ipv6 = ipv6_udp();
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
    assert!(r.wire.recv().is_some() && r.wire.recv().is_none());
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
    r.finish(2);
}
