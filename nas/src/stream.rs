//! The NAS application's receive side (seed 000): one socket's stream in named buffers.
//!
//! A [`NasStream`] owns one socket's named buffers. Received data stays where the NIC's DMA put
//! it; [`NasStream::write`] maps a file range to disk blocks through a [`FileMap`] and hands it to
//! the block-controller DMA engine:
//!
//! - whole, aligned blocks go zero-copy: a linked scatter-gather list straight over the named
//!   buffers' host pages, each file-system block in one block-device write;
//! - a block the write covers only partly (less than one block, a non-integer number of blocks,
//!   an offset not aligned to a block) takes the seed's read-modify-write path: `OP_BLK_READ`
//!   brings the block's *kept* old bytes into a host bounce block (the bytes the write replaces
//!   are discarded by ZERO elements and never reach host memory), then the block is written from
//!   a list that points at the bounce block for the old bytes and at the named buffer for the new
//!   ones. The CPU copies no payload byte in [`WriteMode::ZeroCopy`].
//!
//! Writes that share a disk block are serialized in submission order (a later write's block read
//! sees the earlier write's data); writes on disjoint blocks run concurrently, at most
//! [`DEFAULT_MAX_COMMANDS`] block commands at a time. A block command that fails with
//! `DISK_ERROR` is retried from the block that failed, up to [`NasStream::set_max_retries`]
//! times in a row for that block; a final failure reaches the write's callback with the file
//! range that is not known to be written, and the stream keeps the bytes so the write can be
//! issued again. [`WriteMode::Splice`] and [`WriteMode::Copy`] are the seed's prior-art paths
//! (4 and 6 host-DRAM crossings per byte), with real CPU copies through host memory.
//! [`WriteMode::P2p`] (docs/p2p.md) keeps the payload in the NIC: the stream's socket is a hold
//! socket, its named buffers receive hold records, and block writes read the payload from
//! buflet memory (`DEVMEM` elements); held chains go back with `BUF_RELEASE` once written.
//! `docs/storage.md` says which bytes cross host DRAM in each case.

use crate::plan::{BlockPlan, Extent, RangeSet, SgPlan};
use crate::{BlockOp, WriteCallback, WriteError, WriteMode, WriteStats};
use crate::{DEFAULT_MAX_COMMANDS, DEFAULT_MAX_RETRIES, MAX_HOLD_NB_PAGES};
use buflet_driver::{Completion, CplKind, Driver, DriverError, HoldRec, NamedBuffer};
use buflet_platform::Agent;
use buflet_spec::{CplFlags, SockFlags, Status};
use std::collections::{BTreeMap, HashMap, VecDeque};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpState {
    Queued,
    Reading,
    Writing,
}

/// A block command in flight and its scatter-gather list in host memory.
pub(crate) struct Cmd {
    pub(crate) op: BlockOp,
    pub(crate) tag: u32,
    pub(crate) sg: SgPlan,
    pub(crate) sg_addr: u64,
    /// Size of the list's buffer (the list rounded up to a size class, so buffers are reused).
    pub(crate) sg_bytes: u64,
    /// Buffers acquired in the registration cache for the command: the list, and the named
    /// buffer pages it reads (zero-copy). Released when the command is over.
    pub(crate) held: Vec<(u64, u64)>,
    /// Block (index into `sg.blocks`) the current submission started at.
    pub(crate) start: usize,
    /// Block that failed last, and how many times in a row.
    pub(crate) fail_block: Option<usize>,
    pub(crate) tries: u32,
}

/// One write, from submission to its callback.
pub(crate) struct Op {
    pub(crate) file_off: u64,
    pub(crate) len: u64,
    pub(crate) stream_off: u64,
    pub(crate) mode: WriteMode,
    pub(crate) plans: Vec<BlockPlan>,
    /// Disk addresses of the blocks, sorted (for the per-block ordering).
    pub(crate) keys: Vec<u64>,
    pub(crate) extents: Vec<Extent>,
    pub(crate) cb: Option<WriteCallback>,
    pub(crate) state: OpState,
    /// Bounce blocks (zero-copy) or page-cache blocks (copy, splice): address and length,
    /// an I/O buffer of the driver acquired in the registration cache for the block DMA.
    pub(crate) host: Option<(u64, u64)>,
    pub(crate) cmd: Option<Cmd>,
    pub(crate) waited: bool,
}

impl Op {
    pub(crate) fn shares_block(&self, other: &Op) -> bool {
        let (mut i, mut j) = (0, 0);
        while i < self.keys.len() && j < other.keys.len() {
            match self.keys[i].cmp(&other.keys[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}

pub(crate) struct Returned {
    /// The buffer, until its bytes are done with. `None` on a p2p stream: its records were
    /// read at the return and the buffer went back to the NIC at once (held bytes are bounded
    /// by the buflets, the receive window, not by the named buffers).
    pub(crate) nb: Option<NamedBuffer>,
    pub(crate) bytes: u64,
    /// p2p: the buffer's hold records with the stream offset of each one's first byte.
    pub(crate) recs: Vec<(u64, HoldRec)>,
}

/// p2p: a held buflet chain (one segment) and the stream bytes it holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chain {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) head: u16,
}

/// One socket's receive stream held in named buffers, and its file writer.
pub struct NasStream {
    pub(crate) sock: u16,
    pub(crate) posted: HashMap<u32, NamedBuffer>,
    pub(crate) returned: BTreeMap<u64, Returned>,
    /// Stream offset of the end of data, once FIN was seen.
    pub eof: Option<u64>,
    /// Stream bytes written to disk or discarded: their named buffers can be re-posted.
    pub(crate) done: RangeSet,
    pub(crate) ops: Vec<Op>,
    pub(crate) next_id: u32,
    pub(crate) mode: WriteMode,
    pub(crate) max_retries: u32,
    pub(crate) max_commands: usize,
    /// `TIMEOUT` (timer ticks, 0 = never) of every named buffer this stream posts.
    pub(crate) nb_timeout: u32,
    pub(crate) zero_tail_at_eof: bool,
    pub(crate) stats: WriteStats,
    /// Errors reported by the device for this stream (NB returns with a bad status).
    pub errors: Vec<Completion>,
    /// The peer reset the connection (a buffer came back with flag RST): the stream ends at
    /// [`NasStream::eof`], abnormally.
    pub reset: bool,
    /// The socket was deleted (a buffer came back with flag DELETE): buffers are no longer
    /// re-posted, and those returned empty are freed.
    pub deleted: bool,
    /// The socket is a hold socket (p2p): buffers carry hold records.
    pub(crate) hold: bool,
    /// Buflet size of the device (p2p addresses).
    pub(crate) buflet_bytes: u32,
    /// p2p: held chains not yet released, in stream order.
    pub(crate) chains: VecDeque<Chain>,
    /// p2p: stream offset where the segment whose closing record has not come yet begins.
    pub(crate) chain_start: u64,
    /// p2p: after a `SOCK_DEL`, bytes from here on belonged to a segment the device freed;
    /// they are not used.
    pub(crate) hold_end: Option<u64>,
    /// p2p: `BUF_RELEASE` requests in flight, by tag: their heads.
    pub(crate) releasing: HashMap<u32, Vec<u16>>,
    /// The driver knew the socket at [`NasStream::start`], so its deletion can be noticed.
    pub(crate) known: bool,
    /// Received bytes copied out of their named buffers ([`NasStream::bounce`]), by stream
    /// offset: reads and writes of them use the copy, and the buffers can be posted again.
    pub(crate) bounced: BTreeMap<u64, Bounce>,
}

/// Stream bytes `[key, key + len)` copied into an I/O buffer of the driver at `addr`
/// (`alloc` bytes, page aligned).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounce {
    pub(crate) addr: u64,
    pub(crate) len: u64,
    pub(crate) alloc: u64,
}

impl NasStream {
    /// Allocate `count` named buffers of `pages` host pages each and designate them to `sock`.
    /// The writer starts in [`WriteMode::P2p`] when `sock` is a hold socket (added with
    /// `sock_flag::HOLD`: its buffers receive hold records, `pages` bounds the payload per
    /// buffer and the records), else in [`WriteMode::ZeroCopy`]; with [`DEFAULT_MAX_RETRIES`].
    pub fn start(
        drv: &mut Driver,
        sock: u16,
        count: usize,
        pages: usize,
    ) -> Result<Self, DriverError> {
        Self::start_with_timeout(drv, sock, count, pages, 0)
    }

    /// [`NasStream::start`] with every named buffer posted (and re-posted) with `TIMEOUT`
    /// `nb_timeout` timer ticks: a buffer comes back partly filled, or empty, when the data
    /// stops, instead of waiting until it is full or a PSH or FIN comes.
    pub fn start_with_timeout(
        drv: &mut Driver,
        sock: u16,
        count: usize,
        pages: usize,
        nb_timeout: u32,
    ) -> Result<Self, DriverError> {
        let flags = drv.socket_flags(sock);
        let hold = flags.is_some_and(|f| f.contains(SockFlags::HOLD));
        if hold && pages > MAX_HOLD_NB_PAGES {
            return Err(DriverError::Invalid(
                "a hold socket's named buffer has at most 127 pages (nb_desc.RECS is 16 bits)",
            ));
        }
        let mut s = NasStream {
            sock,
            posted: HashMap::new(),
            returned: BTreeMap::new(),
            eof: None,
            done: RangeSet::default(),
            ops: Vec::new(),
            next_id: 1,
            mode: if hold {
                WriteMode::P2p
            } else {
                WriteMode::ZeroCopy
            },
            max_retries: DEFAULT_MAX_RETRIES,
            max_commands: DEFAULT_MAX_COMMANDS,
            nb_timeout,
            zero_tail_at_eof: true,
            stats: WriteStats::default(),
            errors: Vec::new(),
            reset: false,
            deleted: false,
            hold,
            buflet_bytes: drv.info.buflet_bytes,
            chains: VecDeque::new(),
            chain_start: 0,
            hold_end: None,
            releasing: HashMap::new(),
            known: flags.is_some(),
            bounced: BTreeMap::new(),
        };
        for _ in 0..count {
            let nb = drv.alloc_nb(pages)?;
            drv.post_nb(sock, &nb, nb_timeout)?;
            s.posted.insert(nb.ref_num, nb);
        }
        Ok(s)
    }

    /// Socket this stream belongs to.
    pub fn sock(&self) -> u16 {
        self.sock
    }

    /// How writes submitted from now on move their bytes (writes already submitted keep theirs).
    /// The mode must fit the socket, which [`NasStream::start`] saw: [`WriteMode::P2p`] only on
    /// a hold socket, every other mode only on a socket without `HOLD`
    /// ([`WriteError::ModeMismatch`] otherwise, and the mode is unchanged).
    pub fn set_mode(&mut self, mode: WriteMode) -> Result<(), WriteError> {
        if mode.needs_hold() != self.hold {
            return Err(WriteError::ModeMismatch {
                mode,
                hold: self.hold,
                why: if self.hold {
                    "the payload stays in the NIC's buflets, only p2p writes it"
                } else {
                    "p2p needs a socket added with sock_flag::HOLD (SocketSpec::with_hold)"
                },
            });
        }
        self.mode = mode;
        Ok(())
    }

    /// Whether the stream's socket is a hold socket (p2p).
    pub fn is_hold(&self) -> bool {
        self.hold
    }

    /// p2p: held chains not yet released (their buflets are not free on the NIC), and
    /// `BUF_RELEASE` requests not yet completed.
    pub fn held_chains(&self) -> (usize, usize) {
        (self.chains.len(), self.releasing.len())
    }

    /// The current write mode.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    /// Retries of a block command that failed with `DISK_ERROR` at the same block, before the
    /// write fails (default [`DEFAULT_MAX_RETRIES`]; 0 = no retry).
    pub fn set_max_retries(&mut self, n: u32) {
        self.max_retries = n;
    }

    /// The retry limit.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// Block commands kept outstanding at most (default [`DEFAULT_MAX_COMMANDS`], at least 1).
    pub fn set_max_commands(&mut self, n: usize) {
        self.max_commands = n.max(1);
    }

    /// Whether a write that ends exactly at the end of the stream (FIN seen) writes the rest of
    /// its last block as zeros instead of reading the old bytes: the stream is the file, and
    /// bytes past a file's end are zeros on a file system. On by default; off, every partial
    /// block is read-modify-write.
    pub fn set_zero_tail_at_eof(&mut self, on: bool) {
        self.zero_tail_at_eof = on;
    }

    /// The writer's counters.
    pub fn stats(&self) -> WriteStats {
        self.stats.clone()
    }

    /// Bytes of the stream received contiguously from offset 0 (held in named buffers, or
    /// already written or discarded).
    pub fn received(&self) -> u64 {
        let mut pos = 0;
        let lim = self.hold_end.unwrap_or(u64::MAX);
        loop {
            if let Some(e) = self.done.run_end(pos).or_else(|| self.bounce_end(pos)) {
                pos = e;
                continue;
            }
            match self.returned.range(..=pos).next_back() {
                Some((&o, r)) if pos < o + r.bytes && pos < lim => pos = (o + r.bytes).min(lim),
                _ => return pos,
            }
        }
    }

    /// Bytes of the stream from offset 0 that are on disk or were discarded
    /// ([`NasStream::discard`]).
    pub fn written(&self) -> u64 {
        self.done.prefix()
    }

    /// Writes submitted and not yet completed (queued or running).
    pub fn writes_in_flight(&self) -> usize {
        self.ops.len()
    }

    /// Tags of the device requests in flight whose completions [`NasStream::handle`] matches by
    /// tag (the block commands' `BLK_DONE`, the p2p releases' `CMD_DONE`), appended to `out`.
    pub fn pending_tags(&self, out: &mut Vec<u32>) {
        out.extend(
            self.ops
                .iter()
                .filter_map(|o| o.cmd.as_ref().map(|k| k.tag)),
        );
        out.extend(self.releasing.keys().copied());
    }

    /// Block commands outstanding at the device.
    pub fn commands_in_flight(&self) -> usize {
        self.ops.iter().filter(|o| o.cmd.is_some()).count()
    }

    /// Capacity of the named buffers posted and not yet returned.
    pub fn posted_bytes(&self) -> u64 {
        self.posted.values().map(|n| n.bytes as u64).sum()
    }

    /// Named buffers posted and not yet returned.
    pub fn posted_count(&self) -> usize {
        self.posted.len()
    }

    /// Named buffers returned and still held (their bytes are not all written or discarded, or
    /// a write in flight uses them).
    pub fn held_count(&self) -> usize {
        self.returned.len()
    }

    /// Read received stream bytes with the CPU (for example a NAS protocol header), without
    /// consuming them. Counted as CPU reads of host memory; on a p2p stream the bytes stay in
    /// the NIC and are read through its buflet-memory window ([`Driver::dev_read`], MMIO: no
    /// host-DRAM crossing).
    pub fn peek(
        &self,
        drv: &mut Driver,
        stream_off: u64,
        out: &mut [u8],
    ) -> Result<(), WriteError> {
        let end = stream_off
            .checked_add(out.len() as u64)
            .ok_or(WriteError::Unsupported("stream offset overflows"))?;
        let page = drv.info.page_bytes as u64;
        let mut pos = stream_off;
        while pos < end {
            let (src, n) = self.locate(pos, end, page)?;
            let at = (pos - stream_off) as usize;
            let dst = &mut out[at..at + n as usize];
            if self.hold {
                drv.dev_read(src, dst).map_err(WriteError::Driver)?;
            } else {
                drv.env
                    .mem
                    .read(Agent::Cpu, src, dst)
                    .map_err(|e| WriteError::Driver(DriverError::Mem(e)))?;
            }
            pos += n;
        }
        Ok(())
    }

    /// Host address of stream byte `pos` and how many bytes from there lie in the same page
    /// of the same named buffer (at most up to `end`). p2p: the device (buflet memory) address
    /// and the bytes from there in the same hold record.
    pub(crate) fn locate(&self, pos: u64, end: u64, page: u64) -> Result<(u64, u64), WriteError> {
        if let Some((&b, k)) = self.bounced.range(..=pos).next_back() {
            if pos < b + k.len {
                let addr = k.addr + (pos - b);
                let n = (page - addr % page).min(b + k.len - pos).min(end - pos);
                return Ok((addr, n));
            }
        }
        if self.hold_end.is_some_and(|l| pos >= l) {
            return Err(WriteError::NotReceived(pos, end));
        }
        let (&nb_off, r) = self
            .returned
            .range(..=pos)
            .next_back()
            .filter(|(&o, r)| pos < o + r.bytes)
            .ok_or(WriteError::NotReceived(pos, end))?;
        if self.hold {
            let k = r.recs.partition_point(|(o, _)| *o <= pos);
            let (o, rec) = r
                .recs
                .get(k.wrapping_sub(1))
                .ok_or(WriteError::NotReceived(pos, end))?;
            let rec_end = o + rec.len as u64;
            if pos >= rec_end {
                return Err(WriteError::NotReceived(pos, end));
            }
            let n = (rec_end - pos).min(end - pos);
            return Ok((rec.dev_addr(self.buflet_bytes) + (pos - o), n));
        }
        let in_nb = pos - nb_off;
        let pg = (in_nb / page) as usize;
        let in_pg = in_nb % page;
        let n = (page - in_pg).min(nb_off + r.bytes - pos).min(end - pos);
        let addr =
            r.nb.as_ref()
                .and_then(|nb| nb.pages.get(pg))
                .ok_or(WriteError::NotReceived(pos, end))?;
        Ok((addr + in_pg, n))
    }

    /// The application is done with stream bytes `[stream_off, stream_off+len)` without writing
    /// them (for example NAS protocol headers): once every byte of a named buffer is written or
    /// discarded, and no write in flight uses it, the buffer is posted again. Discarded bytes
    /// count in [`NasStream::received`] and [`NasStream::written`] (bytes discarded before they
    /// arrive release their buffer as soon as it comes back). Discarding the range of a write
    /// in flight lets its buffers go once it finishes, even if it fails.
    pub fn discard(
        &mut self,
        drv: &mut Driver,
        stream_off: u64,
        len: u64,
    ) -> Result<(), DriverError> {
        self.note_deleted(drv);
        self.done.insert(stream_off, stream_off.saturating_add(len));
        self.recycle(drv)
    }

    /// The application needs no stream byte below `upto` any more (headers parsed, data handed
    /// to writes): [`NasStream::discard`] of `[0, upto)`. Writes already submitted keep their
    /// bytes until they finish.
    pub fn consume(&mut self, drv: &mut Driver, upto: u64) -> Result<(), DriverError> {
        self.discard(drv, 0, upto)
    }

    /// The socket was deleted ([`Driver::del_socket`]; noticed by itself at the next
    /// [`NasStream::handle`], [`NasStream::write`] or [`NasStream::discard`] once the driver no
    /// longer knows the socket): buffers are no longer re-posted, and on a p2p stream the bytes
    /// of a segment the device had only partly delivered (its records carry no `HEAD`; the
    /// device freed its chain) are no longer used: the stream ends before them.
    pub fn socket_deleted(&mut self) {
        self.deleted = true;
        if self.hold {
            let lim = self.hold_end.unwrap_or(u64::MAX).min(self.chain_start);
            self.hold_end = Some(lim);
        }
    }

    pub(crate) fn note_deleted(&mut self, drv: &Driver) {
        if self.known && !self.deleted && drv.socket_flags(self.sock).is_none() {
            self.socket_deleted();
        }
    }

    /// Feed a completion. Returns true if it belonged to this stream.
    ///
    /// A named buffer comes back with its bytes at its stream offset; with flag FIN or RST the
    /// stream ends after them (RST also sets [`NasStream::reset`]); with flag DELETE (the socket
    /// was deleted) it is kept only if it holds bytes, and nothing is re-posted from then on.
    /// A `BLK_DONE` of one of this stream's block commands advances its write: the next
    /// command, a retry, or the write's callback.
    pub fn handle(&mut self, drv: &mut Driver, c: &Completion) -> Result<bool, DriverError> {
        self.note_deleted(drv);
        if c.kind == CplKind::NbReturn && c.sock_ref == self.sock {
            let Some(nb) = self.posted.remove(&c.ref_num) else {
                return Ok(false);
            };
            if c.status != Status::Ok {
                self.errors.push(*c);
            }
            if c.has(CplFlags::RST) {
                self.reset = true;
            }
            if c.has(CplFlags::DELETE) {
                self.deleted = true;
            }
            if c.has(CplFlags::FIN | CplFlags::RST) {
                self.eof = Some(c.stream_off + c.bytes as u64);
            }
            let recs = if self.hold && c.bytes > 0 {
                match drv.read_hold_records(&nb, c.bytes) {
                    Ok(r) => r,
                    Err(e) => {
                        self.errors.push(*c);
                        drv.free_nb(nb);
                        return Err(e);
                    }
                }
            } else {
                Vec::new()
            };
            self.stats.hold_records += recs.len() as u64;
            let mut at = c.stream_off;
            let recs: Vec<(u64, HoldRec)> = recs
                .into_iter()
                .map(|r| {
                    let o = at;
                    at += r.len as u64;
                    if let Some(head) = r.held_head() {
                        self.chains.push_back(Chain {
                            start: self.chain_start,
                            end: at,
                            head,
                        });
                        self.chain_start = at;
                    }
                    (o, r)
                })
                .collect();
            if c.has(CplFlags::DELETE) {
                // The device freed the segment still on the socket: its records (HEAD 0xFFFF)
                // must not be used.
                self.socket_deleted();
            }
            if c.bytes > 0 {
                let nb = if self.hold {
                    // p2p: the records are read; the buffer goes back to the NIC now. Were it
                    // kept until its bytes are done with, a peer pushing small PDUs (each
                    // PSH returns a buffer) would use every buffer while the bytes wait,
                    // and nothing more could be delivered.
                    let repost = self.eof.is_none() && !self.deleted;
                    self.release(drv, nb, repost)?;
                    None
                } else {
                    Some(nb)
                };
                self.returned.insert(
                    c.stream_off,
                    Returned {
                        nb,
                        bytes: c.bytes as u64,
                        recs,
                    },
                );
                // Bytes discarded before they arrived.
                self.recycle(drv)?;
            } else {
                let repost = self.eof.is_none() && !self.deleted;
                self.release(drv, nb, repost)?;
            }
            return Ok(true);
        }
        if c.kind == CplKind::CmdDone {
            if self.releasing.remove(&c.tag).is_none() {
                return Ok(false);
            }
            if !c.is_ok() {
                // BAD_BUF: a head the device does not hold (a driver error); BYTES heads were
                // released before it, the rest stay held on the device.
                self.errors.push(*c);
            }
            return Ok(true);
        }
        if c.kind == CplKind::BlkDone {
            let Some(i) = self
                .ops
                .iter()
                .position(|o| o.cmd.as_ref().is_some_and(|k| k.tag == c.tag))
            else {
                return Ok(false);
            };
            self.advance(drv, i, c);
            self.schedule(drv);
            self.recycle(drv)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Re-post (or free, once the stream ended) every returned buffer whose bytes are all
    /// written, discarded or bounced and that no unfinished write reads; give back the
    /// bounced copies no longer needed.
    pub(crate) fn recycle(&mut self, drv: &mut Driver) -> Result<(), DriverError> {
        let free: Vec<u64> = self
            .returned
            .iter()
            .filter(|(&off, r)| {
                let end = off + r.bytes;
                // Bytes of the buffer a write reads: not those it reads from copies.
                self.not_in_nb(off, end)
                    && !self.ops.iter().any(|o| {
                        let (lo, hi) = (off.max(o.stream_off), end.min(o.stream_off + o.len));
                        lo < hi && !self.all_bounced(lo, hi)
                    })
            })
            .map(|(&off, _)| off)
            .collect();
        for off in free {
            if let Some(nb) = self.returned.remove(&off).and_then(|r| r.nb) {
                let repost = self.eof.is_none() && !self.deleted;
                self.release(drv, nb, repost)?;
            }
        }
        if !self.bounced.is_empty() {
            self.free_bounced(drv);
        }
        self.release_chains(drv)
    }
}
