//! The handshake (docs/tcp-receive.md): what LISTEN and SYN_RCVD answer and drop, the SYN-ACK
//! bytes (options, MSS, window scale, VLAN, ISS wrap), data on the handshake ACK.

use super::*;

#[test]
fn handshake_and_syn_ack_bytes() {
    let mut r = rig("handshake", 64);
    // Socket 1: untagged, defaults. Socket 2: VLAN 9, small buffer, other MSS and scale.
    add(&mut r, 1, &SockOpts::default());
    let b = SockOpts::default()
        .vlan(9)
        .iss(0xFFFF_FFFF)
        .rcv_buf(5000)
        .mss(536)
        .wscale(3);
    add(&mut r, 2, &b);

    // LISTEN: anything but a SYN without ACK is BAD_STATE, never answered.
    for s in [
        Seg::at(7).rst(),
        Seg::at(7).syn().ack(1),
        Seg::at(7),
        Seg::at(7).syn().rst(),
    ] {
        r.send(s);
    }
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_BAD_STATE), 4);
    assert!(r.txs().is_empty());

    // SYN with MSS + NOP + WS(8): SYN-ACK with MSS and our scale, window min(win, 65535).
    let irs = 0xFFFF_FFF0u32;
    r.send(Seg::at(irs).syn().opts(vec![2, 4, 0x05, 0xB4, 1, 3, 3, 8]));
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
    r.send(Seg::at(irs).syn().opts(vec![2, 4, 0x05, 0xB4, 1, 3, 3, 8]));
    // Another SYN, a wrong ACK number and an ACK-less segment: BAD_STATE.
    r.send(Seg::at(irs + 5).syn());
    r.send(
        Seg::at(irs.wrapping_add(1))
            .ack(ISS.wrapping_add(2))
            .payload(vec![1; 10]),
    );
    r.send(Seg::at(irs.wrapping_add(1)).no_ack().payload(vec![1; 10]));
    // RST not at RCV_NXT: OUT_OF_WINDOW; at RCV_NXT: back to LISTEN, silently.
    r.send(Seg::at(irs.wrapping_add(2)).rst());
    r.send(Seg::at(irs.wrapping_add(1)).rst());
    r.settle();
    assert_eq!(r.txs(), vec![sa.clone()]);
    assert_eq!(r.r(reg::CNT_DROP_BAD_STATE), 7);
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), 1);
    // In LISTEN again: a SYN without options gets the MSS option only.
    let irs2 = 5000u32;
    r.send(Seg::at(irs2).syn());
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
    r.send(Seg::at(irs2 + 1).payload(d.clone()));
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 1);
    assert!(t[0].is_ack(irs2 + 101), "{t:?}");
    assert_eq!(t[0].window, 65535);
    assert_eq!(r.r(reg::CNT_RX_ACCEPTED), 1);

    // Socket 2 on VLAN 9: its own ISS, MSS, scale; window = RCV_BUF; ACK windows scaled by 3.
    // WS 20 is taken as 14.
    let ws20 = vec![1, 1, 1, 1, 1, 3, 3, 20, 0, 0, 0, 0];
    r.send(Seg::at(77).syn().vlan(Some(9)).opts(ws20));
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].vlan, t[0].seq, t[0].ack, t[0].window, t[0].len),
        (Some(9), 0xFFFF_FFFF, 78, 5000, 66)
    );
    assert_eq!(t[0].opts, vec![2, 4, 0x02, 0x18, 1, 3, 3, 3]);
    // ACK 0: ISS + 1 wraps.
    r.send(Seg::at(78).vlan(Some(9)).ack(0).payload(d.clone()));
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
    let p1 = r.post_nb(1, 1, 1, 100);
    let p2 = r.post_nb(2, 2, 2, 100);
    let cs = r.wait_cpls(2);
    assert!(cs
        .iter()
        .all(|c| c.flags == CplFlags::FULL && c.bytes == 100));
    assert_eq!(r.nb_read(&p1, 100), d);
    assert_eq!(r.nb_read(&p2, 100), d);
    r.delete(1);
    r.finish(2);
}
