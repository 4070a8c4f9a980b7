//! Stimulus: region bases and lengths from small pools (overlapping, sharing edges, reaching the
//! top of the address space), random REG_REGION / DEREG_REGION entries (valid and invalid),
//! accesses near the edges of registered regions, and the REG_REGION entry builder.

use crate::*;

/// A base from a small pool so that regions overlap, share edges and reach the top of the
/// address space.
pub fn pick_base(rng: &mut StdRng) -> u64 {
    match rng.gen_range(0..6) {
        0 => 0,
        1 => rng.gen_range(0..16u64) * 0x1000,
        2 => u64::MAX - rng.gen_range(0..0x3000u64),
        3 => 0x8000_0000_0000_0000 + rng.gen_range(0..4u64) * 0x800,
        _ => rng.gen_range(0..64u64) * 0x400 + rng.gen_range(0..3u64),
    }
}

pub fn pick_len(rng: &mut StdRng) -> u64 {
    match rng.gen_range(0..8) {
        0 => 0,
        1 => 1,
        2 => u64::MAX - rng.gen_range(0..2u64),
        3 => 0x1000,
        _ => rng.gen_range(1..0x4000u64),
    }
}

pub fn random_request(rng: &mut StdRng, n: usize, tag: u32, reg_prob: f64) -> [u8; 64] {
    let reg = rng.gen_bool(reg_prob);
    let opcode = if reg {
        Opcode::RegRegion
    } else {
        Opcode::DeregRegion
    };
    let sock_ref = rng.gen_range(0..4u64) as u16; // drawn as u64: the seed's sequence
    let slot = match rng.gen_range(0..12) {
        0 => n as u64,
        1 => 0xFFFF_FFFF,
        2 => rng.gen_range(n as u64..1 << 32),
        // low bits of a valid slot: an out-of-range slot must not alias onto one
        3 => (1u64 << 31) | rng.gen_range(0..n as u64),
        _ => rng.gen_range(0..n as u64),
    };
    // 0 and 4..=255 are invalid permission sets: kept as raw bits
    let flags = match rng.gen_range(0..10) {
        0 => 0,
        1 => rng.gen_range(4..256u64),
        _ => rng.gen_range(1..4u64),
    };
    RegionDesc {
        opcode,
        flags: RegionPerm::from_bits_retain(flags as u8),
        sock_ref,
        tag,
        slot: u32::try_from(slot).unwrap(),
        base: pick_base(rng),
        len: pick_len(rng),
        ..Default::default()
    }
    .to_bytes()
}

/// An access near the edges of a registered region, or anywhere.
pub fn random_access(rng: &mut StdRng, o: &Oracle) -> (u64, u32, bool) {
    let write = rng.gen_bool(0.5);
    let live: Vec<Slot> = o.slots.iter().flatten().copied().collect();
    if live.is_empty() || rng.gen_bool(0.15) {
        return (pick_base(rng), rng.gen_range(0..0x2000u32), write);
    }
    let s = live[rng.gen_range(0..live.len())];
    let len = match rng.gen_range(0..5) {
        0 => 0,
        1 => 1,
        2 => 32,
        3 => 4096,
        _ => rng.gen_range(1..0x3000u32),
    };
    let end = s.base as u128 + s.len as u128;
    let d = rng.gen_range(0..3u64);
    let addr = match rng.gen_range(0..5) {
        0 => s.base.wrapping_add(d),
        1 => s.base.wrapping_sub(d),
        2 => (end.wrapping_sub(len as u128) as u64).wrapping_add(d),
        3 => (end.wrapping_sub(len as u128) as u64).wrapping_sub(d),
        _ => s.base.wrapping_add(rng.gen_range(0..s.len.min(1 << 20))),
    };
    (addr, len, write)
}

/// REG_REGION entries of the regions (base, len, permissions), in slots 0, 1, ... with tags
/// 10, 11, ...
pub fn region_reqs(regions: &[(u64, u64, RegionPerm)]) -> Vec<[u8; 64]> {
    (0..)
        .zip(regions)
        .map(|(i, &(base, len, flags))| region_req(10 + i, i, base, len, flags))
        .collect()
}

/// A REG_REGION entry.
pub fn region_req(tag: u32, slot: u32, base: u64, len: u64, flags: RegionPerm) -> [u8; 64] {
    RegionDesc::new(Opcode::RegRegion, tag, slot, base, len, flags).to_bytes()
}
