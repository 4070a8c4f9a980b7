//! Block-controller DMA engine (rtl/blk_dma.v, seed 000): walks a linked scatter-gather list.
//!
//! BLK_WRITE reads host memory in chunks that never cross a block boundary (or produces
//! zeros), packs each 4096-byte block and writes it to the block device with one request.
//! Writes stream (docs/storage.md "Block writes in flight"): the block buffer has two banks, so
//! the next block is packed while the block sender sends the last one, and while up to
//! `BLK_WRITES_IN_FLIGHT` statuses are owed; BYTES counts the blocks answered OK before the
//! first failed one, a failed status makes the command DISK_ERROR and stops it at its next
//! element, chunk or block, and the completion waits for every owed status.
//!
//! A BLK_WRITE's list is walked by an issuer ahead of the data (docs/storage.md "The write
//! issuer"): each element's read goes out when the one before it has been checked, ahead of
//! that element's chunk reads, and a host chunk is requested while the data side still packs
//! the one before it (at most 2 unpacked, and only while fewer than `BLK_WRITES_IN_FLIGHT - 1`
//! writes are owed). The model times the two sides apart: the issuer's steps (`Job::at`) and the
//! data side's packing and block writes (`Job::dfree`), computed as each chunk is issued. An
//! error the issuer finds ends the command once the data side has packed the chunks before it.
//!
//! BLK_READ (docs/storage.md) reads each block from the block device when the element that
//! starts it has been accepted, then writes the block's bytes to host memory along the
//! elements (one DMA write per element part, ZERO parts discarded), fetching and checking each
//! further element of the block after the previous one's host write, as rtl/blk_dma.v does: a
//! list error inside a block ends the request after that block's earlier parts were written.
//!
//! p2p (docs/p2p.md): a BLK_WRITE element with flag `DEVMEM` takes its bytes from buflet memory
//! (the pool's second read port) at device address `SRC_ADDR`; it must lie inside one exposed
//! buflet, must not be `ZERO` and must belong to a BLK_WRITE (`BAD_SG` otherwise, checked at
//! fetch after the existing checks). No host memory is accessed and the protection table is not
//! consulted for it. `CNT_BLK_DEV_BYTES` grows by the DEVMEM bytes of a block when that block's
//! data packet is issued (with `CNT_BLK_WRITES`, as rtl/blk_dma.v pulses `ev_dev_bytes`).

use std::collections::VecDeque;

use buflet_platform::{Agent, DiskError, HostEnv};
use buflet_spec::{
    param, reg, region_perm, sg_elem, BlkReq, CplKind, Opcode, SgElem, SgFlags, Status,
};

use crate::{costs, dma_read, dma_write, prot, Cpl, ModelDevice, NEVER, REQ_BYTES};

const BLOCK: usize = param::BLOCK_BYTES as usize;
const SECTOR: u64 = param::SECTOR_BYTES;
/// Largest element length (BLOCK_BYTES * 16).
const MAX_ELEM: u64 = 16 * param::BLOCK_BYTES;
/// Block writes owed a status at most (rtl/blk_dma.v W_MAX).
const W_MAX: usize = param::BLK_WRITES_IN_FLIGHT as usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Validate BYTES.
    Start,
    /// Fetch the element at `next`.
    Fetch,
    /// Write: move the next chunk of the current element into the block buffer. Read: write
    /// the next chunk of the current element from the block buffer to host memory.
    Data,
    /// Read the current block from the disk into the block buffer.
    Read,
}

struct Job {
    /// OP_BLK_READ (else OP_BLK_WRITE).
    read: bool,
    tag: u32,
    sock_ref: u16,
    bytes: u64,
    sg_max: u64,
    phase: Phase,
    /// When the current phase runs.
    at: u64,
    /// Address of the next element to fetch (0 = the list ended).
    next: u64,
    fetched: u64,
    /// Bytes described by the elements fetched so far.
    described: u64,
    // Current element.
    src: u64,
    rem: u64,
    zero: bool,
    /// The current element is DEVMEM (its source is buflet memory).
    dev: bool,
    /// Disk byte address just past the last element's end.
    disk_end: u64,
    // Current block.
    lba: u64,
    fill: usize,
    /// DEVMEM bytes packed into the current block.
    dev_fill: u64,
    written: u64,
    /// Bytes of the blocks moved (read: delivered; write: sent, answered or not).
    moved: u64,
    /// BLK_WRITE: blocks sent whose status is owed, in request order: (the cycle its data
    /// packet was sent, the cycle the engine takes its status, OK), `None` for a device that
    /// never answers.
    owed: VecDeque<(u64, u64, Option<bool>)>,
    /// BLK_WRITE: a status was not OK.
    failed: bool,
    /// BLK_WRITE: the cycle the block sender has sent the last block's data packet.
    sender_free: u64,
    /// BLK_WRITE: the element after the current one, asked ahead of its chunks (success,
    /// bytes, the cycle its word has come).
    prefetched: Option<(bool, [u8; sg_elem::SIZE], u64)>,
    /// BLK_WRITE data side: the cycle it takes its next chunk entry (S_W_POP).
    dfree: u64,
    /// BLK_WRITE: the cycles the last two host chunks were packed (the issuer requests a chunk
    /// only while at most one is unpacked).
    packed: [u64; 2],
    /// BLK_WRITE: the cycle the last of the issuer's reads is answered (S_CPL takes them all).
    drained: u64,
    /// The cycle of the device's last answer (the timeout counts from the later of it and the
    /// start of a wait).
    answered: u64,
}

/// blk_dma state: its command FIFO and the job in progress.
pub(crate) struct Blk {
    /// Accepted BLK_WRITE/BLK_READ entries and the time each becomes visible.
    pub fifo: VecDeque<(u64, [u8; REQ_BYTES])>,
    job: Option<Job>,
    busy_until: u64,
    buf: Vec<u8>,
    /// The cycles the parked write's statuses come (docs/storage.md "Parked completions"); its
    /// completion was worked out when it parked.
    parked: VecDeque<u64>,
    /// The cycle the parked write's completion is posted (0: none parked yet).
    parked_cpl: u64,
}

impl Default for Blk {
    fn default() -> Self {
        Blk {
            fifo: VecDeque::new(),
            job: None,
            busy_until: 0,
            buf: vec![0; BLOCK],
            parked: VecDeque::new(),
            parked_cpl: 0,
        }
    }
}

impl ModelDevice {
    pub(crate) fn blk_next(&self) -> u64 {
        match (&self.blk.job, self.blk.fifo.front()) {
            (Some(j), _) => j.at,
            (None, Some(&(t, _))) => t.max(self.blk.busy_until),
            (None, None) => NEVER,
        }
    }

    /// The block device did not answer a command whose wait began at `t`: given up with
    /// DISK_TIMEOUT after BLK_TIMEOUT cycles (`CNT_BLK_TIMEOUTS`), or never with BLK_TIMEOUT 0
    /// (the job then waits forever, as blk_dma does).
    fn blk_timed_out(&mut self, t: u64) -> (u64, Option<Status>) {
        match self.regs.blk_timeout.0 {
            0 => (NEVER, None),
            n => {
                self.regs.count(reg::CNT_BLK_TIMEOUTS, 1);
                (t + u64::from(n), Some(Status::DiskTimeout))
            }
        }
    }

    /// Post the job's completion at `t`; the engine takes the next command from `free` on.
    fn blk_finish(&mut self, j: &Job, st: Status, t: u64, free: u64) {
        self.blk.busy_until = free;
        self.post_cpl(
            t,
            Cpl {
                kind: CplKind::BlkDone,
                // a failed write precedes, in list order, whatever the engine found after it
                status: if j.failed { Status::DiskError } else { st },
                sock_ref: j.sock_ref,
                tag: j.tag,
                bytes: j.written as u32,
                opcode: if j.read {
                    Opcode::BlkRead
                } else {
                    Opcode::BlkWrite
                }
                .code(),
                ..Cpl::default()
            },
        );
    }

    /// A DEVMEM element's source range `[src, src+len)` lies inside one buflet that is exposed
    /// (docs/p2p.md).
    fn dev_ok(&self, src: u64, len: u64) -> bool {
        let bb = self.pool.buflet_bytes() as u64;
        let num = self.pool.num() as u64;
        src < num * bb && src % bb + len <= bb && self.pool.is_exposed((src / bb) as u16)
    }

    /// A DEVMEM element of a BLK_READ: `[dst, dst+len)` lies inside one host buflet, `dst`,
    /// `len` and `disk` multiples of `DEV_ALIGN` (docs/p2p.md, "p2p reads").
    fn dev_rd_ok(&self, dst: u64, len: u64, disk: u64) -> bool {
        let bb = self.pool.buflet_bytes() as u64;
        let num = self.pool.num() as u64;
        let align = param::DEV_ALIGN;
        dst.is_multiple_of(align)
            && len.is_multiple_of(align)
            && disk.is_multiple_of(align)
            && dst < num * bb
            && dst % bb + len <= bb
            && self.pool.is_host(dst / bb)
    }

    /// After the current element has been fully consumed: end of list or the next element.
    fn blk_after_element(j: &mut Job) -> Option<Status> {
        if j.next != 0 && j.fill == 0 && j.described == j.bytes {
            // BYTES reached at a block boundary but the list goes on: not fetched.
            return Some(Status::BadSg);
        }
        if j.next != 0 {
            j.phase = Phase::Fetch;
            return None;
        }
        Some(if j.fill == 0 && j.moved == j.bytes {
            Status::Ok
        } else {
            Status::BadSg
        })
    }

    /// A BLK_READ's block has been written to host memory (counted): on to the next block's
    /// read while the element has bytes left, else [`Self::blk_after_element`].
    fn blk_block_done(j: &mut Job) -> Option<Status> {
        j.moved += BLOCK as u64;
        j.written += BLOCK as u64;
        j.lba += BLOCK as u64 / SECTOR;
        j.fill = 0;
        if j.rem > 0 {
            j.phase = Phase::Read;
            None
        } else {
            Self::blk_after_element(j)
        }
    }

    /// One scatter-gather element read at `addr`, asked at `t`: (success, bytes, done time).
    fn blk_read_elem(
        &mut self,
        env: &mut HostEnv,
        t: u64,
        addr: u64,
    ) -> (bool, [u8; sg_elem::SIZE], u64) {
        let mut e = [0u8; sg_elem::SIZE];
        let (ok, d) = dma_read(
            &self.cfg,
            &mut self.rd_free,
            env,
            Agent::BlkDma,
            t,
            addr,
            &mut e,
        );
        (ok, e, d)
    }

    /// Take the owed write statuses that have come by cycle `t`: an OK one counts its block
    /// while none failed, a failed one fails the command.
    fn blk_take(j: &mut Job, t: u64) {
        while let Some(&(_, at, Some(ok))) = j.owed.front() {
            if at > t {
                break;
            }
            j.owed.pop_front();
            j.answered = at;
            if !ok {
                j.failed = true;
            } else if !j.failed {
                j.written += BLOCK as u64;
            }
        }
    }

    /// Wait from cycle `t` until fewer than `keep` writes are owed a status: the parked write's
    /// still to come (they are the oldest) and the job's own, or with `sent_only` those whose
    /// data packet has been sent by then (the issuer's hold on host chunks). Returns the cycle
    /// it happens, or the command given up with DISK_TIMEOUT when the oldest of its own is
    /// never answered (`None`: never, with BLK_TIMEOUT 0).
    fn blk_wait_owed(
        &mut self,
        j: &mut Job,
        t: u64,
        keep: usize,
        sent_only: bool,
    ) -> (u64, Option<Status>) {
        let mut t = t;
        loop {
            Self::blk_take(j, t);
            let parked = self.blk.parked.iter().filter(|&&at| at > t);
            let next_parked = parked.clone().next().copied();
            let own = j.owed.iter().filter(|e| !sent_only || e.0 <= t).count();
            if parked.count() + own < keep {
                return (t, None);
            }
            match (next_parked, j.owed.front()) {
                (Some(at), _) => t = at + 1,
                (None, Some(&(_, at, Some(_)))) => t = t.max(at + 1),
                (None, Some(&(_, _, None))) => {
                    let (u, st) = self.blk_timed_out(t.max(j.answered));
                    j.owed.clear();
                    return (u, st);
                }
                (None, None) => return (t, None),
            }
        }
    }

    /// Run one phase of the job in progress (or start the next one).
    pub(crate) fn blk_step(&mut self, env: &mut HostEnv) {
        let mut j = match self.blk.job.take() {
            Some(j) => j,
            None => {
                let (_, e) = self.blk.fifo.pop_front().expect("queued block request");
                // Only BLK_WRITE and BLK_READ entries are queued here (`is_blk`).
                let r = BlkReq::parse(&e).expect("a queued block request parses");
                Job {
                    read: r.opcode == Opcode::BlkRead,
                    tag: r.tag,
                    sock_ref: r.sock_ref,
                    bytes: u64::from(r.bytes),
                    sg_max: u64::from(r.sg_max),
                    phase: Phase::Start,
                    at: self.now,
                    next: r.sg_addr,
                    fetched: 0,
                    described: 0,
                    src: 0,
                    rem: 0,
                    zero: false,
                    dev: false,
                    disk_end: 0,
                    lba: 0,
                    fill: 0,
                    dev_fill: 0,
                    written: 0,
                    moved: 0,
                    owed: VecDeque::new(),
                    failed: false,
                    sender_free: 0,
                    prefetched: None,
                    dfree: 0,
                    packed: [0; 2],
                    drained: 0,
                    answered: 0,
                }
            }
        };
        // a BLK_READ waits for the parked write's completion (the device answers in order)
        if j.read && j.phase == Phase::Start && self.blk.parked_cpl >= self.now {
            j.at = self.blk.parked_cpl + 1;
            self.blk.job = Some(j);
            return;
        }
        let now = self.now;
        let mut end: Option<Status> = None;
        let mut t = now + costs::BLK_STEP;
        let stop = !j.read && {
            Self::blk_take(&mut j, now);
            j.failed
        };
        // the write issuer ended the list walk (its STOP entry follows the chunks issued)
        let mut issuer_stop = false;
        match j.phase {
            Phase::Start => {
                if j.bytes == 0 || !j.bytes.is_multiple_of(BLOCK as u64) {
                    end = Some(Status::BadSg);
                } else {
                    j.phase = Phase::Fetch;
                }
            }
            // an owed write failed: stop at the next element (S_ELEM_REQ) or chunk (S_CHUNK)
            Phase::Fetch | Phase::Data if stop => {
                t = t.max(j.dfree);
                end = Some(Status::DiskError)
            }
            Phase::Fetch => {
                // a write's element asked ahead (checked now: I_ECHK), else read it now (the
                // write issuer asks in I_EREQ, checks two cycles after the word)
                let pre = j.prefetched.take();
                if !j.read {
                    t = now;
                    issuer_stop = true;
                }
                if pre.is_none() && j.fetched >= j.sg_max {
                    end = Some(Status::BadSg);
                } else if pre.is_none()
                    && !self.check(j.next, sg_elem::SIZE as u64, false, prot::rid::RD_BLK)
                {
                    // Refused before the element is read.
                    end = Some(Status::ProtFault);
                } else {
                    let (ok, e) = match pre {
                        Some((ok, e, _)) => {
                            t = now + 1;
                            (ok, e)
                        }
                        None => {
                            let (ok, e, d) = self.blk_read_elem(env, t, j.next);
                            t = if j.read { d } else { d + 2 };
                            j.drained = j.drained.max(d);
                            (ok, e)
                        }
                    };
                    j.fetched += 1;
                    // Every byte pattern is an SgElem (flags keep unknown bits).
                    let el = SgElem::parse(&e).unwrap_or_default();
                    let len = u64::from(el.len);
                    let disk = el.disk_addr;
                    let src = el.src_addr;
                    let zero = el.flags.contains(SgFlags::ZERO);
                    let dev = el.flags.contains(SgFlags::DEVMEM);
                    let placed = if j.fill == 0 {
                        disk.is_multiple_of(SECTOR)
                    } else {
                        disk == j.disk_end
                    };
                    if !ok {
                        end = Some(Status::DmaError);
                    } else if !(1..=MAX_ELEM).contains(&len)
                        || !placed
                        || j.described + len > j.bytes
                    {
                        end = Some(Status::BadSg);
                    } else if dev
                        && (zero
                            || if j.read {
                                !self.dev_rd_ok(src, len, disk)
                            } else {
                                !self.dev_ok(src, len)
                            })
                    {
                        // DEVMEM, not ZERO: a write's source inside one exposed buflet, a
                        // read's destination inside one host buflet, aligned.
                        end = Some(Status::BadSg);
                    } else if !zero
                        && !dev
                        && !self.check(
                            src,
                            len,
                            j.read,
                            if j.read {
                                prot::rid::WR_BLK
                            } else {
                                prot::rid::RD_BLK
                            },
                        )
                    {
                        // A BLK_WRITE source / BLK_READ destination outside the registered
                        // regions: nothing of this element moves, the block is not written.
                        end = Some(Status::ProtFault);
                    } else {
                        if j.fill == 0 {
                            j.lba = disk / SECTOR;
                        }
                        j.described += len;
                        j.src = src;
                        j.rem = len;
                        j.zero = zero;
                        j.dev = dev;
                        j.disk_end = disk + len;
                        j.next = el.next;
                        // A read fetches the block when its first element is accepted.
                        j.phase = if j.read && j.fill == 0 {
                            Phase::Read
                        } else {
                            Phase::Data
                        };
                        if !j.read {
                            // I_PF: the element after this one, asked ahead of its chunks when
                            // the engine would fetch it (and it is not refused)
                            issuer_stop = false;
                            let at_block_end = (j.fill as u64 + len).is_multiple_of(BLOCK as u64);
                            if j.next != 0
                                && j.fetched < j.sg_max
                                && !(at_block_end && j.described == j.bytes)
                                && self.allowed(
                                    j.next,
                                    sg_elem::SIZE as u64,
                                    region_perm::READ as u8,
                                )
                            {
                                let (pok, pe, pd) = self.blk_read_elem(env, t + 1, j.next);
                                j.prefetched = Some((pok, pe, pd));
                                j.drained = j.drained.max(pd);
                            }
                            t += 2;
                        }
                    }
                }
            }
            Phase::Data if j.read => {
                let n = (j.rem as usize).min(BLOCK - j.fill);
                if j.dev {
                    // Into buflet memory through the pool's write port (checked at fetch).
                    let chunk = &self.blk.buf[j.fill..j.fill + n];
                    self.pool.write_dev(j.src, chunk);
                    t += costs::dev_read(&self.cfg, j.src, n);
                    self.regs.count(reg::CNT_BLK_DEV_WR_BYTES, n as u64);
                } else if !j.zero {
                    // Posted: a refused write is lost (counted as a stray access).
                    let chunk = &self.blk.buf[j.fill..j.fill + n];
                    t = dma_write(
                        &self.cfg,
                        &mut self.wr_free,
                        env,
                        Agent::BlkDma,
                        t,
                        j.src,
                        chunk,
                    );
                }
                // A ZERO element's bytes are discarded.
                j.src += n as u64;
                j.rem -= n as u64;
                j.fill += n;
                if j.fill == BLOCK {
                    // Every host write of the block has been issued.
                    t += costs::BLK_STEP;
                    end = Self::blk_block_done(&mut j);
                } else {
                    end = Self::blk_after_element(&mut j);
                }
            }
            Phase::Read => {
                self.regs.count(reg::CNT_BLK_READS, 1);
                self.regs.count(reg::CNT_BLK_RD_BYTES, BLOCK as u64);
                match env.disk.read(j.lba, &mut self.blk.buf) {
                    // No data and no status: given up BLK_TIMEOUT cycles after the request.
                    Err(DiskError::NoAnswer { .. }) => {
                        (t, end) = self.blk_timed_out(t + 1);
                    }
                    // Not written to host memory.
                    Err(_) => {
                        t += costs::block_read(&self.cfg, BLOCK);
                        end = Some(Status::DiskError);
                    }
                    Ok(()) => {
                        t += costs::block_read(&self.cfg, BLOCK);
                        j.phase = Phase::Data;
                    }
                }
            }
            // the write issuer's I_CHUNK: one chunk issued, and packed by the data side (and
            // its block written when the chunk completes it)
            Phase::Data => {
                t = now;
                let n = (j.rem as usize).min(BLOCK - j.fill);
                let c_end = j.fill + n == BLOCK;
                let host = !j.zero && !j.dev;
                if host {
                    // at most one host chunk unpacked; fewer than W_MAX-1 writes owed
                    let from = t.max(j.packed[0] + 1);
                    let (u, st) = self.blk_wait_owed(&mut j, from, W_MAX - 1, true);
                    t = u;
                    if st.is_some() || t == NEVER {
                        end = st;
                    }
                }
                if end.is_none() && j.failed {
                    end = Some(Status::DiskError); // the issuer halts; the data side stops
                }
                if end.is_none() {
                    let chunk = &mut self.blk.buf[j.fill..j.fill + n];
                    let start = j.dfree.max(t + 1);
                    let packed = if j.zero {
                        chunk.fill(0);
                        start + costs::zero_fill(&self.cfg, n)
                    } else if j.dev {
                        // Buflet memory through the second read port: no host access. The
                        // range was checked at fetch, so the read cannot fail.
                        if !self.pool.read_dev(j.src, chunk) {
                            end = Some(Status::BadSg);
                        }
                        j.dev_fill += n as u64;
                        start + costs::dev_read(&self.cfg, j.src, n)
                    } else {
                        let (ok, d) = dma_read(
                            &self.cfg,
                            &mut self.rd_free,
                            env,
                            Agent::BlkDma,
                            t,
                            j.src,
                            chunk,
                        );
                        // the data side takes one word per cycle once it gets to the chunk;
                        // the read port waits for it
                        let p = d.max(start + costs::words(&self.cfg, n));
                        self.rd_free.hold_until(p);
                        j.packed = [j.packed[1], p];
                        j.drained = j.drained.max(p);
                        if !ok {
                            end = Some(Status::DmaError);
                        }
                        p
                    };
                    t += 1;
                    // S_NEXT, then the next entry (S_W_POP) or the block (S_BLK_WAIT)
                    j.dfree = if end.is_some() { packed } else { packed + 2 };
                    if end.is_none() && c_end {
                        // S_BLK_WAIT: the sender done with the last block, a free slot among
                        // the owed writes, or the command given up
                        let ready = j.dfree.max(j.sender_free);
                        let (u, st) = self.blk_wait_owed(&mut j, ready, W_MAX, false);
                        j.dfree = u;
                        if st.is_some() || u == NEVER {
                            end = st;
                        } else if j.failed {
                            end = Some(Status::DiskError); // the packed block is not written
                        } else {
                            self.regs.count(reg::CNT_BLK_WRITES, 1);
                            self.regs.count(reg::CNT_BLK_BYTES, BLOCK as u64);
                            self.regs.count(reg::CNT_BLK_DEV_BYTES, j.dev_fill);
                            j.dev_fill = 0;
                            // the sender sends the data packet while the next block is packed;
                            // its status comes after the device latency
                            let sent = u + costs::words(&self.cfg, BLOCK);
                            j.sender_free = sent;
                            let answer = match env.disk.write_at(j.lba, &self.blk.buf, sent) {
                                Err(DiskError::NoAnswer { .. }) => None,
                                r => Some(r.is_ok()),
                            };
                            j.owed
                                .push_back((sent, sent + costs::block_status(&self.cfg), answer));
                            j.dfree = u + 2;
                            j.moved += BLOCK as u64;
                            j.lba += BLOCK as u64 / SECTOR;
                        }
                    }
                    if end.is_none() {
                        j.src += n as u64;
                        j.rem -= n as u64;
                        j.fill = (j.fill + n) % BLOCK;
                        if j.rem == 0 {
                            // I_NEXT: the list's end, an error, or the next element (its word
                            // asked ahead, checked once it has come)
                            t += 1;
                            end = Self::blk_after_element(&mut j);
                            issuer_stop = end.is_some();
                            if let Some((_, _, a)) = j.prefetched {
                                t = t.max(a + 1);
                            }
                        }
                    }
                }
                if end.is_some() && !issuer_stop {
                    t = t.max(j.dfree);
                }
            }
        }
        // the completion waits for the sender and every owed status (S_CPL; an unanswered one
        // until BLK_TIMEOUT, or forever with BLK_TIMEOUT 0)
        if let Some(st) = end {
            // a write's STOP entry is taken by the data side after the chunks before it, and
            // the issuer's reads in flight are answered first
            if issuer_stop {
                t = (t + 2).max(j.dfree) + 1;
            }
            // after the parked completion (one is parked at a time)
            let from = t
                .max(j.sender_free)
                .max(j.drained)
                .max(self.blk.parked_cpl + 1);
            Self::blk_take(&mut j, from);
            if !j.read && !j.owed.is_empty() && j.owed.iter().all(|e| e.2.is_some()) {
                // park (docs/storage.md "Parked completions"): the engine takes the next
                // command now; the completion follows the last status
                let last = j.owed.back().map_or(from, |e| e.1 + 1);
                self.blk.parked = j.owed.iter().map(|e| e.1).collect();
                Self::blk_take(&mut j, last);
                self.blk.parked_cpl = last;
                return self.blk_finish(&j, st, last, from + 1);
            }
            let (u, given_up) = self.blk_wait_owed(&mut j, from, 1, false);
            t = u;
            end = (t != NEVER).then(|| given_up.unwrap_or(st));
        }
        match end {
            Some(st) => self.blk_finish(&j, st, t, t),
            None => {
                j.at = t;
                self.blk.job = Some(j);
            }
        }
    }
}
