//! The NAS writer (seed 000): file ranges of the stream to disk blocks through the block DMA
//! engine, with read-modify-write for partial blocks, per-block ordering and retries.

use crate::plan::{self, Extent, SgPlan};
use crate::stream::{Cmd, NasStream, Op, OpState};
use crate::MAX_WRITE_BYTES;
use crate::{BlockOp, FileMap, WriteCallback, WriteError, WriteMode};
use buflet_driver::regcache::Perms;
use buflet_driver::{Completion, Driver, DriverError};
use buflet_platform::Agent;
use buflet_spec::{sg_elem, sg_list, SgElem, SgFlags, Status};

impl NasStream {
    /// Write stream bytes `[stream_off, stream_off+len)` to `file` at `file_off`, in the
    /// stream's [`WriteMode`]. Returns the write's id; `cb` is called exactly once, from a later
    /// [`NasStream::handle`] (or from this call when the write fails to start), with the write's
    /// length or a [`WriteError`]. When this call returns an error the write was not accepted
    /// and `cb` is dropped uncalled.
    ///
    /// Any offset and length: whole aligned blocks go straight from the named buffers; partial
    /// blocks are read-modify-write (the old bytes they keep are read with `OP_BLK_READ`).
    /// A write that ends at the end of the stream writes zeros after its end in its last block
    /// instead ([`NasStream::set_zero_tail_at_eof`]). The stream range must have been received;
    /// the stream holds it until the write completes, and marks it written on success (its
    /// named buffers are then re-posted). A write sharing a disk block with an earlier
    /// unfinished write waits for it.
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
        let page = drv.info.page_bytes as u64;
        self.note_deleted(drv);
        if len == 0 {
            return Err(WriteError::Unsupported("zero length"));
        }
        if len > MAX_WRITE_BYTES {
            return Err(WriteError::Unsupported("longer than MAX_WRITE_BYTES"));
        }
        let (Some(end), Some(file_end)) = (stream_off.checked_add(len), file_off.checked_add(len))
        else {
            return Err(WriteError::Unsupported("offset plus length overflows"));
        };
        if file_end.checked_add(block).is_none() {
            return Err(WriteError::Unsupported("file offset too large"));
        }
        let mode = self.mode;
        if mode.needs_hold() != self.hold {
            return Err(WriteError::ModeMismatch {
                mode,
                hold: self.hold,
                why: "the stream's mode and socket disagree",
            });
        }
        let zero_tail = self.zero_tail_at_eof && self.eof == Some(end);
        let paged = matches!(mode, WriteMode::Splice | WriteMode::Copy);
        let plans = plan::blocks(file_off, len, block, zero_tail, paged, |off| {
            file.disk_addr(off)
        })
        .map_err(WriteError::Unmapped)?;
        if plans.iter().any(|p| p.disk % 512 != 0) {
            return Err(WriteError::Unsupported(
                "file block not sector aligned on disk",
            ));
        }
        // Where the bytes lie: pieces inside one page of one named buffer and one block.
        let mut extents = Vec::new();
        let mut pos = stream_off;
        while pos < end {
            let (src, n) = self.locate(pos, end, page)?;
            let f = file_off + (pos - stream_off);
            let n = n.min(block - f % block);
            extents.push(Extent {
                src,
                len: n,
                file: f,
                dev: self.hold,
            });
            pos += n;
        }
        let mut keys: Vec<u64> = plans.iter().map(|p| p.disk).collect();
        keys.sort_unstable();
        keys.dedup();
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.ops.push(Op {
            file_off,
            len,
            stream_off,
            mode,
            plans,
            keys,
            extents,
            cb: Some(cb),
            state: OpState::Queued,
            host: None,
            cmd: None,
            waited: false,
        });
        self.schedule(drv);
        Ok(id)
    }

    /// Start every queued write that shares no block with an earlier unfinished write, within
    /// the command limit.
    pub(crate) fn schedule(&mut self, drv: &mut Driver) {
        let mut i = 0;
        while i < self.ops.len() {
            if self.ops[i].state != OpState::Queued {
                i += 1;
                continue;
            }
            if self.commands_in_flight() >= self.max_commands {
                return;
            }
            if self.ops[..i].iter().any(|o| o.shares_block(&self.ops[i])) {
                if !self.ops[i].waited {
                    self.ops[i].waited = true;
                    self.stats.serialized += 1;
                }
                i += 1;
                continue;
            }
            match self.begin(drv, i) {
                Ok(()) => i += 1,
                Err(e) => self.finish(drv, i, Err(e)), // removes op i
            }
        }
    }

    /// Start write `i`: its host blocks, the CPU copies of the copy modes, then its block read
    /// (read-modify-write) or straight its block write.
    pub(crate) fn begin(&mut self, drv: &mut Driver, i: usize) -> Result<(), WriteError> {
        let block = drv.info.block_bytes as u64;
        let mem = |e| WriteError::Driver(DriverError::Mem(e));
        let nslots = plan::slots(&self.ops[i].plans) as u64;
        if nslots > 0 {
            let bytes = nslots * block;
            let a = drv.io_buf_alloc(bytes, block)?;
            if let Err(e) = drv.reg_acquire(a, bytes, Perms::RW) {
                drv.io_buf_free(a, bytes, block);
                return Err(e.into());
            }
            self.ops[i].host = Some((a, bytes));
        }
        let op = &self.ops[i];
        let host = op.host.map_or(0, |h| h.0);
        let first = op.plans.first().map_or(0, |p| p.file);
        match op.mode {
            WriteMode::ZeroCopy | WriteMode::P2p => {}
            WriteMode::Splice => {
                // Kernel buffer (named buffer) -> page cache.
                for e in &op.extents {
                    drv.env
                        .mem
                        .cpu_copy(e.src, host + (e.file - first), e.len as usize)
                        .map_err(mem)?;
                }
                self.stats.cpu_copied += op.len;
            }
            WriteMode::Copy => {
                // Kernel buffer (named buffer) -> application buffer -> page cache.
                let app = drv.env.mem.alloc(op.len, 64).map_err(mem)?;
                let copied = op
                    .extents
                    .iter()
                    .try_for_each(|e| {
                        drv.env
                            .mem
                            .cpu_copy(e.src, app + (e.file - op.file_off), e.len as usize)
                    })
                    .and_then(|()| {
                        drv.env
                            .mem
                            .cpu_copy(app, host + (op.file_off - first), op.len as usize)
                    });
                drv.env.mem.free(app);
                copied.map_err(mem)?;
                self.stats.cpu_copied += 2 * op.len;
            }
        }
        let read = plan::read_list(&op.plans, block, host);
        if read.blocks.is_empty() {
            self.submit_write(drv, i)
        } else {
            for &(_, b) in &read.blocks {
                self.stats.rmw_blocks += 1;
                self.stats.rmw_kept_bytes += self.ops[i].plans[b].kept(block);
            }
            let host = self.ops[i].host;
            let cmd = self.submit(drv, BlockOp::Read, read, host)?;
            self.ops[i].cmd = Some(cmd);
            self.ops[i].state = OpState::Reading;
            Ok(())
        }
    }

    pub(crate) fn submit_write(&mut self, drv: &mut Driver, i: usize) -> Result<(), WriteError> {
        let block = drv.info.block_bytes as u64;
        let op = &self.ops[i];
        let host = op.host.map_or(0, |h| h.0);
        let sg = match op.mode {
            WriteMode::ZeroCopy | WriteMode::P2p => {
                plan::write_list_zero_copy(&op.plans, &op.extents, block, host)
            }
            WriteMode::Splice | WriteMode::Copy => {
                plan::write_list_page_cache(&op.plans, block, host)
            }
        };
        let host = self.ops[i].host;
        let cmd = self.submit(drv, BlockOp::Write, sg, host)?;
        self.ops[i].cmd = Some(cmd);
        self.ops[i].state = OpState::Writing;
        Ok(())
    }

    /// Lay a list out in host memory (descriptor bytes only), acquire it and the named buffer
    /// pages it reads in the registration cache, and submit it whole. `host` is the write's
    /// own bounce or page-cache blocks (acquired by the write itself).
    pub(crate) fn submit(
        &mut self,
        drv: &mut Driver,
        op: BlockOp,
        sg: SgPlan,
        host: Option<(u64, u64)>,
    ) -> Result<Cmd, WriteError> {
        let mem = |e| WriteError::Driver(DriverError::Mem(e));
        let used = (sg.elems.len() * sg_elem::SIZE) as u64;
        let sg_bytes = used.max(SG_BUF_MIN).next_power_of_two();
        let sg_addr = drv.io_buf_alloc(sg_bytes, 64)?;
        let elems: Vec<SgElem> = sg
            .elems
            .iter()
            .map(|e| SgElem {
                src_addr: e.src,
                // the planner cuts elements at block boundaries: LEN <= BLOCK_BYTES
                len: e.len as u32,
                flags: if e.zero {
                    SgFlags::ZERO
                } else if e.dev {
                    SgFlags::DEVMEM
                } else {
                    SgFlags::empty()
                },
                disk_addr: e.disk,
                next: 0,
            })
            .collect();
        let list = sg_list(sg_addr, &elems);
        if let Err(e) = drv.env.mem.write(Agent::Cpu, sg_addr, &list) {
            drv.io_buf_free(sg_addr, sg_bytes, 64);
            return Err(mem(e));
        }
        let page = drv.info.page_bytes as u64;
        let mut want = vec![(sg_addr, sg_bytes, Perms::READ)];
        want.extend(
            plan::pages_outside(&sg.elems, page, host)
                .into_iter()
                .map(|p| (p, page, Perms::READ)),
        );
        let mut held = Vec::with_capacity(want.len());
        for (a, n, p) in want {
            match drv.reg_acquire(a, n, p) {
                Ok(_) => held.push((a, n)),
                Err(e) => {
                    for (a, n) in held {
                        let _ = drv.reg_release(a, n);
                    }
                    drv.io_buf_free(sg_addr, sg_bytes, 64);
                    return Err(e.into());
                }
            }
        }
        let mut cmd = Cmd {
            op,
            tag: 0,
            sg,
            sg_addr,
            sg_bytes,
            held,
            start: 0,
            fail_block: None,
            tries: 0,
        };
        match self.issue(drv, &mut cmd, 0) {
            Ok(()) => Ok(cmd),
            Err(e) => {
                free_list(drv, &cmd);
                Err(e)
            }
        }
    }

    /// Submit `cmd`'s list from its block `from` to the end.
    pub(crate) fn issue(
        &mut self,
        drv: &mut Driver,
        cmd: &mut Cmd,
        from: usize,
    ) -> Result<(), WriteError> {
        let block = drv.info.block_bytes as u64;
        let first = cmd.sg.blocks[from].0;
        let addr = cmd.sg_addr + (first * sg_elem::SIZE) as u64;
        let count = (cmd.sg.elems.len() - first) as u32;
        let bytes = ((cmd.sg.blocks.len() - from) as u64 * block) as u32;
        cmd.tag = match cmd.op {
            BlockOp::Read => drv.blk_read(addr, count, bytes)?,
            BlockOp::Write => drv.blk_write(addr, count, bytes)?,
        };
        self.stats.dev_bytes += cmd.sg.elems[first..]
            .iter()
            .filter(|e| e.dev)
            .map(|e| e.len)
            .sum::<u64>();
        cmd.start = from;
        self.stats.commands += 1;
        Ok(())
    }

    /// A block command of write `i` completed.
    pub(crate) fn advance(&mut self, drv: &mut Driver, i: usize, c: &Completion) {
        let block = drv.info.block_bytes as u64;
        let Some(mut cmd) = self.ops[i].cmd.take() else {
            return;
        };
        let at = cmd.start + (c.bytes as u64 / block) as usize;
        if c.status == Status::Ok {
            free_list(drv, &cmd);
            let next = match cmd.op {
                BlockOp::Read => self.submit_write(drv, i),
                BlockOp::Write => {
                    let len = self.ops[i].len;
                    self.finish(drv, i, Ok(len));
                    return;
                }
            };
            if let Err(e) = next {
                self.finish(drv, i, Err(e));
            }
            return;
        }
        // A medium error or a device that did not answer in time: the block is tried again
        // (after DISK_TIMEOUT the device no longer touches the command's host memory).
        let retry =
            matches!(c.status, Status::DiskError | Status::DiskTimeout) && at < cmd.sg.blocks.len();
        if retry {
            if cmd.fail_block == Some(at) {
                cmd.tries += 1;
            } else {
                cmd.fail_block = Some(at);
                cmd.tries = 1;
            }
        }
        if retry && cmd.tries <= self.max_retries {
            self.stats.retries += 1;
            match self.issue(drv, &mut cmd, at) {
                Ok(()) => self.ops[i].cmd = Some(cmd),
                Err(e) => {
                    free_list(drv, &cmd);
                    self.finish(drv, i, Err(e));
                }
            }
            return;
        }
        let op = &self.ops[i];
        let file_end = op.file_off + op.len;
        let file_start = match cmd.op {
            BlockOp::Read => op.file_off,
            BlockOp::Write => cmd
                .sg
                .blocks
                .get(at)
                .map_or(op.file_off, |&(_, b)| op.plans[b].file.max(op.file_off)),
        };
        let err = WriteError::Block {
            op: cmd.op,
            status: c.status,
            attempts: cmd.tries.max(1),
            file_start,
            file_end,
        };
        free_list(drv, &cmd);
        self.finish(drv, i, Err(err));
    }

    /// Write `i` is over: free its host memory, mark its stream range written on success, and
    /// call its callback.
    pub(crate) fn finish(&mut self, drv: &mut Driver, i: usize, r: Result<u64, WriteError>) {
        let mut op = self.ops.remove(i);
        if let Some(cmd) = op.cmd.take() {
            free_list(drv, &cmd);
        }
        if let Some((a, n)) = op.host.take() {
            let _ = drv.reg_release(a, n);
            drv.io_buf_free(a, n, drv.info.block_bytes as u64);
        }
        match &r {
            Ok(_) => {
                self.stats.writes_ok += 1;
                self.stats.bytes_written += op.len;
                self.done.insert(op.stream_off, op.stream_off + op.len);
            }
            Err(_) => self.stats.writes_failed += 1,
        }
        if let Some(cb) = op.cb.take() {
            cb(r);
        }
    }
}

/// The command is over: release what it held (it stays registered in the cache) and retire
/// its list's buffer for reuse.
fn free_list(drv: &mut Driver, cmd: &Cmd) {
    for &(a, n) in &cmd.held {
        let _ = drv.reg_release(a, n);
    }
    drv.io_buf_free(cmd.sg_addr, cmd.sg_bytes, 64);
}

/// Smallest scatter-gather list buffer: lists are laid out in power-of-two buffers from this
/// size up, so a later command of a similar size reuses a registered buffer.
const SG_BUF_MIN: u64 = 256;

impl Drop for NasStream {
    /// Writes still unfinished report [`WriteError::Aborted`] (their host memory stays with the
    /// driver's allocator).
    fn drop(&mut self) {
        for op in &mut self.ops {
            if let Some(cb) = op.cb.take() {
                cb(Err(WriteError::Aborted));
            }
        }
    }
}
