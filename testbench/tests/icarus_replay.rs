//! Icarus Verilog replays a stimulus recorded from the Verilated NIC (buflet_sim::stimulus)
//! and counts the same outputs: the two simulators agree cycle for cycle on the same top. RTL
//! only: the model has no Verilog to replay.

use buflet_testbench::rate_bench::{measure_recorded, Capture, DEFAULT_LINE_GBPS};
use buflet_testbench::simspeed::{replay, rtl_idle};
use buflet_testbench::Backend;

fn names(width: u32) -> Vec<&'static str> {
    let cfg = buflet_platform::DeviceConfig::with_width(width);
    let info = buflet_sim::model_info(buflet_sim::build_for(&cfg).unwrap()).unwrap();
    info.ports
        .iter()
        .filter(|p| p.dir == buflet_sim::Dir::Out && p.width == 1)
        .map(|p| p.name)
        .collect()
}

fn check(width: u32, traffic: bool) {
    let dir = tempfile::tempdir().unwrap();
    let stim = dir.path().join("s.stim");
    if traffic {
        let p = measure_recorded(
            Backend::Rtl,
            width,
            1500,
            20,
            DEFAULT_LINE_GBPS,
            &Capture {
                stimulus: Some(stim.clone()),
                trace: None,
            },
        )
        .unwrap();
        assert!(p.verified);
    } else {
        rtl_idle(width, 2000, Some(&stim)).unwrap();
    }
    let r = replay(dir.path(), width, &stim).unwrap();
    let n = names(width);
    let diff: Vec<String> = n
        .iter()
        .enumerate()
        .filter(|(i, _)| r.recorded.counts.get(*i) != r.replayed.counts.get(*i))
        .map(|(i, name)| {
            format!(
                "{name}: verilator {:?} icarus {:?}",
                r.recorded.counts.get(i),
                r.replayed.counts.get(i)
            )
        })
        .collect();
    assert_eq!(r.recorded.cycles, r.replayed.cycles);
    assert!(diff.is_empty(), "{width} bits: {}", diff.join("\n"));
    assert!(r.agrees());
    // Something happened: the traffic run moved DMA writes.
    if traffic {
        let k = n.iter().position(|x| *x == "m_axis_dma_wr_tvalid").unwrap();
        assert!(r.replayed.counts[k] > 100, "{:?}", r.replayed.counts);
    }
}

#[test]
fn icarus_replays_an_idle_run_and_agrees() {
    check(64, false);
}

#[test]
fn icarus_replays_traffic_and_agrees_64_and_512_bits() {
    check(64, true);
    check(512, true);
}
