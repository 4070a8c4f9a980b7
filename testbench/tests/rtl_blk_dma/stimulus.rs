//! Stimulus: valid scatter-gather lists (random lengths, ZERO and DEVMEM elements; a BLK_READ's
//! DEVMEM elements aligned to DEV_ALIGN inside one host buflet) written into host memory, and
//! the kinds of list damage (`Fault`) the error cases inject.

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

/// A DEVMEM destination of a BLK_READ for `len` (<= BUFLET_BYTES) bytes: a random host buflet,
/// at a random multiple of DEV_ALIGN with room for `len` bytes.
pub fn host_src(rng: &mut StdRng, bram: &Bram, len: u64) -> u64 {
    assert!(
        bram.host > 0 && len <= bram.bb,
        "a host buflet for {len} bytes"
    );
    let b = rng.gen_range(bram.nb() - bram.host..bram.nb());
    b * bram.bb + DEV_ALIGN * rng.gen_range(0..=(bram.bb - len) / DEV_ALIGN)
}

/// Cuts `len` bytes out of a host or ZERO element (not DEVMEM) at a stream position that is
/// a multiple of DEV_ALIGN (`aligned`) or not, preferably after the first half of the list;
/// the pieces keep the source and disk continuity (the list stays valid). Returns the index
/// of the piece of `len` bytes, or None when no element has room.
pub fn carve(elems: &mut Vec<Elem>, rng: &mut StdRng, aligned: bool, len: u64) -> Option<usize> {
    let n = elems.len();
    let mut starts = Vec::with_capacity(n);
    let mut pos = 0u64;
    for e in elems.iter() {
        starts.push(pos);
        pos += e.len;
    }
    let first = rng.gen_range(n / 2..n);
    for i in (first..n).chain(0..first) {
        let e = elems[i].clone();
        if e.flags.contains(SgFlags::DEVMEM) || e.len < len {
            continue;
        }
        let (lo, hi) = (starts[i], starts[i] + e.len - len); // positions p in lo..=hi
        let p = if aligned {
            let (a, b) = (lo.div_ceil(DEV_ALIGN), hi / DEV_ALIGN);
            if a > b {
                continue;
            }
            DEV_ALIGN * rng.gen_range(a..=b)
        } else {
            let p = rng.gen_range(lo..=hi);
            if !p.is_multiple_of(DEV_ALIGN) {
                p
            } else if p < hi {
                p + 1
            } else if p > lo {
                p - 1
            } else {
                continue;
            }
        };
        let piece = |off: u64, l: u64| Elem {
            src: e.src.wrapping_add(off),
            len: l,
            flags: e.flags,
            disk: e.disk + off,
        };
        let off = p - lo;
        let mut parts = Vec::new();
        if off > 0 {
            parts.push(piece(0, off));
        }
        let at = i + parts.len();
        parts.push(piece(off, len));
        if off + len < e.len {
            parts.push(piece(off + len, e.len - off - len));
        }
        elems.splice(i..=i, parts);
        return Some(at);
    }
    None
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
    /// A write mixes in DEVMEM elements (length cut to one buflet, exposed buflets of `bram`);
    /// a read too when there are host buflets (multiples of DEV_ALIGN, at block offsets that are
    /// multiples of DEV_ALIGN, inside one host buflet; the other elements of a read are often
    /// multiples of DEV_ALIGN too, so that later ones are aligned).
    pub fn valid_list(&mut self, blocks: usize, read: bool, bram: &Bram) -> Vec<Elem> {
        let total = (blocks * BLOCK) as u64;
        let mut out = Vec::new();
        let mut pos = 0u64;
        let mut disk = 0u64;
        while pos < total {
            let room = BLOCK as u64 - pos % BLOCK as u64;
            // near a block's end that is not the list's, mostly one that spans two blocks
            let spans = room < bram.bb.min(total - pos);
            let dev_rd = read
                && bram.host > 0
                && pos.is_multiple_of(DEV_ALIGN)
                && self.rng.gen_bool(if spans { 0.8 } else { 0.4 });
            let dev = dev_rd || (!read && self.rng.gen_bool(0.4));
            let mut len = match self.rng.gen_range(0..4) {
                0 => self.rng.gen_range(1..64),
                1 => self.rng.gen_range(1..2000),
                2 => self.rng.gen_range(1..9000),
                _ => BLOCK as u64 - pos % BLOCK as u64,
            }
            .min(total - pos);
            if dev_rd {
                // the remaining length is a multiple of DEV_ALIGN too
                len = (len.div_ceil(DEV_ALIGN) * DEV_ALIGN)
                    .min(bram.bb)
                    .min(total - pos);
                let most = bram.bb.min(total - pos);
                if room < most && self.rng.gen_bool(0.7) {
                    len = DEV_ALIGN * self.rng.gen_range(room / DEV_ALIGN + 1..=most / DEV_ALIGN);
                }
            } else if read && bram.host > 0 && self.rng.gen_bool(0.5) {
                len = (len.div_ceil(DEV_ALIGN) * DEV_ALIGN).min(total - pos);
                if pos.is_multiple_of(DEV_ALIGN) && room > bram.bb && self.rng.gen_bool(0.4) {
                    // stop less than a buflet before the block's end: the next element may span
                    len = room - DEV_ALIGN * self.rng.gen_range(1..bram.bb / DEV_ALIGN);
                }
            } else if dev {
                len = len.min(bram.bb);
                // often straddle the block boundary when a buflet's worth reaches it
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
            let src = if dev_rd {
                host_src(&mut self.rng, bram, len)
            } else if dev {
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
    /// DEVMEM in a BLK_WRITE (docs/p2p.md): buflet not exposed; SRC_ADDR beyond buflet memory;
    /// element crossing its buflet's end; DEVMEM with ZERO.
    DevNotExposed,
    DevOutOfRange,
    DevCrossing,
    DevZero,
    /// DEVMEM in a BLK_READ (docs/p2p.md "p2p reads"): an element breaking exactly this rule.
    DevRd(DevRd),
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

pub const FAULTS: [Fault; 26] = [
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
    Fault::DevRd(DevRd::Zero),
    Fault::DevRd(DevRd::SrcAlign),
    Fault::DevRd(DevRd::LenAlign),
    Fault::DevRd(DevRd::DiskAlign),
    Fault::DevRd(DevRd::OutOfRange),
    Fault::DevRd(DevRd::Crossing),
    Fault::DevRd(DevRd::NotHost),
];

impl Builder {
    /// A valid BLK_READ list for `blocks` blocks with one DEVMEM element, after the list's
    /// first half where there is room, that breaks exactly the rule `kind` (every other rule
    /// kept; the oracle checks that). HOST_BUFLETS must be non-zero unless `kind` is NotHost.
    pub fn dev_rd_fault(&mut self, blocks: usize, bram: &Bram, kind: DevRd) -> Vec<Elem> {
        let bb = bram.bb;
        for _ in 0..100 {
            let mut elems = self.valid_list(blocks, true, bram);
            let r = &mut self.rng;
            let units = bb / DEV_ALIGN;
            let (len, aligned) = match kind {
                DevRd::SrcAlign => (DEV_ALIGN * r.gen_range(1..units), true),
                DevRd::LenAlign => {
                    let l = r.gen_range(1..bb);
                    (
                        if l.is_multiple_of(DEV_ALIGN) {
                            l - 1
                        } else {
                            l
                        },
                        true,
                    )
                }
                DevRd::DiskAlign => (DEV_ALIGN * r.gen_range(1..=units), false),
                DevRd::Crossing => (DEV_ALIGN * r.gen_range(2..=2 * units), true),
                _ => (DEV_ALIGN * r.gen_range(1..=units), true),
            };
            let Some(i) = carve(&mut elems, r, aligned, len) else {
                continue;
            };
            let nb = bram.nb();
            let src = match kind {
                DevRd::Zero | DevRd::DiskAlign => host_src(r, bram, len),
                // an aligned host destination shifted by 1..63 bytes, still inside the buflet
                DevRd::SrcAlign => host_src(r, bram, len + DEV_ALIGN) + r.gen_range(1..DEV_ALIGN),
                DevRd::LenAlign => host_src(r, bram, len.div_ceil(DEV_ALIGN) * DEV_ALIGN),
                DevRd::OutOfRange => match r.gen_range(0..3) {
                    // past the end; far beyond it; 2^16 buflets further (the low 16 bits of
                    // the index name a host buflet, so only the range check refuses it)
                    0 => bram.size() + DEV_ALIGN * r.gen_range(0..64),
                    1 => (r.gen::<u64>() | 1 << 63) & !(DEV_ALIGN - 1),
                    _ => {
                        let l = len.min(bb);
                        let b = if bram.host > 0 {
                            host_src(r, bram, l)
                        } else {
                            bb * r.gen_range(0..nb)
                        };
                        b + (bb << 16)
                    }
                },
                DevRd::Crossing => {
                    // the last aligned offsets from which `len` bytes pass the buflet's end
                    let b = r.gen_range(nb - bram.host..nb);
                    let lo = (bb + DEV_ALIGN).saturating_sub(len) / DEV_ALIGN;
                    b * bb + DEV_ALIGN * r.gen_range(lo..units)
                }
                DevRd::NotHost => {
                    let b = r.gen_range(0..nb - bram.host);
                    b * bb + DEV_ALIGN * r.gen_range(0..=(bb - len) / DEV_ALIGN)
                }
            };
            elems[i].src = src;
            elems[i].flags = if matches!(kind, DevRd::Zero) {
                SgFlags::DEVMEM | SgFlags::ZERO
            } else {
                SgFlags::DEVMEM
            };
            return elems;
        }
        panic!("no room for a {kind:?} DEVMEM element in 100 lists");
    }
}
