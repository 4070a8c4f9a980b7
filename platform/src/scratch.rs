//! Scratch files and directories (disk images, staging trees) removed on every exit path:
//! when their guard drops (normal return, error, panic) and, once [`remove_on_signals`] is
//! installed, on SIGINT, SIGTERM and SIGHUP, which end a process without running destructors.
//!
//! Each [`Scratch`] registers its path in one process-wide list while it lives; the signal
//! handler (run on its own thread by the `ctrlc` crate, not in signal context) removes
//! everything still listed and exits with status 130.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Paths alive now, by guard id.
static LIVE: Mutex<BTreeMap<u64, PathBuf>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

fn live() -> MutexGuard<'static, BTreeMap<u64, PathBuf>> {
    // A panic while the list was held leaves it intact: keep using it.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A scratch directory under the temporary directory, removed with everything in it when the
/// guard drops or the process is ended by a signal.
#[derive(Debug)]
pub struct Scratch {
    id: u64,
    path: PathBuf,
}

impl Scratch {
    /// Make a fresh directory `<tmp>/<prefix>XXXXXX`.
    pub fn dir(prefix: &str) -> std::io::Result<Scratch> {
        let path = tempfile::Builder::new().prefix(prefix).tempdir()?.keep();
        Ok(Scratch::adopt(path))
    }

    /// Take charge of an existing path (file or directory) the caller made.
    pub fn adopt(path: PathBuf) -> Scratch {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        live().insert(id, path.clone());
        Scratch { id, path }
    }

    /// The directory (or adopted path).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        live().remove(&self.id);
        remove(&self.path);
    }
}

fn remove(p: &Path) {
    if p.is_dir() {
        let _ = std::fs::remove_dir_all(p);
    } else {
        let _ = std::fs::remove_file(p);
    }
}

/// Remove every scratch path alive now (what the signal handler does before exiting).
pub fn remove_all() {
    let paths: Vec<PathBuf> = std::mem::take(&mut *live()).into_values().collect();
    for p in paths {
        remove(&p);
    }
}

/// A flag a long-running command (`buflet serve`) raises on the first signal instead of
/// exiting, so it can finish on its own path (scratch removed by the guards' drops).
static INTERRUPT: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Make the next SIGINT, SIGTERM or SIGHUP raise the returned flag instead of exiting; a
/// second signal exits as usual. For one long-running loop per process.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    INTERRUPT
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone()
}

/// Install the handler that removes every scratch path on SIGINT, SIGTERM or SIGHUP and exits
/// with status 130 (unless [`interrupt_flag`] was taken and not yet raised: then it raises
/// it). For programs (the CLI); a second call is an error.
pub fn remove_on_signals() -> Result<(), String> {
    ctrlc::set_handler(|| {
        if let Some(f) = INTERRUPT.get() {
            if !f.swap(true, Ordering::SeqCst) {
                return;
            }
        }
        remove_all();
        std::process::exit(130);
    })
    .map_err(|e| format!("cannot install the signal handler: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_on_drop_and_by_remove_all() {
        let a = Scratch::dir("buflet-scratch-test-").unwrap();
        std::fs::write(a.path().join("x.img"), b"x").unwrap();
        let pa = a.path().to_path_buf();
        drop(a);
        assert!(!pa.exists());
        let b = Scratch::dir("buflet-scratch-test-").unwrap();
        let f = b.path().join("f");
        std::fs::write(&f, b"y").unwrap();
        let file = Scratch::adopt(f.clone());
        let pb = b.path().to_path_buf();
        remove_all();
        assert!(!f.exists() && !pb.exists());
        drop(file);
        drop(b);
    }
}
