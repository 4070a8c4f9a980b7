//! The reference the records are checked against: a good frame's fields and ACK / window scale
//! from etherparse's parse, an independent walk of the SYN option list, the UDP datagram and ARP
//! request a frame should report, and the cycles the option walk of a frame may take.

use crate::*;

/// Fields of a good frame, from etherparse's parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub vlan: u64,
    pub src_ip: u64,
    pub dst_ip: u64,
    pub src_port: u64,
    pub dst_port: u64,
    pub seq: u64,
    pub flags: u64,
    pub pay_off: u64,
    pub pay_len: u64,
    pub ack: u64,
    pub ws_valid: u64,
    pub ws: u64,
    /// `m_meta_udp`: a UDP datagram that passed every check.
    pub udp: u64,
}

/// What `m_meta_arp_req` must report for an ARP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    /// Sender MAC, wire byte k in bits [8k+7:8k].
    pub sha: u64,
    pub spa: u64,
    pub tpa: u64,
    pub vlan: u64,
}

/// The ARP request the model's parser sees in `frame`, if any.
pub fn model_arp(frame: &[u8]) -> Option<Arp> {
    let p = buflet_model::parse::parse(frame);
    p.arp_req.then(|| {
        let mut sha = [0u8; 8];
        sha[..6].copy_from_slice(&p.arp_sha);
        Arp {
            sha: u64::from_le_bytes(sha),
            spa: u64::from(p.src_ip),
            tpa: u64::from(p.dst_ip),
            vlan: u64::from(p.vlan),
        }
    })
}

/// The window scale option of a SYN's option bytes, by the walk of
/// docs/tcp-receive.md: (WS_VALID, WS).
pub fn ws_walk(o: &[u8]) -> (u64, u64) {
    let n = o.len();
    let mut found = None;
    let mut i = 0;
    while i < n {
        match o[i] {
            0 => break,
            1 => i += 1,
            k => {
                let Some(&l) = o.get(i + 1) else { break };
                let l = usize::from(l);
                if l < 2 || i + l > n {
                    break;
                }
                if k == 3 && l == 3 {
                    found = Some(o[i + 2].min(14));
                }
                i += l;
            }
        }
    }
    match found {
        Some(ws) => (1, u64::from(ws)),
        None => (0, 0),
    }
}

/// ACK and window scale expected for a frame that passes every check,
/// from etherparse's parse of the TCP header.
pub fn tcp_extra(frame: &[u8]) -> (u64, u64, u64) {
    let h = PacketHeaders::from_ethernet_slice(frame).expect("etherparse parse");
    let Some(TransportHeader::Tcp(tcp)) = &h.transport else {
        panic!("not tcp")
    };
    let (ws_valid, ws) = if tcp.syn {
        ws_walk(tcp.options.as_slice())
    } else {
        (0, 0)
    };
    (u64::from(tcp.acknowledgment_number), ws_valid, ws)
}

/// The VLAN id (0 untagged), the offset of the IPv4 header and the IPv4 header of a parsed
/// frame (one tag at most).
fn vlan_l3_ipv4<'a>(h: &'a PacketHeaders) -> (u64, usize, &'a Ipv4Header) {
    let vlan = match &h.vlan() {
        Some(etherparse::VlanHeader::Single(s)) => u64::from(s.vlan_id.value()),
        None => 0,
        Some(other) => panic!("unexpected vlan {other:?}"),
    };
    let Some(NetHeaders::Ipv4(ip, _)) = &h.net else {
        panic!("not ipv4")
    };
    let l3 = if h.vlan().is_some() { 18 } else { 14 };
    (vlan, l3, ip)
}

/// The fields of a passing frame that do not depend on its transport: VLAN, addresses and
/// ports; the others 0.
fn ip_fields(vlan: u64, ip: &Ipv4Header, src_port: u16, dst_port: u16) -> Fields {
    Fields {
        vlan,
        src_ip: u64::from(u32::from_be_bytes(ip.source)),
        dst_ip: u64::from(u32::from_be_bytes(ip.destination)),
        src_port: u64::from(src_port),
        dst_port: u64::from(dst_port),
        seq: 0,
        flags: 0,
        pay_off: 0,
        pay_len: 0,
        ack: 0,
        ws_valid: 0,
        ws: 0,
        udp: 0,
    }
}

/// etherparse's view of a good UDP datagram; the checksum (when not 0)
/// verified with etherparse's own calculation.
pub fn udp_oracle(frame: &[u8]) -> Fields {
    let h = PacketHeaders::from_ethernet_slice(frame).expect("etherparse parse");
    let (vlan, l3, ip) = vlan_l3_ipv4(&h);
    let Some(TransportHeader::Udp(udp)) = &h.transport else {
        panic!("not udp")
    };
    let payload = h.payload.slice();
    assert_eq!(
        usize::from(udp.length),
        8 + payload.len(),
        "oracle: udp length"
    );
    assert_eq!(
        usize::from(ip.total_len),
        ip.header_len() + usize::from(udp.length),
        "oracle: udp length vs ip"
    );
    if udp.checksum != 0 {
        assert_eq!(
            udp.calc_checksum_ipv4(ip, payload).expect("udp csum"),
            udp.checksum,
            "oracle: udp checksum"
        );
    }
    Fields {
        pay_off: (l3 + ip.header_len() + 8) as u64,
        pay_len: payload.len() as u64,
        udp: 1,
        ..ip_fields(vlan, ip, udp.source_port, udp.destination_port)
    }
}

/// etherparse's view of a good frame, with its own checksum verification.
pub fn oracle(frame: &[u8]) -> Fields {
    let h = PacketHeaders::from_ethernet_slice(frame).expect("etherparse parse");
    if matches!(h.transport, Some(TransportHeader::Udp(_))) {
        return udp_oracle(frame);
    }
    let (vlan, l3, ip) = vlan_l3_ipv4(&h);
    let Some(TransportHeader::Tcp(tcp)) = &h.transport else {
        panic!("not tcp")
    };
    assert_eq!(
        ip.calc_header_checksum(),
        ip.header_checksum,
        "oracle: ip checksum"
    );
    let payload = h.payload.slice();
    assert_eq!(
        tcp.calc_checksum_ipv4(ip, payload).expect("tcp csum"),
        tcp.checksum,
        "oracle: tcp checksum"
    );
    let flags = u64::from(tcp.fin)
        | u64::from(tcp.syn) << 1
        | u64::from(tcp.rst) << 2
        | u64::from(tcp.psh) << 3
        | u64::from(tcp.ack) << 4
        | u64::from(tcp.urg) << 5
        | u64::from(tcp.ece) << 6
        | u64::from(tcp.cwr) << 7;
    let pay_len = usize::from(ip.total_len) - ip.header_len() - tcp.header_len();
    assert_eq!(pay_len, payload.len(), "oracle: payload length");
    let (ack, ws_valid, ws) = tcp_extra(frame);
    Fields {
        seq: u64::from(tcp.sequence_number),
        flags,
        pay_off: (l3 + ip.header_len() + tcp.header_len()) as u64,
        pay_len: pay_len as u64,
        ack,
        ws_valid,
        ws,
        ..ip_fields(vlan, ip, tcp.source_port, tcp.destination_port)
    }
}

/// Cycles stage B may spend on the option walk of a frame: one per option
/// byte plus the final step (SYN frames that pass only).
pub fn walk_budget(frame: &[u8]) -> usize {
    match PacketHeaders::from_ethernet_slice(frame) {
        Ok(h) => match &h.transport {
            Some(TransportHeader::Tcp(tcp)) if tcp.syn => tcp.options.len() + 1,
            _ => 0,
        },
        Err(_) => 0,
    }
}
