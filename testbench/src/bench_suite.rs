//! `buflet bench` with no subcommand: every benchmark, on both backends.
//!
//! - the line-rate sweep ([`crate::rate_bench`]) at 64 and 512 bits;
//! - the 4 MiB demo's payload bytes per device cycle, end to end (the file on disk, checked by
//!   sha256), at 64 and 512 bits;
//! - host-DRAM crossings per payload byte of each write mode (the demo at 64 bits);
//! - socket-lookup cycles as live sockets are added ([`crate::lookup_bench`]);
//! - simulation speed ([`crate::simspeed`]).
//!
//! The binary writes the CSV files, the plots and a Markdown page from the result.

use crate::frames;
use crate::lookup_bench::{self, LookupPoint};
use crate::rate_bench::{self, RatePoint};
use crate::runner::{run_stream, RunOptions, Scenario};
use crate::simspeed::{self, SimSpeed, SimSpeedOpts};
use crate::{Backend, TbError};
use buflet_nas::WriteMode;
use serde::Serialize;

/// What to run, and how long.
#[derive(Debug, Clone)]
pub struct SuiteOpts {
    /// Frame sizes of the sweep, and data frames per size.
    pub sizes: Vec<usize>,
    pub frames: u64,
    /// Bytes of the demo's file.
    pub demo_bytes: usize,
    /// Live socket counts of the lookup bench, and frames per count.
    pub lookup_live: Vec<u32>,
    pub lookup_frames: u32,
    /// The simulation-speed runs.
    pub simspeed: SimSpeedOpts,
}

impl Default for SuiteOpts {
    fn default() -> Self {
        Self {
            sizes: rate_bench::DEFAULT_SIZES.to_vec(),
            frames: 2000,
            demo_bytes: 4 * 1024 * 1024 + 777,
            lookup_live: vec![1, 64, 1024, 4096],
            lookup_frames: 4000,
            simspeed: SimSpeedOpts::default(),
        }
    }
}

/// One demo run: a file sent as one TCP stream and written to disk by the NAS application.
#[derive(Debug, Clone, Serialize)]
pub struct DemoRow {
    pub backend: String,
    pub width: u32,
    /// The NAS writer's mode ("p2p", "zerocopy", "splice", "copy").
    pub mode: String,
    pub payload_bytes: u64,
    /// Device cycles from the run's start (setup, handshake) to the last byte durable on disk.
    pub cycles: u64,
    /// Device cycles of the whole run: also the harness's wait for a quiet wire and the
    /// socket's close after the transfer (about 12,300 cycles, whatever the NIC).
    pub run_cycles: u64,
    /// Payload bytes per device cycle, end to end (`cycles`).
    pub bytes_per_cycle: f64,
    /// Host-DRAM bytes moved by any agent per payload byte.
    pub dram_crossings_per_byte: f64,
    /// Bytes the CPU copied.
    pub cpu_copied_bytes: u64,
    /// The file on disk is the source, by sha256, and the run passed its checks.
    pub verified: bool,
}

/// Everything `buflet bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Suite {
    pub rate: Vec<RatePoint>,
    pub demo: Vec<DemoRow>,
    pub lookup: Vec<LookupPoint>,
    pub simspeed: SimSpeed,
}

impl Suite {
    /// Every run delivered what it was sent and Icarus agreed with Verilator.
    pub fn passed(&self) -> bool {
        self.rate.iter().all(|p| p.verified)
            && self.demo.iter().all(|d| d.verified)
            && self.lookup.iter().all(|l| l.matched == l.lookups)
            && self.simspeed.icarus_agrees
    }
}

/// The demo's file on `backend` at `width` bits, written in `mode`.
pub fn demo(
    backend: Backend,
    width: u32,
    mode: WriteMode,
    bytes: usize,
) -> Result<DemoRow, TbError> {
    let (isn, iss) = frames::demo_isn_iss(1);
    let sc = Scenario::demo(frames::payload(1, bytes), 1448, isn, iss);
    let mut opt = RunOptions::new(backend, width);
    opt.mode = mode;
    let r = run_stream(&sc, &opt)?;
    Ok(DemoRow {
        backend: backend.name().into(),
        width,
        mode: mode.name().into(),
        payload_bytes: r.payload_bytes,
        cycles: r.transfer_cycles,
        run_cycles: r.cycles,
        bytes_per_cycle: r.payload_bytes as f64 / r.transfer_cycles.max(1) as f64,
        dram_crossings_per_byte: r.dram_crossings_per_byte,
        cpu_copied_bytes: r.cpu_copied_bytes,
        verified: r.verified && r.passed,
    })
}

/// Run the suite; `step` is told what starts next.
pub fn run(o: &SuiteOpts, step: &mut dyn FnMut(&str)) -> Result<Suite, TbError> {
    let backends = [Backend::Rtl, Backend::Model];
    let mut rate = Vec::new();
    for b in backends {
        for w in [64, 512] {
            step(&format!("line-rate sweep, {} at {w} bits", b.name()));
            for &s in &o.sizes {
                rate.push(rate_bench::measure(
                    b,
                    w,
                    s,
                    o.frames,
                    rate_bench::DEFAULT_LINE_GBPS,
                )?);
            }
        }
    }
    let mut demos = Vec::new();
    for b in backends {
        step(&format!(
            "demo at 512 bits and every write mode, {}",
            b.name()
        ));
        demos.push(demo(b, 512, WriteMode::ZeroCopy, o.demo_bytes)?);
        for m in WriteMode::ALL {
            demos.push(demo(b, 64, m, o.demo_bytes)?);
        }
    }
    let mut lookup = Vec::new();
    for (b, slots) in [(Backend::Rtl, 4096), (Backend::Model, 65536)] {
        step(&format!("socket lookup, {}", b.name()));
        for &live in o.lookup_live.iter().filter(|&&n| n <= slots) {
            lookup.push(lookup_bench::measure(
                b,
                64,
                slots,
                live,
                o.lookup_frames,
                1,
            )?);
        }
    }
    step("simulation speed");
    let simspeed = simspeed::measure(&o.simspeed)?;
    Ok(Suite {
        rate,
        demo: demos,
        lookup,
        simspeed,
    })
}
