//! The harness: `rx_parser`'s ports driven through AXI-Stream, the buflet pool modelled in Rust,
//! and the check of every metadata record, buflet chain and stored byte against its case.

use crate::*;

pub struct Run {
    pub frames: usize,
    pub idle_p: f64,
    pub stall_p: f64,
    pub deny_p: f64,
    pub disable_p: f64,
}

impl Run {
    /// `frames` frames with input idle probability `idle_p` and metadata stall probability
    /// `stall_p`; no refused allocations and no disabled frames.
    pub fn new(frames: usize, idle_p: f64, stall_p: f64) -> Run {
        Run {
            frames,
            idle_p,
            stall_p,
            deny_p: 0.0,
            disable_p: 0.0,
        }
    }
}

pub fn low_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Runs the cases through the model.
pub fn run(
    prefix: &str,
    kw: usize,
    bb: usize,
    seed: u64,
    cfg: &Run,
    mut cases: Vec<Case>,
) -> Stats {
    let mut m = Model::new(prefix).expect("model");
    let p = ports::RxParser::bind(&m).expect("ports");
    assert_eq!(p.s_axis_rx_tdata.width() as usize, kw * 8);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    // Input: the frames as words (garbage beyond tkeep, `enable` as sideband) with random idle
    // cycles (garbage on every input field while not valid); metadata: random backpressure.
    let in_bus = AxisBus::from_prefix(&m, "s_axis_rx", &[])
        .expect("input bus")
        .sideband("enable", p.enable);
    let mut src = AxisSource::new(&m, in_bus, cfg.idle_p, seed ^ 0x1d1e)
        .expect("source")
        .garbage_when_idle(true);
    let meta_bus = AxisBus::new(p.m_meta_valid).tready(p.m_meta_ready);
    let mut meta = AxisSink::new(&m, meta_bus, cfg.stall_p, seed ^ 0x57a1).expect("sink");
    let mut word = vec![0u8; kw];
    for c in &cases {
        let nw = c.frame.len().div_ceil(kw);
        for wi in 0..nw {
            let s = wi * kw;
            let e = (s + kw).min(c.frame.len());
            rng.fill(&mut word[..]); // garbage beyond tkeep
            word[..e - s].copy_from_slice(&c.frame[s..e]);
            src.send_beat(
                Beat::new(word.clone(), low_mask(e - s), wi + 1 == nw)
                    .with_sideband(vec![u64::from(c.enable)]),
            );
        }
    }
    buflet_testbench::rtl_check::reset(&mut m, p.clk, p.rst, 3);

    let mut free: Vec<u64> = (0..NUM_BUFLETS as u64).collect();
    let mut links: HashMap<u64, u64> = HashMap::new();
    let mut ram: Vec<u8> = vec![0; NUM_BUFLETS * bb];
    let mut expect: VecDeque<usize> = VecDeque::new();
    let mut fi = 0usize; // frame being sent
    let mut done = 0usize;
    let n_enabled = cases.iter().filter(|c| c.enable).count();
    let mut wdata = vec![0u8; kw];
    let mut cycles = 0u64;
    let mut by_reason: HashMap<DropReason, usize> = HashMap::new();
    let mut ws_seen = 0usize;
    let mut arp_seen = 0usize;
    let mut udp_seen = 0usize;

    while done < n_enabled || fi < cases.len() {
        cycles += 1;
        assert!(cycles < 2_000_000, "{prefix}: timeout");
        // --- input word
        src.drive(&mut m);
        // --- pool
        let deny = fi < cases.len()
            && cases[fi]
                .deny_after
                .is_some_and(|k| cases[fi].allocated.len() >= k);
        let pick = if free.is_empty() {
            None
        } else {
            Some(rng.gen_range(0..free.len()))
        };
        let avail = pick.is_some() && !deny;
        m.set(p.alloc_valid, u64::from(avail));
        m.set(p.alloc_idx, pick.map_or(rng.gen(), |i| free[i]));
        meta.drive(&mut m);
        m.eval();

        // --- observe this edge
        let taken = src.sample(&m);
        let xfer = taken.is_some();
        let last = taken.is_some_and(|b| b.last);
        if m.get(p.alloc_req) == 1 {
            assert!(xfer, "{prefix}: alloc_req without a transfer");
            assert!(cases[fi].enable, "{prefix}: alloc_req in a disabled frame");
            if avail {
                let idx = free.swap_remove(pick.expect("pick"));
                cases[fi].allocated.push(idx);
                links.remove(&idx);
            } else {
                cases[fi].denied = true;
            }
        }
        if m.get(p.link_wr_en) == 1 {
            let idx = m.get(p.link_wr_idx);
            assert!(
                !free.contains(&idx),
                "{prefix}: link write to free buflet {idx}"
            );
            links.insert(idx, m.get(p.link_wr_next));
        }
        if m.get(p.ram_wr_en) == 1 {
            let a = m.get(p.ram_wr_addr) as usize;
            let b = (a * kw) / bb;
            assert!(
                !free.contains(&(b as u64)),
                "{prefix}: RAM write to free buflet {b}"
            );
            m.get_bytes(p.ram_wr_data, &mut wdata);
            ram[a * kw..a * kw + kw].copy_from_slice(&wdata);
        }
        if meta.sample(&m).is_some() {
            let ci = expect.pop_front().expect("metadata without a frame");
            let c = &cases[ci];
            let ctx = format!("{prefix}: frame {ci} ({}, {} bytes)", c.what, c.frame.len());
            let want_reason = if c.reason != DropReason::None {
                c.reason
            } else if c.denied {
                DropReason::NoBuflet
            } else {
                DropReason::None
            };
            let got = m.get(p.m_meta_reason) as u8;
            assert_eq!(DropReason::try_from(got), Ok(want_reason), "{ctx}: reason");
            *by_reason.entry(want_reason).or_default() += 1;
            assert_eq!(
                m.get(p.m_meta_len),
                c.frame.len().min(65535) as u64,
                "{ctx}: len"
            );
            if want_reason == DropReason::None {
                let f = match &c.model_fields {
                    Some(f) => f.clone(),
                    None => oracle(&c.frame),
                };
                let got = Fields {
                    vlan: m.get(p.m_meta_vlan),
                    src_ip: m.get(p.m_meta_src_ip),
                    dst_ip: m.get(p.m_meta_dst_ip),
                    src_port: m.get(p.m_meta_src_port),
                    dst_port: m.get(p.m_meta_dst_port),
                    seq: m.get(p.m_meta_seq),
                    flags: m.get(p.m_meta_flags),
                    pay_off: m.get(p.m_meta_pay_off),
                    pay_len: m.get(p.m_meta_pay_len),
                    ack: m.get(p.m_meta_ack),
                    ws_valid: m.get(p.m_meta_ws_valid),
                    ws: m.get(p.m_meta_ws),
                    udp: m.get(p.m_meta_udp),
                };
                assert_eq!(got, f, "{ctx}: fields");
                ws_seen += f.ws_valid as usize;
            } else {
                assert_eq!(m.get(p.m_meta_udp), 0, "{ctx}: UDP flag of a failed frame");
            }
            // ARP request record (reason NOT_IPV4, buflets or not)
            let arp = (m.get(p.m_meta_arp_req) == 1).then(|| Arp {
                sha: m.get(p.m_meta_arp_sha),
                spa: m.get(p.m_meta_src_ip),
                tpa: m.get(p.m_meta_dst_ip),
                vlan: m.get(p.m_meta_vlan),
            });
            assert_eq!(arp, c.arp, "{ctx}: ARP request");
            // the Ethernet source of every record (frame bytes 6..12)
            if c.frame.len() >= 12 {
                let mut smac = [0u8; 8];
                smac[..6].copy_from_slice(&c.frame[6..12]);
                assert_eq!(
                    m.get(p.m_meta_src_mac),
                    u64::from_le_bytes(smac),
                    "{ctx}: source MAC"
                );
            }
            arp_seen += usize::from(arp.is_some());
            udp_seen += m.get(p.m_meta_udp) as usize;
            // chain
            let need = c.frame.len().div_ceil(bb);
            if !c.denied {
                assert_eq!(c.allocated.len(), need, "{ctx}: buflets allocated");
            }
            let count = m.get(p.m_meta_count) as usize;
            assert_eq!(count, c.allocated.len(), "{ctx}: count");
            if count == 0 {
                assert_eq!(m.get(p.m_meta_head), NULL, "{ctx}: head of empty chain");
                assert_eq!(m.get(p.m_meta_tail), NULL, "{ctx}: tail of empty chain");
            } else {
                assert_eq!(m.get(p.m_meta_head), c.allocated[0], "{ctx}: head");
                assert_eq!(
                    m.get(p.m_meta_tail),
                    *c.allocated.last().unwrap(),
                    "{ctx}: tail"
                );
                let mut b = c.allocated[0];
                for k in 1..count {
                    let n = *links
                        .get(&b)
                        .unwrap_or_else(|| panic!("{ctx}: no link at {b}"));
                    assert_eq!(n, c.allocated[k], "{ctx}: link {k}");
                    b = n;
                }
                assert_eq!(links.get(&b), Some(&NULL), "{ctx}: tail link is null");
                // stored bytes
                let stored = c.frame.len().min(count * bb);
                for (k, &byte) in c.frame[..stored].iter().enumerate() {
                    let bi = c.allocated[k / bb] as usize;
                    assert_eq!(ram[bi * bb + k % bb], byte, "{ctx}: stored byte {k}");
                }
            }
            // the "engine" frees the chain
            for &b in &c.allocated {
                links.remove(&b);
                free.push(b);
            }
            done += 1;
        }
        if last {
            if cases[fi].enable {
                expect.push_back(fi);
            } else {
                assert!(cases[fi].allocated.is_empty());
            }
            fi += 1;
        }
        m.tick(p.clk);
    }
    // nothing else comes out
    let end = [(p.s_axis_rx_tvalid, 0), (p.m_meta_ready, 1)];
    assert_quiet(&mut m, p.clk, &end, &[p.m_meta_valid], 4, prefix);
    assert_eq!(free.len(), NUM_BUFLETS, "{prefix}: every buflet back");
    eprintln!(
        "{prefix}: {cycles} cycles, reasons {by_reason:?}, {ws_seen} window scales, \
         {udp_seen} UDP datagrams, {arp_seen} ARP requests"
    );
    Stats {
        cycles,
        ws_seen,
        udp_seen,
        arp_seen,
    }
}

/// What a run saw.
pub struct Stats {
    pub cycles: u64,
    /// Passing frames whose expected WS_VALID was 1.
    pub ws_seen: usize,
    /// Records with `m_meta_udp` set.
    pub udp_seen: usize,
    /// Records with `m_meta_arp_req` set.
    pub arp_seen: usize,
}
