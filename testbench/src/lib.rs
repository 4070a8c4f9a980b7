//! Scenarios that exercise the whole system on either backend: the built-in demo stream,
//! replays of real packet captures, and the helpers the end-to-end tests share.
//!
//! Frames are built and parsed with etherparse, never with Buflet's own packet code, and data
//! is checked by the sha256 of what landed on the disk image.

pub mod backend;
pub mod bench;
pub mod bench_suite;
pub mod cosim;
pub mod e2e_check;
pub mod faults;
pub mod frames;
pub mod fuzz;
pub mod live;
pub mod lookup_bench;
pub mod pcap;
pub mod peer;
pub mod rate_bench;
pub mod rtl_check;
pub mod runner;
pub mod simspeed;
pub mod sparse;
pub mod traces;

pub use backend::{make_device, Backend};
pub use bench::{Bench, BenchBuilder};
pub use buflet_fs::FsKind;
pub use runner::{
    framed_demo_records, framed_stream, run_multi, run_stream, ConnReport, DropCounts,
    FramedRecord, MultiOptions, MultiReport, Protocol, RunOptions, RunReport, Scenario,
};

/// The longest stream a demo or peer run sends: the scenario, its frames, the reference and
/// the read-back are held in memory, so a run stays within a few times this.
pub const MAX_STREAM_BYTES: u64 = 256 << 20;

/// Failures of a scenario.
#[derive(Debug, thiserror::Error)]
pub enum TbError {
    /// A capture or payload file could not be read or parsed.
    #[error("{path}: {msg}")]
    Input { path: String, msg: String },
    /// The backend could not be created.
    #[error("backend {0}: {1}")]
    Backend(String, String),
    /// The driver failed.
    #[error("driver: {0}")]
    Driver(#[from] buflet_driver::DriverError),
    /// A zero-copy write failed.
    #[error("zero-copy write: {0}")]
    Write(#[from] buflet_nas::WriteError),
    /// The disk image failed.
    #[error("disk: {0}")]
    Disk(#[from] buflet_platform::DiskError),
    /// A block write failed for good (after the writer's retries), or the NAS application met
    /// a stream it cannot parse.
    #[error("write failed: {0}")]
    WriteFailed(String),
    /// The scenario asks for something the system does not do (p2p with a protocol whose
    /// headers the CPU must read).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The file system holding the disk image failed (full, or an I/O error): the NIC saw a
    /// `DISK_ERROR`, but the fault is the host's, not the device's or the medium's.
    #[error("the host file system under the disk image failed: {0} (the NIC saw it as DISK_ERROR; free space or move the image, this is not a device fault)")]
    HostDisk(String),
    /// The live server (`buflet serve`) could not run: its TAP interface or one of its
    /// threads failed.
    #[error("{0}")]
    Live(String),
    /// The run stopped making progress.
    #[error("stalled: {0}")]
    Stalled(String),
    /// The NIC transmitted something a TCP receiver must not (wrong addresses, checksum,
    /// flags, sequence or acknowledgment numbers, handshake options).
    #[error("protocol: {0}")]
    Protocol(String),
}

impl From<buflet_nas::ServeError> for TbError {
    fn from(e: buflet_nas::ServeError) -> Self {
        match e {
            buflet_nas::ServeError::Driver(e) => TbError::Driver(e),
            buflet_nas::ServeError::Write(e) => TbError::Write(e),
            buflet_nas::ServeError::App(e) => TbError::WriteFailed(e),
        }
    }
}

/// A fresh scratch directory (removed on every exit path, signals included) and the path of
/// an image file `name` in it.
pub(crate) fn scratch_image(
    prefix: &str,
    name: &str,
) -> Result<(buflet_platform::scratch::Scratch, std::path::PathBuf), TbError> {
    let dir = buflet_platform::scratch::Scratch::dir(prefix).map_err(|e| TbError::Input {
        path: std::env::temp_dir().display().to_string(),
        msg: format!("cannot make a scratch directory: {e}"),
    })?;
    let path = dir.path().join(name);
    Ok((dir, path))
}

/// Hex sha256 of a byte slice.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Declares, at the root of a test target split into modules, one `#[test]` per listed
/// function (`module => { name, ... }`), so test names stay what they were in one file.
#[macro_export]
macro_rules! test_list {
    ($($m:path => { $($name:ident),* $(,)? }),* $(,)?) => {
        $($(
            #[test]
            fn $name() {
                use $m as m;
                m::$name()
            }
        )*)*
    };
}

/// Writes `rows` to `path` as CSV with a header row from the fields' names (the `csv` crate):
/// the one CSV writer of the reports (cosim's steps, `buflet bench`, `buflet fpga`).
pub fn write_csv_rows<T: serde::Serialize>(
    path: &std::path::Path,
    rows: &[T],
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_path(path)?;
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    Ok(())
}
