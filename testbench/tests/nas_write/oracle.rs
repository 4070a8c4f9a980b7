//! The disk oracle and its checks: writes of consecutive stream bytes mirrored into a `Vec` of
//! the disk (`Mirror`), the disk image compared with it by sha256, each write's callback called
//! once with its length, and the CPU copies per byte each mode makes.

use crate::*;

pub fn assert_disk(rig: &Rig, oracle: &[u8], what: &str) {
    let disk = rig.whole_disk();
    if sha256_hex(&disk) != sha256_hex(oracle) {
        let first = disk.iter().zip(oracle).position(|(a, b)| a != b).unwrap();
        panic!(
            "{} {what}: disk differs from the oracle first at byte {first} ({} != {})",
            rig.drv.backend(),
            disk[first],
            oracle[first]
        );
    }
}

/// Writes of consecutive received stream bytes, each submitted to the NAS writer and applied to
/// a `Vec` oracle of the disk.
pub struct Mirror<'a> {
    /// The received stream.
    pub data: &'a [u8],
    /// What the disk must hold.
    pub oracle: Vec<u8>,
    pub out: Outcomes,
    /// Stream offset of the next write's first byte.
    pub cursor: u64,
}

impl<'a> Mirror<'a> {
    pub fn new(rig: &Rig, data: &'a [u8]) -> Self {
        Mirror {
            data,
            oracle: rig.initial.clone(),
            out: Outcomes::default(),
            cursor: 0,
        }
    }

    /// Submit write `key`: the next `len` stream bytes at file offset `off`.
    pub fn write(&mut self, rig: &mut Rig, file: &dyn FileMap, key: u32, off: u64, len: u64) {
        let (from, to) = (self.cursor, self.cursor + len);
        rig.nas
            .write(&mut rig.drv, file, off, from, len, recorder(&self.out, key))
            .unwrap();
        oracle_write(
            &mut self.oracle,
            file,
            off,
            &self.data[from as usize..to as usize],
        );
        self.cursor = to;
    }
}

/// Writes the first `len` stream bytes at file offset 0 (write 0), lets the rig settle and
/// checks that the write completed once with all its bytes; returns its outcomes.
pub fn write_from_start(rig: &mut Rig, file: &dyn FileMap, len: u64) -> Outcomes {
    let out = Outcomes::default();
    rig.nas
        .write(&mut rig.drv, file, 0, 0, len, recorder(&out, 0))
        .unwrap();
    rig.settle();
    ok_once(&out, 0, len);
    out
}

pub fn ok_once(out: &Outcomes, key: u32, len: u64) {
    assert_eq!(calls(out, key), 1, "write {key}: callback called once");
    let o = out.borrow();
    let (_, r) = o.iter().find(|(k, _)| *k == key).unwrap();
    assert!(matches!(r, Ok(n) if *n == len), "write {key}: {r:?}");
}

/// CPU copies of the payload per byte in each mode.
pub fn copies(mode: WriteMode) -> u64 {
    match mode {
        WriteMode::P2p | WriteMode::ZeroCopy => 0,
        WriteMode::Splice => 1,
        WriteMode::Copy => 2,
    }
}
