//! `buflet`: run the demo, replay a capture, on the Rust model or the Verilated RTL.

use buflet_nas::WriteMode;
use buflet_testbench::{
    framed_demo_records, framed_stream, frames, pcap, run_multi, run_stream, Backend, FsKind,
    MultiOptions, MultiReport, Protocol, RunOptions, RunReport, Scenario,
};
/// mimalloc serves the simulators' many short-lived frame and DMA buffers (1 to 9 KiB) from
/// per-thread free lists; glibc's malloc takes its slow path for every one above 1 KiB.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench_all;
mod fpga;
mod fpga_paths;
mod plots;
mod serve;
mod waves_view;

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
    /// Keep the disk image at this path. The image then holds a real file system (--fs) with
    /// the file in it, mapped to disk blocks through the file system's own metadata, checked by
    /// `e2fsck -fn` and read back by `debugfs cat` after the run. Without it the file is one
    /// extent of a temporary raw disk image.
    #[arg(long)]
    image: Option<PathBuf>,
    /// Overwrite the file at --image even when it is not a previous Buflet image.
    #[arg(long, requires = "image")]
    force: bool,
    /// File system on the --image: ext2 or ext4.
    #[arg(long, value_enum, default_value = "ext4", requires = "image")]
    fs: FsArg,
    /// Path of the file inside the file system (with --image).
    #[arg(long, requires = "image")]
    file_path: Option<String>,
    /// Probability that a block-device read or write fails (seeded by --error-seed); the NAS
    /// writer retries a failed block operation. A run either verifies or exits non-zero with
    /// the error.
    #[arg(long, default_value_t = 0.0, value_parser = probability, allow_negative_numbers = true)]
    disk_error_rate: f64,
    /// Seed of --disk-error-rate.
    #[arg(long, default_value_t = 1)]
    error_seed: u64,
    /// Write a waveform of every RTL signal here (FST; VCD from an RTL built with BUFLET_TRACE=vcd).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// The waveform's first cycle (with --trace).
    #[arg(long, requires = "trace", default_value_t = 0)]
    trace_from: u64,
    /// Cycles the waveform holds from --trace-from (default: to the end of the run).
    #[arg(long, requires = "trace", value_parser = clap::value_parser!(u64).range(1..))]
    trace_cycles: Option<u64>,
    /// How block I/O reaches the image: direct, or scsi (seed 003: a SCSI pass-through to a
    /// user-space logical unit that sees the DMA buffer mapped, never copied).
    #[arg(long, value_enum, default_value = "direct")]
    disk: DiskArg,
    /// Write every frame on the wire, both directions, to this pcap file (readable by
    /// `buflet replay` and by Wireshark).
    #[arg(long)]
    pcap_out: Option<PathBuf>,
    /// Socket slots of the device build (`DeviceConfig::with_sockets`: 4 hash buckets per slot,
    /// named buffers and buflets scaled with it). The RTL is built with 64 (the default build)
    /// and, at 64 bits, 4096; the model takes 1..=65536.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    sockets: Option<u32>,
    /// Line rate of the wire in Gbit/s: the peer's frames reach the MAC no faster than this
    /// (default: the Ethernet rate the width is sized for at 250 MHz, 10 GbE at 64 bits, 100
    /// GbE at 512; `DeviceConfig::mac_gbps`).
    #[arg(long, value_parser = line_rate)]
    line_gbps: Option<f64>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DiskArg {
    Direct,
    Scsi,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    P2p,
    Zerocopy,
    Splice,
    Copy,
}

impl ModeArg {
    fn mode(self) -> WriteMode {
        match self {
            ModeArg::P2p => WriteMode::P2p,
            ModeArg::Zerocopy => WriteMode::ZeroCopy,
            ModeArg::Splice => WriteMode::Splice,
            ModeArg::Copy => WriteMode::Copy,
        }
    }
}

/// Seed 002's two senders (`--cow`).
#[derive(Clone, Copy, clap::ValueEnum)]
enum CowArg {
    /// Ask the copy-on-write table before writing a page.
    Aware,
    /// Rewrite one page in place right after posting it.
    Naive,
}

impl CowArg {
    fn cow(self) -> buflet_nas::answer::Cow {
        match self {
            CowArg::Aware => buflet_nas::answer::Cow::Aware,
            CowArg::Naive => buflet_nas::answer::Cow::Naive,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FsArg {
    Ext2,
    Ext4,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ProtocolArg {
    /// SMB2/3 over NetBIOS session framing: each WRITE's data at its file offset.
    Smb2,
    /// Buflet's framed write protocol (BFW1 records): each record's data at its file offset.
    Framed,
    /// The whole client-to-server stream is the file, at offset 0.
    Raw,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DemoProtocolArg {
    /// The file as one stream, at offset 0.
    Raw,
    /// The file as BFW1 records of seeded sizes, in a seeded order, with overlapping rewrites.
    Framed,
}

/// A stream length within [`buflet_testbench::MAX_STREAM_BYTES`].
fn stream_bytes<T: TryFrom<u64>>(s: &str) -> Result<T, String> {
    let n: u64 = s.parse().map_err(|e| format!("{e}"))?;
    let max = buflet_testbench::MAX_STREAM_BYTES;
    if n > max {
        return Err(format!(
            "{n} bytes is more than the {max} ({} MiB) a run holds in memory",
            max >> 20
        ));
    }
    T::try_from(n).map_err(|_| format!("{n} does not fit this machine's address space"))
}

/// A line rate in Gbit/s: finite, above 0 and at most 1000.
fn line_rate(s: &str) -> Result<f64, String> {
    let g: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if g.is_finite() && g > 0.0 && g <= 1000.0 {
        Ok(g)
    } else {
        Err(format!(
            "{s} is not a line rate in Gbit/s (above 0, at most 1000)"
        ))
    }
}

fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability in 0..=1"))
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Send a seeded file as one TCP stream (frames built by etherparse), write it zero-copy to
    /// the disk image, read it back and compare.
    Demo {
        #[command(flatten)]
        common: Common,
        /// File size in bytes (at most 256 MiB: the scenario, its frames and the read-back are
        /// held in memory). Default 4 MiB + 777; with --connections, each connection's file:
        /// default 4 MiB / N rounded up to a multiple of 4 KiB, at least 16 KiB.
        #[arg(long, value_parser = stream_bytes::<usize>, allow_negative_numbers = true)]
        bytes: Option<usize>,
        /// Serve N connections at once: N clients (source ports 40000.., on four client IPs),
        /// each sending its own seeded file (seed derived from --seed and the index) to the
        /// NIC, which listens (no prepared socket: every connection is accepted from the listen
        /// slot); each file lands in its own extent of the disk image and is checked.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=25_536), conflicts_with_all = ["read_back", "image"])]
        connections: Option<u32>,
        /// Payload seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// TCP payload bytes per segment.
        #[arg(long, default_value_t = 1448)]
        mss: usize,
        /// How the NAS writer moves the payload to the disk: p2p (the payload stays in the NIC's
        /// buflets and the block DMA reads it there: 0 payload crossings of host DRAM, only
        /// metadata; record headers are read through the NIC's window), zerocopy (the block
        /// DMA reads the named buffers: 2
        /// host-DRAM crossings per byte), splice (one CPU copy into the page cache: 4), copy
        /// (kernel buffer -> application -> page cache: 6).
        #[arg(long, value_enum, default_value = "zerocopy")]
        mode: ModeArg,
        /// What the client sends: raw (the file as one stream, written at offset 0) or framed
        /// (BFW1 records of seeded sizes at seeded, mostly unaligned, file offsets covering the
        /// file, in a seeded order, with overlapping rewrites of fresh bytes; the NAS reads only
        /// the record headers and writes each record's data zero-copy at its offset).
        #[arg(long, value_enum)]
        protocol: Option<DemoProtocolArg>,
        /// Read the file back (the NAS's answers): the client writes the file as BFW1 records
        /// of 64 KiB, waits for the NAS's WRITE_ACK of each one, reads the whole file back over
        /// the same connection and checks its sha256. The client is then smoltcp (a full TCP,
        /// which receives the NIC's segments) on a clean link, as `buflet peer --read-back`.
        #[arg(long)]
        read_back: bool,
        /// With --read-back: how the NAS picks the pages it writes its answers into (seed
        /// 002): `aware` asks the copy-on-write table, `naive` reuses one page and takes
        /// copy-on-write faults (the bytes sent stay right).
        #[arg(long, value_enum, requires = "read_back")]
        cow: Option<CowArg>,
    },
    /// Replay the frames a server's NIC receives in a pcap capture. The first TCP connection's
    /// client-to-server stream is read as SMB2 (each WRITE's data written zero-copy at its file
    /// offset) when the server port is 445, else written zero-copy as one file at offset 0.
    Replay {
        /// Capture file (classic pcap or pcapng) of Ethernet frames.
        file: PathBuf,
        #[command(flatten)]
        common: Common,
        /// How to read the stream: smb2, framed or raw (default: smb2 when the server port is
        /// 445, raw otherwise).
        #[arg(long, value_enum)]
        protocol: Option<ProtocolArg>,
    },
    /// Run the RTL and the model in lockstep on the same seeded random stimulus and compare every
    /// DMA write, completion, disk write, transmitted frame and counter.
    Cosim(CosimArgs),
    /// smoltcp, an independent TCP implementation, connects to the NIC through a seeded lossy,
    /// reordering, duplicating link and sends N seeded bytes; they must land on disk byte-exact.
    Peer(PeerArgs),
    /// Seeded fault campaign: smoltcp uploads through a link that loses, reorders, duplicates,
    /// corrupts and truncates frames, to a disk that fails, with the peer resetting mid-upload.
    /// Exit 0 when no acknowledged byte was lost, no buflet leaked and every run ended cleanly.
    Faults(FaultsArgs),
    /// Seeded fuzzing: mutated and random frames into the device (frames), or random and
    /// mutated inputs into the capture, SMB2 and BFW1 parsers (parsers). Exit 0 when nothing
    /// panicked, hung, leaked a buflet or miscounted a frame.
    Fuzz {
        /// What to fuzz.
        #[arg(value_enum)]
        target: FuzzTarget,
        /// Which device (frames).
        #[arg(long, default_value = "model")]
        backend: Backend,
        /// Frames (frames) or inputs per parser (parsers).
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
        count: u64,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print one JSON object on one line.
        #[arg(long)]
        json: bool,
    },
    /// Attach the NIC to a Linux TAP interface and serve the kernel's own TCP: connections to
    /// --ip:--port are accepted, each stream lands zero-copy in its own file (an extent of
    /// the disk image), and every finished connection is reported with its sha256. Runs until
    /// interrupted or --exit-after connections have ended.
    Serve(serve::ServeArgs),
    /// Synthesize the design with Yosys (a Xilinx estimate per module at each width) and
    /// place and route the ECP5 board top with nextpnr; write docs/fpga.md and its data, and
    /// print one JSON line (docs/fpga.md).
    Fpga(fpga::FpgaArgs),
    /// Benchmarks that print figures. Alone: every benchmark on both backends, a table, and
    /// CSV files, PNG plots and bench.md in `--out`.
    #[command(args_conflicts_with_subcommands = true)]
    Bench {
        #[command(subcommand)]
        what: Option<BenchCmd>,
        #[command(flatten)]
        all: bench_all::AllArgs,
    },
}

/// What `buflet peer` runs: see [`buflet_testbench::peer`].
#[derive(Args)]
struct PeerArgs {
    /// Which implementation of the device runs.
    #[arg(long, default_value = "model")]
    backend: Backend,
    /// Datapath width in bits.
    #[arg(long, default_value_t = 64)]
    width: u32,
    /// Bytes the peer sends (at most 256 MiB).
    #[arg(long, default_value_t = 1 << 20, value_parser = stream_bytes::<u64>, allow_negative_numbers = true)]
    bytes: u64,
    /// Per-direction loss probability.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    loss: f64,
    /// Per-direction reordering probability.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    reorder: f64,
    /// Per-direction duplication probability.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    dup: f64,
    /// Seed of the payload, the ISS, the peer and the link.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the stream as BFW1 records, wait for the NAS's acknowledgements, read the file
    /// back over the same connection and check it.
    #[arg(long)]
    read_back: bool,
    /// How the NAS picks the pages it writes its answers into (seed 002): `aware` asks the
    /// copy-on-write table, `naive` reuses one page and takes copy-on-write faults.
    #[arg(long, default_value = "aware")]
    cow: buflet_nas::answer::Cow,
    /// Write every frame on the NIC's port (what reached it, what it sent) to this pcap file.
    #[arg(long)]
    pcap_out: Option<std::path::PathBuf>,
    /// How payload moves between the NIC and the disk, in both directions: p2p (the payload
    /// stays in the NIC's buflets: written from them, read back into host buflets and sent
    /// from there, BFW1 headers read through the NIC's window; `--iscsi`: data-out stays in
    /// the NIC, headers are read through its window, data-in is read into host buflets and
    /// sent from there),
    /// zerocopy (2 host-DRAM crossings per byte each way), splice (one CPU copy: 4), copy
    /// (two: 6).
    #[arg(long, value_enum, default_value = "zerocopy")]
    mode: ModeArg,
    /// N smoltcp connections at once (one interface, source ports 40000..), each uploading
    /// its own seeded --bytes (seed derived from --seed and the index) to a NIC that listens;
    /// each lands in its own file and is checked.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=25_536), conflicts_with_all = ["read_back", "pcap_out"])]
    connections: Option<u32>,
    /// Socket slots of the device build (see `buflet demo --sockets`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    sockets: Option<u32>,
    /// Speak iSCSI: the peer is an initiator that logs in to the NIC's iSCSI target, writes
    /// --bytes (a multiple of 4096) with WRITE(10) and reads them back with READ(10).
    #[arg(long, conflicts_with_all = ["read_back", "pcap_out", "connections"])]
    iscsi: bool,
    /// With --iscsi: negotiate HeaderDigest and DataDigest CRC32C; the initiator checks every
    /// digest the target sends (the report's `digests_checked`).
    #[arg(long, requires = "iscsi")]
    digests: bool,
    /// Print one JSON object on one line.
    #[arg(long)]
    json: bool,
}

impl PeerArgs {
    fn opts(&self) -> buflet_testbench::peer::PeerOpts {
        buflet_testbench::peer::PeerOpts {
            backend: self.backend,
            width: self.width,
            bytes: self.bytes,
            loss: self.loss,
            reorder: self.reorder,
            dup: self.dup,
            seed: self.seed,
            read_back: self.read_back,
            cow: self.cow,
            pcap_out: self.pcap_out.clone(),
            mode: self.mode.mode(),
        }
    }
}

/// What `buflet faults` runs: see [`buflet_testbench::faults`].
#[derive(Args)]
struct FaultsArgs {
    /// Which device.
    #[arg(long, default_value = "model")]
    backend: Backend,
    /// Runs, each with its own mix of faults.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Bytes each run's peer sends (at most 256 MiB).
    #[arg(long, default_value_t = 256 << 10, value_parser = stream_bytes::<u64>)]
    bytes: u64,
    /// Seed of the campaign.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object on one line.
    #[arg(long)]
    json: bool,
}

/// `buflet faults`: the campaign's report; exit 0 when no acknowledged byte was lost, no buflet
/// leaked and no run broke.
fn faults(a: &FaultsArgs) -> ExitCode {
    let r = buflet_testbench::faults::run(&buflet_testbench::faults::CampaignOpts {
        backend: a.backend,
        seed: a.seed,
        runs: a.runs,
        bytes: a.bytes,
    });
    if a.json {
        println!("{}", serde_json::to_string(&r).expect("report serializes"));
    } else {
        for run in &r.runs {
            println!(
                "run {:3}  acked {:>9}  lost {}  leaked {}  {}",
                run.run, run.acked, run.acked_lost, run.buflets_leaked, run.outcome
            );
        }
        println!(
            "{} runs: {} verified, {} aborted, {} failed naming the unwritten range, {} broke; acknowledged bytes lost {}, buflets leaked {}",
            r.runs.len(), r.verified, r.aborted, r.failed_named, r.errors, r.acked_lost, r.buflets_leaked
        );
    }
    if r.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What `buflet fuzz` runs.
#[derive(Clone, Copy, clap::ValueEnum)]
enum FuzzTarget {
    /// Mutated and random frames into the device.
    Frames,
    /// Random and mutated inputs into the capture, SMB2 and BFW1 parsers.
    Parsers,
}

/// `buflet fuzz`: print the report; exit 0 when the run held every invariant.
fn fuzz(target: FuzzTarget, backend: Backend, count: u64, seed: u64, json: bool) -> ExitCode {
    use buflet_testbench::fuzz;
    let print = |v: serde_json::Value| {
        if json {
            println!("{v}");
        } else {
            println!(
                "{}",
                serde_json::to_string_pretty(&v).expect("report serializes")
            );
        }
    };
    match target {
        FuzzTarget::Frames => {
            let opts = fuzz::frames::FrameFuzzOpts {
                backend,
                seed,
                frames: count,
            };
            finish(
                json,
                "fuzz",
                Some(backend.name()),
                fuzz::frames::run(&opts),
                |r| {
                    let ok = r.buflets_leaked == 0;
                    let mut v = serde_json::to_value(&r).expect("report serializes");
                    v["passed"] = ok.into();
                    print(v);
                    ok
                },
            )
        }
        FuzzTarget::Parsers => {
            let r = fuzz::parsers::run(seed, count);
            let mut v = serde_json::to_value(&r).expect("report serializes");
            v["passed"] = true.into();
            print(v);
            ExitCode::SUCCESS
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Scratch disk images go on SIGINT/SIGTERM/SIGHUP too, not only when their guards drop.
    if let Err(e) = buflet_platform::scratch::remove_on_signals() {
        eprintln!("buflet: {e}");
        return ExitCode::from(1);
    }
    // One arm per subcommand; each returns the process exit code.
    match cli.cmd {
        Cmd::Demo {
            common,
            bytes,
            seed,
            mss,
            mode,
            protocol,
            read_back,
            cow,
            connections,
        } => {
            if let Some(n) = connections {
                let per = bytes.unwrap_or_else(|| default_connection_bytes(n as usize));
                demo_connections(
                    common,
                    n as usize,
                    per,
                    seed,
                    mss,
                    mode.mode(),
                    protocol.unwrap_or(DemoProtocolArg::Raw),
                )
            } else if read_back {
                let bytes = bytes.unwrap_or(DEMO_BYTES);
                demo_read_back(common, bytes, seed, mss, mode.mode(), protocol, cow)
            } else {
                demo(
                    common,
                    bytes.unwrap_or(DEMO_BYTES),
                    seed,
                    mss,
                    mode.mode(),
                    protocol.unwrap_or(DemoProtocolArg::Raw),
                )
            }
        }
        Cmd::Replay {
            file,
            common,
            protocol,
        } => replay(&file, common, protocol),
        Cmd::Cosim(a) => cosim(&a),
        Cmd::Peer(a) if a.iscsi => peer_iscsi(&a.opts(), a.digests, a.json),
        Cmd::Peer(a) => match a.connections {
            Some(n) => peer_many(&a.opts(), n as usize, a.sockets, a.json),
            None => peer(&a.opts(), a.json),
        },
        Cmd::Fuzz {
            target,
            backend,
            count,
            seed,
            json,
        } => fuzz(target, backend, count, seed, json),
        Cmd::Faults(a) => faults(&a),
        Cmd::Serve(a) => serve::run(&a),
        Cmd::Bench {
            what: Some(BenchCmd::Lookup(a)),
            ..
        } => bench_lookup(&a),
        Cmd::Bench {
            what: Some(BenchCmd::Rate(a)),
            ..
        } => bench_rate(&a),
        Cmd::Bench {
            what: Some(BenchCmd::Linerate(a)),
            ..
        } => bench_linerate(&a),
        Cmd::Bench {
            what: Some(BenchCmd::Simspeed(a)),
            ..
        } => bench_simspeed(&a),
        Cmd::Bench { what: None, all } => bench_all::run(&all),
        Cmd::Fpga(a) => fpga::run(&a),
    }
}

/// A failure before or instead of a report: one line on stderr and, under `--json`, the one
/// JSON object the run promises (`passed` and `verified` false, `error` the message).
fn fail(json: bool, cmd: &str, backend: Option<&str>, msg: &str, code: u8) -> ExitCode {
    if json {
        let mut o = serde_json::json!({
            "command": cmd,
            "passed": false,
            "verified": false,
            "error": msg,
        });
        if let Some(b) = backend {
            o["backend"] = b.into();
        }
        println!("{o}");
    }
    eprintln!("buflet {cmd}: {msg}");
    ExitCode::from(code)
}

/// The exit code of a subcommand's run: 0 when `report` (which prints the report) says it
/// passed, 1 when it did not or the run could not finish ([`fail`]).
fn finish<R, E: std::fmt::Display>(
    json: bool,
    cmd: &str,
    backend: Option<&str>,
    result: Result<R, E>,
    report: impl FnOnce(R) -> bool,
) -> ExitCode {
    match result.map(report) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => fail(json, cmd, backend, &e.to_string(), 1),
    }
}

/// What `buflet cosim` runs: see [`buflet_testbench::cosim`].
#[derive(Args)]
struct CosimArgs {
    /// Seed of case 0 (case k uses seed + k).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of cases (at least 1).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    cases: u32,
    /// RTL datapath width (a built width: 64 or 512).
    #[arg(long, default_value_t = 64)]
    width: u32,
    /// Print one JSON object on one line.
    #[arg(long)]
    json: bool,
    /// When a case mismatches (the first one that does), re-run it and write into DIR (created
    /// if missing): rtl.csv and model.csv, each side's compared transactions up to the end of
    /// the mismatching step (index, step, kind, cycle, address, length, hash of the bytes, ...),
    /// side_by_side.csv (both joined on the index, with a `match` column), and waves.fst, the
    /// RTL's waveform around the first mismatching transaction, with its GTKWave view
    /// waves.gtkw. Nothing is written when every case agrees.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// Cycles of the dump's waveform before the first mismatching transaction's cycle (a
    /// quarter as many follow it).
    #[arg(long, requires = "dump", default_value_t = buflet_testbench::cosim::dump::DEFAULT_DUMP_CYCLES, value_parser = clap::value_parser!(u64).range(1..))]
    dump_cycles: u64,
    /// Write a waveform of the RTL side of case 0 here (only case 0: trace case k with --seed
    /// SEED+k --cases 1), FST with its GTKWave view (.gtkw) beside it; VCD from an RTL built
    /// with BUFLET_TRACE=vcd. Cycles count from the device's reset.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// The waveform's first cycle (with --trace).
    #[arg(long, requires = "trace", default_value_t = 0)]
    trace_from: u64,
    /// Cycles the waveform holds from --trace-from (default: to the end of case 0).
    #[arg(long, requires = "trace", value_parser = clap::value_parser!(u64).range(1..))]
    trace_cycles: Option<u64>,
    /// Write every step of every case here as CSV: seed, step, kind, model and RTL cycles,
    /// their error in percent and the step's description (where the model's timing is off).
    #[arg(long, value_name = "FILE")]
    steps_csv: Option<PathBuf>,
    /// Test hook: change the model's transaction of this index (in comparison order, the
    /// `index` of the dump's CSVs) of case 0 before it is compared, to provoke a mismatch.
    #[arg(long, hide = true, value_name = "INDEX")]
    test_perturb: Option<u64>,
}

/// `buflet cosim`: exit 0 only when no case diverged.
fn cosim(a: &CosimArgs) -> ExitCode {
    use buflet_testbench::cosim::{self, dump, CosimOpts, DumpOpts, Perturb, Waves};
    let json = a.json;
    let opts = CosimOpts {
        seed: a.seed,
        cases: a.cases,
        width: a.width,
        dump: a.dump.clone().map(|dir| DumpOpts {
            dir,
            cycles: a.dump_cycles,
        }),
        trace: a.trace.clone().map(|path| Waves {
            path,
            from: a.trace_from,
            cycles: a.trace_cycles,
        }),
        steps_csv: a.steps_csv.clone(),
        perturb: a.test_perturb.map(|index| Perturb { case: 0, index }),
    };
    // the GTKWave views beside the waveforms (an FST's only)
    let result = cosim::run(&opts).map_err(|e| e.to_string()).and_then(|r| {
        let waves = r.dumped.as_ref().and_then(|d| dump::waves_path(&d.dir));
        for w in [&a.trace, &waves] {
            with_view(w).map_err(|e| e.to_string())?;
        }
        Ok(r)
    });
    finish(json, "cosim", None, result, |r| {
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
            println!(
                "cycle error per step ({} steps): median {:.2}%  p95 {:.2}%  worst {:.2}%  ({} steps the model only)  per case: median {:.2}%  worst {:.2}%",
                r.steps_timed,
                r.step_error_pct_median,
                r.step_error_pct_p95,
                r.step_error_pct_max,
                r.steps_model_only,
                r.case_error_pct_median,
                r.case_error_pct_max
            );
            println!(
                "cycle error per data transaction, from its step's start ({} transactions): median {:.2}%  p95 {:.2}%  worst {:.2}%",
                r.txns_timed, r.txn_error_pct_median, r.txn_error_pct_p95, r.txn_error_pct_max
            );
            for (kind, e) in &r.txn_error_by_kind {
                println!(
                    "  {kind:<14} {:>7} transactions  median {:>6.2}%  p95 {:>7.2}%  worst {:>7.2}%  model-rtl {:+} cycles",
                    e.steps, e.median_pct, e.p95_pct, e.max_pct, e.excess_cycles
                );
            }
            println!("cycle error per step, by kind of step:");
            for (kind, e) in &r.step_error_by_kind {
                println!(
                    "  {kind:<14} {:>7} steps  median {:>6.2}%  p95 {:>7.2}%  worst {:>7.2}%  model-rtl {:+} cycles",
                    e.steps, e.median_pct, e.p95_pct, e.max_pct, e.excess_cycles
                );
            }
        }
        if let Some(m) = &r.first_mismatch {
            eprintln!("buflet cosim: first divergence:\n{m}");
        }
        if let Some(d) = &r.dumped {
            let mut files: Vec<String> = d.files.iter().map(|f| f.display().to_string()).collect();
            let view = dump::waves_path(&d.dir).map(|w| w.with_extension("gtkw"));
            files.extend(view.filter(|v| v.exists()).map(|v| v.display().to_string()));
            let waves = match dump::waves_path(&d.dir) {
                Some(_) => format!("RTL cycles {}..={}", d.window.0, d.window.1),
                None => "no waveform: the RTL was built with BUFLET_TRACE=0".into(),
            };
            eprintln!(
                "buflet cosim: dumped the case with seed {} (first mismatch: transaction {}, RTL cycle {}; {waves}): {}",
                d.seed,
                d.index,
                d.cycle,
                files.join(", ")
            );
        } else if let Some(dir) = &a.dump {
            eprintln!(
                "buflet cosim: no case mismatched: nothing dumped to {}",
                dir.display()
            );
        }
        r.mismatches == 0
    })
}

/// `buflet peer`: exit 0 only when the stream landed byte-exact.
fn peer(opts: &buflet_testbench::peer::PeerOpts, json: bool) -> ExitCode {
    let result = buflet_testbench::peer::run(opts);
    finish(json, "peer", Some(opts.backend.name()), result, |r| {
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
        r.verified
    })
}

/// `buflet peer --iscsi`: exit 0 only when the file read back and on disk match.
fn peer_iscsi(opts: &buflet_testbench::peer::PeerOpts, digests: bool, json: bool) -> ExitCode {
    let result = if digests {
        buflet_testbench::peer::iscsi::run_digests(opts)
    } else {
        buflet_testbench::peer::iscsi::run(opts)
    };
    finish(json, "peer", Some(opts.backend.name()), result, |r| {
        if json {
            let mut v = serde_json::to_value(&r).expect("report serializes");
            v["command"] = "peer".into();
            println!("{v}");
        } else {
            println!(
                "backend {}  iSCSI ({}): {} bytes written and read back, verified {}; {} commands, {} R2Ts, {} Data-In PDUs; {:.3} / {:.3} host-DRAM crossings per byte written / read; {} cycles",
                r.backend,
                r.mode,
                r.bytes,
                r.verified,
                r.commands,
                r.r2ts,
                r.data_in_pdus,
                r.write_dram_crossings_per_byte,
                r.read_dram_crossings_per_byte,
                r.cycles
            );
        }
        for f in r.failures.iter().take(16) {
            eprintln!("buflet: {f}");
        }
        r.passed
    })
}

/// `buflet peer --connections N`: exit 0 only when every connection landed byte-exact.
fn peer_many(
    opts: &buflet_testbench::peer::PeerOpts,
    n: usize,
    sockets: Option<u32>,
    json: bool,
) -> ExitCode {
    let result = buflet_testbench::peer::many::run_many(opts, n, sockets);
    finish(json, "peer", Some(opts.backend.name()), result, |r| {
        if json {
            let mut v = serde_json::to_value(&r).expect("report serializes");
            v["command"] = "peer".into();
            println!("{v}");
        } else {
            print_connections(&r.connections);
            println!(
                "backend {}  {} of {} connections verified, {} bytes; {} accepts, {} LISTEN_FULL drops, {:.3} lookup cycles per frame; peer retransmitted {} segments; link dropped {} frames to the NIC, {} to the peer; {} cycles, {:.1} simulated ms",
                r.backend,
                r.connections_verified,
                r.connection_count,
                r.bytes,
                r.accepts,
                r.listen_full_drops,
                r.lookup_cycles_per_frame,
                r.peer_retransmissions,
                r.link.to_nic.dropped,
                r.link.to_peer.dropped,
                r.cycles,
                r.sim_time_ms
            );
        }
        for f in r.failures.iter().take(16) {
            eprintln!("buflet: {f}");
        }
        r.passed
    })
}

/// `buflet demo --read-back`: the seeded file written as BFW1 records by smoltcp on a clean
/// link, acknowledged by the NAS, read back and checked (`buflet peer --read-back`'s run).
fn demo_read_back(
    common: Common,
    bytes: usize,
    seed: u64,
    mss: usize,
    mode: WriteMode,
    protocol: Option<DemoProtocolArg>,
    cow: Option<CowArg>,
) -> ExitCode {
    let refuse = |msg: &str| fail(common.json, "demo", Some(common.backend.name()), msg, 2);
    let unsupported = [
        (common.image.is_some(), "--image"),
        (common.trace.is_some(), "--trace"),
        (common.disk_error_rate > 0.0, "--disk-error-rate"),
        (matches!(common.disk, DiskArg::Scsi), "--disk scsi"),
        (
            mss != 1448,
            "--mss (smoltcp's MSS is 1460, from its 1500-byte MTU)",
        ),
        (
            matches!(protocol, Some(DemoProtocolArg::Raw)),
            "--protocol raw (a read-back is BFW1 records)",
        ),
    ];
    if let Some((_, what)) = unsupported.iter().find(|u| u.0) {
        return refuse(&format!("--read-back does not take {what}"));
    }
    let opts = buflet_testbench::peer::PeerOpts {
        backend: common.backend,
        width: common.width,
        bytes: bytes as u64,
        loss: 0.0,
        reorder: 0.0,
        dup: 0.0,
        seed,
        read_back: true,
        cow: cow.map_or_else(Default::default, CowArg::cow),
        pcap_out: common.pcap_out.clone(),
        mode,
    };
    let result = buflet_testbench::peer::run(&opts);
    finish(
        common.json,
        "demo",
        Some(opts.backend.name()),
        result,
        |r| {
            if common.json {
                println!("{}", serde_json::to_string(&r).expect("report serializes"));
            } else {
                print_read_back(&r);
            }
            r.verified
        },
    )
}

/// The human report of a read-back.
fn print_read_back(r: &buflet_testbench::peer::PeerReport) {
    let x = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "backend {}  bytes {}  mode {}  cow {}  verified {}",
        r.backend,
        r.bytes,
        r.mode,
        serde_json::to_value(r.cow)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        r.verified
    );
    println!("  written  sha256 {}  (on disk)", r.disk_sha256);
    println!(
        "  read back sha256 {}",
        r.read_sha256.as_deref().unwrap_or("-")
    );
    println!(
        "  write acks {}  read bytes {}  host-DRAM crossings per byte: write {}  read {}",
        r.write_acks,
        r.read_bytes,
        x(r.dram_crossings_per_byte),
        x(r.read_dram_crossings_per_byte)
    );
    println!(
        "  NIC sent {} data segments, {} retransmitted ({} timeouts, {} fast retransmits); copy-on-write faults {}, table peak {} pages; CPU copied {} bytes; {} cycles",
        r.tx_segs,
        r.tx_retransmits,
        r.tx_timeouts,
        r.tx_fast_retransmits,
        r.cow_faults,
        r.cow_table_peak,
        r.cpu_copied_bytes,
        r.cycles
    );
}

/// Why `demo` refuses its options, if it does (with one connection or many).
fn demo_refusal(mss: usize) -> Option<&'static str> {
    if mss == 0 || mss > 8960 {
        return Some("--mss must be 1..=8960");
    }
    None
}

/// `buflet demo`: the seeded stream, sent by a client paced by the NIC's ACKs.
fn demo(
    common: Common,
    bytes: usize,
    seed: u64,
    mss: usize,
    mode: WriteMode,
    protocol: DemoProtocolArg,
) -> ExitCode {
    if let Some(why) = demo_refusal(mss) {
        return fail(common.json, "demo", Some(common.backend.name()), why, 2);
    }
    let (isn, iss) = frames::demo_isn_iss(seed);
    let sc = match protocol {
        DemoProtocolArg::Raw => Scenario::demo(frames::payload(seed, bytes), mss, isn, iss),
        DemoProtocolArg::Framed => {
            Scenario::framed(&framed_demo_records(seed, bytes), mss, isn, iss)
        }
    };
    run_scenario(&sc, &common, "/nas/demo.bin", mode)
}

/// The demo's file size without --connections.
const DEMO_BYTES: usize = 4 * 1024 * 1024 + 777;

/// Each connection's file size with `--connections n` and no --bytes: 4 MiB / n rounded up to a
/// multiple of 4 KiB, at least 16 KiB.
fn default_connection_bytes(n: usize) -> usize {
    (4usize << 20)
        .div_ceil(n.max(1))
        .next_multiple_of(4096)
        .max(16 << 10)
}

/// The device configuration of `common`: the default build at its width, or the build with
/// `--sockets` slots.
fn device_config(common: &Common) -> buflet_platform::DeviceConfig {
    let mut cfg = match common.sockets {
        Some(s) => buflet_platform::DeviceConfig::with_sockets(common.width, s),
        None => buflet_platform::DeviceConfig::with_width(common.width),
    };
    if let Some(g) = common.line_gbps {
        cfg.line_gbps = g;
    }
    cfg
}

/// `buflet demo --connections N`: N clients, each with its own seeded file, interleaved on one
/// NIC that listens; every file is checked.
fn demo_connections(
    common: Common,
    n: usize,
    bytes: usize,
    seed: u64,
    mss: usize,
    mode: WriteMode,
    protocol: DemoProtocolArg,
) -> ExitCode {
    let refuse = |msg: &str| fail(common.json, "demo", Some(common.backend.name()), msg, 2);
    if let Some(why) = demo_refusal(mss) {
        return refuse(why);
    }
    let unsupported = [
        (common.trace.is_some(), "--trace"),
        (matches!(common.disk, DiskArg::Scsi), "--disk scsi"),
        (common.disk_error_rate > 0.0, "--disk-error-rate"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|u| u.0) {
        return refuse(&format!("--connections does not take {what}"));
    }
    let scs: Vec<Scenario> = (0..n)
        .map(|i| {
            let s = frames::connection_seed(seed, i);
            let (isn, _) = frames::demo_isn_iss(s);
            let client = frames::Client::nth(i);
            match protocol {
                DemoProtocolArg::Raw => {
                    Scenario::demo_from(&client, frames::payload(s, bytes), mss, isn, 0)
                }
                DemoProtocolArg::Framed => Scenario::demo_from(
                    &client,
                    framed_stream(&framed_demo_records(s, bytes)),
                    mss,
                    isn,
                    0,
                )
                .with_protocol(Protocol::Framed),
            }
        })
        .collect();
    let mut run = match run_options(&common, "/nas/demo.bin", mode) {
        Ok(r) => r,
        Err(code) => return code,
    };
    run.image = None;
    let listen_iss = 0x5eed_0001u32 ^ (seed as u32).rotate_left(16);
    let opt_mss = (mss + frames::DATA_OPTION_BYTES).min(65535) as u16;
    let opt = MultiOptions::listening(run, listen_iss, opt_mss);
    run_connections(scs, &opt, &common, "demo")
}

/// Run many connections and print the report: exit 0 only when every connection verified.
fn run_connections(scs: Vec<Scenario>, opt: &MultiOptions, common: &Common, cmd: &str) -> ExitCode {
    let result = run_multi(scs, opt);
    finish(common.json, cmd, Some(common.backend.name()), result, |r| {
        if common.json {
            let mut v = serde_json::to_value(&r).expect("report serializes");
            v["command"] = cmd.into();
            println!("{v}");
        } else {
            human_multi(&r);
        }
        for f in r.failures.iter().take(16) {
            eprintln!("buflet: {f}");
        }
        r.passed
    })
}

/// The human report of many connections: one line per connection up to 16, then totals.
fn human_multi(r: &MultiReport) {
    println!(
        "backend {} ({}-bit), {} sockets, protocol {}, {} connections ({} sockets)",
        r.backend,
        r.data_width,
        r.sockets,
        r.protocol.name(),
        r.connection_count,
        r.sockets_from
    );
    print_connections(&r.connections);
    println!(
        "totals: {} of {} connections verified, {} bytes; {} accepts, {} LISTEN_FULL drops, {:.3} lookup cycles per frame; {} frames sent ({} retransmitted); {} cycles, {:.2} s wall; {}/{} buflets free",
        r.connections_verified,
        r.connection_count,
        r.bytes,
        r.accepts,
        r.listen_full_drops,
        r.lookup_cycles_per_frame,
        r.frames_sent,
        r.retransmits,
        r.cycles,
        r.wall_seconds,
        r.buflets_free_end,
        r.num_buflets
    );
}

/// `buflet replay`: a capture's server-bound frames, paced by the NIC's ACKs.
fn replay(file: &std::path::Path, common: Common, protocol: Option<ProtocolArg>) -> ExitCode {
    let caps = match pcap::load_all(file) {
        Ok(c) => c,
        Err(e) => {
            return fail(
                common.json,
                "replay",
                Some(common.backend.name()),
                &e.to_string(),
                1,
            )
        }
    };
    let mut scs = Scenario::replay_all(caps);
    for sc in &mut scs {
        match protocol {
            Some(ProtocolArg::Smb2) => sc.protocol = Protocol::Smb2,
            Some(ProtocolArg::Framed) => sc.protocol = Protocol::Framed,
            Some(ProtocolArg::Raw) => sc.protocol = Protocol::Raw,
            None => {}
        }
    }
    if scs.len() == 1 {
        return run_scenario(&scs[0], &common, "/nas/upload.bin", WriteMode::ZeroCopy);
    }
    // Several connections: one prepared socket each, with its own ISS (the capture's server
    // ISN, so the capture's ACKs are valid), each connection into its own file.
    let unsupported = [
        (common.image.is_some(), "--image"),
        (common.trace.is_some(), "--trace"),
        (matches!(common.disk, DiskArg::Scsi), "--disk scsi"),
        (common.disk_error_rate > 0.0, "--disk-error-rate"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|u| u.0) {
        return fail(
            common.json,
            "replay",
            Some(common.backend.name()),
            &format!(
                "a capture of {} connections does not take {what}",
                scs.len()
            ),
            2,
        );
    }
    let run = match run_options(&common, "/nas/upload.bin", WriteMode::ZeroCopy) {
        Ok(r) => r,
        Err(code) => return code,
    };
    run_connections(scs, &MultiOptions::prepared(run), &common, "replay")
}

/// The run options of `common` (an exit code when they are refused).
fn run_options(common: &Common, file_path: &str, mode: WriteMode) -> Result<RunOptions, ExitCode> {
    if ![64, 128, 256, 512].contains(&common.width) {
        return Err(fail(
            common.json,
            "run",
            Some(common.backend.name()),
            "--width must be 64, 128, 256 or 512",
            2,
        ));
    }
    let mut opt = RunOptions::new(common.backend, common.width);
    opt.config = device_config(common);
    opt.image = common.image.clone();
    opt.force = common.force;
    opt.trace = common.trace.clone();
    opt.trace_from = common.trace_from;
    opt.trace_cycles = common.trace_cycles;
    opt.pcap_out = common.pcap_out.clone();
    opt.disk = match common.disk {
        DiskArg::Direct => buflet_platform::DiskMode::Direct,
        DiskArg::Scsi => buflet_platform::DiskMode::Scsi,
    };
    if common.image.is_some() {
        opt.fs = Some(match common.fs {
            FsArg::Ext2 => FsKind::Ext2,
            FsArg::Ext4 => FsKind::Ext4,
        });
        opt.file_path = common
            .file_path
            .clone()
            .unwrap_or_else(|| file_path.to_string());
    }
    opt.disk_error_rate = common.disk_error_rate;
    opt.mode = mode;
    opt.error_seed = common.error_seed;
    Ok(opt)
}

/// Run a scenario with the common options and print its report: exit 0 only when the disk
/// holds the source bytes and nothing else failed (buflets all free after SOCK_DEL, ...).
fn run_scenario(sc: &Scenario, common: &Common, file_path: &str, mode: WriteMode) -> ExitCode {
    let mut opt = match run_options(common, file_path, mode) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let bar = (!common.json).then(|| {
        let b = ProgressBar::new(0);
        b.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} on disk ({bytes_per_sec})").expect("valid template"));
        b
    });
    if let Some(b) = &bar {
        let b = b.clone();
        opt.progress = Some(Rc::new(move |done, total| {
            b.set_length(total);
            b.set_position(done);
        }));
    }
    let result = run_stream(sc, &opt).and_then(|r| {
        with_view(&opt.trace)?;
        Ok(r)
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    finish(
        common.json,
        "run",
        Some(common.backend.name()),
        result,
        |r| {
            if common.json {
                println!("{}", serde_json::to_string(&r).expect("report serializes"));
            } else {
                human(&r);
            }
            for f in &r.failures {
                eprintln!("buflet: {f}");
            }
            r.passed
        },
    )
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
    println!(
        "write mode         {} ({} payload bytes copied by the CPU)",
        r.mode.name(),
        r.cpu_copied_bytes
    );
    println!("DRAM crossings     {:.4} per payload byte ({} bytes: NIC wrote {}, NIC read {}, block DMA read {}, CPU read {}, CPU wrote {})", r.dram_crossings_per_byte, r.host_dram_bytes, r.nic_dma_written, r.nic_dma_read, r.blk_dma_read, r.cpu_read, r.cpu_written);
    if r.mode == WriteMode::P2p {
        println!(
            "p2p                {} hold records, {} chains released, {} bytes read by the block engine from buflet memory",
            r.hold_records, r.chains_released, r.blk_dev_bytes
        );
    }
    println!(
        "disk               {} block writes, {} block reads",
        r.disk_writes, r.disk_reads
    );
    if r.disk_error_rate > 0.0 {
        println!(
            "disk errors        rate {}: {} block operations retried, {} failed",
            r.disk_error_rate, r.write_retries, r.write_failures
        );
    }
    if r.protocol == Protocol::Smb2 {
        println!(
            "SMB2               {} WRITE requests in {} messages ({} other commands skipped); file {} bytes",
            r.smb2_writes, r.smb2_messages, r.smb2_skipped, r.payload_bytes
        );
    }
    if r.protocol == Protocol::Framed {
        println!(
            "BFW1               {} records, {} data bytes; file {} bytes; {} blocks read-modify-written",
            r.framed_records, r.framed_record_bytes, r.payload_bytes, r.rmw_blocks
        );
    }
    if let Some(u) = &r.unsupported {
        println!("unsupported        {u}");
    }
    if let Some(e) = &r.stream_error {
        println!("stream error       {e}");
    }
    if let (Some(fs), Some(p)) = (&r.fs, &r.file_path) {
        println!("file system        {} on {}, file {p}", fs.name(), r.image);
        println!(
            "e2fsck -fn         {}",
            match (r.fsck_clean, &r.fsck_summary) {
                (Some(true), Some(s)) => format!("clean ({s})"),
                (_, Some(s)) => format!("ERRORS: {s}"),
                _ => "not run".into(),
            }
        );
        println!(
            "debugfs cat sha256 {}",
            r.debugfs_sha256.as_deref().unwrap_or("-")
        );
    }
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

#[derive(Subcommand)]
enum BenchCmd {
    /// The socket lookup's cost in cycles per walk of a hash chain as live sockets are added
    /// (the device's CNT_LOOKUP_CYCLES / (CNT_LOOKUPS - CNT_LOOKUP_FWD)): 1, 64, 1,024 and
    /// 4,096 live sockets in the RTL's 4,096-socket build, up to 65,536 in the model's.
    Lookup(LookupArgs),
    /// Receive rate by frame size: back-to-back valid TCP frames of one connection through the
    /// driver, named buffers always posted; cycles per frame until the payload is in host
    /// memory, the rate at the device clock, and the cycles per frame 100 GbE needs.
    Rate(RateArgs),
    /// One frame size at line rate: back-to-back valid TCP frames of `--frame-bytes`, every
    /// payload byte checked in host memory; cycles per frame and the rate at 250 MHz.
    Linerate(LinerateArgs),
    /// Simulation speed: Verilated NIC cycles per host second idle and under traffic, the
    /// ratio to Icarus Verilog on the same top and recorded stimulus, and the model's payload
    /// Gbit/s per host second.
    Simspeed(SimspeedArgs),
}

#[derive(Args)]
struct SimspeedArgs {
    /// Idle cycles the Verilated NIC runs.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1000..=1_000_000_000))]
    idle_cycles: u64,
    /// 1,500-byte frames of the Verilated traffic run.
    #[arg(long, default_value_t = 4000, value_parser = clap::value_parser!(u64).range(10..=10_000_000))]
    frames: u64,
    /// Idle cycles and frames recorded and replayed in Icarus Verilog.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    icarus_idle_cycles: u64,
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    icarus_frames: u64,
    /// 1,500-byte frames of the model's run.
    #[arg(long, default_value_t = buflet_testbench::simspeed::MODEL_FRAMES, value_parser = clap::value_parser!(u64).range(10..=10_000_000))]
    model_frames: u64,
    /// Print one JSON object on one line.
    #[arg(long)]
    json: bool,
}

/// `buflet bench simspeed`: exit 0 when Icarus agreed with Verilator on both stimuli.
fn bench_simspeed(a: &SimspeedArgs) -> ExitCode {
    let o = buflet_testbench::simspeed::SimSpeedOpts {
        idle_cycles: a.idle_cycles,
        frames: a.frames,
        icarus_idle_cycles: a.icarus_idle_cycles,
        icarus_frames: a.icarus_frames,
        model_frames: a.model_frames,
    };
    let r = buflet_testbench::simspeed::measure(&o);
    finish(a.json, "bench simspeed", None, r, |s| {
        if a.json {
            let mut v = serde_json::to_value(&s).expect("figures serialize");
            v["command"] = "bench simspeed".into();
            v["passed"] = s.icarus_agrees.into();
            println!("{v}");
        } else {
            println!(
                "RTL ({} bits, Verilator): {:.0} cycles/s idle, {:.0} cycles/s under 1,500 B frames",
                s.width, s.rtl_cycles_per_s_idle, s.rtl_cycles_per_s_traffic
            );
            println!(
                "Icarus ({}): {:.0} cycles/s idle, {:.0} under traffic; Verilator is {:.1}x and {:.1}x faster; outputs agree: {}",
                s.icarus_version,
                s.icarus_cycles_per_s_idle,
                s.icarus_cycles_per_s_traffic,
                s.icarus_ratio_idle,
                s.icarus_ratio_traffic,
                s.icarus_agrees
            );
            println!(
                "model: {:.2} Gbit/s of payload per host second ({:.0} cycles/s)",
                s.model_payload_gbps_per_s, s.model_cycles_per_s
            );
        }
        if !s.icarus_agrees {
            eprintln!("buflet bench simspeed: Icarus's outputs differ from Verilator's on the same stimulus");
        }
        s.icarus_agrees
    })
}

#[derive(Args)]
struct LinerateArgs {
    /// Which implementation of the device runs.
    #[arg(long, default_value = "model")]
    backend: Backend,
    /// Datapath width in bits.
    #[arg(long, default_value_t = 64)]
    width: u32,
    /// Ethernet frame size in bytes, FCS included.
    #[arg(long, value_parser = clap::value_parser!(u32).range(59..=9220))]
    frame_bytes: u32,
    /// Data frames.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    frames: u64,
    /// The rate the wire feeds the MAC at, Gbit/s (default: far above what the NIC takes).
    #[arg(long, default_value_t = buflet_testbench::rate_bench::DEFAULT_LINE_GBPS)]
    line_gbps: f64,
    /// Write a waveform of the RTL to this file (FST; VCD from a BUFLET_TRACE=vcd build).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Print one JSON object on one line.
    #[arg(long)]
    json: bool,
}

/// After a run with `--trace FILE.fst`: the GTKWave view beside it (`waves_view`), grouped by
/// module. A VCD (from a `BUFLET_TRACE=vcd` build) gets none.
fn with_view(trace: &Option<PathBuf>) -> Result<(), buflet_testbench::TbError> {
    match trace {
        Some(p) if p.extension().is_some_and(|e| e == "fst") && p.exists() => {
            waves_view::write_view(p).map_err(|msg| buflet_testbench::TbError::Input {
                path: p.with_extension("gtkw").display().to_string(),
                msg,
            })?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `buflet bench linerate`: exit 0 only when every payload byte landed in order.
fn bench_linerate(a: &LinerateArgs) -> ExitCode {
    let size = a.frame_bytes as usize;
    let cap = buflet_testbench::rate_bench::Capture {
        stimulus: None,
        trace: a.trace.clone(),
    };
    let r = buflet_testbench::rate_bench::measure_recorded(
        a.backend,
        a.width,
        size,
        a.frames,
        a.line_gbps,
        &cap,
    )
    .and_then(|p| {
        with_view(&a.trace)?;
        Ok(p)
    });
    finish(a.json, "bench linerate", Some(a.backend.name()), r, |p| {
        if a.json {
            let mut v = serde_json::to_value(&p).expect("point serializes");
            v["command"] = "bench linerate".into();
            v["passed"] = p.verified.into();
            println!("{v}");
        } else {
            println!(
                "{} {} bits, {} B frames: {:.2} cycles/frame, {:.2} Mpps and {:.2} Gbit/s of wire at 250 MHz (100 GbE needs {:.2} cycles/frame at {} MHz); {} drops; verified {}",
                p.backend,
                p.width,
                p.frame_bytes,
                p.cycles_per_frame,
                p.mpps_at_250mhz,
                p.wire_gbps_at_250mhz,
                p.cycles_per_frame_100g,
                p.clock_mhz,
                p.drops,
                p.verified
            );
        }
        p.verified
    })
}

#[derive(Args)]
struct RateArgs {
    /// Which implementation of the device runs.
    #[arg(long, default_value = "model")]
    backend: Backend,
    /// Datapath width in bits.
    #[arg(long, default_value_t = 64)]
    width: u32,
    /// Ethernet frame sizes in bytes, FCS included (default 64,128,256,512,1024,1500,9000).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(59..=9220))]
    sizes: Vec<u32>,
    /// Data frames per size.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    frames: u64,
    /// The rate the wire feeds the MAC at, Gbit/s (default: far above what the NIC takes, so
    /// the NIC sets the rate; 100 shows 100 GbE).
    #[arg(long, default_value_t = buflet_testbench::rate_bench::DEFAULT_LINE_GBPS)]
    line_gbps: f64,
    /// Also write the points to this CSV file (written once every size was measured).
    #[arg(long)]
    csv: Option<std::path::PathBuf>,
    /// Also plot cycles per frame against what 100 GbE needs into this PNG file.
    #[arg(long)]
    png: Option<std::path::PathBuf>,
    /// Print one JSON object on one line.
    #[arg(long)]
    json: bool,
}

/// Plot the rate sweep: cycles per frame measured and what 100 GbE needs, by frame size.
fn plot_rate(
    path: &std::path::Path,
    title: &str,
    points: &[buflet_testbench::rate_bench::RatePoint],
) -> Result<(), String> {
    let xy = |f: fn(&buflet_testbench::rate_bench::RatePoint) -> f64| {
        points
            .iter()
            .map(|p| (p.frame_bytes as f64, f(p)))
            .collect::<Vec<_>>()
    };
    plots::lines(
        path,
        title,
        "frame bytes (FCS included)",
        "device cycles per frame",
        &[
            plots::Series {
                name: "measured".into(),
                color: plots::PALETTE[0],
                points: xy(|p| p.cycles_per_frame),
            },
            plots::Series {
                name: "100 GbE needs".into(),
                color: plots::PALETTE[1],
                points: xy(|p| p.cycles_per_frame_100g),
            },
        ],
    )
}

fn bench_rate(a: &RateArgs) -> ExitCode {
    use buflet_testbench::rate_bench::{measure, DEFAULT_SIZES};
    let sizes: Vec<usize> = if a.sizes.is_empty() {
        DEFAULT_SIZES.to_vec()
    } else {
        a.sizes.iter().map(|&s| s as usize).collect()
    };
    let backend = Some(a.backend.name());
    let mut points = Vec::new();
    if !a.json {
        println!(
            "{} {} bits: frame bytes, cycles/frame, Mpps, Gbit/s at the device clock, cycles/frame 100 GbE needs",
            a.backend.name(),
            a.width
        );
    }
    for &size in &sizes {
        match measure(a.backend, a.width, size, a.frames, a.line_gbps) {
            Ok(p) => {
                if !a.json {
                    println!(
                        "{:>6} B  {:>8.2} cycles/frame  {:>7.2} Mpps  {:>7.2} Gbit/s at {} MHz  (100 GbE: {:.2})  {} drops  verified {}",
                        p.frame_bytes,
                        p.cycles_per_frame,
                        p.mpps,
                        p.gbps,
                        p.clock_mhz,
                        p.cycles_per_frame_100g,
                        p.drops,
                        p.verified
                    );
                }
                points.push(p);
            }
            Err(e) => return fail(a.json, "bench rate", backend, &e.to_string(), 1),
        }
    }
    // The files, each written whole once every size is measured (removed on a failure).
    let title = format!(
        "Buflet receive rate, {} at {} bits, {} MHz",
        a.backend.name(),
        a.width,
        points.first().map_or(0, |p| p.clock_mhz)
    );
    let csv_out = |path: &std::path::Path| {
        csv::Writer::from_path(path)
            .and_then(|mut w| {
                for p in &points {
                    w.serialize(p)?;
                }
                w.flush().map_err(csv::Error::from)
            })
            .map_err(|e| e.to_string())
    };
    type Out<'a> = &'a dyn Fn(&std::path::Path) -> Result<(), String>;
    let outputs: [(Option<&std::path::PathBuf>, Out); 2] = [
        (a.csv.as_ref(), &csv_out),
        (a.png.as_ref(), &|path| plot_rate(path, &title, &points)),
    ];
    for (path, write) in outputs {
        let Some(path) = path else {
            continue;
        };
        if let Err(e) = write(path) {
            let _ = std::fs::remove_file(path);
            return fail(
                a.json,
                "bench rate",
                backend,
                &format!("writing {}: {e}", path.display()),
                1,
            );
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "command": "bench rate",
                "backend": a.backend.name(),
                "width": a.width,
                "passed": points.iter().all(|p| p.verified),
                "points": points,
            })
        );
    }
    if points.iter().all(|p| p.verified) {
        ExitCode::SUCCESS
    } else {
        eprintln!("buflet bench rate: a payload was not in host memory as sent");
        ExitCode::from(1)
    }
}

#[derive(Args)]
struct LookupArgs {
    /// Which implementation of the device runs.
    #[arg(long, default_value = "rtl")]
    backend: Backend,
    /// Datapath width in bits.
    #[arg(long, default_value_t = 64)]
    width: u32,
    /// Live socket counts to measure (default: 1,64,1024,4096 on the RTL; and 16384,65536 on
    /// the model).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=65536))]
    live: Vec<u32>,
    /// Socket slots of the build (default: 4096 on the RTL, 65536 on the model).
    #[arg(long, value_parser = clap::value_parser!(u32).range(64..=65536))]
    slots: Option<u32>,
    /// Frames per measurement.
    #[arg(long, default_value_t = 4000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    frames: u32,
    /// Seed of the frames' choice of socket.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object on one line.
    #[arg(long)]
    json: bool,
}

fn bench_lookup(a: &LookupArgs) -> ExitCode {
    use buflet_testbench::lookup_bench::{measure, spread};
    let rtl = a.backend == Backend::Rtl;
    let slots = a.slots.unwrap_or(if rtl { 4096 } else { 65536 });
    let live: Vec<u32> = if a.live.is_empty() {
        [1, 64, 1024, 4096, 16384, 65536]
            .into_iter()
            .filter(|&n| n <= slots)
            .collect()
    } else {
        a.live.clone()
    };
    let mut points = Vec::new();
    for &n in &live {
        match measure(a.backend, a.width, slots, n, a.frames, a.seed) {
            Ok(p) => {
                if !a.json {
                    println!(
                        "{:>6} live sockets ({} slots, {} buckets): {:.3} cycles per walk ({} lookups, {} forwarded, {} matched)",
                        p.live, p.slots, p.buckets, p.cycles_per_lookup, p.lookups, p.forwarded, p.matched
                    );
                }
                points.push(p);
            }
            Err(e) => {
                return fail(
                    a.json,
                    "bench lookup",
                    Some(a.backend.name()),
                    &e.to_string(),
                    1,
                )
            }
        }
    }
    let s = spread(&points);
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "command": "bench lookup",
                "backend": a.backend.name(),
                "points": points,
                "largest_over_smallest": s,
                "within_10pct": s <= 1.10,
            })
        );
    } else {
        println!(
            "largest / smallest: {:.3} ({})",
            s,
            if s <= 1.10 {
                "within 10%"
            } else {
                "more than 10% apart"
            }
        );
    }
    ExitCode::SUCCESS
}

/// One line per connection (the first 16), for the human reports of many connections.
fn print_connections(conns: &[buflet_testbench::runner::ConnReport]) {
    for c in conns.iter().take(16) {
        println!(
            "  {:<21} {:>10} bytes  sha256 {}  {}",
            c.client,
            c.bytes,
            c.sha256,
            if c.verified {
                "verified"
            } else {
                "NOT VERIFIED"
            }
        );
    }
    if conns.len() > 16 {
        println!("  ... {} more", conns.len() - 16);
    }
}
