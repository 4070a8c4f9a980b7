//! The reference: the send state of one socket and the NIC-wide post table and send-ready
//! FIFO, written from docs/tcp-transmit.md and `model/src/toe/snd.rs` (whose `Snd` is private
//! to the model, so its rules are restated here, step by step as toe_engine applies them).

use std::collections::VecDeque;

use buflet_spec::{param, sock_state, status};

pub const CWND_MAX: u64 = u32::MAX as u64;
pub const PAGE: u64 = param::PAGE_BYTES;

/// One accepted post.
#[derive(Debug, Clone, Copy)]
pub struct Post {
    pub slot: usize,
    pub tag: u32,
    pub len: u64,
    pub first_off: u64,
    pub hmd: u64,
    pub psh: bool,
    /// `DEVMEM` (p2p reads): its list names host buflets; its pieces say so.
    pub devmem: bool,
    /// Send-stream offset of its first byte.
    pub off: u64,
}

/// A `TX_POST` request's fields.
#[derive(Debug, Clone, Copy)]
pub struct PostReq {
    pub tag: u32,
    pub len: u32,
    pub first_off: u16,
    pub hmd: u64,
    pub pages: u32,
    pub psh: bool,
    pub devmem: bool,
}

/// A piece for tx_data: (hmd, at, len, last, psh, dev).
pub type Piece = (u64, u32, u16, bool, bool, bool);

/// Bytes a DEVMEM list entry covers (toe_tx's BUFLET_BYTES, the default in sim/models.txt).
pub const BUFLET: u64 = param::DEF_BUFLET_BYTES;

/// The send policy registers.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub rto_init: u32,
    pub rto_min: u32,
    pub rto_max: u32,
    pub retries: u32,
}

/// The next segment: (offset, data bytes, FIN, fast (retransmission at UNA), probe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seg {
    pub off: u64,
    pub len: u64,
    pub fin: bool,
    pub fast: bool,
    pub probe: bool,
}

/// What a tick decided (toe_tx's tk_* outputs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tk {
    pub synack: bool,
    pub listen: bool,
    pub fail: bool,
    pub reset: bool,
    pub rto: bool,
}

/// The send state of one socket (snd_ctx), in stream offsets from ISS + 1.
#[derive(Debug, Clone, Default)]
pub struct Snd {
    pub posts: VecDeque<Post>,
    pub end: u64,
    pub una: u64,
    pub nxt: u64,
    pub max: u64,
    pub wnd: u64,
    pub wl1: u32,
    pub wl2: u32,
    pub cwnd: u64,
    pub ssthresh: u64,
    pub abc: u64,
    pub srtt: u32,
    pub rttvar: u32,
    pub rto: u32,
    pub timer: u32,
    pub backoff: u32,
    pub rtt: Option<(u64, u32)>,
    pub mss: u64,
    pub wscale: u8,
    pub open: bool,
    pub dupacks: u32,
    pub in_recovery: bool,
    pub recover: u64,
    pub retx: bool,
    pub persist: bool,
    pub probe: bool,
    pub fin_queued: bool,
    pub close_tag: Option<u32>,
    pub connect_tag: Option<u32>,
    /// The newest post asked for PSH. The model reads it off its newest post; the flag is
    /// kept (TAIL_PSH) once the posts are gone. The two differ only after SOCK_DEL returned
    /// the posts of an open socket (its send-ready entry, if any, sends nothing).
    pub tail_psh: bool,
}

/// Signed distance a - b modulo 2^32.
pub fn rel(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

impl Snd {
    /// SOCK_ADD (with CONNECT: SYN_SENT's timer and the request's tag).
    pub fn init(connect: Option<u32>, pol: &Policy) -> Snd {
        let mut s = Snd::default();
        if let Some(tag) = connect {
            s.rto = pol.rto_init.max(1);
            s.timer = s.rto;
            s.connect_tag = Some(tag);
        }
        s
    }

    pub fn in_flight(&self) -> u64 {
        self.nxt - self.una
    }

    /// Snd::next_seg, with which branch chose it.
    pub fn next_seg(&self) -> Option<Seg> {
        if !self.open {
            return None;
        }
        let fin_at = |off: u64, data: u64| self.fin_queued && off + data == self.end;
        let mk = |off, len, fast, probe| {
            let fin = fin_at(off, len);
            (len > 0 || fin).then_some(Seg {
                off,
                len,
                fin,
                fast,
                probe,
            })
        };
        if self.retx && self.una < self.max {
            let data = self
                .mss
                .min(self.max.min(self.end).saturating_sub(self.una));
            return mk(self.una, data, true, false);
        }
        if self.probe {
            let off = if self.una < self.max {
                self.una
            } else {
                self.nxt
            };
            if off < self.end {
                return mk(off, 1, false, true);
            }
            if fin_at(off, 0) {
                return mk(off, 0, false, true);
            }
        }
        let data = self.next_len();
        if data > 0 {
            return mk(self.nxt, data, false, false);
        }
        if fin_at(self.nxt, 0) {
            return mk(self.nxt, 0, false, false);
        }
        None
    }

    fn next_len(&self) -> u64 {
        if !self.open || self.nxt >= self.end {
            return 0;
        }
        let room = self.wnd.min(self.cwnd).saturating_sub(self.in_flight());
        let len = room.min(self.mss).min(self.end - self.nxt);
        if len == 0 || len == self.mss {
            return len;
        }
        let end = self.nxt + len;
        let tail_psh = self.tail_psh;
        if self.in_flight() == 0 || (end == self.end && (tail_psh || self.fin_queued)) {
            len
        } else {
            0
        }
    }

    /// snd_wake's persist start (applied on every write-back); whether it can send.
    pub fn wake(&mut self) -> bool {
        if self.open
            && self.wnd == 0
            && self.nxt < self.end
            && self.in_flight() == 0
            && self.timer == 0
        {
            self.persist = true;
            self.timer = self.rto;
        }
        self.next_seg().is_some()
    }

    /// The pieces of segment `seg` (one per post it touches).
    pub fn pieces(&self, seg: &Seg) -> Vec<Piece> {
        let mut v = Vec::new();
        let mut o = seg.off;
        let end = seg.off + seg.len;
        while o < end {
            let p = self
                .posts
                .iter()
                .find(|p| p.off <= o && o < p.off + p.len)
                .expect("a post holds every queued byte");
            let n = (p.off + p.len - o).min(end - o);
            let last = o + n == end;
            v.push((
                p.hmd,
                (p.first_off + (o - p.off)) as u32,
                n as u16,
                last,
                last && p.psh && o + n == p.off + p.len,
                p.devmem,
            ));
            o += n;
        }
        v
    }

    /// The send step's write: SND.NXT, SND.MAX, the RTT sample, the timer.
    pub fn sent(&mut self, seg: &Seg) {
        let end = seg.off + seg.len + u64::from(seg.fin);
        let retrans = seg.off < self.max;
        if seg.fast {
            self.retx = false;
            self.rtt = None;
        } else {
            self.nxt = self.nxt.max(end);
        }
        if seg.probe {
            self.probe = false;
        }
        if end > self.max {
            self.max = end;
        }
        if self.rtt.is_none() && !retrans {
            self.rtt = Some((end, 0));
        }
        if self.timer == 0 {
            self.timer = self.rto;
        }
    }

    /// Snd::on_syn (`wl2`: the SYN-ACK's ACK for an active open, else ISS).
    #[allow(clippy::too_many_arguments)]
    pub fn on_syn(
        &mut self,
        window: u16,
        ws: Option<u8>,
        mss: u16,
        own_mss: u16,
        pol: &Policy,
        seq: u32,
        wl2: u32,
    ) {
        let posts = std::mem::take(&mut self.posts);
        *self = Snd {
            posts,
            end: self.end,
            connect_tag: self.connect_tag,
            tail_psh: self.tail_psh,
            wnd: u64::from(window),
            wscale: ws.unwrap_or(0),
            mss: u64::from(if mss == 0 {
                param::DEF_PEER_MSS as u16
            } else {
                mss
            })
            .min(u64::from(own_mss.max(1)))
            .min(param::TX_MAX_SEG),
            rto: pol.rto_init.max(1),
            timer: pol.rto_init.max(1),
            wl1: seq,
            wl2,
            ..Snd::default()
        };
    }

    pub fn on_established(&mut self, pol: &Policy) {
        self.open = true;
        self.timer = 0;
        self.backoff = 0;
        self.cwnd = (10 * self.mss).min((2 * self.mss).max(14_600));
        self.ssthresh = CWND_MAX;
        self.rto = pol.rto_init.max(1);
    }

    pub fn acks_unsent(&self, iss: u32, ack: u32) -> bool {
        if !self.open {
            return false;
        }
        let una_seq = iss.wrapping_add(1).wrapping_add(self.una as u32);
        let d = rel(ack, una_seq);
        d > 0 && self.una + d as u64 > self.max
    }

    /// snd_ack's arithmetic (completions are the post walk's). Returns whether the third
    /// duplicate started fast retransmit, and what kind of ACK it was (for coverage).
    #[allow(clippy::too_many_arguments)]
    pub fn ack(
        &mut self,
        iss: u32,
        seq: u32,
        ack: u32,
        window: u16,
        pay_len: u16,
        syn_fin: bool,
        syn: bool,
        pol: &Policy,
        cov: &mut Cov,
    ) -> bool {
        if !self.open {
            return false;
        }
        let una_seq = iss.wrapping_add(1).wrapping_add(self.una as u32);
        let d = rel(ack, una_seq);
        if d > 0 && self.una + d as u64 > self.max {
            return false;
        }
        let mut fast = false;
        let new_wnd = u64::from(window) << self.wscale;
        if self.persist {
            self.backoff = 0;
        }
        if d == 0
            && pay_len == 0
            && !syn_fin
            && new_wnd == self.wnd
            && new_wnd > 0
            && !self.persist
            && self.una < self.max
        {
            cov.dupacks += 1;
            self.dupacks = (self.dupacks + 1).min(255);
            if self.dupacks == 3 && !self.in_recovery && self.una >= self.recover {
                self.ssthresh = (self.in_flight() / 2).max(2 * self.mss);
                self.recover = self.max;
                self.cwnd = self.ssthresh + 3 * self.mss;
                self.in_recovery = true;
                self.retx = true;
                fast = true;
                cov.fast_retrans += 1;
            } else if self.in_recovery {
                self.cwnd = (self.cwnd + self.mss).min(CWND_MAX);
                cov.inflate += 1;
            }
        }
        if d > 0 {
            let acked = d as u64;
            self.una += acked;
            self.dupacks = 0;
            if self.nxt < self.una {
                self.nxt = self.una;
            }
            if let Some((until, ticks)) = self.rtt {
                if self.una >= until {
                    self.rtt = None;
                    self.rtt_sample(ticks, pol);
                    cov.rtt_samples += 1;
                }
            }
            self.backoff = 0;
            self.timer = if self.una < self.max { self.rto } else { 0 };
            if self.in_recovery {
                if self.una >= self.recover {
                    self.cwnd = self.ssthresh.min(self.in_flight() + self.mss);
                    self.in_recovery = false;
                    self.retx = false;
                    cov.full_acks += 1;
                } else {
                    self.retx = true;
                    self.cwnd = self.cwnd.saturating_sub(acked) + self.mss;
                    cov.partial_acks += 1;
                }
            } else if self.cwnd < self.ssthresh {
                self.cwnd = (self.cwnd + acked.min(self.mss)).min(CWND_MAX);
                cov.slow_start += 1;
            } else {
                self.abc += acked;
                cov.cong_avoid += 1;
                if self.abc >= self.cwnd {
                    self.abc -= self.cwnd;
                    self.cwnd = (self.cwnd + self.mss).min(CWND_MAX);
                    cov.abc_grow += 1;
                }
            }
        }
        if d >= 0
            && !syn
            && (rel(seq, self.wl1) > 0 || (seq == self.wl1 && rel(ack, self.wl2) >= 0))
        {
            self.wnd = new_wnd;
            self.wl1 = seq;
            self.wl2 = ack;
        }
        if self.persist && self.wnd > 0 {
            self.persist = false;
            self.probe = false;
            self.backoff = 0;
            self.timer = if self.una < self.max { self.rto } else { 0 };
            cov.persist_end += 1;
        }
        fast
    }

    fn rtt_sample(&mut self, r: u32, pol: &Policy) {
        let r = r.max(1);
        if self.srtt == 0 {
            self.srtt = r * 8;
            self.rttvar = r * 2;
        } else {
            let srtt = self.srtt / 8;
            let err = srtt.abs_diff(r);
            self.rttvar = self.rttvar - self.rttvar / 4 + err;
            self.srtt = self.srtt - self.srtt / 8 + r;
        }
        let rto = self.srtt / 8 + self.rttvar.max(1);
        self.rto = rto.clamp(pol.rto_min.max(1), pol.rto_max.max(1));
    }

    /// One timer tick (snd_tick, synack_tick) in socket state `st`: the decisions. A reset
    /// or a failed open leaves the state to the abort that follows (the model counts the
    /// last unanswered probe in BACKOFF first; nothing reads it after the abort).
    pub fn tick(&mut self, st: u8, pol: &Policy) -> Tk {
        let mut tk = Tk::default();
        let dbl = |rto: u32| rto.saturating_mul(2).min(pol.rto_max.max(1));
        let st = u64::from(st);
        if st == sock_state::SYN_RCVD || st == sock_state::SYN_SENT {
            if self.timer == 0 {
                return tk;
            }
            self.timer -= 1;
            if self.timer != 0 {
                return tk;
            }
            self.backoff += 1;
            if self.backoff > pol.retries {
                if st == sock_state::SYN_SENT {
                    tk.fail = true;
                } else {
                    tk.listen = true;
                }
                return tk;
            }
            self.rto = dbl(self.rto);
            self.timer = self.rto;
            tk.synack = true;
            return tk;
        }
        if !self.open {
            return tk;
        }
        if let Some((_, ticks)) = self.rtt.as_mut() {
            *ticks = ticks.saturating_add(1);
        }
        if self.timer == 0 {
            return tk;
        }
        self.timer -= 1;
        if self.timer != 0 {
            return tk;
        }
        if self.persist || self.wnd == 0 {
            if self.backoff + 1 > pol.retries {
                tk.reset = true;
                return tk;
            }
            self.persist = true;
            self.probe = true;
            self.rtt = None;
            self.backoff += 1;
            self.rto = dbl(self.rto);
            self.timer = self.rto;
            return tk;
        }
        tk.rto = true;
        if self.backoff >= pol.retries {
            tk.reset = true;
            return tk;
        }
        self.ssthresh = (self.in_flight() / 2).max(2 * self.mss);
        self.cwnd = self.mss;
        self.abc = 0;
        self.nxt = self.una;
        self.rtt = None;
        self.in_recovery = false;
        self.retx = false;
        self.dupacks = 0;
        self.recover = self.max;
        self.backoff += 1;
        self.rto = dbl(self.rto);
        self.timer = self.rto;
        tk
    }

    /// The connection ended (in_abort).
    pub fn abort(&mut self) {
        self.open = false;
        self.timer = 0;
        self.retx = false;
        self.probe = false;
        self.persist = false;
    }

    /// TX_POST's status (check_post) in socket state `st`.
    pub fn post_status(&self, ok: bool, st: u8, tcp: bool, r: &PostReq, free: bool) -> u64 {
        let st = u64::from(st);
        let ok_state = [
            sock_state::LISTEN,
            sock_state::SYN_RCVD,
            sock_state::SYN_SENT,
            sock_state::ESTAB,
            sock_state::CLOSE_WAIT,
        ]
        .contains(&st);
        let (len, first) = (u64::from(r.len), u64::from(r.first_off));
        // A list entry covers a host page, or (DEVMEM, docs/p2p.md) a host buflet.
        let unit = if r.devmem { BUFLET } else { PAGE };
        if !ok || !ok_state || !tcp || self.fin_queued {
            status::BAD_SOCK
        } else if len == 0
            || len > 1 << 30
            || first >= unit
            || r.pages == 0
            || first + len > u64::from(r.pages) * unit
        {
            status::BAD_NB
        } else if !free {
            status::NO_POST
        } else {
            status::OK
        }
    }

    /// SOCK_CLOSE's status.
    pub fn close_status(&self, ok: bool, st: u8, tcp: bool) -> u64 {
        let st = u64::from(st);
        if !ok
            || !tcp
            || !self.open
            || self.fin_queued
            || (st != sock_state::ESTAB && st != sock_state::CLOSE_WAIT)
        {
            status::BAD_SOCK
        } else {
            status::OK
        }
    }

    /// The posts UNA passed: (count, bytes, tag), taken off the queue.
    pub fn complete(&mut self) -> Vec<Post> {
        let mut v = Vec::new();
        while self
            .posts
            .front()
            .is_some_and(|p| p.off + p.len <= self.una)
        {
            v.push(self.posts.pop_front().unwrap());
        }
        v
    }

    /// Every post (returned): (posts, bytes acknowledged of them).
    pub fn return_all(&mut self) -> (Vec<Post>, u64) {
        let una = self.una;
        let acked = self
            .posts
            .iter()
            .map(|p| una.clamp(p.off, p.off + p.len) - p.off)
            .sum();
        (self.posts.drain(..).collect(), acked)
    }

    pub fn pw_need(&self) -> bool {
        self.posts
            .front()
            .is_some_and(|p| p.off + p.len <= self.una)
    }

    pub fn fin_acked(&self) -> bool {
        self.fin_queued && self.una == self.end + 1
    }
}

/// Coverage of the interesting cases (asserted by the runs; a few are only printed).
#[allow(dead_code)]
#[derive(Debug, Default, Clone)]
pub struct Cov {
    pub dupacks: u64,
    pub fast_retrans: u64,
    pub inflate: u64,
    pub partial_acks: u64,
    pub full_acks: u64,
    pub slow_start: u64,
    pub cong_avoid: u64,
    pub abc_grow: u64,
    pub rtt_samples: u64,
    pub persist_end: u64,
    pub rtos: u64,
    pub probes: u64,
    pub resets: u64,
    pub synacks: u64,
    pub listens: u64,
    pub fails: u64,
    pub no_post: u64,
    pub bad_nb: u64,
    pub bad_sock: u64,
    pub posts: u64,
    pub completions: u64,
    pub multi_completions: u64,
    pub returns: u64,
    pub segs: u64,
    pub multi_piece: u64,
    pub psh_pieces: u64,
    /// Pieces of DEVMEM posts (p2p reads).
    pub dev_pieces: u64,
    pub fins: u64,
    pub closes_done: u64,
    pub ack_unsent: u64,
    pub tq_dup_skipped: u64,
    pub connects: u64,
    pub refused: u64,
}
