//! RTL test of `tx_builder` at DATA_WIDTH 64 and 512 (models `tx_builder_w64`,
//! `tx_builder_w512`).
//!
//! Random `tx_cmd` entries (spec layout; random VLAN ids including values
//! above 0x0FFF, random FLAGS, every OPTS combination plus junk bits, junk in
//! the reserved bytes) are offered with random idle cycles while the MAC side
//! applies random backpressure. Every frame is checked three ways:
//! - parsed with etherparse: every header field equals the command, the
//!   options are exactly MSS / NOP+WS as asked, there is no payload and no
//!   padding, and both checksums equal etherparse's own calculation;
//! - byte for byte against the same frame built by etherparse's PacketBuilder;
//! - the AXI-Stream rules: packed words (all full but the last), stable
//!   while stalled, and `ev_tx_frame`/`ev_tx_bytes` exactly on the last word.
//!
//! A second run with no idle cycles and no backpressure checks one word per
//! cycle with back-to-back frames.
//!
//! ARP replies (docs/rx-paths.md "Reply frame", `KIND = ARP`) are mixed into
//! the same runs, their TCP fields random (they must not matter). Each is
//! parsed back with etherparse's ARP support (operation REPLY, sender =
//! SRC_MAC/SRC_IP, target = DST_MAC/DST_IP), compared byte for byte with the
//! docs table assembled by hand and with etherparse's PacketBuilder, and
//! counted by `ev_tx_frame`/`ev_tx_bytes` like any frame. Every frame, TCP or
//! ARP, is also compared with the Rust model's `TxCmd::frame`. KIND values
//! other than TCP and ARP build a TCP segment, as in the model.

use buflet_sim::{Model, Port};
use buflet_spec::{param, tx_cmd, TcpFlags, TxCmd, TxKind, TxOpts};
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, IpHeaders, IpNumber, Ipv4Header, NetHeaders,
    PacketBuilder, PacketHeaders, TcpHeader, TcpOptionElement, TransportHeader, VlanHeader, VlanId,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// One command, as numbers.
#[derive(Debug, Clone)]
struct Cmd {
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    vlan: u16,
    /// `tx_kind`: ARP builds an ARP reply, anything else a TCP segment.
    kind: u8,
    src_ip: u32,
    dst_ip: u32,
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    window: u16,
    flags: u8,
    opts: u8,
    mss: u16,
    wscale: u8,
}

impl Cmd {
    fn random(rng: &mut ChaCha8Rng) -> Cmd {
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
    fn bytes(&self, rng: &mut ChaCha8Rng) -> Vec<u8> {
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

    fn has_mss(&self) -> bool {
        TxOpts::from_bits_retain(self.opts).contains(TxOpts::MSS)
    }

    fn has_ws(&self) -> bool {
        TxOpts::from_bits_retain(self.opts).contains(TxOpts::WS)
    }

    /// The option bytes docs/tcp-receive.md asks for.
    fn option_bytes(&self) -> Vec<u8> {
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
    fn tcp_header(&self) -> TcpHeader {
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
    fn etherparse_frame(&self) -> Vec<u8> {
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

    fn is_arp(&self) -> bool {
        TxKind::try_from(self.kind) == Ok(TxKind::Arp)
    }

    /// The ARP reply as the docs table lists it, assembled by hand.
    fn arp_table_frame(&self) -> Vec<u8> {
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
    fn etherparse_arp_frame(&self) -> Vec<u8> {
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
    fn model(&self) -> buflet_model::tx::TxCmd {
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

    fn frame_len(&self) -> usize {
        if self.is_arp() {
            return 42 + 4 * usize::from(self.vlan != 0);
        }
        54 + 4 * usize::from(self.vlan != 0)
            + 4 * usize::from(self.has_mss())
            + 4 * usize::from(self.has_ws())
    }
}

/// Parses a transmitted frame with etherparse and checks its length and the
/// Ethernet II / VLAN header against the command; `inner` is the EtherType
/// of the payload (after the tag, when there is one).
fn check_link<'a>(ctx: &str, f: &'a [u8], c: &Cmd, inner: EtherType) -> PacketHeaders<'a> {
    assert_eq!(f.len(), c.frame_len(), "{ctx}: frame length (no padding)");
    let h = PacketHeaders::from_ethernet_slice(f).expect("etherparse parse");
    let Some(etherparse::LinkHeader::Ethernet2(eth)) = &h.link else {
        panic!("{ctx}: no Ethernet II header")
    };
    assert_eq!(eth.destination, c.dst_mac, "{ctx}: destination MAC");
    assert_eq!(eth.source, c.src_mac, "{ctx}: source MAC");
    match (h.vlan(), c.vlan) {
        (None, 0) => assert_eq!(eth.ether_type, inner, "{ctx}: EtherType"),
        (Some(VlanHeader::Single(v)), vlan) if vlan != 0 => {
            assert_eq!(eth.ether_type, EtherType::VLAN_TAGGED_FRAME, "{ctx}: TPID");
            assert_eq!(v.vlan_id.value(), vlan & 0x0FFF, "{ctx}: VLAN id");
            assert_eq!(v.pcp.value(), 0, "{ctx}: PCP");
            assert!(!v.drop_eligible_indicator, "{ctx}: DEI");
            assert_eq!(v.ether_type, inner, "{ctx}: inner EtherType");
        }
        (v, vlan) => panic!("{ctx}: VLAN header {v:?} for VLAN {vlan:#x}"),
    }
    h
}

/// Parses a transmitted ARP reply with etherparse and checks every field
/// against the command; then the bytes against the docs table and etherparse.
fn check_arp_frame(ctx: &str, f: &[u8], c: &Cmd) {
    let h = check_link(ctx, f, c, EtherType::ARP);
    let Some(NetHeaders::Arp(arp)) = &h.net else {
        panic!("{ctx}: not ARP")
    };
    assert_eq!(arp.hw_addr_type, ArpHardwareId::ETHERNET, "{ctx}: htype");
    assert_eq!(arp.proto_addr_type, EtherType::IPV4, "{ctx}: ptype");
    let a = arp.try_eth_ipv4().expect("Ethernet/IPv4 ARP");
    assert_eq!(a.operation, ArpOperation::REPLY, "{ctx}: operation");
    assert_eq!(a.sender_mac, c.src_mac, "{ctx}: sender MAC");
    assert_eq!(a.sender_ipv4, c.src_ip.to_be_bytes(), "{ctx}: sender IP");
    assert_eq!(a.target_mac, c.dst_mac, "{ctx}: target MAC");
    assert_eq!(a.target_ipv4, c.dst_ip.to_be_bytes(), "{ctx}: target IP");
    assert!(h.transport.is_none(), "{ctx}: transport header");
    assert!(
        h.payload.slice().is_empty(),
        "{ctx}: bytes after the ARP packet"
    );
    assert_eq!(
        f,
        &c.arp_table_frame()[..],
        "{ctx}: bytes vs the docs table"
    );
    assert_eq!(
        f,
        &c.etherparse_arp_frame()[..],
        "{ctx}: bytes vs etherparse"
    );
}

/// Parses a transmitted frame with etherparse and checks every field against
/// the command, and both checksums against etherparse's calculation.
fn check_frame(ctx: &str, f: &[u8], c: &Cmd) {
    assert_eq!(f, &c.model().frame()[..], "{ctx}: bytes vs the Rust model");
    if c.is_arp() {
        return check_arp_frame(ctx, f, c);
    }
    let h = check_link(ctx, f, c, EtherType::IPV4);
    let Some(NetHeaders::Ipv4(ip, _)) = &h.net else {
        panic!("{ctx}: not IPv4")
    };
    assert_eq!(ip.header_len(), 20, "{ctx}: IHL");
    assert_eq!(ip.dscp.value(), 0, "{ctx}: DSCP");
    assert_eq!(ip.ecn.value(), 0, "{ctx}: ECN");
    let tcp_len = 20 + c.option_bytes().len();
    assert_eq!(
        usize::from(ip.total_len),
        20 + tcp_len,
        "{ctx}: total length"
    );
    assert_eq!(ip.identification, 0, "{ctx}: ID");
    assert!(ip.dont_fragment, "{ctx}: DF");
    assert!(!ip.more_fragments, "{ctx}: MF");
    assert_eq!(ip.fragment_offset.value(), 0, "{ctx}: fragment offset");
    assert_eq!(u64::from(ip.time_to_live), param::IP_TTL, "{ctx}: TTL");
    assert_eq!(ip.protocol, IpNumber::TCP, "{ctx}: protocol");
    assert_eq!(ip.source, c.src_ip.to_be_bytes(), "{ctx}: source IP");
    assert_eq!(
        ip.destination,
        c.dst_ip.to_be_bytes(),
        "{ctx}: destination IP"
    );
    assert_eq!(
        ip.header_checksum,
        ip.calc_header_checksum(),
        "{ctx}: IPv4 header checksum"
    );
    let Some(TransportHeader::Tcp(tcp)) = &h.transport else {
        panic!("{ctx}: not TCP")
    };
    assert_eq!(tcp.source_port, c.src_port, "{ctx}: source port");
    assert_eq!(tcp.destination_port, c.dst_port, "{ctx}: destination port");
    assert_eq!(tcp.sequence_number, c.seq, "{ctx}: SEQ");
    assert_eq!(tcp.acknowledgment_number, c.ack, "{ctx}: ACK");
    assert_eq!(tcp.header_len(), tcp_len, "{ctx}: data offset");
    assert_eq!(f[f.len() - tcp_len + 13], c.flags, "{ctx}: flags byte");
    let want = c.tcp_header();
    assert_eq!(
        (tcp.fin, tcp.syn, tcp.rst, tcp.psh, tcp.ack, tcp.urg, tcp.ece, tcp.cwr, tcp.ns),
        (want.fin, want.syn, want.rst, want.psh, want.ack, want.urg, want.ece, want.cwr, false),
        "{ctx}: flags"
    );
    assert_eq!(tcp.window_size, c.window, "{ctx}: window");
    assert_eq!(tcp.urgent_pointer, 0, "{ctx}: urgent pointer");
    assert_eq!(
        tcp.options.as_slice(),
        &c.option_bytes()[..],
        "{ctx}: options"
    );
    assert!(h.payload.slice().is_empty(), "{ctx}: payload");
    assert_eq!(
        tcp.checksum,
        tcp.calc_checksum_ipv4(ip, &[]).expect("tcp checksum"),
        "{ctx}: TCP checksum"
    );
    assert_eq!(f, &c.etherparse_frame()[..], "{ctx}: bytes vs etherparse");
}

struct Ports {
    clk: Port,
    rst: Port,
    cmd_valid: Port,
    cmd_ready: Port,
    cmd_data: Port,
    tdata: Port,
    tkeep: Port,
    tvalid: Port,
    tready: Port,
    tlast: Port,
    ev_frame: Port,
    ev_bytes: Port,
}

impl Ports {
    fn new(m: &Model) -> Ports {
        let p = |n: &str| m.port(n).unwrap_or_else(|e| panic!("{e}"));
        Ports {
            clk: p("clk"),
            rst: p("rst"),
            cmd_valid: p("s_cmd_valid"),
            cmd_ready: p("s_cmd_ready"),
            cmd_data: p("s_cmd_data"),
            tdata: p("m_axis_tx_tdata"),
            tkeep: p("m_axis_tx_tkeep"),
            tvalid: p("m_axis_tx_tvalid"),
            tready: p("m_axis_tx_tready"),
            tlast: p("m_axis_tx_tlast"),
            ev_frame: p("ev_tx_frame"),
            ev_bytes: p("ev_tx_bytes"),
        }
    }
}

fn low_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Sends `n` random commands; returns the cycles taken.
fn run(prefix: &str, kw: usize, seed: u64, n: usize, idle_p: f64, stall_p: f64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cmds: Vec<Cmd> = (0..n).map(|_| Cmd::random(&mut rng)).collect();
    let st = run_cmds(prefix, kw, seed, &cmds, idle_p, stall_p);
    assert!(
        st.opts_seen.iter().all(|&k| k > 0) && st.tagged > 0 && st.tagged < n,
        "{prefix}: coverage {:?}, {} tagged",
        st.opts_seen,
        st.tagged
    );
    assert!(
        st.arp > n / 10 && st.arp_tagged > 0 && st.arp_tagged < st.arp,
        "{prefix}: {} ARP replies, {} tagged",
        st.arp,
        st.arp_tagged
    );
    st.cycles
}

/// What a run saw.
struct Stats {
    cycles: u64,
    /// TCP segments by OPTS & 3.
    opts_seen: [usize; 4],
    /// Tagged frames (TCP or ARP).
    tagged: usize,
    arp: usize,
    arp_tagged: usize,
}

/// Sends `cmds` with random idle cycles and backpressure, checking every frame.
fn run_cmds(prefix: &str, kw: usize, seed: u64, cmds: &[Cmd], idle_p: f64, stall_p: f64) -> Stats {
    let n = cmds.len();
    let mut m = Model::new(prefix).expect("model built (sim/models.txt)");
    let p = Ports::new(&m);
    assert_eq!(p.tdata.width() as usize, kw * 8, "{prefix}: bus width");
    assert_eq!(p.cmd_data.width() as usize, TxCmd::SIZE * 8);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7e57);
    m.set(p.rst, 1);
    for _ in 0..3 {
        m.tick(p.clk);
    }
    m.set(p.rst, 0);

    let mut next = 0usize; // next command to offer
    let mut offered: Option<Vec<u8>> = None; // held stable until accepted
    let mut sent: VecDeque<usize> = VecDeque::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut done = 0usize;
    let mut events = 0usize;
    let mut stalled: Option<(Vec<u8>, u64, u64)> = None; // word presented but not taken
    let mut word = vec![0u8; kw];
    let mut cycles = 0u64;
    let mut opts_seen = [0usize; 4];
    let mut tagged = 0usize;
    let (mut arp, mut arp_tagged) = (0usize, 0usize);
    while done < n {
        cycles += 1;
        assert!(cycles < 200 * n as u64 + 1000, "{prefix}: timeout");
        if offered.is_none() && next < n && !rng.gen_bool(idle_p) {
            offered = Some(cmds[next].bytes(&mut rng));
        }
        match &offered {
            Some(b) => {
                m.set(p.cmd_valid, 1);
                m.set_bytes(p.cmd_data, b);
            }
            None => {
                let mut junk = vec![0u8; TxCmd::SIZE];
                rng.fill(&mut junk[..]);
                m.set(p.cmd_valid, 0);
                m.set_bytes(p.cmd_data, &junk);
            }
        }
        let ready = !rng.gen_bool(stall_p);
        m.set(p.tready, u64::from(ready));
        m.eval();

        let valid = m.get(p.tvalid) == 1;
        let keep = m.get(p.tkeep);
        let last = m.get(p.tlast) == 1;
        m.get_bytes(p.tdata, &mut word);
        // a stalled word stays exactly as it was
        if let Some((w, k, l)) = stalled.take() {
            assert!(valid, "{prefix}: tvalid dropped while stalled");
            assert_eq!(
                (k, l),
                (keep, u64::from(last)),
                "{prefix}: keep/last changed"
            );
            let nb = k.count_ones() as usize;
            assert_eq!(
                &word[..nb],
                &w[..nb],
                "{prefix}: data changed while stalled"
            );
        }
        let fire = valid && ready;
        assert_eq!(
            m.get(p.ev_frame),
            u64::from(fire && last),
            "{prefix}: ev_tx_frame"
        );
        if valid && !ready {
            stalled = Some((word.clone(), keep, u64::from(last)));
        }
        if fire {
            let nb = keep.count_ones() as usize;
            assert!(nb >= 1, "{prefix}: empty word");
            assert_eq!(keep, low_mask(nb), "{prefix}: keep not a low mask");
            if !last {
                assert_eq!(nb, kw, "{prefix}: a word before the last is not full");
            }
            cur.extend_from_slice(&word[..nb]);
            if last {
                let ci = sent.pop_front().expect("a frame without a command");
                let c = &cmds[ci];
                let ctx = format!("{prefix}: frame {ci} ({c:?})");
                assert_eq!(m.get(p.ev_bytes) as usize, cur.len(), "{ctx}: ev_tx_bytes");
                check_frame(&ctx, &cur, c);
                if c.is_arp() {
                    arp += 1;
                    arp_tagged += usize::from(c.vlan != 0);
                } else {
                    opts_seen[usize::from(c.opts & 3)] += 1;
                }
                tagged += usize::from(c.vlan != 0);
                events += 1;
                cur.clear();
                done += 1;
            }
        }
        if offered.is_some() && m.get(p.cmd_ready) == 1 {
            sent.push_back(next);
            next += 1;
            offered = None;
        }
        m.tick(p.clk);
    }
    // nothing more comes out
    m.set(p.cmd_valid, 0);
    m.set(p.tready, 1);
    for _ in 0..8 {
        m.eval();
        assert_eq!(m.get(p.tvalid), 0, "{prefix}: spurious output");
        assert_eq!(m.get(p.ev_frame), 0, "{prefix}: spurious event");
        m.tick(p.clk);
    }
    assert_eq!(events, n);
    assert!(sent.is_empty());
    eprintln!(
        "{prefix}: {n} frames in {cycles} cycles, opts {opts_seen:?}, {tagged} tagged, \
         {arp} ARP replies ({arp_tagged} tagged)"
    );
    Stats {
        cycles,
        opts_seen,
        tagged,
        arp,
        arp_tagged,
    }
}

#[test]
fn tx_builder_w64_random() {
    run("tx_builder_w64", 8, 1, 600, 0.3, 0.4);
}

#[test]
fn tx_builder_w512_random() {
    run("tx_builder_w512", 64, 2, 600, 0.3, 0.4);
}

/// Commands always offered, MAC always ready: one word per cycle, frames
/// back to back (a few cycles of pipeline latency at the start only).
fn full_rate(prefix: &str, kw: usize, seed: u64) {
    let n = 400;
    // the same commands as run() will draw
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let words: usize = (0..n)
        .map(|_| Cmd::random(&mut rng).frame_len().div_ceil(kw))
        .sum();
    let cycles = run(prefix, kw, seed, n, 0.0, 0.0);
    assert!(
        cycles as usize <= words + 4,
        "{prefix}: {cycles} cycles for {words} words"
    );
}

#[test]
fn tx_builder_w64_full_rate() {
    full_rate("tx_builder_w64", 8, 3);
}

#[test]
fn tx_builder_w512_full_rate() {
    full_rate("tx_builder_w512", 64, 4);
}

/// Hand-written ARP replies (untagged, tagged, VLAN with PCP bits, all-ones
/// and all-zero addresses) whose bytes are written out here from the docs
/// table, sent under heavy backpressure with idle cycles, between TCP segments.
fn arp_table(prefix: &str, kw: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = Cmd {
        dst_mac: [0x02, 0x11, 0x22, 0x33, 0x44, 0x55],
        src_mac: [0x0A, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF],
        vlan: 0,
        kind: TxKind::Arp.code(),
        src_ip: 0x0A00_0001,
        dst_ip: 0xC0A8_0102,
        src_port: 0,
        dst_port: 0,
        seq: 0,
        ack: 0,
        window: 0,
        flags: 0,
        opts: 0,
        mss: 0,
        wscale: 0,
    };
    #[rustfmt::skip]
    let want_untagged: Vec<u8> = vec![
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55,  0x0A, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
        0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
        0x0A, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,  10, 0, 0, 1,
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55,  192, 168, 1, 2,
    ];
    assert_eq!(want_untagged.len(), 42);
    assert_eq!(base.arp_table_frame(), want_untagged);
    let tagged = Cmd {
        vlan: 0xE123, // PCP/DEI bits are not sent: TCI 0x0123
        ..base.clone()
    };
    let want_tagged: Vec<u8> = [
        &want_untagged[..12],
        &[0x81, 0x00, 0x01, 0x23],
        &want_untagged[12..],
    ]
    .concat();
    assert_eq!(tagged.arp_table_frame(), want_tagged);
    let mut cmds = vec![
        base.clone(),
        tagged,
        Cmd {
            dst_mac: [0xFF; 6],
            src_mac: [0xFF; 6],
            src_ip: u32::MAX,
            dst_ip: u32::MAX,
            vlan: 0x0FFF,
            ..base.clone()
        },
        Cmd {
            dst_mac: [0; 6],
            src_mac: [0; 6],
            src_ip: 0,
            dst_ip: 0,
            ..base.clone()
        },
        // TCP fields set: ignored by an ARP command
        Cmd {
            src_port: 0xFFFF,
            dst_port: 0xFFFF,
            seq: u32::MAX,
            ack: u32::MAX,
            window: 0xFFFF,
            flags: 0xFF,
            opts: 0xFF,
            mss: 0xFFFF,
            wscale: 0xFF,
            vlan: 7,
            ..base.clone()
        },
    ];
    // interleaved with TCP segments
    for i in 0..40 {
        let mut c = Cmd::random(&mut rng);
        if i % 2 == 0 {
            c.kind = TxKind::Arp.code();
        } else {
            c.kind = TxKind::Tcp.code();
        }
        cmds.push(c);
    }
    cmds.push(base);
    let st = run_cmds(prefix, kw, seed, &cmds, 0.3, 0.6);
    assert_eq!(st.arp, 26, "{prefix}: ARP replies");
}

#[test]
fn tx_builder_w64_arp_table() {
    arp_table("tx_builder_w64", 8, 5);
}

#[test]
fn tx_builder_w512_arp_table() {
    arp_table("tx_builder_w512", 64, 6);
}

/// One command at a time, MAC always ready: the first word of an ARP reply,
/// like that of a TCP segment, leaves 3 cycles after the command's handshake,
/// and the frame then takes one cycle per word (the model's tx_builder timing).
fn latency(prefix: &str, kw: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut m = Model::new(prefix).expect("model built (sim/models.txt)");
    let p = Ports::new(&m);
    m.set(p.rst, 1);
    for _ in 0..3 {
        m.tick(p.clk);
    }
    m.set(p.rst, 0);
    m.set(p.tready, 1);
    let mut word = vec![0u8; kw];
    for i in 0..40 {
        let mut c = Cmd::random(&mut rng);
        c.kind = if i % 2 == 0 {
            TxKind::Arp.code()
        } else {
            TxKind::Tcp.code()
        };
        m.set(p.cmd_valid, 1);
        m.set_bytes(p.cmd_data, &c.bytes(&mut rng));
        m.eval();
        assert_eq!(m.get(p.cmd_ready), 1, "{prefix}: command {i} not taken");
        assert_eq!(m.get(p.tvalid), 0);
        m.tick(p.clk);
        m.set(p.cmd_valid, 0);
        let mut t = 0;
        let mut f = Vec::new();
        loop {
            t += 1;
            m.eval();
            if m.get(p.tvalid) == 1 {
                m.get_bytes(p.tdata, &mut word);
                let nb = m.get(p.tkeep).count_ones() as usize;
                if f.is_empty() {
                    assert_eq!(t, 3, "{prefix}: command {i}: first word latency");
                }
                f.extend_from_slice(&word[..nb]);
                if m.get(p.tlast) == 1 {
                    assert_eq!(m.get(p.ev_frame), 1);
                    assert_eq!(m.get(p.ev_bytes) as usize, f.len());
                    m.tick(p.clk);
                    break;
                }
            } else {
                assert!(f.is_empty(), "{prefix}: command {i}: bubble in the frame");
            }
            assert!(t < 20, "{prefix}: command {i}: no frame");
            m.tick(p.clk);
        }
        assert_eq!(
            t - 2,
            c.frame_len().div_ceil(kw),
            "{prefix}: command {i}: one word per cycle"
        );
        check_frame(&format!("{prefix}: command {i}"), &f, &c);
    }
}

#[test]
fn tx_builder_w64_latency() {
    latency("tx_builder_w64", 8, 7);
}

#[test]
fn tx_builder_w512_latency() {
    latency("tx_builder_w512", 64, 8);
}
