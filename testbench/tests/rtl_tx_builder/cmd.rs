//! Commands (`buflet_spec::TxCmd`, KIND any byte): random ones, their 48-byte entries, and the
//! references each is checked against: the options and TCP header asked for, the frame built by
//! etherparse, the ARP reply assembled by hand from the docs table and built by etherparse, and
//! the frame length; random payloads for the data segments and their PAY_SUM, computed here
//! independently. (The Rust model's frame is `buflet_model::tx::frame_with`.)

use crate::*;

/// A random command: random VLAN ids (PCP/DEI bits and id 0 included), flags, options with junk
/// bits, and KIND TCP, ARP or a value no kind has (which builds a TCP segment).
pub fn random_cmd(rng: &mut ChaCha8Rng) -> TxCmd {
    let vlan: u16 = match rng.gen_range(0..6) {
        0..=2 => 0,
        3 => rng.gen_range(1..0x1000),
        4 => rng.gen(),                        // PCP/DEI bits set: ignored
        _ => 0x1000 * rng.gen_range(1..16u16), // != 0 but id 0: tagged, id 0
    };
    let flags: u8 = match rng.gen_range(0..4) {
        0 => TcpFlags::ACK.bits(),
        1 => (TcpFlags::SYN | TcpFlags::ACK).bits(),
        _ => rng.gen(),
    };
    let opts: u8 = if rng.gen_bool(0.2) {
        rng.gen() // junk above the two defined bits
    } else {
        rng.gen_range(0..4)
    };
    let kind = match rng.gen_range(0..10) {
        0..=2 => TxKind::Arp.code(),
        3 => rng.gen_range(2..=255), // not a defined kind: a TCP segment
        _ => TxKind::Tcp.code(),
    };
    TxCmd {
        dst_mac: rng.gen(),
        src_mac: rng.gen(),
        vlan,
        kind,
        src_ip: rng.gen::<u32>().into(),
        dst_ip: rng.gen::<u32>().into(),
        src_port: rng.gen(),
        dst_port: rng.gen(),
        seq: rng.gen(),
        ack: rng.gen(),
        window: rng.gen(),
        flags: TcpFlags::from_bits_retain(flags),
        opts: TxOpts::from_bits_retain(opts),
        mss: rng.gen(),
        wscale: if rng.gen_bool(0.8) {
            rng.gen_range(0..=14)
        } else {
            rng.gen()
        },
        ..Default::default()
    }
}

/// The 48-byte `tx_cmd` entry of `c` (reserved bytes random: they must not matter).
pub fn entry_bytes(c: &TxCmd, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = vec![0u8; TxCmd::SIZE];
    rng.fill(&mut b[..]);
    // The reserved fields keep the random bytes: the entry takes them from the fill.
    let (r1, r2) = (tx_cmd::RSVD, tx_cmd::RSVD2);
    let e = TxCmd {
        rsvd: b[r1.0],
        rsvd2: b[r2.0],
        ..*c
    };
    e.emit(&mut b);
    b
}

/// The one's-complement sum of `p` as big-endian 16-bit words (an odd last byte padded with
/// 0), folded to 16 bits, not complemented: PAY_SUM (computed here by 32-bit word pairs, not
/// as the model does).
pub fn payload_sum(p: &[u8]) -> u16 {
    let mut s: u64 = 0;
    for q in p.chunks(4) {
        let mut w = [0u8; 4];
        w[..q.len()].copy_from_slice(q);
        s += u64::from(u32::from_be_bytes(w));
    }
    // 2^32 = 2^16 * 2^16 = 1 modulo 2^16 - 1: fold 32 bits, then 16
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

/// A random payload length for a data segment: small and odd ones, some thousands, and up to
/// `TX_MAX_SEG`.
pub fn random_pay_len(rng: &mut ChaCha8Rng) -> usize {
    let max = param::TX_MAX_SEG as usize;
    match rng.gen_range(0..10) {
        0..=2 => rng.gen_range(1..=16),
        3 => max - rng.gen_range(0..4),
        4..=8 => rng.gen_range(1..=3000),
        _ => rng.gen_range(1..=max),
    }
}

/// A random command with its payload: `random_cmd`, and with chance `data_p` a TCP segment
/// with a random payload (PAY_LEN and PAY_SUM set). An ARP command may carry a junk PAY_LEN
/// and PAY_SUM (ignored), a TCP command without payload a junk PAY_SUM (ignored).
pub fn random_item(rng: &mut ChaCha8Rng, data_p: f64) -> (TxCmd, Vec<u8>) {
    let mut c = random_cmd(rng);
    if !is_arp(&c) && rng.gen_bool(data_p) {
        let mut p = vec![0u8; random_pay_len(rng)];
        rng.fill(&mut p[..]);
        c.pay_len = p.len() as u16;
        c.pay_sum = payload_sum(&p);
        return (c, p);
    }
    if rng.gen_bool(0.3) {
        if is_arp(&c) {
            c.pay_len = rng.gen();
        }
        c.pay_sum = rng.gen();
    }
    (c, Vec::new())
}

/// `KIND = ARP`: the command builds an ARP reply (any other value a TCP segment).
pub fn is_arp(c: &TxCmd) -> bool {
    c.kind() == Ok(TxKind::Arp)
}

/// The option bytes docs/tcp-receive.md asks for.
pub fn option_bytes(c: &TxCmd) -> Vec<u8> {
    let mut o = Vec::new();
    if c.opts.contains(TxOpts::MSS) {
        o.extend_from_slice(&[2, 4]);
        o.extend_from_slice(&c.mss.to_be_bytes());
    }
    if c.opts.contains(TxOpts::WS) {
        o.extend_from_slice(&[1, 3, 3, c.wscale]);
    }
    o
}

/// The TCP header, as etherparse builds it (checksum still 0).
pub fn tcp_header(c: &TxCmd) -> TcpHeader {
    let mut tcp = TcpHeader::new(c.src_port, c.dst_port, c.seq, c.window);
    tcp.acknowledgment_number = c.ack;
    let f = c.flags;
    tcp.fin = f.contains(TcpFlags::FIN);
    tcp.syn = f.contains(TcpFlags::SYN);
    tcp.rst = f.contains(TcpFlags::RST);
    tcp.psh = f.contains(TcpFlags::PSH);
    tcp.ack = f.contains(TcpFlags::ACK);
    tcp.urg = f.contains(TcpFlags::URG);
    // ECE and CWR: no `tcp_flag` of the spec, carried as raw bits
    tcp.ece = f.bits() & 0x40 != 0;
    tcp.cwr = f.bits() & 0x80 != 0;
    let mut el = Vec::new();
    if c.opts.contains(TxOpts::MSS) {
        el.push(TcpOptionElement::MaximumSegmentSize(c.mss));
    }
    if c.opts.contains(TxOpts::WS) {
        el.push(TcpOptionElement::Noop);
        el.push(TcpOptionElement::WindowScale(c.wscale));
    }
    tcp.set_options(&el).expect("options");
    tcp
}

/// The whole frame built by etherparse (which computes both checksums), `payload` after the
/// TCP header.
pub fn etherparse_frame(c: &TxCmd, payload: &[u8]) -> Vec<u8> {
    let mut ip = Ipv4Header::new(
        0,
        param::IP_TTL as u8,
        IpNumber::TCP,
        c.src_ip.octets(),
        c.dst_ip.octets(),
    )
    .expect("ipv4 header");
    ip.identification = 0;
    ip.dont_fragment = true;
    let eth = PacketBuilder::ethernet2(c.src_mac, c.dst_mac);
    let ipv4 = IpHeaders::Ipv4(ip, Default::default());
    let mut f = Vec::new();
    if c.vlan != 0 {
        eth.single_vlan(VlanId::try_new(c.vlan & 0x0FFF).expect("vlan id"))
            .ip(ipv4)
            .tcp_header(tcp_header(c))
            .write(&mut f, payload)
    } else {
        eth.ip(ipv4)
            .tcp_header(tcp_header(c))
            .write(&mut f, payload)
    }
    .expect("write frame");
    f
}

/// The ARP reply as the docs table lists it, assembled by hand.
pub fn arp_table_frame(c: &TxCmd) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&c.dst_mac);
    f.extend_from_slice(&c.src_mac);
    if c.vlan != 0 {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&(c.vlan & 0x0FFF).to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&[0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02]);
    f.extend_from_slice(&c.src_mac);
    f.extend_from_slice(&c.src_ip.octets());
    f.extend_from_slice(&c.dst_mac);
    f.extend_from_slice(&c.dst_ip.octets());
    f
}

/// The ARP reply built by etherparse.
pub fn etherparse_arp_frame(c: &TxCmd) -> Vec<u8> {
    let arp = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        ArpOperation::REPLY,
        &c.src_mac,
        &c.src_ip.octets(),
        &c.dst_mac,
        &c.dst_ip.octets(),
    )
    .expect("arp packet");
    let eth = PacketBuilder::ethernet2(c.src_mac, c.dst_mac);
    let mut f = Vec::new();
    if c.vlan != 0 {
        eth.single_vlan(VlanId::try_new(c.vlan & 0x0FFF).expect("vlan id"))
            .arp(arp)
            .write(&mut f)
    } else {
        eth.arp(arp).write(&mut f)
    }
    .expect("write arp");
    f
}

/// The frame's header length: 42 or 46 bytes for an ARP reply (the whole frame); 54 for a TCP
/// segment, plus 4 for the tag and 4 per option (the payload follows).
pub fn frame_len(c: &TxCmd) -> usize {
    if is_arp(c) {
        return 42 + 4 * usize::from(c.vlan != 0);
    }
    54 + 4 * usize::from(c.vlan != 0)
        + 4 * usize::from(c.opts.contains(TxOpts::MSS))
        + 4 * usize::from(c.opts.contains(TxOpts::WS))
}
