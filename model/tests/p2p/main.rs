//! p2p writes (docs/p2p.md) through the device interface: hold sockets and their records
//! against an oracle computed from etherparse-built frames, FULL on record room, held chains and
//! OP_BUF_RELEASE, DEVMEM scatter-gather elements (byte-exact disk, no payload crossing host
//! memory, every BAD_SG rule) and the exposed bit cleared when a buflet is reallocated.
//!
//! The files, by responsibility:
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | the record oracle and the records read back, hold sockets and the streams sent to them, scatter-gather lists, BUF_RELEASE and block requests |
//! | `records.rs` | hold records against the oracle, DEVMEM writes built from them, FULL on record room, HOLD for TCP only |
//! | `release.rs` | held chains: the BUF_RELEASE rules, FIN segments with data and SOCK_DEL |
//! | `devmem.rs` | DEVMEM elements: every BAD_SG rule, the exposed bit cleared on reallocation |

#[path = "../common/mod.rs"]
mod common;

mod devmem;
mod records;
mod release;

use buflet_platform::Device;
use buflet_spec::{
    param, reg, BufRelease, CplFlags, CplKind, HoldRec, Opcode, RegionDesc, RegionPerm, SgFlags,
    SockDesc, SockFlags, Status,
};
use common::*;
use etherparse::{SlicedPacket, TransportSlice};
use sha2::{Digest, Sha256};

const NULL: u16 = param::NULL16 as u16;

const DEVMEM: SgFlags = SgFlags::DEVMEM;

const ZERO: SgFlags = SgFlags::ZERO;

const HOST: SgFlags = SgFlags::empty();

type Rec = HoldRec;

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
    let b = r.cpu_read(pages[pos / 4096] + (pos % 4096) as u64, HoldRec::SIZE);
    HoldRec::parse(&b).unwrap()
}

/// The records of a returned NB, read like the driver does: from record 0 until their LENs add
/// up to `bytes`.
fn records(r: &mut Rig, pages: &[u64], bytes: u32) -> Vec<Rec> {
    let mut v = vec![];
    let mut sum = 0u32;
    while sum < bytes {
        let rec = rec_at(r, pages, v.len());
        assert!(rec.len > 0, "record {} has LEN 0: {v:?}", v.len());
        sum += u32::from(rec.len);
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
    SockOpts::default().flags(SockFlags::HOLD)
}

/// Post NBs `(TOTAL_BYTES, HMD_PAGES)` to socket 0 as refs 0, 1, .. with tags `tag0 + ref`;
/// returns each one's pages.
fn post_nbs(r: &mut Rig, tag0: u32, nbs: &[(u64, u64)]) -> Vec<Vec<u64>> {
    let mut pages = vec![];
    for (i, &(total, np)) in nbs.iter().enumerate() {
        let (hmd, p) = r.nb_mem(4096 * np as u32);
        pages.push(p);
        r.submit(&nb_post(
            0,
            tag0 + i as u32,
            i as u32,
            total as u32,
            hmd,
            np as u32,
        ));
    }
    pages
}

/// Add a hold socket 0 and open it; returns the first data SEQ.
fn hold_socket(r: &mut Rig) -> u32 {
    r.submit(&sock_add_opts(0, 0xADD, &hold_opts()));
    let c = r.wait_cpls(1);
    assert_eq!((c[0].kind, c[0].status), (CplKind::CmdDone, Status::Ok));
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
        let f = frame(&Seg::at(seq).payload(payload.clone()));
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
type Elem = (u64, u32, SgFlags, u64);

/// Write `els` as a linked list into fresh registered host memory; returns its address.
fn sg(r: &mut Rig, els: &[Elem]) -> u64 {
    let base = r.alloc(32 * els.len().max(1) as u64);
    r.sg_write_flags(base, els);
    base
}

/// A BUF_RELEASE entry for `heads` with COUNT `count`.
fn release_req(tag: u32, count: u16, heads: &[u16]) -> [u8; 64] {
    assert!(heads.len() <= param::RELEASE_MAX as usize, "{heads:?}");
    BufRelease::new(tag, heads, count).to_bytes()
}

/// Submit a BUF_RELEASE and return its completion's (STATUS, BYTES), checking the rest.
fn release(r: &mut Rig, tag: u32, count: u16, heads: &[u16]) -> (Status, u32) {
    r.submit(&release_req(tag, count, heads));
    let c = r.wait_cpls(1);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        (c[0].kind, c[0].opcode, c[0].tag),
        (CplKind::CmdDone, Opcode::BufRelease.code(), tag)
    );
    (c[0].status, c[0].bytes)
}

/// Submit a block request and return its BLK_DONE (STATUS, BYTES).
fn blk(r: &mut Rig, opcode: Opcode, tag: u32, els: &[Elem], bytes: u32) -> (Status, u32) {
    let list = sg(r, els);
    r.submit(&blk_request(opcode, tag, list, els.len() as u32, bytes));
    let c = r.wait_cpls(1);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        (c[0].kind, c[0].opcode, c[0].tag),
        (CplKind::BlkDone, opcode.code(), tag)
    );
    (c[0].status, c[0].bytes)
}

/// A hold socket with `sizes` delivered into one big NB: (records, chain counts by segment).
fn delivered(r: &mut Rig, sizes: &[usize]) -> (Vec<Rec>, Vec<u32>) {
    let seq = hold_socket(r);
    let pages = r.post_nb(0, 0x300, 0, 65536);
    let Sent {
        seq,
        stream,
        chains,
        ..
    } = send_stream(r, seq, sizes, 77);
    r.send(Seg::at(seq).fin());
    r.settle();
    let c = r.wait_cpls(1);
    assert_eq!(
        (c[0].bytes, c[0].flags),
        (stream.len() as u32, CplFlags::FIN)
    );
    (records(r, &pages, c[0].bytes), chains)
}
