//! `buflet demo --read-back` on both backends: the seeded file is written as BFW1 records,
//! acknowledged record by record, read back over the same connection and checked by sha256;
//! the JSON reports the read direction beside the write one, and `--cow` shows both sides of
//! seed 002 (the naive NAS takes copy-on-write faults and stays correct, the aware one takes
//! none). Options a read-back cannot honour are refused with one line.

use std::process::{Command, Output};

fn buflet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_buflet"))
        .args(args)
        .output()
        .expect("buflet runs")
}

fn report(args: &[&str]) -> serde_json::Value {
    let o = buflet(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 1, "one JSON object: {out}");
    serde_json::from_str(&out).expect("JSON")
}

#[test]
fn demo_reads_back_on_both_backends() {
    for backend in ["model", "rtl"] {
        for cow in ["aware", "naive"] {
            let r = report(&[
                "demo",
                "--read-back",
                "--backend",
                backend,
                "--bytes",
                "300001",
                "--cow",
                cow,
                "--json",
            ]);
            let ctx = format!("{backend} {cow}: {r}");
            assert_eq!(r["verified"], true, "{ctx}");
            assert_eq!(r["read_sha256"], r["source_sha256"], "{ctx}");
            // The whole file, and 8 seeded ranges more (each byte checked by the client).
            assert!(r["read_bytes"].as_u64().expect(&ctx) > 300001, "{ctx}");
            assert_eq!(r["write_acks"], 5, "{ctx}");
            let read = r["read_dram_crossings_per_byte"].as_f64().expect(&ctx);
            let write = r["dram_crossings_per_byte"].as_f64().expect(&ctx);
            assert!((2.0..2.3).contains(&read), "{ctx}");
            assert!((2.0..2.3).contains(&write), "{ctx}");
            let faults = r["cow_faults"].as_u64().expect(&ctx);
            if cow == "naive" {
                assert!(faults > 0, "{ctx}");
            } else {
                assert_eq!(faults, 0, "{ctx}");
            }
        }
    }
}

/// The read direction's host-DRAM crossings per byte by mode: p2p (blocks read into host
/// buflets and sent from there: metadata only), splice (one CPU copy), copy (two).
#[test]
fn read_back_modes_cost_what_they_move() {
    for (mode, lo, hi) in [("p2p", 0.0, 0.1), ("splice", 4.0, 4.3), ("copy", 6.0, 6.3)] {
        let r = report(&[
            "demo",
            "--read-back",
            "--mode",
            mode,
            "--bytes",
            "262144",
            "--json",
        ]);
        assert_eq!(r["verified"], true, "{r}");
        let read = r["read_dram_crossings_per_byte"].as_f64().expect("read");
        assert!((lo..hi).contains(&read), "{mode}: {read}");
    }
}

#[test]
fn read_back_refuses_what_it_cannot_honour() {
    for (args, needle) in [
        (&["--protocol", "raw"][..], "--protocol raw"),
        (&["--mss", "1000"][..], "--mss"),
        (&["--disk", "scsi"][..], "--disk scsi"),
    ] {
        let mut a = vec!["demo", "--read-back", "--bytes", "5000"];
        a.extend_from_slice(args);
        let o = buflet(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{a:?}: {err}");
        assert!(err.contains(needle), "{a:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // --cow belongs to a read-back.
    assert_eq!(buflet(&["demo", "--cow", "naive"]).status.code(), Some(2));
}
