//! A registration cache for per-I/O buffers (seed 004).
//!
//! Before the device may touch a host buffer, the buffer is *registered*: translated and handed
//! to the adapter (today [`HostMemory::register`], the "system call"; later also an entry of
//! the device's protection table). Registering and deregistering around every I/O costs a
//! system call each way, so the driver keeps a lookup table of registered buffers across I/Os:
//!
//! - [`RegCache::acquire`] is lookup-or-register: a buffer already in the table is a *hit* and
//!   costs nothing; a *miss* registers it. The entry is then *in use* by that I/O.
//! - [`RegCache::release`]: the I/O finished. The entry stays registered, stamped with the
//!   I/O clock, so the next I/O on the same buffer is a hit.
//! - [`RegCache::free`]: the application freed the buffer (explicit deregistration).
//! - [`RegCache::set_perms`]: the buffer's properties (permissions) changed: the old
//!   registration is deregistered and the buffer registered anew. An [`RegCache::acquire`] that
//!   asks for permissions the entry lacks does the same, widening the entry's permissions.
//! - Garbage collection ([`RegCache::collect`], also run by every acquire): entries released
//!   and unused for [`RegConfig::max_idle`] I/Os are deregistered, and when the table holds
//!   more than [`RegConfig::capacity`] entries the least recently used released entries go
//!   first. Entries in use are never collected.
//!
//! A buffer is identified by its address and length; its permissions are a property of the
//! entry. Buffers may overlap (a named buffer's page and a scatter-gather element inside it, two
//! lists sharing a page): [`HostMemory`] merges registered regions, so the cache counts, for
//! every byte, how many live entries cover it, and unregisters only bytes whose count falls to
//! zero. Memory the driver registers directly (the rings) must not overlap cache entries.
//!
//! The I/O clock advances by one on every [`RegCache::acquire`].

use buflet_platform::HostMemory;
use std::collections::{BTreeMap, BTreeSet};

/// Access permissions of a registration (what the device may do with the buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Perms(u8);

impl Perms {
    /// No access.
    pub const NONE: Perms = Perms(0);
    /// The device reads the buffer (a scatter-gather list, a page list, data on its way to disk).
    pub const READ: Perms = Perms(1);
    /// The device writes the buffer (received data, data read from disk).
    pub const WRITE: Perms = Perms(2);
    /// Both.
    pub const RW: Perms = Perms(3);

    /// True when every permission of `other` is in `self`.
    pub fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }

    /// Permissions of `self` or `other`.
    pub fn union(self, other: Perms) -> Perms {
        Perms(self.0 | other.0)
    }
}

/// Bounds of the garbage collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RegConfig {
    /// A released entry unused for this many I/Os (acquires) is deregistered. 0 = an entry is
    /// collected by the first collection after its release.
    pub max_idle: u64,
    /// Entries kept at most; beyond it, released entries are collected least recently used
    /// first (entries in use are never collected, so the table may exceed it while they are).
    pub capacity: usize,
}

impl Default for RegConfig {
    fn default() -> Self {
        RegConfig {
            max_idle: 4096,
            capacity: 4096,
        }
    }
}

/// Counters of a registration cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RegStats {
    /// Lookups ([`RegCache::acquire`] calls that were accepted).
    pub lookups: u64,
    /// Lookups that found the buffer registered with the permissions asked for.
    pub hits: u64,
    /// Lookups that had to register (new buffer, or permissions widened).
    pub misses: u64,
    /// Registrations performed (system calls registering a buffer).
    pub registrations: u64,
    /// Deregistrations performed (explicit free, property change, collection).
    pub deregistrations: u64,
    /// Entries deregistered by garbage collection (idle or over capacity).
    pub collected: u64,
    /// Property changes (an explicit [`RegCache::set_perms`] or a widening acquire).
    pub perm_changes: u64,
    /// Entries freed explicitly ([`RegCache::free`]).
    pub freed: u64,
    /// Entries freed while still in use by an I/O (a caller bug: the device may stray).
    pub freed_in_use: u64,
}

impl RegStats {
    /// Hits per lookup, 0 when there was none.
    pub fn hit_rate(&self) -> f64 {
        if self.lookups == 0 {
            0.0
        } else {
            self.hits as f64 / self.lookups as f64
        }
    }
}

/// A request the cache refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegError {
    /// A buffer of zero bytes, or one whose end overflows the address space.
    #[error("buffer {addr:#x}+{len} is empty or wraps around")]
    BadRange {
        /// Start address.
        addr: u64,
        /// Length in bytes.
        len: u64,
    },
    /// The buffer is not in the table.
    #[error("buffer {addr:#x}+{len} is not registered")]
    NotRegistered {
        /// Start address.
        addr: u64,
        /// Length in bytes.
        len: u64,
    },
    /// The buffer is registered but no I/O uses it.
    #[error("buffer {addr:#x}+{len} is not in use")]
    NotInUse {
        /// Start address.
        addr: u64,
        /// Length in bytes.
        len: u64,
    },
    /// The operation needs the buffer idle, and an I/O uses it.
    #[error("buffer {addr:#x}+{len} is in use by {users} I/O(s)")]
    InUse {
        /// Start address.
        addr: u64,
        /// Length in bytes.
        len: u64,
        /// I/Os using it.
        users: u32,
    },
}

/// One registered buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegEntry {
    /// Start address.
    pub addr: u64,
    /// Length in bytes.
    pub len: u64,
    /// Permissions registered.
    pub perms: Perms,
    /// I/Os using it now (acquired and not released).
    pub users: u32,
    /// I/O clock at its last acquire or release.
    pub last_used: u64,
}

/// The lookup table of registered buffers (see the module documentation).
#[derive(Debug, Default)]
pub struct RegCache {
    cfg: RegConfig,
    /// (addr, len) -> entry.
    entries: BTreeMap<(u64, u64), RegEntry>,
    /// Disjoint byte segments covered by live entries: start -> (end, entries covering it).
    cover: BTreeMap<u64, (u64, u32)>,
    /// Released entries (no user), least recently used first: (last_used, key). Collection
    /// takes from its front, so it costs what it collects, not the size of the table.
    idle: BTreeSet<(u64, (u64, u64))>,
    clock: u64,
    stats: RegStats,
    /// Bumped whenever `cover` changes (see [`RegCache::cover_version`]).
    cover_version: u64,
}

fn range(addr: u64, len: u64) -> Result<u64, RegError> {
    match addr.checked_add(len) {
        Some(end) if len > 0 => Ok(end),
        _ => Err(RegError::BadRange { addr, len }),
    }
}

impl RegCache {
    /// An empty cache with the given bounds.
    pub fn new(cfg: RegConfig) -> Self {
        RegCache {
            cfg,
            ..RegCache::default()
        }
    }

    /// The collection bounds.
    pub fn config(&self) -> RegConfig {
        self.cfg
    }

    /// Change the collection bounds (applied by the next collection).
    pub fn set_config(&mut self, cfg: RegConfig) {
        self.cfg = cfg;
    }

    /// The counters.
    pub fn stats(&self) -> RegStats {
        self.stats
    }

    /// The I/O clock (acquires so far).
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries some I/O uses now.
    pub fn in_use(&self) -> usize {
        self.entries.values().filter(|e| e.users > 0).count()
    }

    /// The entry of buffer `[addr, addr+len)`, if registered.
    pub fn entry(&self, addr: u64, len: u64) -> Option<RegEntry> {
        self.entries.get(&(addr, len)).copied()
    }

    /// Every entry, by address.
    pub fn entries(&self) -> impl Iterator<Item = &RegEntry> {
        self.entries.values()
    }

    /// Bytes covered by at least one entry.
    pub fn covered_bytes(&self) -> u64 {
        self.cover.iter().map(|(s, (e, _))| e - s).sum()
    }

    /// A number that changes whenever the covered bytes may have changed: while it stays the
    /// same, [`RegCache::runs`] does too (a hit or a release changes nothing covered), so a
    /// mirror of the runs (the driver's protection table) need not be recomputed.
    pub fn cover_version(&self) -> u64 {
        self.cover_version
    }

    /// The covered bytes as maximal runs `(start, end)`, ascending: adjacent cover segments
    /// merged. These are what the driver mirrors into the device's protection table.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (&s, &(e, _)) in &self.cover {
            match out.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => out.push((s, e)),
            }
        }
        out
    }

    /// Lookup-or-register buffer `[addr, addr+len)` for an I/O that needs `perms`, and mark it
    /// in use until [`RegCache::release`]. Returns true on a hit (already registered with those
    /// permissions). An entry registered with fewer permissions is deregistered and registered
    /// anew with the union (a property change, counted as a miss). Afterwards, collects stale
    /// entries.
    pub fn acquire(
        &mut self,
        mem: &mut HostMemory,
        addr: u64,
        len: u64,
        perms: Perms,
    ) -> Result<bool, RegError> {
        let end = range(addr, len)?;
        self.clock += 1;
        self.stats.lookups += 1;
        let clock = self.clock;
        if let Some(e) = self.entries.get(&(addr, len)) {
            if e.users == 0 {
                self.idle.remove(&(e.last_used, (addr, len)));
            }
        }
        let hit = match self.entries.get_mut(&(addr, len)) {
            Some(e) if e.perms.contains(perms) => {
                e.users += 1;
                e.last_used = clock;
                true
            }
            Some(e) => {
                e.users += 1;
                e.last_used = clock;
                e.perms = e.perms.union(perms);
                self.reregister(mem, addr, end);
                false
            }
            None => {
                self.entries.insert(
                    (addr, len),
                    RegEntry {
                        addr,
                        len,
                        perms,
                        users: 1,
                        last_used: clock,
                    },
                );
                self.cover_add(mem, addr, end);
                self.stats.registrations += 1;
                false
            }
        };
        if hit {
            self.stats.hits += 1;
        } else {
            self.stats.misses += 1;
        }
        self.collect(mem);
        Ok(hit)
    }

    /// The I/O that acquired `[addr, addr+len)` finished. The buffer stays registered.
    pub fn release(&mut self, addr: u64, len: u64) -> Result<(), RegError> {
        let clock = self.clock;
        let e = self
            .entries
            .get_mut(&(addr, len))
            .ok_or(RegError::NotRegistered { addr, len })?;
        if e.users == 0 {
            return Err(RegError::NotInUse { addr, len });
        }
        e.users -= 1;
        e.last_used = clock;
        if e.users == 0 {
            self.idle.insert((clock, (addr, len)));
        }
        Ok(())
    }

    /// Explicit free: deregister every entry that overlaps `[addr, addr+len)` (the memory is
    /// going back to the allocator), in use or not; entries still in use are counted in
    /// [`RegStats::freed_in_use`]. Returns how many entries were deregistered (0 when none was
    /// registered: nothing to do).
    pub fn free(&mut self, mem: &mut HostMemory, addr: u64, len: u64) -> Result<usize, RegError> {
        let end = range(addr, len)?;
        let keys: Vec<(u64, u64)> = self
            .entries
            .range(..(end, 0))
            .filter(|(&(a, l), _)| a + l > addr)
            .map(|(&k, _)| k)
            .collect();
        for &k in &keys {
            if let Some(e) = self.entries.remove(&k) {
                if e.users > 0 {
                    self.stats.freed_in_use += 1;
                } else {
                    self.idle.remove(&(e.last_used, k));
                }
                self.cover_sub(mem, e.addr, e.addr + e.len);
                self.stats.deregistrations += 1;
                self.stats.freed += 1;
            }
        }
        Ok(keys.len())
    }

    /// Property change: buffer `[addr, addr+len)` now has permissions `perms`. A registered,
    /// idle entry is deregistered and registered anew with them (returns true); an unregistered
    /// buffer is left alone (false: the next acquire registers it). Refused while in use.
    pub fn set_perms(
        &mut self,
        mem: &mut HostMemory,
        addr: u64,
        len: u64,
        perms: Perms,
    ) -> Result<bool, RegError> {
        let end = range(addr, len)?;
        let Some(e) = self.entries.get_mut(&(addr, len)) else {
            return Ok(false);
        };
        if e.users > 0 {
            return Err(RegError::InUse {
                addr,
                len,
                users: e.users,
            });
        }
        e.perms = perms;
        self.reregister(mem, addr, end);
        Ok(true)
    }

    /// Garbage collection: deregister released entries idle for [`RegConfig::max_idle`] I/Os
    /// or more, then, while over [`RegConfig::capacity`], released entries least recently used
    /// first. Returns how many entries were collected.
    pub fn collect(&mut self, mem: &mut HostMemory) -> usize {
        let mut n = 0;
        while let Some(&(last_used, k)) = self.idle.first() {
            let stale = self.clock - last_used >= self.cfg.max_idle;
            if !stale && self.entries.len() <= self.cfg.capacity {
                break;
            }
            self.idle.pop_first();
            if let Some(e) = self.entries.remove(&k) {
                self.cover_sub(mem, e.addr, e.addr + e.len);
                self.stats.deregistrations += 1;
                self.stats.collected += 1;
                n += 1;
            }
        }
        n
    }

    /// Property change of the entry over `[addr, end)`: deregister it and register it anew.
    fn reregister(&mut self, mem: &mut HostMemory, addr: u64, end: u64) {
        self.stats.perm_changes += 1;
        self.cover_sub(mem, addr, end);
        self.stats.deregistrations += 1;
        self.cover_add(mem, addr, end);
        self.stats.registrations += 1;
    }

    /// Split the cover segment that strictly contains `at`, if any.
    fn split(&mut self, at: u64) {
        if let Some((&s, &(e, c))) = self.cover.range(..at).next_back() {
            if s < at && at < e {
                self.cover.insert(s, (at, c));
                self.cover.insert(at, (e, c));
            }
        }
    }

    /// One more entry covers `[s, e)`: bytes covered for the first time are registered.
    fn cover_add(&mut self, mem: &mut HostMemory, s: u64, e: u64) {
        self.cover_version += 1;
        self.split(s);
        self.split(e);
        let mut pos = s;
        let inside: Vec<(u64, u64)> = self.cover.range(s..e).map(|(&a, &(b, _))| (a, b)).collect();
        for (a, b) in inside {
            if pos < a {
                self.cover.insert(pos, (a, 1));
                mem.register(pos, a - pos);
            }
            if let Some(seg) = self.cover.get_mut(&a) {
                seg.1 += 1;
            }
            pos = b;
        }
        if pos < e {
            self.cover.insert(pos, (e, 1));
            mem.register(pos, e - pos);
        }
    }

    /// One entry less covers `[s, e)`: bytes no entry covers any more are unregistered.
    fn cover_sub(&mut self, mem: &mut HostMemory, s: u64, e: u64) {
        self.cover_version += 1;
        self.split(s);
        self.split(e);
        let inside: Vec<u64> = self.cover.range(s..e).map(|(&a, _)| a).collect();
        for a in inside {
            let Some(seg) = self.cover.get_mut(&a) else {
                continue;
            };
            seg.1 = seg.1.saturating_sub(1);
            if seg.1 == 0 {
                let b = seg.0;
                self.cover.remove(&a);
                mem.unregister(a, b - a);
            }
        }
    }
}

/// Fit ascending, disjoint runs `(start, end)` into at most `slots` runs: while there are too
/// many, the two neighbours with the smallest gap between them are merged into one run, which
/// then also covers (grants the device access to) the gap. Ties merge the lowest pair.
/// `slots == 0` gives no run.
pub fn fit_runs(runs: &[(u64, u64)], slots: usize) -> Vec<(u64, u64)> {
    if slots == 0 {
        return Vec::new();
    }
    let mut out = runs.to_vec();
    while out.len() > slots {
        let Some(i) = (0..out.len() - 1).min_by_key(|&i| out[i + 1].0 - out[i].1) else {
            break;
        };
        out[i].1 = out[i + 1].1;
        out.remove(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(max_idle: u64, capacity: usize) -> (RegCache, HostMemory) {
        (
            RegCache::new(RegConfig { max_idle, capacity }),
            HostMemory::new(1 << 20),
        )
    }

    #[test]
    fn hit_after_release_and_free_deregisters() {
        let (mut c, mut m) = cache(100, 100);
        let v0 = c.cover_version();
        assert_eq!(c.acquire(&mut m, 0x1000, 4096, Perms::READ), Ok(false));
        assert!(m.is_registered(0x1000, 4096));
        let v1 = c.cover_version();
        assert_ne!(v1, v0, "a miss covers new bytes");
        c.release(0x1000, 4096).unwrap();
        assert!(m.is_registered(0x1000, 4096), "stays registered");
        assert_eq!(c.acquire(&mut m, 0x1000, 4096, Perms::READ), Ok(true));
        c.release(0x1000, 4096).unwrap();
        assert_eq!(
            c.cover_version(),
            v1,
            "a hit and releases cover nothing new"
        );
        assert_eq!(
            c.release(0x1000, 4096),
            Err(RegError::NotInUse {
                addr: 0x1000,
                len: 4096
            })
        );
        assert_eq!(c.free(&mut m, 0x1000, 4096), Ok(1));
        assert!(!m.is_registered(0x1000, 1));
        assert_ne!(c.cover_version(), v1, "a free uncovers bytes");
        assert_eq!(c.free(&mut m, 0x1000, 4096), Ok(0));
        let s = c.stats();
        assert_eq!(
            (
                s.lookups,
                s.hits,
                s.misses,
                s.registrations,
                s.deregistrations
            ),
            (2, 1, 1, 1, 1)
        );
        assert_eq!(s.hit_rate(), 0.5);
        assert!(c.is_empty());
        assert_eq!(
            c.acquire(&mut m, 5, 0, Perms::READ),
            Err(RegError::BadRange { addr: 5, len: 0 })
        );
        assert!(c.acquire(&mut m, u64::MAX, 2, Perms::READ).is_err());
    }

    #[test]
    fn permissions_change_re_registers() {
        let (mut c, mut m) = cache(100, 100);
        c.acquire(&mut m, 0x2000, 4096, Perms::WRITE).unwrap();
        // Widening while in use: deregistered and registered anew with the union.
        assert_eq!(c.acquire(&mut m, 0x2000, 4096, Perms::READ), Ok(false));
        assert_eq!(c.entry(0x2000, 4096).unwrap().perms, Perms::RW);
        assert_eq!(c.entry(0x2000, 4096).unwrap().users, 2);
        assert_eq!(c.acquire(&mut m, 0x2000, 4096, Perms::READ), Ok(true));
        assert!(matches!(
            c.set_perms(&mut m, 0x2000, 4096, Perms::READ),
            Err(RegError::InUse { users: 3, .. })
        ));
        for _ in 0..3 {
            c.release(0x2000, 4096).unwrap();
        }
        assert_eq!(c.set_perms(&mut m, 0x2000, 4096, Perms::READ), Ok(true));
        assert_eq!(c.entry(0x2000, 4096).unwrap().perms, Perms::READ);
        assert!(m.is_registered(0x2000, 4096));
        assert_eq!(c.set_perms(&mut m, 0x9000, 4096, Perms::READ), Ok(false));
        let s = c.stats();
        assert_eq!(
            (s.perm_changes, s.registrations, s.deregistrations),
            (2, 3, 2)
        );
    }

    #[test]
    fn overlapping_entries_keep_shared_bytes_registered() {
        let (mut c, mut m) = cache(100, 100);
        // A page, a piece inside it, and a neighbour overlapping its end.
        c.acquire(&mut m, 0x4000, 4096, Perms::RW).unwrap();
        c.acquire(&mut m, 0x4100, 256, Perms::READ).unwrap();
        c.acquire(&mut m, 0x4f00, 4096, Perms::READ).unwrap();
        assert_eq!(c.covered_bytes(), 4096 + 4096 - 256);
        assert_eq!(
            c.free(&mut m, 0x4000, 1),
            Ok(1),
            "only the page starts there"
        );
        assert!(m.is_registered(0x4100, 256), "the piece keeps its bytes");
        assert!(!m.is_registered(0x4000, 1) && !m.is_registered(0x4200, 1));
        assert!(
            m.is_registered(0x4f00, 4096),
            "the neighbour keeps its bytes"
        );
        c.release(0x4f00, 4096).unwrap();
        assert_eq!(c.free(&mut m, 0x4f00, 4096), Ok(1));
        assert!(!m.is_registered(0x4f00, 1) && !m.is_registered(0x5000, 1));
        assert!(m.is_registered(0x4100, 256));
        assert_eq!(c.stats().freed_in_use, 1);
        c.release(0x4100, 256).unwrap();
        c.free(&mut m, 0, 1 << 20).unwrap();
        assert_eq!(c.covered_bytes(), 0);
        assert!(!m.is_registered(0x4100, 1));
    }

    #[test]
    fn same_bytes_twice_counted() {
        let (mut c, mut m) = cache(0, 100);
        c.acquire(&mut m, 0x8000, 8192, Perms::READ).unwrap();
        c.acquire(&mut m, 0x9000, 4096, Perms::READ).unwrap();
        c.release(0x8000, 8192).unwrap();
        // max_idle 0: the next collection takes the released entry; its bytes shared with the
        // busy one stay.
        assert_eq!(c.collect(&mut m), 1);
        assert!(!m.is_registered(0x8000, 1));
        assert!(m.is_registered(0x9000, 4096));
        assert_eq!(c.stats().collected, 1);
    }

    #[test]
    fn idle_entries_collected_in_use_never() {
        let (mut c, mut m) = cache(3, 100);
        c.acquire(&mut m, 0x10000, 4096, Perms::READ).unwrap(); // clock 1
        c.acquire(&mut m, 0x20000, 4096, Perms::READ).unwrap(); // clock 2, kept in use
        c.release(0x10000, 4096).unwrap(); // stamped 2
        c.acquire(&mut m, 0x30000, 64, Perms::READ).unwrap(); // clock 3
        c.release(0x30000, 64).unwrap();
        c.acquire(&mut m, 0x30000, 64, Perms::READ).unwrap(); // clock 4: idle 2
        assert!(c.entry(0x10000, 4096).is_some());
        c.release(0x30000, 64).unwrap();
        c.acquire(&mut m, 0x30000, 64, Perms::READ).unwrap(); // clock 5: idle 3 -> collected
        assert!(c.entry(0x10000, 4096).is_none());
        assert!(!m.is_registered(0x10000, 1));
        for _ in 0..20 {
            c.release(0x30000, 64).unwrap();
            c.acquire(&mut m, 0x30000, 64, Perms::READ).unwrap();
        }
        assert!(c.entry(0x20000, 4096).is_some(), "in use: never collected");
        assert!(m.is_registered(0x20000, 4096));
        assert_eq!(c.stats().collected, 1);
    }

    #[test]
    fn capacity_collects_least_recently_used() {
        let (mut c, mut m) = cache(1000, 3);
        for k in 1..=3u64 {
            c.acquire(&mut m, k << 16, 4096, Perms::READ).unwrap();
        }
        // Only 2 is released when a 4th entry comes: it goes.
        c.release(2 << 16, 4096).unwrap();
        c.acquire(&mut m, 9 << 16, 4096, Perms::READ).unwrap(); // clock 4, stays busy
        assert!(c.entry(2 << 16, 4096).is_none(), "over capacity: LRU went");
        assert!(!m.is_registered(2 << 16, 1));
        c.release(1 << 16, 4096).unwrap(); // stamped 4
        assert_eq!(c.acquire(&mut m, 3 << 16, 4096, Perms::READ), Ok(true)); // clock 5
        c.release(3 << 16, 4096).unwrap();
        c.release(3 << 16, 4096).unwrap(); // stamped 5
        c.acquire(&mut m, 10 << 16, 4096, Perms::READ).unwrap(); // 1 is older than 3
        assert!(c.entry(1 << 16, 4096).is_none());
        assert!(c.entry(3 << 16, 4096).is_some());
        assert_eq!(c.len(), 3);
        // Everything in use: the table exceeds its capacity rather than collect a busy entry.
        c.acquire(&mut m, 3 << 16, 4096, Perms::READ).unwrap();
        c.acquire(&mut m, 11 << 16, 4096, Perms::READ).unwrap();
        assert_eq!(c.len(), 4);
        assert_eq!(c.in_use(), 4);
        assert_eq!(c.stats().collected, 2);
    }

    #[test]
    fn runs_merge_adjacent_segments_and_fit_merges_smallest_gap() {
        let (mut c, mut m) = cache(100, 100);
        let a = m.alloc(3 * 4096, 4096).unwrap();
        // Two adjacent buffers and an overlapping one form one run; a separate buffer another.
        c.acquire(&mut m, a, 4096, Perms::READ).unwrap();
        c.acquire(&mut m, a + 4096, 4096, Perms::WRITE).unwrap();
        c.acquire(&mut m, a + 2048, 4096, Perms::READ).unwrap();
        c.acquire(&mut m, a + 3 * 4096 - 100, 50, Perms::READ)
            .unwrap();
        assert_eq!(
            c.runs(),
            vec![(a, a + 2 * 4096), (a + 3 * 4096 - 100, a + 3 * 4096 - 50)]
        );
        let r = [(0, 10), (20, 30), (35, 40), (100, 110)];
        assert_eq!(fit_runs(&r, 4), r.to_vec());
        assert_eq!(fit_runs(&r, 3), vec![(0, 10), (20, 40), (100, 110)]);
        assert_eq!(fit_runs(&r, 2), vec![(0, 40), (100, 110)]);
        assert_eq!(fit_runs(&r, 1), vec![(0, 110)]);
        assert_eq!(fit_runs(&r, 0), vec![]);
    }

    /// The idle index against the definition: after any sequence of acquires, releases,
    /// frees and collections, the table holds exactly what a full scan (every released entry
    /// idle for max_idle or more, then the least recently used while over capacity) leaves.
    mod collect_oracle {
        use super::*;
        use proptest::prelude::*;

        /// The reference: the collection as a scan of the whole table.
        fn scan(entries: &mut BTreeMap<(u64, u64), (u32, u64)>, clock: u64, cfg: RegConfig) {
            let mut victims: Vec<(u64, u64)> = entries
                .iter()
                .filter(|(_, &(users, last))| users == 0 && clock - last >= cfg.max_idle)
                .map(|(&k, _)| k)
                .collect();
            let left = entries.len() - victims.len();
            if left > cfg.capacity {
                let mut idle: Vec<(u64, (u64, u64))> = entries
                    .iter()
                    .filter(|(_, &(users, last))| users == 0 && clock - last < cfg.max_idle)
                    .map(|(&k, &(_, last))| (last, k))
                    .collect();
                idle.sort_unstable();
                victims.extend(idle.into_iter().take(left - cfg.capacity).map(|(_, k)| k));
            }
            for k in victims {
                entries.remove(&k);
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            #[test]
            fn same_entries_as_a_full_scan(
                max_idle in 0u64..12,
                capacity in 0usize..6,
                ops in proptest::collection::vec((0u8..4, 0u64..10), 1..200),
            ) {
                let cfg = RegConfig { max_idle, capacity };
                let (mut c, mut m) = cache(max_idle, capacity);
                let mut r: BTreeMap<(u64, u64), (u32, u64)> = BTreeMap::new();
                let mut clock = 0u64;
                for (op, b) in ops {
                    let key = ((b + 1) << 16, 4096);
                    match op {
                        0 | 1 => {
                            c.acquire(&mut m, key.0, key.1, Perms::READ).unwrap();
                            clock += 1;
                            let e = r.entry(key).or_insert((0, clock));
                            e.0 += 1;
                            e.1 = clock;
                            scan(&mut r, clock, cfg);
                        }
                        2 => {
                            let ok = c.release(key.0, key.1).is_ok();
                            let want = r.get(&key).is_some_and(|e| e.0 > 0);
                            prop_assert_eq!(ok, want);
                            if let Some(e) = r.get_mut(&key).filter(|e| e.0 > 0) {
                                e.0 -= 1;
                                e.1 = clock;
                            }
                        }
                        _ => {
                            if b % 2 == 0 {
                                c.free(&mut m, key.0, key.1).unwrap();
                                r.remove(&key);
                            } else {
                                c.collect(&mut m);
                                scan(&mut r, clock, cfg);
                            }
                        }
                    }
                    let got: Vec<((u64, u64), (u32, u64))> = c
                        .entries()
                        .map(|e| ((e.addr, e.len), (e.users, e.last_used)))
                        .collect();
                    let want: Vec<((u64, u64), (u32, u64))> =
                        r.iter().map(|(&k, &v)| (k, v)).collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}
