//! The oracle: an independent walk of BLK_WRITE and BLK_READ scatter-gather lists
//! (docs/architecture.md, docs/storage.md, docs/p2p.md) over its own copies of host memory and
//! disk and buflet memory, giving the expected host reads, block operations, host writes,
//! completions, buflet-memory reads and CNT_BLK_DEV_BYTES events (BLK_WRITE), buflet-memory
//! writes and CNT_BLK_DEV_WR_BYTES events (BLK_READ, docs/p2p.md "p2p reads").

use crate::*;

#[derive(Clone, Debug)]
pub struct Cmd {
    pub read: bool,
    pub tag: u32,
    pub sg_addr: u64,
    pub sg_max: u32,
    pub bytes: u32,
}

/// The fields of a BLK_DONE that vary (KIND, FLAGS and PHASE are checked as it is taken).
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Done {
    pub tag: u32,
    pub opcode: Opcode,
    pub status: Status,
    pub bytes: u32,
}

/// The block operations (by index) the block device fails or answers late.
pub struct DiskFaults {
    pub fail: Vec<usize>,
    pub late: Vec<usize>,
}

/// One block-device operation: (write, lba, data of a write).
pub type BlkOp = (bool, u64, Vec<u8>);

#[derive(Default)]
pub struct Expect {
    /// Host reads: (command index, address, length).
    pub reads: Vec<(usize, u64, u64)>,
    /// BLK_WRITE commands that end on a failed or late block, or on a refused chunk read:
    /// blk_dma packs the next block while a write's status is owed, and requests the next
    /// element's read behind a chunk's, so their host and buflet-memory reads may go on past
    /// the oracle's (they must begin with them).
    pub read_ahead: Vec<usize>,
    pub blocks: Vec<BlkOp>,
    /// Host DMA writes (BLK_READ data): address and bytes.
    pub writes: Vec<(u64, Vec<u8>)>,
    pub cpls: Vec<Done>,
    /// Buflet-memory reads of DEVMEM chunks: (command index, first word address, words).
    pub dev_reads: Vec<(usize, u64, u64)>,
    /// CNT_BLK_DEV_BYTES events: DEVMEM bytes of each block write that has any.
    pub dev_events: Vec<u64>,
    /// DEVMEM elements split across two blocks.
    pub dev_split: usize,
    /// Requests ended by a DEVMEM rule (BAD_SG).
    pub dev_bad: usize,
    /// BLK_READ DEVMEM: buflet-memory word writes (command index, word address, word).
    pub dev_writes: Vec<(usize, u64, Vec<u8>)>,
    /// BLK_READ DEVMEM: the words of each chunk (written in one run).
    pub dev_wr_chunks: Vec<u64>,
    /// CNT_BLK_DEV_WR_BYTES events: (command index, bytes of one chunk delivered).
    pub dev_wr_events: Vec<(usize, u64)>,
    /// BLK_READ DEVMEM elements all of whose bytes went to buflet memory; those split across
    /// two blocks.
    pub dev_rd_elems: usize,
    pub dev_rd_split: usize,
    /// The rules broken by the DEVMEM element that ended each request on a BLK_READ rule.
    pub dev_rd_bad: Vec<Vec<DevRd>>,
}

/// Independent walk of BLK_WRITE and BLK_READ (docs/architecture.md, docs/storage.md,
/// docs/p2p.md) over its own copies of host memory, disk and buflet memory.
pub struct Oracle {
    pub mem: Vec<u8>,
    pub disk: Vec<u8>,
    /// Buflet-memory bytes (the exposed bits and HOST_BUFLETS are the bench's `Bram`).
    pub bram: Vec<u8>,
    /// Block operations (reads and writes) so far.
    pub blk_index: usize,
}

impl Oracle {
    /// `faults.fail` holds the block operation indices the block device answers with an error,
    /// `faults.late` those it answers after BLK_TIMEOUT (the command ends with DISK_TIMEOUT; a
    /// late write is still done by the device).
    pub fn run(
        &mut self,
        refs: &[(u64, u64)],
        bram: &Bram,
        kw: u64,
        c: &Cmd,
        faults: &DiskFaults,
        exp: &mut Expect,
    ) {
        let ci = exp.cpls.len(); // this command's index
        let opcode = if c.read {
            Opcode::BlkRead
        } else {
            Opcode::BlkWrite
        };
        let done = |exp: &mut Expect, st: Status, written: u32| {
            exp.cpls.push(Done {
                tag: c.tag,
                opcode,
                status: st,
                bytes: written,
            });
        };
        if c.bytes == 0 || !(c.bytes as usize).is_multiple_of(BLOCK) {
            return done(exp, Status::BadSg, 0);
        }
        let (mut ptr, mut count, mut described, mut written) = (c.sg_addr, 0u32, 0u64, 0u32);
        let (mut fill, mut cur_disk, mut lba) = (0usize, 0u64, 0u64);
        let mut buf: Vec<u8> = Vec::new(); // write: block being packed
        let mut rblk: Vec<u8> = Vec::new(); // read: block read from disk
        let mut blk_dev = 0u64; // write: DEVMEM bytes in the block being packed
        loop {
            if count == c.sg_max {
                return done(exp, Status::BadSg, written);
            }
            exp.reads.push((ci, ptr, 32));
            let Some(e) = read_mem(&self.mem, refs, ptr, 32) else {
                return done(exp, Status::DmaError, written);
            };
            count += 1;
            let el = SgElem::parse(&e).unwrap();
            let src = el.src_addr;
            let len = u64::from(el.len);
            let zero = el.flags.contains(SgFlags::ZERO);
            let dev = el.flags.contains(SgFlags::DEVMEM);
            let disk = el.disk_addr;
            let next = el.next;
            let disk_ok = if fill == 0 {
                disk.is_multiple_of(512)
            } else {
                disk == cur_disk
            };
            if len == 0 || len > 65536 || !disk_ok || described + len > c.bytes as u64 {
                return done(exp, Status::BadSg, written);
            }
            if dev && !c.read && !bram.dev_ok(zero, src, len) {
                exp.dev_bad += 1;
                return done(exp, Status::BadSg, written);
            }
            if dev && c.read {
                let bad = bram.dev_rd_bad(zero, src, len, disk);
                if !bad.is_empty() {
                    exp.dev_bad += 1;
                    exp.dev_rd_bad.push(bad);
                    return done(exp, Status::BadSg, written);
                }
            }
            described += len;
            cur_disk = disk + len;
            if fill == 0 {
                lba = disk / 512;
            }
            let (mut s, mut rem) = (src, len as usize);
            while rem > 0 {
                if c.read && fill == 0 {
                    exp.blocks.push((false, lba, Vec::new()));
                    let i = self.blk_index;
                    self.blk_index += 1;
                    if faults.fail.contains(&i) {
                        return done(exp, Status::DiskError, written);
                    }
                    if faults.late.contains(&i) {
                        return done(exp, Status::DiskTimeout, written);
                    }
                    let at = lba as usize * 512;
                    rblk = self.disk[at..at + BLOCK].to_vec();
                }
                let chunk = rem.min(BLOCK - fill);
                if c.read && dev {
                    // the chunk's bytes of the block into buflet memory at s, whole words (s
                    // and chunk are multiples of DEV_ALIGN), no host access
                    let d = &rblk[fill..fill + chunk];
                    for (k, w) in d.chunks(kw as usize).enumerate() {
                        exp.dev_writes.push((ci, s / kw + k as u64, w.to_vec()));
                    }
                    self.bram[s as usize..s as usize + chunk].copy_from_slice(d);
                    exp.dev_wr_chunks.push(chunk as u64 / kw);
                    exp.dev_wr_events.push((ci, chunk as u64));
                    exp.dev_rd_split += usize::from(chunk < rem && s == src);
                    exp.dev_rd_elems += usize::from(chunk == rem);
                } else if c.read {
                    if !zero {
                        let d = rblk[fill..fill + chunk].to_vec();
                        self.mem[s as usize..s as usize + chunk].copy_from_slice(&d);
                        exp.writes.push((s, d));
                    }
                } else if zero {
                    buf.extend(std::iter::repeat_n(0, chunk));
                } else if dev {
                    // no host access: buflet memory, one run of words per chunk
                    let w0 = s / kw;
                    exp.dev_reads
                        .push((ci, w0, (s + chunk as u64).div_ceil(kw) - w0));
                    buf.extend_from_slice(&self.bram[s as usize..s as usize + chunk]);
                    blk_dev += chunk as u64;
                    exp.dev_split += usize::from(chunk < rem && s == src);
                } else {
                    exp.reads.push((ci, s, chunk as u64));
                    match read_mem(&self.mem, refs, s, chunk) {
                        Some(d) => buf.extend(d),
                        None => {
                            // the next element's read went out behind this one's
                            exp.read_ahead.push(ci);
                            return done(exp, Status::DmaError, written);
                        }
                    }
                }
                s += chunk as u64;
                rem -= chunk;
                fill += chunk;
                if fill == BLOCK {
                    if !c.read {
                        let data = std::mem::take(&mut buf);
                        exp.blocks.push((true, lba, data.clone()));
                        if blk_dev != 0 {
                            exp.dev_events.push(blk_dev);
                        }
                        blk_dev = 0;
                        let i = self.blk_index;
                        self.blk_index += 1;
                        if faults.fail.contains(&i) {
                            exp.read_ahead.push(ci);
                            return done(exp, Status::DiskError, written);
                        }
                        let at = lba as usize * 512;
                        self.disk[at..at + BLOCK].copy_from_slice(&data);
                        if faults.late.contains(&i) {
                            exp.read_ahead.push(ci);
                            return done(exp, Status::DiskTimeout, written);
                        }
                    }
                    written += BLOCK as u32;
                    lba += 8;
                    fill = 0;
                    if rem == 0 {
                        if next == 0 {
                            let st = if described == c.bytes as u64 {
                                Status::Ok
                            } else {
                                Status::BadSg
                            };
                            return done(exp, st, written);
                        }
                        if described == c.bytes as u64 {
                            return done(exp, Status::BadSg, written);
                        }
                    }
                }
            }
            if fill != 0 && next == 0 {
                return done(exp, Status::BadSg, written);
            }
            ptr = next;
        }
    }
}
