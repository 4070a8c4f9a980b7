//! Hostile requests and frames sprinkled between a case's steps (bad parameters, busy slots, unknown sockets).

use super::*;

/// One noise step: a malformed or foreign frame, an invalid request, or a block write.
pub(super) fn noise(rng: &mut ChaCha8Rng, conns: &[Conn], unused_refs: &[u16]) -> Step {
    let Some(c) = conns.choose(rng) else {
        return Step::Nop;
    };
    let t = c.tuple();
    let l3 = t.l3();
    let l4 = l3 + 20;
    let len = c.stream.len();
    let o = if len > 0 { rng.gen_range(0..len) } else { 0 };
    // An ACK of this connection carrying `payload` at stream offset `off`.
    let ack_at = |off: usize, opts: &Opts, payload: &[u8]| {
        tcp_frame(&t, c.seq_of(off), ACK, c.ack_no(), 100, opts, payload)
    };
    let base = || {
        if len == 0 {
            ack_at(0, &Opts::None, &[1, 2, 3])
        } else {
            let m = (len - o).min(c.seg_max);
            ack_at(o, &c.data_opts(o), &c.stream[o..o + m])
        }
    };
    let mk = |what: &str, bytes: Vec<u8>| frame(format!("{} {what}", c.name), bytes);
    match rng.gen_range(0..100) {
        // Corrupted copies of a segment of this connection.
        0..=39 => {
            let mut b = base();
            let what = match rng.gen_range(0..11) {
                0 => {
                    b[l3 + 10] ^= 0x01;
                    "bad IPv4 checksum"
                }
                1 => {
                    b[l4 + 16] ^= 0x40;
                    "bad TCP checksum"
                }
                2 => {
                    let n = rng.gen_range(1..b.len());
                    b.truncate(n);
                    "truncated"
                }
                3 => {
                    b[l3] = 0x40 | rng.gen_range(0..5u8);
                    "IHL < 5"
                }
                4 => {
                    b[l3] = 0x65;
                    "IP version 6 in an IPv4 EtherType"
                }
                5 => {
                    if rng.gen_bool(0.5) {
                        b[l3 + 6] |= 0x20;
                    } else {
                        b[l3 + 7] = 0x08;
                    }
                    fix_ip_csum(&mut b, l3);
                    "IPv4 fragment"
                }
                6 => {
                    b[l4 + 12] = (rng.gen_range(0..5u8) << 4) | (b[l4 + 12] & 0x0F);
                    "TCP data offset < 5"
                }
                7 => {
                    b[l4 + 12] = 0xF0 | (b[l4 + 12] & 0x0F);
                    "TCP data offset 15"
                }
                8 => {
                    let tot = u16::from_be_bytes([b[l3 + 2], b[l3 + 3]]);
                    let n = tot.saturating_add(rng.gen_range(1..100)).to_be_bytes();
                    b[l3 + 2] = n[0];
                    b[l3 + 3] = n[1];
                    fix_ip_csum(&mut b, l3);
                    "IPv4 total length past the frame"
                }
                9 => {
                    let n = rng.gen_range(20..40u16).to_be_bytes();
                    b[l3 + 2] = n[0];
                    b[l3 + 3] = n[1];
                    fix_ip_csum(&mut b, l3);
                    "IPv4 total length too short for TCP"
                }
                _ => {
                    b.truncate(rng.gen_range(1..14));
                    "runt"
                }
            };
            mk(what, b)
        }
        // Foreign traffic.
        40..=64 => match rng.gen_range(0..8) {
            0 => {
                let b = t.ip().udp(t.src_port, t.dst_port);
                let mut out = Vec::new();
                let _ = b.write(&mut out, &[7u8; 33]);
                mk("UDP to the socket's ports", out)
            }
            1 => {
                let b = t.ip().icmpv4_echo_request(7, 1);
                let mut out = Vec::new();
                let _ = b.write(&mut out, &[1u8; 16]);
                mk("ICMP echo", out)
            }
            2 => {
                let arp = ArpPacket::new(
                    ArpHardwareId::ETHERNET,
                    EtherType::IPV4,
                    ArpOperation::REQUEST,
                    &t.src_mac,
                    &t.src_ip,
                    &[0; 6],
                    &t.dst_ip,
                );
                let mut out = Vec::new();
                if let Ok(a) = arp {
                    let _ = PacketBuilder::ethernet2(t.src_mac, [0xFF; 6])
                        .arp(a)
                        .write(&mut out);
                }
                mk("ARP request", out)
            }
            3 => {
                let (s6, d6) = link_local_v6();
                let b = PacketBuilder::ethernet2(t.src_mac, t.dst_mac)
                    .ipv6(s6, d6, 64)
                    .tcp(t.src_port, t.dst_port, 1, 100);
                let mut out = Vec::new();
                let _ = b.write(&mut out, &[3u8; 20]);
                mk("IPv6 TCP", out)
            }
            4 => {
                let mut u = t;
                u.dst_port = u.dst_port.wrapping_add(1);
                mk(
                    "segment for an unknown socket (port)",
                    tcp_frame(&u, 5, ACK, 1, 100, &Opts::None, &[9u8; 10]),
                )
            }
            5 => {
                let mut u = t;
                u.vlan = if t.vlan == 0 { 77 } else { 0 };
                let b = tcp_frame(&u, c.seq_of(0), SYN, 0, 100, &Opts::None, &[]);
                mk("SYN on the wrong VLAN", b)
            }
            6 => mk("oversize frame", ack_at(0, &Opts::None, &[0x11; 9300])),
            _ => {
                let mut u = t;
                u.src_ip = [192, 168, 0, rng.gen()];
                mk(
                    "SYN from an unknown peer",
                    tcp_frame(&u, 1, SYN, 0, 100, &Opts::None, &[]),
                )
            }
        },
        // Invalid or odd requests.
        65..=89 => match rng.gen_range(0..15) {
            0 => Step::Nop,
            1 => {
                let unknown: Vec<u8> = [0u8, 8, 99, 200, 255]
                    .into_iter()
                    .filter(|&o| {
                        !buflet_spec::consts().any(|c| c.group == "op" && c.value == o as u64)
                    })
                    .collect();
                Step::BadOpcode {
                    opcode: *unknown.choose(rng).unwrap_or(&0),
                }
            }
            2 => Step::PostNb(NbPost {
                sock: c.p.sock_ref,
                slot: NbSlot::Free,
                pages: 0,
                total_bytes: 100,
                list: PageList::Good,
                timeout: 0,
            }),
            3 => Step::PostNb(NbPost {
                sock: c.p.sock_ref,
                slot: NbSlot::Free,
                pages: 1,
                total_bytes: if rng.gen_bool(0.5) { 0 } else { PAGE + 1 },
                list: PageList::Good,
                timeout: 0,
            }),
            4 => Step::PostNb(NbPost {
                sock: c.p.sock_ref,
                slot: NbSlot::Raw(param::DEF_NUM_NBS as u32 + rng.gen_range(0..1000)),
                pages: 1,
                total_bytes: 512,
                list: PageList::Good,
                timeout: 0,
            }),
            5 => Step::PostNb(NbPost {
                sock: c.p.sock_ref,
                slot: NbSlot::Busy,
                pages: 1,
                total_bytes: 512,
                list: PageList::Good,
                timeout: 0,
            }),
            6 => Step::PostNb(NbPost {
                sock: *unused_refs.choose(rng).unwrap_or(&63),
                slot: NbSlot::Free,
                pages: 1,
                total_bytes: 512,
                list: PageList::Good,
                timeout: 0,
            }),
            7 => Step::PostNb(NbPost {
                sock: c.p.sock_ref,
                slot: NbSlot::Free,
                pages: 2,
                total_bytes: rng.gen_range(1..=2 * PAGE),
                list: if rng.gen_bool(0.5) {
                    PageList::UnregisteredPage
                } else {
                    PageList::UnregisteredList
                },
                timeout: 0,
            }),
            8 => {
                // On a slot no connection uses, so the parameter check is what refuses it.
                let mut p = c.p;
                p.sock_ref = *unused_refs.choose(rng).unwrap_or(&63);
                match rng.gen_range(0..5) {
                    0 => p.sock_ref = param::DEF_NUM_SOCKETS as u16 + rng.gen_range(0..500),
                    // Not TCP (and not UDP either, which a later contract adds).
                    1 => p.proto = *[0u8, 1, 99, 255].choose(rng).unwrap_or(&1),
                    2 => p.rcv_buf = 0,
                    3 => p.rcv_buf = (1 << 30) + rng.gen_range(1..1000),
                    _ => p.rcv_wscale = rng.gen_range(15..=255),
                }
                Step::AddSocket(p)
            }
            9 => Step::AddSocket(c.p), // slot busy (or a re-add after a delete)
            10 => Step::DelSocket {
                sock: *unused_refs.choose(rng).unwrap_or(&63),
            },
            // Send requests on a socket that cannot send (no socket, UDP, or not yet
            // established) or broken: refused at once.
            12 | 13 => {
                let bad = [
                    None,
                    Some(TxBad::ZeroLen),
                    Some(TxBad::ShortList),
                    Some(TxBad::Devmem),
                ]
                .choose(rng)
                .copied()
                .flatten();
                // A valid post only where it is refused (no socket there), so a connection
                // whose peer never acknowledges does not start sending.
                let sock = if bad.is_none() || rng.gen_bool(0.5) {
                    *unused_refs.choose(rng).unwrap_or(&63)
                } else {
                    c.p.sock_ref
                };
                Step::TxPost(TxPost {
                    sock,
                    bytes: rng.gen_range(1..=3000),
                    psh: false,
                    first_off: 0,
                    seed: rng.gen(),
                    scatter: false,
                    bad,
                    dev: false,
                    head: Vec::new(),
                })
            }
            14 => Step::SockClose {
                sock: if c.p.proto == UDP || rng.gen_bool(0.5) {
                    *unused_refs.choose(rng).unwrap_or(&63)
                } else {
                    c.p.sock_ref
                },
            },
            _ => Step::DelSocket {
                sock: param::DEF_NUM_SOCKETS as u16 + rng.gen_range(0..100),
            },
        },
        // Block writes of named-buffer pages.
        _ => {
            let bad = if rng.gen_bool(0.35) {
                Some(
                    *[
                        BlkBad::BytesNotMultiple,
                        BlkBad::ZeroLen,
                        BlkBad::Discontiguous,
                        BlkBad::SgMaxShort,
                        BlkBad::Unregistered,
                    ]
                    .choose(rng)
                    .unwrap_or(&BlkBad::ZeroLen),
                )
            } else {
                None
            };
            Step::BlkWrite(BlkParams {
                src_ref: rng.gen_range(0..param::DEF_NUM_NBS as u32),
                blocks: rng.gen_range(1..=MAX_NB_PAGES),
                lba: 8 * rng.gen_range(0..2048u64),
                split: rng.gen_bool(0.3),
                zero_first: rng.gen_bool(0.15),
                bad,
                devmem: rng.gen_bool(0.5),
            })
        }
    }
}
