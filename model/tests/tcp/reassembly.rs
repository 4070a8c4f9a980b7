//! Reassembly (docs/tcp-receive.md): a reference of the insertion rules in stream offsets checked
//! against random segmentations sent out of order, with duplicates, overlaps and losses; the
//! insertion cases one by one; a burst of held segments, one ACK each.

use super::*;

/// The reassembly rules in stream offsets (independent of the device's sequence arithmetic):
/// held segments sorted, never overlapping, cut exactly as docs/tcp-receive.md says.
#[derive(Default)]
struct Reasm {
    rcv: u64,
    held: Vec<(u64, u64)>,
    accepted: u32,
    ooo_held: u32,
    dups: u32,
    oow: u32,
}

impl Reasm {
    /// One data segment [s, e) (e > s); returns the ACK number (stream offset).
    fn seg(&mut self, s: u64, e: u64) -> u64 {
        if e <= self.rcv {
            self.oow += 1;
        } else if s <= self.rcv {
            let mut e = e;
            if let Some(&(hs, _)) = self.held.first() {
                e = e.min(hs);
            }
            self.rcv = e;
            self.accepted += 1;
            while self.held.first().is_some_and(|h| h.0 == self.rcv) {
                self.rcv = self.held.remove(0).1;
            }
        } else {
            let mut i = self
                .held
                .iter()
                .position(|h| h.1 > s)
                .unwrap_or(self.held.len());
            let mut s = s;
            if i < self.held.len() && self.held[i].0 <= s {
                if self.held[i].1 >= e {
                    self.dups += 1;
                    return self.rcv;
                }
                s = self.held[i].1;
                i += 1;
            }
            let mut e = e;
            if i < self.held.len() {
                e = e.min(self.held[i].0);
            }
            if e <= s {
                self.dups += 1;
            } else {
                self.held.insert(i, (s, e));
                self.ooo_held += 1;
            }
        }
        self.rcv
    }
}

/// Random segmentation of a stream, sent in random order with duplicates, overlaps and
/// losses: the bytes landing in named buffers equal the stream, and every ACK carries the
/// in-order prefix.
fn reassembly_random(width: u32, seed: u64) {
    let mut r = rig(&format!("reasm{width}-{seed}"), width);
    add(&mut r, 0, &SockOpts::default());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let irs = 0xFFFF_0000u32.wrapping_add(rng.gen_range(0..0x20000));
    let base = r.handshake(irs);
    const N: usize = 150_000;
    const NB: u32 = 65536;
    let stream = bytes(seed + 100, N);
    let mut bufs = vec![];
    for i in 0..3u32 {
        let (hmd, pages) = r.nb_mem(NB);
        r.submit(&nb_post(0, 50 + i, i, NB, hmd, 16));
        bufs.push(pages);
    }
    let mut m = Reasm::default();
    let mut frames = 0u32;
    let mut rounds = 0;
    // The window checks: every ACK's right edge (in stream offsets) against the largest one
    // advertised so far, and the previous ACK (stream offset, window field).
    let mut edges = EdgeCheck::new(WSCALE);
    while m.rcv < N as u64 {
        rounds += 1;
        assert!(rounds < 200, "no progress");
        let lo = m.rcv as usize;
        let hi = (lo + 40_000).min(N);
        let mut segs = vec![];
        let mut at = lo;
        while at < hi {
            let e = (at + rng.gen_range(1..=1460)).min(hi);
            if !rng.gen_bool(0.15) {
                segs.push((at, e));
            }
            at = e;
        }
        for _ in 0..rng.gen_range(0..20) {
            // overlaps, including stale bytes left of the window
            let s = rng.gen_range(lo.saturating_sub(3000)..hi);
            let e = (s + rng.gen_range(1..=1460)).min(hi);
            segs.push((s, e));
        }
        for _ in 0..rng.gen_range(0..10) {
            let d = *segs.choose(&mut rng).unwrap();
            segs.push(d);
        }
        segs.shuffle(&mut rng);
        for &(s, e) in &segs {
            r.send(data(base, s, &stream, e));
        }
        r.settle();
        let t = r.txs();
        assert_eq!(t.len(), segs.len(), "one ACK per data segment");
        for (i, &(s, e)) in segs.iter().enumerate() {
            let want = m.seg(s as u64, e as u64);
            assert!(
                t[i].is_ack(base.wrapping_add(want as u32)),
                "segment {i} [{s},{e}) of round {rounds}: {:?}, want ack at {want}",
                t[i]
            );
            edges.see(want, t[i].window, !m.held.is_empty(), &format!("[{s},{e})"));
        }
        frames += segs.len() as u32;
    }
    r.send(Seg::at(base.wrapping_add(N as u32)).fin());
    r.settle();
    assert!(r.txs()[0].is_ack(base.wrapping_add(N as u32 + 1)));
    let cs = r.wait_cpls(3);
    let mut got = vec![];
    for (i, c) in cs.iter().enumerate() {
        assert_eq!(
            (c.kind, c.ref_num, c.stream_off),
            (CplKind::NbReturn, i as u32, i as u64 * NB as u64)
        );
        let want_flags = if i < 2 { CplFlags::FULL } else { CplFlags::FIN };
        assert_eq!(c.flags, want_flags);
        got.extend(r.nb_read(&bufs[i], c.bytes as usize));
    }
    assert_eq!(got, stream);
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), m.accepted);
    assert_eq!(r.r(reg::CNT_OOO_HELD), m.ooo_held);
    assert_eq!(r.r(reg::CNT_DROP_DUPLICATE), m.dups);
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), m.oow);
    assert_eq!(r.r(reg::CNT_RX_FRAMES), 2 + frames + 1);
    eprintln!(
        "w{width} seed {seed}: {rounds} rounds, {frames} frames, accepted {} held {} dup {} oow {}, \
         {} duplicate ACKs in loss episodes",
        m.accepted, m.ooo_held, m.dups, m.oow, edges.frozen
    );
    assert!(m.ooo_held > 50 && m.dups > 5, "the mix exercised the list");
    assert!(
        edges.frozen > 20,
        "the mix made duplicate ACKs during loss episodes"
    );
    r.finish(0);
}

#[test]
fn reassembly_random_w64() {
    for seed in 1..=4 {
        reassembly_random(64, seed);
    }
}

#[test]
fn reassembly_random_w512() {
    for seed in 11..=14 {
        reassembly_random(512, seed);
    }
}

/// The insertion algorithm case by case: front overlap, duplicates, tail cut, adjacency,
/// in-order cut at the reassembly head, drain.
#[test]
fn reassembly_cases() {
    let (mut r, base) = opened("reasmcases", 0, 0x1234);
    let s = bytes(9, 1000);
    let steps: Vec<((usize, usize), u64, u32, u32)> = vec![
        // (segment, ack, OOO_HELD after, DUPLICATE after)
        ((100, 200), 0, 1, 0),
        ((300, 400), 0, 2, 0),
        ((120, 180), 0, 2, 1), // inside a held segment
        ((100, 200), 0, 2, 2), // the same again
        ((150, 250), 0, 3, 2), // front cut to 200: [200, 250)
        ((190, 300), 0, 3, 3), // front cut to 200, then [200, 250) starts there: nothing left
        ((250, 350), 0, 4, 3), // tail cut at 300: [250, 300)
        ((500, 600), 0, 5, 3),
        ((0, 100), 400, 5, 3),   // in order; drains [100,200) .. [300,400)
        ((400, 550), 600, 5, 3), // in order, cut at the head 500; drains [500, 600)
        ((550, 700), 700, 5, 3), // overlaps the left edge
        ((800, 900), 700, 6, 3),
        ((750, 801), 700, 7, 3), // the tail overlaps the next by one byte: [750, 800)
        ((700, 750), 900, 7, 3), // drains both
        ((850, 1000), 1000, 7, 3),
    ];
    for ((a, b), ack, held, dup) in steps {
        r.send(data(base, a, &s, b));
        r.settle();
        let t = r.txs();
        assert_eq!(t.len(), 1);
        assert!(
            t[0].is_ack(base.wrapping_add(ack as u32)),
            "[{a},{b}) {t:?}"
        );
        assert_eq!(
            (r.r(reg::CNT_OOO_HELD), r.r(reg::CNT_DROP_DUPLICATE)),
            (held, dup),
            "[{a},{b})"
        );
    }
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 5);
    nb_returns(&mut r, 1, 1000, &s, CplFlags::FULL);
    r.finish(0);
}

/// A burst of small segments: one ACK each, in order, none lost.
#[test]
fn many_acks_in_order() {
    let mut c = cfg(512);
    c.line_gbps = 100.0;
    let mut r = Rig::new("txq", c, 64, 64);
    add(&mut r, 0, &SockOpts::default());
    let base = r.handshake(0);
    // Tiny segments far ahead (held out of order) arrive back to back.
    let s = bytes(2, 4000);
    for k in 0..40 {
        r.send(data(base, 100 + 50 * k, &s, 101 + 50 * k));
    }
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 40);
    assert!(t.iter().all(|t| t.is_ack(base)));
    assert_eq!(r.r(reg::CNT_TX_FRAMES), 1 + 40);
    assert_eq!(r.r(reg::CNT_OOO_HELD), 40);
    r.finish(0);
}
