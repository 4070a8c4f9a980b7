//! The request and completion rings: submitting entries, collecting completions (phase bits,
//! `CPL_TAIL`, the interrupt), and waiting for a request's own completion.

use crate::*;

impl Driver {
    pub(crate) fn tag(&mut self) -> u32 {
        let t = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1).max(1);
        t
    }

    /// Put one 64-byte entry on the request ring and ring the doorbell. Waits for ring space.
    /// When the driver programs the protection table, the region requests that bring it in
    /// line with the registration cache go first.
    pub fn submit(&mut self, entry: &[u8; 64]) -> Result<(), DriverError> {
        self.prot_sync()?;
        self.submit_raw(entry)
    }

    /// [`Driver::submit`] without the protection table update.
    pub(crate) fn submit_raw(&mut self, entry: &[u8; 64]) -> Result<(), DriverError> {
        let mut waited = 0;
        while self.req_tail.wrapping_sub(self.req_head_cache) >= REQ_ENTRIES {
            self.req_head_cache = self.rd(reg::REQ_HEAD);
            if self.req_tail.wrapping_sub(self.req_head_cache) < REQ_ENTRIES {
                break;
            }
            // The device may be waiting for completion ring space before it takes more
            // requests: collect what it posted (kept, in order, for the next wait).
            if self.dev.irq() {
                self.backlog = self.completions()?;
            }
            self.run(POLL_STEP);
            waited += POLL_STEP;
            if waited > 10_000_000 {
                return Err(DriverError::Timeout(waited, "request ring space"));
            }
        }
        let slot = (self.req_tail % REQ_ENTRIES) as u64;
        self.env.mem.write(
            Agent::Cpu,
            self.req_base + slot * req_hdr::SIZE as u64,
            entry,
        )?;
        self.req_tail = self.req_tail.wrapping_add(1);
        self.wr(reg::REQ_TAIL, self.req_tail);
        Ok(())
    }

    /// Collect every completion the device has posted, then acknowledge them and the interrupt.
    ///
    /// The driver reads the producer index `CPL_TAIL` and then exactly the entries before it
    /// (each checked by its phase bit), so host memory is read only for entries that exist: the
    /// CPU's DRAM traffic is 32 bytes per completion whatever the polling rhythm. The interrupt
    /// is cleared only once the ring is empty, and `CPL_TAIL` is read again after clearing it,
    /// so a completion posted meanwhile is never left behind without an interrupt.
    ///
    /// The `CMD_DONE` of the protection table requests the driver issues itself are not
    /// returned; if one is not OK, this call returns [`DriverError::Request`] and the
    /// completions it collected come with the next call.
    pub fn completions(&mut self) -> Result<Vec<Completion>, DriverError> {
        let mut out = std::mem::take(&mut self.backlog);
        let head0 = self.cpl_head;
        let mut tail = self.rd(reg::CPL_TAIL);
        let mut cleared = false;
        loop {
            let mut landed = true;
            while self.cpl_head != tail {
                let slot = (self.cpl_head % CPL_ENTRIES) as u64;
                let phase = 1 - ((self.cpl_head / CPL_ENTRIES) & 1) as u8;
                let addr = self.cpl_base + slot * cpl::SIZE as u64;
                let mut e = [0u8; cpl::SIZE];
                self.env.mem.read(Agent::Cpu, addr, &mut e)?;
                let c = Completion::parse(&e)?;
                if c.phase != phase {
                    // Counted by CPL_TAIL but its bytes have not landed yet: keep the
                    // interrupt pending and look again on the next call.
                    landed = false;
                    break;
                }
                self.cpl_head = self.cpl_head.wrapping_add(1);
                if c.kind == CplKind::CmdDone && self.prot_tags.remove(&c.tag) {
                    if !c.is_ok() && self.prot_err.is_none() {
                        self.prot_err = Some((c.opcode, c.tag, c.status));
                    }
                    continue;
                }
                self.release_held(&c);
                out.push(c);
            }
            if !landed || (cleared && tail == self.cpl_head) {
                break;
            }
            if !self.dev.irq() && out.is_empty() {
                break;
            }
            self.wr(reg::IRQ_STATUS, 1);
            cleared = true;
            tail = self.rd(reg::CPL_TAIL);
            if tail == self.cpl_head {
                break;
            }
        }
        if self.cpl_head != head0 {
            self.wr(reg::CPL_HEAD, self.cpl_head);
        }
        if let Some((opcode, tag, status)) = self.prot_err.take() {
            self.backlog = out;
            return Err(DriverError::Request {
                opcode,
                tag,
                status,
            });
        }
        Ok(out)
    }

    /// Run until the interrupt line rises or `max_cycles` pass, then collect completions
    /// (an interrupt for the driver's own protection-table completions only does not end
    /// the wait).
    pub fn wait(&mut self, max_cycles: u64) -> Result<Vec<Completion>, DriverError> {
        let mut ran = 0;
        loop {
            while !self.dev.irq() && ran < max_cycles {
                self.run(POLL_STEP);
                ran += POLL_STEP;
            }
            let out = self.completions()?;
            // Only swallowed protection-table completions: keep waiting.
            if !out.is_empty() || ran >= max_cycles {
                return Ok(out);
            }
        }
    }

    /// Submit a request and wait for its own completion; other completions are returned too.
    pub(crate) fn call(
        &mut self,
        mut entry: [u8; 64],
        what: &'static str,
    ) -> Result<(Completion, Vec<Completion>), DriverError> {
        let tag = self.tag();
        let mut hdr = ReqHdr::parse(&entry)?;
        hdr.tag = tag;
        hdr.emit(&mut entry);
        self.submit(&entry)?;
        let mut others = Vec::new();
        // The request waits behind those before it (block writes of many connections can
        // take millions of cycles): only a device that posts nothing for 10 M cycles is
        // given up on.
        let mut waited = 0u64;
        loop {
            let mut batch = self.wait(100_000)?.into_iter();
            if batch.len() > 0 {
                waited = 0;
            }
            while let Some(c) = batch.next() {
                if c.tag == tag && c.kind == CplKind::CmdDone {
                    // The completions collected after this one are the caller's too (an
                    // error keeps them for the next wait).
                    others.extend(batch);
                    if !c.is_ok() {
                        self.backlog.extend(others);
                        return Err(DriverError::Request {
                            opcode: c.opcode,
                            tag,
                            status: c.status,
                        });
                    }
                    return Ok((c, others));
                }
                others.push(c);
            }
            waited += 100_000;
            if waited > 10_000_000 {
                return Err(DriverError::Timeout(waited, what));
            }
        }
    }
}
