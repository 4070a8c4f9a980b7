//! RTL test of `blk_dma` (block-controller DMA, seed 000) at 64 and 512 bits.
//!
//! The test drives the engine with BLK_WRITE and BLK_READ entries, interleaved in its command
//! FIFO, and plays host memory (DMA reads with random latency, random idle words, refused
//! ranges; DMA writes with random backpressure on the request and the data) and the block device
//! (a disk image; random backpressure on the request and the write data, random latency and idle
//! words on the read data, random status latency, injected errors), with random backpressure on
//! the completion output. An independent Rust walk of the scatter-gather list (the oracle below,
//! written from docs/architecture.md and docs/storage.md, over its own copies of host memory and
//! disk) gives the expected host reads, block operations, host writes, completions and the
//! final host memory and disk contents.
//!
//! p2p (docs/p2p.md): the bench also plays buflet memory (the buflet_pool second read port,
//! registered, data held until the next read, and the combinational exposed bitmap, changed
//! between batches). BLK_WRITE lists mix DEVMEM elements (odd offsets and lengths inside one
//! exposed buflet) with host and ZERO elements; every DEVMEM BAD_SG rule is injected. The
//! oracle also gives the buflet-memory reads (each chunk one run of consecutive words read in
//! consecutive cycles: one word per cycle) and the CNT_BLK_DEV_BYTES events.

use std::collections::{HashMap, VecDeque};

use buflet_sim::{Model, Port};
use buflet_spec::{BlkReq, CplFlags, CplKind, Opcode, SgElem, SgFlags, Status};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const BLOCK: usize = 4096;
const MEM_BYTES: usize = 6 << 20;
const SG_REGION: u64 = 5 << 20; // data in [DATA_BASE, SG_REGION), elements in [SG_REGION, MEM_BYTES)
/// No host data below: the bench's protection lookup refuses every range starting there, so a
/// DEVMEM source (buflet memory addresses are below it) would be refused if it were looked up.
const DATA_BASE: u64 = 1 << 20;
const DISK_BYTES: usize = 8 << 20;

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

fn refused(refused: &[(u64, u64)], addr: u64, len: u64) -> bool {
    addr + len > MEM_BYTES as u64 || refused.iter().any(|&(a, l)| addr < a + l && a < addr + len)
}

fn read_mem(mem: &[u8], refs: &[(u64, u64)], addr: u64, len: usize) -> Option<Vec<u8>> {
    if refused(refs, addr, len as u64) {
        None
    } else {
        Some(mem[addr as usize..addr as usize + len].to_vec())
    }
}

impl Host {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        read_mem(&self.mem, &self.refused, addr, len)
    }
}

#[derive(Clone, Debug)]
struct Cmd {
    read: bool,
    tag: u32,
    sg_addr: u64,
    sg_max: u32,
    bytes: u32,
}

/// The fields of a BLK_DONE that vary (KIND, FLAGS and PHASE are checked as it is taken).
#[derive(Debug, PartialEq, Eq, Clone)]
struct Done {
    tag: u32,
    opcode: Opcode,
    status: Status,
    bytes: u32,
}

/// One block-device operation: (write, lba, data of a write).
type BlkOp = (bool, u64, Vec<u8>);

#[derive(Default)]
struct Expect {
    reads: Vec<(u64, u64)>,
    blocks: Vec<BlkOp>,
    /// Host DMA writes (BLK_READ data): address and bytes.
    writes: Vec<(u64, Vec<u8>)>,
    cpls: Vec<Done>,
    /// Buflet-memory reads of DEVMEM chunks: (first word address, words).
    dev_reads: Vec<(u64, u64)>,
    /// CNT_BLK_DEV_BYTES events: DEVMEM bytes of each block write that has any.
    dev_events: Vec<u64>,
    /// DEVMEM elements split across two blocks.
    dev_split: usize,
    /// Requests ended by a DEVMEM rule (BAD_SG).
    dev_bad: usize,
}

/// Buflet memory seen by the block engine (docs/p2p.md): bytes and exposed bits.
struct Bram {
    bytes: Vec<u8>,
    exposed: Vec<bool>,
    /// BUFLET_BYTES of the model.
    bb: u64,
}

impl Bram {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    /// The exposed bit the pool reports for buflet index `idx` (16 bits).
    fn exp(&self, idx: u64) -> bool {
        self.exposed.get(idx as usize).copied().unwrap_or(false)
    }
    /// The DEVMEM element rules of docs/p2p.md.
    fn dev_ok(&self, read: bool, zero: bool, src: u64, len: u64) -> bool {
        !read
            && !zero
            && src < self.size()
            && src % self.bb + len <= self.bb
            && self.exp(src / self.bb)
    }
}

/// Independent walk of BLK_WRITE and BLK_READ (docs/architecture.md, docs/storage.md) over
/// its own copies of host memory and disk.
struct Oracle {
    mem: Vec<u8>,
    disk: Vec<u8>,
    /// Block operations (reads and writes) so far.
    blk_index: usize,
}

impl Oracle {
    /// `disk_fail` holds the block operation indices the block device answers with an error.
    fn run(
        &mut self,
        refs: &[(u64, u64)],
        bram: &Bram,
        kw: u64,
        c: &Cmd,
        disk_fail: &[usize],
        exp: &mut Expect,
    ) {
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
            exp.reads.push((ptr, 32));
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
            if dev && !bram.dev_ok(c.read, zero, src, len) {
                exp.dev_bad += 1;
                return done(exp, Status::BadSg, written);
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
                    if disk_fail.contains(&i) {
                        return done(exp, Status::DiskError, written);
                    }
                    let at = lba as usize * 512;
                    rblk = self.disk[at..at + BLOCK].to_vec();
                }
                let chunk = rem.min(BLOCK - fill);
                if c.read {
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
                        .push((w0, (s + chunk as u64).div_ceil(kw) - w0));
                    buf.extend_from_slice(&bram.bytes[s as usize..s as usize + chunk]);
                    blk_dev += chunk as u64;
                    exp.dev_split += usize::from(chunk < rem && s == src);
                } else {
                    exp.reads.push((s, chunk as u64));
                    match read_mem(&self.mem, refs, s, chunk) {
                        Some(d) => buf.extend(d),
                        None => return done(exp, Status::DmaError, written),
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
                        if disk_fail.contains(&i) {
                            return done(exp, Status::DiskError, written);
                        }
                        let at = lba as usize * 512;
                        self.disk[at..at + BLOCK].copy_from_slice(&data);
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

/// Builds scatter-gather lists in host memory.
struct Builder {
    rng: StdRng,
    data_next: u64,
    sg_next: u64,
    disk_next: u64,
}

#[derive(Clone)]
struct Elem {
    src: u64,
    len: u64,
    flags: SgFlags,
    disk: u64,
}

/// A random buflet of `bram` whose exposed bit is `exposed`.
fn pick_buflet(rng: &mut StdRng, bram: &Bram, exposed: bool) -> u64 {
    let c: Vec<u64> = (0..bram.exposed.len() as u64)
        .filter(|&b| bram.exposed[b as usize] == exposed)
        .collect();
    assert!(!c.is_empty(), "no buflet with exposed = {exposed}");
    c[rng.gen_range(0..c.len())]
}

/// A DEVMEM source for `len` (<= BUFLET_BYTES) bytes inside one buflet with the given
/// exposed bit, at a random (often odd) offset.
fn dev_src(rng: &mut StdRng, bram: &Bram, len: u64, exposed: bool) -> u64 {
    let b = pick_buflet(rng, bram, exposed);
    b * bram.bb + rng.gen_range(0..=bram.bb - len)
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
    /// blocks), ZERO elements. A write starts blocks at fresh disk addresses; a read at any
    /// sector of the disk written so far (so it reads back earlier writes, partly overlapping).
    /// A write mixes in DEVMEM elements (length cut to one buflet, exposed buflets of `bram`).
    fn valid_list(&mut self, blocks: usize, read: bool, bram: &Bram) -> Vec<Elem> {
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
    fn write_list(&mut self, mems: [&mut Vec<u8>; 2], elems: &[Elem]) -> u64 {
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

/// One DMA read response: delay before its first word, then words (bytes, keep, last, user).
type Response = (u32, VecDeque<(Vec<u8>, u64, bool, bool)>);

/// The block device's current operation.
enum BlkDev {
    Idle,
    /// A write request was taken: its data packet is being received.
    WrData {
        lba: u64,
        data: Vec<u8>,
    },
    /// A read request was taken: delay, then its data words.
    RdData {
        delay: u32,
        words: VecDeque<Vec<u8>>,
    },
    /// Status after a delay.
    Status {
        delay: u32,
        st: u8,
    },
}

struct Bench {
    dut: Dut,
    rng: StdRng,
    host: Host,
    disk: Vec<u8>,
    /// pending command entries
    cmds: VecDeque<Cmd>,
    disk_fail: Vec<usize>,
    // observed
    reads: Vec<(u64, u64)>,
    blocks: Vec<BlkOp>,
    writes: Vec<(u64, Vec<u8>)>,
    cpls: Vec<Done>,
    // block device state
    blk: BlkDev,
    blk_count: usize,
    // DMA read response state: (delay, words)
    rsp: VecDeque<Response>,
    // DMA write in progress: address, length, data so far
    wr: Option<(u64, usize, Vec<u8>)>,
    // buflet memory: contents and exposed bits, the word on bram_rd_data, the exposed bit
    // driven on exp_rd, the address read in the previous cycle (a run in progress)
    bram: Bram,
    bram_q: Vec<u8>,
    exp_set: bool,
    last_rd: Option<u64>,
    // observed buflet-memory read runs and CNT_BLK_DEV_BYTES events
    dev_reads: Vec<(u64, u64)>,
    dev_events: Vec<u64>,
}

impl Bench {
    /// `bb`, `nb`: BUFLET_BYTES and NUM_BUFLETS of the model.
    fn new(name: &str, seed: u64, bb: u64, nb: u64) -> Bench {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut mem = vec![0u8; MEM_BYTES];
        rng.fill(&mut mem[..]);
        let mut disk = vec![0u8; DISK_BYTES];
        rng.fill(&mut disk[..]);
        let mut bytes = vec![0u8; (bb * nb) as usize];
        rng.fill(&mut bytes[..]);
        let exposed = (0..nb).map(|_| rng.gen_bool(0.5)).collect();
        let mut dut = Dut::new(name);
        let kw = dut.kw;
        assert_eq!(
            1u64 << dut.m.port("bram_rd_addr").unwrap().width(),
            bb * nb / kw as u64,
            "BUFLET_BYTES * NUM_BUFLETS of the model"
        );
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
            disk,
            cmds: VecDeque::new(),
            disk_fail: Vec::new(),
            reads: Vec::new(),
            blocks: Vec::new(),
            writes: Vec::new(),
            cpls: Vec::new(),
            blk: BlkDev::Idle,
            blk_count: 0,
            rsp: VecDeque::new(),
            wr: None,
            bram: Bram { bytes, exposed, bb },
            bram_q: vec![0; kw],
            exp_set: false,
            last_rd: None,
            dev_reads: Vec::new(),
            dev_events: Vec::new(),
        }
    }

    /// New exposed bits (between batches, while the engine is idle): about half of the
    /// buflets, at least one exposed and one not.
    fn reexpose(&mut self) {
        let n = self.bram.exposed.len();
        for e in self.bram.exposed.iter_mut() {
            *e = self.rng.gen_bool(0.5);
        }
        self.bram.exposed[self.rng.gen_range(0..n / 2)] = true;
        self.bram.exposed[self.rng.gen_range(n / 2..n)] = false;
    }

    fn cmd_entry(c: &Cmd) -> [u8; 64] {
        BlkReq {
            opcode: if c.read {
                Opcode::BlkRead
            } else {
                Opcode::BlkWrite
            },
            tag: c.tag,
            sg_addr: c.sg_addr,
            sg_max: c.sg_max,
            bytes: c.bytes,
            ..Default::default()
        }
        .to_bytes()
    }

    /// Status the block device gives its next operation.
    fn next_status(&mut self) -> u8 {
        let st = if self.disk_fail.contains(&self.blk_count) {
            5
        } else {
            0
        };
        self.blk_count += 1;
        st
    }

    /// Runs until `n` completions have been seen.
    fn run(&mut self, n: usize) {
        let kw = self.dut.kw;
        let full_keep = if kw == 64 { u64::MAX } else { (1u64 << kw) - 1 };
        let mut cycles = 0u64;
        let mut cmd_valid = false;
        while self.cpls.len() < n {
            cycles += 1;
            assert!(
                cycles < 3_000_000,
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
            // DMA write client
            let wr_req_ready = self.wr.is_none() && r.gen_bool(0.6);
            self.dut.set("m_dma_wr_req_ready", wr_req_ready as u64);
            let wr_data_ready = r.gen_bool(0.7);
            self.dut.set("m_axis_dma_wr_tready", wr_data_ready as u64);
            // block device
            let blk_idle = matches!(self.blk, BlkDev::Idle);
            let blk_req_ready = blk_idle && r.gen_bool(0.5);
            self.dut.set("m_blk_req_ready", blk_req_ready as u64);
            let blk_wr_ready = matches!(self.blk, BlkDev::WrData { .. }) && r.gen_bool(0.7);
            self.dut.set("m_axis_blk_wr_tready", blk_wr_ready as u64);
            let mut blk_rd_valid = false;
            let mut resp_valid = false;
            match &mut self.blk {
                BlkDev::RdData { delay, words } => {
                    if *delay > 0 {
                        *delay -= 1;
                    } else if r.gen_bool(0.7) {
                        blk_rd_valid = true;
                        let w = words.front().unwrap().clone();
                        let last = words.len() == 1;
                        self.dut.set_bytes("s_axis_blk_rd_tdata", &w);
                        self.dut
                            .set_bytes("s_axis_blk_rd_tkeep", &full_keep.to_le_bytes());
                        self.dut.set("s_axis_blk_rd_tlast", last as u64);
                    }
                }
                BlkDev::Status { delay, st } => {
                    if *delay > 0 {
                        *delay -= 1;
                    } else {
                        resp_valid = true;
                        let st = *st;
                        self.dut.set("s_blk_resp_status", st as u64);
                    }
                }
                _ => {}
            }
            self.dut.set("s_axis_blk_rd_tvalid", blk_rd_valid as u64);
            self.dut.set("s_blk_resp_valid", resp_valid as u64);
            let cpl_ready = self.rng.gen_bool(0.5);
            self.dut.set("m_cpl_ready", cpl_ready as u64);
            // buflet memory: registered read data, combinational exposed bit
            let q = self.bram_q.clone();
            self.dut.set_bytes("bram_rd_data", &q);
            // and the protection lookup: refused below DATA_BASE, where only DEVMEM sources lie
            self.dut.set("exp_rd", self.exp_set as u64);
            self.dut.set("prot_deny", 0);
            self.dut.m.eval();
            let e = self.bram.exp(self.dut.get("exp_rd_idx"));
            let deny = self.dut.get("prot_addr") < DATA_BASE;
            if e != self.exp_set || deny {
                self.exp_set = e;
                self.dut.set("exp_rd", e as u64);
                self.dut.set("prot_deny", deny as u64);
                self.dut.m.eval();
            }
            assert_eq!(self.dut.get("ev_fault"), 0, "no protection refusal");

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
            // DMA writes
            if wr_req_ready && self.dut.get("m_dma_wr_req_valid") == 1 {
                let addr = self.dut.get("m_dma_wr_req_addr");
                let len = self.dut.get("m_dma_wr_req_len") as usize;
                assert!((1..=4096).contains(&len), "write len {len}");
                assert!(
                    addr as usize + len <= MEM_BYTES,
                    "DMA write {addr:#x}+{len} outside host memory"
                );
                self.wr = Some((addr, len, Vec::new()));
            } else if self.dut.get("m_axis_dma_wr_tvalid") == 1 {
                assert!(self.wr.is_some(), "DMA write data without a request");
            }
            if wr_data_ready && self.dut.get("m_axis_dma_wr_tvalid") == 1 {
                if let Some((addr, len, data)) = &mut self.wr {
                    let keep = self.dut.get_bytes("m_axis_dma_wr_tkeep", kw / 8);
                    let d = self.dut.get_bytes("m_axis_dma_wr_tdata", kw);
                    let left = *len - data.len();
                    let n = left.min(kw);
                    for (i, byte) in d.iter().enumerate() {
                        let k = (keep[i / 8] >> (i % 8)) & 1 == 1;
                        assert_eq!(k, i < n, "DMA write tkeep byte {i} ({n} bytes left)");
                        if !k {
                            assert_eq!(*byte, 0, "DMA write byte {i} beyond tkeep");
                        }
                    }
                    data.extend_from_slice(&d[..n]);
                    let last = self.dut.get("m_axis_dma_wr_tlast") == 1;
                    assert_eq!(last, data.len() == *len, "DMA write tlast");
                    if last {
                        let (addr, data) = (*addr as usize, std::mem::take(data));
                        self.host.mem[addr..addr + data.len()].copy_from_slice(&data);
                        self.writes.push((addr as u64, data));
                        self.wr = None;
                    }
                }
            }
            // block device
            if blk_req_ready && self.dut.get("m_blk_req_valid") == 1 {
                assert_eq!(self.dut.get("m_blk_req_len"), BLOCK as u64);
                assert!(
                    self.wr.is_none(),
                    "next block before the host writes were issued"
                );
                let lba = self.dut.get("m_blk_req_lba");
                let at = lba as usize * 512;
                assert!(at + BLOCK <= DISK_BYTES, "lba {lba} beyond the test disk");
                if self.dut.get("m_blk_req_write") == 1 {
                    self.blk = BlkDev::WrData {
                        lba,
                        data: Vec::new(),
                    };
                } else {
                    self.blocks.push((false, lba, Vec::new()));
                    let words = self.disk[at..at + BLOCK]
                        .chunks(kw)
                        .map(|c| c.to_vec())
                        .collect();
                    self.blk = BlkDev::RdData {
                        delay: self.rng.gen_range(0..30),
                        words,
                    };
                }
            }
            if blk_wr_ready && self.dut.get("m_axis_blk_wr_tvalid") == 1 {
                let keep = self.dut.get_bytes("m_axis_blk_wr_tkeep", kw / 8);
                assert!(keep.iter().all(|&b| b == 0xFF), "block data words are full");
                let d = self.dut.get_bytes("m_axis_blk_wr_tdata", kw);
                let last = self.dut.get("m_axis_blk_wr_tlast") == 1;
                let BlkDev::WrData { lba, data } = &mut self.blk else {
                    unreachable!()
                };
                data.extend(d);
                assert_eq!(
                    last,
                    data.len() == BLOCK,
                    "tlast exactly on the 4096th byte"
                );
                if last {
                    let (lba, data) = (*lba, std::mem::take(data));
                    let st = self.next_status();
                    if st == 0 {
                        let at = lba as usize * 512;
                        self.disk[at..at + BLOCK].copy_from_slice(&data);
                    }
                    self.blocks.push((true, lba, data));
                    self.blk = BlkDev::Status {
                        delay: self.rng.gen_range(0..20),
                        st,
                    };
                }
            } else if !matches!(self.blk, BlkDev::WrData { .. }) {
                assert_eq!(
                    self.dut.get("m_axis_blk_wr_tvalid"),
                    0,
                    "data without a block write request"
                );
            }
            if blk_rd_valid && self.dut.get("s_axis_blk_rd_tready") == 1 {
                let BlkDev::RdData { words, .. } = &mut self.blk else {
                    unreachable!()
                };
                words.pop_front();
                if words.is_empty() {
                    let st = self.next_status();
                    self.blk = BlkDev::Status {
                        delay: self.rng.gen_range(0..20),
                        st,
                    };
                }
            }
            if resp_valid && self.dut.get("s_blk_resp_ready") == 1 {
                self.blk = BlkDev::Idle;
            }
            // buflet memory reads: runs of consecutive words in consecutive cycles
            if self.dut.get("bram_rd_en") == 1 {
                let a = self.dut.get("bram_rd_addr");
                match (self.last_rd, self.dev_reads.last_mut()) {
                    (Some(p), Some(run)) if a == p + 1 => run.1 += 1,
                    _ => self.dev_reads.push((a, 1)),
                }
                self.last_rd = Some(a);
                let at = a as usize * kw;
                self.bram_q = self.bram.bytes[at..at + kw].to_vec();
            } else {
                self.last_rd = None;
            }
            if self.dut.get("ev_dev_bytes_valid") == 1 {
                assert_eq!(
                    self.dut.get("ev_blk_write"),
                    1,
                    "DEVMEM bytes counted with a block write"
                );
                self.dev_events.push(self.dut.get("ev_dev_bytes"));
            }
            if cpl_ready && self.dut.get("m_cpl_valid") == 1 {
                let d = buflet_spec::Cpl::parse(&self.dut.get_bytes("m_cpl_data", 32)).unwrap();
                assert_eq!(d.kind, CplKind::BlkDone);
                assert_eq!(d.phase, 0);
                assert_eq!(d.flags, CplFlags::empty());
                self.cpls.push(Done {
                    tag: d.tag,
                    opcode: Opcode::try_from(d.opcode).expect("a known opcode"),
                    status: d.status,
                    bytes: d.bytes,
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
fn victim(elems: &mut Vec<Elem>, rng: &mut StdRng, min: u64, max: u64) -> usize {
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

const FAULTS: [Fault; 19] = [
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
    Fault::DevNotExposed,
    Fault::DevOutOfRange,
    Fault::DevCrossing,
    Fault::DevZero,
    Fault::DevInRead,
];

/// `bb`, `nb`: BUFLET_BYTES and NUM_BUFLETS of the model (sim/models.txt).
fn run_width(name: &str, seed: u64, rounds: usize, bb: u64, nb: u64) {
    let mut b = Bench::new(name, seed, bb, nb);
    b.reexpose();
    let kw = b.dut.kw as u64;
    let mut bld = Builder {
        rng: StdRng::seed_from_u64(seed ^ 0x5eed),
        data_next: DATA_BASE,
        sg_next: SG_REGION,
        disk_next: 0,
    };
    let mut oracle = Oracle {
        mem: b.host.mem.clone(),
        disk: b.disk.clone(),
        blk_index: 0,
    };
    let mut exp = Expect::default();
    let mut statuses: HashMap<(bool, Status), usize> = HashMap::new();
    for round in 0..rounds {
        let tag = 100 + round as u32;
        // reads and writes interleaved in the command FIFO (a write or two first so that
        // reads have written blocks to read back)
        // (fault rounds alternate between the two ops every pass over FAULTS)
        let read = if round % 2 == 0 {
            round >= 2 && bld.rng.gen_bool(0.6)
        } else {
            (round / 2 / FAULTS.len()) % 2 == 1
        };
        let mut fault = if round % 2 == 0 {
            Fault::None
        } else {
            FAULTS[(round / 2) % FAULTS.len()]
        };
        if read && matches!(fault, Fault::RefusedData) {
            // a read has no host data reads; its DMA writes are posted
            fault = Fault::RefusedElem;
        }
        // DEVMEM faults: the write rules on writes, DevInRead on reads
        let read = match fault {
            Fault::DevInRead => true,
            Fault::DevNotExposed | Fault::DevOutOfRange | Fault::DevCrossing | Fault::DevZero => {
                false
            }
            _ => read,
        };
        let blocks = bld.rng.gen_range(1..4);
        let mut elems = bld.valid_list(blocks, read, &b.bram);
        let mut bytes = (blocks * BLOCK) as u32;
        let sg_extra = bld.rng.gen_range(0..3);
        let mut sg_max = None;
        // pick an element after the first block if there is one
        let pick =
            |elems: &Vec<Elem>, rng: &mut StdRng| rng.gen_range(elems.len() / 2..elems.len());
        let bram = &b.bram;
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
                elems[i].flags = SgFlags::ZERO;
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
            Fault::SgMax => sg_max = Some(bld.rng.gen_range(0..elems.len() as u32)),
            Fault::RefusedElem => {} // handled when the list is written
            Fault::RefusedData => {
                let i = pick(&elems, &mut bld.rng);
                if !elems[i].flags.is_empty() {
                    elems[i].flags = SgFlags::empty();
                    elems[i].src = bld.alloc_data(elems[i].len);
                }
                let off = bld.rng.gen_range(0..elems[i].len);
                b.host.refused.push((elems[i].src + off, 1));
            }
            Fault::DiskError => b
                .disk_fail
                .push(oracle.blk_index + bld.rng.gen_range(0..blocks)),
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
            Fault::DevNotExposed => {
                let i = victim(&mut elems, &mut bld.rng, 1, bram.bb);
                elems[i].flags = SgFlags::DEVMEM;
                elems[i].src = dev_src(&mut bld.rng, bram, elems[i].len, false);
            }
            Fault::DevOutOfRange => {
                let i = victim(&mut elems, &mut bld.rng, 1, bram.bb);
                let len = elems[i].len;
                elems[i].flags = SgFlags::DEVMEM;
                elems[i].src = match bld.rng.gen_range(0..3) {
                    // just past the end, or far beyond it
                    0 => bram.size() + bld.rng.gen_range(0..bram.bb - len + 1),
                    1 => bld.rng.gen::<u64>() | 1 << 63,
                    // 2^16 buflets further: the low 16 bits of the index name an exposed
                    // buflet, so only the range check refuses it
                    _ => dev_src(&mut bld.rng, bram, len, true) + (bram.bb << 16),
                };
            }
            Fault::DevCrossing => {
                let i = victim(&mut elems, &mut bld.rng, 2, 2 * bram.bb);
                let len = elems[i].len;
                let b0 = pick_buflet(&mut bld.rng, bram, true);
                let lo = bram.bb.saturating_sub(len) + 1;
                elems[i].flags = SgFlags::DEVMEM;
                elems[i].src = b0 * bram.bb + bld.rng.gen_range(lo..bram.bb);
            }
            Fault::DevZero | Fault::DevInRead => {
                let i = victim(&mut elems, &mut bld.rng, 1, bram.bb);
                elems[i].flags = if matches!(fault, Fault::DevZero) || bld.rng.gen_bool(0.7) {
                    SgFlags::DEVMEM
                } else {
                    SgFlags::DEVMEM | SgFlags::ZERO
                };
                if matches!(fault, Fault::DevZero) {
                    elems[i].flags |= SgFlags::ZERO;
                }
                elems[i].src = dev_src(&mut bld.rng, bram, elems[i].len, true);
            }
        }
        let sg_max = sg_max.unwrap_or(elems.len() as u32 + sg_extra);
        let mems = [&mut b.host.mem, &mut oracle.mem];
        let sg_addr = if matches!(fault, Fault::RefusedElem) {
            // a list whose k-th NEXT points outside host memory
            let k = bld.rng.gen_range(0..elems.len());
            if k == 0 {
                MEM_BYTES as u64 + 0x40
            } else {
                let first = bld.write_list(mems, &elems[..k]);
                // walk to the k-th element and patch its NEXT
                let mut a = first;
                for _ in 1..k {
                    a = SgElem::parse(&b.host.mem[a as usize..]).unwrap().next;
                }
                for m in [&mut b.host.mem, &mut oracle.mem] {
                    let mut el = SgElem::parse(&m[a as usize..]).unwrap();
                    el.next = MEM_BYTES as u64 + 0x80;
                    el.emit(&mut m[a as usize..]);
                }
                first
            }
        } else {
            bld.write_list(mems, &elems)
        };
        let c = Cmd {
            read,
            tag,
            sg_addr,
            sg_max,
            bytes,
        };
        let before = exp.cpls.len();
        let dev_bad = exp.dev_bad;
        oracle.run(&b.host.refused, &b.bram, kw, &c, &b.disk_fail, &mut exp);
        let st = exp.cpls[before].status;
        let intended = match fault {
            Fault::None => Status::Ok,
            Fault::RefusedElem | Fault::RefusedData => Status::DmaError,
            Fault::DiskError => Status::DiskError,
            _ => Status::BadSg,
        };
        assert_eq!(st, intended, "test generator: {fault:?} gives status {st}");
        let dev_fault = matches!(
            fault,
            Fault::DevNotExposed
                | Fault::DevOutOfRange
                | Fault::DevCrossing
                | Fault::DevZero
                | Fault::DevInRead
        );
        assert_eq!(
            exp.dev_bad - dev_bad,
            usize::from(dev_fault),
            "test generator: {fault:?} ends on a DEVMEM rule"
        );
        *statuses.entry((read, st)).or_insert(0) += 1;
        b.cmds.push_back(c);
        // run commands in batches so that several sit in the command FIFO at once
        if b.cmds.len() >= 3 || round == rounds - 1 {
            let n = exp.cpls.len();
            b.run(n);
            // the engine is idle: new exposed bits for the next batch
            b.reexpose();
        }
    }
    assert_eq!(b.cpls, exp.cpls, "completions");
    assert_eq!(b.reads.len(), exp.reads.len(), "number of host reads");
    for (i, (got, want)) in b.reads.iter().zip(&exp.reads).enumerate() {
        assert_eq!(got, want, "host read {i}");
    }
    assert_eq!(
        b.blocks.len(),
        exp.blocks.len(),
        "number of block operations"
    );
    for (i, (got, want)) in b.blocks.iter().zip(&exp.blocks).enumerate() {
        assert_eq!(
            (got.0, got.1),
            (want.0, want.1),
            "kind and lba of block op {i}"
        );
        assert!(got.2 == want.2, "data of block write {i}");
    }
    assert_eq!(b.writes.len(), exp.writes.len(), "number of host writes");
    for (i, (got, want)) in b.writes.iter().zip(&exp.writes).enumerate() {
        assert_eq!(got.0, want.0, "address of host write {i}");
        assert!(
            got.1 == want.1,
            "data of host write {i} ({} bytes)",
            want.1.len()
        );
    }
    assert!(
        b.host.mem == oracle.mem,
        "host memory differs from the oracle's"
    );
    assert!(b.disk == oracle.disk, "disk differs from the oracle's");
    // buflet memory: every DEVMEM chunk is one run of consecutive words, one per cycle, and
    // nothing else is read; CNT_BLK_DEV_BYTES events per block write
    assert_eq!(b.dev_reads, exp.dev_reads, "buflet-memory reads");
    assert_eq!(b.dev_events, exp.dev_events, "CNT_BLK_DEV_BYTES events");
    let chunks = exp.dev_reads.len();
    assert!(
        chunks > 120 && exp.dev_events.len() > 40 && exp.dev_split > 3,
        "DEVMEM coverage: {chunks} chunks, {} blocks, {} split",
        exp.dev_events.len(),
        exp.dev_split
    );
    // every completion status must have been exercised, for writes and for reads
    for read in [false, true] {
        for st in [
            Status::Ok,
            Status::BadSg,
            Status::DmaError,
            Status::DiskError,
        ] {
            assert!(
                statuses.get(&(read, st)).copied().unwrap_or(0) > 0,
                "read {read} status {st} not covered: {statuses:?}"
            );
        }
    }
    let reads_done = exp.blocks.iter().filter(|b| !b.0).count();
    assert!(reads_done > 20, "only {reads_done} block reads");
    eprintln!(
        "{name}: {} completions {statuses:?}, {} host reads, {} block ops ({reads_done} reads), \
         {} host writes, {} DEVMEM chunks, {} DEVMEM bytes, {} cycles",
        b.cpls.len(),
        b.reads.len(),
        b.blocks.len(),
        b.writes.len(),
        b.dev_reads.len(),
        b.dev_events.iter().sum::<u64>(),
        b.dut.m.cycles()
    );
    // everything drained
    assert!(
        b.rsp.is_empty() && matches!(b.blk, BlkDev::Idle) && b.wr.is_none(),
        "all traffic finished"
    );
}

#[test]
fn blk_dma_w64() {
    run_width("blk_dma_w64", 1, 190, 512, 64);
}

#[test]
fn blk_dma_w512() {
    run_width("blk_dma_w512", 2, 190, 2048, 256);
}
