//! Acceptability and trimming (docs/tcp-receive.md) with exact windows: segments left of the
//! window, overlapping its edges, the zero window, pure ACKs and one-byte probes.

use super::*;

/// Acceptability and trimming with exact windows: RCV_BUF 3000, no window scale, no NB.
#[test]
fn acceptability_trimming_and_zero_window() {
    let o = SockOpts::default().rcv_buf(3000);
    let (mut r, base) = opened_with("accept", 0, &o, 0x8000_0000, false);
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
    expect(&mut r, data(base, 1500, &s, 3001).fin().psh(), 3000, 0);
    // Zero window: data is out of window; a pure ACK exactly at RCV_NXT is fine (no answer);
    // a pure ACK ahead is not.
    expect(&mut r, data(base, 3000, &s, 3100), 3000, 0);
    oow += 1;
    r.send(Seg::at(base.wrapping_add(3000)));
    r.settle();
    assert!(r.txs().is_empty());
    expect(&mut r, Seg::at(base.wrapping_add(3005)), 3000, 0);
    oow += 1;
    // A one-byte window probe is answered (window still 0).
    expect(&mut r, data(base, 3000, &s, 3001), 3000, 0);
    oow += 1;
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), oow);
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 3);
    // Posting a named buffer opens the window but sends no window update.
    let pages = r.post_nb(0, 5, 3, 8192);
    r.settle();
    assert!(r.txs().is_empty());
    assert_eq!(r.r(reg::CNT_DELIVERED_BYTES), 3000);
    // The next probe is accepted.
    expect(&mut r, data(base, 3000, &s, 3001), 3001, 2999);
    // A pure ACK ahead inside the window is consumed without an answer.
    r.send(Seg::at(base.wrapping_add(3011)));
    r.settle();
    assert!(r.txs().is_empty());
    r.send(Seg::at(base.wrapping_add(3001)).fin());
    r.settle();
    assert!(r.txs()[0].is_ack(base.wrapping_add(3002)));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].tag, cs[0].bytes, cs[0].flags),
        (5, 3001, CplFlags::FIN)
    );
    assert_eq!(r.nb_read(&pages, 3001), &s[..3001]);
    r.finish(0);
}
