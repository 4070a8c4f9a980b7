//! Read-modify-write of partial blocks through `OP_BLK_READ` (the seed's three cases, zero-copy
//! and p2p), ordering of writes that share a block, and the zeroed tail of the last block at the
//! end of the stream.

use crate::*;

/// The seed's three read-modify-write cases, an aligned write beside them, and two writes that
/// share a block submitted back to back; zero-copy (new bytes from the named buffers) or p2p
/// (new bytes from buflet memory, CNT_BLK_DEV_BYTES counting exactly them).
pub fn rmw_cases(backend: Backend, mode: WriteMode) {
    let p2p = mode == WriteMode::P2p;
    let mut rig = Rig::with_mode(backend, "rmw", 64 * BLOCK, 8, 4, mode);
    let data = frames::payload(21, 60_000);
    rig.receive(&data, false);
    let file = ExtentFile {
        disk_start: 16 * BLOCK,
        capacity: 32 * BLOCK,
    };
    let mut mirror = Mirror::new(&rig, &data);
    // (case, file offset, length, blocks read back)
    let cases: [(&str, u64, u64, u64); 5] = [
        ("less than one block", 3 * BLOCK + 100, 300, 1),
        (
            "a non-integer number of blocks",
            8 * BLOCK,
            2 * BLOCK + 1234,
            1,
        ),
        (
            "a destination offset not aligned",
            12 * BLOCK + 777,
            3 * BLOCK,
            2,
        ),
        ("two partial blocks, 200 bytes", 20 * BLOCK + 4000, 200, 2),
        ("whole aligned blocks", 24 * BLOCK, 2 * BLOCK, 0),
    ];
    for (k, &(name, off, len, rmw)) in cases.iter().enumerate() {
        let s0 = rig.nas.stats();
        let m0 = rig.drv.env.mem.stats();
        let d0 = rig.drv.env.disk.stats();
        let reads0 = rig.drv.counter(reg::CNT_BLK_READS);
        let dev0 = rig.drv.counter(reg::CNT_BLK_DEV_BYTES);
        mirror.write(&mut rig, &file, k as u32, off, len);
        rig.settle();
        assert_disk(&rig, &mirror.oracle, name);
        ok_once(&mirror.out, k as u32, len);
        let s = rig.nas.stats();
        let m = rig.drv.env.mem.stats();
        let d = rig.drv.env.disk.stats();
        let kept = blocks_of(off, len) * BLOCK - len;
        assert_eq!(
            s.rmw_blocks - s0.rmw_blocks,
            rmw,
            "{name}: blocks read back"
        );
        assert_eq!(
            s.rmw_kept_bytes - s0.rmw_kept_bytes,
            kept,
            "{name}: old bytes kept"
        );
        assert_eq!(
            rig.drv.counter(reg::CNT_BLK_READS) - reads0,
            rmw as u32,
            "{name}"
        );
        assert_eq!(d.reads - d0.reads, rmw, "{name}: disk reads");
        assert_eq!(
            d.writes - d0.writes,
            blocks_of(off, len),
            "{name}: one block-device write per block"
        );
        // Only the kept old bytes enter host memory (the replaced ones are discarded on the
        // way), and the CPU copies nothing.
        assert_eq!(m.blk_written - m0.blk_written, kept, "{name}: bounce bytes");
        assert_eq!(
            m.cpu_copied, m0.cpu_copied,
            "{name}: the CPU copied payload"
        );
        // The block DMA reads every byte of every block once (new from the named buffers,
        // kept from the bounce block) plus the scatter-gather elements; p2p: the new bytes
        // come from buflet memory, never from host memory.
        let dev = rig.drv.counter(reg::CNT_BLK_DEV_BYTES) - dev0;
        assert_eq!(
            dev as u64,
            if p2p { len } else { 0 },
            "{name}: DEVMEM bytes"
        );
        let payload_reads = if p2p {
            kept
        } else {
            blocks_of(off, len) * BLOCK
        };
        let blk_read = m.blk_read - m0.blk_read;
        assert!(
            blk_read >= payload_reads && blk_read < payload_reads + 32 * 40,
            "{name}: block DMA read {blk_read} bytes for {payload_reads}"
        );
    }
    assert_eq!(rig.nas.stats().serialized, 0);

    // Two writes sharing block 28 (the second also covers block 29), and a third on block 31:
    // the second waits for the first (its read must see the first's bytes), the third does not.
    let shared = [
        (28 * BLOCK + 100, 300u64),
        (28 * BLOCK + 200, 5000),
        (31 * BLOCK, 1000),
    ];
    for (j, &(off, len)) in shared.iter().enumerate() {
        mirror.write(&mut rig, &file, 10 + j as u32, off, len);
    }
    assert_eq!(
        rig.nas.commands_in_flight(),
        2,
        "the first and the third run at once"
    );
    rig.settle();
    assert_disk(&rig, &mirror.oracle, "writes sharing a block");
    for (j, &(_, len)) in shared.iter().enumerate() {
        ok_once(&mirror.out, 10 + j as u32, len);
    }
    let s = rig.nas.stats();
    assert_eq!(s.serialized, 1);
    assert_eq!((s.writes_ok, s.writes_failed, s.retries), (8, 0, 0));
    assert_eq!(s.cpu_copied, 0);
    // Every stream byte written went to disk and its buffers were re-posted.
    assert_eq!(rig.nas.written(), mirror.cursor);
    rig.finish();
}

pub fn rmw_cases_model() {
    rmw_cases(Backend::Model, WriteMode::ZeroCopy);
}

pub fn rmw_cases_rtl() {
    rmw_cases(Backend::Rtl, WriteMode::ZeroCopy);
}

pub fn rmw_cases_p2p_model() {
    rmw_cases(Backend::Model, WriteMode::P2p);
}

pub fn rmw_cases_p2p_rtl() {
    rmw_cases(Backend::Rtl, WriteMode::P2p);
}

/// A write that ends at the end of the stream (FIN) ends the file: the rest of its last block is
/// written as zeros without a read, unless that is turned off.
pub fn eof_tail(backend: Backend) {
    let data = frames::payload(31, 10_000);
    let file = ExtentFile {
        disk_start: 4 * BLOCK,
        capacity: 8 * BLOCK,
    };
    for zero_tail in [true, false] {
        let mut rig = Rig::new(backend, &format!("eof{zero_tail}"), 16 * BLOCK, 2, 4);
        rig.nas.set_zero_tail_at_eof(zero_tail);
        rig.receive(&data, true);
        assert_eq!(rig.nas.eof, Some(10_000));
        write_from_start(&mut rig, &file, 10_000);
        let mut oracle = rig.initial.clone();
        oracle_write(&mut oracle, &file, 0, &data);
        if zero_tail {
            oracle_zero_tail(&mut oracle, &file, 10_000);
        }
        assert_disk(&rig, &oracle, "end of the stream");
        assert_eq!(rig.nas.stats().rmw_blocks, u64::from(!zero_tail));
        assert_eq!(rig.nas.written(), 10_000);
        rig.finish();
    }
}

pub fn eof_tail_model() {
    eof_tail(Backend::Model);
}

pub fn eof_tail_rtl() {
    eof_tail(Backend::Rtl);
}
