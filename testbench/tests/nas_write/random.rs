//! Random writes (offsets, lengths, modes, a scattered file, some submitted together) against
//! the `Vec` oracle, and the strategies that draw them; the property tests themselves are in
//! `main.rs`, so their names stay at the crate root.

use crate::*;

/// Random writes (offsets, lengths, modes, a scattered file, some submitted together) against
/// a plain `Vec` oracle: the disk image's sha256 must match.
pub fn random_writes(
    backend: Backend,
    mode: WriteMode,
    map_seed: u64,
    writes: &[(u64, u64, bool)],
) {
    let total: u64 = writes.iter().map(|w| w.1).sum();
    let data = frames::payload(map_seed ^ 0x5eed, total as usize);
    let mut rig = Rig::with_mode(backend, "prop", 64 * BLOCK, 8, 4, mode);
    rig.receive(&data, false);
    let file = Scattered::new(8, 24, map_seed);
    let mut mirror = Mirror::new(&rig, &data);
    for (k, &(off, len, wait)) in writes.iter().enumerate() {
        mirror.write(&mut rig, &file, k as u32, off, len);
        if wait {
            rig.settle();
        }
    }
    rig.settle();
    for (k, &(_, len, _)) in writes.iter().enumerate() {
        ok_once(&mirror.out, k as u32, len);
    }
    assert_disk(&rig, &mirror.oracle, &format!("{mode} {writes:?}"));
    let s = rig.nas.stats();
    let copies = copies(mode);
    assert_eq!(s.cpu_copied, copies * total);
    assert_eq!(rig.drv.env.mem.stats().cpu_copied, copies * total);
    if mode == WriteMode::P2p {
        assert_eq!(rig.drv.counter(reg::CNT_BLK_DEV_BYTES) as u64, total);
        assert_eq!(s.dev_bytes, total);
    }
    assert_eq!(rig.nas.written(), total);
    rig.finish();
}

pub fn write_list() -> impl Strategy<Value = Vec<(u64, u64, bool)>> {
    prop::collection::vec((0..16 * BLOCK, 1..3 * BLOCK + 2, any::<bool>()), 1..7)
}

pub fn mode() -> impl Strategy<Value = WriteMode> {
    prop::sample::select(WriteMode::ALL.to_vec())
}
