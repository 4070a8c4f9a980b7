//! Lockstep execution: one step on both backends, each run to quiescence, then compared.

use super::compare::{self, Observed};
use super::gen::MAX_NB_PAGES;
use super::stim::{
    AnonPost, AnonSlot, BlkBad, BlkParams, NbPost, NbSlot, PageList, RelBad, SockParams, Step,
    Stimulus,
};
use super::{CaseResult, CosimError, Mismatch};
use crate::{make_device, Backend};
use buflet_driver::regcache::Perms;
use buflet_driver::{Completion, Driver};
use buflet_model::costs as model_costs;
use buflet_platform::{Agent, BlockDevice, DeviceConfig, HostEnv, HostMemory};
use buflet_spec::{
    self as spec, hold_rec, param, reg, sg_elem, AnonDesc, BlkReq, BufRelease, HoldRec, NbDesc,
    Opcode, ReqHdr, SgElem, SgFlags,
};
use buflet_spec::{CplKind, SockFlags};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

/// Host memory of each side.
const MEM_BYTES: u64 = 8 << 20;
/// Disk image of each side (sparse).
const DISK_BYTES: u64 = 32 << 20;
/// Most cycles one step may keep a backend busy before the case is abandoned.
const STEP_LIMIT: u64 = 20_000_000;
/// Steps of context in a mismatch report.
const RECENT: usize = 6;
/// Scatter-gather elements the SG area holds.
const SG_SLOTS: u64 = 16;
/// Held chains a BUF_RELEASE step leaves alone while their extents wait for a DEVMEM write.
const HOLD_KEEP: usize = 12;

/// Host memory layout, identical on both sides (same allocations in the same order).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    nb_pages: Vec<Vec<u64>>,
    nb_hmd: Vec<u64>,
    bad_page_hmd: u64,
    unreg_list: u64,
    unreg_page: u64,
    sg: u64,
    cpl: (u64, u64),
    /// One ANON_MAX_LEN region per anonymous-buffer slot.
    anon: Vec<u64>,
    /// BUFLET_BYTES (DEVMEM addresses).
    buflet_bytes: u64,
}

/// One backend with its own host memory, disk image and driver.
struct Side {
    name: String,
    drv: Driver,
    /// For the model: when its shared DMA write port is free again (see [`Side::settle`]).
    model_port: Option<u64>,
    /// For the model: the named-buffer page its last delivery went to.
    model_page: Option<u64>,
    /// Base addresses of every page a delivery may write (named-buffer pages, the unregistered
    /// page of the bad page list).
    nb_pages: BTreeSet<u64>,
    /// Start addresses of the anonymous buffers (a frame's first write lands there).
    anon_starts: BTreeSet<u64>,
    cfg: DeviceConfig,
    /// Print every activity to stderr (`BUFLET_COSIM_TRACE` set).
    trace: bool,
    lay: Layout,
    image: PathBuf,
}

impl Drop for Side {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.image);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

impl Side {
    fn new(backend: Backend, name: String, width: u32) -> Result<Self, CosimError> {
        let cfg = DeviceConfig::with_width(width);
        let dev = make_device(backend, cfg.clone()).map_err(|e| CosimError::Backend {
            side: name.clone(),
            msg: e.to_string(),
        })?;
        let image = std::env::temp_dir().join(format!(
            "buflet-cosim-{}-{}-{}.img",
            std::process::id(),
            backend.name(),
            unique()
        ));
        let disk = BlockDevice::create(&image, DISK_BYTES)?;
        let env = HostEnv {
            mem: HostMemory::new(MEM_BYTES),
            disk,
        };
        // From here on the image is removed when `side` is dropped, even on errors.
        let drv = Driver::new(dev, env).map_err(|e| {
            let _ = std::fs::remove_file(&image);
            CosimError::Driver(e)
        })?;
        // Protection stays on (CTRL.PROT_EN): the layout is registered through the driver's
        // registration cache, which mirrors it into the device table, so the pages and lists
        // left unregistered on purpose are refused by the device (PROT_FAULT) on both sides.
        let mut side = Side {
            name,
            drv,
            model_port: (backend == Backend::Model).then_some(0),
            model_page: None,
            nb_pages: BTreeSet::new(),
            anon_starts: BTreeSet::new(),
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
            },
            image,
        };
        side.lay = side.layout()?;
        side.nb_pages = side.lay.nb_pages.iter().flatten().copied().collect();
        side.nb_pages.insert(side.lay.unreg_page);
        side.anon_starts = side.lay.anon.iter().copied().collect();
        side.drv.env.mem.set_write_log(true);
        side.drv.env.disk.set_write_log(true);
        Ok(side)
    }

    /// Allocate and register the named-buffer pages (scattered: page p of every slot, then
    /// page p+1), their page lists, the bad page lists and the SG area.
    fn layout(&mut self) -> Result<Layout, CosimError> {
        let nbs = self.drv.info.num_nbs as usize;
        let page = param::PAGE_BYTES;
        let mem = &mut self.drv.env.mem;
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
        for _ in 0..self.drv.info.num_anon {
            let a = mem.alloc(param::ANON_MAX_LEN, page)?;
            regs.push((a, param::ANON_MAX_LEN));
            anon.push(a);
        }
        for (a, len) in regs {
            self.drv.reg_acquire(a, len, Perms::RW)?;
        }
        let lo = self.drv.rd(reg::CPL_BASE_LO) as u64;
        let hi = self.drv.rd(reg::CPL_BASE_HI) as u64;
        let size = self.drv.rd(reg::CPL_SIZE) as u64;
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
            buflet_bytes: self.drv.info.buflet_bytes as u64,
        })
    }

    fn apply(&mut self, actions: &[Action], step: usize) -> Result<(), CosimError> {
        for a in actions {
            match a {
                Action::Mem { addr, data } => self.drv.env.mem.write(Agent::Cpu, *addr, data)?,
                Action::Req(e) => self.drv.submit(e)?,
                Action::Frames(fs) => {
                    for f in fs {
                        self.drv.rx_push(f.clone());
                    }
                }
                Action::Reg { addr, value } => self.drv.wr(*addr, *value),
                Action::Ticks { period, ticks } => {
                    // Poll CNT_TICKS often compared with the period, so TIMER_PERIOD is back
                    // to 0 long before another tick is requested.
                    let base = self.drv.rd(reg::CNT_TICKS);
                    self.drv.wr(reg::TIMER_PERIOD, *period);
                    let poll = (*period as u64 / 16).clamp(1, 256);
                    let limit = (*ticks as u64 + 2) * (*period as u64 + STEP_LIMIT / 100);
                    let mut ran = 0;
                    while self.drv.rd(reg::CNT_TICKS).wrapping_sub(base) < *ticks {
                        self.drv.run(poll);
                        ran += poll;
                        if ran > limit {
                            return Err(CosimError::NotQuiescent {
                                side: self.name.clone(),
                                step,
                                cycles: ran,
                            });
                        }
                    }
                    self.drv.wr(reg::TIMER_PERIOD, 0);
                }
            }
        }
        Ok(())
    }

    /// Run until the device is quiescent: no frame waiting on the wire and no device write,
    /// disk write or transmitted frame for `quiet` cycles. Then consume the completions and
    /// read every counter.
    ///
    /// The last activity is the end of the last transaction. The RTL writes host memory one
    /// bus word per cycle, so its log shows when each word went. The model performs a whole DMA
    /// write in the event that issues it and accounts for its duration with its cost functions
    /// (the write starts when the shared write port is free and the data is ready, and takes
    /// `costs::dma_write(len)`); its writes are timed the same way here, from the cycle `t` of
    /// the event: a delivery into a named-buffer page starts after the engine's delivery step
    /// (`costs::ENGINE_DELIVERY`) and, when it enters a page other than the last one read, after
    /// the page-list read (`costs::dma_read(8)`: architecture.md, "the engine keeps the last
    /// page address it read"); it ends at `max(port free, t + lead) + costs::dma_write(len)`.
    fn settle(&mut self, start: u64, quiet: u64, step: usize) -> Result<Observed, CosimError> {
        let mut log = Vec::new();
        let mut disk = Vec::new();
        let mut tx = Vec::new();
        // Quiet is counted from the end of the step's actions: a periodic-ticks action runs the
        // clock while it polls, and what its last tick started must still be seen in this step.
        let mut last = self.drv.cycles().max(start);
        let mut pending = self.drv.rx_pending();
        loop {
            self.drv.run(1);
            let now = self.drv.cycles();
            let w = self.drv.env.mem.take_write_log();
            for x in &w {
                if self.trace {
                    eprintln!(
                        "[{} step {step} +{}] write {:#x} +{}",
                        self.name,
                        now - start,
                        x.addr,
                        x.data.len()
                    );
                }
                last = match self.model_port {
                    Some(port) => {
                        let page = x.addr & !(param::PAGE_BYTES - 1);
                        let lead = if self.anon_starts.contains(&x.addr) {
                            // A frame into an anonymous buffer: the engine's frame step and
                            // its anonymous delivery step come first.
                            model_costs::ENGINE_FRAME + model_costs::ANON_DELIVERY
                        } else if !self.nb_pages.contains(&page) {
                            0
                        } else if self.model_page == Some(page) {
                            model_costs::ENGINE_DELIVERY
                        } else {
                            self.model_page = Some(page);
                            model_costs::ENGINE_DELIVERY + model_costs::dma_read(&self.cfg, 8)
                        };
                        let end =
                            port.max(now + lead) + model_costs::dma_write(&self.cfg, x.data.len());
                        self.model_port = Some(end);
                        last.max(end)
                    }
                    None => last.max(now),
                };
            }
            log.extend(w);
            let d = self.drv.env.disk.take_write_log();
            if !d.is_empty() {
                if self.trace {
                    eprintln!(
                        "[{} step {step} +{}] disk write x{}",
                        self.name,
                        now - start,
                        d.len()
                    );
                }
                last = last.max(now);
                disk.extend(d);
            }
            while let Some(f) = self.drv.tx_pop() {
                if self.trace {
                    eprintln!(
                        "[{} step {step} +{}] tx {} B",
                        self.name,
                        now - start,
                        f.len()
                    );
                }
                last = last.max(now);
                tx.push(f);
            }
            let p = self.drv.rx_pending();
            if p != pending {
                if self.trace {
                    eprintln!(
                        "[{} step {step} +{}] rx pending {p}",
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
        let (ring, other) = compare::split_merge(log, self.lay.cpl);
        let cpls = self.drv.completions()?;
        let counters = spec::REGS
            .iter()
            .filter(|r| r.name.starts_with("CNT_"))
            .map(|r| (r.name, self.drv.rd(r.addr)))
            .collect();
        Ok(Observed {
            ring,
            other,
            cpls,
            disk,
            tx,
            counters,
            busy: last - start,
        })
    }
}

/// What a step does on a side.
#[derive(Debug, Clone)]
enum Action {
    /// The CPU writes host memory (a scatter-gather list).
    Mem { addr: u64, data: Vec<u8> },
    /// A request entry goes on the ring.
    Req([u8; 64]),
    /// Frames are queued on the wire.
    Frames(Vec<Vec<u8>>),
    /// A register write.
    Reg { addr: u32, value: u32 },
    /// Periodic timer ticks: TIMER_PERIOD = `period` until `ticks` more ticks were taken
    /// (CNT_TICKS, polled), then TIMER_PERIOD = 0.
    Ticks { period: u32, ticks: u32 },
}

/// The host's view, kept from side A's completions (they equal side B's while the case runs).
#[derive(Debug, Clone)]
struct Host {
    next_tag: u32,
    num_nbs: u32,
    live: BTreeSet<u16>,
    nb_free: BTreeSet<u32>,
    nb_busy: BTreeSet<u32>,
    /// NB_POST tag -> the slot reserved for it.
    posts: BTreeMap<u32, u32>,
    num_anon: u32,
    anon_free: BTreeSet<u32>,
    anon_busy: BTreeSet<u32>,
    /// ANON_POST tag -> the slot reserved for it.
    anon_posts: BTreeMap<u32, u32>,
    /// Sockets added with HOLD (p2p, docs/p2p.md).
    hold_socks: BTreeSet<u16>,
    /// NB_POST tags of posts over the slot's own (registered) page list: only their records
    /// landed in host memory.
    good_posts: BTreeSet<u32>,
    /// Held chain heads from hold records, oldest first, not yet released, each with the id
    /// of the extent whose record reported it.
    held: VecDeque<(u16, u64)>,
    /// Buflet extents from hold records, oldest first, not yet written by a DEVMEM block
    /// write. An extent is dropped once its bytes may be gone: when a head reported at or after
    /// it is released (its chain may be reused), or when its socket is deleted before its
    /// segment ended (the device freed that segment).
    extents: VecDeque<Extent>,
    /// Id of the next extent.
    next_extent: u64,
    /// Per hold socket, the id of its last extent that ended a segment.
    last_end: BTreeMap<u16, u64>,
}

/// A run of payload bytes in buflet memory, from a hold record (docs/p2p.md).
#[derive(Debug, Clone, Copy)]
struct Extent {
    buflet: u16,
    off: u16,
    len: u16,
    sock: u16,
    id: u64,
}

impl Host {
    fn new(num_nbs: u32, num_anon: u32) -> Self {
        Host {
            next_tag: 1,
            num_nbs,
            live: BTreeSet::new(),
            nb_free: (0..num_nbs).collect(),
            nb_busy: BTreeSet::new(),
            posts: BTreeMap::new(),
            num_anon,
            anon_free: (0..num_anon).collect(),
            anon_busy: BTreeSet::new(),
            anon_posts: BTreeMap::new(),
            hold_socks: BTreeSet::new(),
            good_posts: BTreeSet::new(),
            held: VecDeque::new(),
            extents: VecDeque::new(),
            next_extent: 0,
            last_end: BTreeMap::new(),
        }
    }

    /// The hold records of a returned named buffer of a hold socket: read from side A's host
    /// memory (record r at page[8r / 4096] + 8r mod 4096) until their lengths add up to the
    /// completion's BYTES; their heads and extents are remembered.
    fn read_records(&mut self, c: &Completion, mem: &mut HostMemory, lay: &Layout) {
        let Some(pages) = lay.nb_pages.get(c.ref_num as usize) else {
            return;
        };
        let per_page = (4096 / hold_rec::SIZE) as u64;
        let (mut sum, mut r) = (0u64, 0u64);
        while sum < c.bytes as u64 {
            let Some(&page) = pages.get((r / per_page) as usize) else {
                return;
            };
            let mut b = [0u8; hold_rec::SIZE];
            let at = page + (r % per_page) * hold_rec::SIZE as u64;
            if mem.read(Agent::Cpu, at, &mut b).is_err() {
                return;
            }
            let Ok(rec) = HoldRec::parse(&b) else {
                return;
            };
            let len = u64::from(rec.len);
            if len == 0 {
                return;
            }
            let id = self.next_extent;
            self.next_extent += 1;
            self.extents.push_back(Extent {
                buflet: rec.buflet,
                off: rec.off,
                len: rec.len,
                sock: c.sock_ref,
                id,
            });
            if let Some(head) = rec.held_head() {
                self.held.push_back((head, id));
                self.last_end.insert(c.sock_ref, id);
            }
            sum += len;
            r += 1;
        }
    }

    fn anon_release(&mut self, tag: u32) {
        if let Some(r) = self.anon_posts.remove(&tag) {
            if self.anon_busy.remove(&r) {
                self.anon_free.insert(r);
            }
        }
    }

    fn tag(&mut self) -> u32 {
        let t = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1).max(1);
        t
    }

    fn absorb(&mut self, cpls: &[Completion], mem: &mut HostMemory, lay: &Layout) {
        for c in cpls {
            match c.kind {
                CplKind::NbReturn => {
                    if self.good_posts.remove(&c.tag) && self.hold_socks.contains(&c.sock_ref) {
                        self.read_records(c, mem, lay);
                    }
                    self.posts.remove(&c.tag);
                    if self.nb_busy.remove(&c.ref_num) {
                        self.nb_free.insert(c.ref_num);
                    }
                }
                CplKind::AnonRx => self.anon_release(c.tag),
                CplKind::CmdDone => match Opcode::try_from(c.opcode) {
                    Ok(Opcode::AnonPost) => self.anon_release(c.tag),
                    Ok(Opcode::NbPost) => {
                        if let Some(r) = self.posts.remove(&c.tag) {
                            if self.nb_busy.remove(&r) {
                                self.nb_free.insert(r);
                            }
                        }
                    }
                    Ok(Opcode::SockAdd) if c.is_ok() => {
                        self.live.insert(c.sock_ref);
                    }
                    Ok(Opcode::SockDel) if c.is_ok() => {
                        self.live.remove(&c.sock_ref);
                        // Its partly delivered segment was freed with it.
                        let end = self.last_end.remove(&c.sock_ref);
                        self.extents
                            .retain(|e| e.sock != c.sock_ref || Some(e.id) <= end);
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }

    /// Turn a step into actions, updating the host's view (tags, reserved slots).
    fn plan(&mut self, step: &Step, lay: &Layout) -> Vec<Action> {
        match step {
            Step::AddSocket(p) => {
                if p.flags.contains(SockFlags::HOLD) {
                    self.hold_socks.insert(p.sock_ref);
                } else {
                    self.hold_socks.remove(&p.sock_ref);
                }
                vec![Action::Req(self.sock_add(p))]
            }
            Step::Release { bad } => self.release(*bad).into_iter().collect(),
            Step::DelSocket { sock } => {
                vec![Action::Req(self.hdr(Opcode::SockDel.code(), *sock))]
            }
            Step::Nop => vec![Action::Req(self.hdr(Opcode::Nop.code(), 0))],
            Step::BadOpcode { opcode } => vec![Action::Req(self.hdr(*opcode, 0))],
            Step::PostNb(n) => self.nb_post(n, lay).into_iter().collect(),
            Step::BlkWrite(b) => self.blk_write(b, lay),
            Step::PostAnon(a) => self.anon_post(a, lay).into_iter().collect(),
            Step::NicAddr { mac, ip } => vec![
                Action::Reg {
                    addr: reg::NIC_MAC_LO,
                    value: u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
                },
                Action::Reg {
                    addr: reg::NIC_MAC_HI,
                    value: u16::from_le_bytes([mac[4], mac[5]]) as u32,
                },
                Action::Reg {
                    addr: reg::NIC_IP,
                    value: u32::from_be_bytes(*ip),
                },
            ],
            Step::TimerKick => vec![Action::Reg {
                addr: reg::TIMER_KICK,
                value: 1,
            }],
            Step::TimerTicks { period, ticks } => vec![Action::Ticks {
                period: *period,
                ticks: *ticks,
            }],
            Step::Frame(f) => vec![Action::Frames(vec![f.bytes.clone()])],
            Step::Burst(fs) => vec![Action::Frames(fs.iter().map(|f| f.bytes.clone()).collect())],
        }
    }

    fn hdr(&mut self, opcode: u8, sock: u16) -> [u8; 64] {
        let mut e = [0u8; 64];
        ReqHdr {
            opcode,
            sock_ref: sock,
            tag: self.tag(),
            ..Default::default()
        }
        .emit(&mut e);
        e
    }

    fn sock_add(&mut self, p: &SockParams) -> [u8; 64] {
        let mut e = [0u8; 64];
        SockParams {
            tag: self.tag(),
            ..*p
        }
        .emit(&mut e);
        e
    }

    fn nb_post(&mut self, n: &NbPost, lay: &Layout) -> Option<Action> {
        let (ref_num, reserve) = match n.slot {
            NbSlot::Free => (*self.nb_free.iter().next()?, true),
            NbSlot::Busy => (*self.nb_busy.iter().next()?, false),
            NbSlot::Raw(r) => (r, false),
        };
        let list = n.list;
        let hmd = match list {
            PageList::Good => lay
                .nb_hmd
                .get(ref_num as usize)
                .or(lay.nb_hmd.first())
                .copied()
                .unwrap_or(0),
            PageList::UnregisteredPage => lay.bad_page_hmd,
            PageList::UnregisteredList => lay.unreg_list,
        };
        let tag = self.tag();
        if reserve && ref_num < self.num_nbs {
            self.nb_free.remove(&ref_num);
            self.nb_busy.insert(ref_num);
            self.posts.insert(tag, ref_num);
            if list == PageList::Good {
                self.good_posts.insert(tag);
            }
        }
        let e = NbDesc {
            opcode: Opcode::NbPost,
            sock_ref: n.sock,
            tag,
            ref_num,
            timeout: n.timeout,
            total_bytes: n.total_bytes,
            next_nb: param::NULL16 as u16,
            prev_nb: param::NULL16 as u16,
            hmd_addr: hmd,
            hmd_pages: n.pages,
            ..Default::default()
        }
        .to_bytes();
        Some(Action::Req(e))
    }

    fn anon_post(&mut self, a: &AnonPost, lay: &Layout) -> Option<Action> {
        let (ref_num, reserve) = match a.slot {
            AnonSlot::Free => (*self.anon_free.iter().next()?, true),
            AnonSlot::Busy => (*self.anon_busy.iter().next()?, false),
            AnonSlot::Raw(r) => (r, false),
        };
        let addr = lay
            .anon
            .get(ref_num as usize)
            .or(lay.anon.first())
            .copied()
            .unwrap_or(0);
        let tag = self.tag();
        // A post the device will refuse for its length frees the slot with its CMD_DONE.
        if reserve && ref_num < self.num_anon {
            self.anon_free.remove(&ref_num);
            self.anon_busy.insert(ref_num);
            self.anon_posts.insert(tag, ref_num);
        }
        let e = AnonDesc {
            opcode: Opcode::AnonPost,
            tag,
            ref_num,
            len: a.len,
            addr,
            ..Default::default()
        }
        .to_bytes();
        Some(Action::Req(e))
    }

    /// OP_BUF_RELEASE of the oldest held heads (docs/p2p.md), broken as `bad` says.
    fn release(&mut self, bad: Option<RelBad>) -> Option<Action> {
        let max = param::RELEASE_MAX as usize;
        let mut heads: Vec<u16> = Vec::new();
        let mut count = match bad {
            Some(RelBad::CountZero) => 0,
            Some(RelBad::CountOver) => param::RELEASE_MAX + 1,
            _ => {
                let room = if bad.is_some() { max - 1 } else { max };
                // Chains whose extents were all written go first; while more than
                // HOLD_KEEP chains are held, older ones go too (their unwritten extents are
                // dropped), so the pool never starves.
                while heads.len() < room {
                    let written = self.extents.front().map_or(u64::MAX, |e| e.id);
                    match self.held.front().copied() {
                        Some((h, id)) if id < written || self.held.len() > HOLD_KEEP => {
                            self.held.pop_front();
                            heads.push(h);
                            // The chain may be reused once released: forget every extent up
                            // to the record that reported it (others only lose coverage).
                            self.extents.retain(|e| e.id > id);
                        }
                        _ => break,
                    }
                }
                heads.len() as u64
            }
        };
        match bad {
            Some(RelBad::NotHeld) => {
                heads.push(param::NULL16 as u16);
                count += 1;
            }
            Some(RelBad::Twice) => {
                if let Some(&h) = heads.first() {
                    heads.push(h);
                    count += 1;
                }
            }
            _ => {}
        }
        if count == 0 && bad.is_none() {
            return None;
        }
        let e =
            BufRelease::new(self.tag(), &heads[..heads.len().min(max)], count as u16).to_bytes();
        Some(Action::Req(e))
    }

    /// Elements of DEVMEM blocks over the oldest extents (docs/p2p.md): whole blocks from
    /// `disk`, each padded with a ZERO element when the extents run out, within the SG area.
    fn devmem_elems(&mut self, blocks: u64, disk: u64, bb: u64) -> Vec<(u64, u32, u32, u64)> {
        let mut els = Vec::new();
        for k in 0..blocks {
            if els.len() as u64 + 2 > SG_SLOTS || self.extents.is_empty() {
                break;
            }
            let mut d = disk + k * 4096;
            let end = d + 4096;
            while d < end && (els.len() as u64) + 1 < SG_SLOTS {
                let Some(x) = self.extents.pop_front() else {
                    break;
                };
                let n = (x.len as u64).min(end - d);
                els.push((
                    x.buflet as u64 * bb + x.off as u64,
                    n as u32,
                    SgFlags::DEVMEM.bits(),
                    d,
                ));
                if n < x.len as u64 {
                    self.extents.push_front(Extent {
                        off: x.off + n as u16,
                        len: x.len - n as u16,
                        ..x
                    });
                }
                d += n;
            }
            if d < end {
                els.push((0, (end - d) as u32, SgFlags::ZERO.bits(), d));
            }
        }
        els
    }

    fn blk_write(&mut self, b: &BlkParams, lay: &Layout) -> Vec<Action> {
        if b.devmem && b.bad.is_none() && !self.extents.is_empty() {
            let mut els = self.devmem_elems(
                b.blocks.clamp(1, MAX_NB_PAGES) as u64,
                b.lba * 512,
                lay.buflet_bytes,
            );
            if b.zero_first {
                // DEVMEM and ZERO exclude each other: BAD_SG.
                els[0].2 |= SgFlags::ZERO.bits();
            }
            // The disk start is block-aligned, so each block's first element starts one.
            let bytes = 4096 * els.iter().filter(|e| e.3 % 4096 == 0).count() as u64;
            return self.blk_actions(&els, bytes, els.len() as u64, lay);
        }
        let pages = lay
            .nb_pages
            .get(b.src_ref as usize % lay.nb_pages.len().max(1))
            .cloned()
            .unwrap_or_default();
        let blocks = b.blocks.clamp(1, MAX_NB_PAGES) as u64;
        let split = b.split || b.bad == Some(BlkBad::Discontiguous);
        // (src, len, flags, disk byte address)
        let mut els: Vec<(u64, u32, u32, u64)> = Vec::new();
        for k in 0..blocks {
            let src = pages.get(k as usize).copied().unwrap_or(0);
            let disk = b.lba * 512 + k * 4096;
            if split {
                els.push((src, 2048, 0, disk));
                els.push((src + 2048, 2048, 0, disk + 2048));
            } else {
                els.push((src, 4096, 0, disk));
            }
        }
        if b.zero_first {
            els[0].2 = SgFlags::ZERO.bits();
        }
        let mut bytes = blocks * 4096;
        let mut sg_max = els.len() as u64;
        match b.bad {
            Some(BlkBad::BytesNotMultiple) => bytes -= 512,
            Some(BlkBad::ZeroLen) => {
                if let Some(l) = els.last_mut() {
                    l.1 = 0;
                }
            }
            Some(BlkBad::Discontiguous) => els[1].3 += 512,
            Some(BlkBad::SgMaxShort) => sg_max -= 1,
            Some(BlkBad::Unregistered) => {
                els[0].0 = lay.unreg_page;
                els[0].2 = 0;
            }
            None => {}
        }
        self.blk_actions(&els, bytes, sg_max, lay)
    }

    /// The SG list `els` (src, len, flags, disk byte address) in the SG area, and the
    /// BLK_WRITE request over it.
    fn blk_actions(
        &mut self,
        els: &[(u64, u32, u32, u64)],
        bytes: u64,
        sg_max: u64,
        lay: &Layout,
    ) -> Vec<Action> {
        let mut list = vec![0u8; els.len() * sg_elem::SIZE];
        for (i, &(src, len, flags, disk)) in els.iter().enumerate() {
            let e = &mut list[i * sg_elem::SIZE..(i + 1) * sg_elem::SIZE];
            let next = if i + 1 < els.len() {
                lay.sg + ((i + 1) * sg_elem::SIZE) as u64
            } else {
                0
            };
            SgElem {
                src_addr: src,
                len,
                flags: SgFlags::from_bits_retain(flags),
                disk_addr: disk,
                next,
            }
            .emit(e);
        }
        // Hostile lists may describe more than the fields hold: they keep their low bits.
        let e = BlkReq {
            opcode: Opcode::BlkWrite,
            tag: self.tag(),
            sg_addr: lay.sg,
            sg_max: sg_max as u32,
            bytes: bytes as u32,
            ..Default::default()
        }
        .to_bytes();
        vec![
            Action::Mem {
                addr: lay.sg,
                data: list,
            },
            Action::Req(e),
        ]
    }
}

/// Cycles without any activity after which a backend counts as quiescent: four times the
/// slowest round trip (a memory read plus a disk write) plus the longest frame on the wire.
fn quiet_window(width: u32) -> u64 {
    let c = DeviceConfig::with_width(width);
    4 * (c.mem_read_latency as u64 + c.disk_latency as u64)
        + c.wire_cycles(param::MAX_FRAME as usize)
}

/// Run a stimulus on the model and on the RTL at `width` bits, step by step, and compare.
pub fn run_case(stim: &Stimulus, width: u32) -> Result<CaseResult, CosimError> {
    run_lockstep([(Backend::Model, stim), (Backend::Rtl, stim)], width)
}

/// Run two stimuli of equal length on two backends (side A and side B) in lockstep: step `i`
/// of each is applied to its side, both run to quiescence, and their observations are compared.
/// After the last step every socket the host still holds is deleted (compared like any step)
/// and both sides must be back at `CNT_FREE_BUFLETS == NUM_BUFLETS`.
///
/// Passing different stimuli (or the same backend twice) is for testing the comparison itself.
pub fn run_lockstep(
    sides: [(Backend, &Stimulus); 2],
    width: u32,
) -> Result<CaseResult, CosimError> {
    let [(ba, sa), (bb, sb)] = sides;
    if sa.len() != sb.len() {
        return Err(CosimError::Stimulus(format!(
            "side A has {} steps, side B {}",
            sa.len(),
            sb.len()
        )));
    }
    let (na, nb) = if ba == bb {
        (format!("{} (A)", ba.name()), format!("{} (B)", bb.name()))
    } else {
        (ba.name().to_string(), bb.name().to_string())
    };
    let mut a = Side::new(ba, na, width)?;
    let mut b = Side::new(bb, nb, width)?;
    if a.lay != b.lay {
        return Err(CosimError::Setup(
            "host memory layouts differ after bring-up".into(),
        ));
    }
    let num_buflets = a.drv.info.num_buflets;
    if num_buflets != b.drv.info.num_buflets {
        return Err(CosimError::Setup(format!(
            "NUM_BUFLETS differs: {} vs {}",
            num_buflets, b.drv.info.num_buflets
        )));
    }
    let quiet = quiet_window(width);
    let mut host = Host::new(a.drv.info.num_nbs, a.drv.info.num_anon);
    let mut res = CaseResult {
        seed: sa.seed,
        steps: 0,
        compared: 0,
        sides: [a.name.clone(), b.name.clone()],
        cycles: [0, 0],
        step_cycles: Vec::new(),
        mismatch: None,
        free_buflets_end: [0, 0],
        num_buflets,
        counters_end: Vec::new(),
    };
    let mut recent: VecDeque<String> = VecDeque::new();
    let n = sa.len();
    let mut i = 0usize;
    let mut cleanup: Vec<Step> = Vec::new();
    loop {
        let (step_a, step_b, orig) = if i < n {
            (&sa.steps[i], &sb.steps[i], format!("#{}", sa.index[i]))
        } else {
            if i == n {
                cleanup = host
                    .live
                    .iter()
                    .map(|&sock| Step::DelSocket { sock })
                    .collect();
            }
            // Held chains survive SOCK_DEL: release them after the deletes.
            if i - n == cleanup.len() && !host.held.is_empty() {
                // No DEVMEM write follows: every held chain may go.
                host.extents.clear();
                cleanup.push(Step::Release { bad: None });
            }
            match cleanup.get(i - n) {
                Some(s) => (s, s, "cleanup".to_string()),
                None => break,
            }
        };
        let mut hb = host.clone();
        let act_a = host.plan(step_a, &a.lay);
        let act_b = hb.plan(step_b, &b.lay);
        let ta = a.drv.cycles();
        let tb = b.drv.cycles();
        a.apply(&act_a, i)?;
        b.apply(&act_b, i)?;
        let oa = a.settle(ta, quiet, i)?;
        let ob = b.settle(tb, quiet, i)?;
        res.steps += 1;
        res.cycles[0] += oa.busy;
        res.cycles[1] += ob.busy;
        res.step_cycles.push([oa.busy, ob.busy]);
        res.counters_end.clone_from(&oa.counters);
        let desc = if step_a == step_b {
            step_a.describe()
        } else {
            format!("A: {} / B: {}", step_a.describe(), step_b.describe())
        };
        if let Some(d) = compare::compare(&oa, &ob, &mut res.compared) {
            res.mismatch = Some(Mismatch {
                seed: sa.seed,
                step: i,
                origin: orig,
                step_desc: desc,
                kind: d.kind,
                sides: res.sides.clone(),
                a: d.a,
                b: d.b,
                recent: recent.iter().cloned().collect(),
            });
            return Ok(res);
        }
        host.absorb(&oa.cpls, &mut a.drv.env.mem, &a.lay);
        recent.push_back(format!("{i} ({orig}): {desc}"));
        if recent.len() > RECENT {
            recent.pop_front();
        }
        i += 1;
    }
    let fa = a.drv.rd(reg::CNT_FREE_BUFLETS);
    let fb = b.drv.rd(reg::CNT_FREE_BUFLETS);
    res.free_buflets_end = [fa, fb];
    if fa != num_buflets || fb != num_buflets {
        res.mismatch = Some(Mismatch {
            seed: sa.seed,
            step: i,
            origin: "end".into(),
            step_desc: "after deleting every socket".into(),
            kind: format!("end check: CNT_FREE_BUFLETS must equal NUM_BUFLETS ({num_buflets})"),
            sides: res.sides.clone(),
            a: format!("CNT_FREE_BUFLETS = {fa}"),
            b: format!("CNT_FREE_BUFLETS = {fb}"),
            recent: recent.iter().cloned().collect(),
        });
    }
    Ok(res)
}
