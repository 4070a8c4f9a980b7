//! Random runs at 64 and 512 bits: random commands offered with random idle cycles under random
//! backpressure, every frame checked and the AXI-Stream rules kept (packed words, stable while
//! stalled, `ev_tx_frame`/`ev_tx_bytes` on the last word), with their coverage; and the full-rate
//! run (no idle cycles, no backpressure: one word per cycle, frames back to back).

use crate::*;

pub fn low_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Sends `n` random commands; returns the cycles taken.
pub fn run(prefix: &str, kw: usize, seed: u64, n: usize, idle_p: f64, stall_p: f64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cmds: Vec<TxCmd> = (0..n).map(|_| random_cmd(&mut rng)).collect();
    let st = run_cmds(prefix, kw, seed, &cmds, idle_p, stall_p);
    assert!(
        st.opts_seen.iter().all(|&k| k > 0) && st.tagged > 0 && st.tagged < n,
        "{prefix}: coverage {:?}, {} tagged",
        st.opts_seen,
        st.tagged
    );
    assert!(
        st.arp > n / 10 && st.arp_tagged > 0 && st.arp_tagged < st.arp,
        "{prefix}: {} ARP replies, {} tagged",
        st.arp,
        st.arp_tagged
    );
    st.cycles
}

/// What a run saw.
pub struct Stats {
    pub cycles: u64,
    /// TCP segments by OPTS & 3.
    pub opts_seen: [usize; 4],
    /// Tagged frames (TCP or ARP).
    pub tagged: usize,
    pub arp: usize,
    pub arp_tagged: usize,
}

/// Sends `cmds` with random idle cycles and backpressure, checking every frame.
pub fn run_cmds(
    prefix: &str,
    kw: usize,
    seed: u64,
    cmds: &[TxCmd],
    idle_p: f64,
    stall_p: f64,
) -> Stats {
    let n = cmds.len();
    let mut m = Model::new(prefix).expect("model built (sim/models.txt)");
    let p = ports::TxBuilder::bind(&m).expect("ports");
    assert_eq!(
        p.m_axis_tx_tdata.width() as usize,
        kw * 8,
        "{prefix}: bus width"
    );
    assert_eq!(p.s_cmd_data.width() as usize, TxCmd::SIZE * 8);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7e57);
    buflet_testbench::rtl_check::reset(&mut m, p.clk, p.rst, 3);

    let mut next = 0usize; // next command to offer
    let mut offered: Option<Vec<u8>> = None; // held stable until accepted
    let mut sent: VecDeque<usize> = VecDeque::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut done = 0usize;
    let mut events = 0usize;
    // The transmit stream's sink: random backpressure, and the AXI-Stream rule that a stalled
    // word stays exactly as it was (checked by the kit).
    let bus = AxisBus::from_prefix(&m, "m_axis_tx", &[]).expect("m_axis_tx");
    let mut sink = AxisSink::new(&m, bus, stall_p, seed ^ 0x5417).expect("sink");
    let mut cycles = 0u64;
    let mut opts_seen = [0usize; 4];
    let mut tagged = 0usize;
    let (mut arp, mut arp_tagged) = (0usize, 0usize);
    while done < n {
        cycles += 1;
        assert!(cycles < 200 * n as u64 + 1000, "{prefix}: timeout");
        if offered.is_none() && next < n && !rng.gen_bool(idle_p) {
            offered = Some(entry_bytes(&cmds[next], &mut rng));
        }
        match &offered {
            Some(b) => {
                m.set(p.s_cmd_valid, 1);
                m.set_bytes(p.s_cmd_data, b);
            }
            None => {
                let mut junk = vec![0u8; TxCmd::SIZE];
                rng.fill(&mut junk[..]);
                m.set(p.s_cmd_valid, 0);
                m.set_bytes(p.s_cmd_data, &junk);
            }
        }
        sink.drive(&mut m);
        m.eval();

        let beat = sink.sample(&m);
        assert_eq!(
            m.get(p.ev_tx_frame),
            u64::from(beat.as_ref().is_some_and(|b| b.last)),
            "{prefix}: ev_tx_frame"
        );
        if let Some(b) = beat {
            let (keep, last, word) = (b.keep_u64(), b.last, &b.data);
            let nb = keep.count_ones() as usize;
            assert!(nb >= 1, "{prefix}: empty word");
            assert_eq!(keep, low_mask(nb), "{prefix}: keep not a low mask");
            if !last {
                assert_eq!(nb, kw, "{prefix}: a word before the last is not full");
            }
            cur.extend_from_slice(&word[..nb]);
            if last {
                let ci = sent.pop_front().expect("a frame without a command");
                let c = &cmds[ci];
                let ctx = format!("{prefix}: frame {ci} ({c:?})");
                assert_eq!(
                    m.get(p.ev_tx_bytes) as usize,
                    cur.len(),
                    "{ctx}: ev_tx_bytes"
                );
                check_frame(&ctx, &cur, c);
                if is_arp(c) {
                    arp += 1;
                    arp_tagged += usize::from(c.vlan != 0);
                } else {
                    opts_seen[usize::from(c.opts.bits() & 3)] += 1;
                }
                tagged += usize::from(c.vlan != 0);
                events += 1;
                cur.clear();
                done += 1;
            }
        }
        if offered.is_some() && m.get(p.s_cmd_ready) == 1 {
            sent.push_back(next);
            next += 1;
            offered = None;
        }
        m.tick(p.clk);
    }
    // nothing more comes out
    m.set(p.s_cmd_valid, 0);
    m.set(p.m_axis_tx_tready, 1);
    for _ in 0..8 {
        m.eval();
        assert_eq!(m.get(p.m_axis_tx_tvalid), 0, "{prefix}: spurious output");
        assert_eq!(m.get(p.ev_tx_frame), 0, "{prefix}: spurious event");
        m.tick(p.clk);
    }
    assert_eq!(events, n);
    assert!(sent.is_empty());
    eprintln!(
        "{prefix}: {n} frames in {cycles} cycles, opts {opts_seen:?}, {tagged} tagged, \
         {arp} ARP replies ({arp_tagged} tagged)"
    );
    Stats {
        cycles,
        opts_seen,
        tagged,
        arp,
        arp_tagged,
    }
}

pub fn tx_builder_w64_random() {
    run("tx_builder_w64", 8, 1, 600, 0.3, 0.4);
}

pub fn tx_builder_w512_random() {
    run("tx_builder_w512", 64, 2, 600, 0.3, 0.4);
}

/// Commands always offered, MAC always ready: one word per cycle, frames
/// back to back (a few cycles of pipeline latency at the start only).
pub fn full_rate(prefix: &str, kw: usize, seed: u64) {
    let n = 400;
    // the same commands as run() will draw
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let words: usize = (0..n)
        .map(|_| frame_len(&random_cmd(&mut rng)).div_ceil(kw))
        .sum();
    let cycles = run(prefix, kw, seed, n, 0.0, 0.0);
    assert!(
        cycles as usize <= words + 4,
        "{prefix}: {cycles} cycles for {words} words"
    );
}

pub fn tx_builder_w64_full_rate() {
    full_rate("tx_builder_w64", 8, 3);
}

pub fn tx_builder_w512_full_rate() {
    full_rate("tx_builder_w512", 64, 4);
}
