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
    /// UDP header bytes at the start of the buffer (NB_RETURN of a datagram), else 0.
    pub hdr_bytes: u8,
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
            hdr_bytes: get(e, cpl::HDR_BYTES) as u8,
            stream_off: get(e, cpl::STREAM_OFF),
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
    /// `sock_flag` bits (e.g. `PSH_RETURN`).
    pub flags: u8,
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

/// Every drop reason of the spec (code 1..COUNTER_BASE), as `(name, code)`, in code order.
pub fn drop_reasons() -> Vec<(&'static str, u64)> {
    let mut v: Vec<(&'static str, u64)> = spec::CONSTS
        .iter()
        .filter(|c| c.group == "drop" && c.value > 0 && c.value < spec::drop::COUNTER_BASE)
        .map(|c| (c.name, c.value))
        .collect();
    v.sort_by_key(|&(_, code)| code);
    v
}

/// Register address of the drop counter of reason `reason` (`drop::COUNTER_BASE + 4*reason`).
pub fn drop_counter_addr(reason: u64) -> u32 {
    (spec::drop::COUNTER_BASE + 4 * reason) as u32
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

    /// Collect every completion the device has posted, then acknowledge them and the interrupt.
    ///
    /// The driver reads the producer index `CPL_TAIL` and then exactly the entries before it
    /// (each checked by its phase bit), so host memory is read only for entries that exist: the
    /// CPU's DRAM traffic is 32 bytes per completion whatever the polling rhythm. The interrupt
    /// is cleared only once the ring is empty, and `CPL_TAIL` is read again after clearing it,
    /// so a completion posted meanwhile is never left behind without an interrupt.
    pub fn completions(&mut self) -> Result<Vec<Completion>, DriverError> {
        let mut out = Vec::new();
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
                if get(&e, cpl::PHASE) as u8 != phase {
                    // Counted by CPL_TAIL but its bytes have not landed yet: keep the
                    // interrupt pending and look again on the next call.
                    landed = false;
                    break;
                }
                out.push(Completion::parse(&e));
                self.cpl_head = self.cpl_head.wrapping_add(1);
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
        if !out.is_empty() {
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

    /// Post a socket descriptor (OP_SOCK_ADD, the whole entry in the `sock_desc` layout); the
    /// socket starts in LISTEN. Returns its reference number and completions seen meanwhile.
    pub fn add_socket(&mut self, s: &SocketSpec) -> Result<(u16, Vec<Completion>), DriverError> {
        use spec::sock_desc as sd;
        let sref = self.sock_free.pop().ok_or(DriverError::NoSlot("socket"))?;
        let mut e = [0u8; 64];
        put(&mut e, sd::OPCODE, op::SOCK_ADD);
        put(&mut e, sd::FLAGS, s.flags as u64);
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
        put(&mut e, sd::ISS, s.iss as u64);
        put(&mut e, sd::RCV_BUF, s.rcv_buf as u64);
        put(&mut e, sd::MSS, s.mss as u64);
        put(&mut e, sd::RCV_WSCALE, s.rcv_wscale as u64);
        match self.call(e, "SOCK_ADD") {
            Ok((_, others)) => Ok((sref, others)),
            Err(err) => {
                self.sock_free.push(sref);
                Err(err)
            }
        }
    }

    /// Delete a socket (OP_SOCK_DEL) and wait for its `CMD_DONE`. The device returns the
    /// socket's named buffers first (`NB_RETURN`, flag `DELETE`, bytes filled so far), so every
    /// one of them is among the returned completions, together with any other completion
    /// (block writes, ...) that arrived meanwhile, in ring order. The `CMD_DONE` itself is
    /// consumed. The reference number becomes free for [`Driver::add_socket`].
    pub fn del_socket(&mut self, sref: u16) -> Result<Vec<Completion>, DriverError> {
        let mut e = [0u8; 64];
        put(&mut e, req_hdr::OPCODE, op::SOCK_DEL);
        put(&mut e, req_hdr::SOCK_REF, sref as u64);
        let (_, others) = self.call(e, "SOCK_DEL")?;
        if (sref as u32) < self.info.num_sockets && !self.sock_free.contains(&sref) {
            self.sock_free.push(sref);
        }
        Ok(others)
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
        self.blk_op(op::BLK_WRITE, sg_addr, sg_count, bytes)
    }

    /// Submit an OP_BLK_READ: whole blocks from the disk into host memory along the SG list
    /// (the read half of read-modify-write). Returns the tag of its BLK_DONE completion.
    pub fn blk_read(
        &mut self,
        sg_addr: u64,
        sg_count: u32,
        bytes: u32,
    ) -> Result<u32, DriverError> {
        self.blk_op(op::BLK_READ, sg_addr, sg_count, bytes)
    }

    fn blk_op(
        &mut self,
        opcode: u64,
        sg_addr: u64,
        sg_count: u32,
        bytes: u32,
    ) -> Result<u32, DriverError> {
        use spec::blk_req as br;
        let tag = self.tag();
        let mut e = [0u8; 64];
        put(&mut e, br::OPCODE, opcode);
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

    /// Read the drop counter of a drop reason (`drop::*`, 1..=13).
    pub fn drop_count(&mut self, reason: u64) -> u32 {
        self.rd(drop_counter_addr(reason))
    }

    /// Read every statistics counter.
    pub fn counters(&mut self) -> Counters {
        let drops = drop_reasons()
            .into_iter()
            .map(|(name, code)| (name, self.drop_count(code)))
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
            drops,
        }
    }

    /// Give a named buffer back: unregister and free its host pages and page list, and make its
    /// reference number available again. Only for a buffer the device does not hold (never
    /// posted, or returned).
    pub fn free_nb(&mut self, nb: NamedBuffer) {
        let page = self.info.page_bytes as u64;
        for &a in &nb.pages {
            self.env.mem.unregister(a, page);
            self.env.mem.free(a);
        }
        self.env
            .mem
            .unregister(nb.hmd_addr, 8 * nb.pages.len() as u64);
        self.env.mem.free(nb.hmd_addr);
        if !self.nb_free.contains(&nb.ref_num) {
            self.nb_free.push(nb.ref_num);
        }
    }
}

/// A MAC address in wire order as the little-endian field value whose byte k is wire byte k.
fn mac_num(m: &[u8; 6]) -> u64 {
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(m);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_fields_keep_wire_order() {
        let mut e = [0u8; 64];
        let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        put(&mut e, spec::sock_desc::LOCAL_MAC, mac_num(&mac));
        let (off, n) = spec::sock_desc::LOCAL_MAC;
        assert_eq!(&e[off..off + n], &mac);
    }

    #[test]
    fn every_drop_reason_has_its_counter() {
        let r = drop_reasons();
        assert_eq!(r.len(), 13);
        assert!(r.iter().enumerate().all(|(i, &(_, c))| c == i as u64 + 1));
        let oow = r.iter().find(|(n, _)| *n == "OUT_OF_WINDOW").unwrap().1;
        assert_eq!(drop_counter_addr(oow), reg::CNT_DROP_OUT_OF_WINDOW);
        assert_eq!(
            drop_counter_addr(spec::drop::BAD_STATE),
            reg::CNT_DROP_BAD_STATE
        );
    }
}
