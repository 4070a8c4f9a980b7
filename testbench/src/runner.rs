//! Run one TCP stream through the NIC and the zero-copy write, then check the disk.

use crate::pcap::tcp_info;
use crate::{make_device, sha256_hex, Backend, TbError};
use buflet_driver::nas::{ExtentFile, NasStream};
use buflet_driver::{Driver, SocketSpec};
use buflet_platform::{BlockDevice, DeviceConfig, HostEnv, HostMemory};
use buflet_spec::reg;
use serde::Serialize;
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

/// Block writes the driver keeps outstanding: below the block engine's command FIFO depth.
const BLK_QUEUE_DEPTH: usize = 3;

/// A stream to deliver: the frames the server's NIC receives and what the stream should be.
pub struct Scenario {
    /// Frames in wire order.
    pub frames: Vec<Vec<u8>>,
    /// The connection, from the NIC's side.
    pub socket: SocketSpec,
    /// Client initial sequence number (from its SYN).
    pub isn: u32,
    /// The client-to-server byte stream, known independently of the NIC.
    pub source: Vec<u8>,
}

/// How to run a scenario.
#[derive(Clone)]
pub struct RunOptions {
    /// Which backend.
    pub backend: Backend,
    /// Device configuration (datapath width, latencies, line rate).
    pub config: DeviceConfig,
    /// Named buffers kept posted.
    pub nbs: usize,
    /// Host pages per named buffer.
    pub pages_per_nb: usize,
    /// Bytes per zero-copy write (a multiple of the block size).
    pub write_chunk: u64,
    /// Write a waveform of the RTL to this path (RTL built with BUFLET_TRACE only).
    pub trace: Option<PathBuf>,
    /// Where to put the disk image; a temporary file when None.
    pub image: Option<PathBuf>,
    /// Called with (stream bytes on disk, stream bytes in total) as the run progresses.
    pub progress: Option<Rc<dyn Fn(u64, u64)>>,
}

impl RunOptions {
    /// Defaults for a backend at a datapath width.
    pub fn new(backend: Backend, data_width: u32) -> Self {
        RunOptions {
            backend,
            config: DeviceConfig::with_width(data_width),
            nbs: 16,
            pages_per_nb: 16,
            write_chunk: 64 * 1024,
            trace: None,
            image: None,
            progress: None,
        }
    }
}

/// What a run measured. Serialized as the CLI's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub backend: String,
    pub data_width: u32,
    pub payload_bytes: u64,
    pub frames: u64,
    pub dropped: u64,
    pub cycles: u64,
    pub cpu_copied_bytes: u64,
    pub verified: bool,
    pub disk_sha256: String,
    pub source_sha256: String,
    pub dram_crossings_per_byte: f64,
    pub host_dram_bytes: u64,
    pub nic_dma_written: u64,
    pub nic_dma_read: u64,
    pub blk_dma_read: u64,
    pub cpu_read: u64,
    pub cpu_written: u64,
    pub stray_accesses: u64,
    pub disk_writes: u64,
    pub free_buflets: u32,
    pub num_buflets: u32,
    pub drops_by_reason: Vec<(String, u32)>,
    pub wall_seconds: f64,
    pub sim_cycles_per_second: f64,
    pub image: String,
}

/// Deliver the scenario's frames, write the stream zero-copy as one file at offset 0, read it
/// back from the disk image and compare.
pub fn run_stream(sc: &Scenario, opt: &RunOptions) -> Result<RunReport, TbError> {
    let started = Instant::now();
    let block = 4096u64;
    let file_cap = (sc.source.len() as u64).div_ceil(block) * block + block;
    let disk_start = 1 << 20;
    let tmp;
    let image = match &opt.image {
        Some(p) => p.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!(
                "buflet-{}-{}-{}.img",
                std::process::id(),
                opt.backend.name(),
                unique()
            ));
            tmp.clone()
        }
    };
    let disk = BlockDevice::create(&image, disk_start + file_cap + (1 << 20))?;
    let mem_size = ((opt.nbs * opt.pages_per_nb * 4096) as u64 + (8 << 20)).next_power_of_two();
    let env = HostEnv {
        mem: HostMemory::new(mem_size),
        disk,
    };
    let mut dev = make_device(opt.backend, opt.config.clone())?;
    if let Some(t) = &opt.trace {
        dev.trace_open(t)
            .map_err(|e| TbError::Backend(opt.backend.name().into(), e))?;
    }
    let mut drv = Driver::new(dev, env)?;
    let (sock, early) = drv.add_socket(&sc.socket)?;
    let mut nas = NasStream::start(&mut drv, sock, opt.nbs, opt.pages_per_nb)?;
    for c in &early {
        nas.handle(&mut drv, c)?;
    }
    let file = ExtentFile {
        disk_start,
        capacity: file_cap,
    };
    let total = sc.source.len() as u64;
    let failure: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));

    let mut next = 0usize;
    let mut issued = 0u64;
    let mut idle_rounds = 0u32;
    let mut last_state = (0u64, 0u64, 0usize);
    loop {
        // The sender stays within the receive window: the named-buffer space the driver has
        // posted (ACK generation with the advertised window comes with the TCP engine).
        while next < sc.frames.len() {
            let f = &sc.frames[next];
            if let Some((t, _)) = tcp_info(f) {
                let end = t.seq.wrapping_sub(sc.isn.wrapping_add(1)) as u64 + t.payload_len as u64;
                if !t.syn && end < (1 << 31) && end > nas.received() + nas.posted_bytes() {
                    break;
                }
            }
            drv.rx_push(f.clone());
            next += 1;
        }
        for c in drv.wait(20_000)? {
            nas.handle(&mut drv, &c)?;
        }
        if let Some(e) = failure.borrow().clone() {
            return Err(TbError::Stalled(format!("zero-copy write failed: {e}")));
        }
        if std::env::var("BUFLET_DEBUG").is_ok() {
            let fb = drv.rd(reg::CNT_FREE_BUFLETS);
            eprintln!(
                "cyc {} next {} recv {} written {} posted {} inflight {} free {} pend {}",
                drv.cycles(),
                next,
                nas.received(),
                nas.written(),
                nas.posted_bytes(),
                nas.writes_in_flight(),
                fb,
                drv.rx_pending()
            );
        }
        let received = nas.received();
        let target = nas.eof.unwrap_or(u64::MAX);
        // Keep block writes within the block engine's queue (4 deep) so they never hold up the
        // named-buffer posts behind them on the request ring.
        while issued < received.min(target) && nas.writes_in_flight() < BLK_QUEUE_DEPTH {
            let avail = received.min(target) - issued;
            let n = if nas.eof == Some(received) && avail <= opt.write_chunk {
                avail
            } else if avail >= opt.write_chunk {
                opt.write_chunk
            } else {
                break;
            };
            let fail = failure.clone();
            nas.write(
                &mut drv,
                &file,
                issued,
                issued,
                n,
                Box::new(move |r| {
                    if let Err(e) = r {
                        *fail.borrow_mut() = Some(e.to_string());
                    }
                }),
            )?;
            issued += n;
        }
        if let Some(p) = &opt.progress {
            p(nas.written().min(total), total);
        }
        if nas.eof.is_some_and(|e| nas.written() >= e) && nas.writes_in_flight() == 0 {
            break;
        }
        let state = (nas.received(), nas.written(), next);
        if state == last_state && drv.rx_pending() == 0 {
            idle_rounds += 1;
            if idle_rounds > 200 {
                return Err(TbError::Stalled(format!(
                    "no progress for 4M cycles: {} of {} frames fed, {} bytes received, {} on disk, eof {:?}, drops {:?}",
                    next,
                    sc.frames.len(),
                    state.0,
                    state.1,
                    nas.eof,
                    drops(&mut drv)
                )));
            }
        } else {
            idle_rounds = 0;
            last_state = state;
        }
    }
    let len = nas.eof.unwrap_or(0) as usize;
    let mut back = vec![0u8; len];
    drv.env.disk.read_bytes(disk_start, &mut back)?;
    let cycles = drv.cycles();
    let s = drv.env.mem.stats();
    let drops_by_reason = drops(&mut drv);
    let dropped = drops_by_reason.iter().map(|(_, n)| *n as u64).sum();
    let free_buflets = drv.rd(reg::CNT_FREE_BUFLETS);
    let wall = started.elapsed().as_secs_f64();
    let disk_sha256 = sha256_hex(&back);
    let source_sha256 = sha256_hex(&sc.source);
    let report = RunReport {
        backend: drv.backend().to_string(),
        data_width: drv.info.data_width,
        payload_bytes: len as u64,
        frames: sc.frames.len() as u64,
        dropped,
        cycles,
        cpu_copied_bytes: s.cpu_copied,
        verified: disk_sha256 == source_sha256,
        disk_sha256,
        source_sha256,
        dram_crossings_per_byte: if len > 0 {
            s.total() as f64 / len as f64
        } else {
            0.0
        },
        host_dram_bytes: s.total(),
        nic_dma_written: s.nic_written,
        nic_dma_read: s.nic_read,
        blk_dma_read: s.blk_read,
        cpu_read: s.cpu_read,
        cpu_written: s.cpu_written,
        stray_accesses: s.stray_accesses,
        disk_writes: drv.env.disk.stats().writes,
        free_buflets,
        num_buflets: drv.info.num_buflets,
        drops_by_reason,
        wall_seconds: wall,
        sim_cycles_per_second: cycles as f64 / wall.max(1e-9),
        image: image.display().to_string(),
    };
    if opt.image.is_none() {
        let _ = std::fs::remove_file(&image);
    }
    Ok(report)
}

fn drops(drv: &mut Driver) -> Vec<(String, u32)> {
    buflet_spec::CONSTS
        .iter()
        .filter(|c| c.group == "drop" && c.value > 0 && c.value < buflet_spec::drop::COUNTER_BASE)
        .map(|c| {
            (
                c.name.to_string(),
                drv.rd((buflet_spec::drop::COUNTER_BASE + 4 * c.value) as u32),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
