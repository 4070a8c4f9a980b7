//! Socket lookup in the oracle (`rtl/toe_lookup.v`, `model/src/toe/lookup.rs`): the bucket of a
//! 4-tuple, computed independently of the RTL, and the match of a frame to a socket.

use crate::*;

/// The 32-bit folded hash of a 4-tuple (architecture.md, socket lookup), computed
/// independently of the RTL: `x` before the bucket mask.
pub fn fold(remote_ip: u32, local_ip: u32, remote_port: u16, local_port: u16) -> u32 {
    let mut x = remote_ip ^ local_ip ^ ((remote_port as u32) << 16 | local_port as u32);
    x ^= x >> 16;
    x ^= x >> 8;
    x
}

/// Bucket of a 4-tuple (architecture.md, socket lookup), computed independently of the RTL.
pub fn bucket(remote_ip: u32, local_ip: u32, remote_port: u16, local_port: u16, n: u32) -> u32 {
    fold(remote_ip, local_ip, remote_port, local_port) % n
}

impl Tb {
    /// Sockets a frame's lookup visits on its hash chain: the chain holds the sockets of the
    /// bucket, the one added last first (SOCK_ADD and an accept insert at the head); the walk
    /// stops at the match (included), else goes through the whole chain.
    pub fn lookup_visits(&self, f: &Frame) -> usize {
        let n = self.hash_buckets;
        let b = bucket(f.src_ip, f.dst_ip, f.sport, f.dport, n);
        let mut chain: Vec<(u64, usize)> = self
            .osock
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .filter(|(_, s)| {
                let c = &s.cfg;
                bucket(c.remote_ip, c.local_ip, c.remote_port, c.local_port, n) == b
            })
            .map(|(i, s)| (s.add_no, i))
            .collect();
        chain.sort_unstable_by(|a, b| b.cmp(a));
        match self.lookup(f) {
            Some(si) => chain.iter().position(|&(_, i)| i == si).unwrap() + 1,
            None => chain.len(),
        }
    }

    /// The lowest listening slot whose LOCAL_IP, LOCAL_PORT and VLAN are the frame's
    /// destination IP, port and VLAN.
    pub fn listen_match(&self, f: &Frame) -> Option<u16> {
        self.listens
            .iter()
            .position(|l| {
                l.as_ref().is_some_and(|(c, _)| {
                    c.local_ip == f.dst_ip && c.local_port == f.dport && c.vlan == f.vlan
                })
            })
            .map(|l| l as u16)
    }

    /// A SYN takes the accept pool's head for listen slot `l`: the slot's template with the
    /// frame's peer, flag ACCEPTED and ISS = template ISS + the folded hash; at the head of its
    /// chain and of the active list; HALF_OPEN + 1. Returns the socket slot.
    pub fn accept(&mut self, f: &Frame, l: u16) -> usize {
        let (t, tag) = self.listens[l as usize].unwrap();
        let s = self.pool.pop_front().unwrap();
        let cfg = SockCfg {
            slot: s,
            flags: t.flags | SockFlags::ACCEPTED,
            remote_mac: f.src_mac,
            remote_ip: f.src_ip,
            remote_port: f.sport,
            iss: t
                .iss
                .wrapping_add(fold(f.src_ip, f.dst_ip, f.sport, f.dport)),
            ..t
        };
        self.add_no += 1;
        let mut o = OSock::new(cfg, self.add_no);
        o.listen = Some((l, tag));
        self.osock[s as usize] = Some(o);
        self.active.insert(0, s);
        self.fw = None;
        self.half_open += 1;
        self.count_cov(&["accept_taken"]);
        s as usize
    }

    /// An accepted socket left SYN_RCVD (not by SOCK_DEL): HALF_OPEN - 1 and its ACCEPT with
    /// `st` is expected (CNT_ACCEPTS + 1 when OK).
    pub fn accept_done(&mut self, si: usize, st: Status) {
        let s = self.osock[si].as_ref().unwrap();
        let (l, tag) = s.listen.unwrap();
        let bytes = u32::from(s.cfg.remote_port) | u32::from(l) << 16;
        self.acc_expect
            .push_back((st, si as u16, tag, s.cfg.remote_ip, bytes));
        self.half_open -= 1;
        if st == Status::Ok {
            self.exp.accepts += 1;
        }
    }

    /// An ACCEPT completion: the next one expected, every field.
    pub fn check_accept(&mut self, c: &Cpl) {
        let exp = self.acc_expect.pop_front().expect("unexpected ACCEPT");
        assert_eq!(
            (c.status, c.sock_ref, c.tag, c.ref_num, c.bytes),
            exp,
            "ACCEPT (status, sock, tag, ref_num, bytes)"
        );
        assert_eq!(c.opcode, Opcode::SockListen.code(), "ACCEPT opcode");
        assert_eq!(
            (c.flags, c.hdr_bytes, c.stream_off),
            (CplFlags::empty(), 0, 0)
        );
        self.count_cov(&[match c.status {
            Status::Ok => "accept_ok",
            Status::Reset => "accept_reset",
            _ => "accept_timeout",
        }]);
    }

    /// The socket a frame matches: the 4-tuple, the VLAN and the protocol; of several, the one
    /// added last (SOCK_ADD inserts at the head of the bucket's chain).
    pub fn lookup(&self, f: &Frame) -> Option<usize> {
        let proto = if f.udp { IpProto::Udp } else { IpProto::Tcp }.code();
        self.osock
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .filter(|(_, s)| {
                s.cfg.local_ip == f.dst_ip
                    && s.cfg.remote_ip == f.src_ip
                    && s.cfg.local_port == f.dport
                    && s.cfg.remote_port == f.sport
                    && s.cfg.vlan == f.vlan
                    && s.cfg.proto == proto
            })
            .max_by_key(|(_, s)| s.add_no)
            .map(|(i, _)| i)
    }
}
