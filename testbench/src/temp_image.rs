//! Temporary disk images of the harness: removed when dropped.

use std::path::PathBuf;

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
