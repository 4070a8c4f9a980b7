//! `buflet serve --tap`: the NIC on a Linux TAP interface, serving the kernel's own TCP
//! (testbench/src/live.rs does the work; this is the command line).

use buflet_nas::server::AppKind;
use buflet_testbench::live::{serve, LiveConn, ServeOptions};
use buflet_testbench::Backend;
use clap::{Args, ValueEnum};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

/// What each connection's stream is.
#[derive(Clone, Copy, ValueEnum)]
pub enum ServeProtocol {
    /// The stream is the file, at offset 0.
    Raw,
    /// BFW1 records, each written at its file offset.
    Framed,
    /// An iSCSI target (RFC 7143) on one SCSI logical unit, the whole image (seed 003).
    Iscsi,
}

/// How received payload reaches the disk.
#[derive(Clone, Copy, ValueEnum)]
pub enum ServeMode {
    /// The NIC writes it into host named buffers; the block engine reads it from there (about
    /// 2 host-DRAM crossings per byte).
    Zerocopy,
    /// It stays in the NIC's buflet memory; the block engine reads it from there and the CPU
    /// reads protocol headers through the NIC's window (about 0.1 crossings per byte,
    /// docs/p2p.md).
    P2p,
}

/// `buflet serve` options.
#[derive(Args)]
pub struct ServeArgs {
    /// The TAP interface to attach the NIC's MAC port to (created when missing; the kernel's
    /// side needs an address in the NIC's subnet and the link up).
    #[arg(long)]
    tap: String,
    /// Which implementation of the device runs.
    #[arg(long, default_value = "model")]
    backend: Backend,
    /// Datapath width in bits.
    #[arg(long, default_value_t = 64)]
    width: u32,
    /// Socket slots of the build (the RTL has 64, and 4096 at 64 bits).
    #[arg(long, default_value_t = 64)]
    sockets: u32,
    /// The NIC's IPv4 address (it answers ARP for it).
    #[arg(long, default_value = "10.213.0.2")]
    ip: Ipv4Addr,
    /// The NIC's MAC address, six hex bytes separated by ':'.
    #[arg(long, default_value = "02:42:46:4c:54:02", value_parser = parse_mac)]
    mac: [u8; 6],
    /// The listening TCP port (default 9000; 3260 with `--protocol iscsi`).
    #[arg(long)]
    port: Option<u16>,
    /// What each connection's stream is.
    #[arg(long, value_enum, default_value = "raw")]
    protocol: ServeProtocol,
    /// How received payload reaches the disk.
    #[arg(long, value_enum, default_value = "zerocopy")]
    mode: ServeMode,
    /// End after this many connections have ended (default: serve until interrupted).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    exit_after: Option<u64>,
    /// Keep the disk image at this path (a new file; each connection's file is an extent of
    /// it). Default: a temporary image, removed at exit.
    #[arg(long)]
    image: Option<PathBuf>,
    /// Largest file one connection may write, bytes (its extent of the image).
    #[arg(long, default_value_t = 256 << 20, value_parser = clap::value_parser!(u64).range(4096..=(1u64 << 40)))]
    max_bytes: u64,
    /// `--protocol iscsi`: bytes of the logical unit (the whole image), a multiple of 4096.
    #[arg(long, default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1 << 20..=(1u64 << 40)))]
    lu_bytes: u64,
    /// Connections open at once at most (accepted ones plus the accept pool).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=65536))]
    max_connections: u64,
    /// One JSON object per line: "listening", then one per finished connection, then the
    /// summary (`connections`, `passed`, ...).
    #[arg(long)]
    json: bool,
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err("a MAC address is six hex bytes separated by ':'".into());
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        *m = u8::from_str_radix(p, 16).map_err(|_| format!("not a hex byte: {p:?}"))?;
    }
    if mac[0] & 1 != 0 {
        return Err("a multicast MAC address cannot be the NIC's".into());
    }
    Ok(mac)
}

/// Run `buflet serve`.
pub fn run(a: &ServeArgs) -> ExitCode {
    let json = a.json;
    let iscsi = matches!(a.protocol, ServeProtocol::Iscsi);
    let port = a.port.unwrap_or(if iscsi { 3260 } else { 9000 });
    if iscsi && !a.lu_bytes.is_multiple_of(4096) {
        eprintln!("buflet serve: --lu-bytes must be a multiple of 4096");
        return ExitCode::from(2);
    }
    let opts = ServeOptions {
        backend: a.backend,
        width: a.width,
        sockets: a.sockets,
        tap: a.tap.clone(),
        ip: a.ip.octets(),
        mac: a.mac,
        port,
        protocol: match a.protocol {
            ServeProtocol::Raw => AppKind::Raw,
            ServeProtocol::Framed => AppKind::Framed,
            ServeProtocol::Iscsi => AppKind::Iscsi,
        },
        exit_after: a.exit_after.map(|k| k as usize),
        image: a.image.clone(),
        max_bytes: a.max_bytes,
        max_files: a.exit_after.map_or(1024, |k| k as usize),
        max_connections: a.max_connections as usize,
        lu_bytes: a.lu_bytes,
        mode: match a.mode {
            ServeMode::Zerocopy => buflet_nas::WriteMode::ZeroCopy,
            ServeMode::P2p => buflet_nas::WriteMode::P2p,
        },
    };
    let stop = buflet_platform::scratch::interrupt_flag();
    let ip = a.ip;
    let backend = a.backend.name();
    let ready = move |tap: &str| {
        if json {
            println!(
                "{}",
                serde_json::json!({"event": "listening", "tap": tap, "ip": ip.to_string(),
                                   "port": port, "backend": backend})
            );
        } else {
            println!("buflet serve: {backend} NIC at {ip}:{port} on {tap}, listening");
        }
    };
    let each = move |c: &LiveConn| {
        if json {
            println!("{}", serde_json::to_string(c).unwrap_or_default());
        } else {
            println!(
                "{} {} bytes -> {} sha256 {}{}",
                c.client,
                c.bytes,
                c.file,
                c.sha256,
                c.failure
                    .as_ref()
                    .map_or(String::new(), |f| format!(" FAILED: {f}"))
            );
        }
    };
    match serve(&opts, stop, ready, each) {
        Ok(r) => {
            if json {
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            } else {
                println!(
                    "buflet serve: {} connections ({} verified), {} accepted, {} SYNs refused, {} of {} buflets free, {} cycles in {:.1} s{}",
                    r.connections.len(),
                    r.connections.iter().filter(|c| c.verified).count(),
                    r.accepts,
                    r.listen_full_drops,
                    r.buflets_free_end,
                    r.num_buflets,
                    r.cycles,
                    r.seconds,
                    r.error.as_ref().map_or(String::new(), |e| format!(": {e}"))
                );
            }
            if r.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"event": "summary", "command": "serve", "passed": false,
                                       "error": e.to_string(), "backend": backend})
                );
            }
            eprintln!("buflet serve: {e}");
            ExitCode::from(1)
        }
    }
}
