//! The fault campaign at a size that fits the test suite (issue 11): seeded smoltcp uploads
//! through a link that loses, reorders, duplicates, corrupts and truncates frames, to a disk
//! that fails, with the peer resetting mid-upload. No acknowledged byte may be lost, no buflet
//! leaked, and every run must end verified, cut by its abort, or failed naming what it did not
//! write. On both backends; `buflet faults` runs it at any size.

use buflet_testbench::faults::{run, CampaignOpts};
use buflet_testbench::peer::{run_with, Faults, PeerOpts, PeerReport};
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
        assert_eq!(r.completions_missing, 0, "{ctx}");
        assert!(r.passed, "{ctx}");
        assert_eq!(r.verified + r.aborted + r.failed_named, runs, "{ctx}");
        // The mixes do reach the faults.
        assert!(r
            .runs
            .iter()
            .any(|x| x.faults.disk_error_rate > 0.0 && x.faults.corrupt > 0.0));
        if backend == Backend::Model {
            assert!(r.aborted > 0 && r.failed_named > 0, "{ctx}");
            // (96 KiB uploads cannot fill the 512 KiB pool: exhaustion has its own test below)
            assert!(r.hung_disk_runs > 0, "{ctx}");
        }
    }
}

/// One regression run on each backend: `bytes` seeded bytes over a link with `loss` and
/// `reorder`, with `faults`; `check` looks at the report (a leaked buflet is already an error
/// of `run_with`).
fn on_both(
    bytes: u64,
    loss: f64,
    reorder: f64,
    seed: u64,
    faults: &Faults,
    check: impl Fn(&str, &PeerReport),
) {
    for backend in Backend::ALL {
        let opts = PeerOpts {
            backend,
            width: 64,
            bytes,
            loss,
            reorder,
            dup: 0.0,
            seed,
            read_back: false,
            cow: Default::default(),
            pcap_out: None,
            mode: Default::default(),
        };
        let r = run_with(&opts, faults).unwrap_or_else(|e| panic!("{}: {e}", backend.name()));
        assert_eq!(r.buflets_free_end, r.num_buflets, "{}", backend.name());
        check(backend.name(), &r);
    }
}

/// Named buffers that come back partly filled on timeout must not leave the NAS waiting for a
/// whole chunk while the NIC has no buffer to deliver into. The fault campaign found this
/// deadlock (a run of its seed 1); the writer now writes what arrived once every buffer is
/// back. On both backends.
#[test]
fn partly_filled_buffers_on_timeout_do_not_deadlock_the_writer() {
    let faults = Faults {
        nb_timeout: Some((838, 1)),
        ..Faults::default()
    };
    on_both(
        256 << 10,
        0.073_449_505_687_068_29,
        0.173_932_259_767_334_2,
        2_025_286_527_897_774_272,
        &faults,
        |name, r| {
            assert!(r.verified, "{name}: {r:?}");
            assert!(
                r.nb_timeouts > 0,
                "{}: no buffer came back on timeout",
                name
            );
        },
    );
}

/// An application that stalls with one named buffer posted while the window (4 MiB) is larger
/// than the buflet pool: the received data fills the pool down to its reserve, the window
/// closes, and once the application is back every byte lands. On both backends.
#[test]
fn a_stalled_application_exhausts_the_pool_and_loses_nothing() {
    let faults = Faults {
        app_stall: Some((30_000, 1_500_000)),
        nbs: Some(1),
        rcv_buf: Some(4 << 20),
        ..Faults::default()
    };
    on_both(1 << 20, 0.0, 0.0, 77, &faults, |name, r| {
        let reserve = r.num_buflets / buflet_spec::param::POOL_RESERVE_DIV as u32;
        assert!(r.verified, "{name}: {r:?}");
        assert!(
            r.min_free_buflets <= reserve + 1,
            "{}: the pool never ran down to its reserve ({} free at least)",
            name,
            r.min_free_buflets
        );
        assert!(r.nic_acks.zero_windows > 0, "{name}: no zero window");
    });
}

/// A disk that stops answering in the middle of an upload: every block write still completes
/// (DISK_TIMEOUT), the NAS fails naming the file bytes it did not write, and no acknowledged
/// byte outside that range is lost. On both backends.
#[test]
fn a_disk_that_stops_answering_ends_every_write() {
    let faults = Faults {
        disk_hang_after: Some(20),
        max_retries: Some(1),
        ..Faults::default()
    };
    on_both(256 << 10, 0.01, 0.0, 78, &faults, |name, r| {
        let m = r
            .failure
            .as_deref()
            .unwrap_or_else(|| panic!("{name}: {r:?}"));
        assert!(m.contains("DISK_TIMEOUT"), "{name}: {m}");
        let (a, b) = r.not_on_disk.unwrap();
        assert!(a <= 20 * 4096 && b > a, "{name}: {a}..{b}");
        assert!(r.blk_timeouts >= 2, "{name}: {} timeouts", r.blk_timeouts);
        assert_eq!(r.completions_missing, 0, "{name}");
        assert_eq!(r.acked_lost, 0, "{name}");
    });
}

/// After an abort, the NIC may still be moving acknowledged bytes into a posted named buffer,
/// which no frame and no completion shows until the buffer is full. The campaign (RTL, seed 2,
/// run 9: an application stall with one named buffer, then the peer's RST) deleted the socket
/// in that silence and lost 52681 acknowledged bytes; the peer now counts delivered bytes as
/// activity. On both backends.
#[test]
fn an_abort_waits_for_the_bytes_still_being_delivered() {
    let faults = Faults {
        max_retries: Some(0),
        abort_after: Some(238_176),
        app_stall: Some((50_084, 659_965)),
        rcv_buf: Some(2_747_737),
        nbs: Some(1),
        ..Faults::default()
    };
    on_both(
        256 << 10,
        0.005_514_159_532_992_871,
        0.196_465_132_257_253_32,
        5_177_525_825_761_719_168,
        &faults,
        |name, r| {
            assert!(r.aborted && r.acked > 200_000, "{name}: {r:?}");
            assert_eq!(r.acked_lost, 0, "{name}: {r:?}");
        },
    );
}

/// Buflets are counted after SOCK_DEL only once the frames still on the wire or in the
/// receive pipeline have been dropped (NO_SOCKET): the campaign (RTL, seed 2, run 16: the
/// first block write fails for good and the socket is deleted at once) counted one buflet of
/// an in-flight frame as leaked. On both backends.
#[test]
fn frames_in_flight_at_socket_delete_are_not_leaks() {
    let faults = Faults {
        disk_error_rate: 0.028_257_506_396_823_687,
        max_retries: Some(0),
        rcv_buf: Some(1_279_972),
        ..Faults::default()
    };
    on_both(
        256 << 10,
        0.046_994_559_729_198_304,
        0.048_415_172_936_382_83,
        553_410_987_263_150_630,
        &faults,
        |name, r| {
            assert!(r.failure.is_some(), "{name}: {r:?}");
            assert_eq!(r.acked_lost, 0, "{}", name);
        },
    );
}
