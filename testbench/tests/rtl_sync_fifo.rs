//! RTL test of `sync_fifo` (models `sync_fifo_w64`: WIDTH 64 DEPTH 4, `sync_fifo_d8`: WIDTH 16
//! DEPTH 8): random pushes (garbage on `s_data` while not valid, pushes offered while full),
//! random pops (backpressure), phases that favour filling or draining so full and empty are hit
//! often, and occasional resets, checked every cycle against a `VecDeque` reference:
//! `s_ready == !full`, `m_valid == !empty`, `m_data` is the oldest entry (first-word fall-through).

use std::collections::VecDeque;

use buflet_sim::axis::{AxisBus, AxisMonitor};
use buflet_sim::{ports, Model};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn run(prefix: &str, width: u32, depth: usize, seed: u64, cycles: u64) {
    let mut m = Model::new(prefix).expect("model");
    let ports::SyncFifo {
        clk,
        rst,
        s_valid,
        s_ready,
        s_data,
        m_valid,
        m_ready,
        m_data,
    } = ports::SyncFifo::bind(&m).expect("ports");
    assert_eq!(s_data.width(), width);
    assert_eq!(m_data.width(), width);
    let mask = if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    // Every handshake on either side, cross-checked against the reference's pushes and pops.
    let mut mon_in = AxisMonitor::new(
        AxisBus::new(s_valid)
            .tready(s_ready)
            .sideband("data", s_data),
    );
    let mut mon_out = AxisMonitor::new(
        AxisBus::new(m_valid)
            .tready(m_ready)
            .sideband("data", m_data),
    );
    let (mut pushed, mut popped) = (Vec::new(), Vec::new());

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    m.set(rst, 1);
    m.set(s_valid, 0);
    m.set(m_ready, 0);
    for _ in 0..3 {
        m.tick(clk);
    }
    m.set(rst, 0);

    let mut fifo: VecDeque<u64> = VecDeque::new();
    let (mut pushes, mut pops, mut full_seen, mut empty_seen, mut refused) = (0u64, 0, 0, 0, 0);
    let (mut push_p, mut pop_p) = (0.5, 0.5);
    for cyc in 0..cycles {
        if cyc % 64 == 0 {
            // new phase: fill-heavy, drain-heavy, balanced or full rate
            (push_p, pop_p) = match rng.gen_range(0..4) {
                0 => (0.9, 0.2),
                1 => (0.2, 0.9),
                2 => (0.5, 0.5),
                _ => (1.0, 1.0),
            };
        }
        if rng.gen_bool(0.002) {
            // synchronous reset in the middle of traffic
            m.set(rst, 1);
            m.set(s_valid, u64::from(rng.gen_bool(0.5)));
            m.set(m_ready, u64::from(rng.gen_bool(0.5)));
            m.set(s_data, rng.gen::<u64>() & mask);
            m.tick(clk);
            m.set(rst, 0);
            fifo.clear();
            // what the monitors saw before the reset was checked; start afresh
            check_monitors(prefix, &mut mon_in, &mut mon_out, &mut pushed, &mut popped);
        }
        let valid = rng.gen_bool(push_p);
        let data = rng.gen::<u64>() & mask;
        let ready = rng.gen_bool(pop_p);
        m.set(s_valid, u64::from(valid));
        m.set(s_data, data);
        m.set(m_ready, u64::from(ready));
        m.eval();

        let full = fifo.len() == depth;
        assert_eq!(
            m.get(s_ready),
            u64::from(!full),
            "{prefix} cycle {cyc}: s_ready with {} entries",
            fifo.len()
        );
        assert_eq!(
            m.get(m_valid),
            u64::from(!fifo.is_empty()),
            "{prefix} cycle {cyc}: m_valid with {} entries",
            fifo.len()
        );
        if let Some(&front) = fifo.front() {
            assert_eq!(m.get(m_data), front, "{prefix} cycle {cyc}: m_data");
        }
        mon_in.sample(&m);
        mon_out.sample(&m);
        full_seen += u64::from(full);
        empty_seen += u64::from(fifo.is_empty());

        // pop first (it uses the entry present before this edge), then push
        if ready && !fifo.is_empty() {
            popped.extend(fifo.pop_front());
            pops += 1;
        }
        if valid {
            if full {
                refused += 1;
            } else {
                fifo.push_back(data);
                pushed.push(data);
                pushes += 1;
            }
        }
        m.tick(clk);
    }
    assert!(
        pushes > cycles / 4 && pops > cycles / 4,
        "{prefix}: {pushes} pushes / {pops} pops"
    );
    assert!(
        full_seen > 100 && empty_seen > 100 && refused > 50,
        "{prefix}: full {full_seen} empty {empty_seen} refused {refused} cycles"
    );

    check_monitors(prefix, &mut mon_in, &mut mon_out, &mut pushed, &mut popped);

    // Drain: exactly the reference's entries come out, in order, then empty.
    m.set(s_valid, 0);
    m.set(m_ready, 1);
    while let Some(front) = fifo.pop_front() {
        m.eval();
        assert_eq!(m.get(m_valid), 1, "{prefix}: drain");
        assert_eq!(m.get(m_data), front, "{prefix}: drain data");
        m.tick(clk);
    }
    for _ in 0..3 {
        m.eval();
        assert_eq!(m.get(m_valid), 0, "{prefix}: spurious output after drain");
        assert_eq!(m.get(s_ready), 1, "{prefix}: not ready when empty");
        m.tick(clk);
    }
}

/// The handshakes the monitors recorded are exactly the reference's pushes and pops, in order.
fn check_monitors(
    prefix: &str,
    mon_in: &mut AxisMonitor,
    mon_out: &mut AxisMonitor,
    pushed: &mut Vec<u64>,
    popped: &mut Vec<u64>,
) {
    let seen = |mon: &AxisMonitor| -> Vec<u64> {
        mon.transfers().iter().map(|t| t.beat.sideband[0]).collect()
    };
    assert_eq!(seen(mon_in), *pushed, "{prefix}: input handshakes");
    assert_eq!(seen(mon_out), *popped, "{prefix}: output handshakes");
    mon_in.clear();
    mon_out.clear();
    pushed.clear();
    popped.clear();
}

#[test]
fn sync_fifo_w64_depth4_random() {
    run("sync_fifo_w64", 64, 4, 11, 50_000);
}

#[test]
fn sync_fifo_w16_depth8_random() {
    run("sync_fifo_d8", 16, 8, 12, 50_000);
}
