//! Directed tests of timer ticks and named-buffer timeouts: only head NBs count down, a tick
//! between two chunks of one delivery, tick requests that merge, and the sweep's order over the
//! active list as SOCK_DEL unlinks sockets from it.

use super::*;

/// Only head NBs count down; an NB returned empty on timeout reports the socket's STREAM_OFF;
/// TIMEOUT 0 never expires; a partly filled NB times out with its bytes and the stream goes on
/// in the next one; CNT_TICKS and CNT_TIMEOUTS.
pub fn timeouts_of_head_named_buffers() {
    for model in models() {
        let (mut tb, _, c) = one_socket(model, 51, 0, 100_000);
        ticks(&mut tb, 2); // nothing to time out
        let isn = 9u32;
        let seq = connect(&mut tb, &[&c], isn);
        let s = stream_of(3000, 51);
        tb.push(c.frame(seq(0), 0, ACK, s[..300].to_vec()));
        tb.nb_post_t(0, 0, 300, 1, false, 0);
        tb.settle(20_000);
        let c0 = tb.cpl_log.len();
        tb.nb_post_t(0, 1, 1000, 1, false, 2);
        tb.nb_post_t(0, 2, 1000, 1, false, 1);
        tb.nb_post_t(0, 3, 1000, 1, false, 0);
        tb.settle(10_000);
        ticks(&mut tb, 1);
        assert!(rets(&tb, c0).is_empty(), "{model}: NB 1 has a tick left");
        ticks(&mut tb, 1);
        let to = CplFlags::TIMEOUT;
        assert_eq!(rets(&tb, c0), vec![(1, to, 0, 300, 0)], "{model}: empty NB");
        ticks(&mut tb, 1); // NB 2 counts only now that it is the head
        assert_eq!(rets(&tb, c0)[1..], [(2, to, 0, 300, 0)]);
        ticks(&mut tb, 3); // NB 3: TIMEOUT 0
        assert_eq!(rets(&tb, c0).len(), 2);
        // NB 3 takes 500 bytes and stays; NB 4 (TIMEOUT 1) behind it does not count
        tb.nb_post_t(0, 4, 400, 1, false, 1);
        tb.push(c.frame(seq(300), 0, ACK, s[300..800].to_vec()));
        tb.settle(20_000);
        ticks(&mut tb, 2);
        assert_eq!(rets(&tb, c0).len(), 2);
        tb.push(c.frame(seq(800), 0, ACK, s[800..1600].to_vec()));
        tb.settle(20_000);
        // NB 3 filled (1000), NB 4 got 300 bytes: its tick returns it
        ticks(&mut tb, 1);
        assert_eq!(
            rets(&tb, c0)[2..],
            [(3, CplFlags::FULL, 1000, 300, 0), (4, to, 300, 1300, 0)],
            "{model}: partly filled NB"
        );
        tb.nb_post_t(0, 5, 2000, 1, false, 3);
        tb.push(c.frame(seq(1600), 0, ACK | FIN, s[1600..1800].to_vec()));
        tb.settle(20_000);
        assert_eq!(
            rets(&tb, c0)[4..],
            [(5, CplFlags::FIN, 200, 1600, 0)],
            "{model}: the stream goes on in the next NB"
        );
        assert!(tb.osock[0].as_ref().unwrap().delivered == s[..1800]);
        assert_eq!(tb.got.timeouts, 3);
        assert_eq!(tb.got.ticks, 11);
        close(&mut tb, &[0]);
    }
}

/// Requests a tick as the engine takes the frame just pushed: the round robin takes that
/// frame's first delivery chunk next (chained to the frame, or picked: after a frame delivery
/// goes before a tick), then the tick (after a delivery step the tick goes first, decision 3),
/// so the tick falls between this chunk and the next one.
pub fn tick_between_chunks(tb: &mut Tb) {
    let picks = tb.meta_picks;
    let start = tb.m.cycles();
    while tb.meta_picks == picks {
        assert!(tb.m.cycles() - start < 20_000, "the frame is not taken");
        tb.cycle();
    }
    tb.tick();
}

/// A tick between two chunks of one segment (TCP) or one datagram (UDP, decision 7): the NB
/// times out with the first chunk and the socket is woken, so the rest goes into its next NB
/// (a datagram's rest returned DATAGRAM with HDR_BYTES = min(8, FILLED)).
pub fn timeout_between_chunks_wakes_the_next_buffer() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 52);
        tb.p_ready = 100;
        tb.p_valid = 100;
        let c = SockCfg::new(0, &mut rng).buf(100_000);
        let u = SockCfg::new(1, &mut rng).into_udp();
        add_socks(&mut tb, &[&c, &u]);
        let isn = 77u32;
        let seq = connect(&mut tb, &[&c], isn);
        let s = stream_of(3000, 52);
        // TCP: NB 0 is 5000 bytes over 2 pages; the 1400-byte segment crosses the page end
        tb.nb_post_t(0, 0, 5000, 2, false, 1);
        tb.nb_post_t(0, 1, 5000, 2, false, 0);
        tb.push(c.frame(seq(0), 0, ACK, s[..3000].to_vec()));
        tb.settle(20_000); // 3000 bytes in NB 0 (page 0 not yet full)
        let c0 = tb.cpl_log.len();
        tb.push(c.frame(seq(3000), 0, ACK, stream_of(1400, 53)));
        tick_between_chunks(&mut tb);
        tb.settle(20_000);
        assert_eq!(
            rets(&tb, c0),
            vec![(0, CplFlags::TIMEOUT, 4096, 0, 0)],
            "{model}: TCP timeout between chunks"
        );
        let o = tb.osock[0].as_ref().unwrap();
        assert_eq!((o.stream_off, tb.nbs[&1].filled), (4400, 304));
        // UDP: the datagram crosses the end of the NB's first page
        let c1 = tb.cpl_log.len();
        tb.nb_post_t(1, 2, 6000, 2, false, 1);
        tb.nb_post_t(1, 3, 100, 1, false, 0);
        tb.nb_post_t(1, 4, 6000, 2, false, 0);
        tb.settle(10_000);
        tb.push(u.datagram(stream_of(4200, 54)));
        tick_between_chunks(&mut tb);
        tb.settle(20_000);
        tb.push(u.datagram(stream_of(4200, 55)));
        tb.settle(20_000);
        let dg = CplFlags::DATAGRAM;
        assert_eq!(
            rets(&tb, c1),
            vec![
                (2, CplFlags::TIMEOUT, 4096, 0, 0),
                (3, dg | CplFlags::TRUNC, 100, 4096, 8),
                (4, dg, 4208, 4196, 8),
            ],
            "{model}: UDP timeout in the middle of a datagram"
        );
        assert_eq!(tb.got.timeouts, 2);
        close(&mut tb, &[0, 1]);
    }
}

/// Tick requests merge: two in consecutive cycles make one tick (the pending flag, decision 4),
/// and any number made while the engine is inside another event (a frame waiting for room in
/// the tx command queue) make one tick after it.
pub fn tick_requests_merge() {
    for model in models() {
        let (mut tb, _, c) = one_socket(model, 53, 0, 1000);
        let isn = 1u32;
        handshake(&mut tb, &c, isn, None);
        let t0 = tb.got.ticks;
        tb.tick_now = 2;
        tb.settle(20_000);
        assert_eq!(tb.got.ticks, t0 + 1, "{model}: back-to-back requests");
        // tx held: out-of-window segments (each one an ACK) fill the command queue
        tb.hold[O_TX] = true;
        for k in 0..12 {
            tb.push(c.frame(isn + 5000 + k, 0, ACK, vec![1; 10]));
        }
        let start = tb.m.cycles();
        let (mut picks, mut since) = (tb.meta_picks, tb.m.cycles());
        while tb.m.cycles() - since < 300 || tb.cur_meta.is_none() {
            assert!(
                tb.m.cycles() - start < 20_000,
                "{model}: the engine never waits"
            );
            tb.cycle();
            if tb.meta_picks != picks {
                (picks, since) = (tb.meta_picks, tb.m.cycles());
            }
        }
        let t1 = tb.got.ticks;
        for _ in 0..4 {
            tb.tick();
            for _ in 0..40 {
                tb.cycle();
            }
        }
        assert_eq!(tb.got.ticks, t1, "{model}: no tick inside a frame event");
        tb.hold[O_TX] = false;
        tb.settle(40_000);
        assert_eq!(
            tb.got.ticks,
            t1 + 1,
            "{model}: the requests merged into one tick"
        );
        assert_eq!(tb.got.dropped(DropReason::OutOfWindow), 12);
        ticks(&mut tb, 2);
        close(&mut tb, &[0]);
    }
}

/// The sweep walks the active list from its head (the socket added last); SOCK_DEL unlinks a
/// socket from its middle, its head and its tail, and a re-added socket goes to the head.
pub fn sock_del_in_the_active_list_then_ticks() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 54);
        let mut cs: Vec<SockCfg> = (0..4).map(|i| SockCfg::new(i, &mut rng)).collect();
        cs[3] = cs[3].into_udp();
        add_socks(&mut tb, &cs.iter().collect::<Vec<_>>()); // active list: 3, 2, 1, 0
        for (r, slot) in [(0u32, 0u16), (1, 1), (2, 2), (3, 3)] {
            tb.nb_post_t(slot, r, 100, 1, false, 1);
        }
        tb.settle(10_000);
        let c0 = tb.cpl_log.len();
        tb.sock_del(1); // the middle
        tb.settle(10_000);
        ticks(&mut tb, 1);
        let refs = |tb: &Tb, from: usize| -> Vec<(u32, CplFlags)> {
            rets(tb, from).iter().map(|r| (r.0, r.1)).collect()
        };
        let to = CplFlags::TIMEOUT;
        assert_eq!(
            refs(&tb, c0),
            vec![(1, CplFlags::DELETE), (3, to), (2, to), (0, to)],
            "{model}: sweep after deleting the middle"
        );
        tb.sock_add(&cs[1]); // active list: 1, 3, 2, 0
        tb.settle(10_000);
        tb.nb_post_t(1, 4, 100, 1, false, 1);
        tb.nb_post_t(0, 5, 100, 1, false, 2);
        tb.nb_post_t(2, 6, 100, 1, false, 1);
        tb.settle(10_000);
        let c1 = tb.cpl_log.len();
        ticks(&mut tb, 2);
        assert_eq!(refs(&tb, c1), vec![(4, to), (6, to), (5, to)], "{model}");
        tb.sock_del(1); // the head
        tb.sock_del(0); // the tail
        tb.settle(10_000);
        tb.nb_post_t(2, 7, 100, 1, false, 1);
        tb.nb_post_t(3, 0, 100, 1, false, 1);
        tb.settle(10_000);
        let c2 = tb.cpl_log.len();
        ticks(&mut tb, 1);
        assert_eq!(refs(&tb, c2), vec![(0, to), (7, to)], "{model}: 3 then 2");
        assert_eq!(tb.got.timeouts, 8);
        tb.sock_del(2);
        tb.sock_del(3);
        tb.settle(10_000);
        ticks(&mut tb, 1); // an empty active list
        tb.final_checks(true);
    }
}
