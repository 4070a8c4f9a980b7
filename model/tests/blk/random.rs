//! Random BLK_WRITE and BLK_READ requests interleaved on the request ring, with list faults,
//! refused elements and blocks beyond the disk, against an independent oracle of the walk
//! (shadow host memory and disk, counters).

use super::*;

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
    /// Block writes that failed: the engine may have sent up to BLK_WRITES_IN_FLIGHT - 1 more
    /// of the same command before the failed status came back (all beyond the disk here, as
    /// the blocks after a bad one continue its LBA).
    failed_writes: u32,
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
                        n.failed_writes += 1;
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
        // the blocks after a bad one stay beyond the disk: the engine may send them before the
        // bad one's status comes back, and they must not change the disk either
        lba[b] = if bad == Some(b) {
            DISK / 512 + rng.gen_range(0..16)
        } else if fresh[b] && (b == 0 || rng.gen_bool(0.5)) && bad.is_none_or(|k| b < k) {
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
    let ahead = (buflet_spec::param::BLK_WRITES_IN_FLIGHT as u32 - 1) * n.failed_writes;
    let writes = r.r(reg::CNT_BLK_WRITES);
    assert!(
        (n.blk_writes..=n.blk_writes + ahead).contains(&writes),
        "CNT_BLK_WRITES {writes}: {} written or failed, at most {ahead} sent after failed ones",
        n.blk_writes
    );
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
