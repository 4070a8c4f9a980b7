//! A `tx_cmd` as numbers (`Cmd`): random commands, their 48-byte entries, and the references
//! each is checked against: the options and TCP header asked for, the frame built by
//! etherparse, the ARP reply assembled by hand from the docs table and built by etherparse, the
//! Rust model's command, and the frame length.

use crate::*;

/// One command, as numbers.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    pub vlan: u16,
    /// `tx_kind`: ARP builds an ARP reply, anything else a TCP segment.
    pub kind: u8,
    pub src_ip: u32,
    pub dst_ip: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub flags: u8,
    pub opts: u8,
    pub mss: u16,
    pub wscale: u8,
}

impl Cmd {
    pub fn random(rng: &mut ChaCha8Rng) -> Cmd {
        let vlan = match rng.gen_range(0..6) {
            0..=2 => 0,
            3 => rng.gen_range(1..0x1000),
            4 => rng.gen(),                        // PCP/DEI bits set: ignored
            _ => 0x1000 * rng.gen_range(1..16u16), // != 0 but id 0: tagged, id 0
        };
        let flags = match rng.gen_range(0..4) {
            0 => TcpFlags::ACK.bits(),
            1 => (TcpFlags::SYN | TcpFlags::ACK).bits(),
            _ => rng.gen(),
        };
        let opts = if rng.gen_bool(0.2) {
            rng.gen() // junk above the two defined bits
        } else {
            rng.gen_range(0..4)
        };
        let kind = match rng.gen_range(0..10) {
            0..=2 => TxKind::Arp.code(),
            3 => rng.gen_range(2..=255), // not a defined kind: a TCP segment
            _ => TxKind::Tcp.code(),
        };
        Cmd {
            dst_mac: rng.gen(),
            src_mac: rng.gen(),
            vlan,
            kind,
            src_ip: rng.gen(),
            dst_ip: rng.gen(),
            src_port: rng.gen(),
            dst_port: rng.gen(),
            seq: rng.gen(),
            ack: rng.gen(),
            window: rng.gen(),
            flags,
            opts,
            mss: rng.gen(),
            wscale: if rng.gen_bool(0.8) {
                rng.gen_range(0..=14)
            } else {
                rng.gen()
            },
        }
    }

    /// The 48-byte `tx_cmd` entry (reserved bytes random: they must not matter).
    pub fn bytes(&self, rng: &mut ChaCha8Rng) -> Vec<u8> {
        let mut b = vec![0u8; TxCmd::SIZE];
        rng.fill(&mut b[..]);
        // The reserved fields keep the random bytes: the entry takes them from the fill.
        let (r1, r2) = (tx_cmd::RSVD, tx_cmd::RSVD2);
        let e = TxCmd {
            dst_mac: self.dst_mac,
            src_mac: self.src_mac,
            vlan: self.vlan,
            kind: TxKind::Tcp, // replaced below
            rsvd: b[r1.0],
            src_ip: self.src_ip.into(),
            dst_ip: self.dst_ip.into(),
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            window: self.window,
            flags: TcpFlags::from_bits_retain(self.flags),
            opts: TxOpts::from_bits_retain(self.opts),
            mss: self.mss,
            wscale: self.wscale,
            rsvd2: b[r2.0..r2.0 + r2.1].try_into().unwrap(),
        };
        e.emit(&mut b);
        // KIND may be any byte (2..=255 is no defined kind and builds a TCP segment), which
        // `TxKind` cannot hold: written raw over the emitted code.
        b[tx_cmd::KIND.0] = self.kind;
        b
    }

    pub fn has_mss(&self) -> bool {
        TxOpts::from_bits_retain(self.opts).contains(TxOpts::MSS)
    }

    pub fn has_ws(&self) -> bool {
        TxOpts::from_bits_retain(self.opts).contains(TxOpts::WS)
    }

    /// The option bytes docs/tcp-receive.md asks for.
    pub fn option_bytes(&self) -> Vec<u8> {
        let mut o = Vec::new();
        if self.has_mss() {
            o.extend_from_slice(&[2, 4]);
            o.extend_from_slice(&self.mss.to_be_bytes());
        }
        if self.has_ws() {
            o.extend_from_slice(&[1, 3, 3, self.wscale]);
        }
        o
    }

    /// The TCP header, as etherparse builds it (checksum still 0).
    pub fn tcp_header(&self) -> TcpHeader {
        let mut tcp = TcpHeader::new(self.src_port, self.dst_port, self.seq, self.window);
        tcp.acknowledgment_number = self.ack;
        let f = TcpFlags::from_bits_retain(self.flags);
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
        if self.has_mss() {
            el.push(TcpOptionElement::MaximumSegmentSize(self.mss));
        }
        if self.has_ws() {
            el.push(TcpOptionElement::Noop);
            el.push(TcpOptionElement::WindowScale(self.wscale));
        }
        tcp.set_options(&el).expect("options");
        tcp
    }

    /// The whole frame built by etherparse (which computes both checksums).
    pub fn etherparse_frame(&self) -> Vec<u8> {
        let mut ip = Ipv4Header::new(
            0,
            param::IP_TTL as u8,
            IpNumber::TCP,
            self.src_ip.to_be_bytes(),
            self.dst_ip.to_be_bytes(),
        )
        .expect("ipv4 header");
        ip.identification = 0;
        ip.dont_fragment = true;
        let eth = PacketBuilder::ethernet2(self.src_mac, self.dst_mac);
        let ipv4 = IpHeaders::Ipv4(ip, Default::default());
        let mut f = Vec::new();
        if self.vlan != 0 {
            eth.single_vlan(VlanId::try_new(self.vlan & 0x0FFF).expect("vlan id"))
                .ip(ipv4)
                .tcp_header(self.tcp_header())
                .write(&mut f, &[])
        } else {
            eth.ip(ipv4)
                .tcp_header(self.tcp_header())
                .write(&mut f, &[])
        }
        .expect("write frame");
        f
    }

    pub fn is_arp(&self) -> bool {
        TxKind::try_from(self.kind) == Ok(TxKind::Arp)
    }

    /// The ARP reply as the docs table lists it, assembled by hand.
    pub fn arp_table_frame(&self) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&self.dst_mac);
        f.extend_from_slice(&self.src_mac);
        if self.vlan != 0 {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&(self.vlan & 0x0FFF).to_be_bytes());
        }
        f.extend_from_slice(&[0x08, 0x06]);
        f.extend_from_slice(&[0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02]);
        f.extend_from_slice(&self.src_mac);
        f.extend_from_slice(&self.src_ip.to_be_bytes());
        f.extend_from_slice(&self.dst_mac);
        f.extend_from_slice(&self.dst_ip.to_be_bytes());
        f
    }

    /// The ARP reply built by etherparse.
    pub fn etherparse_arp_frame(&self) -> Vec<u8> {
        let arp = ArpPacket::new(
            ArpHardwareId::ETHERNET,
            EtherType::IPV4,
            ArpOperation::REPLY,
            &self.src_mac,
            &self.src_ip.to_be_bytes(),
            &self.dst_mac,
            &self.dst_ip.to_be_bytes(),
        )
        .expect("arp packet");
        let eth = PacketBuilder::ethernet2(self.src_mac, self.dst_mac);
        let mut f = Vec::new();
        if self.vlan != 0 {
            eth.single_vlan(VlanId::try_new(self.vlan & 0x0FFF).expect("vlan id"))
                .arp(arp)
                .write(&mut f)
        } else {
            eth.arp(arp).write(&mut f)
        }
        .expect("write arp");
        f
    }

    /// The same command as the Rust model's `TxCmd`.
    pub fn model(&self) -> buflet_model::tx::TxCmd {
        buflet_model::tx::TxCmd {
            dst_mac: self.dst_mac,
            src_mac: self.src_mac,
            vlan: self.vlan,
            kind: self.kind,
            src_ip: self.src_ip,
            dst_ip: self.dst_ip,
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            window: self.window,
            flags: self.flags,
            opts: self.opts,
            mss: self.mss,
            wscale: self.wscale,
        }
    }

    pub fn frame_len(&self) -> usize {
        if self.is_arp() {
            return 42 + 4 * usize::from(self.vlan != 0);
        }
        54 + 4 * usize::from(self.vlan != 0)
            + 4 * usize::from(self.has_mss())
            + 4 * usize::from(self.has_ws())
    }
}
