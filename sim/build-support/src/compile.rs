//! Compiling the generated C++ with an object cache, and archiving.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, Result};

/// One C++ source to compile.
#[derive(Debug)]
pub struct Unit<'a> {
    /// The source file.
    pub src: PathBuf,
    /// Where its object (and cache key) go.
    pub obj_dir: PathBuf,
    /// The compiler.
    pub tool: &'a cc::Tool,
    /// Extra input of the cache key (e.g. a hash of the model's headers).
    pub extra_key: String,
}

/// A `cc` build configured for C++ with the given optimization level.
pub fn base_build(opt: &str, debug: bool) -> cc::Build {
    let mut b = cc::Build::new();
    b.cpp(true)
        .opt_level_str(opt)
        .debug(debug)
        .warnings(false)
        .extra_warnings(false)
        .cargo_metadata(false);
    b
}

/// The C++ compiler and its base flags for an optimization level.
pub fn compiler(opt: &str, debug: bool) -> Result<cc::Tool> {
    let mut b = base_build(opt, debug);
    let probe = b
        .try_get_compiler()
        .map_err(|e| Error::Compile(e.to_string()))?;
    if debug && probe.is_like_gnu() && !probe.is_like_clang() {
        // Keeps gcc's compile time reasonable on the huge generated functions.
        b.flag("-fno-var-tracking-assignments");
    }
    b.try_get_compiler()
        .map_err(|e| Error::Compile(e.to_string()))
}

/// Compiles `u` with `common` flags, unless its object is up to date (same
/// source content, command line and extra key as last time); returns the
/// object's path.
pub fn compile_unit(u: &Unit<'_>, common: &[String]) -> Result<PathBuf> {
    fs::create_dir_all(&u.obj_dir).map_err(|e| Error::io(&u.obj_dir, e))?;
    let stem = u
        .src
        .file_stem()
        .ok_or_else(|| Error::Compile("source without a file name".into()))?
        .to_string_lossy()
        .into_owned();
    let obj = u.obj_dir.join(format!("{stem}.o"));
    let key_path = u.obj_dir.join(format!("{stem}.key"));
    let mut cmd = u.tool.to_command();
    cmd.args(common);
    let src = fs::read(&u.src).map_err(|e| Error::io(&u.src, e))?;
    let key = cache_key(&u.extra_key, &u.src, &cmd, &src);
    if obj.is_file() && fs::read_to_string(&key_path).ok().as_deref() == Some(key.as_str()) {
        return Ok(obj);
    }
    let _ = fs::remove_file(&key_path);
    cmd.arg("-c").arg(&u.src).arg("-o").arg(&obj);
    run_checked(&mut cmd, &format!("compiling {}", u.src.display()))
        .map_err(|e| Error::Compile(format!("{e}{}", missing_lib_hint(&e))))?;
    fs::write(&key_path, key).map_err(|e| Error::io(&key_path, e))?;
    Ok(obj)
}

/// The object cache key: the command's program and arguments (not its
/// environment, which holds per-run values such as the jobserver's file
/// descriptors), the source's path and content, and `extra`.
pub fn cache_key(extra: &str, src_path: &Path, cmd: &Command, src: &[u8]) -> String {
    let mut h = Fnv::new();
    let mut desc = format!("{extra}|{}|", src_path.display());
    desc.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        desc.push(' ');
        desc.push_str(&a.to_string_lossy());
    }
    h.write(desc.as_bytes());
    h.write(src);
    format!("{:016x}\n", h.finish())
}

/// A hint for a compile error caused by a missing tracing library.
fn missing_lib_hint(err: &str) -> &'static str {
    if err.contains("lz4.h") {
        "\nhint: FST tracing with this Verilator needs the lz4 headers and library \
         (apt-get install liblz4-dev), or use BUFLET_TRACE=vcd"
    } else if err.contains("zlib.h") {
        "\nhint: FST tracing needs zlib (apt-get install zlib1g-dev), or use BUFLET_TRACE=vcd"
    } else {
        ""
    }
}

/// Runs `cmd`; on failure returns a message with the command and its
/// output (stderr cut at 20,000 bytes).
pub fn run_checked(cmd: &mut Command, what: &str) -> std::result::Result<(), String> {
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

/// A hash of the names and contents of the `.h` files in `dir`.
pub fn hash_headers(dir: &Path) -> Result<u64> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "h"))
        .collect();
    names.sort();
    let mut h = Fnv::new();
    for n in names {
        h.write(n.file_name().unwrap_or_default().as_encoded_bytes());
        h.write(&fs::read(&n).map_err(|e| Error::io(&n, e))?);
    }
    Ok(h.finish())
}

/// Archives `objects` into the static library `lib` (replacing it).
pub fn archive(lib: &Path, objects: &[PathBuf]) -> Result<()> {
    let _ = fs::remove_file(lib);
    let mut ar = base_build("0", false)
        .try_get_archiver()
        .map_err(|e| Error::Compile(e.to_string()))?;
    ar.arg("crs").arg(lib).args(objects);
    run_checked(&mut ar, "archiving the Verilated models").map_err(Error::Compile)
}

/// FNV-1a, 64 bit: a stable hash for the object cache keys.
#[derive(Debug, Clone)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv {
    /// A fresh hash.
    pub fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    /// Adds `bytes` (consecutive writes are kept apart).
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // Separate consecutive writes.
        self.0 = self.0.rotate_left(5) ^ 0xff;
    }
    /// The hash value.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable_and_separates_writes() {
        // pinned: a change would silently invalidate (or worse, alias) cached objects
        let mut h = Fnv::new();
        h.write(b"ab");
        let ab = h.finish();
        let mut h2 = Fnv::new();
        h2.write(b"a");
        h2.write(b"b");
        assert_ne!(ab, h2.finish());
        let mut h3 = Fnv::new();
        h3.write(b"ab");
        assert_eq!(ab, h3.finish());
        let mut e = Fnv::new();
        e.write(b"");
        assert_eq!(e.finish(), 0xcbf2_9ce4_8422_2325u64.rotate_left(5) ^ 0xff);
    }

    #[test]
    fn cache_key_covers_flags_path_and_content() {
        let mut a = Command::new("c++");
        a.args(["-O2", "-Ix"]);
        let mut b = Command::new("c++");
        b.args(["-O3", "-Ix"]);
        let p = Path::new("/o/x.cpp");
        let k = cache_key("k", p, &a, b"int x;");
        assert_eq!(k, cache_key("k", p, &a, b"int x;"));
        assert!(k.ends_with('\n') && k.len() == 17);
        assert_ne!(k, cache_key("k", p, &b, b"int x;"));
        assert_ne!(k, cache_key("k2", p, &a, b"int x;"));
        assert_ne!(k, cache_key("k", Path::new("/o/y.cpp"), &a, b"int x;"));
        assert_ne!(k, cache_key("k", p, &a, b"int y;"));
        // the environment is not part of the key
        a.env("CARGO_MAKEFLAGS", "-j --jobserver-fds=3,4");
        assert_eq!(k, cache_key("k", p, &a, b"int x;"));
    }

    #[test]
    fn hints() {
        assert!(missing_lib_hint("fatal error: lz4.h: No such file").contains("liblz4-dev"));
        assert!(missing_lib_hint("zlib.h: No such file").contains("zlib1g-dev"));
        assert_eq!(missing_lib_hint("error: expected ;"), "");
    }

    #[test]
    fn run_checked_reports_failure() {
        assert!(run_checked(&mut Command::new("true"), "t").is_ok());
        let e = run_checked(&mut Command::new("false"), "doing x").unwrap_err();
        assert!(e.starts_with("doing x failed ("), "{e}");
        let e = run_checked(&mut Command::new("/nonexistent/tool"), "doing y").unwrap_err();
        assert!(e.starts_with("doing y: cannot run"), "{e}");
    }
}
