//! Requests (rtl/toe_req.v): decode and validation, SOCK_ADD, SOCK_DEL, NB_POST, ANON_POST,
//! BUF_RELEASE, NOP and unknown opcodes, and their CMD_DONE.

use buflet_spec::{
    anon_desc, buf_release, cpl_flag, get, nb_desc, op, param, reg, req_hdr, sock_desc, sock_flag,
    sock_state, status,
};

use super::{Anon, Desc, Key, Nb, Sock, Toe, MAX_RCV_BUF, PAGE, PROTO_TCP, PROTO_UDP};
use crate::parse::MAX_WSCALE;
use crate::{costs, Cpl, ModelDevice, REQ_BYTES};

impl ModelDevice {
    /// SOCK_ADD, SOCK_DEL, NB_POST, NOP and unknown opcodes. Returns the done cycle.
    pub(super) fn engine_req(&mut self, e: &[u8; REQ_BYTES]) -> u64 {
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
}
