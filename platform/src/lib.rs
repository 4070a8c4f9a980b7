//! The joint between Buflet's two backends and its one host driver.
//!
//! - [`Device`]: the host-bus side both the Rust model and the Verilated RTL implement
//!   (registers, DMA served from [`HostEnv`], clock, interrupt).
//! - [`wire`]: the wire side, a link whose MAC end the device serves and whose other end the
//!   harness holds ([`MacPort`], [`WirePort`]).
//! - [`HostMemory`]: host DRAM, served to the device's DMA and to the CPU, counting every
//!   byte each agent moves and refusing (and counting) device accesses outside the regions
//!   the driver registered.
//! - [`BlockDevice`]: a sparse disk image file with 512-byte sectors and a latency model.
//! - [`scratch`]: scratch files removed on every exit path, signals included.
//! - [`tap`]: a Linux TAP interface as the far end of the wire (`buflet serve --tap`).
//! - [`DeviceConfig`]: the one configuration that parameterizes the RTL build and the
//!   model's cycle costs.

mod disk;
mod mem;
pub mod scratch;
pub mod scsi;
pub mod tap;
pub mod wire;

pub use disk::{BlockDevice, DiskError, DiskMode, DiskStats, DiskWrite};
pub use mem::{Agent, DevWrite, HostMemory, MemError, MemStats};
pub use wire::{link, MacPort, WirePort};

use serde::Serialize;

/// Build and timing parameters shared by the RTL and the model.
///
/// The RTL reads the structural ones (data width, buflets, tables) as Verilog parameters
/// and exposes them in its ID registers; the model derives its cycle costs from all of them.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceConfig {
    /// Datapath width in bits (64..=512, power of two).
    pub data_width: u32,
    /// Core clock in MHz (for converting cycles to time and line rate to bytes per cycle).
    pub clock_mhz: u32,
    /// Bytes per buflet.
    pub buflet_bytes: u32,
    /// Number of buflets in local memory.
    pub num_buflets: u32,
    /// Socket descriptor slots.
    pub num_sockets: u32,
    /// Buckets of the 4-tuple hash table.
    pub hash_buckets: u32,
    /// Named buffer descriptor slots.
    pub num_nbs: u32,
    /// Anonymous buffer slots (ID register `NUM_ANON`).
    pub num_anon: u32,
    /// Send post slots (ID register `NUM_POSTS`).
    pub num_posts: u32,
    /// Cycles from a DMA read request to its first data word.
    pub mem_read_latency: u32,
    /// Cycles from a block write request to its status.
    pub disk_latency: u32,
    /// MAC line rate in Gbit/s: frames are fed no faster than this.
    pub line_gbps: f64,
}

impl DeviceConfig {
    /// The default build at a given datapath width.
    pub fn with_width(data_width: u32) -> Self {
        use buflet_spec::param as p;
        DeviceConfig {
            data_width,
            clock_mhz: p::DEF_CLOCK_MHZ as u32,
            buflet_bytes: p::DEF_BUFLET_BYTES as u32,
            num_buflets: p::DEF_NUM_BUFLETS as u32,
            num_sockets: p::DEF_NUM_SOCKETS as u32,
            hash_buckets: p::DEF_HASH_BUCKETS as u32,
            num_nbs: p::DEF_NUM_NBS as u32,
            num_anon: p::DEF_NUM_ANON as u32,
            num_posts: p::DEF_NUM_POSTS as u32,
            mem_read_latency: 64,
            disk_latency: 200,
            line_gbps: Self::mac_gbps(data_width, p::DEF_CLOCK_MHZ as u32),
        }
    }

    /// The Ethernet rate a build of `data_width` bits at `clock_mhz` is sized for: the fastest
    /// of 10, 25, 40, 50 and 100 Gbit/s that its bus carries (64 bits at 250 MHz: 10 GbE; 512
    /// bits: 100 GbE). The default `line_gbps`, so a wide build is fed at its own line rate.
    pub fn mac_gbps(data_width: u32, clock_mhz: u32) -> f64 {
        let bus = data_width as f64 * clock_mhz as f64 / 1000.0;
        [100.0, 50.0, 40.0, 25.0]
            .into_iter()
            .find(|&g| g <= bus)
            .unwrap_or(10.0)
    }

    /// The build with `sockets` socket slots (docs/tcp-receive.md "Listening sockets"):
    /// `HASH_PER_SOCKET` buckets per slot, and named buffers and buflets for that many
    /// connections: `NUM_NBS = clamp(sockets, 64, 4096)`, `NUM_BUFLETS = clamp(sockets / 4,
    /// 256, 1024)`. `sockets = 64` is the default build. The RTL has the default build at
    /// each width and `buflet_nic_w64_s4096` (sim/models.txt); the model takes any count up to
    /// 65,536.
    pub fn with_sockets(data_width: u32, sockets: u32) -> Self {
        use buflet_spec::param as p;
        DeviceConfig {
            num_sockets: sockets,
            hash_buckets: sockets * p::HASH_PER_SOCKET as u32,
            num_nbs: sockets.clamp(64, 4096),
            num_buflets: (sockets / 4).clamp(p::DEF_NUM_BUFLETS as u32, 1024),
            ..Self::with_width(data_width)
        }
    }

    /// Bytes per datapath word.
    pub fn bus_bytes(&self) -> usize {
        (self.data_width / 8) as usize
    }

    /// MAC-side bytes per clock cycle at the configured line rate.
    pub fn line_bytes_per_cycle(&self) -> f64 {
        self.line_gbps * 1e9 / 8.0 / (self.clock_mhz as f64 * 1e6)
    }

    /// Cycles the wire needs for a frame of `len` bytes, with preamble and inter-frame gap.
    pub fn wire_cycles(&self, len: usize) -> u64 {
        ((len.max(60) + 4 + 20) as f64 / self.line_bytes_per_cycle()).ceil() as u64
    }
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self::with_width(64)
    }
}

/// Host memory and block device: everything outside the device that it touches.
pub struct HostEnv {
    /// Host DRAM.
    pub mem: HostMemory,
    /// The block device behind the block-controller DMA engine.
    pub disk: BlockDevice,
}

/// The host-bus side of a device, implemented by the model and by the Verilated RTL.
///
/// The driver talks only to this trait. Time passes only in [`Device::run`] and in register
/// accesses; host memory and the block device are served from `env` while it does, and the
/// device's MAC serves the [`MacPort`] it was built with (the wire side, not the driver's).
pub trait Device {
    /// "model" or "rtl".
    fn backend(&self) -> &'static str;
    /// The configuration this device was built with.
    fn config(&self) -> &DeviceConfig;
    /// Read a 32-bit register.
    fn reg_read(&mut self, env: &mut HostEnv, addr: u32) -> u32;
    /// Write a 32-bit register.
    fn reg_write(&mut self, env: &mut HostEnv, addr: u32, value: u32);
    /// Advance the clock by `cycles`.
    fn run(&mut self, env: &mut HostEnv, cycles: u64);
    /// Level of the interrupt line.
    fn irq(&self) -> bool;
    /// Clock cycles elapsed since reset.
    fn cycles(&self) -> u64;
    /// Start writing a waveform of every signal to `path` (FST or VCD, as built).
    /// Only the RTL has waveforms; the default says so.
    fn trace_open(&mut self, path: &std::path::Path) -> Result<(), String> {
        Err(format!(
            "{}: the {} backend has no waveforms (use --backend rtl)",
            path.display(),
            self.backend()
        ))
    }
    /// Dump only the cycles `from .. from + cycles` (all after `from` when `cycles` is None) to
    /// the waveform [`Device::trace_open`] opens: a long run's waves around one moment.
    fn trace_window(&mut self, _from: u64, _cycles: Option<u64>) {}
    /// Start recording the inputs of every clock cycle to `path`, to replay them in another
    /// simulator (`buflet_sim::stimulus`). Only the RTL has a stimulus; the default says so.
    fn stimulus_open(&mut self, path: &std::path::Path) -> Result<(), String> {
        Err(format!(
            "{}: the {} backend has no stimulus to record (use --backend rtl)",
            path.display(),
            self.backend()
        ))
    }
    /// End the recording started by [`Device::stimulus_open`] and flush it.
    fn stimulus_close(&mut self) -> Result<(), String> {
        Err(format!(
            "the {} backend records no stimulus",
            self.backend()
        ))
    }
}
