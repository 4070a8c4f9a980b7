//! The bench: one device (model or RTL) with its host memory, disk, wire and clock, assembled
//! by one builder for the demo, replay, peer, cosim and the tests.
//!
//! The device seam has two sides. The host-bus side (registers, DMA into host memory and the
//! disk, interrupt, clock) goes to the [`Driver`], which is all a host driver gets on a real
//! machine. The wire side is a [`WirePort`] the bench keeps for whoever plays the network:
//! frames sent there reach the device's MAC as its clock runs, and what the MAC transmits comes
//! back out of it. The driver never forwards a frame.

use crate::{make_device, Backend, TbError};
use buflet_driver::Driver;
use buflet_platform::scratch::Scratch;
use buflet_platform::{link, BlockDevice, DeviceConfig, HostEnv, HostMemory, WirePort};
use std::path::{Path, PathBuf};

/// Host memory of a bench unless [`BenchBuilder::mem`] says otherwise.
pub const DEFAULT_MEM_BYTES: u64 = 16 << 20;
/// Disk of a bench unless the builder is given one.
pub const DEFAULT_DISK_BYTES: u64 = 1 << 20;

/// A device brought up by its driver, with its wire, host memory, disk and clock.
pub struct Bench {
    /// The host driver, on the device's host-bus side with host memory and the disk.
    pub drv: Driver,
    /// The harness's end of the device's wire.
    pub wire: WirePort,
    /// The scratch directory holding the disk image when the bench made it: removed when
    /// dropped (keep it alive as long as the driver when taking the bench apart).
    pub scratch: Option<Scratch>,
}

/// What the disk of a bench starts as.
enum DiskSpec {
    /// A zeroed scratch image of this many bytes.
    Blank(u64),
    /// A scratch image holding these bytes.
    Contents(Vec<u8>),
    /// The caller's disk (its image is the caller's to keep or remove).
    Given(Box<BlockDevice>),
}

/// Builds a [`Bench`]: backend, device configuration, host memory, disk, waveform.
pub struct BenchBuilder {
    backend: Backend,
    cfg: DeviceConfig,
    mem_bytes: u64,
    disk: DiskSpec,
    trace: Option<PathBuf>,
    trace_window: (u64, Option<u64>),
    stimulus: Option<PathBuf>,
    name: String,
}

impl Bench {
    /// A builder for a bench on `backend`: the default 64-bit build, 16 MiB of host memory,
    /// a blank 1 MiB scratch disk.
    pub fn builder(backend: Backend) -> BenchBuilder {
        BenchBuilder {
            backend,
            cfg: DeviceConfig::default(),
            mem_bytes: DEFAULT_MEM_BYTES,
            disk: DiskSpec::Blank(DEFAULT_DISK_BYTES),
            trace: None,
            trace_window: (0, None),
            stimulus: None,
            name: "bench".into(),
        }
    }

    /// The device's clock: cycles since reset.
    pub fn cycles(&self) -> u64 {
        self.drv.cycles()
    }

    /// Core clock in MHz, as the device reports it (at least 1, for converting cycles to time).
    pub fn clock_mhz(&self) -> u32 {
        self.drv.info.clock_mhz.max(1)
    }

    /// The disk image's path.
    pub fn image(&self) -> &Path {
        self.drv.env.disk.path()
    }
}

impl BenchBuilder {
    /// The default build at datapath width `bits`.
    pub fn width(mut self, bits: u32) -> Self {
        self.cfg = DeviceConfig::with_width(bits);
        self
    }

    /// A device configuration of its own.
    pub fn config(mut self, cfg: DeviceConfig) -> Self {
        self.cfg = cfg;
        self
    }

    /// Bytes of host memory.
    pub fn mem(mut self, bytes: u64) -> Self {
        self.mem_bytes = bytes;
        self
    }

    /// A zeroed scratch disk of `bytes`, removed with the bench.
    pub fn blank_disk(mut self, bytes: u64) -> Self {
        self.disk = DiskSpec::Blank(bytes);
        self
    }

    /// A scratch disk holding `contents` (its size), removed with the bench.
    pub fn disk_contents(mut self, contents: Vec<u8>) -> Self {
        self.disk = DiskSpec::Contents(contents);
        self
    }

    /// The caller's disk, prepared as it needs (a file system, SCSI emulation, injected
    /// errors); its image outlives the bench.
    pub fn disk(mut self, disk: BlockDevice) -> Self {
        self.disk = DiskSpec::Given(Box::new(disk));
        self
    }

    /// Write a waveform of every signal to `path` (RTL only; the model says it has none).
    pub fn trace(mut self, path: Option<PathBuf>) -> Self {
        self.trace = path;
        self
    }

    /// Dump only cycles `from .. from + cycles` of the waveform (`cycles` None: to the end).
    pub fn trace_window(mut self, from: u64, cycles: Option<u64>) -> Self {
        self.trace_window = (from, cycles);
        self
    }

    /// Record the RTL's inputs of every cycle after reset to `path` (bring-up included), to
    /// replay them in Icarus Verilog (`buflet_sim::stimulus`); the model has none.
    pub fn stimulus(mut self, path: Option<PathBuf>) -> Self {
        self.stimulus = path;
        self
    }

    /// A name for the scratch image, to tell benches apart in a directory listing.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Make the disk and host memory, build the device on a fresh wire and bring it up.
    pub fn build(self) -> Result<Bench, TbError> {
        let backend = self.backend;
        let scratch = || {
            crate::scratch_image(
                "buflet-bench-",
                &format!("{}-{}.img", self.name, backend.name()),
            )
        };
        let (disk, scratch) = match self.disk {
            DiskSpec::Given(d) => (*d, None),
            DiskSpec::Blank(bytes) => {
                let (dir, path) = scratch()?;
                (BlockDevice::create(&path, bytes)?, Some(dir))
            }
            DiskSpec::Contents(c) => {
                let (dir, path) = scratch()?;
                std::fs::write(&path, &c).map_err(|e| TbError::Input {
                    path: path.display().to_string(),
                    msg: e.to_string(),
                })?;
                (BlockDevice::open(&path)?, Some(dir))
            }
        };
        let env = HostEnv {
            mem: HostMemory::new(self.mem_bytes),
            disk,
        };
        let (mac, wire) = link();
        let mut dev = make_device(backend, self.cfg, mac)?;
        if let Some(t) = &self.trace {
            dev.trace_window(self.trace_window.0, self.trace_window.1);
            dev.trace_open(t)
                .map_err(|e| TbError::Backend(backend.name().into(), e))?;
        }
        if let Some(t) = &self.stimulus {
            dev.stimulus_open(t)
                .map_err(|e| TbError::Backend(backend.name().into(), e))?;
        }
        let drv = Driver::new(dev, env)?;
        Ok(Bench { drv, wire, scratch })
    }
}
