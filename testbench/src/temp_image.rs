//! Temporary disk images of the harness: removed when dropped, and on SIGINT/SIGTERM once the
//! program installed `buflet_platform::scratch::remove_on_signals`.

use buflet_platform::scratch::Scratch;
use std::path::PathBuf;

/// A disk image path in a fresh scratch directory, removed (with the directory) when dropped.
pub(crate) struct TempImage {
    pub path: PathBuf,
    _dir: Scratch,
}

impl TempImage {
    pub fn new(kind: &str) -> Result<Self, crate::TbError> {
        let dir = Scratch::dir("buflet-run-").map_err(|e| crate::TbError::Input {
            path: std::env::temp_dir().display().to_string(),
            msg: format!("cannot make a scratch directory: {e}"),
        })?;
        Ok(TempImage {
            path: dir.path().join(format!("{kind}.img")),
            _dir: dir,
        })
    }
}
