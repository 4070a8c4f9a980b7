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
//! And, in about half the cases, an iSCSI connection (gen/iscsi.rs): a client stream of real
//! PDUs (login, WRITE(10) with immediate data, Data-Out bursts answering R2Ts, READ(10),
//! NOP-Out) into named buffers returned at PDU ends, and the target's posts (R2T and SCSI
//! Response headers, Data-In headers each followed by its data by reference), acknowledged.
//!
//! The generator is open-loop: it does not see the device's ACKs, so frames beyond the window
//! the device advertises are sent anyway (and trimmed or dropped by the device); a final
//! retransmission pass, after enough named buffers were posted, lets most streams complete.
//! Frames are built with etherparse; malformed ones are etherparse-built frames with one field
//! changed afterwards.

use super::stim::{
    AnonPost, AnonSlot, BlkBad, BlkParams, DevBad, DevRead, Frame, NbPost, NbSlot, PageList,
    RelBad, SockParams, Step, Stimulus, TxBad, TxPost,
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

mod conn;
mod extras;
mod iscsi;
mod listen;
mod noise;
mod tx;
use conn::*;
use extras::*;
use noise::*;

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
    /// Probability that a TCP connection (not a pool-stress one) also sends: TX_POSTs, the
    /// peer's ACKs of them, windows, timers, SOCK_CLOSE (docs/tcp-transmit.md).
    pub tx: f64,
    /// Probability that a sending connection is an active open (SOCK_ADD with CONNECT).
    pub connect: f64,
    /// Probability that a case with a sending connection first sets a short timer policy
    /// (RTO_INIT, RTO_MIN, RTO_MAX, TX_RETRIES of a few ticks), so timeouts, probes, SYN
    /// retransmissions and the TX_RETRIES reset happen within the case.
    pub tx_policy: f64,
    /// Probability that a case gives the host buflets first (HOST_BUFLETS, sometimes a value
    /// the device refuses), reads blocks into them (DEVMEM BLK_READs, some broken) and lets
    /// sending connections post them (DEVMEM TX_POSTs): p2p reads, docs/p2p.md.
    pub p2p_reads: f64,
    /// Probability that a case has a listen slot and its clients (gen/listen.rs): SOCK_LISTEN,
    /// SOCK_POOL, HALF_OPEN_MAX, SYNs from many clients, handshakes, resets and timeouts in
    /// half-open, ACCEPTs, deletes and re-pooling, UNLISTEN. Its steps come from a generator
    /// seeded apart and are merged into the case's, so the other steps stay as they were.
    pub listen: f64,
    /// Probability that a case has an iSCSI connection (gen/iscsi.rs): a login, WRITE(10)s
    /// with immediate data, R2Ts answered by Data-Out bursts, READ(10)s answered by Data-In
    /// header and data posts, SCSI Responses, NOP-Out pings, and the client's ACKs. Its steps
    /// come from a generator seeded apart and are merged into the case's.
    pub iscsi: f64,
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
            tx: 0.5,
            connect: 0.35,
            tx_policy: 0.8,
            p2p_reads: 0.5,
            listen: 0.6,
            iscsi: 0.5,
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
            tx: 0.5,
            connect: 0.35,
            tx_policy: 0.8,
            p2p_reads: 0.5,
            listen: 0.6,
            iscsi: 0.5,
        }
    }
}

/// A DEVMEM BLK_READ of 1..=4 blocks into the reads' region of the host buflets, sometimes
/// broken.
fn dev_read(rng: &mut ChaCha8Rng, post_region: bool) -> Step {
    let bad = if !post_region && rng.gen_bool(0.3) {
        [
            DevBad::Misaligned,
            DevBad::NotHost,
            DevBad::Zero,
            DevBad::Crosses,
        ]
        .choose(rng)
        .copied()
    } else {
        None
    };
    Step::DevRead(DevRead {
        lba: 8 * rng.gen_range(0..2048u64),
        blocks: if post_region { 4 } else { rng.gen_range(1..=4) },
        post_region,
        first: rng.gen_range(0..8),
        bad,
    })
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
    // p2p reads: the host buflets first (a value above NUM_BUFLETS / 2 is refused, and the
    // posts then stay host ones), their posts' region filled from the disk.
    let mut head = Vec::new();
    let p2p = rng.gen_bool(cfg.p2p_reads.clamp(0.0, 1.0));
    if p2p {
        let n = *[16u32, 32, 16, param::DEF_NUM_BUFLETS as u32 / 2 + 8]
            .choose(&mut rng)
            .unwrap_or(&16);
        head.push(Step::HostBuflets { n });
        head.push(dev_read(&mut rng, true));
        if n <= param::DEF_NUM_BUFLETS as u32 / 2 {
            for c in conns.iter_mut() {
                c.dev_posts = true;
            }
        }
    }
    // The send pool's pages, shared out (a few are left for the noise's refused posts).
    let per_conn =
        (super::exec::TX_POOL_PAGES - super::exec::ISCSI_TX_PAGES - 32) / n.max(1) as u64;
    for c in conns.iter_mut() {
        c.tx_pages = per_conn;
    }
    // The iSCSI connection: its own generator, a slot of its own (not one the noise treats as
    // unused, nor one of the listen pool's).
    let mut irng = ChaCha8Rng::seed_from_u64(seed ^ iscsi::ISCSI_SEED);
    let iscsi_ref = (irng.gen_bool(cfg.iscsi.clamp(0.0, 1.0)) && n + 13 <= refs.len())
        .then(|| refs[refs.len() - 13]);
    let unused: Vec<u16> = refs[n..]
        .iter()
        .copied()
        .filter(|&r| Some(r) != iscsi_ref)
        .collect();
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
    let mut steps = head;
    if conns.iter().any(|c| c.tx) && rng.gen_bool(cfg.tx_policy.clamp(0.0, 1.0)) {
        let rto_init = rng.gen_range(2..=6);
        steps.push(Step::TxPolicy {
            rto_init,
            rto_min: rng.gen_range(1..=2),
            rto_max: rng.gen_range(rto_init..=4 * rto_init),
            retries: rng.gen_range(2..=5),
        });
    }
    loop {
        let live: Vec<usize> = (0..queues.len())
            .filter(|&i| !queues[i].is_empty())
            .collect();
        let Some(&q) = live.choose(&mut rng) else {
            break;
        };
        if rng.gen_bool(cfg.noise.clamp(0.0, 1.0)) {
            steps.push(noise(&mut rng, &conns, &unused));
        }
        if p2p && rng.gen_bool(0.04) {
            steps.push(dev_read(&mut rng, false));
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
    // The listen scenario, from its own generator (the other steps stay as they were).
    let mut lrng = ChaCha8Rng::seed_from_u64(seed ^ LISTEN_SEED);
    if lrng.gen_bool(cfg.listen.clamp(0.0, 1.0)) {
        let pool_refs = &refs[refs.len() - 12..];
        let busy = conns.first().map_or(0, |c| c.p.sock_ref);
        let ev = listen::listen_events(&mut lrng, cfg, pool_refs, busy);
        steps = merge(&mut lrng, steps, ev);
    }
    if let Some(sock) = iscsi_ref {
        let ev = iscsi::iscsi_events(&mut irng, cfg, sock);
        steps = merge(&mut irng, steps, ev);
    }
    if cfg.bursts {
        steps = make_bursts(&mut rng, steps);
    }
    Stimulus::new(seed, steps)
}

/// Seed of the listen scenario's generator, xored with the case's seed.
const LISTEN_SEED: u64 = 0x4C49_5354_454E;

/// Interleave `b` into `a`, each keeping its order (uniformly random positions).
fn merge(rng: &mut ChaCha8Rng, a: Vec<Step>, b: Vec<Step>) -> Vec<Step> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    let (mut na, mut nb) = (a.len(), b.len());
    while na + nb > 0 {
        let take_b = rng.gen_range(0..na + nb) < nb;
        let s = if take_b {
            nb -= 1;
            b.next()
        } else {
            na -= 1;
            a.next()
        };
        out.extend(s);
    }
    out
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
