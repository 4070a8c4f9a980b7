//! Waveforms from the normal build (issue 15): `buflet replay ... --backend rtl --trace FILE`
//! writes an FST without a tracing rebuild, and an independent reader (the fst-reader crate,
//! the one Surfer uses) opens it and finds the design's hierarchy and a clock that ran as many
//! cycles as the run reports. RTL only: the model has no signals to dump.

use fst_reader::{FstFilter, FstHierarchyEntry, FstReader};
use std::io::BufReader;
use std::process::{Command, Output};

/// The CLI from the workspace root (the captures' paths are relative to it).
fn buflet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_buflet"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

/// `args` on the RTL with `--trace w --json`; the run must pass.
fn traced(args: &[&str], w: &std::path::Path) -> Output {
    let mut a = args.to_vec();
    a.extend(["--backend", "rtl", "--trace", w.to_str().unwrap(), "--json"]);
    let o = buflet(&a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn replay_writes_an_fst_from_the_normal_build() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.fst");
    let o = traced(&["replay", "traces/linux-tcp-mtu1500-1MiB.pcap"], &w);
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
    traced(
        &[
            "demo",
            "--bytes",
            "20000",
            "--trace-from",
            "2000",
            "--trace-cycles",
            "500",
        ],
        &w,
    );
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
    let o = buflet(&["demo", "--trace-from", "5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--trace"));
}

/// The GTKWave view beside the FST (issue 15): `--trace w.fst` also writes `w.gtkw`, which
/// loads `w.fst` and lists every signal of the file exactly once, in one group per module
/// instance (a scope of the FST; generate blocks folded into their module's), with the RTL's
/// main blocks among them. Checked against the FST's own hierarchy, read independently.
#[test]
fn the_trace_comes_with_a_view_grouped_by_module() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.fst");
    traced(&["demo", "--bytes", "5000"], &w);
    let view = std::fs::read_to_string(dir.path().join("w.gtkw")).expect("w.gtkw beside w.fst");
    let entries: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries.len(),
        2,
        "only the waveform and its view: {entries:?}"
    );

    // the FST's scopes and signals, as GTKWave names them (the bit range right after the name)
    let mut r = FstReader::open(BufReader::new(std::fs::File::open(&w).unwrap())).unwrap();
    let (mut scopes, mut vars) = (std::collections::HashSet::new(), Vec::new());
    let mut path: Vec<String> = Vec::new();
    r.read_hierarchy(|e| match e {
        FstHierarchyEntry::Scope { name, .. } => {
            path.push(name);
            scopes.insert(path.join("."));
        }
        FstHierarchyEntry::UpScope => {
            path.pop();
        }
        FstHierarchyEntry::Var { name, length, .. } => {
            let n = name.replace(" [", "[");
            let n = if length > 1 && !n.ends_with(']') {
                format!("{n}[{}:0]", length - 1)
            } else {
                n
            };
            vars.push(format!("{}.{n}", path.join(".")));
        }
        _ => {}
    })
    .unwrap();

    let mut lines = view.lines();
    let dump = lines
        .by_ref()
        .find(|l| l.starts_with("[dumpfile]"))
        .expect("[dumpfile]");
    assert!(dump.trim_end_matches('"').ends_with("/w.fst"), "{dump}");
    let (mut groups, mut signals) = (Vec::new(), Vec::new());
    let mut open: Option<String> = None;
    let mut flag = None;
    for l in view.lines().filter(|l| !l.starts_with('[')) {
        if let Some(f) = l.strip_prefix('@') {
            flag = Some(f.to_string());
        } else if let Some(label) = l.strip_prefix('-') {
            let g = label.split(' ').next().unwrap().to_string();
            match flag.as_deref() {
                Some("c00200") => {
                    assert!(open.is_none(), "group {g} inside {open:?}");
                    assert!(scopes.contains(&g), "group {g} is not a scope of the FST");
                    groups.push(g.clone());
                    open = Some(g);
                }
                Some("1401200") => assert_eq!(open.take(), Some(g), "group end"),
                f => panic!("label {label} after flag {f:?}"),
            }
        } else {
            let g = open.as_ref().expect("a signal outside every group");
            assert!(l.starts_with(&format!("{g}.")), "{l} in the group of {g}");
            assert!(
                matches!(flag.as_deref(), Some("22" | "28")),
                "{l}: flag {flag:?}"
            );
            signals.push(l.to_string());
        }
    }
    assert!(open.is_none(), "the last group is not closed");
    for m in [
        "u_toe",
        "u_rx_parser",
        "u_toe.u_mover",
        "u_blk_dma",
        "u_rd_arb",
    ] {
        assert!(
            groups.iter().any(|g| g.ends_with(m)),
            "no group for {m}: {groups:?}"
        );
    }
    let mut want = vars.clone();
    want.sort();
    let mut got = signals.clone();
    got.sort();
    assert_eq!(got.len(), vars.len(), "every signal of the FST once");
    assert!(got == want, "the view's signals are the FST's");
    assert!(
        !groups
            .iter()
            .any(|g| g.rsplit('.').next().unwrap().starts_with("g_")),
        "generate blocks are folded into their module's group"
    );
}

/// `cosim --trace` writes the RTL's waveform of case 0, windowed like demo's, with its view;
/// `--dump` on a run where every case agrees writes nothing and says so.
#[test]
fn cosim_traces_case_0_and_dumps_nothing_when_every_case_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("c.fst");
    let d = dir.path().join("dump");
    let o = buflet(&[
        "cosim",
        "--cases",
        "2",
        "--trace",
        w.to_str().unwrap(),
        "--trace-from",
        "100000",
        "--trace-cycles",
        "1000",
        "--dump",
        d.to_str().unwrap(),
        "--json",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    assert_eq!(v["mismatches"], 0);
    assert!(v["dump"].is_null(), "{v}");
    assert!(err.contains("nothing dumped"), "{err}");
    assert!(!d.exists());
    let r = FstReader::open_and_read_time_table(BufReader::new(std::fs::File::open(&w).unwrap()))
        .expect("an FST file");
    let h = r.get_header();
    assert!(
        h.start_time == 1_000_000 && h.end_time < 1_010_000 && h.end_time > h.start_time,
        "{} .. {}",
        h.start_time,
        h.end_time
    );
    assert!(dir.path().join("c.gtkw").exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

/// `cosim --dump DIR` on a mismatch (provoked by the hidden test hook, which changes one of
/// the model's transactions before it is compared): exit 1, one JSON object whose `dump` is
/// DIR, one stderr line naming the files, and DIR holding the logs, the waveform and its view.
#[test]
fn cosim_dumps_a_mismatching_case() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("dump");
    let o = buflet(&[
        "cosim",
        "--cases",
        "1",
        "--test-perturb",
        "700",
        "--dump",
        d.to_str().unwrap(),
        "--dump-cycles",
        "400",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["mismatches"], 1);
    assert_eq!(v["dump"].as_str(), d.to_str(), "{v}");
    let line: Vec<&str> = err.lines().filter(|l| l.contains("dumped")).collect();
    assert_eq!(line.len(), 1, "{err}");
    let mut names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "model.csv",
            "rtl.csv",
            "side_by_side.csv",
            "waves.fst",
            "waves.gtkw"
        ]
    );
    for n in &names {
        assert!(
            line[0].contains(d.join(n).to_str().unwrap()),
            "{n} not named: {}",
            line[0]
        );
    }
    let view = std::fs::read_to_string(d.join("waves.gtkw")).unwrap();
    assert!(view.contains("waves.fst"));
}
