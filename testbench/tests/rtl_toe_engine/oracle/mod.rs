//! The oracle: an independent implementation of the toe_engine contract in plain Rust, split
//! file for file as the engine (`rtl/toe_*.v`, `model/src/toe/*.rs`). This file holds its state
//! (sockets, segments, named buffers, expected returns), a frame's dispatch (`toe_engine.v`,
//! `toe/mod.rs`), and the checks of the outputs every part produces: tx commands, completions
//! (each kind handed to the part that predicts it) and chain frees.
//!
//! | file | responsibility | RTL | model |
//! |---|---|---|---|
//! | `mod.rs` | state, a frame's dispatch, tx commands, completions, chain frees | `rtl/toe_engine.v` | `model/src/toe/mod.rs` |
//! | `req.rs` | requests and their CMD_DONE | `rtl/toe_req.v` | `model/src/toe/req.rs` |
//! | `lookup.rs` | the 4-tuple hash, the socket lookup | `rtl/toe_lookup.v` | `model/src/toe/lookup.rs` |
//! | `tcp_rx.rs` | window, states, acceptability, trimming, reassembly, ACK / SYN-ACK | `rtl/toe_tcp_rx.v` | `model/src/toe/tcp_rx.rs` |
//! | `deliver.rs` | chunks, hold records, refused page lists, NB returns | `rtl/toe_deliver.v` | `model/src/toe/deliver.rs` |
//! | `sweep.rs` | the timer tick's sweep | `rtl/toe_sweep.v` | `model/src/toe/sweep.rs` |
//! | `udp_anon.rs` | ARP answer, UDP receive, anonymous buffers | `rtl/toe_udp_anon.v` | `model/src/toe/udp_anon.rs` |

mod deliver;
mod lookup;
mod req;
mod sweep;
mod tcp_rx;
mod udp_anon;

pub use lookup::*;
pub use tcp_rx::*;
pub use udp_anon::*;

use crate::*;

/// A segment on one of the oracle's lists: its undelivered bytes.
#[derive(Clone, Debug)]
pub struct OSeg {
    pub seq: u32,
    pub data: Vec<u8>,
    pub flags: TcpFlags,
    pub chain: u16,
    /// A FIN/RST marker whose chain was already freed (the engine frees it before the return).
    pub freed: bool,
    /// Byte offset of `data[0]` in the frame (the segment's DATA_OFF).
    pub doff: usize,
    /// Hold socket: a record emptied the segment and its chain is held (a FIN segment stays on
    /// the list until its return, but its chain is not freed).
    pub held: bool,
}

/// The oracle's view of one socket slot.
#[derive(Clone, Debug)]
pub struct OSock {
    /// The SOCK_ADD that made it.
    pub cfg: SockCfg,
    /// Which SOCK_ADD taken it was (0 first).
    pub add_no: u64,
    /// The connection state.
    pub state: SockState,
    /// The peer's SYN carried a window scale option.
    pub ws_ok: bool,
    /// The peer's initial sequence number.
    pub irs: u32,
    /// RCV_NXT: the next sequence number expected.
    pub rcv_nxt: u32,
    /// STREAM_OFF: stream bytes delivered so far.
    pub stream_off: u64,
    /// The reassembly list: segments held ahead of RCV_NXT.
    pub ooo: Vec<OSeg>,
    /// In-order segments waiting for a named buffer.
    pub inorder: VecDeque<OSeg>,
    /// The named buffers posted to it, head first.
    pub nbs: VecDeque<u16>,
    /// The bytes delivered to the host, in stream order.
    pub delivered: Vec<u8>,
    /// cpl flags of the final FIN/RST return once it was observed.
    pub end_flag: CplFlags,
    /// RCV_WND_EDGE: the right edge last advertised.
    pub edge: u32,
    /// RCV_ACKED: RCV_NXT as the last ACK or SYN-ACK carried it (a delayed ACK owes the rest).
    pub rcv_acked: u32,
    /// A socket taken from the accept pool: its listen slot and that slot's TAG.
    pub listen: Option<(u16, u32)>,
}

impl OSock {
    /// A socket just added (LISTEN), the `add_no`-th SOCK_ADD taken.
    pub fn new(cfg: SockCfg, add_no: u64) -> OSock {
        OSock {
            cfg,
            add_no,
            state: SockState::Listen,
            ws_ok: false,
            irs: 0,
            rcv_nxt: 0,
            stream_off: 0,
            ooo: Vec::new(),
            inorder: VecDeque::new(),
            nbs: VecDeque::new(),
            delivered: Vec::new(),
            end_flag: CplFlags::empty(),
            edge: 0,
            rcv_acked: 0,
            listen: None,
        }
    }

    /// True for a UDP socket.
    pub fn udp(&self) -> bool {
        self.cfg.udp()
    }
}

/// A posted named buffer: its NB_POST, its pages and what the oracle delivered into it.
#[derive(Clone)]
pub struct Nb {
    pub slot: u16,
    pub tag: u32,
    pub total: usize,
    pub pages: Vec<u64>,
    pub hmd: u64,
    pub n_pages: usize,
    pub refused: bool,
    pub filled: usize,
    pub stream_off: u64,
    pub content: Vec<u8>,
    /// TIMEOUT of the NB_POST and the TICKS_LEFT the sweep counts down.
    pub timeout: u32,
    pub ticks_left: u32,
    /// Hold socket: records written (RECS) and each one's host address and bytes.
    pub recs: usize,
    pub records: Vec<(u64, HoldRec)>,
}

/// An expected NB_RETURN completion.
#[derive(Debug)]
pub struct RetExp {
    pub flags: CplFlags,
    pub status: Status,
    pub bytes: usize,
    pub stream_off: u64,
    /// HDR_BYTES of the completion (DATAGRAM returns only).
    pub hdr: u8,
}

impl Tb {
    /// Counts the coverage points `cov`.
    pub fn count_cov(&mut self, cov: &[&'static str]) {
        for c in cov {
            *self.cov.entry(c).or_default() += 1;
        }
    }

    /// The contract lets `chain` go (nothing when the frame had no chain).
    pub fn release(&mut self, chain: u16) {
        if chain != NULL16 {
            self.allowed_free.insert(chain);
        }
    }

    /// The engine picked this frame's metadata; `free` is the pool_free it saw.
    pub fn oracle_frame(&mut self, f: &Frame, chain: u16, free: usize) {
        if f.reason == DropReason::NotIpv4 {
            if self.arp_answer(f, chain) {
                return;
            }
            self.anon_or_drop(f, chain, DropReason::NotIpv4);
            return;
        }
        if f.reason == DropReason::NoSocket {
            self.anon_or_drop(f, chain, DropReason::NoSocket);
            return;
        }
        if f.reason != DropReason::None {
            self.exp.count_drop(f.reason);
            self.release(chain);
            return;
        }
        // the lookup and its cost: the bucket read, one cycle per socket visited; none for a
        // frame of the 4-tuple the last walk matched (forwarded; its socket is the walk's)
        self.exp.lookups += 1;
        let key = (f.src_ip, f.dst_ip, f.sport, f.dport, f.vlan, f.udp);
        if self.fw.is_some_and(|(k, _)| k == key) {
            self.exp.lookup_fwd += 1;
            self.count_cov(&["lookup_forwarded"]);
        } else {
            self.exp.lookup_cycles += 1 + self.lookup_visits(f) as u64;
            if let Some(si) = self.lookup(f) {
                self.fw = Some((key, si));
            }
        }
        let Some(si) = self.lookup(f) else {
            // a SYN to a listen slot takes a socket from the accept pool
            if !f.udp && f.flags & (SYN | ACK | RST) == SYN {
                if let Some(l) = self.listen_match(f) {
                    if self.pool.is_empty() || self.half_open >= self.half_open_max {
                        self.count_cov(&["listen_full"]);
                        self.exp.count_drop(DropReason::ListenFull);
                        self.release(chain);
                        return;
                    }
                    let si = self.accept(f, l);
                    self.tcp_frame(f, si, chain, free);
                    return;
                }
            }
            self.anon_or_drop(f, chain, DropReason::NoSocket);
            return;
        };
        if f.udp {
            self.udp_frame(f, si, chain);
            return;
        }
        self.tcp_frame(f, si, chain, free);
    }

    /// A tx command the engine sent (`b`: the port's bytes): the next one expected, all 48
    /// bytes, and the edge check of a TCP one.
    pub fn on_tx(&mut self, b: &[u8]) {
        let t = TxCmd::parse(b).unwrap_or_else(|e| panic!("tx_cmd #{}: {e}", self.got.tx + 1));
        self.tx_log.push(t);
        self.got.tx += 1;
        let (exp, edge) = self.tx_expect.pop_front().expect("unexpected tx command");
        if let Some(e) = edge {
            self.check_edge(&t, e);
        }
        assert_eq!(
            t,
            exp,
            "tx_cmd #{} (seq {:#x} ack {:#x} win {} flags {:#x})",
            self.got.tx,
            exp.seq,
            exp.ack,
            exp.window,
            exp.flags.bits()
        );
    }

    /// A completion the engine posted (`b`: the port's bytes), checked by the part that
    /// predicted it.
    pub fn on_cpl(&mut self, b: &[u8]) {
        let c = Cpl::parse(b).unwrap_or_else(|e| panic!("completion: {e}"));
        self.cpl_log.push(c);
        assert_eq!(c.phase, 0);
        match c.kind {
            CplKind::CmdDone => self.check_cmd_done(&c),
            CplKind::AnonRx => self.check_anon_rx(&c),
            CplKind::Accept => self.check_accept(&c),
            kind => {
                assert_eq!(kind, CplKind::NbReturn, "completion kind");
                self.check_nb_return(&c);
            }
        }
    }

    /// The engine freed chain `h` (back in the pool already): the contract must have let it go,
    /// or it is a FIN/RST marker at the head of an in-order list, freed before its NB_RETURN.
    pub fn chain_freed(&mut self, h: u16) {
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
                    && m.flags.intersects(FIN | RST)
                {
                    m.freed = true;
                    return;
                }
            }
        }
        panic!("chain {h} freed while the contract still holds it");
    }
}
