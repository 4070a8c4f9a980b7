//! Socket lookup (rtl/toe_lookup.v): the hash of a 4-tuple and the match key. The RTL walks a
//! bucket's chain (SOCK_ADD inserts at its head, so the newest socket with a key matches);
//! the model keeps, per key, the sockets with that key, oldest first.

use super::Toe;

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

impl Toe {
    pub(super) fn lookup(&self, key: &Key) -> Option<u16> {
        self.map.get(key).and_then(|v| v.last().copied())
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
