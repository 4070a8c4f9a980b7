//! The NAS application a run drives (raw stream, SMB2, BFW1) and the file it writes to (an extent of a raw image or a file of a real file system).

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

/// What the NAS application does with the stream.
pub(super) enum App {
    /// The stream is the file at offset 0.
    Raw(DiskPump<Store>),
    /// SMB2 WRITEs at their file offsets.
    Smb2(Smb2App),
    /// BFW1 records at their file offsets.
    Framed(FramedApp),
}

impl App {
    pub(super) fn pump(
        &mut self,
        drv: &mut Driver,
        nas: &mut NasStream,
        store: &Store,
    ) -> Result<(), TbError> {
        match self {
            App::Raw(p) => p.pump(drv, nas)?,
            App::Smb2(a) => a.pump(drv, nas, store)?,
            App::Framed(a) => a.pump(drv, nas, store)?,
        }
        Ok(())
    }

    pub(super) fn failed(&self) -> Option<String> {
        match self {
            App::Raw(p) => p.failed(),
            App::Smb2(a) => a.failed(),
            App::Framed(a) => a.failed(),
        }
    }

    /// File bytes on disk so far.
    pub(super) fn written(&self, nas: &NasStream) -> u64 {
        match self {
            App::Raw(_) => nas.written(),
            App::Smb2(a) => a.written(),
            App::Framed(a) => a.written(),
        }
    }

    pub(super) fn done(&self, nas: &NasStream) -> bool {
        match self {
            App::Raw(_) => {
                nas.eof.is_some_and(|e| nas.written() >= e) && nas.writes_in_flight() == 0
            }
            App::Smb2(a) => a.done(nas),
            App::Framed(a) => a.done(nas),
        }
    }
}
