//! Bouncing (`NasStream::bounce`): received bytes copied out of their named buffers so the
//! socket gets the buffers back, while peeks and writes of the bytes use the copy.

use crate::*;

/// Four one-page named buffers, all returned and held by 16 KiB of data: the bounce copies
/// all of it but the part a write in flight reads, the buffers go back to the NIC, peeks read
/// the same bytes, a write from the copies (partial blocks too) lands on the disk as the oracle
/// says, and the copies go back once their bytes are written or discarded. A p2p stream
/// bounces nothing (its buffers go back at once).
pub fn bounce(backend: Backend) {
    let mut rig = Rig::new(backend, "bounce", 64 * BLOCK, 4, 1);
    let data = frames::payload(33, 4 * BLOCK as usize);
    rig.receive(&data, false);
    assert_eq!(rig.nas.posted_count(), 0, "every buffer is back and held");
    let file = ExtentFile {
        disk_start: 8 * BLOCK,
        capacity: 32 * BLOCK,
    };
    let mut oracle = rig.whole_disk();
    let out: Outcomes = Default::default();
    // A write in flight over [0, 2000): those bytes stay in their buffer.
    rig.nas
        .write(&mut rig.drv, &file, 0, 0, 2000, recorder(&out, 1))
        .unwrap();
    oracle_write(&mut oracle, &file, 0, &data[..2000]);
    let m0 = rig.drv.env.mem.stats();
    let n = rig.nas.bounce(&mut rig.drv, 0, 4 * BLOCK).unwrap();
    assert_eq!(n, 4 * BLOCK - 2000, "everything but the write's bytes");
    assert_eq!(rig.nas.stats().bounced_bytes, n);
    assert_eq!(rig.nas.bounced_bytes(), n);
    let m1 = rig.drv.env.mem.stats();
    assert!(
        m1.total() - m0.total() >= 2 * n,
        "the copy reads and writes host memory"
    );
    // Bouncing again copies nothing.
    assert_eq!(rig.nas.bounce(&mut rig.drv, 0, 4 * BLOCK).unwrap(), 0);
    // The three buffers not read by the write are posted again.
    assert_eq!(rig.nas.posted_count(), 3);
    let mut back = vec![0u8; data.len()];
    rig.nas.peek(&mut rig.drv, 0, &mut back).unwrap();
    assert_eq!(back, data, "peek reads the copies");
    rig.settle();
    assert_eq!(calls(&out, 1), 1);
    assert_eq!(
        rig.nas.posted_count(),
        4,
        "the write's buffer went back too"
    );
    // A write from the copies, with partial blocks at both ends.
    let (f, s, l) = (5 * BLOCK + 300, 2500, 9000);
    rig.nas
        .write(&mut rig.drv, &file, f, s, l, recorder(&out, 2))
        .unwrap();
    oracle_write(&mut oracle, &file, f, &data[s as usize..(s + l) as usize]);
    rig.settle();
    assert!(
        out.borrow().iter().all(|(_, r)| r.is_ok()),
        "{:?}",
        out.borrow()
    );
    assert_eq!(
        sha256_hex(&rig.whole_disk()),
        sha256_hex(&oracle),
        "{backend:?}: the disk"
    );
    assert_eq!(rig.nas.stats().cpu_copied, 0, "no CPU copy in the write");
    // Every byte written or discarded: the copies go back.
    rig.nas.discard(&mut rig.drv, 0, 4 * BLOCK).unwrap();
    assert_eq!(rig.nas.bounced_bytes(), 0);
    rig.finish();

    let mut p2p = Rig::with_mode(backend, "bounce-p2p", 64 * BLOCK, 4, 1, WriteMode::P2p);
    p2p.receive(&data, false);
    assert_eq!(p2p.nas.bounce(&mut p2p.drv, 0, 4 * BLOCK).unwrap(), 0);
    p2p.finish();
}

pub fn bounce_model() {
    bounce(Backend::Model);
}

pub fn bounce_rtl() {
    bounce(Backend::Rtl);
}
