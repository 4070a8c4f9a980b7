//! Test rig: a ModelDevice with host memory, rings and a temp-file block device, plus
//! etherparse-built frames. Request entries are built with the layouts from buflet_spec.
#![allow(dead_code)]

use buflet_model::ModelDevice;
use buflet_platform::{
    link, Agent, BlockDevice, Device, DeviceConfig, HostEnv, HostMemory, WirePort,
};
use buflet_spec::reg;
use buflet_spec::{
    AnonDesc, BlkReq, Cpl, CplKind, IpProto, NbDesc, Opcode, ReqHdr, SgElem, SgFlags, SockDesc,
    SockFlags, Status,
};
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, Ethernet2Header, IpNumber, Ipv4Header,
    LinkExtHeader, LinkHeader, NetHeaders, PacketBuilder, PacketHeaders, SingleVlanHeader,
    TcpHeader, TcpOptionElement, TransportHeader, VlanId, VlanPcp,
};

/// Builder methods that each set one field and return the value: `flag()` sets a bool field,
/// `value(v)` a field to `v`, `some(v)` an `Option` field to `Some(v)`.
macro_rules! builder {
    ($t:ty {
        flags: [$($flag:ident),* $(,)?],
        values: [$($val:ident: $vt:ty),* $(,)?],
        somes: [$($some:ident: $st:ty),* $(,)?] $(,)?
    }) => {
        impl $t {
            $(
                #[doc = concat!("With `", stringify!($flag), "` set.")]
                pub fn $flag(mut self) -> Self {
                    self.$flag = true;
                    self
                }
            )*
            $(
                #[doc = concat!("With `", stringify!($val), "` given.")]
                pub fn $val(mut self, $val: $vt) -> Self {
                    self.$val = $val;
                    self
                }
            )*
            $(
                #[doc = concat!("With `", stringify!($some), "` given.")]
                pub fn $some(mut self, $some: $st) -> Self {
                    self.$some = Some($some);
                    self
                }
            )*
        }
    };
}

/// One `#[test]` per bus width: test `$name` runs `$f($width)`.
#[allow(unused_macros)]
macro_rules! width_tests {
    ($f:ident: $($name:ident = $width:literal),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $f($width);
            }
        )+
    };
}
#[allow(unused_imports)]
pub(crate) use width_tests;

pub const LOCAL_IP: [u8; 4] = [10, 77, 0, 2];
pub const REMOTE_IP: [u8; 4] = [10, 77, 0, 9];
pub const LOCAL_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
pub const REMOTE_MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];
pub const LOCAL_PORT: u16 = 2049;
pub const REMOTE_PORT: u16 = 40000;
mod entries;
pub use entries::*;

/// Default socket parameters of [`sock_add`].
pub const ISS: u32 = 0x7000_0100;
pub const RCV_BUF: u32 = 1 << 20;
pub const MSS: u16 = 1460;
pub const WSCALE: u8 = 7;

pub struct Rig {
    pub dev: ModelDevice,
    /// The peer's end of the device's wire.
    pub wire: WirePort,
    pub env: HostEnv,
    pub req_base: u64,
    pub req_size: u32,
    pub req_tail: u32,
    pub cpl_base: u64,
    pub cpl_size: u32,
    pub cpl_head: u32,
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
        let (mac, wire) = link();
        let mut r = Rig {
            dev: ModelDevice::new(cfg, mac),
            wire,
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

    /// Write `els` as a linked scatter-gather list at `base` (CPU writes; registering the list
    /// is the caller's business).
    pub fn sg_write(&mut self, base: u64, els: &[El]) {
        let els: Vec<(u64, u32, SgFlags, u64)> = els
            .iter()
            .map(|&(src, len, zero, disk)| {
                let flags = if zero {
                    SgFlags::ZERO
                } else {
                    SgFlags::empty()
                };
                (src, len as u32, flags, disk) // LEN is 4 bytes in the layout
            })
            .collect();
        self.sg_write_flags(base, &els);
    }

    /// As [`Rig::sg_write`], with each element's FLAGS given: (SRC_ADDR, LEN, FLAGS, DISK_ADDR).
    pub fn sg_write_flags(&mut self, base: u64, els: &[(u64, u32, SgFlags, u64)]) {
        let els: Vec<SgElem> = els
            .iter()
            .map(|&(src_addr, len, flags, disk_addr)| SgElem {
                src_addr,
                len,
                flags,
                disk_addr,
                next: 0,
            })
            .collect();
        self.cpu_write(base, &buflet_spec::sg_list(base, &els));
    }

    /// `len` bytes of the block device from byte `off`.
    pub fn disk(&self, off: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.env.disk.read_bytes(off, &mut v).unwrap();
        v
    }

    /// Put a request entry on the ring and ring the doorbell.
    pub fn submit(&mut self, e: &[u8; 64]) {
        let at = self.req_base + (self.req_tail % self.req_size) as u64 * 64;
        self.cpu_write(at, e);
        self.req_tail += 1;
        self.w(reg::REQ_TAIL, self.req_tail);
    }

    /// Completions posted since the last call (consumed: CPL_HEAD is advanced), each with its
    /// PHASE checked and then set to 0.
    pub fn cpls(&mut self) -> Vec<Cpl> {
        let mut out = vec![];
        loop {
            let at = self.cpl_base + (self.cpl_head % self.cpl_size) as u64 * 32;
            let e = self.cpu_read(at, Cpl::SIZE);
            let phase = 1 - ((self.cpl_head / self.cpl_size) & 1) as u8;
            // A slot the device has never written is all zeros (KIND 0 is no kind); any other
            // entry must parse.
            if e.iter().all(|&b| b == 0) {
                break;
            }
            let c =
                Cpl::parse(&e).unwrap_or_else(|err| panic!("completion {}: {err}", self.cpl_head));
            if c.phase != phase {
                break;
            }
            // PHASE is checked here; cleared so tests compare whole entries whatever the pass.
            out.push(Cpl { phase: 0, ..c });
            self.cpl_head += 1;
        }
        if !out.is_empty() {
            self.w(reg::CPL_HEAD, self.cpl_head);
        }
        out
    }

    /// Run until `n` completions have arrived (panics after a generous bound).
    pub fn wait_cpls(&mut self, n: usize) -> Vec<Cpl> {
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
            if self.wire.pending() == 0 {
                break;
            }
            self.run(200);
        }
        self.run(20_000);
    }

    pub fn push(&mut self, f: Vec<u8>) {
        self.wire.send(f);
    }

    /// Push a frame built from `s`.
    pub fn send(&mut self, s: Seg) {
        self.push(frame(&s));
    }

    /// Every frame transmitted so far, parsed and checked (see [`parse_tx`]).
    pub fn txs(&mut self) -> Vec<Tx> {
        let mut v = vec![];
        while let Some(f) = self.wire.recv() {
            v.push(parse_tx(&f));
        }
        v
    }

    /// Passive open of a socket added with [`sock_add`] defaults (untagged): SYN with the
    /// window scale option at `irs`, check the SYN-ACK, ACK it. Returns the first data SEQ.
    pub fn handshake(&mut self, irs: u32) -> u32 {
        self.handshake_vlan(irs, None)
    }

    /// [`Rig::handshake`] on VLAN `vlan`.
    pub fn handshake_vlan(&mut self, irs: u32, vlan: Option<u16>) -> u32 {
        self.handshake_full(irs, vlan, true)
    }

    /// [`Rig::handshake`] with a SYN that carries no window scale option (`ws == false`):
    /// advertised windows are then unscaled.
    pub fn handshake_full(&mut self, irs: u32, vlan: Option<u16>, ws: bool) -> u32 {
        let opts = if ws {
            vec![2, 4, 0x05, 0xB4, 1, 3, 3, 8]
        } else {
            vec![2, 4, 0x05, 0xB4]
        };
        self.send(Seg {
            syn: true,
            seq: irs,
            vlan,
            opts,
            ..Seg::default()
        });
        self.settle();
        let t = self.txs();
        assert_eq!(t.len(), 1, "{t:?}");
        assert!(t[0].syn && t[0].ackf, "{t:?}");
        assert_eq!((t[0].seq, t[0].ack), (ISS, irs.wrapping_add(1)));
        self.send(Seg {
            seq: irs.wrapping_add(1),
            vlan,
            ..Seg::default()
        });
        self.settle();
        assert!(self.txs().is_empty(), "a pure ACK is never answered");
        irs.wrapping_add(1)
    }

    /// Delete socket `sref` and check that every buflet is free again. Returns the
    /// completions that arrived up to and including the SOCK_DEL's CMD_DONE.
    pub fn delete(&mut self, sref: u16) -> Vec<Cpl> {
        let tag = 0xDE1E_0000 | sref as u32;
        self.submit(&sock_del(sref, tag));
        let mut got = vec![];
        for _ in 0..10_000 {
            got.extend(self.cpls());
            if got
                .iter()
                .any(|c| c.kind == CplKind::CmdDone && c.tag == tag)
            {
                let last = got.last().unwrap();
                assert_eq!(
                    (last.kind, last.status, last.tag, last.opcode, last.sock_ref),
                    (
                        CplKind::CmdDone,
                        Status::Ok,
                        tag,
                        Opcode::SockDel.code(),
                        sref
                    )
                );
                return got;
            }
            self.run(200);
        }
        panic!("no CMD_DONE for SOCK_DEL {sref}: {got:?}");
    }

    /// Delete socket `sref` (see [`Rig::delete`]) and check that every buflet is free.
    pub fn finish(&mut self, sref: u16) {
        self.delete(sref);
        self.assert_all_free();
    }

    /// Every buflet is on the free list.
    pub fn assert_all_free(&mut self) {
        let n = self.dev.config().num_buflets;
        assert_eq!(self.r(reg::CNT_FREE_BUFLETS), n, "buflets leaked");
    }

    /// Allocate a named buffer of `total` bytes over fresh pages: (HMD address, pages).
    pub fn nb_mem(&mut self, total: u32) -> (u64, Vec<u64>) {
        let n = (total as u64).div_ceil(4096).max(1);
        let pages: Vec<u64> = (0..n).map(|_| self.alloc(4096)).collect();
        let hmd = self.alloc(8 * n);
        let list: Vec<u8> = pages.iter().flat_map(|p| p.to_le_bytes()).collect();
        self.cpu_write(hmd, &list);
        (hmd, pages)
    }

    /// Post a named buffer of `total` bytes over fresh pages (see [`Rig::nb_mem`]) to socket
    /// `sref` as NB `ref_num`; returns its pages.
    pub fn post_nb(&mut self, sref: u16, tag: u32, ref_num: u32, total: u32) -> Vec<u64> {
        let (hmd, pages) = self.nb_mem(total);
        self.submit(&nb_post(sref, tag, ref_num, total, hmd, pages.len() as u32));
        pages
    }

    /// Read `len` bytes of a named buffer laid over `pages`.
    pub fn nb_read(&mut self, pages: &[u64], len: usize) -> Vec<u8> {
        let mut v = vec![];
        for (i, p) in pages.iter().enumerate() {
            let n = len.saturating_sub(i * 4096).min(4096);
            if n == 0 {
                break;
            }
            v.extend(self.cpu_read(*p, n));
        }
        v
    }
}

pub fn ip_u32(a: [u8; 4]) -> u64 {
    u32::from_be_bytes(a) as u64
}

/// TCP segment description for [`frame`].
#[derive(Clone, Default)]
pub struct Seg {
    pub vlan: Option<u16>,
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub urg: bool,
    /// ACK number; `None` = `ISS + 1`. The ACK flag is set when this is `Some` or, for a
    /// segment without SYN, unless `no_ack`.
    pub ack: Option<u32>,
    pub no_ack: bool,
    /// Raw TCP option bytes (a multiple of 4).
    pub opts: Vec<u8>,
    pub payload: Vec<u8>,
    pub more_fragments: bool,
    pub dport: Option<u16>,
}

impl Seg {
    /// A segment at `seq` with every other field at its default: a pure ACK of `ISS + 1`
    /// until the builder methods add flags, payload or options.
    pub fn at(seq: u32) -> Seg {
        Seg {
            seq,
            ..Seg::default()
        }
    }
}

builder!(Seg {
    flags: [syn, fin, rst, psh, urg, no_ack, more_fragments],
    values: [vlan: Option<u16>, opts: Vec<u8>, payload: Vec<u8>],
    somes: [ack: u32, dport: u16],
});

/// An Ethernet/IPv4/TCP frame from the remote peer, built with etherparse headers.
pub fn frame(s: &Seg) -> Vec<u8> {
    let mut tcp = TcpHeader::new(REMOTE_PORT, s.dport.unwrap_or(LOCAL_PORT), s.seq, 65535);
    tcp.syn = s.syn;
    tcp.fin = s.fin;
    tcp.rst = s.rst;
    tcp.psh = s.psh;
    tcp.urg = s.urg;
    tcp.ack = if s.syn { s.ack.is_some() } else { !s.no_ack };
    if tcp.ack {
        tcp.acknowledgment_number = s.ack.unwrap_or(ISS.wrapping_add(1));
    }
    tcp.set_options_raw(&s.opts).unwrap();
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

/// A frame the device transmitted, parsed with etherparse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tx {
    pub len: usize,
    pub vlan: Option<u16>,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub syn: bool,
    pub ackf: bool,
    /// FIN, RST, PSH or URG set (never, for ACK and SYN-ACK).
    pub other_flags: bool,
    pub mss: Option<u16>,
    pub ws: Option<u8>,
    /// Raw option bytes.
    pub opts: Vec<u8>,
}

/// Parse a transmitted frame with etherparse and check everything that is fixed: MACs, IPs,
/// ports (the socket's, reversed), IPv4 header (ID 0, DF, TTL 64, TCP, both checksums as
/// etherparse computes them), no payload, no padding.
pub fn parse_tx(f: &[u8]) -> Tx {
    let h = PacketHeaders::from_ethernet_slice(f).expect("transmitted frame parses");
    let Some(LinkHeader::Ethernet2(eth)) = h.link else {
        panic!("no Ethernet header")
    };
    assert_eq!((eth.destination, eth.source), (REMOTE_MAC, LOCAL_MAC));
    let vlan = match h.link_exts.first() {
        Some(LinkExtHeader::Vlan(v)) => {
            assert_eq!(v.pcp, VlanPcp::ZERO);
            assert!(!v.drop_eligible_indicator);
            Some(v.vlan_id.value())
        }
        Some(_) => panic!("unexpected link extension"),
        None => None,
    };
    assert!(h.link_exts.len() <= 1);
    let Some(NetHeaders::Ipv4(ip, _)) = h.net else {
        panic!("not IPv4")
    };
    let Some(TransportHeader::Tcp(tcp)) = h.transport else {
        panic!("not TCP")
    };
    assert_eq!(
        ip.header_checksum,
        ip.calc_header_checksum(),
        "IPv4 checksum"
    );
    assert_eq!(
        tcp.checksum,
        tcp.calc_checksum_ipv4(&ip, &[]).unwrap(),
        "TCP checksum"
    );
    assert_eq!((ip.source, ip.destination), (LOCAL_IP, REMOTE_IP));
    assert_eq!(ip.identification, 0);
    assert!(ip.dont_fragment && !ip.more_fragments);
    assert_eq!(ip.time_to_live, 64);
    assert_eq!(ip.protocol, IpNumber::TCP);
    assert_eq!(ip.ihl(), 5);
    let l3 = 14 + 4 * vlan.is_some() as usize;
    assert_eq!(&f[l3..l3 + 2], &[0x45, 0x00], "version/IHL, DSCP/ECN");
    assert_eq!(
        ip.total_len as usize,
        20 + tcp.header_len(),
        "IPv4 total length"
    );
    assert_eq!(
        (tcp.source_port, tcp.destination_port),
        (LOCAL_PORT, REMOTE_PORT)
    );
    assert_eq!(tcp.urgent_pointer, 0);
    assert!(!(tcp.ns || tcp.cwr || tcp.ece));
    assert_eq!(
        f.len(),
        14 + 4 * vlan.is_some() as usize + 20 + tcp.header_len(),
        "frame length (no payload, no padding)"
    );
    let (mut mss, mut ws) = (None, None);
    for o in tcp.options_iterator() {
        match o.expect("options parse") {
            TcpOptionElement::MaximumSegmentSize(m) => mss = Some(m),
            TcpOptionElement::WindowScale(w) => ws = Some(w),
            TcpOptionElement::Noop => {}
            other => panic!("unexpected option {other:?}"),
        }
    }
    Tx {
        len: f.len(),
        vlan,
        seq: tcp.sequence_number,
        ack: tcp.acknowledgment_number,
        window: tcp.window_size,
        syn: tcp.syn,
        ackf: tcp.ack,
        other_flags: tcp.fin || tcp.rst || tcp.psh || tcp.urg,
        mss,
        ws,
        opts: tcp.options.as_slice().to_vec(),
    }
}

impl Tx {
    /// A plain ACK with this ack number (and not a SYN-ACK).
    pub fn is_ack(&self, ack: u32) -> bool {
        self.ackf
            && !self.syn
            && !self.other_flags
            && self.ack == ack
            && self.seq == ISS.wrapping_add(1)
            && self.opts.is_empty()
    }
}
