//! Request validation and the completion ring.

mod common;

use buflet_spec::{reg, CplFlags, CplKind, Opcode, ReqHdr, SockDesc, Status};
use common::*;

#[test]
fn bad_requests_complete_with_errors() {
    let mut r = Rig::new("badreq", cfg(64), 32, 32);
    let hmd = r.alloc(8);
    // A UDP socket (PROTO 17) ignores RCV_BUF and RCV_WSCALE: not validated.
    let udp = SockDesc {
        proto: 17,
        rcv_buf: 0,
        rcv_wscale: 99,
        ..sock_desc(4, 0, 0)
    }
    .to_bytes();
    let icmp = SockDesc {
        proto: 1,
        ..sock_desc(5, 0, 0)
    }
    .to_bytes();
    let with = |rcv_buf: u32, wscale: u8| {
        sock_add_opts(6, 0, &SockOpts::default().rcv_buf(rcv_buf).wscale(wscale))
    };
    let cases: Vec<([u8; 64], Option<Status>)> = vec![
        (req(0x77, 0), Some(Status::BadOpcode)),
        (sock_del(0, 0), Some(Status::BadSock)), // not in use
        (sock_add(64, 0, 0), Some(Status::BadSock)),
        (sock_add(1, 0, 0), Some(Status::Ok)),
        (sock_add(1, 0, 0), Some(Status::BadSock)),
        (udp, Some(Status::Ok)),
        (icmp, Some(Status::BadSock)),
        (nb_post(2, 0, 0, 100, hmd, 1), Some(Status::BadSock)),
        (nb_post(64, 0, 0, 100, hmd, 1), Some(Status::BadSock)),
        (nb_post(1, 0, 64, 100, hmd, 1), Some(Status::BadNb)),
        (nb_post(1, 0, 3, 100, hmd, 0), Some(Status::BadNb)),
        (nb_post(1, 0, 3, 0, hmd, 1), Some(Status::BadNb)),
        (nb_post(1, 0, 3, 4097, hmd, 1), Some(Status::BadNb)),
        (nb_post(1, 0, 3, 4096, hmd, 1), None), // accepted: no completion
        (nb_post(1, 0, 3, 100, hmd, 1), Some(Status::BadNb)), // slot busy
        (req(Opcode::Nop, 0), Some(Status::Ok)),
        (with(0, 7), Some(Status::BadSock)),
        (with((1 << 30) + 1, 7), Some(Status::BadSock)),
        (with(1 << 30, 15), Some(Status::BadSock)),
        (with(1 << 30, 14), Some(Status::Ok)),
        (sock_del(6, 0), Some(Status::Ok)),
        (with(1, 0), Some(Status::Ok)),
        (sock_del(6, 0), Some(Status::Ok)),
        (sock_del(6, 0), Some(Status::BadSock)),
    ];
    let mut want = vec![];
    for (i, (mut e, st)) in cases.into_iter().enumerate() {
        let mut h = ReqHdr::parse(&e).unwrap();
        h.tag = 500 + i as u32;
        h.emit(&mut e);
        r.submit(&e);
        if let Some(st) = st {
            want.push((500 + i as u32, st));
        }
    }
    let cs = r.wait_cpls(want.len());
    let got: Vec<(u32, Status)> = cs.iter().map(|c| (c.tag, c.status)).collect();
    assert_eq!(got, want);
    assert!(cs.iter().all(|c| c.kind == CplKind::CmdDone));
    assert_eq!(
        r.r(reg::CNT_REQ_ERRORS),
        want.iter().filter(|w| w.1 != Status::Ok).count() as u32
    );
    assert_eq!(r.r(reg::REQ_HEAD), 24);
    // Deleting socket 1 returns its NB (tag 513, slot 3) first.
    let cs = r.delete(1);
    assert_eq!(
        (cs[0].kind, cs[0].tag, cs[0].ref_num, cs[0].flags),
        (CplKind::NbReturn, 513, 3, CplFlags::DELETE)
    );
    assert_eq!(cs.len(), 2);
    assert_eq!(r.delete(4).len(), 1);
    r.assert_all_free();
}

#[test]
fn refused_fetch_is_bad_opcode() {
    let mut r = Rig::new("refused", cfg(64), 4, 4);
    r.env.mem.unregister(r.req_base, 4 * 64);
    r.submit(&req(Opcode::Nop, 42));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].status, cs[0].tag, cs[0].opcode),
        (Status::BadOpcode, 0, 0)
    );
    r.assert_all_free();
}

#[test]
fn completion_ring_wraps_and_stalls_when_full() {
    let mut r = Rig::new("cplring", cfg(64), 16, 4);
    for i in 0..10 {
        r.submit(&req(Opcode::Nop, i));
    }
    r.run(20_000);
    assert_eq!(r.r(reg::CPL_TAIL), 4); // ring full: the producer stalls
    let mut tags = vec![];
    for _ in 0..20 {
        tags.extend(r.cpls().iter().map(|c| c.tag));
        r.run(2_000);
    }
    assert_eq!(tags, (0..10).collect::<Vec<u32>>());
    assert_eq!(r.r(reg::CPL_TAIL), 10);
    assert_eq!(r.r(reg::CNT_CPL_POSTED), 10);
    r.assert_all_free();
}
