//! Crafted runs whose key numbers are worked out by hand from docs/tcp-transmit.md (the
//! reference checks every field after every step as in the random runs; these assert the
//! values themselves, so a rule the reference and the RTL got wrong together still fails).

use buflet_spec::{snd_ctx, snd_flag, sock_state as ss, status};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::bench::In;
use crate::driver::World;
use crate::reference::{Piece, Policy, PostReq, Seg};

const POL: Policy = Policy {
    rto_init: 2,
    rto_min: 1,
    rto_max: 5,
    retries: 2,
};

fn world(name: &str, n_sock: usize, n_posts: usize, seed: u64) -> World {
    let rng = ChaCha8Rng::seed_from_u64(seed);
    World::new(name, n_sock, n_posts, seed, (0.3, 0.3), POL, rng)
}

/// Socket `s` through a passive open: both MSS 1000, the peer's window `win` (unscaled).
fn est(w: &mut World, s: usize, win: u16) {
    w.add(
        s,
        false,
        0x100 + s as u32,
        0xFFFF_F000 + 77 * s as u32,
        1000,
    );
    let mut i = w.inp(s);
    (i.mt_seq, i.mt_window, i.mt_ws, i.mt_mss) = (0x1234_0000, win, None, 1000);
    w.syn(s, i);
    w.socks[s].win = win;
    w.op_est(s);
    assert_eq!(w.socks[s].st, ss::ESTAB as u8);
    // RFC 6928: min(10 MSS, max(2 MSS, 14600))
    assert_eq!(w.dut.sn_field(snd_ctx::CWND), 10_000);
    assert_eq!(w.dut.sn_field(snd_ctx::SSTHRESH), 0xFFFF_FFFF);
}

/// The peer acknowledges offset `off` (SEQ, window unchanged, no payload).
fn ack_to(w: &mut World, s: usize, off: u64) {
    let mut i: In = w.inp(s);
    let k = &w.socks[s];
    (
        i.mt_seq,
        i.mt_ack,
        i.mt_window,
        i.mt_pay_len,
        i.mt_flags,
        i.st_now,
    ) = (
        k.peer_seq,
        k.iss.wrapping_add(1).wrapping_add(off as u32),
        k.win,
        0,
        buflet_spec::TcpFlags::ACK.bits(),
        k.st,
    );
    w.ack_frame(s, i);
}

/// The send-ready FIFO served until empty: the segments sent.
fn serve(w: &mut World) -> Vec<(usize, Seg, Vec<Piece>)> {
    let mut v = Vec::new();
    while !w.tq.is_empty() {
        w.last = None;
        w.op_send();
        v.extend(w.last.take());
    }
    v
}

fn offs(v: &[(usize, Seg, Vec<Piece>)]) -> Vec<(u64, u64, bool)> {
    v.iter().map(|(_, g, _)| (g.off, g.len, g.fast)).collect()
}

fn post(w: &mut World, s: usize, tag: u32, len: u32, first_off: u16, psh: bool) -> u64 {
    let pages = (u32::from(first_off) + len).div_ceil(4096);
    let q = PostReq {
        tag,
        len,
        first_off,
        hmd: 0x10_0000 * u64::from(tag),
        pages,
        psh,
        devmem: false,
    };
    w.post(s, q, true, true)
}

fn flags(w: &World) -> u64 {
    w.dut.sn_field(snd_ctx::SFLAGS)
}

/// Slow start, the third duplicate ACK, window inflation, the fast retransmit, a partial and
/// a full ACK (NewReno), slow start again up to SSTHRESH, then congestion avoidance by bytes
/// acknowledged (CWND grows by one MSS when exactly CWND bytes are acknowledged).
pub fn newreno_and_byte_counting(name: &str) {
    let mut w = world(name, 2, 8, 71);
    est(&mut w, 0, 60_000);
    assert_eq!(post(&mut w, 0, 1, 30_000, 0, false), status::OK);
    assert_eq!(
        w.tq,
        [0],
        "{name}: the socket is on the send-ready FIFO once"
    );
    let segs = serve(&mut w);
    let want: Vec<_> = (0..10).map(|k| (1000 * k, 1000, false)).collect();
    assert_eq!(offs(&segs), want, "{name}: the initial window");
    ack_to(&mut w, 0, 1000);
    assert_eq!(w.dut.sn_field(snd_ctx::CWND), 11_000, "{name}: slow start");
    for d in 1..=2 {
        ack_to(&mut w, 0, 1000);
        assert_eq!(w.dut.sn_field(snd_ctx::DUPACKS), d, "{name}: duplicates");
        assert_eq!(w.dut.sn_field(snd_ctx::CWND), 11_000);
    }
    assert_eq!(w.tq, [0], "{name}: still once on the FIFO");
    ack_to(&mut w, 0, 1000);
    // flight 9000: SSTHRESH = max(4500, 2000), CWND = SSTHRESH + 3 MSS, RECOVER = SND.MAX
    assert_eq!(
        w.dut.sn_field(snd_ctx::SSTHRESH),
        4500,
        "{name}: third duplicate"
    );
    assert_eq!(w.dut.sn_field(snd_ctx::CWND), 7500);
    assert_eq!(w.dut.sn_field(snd_ctx::RECOVER), 10_000);
    let rec = snd_flag::RECOVERY | snd_flag::RETX;
    assert_eq!(flags(&w) & rec, rec, "{name}: recovery and retransmit");
    ack_to(&mut w, 0, 1000);
    assert_eq!(w.dut.sn_field(snd_ctx::CWND), 8500, "{name}: inflation");
    let segs = serve(&mut w);
    assert_eq!(offs(&segs), [(1000, 1000, true)], "{name}: fast retransmit");
    assert_eq!(flags(&w) & snd_flag::RETX, 0);
    ack_to(&mut w, 0, 3000);
    // partial: deflate by 2000, add one MSS; the next hole goes at once
    assert_eq!(w.dut.sn_field(snd_ctx::CWND), 7500, "{name}: partial ACK");
    assert_eq!(flags(&w) & rec, rec);
    let segs = serve(&mut w);
    assert_eq!(offs(&segs), [(3000, 1000, true)], "{name}: the next hole");
    ack_to(&mut w, 0, 10_000);
    // full: CWND = min(SSTHRESH, flight 0 + MSS)
    assert_eq!(w.dut.sn_field(snd_ctx::CWND), 1000, "{name}: full ACK");
    assert_eq!(flags(&w) & rec, 0);
    assert_eq!(w.dut.sn_field(snd_ctx::UNA), 10_000);
    // slow start: 1000, 2000, 3000, 4000, 5000 (>= SSTHRESH 4500)
    let mut off = 10_000;
    for k in 1..=4u64 {
        let segs = serve(&mut w);
        assert_eq!(segs.len() as u64, k, "{name}: slow start round {k}");
        off += 1000 * k;
        ack_to(&mut w, 0, off);
        assert_eq!(w.dut.sn_field(snd_ctx::CWND), 1000 * (k + 1));
    }
    // congestion avoidance: 2000 then 3000 bytes acknowledged (5000 = CWND): one MSS
    let segs = serve(&mut w);
    assert_eq!(segs.len(), 5, "{name}: a window of 5000");
    ack_to(&mut w, 0, off + 2000);
    assert_eq!(w.dut.sn_field(snd_ctx::CWND), 5000);
    assert_eq!(w.dut.sn_field(snd_ctx::ABC), 2000);
    ack_to(&mut w, 0, off + 5000);
    assert_eq!(w.dut.sn_field(snd_ctx::CWND), 6000, "{name}: byte counting");
    assert_eq!(w.dut.sn_field(snd_ctx::ABC), 0);
    w.finish();
}

/// A segment across three posts (FIRST_OFF, lengths, PSH on the last piece of a PSH post
/// only), NO_POST with every slot taken (from any socket), completions by range, slots
/// reused lowest first, every post returned on SOCK_DEL and on the peer's RST.
pub fn posts_and_pieces(name: &str, n_posts: usize) {
    let mut w = world(name, 2, n_posts, 72);
    est(&mut w, 0, 60_000);
    est(&mut w, 1, 60_000);
    assert_eq!(post(&mut w, 0, 10, 300, 4000, false), status::OK);
    assert_eq!(post(&mut w, 0, 11, 200, 0, true), status::OK);
    assert_eq!(post(&mut w, 0, 12, 700, 96, true), status::OK);
    assert_eq!(w.tq, [0], "{name}: once on the FIFO");
    let segs = serve(&mut w);
    let (h0, h1, h2) = (0x10_0000 * 10, 0x10_0000 * 11, 0x10_0000 * 12);
    let want: Vec<Vec<Piece>> = vec![
        vec![
            (h0, 4000, 300, false, false, false),
            (h1, 0, 200, false, false, false),
            (h2, 96, 500, true, false, false),
        ],
        vec![(h2, 596, 200, true, true, false)],
    ];
    let got: Vec<Vec<Piece>> = segs.iter().map(|x| x.2.clone()).collect();
    assert_eq!(got, want, "{name}: pieces");
    assert_eq!(offs(&segs), [(0, 1000, false), (1000, 200, false)]);
    for t in 3..n_posts as u32 {
        assert_eq!(post(&mut w, 0, 10 + t, 100, 0, false), status::OK);
    }
    assert_eq!(
        post(&mut w, 1, 99, 100, 0, false),
        status::NO_POST,
        "{name}: full"
    );
    assert_eq!(post(&mut w, 0, 99, 100, 0, false), status::NO_POST);
    ack_to(&mut w, 0, 500);
    assert_eq!(
        w.last_pw,
        Some((2, 500, 11)),
        "{name}: completions by range"
    );
    assert_eq!(post(&mut w, 1, 20, 100, 0, false), status::OK);
    assert_eq!(w.dut.sn_field(snd_ctx::POST_HEAD), 0, "{name}: lowest slot");
    assert_eq!(w.dut.sn_field(snd_ctx::POST_TAIL), 0);
    ack_to(&mut w, 0, 1000);
    assert_eq!(
        w.dut.sn_field(snd_ctx::HEAD_END),
        1200,
        "{name}: the head post's end"
    );
    ack_to(&mut w, 0, 1200);
    assert_eq!(w.last_pw, Some((1, 700, 12)));
    serve(&mut w);
    w.op_del(0);
    let left = n_posts as u64 - 3; // posts 3.. of socket 0, none acknowledged
    assert_eq!(
        w.last_pw.map(|p| p.0),
        Some(left),
        "{name}: SOCK_DEL returns"
    );
    assert_eq!(w.last_pw.map(|p| p.1), Some(0));
    for t in 0..n_posts as u32 - 1 {
        assert_eq!(post(&mut w, 1, 30 + t, 50, 0, false), status::OK);
    }
    assert_eq!(post(&mut w, 1, 99, 100, 0, false), status::NO_POST);
    w.op_rst(1);
    assert_eq!(
        w.last_pw.map(|p| (p.0, p.2)),
        Some((n_posts as u64, 30 + n_posts as u32 - 2)),
        "{name}: the peer's RST returns every post"
    );
    w.finish();
}

/// The retransmission timer: expiry after RTO ticks, go-back-N, RTO doubling up to RTO_MAX,
/// the TX_RETRIES-th timeout in a row gives up (RST, posts returned); an ACK resets BACKOFF.
pub fn rto_backoff_and_give_up(name: &str) {
    let mut w = world(name, 2, 8, 73);
    for s in 0..2 {
        est(&mut w, s, 60_000);
        assert_eq!(post(&mut w, s, 40 + s as u32, 1000, 0, false), status::OK);
    }
    let segs = serve(&mut w);
    assert_eq!(segs.len(), 2);
    for s in 0..2 {
        w.op_tick(s);
        assert_eq!(w.dut.sn_field(snd_ctx::TIMER), 1, "{name}: the timer runs");
        w.op_tick(s);
        assert!(w.last_tk.rto && !w.last_tk.reset, "{name}: first timeout");
        assert_eq!(w.dut.sn_field(snd_ctx::BACKOFF), 1);
        assert_eq!(w.dut.sn_field(snd_ctx::RTO), 4);
        assert_eq!(w.dut.sn_field(snd_ctx::TIMER), 4);
        assert_eq!(w.dut.sn_field(snd_ctx::NXT), 0, "{name}: go-back-N");
        assert_eq!(w.dut.sn_field(snd_ctx::CWND), 1000);
        assert_eq!(w.dut.sn_field(snd_ctx::SSTHRESH), 2000);
    }
    let segs = serve(&mut w);
    assert_eq!(offs(&segs), [(0, 1000, false), (0, 1000, false)]);
    // socket 1: acknowledged, BACKOFF back to 0, the timer stops
    ack_to(&mut w, 1, 1000);
    assert_eq!(
        w.dut.sn_field(snd_ctx::BACKOFF),
        0,
        "{name}: an ACK resets BACKOFF"
    );
    assert_eq!(w.dut.sn_field(snd_ctx::TIMER), 0);
    // socket 0: 4 ticks, then RTO_MAX 5, then the give-up
    for _ in 0..4 {
        w.op_tick(0);
    }
    assert!(w.last_tk.rto && !w.last_tk.reset, "{name}: second timeout");
    assert_eq!(w.dut.sn_field(snd_ctx::BACKOFF), 2);
    assert_eq!(w.dut.sn_field(snd_ctx::RTO), 5, "{name}: capped at RTO_MAX");
    serve(&mut w);
    for _ in 0..5 {
        w.op_tick(0);
    }
    assert!(
        w.last_tk.rto && w.last_tk.reset,
        "{name}: TX_RETRIES ran out"
    );
    assert_eq!(w.socks[0].st, ss::CLOSED as u8);
    assert_eq!(w.last_pw, Some((1, 0, 40)), "{name}: the post returned");
    assert_eq!(flags(&w) & snd_flag::OPEN, 0);
    w.finish();
}
