//! The block device: a sparse disk image file of 512-byte sectors with a latency model.

use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Sector size of the block device.
pub const SECTOR: u64 = 512;

/// A block device error, as reported to the block-controller DMA engine.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The access is not sector-aligned or not a whole number of sectors.
    #[error("unaligned block access at byte {addr} of {len} bytes")]
    Unaligned { addr: u64, len: usize },
    /// The access runs past the end of the disk.
    #[error("block access at LBA {lba} of {len} bytes is beyond the disk end ({sectors} sectors)")]
    OutOfRange { lba: u64, len: usize, sectors: u64 },
    /// The image file failed.
    #[error("disk image {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Operation counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiskStats {
    /// Write operations.
    pub writes: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Read operations.
    pub reads: u64,
    /// Bytes read.
    pub bytes_read: u64,
}

/// One block-device write, recorded while the write log is on (co-simulation compares them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskWrite {
    /// First sector.
    pub lba: u64,
    /// The bytes written.
    pub data: Vec<u8>,
}

/// A disk image file a user can inspect with standard tools.
pub struct BlockDevice {
    file: File,
    path: PathBuf,
    sectors: u64,
    /// Cycles from a request to its status.
    pub latency: u64,
    stats: DiskStats,
    log: Option<Vec<DiskWrite>>,
}

impl BlockDevice {
    /// Open an existing image (for example one holding a file system) without changing it.
    pub fn open(path: &Path) -> Result<Self, DiskError> {
        let io = |source| DiskError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        Ok(BlockDevice {
            file,
            path: path.to_path_buf(),
            sectors: bytes / SECTOR,
            latency: 200,
            stats: DiskStats::default(),
            log: None,
        })
    }

    /// Create (or truncate) a sparse image of `bytes` bytes at `path`.
    pub fn create(path: &Path, bytes: u64) -> Result<Self, DiskError> {
        let io = |source| DiskError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io)?;
        file.set_len(bytes).map_err(io)?;
        Ok(BlockDevice {
            file,
            path: path.to_path_buf(),
            sectors: bytes / SECTOR,
            latency: 200,
            stats: DiskStats::default(),
            log: None,
        })
    }

    /// Path of the image file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Capacity in sectors.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    fn range(&self, lba: u64, len: usize) -> Result<u64, DiskError> {
        if !(len as u64).is_multiple_of(SECTOR) {
            return Err(DiskError::Unaligned {
                addr: lba * SECTOR,
                len,
            });
        }
        if lba
            .checked_add(len as u64 / SECTOR)
            .is_none_or(|end| end > self.sectors)
        {
            return Err(DiskError::OutOfRange {
                lba,
                len,
                sectors: self.sectors,
            });
        }
        Ok(lba * SECTOR)
    }

    /// Turn the write log on (empty) or off.
    pub fn set_write_log(&mut self, on: bool) {
        self.log = on.then(Vec::new);
    }

    /// Take the writes logged so far (empty when logging is off).
    pub fn take_write_log(&mut self) -> Vec<DiskWrite> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Write whole sectors at `lba` in one operation.
    pub fn write(&mut self, lba: u64, data: &[u8]) -> Result<(), DiskError> {
        if let Some(log) = self.log.as_mut() {
            log.push(DiskWrite {
                lba,
                data: data.to_vec(),
            });
        }
        let off = self.range(lba, data.len())?;
        self.file
            .write_all_at(data, off)
            .map_err(|source| DiskError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.stats.writes += 1;
        self.stats.bytes_written += data.len() as u64;
        Ok(())
    }

    /// Read whole sectors at `lba` in one operation.
    pub fn read(&mut self, lba: u64, out: &mut [u8]) -> Result<(), DiskError> {
        let off = self.range(lba, out.len())?;
        self.file
            .read_exact_at(out, off)
            .map_err(|source| DiskError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.stats.reads += 1;
        self.stats.bytes_read += out.len() as u64;
        Ok(())
    }

    /// Read any byte range of the image, for verification by tools and tests.
    pub fn read_bytes(&self, offset: u64, out: &mut [u8]) -> Result<(), DiskError> {
        self.file
            .read_exact_at(out, offset)
            .map_err(|source| DiskError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// Operation counters.
    pub fn stats(&self) -> DiskStats {
        self.stats.clone()
    }
}
