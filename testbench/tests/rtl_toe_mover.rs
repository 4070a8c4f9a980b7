//! RTL test of `toe_mover` (models `toe_mover_w64`: DATA_WIDTH 64, 64-byte buflets;
//! `toe_mover_w512`: DATA_WIDTH 512, 128-byte buflets; 32 buflets each).
//!
//! The harness is the buflet pool as toe_engine wires it: a combinational link RAM read
//! (`link_rd_idx` -> `link_rd_next`) and a data RAM whose read data is valid the cycle after
//! `ram_rd_en` (garbage on `ram_rd_data` in every other cycle). The 32 buflets hold random bytes
//! and are linked in random order into a few chains. Chunk commands start at a random buflet of a
//! chain with a random offset (often past the first buflet, so the mover walks the chain) and a
//! random length within the chain; commands come with random idle cycles (garbage on the command
//! fields while not valid) and the output is randomly backpressured. Each output packet (one per
//! chunk, tlast) must be packed (full words, low-mask tkeep on the last) and hold exactly chain
//! bytes [offset, offset + len). Also checked: one command waits behind the chunk being read
//! (two accepted and not yet read at the peak), RAM reads only address buflets of the oldest
//! such chunk's chain, `rd_done` counts each command once its reads are made, `rd_idle` never
//! high with a read in flight or to come, `out_idle` at the end.
//!
//! Record mode (p2p hold delivery, docs/p2p.md): mixed runs also issue record commands
//! (`cmd_rec`, a random `cmd_head`, a chunk inside one buflet). Each must come out as one 8-byte
//! packet holding the `hold_rec` {BUFLET = the chain's buflet at the offset, OFF = offset inside
//! it, LEN, HEAD}, with no data RAM read, and `rec_issue` must pulse once per record with
//! `rec_buf` = that BUFLET, in command order.

use std::collections::VecDeque;

use buflet_sim::axis::{AxisBus, Beat};
use buflet_sim::{ports, Model};
use buflet_testbench::rtl_check::{assert_quiet, count_cycle, reset, stream_ends};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const NULL16: u16 = 0xFFFF;
const NUM_BUFLETS: usize = 32;

struct Chunk {
    buf: u16,
    off: u16,
    len: u16,
    /// A record command: `bytes` is the 8-byte hold_rec, `rec_buf` its BUFLET.
    rec: Option<(u16, u16)>, // (head field, rec_buf)
    bytes: Vec<u8>,
}

fn low_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// One chunk per command: the chain (from a random buflet of it), offset and length; with
/// chance `rec_pct` a record command (a chunk inside one buflet).
fn make_chunks(
    rng: &mut ChaCha8Rng,
    chains: &[Vec<u16>],
    ram: &[u8],
    bb: usize,
    n: usize,
    rec_pct: u32,
) -> Vec<Chunk> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let chain = &chains[rng.gen_range(0..chains.len())];
        let start = rng.gen_range(0..chain.len());
        let bufs = &chain[start..];
        let total = bufs.len() * bb;
        let off = match rng.gen_range(0..4) {
            0 => rng.gen_range(0..bb.min(total)),
            1 => rng.gen_range(0..8.min(total)),
            _ => rng.gen_range(0..total),
        };
        if rng.gen_range(0..100) < rec_pct {
            let room = bb - off % bb;
            let len = match rng.gen_range(0..3) {
                0 => room,
                1 => 1,
                _ => rng.gen_range(1..=room),
            };
            let head = if rng.gen_bool(0.5) { NULL16 } else { rng.gen() };
            let b = bufs[off / bb];
            let mut bytes = Vec::with_capacity(8);
            for v in [b, (off % bb) as u16, len as u16, head] {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            out.push(Chunk {
                buf: bufs[0],
                off: off as u16,
                len: len as u16,
                rec: Some((head, b)),
                bytes,
            });
            continue;
        }
        let max_len = (total - off).min(8191);
        let len = match rng.gen_range(0..4) {
            0 => rng.gen_range(1..=max_len.min(16)),
            1 => max_len,
            _ => rng.gen_range(1..=max_len),
        };
        let mut bytes = Vec::with_capacity(len);
        for i in off..off + len {
            let b = bufs[i / bb] as usize;
            bytes.push(ram[b * bb + i % bb]);
        }
        out.push(Chunk {
            buf: bufs[0],
            off: off as u16,
            len: len as u16,
            rec: None,
            bytes,
        });
    }
    out
}

fn run(prefix: &str, kw: usize, bb: usize, seed: u64, idle_p: f64, stall_p: f64, rec_pct: u32) {
    let mut m = Model::new(prefix).expect("model");
    let p = ports::ToeMover::bind(&m).expect("ports");
    assert_eq!(p.m_axis_tdata.width() as usize, kw * 8);
    let wpb = bb / kw;
    let words = NUM_BUFLETS * wpb;
    assert_eq!(1usize << p.ram_rd_addr.width(), words, "BW_ADDR");

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Buflet data and chains: a random permutation of all buflets cut into 4 chains.
    let mut ram = vec![0u8; NUM_BUFLETS * bb];
    rng.fill(&mut ram[..]);
    let mut perm: Vec<u16> = (0..NUM_BUFLETS as u16).collect();
    for i in (1..perm.len()).rev() {
        let j = rng.gen_range(0..=i);
        perm.swap(i, j);
    }
    let cuts = [0, 1, 9, 20, NUM_BUFLETS]; // chains of 1, 8, 11 and 12 buflets
    let chains: Vec<Vec<u16>> = cuts.windows(2).map(|w| perm[w[0]..w[1]].to_vec()).collect();
    let mut link = [NULL16; NUM_BUFLETS];
    let mut chain_of = [0usize; NUM_BUFLETS];
    for (ci, c) in chains.iter().enumerate() {
        for (i, &b) in c.iter().enumerate() {
            chain_of[b as usize] = ci;
            if i + 1 < c.len() {
                link[b as usize] = c[i + 1];
            }
        }
    }
    let chunks = make_chunks(&mut rng, &chains, &ram, bb, 400, rec_pct);
    let mut rec_exp: VecDeque<u16> = VecDeque::new(); // BUFLETs of records not yet issued
    let mut recs_seen = 0usize;

    // Commands: a stream of the command fields with random idle cycles (garbage on the fields
    // while not valid); output: random backpressure. Both from generators seeded from `seed`.
    let cmd_bus = AxisBus::new(p.cmd_valid)
        .tready(p.cmd_ready)
        .sideband("buf", p.cmd_buf)
        .sideband("off", p.cmd_off)
        .sideband("len", p.cmd_len)
        .sideband("rec", p.cmd_rec)
        .sideband("head", p.cmd_head);
    let (mut cmds, mut sink) = stream_ends(&m, cmd_bus, idle_p, stall_p, seed);
    for c in &chunks {
        // a data command's head field is garbage
        let head = c.rec.map_or(rng.gen(), |r| r.0);
        cmds.send_beat(Beat::default().with_sideband(vec![
            u64::from(c.buf),
            u64::from(c.off),
            u64::from(c.len),
            u64::from(c.rec.is_some()),
            u64::from(head),
        ]));
    }

    m.set(p.cmd_valid, 0);
    m.set(p.m_axis_tready, 0);
    reset(&mut m, p.clk, p.rst, 3);

    let mut ci = 0; // next command to offer
    let mut accepted: VecDeque<usize> = VecDeque::new(); // chunks whose packet is pending
    let mut out_bytes: Vec<u8> = Vec::new(); // bytes of the packet being received
    let mut done = 0;
    let mut pending_read: Option<usize> = None; // word address read at the last edge
                                                // the accepted commands whose reads are not all made, oldest first: the chunk's chain
                                                // (None: a record); `rd_done` counts the ones finished (one waits behind the current one)
    let mut reading: VecDeque<Option<usize>> = VecDeque::new();
    let mut rd_done = 0u64;
    let mut most_reading = 0;
    let mut junk = vec![0u8; kw];
    let mut cycles = 0u64;
    let mut words_out = 0u64;
    while done < chunks.len() {
        count_cycle(&mut cycles, 2_000_000, || {
            format!("{prefix}: timeout, {done}/{} chunks", chunks.len())
        });
        // data RAM read data: the word read at the last edge, else garbage
        match pending_read {
            Some(a) => m.set_bytes(p.ram_rd_data, &ram[a * kw..(a + 1) * kw]),
            None => {
                rng.fill(&mut junk[..]);
                m.set_bytes(p.ram_rd_data, &junk);
            }
        }
        cmds.drive(&mut m);
        sink.drive(&mut m);
        m.eval();
        // combinational link RAM read
        let idx = m.get(p.link_rd_idx) as usize;
        let next = if idx < NUM_BUFLETS {
            link[idx]
        } else {
            rng.gen()
        };
        m.set(p.link_rd_next, u64::from(next));
        m.eval();

        // commands whose reads were all made by the last edge
        let d = m.get(p.rd_done);
        while rd_done != d {
            reading
                .pop_front()
                .unwrap_or_else(|| panic!("{prefix} cycle {cycles}: rd_done past the commands"));
            rd_done = (rd_done + 1) & 0xff;
        }
        if m.get(p.rd_idle) == 1 {
            assert!(
                pending_read.is_none() && m.get(p.ram_rd_en) == 0 && reading.is_empty(),
                "{prefix} cycle {cycles}: rd_idle with a read in flight or to come"
            );
        }
        if m.get(p.rec_issue) == 1 {
            let b = rec_exp
                .pop_front()
                .unwrap_or_else(|| panic!("{prefix} cycle {cycles}: rec_issue with no record"));
            assert_eq!(m.get(p.rec_buf), u64::from(b), "{prefix}: rec_buf");
            recs_seen += 1;
        }
        if cmds.sample(&m).is_some() {
            // a record reads no data RAM: any read while it is current fails below
            reading.push_back(match chunks[ci].rec {
                Some((_, b)) => {
                    rec_exp.push_back(b);
                    None
                }
                None => Some(chain_of[chunks[ci].buf as usize]),
            });
            most_reading = most_reading.max(reading.len());
            accepted.push_back(ci);
            ci += 1;
        }
        pending_read = None;
        if m.get(p.ram_rd_en) == 1 {
            let a = m.get(p.ram_rd_addr) as usize;
            assert!(a < words, "{prefix}: RAM read address {a:#x}");
            let chain = reading
                .front()
                .copied()
                .flatten()
                .expect("RAM read without a chunk (or for a record)");
            assert_eq!(
                chain_of[a / wpb],
                chain,
                "{prefix} cycle {cycles}: read of buflet {} outside the chunk's chain",
                a / wpb
            );
            pending_read = Some(a);
        }
        if let Some(beat) = sink.sample(&m) {
            let out_buf = &beat.data;
            let keep = beat.keep_u64();
            let last = beat.last;
            let n = keep.count_ones() as usize;
            assert!(n >= 1, "{prefix}: empty output word");
            assert_eq!(
                keep,
                low_mask(n),
                "{prefix}: tkeep {keep:#x} not a low mask"
            );
            assert!(last || n == kw, "{prefix}: short word before tlast");
            out_bytes.extend_from_slice(&out_buf[..n]);
            words_out += 1;
            let k = *accepted.front().expect("output with no chunk accepted");
            let c = &chunks[k];
            assert!(
                out_bytes.len() <= c.bytes.len() && out_bytes[..] == c.bytes[..out_bytes.len()],
                "{prefix}: chunk {k} (buf {} off {} len {}): wrong bytes at word {}",
                c.buf,
                c.off,
                c.len,
                (out_bytes.len() - 1) / kw
            );
            if last {
                assert_eq!(
                    out_bytes.len(),
                    c.bytes.len(),
                    "{prefix}: chunk {k} (buf {} off {}): length",
                    c.buf,
                    c.off
                );
                out_bytes.clear();
                accepted.pop_front();
                done += 1;
            }
        }
        m.tick(p.clk);
    }
    assert_eq!(ci, chunks.len());
    assert_eq!(
        most_reading, 2,
        "{prefix}: commands accepted and not yet read at once (one waits behind the current)"
    );
    assert!(rec_exp.is_empty(), "{prefix}: records never issued");
    let n_rec = chunks.iter().filter(|c| c.rec.is_some()).count();
    assert_eq!(recs_seen, n_rec, "{prefix}: rec_issue pulses");
    if rec_pct > 0 {
        assert!(n_rec > 50, "{prefix}: too few records ({n_rec})");
    }
    // Idle afterwards: nothing more comes out, both idle flags high.
    let end = [(p.cmd_valid, 0), (p.m_axis_tready, 1)];
    let quiet = [p.m_axis_tvalid, p.rec_issue, p.ram_rd_en];
    assert_quiet(&mut m, p.clk, &end, &quiet, 8, prefix);
    m.eval();
    assert_eq!(m.get(p.rd_idle), 1, "{prefix}: rd_idle at the end");
    assert_eq!(m.get(p.out_idle), 1, "{prefix}: out_idle at the end");
    if idle_p == 0.0 && stall_p == 0.0 {
        // Full rate: about one output word per cycle plus per-chunk overhead (walk, pipeline).
        let hops: u64 = chunks.iter().map(|c| u64::from(c.off) / bb as u64).sum();
        let budget = words_out + hops + 6 * chunks.len() as u64;
        assert!(
            cycles <= budget,
            "{prefix}: {cycles} cycles for {words_out} words, {hops} hops, {} chunks",
            chunks.len()
        );
    }
}

buflet_testbench::run_table! { run;
    toe_mover_w64_records_mixed: ("toe_mover_w64", 8, 64, 31, 0.3, 0.3, 30);
    toe_mover_w512_records_mixed: ("toe_mover_w512", 64, 128, 32, 0.3, 0.3, 30);
    toe_mover_w64_records_full_rate: ("toe_mover_w64", 8, 64, 33, 0.0, 0.0, 50);
    toe_mover_w512_records_heavy_backpressure: ("toe_mover_w512", 64, 128, 34, 0.05, 0.8, 50);
    toe_mover_w64_random: ("toe_mover_w64", 8, 64, 21, 0.3, 0.3, 0);
    toe_mover_w512_random: ("toe_mover_w512", 64, 128, 22, 0.3, 0.3, 0);
    toe_mover_w64_heavy_backpressure: ("toe_mover_w64", 8, 64, 23, 0.05, 0.8, 0);
    toe_mover_w512_heavy_backpressure: ("toe_mover_w512", 64, 128, 24, 0.05, 0.8, 0);
    toe_mover_w64_full_rate: ("toe_mover_w64", 8, 64, 25, 0.0, 0.0, 0);
    toe_mover_w512_full_rate: ("toe_mover_w512", 64, 128, 26, 0.0, 0.0, 0);
}
