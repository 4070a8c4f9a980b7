//! `buflet bench` alone: every benchmark (buflet_testbench::bench_suite), a table on stdout,
//! and CSV files, PNG plots and a Markdown page in one directory.

use crate::plots::{self, Series, PALETTE};
use buflet_testbench::bench_suite::{self, Suite, SuiteOpts};
use clap::Args;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `buflet bench` without a subcommand.
#[derive(Args, Debug)]
pub struct AllArgs {
    /// The directory the CSV files, plots and bench.md go into (created if missing; files of
    /// the same names in it are replaced).
    #[arg(long, default_value = "buflet-bench")]
    out: PathBuf,
    /// Data frames per size of the line-rate sweep.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
    frames: u64,
    /// Bytes of the demo's file.
    #[arg(long, default_value_t = 4 * 1024 * 1024 + 777, value_parser = clap::value_parser!(u64).range(4096..=256 << 20))]
    demo_bytes: u64,
    /// Print one JSON object on one line (the table is not printed).
    #[arg(long)]
    json: bool,
}

/// A file of the output directory: its name and how it is written.
type Writer<'a> = (&'a str, Box<dyn Fn(&Path) -> Result<(), String> + 'a>);

fn csv_rows<T: Serialize>(path: &Path, rows: &[T]) -> Result<(), String> {
    buflet_testbench::write_csv_rows(path, rows).map_err(|e| e.to_string())
}

fn rate_plot(path: &Path, s: &Suite) -> Result<(), String> {
    let mut series = Vec::new();
    for (i, (b, w)) in [("rtl", 64), ("rtl", 512), ("model", 64), ("model", 512)]
        .into_iter()
        .enumerate()
    {
        let points: Vec<(f64, f64)> = s
            .rate
            .iter()
            .filter(|p| p.backend == b && p.width == w)
            .map(|p| (p.frame_bytes as f64, p.cycles_per_frame))
            .collect();
        series.push(Series {
            name: format!("{b}, {w} bits"),
            color: PALETTE[i],
            points,
        });
    }
    series.push(Series {
        name: "100 GbE needs".into(),
        color: PALETTE[5],
        points: s
            .rate
            .iter()
            .filter(|p| p.backend == "rtl" && p.width == 512)
            .map(|p| (p.frame_bytes as f64, p.cycles_per_frame_100g))
            .collect(),
    });
    plots::lines(
        path,
        "Buflet receive rate by frame size (250 MHz)",
        "frame bytes (FCS included)",
        "device cycles per frame",
        &series,
    )
}

fn lookup_plot(path: &Path, s: &Suite) -> Result<(), String> {
    let series: Vec<Series> = ["rtl", "model"]
        .into_iter()
        .enumerate()
        .map(|(i, b)| Series {
            name: b.into(),
            color: PALETTE[i],
            points: s
                .lookup
                .iter()
                .filter(|l| l.backend == b)
                .map(|l| (f64::from(l.live), l.cycles_per_lookup))
                .collect(),
        })
        .collect();
    plots::lines(
        path,
        "Buflet socket lookup cost as sockets are added",
        "live sockets",
        "device cycles per walk of a hash chain",
        &series,
    )
}

/// The Markdown page: one table per benchmark.
pub fn markdown(s: &Suite) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "## Line rate (`buflet bench linerate`)\n");
    let _ = writeln!(m, "Cycles per frame from the first data frame until the last payload byte is in host memory (every byte checked); rates at 250 MHz with 20 B of preamble and gap per frame.\n");
    let _ = writeln!(m, "| backend | width | frame B | cycles/frame | Mpps at 250 MHz | wire Gbit/s at 250 MHz | 100 GbE needs (cycles/frame) |");
    let _ = writeln!(m, "|---|---|---|---|---|---|---|");
    for p in &s.rate {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            p.backend,
            p.width,
            p.frame_bytes,
            p.cycles_per_frame,
            p.mpps_at_250mhz,
            p.wire_gbps_at_250mhz,
            p.cycles_per_frame_100g
        );
    }
    let _ = writeln!(m, "\n## The demo and the write modes\n");
    let _ = writeln!(m, "The demo's file as one TCP stream, written to disk by the NAS application and checked by sha256. Cycles run from the start (setup, handshake) to the last byte durable on disk; the whole run adds the harness's wait for a quiet wire and the socket's close.\n");
    let _ = writeln!(m, "| backend | width | mode | payload bytes | cycles to the last byte on disk | payload bytes/cycle | whole run (cycles) | host-DRAM crossings/byte | CPU-copied bytes |");
    let _ = writeln!(m, "|---|---|---|---|---|---|---|---|---|");
    for d in &s.demo {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {:.2} | {} | {:.3} | {} |",
            d.backend,
            d.width,
            d.mode,
            d.payload_bytes,
            d.cycles,
            d.bytes_per_cycle,
            d.run_cycles,
            d.dram_crossings_per_byte,
            d.cpu_copied_bytes
        );
    }
    let _ = writeln!(m, "\n## Socket lookup (`buflet bench lookup`)\n");
    let _ = writeln!(m, "| backend | slots | live sockets | cycles per walk |");
    let _ = writeln!(m, "|---|---|---|---|");
    for l in &s.lookup {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {:.3} |",
            l.backend, l.slots, l.live, l.cycles_per_lookup
        );
    }
    let v = &s.simspeed;
    let _ = writeln!(m, "\n## Simulation speed (`buflet bench simspeed`)\n");
    let _ = writeln!(m, "| figure | value |\n|---|---|");
    let _ = writeln!(
        m,
        "| RTL ({} bits, Verilator), idle | {:.0} cycles/s |",
        v.width, v.rtl_cycles_per_s_idle
    );
    let _ = writeln!(
        m,
        "| RTL, 1,500 B frames | {:.0} cycles/s |",
        v.rtl_cycles_per_s_traffic
    );
    let _ = writeln!(
        m,
        "| Icarus, same stimulus, idle / traffic | {:.0} / {:.0} cycles/s |",
        v.icarus_cycles_per_s_idle, v.icarus_cycles_per_s_traffic
    );
    let _ = writeln!(
        m,
        "| Verilator over Icarus, idle / traffic | {:.1}x / {:.1}x (outputs agree: {}) |",
        v.icarus_ratio_idle, v.icarus_ratio_traffic, v.icarus_agrees
    );
    let _ = writeln!(
        m,
        "| model, payload per host second | {:.2} Gbit/s ({:.0} cycles/s) |",
        v.model_payload_gbps_per_s, v.model_cycles_per_s
    );
    m
}

/// The table printed on stdout: the Markdown page, which reads as plain text too.
fn print_table(s: &Suite) {
    print!("{}", markdown(s));
}

/// `buflet bench`: exit 0 when every run verified.
pub fn run(a: &AllArgs) -> ExitCode {
    let opts = SuiteOpts {
        frames: a.frames,
        demo_bytes: a.demo_bytes as usize,
        ..SuiteOpts::default()
    };
    let json = a.json;
    let mut step = |what: &str| {
        if !json {
            eprintln!("buflet bench: {what}");
        }
    };
    let suite = match bench_suite::run(&opts, &mut step) {
        Ok(s) => s,
        Err(e) => return crate::fail(json, "bench", None, &e.to_string(), 1),
    };
    let files: Vec<Writer> = vec![
        ("rate.csv", Box::new(|p| csv_rows(p, &suite.rate))),
        ("rate.png", Box::new(|p| rate_plot(p, &suite))),
        ("demo.csv", Box::new(|p| csv_rows(p, &suite.demo))),
        ("lookup.csv", Box::new(|p| csv_rows(p, &suite.lookup))),
        ("lookup.png", Box::new(|p| lookup_plot(p, &suite))),
        (
            "simspeed.csv",
            Box::new(|p| csv_rows(p, std::slice::from_ref(&suite.simspeed))),
        ),
        (
            "bench.md",
            Box::new(|p| {
                std::fs::write(p, format!("# Buflet benchmarks\n\n{}", markdown(&suite)))
                    .map_err(|e| e.to_string())
            }),
        ),
    ];
    let created = !a.out.exists();
    if let Err(e) = std::fs::create_dir_all(&a.out) {
        return crate::fail(json, "bench", None, &format!("{}: {e}", a.out.display()), 1);
    }
    let mut written: Vec<PathBuf> = Vec::new();
    for (name, write) in &files {
        let path = a.out.join(name);
        if let Err(e) = write(&path) {
            // Nothing half-written stays: the files of this run go, and the directory if this
            // run made it.
            let _ = std::fs::remove_file(&path);
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            if created {
                let _ = std::fs::remove_dir(&a.out);
            }
            return crate::fail(
                json,
                "bench",
                None,
                &format!("writing {}: {e}", path.display()),
                1,
            );
        }
        written.push(path);
    }
    let passed = suite.passed();
    if json {
        let mut v = serde_json::to_value(&suite).expect("figures serialize");
        v["command"] = "bench".into();
        v["passed"] = passed.into();
        v["out"] = a.out.display().to_string().into();
        v["files"] = written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .into();
        println!("{v}");
    } else {
        print_table(&suite);
        println!("\nwrote {} files into {}", written.len(), a.out.display());
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        eprintln!("buflet bench: a run did not deliver what it was sent, or Icarus disagreed");
        ExitCode::from(1)
    }
}
