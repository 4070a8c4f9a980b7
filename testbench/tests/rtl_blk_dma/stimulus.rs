//! Stimulus: valid scatter-gather lists (random lengths, ZERO and DEVMEM elements) written into
//! host memory, and the kinds of list damage (`Fault`) the error cases inject.

use crate::*;

/// Builds scatter-gather lists in host memory.
pub struct Builder {
    pub rng: StdRng,
    pub data_next: u64,
    pub sg_next: u64,
    pub disk_next: u64,
}

#[derive(Clone)]
pub struct Elem {
    pub src: u64,
    pub len: u64,
    pub flags: SgFlags,
    pub disk: u64,
}

/// A random buflet of `bram` whose exposed bit is `exposed`.
pub fn pick_buflet(rng: &mut StdRng, bram: &Bram, exposed: bool) -> u64 {
    let c: Vec<u64> = (0..bram.exposed.len() as u64)
        .filter(|&b| bram.exposed[b as usize] == exposed)
        .collect();
    assert!(!c.is_empty(), "no buflet with exposed = {exposed}");
    c[rng.gen_range(0..c.len())]
}

/// A DEVMEM source for `len` (<= BUFLET_BYTES) bytes inside one buflet with the given
/// exposed bit, at a random (often odd) offset.
pub fn dev_src(rng: &mut StdRng, bram: &Bram, len: u64, exposed: bool) -> u64 {
    let b = pick_buflet(rng, bram, exposed);
    b * bram.bb + rng.gen_range(0..=bram.bb - len)
}

impl Builder {
    pub fn alloc_data(&mut self, len: u64) -> u64 {
        // random byte alignment; never reuse memory (refused bytes stay refused)
        let skew = self.rng.gen_range(0..64);
        assert!(
            self.data_next + skew + len < SG_REGION,
            "test data region exhausted"
        );
        let a = self.data_next + skew;
        self.data_next = a + len;
        a
    }
    pub fn alloc_sg(&mut self) -> u64 {
        assert!(
            self.sg_next + 64 < MEM_BYTES as u64,
            "test element region exhausted"
        );
        let a = self.sg_next;
        self.sg_next += 32 + 32 * self.rng.gen_range(0..2);
        a
    }
    /// A valid element list for `blocks` blocks: random lengths (spanning and straddling
    /// blocks), ZERO elements. A write starts blocks at fresh disk addresses; a read at any
    /// sector of the disk written so far (so it reads back earlier writes, partly overlapping).
    /// A write mixes in DEVMEM elements (length cut to one buflet, exposed buflets of `bram`).
    pub fn valid_list(&mut self, blocks: usize, read: bool, bram: &Bram) -> Vec<Elem> {
        let total = (blocks * BLOCK) as u64;
        let mut out = Vec::new();
        let mut pos = 0u64;
        let mut disk = 0u64;
        while pos < total {
            let dev = !read && self.rng.gen_bool(0.4);
            let mut len = match self.rng.gen_range(0..4) {
                0 => self.rng.gen_range(1..64),
                1 => self.rng.gen_range(1..2000),
                2 => self.rng.gen_range(1..9000),
                _ => BLOCK as u64 - pos % BLOCK as u64,
            }
            .min(total - pos);
            if dev {
                len = len.min(bram.bb);
                // often straddle the block boundary when a buflet's worth reaches it
                let room = BLOCK as u64 - pos % BLOCK as u64;
                let most = bram.bb.min(total - pos);
                if room < most && self.rng.gen_bool(0.5) {
                    len = self.rng.gen_range(room + 1..=most);
                }
            }
            if pos.is_multiple_of(BLOCK as u64) && (pos == 0 || self.rng.gen_bool(0.5)) {
                if read {
                    disk = 512 * self.rng.gen_range(0..self.disk_next / 512 + 64);
                } else {
                    self.disk_next += 8 * 512 * self.rng.gen_range(1..4);
                    disk = self.disk_next;
                }
            }
            let zero = !dev && self.rng.gen_bool(0.15);
            let src = if dev {
                dev_src(&mut self.rng, bram, len, true)
            } else if zero {
                self.rng.gen()
            } else {
                self.alloc_data(len)
            };
            let flags = if dev {
                SgFlags::DEVMEM
            } else if zero {
                SgFlags::ZERO
            } else {
                SgFlags::empty()
            };
            out.push(Elem {
                src,
                len,
                flags,
                disk,
            });
            disk += len;
            pos += len;
        }
        if !read {
            self.disk_next = disk.max(self.disk_next) + 4096;
        }
        assert!(
            self.disk_next + (1 << 20) < DISK_BYTES as u64,
            "test disk exhausted"
        );
        out
    }
    /// Writes the list into both memories; returns the first element's address.
    pub fn write_list(&mut self, mems: [&mut Vec<u8>; 2], elems: &[Elem]) -> u64 {
        let addrs: Vec<u64> = elems.iter().map(|_| self.alloc_sg()).collect();
        for (i, e) in elems.iter().enumerate() {
            let b = SgElem {
                src_addr: e.src,
                len: u32::try_from(e.len).unwrap(),
                flags: e.flags,
                disk_addr: e.disk,
                next: addrs.get(i + 1).copied().unwrap_or(0),
            }
            .to_bytes();
            let a = addrs[i] as usize;
            mems[0][a..a + 32].copy_from_slice(&b);
            mems[1][a..a + 32].copy_from_slice(&b);
        }
        addrs.first().copied().unwrap_or(SG_REGION)
    }
}

/// Kinds of list damage for the error cases.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    None,
    BytesNotMultiple,
    BytesZero,
    ZeroLen,
    HugeLen,
    Discontiguous,
    Unaligned,
    SgMax,
    RefusedElem,
    RefusedData,
    DiskError,
    /// The block device answers one block late, past BLK_TIMEOUT (DISK_TIMEOUT; the late
    /// answer is discarded).
    DiskLate,
    EndsMidBlock,
    TooShort,
    TooLong,
    /// DEVMEM (docs/p2p.md): buflet not exposed; SRC_ADDR beyond buflet memory; element
    /// crossing its buflet's end; DEVMEM with ZERO; DEVMEM in a BLK_READ.
    DevNotExposed,
    DevOutOfRange,
    DevCrossing,
    DevZero,
    DevInRead,
}

/// Picks an element after the first block if there is one, with `min..=max` bytes: a longer
/// one is split in two (same source and disk continuity; the list stays valid).
pub fn victim(elems: &mut Vec<Elem>, rng: &mut StdRng, min: u64, max: u64) -> usize {
    let n = elems.len();
    let start = rng.gen_range(n / 2..n);
    let i = (start..n)
        .chain(0..start)
        .find(|&i| elems[i].len >= min)
        .expect("an element long enough");
    let e = elems[i].clone();
    if e.len > max {
        let l1 = rng.gen_range(min..=max);
        elems[i].len = l1;
        elems.insert(
            i + 1,
            Elem {
                src: e.src + l1,
                len: e.len - l1,
                flags: e.flags,
                disk: e.disk + l1,
            },
        );
    }
    i
}

pub const FAULTS: [Fault; 20] = [
    Fault::None,
    Fault::BytesNotMultiple,
    Fault::BytesZero,
    Fault::ZeroLen,
    Fault::HugeLen,
    Fault::Discontiguous,
    Fault::Unaligned,
    Fault::SgMax,
    Fault::RefusedElem,
    Fault::RefusedData,
    Fault::DiskError,
    Fault::DiskLate,
    Fault::EndsMidBlock,
    Fault::TooShort,
    Fault::TooLong,
    Fault::DevNotExposed,
    Fault::DevOutOfRange,
    Fault::DevCrossing,
    Fault::DevZero,
    Fault::DevInRead,
];
