//! The random run at 64 and 512 bits: rounds of valid and damaged lists, reads and writes
//! interleaved in the command FIFO in batches, every observation compared with the oracle, and
//! the coverage of every status and DEVMEM case (BLK_WRITE reads from buflet memory, BLK_READ
//! writes into host buflets: contents after every batch, every word written, one word per cycle
//! whenever the write port is free, CNT_BLK_DEV_WR_BYTES events, every BAD_SG rule).

use crate::*;

/// `bb`, `nb`: BUFLET_BYTES and NUM_BUFLETS of the model (sim/models.txt).
pub fn run_width(name: &str, seed: u64, rounds: usize, bb: u64, nb: u64) {
    let mut b = Bench::new(name, seed, bb, nb);
    b.reexpose();
    let mut batch = 0;
    b.rehost(batch);
    let kw = b.kw as u64;
    let mut bld = Builder {
        rng: StdRng::seed_from_u64(seed ^ 0x5eed),
        data_next: DATA_BASE,
        sg_next: SG_REGION,
        disk_next: 0,
    };
    let mut oracle = Oracle {
        mem: b.host.mem.clone(),
        disk: b.disk.clone(),
        bram: b.bram.bytes.clone(),
        blk_index: 0,
    };
    let mut exp = Expect::default();
    let mut statuses: HashMap<(bool, Status), usize> = HashMap::new();
    // BLK_READ DEVMEM rules seen (each alone), NotHost with HOST_BUFLETS 0
    let mut dev_rd_seen: HashMap<DevRd, usize> = HashMap::new();
    let mut not_host_h0 = 0usize;
    for round in 0..rounds {
        let tag = 100 + round as u32;
        // reads and writes interleaved in the command FIFO (a write or two first so that
        // reads have written blocks to read back)
        // (fault rounds alternate between the two ops every pass over FAULTS)
        let read = if round % 2 == 0 {
            round >= 2 && bld.rng.gen_bool(0.6)
        } else {
            (round / 2 / FAULTS.len()) % 2 == 1
        };
        let mut fault = if round % 2 == 0 {
            Fault::None
        } else {
            FAULTS[(round / 2) % FAULTS.len()]
        };
        if read && matches!(fault, Fault::RefusedData) {
            // a read has no host data reads; its DMA writes are posted
            fault = Fault::RefusedElem;
        }
        // DEVMEM faults: the write rules on writes, the read rules on reads (without host
        // buflets every read rule would also be NotHost: then NotHost alone)
        let fault = match fault {
            Fault::DevRd(k) if b.bram.host == 0 && k != DevRd::NotHost => {
                Fault::DevRd(DevRd::NotHost)
            }
            f => f,
        };
        let read = match fault {
            Fault::DevRd(_) => true,
            Fault::DevNotExposed | Fault::DevOutOfRange | Fault::DevCrossing | Fault::DevZero => {
                false
            }
            _ => read,
        };
        // some fault-free writes are long enough for BLK_WRITES_IN_FLIGHT writes to be owed
        let long = matches!(fault, Fault::None) && !read && round % 8 == 0;
        let blocks = if long { 6 } else { bld.rng.gen_range(1..4) };
        let mut elems = match fault {
            Fault::DevRd(k) => bld.dev_rd_fault(blocks, &b.bram, k),
            _ => bld.valid_list(blocks, read, &b.bram),
        };
        let mut bytes = (blocks * BLOCK) as u32;
        let sg_extra = bld.rng.gen_range(0..3);
        let mut sg_max = None;
        // pick an element after the first block if there is one
        let pick =
            |elems: &Vec<Elem>, rng: &mut StdRng| rng.gen_range(elems.len() / 2..elems.len());
        let bram = &b.bram;
        match fault {
            Fault::None => {}
            Fault::BytesNotMultiple => bytes += bld.rng.gen_range(1..4096),
            Fault::BytesZero => bytes = 0,
            Fault::ZeroLen => {
                let i = pick(&elems, &mut bld.rng);
                elems[i].len = 0;
            }
            Fault::HugeLen => {
                let i = pick(&elems, &mut bld.rng);
                elems[i].len = 65537 + bld.rng.gen_range(0..3);
                elems[i].flags = SgFlags::ZERO;
                bytes = 1 << 20;
            }
            Fault::Discontiguous | Fault::Unaligned => {
                // damage an element that continues a block, or make a block start unaligned
                let mut pos = 0u64;
                let mut mid = Vec::new();
                for (i, e) in elems.iter().enumerate() {
                    if !pos.is_multiple_of(BLOCK as u64) {
                        mid.push(i);
                    }
                    pos += e.len;
                }
                if matches!(fault, Fault::Discontiguous) && !mid.is_empty() {
                    let i = mid[bld.rng.gen_range(0..mid.len())];
                    elems[i].disk += 512;
                } else {
                    let i = pick(&elems, &mut bld.rng);
                    elems[i].disk += 1;
                }
            }
            Fault::SgMax => sg_max = Some(bld.rng.gen_range(0..elems.len() as u32)),
            Fault::RefusedElem => {} // handled when the list is written
            Fault::RefusedData => {
                let i = pick(&elems, &mut bld.rng);
                if !elems[i].flags.is_empty() {
                    elems[i].flags = SgFlags::empty();
                    elems[i].src = bld.alloc_data(elems[i].len);
                }
                let off = bld.rng.gen_range(0..elems[i].len);
                b.host.refused.push((elems[i].src + off, 1));
            }
            Fault::DiskError => b
                .disk_fail
                .push(oracle.blk_index + bld.rng.gen_range(0..blocks)),
            Fault::DiskLate => b
                .disk_late
                .push(oracle.blk_index + bld.rng.gen_range(0..blocks)),
            Fault::EndsMidBlock => {
                let last = elems.len() - 1;
                if read && elems[last].flags.contains(SgFlags::DEVMEM) {
                    // keep its LEN a multiple of DEV_ALIGN: the list error, not a DEVMEM rule
                    if elems[last].len > DEV_ALIGN {
                        elems[last].len -= DEV_ALIGN;
                    } else {
                        elems.pop();
                    }
                } else if elems[last].len > 1 {
                    elems[last].len -= 1;
                } else {
                    elems.pop();
                }
            }
            Fault::TooShort => bytes += BLOCK as u32,
            Fault::TooLong => bytes -= BLOCK as u32,
            Fault::DevNotExposed => {
                let i = victim(&mut elems, &mut bld.rng, 1, bram.bb);
                elems[i].flags = SgFlags::DEVMEM;
                elems[i].src = dev_src(&mut bld.rng, bram, elems[i].len, false);
            }
            Fault::DevOutOfRange => {
                let i = victim(&mut elems, &mut bld.rng, 1, bram.bb);
                let len = elems[i].len;
                elems[i].flags = SgFlags::DEVMEM;
                elems[i].src = match bld.rng.gen_range(0..3) {
                    // just past the end, or far beyond it
                    0 => bram.size() + bld.rng.gen_range(0..bram.bb - len + 1),
                    1 => bld.rng.gen::<u64>() | 1 << 63,
                    // 2^16 buflets further: the low 16 bits of the index name an exposed
                    // buflet, so only the range check refuses it
                    _ => dev_src(&mut bld.rng, bram, len, true) + (bram.bb << 16),
                };
            }
            Fault::DevCrossing => {
                let i = victim(&mut elems, &mut bld.rng, 2, 2 * bram.bb);
                let len = elems[i].len;
                let b0 = pick_buflet(&mut bld.rng, bram, true);
                let lo = bram.bb.saturating_sub(len) + 1;
                elems[i].flags = SgFlags::DEVMEM;
                elems[i].src = b0 * bram.bb + bld.rng.gen_range(lo..bram.bb);
            }
            Fault::DevZero => {
                let i = victim(&mut elems, &mut bld.rng, 1, bram.bb);
                elems[i].flags = SgFlags::DEVMEM | SgFlags::ZERO;
                elems[i].src = dev_src(&mut bld.rng, bram, elems[i].len, true);
            }
            Fault::DevRd(_) => {} // built by dev_rd_fault
        }
        let sg_max = sg_max.unwrap_or(elems.len() as u32 + sg_extra);
        let mems = [&mut b.host.mem, &mut oracle.mem];
        let sg_addr = if matches!(fault, Fault::RefusedElem) {
            // a list whose k-th NEXT points outside host memory
            let k = bld.rng.gen_range(0..elems.len());
            if k == 0 {
                MEM_BYTES as u64 + 0x40
            } else {
                let first = bld.write_list(mems, &elems[..k]);
                // walk to the k-th element and patch its NEXT
                let mut a = first;
                for _ in 1..k {
                    a = SgElem::parse(&b.host.mem[a as usize..]).unwrap().next;
                }
                for m in [&mut b.host.mem, &mut oracle.mem] {
                    let mut el = SgElem::parse(&m[a as usize..]).unwrap();
                    el.next = MEM_BYTES as u64 + 0x80;
                    el.emit(&mut m[a as usize..]);
                }
                first
            }
        } else {
            bld.write_list(mems, &elems)
        };
        let c = Cmd {
            read,
            tag,
            sg_addr,
            sg_max,
            bytes,
        };
        let before = exp.cpls.len();
        let dev_bad = exp.dev_bad;
        oracle.run(&b.host.refused, &b.bram, kw, &c, &b.faults(), &mut exp);
        let st = exp.cpls[before].status;
        let intended = match fault {
            Fault::None => Status::Ok,
            Fault::RefusedElem | Fault::RefusedData => Status::DmaError,
            Fault::DiskError => Status::DiskError,
            Fault::DiskLate => Status::DiskTimeout,
            _ => Status::BadSg,
        };
        assert_eq!(st, intended, "test generator: {fault:?} gives status {st}");
        let dev_fault = matches!(
            fault,
            Fault::DevNotExposed
                | Fault::DevOutOfRange
                | Fault::DevCrossing
                | Fault::DevZero
                | Fault::DevRd(_)
        );
        assert_eq!(
            exp.dev_bad - dev_bad,
            usize::from(dev_fault),
            "test generator: {fault:?} ends on a DEVMEM rule"
        );
        if let Fault::DevRd(k) = fault {
            assert_eq!(
                exp.dev_rd_bad.last(),
                Some(&vec![k]),
                "test generator: {fault:?} breaks exactly its rule"
            );
            *dev_rd_seen.entry(k).or_insert(0) += 1;
            not_host_h0 += usize::from(b.bram.host == 0);
        }
        *statuses.entry((read, st)).or_insert(0) += 1;
        b.cmds.push_back(c);
        // run commands in batches so that several sit in the command FIFO at once
        if b.cmds.len() >= 3 || round == rounds - 1 {
            let n = exp.cpls.len();
            b.run(n);
            // buflet memory after the batch's last command
            if let Some(i) = (0..b.bram.bytes.len()).find(|&i| b.bram.bytes[i] != oracle.bram[i]) {
                // a different completion explains it better
                for (k, (got, want)) in b.cpls.iter().zip(&exp.cpls).enumerate() {
                    assert_eq!(got, want, "completion {k}");
                }
                panic!(
                    "buflet memory after command {tag} (HOST_BUFLETS {}): byte {i:#x} is {:#04x}, \
                     expected {:#04x}",
                    b.bram.host, b.bram.bytes[i], oracle.bram[i]
                );
            }
            // the engine is idle: new exposed bits, HOST_BUFLETS and write-port rate
            b.reexpose();
            batch += 1;
            b.rehost(batch);
        }
    }
    assert_eq!(b.cpls.len(), exp.cpls.len(), "number of completions");
    for (i, (got, want)) in b.cpls.iter().zip(&exp.cpls).enumerate() {
        assert_eq!(got, want, "completion {i}");
    }
    // BLK_READ DEVMEM writes first: a wrong word in buflet memory also spoils later BLK_WRITE
    // DEVMEM reads
    check_dev_writes(&b, &exp);
    let (reads, dev_reads) = retag(&b, &exp);
    // parked completions: a command read its list before the command before it completed
    let parked = (1..exp.cpls.len())
        .filter(|&c| {
            let first = reads.iter().position(|r| r.0 == c);
            first.is_some_and(|k| b.read_cycles[k] < b.cpl_cycles[c - 1])
        })
        .count();
    assert!(
        parked > 10,
        "only {parked} commands started while the write before them waited for its statuses"
    );
    eprintln!("{name}: {parked} commands started behind a parked completion");
    check_reads(
        &reads,
        &issue_order(&exp.reads),
        &exp.read_ahead,
        "host read",
    );
    // block writes stream: several statuses owed at once, never more than the engine's limit
    // (the device would take up to DEV_QUEUE)
    let w_max = buflet_spec::param::BLK_WRITES_IN_FLIGHT as usize;
    assert_eq!(
        b.max_reads, 3,
        "host reads in flight at once: the next element's and two chunks' (the issuer's limits)"
    );
    assert!(
        b.pack_while_sending > 1000,
        "only {} host words packed while a block was sent: the banks do not overlap",
        b.pack_while_sending
    );
    // the issuer holds host chunks back at W_MAX-1 owed, so only blocks of ZERO or DEVMEM
    // chunks (or chunks asked before) reach W_MAX itself
    assert!(
        (w_max - 1..=w_max).contains(&b.max_owed),
        "most write statuses owed at a write request: {} (1: no streaming; the engine's limit is \
         {w_max}; the device takes up to {DEV_QUEUE})",
        b.max_owed
    );
    assert_eq!(
        b.blocks.len(),
        exp.blocks.len(),
        "number of block operations"
    );
    for (i, (got, want)) in b.blocks.iter().zip(&exp.blocks).enumerate() {
        assert_eq!(
            (got.0, got.1),
            (want.0, want.1),
            "kind and lba of block op {i}"
        );
        assert!(got.2 == want.2, "data of block write {i}");
    }
    assert_eq!(b.writes.len(), exp.writes.len(), "number of host writes");
    for (i, (got, want)) in b.writes.iter().zip(&exp.writes).enumerate() {
        assert_eq!(got.0, want.0, "address of host write {i}");
        assert!(
            got.1 == want.1,
            "data of host write {i} ({} bytes)",
            want.1.len()
        );
    }
    assert!(
        b.host.mem == oracle.mem,
        "host memory differs from the oracle's"
    );
    assert!(b.disk == oracle.disk, "disk differs from the oracle's");
    // buflet memory: every DEVMEM chunk is one run of consecutive words, one per cycle, and
    // nothing else is read; CNT_BLK_DEV_BYTES events per block write
    check_reads(
        &dev_reads,
        &exp.dev_reads,
        &exp.read_ahead,
        "buflet-memory read",
    );
    assert_eq!(b.dev_events, exp.dev_events, "CNT_BLK_DEV_BYTES events");
    let chunks = exp.dev_reads.len();
    assert!(
        chunks > 120 && exp.dev_events.len() > 40 && exp.dev_split > 3,
        "DEVMEM coverage: {chunks} chunks, {} blocks, {} split",
        exp.dev_events.len(),
        exp.dev_split
    );
    // every completion status must have been exercised, for writes and for reads
    let kinds = [
        Status::Ok,
        Status::BadSg,
        Status::DmaError,
        Status::DiskError,
        Status::DiskTimeout,
    ];
    let missing: Vec<(bool, Status)> = [false, true]
        .into_iter()
        .flat_map(|read| kinds.map(|st| (read, st)))
        .filter(|k| statuses.get(k).copied().unwrap_or(0) == 0)
        .collect();
    assert!(
        missing.is_empty(),
        "(read, status) not covered: {missing:?}; seen {statuses:?}"
    );
    let reads_done = exp.blocks.iter().filter(|b| !b.0).count();
    assert!(reads_done > 20, "only {reads_done} block reads");
    eprintln!(
        "{name}: {} completions {statuses:?}, {} host reads, {} block ops ({reads_done} reads), \
         {} host writes, up to {} block writes owed, {} DEVMEM chunks, {} DEVMEM bytes, {} cycles; BLK_READ DEVMEM: \
         {} elements ({} split), {} chunks, {} words, {} bytes, {} stall cycles, rules {dev_rd_seen:?} \
         (NotHost with HOST_BUFLETS 0: {not_host_h0})",
        b.cpls.len(),
        b.reads.len(),
        b.blocks.len(),
        b.writes.len(),
        b.max_owed,
        b.dev_reads.len(),
        b.dev_events.iter().sum::<u64>(),
        b.m.cycles(),
        exp.dev_rd_elems,
        exp.dev_rd_split,
        exp.dev_wr_chunks.len(),
        b.dev_writes.len(),
        b.dev_wr_events.iter().map(|e| e.1).sum::<u64>(),
        b.dev_wr_stalls.len(),
    );
    let missing: Vec<DevRd> = DEV_RD_KINDS
        .into_iter()
        .filter(|k| !dev_rd_seen.contains_key(k))
        .collect();
    assert!(
        missing.is_empty() && not_host_h0 > 0,
        "BLK_READ DEVMEM rules not covered: {missing:?} (NotHost with HOST_BUFLETS 0: {not_host_h0})"
    );
    assert!(
        exp.dev_rd_elems > 60 && exp.dev_rd_split > 3,
        "BLK_READ DEVMEM coverage: {} elements, {} split",
        exp.dev_rd_elems,
        exp.dev_rd_split
    );
    // every late answer ended its command once (ev_blk_timeout) and was discarded
    let late = exp
        .cpls
        .iter()
        .filter(|c| c.status == Status::DiskTimeout)
        .count();
    assert_eq!(b.timeouts, late, "ev_blk_timeout pulses");
    // everything drained
    assert!(
        b.rsp.is_empty() && matches!(b.blk, BlkDev::Idle) && b.wr.is_none(),
        "all traffic finished"
    );
}

/// A read attributed to its command: (command index, address, length).
type Read = (usize, u64, u64);

/// The bench's host and buflet-memory reads attributed to their commands. A write that ended
/// with statuses owed parks its completion while the engine starts the next command
/// (docs/storage.md "Parked completions"), so the completions seen so far do not tell whose a
/// read is. Each command's reads begin with its first element's read (the oracle's first read of
/// the command); a buflet-memory read belongs to the command of the host read before it.
fn retag(b: &Bench, exp: &Expect) -> (Vec<Read>, Vec<Read>) {
    let cmds = exp.cpls.len();
    let first: Vec<Option<(u64, u64)>> = (0..cmds)
        .map(|c| exp.reads.iter().find(|r| r.0 == c).map(|r| (r.1, r.2)))
        .collect();
    let (mut cur, mut next) = (0usize, 0usize);
    let mut reads = Vec::with_capacity(b.reads.len());
    for &(_, a, n) in &b.reads {
        if let Some(k) = (next..cmds).find(|&k| first[k] == Some((a, n))) {
            cur = k;
            next = k + 1;
        }
        reads.push((cur, a, n));
    }
    let dev_reads = b
        .dev_reads
        .iter()
        .zip(&b.dev_read_cycles)
        .map(|(&(_, a, n), &at)| {
            let k = b.read_cycles.partition_point(|&c| c <= at);
            (if k == 0 { 0 } else { reads[k - 1].0 }, a, n)
        })
        .collect();
    (reads, dev_reads)
}

/// The oracle's host reads (in list order) in the order blk_dma's write issuer makes them
/// (docs/storage.md "The write issuer"): each element's read goes out when the element before it
/// has been checked, ahead of that element's chunk reads. (Element reads are the ones in the
/// element region; the bench refuses no protection lookup, so every element the oracle reads
/// was asked ahead.)
fn issue_order(want: &[(usize, u64, u64)]) -> Vec<(usize, u64, u64)> {
    let mut out = Vec::with_capacity(want.len());
    let mut held: Vec<(usize, u64, u64)> = Vec::new(); // chunk reads of the element before
    let mut cmd = None;
    for &r in want {
        if cmd != Some(r.0) {
            out.append(&mut held);
            cmd = Some(r.0);
        }
        if r.1 >= SG_REGION {
            out.push(r);
            out.append(&mut held);
        } else {
            held.push(r);
        }
    }
    out.append(&mut held);
    out
}

/// Reads tagged with their command index: each command's are the oracle's, except that a
/// command in `ahead` (a BLK_WRITE that ended on a failed or late block or a refused chunk
/// read, whose list blk_dma's issuer had walked further) may read more: the oracle's reads must
/// come in order among its own.
fn check_reads(got: &[(usize, u64, u64)], want: &[(usize, u64, u64)], ahead: &[usize], what: &str) {
    let cmds = got.iter().chain(want).map(|r| r.0 + 1).max().unwrap_or(0);
    let mut extra = 0;
    for c in 0..cmds {
        let g: Vec<_> = got.iter().filter(|r| r.0 == c).collect();
        let w: Vec<_> = want.iter().filter(|r| r.0 == c).collect();
        if ahead.contains(&c) {
            let mut it = g.iter();
            assert!(
                w.iter().all(|x| it.any(|y| y == x)),
                "{what}s of command {c} (it read ahead): {g:?}, expected {w:?} among them"
            );
            extra += g.len() - w.len();
        } else {
            assert_eq!(g, w, "{what}s of command {c}");
        }
    }
    eprintln!("{what}s ahead of failed or late blocks: {extra}");
}

pub fn blk_dma_w64() {
    run_width("blk_dma_w64", 5, 300, 512, 64);
}

pub fn blk_dma_w512() {
    run_width("blk_dma_w512", 2, 260, 2048, 256);
}

/// BLK_READ DEVMEM (docs/p2p.md "p2p reads"): every buflet-memory word written (command, word
/// address, data) as the oracle says, in order; each chunk's words in consecutive cycles but for
/// the cycles the port was busy (one word per cycle whenever it is free, so exactly one word per
/// cycle at full rate); the CNT_BLK_DEV_WR_BYTES events, per chunk and per command; coverage
/// of the stalls and of full-rate chunks.
fn check_dev_writes(b: &Bench, exp: &Expect) {
    assert_eq!(
        b.dev_writes.len(),
        exp.dev_writes.len(),
        "number of buflet-memory words written"
    );
    for (i, (got, want)) in b.dev_writes.iter().zip(&exp.dev_writes).enumerate() {
        assert_eq!(
            (got.0, got.1),
            (want.0, want.1),
            "buflet-memory write {i}: (command index, word address)"
        );
        assert!(
            got.2 == want.2,
            "buflet-memory write {i} (command {}, word {:#x}): data {:02x?}, expected {:02x?}",
            got.0,
            got.1,
            got.2,
            want.2
        );
    }
    // per chunk: the span from its first to its last word is its words plus the busy cycles
    let (mut at, mut stalled, mut full_rate) = (0usize, 0usize, 0usize);
    for (k, &n) in exp.dev_wr_chunks.iter().enumerate() {
        let c = &b.dev_wr_cycles[at..at + n as usize];
        let (first, last) = (c[0], c[c.len() - 1]);
        let lo = b.dev_wr_stalls.partition_point(|&s| s < first);
        let hi = b.dev_wr_stalls.partition_point(|&s| s <= last);
        let busy = (hi - lo) as u64;
        assert_eq!(
            last - first + 1,
            n + busy,
            "DEVMEM chunk {k} ({n} words from word {:#x}): cycles from its first to its last \
             word, with {busy} busy cycles",
            b.dev_writes[at].1
        );
        stalled += usize::from(busy > 0);
        full_rate += usize::from(busy == 0 && n > 1);
        at += n as usize;
    }
    let per_cmd = |ev: &[(usize, u64)]| {
        let mut m: HashMap<usize, u64> = HashMap::new();
        for &(c, n) in ev {
            *m.entry(c).or_insert(0) += n;
        }
        m
    };
    assert_eq!(
        per_cmd(&b.dev_wr_events),
        per_cmd(&exp.dev_wr_events),
        "CNT_BLK_DEV_WR_BYTES per command"
    );
    assert_eq!(
        b.dev_wr_events, exp.dev_wr_events,
        "CNT_BLK_DEV_WR_BYTES events (command index, bytes)"
    );
    eprintln!(
        "  BLK_READ DEVMEM chunks: {stalled} stalled on bram_wr_ready, {full_rate} of 2+ words \
         at full rate; {} busy cycles with bram_wr_en",
        b.dev_wr_stalls.len()
    );
    assert!(
        stalled > 10 && full_rate > 10 && b.dev_wr_stalls.len() > 20,
        "write-port coverage: {stalled} chunks stalled, {full_rate} multi-word chunks at full \
         rate, {} stall cycles",
        b.dev_wr_stalls.len()
    );
}
