//! TCP receive (`rtl/toe_tcp_rx.v`, `model/src/toe/tcp_rx.rs`) in the oracle: the window (`win`,
//! the promise kept in RCV_WND_EDGE, `wnd`, the advertised field and the edge update), the
//! socket's states, acceptability, trimming, the in-order append with the reassembly drain, the
//! reassembly insert, the ACK / SYN-ACK a frame sends, and the check, on the observed tx commands
//! alone, that the advertised right edge never moves left.

use crate::*;

impl OSeg {
    /// The `n` bytes of `f`'s payload from `a` on, kept as a segment starting at `seq` with
    /// `flags`, in chain `chain`.
    fn kept(f: &Frame, seq: u32, flags: TcpFlags, chain: u16, a: usize, n: usize) -> OSeg {
        OSeg {
            seq,
            data: f.payload[a..a + n].to_vec(),
            flags,
            chain,
            freed: false,
            doff: f.pay_off + a,
            held: false,
        }
    }
}

/// The window of a socket.
impl OSock {
    /// The window already promised: rel(RCV_WND_EDGE) if positive, else 0.
    pub fn promised(&self) -> i64 {
        self.rel(self.edge).max(0)
    }

    /// wnd = max(win, promised): the window of acceptability and trimming.
    pub fn wnd(&self, pool_room: u64) -> i64 {
        (self.win(pool_room) as i64).max(self.promised())
    }

    /// The shift of the socket's advertised windows: RCV_WSCALE once the SYN carried the option.
    pub fn shift(&self) -> u32 {
        if self.ws_ok {
            self.cfg.wscale as u32
        } else {
            0
        }
    }

    /// The edge update rule: RCV_WND_EDGE = RCV_NXT + (field << shift) if that lies further right.
    pub fn update_edge(&mut self, field: u32, shift: u32) {
        let e = self.rcv_nxt.wrapping_add(field << shift);
        if self.rel(e) > self.rel(self.edge) {
            self.edge = e;
        }
    }

    /// The WINDOW field of an ACK (RCV_NXT after the segment, the frame's pool room), with the
    /// edge update.
    pub fn ack_field(&mut self, pool_room: u64) -> u16 {
        let field = self.adv_field(pool_room);
        self.update_edge(field, self.shift());
        self.rcv_acked = self.rcv_nxt;
        field as u16
    }

    /// The WINDOW field an ACK would carry now, without the edge update.
    pub fn adv_field(&self, pool_room: u64) -> u32 {
        let win = self.win(pool_room) as i64;
        let promised = self.promised();
        let adv = if pool_room == 0 {
            0
        } else if !self.ooo.is_empty() && promised > 0 {
            promised
        } else {
            win.max(promised)
        };
        ((adv >> self.shift()) as u64).min(65535) as u32
    }

    /// A timer tick's window update (docs/tcp-receive.md "Window updates"): a TCP socket whose
    /// peer may still send, whose promise is under min(MSS, RCV_BUF/2) and whose ACK would now
    /// open at least that much more gets that ACK (the edge moves).
    pub fn window_update(&mut self, pool_room: u64) -> Option<TxCmd> {
        let min = u64::from(self.cfg.mss).min(u64::from(self.cfg.rcv_buf) / 2);
        if self.udp() || self.state != SockState::Estab || min == 0 {
            return None;
        }
        let promised = self.promised() as u64;
        let gain = u64::from(self.adv_field(pool_room)) << self.shift();
        if promised >= min || gain < promised + min {
            return None;
        }
        Some(self.plain_ack(pool_room))
    }

    /// A plain ACK (SEQ = ISS + 1, ACK = RCV_NXT): a frame's or a tick's, with the edge update.
    fn plain_ack(&mut self, pool_room: u64) -> TxCmd {
        let field = self.ack_field(pool_room);
        TxCmd {
            seq: self.cfg.iss.wrapping_add(1),
            ack: self.rcv_nxt,
            window: field,
            flags: ACK,
            ..self.cfg.tx()
        }
    }

    /// A timer tick's delayed ACK (docs/tcp-receive.md "Delayed ACKs"): a DELAYED_ACK TCP
    /// socket in ESTAB that owes an ACK for bytes received gets it (the edge moves).
    pub fn delayed_ack(&mut self, pool_room: u64) -> Option<TxCmd> {
        if self.udp()
            || self.state != SockState::Estab
            || !self.cfg.flags.contains(SockFlags::DELAYED_ACK)
            || self.rcv_nxt == self.rcv_acked
        {
            return None;
        }
        Some(self.plain_ack(pool_room))
    }

    /// The WINDOW field of a SYN-ACK (never scaled), with the edge update (shift 0).
    pub fn syn_ack_field(&mut self, pool_room: u64) -> u16 {
        let field = self.win(pool_room).min(65535);
        self.update_edge(field, 0);
        self.rcv_acked = self.rcv_nxt;
        field as u16
    }

    /// win(RCV_NXT) for the given pool room.
    pub fn win(&self, pool_room: u64) -> u32 {
        let held = self
            .rcv_nxt
            .wrapping_sub(self.irs)
            .wrapping_sub(1)
            .wrapping_sub(self.stream_off as u32);
        let sock_room = self.cfg.rcv_buf.saturating_sub(held); // 0 when held >= RCV_BUF
        (sock_room as u64).min(pool_room) as u32
    }

    /// `x` relative to RCV_NXT, signed (sequence space wraps).
    pub fn rel(&self, x: u32) -> i64 {
        x.wrapping_sub(self.rcv_nxt) as i32 as i64
    }
}

/// What the TCP rules decided for one frame.
#[derive(Default, Debug)]
pub struct Dec {
    /// 0 none, 1 ACK, 2 SYN-ACK.
    pub tx: u8,
    pub drop: DropReason,
    /// The chain stays on a segment list.
    pub keep: bool,
    pub accepted: bool,
    pub held: bool,
    /// Bytes of the payload kept: (index of the first, count).
    pub kept: Option<(usize, usize)>,
    pub cov: Vec<&'static str>,
}

/// The TCP rules of docs/tcp-receive.md for a frame matched to socket `s`. `inf` replaces the
/// window by 2^30 (used to predict which bytes can possibly be kept).
pub fn tcp(s: &mut OSock, f: &Frame, chain: u16, pool_room: u64, inf: bool) -> Dec {
    let mut d = Dec::default();
    let syn = f.flags.contains(SYN);
    let rst = f.flags.contains(RST);
    let ackf = f.flags.contains(ACK);
    // The send side (docs/tcp-transmit.md): the NIC of this test never sends data, so an ACK
    // past ISS + 1 acknowledges data never sent: answered with an ACK, dropped BAD_ACK.
    if matches!(s.state, SockState::Estab | SockState::CloseWait)
        && ackf
        && !rst
        && (f.ack.wrapping_sub(s.cfg.iss.wrapping_add(1)) as i32) > 0
    {
        d.tx = 1;
        d.drop = DropReason::BadAck;
        d.cov.push("bad_ack");
        return d;
    }
    match s.state {
        SockState::Listen => {
            if rst {
                d.drop = DropReason::BadState;
            } else if syn && !ackf {
                s.irs = f.seq;
                s.rcv_nxt = f.seq.wrapping_add(1);
                s.stream_off = 0;
                s.ws_ok = f.ws.is_some();
                s.edge = s.rcv_nxt;
                s.state = SockState::SynRcvd;
                d.tx = 2;
                d.cov.push("syn");
            } else {
                d.drop = DropReason::BadState;
            }
            d
        }
        SockState::SynRcvd => {
            if rst {
                if f.seq == s.rcv_nxt {
                    // an accepted socket does not listen again
                    s.state = if s.listen.is_some() {
                        SockState::Closed
                    } else {
                        SockState::Listen
                    };
                    d.cov.push("syn_rcvd_rst");
                } else {
                    d.drop = DropReason::OutOfWindow;
                }
            } else if syn {
                if f.seq == s.irs {
                    d.tx = 2;
                    d.cov.push("syn_retransmit");
                } else {
                    d.drop = DropReason::BadState;
                }
            } else if ackf && f.ack == s.cfg.iss.wrapping_add(1) {
                s.state = SockState::Estab;
                let mut e = estab(s, f, chain, pool_room, inf);
                e.cov.push("estab");
                return e;
            } else {
                d.drop = DropReason::BadState;
            }
            d
        }
        SockState::Estab | SockState::CloseWait => estab(s, f, chain, pool_room, inf),
        _ => {
            d.drop = DropReason::BadState;
            d
        }
    }
}

/// The rules of ESTAB and CLOSE_WAIT: acceptability, RST, SYN, trimming, the in-order append
/// with the reassembly drain, and the reassembly insert.
fn estab(s: &mut OSock, f: &Frame, chain: u16, pool_room: u64, inf: bool) -> Dec {
    let mut d = Dec::default();
    let syn = f.flags.contains(SYN);
    let rst = f.flags.contains(RST);
    let mut len = f.payload.len() as i64;
    let seg_len = len + syn as i64 + f.flags.contains(FIN) as i64;
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
        d.drop = DropReason::OutOfWindow;
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
            s.state = SockState::Closed;
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
            d.drop = DropReason::OutOfWindow;
            d.cov.push("rst_challenge");
        }
        return d;
    }
    if syn {
        d.tx = 1;
        d.drop = DropReason::BadState;
        d.cov.push("syn_challenge");
        return d;
    }
    if s.state == SockState::CloseWait {
        if seg_len > 0 {
            d.tx = 1;
            d.drop = DropReason::BadState;
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
        flags.remove(FIN | PSH);
        d.cov.push("trim_right");
    }
    if len == 0 && !flags.contains(FIN) {
        d.cov.push("pure_ack");
        return d;
    }
    if off == 0 {
        if let Some(h) = s.ooo.first() {
            let r = s.rel(h.seq);
            if r < len {
                len = r;
                flags.remove(FIN | PSH);
                d.cov.push("inorder_cut");
            }
        }
        let fin = flags.contains(FIN);
        let (a, n) = (start as usize, len as usize);
        s.inorder.push_back(OSeg::kept(f, seq, flags, chain, a, n));
        s.rcv_nxt = s.rcv_nxt.wrapping_add(n as u32 + fin as u32);
        d.accepted = n > 0;
        d.keep = true;
        d.kept = Some((a, n));
        if fin {
            s.state = SockState::CloseWait;
            d.cov.push("fin_in_order");
        }
        let mut drained = false;
        while s.state == SockState::Estab && s.ooo.first().is_some_and(|h| h.seq == s.rcv_nxt) {
            let h = s.ooo.remove(0);
            let hf = h.flags.contains(FIN);
            s.rcv_nxt = s.rcv_nxt.wrapping_add(h.data.len() as u32 + hf as u32);
            if hf {
                s.state = SockState::CloseWait;
                d.cov.push("fin_drained");
            }
            s.inorder.push_back(h);
            d.cov.push("drain");
            drained = true;
        }
        // docs/tcp-receive.md "Delayed ACKs": no PSH or FIN, nothing drained or left out of
        // order, at most MSS unacknowledged and at least MSS of the advertised window left
        let mss = i64::from(s.cfg.mss);
        if s.cfg.flags.contains(SockFlags::DELAYED_ACK)
            && !drained
            && s.ooo.is_empty()
            && !flags.intersects(FIN | PSH)
            && i64::from(s.rcv_nxt.wrapping_sub(s.rcv_acked)) <= mss
            && s.rel(s.edge) >= mss
        {
            d.cov.push("ack_delayed");
            return d;
        }
        d.tx = 1;
        return d;
    }
    d.tx = 1;
    if len == 0 {
        d.drop = DropReason::OutOfOrder;
        d.cov.push("fin_ahead");
        return d;
    }
    // tcp-receive.md rule 7: the pool at its reserve keeps it for in-order data (not with
    // `inf`: the peers' question of what a segment may keep at all)
    if !inf && pool_room == 0 {
        d.drop = DropReason::PoolLow;
        d.cov.push("pool_low");
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
            d.drop = DropReason::Duplicate;
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
        flags.remove(FIN | PSH);
        d.cov.push("ins_tail_cut");
    }
    if len == 0 {
        d.drop = DropReason::Duplicate;
        d.cov.push("dup_tail");
        return d;
    }
    let (a, n) = (start as usize, len as usize);
    if i > 0 && i < s.ooo.len() {
        d.cov.push("ins_middle");
    }
    s.ooo.insert(i, OSeg::kept(f, seq, flags, chain, a, n));
    d.keep = true;
    d.held = true;
    d.kept = Some((a, n));
    if flags.contains(FIN) {
        d.cov.push("fin_held");
    }
    d
}

/// What the edge check of an expected TCP tx command needs.
#[derive(Clone, Copy, Debug)]
pub struct TxEdge {
    pub slot: u16,
    pub shift: u32,
    pub syn_ack: bool,
    /// A SYN-ACK for a SYN taken in LISTEN (a new connection).
    pub fresh: bool,
    /// The frame's pool room was 0 (the ACK closes the window to 0).
    pub pool_closed: bool,
}

impl Tb {
    /// The pool room of a free count: what the window may promise beyond the reserve.
    pub fn pool_room(&self, free: usize) -> u64 {
        let reserve = self.nbuf / spec::param::POOL_RESERVE_DIV as usize;
        if free > reserve {
            ((free - reserve) * (self.bb / 2)) as u64
        } else {
            0
        }
    }

    /// A TCP frame matched to socket `si`: the rules, then the ACK or SYN-ACK they send (with the
    /// edge update, from the pool room of `free`), the drop, and the chain's fate.
    pub fn tcp_frame(&mut self, f: &Frame, si: usize, chain: u16, free: usize) {
        let pool_room = self.pool_room(free);
        let mut s = self.osock[si].take().unwrap();
        let was = s.state;
        let d = tcp(&mut s, f, chain, pool_room, false);
        let left = s.listen.is_some() && was == SockState::SynRcvd && s.state != SockState::SynRcvd;
        let left_st = if s.state == SockState::Closed {
            Status::Reset
        } else {
            Status::Ok
        };
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
                let t = s.plain_ack(pool_room);
                if t.window == 0 {
                    cov.push("ack_window_0");
                }
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
                let opts = TxOpts::MSS | if s.ws_ok { TxOpts::WS } else { TxOpts::empty() };
                let t = TxCmd {
                    seq: s.cfg.iss,
                    ack: s.irs.wrapping_add(1),
                    window: field,
                    flags: SYN | ACK,
                    opts,
                    mss: s.cfg.mss,
                    wscale: s.cfg.wscale,
                    ..s.cfg.tx()
                };
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
        if left {
            self.accept_done(si, left_st);
        }
        if d.tx != 0 {
            self.exp.tx += 1;
        }
        if d.drop != DropReason::None {
            self.exp.count_drop(d.drop);
        }
        if !d.keep {
            self.release(chain);
        }
        self.exp.accepted += d.accepted as u64;
        self.exp.ooo_held += d.held as u64;
        self.count_cov(&d.cov);
        self.count_cov(&cov);
    }

    /// The advertised right edge (ACK + WINDOW << shift) never moves left, checked on the
    /// observed tx commands alone: only a closed pool (WINDOW 0) or the rounding of the scaled
    /// field (less than 2^shift bytes, RFC 7323 2.4) may pull it left.
    pub fn check_edge(&mut self, t: &TxCmd, e: TxEdge) {
        let (ack, win) = (t.ack, u32::from(t.window));
        let slot = &e.slot;
        let edge = ack.wrapping_add(win << e.shift);
        if e.syn_ack {
            // the SYN-ACK carries min(win, 65535): a retransmitted one may carry less than was
            // promised, and the promise stands
            let prev = self.obs_edge.get(slot).copied();
            if e.fresh || prev.is_none_or(|p| edge.wrapping_sub(p) as i32 > 0) {
                self.obs_edge.insert(e.slot, edge);
            }
            return;
        }
        let Some(&max) = self.obs_edge.get(slot) else {
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
}
