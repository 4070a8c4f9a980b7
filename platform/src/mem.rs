//! Host DRAM with per-agent accounting and a registration check on device accesses.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Page size of the copy-on-write protection (seed 002).
const COW_PAGE: u64 = 4096;

/// Who touches host memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    /// The host CPU (driver, application).
    Cpu,
    /// The NIC's DMA (rings, descriptors, inbound payload).
    NicDma,
    /// The block-controller DMA engine (scatter-gather lists, payload to disk).
    BlkDma,
}

const AGENTS: usize = 3;

impl Agent {
    fn idx(self) -> usize {
        self as usize
    }
}

/// A refused host memory access.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemError {
    /// The range is not inside host memory.
    #[error("host memory access at {addr:#x}+{len} is outside memory of {size} bytes")]
    OutOfRange { addr: u64, len: usize, size: u64 },
    /// A device access outside every registered region.
    #[error("{agent:?} access at {addr:#x}+{len} is outside the registered regions")]
    NotRegistered { agent: Agent, addr: u64, len: usize },
    /// No free memory for an allocation.
    #[error("host memory exhausted allocating {0} bytes")]
    Exhausted(usize),
}

/// Byte counters of host memory traffic.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemStats {
    /// Bytes read by the CPU.
    pub cpu_read: u64,
    /// Bytes written by the CPU.
    pub cpu_written: u64,
    /// Payload bytes the CPU copied from one place in memory to another.
    pub cpu_copied: u64,
    /// Bytes read by the NIC's DMA.
    pub nic_read: u64,
    /// Bytes written by the NIC's DMA.
    pub nic_written: u64,
    /// Bytes read by the block DMA engine.
    pub blk_read: u64,
    /// Bytes written by the block DMA engine.
    pub blk_written: u64,
    /// Device accesses refused because they fell outside registered memory.
    pub stray_accesses: u64,
    /// CPU writes into a page protected copy-on-write (seed 002): each copied the page
    /// (counted in `cpu_copied`, `cpu_read` and `cpu_written`).
    pub cow_faults: u64,
}

impl MemStats {
    /// All bytes moved across host DRAM by any agent.
    pub fn total(&self) -> u64 {
        self.cpu_read
            + self.cpu_written
            + self.nic_read
            + self.nic_written
            + self.blk_read
            + self.blk_written
    }
}

/// One write by a device agent, recorded while the write log is on. Co-simulation compares the
/// logs of two backends; a DMA operation may arrive as several contiguous pieces (the RTL writes
/// bus words), so compare after merging contiguous pieces. Two writes are equal when they are
/// the same access with the same bytes, whatever their cycles (`at`).
#[derive(Debug, Clone)]
pub struct DevWrite {
    /// Which DMA engine wrote.
    pub agent: Agent,
    /// Host address of the first byte.
    pub addr: u64,
    /// The bytes written (refused writes are logged too, with `refused` set).
    pub data: Vec<u8>,
    /// The access was refused (outside registered memory); nothing was stored.
    pub refused: bool,
    /// The device's cycle of the write's first word, when it gave one
    /// ([`HostMemory::write_at`]: the model, which writes a whole DMA write in the event that
    /// issues it, says where its costs put that word). `None`: the cycle it was seen (the
    /// RTL writes each bus word in its cycle).
    pub at: Option<u64>,
}

impl PartialEq for DevWrite {
    fn eq(&self, other: &Self) -> bool {
        self.agent == other.agent
            && self.addr == other.addr
            && self.data == other.data
            && self.refused == other.refused
    }
}

impl Eq for DevWrite {}

/// Host DRAM: a flat byte array with a simple allocator, registered regions and counters.
pub struct HostMemory {
    bytes: Vec<u8>,
    read: [u64; AGENTS],
    written: [u64; AGENTS],
    copied: u64,
    stray: u64,
    /// Registered regions: start -> end (exclusive), non-overlapping.
    regions: BTreeMap<u64, u64>,
    /// Free extents: start -> end (exclusive).
    free: BTreeMap<u64, u64>,
    /// Live allocations: start -> len.
    allocs: BTreeMap<u64, u64>,
    /// Device writes since logging was turned on (None = off).
    log: Option<Vec<DevWrite>>,
    /// Pages protected copy-on-write (seed 002), with the number of protections on each.
    cow: BTreeMap<u64, u32>,
    /// The CPU's view of pages copied on a fault: page address -> the copy it now uses.
    /// Devices keep reaching the original page (the NIC sends the old contents).
    cpu_map: HashMap<u64, u64>,
    cow_faults: u64,
}

impl HostMemory {
    /// Host memory of `size` bytes. The first page is never handed out, so address 0 is null.
    pub fn new(size: u64) -> Self {
        let mut free = BTreeMap::new();
        free.insert(4096, size);
        HostMemory {
            bytes: vec![0; size as usize],
            read: [0; AGENTS],
            written: [0; AGENTS],
            copied: 0,
            stray: 0,
            regions: BTreeMap::new(),
            free,
            allocs: BTreeMap::new(),
            log: None,
            cow: BTreeMap::new(),
            cpu_map: HashMap::new(),
            cow_faults: 0,
        }
    }

    /// Protect the page at `page` (page-aligned) copy-on-write, as an MMU would for seed 002's
    /// table: a later CPU write into it copies the page first and goes to the copy, while
    /// devices keep reading the original. Protections nest.
    pub fn cow_protect(&mut self, page: u64) {
        *self.cow.entry(page & !(COW_PAGE - 1)).or_insert(0) += 1;
    }

    /// Drop one protection of the page at `page`.
    pub fn cow_release(&mut self, page: u64) {
        let p = page & !(COW_PAGE - 1);
        if let Some(n) = self.cow.get_mut(&p) {
            *n -= 1;
            if *n == 0 {
                self.cow.remove(&p);
            }
        }
    }

    /// Where the CPU's byte `addr` lives now (a page copied on a fault lives elsewhere): the
    /// address a driver hands a device for it, as pinning a user page yields its frame.
    pub fn cpu_phys(&self, addr: u64) -> u64 {
        let page = addr & !(COW_PAGE - 1);
        self.cpu_map.get(&page).map_or(addr, |&p| p + (addr - page))
    }

    /// A CPU write is about to touch the page holding `addr`: if that page is protected, copy
    /// it to a fresh page and point the CPU's view there.
    fn cow_fault(&mut self, addr: u64) -> Result<(), MemError> {
        let page = addr & !(COW_PAGE - 1);
        let phys = self.cpu_phys(page);
        if !self.cow.contains_key(&phys) {
            return Ok(());
        }
        let copy = self.alloc(COW_PAGE, COW_PAGE)?;
        self.bytes
            .copy_within(phys as usize..(phys + COW_PAGE) as usize, copy as usize);
        self.read[0] += COW_PAGE;
        self.written[0] += COW_PAGE;
        self.copied += COW_PAGE;
        self.cow_faults += 1;
        // An earlier copy that was itself protected stays the NIC's until its post is done.
        self.cpu_map.insert(page, copy);
        Ok(())
    }

    /// The page-bounded pieces of the CPU's range `[addr, addr+len)`: (offset in the range,
    /// where the bytes live, length).
    fn cpu_pieces(&self, addr: u64, len: usize) -> Vec<(usize, u64, usize)> {
        let mut out = Vec::new();
        let mut done = 0usize;
        while done < len {
            let a = addr + done as u64;
            let n = ((COW_PAGE - a % COW_PAGE) as usize).min(len - done);
            out.push((done, self.cpu_phys(a), n));
            done += n;
        }
        out
    }

    /// Turn the device-write log on (empty) or off.
    pub fn set_write_log(&mut self, on: bool) {
        self.log = on.then(Vec::new);
    }

    /// Take the device writes logged so far (empty when logging is off).
    pub fn take_write_log(&mut self) -> Vec<DevWrite> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Allocate `len` bytes aligned to `align` (a power of two). First fit.
    pub fn alloc(&mut self, len: u64, align: u64) -> Result<u64, MemError> {
        let len = len.max(1);
        let found = self.free.iter().find_map(|(&s, &e)| {
            let a = (s + align - 1) & !(align - 1);
            (a + len <= e).then_some((s, e, a))
        });
        let (s, e, a) = found.ok_or(MemError::Exhausted(len as usize))?;
        self.free.remove(&s);
        if a > s {
            self.free.insert(s, a);
        }
        if a + len < e {
            self.free.insert(a + len, e);
        }
        self.allocs.insert(a, len);
        Ok(a)
    }

    /// Return an allocation made by [`HostMemory::alloc`]. Unknown addresses are ignored.
    pub fn free(&mut self, addr: u64) {
        let Some(len) = self.allocs.remove(&addr) else {
            return;
        };
        // Pages of the range the CPU saw through a copy: the copies go too.
        if !self.cpu_map.is_empty() {
            let mut p = addr & !(COW_PAGE - 1);
            while p < addr + len {
                if let Some(copy) = self.cpu_map.remove(&p) {
                    self.free(copy);
                }
                p += COW_PAGE;
            }
        }
        let (mut s, mut e) = (addr, addr + len);
        if let Some((&ps, &pe)) = self.free.range(..s).next_back() {
            if pe == s {
                self.free.remove(&ps);
                s = ps;
            }
        }
        if let Some(&ne) = self.free.get(&e) {
            self.free.remove(&e);
            e = ne;
        }
        self.free.insert(s, e);
    }

    /// Register `[addr, addr+len)` for device access (seed 004). Overlapping regions merge.
    pub fn register(&mut self, addr: u64, len: u64) {
        let (mut s, mut e) = (addr, addr + len);
        let overlapping: Vec<(u64, u64)> = self
            .regions
            .range(..=e)
            .filter(|(_, &re)| re >= s)
            .map(|(&a, &b)| (a, b))
            .collect();
        for (rs, re) in overlapping {
            self.regions.remove(&rs);
            s = s.min(rs);
            e = e.max(re);
        }
        self.regions.insert(s, e);
    }

    /// Remove `[addr, addr+len)` from the registered regions.
    pub fn unregister(&mut self, addr: u64, len: u64) {
        let (s, e) = (addr, addr + len);
        let overlapping: Vec<(u64, u64)> = self
            .regions
            .range(..e)
            .filter(|(_, &re)| re > s)
            .map(|(&a, &b)| (a, b))
            .collect();
        for (rs, re) in overlapping {
            self.regions.remove(&rs);
            if rs < s {
                self.regions.insert(rs, s);
            }
            if re > e {
                self.regions.insert(e, re);
            }
        }
    }

    /// Whether a device may access `[addr, addr+len)`.
    pub fn is_registered(&self, addr: u64, len: usize) -> bool {
        match self.regions.range(..=addr).next_back() {
            Some((_, &e)) => addr + len as u64 <= e,
            None => false,
        }
    }

    fn check(
        &mut self,
        agent: Agent,
        addr: u64,
        len: usize,
    ) -> Result<std::ops::Range<usize>, MemError> {
        let end = addr.checked_add(len as u64).filter(|&e| e <= self.size());
        let Some(end) = end else {
            if agent != Agent::Cpu {
                self.stray += 1;
            }
            return Err(MemError::OutOfRange {
                addr,
                len,
                size: self.size(),
            });
        };
        if agent != Agent::Cpu && !self.is_registered(addr, len) {
            self.stray += 1;
            return Err(MemError::NotRegistered { agent, addr, len });
        }
        Ok(addr as usize..end as usize)
    }

    /// Read `out.len()` bytes at `addr` on behalf of `agent` (the CPU through its view of
    /// pages copied on a fault).
    pub fn read(&mut self, agent: Agent, addr: u64, out: &mut [u8]) -> Result<(), MemError> {
        let len = out.len();
        self.read_with(agent, addr, len, |o, src| {
            out[o..o + src.len()].copy_from_slice(src)
        })
    }

    /// [`HostMemory::read`] of `len` bytes appended to `out`: no zeroed buffer to fill first.
    pub fn read_append(
        &mut self,
        agent: Agent,
        addr: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), MemError> {
        self.read_with(agent, addr, len, |_, src| out.extend_from_slice(src))
    }

    /// The bytes a read of `len` bytes at `addr` by `agent` sees, in order, as (offset in the
    /// read, bytes): one piece, or one per page of the CPU's view.
    fn read_with(
        &mut self,
        agent: Agent,
        addr: u64,
        len: usize,
        mut f: impl FnMut(usize, &[u8]),
    ) -> Result<(), MemError> {
        let r = self.check(agent, addr, len)?;
        if agent == Agent::Cpu && !self.cpu_map.is_empty() {
            for (o, p, n) in self.cpu_pieces(addr, len) {
                f(o, &self.bytes[p as usize..p as usize + n]);
            }
        } else {
            f(0, &self.bytes[r]);
        }
        self.read[agent.idx()] += len as u64;
        Ok(())
    }

    /// Write `data` at `addr` on behalf of `agent`.
    pub fn write(&mut self, agent: Agent, addr: u64, data: &[u8]) -> Result<(), MemError> {
        self.write_stamped(agent, addr, data, None)
    }

    /// [`HostMemory::write`] by a device that says which cycle the write's first word is at
    /// (the device-write log keeps it: [`DevWrite::at`]).
    pub fn write_at(
        &mut self,
        agent: Agent,
        addr: u64,
        data: &[u8],
        at: u64,
    ) -> Result<(), MemError> {
        self.write_stamped(agent, addr, data, Some(at))
    }

    fn write_stamped(
        &mut self,
        agent: Agent,
        addr: u64,
        data: &[u8],
        at: Option<u64>,
    ) -> Result<(), MemError> {
        let checked = self.check(agent, addr, data.len());
        if agent != Agent::Cpu {
            if let Some(log) = self.log.as_mut() {
                log.push(DevWrite {
                    agent,
                    addr,
                    data: data.to_vec(),
                    refused: checked.is_err(),
                    at,
                });
            }
        }
        let r = checked?;
        if agent == Agent::Cpu && !(self.cow.is_empty() && self.cpu_map.is_empty()) {
            let mut a = addr & !(COW_PAGE - 1);
            while a < addr + data.len() as u64 {
                self.cow_fault(a)?;
                a += COW_PAGE;
            }
            for (o, p, n) in self.cpu_pieces(addr, data.len()) {
                self.bytes[p as usize..p as usize + n].copy_from_slice(&data[o..o + n]);
            }
        } else {
            self.bytes[r].copy_from_slice(data);
        }
        self.written[agent.idx()] += data.len() as u64;
        Ok(())
    }

    /// CPU copy of `len` bytes from `src` to `dst`: counted as a read, a write and a copy.
    pub fn cpu_copy(&mut self, src: u64, dst: u64, len: usize) -> Result<(), MemError> {
        if !(self.cow.is_empty() && self.cpu_map.is_empty()) {
            // Through the CPU's view of copied pages (and taking copy-on-write faults).
            let mut buf = vec![0u8; len];
            self.read(Agent::Cpu, src, &mut buf)?;
            self.write(Agent::Cpu, dst, &buf)?;
            self.copied += len as u64;
            return Ok(());
        }
        let s = self.check(Agent::Cpu, src, len)?;
        self.check(Agent::Cpu, dst, len)?;
        self.bytes.copy_within(s, dst as usize);
        self.read[0] += len as u64;
        self.written[0] += len as u64;
        self.copied += len as u64;
        Ok(())
    }

    /// Read a little-endian u32 as the CPU.
    pub fn cpu_read_u32(&mut self, addr: u64) -> Result<u32, MemError> {
        let mut b = [0u8; 4];
        self.read(Agent::Cpu, addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Traffic counters so far.
    pub fn stats(&self) -> MemStats {
        MemStats {
            cpu_read: self.read[0],
            cpu_written: self.written[0],
            cpu_copied: self.copied,
            nic_read: self.read[1],
            nic_written: self.written[1],
            blk_read: self.read[2],
            blk_written: self.written[2],
            stray_accesses: self.stray,
            cow_faults: self.cow_faults,
        }
    }
}

#[cfg(test)]
mod tests {

    /// Seed 002 in the memory model: a CPU write into a protected page copies the page first;
    /// the NIC keeps reading the old contents, the CPU sees its write, and the copy is counted.
    #[test]
    fn a_cpu_write_into_a_protected_page_is_copied_on_write() {
        let mut m = HostMemory::new(1 << 20);
        let a = m.alloc(2 * COW_PAGE, COW_PAGE).unwrap();
        m.register(a, 2 * COW_PAGE);
        m.write(Agent::Cpu, a, &[1u8; 8192]).unwrap();
        m.cow_protect(a);
        let before = m.stats();
        // A write across both pages: only the protected one faults.
        m.write(Agent::Cpu, a + 4000, &[2u8; 200]).unwrap();
        let s = m.stats();
        assert_eq!(s.cow_faults, 1);
        assert_eq!(s.cpu_copied - before.cpu_copied, COW_PAGE);
        let mut nic = [0u8; 200];
        m.read(Agent::NicDma, a + 4000, &mut nic).unwrap();
        assert_eq!(
            &nic[..96],
            &[1u8; 96],
            "the NIC reads the page as it was posted"
        );
        assert_eq!(
            &nic[96..],
            &[2u8; 104],
            "the unprotected page was written in place"
        );
        let mut cpu = [0u8; 200];
        m.read(Agent::Cpu, a + 4000, &mut cpu).unwrap();
        assert_eq!(cpu, [2u8; 200], "the CPU sees its write");
        // An appending read sees the same bytes through the CPU's view, after what `out` held.
        let mut out = vec![9u8];
        m.read_append(Agent::Cpu, a + 4000, 200, &mut out).unwrap();
        assert_eq!((out[0], &out[1..]), (9, &[2u8; 200][..]));
        let mut out = Vec::new();
        m.read_append(Agent::NicDma, a + 4000, 200, &mut out)
            .unwrap();
        assert_eq!(out, nic, "a device's appending read sees the original page");
        assert!(m.read_append(Agent::Cpu, 1 << 20, 1, &mut out).is_err());
        // A second write goes to the copy: no new fault; released pages fault no more.
        m.write(Agent::Cpu, a, &[3u8; 10]).unwrap();
        assert_eq!(m.stats().cow_faults, 1);
        m.cow_release(a);
        m.write(Agent::Cpu, a + 4096, &[4u8; 10]).unwrap();
        assert_eq!(m.stats().cow_faults, 1);
        m.free(a);
    }
    use super::*;

    #[test]
    fn accounting_and_protection() {
        let mut m = HostMemory::new(1 << 20);
        let a = m.alloc(8192, 4096).unwrap();
        assert_eq!(a % 4096, 0);
        assert!(m.write(Agent::NicDma, a, &[1; 16]).is_err());
        assert_eq!(m.stats().stray_accesses, 1);
        m.register(a, 8192);
        m.write(Agent::NicDma, a, &[7; 16]).unwrap();
        let mut b = [0u8; 16];
        m.read(Agent::BlkDma, a, &mut b).unwrap();
        assert_eq!(b, [7; 16]);
        assert!(m.read(Agent::BlkDma, a + 8190, &mut b).is_err());
        let s = m.stats();
        assert_eq!((s.nic_written, s.blk_read, s.stray_accesses), (16, 16, 2));
        m.unregister(a, 4096);
        assert!(!m.is_registered(a, 1));
        assert!(m.is_registered(a + 4096, 4096));
    }

    #[test]
    fn alloc_free_coalesce() {
        let mut m = HostMemory::new(64 * 1024);
        let xs: Vec<u64> = (0..10).map(|_| m.alloc(4096, 4096).unwrap()).collect();
        assert!(m.alloc(4096, 4096).is_err() || xs.len() == 10);
        for x in &xs {
            m.free(*x);
        }
        let big = m.alloc(40 * 1024, 4096).unwrap();
        assert_eq!(big, 4096);
    }
}
