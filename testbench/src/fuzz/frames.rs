//! Mutated and random frames into a device: a seeded stream of frames built by etherparse for
//! the device's own sockets (a TCP connection, a UDP port, ARP for the NIC's address) and for
//! nobody, most of them mutated (bit flips, overwritten bytes, cuts, growth, header fields
//! changed with the checksums made right again so the mutation reaches past the checks).
//!
//! What must hold, checked as the run goes and at its end:
//! - the device takes every frame (`CNT_RX_FRAMES` counts each one) and never hangs: every
//!   request completes;
//! - no frame is counted twice: accepted + anonymous + ARP replies + drops is at most the frames
//!   received (the rest were consumed: handshake segments, pure ACKs);
//! - after SOCK_DEL of every socket, every buflet is back on the free list.

use crate::{Backend, Bench, TbError};
use buflet_driver::{AnonBuffer, CplKind, NamedBuffer, SocketSpec};
use buflet_spec::{IpProto, SockFlags};
use etherparse::PacketBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;

use crate::frames::{
    CLIENT_IP as PEER_IP, CLIENT_MAC as PEER_MAC, CLIENT_PORT as PEER_PORT, SERVER_IP as NIC_IP,
    SERVER_MAC as NIC_MAC, SERVER_PORT as TCP_PORT,
};
const UDP_PORT: u16 = 4789;
/// Named buffers kept posted per socket, and anonymous buffers.
const NBS: usize = 8;
const ANONS: usize = 8;
/// Frames sent between two looks at the completions.
const BATCH: u64 = 32;
/// Frames between two resets of every socket (delete, check the buflets, add again).
const EPOCH: u64 = 20_000;

/// Options of a frame fuzz run.
#[derive(Debug, Clone)]
pub struct FrameFuzzOpts {
    /// Which device.
    pub backend: Backend,
    /// Seed of the frame stream.
    pub seed: u64,
    /// Frames to send.
    pub frames: u64,
}

/// What a frame fuzz run saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FrameFuzzReport {
    pub backend: String,
    pub seed: u64,
    /// Frames sent.
    pub frames: u64,
    /// Of those, mutated.
    pub mutated: u64,
    /// `CNT_RX_FRAMES` summed over the epochs.
    pub rx_frames: u64,
    /// Accepted into a socket, passed in anonymous buffers, answered (ARP), dropped.
    pub accepted: u64,
    pub anon: u64,
    pub arp_replies: u64,
    pub dropped: u64,
    /// Frames the engine finished without a drop or an anonymous delivery (`CNT_RX_DONE`).
    pub rx_done: u64,
    /// Of those, neither accepted, held out of order nor answered: consumed by the TCP rules
    /// (handshake segments, pure ACKs, FIN and RST markers).
    pub consumed: u64,
    /// Segments held out of order (`CNT_OOO_HELD`).
    pub ooo_held: u64,
    /// Completions collected.
    pub completions: u64,
    /// Socket resets (every socket deleted and added again), each checked for leaked buflets.
    pub epochs: u64,
    /// Buflets not back on the free list after a reset (must be 0).
    pub buflets_leaked: u64,
    /// Device cycles.
    pub cycles: u64,
}

/// The run's sockets and buffers, re-posted as the device returns them.
struct Posted {
    tcp: u16,
    udp: u16,
    nbs: HashMap<u32, (u16, NamedBuffer)>,
    anons: HashMap<u32, AnonBuffer>,
}

/// The demo's socket (NIC and peer addresses), on `local_port` for `proto`, with a small
/// receive buffer so the window closes under the fuzz's load.
fn socket(proto: IpProto, local_port: u16) -> SocketSpec {
    SocketSpec {
        local_port,
        rcv_buf: 64 << 10,
        rcv_wscale: 2,
        flags: SockFlags::PSH_RETURN,
        proto,
        ..crate::frames::demo_socket(0x5151_0000, 1460)
    }
}

/// Run the fuzz; an error is a device or driver failure (a hang shows as a driver timeout).
pub fn run(opts: &FrameFuzzOpts) -> Result<FrameFuzzReport, TbError> {
    let mut bench = Bench::builder(opts.backend)
        .mem(32 << 20)
        .name("fuzz")
        .build()?;
    let Bench { drv, wire, .. } = &mut bench;
    drv.set_nic_addr(NIC_MAC, NIC_IP);
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut rep = FrameFuzzReport {
        backend: opts.backend.name().into(),
        seed: opts.seed,
        ..FrameFuzzReport::default()
    };
    let num_buflets = u64::from(drv.info.num_buflets);
    let mut posted = open(drv)?;
    for _ in 0..ANONS {
        let a = drv.alloc_anon(2048)?;
        drv.post_anon(&a)?;
        posted.anons.insert(a.ref_num, a);
    }
    let mut isn: u32 = rng.gen();
    let mut seq = isn.wrapping_add(1);
    while rep.frames < opts.frames {
        for _ in 0..BATCH.min(opts.frames - rep.frames) {
            let (f, m) = frame(&mut rng, isn, &mut seq);
            rep.mutated += m as u64;
            rep.frames += 1;
            wire.send(f);
        }
        let mut waited = 0u64;
        while wire.pending() > 0 {
            recycle(drv, &mut posted, &mut rep, 4096)?;
            waited += 4096;
            if waited > 50_000_000 {
                return Err(TbError::Stalled(format!(
                    "{} frames not taken after {waited} cycles",
                    wire.pending()
                )));
            }
        }
        recycle(drv, &mut posted, &mut rep, 256)?;
        while wire.recv().is_some() {}
        if rep.frames % EPOCH < BATCH && rep.frames < opts.frames {
            close(drv, &mut posted, &mut rep, num_buflets)?;
            let anons = std::mem::take(&mut posted.anons);
            posted = open(drv)?;
            posted.anons = anons;
            isn = rng.gen();
            seq = isn.wrapping_add(1);
        }
    }
    close(drv, &mut posted, &mut rep, num_buflets)?;
    let c = drv.counters();
    rep.rx_frames = u64::from(c.rx_frames);
    rep.accepted = u64::from(c.rx_accepted);
    rep.anon = u64::from(c.anon_rx);
    rep.arp_replies = u64::from(c.arp_replies);
    rep.dropped = c.dropped();
    rep.rx_done = u64::from(c.rx_done);
    rep.ooo_held = u64::from(c.ooo_held);
    // Every frame received has exactly one outcome: finished (kept, held, answered or
    // consumed), passed up in an anonymous buffer, or dropped with its reason.
    if rep.rx_frames != rep.rx_done + rep.anon + rep.dropped {
        return Err(TbError::Protocol(format!(
            "counters do not add up: {} frames received, {} finished + {} anonymous + {} dropped",
            rep.rx_frames, rep.rx_done, rep.anon, rep.dropped
        )));
    }
    rep.consumed = rep
        .rx_done
        .checked_sub(rep.accepted + rep.ooo_held + rep.arp_replies)
        .ok_or_else(|| {
            TbError::Protocol(format!(
                "{} frames finished, but {} accepted + {} held + {} ARP replies",
                rep.rx_done, rep.accepted, rep.ooo_held, rep.arp_replies
            ))
        })?;
    if rep.rx_frames != rep.frames {
        return Err(TbError::Protocol(format!(
            "{} frames sent, {} received (CNT_RX_FRAMES)",
            rep.frames, rep.rx_frames
        )));
    }
    rep.cycles = drv.cycles();
    Ok(rep)
}

/// Add the sockets and post their named buffers.
fn open(drv: &mut buflet_driver::Driver) -> Result<Posted, TbError> {
    let (tcp, _) = drv.add_socket(&socket(IpProto::Tcp, TCP_PORT))?;
    let (udp, _) = drv.add_socket(&socket(IpProto::Udp, UDP_PORT))?;
    let mut p = Posted {
        tcp,
        udp,
        nbs: HashMap::new(),
        anons: HashMap::new(),
    };
    for s in [tcp, udp] {
        for _ in 0..NBS {
            let nb = drv.alloc_nb(2)?;
            drv.post_nb(s, &nb, 0)?;
            p.nbs.insert(nb.ref_num, (s, nb));
        }
    }
    Ok(p)
}

/// Collect completions for up to `cycles` and post every returned buffer again.
fn recycle(
    drv: &mut buflet_driver::Driver,
    p: &mut Posted,
    rep: &mut FrameFuzzReport,
    cycles: u64,
) -> Result<(), TbError> {
    for c in drv.wait(cycles)? {
        rep.completions += 1;
        match c.kind {
            CplKind::NbReturn => {
                if let Some((s, nb)) = p.nbs.get(&c.ref_num) {
                    drv.post_nb(*s, nb, 0)?;
                }
            }
            CplKind::AnonRx => {
                if let Some(a) = p.anons.get(&c.ref_num) {
                    drv.post_anon(a)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Delete every socket (their named buffers come back first) and check that every buflet is
/// back on the free list.
fn close(
    drv: &mut buflet_driver::Driver,
    p: &mut Posted,
    rep: &mut FrameFuzzReport,
    num_buflets: u64,
) -> Result<(), TbError> {
    for s in [p.tcp, p.udp] {
        rep.completions += drv.del_socket(s)?.len() as u64;
    }
    for (_, (_, nb)) in p.nbs.drain() {
        drv.free_nb(nb);
    }
    // Frames still in the engine finish; anonymous buffers they fill are posted again.
    recycle(drv, p, rep, 20_000)?;
    rep.epochs += 1;
    let free = u64::from(drv.counters().free_buflets);
    rep.buflets_leaked += num_buflets.saturating_sub(free);
    Ok(())
}

/// One frame: a base frame for one of the device's paths (or nobody), mutated most of the
/// time. Returns it and whether it was mutated.
fn frame(rng: &mut ChaCha8Rng, isn: u32, seq: &mut u32) -> (Vec<u8>, bool) {
    let mut v = Vec::new();
    let payload: Vec<u8> = (0..rng.gen_range(0..1500usize))
        .map(|_| rng.gen())
        .collect();
    match rng.gen_range(0..10) {
        0 => {
            let b = PacketBuilder::ethernet2(PEER_MAC, NIC_MAC)
                .ipv4(PEER_IP, NIC_IP, 64)
                .tcp(PEER_PORT, TCP_PORT, isn, 64240)
                .syn();
            let _ = b.write(&mut v, &[]);
        }
        1..=4 => {
            let s = if rng.gen_bool(0.8) {
                *seq
            } else {
                seq.wrapping_add(rng.gen_range(0..200_000))
            };
            let mut b = PacketBuilder::ethernet2(PEER_MAC, NIC_MAC)
                .ipv4(PEER_IP, NIC_IP, 64)
                .tcp(PEER_PORT, TCP_PORT, s, 64240)
                .ack(0x5151_0001);
            if rng.gen_bool(0.05) {
                b = b.fin();
            }
            if rng.gen_bool(0.02) {
                b = b.rst();
            }
            if b.write(&mut v, &payload).is_ok() && s == *seq {
                *seq = seq.wrapping_add(payload.len() as u32);
            }
        }
        5 | 6 => {
            let _ = PacketBuilder::ethernet2(PEER_MAC, NIC_MAC)
                .ipv4(PEER_IP, NIC_IP, 64)
                .udp(PEER_PORT, UDP_PORT)
                .write(&mut v, &payload);
        }
        7 => {
            v = crate::frames::arp_request(PEER_MAC, PEER_IP, NIC_IP);
        }
        8 => {
            let _ = PacketBuilder::ethernet2(PEER_MAC, NIC_MAC)
                .ipv4(PEER_IP, NIC_IP, 64)
                .icmpv4_echo_request(1, 2)
                .write(&mut v, &payload);
        }
        _ => {
            v = (0..rng.gen_range(0..200usize)).map(|_| rng.gen()).collect();
        }
    }
    let mutate = rng.gen_bool(0.7);
    if mutate {
        super::mutate(rng, &mut v);
    }
    if v.is_empty() {
        // No frame on a wire is empty (the MAC has no word to present).
        v.push(rng.gen());
    }
    (v, mutate)
}
