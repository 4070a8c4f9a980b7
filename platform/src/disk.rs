//! The block device: a sparse disk image file of 512-byte sectors with a latency model.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::scsi::{Contexts, DiskLu, HostFailure, ScsiPassThrough, ScsiStats, Sense};

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
    /// An error injected by `--disk-error-rate` (direct mode).
    #[error("injected disk error at LBA {lba}")]
    Injected { lba: u64 },
    /// The SCSI logical unit completed the command with CHECK CONDITION (`--disk scsi`).
    #[error("LBA {lba}: {sense}")]
    Scsi { lba: u64, sense: Sense },
    /// The device stopped answering ([`BlockDevice::stop_answering_after`]): the operation is
    /// neither done nor answered; the harness sends no status and no data for it.
    #[error("the block device did not answer the operation at LBA {lba}")]
    NoAnswer { lba: u64 },
}

impl DiskError {
    /// The image file at `path` failed with `source`.
    fn io(path: &Path, source: std::io::Error) -> Self {
        DiskError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// How block I/O reaches the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskMode {
    /// Straight to the image file.
    Direct,
    /// Through the seed 003 SCSI pass-through to a user-space logical unit.
    Scsi,
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
/// Two writes are equal when they wrote the same bytes at the same sector, whatever their
/// cycles: `at` says when, and the backends' clocks differ.
#[derive(Debug, Clone)]
pub struct DiskWrite {
    /// First sector.
    pub lba: u64,
    /// The bytes written.
    pub data: Vec<u8>,
    /// The device's cycle of the write, when it gave one ([`BlockDevice::write_at`]): the
    /// cycle the block's last word reached the device, on either backend.
    pub at: Option<u64>,
}

impl PartialEq for DiskWrite {
    fn eq(&self, other: &Self) -> bool {
        self.lba == other.lba && self.data == other.data
    }
}

impl Eq for DiskWrite {}

/// A disk image file a user can inspect with standard tools.
pub struct BlockDevice {
    file: File,
    path: PathBuf,
    sectors: u64,
    /// Cycles from a request to its status.
    pub latency: u64,
    stats: DiskStats,
    log: Option<Vec<DiskWrite>>,
    scsi: Option<ScsiPassThrough>,
    /// Error injection in direct mode: probability and generator.
    inject: Option<(f64, ChaCha8Rng)>,
    /// The first failure of the image file itself (a full or failing host file system), as
    /// opposed to an injected or SCSI medium error: the device sees both as `DISK_ERROR`, the
    /// harness tells the user which one it was.
    host_failure: HostFailure,
    /// Operations still answered before the device stops answering for good (`None`: always).
    answers_left: Option<u64>,
}

impl BlockDevice {
    /// A device over the image `file` of `bytes` bytes at `path`: direct mode, default latency,
    /// no write log, no error injection. What `open` and `create` share.
    fn over(file: File, path: &Path, bytes: u64) -> Self {
        BlockDevice {
            file,
            path: path.to_path_buf(),
            sectors: bytes / SECTOR,
            latency: 200,
            stats: DiskStats::default(),
            log: None,
            scsi: None,
            inject: None,
            host_failure: HostFailure::default(),
            answers_left: None,
        }
    }

    /// Answer `n` more operations, then none (a hung device: the block engine's timeout,
    /// register `BLK_TIMEOUT`, is what ends the commands then). `None` answers every one.
    pub fn stop_answering_after(&mut self, n: Option<u64>) {
        self.answers_left = n;
    }

    /// Count one operation against the answers left: `NoAnswer` once there are none.
    fn answer(&mut self, lba: u64) -> Result<(), DiskError> {
        match self.answers_left.as_mut() {
            Some(0) => Err(DiskError::NoAnswer { lba }),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The first failure of the image file on the host (for example "No space left on
    /// device"), if any: not a fault of the device or of the simulated medium.
    /// In SCSI mode the logical unit records it (it answers the initiator MEDIUM ERROR).
    pub fn host_failure(&self) -> Option<String> {
        self.host_failure.lock().ok().and_then(|f| f.clone())
    }

    /// Open an existing image (for example one holding a file system) without changing it.
    pub fn open(path: &Path) -> Result<Self, DiskError> {
        let io = |source| DiskError::io(path, source);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        let bytes = file.metadata().map_err(io)?.len();
        Ok(Self::over(file, path, bytes))
    }

    /// Create (or truncate) a sparse image of `bytes` bytes at `path`.
    pub fn create(path: &Path, bytes: u64) -> Result<Self, DiskError> {
        let io = |source| DiskError::io(path, source);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io)?;
        file.set_len(bytes).map_err(io)?;
        Ok(Self::over(file, path, bytes))
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

    /// Send all further block I/O through the SCSI pass-through to a user-space disk logical unit
    /// (seed 003) that stores to this same image.
    pub fn use_scsi(&mut self) -> Result<(), DiskError> {
        let lu = self.disk_lu()?;
        let ctx = Contexts {
            initiator: 0x4246_4C54, // the NIC's block-controller DMA engine
            lun: 0,
            port: 1,
        };
        self.scsi = Some(ScsiPassThrough::new(Box::new(lu), SECTOR as u32, ctx));
        Ok(())
    }

    /// The user-space logical unit over this image, failing commands as error injection says.
    fn disk_lu(&mut self) -> Result<DiskLu, DiskError> {
        let file = self
            .file
            .try_clone()
            .map_err(|source| DiskError::io(&self.path, source))?;
        let mut lu = DiskLu::new(file, self.path.clone(), self.sectors, SECTOR as u32);
        lu.io_failure = self.host_failure.clone();
        if let Some((p, rng)) = self.inject.take() {
            let mut rng = rng;
            lu.fail = Some(Box::new(move |_cdb: &[u8; 16]| rng.gen_bool(p)));
        }
        Ok(lu)
    }

    /// How block I/O reaches the image.
    pub fn mode(&self) -> DiskMode {
        if self.scsi.is_some() {
            DiskMode::Scsi
        } else {
            DiskMode::Direct
        }
    }

    /// Pass-through counters in SCSI mode.
    pub fn scsi_stats(&self) -> Option<ScsiStats> {
        self.scsi.as_ref().map(ScsiPassThrough::stats)
    }

    /// Address of the buffer the SCSI handler last saw (zero-copy evidence), in SCSI mode.
    pub fn scsi_last_mapped_addr(&self) -> Option<usize> {
        self.scsi.as_ref().and_then(|s| s.last_mapped_addr)
    }

    /// Fail each write or read with probability `p` (seeded): in direct mode as
    /// [`DiskError::Injected`], in SCSI mode as a MEDIUM ERROR CHECK CONDITION from the handler.
    pub fn set_error_rate(&mut self, p: f64, seed: u64) -> Result<(), DiskError> {
        let p = p.clamp(0.0, 1.0);
        self.inject = (p > 0.0).then(|| (p, ChaCha8Rng::seed_from_u64(seed)));
        if self.scsi.is_some() {
            let lu = self.disk_lu()?;
            if let Some(pt) = self.scsi.as_mut() {
                pt.set_handler(Box::new(lu));
            }
        }
        Ok(())
    }

    fn injected(&mut self) -> bool {
        match self.inject.as_mut() {
            Some((p, rng)) => rng.gen_bool(*p),
            None => false,
        }
    }

    /// Turn the write log on (empty) or off.
    pub fn set_write_log(&mut self, on: bool) {
        self.log = on.then(Vec::new);
    }

    /// Take the writes logged so far (empty when logging is off).
    pub fn take_write_log(&mut self) -> Vec<DiskWrite> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// One transfer of `len` bytes (`buf`) at `lba`, after the range check: through the SCSI
    /// pass-through (`scsi`) in SCSI mode, else on the image file at its byte offset (`file`)
    /// unless error injection fails it first. Write and read differ only in these two calls.
    fn transfer<B>(
        &mut self,
        lba: u64,
        len: usize,
        buf: B,
        scsi: impl FnOnce(&mut ScsiPassThrough, u64, B) -> Result<(), Sense>,
        file: impl FnOnce(&File, B, u64) -> std::io::Result<()>,
    ) -> Result<(), DiskError> {
        let off = self.range(lba, len)?;
        if let Some(pt) = self.scsi.as_mut() {
            scsi(pt, lba, buf).map_err(|sense| DiskError::Scsi { lba, sense })
        } else {
            if self.injected() {
                return Err(DiskError::Injected { lba });
            }
            file(&self.file, buf, off).map_err(|source| {
                let e = DiskError::io(&self.path, source);
                if let Ok(mut f) = self.host_failure.lock() {
                    f.get_or_insert_with(|| e.to_string());
                }
                e
            })
        }
    }

    /// Write whole sectors at `lba` in one operation.
    pub fn write(&mut self, lba: u64, data: &[u8]) -> Result<(), DiskError> {
        self.write_logged(lba, data, None)
    }

    /// [`BlockDevice::write`] by a device at its cycle `at` (the one its last word arrived),
    /// which the write log keeps: co-simulation times both backends' disk writes by it.
    pub fn write_at(&mut self, lba: u64, data: &[u8], at: u64) -> Result<(), DiskError> {
        self.write_logged(lba, data, Some(at))
    }

    fn write_logged(&mut self, lba: u64, data: &[u8], at: Option<u64>) -> Result<(), DiskError> {
        self.answer(lba)?;
        if let Some(log) = self.log.as_mut() {
            log.push(DiskWrite {
                lba,
                data: data.to_vec(),
                at,
            });
        }
        self.transfer(
            lba,
            data.len(),
            data,
            |pt, lba, d| pt.write(lba, d),
            |f, d, off| f.write_all_at(d, off),
        )?;
        self.stats.writes += 1;
        self.stats.bytes_written += data.len() as u64;
        Ok(())
    }

    /// Read whole sectors at `lba` in one operation.
    pub fn read(&mut self, lba: u64, out: &mut [u8]) -> Result<(), DiskError> {
        self.answer(lba)?;
        let len = out.len();
        self.transfer(
            lba,
            len,
            out,
            |pt, lba, o| pt.read(lba, o),
            |f, o, off| f.read_exact_at(o, off),
        )?;
        self.stats.reads += 1;
        self.stats.bytes_read += len as u64;
        Ok(())
    }

    /// Read any byte range of the image, for verification by tools and tests.
    pub fn read_bytes(&self, offset: u64, out: &mut [u8]) -> Result<(), DiskError> {
        self.file
            .read_exact_at(out, offset)
            .map_err(|source| DiskError::io(&self.path, source))
    }

    /// Operation counters.
    pub fn stats(&self) -> DiskStats {
        self.stats.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write the image file itself refuses (here: an image opened read-only, as a full or
    /// failing host file system would refuse it) is kept as the host's failure, apart from
    /// injected medium errors (issue 11, item 9: a full disk was reported as a device error).
    #[test]
    fn host_file_failures_are_told_apart_from_medium_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.img");
        BlockDevice::create(&path, 1 << 16).unwrap();
        let mut d = BlockDevice::over(File::open(&path).unwrap(), &path, 1 << 16);
        assert_eq!(d.host_failure(), None);
        d.read(0, &mut [0u8; 512]).unwrap();
        assert!(matches!(d.write(0, &[1u8; 512]), Err(DiskError::Io { .. })));
        let h = d.host_failure().unwrap();
        assert!(h.contains("ro.img"), "{h}");
        // Through the SCSI logical unit (seed 003) the initiator sees MEDIUM ERROR, and the
        // host's failure is still told apart.
        let mut s = BlockDevice::over(File::open(&path).unwrap(), &path, 1 << 16);
        s.use_scsi().unwrap();
        assert!(matches!(
            s.write(0, &[1u8; 512]),
            Err(DiskError::Scsi { .. })
        ));
        let h = s.host_failure().unwrap();
        assert!(h.contains("ro.img"), "{h}");
        // Injected errors are the medium's, not the host's.
        let mut e = BlockDevice::create(&dir.path().join("rw.img"), 1 << 16).unwrap();
        e.set_error_rate(1.0, 1).unwrap();
        assert!(matches!(
            e.write(0, &[1u8; 512]),
            Err(DiskError::Injected { .. })
        ));
        assert_eq!(e.host_failure(), None);
    }

    /// A device told to stop answering does `n` operations, then leaves every later one
    /// undone and unanswered (`NoAnswer`), reads and writes alike.
    #[test]
    fn a_hung_device_answers_nothing_more() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = BlockDevice::create(&dir.path().join("hang.img"), 1 << 16).unwrap();
        d.stop_answering_after(Some(2));
        d.write(0, &[7u8; 512]).unwrap();
        d.read(0, &mut [0u8; 512]).unwrap();
        assert!(matches!(
            d.write(1, &[9u8; 512]),
            Err(DiskError::NoAnswer { lba: 1 })
        ));
        assert!(matches!(
            d.read(0, &mut [0u8; 512]),
            Err(DiskError::NoAnswer { lba: 0 })
        ));
        let mut back = [0u8; 1024];
        d.read_bytes(0, &mut back).unwrap();
        assert_eq!(back[..512], [7u8; 512]);
        assert_eq!(back[512..], [0u8; 512], "the unanswered write was not done");
        assert_eq!((d.stats().writes, d.stats().reads), (1, 1));
    }
}
