//! One backend of a lockstep pair: its device, host memory and disk, the fixed memory layout of a case, applying actions and running to quiescence.

use super::*;

/// Host memory layout, identical on both sides (same allocations in the same order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Layout {
    pub(super) nb_pages: Vec<Vec<u64>>,
    pub(super) nb_hmd: Vec<u64>,
    pub(super) bad_page_hmd: u64,
    pub(super) unreg_list: u64,
    pub(super) unreg_page: u64,
    pub(super) sg: u64,
    pub(super) cpl: (u64, u64),
    /// One ANON_MAX_LEN region per anonymous-buffer slot.
    pub(super) anon: Vec<u64>,
    /// BUFLET_BYTES (DEVMEM addresses).
    pub(super) buflet_bytes: u64,
    /// NUM_BUFLETS (host buflets are the top ones).
    pub(super) num_buflets: u32,
    /// The send pool: TX_POOL_PAGES contiguous registered pages, handed out in order to
    /// TX_POSTs (never reused within a case, so no copy-on-write fault happens).
    pub(super) tx_pool: u64,
    /// TX_LIST_SLOTS page lists of TX_LIST_BYTES each, registered.
    pub(super) tx_lists: u64,
}

/// One backend with its own host memory, disk image and driver.
pub(super) struct Side {
    pub(super) name: String,
    /// Its device, wire, host memory and scratch disk.
    pub(super) b: Bench,
    pub(super) cfg: DeviceConfig,
    /// Print every activity to stderr (`BUFLET_COSIM_TRACE` set).
    pub(super) trace: bool,
    pub(super) lay: Layout,
}

impl Side {
    /// A side on `backend`, brought up; with `waves`, its device writes that waveform (only
    /// the RTL has one).
    pub(super) fn new(
        backend: Backend,
        name: String,
        width: u32,
        waves: Option<&Waves>,
    ) -> Result<Self, CosimError> {
        let cfg = DeviceConfig::with_width(width);
        let b = Bench::builder(backend)
            .config(cfg.clone())
            .mem(MEM_BYTES)
            .blank_disk(DISK_BYTES)
            .name("cosim")
            .trace(waves.map(|w| w.path.clone()))
            .trace_window(waves.map_or(0, |w| w.from), waves.and_then(|w| w.cycles))
            .build()
            .map_err(|e| match e {
                TbError::Driver(e) => CosimError::Driver(e),
                TbError::Disk(e) => CosimError::Disk(e),
                e => CosimError::Backend {
                    side: name.clone(),
                    msg: e.to_string(),
                },
            })?;
        // Protection stays on (CTRL.PROT_EN): the layout is registered through the driver's
        // registration cache, which mirrors it into the device table, so the pages and lists
        // left unregistered on purpose are refused by the device (PROT_FAULT) on both sides.
        let mut side = Side {
            name,
            b,
            cfg,
            trace: std::env::var_os("BUFLET_COSIM_TRACE").is_some(),
            lay: Layout {
                nb_pages: Vec::new(),
                nb_hmd: Vec::new(),
                bad_page_hmd: 0,
                unreg_list: 0,
                unreg_page: 0,
                sg: 0,
                cpl: (0, 0),
                anon: Vec::new(),
                buflet_bytes: 0,
                num_buflets: 0,
                tx_pool: 0,
                tx_lists: 0,
            },
        };
        side.lay = side.layout()?;
        side.b.drv.env.mem.set_write_log(true);
        side.b.drv.env.disk.set_write_log(true);
        Ok(side)
    }

    /// Allocate and register the named-buffer pages (scattered: page p of every slot, then
    /// page p+1), their page lists, the bad page lists and the SG area.
    pub(super) fn layout(&mut self) -> Result<Layout, CosimError> {
        let nbs = self.b.drv.info.num_nbs as usize;
        let page = param::PAGE_BYTES;
        let mem = &mut self.b.drv.env.mem;
        // Registered below through the driver (and so in the device table).
        let mut regs: Vec<(u64, u64)> = Vec::new();
        let mut nb_pages = vec![Vec::new(); nbs];
        for _ in 0..MAX_NB_PAGES {
            for pages in nb_pages.iter_mut() {
                let a = mem.alloc(page, page)?;
                regs.push((a, page));
                pages.push(a);
            }
        }
        let mut nb_hmd = Vec::with_capacity(nbs);
        for pages in &nb_pages {
            let h = mem.alloc(8 * MAX_NB_PAGES as u64, 64)?;
            let list: Vec<u8> = pages.iter().flat_map(|a| a.to_le_bytes()).collect();
            mem.write(Agent::Cpu, h, &list)?;
            regs.push((h, list.len() as u64));
            nb_hmd.push(h);
        }
        let unreg_page = mem.alloc(page, page)?;
        let unreg_list = mem.alloc(64, 64)?;
        let bad_page_hmd = mem.alloc(8 * MAX_NB_PAGES as u64, 64)?;
        let mut list = vec![unreg_page];
        list.extend(nb_pages.first().map(|p| &p[1..]).unwrap_or(&[]));
        let bytes: Vec<u8> = list.iter().flat_map(|a| a.to_le_bytes()).collect();
        mem.write(Agent::Cpu, bad_page_hmd, &bytes)?;
        regs.push((bad_page_hmd, bytes.len() as u64));
        let sg = mem.alloc(SG_SLOTS * sg_elem::SIZE as u64, 64)?;
        regs.push((sg, SG_SLOTS * sg_elem::SIZE as u64));
        let mut anon = Vec::new();
        for _ in 0..self.b.drv.info.num_anon {
            let a = mem.alloc(param::ANON_MAX_LEN, page)?;
            regs.push((a, param::ANON_MAX_LEN));
            anon.push(a);
        }
        // One registration each for the send pool and its page lists: a post's own
        // registrations (the driver's tx_post holds its pages and list) fall inside them, so
        // the device protection table keeps the same regions (the unregistered page and list
        // above stay outside).
        let tx_pool = mem.alloc(TX_POOL_PAGES * page, page)?;
        regs.push((tx_pool, TX_POOL_PAGES * page));
        let tx_lists = mem.alloc(TX_LIST_SLOTS * TX_LIST_BYTES, 64)?;
        regs.push((tx_lists, TX_LIST_SLOTS * TX_LIST_BYTES));
        for (a, len) in regs {
            self.b.drv.reg_acquire(a, len, Perms::RW)?;
        }
        let lo = self.b.drv.rd(reg::CPL_BASE_LO) as u64;
        let hi = self.b.drv.rd(reg::CPL_BASE_HI) as u64;
        let size = self.b.drv.rd(reg::CPL_SIZE) as u64;
        let base = hi << 32 | lo;
        Ok(Layout {
            nb_pages,
            nb_hmd,
            bad_page_hmd,
            unreg_list,
            unreg_page,
            sg,
            cpl: (base, base + size * spec::cpl::SIZE as u64),
            anon,
            buflet_bytes: self.b.drv.info.buflet_bytes as u64,
            num_buflets: self.b.drv.info.num_buflets,
            tx_pool,
            tx_lists,
        })
    }

    /// Apply a step's actions. Returns the (socket, tag) of every TX_POST made through the
    /// driver (its tag is the driver's).
    pub(super) fn apply(
        &mut self,
        actions: &[Action],
        step: usize,
    ) -> Result<Vec<(u16, u32)>, CosimError> {
        let mut posted = Vec::new();
        for a in actions {
            match a {
                Action::TxPost {
                    sock,
                    list,
                    pages,
                    first_off,
                    len,
                    psh,
                } => {
                    let tag = self
                        .b
                        .drv
                        .tx_post(*sock, *list, pages, *first_off, *len, *psh)?;
                    posted.push((*sock, tag));
                }
                Action::TxPostDev {
                    sock,
                    buflets,
                    first_off,
                    len,
                    psh,
                } => {
                    let tag = self
                        .b
                        .drv
                        .tx_post_dev(*sock, buflets, *first_off, *len, *psh)?;
                    posted.push((*sock, tag));
                }
                Action::Mem { addr, data } => self.b.drv.env.mem.write(Agent::Cpu, *addr, data)?,
                Action::Req(e) => self.b.drv.submit(e)?,
                Action::Frames(fs) => {
                    for f in fs {
                        self.b.wire.send(f.clone());
                    }
                }
                Action::Reg { addr, value } => self.b.drv.wr(*addr, *value),
                Action::Ticks { period, ticks } => {
                    // Poll CNT_TICKS often compared with the period, so TIMER_PERIOD is back
                    // to 0 long before another tick is requested.
                    let base = self.b.drv.rd(reg::CNT_TICKS);
                    self.b.drv.wr(reg::TIMER_PERIOD, *period);
                    let poll = (*period as u64 / 16).clamp(1, 256);
                    let limit = (*ticks as u64 + 2) * (*period as u64 + STEP_LIMIT / 100);
                    let mut ran = 0;
                    while self.b.drv.rd(reg::CNT_TICKS).wrapping_sub(base) < *ticks {
                        self.b.drv.run(poll);
                        ran += poll;
                        if ran > limit {
                            return Err(CosimError::NotQuiescent {
                                side: self.name.clone(),
                                step,
                                cycles: ran,
                            });
                        }
                    }
                    self.b.drv.wr(reg::TIMER_PERIOD, 0);
                }
            }
        }
        Ok(posted)
    }

    /// Run until the device is quiescent: no frame waiting on the wire and no device write,
    /// disk write or transmitted frame for `quiet` cycles. Then consume the completions and
    /// read every counter.
    ///
    /// The last activity is the end of the last transaction. The RTL writes host memory one
    /// bus word per cycle, so its log shows when each word went. The model performs a whole DMA
    /// write in the event that issues it and stamps it with the cycle its costs put the first
    /// word at (`DevWrite::at`: the shared write port, toe_mover's lead and the chunk's walk,
    /// `model/src/lib.rs` `dma_write`, `mover_write`); the write then lasts one cycle per word.
    pub(super) fn settle(
        &mut self,
        start: u64,
        quiet: u64,
        step: usize,
    ) -> Result<Observed, CosimError> {
        let mut log = Vec::new();
        let mut disk = Vec::new();
        let mut tx = Vec::new();
        // the cycle each write, disk write and frame was seen at
        let (mut log_at, mut disk_at, mut tx_at) = (Vec::new(), Vec::new(), Vec::new());
        // Quiet is counted from the end of the step's actions: a periodic-ticks action runs the
        // clock while it polls, and what its last tick started must still be seen in this step.
        let mut last = self.b.drv.cycles().max(start);
        let mut pending = self.b.wire.pending();
        loop {
            self.b.drv.run(1);
            let now = self.b.drv.cycles();
            let w = self.b.drv.env.mem.take_write_log();
            // the cycle of each write's first word: the RTL's is now (it writes a word a
            // cycle); the model, which writes the whole DMA write in the event that issues it,
            // stamps it with the cycle its costs put that word at (`DevWrite::at`), and the
            // write lasts its words from there
            let mut firsts = Vec::with_capacity(w.len());
            for x in &w {
                if self.trace {
                    eprintln!(
                        "[{} step {step} +{} @{now}] write {:#x} +{}",
                        self.name,
                        now - start,
                        x.addr,
                        x.data.len()
                    );
                }
                firsts.push(x.at.unwrap_or(now));
                last =
                    last.max(x.at.map_or(now, |a| a + model_costs::words(&self.cfg, x.data.len())));
            }
            log_at.extend(firsts);
            log.extend(w);
            let d = self.b.drv.env.disk.take_write_log();
            if !d.is_empty() {
                if self.trace {
                    eprintln!(
                        "[{} step {step} +{} @{now}] disk write x{}",
                        self.name,
                        now - start,
                        d.len()
                    );
                }
                // at the cycle the block's last word reached the device: the RTL's when its
                // block device wrote it (now), the model's where its costs put that word
                // (it writes the block in the event that starts sending it)
                for w in &d {
                    let at = w.at.unwrap_or(now);
                    last = last.max(at);
                    disk_at.push(at);
                }
                disk.extend(d);
            }
            while let Some(f) = self.b.wire.recv() {
                if self.trace {
                    eprintln!(
                        "[{} step {step} +{} @{now}] tx {} B",
                        self.name,
                        now - start,
                        f.len()
                    );
                }
                last = last.max(now);
                tx_at.push(now);
                tx.push(f);
            }
            let p = self.b.wire.pending();
            if p != pending {
                if self.trace {
                    eprintln!(
                        "[{} step {step} +{} @{now}] rx pending {p}",
                        self.name,
                        now - start
                    );
                }
                last = last.max(now);
                pending = p;
            }
            if p == 0 && now.saturating_sub(last) >= quiet {
                break;
            }
            if now - start > STEP_LIMIT {
                return Err(CosimError::NotQuiescent {
                    side: self.name.clone(),
                    step,
                    cycles: now - start,
                });
            }
        }
        let ((ring, ring_at), (other, other_at)) = compare::split_merge(log, &log_at, self.lay.cpl);
        let cpls_at = self.b.drv.cycles();
        let cpls = self.b.drv.completions()?;
        let counters_at = self.b.drv.cycles();
        let counters = spec::REGS
            .iter()
            .filter(|r| r.name.starts_with("CNT_") || matches!(r.name, "HALF_OPEN" | "ACCEPT_POOL"))
            .map(|r| (r.name, self.b.drv.rd(r.addr)))
            .collect();
        Ok(Observed {
            ring,
            other,
            cpls,
            disk,
            tx,
            counters,
            busy: last - start,
            at: compare::Cycles {
                start,
                ring: ring_at,
                other: other_at,
                cpls: cpls_at,
                disk: disk_at,
                tx: tx_at,
                counters: counters_at,
            },
        })
    }
}
