//! Checks and fixtures shared by the end-to-end tests (`tests/e2e.rs`, `framed.rs`,
//! `smb2_replay.rs`, `image.rs`, ...) on the report of a run.

use crate::{run_stream, RunOptions, RunReport, Scenario};

/// What a run that ended well leaves behind: no payload byte copied by the CPU, no device
/// access outside registered memory, every buflet free after SOCK_DEL, and every tx frame the
/// NIC counted seen on the wire. A failure names `ctx`.
pub fn assert_zero_copy_and_no_leaks(r: &RunReport, ctx: &str) {
    let buflets = (u64::from(r.buflets_free_end), u64::from(r.num_buflets));
    let checks = [
        ("the CPU copied payload", r.cpu_copied_bytes, 0),
        ("device touched unregistered memory", r.stray_accesses, 0),
        ("buflets leaked (free after SOCK_DEL)", buflets.0, buflets.1),
        (
            "CNT_TX_FRAMES vs frames on the wire",
            r.tx_frames,
            r.tx_frames_seen,
        ),
    ];
    for (what, got, want) in checks {
        assert_eq!(got, want, "{what}: {ctx}");
    }
}

/// Runs `sc` with `opt`; a run that cannot complete panics, naming the backend.
pub fn run_ok(sc: &Scenario, opt: &RunOptions) -> RunReport {
    run_stream(sc, opt).unwrap_or_else(|e| panic!("{}: {e}", opt.backend.name()))
}

/// A temporary directory named `prefix...`, removed when dropped (on every exit path, panics
/// too).
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("a temporary directory")
}

/// Declares, per row `runner => model_test(args).., rtl_test(args)..;`, a `#[test]` on each
/// backend that calls `runner(Backend::Model, args..)` (then `runner(Backend::Rtl, args..)`)
/// once per parenthesised argument list, in order:
///
/// ```text
/// buflet_testbench::backend_tests! {
///     hostile_sg => hostile_sg_model(), hostile_sg_rtl();
///     arp => arp_model(64), arp_rtl(64)(512);
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($runner:path => $model:ident $(($($ma:expr),*))+, $rtl:ident $(($($ra:expr),*))+;)*) => {
        $(
            #[test]
            fn $model() {
                $( $runner($crate::Backend::Model $(, $ma)*); )+
            }

            #[test]
            fn $rtl() {
                $( $runner($crate::Backend::Rtl $(, $ra)*); )+
            }
        )*
    };
}
