//! The send side of docs/tcp-transmit.md (issue 12, in progress): `TX_POST` queues, one data
//! segment per engine step read from host memory by DMA, acknowledgment processing with
//! `TX_DONE` completions by range, the retransmission timer (RFC 6298) and slow start /
//! congestion avoidance (RFC 5681), fast retransmit and NewReno recovery (RFC 5681 3.2, RFC 6582).
//! Zero-window probes (RFC 9293 3.8.6.1), SOCK_CLOSE (our FIN after the last post). Not yet:
//! SOCK_CONNECT, p2p posts.
//!
//! Sequence numbers of the send stream are kept as 64-bit offsets from `ISS + 1` (the first
//! byte after our SYN); a segment's SEQ is `ISS + 1 + offset` modulo 2^32.

use std::collections::VecDeque;

use buflet_platform::{Agent, HostEnv};
use buflet_spec::{param, reg, sock_state, CplKind, Opcode, Status, TcpFlags, TxDesc, TxFlags};

use super::tcp_rx::rel;
use super::Sock;
use crate::parse::{tcp_flag, Parsed};
use crate::{costs, dma_read, Cpl, ModelDevice};

const PAGE: u64 = param::PAGE_BYTES;
/// CWND and SSTHRESH are 32-bit in `snd_ctx`: they saturate.
const CWND_MAX: u64 = u32::MAX as u64;

/// One `TX_POST`: a buffer the NIC owns until its last byte is acknowledged.
#[derive(Debug, Clone, Copy)]
pub(super) struct Post {
    tag: u32,
    len: u64,
    first_off: u64,
    hmd_addr: u64,
    psh: bool,
    /// `DEVMEM`: the list names host buflets, each `unit` bytes (else host pages of 4096).
    dev: bool,
    unit: u64,
    /// Send-stream offset of the post's first byte.
    off: u64,
}

/// The send state of a TCP socket (`snd_ctx`), in stream offsets.
#[derive(Debug, Clone, Default)]
pub(super) struct Snd {
    /// Posts not yet fully acknowledged, oldest first.
    posts: VecDeque<Post>,
    /// Offset past the last post's last byte.
    end: u64,
    una: u64,
    nxt: u64,
    max: u64,
    /// The peer's window in bytes (scaled), and the segment that last set it.
    wnd: u64,
    wl1: u32,
    wl2: u32,
    cwnd: u64,
    ssthresh: u64,
    /// Bytes acknowledged in congestion avoidance since CWND last grew (RFC 3465).
    abc: u64,
    srtt: u32,
    rttvar: u32,
    rto: u32,
    /// Ticks to the retransmission deadline (0: stopped).
    timer: u32,
    backoff: u32,
    /// The RTT sample in progress: the offset whose acknowledgment ends it, ticks so far.
    rtt: Option<(u64, u32)>,
    mss: u64,
    wscale: u8,
    /// The handshake completed: the send side may run.
    open: bool,
    /// Duplicate ACKs in a row, fast recovery in progress, and its RECOVER point.
    dupacks: u32,
    in_recovery: bool,
    recover: u64,
    /// Send the segment at SND.UNA again next (fast retransmit, a partial ACK).
    retx: bool,
    /// The timer runs as the persist timer (the peer's window is 0), and a probe is due.
    persist: bool,
    probe: bool,
    /// SOCK_CLOSE: our FIN follows the last post (offset `end`); the request's tag, completed
    /// when the FIN is acknowledged.
    fin_queued: bool,
    close_tag: Option<u32>,
    /// SOCK_ADD with CONNECT: its tag, completed when the handshake ends.
    connect_tag: Option<u32>,
}

impl Snd {
    /// At the peer's SYN: its window (never scaled in a SYN), window scale and MSS.
    /// Posts made before the handshake (in LISTEN, SYN_RCVD or SYN_SENT) and a pending active
    /// open are kept; the SYN-ACK's retransmission timer starts at `rto_init` ticks.
    /// `seq`, `ack`: the SYN's (SYN-ACK's) SEQ and ACK, the first SND.WL1 / SND.WL2.
    pub fn on_syn(
        &mut self,
        window: u16,
        ws: Option<u8>,
        mss: u16,
        rto_init: u32,
        (seq, ack): (u32, u32),
        own_mss: u16,
    ) {
        let posts = std::mem::take(&mut self.posts);
        *self = Snd {
            posts,
            end: self.end,
            connect_tag: self.connect_tag,
            wnd: u64::from(window),
            wscale: ws.unwrap_or(0),
            mss: u64::from(if mss == 0 {
                param::DEF_PEER_MSS as u16
            } else {
                mss
            })
            .min(u64::from(own_mss.max(1)))
            .min(param::TX_MAX_SEG),
            rto: rto_init.max(1),
            timer: rto_init.max(1),
            wl1: seq,
            wl2: ack,
            ..Snd::default()
        };
    }

    /// Our SYN was acknowledged: data may flow. RFC 6928's initial window.
    pub fn on_established(&mut self, rto_init: u32) {
        self.open = true;
        self.timer = 0;
        self.backoff = 0;
        self.cwnd = (10 * self.mss).min((2 * self.mss).max(14_600));
        self.ssthresh = CWND_MAX;
        self.rto = rto_init.max(1);
    }

    /// Stop the retransmission (or SYN-ACK) timer.
    pub fn stop_timer(&mut self) {
        self.timer = 0;
    }

    /// SND.MAX as an offset from ISS + 1, modulo 2^32: the SEQ of a pure ACK or an RST (after
    /// a timeout rewinds SND.NXT the peer may already hold bytes up to SND.MAX).
    pub fn nxt_off(&self) -> u32 {
        self.max as u32
    }

    /// The tag of an active open still waiting for its handshake, taken.
    pub fn take_connect(&mut self) -> Option<u32> {
        self.connect_tag.take()
    }

    /// The tag of a SOCK_CLOSE still waiting for its FIN's acknowledgment, taken.
    pub fn take_close(&mut self) -> Option<u32> {
        self.close_tag.take()
    }

    /// `ack` acknowledges sequence numbers never sent (beyond SND.MAX).
    pub fn acks_unsent(&self, iss: u32, ack: u32) -> bool {
        if !self.open {
            return false;
        }
        let una_seq = iss.wrapping_add(1).wrapping_add(self.una as u32);
        let d = rel(ack, una_seq);
        d > 0 && self.una + d as u64 > self.max
    }

    fn in_flight(&self) -> u64 {
        self.nxt - self.una
    }

    /// The next segment to send now: (offset, data bytes, FIN). Nothing to send when both
    /// are 0/false. Our FIN takes the sequence number at offset `end`, after the last post.
    fn next_seg(&self) -> (u64, u64, bool) {
        if !self.open {
            return (0, 0, false);
        }
        // The FIN goes with the segment that reaches `end`, once it is queued.
        let fin_at = |off: u64, data: u64| self.fin_queued && off + data == self.end;
        if self.retx && self.una < self.max {
            let data = self
                .mss
                .min(self.max.min(self.end).saturating_sub(self.una));
            return (self.una, data, fin_at(self.una, data));
        }
        if self.probe {
            // The byte probed last, if the peer did not take it; else the next one (or the
            // FIN, when no data is left).
            let off = if self.una < self.max {
                self.una
            } else {
                self.nxt
            };
            if off < self.end {
                return (off, 1, fin_at(off, 1));
            }
            if fin_at(off, 0) {
                return (off, 0, true);
            }
        }
        let data = self.next_len();
        if data > 0 {
            return (self.nxt, data, fin_at(self.nxt, data));
        }
        // A FIN alone once every byte was sent (it does not wait for the window); again after
        // a timeout brought SND.NXT back to it.
        if fin_at(self.nxt, 0) {
            return (self.nxt, 0, true);
        }
        (0, 0, false)
    }

    /// Bytes the next new segment may carry now (0: nothing to send).
    fn next_len(&self) -> u64 {
        if !self.open || self.nxt >= self.end {
            return 0;
        }
        let room = self.wnd.min(self.cwnd).saturating_sub(self.in_flight());
        let len = room.min(self.mss).min(self.end - self.nxt);
        if len == 0 || len == self.mss {
            return len;
        }
        // Nagle (RFC 9293 3.7.4): a short segment only when nothing is in flight, or when it
        // empties the queue and the newest post asked for PSH (or our FIN follows it).
        let end = self.nxt + len;
        let tail_psh = self.posts.back().is_some_and(|p| p.psh);
        if self.in_flight() == 0 || (end == self.end && (tail_psh || self.fin_queued)) {
            len
        } else {
            0
        }
    }

    fn post_at(&self, off: u64) -> Option<&Post> {
        self.posts
            .iter()
            .find(|p| p.off <= off && off < p.off + p.len)
    }
}

/// Validate a `TX_POST` entry for socket `sock`: `Err(status)` when it is refused.
/// `posts_in_use` of `posts_max` post slots (NIC-wide) hold posts.
pub(super) fn check_post(
    sock: &Sock,
    d: &TxDesc,
    posts_in_use: u32,
    posts_max: u32,
    buflet_bytes: u64,
) -> Result<Post, Status> {
    let dev = d.flags.contains(TxFlags::DEVMEM);
    // A list entry covers a host page, or (DEVMEM, docs/p2p.md) a host buflet.
    let unit = if dev { buflet_bytes } else { PAGE };
    let len = u64::from(d.len);
    let first_off = u64::from(d.first_off);
    // Posts may come before the handshake ends (LISTEN, SYN_RCVD, SYN_SENT): they wait for
    // ESTAB.
    let st = sock.state as u64;
    let ok_state = [
        sock_state::LISTEN,
        sock_state::SYN_RCVD,
        sock_state::SYN_SENT,
        sock_state::ESTAB,
        sock_state::CLOSE_WAIT,
    ]
    .contains(&st);
    if !ok_state || sock.is_udp() || sock.snd.fin_queued {
        return Err(Status::BadSock);
    }
    if len == 0
        || len > 1 << 30
        || first_off >= unit
        || d.hmd_pages == 0
        || first_off + len > u64::from(d.hmd_pages) * unit
    {
        return Err(Status::BadNb);
    }
    if posts_in_use >= posts_max {
        return Err(Status::NoPost);
    }
    Ok(Post {
        tag: d.tag,
        len,
        first_off,
        hmd_addr: d.hmd_addr,
        psh: d.flags.contains(TxFlags::PSH),
        dev,
        unit,
        off: sock.snd.end,
    })
}

/// What an acceptable ACK completed on the send side ([`ModelDevice::snd_ack`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct AckDone {
    /// Posts wholly acknowledged (one TX_DONE for all of them).
    pub count: u32,
    /// Their bytes.
    pub bytes: u64,
    /// The last one's tag.
    pub tag: u32,
    /// The SOCK_CLOSE whose FIN this ACK acknowledged.
    pub close_tag: Option<u32>,
}

impl AckDone {
    /// The ACK completed a post or a close (rtl/toe_engine.v: `pw_need || close_due`).
    pub fn any(&self) -> bool {
        self.count > 0 || self.close_tag.is_some()
    }
}

impl ModelDevice {
    /// Queue an accepted post on socket `s` and put the socket on the send list if it can send.
    pub(super) fn snd_post(&mut self, s: u16, mut p: Post) {
        let snd = &mut self.toe.socks[s as usize].snd;
        p.off = snd.end;
        snd.end += p.len;
        snd.posts.push_back(p);
        self.toe.posts_in_use += 1;
        self.snd_wake(s);
    }

    pub(super) fn snd_wake(&mut self, s: u16) {
        let in_fifo = self.toe.tx_in[s as usize];
        let snd = &mut self.toe.socks[s as usize].snd;
        // A closed window with data waiting and none in flight: the persist timer probes it.
        if snd.open && snd.wnd == 0 && snd.nxt < snd.end && snd.in_flight() == 0 && snd.timer == 0 {
            snd.persist = true;
            snd.timer = snd.rto;
        }
        let (_, data, fin) = snd.next_seg();
        if !in_fifo && (data > 0 || fin) {
            self.toe.tx_in[s as usize] = true;
            self.toe.tx_ready.push_back(s);
        }
    }

    /// One engine step of the send side: the socket at the head of the send list sends one
    /// segment (its payload read from host memory by DMA) and goes back on the list if it can
    /// send more. Returns the done time.
    pub(super) fn engine_send(&mut self, env: &mut HostEnv) -> u64 {
        let s = self.toe.tx_ready.pop_front().expect("send-ready socket");
        let free = self.free_sample();
        let mut t = self.now + costs::ENGINE_FRAME;
        // A socket deleted while on the list leaves its entry there; it sends nothing.
        self.toe.tx_in[s as usize] = false;
        if self.toe.socks[s as usize].state == sock_state::FREE as u8 {
            return t;
        }
        let sock = &mut self.toe.socks[s as usize];
        let (off, len, fin) = sock.snd.next_seg();
        if len == 0 && !fin {
            return t;
        }
        // A retransmission at SND.UNA exactly as next_seg chose it.
        let fast = sock.snd.retx && sock.snd.una < sock.snd.max && off == sock.snd.una;
        let probe = !fast && sock.snd.probe;
        // tx_data (rtl/tx_data.v) takes the segment's command once it has passed its previous
        // data command on, then one piece (post) at a time, fetching each before taking the
        // next; the engine's piece walk ends when the last piece is taken. The payload is in
        // when the last piece's reads are done: the frame is built from then on, while the
        // engine goes on.
        let t_take = (t + 1).max(self.txd_free);
        t = t_take;
        let mut last_piece_at = t_take;
        let mut cur_post: Option<u64> = None;
        // Gather the payload along the posts' page lists.
        let mut payload = vec![0u8; len as usize];
        let mut done = 0u64;
        let mut ok = true;
        while done < len {
            let o = off + done;
            let p = *sock.snd.post_at(o).expect("a post holds every queued byte");
            if cur_post != Some(p.off) {
                cur_post = Some(p.off);
                last_piece_at = t;
            }
            let at = p.first_off + (o - p.off);
            let page = at / p.unit;
            let n = (p.unit - at % p.unit)
                .min(len - done)
                .min(p.off + p.len - o);
            // After a refused read tx_data skips the command's remaining runs (no more reads).
            if !ok {
                done += n;
                continue;
            }
            // The page list entry, unless tx_data's page cache holds it (rtl/tx_data.v: a
            // hit is used as it is; a failed read, or a DEVMEM entry that is not a host
            // buflet's address, is a refused read and empties the cache).
            let key = (p.dev, p.hmd_addr, page);
            let (ent, t1) = match self.txd_page {
                Some((k, e)) if k == key => (e, t),
                _ => {
                    let mut ent = [0u8; 8];
                    let (ok1, t1) = dma_read(
                        &self.cfg,
                        &mut self.rd_free,
                        env,
                        Agent::NicDma,
                        t,
                        p.hmd_addr + 8 * page,
                        &mut ent,
                    );
                    let base = u64::from_le_bytes(ent);
                    let not_host =
                        p.dev && !(base.is_multiple_of(p.unit) && self.pool.is_host(base / p.unit));
                    if !ok1 || not_host {
                        self.txd_page = None;
                        ok = false;
                        t = t1;
                        done += n;
                        continue;
                    }
                    self.txd_page = Some((key, ent));
                    (ent, t1)
                }
            };
            let dst = &mut payload[done as usize..(done + n) as usize];
            let (ok2, t2) = if p.dev {
                // A host buflet's bytes, from buflet memory (no host access).
                let a = u64::from_le_bytes(ent) + at % p.unit;
                (
                    self.pool.read_dev(a, dst),
                    t1 + costs::dev_read(&self.cfg, a, n as usize),
                )
            } else {
                dma_read(
                    &self.cfg,
                    &mut self.rd_free,
                    env,
                    Agent::NicDma,
                    t1,
                    u64::from_le_bytes(ent) + at % PAGE,
                    dst,
                )
            };
            ok &= ok2;
            t = t2;
            done += n;
        }
        let cfg = &self.cfg;
        let sock = &mut self.toe.socks[s as usize];
        let psh = len > 0
            && sock
                .snd
                .post_at(off + len - 1)
                .is_some_and(|p| p.psh && p.off + p.len == off + len);
        let mut cmd = sock.ack(cfg, free);
        cmd.seq = sock.d.iss.wrapping_add(1).wrapping_add(off as u32);
        if psh {
            cmd.flags |= TcpFlags::PSH;
        }
        if fin {
            cmd.flags |= TcpFlags::FIN;
        }
        // The sequence space the segment takes: its bytes, and the FIN.
        let end = off + len + u64::from(fin);
        let snd = &mut sock.snd;
        let retrans = off < snd.max;
        if fast {
            // One segment at SND.UNA; SND.NXT stays where it was.
            snd.retx = false;
            snd.rtt = None;
        } else {
            snd.nxt = snd.nxt.max(end);
        }
        if probe {
            snd.probe = false;
            self.regs.count(reg::CNT_TX_PROBES, 1);
        }
        if end > snd.max {
            snd.max = end;
        }
        if snd.rtt.is_none() && !retrans {
            snd.rtt = Some((end, 0));
        }
        if snd.timer == 0 {
            snd.timer = snd.rto;
        }
        if len > 0 {
            self.regs.count(reg::CNT_TX_SEGS, 1);
            self.regs.count(reg::CNT_TX_DATA_BYTES, len);
        }
        if retrans {
            self.regs.count(reg::CNT_TX_RETRANS, 1);
        }
        // A refused read (page list or payload): the frame is not sent, as if lost on the wire
        // (the host sees the protection fault; the retransmission timer sends it again).
        let t_pay = t;
        self.txd_free = t_pay;
        let t = if ok {
            self.tx
                .push_data_ready(&self.cfg, t_take, t_pay, &cmd, &payload)
        } else {
            t_take
        }
        .max(last_piece_at)
            + costs::ENGINE_TX;
        self.snd_wake(s);
        t
    }

    /// The acknowledgment fields of an acceptable segment of socket `s` (SEQ `seq`, ACK
    /// `ack`, WINDOW `window`): SND.UNA, completions, RTT, congestion window, peer window. An
    /// ACK of data never sent was dropped before (`Snd::acks_unsent`).
    /// Returns what the ACK completed (the send side's slow steps, rtl/toe_engine.v
    /// S_SA6..S_SA9); [`ModelDevice::snd_ack_done`] posts its completions.
    pub(super) fn snd_ack(&mut self, s: u16, p: &Parsed) -> AckDone {
        let (seq, ack, window) = (p.seq, p.ack, p.window);
        let policy = self.regs.tx_policy;
        let sock = &mut self.toe.socks[s as usize];
        let iss1 = sock.d.iss.wrapping_add(1);
        let snd = &mut sock.snd;
        if !snd.open {
            return AckDone::default();
        }
        let una_seq = iss1.wrapping_add(snd.una as u32);
        let d = rel(ack, una_seq);
        if d > 0 && snd.una + d as u64 > snd.max {
            return AckDone::default();
        }
        let new_wnd = u64::from(window) << snd.wscale;
        if snd.persist {
            snd.backoff = 0; // the peer answers its probes
        }
        if d == 0
            && p.pay_len == 0
            && p.flags & (tcp_flag::SYN | tcp_flag::FIN) == 0
            && new_wnd == snd.wnd
            && new_wnd > 0
            && !snd.persist
            && snd.una < snd.max
        {
            // A duplicate ACK (RFC 5681's definition). The third starts fast retransmit
            // (once per window: not before SND.UNA passed RECOVER, RFC 6582 4.1); more
            // inflate the window in recovery.
            snd.dupacks = (snd.dupacks + 1).min(255);
            if snd.dupacks == 3 && !snd.in_recovery && snd.una >= snd.recover {
                snd.ssthresh = (snd.in_flight() / 2).max(2 * snd.mss);
                snd.recover = snd.max;
                snd.cwnd = snd.ssthresh + 3 * snd.mss;
                snd.in_recovery = true;
                snd.retx = true;
                self.regs.count(reg::CNT_TX_FAST_RETRANS, 1);
            } else if snd.in_recovery {
                snd.cwnd = (snd.cwnd + snd.mss).min(CWND_MAX);
            }
        }
        if d > 0 {
            let acked = d as u64;
            snd.una += acked;
            snd.dupacks = 0;
            if snd.nxt < snd.una {
                snd.nxt = snd.una;
            }
            // RTT sample (Karn: none runs across a retransmission).
            if let Some((until, ticks)) = snd.rtt {
                if snd.una >= until {
                    snd.rtt = None;
                    rtt_sample(snd, ticks, policy.rto_min, policy.rto_max);
                }
            }
            snd.backoff = 0;
            snd.timer = if snd.una < snd.max { snd.rto } else { 0 };
            if snd.in_recovery {
                if snd.una >= snd.recover {
                    // A full ACK ends recovery (RFC 6582 3.2 step 3).
                    snd.cwnd = snd.ssthresh.min(snd.in_flight() + snd.mss);
                    snd.in_recovery = false;
                    snd.retx = false;
                } else {
                    // A partial ACK: the next hole is sent at once, the window deflated by
                    // what was acknowledged, less one segment (step 4).
                    snd.retx = true;
                    snd.cwnd = snd.cwnd.saturating_sub(acked) + snd.mss;
                }
            } else if snd.cwnd < snd.ssthresh {
                // RFC 5681 3.1: slow start, then congestion avoidance.
                snd.cwnd = (snd.cwnd + acked.min(snd.mss)).min(CWND_MAX);
            } else {
                // Congestion avoidance by bytes acknowledged (RFC 5681 3.1, RFC 3465): one
                // MSS per CWND bytes acknowledged, no division in hardware.
                snd.abc += acked;
                if snd.abc >= snd.cwnd {
                    snd.abc -= snd.cwnd;
                    snd.cwnd = (snd.cwnd + snd.mss).min(CWND_MAX);
                }
            }
        }
        // Window update (RFC 9293 3.10.7.4): SND.UNA <= ACK, and never from a SYN (its window
        // is not scaled; on_syn took it).
        if d >= 0
            && p.flags & tcp_flag::SYN == 0
            && (rel(seq, snd.wl1) > 0 || (seq == snd.wl1 && rel(ack, snd.wl2) >= 0))
        {
            snd.wnd = new_wnd;
            snd.wl1 = seq;
            snd.wl2 = ack;
        }
        if snd.persist && snd.wnd > 0 {
            // The window opened: the persist timer stops (the RTO runs if data is in flight).
            snd.persist = false;
            snd.probe = false;
            snd.backoff = 0;
            snd.timer = if snd.una < snd.max { snd.rto } else { 0 };
        }
        // Completions by range: every post now wholly acknowledged.
        let (mut count, mut bytes, mut tag) = (0u32, 0u64, 0u32);
        while snd.posts.front().is_some_and(|p| p.off + p.len <= snd.una) {
            let p = snd.posts.pop_front().expect("post");
            count += 1;
            bytes += p.len;
            tag = p.tag;
        }
        // Our FIN acknowledged: SOCK_CLOSE completes and the state moves on.
        let fin_acked = snd.fin_queued && snd.una == snd.end + 1;
        let close_tag = if fin_acked {
            snd.close_tag.take()
        } else {
            None
        };
        self.toe.posts_in_use -= count;
        if count > 0 {
            self.regs.count(reg::CNT_TX_DONE, u64::from(count));
            // the post walk starts: tx_data forgets its cached page (the host may rewrite
            // the completed posts' page lists)
            self.txd_page = None;
        }
        if close_tag.is_some() {
            let sock = &mut self.toe.socks[s as usize];
            sock.state = (match sock.state as u64 {
                sock_state::FIN_WAIT_1 => sock_state::FIN_WAIT_2,
                sock_state::CLOSING => sock_state::TIME_WAIT,
                _ => sock_state::CLOSED, // LAST_ACK
            }) as u8;
        }
        self.snd_wake(s);
        AckDone {
            count,
            bytes,
            tag,
            close_tag,
        }
    }

    /// Posts the completions of an ACK's [`AckDone`]: its TX_DONE at `t_posts` (the post
    /// walk's end, S_SA7), the SOCK_CLOSE at `t_close` (S_SA8).
    pub(super) fn snd_ack_done(&mut self, s: u16, done: &AckDone, t_posts: u64, t_close: u64) {
        if done.count > 0 {
            self.post_cpl(
                t_posts,
                Cpl {
                    kind: CplKind::TxDone,
                    status: Status::Ok,
                    sock_ref: s,
                    tag: done.tag,
                    ref_num: done.count,
                    bytes: done.bytes.min(u64::from(u32::MAX)) as u32,
                    opcode: Opcode::TxPost.code(),
                    ..Cpl::default()
                },
            );
        }
        if let Some(tag) = done.close_tag {
            self.post_cpl(
                t_close,
                Cpl {
                    kind: CplKind::CmdDone,
                    status: Status::Ok,
                    sock_ref: s,
                    tag,
                    opcode: Opcode::SockClose.code(),
                    ..Cpl::default()
                },
            );
        }
    }

    /// OP_SOCK_CLOSE on socket `s`: our FIN is queued after the last post (ESTAB goes to
    /// FIN_WAIT_1, CLOSE_WAIT to LAST_ACK); the request completes when the FIN is
    /// acknowledged. `Err(BAD_SOCK)` unless the socket is a TCP socket in ESTAB or CLOSE_WAIT
    /// that was not closed already.
    pub(super) fn snd_close(&mut self, s: u16, tag: u32) -> Result<(), Status> {
        let sock = &mut self.toe.socks[s as usize];
        let next = match sock.state as u64 {
            sock_state::ESTAB => sock_state::FIN_WAIT_1,
            sock_state::CLOSE_WAIT => sock_state::LAST_ACK,
            _ => return Err(Status::BadSock),
        };
        if sock.is_udp() || !sock.snd.open || sock.snd.fin_queued {
            return Err(Status::BadSock);
        }
        sock.state = next as u8;
        sock.snd.fin_queued = true;
        sock.snd.close_tag = Some(tag);
        self.snd_wake(s);
        Ok(())
    }

    /// Give every post of socket `s` back with status `st` in one TX_DONE (`BYTES` = the
    /// bytes of them acknowledged). Returns the done time.
    pub(super) fn snd_return_posts(&mut self, s: u16, st: Status, t: u64) -> u64 {
        // the abort sequence's post walk (S_AB1) makes tx_data forget its cached page
        self.txd_page = None;
        let snd = &mut self.toe.socks[s as usize].snd;
        if snd.posts.is_empty() {
            return t;
        }
        let una = snd.una;
        let count = snd.posts.len() as u32;
        let tag = snd.posts.back().map_or(0, |p| p.tag);
        let acked: u64 = snd
            .posts
            .iter()
            .map(|p| una.clamp(p.off, p.off + p.len) - p.off)
            .sum();
        snd.posts.clear();
        self.toe.posts_in_use -= count;
        // the abort sequence's walk reads two cycles per post (S_AB2) before its TX_DONE
        let t = t + costs::ENGINE_RETURN + costs::POST_WALK_STEP * u64::from(count);
        self.post_cpl(
            t,
            Cpl {
                kind: CplKind::TxDone,
                status: st,
                sock_ref: s,
                tag,
                ref_num: count,
                bytes: acked.min(u64::from(u32::MAX)) as u32,
                opcode: Opcode::TxPost.code(),
                ..Cpl::default()
            },
        );
        t
    }

    /// One timer tick for the send side of socket `s`: the RTT sample ages, and an expired
    /// retransmission timer sends again from SND.UNA (RFC 6298 5.4-5.7, go-back-N).
    /// `t`: the sweep's time at this socket (an ACCEPT TIMEOUT is posted then).
    pub(super) fn snd_tick(&mut self, s: u16, t: u64) {
        let policy = self.regs.tx_policy;
        let state = self.toe.socks[s as usize].state as u64;
        if state == sock_state::SYN_RCVD || state == sock_state::SYN_SENT {
            return self.synack_tick(s, t);
        }
        let snd = &mut self.toe.socks[s as usize].snd;
        if !snd.open {
            return;
        }
        if let Some((_, ticks)) = snd.rtt.as_mut() {
            *ticks = ticks.saturating_add(1);
        }
        if snd.timer == 0 {
            return;
        }
        snd.timer -= 1;
        if snd.timer != 0 {
            return;
        }
        if snd.persist || snd.wnd == 0 {
            // Probe the closed window with one byte, backing off like the RTO (never given up
            // while the peer answers).
            snd.persist = true;
            snd.probe = true;
            snd.rtt = None;
            // Unanswered probes count like timeouts (any acceptable ACK resets the count).
            snd.backoff += 1;
            if snd.backoff > policy.retries {
                return self.snd_reset(s, Status::Timeout);
            }
            snd.rto = snd.rto.saturating_mul(2).min(policy.rto_max.max(1));
            snd.timer = snd.rto;
            self.snd_wake(s);
            return;
        }
        self.regs.count(reg::CNT_TX_RTO, 1);
        if snd.backoff >= policy.retries {
            // The peer stopped acknowledging: RST, and everything the host handed over comes
            // back with TIMEOUT.
            return self.snd_reset(s, Status::Timeout);
        }
        snd.ssthresh = (snd.in_flight() / 2).max(2 * snd.mss);
        snd.cwnd = snd.mss;
        snd.abc = 0;
        snd.nxt = snd.una;
        snd.rtt = None;
        snd.in_recovery = false;
        snd.retx = false;
        snd.dupacks = 0;
        snd.recover = snd.max;
        snd.backoff += 1;
        snd.rto = snd.rto.saturating_mul(2).min(policy.rto_max.max(1));
        snd.timer = snd.rto;
        self.snd_wake(s);
    }
}

impl ModelDevice {
    /// SOCK_ADD with CONNECT: the socket goes to SYN_SENT and our SYN (MSS and window scale
    /// offered, the window unscaled) goes out; its timer resends it. The SOCK_ADD completes
    /// when the SYN-ACK arrives (OK), an RST refuses it (RESET), or the retries run out
    /// (TIMEOUT). Returns the done time.
    pub(super) fn snd_connect(&mut self, s: u16, tag: u32, t: u64) -> u64 {
        let rto = self.regs.tx_policy.rto_init.max(1);
        let free = self.free_sample();
        let sock = &mut self.toe.socks[s as usize];
        sock.state = sock_state::SYN_SENT as u8;
        sock.snd.rto = rto;
        sock.snd.timer = rto;
        sock.snd.connect_tag = Some(tag);
        let cmd = sock.syn(&self.cfg, free);
        self.tx.push(&self.cfg, t, &cmd) + costs::ENGINE_TX
    }

    /// End the connection from our side: an RST (SEQ = SND.NXT) goes out, the socket is
    /// CLOSED, its posts and a pending SOCK_CLOSE come back with status `st`.
    fn snd_reset(&mut self, s: u16, st: Status) {
        self.snd_abort(s, st, true);
    }

    /// The connection is over (`rst`: we end it and send an RST; else the peer's RST or a
    /// failed open ended it): the socket is CLOSED, the send side stops, and its posts, a
    /// pending SOCK_CLOSE and a pending active open come back with status `st`. Returns when
    /// the last of those completions is posted.
    pub(super) fn snd_abort(&mut self, s: u16, st: Status, rst: bool) -> u64 {
        let free = self.free_sample();
        let sock = &mut self.toe.socks[s as usize];
        let mut cmd = sock.ack(&self.cfg, free);
        cmd.flags = TcpFlags::RST | TcpFlags::ACK;
        sock.state = sock_state::CLOSED as u8;
        sock.snd.open = false;
        sock.snd.timer = 0;
        sock.snd.retx = false;
        sock.snd.probe = false;
        sock.snd.persist = false;
        let close = sock.snd.take_close();
        let connect = sock.snd.take_connect();
        if rst {
            self.tx.push(&self.cfg, self.now, &cmd);
        }
        let t = self.snd_return_posts(s, st, self.now);
        if let Some(tag) = connect {
            self.connect_done(s, tag, st, t);
        }
        if let Some(tag) = close {
            self.post_cpl(
                t,
                Cpl {
                    kind: CplKind::CmdDone,
                    status: st,
                    sock_ref: s,
                    tag,
                    opcode: Opcode::SockClose.code(),
                    ..Cpl::default()
                },
            );
        }
        t
    }

    /// The SOCK_ADD of an active open completes with `st`.
    pub(super) fn connect_done(&mut self, s: u16, tag: u32, st: Status, t: u64) {
        self.post_cpl(
            t,
            Cpl {
                kind: CplKind::CmdDone,
                status: st,
                sock_ref: s,
                tag,
                opcode: Opcode::SockAdd.code(),
                ..Cpl::default()
            },
        );
    }

    /// SYN_RCVD: the SYN-ACK is sent again when its timer expires (the ACK that completes
    /// the handshake may be lost, and a peer with nothing to send would never repeat it),
    /// backing off like the RTO; after TX_RETRIES the socket listens again (an accepted
    /// socket is CLOSED instead, and its ACCEPT TIMEOUT is posted at `t`).
    fn synack_tick(&mut self, s: u16, t: u64) {
        let policy = self.regs.tx_policy;
        let free = self.free_sample();
        let sock = &mut self.toe.socks[s as usize];
        if sock.snd.timer == 0 {
            return;
        }
        sock.snd.timer -= 1;
        if sock.snd.timer != 0 {
            return;
        }
        sock.snd.backoff += 1;
        let active = sock.state == sock_state::SYN_SENT as u8;
        if sock.snd.backoff > policy.retries {
            if active {
                // The connect fails: CLOSED, the SOCK_ADD and early posts come back TIMEOUT.
                self.snd_abort(s, Status::Timeout, false);
            } else if sock.half_open {
                sock.state = sock_state::CLOSED as u8;
                sock.snd.timer = 0;
                self.leave_half_open(s, Some(Status::Timeout), t);
            } else {
                sock.state = sock_state::LISTEN as u8;
                sock.snd.timer = 0;
            }
            return;
        }
        sock.snd.rto = sock.snd.rto.saturating_mul(2).min(policy.rto_max.max(1));
        sock.snd.timer = sock.snd.rto;
        let cmd = if active {
            sock.syn(&self.cfg, free)
        } else {
            sock.syn_ack(&self.cfg, free)
        };
        self.regs.count(reg::CNT_TX_RETRANS, 1);
        self.tx.push(&self.cfg, self.now, &cmd);
    }
}

/// RFC 6298 2.2-2.3 with `r` ticks: SRTT and RTTVAR kept scaled by 8 and 4.
fn rtt_sample(snd: &mut Snd, r: u32, rto_min: u32, rto_max: u32) {
    let r = r.max(1);
    if snd.srtt == 0 {
        snd.srtt = r * 8;
        snd.rttvar = r * 2;
    } else {
        let srtt = snd.srtt / 8;
        let err = srtt.abs_diff(r);
        snd.rttvar = snd.rttvar - snd.rttvar / 4 + err;
        snd.srtt = snd.srtt - snd.srtt / 8 + r;
    }
    let rto = snd.srtt / 8 + (snd.rttvar).max(1);
    snd.rto = rto.clamp(rto_min.max(1), rto_max.max(1));
}
