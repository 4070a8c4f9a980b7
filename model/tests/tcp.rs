//! The TCP receive engine of docs/tcp-receive.md: handshake and SYN-ACK bytes, acceptability
//! and trimming, reassembly, FIN, RST, SOCK_DEL, PSH_RETURN, the window (closing, the promise
//! kept after the pool closes, the right edge that never moves left, the window frozen while
//! segments wait for reassembly).
//!
//! These are unit tests of the Rust model only (`buflet_model::ModelDevice`). The RTL
//! counterpart is tested by `testbench/tests/rtl_toe_engine/` (toe_engine against an
//! independent oracle), `testbench/tests/rtl_rx_parser.rs` (parse metadata) and
//! `testbench/tests/cosim.rs` (the whole RTL against this model, transaction by transaction).

mod common;

use buflet_spec::{reg, CplFlags, CplKind, Opcode, SockFlags, Status};
use common::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

fn rig(name: &str, width: u32) -> Rig {
    Rig::new(name, cfg(width), 64, 256)
}

fn add(r: &mut Rig, sref: u16, o: &SockOpts) {
    r.submit(&sock_add_opts(sref, 1000 + sref as u32, o));
    let cs = r.wait_cpls(1);
    assert_eq!((cs[0].tag, cs[0].status), (1000 + sref as u32, Status::Ok));
}

/// A data segment at stream offset `off` (sequence `base + off`).
fn data(base: u32, off: usize, stream: &[u8], end: usize) -> Seg {
    Seg {
        seq: base.wrapping_add(off as u32),
        payload: stream[off..end].to_vec(),
        ..Seg::default()
    }
}

/// A data segment with its own payload at stream offset `off`.
fn raw(base: u32, off: usize, payload: Vec<u8>) -> Seg {
    Seg {
        seq: base.wrapping_add(off as u32),
        payload,
        ..Seg::default()
    }
}

#[test]
fn handshake_and_syn_ack_bytes() {
    let mut r = rig("handshake", 64);
    // Socket 1: untagged, defaults. Socket 2: VLAN 9, small buffer, other MSS and scale.
    add(&mut r, 1, &SockOpts::default());
    let b = SockOpts {
        vlan: 9,
        iss: 0xFFFF_FFFF,
        rcv_buf: 5000,
        mss: 536,
        wscale: 3,
        ..SockOpts::default()
    };
    add(&mut r, 2, &b);

    // LISTEN: anything but a SYN without ACK is BAD_STATE, never answered.
    for s in [
        Seg {
            seq: 7,
            rst: true,
            ..Seg::default()
        },
        Seg {
            seq: 7,
            syn: true,
            ack: Some(1),
            ..Seg::default()
        },
        Seg {
            seq: 7,
            ..Seg::default()
        },
        Seg {
            seq: 7,
            syn: true,
            rst: true,
            ..Seg::default()
        },
    ] {
        r.send(s);
    }
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_BAD_STATE), 4);
    assert!(r.txs().is_empty());

    // SYN with MSS + NOP + WS(8): SYN-ACK with MSS and our scale, window min(win, 65535).
    let irs = 0xFFFF_FFF0u32;
    r.send(Seg {
        seq: irs,
        syn: true,
        opts: vec![2, 4, 0x05, 0xB4, 1, 3, 3, 8],
        ..Seg::default()
    });
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 1);
    let sa = t[0].clone();
    assert_eq!(
        (sa.syn, sa.ackf, sa.other_flags, sa.seq, sa.ack, sa.vlan),
        (true, true, false, ISS, irs.wrapping_add(1), None)
    );
    // pool room (256 - 1 - 16) * 1024 and RCV_BUF 1 MiB are both above 65535.
    assert_eq!(sa.window, 65535);
    assert_eq!((sa.mss, sa.ws), (Some(MSS), Some(WSCALE)));
    assert_eq!(sa.opts, vec![2, 4, 0x05, 0xB4, 1, 3, 3, WSCALE]);
    assert_eq!(sa.len, 62);
    // The peer retransmits its SYN: the same SYN-ACK again.
    r.send(Seg {
        seq: irs,
        syn: true,
        opts: vec![2, 4, 0x05, 0xB4, 1, 3, 3, 8],
        ..Seg::default()
    });
    // Another SYN, a wrong ACK number and an ACK-less segment: BAD_STATE.
    r.send(Seg {
        seq: irs + 5,
        syn: true,
        ..Seg::default()
    });
    r.send(Seg {
        seq: irs.wrapping_add(1),
        ack: Some(ISS.wrapping_add(2)),
        payload: vec![1; 10],
        ..Seg::default()
    });
    r.send(Seg {
        seq: irs.wrapping_add(1),
        no_ack: true,
        payload: vec![1; 10],
        ..Seg::default()
    });
    // RST not at RCV_NXT: OUT_OF_WINDOW; at RCV_NXT: back to LISTEN, silently.
    r.send(Seg {
        seq: irs.wrapping_add(2),
        rst: true,
        ..Seg::default()
    });
    r.send(Seg {
        seq: irs.wrapping_add(1),
        rst: true,
        ..Seg::default()
    });
    r.settle();
    assert_eq!(r.txs(), vec![sa.clone()]);
    assert_eq!(r.r(reg::CNT_DROP_BAD_STATE), 7);
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), 1);
    // In LISTEN again: a SYN without options gets the MSS option only.
    let irs2 = 5000u32;
    r.send(Seg {
        seq: irs2,
        syn: true,
        ..Seg::default()
    });
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].syn, t[0].ack, t[0].mss, t[0].ws, t[0].len, t[0].window),
        (true, irs2 + 1, Some(MSS), None, 58, 65535)
    );
    assert_eq!(t[0].opts, vec![2, 4, 0x05, 0xB4]);
    // The handshake ACK carries data: accepted in the same frame; unscaled window.
    let d = bytes(1, 100);
    r.send(Seg {
        seq: irs2 + 1,
        payload: d.clone(),
        ..Seg::default()
    });
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 1);
    assert!(t[0].is_ack(irs2 + 101), "{t:?}");
    assert_eq!(t[0].window, 65535);
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 1);

    // Socket 2 on VLAN 9: its own ISS, MSS, scale; window = RCV_BUF; ACK windows scaled by 3.
    r.send(Seg {
        seq: 77,
        syn: true,
        vlan: Some(9),
        opts: vec![1, 1, 1, 1, 1, 3, 3, 20, 0, 0, 0, 0], // WS 20 is taken as 14
        ..Seg::default()
    });
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].vlan, t[0].seq, t[0].ack, t[0].window, t[0].len),
        (Some(9), 0xFFFF_FFFF, 78, 5000, 66)
    );
    assert_eq!(t[0].opts, vec![2, 4, 0x02, 0x18, 1, 3, 3, 3]);
    r.send(Seg {
        seq: 78,
        vlan: Some(9),
        ack: Some(0), // ISS + 1 wraps
        payload: d.clone(),
        ..Seg::default()
    });
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].vlan, t[0].seq, t[0].ack, t[0].window),
        (Some(9), 0, 178, (5000 - 100) >> 3)
    );
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 2);
    assert_eq!(r.r(reg::CNT_TX_FRAMES), 6);
    assert_eq!(r.r(reg::CNT_TX_BYTES), 62 * 2 + 58 + 54 + 66 + 58);

    // Both streams land in named buffers.
    let (h1, p1) = r.nb_mem(100);
    r.submit(&nb_post(1, 1, 1, 100, h1, 1));
    let (h2, p2) = r.nb_mem(100);
    r.submit(&nb_post(2, 2, 2, 100, h2, 1));
    let cs = r.wait_cpls(2);
    assert!(cs
        .iter()
        .all(|c| c.flags == CplFlags::FULL && c.bytes == 100));
    assert_eq!(r.nb_read(&p1, 100), d);
    assert_eq!(r.nb_read(&p2, 100), d);
    r.delete(1);
    r.delete(2);
    r.assert_all_free();
}

/// Acceptability and trimming with exact windows: RCV_BUF 3000, no window scale, no NB.
#[test]
fn acceptability_trimming_and_zero_window() {
    let mut r = rig("accept", 64);
    add(
        &mut r,
        0,
        &SockOpts {
            rcv_buf: 3000,
            ..SockOpts::default()
        },
    );
    let base = r.handshake_full(0x8000_0000, None, false);
    let s = bytes(2, 4000);
    let mut oow = 0;
    let expect = |r: &mut Rig, seg: Seg, ack: u32, win: u16| {
        r.send(seg);
        r.settle();
        let t = r.txs();
        assert_eq!(t.len(), 1, "{t:?}");
        assert!(t[0].is_ack(base.wrapping_add(ack)), "{t:?} vs {ack}");
        assert_eq!(t[0].window, win, "window after {ack}");
    };
    expect(&mut r, data(base, 0, &s, 1000), 1000, 2000);
    // Entirely left of the window: ACK + OUT_OF_WINDOW.
    expect(&mut r, data(base, 0, &s, 1000), 1000, 2000);
    oow += 1;
    // Overlapping the left edge: the old 500 bytes are cut from the front.
    expect(&mut r, data(base, 500, &s, 1500), 1500, 1500);
    // One byte beyond the right edge: cut to the window, FIN and PSH cleared (no +1 in the ACK).
    let mut seg = data(base, 1500, &s, 3001);
    seg.fin = true;
    seg.psh = true;
    expect(&mut r, seg, 3000, 0);
    // Zero window: data is out of window; a pure ACK exactly at RCV_NXT is fine (no answer);
    // a pure ACK ahead is not.
    expect(&mut r, data(base, 3000, &s, 3100), 3000, 0);
    oow += 1;
    r.send(Seg {
        seq: base.wrapping_add(3000),
        ..Seg::default()
    });
    r.settle();
    assert!(r.txs().is_empty());
    expect(
        &mut r,
        Seg {
            seq: base.wrapping_add(3005),
            ..Seg::default()
        },
        3000,
        0,
    );
    oow += 1;
    // A one-byte window probe is answered (window still 0).
    expect(&mut r, data(base, 3000, &s, 3001), 3000, 0);
    oow += 1;
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), oow);
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 3);
    // Posting a named buffer opens the window but sends no window update.
    let (hmd, pages) = r.nb_mem(8192);
    r.submit(&nb_post(0, 5, 3, 8192, hmd, 2));
    r.settle();
    assert!(r.txs().is_empty());
    assert_eq!(r.r(reg::CNT_DELIVERED_BYTES), 3000);
    // The next probe is accepted.
    expect(&mut r, data(base, 3000, &s, 3001), 3001, 2999);
    // A pure ACK ahead inside the window is consumed without an answer.
    r.send(Seg {
        seq: base.wrapping_add(3011),
        ..Seg::default()
    });
    r.settle();
    assert!(r.txs().is_empty());
    r.send(Seg {
        seq: base.wrapping_add(3001),
        fin: true,
        ..Seg::default()
    });
    r.settle();
    assert!(r.txs()[0].is_ack(base.wrapping_add(3002)));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].tag, cs[0].bytes, cs[0].flags),
        (5, 3001, CplFlags::FIN)
    );
    assert_eq!(r.nb_read(&pages, 3001), &s[..3001]);
    r.delete(0);
    r.assert_all_free();
}

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
    r.send(Seg {
        seq: base.wrapping_add(N as u32),
        fin: true,
        ..Seg::default()
    });
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
    r.delete(0);
    r.assert_all_free();
}

/// Checks the ACKs of one connection against the window rules of docs/tcp-receive.md that hold
/// whatever the pool and buffers do, as long as the pool is not empty (every test using it
/// keeps it far from empty): the advertised right edge `ack + (window << shift)` never moves
/// left of the largest edge advertised so far by a scale unit or more (the rounding of the
/// scaled window is the only slack), and a duplicate ACK sent while segments wait in the
/// reassembly list repeats the previous ACK's window exactly.
struct EdgeCheck {
    shift: u8,
    /// The largest right edge advertised (stream offset).
    max_edge: Option<u64>,
    /// The previous ACK: (ack, window field).
    prev: Option<(u64, u16)>,
    /// Duplicate ACKs checked during loss episodes.
    frozen: u32,
}

impl EdgeCheck {
    fn new(shift: u8) -> Self {
        EdgeCheck {
            shift,
            max_edge: None,
            prev: None,
            frozen: 0,
        }
    }

    /// One ACK at stream offset `ack` with window field `window`; `held` says whether the
    /// reassembly list is non-empty after the segment it answers.
    fn see(&mut self, ack: u64, window: u16, held: bool, what: &str) {
        let edge = ack + ((window as u64) << self.shift);
        if let Some(max) = self.max_edge {
            assert!(
                edge + (1 << self.shift) > max,
                "{what}: the right edge moved left: ack {ack} window {window} -> edge {edge}, \
                 {max} was advertised"
            );
        }
        self.max_edge = Some(self.max_edge.unwrap_or(0).max(edge));
        if let Some((pack, pwin)) = self.prev {
            if held && pack == ack && pwin > 0 {
                assert_eq!(
                    window, pwin,
                    "{what}: a duplicate ACK during a loss episode changed the window"
                );
                self.frozen += 1;
            }
        }
        self.prev = Some((ack, window));
    }
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
    let mut r = rig("reasmcases", 64);
    add(&mut r, 0, &SockOpts::default());
    let base = r.handshake(0x1234);
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
    let (hmd, pages) = r.nb_mem(1000);
    r.submit(&nb_post(0, 1, 0, 1000, hmd, 1));
    let cs = r.wait_cpls(1);
    assert_eq!((cs[0].bytes, cs[0].flags), (1000, CplFlags::FULL));
    assert_eq!(r.nb_read(&pages, 1000), s);
    r.delete(0);
    r.assert_all_free();
}

#[test]
fn fin_in_order_and_ahead() {
    let mut r = rig("fin", 64);
    add(&mut r, 0, &SockOpts::default());
    let base = r.handshake(400);
    let s = bytes(4, 200);
    // A zero-length FIN ahead is not held: ACK + OUT_OF_ORDER.
    r.send(Seg {
        seq: base + 200,
        fin: true,
        ..Seg::default()
    });
    // Data + FIN ahead is held with its FIN.
    let mut seg = data(base, 100, &s, 200);
    seg.fin = true;
    r.send(seg);
    // The gap: drained up to and including the FIN.
    r.send(data(base, 0, &s, 100));
    r.settle();
    let acks: Vec<u32> = r.txs().iter().map(|t| t.ack).collect();
    assert_eq!(acks, vec![base, base, base + 201]);
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_ORDER), 1);
    assert_eq!(r.r(reg::CNT_OOO_HELD), 1);
    // CLOSE_WAIT: data is answered and dropped BAD_STATE, a pure ACK is consumed.
    r.send(data(base, 0, &s, 10));
    r.send(Seg {
        seq: base + 201,
        payload: vec![1; 10],
        ..Seg::default()
    });
    r.send(Seg {
        seq: base + 201,
        ..Seg::default()
    });
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(|t| t.is_ack(base + 201)));
    assert_eq!(r.r(reg::CNT_DROP_BAD_STATE), 1);
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), 1);
    let (hmd, pages) = r.nb_mem(4096);
    r.submit(&nb_post(0, 3, 0, 4096, hmd, 1));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].bytes, cs[0].flags, cs[0].stream_off),
        (200, CplFlags::FIN, 0)
    );
    assert_eq!(r.nb_read(&pages, 200), s);
    r.delete(0);
    r.assert_all_free();
}

#[test]
fn rst_exact_versus_in_window() {
    let mut r = rig("rst", 64);
    add(&mut r, 0, &SockOpts::default());
    let base = r.handshake(0xFFFF_FFFF);
    let s = bytes(5, 300);
    r.send(data(base, 0, &s, 300));
    r.settle();
    assert!(r.txs()[0].is_ack(base.wrapping_add(300)));
    let rst = |off: u32| Seg {
        seq: base.wrapping_add(off),
        rst: true,
        ..Seg::default()
    };
    // In the window but not exact: challenge ACK, OUT_OF_WINDOW.
    r.send(rst(310));
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 1);
    assert!(t[0].is_ack(base.wrapping_add(300)));
    // Outside the window (either side): OUT_OF_WINDOW, no ACK for an RST.
    r.send(rst(300 + (1 << 24)));
    r.send(rst(290));
    r.settle();
    assert!(r.txs().is_empty());
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), 3);
    // Exact: CLOSED, no ACK; afterwards everything is BAD_STATE and unanswered.
    r.send(rst(300));
    r.send(data(base, 0, &s, 10));
    r.send(Seg {
        seq: base.wrapping_add(300),
        syn: true,
        ..Seg::default()
    });
    r.settle();
    assert!(r.txs().is_empty());
    assert_eq!(r.r(reg::CNT_DROP_BAD_STATE), 2);
    // Delivery: the data, then the head NB returned with RST in stream order.
    let (hmd, pages) = r.nb_mem(4096);
    r.submit(&nb_post(0, 8, 0, 4096, hmd, 1));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].tag, cs[0].bytes, cs[0].flags),
        (8, 300, CplFlags::RST)
    );
    assert_eq!(r.nb_read(&pages, 300), s);
    r.delete(0);
    r.assert_all_free();
}

#[test]
fn sock_del_returns_named_buffers_then_completes() {
    let mut r = rig("sockdel", 64);
    add(&mut r, 1, &SockOpts::default());
    let base = r.handshake(100);
    let s = bytes(6, 1500);
    let (ha, _) = r.nb_mem(1000);
    let (hb, pb) = r.nb_mem(4096);
    let (hc, _) = r.nb_mem(4096);
    r.submit(&nb_post(1, 0xA, 10, 1000, ha, 1));
    r.submit(&nb_post(1, 0xB, 11, 4096, hb, 1));
    r.submit(&nb_post(1, 0xC, 12, 4096, hc, 1));
    r.send(data(base, 0, &s, 1500));
    r.send(raw(base, 2000, vec![1; 100]));
    r.send(raw(base, 2500, vec![2; 900]));
    r.settle();
    r.txs();
    let cs = r.wait_cpls(1);
    assert_eq!((cs[0].tag, cs[0].flags), (0xA, CplFlags::FULL));
    assert!(r.r(reg::CNT_FREE_BUFLETS) < 256);
    let cs = r.delete(1);
    let got: Vec<(CplKind, u32, u32, CplFlags, u64)> = cs
        .iter()
        .map(|c| (c.kind, c.tag, c.bytes, c.flags, c.stream_off))
        .collect();
    assert_eq!(
        got,
        vec![
            (CplKind::NbReturn, 0xB, 500, CplFlags::DELETE, 1000),
            (CplKind::NbReturn, 0xC, 0, CplFlags::DELETE, 1500),
            (CplKind::CmdDone, 0xDE1E_0001, 0, CplFlags::empty(), 0),
        ]
    );
    assert_eq!(r.cpu_read(pb[0], 500), &s[1000..1500]);
    r.assert_all_free();
    // In-order segments without an NB and held ones are freed too.
    add(&mut r, 1, &SockOpts::default());
    let base = r.handshake(100);
    r.send(data(base, 0, &s, 1500));
    r.send(raw(base, 1500, vec![3; 700]));
    r.send(raw(base, 3000, vec![3; 700]));
    r.settle();
    assert_eq!(r.txs().len(), 3);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 256 - 3);
    let cs = r.delete(1);
    assert_eq!(cs.len(), 1);
    r.assert_all_free();
    // Frames for a deleted socket match nothing; a bad SOCK_DEL is BAD_SOCK.
    r.send(Seg {
        seq: 1,
        syn: true,
        ..Seg::default()
    });
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 1);
    let errs = r.r(reg::CNT_REQ_ERRORS);
    r.submit(&sock_del(1, 91));
    r.submit(&sock_del(64, 92));
    let cs = r.wait_cpls(2);
    assert!(cs.iter().all(|c| c.kind == CplKind::CmdDone
        && c.status == Status::BadSock
        && c.opcode == Opcode::SockDel.code()));
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), errs + 2);
    // Two sockets on one 4-tuple: the newest matches; deleting it uncovers the older one.
    add(
        &mut r,
        4,
        &SockOpts {
            iss: 4000,
            ..SockOpts::default()
        },
    );
    add(
        &mut r,
        5,
        &SockOpts {
            iss: 5000,
            ..SockOpts::default()
        },
    );
    let syn = Seg {
        seq: 9,
        syn: true,
        ..Seg::default()
    };
    r.send(syn.clone());
    r.settle();
    let t = r.txs();
    assert_eq!((t.len(), t[0].syn, t[0].seq), (1, true, 5000));
    r.delete(5);
    r.send(syn);
    r.settle();
    let t = r.txs();
    assert_eq!((t.len(), t[0].syn, t[0].seq), (1, true, 4000));
    r.delete(4);
    r.assert_all_free();
}

#[test]
fn psh_return() {
    let mut r = rig("psh", 64);
    add(
        &mut r,
        0,
        &SockOpts {
            flags: SockFlags::PSH_RETURN,
            ..SockOpts::default()
        },
    );
    add(
        &mut r,
        1,
        &SockOpts {
            vlan: 1,
            ..SockOpts::default()
        },
    );
    let base = r.handshake(0);
    let s = bytes(8, 2000);
    let (h0, p0) = r.nb_mem(4096);
    let (h1, p1) = r.nb_mem(4096);
    let (h2, p2) = r.nb_mem(300);
    let (h3, p3) = r.nb_mem(4096);
    r.submit(&nb_post(0, 0, 0, 4096, h0, 1));
    r.submit(&nb_post(0, 1, 1, 4096, h1, 1));
    r.submit(&nb_post(0, 2, 2, 300, h2, 1));
    r.submit(&nb_post(0, 3, 3, 4096, h3, 1));
    r.run(2000);
    let mut seg = data(base, 0, &s, 100);
    seg.psh = true;
    r.send(seg); // NB 0 returned PSH with 100 bytes
    r.send(data(base, 100, &s, 150)); // no PSH: stays in NB 1
    let mut seg = data(base, 150, &s, 210);
    seg.urg = true;
    r.send(seg); // URG counts as PSH: NB 1 returned with 110 bytes
    let mut seg = data(base, 210, &s, 510);
    seg.psh = true;
    r.send(seg); // fills NB 2 exactly: FULL only
    let mut seg = data(base, 510, &s, 600);
    seg.psh = true;
    seg.fin = true;
    r.send(seg); // PSH with FIN: NB 3 returned FIN, not PSH
    r.settle();
    let cs = r.wait_cpls(4);
    let got: Vec<(u32, u32, CplFlags, u64)> = cs
        .iter()
        .map(|c| (c.tag, c.bytes, c.flags, c.stream_off))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 100, CplFlags::PSH, 0),
            (1, 110, CplFlags::PSH, 100),
            (2, 300, CplFlags::FULL, 210),
            (3, 90, CplFlags::FIN, 510),
        ]
    );
    assert_eq!(r.nb_read(&p0, 100), &s[..100]);
    assert_eq!(r.nb_read(&p1, 110), &s[100..210]);
    assert_eq!(r.nb_read(&p2, 300), &s[210..510]);
    assert_eq!(r.nb_read(&p3, 90), &s[510..600]);
    let acks: Vec<u32> = r.txs().iter().map(|t| t.ack).collect();
    assert_eq!(acks, vec![101, 151, 211, 511, 602]);
    // Without the flag a PSH segment does not return the buffer.
    let b1 = r.handshake_vlan(0, Some(1));
    let (h4, _) = r.nb_mem(4096);
    r.submit(&nb_post(1, 4, 4, 4096, h4, 1));
    let mut seg = data(b1, 0, &s, 100);
    seg.psh = true;
    seg.vlan = Some(1);
    r.send(seg);
    r.settle();
    assert!(r.cpls().is_empty());
    assert_eq!(r.r(reg::CNT_DELIVERED_BYTES), 700);
    let cs = r.delete(1);
    assert_eq!(
        (cs[0].tag, cs[0].bytes, cs[0].flags),
        (4, 100, CplFlags::DELETE)
    );
    r.delete(0);
    r.assert_all_free();
}

/// The pool window: 32 buflets, reserve 2, no NB, no window scale: each held frame takes one
/// buflet and `win` shrinks by BUFLET_BYTES/2 (1024) per frame while RCV_NXT moves by 1000, so
/// the first ACK's right edge (1000 + 29 * 1024 = 30696) is the promise every later ACK keeps
/// (`adv = promised`). When the pool room reaches 0 the ACKs advertise 0, but the promised
/// bytes are still accepted (the old rule, `win` alone, dropped them OUT_OF_WINDOW).
#[test]
fn window_closes_when_the_pool_runs_low_and_the_promise_is_kept() {
    let mut c = cfg(64);
    c.num_buflets = 32;
    let mut r = Rig::new("poolwin", c, 64, 64);
    add(&mut r, 0, &SockOpts::default());
    let base = r.handshake_full(0, None, false);
    let s = bytes(3, 40_000);
    for k in 0..31 {
        r.send(data(base, k * 1000, &s, k * 1000 + 1000));
    }
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 31);
    const EDGE: u32 = 1000 + 29 * 1024;
    for (k, t) in t.iter().enumerate() {
        // Frame k is picked with 32 - k - 1 free buflets (its own taken).
        let free = 32 - k as u32 - 1;
        let room = free.saturating_sub(2) * 1024;
        let acked = 1000 * (k as u32 + 1);
        if k < 29 {
            assert!(t.is_ack(base + acked), "{k}: {t:?}");
            // `win` (the pool room) is below the promise from frame 1 on.
            assert!(room <= EDGE - acked, "{k}");
            assert_eq!(t.window as u32, EDGE - acked, "{k}");
        } else if k == 29 {
            // Pool room 0: window 0, yet the segment lies inside the promise (1696 bytes).
            assert_eq!(room, 0);
            assert!(t.is_ack(base + 30_000), "{k}: {t:?}");
            assert_eq!(t.window, 0, "{k}");
        } else {
            // Cut to the 696 promised bytes that were left.
            assert!(t.is_ack(base + EDGE), "{k}: {t:?}");
            assert_eq!(t.window, 0, "{k}");
        }
    }
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), 0);
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 31);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 1);
    // Nothing beyond the promise: a byte at the edge is out of the (closed) window.
    r.send(data(base, EDGE as usize, &s, EDGE as usize + 10));
    r.settle();
    let t = r.txs();
    assert_eq!((t.len(), t[0].ack, t[0].window), (1, base + EDGE, 0));
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), 1);
    let (hmd, pages) = r.nb_mem(32768);
    r.submit(&nb_post(0, 1, 0, 32768, hmd, 8));
    r.settle();
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 32);
    r.send(data(base, EDGE as usize, &s, 31_696));
    r.settle();
    let t = r.txs();
    // Picked with 31 free: win = 29 * 1024 again, from the new RCV_NXT.
    assert!(t[0].is_ack(base + 31_696));
    assert_eq!(t[0].window, 29 * 1024);
    let cs = r.delete(0);
    assert_eq!((cs[0].bytes, cs[0].flags), (31_696, CplFlags::DELETE));
    assert_eq!(r.nb_read(&pages, 31_696), &s[..31_696]);
    r.assert_all_free();
}

/// A loss episode (docs/tcp-receive.md "The window"): while segments wait in the reassembly
/// list, every duplicate ACK repeats the window of the ACK before the gap exactly (RFC 5681:
/// otherwise the sender does not count it and never fast-retransmits), although each held
/// segment takes a buflet and `win` (the pool room here) shrinks by 8 scale units per segment.
/// Filling the gap drains the list and the right edge moves on, never left.
#[test]
fn duplicate_acks_repeat_the_window_during_a_loss_episode() {
    let mut r = rig("dupwin", 64);
    add(&mut r, 0, &SockOpts::default());
    let base = r.handshake(0x4000_0000);
    let s = bytes(12, 20_000);
    let mut edges = EdgeCheck::new(WSCALE);
    r.send(data(base, 0, &s, 1000));
    r.settle();
    let t = r.txs();
    assert!(t[0].is_ack(base + 1000));
    // Picked with 255 free buflets: pool room (255 - 16) * 1024 = 244736 < RCV_BUF - 1000.
    let w0 = (239 * 1024) >> WSCALE;
    assert_eq!(t[0].window as u32, w0);
    edges.see(1000, t[0].window, false, "first");
    // [1000, 2000) is lost; ten segments after it are held.
    for k in 2..12 {
        r.send(data(base, k * 1000, &s, k * 1000 + 1000));
    }
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 10);
    for (k, t) in t.iter().enumerate() {
        assert!(t.is_ack(base + 1000), "{k}: {t:?}");
        assert_eq!(t.window as u32, w0, "duplicate ACK {k}");
        edges.see(1000, t.window, true, "held");
    }
    assert_eq!(edges.frozen, 10);
    assert_eq!(r.r(reg::CNT_OOO_HELD), 10);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 256 - 11);
    // The retransmission fills the gap: RCV_NXT jumps to 12000. Picked with 244 free:
    // win = 228 * 1024 = 233472, promised = 1000 + 244736 - 12000 = 233736 > win.
    r.send(data(base, 1000, &s, 2000));
    r.settle();
    let t = r.txs();
    assert!(t[0].is_ack(base + 12_000), "{t:?}");
    assert_eq!(t[0].window as u32, 233_736 >> WSCALE);
    edges.see(12_000, t[0].window, false, "drained");
    // A duplicate ACK now (nothing held) may move the edge right, never left.
    r.send(data(base, 0, &s, 1000));
    r.settle();
    let t = r.txs();
    assert!(t[0].is_ack(base + 12_000));
    edges.see(12_000, t[0].window, false, "stale");
    let (hmd, pages) = r.nb_mem(12_000);
    r.submit(&nb_post(0, 1, 0, 12_000, hmd, 3));
    let cs = r.wait_cpls(1);
    assert_eq!((cs[0].bytes, cs[0].flags), (12_000, CplFlags::FULL));
    assert_eq!(r.nb_read(&pages, 12_000), &s[..12_000]);
    r.delete(0);
    r.assert_all_free();
}

/// The ACK for a segment that starts a loss episode is computed after the segment joined the
/// reassembly list, so it already carries the frozen window: RCV_BUF 3000, no scale; a named
/// buffer takes the first 1000 bytes (so `win` is back to 3000, but no window update is sent),
/// then a segment after a gap is answered with the promised 2000, not 3000.
#[test]
fn the_first_held_segment_already_freezes_the_window() {
    let mut r = rig("freeze1", 64);
    add(
        &mut r,
        0,
        &SockOpts {
            rcv_buf: 3000,
            ..SockOpts::default()
        },
    );
    let base = r.handshake_full(0x10, None, false);
    let s = bytes(13, 3000);
    r.send(data(base, 0, &s, 1000));
    r.settle();
    let t = r.txs();
    assert!(t[0].is_ack(base + 1000));
    assert_eq!(t[0].window, 2000);
    let (hmd, pages) = r.nb_mem(1000);
    r.submit(&nb_post(0, 1, 0, 1000, hmd, 1));
    let cs = r.wait_cpls(1);
    assert_eq!((cs[0].bytes, cs[0].flags), (1000, CplFlags::FULL));
    assert!(r.txs().is_empty(), "no window update on NB_POST");
    r.send(data(base, 2000, &s, 2500));
    r.settle();
    let t = r.txs();
    assert!(t[0].is_ack(base + 1000));
    assert_eq!(t[0].window, 2000, "frozen at the promise");
    // The gap is filled: the list drains and the window is `win` again (3000 - 1500 held).
    r.send(data(base, 1000, &s, 2000));
    r.settle();
    let t = r.txs();
    assert!(t[0].is_ack(base + 2500));
    assert_eq!(t[0].window, 1500);
    assert_eq!(r.nb_read(&pages, 1000), &s[..1000]);
    r.delete(0);
    r.assert_all_free();
}

/// The SYN-ACK rule: its window is `min(win, 65535)`, unscaled, and the SYN that enters
/// SYN_RCVD sets RCV_WND_EDGE = RCV_NXT before the update rule runs, so the SYN-ACK's edge is
/// the first promise. With 32 buflets and no window scale the SYN-ACK advertises 29 * 1024;
/// another socket then takes 3 buflets, and the first data ACK keeps the promise (29696 - 1000)
/// although `win` is only 26 * 1024. A peer that opens again (RST in SYN_RCVD, then a new SYN
/// far from the old one) gets a fresh edge.
#[test]
fn syn_ack_sets_the_first_edge() {
    let mut c = cfg(64);
    c.num_buflets = 32;
    let mut r = Rig::new("synedge", c, 64, 64);
    add(&mut r, 0, &SockOpts::default());
    add(
        &mut r,
        1,
        &SockOpts {
            vlan: 1,
            ..SockOpts::default()
        },
    );
    let b1 = r.handshake_vlan(7, Some(1));
    let syn = |seq: u32| Seg {
        seq,
        syn: true,
        opts: vec![2, 4, 0x05, 0xB4],
        ..Seg::default()
    };
    // A first open that is reset in SYN_RCVD: its edge (around 0x9000_0000) must not linger.
    r.send(syn(0x9000_0000));
    r.send(Seg {
        seq: 0x9000_0001,
        rst: true,
        ..Seg::default()
    });
    r.settle();
    let t = r.txs();
    assert_eq!((t.len(), t[0].window), (1, 29 * 1024));
    // The real open at IRS 99 (SEQ 100 is stream offset 0): picked with 31 free buflets.
    r.send(syn(99));
    r.settle();
    let t = r.txs();
    assert_eq!((t.len(), t[0].syn, t[0].window), (1, true, 29 * 1024));
    // Socket 1 holds three segments (it has no named buffer).
    let s = bytes(4, 3000);
    for k in 0..3 {
        let mut seg = data(b1, k * 100, &s, k * 100 + 100);
        seg.vlan = Some(1);
        r.send(seg);
    }
    r.settle();
    assert_eq!(r.txs().len(), 3);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 29);
    // The handshake ACK carries 1000 bytes; picked with 28 free: win = 26 * 1024.
    let base = 100;
    r.send(data(base, 0, &s, 1000));
    r.settle();
    let t = r.txs();
    assert!(t[0].is_ack(base + 1000), "{t:?}");
    assert_eq!(t[0].window, 29 * 1024 - 1000);
    r.delete(0);
    r.delete(1);
    r.assert_all_free();
}

/// The socket window: with no NB posted it closes after RCV_BUF bytes, scaled by RCV_WSCALE.
#[test]
fn window_closes_without_named_buffers() {
    let mut r = rig("sockwin", 512);
    add(
        &mut r,
        0,
        &SockOpts {
            rcv_buf: 20_000,
            wscale: 2,
            ..SockOpts::default()
        },
    );
    let base = r.handshake(0);
    let s = bytes(1, 30_000);
    let mut off = 0;
    while off < 30_000 {
        let e = (off + 1400).min(30_000);
        r.send(data(base, off, &s, e));
        off = e;
    }
    r.settle();
    let t = r.txs();
    let mut acked = 0u32;
    for t in &t {
        let want = (acked + 1400).min(20_000);
        assert_eq!(t.ack, base + want);
        assert_eq!(t.window as u32, (20_000 - want) >> 2);
        acked = want;
    }
    assert_eq!(acked, 20_000);
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 15); // 14 full segments and the 400-byte cut
    let (hmd, pages) = r.nb_mem(20_000);
    r.submit(&nb_post(0, 1, 0, 20_000, hmd, 5));
    let cs = r.wait_cpls(1);
    assert_eq!((cs[0].bytes, cs[0].flags), (20_000, CplFlags::FULL));
    assert_eq!(r.nb_read(&pages, 20_000), &s[..20_000]);
    assert!(r.txs().is_empty());
    r.delete(0);
    r.assert_all_free();
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
    r.delete(0);
    r.assert_all_free();
}
