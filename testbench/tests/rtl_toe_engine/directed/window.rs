//! Directed tests of the window rule: duplicate ACKs repeat the window exactly during a loss
//! episode, a closed pool still takes what was promised, and the SYN-ACK sets the first edge.

use super::*;

/// (ACK, WINDOW) of the tx commands from `from` on.
pub fn acks(tb: &Tb, from: usize) -> Vec<(u32, u16)> {
    tb.tx_log[from..]
        .iter()
        .map(|t| (txv(t).1, txv(t).2))
        .collect()
}

/// Buflets the pool holds back from the window (NUM_BUFLETS / POOL_RESERVE_DIV).
pub fn reserve(tb: &Tb) -> usize {
    tb.nbuf / spec::param::POOL_RESERVE_DIV as usize
}

/// Sends 1-byte in-order segments on `c` (one buflet each, never delivered: no NB) until the
/// pool's free count is `target`; `next` is the stream offset of the next byte, advanced.
pub fn fill_pool(tb: &mut Tb, c: &SockCfg, isn: u32, next: &mut usize, target: usize) {
    while tb.free.len() > target {
        let seq = isn.wrapping_add(1).wrapping_add(*next as u32);
        tb.push(c.frame(seq, 0, ACK, vec![*next as u8]));
        *next += 1;
        tb.settle(20_000);
    }
    assert_eq!(tb.free.len(), target);
}

/// During a loss episode the peer's duplicate ACKs must repeat the window exactly (RFC 5681):
/// while every held segment takes buflets (so `win` shrinks: the old rule advertised less on
/// each), and while the driver frees buflets of another socket (so `win` grows past the
/// promise: the edge stays frozen); once the gap fills, the edge has not moved left.
pub fn window_duplicate_acks_repeat_the_window() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 11);
        let mut c = SockCfg::new(0, &mut rng).buf(1 << 30); // the pool bounds the window
        c.wscale = 2;
        let b = SockCfg::new(1, &mut rng).buf(1 << 30);
        add_socks(&mut tb, &[&c, &b]);
        let isn = 7000u32;
        handshake(&mut tb, &b, isn, None);
        // b's undelivered bytes hold most of the pool: c's first promise is small
        let mut b_bytes = 0usize;
        let res = reserve(&tb);
        fill_pool(&mut tb, &b, isn, &mut b_bytes, res + 30);
        handshake(&mut tb, &c, isn, Some(3));
        let s = stream_of(6000, 11);
        let seq = seq_of(isn);
        let n0 = tb.tx_log.len();
        tb.push(c.frame(seq(0), 0, ACK, s[..300].to_vec()));
        tb.settle(20_000);
        let (a0, w0) = acks(&tb, n0)[0];
        assert_eq!(a0, seq(300));
        let edge0 = a0.wrapping_add((w0 as u32) << 2);
        // [300, 600) is lost; the segments behind the gap are held
        let seg = |k: usize| {
            c.frame(
                seq(600 + 400 * k),
                0,
                ACK,
                s[600 + 400 * k..1000 + 400 * k].to_vec(),
            )
        };
        let free0 = tb.free.len();
        let n1 = tb.tx_log.len();
        for k in 0..5 {
            tb.push(seg(k));
        }
        tb.settle(40_000);
        assert!(
            tb.free.len() + 5 <= free0,
            "{model}: the held segments took buflets"
        );
        // b's bytes are delivered: the pool room grows past what c was promised
        tb.nb_post(1, 0, b_bytes, 1, false);
        tb.settle(40_000);
        let room = tb.pool_room(tb.free.len() - 2) >> 2;
        assert!(
            room > w0 as u64 + 64,
            "{model}: the pool grew ({room} vs {w0})"
        );
        for k in 5..10 {
            tb.push(seg(k));
        }
        tb.settle(40_000);
        let dup = acks(&tb, n1);
        assert_eq!(dup.len(), 10);
        assert!(
            dup.iter().all(|&x| x == (seq(300), w0)),
            "{model}: duplicate ACKs repeat ACK and WINDOW exactly: {dup:?} (first ACK {w0})"
        );
        assert_eq!(tb.got.ooo_held, 10);
        // the gap fills: everything drains, the edge has not moved left
        let n2 = tb.tx_log.len();
        tb.push(c.frame(seq(300), 0, ACK, s[300..600].to_vec()));
        tb.settle(40_000);
        let (a1, w1) = acks(&tb, n2)[0];
        assert_eq!(a1, seq(4600), "{model}: cumulative ACK after the drain");
        let edge1 = a1.wrapping_add((w1 as u32) << 2);
        assert!(
            edge1.wrapping_sub(edge0) as i32 > -4,
            "{model}: edge {edge1:#x} left of {edge0:#x}"
        );
        tb.nb_post(0, 1, 3 * PAGE, 3, false);
        tb.nb_post(0, 2, 3 * PAGE, 3, false);
        tb.settle(60_000);
        assert!(tb.osock[0].as_ref().unwrap().delivered == s[..4600]);
        close(&mut tb, &[0, 1]);
    }
}

/// A closed pool advertises 0 but still takes what was promised: a segment inside the promised
/// edge is accepted (the old rule dropped it OUT_OF_WINDOW), one crossing it is trimmed at the
/// edge, and only then is the window 0.
pub fn window_promise_is_honoured_after_the_pool_closes() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 12);
        let a = SockCfg::new(0, &mut rng).buf(600);
        let b = SockCfg::new(1, &mut rng).buf(1 << 30);
        add_socks(&mut tb, &[&a, &b]);
        let isn = 100u32;
        let seq = connect(&mut tb, &[&a, &b], isn);
        let s = stream_of(1000, 12);
        let n0 = tb.tx_log.len();
        tb.push(a.frame(seq(0), 0, ACK, s[..100].to_vec()));
        tb.settle(20_000);
        assert_eq!(acks(&tb, n0), vec![(seq(100), 500)], "{model}: edge at 600");
        // b's tiny segments (no NB) take the pool down to the reserve + 1
        let mut nb_bytes = 0usize;
        let res = reserve(&tb);
        fill_pool(&mut tb, &b, isn, &mut nb_bytes, res + 1);
        let oow0 = tb.got.dropped(DropReason::OutOfWindow);
        let acc0 = tb.got.accepted;
        let n1 = tb.tx_log.len();
        // a: 50 bytes inside the promise, picked with pool room 0 (its own buflet took the last)
        tb.push(a.frame(seq(100), 0, ACK, s[100..150].to_vec()));
        tb.settle(20_000);
        // a: 460 bytes crossing the edge at 600 by 10: trimmed (poisoned beyond it)
        let mut d = s[150..610].to_vec();
        for x in &mut d[450..] {
            *x ^= 0x77;
        }
        tb.push(a.frame(seq(150), 0, ACK | PSH, d));
        tb.settle(20_000);
        // a: nothing is promised any more: a probe with data is not acceptable
        tb.push(a.frame(seq(600), 0, ACK, s[600..610].to_vec()));
        tb.settle(20_000);
        assert_eq!(
            acks(&tb, n1),
            vec![(seq(150), 0), (seq(600), 0), (seq(600), 0)],
            "{model}: ACKs of a closed pool"
        );
        assert_eq!(
            tb.got.accepted - acc0,
            2,
            "{model}: both promised segments kept"
        );
        assert_eq!(tb.got.dropped(DropReason::OutOfWindow) - oow0, 1);
        // the driver catches up: b's bytes and a's 600 bytes are delivered
        tb.nb_post(1, 0, nb_bytes, 1, false);
        tb.nb_post(0, 1, 600, 1, false);
        tb.settle(60_000);
        assert!(tb.osock[0].as_ref().unwrap().delivered == s[..600]);
        let r = rets(&tb, 0);
        assert!(
            r.contains(&(1, CplFlags::FULL, 600, 0, 0)),
            "{model}: {r:?}"
        );
        close(&mut tb, &[0, 1]);
    }
}

/// The SYN-ACK sets the first edge (RCV_NXT + its unscaled window): the handshake's ACK may
/// carry up to that much even when the pool shrank since (the old rule trimmed it to `win`); a
/// retransmitted SYN-ACK carries min(win, 65535) of its own time, and the promise stands.
pub fn window_syn_ack_sets_the_first_edge() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 13);
        let a = SockCfg::new(0, &mut rng).buf(1 << 30);
        let b = SockCfg::new(1, &mut rng).buf(1 << 30);
        add_socks(&mut tb, &[&a, &b]);
        let isn = 0xFFFF_FF00u32; // the window crosses the sequence wrap
        handshake(&mut tb, &b, isn, None);
        let n0 = tb.tx_log.len();
        tb.push(a.frame(isn, 0, SYN, Vec::new()));
        tb.settle(20_000);
        let free_syn = tb.free.len() - 1; // the SYN's own buflet was taken at its pick
        let w0 = tb.pool_room(free_syn).min(65535) as u16;
        assert_eq!(acks(&tb, n0), vec![(isn.wrapping_add(1), w0)]);
        let len = 1000usize;
        let need = (54 + len).div_ceil(tb.bb);
        let mut next = 0usize;
        let res = reserve(&tb);
        fill_pool(&mut tb, &b, isn, &mut next, res + need + 3);
        // retransmitted SYN: the SYN-ACK carries the window of now
        let n1 = tb.tx_log.len();
        tb.push(a.frame(isn, 0, SYN, Vec::new()));
        tb.settle(20_000);
        let w1 = tb.pool_room(res + need + 2) as u16;
        assert!(w1 < w0);
        assert_eq!(acks(&tb, n1), vec![(isn.wrapping_add(1), w1)], "{model}");
        // the ACK of the SYN-ACK with 1000 bytes: more than win, less than the SYN-ACK promised
        let s = stream_of(len, 13);
        let n2 = tb.tx_log.len();
        tb.push(a.frame(isn.wrapping_add(1), a.iss.wrapping_add(1), ACK, s.clone()));
        tb.settle(20_000);
        let win_now = tb.pool_room(res + 3) as u32;
        assert!((win_now as usize) < len && len < w0 as usize);
        let rcv = isn.wrapping_add(1).wrapping_add(len as u32);
        assert_eq!(
            acks(&tb, n2),
            vec![(rcv, w0 - len as u16)],
            "{model}: all 1000 bytes taken, the edge kept"
        );
        tb.nb_post(0, 0, 2 * PAGE, 2, false);
        tb.nb_post(1, 1, next, 1, false);
        tb.settle(60_000);
        assert!(tb.osock[0].as_ref().unwrap().delivered == s);
        close(&mut tb, &[0, 1]);
    }
}
