//! Socket lookup (rtl/toe_lookup.v): the hash of a 4-tuple, the match key, and the hash chains
//! as the RTL keeps them: one head per bucket (`HASH_BUCKETS` of them), linked through
//! `sock_ctx.NEXT_SOCK`; SOCK_ADD and an accept insert at the head, SOCK_DEL unlinks. A lookup
//! walks the frame's bucket from its head and stops at the first match (so the newest socket
//! with a key matches); its cost is the bucket read plus one cycle per socket visited
//! (docs/tcp-receive.md, "Lookup cost").

use super::Toe;

/// The 32-bit folded hash `x` of a 4-tuple (architecture.md), before the bucket modulo: an
/// accepted socket's ISS is its listen's ISS plus this (docs/tcp-receive.md).
pub fn hash_x(remote_ip: u32, local_ip: u32, remote_port: u16, local_port: u16) -> u32 {
    let mut x = remote_ip ^ local_ip ^ ((remote_port as u32) << 16 | local_port as u32);
    x ^= x >> 16;
    x ^= x >> 8;
    x
}

/// Hash bucket of a 4-tuple, exactly as toe_engine computes it (architecture.md).
pub fn hash_bucket(
    remote_ip: u32,
    local_ip: u32,
    remote_port: u16,
    local_port: u16,
    buckets: u32,
) -> u32 {
    hash_x(remote_ip, local_ip, remote_port, local_port) % buckets.max(1)
}

/// Socket match key: local/remote IP and port, VLAN id and IP protocol (rx-paths.md: a frame
/// matches a socket only when the protocol matches too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(super) struct Key {
    pub(super) proto: u8,
    pub(super) local_ip: u32,
    pub(super) remote_ip: u32,
    pub(super) local_port: u16,
    pub(super) remote_port: u16,
    pub(super) vlan: u16,
}

impl Key {
    /// The key a frame's record looks up: its protocol, its destination as the local end,
    /// its source as the remote end, its VLAN.
    pub(super) fn of(p: &crate::parse::Parsed) -> Self {
        Key {
            proto: if p.udp {
                super::PROTO_UDP
            } else {
                super::PROTO_TCP
            },
            local_ip: p.dst_ip,
            remote_ip: p.src_ip,
            local_port: p.dst_port,
            remote_port: p.src_port,
            vlan: p.vlan,
        }
    }

    /// The 32-bit folded hash of the key's 4-tuple.
    pub(super) fn x(&self) -> u32 {
        hash_x(
            self.remote_ip,
            self.local_ip,
            self.remote_port,
            self.local_port,
        )
    }
}

impl Toe {
    fn bucket_of(&self, key: &Key) -> usize {
        (key.x() % self.buckets.len() as u32) as usize
    }

    /// The chain walk of a frame's lookup: the first socket of `key`'s bucket whose key
    /// matches, the sockets visited (the match included; the whole chain on a miss), and the
    /// index the RTL's socket register holds after it: the socket read last, or an empty
    /// bucket's NULL cut to the register's width.
    pub(super) fn lookup(&self, key: &Key) -> (Option<u16>, u64, u16) {
        let mut cur = self.buckets[self.bucket_of(key)];
        let mut visited = 0;
        let mut last = (self.socks.len().next_power_of_two() - 1) as u16;
        while let Some(s) = cur {
            visited += 1;
            last = s;
            let sock = &self.socks[s as usize];
            if sock.d.key == *key {
                return (Some(s), visited, s);
            }
            cur = sock.next_sock;
        }
        (None, visited, last)
    }

    /// Insert socket `s` (its descriptor already in its slot) at the head of its hash chain
    /// and of the active list (SOCK_ADD, an accept).
    pub(super) fn link(&mut self, s: u16) {
        // a socket inserted: frames walk their chains again (the newest match wins)
        self.fw = None;
        let b = self.bucket_of(&self.socks[s as usize].d.key);
        let head = self.buckets[b];
        let act = self.act_head;
        let sock = &mut self.socks[s as usize];
        sock.next_sock = head;
        sock.act_next = act;
        sock.act_prev = None;
        self.buckets[b] = Some(s);
        if let Some(h) = act {
            self.socks[h as usize].act_prev = Some(s);
        }
        self.act_head = Some(s);
    }

    /// Unlink socket `s` from its hash chain and from the active list (SOCK_DEL). The RTL
    /// walks the chain to the predecessor, then the active list from its head to the
    /// predecessor (S_DEL_UL1, S_DEL_AL1: one socket per cycle). Returns those cycles: the
    /// chain sockets and the active sockets before `s` (the active list is doubly linked
    /// here; its position is counted back along the predecessor links).
    pub(super) fn unlink(&mut self, s: u16) -> u64 {
        let b = self.bucket_of(&self.socks[s as usize].d.key);
        let next = self.socks[s as usize].next_sock;
        let mut visited = 0;
        if self.buckets[b] == Some(s) {
            self.buckets[b] = next;
        } else {
            let mut cur = self.buckets[b];
            while let Some(c) = cur {
                visited += 1;
                let n = self.socks[c as usize].next_sock;
                if n == Some(s) {
                    self.socks[c as usize].next_sock = next;
                    break;
                }
                cur = n;
            }
        }
        let (prev, next) = {
            let sock = &self.socks[s as usize];
            (sock.act_prev, sock.act_next)
        };
        let mut p = prev;
        while let Some(q) = p {
            visited += 1;
            p = self.socks[q as usize].act_prev;
        }
        match prev {
            Some(p) => self.socks[p as usize].act_next = next,
            None => {
                if self.act_head == Some(s) {
                    self.act_head = next;
                }
            }
        }
        if let Some(n) = next {
            self.socks[n as usize].act_prev = prev;
        }
        visited
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_matches_the_formula() {
        // x = 0x0A4D0009 ^ 0x0A4D0002 ^ 0x9C400801 = 0x9C40080A; ^>>16 = 0x9C40944A; ^>>8 = 0x9CDCD4DE.
        assert_eq!(
            super::hash_x(0x0A4D_0009, 0x0A4D_0002, 40000, 2049),
            0x9CDC_D4DE
        );
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
