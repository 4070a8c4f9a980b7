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
    /// How block I/O reaches the image: direct, or scsi (seed 003: a SCSI pass-through to a
    /// user-space logical unit that sees the DMA buffer mapped, never copied).
    #[arg(long, value_enum, default_value = "direct")]
    disk: DiskArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DiskArg {
    Direct,
    Scsi,
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
    /// Run the RTL and the model in lockstep on the same seeded random stimulus and compare every
    /// DMA write, completion, disk write, transmitted frame and counter.
    Cosim {
        /// Seed of case 0 (case k uses seed + k).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of cases.
        #[arg(long, default_value_t = 3)]
        cases: u32,
        /// RTL datapath width (a built width: 64 or 512).
        #[arg(long, default_value_t = 64)]
        width: u32,
        /// Print one JSON object on one line.
        #[arg(long)]
        json: bool,
    },
    /// smoltcp, an independent TCP implementation, connects to the NIC through a seeded lossy,
    /// reordering, duplicating link and sends N seeded bytes; they must land on disk byte-exact.
    Peer {
        /// Which implementation of the device runs.
        #[arg(long, default_value = "model")]
        backend: Backend,
        /// Datapath width in bits.
        #[arg(long, default_value_t = 64)]
        width: u32,
        /// Bytes the peer sends.
        #[arg(long, default_value_t = 1 << 20)]
        bytes: u64,
        /// Per-direction loss probability.
        #[arg(long, default_value_t = 0.0)]
        loss: f64,
        /// Per-direction reordering probability.
        #[arg(long, default_value_t = 0.0)]
        reorder: f64,
        /// Per-direction duplication probability.
        #[arg(long, default_value_t = 0.0)]
        dup: f64,
        /// Seed of the payload, the ISS, the peer and the link.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print one JSON object on one line.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One arm per subcommand; each returns the process exit code.
    match cli.cmd {
        Cmd::Demo {
            common,
            bytes,
            seed,
            mss,
        } => demo(common, bytes, seed, mss),
        Cmd::Replay { file, common } => replay(&file, common),
        Cmd::Cosim {
            seed,
            cases,
            width,
            json,
        } => cosim(seed, cases, width, json),
        Cmd::Peer {
            backend,
            width,
            bytes,
            loss,
            reorder,
            dup,
            seed,
            json,
        } => {
            let opts = buflet_testbench::peer::PeerOpts {
                backend,
                width,
                bytes,
                loss,
                reorder,
                dup,
                seed,
            };
            peer(&opts, json)
        }
    }
}

/// `buflet cosim`: exit 0 only when no case diverged.
fn cosim(seed: u64, cases: u32, width: u32, json: bool) -> ExitCode {
    let opts = buflet_testbench::cosim::CosimOpts { seed, cases, width };
    match buflet_testbench::cosim::run(&opts) {
        Ok(r) => {
            if json {
                println!("{}", serde_json::to_string(&r).expect("report serializes"));
            } else {
                for c in &r.cases_detail {
                    println!("{}", serde_json::to_string(c).expect("case serializes"));
                }
                println!(
                    "cases {}  compared {}  mismatches {}  model cycles {}  rtl cycles {}  cycle error {:+.2}%",
                    r.cases, r.compared, r.mismatches, r.model_cycles, r.rtl_cycles, r.cycle_error_pct
                );
            }
            if let Some(m) = &r.first_mismatch {
                eprintln!("buflet cosim: first divergence:\n{m}");
            }
            if r.mismatches == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("buflet cosim: {e}");
            ExitCode::from(1)
        }
    }
}

/// `buflet peer`: exit 0 only when the stream landed byte-exact.
fn peer(opts: &buflet_testbench::peer::PeerOpts, json: bool) -> ExitCode {
    match buflet_testbench::peer::run(opts) {
        Ok(r) => {
            let line = serde_json::to_string(&r).expect("report serializes");
            if json {
                println!("{line}");
            } else {
                println!(
                    "backend {}  bytes {}  verified {}  disk sha256 {}",
                    r.backend, r.bytes, r.verified, r.disk_sha256
                );
                println!("{line}");
            }
            if r.verified {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("buflet peer: {e}");
            ExitCode::from(1)
        }
    }
}

/// `buflet demo`: the seeded stream, sent by a client paced by the NIC's ACKs.
fn demo(common: Common, bytes: usize, seed: u64, mss: usize) -> ExitCode {
    if mss == 0 || mss > 8960 {
        eprintln!("buflet: --mss must be 1..=8960");
        return ExitCode::from(2);
    }
    let source = frames::payload(seed, bytes);
    let isn = 0x1000_0000u32.wrapping_mul(seed as u32 | 1);
    let iss = isn.rotate_left(16) ^ 0x5eed_0001;
    run_scenario(&Scenario::demo(source, mss, isn, iss), &common)
}

/// `buflet replay`: a capture's server-bound frames, paced by the NIC's ACKs.
fn replay(file: &std::path::Path, common: Common) -> ExitCode {
    match pcap::load(file) {
        Ok(c) => run_scenario(&Scenario::replay(c), &common),
        Err(e) => {
            eprintln!("buflet: {e}");
            ExitCode::from(1)
        }
    }
}

/// Run a scenario with the common options and print its report: exit 0 only when the disk
/// holds the source bytes and nothing else failed (buflets all free after SOCK_DEL, ...).
fn run_scenario(sc: &Scenario, common: &Common) -> ExitCode {
    if ![64, 128, 256, 512].contains(&common.width) {
        eprintln!("buflet: --width must be 64, 128, 256 or 512");
        return ExitCode::from(2);
    }
    let mut opt = RunOptions::new(common.backend, common.width);
    opt.image = common.image.clone();
    opt.trace = common.trace.clone();
    opt.disk = match common.disk {
        DiskArg::Direct => buflet_platform::DiskMode::Direct,
        DiskArg::Scsi => buflet_platform::DiskMode::Scsi,
    };
    let bar = (!common.json).then(|| {
        let b = ProgressBar::new(sc.source.len() as u64);
        b.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} on disk ({bytes_per_sec})").expect("valid template"));
        b
    });
    if let Some(b) = &bar {
        let b = b.clone();
        opt.progress = Some(Rc::new(move |done, _| b.set_position(done)));
    }
    let result = run_stream(sc, &opt);
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
            for f in &r.failures {
                eprintln!("buflet: {f}");
            }
            if r.passed {
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
        "sender             {} frames sent ({} retransmitted, {} window probes)",
        r.frames_sent, r.retransmits, r.probes
    );
    println!(
        "NIC transmitted    {} frames, {} bytes (SYN-ACK and ACKs); {} segments held out of order",
        r.tx_frames, r.tx_bytes, r.ooo_held
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
    println!(
        "buflets free       {}/{} after SOCK_DEL",
        r.buflets_free_end, r.num_buflets
    );
    for (name, n) in r.drops.nonzero() {
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
