//! `buflet cosim --dump DIR`: a mismatching case's transaction logs, as CSV files, and the
//! RTL's waveform around its first mismatch.
//!
//! A case is recorded ([`CaseOpts::record`]) as a list of comparison slots ([`Slot`]): the
//! transactions of every step in the order [`compare`](super::compare) takes them, a slot per
//! position of each kind (completion-ring write runs, other write runs, completions, disk
//! writes, transmitted frames, counters), present on one side or both. The slot's index is the
//! same in every file, so `model.csv`, `rtl.csv` and `side_by_side.csv` line up on it; a side
//! that lacks a transaction has no row at that index in its own file.

use super::compare::{bytes_differ_at, equal_at, show_cpl, slots, Observed, TxnKind};
use super::{CaseOpts, CosimError};
use buflet_driver::Completion;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Side A's log (the model, in `buflet cosim`).
pub const MODEL_CSV: &str = "model.csv";
/// Side B's log (the RTL, in `buflet cosim`).
pub const RTL_CSV: &str = "rtl.csv";
/// Both logs joined on the slot index, with a `match` column.
pub const SIDE_BY_SIDE_CSV: &str = "side_by_side.csv";
/// The RTL's waveform around the first mismatch, without its extension (that of the build's
/// trace format, `fst` unless the RTL was built with `BUFLET_TRACE=vcd`).
pub const WAVES_STEM: &str = "waves";
/// Default of [`DumpOpts::cycles`].
pub const DEFAULT_DUMP_CYCLES: u64 = 2000;

/// Where and how much to dump.
#[derive(Debug, Clone)]
pub struct DumpOpts {
    /// The directory the files go to (created if missing).
    pub dir: PathBuf,
    /// Cycles of waveform before the first mismatching transaction's cycle; a quarter as many
    /// follow it.
    pub cycles: u64,
}

/// What a dump wrote.
#[derive(Debug, Clone)]
pub struct Dumped {
    /// The directory.
    pub dir: PathBuf,
    /// Seed of the case dumped.
    pub seed: u64,
    /// Slot index of its first mismatching transaction (its `index` in the CSVs).
    pub index: u64,
    /// The RTL cycle the waveform is centred on.
    pub cycle: u64,
    /// The waveform's first and last cycle.
    pub window: (u64, u64),
    /// The files written, the waveform last (none when the RTL was built without tracing).
    pub files: Vec<PathBuf>,
}

/// One side's transaction in a slot, as the CSVs show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// Cycle on this side's clock ([`Cycles`](super::compare::Cycles) says when each kind is
    /// taken).
    pub cycle: u64,
    /// DMA agent of a write run ("NicDma", "BlkDma"); empty otherwise.
    pub agent: String,
    /// Host address (hex) of a write run, first LBA of a disk write; empty otherwise.
    pub addr: String,
    /// Bytes of a write run, disk write or frame.
    pub len: Option<usize>,
    /// Whether host memory refused a write run.
    pub refused: Option<bool>,
    /// First 16 hex digits of the SHA-256 of the bytes (a completion's: its 32-byte entry).
    pub hash: String,
    /// Readable value: the first 32 bytes in hex (writes), the decoded frame or completion,
    /// `NAME=VALUE` of a counter.
    pub value: String,
}

/// One comparison slot of a case.
#[derive(Debug, Clone)]
pub struct Slot {
    /// Position in the case's comparison order, from 0.
    pub index: u64,
    /// Index of the step in the run.
    pub step: usize,
    /// The step's position in the stimulus ("#17"), or "cleanup".
    pub origin: String,
    /// TxnKind of transaction.
    pub kind: TxnKind,
    /// Position among the step's transactions of that kind.
    pub item: usize,
    /// Side A's and side B's transaction, when the side has one.
    pub sides: [Option<Txn>; 2],
    /// The two sides' transactions are equal.
    pub matched: bool,
    /// For differing bytes (write runs, disk writes, frames): the first differing byte.
    pub first_diff: Option<usize>,
}

/// Every comparison slot of a case up to the end of the step that stopped it.
#[derive(Debug, Clone, Default)]
pub struct CaseLog {
    /// The slots, in comparison order.
    pub slots: Vec<Slot>,
}

impl CaseLog {
    /// Append step `step`'s slots; `base` is the index of its first.
    pub(super) fn record_step(
        &mut self,
        step: usize,
        origin: &str,
        base: u64,
        a: &Observed,
        b: &Observed,
    ) {
        for (n, (kind, item)) in slots(a, b).enumerate() {
            let matched = equal_at(a, b, kind, item);
            self.slots.push(Slot {
                index: base + n as u64,
                step,
                origin: origin.to_string(),
                kind,
                item,
                sides: [txn(a, kind, item), txn(b, kind, item)],
                matched,
                first_diff: if matched {
                    None
                } else {
                    bytes_differ_at(a, b, kind, item)
                },
            });
        }
    }
}

fn hash(d: &[u8]) -> String {
    hex::encode(&Sha256::digest(d)[..8])
}

fn head(d: &[u8]) -> String {
    let n = d.len().min(32);
    let mut s = hex::encode(&d[..n]);
    if n < d.len() {
        s.push_str("...");
    }
    s
}

/// Side `o`'s transaction `item` of `kind`, if it has one.
fn txn(o: &Observed, kind: TxnKind, item: usize) -> Option<Txn> {
    let cycle = o.cycle_of(kind, item)?;
    let empty = Txn {
        cycle,
        agent: String::new(),
        addr: String::new(),
        len: None,
        refused: None,
        hash: String::new(),
        value: String::new(),
    };
    let t = match kind {
        TxnKind::RingWrite | TxnKind::DevWrite => {
            let r = if kind == TxnKind::RingWrite {
                &o.ring[item]
            } else {
                &o.other[item]
            };
            Txn {
                agent: format!("{:?}", r.agent),
                addr: format!("{:#x}", r.addr),
                len: Some(r.data.len()),
                refused: Some(r.refused),
                hash: hash(&r.data),
                value: head(&r.data),
                ..empty
            }
        }
        TxnKind::Completion => {
            let c: &Completion = &o.cpls[item];
            Txn {
                hash: hash(&c.to_bytes()),
                value: show_cpl(c),
                ..empty
            }
        }
        TxnKind::DiskWrite => {
            let d = &o.disk[item];
            Txn {
                addr: d.lba.to_string(),
                len: Some(d.data.len()),
                hash: hash(&d.data),
                value: head(&d.data),
                ..empty
            }
        }
        TxnKind::TxFrame => {
            let f = &o.tx[item];
            Txn {
                len: Some(f.len()),
                hash: hash(f),
                value: super::decode_frame(f),
                ..empty
            }
        }
        TxnKind::Counter => {
            let (name, v) = o.counters[item];
            Txn {
                value: format!("{name}={v}"),
                ..empty
            }
        }
    };
    Some(t)
}

/// A row of `model.csv` and `rtl.csv`.
#[derive(Serialize)]
struct Row<'a> {
    index: u64,
    step: usize,
    origin: &'a str,
    kind: &'static str,
    item: usize,
    cycle: u64,
    agent: &'a str,
    addr: &'a str,
    len: Option<usize>,
    refused: Option<bool>,
    hash: &'a str,
    value: &'a str,
}

/// A row of `side_by_side.csv`: each field of both sides next to each other.
#[derive(Serialize)]
struct PairRow<'a> {
    index: u64,
    step: usize,
    origin: &'a str,
    kind: &'static str,
    item: usize,
    #[serde(rename = "match")]
    matched: bool,
    first_diff: Option<usize>,
    rtl_cycle: Option<u64>,
    model_cycle: Option<u64>,
    rtl_agent: Option<&'a str>,
    model_agent: Option<&'a str>,
    rtl_addr: Option<&'a str>,
    model_addr: Option<&'a str>,
    rtl_len: Option<usize>,
    model_len: Option<usize>,
    rtl_refused: Option<bool>,
    model_refused: Option<bool>,
    rtl_hash: Option<&'a str>,
    model_hash: Option<&'a str>,
    rtl_value: Option<&'a str>,
    model_value: Option<&'a str>,
}

fn dump_err(path: &Path, e: impl std::fmt::Display) -> CosimError {
    CosimError::Dump {
        path: path.display().to_string(),
        msg: e.to_string(),
    }
}

/// Write `model.csv` (side A), `rtl.csv` (side B) and `side_by_side.csv` into `dir`; returns
/// their paths.
pub fn write_csvs(log: &CaseLog, dir: &Path) -> Result<Vec<PathBuf>, CosimError> {
    let mut out = Vec::new();
    for (side, name) in [(0, MODEL_CSV), (1, RTL_CSV)] {
        let path = dir.join(name);
        let mut w = csv::Writer::from_path(&path).map_err(|e| dump_err(&path, e))?;
        for s in &log.slots {
            let Some(t) = &s.sides[side] else { continue };
            w.serialize(Row {
                index: s.index,
                step: s.step,
                origin: &s.origin,
                kind: s.kind.name(),
                item: s.item,
                cycle: t.cycle,
                agent: &t.agent,
                addr: &t.addr,
                len: t.len,
                refused: t.refused,
                hash: &t.hash,
                value: &t.value,
            })
            .map_err(|e| dump_err(&path, e))?;
        }
        w.flush().map_err(|e| dump_err(&path, e))?;
        out.push(path);
    }
    let path = dir.join(SIDE_BY_SIDE_CSV);
    let mut w = csv::Writer::from_path(&path).map_err(|e| dump_err(&path, e))?;
    for s in &log.slots {
        let [m, r] = [&s.sides[0], &s.sides[1]];
        w.serialize(PairRow {
            index: s.index,
            step: s.step,
            origin: &s.origin,
            kind: s.kind.name(),
            item: s.item,
            matched: s.matched,
            first_diff: s.first_diff,
            rtl_cycle: r.as_ref().map(|t| t.cycle),
            model_cycle: m.as_ref().map(|t| t.cycle),
            rtl_agent: r.as_ref().map(|t| t.agent.as_str()),
            model_agent: m.as_ref().map(|t| t.agent.as_str()),
            rtl_addr: r.as_ref().map(|t| t.addr.as_str()),
            model_addr: m.as_ref().map(|t| t.addr.as_str()),
            rtl_len: r.as_ref().and_then(|t| t.len),
            model_len: m.as_ref().and_then(|t| t.len),
            rtl_refused: r.as_ref().and_then(|t| t.refused),
            model_refused: m.as_ref().and_then(|t| t.refused),
            rtl_hash: r.as_ref().map(|t| t.hash.as_str()),
            model_hash: m.as_ref().map(|t| t.hash.as_str()),
            rtl_value: r.as_ref().map(|t| t.value.as_str()),
            model_value: m.as_ref().map(|t| t.value.as_str()),
        })
        .map_err(|e| dump_err(&path, e))?;
    }
    w.flush().map_err(|e| dump_err(&path, e))?;
    out.push(path);
    Ok(out)
}

/// Fail now, before any case runs, if files cannot be created in `dir` (created if missing).
/// Leaves the file system as it found it: a directory made for the check and the probe file
/// are removed again.
pub fn check_dir(dir: &Path) -> Result<(), CosimError> {
    if dir.exists() && !dir.is_dir() {
        return Err(dump_err(dir, "exists and is not a directory"));
    }
    // the missing directories, deepest first
    let mut made = Vec::new();
    let mut p = Some(dir);
    while let Some(d) = p.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        made.push(d.to_path_buf());
        p = d.parent();
    }
    let probe = std::fs::create_dir_all(dir).and_then(|()| {
        tempfile::Builder::new()
            .prefix(".buflet-cosim-probe")
            .tempfile_in(dir)
            .map(drop)
    });
    for d in &made {
        let _ = std::fs::remove_dir(d);
    }
    probe.map_err(|e| dump_err(dir, format!("cannot write there: {e}")))
}

/// The waveform file a dump writes into `dir`, or None when the RTL was built without tracing.
pub fn waves_path(dir: &Path) -> Option<PathBuf> {
    buflet_sim::TRACE_FORMAT.map(|ext| dir.join(format!("{WAVES_STEM}.{ext}")))
}

/// Re-run the case of `stim` that first mismatched as `first` (the stimulus is seeded and the
/// run deterministic), recording both sides' transactions and the RTL's waveform from
/// `d.cycles` before the first mismatching transaction's cycle to a quarter of that after, and
/// write them into `d.dir`. `perturb` is the case's [`CaseOpts::perturb`].
pub(super) fn dump_case(
    stim: &super::Stimulus,
    width: u32,
    first: &super::Mismatch,
    perturb: Option<u64>,
    d: &DumpOpts,
) -> Result<Dumped, CosimError> {
    std::fs::create_dir_all(&d.dir).map_err(|e| dump_err(&d.dir, e))?;
    let cycle = first.cycles[1];
    let from = cycle.saturating_sub(d.cycles);
    let to = cycle.saturating_add(d.cycles / 4);
    let wave = waves_path(&d.dir);
    let opts = CaseOpts {
        record: true,
        waves: wave.as_ref().map(|p| super::Waves {
            path: p.clone(),
            from,
            cycles: Some(to - from + 1),
        }),
        perturb,
    };
    let r = super::run_case_with(stim, width, &opts)?;
    let again = r.mismatch.as_ref();
    if again.map(|m| (m.step, m.index, &m.kind)) != Some((first.step, first.index, &first.kind)) {
        return Err(dump_err(
            &d.dir,
            format!(
                "re-running seed {} did not reproduce its mismatch (step {}, transaction {}): {}",
                stim.seed,
                first.step,
                first.index,
                again.map_or("no mismatch".to_string(), |m| format!(
                    "step {}, transaction {}",
                    m.step, m.index
                ))
            ),
        ));
    }
    let log = r.log.unwrap_or_default();
    let mut files = write_csvs(&log, &d.dir)?;
    files.extend(wave);
    Ok(Dumped {
        dir: d.dir.clone(),
        seed: stim.seed,
        index: first.index,
        cycle,
        window: (from, to),
        files,
    })
}
