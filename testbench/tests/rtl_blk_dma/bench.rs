//! The bench: it feeds command entries and plays host memory (DMA reads with random latency and
//! idle words, refused ranges; DMA writes with backpressure), the block device (disk image,
//! backpressure, latency, injected errors) and buflet memory (registered read port, exposed
//! bitmap, HOST_BUFLETS; the shared write port, busy at random as the receive side would hold
//! it), with backpressure on the completions, and records what the engine did.

use crate::*;

/// One DMA read response: delay before its first word, then words (bytes, keep, last, user).
pub type Response = (u32, VecDeque<(Vec<u8>, u64, bool, bool)>);

/// The block device's current operation.
pub enum BlkDev {
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
}

/// Statuses the block device owes at most while it takes further write requests (when no
/// fault is scheduled): more than blk_dma keeps in flight (BLK_WRITES_IN_FLIGHT).
pub const DEV_QUEUE: usize = 2 * buflet_spec::param::BLK_WRITES_IN_FLIGHT as usize;

pub struct Bench {
    pub m: Model,
    pub p: ports::BlkDma,
    /// The DMA write data and block write data streams, taken through the kit's sinks (random
    /// backpressure; a stalled word must stay unchanged).
    pub dma_wr: AxisSink,
    pub blk_wr: AxisSink,
    /// DMA word width in bytes
    pub kw: usize,
    pub rng: StdRng,
    pub host: Host,
    pub disk: Vec<u8>,
    /// pending command entries
    pub cmds: VecDeque<Cmd>,
    pub disk_fail: Vec<usize>,
    /// Block operations answered after BLK_TIMEOUT (their status, or a read's data).
    pub disk_late: Vec<usize>,
    /// ev_blk_timeout pulses seen.
    pub timeouts: usize,
    // observed; a host read or buflet-memory read run is tagged with the index of the command
    // it belongs to (completions seen so far: the engine runs one command at a time)
    pub reads: Vec<(usize, u64, u64)>,
    /// The cycle of each host read (a parked write's completion comes after the next command
    /// started reading: `random::retag` attributes the reads by these).
    pub read_cycles: Vec<u64>,
    pub blocks: Vec<BlkOp>,
    pub writes: Vec<(u64, Vec<u8>)>,
    pub cpls: Vec<Done>,
    /// The cycle each completion was taken.
    pub cpl_cycles: Vec<u64>,
    // block device state
    pub blk: BlkDev,
    pub blk_count: usize,
    /// Statuses owed, in request order: (cycle it may be sent from, status, ev_blk_timeout
    /// pulses that must have been seen first: a late write's status comes only after the engine
    /// gave its command up, however long it spent packing the next block meanwhile).
    pub statuses: VecDeque<(u64, u8, usize)>,
    pub now: u64,
    /// Most write statuses owed when a write request was taken (that request's included).
    pub max_owed: usize,
    /// Host read words taken while a block write's data packet was open.
    pub pack_while_sending: u64,
    /// Most host reads in flight at once (an element's read behind a chunk's: 2).
    pub max_reads: usize,
    // DMA read response state: (delay, words)
    pub rsp: VecDeque<Response>,
    // DMA write in progress: address, length, data so far
    pub wr: Option<(u64, usize, Vec<u8>)>,
    // buflet memory: contents and exposed bits, the word on bram_rd_data, the exposed bit
    // driven on exp_rd, the address read in the previous cycle (a run in progress)
    pub bram: Bram,
    pub bram_q: Vec<u8>,
    pub exp_set: bool,
    pub last_rd: Option<u64>,
    // observed buflet-memory read runs and CNT_BLK_DEV_BYTES events
    pub dev_reads: Vec<(usize, u64, u64)>,
    pub dev_events: Vec<u64>,
    // buflet-memory write port (BLK_READ DEVMEM): the chance per cycle that the receive side
    // starts a busy burst (bram_wr_ready low; 0: full rate), cycles left of the burst
    pub wr_busy_p: f64,
    pub wr_busy: u32,
    // observed: words written (command index = completions seen so far, word address, word),
    // the cycle of each, the cycles bram_wr_en waited on bram_wr_ready, and the
    // CNT_BLK_DEV_WR_BYTES events (command index, bytes)
    pub dev_writes: Vec<(usize, u64, Vec<u8>)>,
    pub dev_wr_cycles: Vec<u64>,
    /// The cycle each run of buflet-memory reads began.
    pub dev_read_cycles: Vec<u64>,
    pub dev_wr_stalls: Vec<u64>,
    pub dev_wr_events: Vec<(usize, u64)>,
}

impl Bench {
    /// `bb`, `nb`: BUFLET_BYTES and NUM_BUFLETS of the model.
    pub fn new(name: &str, seed: u64, bb: u64, nb: u64) -> Bench {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut mem = vec![0u8; MEM_BYTES];
        rng.fill(&mut mem[..]);
        let mut disk = vec![0u8; DISK_BYTES];
        rng.fill(&mut disk[..]);
        let mut bytes = vec![0u8; (bb * nb) as usize];
        rng.fill(&mut bytes[..]);
        let exposed = (0..nb).map(|_| rng.gen_bool(0.5)).collect();
        let mut m = Model::new(name).expect("model built (sim/models.txt)");
        let p = ports::BlkDma::bind(&m).expect("ports");
        let kw = p.s_axis_dma_rd_tkeep.width() as usize;
        assert_eq!(
            1u64 << p.bram_rd_addr.width(),
            bb * nb / kw as u64,
            "BUFLET_BYTES * NUM_BUFLETS of the model"
        );
        m.set(p.blk_timeout, BLK_TIMEOUT);
        reset(&mut m, p.clk, p.rst, 3);
        let sink = |prefix: &str, salt: u64| {
            let bus = AxisBus::from_prefix(&m, prefix, &[]).expect(prefix);
            AxisSink::new(&m, bus, 0.3, seed ^ salt).expect(prefix)
        };
        let (dma_wr, blk_wr) = (sink("m_axis_dma_wr", 0xd3a), sink("m_axis_blk_wr", 0xb1c));
        Bench {
            m,
            p,
            dma_wr,
            blk_wr,
            kw,
            rng,
            host: Host {
                mem,
                refused: Vec::new(),
            },
            disk,
            cmds: VecDeque::new(),
            disk_fail: Vec::new(),
            disk_late: Vec::new(),
            timeouts: 0,
            reads: Vec::new(),
            read_cycles: Vec::new(),
            blocks: Vec::new(),
            writes: Vec::new(),
            cpl_cycles: Vec::new(),
            cpls: Vec::new(),
            blk: BlkDev::Idle,
            blk_count: 0,
            statuses: VecDeque::new(),
            now: 0,
            max_owed: 0,
            pack_while_sending: 0,
            max_reads: 0,
            rsp: VecDeque::new(),
            wr: None,
            bram: Bram {
                bytes,
                exposed,
                bb,
                host: 0,
            },
            bram_q: vec![0; kw],
            exp_set: false,
            last_rd: None,
            dev_reads: Vec::new(),
            dev_events: Vec::new(),
            wr_busy_p: 0.0,
            wr_busy: 0,
            dev_writes: Vec::new(),
            dev_wr_cycles: Vec::new(),
            dev_read_cycles: Vec::new(),
            dev_wr_stalls: Vec::new(),
            dev_wr_events: Vec::new(),
        }
    }

    /// New exposed bits (between batches, while the engine is idle): about half of the
    /// buflets, at least one exposed and one not.
    pub fn reexpose(&mut self) {
        let n = self.bram.exposed.len();
        for e in self.bram.exposed.iter_mut() {
            *e = self.rng.gen_bool(0.5);
        }
        self.bram.exposed[self.rng.gen_range(0..n / 2)] = true;
        self.bram.exposed[self.rng.gen_range(n / 2..n)] = false;
    }

    /// HOST_BUFLETS and the write port's busy rate for batch `batch` (while the engine is
    /// idle): HOST_BUFLETS 0, NUM_BUFLETS/2, 1 or random; full rate every third batch, else
    /// busy bursts starting in 10% or 40% of the cycles.
    pub fn rehost(&mut self, batch: usize) {
        let nb = self.bram.nb();
        self.bram.host = match batch % 5 {
            0 => 0,
            1 => nb / 2,
            2 => 1,
            _ => self.rng.gen_range(1..=nb / 2),
        };
        self.wr_busy_p = [0.0, 0.1, 0.4][batch % 3];
    }

    pub fn cmd_entry(c: &Cmd) -> [u8; 64] {
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

    /// The block operations the device fails or answers late, for the oracle.
    pub fn faults(&self) -> DiskFaults {
        DiskFaults {
            fail: self.disk_fail.clone(),
            late: self.disk_late.clone(),
        }
    }

    /// Cycles before the answer of the operation at `blk_count`: past BLK_TIMEOUT when it is
    /// to come late, else up to `max`.
    fn answer_delay(&mut self, max: u32) -> u32 {
        if self.disk_late.contains(&self.blk_count) {
            BLK_TIMEOUT as u32 + self.rng.gen_range(1..300)
        } else {
            self.rng.gen_range(0..max)
        }
    }

    /// The device takes write requests while statuses are owed (up to [`DEV_QUEUE`]) only when
    /// no fault is still to come or owed: a fault's command then sees one operation at a time,
    /// so the blocks it issues are exactly the oracle's (a failed write is the last one
    /// written) and a late status is late for the engine's timeout too.
    fn pipelined(&self) -> bool {
        !self
            .disk_fail
            .iter()
            .chain(&self.disk_late)
            .any(|&i| i + self.statuses.len() >= self.blk_count)
    }

    /// Status the block device gives its next operation.
    pub fn next_status(&mut self) -> u8 {
        let st = if self.disk_fail.contains(&self.blk_count) {
            5
        } else {
            0
        };
        self.blk_count += 1;
        st
    }

    /// Runs until `n` completions have been seen.
    pub fn run(&mut self, n: usize) {
        let p = self.p;
        let kw = self.kw;
        let full_keep = if kw == 64 { u64::MAX } else { (1u64 << kw) - 1 };
        let mut cycles = 0u64;
        let mut cmd_valid = false;
        while self.cpls.len() < n {
            let seen = self.cpls.len();
            count_cycle(&mut cycles, 3_000_000, || {
                format!("timeout: {seen} of {n} completions")
            });
            let r = &mut self.rng;
            // ---- drive inputs
            if !cmd_valid && !self.cmds.is_empty() && r.gen_bool(0.5) {
                cmd_valid = true;
                let e = Self::cmd_entry(&self.cmds[0]);
                self.m.set_bytes(p.s_cmd_data, &e);
            }
            self.m.set(p.s_cmd_valid, cmd_valid as u64);
            let rd_req_ready = r.gen_bool(0.6);
            self.m.set(p.m_dma_rd_req_ready, rd_req_ready as u64);
            // response word
            let mut rsp_valid = false;
            if let Some((delay, words)) = self.rsp.front_mut() {
                if *delay > 0 {
                    *delay -= 1;
                } else if r.gen_bool(0.7) {
                    let (d, keep, last, user) = words.front().unwrap();
                    rsp_valid = true;
                    let (d, keep, last, user) = (d.clone(), *keep, *last, *user);
                    self.m.set_bytes(p.s_axis_dma_rd_tdata, &d);
                    self.m.set_bytes(p.s_axis_dma_rd_tkeep, &keep.to_le_bytes());
                    self.m.set(p.s_axis_dma_rd_tlast, last as u64);
                    self.m.set(p.s_axis_dma_rd_tuser, user as u64);
                }
            }
            self.m.set(p.s_axis_dma_rd_tvalid, rsp_valid as u64);
            // DMA write client
            let wr_req_ready = self.wr.is_none() && r.gen_bool(0.6);
            self.m.set(p.m_dma_wr_req_ready, wr_req_ready as u64);
            self.dma_wr.drive(&mut self.m);
            // block device
            self.now += 1;
            let blk_idle = matches!(self.blk, BlkDev::Idle)
                && (self.statuses.is_empty()
                    || (self.statuses.len() < DEV_QUEUE && self.pipelined()));
            let r = &mut self.rng;
            let blk_req_ready = blk_idle && r.gen_bool(0.5);
            self.m.set(p.m_blk_req_ready, blk_req_ready as u64);
            let blk_wr_open = matches!(self.blk, BlkDev::WrData { .. });
            self.blk_wr.drive_gated(&mut self.m, blk_wr_open);
            let mut blk_rd_valid = false;
            let mut resp_valid = false;
            // the device answers in request order: a read's data follows the statuses still
            // owed (a late one included)
            if let BlkDev::RdData { delay, words } = &mut self.blk {
                if *delay > 0 {
                    *delay -= 1;
                } else if self.statuses.is_empty() && r.gen_bool(0.7) {
                    blk_rd_valid = true;
                    let w = words.front().unwrap().clone();
                    let last = words.len() == 1;
                    self.m.set_bytes(p.s_axis_blk_rd_tdata, &w);
                    self.m
                        .set_bytes(p.s_axis_blk_rd_tkeep, &full_keep.to_le_bytes());
                    self.m.set(p.s_axis_blk_rd_tlast, last as u64);
                }
            }
            if let Some(&(at, st, after)) = self.statuses.front() {
                if at <= self.now && self.timeouts >= after {
                    resp_valid = true;
                    self.m.set(p.s_blk_resp_status, st as u64);
                }
            }
            self.m.set(p.s_axis_blk_rd_tvalid, blk_rd_valid as u64);
            self.m.set(p.s_blk_resp_valid, resp_valid as u64);
            let cpl_ready = self.rng.gen_bool(0.5);
            self.m.set(p.m_cpl_ready, cpl_ready as u64);
            // the pool's shared write port: free unless the receive side writes (bursts)
            let wr_ready = if self.wr_busy > 0 {
                self.wr_busy -= 1;
                false
            } else if self.wr_busy_p > 0.0 && self.rng.gen_bool(self.wr_busy_p) {
                self.wr_busy = self.rng.gen_range(0..6);
                false
            } else {
                true
            };
            self.m.set(p.bram_wr_ready, wr_ready as u64);
            self.m.set(p.host_buflets, self.bram.host);
            // buflet memory: registered read data, combinational exposed bit
            let q = self.bram_q.clone();
            self.m.set_bytes(p.bram_rd_data, &q);
            // and the protection lookup: refused below DATA_BASE, where only DEVMEM sources lie
            self.m.set(p.exp_rd, self.exp_set as u64);
            self.m.set(p.prot_deny, 0);
            self.m.eval();
            let e = self.bram.exp(self.m.get(p.exp_rd_idx));
            let deny = self.m.get(p.prot_addr) < DATA_BASE;
            if e != self.exp_set || deny {
                self.exp_set = e;
                self.m.set(p.exp_rd, e as u64);
                self.m.set(p.prot_deny, deny as u64);
                self.m.eval();
            }
            assert_eq!(self.m.get(p.ev_fault), 0, "no protection refusal");

            // ---- sample handshakes
            if cmd_valid && self.m.get(p.s_cmd_ready) == 1 {
                self.cmds.pop_front();
                cmd_valid = false;
            }
            if rd_req_ready && self.m.get(p.m_dma_rd_req_valid) == 1 {
                let addr = self.m.get(p.m_dma_rd_req_addr);
                let len = self.m.get(p.m_dma_rd_req_len);
                assert!((1..=4096).contains(&len), "read len {len}");
                self.reads.push((self.cpls.len(), addr, len));
                self.read_cycles.push(self.m.cycles());
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
                self.max_reads = self.max_reads.max(self.rsp.len());
            }
            if rsp_valid && self.m.get(p.s_axis_dma_rd_tready) == 1 {
                // a host word taken while a block's data packet is open: the next block is
                // packed into the other bank as this one is sent
                if matches!(self.blk, BlkDev::WrData { .. }) {
                    self.pack_while_sending += 1;
                }
                let (_, words) = self.rsp.front_mut().unwrap();
                words.pop_front();
                if words.is_empty() {
                    self.rsp.pop_front();
                }
            }
            // DMA writes
            if wr_req_ready && self.m.get(p.m_dma_wr_req_valid) == 1 {
                let addr = self.m.get(p.m_dma_wr_req_addr);
                let len = self.m.get(p.m_dma_wr_req_len) as usize;
                assert!((1..=4096).contains(&len), "write len {len}");
                assert!(
                    addr as usize + len <= MEM_BYTES,
                    "DMA write {addr:#x}+{len} outside host memory"
                );
                self.wr = Some((addr, len, Vec::new()));
            } else if self.m.get(p.m_axis_dma_wr_tvalid) == 1 {
                assert!(self.wr.is_some(), "DMA write data without a request");
            }
            if let Some(beat) = self.dma_wr.sample(&self.m) {
                if let Some((addr, len, data)) = &mut self.wr {
                    let (keep, d) = (beat.keep, beat.data);
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
                    let last = beat.last;
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
            if blk_req_ready && self.m.get(p.m_blk_req_valid) == 1 {
                assert_eq!(self.m.get(p.m_blk_req_len), BLOCK as u64);
                assert!(
                    self.wr.is_none(),
                    "next block before the host writes were issued"
                );
                let lba = self.m.get(p.m_blk_req_lba);
                let at = lba as usize * 512;
                assert!(at + BLOCK <= DISK_BYTES, "lba {lba} beyond the test disk");
                if self.m.get(p.m_blk_req_write) == 1 {
                    self.max_owed = self.max_owed.max(self.statuses.len() + 1);
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
                        delay: self.answer_delay(30),
                        words,
                    };
                }
            }
            if let Some(beat) = self.blk_wr.sample(&self.m) {
                assert!(
                    beat.keep.iter().all(|&b| b == 0xFF),
                    "block data words are full"
                );
                let (d, last) = (beat.data, beat.last);
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
                    // a device that takes writes ahead also answers them later (a write's
                    // status waits on the medium), so that several are owed at once
                    // (0.75 to 0.95 BLK_TIMEOUT after its data: at 64 bits a block takes
                    // over 512 cycles to pack, more with the bench's slow host reads)
                    let slow = self.pipelined() && self.rng.gen_bool(0.5);
                    let late = self.disk_late.contains(&self.blk_count);
                    let delay = if late {
                        self.rng.gen_range(1..300)
                    } else if slow {
                        let t = BLK_TIMEOUT as u32;
                        self.rng.gen_range(t * 3 / 4..t * 19 / 20)
                    } else {
                        self.answer_delay(20)
                    };
                    let after = self.timeouts + usize::from(late);
                    let st = self.next_status();
                    if st == 0 {
                        let at = lba as usize * 512;
                        self.disk[at..at + BLOCK].copy_from_slice(&data);
                    }
                    self.blocks.push((true, lba, data));
                    self.blk = BlkDev::Idle;
                    self.statuses
                        .push_back((self.now + delay as u64, st, after));
                }
            } else if !matches!(self.blk, BlkDev::WrData { .. }) {
                assert_eq!(
                    self.m.get(p.m_axis_blk_wr_tvalid),
                    0,
                    "data without a block write request"
                );
            }
            if blk_rd_valid && self.m.get(p.s_axis_blk_rd_tready) == 1 {
                let BlkDev::RdData { words, .. } = &mut self.blk else {
                    unreachable!()
                };
                words.pop_front();
                if words.is_empty() {
                    let st = self.next_status();
                    let delay = self.rng.gen_range(0..20u64);
                    self.blk = BlkDev::Idle;
                    self.statuses.push_back((self.now + delay, st, 0));
                }
            }
            self.timeouts += self.m.get(p.ev_blk_timeout) as usize;
            if resp_valid && self.m.get(p.s_blk_resp_ready) == 1 {
                self.statuses.pop_front();
            }
            // buflet memory reads: runs of consecutive words in consecutive cycles
            if self.m.get(p.bram_rd_en) == 1 {
                let a = self.m.get(p.bram_rd_addr);
                match (self.last_rd, self.dev_reads.last_mut()) {
                    (Some(p), Some(run)) if a == p + 1 => run.2 += 1,
                    _ => {
                        self.dev_reads.push((self.cpls.len(), a, 1));
                        self.dev_read_cycles.push(self.m.cycles());
                    }
                }
                self.last_rd = Some(a);
                let at = a as usize * kw;
                self.bram_q = self.bram.bytes[at..at + kw].to_vec();
            } else {
                self.last_rd = None;
            }
            if self.m.get(p.ev_dev_bytes_valid) == 1 {
                assert_eq!(
                    self.m.get(p.ev_blk_write),
                    1,
                    "DEVMEM bytes counted with a block write"
                );
                self.dev_events.push(self.m.get(p.ev_dev_bytes));
            }
            // buflet-memory writes: a word is written when bram_wr_en && bram_wr_ready
            if self.m.get(p.bram_wr_en) == 1 {
                let cyc = self.m.cycles();
                if wr_ready {
                    let a = self.m.get(p.bram_wr_addr);
                    let d = get_bytes(&self.m, p.bram_wr_data, kw);
                    let at = a as usize * kw;
                    assert!(at + kw <= self.bram.bytes.len(), "bram write word {a}");
                    self.bram.bytes[at..at + kw].copy_from_slice(&d);
                    self.dev_writes.push((self.cpls.len(), a, d));
                    self.dev_wr_cycles.push(cyc);
                } else {
                    self.dev_wr_stalls.push(cyc);
                }
            }
            if self.m.get(p.ev_dev_wr_valid) == 1 {
                let n = self.m.get(p.ev_dev_wr_bytes);
                self.dev_wr_events.push((self.cpls.len(), n));
            }
            if cpl_ready && self.m.get(p.m_cpl_valid) == 1 {
                let d = buflet_spec::Cpl::parse(&get_bytes(&self.m, p.m_cpl_data, 32)).unwrap();
                assert_eq!(d.kind, CplKind::BlkDone);
                assert_eq!(d.phase, 0);
                assert_eq!(d.flags, CplFlags::empty());
                self.cpl_cycles.push(self.m.cycles());
                self.cpls.push(Done {
                    tag: d.tag,
                    opcode: Opcode::try_from(d.opcode).expect("a known opcode"),
                    status: d.status,
                    bytes: d.bytes,
                });
            }
            self.m.tick(p.clk);
        }
    }
}

/// The low `n` bytes of port `p`.
fn get_bytes(m: &Model, p: Port, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    m.get_bytes(p, &mut v);
    v
}
