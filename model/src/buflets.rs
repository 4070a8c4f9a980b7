//! NIC local memory cut into buflets, with a linked free list (rtl/buflet_pool.v).
//!
//! Like the RTL, never-used buflets are handed out from a counter; freed chains are pushed on
//! the head of the free list in one operation (`link[tail] = free_head; free_head = head`).
//!
//! p2p (docs/p2p.md): each buflet has an **exposed** bit (set when a hold record names it,
//! cleared when the buflet is next allocated for a frame), and chains emptied by hold delivery
//! are **held** (indexed by their head: count and tail kept) until `BUF_RELEASE` frees them.

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
    /// The empty chain.
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
    /// Host buflets (`HOST_BUFLETS`): the top `host` buflets are never handed out.
    host: u32,
    /// Exposed bit per buflet (docs/p2p.md "Exposed buflets").
    exposed: Vec<bool>,
    /// Held chains, indexed by their head buflet.
    held: Vec<Option<Chain>>,
    /// Chains held (or released) while their segment is still on a socket list as a FIN/RST
    /// marker: their buflets are freed only when the marker leaves the list.
    listed: Vec<bool>,
}

impl BufletPool {
    /// A pool of `num` buflets of `bytes` bytes each, all free, none exposed or held.
    pub fn new(num: u32, bytes: u32) -> Self {
        BufletPool {
            exposed: vec![false; num as usize],
            held: vec![None; num as usize],
            listed: vec![false; num as usize],
            bytes: bytes as usize,
            ram: vec![0; num as usize * bytes as usize],
            link: vec![NULL; num as usize],
            free_head: NULL,
            fresh: 0,
            total: num,
            free: num,
            host: 0,
        }
    }

    /// Buflets currently free (host buflets are not).
    pub fn free_count(&self) -> u32 {
        self.free - self.host
    }

    /// `HOST_BUFLETS`: the host buflets now.
    pub fn host(&self) -> u32 {
        self.host
    }

    /// Write `HOST_BUFLETS`: taken when `v <= NUM_BUFLETS / 2` and no buflet at or above
    /// `NUM_BUFLETS - v` was ever handed out (docs/p2p.md, "Host buflets"); else ignored.
    pub fn set_host(&mut self, v: u32) {
        if v <= self.total / 2 && self.fresh <= self.total - v {
            self.host = v;
        }
    }

    /// Buflet `b` belongs to the host.
    pub fn is_host(&self, b: u64) -> bool {
        b < u64::from(self.total) && b >= u64::from(self.total - self.host)
    }

    /// Write `data` into buflet memory at device byte address `addr`, as the block engine does
    /// for a `DEVMEM` element of a `BLK_READ` (the caller checked the range).
    pub fn write_dev(&mut self, addr: u64, data: &[u8]) {
        let at = addr as usize;
        self.ram[at..at + data.len()].copy_from_slice(data);
    }

    fn alloc(&mut self) -> Option<u16> {
        if self.free_head != NULL {
            let b = self.free_head;
            self.free_head = self.link[b as usize];
            self.link[b as usize] = NULL;
            self.free -= 1;
            self.exposed[b as usize] = false;
            Some(b)
        } else if self.fresh < self.total - self.host {
            let b = self.fresh as u16;
            self.fresh += 1;
            self.free -= 1;
            self.exposed[b as usize] = false;
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

    /// Buflets in the pool.
    pub fn num(&self) -> u32 {
        self.total
    }

    /// Bytes per buflet.
    pub fn buflet_bytes(&self) -> usize {
        self.bytes
    }

    /// The `k`-th buflet of the chain starting at `head` (`k` link steps; the caller keeps `k`
    /// below the chain's count).
    pub fn nth(&self, head: u16, k: usize) -> u16 {
        let mut b = head;
        for _ in 0..k {
            match self.link.get(b as usize) {
                Some(&n) => b = n,
                None => return NULL,
            }
        }
        b
    }

    /// Set the exposed bit of buflet `b` (a hold record names it). Out of range: ignored.
    pub fn expose(&mut self, b: u16) {
        if let Some(e) = self.exposed.get_mut(b as usize) {
            *e = true;
        }
    }

    /// The exposed bit of buflet `b` (false when `b` is out of range).
    pub fn is_exposed(&self, b: u16) -> bool {
        self.exposed.get(b as usize).copied().unwrap_or(false)
    }

    /// Hold `chain` for the driver (its head must not be held already; a repeated hold of the
    /// same head replaces the record, which the engine never does). `listed`: its segment stays
    /// on the socket's list as a FIN/RST marker (see `unlist`).
    pub fn hold(&mut self, chain: Chain, listed: bool) {
        if chain.count == 0 {
            return;
        }
        if let Some(h) = self.held.get_mut(chain.head as usize) {
            *h = Some(chain);
            self.listed[chain.head as usize] = listed;
        }
    }

    /// A segment leaves a socket list without delivery (a FIN/RST marker's step, SOCK_DEL):
    /// a chain that was never held is freed; a held chain whose marker this was stays held for
    /// the driver; a chain released while its marker was still listed is freed now
    /// (docs/p2p.md, "OP_BUF_RELEASE").
    pub fn unlist(&mut self, chain: Chain) {
        let i = chain.head as usize;
        let held = self.is_held(chain.head);
        let listed = self.listed.get(i).copied().unwrap_or(false);
        if listed {
            self.listed[i] = false;
        }
        if !held {
            self.free_chain(chain);
        }
    }

    /// `head` is the head of a held chain.
    pub fn is_held(&self, head: u16) -> bool {
        matches!(self.held.get(head as usize), Some(Some(_)))
    }

    /// Release the held chain whose head is `head` to the free list (one free operation).
    /// Returns false, changing nothing, when `head` is out of range or not held.
    /// A chain whose segment is still listed as a marker is released now but freed by `unlist`.
    pub fn release(&mut self, head: u16) -> bool {
        match self.held.get_mut(head as usize).and_then(Option::take) {
            Some(c) => {
                if !self.listed[head as usize] {
                    self.free_chain(c);
                }
                true
            }
            None => false,
        }
    }

    /// Copy `out.len()` bytes of buflet memory from device byte address `addr`
    /// (`b * BUFLET_BYTES + k`), as the block engine's second read port does. Returns false,
    /// copying nothing, when the range leaves the memory.
    pub fn read_dev(&self, addr: u64, out: &mut [u8]) -> bool {
        let Ok(at) = usize::try_from(addr) else {
            return false;
        };
        match at
            .checked_add(out.len())
            .and_then(|end| self.ram.get(at..end))
        {
            Some(src) => {
                out.copy_from_slice(src);
                true
            }
            None => false,
        }
    }

    /// The `len` bytes at frame offset `off` of the chain starting at `head`, when they lie
    /// in one buflet (a slice of buflet memory, nothing copied); `None` when they cross into
    /// the next one (then [`BufletPool::read`] gathers them) or the chain ends before `off`.
    pub fn slice(&self, head: u16, off: usize, len: usize) -> Option<&[u8]> {
        let in_buf = off % self.bytes;
        if in_buf + len > self.bytes {
            return None;
        }
        let mut b = head;
        for _ in 0..off / self.bytes {
            b = *self.link.get(b as usize)?;
        }
        let at = b as usize * self.bytes + in_buf;
        self.ram.get(at..at + len)
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

    /// A pool of four 64-byte buflets holding the bytes 0, 1, .. `n - 1` (mod 256): the pool
    /// and the stored frame.
    fn stored(n: u32) -> (BufletPool, Vec<u8>, Chain) {
        let mut p = BufletPool::new(4, 64);
        let f: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let (c, ok) = p.store(&f);
        assert!(ok);
        (p, f, c)
    }

    #[test]
    fn store_read_free() {
        let (mut p, f, c) = stored(200);
        assert_eq!(c.count, 4);
        assert_eq!(p.free_count(), 0);
        let mut out = vec![0; 150];
        p.read(c.head, 30, &mut out);
        assert_eq!(out, &f[30..180]);
        // A range inside one buflet is a slice of it; one that crosses a boundary is not.
        assert_eq!(p.slice(c.head, 70, 50), Some(&f[70..120]));
        assert_eq!(p.slice(c.head, 0, 64), Some(&f[..64]));
        assert_eq!(p.slice(c.head, 30, 150), None);
        // A whole buflet from its boundary, an empty range, and a range past the chain's end.
        assert_eq!(p.slice(c.head, 64, 64), Some(&f[64..128]));
        assert_eq!(p.slice(c.head, 128, 0), Some(&[][..]));
        assert_eq!(p.slice(c.head, 256, 8), None);
        assert_eq!(p.slice(c.head, 1024, 8), None);
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

    #[test]
    fn hold_expose_release() {
        let (mut p, f, c) = stored(150);
        assert_eq!(p.nth(c.head, 2), c.tail);
        let mid = p.nth(c.head, 1);
        p.expose(mid);
        p.expose(NULL); // out of range: ignored
        assert!(p.is_exposed(mid) && !p.is_exposed(c.head) && !p.is_exposed(NULL));
        let mut out = [0u8; 10];
        assert!(p.read_dev(mid as u64 * 64 + 3, &mut out));
        assert_eq!(out, f[67..77]);
        assert!(!p.read_dev(4 * 64 - 5, &mut out), "past the memory");
        assert!(!p.read_dev(u64::MAX - 2, &mut out));
        p.hold(c, false);
        assert!(p.is_held(c.head) && !p.is_held(mid));
        assert_eq!(p.free_count(), 1);
        assert!(!p.release(mid) && !p.release(NULL));
        assert!(p.release(c.head));
        assert!(!p.release(c.head), "released once");
        assert_eq!(p.free_count(), 4);
        // Still exposed until the pool hands the buflet out again.
        assert!(p.is_exposed(mid));
        let (c2, _) = p.store(&f);
        assert_eq!(c2.count, 3);
        assert!(!p.is_exposed(mid));
    }
}
