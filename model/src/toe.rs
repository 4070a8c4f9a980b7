//! Socket table, hash lookup, the TCP receive engine of docs/tcp-receive.md (state machine,
//! acceptability, trimming, reassembly, ACK and SYN-ACK generation), named buffers and
//! delivery (rtl/toe_engine.v); and the paths of docs/rx-paths.md: UDP sockets and datagram
//! delivery, anonymous buffers, the ARP responder and the named-buffer timeout sweep; and the
//! p2p hold sockets of docs/p2p.md (hold records instead of payload, held chains,
//! `BUF_RELEASE`).

use std::collections::{HashMap, VecDeque};

use buflet_platform::{Agent, DeviceConfig, HostEnv};
use buflet_spec::{
    anon_desc, buf_release, cpl_flag, cpl_kind, drop, get, hold_rec, nb_desc, op, param, put, reg,
    req_hdr, sock_desc, sock_flag, sock_state, status, tx_kind, tx_opt,
};

use crate::buflets::Chain;
use crate::parse::{tcp_flag, Parsed, MAX_WSCALE};
use crate::tx::TxCmd;
use crate::{costs, dma_read, dma_write, prot, Cpl, Meta, ModelDevice, REQ_BYTES};

const PAGE: u64 = param::PAGE_BYTES;
/// IP protocol numbers a socket may have.
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
/// UDP header bytes.
const UDP_HDR: u32 = 8;
/// Largest RCV_BUF a SOCK_ADD may ask for.
const MAX_RCV_BUF: u64 = 1 << 30;

/// Hash bucket of a 4-tuple, exactly as toe_engine computes it (architecture.md).
pub fn hash_bucket(
    remote_ip: u32,
    local_ip: u32,
    remote_port: u16,
    local_port: u16,
    buckets: u32,
) -> u32 {
    let mut x = remote_ip ^ local_ip ^ ((remote_port as u32) << 16 | local_port as u32);
    x ^= x >> 16;
    x ^= x >> 8;
    x % buckets
}

/// `rel(x)`: `(x - base) mod 2^32` as a signed 32-bit number, widened.
fn rel(x: u32, base: u32) -> i64 {
    x.wrapping_sub(base) as i32 as i64
}

/// Socket match key: local/remote IP and port, VLAN id and IP protocol (rx-paths.md: a frame
/// matches a socket only when the protocol matches too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
struct Key {
    proto: u8,
    local_ip: u32,
    remote_ip: u32,
    local_port: u16,
    remote_port: u16,
    vlan: u16,
}

/// A segment on a socket's in-order or reassembly list (the fields of its `buflet_hdr`).
#[derive(Debug, Clone, Copy)]
struct Seg {
    chain: Chain,
    data_off: u16,
    data_len: u16,
    seq: u32,
    flags: u8,
}

impl Seg {
    fn fin(&self) -> u32 {
        (self.flags & tcp_flag::FIN != 0) as u32
    }
}

/// The host part of a socket (`sock_desc`), kept as posted.
#[derive(Debug, Clone, Copy, Default)]
struct Desc {
    flags: u8,
    local_mac: [u8; 6],
    remote_mac: [u8; 6],
    key: Key,
    iss: u32,
    rcv_buf: u32,
    mss: u16,
    rcv_wscale: u8,
}

/// One socket slot: `sock_desc` plus the NIC-owned `sock_ctx` (the lists are modelled as
/// queues; the RTL links them through `buflet_hdr.NEXT_SEG` and `nb_desc.NEXT_NB`).
#[derive(Debug, Default)]
struct Sock {
    d: Desc,
    state: u8,
    ws_ok: bool,
    rcv_nxt: u32,
    irs: u32,
    stream_off: u64,
    /// RCV_WND_EDGE: the right edge of the window last advertised (it never moves left).
    wnd_edge: u32,
    /// In-order segment list (SEG_HEAD..SEG_TAIL).
    segs: VecDeque<Seg>,
    /// Reassembly list (OOO_HEAD), sorted by SEQ, never overlapping.
    ooo: VecDeque<Seg>,
    nbs: VecDeque<u16>,
    /// On the engine's ready list (has a segment and an NB).
    queued: bool,
}

impl Sock {
    fn is_udp(&self) -> bool {
        self.d.key.proto == PROTO_UDP
    }

    /// A hold socket (`sock_flag::HOLD`, docs/p2p.md): delivery writes hold records.
    fn is_hold(&self) -> bool {
        self.d.flags as u64 & sock_flag::HOLD != 0
    }

    /// `pool_room` of docs/tcp-receive.md "The window", from the sampled free buflet count.
    fn pool_room(cfg: &DeviceConfig, free: u32) -> u64 {
        let reserve = cfg.num_buflets as u64 / param::POOL_RESERVE_DIV;
        let free = free as u64;
        if free > reserve {
            (free - reserve) * (cfg.buflet_bytes as u64 / 2)
        } else {
            0
        }
    }

    /// `win(rcv_nxt)` of docs/tcp-receive.md with the sampled free buflet count `free`.
    fn win(&self, cfg: &DeviceConfig, rcv_nxt: u32, free: u32) -> u64 {
        let held = rcv_nxt
            .wrapping_sub(self.irs)
            .wrapping_sub(1)
            .wrapping_sub(self.stream_off as u32) as u64;
        let rcv_buf = self.d.rcv_buf as u64;
        let sock_room = rcv_buf.saturating_sub(held);
        sock_room.min(Self::pool_room(cfg, free))
    }

    /// `promised`: the part of the window already advertised right of RCV_NXT
    /// (`rel(RCV_WND_EDGE)` when positive, else 0).
    fn promised(&self) -> u64 {
        rel(self.wnd_edge, self.rcv_nxt).max(0) as u64
    }

    /// `wnd = max(win, promised)`: the window of the acceptability test and of trimming,
    /// evaluated with RCV_NXT before the segment.
    fn wnd(&self, cfg: &DeviceConfig, free: u32) -> u64 {
        self.win(cfg, self.rcv_nxt, free).max(self.promised())
    }

    /// The edge update rule: the window `field` just advertised (in units of `2^shift`) moves
    /// RCV_WND_EDGE to `RCV_NXT + (field << shift)` only when that lies right of it.
    fn advance_edge(&mut self, field: u64, shift: u8) {
        let edge = self.rcv_nxt.wrapping_add((field << shift) as u32);
        if rel(edge, self.rcv_nxt) > rel(self.wnd_edge, self.rcv_nxt) {
            self.wnd_edge = edge;
        }
    }

    /// The `tx_cmd` of a frame to the peer of this socket, without SEQ/ACK/window/flags.
    fn tx_base(&self) -> TxCmd {
        let d = &self.d;
        TxCmd {
            dst_mac: d.remote_mac,
            src_mac: d.local_mac,
            vlan: d.key.vlan,
            src_ip: d.key.local_ip,
            dst_ip: d.key.remote_ip,
            src_port: d.key.local_port,
            dst_port: d.key.remote_port,
            ..TxCmd::default()
        }
    }

    /// An ACK for the current RCV_NXT; its window is `adv` of "The window", and the edge
    /// update rule runs.
    fn ack(&mut self, cfg: &DeviceConfig, free: u32) -> TxCmd {
        let shift = if self.ws_ok { self.d.rcv_wscale } else { 0 };
        let promised = self.promised();
        let adv = if Self::pool_room(cfg, free) == 0 {
            0 // no buflets: close, keep the promise
        } else if !self.ooo.is_empty() && promised > 0 {
            promised // loss episode: freeze the edge
        } else {
            self.win(cfg, self.rcv_nxt, free).max(promised)
        };
        let field = (adv >> shift).min(65535);
        self.advance_edge(field, shift);
        TxCmd {
            seq: self.d.iss.wrapping_add(1),
            ack: self.rcv_nxt,
            window: field as u16,
            flags: tcp_flag::ACK,
            ..self.tx_base()
        }
    }

    /// The SYN-ACK (window `min(win, 65535)`, never scaled; options MSS and, if the SYN had
    /// it, window scale). The edge update rule runs with `shift = 0`.
    fn syn_ack(&mut self, cfg: &DeviceConfig, free: u32) -> TxCmd {
        let field = self.win(cfg, self.rcv_nxt, free).min(65535);
        self.advance_edge(field, 0);
        let mut opts = tx_opt::MSS as u8;
        if self.ws_ok {
            opts |= tx_opt::WS as u8;
        }
        TxCmd {
            seq: self.d.iss,
            ack: self.irs.wrapping_add(1),
            window: field as u16,
            flags: tcp_flag::SYN | tcp_flag::ACK,
            opts,
            mss: self.d.mss,
            wscale: self.d.rcv_wscale,
            ..self.tx_base()
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Nb {
    sock_ref: u16,
    tag: u32,
    total: u32,
    filled: u32,
    /// RECS: hold records written so far (hold sockets only; reset by NB_POST). A 16-bit
    /// field (`nb_desc.RECS`) that wraps like the RTL's: with `HMD_PAGES >= 128` the record
    /// room is never reached and record 65536 lands at position 0 again (a spec gap, reported).
    recs: u16,
    hmd_addr: u64,
    /// HMD_PAGES as posted (the page list is `8 * hmd_pages` bytes).
    hmd_pages: u64,
    stream_off: u64,
    /// TIMEOUT as posted (0 = never).
    timeout: u32,
    /// TICKS_LEFT: set from TIMEOUT by NB_POST, counted down while the NB is a head.
    ticks_left: u32,
}

/// A posted anonymous buffer (`anon_desc`).
#[derive(Debug, Clone, Copy)]
struct Anon {
    tag: u32,
    len: u32,
    addr: u64,
}

/// toe_engine state.
pub(crate) struct Toe {
    socks: Vec<Sock>,
    nbs: Vec<Option<Nb>>,
    /// 4-tuple + VLAN -> sockets with that key, oldest first; the newest is at the head of its
    /// hash chain (SOCK_ADD inserts at the head), so it is the one that matches.
    map: HashMap<Key, Vec<u16>>,
    /// Sockets with both a segment and a named buffer, served round robin.
    ready: VecDeque<u16>,
    /// The one-entry page address cache: (NB slot, page index, page address).
    page_cache: Option<(u16, u32, u64)>,
    scratch: Vec<u8>,
    /// The active list (ACT_NEXT links), head first: SOCK_ADD inserts at the head.
    active: VecDeque<u16>,
    /// Anonymous buffer slots.
    anon: Vec<Option<Anon>>,
    /// The anonymous list: posted slots, first posted first used.
    anon_q: VecDeque<u32>,
}

impl Toe {
    pub fn new(cfg: &DeviceConfig) -> Self {
        Toe {
            socks: (0..cfg.num_sockets).map(|_| Sock::default()).collect(),
            nbs: vec![None; cfg.num_nbs as usize],
            map: HashMap::new(),
            ready: VecDeque::new(),
            page_cache: None,
            scratch: vec![0; PAGE as usize],
            active: VecDeque::new(),
            anon: vec![None; cfg.num_anon as usize],
            anon_q: VecDeque::new(),
        }
    }

    fn lookup(&self, key: &Key) -> Option<u16> {
        self.map.get(key).and_then(|v| v.last().copied())
    }

    /// Put socket `s` on the ready list if it can deliver and is not there yet.
    fn wake(&mut self, s: u16) {
        let sock = &mut self.socks[s as usize];
        if !sock.queued && !sock.segs.is_empty() && !sock.nbs.is_empty() {
            sock.queued = true;
            self.ready.push_back(s);
        }
    }
}

/// What happens to a frame's buflet chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Linked into one of the socket's lists.
    Kept,
    /// Freed, no counter.
    Consumed,
    /// Freed, drop counter of this reason.
    Drop(u64),
}

/// The result of the TCP rules for one frame.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    fate: Fate,
    tx: Option<TxCmd>,
    /// List steps charged (`costs::LIST_STEP` each).
    steps: u64,
    accepted: bool,
    ooo_held: bool,
}

impl Outcome {
    fn new(fate: Fate) -> Self {
        Outcome {
            fate,
            tx: None,
            steps: 0,
            accepted: false,
            ooo_held: false,
        }
    }
}

/// The ESTAB / CLOSE_WAIT rules of docs/tcp-receive.md for one segment.
fn established(
    cfg: &DeviceConfig,
    sock: &mut Sock,
    p: &Parsed,
    chain: Chain,
    free: u32,
) -> Outcome {
    let flags0 = p.flags;
    let syn = flags0 & tcp_flag::SYN != 0;
    let fin = flags0 & tcp_flag::FIN != 0;
    let rst = flags0 & tcp_flag::RST != 0;
    let mut len = p.pay_len as i64;
    let seg_len = len + syn as i64 + fin as i64;
    let wnd = sock.wnd(cfg, free) as i64;
    let mut off = rel(p.seq, sock.rcv_nxt);
    let in_wnd = |x: i64| 0 <= x && x < wnd;

    // 1. Acceptability.
    let acceptable = if seg_len == 0 {
        if wnd == 0 {
            off == 0
        } else {
            in_wnd(off)
        }
    } else {
        wnd > 0 && (in_wnd(off) || in_wnd(off + seg_len - 1))
    };
    let ack_and = |sock: &mut Sock, fate: Fate| Outcome {
        tx: Some(sock.ack(cfg, free)),
        ..Outcome::new(fate)
    };
    if !acceptable {
        if rst {
            return Outcome::new(Fate::Drop(drop::OUT_OF_WINDOW));
        }
        return ack_and(sock, Fate::Drop(drop::OUT_OF_WINDOW));
    }
    // 2. RST.
    if rst {
        if off != 0 {
            return ack_and(sock, Fate::Drop(drop::OUT_OF_WINDOW));
        }
        sock.state = sock_state::CLOSED as u8;
        sock.segs.push_back(Seg {
            chain,
            data_off: p.pay_off,
            data_len: 0,
            seq: p.seq,
            flags: flags0,
        });
        return Outcome {
            steps: 1,
            ..Outcome::new(Fate::Kept)
        };
    }
    // 3. SYN.
    if syn {
        return ack_and(sock, Fate::Drop(drop::BAD_STATE));
    }
    // 4. CLOSE_WAIT.
    if sock.state == sock_state::CLOSE_WAIT as u8 {
        if seg_len > 0 {
            return ack_and(sock, Fate::Drop(drop::BAD_STATE));
        }
        return Outcome::new(Fate::Consumed);
    }
    // 5. Trim to the window.
    let mut flags = flags0;
    let mut data_off = p.pay_off as i64;
    let mut seq = p.seq;
    if off < 0 {
        let d = -off;
        data_off += d;
        len -= d;
        seq = seq.wrapping_add(d as u32);
        off = 0;
    }
    if off + len > wnd {
        len = wnd - off;
        flags &= !(tcp_flag::FIN | tcp_flag::PSH);
    }
    let fin = flags & tcp_flag::FIN != 0;
    if len == 0 && !fin {
        return Outcome::new(Fate::Consumed);
    }
    let mut out = Outcome::new(Fate::Kept);
    if off == 0 {
        // 6. In order: cut at the reassembly head, append, drain.
        if let Some(h) = sock.ooo.front() {
            out.steps += 1;
            let hr = rel(h.seq, sock.rcv_nxt);
            if hr < len {
                len = hr;
                flags &= !(tcp_flag::FIN | tcp_flag::PSH);
            }
        }
        let seg = Seg {
            chain,
            data_off: data_off as u16,
            data_len: len as u16,
            seq,
            flags,
        };
        sock.rcv_nxt = sock.rcv_nxt.wrapping_add(len as u32 + seg.fin());
        if seg.fin() != 0 {
            sock.state = sock_state::CLOSE_WAIT as u8;
        }
        out.accepted = len > 0;
        sock.segs.push_back(seg);
        out.steps += 1;
        while sock.state == sock_state::ESTAB as u8
            && sock.ooo.front().is_some_and(|h| h.seq == sock.rcv_nxt)
        {
            let h = sock.ooo.pop_front().expect("reassembly head");
            sock.rcv_nxt = sock.rcv_nxt.wrapping_add(h.data_len as u32 + h.fin());
            if h.fin() != 0 {
                sock.state = sock_state::CLOSE_WAIT as u8;
            }
            sock.segs.push_back(h);
            out.steps += 1;
        }
        out.tx = Some(sock.ack(cfg, free));
        return out;
    }
    // 7. Ahead. The ACK follows the insertion (its window depends on OOO_HEAD).
    if len == 0 {
        out.tx = Some(sock.ack(cfg, free));
        out.fate = Fate::Drop(drop::OUT_OF_ORDER);
        return out;
    }
    // Insertion into the reassembly list; `visited` counts the elements read.
    let base = sock.rcv_nxt;
    let start = |c: &Seg| rel(c.seq, base);
    let n = sock.ooo.len();
    let mut i = 0;
    while i < n && start(&sock.ooo[i]) + sock.ooo[i].data_len as i64 <= off {
        i += 1;
    }
    let mut visited = (i + 1).min(n) as u64;
    if i < n && start(&sock.ooo[i]) <= off {
        let c = &sock.ooo[i];
        let d = start(c) + c.data_len as i64 - off;
        if d >= len {
            out.steps += visited;
            out.fate = Fate::Drop(drop::DUPLICATE);
            out.tx = Some(sock.ack(cfg, free));
            return out;
        }
        data_off += d;
        len -= d;
        seq = seq.wrapping_add(d as u32);
        off += d;
        i += 1;
        if i < n {
            visited += 1;
        }
    }
    out.steps += visited;
    if i < n && start(&sock.ooo[i]) < off + len {
        len = start(&sock.ooo[i]) - off;
        flags &= !(tcp_flag::FIN | tcp_flag::PSH);
    }
    if len == 0 {
        out.fate = Fate::Drop(drop::DUPLICATE);
        out.tx = Some(sock.ack(cfg, free));
        return out;
    }
    sock.ooo.insert(
        i,
        Seg {
            chain,
            data_off: data_off as u16,
            data_len: len as u16,
            seq,
            flags,
        },
    );
    out.steps += 1;
    out.ooo_held = true;
    out.tx = Some(sock.ack(cfg, free));
    out
}

impl ModelDevice {
    pub(crate) fn engine_has_work(&self) -> bool {
        !self.meta_q.is_empty()
            || self.toe_req.is_some()
            || !self.toe.ready.is_empty()
            || self.tick_pending
    }

    /// One toe_engine job: the next source in round-robin order among frame metadata,
    /// requests, delivery and the pending timer tick (in that order, rx-paths.md leaves it
    /// open).
    pub(crate) fn engine_step(&mut self, env: &mut HostEnv) {
        const SOURCES: usize = 4;
        for i in 0..SOURCES {
            let src = (self.engine_rr + i) % SOURCES;
            let done = match src {
                0 if !self.meta_q.is_empty() => {
                    let m = self.meta_q.pop_front().expect("meta");
                    self.engine_frame(env, m)
                }
                1 if self.toe_req.is_some() => {
                    let e = self.toe_req.take().expect("req");
                    self.engine_req(&e)
                }
                2 if !self.toe.ready.is_empty() => self.engine_deliver(env),
                3 if self.tick_pending => {
                    self.take_tick();
                    self.engine_tick()
                }
                _ => continue,
            };
            self.engine_rr = (src + 1) % SOURCES;
            self.engine_free = done.max(self.now + 1);
            return;
        }
    }

    fn drop_frame(&mut self, chain: Chain, reason: u64) {
        self.pool.free_chain(chain);
        self.regs.count_drop(reason as u8);
    }

    /// Socket lookup and the TCP receive rules for one frame's metadata (or the ARP answer,
    /// UDP receive, anonymous delivery). Returns the cycle the engine is done with it
    /// (including handing its tx command to tx_builder, or its anonymous delivery).
    fn engine_frame(&mut self, env: &mut HostEnv, m: Meta) -> u64 {
        let p = m.p;
        let base = self.now + costs::ENGINE_FRAME;
        if p.reason != 0 {
            let reason = p.reason as u64;
            if reason == drop::NOT_IPV4 {
                let nic_ip = self.regs.nic_ip;
                if p.arp_req && nic_ip != 0 && p.dst_ip == nic_ip {
                    return self.arp_answer(&p, m.chain, base);
                }
            }
            if reason == drop::NOT_IPV4 || reason == drop::NO_SOCKET {
                return self.anon_or_drop(env, &m, reason, base);
            }
            self.drop_frame(m.chain, reason);
            return base;
        }
        let key = Key {
            proto: if p.udp { PROTO_UDP } else { PROTO_TCP },
            local_ip: p.dst_ip,
            remote_ip: p.src_ip,
            local_port: p.dst_port,
            remote_port: p.src_port,
            vlan: p.vlan,
        };
        let Some(s) = self.toe.lookup(&key) else {
            return self.anon_or_drop(env, &m, drop::NO_SOCKET, base);
        };
        if p.udp {
            // rx-paths.md, UDP "Receive": the whole datagram (header and payload) is one
            // segment; no ACK, no window, no reassembly.
            let seg = Seg {
                chain: m.chain,
                data_off: p.pay_off - UDP_HDR as u16,
                data_len: p.pay_len + UDP_HDR as u16,
                seq: 0,
                flags: 0,
            };
            self.toe.socks[s as usize].segs.push_back(seg);
            self.toe.wake(s);
            self.regs.count(reg::CNT_RX_ACCEPTED, 1);
            return base + costs::LIST_STEP;
        }
        // The window's free buflet count, sampled as the engine picks the metadata.
        let free = self.free_sample();
        let cfg = &self.cfg;
        let sock = &mut self.toe.socks[s as usize];
        let flags = p.flags;
        let has = |f: u8| flags & f != 0;
        let out = match sock.state as u64 {
            sock_state::LISTEN => {
                if has(tcp_flag::RST) || !has(tcp_flag::SYN) || has(tcp_flag::ACK) {
                    Outcome::new(Fate::Drop(drop::BAD_STATE))
                } else {
                    sock.irs = p.seq;
                    sock.rcv_nxt = p.seq.wrapping_add(1);
                    sock.stream_off = 0;
                    sock.ws_ok = p.ws_valid;
                    sock.state = sock_state::SYN_RCVD as u8;
                    // The SYN that enters SYN_RCVD starts the edge at RCV_NXT.
                    sock.wnd_edge = sock.rcv_nxt;
                    Outcome {
                        tx: Some(sock.syn_ack(cfg, free)),
                        ..Outcome::new(Fate::Consumed)
                    }
                }
            }
            sock_state::SYN_RCVD => {
                if has(tcp_flag::RST) {
                    if p.seq == sock.rcv_nxt {
                        sock.state = sock_state::LISTEN as u8;
                        Outcome::new(Fate::Consumed)
                    } else {
                        Outcome::new(Fate::Drop(drop::OUT_OF_WINDOW))
                    }
                } else if has(tcp_flag::SYN) {
                    if p.seq == sock.irs {
                        Outcome {
                            tx: Some(sock.syn_ack(cfg, free)),
                            ..Outcome::new(Fate::Consumed)
                        }
                    } else {
                        Outcome::new(Fate::Drop(drop::BAD_STATE))
                    }
                } else if has(tcp_flag::ACK) && p.ack == sock.d.iss.wrapping_add(1) {
                    sock.state = sock_state::ESTAB as u8;
                    established(cfg, sock, &p, m.chain, free)
                } else {
                    Outcome::new(Fate::Drop(drop::BAD_STATE))
                }
            }
            sock_state::ESTAB | sock_state::CLOSE_WAIT => established(cfg, sock, &p, m.chain, free),
            _ => Outcome::new(Fate::Drop(drop::BAD_STATE)),
        };
        match out.fate {
            Fate::Kept => self.toe.wake(s),
            Fate::Consumed => self.pool.free_chain(m.chain),
            Fate::Drop(r) => self.drop_frame(m.chain, r),
        }
        if out.accepted {
            self.regs.count(reg::CNT_RX_ACCEPTED, 1);
        }
        if out.ooo_held {
            self.regs.count(reg::CNT_OOO_HELD, 1);
        }
        let t = base + out.steps * costs::LIST_STEP;
        match out.tx {
            Some(cmd) => self.tx.push(&self.cfg, t, &cmd) + costs::ENGINE_TX,
            None => t,
        }
    }

    /// SOCK_ADD, SOCK_DEL, NB_POST, NOP and unknown opcodes. Returns the done cycle.
    fn engine_req(&mut self, e: &[u8; REQ_BYTES]) -> u64 {
        let cfg = &self.cfg;
        let opcode = get(e, req_hdr::OPCODE);
        let sref = get(e, req_hdr::SOCK_REF) as usize;
        let in_use =
            |t: &Toe| sref < t.socks.len() && t.socks[sref].state != sock_state::FREE as u8;
        let done = self.now + costs::ENGINE_REQ;
        let st = match opcode {
            op::SOCK_ADD => {
                let rcv_buf = get(e, sock_desc::RCV_BUF);
                let proto = get(e, sock_desc::PROTO);
                // A UDP socket ignores ISS, RCV_BUF, MSS and RCV_WSCALE (not validated).
                let tcp_ok = proto == PROTO_TCP as u64
                    && (1..=MAX_RCV_BUF).contains(&rcv_buf)
                    && get(e, sock_desc::RCV_WSCALE) <= MAX_WSCALE as u64;
                let hold = get(e, sock_desc::FLAGS) & sock_flag::HOLD != 0;
                if sref >= cfg.num_sockets as usize
                    || in_use(&self.toe)
                    || !(tcp_ok || proto == PROTO_UDP as u64)
                    || (hold && proto != PROTO_TCP as u64)
                {
                    status::BAD_SOCK
                } else {
                    let mac = |f: (usize, usize)| {
                        let mut m = [0u8; 6];
                        m.copy_from_slice(&e[f.0..f.0 + 6]);
                        m
                    };
                    let key = Key {
                        proto: proto as u8,
                        local_ip: get(e, sock_desc::LOCAL_IP) as u32,
                        remote_ip: get(e, sock_desc::REMOTE_IP) as u32,
                        local_port: get(e, sock_desc::LOCAL_PORT) as u16,
                        remote_port: get(e, sock_desc::REMOTE_PORT) as u16,
                        vlan: get(e, sock_desc::VLAN) as u16,
                    };
                    self.toe.socks[sref] = Sock {
                        d: Desc {
                            flags: get(e, sock_desc::FLAGS) as u8,
                            local_mac: mac(sock_desc::LOCAL_MAC),
                            remote_mac: mac(sock_desc::REMOTE_MAC),
                            key,
                            iss: get(e, sock_desc::ISS) as u32,
                            rcv_buf: rcv_buf as u32,
                            mss: get(e, sock_desc::MSS) as u16,
                            rcv_wscale: get(e, sock_desc::RCV_WSCALE) as u8,
                        },
                        // A UDP socket starts in ESTAB.
                        state: if proto == PROTO_UDP as u64 {
                            sock_state::ESTAB as u8
                        } else {
                            sock_state::LISTEN as u8
                        },
                        ..Sock::default()
                    };
                    self.toe.map.entry(key).or_default().push(sref as u16);
                    self.toe.active.push_front(sref as u16);
                    status::OK
                }
            }
            op::SOCK_DEL => {
                if !in_use(&self.toe) {
                    status::BAD_SOCK
                } else {
                    return self.sock_del(e, sref as u16);
                }
            }
            op::NB_POST => {
                let rn = get(e, nb_desc::REF_NUM) as usize;
                let total = get(e, nb_desc::TOTAL_BYTES);
                let pages = get(e, nb_desc::HMD_PAGES);
                if !in_use(&self.toe) {
                    status::BAD_SOCK
                } else if rn >= cfg.num_nbs as usize
                    || self.toe.nbs[rn].is_some()
                    || pages < 1
                    || total == 0
                    || total > pages * PAGE
                {
                    status::BAD_NB
                } else {
                    let timeout = get(e, nb_desc::TIMEOUT) as u32;
                    self.toe.nbs[rn] = Some(Nb {
                        sock_ref: sref as u16,
                        tag: get(e, nb_desc::TAG) as u32,
                        total: total as u32,
                        filled: 0,
                        recs: 0,
                        hmd_addr: get(e, nb_desc::HMD_ADDR),
                        hmd_pages: pages,
                        stream_off: 0,
                        timeout,
                        ticks_left: timeout,
                    });
                    self.toe.socks[sref].nbs.push_back(rn as u16);
                    self.toe.wake(sref as u16);
                    return done; // its completion is the NB_RETURN
                }
            }
            op::ANON_POST => {
                let rn = get(e, anon_desc::REF_NUM) as usize;
                let len = get(e, anon_desc::LEN);
                if rn >= self.toe.anon.len()
                    || self.toe.anon[rn].is_some()
                    || !(param::ANON_MIN_LEN..=param::ANON_MAX_LEN).contains(&len)
                {
                    status::BAD_NB
                } else {
                    self.toe.anon[rn] = Some(Anon {
                        tag: get(e, anon_desc::TAG) as u32,
                        len: len as u32,
                        addr: get(e, anon_desc::ADDR),
                    });
                    self.toe.anon_q.push_back(rn as u32);
                    return done; // its completion is the ANON_RX
                }
            }
            op::BUF_RELEASE => return self.buf_release(e),
            op::NOP => status::OK,
            _ => status::BAD_OPCODE,
        };
        self.post_cpl(done, Cpl::cmd_done(e, st));
        done
    }

    /// SOCK_DEL of an in-use socket: every NB returned with DELETE (head first), every
    /// segment chain freed (in-order list, then reassembly list), the socket unlinked and its
    /// slot freed, then CMD_DONE/OK. Delivery is never in flight here: the engine finishes a
    /// delivery step (its DMA write included) before it picks another job.
    fn sock_del(&mut self, e: &[u8; REQ_BYTES], s: u16) -> u64 {
        let mut t = self.now + costs::ENGINE_REQ;
        while !self.toe.socks[s as usize].nbs.is_empty() {
            t += costs::ENGINE_RETURN;
            self.return_nb(s, cpl_flag::DELETE, status::OK, t);
        }
        let sock = std::mem::take(&mut self.toe.socks[s as usize]);
        for seg in sock.segs.iter().chain(sock.ooo.iter()) {
            // A hold segment emptied by its last record but still on the list as a FIN
            // marker is held: it belongs to the driver (docs/p2p.md), not freed here.
            self.pool.unlist(seg.chain);
            t += costs::LIST_STEP;
        }
        if let Some(v) = self.toe.map.get_mut(&sock.d.key) {
            v.retain(|&x| x != s);
            if v.is_empty() {
                self.toe.map.remove(&sock.d.key);
            }
        }
        if sock.queued {
            self.toe.ready.retain(|&x| x != s);
        }
        self.toe.active.retain(|&x| x != s);
        self.post_cpl(t, Cpl::cmd_done(e, status::OK));
        t
    }

    /// Return the head NB of socket `s` with `flags` and completion status `st`, at time `t`.
    fn return_nb(&mut self, s: u16, flags: u64, st: u64, t: u64) {
        self.return_nb_hdr(s, flags, st, t, 0);
    }

    /// [`Self::return_nb`] with the completion's HDR_BYTES: `min(8, FILLED)` for a DATAGRAM
    /// return, 0 for every other return (the contract names it only there). The NB's
    /// UDP_HDR_BYTES field would hold the same value; the model keeps no copy.
    fn return_nb_hdr(&mut self, s: u16, flags: u64, st: u64, t: u64, hdr_bytes: u8) {
        let Some(rn) = self.toe.socks[s as usize].nbs.pop_front() else {
            return;
        };
        let Some(nb) = self.toe.nbs[rn as usize].take() else {
            return;
        };
        if matches!(self.toe.page_cache, Some((c, _, _)) if c == rn) {
            self.toe.page_cache = None;
        }
        self.regs.count(reg::CNT_NB_RETURNED, 1);
        self.post_cpl(
            t,
            Cpl {
                kind: cpl_kind::NB_RETURN as u8,
                status: st as u8,
                sock_ref: nb.sock_ref,
                tag: nb.tag,
                ref_num: rn as u32,
                bytes: nb.filled,
                flags: flags as u32,
                opcode: op::NB_POST as u8,
                hdr_bytes,
                // An empty buffer reports where the stream stands (e.g. a FIN right at a
                // buffer boundary), exactly like the RTL.
                stream_off: if nb.filled == 0 {
                    self.toe.socks[s as usize].stream_off
                } else {
                    nb.stream_off
                },
            },
        );
    }

    /// The ARP responder (rx-paths.md): answer an ARP request for NIC_IP with a `KIND = ARP`
    /// tx command and consume the frame. Returns the done time. Only metadata is needed, so a
    /// request is answered even when the pool could not store it.
    fn arp_answer(&mut self, p: &Parsed, chain: Chain, base: u64) -> u64 {
        let cmd = TxCmd {
            kind: tx_kind::ARP as u8,
            dst_mac: p.arp_sha,
            src_mac: self.regs.nic_mac(),
            vlan: p.vlan,
            src_ip: self.regs.nic_ip,
            dst_ip: p.src_ip,
            ..TxCmd::default()
        };
        self.pool.free_chain(chain);
        self.regs.count(reg::CNT_ARP_REPLIES, 1);
        self.tx.push(&self.cfg, base, &cmd) + costs::ENGINE_TX
    }

    /// A frame for the anonymous path (`NO_SOCKET`, or `NOT_IPV4` not taken by the ARP
    /// responder): written from its first byte into the head anonymous buffer, which is
    /// returned with `ANON_RX`; with the anonymous list empty, dropped under `reason`.
    /// Returns the done time (the writes and the completion are one engine event).
    fn anon_or_drop(&mut self, env: &mut HostEnv, m: &Meta, reason: u64, base: u64) -> u64 {
        // A frame the pool could not store whole is never passed up (rx-paths.md: "frames
        // failing a check (... no buflet) are never passed up"); it keeps its reason.
        let Some(rn) = self.toe.anon_q.front().copied().filter(|_| m.whole) else {
            self.drop_frame(m.chain, reason);
            return base;
        };
        self.toe.anon_q.pop_front();
        let a = self.toe.anon[rn as usize]
            .take()
            .expect("posted anonymous buffer");
        let len = m.p.len as u32;
        let mut t = base + costs::ANON_DELIVERY;
        if !self.check(a.addr, a.len as u64, true, prot::rid::WR_TOE) {
            // Refused before any write: the buffer is returned empty, the frame is dropped
            // under its own reason.
            self.drop_frame(m.chain, reason);
            self.post_cpl(
                t,
                Cpl {
                    kind: cpl_kind::ANON_RX as u8,
                    status: status::PROT_FAULT as u8,
                    tag: a.tag,
                    ref_num: rn,
                    opcode: op::ANON_POST as u8,
                    ..Cpl::default()
                },
            );
            return t;
        }
        let n = len.min(a.len) as usize;
        let mut buf = std::mem::take(&mut self.toe.scratch);
        let mut off = 0;
        while off < n {
            let k = (n - off).min(PAGE as usize);
            self.pool.read(m.chain.head, off, &mut buf[..k]);
            t = dma_write(
                &self.cfg,
                &mut self.wr_free,
                env,
                Agent::NicDma,
                t,
                a.addr.wrapping_add(off as u64),
                &buf[..k],
            );
            off += k;
        }
        self.toe.scratch = buf;
        self.pool.free_chain(m.chain);
        self.regs.count(reg::CNT_ANON_RX, 1);
        self.post_cpl(
            t,
            Cpl {
                kind: cpl_kind::ANON_RX as u8,
                status: status::OK as u8,
                sock_ref: 0,
                tag: a.tag,
                ref_num: rn,
                bytes: n as u32,
                flags: if (n as u32) < len {
                    cpl_flag::TRUNC as u32
                } else {
                    0
                },
                opcode: op::ANON_POST as u8,
                hdr_bytes: 0,
                stream_off: 0,
            },
        );
        t
    }

    /// One timer tick (rx-paths.md, "Named-buffer timeouts"): the sweep over the active list.
    /// Returns the done time. Ticks do not depend on CTRL.ENABLE (the contract does not tie
    /// them to it).
    fn engine_tick(&mut self) -> u64 {
        self.regs.count(reg::CNT_TICKS, 1);
        let mut t = self.now + costs::TIMER_TICK;
        for i in 0..self.toe.active.len() {
            let s = self.toe.active[i];
            t += costs::TIMER_VISIT;
            let Some(&rn) = self.toe.socks[s as usize].nbs.front() else {
                continue;
            };
            let Some(nb) = self.toe.nbs[rn as usize].as_mut() else {
                continue;
            };
            if nb.timeout == 0 {
                continue;
            }
            t += costs::TIMER_COUNT;
            nb.ticks_left = nb.ticks_left.saturating_sub(1);
            if nb.ticks_left != 0 {
                continue;
            }
            t += costs::ENGINE_RETURN;
            self.return_nb(s, cpl_flag::TIMEOUT, status::OK, t);
            self.regs.count(reg::CNT_TIMEOUTS, 1);
            // Woken: waiting segments go to the next buffer; without one the socket leaves
            // the ready list.
            let sock = &mut self.toe.socks[s as usize];
            if sock.queued && sock.nbs.is_empty() {
                sock.queued = false;
                self.toe.ready.retain(|&x| x != s);
            }
            self.toe.wake(s);
        }
        t
    }

    /// The address of page `page` of NB `rn` (from the one-entry cache, else read from its
    /// page list by DMA from `t`), or the status the NB is returned with: `DMA_ERROR` for a
    /// failed page-list read, `PROT_FAULT` for a refused list or page. Also returns the time
    /// the address is known.
    fn nb_page(
        &mut self,
        env: &mut HostEnv,
        rn: u16,
        nb: &Nb,
        page: u32,
        t: u64,
    ) -> (Result<u64, u64>, u64) {
        let mut t = t;
        let cached = match self.toe.page_cache {
            Some((c, p, a)) if c == rn && p == page => Some(a),
            _ => None,
        };
        // The page address, or the status the NB is returned with: DMA_ERROR for a failed
        // page-list read, PROT_FAULT for a refused list or page.
        let page_addr = match cached {
            Some(a) => Ok(a),
            None if !self.check(
                nb.hmd_addr,
                nb.hmd_pages.saturating_mul(8),
                false,
                prot::rid::RD_TOE,
            ) =>
            {
                Err(status::PROT_FAULT)
            }
            None => {
                let mut b = [0u8; 8];
                let at = nb.hmd_addr.wrapping_add(8 * page as u64);
                let (ok, d) = dma_read(
                    &self.cfg,
                    &mut self.rd_free,
                    env,
                    Agent::NicDma,
                    t,
                    at,
                    &mut b,
                );
                t = d;
                let a = u64::from_le_bytes(b);
                if !ok {
                    self.toe.page_cache = None;
                    Err(status::DMA_ERROR)
                } else if !self.check(a, PAGE, true, prot::rid::WR_TOE) {
                    // The page itself is checked when its address is taken from the list.
                    Err(status::PROT_FAULT)
                } else {
                    self.toe.page_cache = Some((rn, page, a));
                    Ok(a)
                }
            }
        };
        (page_addr, t)
    }

    /// One hold delivery step (docs/p2p.md): the chunk of the head segment that stays in its
    /// buflet, described by one `hold_rec` DMA-written at record position `8 * RECS` of the NB's
    /// page list. Returns the done time.
    fn deliver_hold(&mut self, env: &mut HostEnv, s: u16, rn: u16, seg: Seg) -> u64 {
        let Some(nb) = self.toe.nbs[rn as usize] else {
            return self.now + costs::ENGINE_RETURN;
        };
        let bb = self.pool.buflet_bytes() as u64;
        let in_buf = seg.data_off as u64 % bb;
        let n = (seg.data_len as u64)
            .min(nb.total.saturating_sub(nb.filled) as u64)
            .min(bb - in_buf);
        let pos = nb.recs as u64 * hold_rec::SIZE as u64;
        let page = (pos / PAGE) as u32;
        let (page_addr, t) = self.nb_page(env, rn, &nb, page, self.now + costs::ENGINE_DELIVERY);
        let page_addr = match page_addr {
            Ok(a) => a,
            Err(st) => {
                // The NB is returned as it is; the segment stays for the next NB.
                self.return_nb(s, 0, st, t);
                return t;
            }
        };
        let b = self
            .pool
            .nth(seg.chain.head, seg.data_off as usize / bb as usize);
        let emptied = seg.data_len as u64 == n;
        let mut rec = [0u8; hold_rec::SIZE];
        put(&mut rec, hold_rec::BUFLET, b as u64);
        put(&mut rec, hold_rec::OFF, in_buf);
        put(&mut rec, hold_rec::LEN, n);
        put(
            &mut rec,
            hold_rec::HEAD,
            if emptied {
                seg.chain.head as u64
            } else {
                param::NULL16
            },
        );
        let done = dma_write(
            &self.cfg,
            &mut self.wr_free,
            env,
            Agent::NicDma,
            t,
            page_addr.wrapping_add(pos % PAGE),
            &rec,
        );
        self.pool.expose(b);
        self.regs.count(reg::CNT_HOLD_RECORDS, 1);
        self.regs.count(reg::CNT_DELIVERED_BYTES, n);
        let sock = &mut self.toe.socks[s as usize];
        let psh_return = sock.d.flags as u64 & sock_flag::PSH_RETURN != 0;
        let Some(nbm) = self.toe.nbs[rn as usize].as_mut() else {
            return done;
        };
        if nbm.filled == 0 {
            nbm.stream_off = sock.stream_off;
        }
        nbm.filled += n as u32;
        nbm.recs = nbm.recs.wrapping_add(1);
        // Record room: the page list's capacity, capped by the 16-bit RECS field.
        let room = nbm
            .hmd_pages
            .saturating_mul(PAGE / hold_rec::SIZE as u64)
            .min(u16::MAX as u64);
        let full = nbm.filled == nbm.total || nbm.recs as u64 == room;
        sock.stream_off += n;
        let Some(head) = sock.segs.front_mut() else {
            return done;
        };
        head.data_off += n as u16;
        head.data_len -= n as u16;
        let marker = head.flags & (tcp_flag::FIN | tcp_flag::RST) != 0;
        let pushed = head.flags & (tcp_flag::PSH | tcp_flag::URG) != 0;
        if emptied {
            // Unlinked as usual (a FIN segment stays as its marker), its chain held.
            if !marker {
                sock.segs.pop_front();
            }
            self.pool.hold(seg.chain, marker);
        }
        if full {
            self.return_nb(s, cpl_flag::FULL, status::OK, done);
        } else if emptied && pushed && !marker && psh_return {
            self.return_nb(s, cpl_flag::PSH, status::OK, done);
        }
        done
    }

    /// OP_BUF_RELEASE (docs/p2p.md): release held chains in order until one head is not held.
    /// Returns the done cycle.
    fn buf_release(&mut self, e: &[u8; REQ_BYTES]) -> u64 {
        let mut t = self.now + costs::ENGINE_REQ;
        let count = get(e, buf_release::COUNT);
        let (st, released) = if !(1..=param::RELEASE_MAX).contains(&count) {
            (status::BAD_BUF, 0)
        } else {
            let mut k = 0;
            while k < count {
                let h = get(e, (buf_release::HEADS.0 + 2 * k as usize, 2)) as u16;
                t += costs::RELEASE_STEP;
                if !self.pool.release(h) {
                    break;
                }
                self.regs.count(reg::CNT_BUF_RELEASED, 1);
                k += 1;
            }
            (
                if k == count {
                    status::OK
                } else {
                    status::BAD_BUF
                },
                k,
            )
        };
        self.post_cpl(
            t,
            Cpl {
                bytes: released as u32,
                ..Cpl::cmd_done(e, st)
            },
        );
        t
    }

    /// One delivery step for the socket at the head of the ready list. Returns the done time.
    fn engine_deliver(&mut self, env: &mut HostEnv) -> u64 {
        let s = self.toe.ready.pop_front().expect("ready socket");
        let sock = &self.toe.socks[s as usize];
        let seg = *sock.segs.front().expect("segment");
        let rn = *sock.nbs.front().expect("NB");
        let mut done = self.now + costs::ENGINE_RETURN;
        if seg.data_len == 0 {
            // An empty FIN/RST segment: it leaves the list and returns the head NB.
            self.toe.socks[s as usize].segs.pop_front();
            // A hold segment whose data produced records (its chain is held) is only
            // unlinked; a marker that never produced a record is freed (docs/p2p.md).
            self.pool.unlist(seg.chain);
            let mut flags = 0;
            if seg.flags & tcp_flag::FIN != 0 {
                flags |= cpl_flag::FIN;
            }
            if seg.flags & tcp_flag::RST != 0 {
                flags |= cpl_flag::RST;
            }
            self.return_nb(s, flags, status::OK, done);
        } else if self.toe.socks[s as usize].is_hold() {
            done = self.deliver_hold(env, s, rn, seg);
        } else {
            let nb = self.toe.nbs[rn as usize].expect("NB in use");
            let in_page = nb.filled as u64 % PAGE;
            let n = (seg.data_len as u64)
                .min((nb.total - nb.filled) as u64)
                .min(PAGE - in_page) as usize;
            let page = nb.filled / PAGE as u32;
            let t0 = self.now + costs::ENGINE_DELIVERY;
            let (page_addr, t) = self.nb_page(env, rn, &nb, page, t0);
            let page_addr = match page_addr {
                Ok(a) => a,
                Err(st) => {
                    // The NB is returned as it is; the segment stays for the next NB.
                    self.return_nb(s, 0, st, t);
                    self.toe.socks[s as usize].queued = false;
                    self.toe.wake(s);
                    return t;
                }
            };
            let mut buf = std::mem::take(&mut self.toe.scratch);
            self.pool
                .read(seg.chain.head, seg.data_off as usize, &mut buf[..n]);
            done = dma_write(
                &self.cfg,
                &mut self.wr_free,
                env,
                Agent::NicDma,
                t,
                page_addr.wrapping_add(in_page),
                &buf[..n],
            );
            self.toe.scratch = buf;
            let sock = &mut self.toe.socks[s as usize];
            let udp = sock.is_udp();
            let psh_return = sock.d.flags as u64 & sock_flag::PSH_RETURN != 0;
            let nbm = self.toe.nbs[rn as usize].as_mut().expect("NB in use");
            if nbm.filled == 0 {
                nbm.stream_off = sock.stream_off;
            }
            nbm.filled += n as u32;
            let full = nbm.filled == nbm.total;
            sock.stream_off += n as u64;
            let head = sock.segs.front_mut().expect("segment");
            head.data_off += n as u16;
            head.data_len -= n as u16;
            let emptied = head.data_len == 0;
            let marker = head.flags & (tcp_flag::FIN | tcp_flag::RST) != 0;
            let pushed = head.flags & (tcp_flag::PSH | tcp_flag::URG) != 0;
            // A datagram leaves the list once written or once the buffer is full (the rest is
            // discarded). Datagram chunks use the TCP delivery rules unchanged: socket and NB STREAM_OFF and
            // CNT_DELIVERED_BYTES count the bytes written (header included). A timeout between
            // two chunks returns the NB; the rest of the datagram goes on into the next NB.
            let datagram_done = udp && (emptied || full);
            if (emptied && !marker) || datagram_done {
                sock.segs.pop_front();
                self.pool.free_chain(seg.chain);
            }
            self.regs.count(reg::CNT_DELIVERED_BYTES, n as u64);
            if datagram_done {
                let filled = self.toe.nbs[rn as usize].expect("NB in use").filled;
                let mut flags = cpl_flag::DATAGRAM;
                if !emptied {
                    flags |= cpl_flag::TRUNC;
                }
                let hdr = filled.min(UDP_HDR) as u8;
                self.return_nb_hdr(s, flags, status::OK, done, hdr);
            } else if full {
                self.return_nb(s, cpl_flag::FULL, status::OK, done);
            } else if emptied && pushed && !marker && psh_return {
                self.return_nb(s, cpl_flag::PSH, status::OK, done);
            }
        }
        self.toe.socks[s as usize].queued = false;
        self.toe.wake(s);
        done
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_matches_the_formula() {
        // x = 0x0A4D0009 ^ 0x0A4D0002 ^ 0x9C400801 = 0x9C40080A; ^>>16 = 0x9C40944A; ^>>8 = 0x9CDCD4DE.
        assert_eq!(
            super::hash_bucket(0x0A4D_0009, 0x0A4D_0002, 40000, 2049, 256),
            0xDE
        );
        assert_eq!(
            super::hash_bucket(0x0A4D_0009, 0x0A4D_0002, 40000, 2049, 64),
            0xDE % 64
        );
    }

    #[test]
    fn rel_is_signed_modulo() {
        assert_eq!(super::rel(5, 0xFFFF_FFFE), 7);
        assert_eq!(super::rel(0xFFFF_FFFE, 5), -7);
        assert_eq!(super::rel(100, 100), 0);
    }
}
