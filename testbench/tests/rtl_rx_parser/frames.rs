//! Frame builders: checksums, TCP frames (random options, SYNs with raw or element option
//! lists, VLAN tags, payload sizes), UDP datagrams, Ethernet padding and ARP packets.

use crate::*;

pub fn ones_sum(data: &[u8]) -> u32 {
    let mut s = 0u32;
    for c in data.chunks(2) {
        let hi = u32::from(c[0]) << 8;
        let lo = c.get(1).map_or(0, |&b| u32::from(b));
        s += hi | lo;
    }
    s
}

pub fn fold(mut s: u32) -> u16 {
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

/// Rewrites the IPv4 header checksum (used to build corrupted-but-consistent frames).
pub fn fix_ip_csum(f: &mut [u8], l3: usize) {
    let ihl4 = usize::from(f[l3] & 0x0F) * 4;
    f[l3 + 10] = 0;
    f[l3 + 11] = 0;
    let c = !fold(ones_sum(&f[l3..l3 + ihl4]));
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

/// An Ethernet (maybe VLAN-tagged) IPv4/TCP frame built by etherparse;
/// draws the two MAC addresses from `rng`.
pub fn write_tcp(
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

/// A random IPv4 header for `proto` (TTL, addresses, identification, DF drawn from `rng`)
/// with `ip_opts` bytes of NOP options.
pub fn rand_ipv4(rng: &mut ChaCha8Rng, proto: IpNumber, ip_opts: usize) -> Ipv4Header {
    let mut ip = Ipv4Header::new(0, rng.gen_range(1..=255), proto, rng.gen(), rng.gen())
        .expect("ipv4 header");
    ip.identification = rng.gen();
    ip.dont_fragment = rng.gen();
    ip.options = ip_options(ip_opts);
    ip
}

/// `n` bytes of IPv4 NOP options.
pub fn ip_options(n: usize) -> Ipv4Options {
    Ipv4Options::try_from(&vec![1u8; n][..]).expect("ip options")
}

/// An option length: with probability `p` a random multiple of 4 up to 40, else 0.
pub fn rand_opts_len(rng: &mut ChaCha8Rng, p: f64) -> usize {
    if rng.gen_bool(p) {
        rng.gen_range(1..=10) * 4
    } else {
        0
    }
}

pub struct Tcp {
    pub frame: Vec<u8>,
    pub l3: usize,
    pub ihl4: usize,
    pub tcp_len: usize,
}

pub fn build_tcp(
    rng: &mut ChaCha8Rng,
    vlan: Option<u16>,
    ip_opts: usize,
    tcp_opts: usize,
    payload_len: usize,
) -> Tcp {
    let ip = rand_ipv4(rng, IpNumber::TCP, ip_opts);
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

/// A random TCP option list for a SYN, raw bytes (a multiple of 4, at most 40):
/// NOPs, EOL, valid and malformed window scale options (several of them, shifts
/// beyond 14), other options, lengths that run past the end, random bytes.
pub fn rand_raw_options(rng: &mut ChaCha8Rng) -> Vec<u8> {
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
pub fn rand_elem_options(rng: &mut ChaCha8Rng) -> Vec<TcpOptionElement> {
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
pub fn build_syn(rng: &mut ChaCha8Rng, syn: bool, raw: bool) -> Vec<u8> {
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
    let ip_opts = rand_opts_len(rng, 0.2);
    let mut ip = Ipv4Header::new(0, 64, IpNumber::TCP, rng.gen(), rng.gen()).expect("ipv4 header");
    ip.options = ip_options(ip_opts);
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

pub fn rand_vlan(rng: &mut ChaCha8Rng) -> Option<u16> {
    if rng.gen_bool(0.3) {
        Some(rng.gen_range(1..4095))
    } else {
        None
    }
}

pub fn rand_payload_len(rng: &mut ChaCha8Rng) -> usize {
    match rng.gen_range(0..10) {
        0 => 0,
        1..=3 => rng.gen_range(1..64),
        4..=8 => rng.gen_range(64..1461),
        _ => rng.gen_range(1461..9000),
    }
}

pub fn rand_good(rng: &mut ChaCha8Rng) -> Tcp {
    let vlan = rand_vlan(rng);
    let ip_opts = rand_opts_len(rng, 0.2);
    let tcp_opts = rand_opts_len(rng, 0.5);
    let max_pay = 9216 - 18 - 60 - 60;
    let pay = rand_payload_len(rng).min(max_pay);
    build_tcp(rng, vlan, ip_opts, tcp_opts, pay)
}

/// A UDP datagram and where its parts are.
pub struct Udp {
    pub frame: Vec<u8>,
    /// Offset of the UDP header.
    pub l4: usize,
    /// UDP bytes (header + payload).
    pub p: usize,
}

pub fn build_udp(
    rng: &mut ChaCha8Rng,
    vlan: Option<u16>,
    ip_opts: usize,
    payload_len: usize,
) -> Udp {
    let mut payload = vec![0u8; payload_len];
    rng.fill(&mut payload[..]);
    build_udp_with(rng, vlan, ip_opts, &payload)
}

pub fn build_udp_with(
    rng: &mut ChaCha8Rng,
    vlan: Option<u16>,
    ip_opts: usize,
    payload: &[u8],
) -> Udp {
    let ip = rand_ipv4(rng, IpNumber::UDP, ip_opts);
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

pub fn rand_udp(rng: &mut ChaCha8Rng) -> Udp {
    let vlan = rand_vlan(rng);
    let ip_opts = rand_opts_len(rng, 0.2);
    let pay = rand_payload_len(rng).min(9216 - 18 - 60 - 8);
    build_udp(rng, vlan, ip_opts, pay)
}

/// Ethernet padding up to 60 bytes (and sometimes more).
pub fn pad(rng: &mut ChaCha8Rng, f: &mut Vec<u8>) {
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
pub fn build_arp(
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
