//! `buflet serve --tap`: Buflet as a live server for the Linux kernel's own TCP.
//!
//! The NIC's MAC port is attached to a Linux TAP interface; whoever set the interface up (the
//! kernel's side of the link has an address on it) connects to the NIC's address with stock
//! clients and uploads. The NIC answers ARP itself (`NIC_IP`), listens on one port
//! (`SOCK_LISTEN`), and the NAS's [`MultiServer`] writes each accepted connection's stream to
//! its own file, an extent of the disk image.
//!
//! Three threads, joined by crossbeam channels:
//! - the TAP reader ([`Tap::reader`]) blocks in the kernel and hands each frame over;
//! - the device thread (the caller's) owns the device, the driver and the NAS: it feeds the
//!   frames to the MAC, runs the device while there is work (frames pending, completions,
//!   block writes in flight, frames transmitted), writes what the NIC transmits to the TAP,
//!   and otherwise sleeps until the next frame or timer tick (no busy spin); the device's
//!   timer ticks are wall-clock time ([`TICK_MS`] each, sent as `TIMER_KICK`), so TCP's
//!   timers run in real time however fast the simulation goes;
//! - the disk thread does the NAS's disk work for finished connections: it syncs the image,
//!   reads each file back from it and computes its sha256, and reports the connection.

use crate::{Backend, Bench, TbError};
use buflet_driver::ListenSpec;
use buflet_nas::multi::{ConnId, ConnSummary, MultiConfig, MultiServer};
use buflet_nas::server::{AppKind, ServerConfig};
use buflet_nas::{ExtentFile, WriteMode};
use buflet_platform::tap::Tap;
use buflet_platform::{BlockDevice, DeviceConfig};
use crossbeam_channel::{unbounded, Receiver};
use serde::Serialize;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wall-clock milliseconds per device timer tick.
pub const TICK_MS: u64 = 10;
/// Device cycles run per turn of the device thread while there is work.
const SLICE: u64 = 256;
/// Retransmission timeouts in ticks of [`TICK_MS`]: 1 s before any RTT sample, at least
/// 200 ms, at most 60 s (RFC 6298 with Linux's lower bound).
const RTO: (u32, u32, u32) = (100, 20, 6000);

/// What `buflet serve` does.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The device behind the NIC.
    pub backend: Backend,
    /// Datapath width.
    pub width: u32,
    /// Socket slots of the build (`DeviceConfig::with_sockets`).
    pub sockets: u32,
    /// The TAP interface to attach to (created when missing).
    pub tap: String,
    /// The NIC's IPv4 address (ARP answered for it; connections accepted to it).
    pub ip: [u8; 4],
    /// The NIC's MAC address.
    pub mac: [u8; 6],
    /// The listening TCP port.
    pub port: u16,
    /// What each connection's stream is.
    pub protocol: AppKind,
    /// End after this many connections have ended (`None`: until interrupted).
    pub exit_after: Option<usize>,
    /// Keep the disk image here (a new file; `None`: a scratch image removed at exit).
    pub image: Option<PathBuf>,
    /// Largest file of one connection, bytes (its extent of the image).
    pub max_bytes: u64,
    /// Connections served over the run at most (the image holds this many extents).
    pub max_files: usize,
    /// Connections open at once at most (accepted plus the accept pool).
    pub max_connections: usize,
    /// iSCSI (`protocol` [`AppKind::Iscsi`]): bytes of the logical unit, the whole image.
    pub lu_bytes: u64,
    /// How received payload reaches the disk: zerocopy (host named buffers) or p2p (the
    /// payload stays in buflet memory; hold sockets, docs/p2p.md).
    pub mode: WriteMode,
}

/// One finished connection as `serve` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveConn {
    /// Always "connection" (one JSON object per line).
    pub event: &'static str,
    /// The peer as "ip:port".
    pub client: String,
    /// Stream bytes received.
    pub bytes: u64,
    /// Where the file is: the image path and its extent.
    pub file: String,
    /// File offset 0 on the disk image, bytes.
    pub disk_offset: u64,
    /// sha256 of the file as read back from the disk image.
    pub sha256: String,
    /// Every byte received is on disk and the connection ended with the peer's FIN.
    pub verified: bool,
    /// The peer reset the connection.
    pub reset: bool,
    /// What went wrong, if anything.
    pub failure: Option<String>,
}

/// The end of a `serve` run.
#[derive(Debug, Clone, Serialize)]
pub struct ServeReport {
    /// Always "summary".
    pub event: &'static str,
    /// "model" or "rtl".
    pub backend: &'static str,
    /// The TAP interface.
    pub tap: String,
    /// Every connection that ended, in the order they ended.
    pub connections: Vec<LiveConn>,
    /// Connections accepted.
    pub accepts: u64,
    /// SYNs dropped because the accept pool or the half-open table was full.
    pub listen_full_drops: u32,
    /// Window updates the NIC's timer ticks sent (CNT_TX_WND_UPDATES): a closed or small
    /// receive window opened without a segment from the peer.
    pub wnd_updates: u32,
    /// Delayed ACKs the NIC's timer ticks sent (CNT_TX_DELAYED_ACKS): every accepted socket
    /// coalesces its ACKs, and an ACK still owed at a tick goes out then.
    pub delayed_acks: u32,
    /// Free buflets after the last connection was deleted, and the pool's size.
    pub buflets_free_end: u32,
    pub num_buflets: u32,
    /// p2p: host buflets set aside (`HOST_BUFLETS`, not counted above) and those no
    /// connection held at the end.
    pub host_buflets: u32,
    pub host_buflets_free_end: u32,
    /// Device cycles run and wall-clock seconds.
    pub cycles: u64,
    pub seconds: f64,
    /// Frames from and to the TAP.
    pub frames_in: u64,
    pub frames_out: u64,
    /// How the run ended: "exit-after", "interrupted".
    pub ended_by: &'static str,
    /// Every connection verified.
    pub passed: bool,
    /// A failure that ended the run early.
    pub error: Option<String>,
    /// iSCSI: sha256 of the logical unit's medium (the whole image) at the end.
    pub lu_sha256: Option<String>,
    /// iSCSI: the emulation module's counters (commands the logical unit executed).
    pub scsi: Option<buflet_scsi::EmuStats>,
    /// iSCSI: the target's counters over the sessions that ended.
    pub iscsi: Option<buflet_nas::iscsi::IscsiStats>,
    /// Bytes every agent moved through host DRAM (CPU, NIC, block engine) over the run,
    /// and per payload byte written or read (iSCSI: data-out written plus data-in sent).
    pub dram_bytes: u64,
    pub dram_crossings_per_byte: Option<f64>,
}

/// Serve until `stop` is raised or `opts.exit_after` connections have ended. `ready` is
/// called once the NIC listens; `each` for every finished connection (from the disk thread,
/// in the order they end).
pub fn serve(
    opts: &ServeOptions,
    stop: Arc<AtomicBool>,
    ready: impl FnOnce(&str),
    each: impl FnMut(&LiveConn) + Send + 'static,
) -> Result<ServeReport, TbError> {
    let t0 = Instant::now();
    let tap = Tap::open(&opts.tap).map_err(|e| TbError::Live(e.to_string()))?;
    let cfg = DeviceConfig::with_sockets(opts.width, opts.sockets);
    let iscsi = opts.protocol == AppKind::Iscsi;
    let disk_bytes = if iscsi {
        opts.lu_bytes
    } else {
        opts.max_bytes.saturating_mul(opts.max_files as u64)
    };
    let mut builder = Bench::builder(opts.backend)
        .config(cfg)
        .mem(96 << 20)
        .name("serve");
    match &opts.image {
        Some(p) => {
            if p.exists() {
                return Err(TbError::Input {
                    path: p.display().to_string(),
                    msg: "exists: serve makes a new image (remove it or name another)".into(),
                });
            }
            builder = builder.disk(BlockDevice::create(p, disk_bytes)?);
        }
        None => builder = builder.blank_disk(disk_bytes),
    }
    let bench = match builder.build() {
        Ok(b) => b,
        Err(e) => {
            // The image made for this run goes with the failed start.
            if let Some(p) = &opts.image {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
    };
    let Bench {
        mut drv,
        wire,
        scratch,
    } = bench;
    let image = drv.env.disk.path().to_path_buf();

    drv.set_nic_addr(opts.mac, opts.ip);
    drv.set_timer_period(0);
    drv.set_rto(RTO.0, RTO.1, RTO.2);

    let max_bytes = opts.max_bytes;
    let max_files = opts.max_files;
    let lu_bytes = opts.lu_bytes;
    let alloc = move |id: &ConnId| -> Result<ExtentFile, String> {
        if iscsi {
            // Every session reaches the one logical unit: the whole image.
            return Ok(ExtentFile {
                disk_start: 0,
                capacity: lu_bytes,
            });
        }
        if id.index >= max_files {
            return Err(format!(
                "the disk image holds {max_files} files (--max-files); connection {} refused",
                id.index + 1
            ));
        }
        Ok(ExtentFile {
            disk_start: id.index as u64 * max_bytes,
            capacity: max_bytes,
        })
    };
    let target = if iscsi {
        Some(iscsi_target(opts, drv.info.block_bytes)?)
    } else {
        None
    };
    if iscsi && opts.mode.needs_hold() {
        // p2p Data-In: READs are read into host buflets and sent from there (docs/iscsi.md),
        // set aside before any frame lands.
        buflet_nas::iscsi::set_aside_host_buflets(&mut drv)?;
    }
    let mcfg = MultiConfig {
        kind: opts.protocol,
        server: ServerConfig {
            nbs: if iscsi { 16 } else { 8 },
            pages_per_nb: 16,
            mode: opts.mode,
            max_retries: None,
            write_chunk: 64 << 10,
            // p2p: the receive window is the free buflets, smaller than the named buffers'
            // space, so a sender can stall with a named buffer partly filled and not returned
            // (its records unseen, its chains never released). The head buffer comes back
            // after two ticks, full or not.
            nb_timeout: opts.mode.needs_hold().then_some((0, 2)),
            answers: false,
            cow: buflet_nas::answer::Cow::Aware,
            read_mode: None,
            iscsi: target.clone(),
        },
        // iSCSI: fewer sessions at once, each with more named buffers (a burst of data-out
        // is held until the block engine wrote it).
        max_connections: if iscsi {
            opts.max_connections.min(4)
        } else {
            opts.max_connections
        },
        nb_memory: buflet_nas::multi::DEFAULT_NB_MEMORY,
        // Graceful close instead: the socket goes once the client acknowledged our FIN.
        linger_cycles: 0,
    };
    let mut srv = MultiServer::new(&drv, mcfg, alloc);
    srv.set_graceful_close(true);
    let listen = ListenSpec {
        local_mac: opts.mac,
        vlan: 0,
        local_ip: opts.ip,
        local_port: opts.port,
        iss: iss_base(),
        rcv_buf: 1 << 20,
        mss: 1460,
        rcv_wscale: 7,
        // A request-response protocol: a PDU's named buffer comes back at its PSH.
        flags: if iscsi {
            buflet_spec::SockFlags::PSH_RETURN
        } else {
            Default::default()
        },
    }
    .with_hold(opts.mode.needs_hold())
    // ACKs coalesced as a receiver at line rate does (an ACK every second full-sized segment,
    // at once on PSH, FIN or out-of-order data); the loop's timer ticks send an owed one.
    .with_delayed_ack(true);
    srv.listen(&mut drv, &listen)?;

    // The disk thread.
    let (fin_tx, fin_rx) = unbounded::<ConnSummary<ExtentFile>>();
    let disk_image = image.clone();
    let disk = std::thread::Builder::new()
        .name("nas-disk".into())
        .spawn(move || disk_thread(disk_image, fin_rx, each, iscsi))
        .map_err(|e| TbError::Live(format!("cannot start the disk thread: {e}")))?;
    let (frames, _reader) = tap.reader().map_err(|e| TbError::Live(e.to_string()))?;
    ready(tap.name());

    let tick = Duration::from_millis(TICK_MS);
    let mut next_tick = Instant::now() + tick;
    let mut frames_in = 0u64;
    let mut frames_out = 0u64;
    let mut ended = 0usize;
    let mut busy = true;
    let mut error = None;
    let mut ended_by = "interrupted";
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if opts.exit_after.is_some_and(|k| ended >= k) {
            ended_by = "exit-after";
            break;
        }
        let mut activity = false;
        for f in frames.try_iter() {
            wire.send(f);
            frames_in += 1;
            activity = true;
        }
        if Instant::now() >= next_tick {
            drv.timer_kick();
            next_tick += tick;
            // After a long turn, do not run a backlog of ticks at once.
            if next_tick < Instant::now() {
                next_tick = Instant::now() + tick;
            }
            activity = true;
        }
        if activity || busy {
            let polled = match srv.poll(&mut drv, SLICE) {
                Ok(p) => p,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            };
            busy = polled.completions > 0 || wire.pending() > 0 || srv.in_flight() > 0;
        }
        if let Some(sh) = &target {
            match buflet_nas::iscsi::pump(&mut srv, &mut drv, sh) {
                Ok(n) => busy |= n > 0 || sh.emu.outstanding() > 0 && srv.in_flight() > 0,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        while let Some(f) = wire.recv() {
            if let Err(e) = tap.send(&f) {
                error = Some(e.to_string());
            }
            frames_out += 1;
            busy = true;
        }
        if error.is_some() {
            break;
        }
        for summary in srv.take_finished() {
            ended += 1;
            if fin_tx.send(summary).is_err() {
                error = Some("the disk thread stopped".into());
            }
        }
        if !busy && !activity {
            let wait = next_tick.saturating_duration_since(Instant::now());
            // Sleep until a frame comes, the logical unit asks or answers, or the next tick.
            let mut sel = crossbeam_channel::Select::new();
            let fi = sel.recv(&frames);
            if let Some(sh) = &target {
                sel.recv(sh.requests());
                sel.recv(sh.completions());
            }
            match sel.ready_timeout(wait) {
                Ok(i) if i == fi => match frames.try_recv() {
                    Ok(f) => {
                        wire.send(f);
                        frames_in += 1;
                        busy = true;
                    }
                    Err(crossbeam_channel::TryRecvError::Empty) => {}
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        error = Some(format!("TAP interface {}: reading stopped", tap.name()));
                        break;
                    }
                },
                Ok(_) => busy = true,
                Err(_) => {}
            }
        }
    }
    // Connections still open are left as they are (the run ends); the listen slot closes.
    let _ = srv.unlisten(&mut drv);
    drop(fin_tx);
    let connections = disk
        .join()
        .map_err(|_| TbError::Live("the disk thread panicked".into()))?;
    let lu_sha256 = if iscsi {
        std::fs::File::open(&image)
            .and_then(|f| hash_range(&f, 0, opts.lu_bytes))
            .ok()
    } else {
        None
    };
    let scsi = target.as_ref().map(|t| t.emu.stats());
    let iscsi_stats = target.as_ref().map(|t| t.ended_stats());
    let dram_bytes = drv.env.mem.stats().total();
    let dram_crossings_per_byte = iscsi_stats
        .map(|s| s.write_bytes + s.read_bytes)
        .filter(|&b| b > 0)
        .map(|b| dram_bytes as f64 / b as f64);
    let listen_full_drops = drv.drop_count(buflet_driver::DropReason::ListenFull);
    let c = drv.counters();
    let report = ServeReport {
        event: "summary",
        backend: opts.backend.name(),
        tap: tap.name().to_string(),
        passed: error.is_none()
            && connections.iter().all(|c| c.verified)
            && opts.exit_after.is_none_or(|k| connections.len() >= k),
        connections,
        accepts: srv.stats().accepted,
        listen_full_drops,
        wnd_updates: c.tx_wnd_updates,
        delayed_acks: c.tx_delayed_acks,
        buflets_free_end: c.free_buflets,
        num_buflets: drv.info.num_buflets,
        host_buflets: drv.host_buflets(),
        host_buflets_free_end: drv.host_buflets_free() as u32,
        cycles: drv.cycles(),
        seconds: t0.elapsed().as_secs_f64(),
        frames_in,
        frames_out,
        ended_by,
        error,
        lu_sha256,
        scsi,
        iscsi: iscsi_stats,
        dram_bytes,
        dram_crossings_per_byte,
    };
    drop(scratch);
    Ok(report)
}

/// The iSCSI target of `serve --protocol iscsi`: one logical unit of `lu_bytes` on the image
/// (seed 003's user-space SCSI emulation), run by an emulation module with a worker per
/// command.
fn iscsi_target(
    opts: &ServeOptions,
    block: u32,
) -> Result<Arc<buflet_nas::iscsi::IscsiShared>, TbError> {
    let blocks = opts.lu_bytes / u64::from(block);
    let lu = buflet_scsi::sbc::BlockLu::new(buflet_scsi::sbc::LuConfig {
        blocks,
        block_size: block,
        // As much as one command's data-in pages may hold (data-out streams to the disk).
        max_transfer_blocks: buflet_nas::iscsi::MAX_XFER / block,
        // A new image is all zeros: deallocated until written.
        initially_mapped: false,
        ..buflet_scsi::sbc::LuConfig::default()
    })
    .map_err(|e| TbError::Live(format!("the logical unit: {e}")))?;
    let ip = std::net::Ipv4Addr::from(opts.ip);
    let mut target = buflet_nas::iscsi::TargetConfig::new(ISCSI_TARGET_NAME);
    target.addresses = vec![format!("{ip}:{},1", opts.port)];
    target.cmd_window = buflet_nas::iscsi::CMD_WINDOW;
    target.params.max_recv_data_segment_length = buflet_nas::iscsi::MAX_RECV_DSL;
    target.params.max_burst_length = 256 << 10;
    target.params.first_burst_length = 64 << 10;
    Ok(buflet_nas::iscsi::IscsiShared::new(
        Arc::new(lu),
        64,
        block,
        blocks,
        target,
    ))
}

/// The target's iSCSI name.
pub const ISCSI_TARGET_NAME: &str = "iqn.2026-12.org.buflet:lu0";

/// An ISS base that differs from run to run (RFC 6528: not guessable from outside).
fn iss_base() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (t as u32) ^ ((t >> 32) as u32).rotate_left(13) ^ std::process::id().rotate_left(7)
}

/// The disk thread: each finished connection's file read back from the image and hashed.
fn disk_thread(
    image: PathBuf,
    rx: Receiver<ConnSummary<ExtentFile>>,
    mut each: impl FnMut(&LiveConn),
    iscsi: bool,
) -> Vec<LiveConn> {
    let mut out = Vec::new();
    let file = std::fs::File::open(&image);
    for s in rx.iter() {
        let (disk_offset, len) = match &s.file {
            Some(f) => (f.disk_start, s.file_len.min(f.capacity)),
            None => (0, 0),
        };
        let mut failure = s.failure.clone();
        let sha = match &file {
            // An iSCSI session has no file of its own: the logical unit is hashed at the end.
            _ if iscsi => String::new(),
            Ok(f) => {
                let _ = f.sync_data();
                match hash_range(f, disk_offset, len) {
                    Ok(h) => h,
                    Err(e) => {
                        failure.get_or_insert(format!("reading the file back: {e}"));
                        String::new()
                    }
                }
            }
            Err(e) => {
                failure.get_or_insert(format!("opening {}: {e}", image.display()));
                String::new()
            }
        };
        let conn = LiveConn {
            event: "connection",
            client: s.id.peer(),
            bytes: s.stream_bytes,
            file: format!("{}@{}+{}", image.display(), disk_offset, len),
            disk_offset,
            verified: failure.is_none()
                && s.file.is_some()
                && !s.reset
                && (iscsi || s.written >= s.file_len),
            sha256: sha,
            reset: s.reset,
            failure,
        };
        each(&conn);
        out.push(conn);
    }
    out
}

/// sha256 of `len` bytes of `f` from `off`, read in bounded pieces.
fn hash_range(f: &std::fs::File, off: u64, len: u64) -> std::io::Result<String> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        f.read_exact_at(&mut buf[..n], off + done)?;
        h.update(&buf[..n]);
        done += n as u64;
    }
    Ok(hex::encode(h.finalize()))
}
