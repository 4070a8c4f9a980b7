//! Simulation speed (`buflet bench simspeed`): how many device cycles per host second the
//! Verilated NIC runs idle and under traffic, how much faster that is than Icarus Verilog on
//! the same top and the same stimulus, and how much payload the model simulates per host
//! second.
//!
//! - **RTL idle:** the 64-bit `buflet_nic` after bring-up, clocked with nothing to do.
//! - **RTL traffic:** the line-rate bench's 1,500-byte frames at 64 bits
//!   ([`crate::rate_bench`]): cycles from the first data frame until the last payload byte is in
//!   host memory, over the host seconds they took (the driver's polling included).
//! - **Icarus:** each of the two runs again, shorter, with the RTL's inputs of every cycle
//!   recorded (`buflet_sim::stimulus`); Icarus Verilog replays the file on the same `rtl/*.v`
//!   with the same parameters and counts, for every 1-bit output, the cycles it was high. The
//!   counts must equal Verilator's (`icarus_agrees`), so both simulated the same thing. The
//!   ratio is Verilator's cycles per second over Icarus's (`vvp` only, compilation excluded;
//!   the replay includes the bring-up cycles, which favours Icarus slightly).
//! - **Model:** the line-rate bench's 1,500-byte frames on the model: payload bits delivered
//!   per host second.

use crate::rate_bench;
use crate::{Backend, Bench, TbError};
use buflet_platform::DeviceConfig;
use buflet_sim::stimulus::{testbench, Summary};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Frames of the model's run by default: about 0.3 s, long enough that the first touches
/// of host memory and buffers do not set the figure.
pub const MODEL_FRAMES: u64 = 400_000;

/// How long each measurement runs.
#[derive(Debug, Clone)]
pub struct SimSpeedOpts {
    /// Idle cycles Verilator runs.
    pub idle_cycles: u64,
    /// Frames of the traffic run on Verilator.
    pub frames: u64,
    /// Idle cycles and traffic frames recorded for Icarus.
    pub icarus_idle_cycles: u64,
    pub icarus_frames: u64,
    /// Frames of the model's run.
    pub model_frames: u64,
}

impl Default for SimSpeedOpts {
    fn default() -> Self {
        Self {
            idle_cycles: 1_000_000,
            frames: 4000,
            icarus_idle_cycles: 20_000,
            icarus_frames: 100,
            model_frames: MODEL_FRAMES,
        }
    }
}

/// The figures. Serialized as `bench simspeed --json`.
#[derive(Debug, Clone, Serialize)]
pub struct SimSpeed {
    /// Datapath width of the RTL measured.
    pub width: u32,
    /// Verilated NIC, device cycles per host second: idle, and under 1,500-byte frames.
    pub rtl_cycles_per_s_idle: f64,
    pub rtl_cycles_per_s_traffic: f64,
    /// Icarus Verilog on the recorded stimulus, cycles per host second.
    pub icarus_cycles_per_s_idle: f64,
    pub icarus_cycles_per_s_traffic: f64,
    /// Verilator over Icarus, idle and under traffic, and the smaller of the two.
    pub icarus_ratio_idle: f64,
    pub icarus_ratio_traffic: f64,
    pub icarus_ratio: f64,
    /// Icarus's output counts equal Verilator's on both stimuli.
    pub icarus_agrees: bool,
    /// Cycles each Icarus replay ran (bring-up included).
    pub icarus_cycles_idle: u64,
    pub icarus_cycles_traffic: u64,
    /// The model: payload Gbit/s simulated per host second, and device cycles per second.
    pub model_payload_gbps_per_s: f64,
    pub model_cycles_per_s: f64,
    /// `iverilog -V`'s first line.
    pub icarus_version: String,
}

/// The frame size of the traffic runs.
const FRAME: usize = 1500;

/// The workspace's `rtl/` directory (include path of every Verilog file).
pub fn rtl_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rtl")
}

/// Every Verilog file of `rtl/`, sorted: what another tool compiles for the top.
pub fn rtl_sources() -> std::io::Result<Vec<PathBuf>> {
    let mut srcs: Vec<PathBuf> = std::fs::read_dir(rtl_dir())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "v"))
        .collect();
    srcs.sort();
    Ok(srcs)
}

fn tool_err(what: &str, e: impl std::fmt::Display) -> TbError {
    TbError::Unsupported(format!("{what}: {e}"))
}

/// The first line `iverilog -V` prints, or why there is none.
pub fn icarus_version() -> Result<String, TbError> {
    let o = Command::new("iverilog").arg("-V").output().map_err(|e| {
        tool_err(
            "iverilog (Icarus Verilog) cannot run; install it (apt-get install iverilog; ./run.sh does)",
            e,
        )
    })?;
    let text = String::from_utf8_lossy(&o.stdout);
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

/// Compile the stimulus testbench for the 64-bit build with Icarus in `dir` (once).
fn icarus_build(dir: &Path, width: u32, stim: &Path) -> Result<PathBuf, TbError> {
    let cfg = DeviceConfig::with_width(width);
    let name = buflet_sim::build_for(&cfg).map_err(|e| tool_err("the RTL build", e))?;
    let info = buflet_sim::model_info(name)
        .ok_or_else(|| TbError::Unsupported(format!("no model {name}")))?;
    let tb = dir.join("buflet_stim_tb.v");
    std::fs::write(&tb, testbench(info)).map_err(|e| tool_err(&tb.display().to_string(), e))?;
    let rtl = rtl_dir();
    let srcs =
        rtl_sources().map_err(|e| tool_err(&format!("the RTL sources at {}", rtl.display()), e))?;
    let out = dir.join("sim.vvp");
    let o = Command::new("iverilog")
        .arg("-g2012")
        .arg(format!("-DSTIM_FILE=\"{}\"", stim.display()))
        .arg("-I")
        .arg(&rtl)
        .args(["-s", "buflet_stim_tb", "-o"])
        .arg(&out)
        .arg(&tb)
        .args(&srcs)
        .output()
        .map_err(|e| tool_err("iverilog", e))?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        return Err(TbError::Unsupported(format!(
            "iverilog failed: {}",
            err.lines().take(5).collect::<Vec<_>>().join("; ")
        )));
    }
    Ok(out)
}

/// Replay `stim` in Icarus (compiled into `vvp`): the testbench's summary and the seconds
/// `vvp` took.
fn icarus_run(vvp: &Path) -> Result<(Summary, f64), TbError> {
    let t = Instant::now();
    let o = Command::new("vvp")
        .arg("-n")
        .arg(vvp)
        .output()
        .map_err(|e| tool_err("vvp", e))?;
    let secs = t.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&o.stdout);
    let sum = text.lines().find_map(Summary::parse).ok_or_else(|| {
        TbError::Unsupported(format!(
            "vvp printed no summary: {}",
            text.lines().take(5).collect::<Vec<_>>().join("; ")
        ))
    })?;
    Ok((sum, secs))
}

/// A stimulus replayed in Icarus.
#[derive(Debug, Clone)]
pub struct Replay {
    /// What the recording counted, and what Icarus counted.
    pub recorded: Summary,
    pub replayed: Summary,
    /// Seconds `vvp` ran.
    pub seconds: f64,
}

impl Replay {
    /// Icarus simulated what Verilator did: the same cycles and output counts.
    pub fn agrees(&self) -> bool {
        self.recorded == self.replayed
    }

    /// Icarus's cycles per host second.
    pub fn cycles_per_s(&self) -> f64 {
        self.replayed.cycles as f64 / self.seconds
    }
}

/// Compile the stimulus testbench of the `width`-bit build in `dir` and replay `stim` (a file
/// [`buflet_sim::stimulus::Recorder`] wrote) in Icarus.
pub fn replay(dir: &Path, width: u32, stim: &Path) -> Result<Replay, TbError> {
    let recorded = Summary::read(stim).map_err(|e| tool_err(&stim.display().to_string(), e))?;
    let vvp = icarus_build(dir, width, stim)?;
    let (replayed, seconds) = icarus_run(&vvp)?;
    Ok(Replay {
        recorded,
        replayed,
        seconds,
    })
}

/// An idle run of `cycles` on the RTL at `width` after bring-up, recording to `stim` if
/// given: cycles per host second.
pub fn rtl_idle(width: u32, cycles: u64, stim: Option<&Path>) -> Result<f64, TbError> {
    let mut b = Bench::builder(Backend::Rtl)
        .config(DeviceConfig::with_width(width))
        .name("simspeed")
        .stimulus(stim.map(Path::to_path_buf))
        .build()?;
    let t = Instant::now();
    b.drv.run(cycles);
    let secs = t.elapsed().as_secs_f64();
    if stim.is_some() {
        b.drv
            .device_mut()
            .stimulus_close()
            .map_err(|e| TbError::Backend("rtl".into(), e))?;
    }
    Ok(cycles as f64 / secs)
}

/// Measure everything at 64 bits.
pub fn measure(o: &SimSpeedOpts) -> Result<SimSpeed, TbError> {
    let width = 64;
    let icarus_version = icarus_version()?;
    let idle = rtl_idle(width, o.idle_cycles, None)?;
    let traffic = rate_bench::measure(
        Backend::Rtl,
        width,
        FRAME,
        o.frames,
        rate_bench::DEFAULT_LINE_GBPS,
    )?;
    let tmp = tempfile::Builder::new()
        .prefix("buflet-simspeed-")
        .tempdir()
        .map_err(|e| tool_err("a temporary directory", e))?;
    let stim_idle = tmp.path().join("idle.stim");
    rtl_idle(width, o.icarus_idle_cycles, Some(&stim_idle))?;
    let idle_dir = tmp.path().join("idle");
    std::fs::create_dir(&idle_dir).map_err(|e| tool_err("a temporary directory", e))?;
    let ri_ = replay(&idle_dir, width, &stim_idle)?;
    let stim_traffic = tmp.path().join("traffic.stim");
    let rec = rate_bench::measure_recorded(
        Backend::Rtl,
        width,
        FRAME,
        o.icarus_frames,
        rate_bench::DEFAULT_LINE_GBPS,
        &rate_bench::Capture {
            stimulus: Some(stim_traffic.clone()),
            trace: None,
        },
    )?;
    if !rec.verified {
        return Err(TbError::Protocol(
            "the recorded traffic run did not deliver its payload".into(),
        ));
    }
    let traffic_dir = tmp.path().join("traffic");
    std::fs::create_dir(&traffic_dir).map_err(|e| tool_err("a temporary directory", e))?;
    let rt_ = replay(&traffic_dir, width, &stim_traffic)?;
    let model = rate_bench::measure(
        Backend::Model,
        width,
        FRAME,
        o.model_frames,
        rate_bench::DEFAULT_LINE_GBPS,
    )?;
    let rtl_traffic = traffic.cycles as f64 / traffic.host_seconds;
    let (iv_idle, iv_traffic) = (ri_.cycles_per_s(), rt_.cycles_per_s());
    let (ri, rt) = (idle / iv_idle, rtl_traffic / iv_traffic);
    Ok(SimSpeed {
        width,
        rtl_cycles_per_s_idle: idle,
        rtl_cycles_per_s_traffic: rtl_traffic,
        icarus_cycles_per_s_idle: iv_idle,
        icarus_cycles_per_s_traffic: iv_traffic,
        icarus_ratio_idle: ri,
        icarus_ratio_traffic: rt,
        icarus_ratio: ri.min(rt),
        icarus_agrees: ri_.agrees() && rt_.agrees(),
        icarus_cycles_idle: ri_.replayed.cycles,
        icarus_cycles_traffic: rt_.replayed.cycles,
        model_payload_gbps_per_s: model.delivered_bytes as f64 * 8.0 / model.host_seconds / 1e9,
        model_cycles_per_s: model.cycles as f64 / model.host_seconds,
        icarus_version,
    })
}
