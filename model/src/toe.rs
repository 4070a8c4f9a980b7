//! Socket table, hash lookup, TCP receive rules, named buffers and delivery (rtl/toe_engine.v).

use std::collections::{HashMap, VecDeque};

use buflet_platform::{Agent, DeviceConfig, HostEnv};
use buflet_spec::{
    cpl_flag, cpl_kind, drop, get, nb_desc, op, param, reg, req_hdr, sock_desc, sock_state, status,
};

use crate::buflets::Chain;
use crate::parse::tcp_flag;
use crate::{costs, dma_read, dma_write, Cpl, Meta, ModelDevice, REQ_BYTES};

const PAGE: u64 = param::PAGE_BYTES;

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

/// Socket match key: local/remote IP and port and VLAN id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    local_ip: u32,
    remote_ip: u32,
    local_port: u16,
    remote_port: u16,
    vlan: u16,
}

/// A segment on a socket's segment list (the fields of its `buflet_hdr`).
#[derive(Debug, Clone, Copy)]
struct Seg {
    chain: Chain,
    data_off: u16,
    data_len: u16,
    #[allow(dead_code)]
    seq: u32,
    flags: u8,
}

#[derive(Debug, Default)]
struct Sock {
    state: u8,
    rcv_nxt: u32,
    stream_off: u64,
    segs: VecDeque<Seg>,
    nbs: VecDeque<u16>,
    /// On the engine's ready list (has a segment and an NB).
    queued: bool,
}

#[derive(Debug, Clone, Copy)]
struct Nb {
    sock_ref: u16,
    tag: u32,
    total: u32,
    filled: u32,
    hmd_addr: u64,
    stream_off: u64,
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

impl ModelDevice {
    pub(crate) fn engine_has_work(&self) -> bool {
        !self.meta_q.is_empty() || self.toe_req.is_some() || !self.toe.ready.is_empty()
    }

    /// One toe_engine job: the next source in round-robin order among frame metadata,
    /// requests and delivery.
    pub(crate) fn engine_step(&mut self, env: &mut HostEnv) {
        for i in 0..3 {
            let src = (self.engine_rr + i) % 3;
            let done = match src {
                0 if !self.meta_q.is_empty() => {
                    let m = self.meta_q.pop_front().expect("meta");
                    self.engine_frame(m);
                    self.now + costs::ENGINE_FRAME
                }
                1 if self.toe_req.is_some() => {
                    let e = self.toe_req.take().expect("req");
                    self.engine_req(&e);
                    self.now + costs::ENGINE_REQ
                }
                2 if !self.toe.ready.is_empty() => self.engine_deliver(env),
                _ => continue,
            };
            self.engine_rr = (src + 1) % 3;
            self.engine_free = done.max(self.now + 1);
            return;
        }
    }

    fn drop_frame(&mut self, chain: Chain, reason: u64) {
        self.pool.free_chain(chain);
        self.regs.count_drop(reason as u8);
    }

    /// Socket lookup and the TCP receive rules for one frame's metadata.
    fn engine_frame(&mut self, m: Meta) {
        let p = m.p;
        if p.reason != 0 {
            return self.drop_frame(m.chain, p.reason as u64);
        }
        let key = Key {
            local_ip: p.dst_ip,
            remote_ip: p.src_ip,
            local_port: p.dst_port,
            remote_port: p.src_port,
            vlan: p.vlan,
        };
        let Some(s) = self.toe.lookup(&key) else {
            return self.drop_frame(m.chain, drop::NO_SOCKET);
        };
        let sock = &mut self.toe.socks[s as usize];
        let fin_rst = p.flags & (tcp_flag::FIN | tcp_flag::RST);
        match sock.state as u64 {
            sock_state::LISTEN => {
                if p.flags & tcp_flag::SYN == 0 {
                    return self.drop_frame(m.chain, drop::OUT_OF_ORDER);
                }
                sock.rcv_nxt = p.seq.wrapping_add(1);
                sock.state = sock_state::ESTAB as u8;
                self.pool.free_chain(m.chain);
            }
            sock_state::ESTAB => {
                let keep = if p.pay_len > 0 {
                    p.seq == sock.rcv_nxt
                } else {
                    fin_rst != 0 && p.seq == sock.rcv_nxt
                };
                if !keep {
                    if p.pay_len > 0 || fin_rst != 0 {
                        return self.drop_frame(m.chain, drop::OUT_OF_ORDER);
                    }
                    // A pure ACK: consumed silently.
                    return self.pool.free_chain(m.chain);
                }
                sock.rcv_nxt = sock.rcv_nxt.wrapping_add(p.pay_len as u32);
                if fin_rst != 0 {
                    sock.state = sock_state::CLOSED as u8;
                    if p.flags & tcp_flag::FIN != 0 {
                        sock.rcv_nxt = sock.rcv_nxt.wrapping_add(1);
                    }
                }
                sock.segs.push_back(Seg {
                    chain: m.chain,
                    data_off: p.pay_off,
                    data_len: p.pay_len,
                    seq: p.seq,
                    flags: p.flags,
                });
                if p.pay_len > 0 {
                    // Only segments carrying payload count as accepted (a bare FIN/RST is kept
                    // on the list for stream order but is not counted), as in toe_engine.
                    self.regs.count(reg::CNT_RX_ACCEPTED, 1);
                }
                self.toe.wake(s);
            }
            _ => self.drop_frame(m.chain, drop::OUT_OF_ORDER),
        }
    }

    /// SOCK_ADD, NB_POST, NOP, SOCK_DEL and unknown opcodes.
    fn engine_req(&mut self, e: &[u8; REQ_BYTES]) {
        let cfg = &self.cfg;
        let opcode = get(e, req_hdr::OPCODE);
        let sref = get(e, req_hdr::SOCK_REF) as usize;
        let st = match opcode {
            op::SOCK_ADD => {
                if sref >= cfg.num_sockets as usize
                    || self.toe.socks[sref].state != sock_state::FREE as u8
                    || get(e, sock_desc::PROTO) != 6
                {
                    status::BAD_SOCK
                } else {
                    let key = Key {
                        local_ip: get(e, sock_desc::LOCAL_IP) as u32,
                        remote_ip: get(e, sock_desc::REMOTE_IP) as u32,
                        local_port: get(e, sock_desc::LOCAL_PORT) as u16,
                        remote_port: get(e, sock_desc::REMOTE_PORT) as u16,
                        vlan: get(e, sock_desc::VLAN) as u16,
                    };
                    self.toe.socks[sref] = Sock {
                        state: sock_state::LISTEN as u8,
                        ..Sock::default()
                    };
                    self.toe.map.entry(key).or_default().push(sref as u16);
                    status::OK
                }
            }
            op::NB_POST => {
                let rn = get(e, nb_desc::REF_NUM) as usize;
                let total = get(e, nb_desc::TOTAL_BYTES);
                let pages = get(e, nb_desc::HMD_PAGES);
                if sref >= cfg.num_sockets as usize
                    || self.toe.socks[sref].state == sock_state::FREE as u8
                {
                    status::BAD_SOCK
                } else if rn >= cfg.num_nbs as usize
                    || self.toe.nbs[rn].is_some()
                    || pages < 1
                    || total == 0
                    || total > pages * PAGE
                {
                    status::BAD_NB
                } else {
                    self.toe.nbs[rn] = Some(Nb {
                        sock_ref: sref as u16,
                        tag: get(e, nb_desc::TAG) as u32,
                        total: total as u32,
                        filled: 0,
                        hmd_addr: get(e, nb_desc::HMD_ADDR),
                        stream_off: 0,
                    });
                    self.toe.socks[sref].nbs.push_back(rn as u16);
                    self.toe.wake(sref as u16);
                    return; // its completion is the NB_RETURN
                }
            }
            op::NOP => status::OK,
            _ => status::BAD_OPCODE,
        };
        self.post_cpl(self.now + costs::ENGINE_REQ, Cpl::cmd_done(e, st));
    }

    /// Return the head NB of socket `s` with `flags` and completion status `st`, at time `t`.
    fn return_nb(&mut self, s: u16, flags: u64, st: u64, t: u64) {
        let rn = self.toe.socks[s as usize].nbs.pop_front().expect("head NB");
        let nb = self.toe.nbs[rn as usize].take().expect("NB in use");
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
            self.pool.free_chain(seg.chain);
            let mut flags = 0;
            if seg.flags & tcp_flag::FIN != 0 {
                flags |= cpl_flag::FIN;
            }
            if seg.flags & tcp_flag::RST != 0 {
                flags |= cpl_flag::RST;
            }
            self.return_nb(s, flags, status::OK, done);
        } else {
            let nb = self.toe.nbs[rn as usize].expect("NB in use");
            let in_page = nb.filled as u64 % PAGE;
            let n = (seg.data_len as u64)
                .min((nb.total - nb.filled) as u64)
                .min(PAGE - in_page) as usize;
            let page = nb.filled / PAGE as u32;
            let mut t = self.now + costs::ENGINE_DELIVERY;
            let page_addr = match self.toe.page_cache {
                Some((c, p, a)) if c == rn && p == page => Some(a),
                _ => {
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
                    self.toe.page_cache = ok.then_some((rn, page, a));
                    ok.then_some(a)
                }
            };
            let Some(page_addr) = page_addr else {
                // A refused page-list read returns the NB as it is, with status DMA_ERROR.
                self.return_nb(s, 0, status::DMA_ERROR, t);
                self.toe.socks[s as usize].queued = false;
                self.toe.wake(s);
                return t;
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
            let drained = head.data_len == 0 && head.flags & (tcp_flag::FIN | tcp_flag::RST) == 0;
            if drained {
                sock.segs.pop_front();
                self.pool.free_chain(seg.chain);
            }
            self.regs.count(reg::CNT_DELIVERED_BYTES, n as u64);
            if full {
                self.return_nb(s, cpl_flag::FULL, status::OK, done);
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
}
