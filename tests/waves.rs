//! Waveforms from the normal build (issue 15): `buflet replay ... --backend rtl --trace FILE`
//! writes an FST without a tracing rebuild, and an independent reader (the fst-reader crate,
//! the one Surfer uses) opens it and finds the design's hierarchy and a clock that ran as many
//! cycles as the run reports. RTL only: the model has no signals to dump.

use fst_reader::{FstFilter, FstHierarchyEntry, FstReader};
use std::io::BufReader;
use std::process::Command;

#[test]
fn replay_writes_an_fst_from_the_normal_build() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.fst");
    let o = Command::new(env!("CARGO_BIN_EXE_buflet"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "replay",
            "traces/linux-tcp-mtu1500-1MiB.pcap",
            "--backend",
            "rtl",
            "--trace",
            w.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    assert_eq!(v["verified"], true);
    let cycles = v["cycles"].as_u64().unwrap();
    assert!(cycles > 100_000, "{cycles}");

    let mut r =
        FstReader::open_and_read_time_table(BufReader::new(std::fs::File::open(&w).unwrap()))
            .expect("an FST file");
    // 10 time units per cycle (buflet_sim::TICK_TIME), both clock phases dumped, from reset
    // to the end of the run (the report's cycles are counted before the final teardown).
    let end = r.get_header().end_time;
    assert!(
        end >= cycles * 10 && end <= (cycles + 10_000) * 10,
        "end time {end}, {cycles} cycles"
    );
    let mut scopes = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut clk = None;
    r.read_hierarchy(|e| match e {
        FstHierarchyEntry::Scope { name, .. } => {
            path.push(name.clone());
            scopes.push(path.join("."));
        }
        FstHierarchyEntry::UpScope => {
            path.pop();
        }
        FstHierarchyEntry::Var { name, handle, .. } if name == "clk" && clk.is_none() => {
            clk = Some(handle);
        }
        _ => {}
    })
    .unwrap();
    for m in ["u_toe", "u_rx_parser", "u_mover"] {
        assert!(
            scopes.iter().any(|s| s.ends_with(m)),
            "no scope {m} in {scopes:?}"
        );
    }
    // The clock rose once per cycle.
    let clk = clk.expect("a clk signal");
    let mut rises = 0u64;
    r.read_signals(&FstFilter::filter_signals(vec![clk]), |_, _, value| {
        if let fst_reader::FstSignalValue::String(b) = value {
            if b == b"1" {
                rises += 1;
            }
        }
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap();
    assert!(
        rises.abs_diff(end / 10) <= 2,
        "{rises} rising edges, end time {end}"
    );
}

/// `--trace-from` and `--trace-cycles` keep only a window of a run: the FST starts and ends
/// inside it.
#[test]
fn a_trace_window_holds_only_its_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.fst");
    let o = Command::new(env!("CARGO_BIN_EXE_buflet"))
        .args([
            "demo",
            "--backend",
            "rtl",
            "--bytes",
            "20000",
            "--trace",
            w.to_str().unwrap(),
            "--trace-from",
            "2000",
            "--trace-cycles",
            "500",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = FstReader::open_and_read_time_table(BufReader::new(std::fs::File::open(&w).unwrap()))
        .expect("an FST file");
    let h = r.get_header();
    assert!(
        h.start_time >= 20_000 && h.end_time < 25_000 && h.end_time > h.start_time,
        "{} .. {}",
        h.start_time,
        h.end_time
    );
    // A window needs a waveform.
    let o = Command::new(env!("CARGO_BIN_EXE_buflet"))
        .args(["demo", "--trace-from", "5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--trace"));
}
