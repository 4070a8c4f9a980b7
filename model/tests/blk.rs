//! Block-controller DMA: scatter-gather walk, straddling and ZERO elements, every status, for
//! BLK_WRITE and BLK_READ (docs/storage.md), and both interleaved on the request ring.

mod common;

use buflet_spec::{reg, CplKind, Opcode, SgElem, SgFlags, Status};
use common::*;

/// Write a linked list of elements into registered host memory; returns its address.
fn sg_list(r: &mut Rig, els: &[El]) -> u64 {
    let base = r.alloc(32 * els.len() as u64);
    r.sg_write(base, els);
    base
}

fn blk(width: u32) {
    let mut r = Rig::new(&format!("blk{width}"), cfg(width), 16, 16);
    let b1 = r.alloc(8192);
    let b2 = r.alloc(12288);
    let d1 = bytes(1, 8192);
    let d2 = bytes(2, 12288);
    r.cpu_write(b1, &d1);
    r.cpu_write(b2, &d2);
    // Pre-fill the block at LBA 300 so that the ZERO element visibly overwrites it.
    let pre = sg_list(&mut r, &[(b1, 4096, false, 300 * 512)]);
    let main = sg_list(
        &mut r,
        &[
            (b1 + 100, 1000, false, 8 * 512),
            (0, 96, true, 8 * 512 + 1000),
            (b2 + 7, 3000, false, 8 * 512 + 1096),
            (b2 + 3007, 8192, false, 100 * 512),
            (0xDEAD_0000, 4096, true, 300 * 512),
        ],
    );
    r.submit(&blk_request(Opcode::BlkWrite, 1, pre, 1, 4096));
    r.submit(&blk_request(Opcode::BlkWrite, 2, main, 5, 16384));
    let cs = r.wait_cpls(2);
    assert_eq!(
        (cs[0].kind, cs[0].status, cs[0].tag, cs[0].bytes),
        (CplKind::BlkDone, Status::Ok, 1, 4096)
    );
    assert_eq!(
        (
            cs[1].kind,
            cs[1].status,
            cs[1].tag,
            cs[1].bytes,
            cs[1].opcode
        ),
        (
            CplKind::BlkDone,
            Status::Ok,
            2,
            16384,
            Opcode::BlkWrite.code()
        )
    );
    let mut want = d1[100..1100].to_vec();
    want.extend_from_slice(&[0; 96]);
    want.extend_from_slice(&d2[7..3007]);
    assert_eq!(r.disk(8 * 512, 4096), want);
    assert_eq!(r.disk(100 * 512, 8192), &d2[3007..3007 + 8192]);
    assert_eq!(r.disk(300 * 512, 4096), vec![0; 4096]);
    assert_eq!(r.r(reg::CNT_BLK_WRITES), 5);
    assert_eq!(r.r(reg::CNT_BLK_BYTES), 5 * 4096);
    assert_eq!(r.env.disk.stats().writes, 5);
    let s = r.env.mem.stats();
    assert_eq!(s.blk_read, 4096 + 32 + 1000 + 3000 + 8192 + 5 * 32);
    assert_eq!(s.blk_written, 0);
    assert_eq!(s.nic_read, 2 * 64);
    assert_eq!(s.stray_accesses, 0);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 0);
    r.assert_all_free();
}

#[test]
fn blk_write_w64() {
    blk(64);
}

#[test]
fn blk_write_w512() {
    blk(512);
}

#[test]
fn blk_error_statuses() {
    let mut r = Rig::new("blkerr", cfg(128), 32, 32);
    let b = r.alloc(16384);
    r.cpu_write(b, &bytes(9, 16384));
    let unreg = r.env.mem.alloc(4096, 4096).unwrap();
    let ok1 = sg_list(&mut r, &[(b, 4096, false, 0)]);
    let cases: Vec<(u64, u32, u32, Status, u32)> = vec![
        // (sg address, SG_MAX, BYTES, status, bytes written)
        (ok1, 4, 0, Status::BadSg, 0),
        (ok1, 4, 100, Status::BadSg, 0),
        (
            sg_list(&mut r, &[(b, 0, false, 0)]),
            4,
            4096,
            Status::BadSg,
            0,
        ),
        (
            sg_list(&mut r, &[(b, 65537, false, 0)]),
            4,
            4096,
            Status::BadSg,
            0,
        ),
        (
            sg_list(&mut r, &[(b, 4096, false, 100)]),
            4,
            4096,
            Status::BadSg,
            0,
        ),
        (
            sg_list(
                &mut r,
                &[
                    (b, 4096, false, 0),
                    (b, 1000, false, 50 * 512),
                    (b, 3096, false, 50 * 512 + 1001),
                ],
            ),
            4,
            8192,
            Status::BadSg,
            4096,
        ),
        (
            sg_list(&mut r, &[(b, 1000, false, 0)]),
            4,
            4096,
            Status::BadSg,
            0,
        ),
        (
            sg_list(&mut r, &[(b, 2048, false, 0), (b, 2048, false, 2048)]),
            1,
            4096,
            Status::BadSg,
            0,
        ),
        (ok1, 4, 8192, Status::BadSg, 4096),
        (
            sg_list(&mut r, &[(b, 4096, false, 0), (b, 4096, false, 4096)]),
            4,
            4096,
            Status::BadSg,
            4096,
        ),
        (
            sg_list(&mut r, &[(unreg, 4096, false, 0)]),
            4,
            4096,
            Status::DmaError,
            0,
        ),
        (unreg, 4, 4096, Status::DmaError, 0),
        (
            sg_list(&mut r, &[(b, 8192, false, (2048 - 8) * 512)]),
            4,
            8192,
            Status::DiskError,
            4096,
        ),
        // Exactly SG_MAX elements is fine.
        (
            sg_list(&mut r, &[(b, 2048, false, 0), (b, 2048, true, 2048)]),
            2,
            4096,
            Status::Ok,
            4096,
        ),
    ];
    let n = cases.len();
    for (i, &(sg, max, bytes, _, _)) in cases.iter().enumerate() {
        r.submit(&blk_request(
            Opcode::BlkWrite,
            1000 + i as u32,
            sg,
            max,
            bytes,
        ));
    }
    let cs = r.wait_cpls(n);
    for (i, (c, &(_, _, _, st, written))) in cs.iter().zip(&cases).enumerate() {
        assert_eq!(
            (c.tag, c.kind, c.status, c.bytes),
            (1000 + i as u32, CplKind::BlkDone, st, written),
            "case {i}"
        );
    }
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), n as u32 - 1);
    assert_eq!(r.env.mem.stats().stray_accesses, 2);
    r.assert_all_free();
}

// ---------------------------------------------------------------- BLK_READ (docs/storage.md)

/// Disk image size of the rig (`Rig::new`).
const DISK: u64 = 1 << 20;

/// Several elements per block, a ZERO element (discarded), an element spanning two blocks, a
/// block read only to be discarded whole; host bytes outside the element ranges untouched.
fn blk_read(width: u32) {
    let mut r = Rig::new(&format!("blkrd{width}"), cfg(width), 16, 16);
    let img = bytes(7, DISK as usize);
    r.env.disk.write(0, &img).unwrap();
    let before = r.env.disk.stats().reads;
    let dst = r.alloc(32768);
    r.cpu_write(dst, &[0xEE; 32768]);
    let list = sg_list(
        &mut r,
        &[
            (dst + 5, 1000, false, 8 * 512),
            (dst + 2000, 96, true, 8 * 512 + 1000),
            (dst + 3001, 3000, false, 8 * 512 + 1096),
            (dst + 8193, 8192, false, 100 * 512),
            (0xDEAD_0000, 4096, true, 300 * 512),
        ],
    );
    r.submit(&blk_request(Opcode::BlkRead, 7, list, 5, 16384));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (
            cs[0].kind,
            cs[0].status,
            cs[0].tag,
            cs[0].bytes,
            cs[0].opcode
        ),
        (
            CplKind::BlkDone,
            Status::Ok,
            7,
            16384,
            Opcode::BlkRead.code()
        )
    );
    let mut want = vec![0xEE; 32768];
    let d = |o: usize, n: usize| &img[o..o + n];
    want[5..1005].copy_from_slice(d(8 * 512, 1000));
    want[3001..6001].copy_from_slice(d(8 * 512 + 1096, 3000));
    want[8193..16385].copy_from_slice(d(100 * 512, 8192));
    assert!(r.cpu_read(dst, 32768) == want, "host memory after the read");
    assert_eq!(r.r(reg::CNT_BLK_READS), 4);
    assert_eq!(r.r(reg::CNT_BLK_RD_BYTES), 4 * 4096);
    assert_eq!(r.r(reg::CNT_BLK_WRITES), 0);
    assert_eq!(r.env.disk.stats().reads - before, 4);
    let s = r.env.mem.stats();
    assert_eq!(s.blk_written, 1000 + 3000 + 8192);
    assert_eq!(s.blk_read, 5 * 32);
    assert_eq!(s.nic_read, 64);
    assert_eq!(s.stray_accesses, 0);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 0);
    r.assert_all_free();
}

#[test]
fn blk_read_w64() {
    blk_read(64);
}

#[test]
fn blk_read_w512() {
    blk_read(512);
}

/// Read-modify-write: a read queued behind a write of the same block sees the written data.
#[test]
fn blk_read_after_write_in_fifo_order() {
    let mut r = Rig::new("blkrmw", cfg(256), 16, 16);
    let src = r.alloc(4096);
    let dst = r.alloc(4096);
    let data = bytes(11, 4096);
    r.cpu_write(src, &data);
    let w = sg_list(&mut r, &[(src, 4096, false, 40 * 512)]);
    let rd = sg_list(
        &mut r,
        &[
            (dst, 2048, false, 40 * 512),
            (dst + 2048, 2048, false, 40 * 512 + 2048),
        ],
    );
    r.submit(&blk_request(Opcode::BlkRead, 1, rd, 2, 4096));
    r.submit(&blk_request(Opcode::BlkWrite, 2, w, 1, 4096));
    r.submit(&blk_request(Opcode::BlkRead, 3, rd, 2, 4096));
    let cs = r.wait_cpls(3);
    let got: Vec<_> = cs.iter().map(|c| (c.tag, c.status, c.opcode)).collect();
    assert_eq!(
        got,
        vec![
            (1, Status::Ok, Opcode::BlkRead.code()),
            (2, Status::Ok, Opcode::BlkWrite.code()),
            (3, Status::Ok, Opcode::BlkRead.code())
        ]
    );
    assert_eq!(r.cpu_read(dst, 4096), data);
    assert_eq!(r.r(reg::CNT_BLK_READS), 2);
    assert_eq!(r.r(reg::CNT_BLK_WRITES), 1);
}

/// Every status of a read, and what reaches host memory: a failed block delivers nothing; a
/// list error inside a block ends the request after that block's earlier elements.
#[test]
fn blk_read_error_statuses() {
    let mut r = Rig::new("blkrderr", cfg(128), 32, 32);
    let img = bytes(5, DISK as usize);
    r.env.disk.write(0, &img).unwrap();
    let unreg = r.env.mem.alloc(4096, 4096).unwrap();
    let dst = r.alloc(65536);
    r.cpu_write(dst, &[0xEE; 65536]);
    let last_blk = DISK - 4096;
    // (list, SG_MAX, BYTES, status, BYTES reported, host ranges written (dst offset, disk offset, len))
    type Case = (u64, u32, u32, Status, u32, Vec<(u64, u64, u64)>);
    let cases: Vec<Case> = vec![
        (
            sg_list(&mut r, &[(dst, 4096, false, 0)]),
            4,
            0,
            Status::BadSg,
            0,
            vec![],
        ),
        (
            sg_list(&mut r, &[(dst, 4096, false, 0)]),
            4,
            6000,
            Status::BadSg,
            0,
            vec![],
        ),
        (
            sg_list(&mut r, &[(dst, 4096, false, 100)]),
            4,
            4096,
            Status::BadSg,
            0,
            vec![],
        ),
        // mid-block discontiguity: the block's first element was already delivered
        (
            sg_list(
                &mut r,
                &[
                    (dst + 100, 4096, false, 0),
                    (dst + 5000, 1000, false, 64 * 512),
                    (dst + 7000, 3096, false, 64 * 512 + 1001),
                ],
            ),
            4,
            8192,
            Status::BadSg,
            4096,
            vec![(100, 0, 4096), (5000, 64 * 512, 1000)],
        ),
        // list ends inside the block
        (
            sg_list(&mut r, &[(dst + 12000, 1000, false, 16 * 512)]),
            4,
            4096,
            Status::BadSg,
            0,
            vec![(12000, 16 * 512, 1000)],
        ),
        // SG_MAX reached inside the block
        (
            sg_list(
                &mut r,
                &[
                    (dst + 14000, 2048, false, 24 * 512),
                    (dst + 17000, 2048, false, 24 * 512 + 2048),
                ],
            ),
            1,
            4096,
            Status::BadSg,
            0,
            vec![(14000, 24 * 512, 2048)],
        ),
        // list goes on past BYTES
        (
            sg_list(
                &mut r,
                &[(dst + 20000, 4096, false, 0), (dst, 4096, false, 4096)],
            ),
            4,
            4096,
            Status::BadSg,
            4096,
            vec![(20000, 0, 4096)],
        ),
        // element refused (the second one)
        (
            {
                let l = sg_list(
                    &mut r,
                    &[(dst + 25000, 4096, false, 512), (dst, 4096, false, 0)],
                );
                let mut first = SgElem::parse(&r.cpu_read(l, SgElem::SIZE)).unwrap();
                first.next = unreg;
                r.cpu_write(l, &first.to_bytes());
                l
            },
            4,
            8192,
            Status::DmaError,
            4096,
            vec![(25000, 512, 4096)],
        ),
        // the second block is beyond the disk: the first is delivered, nothing of the second
        (
            sg_list(&mut r, &[(dst + 30000, 8192, false, last_blk)]),
            4,
            8192,
            Status::DiskError,
            4096,
            vec![(30000, last_blk, 4096)],
        ),
        // a ZERO element at the start of a block still reads the block
        (
            sg_list(
                &mut r,
                &[
                    (0, 1000, true, 32 * 512),
                    (dst + 40000, 3096, false, 32 * 512 + 1000),
                ],
            ),
            2,
            4096,
            Status::Ok,
            4096,
            vec![(40000, 32 * 512 + 1000, 3096)],
        ),
    ];
    let n = cases.len();
    for (i, c) in cases.iter().enumerate() {
        r.submit(&blk_request(
            Opcode::BlkRead,
            1000 + i as u32,
            c.0,
            c.1,
            c.2,
        ));
    }
    let cs = r.wait_cpls(n);
    let mut want = vec![0xEE; 65536];
    for (i, (c, case)) in cs.iter().zip(&cases).enumerate() {
        assert_eq!(
            (c.tag, c.kind, c.status, c.bytes, c.opcode),
            (
                1000 + i as u32,
                CplKind::BlkDone,
                case.3,
                case.4,
                Opcode::BlkRead.code()
            ),
            "case {i}"
        );
        for &(off, disk_off, len) in &case.5 {
            let (o, d, l) = (off as usize, disk_off as usize, len as usize);
            want[o..o + l].copy_from_slice(&img[d..d + l]);
        }
    }
    assert!(r.cpu_read(dst, 65536) == want, "host memory");
    // block reads issued: cases 3 (2), 4, 5, 6, 7, 8 (2, the second fails), 9
    assert_eq!(r.r(reg::CNT_BLK_READS), 9);
    assert_eq!(r.r(reg::CNT_BLK_RD_BYTES), 9 * 4096);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), n as u32 - 1);
    assert_eq!(r.env.mem.stats().stray_accesses, 1);
    r.assert_all_free();
}

// ---------------------------------------------------------------- random reads and writes

/// Host memory regions the oracle shadows (anything else is refused).
struct OMem(Vec<(u64, Vec<u8>)>);

impl OMem {
    fn find(&self, addr: u64, len: u64) -> Option<(usize, usize)> {
        self.0.iter().enumerate().find_map(|(i, (b, v))| {
            (addr >= *b && addr + len <= b + v.len() as u64).then(|| (i, (addr - b) as usize))
        })
    }
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let (i, o) = self.find(addr, len as u64)?;
        Some(self.0[i].1[o..o + len].to_vec())
    }
    fn write(&mut self, addr: u64, data: &[u8]) {
        if let Some((i, o)) = self.find(addr, data.len() as u64) {
            self.0[i].1[o..o + data.len()].copy_from_slice(data);
        }
    }
}

#[derive(Default, Debug)]
struct OCount {
    blk_reads: u32,
    blk_writes: u32,
    host_written: u64,
}

/// Independent walk of one BLK_WRITE or BLK_READ (docs/architecture.md, docs/storage.md):
/// returns (status, BYTES); updates the shadow memory and disk. A block beyond the disk fails.
fn oracle(
    mem: &mut OMem,
    disk: &mut [u8],
    n: &mut OCount,
    read: bool,
    sg: u64,
    sg_max: u32,
    bytes: u32,
) -> (Status, u64) {
    let bytes = bytes as u64;
    if bytes == 0 || !bytes.is_multiple_of(4096) {
        return (Status::BadSg, 0);
    }
    let (mut ptr, mut count, mut described, mut written) = (sg, 0u32, 0u64, 0u64);
    let (mut fill, mut cur_disk, mut lba) = (0usize, 0u64, 0u64);
    let mut buf: Vec<u8> = Vec::new();
    let mut rblk: Vec<u8> = Vec::new();
    loop {
        if count == sg_max {
            return (Status::BadSg, written);
        }
        let Some(e) = mem.read(ptr, 32) else {
            return (Status::DmaError, written);
        };
        count += 1;
        let el = SgElem::parse(&e).unwrap();
        let src = el.src_addr;
        let len = u64::from(el.len);
        let zero = el.flags.contains(SgFlags::ZERO);
        let daddr = el.disk_addr;
        let next = el.next;
        let placed = if fill == 0 {
            daddr.is_multiple_of(512)
        } else {
            daddr == cur_disk
        };
        if len == 0 || len > 65536 || !placed || described + len > bytes {
            return (Status::BadSg, written);
        }
        described += len;
        cur_disk = daddr + len;
        if fill == 0 {
            lba = daddr / 512;
        }
        let (mut s, mut rem) = (src, len as usize);
        while rem > 0 {
            let at = lba as usize * 512;
            let in_disk = at + 4096 <= disk.len();
            if read && fill == 0 {
                n.blk_reads += 1;
                if !in_disk {
                    return (Status::DiskError, written);
                }
                rblk = disk[at..at + 4096].to_vec();
            }
            let chunk = rem.min(4096 - fill);
            if read {
                if !zero {
                    mem.write(s, &rblk[fill..fill + chunk]);
                    n.host_written += chunk as u64;
                }
            } else if zero {
                buf.extend(std::iter::repeat_n(0, chunk));
            } else {
                match mem.read(s, chunk) {
                    Some(d) => buf.extend(d),
                    None => return (Status::DmaError, written),
                }
            }
            s += chunk as u64;
            rem -= chunk;
            fill += chunk;
            if fill == 4096 {
                if !read {
                    n.blk_writes += 1;
                    if !in_disk {
                        return (Status::DiskError, written);
                    }
                    disk[at..at + 4096].copy_from_slice(&std::mem::take(&mut buf));
                }
                written += 4096;
                lba += 8;
                fill = 0;
                if rem == 0 {
                    if next == 0 {
                        let st = if described == bytes {
                            Status::Ok
                        } else {
                            Status::BadSg
                        };
                        return (st, written);
                    }
                    if described == bytes {
                        return (Status::BadSg, written);
                    }
                }
            }
        }
        if fill != 0 && next == 0 {
            return (Status::BadSg, written);
        }
        ptr = next;
    }
}

/// A random list of `blocks` blocks: (source/destination, length, zero, disk address). A block
/// that starts with an element gets a random lba or continues the previous block on disk; a
/// block entered by a straddling element continues the previous one. With `bad`, one block
/// that starts with an element is placed beyond the end of the disk.
fn random_list(rng: &mut rand::rngs::StdRng, data: &mut u64, blocks: usize, bad: bool) -> Vec<El> {
    use rand::Rng;
    let total = blocks as u64 * 4096;
    let mut els = vec![];
    let mut pos = 0u64;
    let mut fresh = vec![false; blocks];
    while pos < total {
        let len = match rng.gen_range(0..4) {
            0 => rng.gen_range(1..64),
            1 => rng.gen_range(1..2000),
            2 => rng.gen_range(1..9000),
            _ => 4096 - pos % 4096,
        }
        .min(total - pos);
        if pos.is_multiple_of(4096) {
            fresh[(pos / 4096) as usize] = true;
        }
        let zero = rng.gen_bool(0.15);
        let src = if zero {
            rng.gen()
        } else {
            *data += rng.gen_range(0..64);
            let a = *data;
            *data += len;
            a
        };
        els.push((src, len, zero, pos)); // disk address filled in below
        pos += len;
    }
    let starts: Vec<usize> = (0..blocks).filter(|&b| fresh[b]).collect();
    let bad = bad.then(|| starts[rng.gen_range(0..starts.len())]);
    let mut lba = vec![0u64; blocks];
    for b in 0..blocks {
        lba[b] = if bad == Some(b) {
            DISK / 512 + rng.gen_range(0..16)
        } else if fresh[b] && (b == 0 || rng.gen_bool(0.5)) {
            rng.gen_range(0..DISK / 512 - 8 * blocks as u64)
        } else {
            lba[b - 1] + 8
        };
    }
    for e in &mut els {
        let p = e.3;
        e.3 = lba[(p / 4096) as usize] * 512 + p % 4096;
    }
    els
}

/// Random BLK_WRITE and BLK_READ requests interleaved on the request ring, with list faults,
/// refused elements and blocks beyond the disk, against the oracle: completions, host memory,
/// disk contents and counters.
fn random_mixed(width: u32, seed: u64, rounds: usize) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut r = Rig::new(&format!("blkmix{width}"), cfg(width), 64, 64);
    let img = bytes(seed, DISK as usize);
    r.env.disk.write(0, &img).unwrap();
    let mut disk = img;
    const DATA: u64 = 4 << 20;
    const SG: u64 = 1 << 20;
    let data_base = r.alloc(DATA);
    let sg_base = r.alloc(SG);
    let unreg = r.env.mem.alloc(4096, 4096).unwrap();
    let fill = bytes(seed + 1, DATA as usize);
    r.cpu_write(data_base, &fill);
    r.cpu_write(sg_base, &vec![0; SG as usize]);
    let mut mem = OMem(vec![(data_base, fill), (sg_base, vec![0; SG as usize])]);
    let mut data = data_base;
    let mut sg_next = sg_base;
    let mut n = OCount::default();
    let mut want = vec![];
    let mut seen = std::collections::HashSet::new();
    let mut tag = 0u32;
    while (tag as usize) < rounds {
        // a batch of up to 4 requests (the block engine's FIFO depth), reads and writes mixed
        let batch = rng.gen_range(1..5);
        for _ in 0..batch {
            tag += 1;
            let read = rng.gen_bool(0.6);
            let blocks = rng.gen_range(1..4);
            let fault = rng.gen_range(0..12);
            let mut els = random_list(&mut rng, &mut data, blocks, fault == 1);
            assert!(
                data < data_base + DATA - 65536,
                "test data region exhausted"
            );
            let mut bytes = blocks as u32 * 4096;
            let mut sg_max = els.len() as u32 + rng.gen_range(0..2);
            let i = rng.gen_range(els.len() / 2..els.len());
            match fault {
                2 => els[i].1 = 0,
                3 => els[i].3 += 1 + rng.gen_range(0..2) * 511,
                4 => sg_max = rng.gen_range(0..els.len() as u32),
                5 => bytes += 4096,
                6 => bytes -= 4096,
                7 => bytes += rng.gen_range(1..4096),
                8 => {
                    if els[els.len() - 1].1 > 1 {
                        els.last_mut().unwrap().1 -= 1;
                    } else {
                        els.pop();
                    }
                }
                _ => {}
            }
            // the list, written to the device's memory and the oracle's
            let base = sg_next;
            sg_next += 32 * els.len() as u64 + 32 * rng.gen_range(0..2);
            assert!(sg_next < sg_base + SG, "test element region exhausted");
            for (k, &(src, len, zero, d)) in els.iter().enumerate() {
                let next = if fault == 9 && k == i {
                    unreg // a refused element follows
                } else if k + 1 < els.len() {
                    base + 32 * (k as u64 + 1)
                } else {
                    0
                };
                let e = SgElem {
                    src_addr: src,
                    len: len as u32, // as the layout's 4-byte LEN holds it
                    flags: if zero {
                        SgFlags::ZERO
                    } else {
                        SgFlags::empty()
                    },
                    disk_addr: d,
                    next,
                }
                .to_bytes();
                r.cpu_write(base + 32 * k as u64, &e);
                mem.write(base + 32 * k as u64, &e);
            }
            let (st, done) = oracle(&mut mem, &mut disk, &mut n, read, base, sg_max, bytes);
            seen.insert((read, st));
            let opc = if read {
                Opcode::BlkRead
            } else {
                Opcode::BlkWrite
            };
            want.push((tag, opc.code(), st, u32::try_from(done).unwrap()));
            r.submit(&blk_request(opc, tag, base, sg_max, bytes));
        }
        let cs = r.wait_cpls(batch);
        let base = want.len() - batch;
        for (c, w) in cs.iter().zip(&want[base..]) {
            assert_eq!(c.kind, CplKind::BlkDone);
            assert_eq!((c.tag, c.opcode, c.status, c.bytes), *w, "request {}", w.0);
        }
    }
    for (b, v) in &mem.0 {
        assert!(r.cpu_read(*b, v.len()) == *v, "host memory at {b:#x}");
    }
    let mut got = vec![0; DISK as usize];
    r.env.disk.read_bytes(0, &mut got).unwrap();
    assert!(got == disk, "disk contents");
    assert_eq!(r.r(reg::CNT_BLK_READS), n.blk_reads);
    assert_eq!(r.r(reg::CNT_BLK_RD_BYTES), n.blk_reads * 4096);
    assert_eq!(r.r(reg::CNT_BLK_WRITES), n.blk_writes);
    assert_eq!(r.env.mem.stats().blk_written, n.host_written);
    for read in [false, true] {
        for st in [
            Status::Ok,
            Status::BadSg,
            Status::DmaError,
            Status::DiskError,
        ] {
            assert!(
                seen.contains(&(read, st)),
                "read {read} status {st} not covered"
            );
        }
    }
    r.assert_all_free();
}

#[test]
fn blk_random_mixed_w64() {
    random_mixed(64, 1, 150);
}

#[test]
fn blk_random_mixed_w512() {
    random_mixed(512, 2, 150);
}
