//! Checks and fixtures shared by the end-to-end tests (`tests/e2e.rs`, `framed.rs`,
//! `smb2_replay.rs`, `image.rs`, ...) on the report of a run.

use crate::RunReport;

/// What a run that ended well leaves behind: no payload byte copied by the CPU, no device
/// access outside registered memory, every buflet free after SOCK_DEL, and every tx frame the
/// NIC counted seen on the wire. A failure names `ctx`.
pub fn assert_zero_copy_and_no_leaks(r: &RunReport, ctx: &str) {
    assert_eq!(r.cpu_copied_bytes, 0, "the CPU copied payload: {ctx}");
    assert_eq!(
        r.stray_accesses, 0,
        "device touched unregistered memory: {ctx}"
    );
    assert_eq!(
        r.buflets_free_end, r.num_buflets,
        "buflets leaked (free after SOCK_DEL): {ctx}"
    );
    assert_eq!(
        r.tx_frames, r.tx_frames_seen,
        "CNT_TX_FRAMES vs frames on the wire: {ctx}"
    );
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
/// ```ignore
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
