//! Test rig: a ModelDevice with host memory, rings and a temp-file block device, plus
//! etherparse-built frames. Request entries are built with the layouts from buflet_spec.
#![allow(dead_code)]

use buflet_model::ModelDevice;
use buflet_platform::{Agent, BlockDevice, Device, DeviceConfig, HostEnv, HostMemory};
use buflet_spec::{cpl, get, nb_desc, op, put, reg, req_hdr, sock_desc};
use etherparse::{
    EtherType, Ethernet2Header, IpNumber, Ipv4Header, SingleVlanHeader, TcpHeader, VlanId, VlanPcp,
};

pub const LOCAL_IP: [u8; 4] = [10, 77, 0, 2];
pub const REMOTE_IP: [u8; 4] = [10, 77, 0, 9];
pub const LOCAL_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
pub const REMOTE_MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];
pub const LOCAL_PORT: u16 = 2049;
pub const REMOTE_PORT: u16 = 40000;

pub struct Rig {
    pub dev: ModelDevice,
    pub env: HostEnv,
    pub req_base: u64,
    pub req_size: u32,
    pub req_tail: u32,
    pub cpl_base: u64,
    pub cpl_size: u32,
    pub cpl_head: u32,
}

/// A decoded completion entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct C {
    pub kind: u64,
    pub status: u64,
    pub sock_ref: u64,
    pub tag: u64,
    pub ref_num: u64,
    pub bytes: u64,
    pub flags: u64,
    pub opcode: u64,
    pub stream_off: u64,
}

impl Rig {
    /// A rig at `cfg` with rings of `req_size`/`cpl_size` entries, enabled, IRQ unmasked.
    pub fn new(name: &str, cfg: DeviceConfig, req_size: u32, cpl_size: u32) -> Rig {
        let path =
            std::env::temp_dir().join(format!("buflet-model-{}-{}.img", name, std::process::id()));
        let disk = BlockDevice::create(&path, 1 << 20).unwrap();
        let mut env = HostEnv {
            mem: HostMemory::new(32 << 20),
            disk,
        };
        let req_base = env.mem.alloc(req_size as u64 * 64, 4096).unwrap();
        let cpl_base = env.mem.alloc(cpl_size as u64 * 32, 4096).unwrap();
        env.mem.register(req_base, req_size as u64 * 64);
        env.mem.register(cpl_base, cpl_size as u64 * 32);
        let mut r = Rig {
            dev: ModelDevice::new(cfg),
            env,
            req_base,
            req_size,
            req_tail: 0,
            cpl_base,
            cpl_size,
            cpl_head: 0,
        };
        r.w(reg::REQ_BASE_LO, req_base as u32);
        r.w(reg::REQ_BASE_HI, (req_base >> 32) as u32);
        r.w(reg::REQ_SIZE, req_size);
        r.w(reg::CPL_BASE_LO, cpl_base as u32);
        r.w(reg::CPL_BASE_HI, (cpl_base >> 32) as u32);
        r.w(reg::CPL_SIZE, cpl_size);
        r.w(reg::IRQ_MASK, 1);
        r.w(reg::CTRL, 1);
        r
    }

    pub fn r(&mut self, addr: u32) -> u32 {
        self.dev.reg_read(&mut self.env, addr)
    }

    pub fn w(&mut self, addr: u32, v: u32) {
        self.dev.reg_write(&mut self.env, addr, v)
    }

    pub fn run(&mut self, cycles: u64) {
        self.dev.run(&mut self.env, cycles)
    }

    /// Allocate and register `len` bytes of host memory for the device.
    pub fn alloc(&mut self, len: u64) -> u64 {
        let a = self.env.mem.alloc(len, 4096).unwrap();
        self.env.mem.register(a, len);
        a
    }

    pub fn cpu_write(&mut self, addr: u64, data: &[u8]) {
        self.env.mem.write(Agent::Cpu, addr, data).unwrap();
    }

    pub fn cpu_read(&mut self, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.env.mem.read(Agent::Cpu, addr, &mut v).unwrap();
        v
    }

    /// Put a request entry on the ring and ring the doorbell.
    pub fn submit(&mut self, e: &[u8; 64]) {
        let at = self.req_base + (self.req_tail % self.req_size) as u64 * 64;
        self.cpu_write(at, e);
        self.req_tail += 1;
        self.w(reg::REQ_TAIL, self.req_tail);
    }

    /// Completions posted since the last call (consumed: CPL_HEAD is advanced).
    pub fn cpls(&mut self) -> Vec<C> {
        let mut out = vec![];
        loop {
            let at = self.cpl_base + (self.cpl_head % self.cpl_size) as u64 * 32;
            let e = self.cpu_read(at, cpl::SIZE);
            let phase = 1 - ((self.cpl_head / self.cpl_size) & 1) as u64;
            if get(&e, cpl::PHASE) != phase {
                break;
            }
            out.push(C {
                kind: get(&e, cpl::KIND),
                status: get(&e, cpl::STATUS),
                sock_ref: get(&e, cpl::SOCK_REF),
                tag: get(&e, cpl::TAG),
                ref_num: get(&e, cpl::REF_NUM),
                bytes: get(&e, cpl::BYTES),
                flags: get(&e, cpl::FLAGS),
                opcode: get(&e, cpl::OPCODE),
                stream_off: get(&e, cpl::STREAM_OFF),
            });
            self.cpl_head += 1;
        }
        if !out.is_empty() {
            self.w(reg::CPL_HEAD, self.cpl_head);
        }
        out
    }

    /// Run until `n` completions have arrived (panics after a generous bound).
    pub fn wait_cpls(&mut self, n: usize) -> Vec<C> {
        let mut got = vec![];
        for _ in 0..10_000 {
            got.extend(self.cpls());
            if got.len() >= n {
                return got;
            }
            self.run(200);
        }
        panic!("only {} of {} completions: {:?}", got.len(), n, got);
    }

    /// Run until every queued frame has been received and processed.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            if self.dev.rx_pending() == 0 {
                break;
            }
            self.run(200);
        }
        self.run(20_000);
    }

    pub fn push(&mut self, f: Vec<u8>) {
        self.dev.rx_push(f);
    }
}

pub fn ip_u32(a: [u8; 4]) -> u64 {
    u32::from_be_bytes(a) as u64
}

/// A SOCK_ADD entry for the test 4-tuple.
pub fn sock_add(sref: u16, tag: u32, vlan: u16) -> [u8; 64] {
    let mut e = [0u8; 64];
    put(&mut e, sock_desc::OPCODE, op::SOCK_ADD);
    put(&mut e, sock_desc::SOCK_REF, sref as u64);
    put(&mut e, sock_desc::TAG, tag as u64);
    put(&mut e, sock_desc::VLAN, vlan as u64);
    put(&mut e, sock_desc::PROTO, 6);
    put(&mut e, sock_desc::LOCAL_IP, ip_u32(LOCAL_IP));
    put(&mut e, sock_desc::REMOTE_IP, ip_u32(REMOTE_IP));
    put(&mut e, sock_desc::LOCAL_PORT, LOCAL_PORT as u64);
    put(&mut e, sock_desc::REMOTE_PORT, REMOTE_PORT as u64);
    e
}

/// An NB_POST entry.
pub fn nb_post(sref: u16, tag: u32, ref_num: u32, total: u32, hmd: u64, pages: u32) -> [u8; 64] {
    let mut e = [0u8; 64];
    put(&mut e, nb_desc::OPCODE, op::NB_POST);
    put(&mut e, nb_desc::SOCK_REF, sref as u64);
    put(&mut e, nb_desc::TAG, tag as u64);
    put(&mut e, nb_desc::REF_NUM, ref_num as u64);
    put(&mut e, nb_desc::TOTAL_BYTES, total as u64);
    put(&mut e, nb_desc::HMD_ADDR, hmd);
    put(&mut e, nb_desc::HMD_PAGES, pages as u64);
    e
}

/// A bare request entry with an opcode and tag.
pub fn req(opcode: u64, tag: u32) -> [u8; 64] {
    let mut e = [0u8; 64];
    put(&mut e, req_hdr::OPCODE, opcode);
    put(&mut e, req_hdr::TAG, tag as u64);
    e
}

/// TCP segment description for [`frame`].
#[derive(Clone, Default)]
pub struct Seg {
    pub vlan: Option<u16>,
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: Vec<u8>,
    pub more_fragments: bool,
    pub dport: Option<u16>,
}

/// An Ethernet/IPv4/TCP frame from the remote peer, built with etherparse headers.
pub fn frame(s: &Seg) -> Vec<u8> {
    let mut tcp = TcpHeader::new(REMOTE_PORT, s.dport.unwrap_or(LOCAL_PORT), s.seq, 65535);
    tcp.syn = s.syn;
    tcp.fin = s.fin;
    tcp.rst = s.rst;
    tcp.ack = !s.syn;
    let mut ip = Ipv4Header::new(
        (tcp.header_len() + s.payload.len()) as u16,
        64,
        IpNumber::TCP,
        REMOTE_IP,
        LOCAL_IP,
    )
    .unwrap();
    ip.more_fragments = s.more_fragments;
    ip.header_checksum = ip.calc_header_checksum();
    tcp.checksum = tcp.calc_checksum_ipv4(&ip, &s.payload).unwrap();
    let mut v = Vec::new();
    let et = if s.vlan.is_some() {
        EtherType::VLAN_TAGGED_FRAME
    } else {
        EtherType::IPV4
    };
    Ethernet2Header {
        source: REMOTE_MAC,
        destination: LOCAL_MAC,
        ether_type: et,
    }
    .write(&mut v)
    .unwrap();
    if let Some(id) = s.vlan {
        SingleVlanHeader {
            pcp: VlanPcp::ZERO,
            drop_eligible_indicator: false,
            vlan_id: VlanId::try_new(id).unwrap(),
            ether_type: EtherType::IPV4,
        }
        .write(&mut v)
        .unwrap();
    }
    ip.write(&mut v).unwrap();
    tcp.write(&mut v).unwrap();
    v.extend_from_slice(&s.payload);
    v
}

/// Deterministic pseudo-random bytes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| r.gen()).collect()
}

pub fn cfg(width: u32) -> DeviceConfig {
    DeviceConfig::with_width(width)
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.env.disk.path());
    }
}
