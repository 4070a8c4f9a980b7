//! Named buffers (page lists, posts, reads, hold records of p2p sockets, `BUF_RELEASE`) and
//! anonymous buffers.

use crate::*;

/// `BUF_WIN_STATUS` bit 0: the window copy is not finished.
const WIN_BUSY: u32 = 1;
/// `BUF_WIN_STATUS` bit 1: the last `BUF_WIN_ADDR` write was refused.
const WIN_BAD: u32 = 2;

/// A named buffer the driver owns: its host pages and page list.
#[derive(Debug, Clone)]
pub struct NamedBuffer {
    /// Reference number (NB table slot).
    pub ref_num: u32,
    /// Host page addresses, in order.
    pub pages: Vec<u64>,
    /// Address of the page list (host memory descriptor).
    pub hmd_addr: u64,
    /// Capacity in bytes.
    pub bytes: u32,
}

/// An anonymous buffer the driver owns: one contiguous, registered host region that the NIC
/// fills with a frame matching no socket (`ANON_POST`, completion `ANON_RX`).
#[derive(Debug, Clone)]
pub struct AnonBuffer {
    /// Reference number (anonymous buffer slot, `< NUM_ANON`).
    pub ref_num: u32,
    /// Host address of the buffer.
    pub addr: u64,
    /// Capacity in bytes (`ANON_MIN_LEN..=ANON_MAX_LEN`).
    pub len: u32,
}

impl Driver {
    /// Allocate a named buffer of `pages` host pages (each page allocated separately, so the
    /// buffer is scattered in host memory) and its page list, and keep it ready for posting.
    /// Its pages and page list are registered by [`Driver::post_nb`], through the registration
    /// cache, and stay registered across posts until [`Driver::free_nb`].
    pub fn alloc_nb(&mut self, pages: usize) -> Result<NamedBuffer, DriverError> {
        let ref_num = self
            .nb_free
            .pop()
            .ok_or(DriverError::NoSlot("named buffer"))?;
        let page = self.info.page_bytes as u64;
        let mut addrs = Vec::with_capacity(pages);
        for _ in 0..pages {
            let a = self.env.mem.alloc(page, page)?;
            addrs.push(a);
        }
        let hmd_addr = self.env.mem.alloc(8 * pages as u64, 64)?;
        let list: Vec<u8> = addrs.iter().flat_map(|a| a.to_le_bytes()).collect();
        self.env.mem.write(Agent::Cpu, hmd_addr, &list)?;
        Ok(NamedBuffer {
            ref_num,
            pages: addrs,
            hmd_addr,
            bytes: (pages as u64 * page) as u32,
        })
    }

    /// Designate a named buffer to a socket (OP_NB_POST). Its completion is its later return.
    /// `timeout` is the number of timer ticks (see [`Driver::set_timer_period`],
    /// [`Driver::timer_kick`]) the buffer may spend at the head of the socket's list before it
    /// is returned with flag TIMEOUT, however full; 0 = never.
    ///
    /// The buffer's pages (read and write: the NIC fills them, the block engine may read them
    /// on their way to disk) and page list (read) are looked up in the registration cache and
    /// registered on a miss; its completion (`NB_RETURN`, or a `CMD_DONE` error) releases them.
    pub fn post_nb(
        &mut self,
        sock: u16,
        nb: &NamedBuffer,
        timeout: u32,
    ) -> Result<u32, DriverError> {
        let tag = self.tag();
        let page = self.info.page_bytes as u64;
        let mut bufs: Vec<(u64, u64, Perms)> =
            nb.pages.iter().map(|&a| (a, page, Perms::RW)).collect();
        bufs.push((nb.hmd_addr, 8 * nb.pages.len() as u64, Perms::READ));
        self.hold(tag, &bufs)?;
        let e = NbDesc {
            opcode: Opcode::NbPost,
            sock_ref: sock,
            tag,
            ref_num: nb.ref_num,
            timeout,
            total_bytes: nb.bytes,
            next_nb: spec::NULL16,
            prev_nb: spec::NULL16,
            hmd_addr: nb.hmd_addr,
            hmd_pages: nb.pages.len() as u32,
            ..Default::default()
        }
        .to_bytes();
        self.submit_held(tag, &e)?;
        Ok(tag)
    }

    /// Read `len` bytes from the start of a named buffer (as the NIC filled it; `len` is
    /// normally the `bytes` of its `NB_RETURN`). For a UDP datagram the first `hdr_bytes` of
    /// them are the UDP header.
    pub fn read_nb(&mut self, nb: &NamedBuffer, len: usize) -> Result<Vec<u8>, DriverError> {
        let page = self.info.page_bytes.max(1) as usize;
        let len = len.min(nb.pages.len() * page);
        let mut out = Vec::with_capacity(len);
        for (i, at) in (0..len).step_by(page).enumerate() {
            let n = page.min(len - at);
            self.env
                .mem
                .read_append(Agent::Cpu, nb.pages[i], n, &mut out)?;
        }
        Ok(out)
    }

    /// Read `out.len()` bytes of buflet memory from device byte address `addr` with the CPU,
    /// through the window (docs/p2p.md "The CPU's window"): one `BUF_WIN_ADDR` write per
    /// `WIN_BYTES`-aligned window, `BUF_WIN_STATUS` polls until it is copied, and one MMIO read
    /// per data register needed. No byte crosses host DRAM. Only exposed buflets can be read:
    /// [`DriverError::WindowRefused`] otherwise; [`DriverError::Timeout`] if a copy never ends.
    pub fn dev_read(&mut self, addr: u64, out: &mut [u8]) -> Result<(), DriverError> {
        const W: u64 = spec::param::WIN_BYTES;
        let end = addr
            .checked_add(out.len() as u64)
            .ok_or(DriverError::Invalid("buflet-memory range overflows"))?;
        let mut pos = addr;
        while pos < end {
            let base = pos - pos % W;
            let a = u32::try_from(base).map_err(|_| DriverError::WindowRefused(base))?;
            let mut waited = 0u64;
            // Every copy is waited for, so the window is idle here and the write is taken (a
            // write while BUSY is ignored): checked once per call by reading the address back,
            // in case a copy that timed out earlier was still busy.
            self.wr(reg::BUF_WIN_ADDR, a);
            let mut st = self.rd(reg::BUF_WIN_STATUS);
            while st & WIN_BUSY != 0 {
                self.window_wait(&mut waited)?;
                st = self.rd(reg::BUF_WIN_STATUS);
            }
            if st & WIN_BAD != 0 || (pos == addr && self.rd(reg::BUF_WIN_ADDR) != a) {
                return Err(DriverError::WindowRefused(base));
            }
            let lo = pos - base;
            let hi = (end - base).min(W);
            for w in (lo / 4)..hi.div_ceil(4) {
                let v = self.rd(reg::BUF_WIN_DATA0 + 4 * w as u32).to_le_bytes();
                for (i, b) in v.iter().enumerate() {
                    let off = 4 * w + i as u64;
                    if (lo..hi).contains(&off) {
                        out[(base + off - addr) as usize] = *b;
                    }
                }
            }
            pos = base + hi;
        }
        Ok(())
    }

    /// One poll step of [`Driver::dev_read`], bounded.
    fn window_wait(&mut self, waited: &mut u64) -> Result<(), DriverError> {
        const STEP: u64 = 8;
        const LIMIT: u64 = 1_000_000;
        if *waited >= LIMIT {
            return Err(DriverError::Timeout(*waited, "the buflet-memory window"));
        }
        self.run(STEP);
        *waited += STEP;
        Ok(())
    }

    /// The hold records of a returned named buffer of a hold socket (docs/p2p.md): records from
    /// record 0 (at page-list position 8r) until their `LEN`s add up to `bytes` (the
    /// `NB_RETURN`'s `BYTES`). The CPU reads exactly `8 * records` bytes. Every record is
    /// checked (`LEN` >= 1, inside one buflet, a buflet of the device, no more records than the
    /// buffer holds, the sum exactly `bytes`): [`DriverError::BadRecord`] otherwise.
    pub fn read_hold_records(
        &mut self,
        nb: &NamedBuffer,
        bytes: u32,
    ) -> Result<Vec<HoldRec>, DriverError> {
        const R: usize = spec::hold_rec::SIZE;
        let page = self.info.page_bytes.max(1) as usize;
        let bb = self.info.buflet_bytes.max(1);
        let max_recs = nb.pages.len() * page / R;
        let bad = |index, why| DriverError::BadRecord {
            ref_num: nb.ref_num,
            index,
            why,
        };
        let mut out = Vec::new();
        let mut left = bytes as u64;
        while left > 0 {
            let r = out.len();
            if r >= max_recs {
                return Err(bad(r, "more records than the buffer holds"));
            }
            // Each record holds less than a buflet, so at least this many are still to come:
            // read them at once (within the page), never a byte past the last record.
            let at = r * R;
            let in_page = (page - at % page) / R;
            let n = (left.div_ceil(bb as u64) as usize).clamp(1, in_page.max(1));
            let mut buf = vec![0u8; n * R];
            self.env.mem.read(
                Agent::Cpu,
                nb.pages[at / page] + (at % page) as u64,
                &mut buf,
            )?;
            for (k, c) in buf.chunks_exact(R).enumerate() {
                let rec = HoldRec::parse(c)?;
                let i = r + k;
                if rec.len == 0 {
                    return Err(bad(i, "LEN is 0"));
                }
                if rec.off as u32 + rec.len as u32 > bb {
                    return Err(bad(i, "the chunk crosses the end of its buflet"));
                }
                if rec.buflet as u32 >= self.info.num_buflets
                    || rec
                        .held_head()
                        .is_some_and(|h| u32::from(h) >= self.info.num_buflets)
                {
                    return Err(bad(i, "a buflet the device does not have"));
                }
                if rec.len as u64 > left {
                    return Err(bad(i, "the LENs exceed the buffer's BYTES"));
                }
                left -= rec.len as u64;
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// Give held buflet chains back to the device (OP_BUF_RELEASE, docs/p2p.md): `heads` are
    /// hold-record `HEAD` values, 1..=`RELEASE_MAX` (24) of them ([`DriverError::Invalid`]
    /// otherwise). Returns the tag of the request's `CMD_DONE` (`OK` with `BYTES` = count, or
    /// `BAD_BUF` with `BYTES` = heads released before the first one that was not held).
    pub fn buf_release(&mut self, heads: &[u16]) -> Result<u32, DriverError> {
        if heads.is_empty() || heads.len() > spec::param::RELEASE_MAX as usize {
            return Err(DriverError::Invalid(
                "BUF_RELEASE takes 1..=RELEASE_MAX (24) heads",
            ));
        }
        let tag = self.tag();
        self.submit(&BufRelease::new(tag, heads, heads.len() as u16).to_bytes())?;
        Ok(tag)
    }

    /// Allocate one contiguous anonymous buffer of `len` bytes (`ANON_MIN_LEN..=ANON_MAX_LEN`,
    /// not checked here: the device refuses other lengths with `BAD_NB`) and reserve an
    /// anonymous slot for it. [`Driver::post_anon`] registers it through the registration cache.
    pub fn alloc_anon(&mut self, len: u32) -> Result<AnonBuffer, DriverError> {
        let ref_num = self
            .anon_free
            .pop()
            .ok_or(DriverError::NoSlot("anonymous buffer"))?;
        let addr = match self.env.mem.alloc(len.max(1) as u64, 64) {
            Ok(a) => a,
            Err(e) => {
                self.anon_free.push(ref_num);
                return Err(e.into());
            }
        };
        Ok(AnonBuffer { ref_num, addr, len })
    }

    /// Give an anonymous buffer to the NIC (OP_ANON_POST): it joins the tail of the anonymous
    /// list. No completion is posted now: the buffer comes back with an `ANON_RX` completion
    /// (tag returned here) when a frame that matches no socket (or an ARP frame the responder
    /// does not answer, or a non-IPv4 frame) has been written into it, or a `CMD_DONE` with
    /// `BAD_NB` if the slot is busy or the length is out of range.
    ///
    /// The buffer is looked up in the registration cache (registered on a miss, for writing)
    /// and released by its completion.
    pub fn post_anon(&mut self, a: &AnonBuffer) -> Result<u32, DriverError> {
        let tag = self.tag();
        self.hold(tag, &[(a.addr, a.len.max(1) as u64, Perms::WRITE)])?;
        let e = AnonDesc::post(tag, a.ref_num, a.len, a.addr).to_bytes();
        self.submit_held(tag, &e)?;
        Ok(tag)
    }

    /// The frame an `ANON_RX` completion reports: its first `c.bytes` bytes, from the
    /// Ethernet header on (truncated to the buffer when `c` has flag TRUNC).
    pub fn read_anon(&mut self, a: &AnonBuffer, c: &Completion) -> Result<Vec<u8>, DriverError> {
        let mut out = vec![0u8; (c.bytes.min(a.len)) as usize];
        self.env.mem.read(Agent::Cpu, a.addr, &mut out)?;
        Ok(out)
    }

    /// Give an anonymous buffer back: deregister it (explicit free of the registration cache),
    /// free its memory and make its slot available again. Only for a buffer the device does not
    /// hold (never posted, or returned).
    pub fn free_anon(&mut self, a: AnonBuffer) {
        self.reg_free(a.addr, a.len.max(1) as u64);
        self.env.mem.free(a.addr);
        if a.ref_num < self.info.num_anon && !self.anon_free.contains(&a.ref_num) {
            self.anon_free.push(a.ref_num);
        }
    }

    /// Give a named buffer back: deregister (explicit free of the registration cache) and free
    /// its host pages and page list, and make its reference number available again. Only for a
    /// buffer the device does not hold (never posted, or returned).
    pub fn free_nb(&mut self, nb: NamedBuffer) {
        let page = self.info.page_bytes as u64;
        for &a in &nb.pages {
            self.reg_free(a, page);
            self.env.mem.free(a);
        }
        self.reg_free(nb.hmd_addr, 8 * nb.pages.len().max(1) as u64);
        self.env.mem.free(nb.hmd_addr);
        if !self.nb_free.contains(&nb.ref_num) {
            self.nb_free.push(nb.ref_num);
        }
    }
}

impl Driver {
    /// Hand `len` bytes to socket `sock`'s send queue by reference (`TX_POST`,
    /// docs/tcp-transmit.md): the bytes start `first_off` bytes into the first page of `pages`
    /// (host page addresses, written as a page list at `hmd_addr`). The NIC reads them by DMA
    /// whenever it sends or resends them; the pages and the list stay registered, and the
    /// NIC's, until a `TX_DONE` covers the post. `psh` sets PSH on its last segment. Returns
    /// the post's tag.
    pub fn tx_post(
        &mut self,
        sock: u16,
        hmd_addr: u64,
        pages: &[u64],
        first_off: u16,
        len: u32,
        psh: bool,
    ) -> Result<u32, DriverError> {
        let tag = self.tag();
        let page = self.info.page_bytes as u64;
        let mut bufs: Vec<(u64, u64, Perms)> =
            pages.iter().map(|&a| (a, page, Perms::READ)).collect();
        bufs.push((hmd_addr, 8 * pages.len() as u64, Perms::READ));
        let mut list = Vec::with_capacity(8 * pages.len());
        for a in pages {
            list.extend_from_slice(&a.to_le_bytes());
        }
        self.env.mem.write(Agent::Cpu, hmd_addr, &list)?;
        self.hold(tag, &bufs)?;
        let e = spec::TxDesc {
            opcode: Opcode::TxPost,
            flags: if psh {
                spec::TxFlags::PSH
            } else {
                spec::TxFlags::empty()
            },
            sock_ref: sock,
            tag,
            len,
            first_off,
            hmd_addr,
            hmd_pages: pages.len() as u32,
            ..Default::default()
        }
        .to_bytes();
        // Seed 002: the pages join the copy-on-write table before the NIC may read them.
        let marked = pages.to_vec();
        for &p in &marked {
            self.cow_mark(p);
        }
        let post = crate::TxPosted {
            tag,
            marked,
            bounce: Vec::new(),
            list: None,
        };
        self.submit_post(sock, post, &e)
    }

    /// Queue `post` on socket `sock`'s list of posts and submit its `TX_POST` entry `e`; when
    /// the submission fails the post is over at once (its marks, bounce pages and list go).
    fn submit_post(
        &mut self,
        sock: u16,
        post: crate::TxPosted,
        e: &[u8; 64],
    ) -> Result<u32, DriverError> {
        let tag = post.tag;
        self.tx_tags.entry(sock).or_default().push_back(post);
        if let Err(err) = self.submit_held(tag, e) {
            if let Some(p) = self.take_post(sock, tag) {
                self.tx_posted_done(p);
            }
            return Err(err);
        }
        Ok(tag)
    }

    /// Take the post tagged `tag` off socket `sock`'s list, if it is there.
    pub(crate) fn take_post(&mut self, sock: u16, tag: u32) -> Option<crate::TxPosted> {
        let q = self.tx_tags.get_mut(&sock)?;
        let i = q.iter().position(|p| p.tag == tag)?;
        q.remove(i)
    }

    /// Send the application's bytes `[addr, addr+len)` on socket `sock` without copying them
    /// where it can (seed 002): every whole page inside the range is posted by reference and
    /// marked in the copy-on-write table until its `TX_DONE`; a partial first or last page is
    /// copied into a bounce page (a CPU copy, counted). One `TX_POST`; returns its tag.
    pub fn tx_send(
        &mut self,
        sock: u16,
        addr: u64,
        len: u32,
        psh: bool,
    ) -> Result<u32, DriverError> {
        if len == 0 {
            return Err(DriverError::Invalid("tx_send of 0 bytes"));
        }
        let page = self.info.page_bytes as u64;
        let (first, end) = (addr & !(page - 1), addr + u64::from(len));
        let mut pages = Vec::new();
        let mut bounce = Vec::new();
        let mut p = first;
        while p < end {
            let whole = p >= addr && p + page <= end;
            if whole {
                // The page's frame as the CPU sees it now (after a copy-on-write fault it is
                // the copy): what the NIC must read.
                pages.push(self.env.mem.cpu_phys(p));
            } else {
                // The bytes of this page that are ours go to the same offsets of a bounce page.
                let b = self.io_buf_alloc(page, page)?;
                let (lo, hi) = (addr.max(p), end.min(p + page));
                self.env
                    .mem
                    .cpu_copy(lo, b + (lo - p), (hi - lo) as usize)?;
                pages.push(b);
                bounce.push(b);
            }
            p += page;
        }
        let first_off = (addr - first) as u16;
        // The bounce pages are not the application's: they need no copy-on-write protection.
        let tag = match self.tx_post_pages(sock, &pages, first_off, len, psh) {
            Ok(t) => t,
            Err(e) => {
                for b in bounce {
                    self.io_buf_free(b, page, page);
                }
                return Err(e);
            }
        };
        if let Some(post) = self
            .tx_tags
            .get_mut(&sock)
            .and_then(|q| q.iter_mut().find(|p| p.tag == tag))
        {
            post.marked.retain(|p| !bounce.contains(p));
            post.bounce = bounce.clone();
        }
        for b in bounce {
            self.cow_unmark(b);
        }
        Ok(tag)
    }

    /// [`Driver::tx_post`] with the page list in a buffer of the driver's (freed with the
    /// post): `pages` are host page addresses the NIC reads by reference (each marked in the
    /// copy-on-write table until the post's `TX_DONE`). An application that writes its own
    /// pages hands their frames (`HostMemory::cpu_phys`). Returns the post's tag.
    pub fn tx_post_pages(
        &mut self,
        sock: u16,
        pages: &[u64],
        first_off: u16,
        len: u32,
        psh: bool,
    ) -> Result<u32, DriverError> {
        let lbytes = 8 * pages.len() as u64;
        let list = self.io_buf_alloc(lbytes, 64)?;
        let tag = match self.tx_post(sock, list, pages, first_off, len, psh) {
            Ok(t) => t,
            Err(e) => {
                self.io_buf_free(list, lbytes, 64);
                return Err(e);
            }
        };
        if let Some(post) = self
            .tx_tags
            .get_mut(&sock)
            .and_then(|q| q.iter_mut().find(|p| p.tag == tag))
        {
            post.list = Some((list, lbytes));
        }
        Ok(tag)
    }

    /// p2p reads (docs/p2p.md): hand `len` bytes held in host buflets to socket `sock`'s send
    /// queue (`TX_POST` with `DEVMEM`). `buflets` are buflet indices the host owns
    /// ([`Driver::set_host_buflets`]); the bytes start `first_off` bytes into the first. The
    /// page list (device addresses) is in a buffer of the driver's, freed with the post; no
    /// host page is marked (the bytes are not in host memory). Returns the post's tag.
    pub fn tx_post_dev(
        &mut self,
        sock: u16,
        buflets: &[u16],
        first_off: u16,
        len: u32,
        psh: bool,
    ) -> Result<u32, DriverError> {
        let bb = u64::from(self.info.buflet_bytes);
        let lbytes = 8 * buflets.len() as u64;
        let list = self.io_buf_alloc(lbytes.max(8), 64)?;
        let mut bytes = Vec::with_capacity(lbytes as usize);
        for &b in buflets {
            bytes.extend_from_slice(&(u64::from(b) * bb).to_le_bytes());
        }
        let tag = self.tag();
        let r = self
            .env
            .mem
            .write(Agent::Cpu, list, &bytes)
            .map_err(DriverError::from)
            .and_then(|()| self.hold(tag, &[(list, lbytes.max(8), Perms::READ)]));
        if let Err(e) = r {
            self.io_buf_free(list, lbytes.max(8), 64);
            return Err(e);
        }
        let mut flags = spec::TxFlags::DEVMEM;
        if psh {
            flags |= spec::TxFlags::PSH;
        }
        let e = spec::TxDesc {
            opcode: Opcode::TxPost,
            flags,
            sock_ref: sock,
            tag,
            len,
            first_off,
            hmd_addr: list,
            hmd_pages: buflets.len() as u32,
            ..Default::default()
        }
        .to_bytes();
        let post = crate::TxPosted {
            tag,
            marked: Vec::new(),
            bounce: Vec::new(),
            list: Some((list, lbytes.max(8))),
        };
        self.submit_post(sock, post, &e)
    }

    /// p2p reads (docs/p2p.md): give the host the top `n` buflets (`HOST_BUFLETS`). Returns
    /// their indices; refused when the device kept another value (more than half the pool, or
    /// frames have already landed in those buflets).
    pub fn set_host_buflets(&mut self, n: u32) -> Result<std::ops::Range<u16>, DriverError> {
        self.wr(spec::reg::HOST_BUFLETS, n);
        let got = self.rd(spec::reg::HOST_BUFLETS);
        if got != n {
            return Err(DriverError::Invalid(
                "HOST_BUFLETS refused: at most half the pool, set before frames use those buflets",
            ));
        }
        let num = self.info.num_buflets;
        let range = (num - n) as u16..num as u16;
        self.host_free = range.clone().rev().collect();
        self.host_n = n;
        Ok(range)
    }

    /// Host buflets set aside ([`Driver::set_host_buflets`]), in use or not.
    pub fn host_buflets(&self) -> u32 {
        self.host_n
    }

    /// `n` host buflets ([`Driver::set_host_buflets`]) for an application's p2p reads, lowest
    /// index first; `None` while fewer are free (they come back with
    /// [`Driver::give_host_buflets`]).
    pub fn take_host_buflets(&mut self, n: usize) -> Option<Vec<u16>> {
        if n > self.host_free.len() {
            return None;
        }
        let at = self.host_free.len() - n;
        let mut out = self.host_free.split_off(at);
        out.reverse();
        Some(out)
    }

    /// Host buflets back from an application (their posts and block reads are over).
    pub fn give_host_buflets(&mut self, buflets: impl IntoIterator<Item = u16>) {
        self.host_free.extend(buflets);
    }

    /// Host buflets no application holds now.
    pub fn host_buflets_free(&self) -> usize {
        self.host_free.len()
    }

    /// Seed 002's lookup: is any byte of `[addr, addr+len)` on a page the NIC still owns (in
    /// the copy-on-write table)? An application that asks before reusing a buffer takes no
    /// copy-on-write fault.
    pub fn is_marked(&self, addr: u64, len: u64) -> bool {
        let page = self.info.page_bytes as u64;
        let mut p = addr & !(page - 1);
        while p < addr + len.max(1) {
            if self.cow_table.contains_key(&self.env.mem.cpu_phys(p)) {
                return true;
            }
            p += page;
        }
        false
    }

    /// Pages in the copy-on-write table now, and at most so far.
    pub fn cow_table_len(&self) -> (usize, usize) {
        (self.cow_table.len(), self.cow_peak)
    }

    fn cow_mark(&mut self, page: u64) {
        *self.cow_table.entry(page).or_insert(0) += 1;
        self.cow_peak = self.cow_peak.max(self.cow_table.len());
        self.env.mem.cow_protect(page);
    }

    fn cow_unmark(&mut self, page: u64) {
        if let Some(n) = self.cow_table.get_mut(&page) {
            *n -= 1;
            if *n == 0 {
                self.cow_table.remove(&page);
            }
        }
        self.env.mem.cow_release(page);
    }

    /// A post is over (done, refused or returned): its pages leave the copy-on-write table and
    /// its bounce pages are freed.
    pub(crate) fn tx_posted_done(&mut self, p: crate::TxPosted) {
        let page = self.info.page_bytes as u64;
        for m in p.marked {
            self.cow_unmark(m);
        }
        for b in p.bounce {
            self.io_buf_free(b, page, page);
        }
        if let Some((list, len)) = p.list {
            self.io_buf_free(list, len, 64);
        }
    }
}
