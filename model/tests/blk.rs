//! Block-controller DMA: scatter-gather walk, straddling and ZERO elements, every status.

mod common;

use buflet_spec::{blk_req, cpl_kind, op, put, reg, sg_elem, sg_flag, status};
use common::*;

/// One element: (source address, length, zero, disk byte address).
type El = (u64, u64, bool, u64);

/// Write a linked list of elements into registered host memory; returns its address.
fn sg_list(r: &mut Rig, els: &[El]) -> u64 {
    let base = r.alloc(32 * els.len() as u64);
    for (i, &(src, len, zero, disk)) in els.iter().enumerate() {
        let mut e = [0u8; sg_elem::SIZE];
        put(&mut e, sg_elem::SRC_ADDR, src);
        put(&mut e, sg_elem::LEN, len);
        put(&mut e, sg_elem::FLAGS, if zero { sg_flag::ZERO } else { 0 });
        put(&mut e, sg_elem::DISK_ADDR, disk);
        let next = if i + 1 < els.len() {
            base + 32 * (i as u64 + 1)
        } else {
            0
        };
        put(&mut e, sg_elem::NEXT, next);
        r.cpu_write(base + 32 * i as u64, &e);
    }
    base
}

fn blk_write(tag: u32, sg: u64, sg_max: u32, bytes: u32) -> [u8; 64] {
    let mut e = req(op::BLK_WRITE, tag);
    put(&mut e, blk_req::SG_ADDR, sg);
    put(&mut e, blk_req::SG_MAX, sg_max as u64);
    put(&mut e, blk_req::BYTES, bytes as u64);
    e
}

fn disk(r: &Rig, off: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    r.env.disk.read_bytes(off, &mut v).unwrap();
    v
}

fn blk(width: u32) {
    let mut r = Rig::new(&format!("blk{width}"), cfg(width), 16, 16);
    let b1 = r.alloc(8192);
    let b2 = r.alloc(12288);
    let d1 = bytes(1, 8192);
    let d2 = bytes(2, 12288);
    r.cpu_write(b1, &d1);
    r.cpu_write(b2, &d2);
    // Pre-fill the block at LBA 300 so that the ZERO element visibly overwrites it.
    let pre = sg_list(&mut r, &[(b1, 4096, false, 300 * 512)]);
    let main = sg_list(
        &mut r,
        &[
            (b1 + 100, 1000, false, 8 * 512),
            (0, 96, true, 8 * 512 + 1000),
            (b2 + 7, 3000, false, 8 * 512 + 1096),
            (b2 + 3007, 8192, false, 100 * 512),
            (0xDEAD_0000, 4096, true, 300 * 512),
        ],
    );
    r.submit(&blk_write(1, pre, 1, 4096));
    r.submit(&blk_write(2, main, 5, 16384));
    let cs = r.wait_cpls(2);
    assert_eq!(
        (cs[0].kind, cs[0].status, cs[0].tag, cs[0].bytes),
        (cpl_kind::BLK_DONE, status::OK, 1, 4096)
    );
    assert_eq!(
        (
            cs[1].kind,
            cs[1].status,
            cs[1].tag,
            cs[1].bytes,
            cs[1].opcode
        ),
        (cpl_kind::BLK_DONE, status::OK, 2, 16384, op::BLK_WRITE)
    );
    let mut want = d1[100..1100].to_vec();
    want.extend_from_slice(&[0; 96]);
    want.extend_from_slice(&d2[7..3007]);
    assert_eq!(disk(&r, 8 * 512, 4096), want);
    assert_eq!(disk(&r, 100 * 512, 8192), &d2[3007..3007 + 8192]);
    assert_eq!(disk(&r, 300 * 512, 4096), vec![0; 4096]);
    assert_eq!(r.r(reg::CNT_BLK_WRITES), 5);
    assert_eq!(r.r(reg::CNT_BLK_BYTES), 5 * 4096);
    assert_eq!(r.env.disk.stats().writes, 5);
    let s = r.env.mem.stats();
    assert_eq!(s.blk_read, 4096 + 32 + 1000 + 3000 + 8192 + 5 * 32);
    assert_eq!(s.blk_written, 0);
    assert_eq!(s.nic_read, 2 * 64);
    assert_eq!(s.stray_accesses, 0);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 0);
    r.assert_all_free();
}

#[test]
fn blk_write_w64() {
    blk(64);
}

#[test]
fn blk_write_w512() {
    blk(512);
}

#[test]
fn blk_error_statuses() {
    let mut r = Rig::new("blkerr", cfg(128), 32, 32);
    let b = r.alloc(16384);
    r.cpu_write(b, &bytes(9, 16384));
    let unreg = r.env.mem.alloc(4096, 4096).unwrap();
    let ok1 = sg_list(&mut r, &[(b, 4096, false, 0)]);
    let cases: Vec<(u64, u32, u32, u64, u64)> = vec![
        // (sg address, SG_MAX, BYTES, status, bytes written)
        (ok1, 4, 0, status::BAD_SG, 0),
        (ok1, 4, 100, status::BAD_SG, 0),
        (
            sg_list(&mut r, &[(b, 0, false, 0)]),
            4,
            4096,
            status::BAD_SG,
            0,
        ),
        (
            sg_list(&mut r, &[(b, 65537, false, 0)]),
            4,
            4096,
            status::BAD_SG,
            0,
        ),
        (
            sg_list(&mut r, &[(b, 4096, false, 100)]),
            4,
            4096,
            status::BAD_SG,
            0,
        ),
        (
            sg_list(
                &mut r,
                &[
                    (b, 4096, false, 0),
                    (b, 1000, false, 50 * 512),
                    (b, 3096, false, 50 * 512 + 1001),
                ],
            ),
            4,
            8192,
            status::BAD_SG,
            4096,
        ),
        (
            sg_list(&mut r, &[(b, 1000, false, 0)]),
            4,
            4096,
            status::BAD_SG,
            0,
        ),
        (
            sg_list(&mut r, &[(b, 2048, false, 0), (b, 2048, false, 2048)]),
            1,
            4096,
            status::BAD_SG,
            0,
        ),
        (ok1, 4, 8192, status::BAD_SG, 4096),
        (
            sg_list(&mut r, &[(b, 4096, false, 0), (b, 4096, false, 4096)]),
            4,
            4096,
            status::BAD_SG,
            4096,
        ),
        (
            sg_list(&mut r, &[(unreg, 4096, false, 0)]),
            4,
            4096,
            status::DMA_ERROR,
            0,
        ),
        (unreg, 4, 4096, status::DMA_ERROR, 0),
        (
            sg_list(&mut r, &[(b, 8192, false, (2048 - 8) * 512)]),
            4,
            8192,
            status::DISK_ERROR,
            4096,
        ),
        // Exactly SG_MAX elements is fine.
        (
            sg_list(&mut r, &[(b, 2048, false, 0), (b, 2048, true, 2048)]),
            2,
            4096,
            status::OK,
            4096,
        ),
    ];
    let n = cases.len();
    for (i, &(sg, max, bytes, _, _)) in cases.iter().enumerate() {
        r.submit(&blk_write(1000 + i as u32, sg, max, bytes));
    }
    let cs = r.wait_cpls(n);
    for (i, (c, &(_, _, _, st, written))) in cs.iter().zip(&cases).enumerate() {
        assert_eq!(
            (c.tag, c.kind, c.status, c.bytes),
            (1000 + i as u64, cpl_kind::BLK_DONE, st, written),
            "case {i}"
        );
    }
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), n as u32 - 1);
    assert_eq!(r.env.mem.stats().stray_accesses, 2);
    r.assert_all_free();
}
