//! The provisioning scripts `run.sh` sources, run by bash against fakes on `PATH`.

use std::process::Command;

/// A fake `apt-cache` whose policy names `candidate` in its first lines and then goes on for
/// far longer than a pipe buffer, so a reader that stops early kills it with SIGPIPE.
fn fake_apt(dir: &std::path::Path, candidate: &str) {
    let script = format!(
        "#!/bin/sh\necho 'verilator:'\necho '  Installed: (none)'\necho '  Candidate: {candidate}'\ni=0\nwhile [ $i -lt 20000 ]; do echo '     500 http://deb.debian.org/debian bookworm/main amd64 Packages'; i=$((i+1)); done\n"
    );
    let p = dir.join("apt-cache");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Run `apt_candidate_is <version>` under `set -euo pipefail` (as run.sh does) with the fake.
fn candidate_is(dir: &std::path::Path, version: &str) -> bool {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let st = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; . '{root}/scripts/ensure-verilator.sh'; apt_candidate_is '{version}'"
        ))
        .env("PATH", path)
        .status()
        .unwrap();
    st.success()
}

/// Debian's package is taken when apt offers the pinned version, however long the policy is
/// (issue 11, item 10: `apt-cache policy | grep -q` failed by SIGPIPE under pipefail, so a root
/// Debian machine always fell through to the PyPI wheel).
#[test]
fn apt_candidate_check_survives_a_long_policy() {
    let dir = tempfile::tempdir().unwrap();
    fake_apt(dir.path(), "5.006-3");
    assert!(candidate_is(dir.path(), "5.006"));
    assert!(!candidate_is(dir.path(), "5.020"));
}

/// `scripts/iscsi-conformance.sh` refuses a bad option with one line and exit 2, before it
/// touches the network (no root needed).
#[test]
fn iscsi_conformance_refuses_bad_options() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for args in [
        &["--backend", "fpga"][..],
        &["--mode", "copy"][..],
        &["--tests", "ALL;rm -rf /"][..],
        &["--rw-bytes", "lots"][..],
        &["--timeout", "-1"][..],
        &["--frobnicate"][..],
    ] {
        let out = Command::new("bash")
            .arg(format!("{root}/scripts/iscsi-conformance.sh"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("iscsi-conformance: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
