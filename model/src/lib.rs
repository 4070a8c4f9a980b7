//! Cycle-approximate Rust model of the Buflet TOE NIC.
//!
//! [`ModelDevice`] implements [`buflet_platform::Device`] with exactly the behaviour of
//! `docs/architecture.md`, `docs/tcp-receive.md` (TCP receive engine 0.2: handshake,
//! acceptability, reassembly, ACK and SYN-ACK frames on the transmit side),
//! `docs/rx-paths.md` (UDP sockets, anonymous buffers, the ARP responder, named-buffer
//! timeouts), `docs/storage.md` (block reads) and `docs/p2p.md` (hold sockets, hold records,
//! held chains and `BUF_RELEASE`, DEVMEM block-write elements). Each hardware unit
//! (MAC + rx_parser, request fetch, toe_engine, tx_builder, blk_dma, completion writer) is a
//! server with its own busy-until time; the DMA read and write ports are shared servers too. [`Device::run`] processes every event whose time has come, in
//! time order. Cycle costs live in [`costs`].
//!
//! | unit | file |
//! |---|---|
//! | registers, counters, IRQ | `regs.rs` |
//! | MAC, request fetch, completion writer, event loop | `lib.rs` |
//! | parse and checks | `parse.rs` |
//! | buflets | `buflets.rs` |
//! | sockets, TCP and UDP receive, delivery, anonymous buffers, ARP answers, timer sweep | `toe/` (split as the RTL's toe_engine: `mod.rs`, `req.rs`, `lookup.rs`, `tcp_rx.rs`, `deliver.rs`, `sweep.rs`, `udp_anon.rs`) |
//! | tx_builder (ACK, SYN-ACK, ARP reply frames) | `tx.rs` |
//! | block-controller DMA | `blk.rs` |
//! | protection table (REG_REGION, DEREG_REGION, access checks, faults) | `prot.rs` |

mod blk;
pub mod buflets;
pub mod costs;
pub mod parse;
pub mod prot;
mod regs;
mod toe;
pub mod tx;

use std::collections::VecDeque;

use buflet_platform::{Agent, Device, DeviceConfig, HostEnv, MacPort};
use buflet_spec::{self as spec, cpl, req_hdr, CplKind, Opcode, ReqHdr, Status};

pub use toe::{hash_bucket, hash_x};

use buflets::{BufletPool, Chain};
use parse::Parsed;

const NEVER: u64 = u64::MAX;

/// A completion on its way to the completion writer (PHASE is set when it is written).
pub(crate) type Cpl = spec::Cpl;

/// A `CMD_DONE` completion for the request entry `req`.
pub(crate) fn cmd_done(req: &[u8], status: Status) -> Cpl {
    // Every 64-byte entry has a request header.
    let h = ReqHdr::parse(req).unwrap_or_default();
    Cpl {
        kind: CplKind::CmdDone,
        status,
        sock_ref: h.sock_ref,
        tag: h.tag,
        opcode: h.opcode,
        ..Cpl::default()
    }
}

/// The completion entry as the writer puts it in the ring, with `phase`.
fn encode(c: &Cpl, phase: u8) -> [u8; cpl::SIZE] {
    Cpl { phase, ..*c }.to_bytes()
}

/// Per-frame metadata record from rx_parser to toe_engine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub p: Parsed,
    pub chain: Chain,
    /// The whole frame is in the chain (false: the pool ran dry while it was stored).
    pub whole: bool,
}

/// Request entry size (every request ring entry is 64 bytes).
pub(crate) const REQ_BYTES: usize = req_hdr::SIZE;

enum Fetch {
    Idle,
    /// Entry read; it arrives (and REQ_HEAD advances) at `done`.
    Busy {
        entry: [u8; REQ_BYTES],
        done: u64,
    },
    /// Entry waiting for its destination (toe_engine or the blk_dma FIFO) to accept it.
    Hold {
        entry: [u8; REQ_BYTES],
    },
}

/// The request goes to the block engine's command FIFO (BLK_WRITE, BLK_READ).
fn is_blk(entry: &[u8]) -> bool {
    matches!(
        Opcode::try_from(entry[0]),
        Ok(Opcode::BlkWrite | Opcode::BlkRead)
    )
}

/// The shared host read port with split transactions (rtl/dma_rd_arb.v): requests go out one
/// after the other (arbitration and handshake, `DMA_RD_OVERHEAD`), several reads are in flight
/// at once, and the host answers in request order, one word per cycle, each read's first word
/// `mem_read_latency` after its request. A read's latency overlaps the others' words.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ReadPort {
    /// When the next request can go out.
    req_free: u64,
    /// When the last read's response has been transferred.
    data_free: u64,
}

impl ReadPort {
    /// The client takes a read's last word only at `t` (it was not ready for the words at one
    /// per cycle): the answers behind it wait.
    pub(crate) fn hold_until(&mut self, t: u64) {
        self.data_free = self.data_free.max(t);
    }

    /// Reserve one read of `len` bytes asked at `t`: returns the cycle its last word arrives.
    fn reserve(&mut self, cfg: &DeviceConfig, t: u64, len: usize) -> u64 {
        let issued = t.max(self.req_free) + costs::DMA_RD_OVERHEAD;
        self.req_free = issued;
        let first = (issued + cfg.mem_read_latency as u64).max(self.data_free);
        self.data_free = first + costs::words(cfg, len);
        self.data_free
    }
}

/// One DMA read through the shared read port, asked at `t`: returns (success, done time).
/// A refused access returns zeros, like the RTL's `tuser` response.
pub(crate) fn dma_read(
    cfg: &DeviceConfig,
    port: &mut ReadPort,
    env: &mut HostEnv,
    agent: Agent,
    t: u64,
    addr: u64,
    out: &mut [u8],
) -> (bool, u64) {
    let done = port.reserve(cfg, t, out.len());
    let ok = env.mem.read(agent, addr, out).is_ok();
    if !ok {
        out.fill(0);
    }
    (ok, done)
}

/// The shared host write port with split transactions (rtl/dma_wr_arb.v): a request is taken
/// `DMA_WR_REQ` cycles after it is asked (the arbiter's grant, then the handshake), even while
/// an earlier write's data streams; the data of the writes follows in request order, one word
/// per cycle, each write's first word once its client has it ready.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WritePort {
    /// When the next request can be taken.
    req_free: u64,
    /// When the last write's data has been transferred.
    data_free: u64,
}

impl WritePort {
    /// Reserve one write of `len` bytes asked at `t`, whose first word its client has ready at
    /// `ready` at the earliest: returns (the cycle the request is taken, the cycle its last word
    /// is taken).
    fn reserve(&mut self, cfg: &DeviceConfig, t: u64, ready: u64, len: usize) -> (u64, u64) {
        let taken = t.max(self.req_free) + costs::DMA_WR_REQ;
        self.req_free = taken;
        let first = ready.max(taken + costs::DMA_WR_LEAD).max(self.data_free);
        self.data_free = first + costs::words(cfg, len);
        (taken, self.data_free)
    }
}

/// One posted DMA write through the shared write port, asked at `t` by a client whose data is
/// ready once the request is taken: returns the done time. A refused write is lost (the host
/// memory counts it as a stray access).
pub(crate) fn dma_write(
    cfg: &DeviceConfig,
    port: &mut WritePort,
    env: &mut HostEnv,
    agent: Agent,
    t: u64,
    addr: u64,
    data: &[u8],
) -> u64 {
    let (_, done) = port.reserve(cfg, t, 0, data.len());
    let _ = env
        .mem
        .write_at(agent, addr, data, done - costs::words(cfg, data.len()));
    done
}

/// toe_mover's command slots (rtl/toe_mover.v): one chunk streams while one more waits in its
/// command register.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Mover {
    /// When the command register is free: the last chunk taken has started reading.
    free: u64,
    /// When the last chunk taken has made its reads (`MOVER_FREE_EARLY` before its write is
    /// done): the next one starts then.
    rd_end: u64,
    /// When the last chunk's write is done.
    done: u64,
    /// When toe_engine's write request register has room: the last request is taken by the
    /// arbiter (the register takes the next one in that cycle).
    wq_free: u64,
}

/// A delivery chunk's DMA write (toe_engine S_DISSUE, toe_mover). `t` is the cycle after
/// S_DISSUE (as `costs::ENGINE_DELIVERY` counts it): the engine issues the chunk in S_DISSUE,
/// once toe_mover's command register and the engine's write request register have room, and
/// goes on. The register offers the request to the arbiter the cycle after, which grants it
/// and takes it (`DMA_WR_REQ`) when the port is free. The chunk's first word follows
/// `MOVER_LEAD` cycles (and the chain walk's `walk`) after the issue, once the request is
/// taken and after the last chunk's last word, whichever is later. Returns (the cycle of the
/// issue, the done time).
#[allow(clippy::too_many_arguments)]
pub(crate) fn mover_write(
    cfg: &DeviceConfig,
    port: &mut WritePort,
    mover: &mut Mover,
    env: &mut HostEnv,
    t: u64,
    walk: u64,
    addr: u64,
    data: &[u8],
) -> (u64, u64) {
    // S_DISSUE's issue (the engine leaves the cycle after)
    let issue = (t - 1).max(mover.free).max(mover.wq_free);
    // the register's request: offered the cycle after, granted, then taken
    let taken = (issue + 1).max(port.req_free) + costs::DMA_WR_REQ;
    port.req_free = taken + costs::DMA_WR_REQ;
    mover.wq_free = taken;
    // a chunk behind another starts once that one's reads are made, walks its chain, and its
    // first word leaves `MOVER_GAP` after the other's last (the packer's flush)
    let first = (issue + costs::MOVER_LEAD + walk)
        .max(taken + costs::DMA_WR_LEAD)
        .max(port.data_free)
        .max(mover.done + costs::MOVER_GAP + walk);
    port.data_free = first + costs::words(cfg, data.len());
    let _ = env.mem.write_at(Agent::NicDma, addr, data, first);
    // the chunk starts reading once the last one has made its reads
    mover.free = issue.max(mover.rd_end) + 1;
    // Its reads run ahead of the port by what its skid FIFO holds: behind a busy port they
    // end up to `MOVER_SKID` cycles sooner than after an unhindered start.
    let free_run = issue + costs::MOVER_LEAD + walk + costs::words(cfg, data.len());
    mover.rd_end = free_run.max(port.data_free - costs::MOVER_SKID) - costs::MOVER_FREE_EARLY;
    mover.done = port.data_free;
    (issue, port.data_free)
}

/// The Rust model of the Buflet NIC.
pub struct ModelDevice {
    cfg: DeviceConfig,
    now: u64,
    regs: regs::Regs,
    pool: BufletPool,
    // MAC and rx_parser.
    /// The MAC's end of the wire.
    mac: MacPort,
    /// Frames the wire delivered, with the cycle they arrived at the MAC.
    mac_q: VecDeque<(Vec<u8>, u64)>,
    /// The frame in rx_parser.
    mac_cur: Option<MacFrame>,
    /// CTRL.ENABLE before the last CTRL write, and the cycle of that write.
    enable_before: (bool, u64),
    wire_next: u64,
    /// Frame records between rx_parser and toe_engine (its FIFO, `RX_META_FIFO`), each with
    /// the cycle the engine can take it: one after the parser's output register took it.
    meta_q: VecDeque<(u64, Meta)>,
    stage_b: Option<StageB>,
    // Request fetch.
    fetch: Fetch,
    // toe_engine.
    toe: toe::Toe,
    toe_req: Option<[u8; REQ_BYTES]>,
    /// The cycle `toe_req` is offered to toe_engine from.
    toe_req_at: u64,
    engine_free: u64,
    engine_rr: usize,
    /// A timer tick is requested and not yet taken by toe_engine.
    tick_pending: bool,
    /// Cycle of the next periodic tick request (`NEVER` when TIMER_PERIOD is 0).
    next_period_tick: u64,
    // blk_dma.
    blk: blk::Blk,
    // Protection table.
    prot: prot::Prot,
    // tx_builder.
    tx: tx::TxBuilder,
    // Completion writer.
    cpl_q: VecDeque<(u64, Cpl)>,
    cpl_free: u64,
    // Shared DMA ports.
    rd_free: ReadPort,
    /// When tx_data has passed its current data command on (its payload read): it takes the
    /// next one then (docs/tcp-transmit.md, the send step).
    txd_free: u64,
    /// tx_data's one-entry page cache (rtl/tx_data.v): (DEVMEM, page list HMD, page) and the
    /// list entry read for it; forgotten when posts complete or are given back, and on a
    /// refused list read or DEVMEM entry.
    txd_page: Option<((bool, u64, u64), [u8; 8])>,
    wr_free: WritePort,
    /// toe_mover's command slots (`mover_write`).
    mover: Mover,
    /// The buflet-memory window (BUF_WIN_*, docs/p2p.md "The CPU's window").
    win: Window,
}

/// The CPU's window into buflet memory: the last address taken, whether it was refused, and
/// the bytes copied. The model copies at once (BUSY is never seen).
struct Window {
    addr: u32,
    bad: bool,
    data: [u8; buflet_spec::param::WIN_BYTES as usize],
}

impl Default for Window {
    fn default() -> Self {
        Window {
            addr: 0,
            bad: false,
            data: [0; buflet_spec::param::WIN_BYTES as usize],
        }
    }
}

/// The frame rx_parser is working on.
struct MacFrame {
    frame: Vec<u8>,
    /// Its parse (the checks do not depend on timing, so it is done up front).
    p: Parsed,
    /// Cycle of its first word.
    start: u64,
    /// Cycle its last word is taken (while rx_parser's stage B holds the previous record, the
    /// last word waits: the frame is taken the cycle stage B is free).
    done: u64,
}

/// rx_parser's stage B: the record of the frame whose last word was taken, checked and folded
/// (and its SYN options walked) until `ready`, then handed to the metadata FIFO when it has room.
struct StageB {
    meta: Meta,
    ready: u64,
}

#[derive(Clone, Copy)]
enum Unit {
    Timer,
    Tx,
    Cpl,
    Blk,
    Engine,
    Fetch,
    Mac,
    Parse,
}

impl ModelDevice {
    /// A device in its reset state (`STATUS.READY` set, disabled), its MAC on `mac`.
    pub fn new(cfg: DeviceConfig, mac: MacPort) -> Self {
        ModelDevice {
            mac,
            pool: BufletPool::new(cfg.num_buflets, cfg.buflet_bytes),
            toe: toe::Toe::new(&cfg),
            blk: blk::Blk::default(),
            prot: prot::Prot::default(),
            tx: tx::TxBuilder::default(),
            cfg,
            now: 0,
            regs: regs::Regs::default(),
            mac_q: VecDeque::new(),
            mac_cur: None,
            enable_before: (false, 0),
            wire_next: 0,
            meta_q: VecDeque::new(),
            stage_b: None,
            fetch: Fetch::Idle,
            toe_req: None,
            toe_req_at: 0,
            engine_free: 0,
            engine_rr: 0,
            tick_pending: false,
            next_period_tick: NEVER,
            cpl_q: VecDeque::new(),
            cpl_free: 0,
            rd_free: ReadPort::default(),
            txd_free: 0,
            txd_page: None,
            win: Window::default(),
            wr_free: WritePort::default(),
            mover: Mover::default(),
        }
    }

    /// Queue a completion that becomes visible to the completion writer at `ready_at`.
    pub(crate) fn post_cpl(&mut self, ready_at: u64, c: Cpl) {
        self.cpl_q.push_back((ready_at, c));
    }

    fn mac_schedule(&mut self) {
        if self.mac_cur.is_none() {
            if let Some((frame, pushed)) = self.mac_q.pop_front() {
                let start = self.wire_next.max(pushed).max(self.now);
                self.wire_next = start + self.cfg.wire_cycles(frame.len());
                let p = parse::parse(&frame);
                let done = start + costs::words(&self.cfg, frame.len().max(1));
                self.mac_cur = Some(MacFrame {
                    frame,
                    p,
                    start,
                    done,
                });
            }
        }
    }

    /// A BUF_WIN_ADDR write: copy the WIN_BYTES bytes at device address `a` into the window,
    /// or refuse (BAD, zeros) unless `a` is aligned, inside buflet memory and its buflet exposed.
    fn window(&mut self, a: u32) {
        let w = buflet_spec::param::WIN_BYTES;
        let bytes = u64::from(self.cfg.buflet_bytes.max(1));
        let a64 = u64::from(a);
        let b = a64 / bytes;
        let ok = a64 % w == 0
            && b < u64::from(self.cfg.num_buflets)
            && self.pool.is_exposed(b as u16)
            && self.pool.read_dev(a64, &mut self.win.data);
        self.win.addr = a;
        self.win.bad = !ok;
        if ok {
            self.regs.count(buflet_spec::reg::CNT_BUF_WIN_READS, 1);
        } else {
            self.win.data = [0; buflet_spec::param::WIN_BYTES as usize];
        }
    }

    fn next_event(&self) -> (u64, Unit) {
        let at = |t: u64| if t == NEVER { NEVER } else { t.max(self.now) };
        let cpl_t = match self.cpl_q.front() {
            Some(&(ready, _)) if self.cpl_room() && !self.prot.ring_fault => {
                at(ready.max(self.cpl_free))
            }
            _ => NEVER,
        };
        let blk_t = at(self.blk_next());
        let engine_t = if self.engine_has_work_but_frames() {
            at(self.engine_free)
        } else if let Some(&(v, _)) = self.meta_q.front() {
            at(self.engine_free.max(v))
        } else {
            NEVER
        };
        let fetch_t = match &self.fetch {
            Fetch::Idle
                if self.regs.enabled()
                    && !self.prot.ring_fault
                    && self.regs.req_size != 0
                    && self.regs.req_head != self.regs.req_tail =>
            {
                self.now
            }
            Fetch::Idle => NEVER,
            Fetch::Busy { done, .. } => at(*done),
            Fetch::Hold { entry } => {
                if self.can_dispatch(entry) {
                    self.now
                } else {
                    NEVER
                }
            }
        };
        let mac_t = match &self.mac_cur {
            Some(m) if self.stage_b.is_none() => at(m.done),
            _ => NEVER,
        };
        let parse_t = match &self.stage_b {
            Some(b) if self.meta_q.len() < costs::META_FIFO_DEPTH => at(b.ready),
            _ => NEVER,
        };
        let tx_t = self.tx.next_done().map_or(NEVER, at);
        // While a tick is pending, periodic requests merge into it: nothing to schedule.
        let timer_t = if self.tick_pending {
            NEVER
        } else {
            at(self.next_period_tick)
        };
        // The timer goes first: a request in the cycle the engine picks is taken at once.
        let mut best = (timer_t, Unit::Timer);
        for c in [
            (tx_t, Unit::Tx),
            (cpl_t, Unit::Cpl),
            (blk_t, Unit::Blk),
            (parse_t, Unit::Parse),
            (engine_t, Unit::Engine),
            (fetch_t, Unit::Fetch),
            (mac_t, Unit::Mac),
        ] {
            if c.0 < best.0 {
                best = c;
            }
        }
        best
    }

    /// Process every event up to and including cycle `target`, then set the clock to it.
    fn advance(&mut self, env: &mut HostEnv, target: u64) {
        // What the wire delivered since the last call arrived at this cycle.
        // An empty frame has no word to present on the MAC stream: it never enters (as in the RTL).
        let now = self.now;
        for f in self.mac.take_rx() {
            if f.is_empty() {
                self.mac.rx_done();
            } else {
                self.mac_q.push_back((f, now));
            }
        }
        loop {
            self.mac_schedule();
            let (t, unit) = self.next_event();
            if t > target {
                break;
            }
            self.now = t;
            match unit {
                Unit::Timer => self.timer_step(),
                Unit::Tx => self.tx_step(),
                Unit::Cpl => self.cpl_step(env),
                Unit::Blk => self.blk_step(env),
                Unit::Engine => self.engine_step(env),
                Unit::Fetch => self.fetch_step(env),
                Unit::Mac => self.mac_step(),
                Unit::Parse => {
                    if let Some(b) = self.stage_b.take() {
                        self.meta_q
                            .push_back((self.now + costs::META_FIFO_LATENCY, b.meta));
                    }
                }
            }
        }
        self.now = target;
    }

    // ---- MAC + rx_parser ----

    /// CTRL.ENABLE as seen by a frame whose first word entered at `start`.
    fn enabled_at(&self, start: u64) -> bool {
        let (before, changed) = self.enable_before;
        if start >= changed {
            self.regs.enabled()
        } else {
            before
        }
    }

    /// The free buflet count toe_engine samples now: the pool's count less the buflets that
    /// rx_parser has already taken for the frame it is streaming in (one at its first word
    /// and one at every BUFLET_BYTES boundary; the model stores that frame when it ends).
    pub(crate) fn free_sample(&self) -> u32 {
        let free = self.pool.free_count();
        let Some(m) = &self.mac_cur else {
            return free;
        };
        if self.now <= m.start || !self.enabled_at(m.start) {
            return free;
        }
        let bus = self.cfg.bus_bytes() as u64;
        let total_words = (m.frame.len() as u64).div_ceil(bus);
        let words_in = (self.now - m.start).min(total_words);
        let taken = (words_in * bus).div_ceil(self.cfg.buflet_bytes as u64);
        free.saturating_sub(taken.min(u32::MAX as u64) as u32)
    }

    fn mac_step(&mut self) {
        let Some(MacFrame {
            frame, p, start, ..
        }) = self.mac_cur.take()
        else {
            return;
        };
        self.mac.rx_done();
        // ENABLE is sampled with the frame's first word.
        if !self.enabled_at(start) {
            return; // consumed and dropped, not counted
        }
        self.regs.count(buflet_spec::reg::CNT_RX_FRAMES, 1);
        self.regs
            .count(buflet_spec::reg::CNT_RX_BYTES, frame.len() as u64);
        let mut p = p;
        let (chain, whole) = self.pool.store(&frame);
        // a frame not stored whole is not walked (rx_parser: the walk needs it stored)
        if !whole {
            p.walk_steps = 0;
        }
        if !whole && p.reason == 0 {
            p = Parsed {
                reason: buflet_spec::drop::NO_BUFLET as u8,
                len: p.len,
                ..Parsed::default()
            };
        }
        let ready = self.now + costs::PARSE_OVERHEAD + p.walk_steps as u64;
        self.stage_b = Some(StageB {
            meta: Meta { p, chain, whole },
            ready,
        });
    }

    // ---- timer ----

    /// A periodic tick request (TIMER_PERIOD): it becomes the pending tick.
    fn timer_step(&mut self) {
        self.tick_pending = true;
        let period = self.regs.timer_period as u64;
        self.next_period_tick = if period == 0 {
            NEVER
        } else {
            self.next_period_tick.saturating_add(period)
        };
    }

    /// toe_engine takes the pending tick now: periodic requests up to this cycle merged into
    /// it, so the next one is the first after now.
    pub(crate) fn take_tick(&mut self) {
        self.tick_pending = false;
        let period = self.regs.timer_period as u64;
        if period != 0 && self.next_period_tick <= self.now {
            let k = (self.now - self.next_period_tick) / period + 1;
            self.next_period_tick += k * period;
        }
    }

    // ---- request fetch ----

    fn can_dispatch(&self, entry: &[u8]) -> bool {
        if prot::is_region(entry) {
            true
        } else if is_blk(entry) {
            self.blk.fifo.len() < costs::BLK_FIFO_DEPTH
        } else {
            self.toe_req.is_none()
        }
    }

    fn fetch_step(&mut self, env: &mut HostEnv) {
        match std::mem::replace(&mut self.fetch, Fetch::Idle) {
            Fetch::Idle => {
                let r = &self.regs;
                let addr = r.req_base + (r.req_head % r.req_size) as u64 * REQ_BYTES as u64;
                if !self.check(addr, REQ_BYTES as u64, false, prot::rid::RD_REQ_FETCH) {
                    // Fatal: nothing fetched, REQ_HEAD stays; fetch stops (STATUS.FAULT).
                    self.prot.ring_fault = true;
                    return;
                }
                let mut entry = [0u8; REQ_BYTES];
                // A refused fetch returns zeros: opcode 0 -> CMD_DONE/BAD_OPCODE with tag 0.
                let (_, done) = dma_read(
                    &self.cfg,
                    &mut self.rd_free,
                    env,
                    Agent::NicDma,
                    self.now,
                    addr,
                    &mut entry,
                );
                self.fetch = Fetch::Busy { entry, done };
            }
            Fetch::Busy { entry, .. } => {
                self.regs.req_head = self.regs.req_head.wrapping_add(1);
                self.fetch = Fetch::Hold { entry };
            }
            Fetch::Hold { entry } => {
                if prot::is_region(&entry) {
                    self.region_req(&entry);
                } else if is_blk(&entry) {
                    self.blk.fifo.push_back((self.now + costs::DISPATCH, entry));
                } else {
                    self.toe_req = Some(entry);
                    self.toe_req_at = self.now + costs::DISPATCH;
                    self.engine_free = self.engine_free.max(self.now + costs::DISPATCH);
                }
            }
        }
    }

    // ---- tx_builder ----

    fn tx_step(&mut self) {
        let Some((_, frame)) = self.tx.building.pop_front() else {
            return;
        };
        self.regs.count(buflet_spec::reg::CNT_TX_FRAMES, 1);
        self.regs
            .count(buflet_spec::reg::CNT_TX_BYTES, frame.len() as u64);
        self.mac.transmit(frame);
    }

    // ---- completion writer ----

    fn cpl_room(&self) -> bool {
        let r = &self.regs;
        r.cpl_size != 0 && r.cpl_tail.wrapping_sub(r.cpl_head) < r.cpl_size
    }

    fn cpl_step(&mut self, env: &mut HostEnv) {
        let r = &self.regs;
        let addr = r.cpl_base + (r.cpl_tail % r.cpl_size) as u64 * cpl::SIZE as u64;
        if !self.check(addr, cpl::SIZE as u64, true, prot::rid::WR_CPL) {
            // Fatal: the completion stays queued and the writer stops (STATUS.FAULT).
            self.prot.ring_fault = true;
            return;
        }
        let Some((_, c)) = self.cpl_q.pop_front() else {
            return;
        };
        let r = &self.regs;
        let phase = 1 - ((r.cpl_tail / r.cpl_size) & 1) as u8;
        let e = encode(&c, phase);
        self.cpl_free = dma_write(
            &self.cfg,
            &mut self.wr_free,
            env,
            Agent::NicDma,
            self.now,
            addr,
            &e,
        );
        let r = &mut self.regs;
        r.cpl_tail = r.cpl_tail.wrapping_add(1);
        r.irq_status |= regs::IRQ_CPL;
        r.count(buflet_spec::reg::CNT_CPL_POSTED, 1);
        if !c.is_ok() {
            r.count(buflet_spec::reg::CNT_REQ_ERRORS, 1);
        }
    }
}

impl Device for ModelDevice {
    fn backend(&self) -> &'static str {
        "model"
    }

    fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    fn reg_read(&mut self, env: &mut HostEnv, addr: u32) -> u32 {
        self.advance(env, self.now + costs::REG_READ);
        use buflet_spec::reg;
        let p = &self.prot;
        match addr {
            reg::STATUS => {
                self.regs.read(&self.cfg, addr, 0)
                    | if p.ring_fault { regs::STATUS_FAULT } else { 0 }
            }
            reg::NUM_REGIONS => prot::NUM_REGIONS as u32,
            reg::PROT_FAULT_ADDR_LO => p.fault_addr as u32,
            reg::PROT_FAULT_ADDR_HI => (p.fault_addr >> 32) as u32,
            reg::PROT_FAULT_INFO => p.fault_info,
            reg::CNT_PROT_FAULTS => p.faults,
            reg::HOST_BUFLETS => self.pool.host(),
            reg::HALF_OPEN => self.toe.half_open(),
            reg::ACCEPT_POOL => self.toe.accept_pool(),
            reg::BUF_WIN_ADDR => self.win.addr,
            reg::BUF_WIN_STATUS => u32::from(self.win.bad) * regs::WIN_BAD,
            a if (reg::BUF_WIN_DATA0..=reg::BUF_WIN_DATA15).contains(&a) && a % 4 == 0 => {
                let k = (a - reg::BUF_WIN_DATA0) as usize;
                u32::from_le_bytes(self.win.data[k..k + 4].try_into().unwrap_or([0; 4]))
            }
            _ => self.regs.read(&self.cfg, addr, self.pool.free_count()),
        }
    }

    fn reg_write(&mut self, env: &mut HostEnv, addr: u32, value: u32) {
        self.advance(env, self.now + costs::REG_WRITE);
        if addr == buflet_spec::reg::CTRL {
            self.enable_before = (self.regs.enabled(), self.now);
            if value & regs::CTRL_ENABLE == 0 {
                // Clearing ENABLE acknowledges a ring fault.
                self.prot.ring_fault = false;
            }
        }
        self.regs.write(addr, value);
        match addr {
            buflet_spec::reg::HOST_BUFLETS => self.pool.set_host(value),
            // Writing TIMER_PERIOD restarts the period: the first request comes TIMER_PERIOD
            // cycles after the write (the contract leaves the phase open).
            buflet_spec::reg::TIMER_PERIOD => {
                self.next_period_tick = if value == 0 {
                    NEVER
                } else {
                    self.now + value as u64
                };
            }
            buflet_spec::reg::TIMER_KICK => self.tick_pending = true,
            buflet_spec::reg::BUF_WIN_ADDR => self.window(value),
            _ => {}
        }
    }

    fn run(&mut self, env: &mut HostEnv, cycles: u64) {
        self.advance(env, self.now + cycles);
    }

    fn irq(&self) -> bool {
        self.regs.irq()
    }

    fn cycles(&self) -> u64 {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buflet_platform::{BlockDevice, HostMemory};

    /// The window's free count includes the buflets rx_parser has already taken for the frame
    /// it is streaming in: one at its first word, one more at every BUFLET_BYTES boundary.
    #[test]
    fn free_sample_counts_the_frame_streaming_in() {
        let path = std::env::temp_dir().join(format!("buflet-model-fs-{}.img", std::process::id()));
        let mut env = HostEnv {
            mem: HostMemory::new(1 << 20),
            disk: BlockDevice::create(&path, 1 << 16).unwrap(),
        };
        let cfg = DeviceConfig::with_width(64);
        let (mac, wire) = buflet_platform::link();
        let mut d = ModelDevice::new(cfg.clone(), mac);
        d.reg_write(&mut env, buflet_spec::reg::CTRL, 1);
        wire.send(vec![0; 9000]); // 5 buflets, 1125 words
        d.run(&mut env, 0);
        let start = d.mac_cur.as_ref().unwrap().start;
        let n = cfg.num_buflets;
        let mut seen = vec![];
        for at in [0u64, 1, 2, 256, 257, 1124, 1125, 1128] {
            d.run(&mut env, start + at - d.now);
            seen.push(n - d.free_sample());
            // Stored when the last word is taken (at 1125), then counted by the pool (and
            // dropped soon after: it is no IPv4 frame).
            if at <= 1125 {
                let stored = if at == 1125 { 5 } else { 0 };
                assert_eq!(d.pool.free_count(), n - stored, "at {at}");
            }
        }
        assert_eq!(seen, vec![0, 1, 1, 1, 2, 5, 5, 0]);
        let _ = std::fs::remove_file(&path);
    }
}
