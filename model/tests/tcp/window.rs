//! The receive window (docs/tcp-receive.md "The window"): closing when the pool runs low and when
//! no named buffer is posted, the promise kept after the pool closes, duplicate ACKs that repeat
//! the window during a loss episode, the window frozen by the first held segment, and the edge
//! the SYN-ACK sets.

use super::*;

/// The pool window: 32 buflets, reserve 2, no NB, no window scale: each held frame takes one
/// buflet and `win` shrinks by BUFLET_BYTES/2 (1024) per frame while RCV_NXT moves by 1000, so
/// the first ACK's right edge (1000 + 29 * 1024 = 30696) is the promise every later ACK keeps
/// (`adv = promised`). When the pool room reaches 0 the ACKs advertise 0, but the promised
/// bytes are still accepted (the old rule, `win` alone, dropped them OUT_OF_WINDOW).
#[test]
fn window_closes_when_the_pool_runs_low_and_the_promise_is_kept() {
    let mut r = small_pool("poolwin");
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
    let pages = r.post_nb(0, 1, 0, 32768);
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
    let (mut r, base) = opened("dupwin", 0, 0x4000_0000);
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
    nb_returns(&mut r, 1, 12_000, &s[..12_000], CplFlags::FULL);
    r.finish(0);
}

/// The ACK for a segment that starts a loss episode is computed after the segment joined the
/// reassembly list, so it already carries the frozen window: RCV_BUF 3000, no scale; a named
/// buffer takes the first 1000 bytes (so `win` is back to 3000, but no window update is sent),
/// then a segment after a gap is answered with the promised 2000, not 3000.
#[test]
fn the_first_held_segment_already_freezes_the_window() {
    let o = SockOpts::default().rcv_buf(3000);
    let (mut r, base) = opened_with("freeze1", 0, &o, 0x10, false);
    let s = bytes(13, 3000);
    r.send(data(base, 0, &s, 1000));
    r.settle();
    let t = r.txs();
    assert!(t[0].is_ack(base + 1000));
    assert_eq!(t[0].window, 2000);
    nb_returns(&mut r, 1, 1000, &s[..1000], CplFlags::FULL);
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
    r.finish(0);
}

/// The SYN-ACK rule: its window is `min(win, 65535)`, unscaled, and the SYN that enters
/// SYN_RCVD sets RCV_WND_EDGE = RCV_NXT before the update rule runs, so the SYN-ACK's edge is
/// the first promise. With 32 buflets and no window scale the SYN-ACK advertises 29 * 1024;
/// another socket then takes 3 buflets, and the first data ACK keeps the promise (29696 - 1000)
/// although `win` is only 26 * 1024. A peer that opens again (RST in SYN_RCVD, then a new SYN
/// far from the old one) gets a fresh edge.
#[test]
fn syn_ack_sets_the_first_edge() {
    let mut r = small_pool("synedge");
    add(&mut r, 1, &SockOpts::default().vlan(1));
    let b1 = r.handshake_vlan(7, Some(1));
    let syn = |seq: u32| Seg::at(seq).syn().opts(vec![2, 4, 0x05, 0xB4]);
    // A first open that is reset in SYN_RCVD: its edge (around 0x9000_0000) must not linger.
    r.send(syn(0x9000_0000));
    r.send(Seg::at(0x9000_0001).rst());
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
        r.send(data(b1, k * 100, &s, k * 100 + 100).vlan(Some(1)));
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
    r.finish(1);
}

/// The socket window: with no NB posted it closes after RCV_BUF bytes, scaled by RCV_WSCALE.
#[test]
fn window_closes_without_named_buffers() {
    let mut r = rig("sockwin", 512);
    add(&mut r, 0, &SockOpts::default().rcv_buf(20_000).wscale(2));
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
    nb_returns(&mut r, 1, 20_000, &s[..20_000], CplFlags::FULL);
    assert!(r.txs().is_empty());
    r.finish(0);
}
