//! Running Verilator on one model and reading what it produced.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::make_vars::{parse_make_vars, MakeVars};
use crate::ports::{parse_ports, PortDecl};
use crate::verilator::PROVISION_HINT;
use crate::{Error, ModelSpec, Result, Trace};

/// What Verilator produced for one model.
#[derive(Debug, Clone)]
pub struct Verilated {
    /// The model's output directory (`-Mdir`).
    pub mdir: PathBuf,
    /// The make variables of `V<PREFIX>_classes.mk`.
    pub classes: MakeVars,
    /// The top module's ports, in header order.
    pub ports: Vec<PortDecl>,
    /// Number of `%Warning` lines Verilator printed.
    pub warnings: usize,
}

/// The Verilator command line for `spec`, run from `ws_root`, output in `mdir`.
pub fn verilator_command(
    verilator: &Path,
    ws_root: &Path,
    mdir: &Path,
    spec: &ModelSpec,
    trace: Trace,
) -> Command {
    let class = format!("V{}", spec.prefix);
    let mut cmd = Command::new(verilator);
    cmd.current_dir(ws_root)
        .arg("--cc")
        .arg("--prefix")
        .arg(&class)
        .arg("--top-module")
        .arg(&spec.top)
        .arg("-Mdir")
        .arg(mdir)
        .args([
            "-Wno-fatal",
            // ... except the elaboration checks of parameters ($error/$fatal in generate
            // blocks, rtl/buflet_checks.vh): a bad models.txt parameter must stop the build
            "-Werror-USERERROR",
            "-Werror-USERFATAL",
            "-O3",
            "--x-assign",
            "fast",
            "--x-initial",
            "fast",
        ]);
    match trace {
        Trace::Off => {}
        Trace::Fst => {
            cmd.arg("--trace-fst");
        }
        Trace::Vcd => {
            cmd.arg("--trace");
        }
    }
    for d in &spec.dirs {
        cmd.arg(format!("-I{d}")).arg("-y").arg(d);
    }
    for (k, v) in &spec.params {
        cmd.arg(format!("-G{k}={v}"));
    }
    cmd.args(&spec.vflags);
    cmd.arg(&spec.top_file);
    cmd
}

/// Verilates `spec` into `models_dir/<PREFIX>` (emptied first), keeps
/// Verilator's output in `verilator.log` there, and reads the class lists
/// and ports.
pub fn verilate(
    verilator: &Path,
    ws_root: &Path,
    models_dir: &Path,
    spec: &ModelSpec,
    trace: Trace,
) -> Result<Verilated> {
    let mdir = models_dir.join(&spec.prefix);
    // Start from an empty directory so that no stale file survives.
    if mdir.exists() {
        fs::remove_dir_all(&mdir).map_err(|e| Error::io(&mdir, e))?;
    }
    fs::create_dir_all(&mdir).map_err(|e| Error::io(&mdir, e))?;
    let class = format!("V{}", spec.prefix);
    let mut cmd = verilator_command(verilator, ws_root, &mdir, spec, trace);
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| {
        Error::Verilator(format!(
            "cannot run {}: {e}\n{PROVISION_HINT}",
            verilator.display()
        ))
    })?;
    let log = format!(
        "{shown}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = fs::write(mdir.join("verilator.log"), &log);
    if !out.status.success() {
        return Err(Error::Verilate(format!(
            "Verilator failed on model {} (top {}, {}):\n{log}",
            spec.prefix, spec.top, spec.top_file
        )));
    }
    let warnings = count_warnings(&String::from_utf8_lossy(&out.stderr));
    let mk_path = mdir.join(format!("{class}_classes.mk"));
    let classes =
        parse_make_vars(&fs::read_to_string(&mk_path).map_err(|e| Error::io(&mk_path, e))?);
    let n_fast = classes.get("VM_CLASSES_FAST").map(Vec::len).unwrap_or(0);
    if n_fast == 0 {
        return Err(Error::Verilate(format!(
            "{} lists no VM_CLASSES_FAST: unexpected Verilator output",
            mk_path.display()
        )));
    }
    let h_path = mdir.join(format!("{class}.h"));
    let header = fs::read_to_string(&h_path).map_err(|e| Error::io(&h_path, e))?;
    let ports = parse_ports(&header).map_err(|source| Error::Ports {
        header: h_path.clone(),
        source,
    })?;
    if ports.is_empty() {
        return Err(Error::Verilate(format!(
            "{}: found no port declarations",
            h_path.display()
        )));
    }
    Ok(Verilated {
        mdir,
        classes,
        ports,
        warnings,
    })
}

/// Number of `%Warning` lines in Verilator's stderr.
pub fn count_warnings(stderr: &str) -> usize {
    stderr.lines().filter(|l| l.starts_with("%Warning")).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        let params = [("WIDTH", "8"), ("NAME", "\"a b\"")];
        ModelSpec::fixture(
            "fifo_w8",
            "sync_fifo",
            &params,
            &["rtl", "lib"],
            &["-Wno-WIDTH"],
        )
    }

    fn args(trace: Trace) -> Vec<String> {
        let cmd = verilator_command(
            Path::new("/bin/verilator"),
            Path::new("/ws"),
            Path::new("/out/models/fifo_w8"),
            &spec(),
            trace,
        );
        assert_eq!(cmd.get_current_dir(), Some(Path::new("/ws")));
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn command_line() {
        let a = args(Trace::Off);
        assert_eq!(
            a.join(" "),
            "--cc --prefix Vfifo_w8 --top-module sync_fifo -Mdir /out/models/fifo_w8 \
             -Wno-fatal -Werror-USERERROR -Werror-USERFATAL -O3 --x-assign fast --x-initial fast \
             -Irtl -y rtl -Ilib -y lib -GWIDTH=8 -GNAME=\"a b\" -Wno-WIDTH rtl/sync_fifo.v"
        );
        // one argument each (no shell splits them): the parameter keeps its space
        assert_eq!(a.len(), 25);
        assert_eq!(a[22], "-GNAME=\"a b\"");
    }

    #[test]
    fn trace_flags() {
        assert!(args(Trace::Fst).contains(&"--trace-fst".to_string()));
        let vcd = args(Trace::Vcd);
        assert!(vcd.contains(&"--trace".to_string()));
        assert!(!vcd.contains(&"--trace-fst".to_string()));
    }

    #[test]
    fn warnings_are_counted() {
        let stderr = "%Warning-WIDTH: rtl/x.v:3:5: ...\n    : ... note\n%Warning-UNUSED: rtl/x.v:9:1\n%Error: nope\n";
        assert_eq!(count_warnings(stderr), 2);
    }
}
