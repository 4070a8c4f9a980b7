//! Seeded generation of co-simulation stimuli.
//!
//! A case is several interleaved TCP connections (passive opens on the NIC's side: SYN, the
//! handshake ACK, a seeded byte stream cut into random segments) with loss and later
//! retransmission, reordering, duplication, overlapping retransmissions, FIN and RST, odd
//! segments in every state, named-buffer posts that sometimes fall short of the stream (data
//! waits in buflets and the window closes), deletes mid-stream, and noise: corrupted and
//! malformed frames, frames for unknown sockets, UDP, ICMP, ARP and IPv6 frames, invalid
//! requests and block writes.
//!
//! Besides TCP, the paths of docs/rx-paths.md: UDP sockets receiving datagrams (some longer
//! than their named buffer, some with bad checksums or lengths, some for other ports), named
//! buffers with a TIMEOUT, and a case-wide stream of "extras": the ARP responder's address
//! (NIC_MAC, NIC_IP, sometimes changed or turned off), anonymous buffers (valid and refused
//! ANON_POSTs), ARP requests (for NIC_IP, for other addresses, tagged, malformed, truncated,
//! replies), frames for no socket (ICMP, unknown ports, IPv6, other EtherTypes, other IP
//! protocols), TIMER_KICKs and short runs of periodic ticks.
//!
//! The generator is open-loop: it does not see the device's ACKs, so frames beyond the window
//! the device advertises are sent anyway (and trimmed or dropped by the device); a final
//! retransmission pass, after enough named buffers were posted, lets most streams complete.
//! Frames are built with etherparse; malformed ones are etherparse-built frames with one field
//! changed afterwards.

use super::stim::{
    AnonPost, AnonSlot, BlkBad, BlkParams, Frame, NbPost, NbSlot, PageList, RelBad, SockParams,
    Step, Stimulus,
};
use buflet_spec::{param, Opcode, SockFlags};
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, Ethernet2Header, IpHeaders, Ipv4Header,
    PacketBuilder, PacketBuilderStep, TcpOptionElement, VlanId,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::net::Ipv4Addr;

/// TCP flag bits (the wire's flag byte).
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
const URG: u8 = 0x20;

/// IP protocol numbers.
const TCP: u8 = 6;
const UDP: u8 = 17;
/// The NIC's MAC in every generated socket (`local_mac`), and so of the ARP responder.
const NIC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// Pages of host memory behind each named-buffer slot (the most an NB_POST may name).
pub const MAX_NB_PAGES: u32 = 4;
const PAGE: u32 = param::PAGE_BYTES as u32;

/// Size and mix of generated cases.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Fewest connections per case.
    pub min_sockets: usize,
    /// Most connections per case.
    pub max_sockets: usize,
    /// Longest byte stream of one connection.
    pub max_stream: usize,
    /// Allow jumbo segments (up to 8900 bytes of payload).
    pub jumbo: bool,
    /// Probability that a noise step (bad frame, bad request, block write) is inserted before a
    /// connection step.
    pub noise: f64,
    /// Probability that a connection is a pool-stress one: tiny segments, a 1 MiB receive
    /// buffer and no named buffer until its stream has been sent, so the segments it holds
    /// drain the buflet pool and the window closes on pool room for every socket.
    pub stress: f64,
    /// Sometimes push several consecutive frames in one step (back to back on the wire).
    ///
    /// Off by default: with frames back to back, whether the delivery of one frame's data
    /// (which moves STREAM_OFF and frees buflets) happens before the engine picks the next
    /// frame depends on timing the contract leaves open, and so does the window that frame's
    /// ACK advertises. Bursts are useful for timing and stall coverage, not for exact
    /// comparison.
    pub bursts: bool,
    /// Probability that a connection is a UDP socket receiving datagrams.
    pub udp: f64,
    /// Add the case-wide extras: the ARP responder, anonymous buffers, ARP requests, frames
    /// for no socket, timer kicks and periodic ticks.
    pub extras: bool,
    /// Probability that a named-buffer post carries a TIMEOUT (1..=4 ticks).
    pub nb_timeout: f64,
    /// Probability that a TCP socket is a p2p hold socket (docs/p2p.md).
    pub hold: f64,
    /// Per step, when some socket holds: probability of a BUF_RELEASE step first.
    pub release: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            min_sockets: 2,
            max_sockets: 6,
            max_stream: 24_000,
            jumbo: true,
            noise: 0.08,
            stress: 0.12,
            bursts: false,
            udp: 0.25,
            extras: true,
            nb_timeout: 0.25,
            hold: 0.4,
            release: 0.12,
        }
    }
}

impl GenConfig {
    /// Short cases for property tests in CI.
    pub fn small() -> Self {
        GenConfig {
            min_sockets: 2,
            max_sockets: 4,
            max_stream: 6_000,
            jumbo: true,
            noise: 0.1,
            stress: 0.15,
            bursts: false,
            udp: 0.3,
            extras: true,
            nb_timeout: 0.2,
            hold: 0.4,
            release: 0.12,
        }
    }
}

/// The stimulus of seed `seed` with the default mix ([`GenConfig::default`]).
pub fn generate(seed: u64) -> Stimulus {
    generate_with(seed, &GenConfig::default())
}

/// The stimulus of seed `seed` with a given mix. Deterministic: same seed and config, same steps.
pub fn generate_with(seed: u64, cfg: &GenConfig) -> Stimulus {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // A few socket slots always stay unused (for requests on a slot nobody holds).
    let most = param::DEF_NUM_SOCKETS as usize - 4;
    let lo = cfg.min_sockets.clamp(1, most);
    let n = rng.gen_range(lo..=cfg.max_sockets.clamp(lo, most));
    let mut refs: Vec<u16> = (0..param::DEF_NUM_SOCKETS as u16).collect();
    refs.shuffle(&mut rng);
    let mut conns: Vec<Conn> = Vec::with_capacity(n);
    for (i, &sref) in refs.iter().enumerate().take(n) {
        let c = Conn::new(&mut rng, i, sref, &conns, cfg);
        conns.push(c);
    }
    let mut queues: Vec<std::collections::VecDeque<Step>> = conns
        .iter_mut()
        .map(|c| {
            if c.p.proto == UDP {
                c.udp_events(&mut rng, cfg).into()
            } else {
                c.events(&mut rng, cfg).into()
            }
        })
        .collect();
    if cfg.extras {
        let ex = extras(&mut rng, &conns);
        queues.push(ex.into());
    }
    let holds = conns.iter().any(|c| c.p.flags.contains(SockFlags::HOLD));
    let mut steps = Vec::new();
    loop {
        let live: Vec<usize> = (0..queues.len())
            .filter(|&i| !queues[i].is_empty())
            .collect();
        let Some(&q) = live.choose(&mut rng) else {
            break;
        };
        if rng.gen_bool(cfg.noise.clamp(0.0, 1.0)) {
            steps.push(noise(&mut rng, &conns, &refs[n..]));
        }
        if holds && rng.gen_bool(cfg.release.clamp(0.0, 1.0)) {
            let bad = if rng.gen_bool(0.15) {
                [
                    RelBad::CountZero,
                    RelBad::CountOver,
                    RelBad::NotHeld,
                    RelBad::Twice,
                ]
                .choose(&mut rng)
                .copied()
            } else {
                None
            };
            steps.push(Step::Release { bad });
        }
        if let Some(s) = queues[q].pop_front() {
            steps.push(s);
        }
    }
    if cfg.bursts {
        steps = make_bursts(&mut rng, steps);
    }
    Stimulus::new(seed, steps)
}

/// Merge some runs of consecutive single-frame steps into bursts.
fn make_bursts(rng: &mut ChaCha8Rng, steps: Vec<Step>) -> Vec<Step> {
    let mut out = Vec::with_capacity(steps.len());
    let mut it = steps.into_iter().peekable();
    while let Some(s) = it.next() {
        match s {
            Step::Frame(f) if rng.gen_bool(0.12) => {
                let want = rng.gen_range(2..=4);
                let mut v = vec![f];
                while v.len() < want {
                    match it.peek() {
                        Some(Step::Frame(_)) => {
                            if let Some(Step::Frame(g)) = it.next() {
                                v.push(g);
                            }
                        }
                        _ => break,
                    }
                }
                out.push(if v.len() > 1 {
                    Step::Burst(v)
                } else {
                    Step::Frame(v.remove(0))
                });
            }
            s => out.push(s),
        }
    }
    out
}

/// The addresses of frames from a peer to the NIC.
#[derive(Debug, Clone, Copy)]
struct Tuple {
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    vlan: u16,
    src_ip: [u8; 4],
    dst_ip: [u8; 4],
    src_port: u16,
    dst_port: u16,
}

impl Tuple {
    fn of(p: &SockParams) -> Self {
        Tuple {
            src_mac: p.remote_mac,
            dst_mac: p.local_mac,
            vlan: p.vlan,
            src_ip: p.remote_ip.octets(),
            dst_ip: p.local_ip.octets(),
            src_port: p.remote_port,
            dst_port: p.local_port,
        }
    }

    fn ip(&self) -> PacketBuilderStep<IpHeaders> {
        let eth = PacketBuilder::ethernet2(self.src_mac, self.dst_mac);
        match VlanId::try_new(self.vlan & 0x0FFF) {
            Ok(id) if self.vlan != 0 => eth.single_vlan(id).ipv4(self.src_ip, self.dst_ip, 64),
            _ => eth.ipv4(self.src_ip, self.dst_ip, 64),
        }
    }

    /// Offset of the IPv4 header in frames of this tuple.
    fn l3(&self) -> usize {
        if self.vlan != 0 {
            18
        } else {
            14
        }
    }
}

/// TCP options of a generated segment.
#[derive(Debug, Clone)]
enum Opts {
    None,
    List(Vec<TcpOptionElement>),
    Raw(Vec<u8>),
}

/// A TCP segment from the peer, built by etherparse.
fn tcp_frame(
    t: &Tuple,
    seq: u32,
    flags: u8,
    ack: u32,
    window: u16,
    opts: &Opts,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = t.ip().tcp(t.src_port, t.dst_port, seq, window);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    if flags & ACK != 0 {
        b = b.ack(ack);
    }
    if flags & URG != 0 {
        b = b.urg(1);
    }
    let b = match opts {
        Opts::None => b,
        Opts::List(l) => b.options(l).unwrap_or_else(|_| unreachable!("options fit")),
        Opts::Raw(r) => b
            .options_raw(r)
            .unwrap_or_else(|_| unreachable!("raw options fit")),
    };
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .unwrap_or_else(|_| unreachable!("writing to a Vec cannot fail"));
    out
}

/// The hash bucket of a 4-tuple, as docs/architecture.md defines it (used to make sockets
/// collide in one bucket on purpose).
fn bucket(local_ip: Ipv4Addr, remote_ip: Ipv4Addr, local_port: u16, remote_port: u16) -> u32 {
    let mut x = u32::from(remote_ip)
        ^ u32::from(local_ip)
        ^ ((remote_port as u32) << 16 | local_port as u32);
    x ^= x >> 16;
    x ^= x >> 8;
    x % param::DEF_HASH_BUCKETS as u32
}

/// One generated connection.
struct Conn {
    p: SockParams,
    irs: u32,
    stream: Vec<u8>,
    seg_max: usize,
    ts: bool,
    name: String,
    /// Many tiny segments, a large receive buffer and no named buffer until the end: the
    /// held segments fill the buflet pool and the window closes on pool room.
    stress: bool,
}

impl Conn {
    fn new(rng: &mut ChaCha8Rng, i: usize, sock_ref: u16, prev: &[Conn], cfg: &GenConfig) -> Self {
        let local_ip = Ipv4Addr::new(10, 0, 0, 2 + rng.gen_range(0..2u8));
        let remote_ip = Ipv4Addr::new(10, 1, i as u8, rng.gen_range(1..255u8));
        let local_port = *[80u16, 443, 5001, rng.gen_range(1024..65535)]
            .choose(rng)
            .unwrap_or(&5001);
        let rcv_buf = match rng.gen_range(0..100) {
            0..=14 => rng.gen_range(1..4000),
            15..=59 => rng.gen_range(8_000..65_536),
            _ => rng.gen_range(128 * 1024..=1 << 20),
        };
        let mut p = SockParams {
            opcode: Opcode::SockAdd,
            sock_ref,
            local_mac: NIC_MAC,
            remote_mac: [0x02, 0, 0, 0, 0x10, i as u8],
            vlan: if rng.gen_bool(0.2) {
                rng.gen_range(1..4095)
            } else {
                0
            },
            proto: TCP,
            local_ip,
            remote_ip,
            local_port,
            remote_port: rng.gen_range(1024..65535),
            iss: rng.gen(),
            rcv_buf,
            mss: rng.gen_range(536..=8960),
            rcv_wscale: rng.gen_range(0..=14),
            flags: if rng.gen_bool(0.3) {
                SockFlags::PSH_RETURN
            } else {
                SockFlags::empty()
            },
            ..Default::default()
        };
        if let Some(other) = prev.choose(rng) {
            let o = &other.p;
            match rng.gen_range(0..100) {
                // The same 4-tuple on another VLAN: a different socket in the same bucket.
                0..=9 => {
                    p.local_ip = o.local_ip;
                    p.remote_ip = o.remote_ip;
                    p.local_port = o.local_port;
                    p.remote_port = o.remote_port;
                    p.vlan = (o.vlan + 1 + rng.gen_range(0..100)) % 4095;
                }
                // Another 4-tuple that hashes into the same bucket: a chained lookup.
                10..=34 => {
                    let want = bucket(o.local_ip, o.remote_ip, o.local_port, o.remote_port);
                    let start: u16 = rng.gen_range(1024..60000);
                    for d in 0..4096u16 {
                        let port = start.wrapping_add(d);
                        if port != o.remote_port
                            && bucket(p.local_ip, p.remote_ip, p.local_port, port) == want
                        {
                            p.remote_port = port;
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        // Keep (4-tuple, VLAN) unique.
        while prev.iter().any(|c| {
            let q = &c.p;
            q.local_ip == p.local_ip
                && q.remote_ip == p.remote_ip
                && q.local_port == p.local_port
                && q.remote_port == p.remote_port
                && q.vlan == p.vlan
        }) {
            p.remote_port = p.remote_port.wrapping_add(1).max(1024);
        }
        let irs = if rng.gen_bool(0.2) {
            u32::MAX - rng.gen_range(0..20_000) // sequence numbers wrap inside the stream
        } else {
            rng.gen()
        };
        let udp = rng.gen_bool(cfg.udp.clamp(0.0, 1.0));
        if udp {
            p.proto = UDP;
        }
        // A hold socket (p2p); now and then on a UDP socket, which SOCK_ADD refuses.
        if rng.gen_bool(cfg.hold.clamp(0.0, 1.0)) && (!udp || rng.gen_bool(0.1)) {
            p.flags |= SockFlags::HOLD;
        }
        let stress = !udp && rng.gen_bool(cfg.stress.clamp(0.0, 1.0));
        let len = if udp {
            0
        } else if stress {
            p.rcv_buf = 1 << 20;
            rng.gen_range(cfg.max_stream / 2..=cfg.max_stream * 2 / 3)
        } else if rng.gen_bool(0.1) {
            0
        } else {
            rng.gen_range(1..=cfg.max_stream.max(1))
        };
        let stream = crate::frames::payload(rng.gen(), len);
        let seg_max = if stress {
            rng.gen_range(40..=100)
        } else if cfg.jumbo && rng.gen_bool(0.2) {
            rng.gen_range(2000..=8900)
        } else {
            rng.gen_range(200..=1460)
        };
        Conn {
            name: format!("s{sock_ref}"),
            p,
            irs,
            stream,
            seg_max,
            ts: rng.gen_bool(0.4),
            stress,
        }
    }

    fn tuple(&self) -> Tuple {
        Tuple::of(&self.p)
    }

    fn seq_of(&self, off: usize) -> u32 {
        self.irs.wrapping_add(1).wrapping_add(off as u32)
    }

    fn ack_no(&self) -> u32 {
        self.p.iss.wrapping_add(1)
    }

    fn data_opts(&self, off: usize) -> Opts {
        if self.ts {
            Opts::List(vec![
                TcpOptionElement::Noop,
                TcpOptionElement::Noop,
                TcpOptionElement::Timestamp(1000 + off as u32, 77),
            ])
        } else {
            Opts::None
        }
    }

    /// A segment carrying stream bytes `[off, off+len)` with ACK = ISS+1.
    fn data(&self, off: usize, len: usize, extra: u8, what: &str) -> Step {
        let end = (off + len).min(self.stream.len());
        let off = off.min(end);
        let payload = &self.stream[off..end];
        let bytes = tcp_frame(
            &self.tuple(),
            self.seq_of(off),
            ACK | extra,
            self.ack_no(),
            65535,
            &self.data_opts(off),
            payload,
        );
        let fl = flag_names(ACK | extra);
        frame(format!("{} {what} [{off}..{end}) {fl}", self.name), bytes)
    }

    /// A segment with no payload.
    fn ctl(&self, seq: u32, flags: u8, ack: u32, opts: &Opts, what: &str) -> Step {
        let bytes = tcp_frame(&self.tuple(), seq, flags, ack, 65535, opts, &[]);
        frame(
            format!(
                "{} {what} seq {:+} {}",
                self.name,
                seq.wrapping_sub(self.irs.wrapping_add(1)) as i32,
                flag_names(flags)
            ),
            bytes,
        )
    }

    fn post(&self, rng: &mut ChaCha8Rng, posted: &mut usize, cfg: &GenConfig) -> Step {
        let pages = rng.gen_range(1..=MAX_NB_PAGES);
        let total = if rng.gen_bool(0.6) {
            pages * PAGE
        } else {
            rng.gen_range(1..=pages * PAGE)
        };
        *posted += total as usize;
        let timeout = if rng.gen_bool(cfg.nb_timeout.clamp(0.0, 1.0)) {
            rng.gen_range(1..=4)
        } else {
            0
        };
        Step::PostNb(NbPost {
            sock: self.p.sock_ref,
            slot: NbSlot::Free,
            pages,
            total_bytes: total,
            list: PageList::Good,
            timeout,
        })
    }

    /// A UDP datagram from the peer to this socket's address on port `dport` (usually the
    /// socket's), built by etherparse, with one field broken afterwards as `bad` says.
    fn datagram(&self, payload: &[u8], dport: u16, bad: UdpBad) -> (Vec<u8>, &'static str) {
        let t = self.tuple();
        let mut out = Vec::new();
        let _ = t.ip().udp(t.src_port, dport).write(&mut out, payload);
        let l3 = t.l3();
        let l4 = l3 + 20;
        let what = match bad {
            UdpBad::None => "datagram",
            UdpBad::NoChecksum => {
                out[l4 + 6] = 0;
                out[l4 + 7] = 0;
                "datagram without checksum"
            }
            UdpBad::Checksum => {
                if payload.is_empty() {
                    // Flipping the top bit keeps a checksum non-zero (and makes it wrong).
                    out[l4 + 6] ^= 0x80;
                    if out[l4 + 6] == 0 && out[l4 + 7] == 0 {
                        out[l4 + 7] = 1;
                    }
                } else {
                    let n = out.len();
                    out[n - 1] ^= 0x10;
                }
                "datagram with a bad checksum"
            }
            UdpBad::Length(d) => {
                let len = u16::from_be_bytes([out[l4 + 4], out[l4 + 5]]);
                let v = (len as i32 + d).clamp(0, 65535) as u16;
                out[l4 + 4..l4 + 6].copy_from_slice(&v.to_be_bytes());
                "datagram whose UDP length is not the IP payload's"
            }
            UdpBad::Short(k) => {
                // The IPv4 total length leaves fewer than 8 bytes for UDP (the rest is padding).
                let tot = (20 + k as u16).to_be_bytes();
                out[l3 + 2] = tot[0];
                out[l3 + 3] = tot[1];
                fix_ip_csum(&mut out, l3);
                "IPv4 payload shorter than a UDP header"
            }
        };
        (out, what)
    }

    /// The steps of a UDP socket: SOCK_ADD, named buffers (some short, some with a TIMEOUT)
    /// and datagrams of every size, some broken, some for another port, some before a buffer
    /// is there; sometimes a TCP SYN on the same 4-tuple (no socket: the protocol differs)
    /// and a delete mid-way.
    fn udp_events(&mut self, rng: &mut ChaCha8Rng, cfg: &GenConfig) -> Vec<Step> {
        let mut ev = vec![Step::AddSocket(self.p)];
        let mut posted = 0usize;
        for _ in 0..rng.gen_range(0..=3) {
            ev.push(self.post(rng, &mut posted, cfg));
        }
        let n = rng.gen_range(1..=14);
        let mut sent = 0usize;
        for k in 0..n {
            let len = match rng.gen_range(0..100) {
                0..=19 => rng.gen_range(0..=64),
                20..=69 => rng.gen_range(65..=1472),
                70..=89 => rng.gen_range(1473..=4200),
                _ if cfg.jumbo => rng.gen_range(4201..=8950),
                _ => rng.gen_range(1473..=4200),
            };
            let payload = crate::frames::payload(rng.gen(), len);
            let bad = match rng.gen_range(0..100) {
                0..=79 => UdpBad::None,
                80..=85 => UdpBad::NoChecksum,
                86..=90 => UdpBad::Checksum,
                91..=94 => UdpBad::Length(*[-1i32, 1, -8, 100].choose(rng).unwrap_or(&1)),
                _ => UdpBad::Short(rng.gen_range(0..8)),
            };
            let dport = if rng.gen_bool(0.06) {
                self.p.local_port.wrapping_add(1) // no socket
            } else {
                self.p.local_port
            };
            let (bytes, what) = self.datagram(&payload, dport, bad);
            ev.push(frame(
                format!("{} {what} #{k} len {len} to port {dport}", self.name),
                bytes,
            ));
            sent += len + 8;
            if rng.gen_bool(0.4) {
                ev.push(self.post(rng, &mut posted, cfg));
            }
            if rng.gen_bool(0.04) {
                let bytes = tcp_frame(&self.tuple(), rng.gen(), SYN, 0, 1000, &Opts::None, &[]);
                ev.push(frame(
                    format!("{} TCP SYN on the UDP socket's 4-tuple", self.name),
                    bytes,
                ));
            }
        }
        // Buffers for most of what is still waiting.
        if rng.gen_bool(0.75) {
            while posted < sent {
                ev.push(self.post(rng, &mut posted, cfg));
            }
        }
        if ev.len() > 2 && rng.gen_bool(0.1) {
            let at = rng.gen_range(1..ev.len());
            ev.insert(
                at,
                Step::DelSocket {
                    sock: self.p.sock_ref,
                },
            );
        }
        ev
    }

    fn syn_opts(&self, rng: &mut ChaCha8Rng) -> Opts {
        if rng.gen_bool(0.06) {
            // Option lists the walk must stop on without hanging: a zero length, a length
            // running past the end, EOL before the WS option, or a WS with a bad length.
            let lists: [&[u8]; 5] = [
                &[3, 0, 7, 1],
                &[1, 1, 3, 9, 7, 0, 0, 0],
                &[0, 3, 3, 7],
                &[3, 4, 7, 0, 1, 3, 3, 9],
                &[2, 4, 5, 180, 1, 3, 3, 2, 1, 3, 3, 12],
            ];
            return Opts::Raw(lists.choose(rng).unwrap_or(&lists[0]).to_vec());
        }
        let mut v = vec![TcpOptionElement::MaximumSegmentSize(self.seg_max as u16)];
        if rng.gen_bool(0.5) {
            v.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
        }
        if rng.gen_bool(0.4) {
            v.push(TcpOptionElement::Timestamp(rng.gen(), 0));
        }
        if rng.gen_bool(0.6) {
            v.push(TcpOptionElement::Noop);
            let shift = if rng.gen_bool(0.1) {
                rng.gen_range(15..=255)
            } else {
                rng.gen_range(0..=14)
            };
            v.push(TcpOptionElement::WindowScale(shift));
        }
        Opts::List(v)
    }

    /// The connection's steps, in its own order.
    fn events(&mut self, rng: &mut ChaCha8Rng, cfg: &GenConfig) -> Vec<Step> {
        let mut ev = vec![Step::AddSocket(self.p)];
        let factor = if self.stress {
            0.0
        } else {
            *[0.0, 0.3, 0.8, 1.5, 3.0].choose(rng).unwrap_or(&1.0)
        };
        let budget = (factor * self.stream.len() as f64) as usize;
        let mut posted = 0usize;
        for _ in 0..rng.gen_range(0..=2) {
            if posted < budget || rng.gen_bool(0.3) {
                ev.push(self.post(rng, &mut posted, cfg));
            }
        }
        let ack = self.ack_no();
        // Segments before the SYN: LISTEN drops them (BAD_STATE).
        if rng.gen_bool(0.1) {
            ev.push(self.data(0, 100, 0, "data in LISTEN"));
        }
        if rng.gen_bool(0.08) {
            ev.push(self.ctl(self.seq_of(0), RST, 0, &Opts::None, "RST in LISTEN"));
        }
        if rng.gen_bool(0.05) {
            ev.push(self.ctl(self.seq_of(0), ACK, ack, &Opts::None, "ACK in LISTEN"));
        }
        if rng.gen_bool(0.05) {
            ev.push(self.ctl(self.irs, SYN | ACK, ack, &Opts::None, "SYN-ACK in LISTEN"));
        }
        // The SYN (maybe retransmitted, maybe with a payload the NIC ignores).
        let opts = self.syn_opts(rng);
        let syn = if rng.gen_bool(0.05) {
            let bytes = tcp_frame(&self.tuple(), self.irs, SYN, 0, 64240, &opts, &[0xAB; 24]);
            frame(format!("{} SYN with payload {opts:?}", self.name), bytes)
        } else {
            let bytes = tcp_frame(&self.tuple(), self.irs, SYN, 0, 64240, &opts, &[]);
            frame(format!("{} SYN {opts:?}", self.name), bytes)
        };
        ev.push(syn.clone());
        if rng.gen_bool(0.15) {
            ev.push(syn.clone());
        }
        if rng.gen_bool(0.05) {
            let other = self.irs.wrapping_add(rng.gen_range(1..1000));
            ev.push(self.ctl(other, SYN, 0, &opts, "SYN other seq in SYN_RCVD"));
        }
        if rng.gen_bool(0.08) {
            let bad = ack.wrapping_add(*[1u32, u32::MAX, 1000].choose(rng).unwrap_or(&1));
            ev.push(self.ctl(
                self.seq_of(0),
                ACK,
                bad,
                &Opts::None,
                "wrong ACK in SYN_RCVD",
            ));
        }
        if rng.gen_bool(0.05) {
            let s = self.seq_of(rng.gen_range(1..5000));
            ev.push(self.ctl(s, RST, 0, &Opts::None, "RST not at RCV_NXT in SYN_RCVD"));
        }
        if rng.gen_bool(0.05) {
            ev.push(self.ctl(self.seq_of(0), RST, 0, &Opts::None, "RST in SYN_RCVD"));
            // Back to LISTEN: the peer opens again with a new initial sequence number.
            self.irs = self.irs.wrapping_add(rng.gen_range(100_000..1_000_000));
            let bytes = tcp_frame(&self.tuple(), self.irs, SYN, 0, 64240, &opts, &[]);
            ev.push(frame(format!("{} SYN again {opts:?}", self.name), bytes));
        }
        // The handshake ACK (otherwise the first data segment completes the handshake).
        if rng.gen_bool(0.75) {
            let mut st = self.ctl(self.seq_of(0), ACK, ack, &Opts::None, "handshake ACK");
            if rng.gen_bool(0.1) {
                if let Step::Frame(f) = &mut st {
                    // A real MAC pads short frames to 60 bytes: bytes after the IPv4 total
                    // length are padding.
                    f.bytes.resize(60, 0);
                    f.label.push_str(" (padded to 60)");
                }
            }
            ev.push(st);
        }
        let syn_end = ev.len();

        // The stream: segments, some reordered, lost (retransmitted later), duplicated.
        let len = self.stream.len();
        let mut segs = Vec::new();
        let mut off = 0;
        while off < len {
            let n = if rng.gen_bool(0.5) {
                self.seg_max
            } else {
                rng.gen_range(1..=self.seg_max)
            };
            let n = n.min(len - off);
            segs.push((off, n));
            off += n;
        }
        let mut i = 0;
        while i + 1 < segs.len() {
            if rng.gen_bool(0.08) {
                segs.swap(i, i + 1);
                i += 2;
            } else {
                i += 1;
            }
        }
        let mut late: Vec<(usize, usize, usize, &'static str)> = Vec::new(); // (delay, off, len, why)
        for (k, &(off, n)) in segs.iter().enumerate() {
            let mut extra = 0;
            if rng.gen_bool(0.15) {
                extra |= PSH;
            }
            if rng.gen_bool(0.02) {
                extra |= URG;
            }
            let r = rng.gen_range(0..100);
            if r < 8 {
                late.push((rng.gen_range(1..=8), off, n, "retransmit of lost"));
            } else {
                ev.push(self.data(off, n, extra, "data"));
                if r < 13 {
                    late.push((rng.gen_range(0..=4), off, n, "duplicate"));
                }
            }
            if rng.gen_bool(0.05) && off > 0 {
                // A retransmission that overlaps what was sent before and after.
                let a = off - rng.gen_range(1..=off.min(700));
                let b = (off + n + rng.gen_range(0..700)).min(len);
                ev.push(self.data(a, b - a, 0, "overlapping retransmit"));
            }
            if rng.gen_bool(0.03) {
                ev.push(self.ctl(self.seq_of(off), ACK, ack, &Opts::None, "pure ACK"));
            }
            if posted < budget && rng.gen_bool(0.35) {
                ev.push(self.post(rng, &mut posted, cfg));
            }
            if k > 0 && rng.gen_bool(0.01) {
                ev.push(self.ctl(self.irs, SYN, 0, &Opts::None, "SYN when established"));
            }
            for l in late.iter_mut() {
                l.0 = l.0.saturating_sub(1);
            }
            let (due, keep): (Vec<_>, Vec<_>) = late.into_iter().partition(|l| l.0 == 0);
            late = keep;
            for (_, o, m, why) in due {
                ev.push(self.data(o, m, 0, why));
            }
        }
        // How the stream ends.
        let close = rng.gen_range(0..100);
        let end = self.seq_of(len);
        if close < 55 && !late.is_empty() && rng.gen_bool(0.4) {
            ev.push(self.ctl(end, ACK | FIN, ack, &Opts::None, "FIN ahead of a gap"));
        }
        for (_, o, m, why) in std::mem::take(&mut late) {
            ev.push(self.data(o, m, 0, why));
        }
        let fin = || self.ctl(end, ACK | FIN, ack, &Opts::None, "FIN");
        match close {
            0..=54 => ev.push(fin()),
            55..=64 => ev.push(self.ctl(end, RST, 0, &Opts::None, "RST at end")),
            65..=69 => {
                let s = end.wrapping_add(rng.gen_range(1..3000));
                ev.push(self.ctl(s, RST | ACK, ack, &Opts::None, "RST past RCV_NXT"));
            }
            _ => {}
        }
        // Retransmission pass: more buffers, then the whole stream again (most of it is left of
        // the window by now: ACK + OUT_OF_WINDOW).
        if len > 0 && (self.stress || rng.gen_bool(0.5) || (factor < 1.0 && rng.gen_bool(0.7))) {
            let want = len + len / 3;
            while posted < want {
                ev.push(self.post(rng, &mut posted, cfg));
            }
            // A retransmission coalesces what was sent in tiny segments.
            let chunk = if self.stress { 1400 } else { self.seg_max };
            let mut o = 0;
            while o < len {
                let m = chunk.min(len - o);
                ev.push(self.data(o, m, 0, "resend"));
                o += m;
            }
            if close < 55 {
                ev.push(fin());
            }
        }
        // Odd segments after the end.
        if rng.gen_bool(0.15) {
            let after = if close < 55 { len + 1 } else { len };
            let bytes = tcp_frame(
                &self.tuple(),
                self.seq_of(after),
                ACK,
                ack,
                65535,
                &Opts::None,
                &[0x5A; 40],
            );
            ev.push(frame(format!("{} data after the end", self.name), bytes));
        }
        if rng.gen_bool(0.06) {
            ev.push(self.ctl(self.irs, SYN, 0, &Opts::None, "SYN after the end"));
        }
        // Deleted mid-stream, sometimes added again and reopened.
        if ev.len() > syn_end + 1 && rng.gen_bool(0.12) {
            let at = rng.gen_range(syn_end..ev.len());
            let rest: Vec<Step> = ev.split_off(at);
            ev.push(Step::DelSocket {
                sock: self.p.sock_ref,
            });
            ev.extend(
                rest.into_iter()
                    .filter(|s| matches!(s, Step::Frame(_)))
                    .take(2),
            );
            if rng.gen_bool(0.4) {
                ev.push(Step::AddSocket(self.p));
                self.irs = rng.gen();
                let bytes = tcp_frame(&self.tuple(), self.irs, SYN, 0, 64240, &opts, &[]);
                ev.push(frame(format!("{} SYN after re-add", self.name), bytes));
                ev.push(self.ctl(self.seq_of(0), ACK, ack, &Opts::None, "handshake ACK"));
                let m = len.min(self.seg_max);
                if m > 0 {
                    ev.push(self.data(0, m, PSH, "data after re-add"));
                }
            }
        }
        ev
    }
}

/// How a generated UDP datagram is broken.
#[derive(Debug, Clone, Copy)]
enum UdpBad {
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
fn arp_frame(src: [u8; 6], vlan: u16, oper: ArpOperation, spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
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
fn foreign(rng: &mut ChaCha8Rng, t: &Tuple) -> (Vec<u8>, &'static str) {
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
            let mut s6 = [0u8; 16];
            s6[0] = 0xfe;
            s6[1] = 0x80;
            s6[15] = 1;
            let mut d6 = s6;
            d6[15] = 2;
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

/// The case-wide extras (see the module documentation), in their own order: usually the ARP
/// responder's address first, a few anonymous buffers, then a random mix of anonymous-buffer
/// posts (some refused), ARP frames, frames for no socket, timer kicks, periodic ticks and
/// changes of the responder's address.
fn extras(rng: &mut ChaCha8Rng, conns: &[Conn]) -> Vec<Step> {
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

fn frame(label: String, bytes: Vec<u8>) -> Step {
    Step::Frame(Frame { label, bytes })
}

fn flag_names(f: u8) -> String {
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
fn fix_ip_csum(bytes: &mut [u8], l3: usize) {
    if let Some(hdr) = bytes.get(l3..) {
        if let Ok((h, _)) = Ipv4Header::from_slice(hdr) {
            let c = h.calc_header_checksum().to_be_bytes();
            bytes[l3 + 10] = c[0];
            bytes[l3 + 11] = c[1];
        }
    }
}

/// One noise step: a malformed or foreign frame, an invalid request, or a block write.
fn noise(rng: &mut ChaCha8Rng, conns: &[Conn], unused_refs: &[u16]) -> Step {
    let Some(c) = conns.choose(rng) else {
        return Step::Nop;
    };
    let t = c.tuple();
    let l3 = t.l3();
    let l4 = l3 + 20;
    let len = c.stream.len();
    let o = if len > 0 { rng.gen_range(0..len) } else { 0 };
    let base = || {
        if len == 0 {
            tcp_frame(
                &t,
                c.seq_of(0),
                ACK,
                c.ack_no(),
                100,
                &Opts::None,
                &[1, 2, 3],
            )
        } else {
            let m = (len - o).min(c.seg_max);
            let opts = c.data_opts(o);
            tcp_frame(
                &t,
                c.seq_of(o),
                ACK,
                c.ack_no(),
                100,
                &opts,
                &c.stream[o..o + m],
            )
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
                let mut s6 = [0u8; 16];
                s6[0] = 0xfe;
                s6[1] = 0x80;
                s6[15] = 1;
                let mut d6 = s6;
                d6[15] = 2;
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
            6 => {
                let b = tcp_frame(
                    &t,
                    c.seq_of(0),
                    ACK,
                    c.ack_no(),
                    100,
                    &Opts::None,
                    &[0x11; 9300],
                );
                mk("oversize frame", b)
            }
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
        65..=89 => match rng.gen_range(0..12) {
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
