//! Receive path: bring-up, SOCK_ADD + NB_POST + SYN + data + FIN, drop reasons, buflets.

mod common;

use buflet_platform::{Device, DeviceConfig};
use buflet_spec::{drop, param, reg, Cpl, CplFlags, CplKind, DropReason, Opcode, Status};
use common::*;
use etherparse::{EtherType, Ethernet2Header, PacketBuilder};

#[test]
fn bring_up_registers() {
    let mut c = cfg(512);
    c.num_buflets = 100;
    c.num_nbs = 17;
    let mut r = Rig::new("bringup", c.clone(), 8, 8);
    assert_eq!(r.r(reg::ID) as u64, param::ID_MAGIC);
    assert_eq!(r.r(reg::VERSION) as u64, param::VERSION);
    assert_eq!(r.r(reg::DATA_WIDTH), 512);
    assert_eq!(r.r(reg::BUFLET_BYTES), c.buflet_bytes);
    assert_eq!(r.r(reg::NUM_BUFLETS), 100);
    assert_eq!(r.r(reg::NUM_SOCKETS), c.num_sockets);
    assert_eq!(r.r(reg::HASH_BUCKETS), c.hash_buckets);
    assert_eq!(r.r(reg::NUM_NBS), 17);
    assert_eq!(r.r(reg::BLOCK_BYTES), 4096);
    assert_eq!(r.r(reg::PAGE_BYTES), 4096);
    assert_eq!(r.r(reg::CLOCK_MHZ), c.clock_mhz);
    assert_eq!(r.r(reg::STATUS), 3);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 100);
    assert_eq!(r.r(reg::REQ_SIZE), 8);
    assert!(!r.dev.irq());
    assert_eq!(r.dev.backend(), "model");
    r.submit(&req(Opcode::Nop, 0xABCD));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].kind, cs[0].status, cs[0].tag, cs[0].opcode),
        (CplKind::CmdDone, Status::Ok, 0xABCD, Opcode::Nop.code())
    );
    assert_eq!(r.r(reg::REQ_HEAD), 1);
    assert_eq!(r.r(reg::CPL_TAIL), 1);
    assert_eq!(r.r(reg::CNT_CPL_POSTED), 1);
    assert!(r.dev.irq());
    assert_eq!(r.r(reg::IRQ_STATUS), 1);
    r.w(reg::IRQ_STATUS, 1);
    assert!(!r.dev.irq());
    r.w(reg::CTRL, 0);
    assert_eq!(r.r(reg::STATUS), 1);
    assert!(r.dev.cycles() > 0);
    for a in [reg::CNT_TX_FRAMES, reg::CNT_TX_BYTES, reg::CNT_OOO_HELD] {
        assert_eq!(r.r(a), 0);
    }
    r.assert_all_free();
}

/// SOCK_ADD, two NBs, handshake, in-order data (plus a pure ACK and an old duplicate), FIN.
fn stream(width: u32) {
    let mut r = Rig::new(&format!("stream{width}"), cfg(width), 64, 64);
    r.submit(&sock_add(3, 100, 0));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].kind, cs[0].status, cs[0].tag, cs[0].sock_ref),
        (CplKind::CmdDone, Status::Ok, 100, 3)
    );

    // NB 5: 6000 bytes over two pages listed in reverse address order; NB 7: 10000 bytes.
    let pa = r.alloc(4096);
    let pb = r.alloc(4096);
    let hmd0 = r.alloc(16);
    r.cpu_write(hmd0, &[pb.to_le_bytes(), pa.to_le_bytes()].concat());
    let p1: Vec<u64> = (0..3).map(|_| r.alloc(4096)).collect();
    let hmd1 = r.alloc(24);
    r.cpu_write(
        hmd1,
        &p1.iter().flat_map(|p| p.to_le_bytes()).collect::<Vec<u8>>(),
    );
    r.submit(&nb_post(3, 200, 5, 6000, hmd0, 2));
    r.submit(&nb_post(3, 201, 7, 10000, hmd1, 3));

    let data = bytes(width as u64, 7000);
    let isn = 0xFFFF_F000u32; // sequence numbers wrap during the stream
    let mut seq = r.handshake(isn);
    let mut want_acks = vec![];
    for (i, chunk) in data.chunks(1448).enumerate() {
        r.send(Seg::at(seq).payload(chunk.to_vec()));
        let end = seq.wrapping_add(chunk.len() as u32);
        want_acks.push(end);
        if i == 1 {
            r.send(Seg::at(end)); // pure ACK: consumed, not answered
            r.send(Seg::at(seq).payload(chunk.to_vec())); // old duplicate: left of the window, answered with an ACK
            want_acks.push(end);
        }
        seq = end;
    }
    r.send(Seg::at(seq).fin());
    want_acks.push(seq.wrapping_add(1));
    r.settle();
    let t = r.txs();
    let got: Vec<u32> = t.iter().map(|t| t.ack).collect();
    assert_eq!(got, want_acks);
    for (i, t) in t.iter().enumerate() {
        assert!(t.is_ack(want_acks[i]), "{t:?}");
        // The SYN offered window scale: windows are scaled by RCV_WSCALE (7).
        assert!(
            t.window > 0 && (t.window as u32) << WSCALE <= 240 * 1024,
            "{t:?}"
        );
    }
    let cs = r.wait_cpls(2);
    assert_eq!(cs.len(), 2, "{cs:?}");
    assert_eq!(
        cs[0],
        Cpl {
            kind: CplKind::NbReturn,
            status: Status::Ok,
            sock_ref: 3,
            tag: 200,
            ref_num: 5,
            bytes: 6000,
            flags: CplFlags::FULL,
            opcode: Opcode::NbPost.code(),
            hdr_bytes: 0,
            phase: 0,
            stream_off: 0
        }
    );
    assert_eq!(
        cs[1],
        Cpl {
            kind: CplKind::NbReturn,
            status: Status::Ok,
            sock_ref: 3,
            tag: 201,
            ref_num: 7,
            bytes: 1000,
            flags: CplFlags::FIN,
            opcode: Opcode::NbPost.code(),
            hdr_bytes: 0,
            phase: 0,
            stream_off: 6000
        }
    );
    assert_eq!(r.cpu_read(pb, 4096), &data[..4096]);
    assert_eq!(r.cpu_read(pa, 1904), &data[4096..6000]);
    assert_eq!(r.cpu_read(p1[0], 1000), &data[6000..]);
    assert_eq!(r.r(reg::CNT_RX_FRAMES), 10);
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 5); // data segments; the bare FIN is not counted
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), 1);
    assert_eq!(r.r(reg::CNT_DELIVERED_BYTES), 7000);
    assert_eq!(r.r(reg::CNT_NB_RETURNED), 2);
    assert_eq!(r.r(reg::CNT_CPL_POSTED), 3);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 0);
    // The SYN-ACK (MSS and window scale options) and 7 ACKs.
    assert_eq!(r.r(reg::CNT_TX_FRAMES), 1 + 7);
    assert_eq!(r.r(reg::CNT_TX_BYTES), 62 + 7 * 54);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 256);
    let s = r.env.mem.stats();
    // 3 request entries + one page-list read per NB, of up to 8 entries (all of NB 5's 2, all
    // of NB 7's 3).
    assert_eq!(s.nic_read, 3 * 64 + 2 * 8 + 3 * 8);
    assert_eq!(s.nic_written, 7000 + 3 * 32);
    assert_eq!(s.stray_accesses, 0);
    // After FIN the socket is in CLOSE_WAIT: more data is answered and dropped as BAD_STATE.
    r.send(Seg::at(seq.wrapping_add(1)).payload(vec![1; 10]));
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_BAD_STATE), 1);
    let t = r.txs();
    assert_eq!(t.len(), 1);
    assert!(t[0].is_ack(seq.wrapping_add(1)));
    r.finish(3);
}

width_tests!(stream: stream_w64 = 64, stream_w512 = 512);

/// A rig at `c` with rings of `ring` entries and socket `sref` added (tag 1, the test 4-tuple
/// on VLAN `vlan`), in LISTEN.
fn listening(name: &str, c: DeviceConfig, ring: u32, sref: u16, vlan: u16) -> Rig {
    let mut r = Rig::new(name, c, ring, ring);
    r.submit(&sock_add(sref, 1, vlan));
    r.wait_cpls(1);
    r
}

fn established(name: &str, c: DeviceConfig) -> (Rig, u32) {
    let mut r = listening(name, c, 64, 0, 0);
    let seq = r.handshake(99);
    (r, seq)
}

const DROP_CNTS: [(DropReason, u32); 15] = [
    (DropReason::Truncated, reg::CNT_DROP_TRUNCATED),
    (DropReason::NotIpv4, reg::CNT_DROP_NOT_IPV4),
    (DropReason::BadIpHdr, reg::CNT_DROP_BAD_IP_HDR),
    (DropReason::BadIpCsum, reg::CNT_DROP_BAD_IP_CSUM),
    (DropReason::BadL4Hdr, reg::CNT_DROP_BAD_L4_HDR),
    (DropReason::BadL4Csum, reg::CNT_DROP_BAD_L4_CSUM),
    (DropReason::NoSocket, reg::CNT_DROP_NO_SOCKET),
    (DropReason::NoBuflet, reg::CNT_DROP_NO_BUFLET),
    (DropReason::OutOfOrder, reg::CNT_DROP_OUT_OF_ORDER),
    (DropReason::TooLong, reg::CNT_DROP_TOO_LONG),
    (DropReason::OutOfWindow, reg::CNT_DROP_OUT_OF_WINDOW),
    (DropReason::Duplicate, reg::CNT_DROP_DUPLICATE),
    (DropReason::BadState, reg::CNT_DROP_BAD_STATE),
    (DropReason::PoolLow, reg::CNT_DROP_POOL_LOW),
    (DropReason::BadAck, reg::CNT_DROP_BAD_ACK),
];

fn drop_counts(r: &mut Rig) -> Vec<u32> {
    DROP_CNTS.iter().map(|&(_, a)| r.r(a)).collect()
}

#[test]
fn drop_counters_are_at_base_plus_4r() {
    for &(d, a) in DROP_CNTS.iter() {
        assert_eq!(a as u64, drop::COUNTER_BASE + 4 * u64::from(d.code()));
        assert_eq!(d.counter(), Some(a));
    }
}

#[test]
fn each_drop_reason_counts() {
    let (mut r, seq) = established("drops", cfg(64));
    let good = || frame(&Seg::at(seq).payload(vec![0x5A; 300]));
    let mut cases: Vec<(DropReason, Vec<u8>)> = vec![];
    let mut f = good();
    f[14 + 10] ^= 0xFF;
    cases.push((DropReason::BadIpCsum, f));
    let mut f = good();
    f[14 + 20 + 16] ^= 0xFF;
    cases.push((DropReason::BadL4Csum, f));
    let mut f = good();
    f.truncate(f.len() - 5);
    cases.push((DropReason::Truncated, f));
    cases.push((DropReason::Truncated, good()[..10].to_vec()));
    cases.push((DropReason::Truncated, good()[..30].to_vec()));
    let mut arp = vec![];
    Ethernet2Header {
        source: REMOTE_MAC,
        destination: [0xFF; 6],
        ether_type: EtherType::ARP,
    }
    .write(&mut arp)
    .unwrap();
    arp.extend_from_slice(&[0; 28]);
    cases.push((DropReason::NotIpv4, arp));
    cases.push((
        DropReason::BadIpHdr,
        frame(&Seg::at(seq).payload(vec![1; 40]).more_fragments()),
    ));
    let mut f = good();
    f[14 + 20 + 12] = 0x40;
    cases.push((DropReason::BadL4Hdr, f));
    cases.push((
        DropReason::NoSocket,
        frame(&Seg::at(seq).payload(vec![1; 40]).dport(9999)),
    ));
    let mut udp = vec![];
    PacketBuilder::ethernet2(REMOTE_MAC, LOCAL_MAC)
        .ipv4(REMOTE_IP, LOCAL_IP, 64)
        .udp(REMOTE_PORT, LOCAL_PORT)
        .write(&mut udp, &[7; 20])
        .unwrap();
    cases.push((DropReason::NoSocket, udp));
    cases.push((
        DropReason::NoSocket,
        frame(&Seg::at(seq).payload(vec![1; 40]).vlan(Some(3))),
    ));
    // A zero-length FIN ahead of RCV_NXT is not held.
    cases.push((DropReason::OutOfOrder, frame(&Seg::at(seq + 100).fin())));
    cases.push((
        DropReason::TooLong,
        frame(&Seg::at(seq).payload(vec![3; 9217 - 54])),
    ));
    // Far beyond the right edge of the window.
    cases.push((
        DropReason::OutOfWindow,
        frame(&Seg::at(seq + (1 << 24)).payload(vec![1; 40])),
    ));
    // A SYN on an established socket.
    cases.push((
        DropReason::BadState,
        frame(&Seg::at(seq).syn().ack(ISS + 1)),
    ));
    assert_eq!(cases[cases.len() - 3].1.len(), 9217);
    let n = cases.len() as u32;
    for (reason, f) in cases {
        let before = drop_counts(&mut r);
        r.push(f);
        r.settle();
        let after = drop_counts(&mut r);
        for (i, &(d, _)) in DROP_CNTS.iter().enumerate() {
            let want = before[i] + (d == reason) as u32;
            assert_eq!(after[i], want, "reason {reason}: counter of reason {d}");
        }
        // Parser drops and NO_SOCKET are never answered; the TCP drops get an ACK.
        let t = r.txs();
        let answered = [
            DropReason::OutOfOrder,
            DropReason::OutOfWindow,
            DropReason::BadState,
        ]
        .contains(&reason);
        assert_eq!(t.len(), answered as usize, "reason {reason}: {t:?}");
        if answered {
            assert!(t[0].is_ack(seq), "{t:?}");
        }
        assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 256);
    }
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 0);
    // The socket is still at seq: an in-order segment is accepted.
    r.push(good());
    r.settle();
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 1);
    assert_eq!(r.r(reg::CNT_RX_FRAMES), 2 + n + 1);
    assert!(r.txs()[0].is_ack(seq + 300));
    r.finish(0);
}

#[test]
fn listen_without_syn_and_disabled_frames() {
    let mut r = listening("listen", cfg(64), 16, 1, 0);
    r.send(Seg::at(5).payload(vec![1; 10]));
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_BAD_STATE), 1);
    assert!(r.txs().is_empty());
    r.w(reg::CTRL, 0);
    r.send(Seg::at(5).syn());
    r.push(vec![0; 8]);
    r.settle();
    assert_eq!(r.wire.pending(), 0);
    assert_eq!(r.r(reg::CNT_RX_FRAMES), 1);
    assert_eq!(r.r(reg::CNT_DROP_TRUNCATED), 0);
    assert!(r.txs().is_empty());
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 256);
    r.w(reg::CTRL, 1);
    r.finish(1);
}

/// Four buflets: the pool window closes (the promise already made is still honoured), a frame
/// that needs more buflets than are free is dropped NO_BUFLET, and posting a named buffer
/// reopens everything.
#[test]
fn no_buflet_then_recovery() {
    let mut c = cfg(64);
    c.num_buflets = 4; // reserve 4/16 = 0: pool room = free * 1024
    let mut r = listening("nobuflet", c, 64, 0, 0);
    let mut seq = r.handshake_full(99, None, false);
    let data = bytes(7, 6000);
    for chunk in data[..3000].chunks(1000) {
        r.send(Seg::at(seq).payload(chunk.to_vec()));
        seq += 1000;
    }
    r.settle();
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 3);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 1);
    // Each ACK advertises the pool room left when its frame was picked (3, 2, 1 buflets) or,
    // when larger, the window already promised: the first ACK's right edge 1100 + 3072 = 4172
    // never moves left (docs/tcp-receive.md, "The window").
    let t = r.txs();
    let got: Vec<(u32, u16)> = t.iter().map(|t| (t.ack, t.window)).collect();
    assert_eq!(got, vec![(1100, 3072), (2100, 2072), (3100, 1072)]);
    // A frame of two buflets with one free: NO_BUFLET, no ACK.
    let big = frame(&Seg::at(seq).payload(data[3000..].to_vec()));
    r.push(big);
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_BUFLET), 1);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 1);
    assert!(r.txs().is_empty());
    // One buflet, taken by the frame itself: the pool room is 0 and the ACK advertises 0, but
    // the segment lies inside the window already promised (up to 4172), so it is accepted.
    r.send(Seg::at(seq).payload(data[3000..3100].to_vec()));
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), 0);
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 4);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 0);
    let t = r.txs();
    assert_eq!((t.len(), t[0].ack, t[0].window), (1, seq + 100, 0));
    let (hmd, pages) = r.nb_mem(6000);
    r.submit(&nb_post(0, 9, 0, 6000, hmd, 2));
    r.settle();
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 4);
    assert_eq!(r.r(reg::CNT_DELIVERED_BYTES), 3100);
    assert!(r.txs().is_empty(), "no window update on NB_POST");
    // The peer resends from the ACK (a frame of 2 buflets): window 2048 at its pick, so its
    // tail is cut.
    r.send(Seg::at(seq + 100).payload(data[3100..].to_vec()));
    r.settle();
    let t = r.txs();
    assert_eq!((t.len(), t[0].ack), (1, seq + 100 + 2048), "{t:?}");
    assert_eq!(r.r(reg::CNT_DELIVERED_BYTES), 3100 + 2048);
    // The peer resends from the ACK.
    r.send(Seg::at(seq + 100 + 2048).payload(data[3000 + 100 + 2048..].to_vec()));
    r.settle();
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].tag, cs[0].bytes, cs[0].flags),
        (9, 6000, CplFlags::FULL)
    );
    assert_eq!(r.nb_read(&pages, 6000), data);
    // An RST at RCV_NXT ends the stream; the next NB comes back empty with flag RST.
    r.submit(&nb_post(0, 10, 1, 100, hmd, 1));
    r.send(Seg::at(seq + 3000).rst());
    r.settle();
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].tag, cs[0].bytes, cs[0].flags, cs[0].stream_off),
        // An empty return reports where the stream stands: 6000 bytes were delivered.
        (10, 0, CplFlags::RST, 6000)
    );
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 4);
    r.finish(0);
}

#[test]
fn vlan_sockets_and_big_frames() {
    let mut r = listening("vlan", cfg(256), 16, 2, 5);
    r.send(Seg::at(0).syn());
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 1);
    assert!(r.txs().is_empty());
    let seq = r.handshake_vlan(0, Some(5));
    let data = bytes(3, 9000);
    r.send(Seg::at(seq).payload(data.clone()).vlan(Some(5)));
    r.send(Seg::at(seq + 9000).fin().vlan(Some(5)));
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(|t| t.vlan == Some(5)));
    assert!(t[0].is_ack(9001) && t[1].is_ack(9002), "{t:?}");
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 1);
    assert!(r.r(reg::CNT_FREE_BUFLETS) < 256);
    let pages = r.post_nb(2, 77, 3, 12288);
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].tag, cs[0].bytes, cs[0].flags, cs[0].stream_off),
        (77, 9000, CplFlags::FIN, 0)
    );
    assert_eq!(r.nb_read(&pages, 9000), data);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 256);
    r.finish(2);
}

/// A long stream at line rate with NBs recycled as they return: every byte lands in order,
/// the wire paces the frames, and delivery keeps up with a 10 Gbit/s line.
#[test]
fn sustained_stream_at_line_rate() {
    for width in [64u32, 512] {
        // a 10 Gbit/s line at both widths (the 512-bit build defaults to 100 GbE)
        let c = DeviceConfig {
            line_gbps: 10.0,
            ..cfg(width)
        };
        let mut r = listening(&format!("sustained{width}"), c, 64, 0, 0);
        const NBS: usize = 8;
        const NB_BYTES: u32 = 16 * 4096;
        let bufs: Vec<(u64, Vec<u64>)> = (0..NBS).map(|_| r.nb_mem(NB_BYTES)).collect();
        for (i, (hmd, _)) in bufs.iter().enumerate() {
            r.submit(&nb_post(0, i as u32, i as u32, NB_BYTES, *hmd, 16));
        }
        let total = 24 * NB_BYTES as usize;
        let data = bytes(11, total);
        let mut seq = r.handshake(0);
        for chunk in data.chunks(1460) {
            r.push(frame(&Seg::at(seq).payload(chunk.to_vec())));
            seq += chunk.len() as u32;
        }
        let frames = r.wire.pending() as u64;
        let start = r.dev.cycles();
        let mut got = vec![];
        let mut returned = 0;
        while returned < 24 {
            r.run(500);
            for c in r.cpls() {
                assert_eq!(
                    (c.bytes, c.flags, c.stream_off),
                    (NB_BYTES, CplFlags::FULL, returned as u64 * NB_BYTES as u64)
                );
                let (hmd, pages) = &bufs[c.ref_num as usize];
                for p in pages {
                    got.extend(r.cpu_read(*p, 4096));
                }
                returned += 1;
                let hmd = *hmd;
                r.submit(&nb_post(0, returned, c.ref_num, NB_BYTES, hmd, 16));
            }
            assert!(r.dev.cycles() - start < 10_000_000, "stalled at {returned}");
        }
        let elapsed = r.dev.cycles() - start;
        let wire: u64 = data
            .chunks(1460)
            .map(|c| r.dev.config().wire_cycles(c.len() + 54))
            .sum();
        assert!(elapsed >= wire, "faster than the wire: {elapsed} < {wire}");
        assert!(
            elapsed < wire + wire / 10,
            "delivery cannot keep up: {elapsed} vs wire {wire} ({frames} frames)"
        );
        assert_eq!(got, data);
        assert_eq!(r.r(reg::CNT_DROP_NO_BUFLET), 0);
        assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), 0);
        assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 256);
        // Every data segment was acknowledged, in order.
        let t = r.txs();
        assert_eq!(t.len(), data.chunks(1460).count());
        assert_eq!(t.last().unwrap().ack, 1 + total as u32);
        assert!(t.windows(2).all(|w| w[0].ack < w[1].ack));
        r.finish(0);
    }
}

/// A refused page-list read returns the NB with DMA_ERROR; the data goes to the next NB.
#[test]
fn refused_page_list_read() {
    let (mut r, seq) = established("pagelist", cfg(64));
    let data = bytes(5, 500);
    r.push(frame(&Seg::at(seq).payload(data.clone())));
    r.settle();
    let bad_hmd = r.env.mem.alloc(8, 8).unwrap(); // not registered
    r.submit(&nb_post(0, 1, 0, 4096, bad_hmd, 1));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].tag, cs[0].status, cs[0].bytes, cs[0].flags),
        (1, Status::DmaError, 0, CplFlags::empty())
    );
    let page = r.alloc(4096);
    let hmd = r.alloc(8);
    r.cpu_write(hmd, &page.to_le_bytes());
    r.submit(&nb_post(0, 2, 0, 500, hmd, 1));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].tag, cs[0].status, cs[0].bytes, cs[0].flags),
        (2, Status::Ok, 500, CplFlags::FULL)
    );
    assert_eq!(r.cpu_read(page, 500), data);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 1);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 256);
    r.finish(0);
}
