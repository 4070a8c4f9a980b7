//! What the runner and the smoltcp peer share on the storage side: the block-write pump and the
//! temporary disk image.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use buflet_driver::nas::{ExtentFile, NasStream, WriteError};
use buflet_driver::Driver;

/// Block writes the driver keeps outstanding: below the block engine's command FIFO depth (4), so
/// a block write never holds up the named-buffer posts behind it on the request ring.
pub(crate) const BLK_QUEUE_DEPTH: usize = 3;

/// Issues zero-copy block writes of the received stream, `chunk` bytes at a time (the tail at
/// EOF), as data comes in. A failed write is recorded in `failure` by its completion callback.
pub(crate) struct DiskPump {
    pub file: ExtentFile,
    pub chunk: u64,
    /// Stream bytes handed to block writes so far.
    pub issued: u64,
    pub failure: Rc<RefCell<Option<String>>>,
}

impl DiskPump {
    pub fn new(file: ExtentFile, chunk: u64) -> Self {
        DiskPump {
            file,
            chunk,
            issued: 0,
            failure: Rc::new(RefCell::new(None)),
        }
    }

    /// The first block-write failure reported so far.
    pub fn failed(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Issue the block writes the received data allows, within the queue depth.
    pub fn pump(&mut self, drv: &mut Driver, nas: &mut NasStream) -> Result<(), WriteError> {
        let received = nas.received();
        let target = received.min(nas.eof.unwrap_or(u64::MAX));
        while self.issued < target && nas.writes_in_flight() < BLK_QUEUE_DEPTH {
            let avail = target - self.issued;
            let n = if nas.eof == Some(received) && avail <= self.chunk {
                avail
            } else if avail >= self.chunk {
                self.chunk
            } else {
                break;
            };
            let fail = self.failure.clone();
            nas.write(
                drv,
                &self.file,
                self.issued,
                self.issued,
                n,
                Box::new(move |r| {
                    if let Err(e) = r {
                        *fail.borrow_mut() = Some(e.to_string());
                    }
                }),
            )?;
            self.issued += n;
        }
        Ok(())
    }
}

/// A disk image path under the temp directory, unique in this process, removed when dropped.
pub(crate) struct TempImage(pub PathBuf);

impl TempImage {
    pub fn new(kind: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        TempImage(std::env::temp_dir().join(format!(
            "buflet-{}-{}-{}.img",
            std::process::id(),
            kind,
            N.fetch_add(1, Ordering::Relaxed)
        )))
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
