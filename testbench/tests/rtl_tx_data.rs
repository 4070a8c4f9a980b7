//! RTL test of `tx_data` (models `tx_data_w64`: 512-byte buflets, 64 of them; `tx_data_w512`:
//! 2048-byte buflets, 256 of them; MAX_SEG = TX_MAX_SEG; the buflet geometry is read from the
//! model's parameters in sim/models.txt).
//!
//! The harness is a host memory of 4096-byte pages (random bytes) and page lists (8-byte
//! little-endian entries at unaligned-to-the-page list addresses), a DMA read responder with
//! random request backpressure and random response latency and idle cycles, buflet memory
//! (random bytes) behind the shared read port (`bram_rd_ready` randomly denied in bursts, as
//! when the block engine reads; the word the cycle after a granted read, held until the next
//! granted read), a random `host_buflets`, and random idle cycles / backpressure on every
//! other stream (commands, pieces, m_cmd, payload). Posts are host posts (3 to 6 pages),
//! DEVMEM posts (lists of host buflets' device addresses in random order, as many entries as
//! 3 to 6 pages hold buflets) and "dual" posts: DEVMEM-valid lists whose entries are also
//! page-aligned mapped host pages, read by both host and DEVMEM pieces at the same list index
//! (the cache tag must tell them apart). Commands are random `tx_cmd` entries (random bytes):
//! control ones (PAY_LEN 0, or ARP with a junk PAY_LEN) and data ones (PAY_LEN 1..=TX_MAX_SEG,
//! junk PAY_SUM) whose payload is 1 to 4 pieces (host and DEVMEM mixed), often continuing the
//! previous piece in the same post (so runs and segments meet the page cache), otherwise
//! anywhere in any post, crossing pages and buflets, at odd offsets and lengths.
//!
//! Faults: some page-list entries and some data pages are bad (a read touching them ends with
//! tuser, its data zero), and some DEVMEM entries are not a host buflet's address (not a
//! multiple of BUFLET_BYTES, a buflet below the host range (just below it, or a dual post's
//! page-aligned one, valid as a host page), beyond NUM_BUFLETS or far beyond). A data command
//! is dropped exactly when one of its runs has a bad entry or a bad page. Checked:
//! - m_cmd carries every command but the dropped ones, in order: control commands unchanged,
//!   data commands unchanged but PAY_SUM, which equals the sum computed here independently,
//!   and PSH in FLAGS when the last piece says the segment ends a PSH post;
//! - the payload stream is one packet per data command passed on, packed (full words, low-mask
//!   tkeep on the last), exactly its bytes (host and buflet bytes);
//! - `ev_pay_fault` pulses once per dropped command;
//! - every DMA read is of mapped memory (a page address from a failed read would not be), a
//!   payload read stays in one page, one read at a time, the response bus is never stalled,
//!   the request stays stable until taken; the page-list reads and payload reads are exactly
//!   those of a one-entry (DEVMEM, list, page) cache that never keeps a failed or bad entry
//!   (the remaining runs of a failed command are not read);
//! - the granted buflet-memory reads are exactly the words of the DEVMEM runs that cache
//!   reads (none for a bad entry or after a failed read), in order;
//! - `idle` is high only when every command taken has been passed on or dropped and no read is
//!   outstanding (no buflet-memory request either), and at the end.
//!
//! The full-rate runs (no idle cycles, no backpressure, no DMA latency, `bram_rd_ready`
//! always 1) check one payload word per cycle inside a packet and one buflet word read per
//! cycle inside a DEVMEM run. Coverage counters (DEVMEM runs, pieces crossing buflets, bad
//! entries of each kind hit, cache misses due only to the DEVMEM bit, denied grants) must be
//! non-zero.

use std::collections::{HashMap, HashSet, VecDeque};

use buflet_sim::axis::{AxisBus, AxisSink, AxisSource, Beat};
use buflet_sim::{model_info, ports, Model};
use buflet_spec::{param, tx_cmd, TcpFlags, TxKind};
use buflet_testbench::rtl_check::{assert_quiet, count_cycle, reset};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PAGE: u64 = 4096;
/// Page lists live here (an 8-byte read here is a page-list read).
const LISTS: std::ops::Range<u64> = 0x100_0000..0x200_0000;

/// PAY_SUM: the one's-complement sum of `p` as big-endian 16-bit words (an odd last byte
/// padded with 0), folded, not complemented (summed here by 32-bit words).
fn payload_sum(p: &[u8]) -> u16 {
    let mut s: u64 = 0;
    for q in p.chunks(4) {
        let mut w = [0u8; 4];
        w[..q.len()].copy_from_slice(q);
        s += u64::from(u32::from_be_bytes(w));
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s as u16
}

fn low_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Buflet memory: the model's geometry, HOST_BUFLETS, the contents.
struct Bram {
    /// BUFLET_BYTES
    bb: u64,
    /// NUM_BUFLETS
    nb: u64,
    /// host_buflets: buflets nb - host .. nb - 1 are the host's
    host: u64,
    bytes: Vec<u8>,
}

/// Why a DEVMEM entry is not a host buflet's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Bad {
    /// not a multiple of BUFLET_BYTES
    Misaligned,
    /// a buflet below the host range
    Below,
    /// a buflet at or past NUM_BUFLETS
    Beyond,
}

impl Bram {
    /// `None` when `e` is a host buflet's device address (the doc's rule, computed here).
    fn bad(&self, e: u64) -> Option<Bad> {
        if !e.is_multiple_of(self.bb) {
            Some(Bad::Misaligned)
        } else if e / self.bb >= self.nb {
            Some(Bad::Beyond)
        } else if e / self.bb < self.nb - self.host {
            Some(Bad::Below)
        } else {
            None
        }
    }

    fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        self.bytes[addr as usize..addr as usize + len].to_vec()
    }
}

/// Host memory: pages by page address, and the addresses whose reads fail.
struct Host {
    pages: HashMap<u64, Vec<u8>>,
    bad_pages: HashSet<u64>,
    /// Bad 8-byte page-list entries (their addresses).
    bad_entries: HashSet<u64>,
}

impl Host {
    fn byte(&self, a: u64) -> u8 {
        let pg = self
            .pages
            .get(&(a & !(PAGE - 1)))
            .unwrap_or_else(|| panic!("DMA read of unmapped address {a:#x}"));
        pg[(a % PAGE) as usize]
    }

    fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        (0..len as u64).map(|i| self.byte(addr + i)).collect()
    }

    /// Whether a read of [addr, addr + len) fails.
    fn fails(&self, addr: u64, len: usize) -> bool {
        let end = addr + len as u64;
        let mut pg = addr & !(PAGE - 1);
        while pg < end {
            if self.bad_pages.contains(&pg) {
                return true;
            }
            pg += PAGE;
        }
        (addr & !7..end)
            .step_by(8)
            .any(|e| self.bad_entries.contains(&e))
    }

    fn entry(&self, hmd: u64, page: u64) -> u64 {
        let b = self.read(hmd + 8 * page, 8);
        u64::from_le_bytes(b.try_into().unwrap())
    }

    fn set_entry(&mut self, hmd: u64, k: u64, v: u64) {
        let e = hmd + 8 * k;
        let pg = self.pages.get_mut(&(e & !(PAGE - 1))).unwrap();
        pg[(e % PAGE) as usize..(e % PAGE) as usize + 8].copy_from_slice(&v.to_le_bytes());
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PostKind {
    Host,
    Dev,
    /// DEVMEM-valid entries that are also page-aligned host pages: host and DEVMEM pieces
    Dual,
}

/// A post: its page list's address, its number of entries, its kind.
#[derive(Clone, Copy)]
struct Post {
    hmd: u64,
    entries: u64,
    kind: PostKind,
}

#[derive(Clone, Copy, Debug)]
struct Piece {
    hmd: u64,
    at: u32,
    len: u16,
    last: bool,
    /// (last piece) the segment ends a PSH post: the command's FLAGS get PSH.
    psh: bool,
    /// DEVMEM: the list names buflets
    dev: bool,
}

struct Cmd {
    entry: Vec<u8>,
    pieces: Vec<Piece>,
    payload: Vec<u8>,
    /// Data command whose reads fail: dropped.
    faulty: bool,
}

/// The runs of a piece: (list index, offset in the buffer, length); cut at pages, or at
/// buflets (`bb`) for a DEVMEM piece.
fn runs(p: &Piece, bb: u64) -> Vec<(u64, u64, usize)> {
    let unit = if p.dev { bb } else { PAGE };
    let mut v = Vec::new();
    let (mut at, mut left) = (u64::from(p.at), usize::from(p.len));
    while left > 0 {
        let n = left.min((unit - at % unit) as usize);
        v.push((at / unit, at, n));
        at += n as u64;
        left -= n;
    }
    v
}

/// A random host buflet's device address; `aligned`: page-aligned too.
fn host_buflet(rng: &mut ChaCha8Rng, bram: &Bram, aligned: bool) -> u64 {
    loop {
        let b = rng.gen_range(bram.nb - bram.host..bram.nb);
        if !aligned || (b * bram.bb).is_multiple_of(PAGE) {
            return b * bram.bb;
        }
    }
}

/// Builds the host memory, buflet memory, the posts and the commands.
fn setup(rng: &mut ChaCha8Rng, prefix: &str, n: usize, faults: bool) -> (Host, Bram, Vec<Cmd>) {
    let info = model_info(prefix).expect("model built (sim/models.txt)");
    let par = |k: &str| -> u64 {
        info.param_u64(k)
            .unwrap_or_else(|| panic!("{prefix}: {k} set in sim/models.txt"))
    };
    let (bb, nb) = (par("BUFLET_BYTES"), par("NUM_BUFLETS"));
    assert!(bb <= PAGE && PAGE.is_multiple_of(bb) && nb * bb <= 0x100_0000);
    // HOST_BUFLETS (at most half the pool, the register's rule); enough page-aligned ones
    let host = rng.gen_range(nb / 4..=nb / 2).max(2 * PAGE / bb);
    let mut bytes = vec![0u8; (nb * bb) as usize];
    rng.fill(&mut bytes[..]);
    let bram = Bram {
        bb,
        nb,
        host,
        bytes,
    };
    let mut host = Host {
        pages: HashMap::new(),
        bad_pages: HashSet::new(),
        bad_entries: HashSet::new(),
    };
    // 48 data pages at scattered addresses
    let mut data_pages = Vec::new();
    while data_pages.len() < 48 {
        let a = (0x1_0000 + rng.gen_range(0..0x10_0000u64)) * PAGE;
        if host.pages.contains_key(&a) {
            continue;
        }
        let mut b = vec![0u8; PAGE as usize];
        rng.fill(&mut b[..]);
        host.pages.insert(a, b);
        data_pages.push(a);
    }
    // host pages at the device addresses too (dual posts' entries name both)
    for a in (0..nb * bb).step_by(PAGE as usize) {
        let mut b = vec![0u8; PAGE as usize];
        rng.fill(&mut b[..]);
        host.pages.insert(a, b);
    }
    // 14 posts: page lists in their own region (list pages hold random bytes elsewhere)
    let mut posts = Vec::new();
    for i in 0..14u64 {
        let base = LISTS.start + i * 2 * PAGE;
        for pg in [base, base + PAGE] {
            let mut b = vec![0u8; PAGE as usize];
            rng.fill(&mut b[..]);
            host.pages.insert(pg, b);
        }
        let hmd = base + 8 * rng.gen_range(0..512u64); // may cross into the next page
        let kind = match i {
            0..=5 => PostKind::Host,
            6..=11 => PostKind::Dev,
            _ => PostKind::Dual,
        };
        let pages = rng.gen_range(3..=6u64);
        let entries = if kind == PostKind::Host {
            pages
        } else {
            pages * PAGE / bb
        };
        for k in 0..entries {
            let a = match kind {
                PostKind::Host => data_pages[rng.gen_range(0..data_pages.len())],
                PostKind::Dev => host_buflet(rng, &bram, false),
                PostKind::Dual => host_buflet(rng, &bram, true),
            };
            host.set_entry(hmd, k, a);
        }
        posts.push(Post { hmd, entries, kind });
    }
    if faults {
        for _ in 0..2 {
            host.bad_pages
                .insert(data_pages[rng.gen_range(0..data_pages.len())]);
            let p = posts[rng.gen_range(0..posts.len())];
            host.bad_entries
                .insert(p.hmd + 8 * rng.gen_range(0..p.entries));
        }
        // DEVMEM entries that are no host buflet's address
        let (lo, top) = (nb - bram.host, nb * bb);
        let bads = [
            host_buflet(rng, &bram, false) + rng.gen_range(1..bb), // misaligned
            host_buflet(rng, &bram, false) + 8,                    // misaligned, 8-byte
            (lo - 1) * bb,                                         // just below the range
            rng.gen_range(0..lo) * bb,                             // below
            top,                                                   // NUM_BUFLETS
            top + rng.gen_range(0..64) * bb,                       // beyond
            (1 << 40) | host_buflet(rng, &bram, false),            // far beyond
        ];
        for (j, v) in bads.into_iter().enumerate() {
            let p = posts[6 + j % 6];
            host.set_entry(p.hmd, rng.gen_range(0..p.entries), v);
        }
        // a dual post's page-aligned entry below the range: a host page, not a host buflet
        let p = posts[12 + rng.gen_range(0..2)];
        let b = loop {
            let b = rng.gen_range(0..lo);
            if (b * bb).is_multiple_of(PAGE) {
                break b;
            }
        };
        host.set_entry(p.hmd, rng.gen_range(0..p.entries.min(3)), b * bb);
    }

    let max_seg = param::TX_MAX_SEG as usize;
    let (kind, plen, psum) = (tx_cmd::KIND.0, tx_cmd::PAY_LEN.0, tx_cmd::PAY_SUM.0);
    let mut cursor: Option<(usize, u64, bool)> = None; // (post, offset, dev) after the last piece
    let mut cmds = Vec::new();
    for _ in 0..n {
        let mut e = vec![0u8; tx_cmd::SIZE];
        rng.fill(&mut e[..]);
        let arp = TxKind::Arp.code();
        e[kind] = if rng.gen_bool(0.15) {
            arp
        } else if e[kind] == arp {
            TxKind::Tcp.code()
        } else {
            e[kind]
        };
        if e[kind] == arp || rng.gen_bool(0.3) {
            if e[kind] != arp {
                e[plen..plen + 2].copy_from_slice(&[0, 0]);
            }
            cmds.push(Cmd {
                entry: e,
                pieces: Vec::new(),
                payload: Vec::new(),
                faulty: false,
            });
            continue;
        }
        let len = match rng.gen_range(0..10) {
            0..=2 => rng.gen_range(1..=16),
            3 => max_seg - rng.gen_range(0..4),
            4..=7 => rng.gen_range(1..=3000),
            _ => rng.gen_range(1..=max_seg),
        };
        e[plen..plen + 2].copy_from_slice(&(len as u16).to_le_bytes());
        let np = rng.gen_range(1..=4usize).min(len);
        // cut len into np pieces of at least one byte
        let mut cuts: Vec<usize> = (0..np - 1).map(|_| rng.gen_range(1..len)).collect();
        cuts.sort();
        cuts.dedup();
        cuts.insert(0, 0);
        cuts.push(len);
        let mut pieces = Vec::new();
        let mut payload = Vec::new();
        let mut faulty = false;
        for w in cuts.windows(2) {
            let plen_i = w[1] - w[0];
            let cap = |pi: usize, dev: bool| {
                let p: &Post = &posts[pi];
                match p.kind {
                    PostKind::Host => p.entries * PAGE,
                    PostKind::Dev => p.entries * bb,
                    // both views of the list: as many bytes as its entries hold buflets
                    PostKind::Dual if dev => p.entries * bb,
                    PostKind::Dual => p.entries * bb / PAGE * PAGE,
                }
            };
            let (pi, at, dev) = match cursor {
                Some((pi, end, dev)) if posts[pi].kind == PostKind::Dual && rng.gen_bool(0.5) => {
                    // the other view of the list index the last run read (the cache holds it)
                    let k = (end - 1) / if dev { bb } else { PAGE };
                    let dev = !dev;
                    let unit = if dev { bb } else { PAGE };
                    let k = k.min(cap(pi, dev) / unit - 1);
                    let at = (k * unit + rng.gen_range(0..unit)).min(cap(pi, dev) - plen_i as u64);
                    (pi, at, dev)
                }
                Some((pi, at, dev)) if rng.gen_bool(0.7) && at + plen_i as u64 <= cap(pi, dev) => {
                    (pi, at, dev)
                }
                _ => {
                    let pi = rng.gen_range(0..posts.len());
                    match posts[pi].kind {
                        PostKind::Host | PostKind::Dev => {
                            let dev = posts[pi].kind == PostKind::Dev;
                            (pi, rng.gen_range(0..=cap(pi, dev) - plen_i as u64), dev)
                        }
                        PostKind::Dual => {
                            let dev = rng.gen_bool(0.5);
                            (pi, rng.gen_range(0..=cap(pi, dev) - plen_i as u64), dev)
                        }
                    }
                }
            };
            let post = posts[pi];
            let pc = Piece {
                hmd: post.hmd,
                at: at as u32,
                len: plen_i as u16,
                last: w[1] == len,
                psh: w[1] == len && rng.gen_bool(0.5),
                dev,
            };
            for (k, off, n) in runs(&pc, bb) {
                let ea = post.hmd + 8 * k;
                if host.fails(ea, 8) {
                    faulty = true;
                    payload.extend(std::iter::repeat_n(0, n));
                    continue;
                }
                let ent = host.entry(post.hmd, k);
                if dev {
                    if bram.bad(ent).is_some() {
                        faulty = true;
                        payload.extend(std::iter::repeat_n(0, n));
                    } else {
                        payload.extend(bram.read(ent + off % bb, n));
                    }
                    continue;
                }
                let pa = ent + off % PAGE;
                faulty |= host.fails(pa, n);
                payload.extend(host.read(pa, n));
            }
            pieces.push(pc);
            cursor = Some((pi, at + plen_i as u64, dev));
        }
        // PAY_SUM as the engine hands it is junk (tx_data sets it)
        e[psum..psum + 2].copy_from_slice(&rng.gen::<u16>().to_le_bytes());
        cmds.push(Cmd {
            entry: e,
            pieces,
            payload,
            faulty,
        });
    }
    (host, bram, cmds)
}

/// What the reads of a one-entry (DEVMEM, list, index) cache come to.
#[derive(Default)]
struct Expected {
    /// page-list reads
    pl: usize,
    /// host payload reads
    data: usize,
    /// buflet-memory word reads: (run number, word address)
    words: Vec<(usize, u64)>,
    /// coverage: DEVMEM runs read, DEVMEM pieces read that cross a buflet boundary
    dev_runs: usize,
    crossing: usize,
    /// coverage: bad DEVMEM entries read (each drops its command), by kind
    bad: HashMap<Bad, usize>,
    /// coverage: misses only because the cached entry's DEVMEM bit differs
    tag_dev: usize,
}

/// The page-list, payload and buflet-memory reads a one-entry (DEVMEM, list, index) cache
/// makes for `cmds` (a failed or bad entry is not cached; a command's runs after a failed
/// read are not read).
fn expected_reads(host: &Host, bram: &Bram, kw: u64, cmds: &[Cmd]) -> Expected {
    let mut cache: Option<(bool, u64, u64)> = None;
    let mut x = Expected::default();
    let mut run_no = 0;
    for c in cmds {
        let mut fault = false;
        for p in &c.pieces {
            let mut dev_read = 0;
            for (k, off, n) in runs(p, bram.bb) {
                if fault {
                    continue;
                }
                if cache != Some((p.dev, p.hmd, k)) {
                    if cache == Some((!p.dev, p.hmd, k)) {
                        x.tag_dev += 1;
                    }
                    x.pl += 1;
                    if host.fails(p.hmd + 8 * k, 8) {
                        fault = true;
                        cache = None;
                        continue;
                    }
                    if p.dev {
                        if let Some(b) = bram.bad(host.entry(p.hmd, k)) {
                            *x.bad.entry(b).or_default() += 1;
                            fault = true;
                            cache = None;
                            continue;
                        }
                    }
                    cache = Some((p.dev, p.hmd, k));
                }
                let ent = host.entry(p.hmd, k);
                if p.dev {
                    let start = ent + off % bram.bb;
                    let nw = (start % kw + n as u64).div_ceil(kw);
                    x.words.extend((0..nw).map(|i| (run_no, start / kw + i)));
                    x.dev_runs += 1;
                    run_no += 1;
                    dev_read += 1;
                    if dev_read == 2 {
                        x.crossing += 1;
                    }
                } else {
                    x.data += 1;
                    fault |= host.fails(ent + off % PAGE, n);
                }
            }
        }
    }
    x
}

#[allow(clippy::too_many_arguments)]
fn run(
    prefix: &str,
    kw: usize,
    seed: u64,
    n: usize,
    idle_p: f64,
    stall_p: f64,
    max_lat: u64,
    faults: bool,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (host, bram, cmds) = setup(&mut rng, prefix, n, faults);
    let n_data = cmds.iter().filter(|c| !c.pieces.is_empty()).count();
    let n_faulty = cmds.iter().filter(|c| c.faulty).count();
    if faults {
        assert!(
            n_faulty > 0 && n_faulty < n_data / 2,
            "{prefix}: {n_faulty} of {n_data} data commands faulty"
        );
    }
    let want = expected_reads(&host, &bram, kw as u64, &cmds);
    let (want_pl, want_data) = (want.pl, want.data);
    let runs_total: usize = cmds
        .iter()
        .flat_map(|c| &c.pieces)
        .map(|p| runs(p, bram.bb).len())
        .sum();
    // coverage of the DEVMEM cases
    let bad_hits = |b: Bad| want.bad.get(&b).copied().unwrap_or(0);
    assert!(
        want.dev_runs > 0 && want.crossing > 0 && want.tag_dev > 0,
        "{prefix}: coverage: {} DEVMEM runs, {} pieces crossing buflets, {} DEVMEM-bit misses",
        want.dev_runs,
        want.crossing,
        want.tag_dev
    );
    if faults {
        for b in [Bad::Misaligned, Bad::Below, Bad::Beyond] {
            assert!(
                bad_hits(b) > 0,
                "{prefix}: coverage: no {b:?} DEVMEM entry read"
            );
        }
    }
    assert!(
        want_pl < runs_total * 3 / 4,
        "{prefix}: too few cache hits ({want_pl} page-list reads for {runs_total} runs)"
    );
    // what must come out
    let (psum, plen) = (tx_cmd::PAY_SUM.0, tx_cmd::PAY_LEN.0);
    let mut want_cmds: VecDeque<(usize, Vec<u8>)> = VecDeque::new();
    let mut want_pay: VecDeque<(usize, &[u8])> = VecDeque::new();
    for (i, c) in cmds.iter().enumerate() {
        if c.faulty {
            continue;
        }
        let mut e = c.entry.clone();
        if !c.pieces.is_empty() {
            assert_eq!(
                usize::from(u16::from_le_bytes([e[plen], e[plen + 1]])),
                c.payload.len()
            );
            e[psum..psum + 2].copy_from_slice(&payload_sum(&c.payload).to_le_bytes());
            if c.pieces.last().is_some_and(|p| p.psh) {
                e[tx_cmd::FLAGS.0] |= TcpFlags::PSH.bits();
            }
            want_pay.push_back((i, &c.payload));
        }
        want_cmds.push_back((i, e));
    }

    let mut m = Model::new(prefix).expect("model built (sim/models.txt)");
    let p = ports::TxData::bind(&m).expect("ports");
    assert_eq!(
        p.m_axis_pay_tdata.width() as usize,
        kw * 8,
        "{prefix}: width"
    );
    let full_rate = idle_p == 0.0 && stall_p == 0.0;
    let s = |x: u64| seed.wrapping_mul(0x9e37_79b9).wrapping_add(x);
    // commands and pieces: sources with idle cycles, garbage while idle
    let cmd_bus = AxisBus::new(p.s_cmd_valid)
        .tready(p.s_cmd_ready)
        .tdata(p.s_cmd_data);
    let mut cmd_src = AxisSource::new(&m, cmd_bus, idle_p, s(1))
        .unwrap()
        .garbage_when_idle(true);
    let pc_bus = AxisBus::new(p.s_pc_valid)
        .tready(p.s_pc_ready)
        .sideband("hmd", p.s_pc_hmd)
        .sideband("at", p.s_pc_at)
        .sideband("len", p.s_pc_len)
        .sideband("last", p.s_pc_last)
        .sideband("psh", p.s_pc_psh)
        .sideband("dev", p.s_pc_dev);
    let mut pc_src = AxisSource::new(&m, pc_bus, idle_p, s(2))
        .unwrap()
        .garbage_when_idle(true);
    for c in &cmds {
        cmd_src.send_beat(Beat::new(c.entry.clone(), 0, false));
        for pc in &c.pieces {
            pc_src.send_beat(Beat::default().with_sideband(vec![
                pc.hmd,
                u64::from(pc.at),
                u64::from(pc.len),
                u64::from(pc.last),
                u64::from(pc.psh),
                u64::from(pc.dev),
            ]));
        }
    }
    // outputs: sinks with backpressure (stability checked by the kit)
    let mcmd_bus = AxisBus::new(p.m_cmd_valid)
        .tready(p.m_cmd_ready)
        .tdata(p.m_cmd_data);
    let mut cmd_sink = AxisSink::new(&m, mcmd_bus, stall_p, s(3)).unwrap();
    let pay_bus = AxisBus::from_prefix(&m, "m_axis_pay", &[]).unwrap();
    let mut pay_sink = AxisSink::new(&m, pay_bus, stall_p, s(4)).unwrap();
    // DMA: requests (backpressure, stability checked), responses after a random latency
    let req_bus = AxisBus::new(p.m_dma_rd_req_valid)
        .tready(p.m_dma_rd_req_ready)
        .sideband("addr", p.m_dma_rd_req_addr)
        .sideband("len", p.m_dma_rd_req_len);
    let mut req_sink = AxisSink::new(&m, req_bus, stall_p, s(5)).unwrap();
    let rsp_bus = AxisBus::from_prefix(&m, "s_axis_dma_rd", &["tuser"]).unwrap();
    let mut rsp_src = AxisSource::new(&m, rsp_bus, idle_p, s(6))
        .unwrap()
        .hold_valid(true)
        .garbage_when_idle(true);

    reset(&mut m, p.clk, p.rst, 3);
    let mut cycles = 0u64;
    let mut outstanding: Option<(u64, Vec<Beat>)> = None; // (due cycle, beats) not yet queued
    let mut rsp_words_left = 0usize; // words of the current response not yet taken
    let (mut pl_reads, mut data_reads) = (0usize, 0usize);
    let (mut taken, mut passed, mut faults_seen) = (0usize, 0usize, 0usize);
    let mut pay_cur: Vec<u8> = Vec::new();
    let mut pay_gap = false; // a cycle without a payload word inside a packet (full rate)
    let mut last_pay_cycle = 0u64;
    // buflet memory: the word on bram_rd_data (random before the first read), the granted
    // reads so far, the cycle of the last one, denial burst left, denied requests
    let mut bram_q = vec![0u8; kw];
    rng.fill(&mut bram_q[..]);
    let mut dev_reads = 0usize;
    let mut last_dev_cycle = 0u64;
    let mut dev_gap = false; // a cycle without a buflet read inside a DEVMEM run (full rate)
    let (mut deny_left, mut denied) = (0u32, 0usize);
    m.set(p.host_buflets, bram.host);
    while !(want_cmds.is_empty() && want_pay.is_empty() && taken == n && faults_seen == n_faulty) {
        count_cycle(&mut cycles, 200 * n as u64 + 4_000_000, || {
            format!(
                "{prefix}: timeout: {taken} commands taken, {passed} passed, {faults_seen} faults, \
                 {} commands and {} payloads still expected",
                want_cmds.len(),
                want_pay.len()
            )
        });
        if let Some((due, _)) = &outstanding {
            if cycles >= *due {
                let (_, beats) = outstanding.take().unwrap();
                for b in beats {
                    rsp_src.send_beat(b);
                }
            }
        }
        cmd_src.drive(&mut m);
        pc_src.drive(&mut m);
        cmd_sink.drive(&mut m);
        pay_sink.drive(&mut m);
        req_sink.drive(&mut m);
        rsp_src.drive(&mut m);
        // the block engine reads in bursts: our requests are denied then
        let grant = if full_rate {
            true
        } else if deny_left > 0 {
            deny_left -= 1;
            false
        } else if rng.gen_bool(0.2) {
            deny_left = rng.gen_range(0..6);
            false
        } else {
            true
        };
        m.set(p.bram_rd_ready, u64::from(grant));
        m.set_bytes(p.bram_rd_data, &bram_q);
        m.eval();

        if m.get(p.ev_pay_fault) == 1 {
            faults_seen += 1;
        }
        if m.get(p.idle) == 1 {
            assert_eq!(
                taken,
                passed + faults_seen,
                "{prefix} cycle {cycles}: idle with a command in progress"
            );
            assert!(
                outstanding.is_none() && rsp_words_left == 0 && m.get(p.m_bram_rd_en) == 0,
                "{prefix} cycle {cycles}: idle with a read outstanding"
            );
        }
        if m.get(p.m_bram_rd_en) == 1 {
            if grant {
                let a = m.get(p.m_bram_rd_addr);
                let &(run_no, wa) = want.words.get(dev_reads).unwrap_or_else(|| {
                    panic!("{prefix} cycle {cycles}: an extra buflet-memory read of word {a:#x}")
                });
                assert_eq!(
                    a, wa,
                    "{prefix} cycle {cycles}: buflet-memory read {dev_reads} (DEVMEM run {run_no})"
                );
                if dev_reads > 0
                    && want.words[dev_reads - 1].0 == run_no
                    && cycles != last_dev_cycle + 1
                {
                    dev_gap = true;
                }
                last_dev_cycle = cycles;
                dev_reads += 1;
                let at = a as usize * kw;
                bram_q = bram.bytes[at..at + kw].to_vec();
            } else {
                denied += 1;
            }
        }
        if m.get(p.s_axis_dma_rd_tvalid) == 1 {
            assert_eq!(
                m.get(p.s_axis_dma_rd_tready),
                1,
                "{prefix} cycle {cycles}: DMA response bus stalled"
            );
        }
        if cmd_src.sample(&m).is_some() {
            taken += 1;
        }
        pc_src.sample(&m);
        if let Some(r) = req_sink.sample(&m) {
            assert!(
                outstanding.is_none() && rsp_words_left == 0,
                "{prefix} cycle {cycles}: a second read outstanding"
            );
            let (addr, len) = (r.sideband[0], r.sideband[1] as usize);
            assert!(len >= 1, "{prefix}: empty read");
            if len == 8 && (0x100_0000..0x200_0000).contains(&addr) {
                pl_reads += 1;
            } else {
                data_reads += 1;
                assert!(
                    addr % PAGE + len as u64 <= PAGE,
                    "{prefix}: payload read {addr:#x}+{len} crosses a page"
                );
            }
            let fail = host.fails(addr, len);
            let bytes = if fail {
                vec![0u8; len]
            } else {
                host.read(addr, len)
            };
            let nw = len.div_ceil(kw);
            let beats: Vec<Beat> = (0..nw)
                .map(|i| {
                    let chunk = &bytes[i * kw..len.min((i + 1) * kw)];
                    let mut data = vec![0u8; kw];
                    if !fail {
                        rng.fill(&mut data[..]); // garbage past the end
                    }
                    data[..chunk.len()].copy_from_slice(chunk);
                    let last = i + 1 == nw;
                    Beat::new(data, low_mask(chunk.len()), last)
                        .with_sideband(vec![u64::from(last && fail)])
                })
                .collect();
            rsp_words_left = nw;
            let lat = if max_lat == 0 {
                0
            } else {
                rng.gen_range(0..=max_lat)
            };
            outstanding = Some((cycles + 1 + lat, beats));
        }
        if rsp_src.sample(&m).is_some() {
            rsp_words_left -= 1;
        }
        if let Some(b) = cmd_sink.sample(&m) {
            let (i, want) = want_cmds
                .pop_front()
                .unwrap_or_else(|| panic!("{prefix}: an extra command on m_cmd"));
            assert_eq!(b.data, want, "{prefix}: command {i} on m_cmd");
            passed += 1;
        }
        if let Some(b) = pay_sink.sample(&m) {
            {
                let nb = b.keep_u64().count_ones() as usize;
                assert_eq!(b.keep_u64(), low_mask(nb), "{prefix}: tkeep not a low mask");
                assert!(
                    b.last || nb == kw,
                    "{prefix}: short payload word before tlast"
                );
                if !pay_cur.is_empty() && cycles != last_pay_cycle + 1 {
                    pay_gap = true;
                }
                last_pay_cycle = cycles;
                pay_cur.extend_from_slice(&b.data[..nb]);
                let (i, want) = *want_pay
                    .front()
                    .unwrap_or_else(|| panic!("{prefix}: extra payload"));
                assert!(
                    pay_cur.len() <= want.len() && pay_cur[..] == want[..pay_cur.len()],
                    "{prefix}: command {i}: payload bytes wrong by byte {}",
                    pay_cur.len()
                );
                if b.last {
                    assert_eq!(pay_cur.len(), want.len(), "{prefix}: command {i}: length");
                    want_pay.pop_front();
                    pay_cur.clear();
                }
            }
        }
        m.tick(p.clk);
    }
    let quiet = [
        p.m_bram_rd_en,
        p.m_cmd_valid,
        p.m_axis_pay_tvalid,
        p.m_dma_rd_req_valid,
        p.ev_pay_fault,
    ];
    let end = [
        (p.s_cmd_valid, 0),
        (p.s_pc_valid, 0),
        (p.s_axis_dma_rd_tvalid, 0),
        (p.m_cmd_ready, 1),
        (p.m_axis_pay_tready, 1),
    ];
    assert_quiet(&mut m, p.clk, &end, &quiet, 8, prefix);
    m.eval();
    assert_eq!(m.get(p.idle), 1, "{prefix}: idle at the end");
    assert!(pc_src.idle(), "{prefix}: pieces not taken");
    assert_eq!(faults_seen, n_faulty, "{prefix}: ev_pay_fault pulses");
    assert_eq!(passed, n - n_faulty, "{prefix}: commands passed on");
    assert_eq!(
        (pl_reads, data_reads),
        (want_pl, want_data),
        "{prefix}: (page-list, payload) reads"
    );
    assert_eq!(dev_reads, want.words.len(), "{prefix}: buflet-memory reads");
    if full_rate {
        assert!(!pay_gap, "{prefix}: a bubble inside a payload packet");
        assert!(!dev_gap, "{prefix}: a bubble inside a DEVMEM run's reads");
    } else {
        assert!(
            denied > 0,
            "{prefix}: coverage: no denied buflet-memory read"
        );
    }
    eprintln!(
        "{prefix}: {n} commands ({n_data} data, {n_faulty} dropped) in {cycles} cycles, \
         {runs_total} runs, {pl_reads} page-list reads, {data_reads} payload reads; DEVMEM: \
         {} runs, {} pieces crossing buflets, {dev_reads} buflet words, {denied} denied, \
         {} DEVMEM-bit misses, bad entries {}/{}/{} (misaligned/below/beyond), host_buflets {}",
        want.dev_runs,
        want.crossing,
        want.tag_dev,
        bad_hits(Bad::Misaligned),
        bad_hits(Bad::Below),
        bad_hits(Bad::Beyond),
        bram.host
    );
}

buflet_testbench::run_table! { run;
    tx_data_w64_random: ("tx_data_w64", 8, 41, 300, 0.3, 0.3, 12, true);
    tx_data_w512_random: ("tx_data_w512", 64, 42, 300, 0.3, 0.3, 12, true);
    tx_data_w64_heavy_backpressure: ("tx_data_w64", 8, 43, 200, 0.1, 0.8, 30, true);
    tx_data_w512_heavy_backpressure: ("tx_data_w512", 64, 44, 200, 0.1, 0.8, 30, true);
    tx_data_w64_no_faults: ("tx_data_w64", 8, 45, 300, 0.3, 0.3, 5, false);
    tx_data_w512_no_faults: ("tx_data_w512", 64, 46, 300, 0.3, 0.3, 5, false);
    tx_data_w64_full_rate: ("tx_data_w64", 8, 47, 300, 0.0, 0.0, 0, false);
    tx_data_w512_full_rate: ("tx_data_w512", 64, 48, 300, 0.0, 0.0, 0, false);
}
