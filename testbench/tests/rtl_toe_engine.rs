//! toe_engine module test (Verilated at DATA_WIDTH 64 and 512, small tables).
//!
//! The harness serves the buflet pool (data RAM with 1-cycle read latency, combinational link RAM,
//! chain frees), host memory and DMA (page-list reads, refused reads, payload writes), and feeds
//! requests and rx metadata records with random idle cycles; every output is randomly
//! backpressured. An independent oracle (plain Rust, below) predicts, per socket, which named
//! buffer receives which stream bytes and how it is returned, the CMD_DONE statuses, and the
//! counter events. Checks: NB page contents (at the time of the NB_RETURN, so the payload must be
//! in host memory before its completion), DMA write packing and bounds, completions, drop/accept/
//! delivered/returned events, and every buflet chain freed exactly once.

use std::collections::{HashMap, VecDeque};

use buflet_sim::{Model, Port};
use buflet_spec as spec;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const NULL16: u16 = 0xFFFF;
const PAGE: usize = 4096;
const HOST_BASE: u64 = 0x1_2000_0000;
const HOST_SIZE: usize = 8 << 20;
const REFUSED_BASE: u64 = 0x7777_0000_0000;

const OP_SOCK_ADD: u8 = spec::op::SOCK_ADD as u8;
const OP_SOCK_DEL: u8 = spec::op::SOCK_DEL as u8;
const OP_NB_POST: u8 = spec::op::NB_POST as u8;
const OP_NOP: u8 = spec::op::NOP as u8;

#[derive(Clone, Copy)]
struct Ports {
    clk: Port,
    rst: Port,
    req_valid: Port,
    req_ready: Port,
    req_data: Port,
    meta_valid: Port,
    meta_ready: Port,
    meta_reason: Port,
    meta_len: Port,
    meta_vlan: Port,
    meta_src_ip: Port,
    meta_dst_ip: Port,
    meta_src_port: Port,
    meta_dst_port: Port,
    meta_seq: Port,
    meta_flags: Port,
    meta_pay_off: Port,
    meta_pay_len: Port,
    meta_head: Port,
    meta_tail: Port,
    meta_count: Port,
    free_valid: Port,
    free_ready: Port,
    free_head: Port,
    free_tail: Port,
    free_count: Port,
    link_rd_idx: Port,
    link_rd_next: Port,
    ram_rd_en: Port,
    ram_rd_addr: Port,
    ram_rd_data: Port,
    rd_req_valid: Port,
    rd_req_ready: Port,
    rd_req_addr: Port,
    rd_req_len: Port,
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
    wr_tdata: Port,
    wr_tkeep: Port,
    wr_tvalid: Port,
    wr_tready: Port,
    wr_tlast: Port,
    cpl_valid: Port,
    cpl_ready: Port,
    cpl_data: Port,
    ev_drop_valid: Port,
    ev_drop_reason: Port,
    ev_accepted: Port,
    ev_delivered_valid: Port,
    ev_delivered_bytes: Port,
    ev_nb_returned: Port,
}

impl Ports {
    fn new(m: &Model) -> Ports {
        let p = |n: &str| m.port(n).unwrap_or_else(|e| panic!("port {n}: {e}"));
        Ports {
            clk: p("clk"),
            rst: p("rst"),
            req_valid: p("s_req_valid"),
            req_ready: p("s_req_ready"),
            req_data: p("s_req_data"),
            meta_valid: p("s_meta_valid"),
            meta_ready: p("s_meta_ready"),
            meta_reason: p("s_meta_reason"),
            meta_len: p("s_meta_len"),
            meta_vlan: p("s_meta_vlan"),
            meta_src_ip: p("s_meta_src_ip"),
            meta_dst_ip: p("s_meta_dst_ip"),
            meta_src_port: p("s_meta_src_port"),
            meta_dst_port: p("s_meta_dst_port"),
            meta_seq: p("s_meta_seq"),
            meta_flags: p("s_meta_flags"),
            meta_pay_off: p("s_meta_pay_off"),
            meta_pay_len: p("s_meta_pay_len"),
            meta_head: p("s_meta_head"),
            meta_tail: p("s_meta_tail"),
            meta_count: p("s_meta_count"),
            free_valid: p("m_free_valid"),
            free_ready: p("m_free_ready"),
            free_head: p("m_free_head"),
            free_tail: p("m_free_tail"),
            free_count: p("m_free_count"),
            link_rd_idx: p("link_rd_idx"),
            link_rd_next: p("link_rd_next"),
            ram_rd_en: p("ram_rd_en"),
            ram_rd_addr: p("ram_rd_addr"),
            ram_rd_data: p("ram_rd_data"),
            rd_req_valid: p("m_dma_rd_req_valid"),
            rd_req_ready: p("m_dma_rd_req_ready"),
            rd_req_addr: p("m_dma_rd_req_addr"),
            rd_req_len: p("m_dma_rd_req_len"),
            rd_tdata: p("s_axis_dma_rd_tdata"),
            rd_tkeep: p("s_axis_dma_rd_tkeep"),
            rd_tvalid: p("s_axis_dma_rd_tvalid"),
            rd_tready: p("s_axis_dma_rd_tready"),
            rd_tlast: p("s_axis_dma_rd_tlast"),
            rd_tuser: p("s_axis_dma_rd_tuser"),
            wr_req_valid: p("m_dma_wr_req_valid"),
            wr_req_ready: p("m_dma_wr_req_ready"),
            wr_req_addr: p("m_dma_wr_req_addr"),
            wr_req_len: p("m_dma_wr_req_len"),
            wr_tdata: p("m_axis_dma_wr_tdata"),
            wr_tkeep: p("m_axis_dma_wr_tkeep"),
            wr_tvalid: p("m_axis_dma_wr_tvalid"),
            wr_tready: p("m_axis_dma_wr_tready"),
            wr_tlast: p("m_axis_dma_wr_tlast"),
            cpl_valid: p("m_cpl_valid"),
            cpl_ready: p("m_cpl_ready"),
            cpl_data: p("m_cpl_data"),
            ev_drop_valid: p("ev_drop_valid"),
            ev_drop_reason: p("ev_drop_reason"),
            ev_accepted: p("ev_accepted"),
            ev_delivered_valid: p("ev_delivered_valid"),
            ev_delivered_bytes: p("ev_delivered_bytes"),
            ev_nb_returned: p("ev_nb_returned"),
        }
    }
}

/// One rx metadata record plus the frame bytes the harness stores in a fresh buflet chain.
#[derive(Clone)]
struct Frame {
    reason: u8,
    vlan: u16,
    src_ip: u32,
    dst_ip: u32,
    sport: u16,
    dport: u16,
    seq: u32,
    flags: u8,
    pay_off: usize,
    payload: Vec<u8>,
    /// No buflet chain at all (NO_BUFLET before the first buflet).
    no_chain: bool,
}

/// Harness-side socket: identity, stream, and the oracle of its named buffers.
struct Sock {
    vlan: u16,
    local_ip: u32,
    remote_ip: u32,
    local_port: u16,
    remote_port: u16,
    stream: Vec<u8>,
    end_flag: u32, // FIN or RST cpl flag expected on the final return
    /// Outstanding NBs (ref nums) in posting order.
    nbs: VecDeque<u16>,
    /// Stream bytes returned so far (oracle position).
    pos: usize,
    done: bool,
    refused_nb_pending: bool,
}

#[derive(Clone)]
struct Nb {
    sock: usize,
    tag: u32,
    total: usize,
    pages: Vec<u64>,
    refused: bool,
}

struct Chain {
    tail: u16,
    count: u16,
}

struct Tb {
    m: Model,
    p: Ports,
    rng: ChaCha8Rng,
    kw: usize,
    bb: usize,
    nbuf: usize,
    num_nbs: usize,
    // pool
    ram: Vec<u8>,
    link: Vec<u16>,
    free: VecDeque<u16>,
    in_use: Vec<bool>,
    chains: HashMap<u16, Chain>,
    rd_pending: Option<usize>,
    // host
    host: Vec<u8>,
    bump: usize,
    allowed: Vec<(u64, u64)>,
    rd_resp: VecDeque<(u64, bool)>,
    wr_reqs: VecDeque<(u64, usize)>,
    wr_cur: Option<(u64, usize, usize)>, // addr, len, bytes received
    // stimulus
    req_q: VecDeque<[u8; 64]>,
    cur_req: Option<[u8; 64]>,
    frames: VecDeque<Frame>,
    cur_meta: Option<Frame>,
    cur_chain: (u16, u16, u16),
    // oracle
    socks: Vec<Sock>,
    nbs: HashMap<u16, Nb>,
    cmd_expect: VecDeque<(u32, u8, u8, u16)>, // tag, opcode, status, sock_ref
    exp_drop: [u32; 16],
    exp_accepted: u32,
    next_tag: u32,
    // observed
    drops: [u32; 16],
    accepted: u32,
    delivered: u64,
    ev_returned: u32,
    cpl_returned: u32,
    // backpressure / idle probabilities (percent)
    p_ready: u32,
    p_valid: u32,
    fixed_total: Option<usize>,
    wr_beats: u64,
    first_beat: Option<u64>,
    last_beat: u64,
}

fn put(buf: &mut [u8], field: (usize, usize), v: u64) {
    spec::put(buf, field, v);
}

impl Tb {
    fn new(model: &str, seed: u64) -> Tb {
        let m = Model::new(model).expect("model built");
        let p = Ports::new(&m);
        let info = buflet_sim::model_info(model).unwrap();
        let par = |n: &str| info.param(n).unwrap().parse::<usize>().unwrap();
        let kw = par("DATA_WIDTH") / 8;
        let bb = par("BUFLET_BYTES");
        let nbuf = par("NUM_BUFLETS");
        let num_nbs = par("NUM_NBS");
        Tb {
            m,
            p,
            rng: ChaCha8Rng::seed_from_u64(seed),
            kw,
            bb,
            nbuf,
            num_nbs,
            ram: vec![0; bb * nbuf],
            link: vec![NULL16; nbuf],
            free: (0..nbuf as u16).collect(),
            in_use: vec![false; nbuf],
            chains: HashMap::new(),
            rd_pending: None,
            host: vec![0xEE; HOST_SIZE],
            bump: 0,
            allowed: Vec::new(),
            rd_resp: VecDeque::new(),
            wr_reqs: VecDeque::new(),
            wr_cur: None,
            req_q: VecDeque::new(),
            cur_req: None,
            frames: VecDeque::new(),
            cur_meta: None,
            cur_chain: (NULL16, NULL16, 0),
            socks: Vec::new(),
            nbs: HashMap::new(),
            cmd_expect: VecDeque::new(),
            exp_drop: [0; 16],
            exp_accepted: 0,
            next_tag: 0x1000,
            drops: [0; 16],
            accepted: 0,
            delivered: 0,
            ev_returned: 0,
            cpl_returned: 0,
            p_ready: 70,
            p_valid: 70,
            fixed_total: None,
            wr_beats: 0,
            first_beat: None,
            last_beat: 0,
        }
    }

    fn chance(&mut self, pct: u32) -> bool {
        self.rng.gen_range(0..100) < pct
    }

    fn host_alloc(&mut self, n: usize, align: usize) -> u64 {
        self.bump = self.bump.div_ceil(align) * align;
        let a = HOST_BASE + self.bump as u64;
        self.bump += n;
        assert!(self.bump <= HOST_SIZE, "host memory exhausted");
        a
    }

    fn host_slice(&mut self, addr: u64, n: usize) -> &mut [u8] {
        let off = (addr - HOST_BASE) as usize;
        &mut self.host[off..off + n]
    }

    fn tag(&mut self) -> u32 {
        self.next_tag += 1;
        self.next_tag
    }

    // ---------------------------------------------------------------- requests
    fn sock_add_entry(&mut self, sref: u16, s: Option<usize>, proto: u8) -> [u8; 64] {
        let mut e = [0u8; 64];
        let tag = self.tag();
        put(&mut e, spec::sock_desc::OPCODE, OP_SOCK_ADD as u64);
        put(&mut e, spec::sock_desc::SOCK_REF, sref as u64);
        put(&mut e, spec::sock_desc::TAG, tag as u64);
        put(&mut e, spec::sock_desc::PROTO, proto as u64);
        if let Some(i) = s {
            let s = &self.socks[i];
            put(&mut e, spec::sock_desc::VLAN, s.vlan as u64);
            put(&mut e, spec::sock_desc::LOCAL_IP, s.local_ip as u64);
            put(&mut e, spec::sock_desc::REMOTE_IP, s.remote_ip as u64);
            put(&mut e, spec::sock_desc::LOCAL_PORT, s.local_port as u64);
            put(&mut e, spec::sock_desc::REMOTE_PORT, s.remote_port as u64);
        }
        // garbage in NIC-owned fields must be ignored
        put(&mut e, spec::sock_desc::NEXT_SOCK, 3);
        put(&mut e, spec::sock_desc::SEG_HEAD, 5);
        put(&mut e, spec::sock_desc::RCV_NXT, 0x1234);
        e
    }

    /// Builds an NB_POST entry (page list written to host memory unless `refused`).
    fn nb_entry(
        &mut self,
        sock: u16,
        refn: u32,
        total: usize,
        pages: u32,
        refused: bool,
    ) -> ([u8; 64], Nb) {
        let tag = self.tag();
        let hmd = if refused {
            REFUSED_BASE
        } else {
            self.host_alloc(8 * pages as usize, 8)
        };
        let mut addrs = Vec::new();
        if !refused {
            for i in 0..pages as usize {
                // pages are 4 KiB regions, some deliberately not page-aligned
                let skew = if self.chance(30) {
                    self.rng.gen_range(1..64)
                } else {
                    0
                };
                let a = self.host_alloc(PAGE + skew, PAGE) + skew as u64;
                addrs.push(a);
                let sl = self.host_slice(hmd + 8 * i as u64, 8);
                sl.copy_from_slice(&a.to_le_bytes());
            }
        }
        let mut e = [0u8; 64];
        put(&mut e, spec::nb_desc::OPCODE, OP_NB_POST as u64);
        put(&mut e, spec::nb_desc::SOCK_REF, sock as u64);
        put(&mut e, spec::nb_desc::TAG, tag as u64);
        put(&mut e, spec::nb_desc::REF_NUM, refn as u64);
        put(&mut e, spec::nb_desc::TOTAL_BYTES, total as u64);
        put(&mut e, spec::nb_desc::HMD_ADDR, hmd);
        put(&mut e, spec::nb_desc::HMD_PAGES, pages as u64);
        put(&mut e, spec::nb_desc::FILLED, 77); // NIC-owned, must be reset
        put(&mut e, spec::nb_desc::NEXT_NB, 2);
        (
            e,
            Nb {
                sock: sock as usize,
                tag,
                total,
                pages: addrs,
                refused,
            },
        )
    }

    fn expect_cmd(&mut self, e: &[u8; 64], status: u64) {
        let tag = spec::get(e, spec::req_hdr::TAG) as u32;
        let op = e[0];
        let sref = spec::get(e, spec::req_hdr::SOCK_REF) as u16;
        self.cmd_expect.push_back((tag, op, status as u8, sref));
        self.req_q.push_back(*e);
    }

    fn post_nb(&mut self, s: usize, refn: u16, refused: bool) {
        let r: u32 = self.rng.gen_range(0..100);
        let total = if let Some(t) = self.fixed_total {
            t
        } else if r < 15 {
            self.rng.gen_range(1..300)
        } else if r < 50 {
            self.rng.gen_range(1..=PAGE)
        } else {
            self.rng.gen_range(PAGE..=3 * PAGE)
        };
        let pages = total.div_ceil(PAGE) as u32 + self.rng.gen_range(0..2);
        let (e, nb) = self.nb_entry(s as u16, refn as u32, total, pages, refused);
        for &a in &nb.pages {
            self.allowed.push((a, a + PAGE as u64));
        }
        self.nbs.insert(refn, nb);
        self.socks[s].nbs.push_back(refn);
        self.req_q.push_back(e);
    }

    // ---------------------------------------------------------------- one clock cycle
    fn cycle(&mut self) {
        let p = self.p;
        // requests
        if self.cur_req.is_none()
            && !self.req_q.is_empty()
            && self.rng.gen_range(0..100) < self.p_valid
        {
            self.cur_req = self.req_q.pop_front();
        }
        match &self.cur_req {
            Some(e) => {
                self.m.set(p.req_valid, 1);
                self.m.set_bytes(p.req_data, e);
            }
            None => self.m.set(p.req_valid, 0),
        }
        // metadata: a frame gets its buflet chain when it is presented
        if self.cur_meta.is_none()
            && !self.frames.is_empty()
            && self.rng.gen_range(0..100) < self.p_valid
        {
            let fr = self.frames.front().unwrap();
            let len = fr.pay_off + fr.payload.len();
            let need = if fr.no_chain {
                0
            } else {
                len.div_ceil(self.bb).max(1)
            };
            if need <= self.free.len() {
                let fr = self.frames.pop_front().unwrap();
                let mut bytes: Vec<u8> = (0..fr.pay_off).map(|_| self.rng.gen()).collect();
                bytes.extend_from_slice(&fr.payload);
                let mut chain = Vec::new();
                for _ in 0..need {
                    let b = self.free.pop_front().unwrap();
                    assert!(!self.in_use[b as usize]);
                    self.in_use[b as usize] = true;
                    self.link[b as usize] = self.rng.gen(); // stale link of a fresh buflet
                    chain.push(b);
                }
                for w in chain.windows(2) {
                    self.link[w[0] as usize] = w[1];
                }
                for (k, &byte) in bytes.iter().enumerate().take(need * self.bb) {
                    let b = chain[k / self.bb] as usize;
                    self.ram[b * self.bb + k % self.bb] = byte;
                }
                self.cur_chain = if need == 0 {
                    (NULL16, NULL16, 0)
                } else {
                    let (h, t) = (chain[0], *chain.last().unwrap());
                    assert!(self
                        .chains
                        .insert(
                            h,
                            Chain {
                                tail: t,
                                count: need as u16
                            }
                        )
                        .is_none());
                    (h, t, need as u16)
                };
                self.cur_meta = Some(fr);
            }
        }
        match &self.cur_meta {
            Some(fr) => {
                let m = &mut self.m;
                m.set(p.meta_valid, 1);
                m.set(p.meta_reason, fr.reason as u64);
                m.set(p.meta_len, (fr.pay_off + fr.payload.len()) as u64);
                m.set(p.meta_vlan, fr.vlan as u64);
                m.set(p.meta_src_ip, fr.src_ip as u64);
                m.set(p.meta_dst_ip, fr.dst_ip as u64);
                m.set(p.meta_src_port, fr.sport as u64);
                m.set(p.meta_dst_port, fr.dport as u64);
                m.set(p.meta_seq, fr.seq as u64);
                m.set(p.meta_flags, fr.flags as u64);
                m.set(p.meta_pay_off, fr.pay_off as u64);
                m.set(p.meta_pay_len, fr.payload.len() as u64);
                m.set(p.meta_head, self.cur_chain.0 as u64);
                m.set(p.meta_tail, self.cur_chain.1 as u64);
                m.set(p.meta_count, self.cur_chain.2 as u64);
            }
            None => self.m.set(p.meta_valid, 0),
        }
        // output readies
        let pr = self.p_ready;
        let r: [bool; 5] = std::array::from_fn(|_| self.rng.gen_range(0..100) < pr);
        self.m.set(p.free_ready, r[0] as u64);
        self.m.set(p.rd_req_ready, r[1] as u64);
        self.m.set(p.wr_req_ready, r[2] as u64);
        self.m.set(p.wr_tready, r[3] as u64);
        self.m.set(p.cpl_ready, r[4] as u64);
        // DMA read response
        let rd_v = !self.rd_resp.is_empty() && self.rng.gen_range(0..100) < self.p_valid;
        self.m.set(p.rd_tvalid, rd_v as u64);
        if let Some(&(d, user)) = self.rd_resp.front() {
            let mut w = vec![0u8; self.kw];
            w[..8].copy_from_slice(&d.to_le_bytes());
            self.m.set_bytes(p.rd_tdata, &w);
            self.m.set(p.rd_tkeep, 0xFF);
            self.m.set(p.rd_tlast, 1);
            self.m.set(p.rd_tuser, user as u64);
        }
        // RAM read data (registered read)
        if let Some(a) = self.rd_pending {
            let w = self.ram[a * self.kw..(a + 1) * self.kw].to_vec();
            self.m.set_bytes(p.ram_rd_data, &w);
        } else {
            let w = vec![0xA5u8; self.kw];
            self.m.set_bytes(p.ram_rd_data, &w);
        }
        self.m.eval();
        let li = self.m.get(p.link_rd_idx) as usize;
        let ln = if li < self.nbuf {
            self.link[li]
        } else {
            NULL16
        };
        self.m.set(p.link_rd_next, ln as u64);
        self.m.eval();

        // ------------------------------------------------ sample handshakes
        let g = |m: &Model, port: Port| m.get(port) != 0;
        if self.cur_req.is_some() && g(&self.m, p.req_ready) {
            self.cur_req = None;
        }
        if self.cur_meta.is_some() && g(&self.m, p.meta_ready) {
            self.cur_meta = None;
        }
        if g(&self.m, p.free_valid) && r[0] {
            let (h, t, c) = (
                self.m.get(p.free_head) as u16,
                self.m.get(p.free_tail) as u16,
                self.m.get(p.free_count) as u16,
            );
            let ch = self
                .chains
                .remove(&h)
                .unwrap_or_else(|| panic!("free of unknown/already freed chain {h}"));
            assert_eq!(
                (ch.tail, ch.count),
                (t, c),
                "free op tail/count of chain {h}"
            );
            let mut b = h;
            for i in 0..c {
                assert!(self.in_use[b as usize], "buflet {b} freed twice");
                self.in_use[b as usize] = false;
                self.free.push_back(b);
                if i + 1 < c {
                    b = self.link[b as usize];
                }
            }
            assert_eq!(b, t);
        }
        if g(&self.m, p.rd_req_valid) && r[1] {
            let a = self.m.get(p.rd_req_addr);
            assert_eq!(self.m.get(p.rd_req_len), 8, "page-list reads are 8 bytes");
            if (REFUSED_BASE..REFUSED_BASE + (1 << 20)).contains(&a) {
                self.rd_resp.push_back((0, true));
            } else {
                let mut v = [0u8; 8];
                v.copy_from_slice(self.host_slice(a, 8));
                self.rd_resp.push_back((u64::from_le_bytes(v), false));
            }
        }
        if rd_v && g(&self.m, p.rd_tready) {
            self.rd_resp.pop_front();
        }
        if g(&self.m, p.wr_req_valid) && r[2] {
            let a = self.m.get(p.wr_req_addr);
            let l = self.m.get(p.wr_req_len) as usize;
            assert!((1..=PAGE).contains(&l), "DMA write length {l}");
            assert!(
                self.allowed
                    .iter()
                    .any(|&(s, e)| a >= s && a + l as u64 <= e),
                "DMA write {a:#x}+{l} outside every named buffer page"
            );
            self.wr_reqs.push_back((a, l));
        }
        if g(&self.m, p.wr_tvalid) && r[3] {
            if self.wr_cur.is_none() {
                let (a, l) = self
                    .wr_reqs
                    .pop_front()
                    .expect("DMA write data before its request");
                self.wr_cur = Some((a, l, 0));
            }
            let (a, l, got) = self.wr_cur.unwrap();
            let now = self.m.cycles();
            self.wr_beats += 1;
            self.first_beat.get_or_insert(now);
            self.last_beat = now;
            let keep = self.m.get(p.wr_tkeep);
            let mut w = vec![0u8; self.kw];
            self.m.get_bytes(p.wr_tdata, &mut w);
            let left = l - got;
            let n = left.min(self.kw);
            let exp_keep = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            assert_eq!(keep, exp_keep, "packed tkeep (len {l}, got {got})");
            let last = g(&self.m, p.wr_tlast);
            assert_eq!(
                last,
                n == left,
                "tlast on the last word only (len {l}, got {got})"
            );
            self.host_slice(a + got as u64, n).copy_from_slice(&w[..n]);
            self.wr_cur = if last { None } else { Some((a, l, got + n)) };
        }
        if g(&self.m, p.cpl_valid) && r[4] {
            let mut c = [0u8; 32];
            self.m.get_bytes(p.cpl_data, &mut c);
            self.on_cpl(&c);
        }
        self.rd_pending = None;
        if g(&self.m, p.ram_rd_en) {
            let a = self.m.get(p.ram_rd_addr) as usize;
            assert!(a < self.nbuf * self.bb / self.kw);
            assert!(self.in_use[a * self.kw / self.bb], "read of a free buflet");
            self.rd_pending = Some(a);
        }
        if g(&self.m, p.ev_drop_valid) {
            self.drops[self.m.get(p.ev_drop_reason) as usize] += 1;
        }
        self.accepted += self.m.get(p.ev_accepted) as u32;
        if g(&self.m, p.ev_delivered_valid) {
            self.delivered += self.m.get(p.ev_delivered_bytes);
        }
        self.ev_returned += self.m.get(p.ev_nb_returned) as u32;
        self.m.tick(p.clk);
    }

    fn on_cpl(&mut self, c: &[u8; 32]) {
        let get = |fl: (usize, usize)| spec::get(c, fl);
        assert_eq!(get(spec::cpl::PHASE), 0);
        let kind = get(spec::cpl::KIND);
        let status = get(spec::cpl::STATUS);
        let sref = get(spec::cpl::SOCK_REF) as u16;
        let tag = get(spec::cpl::TAG) as u32;
        let op = get(spec::cpl::OPCODE) as u8;
        if kind == spec::cpl_kind::CMD_DONE {
            let exp = self.cmd_expect.pop_front().expect("unexpected CMD_DONE");
            assert_eq!(
                (tag, op, status as u8, sref),
                exp,
                "CMD_DONE (tag, opcode, status, sock)"
            );
            return;
        }
        assert_eq!(kind, spec::cpl_kind::NB_RETURN, "completion kind");
        self.cpl_returned += 1;
        let refn = get(spec::cpl::REF_NUM) as u16;
        let bytes = get(spec::cpl::BYTES) as usize;
        let flags = get(spec::cpl::FLAGS) as u32;
        let soff = get(spec::cpl::STREAM_OFF) as usize;
        let nb = self
            .nbs
            .remove(&refn)
            .unwrap_or_else(|| panic!("NB_RETURN of unknown NB {refn}"));
        assert_eq!(
            (tag, op, sref as usize),
            (nb.tag, OP_NB_POST, nb.sock),
            "NB_RETURN identity"
        );
        let s = &mut self.socks[nb.sock];
        assert_eq!(
            s.nbs.pop_front(),
            Some(refn),
            "NBs of a socket are returned in posting order"
        );
        assert!(!s.done, "NB returned after the final FIN/RST return");
        if nb.refused {
            assert_eq!(
                (status, bytes, flags),
                (spec::status::DMA_ERROR, 0, 0),
                "refused page list"
            );
            s.refused_nb_pending = false;
            return;
        }
        assert_eq!(status, spec::status::OK);
        let left = s.stream.len() - s.pos;
        if flags == spec::cpl_flag::FULL as u32 {
            assert_eq!(bytes, nb.total, "FULL return carries TOTAL_BYTES");
            assert!(bytes <= left);
        } else {
            assert_eq!(flags, s.end_flag, "final return flag (sock {sref})");
            assert_eq!(bytes, left, "final return carries the rest of the stream");
            assert!(bytes < nb.total);
            s.done = true;
        }
        // Empty returns too report where the stream stands (architecture.md, Delivery).
        assert_eq!(soff, s.pos, "NB stream offset");
        let exp = s.stream[s.pos..s.pos + bytes].to_vec();
        s.pos += bytes;
        // payload must already be in host memory
        for (i, chunk) in exp.chunks(PAGE).enumerate() {
            let a = nb.pages[i];
            let got = self.host_slice(a, chunk.len()).to_vec();
            assert!(got == chunk, "NB {refn} page {i} content");
        }
        // release the NB's pages for the write-bounds check
        self.allowed.retain(|&(st, _)| !nb.pages.contains(&st));
    }

    fn reset(&mut self) {
        self.m.set(self.p.rst, 1);
        for _ in 0..4 {
            self.m.tick(self.p.clk);
        }
        self.m.set(self.p.rst, 0);
    }

    fn run_until(&mut self, what: &str, max: u64, done: impl Fn(&Tb) -> bool) {
        let start = self.m.cycles();
        while !done(self) {
            assert!(self.m.cycles() - start < max, "timeout waiting for {what}");
            self.cycle();
        }
    }
}

fn frame(s: &Sock, seq: u32, flags: u8, payload: Vec<u8>, rng: &mut ChaCha8Rng) -> Frame {
    let pay_off = if rng.gen_range(0..10) == 0 {
        rng.gen_range(200..600) // beyond the first buflet: the mover walks the chain
    } else {
        rng.gen_range(40..140)
    };
    Frame {
        reason: 0,
        vlan: s.vlan,
        src_ip: s.remote_ip,
        dst_ip: s.local_ip,
        sport: s.remote_port,
        dport: s.local_port,
        seq,
        flags,
        pay_off,
        payload,
        no_chain: false,
    }
}

fn run(model: &str, seed: u64) {
    let mut tb = Tb::new(model, seed);
    tb.p_ready = [70, 40, 90, 100][seed as usize % 4];
    tb.p_valid = [70, 90, 40, 100][seed as usize % 4];
    tb.reset();
    let nsock = 6usize;
    let drop_ooo = spec::drop::OUT_OF_ORDER as u8;
    let drop_nosock = spec::drop::NO_SOCKET as u8;
    const FIN: u8 = 0x01;
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    const ACK: u8 = 0x10;

    for i in 0..nsock {
        let len = tb.rng.gen_range(3000..14000);
        let stream: Vec<u8> = (0..len).map(|_| tb.rng.gen()).collect();
        tb.socks.push(Sock {
            vlan: if i == 5 { 5 } else { 0 },
            local_ip: 0x0A00_0001,
            remote_ip: 0x0A00_0100 + (i as u32 % 3),
            local_port: 5000 + i as u16,
            remote_port: 40000 + i as u16 * 7,
            stream,
            end_flag: if i == 3 {
                spec::cpl_flag::RST as u32
            } else {
                spec::cpl_flag::FIN as u32
            },
            nbs: VecDeque::new(),
            pos: 0,
            done: false,
            refused_nb_pending: false,
        });
    }

    // ------------------------------------------------------------ phase A: requests
    for i in 0..nsock {
        let e = tb.sock_add_entry(i as u16, Some(i), 6);
        tb.expect_cmd(&e, spec::status::OK);
    }
    let e = tb.sock_add_entry(0, None, 6); // slot busy
    tb.expect_cmd(&e, spec::status::BAD_SOCK);
    let e = tb.sock_add_entry(100, None, 6); // out of range
    tb.expect_cmd(&e, spec::status::BAD_SOCK);
    let e = tb.sock_add_entry(7, None, 17); // not TCP
    tb.expect_cmd(&e, spec::status::BAD_SOCK);
    for op in [OP_NOP, OP_SOCK_DEL, 0x63] {
        let mut e = [0u8; 64];
        put(&mut e, spec::req_hdr::OPCODE, op as u64);
        put(&mut e, spec::req_hdr::SOCK_REF, 1);
        let t = tb.tag();
        put(&mut e, spec::req_hdr::TAG, t as u64);
        let st = if op == OP_NOP {
            spec::status::OK
        } else {
            spec::status::BAD_OPCODE
        };
        tb.expect_cmd(&e, st);
    }
    // bad NB posts
    let (e, _) = tb.nb_entry(7, 1, 100, 1, false); // socket not in use
    tb.expect_cmd(&e, spec::status::BAD_SOCK);
    let (e, _) = tb.nb_entry(1, 50, 100, 1, false); // ref out of range
    tb.expect_cmd(&e, spec::status::BAD_NB);
    let (e, _) = tb.nb_entry(1, 1, 0, 1, false); // empty
    tb.expect_cmd(&e, spec::status::BAD_NB);
    let (e, _) = tb.nb_entry(1, 1, 4097, 1, false); // larger than its pages
    tb.expect_cmd(&e, spec::status::BAD_NB);
    let (e, _) = tb.nb_entry(1, 1, 10, 0, false); // no pages
    tb.expect_cmd(&e, spec::status::BAD_NB);
    // a good NB for socket 0 in slot 0, then a post to the busy slot
    tb.post_nb(0, 0, false);
    let (e, _) = tb.nb_entry(1, 0, 100, 1, false);
    tb.expect_cmd(&e, spec::status::BAD_NB);
    // socket 4's first NB has a refused page list
    tb.post_nb(4, 1, true);
    tb.socks[4].refused_nb_pending = true;
    tb.run_until("phase A completions", 20_000, |t| {
        t.cmd_expect.is_empty() && t.req_q.is_empty()
    });

    // ------------------------------------------------------------ frames
    let mut streams: Vec<VecDeque<Frame>> = Vec::new();
    let mut exp_drop = [0u32; 16];
    let mut exp_acc = 0u32;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    for i in 0..nsock {
        let mut q = VecDeque::new();
        let s = &tb.socks[i];
        let isn: u32 = if i == 2 { 0xFFFF_FE00 } else { rng.gen() };
        if i == 1 {
            q.push_back(frame(s, isn.wrapping_add(1), ACK, vec![1; 100], &mut rng));
            exp_drop[(drop_ooo) as usize] += 1; // data in LISTEN
        }
        q.push_back(frame(s, isn, SYN, Vec::new(), &mut rng));
        let base = isn.wrapping_add(1);
        let len = s.stream.len();
        let mut pos = 0usize;
        while pos < len {
            let n = if rng.gen_range(0..8) == 0 {
                rng.gen_range(1..40)
            } else {
                rng.gen_range(200..1500)
            }
            .min(len - pos);
            let last = pos + n == len;
            let mut fl = ACK;
            if last && i % 2 == 0 && i != 3 {
                fl |= FIN;
            }
            let seg = s.stream[pos..pos + n].to_vec();
            // injected misbehaviour before this segment
            match rng.gen_range(0..12) {
                0 if pos > 0 => {
                    let back = rng.gen_range(1..=pos.min(500));
                    let d = s.stream[pos - back..pos].to_vec();
                    q.push_back(frame(
                        s,
                        base.wrapping_add((pos - back) as u32),
                        ACK,
                        d,
                        &mut rng,
                    ));
                    exp_drop[(drop_ooo) as usize] += 1;
                }
                1 => {
                    q.push_back(frame(
                        s,
                        base.wrapping_add((pos + n) as u32),
                        ACK,
                        vec![9; 50],
                        &mut rng,
                    ));
                    exp_drop[(drop_ooo) as usize] += 1;
                }
                2 => {
                    q.push_back(frame(s, rng.gen(), ACK, Vec::new(), &mut rng));
                    // pure ACK
                }
                3 => {
                    let mut fr =
                        frame(s, base.wrapping_add(pos as u32), ACK, seg.clone(), &mut rng);
                    fr.reason = spec::drop::BAD_L4_CSUM as u8;
                    q.push_back(fr);
                    exp_drop[(spec::drop::BAD_L4_CSUM as u8) as usize] += 1;
                }
                _ => {}
            }
            q.push_back(frame(s, base.wrapping_add(pos as u32), fl, seg, &mut rng));
            exp_acc += 1;
            pos += n;
        }
        let end = base.wrapping_add(len as u32);
        let after = if i == 3 {
            q.push_back(frame(s, end, RST | ACK, Vec::new(), &mut rng));
            end
        } else if i % 2 == 1 {
            q.push_back(frame(s, end, FIN | ACK, Vec::new(), &mut rng));
            end.wrapping_add(1)
        } else {
            end.wrapping_add(1)
        };
        q.push_back(frame(s, after, ACK, vec![3; 20], &mut rng)); // after FIN/RST: CLOSED
        exp_drop[(drop_ooo) as usize] += 1;
        streams.push(q);
    }
    // frames that match no socket, and parser drops without a full chain
    let mut g = VecDeque::new();
    for k in 0..12 {
        let s = &tb.socks[k % nsock];
        let mut fr = frame(s, 1, ACK, vec![7; 30], &mut rng);
        match k % 4 {
            0 => fr.dport ^= 0x100,
            1 => fr.src_ip ^= 0x10,
            2 => fr.vlan = if s.vlan == 0 { 9 } else { 0 },
            _ => {
                fr.reason = spec::drop::NO_BUFLET as u8;
                fr.no_chain = k % 8 == 3;
            }
        }
        let reason = if fr.reason != 0 {
            fr.reason
        } else {
            drop_nosock
        };
        exp_drop[(reason) as usize] += 1;
        g.push_back(fr);
    }
    streams.push(g);
    tb.exp_drop = exp_drop;
    tb.exp_accepted = exp_acc;
    // random interleave keeping each stream's order
    while streams.iter().any(|q| !q.is_empty()) {
        let i = rng.gen_range(0..streams.len());
        if let Some(fr) = streams[i].pop_front() {
            tb.frames.push_back(fr);
        }
    }

    // ------------------------------------------------------------ phase B: traffic + NB posts
    let start = tb.m.cycles();
    loop {
        let all_done =
            tb.socks.iter().all(|s| s.done) && tb.frames.is_empty() && tb.cur_meta.is_none();
        if all_done && tb.chains.is_empty() && tb.req_q.is_empty() && tb.cur_req.is_none() {
            break;
        }
        assert!(tb.m.cycles() - start < 3_000_000, "timeout in phase B");
        if tb.req_q.is_empty() && tb.cur_req.is_none() {
            // post an NB for a socket that needs one: prefer sockets with none
            let used: Vec<u16> = tb.nbs.keys().copied().collect();
            if let Some(refn) = (0..tb.num_nbs as u16).find(|r| !used.contains(r)) {
                let cand = (0..nsock)
                    .filter(|&i| !tb.socks[i].done && tb.socks[i].nbs.len() < 2)
                    .min_by_key(|&i| (tb.socks[i].nbs.len(), tb.rng.gen::<u8>()));
                if let Some(i) = cand {
                    if tb.socks[i].nbs.is_empty() || tb.chance(20) {
                        tb.post_nb(i, refn, false);
                    }
                }
            }
        }
        tb.cycle();
    }
    for _ in 0..300 {
        tb.cycle();
    }

    // ------------------------------------------------------------ final checks
    assert!(tb.cmd_expect.is_empty());
    assert!(
        tb.chains.is_empty(),
        "chains never freed: {}",
        tb.chains.len()
    );
    assert_eq!(tb.free.len(), tb.nbuf, "all buflets back on the free list");
    for (i, s) in tb.socks.iter().enumerate() {
        assert!(
            s.done && s.pos == s.stream.len(),
            "socket {i} stream fully returned"
        );
        assert!(!s.refused_nb_pending);
    }
    assert_eq!(tb.drops, tb.exp_drop, "drop events by reason");
    assert_eq!(tb.accepted, tb.exp_accepted, "accepted events");
    let total: usize = tb.socks.iter().map(|s| s.stream.len()).sum();
    assert_eq!(tb.delivered, total as u64, "delivered bytes events");
    assert_eq!(tb.ev_returned, tb.cpl_returned, "nb_returned events");
    assert!(tb.wr_reqs.is_empty() && tb.wr_cur.is_none());
    eprintln!(
        "{model}: {} cycles, {} bytes delivered, {} NBs returned",
        tb.m.cycles(),
        tb.delivered,
        tb.cpl_returned
    );
}

#[test]
fn toe_engine_w64_random_traffic() {
    let n = std::env::var("TOE_SEEDS").map_or(8, |v| v.parse().unwrap());
    for seed in 0..n {
        run("toe_engine_w64", seed);
    }
}

#[test]
fn toe_engine_w512_random_traffic() {
    let n = std::env::var("TOE_SEEDS").map_or(6, |v| v.parse().unwrap());
    for seed in 1000..1000 + n {
        run("toe_engine_w512", seed);
    }
}

/// Full-rate delivery: with no backpressure and no idle cycles a long in-order stream of
/// 1460-byte segments leaves on the DMA write data channel at close to one word per cycle.
fn throughput(model: &str, min_ratio: f64) {
    let mut tb = Tb::new(model, 99);
    tb.p_ready = 100;
    tb.p_valid = 100;
    tb.fixed_total = Some(3 * PAGE);
    tb.reset();
    let nseg = 60usize;
    let stream: Vec<u8> = (0..nseg * 1460).map(|_| tb.rng.gen()).collect();
    tb.socks.push(Sock {
        vlan: 0,
        local_ip: 0x0A00_0001,
        remote_ip: 0x0A00_0002,
        local_port: 80,
        remote_port: 1234,
        stream,
        end_flag: spec::cpl_flag::FIN as u32,
        nbs: VecDeque::new(),
        pos: 0,
        done: false,
        refused_nb_pending: false,
    });
    let e = tb.sock_add_entry(0, Some(0), 6);
    tb.expect_cmd(&e, spec::status::OK);
    tb.run_until("SOCK_ADD", 1000, |t| {
        t.cmd_expect.is_empty() && t.req_q.is_empty()
    });
    let s = &tb.socks[0];
    let mk = |seq: u32, flags: u8, payload: Vec<u8>| Frame {
        reason: 0,
        vlan: 0,
        src_ip: s.remote_ip,
        dst_ip: s.local_ip,
        sport: s.remote_port,
        dport: s.local_port,
        seq,
        flags,
        pay_off: 54,
        payload,
        no_chain: false,
    };
    let mut frames = vec![mk(999, 0x02, Vec::new())];
    for k in 0..nseg {
        let fl = if k + 1 == nseg { 0x11 } else { 0x10 };
        frames.push(mk(
            1000 + (k * 1460) as u32,
            fl,
            s.stream[k * 1460..(k + 1) * 1460].to_vec(),
        ));
    }
    tb.frames.extend(frames);
    tb.post_nb(0, 0, false);
    tb.post_nb(0, 1, false);
    let start = tb.m.cycles();
    while !tb.socks[0].done {
        assert!(tb.m.cycles() - start < 200_000, "timeout");
        if tb.req_q.is_empty() && tb.cur_req.is_none() && tb.socks[0].nbs.len() < 2 {
            let used: Vec<u16> = tb.nbs.keys().copied().collect();
            let refn = (0..tb.num_nbs as u16).find(|r| !used.contains(r)).unwrap();
            tb.post_nb(0, refn, false);
        }
        tb.cycle();
    }
    let span = tb.last_beat - tb.first_beat.unwrap() + 1;
    let ratio = tb.wr_beats as f64 / span as f64;
    eprintln!(
        "{model}: {} DMA write words in {span} cycles ({ratio:.3} words/cycle)",
        tb.wr_beats
    );
    assert!(ratio >= min_ratio, "delivery rate {ratio:.3} words/cycle");
}

#[test]
fn toe_engine_w64_throughput() {
    throughput("toe_engine_w64", 0.95);
}

#[test]
fn toe_engine_w512_throughput() {
    throughput("toe_engine_w512", 0.75);
}
