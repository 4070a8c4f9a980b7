//! Request-ring entries and frames the model tests build: SOCK_ADD (with its parameters),
//! SOCK_DEL, NB_POST, ANON_POST, block requests, bare requests, UDP datagrams and ARP packets.

use super::*;

/// Socket parameters of a SOCK_ADD.
#[derive(Clone, Copy)]
pub struct SockOpts {
    pub vlan: u16,
    pub iss: u32,
    pub rcv_buf: u32,
    pub mss: u16,
    pub wscale: u8,
    pub flags: SockFlags,
}

impl Default for SockOpts {
    fn default() -> Self {
        SockOpts {
            vlan: 0,
            iss: ISS,
            rcv_buf: RCV_BUF,
            mss: MSS,
            wscale: WSCALE,
            flags: SockFlags::empty(),
        }
    }
}

builder!(SockOpts {
    flags: [],
    values: [vlan: u16, iss: u32, rcv_buf: u32, mss: u16, wscale: u8, flags: SockFlags],
    somes: [],
});

/// A SOCK_ADD entry for the test 4-tuple with the default parameters.
pub fn sock_add(sref: u16, tag: u32, vlan: u16) -> [u8; 64] {
    sock_desc(sref, tag, vlan).to_bytes()
}

/// A SOCK_ADD entry for the test 4-tuple.
pub fn sock_add_opts(sref: u16, tag: u32, o: &SockOpts) -> [u8; 64] {
    sock_desc_opts(sref, tag, o).to_bytes()
}

/// The SOCK_ADD descriptor of [`sock_add`], to modify before `to_bytes()`.
pub fn sock_desc(sref: u16, tag: u32, vlan: u16) -> SockDesc {
    sock_desc_opts(
        sref,
        tag,
        &SockOpts {
            vlan,
            ..SockOpts::default()
        },
    )
}

/// The SOCK_ADD descriptor of [`sock_add_opts`].
pub fn sock_desc_opts(sref: u16, tag: u32, o: &SockOpts) -> SockDesc {
    SockDesc {
        opcode: Opcode::SockAdd,
        flags: o.flags,
        sock_ref: sref,
        tag,
        local_mac: LOCAL_MAC,
        remote_mac: REMOTE_MAC,
        vlan: o.vlan,
        proto: IpProto::Tcp.code(),
        local_ip: LOCAL_IP.into(),
        remote_ip: REMOTE_IP.into(),
        local_port: LOCAL_PORT,
        remote_port: REMOTE_PORT,
        iss: o.iss,
        rcv_buf: o.rcv_buf,
        mss: o.mss,
        rcv_wscale: o.wscale,
        ..Default::default()
    }
}

/// A SOCK_DEL entry.
pub fn sock_del(sref: u16, tag: u32) -> [u8; 64] {
    ReqHdr {
        opcode: Opcode::SockDel.code(),
        sock_ref: sref,
        tag,
        ..Default::default()
    }
    .to_bytes()
}

/// An NB_POST descriptor.
pub fn nb_desc(sref: u16, tag: u32, ref_num: u32, total: u32, hmd: u64, pages: u32) -> NbDesc {
    NbDesc {
        opcode: Opcode::NbPost,
        sock_ref: sref,
        tag,
        ref_num,
        total_bytes: total,
        hmd_addr: hmd,
        hmd_pages: pages,
        ..Default::default()
    }
}

/// An NB_POST entry.
pub fn nb_post(sref: u16, tag: u32, ref_num: u32, total: u32, hmd: u64, pages: u32) -> [u8; 64] {
    nb_desc(sref, tag, ref_num, total, hmd, pages).to_bytes()
}

/// An NB_POST entry with a TIMEOUT (timer ticks, 0 = never).
pub fn nb_post_timeout(
    sref: u16,
    tag: u32,
    ref_num: u32,
    total: u32,
    hmd: u64,
    pages: u32,
    timeout: u32,
) -> [u8; 64] {
    NbDesc {
        timeout,
        ..nb_desc(sref, tag, ref_num, total, hmd, pages)
    }
    .to_bytes()
}

/// A SOCK_ADD entry for a UDP socket (PROTO 17) on the test 4-tuple.
pub fn udp_sock_add(sref: u16, tag: u32, vlan: u16) -> [u8; 64] {
    SockDesc {
        proto: IpProto::Udp.code(),
        ..sock_desc(sref, tag, vlan)
    }
    .to_bytes()
}

/// An ANON_POST entry.
pub fn anon_post(tag: u32, ref_num: u32, len: u32, addr: u64) -> [u8; 64] {
    AnonDesc::post(tag, ref_num, len, addr).to_bytes()
}

/// An Ethernet/IPv4/UDP datagram from the remote peer (etherparse builds it, checksum
/// included), from `sport` to `dport`.
pub fn udp_frame(vlan: Option<u16>, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(REMOTE_MAC, LOCAL_MAC);
    let mut v = vec![];
    match vlan {
        Some(id) => b
            .single_vlan(VlanId::try_new(id).unwrap())
            .ipv4(REMOTE_IP, LOCAL_IP, 64)
            .udp(sport, dport)
            .write(&mut v, payload)
            .unwrap(),
        None => b
            .ipv4(REMOTE_IP, LOCAL_IP, 64)
            .udp(sport, dport)
            .write(&mut v, payload)
            .unwrap(),
    }
    v
}

/// An ARP packet (Ethernet/IPv4 addresses) in an Ethernet frame from `eth_src` to broadcast.
pub fn arp_frame(
    vlan: Option<u16>,
    eth_src: [u8; 6],
    oper: ArpOperation,
    sha: [u8; 6],
    spa: [u8; 4],
    tpa: [u8; 4],
) -> Vec<u8> {
    let arp = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        oper,
        &sha,
        &spa,
        &[0; 6],
        &tpa,
    )
    .unwrap();
    let b = PacketBuilder::ethernet2(eth_src, [0xFF; 6]);
    let mut v = vec![];
    match vlan {
        Some(id) => b
            .single_vlan(VlanId::try_new(id).unwrap())
            .arp(arp)
            .write(&mut v)
            .unwrap(),
        None => b.arp(arp).write(&mut v).unwrap(),
    }
    v
}

/// One scatter-gather element: (source or destination address, length, ZERO, disk byte
/// address).
pub type El = (u64, u64, bool, u64);

/// A `BLK_WRITE` or `BLK_READ` request (`opcode`) over the list at `sg`.
pub fn blk_request(opcode: Opcode, tag: u32, sg: u64, sg_max: u32, bytes: u32) -> [u8; 64] {
    BlkReq {
        opcode,
        tag,
        sg_addr: sg,
        sg_max,
        bytes,
        ..Default::default()
    }
    .to_bytes()
}

/// A bare request entry with an opcode (an [`Opcode`], or any raw `u8`) and tag.
pub fn req(opcode: impl Into<u8>, tag: u32) -> [u8; 64] {
    ReqHdr {
        opcode: opcode.into(),
        tag,
        ..Default::default()
    }
    .to_bytes()
}
