//! The Buflet host driver. It reaches the device only through [`buflet_platform::Device`], so
//! the same code drives the Rust model and the Verilated RTL.
//!
//! - [`Driver`]: bring-up, request and completion rings, socket descriptors (TCP and UDP),
//!   named buffers, anonymous buffers, the NIC's own addresses (ARP responder), the timer that
//!   returns named buffers on timeout, block writes and reads, counters.
//! - [`regcache`]: the registration cache (seed 004): per-I/O buffers (named buffer pages and
//!   page lists, anonymous buffers, the NAS writer's scatter-gather lists and bounce blocks)
//!   stay registered across I/Os; see `docs/registration.md`.

pub mod regcache;

use buflet_platform::{Agent, Device, HostEnv, MemError};
use buflet_spec::{
    self as spec, cpl, reg, req_hdr, AnonDesc, BlkReq, BufRelease, IpProto, LayoutError, NbDesc,
    Opcode, RegionDesc, RegionPerm, ReqHdr, SockDesc, SockFlags, Status,
};
pub use buflet_spec::{CplFlags, CplKind, DropReason, HoldRec};
use regcache::{fit_runs, Perms, RegCache, RegConfig, RegError, RegStats};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

/// Driver failures.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The device did not identify itself as Buflet.
    #[error("device ID register reads {0:#010x}, expected 0x42464c54 ('BFLT')")]
    BadId(u32),
    /// The device did not become ready.
    #[error("device not ready after reset (STATUS={0:#x})")]
    NotReady(u32),
    /// Host memory could not satisfy a request.
    #[error("host memory: {0}")]
    Mem(#[from] MemError),
    /// The device completed a request with an error status.
    #[error("request {opcode} (tag {tag}) failed with status {code} ({status})", code = status.code())]
    Request {
        /// Opcode of the failed request (raw: it may be one the device does not know).
        opcode: u8,
        /// Its tag.
        tag: u32,
        /// Why it failed.
        status: Status,
    },
    /// The device wrote a completion this driver cannot decode (an unknown kind or status).
    #[error("bad completion entry: {0}")]
    BadEntry(#[from] LayoutError),
    /// Waited too long for the device.
    #[error("timed out after {0} cycles waiting for {1}")]
    Timeout(u64, &'static str),
    /// No free slot of a device table.
    #[error("no free {0} slot")]
    NoSlot(&'static str),
    /// The registration cache refused a request.
    #[error("registration: {0}")]
    Reg(#[from] RegError),
    /// A request the driver refuses to build (its arguments are out of the spec's range).
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// Hold records of a returned named buffer that do not add up (docs/p2p.md): a record with
    /// `LEN` 0, outside its buflet, naming a buflet the device does not have, or records that
    /// do not sum to the buffer's `BYTES`.
    #[error("named buffer {ref_num}: bad hold record {index}: {why}")]
    BadRecord {
        /// The buffer's reference number.
        ref_num: u32,
        /// Index of the record.
        index: usize,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// Human name of a completion status code ("unknown" for a code the spec does not define).
pub fn status_name(s: u8) -> &'static str {
    Status::try_from(s).map_or("unknown", Status::name)
}

/// A completion entry, decoded (the spec's `cpl` layout).
pub type Completion = spec::Cpl;

/// The driver's reading of a completion's status.
pub trait CplResult {
    /// The completion's status as a [`DriverError::Request`] (opcode, tag, status; its message
    /// names the status, e.g. `BAD_BUF` for a `BUF_RELEASE` that met a head that is not held),
    /// or `Ok` when `STATUS` is `OK`.
    fn result(&self) -> Result<(), DriverError>;
}

impl CplResult for Completion {
    fn result(&self) -> Result<(), DriverError> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(DriverError::Request {
                opcode: self.opcode,
                tag: self.tag,
                status: self.status,
            })
        }
    }
}

/// The connection a socket descriptor describes, from the NIC's point of view, and the
/// host-chosen TCP parameters of its passive open (the `sock_desc` layout of the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketSpec {
    /// Our MAC (destination of received frames, source of the NIC's ACKs), wire order.
    pub local_mac: [u8; 6],
    /// The peer's MAC (destination of the NIC's ACKs), wire order.
    pub remote_mac: [u8; 6],
    /// VLAN id, 0 = untagged.
    pub vlan: u16,
    /// Our IPv4 address, wire order.
    pub local_ip: [u8; 4],
    /// The peer's IPv4 address, wire order.
    pub remote_ip: [u8; 4],
    /// Our TCP port.
    pub local_port: u16,
    /// The peer's TCP port.
    pub remote_port: u16,
    /// Our initial send sequence number (the SEQ of the NIC's SYN-ACK).
    pub iss: u32,
    /// Receive buffer in bytes (1..2^30): bound of accepted-but-undelivered data.
    pub rcv_buf: u32,
    /// MSS option value the NIC sends in its SYN-ACK.
    pub mss: u16,
    /// Window scale shift (0..14) the NIC offers when the peer's SYN carries the option.
    pub rcv_wscale: u8,
    /// `sock_flag` bits (e.g. `PSH_RETURN`; `HOLD` makes a p2p hold socket, TCP only,
    /// docs/p2p.md: its named buffers receive hold records instead of payload).
    pub flags: SockFlags,
    /// IP protocol. TCP: passive open, reassembly, ACKs with the window
    /// (docs/tcp-receive.md). UDP: the socket starts established; each datagram (UDP header
    /// included) goes into its own named buffer, returned with flag DATAGRAM
    /// (docs/rx-paths.md); the TCP parameters are ignored.
    pub proto: IpProto,
}

impl SocketSpec {
    /// The same socket with `sock_flag::HOLD` set (`on`) or cleared: a p2p hold socket whose
    /// payload stays in the NIC's buflets (docs/p2p.md).
    pub fn with_hold(mut self, on: bool) -> Self {
        self.flags.set(SockFlags::HOLD, on);
        self
    }

    /// True when `sock_flag::HOLD` is set.
    pub fn is_hold(&self) -> bool {
        self.flags.contains(SockFlags::HOLD)
    }

    /// The `SOCK_ADD` entry of this socket in slot `sock_ref` (tag 0: [`Driver`] sets it).
    pub fn desc(&self, sock_ref: u16) -> SockDesc {
        SockDesc {
            opcode: Opcode::SockAdd,
            flags: self.flags,
            sock_ref,
            local_mac: self.local_mac,
            remote_mac: self.remote_mac,
            vlan: self.vlan,
            proto: self.proto.code(),
            local_ip: Ipv4Addr::from(self.local_ip),
            remote_ip: Ipv4Addr::from(self.remote_ip),
            local_port: self.local_port,
            remote_port: self.remote_port,
            iss: self.iss,
            rcv_buf: self.rcv_buf,
            mss: self.mss,
            rcv_wscale: self.rcv_wscale,
            ..Default::default()
        }
    }
}

/// Snapshot of the device's statistics counters, read by their spec names.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// `CNT_RX_FRAMES`.
    pub rx_frames: u32,
    /// `CNT_RX_BYTES`.
    pub rx_bytes: u32,
    /// `CNT_RX_ACCEPTED`.
    pub rx_accepted: u32,
    /// `CNT_DELIVERED_BYTES`.
    pub delivered_bytes: u32,
    /// `CNT_FREE_BUFLETS`.
    pub free_buflets: u32,
    /// `CNT_REQ_ERRORS`.
    pub req_errors: u32,
    /// `CNT_BLK_WRITES`.
    pub blk_writes: u32,
    /// `CNT_BLK_BYTES`.
    pub blk_bytes: u32,
    /// `CNT_CPL_POSTED`.
    pub cpl_posted: u32,
    /// `CNT_NB_RETURNED`.
    pub nb_returned: u32,
    /// `CNT_TX_FRAMES`.
    pub tx_frames: u32,
    /// `CNT_TX_BYTES`.
    pub tx_bytes: u32,
    /// `CNT_OOO_HELD`.
    pub ooo_held: u32,
    /// `CNT_ANON_RX`: frames passed to the driver in anonymous buffers.
    pub anon_rx: u32,
    /// `CNT_ARP_REPLIES`: ARP requests for `NIC_IP` answered by the NIC.
    pub arp_replies: u32,
    /// `CNT_TIMEOUTS`: named buffers returned on timeout.
    pub timeouts: u32,
    /// `CNT_TICKS`: timer ticks (sweeps) performed.
    pub ticks: u32,
    /// `CNT_BLK_READS`: block reads issued to the block device.
    pub blk_reads: u32,
    /// `CNT_BLK_RD_BYTES`: bytes read from the block device into host memory.
    pub blk_rd_bytes: u32,
    /// `CNT_HOLD_RECORDS`: hold records written (p2p).
    pub hold_records: u32,
    /// `CNT_BUF_RELEASED`: held chains released by `BUF_RELEASE` (p2p).
    pub buf_released: u32,
    /// `CNT_BLK_DEV_BYTES`: bytes the block engine read from buflet memory (p2p).
    pub blk_dev_bytes: u32,
    /// Drop counters by reason, in spec order: `(name, count)` for every reason 1..=13.
    pub drops: Vec<(&'static str, u32)>,
}

impl Counters {
    /// The drop count of a reason by its spec name (`"OUT_OF_WINDOW"`), 0 if unknown.
    pub fn drop_count(&self, name: &str) -> u32 {
        self.drops
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// Sum of all drop counters.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().map(|(_, v)| *v as u64).sum()
    }
}

/// Every drop reason of the spec that has a counter (all but `NONE`), in code order.
pub fn drop_reasons() -> impl Iterator<Item = DropReason> {
    DropReason::ALL
        .iter()
        .copied()
        .filter(|r| r.counter().is_some())
}

/// Build parameters read from the device's ID registers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceInfo {
    pub version: u32,
    pub data_width: u32,
    pub buflet_bytes: u32,
    pub num_buflets: u32,
    pub num_sockets: u32,
    pub hash_buckets: u32,
    pub num_nbs: u32,
    pub block_bytes: u32,
    pub page_bytes: u32,
    pub clock_mhz: u32,
    /// Anonymous buffer slots (`NUM_ANON`).
    pub num_anon: u32,
    /// Protection table slots (`NUM_REGIONS`, docs/protection.md).
    pub num_regions: u32,
}

/// A named buffer the driver owns: its host pages and page list.
#[derive(Debug, Clone)]
pub struct NamedBuffer {
    /// Reference number (NB table slot).
    pub ref_num: u32,
    /// Host page addresses, in order.
    pub pages: Vec<u64>,
    /// Address of the page list (host memory descriptor).
    pub hmd_addr: u64,
    /// Capacity in bytes.
    pub bytes: u32,
}

/// An anonymous buffer the driver owns: one contiguous, registered host region that the NIC
/// fills with a frame matching no socket (`ANON_POST`, completion `ANON_RX`).
#[derive(Debug, Clone)]
pub struct AnonBuffer {
    /// Reference number (anonymous buffer slot, `< NUM_ANON`).
    pub ref_num: u32,
    /// Host address of the buffer.
    pub addr: u64,
    /// Capacity in bytes (`ANON_MIN_LEN..=ANON_MAX_LEN`).
    pub len: u32,
}

const REQ_ENTRIES: u32 = 256;
/// Protection table slots the driver keeps for the rings (0: request ring, 1: completion ring);
/// the registration cache's runs use the slots above them.
pub const RING_SLOTS: u32 = 2;
const CPL_ENTRIES: u32 = 256;
/// Cycles the driver lets pass between looks at the interrupt line.
const POLL_STEP: u64 = 64;

/// The host driver.
pub struct Driver {
    dev: Box<dyn Device>,
    /// Host memory and block device, shared with the device.
    pub env: HostEnv,
    /// Build parameters discovered at bring-up.
    pub info: DeviceInfo,
    req_base: u64,
    req_tail: u32,
    req_head_cache: u32,
    cpl_base: u64,
    cpl_head: u32,
    next_tag: u32,
    nb_free: Vec<u32>,
    sock_free: Vec<u16>,
    anon_free: Vec<u32>,
    /// Registrations of per-I/O buffers, kept across I/Os (seed 004).
    regs: RegCache,
    /// Buffers registered for a posted request, released by its completion: tag -> buffers.
    reg_held: HashMap<u32, Vec<(u64, u64)>>,
    /// Retired I/O buffers kept allocated (and registered) for reuse: (len, align) -> addresses.
    io_pool: HashMap<(u64, u64), Vec<u64>>,
    io_pool_bytes: u64,
    /// Device protection table slots `RING_SLOTS..NUM_REGIONS` as programmed: `(start, end)`.
    /// Empty when the device has no table (or too few slots): protection stays off.
    prot_slots: Vec<Option<(u64, u64)>>,
    /// The runs last mirrored into `prot_slots` (ascending).
    prot_want: Vec<(u64, u64)>,
    /// Mirroring and `CTRL.PROT_EN` on ([`Driver::set_protection`]).
    prot_on: bool,
    /// Tags of region requests whose `CMD_DONE` the driver swallows.
    prot_tags: HashSet<u32>,
    /// A region request failed: (opcode, tag, status), reported by the next
    /// [`Driver::completions`].
    prot_err: Option<(u8, u32, Status)>,
    /// Completions collected by a call that reported `prot_err`, returned by the next one.
    backlog: Vec<Completion>,
    /// `sock_flag` bits of every socket added and not deleted.
    sock_flags: HashMap<u16, SockFlags>,
}

/// Bytes of retired I/O buffers [`Driver::io_buf_free`] keeps for reuse at most.
pub const IO_POOL_BYTES: u64 = 4 << 20;

impl Driver {
    /// Bring the device up: check its ID, read its build parameters, allocate and register the
    /// rings, program them and enable the device.
    pub fn new(dev: Box<dyn Device>, env: HostEnv) -> Result<Self, DriverError> {
        let mut d = Driver {
            dev,
            env,
            info: DeviceInfo {
                version: 0,
                data_width: 0,
                buflet_bytes: 0,
                num_buflets: 0,
                num_sockets: 0,
                hash_buckets: 0,
                num_nbs: 0,
                block_bytes: 0,
                page_bytes: 0,
                clock_mhz: 0,
                num_anon: 0,
                num_regions: 0,
            },
            req_base: 0,
            req_tail: 0,
            req_head_cache: 0,
            cpl_base: 0,
            cpl_head: 0,
            next_tag: 1,
            nb_free: Vec::new(),
            sock_free: Vec::new(),
            anon_free: Vec::new(),
            regs: RegCache::new(RegConfig::default()),
            reg_held: HashMap::new(),
            io_pool: HashMap::new(),
            io_pool_bytes: 0,
            prot_slots: Vec::new(),
            prot_want: Vec::new(),
            prot_on: false,
            prot_tags: HashSet::new(),
            prot_err: None,
            backlog: Vec::new(),
            sock_flags: HashMap::new(),
        };
        let id = d.rd(reg::ID);
        if u64::from(id) != spec::param::ID_MAGIC {
            return Err(DriverError::BadId(id));
        }
        d.info = DeviceInfo {
            version: d.rd(reg::VERSION),
            data_width: d.rd(reg::DATA_WIDTH),
            buflet_bytes: d.rd(reg::BUFLET_BYTES),
            num_buflets: d.rd(reg::NUM_BUFLETS),
            num_sockets: d.rd(reg::NUM_SOCKETS),
            hash_buckets: d.rd(reg::HASH_BUCKETS),
            num_nbs: d.rd(reg::NUM_NBS),
            block_bytes: d.rd(reg::BLOCK_BYTES),
            page_bytes: d.rd(reg::PAGE_BYTES),
            clock_mhz: d.rd(reg::CLOCK_MHZ),
            num_anon: d.rd(reg::NUM_ANON),
            num_regions: d.rd(reg::NUM_REGIONS),
        };
        let mut waited = 0;
        while d.rd(reg::STATUS) & 1 == 0 {
            d.run(POLL_STEP);
            waited += POLL_STEP;
            if waited > 1_000_000 {
                return Err(DriverError::NotReady(d.rd(reg::STATUS)));
            }
        }
        d.nb_free = (0..d.info.num_nbs).rev().collect();
        d.sock_free = (0..d.info.num_sockets as u16).rev().collect();
        d.anon_free = (0..d.info.num_anon).rev().collect();
        let req_bytes = (REQ_ENTRIES as usize * req_hdr::SIZE) as u64;
        let cpl_bytes = (CPL_ENTRIES as usize * cpl::SIZE) as u64;
        d.req_base = d.env.mem.alloc(req_bytes, 4096)?;
        d.cpl_base = d.env.mem.alloc(cpl_bytes, 4096)?;
        // Fresh rings: completions start with phase 0 so the device's first pass (phase 1) is new.
        d.env
            .mem
            .write(Agent::Cpu, d.cpl_base, &vec![0; cpl_bytes as usize])?;
        d.env.mem.register(d.req_base, req_bytes);
        d.env.mem.register(d.cpl_base, cpl_bytes);
        d.wr(reg::REQ_BASE_LO, d.req_base as u32);
        d.wr(reg::REQ_BASE_HI, (d.req_base >> 32) as u32);
        d.wr(reg::REQ_SIZE, REQ_ENTRIES);
        d.wr(reg::REQ_TAIL, 0);
        d.wr(reg::CPL_BASE_LO, d.cpl_base as u32);
        d.wr(reg::CPL_BASE_HI, (d.cpl_base >> 32) as u32);
        d.wr(reg::CPL_SIZE, CPL_ENTRIES);
        d.wr(reg::CPL_HEAD, 0);
        d.wr(reg::IRQ_MASK, 1);
        d.wr(reg::CTRL, CTRL_ENABLE);
        if d.info.num_regions > RING_SLOTS {
            // Register the rings (request ring: the device reads it; completion ring: it
            // writes it), then turn the checks on. Until then every access is allowed, so
            // these two requests are fetched and completed unchecked.
            let rings = [
                (d.req_base, req_bytes, RegionPerm::READ),
                (d.cpl_base, cpl_bytes, RegionPerm::WRITE),
            ];
            for (slot, (base, len, perm)) in rings.into_iter().enumerate() {
                let e = region_entry(Opcode::RegRegion, 0, slot as u32, base, len, perm);
                d.call(e, "ring region registration")?;
            }
            d.prot_slots = vec![None; (d.info.num_regions - RING_SLOTS) as usize];
            d.prot_on = true;
            d.wr(reg::CTRL, CTRL_ENABLE | CTRL_PROT_EN);
        }
        Ok(d)
    }

    /// True when the driver programs the device protection table and `CTRL.PROT_EN` is set.
    pub fn protected(&self) -> bool {
        !self.prot_slots.is_empty() && self.prot_on
    }

    /// Turn the device checks (`CTRL.PROT_EN`) and the mirroring of the registration cache
    /// into the table off or on again (on: the table is brought up to date by the next
    /// request). Off is today's behaviour without a table, for callers that register memory
    /// directly with `HostMemory::register`. No effect on a device without a table.
    pub fn set_protection(&mut self, on: bool) {
        if self.prot_slots.is_empty() {
            return;
        }
        self.prot_on = on;
        let ctrl = if on {
            CTRL_ENABLE | CTRL_PROT_EN
        } else {
            CTRL_ENABLE
        };
        if on {
            // Slots are rewritten before the next request; until then the table may lag.
            self.prot_want.clear();
        }
        self.wr(reg::CTRL, ctrl);
    }

    /// The byte ranges `(start, end)` the protection table grants besides the rings, as
    /// programmed (slot `RING_SLOTS + i` is element `i`; `None` = invalid slot).
    pub fn prot_slots(&self) -> &[Option<(u64, u64)>] {
        &self.prot_slots
    }

    /// Mirror the registration cache's covered bytes into the protection table: maximal runs,
    /// one slot each, the two runs with the smallest gap merged while there are more runs than
    /// slots (the merged slot grants the gap too). Only slots that change get a request, issued
    /// on the request ring so that they take effect before any request submitted after them.
    /// Bytes that stay registered are never left uncovered between two of these requests: a
    /// slot is rewritten only when the bytes it held that are still wanted are covered by its
    /// new run or by another slot, and slots are invalidated last. (Should no such order exist,
    /// which needs every slot in use and a run split in two, the last rewrite leaves the
    /// moved bytes uncovered until the request after it; a request of the driver never uses
    /// bytes in that window, as only released entries leave the cache.)
    fn prot_sync(&mut self) -> Result<(), DriverError> {
        if self.prot_slots.is_empty() || !self.prot_on {
            return Ok(());
        }
        let want = fit_runs(&self.regs.runs(), self.prot_slots.len());
        if want == self.prot_want {
            return Ok(());
        }
        let wanted: HashSet<(u64, u64)> = want.iter().copied().collect();
        let mut fixed: Vec<bool> = self
            .prot_slots
            .iter()
            .map(|s| s.is_some_and(|r| wanted.contains(&r)))
            .collect();
        let mut placed: HashSet<(u64, u64)> = self
            .prot_slots
            .iter()
            .flatten()
            .copied()
            .filter(|r| wanted.contains(r))
            .collect();
        let mut pending: Vec<(u64, u64)> = want
            .iter()
            .copied()
            .filter(|r| !placed.contains(r))
            .collect();
        while !pending.is_empty() {
            // A (run, slot) pair whose rewrite uncovers nothing still wanted.
            let safe = |slots: &[Option<(u64, u64)>],
                        placed: &HashSet<(u64, u64)>,
                        n: (u64, u64),
                        j: usize| {
                slots[j].is_none_or(|(a, b): (u64, u64)| {
                    want.iter()
                        .filter(|r| r.0 < b && a < r.1)
                        .all(|r| *r == n || placed.contains(r))
                })
            };
            let mut pick = None;
            'find: for (i, &n) in pending.iter().enumerate() {
                for (j, _) in fixed.iter().enumerate().filter(|(_, f)| !**f) {
                    if safe(&self.prot_slots, &placed, n, j) {
                        pick = Some((i, j));
                        break 'find;
                    }
                }
            }
            let (i, j) = match pick {
                Some(p) => p,
                None => match fixed.iter().position(|f| !f) {
                    Some(j) => (0, j),
                    None => break, // cannot happen: want.len() <= slots
                },
            };
            let n = pending.remove(i);
            let perm = RegionPerm::READ | RegionPerm::WRITE;
            self.region_req(Opcode::RegRegion, j, n.0, n.1 - n.0, perm)?;
            self.prot_slots[j] = Some(n);
            fixed[j] = true;
            placed.insert(n);
        }
        let stale: Vec<usize> = (0..fixed.len())
            .filter(|&j| !fixed[j] && self.prot_slots[j].is_some())
            .collect();
        for j in stale {
            self.region_req(Opcode::DeregRegion, j, 0, 0, RegionPerm::empty())?;
            self.prot_slots[j] = None;
        }
        self.prot_want = want;
        Ok(())
    }

    /// Queue a region request for cache slot `j` (device slot `RING_SLOTS + j`); its
    /// `CMD_DONE` is swallowed by [`Driver::completions`].
    fn region_req(
        &mut self,
        opcode: Opcode,
        j: usize,
        base: u64,
        len: u64,
        perm: RegionPerm,
    ) -> Result<(), DriverError> {
        let tag = self.tag();
        let slot = RING_SLOTS + j as u32;
        let e = region_entry(opcode, tag, slot, base, len, perm);
        self.prot_tags.insert(tag);
        self.submit_raw(&e)
    }

    /// Which backend is underneath ("model" or "rtl").
    pub fn backend(&self) -> &'static str {
        self.dev.backend()
    }

    /// Read a device register.
    pub fn rd(&mut self, addr: u32) -> u32 {
        self.dev.reg_read(&mut self.env, addr)
    }

    /// Write a device register.
    pub fn wr(&mut self, addr: u32, value: u32) {
        self.dev.reg_write(&mut self.env, addr, value)
    }

    /// Let `cycles` clock cycles pass.
    pub fn run(&mut self, cycles: u64) {
        self.dev.run(&mut self.env, cycles)
    }

    /// Cycles since reset.
    pub fn cycles(&self) -> u64 {
        self.dev.cycles()
    }

    /// Queue a frame on the device's MAC receive side.
    pub fn rx_push(&mut self, frame: Vec<u8>) {
        self.dev.rx_push(frame)
    }

    /// Frames not yet taken by the device.
    pub fn rx_pending(&self) -> usize {
        self.dev.rx_pending()
    }

    /// Take a transmitted frame.
    pub fn tx_pop(&mut self) -> Option<Vec<u8>> {
        self.dev.tx_pop()
    }

    fn tag(&mut self) -> u32 {
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
    fn submit_raw(&mut self, entry: &[u8; 64]) -> Result<(), DriverError> {
        let mut waited = 0;
        while self.req_tail.wrapping_sub(self.req_head_cache) >= REQ_ENTRIES {
            self.req_head_cache = self.rd(reg::REQ_HEAD);
            if self.req_tail.wrapping_sub(self.req_head_cache) < REQ_ENTRIES {
                break;
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
    fn call(
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
        let mut waited = 0u64;
        loop {
            for c in self.wait(100_000)? {
                if c.tag == tag && c.kind == CplKind::CmdDone {
                    if !c.is_ok() {
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

    /// Post a socket descriptor (OP_SOCK_ADD). A TCP socket starts in LISTEN; a UDP socket
    /// starts established and ignores `iss`, `rcv_buf`, `mss` and `rcv_wscale` (for UDP,
    /// `local_port`/`remote_port` are the datagrams' destination and source ports). Returns its
    /// reference number and completions seen meanwhile.
    pub fn add_socket(&mut self, s: &SocketSpec) -> Result<(u16, Vec<Completion>), DriverError> {
        let sref = self.sock_free.pop().ok_or(DriverError::NoSlot("socket"))?;
        let e = s.desc(sref).to_bytes();
        match self.call(e, "SOCK_ADD") {
            Ok((_, others)) => {
                self.sock_flags.insert(sref, s.flags);
                Ok((sref, others))
            }
            Err(err) => {
                self.sock_free.push(sref);
                Err(err)
            }
        }
    }

    /// The `sock_flag` bits a socket was added with ([`Driver::add_socket`]), `None` for a
    /// socket this driver has not added (or has deleted).
    pub fn socket_flags(&self, sref: u16) -> Option<SockFlags> {
        self.sock_flags.get(&sref).copied()
    }

    /// Delete a socket (OP_SOCK_DEL) and wait for its `CMD_DONE`. The device returns the
    /// socket's named buffers first (`NB_RETURN`, flag `DELETE`, bytes filled so far), so every
    /// one of them is among the returned completions, together with any other completion
    /// (block writes, ...) that arrived meanwhile, in ring order. The `CMD_DONE` itself is
    /// consumed. The reference number becomes free for [`Driver::add_socket`].
    pub fn del_socket(&mut self, sref: u16) -> Result<Vec<Completion>, DriverError> {
        let mut e = [0u8; 64];
        ReqHdr {
            opcode: Opcode::SockDel.code(),
            sock_ref: sref,
            ..Default::default()
        }
        .emit(&mut e);
        let (_, others) = self.call(e, "SOCK_DEL")?;
        self.sock_flags.remove(&sref);
        if (sref as u32) < self.info.num_sockets && !self.sock_free.contains(&sref) {
            self.sock_free.push(sref);
        }
        Ok(others)
    }

    /// Allocate a named buffer of `pages` host pages (each page allocated separately, so the
    /// buffer is scattered in host memory) and its page list, and keep it ready for posting.
    /// Its pages and page list are registered by [`Driver::post_nb`], through the registration
    /// cache, and stay registered across posts until [`Driver::free_nb`].
    pub fn alloc_nb(&mut self, pages: usize) -> Result<NamedBuffer, DriverError> {
        let ref_num = self
            .nb_free
            .pop()
            .ok_or(DriverError::NoSlot("named buffer"))?;
        let page = self.info.page_bytes as u64;
        let mut addrs = Vec::with_capacity(pages);
        for _ in 0..pages {
            let a = self.env.mem.alloc(page, page)?;
            addrs.push(a);
        }
        let hmd_addr = self.env.mem.alloc(8 * pages as u64, 64)?;
        let list: Vec<u8> = addrs.iter().flat_map(|a| a.to_le_bytes()).collect();
        self.env.mem.write(Agent::Cpu, hmd_addr, &list)?;
        Ok(NamedBuffer {
            ref_num,
            pages: addrs,
            hmd_addr,
            bytes: (pages as u64 * page) as u32,
        })
    }

    /// Designate a named buffer to a socket (OP_NB_POST). Its completion is its later return.
    /// `timeout` is the number of timer ticks (see [`Driver::set_timer_period`],
    /// [`Driver::timer_kick`]) the buffer may spend at the head of the socket's list before it
    /// is returned with flag TIMEOUT, however full; 0 = never.
    ///
    /// The buffer's pages (read and write: the NIC fills them, the block engine may read them
    /// on their way to disk) and page list (read) are looked up in the registration cache and
    /// registered on a miss; its completion (`NB_RETURN`, or a `CMD_DONE` error) releases them.
    pub fn post_nb(
        &mut self,
        sock: u16,
        nb: &NamedBuffer,
        timeout: u32,
    ) -> Result<u32, DriverError> {
        let tag = self.tag();
        let page = self.info.page_bytes as u64;
        let mut bufs: Vec<(u64, u64, Perms)> =
            nb.pages.iter().map(|&a| (a, page, Perms::RW)).collect();
        bufs.push((nb.hmd_addr, 8 * nb.pages.len() as u64, Perms::READ));
        self.hold(tag, &bufs)?;
        let e = NbDesc {
            opcode: Opcode::NbPost,
            sock_ref: sock,
            tag,
            ref_num: nb.ref_num,
            timeout,
            total_bytes: nb.bytes,
            next_nb: spec::param::NULL16 as u16,
            prev_nb: spec::param::NULL16 as u16,
            hmd_addr: nb.hmd_addr,
            hmd_pages: nb.pages.len() as u32,
            ..Default::default()
        }
        .to_bytes();
        self.submit_held(tag, &e)?;
        Ok(tag)
    }

    /// Read `len` bytes from the start of a named buffer (as the NIC filled it; `len` is
    /// normally the `bytes` of its `NB_RETURN`). For a UDP datagram the first `hdr_bytes` of
    /// them are the UDP header.
    pub fn read_nb(&mut self, nb: &NamedBuffer, len: usize) -> Result<Vec<u8>, DriverError> {
        let page = self.info.page_bytes.max(1) as usize;
        let len = len.min(nb.pages.len() * page);
        let mut out = vec![0u8; len];
        for (i, chunk) in out.chunks_mut(page).enumerate() {
            self.env.mem.read(Agent::Cpu, nb.pages[i], chunk)?;
        }
        Ok(out)
    }

    /// The hold records of a returned named buffer of a hold socket (docs/p2p.md): records from
    /// record 0 (at page-list position 8r) until their `LEN`s add up to `bytes` (the
    /// `NB_RETURN`'s `BYTES`). The CPU reads exactly `8 * records` bytes. Every record is
    /// checked (`LEN` >= 1, inside one buflet, a buflet of the device, no more records than the
    /// buffer holds, the sum exactly `bytes`): [`DriverError::BadRecord`] otherwise.
    pub fn read_hold_records(
        &mut self,
        nb: &NamedBuffer,
        bytes: u32,
    ) -> Result<Vec<HoldRec>, DriverError> {
        const R: usize = spec::hold_rec::SIZE;
        let page = self.info.page_bytes.max(1) as usize;
        let bb = self.info.buflet_bytes.max(1);
        let max_recs = nb.pages.len() * page / R;
        let bad = |index, why| DriverError::BadRecord {
            ref_num: nb.ref_num,
            index,
            why,
        };
        let mut out = Vec::new();
        let mut left = bytes as u64;
        while left > 0 {
            let r = out.len();
            if r >= max_recs {
                return Err(bad(r, "more records than the buffer holds"));
            }
            // Each record holds less than a buflet, so at least this many are still to come:
            // read them at once (within the page), never a byte past the last record.
            let at = r * R;
            let in_page = (page - at % page) / R;
            let n = (left.div_ceil(bb as u64) as usize).clamp(1, in_page.max(1));
            let mut buf = vec![0u8; n * R];
            self.env.mem.read(
                Agent::Cpu,
                nb.pages[at / page] + (at % page) as u64,
                &mut buf,
            )?;
            for (k, c) in buf.chunks_exact(R).enumerate() {
                let rec = HoldRec::parse(c)?;
                let i = r + k;
                if rec.len == 0 {
                    return Err(bad(i, "LEN is 0"));
                }
                if rec.off as u32 + rec.len as u32 > bb {
                    return Err(bad(i, "the chunk crosses the end of its buflet"));
                }
                if rec.buflet as u32 >= self.info.num_buflets
                    || rec
                        .held_head()
                        .is_some_and(|h| u32::from(h) >= self.info.num_buflets)
                {
                    return Err(bad(i, "a buflet the device does not have"));
                }
                if rec.len as u64 > left {
                    return Err(bad(i, "the LENs exceed the buffer's BYTES"));
                }
                left -= rec.len as u64;
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// Give held buflet chains back to the device (OP_BUF_RELEASE, docs/p2p.md): `heads` are
    /// hold-record `HEAD` values, 1..=`RELEASE_MAX` (24) of them ([`DriverError::Invalid`]
    /// otherwise). Returns the tag of the request's `CMD_DONE` (`OK` with `BYTES` = count, or
    /// `BAD_BUF` with `BYTES` = heads released before the first one that was not held).
    pub fn buf_release(&mut self, heads: &[u16]) -> Result<u32, DriverError> {
        if heads.is_empty() || heads.len() > spec::param::RELEASE_MAX as usize {
            return Err(DriverError::Invalid(
                "BUF_RELEASE takes 1..=RELEASE_MAX (24) heads",
            ));
        }
        let tag = self.tag();
        self.submit(&BufRelease::new(tag, heads, heads.len() as u16).to_bytes())?;
        Ok(tag)
    }

    /// Allocate one contiguous anonymous buffer of `len` bytes (`ANON_MIN_LEN..=ANON_MAX_LEN`,
    /// not checked here: the device refuses other lengths with `BAD_NB`) and reserve an
    /// anonymous slot for it. [`Driver::post_anon`] registers it through the registration cache.
    pub fn alloc_anon(&mut self, len: u32) -> Result<AnonBuffer, DriverError> {
        let ref_num = self
            .anon_free
            .pop()
            .ok_or(DriverError::NoSlot("anonymous buffer"))?;
        let addr = match self.env.mem.alloc(len.max(1) as u64, 64) {
            Ok(a) => a,
            Err(e) => {
                self.anon_free.push(ref_num);
                return Err(e.into());
            }
        };
        Ok(AnonBuffer { ref_num, addr, len })
    }

    /// Give an anonymous buffer to the NIC (OP_ANON_POST): it joins the tail of the anonymous
    /// list. No completion is posted now: the buffer comes back with an `ANON_RX` completion
    /// (tag returned here) when a frame that matches no socket (or an ARP frame the responder
    /// does not answer, or a non-IPv4 frame) has been written into it, or a `CMD_DONE` with
    /// `BAD_NB` if the slot is busy or the length is out of range.
    ///
    /// The buffer is looked up in the registration cache (registered on a miss, for writing)
    /// and released by its completion.
    pub fn post_anon(&mut self, a: &AnonBuffer) -> Result<u32, DriverError> {
        let tag = self.tag();
        self.hold(tag, &[(a.addr, a.len.max(1) as u64, Perms::WRITE)])?;
        let e = AnonDesc {
            opcode: Opcode::AnonPost,
            tag,
            ref_num: a.ref_num,
            len: a.len,
            addr: a.addr,
            ..Default::default()
        }
        .to_bytes();
        self.submit_held(tag, &e)?;
        Ok(tag)
    }

    /// The frame an `ANON_RX` completion reports: its first `c.bytes` bytes, from the
    /// Ethernet header on (truncated to the buffer when `c` has flag TRUNC).
    pub fn read_anon(&mut self, a: &AnonBuffer, c: &Completion) -> Result<Vec<u8>, DriverError> {
        let mut out = vec![0u8; (c.bytes.min(a.len)) as usize];
        self.env.mem.read(Agent::Cpu, a.addr, &mut out)?;
        Ok(out)
    }

    /// Give an anonymous buffer back: deregister it (explicit free of the registration cache),
    /// free its memory and make its slot available again. Only for a buffer the device does not
    /// hold (never posted, or returned).
    pub fn free_anon(&mut self, a: AnonBuffer) {
        self.reg_free(a.addr, a.len.max(1) as u64);
        self.env.mem.free(a.addr);
        if a.ref_num < self.info.num_anon && !self.anon_free.contains(&a.ref_num) {
            self.anon_free.push(a.ref_num);
        }
    }

    /// Program the NIC's own addresses (`NIC_MAC_LO/HI`, `NIC_IP`; both in wire order): the ARP
    /// responder answers requests for `ip` with `mac`. An `ip` of 0.0.0.0 turns it off.
    pub fn set_nic_addr(&mut self, mac: [u8; 6], ip: [u8; 4]) {
        self.wr(
            reg::NIC_MAC_LO,
            u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
        );
        self.wr(reg::NIC_MAC_HI, u16::from_le_bytes([mac[4], mac[5]]) as u32);
        self.wr(reg::NIC_IP, u32::from_be_bytes(ip));
    }

    /// Set the timer period (`TIMER_PERIOD`): one tick every `cycles` device cycles, the first
    /// one period after this write; 0 stops the periodic ticks. Each tick counts down the
    /// `TIMEOUT` of every socket's head named buffer (see [`Driver::post_nb`]).
    pub fn set_timer_period(&mut self, cycles: u32) {
        self.wr(reg::TIMER_PERIOD, cycles);
    }

    /// Request one timer tick now (`TIMER_KICK`; requests while one is pending merge into it).
    pub fn timer_kick(&mut self) {
        self.wr(reg::TIMER_KICK, 1);
    }

    /// Submit a block write of a scatter-gather list already in host memory; returns its tag.
    pub fn blk_write(
        &mut self,
        sg_addr: u64,
        sg_count: u32,
        bytes: u32,
    ) -> Result<u32, DriverError> {
        self.blk_op(Opcode::BlkWrite, sg_addr, sg_count, bytes)
    }

    /// Submit an OP_BLK_READ: whole blocks from the disk into host memory along the SG list
    /// (the read half of read-modify-write). Returns the tag of its BLK_DONE completion.
    pub fn blk_read(
        &mut self,
        sg_addr: u64,
        sg_count: u32,
        bytes: u32,
    ) -> Result<u32, DriverError> {
        self.blk_op(Opcode::BlkRead, sg_addr, sg_count, bytes)
    }

    fn blk_op(
        &mut self,
        opcode: Opcode,
        sg_addr: u64,
        sg_count: u32,
        bytes: u32,
    ) -> Result<u32, DriverError> {
        let tag = self.tag();
        let e = BlkReq {
            opcode,
            tag,
            sg_addr,
            sg_max: sg_count,
            bytes,
            ..Default::default()
        }
        .to_bytes();
        self.submit(&e)?;
        Ok(tag)
    }

    /// The registration cache (entries and counters: hits, misses, registrations,
    /// deregistrations, collected).
    pub fn regcache(&self) -> &RegCache {
        &self.regs
    }

    /// The registration cache's counters.
    pub fn reg_stats(&self) -> RegStats {
        self.regs.stats()
    }

    /// Change the registration cache's collection bounds.
    pub fn set_reg_config(&mut self, cfg: RegConfig) {
        self.regs.set_config(cfg);
        self.regs.collect(&mut self.env.mem);
    }

    /// Lookup-or-register `[addr, addr+len)` for an I/O needing `perms` (see
    /// [`RegCache::acquire`]); true on a hit. Pair with [`Driver::reg_release`].
    pub fn reg_acquire(&mut self, addr: u64, len: u64, perms: Perms) -> Result<bool, DriverError> {
        Ok(self.regs.acquire(&mut self.env.mem, addr, len, perms)?)
    }

    /// The I/O that acquired `[addr, addr+len)` finished; the buffer stays registered.
    pub fn reg_release(&mut self, addr: u64, len: u64) -> Result<(), DriverError> {
        Ok(self.regs.release(addr, len)?)
    }

    /// Property change of `[addr, addr+len)`: deregistered and registered anew with `perms`
    /// if registered (true); refused while an I/O uses it.
    pub fn reg_set_perms(
        &mut self,
        addr: u64,
        len: u64,
        perms: Perms,
    ) -> Result<bool, DriverError> {
        Ok(self.regs.set_perms(&mut self.env.mem, addr, len, perms)?)
    }

    /// Explicit free: deregister every cache entry overlapping `[addr, addr+len)` and forget
    /// the completions that would have released them. Returns the entries deregistered.
    pub fn reg_free(&mut self, addr: u64, len: u64) -> usize {
        let Some(end) = addr.checked_add(len).filter(|_| len > 0) else {
            return 0;
        };
        for bufs in self.reg_held.values_mut() {
            bufs.retain(|&(a, l)| a >= end || a + l <= addr);
        }
        self.reg_held.retain(|_, b| !b.is_empty());
        self.regs.free(&mut self.env.mem, addr, len).unwrap_or(0)
    }

    /// Garbage-collect stale registrations now (see [`RegCache::collect`]).
    pub fn reg_collect(&mut self) -> usize {
        self.regs.collect(&mut self.env.mem)
    }

    /// Acquire `bufs` for the request tagged `tag`, released by its completion. On failure
    /// nothing stays acquired.
    fn hold(&mut self, tag: u32, bufs: &[(u64, u64, Perms)]) -> Result<(), DriverError> {
        let mut got = Vec::with_capacity(bufs.len());
        for &(a, l, p) in bufs {
            if let Err(e) = self.regs.acquire(&mut self.env.mem, a, l, p) {
                self.release_bufs(got);
                return Err(e.into());
            }
            got.push((a, l));
        }
        if let Some(old) = self.reg_held.insert(tag, got) {
            // A tag reused before its completion came (wrapped around): drop the old hold.
            self.release_bufs(old);
        }
        Ok(())
    }

    /// Submit a request whose buffers [`Driver::hold`] acquired; they are released if the
    /// request cannot be queued.
    fn submit_held(&mut self, tag: u32, entry: &[u8; 64]) -> Result<(), DriverError> {
        let r = self.submit(entry);
        if r.is_err() {
            self.release_tag(tag);
        }
        r
    }

    /// A completion ends the request it answers: release the buffers held for it.
    fn release_held(&mut self, c: &Completion) {
        if matches!(
            c.kind,
            CplKind::NbReturn | CplKind::AnonRx | CplKind::CmdDone
        ) {
            self.release_tag(c.tag);
        }
    }

    /// Release the buffers held for the request tagged `tag`, if any.
    fn release_tag(&mut self, tag: u32) {
        if let Some(bufs) = self.reg_held.remove(&tag) {
            self.release_bufs(bufs);
        }
    }

    /// Release acquired buffers `(addr, len)` (entries freed meanwhile are skipped).
    fn release_bufs(&mut self, bufs: Vec<(u64, u64)>) {
        for (a, l) in bufs {
            let _ = self.regs.release(a, l);
        }
    }

    /// An I/O buffer of `len` bytes aligned to `align`: a retired one of the same size and
    /// alignment if the pool has one (it may still be registered: acquire it through the
    /// cache, normally a hit), else fresh memory. Give it back with [`Driver::io_buf_free`].
    pub fn io_buf_alloc(&mut self, len: u64, align: u64) -> Result<u64, DriverError> {
        if let Some(a) = self.io_pool.get_mut(&(len, align)).and_then(|v| v.pop()) {
            self.io_pool_bytes -= len;
            return Ok(a);
        }
        Ok(self.env.mem.alloc(len, align)?)
    }

    /// Retire an I/O buffer from [`Driver::io_buf_alloc`] (no I/O may use it any more). It is
    /// kept for reuse, registration included, while the pool holds less than
    /// [`IO_POOL_BYTES`]; otherwise it is deregistered and its memory freed.
    pub fn io_buf_free(&mut self, addr: u64, len: u64, align: u64) {
        if self.io_pool_bytes + len <= IO_POOL_BYTES {
            self.io_pool.entry((len, align)).or_default().push(addr);
            self.io_pool_bytes += len;
        } else {
            self.reg_free(addr, len);
            self.env.mem.free(addr);
        }
    }

    /// Read a device counter register.
    pub fn counter(&mut self, addr: u32) -> u32 {
        self.rd(addr)
    }

    /// Read the drop counter of a drop reason (0 for `DropReason::None`, which has none).
    pub fn drop_count(&mut self, reason: DropReason) -> u32 {
        reason.counter().map_or(0, |a| self.rd(a))
    }

    /// Read every statistics counter.
    pub fn counters(&mut self) -> Counters {
        let drops = drop_reasons()
            .map(|r| (r.name(), self.drop_count(r)))
            .collect();
        Counters {
            rx_frames: self.rd(reg::CNT_RX_FRAMES),
            rx_bytes: self.rd(reg::CNT_RX_BYTES),
            rx_accepted: self.rd(reg::CNT_RX_ACCEPTED),
            delivered_bytes: self.rd(reg::CNT_DELIVERED_BYTES),
            free_buflets: self.rd(reg::CNT_FREE_BUFLETS),
            req_errors: self.rd(reg::CNT_REQ_ERRORS),
            blk_writes: self.rd(reg::CNT_BLK_WRITES),
            blk_bytes: self.rd(reg::CNT_BLK_BYTES),
            cpl_posted: self.rd(reg::CNT_CPL_POSTED),
            nb_returned: self.rd(reg::CNT_NB_RETURNED),
            tx_frames: self.rd(reg::CNT_TX_FRAMES),
            tx_bytes: self.rd(reg::CNT_TX_BYTES),
            ooo_held: self.rd(reg::CNT_OOO_HELD),
            anon_rx: self.rd(reg::CNT_ANON_RX),
            arp_replies: self.rd(reg::CNT_ARP_REPLIES),
            timeouts: self.rd(reg::CNT_TIMEOUTS),
            ticks: self.rd(reg::CNT_TICKS),
            blk_reads: self.rd(reg::CNT_BLK_READS),
            blk_rd_bytes: self.rd(reg::CNT_BLK_RD_BYTES),
            hold_records: self.rd(reg::CNT_HOLD_RECORDS),
            buf_released: self.rd(reg::CNT_BUF_RELEASED),
            blk_dev_bytes: self.rd(reg::CNT_BLK_DEV_BYTES),
            drops,
        }
    }

    /// Give a named buffer back: deregister (explicit free of the registration cache) and free
    /// its host pages and page list, and make its reference number available again. Only for a
    /// buffer the device does not hold (never posted, or returned).
    pub fn free_nb(&mut self, nb: NamedBuffer) {
        let page = self.info.page_bytes as u64;
        for &a in &nb.pages {
            self.reg_free(a, page);
            self.env.mem.free(a);
        }
        self.reg_free(nb.hmd_addr, 8 * nb.pages.len().max(1) as u64);
        self.env.mem.free(nb.hmd_addr);
        if !self.nb_free.contains(&nb.ref_num) {
            self.nb_free.push(nb.ref_num);
        }
    }
}

const CTRL_ENABLE: u32 = 1;
const CTRL_PROT_EN: u32 = 2;

/// A `REG_REGION` / `DEREG_REGION` request entry.
fn region_entry(
    opcode: Opcode,
    tag: u32,
    slot: u32,
    base: u64,
    len: u64,
    perm: RegionPerm,
) -> [u8; 64] {
    let mut d = RegionDesc {
        opcode,
        tag,
        slot,
        ..Default::default()
    };
    if opcode == Opcode::RegRegion {
        d.flags = perm;
        d.base = base;
        d.len = len;
    }
    d.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_descriptors_carry_every_field() {
        let spec = SocketSpec {
            local_mac: [0x02, 0x11, 0x22, 0x33, 0x44, 0x55],
            remote_mac: [2, 0, 0, 0, 0, 1],
            vlan: 7,
            local_ip: [10, 77, 0, 2],
            remote_ip: [10, 77, 0, 1],
            local_port: 445,
            remote_port: 40000,
            iss: 0x1234_5678,
            rcv_buf: 1 << 20,
            mss: 1460,
            rcv_wscale: 7,
            flags: SockFlags::PSH_RETURN,
            proto: IpProto::Tcp,
        };
        let h = spec.with_hold(true);
        assert!(h.is_hold() && h.flags.contains(SockFlags::PSH_RETURN));
        assert!(!h.with_hold(false).is_hold());
        let e = spec.desc(9).to_bytes();
        let d = SockDesc::parse(&e).unwrap();
        assert_eq!((d.opcode, d.sock_ref, d.proto), (Opcode::SockAdd, 9, 6));
        let (off, n) = spec::sock_desc::LOCAL_MAC;
        assert_eq!(&e[off..off + n], &spec.local_mac, "MAC bytes in wire order");
        assert_eq!(d.local_ip.octets(), spec.local_ip);
        assert_eq!(
            (d.iss, d.rcv_buf, d.mss, d.rcv_wscale),
            (0x1234_5678, 1 << 20, 1460, 7)
        );
    }

    #[test]
    fn failed_completions_name_their_status() {
        let c = Completion {
            kind: CplKind::CmdDone,
            status: Status::BadBuf,
            tag: 7,
            bytes: 3,
            opcode: Opcode::BufRelease.code(),
            ..Default::default()
        };
        assert!(!c.is_ok());
        let msg = c.result().unwrap_err().to_string();
        assert!(
            msg.contains("BAD_BUF") && msg.contains("request 10"),
            "{msg}"
        );
        assert_eq!(status_name(8), "PROT_FAULT");
        assert_eq!(status_name(200), "unknown");
    }

    #[test]
    fn every_drop_reason_has_its_counter() {
        let r: Vec<DropReason> = drop_reasons().collect();
        assert_eq!(r.len(), 13);
        assert!(r.iter().enumerate().all(|(i, c)| c.code() == i as u8 + 1));
        assert_eq!(
            DropReason::OutOfWindow.counter(),
            Some(reg::CNT_DROP_OUT_OF_WINDOW)
        );
        assert_eq!(
            DropReason::BadState.counter(),
            Some(reg::CNT_DROP_BAD_STATE)
        );
    }
}
