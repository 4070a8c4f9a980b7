//! The socket lookup's cost as sockets are added (`buflet bench lookup`): with `n` live
//! sockets in the table, frames to seeded random ones of them go through the lookup, and the
//! device's own counters say what it spent: `CNT_LOOKUP_CYCLES / (CNT_LOOKUPS -
//! CNT_LOOKUP_FWD)` cycles per walk of a hash chain (docs/tcp-receive.md, "Lookup cost"; a
//! frame to the socket of the frame before it is forwarded, without a walk). The RTL spends
//! exactly those cycles; the model charges them. Frames are built by etherparse.
//!
//! Each socket is a TCP socket in LISTEN (added by `SOCK_ADD` with its own peer address and
//! port, as a server's accepted connections have); each frame is a pure ACK from one of the
//! peers, which the socket's LISTEN rules drop (BAD_STATE) right after the lookup, so the
//! measurement is the lookup and nothing else moves.

use crate::frames::{demo_socket, peer_ack};
use crate::{Backend, Bench, TbError};
use buflet_platform::DeviceConfig;
use buflet_spec::reg;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One measurement.
#[derive(Debug, Clone, Serialize)]
pub struct LookupPoint {
    /// "model" or "rtl".
    pub backend: String,
    /// Socket slots of the build.
    pub slots: u32,
    /// Hash buckets of the build.
    pub buckets: u32,
    /// Live sockets in the table.
    pub live: u32,
    /// Frames that went through the lookup.
    pub lookups: u32,
    /// Of them, frames forwarded to the socket the last walk matched (CNT_LOOKUP_FWD): no walk.
    pub forwarded: u32,
    /// Cycles the lookups took (CNT_LOOKUP_CYCLES).
    pub lookup_cycles: u32,
    /// `lookup_cycles / (lookups - forwarded)`: the cost of one walk.
    pub cycles_per_lookup: f64,
    /// Frames that matched a socket (all of them, unless something is wrong: every frame is
    /// sent to a live socket).
    pub matched: u32,
}

/// `n` distinct seeded peers: random ephemeral ports (32768..61000, as Linux picks them) on
/// random addresses of a /16, so the hash sees what many real clients give it (sequential
/// ports from one address would spread perfectly and flatter the table).
fn peers(n: u32, rng: &mut ChaCha8Rng) -> Vec<([u8; 4], u16)> {
    let mut seen = std::collections::HashSet::with_capacity(n as usize);
    let mut out = Vec::with_capacity(n as usize);
    while out.len() < n as usize {
        let p = (
            [10, 201, rng.gen(), rng.gen_range(1..255)],
            rng.gen_range(32768..61000),
        );
        if seen.insert(p) {
            out.push(p);
        }
    }
    out
}

/// Measure `frames` lookups with `live` sockets on `backend` built with `slots` socket slots.
pub fn measure(
    backend: Backend,
    width: u32,
    slots: u32,
    live: u32,
    frames: u32,
    seed: u64,
) -> Result<LookupPoint, TbError> {
    if live == 0 || live > slots {
        return Err(TbError::Unsupported(format!(
            "{live} live sockets in a build of {slots} slots"
        )));
    }
    let cfg = DeviceConfig::with_sockets(width, slots);
    let mut b = Bench::builder(backend)
        .config(cfg)
        .mem(64 << 20)
        .name("lookup")
        .build()?;
    let base = demo_socket(0x1000, 1460);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut socks = Vec::with_capacity(live as usize);
    for (ip, port) in peers(live, &mut rng) {
        let s = buflet_driver::SocketSpec {
            remote_ip: ip,
            remote_port: port,
            ..base
        };
        b.drv.add_socket(&s)?;
        socks.push(s);
    }
    let l0 = b.drv.rd(reg::CNT_LOOKUPS);
    let f0 = b.drv.rd(reg::CNT_LOOKUP_FWD);
    let c0 = b.drv.rd(reg::CNT_LOOKUP_CYCLES);
    let n0 = b.drv.rd(reg::CNT_DROP_NO_SOCKET);
    let mut sent = 0u32;
    while sent < frames {
        // A burst, then let the device take it (the MAC queue is the wire's, unbounded).
        let burst = (frames - sent).min(64);
        for _ in 0..burst {
            let s = &socks[rng.gen_range(0..socks.len())];
            b.wire.send(peer_ack(s, 1, 1));
        }
        sent += burst;
        let mut waited = 0u64;
        while b.wire.pending() > 0 {
            b.drv.run(512);
            waited += 512;
            if waited > 50_000_000 {
                return Err(TbError::Stalled("the lookup frames were not taken".into()));
            }
        }
        b.drv.run(256);
        while b.wire.recv().is_some() {}
    }
    b.drv.run(2048);
    let lookups = b.drv.rd(reg::CNT_LOOKUPS) - l0;
    let forwarded = b.drv.rd(reg::CNT_LOOKUP_FWD) - f0;
    let lookup_cycles = b.drv.rd(reg::CNT_LOOKUP_CYCLES) - c0;
    let missed = b.drv.rd(reg::CNT_DROP_NO_SOCKET) - n0;
    Ok(LookupPoint {
        backend: backend.name().into(),
        slots,
        buckets: b.drv.info.hash_buckets,
        live,
        lookups,
        forwarded,
        lookup_cycles,
        cycles_per_lookup: lookup_cycles as f64 / lookups.saturating_sub(forwarded).max(1) as f64,
        matched: lookups.saturating_sub(missed),
    })
}

/// The spread of a set of measurements: largest cycles per walk over the smallest.
pub fn spread(points: &[LookupPoint]) -> f64 {
    let min = points
        .iter()
        .map(|p| p.cycles_per_lookup)
        .fold(f64::INFINITY, f64::min);
    let max = points
        .iter()
        .map(|p| p.cycles_per_lookup)
        .fold(0.0, f64::max);
    if min > 0.0 {
        max / min
    } else {
        f64::INFINITY
    }
}
