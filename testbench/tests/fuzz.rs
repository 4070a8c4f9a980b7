//! The fuzz targets at a size that fits the test suite (issue 11): mutated and random frames
//! into both backends, and random and mutated inputs into the capture, SMB2 and BFW1 parsers.
//! `buflet fuzz` runs them at any size (README).

use buflet_testbench::fuzz::{frames, parsers};
use buflet_testbench::Backend;

#[test]
fn mutated_frames_into_both_backends() {
    for (b, n) in [(Backend::Model, 20_000), (Backend::Rtl, 3_000)] {
        let r = frames::run(&frames::FrameFuzzOpts {
            backend: b,
            seed: 7,
            frames: n,
        })
        .unwrap_or_else(|e| panic!("{}: {e}", b.name()));
        let ctx = format!("{r:?}");
        assert_eq!(r.frames, n, "{ctx}");
        assert_eq!(r.rx_frames, n, "every frame entered the device: {ctx}");
        assert_eq!(r.buflets_leaked, 0, "{ctx}");
        // The mix reaches every path: sockets, anonymous buffers, ARP, drops.
        assert!(
            r.accepted > 0 && r.anon > 0 && r.arp_replies > 0 && r.dropped > 0,
            "{ctx}"
        );
        assert!(r.mutated > n / 2, "{ctx}");
    }
}

#[test]
fn parsers_take_random_and_mutated_inputs() {
    let r = parsers::run(11, 50_000);
    assert_eq!(r.inputs, 50_000);
    // Mutations leave some inputs valid, so each parser's accepting paths run too.
    assert!(
        r.captures_read > 0 && r.smb2_messages > 0 && r.bfw1_records > 0,
        "{r:?}"
    );
}
