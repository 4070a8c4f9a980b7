//! The cases a run feeds: a frame with its expected reason, fields and ARP record, and the random
//! mix of them (good and damaged TCP frames, UDP and other protocols, ARP).

use crate::*;

pub struct Case {
    pub what: &'static str,
    pub frame: Vec<u8>,
    /// Reason from the parser checks alone (before NO_BUFLET).
    pub reason: DropReason,
    pub enable: bool,
    /// Refuse allocations of this frame after this many.
    pub deny_after: Option<usize>,
    /// Expected fields of a passing frame from the Rust model's parser
    /// (buflet_model::parse) instead of etherparse.
    pub model_fields: Option<Fields>,
    /// Expected `m_meta_arp_req` record (None: `m_meta_arp_req` must be 0).
    pub arp: Option<Arp>,
    /// Observed during the run.
    pub allocated: Vec<u64>,
    pub denied: bool,
}

pub fn case(what: &'static str, frame: Vec<u8>, reason: DropReason) -> Case {
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

/// An ARP case: the expected record is the test's own, and the model must agree.
pub fn arp_case(what: &'static str, frame: Vec<u8>, want: Option<Arp>) -> Case {
    let c = case(what, frame, DropReason::NotIpv4);
    assert_eq!(c.arp, want, "{what}: model's ARP record vs the test's");
    c
}

/// A UDP or other-protocol case (rx-paths.md "UDP").
pub fn make_udp_case(rng: &mut ChaCha8Rng, kind: u32) -> Case {
    match kind {
        0 | 1 => {
            let mut u = rand_udp(rng);
            pad(rng, &mut u.frame);
            case("udp", u.frame, DropReason::None)
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
            case("udp no checksum", u.frame, DropReason::None)
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
            case("udp bad checksum", u.frame, DropReason::BadL4Csum)
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
            case("udp bad length", u.frame, DropReason::BadL4Hdr)
        }
        5 => {
            // IPv4 payload shorter than a UDP header
            let mut u = rand_udp(rng);
            let l3 = if u.frame[12] == 0x81 { 18 } else { 14 };
            let ihl4 = u.l4 - l3;
            let tot = (ihl4 + rng.gen_range(0..8)) as u16;
            u.frame[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            fix_ip_csum(&mut u.frame, l3);
            case("udp < 8 bytes", u.frame, DropReason::Truncated)
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
            case("udp shorter than ip payload", f, DropReason::BadL4Hdr)
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
            case("other protocol", u.frame, DropReason::NoSocket)
        }
        _ => {
            let mut f = Vec::new();
            PacketBuilder::ethernet2(rng.gen(), rng.gen())
                .ipv4(rng.gen(), rng.gen(), 64)
                .icmpv4_echo_request(rng.gen(), rng.gen())
                .write(&mut f, &[7u8; 20])
                .expect("icmp");
            case("icmp", f, DropReason::NoSocket)
        }
    }
}

/// An ARP case: requests (tagged or not, padded or not), replies, malformed
/// packets and requests one byte short.
pub fn make_arp_case(rng: &mut ChaCha8Rng) -> Case {
    let vlan = rand_vlan(rng);
    // a padded packet: (what, htype, ptype, oper, (hlen, plen))
    let (what, htype, ptype, oper, (hlen, plen)) = match rng.gen_range(0..10) {
        0..=3 => {
            let (mut f, want) = build_arp(rng, vlan, 1, EtherType::IPV4, 1, 6, 4);
            if rng.gen() {
                pad(rng, &mut f);
            }
            return arp_case("arp request", f, want);
        }
        4 => ("arp reply", 1, EtherType::IPV4, 2, (6, 4)),
        5 => {
            let (f, _) = build_arp(rng, vlan, 1, EtherType::IPV4, 1, 6, 4);
            let n = f.len() - 1;
            return arp_case("arp request short", f[..n].to_vec(), None);
        }
        6 => {
            let htype = *[0u16, 6, 0x0100, 0x8001].get(rng.gen_range(0..4)).unwrap();
            ("arp bad htype", htype, EtherType::IPV4, 1, (6, 4))
        }
        7 => ("arp bad ptype", 1, EtherType::IPV6, 1, (6, 4)),
        8 => {
            let lens = *[(5, 4), (8, 4), (6, 16), (6, 3)]
                .get(rng.gen_range(0..4))
                .unwrap();
            ("arp bad hlen/plen", 1, EtherType::IPV4, 1, lens)
        }
        _ => {
            let oper = *[0u16, 3, 0x0101, 0x8001].get(rng.gen_range(0..4)).unwrap();
            ("arp bad oper", 1, EtherType::IPV4, oper, (6, 4))
        }
    };
    let (mut f, want) = build_arp(rng, vlan, htype, ptype, oper, hlen, plen);
    pad(rng, &mut f);
    arp_case(what, f, want)
}

pub fn make_case(rng: &mut ChaCha8Rng) -> Case {
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
            case("good", t.frame, DropReason::None)
        }
        20 => {
            let mut t = rand_good(rng);
            let i = t.l3 + 11;
            t.frame[i] ^= 1 << rng.gen_range(0..8);
            case("bad ip csum", t.frame, DropReason::BadIpCsum)
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
            case("bad tcp csum", t.frame, DropReason::BadL4Csum)
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
                DropReason::Truncated
            } else if vlan && n < 18 {
                DropReason::NotIpv4 // the inner EtherType is missing: reads as 0
            } else {
                DropReason::Truncated
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
            case("arp", f, DropReason::NotIpv4)
        }
        25 => {
            let mut f = Vec::new();
            PacketBuilder::ethernet2(rng.gen(), rng.gen())
                .ipv6(rng.gen(), rng.gen(), 64)
                .tcp(rng.gen(), rng.gen(), rng.gen(), rng.gen())
                .write(&mut f, &[1, 2, 3, 4])
                .expect("ipv6");
            case("ipv6", f, DropReason::NotIpv4)
        }
        26 => {
            let mut t = rand_good(rng);
            let l3 = t.l3;
            t.frame[l3] = 0x40 | rng.gen_range(0..5);
            case("ihl < 5", t.frame, DropReason::BadIpHdr)
        }
        27 => {
            let mut t = rand_good(rng);
            let l3 = t.l3;
            let ihl = t.frame[l3] & 0x0F;
            t.frame[l3] = (rng.gen_range(5..16) << 4) | ihl;
            fix_ip_csum(&mut t.frame, l3);
            case("ip version", t.frame, DropReason::BadIpHdr)
        }
        28 => {
            let mut t = rand_good(rng);
            let l3 = t.l3;
            let tot = rng.gen_range(0..t.ihl4) as u16;
            t.frame[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            fix_ip_csum(&mut t.frame, l3);
            case("total length < ihl", t.frame, DropReason::BadIpHdr)
        }
        29 => {
            let mut t = rand_good(rng);
            let l3 = t.l3;
            let tot = (t.ihl4 + t.tcp_len + rng.gen_range(1..100)) as u16;
            t.frame[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            fix_ip_csum(&mut t.frame, l3);
            case("total length > frame", t.frame, DropReason::Truncated)
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
            case("fragment", t.frame, DropReason::BadIpHdr)
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
            case("udp (etherparse)", f, DropReason::None)
        }
        33 => {
            // IPv4 total length leaves less than 20 bytes of TCP
            let mut t = rand_good(rng);
            let l3 = t.l3;
            let tot = (t.ihl4 + rng.gen_range(0..20)) as u16;
            t.frame[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            fix_ip_csum(&mut t.frame, l3);
            case("tcp < 20 bytes", t.frame, DropReason::Truncated)
        }
        34 => {
            let mut t = rand_good(rng);
            let l4 = t.l3 + t.ihl4;
            t.frame[l4 + 12] = (rng.gen_range(0..5) << 4) | (t.frame[l4 + 12] & 0x0F);
            case("data offset < 5", t.frame, DropReason::BadL4Hdr)
        }
        35 => {
            let vlan = rand_vlan(rng);
            let pay = rng.gen_range(0..30);
            let mut t = build_tcp(rng, vlan, 0, 0, pay);
            let l4 = t.l3 + t.ihl4;
            let min_doff = t.tcp_len / 4 + 1;
            t.frame[l4 + 12] = (rng.gen_range(min_doff..16) << 4) as u8;
            case("data offset > segment", t.frame, DropReason::BadL4Hdr)
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
                case("max frame", t.frame, DropReason::None)
            } else {
                case("too long", t.frame, DropReason::TooLong)
            }
        }
        37 => {
            // short but otherwise fine: proto 6 with 20 bytes of TCP and no payload
            let vlan = rand_vlan(rng);
            let t = build_tcp(rng, vlan, 0, 0, 0);
            case("good minimal", t.frame, DropReason::None)
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
            case("garbage", f, DropReason::Truncated)
        }
        40..=42 => case(
            "syn raw options",
            build_syn(rng, true, true),
            DropReason::None,
        ),
        43 | 44 => case(
            "syn option elements",
            build_syn(rng, true, false),
            DropReason::None,
        ),
        45 => {
            // options with window scale on a segment without SYN: not reported
            let raw = rng.gen();
            case(
                "no syn, options",
                build_syn(rng, false, raw),
                DropReason::None,
            )
        }
        _ => {
            let mut t = rand_good(rng);
            // bad IP checksum wins over a TCP problem
            let l3 = t.l3;
            let l4 = l3 + t.ihl4;
            t.frame[l4 + 17] ^= 1;
            t.frame[l3 + 10] ^= 0x10;
            case("bad ip + tcp csum", t.frame, DropReason::BadIpCsum)
        }
    }
}
