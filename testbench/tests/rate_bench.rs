//! `buflet bench rate` (testbench/src/rate_bench.rs) on both backends: every payload byte of
//! every frame size lands in host memory with no drop, and no figure beats what the datapath
//! can physically do (one bus word per cycle into the MAC) nor claims a rate the cycles do not
//! give. The figures themselves are the bench's to print, not a test's to hold.

use buflet_testbench::rate_bench::{measure, DEFAULT_LINE_GBPS, OVERHEAD};
use buflet_testbench::Backend;

fn check(backend: Backend, width: u32, sizes: &[usize], frames: u64) {
    for &size in sizes {
        let p = measure(backend, width, size, frames, DEFAULT_LINE_GBPS).expect("measured");
        let what = format!("{backend:?} {width} {size} B");
        assert_eq!(p.payload_bytes, size - OVERHEAD, "{what}");
        assert_eq!(
            p.delivered_bytes,
            frames * p.payload_bytes as u64,
            "{what}: every payload byte delivered"
        );
        assert_eq!(p.drops, 0, "{what}");
        assert!(
            p.verified && p.first_bad_byte.is_none(),
            "{what}: payload in host memory differs from byte {:?}",
            p.first_bad_byte
        );
        // At 250 MHz, with 20 bytes of preamble and gap per frame on the wire.
        let m250 = 250.0 / p.cycles_per_frame;
        assert!((p.mpps_at_250mhz - m250).abs() < 1e-9, "{what}");
        assert!(
            (p.wire_gbps_at_250mhz - m250 * ((size + 20) * 8) as f64 / 1000.0).abs() < 1e-9,
            "{what}"
        );
        // The MAC takes one bus word per cycle: a frame of size - 4 bytes needs at least its
        // words.
        let words = (size - 4).div_ceil(width as usize / 8) as f64;
        assert!(
            p.cycles_per_frame >= words,
            "{what}: {} cycles per frame, below the {words} words of a frame",
            p.cycles_per_frame
        );
        let mpps = f64::from(p.clock_mhz) / p.cycles_per_frame;
        assert!((p.mpps - mpps).abs() < 1e-9, "{what}");
        assert!(
            (p.gbps - mpps * size as f64 * 8.0 / 1000.0).abs() < 1e-9,
            "{what}"
        );
    }
}

#[test]
fn rate_sweep_delivers_every_byte_both_backends() {
    check(Backend::Model, 64, &[64, 1500, 9000], 200);
    check(Backend::Rtl, 64, &[64, 1500, 9000], 200);
    check(Backend::Rtl, 512, &[64, 1500], 200);
}

#[test]
fn rate_refuses_impossible_sizes_and_rates() {
    assert!(measure(Backend::Model, 64, 40, 10, DEFAULT_LINE_GBPS).is_err());
    assert!(measure(Backend::Model, 64, 20_000, 10, DEFAULT_LINE_GBPS).is_err());
    assert!(measure(Backend::Model, 64, 64, 0, DEFAULT_LINE_GBPS).is_err());
    assert!(measure(Backend::Model, 64, 64, 10, f64::NAN).is_err());
    assert!(measure(Backend::Model, 64, 64, 10, 0.0).is_err());
}
