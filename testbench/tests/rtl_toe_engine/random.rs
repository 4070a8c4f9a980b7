//! The random test: bad and odd requests first, then six adaptive TCP peers (two lives for some),
//! two UDP peers, anonymous buffers, noise frames, BUF_RELEASEs (some bad), random tick requests
//! and NB timeouts, until every peer is done and every held chain is released; every output is
//! checked by the oracle as it happens, then the counters and the pool at the end, and the
//! coverage points the seeds must hit together. TOE_SEEDS sets the number of seeds.

use crate::peers::*;
use crate::*;

/// One random run of `model` with `seed`; returns its coverage counts.
#[allow(clippy::needless_range_loop)] // peers[i] is borrowed around calls on tb
pub fn run(model: &str, seed: u64) -> HashMap<&'static str, u64> {
    let mut tb = Tb::new(model, seed);
    tb.p_ready = [70, 40, 90, 100][seed as usize % 4];
    tb.p_valid = [70, 90, 40, 100][seed as usize % 4];
    tb.p_tx = [60, 30, 100, 80][seed as usize % 4];
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    tb.nic_ip = if seed.is_multiple_of(5) {
        0
    } else {
        0x0A00_0001
    };
    tb.nic_mac = rng.gen();

    // ------------------------------------------------------------ bad and odd requests
    let mut c = SockCfg::new(7, &mut rng);
    c.proto = 1;
    tb.sock_add(&c); // neither TCP nor UDP
    c.proto = IpProto::Tcp.code();
    c.rcv_buf = 0;
    tb.sock_add(&c); // RCV_BUF 0
    c.rcv_buf = (1 << 30) + 1;
    tb.sock_add(&c); // RCV_BUF too big
    c.rcv_buf = 1000;
    c.wscale = 15;
    tb.sock_add(&c); // window scale > 14
    c.slot = 100;
    c.wscale = 0;
    tb.sock_add(&c); // out of range
    tb.raw_req(Opcode::Nop.code(), 1);
    tb.raw_req(0x63, 1); // unknown opcode
    tb.raw_req(Opcode::SockDel.code(), 6); // not in use
    tb.raw_req(Opcode::SockDel.code(), 300); // out of range
    tb.nb_post(6, 1, 100, 1, false); // socket not in use
                                     // anonymous buffers: out of range, too small, too large, slot busy
    let na = tb.num_anon as u32;
    let a0 = tb.host_alloc(PAGE, PAGE);
    tb.anon_post_at(na, 100, a0, 0, 0);
    tb.anon_post_at(1, 63, a0, 0, 0);
    tb.anon_post_at(1, 16385, a0, 0, 0);
    tb.anon_post(0, 64 + rng.gen_range(0..100));
    tb.anon_post_at(0, 1000, a0, 0, 0);
    tb.settle(50_000);

    // ------------------------------------------------------------ peers
    let nsock = 6usize;
    let mut peers: Vec<Peer> = (0..nsock)
        .map(|i| Peer {
            slot: i as u16,
            cfg: SockCfg::default(),
            isn: 0,
            ws: None,
            stream: Vec::new(),
            end_rst: false,
            poison: false,
            del_at: None,
            lives: if i % 3 == 0 { 2 } else { 1 },
            ph: Ph::Idle,
            junk: 0,
            hs_junk: 0,
            starve_until: 0,
            refused_first: i == 4,
            life: 0,
        })
        .collect();

    let mut udps: Vec<UdpPeer> = (0..2)
        .map(|i| UdpPeer {
            slot: 6 + i,
            cfg: SockCfg::default(),
            ph: Ph::Idle,
            lives: 2,
            left: 0,
        })
        .collect();
    tb.p_tick = [0, 20, 60, 150][seed as usize % 4];

    let start = tb.m.cycles();
    let mut bad_nb_done = false;
    loop {
        let now = tb.m.cycles();
        assert!(
            now - start < 6_000_000,
            "timeout in the random run: peers {:?} udp {:?} anon {} {}",
            peers.iter().map(|p| p.ph).collect::<Vec<_>>(),
            udps.iter().map(|u| (u.ph, u.left)).collect::<Vec<_>>(),
            tb.anon_list.len(),
            tb.why_not_quiet()
        );
        for k in 0..udps.len() {
            udp_peer_step(&mut tb, &mut udps[k], 100 + k, &mut rng);
        }
        // anonymous buffers now and then (a few outstanding)
        if tb.anon_list.len() + tb.anon_pending.len() < 3 && rng.gen_range(0..400) == 0 {
            if let Some(r) = tb.free_anon() {
                let len = if rng.gen_bool(0.3) {
                    rng.gen_range(64..200)
                } else {
                    rng.gen_range(200..=16384)
                };
                tb.anon_post(r, len);
            }
        }
        if tb.p_tick > 0 && rng.gen_range(0..20_000) == 0 {
            tb.tick_now += rng.gen_range(1..4); // a burst: consecutive requests merge
        }
        // the driver releases held chains now and then (sooner when the pool runs low); some
        // requests are bad: COUNT out of range, a head not held, a head twice
        let low = tb.free.len() < tb.nbuf / 3;
        if !tb.held.is_empty()
            && tb.req_q.len() < 3
            && rng.gen_range(0..if low { 40 } else { 400 }) == 0
        {
            let mut h: Vec<u16> = tb.held.iter().copied().collect();
            h.sort_unstable();
            let at = rng.gen_range(0..h.len());
            h.rotate_left(at);
            h.truncate(rng.gen_range(1..=h.len().min(RELEASE_MAX)));
            match rng.gen_range(0..40) {
                0 => tb.buf_release_n([0, 25][rng.gen_range(0..2)], &h),
                1 if h.len() < RELEASE_MAX => {
                    let k = rng.gen_range(0..h.len());
                    h.insert(rng.gen_range(k + 1..=h.len()), h[k]); // a head twice
                    tb.buf_release(&h);
                }
                2 if h.len() < RELEASE_MAX => {
                    let bad = if rng.gen_bool(0.5) {
                        rng.gen_range(tb.nbuf as u16..=NULL16)
                    } else {
                        rng.gen_range(0..tb.nbuf as u16)
                    };
                    h.insert(rng.gen_range(0..=h.len()), bad); // out of range, or not held
                    tb.buf_release(&h);
                }
                _ => tb.buf_release(&h),
            }
        }
        for i in 0..nsock {
            let slot = peers[i].slot;
            match peers[i].ph {
                Ph::Idle => {
                    let bb = tb.bb;
                    peers[i].new_life(&mut rng, bb);
                    peers[i].life += 1;
                    let cfg = peers[i].cfg;
                    tb.sock_add(&cfg);
                    peers[i].ph = Ph::Adding;
                }
                Ph::Adding => {
                    if tb.osock[slot as usize].is_some() {
                        peers[i].ph = Ph::Active;
                        if !bad_nb_done {
                            // bad NB posts against a live socket
                            bad_nb_done = true;
                            tb.nb_post(slot, 50, 100, 1, false); // ref out of range
                            tb.nb_post(slot, 7, 0, 1, false); // empty
                            tb.nb_post(slot, 7, 4097, 1, false); // larger than its pages
                            tb.nb_post(slot, 7, 10, 0, false); // no pages
                        }
                    }
                }
                Ph::Active => {
                    let o = tb.osock[slot as usize].as_ref().expect("active socket");
                    let isn1 = peers[i].isn.wrapping_add(1);
                    let base = o.rcv_nxt.wrapping_sub(isn1) as usize;
                    let st = o.state;
                    let end_flag = o.end_flag;
                    let p = &mut peers[i];
                    if st == SockState::Estab
                        && p.del_at.is_some_and(|d| base >= d)
                        && !pending(&tb, i)
                    {
                        tb.sock_del(slot);
                        p.ph = Ph::Deleting;
                        continue;
                    }
                    if (st == SockState::CloseWait || st == SockState::Closed)
                        && p.junk == 0
                        && !end_flag.is_empty()
                        && !pending(&tb, i)
                    {
                        let o = tb.osock[slot as usize].as_ref().unwrap();
                        assert!(o.delivered == p.stream, "socket {slot} delivered stream");
                        assert_eq!(
                            end_flag,
                            if p.end_rst {
                                CplFlags::RST
                            } else {
                                CplFlags::FIN
                            },
                            "socket {slot} end flag"
                        );
                        tb.sock_del(slot);
                        p.ph = Ph::Deleting;
                        continue;
                    }
                    if end_flag.is_empty() && now >= p.starve_until && tb.req_q.len() < 3 {
                        let out = tb.nbs_out(slot);
                        let pct = if out == 0 {
                            10
                        } else if out == 1 {
                            1
                        } else {
                            0
                        };
                        if rng.gen_range(0..1000) < pct * 10 {
                            let refused = p.refused_first;
                            if tb.post_random_nb(slot, refused) {
                                p.refused_first = false;
                            }
                        }
                    }
                    if rng.gen_range(0..4000) == 0 {
                        p.starve_until = now + rng.gen_range(2000..15000);
                    }
                }
                Ph::Deleting => {
                    if tb.osock[slot as usize].is_none() {
                        if let Some(g) = tb.graveyard.remove(&slot) {
                            let p = &peers[i];
                            assert!(
                                p.stream.starts_with(&g.delivered),
                                "socket {slot}: delivered bytes are a prefix of the stream"
                            );
                            if rng.gen_bool(0.5) {
                                // the socket is gone: NO_SOCKET
                                let f = p.cfg.frame(g.rcv_nxt, 0, ACK, vec![1; 10]);
                                tb.push(f);
                            }
                            peers[i].lives -= 1;
                            peers[i].ph = if peers[i].lives > 0 {
                                Ph::Idle
                            } else {
                                Ph::Done
                            };
                        }
                    }
                }
                Ph::Done => {}
            }
        }
        if tb.frames.len() < 2 {
            let cand: Vec<usize> = (0..nsock)
                .filter(|&i| peers[i].ph == Ph::Active && !pending(&tb, i))
                .collect();
            if !cand.is_empty() {
                let i = cand[rng.gen_range(0..cand.len())];
                if let Some(f) = gen_frame(&tb, &mut peers[i], i, &mut rng) {
                    tb.push(f);
                    if rng.gen_range(0..100) < 6 {
                        let cfgs: Vec<SockCfg> = peers
                            .iter()
                            .map(|p| p.cfg)
                            .chain(udps.iter().map(|u| u.cfg))
                            .collect();
                        let f = noise_frame(&cfgs, tb.nic_ip, tb.bb, &mut rng);
                        tb.push(f);
                    }
                }
            }
        }
        let done = peers.iter().all(|p| p.ph == Ph::Done) && udps.iter().all(|u| u.ph == Ph::Done);
        if done {
            tb.p_tick = 0;
            if tb.quiet() {
                if tb.held.is_empty() {
                    break;
                }
                tb.release_all();
            }
        }
        tb.cycle();
    }
    tb.settle(100_000);
    tb.final_checks(true);
    assert!(tb.graveyard.is_empty());
    eprintln!(
        "{model} seed {seed}: {} cycles, {} bytes delivered, {} tx, {} NB returns, {} held, \
         {} anon, {} ARP, {} ticks ({} requests), {} timeouts",
        tb.m.cycles(),
        tb.got.delivered,
        tb.got.tx,
        tb.got.returned,
        tb.got.ooo_held,
        tb.got.anon_rx,
        tb.got.arp,
        tb.got.ticks,
        tb.tick_reqs,
        tb.got.timeouts
    );
    let mut cov = tb.cov.clone();
    for (r, &n) in tb.exp.drop.iter().enumerate() {
        if n > 0 {
            let k: &'static str = match DropReason::try_from(r as u8) {
                Ok(DropReason::OutOfOrder) => "drop_out_of_order",
                Ok(DropReason::OutOfWindow) => "drop_out_of_window",
                Ok(DropReason::Duplicate) => "drop_duplicate",
                Ok(DropReason::BadState) => "drop_bad_state",
                Ok(DropReason::NoSocket) => "drop_no_socket",
                _ => "drop_parser",
            };
            *cov.entry(k).or_default() += n;
        }
    }
    cov
}

/// Random runs of `model` over `seeds`; their coverage together must hit every point listed.
pub fn random_traffic(model: &str, seeds: std::ops::Range<u64>) {
    let mut cov: HashMap<&'static str, u64> = HashMap::new();
    for seed in seeds {
        for (k, v) in run(model, seed) {
            *cov.entry(k).or_default() += v;
        }
    }
    let mut keys: Vec<_> = cov.iter().collect();
    keys.sort();
    eprintln!("{model} coverage: {keys:?}");
    for k in [
        "syn",
        "syn_retransmit",
        "estab",
        "trim_left",
        "trim_right",
        "pure_ack",
        "inorder_cut",
        "drain",
        "ins_front_cut",
        "ins_tail_cut",
        "ins_middle",
        "dup_front",
        "fin_in_order",
        "fin_ahead",
        "rst_marker",
        "rst_challenge",
        "syn_challenge",
        "close_wait_data",
        "full_return",
        "psh_return",
        "end_return",
        "dma_error_return",
        "delete_nb",
        "delete_segments",
        "ack_window_0",
        "drop_out_of_order",
        "drop_out_of_window",
        "drop_duplicate",
        "drop_bad_state",
        "drop_no_socket",
        "drop_parser",
        "ack_frozen",
        "ack_promised",
        "ack_pool_closed",
        "accept_pool_closed",
        "beyond_win_within_promise",
        "edge_rounded_left",
        "window_update",
        "ack_delayed",
        "delayed_ack",
        "anon_rx",
        "anon_trunc",
        "anon_none_drop",
        "anon_partial_drop",
        "arp_reply",
        "arp_reply_partial",
        "arp_not_ours",
        "udp_rx",
        "udp_return",
        "udp_trunc",
        "udp_multi_chunk",
        "timeout",
        "timeout_empty",
        "hold_record",
        "hold_head",
        "hold_buflet_bound",
        "hold_full_return",
        "hold_fin_held",
        "release_ok",
        "release_stopped",
        "release_bad_count",
        "release_fin_marker",
    ] {
        assert!(
            cov.get(k).copied().unwrap_or(0) > 0,
            "random traffic never hit {k}"
        );
    }
}

/// The random test at 64 bits: 40 seeds (TOE_SEEDS).
pub fn toe_engine_w64_random_traffic() {
    let n = std::env::var("TOE_SEEDS").map_or(40, |v| v.parse().unwrap());
    random_traffic("toe_engine_w64", 0..n);
}

/// The random test at 512 bits: 30 seeds (TOE_SEEDS), from 1000.
pub fn toe_engine_w512_random_traffic() {
    let n = std::env::var("TOE_SEEDS").map_or(30, |v| v.parse().unwrap());
    random_traffic("toe_engine_w512", 1000..1000 + n);
}
