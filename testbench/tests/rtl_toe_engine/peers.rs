//! The random test's stimulus: adaptive TCP peers that build each frame from the oracle's
//! current view of their socket (handshake junk, in-order, ahead, retransmitted, duplicate and
//! overlapping segments, segments up to and past the promised edge, out-of-window and zero-window
//! probes, SYN/RST/FIN cases, post-close frames, with the bytes the contract must discard
//! poisoned), UDP peers, and noise frames no socket takes.

use crate::*;

/// The phase of a peer's life.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Ph {
    Idle,
    Adding,
    Active,
    Deleting,
    Done,
}

/// A random TCP peer: its socket, its stream and how it behaves in this life.
pub struct Peer {
    pub slot: u16,
    pub cfg: SockCfg,
    pub isn: u32,
    pub ws: Option<u8>,
    pub stream: Vec<u8>,
    pub end_rst: bool,
    pub poison: bool,
    pub del_at: Option<usize>,
    pub lives: u32,
    pub ph: Ph,
    pub junk: u32,
    pub hs_junk: u32,
    pub starve_until: u64,
    pub refused_first: bool,
    pub life: u32,
}

impl Peer {
    /// A new socket and stream for the next life.
    pub fn new_life(&mut self, rng: &mut ChaCha8Rng, bb: usize) {
        let slot = self.slot;
        let mut c = SockCfg::new(slot, rng);
        c.vlan = if slot == 5 { 5 } else { 0 };
        c.remote_port = c.remote_port.wrapping_add(self.life as u16 * 1000);
        c.rcv_buf = match rng.gen_range(0..5) {
            0 => rng.gen_range(1500..4000),
            1 => 1 << 30,
            _ => rng.gen_range(4000..20000),
        };
        c.wscale = rng.gen_range(0..=14);
        if rng.gen_bool(0.5) {
            c.wscale = rng.gen_range(0..4);
        }
        c.flags = if rng.gen_bool(0.5) {
            SockFlags::PSH_RETURN
        } else {
            SockFlags::empty()
        };
        if rng.gen_bool(0.35) {
            c.flags |= SockFlags::HOLD; // p2p: records instead of payload, held chains
        }
        if rng.gen_bool(0.4) {
            c.flags |= SockFlags::DELAYED_ACK; // the ticks send the owed ACKs
        }
        c.mss = rng.gen_range(500..9000);
        self.cfg = c;
        self.isn = if slot == 2 { 0xFFFF_F000 } else { rng.gen() };
        self.ws = if rng.gen_bool(0.6) {
            Some(rng.gen_range(0..=14))
        } else {
            None
        };
        let len = rng.gen_range(2000..12000);
        self.stream = (0..len).map(|_| rng.gen()).collect();
        self.end_rst = rng.gen_bool(0.25);
        self.poison = rng.gen_bool(0.6);
        self.del_at = if rng.gen_bool(0.2) {
            Some(rng.gen_range(0..len))
        } else {
            None
        };
        self.junk = rng.gen_range(0..4);
        self.hs_junk = rng.gen_range(0..5);
        let _ = bb;
    }
}

/// A random segment length: mostly half a buflet to 1400 bytes, some small, a few tiny.
pub fn seglen(rng: &mut ChaCha8Rng, bb: usize) -> usize {
    match rng.gen_range(0..10) {
        0..=6 => rng.gen_range(bb / 2..1400),
        7 | 8 => rng.gen_range(1..bb / 2),
        _ => rng.gen_range(1..40),
    }
}

/// The next frame of peer `idx` from the oracle's current view of its socket.
pub fn gen_frame(tb: &Tb, p: &mut Peer, idx: usize, rng: &mut ChaCha8Rng) -> Option<Frame> {
    let o = tb.osock[p.slot as usize].as_ref()?;
    let c = p.cfg;
    let isn1 = p.isn.wrapping_add(1);
    let l = p.stream.len();
    let ackn = c.iss.wrapping_add(1);
    let rnd = |rng: &mut ChaCha8Rng, n: usize| -> Vec<u8> { (0..n).map(|_| rng.gen()).collect() };
    let mut f = match o.state {
        SockState::Listen => {
            if p.hs_junk > 0 && rng.gen_bool(0.4) {
                p.hs_junk -= 1;
                let (fl, seq) = match rng.gen_range(0..4) {
                    0 => (RST, rng.gen()),
                    1 => (ACK, p.isn),
                    2 => (SYN | ACK, p.isn),
                    _ => (ACK | PSH, isn1),
                };
                let n = if rng.gen_bool(0.5) {
                    rng.gen_range(1..100)
                } else {
                    0
                };
                c.frame(seq, ackn, fl, rnd(rng, n))
            } else {
                let n = if rng.gen_bool(0.2) {
                    rng.gen_range(1..50)
                } else {
                    0
                };
                let mut f = c.frame(p.isn, 0, SYN, rnd(rng, n));
                f.ws = p.ws;
                f
            }
        }
        SockState::SynRcvd => {
            if p.hs_junk > 0 && rng.gen_bool(0.5) {
                p.hs_junk -= 1;
                match rng.gen_range(0..6) {
                    0 => {
                        let mut f = c.frame(p.isn, 0, SYN, Vec::new());
                        f.ws = p.ws;
                        f
                    }
                    1 => c.frame(p.isn.wrapping_add(77), 0, SYN, Vec::new()),
                    2 => c.frame(isn1.wrapping_add(5), 0, RST, Vec::new()),
                    3 => c.frame(isn1, ackn.wrapping_add(1), ACK, Vec::new()),
                    4 => c.frame(isn1, ackn, PSH, rnd(rng, 10)),
                    _ => c.frame(isn1, 0, RST, Vec::new()),
                }
            } else {
                let n = if rng.gen_bool(0.4) {
                    rng.gen_range(1..=300.min(l))
                } else {
                    0
                };
                c.frame(isn1, ackn, ACK, p.stream[..n].to_vec())
            }
        }
        SockState::Estab => {
            // a closed window: the peer mostly waits (and probes now and then)
            let wnd = o.wnd(tb.pool_room(tb.free.len()));
            if wnd == 0 && rng.gen_bool(0.98) {
                return None;
            }
            let base = o.rcv_nxt.wrapping_sub(isn1) as usize;
            assert!(base <= l, "rcv_nxt beyond the stream");
            if base == l {
                if p.end_rst {
                    c.frame(isn1.wrapping_add(l as u32), ackn, RST | ACK, Vec::new())
                } else {
                    c.frame(isn1.wrapping_add(l as u32), ackn, FIN | ACK, Vec::new())
                }
            } else {
                let bb = tb.bb;
                let free = tb.free.len();
                let r = rng.gen_range(0..100);
                let special: Option<Frame> = match r {
                    80..=83 => {
                        let seq = if rng.gen_bool(0.7) {
                            (isn1.wrapping_add(base as u32)).wrapping_add(rng.gen_range(0..4))
                        } else {
                            rng.gen()
                        };
                        Some(c.frame(seq, ackn, ACK, Vec::new()))
                    }
                    84 | 85 => {
                        Some(c.frame(isn1.wrapping_add(base as u32), ackn, SYN | ACK, Vec::new()))
                    }
                    86 | 87 => {
                        let seq = isn1.wrapping_add((base + rng.gen_range(1..500)) as u32);
                        Some(c.frame(seq, ackn, RST | ACK, Vec::new()))
                    }
                    88 | 89 => {
                        let seq =
                            isn1.wrapping_add((base + rng.gen_range(1 << 20..1 << 30)) as u32);
                        let n = rng.gen_range(1..100);
                        Some(c.frame(seq, ackn, ACK, rnd(rng, n)))
                    }
                    90..=92 if !p.end_rst => {
                        Some(c.frame(isn1.wrapping_add(l as u32), ackn, FIN | ACK, Vec::new()))
                    }
                    _ => None,
                };
                if let Some(f) = special {
                    f
                } else {
                    let (start, len) = match r {
                        40..=54 if free > tb.nbuf / 2 && o.ooo.len() < 8 && l - base > 1 => {
                            let start = base + rng.gen_range(1..(l - base).min(4000));
                            (start, rng.gen_range(bb / 2..1200))
                        }
                        55..=64 if base > 0 => {
                            let back = rng.gen_range(1..=base.min(400));
                            (base - back, back + seglen(rng, bb))
                        }
                        65..=69 if base > 0 => {
                            let back = rng.gen_range(1..=base.min(400));
                            (base - back, rng.gen_range(1..=back))
                        }
                        93..=97 if wnd > 0 => {
                            // up to (or just past) the window promised
                            (
                                base,
                                wnd as usize + rng.gen_range(0..3) * rng.gen_range(0..40),
                            )
                        }
                        70..=79 if !o.ooo.is_empty() => {
                            let h = &o.ooo[rng.gen_range(0..o.ooo.len())];
                            let hs = h.seq.wrapping_sub(isn1) as usize;
                            let hl = h.data.len();
                            let s =
                                (hs + rng.gen_range(0..=hl)).saturating_sub(rng.gen_range(0..200));
                            (s, rng.gen_range(1..hl + 300))
                        }
                        _ => (base, seglen(rng, bb)),
                    };
                    let start = if start >= l { base } else { start };
                    let len = len.clamp(1, l - start);
                    let mut fl = ACK;
                    if rng.gen_bool(0.3) {
                        fl |= PSH;
                    }
                    if rng.gen_bool(0.03) {
                        fl |= URG;
                    }
                    if start + len == l && !p.end_rst && rng.gen_bool(0.5) {
                        fl |= FIN;
                    }
                    let mut f = c.frame(
                        isn1.wrapping_add(start as u32),
                        ackn,
                        fl,
                        p.stream[start..start + len].to_vec(),
                    );
                    f.pay_off = if rng.gen_range(0..10) == 0 {
                        rng.gen_range(200..600) // beyond the first buflet: the mover walks the chain
                    } else {
                        rng.gen_range(40..140)
                    };
                    f
                }
            }
        }
        SockState::CloseWait | SockState::Closed => {
            if p.junk == 0 {
                return None;
            }
            p.junk -= 1;
            let rcv = o.rcv_nxt;
            match rng.gen_range(0..4) {
                0 => {
                    let n = rng.gen_range(1..200);
                    c.frame(rcv, ackn, ACK, rnd(rng, n))
                }
                1 => c.frame(rcv, ackn, ACK, Vec::new()),
                2 => c.frame(rcv.wrapping_sub(1), ackn, FIN | ACK, Vec::new()),
                _ => c.frame(rng.gen(), ackn, ACK, rnd(rng, 20)),
            }
        }
        _ => return None,
    };
    f.peer = Some(idx);
    // poison every byte the contract must discard (even with an unbounded window)
    if p.poison && !f.payload.is_empty() {
        let mut oc = o.clone();
        let d = tcp(&mut oc, &f, 0, 0, true);
        let (ks, kl) = d.kept.unwrap_or((0, 0));
        for (k, b) in f.payload.iter_mut().enumerate() {
            if k < ks || k >= ks + kl {
                *b ^= 0x5A;
            }
        }
    }
    Some(f)
}

/// A frame no peer's socket takes: parser drops, tuple mismatches, the wrong protocol for a
/// socket, non-IPv4 frames and ARP requests (for the NIC or not), some stored only in part.
pub fn noise_frame(cfgs: &[SockCfg], nic_ip: u32, bb: usize, rng: &mut ChaCha8Rng) -> Frame {
    let c = cfgs[rng.gen_range(0..cfgs.len())];
    let mut f = c.frame(rng.gen(), rng.gen(), ACK, vec![7; rng.gen_range(0..60)]);
    match rng.gen_range(0..12) {
        0 => f.dport ^= 0x100,
        1 => f.src_ip ^= 0x10,
        2 => f.vlan = if c.vlan == 0 { 9 } else { 0 },
        3 => {
            f.reason = [
                DropReason::Truncated,
                DropReason::NotIpv4,
                DropReason::BadIpHdr,
                DropReason::BadIpCsum,
                DropReason::BadL4Hdr,
                DropReason::BadL4Csum,
                DropReason::NoBuflet,
                DropReason::TooLong,
            ][rng.gen_range(0..8)];
            f.no_chain = f.reason == DropReason::NoBuflet && rng.gen_bool(0.5);
        }
        4 => {
            // the other protocol on the socket's tuple: no match
            let n = rng.gen_range(0..300);
            let pay: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            f = if c.udp() {
                c.frame(rng.gen(), 0, ACK, pay)
            } else {
                c.datagram(pay)
            };
        }
        5 | 6 => {
            let len = match rng.gen_range(0..10) {
                0 => rng.gen_range(PAGE..MAX_FRAME),
                1..=3 => rng.gen_range(14..80),
                _ => rng.gen_range(60..1600),
            };
            let reason = if rng.gen_bool(0.5) {
                DropReason::NotIpv4
            } else {
                DropReason::NoSocket
            };
            f = raw_frame(reason, len, rng);
            let need = len.div_ceil(bb);
            if rng.gen_range(0..5) == 0 {
                // stored in part (the pool ran dry): never passed up
                if need > 1 && rng.gen_bool(0.7) {
                    f.short_chain = Some(rng.gen_range(1..need));
                } else {
                    f.no_chain = true;
                }
            }
        }
        _ => {
            let tpa = if rng.gen_range(0..3) > 0 {
                nic_ip
            } else {
                rng.gen()
            };
            let vlan = if rng.gen_bool(0.3) {
                rng.gen_range(1..4095)
            } else {
                0
            };
            f = arp_frame(rng.gen(), rng.gen(), tpa, vlan, rng);
            f.no_chain = rng.gen_range(0..6) == 0;
        }
    }
    f
}

/// A random UDP peer: a UDP socket with junk TCP fields, datagrams of every size, small and
/// large NBs with timeouts, deleted with or without datagrams waiting.
pub struct UdpPeer {
    pub slot: u16,
    pub cfg: SockCfg,
    pub ph: Ph,
    pub lives: u32,
    pub left: u32,
}

/// One step of UDP peer `idx`: add its socket, send datagrams, post NBs, delete it.
pub fn udp_peer_step(tb: &mut Tb, u: &mut UdpPeer, idx: usize, rng: &mut ChaCha8Rng) {
    let slot = u.slot;
    match u.ph {
        Ph::Idle => {
            let mut c = SockCfg::new(slot, rng);
            c.proto = IpProto::Udp.code();
            c.rcv_buf = rng.gen(); // not validated for UDP
            c.wscale = rng.gen();
            c.mss = rng.gen();
            c.vlan = if rng.gen_bool(0.3) { 7 } else { 0 };
            c.remote_port = rng.gen();
            u.cfg = c;
            u.left = rng.gen_range(5..40);
            tb.sock_add(&c);
            u.ph = Ph::Adding;
        }
        Ph::Adding => {
            if tb.osock[slot as usize].is_some() {
                u.ph = Ph::Active;
            }
        }
        Ph::Active => {
            let o = tb.osock[slot as usize].as_ref().expect("UDP socket");
            let waiting = o.inorder.len();
            if u.left > 0
                && waiting < 4
                && tb.frames.len() < 3
                && !pending(tb, idx)
                && rng.gen_range(0..30) == 0
            {
                let n = match rng.gen_range(0..20) {
                    0 => rng.gen_range(3000..MAX_FRAME - 100),
                    1..=4 => rng.gen_range(0..20),
                    _ => rng.gen_range(20..1500),
                };
                let mut f = u.cfg.datagram((0..n).map(|_| rng.gen()).collect());
                f.pay_off += 4 * rng.gen_range(0..11); // IPv4 options
                f.peer = Some(idx);
                tb.push(f);
                u.left -= 1;
            }
            if tb.nbs_out(slot) < 2 && tb.req_q.len() < 3 && rng.gen_range(0..60) == 0 {
                if let Some(r) = tb.free_ref() {
                    let total = match rng.gen_range(0..10) {
                        0 => rng.gen_range(1..9),
                        1..=3 => rng.gen_range(9..300),
                        _ => rng.gen_range(300..3 * PAGE),
                    };
                    let pages = total.div_ceil(PAGE) as u32 + rng.gen_range(0..2);
                    let timeout = if rng.gen_bool(0.5) {
                        0
                    } else {
                        rng.gen_range(1..5)
                    };
                    tb.nb_post_t(slot, r as u32, total, pages, false, timeout);
                }
            }
            if u.left == 0 && !pending(tb, idx) && (waiting == 0 || rng.gen_range(0..3000) == 0) {
                tb.sock_del(slot);
                u.ph = Ph::Deleting;
            }
        }
        Ph::Deleting => {
            if tb.osock[slot as usize].is_none() && tb.graveyard.remove(&slot).is_some() {
                u.lives -= 1;
                u.ph = if u.lives > 0 { Ph::Idle } else { Ph::Done };
            }
        }
        Ph::Done => {}
    }
}

/// A frame of peer `idx` is queued, presented, or taken and not yet given to the oracle.
pub fn pending(tb: &Tb, idx: usize) -> bool {
    tb.frames
        .iter()
        .chain(tb.cur_meta.iter())
        .chain(tb.picked.iter().map(|(f, _, _)| f))
        .any(|f| f.peer == Some(idx))
}
