//! The Buflet host driver. It reaches the device only through [`buflet_platform::Device`], so
//! the same code drives the Rust model and the Verilated RTL.
//!
//! - [`Driver`]: bring-up, request and completion rings, socket descriptors (TCP and UDP),
//!   named buffers, anonymous buffers, the NIC's own addresses (ARP responder), the timer that
//!   returns named buffers on timeout, block writes and reads, counters.
//! - [`regcache`]: the registration cache (seed 004): per-I/O buffers (named buffer pages and
//!   page lists, anonymous buffers, the NAS writer's scatter-gather lists and bounce blocks)
//!   stay registered across I/Os; see `docs/registration.md`.

mod blk;
mod buffers;
mod counters;
mod listen;
mod protection;
pub mod regcache;
mod registration;
mod ring;
mod socket;

pub use buffers::{AnonBuffer, NamedBuffer};
pub use counters::{drop_reasons, Counters};
pub use listen::{Accepted, ListenSpec};
use protection::{region_entry, CTRL_ENABLE, CTRL_PROT_EN};
pub use socket::SocketSpec;

use buflet_platform::{Agent, Device, HostEnv, MemError};
use buflet_spec::{
    self as spec, cpl, reg, req_hdr, AnonDesc, BlkReq, BufRelease, IpProto, LayoutError,
    ListenDesc, NbDesc, Opcode, RegionDesc, RegionPerm, ReqHdr, SockDesc, SockFlags, Status,
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
    /// The buflet-memory window refused an address (docs/p2p.md "The CPU's window"): not inside
    /// buflet memory, or its buflet not exposed (its bytes were never reported by a hold
    /// record, or the buflet has been handed out again).
    #[error(
        "buflet-memory window refused device address {0:#x} (outside buflet memory or not exposed)"
    )]
    WindowRefused(u64),
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

/// A completion entry, decoded (the spec's `cpl` layout).
pub type Completion = spec::Cpl;

/// A TX_POST the NIC still owns: its tag, the pages it marked in the copy-on-write table, and
/// the bounce pages to free when it is done.
#[derive(Debug, Clone, Default)]
pub(crate) struct TxPosted {
    pub tag: u32,
    pub marked: Vec<u64>,
    pub bounce: Vec<u64>,
    /// The page list the driver allocated for it (`tx_send`): address and length.
    pub list: Option<(u64, u64)>,
}

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

/// Build parameters read from the device's ID registers.
#[derive(Debug, Clone, Default, serde::Serialize)]
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
    /// Listen slots (`NUM_LISTEN`, docs/tcp-receive.md "Listening sockets").
    pub num_listen: u32,
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
    /// Socket slots given to the device's accept pool and not yet taken by a SYN.
    sock_pooled: HashSet<u16>,
    listen_free: Vec<u16>,
    /// `sock_flag` bits of each listen slot's sockets (kept after SOCK_UNLISTEN: its
    /// half-open connections may still be accepted).
    listen_flags: HashMap<u16, SockFlags>,
    anon_free: Vec<u32>,
    /// Registrations of per-I/O buffers, kept across I/Os (seed 004).
    regs: RegCache,
    /// Buffers registered for a posted request, released by its completion: tag -> buffers.
    reg_held: HashMap<u32, Vec<(u64, u64)>>,
    /// Tags of each socket's TX_POSTs not yet covered by a TX_DONE, oldest first: a TX_DONE
    /// covers the first `COUNT` of them.
    tx_tags: HashMap<u16, std::collections::VecDeque<TxPosted>>,
    /// Seed 002's copy-on-write table: host pages handed to the NIC by a TX_POST and not yet
    /// covered by its TX_DONE, with the number of posts naming each; and its peak size.
    cow_table: std::collections::BTreeMap<u64, u32>,
    cow_peak: usize,
    /// p2p reads: the host buflets ([`Driver::set_host_buflets`]) no application holds.
    host_free: Vec<u16>,
    /// p2p reads: how many host buflets were set aside.
    host_n: u32,
    /// Retired I/O buffers kept allocated (and registered) for reuse: (len, align) -> addresses.
    io_pool: HashMap<(u64, u64), Vec<u64>>,
    io_pool_bytes: u64,
    /// Device protection table slots `RING_SLOTS..NUM_REGIONS` as programmed: `(start, end)`.
    /// Empty when the device has no table (or too few slots): protection stays off.
    prot_slots: Vec<Option<(u64, u64)>>,
    /// The runs last mirrored into `prot_slots` (ascending).
    prot_want: Vec<(u64, u64)>,
    /// The registration cache's `cover_version` when `prot_want` was last mirrored (`None`:
    /// mirror at the next request).
    prot_synced: Option<u64>,
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
                num_listen: 0,
            },
            req_base: 0,
            req_tail: 0,
            req_head_cache: 0,
            cpl_base: 0,
            cpl_head: 0,
            next_tag: 1,
            nb_free: Vec::new(),
            sock_free: Vec::new(),
            sock_pooled: HashSet::new(),
            listen_free: Vec::new(),
            listen_flags: HashMap::new(),
            anon_free: Vec::new(),
            regs: RegCache::new(RegConfig::default()),
            reg_held: HashMap::new(),
            tx_tags: HashMap::new(),
            cow_table: std::collections::BTreeMap::new(),
            cow_peak: 0,
            host_free: Vec::new(),
            host_n: 0,
            io_pool: HashMap::new(),
            io_pool_bytes: 0,
            prot_slots: Vec::new(),
            prot_want: Vec::new(),
            prot_synced: None,
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
            num_listen: d.rd(reg::NUM_LISTEN),
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
        d.sock_free = (0..d.info.num_sockets.min(1 << 16))
            .rev()
            .map(|s| s as u16)
            .collect();
        d.listen_free = (0..d.info.num_listen.min(1 << 16))
            .rev()
            .map(|s| s as u16)
            .collect();
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

    /// The device itself, for the simulation harness's own tools (waveforms, a recorded
    /// stimulus); the driver's work goes through the driver's methods.
    pub fn device_mut(&mut self) -> &mut dyn Device {
        self.dev.as_mut()
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

    /// Set the send side's retransmission timer policy, in timer ticks (`RTO_INIT`, `RTO_MIN`,
    /// `RTO_MAX`; RFC 6298 backoff between the bounds). The reset values suit a 1 ms tick.
    pub fn set_rto(&mut self, init: u32, min: u32, max: u32) {
        self.wr(reg::RTO_INIT, init);
        self.wr(reg::RTO_MIN, min);
        self.wr(reg::RTO_MAX, max);
    }

    /// Set how long the block engine waits for the block device (`BLK_TIMEOUT`, in device
    /// cycles; 0 waits forever): a command whose device makes no progress for that long ends
    /// with status `DISK_TIMEOUT`, so a hung disk never leaves a request without completion.
    pub fn set_blk_timeout(&mut self, cycles: u32) {
        self.wr(reg::BLK_TIMEOUT, cycles);
    }

    /// Request one timer tick now (`TIMER_KICK`; requests while one is pending merge into it).
    pub fn timer_kick(&mut self) {
        self.wr(reg::TIMER_KICK, 1);
    }
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
    }

    #[test]
    fn every_drop_reason_has_its_counter() {
        let r: Vec<DropReason> = drop_reasons().collect();
        assert_eq!(r.len(), 16);
        assert!(r.iter().enumerate().all(|(i, c)| c.code() == i as u8 + 1));
        assert_eq!(
            DropReason::ListenFull.counter(),
            Some(reg::CNT_DROP_LISTEN_FULL)
        );
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
