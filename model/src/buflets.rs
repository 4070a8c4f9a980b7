//! NIC local memory cut into buflets, with a linked free list (rtl/buflet_pool.v).
//!
//! Like the RTL, never-used buflets are handed out from a counter; freed chains are pushed on
//! the head of the free list in one operation (`link[tail] = free_head; free_head = head`).

use buflet_spec::param::NULL16;

const NULL: u16 = NULL16 as u16;

/// A chain of buflets holding one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    /// First buflet, or null when `count == 0`.
    pub head: u16,
    /// Last buflet, or null when `count == 0`.
    pub tail: u16,
    /// Buflets in the chain.
    pub count: u16,
}

impl Chain {
    pub const EMPTY: Chain = Chain {
        head: NULL,
        tail: NULL,
        count: 0,
    };
}

/// The buflet pool: data RAM, link RAM and free list.
pub struct BufletPool {
    bytes: usize,
    ram: Vec<u8>,
    link: Vec<u16>,
    free_head: u16,
    fresh: u32,
    total: u32,
    free: u32,
}

impl BufletPool {
    pub fn new(num: u32, bytes: u32) -> Self {
        BufletPool {
            bytes: bytes as usize,
            ram: vec![0; num as usize * bytes as usize],
            link: vec![NULL; num as usize],
            free_head: NULL,
            fresh: 0,
            total: num,
            free: num,
        }
    }

    /// Buflets currently free.
    pub fn free_count(&self) -> u32 {
        self.free
    }

    fn alloc(&mut self) -> Option<u16> {
        if self.free_head != NULL {
            let b = self.free_head;
            self.free_head = self.link[b as usize];
            self.link[b as usize] = NULL;
            self.free -= 1;
            Some(b)
        } else if self.fresh < self.total {
            let b = self.fresh as u16;
            self.fresh += 1;
            self.free -= 1;
            Some(b)
        } else {
            None
        }
    }

    /// Store `frame` from its first byte into a fresh chain. Returns the chain and whether
    /// the whole frame fit (false: the pool ran dry and the rest of the frame was discarded).
    pub fn store(&mut self, frame: &[u8]) -> (Chain, bool) {
        let mut chain = Chain::EMPTY;
        for piece in frame.chunks(self.bytes) {
            let Some(b) = self.alloc() else {
                return (chain, false);
            };
            let at = b as usize * self.bytes;
            self.ram[at..at + piece.len()].copy_from_slice(piece);
            if chain.count == 0 {
                chain.head = b;
            } else {
                self.link[chain.tail as usize] = b;
            }
            chain.tail = b;
            chain.count += 1;
        }
        (chain, true)
    }

    /// Return a whole chain to the free list.
    pub fn free_chain(&mut self, chain: Chain) {
        if chain.count == 0 {
            return;
        }
        self.link[chain.tail as usize] = self.free_head;
        self.free_head = chain.head;
        self.free += chain.count as u32;
    }

    /// Copy `out.len()` bytes starting at frame offset `off` of the chain starting at `head`.
    pub fn read(&self, head: u16, off: usize, out: &mut [u8]) {
        let mut b = head;
        for _ in 0..off / self.bytes {
            b = self.link[b as usize];
        }
        let mut in_buf = off % self.bytes;
        let mut done = 0;
        while done < out.len() {
            let n = (self.bytes - in_buf).min(out.len() - done);
            let at = b as usize * self.bytes + in_buf;
            out[done..done + n].copy_from_slice(&self.ram[at..at + n]);
            done += n;
            in_buf = 0;
            b = self.link[b as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_read_free() {
        let mut p = BufletPool::new(4, 64);
        let f: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
        let (c, ok) = p.store(&f);
        assert!(ok);
        assert_eq!(c.count, 4);
        assert_eq!(p.free_count(), 0);
        let mut out = vec![0; 150];
        p.read(c.head, 30, &mut out);
        assert_eq!(out, &f[30..180]);
        let (c2, ok2) = p.store(&[1, 2, 3]);
        assert!(!ok2);
        assert_eq!(c2.count, 0);
        p.free_chain(c);
        assert_eq!(p.free_count(), 4);
        let (c3, ok3) = p.store(&f[..100]);
        assert!(ok3);
        let mut out = vec![0; 100];
        p.read(c3.head, 0, &mut out);
        assert_eq!(out, &f[..100]);
        assert_eq!(p.free_count(), 2);
    }
}
