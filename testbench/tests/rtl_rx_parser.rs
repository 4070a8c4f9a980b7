//! RTL test of `rx_parser` at DATA_WIDTH 64 and 512 (models `rx_parser_w64`:
//! BUFLET_BYTES 256, `rx_parser_w512`: BUFLET_BYTES 512; NUM_BUFLETS 64, small
//! buflets so that frames span many of them).
//!
//! Frames are built with etherparse (good TCP frames of many sizes, with and
//! without 802.1Q tag, IPv4 options, TCP options, Ethernet padding) and then
//! corrupted in known ways (bad IP checksum, bad TCP checksum, truncated,
//! ARP/IPv6, bad version/IHL/total length, fragments, UDP, bad data offset,
//! too long). The buflet pool is modelled in Rust: it serves allocations
//! (refusing them on purpose for some frames), applies link and RAM writes.
//! Every metadata record is checked: the reason against the case's expected
//! reason, the fields of good frames against etherparse's own parse, the
//! buflet chain walked through the link writes, and the stored bytes against
//! the frame. Random idle cycles on the input and random metadata backpressure.
//!
//! Version 0.2 metadata: the acknowledgment number of every passing frame, and
//! the window scale option of SYN segments (docs/tcp-receive.md "Frame
//! metadata from rx_parser"). SYN frames with option lists built with
//! etherparse (valid element lists; raw lists with NOPs, EOL, several WS,
//! WS beyond 14, malformed lengths, options running past the end) are checked
//! against an independent option walk over etherparse's view of the options.
//!
//! Receive paths besides TCP (docs/rx-paths.md): UDP datagrams built with
//! etherparse (good, padded, tagged, with IPv4 options, zero checksum, bad
//! checksum, UDP length shorter or longer than the IP payload, IP payload
//! under 8 bytes), other IP protocols (NO_SOCKET), ARP requests, replies and
//! malformed ARP packets (wrong htype/ptype/hlen/plen/oper, one byte short),
//! tagged or not. Every record's `m_meta_udp`, `m_meta_arp_req` (with the
//! sender MAC, SPA, TPA and VLAN of a request) is checked against the case's
//! expectation, which is itself checked against the Rust model's parser.

use buflet_sim::axis::{AxisBus, AxisSink, AxisSource, Beat};
use buflet_sim::{ports, Model};
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, IpHeaders, IpNumber, Ipv4Header,
    Ipv4Options, NetHeaders, PacketBuilder, PacketHeaders, TcpHeader, TcpOptionElement,
    TransportHeader, VlanId,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, VecDeque};

// Drop reasons (spec: BF_DROP_*).
const NONE: u8 = 0;
const TRUNCATED: u8 = 1;
const NOT_IPV4: u8 = 2;
const BAD_IP_HDR: u8 = 3;
const BAD_IP_CSUM: u8 = 4;
const BAD_L4_HDR: u8 = 5;
const BAD_L4_CSUM: u8 = 6;
const NO_SOCKET: u8 = 7;
const NO_BUFLET: u8 = 8;
const TOO_LONG: u8 = 10;
const NULL: u64 = 0xFFFF;
const NUM_BUFLETS: usize = 64;

/// Fields of a good frame, from etherparse's parse.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    vlan: u64,
    src_ip: u64,
    dst_ip: u64,
    src_port: u64,
    dst_port: u64,
    seq: u64,
    flags: u64,
    pay_off: u64,
    pay_len: u64,
    ack: u64,
    ws_valid: u64,
    ws: u64,
    /// `m_meta_udp`: a UDP datagram that passed every check.
    udp: u64,
}

/// What `m_meta_arp_req` must report for an ARP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Arp {
    /// Sender MAC, wire byte k in bits [8k+7:8k].
    sha: u64,
    spa: u64,
    tpa: u64,
    vlan: u64,
}

/// The ARP request the model's parser sees in `frame`, if any.
fn model_arp(frame: &[u8]) -> Option<Arp> {
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
fn ws_walk(o: &[u8]) -> (u64, u64) {
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
fn tcp_extra(frame: &[u8]) -> (u64, u64, u64) {
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

struct Case {
    what: &'static str,
    frame: Vec<u8>,
    /// Reason from the parser checks alone (before NO_BUFLET).
    reason: u8,
    enable: bool,
    /// Refuse allocations of this frame after this many.
    deny_after: Option<usize>,
    /// Expected fields of a passing frame from the Rust model's parser
    /// (buflet_model::parse) instead of etherparse.
    model_fields: Option<Fields>,
    /// Expected `m_meta_arp_req` record (None: `m_meta_arp_req` must be 0).
    arp: Option<Arp>,
    /// Observed during the run.
    allocated: Vec<u64>,
    denied: bool,
}

fn ones_sum(data: &[u8]) -> u32 {
    let mut s = 0u32;
    for c in data.chunks(2) {
        let hi = u32::from(c[0]) << 8;
        let lo = c.get(1).map_or(0, |&b| u32::from(b));
        s += hi | lo;
    }
    s
}

fn fold(mut s: u32) -> u16 {
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

/// Rewrites the IPv4 header checksum (used to build corrupted-but-consistent frames).
fn fix_ip_csum(f: &mut [u8], l3: usize) {
    let ihl4 = usize::from(f[l3] & 0x0F) * 4;
    f[l3 + 10] = 0;
    f[l3 + 11] = 0;
    let c = !fold(ones_sum(&f[l3..l3 + ihl4]));
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

/// An Ethernet (maybe VLAN-tagged) IPv4/TCP frame built by etherparse;
/// draws the two MAC addresses from `rng`.
fn write_tcp(
    rng: &mut ChaCha8Rng,
    vlan: Option<u16>,
    ip: Ipv4Header,
    tcp: TcpHeader,
    payload: &[u8],
) -> Vec<u8> {
    let mut frame = Vec::new();
    let eth = PacketBuilder::ethernet2(rng.gen(), rng.gen());
    let ipv4 = IpHeaders::Ipv4(ip, Default::default());
    match vlan {
        Some(v) => eth
            .single_vlan(VlanId::try_new(v).expect("vlan id"))
            .ip(ipv4)
            .tcp_header(tcp)
            .write(&mut frame, payload),
        None => eth.ip(ipv4).tcp_header(tcp).write(&mut frame, payload),
    }
    .expect("write frame");
    frame
}

struct Tcp {
    frame: Vec<u8>,
    l3: usize,
    ihl4: usize,
    tcp_len: usize,
}

fn build_tcp(
    rng: &mut ChaCha8Rng,
    vlan: Option<u16>,
    ip_opts: usize,
    tcp_opts: usize,
    payload_len: usize,
) -> Tcp {
    let mut ip = Ipv4Header::new(
        0,
        rng.gen_range(1..=255),
        IpNumber::TCP,
        rng.gen(),
        rng.gen(),
    )
    .expect("ipv4 header");
    ip.identification = rng.gen();
    ip.dont_fragment = rng.gen();
    ip.options = Ipv4Options::try_from(&vec![1u8; ip_opts][..]).expect("ip options");
    let mut tcp = TcpHeader::new(rng.gen(), rng.gen(), rng.gen(), rng.gen());
    tcp.acknowledgment_number = rng.gen();
    tcp.fin = rng.gen_bool(0.2);
    tcp.syn = rng.gen_bool(0.2);
    tcp.rst = rng.gen_bool(0.1);
    tcp.psh = rng.gen();
    tcp.ack = rng.gen_bool(0.8);
    tcp.urg = rng.gen_bool(0.1);
    tcp.ece = rng.gen_bool(0.1);
    tcp.cwr = rng.gen_bool(0.1);
    tcp.set_options_raw(&vec![1u8; tcp_opts])
        .expect("tcp options");
    let mut payload = vec![0u8; payload_len];
    rng.fill(&mut payload[..]);
    let frame = write_tcp(rng, vlan, ip, tcp, &payload);
    Tcp {
        frame,
        l3: if vlan.is_some() { 18 } else { 14 },
        ihl4: 20 + ip_opts,
        tcp_len: 20 + tcp_opts + payload_len,
    }
}

/// etherparse's view of a good UDP datagram; the checksum (when not 0)
/// verified with etherparse's own calculation.
fn udp_oracle(frame: &[u8]) -> Fields {
    let h = PacketHeaders::from_ethernet_slice(frame).expect("etherparse parse");
    let vlan = match &h.vlan() {
        Some(etherparse::VlanHeader::Single(s)) => u64::from(s.vlan_id.value()),
        None => 0,
        Some(other) => panic!("unexpected vlan {other:?}"),
    };
    let Some(NetHeaders::Ipv4(ip, _)) = &h.net else {
        panic!("not ipv4")
    };
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
    let l3 = if h.vlan().is_some() { 18 } else { 14 };
    Fields {
        vlan,
        src_ip: u64::from(u32::from_be_bytes(ip.source)),
        dst_ip: u64::from(u32::from_be_bytes(ip.destination)),
        src_port: u64::from(udp.source_port),
        dst_port: u64::from(udp.destination_port),
        seq: 0,
        flags: 0,
        pay_off: (l3 + ip.header_len() + 8) as u64,
        pay_len: payload.len() as u64,
        ack: 0,
        ws_valid: 0,
        ws: 0,
        udp: 1,
    }
}

/// etherparse's view of a good frame, with its own checksum verification.
fn oracle(frame: &[u8]) -> Fields {
    let h = PacketHeaders::from_ethernet_slice(frame).expect("etherparse parse");
    if matches!(h.transport, Some(TransportHeader::Udp(_))) {
        return udp_oracle(frame);
    }
    let vlan = match &h.vlan() {
        Some(etherparse::VlanHeader::Single(s)) => u64::from(s.vlan_id.value()),
        None => 0,
        Some(other) => panic!("unexpected vlan {other:?}"),
    };
    let Some(NetHeaders::Ipv4(ip, _)) = &h.net else {
        panic!("not ipv4")
    };
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
    let l3 = if h.vlan().is_some() { 18 } else { 14 };
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
        vlan,
        src_ip: u64::from(u32::from_be_bytes(ip.source)),
        dst_ip: u64::from(u32::from_be_bytes(ip.destination)),
        src_port: u64::from(tcp.source_port),
        dst_port: u64::from(tcp.destination_port),
        seq: u64::from(tcp.sequence_number),
        flags,
        pay_off: (l3 + ip.header_len() + tcp.header_len()) as u64,
        pay_len: pay_len as u64,
        ack,
        ws_valid,
        ws,
        udp: 0,
    }
}

/// A random TCP option list for a SYN, raw bytes (a multiple of 4, at most 40):
/// NOPs, EOL, valid and malformed window scale options (several of them, shifts
/// beyond 14), other options, lengths that run past the end, random bytes.
fn rand_raw_options(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut o = Vec::new();
    let target = rng.gen_range(1..=10) * 4;
    if rng.gen_bool(0.2) {
        // NOPs, then a window scale that ends exactly at the end of the list
        // or is cut by one or two bytes there (cut: not valid)
        let cut = rng.gen_range(0..3);
        o.resize(target + cut - 3, 1);
        o.extend_from_slice(&[3, 3, rng.gen_range(0..20)]);
        o.truncate(target);
        return o;
    }
    while o.len() < target {
        match rng.gen_range(0..16) {
            0..=3 => o.push(1),
            4..=6 => {
                let v = if rng.gen_bool(0.7) {
                    rng.gen_range(0..=16)
                } else {
                    rng.gen()
                };
                o.extend_from_slice(&[3, 3, v]);
            }
            7 => o.extend_from_slice(&[2, 4, rng.gen(), rng.gen()]),
            8 => o.extend_from_slice(&[4, 2]),
            9 => {
                o.extend_from_slice(&[8, 10]);
                for _ in 0..8 {
                    o.push(rng.gen());
                }
            }
            10 => o.push(0), // EOL: the walk stops here
            11 => {
                // window scale with a wrong length (stops the walk when < 2)
                let l = *[0u8, 1, 2, 4, 5].get(rng.gen_range(0..5)).unwrap();
                o.extend_from_slice(&[3, l]);
                for _ in 2..usize::from(l.max(2)) {
                    o.push(rng.gen_range(0..20));
                }
            }
            12 => {
                // unknown option with a length that may run past the end
                let l: u8 = rng.gen_range(2..48);
                o.extend_from_slice(&[rng.gen_range(5..255), l]);
            }
            13 => {
                // a lone kind as the very last byte
                o.push(rng.gen_range(2..255));
            }
            _ => o.push(rng.gen()),
        }
    }
    o.truncate(40);
    while o.len() % 4 != 0 {
        o.push(if rng.gen_bool(0.5) { 0 } else { rng.gen() });
    }
    o
}

/// A well-formed option list made of etherparse elements (MSS, SACK permitted,
/// timestamps, NOPs, one or more window scales).
fn rand_elem_options(rng: &mut ChaCha8Rng) -> Vec<TcpOptionElement> {
    let mut e = Vec::new();
    let mut len = 0;
    loop {
        let (el, l) = match rng.gen_range(0..6) {
            0 => (TcpOptionElement::Noop, 1),
            1 => (TcpOptionElement::MaximumSegmentSize(rng.gen()), 4),
            2 => (TcpOptionElement::SelectiveAcknowledgementPermitted, 2),
            3 => (TcpOptionElement::Timestamp(rng.gen(), rng.gen()), 10),
            _ => (TcpOptionElement::WindowScale(rng.gen_range(0..=20)), 3),
        };
        if len + l > 40 || (len > 0 && rng.gen_bool(0.15)) {
            break;
        }
        len += l;
        e.push(el);
    }
    e
}

/// A good SYN (or SYN-ACK, or for contrast a non-SYN) frame with random options.
fn build_syn(rng: &mut ChaCha8Rng, syn: bool, raw: bool) -> Vec<u8> {
    let mut tcp = TcpHeader::new(rng.gen(), rng.gen(), rng.gen(), rng.gen());
    tcp.acknowledgment_number = rng.gen();
    tcp.syn = syn;
    tcp.ack = rng.gen_bool(0.3);
    tcp.fin = rng.gen_bool(0.05);
    if raw {
        tcp.set_options_raw(&rand_raw_options(rng))
            .expect("raw tcp options");
    } else {
        tcp.set_options(&rand_elem_options(rng))
            .expect("tcp option elements");
    }
    let vlan = rand_vlan(rng);
    let ip_opts = if rng.gen_bool(0.2) {
        rng.gen_range(1..=10) * 4
    } else {
        0
    };
    let mut ip = Ipv4Header::new(0, 64, IpNumber::TCP, rng.gen(), rng.gen()).expect("ipv4 header");
    ip.options = Ipv4Options::try_from(&vec![1u8; ip_opts][..]).expect("ip options");
    let pay = if rng.gen_bool(0.8) {
        0
    } else {
        rng.gen_range(1..200)
    };
    let mut payload = vec![0u8; pay];
    rng.fill(&mut payload[..]);
    let mut frame = write_tcp(rng, vlan, ip, tcp, &payload);
    if frame.len() < 60 {
        frame.resize(60, 0);
    }
    frame
}

/// Cycles stage B may spend on the option walk of a frame: one per option
/// byte plus the final step (SYN frames that pass only).
fn walk_budget(frame: &[u8]) -> usize {
    match PacketHeaders::from_ethernet_slice(frame) {
        Ok(h) => match &h.transport {
            Some(TransportHeader::Tcp(tcp)) if tcp.syn => tcp.options.len() + 1,
            _ => 0,
        },
        Err(_) => 0,
    }
}

fn rand_vlan(rng: &mut ChaCha8Rng) -> Option<u16> {
    if rng.gen_bool(0.3) {
        Some(rng.gen_range(1..4095))
    } else {
        None
    }
}

fn rand_payload_len(rng: &mut ChaCha8Rng) -> usize {
    match rng.gen_range(0..10) {
        0 => 0,
        1..=3 => rng.gen_range(1..64),
        4..=8 => rng.gen_range(64..1461),
        _ => rng.gen_range(1461..9000),
    }
}

fn rand_good(rng: &mut ChaCha8Rng) -> Tcp {
    let vlan = rand_vlan(rng);
    let ip_opts = if rng.gen_bool(0.2) {
        rng.gen_range(1..=10) * 4
    } else {
        0
    };
    let tcp_opts = if rng.gen_bool(0.5) {
        rng.gen_range(1..=10) * 4
    } else {
        0
    };
    let max_pay = 9216 - 18 - 60 - 60;
    let pay = rand_payload_len(rng).min(max_pay);
    build_tcp(rng, vlan, ip_opts, tcp_opts, pay)
}

fn case(what: &'static str, frame: Vec<u8>, reason: u8) -> Case {
    let arp = model_arp(&frame);
    Case {
        what,
        frame,
        reason,
        enable: true,
        deny_after: None,
        model_fields: None,
        arp,
        allocated: Vec::new(),
        denied: false,
    }
}

/// A UDP datagram and where its parts are.
struct Udp {
    frame: Vec<u8>,
    /// Offset of the UDP header.
    l4: usize,
    /// UDP bytes (header + payload).
    p: usize,
}

fn build_udp(rng: &mut ChaCha8Rng, vlan: Option<u16>, ip_opts: usize, payload_len: usize) -> Udp {
    let mut payload = vec![0u8; payload_len];
    rng.fill(&mut payload[..]);
    build_udp_with(rng, vlan, ip_opts, &payload)
}

fn build_udp_with(rng: &mut ChaCha8Rng, vlan: Option<u16>, ip_opts: usize, payload: &[u8]) -> Udp {
    let mut ip = Ipv4Header::new(
        0,
        rng.gen_range(1..=255),
        IpNumber::UDP,
        rng.gen(),
        rng.gen(),
    )
    .expect("ipv4 header");
    ip.identification = rng.gen();
    ip.dont_fragment = rng.gen();
    ip.options = Ipv4Options::try_from(&vec![1u8; ip_opts][..]).expect("ip options");
    let mut frame = Vec::new();
    let eth = PacketBuilder::ethernet2(rng.gen(), rng.gen());
    let ipv4 = IpHeaders::Ipv4(ip, Default::default());
    let (sp, dp) = (rng.gen(), rng.gen());
    match vlan {
        Some(v) => eth
            .single_vlan(VlanId::try_new(v).expect("vlan id"))
            .ip(ipv4)
            .udp(sp, dp)
            .write(&mut frame, payload),
        None => eth.ip(ipv4).udp(sp, dp).write(&mut frame, payload),
    }
    .expect("write frame");
    let l3 = if vlan.is_some() { 18 } else { 14 };
    Udp {
        frame,
        l4: l3 + 20 + ip_opts,
        p: 8 + payload.len(),
    }
}

fn rand_udp(rng: &mut ChaCha8Rng) -> Udp {
    let vlan = rand_vlan(rng);
    let ip_opts = if rng.gen_bool(0.2) {
        rng.gen_range(1..=10) * 4
    } else {
        0
    };
    let pay = rand_payload_len(rng).min(9216 - 18 - 60 - 8);
    build_udp(rng, vlan, ip_opts, pay)
}

/// Ethernet padding up to 60 bytes (and sometimes more).
fn pad(rng: &mut ChaCha8Rng, f: &mut Vec<u8>) {
    let n = if f.len() < 60 {
        60 - f.len()
    } else if rng.gen_bool(0.3) {
        rng.gen_range(1..40)
    } else {
        0
    };
    for _ in 0..n {
        f.push(rng.gen());
    }
}

/// An ARP packet (etherparse) with the given fields in an Ethernet frame,
/// maybe tagged; returns the frame and, when it is a request of the form
/// docs/rx-paths.md recognises, the record rx_parser must report.
fn build_arp(
    rng: &mut ChaCha8Rng,
    vlan: Option<u16>,
    htype: u16,
    ptype: EtherType,
    oper: u16,
    hlen: usize,
    plen: usize,
) -> (Vec<u8>, Option<Arp>) {
    let sha: Vec<u8> = (0..hlen).map(|_| rng.gen()).collect();
    let tha: Vec<u8> = (0..hlen).map(|_| rng.gen()).collect();
    let spa: Vec<u8> = (0..plen).map(|_| rng.gen()).collect();
    let tpa: Vec<u8> = (0..plen).map(|_| rng.gen()).collect();
    let arp = ArpPacket::new(
        ArpHardwareId(htype),
        ptype,
        ArpOperation(oper),
        &sha,
        &spa,
        &tha,
        &tpa,
    )
    .expect("arp packet");
    let eth = PacketBuilder::ethernet2(rng.gen(), [0xFF; 6]);
    let mut f = Vec::new();
    match vlan {
        Some(v) => eth
            .single_vlan(VlanId::try_new(v).expect("vlan id"))
            .arp(arp)
            .write(&mut f),
        None => eth.arp(arp).write(&mut f),
    }
    .expect("write arp");
    let req = htype == 1 && ptype == EtherType::IPV4 && oper == 1 && hlen == 6 && plen == 4;
    let want = req.then(|| {
        let mut b = [0u8; 8];
        b[..6].copy_from_slice(&sha);
        Arp {
            sha: u64::from_le_bytes(b),
            spa: u64::from(u32::from_be_bytes([spa[0], spa[1], spa[2], spa[3]])),
            tpa: u64::from(u32::from_be_bytes([tpa[0], tpa[1], tpa[2], tpa[3]])),
            vlan: u64::from(vlan.unwrap_or(0)),
        }
    });
    (f, want)
}

/// An ARP case: the expected record is the test's own, and the model must agree.
fn arp_case(what: &'static str, frame: Vec<u8>, want: Option<Arp>) -> Case {
    let c = case(what, frame, NOT_IPV4);
    assert_eq!(c.arp, want, "{what}: model's ARP record vs the test's");
    c
}

/// A UDP or other-protocol case (rx-paths.md "UDP").
fn make_udp_case(rng: &mut ChaCha8Rng, kind: u32) -> Case {
    match kind {
        0 | 1 => {
            let mut u = rand_udp(rng);
            pad(rng, &mut u.frame);
            case("udp", u.frame, NONE)
        }
        2 => {
            // checksum field 0: no checksum, even with a damaged payload
            let mut u = rand_udp(rng);
            u.frame[u.l4 + 6] = 0;
            u.frame[u.l4 + 7] = 0;
            if u.p > 8 {
                let i = rng.gen_range(u.l4 + 8..u.l4 + u.p);
                u.frame[i] ^= 1 << rng.gen_range(0..8);
            }
            pad(rng, &mut u.frame);
            case("udp no checksum", u.frame, NONE)
        }
        3 => {
            // one bit of the ports or the payload
            let mut u = rand_udp(rng);
            let i = if u.p > 8 && rng.gen_bool(0.7) {
                rng.gen_range(u.l4 + 8..u.l4 + u.p)
            } else {
                u.l4 + rng.gen_range(0..4)
            };
            u.frame[i] ^= 1 << rng.gen_range(0..8);
            pad(rng, &mut u.frame);
            case("udp bad checksum", u.frame, BAD_L4_CSUM)
        }
        4 => {
            // UDP length field != p (shorter or longer than the IP payload)
            let mut u = rand_udp(rng);
            let len = loop {
                let l: u16 = if rng.gen() {
                    rng.gen_range(0..(u.p as u16).saturating_add(20))
                } else {
                    rng.gen()
                };
                if usize::from(l) != u.p {
                    break l;
                }
            };
            u.frame[u.l4 + 4..u.l4 + 6].copy_from_slice(&len.to_be_bytes());
            pad(rng, &mut u.frame);
            case("udp bad length", u.frame, BAD_L4_HDR)
        }
        5 => {
            // IPv4 payload shorter than a UDP header
            let mut u = rand_udp(rng);
            let l3 = if u.frame[12] == 0x81 { 18 } else { 14 };
            let ihl4 = u.l4 - l3;
            let tot = (ihl4 + rng.gen_range(0..8)) as u16;
            u.frame[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            fix_ip_csum(&mut u.frame, l3);
            case("udp < 8 bytes", u.frame, TRUNCATED)
        }
        6 => {
            // IPv4 payload longer than the UDP length (bytes inside the IP total length)
            let u = rand_udp(rng);
            let mut f = u.frame;
            let l3 = if f[12] == 0x81 { 18 } else { 14 };
            let extra = rng.gen_range(1..20);
            for _ in 0..extra {
                f.push(rng.gen());
            }
            let tot = (u.l4 - l3 + u.p + extra) as u16;
            f[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            fix_ip_csum(&mut f, l3);
            case("udp shorter than ip payload", f, BAD_L4_HDR)
        }
        7 => {
            // a protocol other than TCP and UDP
            let mut u = rand_udp(rng);
            let l3 = if u.frame[12] == 0x81 { 18 } else { 14 };
            u.frame[l3 + 9] = loop {
                let p: u8 = rng.gen();
                if p != 6 && p != 17 {
                    break p;
                }
            };
            fix_ip_csum(&mut u.frame, l3);
            pad(rng, &mut u.frame);
            case("other protocol", u.frame, NO_SOCKET)
        }
        _ => {
            let mut f = Vec::new();
            PacketBuilder::ethernet2(rng.gen(), rng.gen())
                .ipv4(rng.gen(), rng.gen(), 64)
                .icmpv4_echo_request(rng.gen(), rng.gen())
                .write(&mut f, &[7u8; 20])
                .expect("icmp");
            case("icmp", f, NO_SOCKET)
        }
    }
}

/// An ARP case: requests (tagged or not, padded or not), replies, malformed
/// packets and requests one byte short.
fn make_arp_case(rng: &mut ChaCha8Rng) -> Case {
    let vlan = rand_vlan(rng);
    match rng.gen_range(0..10) {
        0..=3 => {
            let (mut f, want) = build_arp(rng, vlan, 1, EtherType::IPV4, 1, 6, 4);
            if rng.gen() {
                pad(rng, &mut f);
            }
            arp_case("arp request", f, want)
        }
        4 => {
            let (mut f, want) = build_arp(rng, vlan, 1, EtherType::IPV4, 2, 6, 4);
            pad(rng, &mut f);
            arp_case("arp reply", f, want)
        }
        5 => {
            let (f, _) = build_arp(rng, vlan, 1, EtherType::IPV4, 1, 6, 4);
            let n = f.len() - 1;
            arp_case("arp request short", f[..n].to_vec(), None)
        }
        6 => {
            let htype = *[0u16, 6, 0x0100, 0x8001].get(rng.gen_range(0..4)).unwrap();
            let (mut f, want) = build_arp(rng, vlan, htype, EtherType::IPV4, 1, 6, 4);
            pad(rng, &mut f);
            arp_case("arp bad htype", f, want)
        }
        7 => {
            let (mut f, want) = build_arp(rng, vlan, 1, EtherType::IPV6, 1, 6, 4);
            pad(rng, &mut f);
            arp_case("arp bad ptype", f, want)
        }
        8 => {
            let (hlen, plen) = *[(5, 4), (8, 4), (6, 16), (6, 3)]
                .get(rng.gen_range(0..4))
                .unwrap();
            let (mut f, want) = build_arp(rng, vlan, 1, EtherType::IPV4, 1, hlen, plen);
            pad(rng, &mut f);
            arp_case("arp bad hlen/plen", f, want)
        }
        _ => {
            let oper = *[0u16, 3, 0x0101, 0x8001].get(rng.gen_range(0..4)).unwrap();
            let (mut f, want) = build_arp(rng, vlan, 1, EtherType::IPV4, oper, 6, 4);
            pad(rng, &mut f);
            arp_case("arp bad oper", f, want)
        }
    }
}

fn make_case(rng: &mut ChaCha8Rng) -> Case {
    let kind = rng.gen_range(0..60);
    match kind {
        46..=54 => make_udp_case(rng, kind - 46),
        55..=59 => make_arp_case(rng),
        // good frames (about half), sometimes padded
        0..=19 => {
            let mut t = rand_good(rng);
            if rng.gen_bool(0.3) || t.frame.len() < 60 {
                let pad = if t.frame.len() < 60 {
                    60 - t.frame.len()
                } else {
                    rng.gen_range(1..40)
                };
                let mut p = vec![0u8; pad];
                rng.fill(&mut p[..]);
                t.frame.extend_from_slice(&p);
            }
            case("good", t.frame, NONE)
        }
        20 => {
            let mut t = rand_good(rng);
            let i = t.l3 + 11;
            t.frame[i] ^= 1 << rng.gen_range(0..8);
            case("bad ip csum", t.frame, BAD_IP_CSUM)
        }
        21 => {
            let mut t = rand_good(rng);
            let l4 = t.l3 + t.ihl4;
            let end = t.l3 + t.ihl4 + t.tcp_len;
            // a payload byte or the checksum field, one bit
            let i = if end > l4 + 20 && rng.gen_bool(0.7) {
                rng.gen_range(l4 + 20..end)
            } else {
                l4 + 16 + rng.gen_range(0..2)
            };
            t.frame[i] ^= 1 << rng.gen_range(0..8);
            case("bad tcp csum", t.frame, BAD_L4_CSUM)
        }
        22 | 23 => {
            let t = rand_good(rng);
            let mut f = t.frame;
            let vlan = t.l3 == 18;
            let n = if rng.gen_bool(0.2) {
                rng.gen_range(1..14)
            } else {
                rng.gen_range(14..f.len())
            };
            f.truncate(n);
            let r = if n < 14 {
                TRUNCATED
            } else if vlan && n < 18 {
                NOT_IPV4 // the inner EtherType is missing: reads as 0
            } else {
                TRUNCATED
            };
            case("truncated", f, r)
        }
        24 => {
            // ARP request, maybe tagged
            let mut f = vec![0xFFu8; 6];
            let mut src = [0u8; 6];
            rng.fill(&mut src);
            f.extend_from_slice(&src);
            if rng.gen_bool(0.3) {
                f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
            }
            f.extend_from_slice(&[0x08, 0x06]);
            let mut arp = vec![0u8; 28];
            rng.fill(&mut arp[..]);
            f.extend_from_slice(&arp);
            f.resize(f.len().max(60), 0);
            case("arp", f, NOT_IPV4)
        }
        25 => {
            let mut f = Vec::new();
            PacketBuilder::ethernet2(rng.gen(), rng.gen())
                .ipv6(rng.gen(), rng.gen(), 64)
                .tcp(rng.gen(), rng.gen(), rng.gen(), rng.gen())
                .write(&mut f, &[1, 2, 3, 4])
                .expect("ipv6");
            case("ipv6", f, NOT_IPV4)
        }
        26 => {
            let mut t = rand_good(rng);
            let l3 = t.l3;
            t.frame[l3] = 0x40 | rng.gen_range(0..5);
            case("ihl < 5", t.frame, BAD_IP_HDR)
        }
        27 => {
            let mut t = rand_good(rng);
            let l3 = t.l3;
            let ihl = t.frame[l3] & 0x0F;
            t.frame[l3] = (rng.gen_range(5..16) << 4) | ihl;
            fix_ip_csum(&mut t.frame, l3);
            case("ip version", t.frame, BAD_IP_HDR)
        }
        28 => {
            let mut t = rand_good(rng);
            let l3 = t.l3;
            let tot = rng.gen_range(0..t.ihl4) as u16;
            t.frame[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            fix_ip_csum(&mut t.frame, l3);
            case("total length < ihl", t.frame, BAD_IP_HDR)
        }
        29 => {
            let mut t = rand_good(rng);
            let l3 = t.l3;
            let tot = (t.ihl4 + t.tcp_len + rng.gen_range(1..100)) as u16;
            t.frame[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            fix_ip_csum(&mut t.frame, l3);
            case("total length > frame", t.frame, TRUNCATED)
        }
        30 | 31 => {
            let mut t = rand_good(rng);
            let l3 = t.l3;
            if rng.gen() {
                t.frame[l3 + 6] |= 0x20; // MF
            } else {
                let off: u16 = rng.gen_range(1..0x2000);
                t.frame[l3 + 6] = (t.frame[l3 + 6] & 0xE0) | (off >> 8) as u8;
                t.frame[l3 + 7] = off as u8;
            }
            if rng.gen() {
                fix_ip_csum(&mut t.frame, l3);
            }
            case("fragment", t.frame, BAD_IP_HDR)
        }
        32 => {
            let mut f = Vec::new();
            let eth = PacketBuilder::ethernet2(rng.gen(), rng.gen());
            let n = rng.gen_range(0..300);
            let p = vec![0x5Au8; n];
            if rng.gen() {
                eth.ipv4(rng.gen(), rng.gen(), 64)
                    .udp(rng.gen(), rng.gen())
                    .write(&mut f, &p)
            } else {
                eth.single_vlan(VlanId::try_new(7).expect("vlan"))
                    .ipv4(rng.gen(), rng.gen(), 64)
                    .udp(rng.gen(), rng.gen())
                    .write(&mut f, &p)
            }
            .expect("udp");
            case("udp (etherparse)", f, NONE)
        }
        33 => {
            // IPv4 total length leaves less than 20 bytes of TCP
            let mut t = rand_good(rng);
            let l3 = t.l3;
            let tot = (t.ihl4 + rng.gen_range(0..20)) as u16;
            t.frame[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            fix_ip_csum(&mut t.frame, l3);
            case("tcp < 20 bytes", t.frame, TRUNCATED)
        }
        34 => {
            let mut t = rand_good(rng);
            let l4 = t.l3 + t.ihl4;
            t.frame[l4 + 12] = (rng.gen_range(0..5) << 4) | (t.frame[l4 + 12] & 0x0F);
            case("data offset < 5", t.frame, BAD_L4_HDR)
        }
        35 => {
            let vlan = rand_vlan(rng);
            let pay = rng.gen_range(0..30);
            let mut t = build_tcp(rng, vlan, 0, 0, pay);
            let l4 = t.l3 + t.ihl4;
            let min_doff = t.tcp_len / 4 + 1;
            t.frame[l4 + 12] = (rng.gen_range(min_doff..16) << 4) as u8;
            case("data offset > segment", t.frame, BAD_L4_HDR)
        }
        36 => {
            // good frame of exactly MAX_FRAME bytes or longer than MAX_FRAME
            let vlan = rand_vlan(rng);
            let exact = rng.gen();
            let hdr = if vlan.is_some() { 18 } else { 14 } + 40;
            let pay = if exact {
                9216 - hdr
            } else {
                9217 - hdr + rng.gen_range(0..100)
            };
            let t = build_tcp(rng, vlan, 0, 0, pay);
            if exact {
                assert_eq!(t.frame.len(), 9216);
                case("max frame", t.frame, NONE)
            } else {
                case("too long", t.frame, TOO_LONG)
            }
        }
        37 => {
            // short but otherwise fine: proto 6 with 20 bytes of TCP and no payload
            let vlan = rand_vlan(rng);
            let t = build_tcp(rng, vlan, 0, 0, 0);
            case("good minimal", t.frame, NONE)
        }
        38 => {
            // random bytes behind a plausible Ethernet/IPv4 start whose total
            // length runs past the end of the frame
            let n = rng.gen_range(34..200);
            let mut f = vec![0u8; n];
            rng.fill(&mut f[..]);
            f[12] = 0x08;
            f[13] = 0x00;
            f[14] = 0x45;
            let tot = (n - 14 + rng.gen_range(1..50)) as u16;
            f[16..18].copy_from_slice(&tot.to_be_bytes());
            case("garbage", f, TRUNCATED)
        }
        40..=42 => case("syn raw options", build_syn(rng, true, true), NONE),
        43 | 44 => case("syn option elements", build_syn(rng, true, false), NONE),
        45 => {
            // options with window scale on a segment without SYN: not reported
            let raw = rng.gen();
            case("no syn, options", build_syn(rng, false, raw), NONE)
        }
        _ => {
            let mut t = rand_good(rng);
            // bad IP checksum wins over a TCP problem
            let l3 = t.l3;
            let l4 = l3 + t.ihl4;
            t.frame[l4 + 17] ^= 1;
            t.frame[l3 + 10] ^= 0x10;
            case("bad ip + tcp csum", t.frame, BAD_IP_CSUM)
        }
    }
}

struct Run {
    frames: usize,
    idle_p: f64,
    stall_p: f64,
    deny_p: f64,
    disable_p: f64,
}

fn low_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Runs the cases through the model.
fn run(prefix: &str, kw: usize, bb: usize, seed: u64, cfg: &Run, mut cases: Vec<Case>) -> Stats {
    let mut m = Model::new(prefix).expect("model");
    let p = ports::RxParser::bind(&m).expect("ports");
    assert_eq!(p.s_axis_rx_tdata.width() as usize, kw * 8);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    // Input: the frames as words (garbage beyond tkeep, `enable` as sideband) with random idle
    // cycles (garbage on every input field while not valid); metadata: random backpressure.
    let in_bus = AxisBus::new(p.s_axis_rx_tvalid)
        .tready(p.s_axis_rx_tready)
        .tdata(p.s_axis_rx_tdata)
        .tkeep(p.s_axis_rx_tkeep)
        .tlast(p.s_axis_rx_tlast)
        .sideband("enable", p.enable);
    let mut src = AxisSource::new(&m, in_bus, cfg.idle_p, seed ^ 0x1d1e)
        .expect("source")
        .garbage_when_idle(true);
    let meta_bus = AxisBus::new(p.m_meta_valid).tready(p.m_meta_ready);
    let mut meta = AxisSink::new(&m, meta_bus, cfg.stall_p, seed ^ 0x57a1).expect("sink");
    let mut word = vec![0u8; kw];
    for c in &cases {
        let nw = c.frame.len().div_ceil(kw);
        for wi in 0..nw {
            let s = wi * kw;
            let e = (s + kw).min(c.frame.len());
            rng.fill(&mut word[..]); // garbage beyond tkeep
            word[..e - s].copy_from_slice(&c.frame[s..e]);
            src.send_beat(
                Beat::new(word.clone(), low_mask(e - s), wi + 1 == nw)
                    .with_sideband(vec![u64::from(c.enable)]),
            );
        }
    }
    m.set(p.rst, 1);
    for _ in 0..3 {
        m.tick(p.clk);
    }
    m.set(p.rst, 0);

    let mut free: Vec<u64> = (0..NUM_BUFLETS as u64).collect();
    let mut links: HashMap<u64, u64> = HashMap::new();
    let mut ram: Vec<u8> = vec![0; NUM_BUFLETS * bb];
    let mut expect: VecDeque<usize> = VecDeque::new();
    let mut fi = 0usize; // frame being sent
    let mut done = 0usize;
    let n_enabled = cases.iter().filter(|c| c.enable).count();
    let mut wdata = vec![0u8; kw];
    let mut cycles = 0u64;
    let mut by_reason: HashMap<u8, usize> = HashMap::new();
    let mut ws_seen = 0usize;
    let mut arp_seen = 0usize;
    let mut udp_seen = 0usize;

    while done < n_enabled || fi < cases.len() {
        cycles += 1;
        assert!(cycles < 2_000_000, "{prefix}: timeout");
        // --- input word
        src.drive(&mut m);
        // --- pool
        let deny = fi < cases.len()
            && cases[fi]
                .deny_after
                .is_some_and(|k| cases[fi].allocated.len() >= k);
        let pick = if free.is_empty() {
            None
        } else {
            Some(rng.gen_range(0..free.len()))
        };
        let avail = pick.is_some() && !deny;
        m.set(p.alloc_valid, u64::from(avail));
        m.set(p.alloc_idx, pick.map_or(rng.gen(), |i| free[i]));
        meta.drive(&mut m);
        m.eval();

        // --- observe this edge
        let taken = src.sample(&m);
        let xfer = taken.is_some();
        let last = taken.is_some_and(|b| b.last);
        if m.get(p.alloc_req) == 1 {
            assert!(xfer, "{prefix}: alloc_req without a transfer");
            assert!(cases[fi].enable, "{prefix}: alloc_req in a disabled frame");
            if avail {
                let idx = free.swap_remove(pick.expect("pick"));
                cases[fi].allocated.push(idx);
                links.remove(&idx);
            } else {
                cases[fi].denied = true;
            }
        }
        if m.get(p.link_wr_en) == 1 {
            let idx = m.get(p.link_wr_idx);
            assert!(
                !free.contains(&idx),
                "{prefix}: link write to free buflet {idx}"
            );
            links.insert(idx, m.get(p.link_wr_next));
        }
        if m.get(p.ram_wr_en) == 1 {
            let a = m.get(p.ram_wr_addr) as usize;
            let b = (a * kw) / bb;
            assert!(
                !free.contains(&(b as u64)),
                "{prefix}: RAM write to free buflet {b}"
            );
            m.get_bytes(p.ram_wr_data, &mut wdata);
            ram[a * kw..a * kw + kw].copy_from_slice(&wdata);
        }
        if meta.sample(&m).is_some() {
            let ci = expect.pop_front().expect("metadata without a frame");
            let c = &cases[ci];
            let ctx = format!("{prefix}: frame {ci} ({}, {} bytes)", c.what, c.frame.len());
            let want_reason = if c.reason != NONE {
                c.reason
            } else if c.denied {
                NO_BUFLET
            } else {
                NONE
            };
            assert_eq!(m.get(p.m_meta_reason) as u8, want_reason, "{ctx}: reason");
            *by_reason.entry(want_reason).or_default() += 1;
            assert_eq!(
                m.get(p.m_meta_len),
                c.frame.len().min(65535) as u64,
                "{ctx}: len"
            );
            if want_reason == NONE {
                let f = match &c.model_fields {
                    Some(f) => f.clone(),
                    None => oracle(&c.frame),
                };
                let got = Fields {
                    vlan: m.get(p.m_meta_vlan),
                    src_ip: m.get(p.m_meta_src_ip),
                    dst_ip: m.get(p.m_meta_dst_ip),
                    src_port: m.get(p.m_meta_src_port),
                    dst_port: m.get(p.m_meta_dst_port),
                    seq: m.get(p.m_meta_seq),
                    flags: m.get(p.m_meta_flags),
                    pay_off: m.get(p.m_meta_pay_off),
                    pay_len: m.get(p.m_meta_pay_len),
                    ack: m.get(p.m_meta_ack),
                    ws_valid: m.get(p.m_meta_ws_valid),
                    ws: m.get(p.m_meta_ws),
                    udp: m.get(p.m_meta_udp),
                };
                assert_eq!(got, f, "{ctx}: fields");
                ws_seen += f.ws_valid as usize;
            } else {
                assert_eq!(m.get(p.m_meta_udp), 0, "{ctx}: UDP flag of a failed frame");
            }
            // ARP request record (reason NOT_IPV4, buflets or not)
            let arp = (m.get(p.m_meta_arp_req) == 1).then(|| Arp {
                sha: m.get(p.m_meta_arp_sha),
                spa: m.get(p.m_meta_src_ip),
                tpa: m.get(p.m_meta_dst_ip),
                vlan: m.get(p.m_meta_vlan),
            });
            assert_eq!(arp, c.arp, "{ctx}: ARP request");
            arp_seen += usize::from(arp.is_some());
            udp_seen += m.get(p.m_meta_udp) as usize;
            // chain
            let need = c.frame.len().div_ceil(bb);
            if !c.denied {
                assert_eq!(c.allocated.len(), need, "{ctx}: buflets allocated");
            }
            let count = m.get(p.m_meta_count) as usize;
            assert_eq!(count, c.allocated.len(), "{ctx}: count");
            if count == 0 {
                assert_eq!(m.get(p.m_meta_head), NULL, "{ctx}: head of empty chain");
                assert_eq!(m.get(p.m_meta_tail), NULL, "{ctx}: tail of empty chain");
            } else {
                assert_eq!(m.get(p.m_meta_head), c.allocated[0], "{ctx}: head");
                assert_eq!(
                    m.get(p.m_meta_tail),
                    *c.allocated.last().unwrap(),
                    "{ctx}: tail"
                );
                let mut b = c.allocated[0];
                for k in 1..count {
                    let n = *links
                        .get(&b)
                        .unwrap_or_else(|| panic!("{ctx}: no link at {b}"));
                    assert_eq!(n, c.allocated[k], "{ctx}: link {k}");
                    b = n;
                }
                assert_eq!(links.get(&b), Some(&NULL), "{ctx}: tail link is null");
                // stored bytes
                let stored = c.frame.len().min(count * bb);
                for (k, &byte) in c.frame[..stored].iter().enumerate() {
                    let bi = c.allocated[k / bb] as usize;
                    assert_eq!(ram[bi * bb + k % bb], byte, "{ctx}: stored byte {k}");
                }
            }
            // the "engine" frees the chain
            for &b in &c.allocated {
                links.remove(&b);
                free.push(b);
            }
            done += 1;
        }
        if last {
            if cases[fi].enable {
                expect.push_back(fi);
            } else {
                assert!(cases[fi].allocated.is_empty());
            }
            fi += 1;
        }
        m.tick(p.clk);
    }
    // nothing else comes out
    m.set(p.s_axis_rx_tvalid, 0);
    m.set(p.m_meta_ready, 1);
    for _ in 0..4 {
        m.eval();
        assert_eq!(m.get(p.m_meta_valid), 0, "{prefix}: spurious metadata");
        m.tick(p.clk);
    }
    assert_eq!(free.len(), NUM_BUFLETS, "{prefix}: every buflet back");
    eprintln!(
        "{prefix}: {cycles} cycles, reasons {by_reason:?}, {ws_seen} window scales, \
         {udp_seen} UDP datagrams, {arp_seen} ARP requests"
    );
    Stats {
        cycles,
        ws_seen,
        udp_seen,
        arp_seen,
    }
}

/// What a run saw.
struct Stats {
    cycles: u64,
    /// Passing frames whose expected WS_VALID was 1.
    ws_seen: usize,
    /// Records with `m_meta_udp` set.
    udp_seen: usize,
    /// Records with `m_meta_arp_req` set.
    arp_seen: usize,
}

fn gen_cases(seed: u64, cfg: &Run) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..cfg.frames)
        .map(|_| {
            let mut c = make_case(&mut rng);
            c.enable = !rng.gen_bool(cfg.disable_p);
            if rng.gen_bool(cfg.deny_p) {
                let need = c.frame.len().div_ceil(256);
                c.deny_after = Some(rng.gen_range(0..need.max(1)));
            }
            c
        })
        .collect()
}

fn random_run(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let cfg = Run {
        frames: 300,
        idle_p: 0.2,
        stall_p: 0.4,
        deny_p: 0.1,
        disable_p: 0.05,
    };
    let cases = gen_cases(seed, &cfg);
    let syn_cases = cases.iter().filter(|c| c.what.starts_with("syn ")).count();
    let st = run(prefix, kw, bb, seed, &cfg, cases);
    assert!(syn_cases > 10, "{prefix}: {syn_cases} SYN option cases");
    assert!(st.ws_seen > 5, "{prefix}: {} window scales", st.ws_seen);
    assert!(st.udp_seen > 5, "{prefix}: {} UDP datagrams", st.udp_seen);
    assert!(st.arp_seen > 2, "{prefix}: {} ARP requests", st.arp_seen);
}

/// UDP, other-protocol and ARP cases only (every kind of make_udp_case in
/// turn, then ARP cases), with idle cycles, metadata backpressure, refused
/// allocations and disabled frames.
fn udp_arp_run(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    for i in 0..270u32 {
        let mut c = if i < 180 {
            make_udp_case(&mut rng, i % 9)
        } else {
            make_arp_case(&mut rng)
        };
        c.enable = !rng.gen_bool(0.03);
        if rng.gen_bool(0.1) {
            let need = c.frame.len().div_ceil(bb);
            c.deny_after = Some(rng.gen_range(0..need.max(1)));
        }
        cases.push(c);
    }
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for c in &cases {
        *kinds.entry(c.what).or_default() += 1;
    }
    let want_arp = cases.iter().filter(|c| c.enable && c.arp.is_some()).count();
    let cfg = Run {
        frames: cases.len(),
        idle_p: 0.2,
        stall_p: 0.3,
        deny_p: 0.0,
        disable_p: 0.0,
    };
    let st = run(prefix, kw, bb, seed, &cfg, cases);
    assert_eq!(st.arp_seen, want_arp, "{prefix}: ARP requests");
    assert!(want_arp > 20, "{prefix}: {want_arp} ARP requests");
    assert!(st.udp_seen > 40, "{prefix}: {} UDP datagrams", st.udp_seen);
    for k in [
        "udp",
        "udp no checksum",
        "udp bad checksum",
        "udp bad length",
        "udp < 8 bytes",
        "udp shorter than ip payload",
        "other protocol",
        "icmp",
        "arp request",
        "arp reply",
        "arp request short",
        "arp bad htype",
        "arp bad ptype",
        "arp bad hlen/plen",
        "arp bad oper",
    ] {
        assert!(
            kinds.get(k).is_some_and(|&n| n > 0),
            "{prefix}: no {k} case"
        );
    }
}

#[test]
fn rx_parser_w64_udp_arp() {
    udp_arp_run("rx_parser_w64", 8, 256, 25);
}

#[test]
fn rx_parser_w512_udp_arp() {
    udp_arp_run("rx_parser_w512", 64, 512, 26);
}

/// Back-to-back frames, metadata always accepted: one word per cycle, plus at
/// most the option walk of each SYN frame.
fn full_rate(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let cfg = Run {
        frames: 200,
        idle_p: 0.0,
        stall_p: 0.0,
        deny_p: 0.0,
        disable_p: 0.0,
    };
    let cases = gen_cases(seed, &cfg);
    let words: usize = cases.iter().map(|c| c.frame.len().div_ceil(kw)).sum();
    let walks: usize = cases
        .iter()
        .filter(|c| c.reason == NONE)
        .map(|c| walk_budget(&c.frame))
        .sum();
    let cycles = run(prefix, kw, bb, seed, &cfg, cases).cycles;
    assert!(
        cycles as usize <= words + walks + 8,
        "{prefix}: {cycles} cycles for {words} words and {walks} walk steps"
    );
}

/// Frames without SYN never wait for an option walk: exactly one word per cycle.
fn full_rate_no_syn(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    while cases.len() < 200 {
        let c = make_case(&mut rng);
        if walk_budget(&c.frame) == 0 {
            cases.push(c);
        }
    }
    let cfg = Run {
        frames: cases.len(),
        idle_p: 0.0,
        stall_p: 0.0,
        deny_p: 0.0,
        disable_p: 0.0,
    };
    let words: usize = cases.iter().map(|c| c.frame.len().div_ceil(kw)).sum();
    let cycles = run(prefix, kw, bb, seed, &cfg, cases).cycles;
    assert!(
        cycles as usize <= words + 8,
        "{prefix}: {cycles} cycles for {words} words"
    );
}

/// Back-to-back SYNs whose 40 option bytes are all NOPs (the longest walk;
/// every third one with a window scale at the end), each followed by a short
/// frame: every record still comes out, in order, and the stall is bounded
/// by the walk.
fn syn_walks_back_to_back(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    for i in 0..60 {
        let mut tcp = TcpHeader::new(rng.gen(), rng.gen(), rng.gen(), rng.gen());
        tcp.syn = true;
        let mut o = vec![1u8; 40];
        if i % 3 == 1 {
            o[36..39].copy_from_slice(&[3, 3, rng.gen_range(0..=20)]);
        }
        tcp.set_options_raw(&o).expect("options");
        let mut f = Vec::new();
        PacketBuilder::ethernet2(rng.gen(), rng.gen())
            .ipv4(rng.gen(), rng.gen(), 64)
            .tcp_header(tcp)
            .write(&mut f, &[])
            .expect("syn");
        cases.push(case("syn 40 nops", f, NONE));
        let t = build_tcp(&mut rng, None, 0, 0, 0);
        let mut f = t.frame;
        f.resize(60, 0);
        cases.push(case("short after syn", f, NONE));
    }
    let cfg = Run {
        frames: cases.len(),
        idle_p: 0.0,
        stall_p: 0.0,
        deny_p: 0.0,
        disable_p: 0.0,
    };
    let words: usize = cases.iter().map(|c| c.frame.len().div_ceil(kw)).sum();
    let walks: usize = cases.iter().map(|c| walk_budget(&c.frame)).sum();
    let st = run(prefix, kw, bb, seed, &cfg, cases);
    assert_eq!(st.ws_seen, 20, "{prefix}: window scales");
    assert!(
        st.cycles as usize <= words + walks + 8,
        "{prefix}: {} cycles for {words} words and {walks} walk steps",
        st.cycles
    );
}

/// Frames with random damage in their first 100 bytes (and random cuts), the
/// expected reason and fields taken from the Rust model's parser: the RTL and
/// the model must agree on every frame.
fn fuzz_vs_model(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    let mut udp = 0usize;
    for _ in 0..400 {
        let vlan = rand_vlan(&mut rng);
        let ip_opts = if rng.gen_bool(0.3) {
            rng.gen_range(1..=10) * 4
        } else {
            0
        };
        let tcp_opts = if rng.gen_bool(0.3) {
            rng.gen_range(1..=10) * 4
        } else {
            0
        };
        let pay = rng.gen_range(0..300);
        let mut f = match rng.gen_range(0..10) {
            0..=2 => {
                let raw = rng.gen();
                build_syn(&mut rng, true, raw)
            }
            3 | 4 => {
                let mut u = build_udp(&mut rng, vlan, ip_opts, pay);
                if rng.gen_bool(0.2) {
                    u.frame[u.l4 + 6] = 0;
                    u.frame[u.l4 + 7] = 0;
                }
                u.frame
            }
            5 => build_arp(&mut rng, vlan, 1, EtherType::IPV4, 1, 6, 4).0,
            _ => build_tcp(&mut rng, vlan, ip_opts, tcp_opts, pay).frame,
        };
        for _ in 0..rng.gen_range(0..4) {
            let i = rng.gen_range(0..f.len().min(100));
            if rng.gen() {
                f[i] ^= 1 << rng.gen_range(0..8);
            } else {
                f[i] = rng.gen();
            }
        }
        match rng.gen_range(0..6) {
            0 => f.truncate(rng.gen_range(1..=f.len())),
            1 => {
                let n = rng.gen_range(1..30);
                f.resize(f.len() + n, 0xA5);
            }
            _ => {}
        }
        let p = buflet_model::parse::parse(&f);
        let (ack, ws_valid, ws) = (u64::from(p.ack), u64::from(p.ws_valid), u64::from(p.ws));
        if p.reason == NONE && !p.udp {
            // the model's ACK and window scale agree with etherparse and the test's walk
            assert_eq!(tcp_extra(&f), (ack, ws_valid, ws), "model vs etherparse");
        }
        let mut c = case("fuzz", f, p.reason);
        if p.reason == NONE {
            c.model_fields = Some(Fields {
                vlan: u64::from(p.vlan),
                src_ip: u64::from(p.src_ip),
                dst_ip: u64::from(p.dst_ip),
                src_port: u64::from(p.src_port),
                dst_port: u64::from(p.dst_port),
                seq: u64::from(p.seq),
                flags: u64::from(p.flags),
                pay_off: u64::from(p.pay_off),
                pay_len: u64::from(p.pay_len),
                ack,
                ws_valid,
                ws,
                udp: u64::from(p.udp),
            });
        }
        udp += usize::from(p.udp);
        cases.push(c);
    }
    let cfg = Run {
        frames: cases.len(),
        idle_p: 0.1,
        stall_p: 0.2,
        deny_p: 0.0,
        disable_p: 0.0,
    };
    let arp = cases.iter().filter(|c| c.arp.is_some()).count();
    let st = run(prefix, kw, bb, seed, &cfg, cases);
    assert!(st.ws_seen > 0, "{prefix}: no window scale in the fuzz");
    assert_eq!(st.udp_seen, udp, "{prefix}: UDP datagrams");
    assert_eq!(st.arp_seen, arp, "{prefix}: ARP requests");
    assert!(
        udp > 20 && arp > 10,
        "{prefix}: fuzz mix: {udp} UDP, {arp} ARP"
    );
}

#[test]
fn rx_parser_w64_fuzz_vs_model() {
    fuzz_vs_model("rx_parser_w64", 8, 256, 21);
}

#[test]
fn rx_parser_w512_fuzz_vs_model() {
    fuzz_vs_model("rx_parser_w512", 64, 512, 22);
}

#[test]
fn rx_parser_w64_random() {
    random_run("rx_parser_w64", 8, 256, 11);
}

#[test]
fn rx_parser_w512_random() {
    random_run("rx_parser_w512", 64, 512, 12);
}

#[test]
fn rx_parser_w64_full_rate() {
    full_rate("rx_parser_w64", 8, 256, 13);
}

#[test]
fn rx_parser_w512_full_rate() {
    full_rate("rx_parser_w512", 64, 512, 14);
}

#[test]
fn rx_parser_w64_full_rate_no_syn() {
    full_rate_no_syn("rx_parser_w64", 8, 256, 15);
}

#[test]
fn rx_parser_w512_full_rate_no_syn() {
    full_rate_no_syn("rx_parser_w512", 64, 512, 16);
}

#[test]
fn rx_parser_w64_syn_walks() {
    syn_walks_back_to_back("rx_parser_w64", 8, 256, 17);
}

#[test]
fn rx_parser_w512_syn_walks() {
    syn_walks_back_to_back("rx_parser_w512", 64, 512, 18);
}

/// Hand-written option lists of SYN frames with their window scale
/// (WS_VALID, WS) worked out by hand, checked against the test's own walk and
/// then against the RTL.
fn syn_option_table(prefix: &str, kw: usize, bb: usize, seed: u64) {
    #[rustfmt::skip]
    let table: Vec<(Vec<u8>, (u64, u64))> = vec![
        (vec![], (0, 0)),
        (vec![1, 1, 1, 1], (0, 0)),
        (vec![3, 3, 7, 0], (1, 7)),
        (vec![3, 3, 14, 0], (1, 14)),
        (vec![3, 3, 15, 0], (1, 14)),
        (vec![3, 3, 255, 1], (1, 14)),
        (vec![3, 3, 5, 1, 3, 3, 9, 0], (1, 9)),                // a later WS overrides
        (vec![3, 3, 9, 1, 3, 3, 0, 0], (1, 0)),
        (vec![0, 3, 3, 7], (0, 0)),                            // EOL first
        (vec![3, 3, 6, 0, 3, 3, 9, 0], (1, 6)),                // EOL after the first WS
        (vec![3, 2, 3, 3, 7, 0, 0, 0], (1, 7)),                // 3/2 is not WS, walk goes on
        (vec![3, 4, 9, 9], (0, 0)),
        (vec![3, 4, 9, 9, 3, 3, 2, 1], (1, 2)),
        (vec![3, 1, 3, 3, 3, 7, 1, 1], (0, 0)),                // length < 2 stops
        (vec![3, 0, 3, 3, 3, 7, 1, 1], (0, 0)),
        (vec![2, 4, 5, 0xB4, 1, 3, 3, 14], (1, 14)),           // MSS, NOP, WS to the end
        (vec![2, 4, 5, 0xB4, 1, 1, 3, 3], (0, 0)),             // WS cut at the end
        (vec![1, 1, 1, 3], (0, 0)),                            // kind as the last byte
        (vec![5, 40, 3, 3, 3, 9, 0, 0], (0, 0)),               // length past the end
        (vec![5, 8, 3, 3, 3, 9, 0, 0, 3, 3, 4, 0], (1, 4)),    // WS inside another option
        (vec![4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 8], (1, 8)),
        ([vec![1; 37], vec![3, 3, 11]].concat(), (1, 11)),
        ([vec![1; 38], vec![3, 3]].concat(), (0, 0)),
        ([vec![3, 3, 1], vec![1; 37]].concat(), (1, 1)),
        ([vec![6, 38], vec![3; 36], vec![3, 3]].concat(), (0, 0)),
        ([vec![6, 37], vec![3; 35], vec![3, 3, 12]].concat(), (1, 12)),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    for (opts, want) in &table {
        assert_eq!(ws_walk(opts), *want, "hand value of {opts:?}");
        for syn in [true, false] {
            let mut tcp = TcpHeader::new(rng.gen(), rng.gen(), rng.gen(), rng.gen());
            tcp.acknowledgment_number = rng.gen();
            tcp.syn = syn;
            tcp.ack = !syn || rng.gen();
            tcp.set_options_raw(opts).expect("options");
            let mut f = Vec::new();
            PacketBuilder::ethernet2(rng.gen(), rng.gen())
                .ipv4(rng.gen(), rng.gen(), 64)
                .tcp_header(tcp)
                .write(&mut f, &[])
                .expect("syn");
            f.resize(f.len().max(60), 0);
            let want_ws = if syn { want.0 } else { 0 };
            assert_eq!(tcp_extra(&f).1, want_ws, "oracle of {opts:?}");
            cases.push(case("syn option table", f, NONE));
        }
    }
    let want_seen = table.iter().filter(|(_, w)| w.0 == 1).count();
    let cfg = Run {
        frames: cases.len(),
        idle_p: 0.1,
        stall_p: 0.3,
        deny_p: 0.0,
        disable_p: 0.0,
    };
    let st = run(prefix, kw, bb, seed, &cfg, cases);
    assert_eq!(st.ws_seen, want_seen, "{prefix}: window scales");
}

#[test]
fn rx_parser_w64_syn_option_table() {
    syn_option_table("rx_parser_w64", 8, 256, 19);
}

#[test]
fn rx_parser_w512_syn_option_table() {
    syn_option_table("rx_parser_w512", 64, 512, 20);
}

/// One frame at a time, metadata always accepted: the record of a SYN with
/// options comes out exactly `walk_steps` cycles (the model's count of
/// options stepped over, `buflet_model::parse`) later than that of any other
/// frame, with the model's ACK and window scale.
fn walk_latency(prefix: &str, kw: usize, seed: u64) {
    let mut m = Model::new(prefix).expect("model");
    let p = ports::RxParser::bind(&m).expect("ports");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    m.set(p.rst, 1);
    for _ in 0..3 {
        m.tick(p.clk);
    }
    m.set(p.rst, 0);
    m.set(p.enable, 1);
    m.set(p.m_meta_ready, 1);
    m.set(p.alloc_valid, 1);
    let mut walked = 0;
    for i in 0..300 {
        let f = match i % 4 {
            0 => build_syn(&mut rng, true, true),
            1 => build_syn(&mut rng, true, false),
            3 => {
                // a UDP datagram whose bytes where a TCP header would hold the data
                // offset and flags read as a SYN with 40 option bytes of NOPs:
                // no walk, no window scale
                let mut pay = vec![1u8; rng.gen_range(52..100)];
                pay[4] = 0xF0 | rng.gen_range(0..16);
                pay[5] = 0x02 | rng.gen::<u8>();
                pay[44..47].copy_from_slice(&[3, 3, 7]);
                let vlan = rand_vlan(&mut rng);
                let mut f = build_udp_with(&mut rng, vlan, 0, &pay).frame;
                f.resize(f.len().max(60), 0);
                f
            }
            _ => {
                let raw = rng.gen();
                let syn = rng.gen_bool(0.2);
                build_syn(&mut rng, syn, raw)
            }
        };
        let want = buflet_model::parse::parse(&f);
        assert_eq!(want.reason, NONE);
        assert_eq!(want.udp, i % 4 == 3);
        let nw = f.len().div_ceil(kw);
        let mut word = vec![0u8; kw];
        for w in 0..nw {
            let e = ((w + 1) * kw).min(f.len());
            word.fill(0);
            word[..e - w * kw].copy_from_slice(&f[w * kw..e]);
            m.set_bytes(p.s_axis_rx_tdata, &word);
            m.set(p.s_axis_rx_tkeep, low_mask(e - w * kw));
            m.set(p.s_axis_rx_tlast, u64::from(w + 1 == nw));
            m.set(p.s_axis_rx_tvalid, 1);
            m.set(p.alloc_idx, rng.gen_range(0..NUM_BUFLETS as u64));
            m.eval();
            assert_eq!(m.get(p.s_axis_rx_tready), 1, "{prefix}: frame {i} stalled");
            assert_eq!(m.get(p.m_meta_valid), 0, "{prefix}: early metadata");
            m.tick(p.clk);
        }
        m.set(p.s_axis_rx_tvalid, 0);
        let mut lat = 1;
        loop {
            m.eval();
            if m.get(p.m_meta_valid) == 1 {
                break;
            }
            lat += 1;
            assert!(lat < 100, "{prefix}: frame {i}: no metadata");
            m.tick(p.clk);
        }
        let ctx = format!("{prefix}: frame {i} ({:?})", &f[..f.len().min(100)]);
        assert_eq!(m.get(p.m_meta_reason), 0, "{ctx}: reason");
        assert_eq!(
            (
                m.get(p.m_meta_ack),
                m.get(p.m_meta_ws_valid),
                m.get(p.m_meta_ws)
            ),
            (
                u64::from(want.ack),
                u64::from(want.ws_valid),
                u64::from(want.ws)
            ),
            "{ctx}: ack, window scale"
        );
        assert_eq!(m.get(p.m_meta_udp), u64::from(want.udp), "{ctx}: UDP");
        assert_eq!(
            lat,
            2 + u64::from(want.walk_steps),
            "{ctx}: metadata latency after the last word"
        );
        walked += usize::from(want.walk_steps > 0);
        m.tick(p.clk);
    }
    assert!(walked > 100, "{prefix}: {walked} walks");
}

#[test]
fn rx_parser_w64_walk_latency() {
    walk_latency("rx_parser_w64", 8, 23);
}

#[test]
fn rx_parser_w512_walk_latency() {
    walk_latency("rx_parser_w512", 64, 24);
}
