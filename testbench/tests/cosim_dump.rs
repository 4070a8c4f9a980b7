//! `buflet cosim --dump DIR`: a mismatching case's transaction logs (rtl.csv, model.csv,
//! side_by_side.csv) and the RTL's waveform around its first mismatch (waves.fst), written only
//! when a case mismatches.
//!
//! The mismatch is provoked by the library's test hook ([`Perturb`]): one of the model's
//! transactions is changed after the step that produced it and before the comparison; neither
//! backend changes. The CSVs are read back with the csv crate and the waveform with fst-reader,
//! independently of the code that wrote them.

use buflet_testbench::cosim::{
    self, dump, CaseOpts, CosimError, CosimOpts, DumpOpts, Perturb, TxnKind,
};
use fst_reader::{FstFilter, FstHierarchyEntry, FstReader, FstSignalValue};
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;

/// The case every test here runs (it agrees: see `clean_log`).
const SEED: u64 = 1;
const WIDTH: u32 = 64;

/// A CSV file: its header and its rows, each as column name -> value.
fn read_csv(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(rec.len(), header.len(), "{}: a short row", path.display());
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

fn num(row: &BTreeMap<String, String>, col: &str) -> u64 {
    row[col]
        .parse()
        .unwrap_or_else(|e| panic!("{col} = {:?}: {e}", row[col]))
}

/// The FST's first and last time and the rising edges of the design's clock in it.
fn fst_span_and_clock(path: &Path) -> (u64, u64, u64) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = FstReader::open_and_read_time_table(BufReader::new(f)).expect("an FST file");
    let (start, end) = (r.get_header().start_time, r.get_header().end_time);
    let mut clk = None;
    r.read_hierarchy(|e| {
        if let FstHierarchyEntry::Var { name, handle, .. } = e {
            if name == "clk" && clk.is_none() {
                clk = Some(handle);
            }
        }
    })
    .unwrap();
    let clk = clk.expect("a clk signal");
    let mut rises = 0u64;
    r.read_signals(&FstFilter::filter_signals(vec![clk]), |_, _, v| {
        if matches!(v, FstSignalValue::String(b) if b == b"1") {
            rises += 1;
        }
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap();
    (start, end, rises)
}

/// The case run clean with its transactions recorded: no mismatch, and one slot per compared
/// transaction, all equal, numbered from 0 in order.
fn clean_log() -> cosim::CaseLog {
    let opts = CaseOpts {
        record: true,
        ..Default::default()
    };
    let r = cosim::run_case_with(&cosim::generate(SEED), WIDTH, &opts).unwrap();
    assert!(r.mismatch.is_none(), "{}", r.mismatch.unwrap());
    let log = r.log.expect("a log when recording");
    assert_eq!(log.slots.len() as u64, r.compared);
    for (i, s) in log.slots.iter().enumerate() {
        assert_eq!(s.index, i as u64);
        assert!(s.matched && s.sides.iter().all(Option::is_some), "{s:?}");
    }
    log
}

/// One of the model's payload writes is changed (its first byte flipped): the run reports the
/// mismatch, and the dump holds both logs with the same columns, the side-by-side file whose
/// first `match=false` row is that write (first differing byte 0, same address, different
/// hashes; every row before it equal on both sides but for the cycle), and an FST holding the
/// RTL's cycles from 2000 before that write's cycle to 500 after it.
#[test]
fn a_perturbed_model_write_is_dumped_with_both_logs_and_the_waves_around_it() {
    let clean = clean_log();
    // a payload write far enough in for a full window before it
    let target = clean
        .slots
        .iter()
        .find(|s| {
            s.kind == TxnKind::DevWrite
                && s.index >= 1000
                && s.sides[1].as_ref().unwrap().cycle > 10_000
        })
        .expect("a device write run past transaction 1000");
    let (n, rtl_cycle) = (target.index, target.sides[1].as_ref().unwrap().cycle);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dump");
    let rep = cosim::run(&CosimOpts {
        seed: SEED,
        cases: 1,
        width: WIDTH,
        dump: Some(DumpOpts {
            dir: dir.clone(),
            cycles: 2000,
        }),
        perturb: Some(Perturb { case: 0, index: n }),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(rep.mismatches, 1);
    assert_eq!(
        rep.compared, n,
        "the case stops at the perturbed transaction"
    );
    let first = rep.first_mismatch.as_deref().unwrap();
    assert!(first.contains("differs: device write run"), "{first}");
    assert_eq!(rep.dump.as_deref(), Some(dir.as_path()));
    let json = serde_json::to_value(&rep).unwrap();
    assert_eq!(json["dump"].as_str(), dir.to_str());
    let d = rep.dumped.as_ref().unwrap();
    assert_eq!((d.seed, d.index, d.cycle), (SEED, n, rtl_cycle));
    assert_eq!(d.window, (rtl_cycle - 2000, rtl_cycle + 500));

    // exactly the four files
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["model.csv", "rtl.csv", "side_by_side.csv", "waves.fst"]
    );
    assert_eq!(d.files.len(), 4);
    assert!(d.files.iter().all(|f| f.starts_with(&dir) && f.exists()));

    // both logs: the same columns, the compared fields among them
    let (rh, rtl) = read_csv(&dir.join("rtl.csv"));
    let (mh, model) = read_csv(&dir.join("model.csv"));
    assert_eq!(rh, mh, "rtl.csv and model.csv have the same header");
    for c in ["index", "step", "kind", "cycle", "addr", "len", "hash"] {
        assert!(rh.iter().any(|h| h == c), "no column {c} in {rh:?}");
    }
    // up to the end of the mismatching step, and the same transactions the clean run had
    assert_eq!(rtl.len(), model.len());
    assert!(rtl.len() as u64 > n);
    assert!(rtl.len() < clean.slots.len());
    for (i, (r, m)) in rtl.iter().zip(&model).enumerate() {
        assert_eq!(num(r, "index"), i as u64);
        let s = &clean.slots[i];
        assert_eq!(r["kind"], s.kind.name());
        assert_eq!(num(r, "step"), s.step as u64);
        let rs = s.sides[1].as_ref().unwrap();
        assert_eq!(
            (num(r, "cycle"), &r["hash"], &r["value"]),
            (rs.cycle, &rs.hash, &rs.value),
            "the RTL side is untouched: row {i}"
        );
        // the sides agree on every column but the cycle, except at the perturbed write
        let strip = |row: &BTreeMap<String, String>| {
            let mut row = row.clone();
            row.remove("cycle");
            row
        };
        if i as u64 == n {
            assert_ne!(r["hash"], m["hash"]);
            assert_eq!((&r["addr"], &r["len"]), (&m["addr"], &m["len"]));
            assert_eq!(num(r, "cycle"), rtl_cycle);
        } else {
            assert_eq!(strip(r), strip(m), "row {i}");
        }
    }

    // side by side: each side's columns next to each other, the first false `match` is the
    // perturbed write
    let (sh, sbs) = read_csv(&dir.join("side_by_side.csv"));
    for c in ["index", "step", "kind", "match", "rtl_cycle", "model_cycle"] {
        assert!(sh.iter().any(|h| h == c), "no column {c} in {sh:?}");
    }
    let at = |c: &str| sh.iter().position(|h| h == c).unwrap();
    assert_eq!(at("model_hash"), at("rtl_hash") + 1);
    assert_eq!(sbs.len(), rtl.len());
    let bad = sbs
        .iter()
        .position(|r| r["match"] == "false")
        .expect("a row with match=false");
    let row = &sbs[bad];
    assert_eq!(num(row, "index"), n);
    assert_eq!(bad as u64, n);
    assert!(sbs[..bad].iter().all(|r| r["match"] == "true"));
    assert_eq!(row["kind"], "dev_write");
    assert_eq!(row["first_diff"], "0");
    assert_eq!(row["rtl_addr"], row["model_addr"]);
    assert_ne!(row["rtl_hash"], row["model_hash"]);
    assert_eq!(num(row, "rtl_cycle"), rtl_cycle);

    // the waveform: the RTL's cycles from 2000 before the write to 500 after (10 time units per
    // cycle, both clock phases), the clock rising once per cycle
    let (start, end, rises) = fst_span_and_clock(&dir.join("waves.fst"));
    assert_eq!(start, (rtl_cycle - 2000) * 10, "{start}..{end}");
    assert!(
        end >= rtl_cycle * 10 && end <= (rtl_cycle + 500) * 10 + 5,
        "{start}..{end}, cycle {rtl_cycle}"
    );
    assert!(
        rises.abs_diff((end - start) / 10 + 1) <= 1 && rises > 2000,
        "{rises} rising edges in {start}..{end}"
    );
}

/// A perturbed counter is found the same way, and the dump's waveform is centred on the
/// RTL's last activity of that step (counters are read after it), inside the step.
#[test]
fn a_perturbed_counter_is_the_first_mismatch_of_the_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let n = 500;
    let rep = cosim::run(&CosimOpts {
        seed: SEED,
        cases: 1,
        width: WIDTH,
        dump: Some(DumpOpts {
            dir: dir.clone(),
            cycles: 300,
        }),
        perturb: Some(Perturb { case: 0, index: n }),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(rep.mismatches, 1);
    let d = rep.dumped.as_ref().unwrap();
    let (_, sbs) = read_csv(&dir.join("side_by_side.csv"));
    let row = sbs.iter().find(|r| r["match"] == "false").unwrap();
    assert_eq!(num(row, "index"), n);
    assert_eq!(row["kind"], "counter");
    let (name, rtl) = row["rtl_value"].split_once('=').unwrap();
    let (mname, model) = row["model_value"].split_once('=').unwrap();
    assert_eq!(name, mname);
    assert_eq!(
        model.parse::<u64>().unwrap(),
        rtl.parse::<u64>().unwrap() + 1
    );
    // centred inside the step: after the previous step's counters were read, not after this
    // step's were
    let step = num(row, "step");
    let read_at = num(row, "rtl_cycle");
    let (_, rtl_rows) = read_csv(&dir.join("rtl.csv"));
    let prev_read = rtl_rows
        .iter()
        .filter(|r| num(r, "step") + 1 == step && r["kind"] == "counter")
        .map(|r| num(r, "cycle"))
        .max()
        .expect("the step before has counters");
    assert!(
        prev_read <= d.cycle && d.cycle <= read_at,
        "{prev_read} <= {} <= {read_at}",
        d.cycle
    );
    assert_eq!(d.window, (d.cycle - 300, d.cycle + 75));
    let (start, end, _) = fst_span_and_clock(&dir.join("waves.fst"));
    assert_eq!(start, (d.cycle - 300) * 10);
    assert!(end <= (d.cycle + 75) * 10 + 5 && end >= d.cycle * 10);
}

/// A clean run with a dump directory writes nothing: a missing directory is not created, an
/// existing one stays empty, and the report's `dump` is null.
#[test]
fn a_clean_run_with_dump_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("a").join("b");
    let rep = cosim::run(&CosimOpts {
        seed: SEED,
        cases: 1,
        width: WIDTH,
        dump: Some(DumpOpts {
            dir: missing.clone(),
            cycles: dump::DEFAULT_DUMP_CYCLES,
        }),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(rep.mismatches, 0, "{:?}", rep.first_mismatch);
    assert!(rep.dump.is_none() && rep.dumped.is_none());
    assert!(serde_json::to_value(&rep).unwrap()["dump"].is_null());
    assert!(!tmp.path().join("a").exists(), "the directory was created");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// A dump directory that cannot be written is a one-line error before any case runs, and
/// leaves nothing behind.
#[test]
fn an_unusable_dump_directory_is_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    for dir in [file.join("sub"), file.clone()] {
        let e = cosim::run(&CosimOpts {
            cases: 1,
            dump: Some(DumpOpts {
                dir: dir.clone(),
                cycles: 10,
            }),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(e, CosimError::Dump { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("--dump") && msg.contains(dir.to_str().unwrap()) && !msg.contains('\n'),
            "{msg}"
        );
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}
