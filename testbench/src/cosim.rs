//! `buflet cosim`: lockstep co-simulation of the RTL and the model.
//!
//! A seeded [`Stimulus`] (host actions and frames, see [`generate`]) runs on a fresh model
//! device and a fresh RTL device, each with its own host memory, disk image and driver, brought
//! up identically so every allocation and address is the same on both. Steps are applied one at
//! a time to both; each device then runs until it is quiescent (no frame waiting on the wire and
//! no device write, disk write or transmitted frame for a window longer than the slowest path),
//! the driver consumes its completions, and the two sides are compared, in order:
//!
//! 1. device writes, split into completion-ring writes and the rest, each merged into maximal
//!    contiguous runs (address, bytes, refusal);
//! 2. the completions, decoded;
//! 3. block-device writes (LBA, bytes);
//! 4. transmitted frames (exact bytes);
//! 5. every `CNT_*` counter register of the spec, drops by reason included.
//!
//! The first difference stops the case and is reported with its step, the kind of transaction,
//! both sides' values and the steps before it. After the last step every socket still open is
//! deleted and both devices must have every buflet back on the free list.
//!
//! Cycles: per step, from the step's start to the end of the last activity on each backend
//! (device write, disk write, transmitted frame, frame taken from the wire), summed per case;
//! `cycle_error_pct = (model - rtl) / rtl * 100`. The RTL's writes are seen word by word as
//! they happen; the model performs a DMA write whole in the event that issues it, so its end is
//! computed from the model's own costs (`buflet_model::costs`: delivery step, page-list read
//! when a delivery enters a new page, write port occupancy).
//!
//! Besides TCP the stimuli exercise the paths of docs/rx-paths.md (UDP sockets, anonymous
//! buffers, the ARP responder, named-buffer timeouts by TIMER_KICK and TIMER_PERIOD): their
//! completions (ANON_RX, NB_RETURN with DATAGRAM/TRUNC/TIMEOUT and HDR_BYTES), their device
//! writes (datagrams, frames in anonymous buffers), ARP replies and counters are compared like
//! everything else. Periodic ticks are stepped by tick count, not by cycles (the host polls
//! CNT_TICKS and stops the period), since the model is only cycle-approximate.
//!
//! Frames are applied one step at a time (the generator's bursts are off by default): with
//! frames back to back, whether one frame's delivery completes before the engine picks the next
//! frame is timing the contract leaves open, and the next ACK's window depends on it.
//!
//! Set `BUFLET_COSIM_TRACE` to print every activity of both sides to stderr.
//!
//! To debug a mismatch: [`CosimOpts::dump`] re-runs the first mismatching case recording every
//! compared transaction of both sides and the RTL's waveform around the first mismatch, and
//! writes them as files (module [`dump`]); [`CosimOpts::trace`] writes the RTL's waveform of
//! case 0.

mod compare;
pub mod dump;
mod exec;
mod gen;
mod stim;

pub use compare::{decode_frame, Cycles, Observed, Run, TxnKind};
pub use dump::{CaseLog, DumpOpts, Dumped, Slot, Txn};
pub use exec::{run_case, run_case_with, run_lockstep, run_lockstep_with};
pub use gen::{generate, generate_with, GenConfig, MAX_NB_PAGES};
pub use stim::{
    AnonPost, AnonSlot, BlkBad, BlkParams, Frame, ListenParams, NbPost, NbSlot, PageList, RelBad,
    SockParams, Step, Stimulus, TxBad, TxPost,
};

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// What to run.
#[derive(Debug, Clone)]
pub struct CosimOpts {
    /// Seed of case 0; case k uses `seed + k`.
    pub seed: u64,
    /// Number of cases.
    pub cases: u32,
    /// RTL datapath width in bits (a built width: 64 or 512).
    pub width: u32,
    /// When a case mismatches (the first one that does), write its transaction logs and the
    /// RTL's waveform around the first mismatching transaction here ([`dump`]).
    pub dump: Option<DumpOpts>,
    /// The RTL's waveform of case 0 (the only case traced).
    pub trace: Option<Waves>,
    /// Write every step's cycles on both sides here as CSV ([`write_steps_csv`]): which
    /// steps the model's timing misses, for the step error figures.
    pub steps_csv: Option<PathBuf>,
    /// Test hook: change one of side A's (the model's) transactions before it is compared,
    /// to provoke a mismatch without changing either backend.
    pub perturb: Option<Perturb>,
}

impl Default for CosimOpts {
    /// The CLI's defaults: seed 1, 3 cases, 64 bits, nothing dumped or traced.
    fn default() -> Self {
        CosimOpts {
            seed: 1,
            cases: 3,
            width: 64,
            dump: None,
            trace: None,
            steps_csv: None,
            perturb: None,
        }
    }
}

/// A waveform of the RTL: the file (FST, or VCD from a `BUFLET_TRACE=vcd` build) and the
/// cycles it holds, counted from the device's reset (bring-up included).
#[derive(Debug, Clone)]
pub struct Waves {
    /// The file.
    pub path: PathBuf,
    /// First cycle dumped.
    pub from: u64,
    /// Cycles dumped from `from` (None: to the end of the case).
    pub cycles: Option<u64>,
}

/// Which transaction [`CosimOpts::perturb`] changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perturb {
    /// The case (0 for the first).
    pub case: u32,
    /// The transaction's index in the case's comparison order (the `index` column of the
    /// dump's CSVs); see [`Observed::perturb`] for what changes.
    pub index: u64,
}

/// How to run one case.
#[derive(Debug, Clone, Default)]
pub struct CaseOpts {
    /// Keep every compared transaction of both sides ([`CaseResult::log`]).
    pub record: bool,
    /// Side B's waveform (the RTL's, in [`run_case_with`]).
    pub waves: Option<Waves>,
    /// Test hook: change side A's transaction of this index before it is compared (see
    /// [`Perturb`]).
    pub perturb: Option<u64>,
}

/// Result of a run of several cases. Serialized as the CLI's JSON.
#[derive(Debug, Clone, Serialize)]
pub struct CosimReport {
    /// Seed of case 0.
    pub seed: u64,
    /// Cases run.
    pub cases: u32,
    /// Transactions compared equal (write runs, completions, disk writes, frames, counters).
    pub compared: u64,
    /// Cases that stopped on a mismatch (or failed the end check).
    pub mismatches: u64,
    /// Model cycles, summed over steps and cases.
    pub model_cycles: u64,
    /// RTL cycles, summed over steps and cases.
    pub rtl_cycles: u64,
    /// `(model - rtl) / rtl * 100` over the sums: errors of opposite sign cancel here.
    pub cycle_error_pct: f64,
    /// `|model - rtl| / rtl * 100` of each step the RTL spent cycles on, over every case:
    /// the median, the 95th percentile and the worst (errors cannot cancel).
    pub step_error_pct_median: f64,
    pub step_error_pct_p95: f64,
    pub step_error_pct_max: f64,
    /// Steps the statistics above cover, and steps where the RTL spent no cycle but the
    /// model did (no percentage exists for them).
    pub steps_timed: u64,
    pub steps_model_only: u64,
    /// `|model - rtl| / rtl * 100` of the cycles from its step's start to each data
    /// transaction both sides made (write runs, disk writes, frames; completions and counters
    /// are read by the host after the step and have no time of their own), where the RTL's is
    /// not 0: the median, the 95th percentile and the worst, and how many there were.
    pub txn_error_pct_median: f64,
    pub txn_error_pct_p95: f64,
    pub txn_error_pct_max: f64,
    pub txns_timed: u64,
    /// The transaction statistics by kind of transaction ("ring_write", "dev_write",
    /// "disk_write", "tx_frame"; `steps` counts transactions, `excess_cycles` sums model
    /// minus RTL).
    pub txn_error_by_kind: std::collections::BTreeMap<String, KindError>,
    /// `|model - rtl| / rtl * 100` of each case's sums: the median and the worst.
    pub case_error_pct_median: f64,
    pub case_error_pct_max: f64,
    /// The step statistics by kind of step ([`Step::kind`]): where the model's timing is off.
    pub step_error_by_kind: std::collections::BTreeMap<String, KindError>,
    /// The first divergence, with its context.
    pub first_mismatch: Option<String>,
    /// Every counter register (side A, the model) summed over the cases after their last
    /// step: what the run exercised.
    pub counters_total: std::collections::BTreeMap<String, u64>,
    /// One line per case.
    pub cases_detail: Vec<CaseSummary>,
    /// The directory [`CosimOpts::dump`] wrote the first mismatching case into (None when it
    /// was not asked for or no case mismatched).
    pub dump: Option<PathBuf>,
    /// What the dump wrote.
    #[serde(skip)]
    pub dumped: Option<Dumped>,
}

/// The cycle error of the steps of one kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindError {
    /// Steps of this kind the RTL spent cycles on.
    pub steps: u64,
    /// `|model - rtl| / rtl * 100`: median, 95th percentile, worst.
    pub median_pct: f64,
    pub p95_pct: f64,
    pub max_pct: f64,
    /// Model cycles minus RTL cycles, summed over these steps (the sign says which side is
    /// slower).
    pub excess_cycles: i64,
}

/// One case of a run.
#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    /// The case's seed.
    pub seed: u64,
    /// Steps executed (including the final deletes).
    pub steps: usize,
    /// Transactions compared equal.
    pub compared: u64,
    /// Model cycles.
    pub model_cycles: u64,
    /// RTL cycles.
    pub rtl_cycles: u64,
    /// `(model - rtl) / rtl * 100` of the case's sums.
    pub cycle_error_pct: f64,
    /// The case stopped on a mismatch.
    pub mismatch: bool,
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Seed of the stimulus.
    pub seed: u64,
    /// Steps executed (including the final deletes; up to the mismatch if there was one).
    pub steps: usize,
    /// Transactions compared equal.
    pub compared: u64,
    /// Names of side A and side B ("model", "rtl").
    pub sides: [String; 2],
    /// Cycles of side A and side B, summed over steps.
    pub cycles: [u64; 2],
    /// Cycles of side A and side B, per step executed.
    pub step_cycles: Vec<[u64; 2]>,
    /// Cycles from its step's start to each data transaction (write run, disk write, frame)
    /// that both sides made and compared equal, side A and side B, in comparison order, with
    /// the transaction's kind (`TxnKind::name`).
    pub txn_cycles: Vec<(&'static str, [u64; 2])>,
    /// The kind of each step executed ([`Step::kind`]).
    pub step_kinds: Vec<String>,
    /// The description of each step executed ([`Step::describe`]).
    pub step_descs: Vec<String>,
    /// The first divergence, if any.
    pub mismatch: Option<Mismatch>,
    /// `CNT_FREE_BUFLETS` of both sides after the final deletes (0 when the case stopped early).
    pub free_buflets_end: [u32; 2],
    /// `NUM_BUFLETS` of the build.
    pub num_buflets: u32,
    /// Side A's counter registers after the last step executed (what the case exercised).
    pub counters_end: Vec<(&'static str, u32)>,
    /// Side A's completions by kind and status ("Accept/Timeout"), counted over the steps
    /// executed (what the case exercised).
    pub cpl_kinds: std::collections::BTreeMap<String, u64>,
    /// Every compared transaction of both sides, when [`CaseOpts::record`] asked for it.
    pub log: Option<CaseLog>,
}

impl CaseResult {
    /// `(A - B) / B * 100`: with A the model and B the RTL, the model's cycle error.
    pub fn cycle_error_pct(&self) -> f64 {
        pct(self.cycles[0], self.cycles[1])
    }
}

fn pct(model: u64, rtl: u64) -> f64 {
    if rtl == 0 {
        0.0
    } else {
        (model as f64 - rtl as f64) / rtl as f64 * 100.0
    }
}

/// The `q` quantile (0..=1) of `v` by the nearest rank (0 when `v` is empty).
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The first divergence of a case, with context.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// Seed of the stimulus.
    pub seed: u64,
    /// Index of the step in the run (steps after the stimulus are the final deletes).
    pub step: usize,
    /// The step's position in the generated stimulus ("#17"), "cleanup" or "end".
    pub origin: String,
    /// The step.
    pub step_desc: String,
    /// Which transaction differs.
    pub kind: String,
    /// Its index in the case's comparison order (transactions compared equal before it; the
    /// `index` column of the dump's CSVs). For an end check: the transactions of the case.
    pub index: u64,
    /// Per side, the cycle to look at: that of the side's differing write run, disk write or
    /// frame; for a completion, a counter (both read by the host after the step), a
    /// transaction only the other side has, the step's last activity on that side; for an end
    /// check, the side's clock then.
    pub cycles: [u64; 2],
    /// Names of side A and side B.
    pub sides: [String; 2],
    /// Side A's value.
    pub a: String,
    /// Side B's value.
    pub b: String,
    /// The steps before it, oldest first.
    pub recent: Vec<String>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {} step {} ({}): {}",
            self.seed, self.step, self.origin, self.step_desc
        )?;
        writeln!(f, "  differs: {}", self.kind)?;
        writeln!(f, "  {:>9}: {}", self.sides[0], self.a)?;
        writeln!(f, "  {:>9}: {}", self.sides[1], self.b)?;
        write!(f, "  steps before:")?;
        for r in &self.recent {
            write!(f, "\n    {r}")?;
        }
        Ok(())
    }
}

/// Failures that stop a co-simulation (a divergence is not an error: it is reported).
#[derive(Debug, thiserror::Error)]
pub enum CosimError {
    /// The datapath width is not one the RTL supports.
    #[error("width {0}: expected a power of two in 64..=512 (the RTL is built at 64 and 512)")]
    BadWidth(u32),
    /// A backend could not be created.
    #[error("{side}: cannot create the backend: {msg}")]
    Backend { side: String, msg: String },
    /// The driver failed (bring-up, ring).
    #[error("driver: {0}")]
    Driver(#[from] buflet_driver::DriverError),
    /// Host memory refused a CPU access or an allocation.
    #[error("host memory: {0}")]
    Mem(#[from] buflet_platform::MemError),
    /// The disk image could not be created.
    #[error("disk image: {0}")]
    Disk(#[from] buflet_platform::DiskError),
    /// The two sides were not brought up identically.
    #[error("setup: {0}")]
    Setup(String),
    /// The two stimuli of a lockstep run do not fit together.
    #[error("stimulus: {0}")]
    Stimulus(String),
    /// A case of a run failed (the seed reproduces it: `generate(seed)`).
    #[error("case with seed {seed}: {source}")]
    Case {
        seed: u64,
        #[source]
        source: Box<CosimError>,
    },
    /// A backend kept working for too long after a step.
    #[error("{side} still busy {cycles} cycles after step {step}")]
    NotQuiescent {
        side: String,
        step: usize,
        cycles: u64,
    },
    /// A dump of a mismatching case could not be written.
    #[error("--dump {path}: {msg}")]
    Dump { path: String, msg: String },
    /// The per-step CSV could not be written.
    #[error("--steps-csv {path}: {msg}")]
    StepsCsv { path: String, msg: String },
}

/// One timed step of a case, as [`write_steps_csv`] writes it.
#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    /// The case's seed.
    pub seed: u64,
    /// The step's index in its case.
    pub step: usize,
    /// [`Step::kind`].
    pub kind: String,
    /// Model cycles, from the step's start to its last activity.
    pub model_cycles: u64,
    /// RTL cycles, the same way.
    pub rtl_cycles: u64,
    /// `(model - rtl) / rtl * 100` (empty when the RTL did nothing).
    pub error_pct: Option<f64>,
    /// [`Step::describe`].
    pub description: String,
}

/// Writes `rows` to `path` as CSV with a header (the `csv` crate); a partly written file is
/// removed.
pub fn write_steps_csv(path: &std::path::Path, rows: &[StepRow]) -> Result<(), CosimError> {
    let err = |msg: String| CosimError::StepsCsv {
        path: path.display().to_string(),
        msg,
    };
    crate::write_csv_rows(path, rows).map_err(|e| {
        let _ = std::fs::remove_file(path);
        err(e.to_string())
    })
}

/// Run `opts.cases` generated cases (seeds `opts.seed + k`) on the model and the RTL.
pub fn run(opts: &CosimOpts) -> Result<CosimReport, CosimError> {
    if !(64..=512).contains(&opts.width) || !opts.width.is_power_of_two() {
        return Err(CosimError::BadWidth(opts.width));
    }
    if let Some(d) = &opts.dump {
        dump::check_dir(&d.dir)?;
    }
    let mut rep = CosimReport {
        seed: opts.seed,
        cases: opts.cases,
        compared: 0,
        mismatches: 0,
        model_cycles: 0,
        rtl_cycles: 0,
        cycle_error_pct: 0.0,
        step_error_pct_median: 0.0,
        step_error_pct_p95: 0.0,
        step_error_pct_max: 0.0,
        steps_timed: 0,
        txn_error_pct_median: 0.0,
        txn_error_pct_p95: 0.0,
        txn_error_pct_max: 0.0,
        txns_timed: 0,
        txn_error_by_kind: Default::default(),
        steps_model_only: 0,
        case_error_pct_median: 0.0,
        case_error_pct_max: 0.0,
        step_error_by_kind: Default::default(),
        first_mismatch: None,
        counters_total: Default::default(),
        cases_detail: Vec::new(),
        dump: None,
        dumped: None,
    };
    let (mut step_errs, mut case_errs, mut txn_errs) = (Vec::new(), Vec::new(), Vec::new());
    let mut step_rows: Vec<StepRow> = Vec::new();
    // Per kind of step, and of transaction: each error, and model minus RTL summed.
    type ByKind = std::collections::BTreeMap<String, (Vec<f64>, i64)>;
    let (mut by_kind, mut txn_by_kind) = (ByKind::new(), ByKind::new());
    // One timed item (`m` model, `t` RTL cycles, `t` > 0): into `all` and its kind's entry.
    let timed = |all: &mut Vec<f64>, by: &mut ByKind, kind: &str, m: u64, t: u64| {
        let e = pct(m, t).abs();
        all.push(e);
        let k = by.entry(kind.to_string()).or_default();
        k.0.push(e);
        k.1 += m as i64 - t as i64;
    };
    for k in 0..opts.cases {
        let seed = opts.seed.wrapping_add(k as u64);
        let stim = generate(seed);
        let case = CaseOpts {
            record: false,
            waves: opts.trace.clone().filter(|_| k == 0),
            perturb: opts.perturb.filter(|p| p.case == k).map(|p| p.index),
        };
        let in_case = |e| CosimError::Case {
            seed,
            source: Box::new(e),
        };
        let r = run_case_with(&stim, opts.width, &case).map_err(in_case)?;
        rep.compared += r.compared;
        for &(name, v) in &r.counters_end {
            *rep.counters_total.entry(name.to_string()).or_default() += v as u64;
        }
        rep.model_cycles += r.cycles[0];
        rep.rtl_cycles += r.cycles[1];
        for (i, ((&[m, t], kind), desc)) in r
            .step_cycles
            .iter()
            .zip(&r.step_kinds)
            .zip(&r.step_descs)
            .enumerate()
        {
            if opts.steps_csv.is_some() {
                step_rows.push(StepRow {
                    seed,
                    step: i,
                    kind: kind.clone(),
                    model_cycles: m,
                    rtl_cycles: t,
                    error_pct: (t > 0).then(|| pct(m, t)),
                    description: desc.clone(),
                });
            }
            if t > 0 {
                timed(&mut step_errs, &mut by_kind, kind, m, t);
            } else if m > 0 {
                rep.steps_model_only += 1;
            }
        }
        if r.cycles[1] > 0 {
            case_errs.push(r.cycle_error_pct().abs());
        }
        for &(kind, [m, t]) in r.txn_cycles.iter().filter(|c| c.1[1] > 0) {
            timed(&mut txn_errs, &mut txn_by_kind, kind, m, t);
        }
        if let Some(m) = &r.mismatch {
            rep.mismatches += 1;
            if rep.first_mismatch.is_none() {
                rep.first_mismatch = Some(m.to_string());
            }
            if let (Some(d), None) = (&opts.dump, &rep.dumped) {
                let done = match dump::dump_case(&stim, opts.width, m, case.perturb, d) {
                    Err(e @ CosimError::Dump { .. }) => Err(e),
                    r => r.map_err(in_case),
                }?;
                rep.dump = Some(done.dir.clone());
                rep.dumped = Some(done);
            }
        }
        rep.cases_detail.push(CaseSummary {
            seed,
            steps: r.steps,
            compared: r.compared,
            model_cycles: r.cycles[0],
            rtl_cycles: r.cycles[1],
            cycle_error_pct: r.cycle_error_pct(),
            mismatch: r.mismatch.is_some(),
        });
    }
    if let Some(p) = &opts.steps_csv {
        write_steps_csv(p, &step_rows)?;
    }
    rep.cycle_error_pct = pct(rep.model_cycles, rep.rtl_cycles);
    rep.steps_timed = step_errs.len() as u64;
    rep.step_error_pct_median = quantile(&mut step_errs, 0.5);
    rep.step_error_pct_p95 = quantile(&mut step_errs, 0.95);
    rep.step_error_pct_max = quantile(&mut step_errs, 1.0);
    rep.txns_timed = txn_errs.len() as u64;
    rep.txn_error_pct_median = quantile(&mut txn_errs, 0.5);
    rep.txn_error_pct_p95 = quantile(&mut txn_errs, 0.95);
    rep.txn_error_pct_max = quantile(&mut txn_errs, 1.0);
    rep.case_error_pct_median = quantile(&mut case_errs, 0.5);
    rep.case_error_pct_max = quantile(&mut case_errs, 1.0);
    let stats = |mut v: Vec<f64>, excess: i64| KindError {
        steps: v.len() as u64,
        median_pct: quantile(&mut v, 0.5),
        p95_pct: quantile(&mut v, 0.95),
        max_pct: quantile(&mut v, 1.0),
        excess_cycles: excess,
    };
    for (kind, (v, excess)) in by_kind {
        rep.step_error_by_kind.insert(kind, stats(v, excess));
    }
    for (kind, (v, excess)) in txn_by_kind {
        rep.txn_error_by_kind.insert(kind, stats(v, excess));
    }
    Ok(rep)
}
