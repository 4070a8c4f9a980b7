//! Requests (rtl/toe_req.v): decode and validation, SOCK_ADD, SOCK_DEL, NB_POST, ANON_POST,
//! BUF_RELEASE, SOCK_LISTEN, SOCK_UNLISTEN, SOCK_POOL, NOP and unknown opcodes, and their
//! CMD_DONE.

use buflet_spec::{
    param, reg, sock_state, AnonDesc, BufRelease, CloseFlags, CplFlags, ListenDesc, NbDesc, Opcode,
    ReqHdr, SockDesc, SockFlags, Status, TxDesc,
};

use super::{snd, Anon, Desc, Key, Nb, Sock, Toe, MAX_RCV_BUF, PAGE, PROTO_TCP, PROTO_UDP};
use crate::parse::MAX_WSCALE;
use crate::{costs, Cpl, ModelDevice, REQ_BYTES};

impl ModelDevice {
    /// SOCK_ADD, SOCK_DEL, NB_POST, NOP and unknown opcodes. Returns the done cycle.
    pub(super) fn engine_req(&mut self, e: &[u8; REQ_BYTES]) -> u64 {
        let cfg = &self.cfg;
        // Every field of these entries takes any bytes but OPCODE, which the dispatch below has
        // matched: the parses cannot fail.
        let hdr = ReqHdr::parse(e).unwrap_or_default();
        let sref = usize::from(hdr.sock_ref);
        // A pooled slot is not in use: every request naming it is refused like a free one's.
        let in_use =
            |t: &Toe| sref < t.socks.len() && t.socks[sref].state != sock_state::FREE as u8;
        let pooled = |t: &Toe| sref < t.pooled.len() && t.pooled[sref];
        let done = self.now + costs::ENGINE_REQ;
        // S_REQ: a TX_POST or SOCK_CLOSE of a socket in use loads the socket register
        if matches!(
            Opcode::try_from(hdr.opcode),
            Ok(Opcode::TxPost | Opcode::SockClose)
        ) && in_use(&self.toe)
        {
            self.toe.sk_reg = Some(sref as u16);
        }
        let st = match Opcode::try_from(hdr.opcode) {
            Ok(Opcode::SockAdd) => {
                let d = SockDesc::parse(e).unwrap_or_default();
                let rcv_buf = u64::from(d.rcv_buf);
                let proto = u64::from(d.proto);
                // A UDP socket ignores ISS, RCV_BUF, MSS and RCV_WSCALE (not validated).
                let tcp_ok = proto == PROTO_TCP as u64
                    && (1..=MAX_RCV_BUF).contains(&rcv_buf)
                    && d.rcv_wscale <= MAX_WSCALE;
                let hold = d.flags.contains(SockFlags::HOLD);
                let connect = d.flags.contains(SockFlags::CONNECT);
                if sref >= cfg.num_sockets as usize
                    || in_use(&self.toe)
                    || pooled(&self.toe)
                    || d.flags.contains(SockFlags::ACCEPTED)
                    || !(tcp_ok || proto == PROTO_UDP as u64)
                    || ((hold || connect) && proto != PROTO_TCP as u64)
                {
                    Status::BadSock
                } else {
                    let key = Key {
                        proto: d.proto,
                        local_ip: u32::from(d.local_ip),
                        remote_ip: u32::from(d.remote_ip),
                        local_port: d.local_port,
                        remote_port: d.remote_port,
                        vlan: d.vlan,
                    };
                    let sock = Sock {
                        d: Desc {
                            flags: d.flags.bits(),
                            tag: d.tag,
                            listen_slot: 0,
                            local_mac: d.local_mac,
                            remote_mac: d.remote_mac,
                            key,
                            iss: d.iss,
                            rcv_buf: d.rcv_buf,
                            mss: d.mss,
                            rcv_wscale: d.rcv_wscale,
                        },
                        // A UDP socket starts in ESTAB.
                        state: if proto == PROTO_UDP as u64 {
                            sock_state::ESTAB as u8
                        } else {
                            sock_state::LISTEN as u8
                        },
                        ..Sock::default()
                    };
                    self.toe.socks.put(sref, sock);
                    self.toe.link(sref as u16);
                    self.toe.sk_reg = Some(sref as u16);
                    if connect {
                        // Active open (docs/tcp-transmit.md): SYN_SENT, our SYN goes out; the
                        // request completes when the handshake ends.
                        return self.snd_connect(sref as u16, hdr.tag, done);
                    }
                    Status::Ok
                }
            }
            Ok(Opcode::SockDel) => {
                if !in_use(&self.toe) {
                    Status::BadSock
                } else {
                    // S_DEL0 ends forwarding; the unlink walks leave the socket register
                    // on sockets the model does not follow
                    self.toe.fw = None;
                    self.toe.sk_reg = None;
                    return self.sock_del(e, sref as u16);
                }
            }
            Ok(Opcode::SockListen) => {
                let d = ListenDesc::parse(e).unwrap_or_default();
                let slot = usize::from(d.slot);
                let rcv_buf = u64::from(d.rcv_buf);
                if slot >= self.toe.listens.len()
                    || self.toe.listens[slot].is_some()
                    || d.proto != PROTO_TCP
                    || !(1..=MAX_RCV_BUF).contains(&rcv_buf)
                    || d.rcv_wscale > MAX_WSCALE
                    || !(SockFlags::PSH_RETURN | SockFlags::HOLD | SockFlags::DELAYED_ACK)
                        .contains(d.flags)
                {
                    Status::BadSock
                } else {
                    self.toe.listens[slot] = Some(d);
                    Status::Ok
                }
            }
            Ok(Opcode::SockUnlisten) => match self.toe.listens.get_mut(sref) {
                Some(l @ Some(_)) => {
                    *l = None;
                    Status::Ok
                }
                _ => Status::BadSock,
            },
            Ok(Opcode::SockPool) => {
                if sref >= cfg.num_sockets as usize || in_use(&self.toe) || pooled(&self.toe) {
                    Status::BadSock
                } else {
                    self.toe.pooled[sref] = true;
                    self.toe.pool.push_back(sref as u16);
                    return done; // its completion is the slot's ACCEPT
                }
            }
            Ok(Opcode::NbPost) => {
                let d = NbDesc::parse(e).unwrap_or_default();
                let rn = d.ref_num as usize;
                let total = u64::from(d.total_bytes);
                let pages = u64::from(d.hmd_pages);
                if !in_use(&self.toe) {
                    Status::BadSock
                } else if rn >= cfg.num_nbs as usize
                    || self.toe.nbs[rn].is_some()
                    || pages < 1
                    || total == 0
                    || total > pages * PAGE
                {
                    Status::BadNb
                } else {
                    let timeout = d.timeout;
                    self.toe.nbs[rn] = Some(Nb {
                        sock_ref: sref as u16,
                        tag: d.tag,
                        total: d.total_bytes,
                        filled: 0,
                        recs: 0,
                        hmd_addr: d.hmd_addr,
                        hmd_pages: pages,
                        stream_off: 0,
                        timeout,
                        ticks_left: timeout,
                    });
                    self.toe.socks[sref].nbs.push_back(rn as u16);
                    self.toe.wake(sref as u16);
                    self.toe.sk_reg = Some(sref as u16);
                    return done; // its completion is the NB_RETURN
                }
            }
            Ok(Opcode::AnonPost) => {
                let d = AnonDesc::parse(e).unwrap_or_default();
                let rn = d.ref_num as usize;
                let len = u64::from(d.len);
                if rn >= self.toe.anon.len()
                    || self.toe.anon[rn].is_some()
                    || !(param::ANON_MIN_LEN..=param::ANON_MAX_LEN).contains(&len)
                {
                    Status::BadNb
                } else {
                    self.toe.anon[rn] = Some(Anon {
                        tag: d.tag,
                        len: d.len,
                        addr: d.addr,
                    });
                    self.toe.anon_q.push_back(rn as u32);
                    return done; // its completion is the ANON_RX
                }
            }
            Ok(Opcode::BufRelease) => return self.buf_release(e),
            Ok(Opcode::SockClose) if hdr.flags & CloseFlags::ABORT.bits() != 0 => {
                // Abort (docs/tcp-transmit.md): any TCP socket in use.
                if !in_use(&self.toe) || self.toe.socks[sref].is_udp() {
                    Status::BadSock
                } else {
                    let st = u64::from(self.toe.socks[sref].state);
                    let rst = ![
                        sock_state::LISTEN,
                        sock_state::SYN_SENT,
                        sock_state::TIME_WAIT,
                        sock_state::CLOSED,
                    ]
                    .contains(&st);
                    // This request's CMD_DONE follows the completions the abort posts (an
                    // accepted socket's ACCEPT RESET last).
                    // S_SR0, S_SR1, then the abort sequence (its RST queued on the way: S_TXW,
                    // S_TXG)
                    let seq = costs::SEND_REQ_STEPS
                        + costs::SEND_ABORT_STEPS
                        + if rst { costs::ABORT_RST_PUSH } else { 0 };
                    let t = self
                        .snd_abort(sref as u16, Status::Reset, rst)
                        .max(done + seq);
                    self.leave_half_open(sref as u16, Some(Status::Reset), t);
                    self.post_cpl(t, crate::cmd_done(e, Status::Ok));
                    return t;
                }
            }
            Ok(Opcode::SockClose) => {
                if !in_use(&self.toe) {
                    Status::BadSock
                } else {
                    match self.snd_close(sref as u16, hdr.tag) {
                        Ok(()) => return done, // its CMD_DONE comes with the FIN's ACK
                        Err(st) => st,
                    }
                }
            }
            Ok(Opcode::TxPost) => {
                let d = TxDesc::parse(e).unwrap_or_default();
                if !in_use(&self.toe) {
                    Status::BadSock
                } else {
                    let used = self.toe.posts_in_use;
                    match snd::check_post(
                        &self.toe.socks[sref],
                        &d,
                        used,
                        self.cfg.num_posts,
                        u64::from(self.cfg.buflet_bytes),
                    ) {
                        Ok(p) => {
                            self.snd_post(sref as u16, p);
                            return done; // its completion is a TX_DONE
                        }
                        Err(st) => st,
                    }
                }
            }
            Ok(Opcode::Nop) => Status::Ok,
            _ => Status::BadOpcode,
        };
        self.post_cpl(done, crate::cmd_done(e, st));
        done
    }

    /// SOCK_DEL of an in-use socket: every NB returned with DELETE (head first), every
    /// segment chain freed (in-order list, then reassembly list), the socket unlinked and its
    /// slot freed, then CMD_DONE/OK. Delivery is never in flight here: the engine finishes a
    /// delivery step (its DMA write included) before it picks another job.
    fn sock_del(&mut self, e: &[u8; REQ_BYTES], s: u16) -> u64 {
        let mut t = self.now + costs::ENGINE_REQ + costs::DEL_STEPS;
        // A half-open accepted socket leaves HALF_OPEN without an ACCEPT.
        self.leave_half_open(s, None, t);
        // Posts not yet acknowledged go back to the host first (status RESET), then the NBs.
        t = self.snd_return_posts(s, Status::Reset, t);
        if let Some(tag) = self.toe.socks[s as usize].snd.take_connect() {
            // An active open still in its handshake ends with the socket.
            self.connect_done(s, tag, Status::Reset, t);
        }
        if let Some(tag) = self.toe.socks[s as usize].snd.take_close() {
            // A SOCK_CLOSE whose FIN was never acknowledged ends with the socket.
            self.post_cpl(
                t,
                Cpl {
                    kind: buflet_spec::CplKind::CmdDone,
                    status: Status::Reset,
                    sock_ref: s,
                    tag,
                    opcode: Opcode::SockClose.code(),
                    ..Cpl::default()
                },
            );
        }
        while !self.toe.socks[s as usize].nbs.is_empty() {
            t += costs::ENGINE_RETURN;
            self.return_nb(s, CplFlags::DELETE, Status::Ok, t);
        }
        t += self.toe.unlink(s);
        let sock = self.toe.socks.take(s as usize);
        for seg in sock.segs.iter().chain(sock.ooo.iter()) {
            // A hold segment emptied by its last record but still on the list as a FIN
            // marker is held: it belongs to the driver (docs/p2p.md), not freed here.
            self.pool.unlist(seg.chain);
            t += costs::LIST_STEP;
        }
        if sock.queued {
            self.toe.ready.retain(|&x| x != s);
        }
        self.post_cpl(t, crate::cmd_done(e, Status::Ok));
        t
    }

    /// OP_BUF_RELEASE (docs/p2p.md): release held chains in order until one head is not held.
    /// Returns the done cycle.
    fn buf_release(&mut self, e: &[u8; REQ_BYTES]) -> u64 {
        let mut t = self.now + costs::ENGINE_REQ;
        let r = BufRelease::parse(e).unwrap_or_default();
        let count = u64::from(r.count);
        let (st, released) = if !(1..=param::RELEASE_MAX).contains(&count) {
            (Status::BadBuf, 0)
        } else {
            let mut k = 0;
            while k < count {
                let h = r.heads[k as usize];
                // S_REL0: the head's held bit; a head not held ends the request
                t += costs::RELEASE_STEP;
                if !self.pool.release(h) {
                    break;
                }
                // S_REL1: its chain freed
                t += costs::RELEASE_FREE;
                self.regs.count(reg::CNT_BUF_RELEASED, 1);
                k += 1;
            }
            (
                if k == count {
                    Status::Ok
                } else {
                    Status::BadBuf
                },
                k,
            )
        };
        self.post_cpl(
            t,
            Cpl {
                bytes: released as u32,
                ..crate::cmd_done(e, st)
            },
        );
        t
    }
}
