//! Extra frames that are not a connection's own: UDP datagrams (good and bad), ARP requests, foreign and malformed frames.

use super::*;

/// How a generated UDP datagram is broken.
#[derive(Debug, Clone, Copy)]
pub(super) enum UdpBad {
    None,
    /// Checksum field 0: "no checksum", accepted.
    NoChecksum,
    /// A wrong non-zero checksum: BAD_L4_CSUM.
    Checksum,
    /// UDP length field off by this much: BAD_L4_HDR.
    Length(i32),
    /// IPv4 total length leaving this many (< 8) bytes: TRUNCATED.
    Short(u8),
}

/// An ARP packet (Ethernet/IPv4 addresses) in an Ethernet frame from `src` to broadcast,
/// tagged when `vlan != 0`.
pub(super) fn arp_frame(
    src: [u8; 6],
    vlan: u16,
    oper: ArpOperation,
    spa: [u8; 4],
    tpa: [u8; 4],
) -> Vec<u8> {
    let mut out = Vec::new();
    let Ok(a) = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        oper,
        &src,
        &spa,
        &[0; 6],
        &tpa,
    ) else {
        return out;
    };
    let eth = PacketBuilder::ethernet2(src, [0xFF; 6]);
    let _ = match VlanId::try_new(vlan & 0x0FFF) {
        Ok(id) if vlan != 0 => eth.single_vlan(id).arp(a).write(&mut out),
        _ => eth.arp(a).write(&mut out),
    };
    out
}

/// A frame for no socket: ICMP, UDP or TCP to an unknown port, IPv6, another EtherType, or
/// another IP protocol. Returns the frame and what it is.
pub(super) fn foreign(rng: &mut ChaCha8Rng, t: &Tuple) -> (Vec<u8>, &'static str) {
    let mut out = Vec::new();
    let what = match rng.gen_range(0..6) {
        0 => {
            let body = crate::frames::payload(rng.gen(), rng.gen_range(0..1500));
            let _ = t
                .ip()
                .icmpv4_echo_request(rng.gen(), rng.gen())
                .write(&mut out, &body);
            "ICMP echo request"
        }
        1 => {
            let body = crate::frames::payload(rng.gen(), rng.gen_range(0..3000));
            let _ = t
                .ip()
                .udp(t.src_port, rng.gen_range(1..1024))
                .write(&mut out, &body);
            "UDP for an unknown port"
        }
        2 => {
            let body = crate::frames::payload(rng.gen(), rng.gen_range(0..2000));
            let u = Tuple {
                dst_port: t.dst_port ^ 0x5A5A,
                ..*t
            };
            out = tcp_frame(&u, rng.gen(), ACK | PSH, rng.gen(), 100, &Opts::None, &body);
            "TCP for an unknown port"
        }
        3 => {
            let _ = Ethernet2Header {
                source: t.src_mac,
                destination: [0x01, 0x80, 0xC2, 0, 0, 0x0E],
                ether_type: EtherType(0x88CC),
            }
            .write(&mut out);
            out.extend_from_slice(&crate::frames::payload(rng.gen(), rng.gen_range(46..600)));
            "LLDP (another EtherType)"
        }
        4 => {
            // IPv4 carrying GRE (protocol 47): no socket, whatever the addresses.
            let gre = [0u8, 0, 0x08, 0x00];
            if let Ok(mut h) = Ipv4Header::new(
                gre.len() as u16,
                64,
                etherparse::IpNumber(47),
                t.src_ip,
                t.dst_ip,
            ) {
                h.header_checksum = h.calc_header_checksum();
                let _ = Ethernet2Header {
                    source: t.src_mac,
                    destination: t.dst_mac,
                    ether_type: EtherType::IPV4,
                }
                .write(&mut out);
                let _ = h.write(&mut out);
                out.extend_from_slice(&gre);
            }
            "GRE (another IP protocol)"
        }
        _ => {
            let (s6, d6) = link_local_v6();
            let body = crate::frames::payload(rng.gen(), rng.gen_range(0..800));
            let _ = PacketBuilder::ethernet2(t.src_mac, t.dst_mac)
                .ipv6(s6, d6, 64)
                .udp(1, 2)
                .write(&mut out, &body);
            "IPv6 UDP"
        }
    };
    (out, what)
}

/// Two IPv6 link-local addresses, fe80::1 and fe80::2: the source and destination of the
/// IPv6 frames the NIC must ignore.
pub(super) fn link_local_v6() -> ([u8; 16], [u8; 16]) {
    let mut s6 = [0u8; 16];
    s6[0] = 0xfe;
    s6[1] = 0x80;
    s6[15] = 1;
    let mut d6 = s6;
    d6[15] = 2;
    (s6, d6)
}

/// The case-wide extras (see the module documentation), in their own order: usually the ARP
/// responder's address first, a few anonymous buffers, then a random mix of anonymous-buffer
/// posts (some refused), ARP frames, frames for no socket, timer kicks, periodic ticks and
/// changes of the responder's address.
pub(super) fn extras(rng: &mut ChaCha8Rng, conns: &[Conn]) -> Vec<Step> {
    let mut ev = Vec::new();
    let ips: Vec<[u8; 4]> = conns.iter().map(|c| c.p.local_ip.octets()).collect();
    let mut nic_ip = *ips.choose(rng).unwrap_or(&[10, 0, 0, 2]);
    if rng.gen_bool(0.8) {
        ev.push(Step::NicAddr {
            mac: NIC_MAC,
            ip: nic_ip,
        });
    }
    let anon_len = |rng: &mut ChaCha8Rng| {
        *[64u32, 100, 128, 600, 1514, 2048, 4096, 9000, 16384]
            .choose(rng)
            .unwrap_or(&1514)
    };
    for _ in 0..rng.gen_range(1..=4) {
        ev.push(Step::PostAnon(AnonPost {
            slot: AnonSlot::Free,
            len: anon_len(rng),
        }));
    }
    let n = rng.gen_range(8..=30);
    for k in 0..n {
        let Some(c) = conns.choose(rng) else {
            break;
        };
        let t = c.tuple();
        match rng.gen_range(0..100) {
            0..=24 => ev.push(Step::PostAnon(AnonPost {
                slot: AnonSlot::Free,
                len: anon_len(rng),
            })),
            25..=29 => {
                let (slot, len) = match rng.gen_range(0..4) {
                    0 => (AnonSlot::Free, param::ANON_MIN_LEN as u32 - 1),
                    1 => (AnonSlot::Free, param::ANON_MAX_LEN as u32 + 1),
                    2 => (
                        AnonSlot::Raw(param::DEF_NUM_ANON as u32 + rng.gen_range(0..100)),
                        1514,
                    ),
                    _ => (AnonSlot::Busy, 1514),
                };
                ev.push(Step::PostAnon(AnonPost { slot, len }));
            }
            30..=49 => {
                let vlan = if rng.gen_bool(0.2) { t.vlan.max(1) } else { 0 };
                let tpa = if rng.gen_bool(0.6) {
                    nic_ip
                } else {
                    [10, 0, 9, rng.gen()]
                };
                let kind = rng.gen_range(0..10);
                let oper = if kind == 0 {
                    ArpOperation::REPLY
                } else {
                    ArpOperation::REQUEST
                };
                let mut b = arp_frame(t.src_mac, vlan, oper, t.src_ip, tpa);
                let l3 = if vlan != 0 { 18 } else { 14 };
                let what = match kind {
                    0 => "ARP reply",
                    1 if b.len() > l3 + 4 => {
                        b[l3 + 4] = 8; // hlen 8
                        "ARP request with hlen 8"
                    }
                    2 => {
                        b.truncate(l3 + rng.gen_range(8..28));
                        "truncated ARP request"
                    }
                    3 if b.len() > l3 + 1 => {
                        b[l3 + 1] = 6; // htype 6
                        "ARP request with htype 6"
                    }
                    _ => "ARP request",
                };
                ev.push(frame(
                    format!(
                        "{what} #{k} for {}.{}.{}.{} vlan {vlan}",
                        tpa[0], tpa[1], tpa[2], tpa[3]
                    ),
                    b,
                ));
            }
            50..=64 => {
                let (b, what) = foreign(rng, &t);
                ev.push(frame(format!("{what} #{k} from {}", c.name), b));
            }
            65..=81 => ev.push(Step::TimerKick),
            82..=89 => ev.push(Step::TimerTicks {
                period: rng.gen_range(3_000..=20_000),
                ticks: rng.gen_range(1..=4),
            }),
            _ => {
                // The responder moves to another address, or is turned off.
                nic_ip = if rng.gen_bool(0.3) {
                    [0, 0, 0, 0]
                } else {
                    *ips.choose(rng).unwrap_or(&nic_ip)
                };
                ev.push(Step::NicAddr {
                    mac: NIC_MAC,
                    ip: nic_ip,
                });
            }
        }
    }
    ev
}

pub(super) fn frame(label: String, bytes: Vec<u8>) -> Step {
    Step::Frame(Frame { label, bytes })
}

pub(super) fn flag_names(f: u8) -> String {
    let names = [
        (SYN, "SYN"),
        (ACK, "ACK"),
        (PSH, "PSH"),
        (URG, "URG"),
        (FIN, "FIN"),
        (RST, "RST"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect();
    v.join("|")
}

/// Rewrite the IPv4 header checksum (with etherparse) after a field was changed, so the frame
/// fails the check the change was made for rather than the checksum.
pub(super) fn fix_ip_csum(bytes: &mut [u8], l3: usize) {
    if let Some(hdr) = bytes.get(l3..) {
        if let Ok((h, _)) = Ipv4Header::from_slice(hdr) {
            let c = h.calc_header_checksum().to_be_bytes();
            bytes[l3 + 10] = c[0];
            bytes[l3 + 11] = c[1];
        }
    }
}
