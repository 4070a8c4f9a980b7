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
use buflet_spec::{Cpl, CplKind, Opcode, RegionDesc, RegionPerm, ReqHdr, Status};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, Debug)]
struct Slot {
    base: u64,
    len: u64,
    perm: RegionPerm,
}

/// The table as docs/protection.md describes it.
struct Oracle {
    slots: Vec<Option<Slot>>,
}

impl Oracle {
    /// Applies one request entry; returns the CMD_DONE status.
    fn request(&mut self, e: &[u8]) -> Status {
        let d = RegionDesc::parse(e).unwrap();
        let slot = d.slot as usize;
        let n = self.slots.len();
        if d.opcode == Opcode::RegRegion {
            let (base, len, flags) = (d.base, d.len, d.flags);
            let ok = slot < n
                && len != 0
                && base as u128 + len as u128 <= 1u128 << 64
                && (1..=3).contains(&flags.bits());
            if !ok {
                return Status::BadRegion;
            }
            self.slots[slot] = Some(Slot {
                base,
                len,
                perm: flags,
            });
            Status::Ok
        } else {
            if slot >= n {
                return Status::BadRegion;
            }
            self.slots[slot] = None;
            Status::Ok
        }
    }

    fn allowed(&self, prot_en: bool, addr: u64, len: u32, write: bool) -> bool {
        let want = if write {
            RegionPerm::WRITE
        } else {
            RegionPerm::READ
        };
        !prot_en
            || self.slots.iter().flatten().any(|s| {
                s.perm.intersects(want)
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
    let reg = rng.gen_bool(reg_prob);
    let opcode = if reg {
        Opcode::RegRegion
    } else {
        Opcode::DeregRegion
    };
    let sock_ref = rng.gen_range(0..4u64) as u16; // drawn as u64: the seed's sequence
    let slot = match rng.gen_range(0..12) {
        0 => n as u64,
        1 => 0xFFFF_FFFF,
        2 => rng.gen_range(n as u64..1 << 32),
        // low bits of a valid slot: an out-of-range slot must not alias onto one
        3 => (1u64 << 31) | rng.gen_range(0..n as u64),
        _ => rng.gen_range(0..n as u64),
    };
    // 0 and 4..=255 are invalid permission sets: kept as raw bits
    let flags = match rng.gen_range(0..10) {
        0 => 0,
        1 => rng.gen_range(4..256u64),
        _ => rng.gen_range(1..4u64),
    };
    RegionDesc {
        opcode,
        flags: RegionPerm::from_bits_retain(flags as u8),
        sock_ref,
        tag,
        slot: u32::try_from(slot).unwrap(),
        base: pick_base(rng),
        len: pick_len(rng),
        ..Default::default()
    }
    .to_bytes()
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

/// A REG_REGION entry.
fn region_req(tag: u32, slot: u32, base: u64, len: u64, flags: RegionPerm) -> [u8; 64] {
    RegionDesc {
        opcode: Opcode::RegRegion,
        flags,
        tag,
        slot,
        base,
        len,
        ..Default::default()
    }
    .to_bytes()
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
    let e = RegionDesc {
        opcode: Opcode::RegRegion,
        slot: 4,
        flags: RegionPerm::READ | RegionPerm::WRITE,
        base: 0x1000,
        len: 0x1000,
        ..Default::default()
    }
    .to_bytes();
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
    use buflet_spec::{BlkReq, SgElem};
    let mut m = Model::new(model).expect("model built");
    let clk = m.input("clk").unwrap();
    let kw = m.port("s_axis_dma_rd_tkeep").unwrap().width() as usize;
    let dw = kw * 8;
    let pn = |m: &Model, n: &str| m.port(n).unwrap_or_else(|e| panic!("{e}"));
    let (sg_addr, src) = (0x1000u64, 0x8000u64);
    m.set(pn(&m, "rst"), 1);
    m.tick(clk);
    m.set(pn(&m, "rst"), 0);
    let cmd = BlkReq {
        opcode: if read {
            Opcode::BlkRead
        } else {
            Opcode::BlkWrite
        },
        tag: 77,
        sg_addr,
        sg_max: 4,
        bytes: 4096,
        ..Default::default()
    }
    .to_bytes();
    let elem = SgElem {
        src_addr: src,
        len: 4096,
        disk_addr: 0,
        next: 0,
        ..Default::default()
    }
    .to_bytes();
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
    let c = Cpl::parse(&cpl_seen.expect("a completion")).unwrap();
    assert_eq!(c.kind, CplKind::BlkDone);
    assert_eq!(c.status, Status::ProtFault);
    assert_eq!(c.tag, 77);
    assert_eq!(c.bytes, 0);
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

/// A tiny host for the `buflet_nic` top: a byte memory, register accesses, DMA reads answered
/// one word per cycle, DMA writes applied to the memory. Counts the host accesses.
struct NicHost {
    m: Model,
    clk: Port,
    kw: usize,
    mem: Vec<u8>,
    /// (words left of the response being served)
    rsp: std::collections::VecDeque<Vec<u8>>,
    wr: Option<(u64, u64, usize)>,
    host_reads: Vec<u64>,
    host_writes: Vec<u64>,
}

impl NicHost {
    fn new(model: &str) -> NicHost {
        let mut m = Model::new(model).expect("model built (sim/models.txt)");
        let clk = m.input("clk").unwrap();
        let kw = m.port("s_axis_dma_rd_tkeep").unwrap().width() as usize;
        let rst = m.input("rst").unwrap();
        m.set(rst, 1);
        m.tick(clk);
        m.tick(clk);
        m.set(rst, 0);
        for (n, v) in [
            ("m_dma_rd_req_ready", 1),
            ("m_dma_wr_req_ready", 1),
            ("m_axis_dma_wr_tready", 1),
            ("m_axis_tx_tready", 1),
        ] {
            let p = m.input(n).unwrap();
            m.set(p, v);
        }
        NicHost {
            m,
            clk,
            kw,
            mem: vec![0u8; 1 << 16],
            rsp: Default::default(),
            wr: None,
            host_reads: Vec::new(),
            host_writes: Vec::new(),
        }
    }

    fn pin(&self, n: &str) -> Port {
        self.m.port(n).unwrap_or_else(|e| panic!("{e}"))
    }

    /// One clock: serve the DMA ports, then tick.
    fn cycle(&mut self) {
        let kw = self.kw;
        let word = self.rsp.front().cloned();
        let (tv, tl) = (
            self.pin("s_axis_dma_rd_tvalid"),
            self.pin("s_axis_dma_rd_tlast"),
        );
        let (td, tk) = (
            self.pin("s_axis_dma_rd_tdata"),
            self.pin("s_axis_dma_rd_tkeep"),
        );
        self.m.set(tv, word.is_some() as u64);
        if let Some(w) = &word {
            self.m.set_bytes(td, w);
            self.m.set_bytes(tk, &vec![0xFF; kw.div_ceil(8)]);
            self.m.set(tl, (self.rsp.len() == 1) as u64);
        }
        self.m.eval();
        if word.is_some() && self.m.get(self.pin("s_axis_dma_rd_tready")) == 1 {
            self.rsp.pop_front();
        }
        if self.m.get(self.pin("m_dma_rd_req_valid")) == 1 {
            let a = self.m.get(self.pin("m_dma_rd_req_addr"));
            let l = self.m.get(self.pin("m_dma_rd_req_len")) as usize;
            self.host_reads.push(a);
            for c in self.mem[a as usize..a as usize + l].chunks(kw) {
                let mut w = c.to_vec();
                w.resize(kw, 0);
                self.rsp.push_back(w);
            }
        }
        if self.m.get(self.pin("m_dma_wr_req_valid")) == 1 {
            assert!(self.wr.is_none(), "one write at a time");
            let a = self.m.get(self.pin("m_dma_wr_req_addr"));
            let l = self.m.get(self.pin("m_dma_wr_req_len"));
            self.host_writes.push(a);
            self.wr = Some((a, l, 0));
        }
        if self.m.get(self.pin("m_axis_dma_wr_tvalid")) == 1 {
            let (a, l, off) = self.wr.expect("write data after its request");
            let mut b = vec![0u8; kw];
            self.m.get_bytes(self.pin("m_axis_dma_wr_tdata"), &mut b);
            let n = (l as usize - off).min(kw);
            self.mem[a as usize + off..][..n].copy_from_slice(&b[..n]);
            self.wr = if off + n == l as usize {
                None
            } else {
                Some((a, l, off + n))
            };
        }
        self.m.tick(self.clk);
    }

    fn run(&mut self, n: usize) {
        for _ in 0..n {
            self.cycle();
        }
    }

    fn reg_access(&mut self, write: bool, a: u32, v: u32) -> u32 {
        let (valid, w, ad, wd) = (
            self.pin("s_reg_valid"),
            self.pin("s_reg_write"),
            self.pin("s_reg_addr"),
            self.pin("s_reg_wdata"),
        );
        self.m.set(valid, 1);
        self.m.set(w, write as u64);
        self.m.set(ad, a as u64);
        self.m.set(wd, v as u64);
        self.cycle();
        self.m.set(valid, 0);
        self.m.eval();
        let r = if write {
            0
        } else {
            assert_eq!(self.m.get(self.pin("m_reg_rvalid")), 1);
            self.m.get(self.pin("m_reg_rdata")) as u32
        };
        self.cycle();
        r
    }

    /// Send one frame on the MAC rx port, one word per cycle.
    fn send_frame(&mut self, f: &[u8]) {
        let kw = self.kw;
        let (td, tk, tv, tl, tr) = (
            self.pin("s_axis_rx_tdata"),
            self.pin("s_axis_rx_tkeep"),
            self.pin("s_axis_rx_tvalid"),
            self.pin("s_axis_rx_tlast"),
            self.pin("s_axis_rx_tready"),
        );
        let words: Vec<&[u8]> = f.chunks(kw).collect();
        let mut i = 0;
        let mut guard = 0;
        while i < words.len() {
            let mut w = words[i].to_vec();
            let n = w.len();
            w.resize(kw, 0);
            let keep: u128 = if n == 128 {
                u128::MAX
            } else {
                (1u128 << n) - 1
            };
            self.m.set_bytes(td, &w);
            self.m.set_bytes(tk, &keep.to_le_bytes()[..kw.div_ceil(8)]);
            self.m.set(tv, 1);
            self.m.set(tl, (i + 1 == words.len()) as u64);
            self.m.eval();
            if self.m.get(tr) == 1 {
                i += 1;
            }
            self.cycle();
            guard += 1;
            assert!(guard < 10_000, "rx port stuck");
        }
        self.m.set(tv, 0);
        self.m.set(tl, 0);
    }

    fn wr(&mut self, a: u32, v: u32) {
        self.reg_access(true, a, v);
    }

    fn rd(&mut self, a: u32) -> u32 {
        self.reg_access(false, a, 0)
    }
}

/// The ring accesses are checked only by dma_guard, and a refusal is fatal: a refused request
/// fetch reads nothing and leaves REQ_HEAD; a refused completion write writes nothing, leaves
/// CPL_TAIL and keeps the completion, which is posted once CTRL.ENABLE has been cleared and set
/// again (docs/protection.md).
fn nic_ring_faults(model: &str) {
    use buflet_spec::reg;
    let mut h = NicHost::new(model);
    let (req, cq) = (0x1000u64, 0x2000u64);
    let nop = |tag| {
        ReqHdr {
            opcode: Opcode::Nop.code(),
            tag,
            ..Default::default()
        }
        .to_bytes()
    };
    let reg_req = RegionDesc {
        opcode: Opcode::RegRegion,
        tag: 8,
        slot: 0,
        base: req,
        len: 0x100,
        flags: RegionPerm::READ,
        ..Default::default()
    };
    let e = [nop(7), reg_req.to_bytes(), nop(9)];
    for (i, x) in e.iter().enumerate() {
        h.mem[req as usize + 64 * i..][..64].copy_from_slice(x);
    }
    h.wr(reg::REQ_BASE_LO, req as u32);
    h.wr(reg::REQ_SIZE, 4);
    h.wr(reg::CPL_BASE_LO, cq as u32);
    h.wr(reg::CPL_SIZE, 4);
    h.wr(reg::IRQ_MASK, 2);
    // protection on, no region: the first ring fetch is refused
    h.wr(reg::CTRL, 3);
    h.wr(reg::REQ_TAIL, 1);
    h.run(200);
    assert!(h.host_reads.is_empty(), "refused fetch reached the host");
    assert!(h.host_writes.is_empty());
    assert_eq!(h.rd(reg::STATUS), 7, "READY | ENABLED | FAULT");
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 1);
    assert_eq!(h.rd(reg::PROT_FAULT_ADDR_LO), req as u32);
    assert_eq!(h.rd(reg::PROT_FAULT_ADDR_HI), 0);
    assert_eq!(
        h.rd(reg::PROT_FAULT_INFO),
        0x0000,
        "read, requester 0 (request fetch)"
    );
    assert_eq!(h.rd(reg::REQ_HEAD), 0);
    assert_eq!(h.rd(reg::IRQ_STATUS) & 2, 2);
    h.m.eval();
    assert_eq!(h.m.get(h.pin("irq")), 1);
    // ENABLE cleared then set (protection off): the entry is fetched and completed
    h.wr(reg::CTRL, 0);
    assert_eq!(h.rd(reg::STATUS) & 4, 0, "FAULT cleared by CTRL.ENABLE 0");
    h.wr(reg::CTRL, 1);
    h.wr(reg::REQ_TAIL, 2);
    h.run(400);
    assert_eq!(h.rd(reg::REQ_HEAD), 2);
    assert_eq!(h.rd(reg::CPL_TAIL), 2);
    let c0 = Cpl::parse(&h.mem[cq as usize..]).unwrap();
    assert_eq!(
        (c0.kind, c0.status, c0.tag),
        (CplKind::CmdDone, Status::Ok, 7)
    );
    let c1 = Cpl::parse(&h.mem[cq as usize + 32..]).unwrap();
    assert_eq!(
        (c1.status, c1.tag, c1.opcode),
        (Status::Ok, 8, Opcode::RegRegion.code())
    );
    // protection on with only the request ring registered (READ): the fetch is allowed, the
    // completion write is refused
    let (nr, nw) = (h.host_reads.len(), h.host_writes.len());
    h.wr(reg::CTRL, 3);
    h.wr(reg::REQ_TAIL, 3);
    h.run(400);
    assert_eq!(h.host_reads.len(), nr + 1, "the fetch is inside the region");
    assert_eq!(
        h.host_writes.len(),
        nw,
        "refused completion write reached the host"
    );
    assert_eq!(h.rd(reg::REQ_HEAD), 3);
    assert_eq!(
        h.rd(reg::CPL_TAIL),
        2,
        "the refused completion is not posted"
    );
    assert_eq!(h.rd(reg::STATUS), 7);
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 2);
    assert_eq!(h.rd(reg::PROT_FAULT_ADDR_LO), (cq + 64) as u32);
    assert_eq!(
        h.rd(reg::PROT_FAULT_INFO),
        0x0101,
        "write, requester 1 (completion writer)"
    );
    assert!(h.mem[cq as usize + 64..][..32].iter().all(|&b| b == 0));
    // cleared and re-enabled without protection: the kept completion is posted
    h.wr(reg::CTRL, 0);
    h.wr(reg::CTRL, 1);
    h.run(200);
    assert_eq!(h.rd(reg::CPL_TAIL), 3);
    let c2 = Cpl::parse(&h.mem[cq as usize + 64..]).unwrap();
    assert_eq!(
        (c2.kind, c2.status, c2.tag),
        (CplKind::CmdDone, Status::Ok, 9)
    );
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 2);
}

#[test]
fn nic_ring_faults_w64() {
    nic_ring_faults("buflet_nic_w64");
}

#[test]
fn nic_ring_faults_w512() {
    nic_ring_faults("buflet_nic_w512");
}

/// An anonymous buffer outside the registered regions is refused before any write: ANON_RX
/// {PROT_FAULT, BYTES 0}, the frame dropped under its own reason (NO_SOCKET), a fault recorded
/// (write, requester 0, toe_engine), not fatal; the next buffer (registered) gets the next frame.
fn nic_anon_refused(model: &str) {
    use buflet_spec::{reg, AnonDesc};
    use etherparse::PacketBuilder;
    let mut h = NicHost::new(model);
    let (req, cq, bad, good) = (0x1000u64, 0x2000u64, 0x8000u64, 0x9000u64);
    let mut e = [[0u8; 64]; 5];
    for (i, (base, len, flags)) in [
        (req, 0x200u64, RegionPerm::READ),
        (cq, 0x100, RegionPerm::WRITE),
        (good, 2048, RegionPerm::WRITE),
    ]
    .into_iter()
    .enumerate()
    {
        e[i] = region_req(10 + i as u32, i as u32, base, len, flags);
    }
    for (k, addr) in [bad, good].into_iter().enumerate() {
        e[3 + k] = AnonDesc {
            opcode: Opcode::AnonPost,
            tag: 100 + k as u32,
            ref_num: k as u32,
            len: 2048,
            addr,
            ..Default::default()
        }
        .to_bytes();
    }
    for (i, x) in e.iter().enumerate() {
        h.mem[req as usize + 64 * i..][..64].copy_from_slice(x);
    }
    h.wr(reg::REQ_BASE_LO, req as u32);
    h.wr(reg::REQ_SIZE, 8);
    h.wr(reg::CPL_BASE_LO, cq as u32);
    h.wr(reg::CPL_SIZE, 8);
    h.wr(reg::CTRL, 1);
    h.wr(reg::REQ_TAIL, 5);
    h.run(600);
    assert_eq!(h.rd(reg::CPL_TAIL), 3, "three CMD_DONE");
    h.wr(reg::CTRL, 3);
    let frame = |n: u8| {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000 + n as u16, 2000);
        let mut v = Vec::new();
        b.write(&mut v, &[n; 40]).unwrap();
        v
    };
    let nw = h.host_writes.len();
    h.send_frame(&frame(1));
    h.run(600);
    assert!(
        h.host_writes[nw..].iter().all(|&a| a != bad),
        "write into the refused buffer"
    );
    assert_eq!(h.rd(reg::CPL_TAIL), 4);
    let c = Cpl::parse(&h.mem[cq as usize + 3 * 32..]).unwrap();
    assert_eq!(
        (c.kind, c.status, c.tag, c.ref_num, c.bytes),
        (CplKind::AnonRx, Status::ProtFault, 100, 0, 0)
    );
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 1);
    assert_eq!(h.rd(reg::PROT_FAULT_ADDR_LO), bad as u32);
    assert_eq!(
        h.rd(reg::PROT_FAULT_INFO),
        0x0001,
        "write, requester 0 (toe_engine)"
    );
    assert_eq!(
        h.rd(reg::CNT_DROP_NO_SOCKET),
        1,
        "dropped under its own reason"
    );
    assert_eq!(h.rd(reg::CNT_ANON_RX), 0);
    assert_eq!(h.rd(reg::STATUS), 3, "not fatal");
    let f2 = frame(2);
    h.send_frame(&f2);
    h.run(600);
    assert_eq!(h.rd(reg::CPL_TAIL), 5);
    let c = Cpl::parse(&h.mem[cq as usize + 4 * 32..]).unwrap();
    assert_eq!(
        (c.kind, c.status, c.tag, c.bytes),
        (CplKind::AnonRx, Status::Ok, 101, f2.len() as u32)
    );
    assert_eq!(&h.mem[good as usize..][..f2.len()], &f2[..]);
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 1);
    assert_eq!(h.rd(reg::CNT_ANON_RX), 1);
    assert_eq!(h.rd(reg::CNT_DROP_NO_SOCKET), 1);
}

#[test]
fn nic_anon_refused_w64() {
    nic_anon_refused("buflet_nic_w64");
}

#[test]
fn nic_anon_refused_w512() {
    nic_anon_refused("buflet_nic_w512");
}

/// dma_guard alone: allowed requests pass unchanged (and their responses / data); a refused
/// read never reaches the host and is answered with one error word (tuser, tlast, rd_refused);
/// a refused write never reaches the host and its data is taken and dropped up to tlast; each
/// refusal pulses one fault event with address and requester id.
#[test]
fn dma_guard_refusals() {
    let mut m = Model::new("dma_guard_w64").expect("model built");
    let clk = m.input("clk").unwrap();
    let pn = |m: &Model, n: &str| m.port(n).unwrap_or_else(|e| panic!("{e}"));
    let set = |m: &mut Model, n: &str, v: u64| {
        let p = pn(m, n);
        m.set(p, v)
    };
    let g = |m: &mut Model, n: &str| {
        m.eval();
        let p = pn(m, n);
        m.get(p)
    };
    set(&mut m, "rst", 1);
    m.tick(clk);
    set(&mut m, "rst", 0);
    set(&mut m, "m_dma_rd_req_ready", 1);
    set(&mut m, "m_dma_wr_req_ready", 1);
    set(&mut m, "m_axis_dma_wr_tready", 1);
    set(&mut m, "m_axis_rd_tready", 1);

    // an allowed read passes through, and its response too
    set(&mut m, "s_rd_req_valid", 1);
    set(&mut m, "s_rd_req_addr", 0x1234_5678_9000);
    set(&mut m, "s_rd_req_len", 64);
    set(&mut m, "s_rd_req_id", 2);
    set(&mut m, "rd_lk_deny", 0);
    assert_eq!(g(&mut m, "rd_lk_addr"), 0x1234_5678_9000);
    assert_eq!(g(&mut m, "rd_lk_len"), 64);
    assert_eq!(g(&mut m, "m_dma_rd_req_valid"), 1);
    assert_eq!(g(&mut m, "m_dma_rd_req_addr"), 0x1234_5678_9000);
    assert_eq!(g(&mut m, "m_dma_rd_req_id"), 2);
    assert_eq!(g(&mut m, "s_rd_req_ready"), 1);
    m.tick(clk);
    set(&mut m, "s_rd_req_valid", 0);
    set(&mut m, "s_axis_dma_rd_tvalid", 1);
    set(&mut m, "s_axis_dma_rd_tdata", 0xAB);
    set(&mut m, "s_axis_dma_rd_tlast", 1);
    set(&mut m, "s_axis_dma_rd_tuser", 0);
    assert_eq!(g(&mut m, "m_axis_rd_tvalid"), 1);
    assert_eq!(g(&mut m, "m_axis_rd_tdata"), 0xAB);
    assert_eq!(g(&mut m, "m_axis_rd_tuser"), 0);
    assert_eq!(g(&mut m, "rd_refused"), 0);
    assert_eq!(g(&mut m, "s_axis_dma_rd_tready"), 1);
    assert_eq!(g(&mut m, "ev_rd_fault"), 0);
    m.tick(clk);
    set(&mut m, "s_axis_dma_rd_tvalid", 0);

    // a refused read: no host request; one error word, held until taken
    set(&mut m, "s_rd_req_valid", 1);
    set(&mut m, "s_rd_req_addr", 0xdead_0000);
    set(&mut m, "s_rd_req_id", 0);
    set(&mut m, "rd_lk_deny", 1);
    assert_eq!(g(&mut m, "m_dma_rd_req_valid"), 0);
    assert_eq!(g(&mut m, "s_rd_req_ready"), 1);
    m.tick(clk);
    set(&mut m, "s_rd_req_valid", 0);
    set(&mut m, "rd_lk_deny", 0);
    set(&mut m, "m_axis_rd_tready", 0);
    assert_eq!(g(&mut m, "ev_rd_fault"), 1);
    assert_eq!(g(&mut m, "ev_rd_fault_addr"), 0xdead_0000);
    assert_eq!(g(&mut m, "ev_rd_fault_id"), 0);
    for _ in 0..3 {
        assert_eq!(g(&mut m, "m_axis_rd_tvalid"), 1);
        assert_eq!(g(&mut m, "m_axis_rd_tlast"), 1);
        assert_eq!(g(&mut m, "m_axis_rd_tuser"), 1);
        assert_eq!(g(&mut m, "m_axis_rd_tdata"), 0);
        assert_eq!(g(&mut m, "rd_refused"), 1);
        assert_eq!(g(&mut m, "s_axis_dma_rd_tready"), 0);
        assert_eq!(g(&mut m, "s_rd_req_ready"), 0);
        m.tick(clk);
        assert_eq!(g(&mut m, "ev_rd_fault"), 0, "one pulse per refusal");
    }
    set(&mut m, "m_axis_rd_tready", 1);
    m.tick(clk);
    assert_eq!(g(&mut m, "m_axis_rd_tvalid"), 0);
    assert_eq!(g(&mut m, "rd_refused"), 0);

    // a refused write: no host request, four data words taken and dropped
    set(&mut m, "s_wr_req_valid", 1);
    set(&mut m, "s_wr_req_addr", 0xbeef_0040);
    set(&mut m, "s_wr_req_len", 32);
    set(&mut m, "s_wr_req_id", 1);
    set(&mut m, "wr_lk_deny", 1);
    assert_eq!(g(&mut m, "wr_lk_addr"), 0xbeef_0040);
    assert_eq!(g(&mut m, "wr_lk_len"), 32);
    assert_eq!(g(&mut m, "m_dma_wr_req_valid"), 0);
    assert_eq!(g(&mut m, "s_wr_req_ready"), 1);
    m.tick(clk);
    set(&mut m, "s_wr_req_valid", 0);
    set(&mut m, "wr_lk_deny", 0);
    assert_eq!(g(&mut m, "ev_wr_fault"), 1);
    assert_eq!(g(&mut m, "ev_wr_fault_addr"), 0xbeef_0040);
    assert_eq!(g(&mut m, "ev_wr_fault_id"), 1);
    set(&mut m, "m_axis_dma_wr_tready", 0);
    for k in 0..4 {
        set(&mut m, "s_axis_wr_tvalid", 1);
        set(&mut m, "s_axis_wr_tlast", (k == 3) as u64);
        assert_eq!(g(&mut m, "wr_refused"), 1);
        assert_eq!(g(&mut m, "s_axis_wr_tready"), 1, "dropped words are taken");
        assert_eq!(g(&mut m, "m_axis_dma_wr_tvalid"), 0);
        m.tick(clk);
    }
    set(&mut m, "s_axis_wr_tvalid", 0);
    assert_eq!(g(&mut m, "wr_refused"), 0);
    assert_eq!(g(&mut m, "ev_wr_fault"), 0);

    // an allowed write passes
    set(&mut m, "m_axis_dma_wr_tready", 1);
    set(&mut m, "s_wr_req_valid", 1);
    assert_eq!(g(&mut m, "m_dma_wr_req_valid"), 1);
    assert_eq!(g(&mut m, "m_dma_wr_req_id"), 1);
    m.tick(clk);
    set(&mut m, "s_wr_req_valid", 0);
    set(&mut m, "s_axis_wr_tvalid", 1);
    set(&mut m, "s_axis_wr_tdata", 0x55);
    set(&mut m, "s_axis_wr_tlast", 1);
    assert_eq!(g(&mut m, "m_axis_dma_wr_tvalid"), 1);
    assert_eq!(g(&mut m, "m_axis_dma_wr_tdata"), 0x55);
    assert_eq!(g(&mut m, "ev_wr_fault"), 0);
}

/// Named-buffer delivery (a UDP socket, so no handshake is needed): a page list outside the
/// regions (READ) and then a page outside them (WRITE) each return the head NB `PROT_FAULT`
/// with BYTES 0 and nothing written; the datagram stays and goes into the third NB, whose list
/// and page are registered.
fn nic_nb_refused(model: &str) {
    use buflet_spec::{reg, IpProto, NbDesc, SockDesc};
    use etherparse::PacketBuilder;
    let mut h = NicHost::new(model);
    let (req, cq) = (0x1000u64, 0x2000u64);
    let (list_bad, list_ok, page_ok, page_bad) = (0x6000u64, 0x5000u64, 0xA000u64, 0xB000u64);
    h.mem[list_ok as usize..][..8].copy_from_slice(&page_ok.to_le_bytes());
    h.mem[list_ok as usize + 8..][..8].copy_from_slice(&page_bad.to_le_bytes());
    h.mem[list_bad as usize..][..8].copy_from_slice(&page_ok.to_le_bytes());
    let (nic_mac, peer_mac) = ([2u8, 0, 0, 0, 0, 2], [2u8, 0, 0, 0, 0, 1]);
    let (nic_ip, peer_ip) = ([10u8, 0, 0, 2], [10u8, 0, 0, 1]);
    let mut e = vec![[0u8; 64]; 9];
    for (i, (base, len, flags)) in [
        (req, 0x400u64, RegionPerm::READ),
        (cq, 0x200, RegionPerm::WRITE),
        (list_ok, 16, RegionPerm::READ),
        (page_ok, 4096, RegionPerm::WRITE),
    ]
    .into_iter()
    .enumerate()
    {
        e[i] = region_req(10 + i as u32, i as u32, base, len, flags);
    }
    e[4] = SockDesc {
        opcode: Opcode::SockAdd,
        sock_ref: 1,
        tag: 50,
        local_mac: nic_mac,
        remote_mac: peer_mac,
        proto: IpProto::Udp.code(),
        local_ip: nic_ip.into(),
        remote_ip: peer_ip.into(),
        local_port: 2000,
        remote_port: 1000,
        rcv_buf: 65536,
        mss: 1460,
        ..Default::default()
    }
    .to_bytes();
    // three NBs in order: list refused, page refused, both registered
    for (k, (hmd, tag)) in [(list_bad, 200u32), (list_ok + 8, 201), (list_ok, 202)]
        .into_iter()
        .enumerate()
    {
        e[5 + k] = NbDesc {
            opcode: Opcode::NbPost,
            sock_ref: 1,
            tag,
            ref_num: k as u32,
            total_bytes: 2048,
            hmd_addr: hmd,
            hmd_pages: 1,
            ..Default::default()
        }
        .to_bytes();
    }
    for (i, x) in e.iter().take(8).enumerate() {
        h.mem[req as usize + 64 * i..][..64].copy_from_slice(x);
    }
    h.wr(reg::REQ_BASE_LO, req as u32);
    h.wr(reg::REQ_SIZE, 16);
    h.wr(reg::CPL_BASE_LO, cq as u32);
    h.wr(reg::CPL_SIZE, 16);
    // the regions are registered with protection off, the rest runs with it on
    h.wr(reg::CTRL, 1);
    h.wr(reg::REQ_TAIL, 4);
    h.run(800);
    h.wr(reg::CTRL, 3);
    h.wr(reg::REQ_TAIL, 8);
    h.run(1500);
    assert_eq!(h.rd(reg::REQ_HEAD), 8);
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 0, "setup faulted");
    let b = PacketBuilder::ethernet2(peer_mac, nic_mac)
        .ipv4(peer_ip, nic_ip, 64)
        .udp(1000, 2000);
    let mut f = Vec::new();
    b.write(&mut f, &[0x5A; 100]).unwrap();
    h.send_frame(&f);
    h.run(3000);
    assert!(
        !h.host_writes
            .iter()
            .any(|&a| (page_bad..page_bad + 4096).contains(&a)),
        "write into a refused page"
    );
    assert!(
        !h.host_reads.contains(&list_bad),
        "read of a refused page list"
    );
    let tail = h.rd(reg::CPL_TAIL) as usize;
    let cpls: Vec<Cpl> = (0..tail)
        .map(|i| Cpl::parse(&h.mem[cq as usize + 32 * i..]).unwrap())
        .collect();
    let ret = |tag: u32| {
        let c = cpls
            .iter()
            .find(|c| c.kind == CplKind::NbReturn && c.tag == tag)
            .unwrap_or_else(|| panic!("no NB_RETURN for tag {tag}"));
        (c.status, c.bytes)
    };
    assert_eq!(ret(200), (Status::ProtFault, 0));
    assert_eq!(ret(201), (Status::ProtFault, 0));
    let (st, n) = ret(202);
    assert_eq!(st, Status::Ok);
    assert!(
        n >= 100,
        "the datagram went into the registered NB ({n} bytes)"
    );
    assert!(h.host_writes.contains(&page_ok));
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 2);
    assert_eq!(
        h.rd(reg::PROT_FAULT_ADDR_LO),
        page_bad as u32,
        "the last fault: the page"
    );
    assert_eq!(
        h.rd(reg::PROT_FAULT_INFO),
        0x0001,
        "write, requester 0 (toe_engine)"
    );
    assert_eq!(h.rd(reg::STATUS), 3, "not fatal");
}

#[test]
fn nic_nb_refused_w64() {
    nic_nb_refused("buflet_nic_w64");
}

#[test]
fn nic_nb_refused_w512() {
    nic_nb_refused("buflet_nic_w512");
}
