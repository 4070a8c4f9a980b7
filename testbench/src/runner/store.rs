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
    /// Hex sha256 of file bytes `0..len` read back from the image through the mapping, a
    /// megabyte at a time (runs of contiguous blocks read at once), so memory stays bounded
    /// whatever the file's length.
    pub(super) fn sha256_back(&self, disk: &BlockDevice, len: u64) -> Result<String, TbError> {
        use sha2::Digest;
        let block = buflet_fs::BLOCK;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; READ_CHUNK as usize];
        let mut off = 0u64;
        while off < len {
            let n = (len - off).min(READ_CHUNK);
            let out = &mut buf[..n as usize];
            // Runs of blocks whose disk addresses follow each other.
            let mut at = 0u64;
            while at < n {
                let addr = self.disk_addr(off + at).ok_or_else(|| {
                    TbError::WriteFailed(format!(
                        "reading the file back: offset {} is not mapped to the disk",
                        off + at
                    ))
                })?;
                let mut run = block.min(n - at);
                while at + run < n && self.disk_addr(off + at + run) == Some(addr + run) {
                    run += block.min(n - at - run);
                }
                disk.read_bytes(addr, &mut out[at as usize..(at + run) as usize])?;
                at += run;
            }
            h.update(&*out);
            off += n;
        }
        Ok(hex::encode(h.finalize()))
    }
}

/// Bytes read back from the image at a time.
const READ_CHUNK: u64 = 1 << 20;
