//! Socket lookup in the oracle (`rtl/toe_lookup.v`, `model/src/toe/lookup.rs`): the bucket of a
//! 4-tuple, computed independently of the RTL, and the match of a frame to a socket.

use crate::*;

/// Bucket of a 4-tuple (architecture.md, socket lookup), computed independently of the RTL.
pub fn bucket(remote_ip: u32, local_ip: u32, remote_port: u16, local_port: u16, n: u32) -> u32 {
    let mut x = remote_ip ^ local_ip ^ ((remote_port as u32) << 16 | local_port as u32);
    x ^= x >> 16;
    x ^= x >> 8;
    x % n
}

impl Tb {
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
