//! The random run of `prot_table` at 32 and 5 slots: random entries with random gaps and
//! completion backpressure, a random access on every lookup port in every cycle and
//! CTRL.PROT_EN toggling, every answer and completion checked against the oracle, and its
//! coverage.

use crate::*;

pub fn run(model: &str, seed: u64, cycles: usize) {
    let mut m = Model::new(model).expect("model built (sim/models.txt)");
    let n: usize = m
        .info()
        .param("NUM_REGIONS")
        .expect("NUM_REGIONS parameter")
        .parse()
        .unwrap();
    let k: usize = m
        .info()
        .param("NPORTS")
        .expect("NPORTS parameter")
        .parse()
        .unwrap();
    let p = ports::ProtTable::bind(&m).expect("ports");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut o = Oracle {
        slots: vec![None; n],
    };

    m.set(p.rst, 1);
    m.tick(p.clk);
    m.tick(p.clk);
    m.set(p.rst, 0);

    let mut prot_en = true;
    let mut pending: Option<[u8; 64]> = None;
    let mut expect: std::collections::VecDeque<[u8; 32]> = Default::default();
    let mut tag = 0u32;
    let (mut n_allowed, mut n_refused, mut n_ok, mut n_bad) = (0usize, 0usize, 0usize, 0usize);
    let mut max_live = 0usize;

    for cycle in 0..cycles {
        if rng.gen_bool(0.002) {
            prot_en = !prot_en;
        }
        m.set(p.prot_en, prot_en as u64);
        if pending.is_none() && rng.gen_bool(0.3) {
            tag = tag.wrapping_add(1);
            // the first half mostly registers (fills the table), the rest churns
            let reg_prob = if cycle < cycles / 2 { 0.95 } else { 0.6 };
            pending = Some(random_request(&mut rng, n, tag, reg_prob));
        }
        m.set(p.s_req_valid, pending.is_some() as u64);
        m.set_bytes(p.s_req_data, &pending.unwrap_or([0u8; 64]));
        let cpl_ready = rng.gen_bool(0.6);
        m.set(p.m_cpl_ready, cpl_ready as u64);

        let accesses: Vec<(u64, u32, bool)> = (0..k).map(|_| random_access(&mut rng, &o)).collect();
        let mut addr_b = vec![0u8; 8 * k];
        let mut len_b = vec![0u8; 4 * k];
        let mut wr = 0u64;
        // a port asks in most cycles; one that does not reads allowed
        let asks: Vec<bool> = (0..k).map(|_| rng.gen_bool(0.8)).collect();
        let mut valid = 0u64;
        for (i, &(a, l, w)) in accesses.iter().enumerate() {
            addr_b[8 * i..8 * i + 8].copy_from_slice(&a.to_le_bytes());
            len_b[4 * i..4 * i + 4].copy_from_slice(&l.to_le_bytes());
            wr |= (w as u64) << i;
            valid |= (asks[i] as u64) << i;
        }
        m.set_bytes(p.lk_addr, &addr_b);
        m.set_bytes(p.lk_len, &len_b);
        m.set(p.lk_write, wr);
        m.set(p.lk_valid, valid);
        m.eval();

        // lookups answer for the table as it is in this cycle
        let got = m.get(p.lk_allowed);
        for (i, &(a, l, w)) in accesses.iter().enumerate() {
            if !asks[i] {
                assert_eq!(
                    got >> i & 1,
                    1,
                    "{model} cycle {cycle} port {i}: not asking reads allowed"
                );
                continue;
            }
            let exp = o.allowed(prot_en, a, l, w);
            assert_eq!(
                got >> i & 1 == 1,
                exp,
                "{model} cycle {cycle} port {i}: addr {a:#x} len {l:#x} write {w} prot_en {prot_en}, table {:?}",
                o.slots
            );
            if prot_en {
                if exp {
                    n_allowed += 1;
                } else {
                    n_refused += 1;
                }
            }
        }

        // completion handshake
        if m.get(p.m_cpl_valid) == 1 && cpl_ready {
            let mut c = [0u8; 32];
            m.get_bytes(p.m_cpl_data, &mut c);
            let e = expect
                .pop_front()
                .unwrap_or_else(|| panic!("{model} cycle {cycle}: unexpected completion {c:?}"));
            assert_eq!(c, e, "{model} cycle {cycle}: completion");
        }
        let take = pending.is_some() && m.get(p.s_req_ready) == 1;
        m.tick(p.clk);
        if take {
            let e = pending.take().unwrap();
            let st = o.request(&e);
            if st == Status::Ok {
                n_ok += 1;
            } else {
                n_bad += 1;
            }
            let d = RegionDesc::parse(&e).unwrap();
            let c = Cpl {
                kind: CplKind::CmdDone,
                status: st,
                sock_ref: d.sock_ref,
                tag: d.tag,
                opcode: d.opcode.code(),
                ..Default::default()
            };
            expect.push_back(c.to_bytes());
            assert!(expect.len() <= 1, "one completion register");
        }
        max_live = max_live.max(o.slots.iter().flatten().count());
    }
    // the run exercised what it claims to
    assert!(n_ok > 100 && n_bad > 100, "{model}: ok {n_ok} bad {n_bad}");
    assert!(
        n_allowed > 1000 && n_refused > 1000,
        "{model}: allowed {n_allowed} refused {n_refused}"
    );
    assert_eq!(max_live, n, "{model}: the table was full at some point");
}

pub fn prot_table_32_slots_matches_oracle() {
    run("prot_table_r32", 0x5eed_0004, 40_000);
}

pub fn prot_table_5_slots_matches_oracle() {
    run("prot_table_r5", 0x5eed_0005, 20_000);
}
