//! PSH_RETURN (docs/tcp-receive.md): a PSH (or URG) segment returns the named buffer it lands in
//! when the socket asks for it, and not otherwise.

use super::*;

#[test]
fn psh_return() {
    let mut r = rig("psh", 64);
    add(&mut r, 0, &SockOpts::default().flags(SockFlags::PSH_RETURN));
    add(&mut r, 1, &SockOpts::default().vlan(1));
    let base = r.handshake(0);
    let s = bytes(8, 2000);
    let p0 = r.post_nb(0, 0, 0, 4096);
    let p1 = r.post_nb(0, 1, 1, 4096);
    let p2 = r.post_nb(0, 2, 2, 300);
    let p3 = r.post_nb(0, 3, 3, 4096);
    r.run(2000);
    r.send(data(base, 0, &s, 100).psh()); // NB 0 returned PSH with 100 bytes
    r.send(data(base, 100, &s, 150)); // no PSH: stays in NB 1
    r.send(data(base, 150, &s, 210).urg()); // URG counts as PSH: NB 1 returned with 110 bytes
    r.send(data(base, 210, &s, 510).psh()); // fills NB 2 exactly: FULL only
    r.send(data(base, 510, &s, 600).psh().fin()); // PSH with FIN: NB 3 returned FIN, not PSH
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
    r.post_nb(1, 4, 4, 4096);
    r.send(data(b1, 0, &s, 100).psh().vlan(Some(1)));
    r.settle();
    assert!(r.cpls().is_empty());
    assert_eq!(r.r(reg::CNT_DELIVERED_BYTES), 700);
    let cs = r.delete(1);
    assert_eq!(
        (cs[0].tag, cs[0].bytes, cs[0].flags),
        (4, 100, CplFlags::DELETE)
    );
    r.finish(0);
}
