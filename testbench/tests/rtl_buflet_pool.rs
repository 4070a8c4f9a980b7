//! RTL test of `buflet_pool` (model `buflet_pool_w64`: DATA_WIDTH 64,
//! BUFLET_BYTES 256, NUM_BUFLETS 16): random allocations, chains built through
//! the link write port, whole-chain frees (sometimes in the same cycle as an
//! allocation, sometimes refused because of a link write), RAM writes and
//! reads, checked against a Rust reference of the set of free buflets, the
//! exact free count, the link RAM and the data RAM.
//!
//! p2p (docs/p2p.md): the second data read port (registered like the first,
//! data held until its next read) and the exposed bitmap (set by expose_en,
//! in-range indices only; cleared when the buflet is allocated, the clear
//! winning over a set in the same cycle; exp_rd combinational, 0 out of
//! range) against the same reference.
//!
//! p2p reads (docs/p2p.md "p2p reads"): the shared write port (ram2_wr_*, taken only in the
//! cycles the first writer does not write: ram2_wr_ready), the second reader of read port 2
//! (ram3_rd_*, granted only when ram2 does not read, its own register held until its next
//! granted read), and HOST_BUFLETS (host_wr_*: the top buflets never handed out, out of the
//! free count; a value taken only when at most half the pool and above every buflet ever
//! handed out).
//!
//! The CPU's window (docs/p2p.md "The CPU's window"): the third reader of read port 2
//! (ram4_rd_*, granted only when neither ram2 nor ram3 reads, its own register held until its
//! next granted read) and the second exposed lookup (exp2_rd_idx/exp2_rd, the same rule as
//! exp_rd).

use buflet_sim::{ports, Model};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeSet, HashMap};

const NUM: usize = 16;
const BB: usize = 256;
const KW: usize = 8;
const WORDS: usize = NUM * BB / KW;
const NULL: u64 = 0xFFFF;

#[test]
fn buflet_pool_random() {
    let mut m = Model::new("buflet_pool_w64").expect("model");
    let ports::BufletPool {
        clk,
        rst,
        alloc_req,
        alloc_valid,
        alloc_idx,
        s_free_valid: free_valid,
        s_free_ready: free_ready,
        s_free_head: free_head,
        s_free_tail: free_tail,
        s_free_count: free_count_in,
        link_wr_en: lw_en,
        link_wr_idx: lw_idx,
        link_wr_next: lw_next,
        link_rd_idx: lr_idx,
        link_rd_next: lr_next,
        ram_wr_en: wr_en,
        ram_wr_addr: wr_addr,
        ram_wr_data: wr_data,
        ram_rd_en: rd_en,
        ram_rd_addr: rd_addr,
        ram_rd_data: rd_data,
        free_count,
        ram2_rd_en: rd2_en,
        ram2_rd_addr: rd2_addr,
        ram2_rd_data: rd2_data,
        expose_en: exp_en,
        expose_idx: exp_idx,
        exp_rd_idx,
        exp_rd,
        ram2_wr_en: wr2_en,
        ram2_wr_ready: wr2_ready,
        ram2_wr_addr: wr2_addr,
        ram2_wr_data: wr2_data,
        ram3_rd_en: rd3_en,
        ram3_rd_ready: rd3_ready,
        ram3_rd_addr: rd3_addr,
        ram3_rd_data: rd3_data,
        ram4_rd_en: rd4_en,
        ram4_rd_ready: rd4_ready,
        ram4_rd_addr: rd4_addr,
        ram4_rd_data: rd4_data,
        exp2_rd_idx,
        exp2_rd,
        host_wr_en: _,
        host_wr_val: _,
        host_buflets: _,
    } = ports::BufletPool::bind(&m).expect("ports");

    let mut rng = ChaCha8Rng::seed_from_u64(7);
    buflet_testbench::rtl_check::reset(&mut m, clk, rst, 2);

    // Reference state.
    let mut free: BTreeSet<u64> = (0..NUM as u64).collect();
    // Chains being built: (buflets in order). Links between them are written
    // through the link port, one per cycle.
    let mut chains: Vec<Vec<u64>> = Vec::new();
    let mut pending_links: Vec<(u64, u64)> = Vec::new();
    let mut links: HashMap<u64, u64> = HashMap::new();
    let mut ram: HashMap<u64, u64> = HashMap::new();
    let mut pending_read: Option<(u64, Option<u64>)> = None;
    // second read port: the word last read (held until the next read)
    let mut q2: Option<(u64, Option<u64>)> = None;
    // the second reader of port 2: its word (held until its next granted read)
    let mut q3: Option<(u64, Option<u64>)> = None;
    let (mut writes2, mut reads3, mut denied2, mut denied3) = (0u32, 0u32, 0u32, 0u32);
    // the third reader of port 2: its word (held until its next granted read); coverage:
    // granted reads, checks of the held word, refusals, exposed hits on the second lookup
    let mut q4: Option<(u64, Option<u64>)> = None;
    let (mut grants4, mut reads4, mut denied4, mut exp2_hits) = (0u32, 0u32, 0u32, 0u32);
    let mut exposed: BTreeSet<u64> = BTreeSet::new();
    // coverage: exposed reads that saw 1, bits cleared by an allocation, set+alloc in one
    // cycle, second-port reads checked
    let (mut exp_hits, mut exp_clears, mut exp_race, mut reads2) = (0u32, 0u32, 0u32, 0u32);
    let mut allocs = 0u32;
    let mut frees = 0u32;
    let mut both = 0u32;

    for cycle in 0..20_000u32 {
        // Inputs.
        let want_alloc = rng.gen_bool(0.5);
        m.set(alloc_req, u64::from(want_alloc));
        let link_write = pending_links.first().copied().filter(|_| rng.gen_bool(0.6));
        match link_write {
            Some((a, b)) => {
                m.set(lw_en, 1);
                m.set(lw_idx, a);
                m.set(lw_next, b);
            }
            None => {
                m.set(lw_en, 0);
                m.set(lw_idx, rng.gen_range(0..NUM as u64));
                m.set(lw_next, rng.gen());
            }
        }
        // A chain is complete when its links are all written.
        let complete: Vec<usize> = (0..chains.len())
            .filter(|&i| {
                !chains[i].is_empty() && !pending_links.iter().any(|(a, _)| chains[i].contains(a))
            })
            .collect();
        let free_pick = if !complete.is_empty() && rng.gen_bool(0.3) {
            Some(*complete.choose(&mut rng).unwrap())
        } else {
            None
        };
        if let Some(ci) = free_pick {
            let c = &chains[ci];
            m.set(free_valid, 1);
            m.set(free_head, c[0]);
            m.set(free_tail, *c.last().unwrap());
            m.set(free_count_in, c.len() as u64);
        } else {
            m.set(free_valid, 0);
        }
        let read_link = rng.gen_range(0..NUM as u64);
        m.set(lr_idx, read_link);
        let do_wr = rng.gen_bool(0.5);
        let waddr = rng.gen_range(0..WORDS as u64);
        let wdata: u64 = rng.gen();
        m.set(wr_en, u64::from(do_wr));
        m.set(wr_addr, waddr);
        m.set(wr_data, wdata);
        let do_rd = rng.gen_bool(0.5);
        let raddr = rng.gen_range(0..WORDS as u64);
        m.set(rd_en, u64::from(do_rd));
        m.set(rd_addr, raddr);
        let do_rd2 = rng.gen_bool(0.4);
        let raddr2 = rng.gen_range(0..WORDS as u64);
        m.set(rd2_en, u64::from(do_rd2));
        m.set(rd2_addr, raddr2);
        let do_wr2 = rng.gen_bool(0.4);
        let waddr2 = rng.gen_range(0..WORDS as u64);
        let wdata2: u64 = rng.gen();
        m.set(wr2_en, u64::from(do_wr2));
        m.set(wr2_addr, waddr2);
        m.set(wr2_data, wdata2);
        let do_rd3 = rng.gen_bool(0.4);
        let raddr3 = rng.gen_range(0..WORDS as u64);
        m.set(rd3_en, u64::from(do_rd3));
        m.set(rd3_addr, raddr3);
        let do_rd4 = rng.gen_bool(0.4);
        let raddr4 = rng.gen_range(0..WORDS as u64);
        m.set(rd4_en, u64::from(do_rd4));
        m.set(rd4_addr, raddr4);
        // exposed bits: mostly in range, sometimes beyond NUM_BUFLETS (ignored / read as 0)
        let any_idx = |rng: &mut ChaCha8Rng| {
            if rng.gen_bool(0.9) {
                rng.gen_range(0..NUM as u64)
            } else {
                rng.gen_range(NUM as u64..=0xFFFF)
            }
        };
        let do_exp = rng.gen_bool(0.3);
        let eidx = any_idx(&mut rng);
        m.set(exp_en, u64::from(do_exp));
        m.set(exp_idx, eidx);
        let ridx = any_idx(&mut rng);
        m.set(exp_rd_idx, ridx);
        let ridx2 = any_idx(&mut rng);
        m.set(exp2_rd_idx, ridx2);
        m.eval();

        // Outputs vs reference.
        assert_eq!(
            m.get(free_count),
            free.len() as u64,
            "cycle {cycle}: free_count"
        );
        assert_eq!(
            m.get(alloc_valid) == 1,
            !free.is_empty(),
            "cycle {cycle}: alloc_valid"
        );
        if free.is_empty() {
            assert_eq!(
                m.get(alloc_idx),
                NULL,
                "cycle {cycle}: alloc_idx when empty"
            );
        }
        if let Some(&n) = links.get(&read_link) {
            assert_eq!(m.get(lr_next), n, "cycle {cycle}: link[{read_link}]");
        }
        if let Some((a, Some(v))) = pending_read.take() {
            assert_eq!(m.get(rd_data), v, "cycle {cycle}: ram[{a}]");
        }
        if let Some((a, Some(v))) = q2 {
            assert_eq!(m.get(rd2_data), v, "cycle {cycle}: second port ram[{a}]");
            reads2 += 1;
        }
        if let Some((a, Some(v))) = q3 {
            assert_eq!(
                m.get(rd3_data),
                v,
                "cycle {cycle}: port 2's second reader ram[{a}]"
            );
            reads3 += 1;
        }
        assert_eq!(
            m.get(wr2_ready) == 1,
            !do_wr,
            "cycle {cycle}: ram2_wr_ready"
        );
        assert_eq!(
            m.get(rd3_ready) == 1,
            !do_rd2,
            "cycle {cycle}: ram3_rd_ready"
        );
        if let Some((a, Some(v))) = q4 {
            assert_eq!(
                m.get(rd4_data),
                v,
                "cycle {cycle}: port 2's third reader ram[{a}]"
            );
            reads4 += 1;
        }
        assert_eq!(
            m.get(rd4_ready) == 1,
            !do_rd2 && !do_rd3,
            "cycle {cycle}: ram4_rd_ready"
        );
        denied4 += u32::from(do_rd4 && (do_rd2 || do_rd3));
        let e2 = exposed.contains(&ridx2);
        assert_eq!(
            m.get(exp2_rd) == 1,
            e2,
            "cycle {cycle}: exposed[{ridx2}] (exp2)"
        );
        exp2_hits += u32::from(e2);
        denied2 += u32::from(do_wr2 && do_wr);
        denied3 += u32::from(do_rd3 && do_rd2);
        let e = exposed.contains(&ridx);
        assert_eq!(m.get(exp_rd) == 1, e, "cycle {cycle}: exposed[{ridx}]");
        exp_hits += u32::from(e);
        assert_eq!(
            m.get(free_ready) == 1,
            link_write.is_none(),
            "cycle {cycle}: s_free_ready"
        );

        // Transfers at this edge.
        let mut allocated = None;
        if want_alloc && m.get(alloc_valid) == 1 {
            let idx = m.get(alloc_idx);
            assert!(
                free.remove(&idx),
                "cycle {cycle}: allocated {idx} which is not free"
            );
            allocated = Some(idx);
            allocs += 1;
        }
        if let Some((a, b)) = link_write {
            links.insert(a, b);
            pending_links.remove(0);
        }
        if let Some(ci) = free_pick {
            if link_write.is_none() {
                let c = chains.swap_remove(ci);
                // The pool links the chain's tail into its free list; after
                // this the chain's links belong to the pool.
                for b in &c {
                    links.remove(b);
                    assert!(free.insert(*b), "double free of {b}");
                }
                frees += 1;
                if allocated.is_some() {
                    both += 1;
                }
            }
        }
        // exposed: set by expose_en (in range), cleared by the allocation (which wins)
        if do_exp && eidx < NUM as u64 {
            exposed.insert(eidx);
        }
        if let Some(idx) = allocated {
            if exposed.remove(&idx) {
                exp_clears += 1;
                if do_exp && eidx == idx {
                    exp_race += 1;
                }
            }
        }
        if let Some(idx) = allocated {
            // Popping the free list may change nothing we track; the new
            // buflet's link is unknown until written.
            links.remove(&idx);
            // Add it to a random open chain or start a new one.
            if chains.is_empty() || rng.gen_bool(0.4) {
                chains.push(vec![idx]);
            } else {
                let ci = rng.gen_range(0..chains.len());
                let prev = *chains[ci].last().unwrap();
                chains[ci].push(idx);
                pending_links.push((prev, idx));
            }
        }
        if do_rd {
            // read before write: the value before this edge's write
            pending_read = Some((raddr, ram.get(&raddr).copied()));
        }
        if do_rd2 {
            q2 = Some((raddr2, ram.get(&raddr2).copied()));
        } else if do_rd3 {
            q3 = Some((raddr3, ram.get(&raddr3).copied()));
        } else if do_rd4 {
            q4 = Some((raddr4, ram.get(&raddr4).copied()));
            grants4 += 1;
        }
        if do_wr {
            ram.insert(waddr, wdata);
        } else if do_wr2 {
            ram.insert(waddr2, wdata2);
            writes2 += 1;
        }
        m.tick(clk);
    }
    assert!(
        allocs > 1000 && frees > 200 && both > 10,
        "coverage: {allocs} {frees} {both}"
    );
    assert!(
        exp_hits > 1000 && exp_clears > 200 && exp_race > 5 && reads2 > 5000,
        "p2p coverage: {exp_hits} {exp_clears} {exp_race} {reads2}"
    );
    assert!(
        writes2 > 2000 && reads3 > 2000 && denied2 > 1000 && denied3 > 1000,
        "p2p reads coverage: {writes2} {reads3} {denied2} {denied3}"
    );
    assert!(
        grants4 > 1500 && reads4 > 2000 && denied4 > 3000 && exp2_hits > 1000,
        "window reader coverage: {grants4} {reads4} {denied4} {exp2_hits}"
    );
}

/// HOST_BUFLETS: taken at reset values that leave the pool's fresh buflets below the limit,
/// refused above half the pool or once a buflet at the limit was handed out; the pool hands
/// out nothing at or above the limit and leaves the host buflets out of its free count.
#[test]
fn buflet_pool_host_buflets() {
    let mut m = Model::new("buflet_pool_w64").expect("model");
    let p = ports::BufletPool::bind(&m).expect("ports");
    buflet_testbench::rtl_check::reset(&mut m, p.clk, p.rst, 2);
    let write_host = |m: &mut Model, v: u64| {
        m.set(p.host_wr_en, 1);
        m.set(p.host_wr_val, v);
        m.eval();
        m.tick(p.clk);
        m.set(p.host_wr_en, 0);
        m.eval();
        m.get(p.host_buflets)
    };
    assert_eq!(m.get(p.host_buflets), 0, "reset value");
    assert_eq!(
        write_host(&mut m, NUM as u64 / 2 + 1),
        0,
        "more than half: refused"
    );
    assert_eq!(write_host(&mut m, 5), 5, "taken");
    assert_eq!(m.get(p.free_count), NUM as u64 - 5);
    // Allocate everything the pool will hand out: never a host buflet.
    let mut got = Vec::new();
    m.set(p.alloc_req, 1);
    for _ in 0..NUM {
        m.eval();
        if m.get(p.alloc_valid) == 0 {
            break;
        }
        got.push(m.get(p.alloc_idx));
        m.tick(p.clk);
    }
    m.set(p.alloc_req, 0);
    m.eval();
    assert_eq!(
        got,
        (0..(NUM - 5) as u64).collect::<Vec<_>>(),
        "the pool's buflets only"
    );
    assert_eq!(m.get(p.free_count), 0);
    assert_eq!(m.get(p.alloc_idx), NULL);
    // Growing past what was handed out is refused; shrinking is taken, and the buflets given
    // back are handed out again.
    assert_eq!(
        write_host(&mut m, 6),
        5,
        "a handed-out buflet would become the host's"
    );
    assert_eq!(write_host(&mut m, 3), 3, "shrinking");
    assert_eq!(m.get(p.free_count), 2);
    m.set(p.alloc_req, 1);
    m.eval();
    assert_eq!(
        (m.get(p.alloc_valid), m.get(p.alloc_idx)),
        (1, (NUM - 5) as u64)
    );
}
