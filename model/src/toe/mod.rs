//! toe_engine: socket table, hash lookup, the TCP receive engine of docs/tcp-receive.md,
//! named buffers and delivery; the paths of docs/rx-paths.md (UDP sockets and datagram
//! delivery, anonymous buffers, the ARP responder, the named-buffer timeout sweep); the p2p
//! hold sockets of docs/p2p.md (hold records instead of payload, held chains, `BUF_RELEASE`).
//!
//! Split by responsibility, file for file as the RTL (docs/architecture.md):
//!
//! | file | responsibility | RTL |
//! |---|---|---|
//! | `mod.rs` | tables, event pick, a frame's dispatch | `rtl/toe_engine.v` |
//! | `req.rs` | requests: decode, validation, SOCK_ADD/DEL, NB_POST, ANON_POST, BUF_RELEASE | `rtl/toe_req.v` |
//! | `lookup.rs` | the 4-tuple hash, the socket lookup | `rtl/toe_lookup.v` |
//! | `tcp_rx.rs` | window, TCP states, acceptability, trimming, reassembly, ACK / SYN-ACK | `rtl/toe_tcp_rx.v` |
//! | `deliver.rs` | delivery steps, page list and cache, hold records, NB return | `rtl/toe_deliver.v`, `rtl/toe_mover.v` |
//! | `sweep.rs` | the timer tick's sweep | `rtl/toe_sweep.v` |
//! | `udp_anon.rs` | ARP answer, UDP receive, anonymous buffers | `rtl/toe_udp_anon.v` |

use std::collections::{HashMap, VecDeque};

use buflet_platform::{DeviceConfig, HostEnv};
use buflet_spec::{drop, ip_proto, param, reg, sock_flag};

use crate::buflets::Chain;
use crate::parse::tcp_flag;
use crate::{costs, Meta, ModelDevice};

mod deliver;
mod lookup;
mod req;
mod snd;
mod sweep;
mod tcp_rx;
mod udp_anon;

pub use lookup::hash_bucket;
use lookup::Key;
use udp_anon::Anon;

const PAGE: u64 = param::PAGE_BYTES;
/// IP protocol numbers a socket may have.
const PROTO_TCP: u8 = ip_proto::TCP as u8;
const PROTO_UDP: u8 = ip_proto::UDP as u8;
/// UDP header bytes.
const UDP_HDR: u32 = 8;
/// Largest RCV_BUF a SOCK_ADD may ask for.
const MAX_RCV_BUF: u64 = param::RCV_BUF_MAX;

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
    /// The send side (docs/tcp-transmit.md).
    snd: snd::Snd,
}

impl Sock {
    fn is_udp(&self) -> bool {
        self.d.key.proto == PROTO_UDP
    }

    /// A hold socket (`sock_flag::HOLD`, docs/p2p.md): delivery writes hold records.
    fn is_hold(&self) -> bool {
        self.d.flags as u64 & sock_flag::HOLD != 0
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
    /// Sockets with a segment they may send, served round robin (docs/tcp-transmit.md).
    tx_ready: VecDeque<u16>,
    /// On `tx_ready` (an entry stays there when its socket is deleted; served, it sends
    /// nothing).
    tx_in: Vec<bool>,
    /// Post slots in use, NIC-wide (`NUM_POSTS`).
    posts_in_use: u32,
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
            tx_ready: VecDeque::new(),
            tx_in: vec![false; cfg.num_sockets as usize],
            posts_in_use: 0,
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
    pub(crate) fn engine_has_work(&self) -> bool {
        !self.meta_q.is_empty()
            || self.toe_req.is_some()
            || !self.toe.ready.is_empty()
            || self.tick_pending
            || !self.toe.tx_ready.is_empty()
    }

    /// One toe_engine job: the next source in round-robin order among frame metadata,
    /// requests, delivery and the pending timer tick (in that order, rx-paths.md leaves it
    /// open).
    pub(crate) fn engine_step(&mut self, env: &mut HostEnv) {
        const SOURCES: usize = 5;
        for i in 0..SOURCES {
            let src = (self.engine_rr + i) % SOURCES;
            let done = match src {
                0 if !self.meta_q.is_empty() => {
                    let m = self.meta_q.pop_front().expect("meta");
                    // CNT_RX_DONE: the frame ended without a drop and without an anonymous
                    // delivery (the RTL counts it where the frame's chain is finished, S_FIN).
                    let before = self.regs.frame_outcomes();
                    let done = self.engine_frame(env, m);
                    if self.regs.frame_outcomes() == before {
                        self.regs.count(reg::CNT_RX_DONE, 1);
                    }
                    done
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
                4 if !self.toe.tx_ready.is_empty() => self.engine_send(env),
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
            return self.udp_frame(&m, s, base);
        }
        self.tcp_frame(&m, s, base)
    }
}
