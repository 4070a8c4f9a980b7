//! RTL test of `blk_dma` (block-controller DMA, seed 000) at 64 and 512 bits.
//!
//! The test drives the engine with BLK_WRITE entries and plays host memory (DMA reads with random
//! latency, random idle words, refused ranges) and the block device (random backpressure on the
//! request and the data, random status latency, injected errors), with random backpressure on the
//! completion output. An independent Rust walk of the scatter-gather list (the oracle below,
//! written from docs/architecture.md) gives the expected host reads, block writes and completions.

use std::collections::{HashMap, VecDeque};

use buflet_sim::{Model, Port};
use buflet_spec::{blk_req, cpl, cpl_kind, get, op, put, sg_elem, sg_flag, status};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const BLOCK: usize = 4096;
const MEM_BYTES: usize = 4 << 20;
const SG_REGION: u64 = 3 << 20; // data in [0, SG_REGION), elements in [SG_REGION, MEM_BYTES)

/// Port cache over a model.
struct Dut {
    m: Model,
    ports: HashMap<&'static str, Port>,
    clk: Port,
    kw: usize,
}

impl Dut {
    fn new(name: &str) -> Dut {
        let m = Model::new(name).expect("model built (sim/models.txt)");
        let clk = m.input("clk").unwrap();
        let kw = m.port("s_axis_dma_rd_tkeep").unwrap().width() as usize;
        Dut {
            m,
            ports: HashMap::new(),
            clk,
            kw,
        }
    }
    fn p(&mut self, name: &'static str) -> Port {
        if let Some(p) = self.ports.get(name) {
            return *p;
        }
        let p = self.m.port(name).unwrap_or_else(|e| panic!("{e}"));
        self.ports.insert(name, p);
        p
    }
    fn set(&mut self, name: &'static str, v: u64) {
        let p = self.p(name);
        self.m.set(p, v);
    }
    fn get(&mut self, name: &'static str) -> u64 {
        let p = self.p(name);
        self.m.get(p)
    }
    fn set_bytes(&mut self, name: &'static str, b: &[u8]) {
        let p = self.p(name);
        self.m.set_bytes(p, b);
    }
    fn get_bytes(&mut self, name: &'static str, n: usize) -> Vec<u8> {
        let p = self.p(name);
        let mut v = vec![0u8; n];
        self.m.get_bytes(p, &mut v);
        v
    }
    fn tick(&mut self) {
        self.m.tick(self.clk);
    }
}

/// Host memory with refused ranges.
struct Host {
    mem: Vec<u8>,
    refused: Vec<(u64, u64)>,
}

impl Host {
    fn refused(&self, addr: u64, len: u64) -> bool {
        addr + len > MEM_BYTES as u64
            || self
                .refused
                .iter()
                .any(|&(a, l)| addr < a + l && a < addr + len)
    }
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        if self.refused(addr, len as u64) {
            None
        } else {
            Some(self.mem[addr as usize..addr as usize + len].to_vec())
        }
    }
}

#[derive(Clone, Debug)]
struct Cmd {
    tag: u32,
    sg_addr: u64,
    sg_max: u32,
    bytes: u32,
}

#[derive(Debug, PartialEq, Eq, Clone)]
struct Cpl {
    tag: u32,
    status: u8,
    bytes: u32,
}

#[derive(Default)]
struct Expect {
    reads: Vec<(u64, u64)>,
    blocks: Vec<(u64, Vec<u8>)>,
    cpls: Vec<Cpl>,
}

/// Independent walk of one BLK_WRITE. `blk_index` counts block writes across commands;
/// `disk_fail` holds the indices the block device answers with an error.
fn oracle(host: &Host, c: &Cmd, blk_index: &mut usize, disk_fail: &[usize], exp: &mut Expect) {
    let done = |exp: &mut Expect, st: u64, written: u32| {
        exp.cpls.push(Cpl {
            tag: c.tag,
            status: st as u8,
            bytes: written,
        });
    };
    if c.bytes == 0 || !(c.bytes as usize).is_multiple_of(BLOCK) {
        return done(exp, status::BAD_SG, 0);
    }
    let (mut ptr, mut count, mut described, mut written) = (c.sg_addr, 0u32, 0u64, 0u32);
    let (mut fill, mut cur_disk, mut lba) = (0usize, 0u64, 0u64);
    let mut buf: Vec<u8> = Vec::new();
    loop {
        if count == c.sg_max {
            return done(exp, status::BAD_SG, written);
        }
        exp.reads.push((ptr, 32));
        let Some(e) = host.read(ptr, 32) else {
            return done(exp, status::DMA_ERROR, written);
        };
        count += 1;
        let src = get(&e, sg_elem::SRC_ADDR);
        let len = get(&e, sg_elem::LEN);
        let zero = get(&e, sg_elem::FLAGS) & sg_flag::ZERO != 0;
        let disk = get(&e, sg_elem::DISK_ADDR);
        let next = get(&e, sg_elem::NEXT);
        let disk_ok = if fill == 0 {
            disk.is_multiple_of(512)
        } else {
            disk == cur_disk
        };
        if len == 0 || len > 65536 || !disk_ok || described + len > c.bytes as u64 {
            return done(exp, status::BAD_SG, written);
        }
        described += len;
        cur_disk = disk + len;
        if fill == 0 {
            lba = disk / 512;
        }
        let (mut s, mut rem) = (src, len as usize);
        while rem > 0 {
            let chunk = rem.min(BLOCK - fill);
            if zero {
                buf.extend(std::iter::repeat_n(0, chunk));
            } else {
                exp.reads.push((s, chunk as u64));
                match host.read(s, chunk) {
                    Some(d) => buf.extend(d),
                    None => return done(exp, status::DMA_ERROR, written),
                }
            }
            s += chunk as u64;
            rem -= chunk;
            fill += chunk;
            if fill == BLOCK {
                exp.blocks.push((lba, std::mem::take(&mut buf)));
                let i = *blk_index;
                *blk_index += 1;
                if disk_fail.contains(&i) {
                    return done(exp, status::DISK_ERROR, written);
                }
                written += BLOCK as u32;
                lba += 8;
                fill = 0;
                if rem == 0 {
                    if next == 0 {
                        let st = if described == c.bytes as u64 {
                            status::OK
                        } else {
                            status::BAD_SG
                        };
                        return done(exp, st, written);
                    }
                    if described == c.bytes as u64 {
                        return done(exp, status::BAD_SG, written);
                    }
                }
            }
        }
        if fill != 0 && next == 0 {
            return done(exp, status::BAD_SG, written);
        }
        ptr = next;
    }
}

/// Builds scatter-gather lists in host memory.
struct Builder {
    rng: StdRng,
    data_next: u64,
    sg_next: u64,
    disk_next: u64,
}

struct Elem {
    src: u64,
    len: u64,
    flags: u64,
    disk: u64,
}

impl Builder {
    fn alloc_data(&mut self, len: u64) -> u64 {
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
    fn alloc_sg(&mut self) -> u64 {
        assert!(
            self.sg_next + 64 < MEM_BYTES as u64,
            "test element region exhausted"
        );
        let a = self.sg_next;
        self.sg_next += 32 + 32 * self.rng.gen_range(0..2);
        a
    }
    /// A valid element list for `blocks` blocks: random lengths (spanning and straddling
    /// blocks), ZERO elements, each block-starting element at a fresh disk address.
    fn valid_list(&mut self, blocks: usize) -> Vec<Elem> {
        let total = (blocks * BLOCK) as u64;
        let mut out = Vec::new();
        let mut pos = 0u64;
        let mut disk = 0u64;
        while pos < total {
            let len = match self.rng.gen_range(0..4) {
                0 => self.rng.gen_range(1..64),
                1 => self.rng.gen_range(1..2000),
                2 => self.rng.gen_range(1..9000),
                _ => BLOCK as u64 - pos % BLOCK as u64,
            }
            .min(total - pos);
            if pos.is_multiple_of(BLOCK as u64) && (pos == 0 || self.rng.gen_bool(0.5)) {
                self.disk_next += 8 * 512 * self.rng.gen_range(1..4);
                disk = self.disk_next;
            }
            let zero = self.rng.gen_bool(0.15);
            let src = if zero {
                self.rng.gen()
            } else {
                self.alloc_data(len)
            };
            out.push(Elem {
                src,
                len,
                flags: if zero { sg_flag::ZERO } else { 0 },
                disk,
            });
            disk += len;
            pos += len;
        }
        self.disk_next = disk.max(self.disk_next) + 4096;
        out
    }
    /// Writes the list into memory; returns the first element's address.
    fn write_list(&mut self, host: &mut Host, elems: &[Elem]) -> u64 {
        let addrs: Vec<u64> = elems.iter().map(|_| self.alloc_sg()).collect();
        for (i, e) in elems.iter().enumerate() {
            let mut b = [0u8; 32];
            put(&mut b, sg_elem::SRC_ADDR, e.src);
            put(&mut b, sg_elem::LEN, e.len);
            put(&mut b, sg_elem::FLAGS, e.flags);
            put(&mut b, sg_elem::DISK_ADDR, e.disk);
            put(
                &mut b,
                sg_elem::NEXT,
                addrs.get(i + 1).copied().unwrap_or(0),
            );
            let a = addrs[i] as usize;
            host.mem[a..a + 32].copy_from_slice(&b);
        }
        addrs.first().copied().unwrap_or(SG_REGION)
    }
}

/// One DMA read response: delay before its first word, then words (bytes, keep, last, user).
type Response = (u32, VecDeque<(Vec<u8>, u64, bool, bool)>);

struct Bench {
    dut: Dut,
    rng: StdRng,
    host: Host,
    /// pending command entries
    cmds: VecDeque<Cmd>,
    disk_fail: Vec<usize>,
    // observed
    reads: Vec<(u64, u64)>,
    blocks: Vec<(u64, Vec<u8>)>,
    cpls: Vec<Cpl>,
    // block device state
    blk_req: Option<u64>,
    blk_data: Vec<u8>,
    blk_status_wait: Option<(u32, u8)>,
    blk_count: usize,
    // DMA read response state: (delay, words)
    rsp: VecDeque<Response>,
}

impl Bench {
    fn new(name: &str, seed: u64) -> Bench {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut mem = vec![0u8; MEM_BYTES];
        rng.fill(&mut mem[..]);
        let mut dut = Dut::new(name);
        dut.set("rst", 1);
        for _ in 0..3 {
            dut.tick();
        }
        dut.set("rst", 0);
        Bench {
            dut,
            rng,
            host: Host {
                mem,
                refused: Vec::new(),
            },
            cmds: VecDeque::new(),
            disk_fail: Vec::new(),
            reads: Vec::new(),
            blocks: Vec::new(),
            cpls: Vec::new(),
            blk_req: None,
            blk_data: Vec::new(),
            blk_status_wait: None,
            blk_count: 0,
            rsp: VecDeque::new(),
        }
    }

    fn cmd_entry(c: &Cmd) -> [u8; 64] {
        let mut e = [0u8; 64];
        put(&mut e, blk_req::OPCODE, op::BLK_WRITE);
        put(&mut e, blk_req::TAG, c.tag as u64);
        put(&mut e, blk_req::SG_ADDR, c.sg_addr);
        put(&mut e, blk_req::SG_MAX, c.sg_max as u64);
        put(&mut e, blk_req::BYTES, c.bytes as u64);
        e
    }

    /// Runs until `n` completions have been seen.
    fn run(&mut self, n: usize) {
        let kw = self.dut.kw;
        let mut cycles = 0u64;
        let mut cmd_valid = false;
        while self.cpls.len() < n {
            cycles += 1;
            assert!(
                cycles < 2_000_000,
                "timeout: {} of {n} completions",
                self.cpls.len()
            );
            let r = &mut self.rng;
            // ---- drive inputs
            if !cmd_valid && !self.cmds.is_empty() && r.gen_bool(0.5) {
                cmd_valid = true;
                let e = Self::cmd_entry(&self.cmds[0]);
                self.dut.set_bytes("s_cmd_data", &e);
            }
            self.dut.set("s_cmd_valid", cmd_valid as u64);
            let rd_req_ready = r.gen_bool(0.6);
            self.dut.set("m_dma_rd_req_ready", rd_req_ready as u64);
            // response word
            let mut rsp_valid = false;
            if let Some((delay, words)) = self.rsp.front_mut() {
                if *delay > 0 {
                    *delay -= 1;
                } else if r.gen_bool(0.7) {
                    let (d, keep, last, user) = words.front().unwrap();
                    rsp_valid = true;
                    let (d, keep, last, user) = (d.clone(), *keep, *last, *user);
                    self.dut.set_bytes("s_axis_dma_rd_tdata", &d);
                    self.dut
                        .set_bytes("s_axis_dma_rd_tkeep", &keep.to_le_bytes());
                    self.dut.set("s_axis_dma_rd_tlast", last as u64);
                    self.dut.set("s_axis_dma_rd_tuser", user as u64);
                }
            }
            self.dut.set("s_axis_dma_rd_tvalid", rsp_valid as u64);
            let blk_req_ready =
                self.blk_req.is_none() && self.blk_status_wait.is_none() && r.gen_bool(0.5);
            self.dut.set("m_blk_req_ready", blk_req_ready as u64);
            let blk_wr_ready = self.blk_req.is_some() && r.gen_bool(0.7);
            self.dut.set("m_axis_blk_wr_tready", blk_wr_ready as u64);
            let mut resp_valid = false;
            if let Some((delay, st)) = &mut self.blk_status_wait {
                if *delay > 0 {
                    *delay -= 1;
                } else {
                    resp_valid = true;
                    let st = *st;
                    self.dut.set("s_blk_resp_status", st as u64);
                }
            }
            self.dut.set("s_blk_resp_valid", resp_valid as u64);
            let cpl_ready = r.gen_bool(0.5);
            self.dut.set("m_cpl_ready", cpl_ready as u64);
            self.dut.m.eval();

            // ---- sample handshakes
            if cmd_valid && self.dut.get("s_cmd_ready") == 1 {
                self.cmds.pop_front();
                cmd_valid = false;
            }
            if rd_req_ready && self.dut.get("m_dma_rd_req_valid") == 1 {
                let addr = self.dut.get("m_dma_rd_req_addr");
                let len = self.dut.get("m_dma_rd_req_len");
                assert!((1..=4096).contains(&len), "read len {len}");
                self.reads.push((addr, len));
                let data = self.host.read(addr, len as usize);
                let refused = data.is_none();
                let data = data.unwrap_or_else(|| vec![0; len as usize]);
                let nw = (len as usize).div_ceil(kw);
                let mut words = VecDeque::new();
                for w in 0..nw {
                    let chunk = &data[w * kw..(w * kw + kw).min(data.len())];
                    let keep = if chunk.len() == 64 {
                        u64::MAX
                    } else {
                        (1u64 << chunk.len()) - 1
                    };
                    let last = w == nw - 1;
                    words.push_back((chunk.to_vec(), keep, last, last && refused));
                }
                let delay = self.rng.gen_range(0..12);
                self.rsp.push_back((delay, words));
            }
            if rsp_valid && self.dut.get("s_axis_dma_rd_tready") == 1 {
                let (_, words) = self.rsp.front_mut().unwrap();
                words.pop_front();
                if words.is_empty() {
                    self.rsp.pop_front();
                }
            }
            if blk_req_ready && self.dut.get("m_blk_req_valid") == 1 {
                assert_eq!(self.dut.get("m_blk_req_len"), BLOCK as u64);
                assert_eq!(self.dut.get("m_blk_req_write"), 1);
                self.blk_req = Some(self.dut.get("m_blk_req_lba"));
                self.blk_data.clear();
            }
            if blk_wr_ready && self.dut.get("m_axis_blk_wr_tvalid") == 1 {
                let keep = self.dut.get_bytes("m_axis_blk_wr_tkeep", kw / 8);
                assert!(keep.iter().all(|&b| b == 0xFF), "block data words are full");
                let d = self.dut.get_bytes("m_axis_blk_wr_tdata", kw);
                self.blk_data.extend(d);
                let last = self.dut.get("m_axis_blk_wr_tlast") == 1;
                assert_eq!(
                    last,
                    self.blk_data.len() == BLOCK,
                    "tlast exactly on the 4096th byte"
                );
                if last {
                    let lba = self.blk_req.take().unwrap();
                    self.blocks.push((lba, std::mem::take(&mut self.blk_data)));
                    let st = if self.disk_fail.contains(&self.blk_count) {
                        5
                    } else {
                        0
                    };
                    self.blk_count += 1;
                    self.blk_status_wait = Some((self.rng.gen_range(0..20), st));
                }
            } else if self.blk_req.is_none() {
                assert_eq!(
                    self.dut.get("m_axis_blk_wr_tvalid"),
                    0,
                    "data without a block request"
                );
            }
            if resp_valid && self.dut.get("s_blk_resp_ready") == 1 {
                self.blk_status_wait = None;
            }
            if cpl_ready && self.dut.get("m_cpl_valid") == 1 {
                let d = self.dut.get_bytes("m_cpl_data", 32);
                assert_eq!(get(&d, cpl::KIND), cpl_kind::BLK_DONE);
                assert_eq!(get(&d, cpl::OPCODE), op::BLK_WRITE);
                assert_eq!(get(&d, cpl::PHASE), 0);
                assert_eq!(get(&d, cpl::FLAGS), 0);
                self.cpls.push(Cpl {
                    tag: get(&d, cpl::TAG) as u32,
                    status: get(&d, cpl::STATUS) as u8,
                    bytes: get(&d, cpl::BYTES) as u32,
                });
            }
            self.dut.tick();
        }
    }
}

/// Kinds of list damage for the error cases.
#[derive(Clone, Copy, Debug)]
enum Fault {
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
    EndsMidBlock,
    TooShort,
    TooLong,
}

const FAULTS: [Fault; 14] = [
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
    Fault::EndsMidBlock,
    Fault::TooShort,
    Fault::TooLong,
];

fn run_width(name: &str, seed: u64, rounds: usize) {
    let mut b = Bench::new(name, seed);
    let mut bld = Builder {
        rng: StdRng::seed_from_u64(seed ^ 0x5eed),
        data_next: 0,
        sg_next: SG_REGION,
        disk_next: 0,
    };
    let mut exp = Expect::default();
    let mut blk_index = 0usize;
    let mut statuses = HashMap::new();
    for round in 0..rounds {
        let tag = 100 + round as u32;
        let fault = if round % 2 == 0 {
            Fault::None
        } else {
            FAULTS[(round / 2) % FAULTS.len()]
        };
        let blocks = bld.rng.gen_range(1..4);
        let mut elems = bld.valid_list(blocks);
        let mut bytes = (blocks * BLOCK) as u32;
        let mut sg_max = elems.len() as u32 + bld.rng.gen_range(0..3);
        // pick an element after the first block if there is one
        let pick =
            |elems: &Vec<Elem>, rng: &mut StdRng| rng.gen_range(elems.len() / 2..elems.len());
        match fault {
            Fault::None => {}
            Fault::BytesNotMultiple => bytes += bld.rng.gen_range(1..4096),
            Fault::BytesZero => bytes = 0,
            Fault::ZeroLen => {
                let i = pick(&elems, &mut bld.rng);
                elems[i].len = 0;
            }
            Fault::HugeLen => {
                let i = pick(&elems, &mut bld.rng);
                elems[i].len = 65537 + bld.rng.gen_range(0..3);
                elems[i].flags = sg_flag::ZERO;
                bytes = 1 << 20;
            }
            Fault::Discontiguous | Fault::Unaligned => {
                // damage an element that continues a block, or make a block start unaligned
                let mut pos = 0u64;
                let mut mid = Vec::new();
                for (i, e) in elems.iter().enumerate() {
                    if !pos.is_multiple_of(BLOCK as u64) {
                        mid.push(i);
                    }
                    pos += e.len;
                }
                if matches!(fault, Fault::Discontiguous) && !mid.is_empty() {
                    let i = mid[bld.rng.gen_range(0..mid.len())];
                    elems[i].disk += 512;
                } else {
                    let i = pick(&elems, &mut bld.rng);
                    elems[i].disk += 1;
                }
            }
            Fault::SgMax => sg_max = bld.rng.gen_range(0..elems.len() as u32),
            Fault::RefusedElem => {} // handled when the list is written
            Fault::RefusedData => {
                let i = pick(&elems, &mut bld.rng);
                if elems[i].flags != 0 {
                    elems[i].flags = 0;
                    elems[i].src = bld.alloc_data(elems[i].len);
                }
                let off = bld.rng.gen_range(0..elems[i].len);
                b.host.refused.push((elems[i].src + off, 1));
            }
            Fault::DiskError => b.disk_fail.push(blk_index + bld.rng.gen_range(0..blocks)),
            Fault::EndsMidBlock => {
                let last = elems.len() - 1;
                if elems[last].len > 1 {
                    elems[last].len -= 1;
                } else {
                    elems.pop();
                }
            }
            Fault::TooShort => bytes += BLOCK as u32,
            Fault::TooLong => bytes -= BLOCK as u32,
        }
        let sg_addr = if matches!(fault, Fault::RefusedElem) {
            // a list whose k-th NEXT points outside host memory
            let k = bld.rng.gen_range(0..elems.len());
            if k == 0 {
                MEM_BYTES as u64 + 0x40
            } else {
                let first = bld.write_list(&mut b.host, &elems[..k]);
                // walk to the k-th element and patch its NEXT
                let mut a = first;
                for _ in 1..k {
                    a = get(&b.host.mem[a as usize..], sg_elem::NEXT);
                }
                put(
                    &mut b.host.mem[a as usize..],
                    sg_elem::NEXT,
                    MEM_BYTES as u64 + 0x80,
                );
                first
            }
        } else {
            bld.write_list(&mut b.host, &elems)
        };
        let c = Cmd {
            tag,
            sg_addr,
            sg_max,
            bytes,
        };
        let before = exp.cpls.len();
        oracle(&b.host, &c, &mut blk_index, &b.disk_fail, &mut exp);
        let st = exp.cpls[before].status as u64;
        let intended = match fault {
            Fault::None => status::OK,
            Fault::RefusedElem | Fault::RefusedData => status::DMA_ERROR,
            Fault::DiskError => status::DISK_ERROR,
            _ => status::BAD_SG,
        };
        assert_eq!(st, intended, "test generator: {fault:?} gives status {st}");
        *statuses.entry(st as u8).or_insert(0) += 1;
        b.cmds.push_back(c);
        // run commands in batches so that several sit in the command FIFO at once
        if b.cmds.len() >= 3 || round == rounds - 1 {
            let n = exp.cpls.len();
            b.run(n);
        }
    }
    assert_eq!(b.cpls, exp.cpls, "completions");
    assert_eq!(b.reads.len(), exp.reads.len(), "number of host reads");
    for (i, (got, want)) in b.reads.iter().zip(&exp.reads).enumerate() {
        assert_eq!(got, want, "host read {i}");
    }
    assert_eq!(b.blocks.len(), exp.blocks.len(), "number of block writes");
    for (i, (got, want)) in b.blocks.iter().zip(&exp.blocks).enumerate() {
        assert_eq!(got.0, want.0, "lba of block write {i}");
        assert!(got.1 == want.1, "data of block write {i}");
    }
    // every completion status must have been exercised
    for st in [
        status::OK,
        status::BAD_SG,
        status::DMA_ERROR,
        status::DISK_ERROR,
    ] {
        assert!(
            statuses.get(&(st as u8)).copied().unwrap_or(0) > 0,
            "status {st} not covered: {statuses:?}"
        );
    }
    eprintln!(
        "{name}: {} completions {statuses:?}, {} host reads, {} block writes, {} cycles",
        b.cpls.len(),
        b.reads.len(),
        b.blocks.len(),
        b.dut.m.cycles()
    );
    // everything drained
    assert!(b.rsp.is_empty() && b.blk_req.is_none() && b.blk_status_wait.is_none());
}

#[test]
fn blk_dma_w64() {
    run_width("blk_dma_w64", 1, 112);
}

#[test]
fn blk_dma_w512() {
    run_width("blk_dma_w512", 2, 112);
}
