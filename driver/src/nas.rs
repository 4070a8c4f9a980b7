//! The NAS application's receive side and its zero-copy write (seed 000).
//!
//! A [`NasStream`] owns one socket's named buffers. Received data stays where the NIC's DMA put
//! it; [`NasStream::write`] maps the file offset to disk addresses through a [`FileMap`], builds
//! a linked scatter-gather list straight over the named buffers' host pages, and hands it to the
//! block-controller DMA engine. The CPU copies no payload byte.

use crate::{Completion, Driver, DriverError, NamedBuffer};
use buflet_platform::Agent;
use buflet_spec::{self as spec, cpl_flag, cpl_kind, put, sg_elem};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Where a file's bytes live on the block device.
pub trait FileMap {
    /// Disk byte address of file offset `off` (a multiple of the block size), if mapped.
    fn disk_addr(&self, off: u64) -> Option<u64>;
}

/// A file stored as one contiguous extent of the disk.
#[derive(Debug, Clone, Copy)]
pub struct ExtentFile {
    /// Disk byte address of file offset 0 (block aligned).
    pub disk_start: u64,
    /// Largest file size the extent holds.
    pub capacity: u64,
}

impl FileMap for ExtentFile {
    fn disk_addr(&self, off: u64) -> Option<u64> {
        (off < self.capacity).then_some(self.disk_start + off)
    }
}

/// Why a zero-copy write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Offset or length is not what the zero-copy path supports yet.
    #[error("unsupported write: {0}")]
    Unsupported(&'static str),
    /// Part of the requested stream range has not been received.
    #[error("stream bytes {0}..{1} have not been received")]
    NotReceived(u64, u64),
    /// The file map has no disk address for an offset.
    #[error("file offset {0} is not mapped to the disk")]
    Unmapped(u64),
    /// The block engine completed the write with an error status.
    #[error("block write failed with status {0} ({name})", name = crate::status_name(*.0))]
    Device(u8),
    /// The driver failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
}

/// Called when a write finishes: bytes written, or the error.
pub type WriteCallback = Box<dyn FnOnce(Result<u64, WriteError>)>;

struct PendingWrite {
    tag: u32,
    stream_end: u64,
    sg_addr: u64,
    sg_bytes: u64,
    cb: WriteCallback,
}

struct Returned {
    nb: NamedBuffer,
    bytes: u64,
}

/// One socket's receive stream held in named buffers.
pub struct NasStream {
    sock: u16,
    posted: HashMap<u32, NamedBuffer>,
    returned: BTreeMap<u64, Returned>,
    /// Stream offset of the end of data, once FIN was seen.
    pub eof: Option<u64>,
    writes: VecDeque<PendingWrite>,
    written_upto: u64,
    /// Errors reported by the device for this stream (NB returns with a bad status).
    pub errors: Vec<Completion>,
    /// The peer reset the connection (a buffer came back with flag RST): the stream ends at
    /// [`NasStream::eof`], abnormally.
    pub reset: bool,
    /// The socket was deleted (a buffer came back with flag DELETE): buffers are no longer
    /// re-posted, and those returned empty are freed.
    pub deleted: bool,
}

impl NasStream {
    /// Allocate `count` named buffers of `pages` host pages each and designate them to `sock`.
    pub fn start(
        drv: &mut Driver,
        sock: u16,
        count: usize,
        pages: usize,
    ) -> Result<Self, DriverError> {
        let mut s = NasStream {
            sock,
            posted: HashMap::new(),
            returned: BTreeMap::new(),
            eof: None,
            writes: VecDeque::new(),
            written_upto: 0,
            errors: Vec::new(),
            reset: false,
            deleted: false,
        };
        for _ in 0..count {
            let nb = drv.alloc_nb(pages)?;
            drv.post_nb(sock, &nb, 0)?;
            s.posted.insert(nb.ref_num, nb);
        }
        Ok(s)
    }

    /// Socket this stream belongs to.
    pub fn sock(&self) -> u16 {
        self.sock
    }

    /// Bytes of the stream received contiguously from offset 0.
    pub fn received(&self) -> u64 {
        let mut end = self.written_upto;
        for (&off, r) in &self.returned {
            if off > end {
                break;
            }
            end = end.max(off + r.bytes);
        }
        end
    }

    /// Bytes of the stream known to be on disk.
    pub fn written(&self) -> u64 {
        self.written_upto
    }

    /// Writes submitted and not yet completed.
    pub fn writes_in_flight(&self) -> usize {
        self.writes.len()
    }

    /// Capacity of the named buffers posted and not yet returned.
    pub fn posted_bytes(&self) -> u64 {
        self.posted.values().map(|n| n.bytes as u64).sum()
    }

    /// Named buffers posted and not yet returned.
    pub fn posted_count(&self) -> usize {
        self.posted.len()
    }

    /// Feed a completion. Returns true if it belonged to this stream.
    ///
    /// A named buffer comes back with its bytes at its stream offset; with flag FIN or RST the
    /// stream ends after them (RST also sets [`NasStream::reset`]); with flag DELETE (the socket
    /// was deleted) it is kept only if it holds bytes, and nothing is re-posted from then on.
    pub fn handle(&mut self, drv: &mut Driver, c: &Completion) -> Result<bool, DriverError> {
        if c.kind == cpl_kind::NB_RETURN as u8 && c.sock_ref == self.sock {
            let Some(nb) = self.posted.remove(&c.ref_num) else {
                return Ok(false);
            };
            if c.status != 0 {
                self.errors.push(c.clone());
            }
            let end_flags = (cpl_flag::FIN | cpl_flag::RST) as u32;
            if c.flags & cpl_flag::RST as u32 != 0 {
                self.reset = true;
            }
            if c.flags & cpl_flag::DELETE as u32 != 0 {
                self.deleted = true;
            }
            if c.flags & end_flags != 0 {
                self.eof = Some(c.stream_off + c.bytes as u64);
            }
            if c.bytes > 0 {
                self.returned.insert(
                    c.stream_off,
                    Returned {
                        nb,
                        bytes: c.bytes as u64,
                    },
                );
            } else {
                let repost = self.eof.is_none() && !self.deleted;
                self.release(drv, nb, repost)?;
            }
            return Ok(true);
        }
        if c.kind == cpl_kind::BLK_DONE as u8 {
            let Some(i) = self.writes.iter().position(|w| w.tag == c.tag) else {
                return Ok(false);
            };
            let w = self.writes.remove(i).expect("index from position");
            drv.env.mem.unregister(w.sg_addr, w.sg_bytes);
            drv.env.mem.free(w.sg_addr);
            if c.status == 0 {
                self.written_upto = self.written_upto.max(w.stream_end);
                (w.cb)(Ok(c.bytes as u64));
            } else {
                (w.cb)(Err(WriteError::Device(c.status)));
            }
            self.recycle(drv)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Re-post every returned buffer whose bytes are all on disk (until the stream ended).
    fn recycle(&mut self, drv: &mut Driver) -> Result<(), DriverError> {
        while let Some((&off, r)) = self.returned.iter().next() {
            if off + r.bytes > self.written_upto {
                break;
            }
            let r = self.returned.remove(&off).expect("key just seen");
            let repost = self.eof.is_none() && !self.deleted;
            self.release(drv, r.nb, repost)?;
        }
        Ok(())
    }

    fn release(
        &mut self,
        drv: &mut Driver,
        nb: NamedBuffer,
        repost: bool,
    ) -> Result<(), DriverError> {
        if repost {
            drv.post_nb(self.sock, &nb, 0)?;
            self.posted.insert(nb.ref_num, nb);
        } else {
            drv.free_nb(nb);
        }
        Ok(())
    }

    /// Zero-copy write of stream bytes `[stream_off, stream_off+len)` to `file` at `file_off`.
    ///
    /// `file_off` must be block aligned; `len` must be whole blocks unless the range ends at
    /// the end of the stream, in which case the last block is padded with zeros by the block
    /// engine (a ZERO element, so no host memory is read for it). `cb` reports the result.
    pub fn write(
        &mut self,
        drv: &mut Driver,
        file: &dyn FileMap,
        file_off: u64,
        stream_off: u64,
        len: u64,
        cb: WriteCallback,
    ) -> Result<u32, WriteError> {
        let block = drv.info.block_bytes as u64;
        if !file_off.is_multiple_of(block) {
            return Err(WriteError::Unsupported(
                "file offset not block aligned (read-modify-write comes later)",
            ));
        }
        if len == 0 {
            return Err(WriteError::Unsupported("zero length"));
        }
        let at_eof = self.eof == Some(stream_off + len);
        if !len.is_multiple_of(block) && !at_eof {
            return Err(WriteError::Unsupported(
                "partial block before the end of the stream",
            ));
        }
        // Collect (host address, length) extents covering the range, split at page and block edges.
        let page = drv.info.page_bytes as u64;
        let mut extents: Vec<(u64, u64, u32)> = Vec::new();
        let mut pos = stream_off;
        let end = stream_off + len;
        while pos < end {
            let (&nb_off, r) = self
                .returned
                .range(..=pos)
                .next_back()
                .filter(|(&o, r)| pos < o + r.bytes)
                .ok_or(WriteError::NotReceived(pos, end))?;
            let in_nb = pos - nb_off;
            let pg = (in_nb / page) as usize;
            let in_pg = in_nb % page;
            let file_pos = file_off + (pos - stream_off);
            let n = (page - in_pg)
                .min(nb_off + r.bytes - pos)
                .min(end - pos)
                .min(block - file_pos % block);
            extents.push((r.nb.pages[pg] + in_pg, n, 0));
            pos += n;
        }
        let tail = (block - len % block) % block;
        if tail > 0 {
            extents.push((0, tail, spec::sg_flag::ZERO as u32));
        }
        // Build the linked scatter-gather list in host memory (descriptor bytes only).
        let sg_bytes = (extents.len() * sg_elem::SIZE) as u64;
        let sg_addr = drv
            .env
            .mem
            .alloc(sg_bytes, 64)
            .map_err(|e| WriteError::Driver(DriverError::Mem(e)))?;
        let mut list = vec![0u8; sg_bytes as usize];
        let mut disk_pos = 0u64;
        for (i, &(src, n, flags)) in extents.iter().enumerate() {
            let e = &mut list[i * sg_elem::SIZE..(i + 1) * sg_elem::SIZE];
            let off = file_off + disk_pos;
            let disk = file
                .disk_addr(off - off % block)
                .ok_or(WriteError::Unmapped(off))?
                + off % block;
            put(e, sg_elem::SRC_ADDR, src);
            put(e, sg_elem::LEN, n);
            put(e, sg_elem::FLAGS, flags as u64);
            put(e, sg_elem::DISK_ADDR, disk);
            let next = if i + 1 < extents.len() {
                sg_addr + ((i + 1) * sg_elem::SIZE) as u64
            } else {
                0
            };
            put(e, sg_elem::NEXT, next);
            disk_pos += n;
        }
        drv.env
            .mem
            .write(Agent::Cpu, sg_addr, &list)
            .map_err(|e| WriteError::Driver(DriverError::Mem(e)))?;
        drv.env.mem.register(sg_addr, sg_bytes);
        let total = len + tail;
        let tag = drv.blk_write(sg_addr, extents.len() as u32, total as u32)?;
        self.writes.push_back(PendingWrite {
            tag,
            stream_end: end,
            sg_addr,
            sg_bytes,
            cb,
        });
        Ok(tag)
    }
}
