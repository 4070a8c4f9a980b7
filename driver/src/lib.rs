//! The Buflet host driver. It reaches the device only through [`buflet_platform::Device`], so
//! the same code drives the Rust model and the Verilated RTL.
//!
//! - [`Driver`]: bring-up, request and completion rings, socket descriptors, named buffers,
//!   block writes.
//! - [`nas`]: the NAS application's zero-copy write (seed 000) on top of the driver.

pub mod nas;

use buflet_platform::{Agent, Device, HostEnv, MemError};
use buflet_spec::{self as spec, cpl, cpl_kind, get, op, put, reg, req_hdr};

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
    #[error("request {opcode} (tag {tag}) failed with status {status} ({name})", name = status_name(*status))]
    Request { opcode: u8, tag: u32, status: u8 },
    /// Waited too long for the device.
    #[error("timed out after {0} cycles waiting for {1}")]
    Timeout(u64, &'static str),
    /// No free slot of a device table.
    #[error("no free {0} slot")]
    NoSlot(&'static str),
}

/// Human name of a completion status code.
pub fn status_name(s: u8) -> &'static str {
    spec::CONSTS
        .iter()
        .find(|c| c.group == "status" && c.value == s as u64)
        .map(|c| c.name)
        .unwrap_or("unknown")
}

/// A completion entry, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub kind: u8,
    pub status: u8,
    pub sock_ref: u16,
    pub tag: u32,
    pub ref_num: u32,
    pub bytes: u32,
    pub flags: u32,
    pub opcode: u8,
    pub stream_off: u64,
}

impl Completion {
    fn parse(e: &[u8]) -> Self {
        Completion {
            kind: get(e, cpl::KIND) as u8,
            status: get(e, cpl::STATUS) as u8,
            sock_ref: get(e, cpl::SOCK_REF) as u16,
            tag: get(e, cpl::TAG) as u32,
            ref_num: get(e, cpl::REF_NUM) as u32,
            bytes: get(e, cpl::BYTES) as u32,
            flags: get(e, cpl::FLAGS) as u32,
            opcode: get(e, cpl::OPCODE) as u8,
            stream_off: get(e, cpl::STREAM_OFF),
        }
    }
}

/// The connection a socket descriptor describes, from the NIC's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketSpec {
    pub local_mac: [u8; 6],
    pub remote_mac: [u8; 6],
    pub vlan: u16,
    pub local_ip: [u8; 4],
    pub remote_ip: [u8; 4],
    pub local_port: u16,
    pub remote_port: u16,
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

const REQ_ENTRIES: u32 = 256;
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
}

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
            },
            req_base: 0,
            req_tail: 0,
            req_head_cache: 0,
            cpl_base: 0,
            cpl_head: 0,
            next_tag: 1,
            nb_free: Vec::new(),
            sock_free: Vec::new(),
        };
        let id = d.rd(reg::ID);
        if id as u64 != spec::param::ID_MAGIC {
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
        d.wr(reg::CTRL, 1);
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
    pub fn submit(&mut self, entry: &[u8; 64]) -> Result<(), DriverError> {
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

    /// Collect every completion the device has posted (reads the ring by phase bit), then
    /// acknowledge them and the interrupt.
    pub fn completions(&mut self) -> Result<Vec<Completion>, DriverError> {
        let mut out = Vec::new();
        loop {
            let slot = (self.cpl_head % CPL_ENTRIES) as u64;
            let phase = 1 - ((self.cpl_head / CPL_ENTRIES) & 1) as u8;
            let addr = self.cpl_base + slot * cpl::SIZE as u64;
            let mut e = [0u8; cpl::SIZE];
            self.env.mem.read(Agent::Cpu, addr, &mut e)?;
            if get(&e, cpl::PHASE) as u8 != phase {
                break;
            }
            out.push(Completion::parse(&e));
            self.cpl_head = self.cpl_head.wrapping_add(1);
        }
        if !out.is_empty() {
            self.wr(reg::IRQ_STATUS, 1);
            self.wr(reg::CPL_HEAD, self.cpl_head);
        }
        Ok(out)
    }

    /// Run until the interrupt line rises or `max_cycles` pass, then collect completions.
    pub fn wait(&mut self, max_cycles: u64) -> Result<Vec<Completion>, DriverError> {
        let mut ran = 0;
        while !self.dev.irq() && ran < max_cycles {
            self.run(POLL_STEP);
            ran += POLL_STEP;
        }
        self.completions()
    }

    /// Submit a request and wait for its own completion; other completions are returned too.
    fn call(
        &mut self,
        mut entry: [u8; 64],
        what: &'static str,
    ) -> Result<(Completion, Vec<Completion>), DriverError> {
        let tag = self.tag();
        put(&mut entry, req_hdr::TAG, tag as u64);
        self.submit(&entry)?;
        let mut others = Vec::new();
        let mut waited = 0u64;
        loop {
            for c in self.wait(100_000)? {
                if c.tag == tag && c.kind == cpl_kind::CMD_DONE as u8 {
                    if c.status != 0 {
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

    /// Post a socket descriptor; returns its reference number and completions seen meanwhile.
    pub fn add_socket(&mut self, s: &SocketSpec) -> Result<(u16, Vec<Completion>), DriverError> {
        use spec::sock_desc as sd;
        let sref = self.sock_free.pop().ok_or(DriverError::NoSlot("socket"))?;
        let mut e = [0u8; 64];
        put(&mut e, sd::OPCODE, op::SOCK_ADD);
        put(&mut e, sd::SOCK_REF, sref as u64);
        put(&mut e, sd::LOCAL_MAC, mac_num(&s.local_mac));
        put(&mut e, sd::REMOTE_MAC, mac_num(&s.remote_mac));
        put(&mut e, sd::VLAN, s.vlan as u64);
        put(&mut e, sd::PROTO, 6);
        put(&mut e, sd::LOCAL_IP, u32::from_be_bytes(s.local_ip) as u64);
        put(
            &mut e,
            sd::REMOTE_IP,
            u32::from_be_bytes(s.remote_ip) as u64,
        );
        put(&mut e, sd::LOCAL_PORT, s.local_port as u64);
        put(&mut e, sd::REMOTE_PORT, s.remote_port as u64);
        for f in [
            sd::NEXT_SOCK,
            sd::PREV_SOCK,
            sd::NB_HEAD,
            sd::NB_TAIL,
            sd::SEG_HEAD,
            sd::SEG_TAIL,
        ] {
            put(&mut e, f, spec::param::NULL16);
        }
        let (_, others) = self.call(e, "SOCK_ADD")?;
        Ok((sref, others))
    }

    /// Allocate a named buffer of `pages` host pages (each page allocated separately, so the
    /// buffer is scattered in host memory), register it, and keep it ready for posting.
    pub fn alloc_nb(&mut self, pages: usize) -> Result<NamedBuffer, DriverError> {
        let ref_num = self
            .nb_free
            .pop()
            .ok_or(DriverError::NoSlot("named buffer"))?;
        let page = self.info.page_bytes as u64;
        let mut addrs = Vec::with_capacity(pages);
        for _ in 0..pages {
            let a = self.env.mem.alloc(page, page)?;
            self.env.mem.register(a, page);
            addrs.push(a);
        }
        let hmd_addr = self.env.mem.alloc(8 * pages as u64, 64)?;
        let list: Vec<u8> = addrs.iter().flat_map(|a| a.to_le_bytes()).collect();
        self.env.mem.write(Agent::Cpu, hmd_addr, &list)?;
        self.env.mem.register(hmd_addr, 8 * pages as u64);
        Ok(NamedBuffer {
            ref_num,
            pages: addrs,
            hmd_addr,
            bytes: (pages as u64 * page) as u32,
        })
    }

    /// Designate a named buffer to a socket (OP_NB_POST). Its completion is its later return.
    pub fn post_nb(
        &mut self,
        sock: u16,
        nb: &NamedBuffer,
        timeout: u32,
    ) -> Result<u32, DriverError> {
        use spec::nb_desc as nd;
        let tag = self.tag();
        let mut e = [0u8; 64];
        put(&mut e, nd::OPCODE, op::NB_POST);
        put(&mut e, nd::SOCK_REF, sock as u64);
        put(&mut e, nd::TAG, tag as u64);
        put(&mut e, nd::REF_NUM, nb.ref_num as u64);
        put(&mut e, nd::TIMEOUT, timeout as u64);
        put(&mut e, nd::TOTAL_BYTES, nb.bytes as u64);
        put(&mut e, nd::NEXT_NB, spec::param::NULL16);
        put(&mut e, nd::PREV_NB, spec::param::NULL16);
        put(&mut e, nd::HMD_ADDR, nb.hmd_addr);
        put(&mut e, nd::HMD_PAGES, nb.pages.len() as u64);
        self.submit(&e)?;
        Ok(tag)
    }

    /// Submit a block write of a scatter-gather list already in host memory; returns its tag.
    pub fn blk_write(
        &mut self,
        sg_addr: u64,
        sg_count: u32,
        bytes: u32,
    ) -> Result<u32, DriverError> {
        use spec::blk_req as br;
        let tag = self.tag();
        let mut e = [0u8; 64];
        put(&mut e, br::OPCODE, op::BLK_WRITE);
        put(&mut e, br::TAG, tag as u64);
        put(&mut e, br::SG_ADDR, sg_addr);
        put(&mut e, br::SG_MAX, sg_count as u64);
        put(&mut e, br::BYTES, bytes as u64);
        self.submit(&e)?;
        Ok(tag)
    }

    /// Read a device counter register.
    pub fn counter(&mut self, addr: u32) -> u32 {
        self.rd(addr)
    }
}

fn mac_num(m: &[u8; 6]) -> u64 {
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(m);
    u64::from_le_bytes(b)
}
