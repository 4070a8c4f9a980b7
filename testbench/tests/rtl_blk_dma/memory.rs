//! The memories the engine reaches, shared by the bench and the oracle: host memory with refused
//! ranges, and buflet memory (bytes and exposed bits) with the DEVMEM element rules of
//! docs/p2p.md.

use crate::*;

/// Host memory with refused ranges.
pub struct Host {
    pub mem: Vec<u8>,
    pub refused: Vec<(u64, u64)>,
}

pub fn refused(refused: &[(u64, u64)], addr: u64, len: u64) -> bool {
    addr + len > MEM_BYTES as u64 || refused.iter().any(|&(a, l)| addr < a + l && a < addr + len)
}

pub fn read_mem(mem: &[u8], refs: &[(u64, u64)], addr: u64, len: usize) -> Option<Vec<u8>> {
    if refused(refs, addr, len as u64) {
        None
    } else {
        Some(mem[addr as usize..addr as usize + len].to_vec())
    }
}

impl Host {
    pub fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        read_mem(&self.mem, &self.refused, addr, len)
    }
}

/// Buflet memory seen by the block engine (docs/p2p.md): bytes and exposed bits.
pub struct Bram {
    pub bytes: Vec<u8>,
    pub exposed: Vec<bool>,
    /// BUFLET_BYTES of the model.
    pub bb: u64,
}

impl Bram {
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    /// The exposed bit the pool reports for buflet index `idx` (16 bits).
    pub fn exp(&self, idx: u64) -> bool {
        self.exposed.get(idx as usize).copied().unwrap_or(false)
    }
    /// The DEVMEM element rules of docs/p2p.md.
    pub fn dev_ok(&self, read: bool, zero: bool, src: u64, len: u64) -> bool {
        !read
            && !zero
            && src < self.size()
            && src % self.bb + len <= self.bb
            && self.exp(src / self.bb)
    }
}
