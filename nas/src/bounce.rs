//! Bouncing: received bytes copied out of their named buffers when the application needs them
//! later but the socket needs the buffers now.
//!
//! A peer that pushes small segments returns a named buffer with every PSH, so a buffer may
//! hold only a few hundred bytes. When the application must see a range whole before it can
//! go on (the iSCSI target comparing data-out with the medium) and every buffer is back and
//! held by a part of that range, nothing more can be delivered: the range never comes whole.
//! [`NasStream::bounce`] breaks this: the CPU copies the part that is in to an I/O buffer of
//! the driver, peeks and writes of those bytes use the copy from then on, and the named
//! buffers go back to the NIC. A zero-copy path pays for it only in that case (the copy is
//! counted in [`crate::WriteStats::bounced_bytes`]); a p2p stream never holds its buffers.

use crate::stream::{Bounce, NasStream};
use crate::WriteError;
use buflet_driver::{Driver, DriverError};

impl NasStream {
    /// Copy the received bytes of `[stream_off, stream_off + len)` that lie in named buffers
    /// (not yet written or discarded, not read by a write in flight, not already bounced) to
    /// host I/O buffers, so the buffers can be posted again once nothing else holds them.
    /// Later [`NasStream::peek`]s and [`NasStream::write`]s of the range read the copies,
    /// which go back once the range is written or discarded. Returns the bytes copied (0 on a
    /// p2p stream, whose buffers go back at once anyway).
    pub fn bounce(
        &mut self,
        drv: &mut Driver,
        stream_off: u64,
        len: u64,
    ) -> Result<u64, WriteError> {
        if self.hold || len == 0 {
            return Ok(0);
        }
        let end = stream_off
            .checked_add(len)
            .ok_or(WriteError::Unsupported("stream offset overflows"))?;
        let page = u64::from(drv.info.page_bytes);
        // What must stay where it is: bytes done with, bounced already, or read by a write.
        let mut keep: Vec<(u64, u64)> = self
            .ops
            .iter()
            .map(|o| (o.stream_off, o.stream_off + o.len))
            .collect();
        keep.extend(self.bounced.iter().map(|(&b, k)| (b, b + k.len)));
        keep.extend(self.done.overlapping(stream_off, end));
        keep.retain(|&(s, e)| s < end && e > stream_off);
        keep.sort_unstable();
        // The received runs inside named buffers, less what stays.
        let runs: Vec<(u64, u64)> = self
            .returned
            .range(..end)
            .filter(|(&o, r)| r.nb.is_some() && o + r.bytes > stream_off)
            .map(|(&o, r)| (o.max(stream_off), (o + r.bytes).min(end)))
            .collect();
        let mut pieces = Vec::new();
        for (mut pos, hi) in runs {
            for &(s, e) in &keep {
                if e <= pos || s >= hi {
                    continue;
                }
                if s > pos {
                    pieces.push((pos, s));
                }
                pos = pos.max(e);
            }
            if pos < hi {
                pieces.push((pos, hi));
            }
        }
        let mut copied = 0;
        for (s, e) in pieces {
            let n = e - s;
            let alloc = n.div_ceil(page) * page;
            let addr = drv.io_buf_alloc(alloc, page)?;
            let mut pos = s;
            while pos < e {
                let (src, k) = match self.locate(pos, e, page) {
                    Ok(x) => x,
                    Err(err) => {
                        drv.io_buf_free(addr, alloc, page);
                        return Err(err);
                    }
                };
                if let Err(err) = drv.env.mem.cpu_copy(src, addr + (pos - s), k as usize) {
                    drv.io_buf_free(addr, alloc, page);
                    return Err(WriteError::Driver(DriverError::Mem(err)));
                }
                pos += k;
            }
            self.bounced.insert(
                s,
                Bounce {
                    addr,
                    len: n,
                    alloc,
                },
            );
            copied += n;
        }
        self.stats.bounced_bytes += copied;
        self.recycle(drv)?;
        Ok(copied)
    }

    /// End of the bounced piece holding `pos`, if any.
    pub(crate) fn bounce_end(&self, pos: u64) -> Option<u64> {
        self.bounced
            .range(..=pos)
            .next_back()
            .map(|(&b, k)| b + k.len)
            .filter(|&e| e > pos)
    }

    /// Whether every byte of `[s, e)` was bounced.
    pub(crate) fn all_bounced(&self, s: u64, e: u64) -> bool {
        self.covered(s, e, false)
    }

    /// Whether every byte of `[s, e)` is done with or bounced (its named buffer is not needed
    /// for it).
    pub(crate) fn not_in_nb(&self, s: u64, e: u64) -> bool {
        self.covered(s, e, true)
    }

    /// Whether the bounced pieces (and, with `done`, the bytes done with) cover `[s, e)`.
    fn covered(&self, s: u64, e: u64, done: bool) -> bool {
        let mut pos = s;
        while pos < e {
            let run = done.then(|| self.done.run_end(pos)).flatten();
            match run.or_else(|| self.bounce_end(pos)) {
                Some(x) => pos = x,
                None => return false,
            }
        }
        true
    }

    /// Give back the copies whose bytes are all written or discarded and that no unfinished
    /// write reads.
    pub(crate) fn free_bounced(&mut self, drv: &mut Driver) {
        let free: Vec<u64> = self
            .bounced
            .iter()
            .filter(|(&b, k)| {
                let e = b + k.len;
                self.done.covers(b, e)
                    && !self
                        .ops
                        .iter()
                        .any(|o| o.stream_off < e && b < o.stream_off + o.len)
            })
            .map(|(&b, _)| b)
            .collect();
        for b in free {
            if let Some(k) = self.bounced.remove(&b) {
                drv.io_buf_free(k.addr, k.alloc, u64::from(drv.info.page_bytes));
            }
        }
    }

    /// The stream is over (no write in flight): give back every copy.
    pub fn free_bounces(&mut self, drv: &mut Driver) {
        let page = u64::from(drv.info.page_bytes);
        for (_, k) in std::mem::take(&mut self.bounced) {
            drv.io_buf_free(k.addr, k.alloc, page);
        }
    }

    /// Stream bytes held in copies now.
    pub fn bounced_bytes(&self) -> u64 {
        self.bounced.values().map(|k| k.len).sum()
    }
}
