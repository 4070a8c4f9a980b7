//! A file held as its written extents over holes of zeros: the reference of a run whose writes
//! land at scattered offsets. Memory follows the bytes written, not the file's length, so a
//! 100-byte WRITE at offset 2^32 costs 100 bytes, and the sha256 of the whole file is hashed
//! as a stream (holes fed as zeros).

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Zeros fed to the hash for holes, a slice at a time.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// A sparse file: extents of bytes (non-overlapping, non-adjacent) and a length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SparseFile {
    len: u64,
    extents: BTreeMap<u64, Vec<u8>>,
}

impl SparseFile {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// A file that is exactly `data`.
    pub fn from_bytes(data: Vec<u8>) -> Self {
        let mut f = SparseFile::new();
        f.len = data.len() as u64;
        if !data.is_empty() {
            f.extents.insert(0, data);
        }
        f
    }

    /// The file's length: the end of its furthest write.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held in extents (what the file costs in memory).
    pub fn data_bytes(&self) -> u64 {
        self.extents.values().map(|v| v.len() as u64).sum()
    }

    /// The extents, in offset order.
    pub fn extents(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.extents.iter().map(|(&o, v)| (o, v.as_slice()))
    }

    /// Write `data` at `off` over whatever is there (a later write wins). `None` when the range
    /// ends past `u64::MAX` (nothing is written).
    pub fn write(&mut self, off: u64, data: &[u8]) -> Option<()> {
        let end = off.checked_add(data.len() as u64)?;
        if data.is_empty() {
            return Some(());
        }
        // The extent this write extends (it starts at or before `off` and reaches it), kept
        // in place so a stream of appends grows one vector.
        let base = self
            .extents
            .range(..=off)
            .next_back()
            .filter(|(s, v)| *s + v.len() as u64 >= off)
            .map(|(s, _)| *s);
        let start = base.unwrap_or(off);
        let mut buf = base
            .and_then(|s| self.extents.remove(&s))
            .unwrap_or_default();
        // Extents starting inside the write or right after it merge in; only what reaches past
        // the write's end survives.
        let later: Vec<u64> = self
            .extents
            .range(start.saturating_add(1)..=end)
            .map(|(s, _)| *s)
            .collect();
        for s in later {
            let v = self.extents.remove(&s).unwrap_or_default();
            let v_end = s + v.len() as u64;
            if v_end > end {
                let at = (s - start) as usize;
                buf.resize((v_end - start) as usize, 0);
                buf[at..].copy_from_slice(&v);
            }
        }
        let rel = (off - start) as usize;
        if buf.len() < rel + data.len() {
            buf.resize(rel + data.len(), 0);
        }
        buf[rel..rel + data.len()].copy_from_slice(data);
        self.extents.insert(start, buf);
        self.len = self.len.max(end);
        Some(())
    }

    /// The whole file as one vector (for small files: tests, reports).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.len as usize];
        self.read(0, &mut v);
        v
    }

    /// Hex sha256 of the whole file, holes as zeros.
    pub fn sha256_hex(&self) -> String {
        let mut h = Sha256::new();
        let mut at = 0u64;
        for (&off, v) in &self.extents {
            feed_zeros(&mut h, off - at);
            h.update(v);
            at = off + v.len() as u64;
        }
        feed_zeros(&mut h, self.len - at);
        hex::encode(h.finalize())
    }

    /// The bytes `off..off + out.len()` (zeros in holes and past the end).
    pub fn read(&self, off: u64, out: &mut [u8]) {
        out.fill(0);
        let end = off.saturating_add(out.len() as u64);
        let first = self
            .extents
            .range(..=off)
            .next_back()
            .map(|(s, _)| *s)
            .unwrap_or(off);
        for (&s, v) in self.extents.range(first..end) {
            let (a, b) = (s.max(off), (s + v.len() as u64).min(end));
            if a < b {
                out[(a - off) as usize..(b - off) as usize]
                    .copy_from_slice(&v[(a - s) as usize..(b - s) as usize]);
            }
        }
    }
}

/// Feed `n` zero bytes to `h`.
pub(crate) fn feed_zeros(h: &mut Sha256, mut n: u64) {
    while n > 0 {
        let k = n.min(ZEROS.len() as u64) as usize;
        h.update(&ZEROS[..k]);
        n -= k as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Against a dense vector, over seeded overlapping writes.
    #[test]
    fn matches_a_dense_file() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let mut s = SparseFile::new();
            let mut d: Vec<u8> = Vec::new();
            for _ in 0..rng.gen_range(0..12) {
                let off = rng.gen_range(0..300u64);
                let len = rng.gen_range(0..60usize);
                let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                s.write(off, &data).unwrap();
                if !data.is_empty() {
                    let end = off as usize + len;
                    if d.len() < end {
                        d.resize(end, 0);
                    }
                    d[off as usize..end].copy_from_slice(&data);
                }
            }
            assert_eq!(s.len(), d.len() as u64);
            assert_eq!(s.sha256_hex(), hex::encode(Sha256::digest(&d)));
            let mut back = vec![0u8; d.len() + 7];
            s.read(0, &mut back);
            assert_eq!(&back[..d.len()], &d[..]);
            assert!(back[d.len()..].iter().all(|&b| b == 0));
            // Extents never touch: adjacent writes merged.
            let ex: Vec<(u64, usize)> = s.extents().map(|(o, v)| (o, v.len())).collect();
            assert!(ex.windows(2).all(|w| w[0].0 + w[0].1 as u64 <= w[1].0));
            assert!(s.data_bytes() <= d.len() as u64);
        }
    }

    /// A far write costs its bytes, not its offset; a wrapping range is refused.
    #[test]
    fn far_writes_stay_small() {
        let mut s = SparseFile::new();
        s.write((1 << 32) - 100, &[7; 100]).unwrap();
        assert_eq!((s.len(), s.data_bytes()), (1 << 32, 100));
        assert_eq!(s.write(u64::MAX - 15, &[1; 32]), None);
        assert_eq!(s.len(), 1 << 32);
        let mut b = [0u8; 4];
        s.read((1 << 32) - 102, &mut b);
        assert_eq!(b, [0, 0, 7, 7]);
    }
}
