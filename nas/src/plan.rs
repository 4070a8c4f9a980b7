//! Pure planning for the NAS writer: which blocks a write touches and how each one is filled,
//! the scatter-gather elements of its block read and block write, and the stream ranges a
//! stream has finished with. No device access here, so all of it is unit-tested.

use std::collections::BTreeMap;

/// What fills a block's bytes after the end of the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// The old bytes on disk (read-modify-write).
    Keep,
    /// Zeros (the write ends the file; nothing past it is read).
    Zero,
}

/// One file-system block a write touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockPlan {
    /// Disk byte address of the block's first byte.
    pub disk: u64,
    /// File offset of the block's first byte.
    pub file: u64,
    /// First byte of the block the write replaces.
    pub new_start: u64,
    /// End (exclusive) of the bytes the write replaces.
    pub new_end: u64,
    /// What goes in `[new_end, block)`.
    pub tail: Tail,
    /// Index of this block's bounce block / page-cache block in the op's host buffer.
    pub slot: usize,
}

impl BlockPlan {
    /// Old bytes of this block that must come from the disk.
    pub fn kept(&self, block: u64) -> u64 {
        self.new_start
            + match self.tail {
                Tail::Keep => block - self.new_end,
                Tail::Zero => 0,
            }
    }

    /// Whether the block must be read before it is written (read-modify-write).
    pub fn needs_read(&self, block: u64) -> bool {
        self.kept(block) > 0
    }
}

/// Received bytes of the write, where they lie in host memory: each piece inside one host page
/// and one file-system block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    /// Host address of the first byte.
    pub src: u64,
    /// Bytes.
    pub len: u64,
    /// File offset of the first byte.
    pub file: u64,
    /// `src` is a device (buflet memory) address, not a host one (p2p).
    pub dev: bool,
}

/// One scatter-gather element before it is laid out in host memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elem {
    /// Host address (0 for a ZERO element).
    pub src: u64,
    /// Bytes.
    pub len: u64,
    /// Disk byte address of the first byte.
    pub disk: u64,
    /// Discard (read) / zero-fill (write) instead of touching host memory.
    pub zero: bool,
    /// `src` is in the NIC's buflet memory (`DEVMEM`, p2p writes only).
    pub dev: bool,
}

impl Elem {
    fn mem(src: u64, len: u64, disk: u64) -> Self {
        Elem {
            src,
            len,
            disk,
            zero: false,
            dev: false,
        }
    }

    fn zero(len: u64, disk: u64) -> Self {
        Elem {
            src: 0,
            len,
            disk,
            zero: true,
            dev: false,
        }
    }

    fn dev(src: u64, len: u64, disk: u64) -> Self {
        Elem {
            dev: true,
            ..Elem::mem(src, len, disk)
        }
    }
}

/// A scatter-gather list for one block command, with the index of each block's first element
/// (a retry restarts the list at the block that failed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SgPlan {
    /// Elements in list order.
    pub elems: Vec<Elem>,
    /// For each block of the command, in order: (index of its first element, index into the
    /// op's block plans).
    pub blocks: Vec<(usize, usize)>,
}

/// The blocks a write of `len` bytes at `file_off` touches, with disk addresses from `disk_of`
/// (file offset of a block start to disk byte address). `zero_tail`: the bytes of the last block
/// past the end of the write are zeros rather than the old bytes. Slots number the blocks that
/// need a host block of their own in `mode_buffers` order: every block for the page-cache modes
/// (`all_slots`), only read-modify-write blocks otherwise.
pub(crate) fn blocks(
    file_off: u64,
    len: u64,
    block: u64,
    zero_tail: bool,
    all_slots: bool,
    mut disk_of: impl FnMut(u64) -> Option<u64>,
) -> Result<Vec<BlockPlan>, u64> {
    let end = file_off + len;
    let first = file_off - file_off % block;
    let mut out = Vec::new();
    let mut slot = 0;
    let mut b = first;
    while b < end {
        let disk = disk_of(b).ok_or(b.max(file_off))?;
        let last = b + block >= end;
        let p = BlockPlan {
            disk,
            file: b,
            new_start: file_off.max(b) - b,
            new_end: end.min(b + block) - b,
            tail: if last && zero_tail {
                Tail::Zero
            } else {
                Tail::Keep
            },
            slot: 0,
        };
        let p = BlockPlan {
            slot: if all_slots || p.needs_read(block) {
                slot += 1;
                slot - 1
            } else {
                usize::MAX
            },
            ..p
        };
        out.push(p);
        b += block;
    }
    Ok(out)
}

/// Number of host blocks the op needs (bounce blocks or page-cache blocks).
pub(crate) fn slots(plans: &[BlockPlan]) -> usize {
    plans.iter().filter(|p| p.slot != usize::MAX).count()
}

/// The block read of read-modify-write: for each block that keeps old bytes, the kept bytes go
/// to the block's host block (`host + slot * block`) at their in-block offsets, and the bytes the
/// write replaces are discarded (ZERO elements: they never reach host memory).
pub(crate) fn read_list(plans: &[BlockPlan], block: u64, host: u64) -> SgPlan {
    let mut sg = SgPlan::default();
    for (i, p) in plans.iter().enumerate() {
        if !p.needs_read(block) {
            continue;
        }
        let base = host + p.slot as u64 * block;
        sg.blocks.push((sg.elems.len(), i));
        if p.new_start > 0 {
            sg.elems.push(Elem::mem(base, p.new_start, p.disk));
        }
        let replaced_end = match p.tail {
            Tail::Keep => p.new_end,
            Tail::Zero => block,
        };
        sg.elems
            .push(Elem::zero(replaced_end - p.new_start, p.disk + p.new_start));
        if replaced_end < block {
            sg.elems.push(Elem::mem(
                base + replaced_end,
                block - replaced_end,
                p.disk + replaced_end,
            ));
        }
    }
    sg
}

/// The zero-copy block write: each block's new bytes straight from the named buffers
/// (`extents`, in file order; p2p: from buflet memory, `DEVMEM` elements), its kept old bytes
/// from its bounce block, its zero tail as a ZERO element.
pub(crate) fn write_list_zero_copy(
    plans: &[BlockPlan],
    extents: &[Extent],
    block: u64,
    bounce: u64,
) -> SgPlan {
    let mut sg = SgPlan::default();
    let mut ext = extents.iter().peekable();
    for (i, p) in plans.iter().enumerate() {
        // Only blocks with old bytes (which have a bounce slot) use it.
        let base = || bounce + p.slot as u64 * block;
        sg.blocks.push((sg.elems.len(), i));
        if p.new_start > 0 {
            sg.elems.push(Elem::mem(base(), p.new_start, p.disk));
        }
        while let Some(e) = ext.next_if(|e| e.file < p.file + block) {
            let disk = p.disk + (e.file - p.file);
            sg.elems.push(if e.dev {
                Elem::dev(e.src, e.len, disk)
            } else {
                Elem::mem(e.src, e.len, disk)
            });
        }
        if p.new_end < block {
            let disk = p.disk + p.new_end;
            sg.elems.push(match p.tail {
                Tail::Keep => Elem::mem(base() + p.new_end, block - p.new_end, disk),
                Tail::Zero => Elem::zero(block - p.new_end, disk),
            });
        }
    }
    sg
}

/// The page-cache block write (copy and splice modes): each block whole from its page-cache
/// block, except a zero tail, which is a ZERO element.
pub(crate) fn write_list_page_cache(plans: &[BlockPlan], block: u64, cache: u64) -> SgPlan {
    let mut sg = SgPlan::default();
    for (i, p) in plans.iter().enumerate() {
        let base = cache + p.slot as u64 * block;
        sg.blocks.push((sg.elems.len(), i));
        let from_cache = match p.tail {
            Tail::Zero => p.new_end,
            Tail::Keep => block,
        };
        sg.elems.push(Elem::mem(base, from_cache, p.disk));
        if from_cache < block {
            sg.elems
                .push(Elem::zero(block - from_cache, p.disk + from_cache));
        }
    }
    sg
}

/// A set of half-open byte ranges, merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RangeSet {
    map: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// Add `[s, e)`.
    pub fn insert(&mut self, s: u64, e: u64) {
        if s >= e {
            return;
        }
        let (mut s, mut e) = (s, e);
        let touching: Vec<(u64, u64)> = self
            .map
            .range(..=e)
            .rev()
            .take_while(|(_, &re)| re >= s)
            .map(|(&a, &b)| (a, b))
            .collect();
        for (rs, re) in touching {
            self.map.remove(&rs);
            s = s.min(rs);
            e = e.max(re);
        }
        self.map.insert(s, e);
    }

    /// Whether every byte of `[s, e)` is in the set.
    pub fn covers(&self, s: u64, e: u64) -> bool {
        s >= e
            || self
                .map
                .range(..=s)
                .next_back()
                .is_some_and(|(_, &re)| re >= e)
    }

    /// End of the range holding `pos`, if any.
    pub fn run_end(&self, pos: u64) -> Option<u64> {
        self.map
            .range(..=pos)
            .next_back()
            .and_then(|(_, &re)| (re > pos).then_some(re))
    }

    /// The ranges that overlap `[s, e)`, whole.
    pub fn overlapping(&self, s: u64, e: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let first = self.map.range(..=s).next_back().map_or(s, |(&a, _)| a);
        self.map
            .range(first..e)
            .map(|(&a, &b)| (a, b))
            .filter(move |&(_, b)| b > s)
    }

    /// End of the run starting at 0 (0 when 0 is not in the set).
    pub fn prefix(&self) -> u64 {
        self.map.get(&0).copied().unwrap_or(0)
    }
}

/// The host pages (of `page` bytes) the non-ZERO elements of `elems` touch outside `skip`
/// (the write's own bounce or page-cache blocks), sorted and without repeats: the named buffer
/// pages a zero-copy list reads, which the list's command keeps acquired in the registration
/// cache.
pub(crate) fn pages_outside(elems: &[Elem], page: u64, skip: Option<(u64, u64)>) -> Vec<u64> {
    let page = page.max(1);
    let mut out: Vec<u64> = Vec::new();
    for e in elems.iter().filter(|e| !e.zero && !e.dev && e.len > 0) {
        if skip.is_some_and(|(a, n)| e.src >= a && e.src + e.len <= a + n) {
            continue;
        }
        let mut p = e.src - e.src % page;
        while p < e.src + e.len {
            out.push(p);
            p += page;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: u64 = 4096;

    /// `len` received bytes at host address `src`, file offset `file`.
    fn host(src: u64, len: u64, file: u64) -> Extent {
        Extent {
            src,
            len,
            file,
            dev: false,
        }
    }

    /// `len` received bytes at buflet-memory address `src` (p2p), file offset `file`.
    fn dev(src: u64, len: u64, file: u64) -> Extent {
        Extent {
            dev: true,
            ..host(src, len, file)
        }
    }

    #[test]
    fn pages_a_list_reads() {
        let el = |src, len, zero| Elem {
            src,
            len,
            disk: 0,
            zero,
            dev: false,
        };
        let elems = [
            el(0x10_0100, 100, false),
            el(0x20_0000, 0x2000, false), // two pages
            el(0x10_0800, 8, false),      // same page as the first
            el(0, 512, true),             // ZERO: touches no host memory
            el(0x50_0000, 4096, false),   // inside the skipped bounce blocks
        ];
        assert_eq!(
            pages_outside(&elems, B, Some((0x50_0000, 2 * B))),
            vec![0x10_0000, 0x20_0000, 0x20_1000]
        );
        assert_eq!(pages_outside(&elems, B, None).len(), 4);
    }

    fn ident(off: u64) -> Option<u64> {
        Some(1_000_000 * B + off)
    }

    #[test]
    fn less_than_one_block_keeps_both_ends() {
        let p = blocks(100, 50, B, false, false, ident).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].new_start, p[0].new_end, p[0].slot), (100, 150, 0));
        assert_eq!(p[0].kept(B), B - 50);
        let r = read_list(&p, B, 0x10000);
        assert_eq!(
            r.elems,
            vec![
                Elem::mem(0x10000, 100, p[0].disk),
                Elem::zero(50, p[0].disk + 100),
                Elem::mem(0x10000 + 150, B - 150, p[0].disk + 150),
            ]
        );
        let ext = [host(0x9000_0000, 50, 100)];
        let w = write_list_zero_copy(&p, &ext, B, 0x10000);
        assert_eq!(
            w.elems,
            vec![
                Elem::mem(0x10000, 100, p[0].disk),
                Elem::mem(0x9000_0000, 50, p[0].disk + 100),
                Elem::mem(0x10000 + 150, B - 150, p[0].disk + 150),
            ]
        );
        assert_eq!(w.blocks, vec![(0, 0)]);
    }

    #[test]
    fn non_integer_blocks_read_only_the_last() {
        // 1.5 blocks from an aligned offset: block 0 whole, block 1 read-modify-write.
        let p = blocks(8 * B, B + B / 2, B, false, false, ident).unwrap();
        assert_eq!(p.len(), 2);
        assert!(!p[0].needs_read(B));
        assert_eq!(p[0].slot, usize::MAX);
        assert!(p[1].needs_read(B));
        assert_eq!(p[1].slot, 0);
        let r = read_list(&p, B, 0x20000);
        assert_eq!(r.blocks, vec![(0, 1)]);
        assert_eq!(
            r.elems,
            vec![
                Elem::zero(B / 2, p[1].disk),
                Elem::mem(0x20000 + B / 2, B / 2, p[1].disk + B / 2)
            ]
        );
    }

    #[test]
    fn unaligned_offset_reads_head_and_tail_blocks() {
        // 3 blocks' worth at offset 1000: blocks 0 and 3 partial, 1 and 2 whole.
        let p = blocks(1000, 3 * B, B, false, false, ident).unwrap();
        assert_eq!(p.len(), 4);
        let reads: Vec<bool> = p.iter().map(|b| b.needs_read(B)).collect();
        assert_eq!(reads, vec![true, false, false, true]);
        assert_eq!((p[0].slot, p[3].slot), (0, 1));
        assert_eq!(slots(&p), 2);
        // Zero tail: the last block needs no read.
        let z = blocks(1000, 3 * B, B, true, false, ident).unwrap();
        let reads: Vec<bool> = z.iter().map(|b| b.needs_read(B)).collect();
        assert_eq!(reads, vec![true, false, false, false]);
    }

    #[test]
    fn zero_copy_write_list_splits_at_blocks_and_keeps_old_bytes() {
        let p = blocks(B - 10, 20, B, false, false, |o| {
            Some(if o == 0 { 7 * B } else { 3 * B })
        })
        .unwrap();
        let ext = [host(0x5000 + 4086, 10, B - 10), host(0x8000, 10, B)];
        let w = write_list_zero_copy(&p, &ext, B, 0x40000);
        assert_eq!(
            w.elems,
            vec![
                Elem::mem(0x40000, B - 10, 7 * B),
                Elem::mem(0x5000 + 4086, 10, 7 * B + B - 10),
                Elem::mem(0x8000, 10, 3 * B),
                Elem::mem(0x40000 + B + 10, B - 10, 3 * B + 10),
            ]
        );
        assert_eq!(w.blocks, vec![(0, 0), (2, 1)]);
        let total: u64 = w.elems.iter().map(|e| e.len).sum();
        assert_eq!(total, 2 * B);
    }

    #[test]
    fn p2p_extents_become_devmem_elements_and_read_no_host_page() {
        // 300 bytes inside one block from two buflets: read-modify-write keeps the old bytes
        // from the bounce block, the new ones come from buflet memory.
        let p = blocks(100, 300, B, false, false, ident).unwrap();
        let ext = [dev(5 * 2048 + 66, 200, 100), dev(9 * 2048 + 66, 100, 300)];
        let w = write_list_zero_copy(&p, &ext, B, 0x10000);
        assert_eq!(
            w.elems,
            vec![
                Elem::mem(0x10000, 100, p[0].disk),
                Elem::dev(5 * 2048 + 66, 200, p[0].disk + 100),
                Elem::dev(9 * 2048 + 66, 100, p[0].disk + 300),
                Elem::mem(0x10000 + 400, B - 400, p[0].disk + 400),
            ]
        );
        // Only the bounce block is host memory.
        assert_eq!(pages_outside(&w.elems, B, None), vec![0x10000]);
    }

    #[test]
    fn page_cache_list_is_one_element_per_block_and_zero_tail() {
        let p = blocks(0, B + 5, B, true, true, ident).unwrap();
        assert_eq!((p[0].slot, p[1].slot), (0, 1));
        let w = write_list_page_cache(&p, B, 0x100000);
        assert_eq!(
            w.elems,
            vec![
                Elem::mem(0x100000, B, p[0].disk),
                Elem::mem(0x100000 + B, 5, p[1].disk),
                Elem::zero(B - 5, p[1].disk + 5),
            ]
        );
    }

    #[test]
    fn unmapped_block_is_reported() {
        let e = blocks(B, 3 * B, B, false, false, |o| (o < 3 * B).then_some(o)).unwrap_err();
        assert_eq!(e, 3 * B);
    }

    #[test]
    fn range_set_merges_and_covers() {
        let mut r = RangeSet::default();
        r.insert(10, 20);
        r.insert(30, 40);
        assert!(r.covers(12, 20));
        assert!(!r.covers(12, 21));
        assert_eq!(r.prefix(), 0);
        r.insert(0, 10);
        assert_eq!(r.prefix(), 20);
        r.insert(20, 30);
        assert_eq!(r.prefix(), 40);
        assert_eq!(r.run_end(35), Some(40));
        assert_eq!(r.run_end(40), None);
        r.insert(5, 50);
        assert_eq!(r.map.len(), 1);
        assert!(r.covers(0, 50));
        assert!(r.covers(7, 7));
    }
}
