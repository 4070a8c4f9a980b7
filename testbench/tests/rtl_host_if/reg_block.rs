//! `reg_block` tests: registers, counters (with a 32-bit wrap), configuration outputs and IRQ
//! against the reference in `regs.rs` over random accesses and events (the window's registers
//! read buf_window's state through, a BUF_WIN_ADDR write pulses `win_start`), the timer (`tick_req`
//! from TIMER_PERIOD and TIMER_KICK) pinned cycle by cycle, and the send side's registers and
//! counters (docs/tcp-transmit.md) event by event.

use crate::*;

pub fn reg_block_registers_counters_irq() {
    let (mut m, p) = dut!("reg_block_w64", RegBlock);
    let mut rng = StdRng::seed_from_u64(11);
    let mut r = Regs::default();
    let all: Vec<u32> = buflet_spec::REGS
        .iter()
        .map(|x| x.addr)
        // unmapped: past the map, holes, after the last counter, drop reason 0 and past the
        // last reason (LISTEN_FULL = 16)
        .chain([
            0x3FC,
            0x05C,
            0x06C,
            0x03C,
            reg::BUF_WIN_STATUS + 4,
            reg::BUF_WIN_DATA15 + 4,
            reg::CNT_TX_WND_UPDATES + 4,
            drop::COUNTER_BASE as u32,
            drop::COUNTER_BASE as u32 + 4 * 17,
            drop::COUNTER_BASE as u32 + 4 * 31,
        ])
        .collect();
    let n_win = param::WIN_BYTES as u32 / 4;
    for k in 0..n_win {
        assert!(
            all.contains(&(reg::BUF_WIN_DATA0 + 4 * k)),
            "BUF_WIN_DATA{k} is in the register list"
        );
    }
    assert_eq!(reg::BUF_WIN_DATA15, reg::BUF_WIN_DATA0 + 4 * (n_win - 1));
    for d in &DropReason::ALL[1..] {
        assert!(
            all.contains(&d.counter().unwrap()),
            "drop counter {d} is in the register list"
        );
    }
    let mut pending: Option<u32> = None; // expected read data
    let (mut req_head, mut cpl_tail, mut free) = (0u32, 0u32, 0u32);
    let mut reads = 0;
    let mut win_writes = 0;
    // timer reference: cycle of the last TIMER_PERIOD write and its value;
    // periodic pulses at that cycle + k * period, k >= 1
    let (mut period_at, mut period) = (0u64, 0u32);
    let mut ticks = (0usize, 0usize); // (periodic, kicks)
    for cycle in 0..40_000 {
        // register access with idle cycles
        let acc = rng.gen_bool(0.6);
        let write = rng.gen_bool(0.3);
        let addr = if write && rng.gen_bool(0.7) {
            RW_REGS[rng.gen_range(0..RW_REGS.len())]
        } else if write && rng.gen_bool(0.5) {
            reg::IRQ_STATUS
        } else if write && rng.gen_bool(0.3) {
            reg::BUF_WIN_ADDR
        } else {
            all[rng.gen_range(0..all.len())]
        };
        let wdata: u32 = if addr == reg::TIMER_PERIOD && rng.gen_bool(0.9) {
            rng.gen_range(0..60)
        } else if rng.gen_bool(0.5) {
            rng.gen()
        } else {
            rng.gen_range(0..2)
        };
        m.set(p.s_reg_valid, acc as u64);
        m.set(p.s_reg_write, write as u64);
        m.set(p.s_reg_addr, addr as u64);
        m.set(p.s_reg_wdata, wdata as u64);
        // events
        let ev = |rng: &mut StdRng| rng.gen_bool(0.3);
        let e_frame = ev(&mut rng);
        let e_bytes: u16 = rng.gen();
        let e_drop = ev(&mut rng);
        let e_reason: u8 = rng.gen_range(0..32);
        let e_acc = ev(&mut rng);
        let e_del = ev(&mut rng);
        let e_del_bytes: u16 = rng.gen();
        let e_nb = ev(&mut rng);
        let e_ooo = ev(&mut rng);
        let e_tx = ev(&mut rng);
        let e_tx_bytes: u16 = rng.gen();
        let e_seg = ev(&mut rng);
        let e_seg_bytes: u16 = rng.gen();
        let e_retrans = ev(&mut rng);
        let e_rto = ev(&mut rng);
        let e_fast = ev(&mut rng);
        let e_probe = ev(&mut rng);
        let e_wupd = ev(&mut rng);
        let e_done = ev(&mut rng);
        let e_done_count: u16 = if rng.gen_bool(0.5) {
            rng.gen_range(0..4)
        } else {
            rng.gen()
        };
        let e_blk = ev(&mut rng);
        let e_blk_rd = ev(&mut rng);
        let e_blk_to = ev(&mut rng);
        let e_blk_bytes: u16 = rng.gen();
        let e_anon = ev(&mut rng);
        let e_arp = ev(&mut rng);
        let e_timeout = ev(&mut rng);
        let e_tick = ev(&mut rng);
        let e_hold = ev(&mut rng);
        let e_rel = ev(&mut rng);
        let e_dev = ev(&mut rng);
        let e_dev_bytes: u16 = rng.gen();
        let e_accept = ev(&mut rng);
        let e_lookup = ev(&mut rng);
        let e_lookup_cyc = ev(&mut rng);
        let e_lookup_fwd = ev(&mut rng);
        let e_dlv_chain = ev(&mut rng);
        let e_frm_chain = ev(&mut rng);
        let e_win = ev(&mut rng);
        // the window's state (buf_window) changes now and then
        if rng.gen_bool(0.05) {
            r.win = WinIn {
                addr: rng.gen(),
                busy: rng.gen(),
                bad: rng.gen(),
                data: rng.gen(),
            };
        }
        m.set(p.win_addr, r.win.addr as u64);
        m.set(p.win_busy, r.win.busy as u64);
        m.set(p.win_bad, r.win.bad as u64);
        m.set_words(p.win_data, &r.win.data);
        let e_cpl = rng.gen_bool(0.05);
        let e_cpl_status: u8 = if rng.gen_bool(0.5) { 0 } else { rng.gen() };
        if rng.gen_bool(0.01) {
            req_head = rng.gen();
            cpl_tail = rng.gen();
            free = rng.gen::<u16>() as u32;
        }
        for (n, v) in [
            (p.ev_rx_frame, e_frame as u64),
            (p.ev_rx_bytes, e_bytes as u64),
            (p.ev_drop_valid, e_drop as u64),
            (p.ev_drop_reason, e_reason as u64),
            (p.ev_accepted, e_acc as u64),
            (p.ev_delivered_valid, e_del as u64),
            (p.ev_delivered_bytes, e_del_bytes as u64),
            (p.ev_nb_returned, e_nb as u64),
            (p.ev_ooo_held, e_ooo as u64),
            (p.ev_tx_frame, e_tx as u64),
            (p.ev_tx_bytes, e_tx_bytes as u64),
            (p.ev_tx_seg, e_seg as u64),
            (p.ev_tx_seg_bytes, e_seg_bytes as u64),
            (p.ev_tx_retrans, e_retrans as u64),
            (p.ev_tx_rto, e_rto as u64),
            (p.ev_tx_fast, e_fast as u64),
            (p.ev_tx_probe, e_probe as u64),
            (p.ev_tx_wupd, e_wupd as u64),
            (p.ev_tx_done, e_done as u64),
            (p.ev_tx_done_count, e_done_count as u64),
            (p.ev_blk_write, e_blk as u64),
            (p.ev_blk_read, e_blk_rd as u64),
            (p.ev_blk_timeout, e_blk_to as u64),
            (p.ev_blk_bytes, e_blk_bytes as u64),
            (p.ev_anon_rx, e_anon as u64),
            (p.ev_arp_reply, e_arp as u64),
            (p.ev_timeout, e_timeout as u64),
            (p.ev_tick, e_tick as u64),
            (p.ev_hold_rec, e_hold as u64),
            (p.ev_released, e_rel as u64),
            (p.ev_dev_bytes_valid, e_dev as u64),
            (p.ev_dev_bytes, e_dev_bytes as u64),
            (p.ev_accept, e_accept as u64),
            (p.ev_lookup, e_lookup as u64),
            (p.ev_lookup_cyc, e_lookup_cyc as u64),
            (p.ev_lookup_fwd, e_lookup_fwd as u64),
            (p.ev_dlv_chain, e_dlv_chain as u64),
            (p.ev_frm_chain, e_frm_chain as u64),
            (p.ev_win_read, e_win as u64),
            (p.half_open, HALF_OPEN_IN as u64),
            (p.accept_pool, ACCEPT_POOL_IN as u64),
            (p.cpl_posted, e_cpl as u64),
            (p.cpl_status, e_cpl_status as u64),
            (p.req_head, req_head as u64),
            (p.cpl_tail, cpl_tail as u64),
            (p.free_buflets, free as u64),
        ] {
            m.set(n, v);
        }
        m.eval();
        assert_eq!(m.get(p.s_reg_ready), 1);
        // read data of the previous cycle's read
        assert_eq!(
            m.get(p.m_reg_rvalid),
            pending.is_some() as u64,
            "cycle {cycle}: rvalid"
        );
        if let Some(v) = pending.take() {
            assert_eq!(m.get(p.m_reg_rdata) as u32, v, "cycle {cycle}: read data");
            reads += 1;
        }
        // configuration outputs and irq reflect the state before this edge
        let rw = |x| r.rw.get(&x).copied().unwrap_or(0) as u64;
        assert_eq!(m.get(p.ctrl_enable), rw(reg::CTRL) & 1);
        assert_eq!(
            m.get(p.req_base),
            rw(reg::REQ_BASE_LO) | rw(reg::REQ_BASE_HI) << 32
        );
        assert_eq!(
            m.get(p.cpl_base),
            rw(reg::CPL_BASE_LO) | rw(reg::CPL_BASE_HI) << 32
        );
        assert_eq!(m.get(p.req_size), rw(reg::REQ_SIZE));
        assert_eq!(m.get(p.req_tail), rw(reg::REQ_TAIL));
        assert_eq!(m.get(p.cpl_size), rw(reg::CPL_SIZE));
        assert_eq!(m.get(p.cpl_head), rw(reg::CPL_HEAD));
        assert_eq!(
            m.get(p.irq),
            (r.irq_status && rw(reg::IRQ_MASK) & 1 == 1) as u64,
            "cycle {cycle}: irq"
        );
        assert_eq!(
            m.get(p.nic_mac),
            rw(reg::NIC_MAC_LO) | (rw(reg::NIC_MAC_HI) & 0xFFFF) << 32,
            "cycle {cycle}: nic_mac"
        );
        assert_eq!(m.get(p.nic_ip), rw(reg::NIC_IP), "cycle {cycle}: nic_ip");
        assert_eq!(
            m.get(p.blk_timeout) as u32,
            r.read(reg::BLK_TIMEOUT, 0, 0, 0),
            "cycle {cycle}: blk_timeout"
        );
        for (out, a) in [
            (p.rto_init, reg::RTO_INIT),
            (p.rto_min, reg::RTO_MIN),
            (p.rto_max, reg::RTO_MAX),
            (p.tx_retries, reg::TX_RETRIES),
        ] {
            assert_eq!(
                m.get(out) as u32,
                r.read(a, 0, 0, 0),
                "cycle {cycle}: output of {a:#x}"
            );
        }
        let win_wr = acc && write && addr == reg::BUF_WIN_ADDR;
        assert_eq!(
            m.get(p.win_start),
            win_wr as u64,
            "cycle {cycle}: win_start"
        );
        if win_wr {
            assert_eq!(
                m.get(p.win_start_addr) as u32,
                wdata,
                "cycle {cycle}: win_start_addr"
            );
            win_writes += 1;
        }
        let kick = acc && write && addr == reg::TIMER_KICK;
        let periodic =
            period != 0 && cycle > period_at && (cycle - period_at) % u64::from(period) == 0;
        assert_eq!(
            m.get(p.tick_req),
            (kick || periodic) as u64,
            "cycle {cycle}: tick_req (period {period} written at {period_at})"
        );
        ticks.0 += usize::from(periodic);
        ticks.1 += usize::from(kick);
        // reference update at the edge
        if acc && !write {
            pending = Some(r.read(addr, req_head, cpl_tail, free));
        }
        if acc && write {
            if RW_REGS.contains(&addr) {
                r.rw.insert(addr, wdata);
            }
            if addr == reg::IRQ_STATUS && wdata & 1 == 1 {
                r.irq_status = false;
            }
            if addr == reg::TIMER_PERIOD {
                (period_at, period) = (cycle, wdata);
            }
        }
        if e_cpl {
            r.irq_status = true;
            r.add(reg::CNT_CPL_POSTED, 1);
            if e_cpl_status != 0 {
                r.add(reg::CNT_REQ_ERRORS, 1);
            }
        }
        if e_frame {
            r.add(reg::CNT_RX_FRAMES, 1);
            r.add(reg::CNT_RX_BYTES, e_bytes as u32);
        }
        // reason 0 has no counter
        let counter = DropReason::try_from(e_reason)
            .ok()
            .and_then(DropReason::counter);
        if let (true, Some(a)) = (e_drop, counter) {
            r.add(a, 1);
        }
        if e_acc {
            r.add(reg::CNT_RX_ACCEPTED, 1);
        }
        if e_del {
            r.add(reg::CNT_DELIVERED_BYTES, e_del_bytes as u32);
        }
        if e_nb {
            r.add(reg::CNT_NB_RETURNED, 1);
        }
        if e_ooo {
            r.add(reg::CNT_OOO_HELD, 1);
        }
        if e_tx {
            r.add(reg::CNT_TX_FRAMES, 1);
            r.add(reg::CNT_TX_BYTES, e_tx_bytes as u32);
        }
        if e_seg {
            r.add(reg::CNT_TX_SEGS, 1);
            r.add(reg::CNT_TX_DATA_BYTES, e_seg_bytes as u32);
        }
        if e_done {
            r.add(reg::CNT_TX_DONE, e_done_count as u32);
        }
        if e_blk {
            r.add(reg::CNT_BLK_WRITES, 1);
            r.add(reg::CNT_BLK_BYTES, e_blk_bytes as u32);
        }
        if e_blk_rd {
            r.add(reg::CNT_BLK_READS, 1);
            r.add(reg::CNT_BLK_RD_BYTES, e_blk_bytes as u32);
        }
        if e_dev {
            r.add(reg::CNT_BLK_DEV_BYTES, e_dev_bytes as u32);
        }
        for (e, a) in [
            (e_anon, reg::CNT_ANON_RX),
            (e_arp, reg::CNT_ARP_REPLIES),
            (e_timeout, reg::CNT_TIMEOUTS),
            (e_tick, reg::CNT_TICKS),
            (e_hold, reg::CNT_HOLD_RECORDS),
            (e_rel, reg::CNT_BUF_RELEASED),
            (e_blk_to, reg::CNT_BLK_TIMEOUTS),
            (e_retrans, reg::CNT_TX_RETRANS),
            (e_rto, reg::CNT_TX_RTO),
            (e_fast, reg::CNT_TX_FAST_RETRANS),
            (e_probe, reg::CNT_TX_PROBES),
            (e_wupd, reg::CNT_TX_WND_UPDATES),
            (e_accept, reg::CNT_ACCEPTS),
            (e_lookup, reg::CNT_LOOKUPS),
            (e_lookup_cyc, reg::CNT_LOOKUP_CYCLES),
            (e_lookup_fwd, reg::CNT_LOOKUP_FWD),
            (e_dlv_chain, reg::CNT_DLV_CHAINED),
            (e_frm_chain, reg::CNT_FRM_CHAINED),
            (e_win, reg::CNT_BUF_WIN_READS),
        ] {
            if e {
                r.add(a, 1);
            }
        }
        m.tick(p.clk);
    }
    assert!(reads > 5000);
    assert!(win_writes > 100, "{win_writes} BUF_WIN_ADDR writes");
    assert!(
        ticks.0 > 100 && ticks.1 > 100,
        "timer coverage: {ticks:?} (periodic, kicks)"
    );

    // 32-bit wrap of the byte counters: 65537 events of 65535 bytes (or posts) wrap
    // CNT_RX_BYTES, CNT_TX_BYTES, CNT_TX_DATA_BYTES and CNT_TX_DONE
    for n in [
        p.s_reg_valid,
        p.ev_drop_valid,
        p.ev_accepted,
        p.ev_delivered_valid,
        p.ev_nb_returned,
        p.ev_ooo_held,
        p.ev_tx_retrans,
        p.ev_tx_rto,
        p.ev_tx_fast,
        p.ev_tx_probe,
        p.ev_tx_wupd,
        p.ev_blk_write,
        p.ev_blk_read,
        p.ev_blk_timeout,
        p.ev_anon_rx,
        p.ev_arp_reply,
        p.ev_timeout,
        p.ev_tick,
        p.ev_hold_rec,
        p.ev_released,
        p.ev_dev_bytes_valid,
        p.ev_accept,
        p.ev_lookup,
        p.ev_lookup_cyc,
        p.ev_lookup_fwd,
        p.ev_dlv_chain,
        p.ev_frm_chain,
        p.ev_win_read,
        p.cpl_posted,
    ] {
        m.set(n, 0);
    }
    let wrapping = [
        (
            p.ev_rx_frame,
            p.ev_rx_bytes,
            reg::CNT_RX_FRAMES,
            reg::CNT_RX_BYTES,
        ),
        (
            p.ev_tx_frame,
            p.ev_tx_bytes,
            reg::CNT_TX_FRAMES,
            reg::CNT_TX_BYTES,
        ),
        (
            p.ev_tx_seg,
            p.ev_tx_seg_bytes,
            reg::CNT_TX_SEGS,
            reg::CNT_TX_DATA_BYTES,
        ),
    ];
    for &(v, n, count, bytes) in &wrapping {
        m.set(v, 1);
        m.set(n, 65535);
        r.add(count, 65537);
        r.add(bytes, 65537u32.wrapping_mul(65535));
    }
    m.set(p.ev_tx_done, 1);
    m.set(p.ev_tx_done_count, 65535);
    r.add(reg::CNT_TX_DONE, 65537u32.wrapping_mul(65535));
    for _ in 0..65537 {
        m.tick(p.clk);
    }
    for &(v, ..) in &wrapping {
        m.set(v, 0);
    }
    m.set(p.ev_tx_done, 0);
    let after: Vec<u32> = wrapping
        .iter()
        .flat_map(|&(_, _, count, bytes)| [bytes, count])
        .chain([reg::CNT_TX_DONE])
        .collect();
    for a in after {
        m.set(p.s_reg_valid, 1);
        m.set(p.s_reg_write, 0);
        m.set(p.s_reg_addr, a as u64);
        m.tick(p.clk);
        m.set(p.s_reg_valid, 0);
        m.eval();
        assert_eq!(m.get(p.m_reg_rvalid), 1);
        assert_eq!(
            m.get(p.m_reg_rdata) as u32,
            r.read(a, 0, 0, 0),
            "counter {a:#x} after wrap"
        );
    }
}

/// reg_block timer (docs/rx-paths.md decisions 4 and 8): `tick_req` pulses in the cycle of every
/// TIMER_KICK write and TIMER_PERIOD cycles after a TIMER_PERIOD write, then every period; a
/// write restarts the count, 0 stops it, 1 pulses every cycle; CTRL.ENABLE does not matter.
/// Cycles are counted from the write's handshake cycle (cycle 0).
pub fn reg_block_timer() {
    let (mut m, p) = dut!("reg_block_w64", RegBlock);
    // one cycle: an optional access, returns tick_req seen in that cycle
    fn cycle(m: &mut Model, p: &ports::RegBlock, acc: Option<(bool, u32, u32)>) -> bool {
        let (v, w, a, x) = match acc {
            Some((w, a, x)) => (1, w as u64, a as u64, x as u64),
            None => (0, 0, 0, 0),
        };
        m.set(p.s_reg_valid, v);
        m.set(p.s_reg_write, w);
        m.set(p.s_reg_addr, a);
        m.set(p.s_reg_wdata, x);
        m.eval();
        let t = m.get(p.tick_req) == 1;
        m.tick(p.clk);
        t
    }
    // cycles (from 0 = the write) in which tick_req pulsed over `n` cycles after a write
    fn after_write(m: &mut Model, p: &ports::RegBlock, addr: u32, v: u32, n: u64) -> Vec<u64> {
        let mut seen = Vec::new();
        if cycle(m, p, Some((true, addr, v))) {
            seen.push(0);
        }
        for c in 1..=n {
            if cycle(m, p, None) {
                seen.push(c);
            }
        }
        seen
    }
    fn read(m: &mut Model, p: &ports::RegBlock, addr: u32) -> u32 {
        cycle(m, p, Some((false, addr, 0)));
        m.set(p.s_reg_valid, 0);
        m.eval();
        assert_eq!(m.get(p.m_reg_rvalid), 1);
        m.get(p.m_reg_rdata) as u32
    }
    // reset: no ticks
    for _ in 0..500 {
        assert!(
            !cycle(&mut m, &p, None),
            "tick after reset with TIMER_PERIOD 0"
        );
    }
    for enable in [0u32, 1] {
        cycle(&mut m, &p, Some((true, reg::CTRL, enable)));
        // period 5: cycles 5, 10, ...
        let seen = after_write(&mut m, &p, reg::TIMER_PERIOD, 5, 52);
        assert_eq!(
            seen,
            (1..=10).map(|k| 5 * k).collect::<Vec<u64>>(),
            "period 5"
        );
        assert_eq!(read(&mut m, &p, reg::TIMER_PERIOD), 5);
        // a write mid-period restarts the count: the next pulse one new period after it
        for _ in 0..2 {
            cycle(&mut m, &p, None);
        }
        let seen = after_write(&mut m, &p, reg::TIMER_PERIOD, 7, 30);
        assert_eq!(seen, vec![7, 14, 21, 28], "period 7 after a restart");
        // the same value written again restarts too
        let seen = after_write(&mut m, &p, reg::TIMER_PERIOD, 7, 10);
        assert_eq!(seen, vec![7], "period 7 rewritten");
        // 1: every cycle
        let seen = after_write(&mut m, &p, reg::TIMER_PERIOD, 1, 6);
        assert_eq!(seen, vec![1, 2, 3, 4, 5, 6], "period 1");
        // 0: never (the write's own cycle still has the pulse period 1 put there)
        let seen = after_write(&mut m, &p, reg::TIMER_PERIOD, 0, 300);
        assert_eq!(seen, vec![0], "period 0 after period 1");
        let seen = after_write(&mut m, &p, reg::TIMER_PERIOD, 0, 300);
        assert!(seen.is_empty(), "period 0: {seen:?}");
        assert_eq!(read(&mut m, &p, reg::TIMER_PERIOD), 0);
        // a kick: one pulse in the write's cycle; TIMER_KICK reads back what was written
        let seen = after_write(&mut m, &p, reg::TIMER_KICK, 0xDEAD_BEEF, 20);
        assert_eq!(seen, vec![0], "kick");
        assert_eq!(read(&mut m, &p, reg::TIMER_KICK), 0xDEAD_BEEF);
        let seen = after_write(&mut m, &p, reg::TIMER_KICK, 0, 5);
        assert_eq!(seen, vec![0], "kick with 0");
        // kicks do not disturb the period; a kick in a periodic pulse's cycle is one pulse
        let mut seen = after_write(&mut m, &p, reg::TIMER_PERIOD, 4, 2);
        for c in 3..=20u64 {
            let kick = c == 6 || c == 8;
            if cycle(
                &mut m,
                &p,
                kick.then_some((true, reg::TIMER_KICK, c as u32)),
            ) {
                seen.push(c);
            }
        }
        assert_eq!(
            seen,
            vec![4, 6, 8, 12, 16, 20],
            "period 4 with kicks at 6 and 8"
        );
        // a large period: no pulse before it
        let seen = after_write(&mut m, &p, reg::TIMER_PERIOD, 1000, 999);
        assert!(seen.is_empty(), "period 1000: {seen:?}");
        assert!(cycle(&mut m, &p, None), "period 1000: pulse at cycle 1000");
        after_write(&mut m, &p, reg::TIMER_PERIOD, 0, 1);
    }
    // other registers written do not touch the count
    let mut seen = after_write(&mut m, &p, reg::TIMER_PERIOD, 6, 0);
    for c in 1..=13u64 {
        let acc = (c % 2 == 1).then_some((true, reg::NIC_IP, c as u32));
        if cycle(&mut m, &p, acc) {
            seen.push(c);
        }
    }
    assert_eq!(seen, vec![6, 12], "period 6 with other writes");
    // NIC_MAC_HI keeps bits 15:0; nic_mac is {HI[15:0], LO}, byte k = wire byte k
    cycle(&mut m, &p, Some((true, reg::NIC_MAC_LO, 0x4433_2211)));
    cycle(&mut m, &p, Some((true, reg::NIC_MAC_HI, 0xABCD_6655)));
    cycle(&mut m, &p, Some((true, reg::NIC_IP, 0x0A00_0001)));
    assert_eq!(read(&mut m, &p, reg::NIC_MAC_HI), 0x6655);
    assert_eq!(read(&mut m, &p, reg::NIC_MAC_LO), 0x4433_2211);
    assert_eq!(read(&mut m, &p, reg::NIC_IP), 0x0A00_0001);
    assert_eq!(
        m.get(p.nic_mac).to_le_bytes()[..6],
        [0x11, 0x22, 0x33, 0x44, 0x55, 0x66]
    );
    assert_eq!(m.get(p.nic_ip), 0x0A00_0001);
    assert_eq!(read(&mut m, &p, reg::NUM_ANON), param::DEF_NUM_ANON as u32);
}

/// reg_block's send side (docs/tcp-transmit.md, model/src/regs.rs): RTO_INIT, RTO_MIN, RTO_MAX
/// and TX_RETRIES reset to their DEF_ values, read back whole 32-bit writes and drive their
/// outputs from the edge after the write; NUM_POSTS reads the build parameter and ignores
/// writes, as the counters do; each send event counts only its own counter (byte and post
/// counts of 16 bits, a 16-bit ev_tx_bytes), its count inputs alone count nothing; drop
/// reason BAD_ACK (15) counts CNT_DROP_BAD_ACK; reset restores it all.
pub fn reg_block_tx_registers() {
    let (mut m, p) = dut!("reg_block_w64", RegBlock);
    for (port, w) in [
        (p.ev_tx_bytes, 16),
        (p.ev_tx_seg_bytes, 16),
        (p.ev_tx_done_count, 16),
        (p.rto_init, 32),
        (p.rto_min, 32),
        (p.rto_max, 32),
        (p.tx_retries, 32),
    ] {
        assert_eq!(port.width(), w, "port width");
    }
    fn access(m: &mut Model, p: &ports::RegBlock, write: bool, addr: u32, v: u32) {
        m.set(p.s_reg_valid, 1);
        m.set(p.s_reg_write, write as u64);
        m.set(p.s_reg_addr, addr as u64);
        m.set(p.s_reg_wdata, v as u64);
        m.tick(p.clk);
        m.set(p.s_reg_valid, 0);
        m.eval();
    }
    fn read(m: &mut Model, p: &ports::RegBlock, addr: u32) -> u32 {
        access(m, p, false, addr, 0);
        assert_eq!(m.get(p.m_reg_rvalid), 1);
        m.get(p.m_reg_rdata) as u32
    }
    let policy = [
        (reg::RTO_INIT, p.rto_init, param::DEF_RTO_INIT as u32),
        (reg::RTO_MIN, p.rto_min, param::DEF_RTO_MIN as u32),
        (reg::RTO_MAX, p.rto_max, param::DEF_RTO_MAX as u32),
        (reg::TX_RETRIES, p.tx_retries, param::DEF_TX_RETRIES as u32),
    ];
    let counters = [
        reg::CNT_TX_FRAMES,
        reg::CNT_TX_BYTES,
        reg::CNT_TX_SEGS,
        reg::CNT_TX_DATA_BYTES,
        reg::CNT_TX_RETRANS,
        reg::CNT_TX_RTO,
        reg::CNT_TX_FAST_RETRANS,
        reg::CNT_TX_PROBES,
        reg::CNT_TX_WND_UPDATES,
        reg::CNT_TX_DONE,
        reg::CNT_DROP_BAD_ACK,
    ];
    // the reset state: DEF_ values on the registers and outputs, counters 0
    let check_reset = |m: &mut Model, when: &str| {
        for &(a, out, def) in &policy {
            assert_eq!(m.get(out) as u32, def, "{when}: output of {a:#x}");
            assert_eq!(read(m, &p, a), def, "{when}: register {a:#x}");
        }
        for &a in &counters {
            assert_eq!(read(m, &p, a), 0, "{when}: counter {a:#x}");
        }
        assert_eq!(
            read(m, &p, reg::NUM_POSTS),
            NUM_POSTS_W64,
            "{when}: NUM_POSTS"
        );
    };
    check_reset(&mut m, "reset");
    assert_ne!(
        NUM_POSTS_W64,
        param::DEF_NUM_POSTS as u32,
        "the model's NUM_POSTS is not the default"
    );

    // read/write: every bit, the outputs from the edge after the write; other registers keep
    for (k, &(a, out, _)) in policy.iter().enumerate() {
        for v in [0xFFFF_FFFF, 0, 0xA5A5_0000 | k as u32] {
            m.set(p.s_reg_valid, 1);
            m.set(p.s_reg_write, 1);
            m.set(p.s_reg_addr, a as u64);
            m.set(p.s_reg_wdata, v as u64);
            m.eval();
            let before = m.get(out) as u32;
            m.tick(p.clk);
            m.set(p.s_reg_valid, 0);
            m.eval();
            assert_ne!(before, v, "{a:#x}: output changes only at the edge");
            assert_eq!(m.get(out) as u32, v, "{a:#x}: output after the write");
            assert_eq!(read(&mut m, &p, a), v, "{a:#x}: read back");
        }
    }
    for (k, &(a, out, _)) in policy.iter().enumerate() {
        let v = 0xA5A5_0000 | k as u32;
        assert_eq!(m.get(out) as u32, v, "{a:#x}: kept over other writes");
        assert_eq!(read(&mut m, &p, a), v, "{a:#x}: kept over other writes");
    }
    // read-only: writes to NUM_POSTS and the counters are ignored
    access(&mut m, &p, true, reg::NUM_POSTS, 7);
    assert_eq!(read(&mut m, &p, reg::NUM_POSTS), NUM_POSTS_W64);
    for &a in &counters {
        access(&mut m, &p, true, a, 0x1234_5678);
        assert_eq!(read(&mut m, &p, a), 0, "counter {a:#x} written");
    }

    // one event at a time, then all at once
    // (name, inputs set for one cycle, (counter, increment) expected)
    type Event = (&'static str, Vec<(Port, u64)>, Vec<(u32, u32)>);
    let events: Vec<Event> = vec![
        (
            "ev_tx_seg 9282 bytes",
            vec![(p.ev_tx_seg, 1), (p.ev_tx_seg_bytes, 9282)],
            vec![(reg::CNT_TX_SEGS, 1), (reg::CNT_TX_DATA_BYTES, 9282)],
        ),
        (
            "ev_tx_seg 0 bytes",
            vec![(p.ev_tx_seg, 1), (p.ev_tx_seg_bytes, 0)],
            vec![(reg::CNT_TX_SEGS, 1)],
        ),
        (
            "ev_tx_seg 0xFFFF bytes",
            vec![(p.ev_tx_seg, 1), (p.ev_tx_seg_bytes, 0xFFFF)],
            vec![(reg::CNT_TX_SEGS, 1), (reg::CNT_TX_DATA_BYTES, 0xFFFF)],
        ),
        (
            "ev_tx_seg_bytes alone",
            vec![(p.ev_tx_seg_bytes, 0x1111)],
            vec![],
        ),
        (
            "ev_tx_frame 9282 bytes",
            vec![(p.ev_tx_frame, 1), (p.ev_tx_bytes, 9282)],
            vec![(reg::CNT_TX_FRAMES, 1), (reg::CNT_TX_BYTES, 9282)],
        ),
        (
            "ev_tx_frame 0xFFFF bytes",
            vec![(p.ev_tx_frame, 1), (p.ev_tx_bytes, 0xFFFF)],
            vec![(reg::CNT_TX_FRAMES, 1), (reg::CNT_TX_BYTES, 0xFFFF)],
        ),
        ("ev_tx_bytes alone", vec![(p.ev_tx_bytes, 0x2222)], vec![]),
        (
            "ev_tx_retrans",
            vec![(p.ev_tx_retrans, 1)],
            vec![(reg::CNT_TX_RETRANS, 1)],
        ),
        (
            "ev_tx_rto",
            vec![(p.ev_tx_rto, 1)],
            vec![(reg::CNT_TX_RTO, 1)],
        ),
        (
            "ev_tx_fast",
            vec![(p.ev_tx_fast, 1)],
            vec![(reg::CNT_TX_FAST_RETRANS, 1)],
        ),
        (
            "ev_tx_probe",
            vec![(p.ev_tx_probe, 1)],
            vec![(reg::CNT_TX_PROBES, 1)],
        ),
        (
            "ev_tx_wupd",
            vec![(p.ev_tx_wupd, 1)],
            vec![(reg::CNT_TX_WND_UPDATES, 1)],
        ),
        (
            "ev_tx_done 1 post",
            vec![(p.ev_tx_done, 1), (p.ev_tx_done_count, 1)],
            vec![(reg::CNT_TX_DONE, 1)],
        ),
        (
            "ev_tx_done 0x1234 posts",
            vec![(p.ev_tx_done, 1), (p.ev_tx_done_count, 0x1234)],
            vec![(reg::CNT_TX_DONE, 0x1234)],
        ),
        (
            "ev_tx_done_count alone",
            vec![(p.ev_tx_done_count, 0x3333)],
            vec![],
        ),
        (
            "drop BAD_ACK",
            vec![(p.ev_drop_valid, 1), (p.ev_drop_reason, drop::BAD_ACK)],
            vec![(reg::CNT_DROP_BAD_ACK, 1)],
        ),
        (
            "all at once",
            vec![
                (p.ev_tx_frame, 1),
                (p.ev_tx_bytes, 300),
                (p.ev_tx_seg, 1),
                (p.ev_tx_seg_bytes, 256),
                (p.ev_tx_retrans, 1),
                (p.ev_tx_rto, 1),
                (p.ev_tx_fast, 1),
                (p.ev_tx_probe, 1),
                (p.ev_tx_wupd, 1),
                (p.ev_tx_done, 1),
                (p.ev_tx_done_count, 2),
                (p.ev_drop_valid, 1),
                (p.ev_drop_reason, drop::BAD_ACK),
            ],
            vec![
                (reg::CNT_TX_FRAMES, 1),
                (reg::CNT_TX_BYTES, 300),
                (reg::CNT_TX_SEGS, 1),
                (reg::CNT_TX_DATA_BYTES, 256),
                (reg::CNT_TX_RETRANS, 1),
                (reg::CNT_TX_RTO, 1),
                (reg::CNT_TX_FAST_RETRANS, 1),
                (reg::CNT_TX_PROBES, 1),
                (reg::CNT_TX_WND_UPDATES, 1),
                (reg::CNT_TX_DONE, 2),
                (reg::CNT_DROP_BAD_ACK, 1),
            ],
        ),
    ];
    let mut r = Regs::default();
    for (name, inputs, moves) in &events {
        for &(port, v) in inputs {
            m.set(port, v);
        }
        m.tick(p.clk);
        for &(port, _) in inputs {
            m.set(port, 0);
        }
        m.eval();
        for &(a, by) in moves {
            r.add(a, by);
        }
        for &a in &counters {
            assert_eq!(
                read(&mut m, &p, a),
                r.read(a, 0, 0, 0),
                "{name}: counter {a:#x}"
            );
        }
        // one cycle only: idle cycles count nothing
        for _ in 0..3 {
            m.tick(p.clk);
        }
        for &a in &counters {
            assert_eq!(
                read(&mut m, &p, a),
                r.read(a, 0, 0, 0),
                "{name}: counter {a:#x} after idle cycles"
            );
        }
    }

    // reset restores the DEF_ values and clears the counters
    reset(&mut m, p.clk, p.rst);
    check_reset(&mut m, "second reset");
}
