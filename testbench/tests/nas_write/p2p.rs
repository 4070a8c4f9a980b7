//! p2p streams (docs/p2p.md): the mode follows the socket's HOLD flag, records and chain
//! releases match the device's counters, BUF_RELEASE errors, and SOCK_DEL of a partly delivered
//! segment.

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

/// SOCK_DEL frees a segment the device had only partly delivered into a p2p stream's named
/// buffer (docs/p2p.md): its records (no HEAD) are not used after the deletion, while the held
/// chains of whole segments stay the driver's until it releases them. One buffer of one page:
/// two segments fit whole, the third only in part.
pub fn p2p_sock_del_frees_a_partly_delivered_segment(backend: Backend) {
    let mss = common::MSS as u64;
    let mut rig = Rig::with_mode(backend, "pdel", 16 * BLOCK, 1, 1, WriteMode::P2p);
    let data = frames::payload(91, 3 * common::MSS);
    rig.receive_upto(&data, false, BLOCK);
    assert_eq!(rig.nas.received(), BLOCK, "the buffer took 4096 bytes");
    let file = ExtentFile {
        disk_start: 4 * BLOCK,
        capacity: 4 * BLOCK,
    };
    let out = write_from_start(&mut rig, &file, 2 * mss);
    let mut n = 0;
    while rig.nas.held_chains() != (0, 0) {
        rig.step(20_000);
        n += 1;
        assert!(n < 100, "chains not released: {:?}", rig.nas.held_chains());
    }
    assert_eq!(rig.drv.counters().buf_released, 2);
    // The third segment's chain is still on the socket: the pool is short of it.
    assert!(rig.drv.counters().free_buflets < rig.drv.info.num_buflets);
    for c in rig.drv.del_socket(rig.sock).unwrap() {
        rig.nas.handle(&mut rig.drv, &c).unwrap();
    }
    rig.drv.run(20_000);
    assert_eq!(
        rig.drv.counters().free_buflets,
        rig.drv.info.num_buflets,
        "SOCK_DEL freed the partly delivered segment"
    );
    // Its 1200 delivered bytes are gone with it: the stream notices the deletion (the driver
    // no longer knows the socket) at the next write.
    let e = rig
        .nas
        .write(
            &mut rig.drv,
            &file,
            2 * mss,
            2 * mss,
            100,
            recorder(&out, 1),
        )
        .unwrap_err();
    assert!(matches!(e, WriteError::NotReceived(..)), "{e}");
    assert_eq!(rig.nas.received(), 2 * mss);
    let mut oracle = rig.initial.clone();
    oracle_write(&mut oracle, &file, 0, &data[..2 * common::MSS]);
    assert_disk(&rig, &oracle, "before SOCK_DEL");
    // Giving the rest up frees the buffer, which is not posted again.
    rig.nas.discard(&mut rig.drv, 0, BLOCK).unwrap();
    assert_eq!((rig.nas.held_count(), rig.nas.posted_count()), (0, 0));
    assert!(rig.nas.errors.is_empty(), "{:?}", rig.nas.errors);
    assert_eq!(rig.drv.env.mem.stats().stray_accesses, 0);
}

pub fn p2p_sock_del_frees_a_partly_delivered_segment_model() {
    p2p_sock_del_frees_a_partly_delivered_segment(Backend::Model);
}

pub fn p2p_sock_del_frees_a_partly_delivered_segment_rtl() {
    p2p_sock_del_frees_a_partly_delivered_segment(Backend::Rtl);
}
