//! Directed tests: back-to-back SYN option walks, a hand-written table of SYN option lists, and
//! the latency of the option walk against the model's count of steps.

use crate::*;

/// Back-to-back SYNs whose 40 option bytes are all NOPs (the longest walk;
/// every third one with a window scale at the end), each followed by a short
/// frame: every record still comes out, in order, and the stall is bounded
/// by the walk.
pub fn syn_walks_back_to_back(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    for i in 0..60 {
        let mut tcp = TcpHeader::new(rng.gen(), rng.gen(), rng.gen(), rng.gen());
        tcp.syn = true;
        let mut o = vec![1u8; 40];
        if i % 3 == 1 {
            o[36..39].copy_from_slice(&[3, 3, rng.gen_range(0..=20)]);
        }
        tcp.set_options_raw(&o).expect("options");
        let f = bare_tcp(&mut rng, tcp);
        cases.push(case("syn 40 nops", f, DropReason::None));
        let t = build_tcp(&mut rng, None, 0, 0, 0);
        let mut f = t.frame;
        f.resize(60, 0);
        cases.push(case("short after syn", f, DropReason::None));
    }
    let cfg = Run::new(cases.len(), 0.0, 0.0);
    let words: usize = cases.iter().map(|c| c.frame.len().div_ceil(kw)).sum();
    let walks: usize = cases.iter().map(|c| walk_budget(&c.frame)).sum();
    let st = run(prefix, kw, bb, seed, &cfg, cases);
    assert_eq!(st.ws_seen, 20, "{prefix}: window scales");
    assert!(
        st.cycles as usize <= words + walks + 8,
        "{prefix}: {} cycles for {words} words and {walks} walk steps",
        st.cycles
    );
}

/// An untagged frame of the TCP header `tcp` without payload; draws the MAC and IP addresses
/// from `rng`.
fn bare_tcp(rng: &mut ChaCha8Rng, tcp: TcpHeader) -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(rng.gen(), rng.gen())
        .ipv4(rng.gen(), rng.gen(), 64)
        .tcp_header(tcp)
        .write(&mut f, &[])
        .expect("syn");
    f
}

/// Hand-written option lists of SYN frames with their window scale
/// (WS_VALID, WS) worked out by hand, checked against the test's own walk and
/// then against the RTL.
pub fn syn_option_table(prefix: &str, kw: usize, bb: usize, seed: u64) {
    #[rustfmt::skip]
    let table: Vec<(Vec<u8>, (u64, u64))> = vec![
        (vec![], (0, 0)),
        (vec![1, 1, 1, 1], (0, 0)),
        (vec![3, 3, 7, 0], (1, 7)),
        (vec![3, 3, 14, 0], (1, 14)),
        (vec![3, 3, 15, 0], (1, 14)),
        (vec![3, 3, 255, 1], (1, 14)),
        (vec![3, 3, 5, 1, 3, 3, 9, 0], (1, 9)),                // a later WS overrides
        (vec![3, 3, 9, 1, 3, 3, 0, 0], (1, 0)),
        (vec![0, 3, 3, 7], (0, 0)),                            // EOL first
        (vec![3, 3, 6, 0, 3, 3, 9, 0], (1, 6)),                // EOL after the first WS
        (vec![3, 2, 3, 3, 7, 0, 0, 0], (1, 7)),                // 3/2 is not WS, walk goes on
        (vec![3, 4, 9, 9], (0, 0)),
        (vec![3, 4, 9, 9, 3, 3, 2, 1], (1, 2)),
        (vec![3, 1, 3, 3, 3, 7, 1, 1], (0, 0)),                // length < 2 stops
        (vec![3, 0, 3, 3, 3, 7, 1, 1], (0, 0)),
        (vec![2, 4, 5, 0xB4, 1, 3, 3, 14], (1, 14)),           // MSS, NOP, WS to the end
        (vec![2, 4, 5, 0xB4, 1, 1, 3, 3], (0, 0)),             // WS cut at the end
        (vec![1, 1, 1, 3], (0, 0)),                            // kind as the last byte
        (vec![5, 40, 3, 3, 3, 9, 0, 0], (0, 0)),               // length past the end
        (vec![5, 8, 3, 3, 3, 9, 0, 0, 3, 3, 4, 0], (1, 4)),    // WS inside another option
        (vec![4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 8], (1, 8)),
        ([vec![1; 37], vec![3, 3, 11]].concat(), (1, 11)),
        ([vec![1; 38], vec![3, 3]].concat(), (0, 0)),
        ([vec![3, 3, 1], vec![1; 37]].concat(), (1, 1)),
        ([vec![6, 38], vec![3; 36], vec![3, 3]].concat(), (0, 0)),
        ([vec![6, 37], vec![3; 35], vec![3, 3, 12]].concat(), (1, 12)),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    for (opts, want) in &table {
        assert_eq!(ws_walk(opts), *want, "hand value of {opts:?}");
        for syn in [true, false] {
            let mut tcp = TcpHeader::new(rng.gen(), rng.gen(), rng.gen(), rng.gen());
            tcp.acknowledgment_number = rng.gen();
            tcp.syn = syn;
            tcp.ack = !syn || rng.gen();
            tcp.set_options_raw(opts).expect("options");
            let mut f = bare_tcp(&mut rng, tcp);
            f.resize(f.len().max(60), 0);
            let want_ws = if syn { want.0 } else { 0 };
            assert_eq!(tcp_extra(&f).1, want_ws, "oracle of {opts:?}");
            cases.push(case("syn option table", f, DropReason::None));
        }
    }
    let want_seen = table.iter().filter(|(_, w)| w.0 == 1).count();
    let cfg = Run::new(cases.len(), 0.1, 0.3);
    let st = run(prefix, kw, bb, seed, &cfg, cases);
    assert_eq!(st.ws_seen, want_seen, "{prefix}: window scales");
}

/// One frame at a time, metadata always accepted: the record of a SYN with
/// options comes out exactly `walk_steps` cycles (the model's count of
/// options stepped over, `buflet_model::parse`) later than that of any other
/// frame, with the model's ACK and window scale. A SYN with options whose IPv4 or
/// TCP checksum is wrong walks as well and leaves dropped for that reason (the
/// checksums are not in series with the handshake), as the model counts it.
pub fn walk_latency(prefix: &str, kw: usize, seed: u64) {
    let mut m = Model::new(prefix).expect("model");
    let p = ports::RxParser::bind(&m).expect("ports");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    buflet_testbench::rtl_check::reset(&mut m, p.clk, p.rst, 3);
    m.set(p.enable, 1);
    m.set(p.m_meta_ready, 1);
    m.set(p.alloc_valid, 1);
    let (mut walked, mut bad_walked) = (0, 0);
    for i in 0..300 {
        let f = match i % 4 {
            0 => build_syn(&mut rng, true, true),
            1 => build_syn(&mut rng, true, false),
            3 => {
                // a UDP datagram whose bytes where a TCP header would hold the data
                // offset and flags read as a SYN with 40 option bytes of NOPs:
                // no walk, no window scale
                let mut pay = vec![1u8; rng.gen_range(52..100)];
                pay[4] = 0xF0 | rng.gen_range(0..16);
                pay[5] = 0x02 | rng.gen::<u8>();
                pay[44..47].copy_from_slice(&[3, 3, 7]);
                let vlan = rand_vlan(&mut rng);
                let mut f = build_udp_with(&mut rng, vlan, 0, &pay).frame;
                f.resize(f.len().max(60), 0);
                f
            }
            _ => {
                let raw = rng.gen();
                let syn = rng.gen_bool(0.2);
                build_syn(&mut rng, syn, raw)
            }
        };
        // every sixth of the SYNs with options: one checksum byte wrong (IPv4, TCP)
        let mut f = f;
        let bad = match i % 24 {
            0 => Some((10, DropReason::BadIpCsum)),
            12 => Some((16, DropReason::BadL4Csum)),
            _ => None,
        };
        if let Some((at, _)) = bad {
            let l3 = if f[12..14] == [0x81, 0x00] { 18 } else { 14 };
            let ihl4 = usize::from(f[l3] & 0x0F) * 4;
            let o = if at == 10 { l3 + 10 } else { l3 + ihl4 + 16 };
            f[o] ^= 0x5A;
        }
        let want = buflet_model::parse::parse(&f);
        let want_reason = bad.map_or(DropReason::None, |b| b.1);
        assert_eq!(want.reason, want_reason.code());
        assert_eq!(want.udp, i % 4 == 3);
        let nw = f.len().div_ceil(kw);
        let mut word = vec![0u8; kw];
        for w in 0..nw {
            let e = ((w + 1) * kw).min(f.len());
            word.fill(0);
            word[..e - w * kw].copy_from_slice(&f[w * kw..e]);
            m.set_bytes(p.s_axis_rx_tdata, &word);
            m.set(p.s_axis_rx_tkeep, low_mask(e - w * kw));
            m.set(p.s_axis_rx_tlast, u64::from(w + 1 == nw));
            m.set(p.s_axis_rx_tvalid, 1);
            m.set(p.alloc_idx, rng.gen_range(0..NUM_BUFLETS as u64));
            m.eval();
            assert_eq!(m.get(p.s_axis_rx_tready), 1, "{prefix}: frame {i} stalled");
            assert_eq!(m.get(p.m_meta_valid), 0, "{prefix}: early metadata");
            m.tick(p.clk);
        }
        m.set(p.s_axis_rx_tvalid, 0);
        let mut lat = 1;
        loop {
            m.eval();
            if m.get(p.m_meta_valid) == 1 {
                break;
            }
            lat += 1;
            assert!(lat < 100, "{prefix}: frame {i}: no metadata");
            m.tick(p.clk);
        }
        let ctx = format!("{prefix}: frame {i} ({:?})", &f[..f.len().min(100)]);
        assert_eq!(
            m.get(p.m_meta_reason),
            u64::from(want_reason.code()),
            "{ctx}: reason"
        );
        if bad.is_some() {
            assert_eq!(
                lat,
                2 + u64::from(want.walk_steps),
                "{ctx}: metadata latency of a dropped SYN"
            );
            assert_eq!(
                (
                    m.get(p.m_meta_ws_valid),
                    m.get(p.m_meta_ws),
                    m.get(p.m_meta_mss)
                ),
                (0, 0, 0),
                "{ctx}: a dropped SYN's window scale and MSS"
            );
            bad_walked += usize::from(want.walk_steps > 0);
            m.tick(p.clk);
            continue;
        }
        assert_eq!(
            (
                m.get(p.m_meta_ack),
                m.get(p.m_meta_ws_valid),
                m.get(p.m_meta_ws)
            ),
            (
                u64::from(want.ack),
                u64::from(want.ws_valid),
                u64::from(want.ws)
            ),
            "{ctx}: ack, window scale"
        );
        assert_eq!(m.get(p.m_meta_udp), u64::from(want.udp), "{ctx}: UDP");
        assert_eq!(
            lat,
            2 + u64::from(want.walk_steps),
            "{ctx}: metadata latency after the last word"
        );
        walked += usize::from(want.walk_steps > 0);
        m.tick(p.clk);
    }
    assert!(walked > 100, "{prefix}: {walked} walks");
    assert!(
        bad_walked >= 15,
        "{prefix}: {bad_walked} SYNs with a bad checksum walked"
    );
}
