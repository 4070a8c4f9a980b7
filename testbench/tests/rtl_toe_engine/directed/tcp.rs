//! Directed TCP tests: the handshake and the SYN-ACK's fields, reordering with overlaps and
//! duplicates, the zero window, FIN and RST in order and ahead, SOCK_DEL (returns, frees, the
//! bucket chain), PSH returns and a reset in SYN_RCVD, full-rate delivery, and delivery chained
//! to its frame.

use super::*;

pub fn handshake_syn_ack_fields_and_windows() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 1);
        let mut a = SockCfg::new(0, &mut rng).buf(5000);
        a.mss = 1460;
        a.wscale = 2;
        a.iss = 0x1000_0000;
        a.vlan = 12;
        // the largest receive buffer accepted: the pool bounds the window
        let mut b = SockCfg::new(1, &mut rng).buf(1 << 30);
        b.wscale = 5;
        b.mss = 536;
        b.iss = 0xFFFF_FFFF;
        add_socks(&mut tb, &[&a, &b]);
        assert_eq!(tb.cpl_log.len(), 2);
        for c in &tb.cpl_log {
            assert_eq!(c.status, Status::Ok);
        }
        // LISTEN: RST and a bare ACK are BAD_STATE
        tb.push(a.frame(1000, 0, RST, Vec::new()));
        tb.push(a.frame(1000, 0, ACK, Vec::new()));
        tb.push(a.frame(1000, 0, SYN | ACK, Vec::new()));
        let mut syn = a.frame(1000, 0, SYN, vec![1, 2, 3]); // payload of a SYN is ignored
        syn.ws = Some(7);
        tb.push(syn.clone());
        tb.push(syn); // retransmitted SYN: the same SYN-ACK again
        tb.push(a.frame(2000, 0, SYN, Vec::new())); // another SYN: BAD_STATE
        tb.push(a.frame(1001, 0x1000_0002, ACK, Vec::new())); // wrong ACK: BAD_STATE
        tb.push(a.frame(1001, 0x1000_0001, PSH, vec![5; 10])); // no ACK flag: BAD_STATE
        tb.push(a.frame(1001, 0x1000_0001, ACK | PSH, stream_of(100, 3)));
        tb.settle(40_000);
        // socket b: SYN without window scale
        tb.push(b.frame(0x7000_0000, 0, SYN, Vec::new()));
        tb.push(b.frame(0x7000_0001, 0, ACK, Vec::new())); // ACK of our SYN: 0xFFFFFFFF + 1 = 0
        tb.settle(40_000);
        let v: Vec<_> = tb.tx_log.iter().map(txv).collect();
        let pool = |free: u64| -> u64 {
            let res = tb.nbuf as u64 / 16;
            (free - res) * tb.bb as u64 / 2
        };
        // b's SYN took one buflet; a's 100-byte segment is still held (no NB)
        let b_win = pool(tb.nbuf as u64 - 2).min(65535) as u16;
        let mss_ws = TxOpts::MSS | TxOpts::WS;
        assert_eq!(
            v,
            vec![
                (0x1000_0000, 1001, 5000, SYN | ACK, mss_ws, 1460, 2),
                (0x1000_0000, 1001, 5000, SYN | ACK, mss_ws, 1460, 2),
                (
                    0x1000_0001,
                    1101,
                    (5000 - 100) >> 2,
                    ACK,
                    TxOpts::empty(),
                    0,
                    0
                ),
                (
                    0xFFFF_FFFF,
                    0x7000_0001,
                    b_win,
                    SYN | ACK,
                    TxOpts::MSS,
                    536,
                    5
                ),
            ],
            "{model}: tx commands"
        );
        // identity fields of a's SYN-ACK
        let t = &tb.tx_log[0];
        assert_eq!(t.dst_mac, a.remote_mac);
        assert_eq!(t.src_mac, a.local_mac);
        assert_eq!(t.vlan, 12);
        assert_eq!(u32::from(t.src_ip), a.local_ip);
        assert_eq!(u32::from(t.dst_ip), a.remote_ip);
        assert_eq!(t.src_port, a.local_port);
        assert_eq!(t.dst_port, a.remote_port);
        assert_eq!(
            tb.got.dropped(DropReason::BadState),
            6,
            "{model}: BAD_STATE drops"
        );
        assert_eq!(tb.got.accepted, 1);
        // clean up: delete both (a holds its segment)
        close(&mut tb, &[0, 1]);
    }
}

pub fn reordering_overlaps_and_duplicates() {
    for model in models() {
        let (mut tb, _, c) = one_socket(model, 2, 3, 8000);
        let isn = 0xFFFF_FE00u32; // sequence numbers wrap inside the stream
        let seq = connect(&mut tb, &[&c], isn);
        let s = stream_of(3000, 4);
        // a segment [a, b) of the stream whose bytes in [pa, pb) are poisoned
        let seg = |a: usize, b: usize, pa: usize, pb: usize, fl: TcpFlags| {
            let mut d = s[a..b].to_vec();
            for k in pa.max(a)..pb.min(b) {
                d[k - a] ^= 0xFF;
            }
            c.frame(seq(a), 0, fl, d)
        };
        let n0 = tb.tx_log.len();
        tb.push(seg(2000, 2500, 0, 0, ACK)); // held
        tb.push(seg(1000, 1500, 0, 0, ACK)); // held before it
        tb.push(seg(1200, 1300, 1200, 1300, ACK)); // inside [1000,1500): DUPLICATE
        tb.push(seg(900, 1100, 1000, 1100, ACK | PSH)); // tail cut at 1000 (PSH cleared)
        tb.push(seg(1400, 1700, 1400, 1500, ACK)); // front cut to [1500,1700)
        tb.push(seg(1700, 2001, 2000, 2001, ACK | FIN)); // 1 byte over [2000,..): cut, FIN cleared
        tb.push(seg(1700, 1800, 1700, 1800, ACK)); // DUPLICATE of [1700,2000)
        tb.push(seg(2500, 2600, 0, 0, ACK)); // adjacent after [2000,2500)
        tb.push(c.frame(seq(3000), 0, FIN | ACK, Vec::new())); // FIN ahead: OUT_OF_ORDER
        tb.push(seg(0, 1000, 900, 1000, ACK)); // in order, cut at 900: drains up to 2600
        tb.push(seg(2400, 3000, 2400, 2600, ACK | FIN)); // left trim to 2600, FIN in order
        tb.settle(60_000);
        let v: Vec<_> = tb.tx_log[n0..].iter().map(txv).collect();
        let acks: Vec<(u32, u16)> = v.iter().map(|t| (t.1, t.2)).collect();
        let dup = (seq(0), 8000);
        assert_eq!(
            acks,
            vec![
                dup,
                dup,
                dup,
                dup,
                dup,
                dup,
                dup,
                dup,
                dup,
                (seq(2600), 8000 - 2600),
                (seq(3000).wrapping_add(1), 8000 - 3001),
            ],
            "{model}: ACK numbers and windows"
        );
        assert!(v.iter().all(|t| t.3 == ACK && t.0 == c.iss.wrapping_add(1)));
        assert_eq!(tb.got.ooo_held, 6, "{model}: held segments");
        assert_eq!(tb.got.dropped(DropReason::Duplicate), 2);
        assert_eq!(tb.got.dropped(DropReason::OutOfOrder), 1);
        assert_eq!(tb.got.accepted, 2);
        // deliver: one 4000-byte NB gets the stream and the FIN
        tb.nb_post(3, 0, 4000, 1, false);
        tb.settle(60_000);
        let last = tb.cpl_log.last().unwrap();
        assert_eq!(last.flags, CplFlags::FIN);
        assert_eq!(last.bytes, 3000);
        let g = tb.osock[3].as_ref().unwrap();
        assert!(
            g.delivered == s,
            "{model}: delivered bytes equal the stream"
        );
        close(&mut tb, &[3]);
    }
}

pub fn zero_window_trim_and_probes() {
    for model in models() {
        let (mut tb, _, c) = one_socket(model, 3, 2, 1000);
        let isn = 5000u32;
        let seq = connect(&mut tb, &[&c], isn);
        let s = stream_of(3000, 5);
        let n0 = tb.tx_log.len();
        tb.push(c.frame(seq(0), 0, ACK, s[..600].to_vec()));
        let mut d = s[600..1100].to_vec();
        for b in &mut d[400..] {
            *b ^= 0x33; // beyond the right edge: cut
        }
        tb.push(c.frame(seq(600), 0, ACK | PSH | FIN, d)); // trimmed to 400, FIN/PSH cleared
        tb.push(c.frame(seq(1000), 0, ACK, s[1000..1100].to_vec())); // zero window: OOW + ACK
        tb.push(c.frame(seq(1000), 0, ACK, Vec::new())); // probe at RCV_NXT: consumed, no ACK
        tb.push(c.frame(seq(1001), 0, ACK, Vec::new())); // not acceptable: OOW + ACK
        tb.push(c.frame(seq(1000), 0, ACK | FIN, Vec::new())); // FIN needs room: OOW + ACK
        tb.settle(40_000);
        let v: Vec<(u32, u16)> = tb.tx_log[n0..]
            .iter()
            .map(|t| (txv(t).1, txv(t).2))
            .collect();
        assert_eq!(
            v,
            vec![
                (seq(600), 400),
                (seq(1000), 0),
                (seq(1000), 0),
                (seq(1000), 0),
                (seq(1000), 0)
            ],
            "{model}: zero-window ACKs"
        );
        assert_eq!(tb.got.dropped(DropReason::OutOfWindow), 3);
        // a 600-byte NB opens the window by 600 (no window update is sent)
        tb.nb_post(2, 1, 600, 1, false);
        tb.settle(40_000);
        assert_eq!(tb.cpl_log.last().unwrap().flags, CplFlags::FULL);
        let n1 = tb.tx_log.len();
        assert_eq!(n1, n0 + 5, "{model}: NB_POST sends no window update");
        tb.push(c.frame(seq(1000), 0, ACK, s[1000..1500].to_vec()));
        tb.settle(40_000);
        assert_eq!(
            (txv(&tb.tx_log[n1]).1, txv(&tb.tx_log[n1]).2),
            (seq(1500), 100),
            "{model}: window after delivery"
        );
        tb.nb_post(2, 2, 2000, 1, false);
        tb.push(c.frame(seq(1500), 0, ACK | FIN, s[1500..1600].to_vec()));
        tb.settle(40_000);
        let last = tb.cpl_log.last().unwrap();
        assert_eq!(
            (last.flags, last.bytes, last.stream_off),
            (CplFlags::FIN, 1000, 600)
        );
        assert!(tb.osock[2].as_ref().unwrap().delivered == s[..1600]);
        close(&mut tb, &[2]);
    }
}

pub fn fin_and_rst_in_order_and_ahead() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 4);
        let x = SockCfg::new(0, &mut rng).buf(8000);
        let y = SockCfg::new(1, &mut rng).buf(8000);
        add_socks(&mut tb, &[&x, &y]);
        let isn = 100u32;
        handshake(&mut tb, &x, isn, Some(0));
        handshake(&mut tb, &y, isn, None);
        let s = stream_of(600, 6);
        let seq = seq_of(isn);
        let n0 = tb.tx_log.len();
        // X: FIN ahead, then data+FIN held, then the gap fills
        tb.push(x.frame(seq(500), 0, FIN | ACK, Vec::new())); // OUT_OF_ORDER + ACK
        tb.push(x.frame(seq(300), 0, FIN | ACK, s[300..500].to_vec())); // held with FIN
        tb.push(x.frame(seq(501), 0, ACK, vec![9; 50])); // held right after the FIN: never drained
        tb.push(x.frame(seq(0), 0, ACK, s[..300].to_vec())); // drains: CLOSE_WAIT at 501
        tb.push(x.frame(seq(501), 0, ACK, vec![1; 30])); // data after FIN: ACK + BAD_STATE
        tb.push(x.frame(seq(501), 0, ACK, Vec::new())); // pure ACK: consumed
        tb.push(x.frame(seq(600), 0, RST, Vec::new())); // RST in window, not exact: challenge
        tb.push(x.frame(seq(501).wrapping_add(9000), 0, RST, Vec::new())); // outside: no ACK
        tb.push(x.frame(seq(501), 0, RST | ACK, Vec::new())); // exact: CLOSED
        tb.push(x.frame(seq(501), 0, ACK, vec![2; 5])); // CLOSED: BAD_STATE, no ACK
        tb.push(x.frame(seq(501), 0, SYN, Vec::new())); // CLOSED: BAD_STATE, no ACK
                                                        // Y: SYN in ESTAB (challenge), then 200 bytes and an RST at RCV_NXT
        tb.push(y.frame(seq(0), 0, SYN | ACK, Vec::new()));
        tb.push(y.frame(seq(0), 0, ACK | PSH, s[..200].to_vec()));
        tb.push(y.frame(seq(200), 0, RST, Vec::new()));
        tb.settle(60_000);
        let v: Vec<(u32, u16, u16)> = tb.tx_log[n0..]
            .iter()
            .map(|t| (txv(t).1, txv(t).2, t.dst_port))
            .collect();
        let (px, py) = (x.remote_port, y.remote_port);
        assert_eq!(
            v,
            vec![
                (seq(0), 8000, px),
                (seq(0), 8000, px),
                (seq(0), 8000, px),
                (seq(501), 8000 - 501, px),
                (seq(501), 8000 - 501, px),
                (seq(501), 8000 - 501, px),
                (seq(0), 8000, py),
                (seq(200), 7800, py),
            ],
            "{model}: ACKs"
        );
        assert_eq!(tb.got.dropped(DropReason::OutOfOrder), 1);
        assert_eq!(tb.got.dropped(DropReason::OutOfWindow), 2);
        assert_eq!(tb.got.dropped(DropReason::BadState), 4);
        // NBs: X returns 500 bytes with FIN, then an empty one with RST; Y 200 bytes with RST
        tb.nb_post(0, 0, 1000, 1, false);
        tb.nb_post(0, 1, 1000, 1, false);
        tb.nb_post(1, 2, 1000, 1, false);
        tb.settle(60_000);
        let mut rets: Vec<(u32, CplFlags, u32, u64)> =
            rets(&tb, 0).iter().map(|r| (r.0, r.1, r.2, r.3)).collect();
        rets.sort_by_key(|r| (r.0, r.1.bits(), r.2, r.3));
        assert_eq!(
            rets,
            vec![
                (0, CplFlags::FIN, 500, 0),
                (1, CplFlags::RST, 0, 500),
                (2, CplFlags::RST, 200, 0)
            ],
            "{model}: returns"
        );
        close(&mut tb, &[0, 1]);
    }
}

pub fn sock_del_returns_nbs_frees_segments_and_unlinks() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 5);
        let hb = 4u32; // HASH_BUCKETS of the toe_engine models
                       // three sockets on the same hash bucket (chain: newest first)
        let mut same: Vec<SockCfg> = Vec::new();
        let mut port = 6000u16;
        let target = bucket(0x0A00_0200, 0x0A00_0001, 7000, 6000, hb);
        while same.len() < 3 {
            if bucket(0x0A00_0200, 0x0A00_0001, 7000, port, hb) == target {
                let mut c = SockCfg::new(same.len() as u16, &mut rng).buf(20000);
                c.remote_ip = 0x0A00_0200;
                c.remote_port = 7000;
                c.local_port = port;
                same.push(c);
            }
            port += 1;
        }
        add_socks(&mut tb, &same.iter().collect::<Vec<_>>());
        let isn = 0xABCD_0000u32;
        let seq = connect(&mut tb, &same.iter().collect::<Vec<_>>(), isn);
        let s = stream_of(2000, 7);
        // socket 1 (middle of the chain): an NB partly filled, another empty, held segments
        tb.nb_post(1, 0, 1000, 1, false);
        tb.push(same[1].frame(seq(0), 0, ACK, s[..300].to_vec()));
        tb.push(same[1].frame(seq(500), 0, ACK, s[500..900].to_vec()));
        tb.push(same[1].frame(seq(1000), 0, ACK, s[1000..1200].to_vec()));
        tb.settle(40_000);
        tb.nb_post(1, 1, 1000, 1, false);
        // socket 0: in-order segments without an NB, and a held one
        tb.push(same[0].frame(seq(0), 0, ACK, s[..100].to_vec()));
        tb.push(same[0].frame(seq(100), 0, ACK, s[100..400].to_vec()));
        tb.push(same[0].frame(seq(700), 0, ACK, s[700..800].to_vec()));
        tb.settle(40_000);
        let c0 = tb.cpl_log.len();
        tb.sock_del(1);
        tb.settle(40_000);
        let k: Vec<(CplKind, u32, CplFlags, u32, u64)> = tb.cpl_log[c0..]
            .iter()
            .map(|c| (c.kind, c.ref_num, c.flags, c.bytes, c.stream_off))
            .collect();
        let nr = CplKind::NbReturn;
        assert_eq!(
            k,
            vec![
                (nr, 0, CplFlags::DELETE, 300, 0),
                (nr, 1, CplFlags::DELETE, 0, 300),
                (CplKind::CmdDone, 0, CplFlags::empty(), 0, 0)
            ],
            "{model}: SOCK_DEL completions"
        );
        // the other sockets of the bucket still match; the deleted one does not
        let n0 = tb.tx_log.len();
        tb.push(same[2].frame(seq(0), 0, ACK, s[..10].to_vec()));
        tb.push(same[0].frame(seq(400), 0, ACK, s[400..410].to_vec()));
        tb.push(same[1].frame(seq(300), 0, ACK, s[300..310].to_vec()));
        tb.settle(40_000);
        assert_eq!(tb.tx_log.len(), n0 + 2);
        assert_eq!(tb.got.dropped(DropReason::NoSocket), 1);
        // delete the head (2) and then the last (0); re-add slot 1 with its tuple
        tb.sock_del(2);
        tb.sock_del(0);
        tb.sock_del(0); // no longer in use: BAD_SOCK
        tb.settle(40_000);
        tb.sock_add(&same[1]);
        tb.settle(10_000);
        let n1 = tb.tx_log.len();
        tb.push(same[1].frame(isn, 0, SYN, Vec::new()));
        tb.push(same[0].frame(isn, 0, SYN, Vec::new())); // gone: NO_SOCKET
        tb.settle(20_000);
        assert_eq!(tb.tx_log.len(), n1 + 1);
        assert_eq!(txv(&tb.tx_log[n1]).3, SYN | ACK);
        assert_eq!(tb.got.dropped(DropReason::NoSocket), 2);
        close(&mut tb, &[1]);
    }
}

pub fn psh_return_and_syn_rcvd_reset() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 6);
        let p = SockCfg::new(0, &mut rng)
            .with_flags(SockFlags::PSH_RETURN)
            .buf(20000);
        let q = SockCfg::new(1, &mut rng).buf(20000);
        add_socks(&mut tb, &[&p, &q]);
        let isn = 1u32;
        handshake(&mut tb, &p, isn, None);
        // q: SYN, RST at RCV_NXT (back to LISTEN), a new SYN with another ISN
        tb.push(q.frame(77, 0, SYN, Vec::new()));
        tb.push(q.frame(78, 0, RST, Vec::new()));
        tb.push(q.frame(78, q.iss.wrapping_add(1), ACK, Vec::new())); // LISTEN: BAD_STATE
        handshake(&mut tb, &q, isn, None);
        let syn_acks: Vec<u32> = tb
            .tx_log
            .iter()
            .filter(|t| txv(t).3 == SYN | ACK && t.dst_port == q.remote_port)
            .map(|t| txv(t).1)
            .collect();
        assert_eq!(syn_acks, vec![78, isn + 1], "{model}: SYN-ACKs of q");
        let s = stream_of(1000, 8);
        let seq = seq_of(isn);
        tb.nb_post(0, 0, 2000, 1, false);
        tb.nb_post(0, 1, 2000, 1, false);
        tb.nb_post(0, 2, 2000, 1, false);
        tb.nb_post(0, 3, 50, 1, false);
        tb.nb_post(1, 4, 2000, 1, false);
        tb.settle(20_000);
        for c in [&p, &q] {
            tb.push(c.frame(seq(0), 0, ACK | PSH, s[..100].to_vec()));
            // held
            tb.push(c.frame(seq(300), 0, ACK | URG, s[300..400].to_vec()));
            // ends exactly where the held segment starts: not cut, PSH kept
            tb.push(c.frame(seq(100), 0, ACK | PSH, s[100..300].to_vec()));
            tb.push(c.frame(seq(400), 0, ACK | PSH, s[400..550].to_vec())); // fills NB 3 (50)
            tb.settle(40_000);
        }
        let rets: Vec<(u32, CplFlags, u32, u64)> =
            rets(&tb, 0).iter().map(|r| (r.0, r.1, r.2, r.3)).collect();
        assert_eq!(
            rets,
            vec![
                (0, CplFlags::PSH, 100, 0),
                (1, CplFlags::PSH, 200, 100),
                (2, CplFlags::PSH, 100, 300), // URG counts as PSH
                (3, CplFlags::FULL, 50, 400)
            ],
            "{model}: PSH returns (q has none)"
        );
        tb.sock_del(0);
        tb.sock_del(1);
        tb.settle(20_000);
        let last = tb.cpl_log.iter().rev().nth(1).unwrap();
        assert_eq!(
            (last.ref_num, last.flags, last.bytes),
            (4, CplFlags::DELETE, 550)
        );
        tb.final_checks(true);
    }
}

/// Full-rate delivery: with no backpressure and no idle cycles a long in-order stream of
/// 1460-byte segments leaves on the DMA write data channel at close to one word per cycle.
pub fn throughput(model: &str, min_ratio: f64) {
    let mut tb = Tb::new(model, 99);
    tb.p_ready = 100;
    tb.p_valid = 100;
    tb.p_tx = 100;
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let c = SockCfg::new(0, &mut rng).buf(1 << 20);
    add_socks(&mut tb, &[&c]);
    let isn = 999u32;
    handshake(&mut tb, &c, isn, None);
    let nseg = 60usize;
    let s = stream_of(nseg * 1460, 9);
    for k in 0..nseg {
        let fl = if k + 1 == nseg { ACK | FIN } else { ACK };
        let seq = isn + 1 + (k * 1460) as u32;
        tb.push(c.frame(seq, 0, fl, s[k * 1460..(k + 1) * 1460].to_vec()));
    }
    tb.wr_beats = 0;
    tb.first_beat = None;
    for refn in 0..2 {
        tb.nb_post(0, refn, 3 * PAGE, 3, false);
    }
    let start = tb.m.cycles();
    while tb.osock[0].as_ref().unwrap().end_flag.is_empty() {
        assert!(tb.m.cycles() - start < 200_000, "timeout");
        if tb.req_q.is_empty() && tb.cur_req.is_none() && tb.nbs_out(0) < 2 {
            let r = tb.free_ref().unwrap();
            tb.nb_post(0, r as u32, 3 * PAGE, 3, false);
        }
        tb.cycle();
    }
    let span = tb.last_beat - tb.first_beat.unwrap() + 1;
    let ratio = tb.wr_beats as f64 / span as f64;
    eprintln!(
        "{model}: {} DMA write words in {span} cycles ({ratio:.3} words/cycle)",
        tb.wr_beats
    );
    assert!(tb.osock[0].as_ref().unwrap().delivered == s);
    assert!(ratio >= min_ratio, "delivery rate {ratio:.3} words/cycle");
    tb.settle(20_000);
    close(&mut tb, &[0]);
}

pub fn toe_engine_w64_throughput() {
    throughput("toe_engine_w64", 0.95);
}

pub fn toe_engine_w512_throughput() {
    throughput("toe_engine_w512", 0.75);
}

/// What `f` did once the engine settled: the growth of the counter `count` reads, and the
/// payload bytes delivered.
fn settled(tb: &mut Tb, count: fn(&Tb) -> u64, f: &dyn Fn(&mut Tb)) -> (u64, u64) {
    let g0 = (count(tb), tb.got.delivered);
    f(tb);
    tb.settle(20_000);
    (count(tb) - g0.0, tb.got.delivered - g0.1)
}

/// Chained delivery (docs/tcp-receive.md): an in-order segment on a socket with a named buffer
/// ends in its own delivery step (ev_dlv_chain) when nothing else waits; a segment that finds no
/// named buffer is not chained (its delivery follows the NB_POST, a request).
pub fn delivery_chained_to_its_frame() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 37);
        let a = SockCfg::new(0, &mut rng).buf(100_000);
        let b = SockCfg::new(1, &mut rng).buf(100_000);
        add_socks(&mut tb, &[&a, &b]);
        let seq = connect(&mut tb, &[&a, &b], 500);
        let s = stream_of(1200, 37);
        // (chained steps, bytes delivered) of what `f` does
        let run = |tb: &mut Tb, f: &dyn Fn(&mut Tb)| settled(tb, |t| t.got.dlv_chained, f);
        // no named buffer: the segment waits; its delivery follows the NB_POST (not chained)
        assert_eq!(
            run(&mut tb, &|tb| tb.push(a.frame(
                seq(0),
                0,
                ACK,
                s[..300].to_vec()
            ))),
            (0, 0),
            "{model}: no NB"
        );
        assert_eq!(
            run(&mut tb, &|tb| tb.nb_post_t(0, 0, 10_000, 3, false, 0)),
            (0, 300),
            "{model}: delivered after the NB_POST"
        );
        // each lone in-order segment: chained, one step each
        for k in 1..3 {
            let (lo, hi) = (300 * k, 300 * (k + 1));
            assert_eq!(
                run(&mut tb, &|tb| tb.push(a.frame(
                    seq(lo),
                    0,
                    ACK,
                    s[lo..hi].to_vec()
                ))),
                (1, 300),
                "{model}: segment {k} chained"
            );
        }
        // another socket's segment is chained the same way, and a's next one after it
        tb.nb_post_t(1, 1, 10_000, 3, false, 0);
        tb.settle(20_000);
        assert_eq!(
            run(&mut tb, &|tb| tb.push(b.frame(
                seq(0),
                0,
                ACK,
                s[..200].to_vec()
            ))),
            (1, 200),
            "{model}: b chained"
        );
        assert_eq!(
            run(&mut tb, &|tb| tb.push(a.frame(
                seq(900),
                0,
                ACK,
                s[900..1200].to_vec()
            ))),
            (1, 300),
            "{model}: a chained after b"
        );
        assert!(tb.osock[0].as_ref().unwrap().delivered == s[..1200]);
        close(&mut tb, &[0, 1]);
    }
}

/// Chained frames (docs/tcp-receive.md): in-order frames of one socket offered back to back,
/// with a named buffer posted, each start in the issue cycle of the delivery step before them
/// (ev_frm_chain): all but the first of a burst. A frame of another socket is never chained to
/// a step (it is not forwarded to the step's socket).
pub fn frames_chained_to_a_delivery() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 38);
        // the records back to back, so that the next one is there in every issue cycle
        tb.p_valid = 100;
        let a = SockCfg::new(0, &mut rng).buf(100_000);
        let b = SockCfg::new(1, &mut rng).buf(100_000);
        add_socks(&mut tb, &[&a, &b]);
        let seq = connect(&mut tb, &[&a, &b], 500);
        tb.nb_post_t(0, 0, 10_000, 3, false, 0);
        tb.nb_post_t(1, 1, 10_000, 3, false, 0);
        tb.settle(20_000);
        let s = stream_of(2400, 38);
        let seg = |k: usize| s[200 * k..200 * (k + 1)].to_vec();
        // (chained frames, bytes delivered) of the frames `f` queues
        let run = |tb: &mut Tb, f: &dyn Fn(&mut Tb)| settled(tb, |t| t.got.frm_chained, f);
        assert_eq!(
            run(&mut tb, &|tb| for k in 0..4 {
                tb.push(a.frame(seq(200 * k), 0, ACK, seg(k)));
            }),
            (3, 800),
            "{model}: a burst of four"
        );
        // a, b, a, b: each frame is the other socket's
        assert_eq!(
            run(&mut tb, &|tb| for k in 4..6 {
                tb.push(a.frame(seq(200 * k), 0, ACK, seg(k)));
                tb.push(b.frame(seq(200 * (k - 4)), 0, ACK, seg(k)));
            }),
            (0, 800),
            "{model}: interleaved"
        );
        assert!(tb.osock[0].as_ref().unwrap().delivered == s[..1200]);
        close(&mut tb, &[0, 1]);
    }
}
