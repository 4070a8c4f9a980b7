//! Checks shared by the RTL module tests (`tests/rtl_*`), which drive Verilated models through
//! `buflet_sim`.

use buflet_sim::axis::{AxisBus, AxisSink, AxisSource};
use buflet_sim::{Model, Port};

/// Holds `rst` high for `cycles` clock edges of `clk`, then releases it (not yet evaluated).
pub fn reset(m: &mut Model, clk: Port, rst: Port, cycles: usize) {
    m.set(rst, 1);
    for _ in 0..cycles {
        m.tick(clk);
    }
    m.set(rst, 0);
}

/// The two ends of a stream module's test: a source driving `input` that idles with
/// probability `idle` (garbage on the bus while not valid; its generator seeded with `seed`)
/// and a sink on the output stream `m_axis` that stalls with probability `stall` (seeded with
/// `seed ^ 0x5eed_5eed`).
pub fn stream_ends(
    m: &Model,
    input: AxisBus,
    idle: f64,
    stall: f64,
    seed: u64,
) -> (AxisSource, AxisSink) {
    let src = AxisSource::new(m, input, idle, seed)
        .expect("source")
        .garbage_when_idle(true);
    let out = AxisBus::from_prefix(m, "m_axis", &[]).expect("output bus m_axis");
    let sink = AxisSink::new(m, out, stall, seed ^ 0x5eed_5eed).expect("sink");
    (src, sink)
}

/// Counts one more cycle of a run loop (`*cycles += 1`) and fails the run, with the message
/// `what()`, once `limit` cycles have run.
pub fn count_cycle(cycles: &mut u64, limit: u64, what: impl FnOnce() -> String) {
    *cycles += 1;
    assert!(*cycles < limit, "{}", what());
}

/// The end of a run: sets each of `inputs` to its value (input valids low, output readies
/// high), then checks for `cycles` cycles that every port of `quiet` (output valids, event
/// pulses) stays 0; a port that does not is named after `ctx`.
pub fn assert_quiet(
    m: &mut Model,
    clk: Port,
    inputs: &[(Port, u64)],
    quiet: &[Port],
    cycles: usize,
    ctx: &str,
) {
    for &(port, v) in inputs {
        m.set(port, v);
    }
    for c in 0..cycles {
        m.eval();
        for &port in quiet {
            let name = m.info().ports[port.index()].name;
            assert_eq!(
                m.get(port),
                0,
                "{ctx}: spurious {name}, {c} cycles after the end"
            );
        }
        m.tick(clk);
    }
}

/// Declares one `#[test]` per row, each calling `runner` with the row's arguments (a model, its
/// widths, a seed, rates, ...), so that a table of runs reads as one:
///
/// ```text
/// buflet_testbench::run_table! { run;
///     fifo_w64_random: ("sync_fifo_w64", 64, 11);
///     fifo_w16_random: ("sync_fifo_d8", 16, 12);
/// }
/// ```
#[macro_export]
macro_rules! run_table {
    ($runner:path; $($name:ident: ($($arg:expr),* $(,)?);)*) => {
        $(
            #[test]
            fn $name() {
                $runner($($arg),*);
            }
        )*
    };
}
