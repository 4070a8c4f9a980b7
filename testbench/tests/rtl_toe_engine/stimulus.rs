//! Stimulus: the sockets the tests add (`SockCfg`, built into a `SockDesc`), the frames their
//! peers send (`Frame`: one rx metadata record and the bytes stored for it), the tx commands the
//! engine must answer with, and the request builders that queue SOCK_ADD, SOCK_DEL, NB_POST,
//! ANON_POST, BUF_RELEASE and raw entries (hostile values included) and tick requests.

use crate::*;

/// The host part of a socket (the SOCK_ADD entry).
#[derive(Clone, Copy, Default, Debug)]
pub struct SockCfg {
    pub slot: u16,
    pub flags: SockFlags,
    pub local_mac: [u8; 6],
    pub remote_mac: [u8; 6],
    pub vlan: u16,
    /// IP protocol, raw: the tests also add sockets of no valid protocol.
    pub proto: u8,
    pub local_ip: u32,
    pub remote_ip: u32,
    pub local_port: u16,
    pub remote_port: u16,
    pub iss: u32,
    pub rcv_buf: u32,
    pub mss: u16,
    pub wscale: u8,
}

impl SockCfg {
    pub fn new(slot: u16, rng: &mut ChaCha8Rng) -> SockCfg {
        SockCfg {
            slot,
            flags: SockFlags::empty(),
            local_mac: rng.gen(),
            remote_mac: rng.gen(),
            vlan: 0,
            proto: IpProto::Tcp.code(),
            local_ip: 0x0A00_0001,
            remote_ip: 0x0A00_0100 + slot as u32,
            local_port: 5000 + slot,
            remote_port: 40000 + slot * 7,
            iss: rng.gen(),
            rcv_buf: 8000,
            mss: 1460,
            wscale: 0,
        }
    }

    /// The SOCK_ADD entry of this socket.
    pub fn desc(&self, tag: u32) -> SockDesc {
        SockDesc {
            opcode: Opcode::SockAdd,
            flags: self.flags,
            sock_ref: self.slot,
            tag,
            local_mac: self.local_mac,
            remote_mac: self.remote_mac,
            vlan: self.vlan,
            proto: self.proto,
            local_ip: Ipv4Addr::from(self.local_ip),
            remote_ip: Ipv4Addr::from(self.remote_ip),
            local_port: self.local_port,
            remote_port: self.remote_port,
            iss: self.iss,
            rcv_buf: self.rcv_buf,
            mss: self.mss,
            rcv_wscale: self.wscale,
            ..Default::default()
        }
    }

    /// The socket a SOCK_ADD entry describes.
    pub fn from_desc(d: &SockDesc) -> SockCfg {
        SockCfg {
            slot: d.sock_ref,
            flags: d.flags,
            local_mac: d.local_mac,
            remote_mac: d.remote_mac,
            vlan: d.vlan,
            proto: d.proto,
            local_ip: u32::from(d.local_ip),
            remote_ip: u32::from(d.remote_ip),
            local_port: d.local_port,
            remote_port: d.remote_port,
            iss: d.iss,
            rcv_buf: d.rcv_buf,
            mss: d.mss,
            wscale: d.rcv_wscale,
        }
    }

    /// This socket with receive buffer `rcv_buf`.
    pub fn buf(self, rcv_buf: u32) -> SockCfg {
        SockCfg { rcv_buf, ..self }
    }

    /// This socket with flags `flags`.
    pub fn with_flags(self, flags: SockFlags) -> SockCfg {
        SockCfg { flags, ..self }
    }

    /// This socket as a UDP socket.
    pub fn into_udp(self) -> SockCfg {
        let proto = IpProto::Udp.code();
        SockCfg { proto, ..self }
    }

    /// True for a UDP socket.
    pub fn udp(&self) -> bool {
        self.proto == IpProto::Udp.code()
    }

    /// A frame from the peer of this socket. `ack` 0 with ACK set stands for ISS + 1: the
    /// peers of this test never receive data from the NIC, and an ACK of data never sent is
    /// dropped (BAD_ACK, docs/tcp-transmit.md) by the send side this receive-side test does not
    /// model.
    pub fn frame(&self, seq: u32, ack: u32, flags: TcpFlags, payload: Vec<u8>) -> Frame {
        let ack = if ack == 0 && flags.contains(TcpFlags::ACK) {
            self.iss.wrapping_add(1)
        } else {
            ack
        };
        Frame {
            vlan: self.vlan,
            src_ip: self.remote_ip,
            dst_ip: self.local_ip,
            sport: self.remote_port,
            dport: self.local_port,
            seq,
            ack,
            flags,
            src_mac: self.remote_mac,
            ..Frame::new(DropReason::None, 54, payload)
        }
    }

    /// A UDP datagram from the peer of this socket: `payload` after an 8-byte UDP header at
    /// offset `pay_off - 8` (rx-paths.md: the metadata's payload offset is UDP header + 8).
    pub fn datagram(&self, payload: Vec<u8>) -> Frame {
        let mut f = self.frame(0, 0, TcpFlags::empty(), payload);
        f.udp = true;
        f.pay_off = if self.vlan != 0 { 46 } else { 42 };
        f
    }

    /// The identity fields of the TCP commands this socket sends (MACs, VLAN, addresses,
    /// ports); SEQ, ACK, WINDOW, FLAGS and the options are 0.
    pub fn tx(&self) -> TxCmd {
        TxCmd {
            dst_mac: self.remote_mac,
            src_mac: self.local_mac,
            vlan: self.vlan,
            kind: TxKind::Tcp.code(),
            src_ip: Ipv4Addr::from(self.local_ip),
            dst_ip: Ipv4Addr::from(self.remote_ip),
            src_port: self.local_port,
            dst_port: self.remote_port,
            ..Default::default()
        }
    }
}

/// A frame that is not matched through the 4-tuple: `len` bytes, parser reason `reason`
/// (NOT_IPV4 or NO_SOCKET), metadata fields random.
pub fn raw_frame(reason: DropReason, len: usize, rng: &mut ChaCha8Rng) -> Frame {
    let n = len.max(14);
    Frame {
        src_ip: rng.gen(),
        dst_ip: rng.gen(),
        sport: rng.gen(),
        dport: rng.gen(),
        seq: rng.gen(),
        ack: rng.gen(),
        // the payload is drawn after the fields above, as the struct update base comes last
        ..Frame::new(reason, 14, (0..n - 14).map(|_| rng.gen()).collect())
    }
}

/// An ARP request (reason NOT_IPV4, ARP_REQ) from `sha`/`spa` asking for `tpa`: 42 bytes
/// (46 with a tag), metadata source IP = SPA, destination IP = TPA.
pub fn arp_frame(sha: [u8; 6], spa: u32, tpa: u32, vlan: u16, rng: &mut ChaCha8Rng) -> Frame {
    let mut f = raw_frame(DropReason::NotIpv4, if vlan != 0 { 46 } else { 42 }, rng);
    f.vlan = vlan;
    f.src_ip = spa;
    f.dst_ip = tpa;
    f.arp_sha = Some(sha);
    f
}

/// One rx metadata record plus the frame bytes the harness stores in a fresh buflet chain.
#[derive(Clone, Debug)]
pub struct Frame {
    pub reason: DropReason,
    pub vlan: u16,
    pub src_ip: u32,
    pub dst_ip: u32,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub ws: Option<u8>,
    pub pay_off: usize,
    pub payload: Vec<u8>,
    /// No buflet chain at all (NO_BUFLET before the first buflet).
    pub no_chain: bool,
    /// Index of the random-test peer that sent it.
    pub peer: Option<usize>,
    /// A UDP datagram (metadata UDP = 1).
    pub udp: bool,
    /// An ARP request (metadata ARP_REQ = 1) with this sender MAC.
    pub arp_sha: Option<[u8; 6]>,
    /// The Ethernet source MAC (metadata SRC_MAC).
    pub src_mac: [u8; 6],
    /// Only this many buflets were stored (fewer than the frame needs: stored in part).
    pub short_chain: Option<usize>,
    /// The frame bytes the harness stored (filled in when the frame is presented).
    pub bytes: Vec<u8>,
}

impl Frame {
    /// A frame with parser reason `reason` and `payload` at `pay_off`; untagged, every other
    /// metadata field 0, no flags or window scale, stored whole.
    pub fn new(reason: DropReason, pay_off: usize, payload: Vec<u8>) -> Frame {
        Frame {
            reason,
            vlan: 0,
            src_ip: 0,
            dst_ip: 0,
            sport: 0,
            dport: 0,
            seq: 0,
            ack: 0,
            flags: TcpFlags::empty(),
            ws: None,
            pay_off,
            payload,
            no_chain: false,
            peer: None,
            udp: false,
            arp_sha: None,
            src_mac: [0; 6],
            short_chain: None,
            bytes: Vec::new(),
        }
    }

    /// Frame length in bytes.
    pub fn len(&self) -> usize {
        self.pay_off + self.payload.len()
    }

    /// The frame was stored whole (every buflet it needs).
    pub fn whole(&self) -> bool {
        !self.no_chain && self.short_chain.is_none()
    }
}

/// The expected tx_cmd of an ARP reply (rx-paths.md "ARP responder").
pub fn arp_tx_cmd(sha: [u8; 6], nic_mac: [u8; 6], vlan: u16, nic_ip: u32, spa: u32) -> TxCmd {
    TxCmd {
        dst_mac: sha,
        src_mac: nic_mac,
        vlan,
        kind: TxKind::Arp.code(),
        src_ip: Ipv4Addr::from(nic_ip),
        dst_ip: Ipv4Addr::from(spa),
        ..Default::default()
    }
}

/// Request builders: each queues one 64-byte request entry.
impl Tb {
    /// Queues the SOCK_ADD of `c`.
    pub fn sock_add(&mut self, c: &SockCfg) {
        let t = self.tag();
        self.req_q.push_back(c.desc(t).to_bytes());
    }

    /// Queues a SOCK_LISTEN of listen slot `slot` with template `c` (its local fields, ISS,
    /// RCV_BUF, MSS, RCV_WSCALE and FLAGS; the remote fields are sent as junk: ignored); returns
    /// the request's TAG.
    pub fn listen(&mut self, slot: u16, c: &SockCfg) -> u32 {
        let tag = self.tag();
        let d = ListenDesc {
            opcode: Opcode::SockListen,
            flags: c.flags,
            slot,
            tag,
            local_mac: c.local_mac,
            rsvd0: c.remote_mac,
            vlan: c.vlan,
            proto: c.proto,
            rsvd1: 0x5A,
            local_ip: Ipv4Addr::from(c.local_ip),
            rsvd2: c.remote_ip,
            local_port: c.local_port,
            rsvd3: c.remote_port,
            iss: c.iss,
            rcv_buf: c.rcv_buf,
            mss: c.mss,
            rcv_wscale: c.wscale,
            ..Default::default()
        };
        self.req_q.push_back(d.to_bytes());
        tag
    }

    /// Queues a SOCK_UNLISTEN of listen slot `slot`.
    pub fn unlisten(&mut self, slot: u16) {
        self.raw_req(Opcode::SockUnlisten.code(), slot);
    }

    /// Queues a SOCK_POOL of socket slot `slot`.
    pub fn pool_sock(&mut self, slot: u16) {
        self.raw_req(Opcode::SockPool.code(), slot);
    }

    /// Queues a SOCK_DEL of `slot`.
    pub fn sock_del(&mut self, slot: u16) {
        self.raw_req(Opcode::SockDel.code(), slot);
    }

    /// Queues an entry of opcode `op` (raw: unknown opcodes too) with only the header set.
    pub fn raw_req(&mut self, op: u8, slot: u16) {
        let tag = self.tag();
        let e = ReqHdr {
            opcode: op,
            flags: 0,
            sock_ref: slot,
            tag,
        };
        self.req_q.push_back(e.to_bytes());
    }

    /// Queues a BUF_RELEASE of `heads` with COUNT = `count` (heads past `heads.len()` are 0).
    pub fn buf_release_n(&mut self, count: u16, heads: &[u16]) {
        let t = self.tag();
        self.req_q
            .push_back(BufRelease::new(t, heads, count).to_bytes());
    }

    /// Queues a BUF_RELEASE of `heads` (COUNT = their number).
    pub fn buf_release(&mut self, heads: &[u16]) {
        self.buf_release_n(heads.len() as u16, heads);
    }

    /// Queues BUF_RELEASEs of every chain held now (sorted, 24 per request).
    pub fn release_all(&mut self) {
        let mut h: Vec<u16> = self.held.iter().copied().collect();
        h.sort_unstable();
        for c in h.chunks(RELEASE_MAX) {
            self.buf_release(c);
        }
    }

    /// Queues an NB_POST (page list written to host memory unless `refused`).
    pub fn nb_post(&mut self, slot: u16, refn: u32, total: usize, pages: u32, refused: bool) {
        self.nb_post_t(slot, refn, total, pages, refused, 0);
    }

    /// Queues an NB_POST with a TIMEOUT.
    pub fn nb_post_t(
        &mut self,
        slot: u16,
        refn: u32,
        total: usize,
        pages: u32,
        refused: bool,
        timeout: u32,
    ) {
        let tag = self.tag();
        let hmd = if refused {
            self.refused_ctr += 1;
            REFUSED_BASE + 0x1000 * self.refused_ctr
        } else {
            self.host_alloc(8 * pages.max(1) as usize, 8)
        };
        let mut addrs = Vec::new();
        if !refused {
            for i in 0..pages as usize {
                // pages are 4 KiB regions, some deliberately not page-aligned
                let skew = if self.chance(30) {
                    self.rng.gen_range(1..64)
                } else {
                    0
                };
                let a = self.host_alloc(PAGE + skew, PAGE) + skew as u64;
                addrs.push(a);
                self.host_slice(hmd + 8 * i as u64, 8)
                    .copy_from_slice(&a.to_le_bytes());
            }
        }
        let e = NbDesc {
            opcode: Opcode::NbPost,
            sock_ref: slot,
            tag,
            ref_num: refn,
            total_bytes: total as u32,
            hmd_addr: hmd,
            hmd_pages: pages,
            filled: 77, // NIC-owned, must be reset
            next_nb: 2,
            timeout,
            ticks_left: 3,    // NIC-owned, set from TIMEOUT
            udp_hdr_bytes: 5, // NIC-owned
            ..Default::default()
        };
        self.nb_pending.insert(
            tag,
            Nb {
                slot,
                tag,
                total,
                pages: addrs,
                hmd,
                n_pages: pages as usize,
                refused,
                filled: 0,
                stream_off: 0,
                content: Vec::new(),
                timeout,
                ticks_left: timeout,
                recs: 0,
                records: Vec::new(),
            },
        );
        self.req_q.push_back(e.to_bytes());
    }

    /// Queues an ANON_POST of a `len`-byte buffer (host memory allocated at a random skew);
    /// returns its address.
    pub fn anon_post(&mut self, refn: u32, len: usize) -> u64 {
        let skew = self.rng.gen_range(0..3) * self.rng.gen_range(1..2048);
        let addr = self.host_alloc(len.max(1) + skew, PAGE) + skew as u64;
        self.anon_post_at(refn, len, addr, 0, 0);
        addr
    }

    /// Queues an ANON_POST entry with every field given.
    pub fn anon_post_at(&mut self, refn: u32, len: usize, addr: u64, sock_ref: u16, flags: u8) {
        let tag = self.tag();
        let e = AnonDesc {
            opcode: Opcode::AnonPost,
            flags,
            sock_ref,
            tag,
            ref_num: refn,
            len: len as u32,
            addr,
        };
        self.anon_pending.insert(
            tag,
            Anon {
                refn,
                tag,
                len,
                addr,
            },
        );
        self.req_q.push_back(e.to_bytes());
    }

    /// A free anonymous slot (not posted, not queued), if any.
    pub fn free_anon(&self) -> Option<u32> {
        (0..self.num_anon as u32).find(|r| {
            !self.anon_list.iter().any(|a| a.refn == *r)
                && !self.anon_pending.values().any(|a| a.refn == *r)
        })
    }

    /// Requests a timer tick (one tick_req pulse in the next cycle).
    pub fn tick(&mut self) {
        self.tick_now += 1;
    }

    /// A free NB reference (not live, not queued), if any.
    pub fn free_ref(&self) -> Option<u16> {
        (0..self.num_nbs as u16).find(|r| {
            !self.nbs.contains_key(r)
                && !self.req_q.iter().chain(self.cur_req.iter()).any(|e| {
                    NbDesc::parse(e)
                        .is_ok_and(|d| d.opcode == Opcode::NbPost && d.ref_num as u16 == *r)
                })
        })
    }

    /// NBs of `slot` live or queued.
    pub fn nbs_out(&self, slot: u16) -> usize {
        self.nbs.values().filter(|n| n.slot == slot).count()
            + self.nb_pending.values().filter(|n| n.slot == slot).count()
    }

    /// Posts an NB with a random size to `slot`.
    pub fn post_random_nb(&mut self, slot: u16, refused: bool) -> bool {
        let Some(refn) = self.free_ref() else {
            return false;
        };
        let r: u32 = self.rng.gen_range(0..100);
        let total = if r < 15 {
            self.rng.gen_range(1..300)
        } else if r < 50 {
            self.rng.gen_range(1..=PAGE)
        } else {
            self.rng.gen_range(PAGE..=3 * PAGE)
        };
        let pages = total.div_ceil(PAGE) as u32 + self.rng.gen_range(0..2);
        let timeout = if self.p_tick > 0 && self.chance(40) {
            self.rng.gen_range(1..6)
        } else {
            0
        };
        self.nb_post_t(slot, refn as u32, total, pages, refused, timeout);
        true
    }
}
