//! Random runs: the random mix, UDP/ARP only, full rate with and without SYN option walks, and
//! damaged frames checked against the Rust model's parser.

use crate::*;

pub fn gen_cases(seed: u64, cfg: &Run) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..cfg.frames)
        .map(|_| {
            let mut c = make_case(&mut rng);
            c.enable = !rng.gen_bool(cfg.disable_p);
            if rng.gen_bool(cfg.deny_p) {
                let need = c.frame.len().div_ceil(256);
                c.deny_after = Some(rng.gen_range(0..need.max(1)));
            }
            c
        })
        .collect()
}

pub fn random_run(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let cfg = Run {
        frames: 300,
        idle_p: 0.2,
        stall_p: 0.4,
        deny_p: 0.1,
        disable_p: 0.05,
    };
    let cases = gen_cases(seed, &cfg);
    let syn_cases = cases.iter().filter(|c| c.what.starts_with("syn ")).count();
    let st = run(prefix, kw, bb, seed, &cfg, cases);
    assert!(syn_cases > 10, "{prefix}: {syn_cases} SYN option cases");
    assert!(st.ws_seen > 5, "{prefix}: {} window scales", st.ws_seen);
    assert!(st.udp_seen > 5, "{prefix}: {} UDP datagrams", st.udp_seen);
    assert!(st.arp_seen > 2, "{prefix}: {} ARP requests", st.arp_seen);
}

/// UDP, other-protocol and ARP cases only (every kind of make_udp_case in
/// turn, then ARP cases), with idle cycles, metadata backpressure, refused
/// allocations and disabled frames.
pub fn udp_arp_run(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    for i in 0..270u32 {
        let mut c = if i < 180 {
            make_udp_case(&mut rng, i % 9)
        } else {
            make_arp_case(&mut rng)
        };
        c.enable = !rng.gen_bool(0.03);
        if rng.gen_bool(0.1) {
            let need = c.frame.len().div_ceil(bb);
            c.deny_after = Some(rng.gen_range(0..need.max(1)));
        }
        cases.push(c);
    }
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for c in &cases {
        *kinds.entry(c.what).or_default() += 1;
    }
    let want_arp = cases.iter().filter(|c| c.enable && c.arp.is_some()).count();
    let cfg = Run::new(cases.len(), 0.2, 0.3);
    let st = run(prefix, kw, bb, seed, &cfg, cases);
    assert_eq!(st.arp_seen, want_arp, "{prefix}: ARP requests");
    assert!(want_arp > 20, "{prefix}: {want_arp} ARP requests");
    assert!(st.udp_seen > 40, "{prefix}: {} UDP datagrams", st.udp_seen);
    for k in [
        "udp",
        "udp no checksum",
        "udp bad checksum",
        "udp bad length",
        "udp < 8 bytes",
        "udp shorter than ip payload",
        "other protocol",
        "icmp",
        "arp request",
        "arp reply",
        "arp request short",
        "arp bad htype",
        "arp bad ptype",
        "arp bad hlen/plen",
        "arp bad oper",
    ] {
        assert!(
            kinds.get(k).is_some_and(|&n| n > 0),
            "{prefix}: no {k} case"
        );
    }
}

/// Back-to-back frames, metadata always accepted: one word per cycle, plus at
/// most the option walk of each SYN frame.
pub fn full_rate(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let cfg = Run::new(200, 0.0, 0.0);
    let cases = gen_cases(seed, &cfg);
    let words: usize = cases.iter().map(|c| c.frame.len().div_ceil(kw)).sum();
    let walks: usize = cases
        .iter()
        .filter(|c| c.reason == DropReason::None)
        .map(|c| walk_budget(&c.frame))
        .sum();
    let cycles = run(prefix, kw, bb, seed, &cfg, cases).cycles;
    assert!(
        cycles as usize <= words + walks + 8,
        "{prefix}: {cycles} cycles for {words} words and {walks} walk steps"
    );
}

/// Frames without SYN never wait for an option walk: exactly one word per cycle.
pub fn full_rate_no_syn(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    while cases.len() < 200 {
        let c = make_case(&mut rng);
        if walk_budget(&c.frame) == 0 {
            cases.push(c);
        }
    }
    let cfg = Run::new(cases.len(), 0.0, 0.0);
    let words: usize = cases.iter().map(|c| c.frame.len().div_ceil(kw)).sum();
    let cycles = run(prefix, kw, bb, seed, &cfg, cases).cycles;
    assert!(
        cycles as usize <= words + 8,
        "{prefix}: {cycles} cycles for {words} words"
    );
}

/// Frames with random damage in their first 100 bytes (and random cuts), the
/// expected reason and fields taken from the Rust model's parser: the RTL and
/// the model must agree on every frame.
pub fn fuzz_vs_model(prefix: &str, kw: usize, bb: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = Vec::new();
    let mut udp = 0usize;
    for _ in 0..400 {
        let vlan = rand_vlan(&mut rng);
        let ip_opts = rand_opts_len(&mut rng, 0.3);
        let tcp_opts = rand_opts_len(&mut rng, 0.3);
        let pay = rng.gen_range(0..300);
        let mut f = match rng.gen_range(0..10) {
            0..=2 => {
                let raw = rng.gen();
                build_syn(&mut rng, true, raw)
            }
            3 | 4 => {
                let mut u = build_udp(&mut rng, vlan, ip_opts, pay);
                if rng.gen_bool(0.2) {
                    u.frame[u.l4 + 6] = 0;
                    u.frame[u.l4 + 7] = 0;
                }
                u.frame
            }
            5 => build_arp(&mut rng, vlan, 1, EtherType::IPV4, 1, 6, 4).0,
            _ => build_tcp(&mut rng, vlan, ip_opts, tcp_opts, pay).frame,
        };
        for _ in 0..rng.gen_range(0..4) {
            let i = rng.gen_range(0..f.len().min(100));
            if rng.gen() {
                f[i] ^= 1 << rng.gen_range(0..8);
            } else {
                f[i] = rng.gen();
            }
        }
        match rng.gen_range(0..6) {
            0 => f.truncate(rng.gen_range(1..=f.len())),
            1 => {
                let n = rng.gen_range(1..30);
                f.resize(f.len() + n, 0xA5);
            }
            _ => {}
        }
        let p = buflet_model::parse::parse(&f);
        let (ack, ws_valid, ws) = (u64::from(p.ack), u64::from(p.ws_valid), u64::from(p.ws));
        let reason = DropReason::try_from(p.reason).expect("the model's reason is a drop reason");
        if reason == DropReason::None && !p.udp {
            // the model's ACK and window scale agree with etherparse and the test's walk
            assert_eq!(tcp_extra(&f), (ack, ws_valid, ws), "model vs etherparse");
        }
        let mut c = case("fuzz", f, reason);
        if reason == DropReason::None {
            c.model_fields = Some(Fields {
                vlan: u64::from(p.vlan),
                src_ip: u64::from(p.src_ip),
                dst_ip: u64::from(p.dst_ip),
                src_port: u64::from(p.src_port),
                dst_port: u64::from(p.dst_port),
                seq: u64::from(p.seq),
                flags: u64::from(p.flags),
                pay_off: u64::from(p.pay_off),
                pay_len: u64::from(p.pay_len),
                ack,
                ws_valid,
                ws,
                udp: u64::from(p.udp),
            });
        }
        udp += usize::from(p.udp);
        cases.push(c);
    }
    let cfg = Run::new(cases.len(), 0.1, 0.2);
    let arp = cases.iter().filter(|c| c.arp.is_some()).count();
    let st = run(prefix, kw, bb, seed, &cfg, cases);
    assert!(st.ws_seen > 0, "{prefix}: no window scale in the fuzz");
    assert_eq!(st.udp_seen, udp, "{prefix}: UDP datagrams");
    assert_eq!(st.arp_seen, arp, "{prefix}: ARP requests");
    assert!(
        udp > 20 && arp > 10,
        "{prefix}: fuzz mix: {udp} UDP, {arp} ARP"
    );
}
