//! The command line refuses hostile options with one line on stderr and exit status 2, before
//! it allocates or simulates anything (issue 11, items 4 and 9).
//!
//! Runs use the model: option checks, `--image` protection, JSON on failure and scratch
//! removal on signals are the CLI's own, the same whichever backend runs (cosim, killed in
//! the signal test, drives both).

use std::process::{Command, Output};

fn buflet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_buflet"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

/// Exit status 2 and a message on stderr naming `needle`, with no backtrace or panic.
fn refused(args: &[&str], needle: &str) {
    let o = buflet(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{args:?}: {err}"
    );
    assert!(o.stdout.is_empty(), "{args:?}");
}

/// `demo --bytes 2000000000` aborted on allocation with a backtrace.
#[test]
fn stream_lengths_past_the_limit_are_refused() {
    for n in ["2000000000", "10000000000", "18446744073709551615"] {
        refused(&["demo", "--bytes", n], "a run holds in memory");
        refused(&["peer", "--bytes", n], "a run holds in memory");
    }
    refused(&["demo", "--bytes", "-1"], "invalid digit");
}

/// `--disk-error-rate -0.5` said "unexpected argument '-0'".
#[test]
fn negative_probabilities_are_named_as_such() {
    refused(
        &["demo", "--disk-error-rate", "-0.5"],
        "-0.5 is not a probability",
    );
    refused(&["demo", "--disk-error-rate", "1.5"], "not a probability");
}

/// `--image PATH` turned any existing file into an ext4 image (issue 11, item 5): a file that
/// is not a Buflet image is left alone unless `--force` is given.
#[test]
fn image_refuses_to_overwrite_a_foreign_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, "my notes\n").unwrap();
    let ps = p.to_str().unwrap();
    let o = buflet(&["demo", "--bytes", "5000", "--image", ps]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not a Buflet disk image") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), b"my notes\n");
    // With --force it is overwritten, and the image it becomes may be overwritten again.
    for args in [&["--force"][..], &[][..]] {
        let mut a = vec!["demo", "--bytes", "5000", "--image", ps];
        a.extend_from_slice(args);
        let o = buflet(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(buflet_fs::is_buflet_image(&p));
}

/// Start `buflet args` with its own temporary directory, wait for its first scratch file, end
/// it with `signal`, and check that it exits 130 leaving the directory empty (issue 11, item 7:
/// SIGINT and SIGTERM left `buflet-PID-*.img` and cosim's images behind).
fn killed_run_leaves_nothing(args: &[&str], signal: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_buflet"))
        .args(args)
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let entries = || std::fs::read_dir(tmp.path()).unwrap().count();
    let mut polls = 0;
    while entries() == 0 {
        assert!(child.try_wait().unwrap().is_none(), "{args:?} ended early");
        std::thread::sleep(std::time::Duration::from_millis(20));
        polls += 1;
        assert!(polls < 3000, "{args:?} made no scratch file");
    }
    let st = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{args:?} {signal}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "{args:?} {signal} left {left:?}");
}

#[test]
fn signals_leave_no_scratch_files() {
    let demo = ["demo", "--backend", "model", "--bytes", "100000000"];
    killed_run_leaves_nothing(&demo, "-INT");
    killed_run_leaves_nothing(&demo, "-TERM");
    killed_run_leaves_nothing(
        &["peer", "--backend", "model", "--bytes", "100000000"],
        "-TERM",
    );
    killed_run_leaves_nothing(&["cosim", "--cases", "1000", "--seed", "5"], "-INT");
}

/// Parse stdout as exactly one JSON object.
fn one_object(o: &Output) -> serde_json::Value {
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stdout: {out}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Every `--json` run prints exactly one object, a failed one too, with `passed` false and the
/// error (issue 11, item 8: replay load errors printed nothing on stdout).
#[test]
fn json_failures_print_one_object() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    for args in [
        vec!["replay", empty.to_str().unwrap(), "--json"],
        vec!["replay", dir.path().to_str().unwrap(), "--json"],
        vec!["demo", "--mss", "0", "--json"],
        vec!["demo", "--width", "96", "--json"],
    ] {
        let o = buflet(&args);
        assert!(!o.status.success(), "{args:?}");
        let v = one_object(&o);
        assert_eq!(v["passed"], false, "{args:?}: {v}");
        assert_eq!(v["verified"], false, "{args:?}: {v}");
        assert!(
            !v["error"].as_str().unwrap_or("").is_empty(),
            "{args:?}: {v}"
        );
    }
}

/// `cosim --cases 0` exited 0 having compared nothing (issue 11, item 9).
#[test]
fn cosim_without_cases_is_refused() {
    refused(&["cosim", "--cases", "0"], "--cases");
}

/// `bench rate --csv --png` writes one header and one row per size and a plot; under `--json`
/// one object.
/// (The model only: the CSV and JSON are the CLI's; testbench/tests/rate_bench.rs runs the
/// measurement on both backends.)
#[test]
fn bench_rate_writes_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rate.csv");
    let ps = p.to_str().unwrap();
    let png = dir.path().join("rate.png");
    let o = buflet(&[
        "bench",
        "rate",
        "--sizes",
        "64,1500",
        "--frames",
        "50",
        "--csv",
        ps,
        "--png",
        png.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["points"].as_array().map(|a| a.len()), Some(2));
    let csv = std::fs::read_to_string(&p).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].contains("frame_bytes") && lines[0].contains("cycles_per_frame"));
    assert!(
        lines[1].contains(",64,") && lines[2].contains(",1500,"),
        "{csv}"
    );
    let img = std::fs::read(&png).unwrap();
    assert!(
        img.starts_with(b"\x89PNG\r\n\x1a\n") && img.len() > 4000,
        "a PNG"
    );
    refused(&["bench", "rate", "--sizes", "40"], "40");
}

/// `bench linerate`: one JSON object with the fields, the payload checked. The model
/// only: the RTL's rate is checked by testbench/tests/rate_bench.rs through the same function.
#[test]
fn bench_linerate_prints_its_json_contract() {
    let o = buflet(&[
        "bench",
        "linerate",
        "--backend",
        "model",
        "--width",
        "512",
        "--frame-bytes",
        "1500",
        "--frames",
        "100",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["frame_bytes"], 1500);
    let cpf = v["cycles_per_frame"].as_f64().unwrap();
    assert!(cpf >= 1492.0 / 64.0, "{cpf}");
    let mpps = v["mpps_at_250mhz"].as_f64().unwrap();
    assert!((mpps - 250.0 / cpf).abs() < 1e-9);
    let wire = v["wire_gbps_at_250mhz"].as_f64().unwrap();
    assert!((wire - mpps * 1520.0 * 8.0 / 1000.0).abs() < 1e-9);
    refused(&["bench", "linerate", "--frame-bytes", "9999"], "9999");
    refused(&["bench", "linerate"], "--frame-bytes");
}

/// `buflet bench` alone: every benchmark on both backends, one JSON object, and its files in
/// the directory it names (a short run: few frames, a small demo file).
#[test]
fn bench_alone_runs_everything_and_writes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    let o = buflet(&[
        "bench",
        "--out",
        out.to_str().unwrap(),
        "--frames",
        "20",
        "--demo-bytes",
        "65536",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["passed"], true);
    // 7 sizes x 2 backends x 2 widths; 2 backends x (512-bit demo + 4 modes); lookups.
    assert_eq!(v["rate"].as_array().unwrap().len(), 28);
    let demo = v["demo"].as_array().unwrap();
    assert_eq!(demo.len(), 10);
    for d in demo {
        assert_eq!(d["verified"], true, "{d}");
        let x = d["dram_crossings_per_byte"].as_f64().unwrap();
        let want = match d["mode"].as_str().unwrap() {
            "p2p" => 0.0,
            "zerocopy" => 2.0,
            "splice" => 4.0,
            _ => 6.0,
        };
        assert!(x >= want && x < want + 0.5, "{d}");
    }
    assert!(v["simspeed"]["icarus_agrees"].as_bool().unwrap());
    for f in [
        "rate.csv",
        "rate.png",
        "demo.csv",
        "lookup.csv",
        "lookup.png",
        "simspeed.csv",
        "bench.md",
    ] {
        let p = out.join(f);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(!bytes.is_empty(), "{f}");
    }
    let csv = std::fs::read_to_string(out.join("rate.csv")).unwrap();
    assert_eq!(csv.lines().count(), 29, "{csv}");
    let md = std::fs::read_to_string(out.join("bench.md")).unwrap();
    assert!(md.contains("| rtl | 512 | 64 |"), "{md}");
    // A subcommand's options are not the suite's.
    refused(&["bench", "--frames", "10", "rate"], "");
}

/// `--line-gbps`: a rate that is not a positive finite number up to 1000 Gbit/s is refused; the
/// default follows the width (10 GbE at 64 bits, 100 GbE at 512, `DeviceConfig::mac_gbps`), and
/// the wire paces the run: at 512 bits a 10 GbE wire takes more cycles than the default one.
/// On the model: the option sets the harness's wire, which feeds either backend the same way.
#[test]
fn line_rate_is_checked_and_paces_the_wire() {
    for g in ["0", "-5", "nan", "inf", "2000", "fast"] {
        refused(&["demo", "--line-gbps", g], g);
    }
    let cycles = |args: &[&str]| -> u64 {
        let mut a = vec!["demo", "--backend", "model", "--bytes", "300000", "--json"];
        a.extend_from_slice(args);
        let o = buflet(&a);
        assert!(
            o.status.success(),
            "{a:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["passed"], true, "{a:?}");
        v["cycles"].as_u64().unwrap()
    };
    assert_eq!(
        cycles(&["--width", "64"]),
        cycles(&["--width", "64", "--line-gbps", "10"]),
        "64 bits: 10 GbE by default"
    );
    let (fast, slow) = (
        cycles(&["--width", "512"]),
        cycles(&["--width", "512", "--line-gbps", "10"]),
    );
    assert!(
        fast * 2 < slow,
        "512 bits: the default (100 GbE) run takes {fast} cycles, the 10 GbE one {slow}"
    );
}
