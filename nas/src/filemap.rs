//! Where a file's bytes live on the block device: the NAS writer's view of a file system.

/// Where a file's bytes live on the block device.
pub trait FileMap {
    /// Disk byte address of file offset `off` (a multiple of the block size), if mapped.
    fn disk_addr(&self, off: u64) -> Option<u64>;
}

/// A file stored as one contiguous extent of the disk.
#[derive(Debug, Clone, Copy)]
pub struct ExtentFile {
    /// Disk byte address of file offset 0 (block aligned).
    pub disk_start: u64,
    /// Largest file size the extent holds.
    pub capacity: u64,
}

impl FileMap for ExtentFile {
    fn disk_addr(&self, off: u64) -> Option<u64> {
        (off < self.capacity).then_some(self.disk_start + off)
    }
}
