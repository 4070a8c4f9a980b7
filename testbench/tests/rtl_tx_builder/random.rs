//! Random runs at 64 and 512 bits: random commands (control frames and data segments with random
//! payloads) offered with random idle cycles, their payloads on `s_axis_pay` with random idle
//! cycles, under random backpressure; every frame checked and the AXI-Stream rules kept (packed
//! words, stable while stalled, `ev_tx_frame`/`ev_tx_bytes` on the last word), with their
//! coverage; and the full-rate run (no idle cycles, no backpressure: one word per cycle, frames
//! back to back, no bubble between a frame's header and its payload).

use crate::*;

pub fn low_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// A command and its payload (empty for a control frame).
pub type Item = (TxCmd, Vec<u8>);

/// `n` random items, a data segment with chance `data_p` for each TCP command.
pub fn random_items(seed: u64, n: usize, data_p: f64) -> Vec<Item> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| random_item(&mut rng, data_p)).collect()
}

/// Sends `n` random items; returns the cycles taken.
pub fn run(
    prefix: &str,
    kw: usize,
    seed: u64,
    n: usize,
    data_p: f64,
    idle_p: f64,
    stall_p: f64,
) -> u64 {
    let items = random_items(seed, n, data_p);
    let st = run_cmds(prefix, kw, seed, &items, idle_p, stall_p);
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
    if data_p > 0.0 {
        // data segments of every header length (tag, options) and both payload parities, and
        // payloads ending at every byte lane of a word
        assert!(
            st.data_hdr.iter().all(|&k| k > 0)
                && st.data_odd > 0
                && st.data_odd < st.data
                && st.data_max > 8000,
            "{prefix}: data coverage: {} segments, by header length {:?}, {} odd, longest {}",
            st.data,
            st.data_hdr,
            st.data_odd,
            st.data_max
        );
        if kw == 8 {
            assert!(
                st.end_lanes.iter().all(|&k| k > 0),
                "{prefix}: last-word lanes {:?}",
                st.end_lanes
            );
        }
    }
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
    /// Data segments (PAY_LEN > 0), by header length (54, 58, 62, 66), with an odd payload,
    /// the longest payload, and frames by the number of bytes in the last word (mod 8).
    pub data: usize,
    pub data_hdr: [usize; 4],
    pub data_odd: usize,
    pub data_max: usize,
    pub end_lanes: [usize; 8],
}

/// The payload beats of one segment: full words, a low keep mask on the last, garbage in the
/// bytes past the end.
pub fn pay_beats(p: &[u8], kw: usize, rng: &mut ChaCha8Rng) -> Vec<Beat> {
    let n = p.len().div_ceil(kw);
    (0..n)
        .map(|i| {
            let chunk = &p[i * kw..p.len().min((i + 1) * kw)];
            let mut data = vec![0u8; kw];
            rng.fill(&mut data[..]);
            data[..chunk.len()].copy_from_slice(chunk);
            let mut keep = vec![0u8; kw.div_ceil(8)];
            for b in 0..chunk.len() {
                keep[b / 8] |= 1 << (b % 8);
            }
            Beat {
                data,
                keep,
                last: i + 1 == n,
                sideband: Vec::new(),
            }
        })
        .collect()
}

/// Sends `items` with random idle cycles and backpressure, checking every frame.
pub fn run_cmds(
    prefix: &str,
    kw: usize,
    seed: u64,
    items: &[Item],
    idle_p: f64,
    stall_p: f64,
) -> Stats {
    let n = items.len();
    let mut m = Model::new(prefix).expect("model built (sim/models.txt)");
    let p = ports::TxBuilder::bind(&m).expect("ports");
    assert_eq!(
        p.m_axis_tx_tdata.width() as usize,
        kw * 8,
        "{prefix}: bus width"
    );
    assert_eq!(p.s_cmd_data.width() as usize, TxCmd::SIZE * 8);
    assert_eq!(p.ev_tx_bytes.width(), 16, "{prefix}: ev_tx_bytes width");
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7e57);
    buflet_testbench::rtl_check::reset(&mut m, p.clk, p.rst, 3);

    // The payload stream: every data segment's words, in command order, with idle cycles
    // (garbage on the bus while not valid); a presented word stays until taken (AXI rule).
    let pay_bus = AxisBus::from_prefix(&m, "s_axis_pay", &[]).expect("s_axis_pay");
    let mut pay = AxisSource::new(&m, pay_bus, idle_p, seed ^ 0x9a71)
        .expect("payload source")
        .hold_valid(true)
        .garbage_when_idle(true);
    let mut pay_words = 0u64;
    for (_, pl) in items {
        for b in pay_beats(pl, kw, &mut rng) {
            pay.send_beat(b);
            pay_words += 1;
        }
    }

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
    let mut st = Stats {
        cycles: 0,
        opts_seen: [0; 4],
        tagged: 0,
        arp: 0,
        arp_tagged: 0,
        data: 0,
        data_hdr: [0; 4],
        data_odd: 0,
        data_max: 0,
        end_lanes: [0; 8],
    };
    let total_words: u64 = items
        .iter()
        .map(|(c, pl)| (frame_len(c) + pl.len()).div_ceil(kw) as u64)
        .sum();
    while done < n {
        st.cycles += 1;
        assert!(
            st.cycles < 20 * total_words + 200 * n as u64 + 1000,
            "{prefix}: timeout"
        );
        if offered.is_none() && next < n && !rng.gen_bool(idle_p) {
            offered = Some(entry_bytes(&items[next].0, &mut rng));
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
        pay.drive(&mut m);
        sink.drive(&mut m);
        m.eval();

        let beat = sink.sample(&m);
        pay.sample(&m);
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
            let ci = *sent.front().expect("a frame without a command");
            let want = frame_len(&items[ci].0) + items[ci].1.len();
            assert!(
                cur.len() <= want,
                "{prefix}: frame {ci} longer than {want} bytes"
            );
            if last {
                sent.pop_front();
                let (c, pl) = &items[ci];
                let ctx = format!("{prefix}: frame {ci} ({c:?}, {} payload bytes)", pl.len());
                assert_eq!(
                    m.get(p.ev_tx_bytes) as usize,
                    cur.len(),
                    "{ctx}: ev_tx_bytes"
                );
                check_frame(&ctx, &cur, c, pl);
                if is_arp(c) {
                    st.arp += 1;
                    st.arp_tagged += usize::from(c.vlan != 0);
                } else {
                    st.opts_seen[usize::from(c.opts.bits() & 3)] += 1;
                }
                if !pl.is_empty() {
                    st.data += 1;
                    st.data_hdr[(frame_len(c) - 54) / 4] += 1;
                    st.data_odd += pl.len() % 2;
                    st.data_max = st.data_max.max(pl.len());
                    st.end_lanes[cur.len() % 8] += 1;
                }
                st.tagged += usize::from(c.vlan != 0);
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
    // nothing more comes out, and every payload word was taken
    assert!(pay.idle(), "{prefix}: payload words left over");
    assert_eq!(pay.beats_sent(), pay_words, "{prefix}: payload words taken");
    m.set(p.s_cmd_valid, 0);
    m.set(p.s_axis_pay_tvalid, 0);
    m.set(p.m_axis_tx_tready, 1);
    for _ in 0..8 {
        m.eval();
        assert_eq!(m.get(p.m_axis_tx_tvalid), 0, "{prefix}: spurious output");
        assert_eq!(m.get(p.ev_tx_frame), 0, "{prefix}: spurious event");
        assert_eq!(m.get(p.s_axis_pay_tready), 0, "{prefix}: payload taken");
        m.tick(p.clk);
    }
    assert_eq!(events, n);
    assert!(sent.is_empty());
    eprintln!(
        "{prefix}: {n} frames in {} cycles, opts {:?}, {} tagged, {} ARP replies ({} tagged), \
         {} data segments (by header {:?}, {} odd, longest {})",
        st.cycles,
        st.opts_seen,
        st.tagged,
        st.arp,
        st.arp_tagged,
        st.data,
        st.data_hdr,
        st.data_odd,
        st.data_max
    );
    st
}

pub fn tx_builder_w64_random() {
    run("tx_builder_w64", 8, 1, 600, 0.5, 0.3, 0.4);
}

pub fn tx_builder_w512_random() {
    run("tx_builder_w512", 64, 2, 600, 0.5, 0.3, 0.4);
}

/// Control frames only (as before the data path): PAY_LEN 0 everywhere but in ARP commands.
pub fn tx_builder_w64_random_control() {
    run("tx_builder_w64", 8, 9, 600, 0.0, 0.3, 0.4);
}

pub fn tx_builder_w512_random_control() {
    run("tx_builder_w512", 64, 10, 600, 0.0, 0.3, 0.4);
}

/// Commands and payload always offered, MAC always ready: one word per cycle, frames back to
/// back, data segments included (a few cycles of pipeline latency at the start only).
pub fn full_rate(prefix: &str, kw: usize, seed: u64, data_p: f64) {
    let n = 400;
    // the same items as run() will draw
    let words: usize = random_items(seed, n, data_p)
        .iter()
        .map(|(c, pl)| (frame_len(c) + pl.len()).div_ceil(kw))
        .sum();
    let cycles = run(prefix, kw, seed, n, data_p, 0.0, 0.0);
    assert!(
        cycles as usize <= words + 4,
        "{prefix}: {cycles} cycles for {words} words"
    );
}

pub fn tx_builder_w64_full_rate() {
    full_rate("tx_builder_w64", 8, 3, 0.0);
}

pub fn tx_builder_w512_full_rate() {
    full_rate("tx_builder_w512", 64, 4, 0.0);
}

pub fn tx_builder_w64_full_rate_data() {
    full_rate("tx_builder_w64", 8, 11, 0.5);
}

pub fn tx_builder_w512_full_rate_data() {
    full_rate("tx_builder_w512", 64, 12, 0.5);
}
