//! Scratch files and directories (disk images, staging trees) removed on every exit path:
//! when their guard drops (normal return, error, panic) and, once [`remove_on_signals`] is
//! installed, on SIGINT, SIGTERM and SIGHUP, which end a process without running destructors.
//!
//! Each [`Scratch`] registers its path in one process-wide list while it lives; the signal
//! handler (run on its own thread by the `ctrlc` crate, not in signal context) kills the child
//! processes started by [`run_child`] (they may be writing into a scratch directory), removes
//! everything still listed and exits with status 130.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

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

/// Child processes of [`run_child`] running now, by id.
static CHILDREN: Mutex<BTreeMap<u64, Arc<Mutex<Child>>>> = Mutex::new(BTreeMap::new());

fn children() -> MutexGuard<'static, BTreeMap<u64, Arc<Mutex<Child>>>> {
    CHILDREN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run `cmd` to its end and give its exit status, like [`Command::status`], but as a child
/// the signal handler kills (and [`kill_children`] too): a long tool run (Yosys, nextpnr)
/// does not outlive the command that started it.
pub fn run_child(cmd: &mut Command) -> std::io::Result<ExitStatus> {
    let child = Arc::new(Mutex::new(cmd.spawn()?));
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    children().insert(id, child.clone());
    let r = loop {
        let polled = child.lock().unwrap_or_else(|e| e.into_inner()).try_wait();
        match polled {
            Ok(Some(s)) => break Ok(s),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => break Err(e),
        }
    };
    children().remove(&id);
    r
}

/// Kill every child of [`run_child`] running now (what the signal handler does first).
pub fn kill_children() {
    let list: Vec<Arc<Mutex<Child>>> = children().values().cloned().collect();
    for c in list {
        let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
        let _ = c.kill();
        let _ = c.wait();
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
        kill_children();
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

    #[test]
    fn children_run_to_their_end_or_are_killed() {
        let ok = run_child(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        assert_eq!(ok.code(), Some(3));
        let t = std::thread::spawn(|| run_child(Command::new("sleep").arg("600")).unwrap());
        while children().is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        }
        kill_children();
        let st = t.join().unwrap();
        assert!(!st.success() && st.code().is_none(), "{st:?}");
        assert!(children().is_empty());
    }
}
