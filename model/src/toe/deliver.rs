//! Delivery (rtl/toe_deliver.v, the data moved by rtl/toe_mover.v): one step for the socket at
//! the head of the ready list: a chunk of the head segment into the head NB (payload, or a
//! hold record for a hold socket), the removal of an empty FIN/RST segment, or an NB return;
//! the NB page list and its one-entry page cache; the NB return and its completion.

use buflet_platform::{Agent, HostEnv};
use buflet_spec::{hold_rec, reg, sock_flag, CplFlags, CplKind, HoldRec, Status};

use super::{Nb, PageGroup, Seg, PAGE, PG_GROUP, UDP_HDR};
use crate::parse::tcp_flag;
use crate::{costs, dma_read, dma_write, mover_write, prot, Cpl, ModelDevice};

impl ModelDevice {
    /// Return the head NB of socket `s` with `flags` and completion status `st`, at time `t`.
    pub(super) fn return_nb(&mut self, s: u16, flags: CplFlags, st: Status, t: u64) {
        self.return_nb_hdr(s, flags, st, t, 0);
    }

    /// [`Self::return_nb`] with the completion's HDR_BYTES: `min(8, FILLED)` for a DATAGRAM
    /// return, 0 for every other return (the contract names it only there). The NB's
    /// UDP_HDR_BYTES field would hold the same value; the model keeps no copy.
    pub(super) fn return_nb_hdr(
        &mut self,
        s: u16,
        flags: CplFlags,
        st: Status,
        t: u64,
        hdr_bytes: u8,
    ) {
        let Some(rn) = self.toe.socks[s as usize].nbs.pop_front() else {
            return;
        };
        let Some(nb) = self.toe.nbs[rn as usize].take() else {
            return;
        };
        if matches!(self.toe.page_cache, Some(g) if g.nb == rn) {
            self.toe.page_cache = None;
        }
        self.regs.count(reg::CNT_NB_RETURNED, 1);
        self.post_cpl(
            t,
            Cpl {
                kind: CplKind::NbReturn,
                status: st,
                sock_ref: nb.sock_ref,
                tag: nb.tag,
                ref_num: rn as u32,
                bytes: nb.filled,
                flags,
                opcode: buflet_spec::Opcode::NbPost.code(),
                hdr_bytes,
                // An empty buffer reports where the stream stands (e.g. a FIN right at a
                // buffer boundary), exactly like the RTL.
                stream_off: if nb.filled == 0 {
                    self.toe.socks[s as usize].stream_off
                } else {
                    nb.stream_off
                },
                ..Cpl::default()
            },
        );
    }

    /// The address of page `page` of NB `rn` (from the one-entry cache, else read from its
    /// page list by DMA from `t`), or the status the NB is returned with: `DMA_ERROR` for a
    /// failed page-list read, `PROT_FAULT` for a refused list or page. Also returns the time
    /// the address is known.
    fn nb_page(
        &mut self,
        env: &mut HostEnv,
        rn: u16,
        nb: &Nb,
        page: u32,
        t: u64,
    ) -> (Result<u64, Status>, u64) {
        let mut t = t;
        // The page address, or the status the NB is returned with: DMA_ERROR for a failed
        // page-list read, PROT_FAULT for a refused list or page.
        let hit = match self.toe.page_cache {
            Some(g) if g.nb == rn && page >= g.first && page - g.first < g.count => {
                Some((page - g.first) as usize)
            }
            _ => None,
        };
        let k = match hit {
            Some(k) => k,
            None => {
                if !self.check(
                    nb.hmd_addr,
                    nb.hmd_pages.saturating_mul(8),
                    false,
                    prot::rid::RD_TOE,
                ) {
                    return (Err(Status::ProtFault), t);
                }
                // A miss reads up to PG_GROUP entries from the page on (not past HMD_PAGES).
                let count = nb
                    .hmd_pages
                    .saturating_sub(u64::from(page))
                    .clamp(1, PG_GROUP as u64) as u32;
                let mut b = [0u8; 8 * PG_GROUP];
                let at = nb.hmd_addr.wrapping_add(8 * page as u64);
                let (ok, d) = dma_read(
                    &self.cfg,
                    &mut self.rd_free,
                    env,
                    Agent::NicDma,
                    t,
                    at,
                    &mut b[..8 * count as usize],
                );
                t = d;
                if !ok {
                    self.toe.page_cache = None;
                    return (Err(Status::DmaError), t);
                }
                let mut addrs = [0u64; PG_GROUP];
                for (a, e) in addrs.iter_mut().zip(b.chunks_exact(8)) {
                    *a = u64::from_le_bytes(e.try_into().expect("8 bytes"));
                }
                self.toe.page_cache = Some(PageGroup {
                    nb: rn,
                    first: page,
                    count,
                    addrs,
                    checked: 0,
                });
                0
            }
        };
        // A page is checked once, before its first use (S_DPGCHK; a cached one costs that
        // step, a read one is checked as it arrives).
        let g = self.toe.page_cache.expect("the page's group is cached");
        let a = g.addrs[k];
        if g.checked & (1 << k) == 0 {
            if hit.is_some() {
                t += 1;
            }
            if !self.check(a, PAGE, true, prot::rid::WR_TOE) {
                return (Err(Status::ProtFault), t);
            }
            if let Some(g) = self.toe.page_cache.as_mut() {
                g.checked |= 1 << k;
            }
        }
        (Ok(a), t)
    }

    /// One hold delivery step (docs/p2p.md): the chunk of the head segment that stays in its
    /// buflet, described by one `hold_rec` DMA-written at record position `8 * RECS` of the NB's
    /// page list. Returns the done time.
    fn deliver_hold(&mut self, env: &mut HostEnv, s: u16, rn: u16, seg: Seg, chained: bool) -> u64 {
        let Some(nb) = self.toe.nbs[rn as usize] else {
            return self.dl_at(costs::ENGINE_RETURN, chained);
        };
        let bb = self.pool.buflet_bytes() as u64;
        let in_buf = seg.data_off as u64 % bb;
        let n = (seg.data_len as u64)
            .min(nb.total.saturating_sub(nb.filled) as u64)
            .min(bb - in_buf);
        let pos = nb.recs as u64 * hold_rec::SIZE as u64;
        let page = (pos / PAGE) as u32;
        let (page_addr, t) = self.nb_page(
            env,
            rn,
            &nb,
            page,
            self.dl_at(costs::ENGINE_DELIVERY, chained),
        );
        let page_addr = match page_addr {
            Ok(a) => a,
            Err(st) => {
                // The NB is returned as it is; the segment stays for the next NB.
                self.return_nb(s, CplFlags::empty(), st, t);
                return t;
            }
        };
        let b = self
            .pool
            .nth(seg.chain.head, seg.data_off as usize / bb as usize);
        let emptied = seg.data_len as u64 == n;
        let rec = HoldRec {
            buflet: b,
            off: in_buf as u16,
            len: n as u16,
            head: if emptied {
                seg.chain.head
            } else {
                buflet_spec::NULL16
            },
        }
        .to_bytes();
        let done = dma_write(
            &self.cfg,
            &mut self.wr_free,
            env,
            Agent::NicDma,
            t,
            page_addr.wrapping_add(pos % PAGE),
            &rec,
        );
        self.pool.expose(b);
        self.regs.count(reg::CNT_HOLD_RECORDS, 1);
        self.regs.count(reg::CNT_DELIVERED_BYTES, n);
        let sock = &mut self.toe.socks[s as usize];
        let psh_return = sock.d.flags as u64 & sock_flag::PSH_RETURN != 0;
        let Some(nbm) = self.toe.nbs[rn as usize].as_mut() else {
            return done;
        };
        if nbm.filled == 0 {
            nbm.stream_off = sock.stream_off;
        }
        nbm.filled += n as u32;
        nbm.recs = nbm.recs.wrapping_add(1);
        // Record room: the page list's capacity, capped by the 16-bit RECS field.
        let room = nbm
            .hmd_pages
            .saturating_mul(PAGE / hold_rec::SIZE as u64)
            .min(u16::MAX as u64);
        let full = nbm.filled == nbm.total || nbm.recs as u64 == room;
        sock.stream_off += n;
        let Some(head) = sock.segs.front_mut() else {
            return done;
        };
        head.data_off += n as u16;
        head.data_len -= n as u16;
        let marker = head.flags & (tcp_flag::FIN | tcp_flag::RST) != 0;
        let pushed = head.flags & (tcp_flag::PSH | tcp_flag::URG) != 0;
        if emptied {
            // Unlinked as usual (a FIN segment stays as its marker), its chain held.
            if !marker {
                sock.segs.pop_front();
            }
            self.pool.hold(seg.chain, marker);
        }
        if full {
            self.return_nb(s, CplFlags::FULL, Status::Ok, done);
        } else if emptied && pushed && !marker && psh_return {
            self.return_nb(s, CplFlags::PSH, Status::Ok, done);
        }
        done
    }

    /// The cycle `cost` after the delivery step's pick; a chained step (one that follows its
    /// frame at once) has no pick and no socket read.
    fn dl_at(&self, cost: u64, chained: bool) -> u64 {
        if chained {
            self.now + cost - costs::DELIVERY_CHAINED
        } else {
            self.now + cost
        }
    }

    /// One delivery step for the socket at the head of the ready list. Returns the done time.
    pub(super) fn engine_deliver(&mut self, env: &mut HostEnv, chained: bool) -> u64 {
        let s = self.toe.ready.pop_front().expect("ready socket");
        let sock = &self.toe.socks[s as usize];
        let seg = *sock.segs.front().expect("segment");
        let rn = *sock.nbs.front().expect("NB");
        let mut done = self.dl_at(costs::ENGINE_RETURN, chained);
        if seg.data_len == 0 {
            // An empty FIN/RST segment: it leaves the list and returns the head NB.
            self.toe.socks[s as usize].segs.pop_front();
            // A hold segment whose data produced records (its chain is held) is only
            // unlinked; a marker that never produced a record is freed (docs/p2p.md).
            self.pool.unlist(seg.chain);
            let mut flags = CplFlags::empty();
            if seg.flags & tcp_flag::FIN != 0 {
                flags |= CplFlags::FIN;
            }
            if seg.flags & tcp_flag::RST != 0 {
                flags |= CplFlags::RST;
            }
            self.return_nb(s, flags, Status::Ok, done);
        } else if self.toe.socks[s as usize].is_hold() {
            done = self.deliver_hold(env, s, rn, seg, chained);
        } else {
            let nb = self.toe.nbs[rn as usize].expect("NB in use");
            let in_page = nb.filled as u64 % PAGE;
            let n = (seg.data_len as u64)
                .min((nb.total - nb.filled) as u64)
                .min(PAGE - in_page) as usize;
            let page = nb.filled / PAGE as u32;
            let t0 = self.dl_at(costs::ENGINE_DELIVERY, chained);
            let (page_addr, t) = self.nb_page(env, rn, &nb, page, t0);
            let page_addr = match page_addr {
                Ok(a) => a,
                Err(st) => {
                    // The NB is returned as it is; the segment stays for the next NB.
                    self.return_nb(s, CplFlags::empty(), st, t);
                    self.toe.socks[s as usize].queued = false;
                    self.toe.wake(s);
                    return t;
                }
            };
            // The chunk's bytes: a slice of one buflet, or gathered across buflets.
            let mut buf = std::mem::take(&mut self.toe.scratch);
            let off = seg.data_off as usize;
            let data = match self.pool.slice(seg.chain.head, off, n) {
                Some(d) => d,
                None => {
                    self.pool.read(seg.chain.head, off, &mut buf[..n]);
                    &buf[..n]
                }
            };
            // S_DISSUE fires once toe_mover can take the chunk (it has read the last chunk's
            // words). Its words follow the mover's walk to the buflet and the RAM's latency.
            let walk = costs::mover_walk(seg.data_off as u64, self.pool.buflet_bytes() as u64);
            let issued;
            (issued, done) = mover_write(
                &self.cfg,
                &mut self.wr_free,
                &mut self.mover,
                env,
                t,
                walk,
                page_addr.wrapping_add(in_page),
                data,
            );
            self.toe.scratch = buf;
            let sock = &mut self.toe.socks[s as usize];
            let udp = sock.is_udp();
            let psh_return = sock.d.flags as u64 & sock_flag::PSH_RETURN != 0;
            let nbm = self.toe.nbs[rn as usize].as_mut().expect("NB in use");
            if nbm.filled == 0 {
                nbm.stream_off = sock.stream_off;
            }
            nbm.filled += n as u32;
            let full = nbm.filled == nbm.total;
            sock.stream_off += n as u64;
            let head = sock.segs.front_mut().expect("segment");
            head.data_off += n as u16;
            head.data_len -= n as u16;
            let emptied = head.data_len == 0;
            let marker = head.flags & (tcp_flag::FIN | tcp_flag::RST) != 0;
            let pushed = head.flags & (tcp_flag::PSH | tcp_flag::URG) != 0;
            // A datagram leaves the list once written or once the buffer is full (the rest is
            // discarded). Datagram chunks use the TCP delivery rules unchanged: socket and NB STREAM_OFF and
            // CNT_DELIVERED_BYTES count the bytes written (header included). A timeout between
            // two chunks returns the NB; the rest of the datagram goes on into the next NB.
            let datagram_done = udp && (emptied || full);
            if (emptied && !marker) || datagram_done {
                sock.segs.pop_front();
                self.pool.free_chain(seg.chain);
            }
            self.regs.count(reg::CNT_DELIVERED_BYTES, n as u64);
            if datagram_done {
                let filled = self.toe.nbs[rn as usize].expect("NB in use").filled;
                let mut flags = CplFlags::DATAGRAM;
                if !emptied {
                    flags |= CplFlags::TRUNC;
                }
                let hdr = filled.min(UDP_HDR) as u8;
                self.return_nb_hdr(s, flags, Status::Ok, done, hdr);
            } else if full {
                self.return_nb(s, CplFlags::FULL, Status::Ok, done);
            } else if emptied && pushed && !marker && psh_return {
                self.return_nb(s, CplFlags::PSH, Status::Ok, done);
            } else {
                // No return (S_DRET waits for the chunk to leave): the engine is free once
                // the chunk is issued; toe_mover streams it meanwhile. The next frame may
                // start in the issue cycle.
                done = issued + 1;
                self.toe.frm_chain = Some((s, issued));
            }
        }
        self.toe.socks[s as usize].queued = false;
        self.toe.wake(s);
        done
    }
}
