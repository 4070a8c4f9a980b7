//! Build logic of `buflet-sim`, as a library with tests: Verilates every
//! model listed in `sim/models.txt`, compiles the generated C++ (plus the
//! Verilator runtime, once) into one static library, and generates the
//! Rust/C++ glue that `buflet-sim`'s `src/lib.rs` exposes as a safe API.
//!
//! `sim/build.rs` only calls [`run_build_script`]. The steps, per model line
//! `PREFIX TOP [PARAM=VALUE ...] [dir=DIR ...] [vflag=FLAG ...]`
//! ([`models_txt`]):
//! 1. `verilator --cc --prefix V<PREFIX> ...` into `$OUT_DIR/models/<PREFIX>`
//!    (run from the workspace root, so paths in messages stay relative;
//!    [`verilator`] finds the tool and its version, [`verilate`] runs it);
//! 2. read `V<PREFIX>_classes.mk` for the C++ file lists (this file exists,
//!    with the same variable names, in Verilator 4 and 5, whatever the file
//!    layout of the generated code; [`make_vars`]) and `V<PREFIX>.h` for the
//!    ports ([`ports`]);
//! 3. write `$OUT_DIR/shims/<PREFIX>_shim.cpp` (the `extern "C"` entry
//!    points), and, for all models, `$OUT_DIR/models.rs`, `$OUT_DIR/broken.rs`
//!    and `$OUT_DIR/ports.rs` (typed port structs, one per top module)
//!    ([`codegen`]);
//! 4. compile everything with a pool of `NUM_JOBS` compiler processes (the
//!    compiler and its base flags come from the `cc` crate); an object whose
//!    source, headers and flags did not change since the last run is reused,
//!    so changing one model's RTL recompiles only what Verilator changed
//!    ([`compile`], [`pool`]).
//!
//! [`script`] ties the steps together.

pub mod codegen;
pub mod compile;
pub mod make_vars;
pub mod models_txt;
pub mod pool;
pub mod port_structs;
pub mod ports;
pub mod script;
pub mod verilate;
pub mod verilator;

use std::path::{Path, PathBuf};

pub use models_txt::{parse_models, ModelSpec, ModelsTxtError};
pub use ports::{parse_ports, Dir, PortDecl, PortError};
pub use script::run_build_script;

/// Errors of the build. Their messages are what the build script prints
/// (and, for a model Verilator failed on, what `Model::new` reports).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required environment variable (set by cargo) is missing.
    #[error("environment variable {0} is not set")]
    Env(String),
    /// An environment variable has a value the build does not understand.
    #[error("{0}")]
    BadEnv(String),
    /// A line of `sim/models.txt` is wrong.
    #[error("sim/models.txt:{line}: {kind}\n    {raw}")]
    ModelsTxt {
        /// 1-based line number.
        line: usize,
        /// The line as written.
        raw: String,
        /// What is wrong with it.
        kind: Box<ModelsTxtError>,
    },
    /// A file or directory operation failed; `what` names the path.
    #[error("{what}: {source}")]
    Io {
        /// The path, or what was done to it.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Verilator is missing, too old, or cannot be run.
    #[error("{0}")]
    Verilator(String),
    /// Verilator failed on a model, or its output is not what we expect.
    #[error("{0}")]
    Verilate(String),
    /// A port declaration of a generated header cannot be handled.
    #[error("{}: {source}", header.display())]
    Ports {
        /// The header.
        header: PathBuf,
        /// What is wrong.
        source: PortError,
    },
    /// Compiling or archiving failed.
    #[error("{0}")]
    Compile(String),
    /// Several errors (one per failed model or compile unit).
    #[error("{}", join_errors(.0))]
    Many(Vec<Error>),
}

fn join_errors(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n\n")
}

impl Error {
    /// An [`Error::Io`] naming `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            what: path.display().to_string(),
            source,
        }
    }
}

/// Result of the build steps.
pub type Result<T> = std::result::Result<T, Error>;

/// Waveform tracing the models are built with (`BUFLET_TRACE`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Trace {
    /// No tracing.
    Off,
    /// FST tracing (the default; `BUFLET_TRACE=1` or `fst`): waveforms are a runtime switch
    /// (`Model::trace_open`), so `--trace` works from the normal build.
    Fst,
    /// VCD tracing (`BUFLET_TRACE=vcd`).
    Vcd,
}

impl Trace {
    /// Parses the value of `BUFLET_TRACE` (empty when unset: FST).
    pub fn from_env_value(v: &str) -> Result<Trace> {
        match v.trim() {
            "0" | "off" | "no" => Ok(Trace::Off),
            "" | "1" | "fst" | "yes" | "on" => Ok(Trace::Fst),
            "vcd" => Ok(Trace::Vcd),
            other => Err(Error::BadEnv(format!(
                "BUFLET_TRACE={other:?} is not understood: use 1 or fst (FST tracing), vcd (VCD tracing) or 0 (off)"
            ))),
        }
    }
}

/// True for a C identifier (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idents() {
        assert!(is_ident("sync_fifo_w64"));
        assert!(is_ident("_x1"));
        assert!(!is_ident("1x"));
        assert!(!is_ident(""));
        assert!(!is_ident("a-b"));
        assert!(!is_ident("a.b"));
    }

    #[test]
    fn trace_values() {
        for v in ["0", "off", "no", " 0 "] {
            assert_eq!(Trace::from_env_value(v).unwrap(), Trace::Off, "{v:?}");
        }
        for v in ["", "1", "fst", "yes", "on"] {
            assert_eq!(Trace::from_env_value(v).unwrap(), Trace::Fst, "{v:?}");
        }
        assert_eq!(Trace::from_env_value("vcd").unwrap(), Trace::Vcd);
        let e = Trace::from_env_value("lxt").unwrap_err().to_string();
        assert!(
            e.starts_with("BUFLET_TRACE=\"lxt\" is not understood"),
            "{e}"
        );
    }

    #[test]
    fn many_errors_join_with_blank_lines() {
        let e = Error::Many(vec![
            Error::Compile("a".into()),
            Error::Verilate("b".into()),
        ]);
        assert_eq!(e.to_string(), "a\n\nb");
    }
}
