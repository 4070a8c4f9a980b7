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
            .any(|x| x.faults.disk_error_rate > 0.0 && x.faults.corrupt > 0.0));
        if backend == Backend::Model {
            assert!(r.aborted > 0 && r.failed_named > 0, "{ctx}");
        }
    }
}

/// Named buffers that come back partly filled on timeout must not leave the NAS waiting for a
/// whole chunk while the NIC has no buffer to deliver into. The fault campaign found this
/// deadlock (a run of its seed 1); the writer now writes what arrived once every buffer is
/// back. On both backends.
#[test]
fn partly_filled_buffers_on_timeout_do_not_deadlock_the_writer() {
    use buflet_testbench::peer::{run_with, Faults, PeerOpts};
    for backend in Backend::ALL {
        let opts = PeerOpts {
            backend,
            width: 64,
            bytes: 256 << 10,
            loss: 0.073_449_505_687_068_29,
            reorder: 0.173_932_259_767_334_2,
            dup: 0.0,
            seed: 2_025_286_527_897_774_272,
        };
        let faults = Faults {
            nb_timeout: Some((838, 1)),
            ..Faults::default()
        };
        let r = run_with(&opts, &faults).unwrap_or_else(|e| panic!("{}: {e}", backend.name()));
        assert!(r.verified, "{}: {r:?}", backend.name());
        assert!(
            r.nb_timeouts > 0,
            "{}: no buffer came back on timeout",
            backend.name()
        );
        assert_eq!(r.buflets_free_end, r.num_buflets);
    }
}
