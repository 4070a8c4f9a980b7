//! Smoke test of the whole `buflet_nic` top at 64 and 512 bits: register bring-up, request ring,
//! dispatch, completion ring, IRQ and counters, with host memory and a block device behind
//! random backpressure.

use crate::*;

/// The whole top: register bring-up, request ring -> dispatch (toe_engine for NOP and an unknown
/// opcode, blk_dma for BLK_WRITE), completion ring, IRQ and counters, with a host memory and a
/// block device behind random backpressure.
pub fn nic_smoke(name: &str, seed: u64) {
    use buflet_spec::{BlkReq, Cpl, CplKind, Opcode, ReqHdr, SgElem, Status};
    let (mut m, p) = dut!(name, BufletNic);
    let kw = p.s_axis_dma_rd_tkeep.width() as usize;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut mem = vec![0u8; 1 << 16];
    rng.fill(&mut mem[..]);
    let (req_base, cpl_base, sg, data) = (0x1000u64, 0x2000u64, 0x3000u64, 0x4003u64);
    // ring entries: NOP, an undefined opcode (0x7F), BLK_WRITE of one block from two elements
    let hdr = |opcode: u8, tag| {
        ReqHdr {
            opcode,
            tag,
            ..Default::default()
        }
        .to_bytes()
    };
    let e = [
        hdr(Opcode::Nop.code(), 7),
        hdr(0x7F, 8),
        BlkReq {
            opcode: Opcode::BlkWrite,
            tag: 9,
            sg_addr: sg,
            sg_max: 4,
            bytes: 4096,
            ..Default::default()
        }
        .to_bytes(),
    ];
    for (i, x) in e.iter().enumerate() {
        mem[req_base as usize + 64 * i..][..64].copy_from_slice(x);
    }
    for (k, (src_addr, len, disk_addr, next)) in [
        (data, 1000u32, 0x10_0000u64, sg + 32),
        (data + 5000, 3096, 0x10_0000 + 1000, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let el = SgElem {
            src_addr,
            len,
            disk_addr,
            next,
            ..Default::default()
        };
        mem[sg as usize + 32 * k..][..32].copy_from_slice(&el.to_bytes());
    }
    let mut want_block = mem[data as usize..][..1000].to_vec();
    want_block.extend_from_slice(&mem[data as usize + 5000..][..3096]);

    // register accesses, queued: (write, addr, data)
    let mut regq: VecDeque<(bool, u32, u32)> = VecDeque::from(vec![
        (false, reg::ID, 0),
        (false, reg::DATA_WIDTH, 0),
        (false, reg::STATUS, 0),
        (true, reg::REQ_BASE_LO, req_base as u32),
        (true, reg::REQ_SIZE, 4),
        (true, reg::CPL_BASE_LO, cpl_base as u32),
        (true, reg::CPL_SIZE, 4),
        (true, reg::IRQ_MASK, 1),
        (true, reg::CTRL, 1),
        (true, reg::REQ_TAIL, 3),
    ]);
    let mut reads: Vec<u32> = Vec::new();
    let mut rd_pending = false;
    let mut dma = DmaResponder::new(dma_rd_ports!(p));
    let mut wr: VecDeque<(u64, u64)> = VecDeque::new(); // accepted write requests
    let mut wr_off = 0usize;
    let mut blk: Option<(u64, Vec<u8>)> = None;
    let mut blocks = Vec::new();
    let mut blk_status = false;
    for cycle in 0..60_000 {
        let reg_v = !regq.is_empty() && rng.gen_bool(0.5);
        if reg_v {
            let (w, a, v) = regq[0];
            m.set(p.s_reg_write, w as u64);
            m.set(p.s_reg_addr, a as u64);
            m.set(p.s_reg_wdata, v as u64);
        }
        m.set(p.s_reg_valid, reg_v as u64);
        dma.drive(&mut m, &mut rng);
        let wq = rng.gen_bool(0.5);
        let wd = rng.gen_bool(0.6);
        m.set(p.m_dma_wr_req_ready, wq as u64);
        m.set(p.m_axis_dma_wr_tready, wd as u64);
        let bq = blk.is_none() && !blk_status && rng.gen_bool(0.5);
        let bd = blk.is_some() && rng.gen_bool(0.7);
        m.set(p.m_blk_req_ready, bq as u64);
        m.set(p.m_axis_blk_wr_tready, bd as u64);
        m.set(p.s_blk_resp_valid, blk_status as u64);
        m.set(p.s_blk_resp_status, 0);
        m.set(p.m_axis_tx_tready, 1);
        m.eval();
        // no frame is received, so no ACK is ever sent
        assert_eq!(m.get(p.m_axis_tx_tvalid), 0);
        if rd_pending {
            assert_eq!(m.get(p.m_reg_rvalid), 1);
            reads.push(m.get(p.m_reg_rdata) as u32);
            rd_pending = false;
        }
        if reg_v {
            rd_pending = !regq.pop_front().unwrap().0;
        }
        if let Some((a, l)) = dma.request(&m) {
            let (a, l) = (a as usize, l as usize);
            dma.push(rng.gen_range(0..6), &mem[a..a + l], false);
        }
        dma.take(&m);
        if wq && m.get(p.m_dma_wr_req_valid) == 1 {
            wr.push_back((m.get(p.m_dma_wr_req_addr), m.get(p.m_dma_wr_req_len)));
        }
        if wd && m.get(p.m_axis_dma_wr_tvalid) == 1 {
            let (a, l) = *wr.front().expect("write data before its request");
            let b = get_bytes(&m, p.m_axis_dma_wr_tdata, kw);
            let n = (l as usize - wr_off).min(kw);
            mem[a as usize + wr_off..][..n].copy_from_slice(&b[..n]);
            wr_off += n;
            assert_eq!(m.get(p.m_axis_dma_wr_tlast) == 1, wr_off == l as usize);
            if wr_off == l as usize {
                wr.pop_front();
                wr_off = 0;
            }
        }
        if blk_status && m.get(p.s_blk_resp_ready) == 1 {
            blk_status = false;
        }
        if bq && m.get(p.m_blk_req_valid) == 1 {
            blk = Some((m.get(p.m_blk_req_lba), Vec::new()));
        }
        if bd && m.get(p.m_axis_blk_wr_tvalid) == 1 {
            let b = get_bytes(&m, p.m_axis_blk_wr_tdata, kw);
            let (_, v) = blk.as_mut().unwrap();
            v.extend_from_slice(&b);
            if m.get(p.m_axis_blk_wr_tlast) == 1 {
                blocks.push(blk.take().unwrap());
                blk_status = true;
            }
        }
        m.tick(p.clk);
        if cycle > 100 && regq.is_empty() && m.get(p.irq) == 1 {
            // all three completions posted?
            // (a slot not yet written holds random bytes, which do not parse or have PHASE 0)
            let tail_done = (0..3).all(|i| {
                Cpl::parse(&mem[cpl_base as usize + 32 * i..]).is_ok_and(|c| c.phase == 1)
            });
            if tail_done {
                break;
            }
        }
    }
    assert_eq!(reads, vec![param::ID_MAGIC as u32, (kw * 8) as u32, 1]);
    let c: Vec<Cpl> = (0..3)
        .map(|i| Cpl::parse(&mem[cpl_base as usize + 32 * i..]).unwrap())
        .collect();
    let by_tag = |t: u32| {
        *c.iter()
            .find(|x| x.tag == t)
            .unwrap_or_else(|| panic!("no completion for tag {t}"))
    };
    let nop = by_tag(7);
    assert_eq!(
        (nop.kind, nop.status, nop.opcode),
        (CplKind::CmdDone, Status::Ok, Opcode::Nop.code())
    );
    let bad = by_tag(8);
    assert_eq!(
        (bad.kind, bad.status),
        (CplKind::CmdDone, Status::BadOpcode)
    );
    let bw = by_tag(9);
    assert_eq!(
        (bw.kind, bw.status, bw.bytes),
        (CplKind::BlkDone, Status::Ok, 4096)
    );
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].0, 0x10_0000 / 512);
    assert!(blocks[0].1 == want_block, "block data");
}

pub fn buflet_nic_smoke_w64() {
    nic_smoke("buflet_nic_w64", 71);
}

pub fn buflet_nic_smoke_w512() {
    nic_smoke("buflet_nic_w512", 72);
}
