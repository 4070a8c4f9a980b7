//! p2p writes (docs/p2p.md) through the device interface: hold sockets and their records
//! against an oracle computed from etherparse-built frames, FULL on record room, held chains and
//! OP_BUF_RELEASE, DEVMEM scatter-gather elements (byte-exact disk, no payload crossing host
//! memory, every BAD_SG rule) and the exposed bit cleared when a buflet is reallocated.

mod common;

use buflet_platform::Device;
use buflet_spec::{
    buf_release, cpl_flag, cpl_kind, get, hold_rec, op, param, put, reg, region_desc, region_perm,
    sg_elem, sg_flag, sock_flag, status,
};
use common::*;
use etherparse::{SlicedPacket, TransportSlice};
use sha2::{Digest, Sha256};

const NULL: u16 = param::NULL16 as u16;
const DEVMEM: u64 = sg_flag::DEVMEM;
const ZERO: u64 = sg_flag::ZERO;

/// A decoded `hold_rec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rec {
    buflet: u16,
    off: u16,
    len: u16,
    head: u16,
}

/// The oracle's view of one record: (OFF, LEN, the chunk empties its segment).
type Want = (u16, u16, bool);

/// Byte offset of the TCP payload in a frame, from etherparse.
fn pay_off(f: &[u8]) -> usize {
    let p = SlicedPacket::from_ethernet(f).expect("frame parses");
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    f.len() - t.payload().len()
}

/// The records docs/p2p.md prescribes for segments `(payload offset in the frame, payload
/// length)` delivered in stream order into NBs `(TOTAL_BYTES, HMD_PAGES)`, one list per NB.
fn oracle(bb: usize, segs: &[(usize, usize)], nbs: &[(u64, u64)]) -> Vec<Vec<Want>> {
    let mut out = vec![];
    let mut si = 0;
    let (mut off, mut left) = segs.first().copied().unwrap_or((0, 0));
    for &(total, pages) in nbs {
        let room = pages as usize * 4096 / 8;
        let mut v = vec![];
        let mut filled = 0usize;
        while si < segs.len() && filled < total as usize && v.len() < room {
            let n = left.min(total as usize - filled).min(bb - off % bb);
            left -= n;
            v.push(((off % bb) as u16, n as u16, left == 0));
            off += n;
            filled += n;
            if left == 0 {
                si += 1;
                if let Some(&s) = segs.get(si) {
                    (off, left) = s;
                }
            }
        }
        out.push(v);
    }
    out
}

/// Record `i` of an NB laid over `pages`: at `page[8i / 4096] + 8i mod 4096`.
fn rec_at(r: &mut Rig, pages: &[u64], i: usize) -> Rec {
    let pos = 8 * i;
    let b = r.cpu_read(pages[pos / 4096] + (pos % 4096) as u64, hold_rec::SIZE);
    Rec {
        buflet: get(&b, hold_rec::BUFLET) as u16,
        off: get(&b, hold_rec::OFF) as u16,
        len: get(&b, hold_rec::LEN) as u16,
        head: get(&b, hold_rec::HEAD) as u16,
    }
}

/// The records of a returned NB, read like the driver does: from record 0 until their LENs add
/// up to `bytes`.
fn records(r: &mut Rig, pages: &[u64], bytes: u64) -> Vec<Rec> {
    let mut v = vec![];
    let mut sum = 0u64;
    while sum < bytes {
        let rec = rec_at(r, pages, v.len());
        assert!(rec.len > 0, "record {} has LEN 0: {v:?}", v.len());
        sum += rec.len as u64;
        v.push(rec);
    }
    assert_eq!(sum, bytes, "records overshoot BYTES");
    v
}

/// Compare records with the oracle: OFF, LEN, HEAD set exactly on the chunk that empties a
/// segment, and HEAD equal to the BUFLET of the segment's first chunk (its payload starts in
/// the chain's first buflet). `first` carries the first BUFLET of a segment split across NBs.
fn check_records(got: &[Rec], want: &[Want], first: &mut Option<u16>) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (i, (g, &(off, len, last))) in got.iter().zip(want).enumerate() {
        assert_eq!((g.off, g.len), (off, len), "record {i}: {g:?}");
        let head = *first.get_or_insert(g.buflet);
        if last {
            assert_eq!(g.head, head, "record {i}: HEAD is the chain's first buflet");
            *first = None;
        } else {
            assert_eq!(g.head, NULL, "record {i}: HEAD only on the last chunk");
        }
    }
}

fn hold_opts() -> SockOpts {
    SockOpts {
        flags: sock_flag::HOLD as u8,
        ..SockOpts::default()
    }
}

/// Add a hold socket 0 and open it; returns the first data SEQ.
fn hold_socket(r: &mut Rig) -> u32 {
    r.submit(&sock_add_opts(0, 0xADD, &hold_opts()));
    let c = r.wait_cpls(1);
    assert_eq!((c[0].kind, c[0].status), (cpl_kind::CMD_DONE, status::OK));
    r.txs(); // ACKs of an earlier connection
    r.handshake(0x1000_0000)
}

/// What [`send_stream`] sent.
struct Sent {
    /// Segments as (payload offset in the frame, payload length).
    segs: Vec<(usize, usize)>,
    /// The SEQ after the last segment.
    seq: u32,
    /// The payload bytes in stream order.
    stream: Vec<u8>,
    /// Buflets of each frame.
    chains: Vec<u32>,
}

/// Send data segments with these payload sizes from `seq` (segment k carries
/// `bytes(seed + k, size)`).
fn send_stream(r: &mut Rig, mut seq: u32, sizes: &[usize], seed: u64) -> Sent {
    let bb = geometry(r).0;
    let mut segs = vec![];
    let mut all = vec![];
    let mut chains = vec![];
    for (k, &n) in sizes.iter().enumerate() {
        let payload = bytes(seed + k as u64, n);
        let f = frame(&Seg {
            seq,
            payload: payload.clone(),
            ..Seg::default()
        });
        segs.push((pay_off(&f), n));
        chains.push(f.len().div_ceil(bb) as u32);
        all.extend_from_slice(&payload);
        r.push(f);
        seq = seq.wrapping_add(n as u32);
        r.settle();
    }
    Sent {
        segs,
        seq,
        stream: all,
        chains,
    }
}

/// Buflet size and count of the rig's device.
fn geometry(r: &Rig) -> (usize, u32) {
    let c = r.dev.config();
    (c.buflet_bytes as usize, c.num_buflets)
}

/// One scatter-gather element with explicit FLAGS: (SRC_ADDR, LEN, FLAGS, DISK_ADDR).
type Elem = (u64, u64, u64, u64);

/// Write `els` as a linked list into fresh registered host memory; returns its address.
fn sg(r: &mut Rig, els: &[Elem]) -> u64 {
    let base = r.alloc(32 * els.len().max(1) as u64);
    r.sg_write_flags(base, els);
    base
}

/// DEVMEM elements for `recs` in stream order, from disk byte `disk`.
fn devmem_elems(bb: u64, recs: &[Rec], disk: u64) -> Vec<Elem> {
    let mut d = disk;
    recs.iter()
        .map(|x| {
            let e = (x.buflet as u64 * bb + x.off as u64, x.len as u64, DEVMEM, d);
            d += x.len as u64;
            e
        })
        .collect()
}

/// A BUF_RELEASE entry for `heads` with COUNT `count`.
fn release_req(tag: u32, count: u64, heads: &[u16]) -> [u8; 64] {
    let mut e = req(op::BUF_RELEASE, tag);
    put(&mut e, buf_release::COUNT, count);
    for (k, &h) in heads.iter().enumerate() {
        put(&mut e, (buf_release::HEADS.0 + 2 * k, 2), h as u64);
    }
    e
}

/// Submit a BUF_RELEASE and return its completion's (STATUS, BYTES), checking the rest.
fn release(r: &mut Rig, tag: u32, count: u64, heads: &[u16]) -> (u64, u64) {
    r.submit(&release_req(tag, count, heads));
    let c = r.wait_cpls(1);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        (c[0].kind, c[0].opcode, c[0].tag),
        (cpl_kind::CMD_DONE, op::BUF_RELEASE, tag as u64)
    );
    (c[0].status, c[0].bytes)
}

/// Submit a block request and return its BLK_DONE (STATUS, BYTES).
fn blk(r: &mut Rig, opcode: u64, tag: u32, els: &[Elem], bytes: u32) -> (u64, u64) {
    let list = sg(r, els);
    r.submit(&blk_request(opcode, tag, list, els.len() as u32, bytes));
    let c = r.wait_cpls(1);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        (c[0].kind, c[0].opcode, c[0].tag),
        (cpl_kind::BLK_DONE, opcode, tag as u64)
    );
    (c[0].status, c[0].bytes)
}

fn sha(b: &[u8]) -> Vec<u8> {
    Sha256::digest(b).to_vec()
}

/// The whole disk image.
fn disk_image(r: &Rig) -> Vec<u8> {
    let n = r.env.disk.sectors() as usize * 512;
    r.disk(0, n)
}

/// Records against the oracle over frames spanning several buflets and segments split across
/// NBs; the payload never crosses host memory, and DEVMEM elements built from the records put
/// it on disk byte-exact; then every chain is released.
fn records_and_devmem(width: u32) {
    let mut r = Rig::new(&format!("p2p-rec{width}"), cfg(width), 64, 64);
    let bb = geometry(&r).0;
    let n_buf = geometry(&r).1;
    let seq = hold_socket(&mut r);
    let nbs: Vec<(u64, u64)> = vec![(6000, 2), (6000, 2), (6000, 2)];
    let mut pages = vec![];
    for (i, &(total, np)) in nbs.iter().enumerate() {
        let (hmd, p) = r.nb_mem(4096 * np as u32);
        pages.push(p);
        r.submit(&nb_post(
            0,
            0x100 + i as u32,
            i as u32,
            total as u32,
            hmd,
            np as u32,
        ));
    }
    // 5000 spans three buflets, 2100 two (its payload starts at byte 54); 1448 is split
    // across NB 0 and NB 1, 640 across NB 1 and NB 2. 12288 bytes: three disk blocks.
    let sizes = [5000, 1448, 3000, 100, 2100, 640];
    let Sent {
        segs,
        seq,
        stream,
        chains,
    } = send_stream(&mut r, seq, &sizes, 40);
    assert_eq!(stream.len(), 12288);
    r.send(Seg {
        seq,
        fin: true,
        ..Seg::default()
    });
    r.settle();
    let cs = r.wait_cpls(3);
    assert_eq!(cs.len(), 3, "{cs:?}");
    let want = oracle(bb, &segs, &nbs);
    let mut first = None;
    let mut all = vec![];
    let mut off = 0;
    for (i, c) in cs.iter().enumerate() {
        let bytes: u64 = want[i].iter().map(|w| w.1 as u64).sum();
        let flags = if i < 2 { cpl_flag::FULL } else { cpl_flag::FIN };
        assert_eq!(
            (c.kind, c.status, c.ref_num, c.bytes, c.flags, c.stream_off),
            (cpl_kind::NB_RETURN, status::OK, i as u64, bytes, flags, off),
            "{c:?}"
        );
        off += bytes;
        let recs = records(&mut r, &pages[i], c.bytes);
        check_records(&recs, &want[i], &mut first);
        all.extend(recs);
    }
    assert_eq!(off, 12288);
    let nrecs = all.len() as u32;
    assert_eq!(nrecs, 12);
    assert_eq!(r.r(reg::CNT_HOLD_RECORDS), nrecs);
    assert_eq!(r.r(reg::CNT_DELIVERED_BYTES), 12288);
    // Every data segment's chain is held; the FIN marker was freed.
    let held: u32 = chains.iter().sum();
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n_buf - held);
    // Only metadata crossed host memory: records and completions written by the NIC.
    let s = r.env.mem.stats();
    let ncpl = r.r(reg::CNT_CPL_POSTED);
    assert_eq!(s.nic_written, 8 * nrecs as u64 + 32 * ncpl as u64);
    assert_eq!((s.blk_read, s.blk_written), (0, 0));

    // The records' extents written to disk by DEVMEM elements: byte-exact.
    let disk0 = 16 * 4096;
    let els = devmem_elems(bb as u64, &all, disk0);
    let before = r.env.mem.stats();
    assert_eq!(
        blk(&mut r, op::BLK_WRITE, 7, &els, 12288),
        (status::OK, 12288)
    );
    let after = r.env.mem.stats();
    assert_eq!(after.blk_read - before.blk_read, 32 * els.len() as u64);
    assert_eq!(after.blk_written, before.blk_written);
    assert_eq!(after.nic_written - before.nic_written, 32);
    assert_eq!(after.cpu_copied, 0);
    assert_eq!(r.r(reg::CNT_BLK_DEV_BYTES), 12288);
    assert_eq!(r.r(reg::CNT_BLK_WRITES), 3);
    let mut image = vec![0u8; r.env.disk.sectors() as usize * 512];
    image[disk0 as usize..disk0 as usize + 12288].copy_from_slice(&stream);
    assert_eq!(sha(&disk_image(&r)), sha(&image), "disk sha256");

    // Release every chain, in batches of RELEASE_MAX.
    let heads: Vec<u16> = all
        .iter()
        .filter(|x| x.head != NULL)
        .map(|x| x.head)
        .collect();
    assert_eq!(heads.len(), sizes.len());
    for (k, b) in heads.chunks(param::RELEASE_MAX as usize).enumerate() {
        assert_eq!(
            release(&mut r, 0x5E1 + k as u32, b.len() as u64, b),
            (status::OK, b.len() as u64)
        );
    }
    assert_eq!(r.r(reg::CNT_BUF_RELEASED), heads.len() as u32);
    r.assert_all_free();
    r.delete(0);
    r.assert_all_free();
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 0);
    assert_eq!(r.env.mem.stats().stray_accesses, 0);
}

#[test]
fn records_and_devmem_w64() {
    records_and_devmem(64);
}

#[test]
fn records_and_devmem_w512() {
    records_and_devmem(512);
}

/// An NB is returned FULL when it has no room for another record (RECS == HMD_PAGES * 512),
/// with records past the first page at page[1]; the rest goes on in the next NB.
#[test]
fn full_on_record_room() {
    let mut c = cfg(128);
    c.num_buflets = 2048;
    let mut r = Rig::new("p2p-room", c, 64, 64);
    let bb = geometry(&r).0;
    let seq = hold_socket(&mut r);
    let nbs: Vec<(u64, u64)> = vec![(8192, 2), (4096, 1)];
    let mut pages = vec![];
    for (i, &(total, np)) in nbs.iter().enumerate() {
        let (hmd, p) = r.nb_mem(4096 * np as u32);
        pages.push(p);
        r.submit(&nb_post(
            0,
            0x200 + i as u32,
            i as u32,
            total as u32,
            hmd,
            np as u32,
        ));
    }
    let sizes = vec![1usize; 1100];
    let Sent {
        segs, seq, stream, ..
    } = send_stream(&mut r, seq, &sizes, 900);
    r.send(Seg {
        seq,
        fin: true,
        ..Seg::default()
    });
    r.settle();
    let cs = r.wait_cpls(2);
    assert_eq!(cs.len(), 2, "{cs:?}");
    assert_eq!(
        (cs[0].ref_num, cs[0].bytes, cs[0].flags, cs[0].stream_off),
        (0, 1024, cpl_flag::FULL, 0)
    );
    assert_eq!(
        (cs[1].ref_num, cs[1].bytes, cs[1].flags, cs[1].stream_off),
        (1, 76, cpl_flag::FIN, 1024)
    );
    let want = oracle(bb, &segs, &nbs);
    assert_eq!((want[0].len(), want[1].len()), (1024, 76));
    let mut first = None;
    let mut all = vec![];
    for i in 0..2 {
        let recs = records(&mut r, &pages[i], cs[i].bytes);
        check_records(&recs, &want[i], &mut first);
        all.extend(recs);
    }
    // Record 512 is the first of the NB's second page.
    assert_eq!(rec_at(&mut r, &pages[0], 512), all[512]);
    assert_eq!(r.cpu_read(pages[0][1], 8), {
        let mut b = vec![0u8; 8];
        put(&mut b, hold_rec::BUFLET, all[512].buflet as u64);
        put(&mut b, hold_rec::OFF, all[512].off as u64);
        put(&mut b, hold_rec::LEN, 1);
        put(&mut b, hold_rec::HEAD, all[512].buflet as u64);
        b
    });
    assert_eq!(r.r(reg::CNT_HOLD_RECORDS), 1100);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 2048 - 1100);
    // The first 1024 bytes through 1024 DEVMEM elements, the block's rest zeros.
    let mut els = devmem_elems(bb as u64, &all[..1024], 0);
    els.push((0, 3072, ZERO, 1024));
    assert_eq!(
        blk(&mut r, op::BLK_WRITE, 9, &els, 4096),
        (status::OK, 4096)
    );
    let mut want_blk = stream[..1024].to_vec();
    want_blk.resize(4096, 0);
    assert_eq!(sha(&r.disk(0, 4096)), sha(&want_blk));
    assert_eq!(r.r(reg::CNT_BLK_DEV_BYTES), 1024);
    let heads: Vec<u16> = all.iter().map(|x| x.head).collect();
    for (k, b) in heads.chunks(24).enumerate() {
        assert_eq!(
            release(&mut r, k as u32, b.len() as u64, b),
            (status::OK, b.len() as u64)
        );
    }
    r.assert_all_free();
}

/// HOLD is for TCP sockets only.
#[test]
fn hold_needs_tcp() {
    let mut r = Rig::new("p2p-udp", cfg(64), 16, 16);
    let mut e = udp_sock_add(1, 0x11, 0);
    put(&mut e, buflet_spec::sock_desc::FLAGS, sock_flag::HOLD);
    r.submit(&e);
    let mut e = udp_sock_add(2, 0x12, 0);
    put(&mut e, buflet_spec::sock_desc::FLAGS, sock_flag::HOLD | 1);
    r.submit(&e);
    r.submit(&sock_add_opts(3, 0x13, &hold_opts()));
    r.submit(&udp_sock_add(4, 0x14, 0));
    let cs = r.wait_cpls(4);
    let got: Vec<(u64, u64)> = cs.iter().map(|c| (c.tag, c.status)).collect();
    assert_eq!(
        got,
        vec![
            (0x11, status::BAD_SOCK),
            (0x12, status::BAD_SOCK),
            (0x13, status::OK),
            (0x14, status::OK)
        ]
    );
}

/// A hold socket with `sizes` delivered into one big NB: (records, chain counts by segment).
fn delivered(r: &mut Rig, sizes: &[usize]) -> (Vec<Rec>, Vec<u32>) {
    let seq = hold_socket(r);
    let (hmd, pages) = r.nb_mem(65536);
    r.submit(&nb_post(0, 0x300, 0, 65536, hmd, 16));
    let Sent {
        seq,
        stream,
        chains,
        ..
    } = send_stream(r, seq, sizes, 77);
    r.send(Seg {
        seq,
        fin: true,
        ..Seg::default()
    });
    r.settle();
    let c = r.wait_cpls(1);
    assert_eq!(
        (c[0].bytes, c[0].flags),
        (stream.len() as u64, cpl_flag::FIN)
    );
    (records(r, &pages, c[0].bytes), chains)
}

/// BUF_RELEASE: COUNT range, heads in order, the first head not held stops the request.
#[test]
fn buf_release_rules() {
    let mut r = Rig::new("p2p-rel", cfg(64), 32, 32);
    let n = geometry(&r).1;
    let (recs, chains) = delivered(&mut r, &[100, 5000, 200, 3000, 300]);
    let heads: Vec<u16> = recs
        .iter()
        .filter(|x| x.head != NULL)
        .map(|x| x.head)
        .collect();
    assert_eq!(heads.len(), 5);
    assert_eq!(chains, vec![1, 3, 1, 2, 1]);
    let mut free = n - 8;
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), free);
    // A buflet of a held chain that is not its head.
    let inner = recs
        .iter()
        .find(|x| x.head == NULL && x.off == 0)
        .map(|x| x.buflet)
        .unwrap();
    assert!(!heads.contains(&inner));
    // COUNT out of range: nothing released.
    assert_eq!(release(&mut r, 1, 0, &heads), (status::BAD_BUF, 0));
    assert_eq!(release(&mut r, 2, 25, &heads), (status::BAD_BUF, 0));
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), free);
    // Stops at the first head that is not held.
    assert_eq!(
        release(&mut r, 3, 4, &[heads[0], heads[1], 0x1234, heads[2]]),
        (status::BAD_BUF, 2)
    );
    free += 4;
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), free);
    assert_eq!(r.r(reg::CNT_BUF_RELEASED), 2);
    for (tag, h) in [(4, heads[0]), (5, inner), (6, n as u16), (7, NULL)] {
        assert_eq!(release(&mut r, tag, 1, &[h]), (status::BAD_BUF, 0), "{h}");
    }
    assert_eq!(
        release(&mut r, 8, 2, &[heads[3], heads[1]]),
        (status::BAD_BUF, 1)
    );
    free += 2;
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), free);
    assert_eq!(
        release(&mut r, 9, 2, &[heads[4], heads[2]]),
        (status::OK, 2)
    );
    assert_eq!(r.r(reg::CNT_BUF_RELEASED), 5);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 8);
    r.assert_all_free();
    // COUNT = RELEASE_MAX is in range (and stops at the first head not held).
    assert_eq!(release(&mut r, 10, 24, &[0; 24]), (status::BAD_BUF, 0));
}

/// Post an NB of `total` bytes over one page as ref `rn`; returns its pages.
fn post_one(r: &mut Rig, rn: u32, total: u32) -> Vec<u64> {
    let (hmd, pages) = r.nb_mem(4096);
    r.submit(&nb_post(0, 0x400 + rn, rn, total, hmd, 1));
    pages
}

/// Send one data segment; returns (payload offset, buflets of its frame).
fn send_one(r: &mut Rig, seq: u32, len: usize, fin: bool, seed: u64) -> (usize, u32) {
    let f = frame(&Seg {
        seq,
        fin,
        payload: bytes(seed, len),
        ..Seg::default()
    });
    let out = (pay_off(&f), f.len().div_ceil(2048) as u32);
    r.push(f);
    r.settle();
    out
}

/// A FIN segment with data is held by its last record and its marker (returned on the next NB,
/// or still on the list at SOCK_DEL) does not free it; SOCK_DEL frees a partly delivered head
/// segment but never a held chain.
#[test]
fn fin_with_data_and_sock_del() {
    let mut r = Rig::new("p2p-del", cfg(64), 32, 32);
    let n = geometry(&r).1;
    let mut heads = vec![];

    // 1. 2500 bytes with FIN fill the NB exactly (chunks 1994 and 506); the FIN marker
    //    returns the next NB empty and leaves the held chain alone.
    let seq = hold_socket(&mut r);
    let pages = post_one(&mut r, 0, 2500);
    let (po, nb) = send_one(&mut r, seq, 2500, true, 5);
    let c = r.wait_cpls(1);
    assert_eq!((c[0].bytes, c[0].flags), (2500, cpl_flag::FULL));
    let recs = records(&mut r, &pages, 2500);
    check_records(
        &recs,
        &oracle(2048, &[(po, 2500)], &[(2500, 1)])[0],
        &mut None,
    );
    assert_eq!(nb, 2);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n - 2);
    post_one(&mut r, 1, 4096);
    let c = r.wait_cpls(1);
    assert_eq!(
        (c[0].ref_num, c[0].bytes, c[0].flags, c[0].stream_off),
        (1, 0, cpl_flag::FIN, 2500)
    );
    assert_eq!(
        r.r(reg::CNT_FREE_BUFLETS),
        n - 2,
        "the FIN marker's chain is held"
    );
    heads.push(recs[1].head);
    r.delete(0);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n - 2);

    // 2. A whole segment (held) and a partly delivered one (freed by SOCK_DEL).
    let seq = hold_socket(&mut r);
    let pages = post_one(&mut r, 2, 2000);
    let (_, a) = send_one(&mut r, seq, 1500, false, 6);
    let (_, b) = send_one(&mut r, seq.wrapping_add(1500), 4000, false, 7);
    assert_eq!((a, b), (1, 2));
    let c = r.wait_cpls(1);
    assert_eq!((c[0].bytes, c[0].flags), (2000, cpl_flag::FULL));
    let recs = records(&mut r, &pages, 2000);
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[0].head, recs[1].head), (recs[0].buflet, NULL));
    heads.push(recs[0].head);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n - 5);
    r.delete(0);
    assert_eq!(
        r.r(reg::CNT_FREE_BUFLETS),
        n - 3,
        "the partly delivered segment is freed"
    );

    // 3. 1000 bytes with FIN fill the NB; the FIN marker is still on the list at SOCK_DEL.
    let seq = hold_socket(&mut r);
    let pages = post_one(&mut r, 3, 1000);
    send_one(&mut r, seq, 1000, true, 8);
    let c = r.wait_cpls(1);
    assert_eq!((c[0].bytes, c[0].flags), (1000, cpl_flag::FULL));
    let recs = records(&mut r, &pages, 1000);
    assert_eq!(recs[0].head, recs[0].buflet);
    heads.push(recs[0].head);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n - 4);
    r.delete(0);
    assert_eq!(
        r.r(reg::CNT_FREE_BUFLETS),
        n - 4,
        "held chains survive SOCK_DEL"
    );

    assert_eq!(release(&mut r, 1, 3, &heads), (status::OK, 3));
    r.assert_all_free();

    // 4. Released while its FIN marker is still listed: counted released at once, freed once
    //    when the marker leaves the list (its FIN step), never twice.
    let seq = hold_socket(&mut r);
    let pages = post_one(&mut r, 4, 1000);
    send_one(&mut r, seq, 1000, true, 9);
    let c = r.wait_cpls(1);
    assert_eq!((c[0].bytes, c[0].flags), (1000, cpl_flag::FULL));
    let recs = records(&mut r, &pages, 1000);
    let h = recs[0].head;
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n - 1);
    assert_eq!(release(&mut r, 2, 1, &[h]), (status::OK, 1));
    assert_eq!(
        r.r(reg::CNT_FREE_BUFLETS),
        n - 1,
        "the marker still uses the chain"
    );
    assert_eq!(release(&mut r, 3, 1, &[h]), (status::BAD_BUF, 0));
    post_one(&mut r, 5, 4096);
    let c = r.wait_cpls(1);
    assert_eq!((c[0].bytes, c[0].flags), (0, cpl_flag::FIN));
    r.assert_all_free();
    r.delete(0);
    r.assert_all_free();
}

/// Every DEVMEM BAD_SG rule: not exposed, out of range, crossing a buflet, with ZERO, in a
/// BLK_READ; the request ends with the blocks before; the bad block is never written and no
/// host memory but the elements is read. With PROT_EN on and no region covering anything a
/// DEVMEM element names, the element still works (the table is not consulted).
#[test]
fn devmem_rules() {
    let mut r = Rig::new("p2p-sg", cfg(64), 32, 32);
    let n = geometry(&r).1 as u64;
    let bb = geometry(&r).0 as u64;
    let (recs, _) = delivered(&mut r, &[5000]);
    assert_eq!(recs.len(), 3);
    let [b0, b1, b2] = [recs[0].buflet, recs[1].buflet, recs[2].buflet].map(|b| b as u64);
    let unexposed = (0..n)
        .find(|&b| ![b0, b1, b2].contains(&b))
        .expect("a buflet never named by a record");
    let x = |b: u64, off: u64| b * bb + off;
    let good = (x(b1, 0), 2048, DEVMEM, 0u64);
    let cases: Vec<(&str, u64, Vec<Elem>, u32, u64)> = vec![
        (
            "not exposed",
            op::BLK_WRITE,
            vec![
                (x(unexposed, 0), 2048, DEVMEM, 0),
                (x(b1, 0), 2048, DEVMEM, 2048),
            ],
            4096,
            0,
        ),
        (
            "out of range",
            op::BLK_WRITE,
            vec![(n * bb, 16, DEVMEM, 0), (0, 4080, ZERO, 16)],
            4096,
            0,
        ),
        (
            "out of range, far",
            op::BLK_WRITE,
            vec![(u64::MAX - 7, 4, DEVMEM, 0), (0, 4092, ZERO, 4)],
            4096,
            0,
        ),
        (
            "crossing a buflet",
            op::BLK_WRITE,
            vec![(x(b1, 2000), 100, DEVMEM, 0), (0, 3996, ZERO, 100)],
            4096,
            0,
        ),
        (
            "crossing the last buflet",
            op::BLK_WRITE,
            vec![(x(n - 1, 2047), 2, DEVMEM, 0), (0, 4094, ZERO, 2)],
            4096,
            0,
        ),
        (
            "with ZERO",
            op::BLK_WRITE,
            vec![(x(b1, 0), 100, DEVMEM | ZERO, 0), (0, 3996, ZERO, 100)],
            4096,
            0,
        ),
        (
            "in a BLK_READ",
            op::BLK_READ,
            vec![good, (x(b1, 0), 2048, DEVMEM, 2048)],
            4096,
            0,
        ),
        (
            "second block",
            op::BLK_WRITE,
            vec![
                good,
                (x(b1, 0), 2048, DEVMEM, 2048),
                (
                    x(b0, recs[0].off as u64),
                    recs[0].len as u64,
                    DEVMEM,
                    8 * 512,
                ),
                (x(unexposed, 0), 10, DEVMEM, 8 * 512 + recs[0].len as u64),
            ],
            8192,
            4096,
        ),
    ];
    let mut dev_bytes = 0;
    for (i, (name, opc, els, bytes, done)) in cases.into_iter().enumerate() {
        let m0 = r.env.mem.stats();
        let d0 = r.env.disk.stats();
        let got = blk(&mut r, opc, 0x600 + i as u32, &els, bytes);
        assert_eq!(got, (status::BAD_SG, done), "{name}");
        let m1 = r.env.mem.stats();
        let d1 = r.env.disk.stats();
        assert_eq!(d1.writes - d0.writes, done / 4096, "{name}: blocks written");
        assert_eq!(d1.reads, d0.reads, "{name}: no block read");
        // Only elements were read (the list is fetched up to the bad element).
        assert_eq!((m1.blk_read - m0.blk_read) % 32, 0, "{name}");
        assert!(m1.blk_read - m0.blk_read <= 32 * els.len() as u64, "{name}");
        assert_eq!(m1.blk_written, m0.blk_written, "{name}");
        dev_bytes += done;
        assert_eq!(r.r(reg::CNT_BLK_DEV_BYTES) as u64, dev_bytes, "{name}");
    }

    // PROT_EN on; regions only for the rings and the element list: DEVMEM still works, and
    // a host element in the same request is still checked.
    let list = r.alloc(4096);
    let rd = region_perm::READ;
    for (slot, base, len, perm) in [
        (0u32, r.req_base, r.req_size as u64 * 64, rd),
        (1, r.cpl_base, r.cpl_size as u64 * 32, region_perm::WRITE),
        (2, list, 4096, rd),
    ] {
        let mut e = req(op::REG_REGION, 0x700 + slot);
        put(&mut e, region_desc::FLAGS, perm);
        put(&mut e, region_desc::SLOT, slot as u64);
        put(&mut e, region_desc::BASE, base);
        put(&mut e, region_desc::LEN, len);
        r.submit(&e);
        let c = r.wait_cpls(1);
        assert_eq!(c[0].status, status::OK);
    }
    r.w(reg::CTRL, 3);
    let host = r.alloc(4096);
    let els: Vec<Elem> = vec![(x(b1, 0), 2048, DEVMEM, 0), (x(b1, 0), 2048, DEVMEM, 2048)];
    // Write the list into the registered page by hand.
    let write_list = |r: &mut Rig, els: &[Elem]| {
        for (i, &(src, len, flags, disk)) in els.iter().enumerate() {
            let mut e = [0u8; 32];
            put(&mut e, sg_elem::SRC_ADDR, src);
            put(&mut e, sg_elem::LEN, len);
            put(&mut e, sg_elem::FLAGS, flags);
            put(&mut e, sg_elem::DISK_ADDR, disk);
            let next = if i + 1 < els.len() {
                list + 32 * (i as u64 + 1)
            } else {
                0
            };
            put(&mut e, sg_elem::NEXT, next);
            r.cpu_write(list + 32 * i as u64, &e);
        }
    };
    write_list(&mut r, &els);
    r.submit(&blk_request(op::BLK_WRITE, 0x800, list, 2, 4096));
    let c = r.wait_cpls(1);
    assert_eq!((c[0].status, c[0].bytes), (status::OK, 4096));
    assert_eq!(r.r(reg::CNT_PROT_FAULTS), 0);
    // The same list with a host element over an unregistered page: PROT_FAULT.
    write_list(
        &mut r,
        &[(x(b1, 0), 2048, DEVMEM, 0), (host, 2048, 0, 2048)],
    );
    r.submit(&blk_request(op::BLK_WRITE, 0x801, list, 2, 4096));
    let c = r.wait_cpls(1);
    assert_eq!((c[0].status, c[0].bytes), (status::PROT_FAULT, 0));
    assert_eq!(r.r(reg::CNT_PROT_FAULTS), 1);
    let want: Vec<u8> = {
        let mut v = vec![0u8; 4096];
        let b1_bytes = {
            // b1 holds payload bytes 1994..4042 of the 5000-byte segment.
            bytes(77, 5000)[1994..4042].to_vec()
        };
        v[..2048].copy_from_slice(&b1_bytes);
        v[2048..].copy_from_slice(&b1_bytes);
        v
    };
    assert_eq!(r.disk(0, 4096), want);
}

/// The exposed bit is cleared when the pool hands the buflet out for a new frame: a DEVMEM
/// element on a released and reallocated buflet is BAD_SG; before reallocation it still reads.
#[test]
fn exposed_cleared_on_reallocation() {
    let mut r = Rig::new("p2p-exp", cfg(64), 32, 32);
    let (recs, _) = delivered(&mut r, &[300]);
    assert_eq!(recs.len(), 1);
    let b = recs[0].buflet as u64;
    let src = b * 2048 + recs[0].off as u64;
    let el = |disk| vec![(src, 300u64, DEVMEM, disk), (0, 3796, ZERO, disk + 300)];
    assert_eq!(
        blk(&mut r, op::BLK_WRITE, 1, &el(0), 4096),
        (status::OK, 4096)
    );
    // Released: still exposed (the bytes are unchanged until the buflet is reused).
    assert_eq!(release(&mut r, 2, 1, &[recs[0].head]), (status::OK, 1));
    assert_eq!(
        blk(&mut r, op::BLK_WRITE, 3, &el(4096), 4096),
        (status::OK, 4096)
    );
    assert_eq!(r.disk(4096, 300), r.disk(0, 300));
    assert_eq!(r.disk(0, 300), bytes(77, 300));
    // A frame for no socket takes the buflet at the head of the free list (the one just
    // released) and is dropped: the buflet is no longer exposed.
    r.send(Seg {
        seq: 1,
        payload: vec![0xEE; 10],
        dport: Some(9),
        ..Seg::default()
    });
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 1);
    assert_eq!(
        blk(&mut r, op::BLK_WRITE, 4, &el(8192), 4096),
        (status::BAD_SG, 0)
    );
    r.assert_all_free();
}
