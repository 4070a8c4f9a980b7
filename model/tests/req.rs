//! Request validation and the completion ring.

mod common;

use buflet_spec::{cpl_flag, cpl_kind, op, put, reg, sock_desc, status};
use common::*;

#[test]
fn bad_requests_complete_with_errors() {
    let mut r = Rig::new("badreq", cfg(64), 32, 32);
    let hmd = r.alloc(8);
    // A UDP socket (PROTO 17) ignores RCV_BUF and RCV_WSCALE: not validated.
    let mut udp = sock_add(4, 0, 0);
    put(&mut udp, sock_desc::PROTO, 17);
    put(&mut udp, sock_desc::RCV_BUF, 0);
    put(&mut udp, sock_desc::RCV_WSCALE, 99);
    let mut icmp = sock_add(5, 0, 0);
    put(&mut icmp, sock_desc::PROTO, 1);
    let with = |rcv_buf: u32, wscale: u8| {
        sock_add_opts(
            6,
            0,
            &SockOpts {
                rcv_buf,
                wscale,
                ..SockOpts::default()
            },
        )
    };
    let cases: Vec<([u8; 64], u64)> = vec![
        (req(0x77, 0), status::BAD_OPCODE),
        (sock_del(0, 0), status::BAD_SOCK), // not in use
        (sock_add(64, 0, 0), status::BAD_SOCK),
        (sock_add(1, 0, 0), status::OK),
        (sock_add(1, 0, 0), status::BAD_SOCK),
        (udp, status::OK),
        (icmp, status::BAD_SOCK),
        (nb_post(2, 0, 0, 100, hmd, 1), status::BAD_SOCK),
        (nb_post(64, 0, 0, 100, hmd, 1), status::BAD_SOCK),
        (nb_post(1, 0, 64, 100, hmd, 1), status::BAD_NB),
        (nb_post(1, 0, 3, 100, hmd, 0), status::BAD_NB),
        (nb_post(1, 0, 3, 0, hmd, 1), status::BAD_NB),
        (nb_post(1, 0, 3, 4097, hmd, 1), status::BAD_NB),
        (nb_post(1, 0, 3, 4096, hmd, 1), u64::MAX), // accepted: no completion
        (nb_post(1, 0, 3, 100, hmd, 1), status::BAD_NB), // slot busy
        (req(op::NOP, 0), status::OK),
        (with(0, 7), status::BAD_SOCK),
        (with((1 << 30) + 1, 7), status::BAD_SOCK),
        (with(1 << 30, 15), status::BAD_SOCK),
        (with(1 << 30, 14), status::OK),
        (sock_del(6, 0), status::OK),
        (with(1, 0), status::OK),
        (sock_del(6, 0), status::OK),
        (sock_del(6, 0), status::BAD_SOCK),
    ];
    let mut want = vec![];
    for (i, (mut e, st)) in cases.into_iter().enumerate() {
        put(&mut e, buflet_spec::req_hdr::TAG, 500 + i as u64);
        r.submit(&e);
        if st != u64::MAX {
            want.push((500 + i as u64, st));
        }
    }
    let cs = r.wait_cpls(want.len());
    let got: Vec<(u64, u64)> = cs.iter().map(|c| (c.tag, c.status)).collect();
    assert_eq!(got, want);
    assert!(cs.iter().all(|c| c.kind == cpl_kind::CMD_DONE));
    assert_eq!(
        r.r(reg::CNT_REQ_ERRORS),
        want.iter().filter(|w| w.1 != 0).count() as u32
    );
    assert_eq!(r.r(reg::REQ_HEAD), 24);
    // Deleting socket 1 returns its NB (tag 513, slot 3) first.
    let cs = r.delete(1);
    assert_eq!(
        (cs[0].kind, cs[0].tag, cs[0].ref_num, cs[0].flags),
        (cpl_kind::NB_RETURN, 513, 3, cpl_flag::DELETE)
    );
    assert_eq!(cs.len(), 2);
    assert_eq!(r.delete(4).len(), 1);
    r.assert_all_free();
}

#[test]
fn refused_fetch_is_bad_opcode() {
    let mut r = Rig::new("refused", cfg(64), 4, 4);
    r.env.mem.unregister(r.req_base, 4 * 64);
    r.submit(&req(op::NOP, 42));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (cs[0].status, cs[0].tag, cs[0].opcode),
        (status::BAD_OPCODE, 0, 0)
    );
    r.assert_all_free();
}

#[test]
fn completion_ring_wraps_and_stalls_when_full() {
    let mut r = Rig::new("cplring", cfg(64), 16, 4);
    for i in 0..10 {
        r.submit(&req(op::NOP, i));
    }
    r.run(20_000);
    assert_eq!(r.r(reg::CPL_TAIL), 4); // ring full: the producer stalls
    let mut tags = vec![];
    for _ in 0..20 {
        tags.extend(r.cpls().iter().map(|c| c.tag));
        r.run(2_000);
    }
    assert_eq!(tags, (0..10).collect::<Vec<u64>>());
    assert_eq!(r.r(reg::CPL_TAIL), 10);
    assert_eq!(r.r(reg::CNT_CPL_POSTED), 10);
    r.assert_all_free();
}
