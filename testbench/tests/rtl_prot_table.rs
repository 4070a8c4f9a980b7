//! RTL test of `prot_table` (device protection table, seed 004) at 32 and 5 slots.
//!
//! Random REG_REGION / DEREG_REGION entries (valid and invalid: slots past the table, zero and
//! wrapping lengths, bad permission bits) are offered with random gaps, with random backpressure
//! on the completion output, while every lookup port asks a random access in every cycle (most
//! of them at the edges of registered regions) and CTRL.PROT_EN toggles now and then. An
//! independent oracle written from docs/protection.md (a list of slots and the `allowed` rule
//! in 128-bit arithmetic) gives the expected completions and the expected answer of every
//! lookup in every cycle.

use buflet_sim::{Model, Port};
use buflet_spec::{cpl, cpl_kind, get, op, put, region_desc, region_perm, status};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, Debug)]
struct Slot {
    base: u64,
    len: u64,
    perm: u8,
}

/// The table as docs/protection.md describes it.
struct Oracle {
    slots: Vec<Option<Slot>>,
}

impl Oracle {
    /// Applies one request entry; returns the CMD_DONE status.
    fn request(&mut self, e: &[u8]) -> u64 {
        let opcode = get(e, region_desc::OPCODE);
        let slot = get(e, region_desc::SLOT) as usize;
        let n = self.slots.len();
        if opcode == op::REG_REGION {
            let base = get(e, region_desc::BASE);
            let len = get(e, region_desc::LEN);
            let flags = get(e, region_desc::FLAGS) as u8;
            let ok = slot < n
                && len != 0
                && base as u128 + len as u128 <= 1u128 << 64
                && (1..=3).contains(&flags);
            if !ok {
                return status::BAD_REGION;
            }
            self.slots[slot] = Some(Slot {
                base,
                len,
                perm: flags,
            });
            status::OK
        } else {
            if slot >= n {
                return status::BAD_REGION;
            }
            self.slots[slot] = None;
            status::OK
        }
    }

    fn allowed(&self, prot_en: bool, addr: u64, len: u32, write: bool) -> bool {
        let want = if write {
            region_perm::WRITE
        } else {
            region_perm::READ
        } as u8;
        !prot_en
            || self.slots.iter().flatten().any(|s| {
                s.perm & want != 0
                    && s.base <= addr
                    && addr as u128 + len as u128 <= s.base as u128 + s.len as u128
            })
    }
}

struct Ports {
    clk: Port,
    rst: Port,
    prot_en: Port,
    req_valid: Port,
    req_ready: Port,
    req_data: Port,
    cpl_valid: Port,
    cpl_ready: Port,
    cpl_data: Port,
    lk_addr: Port,
    lk_len: Port,
    lk_write: Port,
    lk_allowed: Port,
}

/// A base from a small pool so that regions overlap, share edges and reach the top of the
/// address space.
fn pick_base(rng: &mut StdRng) -> u64 {
    match rng.gen_range(0..6) {
        0 => 0,
        1 => rng.gen_range(0..16u64) * 0x1000,
        2 => u64::MAX - rng.gen_range(0..0x3000u64),
        3 => 0x8000_0000_0000_0000 + rng.gen_range(0..4u64) * 0x800,
        _ => rng.gen_range(0..64u64) * 0x400 + rng.gen_range(0..3u64),
    }
}

fn pick_len(rng: &mut StdRng) -> u64 {
    match rng.gen_range(0..8) {
        0 => 0,
        1 => 1,
        2 => u64::MAX - rng.gen_range(0..2u64),
        3 => 0x1000,
        _ => rng.gen_range(1..0x4000u64),
    }
}

fn random_request(rng: &mut StdRng, n: usize, tag: u32, reg_prob: f64) -> [u8; 64] {
    let mut e = [0u8; 64];
    let reg = rng.gen_bool(reg_prob);
    put(
        &mut e,
        region_desc::OPCODE,
        if reg {
            op::REG_REGION
        } else {
            op::DEREG_REGION
        },
    );
    put(&mut e, region_desc::TAG, tag as u64);
    put(&mut e, region_desc::SOCK_REF, rng.gen_range(0..4u64));
    let slot = match rng.gen_range(0..12) {
        0 => n as u64,
        1 => 0xFFFF_FFFF,
        2 => rng.gen_range(n as u64..1 << 32),
        // low bits of a valid slot: an out-of-range slot must not alias onto one
        3 => (1u64 << 31) | rng.gen_range(0..n as u64),
        _ => rng.gen_range(0..n as u64),
    };
    put(&mut e, region_desc::SLOT, slot);
    let flags = match rng.gen_range(0..10) {
        0 => 0,
        1 => rng.gen_range(4..256u64),
        _ => rng.gen_range(1..4u64),
    };
    put(&mut e, region_desc::FLAGS, flags);
    put(&mut e, region_desc::BASE, pick_base(rng));
    put(&mut e, region_desc::LEN, pick_len(rng));
    e
}

/// An access near the edges of a registered region, or anywhere.
fn random_access(rng: &mut StdRng, o: &Oracle) -> (u64, u32, bool) {
    let write = rng.gen_bool(0.5);
    let live: Vec<Slot> = o.slots.iter().flatten().copied().collect();
    if live.is_empty() || rng.gen_bool(0.15) {
        return (pick_base(rng), rng.gen_range(0..0x2000u32), write);
    }
    let s = live[rng.gen_range(0..live.len())];
    let len = match rng.gen_range(0..5) {
        0 => 0,
        1 => 1,
        2 => 32,
        3 => 4096,
        _ => rng.gen_range(1..0x3000u32),
    };
    let end = s.base as u128 + s.len as u128;
    let d = rng.gen_range(0..3u64);
    let addr = match rng.gen_range(0..5) {
        0 => s.base.wrapping_add(d),
        1 => s.base.wrapping_sub(d),
        2 => (end.wrapping_sub(len as u128) as u64).wrapping_add(d),
        3 => (end.wrapping_sub(len as u128) as u64).wrapping_sub(d),
        _ => s.base.wrapping_add(rng.gen_range(0..s.len.min(1 << 20))),
    };
    (addr, len, write)
}

fn run(model: &str, seed: u64, cycles: usize) {
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
    let p = Ports {
        clk: m.input("clk").unwrap(),
        rst: m.input("rst").unwrap(),
        prot_en: m.input("prot_en").unwrap(),
        req_valid: m.input("s_req_valid").unwrap(),
        req_ready: m.output("s_req_ready").unwrap(),
        req_data: m.input("s_req_data").unwrap(),
        cpl_valid: m.output("m_cpl_valid").unwrap(),
        cpl_ready: m.input("m_cpl_ready").unwrap(),
        cpl_data: m.output("m_cpl_data").unwrap(),
        lk_addr: m.input("lk_addr").unwrap(),
        lk_len: m.input("lk_len").unwrap(),
        lk_write: m.input("lk_write").unwrap(),
        lk_allowed: m.output("lk_allowed").unwrap(),
    };
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
        m.set(p.req_valid, pending.is_some() as u64);
        m.set_bytes(p.req_data, &pending.unwrap_or([0u8; 64]));
        let cpl_ready = rng.gen_bool(0.6);
        m.set(p.cpl_ready, cpl_ready as u64);

        let accesses: Vec<(u64, u32, bool)> = (0..k).map(|_| random_access(&mut rng, &o)).collect();
        let mut addr_b = vec![0u8; 8 * k];
        let mut len_b = vec![0u8; 4 * k];
        let mut wr = 0u64;
        for (i, &(a, l, w)) in accesses.iter().enumerate() {
            addr_b[8 * i..8 * i + 8].copy_from_slice(&a.to_le_bytes());
            len_b[4 * i..4 * i + 4].copy_from_slice(&l.to_le_bytes());
            wr |= (w as u64) << i;
        }
        m.set_bytes(p.lk_addr, &addr_b);
        m.set_bytes(p.lk_len, &len_b);
        m.set(p.lk_write, wr);
        m.eval();

        // lookups answer for the table as it is in this cycle
        let got = m.get(p.lk_allowed);
        for (i, &(a, l, w)) in accesses.iter().enumerate() {
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
        if m.get(p.cpl_valid) == 1 && cpl_ready {
            let mut c = [0u8; 32];
            m.get_bytes(p.cpl_data, &mut c);
            let e = expect
                .pop_front()
                .unwrap_or_else(|| panic!("{model} cycle {cycle}: unexpected completion {c:?}"));
            assert_eq!(c, e, "{model} cycle {cycle}: completion");
        }
        let take = pending.is_some() && m.get(p.req_ready) == 1;
        m.tick(p.clk);
        if take {
            let e = pending.take().unwrap();
            let st = o.request(&e);
            if st == status::OK {
                n_ok += 1;
            } else {
                n_bad += 1;
            }
            let mut c = [0u8; 32];
            put(&mut c, cpl::KIND, cpl_kind::CMD_DONE);
            put(&mut c, cpl::STATUS, st);
            put(&mut c, cpl::SOCK_REF, get(&e, region_desc::SOCK_REF));
            put(&mut c, cpl::TAG, get(&e, region_desc::TAG));
            put(&mut c, cpl::OPCODE, get(&e, region_desc::OPCODE));
            expect.push_back(c);
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

#[test]
fn prot_table_32_slots_matches_oracle() {
    run("prot_table_r32", 0x5eed_0004, 40_000);
}

#[test]
fn prot_table_5_slots_matches_oracle() {
    run("prot_table_r5", 0x5eed_0005, 20_000);
}

/// Reset invalidates every slot, and a slot is in force at the edge that takes its request.
#[test]
fn prot_table_reset_and_timing() {
    let mut m = Model::new("prot_table_r5").expect("model built");
    let clk = m.input("clk").unwrap();
    let rst = m.input("rst").unwrap();
    let en = m.input("prot_en").unwrap();
    let rv = m.input("s_req_valid").unwrap();
    let rd = m.input("s_req_data").unwrap();
    let cr = m.input("m_cpl_ready").unwrap();
    let la = m.input("lk_addr").unwrap();
    let ll = m.input("lk_len").unwrap();
    let lw = m.input("lk_write").unwrap();
    let al = m.output("lk_allowed").unwrap();
    m.set(rst, 1);
    m.tick(clk);
    m.set(rst, 0);
    m.set(en, 1);
    m.set(cr, 1);
    let mut a = [0u8; 16];
    a[..8].copy_from_slice(&0x1000u64.to_le_bytes());
    a[8..].copy_from_slice(&0x1fffu64.to_le_bytes());
    m.set_bytes(la, &a);
    let mut l = [0u8; 8];
    l[..4].copy_from_slice(&16u32.to_le_bytes());
    l[4..].copy_from_slice(&1u32.to_le_bytes());
    m.set_bytes(ll, &l);
    m.set(lw, 0b10);
    m.eval();
    assert_eq!(m.get(al), 0, "empty table refuses");
    m.set(en, 0);
    m.eval();
    assert_eq!(m.get(al), 0b11, "PROT_EN 0 allows");
    m.set(en, 1);
    let mut e = [0u8; 64];
    put(&mut e, region_desc::OPCODE, op::REG_REGION);
    put(&mut e, region_desc::SLOT, 4);
    put(
        &mut e,
        region_desc::FLAGS,
        region_perm::READ | region_perm::WRITE,
    );
    put(&mut e, region_desc::BASE, 0x1000);
    put(&mut e, region_desc::LEN, 0x1000);
    m.set_bytes(rd, &e);
    m.set(rv, 1);
    m.eval();
    assert_eq!(m.get(al), 0, "not yet in force before the edge");
    m.tick(clk);
    m.set(rv, 0);
    m.eval();
    assert_eq!(m.get(al), 0b11, "in force after the edge");
    // reset clears it
    m.set(rst, 1);
    m.tick(clk);
    m.set(rst, 0);
    m.eval();
    assert_eq!(m.get(al), 0, "reset invalidates");
}

/// reg_block's protection registers: NUM_REGIONS, CTRL.PROT_EN, fault events (last address and
/// info, IRQ_STATUS.FAULT with its mask and write-1-to-clear), STATUS.FAULT / ring_stop held
/// until a CTRL write with ENABLE = 0.
#[test]
fn reg_block_protection_registers() {
    use buflet_spec::reg;
    let mut m = Model::new("reg_block_w64").expect("model built");
    let clk = m.input("clk").unwrap();
    let rst = m.input("rst").unwrap();
    let valid = m.input("s_reg_valid").unwrap();
    let write = m.input("s_reg_write").unwrap();
    let addr = m.input("s_reg_addr").unwrap();
    let wdata = m.input("s_reg_wdata").unwrap();
    let rvalid = m.output("m_reg_rvalid").unwrap();
    let rdata = m.output("m_reg_rdata").unwrap();
    let fv = m.input("ev_fault_valid").unwrap();
    let fa = m.input("ev_fault_addr").unwrap();
    let fi = m.input("ev_fault_info").unwrap();
    let ff = m.input("ev_fault_fatal").unwrap();
    let prot_en = m.output("ctrl_prot_en").unwrap();
    let stop = m.output("ring_stop").unwrap();
    let irq = m.output("irq").unwrap();
    let nf = fv.width() as usize;
    assert_eq!(nf, 4, "NFAULT default");
    m.set(rst, 1);
    m.tick(clk);
    m.set(rst, 0);

    let wr = |m: &mut Model, a: u32, v: u32| {
        m.set(valid, 1);
        m.set(write, 1);
        m.set(addr, a as u64);
        m.set(wdata, v as u64);
        m.tick(clk);
        m.set(valid, 0);
    };
    let rd = |m: &mut Model, a: u32| -> u32 {
        m.set(valid, 1);
        m.set(write, 0);
        m.set(addr, a as u64);
        m.tick(clk);
        m.set(valid, 0);
        m.eval();
        assert_eq!(m.get(rvalid), 1);
        m.get(rdata) as u32
    };
    let fault = |m: &mut Model, events: &[(usize, u64, u16, bool)]| {
        let mut a = vec![0u8; 8 * nf];
        let mut info = vec![0u8; 2 * nf];
        let (mut v, mut f) = (0u64, 0u64);
        for &(port, ad, inf, fatal) in events {
            a[8 * port..8 * port + 8].copy_from_slice(&ad.to_le_bytes());
            info[2 * port..2 * port + 2].copy_from_slice(&inf.to_le_bytes());
            v |= 1 << port;
            f |= (fatal as u64) << port;
        }
        m.set_bytes(fa, &a);
        m.set_bytes(fi, &info);
        m.set(fv, v);
        m.set(ff, f);
    };
    let no_fault = |m: &mut Model| {
        m.set(fv, 0);
        m.set(ff, 0);
    };

    assert_eq!(rd(&mut m, reg::NUM_REGIONS), 32);
    assert_eq!(rd(&mut m, reg::STATUS), 1);
    wr(&mut m, reg::CTRL, 0xFFFF_FFFF);
    assert_eq!(rd(&mut m, reg::CTRL), 3);
    m.eval();
    assert_eq!(m.get(prot_en), 1);
    wr(&mut m, reg::CTRL, 1);
    m.eval();
    assert_eq!(m.get(prot_en), 0);
    wr(&mut m, reg::CTRL, 3);
    wr(&mut m, reg::IRQ_MASK, 2);
    assert_eq!(rd(&mut m, reg::IRQ_MASK), 2);

    // two non-fatal faults in one cycle: the higher-numbered port is recorded
    fault(
        &mut m,
        &[
            (1, 0x1111_2222_3333_4444, 0x0101, false),
            (3, 0xdead_beef_0000_1000, 0x0200, false),
        ],
    );
    m.tick(clk);
    no_fault(&mut m);
    m.eval();
    assert_eq!(m.get(irq), 1, "IRQ_STATUS.FAULT under IRQ_MASK.FAULT");
    assert_eq!(m.get(stop), 0, "a non-fatal fault does not stop the rings");
    assert_eq!(rd(&mut m, reg::PROT_FAULT_ADDR_LO), 0x0000_1000);
    assert_eq!(rd(&mut m, reg::PROT_FAULT_ADDR_HI), 0xdead_beef);
    assert_eq!(rd(&mut m, reg::PROT_FAULT_INFO), 0x0200);
    assert_eq!(rd(&mut m, reg::IRQ_STATUS), 2);
    assert_eq!(rd(&mut m, reg::STATUS), 3, "READY | ENABLED, no FAULT");
    // W1C of CPL leaves FAULT; W1C of FAULT clears it
    wr(&mut m, reg::IRQ_STATUS, 1);
    assert_eq!(rd(&mut m, reg::IRQ_STATUS), 2);
    wr(&mut m, reg::IRQ_STATUS, 2);
    assert_eq!(rd(&mut m, reg::IRQ_STATUS), 0);
    m.eval();
    assert_eq!(m.get(irq), 0);
    // a fault in the cycle of the W1C wins
    fault(&mut m, &[(0, 0x42, 0x0001, false)]);
    wr(&mut m, reg::IRQ_STATUS, 2);
    no_fault(&mut m);
    assert_eq!(rd(&mut m, reg::IRQ_STATUS), 2);
    assert_eq!(rd(&mut m, reg::PROT_FAULT_INFO), 1);

    // a fatal (ring) fault: STATUS.FAULT and ring_stop until CTRL.ENABLE is cleared
    fault(&mut m, &[(2, 0x9000, 0x0101, true)]);
    m.tick(clk);
    no_fault(&mut m);
    m.eval();
    assert_eq!(m.get(stop), 1);
    assert_eq!(rd(&mut m, reg::STATUS), 7);
    wr(&mut m, reg::CTRL, 3);
    m.eval();
    assert_eq!(m.get(stop), 1, "writing ENABLE = 1 again does not clear it");
    wr(&mut m, reg::CTRL, 2);
    m.eval();
    assert_eq!(m.get(stop), 0, "clearing ENABLE clears it");
    assert_eq!(rd(&mut m, reg::STATUS), 1);
    wr(&mut m, reg::CTRL, 3);
    assert_eq!(rd(&mut m, reg::STATUS), 3);
    // 2 + 1 + 1 refusals, each counted
    assert_ne!(
        reg::CNT_PROT_FAULTS,
        reg::CNT_BLK_READS,
        "spec: distinct addresses"
    );
    assert_eq!(rd(&mut m, reg::CNT_PROT_FAULTS), 4);
}

/// blk_dma's protection checks, directed: the lookup (prot_addr/len/write) is answered by the
/// test; a refused element fetch issues no read, a refused BLK_WRITE source or BLK_READ
/// destination ends the request before any block-device operation; each posts BLK_DONE
/// PROT_FAULT with BYTES 0 and pulses ev_fault with the refused address and direction.
fn blk_dma_refusal(model: &str, read: bool, deny_elem: bool) {
    use buflet_spec::{blk_req, sg_elem};
    let mut m = Model::new(model).expect("model built");
    let clk = m.input("clk").unwrap();
    let kw = m.port("s_axis_dma_rd_tkeep").unwrap().width() as usize;
    let dw = kw * 8;
    let pn = |m: &Model, n: &str| m.port(n).unwrap_or_else(|e| panic!("{e}"));
    let (sg_addr, src) = (0x1000u64, 0x8000u64);
    m.set(pn(&m, "rst"), 1);
    m.tick(clk);
    m.set(pn(&m, "rst"), 0);
    let mut cmd = [0u8; 64];
    put(
        &mut cmd,
        blk_req::OPCODE,
        if read { op::BLK_READ } else { op::BLK_WRITE },
    );
    put(&mut cmd, blk_req::TAG, 77);
    put(&mut cmd, blk_req::SG_ADDR, sg_addr);
    put(&mut cmd, blk_req::SG_MAX, 4);
    put(&mut cmd, blk_req::BYTES, 4096);
    let mut elem = [0u8; 32];
    put(&mut elem, sg_elem::SRC_ADDR, src);
    put(&mut elem, sg_elem::LEN, 4096);
    put(&mut elem, sg_elem::DISK_ADDR, 0);
    put(&mut elem, sg_elem::NEXT, 0);
    m.set_bytes(pn(&m, "s_cmd_data"), &cmd);
    m.set(pn(&m, "s_cmd_valid"), 1);
    m.set(pn(&m, "m_cpl_ready"), 1);
    let deny_addr = if deny_elem { sg_addr } else { src };
    let (mut reads, mut rsp_words): (usize, Vec<Vec<u8>>) = (0, Vec::new());
    let mut fault: Option<(u64, u64)> = None;
    let mut cpl_seen: Option<[u8; 32]> = None;
    for cycle in 0..400 {
        m.eval();
        if m.get(pn(&m, "s_cmd_ready")) == 1 && cycle > 0 {
            m.set(pn(&m, "s_cmd_valid"), 0);
        }
        let deny = m.get(pn(&m, "prot_addr")) == deny_addr;
        m.set(pn(&m, "prot_deny"), deny as u64);
        m.set(pn(&m, "m_dma_rd_req_ready"), 1);
        m.set(pn(&m, "m_blk_req_ready"), 1);
        // serve the element read, one word per cycle
        if let Some(w) = rsp_words.first() {
            m.set_bytes(pn(&m, "s_axis_dma_rd_tdata"), w);
            m.set(pn(&m, "s_axis_dma_rd_tkeep"), u64::MAX >> (64 - kw.min(64)));
            m.set(pn(&m, "s_axis_dma_rd_tvalid"), 1);
            m.set(pn(&m, "s_axis_dma_rd_tlast"), (rsp_words.len() == 1) as u64);
        } else {
            m.set(pn(&m, "s_axis_dma_rd_tvalid"), 0);
        }
        m.eval();
        assert_eq!(m.get(pn(&m, "m_blk_req_valid")), 0, "no block operation");
        assert_eq!(m.get(pn(&m, "m_dma_wr_req_valid")), 0, "no host write");
        if m.get(pn(&m, "m_dma_rd_req_valid")) == 1 {
            let a = m.get(pn(&m, "m_dma_rd_req_addr"));
            assert_eq!(a, sg_addr, "only the element is read");
            assert!(!deny_elem, "a refused element is not read");
            reads += 1;
            let mut words = Vec::new();
            for c in elem.chunks(dw / 8) {
                let mut w = vec![0u8; dw.div_ceil(8)];
                w[..c.len()].copy_from_slice(c);
                words.push(w);
            }
            rsp_words = words;
        } else if !rsp_words.is_empty() && m.get(pn(&m, "s_axis_dma_rd_tready")) == 1 {
            rsp_words.remove(0);
        }
        if m.get(pn(&m, "m_cpl_valid")) == 1 {
            let mut c = [0u8; 32];
            m.get_bytes(pn(&m, "m_cpl_data"), &mut c);
            cpl_seen = Some(c);
        }
        m.tick(clk);
        m.eval();
        if m.get(pn(&m, "ev_fault")) == 1 {
            assert!(fault.is_none(), "one fault");
            fault = Some((
                m.get(pn(&m, "ev_fault_addr")),
                m.get(pn(&m, "ev_fault_write")),
            ));
        }
        if cpl_seen.is_some() {
            break;
        }
    }
    let c = cpl_seen.expect("a completion");
    assert_eq!(get(&c, cpl::KIND), cpl_kind::BLK_DONE);
    assert_eq!(get(&c, cpl::STATUS), status::PROT_FAULT);
    assert_eq!(get(&c, cpl::TAG), 77);
    assert_eq!(get(&c, cpl::BYTES), 0);
    assert_eq!(reads, if deny_elem { 0 } else { 1 });
    let write = read && !deny_elem;
    assert_eq!(
        fault,
        Some((deny_addr, write as u64)),
        "{model} fault event"
    );
}

#[test]
fn blk_dma_refuses_element_fetch() {
    for model in ["blk_dma_w64", "blk_dma_w512"] {
        blk_dma_refusal(model, false, true);
        blk_dma_refusal(model, true, true);
    }
}

#[test]
fn blk_dma_refuses_write_source_and_read_destination() {
    for model in ["blk_dma_w64", "blk_dma_w512"] {
        blk_dma_refusal(model, false, false);
        blk_dma_refusal(model, true, false);
    }
}
