//! The send side (docs/tcp-transmit.md, issue 12, in progress): smoltcp, an independent TCP,
//! connects to the NIC and receives what the host hands the NIC by reference (`TX_POST`), over
//! a clean link and over a lossy one (the NIC's retransmission timer recovers). The bytes
//! smoltcp received must equal the bytes posted (sha256), every post must come back in a
//! `TX_DONE`, and every frame the NIC sent must parse with etherparse with valid checksums.
//!
//! Every test runs on both backends (`model::*`, `rtl::*`).

#[macro_use]
mod tx_common;

use buflet_driver::CplKind;
use buflet_platform::Agent;
use buflet_spec::reg;
use buflet_testbench::frames::{
    self, CLIENT_IP, CLIENT_MAC, CLIENT_PORT, SERVER_IP, SERVER_MAC, SERVER_PORT,
};
use buflet_testbench::peer::link::{eth_strip, eth_wrap, Dir, Impair, PeerPhy};
use buflet_testbench::{sha256_hex, Backend, Bench};
use etherparse::{SlicedPacket, TransportSlice};
use smoltcp::iface::{Config, Interface, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address};

const PAGE: u64 = 4096;

/// Every frame the NIC sends is a well-formed IPv4/TCP frame with valid checksums.
fn check_frame(f: &[u8]) -> usize {
    let p = SlicedPacket::from_ethernet(f).expect("the NIC's frame parses");
    let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
        panic!("not IPv4")
    };
    let h = ip.header().to_header();
    assert_eq!(h.header_checksum, h.calc_header_checksum(), "IPv4 checksum");
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        panic!("not TCP")
    };
    let want = t.to_header().calc_checksum_ipv4(&h, t.payload()).unwrap();
    assert_eq!(t.checksum(), want, "TCP checksum");
    t.payload().len()
}

/// Variations of a transfer: `pause` = (first, last) loop iterations in which smoltcp does
/// not read (its receive buffer is then 16 KiB); `close`: SOCK_CLOSE once every post is done;
/// `vanish`: from this iteration on the link drops everything, both ways.
#[derive(Default)]
struct Extra {
    pause: Option<(usize, usize)>,
    close: bool,
    vanish: Option<usize>,
    /// Seed 002: the application sends from its own buffers, reusing one (`Some(false)`,
    /// naive) or choosing one the copy-on-write table does not mark (`Some(true)`, aware).
    cow: Option<bool>,
    /// The NIC opens the connection (SOCK_ADD with CONNECT) to a listening smoltcp.
    connect: bool,
    /// Datapath width in bits (0: the default, 64).
    width: u32,
}

/// What a transfer measured: the data posted, what smoltcp received, and the NIC's
/// retransmissions, timeouts and fast retransmits.
struct Sent {
    data: Vec<u8>,
    got: Vec<u8>,
    retrans: u32,
    rtos: u32,
    fast: u32,
    /// Copy-on-write faults the host memory took, and the table's peak size.
    cow_faults: u64,
    cow_peak: usize,
}

/// The frame is a TCP segment with RST set.
fn is_rst(f: &[u8]) -> bool {
    matches!(
        SlicedPacket::from_ethernet(f).map(|p| p.transport),
        Ok(Some(TransportSlice::Tcp(t))) if t.rst()
    )
}

/// Send `bytes` from the NIC to smoltcp in `posts` posts over a link impaired as `imp` in each
/// direction.
fn send(b: Backend, bytes: usize, posts: usize, imp: Impair, seed: u64) -> Sent {
    transfer(b, bytes, posts, imp, seed, Extra::default())
}

/// [`send`] over a clean link to a receiver with a 16 KiB buffer that stops reading for a
/// while: its window closes and the NIC must probe it. Checks that probes were sent.
fn send_paused(b: Backend, bytes: usize, seed: u64) -> Sent {
    transfer(
        b,
        bytes,
        2,
        Impair::default(),
        seed,
        Extra {
            pause: Some((20, 3000)),
            ..Extra::default()
        },
    )
}

/// The transfer behind [`send`] and [`send_paused`]: `pause` = (first, last) loop iterations
/// in which smoltcp does not read (its receive buffer is then 16 KiB). With `close`, the host
/// closes the NIC's side once every post is done (SOCK_CLOSE), smoltcp closes its side when it
/// sees the FIN, and both must end closed, the SOCK_CLOSE completed.
fn transfer(b: Backend, bytes: usize, posts: usize, imp: Impair, seed: u64, x: Extra) -> Sent {
    let Extra {
        pause,
        close,
        vanish,
        cow,
        connect,
        width,
    } = x;
    let (mut bufs, mut sent_chunks): (Vec<u64>, usize) = (Vec::new(), 0);
    let loss = imp.loss;
    let mut bench = Bench::builder(b)
        .width(if width == 0 { 64 } else { width })
        .mem(64 << 20)
        .blank_disk(1 << 20)
        .name("tx")
        .build()
        .unwrap();
    let Bench { drv, wire, .. } = &mut bench;
    // A fast retransmission timer for the test: a tick every 2500 cycles (10 us), RTO 2..64
    // ticks.
    drv.set_timer_period(2500);
    drv.wr(reg::RTO_INIT, 20);
    drv.wr(reg::RTO_MIN, 2);
    drv.wr(reg::RTO_MAX, 64);
    let spec = frames::demo_socket(0x1234_5678, 1460);
    // Passive (smoltcp connects) or active open (the NIC connects to a listening smoltcp).
    let (sock, connect_tag) = if connect {
        let (s, t) = drv.connect_socket(&spec).unwrap();
        (s, Some(t))
    } else {
        (drv.add_socket(&spec).unwrap().0, None)
    };
    let mut connected = !connect;
    let data = frames::payload(seed, bytes);

    let mut phy = PeerPhy::new(1500);
    // smoltcp's clock: device time, plus the idle time skipped to its next timer (its RTO is
    // at least a second, far beyond what the device needs to simulate).
    let mut skip_us = 0i64;
    let clock = |c: u64, skip: i64| Instant::from_micros((c / 250) as i64 + skip);
    let mut cfg = Config::new(HardwareAddress::Ip);
    cfg.random_seed = seed;
    let mut iface = Interface::new(cfg, &mut phy, clock(drv.cycles(), 0));
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(
            IpAddress::Ipv4(Ipv4Address::from(CLIENT_IP)),
            24,
        ));
    });
    let mut storage = [SocketStorage::EMPTY];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let rx_buf = if pause.is_some() { 16 << 10 } else { 256 << 10 };
    let h = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; rx_buf]),
        tcp::SocketBuffer::new(vec![0u8; 4096]),
    ));
    if connect {
        sockets
            .get_mut::<tcp::Socket>(h)
            .listen(CLIENT_PORT)
            .unwrap();
    } else {
        sockets
            .get_mut::<tcp::Socket>(h)
            .connect(
                iface.context(),
                (IpAddress::Ipv4(Ipv4Address::from(SERVER_IP)), SERVER_PORT),
                CLIENT_PORT,
            )
            .unwrap();
    }
    let mut to_peer = Dir::new(seed ^ 0x51, imp);
    let mut to_nic = Dir::new(seed ^ 0x52, imp);
    let (mut got, mut done_posts, mut done_bytes) = (Vec::new(), 0u32, 0u64);
    let mut posted = false;
    let (mut close_tag, mut close_done, mut peer_closed) = (None, false, false);
    let (mut timed_out, mut last_rst) = (None, false);
    let mut payload_seen = 0usize;
    for step in 0..200_000 {
        let now = clock(drv.cycles(), skip_us);
        iface.poll(now, &mut phy, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(h);
        let paused = pause.is_some_and(|(a, b)| (a..b).contains(&step));
        if s.may_recv() && !paused {
            let mut buf = [0u8; 8192];
            while let Ok(n) = s.recv_slice(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
        }
        if let (Some(aware), true) = (cow, s.state() == tcp::State::Established) {
            // Seed 002: the application sends the data in `posts` chunks from its own buffers
            // (tx_send), one chunk every few steps. The naive one writes each chunk into the
            // same buffer, over pages the NIC may still own; the aware one asks the table and
            // takes a buffer that is not marked.
            let per = bytes.div_ceil(posts);
            let k = sent_chunks;
            if k < posts && step % 3 == 0 {
                let part = &data[k * per..((k + 1) * per).min(bytes)];
                let len = per.div_ceil(PAGE as usize) as u64 * PAGE;
                let buf = if aware {
                    match bufs.iter().find(|&&b| !drv.is_marked(b, len)) {
                        Some(&b) => b,
                        None => {
                            let b = drv.env.mem.alloc(len, PAGE).unwrap();
                            bufs.push(b);
                            b
                        }
                    }
                } else {
                    if bufs.is_empty() {
                        bufs.push(drv.env.mem.alloc(len, PAGE).unwrap());
                    }
                    bufs[0]
                };
                drv.env.mem.write(Agent::Cpu, buf, part).unwrap();
                drv.tx_send(sock, buf, part.len() as u32, k + 1 == posts)
                    .unwrap();
                sent_chunks += 1;
            }
            posted = true;
        }
        // An active open posts at once: the posts wait in the NIC for the handshake.
        if !posted && (s.state() == tcp::State::Established || connect) {
            // The data in whole pages, posted in `posts` parts (the last with PSH).
            let per = bytes.div_ceil(posts);
            for (k, part) in data.chunks(per).enumerate() {
                let npages = (part.len() as u64).div_ceil(PAGE).max(1);
                let base = drv.env.mem.alloc(npages * PAGE, PAGE).unwrap();
                drv.env.mem.write(Agent::Cpu, base, part).unwrap();
                let pages: Vec<u64> = (0..npages).map(|i| base + i * PAGE).collect();
                let list = drv.env.mem.alloc(8 * npages, 64).unwrap();
                drv.tx_post(sock, list, &pages, 0, part.len() as u32, k + 1 == posts)
                    .unwrap();
            }
            posted = true;
        }
        let s = sockets.get_mut::<tcp::Socket>(h);
        if close && close_tag.is_some() && !peer_closed && s.state() == tcp::State::CloseWait {
            s.close();
            peer_closed = true;
        }
        iface.poll(now, &mut phy, &mut sockets);
        let gone = vanish.is_some_and(|v| step >= v);
        for ip in phy.tx.drain(..) {
            if !gone {
                to_nic.offer(eth_wrap(CLIENT_MAC, SERVER_MAC, &ip));
            }
        }
        for f in to_nic.take() {
            wire.send(f);
        }
        for c in drv.wait(1024).unwrap() {
            if c.kind == CplKind::TxDone && vanish.is_some() && c.status != buflet_spec::Status::Ok
            {
                assert_eq!(c.status, buflet_spec::Status::Timeout, "{c:?}");
                timed_out = Some(c);
            } else if c.kind == CplKind::TxDone {
                assert_eq!(c.status, buflet_spec::Status::Ok, "{c:?}");
                done_posts += c.ref_num;
                done_bytes += u64::from(c.bytes);
            }
            assert!(
                !(c.kind == CplKind::CmdDone && c.opcode == buflet_spec::Opcode::TxPost.code()),
                "a post was refused: {c:?}"
            );
            if c.kind == CplKind::CmdDone && c.opcode == buflet_spec::Opcode::SockAdd.code() {
                assert_eq!(
                    (Some(c.tag), c.status),
                    (connect_tag, buflet_spec::Status::Ok)
                );
                connected = true;
            }
            if c.kind == CplKind::CmdDone && c.opcode == buflet_spec::Opcode::SockClose.code() {
                assert_eq!(
                    (Some(c.tag), c.status),
                    (close_tag, buflet_spec::Status::Ok)
                );
                close_done = true;
            }
        }
        let mut quiet = phy.tx.is_empty() && wire.pending() == 0;
        while let Some(f) = wire.recv() {
            payload_seen += check_frame(&f);
            last_rst = is_rst(&f);
            if !gone {
                to_peer.offer(f);
            }
            quiet = false;
        }
        if timed_out.is_some() {
            break;
        }
        for f in to_peer.take() {
            phy.rx.push_back(eth_strip(&f).expect("IPv4"));
        }
        if close && close_tag.is_none() && done_posts as usize == posts {
            close_tag = Some(drv.sock_close(sock).unwrap());
        }
        let peer_state = sockets.get::<tcp::Socket>(h).state();
        let closed = matches!(peer_state, tcp::State::Closed | tcp::State::TimeWait);
        if got.len() == bytes && done_posts as usize == posts && (!close || (close_done && closed))
        {
            break;
        }
        // Frames held back with nothing behind them arrive late, not never; with nothing at
        // all moving, smoltcp's clock jumps to its next timer.
        if quiet {
            if to_nic.in_flight() + to_peer.in_flight() > 0 {
                to_nic.flush();
                to_peer.flush();
            } else if let Some(d) = iface.poll_delay(now, &sockets) {
                skip_us += d.total_micros() as i64;
            }
        }
    }
    if vanish.is_some() {
        let c = timed_out.expect("the posts never came back with TIMEOUT");
        assert_eq!(done_posts + c.ref_num, posts as u32, "every post came back");
        assert!(last_rst, "the NIC's last frame is not an RST");
        assert!(drv.counter(reg::CNT_TX_RTO) > 1);
        return Sent {
            data,
            got,
            retrans: drv.counter(reg::CNT_TX_RETRANS),
            rtos: drv.counter(reg::CNT_TX_RTO),
            fast: 0,
            cow_faults: 0,
            cow_peak: 0,
        };
    }
    assert!(connected, "the active open never completed");
    assert_eq!(
        done_bytes,
        bytes as u64,
        "TX_DONE bytes; posted {posted}, received {}, peer {}, {:?}",
        got.len(),
        sockets.get::<tcp::Socket>(h).state(),
        drv.counters()
    );
    if close {
        let st = sockets.get::<tcp::Socket>(h).state();
        assert!(close_done, "SOCK_CLOSE never completed (peer {st})");
        assert!(
            matches!(st, tcp::State::Closed | tcp::State::TimeWait),
            "seed {seed} loss {loss}: peer {st}, {:?}",
            drv.counters()
        );
    }
    assert!(payload_seen >= bytes, "payload on the wire {payload_seen}");
    let c = drv.counters();
    let retrans = drv.counter(reg::CNT_TX_RETRANS);
    let rtos = drv.counter(reg::CNT_TX_RTO);
    let fast = drv.counter(reg::CNT_TX_FAST_RETRANS);
    if pause.is_some() {
        assert!(
            drv.counter(reg::CNT_TX_PROBES) > 0,
            "no zero-window probe: {c:?}"
        );
    }
    assert_eq!(drv.counter(reg::CNT_TX_DONE), posts as u32, "{c:?}");
    eprintln!(
        "{bytes} bytes, loss {loss}: {} segments, {retrans} retransmitted, {rtos} timeouts, {} fast retransmits, {} cycles",
        drv.counter(reg::CNT_TX_SEGS),
        drv.counter(reg::CNT_TX_FAST_RETRANS),
        drv.cycles()
    );
    Sent {
        data,
        got,
        retrans,
        rtos,
        fast,
        cow_faults: drv.env.mem.stats().cow_faults,
        cow_peak: drv.cow_table_len().1,
    }
}

fn smoltcp_receives_what_was_posted(b: Backend) {
    let r = send(b, 300_000, 5, Impair::default(), 1);
    assert_eq!(r.got.len(), r.data.len());
    assert_eq!(sha256_hex(&r.got), sha256_hex(&r.data));
    assert_eq!(r.retrans, 0, "a clean link needs no retransmission");
}

/// The same at 512 bits (the payload realigned behind a 54-byte header inside one bus word),
/// over a lossy link so retransmissions read the posts again.
fn at_512_bits(b: Backend) {
    let imp = Impair {
        loss: 0.02,
        reorder: 0.05,
        ..Impair::default()
    };
    let x = Extra {
        width: 512,
        ..Extra::default()
    };
    let r = transfer(b, 300_001, 7, imp, 3, x);
    assert_eq!(sha256_hex(&r.got), sha256_hex(&r.data));
}

/// Loss, reordering and duplication in both directions (the issue's `--loss 0.02 --reorder
/// 0.05 --dup 0.01`): fast retransmits and the retransmission timer both recover.
fn losses_are_recovered_by_fast_retransmit_and_the_timer(b: Backend) {
    let imp = Impair {
        loss: 0.02,
        reorder: 0.05,
        dup: 0.01,
        ..Impair::default()
    };
    let (mut fast, mut rtos) = (0, 0);
    for seed in [7, 8, 9] {
        let r = send(b, 1 << 20, 4, imp, seed);
        assert_eq!(sha256_hex(&r.got), sha256_hex(&r.data), "seed {seed}");
        assert!(r.retrans > 0, "seed {seed}");
        fast += r.fast;
        rtos += r.rtos;
    }
    assert!(
        fast > 0 && rtos > 0,
        "fast retransmits {fast}, timeouts {rtos}"
    );
}

/// A receiver that stops reading closes its window: the NIC probes it (persist timer) until it
/// reads again, and nothing is lost or sent twice into the stream.
fn a_closed_window_is_probed_until_it_opens(b: Backend) {
    let r = send_paused(b, 200_000, 11);
    assert_eq!(sha256_hex(&r.got), sha256_hex(&r.data));
}

/// SOCK_CLOSE: the NIC's FIN follows the posted data, the peer closes in turn, and the close
/// completes when the FIN is acknowledged; over a lossy link, so FINs are lost and sent again.
fn close_sends_fin_after_the_data(b: Backend) {
    for (seed, loss) in [(21, 0.0), (22, 0.05), (23, 0.05)] {
        let imp = Impair {
            loss,
            ..Impair::default()
        };
        let r = transfer(
            b,
            100_000,
            2,
            imp,
            seed,
            Extra {
                close: true,
                ..Extra::default()
            },
        );
        assert_eq!(sha256_hex(&r.got), sha256_hex(&r.data), "seed {seed}");
    }
}

/// A peer that vanishes mid-transfer: after TX_RETRIES retransmission timeouts the NIC resets
/// the connection (its last frame is an RST) and every post comes back, the unacknowledged
/// ones with TIMEOUT.
fn a_vanished_peer_times_out_and_every_post_comes_back(b: Backend) {
    let r = transfer(
        b,
        400_000,
        4,
        Impair::default(),
        31,
        Extra {
            vanish: Some(40),
            ..Extra::default()
        },
    );
    assert!(
        r.got.len() < r.data.len(),
        "the peer vanished before the end"
    );
    assert!(r.rtos >= 15, "{} timeouts", r.rtos);
}

/// Seed 002 on both sides of its claim: an application that reuses its buffer right after
/// handing it to the NIC takes copy-on-write faults, and the peer still receives exactly what
/// was sent; one that asks the table and picks an unmarked buffer takes none. The table is
/// empty once every post is done.
fn the_copy_on_write_table_keeps_sent_bytes_and_the_aware_sender_takes_no_fault(b: Backend) {
    for aware in [false, true] {
        let r = transfer(
            b,
            24 * 16 * 4096,
            24,
            Impair::default(),
            41,
            Extra {
                cow: Some(aware),
                ..Extra::default()
            },
        );
        assert_eq!(sha256_hex(&r.got), sha256_hex(&r.data), "aware {aware}");
        assert!(r.cow_peak > 0, "aware {aware}: nothing was ever marked");
        eprintln!(
            "aware {aware}: {} copy-on-write faults, table peak {} pages",
            r.cow_faults, r.cow_peak
        );
        if aware {
            assert_eq!(
                r.cow_faults, 0,
                "the aware sender took copy-on-write faults"
            );
        } else {
            assert!(
                r.cow_faults > 0,
                "the naive sender reused its buffer without a fault"
            );
        }
    }
}

/// Active open: the NIC connects to a listening smoltcp (its SYN resent when lost), the data
/// posted before the handshake ends goes out after it, and the SOCK_ADD completes OK.
fn the_nic_connects_to_a_listening_peer(b: Backend) {
    for (seed, loss) in [(51, 0.0), (52, 0.1)] {
        let imp = Impair {
            loss,
            ..Impair::default()
        };
        let r = transfer(
            b,
            150_000,
            3,
            imp,
            seed,
            Extra {
                connect: true,
                ..Extra::default()
            },
        );
        assert_eq!(sha256_hex(&r.got), sha256_hex(&r.data), "seed {seed}");
    }
}

on_both!(
    smoltcp_receives_what_was_posted,
    at_512_bits,
    losses_are_recovered_by_fast_retransmit_and_the_timer,
    a_closed_window_is_probed_until_it_opens,
    close_sends_fin_after_the_data,
    a_vanished_peer_times_out_and_every_post_comes_back,
    the_copy_on_write_table_keeps_sent_bytes_and_the_aware_sender_takes_no_fault,
    the_nic_connects_to_a_listening_peer,
);
