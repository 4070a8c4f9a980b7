//! Choosing a backend: the Rust model or the Verilated RTL, behind one trait.

use buflet_platform::{Device, DeviceConfig, MacPort};

/// Which implementation of the device to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The cycle-approximate Rust model.
    Model,
    /// The Verilog RTL under Verilator.
    Rtl,
}

impl Backend {
    /// Both backends, for tests that must run on each.
    pub const ALL: [Backend; 2] = [Backend::Model, Backend::Rtl];

    /// "model" or "rtl".
    pub fn name(self) -> &'static str {
        match self {
            Backend::Model => "model",
            Backend::Rtl => "rtl",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "model" => Ok(Backend::Model),
            "rtl" => Ok(Backend::Rtl),
            _ => Err(format!("unknown backend '{s}' (expected model or rtl)")),
        }
    }
}

/// Build a device of the given backend and configuration, its MAC on `mac` (most callers want
/// the whole [`crate::Bench`] instead).
pub fn make_device(
    backend: Backend,
    cfg: DeviceConfig,
    mac: MacPort,
) -> Result<Box<dyn Device>, crate::TbError> {
    match backend {
        Backend::Model => Ok(Box::new(buflet_model::ModelDevice::new(cfg, mac))),
        Backend::Rtl => buflet_sim::RtlDevice::new(cfg, mac)
            .map(|d| Box::new(d) as Box<dyn Device>)
            .map_err(|e| crate::TbError::Backend("rtl".into(), e.to_string())),
    }
}
