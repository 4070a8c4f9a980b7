//! `buflet`: run the demo, replay a capture, on the Rust model or the Verilated RTL.

use buflet_testbench::{frames, pcap, run_stream, Backend, RunOptions, RunReport, Scenario};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

fn version() -> &'static str {
    Box::leak(
        format!(
            "{} (Verilator {})",
            env!("CARGO_PKG_VERSION"),
            buflet_sim::VERILATOR_VERSION
        )
        .into_boxed_str(),
    )
}

#[derive(Parser)]
#[command(name = "buflet", version = version(), about = "Buflet zero-copy TCP offload NIC: RTL and model")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct Common {
    /// Which implementation of the device runs: the Rust model or the Verilated RTL.
    #[arg(long, default_value = "model")]
    backend: Backend,
    /// Datapath width in bits (the RTL is built for 64 and 512).
    #[arg(long, default_value_t = 64)]
    width: u32,
    /// Print one JSON object on one line instead of the human report.
    #[arg(long)]
    json: bool,
    /// Keep the disk image at this path.
    #[arg(long)]
    image: Option<PathBuf>,
    /// Write a waveform of every RTL signal here (RTL built with BUFLET_TRACE=1 or =vcd).
    #[arg(long)]
    trace: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Send a seeded file as one TCP stream (frames built by etherparse), write it zero-copy to
    /// the disk image, read it back and compare.
    Demo {
        #[command(flatten)]
        common: Common,
        /// File size in bytes.
        #[arg(long, default_value_t = 4 * 1024 * 1024 + 777)]
        bytes: usize,
        /// Payload seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// TCP payload bytes per segment.
        #[arg(long, default_value_t = 1448)]
        mss: usize,
    },
    /// Replay the frames a server's NIC receives in a pcap capture; the first TCP connection's
    /// client-to-server stream is written zero-copy as one file at offset 0.
    Replay {
        /// Classic pcap file with Ethernet frames.
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (sc, common) = match cli.cmd {
        Cmd::Demo {
            common,
            bytes,
            seed,
            mss,
        } => {
            if mss == 0 || mss > 8960 {
                eprintln!("buflet: --mss must be 1..=8960");
                return ExitCode::from(2);
            }
            let source = frames::payload(seed, bytes);
            let isn = 0x1000_0000u32.wrapping_mul(seed as u32 | 1);
            let frames = frames::tcp_stream(&source, mss, isn);
            (
                Scenario {
                    frames,
                    socket: frames::demo_socket(),
                    isn,
                    source,
                },
                common,
            )
        }
        Cmd::Replay { file, common } => match pcap::load(&file) {
            Ok(c) => (
                Scenario {
                    frames: c.frames,
                    socket: c.socket,
                    isn: c.isn,
                    source: c.stream,
                },
                common,
            ),
            Err(e) => {
                eprintln!("buflet: {e}");
                return ExitCode::from(1);
            }
        },
    };
    if ![64, 128, 256, 512].contains(&common.width) {
        eprintln!("buflet: --width must be 64, 128, 256 or 512");
        return ExitCode::from(2);
    }
    let mut opt = RunOptions::new(common.backend, common.width);
    opt.image = common.image.clone();
    opt.trace = common.trace.clone();
    let bar = (!common.json).then(|| {
        let b = ProgressBar::new(sc.source.len() as u64);
        b.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} on disk ({bytes_per_sec})").expect("valid template"));
        b
    });
    if let Some(b) = &bar {
        let b = b.clone();
        opt.progress = Some(Rc::new(move |done, _| b.set_position(done)));
    }
    let result = run_stream(&sc, &opt);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    match result {
        Ok(r) => {
            if common.json {
                println!("{}", serde_json::to_string(&r).expect("report serializes"));
            } else {
                human(&r);
            }
            if r.verified {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("buflet: {e}");
            ExitCode::from(1)
        }
    }
}

fn human(r: &RunReport) {
    println!(
        "backend            {} ({}-bit datapath)",
        r.backend, r.data_width
    );
    println!(
        "payload            {} bytes in {} frames ({} dropped)",
        r.payload_bytes, r.frames, r.dropped
    );
    println!(
        "device cycles      {} ({:.2} Mcycles/s simulated, {:.2} s wall)",
        r.cycles,
        r.sim_cycles_per_second / 1e6,
        r.wall_seconds
    );
    println!("cpu copied bytes   {}", r.cpu_copied_bytes);
    println!("DRAM crossings     {:.4} per payload byte ({} bytes: NIC wrote {}, NIC read {}, block DMA read {}, CPU read {}, CPU wrote {})", r.dram_crossings_per_byte, r.host_dram_bytes, r.nic_dma_written, r.nic_dma_read, r.blk_dma_read, r.cpu_read, r.cpu_written);
    println!("disk writes        {} block writes", r.disk_writes);
    println!("buflets free       {}/{}", r.free_buflets, r.num_buflets);
    for (name, n) in &r.drops_by_reason {
        println!("drop {:<14}{}", name, n);
    }
    println!("source sha256      {}", r.source_sha256);
    println!("disk sha256        {}", r.disk_sha256);
    println!(
        "verified           {}",
        if r.verified {
            "yes: the disk holds exactly the source bytes"
        } else {
            "NO: the disk differs from the source"
        }
    );
}
