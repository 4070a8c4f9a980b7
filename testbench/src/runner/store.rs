//! The file a run writes: an extent of a raw image or a file of a real file system.

use super::*;

/// Where the file lives on the disk: one extent of a raw disk, or a file of a real file system.
#[derive(Debug, Clone)]
pub(super) enum Store {
    Extent(ExtentFile),
    Fs(FsFile),
}

impl FileMap for Store {
    fn disk_addr(&self, off: u64) -> Option<u64> {
        match self {
            Store::Extent(e) => e.disk_addr(off),
            Store::Fs(f) => f.disk_addr(off),
        }
    }
}

impl Store {
    /// Read file bytes `0..len` back from the image through the mapping.
    pub(super) fn read_back(&self, disk: &BlockDevice, len: u64) -> Result<Vec<u8>, TbError> {
        let mut out = vec![0u8; len as usize];
        let block = buflet_fs::BLOCK;
        for (i, chunk) in out.chunks_mut(block as usize).enumerate() {
            let off = i as u64 * block;
            let addr = self.disk_addr(off).ok_or_else(|| {
                TbError::WriteFailed(format!(
                    "reading the file back: offset {off} is not mapped to the disk"
                ))
            })?;
            disk.read_bytes(addr, chunk)?;
        }
        Ok(out)
    }
}
