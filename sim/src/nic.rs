//! `RtlDevice`: the Verilated `buflet_nic` behind the [`Device`] trait.
//!
//! Rust serves only what is outside the device: the MAC wire (frames paced at the line rate in
//! both directions: transmitted frames are collected from `m_axis_tx_*` and put on the
//! [`MacPort`] in order), host memory (DMA reads with a configurable latency, posted DMA writes), the block
//! device (one write per request, status after its latency) and the register bus. Every device
//! function happens in the Verilog.

use crate::{Model, Port, SimError};
use buflet_platform::{Agent, Device, DeviceConfig, DiskError, HostEnv, MacPort};
use std::collections::VecDeque;

/// DMA clients of the arbiters, as reported on the `*_req_id` sideband.
const CLIENT_BLK: u64 = 2;

/// Which host-memory agent an access of requester `id` is booked to (both DMA directions).
fn agent_of(id: u64) -> Agent {
    if id == CLIENT_BLK {
        Agent::BlkDma
    } else {
        Agent::NicDma
    }
}

/// The structural parameters of a build (those the RTL takes as Verilog parameters), as
/// (parameter name, value).
fn build_params(cfg: &DeviceConfig) -> [(&'static str, u32); 8] {
    [
        ("DATA_WIDTH", cfg.data_width),
        ("BUFLET_BYTES", cfg.buflet_bytes),
        ("NUM_BUFLETS", cfg.num_buflets),
        ("NUM_SOCKETS", cfg.num_sockets),
        ("HASH_BUCKETS", cfg.hash_buckets),
        ("NUM_NBS", cfg.num_nbs),
        ("NUM_ANON", cfg.num_anon),
        ("NUM_POSTS", cfg.num_posts),
    ]
}

/// The Verilated `buflet_nic` build for `cfg`: `buflet_nic_w{width}` when `cfg` is the default
/// build at its width ([`DeviceConfig::with_width`]), else `buflet_nic_w{width}_s{sockets}`
/// (the socket-scaled builds, [`DeviceConfig::with_sockets`]). The build's parameters
/// (sim/models.txt, the RTL defaults for those not given) must equal `cfg`'s; otherwise
/// [`SimError::NoBuild`] names the builds there are.
pub fn build_for(cfg: &DeviceConfig) -> Result<&'static str, SimError> {
    let want = build_params(cfg);
    let default = build_params(&DeviceConfig::with_width(cfg.data_width));
    let name = if want == default {
        format!("buflet_nic_w{}", cfg.data_width)
    } else {
        format!("buflet_nic_w{}_s{}", cfg.data_width, cfg.num_sockets)
    };
    let fits = |info: &crate::ModelInfo| build_params(&build_config(info, cfg.data_width)) == want;
    match crate::model_info(&name) {
        Some(info) if fits(info) => Ok(info.name),
        _ => Err(SimError::NoBuild {
            config: want
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            builds: crate::models()
                .iter()
                .filter(|m| m.top == "buflet_nic")
                .map(|m| {
                    let c = build_config(m, cfg.data_width);
                    format!("{} (NUM_SOCKETS={})", m.name, c.num_sockets)
                })
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The structural configuration a `buflet_nic` build was made with: its `-G` parameters over
/// the RTL defaults (HASH_BUCKETS defaults to HASH_PER_SOCKET * NUM_SOCKETS, as in the RTL).
fn build_config(info: &crate::ModelInfo, width: u32) -> DeviceConfig {
    let base = DeviceConfig::with_width(width);
    let p = |n: &str, d: u32| info.param(n).and_then(|v| v.parse().ok()).unwrap_or(d);
    let num_sockets = p("NUM_SOCKETS", base.num_sockets);
    DeviceConfig {
        data_width: p("DATA_WIDTH", base.data_width),
        buflet_bytes: p("BUFLET_BYTES", base.buflet_bytes),
        num_buflets: p("NUM_BUFLETS", base.num_buflets),
        num_sockets,
        hash_buckets: p(
            "HASH_BUCKETS",
            num_sockets * buflet_spec::param::HASH_PER_SOCKET as u32,
        ),
        num_nbs: p("NUM_NBS", base.num_nbs),
        num_anon: p("NUM_ANON", base.num_anon),
        num_posts: p("NUM_POSTS", base.num_posts),
        ..base
    }
}

struct Ports {
    clk: Port,
    rst: Port,
    reg_valid: Port,
    reg_ready: Port,
    reg_write: Port,
    reg_addr: Port,
    reg_wdata: Port,
    reg_rvalid: Port,
    reg_rdata: Port,
    rx_tdata: Port,
    rx_tkeep: Port,
    rx_tvalid: Port,
    rx_tready: Port,
    rx_tlast: Port,
    tx_tdata: Port,
    tx_tkeep: Port,
    tx_tvalid: Port,
    tx_tready: Port,
    tx_tlast: Port,
    rd_req_valid: Port,
    rd_req_ready: Port,
    rd_req_addr: Port,
    rd_req_len: Port,
    rd_req_id: Port,
    rd_tdata: Port,
    rd_tkeep: Port,
    rd_tvalid: Port,
    rd_tready: Port,
    rd_tlast: Port,
    rd_tuser: Port,
    wr_req_valid: Port,
    wr_req_ready: Port,
    wr_req_addr: Port,
    wr_req_len: Port,
    wr_req_id: Port,
    wr_tdata: Port,
    wr_tkeep: Port,
    wr_tvalid: Port,
    wr_tready: Port,
    blk_req_valid: Port,
    blk_req_ready: Port,
    blk_req_lba: Port,
    blk_req_len: Port,
    blk_tdata: Port,
    blk_tkeep: Port,
    blk_tvalid: Port,
    blk_tready: Port,
    blk_tlast: Port,
    blk_resp_valid: Port,
    blk_resp_ready: Port,
    blk_resp_status: Port,
    blk_req_write: Port,
    brd_tdata: Port,
    brd_tkeep: Port,
    brd_tvalid: Port,
    brd_tready: Port,
    brd_tlast: Port,
    irq: Port,
}

impl Ports {
    fn resolve(m: &Model) -> Result<Self, SimError> {
        let p = |n: &str| m.port(n);
        Ok(Ports {
            clk: p("clk")?,
            rst: p("rst")?,
            reg_valid: p("s_reg_valid")?,
            reg_ready: p("s_reg_ready")?,
            reg_write: p("s_reg_write")?,
            reg_addr: p("s_reg_addr")?,
            reg_wdata: p("s_reg_wdata")?,
            reg_rvalid: p("m_reg_rvalid")?,
            reg_rdata: p("m_reg_rdata")?,
            rx_tdata: p("s_axis_rx_tdata")?,
            rx_tkeep: p("s_axis_rx_tkeep")?,
            rx_tvalid: p("s_axis_rx_tvalid")?,
            rx_tready: p("s_axis_rx_tready")?,
            rx_tlast: p("s_axis_rx_tlast")?,
            tx_tdata: p("m_axis_tx_tdata")?,
            tx_tkeep: p("m_axis_tx_tkeep")?,
            tx_tvalid: p("m_axis_tx_tvalid")?,
            tx_tready: p("m_axis_tx_tready")?,
            tx_tlast: p("m_axis_tx_tlast")?,
            rd_req_valid: p("m_dma_rd_req_valid")?,
            rd_req_ready: p("m_dma_rd_req_ready")?,
            rd_req_addr: p("m_dma_rd_req_addr")?,
            rd_req_len: p("m_dma_rd_req_len")?,
            rd_req_id: p("m_dma_rd_req_id")?,
            rd_tdata: p("s_axis_dma_rd_tdata")?,
            rd_tkeep: p("s_axis_dma_rd_tkeep")?,
            rd_tvalid: p("s_axis_dma_rd_tvalid")?,
            rd_tready: p("s_axis_dma_rd_tready")?,
            rd_tlast: p("s_axis_dma_rd_tlast")?,
            rd_tuser: p("s_axis_dma_rd_tuser")?,
            wr_req_valid: p("m_dma_wr_req_valid")?,
            wr_req_ready: p("m_dma_wr_req_ready")?,
            wr_req_addr: p("m_dma_wr_req_addr")?,
            wr_req_len: p("m_dma_wr_req_len")?,
            wr_req_id: p("m_dma_wr_req_id")?,
            wr_tdata: p("m_axis_dma_wr_tdata")?,
            wr_tkeep: p("m_axis_dma_wr_tkeep")?,
            wr_tvalid: p("m_axis_dma_wr_tvalid")?,
            wr_tready: p("m_axis_dma_wr_tready")?,
            blk_req_valid: p("m_blk_req_valid")?,
            blk_req_ready: p("m_blk_req_ready")?,
            blk_req_lba: p("m_blk_req_lba")?,
            blk_req_len: p("m_blk_req_len")?,
            blk_tdata: p("m_axis_blk_wr_tdata")?,
            blk_tkeep: p("m_axis_blk_wr_tkeep")?,
            blk_tvalid: p("m_axis_blk_wr_tvalid")?,
            blk_tready: p("m_axis_blk_wr_tready")?,
            blk_tlast: p("m_axis_blk_wr_tlast")?,
            blk_resp_valid: p("s_blk_resp_valid")?,
            blk_resp_ready: p("s_blk_resp_ready")?,
            blk_resp_status: p("s_blk_resp_status")?,
            blk_req_write: p("m_blk_req_write")?,
            brd_tdata: p("s_axis_blk_rd_tdata")?,
            brd_tkeep: p("s_axis_blk_rd_tkeep")?,
            brd_tvalid: p("s_axis_blk_rd_tvalid")?,
            brd_tready: p("s_axis_blk_rd_tready")?,
            brd_tlast: p("s_axis_blk_rd_tlast")?,
            irq: p("irq")?,
        })
    }
}

struct ReadJob {
    ready_at: u64,
    data: Vec<u8>,
    pos: usize,
    err: bool,
}

struct WriteJob {
    addr: u64,
    len: usize,
    done: usize,
    agent: Agent,
}

/// A block read being served: data words on `s_axis_blk_rd_*`, then its status.
struct BlkRead {
    ready_at: u64,
    data: Vec<u8>,
    pos: usize,
    status: u8,
}

/// The Verilated RTL of `buflet_nic`, with host memory, block device and wire served from Rust.
pub struct RtlDevice {
    m: Model,
    p: Ports,
    cfg: DeviceConfig,
    bus: usize,
    cycle: u64,
    /// The MAC's end of the wire.
    mac: MacPort,
    /// Frames the wire delivered, the first one entering the MAC.
    rx_queue: VecDeque<Vec<u8>>,
    rx_pos: usize,
    rx_next_start: u64,
    rx_frame_start: u64,
    reads: VecDeque<ReadJob>,
    writes: VecDeque<WriteJob>,
    blk_reqs: VecDeque<(u64, usize)>,
    blk_data: Vec<u8>,
    blk_resps: VecDeque<(u64, u8)>,
    /// Block reads: the data stream starts after the disk latency; the status follows it.
    blk_reads: VecDeque<BlkRead>,
    tx_cur: Vec<u8>,
    /// First cycle the transmit wire is free again (tready is low before it).
    tx_next_start: u64,
    /// Cycle the current transmitted frame's first word was taken.
    tx_frame_start: u64,
    word: Vec<u8>,
    tracing: bool,
    /// Cycles dumped to the waveform: `trace_win.0 .. trace_win.1`.
    trace_win: (u64, u64),
    /// The stimulus being recorded ([`crate::stimulus`]), and the first error writing it.
    stim: Option<crate::stimulus::Recorder>,
    stim_err: Option<String>,
}

fn keep_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

impl RtlDevice {
    /// Instantiate the RTL built for `cfg` ([`build_for`]), its MAC on `mac`, and reset it.
    pub fn new(cfg: DeviceConfig, mac: MacPort) -> Result<Self, SimError> {
        let name = build_for(&cfg)?;
        let m = Model::new(name)?;
        let p = Ports::resolve(&m)?;
        let bus = cfg.bus_bytes();
        let mut d = RtlDevice {
            m,
            p,
            cfg,
            bus,
            cycle: 0,
            mac,
            rx_queue: VecDeque::new(),
            rx_pos: 0,
            rx_next_start: 0,
            rx_frame_start: 0,
            reads: VecDeque::new(),
            writes: VecDeque::new(),
            blk_reqs: VecDeque::new(),
            blk_data: Vec::new(),
            blk_resps: VecDeque::new(),
            blk_reads: VecDeque::new(),
            tx_cur: Vec::new(),
            tx_next_start: 0,
            tx_frame_start: 0,
            word: vec![0; bus],
            tracing: false,
            trace_win: (0, u64::MAX),
            stim: None,
            stim_err: None,
        };
        d.m.set(d.p.rst, 1);
        for _ in 0..8 {
            d.m.tick(d.p.clk);
        }
        d.m.set(d.p.rst, 0);
        Ok(d)
    }

    /// Take what the wire delivered since the last call (an empty frame has no word to
    /// present: it is consumed at once).
    fn take_wire(&mut self) {
        for f in self.mac.take_rx() {
            if f.is_empty() {
                self.mac.rx_done();
            } else {
                self.rx_queue.push_back(f);
            }
        }
    }

    /// Clock the register request already driven on the port until REG_READY is seen high
    /// (sampled before the edge, as the register block's handshake is).
    fn reg_handshake(&mut self, env: &mut HostEnv) {
        loop {
            self.m.set(self.p.clk, 0);
            self.m.eval();
            let ready = self.m.get(self.p.reg_ready) == 1;
            self.step(env);
            if ready {
                break;
            }
        }
    }

    /// Drive the inputs for this cycle, clock once, and serve whatever handshook.
    fn step(&mut self, env: &mut HostEnv) {
        let p = &self.p;
        let bus = self.bus;
        // MAC receive: present the current frame's next word once the wire has delivered it.
        let rx_valid = !self.rx_queue.is_empty() && self.cycle >= self.rx_next_start;
        if rx_valid {
            let f = &self.rx_queue[0];
            let n = (f.len() - self.rx_pos).min(bus);
            self.m
                .set_bytes(p.rx_tdata, &f[self.rx_pos..self.rx_pos + n]);
            self.m.set(p.rx_tkeep, keep_mask(n));
            self.m.set(p.rx_tlast, (self.rx_pos + n == f.len()) as u64);
        }
        self.m.set(p.rx_tvalid, rx_valid as u64);
        // DMA read responses, after the memory latency.
        let rd_valid = self.reads.front().is_some_and(|j| j.ready_at <= self.cycle);
        if rd_valid {
            let j = &self.reads[0];
            let n = (j.data.len() - j.pos).min(bus);
            self.m.set_bytes(p.rd_tdata, &j.data[j.pos..j.pos + n]);
            self.m.set(p.rd_tkeep, keep_mask(n));
            let last = j.pos + n == j.data.len();
            self.m.set(p.rd_tlast, last as u64);
            self.m.set(p.rd_tuser, (last && j.err) as u64);
        }
        self.m.set(p.rd_tvalid, rd_valid as u64);
        self.m.set(p.rd_req_ready, 1);
        self.m.set(p.wr_req_ready, 1);
        self.m.set(p.wr_tready, 1);
        self.m.set(p.blk_req_ready, 1);
        self.m.set(p.blk_tready, 1);
        // MAC transmit: a frame's words are taken back to back; after its last word the wire
        // is busy for `wire_cycles` from the frame's first word, as on the receive side.
        let tx_ready = self.cycle >= self.tx_next_start;
        self.m.set(p.tx_tready, tx_ready as u64);
        // Block read data, after the disk latency.
        let brd_valid = self
            .blk_reads
            .front()
            .is_some_and(|r| r.ready_at <= self.cycle);
        if brd_valid {
            let r = &self.blk_reads[0];
            let n = (r.data.len() - r.pos).min(bus);
            self.m.set_bytes(p.brd_tdata, &r.data[r.pos..r.pos + n]);
            self.m.set(p.brd_tkeep, keep_mask(n));
            self.m.set(p.brd_tlast, (r.pos + n == r.data.len()) as u64);
        }
        self.m.set(p.brd_tvalid, brd_valid as u64);
        let resp_valid = self.blk_resps.front().is_some_and(|r| r.0 <= self.cycle);
        if resp_valid {
            self.m.set(p.blk_resp_status, self.blk_resps[0].1 as u64);
        }
        self.m.set(p.blk_resp_valid, resp_valid as u64);
        self.m.set(p.clk, 0);
        self.m.eval();
        let dump = self.tracing && (self.trace_win.0..self.trace_win.1).contains(&self.cycle);
        if dump {
            let _ = self.m.trace_dump(self.cycle * crate::TICK_TIME);
        }
        // Sample the handshakes that happen at this rising edge.
        let rx_fire = rx_valid && self.m.get(p.rx_tready) == 1;
        let rd_fire = rd_valid && self.m.get(p.rd_tready) == 1;
        let rd_req = self.m.get(p.rd_req_valid) == 1;
        let rd_req_v = rd_req.then(|| {
            (
                self.m.get(p.rd_req_addr),
                self.m.get(p.rd_req_len) as usize,
                self.m.get(p.rd_req_id),
            )
        });
        let wr_req_v = (self.m.get(p.wr_req_valid) == 1).then(|| {
            (
                self.m.get(p.wr_req_addr),
                self.m.get(p.wr_req_len) as usize,
                self.m.get(p.wr_req_id),
            )
        });
        let wr_fire = self.m.get(p.wr_tvalid) == 1;
        if wr_fire {
            self.m.get_bytes(p.wr_tdata, &mut self.word);
        }
        let wr_keep = self.m.get(p.wr_tkeep);
        let brd_fire = brd_valid && self.m.get(p.brd_tready) == 1;
        let blk_req_v = (self.m.get(p.blk_req_valid) == 1).then(|| {
            (
                self.m.get(p.blk_req_lba),
                self.m.get(p.blk_req_len) as usize,
                self.m.get(p.blk_req_write) == 1,
            )
        });
        let blk_fire = self.m.get(p.blk_tvalid) == 1;
        let blk_keep = self.m.get(p.blk_tkeep);
        let blk_last = self.m.get(p.blk_tlast) == 1;
        let mut blk_word = Vec::new();
        if blk_fire {
            blk_word = vec![0u8; bus];
            self.m.get_bytes(p.blk_tdata, &mut blk_word);
        }
        let resp_fire = resp_valid && self.m.get(p.blk_resp_ready) == 1;
        let tx_fire = tx_ready && self.m.get(p.tx_tvalid) == 1;
        let mut tx_word = Vec::new();
        let tx_keep = self.m.get(p.tx_tkeep);
        let tx_last = self.m.get(p.tx_tlast) == 1;
        if tx_fire {
            tx_word = vec![0u8; bus];
            self.m.get_bytes(p.tx_tdata, &mut tx_word);
        }
        if let Some(r) = self.stim.as_mut() {
            if let Err(e) = r.edge(&self.m) {
                self.stim_err.get_or_insert(e.to_string());
                self.stim = None;
            }
        }
        self.m.set(p.clk, 1);
        self.m.eval();
        if dump {
            let _ = self
                .m
                .trace_dump(self.cycle * crate::TICK_TIME + crate::TICK_TIME / 2);
        }
        self.cycle += 1;

        // Apply the effects of the handshakes.
        if rx_fire {
            let len = self.rx_queue[0].len();
            if self.rx_pos == 0 {
                self.rx_frame_start = self.cycle - 1;
            }
            self.rx_pos += bus.min(len - self.rx_pos);
            if self.rx_pos >= len {
                self.rx_queue.pop_front();
                self.mac.rx_done();
                self.rx_pos = 0;
                self.rx_next_start = self.rx_frame_start + self.cfg.wire_cycles(len);
            }
        }
        if rd_fire {
            let j = &mut self.reads[0];
            j.pos += bus.min(j.data.len() - j.pos);
            if j.pos >= j.data.len() {
                self.reads.pop_front();
            }
        }
        if let Some((addr, len, id)) = rd_req_v {
            let agent = agent_of(id);
            let len = len.max(1);
            let mut data = vec![0u8; len];
            let err = env.mem.read(agent, addr, &mut data).is_err();
            if err {
                data.fill(0);
            }
            let ready_at = self.cycle + self.cfg.mem_read_latency as u64;
            self.reads.push_back(ReadJob {
                ready_at,
                data,
                pos: 0,
                err,
            });
        }
        if let Some((addr, len, id)) = wr_req_v {
            let agent = agent_of(id);
            self.writes.push_back(WriteJob {
                addr,
                len,
                done: 0,
                agent,
            });
        }
        if wr_fire {
            let n = (wr_keep.count_ones() as usize).min(bus);
            if let Some(w) = self.writes.front_mut() {
                let n = n.min(w.len - w.done);
                // A refused write is counted by host memory as a stray access; data is dropped.
                let _ = env
                    .mem
                    .write(w.agent, w.addr + w.done as u64, &self.word[..n]);
                w.done += n;
                if w.done >= w.len {
                    self.writes.pop_front();
                }
            }
        }
        match blk_req_v {
            Some((lba, len, true)) => self.blk_reqs.push_back((lba, len)),
            Some((lba, len, false)) => {
                let mut data = vec![0u8; len.max(1)];
                let res = env.disk.read(lba, &mut data);
                // A device that stopped answering sends neither data nor status.
                if !matches!(res, Err(DiskError::NoAnswer { .. })) {
                    let ok = res.is_ok();
                    if !ok {
                        data.fill(0);
                    }
                    self.blk_reads.push_back(BlkRead {
                        ready_at: self.cycle + env.disk.latency.max(self.cfg.disk_latency as u64),
                        data,
                        pos: 0,
                        status: if ok { 0 } else { 1 },
                    });
                }
            }
            None => {}
        }
        if brd_fire {
            let r = &mut self.blk_reads[0];
            r.pos += bus.min(r.data.len() - r.pos);
            if r.pos >= r.data.len() {
                let status = r.status;
                self.blk_reads.pop_front();
                self.blk_resps.push_back((self.cycle, status));
            }
        }
        if blk_fire {
            let n = (blk_keep.count_ones() as usize).min(bus);
            self.blk_data.extend_from_slice(&blk_word[..n]);
            if blk_last {
                let (lba, len) = self.blk_reqs.pop_front().unwrap_or((u64::MAX, 0));
                // A packet of the wrong length fails without reaching the disk.
                let res = (self.blk_data.len() == len)
                    .then(|| env.disk.write_at(lba, &self.blk_data, self.cycle));
                self.blk_data.clear();
                // A device that stopped answering sends no status.
                if !matches!(res, Some(Err(DiskError::NoAnswer { .. }))) {
                    self.blk_resps.push_back((
                        self.cycle + env.disk.latency.max(self.cfg.disk_latency as u64),
                        if matches!(res, Some(Ok(()))) { 0 } else { 1 },
                    ));
                }
            }
        }
        if resp_fire {
            self.blk_resps.pop_front();
        }
        if tx_fire {
            if self.tx_cur.is_empty() {
                self.tx_frame_start = self.cycle - 1;
            }
            let n = (tx_keep.count_ones() as usize).min(bus);
            self.tx_cur.extend_from_slice(&tx_word[..n]);
            if tx_last {
                let frame = std::mem::take(&mut self.tx_cur);
                self.tx_next_start = self.tx_frame_start + self.cfg.wire_cycles(frame.len());
                self.mac.transmit(frame);
            }
        }
    }
}

impl Device for RtlDevice {
    fn backend(&self) -> &'static str {
        "rtl"
    }

    fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    fn reg_read(&mut self, env: &mut HostEnv, addr: u32) -> u32 {
        self.take_wire();
        self.m.set(self.p.reg_valid, 1);
        self.m.set(self.p.reg_write, 0);
        self.m.set(self.p.reg_addr, addr as u64);
        self.reg_handshake(env);
        self.m.set(self.p.reg_valid, 0);
        for _ in 0..16 {
            self.m.set(self.p.clk, 0);
            self.m.eval();
            if self.m.get(self.p.reg_rvalid) == 1 {
                return self.m.get(self.p.reg_rdata) as u32;
            }
            self.step(env);
        }
        u32::MAX
    }

    fn reg_write(&mut self, env: &mut HostEnv, addr: u32, value: u32) {
        self.take_wire();
        self.m.set(self.p.reg_valid, 1);
        self.m.set(self.p.reg_write, 1);
        self.m.set(self.p.reg_addr, addr as u64);
        self.m.set(self.p.reg_wdata, value as u64);
        self.reg_handshake(env);
        self.m.set(self.p.reg_valid, 0);
        self.m.set(self.p.reg_write, 0);
    }

    fn run(&mut self, env: &mut HostEnv, cycles: u64) {
        self.take_wire();
        for _ in 0..cycles {
            self.step(env);
        }
    }

    fn irq(&self) -> bool {
        self.m.get(self.p.irq) == 1
    }

    fn cycles(&self) -> u64 {
        self.cycle
    }

    fn trace_open(&mut self, path: &std::path::Path) -> Result<(), String> {
        if crate::TRACE_FORMAT.is_none() {
            return Err(format!(
                "{}: the RTL was built without waveform support (BUFLET_TRACE=0); rebuild without it (FST) or with BUFLET_TRACE=vcd",
                path.display()
            ));
        }
        self.m
            .trace_open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.tracing = true;
        Ok(())
    }

    fn trace_window(&mut self, from: u64, cycles: Option<u64>) {
        self.trace_win = (from, cycles.map_or(u64::MAX, |n| from.saturating_add(n)));
    }

    fn stimulus_open(&mut self, path: &std::path::Path) -> Result<(), String> {
        let r = crate::stimulus::Recorder::create(&self.m, path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.stim = Some(r);
        self.stim_err = None;
        Ok(())
    }

    fn stimulus_close(&mut self) -> Result<(), String> {
        let r = self.stim.take().map(|mut r| r.finish());
        if let Some(e) = self.stim_err.take() {
            return Err(format!("recording the stimulus: {e}"));
        }
        match r {
            Some(Err(e)) => Err(format!("recording the stimulus: {e}")),
            Some(Ok(())) => Ok(()),
            None => Err("no stimulus is being recorded".into()),
        }
    }
}
