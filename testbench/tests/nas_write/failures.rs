//! Failures: injected disk errors retried from the block that failed, a permanent failure
//! reaching the caller with its file range (and the same writes landing once the disk heals),
//! and bad requests refused with an error, never a panic.

use crate::*;

/// Injected disk errors (seeded) on reads and writes: every write still lands, each failed
/// block command is retried from the block that failed (a block is written twice only when the
/// engine had sent it behind the failed one), and the retries are counted.
pub fn retries(backend: Backend, mode: WriteMode) {
    let mut rig = Rig::with_mode(backend, "retry", 64 * BLOCK, 8, 4, mode);
    rig.nas.set_max_retries(8);
    let data = frames::payload(41, 110_000);
    rig.receive(&data, false);
    rig.drv.env.disk.set_error_rate(0.2, 1234).unwrap();
    let file = Scattered::new(4, 40, 99);
    let mut mirror = Mirror::new(&rig, &data);
    let writes: [(u64, u64); 6] = [
        (0, 8 * BLOCK),
        (9 * BLOCK + 10, 5 * BLOCK),
        (15 * BLOCK + 300, 100),
        (16 * BLOCK, 6 * BLOCK + 17),
        (23 * BLOCK, 4 * BLOCK),
        (28 * BLOCK + 4000, 2 * BLOCK),
    ];
    let d0 = rig.drv.env.disk.stats();
    for (k, &(off, len)) in writes.iter().enumerate() {
        mirror.write(&mut rig, &file, k as u32, off, len);
    }
    rig.settle();
    for (k, &(_, len)) in writes.iter().enumerate() {
        ok_once(&mirror.out, k as u32, len);
    }
    assert_disk(&rig, &mirror.oracle, "with disk errors");
    let s = rig.nas.stats();
    let d = rig.drv.env.disk.stats();
    assert!(
        s.retries >= 3,
        "{}: only {} retries",
        rig.drv.backend(),
        s.retries
    );
    assert_eq!(s.writes_failed, 0);
    let blocks: u64 = writes.iter().map(|&(o, l)| blocks_of(o, l)).sum();
    // each block written once, but for those the engine sent behind a failed one (up to
    // BLK_WRITES_IN_FLIGHT - 1 per failure) and the retry, starting at the failed block,
    // writes again
    let ahead = (buflet_spec::param::BLK_WRITES_IN_FLIGHT - 1) * s.retries;
    assert!(
        (blocks..=blocks + ahead).contains(&(d.writes - d0.writes)),
        "{} block writes for {blocks} blocks and {} retries",
        d.writes - d0.writes,
        s.retries
    );
    assert_eq!(d.reads - d0.reads, s.rmw_blocks, "each block read once");
    assert_eq!(
        s.commands,
        writes.len() as u64 + rmw_ops(&writes) + s.retries,
        "one block write per write, one block read per read-modify-write, one per retry"
    );
    rig.drv.env.disk.set_error_rate(0.0, 0).unwrap();
    rig.finish();
}

/// Writes of the list that read-modify-write (zero-copy: any partial block).
pub fn rmw_ops(w: &[(u64, u64)]) -> u64 {
    w.iter()
        .filter(|&&(o, l)| o % BLOCK != 0 || (o + l) % BLOCK != 0)
        .count() as u64
}

pub fn disk_errors_are_retried_model() {
    for m in WriteMode::ALL {
        retries(Backend::Model, m);
    }
}

pub fn disk_errors_are_retried_rtl() {
    for m in WriteMode::ALL {
        retries(Backend::Rtl, m);
    }
}

/// A disk that fails every operation: after the retries the error reaches the caller once,
/// with the file range; nothing was marked written and the stream still holds the bytes, so the
/// same writes succeed once the disk is healthy again.
pub fn permanent_failure(backend: Backend, mode: WriteMode) {
    let mut rig = Rig::with_mode(backend, "fail", 32 * BLOCK, 4, 4, mode);
    let data = frames::payload(51, 3 * BLOCK as usize);
    rig.receive(&data, false);
    let file = ExtentFile {
        disk_start: 8 * BLOCK,
        capacity: 16 * BLOCK,
    };
    let out = Outcomes::default();
    rig.drv.env.disk.set_error_rate(1.0, 5).unwrap();
    // An aligned write (its block write fails) and a read-modify-write (its read fails).
    let (a_off, a_len) = (2 * BLOCK, 2 * BLOCK);
    let (b_off, b_len) = (6 * BLOCK + 100, 50);
    // Write `ka` (a, from stream offset 0) and write `kb` (b, the bytes after a's).
    let write_a_b = |rig: &mut Rig, ka: u32, kb: u32| {
        rig.nas
            .write(&mut rig.drv, &file, a_off, 0, a_len, recorder(&out, ka))
            .unwrap();
        rig.nas
            .write(&mut rig.drv, &file, b_off, a_len, b_len, recorder(&out, kb))
            .unwrap();
    };
    write_a_b(&mut rig, 0, 1);
    rig.settle();
    assert_eq!((calls(&out, 0), calls(&out, 1)), (1, 1));
    {
        let o = out.borrow();
        let e = |k: u32| {
            o.iter()
                .find(|(key, _)| *key == k)
                .unwrap()
                .1
                .as_ref()
                .unwrap_err()
        };
        match e(0) {
            WriteError::Block {
                op,
                status: st,
                attempts,
                file_start,
                file_end,
            } => {
                assert_eq!(*op, BlockOp::Write);
                assert_eq!(*st, Status::DiskError);
                assert_eq!(*attempts, 4, "the first try and 3 retries");
                assert_eq!((*file_start, *file_end), (a_off, a_off + a_len));
            }
            other => panic!("write 0: {other:?}"),
        }
        match e(1) {
            WriteError::Block {
                op,
                attempts,
                file_start,
                file_end,
                ..
            } => {
                assert_eq!(*op, BlockOp::Read);
                assert_eq!(*attempts, 4);
                assert_eq!((*file_start, *file_end), (b_off, b_off + b_len));
            }
            other => panic!("write 1: {other:?}"),
        }
        let msg = e(0).to_string();
        assert!(
            msg.contains("DISK_ERROR") && msg.contains("8192..16384"),
            "{msg}"
        );
    }
    let s = rig.nas.stats();
    assert_eq!((s.writes_ok, s.writes_failed, s.retries), (0, 2, 6));
    assert_eq!(rig.nas.written(), 0, "nothing marked written");
    assert!(rig.nas.held_count() > 0, "the stream keeps the bytes");
    assert_disk(&rig, &rig.initial.clone(), "after failures");

    // No retries at all: one attempt.
    rig.nas.set_max_retries(0);
    rig.nas
        .write(&mut rig.drv, &file, a_off, 0, a_len, recorder(&out, 2))
        .unwrap();
    rig.settle();
    assert!(matches!(
        out.borrow().last(),
        Some((2, Err(WriteError::Block { attempts: 1, .. })))
    ));
    assert_eq!(rig.nas.stats().retries, 6);

    // The disk heals: the same writes, from the bytes the stream kept, land.
    rig.drv.env.disk.set_error_rate(0.0, 0).unwrap();
    rig.nas.set_max_retries(3);
    write_a_b(&mut rig, 3, 4);
    rig.settle();
    ok_once(&out, 3, a_len);
    ok_once(&out, 4, b_len);
    let mut oracle = rig.initial.clone();
    oracle_write(&mut oracle, &file, a_off, &data[..a_len as usize]);
    oracle_write(
        &mut oracle,
        &file,
        b_off,
        &data[a_len as usize..(a_len + b_len) as usize],
    );
    assert_disk(&rig, &oracle, "after the disk healed");
    assert_eq!(rig.nas.written(), a_len + b_len);
    // The rest of the stream is not for the disk.
    rig.nas
        .discard(
            &mut rig.drv,
            a_len + b_len,
            data.len() as u64 - a_len - b_len,
        )
        .unwrap();
    assert_eq!(rig.nas.written(), data.len() as u64);
    assert_eq!(rig.nas.held_count(), 0);
    rig.finish();
}

pub fn permanent_failure_reaches_the_caller_model() {
    for m in [WriteMode::ZeroCopy, WriteMode::P2p] {
        permanent_failure(Backend::Model, m);
    }
}

pub fn permanent_failure_reaches_the_caller_rtl() {
    for m in [WriteMode::ZeroCopy, WriteMode::P2p] {
        permanent_failure(Backend::Rtl, m);
    }
}

pub fn bad_requests_are_errors_not_panics() {
    let mut rig = Rig::new(Backend::Model, "bad", 16 * BLOCK, 2, 2);
    let data = frames::payload(71, 5000);
    rig.receive(&data, false);
    let file = ExtentFile {
        disk_start: 0,
        capacity: 4 * BLOCK,
    };
    let out = Outcomes::default();
    let mut w = |off: u64, s: u64, len: u64| {
        rig.nas
            .write(&mut rig.drv, &file, off, s, len, recorder(&out, 0))
            .unwrap_err()
    };
    assert!(matches!(w(0, 0, 0), WriteError::Unsupported(_)));
    assert!(matches!(
        w(0, 4000, 2000),
        WriteError::NotReceived(5000, 6000)
    ));
    assert!(matches!(w(4 * BLOCK - 10, 0, 20), WriteError::Unmapped(o) if o == 4 * BLOCK));
    assert!(matches!(w(u64::MAX - 5, 0, 10), WriteError::Unsupported(_)));
    assert!(matches!(w(0, u64::MAX - 5, 10), WriteError::Unsupported(_)));
    assert!(out.borrow().is_empty(), "a refused write never calls back");
    assert_eq!(rig.nas.writes_in_flight(), 0);
    rig.nas.discard(&mut rig.drv, 0, 5000).unwrap();
    rig.finish();
}

/// A disk that stops answering (issue 11): its first `answered` operations are done, then none
/// is answered. Every block command still completes, with DISK_TIMEOUT after BLK_TIMEOUT
/// cycles; the writer retries as for a medium error, then reports the failure once with the
/// file range; the blocks the disk did before it hung are on disk, and nothing else moved.
pub fn hung_disk(backend: Backend, mode: WriteMode) {
    let mut rig = Rig::with_mode(backend, "hung", 32 * BLOCK, 4, 4, mode);
    let data = frames::payload(53, 4 * BLOCK as usize);
    rig.receive(&data, false);
    let file = ExtentFile {
        disk_start: 8 * BLOCK,
        capacity: 16 * BLOCK,
    };
    let out = Outcomes::default();
    rig.nas.set_max_retries(2);
    rig.drv.set_blk_timeout(4_000);
    // Two blocks are written, then the disk hangs in the middle of the 4-block write.
    rig.drv.env.disk.stop_answering_after(Some(2));
    let (off, len) = (2 * BLOCK, 4 * BLOCK);
    rig.nas
        .write(&mut rig.drv, &file, off, 0, len, recorder(&out, 0))
        .unwrap();
    rig.settle();
    assert_eq!(calls(&out, 0), 1, "the failure reaches the caller once");
    match &out.borrow()[0].1 {
        Err(WriteError::Block {
            op,
            status,
            attempts,
            file_start,
            file_end,
        }) => {
            assert_eq!((*op, *status), (BlockOp::Write, Status::DiskTimeout));
            assert_eq!(*attempts, 3, "the first try and 2 retries");
            assert_eq!((*file_start, *file_end), (off + 2 * BLOCK, off + len));
        }
        other => panic!("{}: {other:?}", rig.drv.backend()),
    }
    assert_eq!(rig.drv.counters().blk_timeouts, 3, "one per attempt");
    assert_eq!(rig.nas.writes_in_flight(), 0, "no completion missing");
    let mut oracle = rig.initial.clone();
    oracle_write(&mut oracle, &file, off, &data[..2 * BLOCK as usize]);
    assert_disk(&rig, &oracle, "after the disk hung");
    rig.nas.discard(&mut rig.drv, 0, data.len() as u64).unwrap();
    rig.finish();
}

pub fn a_hung_disk_ends_in_disk_timeout_model() {
    for m in [WriteMode::ZeroCopy, WriteMode::P2p] {
        hung_disk(Backend::Model, m);
    }
}

pub fn a_hung_disk_ends_in_disk_timeout_rtl() {
    for m in [WriteMode::ZeroCopy, WriteMode::P2p] {
        hung_disk(Backend::Rtl, m);
    }
}
