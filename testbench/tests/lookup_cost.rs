//! The socket lookup costs the same number of cycles however many sockets are live
//! (docs/tcp-receive.md "Lookup cost": HASH_PER_SOCKET buckets per slot keep chains short).
//! Cycles are the device's own counters (CNT_LOOKUP_CYCLES per walk: CNT_LOOKUPS less the
//! frames forwarded, CNT_LOOKUP_FWD), not host time.

use buflet_testbench::lookup_bench::{measure, spread};
use buflet_testbench::Backend;

fn check(backend: Backend, slots: u32, live: &[u32]) {
    let points: Vec<_> = live
        .iter()
        .map(|&n| measure(backend, 64, slots, n, 3000, 7).unwrap())
        .collect();
    for p in &points {
        // Every frame went to a live socket: each one matched.
        assert_eq!(p.lookups, 3000, "{p:?}");
        assert_eq!(p.matched, 3000, "{p:?}");
        // At least the bucket read and the socket that matched.
        assert!(p.cycles_per_lookup >= 2.0, "{p:?}");
        // A frame to the socket of the frame before it is forwarded: about one in `live`.
        assert!(p.forwarded < p.lookups, "{p:?}");
    }
    // One live socket: one walk (the bucket read and one socket visited), then every frame
    // forwarded.
    assert_eq!(points[0].forwarded, 3000 - 1, "{:?}", points[0]);
    assert_eq!(points[0].lookup_cycles, 2, "{:?}", points[0]);
    // A full table (live = slots, HASH_PER_SOCKET buckets each): about 1.125 sockets visited
    // per lookup (docs/tcp-receive.md "Lookup cost"), so at most 2.15 cycles with the bucket
    // read.
    let last = points.last().unwrap();
    if last.live == slots {
        assert!(last.cycles_per_lookup <= 2.15, "{last:?}");
    }
    let s = spread(&points);
    assert!(
        s <= 1.10,
        "lookup cost grows with the sockets: {s:.3} ({points:?})"
    );
}

#[test]
fn model_lookup_cost_flat_to_65536_sockets() {
    check(Backend::Model, 65536, &[1, 64, 4096, 65536]);
}

#[test]
fn rtl_lookup_cost_flat_to_4096_sockets() {
    // The RTL's largest build has 4,096 socket slots (the model takes 65,536 above).
    check(Backend::Rtl, 4096, &[1, 64, 1024, 4096]);
}

#[test]
fn rtl_lookup_cost_flat_in_the_default_build() {
    check(Backend::Rtl, 64, &[1, 64]);
}
