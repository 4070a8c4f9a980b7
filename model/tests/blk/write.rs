//! BLK_WRITE (docs/storage.md): several elements per block, ZERO elements, an element spanning
//! blocks, and every completion status.

use super::*;

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
    r.submit(&blk_request(Opcode::BlkWrite, 1, pre, 1, 4096));
    r.submit(&blk_request(Opcode::BlkWrite, 2, main, 5, 16384));
    let cs = r.wait_cpls(2);
    assert_eq!(
        (cs[0].kind, cs[0].status, cs[0].tag, cs[0].bytes),
        (CplKind::BlkDone, Status::Ok, 1, 4096)
    );
    assert_eq!(
        (
            cs[1].kind,
            cs[1].status,
            cs[1].tag,
            cs[1].bytes,
            cs[1].opcode
        ),
        (
            CplKind::BlkDone,
            Status::Ok,
            2,
            16384,
            Opcode::BlkWrite.code()
        )
    );
    let mut want = d1[100..1100].to_vec();
    want.extend_from_slice(&[0; 96]);
    want.extend_from_slice(&d2[7..3007]);
    assert_eq!(r.disk(8 * 512, 4096), want);
    assert_eq!(r.disk(100 * 512, 8192), &d2[3007..3007 + 8192]);
    assert_eq!(r.disk(300 * 512, 4096), vec![0; 4096]);
    assert_eq!(r.r(reg::CNT_BLK_WRITES), 5);
    assert_eq!(r.r(reg::CNT_BLK_BYTES), 5 * 4096);
    assert_eq!(r.env.disk.stats().writes, 5);
    clean_end(&mut r, 4096 + 32 + 1000 + 3000 + 8192 + 5 * 32, 0, 2 * 64);
}

width_tests!(blk: blk_write_w64 = 64, blk_write_w512 = 512);

#[test]
fn blk_error_statuses() {
    let mut r = Rig::new("blkerr", cfg(128), 32, 32);
    let b = r.alloc(16384);
    r.cpu_write(b, &bytes(9, 16384));
    let unreg = r.env.mem.alloc(4096, 4096).unwrap();
    let ok1 = sg_list(&mut r, &[(b, 4096, false, 0)]);
    let cases: Vec<(u64, u32, u32, Status, u32)> = vec![
        // (sg address, SG_MAX, BYTES, status, bytes written)
        (ok1, 4, 0, Status::BadSg, 0),
        (ok1, 4, 100, Status::BadSg, 0),
        (
            sg_list(&mut r, &[(b, 0, false, 0)]),
            4,
            4096,
            Status::BadSg,
            0,
        ),
        (
            sg_list(&mut r, &[(b, 65537, false, 0)]),
            4,
            4096,
            Status::BadSg,
            0,
        ),
        (
            sg_list(&mut r, &[(b, 4096, false, 100)]),
            4,
            4096,
            Status::BadSg,
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
            Status::BadSg,
            4096,
        ),
        (
            sg_list(&mut r, &[(b, 1000, false, 0)]),
            4,
            4096,
            Status::BadSg,
            0,
        ),
        (
            sg_list(&mut r, &[(b, 2048, false, 0), (b, 2048, false, 2048)]),
            1,
            4096,
            Status::BadSg,
            0,
        ),
        (ok1, 4, 8192, Status::BadSg, 4096),
        (
            sg_list(&mut r, &[(b, 4096, false, 0), (b, 4096, false, 4096)]),
            4,
            4096,
            Status::BadSg,
            4096,
        ),
        (
            sg_list(&mut r, &[(unreg, 4096, false, 0)]),
            4,
            4096,
            Status::DmaError,
            0,
        ),
        (unreg, 4, 4096, Status::DmaError, 0),
        (
            sg_list(&mut r, &[(b, 8192, false, (2048 - 8) * 512)]),
            4,
            8192,
            Status::DiskError,
            4096,
        ),
        // Exactly SG_MAX elements is fine.
        (
            sg_list(&mut r, &[(b, 2048, false, 0), (b, 2048, true, 2048)]),
            2,
            4096,
            Status::Ok,
            4096,
        ),
    ];
    let n = cases.len();
    for (i, &(sg, max, bytes, _, _)) in cases.iter().enumerate() {
        r.submit(&blk_request(
            Opcode::BlkWrite,
            1000 + i as u32,
            sg,
            max,
            bytes,
        ));
    }
    let cs = r.wait_cpls(n);
    for (i, (c, &(_, _, _, st, written))) in cs.iter().zip(&cases).enumerate() {
        assert_eq!(
            (c.tag, c.kind, c.status, c.bytes),
            (1000 + i as u32, CplKind::BlkDone, st, written),
            "case {i}"
        );
    }
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), n as u32 - 1);
    assert_eq!(r.env.mem.stats().stray_accesses, 2);
    r.assert_all_free();
}

/// Parked completions (docs/storage.md): a write that ended with statuses owed parks its
/// completion and the engine starts the next command. With a device latency far above a
/// block's time, the second write's block is on the disk before the first write's completion
/// comes; the completions keep command order and each counts its own blocks.
fn parked(width: u32) {
    let mut c = cfg(width);
    c.disk_latency = 5000;
    let mut r = Rig::new(&format!("parked{width}"), c, 16, 16);
    let b = r.alloc(8192);
    let d = bytes(7, 8192);
    r.cpu_write(b, &d);
    let l1 = sg_list(&mut r, &[(b, 4096, false, 16 * 512)]);
    let l2 = sg_list(&mut r, &[(b + 4096, 4096, false, 24 * 512)]);
    r.submit(&blk_request(Opcode::BlkWrite, 1, l1, 1, 4096));
    r.submit(&blk_request(Opcode::BlkWrite, 2, l2, 1, 4096));
    let mut got = Vec::new();
    let mut writes_at_first = None;
    for _ in 0..20_000 {
        got.extend(r.cpls());
        if !got.is_empty() && writes_at_first.is_none() {
            writes_at_first = Some(r.env.disk.stats().writes);
        }
        if got.len() == 2 {
            break;
        }
        r.run(10);
    }
    assert_eq!(
        got.iter()
            .map(|c| (c.tag, c.status, c.bytes))
            .collect::<Vec<_>>(),
        vec![(1, Status::Ok, 4096), (2, Status::Ok, 4096)]
    );
    assert_eq!(
        writes_at_first,
        Some(2),
        "the second write's block went to the disk while the first waited for its status"
    );
    assert_eq!(r.disk(16 * 512, 4096), &d[..4096]);
    assert_eq!(r.disk(24 * 512, 4096), &d[4096..]);
}

width_tests!(parked: blk_parked_completion_w64 = 64, blk_parked_completion_w512 = 512);
