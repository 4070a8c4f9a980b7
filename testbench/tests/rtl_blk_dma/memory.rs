//! The memories the engine reaches, shared by the bench and the oracle: host memory with refused
//! ranges, and buflet memory (bytes, exposed bits, HOST_BUFLETS) with the DEVMEM element rules
//! of docs/p2p.md (BLK_WRITE: read from an exposed buflet; BLK_READ: written into a host
//! buflet).

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

/// Buflet memory seen by the block engine (docs/p2p.md): bytes, exposed bits and the
/// HOST_BUFLETS register.
pub struct Bram {
    pub bytes: Vec<u8>,
    pub exposed: Vec<bool>,
    /// BUFLET_BYTES of the model.
    pub bb: u64,
    /// HOST_BUFLETS: the top `host` buflets belong to the host.
    pub host: u64,
}

/// DEV_ALIGN (docs/p2p.md, "p2p reads"): 64, the widest bus word.
pub const DEV_ALIGN: u64 = 64;

/// The rules of a DEVMEM element of a BLK_READ (docs/p2p.md "`DEVMEM` elements of a
/// `BLK_READ`"): each kind of violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DevRd {
    /// FLAGS & ZERO together with DEVMEM.
    Zero,
    /// SRC_ADDR not a multiple of DEV_ALIGN.
    SrcAlign,
    /// LEN not a multiple of DEV_ALIGN.
    LenAlign,
    /// DISK_ADDR not a multiple of DEV_ALIGN.
    DiskAlign,
    /// SRC_ADDR beyond buflet memory (no buflet at all).
    OutOfRange,
    /// The range crosses its buflet's end.
    Crossing,
    /// The buflet is not a host buflet (index < NUM_BUFLETS - HOST_BUFLETS).
    NotHost,
}

pub const DEV_RD_KINDS: [DevRd; 7] = [
    DevRd::Zero,
    DevRd::SrcAlign,
    DevRd::LenAlign,
    DevRd::DiskAlign,
    DevRd::OutOfRange,
    DevRd::Crossing,
    DevRd::NotHost,
];

impl Bram {
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    /// The exposed bit the pool reports for buflet index `idx` (16 bits).
    pub fn exp(&self, idx: u64) -> bool {
        self.exposed.get(idx as usize).copied().unwrap_or(false)
    }
    pub fn nb(&self) -> u64 {
        self.exposed.len() as u64
    }
    /// Buflet `b` belongs to the host (HOST_BUFLETS).
    pub fn is_host(&self, b: u64) -> bool {
        b < self.nb() && b >= self.nb() - self.host
    }
    /// The DEVMEM element rules of a BLK_WRITE (docs/p2p.md).
    pub fn dev_ok(&self, zero: bool, src: u64, len: u64) -> bool {
        !zero && src < self.size() && src % self.bb + len <= self.bb && self.exp(src / self.bb)
    }
}

impl Bram {
    /// Every rule a DEVMEM element of a BLK_READ breaks (empty: the element is valid).
    pub fn dev_rd_bad(&self, zero: bool, src: u64, len: u64, disk: u64) -> Vec<DevRd> {
        let mut v = Vec::new();
        if zero {
            v.push(DevRd::Zero);
        }
        if !src.is_multiple_of(DEV_ALIGN) {
            v.push(DevRd::SrcAlign);
        }
        if !len.is_multiple_of(DEV_ALIGN) {
            v.push(DevRd::LenAlign);
        }
        if !disk.is_multiple_of(DEV_ALIGN) {
            v.push(DevRd::DiskAlign);
        }
        if src >= self.size() {
            v.push(DevRd::OutOfRange);
        } else {
            if src % self.bb + len > self.bb {
                v.push(DevRd::Crossing);
            }
            if !self.is_host(src / self.bb) {
                v.push(DevRd::NotHost);
            }
        }
        v
    }
}
