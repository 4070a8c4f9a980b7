//! Named-buffer timeouts (docs/rx-paths.md): ticks by TIMER_KICK, the order of the sweep over
//! the active list (UDP sockets included, SOCK_DEL unlinking), and ticks by TIMER_PERIOD.

use super::*;

fn kick(r: &mut Rig) {
    r.w(reg::TIMER_KICK, 1);
    r.run(500);
}

#[test]
fn timeouts_by_kick() {
    let mut r = rig("tkick", 64);
    ok(&mut r, &sock_add(0, 1, 0));
    let mut seq = r.handshake(5000);
    let stream = bytes(7, 20_000);
    let mut off = 0usize;
    let mut send = |r: &mut Rig, n: usize| {
        tcp_data(r, seq, stream[off..off + n].to_vec());
        seq += n as u32;
        off += n;
    };
    let to = CplFlags::TIMEOUT;

    // An empty buffer: returned after exactly TIMEOUT ticks, with the socket's STREAM_OFF.
    post_nb(&mut r, 0, 10, 1, 4096, 3);
    r.run(2_000);
    kick(&mut r);
    kick(&mut r);
    assert!(r.cpls().is_empty());
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(0, 10, 1, 0, to, 0, 0)]);
    assert_eq!(r.r(reg::CNT_TICKS), 3);
    assert_eq!(r.r(reg::CNT_TIMEOUTS), 1);

    // TIMEOUT 0: never. Only head buffers count down.
    let p1 = post_nb(&mut r, 0, 11, 2, 4096, 0);
    let p2 = post_nb(&mut r, 0, 12, 3, 4096, 2);
    r.run(2_000);
    send(&mut r, 100);
    for _ in 0..6 {
        kick(&mut r);
    }
    assert!(r.cpls().is_empty());
    // Fill the head: the second buffer becomes the head with its ticks untouched.
    send(&mut r, 3996);
    assert_eq!(r.cpls(), vec![nb_ret(0, 11, 2, 4096, CplFlags::FULL, 0, 0)]);
    assert_eq!(r.nb_read(&p1, 4096), &stream[..4096]);
    kick(&mut r);
    assert!(r.cpls().is_empty());
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(0, 12, 3, 0, to, 0, 4096)]);
    assert!(r.cpu_read(p2[0], 4096).iter().all(|&b| b == 0));

    // Partly filled: returned with what it holds; later data goes to the next buffer.
    let p3 = post_nb(&mut r, 0, 13, 4, 8192, 2);
    let p4 = post_nb(&mut r, 0, 14, 5, 1000, 0);
    r.run(2_000);
    send(&mut r, 500);
    kick(&mut r);
    assert!(r.cpls().is_empty());
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(0, 13, 4, 500, to, 0, 4096)]);
    assert_eq!(r.nb_read(&p3, 500), &stream[4096..4596]);
    send(&mut r, 1000);
    assert_eq!(
        r.cpls(),
        vec![nb_ret(0, 14, 5, 1000, CplFlags::FULL, 0, 4596)]
    );
    assert_eq!(r.nb_read(&p4, 1000), &stream[4596..5596]);

    // Data waiting without a buffer goes to the buffer posted after a timeout.
    post_nb(&mut r, 0, 15, 6, 4096, 1);
    r.run(2_000);
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(0, 15, 6, 0, to, 0, 5596)]);
    send(&mut r, 300);
    assert!(r.cpls().is_empty());
    let p6 = post_nb(&mut r, 0, 16, 7, 300, 1);
    assert_eq!(
        r.wait_cpls(1),
        vec![nb_ret(0, 16, 7, 300, CplFlags::FULL, 0, 5596)]
    );
    assert_eq!(r.nb_read(&p6, 300), &stream[5596..5896]);

    let ticks = 3 + 6 + 2 + 2 + 1;
    assert_eq!(r.r(reg::CNT_TICKS), ticks);
    assert_eq!(r.r(reg::CNT_TIMEOUTS), 4);
    assert_eq!(r.r(reg::CNT_NB_RETURNED), 7);
    r.delete(0);
    // A tick with no socket on the active list.
    kick(&mut r);
    assert_eq!(r.r(reg::CNT_TICKS), ticks + 1);
    assert!(r.cpls().is_empty());
    r.assert_all_free();
}

/// The sweep walks the active list from its head, where SOCK_ADD inserts: the newest socket's
/// buffer is returned first. UDP sockets are on the list too; SOCK_DEL unlinks.
#[test]
fn timeout_sweep_order_and_udp() {
    let mut r = rig("tsweep", 64);
    ok(&mut r, &sock_add(4, 1, 0));
    ok(&mut r, &udp_sock_add(9, 2, 0));
    ok(&mut r, &sock_add(6, 3, 3));
    for (i, s) in [4u16, 9, 6].into_iter().enumerate() {
        post_nb(&mut r, s, 20 + i as u32, i as u32, 4096, 1);
    }
    r.run(2_000);
    kick(&mut r);
    let to = CplFlags::TIMEOUT;
    assert_eq!(
        r.cpls(),
        vec![
            nb_ret(6, 22, 2, 0, to, 0, 0),
            nb_ret(9, 21, 1, 0, to, 0, 0),
            nb_ret(4, 20, 0, 0, to, 0, 0),
        ]
    );
    // After SOCK_DEL of the middle one, the others still count down.
    r.delete(9);
    post_nb(&mut r, 6, 30, 0, 4096, 2);
    post_nb(&mut r, 4, 31, 1, 4096, 1);
    r.run(2_000);
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(4, 31, 1, 0, to, 0, 0)]);
    kick(&mut r);
    assert_eq!(r.cpls(), vec![nb_ret(6, 30, 0, 0, to, 0, 0)]);
    assert_eq!(r.r(reg::CNT_TIMEOUTS), 5);
    r.delete(4);
    r.finish(6);
}

#[test]
fn timeouts_by_period() {
    let mut r = rig("tperiod", 64);
    ok(&mut r, &sock_add(0, 1, 0));
    post_nb(&mut r, 0, 10, 1, 4096, 5);
    r.run(2_000);
    assert_eq!(r.r(reg::CNT_TICKS), 0);
    r.w(reg::TIMER_PERIOD, 1000);
    assert_eq!(r.r(reg::TIMER_PERIOD), 1000);
    // Ticks 1000, 2000, ... cycles after the write.
    r.run(4_500);
    assert_eq!(r.r(reg::CNT_TICKS), 4);
    assert!(r.cpls().is_empty());
    r.run(1_000);
    assert_eq!(r.r(reg::CNT_TICKS), 5);
    assert_eq!(r.cpls(), vec![nb_ret(0, 10, 1, 0, CplFlags::TIMEOUT, 0, 0)]);
    r.run(10_000);
    let t = r.r(reg::CNT_TICKS);
    assert!((15..=16).contains(&t), "{t}");
    // 0 stops the periodic ticks; kicks still work.
    r.w(reg::TIMER_PERIOD, 0);
    let t = r.r(reg::CNT_TICKS);
    r.run(50_000);
    assert_eq!(r.r(reg::CNT_TICKS), t);
    kick(&mut r);
    assert_eq!(r.r(reg::CNT_TICKS), t + 1);
    // A period of 1: requests merge while a tick is pending or being swept.
    r.w(reg::TIMER_PERIOD, 1);
    r.run(1_000);
    r.w(reg::TIMER_PERIOD, 0);
    let n = r.r(reg::CNT_TICKS) - t - 1;
    assert!(n > 100 && n < 1_000, "{n}");
    assert_eq!(r.r(reg::CNT_TIMEOUTS), 1);
    r.finish(0);
}
