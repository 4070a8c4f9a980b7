//! Directed tests of the receive paths of docs/rx-paths.md other than TCP: UDP datagrams into
//! named buffers, anonymous buffers, and the ARP responder.

use super::*;

/// UDP sockets (junk TCP fields accepted), a TCP socket on the same 4-tuple, datagrams of
/// every shape into their own NBs: exact fit, header only, spanning pages, truncated (with
/// HDR_BYTES = min(8, FILLED)), STREAM_OFF and the delivered count in bytes written, and a
/// delete with a datagram still waiting.
pub fn udp_datagrams_into_named_buffers() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 21);
        let mut u = SockCfg::new(2, &mut rng).into_udp().buf(0); // not validated for UDP
        u.wscale = 200;
        u.mss = 0;
        let mut t = u; // TCP on the same tuple
        t.slot = 4;
        t.proto = IpProto::Tcp.code();
        t.rcv_buf = 5000;
        t.wscale = 0;
        t.mss = 1460;
        let mut bad = SockCfg::new(3, &mut rng);
        bad.proto = 1;
        let tcp_only = SockCfg::new(5, &mut rng).buf(5000);
        add_socks(&mut tb, &[&u, &t, &bad, &tcp_only]);
        let st: Vec<Status> = tb.cpl_log.iter().map(|c| c.status).collect();
        assert_eq!(
            st,
            vec![Status::Ok, Status::Ok, Status::BadSock, Status::Ok],
            "{model}: SOCK_ADDs"
        );
        // TCP on the shared tuple still handshakes; UDP to a TCP-only tuple matches nothing
        handshake(&mut tb, &t, 50, None);
        assert_eq!(txv(tb.tx_log.last().unwrap()).3, SYN | ACK);
        tb.push(tcp_only.datagram(vec![1; 30]));
        tb.settle(20_000);
        assert_eq!(tb.got.dropped(DropReason::NoSocket), 1);
        let sizes = [100usize, 0, 5000, 300, 40, 50, 60];
        for (k, &n) in sizes.iter().enumerate() {
            let mut f = u.datagram(stream_of(n, 100 + k as u64));
            f.pay_off += 4 * (k % 3); // IPv4 options move the UDP header
            tb.push(f);
        }
        tb.settle(40_000);
        assert_eq!(tb.got.accepted, sizes.len() as u64);
        let c0 = tb.cpl_log.len();
        tb.nb_post(2, 0, 108, 1, false); // exact fit
        tb.nb_post(2, 1, 20, 1, false); // header only
        tb.nb_post(2, 2, 3 * PAGE, 3, false); // 5008 bytes across a page boundary
        tb.nb_post(2, 3, 20, 1, false); // truncated to 20
        tb.nb_post(2, 4, 5, 1, false); // truncated inside the header
        tb.nb_post(2, 5, 58, 1, false); // exact fit
        tb.settle(60_000);
        let dg = CplFlags::DATAGRAM;
        let tr = CplFlags::DATAGRAM | CplFlags::TRUNC;
        assert_eq!(
            rets(&tb, c0),
            vec![
                (0, dg, 108, 0, 8),
                (1, dg, 8, 108, 8),
                (2, dg, 5008, 116, 8),
                (3, tr, 20, 5124, 8),
                (4, tr, 5, 5144, 5),
                (5, dg, 58, 5149, 8),
            ],
            "{model}: datagram returns"
        );
        assert_eq!(tb.got.delivered, 5207, "{model}: bytes written");
        // one datagram still waits; an empty NB and the datagram go with the socket
        let c1 = tb.cpl_log.len();
        tb.sock_del(2);
        tb.settle(20_000);
        assert!(rets(&tb, c1).is_empty());
        tb.nb_post(4, 6, 100, 1, false);
        tb.push(u.datagram(vec![5; 10])); // the socket is gone: nothing matches
        tb.settle(20_000);
        assert_eq!(tb.got.dropped(DropReason::NoSocket), 2);
        close(&mut tb, &[4, 5]);
    }
}

/// ANON_POST validation (BAD_NB), FIFO order, TRUNC, frames longer than a page in writes of at
/// most 4096 bytes at ADDR + 4096k, drops under the frame's own reason when no buffer is posted
/// or the frame was stored in part (decision 1), slot reuse, SOCK_REF/FLAGS ignored.
pub fn anonymous_buffers() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 31);
        let na = tb.num_anon as u32;
        let a = tb.host_alloc(4 * PAGE, PAGE);
        tb.anon_post_at(na, 100, a, 0, 0); // out of range
        tb.anon_post_at(1, 63, a, 0, 0); // too small
        tb.anon_post_at(1, 16385, a, 0, 0); // too large
        let a3 = tb.host_alloc(64, 64);
        tb.anon_post_at(3, 64, a3, 9, 0x5A); // SOCK_REF and FLAGS are not checked
        tb.anon_post_at(3, 64, a, 0, 0); // slot busy
        let a15 = tb.host_alloc(16384 + 300, PAGE) + 300; // not page-aligned
        tb.anon_post_at(na - 1, 16384, a15, 0, 0);
        tb.anon_post(0, 300);
        tb.settle(20_000);
        let st: Vec<(CplKind, Status, u8)> = tb
            .cpl_log
            .iter()
            .map(|c| (c.kind, c.status, c.opcode))
            .collect();
        let bad = (CplKind::CmdDone, Status::BadNb, Opcode::AnonPost.code());
        assert_eq!(st, vec![bad; 4], "{model}: only the bad posts complete");
        // a socket whose tuple the first frame misses (wrong port)
        let c = SockCfg::new(0, &mut rng).buf(5000);
        add_socks(&mut tb, &[&c]);
        let mut f1 = c.frame(1, 0, SYN, vec![3; 146]);
        f1.dport ^= 1;
        tb.push(f1); // NO_SOCKET, 200 bytes -> ref 3 (64): TRUNC
        tb.push(raw_frame(DropReason::NotIpv4, 9000, &mut rng)); // ref 15: 3 writes
        tb.push(raw_frame(DropReason::NoSocket, 300, &mut rng)); // another protocol -> ref 0: exact
        tb.push(raw_frame(DropReason::NotIpv4, 100, &mut rng)); // no buffer: NOT_IPV4
        tb.push(raw_frame(DropReason::NoSocket, 100, &mut rng)); // no buffer: NO_SOCKET
        tb.settle(40_000);
        let rx: Vec<(u32, u32, CplFlags)> = tb
            .cpl_log
            .iter()
            .filter(|c| c.kind == CplKind::AnonRx)
            .map(|c| (c.ref_num, c.bytes, c.flags))
            .collect();
        assert_eq!(
            rx,
            vec![
                (3, 64, CplFlags::TRUNC),
                (na - 1, 9000, CplFlags::empty()),
                (0, 300, CplFlags::empty())
            ],
            "{model}: ANON_RX in posting order"
        );
        assert_eq!(tb.got.anon_rx, 3);
        assert_eq!(tb.got.dropped(DropReason::NotIpv4), 1);
        assert_eq!(tb.got.dropped(DropReason::NoSocket), 1);
        // the slot is free again; frames stored in part are never passed up
        tb.anon_post(3, 1000);
        tb.settle(10_000);
        let mut f6 = raw_frame(DropReason::NotIpv4, 2000, &mut rng);
        f6.short_chain = Some(1);
        tb.push(f6);
        let mut f7 = raw_frame(DropReason::NoSocket, 80, &mut rng);
        f7.no_chain = true;
        tb.push(f7);
        tb.push(raw_frame(DropReason::NotIpv4, 500, &mut rng));
        tb.settle(20_000);
        assert_eq!(tb.got.anon_rx, 4);
        assert_eq!(tb.got.dropped(DropReason::NotIpv4), 2);
        assert_eq!(tb.got.dropped(DropReason::NoSocket), 2);
        let last = tb.cpl_log.last().unwrap();
        assert_eq!((last.ref_num, last.bytes), (3, 500));
        assert_eq!(
            tb.got.delivered, 0,
            "{model}: anonymous bytes are not NB deliveries"
        );
        assert_eq!(tb.got.returned, 0);
        close(&mut tb, &[0]);
    }
}

/// ARP requests for NIC_IP are answered (exact tx_cmd, VLAN kept, even when not stored);
/// requests for another address and every request while NIC_IP is 0 take the anonymous path.
pub fn arp_responder() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 41);
        tb.nic_ip = 0x0A00_00FE;
        tb.nic_mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        tb.anon_post(1, 200);
        tb.settle(10_000);
        let sha1 = [0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F];
        let sha2 = [0xF0, 0xE1, 0xD2, 0xC3, 0xB4, 0xA5];
        tb.push(arp_frame(sha1, 0x0A00_0063, tb.nic_ip, 0, &mut rng));
        tb.push(arp_frame(sha2, 0x0A00_0064, tb.nic_ip, 77, &mut rng));
        let mut f = arp_frame(sha1, 0x0A00_0065, tb.nic_ip, 0, &mut rng);
        f.no_chain = true; // not stored: still answered (decision 2)
        tb.push(f);
        tb.push(arp_frame(sha1, 0x0A00_0063, 0x0A00_00FD, 0, &mut rng)); // not ours: anon
        tb.push(arp_frame(sha1, 0x0A00_0063, 0x0A00_00FD, 0, &mut rng)); // no buffer: drop
        tb.settle(20_000);
        let exp = vec![
            arp_tx_cmd(sha1, tb.nic_mac, 0, tb.nic_ip, 0x0A00_0063),
            arp_tx_cmd(sha2, tb.nic_mac, 77, tb.nic_ip, 0x0A00_0064),
            arp_tx_cmd(sha1, tb.nic_mac, 0, tb.nic_ip, 0x0A00_0065),
        ];
        assert!(tb.tx_log == exp, "{model}: ARP reply commands");
        assert_eq!(tb.tx_log[0].kind(), Ok(TxKind::Arp));
        assert_eq!((tb.got.arp, tb.got.anon_rx), (3, 1));
        assert_eq!(tb.got.dropped(DropReason::NotIpv4), 1);
        // the responder off
        let ip = tb.nic_ip;
        tb.nic_ip = 0;
        tb.push(arp_frame(sha1, 0x0A00_0063, 0, 0, &mut rng));
        tb.push(arp_frame(sha1, 0x0A00_0063, ip, 0, &mut rng));
        tb.settle(20_000);
        tb.anon_post(2, 64);
        tb.settle(10_000);
        tb.push(arp_frame(sha2, 0x0A00_0066, ip, 5, &mut rng));
        tb.settle(20_000);
        assert_eq!(tb.tx_log.len(), 3, "{model}: NIC_IP 0 answers nothing");
        assert_eq!((tb.got.arp, tb.got.anon_rx), (3, 2));
        assert_eq!(tb.got.dropped(DropReason::NotIpv4), 3);
        let last = tb.cpl_log.last().unwrap();
        assert_eq!(
            (last.ref_num, last.bytes),
            (2, 46),
            "{model}: a tagged ARP frame in the anonymous buffer"
        );
        tb.final_checks(true);
    }
}
