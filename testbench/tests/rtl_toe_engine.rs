//! toe_engine module test (Verilated at DATA_WIDTH 64 and 512, small tables): the TCP receive
//! engine 0.2 (docs/tcp-receive.md, with the window right edge RCV_WND_EDGE) and the other
//! receive paths (docs/rx-paths.md: UDP sockets, anonymous buffers, the ARP responder, timer
//! ticks and named-buffer timeouts).
//!
//! The harness serves the buflet pool (data RAM with 1-cycle read latency, combinational link RAM,
//! chain frees, and `pool_free` from its own buflet accounting), host memory and DMA (page-list
//! reads, refused reads, payload writes), the tx command stream, NIC_MAC/NIC_IP and `tick_req`
//! pulses, and feeds requests and rx metadata records with random idle cycles; every output is
//! randomly backpressured.
//!
//! An independent oracle (plain Rust, below) implements the contract: per socket the state
//! machine, the window (`win`, the promise kept in RCV_WND_EDGE, `wnd`, the advertised field and
//! the edge update, from the free count the harness drove in the cycle the engine picked the
//! record), acceptability, trimming, the in-order list and the reassembly list with their exact
//! bytes, delivery of TCP bytes and of UDP datagrams, the anonymous list, ARP answers, the active
//! list and the timer sweep. It is evaluated at the handshakes (request and metadata picks, DMA
//! write requests, completions, chain frees) and at the `ev_tick` pulse, and checks: every tx
//! command (all 48 bytes, in order), every DMA write (address and length), NB and anonymous
//! buffer contents at their completion (payload in host memory before it), every completion,
//! counter events, that every buflet chain is freed exactly once and only when the contract lets
//! it go, and, from the tx commands alone, that the advertised right edge never moves left.
//!
//! The random test drives adaptive peers: each builds its next frame from the oracle's current
//! view (handshake junk, in-order, ahead, retransmitted, duplicate and overlapping segments,
//! segments up to and past the promised edge, out-of-window and zero-window probes, SYN/RST/FIN
//! cases, post-close frames), and bytes that the contract must discard are poisoned, so delivered
//! bytes equal the stream only if the right copy of every byte wins. UDP peers, anonymous
//! buffers, noise frames (parser drops, other protocols, non-IPv4, ARP requests, frames stored
//! in part), random tick requests and NB timeouts run beside them. Directed tests pin exact
//! values by hand. TOE_SEEDS sets the number of random seeds, TOE_MODELS (comma list) restricts
//! the directed tests to some models.

use std::collections::{HashMap, HashSet, VecDeque};

use buflet_sim::{Model, Port};
use buflet_spec as spec;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const NULL16: u16 = 0xFFFF;
const PAGE: usize = 4096;
const MAX_FRAME: usize = spec::param::MAX_FRAME as usize;
const HOST_BASE: u64 = 0x1_2000_0000;
const HOST_SIZE: usize = 32 << 20;
const REFUSED_BASE: u64 = 0x7777_0000_0000;

const OP_SOCK_ADD: u8 = spec::op::SOCK_ADD as u8;
const OP_SOCK_DEL: u8 = spec::Opcode::SockDel.code();
const OP_NB_POST: u8 = spec::op::NB_POST as u8;
const OP_NOP: u8 = spec::Opcode::Nop.code();
const OP_ANON_POST: u8 = spec::op::ANON_POST as u8;
const OP_BUF_RELEASE: u8 = spec::op::BUF_RELEASE as u8;

const FIN: u8 = spec::tcp_flag::FIN as u8;
const SYN: u8 = spec::tcp_flag::SYN as u8;
const RST: u8 = spec::tcp_flag::RST as u8;
const PSH: u8 = spec::tcp_flag::PSH as u8;
const ACK: u8 = spec::tcp_flag::ACK as u8;
const URG: u8 = spec::tcp_flag::URG as u8;

const ST_LISTEN: u8 = spec::sock_state::LISTEN as u8;
const ST_SYN_RCVD: u8 = spec::sock_state::SYN_RCVD as u8;
const ST_ESTAB: u8 = spec::sock_state::ESTAB as u8;
const ST_CLOSE_WAIT: u8 = spec::sock_state::CLOSE_WAIT as u8;
const ST_CLOSED: u8 = spec::sock_state::CLOSED as u8;

const D_NOT_IPV4: u8 = spec::drop::NOT_IPV4 as u8;
const D_NO_SOCKET: u8 = spec::drop::NO_SOCKET as u8;
const D_NO_BUFLET: u8 = spec::drop::NO_BUFLET as u8;
const D_OOO: u8 = spec::drop::OUT_OF_ORDER as u8;
const D_OOW: u8 = spec::drop::OUT_OF_WINDOW as u8;
const D_DUP: u8 = spec::drop::DUPLICATE as u8;
const D_BAD_STATE: u8 = spec::drop::BAD_STATE as u8;

const C_FULL: u32 = spec::cpl_flag::FULL as u32;
const C_PSH: u32 = spec::cpl_flag::PSH as u32;
const C_FIN: u32 = spec::cpl_flag::FIN as u32;
const C_RST: u32 = spec::cpl_flag::RST as u32;
const C_DELETE: u32 = spec::cpl_flag::DELETE as u32;
const C_TIMEOUT: u32 = spec::cpl_flag::TIMEOUT as u32;
const C_TRUNC: u32 = spec::cpl_flag::TRUNC as u32;
const C_DATAGRAM: u32 = spec::cpl_flag::DATAGRAM as u32;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

const PSH_RETURN: u8 = spec::sock_flag::PSH_RETURN as u8;
const HOLD: u8 = spec::sock_flag::HOLD as u8;
const RELEASE_MAX: usize = spec::param::RELEASE_MAX as usize;
const RECS_PER_PAGE: usize = PAGE / spec::param::HOLD_REC_BYTES as usize;

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
    meta_ack: Port,
    meta_flags: Port,
    meta_ws_valid: Port,
    meta_ws: Port,
    meta_pay_off: Port,
    meta_pay_len: Port,
    meta_head: Port,
    meta_tail: Port,
    meta_count: Port,
    pool_free: Port,
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
    tx_valid: Port,
    tx_ready: Port,
    tx_data: Port,
    ev_drop_valid: Port,
    ev_drop_reason: Port,
    ev_accepted: Port,
    ev_delivered_valid: Port,
    ev_delivered_bytes: Port,
    ev_nb_returned: Port,
    ev_ooo_held: Port,
    meta_udp: Port,
    meta_arp_req: Port,
    meta_arp_sha: Port,
    nic_mac: Port,
    nic_ip: Port,
    tick_req: Port,
    ev_anon_rx: Port,
    ev_arp_reply: Port,
    ev_timeout: Port,
    ev_tick: Port,
    expose_en: Port,
    expose_idx: Port,
    ev_hold_rec: Port,
    ev_released: Port,
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
            meta_ack: p("s_meta_ack"),
            meta_flags: p("s_meta_flags"),
            meta_ws_valid: p("s_meta_ws_valid"),
            meta_ws: p("s_meta_ws"),
            meta_pay_off: p("s_meta_pay_off"),
            meta_pay_len: p("s_meta_pay_len"),
            meta_head: p("s_meta_head"),
            meta_tail: p("s_meta_tail"),
            meta_count: p("s_meta_count"),
            pool_free: p("pool_free"),
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
            tx_valid: p("m_tx_valid"),
            tx_ready: p("m_tx_ready"),
            tx_data: p("m_tx_data"),
            ev_drop_valid: p("ev_drop_valid"),
            ev_drop_reason: p("ev_drop_reason"),
            ev_accepted: p("ev_accepted"),
            ev_delivered_valid: p("ev_delivered_valid"),
            ev_delivered_bytes: p("ev_delivered_bytes"),
            ev_nb_returned: p("ev_nb_returned"),
            ev_ooo_held: p("ev_ooo_held"),
            meta_udp: p("s_meta_udp"),
            meta_arp_req: p("s_meta_arp_req"),
            meta_arp_sha: p("s_meta_arp_sha"),
            nic_mac: p("nic_mac"),
            nic_ip: p("nic_ip"),
            tick_req: p("tick_req"),
            ev_anon_rx: p("ev_anon_rx"),
            ev_arp_reply: p("ev_arp_reply"),
            ev_timeout: p("ev_timeout"),
            ev_tick: p("ev_tick"),
            expose_en: p("expose_en"),
            expose_idx: p("expose_idx"),
            ev_hold_rec: p("ev_hold_rec"),
            ev_released: p("ev_released"),
        }
    }
}

fn put(buf: &mut [u8], field: (usize, usize), v: u64) {
    spec::put(buf, field, v);
}

fn get(buf: &[u8], field: (usize, usize)) -> u64 {
    spec::get(buf, field)
}

/// Bucket of a 4-tuple (architecture.md, socket lookup), computed independently of the RTL.
fn bucket(remote_ip: u32, local_ip: u32, remote_port: u16, local_port: u16, n: u32) -> u32 {
    let mut x = remote_ip ^ local_ip ^ ((remote_port as u32) << 16 | local_port as u32);
    x ^= x >> 16;
    x ^= x >> 8;
    x % n
}

// ==================================================================== sockets and frames

/// The host part of a socket (the SOCK_ADD entry).
#[derive(Clone, Copy, Default, Debug)]
struct SockCfg {
    slot: u16,
    flags: u8,
    local_mac: [u8; 6],
    remote_mac: [u8; 6],
    vlan: u16,
    proto: u8,
    local_ip: u32,
    remote_ip: u32,
    local_port: u16,
    remote_port: u16,
    iss: u32,
    rcv_buf: u32,
    mss: u16,
    wscale: u8,
}

impl SockCfg {
    fn new(slot: u16, rng: &mut ChaCha8Rng) -> SockCfg {
        SockCfg {
            slot,
            flags: 0,
            local_mac: rng.gen(),
            remote_mac: rng.gen(),
            vlan: 0,
            proto: 6,
            local_ip: 0x0A00_0001,
            remote_ip: 0x0A00_0100 + slot as u32,
            local_port: 5000 + slot,
            remote_port: 40000 + slot * 7,
            iss: rng.gen(),
            rcv_buf: 8000,
            mss: 1460,
            wscale: 0,
        }
    }

    fn entry(&self, tag: u32) -> [u8; 64] {
        use spec::sock_desc as d;
        let mut e = [0u8; 64];
        put(&mut e, d::OPCODE, OP_SOCK_ADD as u64);
        put(&mut e, d::FLAGS, self.flags as u64);
        put(&mut e, d::SOCK_REF, self.slot as u64);
        put(&mut e, d::TAG, tag as u64);
        e[d::LOCAL_MAC.0..d::LOCAL_MAC.0 + 6].copy_from_slice(&self.local_mac);
        e[d::REMOTE_MAC.0..d::REMOTE_MAC.0 + 6].copy_from_slice(&self.remote_mac);
        put(&mut e, d::VLAN, self.vlan as u64);
        put(&mut e, d::PROTO, self.proto as u64);
        put(&mut e, d::LOCAL_IP, self.local_ip as u64);
        put(&mut e, d::REMOTE_IP, self.remote_ip as u64);
        put(&mut e, d::LOCAL_PORT, self.local_port as u64);
        put(&mut e, d::REMOTE_PORT, self.remote_port as u64);
        put(&mut e, d::ISS, self.iss as u64);
        put(&mut e, d::RCV_BUF, self.rcv_buf as u64);
        put(&mut e, d::MSS, self.mss as u64);
        put(&mut e, d::RCV_WSCALE, self.wscale as u64);
        e
    }

    fn from_entry(e: &[u8; 64]) -> SockCfg {
        use spec::sock_desc as d;
        let mut c = SockCfg {
            slot: get(e, d::SOCK_REF) as u16,
            flags: get(e, d::FLAGS) as u8,
            vlan: get(e, d::VLAN) as u16,
            proto: get(e, d::PROTO) as u8,
            local_ip: get(e, d::LOCAL_IP) as u32,
            remote_ip: get(e, d::REMOTE_IP) as u32,
            local_port: get(e, d::LOCAL_PORT) as u16,
            remote_port: get(e, d::REMOTE_PORT) as u16,
            iss: get(e, d::ISS) as u32,
            rcv_buf: get(e, d::RCV_BUF) as u32,
            mss: get(e, d::MSS) as u16,
            wscale: get(e, d::RCV_WSCALE) as u8,
            ..SockCfg::default()
        };
        c.local_mac
            .copy_from_slice(&e[d::LOCAL_MAC.0..d::LOCAL_MAC.0 + 6]);
        c.remote_mac
            .copy_from_slice(&e[d::REMOTE_MAC.0..d::REMOTE_MAC.0 + 6]);
        c
    }

    /// A frame from the peer of this socket.
    fn frame(&self, seq: u32, ack: u32, flags: u8, payload: Vec<u8>) -> Frame {
        Frame {
            reason: 0,
            vlan: self.vlan,
            src_ip: self.remote_ip,
            dst_ip: self.local_ip,
            sport: self.remote_port,
            dport: self.local_port,
            seq,
            ack,
            flags,
            ws: None,
            pay_off: 54,
            payload,
            no_chain: false,
            peer: None,
            udp: false,
            arp_sha: None,
            short_chain: None,
            bytes: Vec::new(),
        }
    }

    /// A UDP datagram from the peer of this socket: `payload` after an 8-byte UDP header at
    /// offset `pay_off - 8` (rx-paths.md: the metadata's payload offset is UDP header + 8).
    fn datagram(&self, payload: Vec<u8>) -> Frame {
        let mut f = self.frame(0, 0, 0, payload);
        f.udp = true;
        f.pay_off = if self.vlan != 0 { 46 } else { 42 };
        f
    }
}

/// A frame that is not matched through the 4-tuple: `len` bytes, parser reason `reason`
/// (NOT_IPV4 or NO_SOCKET), metadata fields random.
fn raw_frame(reason: u8, len: usize, rng: &mut ChaCha8Rng) -> Frame {
    let n = len.max(14);
    Frame {
        reason,
        vlan: 0,
        src_ip: rng.gen(),
        dst_ip: rng.gen(),
        sport: rng.gen(),
        dport: rng.gen(),
        seq: rng.gen(),
        ack: rng.gen(),
        flags: 0,
        ws: None,
        pay_off: 14,
        payload: (0..n - 14).map(|_| rng.gen()).collect(),
        no_chain: false,
        peer: None,
        udp: false,
        arp_sha: None,
        short_chain: None,
        bytes: Vec::new(),
    }
}

/// An ARP request (reason NOT_IPV4, ARP_REQ) from `sha`/`spa` asking for `tpa`: 42 bytes
/// (46 with a tag), metadata source IP = SPA, destination IP = TPA.
fn arp_frame(sha: [u8; 6], spa: u32, tpa: u32, vlan: u16, rng: &mut ChaCha8Rng) -> Frame {
    let mut f = raw_frame(D_NOT_IPV4, if vlan != 0 { 46 } else { 42 }, rng);
    f.vlan = vlan;
    f.src_ip = spa;
    f.dst_ip = tpa;
    f.arp_sha = Some(sha);
    f
}

/// One rx metadata record plus the frame bytes the harness stores in a fresh buflet chain.
#[derive(Clone, Debug)]
struct Frame {
    reason: u8,
    vlan: u16,
    src_ip: u32,
    dst_ip: u32,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    ws: Option<u8>,
    pay_off: usize,
    payload: Vec<u8>,
    /// No buflet chain at all (NO_BUFLET before the first buflet).
    no_chain: bool,
    /// Index of the random-test peer that sent it.
    peer: Option<usize>,
    /// A UDP datagram (metadata UDP = 1).
    udp: bool,
    /// An ARP request (metadata ARP_REQ = 1) with this sender MAC.
    arp_sha: Option<[u8; 6]>,
    /// Only this many buflets were stored (fewer than the frame needs: stored in part).
    short_chain: Option<usize>,
    /// The frame bytes the harness stored (filled in when the frame is presented).
    bytes: Vec<u8>,
}

impl Frame {
    /// Frame length in bytes.
    fn len(&self) -> usize {
        self.pay_off + self.payload.len()
    }

    /// The frame was stored whole (every buflet it needs).
    fn whole(&self) -> bool {
        !self.no_chain && self.short_chain.is_none()
    }
}

/// The expected tx_cmd bytes.
#[allow(clippy::too_many_arguments)]
fn tx_bytes(
    c: &SockCfg,
    seq: u32,
    ack: u32,
    window: u16,
    flags: u8,
    opts: u8,
    mss: u16,
    wscale: u8,
) -> [u8; 48] {
    use spec::tx_cmd as t;
    let mut b = [0u8; 48];
    b[t::DST_MAC.0..t::DST_MAC.0 + 6].copy_from_slice(&c.remote_mac);
    b[t::SRC_MAC.0..t::SRC_MAC.0 + 6].copy_from_slice(&c.local_mac);
    put(&mut b, t::VLAN, c.vlan as u64);
    put(&mut b, t::SRC_IP, c.local_ip as u64);
    put(&mut b, t::DST_IP, c.remote_ip as u64);
    put(&mut b, t::SRC_PORT, c.local_port as u64);
    put(&mut b, t::DST_PORT, c.remote_port as u64);
    put(&mut b, t::SEQ, seq as u64);
    put(&mut b, t::ACK, ack as u64);
    put(&mut b, t::WINDOW, window as u64);
    put(&mut b, t::FLAGS, flags as u64);
    put(&mut b, t::OPTS, opts as u64);
    put(&mut b, t::MSS, mss as u64);
    put(&mut b, t::WSCALE, wscale as u64);
    b
}

/// The expected tx_cmd bytes of an ARP reply (rx-paths.md "ARP responder").
fn arp_tx_bytes(sha: [u8; 6], nic_mac: [u8; 6], vlan: u16, nic_ip: u32, spa: u32) -> [u8; 48] {
    use spec::tx_cmd as t;
    let mut b = [0u8; 48];
    b[t::DST_MAC.0..t::DST_MAC.0 + 6].copy_from_slice(&sha);
    b[t::SRC_MAC.0..t::SRC_MAC.0 + 6].copy_from_slice(&nic_mac);
    put(&mut b, t::VLAN, vlan as u64);
    put(&mut b, t::KIND, spec::tx_kind::ARP);
    put(&mut b, t::SRC_IP, nic_ip as u64);
    put(&mut b, t::DST_IP, spa as u64);
    b
}

// ==================================================================== the oracle

/// A segment on one of the oracle's lists: its undelivered bytes.
#[derive(Clone, Debug)]
struct OSeg {
    seq: u32,
    data: Vec<u8>,
    flags: u8,
    chain: u16,
    /// A FIN/RST marker whose chain was already freed (the engine frees it before the return).
    freed: bool,
    /// Byte offset of `data[0]` in the frame (the segment's DATA_OFF).
    doff: usize,
    /// Hold socket: a record emptied the segment and its chain is held (a FIN segment stays on
    /// the list until its return, but its chain is not freed).
    held: bool,
}

/// The oracle's view of one socket slot.
#[derive(Clone, Debug)]
struct OSock {
    cfg: SockCfg,
    add_no: u64,
    state: u8,
    ws_ok: bool,
    irs: u32,
    rcv_nxt: u32,
    stream_off: u64,
    ooo: Vec<OSeg>,
    inorder: VecDeque<OSeg>,
    nbs: VecDeque<u16>,
    delivered: Vec<u8>,
    /// cpl flags of the final FIN/RST return once it was observed.
    end_flag: u32,
    /// RCV_WND_EDGE: the right edge last advertised.
    edge: u32,
}

impl OSock {
    fn new(cfg: SockCfg, add_no: u64) -> OSock {
        OSock {
            cfg,
            add_no,
            state: ST_LISTEN,
            ws_ok: false,
            irs: 0,
            rcv_nxt: 0,
            stream_off: 0,
            ooo: Vec::new(),
            inorder: VecDeque::new(),
            nbs: VecDeque::new(),
            delivered: Vec::new(),
            end_flag: 0,
            edge: 0,
        }
    }

    fn udp(&self) -> bool {
        self.cfg.proto == PROTO_UDP
    }

    /// The window already promised: rel(RCV_WND_EDGE) if positive, else 0.
    fn promised(&self) -> i64 {
        self.rel(self.edge).max(0)
    }

    /// wnd = max(win, promised): the window of acceptability and trimming.
    fn wnd(&self, pool_room: u64) -> i64 {
        (self.win(pool_room) as i64).max(self.promised())
    }

    fn shift(&self) -> u32 {
        if self.ws_ok {
            self.cfg.wscale as u32
        } else {
            0
        }
    }

    /// The edge update rule: RCV_WND_EDGE = RCV_NXT + (field << shift) if that lies further right.
    fn update_edge(&mut self, field: u32, shift: u32) {
        let e = self.rcv_nxt.wrapping_add(field << shift);
        if self.rel(e) > self.rel(self.edge) {
            self.edge = e;
        }
    }

    /// The WINDOW field of an ACK (RCV_NXT after the segment, the frame's pool room), with the
    /// edge update.
    fn ack_field(&mut self, pool_room: u64) -> u16 {
        let win = self.win(pool_room) as i64;
        let promised = self.promised();
        let adv = if pool_room == 0 {
            0
        } else if !self.ooo.is_empty() && promised > 0 {
            promised
        } else {
            win.max(promised)
        };
        let sh = self.shift();
        let field = ((adv >> sh) as u64).min(65535) as u32;
        self.update_edge(field, sh);
        field as u16
    }

    /// The WINDOW field of a SYN-ACK (never scaled), with the edge update (shift 0).
    fn syn_ack_field(&mut self, pool_room: u64) -> u16 {
        let field = self.win(pool_room).min(65535);
        self.update_edge(field, 0);
        field as u16
    }

    /// win(RCV_NXT) for the given pool room.
    fn win(&self, pool_room: u64) -> u32 {
        let held = self
            .rcv_nxt
            .wrapping_sub(self.irs)
            .wrapping_sub(1)
            .wrapping_sub(self.stream_off as u32);
        let sock_room = self.cfg.rcv_buf.saturating_sub(held); // 0 when held >= RCV_BUF
        (sock_room as u64).min(pool_room) as u32
    }

    fn rel(&self, x: u32) -> i64 {
        x.wrapping_sub(self.rcv_nxt) as i32 as i64
    }
}

/// What the TCP rules decided for one frame.
#[derive(Default, Debug)]
struct Dec {
    /// 0 none, 1 ACK, 2 SYN-ACK.
    tx: u8,
    drop: u8,
    /// The chain stays on a segment list.
    keep: bool,
    accepted: bool,
    held: bool,
    /// Bytes of the payload kept: (index of the first, count).
    kept: Option<(usize, usize)>,
    cov: Vec<&'static str>,
}

/// The TCP rules of docs/tcp-receive.md for a frame matched to socket `s`. `inf` replaces the
/// window by 2^30 (used to predict which bytes can possibly be kept).
fn tcp(s: &mut OSock, f: &Frame, chain: u16, pool_room: u64, inf: bool) -> Dec {
    let mut d = Dec::default();
    let syn = f.flags & SYN != 0;
    let rst = f.flags & RST != 0;
    let ackf = f.flags & ACK != 0;
    match s.state {
        ST_LISTEN => {
            if rst {
                d.drop = D_BAD_STATE;
            } else if syn && !ackf {
                s.irs = f.seq;
                s.rcv_nxt = f.seq.wrapping_add(1);
                s.stream_off = 0;
                s.ws_ok = f.ws.is_some();
                s.edge = s.rcv_nxt;
                s.state = ST_SYN_RCVD;
                d.tx = 2;
                d.cov.push("syn");
            } else {
                d.drop = D_BAD_STATE;
            }
            d
        }
        ST_SYN_RCVD => {
            if rst {
                if f.seq == s.rcv_nxt {
                    s.state = ST_LISTEN;
                    d.cov.push("syn_rcvd_rst");
                } else {
                    d.drop = D_OOW;
                }
            } else if syn {
                if f.seq == s.irs {
                    d.tx = 2;
                    d.cov.push("syn_retransmit");
                } else {
                    d.drop = D_BAD_STATE;
                }
            } else if ackf && f.ack == s.cfg.iss.wrapping_add(1) {
                s.state = ST_ESTAB;
                let mut e = estab(s, f, chain, pool_room, inf);
                e.cov.push("estab");
                return e;
            } else {
                d.drop = D_BAD_STATE;
            }
            d
        }
        ST_ESTAB | ST_CLOSE_WAIT => estab(s, f, chain, pool_room, inf),
        _ => {
            d.drop = D_BAD_STATE;
            d
        }
    }
}

fn estab(s: &mut OSock, f: &Frame, chain: u16, pool_room: u64, inf: bool) -> Dec {
    let mut d = Dec::default();
    let syn = f.flags & SYN != 0;
    let rst = f.flags & RST != 0;
    let mut len = f.payload.len() as i64;
    let seg_len = len + syn as i64 + (f.flags & FIN != 0) as i64;
    let w = if inf { 1i64 << 30 } else { s.wnd(pool_room) };
    let mut off = s.rel(f.seq);
    let acc = if seg_len == 0 {
        if w == 0 {
            off == 0
        } else {
            0 <= off && off < w
        }
    } else {
        let last = off + seg_len - 1;
        w > 0 && ((0 <= off && off < w) || (0 <= last && last < w))
    };
    if !acc {
        d.tx = if rst { 0 } else { 1 };
        d.drop = D_OOW;
        if w == 0 {
            d.cov.push("zero_window_drop");
        }
        return d;
    }
    if !inf && seg_len > 0 && off + seg_len > s.win(pool_room) as i64 {
        d.cov.push("beyond_win_within_promise");
    }
    if rst {
        if off == 0 {
            s.state = ST_CLOSED;
            s.inorder.push_back(OSeg {
                seq: f.seq,
                data: Vec::new(),
                flags: f.flags,
                chain,
                freed: false,
                doff: f.pay_off,
                held: false,
            });
            d.keep = true;
            d.cov.push("rst_marker");
        } else {
            d.tx = 1;
            d.drop = D_OOW;
            d.cov.push("rst_challenge");
        }
        return d;
    }
    if syn {
        d.tx = 1;
        d.drop = D_BAD_STATE;
        d.cov.push("syn_challenge");
        return d;
    }
    if s.state == ST_CLOSE_WAIT {
        if seg_len > 0 {
            d.tx = 1;
            d.drop = D_BAD_STATE;
            d.cov.push("close_wait_data");
        }
        return d;
    }
    let mut flags = f.flags;
    let mut start = 0i64;
    let mut seq = f.seq;
    if off < 0 {
        let cut = -off;
        start += cut;
        len -= cut;
        seq = seq.wrapping_add(cut as u32);
        off = 0;
        d.cov.push("trim_left");
    }
    if off + len > w {
        len = w - off;
        flags &= !(FIN | PSH);
        d.cov.push("trim_right");
    }
    if len == 0 && flags & FIN == 0 {
        d.cov.push("pure_ack");
        return d;
    }
    if off == 0 {
        if let Some(h) = s.ooo.first() {
            let r = s.rel(h.seq);
            if r < len {
                len = r;
                flags &= !(FIN | PSH);
                d.cov.push("inorder_cut");
            }
        }
        let fin = flags & FIN != 0;
        let (a, n) = (start as usize, len as usize);
        s.inorder.push_back(OSeg {
            seq,
            data: f.payload[a..a + n].to_vec(),
            flags,
            chain,
            freed: false,
            doff: f.pay_off + a,
            held: false,
        });
        s.rcv_nxt = s.rcv_nxt.wrapping_add(n as u32 + fin as u32);
        d.accepted = n > 0;
        d.keep = true;
        d.kept = Some((a, n));
        if fin {
            s.state = ST_CLOSE_WAIT;
            d.cov.push("fin_in_order");
        }
        while s.state == ST_ESTAB && s.ooo.first().is_some_and(|h| h.seq == s.rcv_nxt) {
            let h = s.ooo.remove(0);
            let hf = h.flags & FIN != 0;
            s.rcv_nxt = s.rcv_nxt.wrapping_add(h.data.len() as u32 + hf as u32);
            if hf {
                s.state = ST_CLOSE_WAIT;
                d.cov.push("fin_drained");
            }
            s.inorder.push_back(h);
            d.cov.push("drain");
        }
        d.tx = 1;
        return d;
    }
    d.tx = 1;
    if len == 0 {
        d.drop = D_OOO;
        d.cov.push("fin_ahead");
        return d;
    }
    // reassembly insert
    let mut i = 0;
    while i < s.ooo.len() && s.rel(s.ooo[i].seq) + s.ooo[i].data.len() as i64 <= off {
        i += 1;
    }
    if i < s.ooo.len() && s.rel(s.ooo[i].seq) <= off {
        let cut = s.rel(s.ooo[i].seq) + s.ooo[i].data.len() as i64 - off;
        if cut >= len {
            d.drop = D_DUP;
            d.cov.push("dup_front");
            return d;
        }
        start += cut;
        len -= cut;
        off += cut;
        seq = seq.wrapping_add(cut as u32);
        i += 1;
        d.cov.push("ins_front_cut");
    }
    if i < s.ooo.len() && s.rel(s.ooo[i].seq) < off + len {
        len = s.rel(s.ooo[i].seq) - off;
        flags &= !(FIN | PSH);
        d.cov.push("ins_tail_cut");
    }
    if len == 0 {
        d.drop = D_DUP;
        d.cov.push("dup_tail");
        return d;
    }
    let (a, n) = (start as usize, len as usize);
    if i > 0 && i < s.ooo.len() {
        d.cov.push("ins_middle");
    }
    s.ooo.insert(
        i,
        OSeg {
            seq,
            data: f.payload[a..a + n].to_vec(),
            flags,
            chain,
            freed: false,
            doff: f.pay_off + a,
            held: false,
        },
    );
    d.keep = true;
    d.held = true;
    d.kept = Some((a, n));
    if flags & FIN != 0 {
        d.cov.push("fin_held");
    }
    d
}

// ==================================================================== harness

#[derive(Clone)]
struct Nb {
    slot: u16,
    tag: u32,
    total: usize,
    pages: Vec<u64>,
    hmd: u64,
    n_pages: usize,
    refused: bool,
    filled: usize,
    stream_off: u64,
    content: Vec<u8>,
    /// TIMEOUT of the NB_POST and the TICKS_LEFT the sweep counts down.
    timeout: u32,
    ticks_left: u32,
    /// Hold socket: records written (RECS) and each one's host address and bytes.
    recs: usize,
    records: Vec<(u64, [u8; 8])>,
}

#[derive(Debug)]
struct RetExp {
    flags: u32,
    status: u8,
    bytes: usize,
    stream_off: u64,
    /// HDR_BYTES of the completion (DATAGRAM returns only).
    hdr: u8,
}

/// A posted anonymous buffer.
#[derive(Clone, Debug)]
struct Anon {
    refn: u32,
    tag: u32,
    len: usize,
    addr: u64,
}

/// An expected ANON_RX completion: the buffer and the bytes it must hold by then.
#[derive(Debug)]
struct AnonExp {
    buf: Anon,
    content: Vec<u8>,
    trunc: bool,
}

/// What the edge check of an expected TCP tx command needs.
#[derive(Clone, Copy, Debug)]
struct TxEdge {
    slot: u16,
    shift: u32,
    syn_ack: bool,
    /// A SYN-ACK for a SYN taken in LISTEN (a new connection).
    fresh: bool,
    /// The frame's pool room was 0 (the ACK closes the window to 0).
    pool_closed: bool,
}

struct Chain {
    tail: u16,
    count: u16,
}

#[derive(Default, Debug, PartialEq, Clone)]
struct Counts {
    drop: [u64; 16],
    accepted: u64,
    ooo_held: u64,
    delivered: u64,
    returned: u64,
    tx: u64,
    anon_rx: u64,
    arp: u64,
    timeouts: u64,
    ticks: u64,
    hold_recs: u64,
    released: u64,
}

/// Output streams, in the order of `Tb::p_out`/`Tb::hold`.
const O_FREE: usize = 0;
const O_RD_REQ: usize = 1;
const O_WR_REQ: usize = 2;
const O_WR_DATA: usize = 3;
const O_CPL: usize = 4;
const O_TX: usize = 5;

struct Tb {
    m: Model,
    p: Ports,
    rng: ChaCha8Rng,
    kw: usize,
    bb: usize,
    nbuf: usize,
    num_nbs: usize,
    num_socks: usize,
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
    rd_resp: VecDeque<(u64, bool)>,
    wr_reqs: VecDeque<(u64, usize)>,
    wr_cur: Option<(u64, usize, usize)>, // addr, len, bytes received
    // stimulus
    req_q: VecDeque<[u8; 64]>,
    cur_req: Option<[u8; 64]>,
    frames: VecDeque<Frame>,
    cur_meta: Option<Frame>,
    cur_chain: (u16, u16, u16),
    next_tag: u32,
    refused_ctr: u64,
    // oracle
    osock: Vec<Option<OSock>>,
    add_no: u64,
    nb_pending: HashMap<u32, Nb>,
    nbs: HashMap<u16, Nb>,
    ret_exp: HashMap<u16, RetExp>,
    /// DELETE returns still expected: (tag of the SOCK_DEL, NB ref), in order.
    del_order: VecDeque<(u32, u16)>,
    graveyard: HashMap<u16, OSock>,
    /// Expected CMD_DONEs: (tag, opcode, status, sock ref, BYTES).
    cmd_expect: VecDeque<(u32, u8, u8, u16, u32)>,
    /// Held chains (by head) of hold sockets, not yet released.
    held: HashSet<u16>,
    /// BUFLETs of the hold records written, whose expose pulse is still due (in order).
    expose_exp: VecDeque<u16>,
    /// expose_idx of every expose pulse seen.
    exposed: Vec<u16>,
    tx_expect: VecDeque<([u8; 48], Option<TxEdge>)>,
    allowed_free: HashSet<u16>,
    /// The active list (head first).
    active: Vec<u16>,
    num_anon: usize,
    /// Posted anonymous buffers, first posted first.
    anon_list: VecDeque<Anon>,
    /// ANON_POSTs queued, by tag.
    anon_pending: HashMap<u32, Anon>,
    /// DMA writes of the anonymous delivery in progress, in order.
    anon_writes: VecDeque<(u64, usize)>,
    anon_cpl: VecDeque<AnonExp>,
    nic_mac: [u8; 6],
    nic_ip: u32,
    /// Pulse tick_req in the next cycle(s).
    tick_now: u32,
    /// Random tick_req pulses: chance per 100000 cycles.
    p_tick: u32,
    tick_reqs: u64,
    last_tick_req: Option<u64>,
    last_ev_tick: Option<u64>,
    /// Sweeps run on a TIMEOUT completion before their ev_tick pulse was seen.
    early: u32,
    /// TIMEOUT returns of the sweeps, in sweep order.
    timeout_order: VecDeque<u16>,
    /// The right edge advertised so far, per socket slot (from the observed tx commands).
    obs_edge: HashMap<u16, u32>,
    exp: Counts,
    cov: HashMap<&'static str, u64>,
    // observed
    got: Counts,
    ev_returned: u64,
    tx_log: Vec<[u8; 48]>,
    cpl_log: Vec<[u8; 32]>,
    // backpressure / idle probabilities (percent)
    p_ready: u32,
    p_valid: u32,
    p_tx: u32,
    /// Metadata records the engine picked.
    meta_picks: u64,
    /// Since when the front frame waits for buflets.
    pool_wait: Option<u64>,
    /// Per-output ready chance overriding p_ready/p_tx.
    p_out: Option<[u32; 6]>,
    /// Outputs held not ready.
    hold: [bool; 6],
    wr_beats: u64,
    first_beat: Option<u64>,
    last_beat: u64,
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
        let num_socks = par("NUM_SOCKETS");
        let num_anon = info
            .param("NUM_ANON")
            .map_or(spec::param::DEF_NUM_ANON as usize, |v| v.parse().unwrap());
        let mut tb = Tb {
            m,
            p,
            rng: ChaCha8Rng::seed_from_u64(seed),
            kw,
            bb,
            nbuf,
            num_nbs,
            num_socks,
            ram: vec![0; bb * nbuf],
            link: vec![NULL16; nbuf],
            free: (0..nbuf as u16).collect(),
            in_use: vec![false; nbuf],
            chains: HashMap::new(),
            rd_pending: None,
            host: vec![0xEE; HOST_SIZE],
            bump: 0,
            rd_resp: VecDeque::new(),
            wr_reqs: VecDeque::new(),
            wr_cur: None,
            req_q: VecDeque::new(),
            cur_req: None,
            frames: VecDeque::new(),
            cur_meta: None,
            cur_chain: (NULL16, NULL16, 0),
            next_tag: 0x1000,
            refused_ctr: 0,
            osock: vec![None; num_socks],
            add_no: 0,
            nb_pending: HashMap::new(),
            nbs: HashMap::new(),
            ret_exp: HashMap::new(),
            del_order: VecDeque::new(),
            graveyard: HashMap::new(),
            cmd_expect: VecDeque::new(),
            held: HashSet::new(),
            expose_exp: VecDeque::new(),
            exposed: Vec::new(),
            tx_expect: VecDeque::new(),
            allowed_free: HashSet::new(),
            active: Vec::new(),
            num_anon,
            anon_list: VecDeque::new(),
            anon_pending: HashMap::new(),
            anon_writes: VecDeque::new(),
            anon_cpl: VecDeque::new(),
            nic_mac: [0x02, 0x42, 0x46, 0x4C, 0x54, 0x01],
            nic_ip: 0,
            tick_now: 0,
            p_tick: 0,
            tick_reqs: 0,
            last_tick_req: None,
            last_ev_tick: None,
            early: 0,
            timeout_order: VecDeque::new(),
            obs_edge: HashMap::new(),
            exp: Counts::default(),
            cov: HashMap::new(),
            got: Counts::default(),
            ev_returned: 0,
            tx_log: Vec::new(),
            cpl_log: Vec::new(),
            p_ready: 70,
            p_valid: 70,
            p_tx: 70,
            meta_picks: 0,
            pool_wait: None,
            p_out: None,
            hold: [false; 6],
            wr_beats: 0,
            first_beat: None,
            last_beat: 0,
        };
        tb.reset();
        tb
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

    fn pool_room(&self, free: usize) -> u64 {
        let reserve = self.nbuf / spec::param::POOL_RESERVE_DIV as usize;
        if free > reserve {
            ((free - reserve) * (self.bb / 2)) as u64
        } else {
            0
        }
    }

    // ---------------------------------------------------------------- requests
    fn sock_add(&mut self, c: &SockCfg) {
        let t = self.tag();
        self.req_q.push_back(c.entry(t));
    }

    fn sock_del(&mut self, slot: u16) {
        let mut e = [0u8; 64];
        put(&mut e, spec::req_hdr::OPCODE, OP_SOCK_DEL as u64);
        put(&mut e, spec::req_hdr::SOCK_REF, slot as u64);
        let t = self.tag();
        put(&mut e, spec::req_hdr::TAG, t as u64);
        self.req_q.push_back(e);
    }

    fn raw_req(&mut self, op: u8, slot: u16) {
        let mut e = [0u8; 64];
        put(&mut e, spec::req_hdr::OPCODE, op as u64);
        put(&mut e, spec::req_hdr::SOCK_REF, slot as u64);
        let t = self.tag();
        put(&mut e, spec::req_hdr::TAG, t as u64);
        self.req_q.push_back(e);
    }

    /// Queues a BUF_RELEASE of `heads` with COUNT = `count` (heads past `heads.len()` are 0).
    fn buf_release_n(&mut self, count: u16, heads: &[u16]) {
        use spec::buf_release as r;
        let mut e = [0u8; 64];
        put(&mut e, r::OPCODE, OP_BUF_RELEASE as u64);
        let t = self.tag();
        put(&mut e, r::TAG, t as u64);
        put(&mut e, r::COUNT, count as u64);
        for (k, h) in heads.iter().enumerate().take(RELEASE_MAX) {
            e[r::HEADS.0 + 2 * k..r::HEADS.0 + 2 * k + 2].copy_from_slice(&h.to_le_bytes());
        }
        self.req_q.push_back(e);
    }

    /// Queues a BUF_RELEASE of `heads` (COUNT = their number).
    fn buf_release(&mut self, heads: &[u16]) {
        self.buf_release_n(heads.len() as u16, heads);
    }

    /// Queues BUF_RELEASEs of every chain held now (sorted, 24 per request).
    fn release_all(&mut self) {
        let mut h: Vec<u16> = self.held.iter().copied().collect();
        h.sort_unstable();
        for c in h.chunks(RELEASE_MAX) {
            self.buf_release(c);
        }
    }

    /// Queues an NB_POST (page list written to host memory unless `refused`).
    fn nb_post(&mut self, slot: u16, refn: u32, total: usize, pages: u32, refused: bool) {
        self.nb_post_t(slot, refn, total, pages, refused, 0);
    }

    /// Queues an NB_POST with a TIMEOUT.
    fn nb_post_t(
        &mut self,
        slot: u16,
        refn: u32,
        total: usize,
        pages: u32,
        refused: bool,
        timeout: u32,
    ) {
        let tag = self.tag();
        let hmd = if refused {
            self.refused_ctr += 1;
            REFUSED_BASE + 0x1000 * self.refused_ctr
        } else {
            self.host_alloc(8 * pages.max(1) as usize, 8)
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
                self.host_slice(hmd + 8 * i as u64, 8)
                    .copy_from_slice(&a.to_le_bytes());
            }
        }
        let mut e = [0u8; 64];
        put(&mut e, spec::nb_desc::OPCODE, OP_NB_POST as u64);
        put(&mut e, spec::nb_desc::SOCK_REF, slot as u64);
        put(&mut e, spec::nb_desc::TAG, tag as u64);
        put(&mut e, spec::nb_desc::REF_NUM, refn as u64);
        put(&mut e, spec::nb_desc::TOTAL_BYTES, total as u64);
        put(&mut e, spec::nb_desc::HMD_ADDR, hmd);
        put(&mut e, spec::nb_desc::HMD_PAGES, pages as u64);
        put(&mut e, spec::nb_desc::FILLED, 77); // NIC-owned, must be reset
        put(&mut e, spec::nb_desc::NEXT_NB, 2);
        put(&mut e, spec::nb_desc::TIMEOUT, timeout as u64);
        put(&mut e, spec::nb_desc::TICKS_LEFT, 3); // NIC-owned, set from TIMEOUT
        put(&mut e, spec::nb_desc::UDP_HDR_BYTES, 5); // NIC-owned
        self.nb_pending.insert(
            tag,
            Nb {
                slot,
                tag,
                total,
                pages: addrs,
                hmd,
                n_pages: pages as usize,
                refused,
                filled: 0,
                stream_off: 0,
                content: Vec::new(),
                timeout,
                ticks_left: timeout,
                recs: 0,
                records: Vec::new(),
            },
        );
        self.req_q.push_back(e);
    }

    /// Queues an ANON_POST of a `len`-byte buffer (host memory allocated at a random skew);
    /// returns its address.
    fn anon_post(&mut self, refn: u32, len: usize) -> u64 {
        let skew = self.rng.gen_range(0..3) * self.rng.gen_range(1..2048);
        let addr = self.host_alloc(len.max(1) + skew, PAGE) + skew as u64;
        self.anon_post_at(refn, len, addr, 0, 0);
        addr
    }

    /// Queues an ANON_POST entry with every field given.
    fn anon_post_at(&mut self, refn: u32, len: usize, addr: u64, sock_ref: u16, flags: u8) {
        let tag = self.tag();
        let mut e = [0u8; 64];
        use spec::anon_desc as a;
        put(&mut e, a::OPCODE, OP_ANON_POST as u64);
        put(&mut e, a::FLAGS, flags as u64);
        put(&mut e, a::SOCK_REF, sock_ref as u64);
        put(&mut e, a::TAG, tag as u64);
        put(&mut e, a::REF_NUM, refn as u64);
        put(&mut e, a::LEN, len as u64);
        put(&mut e, a::ADDR, addr);
        self.anon_pending.insert(
            tag,
            Anon {
                refn,
                tag,
                len,
                addr,
            },
        );
        self.req_q.push_back(e);
    }

    /// A free anonymous slot (not posted, not queued), if any.
    fn free_anon(&self) -> Option<u32> {
        (0..self.num_anon as u32).find(|r| {
            !self.anon_list.iter().any(|a| a.refn == *r)
                && !self.anon_pending.values().any(|a| a.refn == *r)
        })
    }

    /// Requests a timer tick (one tick_req pulse in the next cycle).
    fn tick(&mut self) {
        self.tick_now += 1;
    }

    /// A free NB reference (not live, not queued), if any.
    fn free_ref(&self) -> Option<u16> {
        (0..self.num_nbs as u16).find(|r| {
            !self.nbs.contains_key(r)
                && !self
                    .req_q
                    .iter()
                    .chain(self.cur_req.iter())
                    .any(|e| e[0] == OP_NB_POST && get(e, spec::nb_desc::REF_NUM) as u16 == *r)
        })
    }

    /// NBs of `slot` live or queued.
    fn nbs_out(&self, slot: u16) -> usize {
        self.nbs.values().filter(|n| n.slot == slot).count()
            + self.nb_pending.values().filter(|n| n.slot == slot).count()
    }

    /// Posts an NB with a random size to `slot`.
    fn post_random_nb(&mut self, slot: u16, refused: bool) -> bool {
        let Some(refn) = self.free_ref() else {
            return false;
        };
        let r: u32 = self.rng.gen_range(0..100);
        let total = if r < 15 {
            self.rng.gen_range(1..300)
        } else if r < 50 {
            self.rng.gen_range(1..=PAGE)
        } else {
            self.rng.gen_range(PAGE..=3 * PAGE)
        };
        let pages = total.div_ceil(PAGE) as u32 + self.rng.gen_range(0..2);
        let timeout = if self.p_tick > 0 && self.chance(40) {
            self.rng.gen_range(1..6)
        } else {
            0
        };
        self.nb_post_t(slot, refn as u32, total, pages, refused, timeout);
        true
    }

    // ---------------------------------------------------------------- oracle events
    fn count_cov(&mut self, cov: &[&'static str]) {
        for c in cov {
            *self.cov.entry(c).or_default() += 1;
        }
    }

    fn lookup(&self, f: &Frame) -> Option<usize> {
        let proto = if f.udp { PROTO_UDP } else { PROTO_TCP };
        self.osock
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .filter(|(_, s)| {
                s.cfg.local_ip == f.dst_ip
                    && s.cfg.remote_ip == f.src_ip
                    && s.cfg.local_port == f.dport
                    && s.cfg.remote_port == f.sport
                    && s.cfg.vlan == f.vlan
                    && s.cfg.proto == proto
            })
            .max_by_key(|(_, s)| s.add_no)
            .map(|(i, _)| i)
    }

    /// A frame that matched no socket (reason NO_SOCKET) or is not IPv4 and was not answered:
    /// the head anonymous buffer takes it when it was stored whole, else it is dropped under
    /// `reason` (rx-paths.md "Anonymous buffers", decision 1).
    fn anon_or_drop(&mut self, f: &Frame, chain: u16, reason: u8) {
        if chain != NULL16 {
            self.allowed_free.insert(chain);
        }
        if !f.whole() || self.anon_list.is_empty() {
            self.exp.drop[reason as usize] += 1;
            self.count_cov(&[if f.whole() {
                "anon_none_drop"
            } else {
                "anon_partial_drop"
            }]);
            return;
        }
        let buf = self.anon_list.pop_front().unwrap();
        let n = f.len().min(buf.len);
        assert_eq!(f.bytes.len(), f.len());
        for k in 0..n.div_ceil(PAGE) {
            self.anon_writes
                .push_back((buf.addr + (k * PAGE) as u64, (n - k * PAGE).min(PAGE)));
        }
        self.exp.anon_rx += 1;
        self.count_cov(&[if n < f.len() { "anon_trunc" } else { "anon_rx" }]);
        if n > PAGE {
            self.count_cov(&["anon_multi_write"]);
        }
        self.anon_cpl.push_back(AnonExp {
            content: f.bytes[..n].to_vec(),
            trunc: n < f.len(),
            buf,
        });
    }

    /// The engine picked this frame's metadata; `free` is the pool_free it saw.
    fn oracle_frame(&mut self, f: &Frame, chain: u16, free: usize) {
        let release = |tb: &mut Tb| {
            if chain != NULL16 {
                tb.allowed_free.insert(chain);
            }
        };
        if f.reason == D_NOT_IPV4 {
            if let Some(sha) = f.arp_sha {
                if self.nic_ip != 0 && f.dst_ip == self.nic_ip {
                    let t = arp_tx_bytes(sha, self.nic_mac, f.vlan, self.nic_ip, f.src_ip);
                    self.tx_expect.push_back((t, None));
                    self.exp.tx += 1;
                    self.exp.arp += 1;
                    release(self);
                    self.count_cov(&[if f.whole() {
                        "arp_reply"
                    } else {
                        "arp_reply_partial"
                    }]);
                    return;
                }
                self.count_cov(&["arp_not_ours"]);
            }
            self.anon_or_drop(f, chain, D_NOT_IPV4);
            return;
        }
        if f.reason == D_NO_SOCKET {
            self.anon_or_drop(f, chain, D_NO_SOCKET);
            return;
        }
        if f.reason != 0 {
            self.exp.drop[f.reason as usize] += 1;
            release(self);
            return;
        }
        let Some(si) = self.lookup(f) else {
            self.anon_or_drop(f, chain, D_NO_SOCKET);
            return;
        };
        if f.udp {
            // one segment: the UDP header and the payload
            let s = self.osock[si].as_mut().unwrap();
            assert!(f.pay_off >= 8);
            s.inorder.push_back(OSeg {
                seq: 0,
                data: f.bytes[f.pay_off - 8..f.len()].to_vec(),
                flags: 0,
                chain,
                freed: false,
                doff: f.pay_off - 8,
                held: false,
            });
            self.exp.accepted += 1;
            self.count_cov(&["udp_rx"]);
            return;
        }
        let pool_room = self.pool_room(free);
        let mut s = self.osock[si].take().unwrap();
        let d = tcp(&mut s, f, chain, pool_room, false);
        let mut cov: Vec<&'static str> = Vec::new();
        match d.tx {
            1 => {
                let (win, promised) = (s.win(pool_room) as i64, s.promised());
                if pool_room == 0 {
                    cov.push("ack_pool_closed");
                } else if !s.ooo.is_empty() && promised > win {
                    cov.push("ack_frozen");
                } else if promised > win {
                    cov.push("ack_promised");
                }
                let field = s.ack_field(pool_room);
                if field == 0 {
                    cov.push("ack_window_0");
                }
                let t = tx_bytes(
                    &s.cfg,
                    s.cfg.iss.wrapping_add(1),
                    s.rcv_nxt,
                    field,
                    ACK,
                    0,
                    0,
                    0,
                );
                let e = TxEdge {
                    slot: si as u16,
                    shift: s.shift(),
                    syn_ack: false,
                    fresh: false,
                    pool_closed: pool_room == 0,
                };
                self.tx_expect.push_back((t, Some(e)));
            }
            2 => {
                let field = s.syn_ack_field(pool_room);
                let opts =
                    spec::tx_opt::MSS as u8 | if s.ws_ok { spec::tx_opt::WS as u8 } else { 0 };
                let t = tx_bytes(
                    &s.cfg,
                    s.cfg.iss,
                    s.irs.wrapping_add(1),
                    field,
                    SYN | ACK,
                    opts,
                    s.cfg.mss,
                    s.cfg.wscale,
                );
                let e = TxEdge {
                    slot: si as u16,
                    shift: 0,
                    syn_ack: true,
                    fresh: d.cov.contains(&"syn"),
                    pool_closed: pool_room == 0,
                };
                self.tx_expect.push_back((t, Some(e)));
            }
            _ => {}
        }
        if d.keep && pool_room == 0 && d.kept.is_some_and(|(_, n)| n > 0) {
            cov.push("accept_pool_closed");
        }
        self.osock[si] = Some(s);
        if d.tx != 0 {
            self.exp.tx += 1;
        }
        if d.drop != 0 {
            self.exp.drop[d.drop as usize] += 1;
        }
        if !d.keep {
            release(self);
        }
        self.exp.accepted += d.accepted as u64;
        self.exp.ooo_held += d.held as u64;
        self.count_cov(&d.cov);
        self.count_cov(&cov);
    }

    /// The engine picked this request.
    fn oracle_req(&mut self, e: &[u8; 64]) {
        let op = e[0];
        let sref = get(e, spec::req_hdr::SOCK_REF) as usize;
        let tag = get(e, spec::req_hdr::TAG) as u32;
        let in_use = sref < self.num_socks && self.osock[sref].is_some();
        let st = match op {
            OP_SOCK_ADD => {
                let c = SockCfg::from_entry(e);
                let ok = sref < self.num_socks
                    && !in_use
                    && (c.flags & HOLD == 0 || c.proto == PROTO_TCP)
                    && (c.proto == PROTO_UDP
                        || c.proto == PROTO_TCP
                            && (1..=1 << 30).contains(&c.rcv_buf)
                            && c.wscale <= 14);
                if ok {
                    self.add_no += 1;
                    let mut o = OSock::new(c, self.add_no);
                    if c.proto == PROTO_UDP {
                        o.state = ST_ESTAB;
                    }
                    self.osock[sref] = Some(o);
                    self.active.insert(0, sref as u16);
                    spec::status::OK
                } else {
                    spec::status::BAD_SOCK
                }
            }
            OP_SOCK_DEL => {
                if !in_use {
                    spec::status::BAD_SOCK
                } else {
                    let s = self.osock[sref].take().unwrap();
                    self.active.retain(|&x| x as usize != sref);
                    for &r in &s.nbs {
                        let nb = &self.nbs[&r];
                        let so = if nb.filled == 0 {
                            s.stream_off
                        } else {
                            nb.stream_off
                        };
                        self.ret_exp.insert(
                            r,
                            RetExp {
                                flags: C_DELETE,
                                status: 0,
                                bytes: nb.filled,
                                stream_off: so,
                                hdr: 0,
                            },
                        );
                        self.del_order.push_back((tag, r));
                    }
                    if !s.nbs.is_empty() {
                        self.count_cov(&["delete_nb"]);
                    }
                    if !s.ooo.is_empty() || !s.inorder.is_empty() {
                        self.count_cov(&["delete_segments"]);
                    }
                    if !s.ooo.is_empty() && !s.inorder.is_empty() {
                        self.count_cov(&["delete_both_lists"]);
                    }
                    for g in s.inorder.iter().chain(s.ooo.iter()) {
                        if !g.freed && !g.held {
                            self.allowed_free.insert(g.chain);
                        }
                    }
                    self.graveyard.insert(sref as u16, s);
                    spec::status::OK
                }
            }
            OP_NB_POST => {
                let nb = self
                    .nb_pending
                    .remove(&tag)
                    .expect("NB_POST was queued by nb_post");
                let refn = get(e, spec::nb_desc::REF_NUM) as usize;
                let total = get(e, spec::nb_desc::TOTAL_BYTES) as usize;
                let pages = get(e, spec::nb_desc::HMD_PAGES) as usize;
                if !in_use {
                    spec::status::BAD_SOCK
                } else if refn >= self.num_nbs
                    || self.nbs.contains_key(&(refn as u16))
                    || pages < 1
                    || total == 0
                    || total > pages * PAGE
                {
                    spec::status::BAD_NB
                } else {
                    self.nbs.insert(refn as u16, nb);
                    self.osock[sref]
                        .as_mut()
                        .unwrap()
                        .nbs
                        .push_back(refn as u16);
                    return; // its completion is the NB_RETURN
                }
            }
            OP_ANON_POST => {
                let a = self
                    .anon_pending
                    .remove(&tag)
                    .expect("ANON_POST was queued by anon_post");
                let refn = get(e, spec::anon_desc::REF_NUM);
                let len = get(e, spec::anon_desc::LEN);
                if refn < self.num_anon as u64
                    && !self.anon_list.iter().any(|b| b.refn as u64 == refn)
                    && (spec::param::ANON_MIN_LEN..=spec::param::ANON_MAX_LEN).contains(&len)
                {
                    self.anon_list.push_back(a);
                    return; // its completion is the ANON_RX
                }
                spec::status::BAD_NB
            }
            OP_NOP => spec::status::OK,
            OP_BUF_RELEASE => {
                // heads in order; the first one not held stops the request
                let count = get(e, spec::buf_release::COUNT) as usize;
                if count == 0 || count > RELEASE_MAX {
                    self.count_cov(&["release_bad_count"]);
                    spec::status::BAD_BUF
                } else {
                    let h0 = spec::buf_release::HEADS.0;
                    let mut k = 0;
                    while k < count {
                        let h = u16::from_le_bytes([e[h0 + 2 * k], e[h0 + 2 * k + 1]]);
                        if !self.held.remove(&h) {
                            break;
                        }
                        // a FIN/RST segment emptied by its last record and still on its list
                        // keeps its chain until its return (or SOCK_DEL) frees it
                        let mk =
                            self.osock.iter_mut().flatten().find_map(|s| {
                                s.inorder.iter_mut().find(|g| g.chain == h && g.held)
                            });
                        if let Some(g) = mk {
                            g.held = false;
                            self.count_cov(&["release_fin_marker"]);
                        } else {
                            self.allowed_free.insert(h);
                        }
                        self.exp.released += 1;
                        k += 1;
                    }
                    self.count_cov(&[if k == count {
                        "release_ok"
                    } else {
                        "release_stopped"
                    }]);
                    let st = if k == count {
                        spec::status::OK
                    } else {
                        spec::status::BAD_BUF
                    };
                    self.cmd_expect
                        .push_back((tag, op, st as u8, sref as u16, k as u32));
                    return;
                }
            }
            _ => spec::status::BAD_OPCODE,
        };
        self.cmd_expect
            .push_back((tag, op, st as u8, sref as u16, 0));
    }

    /// A DMA write request of the delivery path.
    fn on_dma_write(&mut self, a: u64, l: usize) {
        if let Some(w) = self.anon_writes.pop_front() {
            assert_eq!((a, l), w, "anonymous delivery DMA write (address, length)");
            return;
        }
        let refn = *self
            .nbs
            .iter()
            .find(|(_, n)| n.pages.iter().any(|&pg| a >= pg && a < pg + PAGE as u64))
            .unwrap_or_else(|| panic!("DMA write {a:#x}+{l} outside every named buffer page"))
            .0;
        let nb = self.nbs.get_mut(&refn).unwrap();
        let s = self.osock[nb.slot as usize]
            .as_mut()
            .expect("delivery to a socket not in use");
        assert_eq!(s.nbs.front(), Some(&refn), "delivery goes into the head NB");
        let udp = s.udp();
        let seg = s.inorder.front_mut().expect("delivery with no segment");
        assert!(!seg.data.is_empty(), "delivery from an empty segment");
        if s.cfg.flags & HOLD != 0 {
            // p2p: one 8-byte record at page-list position 8 * RECS, the chunk bounded by the
            // buflet that holds DATA_OFF
            let bb = self.bb;
            let n = seg
                .data
                .len()
                .min(nb.total - nb.filled)
                .min(bb - seg.doff % bb);
            let pos = 8 * nb.recs;
            assert_eq!(
                (a, l),
                (nb.pages[pos / PAGE] + (pos % PAGE) as u64, 8),
                "hold record address and length (NB {refn}, recs {})",
                nb.recs
            );
            let mut b = seg.chain;
            for _ in 0..seg.doff / bb {
                b = self.link[b as usize];
            }
            let off = seg.doff % bb;
            assert!(
                self.ram[b as usize * bb + off..b as usize * bb + off + n] == seg.data[..n],
                "oracle: the chunk's bytes lie in buflet {b}"
            );
            let emptied = n == seg.data.len();
            let head = if emptied { seg.chain } else { NULL16 };
            let mut rec = [0u8; 8];
            for (k, v) in [b, off as u16, n as u16, head].into_iter().enumerate() {
                rec[2 * k..2 * k + 2].copy_from_slice(&v.to_le_bytes());
            }
            nb.records.push((a, rec));
            nb.recs += 1;
            if nb.filled == 0 {
                nb.stream_off = s.stream_off;
            }
            let bytes: Vec<u8> = seg.data.drain(..n).collect();
            seg.doff += n;
            s.delivered.extend_from_slice(&bytes);
            nb.filled += n;
            s.stream_off += n as u64;
            self.exp.delivered += n as u64;
            self.exp.hold_recs += 1;
            self.expose_exp.push_back(b);
            *self.cov.entry("hold_record").or_default() += 1;
            if n == bb - off && !seg.data.is_empty() {
                *self.cov.entry("hold_buflet_bound").or_default() += 1;
            }
            let flags = seg.flags;
            let finrst = flags & (FIN | RST) != 0;
            if emptied {
                assert!(
                    self.held.insert(seg.chain),
                    "chain {} held twice",
                    seg.chain
                );
                seg.held = true;
                *self.cov.entry("hold_head").or_default() += 1;
                if finrst {
                    *self.cov.entry("hold_fin_held").or_default() += 1;
                } else {
                    s.inorder.pop_front();
                }
            }
            let full_b = nb.filled == nb.total;
            let full_r = nb.recs == (nb.n_pages * RECS_PER_PAGE).min(0xFFFF);
            let full = full_b || full_r;
            if let Some(r) = chunk_return(nb, emptied, flags, full, s.cfg.flags) {
                s.nbs.pop_front();
                self.ret_exp.insert(refn, r);
                *self
                    .cov
                    .entry(if full_r && !full_b {
                        "hold_full_recs"
                    } else if full {
                        "hold_full_return"
                    } else {
                        "hold_psh_return"
                    })
                    .or_default() += 1;
            }
            return;
        }
        let in_page = nb.filled % PAGE;
        let n = seg.data.len().min(nb.total - nb.filled).min(PAGE - in_page);
        assert_eq!(
            (a, l),
            (nb.pages[nb.filled / PAGE] + in_page as u64, n),
            "chunk address and length (NB {refn}, filled {})",
            nb.filled
        );
        if nb.filled == 0 {
            nb.stream_off = s.stream_off;
        }
        let bytes: Vec<u8> = seg.data.drain(..n).collect();
        nb.content.extend_from_slice(&bytes);
        s.delivered.extend_from_slice(&bytes);
        nb.filled += n;
        s.stream_off += n as u64;
        self.exp.delivered += n as u64;
        if udp {
            // a datagram ends its buffer once written, or once the buffer is full
            let done = seg.data.is_empty();
            let full = nb.filled == nb.total;
            if nb.filled > n {
                *self.cov.entry("udp_multi_chunk").or_default() += 1;
            }
            if done || full {
                let g = s.inorder.pop_front().unwrap();
                self.allowed_free.insert(g.chain);
                s.nbs.pop_front();
                let r = RetExp {
                    flags: C_DATAGRAM | if done { 0 } else { C_TRUNC },
                    status: 0,
                    bytes: nb.filled,
                    stream_off: nb.stream_off,
                    hdr: nb.filled.min(8) as u8,
                };
                self.ret_exp.insert(refn, r);
                self.count_cov(&[if done { "udp_return" } else { "udp_trunc" }]);
            }
            return;
        }
        let emptied = seg.data.is_empty();
        let flags = seg.flags;
        let finrst = flags & (FIN | RST) != 0;
        if emptied && !finrst {
            let g = s.inorder.pop_front().unwrap();
            self.allowed_free.insert(g.chain);
        }
        let full = nb.filled == nb.total;
        if let Some(r) = chunk_return(nb, emptied, flags, full, s.cfg.flags) {
            s.nbs.pop_front();
            self.ret_exp.insert(refn, r);
            self.count_cov(&[if full { "full_return" } else { "psh_return" }]);
        }
    }

    /// A page-list read of a refused NB: the engine returns that NB (the head NB of its socket)
    /// with DMA_ERROR and goes on with the next one, possibly before the completion is seen.
    fn refused_read(&mut self, a: u64) {
        let (&refn, nb) = self
            .nbs
            .iter()
            .find(|(_, n)| n.refused && a >= n.hmd && a < n.hmd + 8 * n.n_pages as u64)
            .expect("refused read of a live NB");
        let s = self.osock[nb.slot as usize]
            .as_mut()
            .expect("page-list read for a socket not in use");
        assert_eq!(s.nbs.front(), Some(&refn), "page-list read of the head NB");
        s.nbs.pop_front();
        let so = if nb.filled == 0 {
            s.stream_off
        } else {
            nb.stream_off
        };
        let r = RetExp {
            flags: 0,
            status: spec::status::DMA_ERROR as u8,
            bytes: nb.filled,
            stream_off: so,
            hdr: 0,
        };
        self.ret_exp.insert(refn, r);
        self.count_cov(&["dma_error_return"]);
    }

    fn on_free(&mut self, h: u16, t: u16, c: u16) {
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
        if self.allowed_free.remove(&h) {
            return;
        }
        // a FIN/RST marker at the head of an in-order list is freed before its NB_RETURN
        for s in self.osock.iter_mut().flatten() {
            if s.nbs.is_empty() {
                continue;
            }
            if let Some(m) = s.inorder.front_mut() {
                if m.chain == h
                    && !m.freed
                    && !m.held
                    && m.data.is_empty()
                    && m.flags & (FIN | RST) != 0
                {
                    m.freed = true;
                    return;
                }
            }
        }
        panic!("chain {h} freed while the contract still holds it");
    }

    /// The NB_RETURN of NB `refn` was not predicted by a delivery, a delete, a refused read or
    /// a sweep: it must be the return of the head NB on a FIN/RST marker at the head of the
    /// in-order list. Records the expected completion.
    fn resolve_end_return(&mut self, refn: u16, flags: u32) {
        let nb = &self.nbs[&refn];
        let s = self.osock[nb.slot as usize]
            .as_mut()
            .unwrap_or_else(|| panic!("NB_RETURN {refn} of a socket not in use"));
        assert_eq!(s.nbs.front(), Some(&refn), "returned NB is the head NB");
        let m = s
            .inorder
            .front()
            .unwrap_or_else(|| panic!("NB_RETURN {refn} (flags {flags:#x}) without a reason"));
        assert!(
            m.data.is_empty() && m.flags & (FIN | RST) != 0,
            "NB_RETURN {refn} (flags {flags:#x}) without a FULL/PSH/FIN/RST/TIMEOUT reason"
        );
        s.nbs.pop_front();
        let so = if nb.filled == 0 {
            s.stream_off
        } else {
            nb.stream_off
        };
        let m = s.inorder.pop_front().unwrap();
        let fl =
            if m.flags & FIN != 0 { C_FIN } else { 0 } | if m.flags & RST != 0 { C_RST } else { 0 };
        s.end_flag = fl;
        if !m.freed && !m.held {
            self.allowed_free.insert(m.chain);
        }
        *self.cov.entry("end_return").or_default() += 1;
        self.ret_exp.insert(
            refn,
            RetExp {
                flags: fl,
                status: 0,
                bytes: nb.filled,
                stream_off: so,
                hdr: 0,
            },
        );
    }

    /// The timer sweep of rx-paths.md: every socket of the active list, head first.
    fn sweep(&mut self) {
        let mut n_out = 0;
        for slot in self.active.clone() {
            let s = self.osock[slot as usize]
                .as_mut()
                .expect("active list holds sockets in use");
            let Some(&r) = s.nbs.front() else {
                continue;
            };
            let nb = self.nbs.get_mut(&r).unwrap();
            if nb.timeout == 0 {
                continue;
            }
            assert!(nb.ticks_left > 0);
            nb.ticks_left -= 1;
            if nb.ticks_left > 0 {
                continue;
            }
            s.nbs.pop_front();
            let so = if nb.filled == 0 {
                s.stream_off
            } else {
                nb.stream_off
            };
            let mid_dgram = s.udp() && nb.filled > 0;
            self.ret_exp.insert(
                r,
                RetExp {
                    flags: C_TIMEOUT,
                    status: 0,
                    bytes: nb.filled,
                    stream_off: so,
                    hdr: 0,
                },
            );
            self.timeout_order.push_back(r);
            self.exp.timeouts += 1;
            n_out += 1;
            let empty = nb.filled == 0;
            self.count_cov(&[if empty { "timeout_empty" } else { "timeout" }]);
            if mid_dgram {
                self.count_cov(&["timeout_mid_datagram"]);
            }
        }
        if n_out > 1 {
            self.count_cov(&["timeout_several"]);
        }
        self.exp.ticks += 1;
    }

    /// An ev_tick pulse: the engine took a tick.
    fn on_ev_tick(&mut self) {
        self.got.ticks += 1;
        self.last_ev_tick = Some(self.m.cycles());
        if self.early > 0 {
            self.early -= 1;
            return;
        }
        // A FIN/RST return committed before the tick may still wait on m_cpl: it happened first.
        if self.m.get(self.p.cpl_valid) != 0 {
            let mut c = [0u8; 32];
            self.m.get_bytes(self.p.cpl_data, &mut c);
            let refn = get(&c, spec::cpl::REF_NUM) as u16;
            let flags = get(&c, spec::cpl::FLAGS) as u32;
            if get(&c, spec::cpl::KIND) == spec::cpl_kind::NB_RETURN
                && flags & (C_FIN | C_RST) != 0
                && flags & C_TIMEOUT == 0
                && self.nbs.contains_key(&refn)
                && !self.ret_exp.contains_key(&refn)
            {
                self.resolve_end_return(refn, flags);
                self.count_cov(&["end_return_before_tick"]);
            }
        }
        self.sweep();
    }

    fn on_cpl(&mut self, c: &[u8; 32]) {
        self.cpl_log.push(*c);
        let g = |fl: (usize, usize)| get(c, fl);
        assert_eq!(g(spec::cpl::PHASE), 0);
        let kind = g(spec::cpl::KIND);
        let status = g(spec::cpl::STATUS) as u8;
        let sref = g(spec::cpl::SOCK_REF) as u16;
        let tag = g(spec::cpl::TAG) as u32;
        let op = g(spec::cpl::OPCODE) as u8;
        let hdr = g(spec::cpl::HDR_BYTES) as u8;
        if kind == spec::cpl_kind::CMD_DONE {
            let exp = self.cmd_expect.pop_front().expect("unexpected CMD_DONE");
            let bytes = g(spec::cpl::BYTES) as u32;
            assert_eq!(
                (tag, op, status, sref, bytes),
                exp,
                "CMD_DONE (tag, opcode, status, sock, bytes)"
            );
            assert_eq!(hdr, 0, "CMD_DONE HDR_BYTES");
            if op == OP_SOCK_DEL {
                assert!(
                    !self.del_order.iter().any(|&(t, _)| t == tag),
                    "SOCK_DEL completed before its NB returns: {:?}",
                    self.del_order
                );
            }
            return;
        }
        let refn32 = g(spec::cpl::REF_NUM) as u32;
        let bytes = g(spec::cpl::BYTES) as usize;
        let flags = g(spec::cpl::FLAGS) as u32;
        let soff = g(spec::cpl::STREAM_OFF);
        if kind == spec::cpl_kind::ANON_RX {
            let x = self.anon_cpl.pop_front().expect("unexpected ANON_RX");
            assert_eq!(
                (status, sref, tag, refn32, bytes, flags, op, hdr, soff),
                (
                    0,
                    0,
                    x.buf.tag,
                    x.buf.refn,
                    x.content.len(),
                    if x.trunc { C_TRUNC } else { 0 },
                    OP_ANON_POST,
                    0,
                    0
                ),
                "ANON_RX (status, sock, tag, ref, bytes, flags, opcode, hdr_bytes, stream_off)"
            );
            let n = x.content.len();
            let got = self.host_slice(x.buf.addr, n).to_vec();
            assert!(got == x.content, "anonymous buffer {} content", x.buf.refn);
            return;
        }
        assert_eq!(kind, spec::cpl_kind::NB_RETURN, "completion kind");
        self.got.returned += 1;
        let refn = refn32 as u16;
        assert!(
            self.nbs.contains_key(&refn),
            "NB_RETURN of unknown NB {refn}"
        );
        if !self.ret_exp.contains_key(&refn) {
            if flags & C_TIMEOUT != 0 && status == 0 {
                // the sweep runs before its ev_tick pulse was seen
                self.sweep();
                self.early += 1;
            } else {
                assert_ne!(
                    status,
                    spec::status::DMA_ERROR as u8,
                    "DMA_ERROR return without a refused page-list read"
                );
                self.resolve_end_return(refn, flags);
            }
        }
        let nb = self.nbs.remove(&refn).unwrap();
        assert_eq!(
            (tag, op, sref),
            (nb.tag, OP_NB_POST, nb.slot),
            "NB_RETURN identity"
        );
        let exp = self
            .ret_exp
            .remove(&refn)
            .unwrap_or_else(|| panic!("NB_RETURN {refn} (flags {flags:#x}) not expected"));
        if exp.flags == C_DELETE {
            assert_eq!(
                self.del_order.pop_front().map(|(_, r)| r),
                Some(refn),
                "SOCK_DEL returns NBs head first"
            );
        }
        if exp.flags == C_TIMEOUT {
            assert_eq!(
                self.timeout_order.pop_front(),
                Some(refn),
                "timeout returns in active-list order"
            );
        }
        assert_eq!(
            (status, flags, bytes, soff, hdr),
            (exp.status, exp.flags, exp.bytes, exp.stream_off, exp.hdr),
            "NB_RETURN {refn} (status, flags, bytes, stream_off, hdr_bytes)"
        );
        // payload must already be in host memory
        for (i, chunk) in nb.content.chunks(PAGE).enumerate() {
            let a = nb.pages[i];
            let got = self.host_slice(a, chunk.len()).to_vec();
            assert!(got == chunk, "NB {refn} page {i} content");
        }
        // hold records too: record r at page-list position 8r
        for (r, (a, rec)) in nb.records.iter().enumerate() {
            let got = self.host_slice(*a, 8).to_vec();
            assert_eq!(
                got,
                rec.to_vec(),
                "NB {refn} hold record {r} (BUFLET, OFF, LEN, HEAD)"
            );
        }
    }

    fn on_tx(&mut self, t: [u8; 48]) {
        self.tx_log.push(t);
        self.got.tx += 1;
        let (exp, edge) = self.tx_expect.pop_front().expect("unexpected tx command");
        if let Some(e) = edge {
            self.check_edge(&t, e);
        }
        assert_eq!(
            t.to_vec(),
            exp.to_vec(),
            "tx_cmd #{} (seq {:#x} ack {:#x} win {} flags {:#x})",
            self.got.tx,
            get(&exp, spec::tx_cmd::SEQ),
            get(&exp, spec::tx_cmd::ACK),
            get(&exp, spec::tx_cmd::WINDOW),
            get(&exp, spec::tx_cmd::FLAGS)
        );
    }

    /// The advertised right edge (ACK + WINDOW << shift) never moves left, checked on the
    /// observed tx commands alone: only a closed pool (WINDOW 0) or the rounding of the scaled
    /// field (less than 2^shift bytes, RFC 7323 2.4) may pull it left.
    fn check_edge(&mut self, t: &[u8; 48], e: TxEdge) {
        let ack = get(t, spec::tx_cmd::ACK) as u32;
        let win = get(t, spec::tx_cmd::WINDOW) as u32;
        let edge = ack.wrapping_add(win << e.shift);
        if e.syn_ack {
            // the SYN-ACK carries min(win, 65535): a retransmitted one may carry less than was
            // promised, and the promise stands
            let prev = self.obs_edge.get(&e.slot).copied();
            if e.fresh || prev.is_none_or(|p| edge.wrapping_sub(p) as i32 > 0) {
                self.obs_edge.insert(e.slot, edge);
            }
            return;
        }
        let Some(&max) = self.obs_edge.get(&e.slot) else {
            return;
        };
        let d = edge.wrapping_sub(max) as i32 as i64;
        if e.pool_closed {
            assert_eq!(win, 0, "a closed pool advertises 0");
            self.count_cov(&["edge_closed"]);
        } else {
            assert!(
                d > -(1i64 << e.shift),
                "advertised right edge moved left by {} (ACK {ack:#x} WINDOW {win} shift {})",
                -d,
                e.shift
            );
            if d < 0 {
                self.count_cov(&["edge_rounded_left"]);
            }
        }
        if d > 0 {
            self.obs_edge.insert(e.slot, edge);
        }
    }

    // ---------------------------------------------------------------- one clock cycle
    fn cycle(&mut self) {
        let p = self.p;
        // requests
        if self.cur_req.is_none() && !self.req_q.is_empty() {
            let pv = self.p_valid;
            if self.chance(pv) {
                self.cur_req = self.req_q.pop_front();
            }
        }
        match &self.cur_req {
            Some(e) => {
                self.m.set(p.req_valid, 1);
                self.m.set_bytes(p.req_data, e);
            }
            None => self.m.set(p.req_valid, 0),
        }
        // metadata: a frame gets its buflet chain when it is presented
        if self.cur_meta.is_none() && !self.frames.is_empty() {
            let pv = self.p_valid;
            if self.chance(pv) {
                self.present_frame();
            }
        }
        match &self.cur_meta {
            Some(fr) => {
                let m = &mut self.m;
                m.set(p.meta_valid, 1);
                m.set(p.meta_reason, fr.reason as u64);
                m.set(p.meta_len, fr.len() as u64);
                m.set(p.meta_udp, fr.udp as u64);
                m.set(p.meta_arp_req, fr.arp_sha.is_some() as u64);
                let mut sha = [0u8; 8];
                sha[..6].copy_from_slice(&fr.arp_sha.unwrap_or([0; 6]));
                m.set(p.meta_arp_sha, u64::from_le_bytes(sha));
                m.set(p.meta_vlan, fr.vlan as u64);
                m.set(p.meta_src_ip, fr.src_ip as u64);
                m.set(p.meta_dst_ip, fr.dst_ip as u64);
                m.set(p.meta_src_port, fr.sport as u64);
                m.set(p.meta_dst_port, fr.dport as u64);
                m.set(p.meta_seq, fr.seq as u64);
                m.set(p.meta_ack, fr.ack as u64);
                m.set(p.meta_flags, fr.flags as u64);
                m.set(p.meta_ws_valid, fr.ws.is_some() as u64);
                m.set(p.meta_ws, fr.ws.unwrap_or(0) as u64);
                m.set(p.meta_pay_off, fr.pay_off as u64);
                m.set(p.meta_pay_len, fr.payload.len() as u64);
                m.set(p.meta_head, self.cur_chain.0 as u64);
                m.set(p.meta_tail, self.cur_chain.1 as u64);
                m.set(p.meta_count, self.cur_chain.2 as u64);
            }
            None => self.m.set(p.meta_valid, 0),
        }
        let free_now = self.free.len();
        self.m.set(p.pool_free, free_now as u64);
        let mut mac = [0u8; 8];
        mac[..6].copy_from_slice(&self.nic_mac);
        self.m.set(p.nic_mac, u64::from_le_bytes(mac));
        self.m.set(p.nic_ip, self.nic_ip as u64);
        // timer tick requests
        let mut tick = false;
        if self.tick_now > 0 {
            self.tick_now -= 1;
            tick = true;
        } else if self.p_tick > 0 && self.rng.gen_range(0..100_000) < self.p_tick {
            tick = true;
        }
        if tick {
            self.tick_reqs += 1;
            self.last_tick_req = Some(self.m.cycles());
        }
        self.m.set(p.tick_req, tick as u64);
        // output readies
        let probs = self.p_out.unwrap_or([
            self.p_ready,
            self.p_ready,
            self.p_ready,
            self.p_ready,
            self.p_ready,
            self.p_tx,
        ]);
        let rr: [bool; 6] =
            std::array::from_fn(|i| self.rng.gen_range(0..100) < probs[i] && !self.hold[i]);
        let tx_r = rr[O_TX];
        self.m.set(p.free_ready, rr[O_FREE] as u64);
        self.m.set(p.rd_req_ready, rr[O_RD_REQ] as u64);
        self.m.set(p.wr_req_ready, rr[O_WR_REQ] as u64);
        self.m.set(p.wr_tready, rr[O_WR_DATA] as u64);
        self.m.set(p.cpl_ready, rr[O_CPL] as u64);
        self.m.set(p.tx_ready, tx_r as u64);
        // DMA read response
        let pv = self.p_valid;
        let rd_v = !self.rd_resp.is_empty() && self.chance(pv);
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
        // registered event pulses report what happened before this cycle's handshakes
        if g(&self.m, p.ev_tick) {
            self.on_ev_tick();
        }
        self.got.timeouts += self.m.get(p.ev_timeout);
        self.got.anon_rx += self.m.get(p.ev_anon_rx);
        self.got.arp += self.m.get(p.ev_arp_reply);
        if self.cur_req.is_some() && g(&self.m, p.req_ready) {
            let e = self.cur_req.take().unwrap();
            self.oracle_req(&e);
        }
        if self.cur_meta.is_some() && g(&self.m, p.meta_ready) {
            let fr = self.cur_meta.take().unwrap();
            self.meta_picks += 1;
            let head = if self.cur_chain.2 == 0 {
                NULL16
            } else {
                self.cur_chain.0
            };
            self.oracle_frame(&fr, head, free_now);
        }
        if g(&self.m, p.tx_valid) && tx_r {
            let mut t = [0u8; 48];
            self.m.get_bytes(p.tx_data, &mut t);
            self.on_tx(t);
        }
        if g(&self.m, p.free_valid) && rr[O_FREE] {
            let (h, t, c) = (
                self.m.get(p.free_head) as u16,
                self.m.get(p.free_tail) as u16,
                self.m.get(p.free_count) as u16,
            );
            self.on_free(h, t, c);
        }
        if g(&self.m, p.rd_req_valid) && rr[O_RD_REQ] {
            let a = self.m.get(p.rd_req_addr);
            assert_eq!(self.m.get(p.rd_req_len), 8, "page-list reads are 8 bytes");
            let ok = self.nbs.values().any(|n| {
                a >= n.hmd && a < n.hmd + 8 * n.n_pages as u64 && (a - n.hmd).is_multiple_of(8)
            });
            assert!(ok, "page-list read {a:#x} outside every live NB's list");
            if (REFUSED_BASE..REFUSED_BASE + (1 << 30)).contains(&a) {
                self.rd_resp.push_back((0, true));
                self.refused_read(a);
            } else {
                let mut v = [0u8; 8];
                v.copy_from_slice(self.host_slice(a, 8));
                self.rd_resp.push_back((u64::from_le_bytes(v), false));
            }
        }
        if rd_v && g(&self.m, p.rd_tready) {
            self.rd_resp.pop_front();
        }
        if g(&self.m, p.wr_req_valid) && rr[O_WR_REQ] {
            let a = self.m.get(p.wr_req_addr);
            let l = self.m.get(p.wr_req_len) as usize;
            assert!((1..=PAGE).contains(&l), "DMA write length {l}");
            self.on_dma_write(a, l);
            self.wr_reqs.push_back((a, l));
        }
        if g(&self.m, p.wr_tvalid) && rr[O_WR_DATA] {
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
        if g(&self.m, p.cpl_valid) && rr[O_CPL] {
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
            self.got.drop[self.m.get(p.ev_drop_reason) as usize] += 1;
        }
        self.got.accepted += self.m.get(p.ev_accepted);
        self.got.ooo_held += self.m.get(p.ev_ooo_held);
        self.got.hold_recs += self.m.get(p.ev_hold_rec);
        self.got.released += self.m.get(p.ev_released);
        if g(&self.m, p.expose_en) {
            let b = self.m.get(p.expose_idx) as u16;
            let e = self
                .expose_exp
                .pop_front()
                .unwrap_or_else(|| panic!("expose pulse (buflet {b}) without a hold record"));
            assert_eq!(b, e, "expose_idx = the record's BUFLET");
            self.exposed.push(b);
        }
        if g(&self.m, p.ev_delivered_valid) {
            self.got.delivered += self.m.get(p.ev_delivered_bytes);
        }
        self.ev_returned += self.m.get(p.ev_nb_returned);
        self.m.tick(p.clk);
    }

    /// Gives the front frame a buflet chain (if the pool has room) and presents it.
    fn present_frame(&mut self) {
        let fr = self.frames.front().unwrap();
        let len = fr.len();
        let need = if fr.no_chain {
            0
        } else if let Some(k) = fr.short_chain {
            assert!(k < len.div_ceil(self.bb));
            k
        } else {
            len.div_ceil(self.bb).max(1)
        };
        if need > self.free.len() {
            // The pool stays short: the parser would have run out of buflets. The frame is
            // stored with no chain at all and reported NO_BUFLET (a frame that already failed
            // a check keeps its reason; decision 1), so the stimulus never deadlocks.
            let now = self.m.cycles();
            let since = *self.pool_wait.get_or_insert(now);
            if now - since > 3000 {
                let f = self.frames.front_mut().unwrap();
                f.no_chain = true;
                f.short_chain = None;
                if f.reason == 0 {
                    f.reason = D_NO_BUFLET;
                }
                *self.cov.entry("harness_no_buflet").or_default() += 1;
                self.pool_wait = None;
            }
            return;
        }
        self.pool_wait = None;
        let mut fr = self.frames.pop_front().unwrap();
        let mut bytes: Vec<u8> = (0..fr.pay_off).map(|_| self.rng.gen()).collect();
        bytes.extend_from_slice(&fr.payload);
        fr.bytes = bytes.clone();
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
            let old = self.chains.insert(
                h,
                Chain {
                    tail: t,
                    count: need as u16,
                },
            );
            assert!(old.is_none());
            (h, t, need as u16)
        };
        self.cur_meta = Some(fr);
    }

    fn reset(&mut self) {
        self.m.set(self.p.rst, 1);
        for _ in 0..4 {
            self.m.tick(self.p.clk);
        }
        self.m.set(self.p.rst, 0);
    }

    fn quiet(&self) -> bool {
        self.frames.is_empty()
            && self.cur_meta.is_none()
            && self.req_q.is_empty()
            && self.cur_req.is_none()
            && self.cmd_expect.is_empty()
            && self.tx_expect.is_empty()
            && self.ret_exp.is_empty()
            && self.allowed_free.is_empty()
            && self.wr_reqs.is_empty()
            && self.wr_cur.is_none()
            && self.anon_writes.is_empty()
            && self.anon_cpl.is_empty()
            && self.expose_exp.is_empty()
            && self.tick_now == 0
            && !self.tick_pending()
            && self.deliverable().is_none()
    }

    fn why_not_quiet(&self) -> String {
        format!(
            "frames {} meta {} reqs {} cur_req {} cmd {:?} tx {} ret {:?} free {:?} wr {} {:?} \
             anon_wr {:?} anon_cpl {} tick_now {} tick_pending {} deliverable {:?}",
            self.frames.len(),
            self.cur_meta.is_some(),
            self.req_q.len(),
            self.cur_req.is_some(),
            self.cmd_expect,
            self.tx_expect.len(),
            self.ret_exp,
            self.allowed_free,
            self.wr_reqs.len(),
            self.wr_cur,
            self.anon_writes,
            self.anon_cpl.len(),
            self.tick_now,
            self.tick_pending(),
            self.deliverable()
        )
    }

    /// A tick was requested after the last tick the engine took.
    fn tick_pending(&self) -> bool {
        self.last_tick_req
            .is_some_and(|r| self.last_ev_tick.is_none_or(|t| t <= r))
    }

    /// A socket with both a segment and a named buffer (delivery must go on).
    fn deliverable(&self) -> Option<usize> {
        self.osock.iter().position(|s| {
            s.as_ref()
                .is_some_and(|s| !s.inorder.is_empty() && !s.nbs.is_empty())
        })
    }

    /// Runs until everything queued was processed and every expected output was seen, plus a
    /// margin for anything unexpected to show up.
    fn settle(&mut self, max: u64) {
        let start = self.m.cycles();
        loop {
            while !self.quiet() {
                assert!(
                    self.m.cycles() - start < max,
                    "timeout waiting for quiet: {}",
                    self.why_not_quiet()
                );
                self.cycle();
            }
            for _ in 0..200 {
                self.cycle();
            }
            if self.quiet() {
                return;
            }
        }
    }

    /// End-of-test checks: counters agree and nothing is left over.
    fn final_checks(&mut self, all_free: bool) {
        assert!(self.quiet(), "not quiet at the end");
        assert!(self.del_order.is_empty());
        assert!(self.nb_pending.is_empty(), "NB posts never picked");
        assert!(self.anon_pending.is_empty(), "ANON posts never picked");
        assert_eq!(self.early, 0, "TIMEOUT returns without a tick");
        assert!(self.timeout_order.is_empty());
        assert!(
            self.got.ticks <= self.tick_reqs,
            "{} ticks taken for {} requests",
            self.got.ticks,
            self.tick_reqs
        );
        let mut exp = self.exp.clone();
        exp.returned = self.got.returned;
        assert_eq!(self.got, exp, "counter events (got vs expected)");
        assert_eq!(
            self.ev_returned, self.got.returned,
            "ev_nb_returned pulses vs NB_RETURN completions"
        );
        if all_free {
            assert!(
                self.nbs.is_empty(),
                "NBs never returned: {:?}",
                self.nbs.keys()
            );
            assert!(self.held.is_empty(), "held chains never released");
            assert!(
                self.chains.is_empty(),
                "chains never freed: {:?}",
                self.chains.keys()
            );
            assert_eq!(
                self.free.len(),
                self.nbuf,
                "all buflets back on the free list"
            );
        }
    }

    fn push(&mut self, f: Frame) {
        self.frames.push_back(f);
    }
}

// ==================================================================== random peers

#[derive(Clone, Copy, PartialEq, Debug)]
enum Ph {
    Idle,
    Adding,
    Active,
    Deleting,
    Done,
}

struct Peer {
    slot: u16,
    cfg: SockCfg,
    isn: u32,
    ws: Option<u8>,
    stream: Vec<u8>,
    end_rst: bool,
    poison: bool,
    del_at: Option<usize>,
    lives: u32,
    ph: Ph,
    junk: u32,
    hs_junk: u32,
    starve_until: u64,
    refused_first: bool,
    life: u32,
}

impl Peer {
    fn new_life(&mut self, rng: &mut ChaCha8Rng, bb: usize) {
        let slot = self.slot;
        let mut c = SockCfg::new(slot, rng);
        c.vlan = if slot == 5 { 5 } else { 0 };
        c.remote_port = c.remote_port.wrapping_add(self.life as u16 * 1000);
        c.rcv_buf = match rng.gen_range(0..5) {
            0 => rng.gen_range(1500..4000),
            1 => 1 << 30,
            _ => rng.gen_range(4000..20000),
        };
        c.wscale = rng.gen_range(0..=14);
        if rng.gen_bool(0.5) {
            c.wscale = rng.gen_range(0..4);
        }
        c.flags = if rng.gen_bool(0.5) { PSH_RETURN } else { 0 };
        if rng.gen_bool(0.35) {
            c.flags |= HOLD; // p2p: records instead of payload, held chains
        }
        c.mss = rng.gen_range(500..9000);
        self.cfg = c;
        self.isn = if slot == 2 { 0xFFFF_F000 } else { rng.gen() };
        self.ws = if rng.gen_bool(0.6) {
            Some(rng.gen_range(0..=14))
        } else {
            None
        };
        let len = rng.gen_range(2000..12000);
        self.stream = (0..len).map(|_| rng.gen()).collect();
        self.end_rst = rng.gen_bool(0.25);
        self.poison = rng.gen_bool(0.6);
        self.del_at = if rng.gen_bool(0.2) {
            Some(rng.gen_range(0..len))
        } else {
            None
        };
        self.junk = rng.gen_range(0..4);
        self.hs_junk = rng.gen_range(0..5);
        let _ = bb;
    }
}

fn seglen(rng: &mut ChaCha8Rng, bb: usize) -> usize {
    match rng.gen_range(0..10) {
        0..=6 => rng.gen_range(bb / 2..1400),
        7 | 8 => rng.gen_range(1..bb / 2),
        _ => rng.gen_range(1..40),
    }
}

/// The next frame of peer `idx` from the oracle's current view of its socket.
fn gen_frame(tb: &Tb, p: &mut Peer, idx: usize, rng: &mut ChaCha8Rng) -> Option<Frame> {
    let o = tb.osock[p.slot as usize].as_ref()?;
    let c = p.cfg;
    let isn1 = p.isn.wrapping_add(1);
    let l = p.stream.len();
    let ackn = c.iss.wrapping_add(1);
    let rnd = |rng: &mut ChaCha8Rng, n: usize| -> Vec<u8> { (0..n).map(|_| rng.gen()).collect() };
    let mut f = match o.state {
        ST_LISTEN => {
            if p.hs_junk > 0 && rng.gen_bool(0.4) {
                p.hs_junk -= 1;
                let (fl, seq) = match rng.gen_range(0..4) {
                    0 => (RST, rng.gen()),
                    1 => (ACK, p.isn),
                    2 => (SYN | ACK, p.isn),
                    _ => (ACK | PSH, isn1),
                };
                let n = if rng.gen_bool(0.5) {
                    rng.gen_range(1..100)
                } else {
                    0
                };
                c.frame(seq, ackn, fl, rnd(rng, n))
            } else {
                let n = if rng.gen_bool(0.2) {
                    rng.gen_range(1..50)
                } else {
                    0
                };
                let mut f = c.frame(p.isn, 0, SYN, rnd(rng, n));
                f.ws = p.ws;
                f
            }
        }
        ST_SYN_RCVD => {
            if p.hs_junk > 0 && rng.gen_bool(0.5) {
                p.hs_junk -= 1;
                match rng.gen_range(0..6) {
                    0 => {
                        let mut f = c.frame(p.isn, 0, SYN, Vec::new());
                        f.ws = p.ws;
                        f
                    }
                    1 => c.frame(p.isn.wrapping_add(77), 0, SYN, Vec::new()),
                    2 => c.frame(isn1.wrapping_add(5), 0, RST, Vec::new()),
                    3 => c.frame(isn1, ackn.wrapping_add(1), ACK, Vec::new()),
                    4 => c.frame(isn1, ackn, PSH, rnd(rng, 10)),
                    _ => c.frame(isn1, 0, RST, Vec::new()),
                }
            } else {
                let n = if rng.gen_bool(0.4) {
                    rng.gen_range(1..=300.min(l))
                } else {
                    0
                };
                c.frame(isn1, ackn, ACK, p.stream[..n].to_vec())
            }
        }
        ST_ESTAB => {
            // a closed window: the peer mostly waits (and probes now and then)
            let wnd = o.wnd(tb.pool_room(tb.free.len()));
            if wnd == 0 && rng.gen_bool(0.98) {
                return None;
            }
            let base = o.rcv_nxt.wrapping_sub(isn1) as usize;
            assert!(base <= l, "rcv_nxt beyond the stream");
            if base == l {
                if p.end_rst {
                    c.frame(isn1.wrapping_add(l as u32), ackn, RST | ACK, Vec::new())
                } else {
                    c.frame(isn1.wrapping_add(l as u32), ackn, FIN | ACK, Vec::new())
                }
            } else {
                let bb = tb.bb;
                let free = tb.free.len();
                let r = rng.gen_range(0..100);
                let special: Option<Frame> = match r {
                    80..=83 => {
                        let seq = if rng.gen_bool(0.7) {
                            (isn1.wrapping_add(base as u32)).wrapping_add(rng.gen_range(0..4))
                        } else {
                            rng.gen()
                        };
                        Some(c.frame(seq, ackn, ACK, Vec::new()))
                    }
                    84 | 85 => {
                        Some(c.frame(isn1.wrapping_add(base as u32), ackn, SYN | ACK, Vec::new()))
                    }
                    86 | 87 => {
                        let seq = isn1.wrapping_add((base + rng.gen_range(1..500)) as u32);
                        Some(c.frame(seq, ackn, RST | ACK, Vec::new()))
                    }
                    88 | 89 => {
                        let seq =
                            isn1.wrapping_add((base + rng.gen_range(1 << 20..1 << 30)) as u32);
                        let n = rng.gen_range(1..100);
                        Some(c.frame(seq, ackn, ACK, rnd(rng, n)))
                    }
                    90..=92 if !p.end_rst => {
                        Some(c.frame(isn1.wrapping_add(l as u32), ackn, FIN | ACK, Vec::new()))
                    }
                    _ => None,
                };
                if let Some(f) = special {
                    f
                } else {
                    let (start, len) = match r {
                        40..=54 if free > tb.nbuf / 2 && o.ooo.len() < 8 && l - base > 1 => {
                            let start = base + rng.gen_range(1..(l - base).min(4000));
                            (start, rng.gen_range(bb / 2..1200))
                        }
                        55..=64 if base > 0 => {
                            let back = rng.gen_range(1..=base.min(400));
                            (base - back, back + seglen(rng, bb))
                        }
                        65..=69 if base > 0 => {
                            let back = rng.gen_range(1..=base.min(400));
                            (base - back, rng.gen_range(1..=back))
                        }
                        93..=97 if wnd > 0 => {
                            // up to (or just past) the window promised
                            (
                                base,
                                wnd as usize + rng.gen_range(0..3) * rng.gen_range(0..40),
                            )
                        }
                        70..=79 if !o.ooo.is_empty() => {
                            let h = &o.ooo[rng.gen_range(0..o.ooo.len())];
                            let hs = h.seq.wrapping_sub(isn1) as usize;
                            let hl = h.data.len();
                            let s =
                                (hs + rng.gen_range(0..=hl)).saturating_sub(rng.gen_range(0..200));
                            (s, rng.gen_range(1..hl + 300))
                        }
                        _ => (base, seglen(rng, bb)),
                    };
                    let start = if start >= l { base } else { start };
                    let len = len.clamp(1, l - start);
                    let mut fl = ACK;
                    if rng.gen_bool(0.3) {
                        fl |= PSH;
                    }
                    if rng.gen_bool(0.03) {
                        fl |= URG;
                    }
                    if start + len == l && !p.end_rst && rng.gen_bool(0.5) {
                        fl |= FIN;
                    }
                    let mut f = c.frame(
                        isn1.wrapping_add(start as u32),
                        ackn,
                        fl,
                        p.stream[start..start + len].to_vec(),
                    );
                    f.pay_off = if rng.gen_range(0..10) == 0 {
                        rng.gen_range(200..600) // beyond the first buflet: the mover walks the chain
                    } else {
                        rng.gen_range(40..140)
                    };
                    f
                }
            }
        }
        ST_CLOSE_WAIT | ST_CLOSED => {
            if p.junk == 0 {
                return None;
            }
            p.junk -= 1;
            let rcv = o.rcv_nxt;
            match rng.gen_range(0..4) {
                0 => {
                    let n = rng.gen_range(1..200);
                    c.frame(rcv, ackn, ACK, rnd(rng, n))
                }
                1 => c.frame(rcv, ackn, ACK, Vec::new()),
                2 => c.frame(rcv.wrapping_sub(1), ackn, FIN | ACK, Vec::new()),
                _ => c.frame(rng.gen(), ackn, ACK, rnd(rng, 20)),
            }
        }
        _ => return None,
    };
    f.peer = Some(idx);
    // poison every byte the contract must discard (even with an unbounded window)
    if p.poison && !f.payload.is_empty() {
        let mut oc = o.clone();
        let d = tcp(&mut oc, &f, 0, 0, true);
        let (ks, kl) = d.kept.unwrap_or((0, 0));
        for (k, b) in f.payload.iter_mut().enumerate() {
            if k < ks || k >= ks + kl {
                *b ^= 0x5A;
            }
        }
    }
    Some(f)
}

/// A frame no peer's socket takes: parser drops, tuple mismatches, the wrong protocol for a
/// socket, non-IPv4 frames and ARP requests (for the NIC or not), some stored only in part.
fn noise_frame(cfgs: &[SockCfg], nic_ip: u32, bb: usize, rng: &mut ChaCha8Rng) -> Frame {
    let c = cfgs[rng.gen_range(0..cfgs.len())];
    let mut f = c.frame(rng.gen(), rng.gen(), ACK, vec![7; rng.gen_range(0..60)]);
    match rng.gen_range(0..12) {
        0 => f.dport ^= 0x100,
        1 => f.src_ip ^= 0x10,
        2 => f.vlan = if c.vlan == 0 { 9 } else { 0 },
        3 => {
            f.reason = [1u8, 2, 3, 4, 5, 6, 8, 10][rng.gen_range(0..8)];
            f.no_chain = f.reason == 8 && rng.gen_bool(0.5);
        }
        4 => {
            // the other protocol on the socket's tuple: no match
            let n = rng.gen_range(0..300);
            let pay: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            f = if c.proto == PROTO_UDP {
                c.frame(rng.gen(), 0, ACK, pay)
            } else {
                c.datagram(pay)
            };
        }
        5 | 6 => {
            let len = match rng.gen_range(0..10) {
                0 => rng.gen_range(PAGE..MAX_FRAME),
                1..=3 => rng.gen_range(14..80),
                _ => rng.gen_range(60..1600),
            };
            let reason = if rng.gen_bool(0.5) {
                D_NOT_IPV4
            } else {
                D_NO_SOCKET
            };
            f = raw_frame(reason, len, rng);
            let need = len.div_ceil(bb);
            if rng.gen_range(0..5) == 0 {
                // stored in part (the pool ran dry): never passed up
                if need > 1 && rng.gen_bool(0.7) {
                    f.short_chain = Some(rng.gen_range(1..need));
                } else {
                    f.no_chain = true;
                }
            }
        }
        _ => {
            let tpa = if rng.gen_range(0..3) > 0 {
                nic_ip
            } else {
                rng.gen()
            };
            let vlan = if rng.gen_bool(0.3) {
                rng.gen_range(1..4095)
            } else {
                0
            };
            f = arp_frame(rng.gen(), rng.gen(), tpa, vlan, rng);
            f.no_chain = rng.gen_range(0..6) == 0;
        }
    }
    f
}

/// A random UDP peer: a UDP socket with junk TCP fields, datagrams of every size, small and
/// large NBs with timeouts, deleted with or without datagrams waiting.
struct UdpPeer {
    slot: u16,
    cfg: SockCfg,
    ph: Ph,
    lives: u32,
    left: u32,
}

fn udp_peer_step(tb: &mut Tb, u: &mut UdpPeer, idx: usize, rng: &mut ChaCha8Rng) {
    let slot = u.slot;
    match u.ph {
        Ph::Idle => {
            let mut c = SockCfg::new(slot, rng);
            c.proto = PROTO_UDP;
            c.rcv_buf = rng.gen(); // not validated for UDP
            c.wscale = rng.gen();
            c.mss = rng.gen();
            c.vlan = if rng.gen_bool(0.3) { 7 } else { 0 };
            c.remote_port = rng.gen();
            u.cfg = c;
            u.left = rng.gen_range(5..40);
            tb.sock_add(&c);
            u.ph = Ph::Adding;
        }
        Ph::Adding => {
            if tb.osock[slot as usize].is_some() {
                u.ph = Ph::Active;
            }
        }
        Ph::Active => {
            let o = tb.osock[slot as usize].as_ref().expect("UDP socket");
            let waiting = o.inorder.len();
            if u.left > 0
                && waiting < 4
                && tb.frames.len() < 3
                && !pending(tb, idx)
                && rng.gen_range(0..30) == 0
            {
                let n = match rng.gen_range(0..20) {
                    0 => rng.gen_range(3000..MAX_FRAME - 100),
                    1..=4 => rng.gen_range(0..20),
                    _ => rng.gen_range(20..1500),
                };
                let mut f = u.cfg.datagram((0..n).map(|_| rng.gen()).collect());
                f.pay_off += 4 * rng.gen_range(0..11); // IPv4 options
                f.peer = Some(idx);
                tb.push(f);
                u.left -= 1;
            }
            if tb.nbs_out(slot) < 2 && tb.req_q.len() < 3 && rng.gen_range(0..60) == 0 {
                if let Some(r) = tb.free_ref() {
                    let total = match rng.gen_range(0..10) {
                        0 => rng.gen_range(1..9),
                        1..=3 => rng.gen_range(9..300),
                        _ => rng.gen_range(300..3 * PAGE),
                    };
                    let pages = total.div_ceil(PAGE) as u32 + rng.gen_range(0..2);
                    let timeout = if rng.gen_bool(0.5) {
                        0
                    } else {
                        rng.gen_range(1..5)
                    };
                    tb.nb_post_t(slot, r as u32, total, pages, false, timeout);
                }
            }
            if u.left == 0 && !pending(tb, idx) && (waiting == 0 || rng.gen_range(0..3000) == 0) {
                tb.sock_del(slot);
                u.ph = Ph::Deleting;
            }
        }
        Ph::Deleting => {
            if tb.osock[slot as usize].is_none() && tb.graveyard.remove(&slot).is_some() {
                u.lives -= 1;
                u.ph = if u.lives > 0 { Ph::Idle } else { Ph::Done };
            }
        }
        Ph::Done => {}
    }
}

fn pending(tb: &Tb, idx: usize) -> bool {
    tb.frames
        .iter()
        .chain(tb.cur_meta.iter())
        .any(|f| f.peer == Some(idx))
}

#[allow(clippy::needless_range_loop)] // peers[i] is borrowed around calls on tb
fn run(model: &str, seed: u64) -> HashMap<&'static str, u64> {
    let mut tb = Tb::new(model, seed);
    tb.p_ready = [70, 40, 90, 100][seed as usize % 4];
    tb.p_valid = [70, 90, 40, 100][seed as usize % 4];
    tb.p_tx = [60, 30, 100, 80][seed as usize % 4];
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    tb.nic_ip = if seed.is_multiple_of(5) {
        0
    } else {
        0x0A00_0001
    };
    tb.nic_mac = rng.gen();

    // ------------------------------------------------------------ bad and odd requests
    let mut c = SockCfg::new(7, &mut rng);
    c.proto = 1;
    tb.sock_add(&c); // neither TCP nor UDP
    c.proto = 6;
    c.rcv_buf = 0;
    tb.sock_add(&c); // RCV_BUF 0
    c.rcv_buf = (1 << 30) + 1;
    tb.sock_add(&c); // RCV_BUF too big
    c.rcv_buf = 1000;
    c.wscale = 15;
    tb.sock_add(&c); // window scale > 14
    c.slot = 100;
    c.wscale = 0;
    tb.sock_add(&c); // out of range
    tb.raw_req(OP_NOP, 1);
    tb.raw_req(0x63, 1); // unknown opcode
    tb.raw_req(OP_SOCK_DEL, 6); // not in use
    tb.raw_req(OP_SOCK_DEL, 300); // out of range
    tb.nb_post(6, 1, 100, 1, false); // socket not in use
                                     // anonymous buffers: out of range, too small, too large, slot busy
    let na = tb.num_anon as u32;
    let a0 = tb.host_alloc(PAGE, PAGE);
    tb.anon_post_at(na, 100, a0, 0, 0);
    tb.anon_post_at(1, 63, a0, 0, 0);
    tb.anon_post_at(1, 16385, a0, 0, 0);
    tb.anon_post(0, 64 + rng.gen_range(0..100));
    tb.anon_post_at(0, 1000, a0, 0, 0);
    tb.settle(50_000);

    // ------------------------------------------------------------ peers
    let nsock = 6usize;
    let mut peers: Vec<Peer> = (0..nsock)
        .map(|i| Peer {
            slot: i as u16,
            cfg: SockCfg::default(),
            isn: 0,
            ws: None,
            stream: Vec::new(),
            end_rst: false,
            poison: false,
            del_at: None,
            lives: if i % 3 == 0 { 2 } else { 1 },
            ph: Ph::Idle,
            junk: 0,
            hs_junk: 0,
            starve_until: 0,
            refused_first: i == 4,
            life: 0,
        })
        .collect();

    let mut udps: Vec<UdpPeer> = (0..2)
        .map(|i| UdpPeer {
            slot: 6 + i,
            cfg: SockCfg::default(),
            ph: Ph::Idle,
            lives: 2,
            left: 0,
        })
        .collect();
    tb.p_tick = [0, 20, 60, 150][seed as usize % 4];

    let start = tb.m.cycles();
    let mut bad_nb_done = false;
    loop {
        let now = tb.m.cycles();
        assert!(
            now - start < 6_000_000,
            "timeout in the random run: peers {:?} udp {:?} anon {} {}",
            peers.iter().map(|p| p.ph).collect::<Vec<_>>(),
            udps.iter().map(|u| (u.ph, u.left)).collect::<Vec<_>>(),
            tb.anon_list.len(),
            tb.why_not_quiet()
        );
        for k in 0..udps.len() {
            udp_peer_step(&mut tb, &mut udps[k], 100 + k, &mut rng);
        }
        // anonymous buffers now and then (a few outstanding)
        if tb.anon_list.len() + tb.anon_pending.len() < 3 && rng.gen_range(0..400) == 0 {
            if let Some(r) = tb.free_anon() {
                let len = if rng.gen_bool(0.3) {
                    rng.gen_range(64..200)
                } else {
                    rng.gen_range(200..=16384)
                };
                tb.anon_post(r, len);
            }
        }
        if tb.p_tick > 0 && rng.gen_range(0..20_000) == 0 {
            tb.tick_now += rng.gen_range(1..4); // a burst: consecutive requests merge
        }
        // the driver releases held chains now and then (sooner when the pool runs low); some
        // requests are bad: COUNT out of range, a head not held, a head twice
        let low = tb.free.len() < tb.nbuf / 3;
        if !tb.held.is_empty()
            && tb.req_q.len() < 3
            && rng.gen_range(0..if low { 40 } else { 400 }) == 0
        {
            let mut h: Vec<u16> = tb.held.iter().copied().collect();
            h.sort_unstable();
            let at = rng.gen_range(0..h.len());
            h.rotate_left(at);
            h.truncate(rng.gen_range(1..=h.len().min(RELEASE_MAX)));
            match rng.gen_range(0..40) {
                0 => tb.buf_release_n([0, 25][rng.gen_range(0..2)], &h),
                1 if h.len() < RELEASE_MAX => {
                    let k = rng.gen_range(0..h.len());
                    h.insert(rng.gen_range(k + 1..=h.len()), h[k]); // a head twice
                    tb.buf_release(&h);
                }
                2 if h.len() < RELEASE_MAX => {
                    let bad = if rng.gen_bool(0.5) {
                        rng.gen_range(tb.nbuf as u16..=NULL16)
                    } else {
                        rng.gen_range(0..tb.nbuf as u16)
                    };
                    h.insert(rng.gen_range(0..=h.len()), bad); // out of range, or not held
                    tb.buf_release(&h);
                }
                _ => tb.buf_release(&h),
            }
        }
        for i in 0..nsock {
            let slot = peers[i].slot;
            match peers[i].ph {
                Ph::Idle => {
                    let bb = tb.bb;
                    peers[i].new_life(&mut rng, bb);
                    peers[i].life += 1;
                    let cfg = peers[i].cfg;
                    tb.sock_add(&cfg);
                    peers[i].ph = Ph::Adding;
                }
                Ph::Adding => {
                    if tb.osock[slot as usize].is_some() {
                        peers[i].ph = Ph::Active;
                        if !bad_nb_done {
                            // bad NB posts against a live socket
                            bad_nb_done = true;
                            tb.nb_post(slot, 50, 100, 1, false); // ref out of range
                            tb.nb_post(slot, 7, 0, 1, false); // empty
                            tb.nb_post(slot, 7, 4097, 1, false); // larger than its pages
                            tb.nb_post(slot, 7, 10, 0, false); // no pages
                        }
                    }
                }
                Ph::Active => {
                    let o = tb.osock[slot as usize].as_ref().expect("active socket");
                    let isn1 = peers[i].isn.wrapping_add(1);
                    let base = o.rcv_nxt.wrapping_sub(isn1) as usize;
                    let st = o.state;
                    let end_flag = o.end_flag;
                    let p = &mut peers[i];
                    if st == ST_ESTAB && p.del_at.is_some_and(|d| base >= d) && !pending(&tb, i) {
                        tb.sock_del(slot);
                        p.ph = Ph::Deleting;
                        continue;
                    }
                    if (st == ST_CLOSE_WAIT || st == ST_CLOSED)
                        && p.junk == 0
                        && end_flag != 0
                        && !pending(&tb, i)
                    {
                        let o = tb.osock[slot as usize].as_ref().unwrap();
                        assert!(o.delivered == p.stream, "socket {slot} delivered stream");
                        assert_eq!(
                            end_flag,
                            if p.end_rst { C_RST } else { C_FIN },
                            "socket {slot} end flag"
                        );
                        tb.sock_del(slot);
                        p.ph = Ph::Deleting;
                        continue;
                    }
                    if end_flag == 0 && now >= p.starve_until && tb.req_q.len() < 3 {
                        let out = tb.nbs_out(slot);
                        let pct = if out == 0 {
                            10
                        } else if out == 1 {
                            1
                        } else {
                            0
                        };
                        if rng.gen_range(0..1000) < pct * 10 {
                            let refused = p.refused_first;
                            if tb.post_random_nb(slot, refused) {
                                p.refused_first = false;
                            }
                        }
                    }
                    if rng.gen_range(0..4000) == 0 {
                        p.starve_until = now + rng.gen_range(2000..15000);
                    }
                }
                Ph::Deleting => {
                    if tb.osock[slot as usize].is_none() {
                        if let Some(g) = tb.graveyard.remove(&slot) {
                            let p = &peers[i];
                            assert!(
                                p.stream.starts_with(&g.delivered),
                                "socket {slot}: delivered bytes are a prefix of the stream"
                            );
                            if rng.gen_bool(0.5) {
                                // the socket is gone: NO_SOCKET
                                let f = p.cfg.frame(g.rcv_nxt, 0, ACK, vec![1; 10]);
                                tb.push(f);
                            }
                            peers[i].lives -= 1;
                            peers[i].ph = if peers[i].lives > 0 {
                                Ph::Idle
                            } else {
                                Ph::Done
                            };
                        }
                    }
                }
                Ph::Done => {}
            }
        }
        if tb.frames.len() < 2 {
            let cand: Vec<usize> = (0..nsock)
                .filter(|&i| peers[i].ph == Ph::Active && !pending(&tb, i))
                .collect();
            if !cand.is_empty() {
                let i = cand[rng.gen_range(0..cand.len())];
                if let Some(f) = gen_frame(&tb, &mut peers[i], i, &mut rng) {
                    tb.push(f);
                    if rng.gen_range(0..100) < 6 {
                        let cfgs: Vec<SockCfg> = peers
                            .iter()
                            .map(|p| p.cfg)
                            .chain(udps.iter().map(|u| u.cfg))
                            .collect();
                        let f = noise_frame(&cfgs, tb.nic_ip, tb.bb, &mut rng);
                        tb.push(f);
                    }
                }
            }
        }
        let done = peers.iter().all(|p| p.ph == Ph::Done) && udps.iter().all(|u| u.ph == Ph::Done);
        if done {
            tb.p_tick = 0;
            if tb.quiet() {
                if tb.held.is_empty() {
                    break;
                }
                tb.release_all();
            }
        }
        tb.cycle();
    }
    tb.settle(100_000);
    tb.final_checks(true);
    assert!(tb.graveyard.is_empty());
    eprintln!(
        "{model} seed {seed}: {} cycles, {} bytes delivered, {} tx, {} NB returns, {} held, \
         {} anon, {} ARP, {} ticks ({} requests), {} timeouts",
        tb.m.cycles(),
        tb.got.delivered,
        tb.got.tx,
        tb.got.returned,
        tb.got.ooo_held,
        tb.got.anon_rx,
        tb.got.arp,
        tb.got.ticks,
        tb.tick_reqs,
        tb.got.timeouts
    );
    let mut cov = tb.cov.clone();
    for (r, &n) in tb.exp.drop.iter().enumerate() {
        if n > 0 {
            let k: &'static str = match r as u8 {
                D_OOO => "drop_out_of_order",
                D_OOW => "drop_out_of_window",
                D_DUP => "drop_duplicate",
                D_BAD_STATE => "drop_bad_state",
                D_NO_SOCKET => "drop_no_socket",
                _ => "drop_parser",
            };
            *cov.entry(k).or_default() += n;
        }
    }
    cov
}

fn random_traffic(model: &str, seeds: std::ops::Range<u64>) {
    let mut cov: HashMap<&'static str, u64> = HashMap::new();
    for seed in seeds {
        for (k, v) in run(model, seed) {
            *cov.entry(k).or_default() += v;
        }
    }
    let mut keys: Vec<_> = cov.iter().collect();
    keys.sort();
    eprintln!("{model} coverage: {keys:?}");
    for k in [
        "syn",
        "syn_retransmit",
        "estab",
        "trim_left",
        "trim_right",
        "pure_ack",
        "inorder_cut",
        "drain",
        "ins_front_cut",
        "ins_tail_cut",
        "ins_middle",
        "dup_front",
        "fin_in_order",
        "fin_ahead",
        "rst_marker",
        "rst_challenge",
        "syn_challenge",
        "close_wait_data",
        "full_return",
        "psh_return",
        "end_return",
        "dma_error_return",
        "delete_nb",
        "delete_segments",
        "ack_window_0",
        "drop_out_of_order",
        "drop_out_of_window",
        "drop_duplicate",
        "drop_bad_state",
        "drop_no_socket",
        "drop_parser",
        "ack_frozen",
        "ack_promised",
        "ack_pool_closed",
        "accept_pool_closed",
        "beyond_win_within_promise",
        "edge_rounded_left",
        "anon_rx",
        "anon_trunc",
        "anon_none_drop",
        "anon_partial_drop",
        "arp_reply",
        "arp_reply_partial",
        "arp_not_ours",
        "udp_rx",
        "udp_return",
        "udp_trunc",
        "udp_multi_chunk",
        "timeout",
        "timeout_empty",
        "hold_record",
        "hold_head",
        "hold_buflet_bound",
        "hold_full_return",
        "hold_fin_held",
        "release_ok",
        "release_stopped",
        "release_bad_count",
        "release_fin_marker",
    ] {
        assert!(
            cov.get(k).copied().unwrap_or(0) > 0,
            "random traffic never hit {k}"
        );
    }
}

#[test]
fn toe_engine_w64_random_traffic() {
    let n = std::env::var("TOE_SEEDS").map_or(40, |v| v.parse().unwrap());
    random_traffic("toe_engine_w64", 0..n);
}

#[test]
fn toe_engine_w512_random_traffic() {
    let n = std::env::var("TOE_SEEDS").map_or(30, |v| v.parse().unwrap());
    random_traffic("toe_engine_w512", 1000..1000 + n);
}

// ==================================================================== directed tests

const MODELS: [&str; 2] = ["toe_engine_w64", "toe_engine_w512"];

/// The models the directed tests run on: both, or those named in TOE_MODELS (comma list).
fn models() -> Vec<&'static str> {
    match std::env::var("TOE_MODELS") {
        Ok(v) => MODELS
            .into_iter()
            .filter(|m| v.split(',').any(|x| x.trim() == *m))
            .collect(),
        Err(_) => MODELS.to_vec(),
    }
}

fn txf(t: &[u8; 48], f: (usize, usize)) -> u64 {
    get(t, f)
}

/// (SEQ, ACK, WINDOW, FLAGS, OPTS, MSS, WSCALE) of a tx command.
fn txv(t: &[u8; 48]) -> (u32, u32, u16, u8, u8, u16, u8) {
    use spec::tx_cmd as x;
    (
        txf(t, x::SEQ) as u32,
        txf(t, x::ACK) as u32,
        txf(t, x::WINDOW) as u16,
        txf(t, x::FLAGS) as u8,
        txf(t, x::OPTS) as u8,
        txf(t, x::MSS) as u16,
        txf(t, x::WSCALE) as u8,
    )
}

fn dtb(model: &str, seed: u64) -> Tb {
    let mut tb = Tb::new(model, seed);
    tb.p_ready = 60;
    tb.p_valid = 60;
    tb.p_tx = 50;
    tb
}

/// Sends the handshake of `c` with peer ISN `isn` and checks the SYN-ACK it produced.
fn handshake(tb: &mut Tb, c: &SockCfg, isn: u32, ws: Option<u8>) {
    let mut f = c.frame(isn, 0, SYN, Vec::new());
    f.ws = ws;
    tb.push(f);
    tb.push(c.frame(isn.wrapping_add(1), c.iss.wrapping_add(1), ACK, Vec::new()));
    tb.settle(20_000);
}

fn stream_of(n: usize, seed: u64) -> Vec<u8> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| r.gen()).collect()
}

#[test]
fn handshake_syn_ack_fields_and_windows() {
    for model in models() {
        let mut tb = dtb(model, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut a = SockCfg::new(0, &mut rng);
        a.rcv_buf = 5000;
        a.mss = 1460;
        a.wscale = 2;
        a.iss = 0x1000_0000;
        a.vlan = 12;
        let mut b = SockCfg::new(1, &mut rng);
        b.rcv_buf = 1 << 30; // the largest accepted: the pool bounds the window
        b.wscale = 5;
        b.mss = 536;
        b.iss = 0xFFFF_FFFF;
        tb.sock_add(&a);
        tb.sock_add(&b);
        tb.settle(10_000);
        assert_eq!(tb.cpl_log.len(), 2);
        for c in &tb.cpl_log {
            assert_eq!(get(c, spec::cpl::STATUS), 0);
        }
        // LISTEN: RST and a bare ACK are BAD_STATE
        tb.push(a.frame(1000, 0, RST, Vec::new()));
        tb.push(a.frame(1000, 0, ACK, Vec::new()));
        tb.push(a.frame(1000, 0, SYN | ACK, Vec::new()));
        let mut syn = a.frame(1000, 0, SYN, vec![1, 2, 3]); // payload of a SYN is ignored
        syn.ws = Some(7);
        tb.push(syn.clone());
        tb.push(syn); // retransmitted SYN: the same SYN-ACK again
        tb.push(a.frame(2000, 0, SYN, Vec::new())); // another SYN: BAD_STATE
        tb.push(a.frame(1001, 0x1000_0002, ACK, Vec::new())); // wrong ACK: BAD_STATE
        tb.push(a.frame(1001, 0x1000_0001, PSH, vec![5; 10])); // no ACK flag: BAD_STATE
        tb.push(a.frame(1001, 0x1000_0001, ACK | PSH, stream_of(100, 3)));
        tb.settle(40_000);
        // socket b: SYN without window scale
        tb.push(b.frame(0x7000_0000, 0, SYN, Vec::new()));
        tb.push(b.frame(0x7000_0001, 0, ACK, Vec::new())); // ACK of our SYN: 0xFFFFFFFF + 1 = 0
        tb.settle(40_000);
        let v: Vec<_> = tb.tx_log.iter().map(txv).collect();
        let pool = |free: u64| -> u64 {
            let res = tb.nbuf as u64 / 16;
            (free - res) * tb.bb as u64 / 2
        };
        // b's SYN took one buflet; a's 100-byte segment is still held (no NB)
        let b_win = pool(tb.nbuf as u64 - 2).min(65535) as u16;
        assert_eq!(
            v,
            vec![
                (0x1000_0000, 1001, 5000, SYN | ACK, 3, 1460, 2),
                (0x1000_0000, 1001, 5000, SYN | ACK, 3, 1460, 2),
                (0x1000_0001, 1101, (5000 - 100) >> 2, ACK, 0, 0, 0),
                (0xFFFF_FFFF, 0x7000_0001, b_win, SYN | ACK, 1, 536, 5),
            ],
            "{model}: tx commands"
        );
        // identity fields of a's SYN-ACK
        let t = &tb.tx_log[0];
        use spec::tx_cmd as x;
        assert_eq!(&t[x::DST_MAC.0..x::DST_MAC.0 + 6], &a.remote_mac);
        assert_eq!(&t[x::SRC_MAC.0..x::SRC_MAC.0 + 6], &a.local_mac);
        assert_eq!(txf(t, x::VLAN), 12);
        assert_eq!(txf(t, x::SRC_IP) as u32, a.local_ip);
        assert_eq!(txf(t, x::DST_IP) as u32, a.remote_ip);
        assert_eq!(txf(t, x::SRC_PORT) as u16, a.local_port);
        assert_eq!(txf(t, x::DST_PORT) as u16, a.remote_port);
        assert_eq!(
            tb.got.drop[D_BAD_STATE as usize], 6,
            "{model}: BAD_STATE drops"
        );
        assert_eq!(tb.got.accepted, 1);
        // clean up: delete both (a holds its segment)
        tb.sock_del(0);
        tb.sock_del(1);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

#[test]
fn reordering_overlaps_and_duplicates() {
    for model in models() {
        let mut tb = dtb(model, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut c = SockCfg::new(3, &mut rng);
        c.rcv_buf = 8000;
        tb.sock_add(&c);
        tb.settle(10_000);
        let isn = 0xFFFF_FE00u32; // sequence numbers wrap inside the stream
        handshake(&mut tb, &c, isn, None);
        let s = stream_of(3000, 4);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        // a segment [a, b) of the stream whose bytes in [pa, pb) are poisoned
        let seg = |a: usize, b: usize, pa: usize, pb: usize, fl: u8| {
            let mut d = s[a..b].to_vec();
            for k in pa.max(a)..pb.min(b) {
                d[k - a] ^= 0xFF;
            }
            c.frame(seq(a), 0, fl, d)
        };
        let n0 = tb.tx_log.len();
        tb.push(seg(2000, 2500, 0, 0, ACK)); // held
        tb.push(seg(1000, 1500, 0, 0, ACK)); // held before it
        tb.push(seg(1200, 1300, 1200, 1300, ACK)); // inside [1000,1500): DUPLICATE
        tb.push(seg(900, 1100, 1000, 1100, ACK | PSH)); // tail cut at 1000 (PSH cleared)
        tb.push(seg(1400, 1700, 1400, 1500, ACK)); // front cut to [1500,1700)
        tb.push(seg(1700, 2001, 2000, 2001, ACK | FIN)); // 1 byte over [2000,..): cut, FIN cleared
        tb.push(seg(1700, 1800, 1700, 1800, ACK)); // DUPLICATE of [1700,2000)
        tb.push(seg(2500, 2600, 0, 0, ACK)); // adjacent after [2000,2500)
        tb.push(c.frame(seq(3000), 0, FIN | ACK, Vec::new())); // FIN ahead: OUT_OF_ORDER
        tb.push(seg(0, 1000, 900, 1000, ACK)); // in order, cut at 900: drains up to 2600
        tb.push(seg(2400, 3000, 2400, 2600, ACK | FIN)); // left trim to 2600, FIN in order
        tb.settle(60_000);
        let v: Vec<_> = tb.tx_log[n0..].iter().map(txv).collect();
        let acks: Vec<(u32, u16)> = v.iter().map(|t| (t.1, t.2)).collect();
        let dup = (seq(0), 8000);
        assert_eq!(
            acks,
            vec![
                dup,
                dup,
                dup,
                dup,
                dup,
                dup,
                dup,
                dup,
                dup,
                (seq(2600), 8000 - 2600),
                (seq(3000).wrapping_add(1), 8000 - 3001),
            ],
            "{model}: ACK numbers and windows"
        );
        assert!(v.iter().all(|t| t.3 == ACK && t.0 == c.iss.wrapping_add(1)));
        assert_eq!(tb.got.ooo_held, 6, "{model}: held segments");
        assert_eq!(tb.got.drop[D_DUP as usize], 2);
        assert_eq!(tb.got.drop[D_OOO as usize], 1);
        assert_eq!(tb.got.accepted, 2);
        // deliver: one 4000-byte NB gets the stream and the FIN
        tb.nb_post(3, 0, 4000, 1, false);
        tb.settle(60_000);
        let last = tb.cpl_log.last().unwrap();
        assert_eq!(get(last, spec::cpl::FLAGS) as u32, C_FIN);
        assert_eq!(get(last, spec::cpl::BYTES), 3000);
        let g = tb.osock[3].as_ref().unwrap();
        assert!(
            g.delivered == s,
            "{model}: delivered bytes equal the stream"
        );
        tb.sock_del(3);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

#[test]
fn zero_window_trim_and_probes() {
    for model in models() {
        let mut tb = dtb(model, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut c = SockCfg::new(2, &mut rng);
        c.rcv_buf = 1000;
        tb.sock_add(&c);
        tb.settle(10_000);
        let isn = 5000u32;
        handshake(&mut tb, &c, isn, None);
        let s = stream_of(3000, 5);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        let n0 = tb.tx_log.len();
        tb.push(c.frame(seq(0), 0, ACK, s[..600].to_vec()));
        let mut d = s[600..1100].to_vec();
        for b in &mut d[400..] {
            *b ^= 0x33; // beyond the right edge: cut
        }
        tb.push(c.frame(seq(600), 0, ACK | PSH | FIN, d)); // trimmed to 400, FIN/PSH cleared
        tb.push(c.frame(seq(1000), 0, ACK, s[1000..1100].to_vec())); // zero window: OOW + ACK
        tb.push(c.frame(seq(1000), 0, ACK, Vec::new())); // probe at RCV_NXT: consumed, no ACK
        tb.push(c.frame(seq(1001), 0, ACK, Vec::new())); // not acceptable: OOW + ACK
        tb.push(c.frame(seq(1000), 0, ACK | FIN, Vec::new())); // FIN needs room: OOW + ACK
        tb.settle(40_000);
        let v: Vec<(u32, u16)> = tb.tx_log[n0..]
            .iter()
            .map(|t| (txv(t).1, txv(t).2))
            .collect();
        assert_eq!(
            v,
            vec![
                (seq(600), 400),
                (seq(1000), 0),
                (seq(1000), 0),
                (seq(1000), 0),
                (seq(1000), 0)
            ],
            "{model}: zero-window ACKs"
        );
        assert_eq!(tb.got.drop[D_OOW as usize], 3);
        // a 600-byte NB opens the window by 600 (no window update is sent)
        tb.nb_post(2, 1, 600, 1, false);
        tb.settle(40_000);
        assert_eq!(
            get(tb.cpl_log.last().unwrap(), spec::cpl::FLAGS) as u32,
            C_FULL
        );
        let n1 = tb.tx_log.len();
        assert_eq!(n1, n0 + 5, "{model}: NB_POST sends no window update");
        tb.push(c.frame(seq(1000), 0, ACK, s[1000..1500].to_vec()));
        tb.settle(40_000);
        assert_eq!(
            (txv(&tb.tx_log[n1]).1, txv(&tb.tx_log[n1]).2),
            (seq(1500), 100),
            "{model}: window after delivery"
        );
        tb.nb_post(2, 2, 2000, 1, false);
        tb.push(c.frame(seq(1500), 0, ACK | FIN, s[1500..1600].to_vec()));
        tb.settle(40_000);
        let last = tb.cpl_log.last().unwrap();
        assert_eq!(
            (
                get(last, spec::cpl::FLAGS) as u32,
                get(last, spec::cpl::BYTES),
                get(last, spec::cpl::STREAM_OFF)
            ),
            (C_FIN, 1000, 600)
        );
        assert!(tb.osock[2].as_ref().unwrap().delivered == s[..1600]);
        tb.sock_del(2);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

#[test]
fn fin_and_rst_in_order_and_ahead() {
    for model in models() {
        let mut tb = dtb(model, 4);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut x = SockCfg::new(0, &mut rng);
        x.rcv_buf = 8000;
        let mut y = SockCfg::new(1, &mut rng);
        y.rcv_buf = 8000;
        tb.sock_add(&x);
        tb.sock_add(&y);
        tb.settle(10_000);
        let isn = 100u32;
        handshake(&mut tb, &x, isn, Some(0));
        handshake(&mut tb, &y, isn, None);
        let s = stream_of(600, 6);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        let n0 = tb.tx_log.len();
        // X: FIN ahead, then data+FIN held, then the gap fills
        tb.push(x.frame(seq(500), 0, FIN | ACK, Vec::new())); // OUT_OF_ORDER + ACK
        tb.push(x.frame(seq(300), 0, FIN | ACK, s[300..500].to_vec())); // held with FIN
        tb.push(x.frame(seq(501), 0, ACK, vec![9; 50])); // held right after the FIN: never drained
        tb.push(x.frame(seq(0), 0, ACK, s[..300].to_vec())); // drains: CLOSE_WAIT at 501
        tb.push(x.frame(seq(501), 0, ACK, vec![1; 30])); // data after FIN: ACK + BAD_STATE
        tb.push(x.frame(seq(501), 0, ACK, Vec::new())); // pure ACK: consumed
        tb.push(x.frame(seq(600), 0, RST, Vec::new())); // RST in window, not exact: challenge
        tb.push(x.frame(seq(501).wrapping_add(9000), 0, RST, Vec::new())); // outside: no ACK
        tb.push(x.frame(seq(501), 0, RST | ACK, Vec::new())); // exact: CLOSED
        tb.push(x.frame(seq(501), 0, ACK, vec![2; 5])); // CLOSED: BAD_STATE, no ACK
        tb.push(x.frame(seq(501), 0, SYN, Vec::new())); // CLOSED: BAD_STATE, no ACK
                                                        // Y: SYN in ESTAB (challenge), then 200 bytes and an RST at RCV_NXT
        tb.push(y.frame(seq(0), 0, SYN | ACK, Vec::new()));
        tb.push(y.frame(seq(0), 0, ACK | PSH, s[..200].to_vec()));
        tb.push(y.frame(seq(200), 0, RST, Vec::new()));
        tb.settle(60_000);
        let v: Vec<(u32, u16, u16)> = tb.tx_log[n0..]
            .iter()
            .map(|t| (txv(t).1, txv(t).2, get(t, spec::tx_cmd::DST_PORT) as u16))
            .collect();
        let (px, py) = (x.remote_port, y.remote_port);
        assert_eq!(
            v,
            vec![
                (seq(0), 8000, px),
                (seq(0), 8000, px),
                (seq(0), 8000, px),
                (seq(501), 8000 - 501, px),
                (seq(501), 8000 - 501, px),
                (seq(501), 8000 - 501, px),
                (seq(0), 8000, py),
                (seq(200), 7800, py),
            ],
            "{model}: ACKs"
        );
        assert_eq!(tb.got.drop[D_OOO as usize], 1);
        assert_eq!(tb.got.drop[D_OOW as usize], 2);
        assert_eq!(tb.got.drop[D_BAD_STATE as usize], 4);
        // NBs: X returns 500 bytes with FIN, then an empty one with RST; Y 200 bytes with RST
        tb.nb_post(0, 0, 1000, 1, false);
        tb.nb_post(0, 1, 1000, 1, false);
        tb.nb_post(1, 2, 1000, 1, false);
        tb.settle(60_000);
        let mut rets: Vec<(u64, u64, u64, u64)> =
            rets(&tb, 0).iter().map(|r| (r.0, r.1, r.2, r.3)).collect();
        rets.sort();
        assert_eq!(
            rets,
            vec![
                (0, C_FIN as u64, 500, 0),
                (1, C_RST as u64, 0, 500),
                (2, C_RST as u64, 200, 0)
            ],
            "{model}: returns"
        );
        tb.sock_del(0);
        tb.sock_del(1);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

#[test]
fn sock_del_returns_nbs_frees_segments_and_unlinks() {
    for model in models() {
        let mut tb = dtb(model, 5);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let hb = 4u32; // HASH_BUCKETS of the toe_engine models
                       // three sockets on the same hash bucket (chain: newest first)
        let mut same: Vec<SockCfg> = Vec::new();
        let mut port = 6000u16;
        let target = bucket(0x0A00_0200, 0x0A00_0001, 7000, 6000, hb);
        while same.len() < 3 {
            if bucket(0x0A00_0200, 0x0A00_0001, 7000, port, hb) == target {
                let mut c = SockCfg::new(same.len() as u16, &mut rng);
                c.remote_ip = 0x0A00_0200;
                c.remote_port = 7000;
                c.local_port = port;
                c.rcv_buf = 20000;
                same.push(c);
            }
            port += 1;
        }
        for c in &same {
            tb.sock_add(c);
        }
        tb.settle(10_000);
        let isn = 0xABCD_0000u32;
        for c in &same {
            handshake(&mut tb, c, isn, None);
        }
        let s = stream_of(2000, 7);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        // socket 1 (middle of the chain): an NB partly filled, another empty, held segments
        tb.nb_post(1, 0, 1000, 1, false);
        tb.push(same[1].frame(seq(0), 0, ACK, s[..300].to_vec()));
        tb.push(same[1].frame(seq(500), 0, ACK, s[500..900].to_vec()));
        tb.push(same[1].frame(seq(1000), 0, ACK, s[1000..1200].to_vec()));
        tb.settle(40_000);
        tb.nb_post(1, 1, 1000, 1, false);
        // socket 0: in-order segments without an NB, and a held one
        tb.push(same[0].frame(seq(0), 0, ACK, s[..100].to_vec()));
        tb.push(same[0].frame(seq(100), 0, ACK, s[100..400].to_vec()));
        tb.push(same[0].frame(seq(700), 0, ACK, s[700..800].to_vec()));
        tb.settle(40_000);
        let c0 = tb.cpl_log.len();
        tb.sock_del(1);
        tb.settle(40_000);
        let k: Vec<(u64, u64, u64, u64, u64)> = tb.cpl_log[c0..]
            .iter()
            .map(|c| {
                (
                    get(c, spec::cpl::KIND),
                    get(c, spec::cpl::REF_NUM),
                    get(c, spec::cpl::FLAGS),
                    get(c, spec::cpl::BYTES),
                    get(c, spec::cpl::STREAM_OFF),
                )
            })
            .collect();
        let nr = spec::cpl_kind::NB_RETURN;
        assert_eq!(
            k,
            vec![
                (nr, 0, C_DELETE as u64, 300, 0),
                (nr, 1, C_DELETE as u64, 0, 300),
                (spec::cpl_kind::CMD_DONE, 0, 0, 0, 0)
            ],
            "{model}: SOCK_DEL completions"
        );
        // the other sockets of the bucket still match; the deleted one does not
        let n0 = tb.tx_log.len();
        tb.push(same[2].frame(seq(0), 0, ACK, s[..10].to_vec()));
        tb.push(same[0].frame(seq(400), 0, ACK, s[400..410].to_vec()));
        tb.push(same[1].frame(seq(300), 0, ACK, s[300..310].to_vec()));
        tb.settle(40_000);
        assert_eq!(tb.tx_log.len(), n0 + 2);
        assert_eq!(tb.got.drop[D_NO_SOCKET as usize], 1);
        // delete the head (2) and then the last (0); re-add slot 1 with its tuple
        tb.sock_del(2);
        tb.sock_del(0);
        tb.sock_del(0); // no longer in use: BAD_SOCK
        tb.settle(40_000);
        tb.sock_add(&same[1]);
        tb.settle(10_000);
        let n1 = tb.tx_log.len();
        tb.push(same[1].frame(isn, 0, SYN, Vec::new()));
        tb.push(same[0].frame(isn, 0, SYN, Vec::new())); // gone: NO_SOCKET
        tb.settle(20_000);
        assert_eq!(tb.tx_log.len(), n1 + 1);
        assert_eq!(txv(&tb.tx_log[n1]).3, SYN | ACK);
        assert_eq!(tb.got.drop[D_NO_SOCKET as usize], 2);
        tb.sock_del(1);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

#[test]
fn psh_return_and_syn_rcvd_reset() {
    for model in models() {
        let mut tb = dtb(model, 6);
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let mut p = SockCfg::new(0, &mut rng);
        p.flags = PSH_RETURN;
        p.rcv_buf = 20000;
        let mut q = SockCfg::new(1, &mut rng);
        q.rcv_buf = 20000;
        tb.sock_add(&p);
        tb.sock_add(&q);
        tb.settle(10_000);
        let isn = 1u32;
        handshake(&mut tb, &p, isn, None);
        // q: SYN, RST at RCV_NXT (back to LISTEN), a new SYN with another ISN
        tb.push(q.frame(77, 0, SYN, Vec::new()));
        tb.push(q.frame(78, 0, RST, Vec::new()));
        tb.push(q.frame(78, q.iss.wrapping_add(1), ACK, Vec::new())); // LISTEN: BAD_STATE
        handshake(&mut tb, &q, isn, None);
        let syn_acks: Vec<u32> = tb
            .tx_log
            .iter()
            .filter(|t| {
                txv(t).3 == SYN | ACK && get(&t[..], spec::tx_cmd::DST_PORT) as u16 == q.remote_port
            })
            .map(|t| txv(t).1)
            .collect();
        assert_eq!(syn_acks, vec![78, isn + 1], "{model}: SYN-ACKs of q");
        let s = stream_of(1000, 8);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        tb.nb_post(0, 0, 2000, 1, false);
        tb.nb_post(0, 1, 2000, 1, false);
        tb.nb_post(0, 2, 2000, 1, false);
        tb.nb_post(0, 3, 50, 1, false);
        tb.nb_post(1, 4, 2000, 1, false);
        tb.settle(20_000);
        for c in [&p, &q] {
            tb.push(c.frame(seq(0), 0, ACK | PSH, s[..100].to_vec()));
            // held
            tb.push(c.frame(seq(300), 0, ACK | URG, s[300..400].to_vec()));
            // ends exactly where the held segment starts: not cut, PSH kept
            tb.push(c.frame(seq(100), 0, ACK | PSH, s[100..300].to_vec()));
            tb.push(c.frame(seq(400), 0, ACK | PSH, s[400..550].to_vec())); // fills NB 3 (50)
            tb.settle(40_000);
        }
        let rets: Vec<(u64, u64, u64, u64)> =
            rets(&tb, 0).iter().map(|r| (r.0, r.1, r.2, r.3)).collect();
        assert_eq!(
            rets,
            vec![
                (0, C_PSH as u64, 100, 0),
                (1, C_PSH as u64, 200, 100),
                (2, C_PSH as u64, 100, 300), // URG counts as PSH
                (3, C_FULL as u64, 50, 400)
            ],
            "{model}: PSH returns (q has none)"
        );
        tb.sock_del(0);
        tb.sock_del(1);
        tb.settle(20_000);
        let last = tb.cpl_log.iter().rev().nth(1).unwrap();
        assert_eq!(
            (
                get(last, spec::cpl::REF_NUM),
                get(last, spec::cpl::FLAGS),
                get(last, spec::cpl::BYTES)
            ),
            (4, C_DELETE as u64, 550)
        );
        tb.final_checks(true);
    }
}

/// Full-rate delivery: with no backpressure and no idle cycles a long in-order stream of
/// 1460-byte segments leaves on the DMA write data channel at close to one word per cycle.
fn throughput(model: &str, min_ratio: f64) {
    let mut tb = Tb::new(model, 99);
    tb.p_ready = 100;
    tb.p_valid = 100;
    tb.p_tx = 100;
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut c = SockCfg::new(0, &mut rng);
    c.rcv_buf = 1 << 20;
    tb.sock_add(&c);
    tb.settle(10_000);
    let isn = 999u32;
    handshake(&mut tb, &c, isn, None);
    let nseg = 60usize;
    let s = stream_of(nseg * 1460, 9);
    for k in 0..nseg {
        let fl = if k + 1 == nseg { ACK | FIN } else { ACK };
        let seq = isn + 1 + (k * 1460) as u32;
        tb.push(c.frame(seq, 0, fl, s[k * 1460..(k + 1) * 1460].to_vec()));
    }
    tb.wr_beats = 0;
    tb.first_beat = None;
    for refn in 0..2 {
        tb.nb_post(0, refn, 3 * PAGE, 3, false);
    }
    let start = tb.m.cycles();
    while tb.osock[0].as_ref().unwrap().end_flag == 0 {
        assert!(tb.m.cycles() - start < 200_000, "timeout");
        if tb.req_q.is_empty() && tb.cur_req.is_none() && tb.nbs_out(0) < 2 {
            let r = tb.free_ref().unwrap();
            tb.nb_post(0, r as u32, 3 * PAGE, 3, false);
        }
        tb.cycle();
    }
    let span = tb.last_beat - tb.first_beat.unwrap() + 1;
    let ratio = tb.wr_beats as f64 / span as f64;
    eprintln!(
        "{model}: {} DMA write words in {span} cycles ({ratio:.3} words/cycle)",
        tb.wr_beats
    );
    assert!(tb.osock[0].as_ref().unwrap().delivered == s);
    assert!(ratio >= min_ratio, "delivery rate {ratio:.3} words/cycle");
    tb.settle(20_000);
    tb.sock_del(0);
    tb.settle(20_000);
    tb.final_checks(true);
}

#[test]
fn toe_engine_w64_throughput() {
    throughput("toe_engine_w64", 0.95);
}

#[test]
fn toe_engine_w512_throughput() {
    throughput("toe_engine_w512", 0.75);
}

// ==================================================================== directed: the window rule

/// (ref, flags, bytes, stream_off, hdr_bytes) of the NB_RETURN completions from `from` on.
fn rets(tb: &Tb, from: usize) -> Vec<(u64, u64, u64, u64, u64)> {
    tb.cpl_log[from..]
        .iter()
        .filter(|c| get(&c[..], spec::cpl::KIND) == spec::cpl_kind::NB_RETURN)
        .map(|c| {
            (
                get(c, spec::cpl::REF_NUM),
                get(c, spec::cpl::FLAGS),
                get(c, spec::cpl::BYTES),
                get(c, spec::cpl::STREAM_OFF),
                get(c, spec::cpl::HDR_BYTES),
            )
        })
        .collect()
}

/// (ACK, WINDOW) of the tx commands from `from` on.
fn acks(tb: &Tb, from: usize) -> Vec<(u32, u16)> {
    tb.tx_log[from..]
        .iter()
        .map(|t| (txv(t).1, txv(t).2))
        .collect()
}

fn reserve(tb: &Tb) -> usize {
    tb.nbuf / spec::param::POOL_RESERVE_DIV as usize
}

/// Sends 1-byte in-order segments on `c` (one buflet each, never delivered: no NB) until the
/// pool's free count is `target`; `next` is the stream offset of the next byte, advanced.
fn fill_pool(tb: &mut Tb, c: &SockCfg, isn: u32, next: &mut usize, target: usize) {
    while tb.free.len() > target {
        let seq = isn.wrapping_add(1).wrapping_add(*next as u32);
        tb.push(c.frame(seq, 0, ACK, vec![*next as u8]));
        *next += 1;
        tb.settle(20_000);
    }
    assert_eq!(tb.free.len(), target);
}

/// During a loss episode the peer's duplicate ACKs must repeat the window exactly (RFC 5681):
/// while every held segment takes buflets (so `win` shrinks: the old rule advertised less on
/// each), and while the driver frees buflets of another socket (so `win` grows past the
/// promise: the edge stays frozen); once the gap fills, the edge has not moved left.
#[test]
fn window_duplicate_acks_repeat_the_window() {
    for model in models() {
        let mut tb = dtb(model, 11);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut c = SockCfg::new(0, &mut rng);
        c.rcv_buf = 1 << 30; // the pool bounds the window
        c.wscale = 2;
        let mut b = SockCfg::new(1, &mut rng);
        b.rcv_buf = 1 << 30;
        tb.sock_add(&c);
        tb.sock_add(&b);
        tb.settle(10_000);
        let isn = 7000u32;
        handshake(&mut tb, &b, isn, None);
        // b's undelivered bytes hold most of the pool: c's first promise is small
        let mut b_bytes = 0usize;
        let res = reserve(&tb);
        fill_pool(&mut tb, &b, isn, &mut b_bytes, res + 30);
        handshake(&mut tb, &c, isn, Some(3));
        let s = stream_of(6000, 11);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        let n0 = tb.tx_log.len();
        tb.push(c.frame(seq(0), 0, ACK, s[..300].to_vec()));
        tb.settle(20_000);
        let (a0, w0) = acks(&tb, n0)[0];
        assert_eq!(a0, seq(300));
        let edge0 = a0.wrapping_add((w0 as u32) << 2);
        // [300, 600) is lost; the segments behind the gap are held
        let seg = |k: usize| {
            c.frame(
                seq(600 + 400 * k),
                0,
                ACK,
                s[600 + 400 * k..1000 + 400 * k].to_vec(),
            )
        };
        let free0 = tb.free.len();
        let n1 = tb.tx_log.len();
        for k in 0..5 {
            tb.push(seg(k));
        }
        tb.settle(40_000);
        assert!(
            tb.free.len() + 5 <= free0,
            "{model}: the held segments took buflets"
        );
        // b's bytes are delivered: the pool room grows past what c was promised
        tb.nb_post(1, 0, b_bytes, 1, false);
        tb.settle(40_000);
        let room = tb.pool_room(tb.free.len() - 2) >> 2;
        assert!(
            room > w0 as u64 + 64,
            "{model}: the pool grew ({room} vs {w0})"
        );
        for k in 5..10 {
            tb.push(seg(k));
        }
        tb.settle(40_000);
        let dup = acks(&tb, n1);
        assert_eq!(dup.len(), 10);
        assert!(
            dup.iter().all(|&x| x == (seq(300), w0)),
            "{model}: duplicate ACKs repeat ACK and WINDOW exactly: {dup:?} (first ACK {w0})"
        );
        assert_eq!(tb.got.ooo_held, 10);
        // the gap fills: everything drains, the edge has not moved left
        let n2 = tb.tx_log.len();
        tb.push(c.frame(seq(300), 0, ACK, s[300..600].to_vec()));
        tb.settle(40_000);
        let (a1, w1) = acks(&tb, n2)[0];
        assert_eq!(a1, seq(4600), "{model}: cumulative ACK after the drain");
        let edge1 = a1.wrapping_add((w1 as u32) << 2);
        assert!(
            edge1.wrapping_sub(edge0) as i32 > -4,
            "{model}: edge {edge1:#x} left of {edge0:#x}"
        );
        tb.nb_post(0, 1, 3 * PAGE, 3, false);
        tb.nb_post(0, 2, 3 * PAGE, 3, false);
        tb.settle(60_000);
        assert!(tb.osock[0].as_ref().unwrap().delivered == s[..4600]);
        tb.sock_del(0);
        tb.sock_del(1);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

/// A closed pool advertises 0 but still takes what was promised: a segment inside the promised
/// edge is accepted (the old rule dropped it OUT_OF_WINDOW), one crossing it is trimmed at the
/// edge, and only then is the window 0.
#[test]
fn window_promise_is_honoured_after_the_pool_closes() {
    for model in models() {
        let mut tb = dtb(model, 12);
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut a = SockCfg::new(0, &mut rng);
        a.rcv_buf = 600;
        let mut b = SockCfg::new(1, &mut rng);
        b.rcv_buf = 1 << 30;
        tb.sock_add(&a);
        tb.sock_add(&b);
        tb.settle(10_000);
        let isn = 100u32;
        handshake(&mut tb, &a, isn, None);
        handshake(&mut tb, &b, isn, None);
        let s = stream_of(1000, 12);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        let n0 = tb.tx_log.len();
        tb.push(a.frame(seq(0), 0, ACK, s[..100].to_vec()));
        tb.settle(20_000);
        assert_eq!(acks(&tb, n0), vec![(seq(100), 500)], "{model}: edge at 600");
        // b's tiny segments (no NB) take the pool down to the reserve + 1
        let mut nb_bytes = 0usize;
        let res = reserve(&tb);
        fill_pool(&mut tb, &b, isn, &mut nb_bytes, res + 1);
        let oow0 = tb.got.drop[D_OOW as usize];
        let acc0 = tb.got.accepted;
        let n1 = tb.tx_log.len();
        // a: 50 bytes inside the promise, picked with pool room 0 (its own buflet took the last)
        tb.push(a.frame(seq(100), 0, ACK, s[100..150].to_vec()));
        tb.settle(20_000);
        // a: 460 bytes crossing the edge at 600 by 10: trimmed (poisoned beyond it)
        let mut d = s[150..610].to_vec();
        for x in &mut d[450..] {
            *x ^= 0x77;
        }
        tb.push(a.frame(seq(150), 0, ACK | PSH, d));
        tb.settle(20_000);
        // a: nothing is promised any more: a probe with data is not acceptable
        tb.push(a.frame(seq(600), 0, ACK, s[600..610].to_vec()));
        tb.settle(20_000);
        assert_eq!(
            acks(&tb, n1),
            vec![(seq(150), 0), (seq(600), 0), (seq(600), 0)],
            "{model}: ACKs of a closed pool"
        );
        assert_eq!(
            tb.got.accepted - acc0,
            2,
            "{model}: both promised segments kept"
        );
        assert_eq!(tb.got.drop[D_OOW as usize] - oow0, 1);
        // the driver catches up: b's bytes and a's 600 bytes are delivered
        tb.nb_post(1, 0, nb_bytes, 1, false);
        tb.nb_post(0, 1, 600, 1, false);
        tb.settle(60_000);
        assert!(tb.osock[0].as_ref().unwrap().delivered == s[..600]);
        let r = rets(&tb, 0);
        assert!(r.contains(&(1, C_FULL as u64, 600, 0, 0)), "{model}: {r:?}");
        tb.sock_del(0);
        tb.sock_del(1);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

/// The SYN-ACK sets the first edge (RCV_NXT + its unscaled window): the handshake's ACK may
/// carry up to that much even when the pool shrank since (the old rule trimmed it to `win`); a
/// retransmitted SYN-ACK carries min(win, 65535) of its own time, and the promise stands.
#[test]
fn window_syn_ack_sets_the_first_edge() {
    for model in models() {
        let mut tb = dtb(model, 13);
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let mut a = SockCfg::new(0, &mut rng);
        a.rcv_buf = 1 << 30;
        let mut b = SockCfg::new(1, &mut rng);
        b.rcv_buf = 1 << 30;
        tb.sock_add(&a);
        tb.sock_add(&b);
        tb.settle(10_000);
        let isn = 0xFFFF_FF00u32; // the window crosses the sequence wrap
        handshake(&mut tb, &b, isn, None);
        let n0 = tb.tx_log.len();
        tb.push(a.frame(isn, 0, SYN, Vec::new()));
        tb.settle(20_000);
        let free_syn = tb.free.len() - 1; // the SYN's own buflet was taken at its pick
        let w0 = tb.pool_room(free_syn).min(65535) as u16;
        assert_eq!(acks(&tb, n0), vec![(isn.wrapping_add(1), w0)]);
        let len = 1000usize;
        let need = (54 + len).div_ceil(tb.bb);
        let mut next = 0usize;
        let res = reserve(&tb);
        fill_pool(&mut tb, &b, isn, &mut next, res + need + 3);
        // retransmitted SYN: the SYN-ACK carries the window of now
        let n1 = tb.tx_log.len();
        tb.push(a.frame(isn, 0, SYN, Vec::new()));
        tb.settle(20_000);
        let w1 = tb.pool_room(res + need + 2) as u16;
        assert!(w1 < w0);
        assert_eq!(acks(&tb, n1), vec![(isn.wrapping_add(1), w1)], "{model}");
        // the ACK of the SYN-ACK with 1000 bytes: more than win, less than the SYN-ACK promised
        let s = stream_of(len, 13);
        let n2 = tb.tx_log.len();
        tb.push(a.frame(isn.wrapping_add(1), a.iss.wrapping_add(1), ACK, s.clone()));
        tb.settle(20_000);
        let win_now = tb.pool_room(res + 3) as u32;
        assert!((win_now as usize) < len && len < w0 as usize);
        let rcv = isn.wrapping_add(1).wrapping_add(len as u32);
        assert_eq!(
            acks(&tb, n2),
            vec![(rcv, w0 - len as u16)],
            "{model}: all 1000 bytes taken, the edge kept"
        );
        tb.nb_post(0, 0, 2 * PAGE, 2, false);
        tb.nb_post(1, 1, next, 1, false);
        tb.settle(60_000);
        assert!(tb.osock[0].as_ref().unwrap().delivered == s);
        tb.sock_del(0);
        tb.sock_del(1);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

// ==================================================================== directed: UDP

/// UDP sockets (junk TCP fields accepted), a TCP socket on the same 4-tuple, datagrams of
/// every shape into their own NBs: exact fit, header only, spanning pages, truncated (with
/// HDR_BYTES = min(8, FILLED)), STREAM_OFF and the delivered count in bytes written, and a
/// delete with a datagram still waiting.
#[test]
fn udp_datagrams_into_named_buffers() {
    for model in models() {
        let mut tb = dtb(model, 21);
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let mut u = SockCfg::new(2, &mut rng);
        u.proto = PROTO_UDP;
        u.rcv_buf = 0; // not validated for UDP
        u.wscale = 200;
        u.mss = 0;
        let mut t = u; // TCP on the same tuple
        t.slot = 4;
        t.proto = PROTO_TCP;
        t.rcv_buf = 5000;
        t.wscale = 0;
        t.mss = 1460;
        let mut bad = SockCfg::new(3, &mut rng);
        bad.proto = 1;
        let mut tcp_only = SockCfg::new(5, &mut rng);
        tcp_only.rcv_buf = 5000;
        tb.sock_add(&u);
        tb.sock_add(&t);
        tb.sock_add(&bad);
        tb.sock_add(&tcp_only);
        tb.settle(10_000);
        let st: Vec<u64> = tb
            .cpl_log
            .iter()
            .map(|c| get(c, spec::cpl::STATUS))
            .collect();
        assert_eq!(
            st,
            vec![0, 0, spec::status::BAD_SOCK, 0],
            "{model}: SOCK_ADDs"
        );
        // TCP on the shared tuple still handshakes; UDP to a TCP-only tuple matches nothing
        handshake(&mut tb, &t, 50, None);
        assert_eq!(txv(tb.tx_log.last().unwrap()).3, SYN | ACK);
        tb.push(tcp_only.datagram(vec![1; 30]));
        tb.settle(20_000);
        assert_eq!(tb.got.drop[D_NO_SOCKET as usize], 1);
        let sizes = [100usize, 0, 5000, 300, 40, 50, 60];
        for (k, &n) in sizes.iter().enumerate() {
            let mut f = u.datagram(stream_of(n, 100 + k as u64));
            f.pay_off += 4 * (k % 3); // IPv4 options move the UDP header
            tb.push(f);
        }
        tb.settle(40_000);
        assert_eq!(tb.got.accepted, sizes.len() as u64);
        let c0 = tb.cpl_log.len();
        tb.nb_post(2, 0, 108, 1, false); // exact fit
        tb.nb_post(2, 1, 20, 1, false); // header only
        tb.nb_post(2, 2, 3 * PAGE, 3, false); // 5008 bytes across a page boundary
        tb.nb_post(2, 3, 20, 1, false); // truncated to 20
        tb.nb_post(2, 4, 5, 1, false); // truncated inside the header
        tb.nb_post(2, 5, 58, 1, false); // exact fit
        tb.settle(60_000);
        let dg = C_DATAGRAM as u64;
        let tr = (C_DATAGRAM | C_TRUNC) as u64;
        assert_eq!(
            rets(&tb, c0),
            vec![
                (0, dg, 108, 0, 8),
                (1, dg, 8, 108, 8),
                (2, dg, 5008, 116, 8),
                (3, tr, 20, 5124, 8),
                (4, tr, 5, 5144, 5),
                (5, dg, 58, 5149, 8),
            ],
            "{model}: datagram returns"
        );
        assert_eq!(tb.got.delivered, 5207, "{model}: bytes written");
        // one datagram still waits; an empty NB and the datagram go with the socket
        let c1 = tb.cpl_log.len();
        tb.sock_del(2);
        tb.settle(20_000);
        assert!(rets(&tb, c1).is_empty());
        tb.nb_post(4, 6, 100, 1, false);
        tb.push(u.datagram(vec![5; 10])); // the socket is gone: nothing matches
        tb.settle(20_000);
        assert_eq!(tb.got.drop[D_NO_SOCKET as usize], 2);
        tb.sock_del(4);
        tb.sock_del(5);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

// ==================================================================== directed: anonymous

/// ANON_POST validation (BAD_NB), FIFO order, TRUNC, frames longer than a page in writes of at
/// most 4096 bytes at ADDR + 4096k, drops under the frame's own reason when no buffer is posted
/// or the frame was stored in part (decision 1), slot reuse, SOCK_REF/FLAGS ignored.
#[test]
fn anonymous_buffers() {
    for model in models() {
        let mut tb = dtb(model, 31);
        let mut rng = ChaCha8Rng::seed_from_u64(31);
        let na = tb.num_anon as u32;
        let a = tb.host_alloc(4 * PAGE, PAGE);
        tb.anon_post_at(na, 100, a, 0, 0); // out of range
        tb.anon_post_at(1, 63, a, 0, 0); // too small
        tb.anon_post_at(1, 16385, a, 0, 0); // too large
        let a3 = tb.host_alloc(64, 64);
        tb.anon_post_at(3, 64, a3, 9, 0x5A); // SOCK_REF and FLAGS are not checked
        tb.anon_post_at(3, 64, a, 0, 0); // slot busy
        let a15 = tb.host_alloc(16384 + 300, PAGE) + 300; // not page-aligned
        tb.anon_post_at(na - 1, 16384, a15, 0, 0);
        tb.anon_post(0, 300);
        tb.settle(20_000);
        let st: Vec<(u64, u64, u64)> = tb
            .cpl_log
            .iter()
            .map(|c| {
                (
                    get(c, spec::cpl::KIND),
                    get(c, spec::cpl::STATUS),
                    get(c, spec::cpl::OPCODE),
                )
            })
            .collect();
        let bad = (
            spec::cpl_kind::CMD_DONE,
            spec::status::BAD_NB,
            OP_ANON_POST as u64,
        );
        assert_eq!(st, vec![bad; 4], "{model}: only the bad posts complete");
        // a socket whose tuple the first frame misses (wrong port)
        let mut c = SockCfg::new(0, &mut rng);
        c.rcv_buf = 5000;
        tb.sock_add(&c);
        tb.settle(10_000);
        let mut f1 = c.frame(1, 0, SYN, vec![3; 146]);
        f1.dport ^= 1;
        tb.push(f1); // NO_SOCKET, 200 bytes -> ref 3 (64): TRUNC
        tb.push(raw_frame(D_NOT_IPV4, 9000, &mut rng)); // ref 15: 3 writes
        tb.push(raw_frame(D_NO_SOCKET, 300, &mut rng)); // another protocol -> ref 0: exact
        tb.push(raw_frame(D_NOT_IPV4, 100, &mut rng)); // no buffer: NOT_IPV4
        tb.push(raw_frame(D_NO_SOCKET, 100, &mut rng)); // no buffer: NO_SOCKET
        tb.settle(40_000);
        let rx: Vec<(u64, u64, u64)> = tb
            .cpl_log
            .iter()
            .filter(|c| get(&c[..], spec::cpl::KIND) == spec::cpl_kind::ANON_RX)
            .map(|c| {
                (
                    get(c, spec::cpl::REF_NUM),
                    get(c, spec::cpl::BYTES),
                    get(c, spec::cpl::FLAGS),
                )
            })
            .collect();
        assert_eq!(
            rx,
            vec![
                (3, 64, C_TRUNC as u64),
                (na as u64 - 1, 9000, 0),
                (0, 300, 0)
            ],
            "{model}: ANON_RX in posting order"
        );
        assert_eq!(tb.got.anon_rx, 3);
        assert_eq!(tb.got.drop[D_NOT_IPV4 as usize], 1);
        assert_eq!(tb.got.drop[D_NO_SOCKET as usize], 1);
        // the slot is free again; frames stored in part are never passed up
        tb.anon_post(3, 1000);
        tb.settle(10_000);
        let mut f6 = raw_frame(D_NOT_IPV4, 2000, &mut rng);
        f6.short_chain = Some(1);
        tb.push(f6);
        let mut f7 = raw_frame(D_NO_SOCKET, 80, &mut rng);
        f7.no_chain = true;
        tb.push(f7);
        tb.push(raw_frame(D_NOT_IPV4, 500, &mut rng));
        tb.settle(20_000);
        assert_eq!(tb.got.anon_rx, 4);
        assert_eq!(tb.got.drop[D_NOT_IPV4 as usize], 2);
        assert_eq!(tb.got.drop[D_NO_SOCKET as usize], 2);
        let last = tb.cpl_log.last().unwrap();
        assert_eq!(
            (get(last, spec::cpl::REF_NUM), get(last, spec::cpl::BYTES)),
            (3, 500)
        );
        assert_eq!(
            tb.got.delivered, 0,
            "{model}: anonymous bytes are not NB deliveries"
        );
        assert_eq!(tb.got.returned, 0);
        tb.sock_del(0);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

// ==================================================================== directed: ARP

/// ARP requests for NIC_IP are answered (exact tx_cmd, VLAN kept, even when not stored);
/// requests for another address and every request while NIC_IP is 0 take the anonymous path.
#[test]
fn arp_responder() {
    for model in models() {
        let mut tb = dtb(model, 41);
        let mut rng = ChaCha8Rng::seed_from_u64(41);
        tb.nic_ip = 0x0A00_00FE;
        tb.nic_mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        tb.anon_post(1, 200);
        tb.settle(10_000);
        let sha1 = [0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F];
        let sha2 = [0xF0, 0xE1, 0xD2, 0xC3, 0xB4, 0xA5];
        tb.push(arp_frame(sha1, 0x0A00_0063, tb.nic_ip, 0, &mut rng));
        tb.push(arp_frame(sha2, 0x0A00_0064, tb.nic_ip, 77, &mut rng));
        let mut f = arp_frame(sha1, 0x0A00_0065, tb.nic_ip, 0, &mut rng);
        f.no_chain = true; // not stored: still answered (decision 2)
        tb.push(f);
        tb.push(arp_frame(sha1, 0x0A00_0063, 0x0A00_00FD, 0, &mut rng)); // not ours: anon
        tb.push(arp_frame(sha1, 0x0A00_0063, 0x0A00_00FD, 0, &mut rng)); // no buffer: drop
        tb.settle(20_000);
        let exp = vec![
            arp_tx_bytes(sha1, tb.nic_mac, 0, tb.nic_ip, 0x0A00_0063),
            arp_tx_bytes(sha2, tb.nic_mac, 77, tb.nic_ip, 0x0A00_0064),
            arp_tx_bytes(sha1, tb.nic_mac, 0, tb.nic_ip, 0x0A00_0065),
        ];
        assert!(tb.tx_log == exp, "{model}: ARP reply commands");
        assert_eq!(get(&tb.tx_log[0], spec::tx_cmd::KIND), spec::tx_kind::ARP);
        assert_eq!((tb.got.arp, tb.got.anon_rx), (3, 1));
        assert_eq!(tb.got.drop[D_NOT_IPV4 as usize], 1);
        // the responder off
        let ip = tb.nic_ip;
        tb.nic_ip = 0;
        tb.push(arp_frame(sha1, 0x0A00_0063, 0, 0, &mut rng));
        tb.push(arp_frame(sha1, 0x0A00_0063, ip, 0, &mut rng));
        tb.settle(20_000);
        tb.anon_post(2, 64);
        tb.settle(10_000);
        tb.push(arp_frame(sha2, 0x0A00_0066, ip, 5, &mut rng));
        tb.settle(20_000);
        assert_eq!(tb.tx_log.len(), 3, "{model}: NIC_IP 0 answers nothing");
        assert_eq!((tb.got.arp, tb.got.anon_rx), (3, 2));
        assert_eq!(tb.got.drop[D_NOT_IPV4 as usize], 3);
        let last = tb.cpl_log.last().unwrap();
        assert_eq!(
            (get(last, spec::cpl::REF_NUM), get(last, spec::cpl::BYTES)),
            (2, 46),
            "{model}: a tagged ARP frame in the anonymous buffer"
        );
        tb.final_checks(true);
    }
}

// ==================================================================== directed: ticks and timeouts

/// Runs `n` spaced ticks (each one settled) and checks CNT_TICKS moved by exactly `n`.
fn ticks(tb: &mut Tb, n: u64) {
    for _ in 0..n {
        let t0 = tb.got.ticks;
        tb.tick();
        tb.settle(20_000);
        assert_eq!(tb.got.ticks, t0 + 1, "one tick per spaced request");
    }
}

/// Only head NBs count down; an NB returned empty on timeout reports the socket's STREAM_OFF;
/// TIMEOUT 0 never expires; a partly filled NB times out with its bytes and the stream goes on
/// in the next one; CNT_TICKS and CNT_TIMEOUTS.
#[test]
fn timeouts_of_head_named_buffers() {
    for model in models() {
        let mut tb = dtb(model, 51);
        let mut rng = ChaCha8Rng::seed_from_u64(51);
        let mut c = SockCfg::new(0, &mut rng);
        c.rcv_buf = 100_000;
        tb.sock_add(&c);
        tb.settle(10_000);
        ticks(&mut tb, 2); // nothing to time out
        let isn = 9u32;
        handshake(&mut tb, &c, isn, None);
        let s = stream_of(3000, 51);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        tb.push(c.frame(seq(0), 0, ACK, s[..300].to_vec()));
        tb.nb_post_t(0, 0, 300, 1, false, 0);
        tb.settle(20_000);
        let c0 = tb.cpl_log.len();
        tb.nb_post_t(0, 1, 1000, 1, false, 2);
        tb.nb_post_t(0, 2, 1000, 1, false, 1);
        tb.nb_post_t(0, 3, 1000, 1, false, 0);
        tb.settle(10_000);
        ticks(&mut tb, 1);
        assert!(rets(&tb, c0).is_empty(), "{model}: NB 1 has a tick left");
        ticks(&mut tb, 1);
        let to = C_TIMEOUT as u64;
        assert_eq!(rets(&tb, c0), vec![(1, to, 0, 300, 0)], "{model}: empty NB");
        ticks(&mut tb, 1); // NB 2 counts only now that it is the head
        assert_eq!(rets(&tb, c0)[1..], [(2, to, 0, 300, 0)]);
        ticks(&mut tb, 3); // NB 3: TIMEOUT 0
        assert_eq!(rets(&tb, c0).len(), 2);
        // NB 3 takes 500 bytes and stays; NB 4 (TIMEOUT 1) behind it does not count
        tb.nb_post_t(0, 4, 400, 1, false, 1);
        tb.push(c.frame(seq(300), 0, ACK, s[300..800].to_vec()));
        tb.settle(20_000);
        ticks(&mut tb, 2);
        assert_eq!(rets(&tb, c0).len(), 2);
        tb.push(c.frame(seq(800), 0, ACK, s[800..1600].to_vec()));
        tb.settle(20_000);
        // NB 3 filled (1000), NB 4 got 300 bytes: its tick returns it
        ticks(&mut tb, 1);
        assert_eq!(
            rets(&tb, c0)[2..],
            [(3, C_FULL as u64, 1000, 300, 0), (4, to, 300, 1300, 0)],
            "{model}: partly filled NB"
        );
        tb.nb_post_t(0, 5, 2000, 1, false, 3);
        tb.push(c.frame(seq(1600), 0, ACK | FIN, s[1600..1800].to_vec()));
        tb.settle(20_000);
        assert_eq!(
            rets(&tb, c0)[4..],
            [(5, C_FIN as u64, 200, 1600, 0)],
            "{model}: the stream goes on in the next NB"
        );
        assert!(tb.osock[0].as_ref().unwrap().delivered == s[..1800]);
        assert_eq!(tb.got.timeouts, 3);
        assert_eq!(tb.got.ticks, 11);
        tb.sock_del(0);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

/// Holds the DMA write request of the next delivery chunk, requests a tick while the engine is
/// inside that delivery step, and lets it go: the tick is the next event (decision 3), between
/// this chunk and the next one.
fn tick_between_chunks(tb: &mut Tb) {
    tb.hold[O_WR_REQ] = true;
    let start = tb.m.cycles();
    while tb.m.get(tb.p.wr_req_valid) == 0 {
        assert!(tb.m.cycles() - start < 20_000, "no delivery chunk");
        tb.cycle();
    }
    tb.tick();
    for _ in 0..30 {
        tb.cycle();
    }
    tb.hold[O_WR_REQ] = false;
}

/// A tick between two chunks of one segment (TCP) or one datagram (UDP, decision 7): the NB
/// times out with the first chunk and the socket is woken, so the rest goes into its next NB
/// (a datagram's rest returned DATAGRAM with HDR_BYTES = min(8, FILLED)).
#[test]
fn timeout_between_chunks_wakes_the_next_buffer() {
    for model in models() {
        let mut tb = dtb(model, 52);
        tb.p_ready = 100;
        tb.p_valid = 100;
        let mut rng = ChaCha8Rng::seed_from_u64(52);
        let mut c = SockCfg::new(0, &mut rng);
        c.rcv_buf = 100_000;
        let mut u = SockCfg::new(1, &mut rng);
        u.proto = PROTO_UDP;
        tb.sock_add(&c);
        tb.sock_add(&u);
        tb.settle(10_000);
        let isn = 77u32;
        handshake(&mut tb, &c, isn, None);
        let s = stream_of(3000, 52);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        // TCP: NB 0 is 5000 bytes over 2 pages; the 1400-byte segment crosses the page end
        tb.nb_post_t(0, 0, 5000, 2, false, 1);
        tb.nb_post_t(0, 1, 5000, 2, false, 0);
        tb.push(c.frame(seq(0), 0, ACK, s[..3000].to_vec()));
        tb.settle(20_000); // 3000 bytes in NB 0 (page 0 not yet full)
        let c0 = tb.cpl_log.len();
        tb.push(c.frame(seq(3000), 0, ACK, stream_of(1400, 53)));
        tick_between_chunks(&mut tb);
        tb.settle(20_000);
        assert_eq!(
            rets(&tb, c0),
            vec![(0, C_TIMEOUT as u64, 4096, 0, 0)],
            "{model}: TCP timeout between chunks"
        );
        let o = tb.osock[0].as_ref().unwrap();
        assert_eq!((o.stream_off, tb.nbs[&1].filled), (4400, 304));
        // UDP: the datagram crosses the end of the NB's first page
        let c1 = tb.cpl_log.len();
        tb.nb_post_t(1, 2, 6000, 2, false, 1);
        tb.nb_post_t(1, 3, 100, 1, false, 0);
        tb.nb_post_t(1, 4, 6000, 2, false, 0);
        tb.settle(10_000);
        tb.push(u.datagram(stream_of(4200, 54)));
        tick_between_chunks(&mut tb);
        tb.settle(20_000);
        tb.push(u.datagram(stream_of(4200, 55)));
        tb.settle(20_000);
        let dg = C_DATAGRAM as u64;
        assert_eq!(
            rets(&tb, c1),
            vec![
                (2, C_TIMEOUT as u64, 4096, 0, 0),
                (3, dg | C_TRUNC as u64, 100, 4096, 8),
                (4, dg, 4208, 4196, 8),
            ],
            "{model}: UDP timeout in the middle of a datagram"
        );
        assert_eq!(tb.got.timeouts, 2);
        tb.sock_del(0);
        tb.sock_del(1);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

/// Tick requests merge: two in consecutive cycles make one tick (the pending flag, decision 4),
/// and any number made while the engine is inside another event (a frame waiting for room in
/// the tx command queue) make one tick after it.
#[test]
fn tick_requests_merge() {
    for model in models() {
        let mut tb = dtb(model, 53);
        let mut rng = ChaCha8Rng::seed_from_u64(53);
        let mut c = SockCfg::new(0, &mut rng);
        c.rcv_buf = 1000;
        tb.sock_add(&c);
        tb.settle(10_000);
        let isn = 1u32;
        handshake(&mut tb, &c, isn, None);
        let t0 = tb.got.ticks;
        tb.tick_now = 2;
        tb.settle(20_000);
        assert_eq!(tb.got.ticks, t0 + 1, "{model}: back-to-back requests");
        // tx held: out-of-window segments (each one an ACK) fill the command queue
        tb.hold[O_TX] = true;
        for k in 0..12 {
            tb.push(c.frame(isn + 5000 + k, 0, ACK, vec![1; 10]));
        }
        let start = tb.m.cycles();
        let (mut picks, mut since) = (tb.meta_picks, tb.m.cycles());
        while tb.m.cycles() - since < 300 || tb.cur_meta.is_none() {
            assert!(
                tb.m.cycles() - start < 20_000,
                "{model}: the engine never waits"
            );
            tb.cycle();
            if tb.meta_picks != picks {
                (picks, since) = (tb.meta_picks, tb.m.cycles());
            }
        }
        let t1 = tb.got.ticks;
        for _ in 0..4 {
            tb.tick();
            for _ in 0..40 {
                tb.cycle();
            }
        }
        assert_eq!(tb.got.ticks, t1, "{model}: no tick inside a frame event");
        tb.hold[O_TX] = false;
        tb.settle(40_000);
        assert_eq!(
            tb.got.ticks,
            t1 + 1,
            "{model}: the requests merged into one tick"
        );
        assert_eq!(tb.got.drop[D_OOW as usize], 12);
        ticks(&mut tb, 2);
        tb.sock_del(0);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

/// The sweep walks the active list from its head (the socket added last); SOCK_DEL unlinks a
/// socket from its middle, its head and its tail, and a re-added socket goes to the head.
#[test]
fn sock_del_in_the_active_list_then_ticks() {
    for model in models() {
        let mut tb = dtb(model, 54);
        let mut rng = ChaCha8Rng::seed_from_u64(54);
        let mut cs: Vec<SockCfg> = (0..4).map(|i| SockCfg::new(i, &mut rng)).collect();
        cs[3].proto = PROTO_UDP;
        for c in &cs {
            tb.sock_add(c);
        }
        tb.settle(10_000); // active list: 3, 2, 1, 0
        for (r, slot) in [(0u32, 0u16), (1, 1), (2, 2), (3, 3)] {
            tb.nb_post_t(slot, r, 100, 1, false, 1);
        }
        tb.settle(10_000);
        let c0 = tb.cpl_log.len();
        tb.sock_del(1); // the middle
        tb.settle(10_000);
        ticks(&mut tb, 1);
        let refs = |tb: &Tb, from: usize| -> Vec<(u64, u64)> {
            rets(tb, from).iter().map(|r| (r.0, r.1)).collect()
        };
        let to = C_TIMEOUT as u64;
        assert_eq!(
            refs(&tb, c0),
            vec![(1, C_DELETE as u64), (3, to), (2, to), (0, to)],
            "{model}: sweep after deleting the middle"
        );
        tb.sock_add(&cs[1]); // active list: 1, 3, 2, 0
        tb.settle(10_000);
        tb.nb_post_t(1, 4, 100, 1, false, 1);
        tb.nb_post_t(0, 5, 100, 1, false, 2);
        tb.nb_post_t(2, 6, 100, 1, false, 1);
        tb.settle(10_000);
        let c1 = tb.cpl_log.len();
        ticks(&mut tb, 2);
        assert_eq!(refs(&tb, c1), vec![(4, to), (6, to), (5, to)], "{model}");
        tb.sock_del(1); // the head
        tb.sock_del(0); // the tail
        tb.settle(10_000);
        tb.nb_post_t(2, 7, 100, 1, false, 1);
        tb.nb_post_t(3, 0, 100, 1, false, 1);
        tb.settle(10_000);
        let c2 = tb.cpl_log.len();
        ticks(&mut tb, 1);
        assert_eq!(refs(&tb, c2), vec![(0, to), (7, to)], "{model}: 3 then 2");
        assert_eq!(tb.got.timeouts, 8);
        tb.sock_del(2);
        tb.sock_del(3);
        tb.settle(10_000);
        ticks(&mut tb, 1); // an empty active list
        tb.final_checks(true);
    }
}

// ==================================================================== directed: backpressure

/// A bit of everything: a TCP connection with reordering, a UDP socket, anonymous frames, ARP
/// requests, NB timeouts; every result is checked by the oracle.
fn mixed_scenario(tb: &mut Tb, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    tb.nic_ip = 0x0A00_0001;
    let mut c = SockCfg::new(0, &mut rng);
    c.rcv_buf = 3000;
    c.wscale = 1;
    let mut u = SockCfg::new(1, &mut rng);
    u.proto = PROTO_UDP;
    tb.sock_add(&c);
    tb.sock_add(&u);
    tb.anon_post(0, 2000);
    tb.anon_post(1, 64);
    tb.settle(20_000);
    let isn = 0xFFFF_FFF0u32;
    handshake(tb, &c, isn, Some(4));
    let s = stream_of(5000, seed);
    let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
    tb.push(c.frame(seq(1000), 0, ACK, s[1000..1800].to_vec()));
    tb.push(c.frame(seq(0), 0, ACK, s[..600].to_vec()));
    tb.push(u.datagram(stream_of(4500, seed + 1)));
    tb.push(arp_frame(rng.gen(), 0x0A00_0009, tb.nic_ip, 0, &mut rng));
    tb.push(raw_frame(D_NOT_IPV4, 1500, &mut rng));
    tb.push(c.frame(seq(500), 0, ACK | PSH, s[500..1000].to_vec()));
    tb.push(u.datagram(stream_of(30, seed + 2)));
    tb.push(raw_frame(D_NO_SOCKET, 300, &mut rng));
    tb.nb_post_t(0, 0, 1000, 1, false, 0);
    tb.nb_post_t(0, 1, 6000, 2, false, 2);
    tb.nb_post_t(1, 2, 6000, 2, false, 0);
    tb.nb_post_t(1, 3, 10, 1, false, 0);
    tb.settle(100_000);
    ticks(tb, 2);
    tb.push(c.frame(seq(1800), 0, ACK | FIN, s[1800..2500].to_vec()));
    tb.nb_post_t(0, 4, 2000, 1, false, 0);
    tb.settle(100_000);
    assert!(tb.osock[0].as_ref().unwrap().delivered == s[..2500]);
    assert_eq!(tb.osock[0].as_ref().unwrap().end_flag, C_FIN);
    tb.sock_del(0);
    tb.sock_del(1);
    tb.settle(40_000);
    assert_eq!((tb.got.anon_rx, tb.got.arp, tb.got.timeouts), (2, 1, 1));
    tb.final_checks(true);
}

#[test]
fn backpressure_on_every_output_stream() {
    for model in models() {
        for slow in 0..=6 {
            let mut tb = Tb::new(model, 60 + slow as u64);
            tb.p_valid = 100;
            let mut p = [100u32; 6];
            if slow < 6 {
                p[slow] = 4;
            } else {
                p = [15; 6];
            }
            tb.p_out = Some(p);
            mixed_scenario(&mut tb, 60 + slow as u64);
        }
    }
}

// ==================================================================== p2p: hold sockets

/// The hold records of an NB read back from host memory: (BUFLET, OFF, LEN, HEAD) of records
/// `from..to` (record r at page-list position 8r).
fn host_records(tb: &mut Tb, pages: &[u64], from: usize, to: usize) -> Vec<(u16, u16, u16, u16)> {
    (from..to)
        .map(|r| {
            let a = pages[8 * r / PAGE] + (8 * r % PAGE) as u64;
            let b = tb.host_slice(a, 8).to_vec();
            let f = |k: usize| u16::from_le_bytes([b[2 * k], b[2 * k + 1]]);
            (f(0), f(1), f(2), f(3))
        })
        .collect()
}

/// (STATUS, BYTES) of the CMD_DONEs from `from` on, with their opcode.
fn cmd_dones(tb: &Tb, from: usize) -> Vec<(u8, u8, u32)> {
    tb.cpl_log[from..]
        .iter()
        .filter(|c| get(*c, spec::cpl::KIND) == spec::cpl_kind::CMD_DONE)
        .map(|c| {
            (
                get(c, spec::cpl::OPCODE) as u8,
                get(c, spec::cpl::STATUS) as u8,
                get(c, spec::cpl::BYTES) as u32,
            )
        })
        .collect()
}

/// p2p delivery (docs/p2p.md): a hold socket's chunks never cross a buflet of the frame's chain
/// and each writes one 8-byte record (BUFLET, OFF, LEN, HEAD) instead of the bytes; the emptied
/// chain is held (the pool free count stays down) and the expose pulses name each record's
/// buflet; HOLD with UDP is BAD_SOCK; a payload socket beside it is unchanged. Then BUF_RELEASE:
/// COUNT 0 and 25, a head not held, out of range, a release, a double release, a request
/// stopped part way, with the free count after each.
#[test]
fn hold_records_held_chains_and_buf_release() {
    for model in models() {
        let mut tb = dtb(model, 40);
        let mut rng = ChaCha8Rng::seed_from_u64(40);
        let (bb, nbuf) = (tb.bb, tb.nbuf);
        let mut h = SockCfg::new(0, &mut rng);
        h.flags = HOLD;
        h.rcv_buf = 1 << 20;
        let mut u = SockCfg::new(1, &mut rng);
        u.proto = PROTO_UDP;
        u.flags = HOLD;
        let mut p = SockCfg::new(2, &mut rng);
        p.rcv_buf = 1 << 20;
        tb.sock_add(&h);
        tb.sock_add(&u);
        tb.sock_add(&p);
        tb.settle(10_000);
        assert_eq!(
            cmd_dones(&tb, 0),
            vec![
                (OP_SOCK_ADD, 0, 0),
                (OP_SOCK_ADD, spec::status::BAD_SOCK as u8, 0),
                (OP_SOCK_ADD, 0, 0)
            ],
            "{model}: HOLD with UDP is BAD_SOCK"
        );
        let isn = 0x5000_0000u32;
        handshake(&mut tb, &h, isn, None);
        handshake(&mut tb, &p, isn, None);
        tb.nb_post(0, 0, 3000, 1, false);
        tb.nb_post(2, 1, 3000, 1, false);
        tb.settle(10_000);
        let pages = tb.nbs[&0].pages.clone();
        let s = stream_of(3000, 41);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        // 700 bytes at DATA_OFF 54: chunks up to each buflet's end
        tb.push(h.frame(seq(0), 0, ACK, s[..700].to_vec()));
        tb.push(p.frame(seq(0), 0, ACK, s[..700].to_vec()));
        tb.settle(40_000);
        let mut lens = vec![bb - 54];
        while lens.iter().sum::<usize>() < 700 {
            let left = 700 - lens.iter().sum::<usize>();
            lens.push(left.min(bb));
        }
        let nrec = lens.len();
        assert_eq!(tb.nbs[&0].recs, nrec);
        let recs = host_records(&mut tb, &pages, 0, nrec);
        let head = recs[0].0;
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(
                r.1 as usize,
                if i == 0 { 54 } else { 0 },
                "{model}: OFF {i}"
            );
            assert_eq!(r.2 as usize, lens[i], "{model}: LEN {i}");
            let hd = if i + 1 == nrec { head } else { NULL16 };
            assert_eq!(r.3, hd, "{model}: HEAD {i}");
            if i + 1 < nrec {
                assert_eq!(
                    tb.link[r.0 as usize],
                    recs[i + 1].0,
                    "{model}: BUFLETs follow the chain"
                );
            }
            let b = r.0 as usize * bb + r.1 as usize;
            let k: usize = lens[..i].iter().sum();
            assert!(
                tb.ram[b..b + lens[i]] == s[k..k + lens[i]],
                "{model}: record {i} points at its bytes"
            );
        }
        assert_eq!(
            tb.exposed,
            recs.iter().map(|r| r.0).collect::<Vec<_>>(),
            "{model}: one expose pulse per record, naming its BUFLET"
        );
        assert_eq!(tb.got.hold_recs, nrec as u64);
        // the payload socket's bytes went to host memory as before; its chain is free
        assert!(tb.osock[2].as_ref().unwrap().delivered == s[..700]);
        assert_eq!(
            tb.free.len(),
            nbuf - nrec,
            "{model}: the held chain is not free"
        );
        assert!(tb.held.contains(&head));
        // a second segment: one more held chain
        tb.push(h.frame(seq(700), 0, ACK, s[700..760].to_vec()));
        tb.settle(40_000);
        let r2 = host_records(&mut tb, &pages, nrec, nrec + 1)[0];
        assert_eq!(
            (r2.1, r2.2, r2.3),
            (54, 60, r2.0),
            "{model}: a one-buflet segment"
        );
        let head2 = r2.0;
        assert_eq!(tb.free.len(), nbuf - nrec - 1);
        // BUF_RELEASE: bad requests release nothing
        let c0 = tb.cpl_log.len();
        let not_held = (0..nbuf as u16)
            .find(|b| *b != head && *b != head2)
            .unwrap();
        tb.buf_release_n(0, &[head]);
        tb.buf_release_n(25, &[head]);
        tb.buf_release(&[not_held]);
        tb.buf_release(&[nbuf as u16]);
        tb.buf_release(&[NULL16]);
        tb.settle(20_000);
        assert_eq!(tb.free.len(), nbuf - nrec - 1, "{model}: nothing released");
        // release the first, again (not held any more), then both with the first twice
        tb.buf_release(&[head]);
        tb.settle(20_000);
        assert_eq!(tb.free.len(), nbuf - 1, "{model}: the first chain released");
        tb.buf_release(&[head]);
        tb.buf_release(&[head2, head, head2]);
        tb.settle(20_000);
        let bad = spec::status::BAD_BUF as u8;
        assert_eq!(
            cmd_dones(&tb, c0),
            vec![
                (OP_BUF_RELEASE, bad, 0),
                (OP_BUF_RELEASE, bad, 0),
                (OP_BUF_RELEASE, bad, 0),
                (OP_BUF_RELEASE, bad, 0),
                (OP_BUF_RELEASE, bad, 0),
                (OP_BUF_RELEASE, 0, 1),
                (OP_BUF_RELEASE, bad, 0),
                (OP_BUF_RELEASE, bad, 1),
            ],
            "{model}: BUF_RELEASE completions (opcode, status, bytes)"
        );
        assert_eq!(tb.free.len(), nbuf, "{model}: every chain back");
        assert_eq!(tb.got.released, 2);
        // a full 24-head release
        let c1 = tb.cpl_log.len();
        for k in 0..RELEASE_MAX {
            tb.push(h.frame(seq(760 + k), 0, ACK, s[760 + k..761 + k].to_vec()));
        }
        tb.settle(60_000);
        assert_eq!(tb.held.len(), RELEASE_MAX);
        tb.release_all();
        tb.settle(20_000);
        assert_eq!(
            cmd_dones(&tb, c1),
            vec![(OP_BUF_RELEASE, 0, RELEASE_MAX as u32)]
        );
        assert_eq!(tb.free.len(), nbuf);
        // the buffers end: NB_RETURN BYTES counts payload bytes, not record bytes
        let c2 = tb.cpl_log.len();
        tb.sock_del(0);
        tb.sock_del(2);
        tb.settle(20_000);
        let r = rets(&tb, c2);
        assert_eq!(
            (r[0].0, r[0].1, r[0].2),
            (0, C_DELETE as u64, 784),
            "{model}: the hold NB's BYTES count payload bytes"
        );
        tb.final_checks(true);
    }
}

/// Record positions: record r goes to page[(8r) / 4096] + (8r) mod 4096 (the page list is read
/// again for page 1), and the NB is returned FULL when RECS reaches HMD_PAGES * 512 (no room for
/// another record) as well as on TOTAL_BYTES.
#[test]
fn hold_record_positions_across_pages_and_full_on_record_room() {
    for model in models() {
        let mut tb = dtb(model, 42);
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut h = SockCfg::new(3, &mut rng);
        h.flags = HOLD;
        h.rcv_buf = 1 << 20;
        tb.sock_add(&h);
        tb.settle(10_000);
        let isn = 0x0123_4567u32;
        handshake(&mut tb, &h, isn, None);
        // NB 0: one page, room for 512 records; NB 1: two pages, TOTAL 540 * 5 bytes
        tb.nb_post(3, 0, PAGE, 1, false);
        tb.nb_post(3, 1, 540 * 5, 2, false);
        tb.settle(10_000);
        let p1 = tb.nbs[&1].pages.clone();
        let s = stream_of(1052 * 5, 43);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        let c0 = tb.cpl_log.len();
        let mut k = 0;
        while k < 1052 {
            for _ in 0..40.min(1052 - k) {
                tb.push(h.frame(seq(5 * k), 0, ACK, s[5 * k..5 * k + 5].to_vec()));
                k += 1;
            }
            tb.settle(100_000);
            tb.release_all();
            tb.settle(100_000);
        }
        let r = rets(&tb, c0);
        assert_eq!(
            r.iter().map(|x| (x.0, x.1, x.2)).collect::<Vec<_>>(),
            vec![(0, C_FULL as u64, 512 * 5), (1, C_FULL as u64, 540 * 5)],
            "{model}: FULL on record room, then on TOTAL_BYTES"
        );
        assert_eq!(*tb.cov.get("hold_full_recs").unwrap_or(&0), 1);
        // NB 1's records 510..540 straddle its two pages
        let recs = host_records(&mut tb, &p1, 510, 540);
        for (i, r) in recs.iter().enumerate() {
            assert_eq!((r.1, r.2, r.3), (54, 5, r.0), "{model}: record {}", 510 + i);
        }
        assert_eq!(tb.got.hold_recs, 1052);
        tb.sock_del(3);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

/// A hold FIN segment: its last record names the head, the chain is held (not freed) and the
/// NB is returned FIN; SOCK_DEL frees a partly delivered head segment (its records had HEAD
/// 0xFFFF) but leaves held chains alone, including a FIN segment emptied by its last record that
/// still waits on the list for its return; they are released after the SOCK_DEL.
#[test]
fn hold_fin_and_sock_del_leave_held_chains() {
    for model in models() {
        let mut tb = dtb(model, 44);
        let mut rng = ChaCha8Rng::seed_from_u64(44);
        let nbuf = tb.nbuf;
        let mut h = SockCfg::new(4, &mut rng);
        h.flags = HOLD;
        h.rcv_buf = 1 << 20;
        let mut g = SockCfg::new(5, &mut rng);
        g.flags = HOLD | PSH_RETURN;
        g.rcv_buf = 1 << 20;
        tb.sock_add(&h);
        tb.sock_add(&g);
        tb.settle(10_000);
        let isn = 0x0999_0000u32;
        handshake(&mut tb, &h, isn, None);
        handshake(&mut tb, &g, isn, None);
        let s = stream_of(2000, 45);
        let seq = |k: usize| isn.wrapping_add(1).wrapping_add(k as u32);
        // h: 300 bytes + FIN that fill an NB exactly: FULL; the emptied FIN segment waits on
        // the list for the next NB, its chain held. Released now, it is no longer held but is
        // freed only with its segment, at the FIN return.
        let c0 = tb.cpl_log.len();
        tb.nb_post(4, 0, 300, 1, false);
        tb.push(h.frame(seq(0), 0, ACK | FIN, s[..300].to_vec()));
        tb.settle(40_000);
        let r = rets(&tb, c0);
        assert_eq!(
            (r[0].0, r[0].1, r[0].2),
            (0, C_FULL as u64, 300),
            "{model}: FULL return"
        );
        assert_eq!(tb.held.len(), 1, "{model}: the FIN segment's chain is held");
        let fin_chain = *tb.held.iter().next().unwrap();
        assert!(tb.chains.contains_key(&fin_chain), "{model}: not freed");
        let free0 = tb.free.len();
        let c0b = tb.cpl_log.len();
        tb.buf_release(&[fin_chain]);
        tb.settle(20_000);
        assert_eq!(cmd_dones(&tb, c0b), vec![(OP_BUF_RELEASE, 0, 1)]);
        assert_eq!(tb.free.len(), free0, "{model}: released, not yet freed");
        assert!(tb.chains.contains_key(&fin_chain));
        tb.nb_post(4, 0, 1000, 1, false);
        tb.settle(20_000);
        let r = rets(&tb, c0b);
        assert_eq!(
            (r[0].0, r[0].1, r[0].2),
            (0, C_FIN as u64, 0),
            "{model}: FIN return"
        );
        assert!(
            !tb.chains.contains_key(&fin_chain),
            "{model}: freed with its segment"
        );
        assert!(tb.free.len() > free0);
        // g: a PSH segment returns PSH; then a 700-byte segment into a 300-byte NB (FULL, the
        // segment partly delivered), then a FIN segment that exactly fills the next NB (FULL;
        // the emptied FIN segment stays on the list, held, waiting for an NB)
        let c1 = tb.cpl_log.len();
        tb.nb_post(5, 1, 1000, 1, false);
        tb.push(g.frame(seq(0), 0, ACK | PSH, s[..100].to_vec()));
        tb.settle(40_000);
        tb.nb_post(5, 2, 300, 1, false);
        tb.push(g.frame(seq(100), 0, ACK, s[100..800].to_vec()));
        tb.settle(40_000);
        let r = rets(&tb, c1);
        assert_eq!(
            r.iter().map(|x| (x.0, x.1, x.2)).collect::<Vec<_>>(),
            vec![(1, C_PSH as u64, 100), (2, C_FULL as u64, 300)],
            "{model}: PSH and FULL returns of a hold socket"
        );
        let held_before = tb.held.len();
        assert_eq!(held_before, 1, "{model}: g's PSH segment chain");
        let free_before = tb.free.len();
        // SOCK_DEL of g: the partly delivered 700-byte segment is freed, held chains are not
        let c2 = tb.cpl_log.len();
        tb.sock_del(5);
        tb.settle(40_000);
        assert_eq!(cmd_dones(&tb, c2), vec![(OP_SOCK_DEL, 0, 0)]);
        assert!(
            tb.free.len() > free_before,
            "{model}: the partly delivered segment is freed"
        );
        assert_eq!(tb.held.len(), held_before);
        // g again: the FIN segment that fills its NB exactly waits on the list, held
        tb.sock_add(&g);
        tb.settle(10_000);
        handshake(&mut tb, &g, isn, None);
        let c3 = tb.cpl_log.len();
        tb.nb_post(5, 3, 200, 1, false);
        tb.push(g.frame(seq(0), 0, ACK | FIN, s[..200].to_vec()));
        tb.settle(40_000);
        let r = rets(&tb, c3);
        assert_eq!((r[0].0, r[0].1, r[0].2), (3, C_FULL as u64, 200));
        assert_eq!(tb.held.len(), held_before + 1);
        tb.sock_del(5);
        tb.settle(40_000);
        assert_eq!(
            tb.held.len(),
            held_before + 1,
            "{model}: SOCK_DEL leaves held chains"
        );
        tb.release_all();
        tb.settle(20_000);
        assert_eq!(
            tb.free.len(),
            nbuf,
            "{model}: every chain back after the releases"
        );
        tb.sock_del(4);
        tb.settle(20_000);
        tb.final_checks(true);
    }
}

/// The return a TCP chunk causes (tcp-receive.md "Delivery additions"): `FULL` when it filled
/// the buffer, else `PSH` when it emptied a PSH/URG segment without FIN/RST on a PSH_RETURN
/// socket; `None` when the buffer stays.
fn chunk_return(nb: &Nb, emptied: bool, flags: u8, full: bool, sock_flags: u8) -> Option<RetExp> {
    let psh = emptied
        && flags & (FIN | RST) == 0
        && flags & (PSH | URG) != 0
        && sock_flags & PSH_RETURN != 0;
    (full || psh).then_some(RetExp {
        flags: if full { C_FULL } else { C_PSH },
        status: 0,
        bytes: nb.filled,
        stream_off: nb.stream_off,
        hdr: 0,
    })
}
