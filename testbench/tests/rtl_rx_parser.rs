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

use buflet_sim::{Model, Port};
use etherparse::{
    IpHeaders, IpNumber, Ipv4Header, Ipv4Options, NetHeaders, PacketBuilder, PacketHeaders,
    TcpHeader, TransportHeader, VlanId,
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
    let mut frame = Vec::new();
    let eth = PacketBuilder::ethernet2(rng.gen(), rng.gen());
    let ipv4 = IpHeaders::Ipv4(ip, Default::default());
    match vlan {
        Some(v) => eth
            .single_vlan(VlanId::try_new(v).expect("vlan id"))
            .ip(ipv4)
            .tcp_header(tcp)
            .write(&mut frame, &payload),
        None => eth.ip(ipv4).tcp_header(tcp).write(&mut frame, &payload),
    }
    .expect("write frame");
    Tcp {
        frame,
        l3: if vlan.is_some() { 18 } else { 14 },
        ihl4: 20 + ip_opts,
        tcp_len: 20 + tcp_opts + payload_len,
    }
}

/// etherparse's view of a good frame, with its own checksum verification.
fn oracle(frame: &[u8]) -> Fields {
    let h = PacketHeaders::from_ethernet_slice(frame).expect("etherparse parse");
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
    Case {
        what,
        frame,
        reason,
        enable: true,
        deny_after: None,
        model_fields: None,
        allocated: Vec::new(),
        denied: false,
    }
}

fn make_case(rng: &mut ChaCha8Rng) -> Case {
    let kind = rng.gen_range(0..40);
    match kind {
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
            case("udp", f, NO_SOCKET)
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

struct Ports {
    clk: Port,
    rst: Port,
    enable: Port,
    tdata: Port,
    tkeep: Port,
    tvalid: Port,
    tready: Port,
    tlast: Port,
    alloc_req: Port,
    alloc_valid: Port,
    alloc_idx: Port,
    lw_en: Port,
    lw_idx: Port,
    lw_next: Port,
    wr_en: Port,
    wr_addr: Port,
    wr_data: Port,
    meta_valid: Port,
    meta_ready: Port,
    reason: Port,
    len: Port,
    vlan: Port,
    src_ip: Port,
    dst_ip: Port,
    src_port: Port,
    dst_port: Port,
    seq: Port,
    flags: Port,
    pay_off: Port,
    pay_len: Port,
    head: Port,
    tail: Port,
    count: Port,
}

impl Ports {
    fn new(m: &Model) -> Ports {
        let p = |n: &str| m.port(n).unwrap_or_else(|e| panic!("{e}"));
        Ports {
            clk: p("clk"),
            rst: p("rst"),
            enable: p("enable"),
            tdata: p("s_axis_rx_tdata"),
            tkeep: p("s_axis_rx_tkeep"),
            tvalid: p("s_axis_rx_tvalid"),
            tready: p("s_axis_rx_tready"),
            tlast: p("s_axis_rx_tlast"),
            alloc_req: p("alloc_req"),
            alloc_valid: p("alloc_valid"),
            alloc_idx: p("alloc_idx"),
            lw_en: p("link_wr_en"),
            lw_idx: p("link_wr_idx"),
            lw_next: p("link_wr_next"),
            wr_en: p("ram_wr_en"),
            wr_addr: p("ram_wr_addr"),
            wr_data: p("ram_wr_data"),
            meta_valid: p("m_meta_valid"),
            meta_ready: p("m_meta_ready"),
            reason: p("m_meta_reason"),
            len: p("m_meta_len"),
            vlan: p("m_meta_vlan"),
            src_ip: p("m_meta_src_ip"),
            dst_ip: p("m_meta_dst_ip"),
            src_port: p("m_meta_src_port"),
            dst_port: p("m_meta_dst_port"),
            seq: p("m_meta_seq"),
            flags: p("m_meta_flags"),
            pay_off: p("m_meta_pay_off"),
            pay_len: p("m_meta_pay_len"),
            head: p("m_meta_head"),
            tail: p("m_meta_tail"),
            count: p("m_meta_count"),
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

/// Runs the cases through the model; returns the number of cycles.
fn run(prefix: &str, kw: usize, bb: usize, seed: u64, cfg: &Run, mut cases: Vec<Case>) -> u64 {
    let mut m = Model::new(prefix).expect("model");
    let p = Ports::new(&m);
    assert_eq!(p.tdata.width() as usize, kw * 8);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
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
    let mut wi = 0usize; // word within it
    let mut done = 0usize;
    let n_enabled = cases.iter().filter(|c| c.enable).count();
    let mut word = vec![0u8; kw];
    let mut wdata = vec![0u8; kw];
    let mut cycles = 0u64;
    let mut by_reason: HashMap<u8, usize> = HashMap::new();

    while done < n_enabled || fi < cases.len() {
        cycles += 1;
        assert!(cycles < 2_000_000, "{prefix}: timeout");
        // --- input word
        let valid = fi < cases.len() && !rng.gen_bool(cfg.idle_p);
        let mut last = false;
        if valid {
            let c = &cases[fi];
            let nw = c.frame.len().div_ceil(kw);
            let s = wi * kw;
            let e = (s + kw).min(c.frame.len());
            rng.fill(&mut word[..]); // garbage beyond tkeep
            word[..e - s].copy_from_slice(&c.frame[s..e]);
            last = wi + 1 == nw;
            m.set_bytes(p.tdata, &word);
            m.set(p.tkeep, low_mask(e - s));
            m.set(p.tlast, u64::from(last));
            m.set(p.enable, u64::from(c.enable));
        } else {
            rng.fill(&mut word[..]);
            m.set_bytes(p.tdata, &word);
            m.set(p.tkeep, rng.gen::<u64>() & low_mask(kw));
            m.set(p.tlast, rng.gen_range(0..2));
            m.set(p.enable, rng.gen_range(0..2));
        }
        m.set(p.tvalid, u64::from(valid));
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
        let meta_ready = !rng.gen_bool(cfg.stall_p);
        m.set(p.meta_ready, u64::from(meta_ready));
        m.eval();

        // --- observe this edge
        let xfer = valid && m.get(p.tready) == 1;
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
        if m.get(p.lw_en) == 1 {
            let idx = m.get(p.lw_idx);
            assert!(
                !free.contains(&idx),
                "{prefix}: link write to free buflet {idx}"
            );
            links.insert(idx, m.get(p.lw_next));
        }
        if m.get(p.wr_en) == 1 {
            let a = m.get(p.wr_addr) as usize;
            let b = (a * kw) / bb;
            assert!(
                !free.contains(&(b as u64)),
                "{prefix}: RAM write to free buflet {b}"
            );
            m.get_bytes(p.wr_data, &mut wdata);
            ram[a * kw..a * kw + kw].copy_from_slice(&wdata);
        }
        if m.get(p.meta_valid) == 1 && meta_ready {
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
            assert_eq!(m.get(p.reason) as u8, want_reason, "{ctx}: reason");
            *by_reason.entry(want_reason).or_default() += 1;
            assert_eq!(m.get(p.len), c.frame.len().min(65535) as u64, "{ctx}: len");
            if want_reason == NONE {
                let f = match &c.model_fields {
                    Some(f) => f.clone(),
                    None => oracle(&c.frame),
                };
                let got = Fields {
                    vlan: m.get(p.vlan),
                    src_ip: m.get(p.src_ip),
                    dst_ip: m.get(p.dst_ip),
                    src_port: m.get(p.src_port),
                    dst_port: m.get(p.dst_port),
                    seq: m.get(p.seq),
                    flags: m.get(p.flags),
                    pay_off: m.get(p.pay_off),
                    pay_len: m.get(p.pay_len),
                };
                assert_eq!(got, f, "{ctx}: fields");
            }
            // chain
            let need = c.frame.len().div_ceil(bb);
            if !c.denied {
                assert_eq!(c.allocated.len(), need, "{ctx}: buflets allocated");
            }
            let count = m.get(p.count) as usize;
            assert_eq!(count, c.allocated.len(), "{ctx}: count");
            if count == 0 {
                assert_eq!(m.get(p.head), NULL, "{ctx}: head of empty chain");
                assert_eq!(m.get(p.tail), NULL, "{ctx}: tail of empty chain");
            } else {
                assert_eq!(m.get(p.head), c.allocated[0], "{ctx}: head");
                assert_eq!(m.get(p.tail), *c.allocated.last().unwrap(), "{ctx}: tail");
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
        if xfer {
            wi += 1;
            if last {
                if cases[fi].enable {
                    expect.push_back(fi);
                } else {
                    assert!(cases[fi].allocated.is_empty());
                }
                fi += 1;
                wi = 0;
            }
        }
        m.tick(p.clk);
    }
    // nothing else comes out
    m.set(p.tvalid, 0);
    m.set(p.meta_ready, 1);
    for _ in 0..4 {
        m.eval();
        assert_eq!(m.get(p.meta_valid), 0, "{prefix}: spurious metadata");
        m.tick(p.clk);
    }
    assert_eq!(free.len(), NUM_BUFLETS, "{prefix}: every buflet back");
    eprintln!("{prefix}: {cycles} cycles, reasons {by_reason:?}");
    cycles
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
    run(prefix, kw, bb, seed, &cfg, cases);
}

/// Back-to-back frames, metadata always accepted: one word per cycle.
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
    let cycles = run(prefix, kw, bb, seed, &cfg, cases);
    assert!(
        cycles as usize <= words + 8,
        "{prefix}: {cycles} cycles for {words} words"
    );
}

/// Frames with random damage in their first 100 bytes (and random cuts), the
/// expected reason and fields taken from the Rust model's parser: the RTL and
/// the model must agree on every frame.
fn fuzz_vs_model(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
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
        let mut f = build_tcp(&mut rng, vlan, ip_opts, tcp_opts, pay).frame;
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
            });
        }
        cases.push(c);
    }
    let cfg = Run {
        frames: cases.len(),
        idle_p: 0.1,
        stall_p: 0.2,
        deny_p: 0.0,
        disable_p: 0.0,
    };
    run(prefix, kw, bb, seed, &cfg, cases);
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
