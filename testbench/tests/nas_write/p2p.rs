//! p2p streams (docs/p2p.md): the mode follows the socket's HOLD flag, records and chain
//! releases match the device's counters, BUF_RELEASE errors, SOCK_DEL with held chains, and the
//! CPU's window.

use crate::*;

/// p2p fits only a hold socket and the other modes only a socket without HOLD: `set_mode`
/// refuses a mismatch with a clear error; the CPU cannot `peek` a p2p stream; the records the
/// writer read match what the device counted, and every chain goes back.
pub fn p2p_mode_follows_the_socket(backend: Backend) {
    let mut zc = Rig::new(backend, "nohold", 16 * BLOCK, 2, 2);
    let e = zc.nas.set_mode(WriteMode::P2p).unwrap_err();
    assert!(
        matches!(e, WriteError::ModeMismatch { hold: false, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("HOLD"), "{e}");
    assert_eq!(zc.nas.mode(), WriteMode::ZeroCopy);
    zc.finish();

    let mut rig = Rig::with_mode(backend, "hold", 16 * BLOCK, 2, 2, WriteMode::P2p);
    assert!(rig.nas.is_hold());
    for m in [WriteMode::ZeroCopy, WriteMode::Splice, WriteMode::Copy] {
        let e = rig.nas.set_mode(m).unwrap_err();
        assert!(
            matches!(e, WriteError::ModeMismatch { hold: true, .. }),
            "{e}"
        );
    }
    assert_eq!(rig.nas.mode(), WriteMode::P2p);
    let data = frames::payload(81, 7000);
    rig.receive(&data, false);
    // The CPU reads a p2p stream's bytes through the buflet-memory window (docs/p2p.md "The
    // CPU's window"): unaligned, across records and segments, and none crosses host DRAM.
    let cpu = |r: &Rig| {
        let m = r.drv.env.mem.stats();
        (m.cpu_read, m.cpu_written)
    };
    let mem_before = cpu(&rig);
    for (off, len) in [
        (0u64, 16usize),
        (5, 59),
        (1440, 20),
        (1300, 2900),
        (6999, 1),
    ] {
        let mut got = vec![0u8; len];
        rig.nas.peek(&mut rig.drv, off, &mut got).unwrap();
        assert_eq!(
            got,
            data[off as usize..off as usize + len],
            "peek {off}+{len}"
        );
    }
    assert_eq!(
        mem_before,
        cpu(&rig),
        "window reads: no CPU access to host memory"
    );
    let e = rig
        .nas
        .peek(&mut rig.drv, 6990, &mut [0u8; 16])
        .unwrap_err();
    assert!(matches!(e, WriteError::NotReceived(..)), "{e}");
    assert!(rig.drv.counters().buf_win_reads >= 5 + 2900 / 64);
    // The device refuses a window on a buflet no hold record exposed, and an unaligned one.
    let nb = rig.drv.info.num_buflets as u64 - 1;
    let e = rig
        .drv
        .dev_read(nb * rig.drv.info.buflet_bytes as u64, &mut [0u8; 8])
        .unwrap_err();
    assert!(matches!(e, DriverError::WindowRefused(_)), "{e}");
    rig.drv.wr(buflet_spec::reg::BUF_WIN_ADDR, 4);
    rig.drv.run(64);
    assert_eq!(rig.drv.rd(buflet_spec::reg::BUF_WIN_STATUS), 2, "BAD");
    assert_eq!(rig.drv.rd(buflet_spec::reg::BUF_WIN_DATA0), 0);
    let k = rig.drv.counters();
    assert_eq!(k.hold_records as u64, rig.nas.stats().hold_records);
    assert!(
        k.hold_records >= 5,
        "one record per 1448-byte segment at least"
    );
    let file = ExtentFile {
        disk_start: 4 * BLOCK,
        capacity: 4 * BLOCK,
    };
    write_from_start(&mut rig, &file, 7000);
    let mut oracle = rig.initial.clone();
    oracle_write(&mut oracle, &file, 0, &data);
    assert_disk(&rig, &oracle, "p2p write");
    // Every segment's chain was released once written (the window gets its buflets back).
    let mut n = 0;
    while rig.nas.held_chains() != (0, 0) {
        rig.step(20_000);
        n += 1;
        assert!(n < 100, "chains not released: {:?}", rig.nas.held_chains());
    }
    let k = rig.drv.counters();
    assert_eq!(k.buf_released as u64, rig.nas.stats().chains_released);
    assert_eq!(k.buf_released as u64, 7000u64.div_ceil(common::MSS as u64));
    assert_eq!(k.free_buflets, rig.drv.info.num_buflets);
    assert_eq!(k.blk_dev_bytes, 7000);
    assert!(rig.nas.errors.is_empty(), "{:?}", rig.nas.errors);
    // BUF_RELEASE of a chain that is not held, and a COUNT out of range: CMD_DONE/BAD_BUF,
    // nothing released, mapped to a request error naming BAD_BUF. The driver refuses to
    // build an empty or oversized request itself.
    let tag = rig.drv.buf_release(&[3]).unwrap();
    // A tag far from the driver's own (they count up from 1).
    let bad = buflet_spec::BufRelease::new(0xBAD0_0001, &[3; 24], 25).to_bytes();
    rig.drv.submit(&bad).unwrap();
    let mut got = Vec::new();
    for _ in 0..100 {
        got.extend(rig.drv.wait(20_000).unwrap());
        if got.len() >= 2 {
            break;
        }
    }
    assert_eq!(got.len(), 2, "{got:?}");
    for c in &got {
        assert_eq!(c.kind, CplKind::CmdDone, "{c:?}");
        assert_eq!(c.opcode, buflet_spec::Opcode::BufRelease.code());
        assert_eq!((c.status, c.bytes), (Status::BadBuf, 0), "{c:?}");
        assert!(c.result().unwrap_err().to_string().contains("BAD_BUF"));
    }
    assert_eq!(got[0].tag, tag);
    assert_eq!(rig.drv.counters().buf_released, k.buf_released);
    assert!(matches!(
        rig.drv.buf_release(&[]),
        Err(DriverError::Invalid(_))
    ));
    assert!(matches!(
        rig.drv.buf_release(&[1; 25]),
        Err(DriverError::Invalid(_))
    ));
    rig.finish();
}

pub fn p2p_mode_follows_the_socket_model() {
    p2p_mode_follows_the_socket(Backend::Model);
}

pub fn p2p_mode_follows_the_socket_rtl() {
    p2p_mode_follows_the_socket(Backend::Rtl);
}

/// SOCK_DEL of a p2p stream (docs/p2p.md): the held chains of whole segments stay the driver's
/// until it releases them, and their bytes can still be written; the buffer the NIC still had
/// comes back with DELETE and is not posted again. One buffer of one page, posted again as soon
/// as its records are read: the third segment's tail lands in it.
pub fn p2p_sock_del_leaves_held_chains_to_the_driver(backend: Backend) {
    let mss = common::MSS as u64;
    let mut rig = Rig::with_mode(backend, "pdel", 16 * BLOCK, 1, 1, WriteMode::P2p);
    let data = frames::payload(91, 3 * common::MSS);
    rig.receive_upto(&data, false, 3 * mss);
    assert_eq!(
        rig.nas.received(),
        3 * mss,
        "the re-posted buffer took the tail"
    );
    assert_eq!(rig.nas.posted_count(), 1, "the buffer is back in the NIC");
    let file = ExtentFile {
        disk_start: 4 * BLOCK,
        capacity: 4 * BLOCK,
    };
    let out = write_from_start(&mut rig, &file, 2 * mss);
    let mut n = 0;
    while rig.nas.held_chains() != (1, 0) {
        rig.step(20_000);
        n += 1;
        assert!(n < 100, "chains not released: {:?}", rig.nas.held_chains());
    }
    assert_eq!(rig.drv.counters().buf_released, 2);
    // The third segment's chain is held: the pool is short of it.
    assert!(rig.drv.counters().free_buflets < rig.drv.info.num_buflets);
    for c in rig.drv.del_socket(rig.sock).unwrap() {
        rig.nas.handle(&mut rig.drv, &c).unwrap();
    }
    rig.drv.run(20_000);
    assert!(
        rig.drv.counters().free_buflets < rig.drv.info.num_buflets,
        "SOCK_DEL leaves held chains alone"
    );
    assert_eq!(
        rig.nas.posted_count(),
        0,
        "nothing is posted after SOCK_DEL"
    );
    // The held bytes are still the stream's: written, their chain goes back.
    rig.nas
        .write(
            &mut rig.drv,
            &file,
            2 * mss,
            2 * mss,
            mss,
            recorder(&out, 1),
        )
        .unwrap();
    let mut n = 0;
    while rig.nas.held_chains() != (0, 0) || rig.nas.writes_in_flight() > 0 {
        rig.step(20_000);
        n += 1;
        assert!(n < 100, "chain not released: {:?}", rig.nas.held_chains());
    }
    rig.drv.run(20_000);
    assert_eq!(
        rig.drv.counters().free_buflets,
        rig.drv.info.num_buflets,
        "every chain released"
    );
    let mut oracle = rig.initial.clone();
    oracle_write(&mut oracle, &file, 0, &data);
    assert_disk(&rig, &oracle, "after SOCK_DEL");
    assert!(rig.nas.errors.is_empty(), "{:?}", rig.nas.errors);
    assert_eq!(rig.drv.env.mem.stats().stray_accesses, 0);
}

pub fn p2p_sock_del_leaves_held_chains_to_the_driver_model() {
    p2p_sock_del_leaves_held_chains_to_the_driver(Backend::Model);
}

pub fn p2p_sock_del_leaves_held_chains_to_the_driver_rtl() {
    p2p_sock_del_leaves_held_chains_to_the_driver(Backend::Rtl);
}

/// The CPU's window (docs/p2p.md "The CPU's window") over a hold socket's held segments: a
/// BUF_WIN_ADDR write is refused (BAD, data 0) unless aligned, inside buflet memory and its
/// buflet exposed; a taken one clears BUSY within a few polls and BUF_WIN_DATA0..15 hold the 64
/// bytes at the address: two windows 64 bytes apart in each exposed buflet (at offsets 128 and
/// 192, past the frame headers) are consecutive bytes of the stream. Every segment's buflet is
/// found; CNT_BUF_WIN_READS counts the windows taken, BUF_WIN_ADDR reads the last address.
pub fn p2p_window_reads_held_bytes(backend: Backend) {
    use buflet_driver::Driver;
    let mut rig = Rig::with_mode(backend, "window", 16 * BLOCK, 2, 2, WriteMode::P2p);
    let data = frames::payload(83, 7000);
    rig.receive(&data, false);
    let (bb, nb) = (rig.drv.info.buflet_bytes, rig.drv.info.num_buflets);
    let win = buflet_spec::param::WIN_BYTES as u32;
    let mut polls_max = 0;
    // one window: Some(its bytes) when taken, None when refused (its data then reads 0)
    let mut window = |drv: &mut Driver, a: u32| -> Option<Vec<u8>> {
        drv.wr(reg::BUF_WIN_ADDR, a);
        let mut polls = 0;
        let status = loop {
            let s = drv.rd(reg::BUF_WIN_STATUS);
            if s & 1 == 0 {
                break s;
            }
            polls += 1;
            assert!(polls < 100, "window at {a:#x} stays busy");
        };
        polls_max = polls_max.max(polls);
        assert_eq!(
            drv.rd(reg::BUF_WIN_ADDR),
            a,
            "BUF_WIN_ADDR reads the last address"
        );
        if status & 2 != 0 {
            for k in [0, 15] {
                assert_eq!(
                    drv.rd(reg::BUF_WIN_DATA0 + 4 * k),
                    0,
                    "refused {a:#x}: DATA{k}"
                );
            }
            return None;
        }
        assert_eq!(status, 0, "window at {a:#x}");
        Some(
            (0..win / 4)
                .flat_map(|k| drv.rd(reg::BUF_WIN_DATA0 + 4 * k).to_le_bytes())
                .collect(),
        )
    };
    let mut taken = 0;
    let mut found = Vec::new();
    let mut exposed = Vec::new();
    for b in 0..nb {
        let Some(w1) = window(&mut rig.drv, b * bb + 128) else {
            continue;
        };
        exposed.push(b);
        let w2 = window(&mut rig.drv, b * bb + 192).expect("the same buflet's next window");
        taken += 2;
        let at = data
            .windows(w1.len())
            .position(|x| x == w1)
            .unwrap_or_else(|| panic!("buflet {b}: the window at 128 is not the stream's"));
        assert_eq!(w2, data[at + 64..at + 128], "buflet {b}: the window at 192");
        found.push(at);
    }
    found.sort();
    assert_eq!(
        found.len(),
        7000usize.div_ceil(common::MSS),
        "one exposed buflet per segment: {found:?}"
    );
    // refused: misaligned, past buflet memory, a buflet not exposed (and the scan above)
    let used = exposed[0];
    let unexposed = (0..nb).find(|b| !exposed.contains(b)).unwrap();
    for a in [
        used * bb + 128 + 4,
        used * bb + 128 + 32,
        nb * bb,
        u32::MAX - (win - 1),
        unexposed * bb,
    ] {
        assert_eq!(window(&mut rig.drv, a), None, "{a:#x} refused");
    }
    assert_eq!(
        rig.drv.rd(reg::CNT_BUF_WIN_READS),
        taken,
        "CNT_BUF_WIN_READS"
    );
    println!("{backend:?}: window polls until BUSY clear: at most {polls_max}");
    rig.finish();
}

pub fn p2p_window_reads_held_bytes_model() {
    p2p_window_reads_held_bytes(Backend::Model);
}

pub fn p2p_window_reads_held_bytes_rtl() {
    p2p_window_reads_held_bytes(Backend::Rtl);
}
