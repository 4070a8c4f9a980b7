//! A GTKWave save file beside an FST waveform (issue 15): every signal of the design grouped by
//! module instance, one closed group per instance in hierarchy order (labelled with the
//! instance path: Verilator's FST names no module types), generate blocks folded into their
//! module's group, so `gtkwave w.gtkw` opens the run with the design laid out by module. Written from the FST's own hierarchy (the fst-reader crate), so it always names the
//! signals the file holds.

use std::fmt::Write as _;
use std::io::{BufReader, Write as _};
use std::path::{Path, PathBuf};

use fst_reader::{FstHierarchyEntry, FstReader};

/// GTKWave trace flags (its savefile format): right-justified hex or binary values, and the
/// markers of a closed group's first and last line.
const HEX: &str = "@22";
const BIN: &str = "@28";
const GROUP_CLOSED_BEGIN: &str = "@c00200";
const GROUP_CLOSED_END: &str = "@1401200";

/// One module instance: its dotted path and its signals (name relative to the instance, width).
struct Instance {
    path: String,
    signals: Vec<(String, u32)>,
}

/// The instances of the FST at `fst` that hold signals, in hierarchy order.
fn instances(fst: &Path) -> Result<Vec<Instance>, String> {
    let f = std::fs::File::open(fst).map_err(|e| format!("{}: {e}", fst.display()))?;
    let mut r = FstReader::open(BufReader::new(f))
        .map_err(|e| format!("{}: not an FST file ({e:?})", fst.display()))?;
    let mut out: Vec<Instance> = Vec::new();
    // the open scopes: (name, index into `out` of its instance)
    let mut stack: Vec<usize> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    r.read_hierarchy(|e| match e {
        FstHierarchyEntry::Scope { name, .. } => {
            // A generate block (named g_* in rtl/) is not an instance: its signals go to the
            // group of the module around it (Verilator marks both as module scopes).
            let generate = name.starts_with("g_") && !stack.is_empty();
            names.push(name);
            if generate {
                stack.push(*stack.last().expect("an enclosing scope"));
            } else {
                out.push(Instance {
                    path: names.join("."),
                    signals: Vec::new(),
                });
                stack.push(out.len() - 1);
            }
        }
        FstHierarchyEntry::UpScope => {
            names.pop();
            stack.pop();
        }
        FstHierarchyEntry::Var { name, length, .. } => {
            if let Some(&i) = stack.last() {
                // relative to the instance: a generate block's signals keep its name
                let at = names.join(".");
                let rel = at[out[i].path.len()..].trim_start_matches('.');
                let name = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}.{name}")
                };
                out[i].signals.push((name, length));
            }
        }
        _ => {}
    })
    .map_err(|e| format!("{}: bad FST hierarchy ({e:?})", fst.display()))?;
    out.retain(|i| !i.signals.is_empty());
    Ok(out)
}

/// The GTKWave name of a signal: its dotted path and, for a vector, its bit range right after
/// the name, as GTKWave names it (Verilator writes `addr [11:0]`; GTKWave shows `addr[11:0]`;
/// a vector with no range in its name gets `[width-1:0]`).
fn trace_name(path: &str, name: &str, width: u32) -> String {
    let name = name.replace(" [", "[");
    if width > 1 && !name.ends_with(']') {
        format!("{path}.{name}[{}:0]", width - 1)
    } else {
        format!("{path}.{name}")
    }
}

/// Write `<fst without extension>.gtkw` for the FST at `fst` and return its path. The file is
/// written beside it under a temporary name and renamed, so a failure leaves nothing behind.
pub fn write_view(fst: &Path) -> Result<PathBuf, String> {
    let insts = instances(fst)?;
    let view = fst.with_extension("gtkw");
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "[*] Buflet: the signals of each module instance, one group each"
    );
    let _ = writeln!(s, "[dumpfile] \"{}\"", abs(fst).display());
    let _ = writeln!(s, "[savefile] \"{}\"", abs(&view).display());
    let _ = writeln!(s, "[timestart] 0");
    let _ = writeln!(s, "[sst_width] 280");
    let _ = writeln!(s, "[signals_width] 320");
    let _ = writeln!(s, "[sst_expanded] 1");
    for i in &insts {
        let label = format!("-{}", i.path);
        let _ = writeln!(s, "{GROUP_CLOSED_BEGIN}\n{label}");
        for (name, width) in &i.signals {
            let flag = if *width > 1 { HEX } else { BIN };
            let _ = writeln!(s, "{flag}\n{}", trace_name(&i.path, name, *width));
        }
        let _ = writeln!(s, "{GROUP_CLOSED_END}\n{label}");
    }
    let dir = view.parent().filter(|d| !d.as_os_str().is_empty());
    let mut tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new(".")))
        .map_err(|e| format!("{}: {e}", view.display()))?;
    tmp.write_all(s.as_bytes())
        .map_err(|e| format!("{}: {e}", view.display()))?;
    tmp.persist(&view)
        .map_err(|e| format!("{}: {}", view.display(), e.error))?;
    // a view to share like the waveform (the temporary file was private)
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&view, std::fs::Permissions::from_mode(0o644));
    }
    Ok(view)
}
