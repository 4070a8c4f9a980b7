//! The end of a connection (docs/tcp-receive.md): FIN in order and ahead, RST exact versus in
//! the window, and SOCK_DEL returning the named buffers before its completion.

use super::*;

/// A data segment with its own payload at stream offset `off`.
fn raw(base: u32, off: usize, payload: Vec<u8>) -> Seg {
    Seg::at(base.wrapping_add(off as u32)).payload(payload)
}

#[test]
fn fin_in_order_and_ahead() {
    let (mut r, base) = opened("fin", 0, 400);
    let s = bytes(4, 200);
    // A zero-length FIN ahead is not held: ACK + OUT_OF_ORDER.
    r.send(Seg::at(base + 200).fin());
    // Data + FIN ahead is held with its FIN.
    r.send(data(base, 100, &s, 200).fin());
    // The gap: drained up to and including the FIN.
    r.send(data(base, 0, &s, 100));
    r.settle();
    let acks: Vec<u32> = r.txs().iter().map(|t| t.ack).collect();
    assert_eq!(acks, vec![base, base, base + 201]);
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_ORDER), 1);
    assert_eq!(r.r(reg::CNT_OOO_HELD), 1);
    // CLOSE_WAIT: data is answered and dropped BAD_STATE, a pure ACK is consumed.
    r.send(data(base, 0, &s, 10));
    r.send(Seg::at(base + 201).payload(vec![1; 10]));
    r.send(Seg::at(base + 201));
    r.settle();
    let t = r.txs();
    assert_eq!(t.len(), 2);
    assert!(t.iter().all(|t| t.is_ack(base + 201)));
    assert_eq!(r.r(reg::CNT_DROP_BAD_STATE), 1);
    assert_eq!(r.r(reg::CNT_DROP_OUT_OF_WINDOW), 1);
    let c = nb_returns(&mut r, 3, 4096, &s, CplFlags::FIN);
    assert_eq!(c.stream_off, 0);
    r.finish(0);
}

#[test]
fn rst_exact_versus_in_window() {
    let (mut r, base) = opened("rst", 0, 0xFFFF_FFFF);
    let s = bytes(5, 300);
    r.send(data(base, 0, &s, 300));
    r.settle();
    assert!(r.txs()[0].is_ack(base.wrapping_add(300)));
    let rst = |off: u32| Seg::at(base.wrapping_add(off)).rst();
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
    r.send(Seg::at(base.wrapping_add(300)).syn());
    r.settle();
    assert!(r.txs().is_empty());
    assert_eq!(r.r(reg::CNT_DROP_BAD_STATE), 2);
    // Delivery: the data, then the head NB returned with RST in stream order.
    nb_returns(&mut r, 8, 4096, &s, CplFlags::RST);
    r.finish(0);
}

#[test]
fn sock_del_returns_named_buffers_then_completes() {
    let (mut r, base) = opened("sockdel", 1, 100);
    let s = bytes(6, 1500);
    r.post_nb(1, 0xA, 10, 1000);
    let pb = r.post_nb(1, 0xB, 11, 4096);
    r.post_nb(1, 0xC, 12, 4096);
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
    r.send(Seg::at(1).syn());
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
    add(&mut r, 4, &SockOpts::default().iss(4000));
    add(&mut r, 5, &SockOpts::default().iss(5000));
    let syn = Seg::at(9).syn();
    r.send(syn.clone());
    r.settle();
    let t = r.txs();
    assert_eq!((t.len(), t[0].syn, t[0].seq), (1, true, 5000));
    r.delete(5);
    r.send(syn);
    r.settle();
    let t = r.txs();
    assert_eq!((t.len(), t[0].syn, t[0].seq), (1, true, 4000));
    r.finish(4);
}
