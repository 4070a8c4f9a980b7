//! Frame parse and checks (rtl/rx_parser.v): Ethernet II, one optional 802.1Q tag, IPv4, TCP or
//! UDP, both checksums, and ARP requests for the responder. The checks run in the order of
//! docs/architecture.md and docs/rx-paths.md; the first failure wins.

use buflet_spec::drop;

/// TCP flag bits (the TCP flags byte), from `buflet_spec::tcp_flag`.
pub mod tcp_flag {
    use buflet_spec::tcp_flag as t;
    /// FIN.
    pub const FIN: u8 = t::FIN as u8;
    /// SYN.
    pub const SYN: u8 = t::SYN as u8;
    /// RST.
    pub const RST: u8 = t::RST as u8;
    /// PSH.
    pub const PSH: u8 = t::PSH as u8;
    /// ACK.
    pub const ACK: u8 = t::ACK as u8;
    /// URG.
    pub const URG: u8 = t::URG as u8;
}

/// Largest window scale shift (RFC 7323); a larger option value is taken as this.
pub const MAX_WSCALE: u8 = 14;

/// Per-frame metadata, as rx_parser hands it to toe_engine (without the buflet chain).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parsed {
    /// `drop::*` reason of the first failed check, 0 when every check passed.
    pub reason: u8,
    /// VLAN id (low 12 bits of the tag), 0 if untagged.
    pub vlan: u16,
    pub src_ip: u32,
    pub dst_ip: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    /// TCP acknowledgment number field (whatever the flags).
    pub ack: u32,
    pub flags: u8,
    /// A SYN segment carried the window scale option (false when SYN is clear).
    pub ws_valid: bool,
    /// Window scale shift of that option, capped at [`MAX_WSCALE`] (0 without it).
    pub ws: u8,
    /// The TCP window field (unscaled).
    pub window: u16,
    /// MSS option of a SYN segment (0 when SYN is clear or the option is absent; the last
    /// one counts). The peer's MSS for the send side (docs/tcp-transmit.md).
    pub mss: u16,
    /// Options (or NOPs) the option walk stepped over: rx_parser walks one per cycle, so the
    /// metadata of a SYN with options leaves this many cycles later (0 when not walked).
    pub walk_steps: u8,
    /// Offset of the first TCP payload byte from the start of the frame.
    pub pay_off: u16,
    /// TCP payload bytes (UDP: datagram payload bytes, the UDP length less 8).
    pub pay_len: u16,
    /// Frame length in bytes, saturating at 65535 (like `m_meta_len`).
    pub len: u16,
    /// A UDP datagram (IP protocol 17) that passed every check.
    pub udp: bool,
    /// An ARP request (reason `NOT_IPV4`): `src_ip` is its SPA, `dst_ip` its TPA.
    pub arp_req: bool,
    /// Sender hardware address of an ARP request, byte k = wire byte k.
    pub arp_sha: [u8; 6],
    /// Ethernet source MAC of a frame that passed every check (byte k = wire byte k): an
    /// accepted socket's REMOTE_MAC (docs/tcp-receive.md, "Listening sockets").
    pub src_mac: [u8; 6],
}

fn be16(f: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([f[at], f[at + 1]])
}

fn be32(f: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]])
}

/// Ones'-complement sum of big-endian 16-bit words (an odd last byte is the high byte), as a
/// value congruent to it modulo 0xFFFF (all [`fold`] keeps).
fn sum16(data: &[u8]) -> u64 {
    // RFC 1071 2(B): the sum does not depend on byte order, so the words are added as
    // little-endian 32-bit words (each congruent to the sum of its two 16-bit halves, as
    // 2^16 = 1 modulo 0xFFFF; no byte swap per word) into eight independent 64-bit lanes,
    // which the compiler turns into vector adds, and the folded result is byte-swapped once.
    // An odd last byte is then the low byte.
    let le32 = |w: &[u8]| u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    let mut it = data.chunks_exact(32);
    let mut lanes = [0u64; 8];
    for c in it.by_ref() {
        for (l, w) in lanes.iter_mut().zip(c.chunks_exact(4)) {
            *l += le32(w);
        }
    }
    let mut words = it.remainder().chunks_exact(4);
    let mut s: u64 = lanes.iter().sum::<u64>() + words.by_ref().map(le32).sum::<u64>();
    let rest = words.remainder();
    if rest.len() >= 2 {
        s += u64::from(u16::from_le_bytes([rest[0], rest[1]]));
    }
    if rest.len() % 2 == 1 {
        s += u64::from(rest[rest.len() - 1]);
    }
    u64::from(fold(s).swap_bytes())
}

fn fold(mut s: u64) -> u16 {
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

/// The option walk of docs/tcp-receive.md over the option bytes `o` of a SYN segment.
/// Returns (WS_VALID, WS, options stepped over). A malformed list just stops the walk.
pub fn ws_walk(o: &[u8]) -> (bool, u8, u8) {
    let (valid, ws, _, steps) = syn_walk(o);
    (valid, ws, steps)
}

/// [`ws_walk`] that also takes the MSS option (kind 2, length 4; 0 without one): returns
/// (WS_VALID, WS, MSS, options stepped over).
pub fn syn_walk(o: &[u8]) -> (bool, u8, u16, u8) {
    let mut mss = 0u16;
    let n = o.len();
    let (mut i, mut valid, mut ws, mut steps) = (0usize, false, 0u8, 0u8);
    while i < n {
        let k = o[i];
        if k == 0 {
            break;
        }
        if k == 1 {
            i += 1;
            steps += 1;
            continue;
        }
        if i + 1 >= n {
            break;
        }
        let l = o[i + 1] as usize;
        if l < 2 || i + l > n {
            break;
        }
        if k == 3 && l == 3 {
            valid = true;
            ws = o[i + 2].min(MAX_WSCALE);
        }
        if k == 2 && l == 4 {
            mss = u16::from_be_bytes([o[i + 2], o[i + 3]]);
        }
        i += l;
        steps += 1;
    }
    (valid, ws, mss, steps)
}

fn fail(reason: u64) -> Parsed {
    Parsed {
        reason: reason as u8,
        ..Parsed::default()
    }
}

/// Parse and check one frame (no FCS).
pub fn parse(f: &[u8]) -> Parsed {
    let p = checks(f);
    let mut src_mac = [0u8; 6];
    if p.reason == drop::NONE as u8 {
        src_mac.copy_from_slice(&f[6..12]);
    }
    Parsed {
        len: f.len().min(u16::MAX as usize) as u16,
        src_mac,
        ..p
    }
}

/// The ARP request recognised by rx-paths.md ("ARP responder", Parse) at `l3`, with the
/// frame's VLAN id: `None` when it is not one.
fn arp_request(f: &[u8], l3: usize, vlan: u16) -> Option<Parsed> {
    if f.len() < l3 + 28 {
        return None;
    }
    let a = &f[l3..l3 + 28];
    if be16(a, 0) != 1 || be16(a, 2) != 0x0800 || a[4] != 6 || a[5] != 4 || be16(a, 6) != 1 {
        return None;
    }
    let mut sha = [0u8; 6];
    sha.copy_from_slice(&a[8..14]);
    Some(Parsed {
        reason: drop::NOT_IPV4 as u8,
        vlan,
        src_ip: be32(a, 14),
        dst_ip: be32(a, 24),
        arp_req: true,
        arp_sha: sha,
        ..Parsed::default()
    })
}

/// The checks of [`parse`] (every field but `len`).
fn checks(f: &[u8]) -> Parsed {
    let len = f.len();
    if len > buflet_spec::param::MAX_FRAME as usize {
        return fail(drop::TOO_LONG);
    }
    if len < 14 {
        return fail(drop::TRUNCATED);
    }
    let (mut ethertype, mut l3, mut vlan) = (be16(f, 12), 14usize, 0u16);
    if ethertype == 0x8100 {
        // A tagged frame too short to hold the inner EtherType has no IPv4 EtherType.
        if len < 18 {
            return fail(drop::NOT_IPV4);
        }
        vlan = be16(f, 14) & 0x0FFF;
        ethertype = be16(f, 16);
        l3 = 18;
    }
    if ethertype != 0x0800 {
        if ethertype == 0x0806 {
            if let Some(p) = arp_request(f, l3, vlan) {
                return p;
            }
        }
        return fail(drop::NOT_IPV4);
    }
    if len < l3 + 20 {
        return fail(drop::TRUNCATED);
    }
    let ip = &f[l3..];
    let version = ip[0] >> 4;
    let ihl4 = (ip[0] & 0x0F) as usize * 4;
    let total = be16(ip, 2) as usize;
    if version != 4 || ihl4 < 20 || total < ihl4 {
        return fail(drop::BAD_IP_HDR);
    }
    if l3 + total > len {
        return fail(drop::TRUNCATED);
    }
    let frag = be16(ip, 6);
    if frag & 0x2000 != 0 || frag & 0x1FFF != 0 {
        return fail(drop::BAD_IP_HDR);
    }
    let ip_ok = fold(sum16(&ip[..ihl4])) == 0xFFFF;
    if !ip_ok && ip[9] != 6 {
        return fail(drop::BAD_IP_CSUM);
    }
    let (src_ip, dst_ip) = (be32(ip, 12), be32(ip, 16));
    match ip[9] {
        6 => {}
        17 => return udp(f, l3, ihl4, total, vlan),
        _ => return fail(drop::NO_SOCKET),
    }
    // TCP: a bad IPv4 checksum is the reason whatever the TCP header holds
    let l4_len = total - ihl4;
    let tcp = &ip[ihl4..total];
    let doff4 = if l4_len < 20 {
        0
    } else {
        (tcp[12] >> 4) as usize * 4
    };
    let shaped = l4_len >= 20 && doff4 >= 20 && ihl4 + doff4 <= total;
    // rx_parser walks a SYN's options whenever its headers pass every check but the two
    // checksums (a SYN that fails one walks, then leaves dropped): the walk's steps count
    // for such a drop too
    let (ws_valid, ws, mss, walk_steps) = if shaped && tcp[13] & tcp_flag::SYN != 0 && doff4 > 20 {
        syn_walk(&tcp[20..doff4])
    } else {
        (false, 0, 0, 0)
    };
    let walked = |reason: u64| Parsed {
        walk_steps,
        ..fail(reason)
    };
    if !ip_ok {
        return walked(drop::BAD_IP_CSUM);
    }
    if l4_len < 20 {
        return fail(drop::TRUNCATED);
    }
    if !shaped {
        return fail(drop::BAD_L4_HDR);
    }
    let pseudo = sum16(&ip[12..20]) + 6 + l4_len as u64;
    if fold(pseudo + sum16(tcp)) != 0xFFFF {
        return walked(drop::BAD_L4_CSUM);
    }
    let flags = tcp[13];
    Parsed {
        reason: drop::NONE as u8,
        vlan,
        src_ip,
        dst_ip,
        src_port: be16(tcp, 0),
        dst_port: be16(tcp, 2),
        seq: be32(tcp, 4),
        ack: be32(tcp, 8),
        flags,
        ws_valid,
        ws,
        window: be16(tcp, 14),
        mss,
        walk_steps,
        pay_off: (l3 + ihl4 + doff4) as u16,
        pay_len: (l4_len - doff4) as u16,
        ..Parsed::default()
    }
}

/// Check 9 onwards for IP protocol 17 (rx-paths.md, "UDP"): the IPv4 header at `l3` with
/// `ihl4` header bytes and total length `total` has passed every earlier check.
fn udp(f: &[u8], l3: usize, ihl4: usize, total: usize, vlan: u16) -> Parsed {
    let ip = &f[l3..l3 + total];
    let p = total - ihl4;
    if p < 8 {
        return fail(drop::TRUNCATED);
    }
    let u = &ip[ihl4..];
    if be16(u, 4) as usize != p {
        return fail(drop::BAD_L4_HDR);
    }
    // Checksum 0 means "no checksum"; otherwise the sum over the pseudo header and the
    // datagram (its checksum field included) folds to 0xFFFF.
    let pseudo = sum16(&ip[12..20]) + 17 + p as u64;
    if be16(u, 6) != 0 && fold(pseudo + sum16(u)) != 0xFFFF {
        return fail(drop::BAD_L4_CSUM);
    }
    Parsed {
        reason: drop::NONE as u8,
        vlan,
        src_ip: be32(ip, 12),
        dst_ip: be32(ip, 16),
        src_port: be16(u, 0),
        dst_port: be16(u, 2),
        pay_off: (l3 + ihl4 + 8) as u16,
        pay_len: (p - 8) as u16,
        udp: true,
        ..Parsed::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
    use rand::{Rng, SeedableRng};

    /// The sum over little-endian 32-bit words, byte-swapped after its fold, folds to the RFC
    /// 1071 sum of big-endian 16-bit words, at every length and alignment of the tail.
    #[test]
    fn sum16_folds_as_the_word_sum() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for len in 0..80usize {
            for _ in 0..20 {
                let d: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                let mut words: u64 = d
                    .chunks(2)
                    .map(|w| u64::from(w[0]) << 8 | u64::from(*w.get(1).unwrap_or(&0)))
                    .sum();
                while words > 0xFFFF {
                    words = (words & 0xFFFF) + (words >> 16);
                }
                assert_eq!(fold(sum16(&d)), words as u16, "{len}");
            }
        }
        assert_eq!(fold(sum16(&[0xFF; 4096])), 0xFFFF);
    }

    /// Random valid frames (odd and even payloads, tagged or not): every check passes and the
    /// fields agree with etherparse's own parse.
    #[test]
    fn fields_match_etherparse() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..500 {
            let payload: Vec<u8> = (0..rng.gen_range(0..1600)).map(|_| rng.gen()).collect();
            let src: [u8; 4] = rng.gen();
            let dst: [u8; 4] = rng.gen();
            let eth = PacketBuilder::ethernet2([1; 6], [2; 6]);
            let mut f = vec![];
            let vlan = rng.gen_bool(0.5).then(|| rng.gen_range(0..4096u16));
            let seq: u32 = rng.gen();
            let ackn: u32 = rng.gen();
            let (sp, dp): (u16, u16) = (rng.gen(), rng.gen());
            match vlan {
                Some(v) => eth
                    .single_vlan(etherparse::VlanId::try_new(v).unwrap())
                    .ipv4(src, dst, 64)
                    .tcp(sp, dp, seq, 1000)
                    .psh()
                    .ack(ackn)
                    .write(&mut f, &payload)
                    .unwrap(),
                None => eth
                    .ipv4(src, dst, 64)
                    .tcp(sp, dp, seq, 1000)
                    .fin()
                    .write(&mut f, &payload)
                    .unwrap(),
            }
            let p = parse(&f);
            assert_eq!(p.reason, 0);
            {
                let s = SlicedPacket::from_ethernet(&f).unwrap();
                let Some(TransportSlice::Tcp(tcp)) = s.transport else {
                    panic!("tcp")
                };
                assert_eq!(p.vlan, vlan.unwrap_or(0));
                assert_eq!(
                    (p.src_ip, p.dst_ip),
                    (u32::from_be_bytes(src), u32::from_be_bytes(dst))
                );
                assert_eq!((p.src_port, p.dst_port, p.seq), (sp, dp, seq));
                assert_eq!(p.ack, tcp.acknowledgment_number());
                assert_eq!(p.flags & tcp_flag::ACK != 0, tcp.ack());
                assert_eq!((p.ws_valid, p.ws, p.walk_steps), (false, 0, 0));
                assert_eq!(p.flags & tcp_flag::FIN != 0, tcp.fin());
                assert_eq!(p.pay_len as usize, tcp.payload().len());
                assert_eq!(
                    &f[p.pay_off as usize..p.pay_off as usize + p.pay_len as usize],
                    tcp.payload()
                );
            }
            // Ethernet padding after the IPv4 total length is ignored.
            f.extend_from_slice(&[0xEE; 7]);
            assert_eq!(parse(&f).pay_len as usize, payload.len());
        }
    }

    #[test]
    fn window_scale_option_walk() {
        let cases: &[(&[u8], (bool, u8))] = &[
            (&[], (false, 0)),
            (&[2, 4, 5, 0xB4, 1, 3, 3, 8], (true, 8)),
            (&[1, 1, 1, 3, 3, 20, 0, 0], (true, 14)), // capped at 14
            (&[3, 3, 2, 3, 3, 9, 1, 1], (true, 9)),   // a later WS overrides
            (&[0, 3, 3, 8], (false, 0)),              // end of list
            (&[3, 3, 5, 0, 3, 3, 9, 1], (true, 5)),   // stops at kind 0
            (&[2, 1, 3, 3, 8, 0, 0, 0], (false, 0)),  // length < 2 stops
            (&[4, 2, 3, 3, 7, 1, 1, 1], (true, 7)),   // SACK-permitted skipped
            (&[8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3], (false, 0)), // WS cut off at n
            (&[1, 1, 3], (false, 0)),                 // i + 1 >= n
            (&[3, 4, 6, 0, 1, 1, 1, 1], (false, 0)),  // WS with length 4 is not WS
            (&[5, 200, 3, 3, 8, 0, 0, 0], (false, 0)), // i + L > n
        ];
        for &(o, want) in cases {
            let (v, ws, _) = ws_walk(o);
            assert_eq!((v, ws), want, "{o:?}");
        }
        assert_eq!(ws_walk(&[1, 1, 3, 3, 8, 0, 0, 0]).2, 3);
    }

    /// The option walk only runs for SYN segments.
    #[test]
    fn window_scale_only_on_syn() {
        use etherparse::{IpNumber, Ipv4Header, TcpHeader};
        for syn in [false, true] {
            let mut tcp = TcpHeader::new(1, 2, 3, 4);
            tcp.syn = syn;
            tcp.acknowledgment_number = 0xA1B2_C3D4;
            tcp.set_options_raw(&[2, 4, 5, 0xB4, 1, 3, 3, 6]).unwrap();
            let ip = Ipv4Header::new(tcp.header_len() as u16, 64, IpNumber::TCP, [1; 4], [2; 4])
                .unwrap();
            tcp.checksum = tcp.calc_checksum_ipv4(&ip, &[]).unwrap();
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&[0x08, 0x00]);
            ip.write(&mut f).unwrap();
            tcp.write(&mut f).unwrap();
            let p = parse(&f);
            assert_eq!(p.reason, 0);
            assert_eq!(p.ack, 0xA1B2_C3D4);
            assert_eq!((p.ws_valid, p.ws), (syn, if syn { 6 } else { 0 }));
            assert_eq!(p.walk_steps, if syn { 3 } else { 0 });
        }
    }

    /// UDP datagrams: fields as etherparse sees them; payload offset past the UDP header.
    #[test]
    fn udp_fields_match_etherparse() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for i in 0..200 {
            let payload: Vec<u8> = (0..rng.gen_range(0..1600)).map(|_| rng.gen()).collect();
            let (sp, dp): (u16, u16) = (rng.gen(), rng.gen());
            let eth = PacketBuilder::ethernet2([1; 6], [2; 6]);
            let vlan = (i % 2 == 0).then(|| rng.gen_range(0..4096u16));
            let mut f = vec![];
            match vlan {
                Some(v) => eth
                    .single_vlan(etherparse::VlanId::try_new(v).unwrap())
                    .ipv4([1, 2, 3, 4], [5, 6, 7, 8], 64)
                    .udp(sp, dp)
                    .write(&mut f, &payload)
                    .unwrap(),
                None => eth
                    .ipv4([1, 2, 3, 4], [5, 6, 7, 8], 64)
                    .udp(sp, dp)
                    .write(&mut f, &payload)
                    .unwrap(),
            }
            let p = parse(&f);
            let l4 = 34 + 4 * vlan.is_some() as usize;
            assert_eq!(
                p,
                Parsed {
                    reason: 0,
                    vlan: vlan.unwrap_or(0),
                    src_ip: 0x0102_0304,
                    dst_ip: 0x0506_0708,
                    src_port: sp,
                    dst_port: dp,
                    pay_off: (l4 + 8) as u16,
                    pay_len: payload.len() as u16,
                    len: f.len() as u16,
                    udp: true,
                    src_mac: [1; 6],
                    ..Parsed::default()
                }
            );
            // A flipped payload bit fails the checksum unless the checksum field is 0.
            if !payload.is_empty() {
                f[l4 + 8] ^= 1;
                assert_eq!(parse(&f).reason as u64, drop::BAD_L4_CSUM);
                f[l4 + 6] = 0;
                f[l4 + 7] = 0;
                assert_eq!(parse(&f).reason, 0);
            }
        }
    }

    #[test]
    fn arp_request_metadata() {
        use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType};
        let build = |vlan: Option<u16>, oper, hw: &[u8], proto: EtherType| {
            let arp = ArpPacket::new(
                ArpHardwareId::ETHERNET,
                proto,
                oper,
                hw,
                &[10, 0, 0, 9],
                &vec![0; hw.len()],
                &[10, 0, 0, 2],
            )
            .unwrap();
            let b = PacketBuilder::ethernet2([9; 6], [0xFF; 6]);
            let mut f = vec![];
            match vlan {
                Some(v) => b
                    .single_vlan(etherparse::VlanId::try_new(v).unwrap())
                    .arp(arp)
                    .write(&mut f)
                    .unwrap(),
                None => b.arp(arp).write(&mut f).unwrap(),
            }
            f
        };
        let sha = [1, 2, 3, 4, 5, 6];
        for vlan in [None, Some(77)] {
            let f = build(vlan, ArpOperation::REQUEST, &sha, EtherType::IPV4);
            assert_eq!(
                parse(&f),
                Parsed {
                    reason: drop::NOT_IPV4 as u8,
                    vlan: vlan.unwrap_or(0),
                    src_ip: 0x0A00_0009,
                    dst_ip: 0x0A00_0002,
                    len: f.len() as u16,
                    arp_req: true,
                    arp_sha: sha,
                    ..Parsed::default()
                }
            );
            let mut short = f.clone();
            short.pop();
            assert!(!parse(&short).arp_req);
        }
        for f in [
            build(None, ArpOperation::REPLY, &sha, EtherType::IPV4),
            build(None, ArpOperation::REQUEST, &sha, EtherType::IPV6),
            build(None, ArpOperation::REQUEST, &sha[..5], EtherType::IPV4),
        ] {
            let p = parse(&f);
            assert_eq!((p.reason as u64, p.arp_req), (drop::NOT_IPV4, false));
        }
        let mut f = build(None, ArpOperation::REQUEST, &sha, EtherType::IPV4);
        f[15] = 6; // htype 6 (IEEE 802)
        assert!(!parse(&f).arp_req);
    }

    #[test]
    fn other_ip_protocols_are_no_socket() {
        let mut f = vec![];
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([1, 2, 3, 4], [5, 6, 7, 8], 64)
            .icmpv4_echo_request(1, 2)
            .write(&mut f, &[0; 20])
            .unwrap();
        assert_eq!(parse(&f).reason as u64, drop::NO_SOCKET);
        assert_eq!(parse(&f).len as usize, f.len());
    }

    #[test]
    fn short_tagged_frame_is_not_ipv4() {
        let mut f = vec![0u8; 16];
        f[12] = 0x81;
        assert_eq!(parse(&f).reason as u64, drop::NOT_IPV4);
        assert_eq!(parse(&f[..13]).reason as u64, drop::TRUNCATED);
    }
}
