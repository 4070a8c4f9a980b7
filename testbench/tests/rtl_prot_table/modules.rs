//! Directed tests of single modules: `prot_table` reset and timing, `reg_block`'s protection
//! registers, `blk_dma`'s refusals (element fetch, write source, read destination) and
//! `dma_guard`'s refusals of reads and writes.

use crate::*;
use buflet_testbench::rtl_check::reset;

/// Reset invalidates every slot, and a slot is in force at the edge that takes its request.
pub fn prot_table_reset_and_timing() {
    let mut m = Model::new("prot_table_r5").expect("model built");
    let ports::ProtTable {
        clk,
        rst,
        prot_en: en,
        s_req_valid: rv,
        s_req_data: rd,
        m_cpl_ready: cr,
        lk_addr: la,
        lk_len: ll,
        lk_write: lw,
        lk_valid: lv,
        lk_allowed: al,
        ..
    } = ports::ProtTable::bind(&m).expect("ports");
    reset(&mut m, clk, rst, 1);
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
    m.set(lv, 0b00);
    m.eval();
    assert_eq!(m.get(al), 0b11, "a port that does not ask reads allowed");
    m.set(lv, 0b11);
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
    reset(&mut m, clk, rst, 1);
    m.eval();
    assert_eq!(m.get(al), 0, "reset invalidates");
}

/// reg_block's protection registers: NUM_REGIONS, CTRL.PROT_EN, fault events (last address and
/// info, IRQ_STATUS.FAULT with its mask and write-1-to-clear), STATUS.FAULT / ring_stop held
/// until a CTRL write with ENABLE = 0.
pub fn reg_block_protection_registers() {
    use buflet_spec::reg;
    let mut m = Model::new("reg_block_w64").expect("model built");
    let ports::RegBlock {
        clk,
        rst,
        s_reg_valid: valid,
        s_reg_write: write,
        s_reg_addr: addr,
        s_reg_wdata: wdata,
        m_reg_rvalid: rvalid,
        m_reg_rdata: rdata,
        ev_fault_valid: fv,
        ev_fault_addr: fa,
        ev_fault_info: fi,
        ev_fault_fatal: ff,
        ctrl_prot_en: prot_en,
        ring_stop: stop,
        irq,
        ..
    } = ports::RegBlock::bind(&m).expect("ports");
    let nf = fv.width() as usize;
    assert_eq!(nf, 4, "NFAULT default");
    reset(&mut m, clk, rst, 1);

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
pub fn blk_dma_refusal(model: &str, read: bool, deny_elem: bool) {
    use buflet_spec::{BlkReq, SgElem};
    let mut m = Model::new(model).expect("model built");
    let p = ports::BlkDma::bind(&m).expect("ports");
    let clk = p.clk;
    let kw = p.s_axis_dma_rd_tkeep.width() as usize;
    let dw = kw * 8;
    let (sg_addr, src) = (0x1000u64, 0x8000u64);
    reset(&mut m, clk, p.rst, 1);
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
    m.set_bytes(p.s_cmd_data, &cmd);
    m.set(p.s_cmd_valid, 1);
    m.set(p.m_cpl_ready, 1);
    let deny_addr = if deny_elem { sg_addr } else { src };
    let (mut reads, mut rsp_words): (usize, Vec<Vec<u8>>) = (0, Vec::new());
    let mut fault: Option<(u64, u64)> = None;
    let mut cpl_seen: Option<[u8; 32]> = None;
    for cycle in 0..400 {
        m.eval();
        if m.get(p.s_cmd_ready) == 1 && cycle > 0 {
            m.set(p.s_cmd_valid, 0);
        }
        let deny = m.get(p.prot_addr) == deny_addr;
        m.set(p.prot_deny, deny as u64);
        m.set(p.m_dma_rd_req_ready, 1);
        m.set(p.m_blk_req_ready, 1);
        // serve the element read, one word per cycle
        if let Some(w) = rsp_words.first() {
            m.set_bytes(p.s_axis_dma_rd_tdata, w);
            m.set(p.s_axis_dma_rd_tkeep, u64::MAX >> (64 - kw.min(64)));
            m.set(p.s_axis_dma_rd_tvalid, 1);
            m.set(p.s_axis_dma_rd_tlast, (rsp_words.len() == 1) as u64);
        } else {
            m.set(p.s_axis_dma_rd_tvalid, 0);
        }
        m.eval();
        assert_eq!(m.get(p.m_blk_req_valid), 0, "no block operation");
        assert_eq!(m.get(p.m_dma_wr_req_valid), 0, "no host write");
        if m.get(p.m_dma_rd_req_valid) == 1 {
            let a = m.get(p.m_dma_rd_req_addr);
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
        } else if !rsp_words.is_empty() && m.get(p.s_axis_dma_rd_tready) == 1 {
            rsp_words.remove(0);
        }
        if m.get(p.m_cpl_valid) == 1 {
            let mut c = [0u8; 32];
            m.get_bytes(p.m_cpl_data, &mut c);
            cpl_seen = Some(c);
        }
        m.tick(clk);
        m.eval();
        if m.get(p.ev_fault) == 1 {
            assert!(fault.is_none(), "one fault");
            fault = Some((m.get(p.ev_fault_addr), m.get(p.ev_fault_write)));
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

pub fn blk_dma_refuses_element_fetch() {
    for model in ["blk_dma_w64", "blk_dma_w512"] {
        blk_dma_refusal(model, false, true);
        blk_dma_refusal(model, true, true);
    }
}

pub fn blk_dma_refuses_write_source_and_read_destination() {
    for model in ["blk_dma_w64", "blk_dma_w512"] {
        blk_dma_refusal(model, false, false);
        blk_dma_refusal(model, true, false);
    }
}

/// Sets each input port to its value.
fn set_all(m: &mut Model, inputs: &[(Port, u64)]) {
    for &(port, v) in inputs {
        m.set(port, v);
    }
}

/// Checks each output port's value, evaluating the model before each read; a mismatch names
/// `what` and the port.
fn expect_all(m: &mut Model, what: &str, outputs: &[(Port, u64)]) {
    for &(port, v) in outputs {
        m.eval();
        let name = m.info().ports[port.index()].name;
        assert_eq!(m.get(port), v, "{what}: {name}");
    }
}

/// The ports of one of dma_guard's request paths (read or write): the request, its lookup,
/// the forwarded request and the fault event.
struct GuardPath {
    addr: Port,
    len: Port,
    id: Port,
    valid: Port,
    ready: Port,
    deny: Port,
    lk_addr: Port,
    lk_len: Port,
    fwd_valid: Port,
    fault: Port,
    fault_addr: Port,
    fault_id: Port,
}

impl GuardPath {
    /// Offers request (`addr`, `len`, `id`) with the lookup answering `deny`.
    fn offer(&self, m: &mut Model, addr: u64, len: u64, id: u64, deny: bool) {
        set_all(m, &[(self.addr, addr), (self.len, len), (self.id, id)]);
        set_all(m, &[(self.valid, 1), (self.deny, u64::from(deny))]);
    }

    /// Checks the lookup the guard makes for the offered request.
    fn expect_lookup(&self, m: &mut Model, what: &str, addr: u64, len: u64) {
        let lookup = [(self.lk_addr, addr), (self.lk_len, len)];
        expect_all(m, &format!("{what}: lookup"), &lookup);
    }

    /// The offered request is refused: taken and not forwarded; after the clock edge the
    /// request is withdrawn and one fault event names `addr` and `id`.
    fn refuse(&self, m: &mut Model, clk: Port, what: &str, addr: u64, id: u64) {
        let taken = [(self.fwd_valid, 0), (self.ready, 1)];
        expect_all(m, &format!("{what}: taken, not forwarded"), &taken);
        m.tick(clk);
        set_all(m, &[(self.valid, 0), (self.deny, 0)]);
        let fault = [(self.fault_addr, addr), (self.fault_id, id)];
        expect_all(m, &format!("{what}: fault"), &[(self.fault, 1)]);
        expect_all(m, &format!("{what}: fault"), &fault);
    }
}

/// dma_guard alone: allowed requests pass unchanged (and their responses / data); a refused
/// read never reaches the host and is answered with one error word (tuser, tlast, rd_refused);
/// a refused write never reaches the host and its data is taken and dropped up to tlast, also
/// when it was taken behind a passed write still owed its data; each refusal pulses one fault
/// event with address and requester id.
pub fn dma_guard_refusals() {
    let mut m = Model::new("dma_guard_w64").expect("model built");
    let p = ports::DmaGuard::bind(&m).expect("ports");
    let clk = p.clk;
    reset(&mut m, clk, p.rst, 1);
    let ready = [
        p.m_dma_rd_req_ready,
        p.m_dma_wr_req_ready,
        p.m_axis_dma_wr_tready,
        p.m_axis_rd_tready,
    ];
    set_all(&mut m, &ready.map(|r| (r, 1)));
    let rd = GuardPath {
        addr: p.s_rd_req_addr,
        len: p.s_rd_req_len,
        id: p.s_rd_req_id,
        valid: p.s_rd_req_valid,
        ready: p.s_rd_req_ready,
        deny: p.rd_lk_deny,
        lk_addr: p.rd_lk_addr,
        lk_len: p.rd_lk_len,
        fwd_valid: p.m_dma_rd_req_valid,
        fault: p.ev_rd_fault,
        fault_addr: p.ev_rd_fault_addr,
        fault_id: p.ev_rd_fault_id,
    };
    let wr = GuardPath {
        addr: p.s_wr_req_addr,
        len: p.s_wr_req_len,
        id: p.s_wr_req_id,
        valid: p.s_wr_req_valid,
        ready: p.s_wr_req_ready,
        deny: p.wr_lk_deny,
        lk_addr: p.wr_lk_addr,
        lk_len: p.wr_lk_len,
        fwd_valid: p.m_dma_wr_req_valid,
        fault: p.ev_wr_fault,
        fault_addr: p.ev_wr_fault_addr,
        fault_id: p.ev_wr_fault_id,
    };

    // an allowed read passes through, and its response too
    let (addr, id) = (0x1234_5678_9000, 2);
    rd.offer(&mut m, addr, 64, id, false);
    rd.expect_lookup(&mut m, "allowed read", addr, 64);
    let fwd = [(p.m_dma_rd_req_addr, addr), (p.m_dma_rd_req_id, id)];
    expect_all(&mut m, "allowed read: forwarded", &fwd);
    let taken = [(p.m_dma_rd_req_valid, 1), (p.s_rd_req_ready, 1)];
    expect_all(&mut m, "allowed read: taken", &taken);
    m.tick(clk);
    m.set(p.s_rd_req_valid, 0);
    let word = [(p.s_axis_dma_rd_tdata, 0xAB), (p.s_axis_dma_rd_tuser, 0)];
    set_all(&mut m, &word);
    set_all(
        &mut m,
        &[(p.s_axis_dma_rd_tvalid, 1), (p.s_axis_dma_rd_tlast, 1)],
    );
    let out = [(p.m_axis_rd_tdata, 0xAB), (p.m_axis_rd_tuser, 0)];
    expect_all(&mut m, "allowed read: response", &out);
    let moved = [(p.m_axis_rd_tvalid, 1), (p.s_axis_dma_rd_tready, 1)];
    expect_all(&mut m, "allowed read: response moved", &moved);
    let no_fault = [(p.rd_refused, 0), (p.ev_rd_fault, 0)];
    expect_all(&mut m, "allowed read: no fault", &no_fault);
    m.tick(clk);
    m.set(p.s_axis_dma_rd_tvalid, 0);

    // a refused read: no host request; one error word, held until taken
    let (addr, id) = (0xdead_0000, 0);
    rd.offer(&mut m, addr, 64, id, true); // the length stays 64
    rd.refuse(&mut m, clk, "refused read", addr, id);
    m.set(p.m_axis_rd_tready, 0);
    // reads stay in flight behind it (split transactions): an allowed read is forwarded, and
    // its host word, answered at once, waits behind the error word
    rd.offer(&mut m, 0x7000, 64, 1, false);
    let behind = [(p.m_dma_rd_req_valid, 1), (p.s_rd_req_ready, 1)];
    expect_all(&mut m, "a read behind a refused one: forwarded", &behind);
    m.tick(clk);
    m.set(p.s_rd_req_valid, 0);
    let word = [(p.s_axis_dma_rd_tdata, 0xCD), (p.s_axis_dma_rd_tuser, 0)];
    set_all(&mut m, &word);
    set_all(
        &mut m,
        &[(p.s_axis_dma_rd_tvalid, 1), (p.s_axis_dma_rd_tlast, 1)],
    );
    let err = [
        (p.m_axis_rd_tlast, 1),
        (p.m_axis_rd_tuser, 1),
        (p.m_axis_rd_tdata, 0),
    ];
    for _ in 0..3 {
        let valid = [(p.m_axis_rd_tvalid, 1), (p.rd_refused, 1)];
        expect_all(&mut m, "refused read: error word", &valid);
        expect_all(&mut m, "refused read: error word", &err);
        let held = [(p.s_axis_dma_rd_tready, 0)];
        expect_all(&mut m, "refused read: the host word behind it waits", &held);
        m.tick(clk);
        expect_all(&mut m, "one pulse per refusal", &[(p.ev_rd_fault, 0)]);
    }
    m.set(p.m_axis_rd_tready, 1);
    m.tick(clk);
    let next = [(p.m_axis_rd_tvalid, 1), (p.rd_refused, 0)];
    expect_all(
        &mut m,
        "refused read: error word taken, the next read's word",
        &next,
    );
    let out = [(p.m_axis_rd_tdata, 0xCD), (p.m_axis_rd_tuser, 0)];
    expect_all(&mut m, "the read behind: its host word", &out);
    expect_all(
        &mut m,
        "the read behind: moved",
        &[(p.s_axis_dma_rd_tready, 1)],
    );
    m.tick(clk);
    m.set(p.s_axis_dma_rd_tvalid, 0);
    let gone = [(p.m_axis_rd_tvalid, 0), (p.rd_refused, 0)];
    expect_all(&mut m, "no read in flight", &gone);

    // a refused write: no host request, four data words taken and dropped
    let (addr, id) = (0xbeef_0040, 1);
    wr.offer(&mut m, addr, 32, id, true);
    wr.expect_lookup(&mut m, "refused write", addr, 32);
    wr.refuse(&mut m, clk, "refused write", addr, id);
    m.set(p.m_axis_dma_wr_tready, 0);
    for k in 0..4 {
        set_all(
            &mut m,
            &[
                (p.s_axis_wr_tvalid, 1),
                (p.s_axis_wr_tlast, u64::from(k == 3)),
            ],
        );
        let dropped = [(p.wr_refused, 1), (p.s_axis_wr_tready, 1)];
        expect_all(&mut m, "dropped words are taken", &dropped);
        expect_all(&mut m, "dropped", &[(p.m_axis_dma_wr_tvalid, 0)]);
        m.tick(clk);
    }
    m.set(p.s_axis_wr_tvalid, 0);
    let done = [(p.wr_refused, 0), (p.ev_wr_fault, 0)];
    expect_all(&mut m, "refused write: over, one fault pulse", &done);

    // an allowed write passes
    m.set(p.m_axis_dma_wr_tready, 1);
    m.set(p.s_wr_req_valid, 1);
    let fwd = [(p.m_dma_wr_req_valid, 1), (p.m_dma_wr_req_id, id)];
    expect_all(&mut m, "allowed write: forwarded", &fwd);
    m.tick(clk);
    m.set(p.s_wr_req_valid, 0);
    let word = [(p.s_axis_wr_tdata, 0x55), (p.s_axis_wr_tlast, 1)];
    set_all(&mut m, &word);
    m.set(p.s_axis_wr_tvalid, 1);
    let out = [(p.m_axis_dma_wr_tvalid, 1), (p.m_axis_dma_wr_tdata, 0x55)];
    expect_all(&mut m, "allowed write: data", &out);
    expect_all(&mut m, "allowed write: no fault", &[(p.ev_wr_fault, 0)]);
    m.tick(clk);
    m.set(p.s_axis_wr_tvalid, 0);

    // split writes: an allowed write and a refused one behind it are both taken before the
    // first one's data; that data passes, then the refused one's is dropped
    let (a1, a2) = (0xa000, 0xb000);
    wr.offer(&mut m, a1, 8, 2, false);
    let fwd = [(p.m_dma_wr_req_valid, 1), (p.s_wr_req_ready, 1)];
    expect_all(&mut m, "split write 1: forwarded", &fwd);
    m.tick(clk);
    wr.offer(&mut m, a2, 8, 0, true);
    wr.refuse(&mut m, clk, "split write 2", a2, 0);
    let word = [(p.s_axis_wr_tdata, 0x66), (p.s_axis_wr_tlast, 1)];
    set_all(&mut m, &word);
    m.set(p.s_axis_wr_tvalid, 1);
    let out = [
        (p.m_axis_dma_wr_tvalid, 1),
        (p.m_axis_dma_wr_tdata, 0x66),
        (p.wr_refused, 0),
    ];
    expect_all(&mut m, "split write 1: its word passes", &out);
    m.tick(clk);
    let dropped = [
        (p.m_axis_dma_wr_tvalid, 0),
        (p.wr_refused, 1),
        (p.s_axis_wr_tready, 1),
    ];
    expect_all(&mut m, "split write 2: its word is dropped", &dropped);
    m.tick(clk);
    m.set(p.s_axis_wr_tvalid, 0);
    expect_all(&mut m, "no write owed", &[(p.wr_refused, 0)]);
}
