//! The TCP receive rules of docs/tcp-receive.md (rtl/toe_tcp_rx.v): the window, the socket's
//! states (LISTEN, SYN_RCVD, ESTAB, CLOSE_WAIT), acceptability, trimming, the in-order append
//! with the reassembly drain, the reassembly insert, and the ACK / SYN-ACK with the right-edge
//! update.

use buflet_platform::DeviceConfig;
use buflet_spec::{drop, param, reg, sock_state, TcpFlags, TxCmd, TxOpts};

use super::{Seg, Sock};
use crate::buflets::Chain;
use crate::parse::{tcp_flag, Parsed};
use crate::{costs, Meta, ModelDevice};

/// `rel(x)`: `(x - base) mod 2^32` as a signed 32-bit number, widened.
/// The peer may still send (its FIN not yet taken): ESTAB, FIN_WAIT_1, FIN_WAIT_2.
pub(super) fn peer_open(state: u8) -> bool {
    [
        sock_state::ESTAB,
        sock_state::FIN_WAIT_1,
        sock_state::FIN_WAIT_2,
    ]
    .contains(&(state as u64))
}

/// The peer's FIN was taken in order: CLOSE_WAIT, LAST_ACK, CLOSING, TIME_WAIT.
pub(super) fn peer_done(state: u8) -> bool {
    [
        sock_state::CLOSE_WAIT,
        sock_state::LAST_ACK,
        sock_state::CLOSING,
        sock_state::TIME_WAIT,
    ]
    .contains(&(state as u64))
}

/// The state once the peer's FIN is taken in order (docs/tcp-transmit.md, "Closing").
fn after_peer_fin(state: u8) -> u8 {
    (match state as u64 {
        sock_state::FIN_WAIT_1 => sock_state::CLOSING,
        sock_state::FIN_WAIT_2 => sock_state::TIME_WAIT,
        _ => sock_state::CLOSE_WAIT,
    }) as u8
}

pub(super) fn rel(x: u32, base: u32) -> i64 {
    x.wrapping_sub(base) as i32 as i64
}

impl Sock {
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
            src_ip: d.key.local_ip.into(),
            dst_ip: d.key.remote_ip.into(),
            src_port: d.key.local_port,
            dst_port: d.key.remote_port,
            ..TxCmd::default()
        }
    }

    /// An ACK for the current RCV_NXT; its window is `adv` of "The window", and the edge
    /// update rule runs.
    pub(super) fn ack(&mut self, cfg: &DeviceConfig, free: u32) -> TxCmd {
        let (field, shift) = self.adv_field(cfg, free);
        self.advance_edge(field, shift);
        self.rcv_acked = self.rcv_nxt;
        TxCmd {
            // SND.MAX (docs/tcp-transmit.md): ISS + 1 until data is sent.
            seq: self.d.iss.wrapping_add(1).wrapping_add(self.snd.nxt_off()),
            ack: self.rcv_nxt,
            window: field as u16,
            flags: TcpFlags::ACK,
            ..self.tx_base()
        }
    }

    /// `adv` of "The window" as an ACK's WINDOW field carries it: `(field, shift)`, the field
    /// saturated at 65535.
    fn adv_field(&self, cfg: &DeviceConfig, free: u32) -> (u64, u8) {
        let shift = if self.ws_ok { self.d.rcv_wscale } else { 0 };
        let promised = self.promised();
        let adv = if Self::pool_room(cfg, free) == 0 {
            0 // no buflets: close, keep the promise
        } else if !self.ooo.is_empty() && promised > 0 {
            promised // loss episode: freeze the edge
        } else {
            self.win(cfg, self.rcv_nxt, free).max(promised)
        };
        ((adv >> shift).min(65535), shift)
    }

    /// A window update for a timer tick (RFC 9293 3.8.6.2.2, docs/tcp-receive.md "Window
    /// updates"): when the peer may still send, the advertised right edge lies less than
    /// `min(MSS, RCV_BUF/2)` right of RCV_NXT and the window an ACK would advertise now lies
    /// at least that much further, the ACK (which moves the edge there); else nothing.
    pub(super) fn window_update(&mut self, cfg: &DeviceConfig, free: u32) -> Option<TxCmd> {
        let min = u64::from(self.d.mss).min(u64::from(self.d.rcv_buf) / 2);
        if self.is_udp() || !peer_open(self.state) || min == 0 {
            return None;
        }
        let promised = self.promised();
        let (field, shift) = self.adv_field(cfg, free);
        (promised < min && field << shift >= promised + min).then(|| self.ack(cfg, free))
    }

    /// A timer tick's delayed ACK (docs/tcp-receive.md "Delayed ACKs"): a DELAYED_ACK socket
    /// whose peer may still send and that owes an ACK for bytes received gets it.
    pub(super) fn delayed_ack(&mut self, cfg: &DeviceConfig, free: u32) -> Option<TxCmd> {
        (self.delays_ack()
            && !self.is_udp()
            && peer_open(self.state)
            && self.rcv_nxt != self.rcv_acked)
            .then(|| self.ack(cfg, free))
    }

    /// Whether the ACK of an in-order segment that found the reassembly list empty waits
    /// (docs/tcp-receive.md "Delayed ACKs"; toe_tcp_rx `dack_waits` in S_INORD): a DELAYED_ACK
    /// socket, a segment without PSH or FIN (`flags` as appended), at most MSS bytes
    /// unacknowledged and at least MSS of the advertised window left (else the peer may stall
    /// on it).
    fn ack_waits(&self, flags: u8) -> bool {
        let mss = u32::from(self.d.mss);
        self.delays_ack()
            && flags & (tcp_flag::FIN | tcp_flag::PSH) == 0
            && self.rcv_nxt.wrapping_sub(self.rcv_acked) <= mss
            && rel(self.wnd_edge, self.rcv_nxt) >= i64::from(mss)
    }

    /// Our SYN of an active open (docs/tcp-transmit.md): SEQ = ISS, options MSS and window
    /// scale, the window `min(win, 65535)` unscaled.
    pub(super) fn syn(&mut self, cfg: &DeviceConfig, free: u32) -> TxCmd {
        let field = self.win(cfg, self.rcv_nxt, free).min(65535);
        TxCmd {
            seq: self.d.iss,
            ack: 0,
            window: field as u16,
            flags: TcpFlags::SYN,
            opts: TxOpts::MSS | TxOpts::WS,
            mss: self.d.mss,
            wscale: self.d.rcv_wscale,
            ..self.tx_base()
        }
    }

    /// The SYN-ACK (window `min(win, 65535)`, never scaled; options MSS and, if the SYN had
    /// it, window scale). The edge update rule runs with `shift = 0`.
    pub(super) fn syn_ack(&mut self, cfg: &DeviceConfig, free: u32) -> TxCmd {
        let field = self.win(cfg, self.rcv_nxt, free).min(65535);
        self.advance_edge(field, 0);
        self.rcv_acked = self.rcv_nxt;
        let mut opts = TxOpts::MSS;
        if self.ws_ok {
            opts |= TxOpts::WS;
        }
        TxCmd {
            seq: self.d.iss,
            ack: self.irs.wrapping_add(1),
            window: field as u16,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            opts,
            mss: self.d.mss,
            wscale: self.d.rcv_wscale,
            ..self.tx_base()
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
    /// S_EST1 skipped (`costs::EST_STEP`): in order as it came, nothing to trim or drain.
    est_skip: bool,
    /// The in-order list grew (a segment or an RST marker appended: the RTL's `f_wake`).
    grew: bool,
    /// Appended in order with the reassembly list empty: the frame's rules end in S_INORD
    /// (no drain step), where the send side's step is folded in when it carries no FIN
    /// (such a segment is always kept).
    inord_end: bool,
}

impl Outcome {
    fn new(fate: Fate) -> Self {
        Outcome {
            fate,
            tx: None,
            steps: 0,
            accepted: false,
            ooo_held: false,
            est_skip: false,
            grew: false,
            inord_end: false,
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
            grew: true,
            ..Outcome::new(Fate::Kept)
        };
    }
    // 3. SYN.
    if syn {
        return ack_and(sock, Fate::Drop(drop::BAD_STATE));
    }
    // 4. CLOSE_WAIT (and the send side's states after the peer's FIN).
    if peer_done(sock.state) {
        if seg_len > 0 {
            return ack_and(sock, Fate::Drop(drop::BAD_STATE));
        }
        return Outcome::new(Fate::Consumed);
    }
    // S_EST0 goes straight to S_INORD: at RCV_NXT, within the window, data or FIN, nothing
    // out of order.
    let est_skip = off == 0 && len <= wnd && (len > 0 || fin) && sock.ooo.is_empty();
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
        out.est_skip = est_skip;
        // 6. In order: cut at the reassembly head, append, drain (S_INORD, then S_DRAIN once
        // per segment drained and once to end). With the reassembly list empty the frame ends
        // in S_INORD, where its ACK may wait.
        let ooo_empty = sock.ooo.is_empty();
        out.inord_end = ooo_empty;
        out.steps += 1;
        if let Some(h) = sock.ooo.front() {
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
            sock.state = after_peer_fin(sock.state);
        }
        out.accepted = len > 0;
        out.grew = true;
        sock.segs.push_back(seg);
        if !ooo_empty {
            out.steps += 1;
        }
        while peer_open(sock.state) && sock.ooo.front().is_some_and(|h| h.seq == sock.rcv_nxt) {
            let h = sock.ooo.pop_front().expect("reassembly head");
            sock.rcv_nxt = sock.rcv_nxt.wrapping_add(h.data_len as u32 + h.fin());
            if h.fin() != 0 {
                sock.state = after_peer_fin(sock.state);
            }
            sock.segs.push_back(h);
            out.steps += 1;
        }
        if !(ooo_empty && sock.ack_waits(flags)) {
            out.tx = Some(sock.ack(cfg, free));
        }
        return out;
    }
    // 7. Ahead. The ACK follows the insertion (its window depends on OOO_HEAD).
    if len == 0 {
        out.tx = Some(sock.ack(cfg, free));
        out.fate = Fate::Drop(drop::OUT_OF_ORDER);
        return out;
    }
    // The pool at its reserve holds nothing more out of order: the reserve is for the
    // in-order segment that fills the gap (else tiny segments ahead of a gap take the pool).
    if Sock::pool_room(cfg, free) == 0 {
        out.tx = Some(sock.ack(cfg, free));
        out.fate = Fate::Drop(drop::POOL_LOW);
        return out;
    }
    // Insertion into the reassembly list; `visited` counts the elements compared (the
    // steps of a duplicate's drop).
    let base = sock.rcv_nxt;
    let start = |c: &Seg| rel(c.seq, base);
    let n = sock.ooo.len();
    let mut i = 0;
    while i < n && start(&sock.ooo[i]) + sock.ooo[i].data_len as i64 <= off {
        i += 1;
    }
    let mut visited = (i + 1).min(n) as u64;
    // rtl/toe_engine.v S_INS reads one element per cycle: the `i` it passes, then the one it
    // stops at (or the list's end)
    let ins_walk = i as u64 + 1;
    let ovl = i < n && start(&sock.ooo[i]) <= off;
    if ovl {
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
    if i < n && start(&sock.ooo[i]) < off + len {
        len = start(&sock.ooo[i]) - off;
        flags &= !(tcp_flag::FIN | tcp_flag::PSH);
    }
    if len == 0 {
        out.steps += visited;
        out.fate = Fate::Drop(drop::DUPLICATE);
        out.tx = Some(sock.ack(cfg, free));
        return out;
    }
    // The walk, S_INS_B after a head cut, the link (S_INS_L) and, behind an element, its
    // predecessor's link (S_INS_L2), and the step into the walk (costs::INS_STEPS).
    out.steps += ins_walk + u64::from(ovl) + 1 + u64::from(i > 0) + costs::INS_STEPS;
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
    out.ooo_held = true;
    out.tx = Some(sock.ack(cfg, free));
    out
}

impl ModelDevice {
    /// The TCP rules for one frame of socket `s` (found by the lookup at `base`). Returns the
    /// cycle the engine is done with it (including handing its tx command to tx_builder).
    pub(super) fn tcp_frame(&mut self, m: &Meta, s: u16, base: u64) -> u64 {
        // Every TCP frame's rules end in the send side's step (S_SA0) before its ACK.
        let base = base + costs::SEND_SIDE_STEP;
        let p = m.p;
        // The window's free buflet count, sampled as the engine picks the metadata.
        let free = self.free_sample();
        let cfg = &self.cfg;
        let sock = &mut self.toe.socks[s as usize];
        let flags = p.flags;
        let has = |f: u8| flags & f != 0;
        let was = sock.state as u64;
        let rto_init = self.regs.tx_policy.rto_init;
        // An ACK of data never sent (docs/tcp-transmit.md): answered, dropped BAD_ACK, before
        // any other rule looks at the segment.
        if (peer_open(was as u8) || peer_done(was as u8))
            && has(tcp_flag::ACK)
            && !has(tcp_flag::RST)
            && sock.snd.acks_unsent(sock.d.iss, p.ack)
        {
            let tx = sock.ack(cfg, free);
            self.drop_frame(m.chain, drop::BAD_ACK);
            return self.tx.push(&self.cfg, base, &tx) + costs::ENGINE_TX;
        }
        let out = match sock.state as u64 {
            sock_state::LISTEN => {
                if has(tcp_flag::RST) || !has(tcp_flag::SYN) || has(tcp_flag::ACK) {
                    Outcome::new(Fate::Drop(drop::BAD_STATE))
                } else {
                    sock.irs = p.seq;
                    sock.rcv_nxt = p.seq.wrapping_add(1);
                    sock.stream_off = 0;
                    sock.ws_ok = p.ws_valid;
                    sock.snd.on_syn(
                        p.window,
                        p.ws_valid.then_some(p.ws),
                        p.mss,
                        rto_init,
                        (p.seq, sock.d.iss),
                        sock.d.mss,
                    );
                    sock.state = sock_state::SYN_RCVD as u8;
                    // The SYN that enters SYN_RCVD starts the edge at RCV_NXT.
                    sock.wnd_edge = sock.rcv_nxt;
                    Outcome {
                        tx: Some(sock.syn_ack(cfg, free)),
                        ..Outcome::new(Fate::Consumed)
                    }
                }
            }
            // Active open (RFC 9293 3.10.7.3, without simultaneous open).
            sock_state::SYN_SENT => {
                let ack_ok = has(tcp_flag::ACK) && p.ack == sock.d.iss.wrapping_add(1);
                if has(tcp_flag::ACK) && !ack_ok {
                    // An ACK of something we never sent: RST (SEQ = its ACK), unless an RST.
                    let rst = TxCmd {
                        seq: p.ack,
                        flags: TcpFlags::RST,
                        ..sock.tx_base()
                    };
                    Outcome {
                        tx: (!has(tcp_flag::RST)).then_some(rst),
                        ..Outcome::new(Fate::Drop(drop::BAD_ACK))
                    }
                } else if has(tcp_flag::RST) {
                    if ack_ok {
                        sock.state = sock_state::CLOSED as u8; // refused
                        Outcome::new(Fate::Consumed)
                    } else {
                        Outcome::new(Fate::Drop(drop::BAD_STATE))
                    }
                } else if has(tcp_flag::SYN) && ack_ok {
                    sock.irs = p.seq;
                    sock.rcv_nxt = p.seq.wrapping_add(1);
                    sock.stream_off = 0;
                    sock.ws_ok = p.ws_valid;
                    sock.wnd_edge = sock.rcv_nxt;
                    sock.snd.on_syn(
                        p.window,
                        p.ws_valid.then_some(p.ws),
                        p.mss,
                        rto_init,
                        (p.seq, p.ack),
                        sock.d.mss,
                    );
                    sock.state = sock_state::ESTAB as u8;
                    Outcome {
                        tx: Some(sock.ack(cfg, free)),
                        ..Outcome::new(Fate::Consumed)
                    }
                } else {
                    Outcome::new(Fate::Drop(drop::BAD_STATE))
                }
            }
            sock_state::SYN_RCVD => {
                if has(tcp_flag::RST) {
                    if p.seq == sock.rcv_nxt {
                        // An accepted socket does not listen again: CLOSED (docs/tcp-receive.md,
                        // "Listening sockets").
                        sock.state = if sock.half_open {
                            sock_state::CLOSED as u8
                        } else {
                            sock_state::LISTEN as u8
                        };
                        sock.snd.stop_timer();
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
            st if peer_open(st as u8) || peer_done(st as u8) => {
                established(cfg, sock, &p, m.chain, free)
            }
            _ => Outcome::new(Fate::Drop(drop::BAD_STATE)),
        };
        let now_state = sock.state as u64;
        let acceptable = !matches!(
            out.fate,
            Fate::Drop(drop::OUT_OF_WINDOW) | Fate::Drop(drop::BAD_STATE)
        );
        match out.fate {
            Fate::Kept if out.grew => self.toe.wake_grown(s),
            Fate::Kept => self.toe.wake(s),
            Fate::Consumed => self.pool.free_chain(m.chain),
            Fate::Drop(r) => self.drop_frame(m.chain, r),
        }
        // The send side: the handshake's end opens it; an acceptable segment's ACK moves it.
        let st_open = peer_open(now_state as u8) || peer_done(now_state as u8);
        if (was == sock_state::SYN_RCVD || was == sock_state::SYN_SENT) && st_open {
            let rto = self.regs.tx_policy.rto_init;
            self.toe.socks[s as usize].snd.on_established(rto);
            self.snd_wake(s);
        }
        // The ACCEPT of an accepted socket that leaves SYN_RCVD with this frame, posted after
        // the frame's ACK (S_FIN, S_ACPT).
        let acc_leave = self.toe.socks[s as usize].half_open
            && was == sock_state::SYN_RCVD
            && now_state != sock_state::SYN_RCVD;
        // The end of the receive rules: S_SA0, the send side's first step, ends here. An
        // in-order segment that ends in S_INORD, carries no FIN and posts no ACCEPT takes that
        // step in S_INORD (rtl/toe_engine.v `sa_in_inord`), one cycle sooner.
        let t = base + out.steps * costs::LIST_STEP;
        let folded = out.inord_end && !has(tcp_flag::FIN) && !acc_leave;
        let t_sa0 = t
            - if out.est_skip { costs::EST_STEP } else { 0 }
            - if folded { costs::SEND_SIDE_STEP } else { 0 };
        // The send side's steps after S_SA0 (rtl/toe_engine.v sa_slow, sa_ack, S_SA1..S_SA9).
        let sa_syn = (was == sock_state::LISTEN && now_state == sock_state::SYN_RCVD)
            || (was == sock_state::SYN_SENT && st_open);
        let sa_est = (was == sock_state::SYN_RCVD || was == sock_state::SYN_SENT) && st_open;
        let sa_stop = was == sock_state::SYN_RCVD && now_state == sock_state::LISTEN;
        let sa_abort = now_state == sock_state::CLOSED && was != sock_state::CLOSED;
        let mut sa_conn = false;
        if was == sock_state::SYN_SENT && now_state != sock_state::SYN_SENT {
            let st = if st_open {
                buflet_spec::Status::Ok
            } else {
                buflet_spec::Status::Reset
            };
            if let Some(tag) = self.toe.socks[s as usize].snd.take_connect() {
                sa_conn = true;
                // posted in S_SA3
                self.connect_done(s, tag, st, t_sa0 + costs::SEND_SLOW_CONNECT);
            }
        }
        let sa_slow = sa_syn || sa_est || sa_stop || sa_conn || sa_abort;
        // The peer's RST closed the connection: the send side stops and gives back what the
        // host handed it (RESET).
        if sa_abort {
            self.snd_abort(s, buflet_spec::Status::Reset, false);
        }
        let sa_ack = acceptable && has(tcp_flag::ACK) && !has(tcp_flag::RST) && st_open;
        let done = if sa_ack {
            self.snd_ack(s, &p)
        } else {
            super::snd::AckDone::default()
        };
        // The one-step common case ends in S_SA0; otherwise the slow steps, the abort
        // sequence, S_SA6, the post walk (S_SA7) and S_SA8 as they apply, then S_SA9.
        let simple = !sa_slow && !done.any();
        let mut t = t_sa0;
        if !simple {
            if sa_slow {
                t += costs::SEND_SLOW_STEPS;
            }
            if sa_abort {
                t += costs::SEND_ABORT_STEPS;
            }
            if sa_ack {
                t += 1;
                if done.count > 0 {
                    t += costs::post_walk(u64::from(done.count));
                }
                self.snd_ack_done(s, &done, t, t + 1);
                t += 1;
            }
            t += 1;
        }
        if out.accepted {
            self.regs.count(reg::CNT_RX_ACCEPTED, 1);
        }
        if out.ooo_held {
            self.regs.count(reg::CNT_OOO_HELD, 1);
        }
        // A kept frame that posts no ACCEPT has no S_FIN: it ends as its ACK is queued
        // (S_TX1, `tx_fold`), or without an ACK in S_SA0 when the send side's step is the
        // one-step common case (`sa_fin`).
        let no_fin = out.fate == Fate::Kept && !acc_leave;
        let t = match out.tx {
            Some(cmd) => {
                self.tx.push(&self.cfg, t, &cmd) + costs::FRAME_ACK
                    - if no_fin { costs::FIN_STEP } else { 0 }
            }
            None if no_fin && simple => t - costs::FIN_STEP,
            None => t,
        };
        // The ACCEPT (OK, or RESET after the peer's RST), posted in S_ACPT between two S_FIN.
        if acc_leave {
            let st = if now_state == sock_state::CLOSED {
                buflet_spec::Status::Reset
            } else {
                buflet_spec::Status::Ok
            };
            self.leave_half_open(s, Some(st), t + costs::ACCEPT_POST);
            return t + costs::ACCEPT_POST + 1;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rel_is_signed_modulo() {
        assert_eq!(super::rel(5, 0xFFFF_FFFE), 7);
        assert_eq!(super::rel(0xFFFF_FFFE, 5), -7);
        assert_eq!(super::rel(100, 100), 0);
    }
}
