//! toe_engine: socket table, hash lookup, the TCP receive engine of docs/tcp-receive.md,
//! named buffers and delivery; the paths of docs/rx-paths.md (UDP sockets and datagram
//! delivery, anonymous buffers, the ARP responder, the named-buffer timeout sweep); the p2p
//! hold sockets of docs/p2p.md (hold records instead of payload, held chains, `BUF_RELEASE`);
//! listening sockets (docs/tcp-receive.md, "Listening sockets": listen slots, the accept pool,
//! a SYN that matches no socket taking the pool's head, ACCEPT completions) in `mod.rs`.
//!
//! Split by responsibility, file for file as the RTL (docs/architecture.md):
//!
//! | file | responsibility | RTL |
//! |---|---|---|
//! | `mod.rs` | tables, event pick, a frame's dispatch | `rtl/toe_engine.v` |
//! | `req.rs` | requests: decode, validation, SOCK_ADD/DEL, NB_POST, ANON_POST, BUF_RELEASE, SOCK_LISTEN/UNLISTEN/POOL | `rtl/toe_req.v` |
//! | `lookup.rs` | the 4-tuple hash, the hash chains and the active list, the socket lookup and its cost | `rtl/toe_lookup.v` |
//! | `tcp_rx.rs` | window, TCP states, acceptability, trimming, reassembly, ACK / SYN-ACK | `rtl/toe_tcp_rx.v` |
//! | `deliver.rs` | delivery steps, page list and cache, hold records, NB return | `rtl/toe_deliver.v`, `rtl/toe_mover.v` |
//! | `sweep.rs` | the timer tick's sweep | `rtl/toe_sweep.v` |
//! | `udp_anon.rs` | ARP answer, UDP receive, anonymous buffers | `rtl/toe_udp_anon.v` |

use std::collections::VecDeque;
use std::ops::{Index, IndexMut};

use buflet_platform::{DeviceConfig, HostEnv};
use buflet_spec::{
    drop, ip_proto, param, reg, sock_flag, sock_state, CplKind, ListenDesc, Opcode, Status,
};

use crate::buflets::Chain;
use crate::parse::tcp_flag;
use crate::{costs, Cpl, Meta, ModelDevice};

mod deliver;
mod lookup;
mod req;
mod snd;
mod sweep;
mod tcp_rx;
mod udp_anon;

use lookup::Key;
pub use lookup::{hash_bucket, hash_x};
use udp_anon::Anon;

const PAGE: u64 = param::PAGE_BYTES;
/// IP protocol numbers a socket may have.
const PROTO_TCP: u8 = ip_proto::TCP as u8;
const PROTO_UDP: u8 = ip_proto::UDP as u8;
/// UDP header bytes.
const UDP_HDR: u32 = 8;
/// Largest RCV_BUF a SOCK_ADD may ask for.
const MAX_RCV_BUF: u64 = param::RCV_BUF_MAX;
/// Listen slots (register `NUM_LISTEN`): the spec default, as the RTL builds it.
pub(crate) const NUM_LISTEN: usize = param::DEF_NUM_LISTEN as usize;

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

/// The host part of a socket (`sock_desc`), kept as posted (or as an accept made it).
#[derive(Debug, Clone, Copy, Default)]
struct Desc {
    flags: u8,
    /// TAG: the SOCK_ADD's (for an accepted socket, its listen's tag when it was made).
    tag: u32,
    /// LISTEN_SLOT: the listen slot that made an accepted socket (0 otherwise).
    listen_slot: u8,
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
    /// RCV_ACKED: RCV_NXT as the last frame sent with ACK carried it (a delayed ACK owes
    /// `rcv_nxt - rcv_acked`).
    rcv_acked: u32,
    /// In-order segment list (SEG_HEAD..SEG_TAIL).
    segs: VecDeque<Seg>,
    /// Reassembly list (OOO_HEAD), sorted by SEQ, never overlapping.
    ooo: VecDeque<Seg>,
    nbs: VecDeque<u16>,
    /// On the engine's ready list (has a segment and an NB).
    queued: bool,
    /// The send side (docs/tcp-transmit.md).
    snd: snd::Snd,
    /// NEXT_SOCK: the next socket on the hash chain.
    next_sock: Option<u16>,
    /// ACT_NEXT: the next socket on the active list (and the previous one, kept by the model
    /// so that SOCK_DEL unlinks without a walk).
    act_next: Option<u16>,
    act_prev: Option<u16>,
    /// Made by an accept and not yet out of SYN_RCVD: counted in HALF_OPEN.
    half_open: bool,
}

impl Sock {
    fn is_udp(&self) -> bool {
        self.d.key.proto == PROTO_UDP
    }

    /// A hold socket (`sock_flag::HOLD`, docs/p2p.md): delivery writes hold records.
    fn is_hold(&self) -> bool {
        self.d.flags as u64 & sock_flag::HOLD != 0
    }

    /// A socket with delayed ACKs (`sock_flag::DELAYED_ACK`, docs/tcp-receive.md).
    fn delays_ack(&self) -> bool {
        self.d.flags as u64 & sock_flag::DELAYED_ACK != 0
    }
}

/// The socket table: one entry per slot, allocated when the slot is first written (a free
/// slot costs one pointer), so a build with 65,536 slots stays small. Reading a slot never
/// allocates (a free slot reads as the default, FREE socket).
struct Socks {
    v: Vec<Option<Box<Sock>>>,
    free: Sock,
}

impl Socks {
    fn new(n: u32) -> Self {
        Socks {
            v: (0..n).map(|_| None).collect(),
            free: Sock::default(),
        }
    }

    fn len(&self) -> usize {
        self.v.len()
    }

    /// Empty slot `i`, returning what it held.
    fn take(&mut self, i: usize) -> Sock {
        self.v[i].take().map(|b| *b).unwrap_or_default()
    }

    /// Put `sock` into slot `i`.
    fn put(&mut self, i: usize, sock: Sock) {
        self.v[i] = Some(Box::new(sock));
    }
}

impl Index<usize> for Socks {
    type Output = Sock;
    fn index(&self, i: usize) -> &Sock {
        self.v[i].as_deref().unwrap_or(&self.free)
    }
}

impl IndexMut<usize> for Socks {
    fn index_mut(&mut self, i: usize) -> &mut Sock {
        self.v[i].get_or_insert_with(Box::default)
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

/// toe_engine state.
pub(crate) struct Toe {
    socks: Socks,
    nbs: Vec<Option<Nb>>,
    /// Hash chain heads, one per bucket (`HASH_BUCKETS`), linked through `Sock::next_sock`.
    buckets: Vec<Option<u16>>,
    /// The active list's head (ACT_NEXT links): SOCK_ADD and accepts insert at the head.
    act_head: Option<u16>,
    /// Sockets with both a segment and a named buffer, served round robin.
    ready: VecDeque<u16>,
    /// The page address cache: one group of a named buffer's page list (rtl/toe_deliver.v).
    page_cache: Option<PageGroup>,
    scratch: Vec<u8>,
    /// Anonymous buffer slots.
    anon: Vec<Option<Anon>>,
    /// The anonymous list: posted slots, first posted first used.
    anon_q: VecDeque<u32>,
    /// Sockets with a segment they may send, served round robin (docs/tcp-transmit.md).
    tx_ready: VecDeque<u16>,
    /// On `tx_ready` (an entry stays there when its socket is deleted; served, it sends
    /// nothing).
    tx_in: Vec<bool>,
    /// Post slots in use, NIC-wide (`NUM_POSTS`).
    posts_in_use: u32,
    /// Listen slots (`NUM_LISTEN`): the SOCK_LISTEN entry of each listening one.
    listens: Vec<Option<ListenDesc>>,
    /// The accept pool (SOCK_POOL), a FIFO of socket slots.
    pool: VecDeque<u16>,
    /// Slots now in the accept pool.
    pooled: Vec<bool>,
    /// HALF_OPEN: accepted sockets still in SYN_RCVD.
    half_open: u32,
    /// Forwarding (rtl/toe_engine.v `fw_*`): the key and socket the last chain walk matched.
    /// Frames of that key skip the walk until a socket is inserted (SOCK_ADD, an accept) or a
    /// SOCK_DEL begins.
    fw: Option<(Key, u16)>,
    /// The engine's socket register (`sk_idx`) as the last event left it, where the model
    /// follows it (`None`: not known). A forwarded frame for that socket also skips S_LOOK1;
    /// it only sets timing, never an outcome or a counter.
    sk_reg: Option<u16>,
    /// A frame that grew its socket's in-order list, with a named buffer posted, left that
    /// socket alone on the ready list: its delivery may follow at once (rtl/toe_engine.v
    /// `dl_chain`, see [`costs::DELIVERY_CHAINED`]). Set by the frame, taken by the next job.
    chain: Option<u16>,
    /// A delivery step that issued its chunk and kept the named buffer, and the cycle it
    /// issued it in: the next frame may start in that cycle (rtl/toe_engine.v `fr_chain`).
    /// Set by the step, taken by the next job.
    frm_chain: Option<(u16, u64)>,
}

impl Toe {
    pub fn new(cfg: &DeviceConfig) -> Self {
        Toe {
            socks: Socks::new(cfg.num_sockets),
            nbs: vec![None; cfg.num_nbs as usize],
            buckets: vec![None; cfg.hash_buckets.max(1) as usize],
            act_head: None,
            ready: VecDeque::new(),
            page_cache: None,
            scratch: vec![0; PAGE as usize],
            anon: vec![None; cfg.num_anon as usize],
            anon_q: VecDeque::new(),
            tx_ready: VecDeque::new(),
            tx_in: vec![false; cfg.num_sockets as usize],
            posts_in_use: 0,
            listens: vec![None; NUM_LISTEN],
            pool: VecDeque::new(),
            pooled: vec![false; cfg.num_sockets as usize],
            half_open: 0,
            fw: None,
            sk_reg: None,
            chain: None,
            frm_chain: None,
        }
    }

    /// HALF_OPEN.
    pub fn half_open(&self) -> u32 {
        self.half_open
    }

    /// ACCEPT_POOL: slots in the accept pool.
    pub fn accept_pool(&self) -> u32 {
        self.pool.len() as u32
    }

    /// A frame grew socket `s`'s in-order list: wake it, and with a named buffer posted its
    /// delivery may follow the frame at once (`chain`, rtl/toe_engine.v `frame_done`).
    fn wake_grown(&mut self, s: u16) {
        self.wake(s);
        if !self.socks[s as usize].nbs.is_empty() {
            self.chain = Some(s);
        }
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

impl ModelDevice {
    /// Work for toe_engine other than frame records (those wait for their FIFO's latency).
    pub(crate) fn engine_has_work_but_frames(&self) -> bool {
        self.toe_req.is_some()
            || !self.toe.ready.is_empty()
            || self.tick_pending
            || !self.toe.tx_ready.is_empty()
    }

    /// One toe_engine job: the next source in round-robin order among frame metadata,
    /// requests, delivery and the pending timer tick (in that order, rx-paths.md leaves it
    /// open).
    pub(crate) fn engine_step(&mut self, env: &mut HostEnv) {
        const SOURCES: usize = 5;
        // The frame's end chose its delivery (rtl/toe_engine.v `dl_chain`) when no request
        // was offered in its last cycle: the delivery goes first, whatever came since.
        let chain = self.toe.chain.take().filter(|&s| {
            self.toe.ready.len() == 1
                && self.toe.ready.front() == Some(&s)
                && (self.toe_req.is_none() || self.toe_req_at >= self.now)
        });
        if chain.is_some() {
            self.regs.count(reg::CNT_DLV_CHAINED, 1);
            self.toe.sk_reg = chain;
            let done = self.engine_deliver(env, true);
            self.engine_rr = 3;
            self.set_engine_free(done);
            return;
        }
        // The delivery step before chose the next frame in its issue cycle (`fr_chain`), the
        // step the engine is at now; else the pick follows a cycle later.
        if let Some((s, at)) = self.toe.frm_chain.take() {
            if self.now == at {
                if self.frame_chains(s) {
                    self.regs.count(reg::CNT_FRM_CHAINED, 1);
                    let (_, m) = self.meta_q.pop_front().expect("meta");
                    let done = self.engine_take_frame(env, m);
                    self.engine_rr = 1;
                    self.set_engine_free(done);
                } else {
                    self.engine_free = at + 1;
                }
                return;
            }
        }
        for i in 0..SOURCES {
            let src = (self.engine_rr + i) % SOURCES;
            let done = match src {
                0 if self.meta_q.front().is_some_and(|&(v, _)| v <= self.now) => {
                    let (_, m) = self.meta_q.pop_front().expect("meta");
                    self.engine_take_frame(env, m)
                }
                1 if self.toe_req.is_some() => {
                    let e = self.toe_req.take().expect("req");
                    self.engine_req(&e)
                }
                2 if !self.toe.ready.is_empty() => {
                    self.toe.sk_reg = self.toe.ready.front().copied();
                    self.engine_deliver(env, false)
                }
                3 if self.tick_pending => {
                    self.take_tick();
                    self.engine_tick()
                }
                4 if !self.toe.tx_ready.is_empty() => {
                    self.toe.sk_reg = self.toe.tx_ready.front().copied();
                    self.engine_send(env)
                }
                _ => continue,
            };
            self.engine_rr = (src + 1) % SOURCES;
            self.set_engine_free(done);
            return;
        }
    }

    /// The engine takes its next job at `done` (at least a cycle on), or, after a delivery
    /// step that may chain the next frame, in the step's issue cycle, where it decides.
    fn set_engine_free(&mut self, done: u64) {
        self.engine_free = match self.toe.frm_chain {
            Some((_, at)) => at.max(self.now + 1),
            None => done.max(self.now + 1),
        };
    }

    /// Whether the frame at the metadata FIFO's head starts in the issue cycle of socket
    /// `s`'s delivery step (rtl/toe_engine.v `fr_chain`): it is there, passed rx_parser, is
    /// forwarded to `s`, and no tick and no send step waits (the pick after a delivery would
    /// take it before a request or another delivery).
    fn frame_chains(&self, s: u16) -> bool {
        let Some(&(v, ref m)) = self.meta_q.front() else {
            return false;
        };
        v <= self.now
            && m.p.reason == 0
            && self.toe.fw == Some((Key::of(&m.p), s))
            && !self.tick_pending
            && self.toe.tx_ready.is_empty()
    }

    /// One frame's record taken by the engine now. CNT_RX_DONE: the frame ended without a
    /// drop and without an anonymous delivery (the RTL counts it where the frame's chain is
    /// finished, S_FIN).
    fn engine_take_frame(&mut self, env: &mut HostEnv, m: Meta) -> u64 {
        let before = self.regs.frame_outcomes();
        let done = self.engine_frame(env, m);
        if self.regs.frame_outcomes() == before {
            self.regs.count(reg::CNT_RX_DONE, 1);
        }
        done
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
                    return self.arp_answer(&p, m.chain, self.now + costs::ARP_STEPS);
                }
            }
            if reason == drop::NOT_IPV4 || reason == drop::NO_SOCKET {
                return self.anon_or_drop(env, &m, reason, base);
            }
            self.drop_frame(m.chain, reason);
            return base;
        }
        let key = Key::of(&p);
        // The lookup (docs/tcp-receive.md, "Lookup cost"): the bucket read, then one cycle per
        // socket visited; it stands in for the flat part of ENGINE_FRAME.
        self.regs.count(reg::CNT_LOOKUPS, 1);
        // (the socket, the cycles, the socket register after it)
        let (hit, look, reg_after) = match self.toe.fw {
            // Forwarded (the socket the last walk matched): no walk and no lookup cycle;
            // S_LOOK1 reads the socket unless the engine's socket register already names it.
            Some((k, s)) if k == key => {
                self.regs.count(reg::CNT_LOOKUP_FWD, 1);
                (Some(s), u64::from(self.toe.sk_reg != Some(s)), s)
            }
            // A walk leaves the register on the socket it read last.
            _ => {
                let (hit, visited, last) = self.toe.lookup(&key);
                self.regs.count(reg::CNT_LOOKUP_CYCLES, 1 + visited);
                if let Some(s) = hit {
                    self.toe.fw = Some((key, s));
                }
                (hit, 1 + visited, last)
            }
        };
        self.toe.sk_reg = Some(reg_after);
        let base = base - costs::LOOKUP_FLAT - costs::META_STEP + look;
        let Some(s) = hit else {
            let syn_only =
                p.flags & (tcp_flag::SYN | tcp_flag::ACK | tcp_flag::RST) == tcp_flag::SYN;
            if !p.udp && syn_only {
                if let Some(l) = self.toe.listen_match(&key) {
                    return self.listen_syn(&m, l, base);
                }
            }
            return self.anon_or_drop(env, &m, drop::NO_SOCKET, base);
        };
        if p.udp {
            return self.udp_frame(&m, s, base);
        }
        self.tcp_frame(&m, s, base)
    }

    /// A SYN that matched no socket but listen slot `l` (docs/tcp-receive.md, "Listening
    /// sockets"): dropped LISTEN_FULL, or the pool's head becomes a socket made from the
    /// slot's template, inserted like a SOCK_ADD, and the frame is handled by its LISTEN rules.
    fn listen_syn(&mut self, m: &Meta, l: u8, base: u64) -> u64 {
        if self.toe.pool.is_empty() || self.toe.half_open >= self.regs.half_open_max {
            self.drop_frame(m.chain, drop::LISTEN_FULL);
            return base;
        }
        let Some(ld) = self.toe.listens[l as usize] else {
            unreachable!("listen_match names a listening slot");
        };
        let s = self.toe.pool.pop_front().expect("a pooled slot");
        self.toe.pooled[s as usize] = false;
        let p = &m.p;
        // a TCP SYN (engine_frame checked): the key its lookup missed
        let key = Key::of(p);
        self.toe.socks.put(
            s as usize,
            Sock {
                d: Desc {
                    flags: ld.flags.bits() | sock_flag::ACCEPTED as u8,
                    tag: ld.tag,
                    listen_slot: l,
                    local_mac: ld.local_mac,
                    remote_mac: p.src_mac,
                    key,
                    iss: ld.iss.wrapping_add(key.x()),
                    rcv_buf: ld.rcv_buf,
                    mss: ld.mss,
                    rcv_wscale: ld.rcv_wscale,
                },
                state: sock_state::LISTEN as u8,
                half_open: true,
                ..Sock::default()
            },
        );
        self.toe.link(s);
        // S_ACC0 took the pool's head into the socket register
        self.toe.sk_reg = Some(s);
        self.toe.half_open += 1;
        self.tcp_frame(m, s, base + costs::ACCEPT_MAKE)
    }

    /// Socket `s` leaves SYN_RCVD (docs/tcp-receive.md, "Leaving SYN_RCVD"): when it is an
    /// accepted socket still counted half-open, HALF_OPEN -= 1 and, unless `st` is `None`
    /// (SOCK_DEL), its ACCEPT completion with status `st` is posted at `t`.
    pub(super) fn leave_half_open(&mut self, s: u16, st: Option<Status>, t: u64) {
        let sock = &mut self.toe.socks[s as usize];
        if !sock.half_open {
            return;
        }
        sock.half_open = false;
        let d = sock.d;
        self.toe.half_open -= 1;
        let Some(status) = st else {
            return;
        };
        if status == Status::Ok {
            self.regs.count(reg::CNT_ACCEPTS, 1);
        }
        self.post_cpl(
            t,
            Cpl {
                kind: CplKind::Accept,
                status,
                sock_ref: s,
                tag: d.tag,
                ref_num: d.key.remote_ip,
                bytes: u32::from(d.key.remote_port) | u32::from(d.listen_slot) << 16,
                opcode: Opcode::SockListen.code(),
                ..Cpl::default()
            },
        );
    }
}

impl Toe {
    /// The lowest listening slot whose LOCAL_IP, LOCAL_PORT and VLAN are the frame's
    /// destination IP, destination port and VLAN id.
    fn listen_match(&self, key: &Key) -> Option<u8> {
        self.listens
            .iter()
            .position(|l| {
                l.is_some_and(|l| {
                    u32::from(l.local_ip) == key.local_ip
                        && l.local_port == key.local_port
                        && l.vlan == key.vlan
                })
            })
            .map(|l| l as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 65,536-slot table costs a pointer per free slot; a socket in use is one allocation
    /// of `size_of::<Sock>()` bytes.
    #[test]
    fn a_65536_socket_table_is_small() {
        let cfg = DeviceConfig::with_sockets(64, 65536);
        let t = Toe::new(&cfg);
        let table = t.socks.v.len() * std::mem::size_of::<Option<Box<Sock>>>()
            + t.buckets.len() * std::mem::size_of::<Option<u16>>()
            + t.tx_in.len()
            + t.pooled.len();
        let sock = std::mem::size_of::<Sock>();
        println!("table {table} bytes, {sock} bytes per socket in use");
        assert!(table < 2 << 20, "{table}");
        // Every slot in use: still a few tens of MB.
        assert!(65536 * sock < 40 << 20, "{sock}");
        assert!(t.socks[65535].state == sock_state::FREE as u8);
    }
}

pub(crate) use crate::costs::PG_GROUP;

/// One group of a named buffer's page list in the page cache: pages `first .. first + count`
/// of NB slot `nb`, their addresses, and which were checked against the protection table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageGroup {
    pub nb: u16,
    pub first: u32,
    pub count: u32,
    pub addrs: [u64; PG_GROUP],
    pub checked: u32,
}
