//! The fault campaign (`buflet faults`): seeded runs of the smoltcp peer against the NIC, each
//! with its own mix of faults drawn from the seed: loss, reordering, duplication, corruption
//! and truncation on the link (each direction), block-device errors (sometimes with no retries
//! left, so a write fails for good), the peer resetting the connection in the middle of the
//! upload, named-buffer timeouts (buffers come back partly filled or empty), an application
//! that stalls (takes no completion, posts no buffer) while a window larger than the buflet
//! pool lets the data exhaust the pool, and a disk that stops answering (each block command
//! then ends with DISK_TIMEOUT). For every run it reports what the peer saw acknowledged and
//! whether any of those bytes are lost (not on disk and not named by the NAS's failure),
//! buflets leaked after SOCK_DEL, block writes whose completion never came, and whether the
//! file verified, the upload was cut by the abort, or the NAS failed naming the file bytes it
//! did not write.

use crate::peer::{self, Faults, PeerError, PeerOpts};
use crate::Backend;
use buflet_spec::param;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// What to run.
#[derive(Debug, Clone)]
pub struct CampaignOpts {
    /// Which device.
    pub backend: Backend,
    /// Seed of the campaign: run k draws its mix and its own seed from it.
    pub seed: u64,
    /// Runs.
    pub runs: u32,
    /// Bytes each run's peer sends.
    pub bytes: u64,
}

/// One run: its faults and what came of them.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run: u32,
    pub seed: u64,
    pub loss: f64,
    pub reorder: f64,
    pub dup: f64,
    /// The rest of the run's faults (their fields appear beside the ones above).
    #[serde(flatten)]
    pub faults: Faults,
    /// Named buffers the device returned on timeout (`CNT_TIMEOUTS`).
    pub timeouts: u64,
    /// Block commands given up because the disk did not answer (`CNT_BLK_TIMEOUTS`).
    pub blk_timeouts: u64,
    /// Frames the device found no free buflet for (`NO_BUFLET`) and out-of-order segments it
    /// did not hold because the pool was at its reserve (`POOL_LOW`).
    pub no_buflet: u64,
    pub pool_low: u64,
    /// Fewest free buflets seen, and whether that is at the pool's reserve or below (the
    /// pool exhausted as far as the window goes: it advertised 0 for want of buflets).
    pub min_free_buflets: u32,
    pub pool_exhausted: bool,
    /// Block writes whose completion never came (must be 0).
    pub completions_missing: u64,
    /// `verified`, `aborted` (the prefix the peer got acknowledged landed), `failed: <what the
    /// NAS said, naming the file bytes not written>`, or `error: <why the run broke>`.
    pub outcome: String,
    /// Bytes the peer saw acknowledged.
    pub acked: u64,
    /// Acknowledged bytes lost (must be 0).
    pub acked_lost: u64,
    /// Buflets not free after SOCK_DEL (must be 0).
    pub buflets_leaked: u64,
}

/// The campaign's figures.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignReport {
    pub backend: String,
    pub seed: u64,
    pub runs: Vec<RunRecord>,
    pub verified: u32,
    pub aborted: u32,
    pub failed_named: u32,
    /// Runs that broke (stall, device error): each is a campaign failure.
    pub errors: u32,
    pub acked_lost: u64,
    pub buflets_leaked: u64,
    pub completions_missing: u64,
    /// Runs in which the buflet pool ran out (down to its reserve, or `NO_BUFLET` or
    /// `POOL_LOW` drops), and runs in which the disk stopped answering.
    pub exhausted_runs: u32,
    pub hung_disk_runs: u32,
    /// No acknowledged byte lost, no buflet leaked, no completion missing, no run broke.
    pub passed: bool,
}

/// Draw run `k`'s faults.
fn mix(rng: &mut ChaCha8Rng, bytes: u64) -> (f64, f64, f64, Faults) {
    let mut p = |on: f64, max: f64| {
        if rng.gen_bool(on) {
            rng.gen_range(0.0..max)
        } else {
            0.0
        }
    };
    let (loss, reorder, dup) = (p(0.5, 0.08), p(0.5, 0.2), p(0.4, 0.08));
    let (corrupt, truncate) = (p(0.4, 0.04), p(0.4, 0.04));
    let disk_error_rate = p(0.4, 0.05);
    let max_retries = rng.gen_bool(0.3).then(|| rng.gen_range(0..2));
    let abort_after = rng.gen_bool(0.25).then(|| rng.gen_range(0..bytes));
    let nb_timeout = rng
        .gen_bool(0.3)
        .then(|| (rng.gen_range(500..20_000), rng.gen_range(1..4)));
    let app_stall = rng.gen_bool(0.3).then(|| {
        (
            rng.gen_range(20_000..200_000),
            rng.gen_range(200_000..2_000_000),
        )
    });
    // A window of up to 4 MiB, past the 512 KiB buflet pool: with a stall, the pool runs out.
    let rcv_buf = rng
        .gen_bool(0.4)
        .then(|| rng.gen_range(1u32 << 19..=4 << 20));
    // Few named buffers posted: what a stall leaves unread stays in buflets.
    let nbs = (app_stall.is_some() && rng.gen_bool(0.7)).then(|| rng.gen_range(1..4));
    let disk_hang_after = rng
        .gen_bool(0.15)
        .then(|| rng.gen_range(0..2 * bytes.div_ceil(4096) + 1));
    (
        loss,
        reorder,
        dup,
        Faults {
            corrupt,
            truncate,
            disk_error_rate,
            max_retries,
            abort_after,
            nb_timeout,
            app_stall,
            rcv_buf,
            nbs,
            disk_hang_after,
            read_past_end: None,
        },
    )
}

/// Run the campaign; every run reports, whatever happened to it.
pub fn run(opts: &CampaignOpts) -> CampaignReport {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x6661_756c_7473);
    let mut rep = CampaignReport {
        backend: opts.backend.name().into(),
        seed: opts.seed,
        runs: Vec::new(),
        verified: 0,
        aborted: 0,
        failed_named: 0,
        errors: 0,
        acked_lost: 0,
        buflets_leaked: 0,
        completions_missing: 0,
        exhausted_runs: 0,
        hung_disk_runs: 0,
        passed: false,
    };
    for k in 0..opts.runs {
        let seed: u64 = rng.gen();
        let (loss, reorder, dup, f) = mix(&mut rng, opts.bytes);
        let popts = PeerOpts {
            backend: opts.backend,
            width: 64,
            bytes: opts.bytes,
            loss,
            reorder,
            dup,
            seed,
            read_back: false,
            cow: Default::default(),
            pcap_out: None,
            mode: Default::default(),
        };
        let mut rec = RunRecord {
            run: k,
            seed,
            loss,
            reorder,
            dup,
            faults: f.clone(),
            timeouts: 0,
            blk_timeouts: 0,
            no_buflet: 0,
            pool_low: 0,
            completions_missing: 0,
            min_free_buflets: 0,
            pool_exhausted: false,
            outcome: String::new(),
            acked: 0,
            acked_lost: 0,
            buflets_leaked: 0,
        };
        match peer::run_with(&popts, &f) {
            Ok(r) => {
                rec.timeouts = r.nb_timeouts;
                rec.blk_timeouts = r.blk_timeouts;
                rec.completions_missing = r.completions_missing;
                let drop = |name: &str| r.drops.get(name).copied().unwrap_or(0);
                rec.no_buflet = drop("NO_BUFLET");
                rec.pool_low = drop("POOL_LOW");
                rec.min_free_buflets = r.min_free_buflets;
                let reserve = r.num_buflets / param::POOL_RESERVE_DIV as u32;
                rec.pool_exhausted = r.min_free_buflets <= reserve + 1;
                rec.acked = r.acked;
                rec.acked_lost = r.acked_lost;
                rec.outcome = match (&r.failure, r.verified, r.aborted) {
                    // A failure always comes with the span not on disk (`not_on_disk`), which
                    // `acked_lost` leaves out and the message names.
                    (Some(m), _, _) => {
                        rep.failed_named += 1;
                        format!("failed: {m}")
                    }
                    (None, true, _) => {
                        rep.verified += 1;
                        "verified".into()
                    }
                    (None, false, true) => {
                        rep.aborted += 1;
                        "aborted".into()
                    }
                    (None, false, false) => {
                        rep.errors += 1;
                        "error: the stream ended without an abort and did not verify".into()
                    }
                };
            }
            Err(PeerError::Leaked { free, total }) => {
                rec.buflets_leaked = u64::from(total.saturating_sub(free));
                rec.outcome = format!("error: {free} of {total} buflets free after SOCK_DEL");
                rep.errors += 1;
            }
            Err(e) => {
                rec.outcome = format!("error: {e}");
                rep.errors += 1;
            }
        }
        rep.acked_lost += rec.acked_lost;
        rep.completions_missing += rec.completions_missing;
        rep.exhausted_runs += u32::from(rec.pool_exhausted || rec.no_buflet + rec.pool_low > 0);
        rep.hung_disk_runs += u32::from(rec.faults.disk_hang_after.is_some());
        rep.buflets_leaked += rec.buflets_leaked;
        rep.runs.push(rec);
    }
    rep.passed = rep.acked_lost == 0
        && rep.buflets_leaked == 0
        && rep.completions_missing == 0
        && rep.errors == 0;
    rep
}
