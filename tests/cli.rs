//! The command line refuses hostile options with one line on stderr and exit status 2, before
//! it allocates or simulates anything (issue 11, items 4 and 9).

use std::process::{Command, Output};

fn buflet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_buflet"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

/// Exit status 2 and a message on stderr naming `needle`, with no backtrace or panic.
fn refused(args: &[&str], needle: &str) {
    let o = buflet(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{args:?}: {err}"
    );
    assert!(o.stdout.is_empty(), "{args:?}");
}

/// `demo --bytes 2000000000` aborted on allocation with a backtrace.
#[test]
fn stream_lengths_past_the_limit_are_refused() {
    for n in ["2000000000", "10000000000", "18446744073709551615"] {
        refused(&["demo", "--bytes", n], "a run holds in memory");
        refused(&["peer", "--bytes", n], "a run holds in memory");
    }
    refused(&["demo", "--bytes", "-1"], "invalid digit");
}

/// `--disk-error-rate -0.5` said "unexpected argument '-0'".
#[test]
fn negative_probabilities_are_named_as_such() {
    refused(
        &["demo", "--disk-error-rate", "-0.5"],
        "-0.5 is not a probability",
    );
    refused(&["demo", "--disk-error-rate", "1.5"], "not a probability");
}

/// `--image PATH` turned any existing file into an ext4 image (issue 11, item 5): a file that
/// is not a Buflet image is left alone unless `--force` is given.
#[test]
fn image_refuses_to_overwrite_a_foreign_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, "my notes\n").unwrap();
    let ps = p.to_str().unwrap();
    let o = buflet(&["demo", "--bytes", "5000", "--image", ps]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not a Buflet disk image") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), b"my notes\n");
    // With --force it is overwritten, and the image it becomes may be overwritten again.
    for args in [&["--force"][..], &[][..]] {
        let mut a = vec!["demo", "--bytes", "5000", "--image", ps];
        a.extend_from_slice(args);
        let o = buflet(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(buflet_fs::is_buflet_image(&p));
}
