//! Requests in the oracle (`rtl/toe_req.v`, `model/src/toe/req.rs`): decode and validation of
//! SOCK_ADD, SOCK_DEL (its DELETE returns, the chains it frees), NB_POST, ANON_POST, BUF_RELEASE
//! (heads in order, the first not held stops it), NOP and unknown opcodes, and their CMD_DONE.

use crate::*;

/// The entry of request `tag` in `pending` (what its builder queued), taken out.
fn queued<T>(pending: &mut HashMap<u32, T>, tag: u32, op: &str, builder: &str) -> T {
    pending
        .remove(&tag)
        .unwrap_or_else(|| panic!("{op} was queued by {builder}"))
}

impl Tb {
    /// The engine picked this request.
    pub fn oracle_req(&mut self, e: &[u8; 64]) {
        let hdr = ReqHdr::parse(e).unwrap();
        let op = hdr.opcode;
        let sref = hdr.sock_ref as usize;
        let tag = hdr.tag;
        let in_use = sref < self.num_socks && self.osock[sref].is_some();
        // a pooled slot is refused like a used one by SOCK_ADD (and like a free one by the rest)
        let pooled = self.pool.contains(&(sref as u16));
        let (proto_tcp, proto_udp) = (IpProto::Tcp.code(), IpProto::Udp.code());
        let st = match Opcode::try_from(op) {
            Ok(Opcode::SockAdd) => {
                let c = SockCfg::from_desc(&SockDesc::parse(e).unwrap());
                let ok = sref < self.num_socks
                    && !in_use
                    && !pooled
                    && !c.flags.contains(SockFlags::ACCEPTED)
                    && (!c.flags.contains(SockFlags::HOLD) || c.proto == proto_tcp)
                    && (c.proto == proto_udp
                        || c.proto == proto_tcp
                            && (1..=spec::param::RCV_BUF_MAX).contains(&u64::from(c.rcv_buf))
                            && c.wscale <= 14);
                if ok {
                    self.add_no += 1;
                    let mut o = OSock::new(c, self.add_no);
                    if c.proto == proto_udp {
                        o.state = SockState::Estab;
                    }
                    self.osock[sref] = Some(o);
                    self.active.insert(0, sref as u16);
                    self.fw = None;
                    Status::Ok
                } else {
                    Status::BadSock
                }
            }
            Ok(Opcode::SockDel) => {
                if !in_use {
                    Status::BadSock
                } else {
                    let s = self.osock[sref].take().unwrap();
                    self.active.retain(|&x| x as usize != sref);
                    self.fw = None;
                    // a half-open accepted socket: HALF_OPEN - 1, no ACCEPT
                    if s.listen.is_some() && s.state == SockState::SynRcvd {
                        self.half_open -= 1;
                        self.count_cov(&["accept_deleted_half_open"]);
                    }
                    for &r in &s.nbs {
                        let nb = &self.nbs[&r];
                        let so = if nb.filled == 0 {
                            s.stream_off
                        } else {
                            nb.stream_off
                        };
                        self.ret_exp.insert(
                            r,
                            RetExp {
                                flags: CplFlags::DELETE,
                                status: Status::Ok,
                                bytes: nb.filled,
                                stream_off: so,
                                hdr: 0,
                            },
                        );
                        self.del_order.push_back((tag, r));
                    }
                    if !s.nbs.is_empty() {
                        self.count_cov(&["delete_nb"]);
                    }
                    if !s.ooo.is_empty() || !s.inorder.is_empty() {
                        self.count_cov(&["delete_segments"]);
                    }
                    if !s.ooo.is_empty() && !s.inorder.is_empty() {
                        self.count_cov(&["delete_both_lists"]);
                    }
                    for g in s.inorder.iter().chain(s.ooo.iter()) {
                        if !g.freed && !g.held {
                            self.allowed_free.insert(g.chain);
                        }
                    }
                    self.graveyard.insert(sref as u16, s);
                    Status::Ok
                }
            }
            Ok(Opcode::NbPost) => {
                let nb = queued(&mut self.nb_pending, tag, "NB_POST", "nb_post");
                let d = NbDesc::parse(e).unwrap();
                let refn = d.ref_num as usize;
                let total = d.total_bytes as usize;
                let pages = d.hmd_pages as usize;
                if !in_use {
                    Status::BadSock
                } else if refn >= self.num_nbs
                    || self.nbs.contains_key(&(refn as u16))
                    || pages < 1
                    || total == 0
                    || total > pages * PAGE
                {
                    Status::BadNb
                } else {
                    self.nbs.insert(refn as u16, nb);
                    self.osock[sref]
                        .as_mut()
                        .unwrap()
                        .nbs
                        .push_back(refn as u16);
                    return; // its completion is the NB_RETURN
                }
            }
            Ok(Opcode::AnonPost) => {
                let a = queued(&mut self.anon_pending, tag, "ANON_POST", "anon_post");
                let d = AnonDesc::parse(e).unwrap();
                let (refn, len) = (u64::from(d.ref_num), u64::from(d.len));
                if refn < self.num_anon as u64
                    && !self.anon_list.iter().any(|b| b.refn as u64 == refn)
                    && (spec::param::ANON_MIN_LEN..=spec::param::ANON_MAX_LEN).contains(&len)
                {
                    self.anon_list.push_back(a);
                    return; // its completion is the ANON_RX
                }
                Status::BadNb
            }
            Ok(Opcode::Nop) => Status::Ok,
            Ok(Opcode::SockListen) => {
                let d = ListenDesc::parse(e).unwrap();
                let l = d.slot as usize;
                let ok = l < self.listens.len()
                    && self.listens[l].is_none()
                    && d.proto == proto_tcp
                    && (1..=spec::param::RCV_BUF_MAX).contains(&u64::from(d.rcv_buf))
                    && d.rcv_wscale <= 14
                    && (d.flags - (SockFlags::PSH_RETURN | SockFlags::HOLD)).is_empty();
                if ok {
                    let c = SockCfg {
                        slot: 0,
                        flags: d.flags,
                        local_mac: d.local_mac,
                        remote_mac: [0; 6],
                        vlan: d.vlan,
                        proto: d.proto,
                        local_ip: u32::from(d.local_ip),
                        remote_ip: 0,
                        local_port: d.local_port,
                        remote_port: 0,
                        iss: d.iss,
                        rcv_buf: d.rcv_buf,
                        mss: d.mss,
                        wscale: d.rcv_wscale,
                    };
                    self.listens[l] = Some((c, d.tag));
                    Status::Ok
                } else {
                    Status::BadSock
                }
            }
            Ok(Opcode::SockUnlisten) => {
                if sref < self.listens.len() && self.listens[sref].is_some() {
                    self.listens[sref] = None;
                    Status::Ok
                } else {
                    Status::BadSock
                }
            }
            Ok(Opcode::SockPool) => {
                if sref < self.num_socks && !in_use && !pooled {
                    self.pool.push_back(sref as u16);
                    return; // no completion
                }
                Status::BadSock
            }
            Ok(Opcode::BufRelease) => {
                // heads in order; the first one not held stops the request
                let r = BufRelease::parse(e).unwrap();
                let count = r.count as usize;
                if count == 0 || count > RELEASE_MAX {
                    self.count_cov(&["release_bad_count"]);
                    Status::BadBuf
                } else {
                    let mut k = 0;
                    while k < count {
                        let h = r.heads[k];
                        if !self.held.remove(&h) {
                            break;
                        }
                        // a FIN/RST segment emptied by its last record and still on its list
                        // keeps its chain until its return (or SOCK_DEL) frees it
                        let mk =
                            self.osock.iter_mut().flatten().find_map(|s| {
                                s.inorder.iter_mut().find(|g| g.chain == h && g.held)
                            });
                        if let Some(g) = mk {
                            g.held = false;
                            self.count_cov(&["release_fin_marker"]);
                        } else {
                            self.allowed_free.insert(h);
                        }
                        self.exp.released += 1;
                        k += 1;
                    }
                    self.count_cov(&[if k == count {
                        "release_ok"
                    } else {
                        "release_stopped"
                    }]);
                    let st = if k == count {
                        Status::Ok
                    } else {
                        Status::BadBuf
                    };
                    self.cmd_expect
                        .push_back((tag, op, st, sref as u16, k as u32));
                    return;
                }
            }
            // unknown opcodes, and the opcodes of the other engines
            _ => Status::BadOpcode,
        };
        self.cmd_expect.push_back((tag, op, st, sref as u16, 0));
    }

    /// A CMD_DONE completion: the next one expected; a SOCK_DEL's comes after its NB returns.
    pub fn check_cmd_done(&mut self, c: &Cpl) {
        let exp = self.cmd_expect.pop_front().expect("unexpected CMD_DONE");
        assert_eq!(
            (c.tag, c.opcode, c.status, c.sock_ref, c.bytes),
            exp,
            "CMD_DONE (tag, opcode, status, sock, bytes)"
        );
        assert_eq!(c.hdr_bytes, 0, "CMD_DONE HDR_BYTES");
        if c.opcode == Opcode::SockDel.code() {
            assert!(
                !self.del_order.iter().any(|&(t, _)| t == c.tag),
                "SOCK_DEL completed before its NB returns: {:?}",
                self.del_order
            );
        }
    }
}
