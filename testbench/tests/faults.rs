//! The fault campaign at a size that fits the test suite (issue 11): seeded smoltcp uploads
//! through a link that loses, reorders, duplicates, corrupts and truncates frames, to a disk
//! that fails, with the peer resetting mid-upload. No acknowledged byte may be lost, no buflet
//! leaked, and every run must end verified, cut by its abort, or failed naming what it did not
//! write. On both backends; `buflet faults` runs it at any size.

use buflet_testbench::faults::{run, CampaignOpts};
use buflet_testbench::Backend;

#[test]
fn fault_campaign_on_both_backends() {
    for (backend, runs) in [(Backend::Model, 40), (Backend::Rtl, 8)] {
        let r = run(&CampaignOpts {
            backend,
            seed: 5,
            runs,
            bytes: 96 << 10,
        });
        let ctx = serde_json::to_string_pretty(&r).unwrap();
        assert_eq!(r.runs.len(), runs as usize);
        assert_eq!(r.errors, 0, "{ctx}");
        assert_eq!(r.acked_lost, 0, "{ctx}");
        assert_eq!(r.buflets_leaked, 0, "{ctx}");
        assert!(r.passed, "{ctx}");
        assert_eq!(r.verified + r.aborted + r.failed_named, runs, "{ctx}");
        // The mixes do reach the faults.
        assert!(r
            .runs
            .iter()
            .any(|x| x.disk_error_rate > 0.0 && x.corrupt > 0.0));
        if backend == Backend::Model {
            assert!(r.aborted > 0 && r.failed_named > 0, "{ctx}");
        }
    }
}
