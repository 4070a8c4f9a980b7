//! RTL test of `buf_window`, the CPU's window into buflet memory (docs/p2p.md "The CPU's
//! window"; models `buf_window_w64`: 128-byte buflets, 16 of them; `buf_window_w64_b32`:
//! 32-byte buflets, so a window spans two; `buf_window_w512`: one word per window; the buflet
//! geometry is read from the model's parameters in sim/models.txt).
//!
//! The harness plays buflet_pool: buflet memory (random bytes, some words rewritten at random
//! as rx_parser and blk_dma do), the third reader of read port 2 (`rd_ready` low at random, in
//! phases from never to most cycles; the word the cycle after a granted read, held until the
//! next granted read) and the second exposed lookup (random bits, flipped at random;
//! `exp` is the bit of `exp_idx`, 0 beyond NUM_BUFLETS). Starts (BUF_WIN_ADDR writes) come at
//! random: aligned addresses in range (mostly), misaligned ones, ones past the memory (some
//! far past it with A / BUFLET_BYTES aliasing an exposed buflet in its low 16 bits), often
//! while a copy is running. Checked every cycle against a Rust reference of the contract:
//! - a start while busy is ignored; otherwise win_addr = A from the next cycle, and A is
//!   refused (bad, not busy, data 0) unless aligned to WIN_BYTES, inside buflet memory and its
//!   buflet exposed in the start's cycle; `exp_idx` = A / BUFLET_BYTES (low 16 bits) then;
//! - a taken start: busy, the words read in order (rd_en while one is left, rd_addr its word
//!   address, held over stalls), each stored from `rd_data` the cycle after its grant;
//!   `ev_read` pulses in the cycle the last word arrives and busy clears at that edge;
//!   win_data (checked whenever not busy) = the window's bytes as read, byte i at A + i;
//! - reset: address, status and data 0.
//!
//! The busy time of an unstalled copy is WIN_BYTES / KEEP_WIDTH + 1 cycles.

use buflet_sim::{model_info, ports, Model};
use buflet_spec::param;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const WIN: usize = param::WIN_BYTES as usize;

/// The reference of the window's state.
struct Win {
    addr: u32,
    busy: bool,
    bad: bool,
    bank: [u8; WIN],
    /// Word address of the window's first word.
    base: u64,
    /// Words read so far.
    issued: usize,
    /// The word whose data is on rd_data in this cycle (a read granted last cycle).
    pend: Option<usize>,
    /// Cycle the copy was taken.
    since: u64,
}

fn run(prefix: &str, seed: u64, cycles: u64) {
    let info = model_info(prefix).expect("model built (sim/models.txt)");
    let par = |k: &str| -> u64 {
        info.param_u64(k)
            .unwrap_or_else(|| panic!("{prefix}: {k} set in sim/models.txt"))
    };
    let (bb, nb, dw) = (par("BUFLET_BYTES"), par("NUM_BUFLETS"), par("DATA_WIDTH"));
    let kw = (dw / 8) as usize;
    let nw = WIN / kw;
    let total = nb * bb;
    assert!(total >= WIN as u64 && total.is_multiple_of(WIN as u64));
    let mut m = Model::new(prefix).expect("model");
    let p = ports::BufWindow::bind(&m).expect("ports");
    assert_eq!(p.rd_data.width() as u64, dw);
    assert_eq!(p.win_data.width() as usize, 8 * WIN);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    buflet_testbench::rtl_check::reset(&mut m, p.clk, p.rst, 2);

    let mut ram = vec![0u8; total as usize];
    rng.fill(&mut ram[..]);
    let mut exposed: Vec<bool> = (0..nb).map(|_| rng.gen_bool(0.5)).collect();
    // the pool's register of the third reader: the word last read
    let mut port_reg = vec![0u8; kw];
    let mut w = Win {
        addr: 0,
        busy: false,
        bad: false,
        bank: [0; WIN],
        base: 0,
        issued: 0,
        pend: None,
        since: 0,
    };
    // coverage
    let (mut taken, mut copies, mut ignored, mut stalls) = (0u32, 0u32, 0u32, 0u32);
    let (mut bad_align, mut bad_range, mut bad_alias, mut bad_exp) = (0u32, 0u32, 0u32, 0u32);
    let mut busy_min = u64::MAX;
    let mut busy_max = 0u64;
    let mut data_checks = 0u32;
    let mut got = [0u8; WIN];

    for cycle in 0..cycles {
        // phases of grant stalls: none, some, most
        let p_ready = [1.0, 0.7, 0.3, 0.05][(cycle / 2000 % 4) as usize];
        let ready = rng.gen_bool(p_ready);
        let start = rng.gen_bool(if w.busy { 0.3 } else { 0.2 });
        // the address: aligned in range (mostly), misaligned, past the memory, aliasing
        let kind = rng.gen_range(0..10);
        let a: u64 = match kind {
            0 => rng.gen_range(0..total) | rng.gen_range(1..WIN as u64),
            1 => rng.gen_range(total..=u64::from(u32::MAX)) & !(WIN as u64 - 1),
            2 => {
                // A / BUFLET_BYTES = 65536 * k + b: its low 16 bits name buflet b
                let k = rng.gen_range(1..=(u64::from(u32::MAX) / bb) >> 16);
                ((k << 16) + rng.gen_range(0..nb)) * bb
            }
            3 => total - WIN as u64,
            _ => rng.gen_range(0..total / WIN as u64) * WIN as u64,
        };
        let a = a as u32;
        m.set(p.start, u64::from(start));
        m.set(p.start_addr, u64::from(a));
        m.set(p.rd_ready, u64::from(ready));
        m.set_bytes(p.rd_data, &port_reg);
        m.eval();
        let idx = m.get(p.exp_idx);
        if start {
            assert_eq!(
                idx,
                (u64::from(a) / bb) & 0xFFFF,
                "cycle {cycle}: exp_idx of {a:#x}"
            );
        }
        let e = exposed.get(idx as usize).copied().unwrap_or(false);
        m.set(p.exp, u64::from(e));
        m.eval();

        // outputs vs reference
        assert_eq!(m.get(p.win_addr) as u32, w.addr, "cycle {cycle}: win_addr");
        assert_eq!(m.get(p.busy) == 1, w.busy, "cycle {cycle}: busy");
        assert_eq!(m.get(p.bad) == 1, w.bad, "cycle {cycle}: bad");
        if !w.busy {
            m.get_bytes(p.win_data, &mut got);
            assert_eq!(
                got, w.bank,
                "cycle {cycle}: win_data (window at {:#x})",
                w.addr
            );
            data_checks += 1;
        }
        let want_rd = w.busy && w.issued < nw;
        assert_eq!(m.get(p.rd_en) == 1, want_rd, "cycle {cycle}: rd_en");
        if want_rd {
            assert_eq!(
                m.get(p.rd_addr),
                w.base + w.issued as u64,
                "cycle {cycle}: rd_addr of word {}",
                w.issued
            );
            stalls += u32::from(!ready);
        }
        let last = w.pend == Some(nw - 1);
        assert_eq!(m.get(p.ev_read) == 1, last, "cycle {cycle}: ev_read");

        // the reference at this edge
        let was_busy = w.busy;
        if let Some(k) = w.pend.take() {
            w.bank[k * kw..][..kw].copy_from_slice(&port_reg);
            if k == nw - 1 {
                w.busy = false;
                copies += 1;
                let t = cycle + 1 - w.since;
                busy_min = busy_min.min(t);
                busy_max = busy_max.max(t);
            }
        }
        if want_rd && ready {
            let at = ((w.base + w.issued as u64) as usize) * kw;
            port_reg.copy_from_slice(&ram[at..at + kw]);
            w.pend = Some(w.issued);
            w.issued += 1;
        }
        if start && was_busy {
            ignored += 1;
        } else if start {
            let a64 = u64::from(a);
            let aligned = a64.is_multiple_of(WIN as u64);
            let in_range = a64 < total;
            let exp_ok = in_range && exposed[(a64 / bb) as usize];
            let ok = aligned && in_range && exp_ok;
            w.addr = a;
            w.bad = !ok;
            w.busy = ok;
            w.bank = [0; WIN];
            w.base = a64 / kw as u64;
            w.issued = 0;
            w.since = cycle + 1;
            if ok {
                taken += 1;
            } else if !aligned {
                bad_align += 1;
            } else if !in_range {
                bad_range += 1;
                bad_alias += u32::from(exposed.get(((a64 / bb) & 0xFFFF) as usize) == Some(&true));
            } else {
                bad_exp += 1;
            }
        }
        // the rest of the pool: words rewritten, exposed bits set and cleared
        if rng.gen_bool(0.3) {
            let at = rng.gen_range(0..total as usize);
            ram[at] = rng.gen();
        }
        if rng.gen_bool(0.05) {
            let b = rng.gen_range(0..nb as usize);
            exposed[b] = !exposed[b];
        }
        m.tick(p.clk);
    }
    println!(
        "{prefix}: {copies} copies, busy {busy_min}..{busy_max} cycles; refused {bad_align} \
         misaligned, {bad_range} out of range ({bad_alias} aliasing an exposed buflet), \
         {bad_exp} not exposed; {ignored} starts while busy, {stalls} stalled reads"
    );
    assert_eq!(
        busy_min,
        nw as u64 + 1,
        "{prefix}: an unstalled copy's busy time"
    );
    assert!(
        taken > 500 && copies + 1 >= taken && ignored > 1000 && stalls > 1000,
        "{prefix} coverage: {taken} {copies} {ignored} {stalls}"
    );
    assert!(
        bad_align > 200 && bad_range > 100 && bad_alias > 20 && bad_exp > 200,
        "{prefix} refusal coverage: {bad_align} {bad_range} {bad_alias} {bad_exp}"
    );
    assert!(data_checks > 1000, "{prefix}: {data_checks} data checks");
}

#[test]
fn buf_window_w64() {
    run("buf_window_w64", 1, 40_000);
}

#[test]
fn buf_window_w64_b32() {
    run("buf_window_w64_b32", 2, 40_000);
}

#[test]
fn buf_window_w512() {
    run("buf_window_w512", 3, 40_000);
}

/// Reset: BUF_WIN_ADDR, BUF_WIN_STATUS and the data read 0, and a reset in the middle of a copy
/// brings them back to 0 (no copy pending: no read, no count).
#[test]
fn buf_window_reset() {
    for prefix in ["buf_window_w64", "buf_window_w512"] {
        let mut m = Model::new(prefix).expect("model");
        let p = ports::BufWindow::bind(&m).expect("ports");
        buflet_testbench::rtl_check::reset(&mut m, p.clk, p.rst, 2);
        let zero = |m: &mut Model| {
            m.set(p.start, 0);
            m.set(p.rd_ready, 1);
            m.eval();
            let mut d = [0u8; WIN];
            m.get_bytes(p.win_data, &mut d);
            assert_eq!(
                (
                    m.get(p.win_addr),
                    m.get(p.busy),
                    m.get(p.bad),
                    m.get(p.rd_en)
                ),
                (0, 0, 0, 0),
                "{prefix}: reset state"
            );
            assert_eq!(d, [0; WIN], "{prefix}: data after reset");
        };
        zero(&mut m);
        // a copy of window 1 (buflet 0 exposed), reset after two cycles
        m.set(p.start, 1);
        m.set(p.start_addr, WIN as u64);
        m.set(p.exp, 1);
        m.set_bytes(p.rd_data, &[0xA5; 64][..p.rd_data.width() as usize / 8]);
        m.eval();
        assert_eq!(m.get(p.exp_idx), 0);
        m.tick(p.clk);
        m.set(p.start, 0);
        m.tick(p.clk);
        m.eval();
        assert_eq!((m.get(p.busy), m.get(p.win_addr)), (1, WIN as u64));
        buflet_testbench::rtl_check::reset(&mut m, p.clk, p.rst, 1);
        zero(&mut m);
        for _ in 0..20 {
            m.tick(p.clk);
            m.eval();
            assert_eq!((m.get(p.ev_read), m.get(p.rd_en)), (0, 0));
        }
    }
}
