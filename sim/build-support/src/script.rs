//! The build script proper: reads the environment cargo gives a build
//! script, runs the steps of the crate documentation, and prints the
//! `cargo:` directives.

use std::collections::BTreeSet;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use crate::codegen::{broken_rs, gen_shim, models_rs, write_if_changed};
use crate::compile::{archive, compile_unit, compiler, hash_headers, Unit};
use crate::make_vars::{fst_libs, parse_make_vars, switch};
use crate::models_txt::{parse_models, retain_only};
use crate::pool::{num_jobs, run_pool};
use crate::port_structs::{cache_text, parse_cache, ports_rs};
use crate::verilate::{verilate, Verilated};
use crate::verilator::{find_verilator, verilator_root, verilator_version};
use crate::{Error, ModelSpec, PortDecl, Result, Trace};

/// Environment variables the build reads (besides cargo's).
pub const WATCHED_ENV: [&str; 9] = [
    "VERILATOR",
    "VERILATOR_ROOT",
    "BUFLET_TRACE",
    "BUFLET_SIM_OPT_FAST",
    "BUFLET_SIM_OPT_SLOW",
    "BUFLET_SIM_CXXSTD",
    "BUFLET_SIM_DEBUG",
    "BUFLET_SIM_ONLY",
    "CXXSTDLIB",
];

/// The `main` of `sim/build.rs`: runs the build, and on failure prints the
/// error and exits with status 1.
pub fn run_build_script() {
    if let Err(e) = run() {
        eprintln!("error: buflet-sim build failed:\n{e}");
        std::process::exit(1);
    }
}

fn env_req(name: &str) -> Result<String> {
    env::var(name).map_err(|_| Error::Env(name.to_string()))
}

/// Runs the whole build (see the crate documentation).
pub fn run() -> Result<()> {
    let manifest_dir = PathBuf::from(env_req("CARGO_MANIFEST_DIR")?);
    let ws_root = manifest_dir
        .parent()
        .ok_or_else(|| Error::BadEnv("CARGO_MANIFEST_DIR has no parent".into()))?
        .to_path_buf();
    let out_dir = PathBuf::from(env_req("OUT_DIR")?);

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=models.txt");
    println!("cargo:rerun-if-changed=csrc");
    for var in WATCHED_ENV {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let models_txt = manifest_dir.join("models.txt");
    let text = fs::read_to_string(&models_txt).map_err(|e| Error::Io {
        what: format!("cannot read {}", models_txt.display()),
        source: e,
    })?;
    let mut specs = parse_models(&text, &ws_root)?;
    let all_specs = specs.clone();
    // Development aid: BUFLET_SIM_ONLY=prefix,prefix... builds only those models (a model that is
    // not built fails at Model::new with a clear error), so one module can be iterated on while
    // another is mid-change.
    if let Ok(only) = env::var("BUFLET_SIM_ONLY") {
        retain_only(&mut specs, &only);
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

    let trace = Trace::from_env_value(&env::var("BUFLET_TRACE").unwrap_or_default())?;

    if specs.is_empty() {
        println!("cargo:warning=buflet-sim: sim/models.txt lists no models; building an empty model table");
        let version = find_verilator()
            .ok()
            .and_then(|v| verilator_version(&v, verilator_root(&v).ok().as_deref()).ok())
            .unwrap_or_else(|| "(not found)".into());
        println!("cargo:rustc-env=BUFLET_VERILATOR_VERSION={version}");
        write_tables(&out_dir, &all_specs, &[], &[], &[], trace)?;
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
        return Err(Error::Verilator(format!(
            "Verilator's include directory {} has no verilated.h (VERILATOR_ROOT={})",
            vinclude.display(),
            vroot.display()
        )));
    }

    let jobs = num_jobs();

    // 1+2: Verilate all models in parallel.
    let models_dir = out_dir.join("models");
    fs::create_dir_all(&models_dir).map_err(|e| Error::io(&models_dir, e))?;
    let results = run_pool(jobs, &specs, |spec| {
        verilate(&verilator, &ws_root, &models_dir, spec, trace)
    });
    // A model that fails to Verilate is left out of the table with its error, and the rest are
    // built: `Model::new` on it then fails with that error (so every test that needs it fails
    // loudly), while models of other modules stay usable during a change.
    let mut verilated = Vec::new();
    let mut kept = Vec::new();
    let mut broken: Vec<(String, String)> = Vec::new();
    let mut broken_errors = Vec::new();
    for (spec, r) in specs.into_iter().zip(results) {
        match r {
            Ok(v) => {
                verilated.push(v);
                kept.push(spec);
            }
            Err(e) => {
                let e_text = e.to_string();
                println!(
                    "cargo:warning=buflet-sim: {} NOT BUILT: {}",
                    spec.prefix,
                    e_text.lines().next().unwrap_or("")
                );
                broken.push((spec.prefix.clone(), e_text));
                broken_errors.push(e);
            }
        }
    }
    let specs = kept;
    if specs.is_empty() {
        fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, e))?;
        write_if_changed(&out_dir.join("broken.rs"), &broken_rs(&broken))?;
        return Err(Error::Many(broken_errors));
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

    // 3: shims, models.rs, broken.rs, ports.rs.
    let shim_dir = out_dir.join("shims");
    fs::create_dir_all(&shim_dir).map_err(|e| Error::io(&shim_dir, e))?;
    let mut shim_files = Vec::new();
    for (spec, v) in specs.iter().zip(&verilated) {
        let path = shim_dir.join(format!("{}_shim.cpp", spec.prefix));
        write_if_changed(&path, &gen_shim(spec, &v.ports))?;
        shim_files.push(path);
    }
    write_tables(&out_dir, &all_specs, &specs, &verilated, &broken, trace)?;

    // 4: compile and link.
    let ctx = Ctx {
        manifest_dir: &manifest_dir,
        out_dir: &out_dir,
        vinclude: &vinclude,
        runtime_key: format!("{version}|{}", vroot.display()),
        trace,
        jobs,
    };
    compile_and_link(&ctx, &specs, &verilated, &shim_files)
}

/// Writes `models.rs`, `broken.rs` and `ports.rs` into `out_dir`.
///
/// The port list of every model built is also kept in
/// `out_dir/port_cache/<PREFIX>.txt`; a model of `all_specs` that is not
/// built this time (`BUFLET_SIM_ONLY`, or Verilator failed on it) still gets
/// its typed port struct from there, so that the tests using it compile (and
/// fail at `Model::new` with the reason) rather than break the build of every
/// other test.
fn write_tables(
    out_dir: &Path,
    all_specs: &[ModelSpec],
    specs: &[ModelSpec],
    verilated: &[Verilated],
    broken: &[(String, String)],
    trace: Trace,
) -> Result<()> {
    let ports: Vec<&[PortDecl]> = verilated.iter().map(|v| v.ports.as_slice()).collect();
    write_if_changed(&out_dir.join("broken.rs"), &broken_rs(broken))?;
    write_if_changed(&out_dir.join("models.rs"), &models_rs(specs, &ports, trace))?;

    let cache_dir = out_dir.join("port_cache");
    fs::create_dir_all(&cache_dir).map_err(|e| Error::io(&cache_dir, e))?;
    for (spec, v) in specs.iter().zip(verilated) {
        write_if_changed(
            &cache_dir.join(format!("{}.txt", spec.prefix)),
            &cache_text(&spec.top, &v.ports),
        )?;
    }
    // Every model of models.txt, in its order: built ones with their ports,
    // the others with their cached ports if any.
    let mut struct_specs: Vec<ModelSpec> = Vec::new();
    let mut struct_ports: Vec<Vec<PortDecl>> = Vec::new();
    for spec in all_specs {
        if let Some(i) = specs.iter().position(|s| s.prefix == spec.prefix) {
            struct_specs.push(spec.clone());
            struct_ports.push(verilated[i].ports.clone());
        } else if let Some(ports) =
            fs::read_to_string(cache_dir.join(format!("{}.txt", spec.prefix)))
                .ok()
                .and_then(|t| parse_cache(&t, &spec.top))
        {
            struct_specs.push(spec.clone());
            struct_ports.push(ports);
        }
    }
    let refs: Vec<&[PortDecl]> = struct_ports.iter().map(Vec::as_slice).collect();
    write_if_changed(&out_dir.join("ports.rs"), &ports_rs(&struct_specs, &refs))
}

/// What the compile step needs besides the models.
struct Ctx<'a> {
    manifest_dir: &'a Path,
    out_dir: &'a Path,
    vinclude: &'a Path,
    /// Cache key part of everything: the Verilator version and root.
    runtime_key: String,
    trace: Trace,
    jobs: usize,
}

/// Compiles the runtime, the models and their shims into
/// `libbuflet_sim_models.a` and prints the link directives.
fn compile_and_link(
    ctx: &Ctx<'_>,
    specs: &[ModelSpec],
    verilated: &[Verilated],
    shim_files: &[PathBuf],
) -> Result<()> {
    let (out_dir, vinclude) = (ctx.out_dir, ctx.vinclude);
    // The runtime's own make fragment tells us the C++ standard and flags the
    // Verilator installation was configured with.
    let vmk_text = fs::read_to_string(vinclude.join("verilated.mk")).map_err(|e| Error::Io {
        what: format!("{}/verilated.mk", vinclude.display()),
        source: e,
    })?;
    let vmk = parse_make_vars(&vmk_text);
    let cfg = |name: &str| -> Vec<String> { vmk.get(name).cloned().unwrap_or_default() };
    let any_timing = verilated
        .iter()
        .any(|v| switch(&v.classes, "VM_TIMING") != "0");

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
    common.push(format!("-I{}", ctx.manifest_dir.join("csrc").display()));
    for v in verilated {
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
    let runtime_key = &ctx.runtime_key;
    // Verilator runtime: the union of VM_GLOBAL_* over all models, once.
    let mut globals: BTreeSet<String> = BTreeSet::new();
    for v in verilated {
        for var in ["VM_GLOBAL_FAST", "VM_GLOBAL_SLOW"] {
            globals.extend(v.classes.get(var).cloned().unwrap_or_default());
        }
    }
    match ctx.trace {
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
        src: ctx.manifest_dir.join("csrc/buflet_sim_rt.cpp"),
        obj_dir: out_dir.join("obj/runtime"),
        tool: &tool_fast,
        extra_key: runtime_key.clone(),
    });
    for ((spec, v), shim) in specs.iter().zip(verilated).zip(shim_files) {
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

    let results = run_pool(ctx.jobs, &units, |u| compile_unit(u, &common));
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(o) => objects.push(o),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Many(errors));
    }

    // One static library with everything.
    let lib = out_dir.join("libbuflet_sim_models.a");
    archive(&lib, &objects)?;

    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-lib=static=buflet_sim_models");
    let stdlib = env::var("CXXSTDLIB")
        .unwrap_or_else(|_| default_cxx_stdlib(&env::var("TARGET").unwrap_or_default()).into());
    if !stdlib.is_empty() {
        println!("cargo:rustc-link-lib={stdlib}");
    }
    if ctx.trace == Trace::Fst {
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

/// The C++ standard library to link for a target triple.
pub fn default_cxx_stdlib(target: &str) -> &'static str {
    if target.contains("apple") || target.contains("freebsd") || target.contains("openbsd") {
        "c++"
    } else {
        "stdc++"
    }
}

/// Prints `rerun-if-changed` for `path` and everything under it.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cxx_stdlib() {
        assert_eq!(default_cxx_stdlib("x86_64-unknown-linux-gnu"), "stdc++");
        assert_eq!(default_cxx_stdlib("aarch64-apple-darwin"), "c++");
        assert_eq!(default_cxx_stdlib("x86_64-unknown-freebsd"), "c++");
    }
}
