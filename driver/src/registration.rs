//! The registration cache (seed 004) as the driver uses it: buffers acquired for a posted
//! request and released by its completion, and the pool of retired I/O buffers.

use crate::*;

impl Driver {
    /// The registration cache (entries and counters: hits, misses, registrations,
    /// deregistrations, collected).
    pub fn regcache(&self) -> &RegCache {
        &self.regs
    }

    /// The registration cache's counters.
    pub fn reg_stats(&self) -> RegStats {
        self.regs.stats()
    }

    /// Change the registration cache's collection bounds.
    pub fn set_reg_config(&mut self, cfg: RegConfig) {
        self.regs.set_config(cfg);
        self.regs.collect(&mut self.env.mem);
    }

    /// Lookup-or-register `[addr, addr+len)` for an I/O needing `perms` (see
    /// [`RegCache::acquire`]); true on a hit. Pair with [`Driver::reg_release`].
    pub fn reg_acquire(&mut self, addr: u64, len: u64, perms: Perms) -> Result<bool, DriverError> {
        Ok(self.regs.acquire(&mut self.env.mem, addr, len, perms)?)
    }

    /// The I/O that acquired `[addr, addr+len)` finished; the buffer stays registered.
    pub fn reg_release(&mut self, addr: u64, len: u64) -> Result<(), DriverError> {
        Ok(self.regs.release(addr, len)?)
    }

    /// Property change of `[addr, addr+len)`: deregistered and registered anew with `perms`
    /// if registered (true); refused while an I/O uses it.
    pub fn reg_set_perms(
        &mut self,
        addr: u64,
        len: u64,
        perms: Perms,
    ) -> Result<bool, DriverError> {
        Ok(self.regs.set_perms(&mut self.env.mem, addr, len, perms)?)
    }

    /// Explicit free: deregister every cache entry overlapping `[addr, addr+len)` and forget
    /// the completions that would have released them. Returns the entries deregistered.
    pub fn reg_free(&mut self, addr: u64, len: u64) -> usize {
        let Some(end) = addr.checked_add(len).filter(|_| len > 0) else {
            return 0;
        };
        for bufs in self.reg_held.values_mut() {
            bufs.retain(|&(a, l)| a >= end || a + l <= addr);
        }
        self.reg_held.retain(|_, b| !b.is_empty());
        self.regs.free(&mut self.env.mem, addr, len).unwrap_or(0)
    }

    /// Garbage-collect stale registrations now (see [`RegCache::collect`]).
    pub fn reg_collect(&mut self) -> usize {
        self.regs.collect(&mut self.env.mem)
    }

    /// Acquire `bufs` for the request tagged `tag`, released by its completion. On failure
    /// nothing stays acquired.
    pub(crate) fn hold(&mut self, tag: u32, bufs: &[(u64, u64, Perms)]) -> Result<(), DriverError> {
        let mut got = Vec::with_capacity(bufs.len());
        for &(a, l, p) in bufs {
            if let Err(e) = self.regs.acquire(&mut self.env.mem, a, l, p) {
                self.release_bufs(got);
                return Err(e.into());
            }
            got.push((a, l));
        }
        if let Some(old) = self.reg_held.insert(tag, got) {
            // A tag reused before its completion came (wrapped around): drop the old hold.
            self.release_bufs(old);
        }
        Ok(())
    }

    /// Submit a request whose buffers [`Driver::hold`] acquired; they are released if the
    /// request cannot be queued.
    pub(crate) fn submit_held(&mut self, tag: u32, entry: &[u8; 64]) -> Result<(), DriverError> {
        let r = self.submit(entry);
        if r.is_err() {
            self.release_tag(tag);
        }
        r
    }

    /// A completion ends the request it answers: release the buffers held for it.
    pub(crate) fn release_held(&mut self, c: &Completion) {
        if matches!(
            c.kind,
            CplKind::NbReturn | CplKind::AnonRx | CplKind::CmdDone
        ) {
            self.release_tag(c.tag);
        }
        // A refused TX_POST never joined the socket's send queue.
        if c.kind == CplKind::CmdDone && c.opcode == Opcode::TxPost.code() {
            if let Some(p) = self.take_post(c.sock_ref, c.tag) {
                self.tx_posted_done(p);
            }
        }
        // A TX_DONE covers the socket's first COUNT posts.
        if c.kind == CplKind::TxDone {
            let q = self.tx_tags.entry(c.sock_ref).or_default();
            let n = (c.ref_num as usize).min(q.len());
            let done: Vec<_> = q.drain(..n).collect();
            for p in done {
                self.release_tag(p.tag);
                self.tx_posted_done(p);
            }
        }
    }

    /// Release the buffers held for the request tagged `tag`, if any.
    pub(crate) fn release_tag(&mut self, tag: u32) {
        if let Some(bufs) = self.reg_held.remove(&tag) {
            self.release_bufs(bufs);
        }
    }

    /// Release acquired buffers `(addr, len)` (entries freed meanwhile are skipped).
    pub(crate) fn release_bufs(&mut self, bufs: Vec<(u64, u64)>) {
        for (a, l) in bufs {
            let _ = self.regs.release(a, l);
        }
    }

    /// An I/O buffer of `len` bytes aligned to `align`: a retired one of the same size and
    /// alignment if the pool has one (it may still be registered: acquire it through the
    /// cache, normally a hit), else fresh memory. Give it back with [`Driver::io_buf_free`].
    pub fn io_buf_alloc(&mut self, len: u64, align: u64) -> Result<u64, DriverError> {
        if let Some(a) = self.io_pool.get_mut(&(len, align)).and_then(|v| v.pop()) {
            self.io_pool_bytes -= len;
            return Ok(a);
        }
        Ok(self.env.mem.alloc(len, align)?)
    }

    /// Retire an I/O buffer from [`Driver::io_buf_alloc`] (no I/O may use it any more). It is
    /// kept for reuse, registration included, while the pool holds less than
    /// [`IO_POOL_BYTES`]; otherwise it is deregistered and its memory freed.
    pub fn io_buf_free(&mut self, addr: u64, len: u64, align: u64) {
        if self.io_pool_bytes + len <= IO_POOL_BYTES {
            self.io_pool.entry((len, align)).or_default().push(addr);
            self.io_pool_bytes += len;
        } else {
            self.reg_free(addr, len);
            self.env.mem.free(addr);
        }
    }
}
