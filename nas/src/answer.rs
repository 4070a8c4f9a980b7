//! The NAS's answers to its client over the NIC's send side (docs/tcp-transmit.md, "The NAS
//! answers"): BFW1 `WRITE_ACK` records, each sent once the record's data is durable on the
//! block device, and `READ_DATA` records answering `READ`s, zero-copy, in request order.
//!
//! - **Headers** (24 bytes) are written by the CPU into a header page and posted by reference
//!   (`TX_POST` of that page; no bounce copy). With [`Cow::Aware`] the NAS asks the driver's
//!   copy-on-write table ([`Driver::is_marked`]) and writes each header into a page the NIC no
//!   longer owns (seed 002); with [`Cow::Naive`] it rewrites one page in place right after
//!   posting it, and takes a copy-on-write fault whenever the NIC still owns it (the NIC keeps
//!   sending the old contents, so the client still gets the right bytes).
//! - **Read data** is read by the block engine (`BLK_READ`, whole blocks, [`READ_CHUNK`] bytes
//!   at a time) into pages the NAS owns, and posted from there by reference (`FIRST_OFF` for an
//!   offset inside a block): one host-DRAM crossing when the block engine writes a byte, one
//!   when the NIC reads it. The pages go back to the NAS's pool with the post's `TX_DONE`;
//!   the pool hands out a page only when the table says the NIC does not own it.
//!
//! At most [`MAX_POSTS`] answers are in the NIC at once; one refused with `NO_POST` (the NIC's
//! post table full) is sent again in its place.

use std::collections::VecDeque;

use buflet_driver::regcache::Perms;
use buflet_driver::{Completion, CplKind, Driver, DriverError};
use buflet_platform::{Agent, MemStats};
use buflet_spec::{sg_elem, sg_list, Opcode, SgElem, SgFlags, Status};

use crate::framed::{header_of, Kind, HDR};
use crate::{FileMap, WriteMode};

/// Answers posted and not yet acknowledged, at most.
pub const MAX_POSTS: usize = 64;
/// File bytes per block read and per data post of a `READ_DATA` record.
pub const READ_CHUNK: u64 = 64 * 1024;
/// Host pages the read pool holds at most (its pages are allocated as reads need them).
pub const READ_POOL_PAGES: usize = 256;
/// Host buflets the NAS asks for in p2p mode (at most half the pool).
pub const P2P_HOST_BUFLETS: usize = 64;
/// Block reads in flight at most.
pub const MAX_READS: usize = 4;
/// Chunks waiting to be posted that may hold pool pages (read, or being copied), at most.
pub const READ_WINDOW: usize = 6;
/// Times a block read is issued again after failures in a row at the same block before the
/// answer path gives up.
pub const READ_RETRIES: u32 = 3;

/// How the NAS picks the page it writes an answer's header into (seed 002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cow {
    /// Look the copy-on-write table up and write only into pages the NIC does not own: no
    /// copy-on-write fault.
    #[default]
    Aware,
    /// Rewrite one page in place right after posting it: a copy-on-write fault each time the
    /// NIC still owns the page (counted; the bytes sent are still right).
    Naive,
}

impl std::str::FromStr for Cow {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "aware" => Ok(Cow::Aware),
            "naive" => Ok(Cow::Naive),
            _ => Err(format!("cow policy {s:?} (expected naive or aware)")),
        }
    }
}

/// Failures of the answer path.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The driver failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The NIC refused or gave back an answer, or a read could not be served.
    #[error("an answer to the client was not sent: {0}")]
    Refused(String),
}

/// What the answer path did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct AnswerStats {
    /// `WRITE_ACK` records queued.
    pub write_acks: u64,
    /// `READ` requests served (their `READ_DATA` header queued).
    pub reads: u64,
    /// File bytes the `READ_DATA` records carry.
    pub read_bytes: u64,
    /// Bytes the block engine read into the read pool (whole blocks).
    pub blk_read_bytes: u64,
    /// Block reads issued again after a failure.
    pub read_retries: u64,
    /// Posts the client acknowledged (their `TX_DONE` came back OK).
    pub posts_done: u64,
    /// Answers sent again after the NIC's post table was full (`NO_POST`).
    pub reposts: u64,
    /// Header pages the NAS used ([`Cow::Aware`] grows the set while the NIC owns pages).
    pub header_pages: u64,
    /// Most read-pool pages in use at once.
    pub read_pages_peak: u64,
    /// Bytes the CPU copied for the copy modes (whole pages).
    pub cpu_copied_bytes: u64,
}

/// A chunk of a `READ_DATA` record's data on its way to the client.
#[derive(Debug)]
struct Chunk {
    /// File offset of the first byte, and bytes.
    file_off: u64,
    len: u64,
    /// The chunk ends its record (PSH).
    last: bool,
    /// Pool pages holding the chunk's blocks (empty until its read starts).
    pages: Vec<u64>,
    state: ChunkState,
    tries: u32,
    /// CPU copies still to make once the blocks are in (the copy modes), each into fresh
    /// pages: page cache -> socket buffer (splice), page cache -> application buffer ->
    /// socket buffer (copy).
    copies: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// No pages yet.
    Waiting,
    /// `BLK_READ` in flight: its tag, its SG list (address, bytes), and the element it
    /// started at (after a failure, the list is issued again from the failed block).
    Reading {
        tag: u32,
        sg: u64,
        sg_bytes: u64,
        from: usize,
    },
    /// The pages hold the blocks.
    Ready,
}

/// One answer in order.
#[derive(Debug)]
enum Item {
    /// A record header.
    Hdr([u8; HDR as usize]),
    /// Data following a `READ_DATA` header.
    Data(Chunk),
}

/// The answer queue of one connection.
pub struct Answers {
    sock: u16,
    cow: Cow,
    /// How read data moves from the disk to the NIC.
    mode: WriteMode,
    /// p2p: the read pool is the host buflets (device addresses), not host pages.
    dev: bool,
    /// Bytes of one pool entry (a host page, or a buflet), and of one SG element.
    unit: u64,
    piece: u64,
    /// Entries the pool may hold.
    pool_max: usize,
    page: u64,
    block: u64,
    /// Pages headers are written into ([`Cow::Naive`]: only the first).
    hdr_pages: Vec<u64>,
    /// Read-pool pages not in use (host pages: the block engine's targets, and the copy
    /// modes' socket buffers), and pages allocated so far.
    pool_free: Vec<u64>,
    pool_total: usize,
    /// Answers in order, not yet posted.
    queue: VecDeque<Item>,
    /// Posted answers by tag, oldest first (a `TX_DONE` covers the oldest ones).
    posted: VecDeque<(u32, Item)>,
    /// The first failure.
    failure: Option<String>,
    /// Host memory counters when the first read started (the read direction's baseline).
    pub mem_at_first_read: Option<MemStats>,
    /// Counters.
    pub stats: AnswerStats,
}

impl Answers {
    /// Answers on socket `sock`, picking header pages by `cow`, moving read data as `mode`
    /// says: [`WriteMode::ZeroCopy`] sends the pages the block engine read into (2 host-DRAM
    /// crossings per byte), [`WriteMode::Splice`] first copies them into socket-buffer pages
    /// with the CPU (4), [`WriteMode::Copy`] through an application buffer as well (6).
    /// [`WriteMode::P2p`] (blocks read into buflets and sent from there) is refused: it is not
    /// built.
    pub fn new(
        drv: &mut Driver,
        sock: u16,
        cow: Cow,
        mode: WriteMode,
    ) -> Result<Self, AnswerError> {
        let page = drv.info.page_bytes as u64;
        let block = drv.info.block_bytes as u64;
        if block == 0 || !page.is_multiple_of(block) || page > 65536 {
            return Err(AnswerError::Refused(format!(
                "reads need pages of whole blocks ({page}-byte pages, {block}-byte blocks)"
            )));
        }
        let dev = mode == WriteMode::P2p;
        let (unit, pool_free, pool_max) = if dev {
            // The host buflets are the read pool (docs/p2p.md, "p2p reads").
            let bb = u64::from(drv.info.buflet_bytes);
            if bb % buflet_spec::param::DEV_ALIGN != 0
                || !(block.is_multiple_of(bb) || bb.is_multiple_of(block))
            {
                return Err(AnswerError::Refused(format!(
                    "p2p reads need buflets of whole DEV_ALIGN units that tile blocks ({bb}-byte buflets, {block}-byte blocks)"
                )));
            }
            let n = (P2P_HOST_BUFLETS as u32).min(drv.info.num_buflets / 2);
            let host = drv.set_host_buflets(n)?;
            let free: Vec<u64> = host.map(|b| u64::from(b) * bb).collect();
            let max = free.len();
            (bb, free, max)
        } else {
            (page, Vec::new(), READ_POOL_PAGES)
        };
        Ok(Answers {
            sock,
            cow,
            mode,
            dev,
            unit,
            piece: unit.min(block),
            pool_max,
            pool_total: if dev { pool_max } else { 0 },
            page,
            block,
            hdr_pages: Vec::new(),
            pool_free,
            queue: VecDeque::new(),
            posted: VecDeque::new(),
            failure: None,
            mem_at_first_read: None,
            stats: AnswerStats::default(),
        })
    }

    /// Queue a `WRITE_ACK` for `len` bytes at `file_off`.
    pub fn write_ack(&mut self, len: u64, file_off: u64) {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.queue
            .push_back(Item::Hdr(header_of(Kind::WriteAck, len, file_off)));
        self.stats.write_acks += 1;
    }

    /// Queue the answer to a `READ` of `len` bytes at `file_off` (every earlier write is
    /// durable): its `READ_DATA` header, then its data in chunks that end on
    /// [`READ_CHUNK`] boundaries of the file.
    pub fn read(&mut self, drv: &mut Driver, len: u64, file_off: u64) {
        if self.mem_at_first_read.is_none() {
            self.mem_at_first_read = Some(drv.env.mem.stats());
        }
        let l32 = u32::try_from(len).unwrap_or(u32::MAX);
        self.queue
            .push_back(Item::Hdr(header_of(Kind::ReadData, l32, file_off)));
        self.stats.reads += 1;
        self.stats.read_bytes += len;
        let end = file_off + len;
        let mut at = file_off;
        while at < end {
            let next = ((at / READ_CHUNK + 1) * READ_CHUNK).min(end);
            self.queue.push_back(Item::Data(Chunk {
                file_off: at,
                len: next - at,
                last: next == end,
                pages: Vec::new(),
                state: ChunkState::Waiting,
                tries: 0,
                copies: 0,
            }));
            at = next;
        }
    }

    /// Start the block reads the pool has room for, then hand the NIC the answers at the
    /// front of the queue that are ready, as many as it has room for.
    pub fn flush(&mut self, drv: &mut Driver, file: &dyn FileMap) -> Result<(), AnswerError> {
        if self.failure.is_some() {
            return Ok(());
        }
        self.start_reads(drv, file)?;
        self.copy_chunks(drv)?;
        while self.posted.len() < MAX_POSTS {
            let ready = match self.queue.front() {
                None => false,
                Some(Item::Hdr(_)) => true,
                Some(Item::Data(c)) => c.state == ChunkState::Ready && c.copies == 0,
            };
            if !ready {
                break;
            }
            let Some(item) = self.queue.pop_front() else {
                break;
            };
            let tag = match &item {
                Item::Hdr(h) => {
                    let p = self.header_page(drv)?;
                    drv.env
                        .mem
                        .write(Agent::Cpu, p, h)
                        .map_err(DriverError::from)?;
                    // A header of a READ_DATA with data waits for the data (no PSH).
                    let psh = !(Kind::of(h[16]) == Some(Kind::ReadData)
                        && u32::from_le_bytes([h[4], h[5], h[6], h[7]]) > 0);
                    let frame = drv.env.mem.cpu_phys(p);
                    drv.tx_post_pages(self.sock, &[frame], 0, HDR as u32, psh)?
                }
                Item::Data(c) if self.dev => {
                    // Host buflets, by device address; a first buflet the data does not reach
                    // is left out of the list (it goes back with the chunk).
                    let first_off = c.file_off % self.block;
                    let skip = (first_off / self.unit) as usize;
                    let buflets: Vec<u16> = c.pages[skip..]
                        .iter()
                        .map(|&a| (a / self.unit) as u16)
                        .collect();
                    let off = (first_off % self.unit) as u16;
                    drv.tx_post_dev(self.sock, &buflets, off, c.len as u32, c.last)?
                }
                Item::Data(c) => {
                    let first_off = (c.file_off % self.block) as u16;
                    drv.tx_post_pages(self.sock, &c.pages, first_off, c.len as u32, c.last)?
                }
            };
            self.posted.push_back((tag, item));
        }
        Ok(())
    }

    /// The page the next header is written into.
    fn header_page(&mut self, drv: &mut Driver) -> Result<u64, AnswerError> {
        let pick = match self.cow {
            Cow::Naive => self.hdr_pages.first().copied(),
            Cow::Aware => self
                .hdr_pages
                .iter()
                .copied()
                .find(|&p| !drv.is_marked(p, HDR)),
        };
        if let Some(p) = pick {
            return Ok(p);
        }
        let p =
            drv.env.mem.alloc(self.page, self.page).map_err(|e| {
                AnswerError::Refused(format!("no host memory for a header page: {e}"))
            })?;
        self.hdr_pages.push(p);
        self.stats.header_pages += 1;
        Ok(p)
    }

    /// Start the block reads of waiting chunks, in order, while the pool and the read limit
    /// allow.
    fn start_reads(&mut self, drv: &mut Driver, file: &dyn FileMap) -> Result<(), AnswerError> {
        let mut reading = self.reads_in_flight();
        let mut data_items = 0;
        for i in 0..self.queue.len() {
            if reading >= MAX_READS {
                break;
            }
            if matches!(self.queue[i], Item::Data(_)) {
                // Only the first READ_WINDOW chunks not yet posted hold pages: a chunk the CPU
                // still has to copy always finds pool pages once the posts ahead return.
                data_items += 1;
                if data_items > READ_WINDOW {
                    break;
                }
            }
            let (file_off, len) = match &self.queue[i] {
                Item::Data(c) if c.state == ChunkState::Waiting => (c.file_off, c.len),
                _ => continue,
            };
            let b0 = file_off / self.block * self.block;
            let b1 = (file_off + len).div_ceil(self.block) * self.block;
            let npages = (b1 - b0).div_ceil(self.unit) as usize;
            let Some(pages) = self.take_pages(drv, npages)? else {
                break;
            };
            // One SG element per block, or per buflet when a buflet is smaller (p2p): its disk
            // address and its place in the pool entries.
            let mut elems = Vec::new();
            for x in (0..b1 - b0).step_by(self.piece as usize) {
                let off = b0 + x;
                let Some(disk) = file.disk_addr(off - off % self.block) else {
                    self.give_pages(pages);
                    let msg = format!(
                        "a READ reaches file offset {off}, beyond the file's extent on disk"
                    );
                    self.failure.get_or_insert(msg.clone());
                    return Err(AnswerError::Refused(msg));
                };
                elems.push(SgElem {
                    src_addr: pages[(x / self.unit) as usize] + x % self.unit,
                    len: self.piece as u32,
                    flags: if self.dev {
                        SgFlags::DEVMEM
                    } else {
                        SgFlags::empty()
                    },
                    disk_addr: disk + off % self.block,
                    next: 0,
                });
            }
            let sg_bytes = (elems.len() * sg_elem::SIZE) as u64;
            let sg = drv.io_buf_alloc(sg_bytes, 64)?;
            drv.env
                .mem
                .write(Agent::Cpu, sg, &sg_list(sg, &elems))
                .map_err(DriverError::from)?;
            drv.reg_acquire(sg, sg_bytes, Perms::READ)?;
            if !self.dev {
                for &p in &pages {
                    drv.reg_acquire(p, self.page, Perms::RW)?;
                }
            }
            let tag = drv.blk_read(sg, elems.len() as u32, (b1 - b0) as u32)?;
            self.stats.blk_read_bytes += b1 - b0;
            if let Item::Data(c) = &mut self.queue[i] {
                c.pages = pages;
                c.state = ChunkState::Reading {
                    tag,
                    sg,
                    sg_bytes,
                    from: 0,
                };
            }
            reading += 1;
        }
        Ok(())
    }

    /// The copy modes: the CPU copies each chunk that is in into fresh pool pages, as many
    /// times as its mode copies, while the pool has pages (the pages copied from go back).
    fn copy_chunks(&mut self, drv: &mut Driver) -> Result<(), AnswerError> {
        for i in 0..self.queue.len() {
            let n = match &self.queue[i] {
                Item::Data(c) if c.state == ChunkState::Ready && c.copies > 0 => c.pages.len(),
                _ => continue,
            };
            while matches!(&self.queue[i], Item::Data(c) if c.copies > 0) {
                let Some(to) = self.take_pages(drv, n)? else {
                    return Ok(());
                };
                let Item::Data(c) = &mut self.queue[i] else {
                    break;
                };
                for (&src, &dst) in c.pages.iter().zip(&to) {
                    drv.env
                        .mem
                        .cpu_copy(src, dst, self.page as usize)
                        .map_err(DriverError::from)?;
                }
                c.copies -= 1;
                self.stats.cpu_copied_bytes += n as u64 * self.page;
                let from = std::mem::replace(&mut c.pages, to);
                self.give_pages(from);
            }
        }
        Ok(())
    }

    /// `n` pages from the pool (allocated while it is below [`READ_POOL_PAGES`]), none of
    /// them marked in the copy-on-write table; `None` when there are not enough now.
    fn take_pages(&mut self, drv: &mut Driver, n: usize) -> Result<Option<Vec<u64>>, AnswerError> {
        // Host pages the NIC still reads are marked in the copy-on-write table (host
        // buflets are not host memory: they come back only with their post's TX_DONE).
        let usable: Vec<usize> = (0..self.pool_free.len())
            .filter(|&i| self.dev || !drv.is_marked(self.pool_free[i], self.page))
            .take(n)
            .collect();
        let more = n - usable.len();
        if more > self.pool_max - self.pool_total {
            if n > self.pool_max {
                return Err(AnswerError::Refused(format!(
                    "a read chunk needs {n} pool entries, more than the pool's {}",
                    self.pool_max
                )));
            }
            return Ok(None);
        }
        let mut out: Vec<u64> = usable
            .iter()
            .rev()
            .map(|&i| self.pool_free.remove(i))
            .collect();
        out.reverse();
        for _ in 0..more {
            let p = drv.env.mem.alloc(self.page, self.page).map_err(|e| {
                AnswerError::Refused(format!("no host memory for the read pool: {e}"))
            })?;
            self.pool_total += 1;
            out.push(p);
        }
        let in_use = (self.pool_total - self.pool_free.len()) as u64;
        self.stats.read_pages_peak = self.stats.read_pages_peak.max(in_use);
        Ok(Some(out))
    }

    fn give_pages(&mut self, pages: Vec<u64>) {
        self.pool_free.extend(pages);
    }

    /// Take a completion that concerns the answers (`TX_DONE` of this socket, a refused
    /// `TX_POST`, a block read's `BLK_DONE`); `false` when it is not one.
    pub fn handle(&mut self, drv: &mut Driver, c: &Completion) -> bool {
        match c.kind {
            CplKind::BlkDone => self.blk_done(drv, c),
            CplKind::TxDone if c.sock_ref == self.sock => {
                // One completion covers the oldest `ref_num` posts.
                for _ in 0..c.ref_num {
                    let Some((_, item)) = self.posted.pop_front() else {
                        break;
                    };
                    if let Item::Data(ch) = item {
                        self.give_pages(ch.pages);
                    }
                }
                if c.status == Status::Ok {
                    self.stats.posts_done += u64::from(c.ref_num);
                } else {
                    self.failure.get_or_insert(format!(
                        "{} answers came back {:?}: the connection ended before the client had them",
                        c.ref_num, c.status
                    ));
                }
                true
            }
            CplKind::CmdDone if c.sock_ref == self.sock && c.opcode == Opcode::TxPost.code() => {
                if let Some(i) = self.posted.iter().position(|p| p.0 == c.tag) {
                    let Some((_, item)) = self.posted.remove(i) else {
                        return true;
                    };
                    if c.status == Status::NoPost {
                        // The NIC's post table was full: send it again, in its place.
                        self.queue.push_front(item);
                        self.stats.reposts += 1;
                    } else {
                        if let Item::Data(ch) = item {
                            self.give_pages(ch.pages);
                        }
                        self.failure
                            .get_or_insert(format!("the NIC refused an answer: {:?}", c.status));
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// A `BLK_DONE`: if it ends one of the chunk reads, the chunk is ready (or read again).
    fn blk_done(&mut self, drv: &mut Driver, c: &Completion) -> bool {
        let page = self.page;
        let Some(ch) = self.queue.iter_mut().find_map(|i| match i {
            Item::Data(ch) if matches!(ch.state, ChunkState::Reading { tag, .. } if tag == c.tag) => {
                Some(ch)
            }
            _ => None,
        }) else {
            return false;
        };
        let ChunkState::Reading {
            sg, sg_bytes, from, ..
        } = ch.state
        else {
            return false;
        };
        // The blocks before the failed one are in: a retry reads from the failed block on,
        // and a retry that made progress starts the count again.
        let per_block = (self.block / self.piece) as usize;
        let done = (u64::from(c.bytes) / self.block) as usize * per_block;
        let elems = (sg_bytes / sg_elem::SIZE as u64) as usize - from;
        if done > 0 {
            ch.tries = 0;
        }
        if c.status != Status::Ok && ch.tries < READ_RETRIES && done < elems {
            ch.tries += 1;
            self.stats.read_retries += 1;
            let from = from + done;
            let count = (sg_bytes / sg_elem::SIZE as u64) as usize - from;
            let bytes = (count as u64 * self.piece) as u32;
            match drv.blk_read(sg + (from * sg_elem::SIZE) as u64, count as u32, bytes) {
                Ok(tag) => {
                    ch.state = ChunkState::Reading {
                        tag,
                        sg,
                        sg_bytes,
                        from,
                    };
                    return true;
                }
                Err(e) => {
                    self.failure
                        .get_or_insert(format!("a block read could not be issued again: {e}"));
                }
            }
        }
        let _ = drv.reg_release(sg, sg_bytes);
        drv.io_buf_free(sg, sg_bytes, 64);
        if !self.dev {
            for &p in &ch.pages {
                let _ = drv.reg_release(p, page);
            }
        }
        if c.status == Status::Ok {
            ch.state = ChunkState::Ready;
            ch.copies = match self.mode {
                WriteMode::Splice => 1,
                WriteMode::Copy => 2,
                _ => 0,
            };
        } else {
            let msg = format!(
                "the block read of file bytes {}..{} failed with {:?} after {} retries",
                ch.file_off,
                ch.file_off + ch.len,
                c.status,
                ch.tries
            );
            ch.state = ChunkState::Waiting;
            let pages = std::mem::take(&mut ch.pages);
            self.give_pages(pages);
            self.failure.get_or_insert(msg);
        }
        true
    }

    /// Every answer queued so far has been sent and acknowledged by the client.
    pub fn idle(&self) -> bool {
        self.queue.is_empty() && self.posted.is_empty()
    }

    /// Block reads in flight.
    pub fn reads_in_flight(&self) -> usize {
        self.queue
            .iter()
            .filter(|i| matches!(i, Item::Data(c) if matches!(c.state, ChunkState::Reading { .. })))
            .count()
    }

    /// The first failure, if any.
    pub fn failed(&self) -> Option<String> {
        self.failure.clone()
    }

    /// Tags of the block reads in flight (their `BLK_DONE`s are matched by tag), appended to
    /// `out`.
    pub fn pending_tags(&self, out: &mut Vec<u32>) {
        out.extend(self.queue.iter().filter_map(|i| match i {
            Item::Data(c) => match c.state {
                ChunkState::Reading { tag, .. } => Some(tag),
                _ => None,
            },
            _ => None,
        }));
    }
}
