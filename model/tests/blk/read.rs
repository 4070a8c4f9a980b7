//! BLK_READ (docs/storage.md): the scatter-gather walk into host memory, a read queued behind a
//! write of the same block, and every completion status with what reaches host memory.

use super::*;

/// Several elements per block, a ZERO element (discarded), an element spanning two blocks, a
/// block read only to be discarded whole; host bytes outside the element ranges untouched.
fn blk_read(width: u32) {
    let mut r = Rig::new(&format!("blkrd{width}"), cfg(width), 16, 16);
    let img = bytes(7, DISK as usize);
    r.env.disk.write(0, &img).unwrap();
    let before = r.env.disk.stats().reads;
    let dst = r.alloc(32768);
    r.cpu_write(dst, &[0xEE; 32768]);
    let list = sg_list(
        &mut r,
        &[
            (dst + 5, 1000, false, 8 * 512),
            (dst + 2000, 96, true, 8 * 512 + 1000),
            (dst + 3001, 3000, false, 8 * 512 + 1096),
            (dst + 8193, 8192, false, 100 * 512),
            (0xDEAD_0000, 4096, true, 300 * 512),
        ],
    );
    r.submit(&blk_request(Opcode::BlkRead, 7, list, 5, 16384));
    let cs = r.wait_cpls(1);
    assert_eq!(
        (
            cs[0].kind,
            cs[0].status,
            cs[0].tag,
            cs[0].bytes,
            cs[0].opcode
        ),
        (
            CplKind::BlkDone,
            Status::Ok,
            7,
            16384,
            Opcode::BlkRead.code()
        )
    );
    let mut want = vec![0xEE; 32768];
    let d = |o: usize, n: usize| &img[o..o + n];
    want[5..1005].copy_from_slice(d(8 * 512, 1000));
    want[3001..6001].copy_from_slice(d(8 * 512 + 1096, 3000));
    want[8193..16385].copy_from_slice(d(100 * 512, 8192));
    assert!(r.cpu_read(dst, 32768) == want, "host memory after the read");
    assert_eq!(r.r(reg::CNT_BLK_READS), 4);
    assert_eq!(r.r(reg::CNT_BLK_RD_BYTES), 4 * 4096);
    assert_eq!(r.r(reg::CNT_BLK_WRITES), 0);
    assert_eq!(r.env.disk.stats().reads - before, 4);
    clean_end(&mut r, 5 * 32, 1000 + 3000 + 8192, 64);
}

width_tests!(blk_read: blk_read_w64 = 64, blk_read_w512 = 512);

/// Read-modify-write: a read queued behind a write of the same block sees the written data.
#[test]
fn blk_read_after_write_in_fifo_order() {
    let mut r = Rig::new("blkrmw", cfg(256), 16, 16);
    let src = r.alloc(4096);
    let dst = r.alloc(4096);
    let data = bytes(11, 4096);
    r.cpu_write(src, &data);
    let w = sg_list(&mut r, &[(src, 4096, false, 40 * 512)]);
    let rd = sg_list(
        &mut r,
        &[
            (dst, 2048, false, 40 * 512),
            (dst + 2048, 2048, false, 40 * 512 + 2048),
        ],
    );
    r.submit(&blk_request(Opcode::BlkRead, 1, rd, 2, 4096));
    r.submit(&blk_request(Opcode::BlkWrite, 2, w, 1, 4096));
    r.submit(&blk_request(Opcode::BlkRead, 3, rd, 2, 4096));
    let cs = r.wait_cpls(3);
    let got: Vec<_> = cs.iter().map(|c| (c.tag, c.status, c.opcode)).collect();
    assert_eq!(
        got,
        vec![
            (1, Status::Ok, Opcode::BlkRead.code()),
            (2, Status::Ok, Opcode::BlkWrite.code()),
            (3, Status::Ok, Opcode::BlkRead.code())
        ]
    );
    assert_eq!(r.cpu_read(dst, 4096), data);
    assert_eq!(r.r(reg::CNT_BLK_READS), 2);
    assert_eq!(r.r(reg::CNT_BLK_WRITES), 1);
}

/// Every status of a read, and what reaches host memory: a failed block delivers nothing; a
/// list error inside a block ends the request after that block's earlier elements.
#[test]
fn blk_read_error_statuses() {
    let mut r = Rig::new("blkrderr", cfg(128), 32, 32);
    let img = bytes(5, DISK as usize);
    r.env.disk.write(0, &img).unwrap();
    let unreg = r.env.mem.alloc(4096, 4096).unwrap();
    let dst = r.alloc(65536);
    r.cpu_write(dst, &[0xEE; 65536]);
    let last_blk = DISK - 4096;
    // (list, SG_MAX, BYTES, status, BYTES reported, host ranges written (dst offset, disk offset, len))
    type Case = (u64, u32, u32, Status, u32, Vec<(u64, u64, u64)>);
    let cases: Vec<Case> = vec![
        (
            sg_list(&mut r, &[(dst, 4096, false, 0)]),
            4,
            0,
            Status::BadSg,
            0,
            vec![],
        ),
        (
            sg_list(&mut r, &[(dst, 4096, false, 0)]),
            4,
            6000,
            Status::BadSg,
            0,
            vec![],
        ),
        (
            sg_list(&mut r, &[(dst, 4096, false, 100)]),
            4,
            4096,
            Status::BadSg,
            0,
            vec![],
        ),
        // mid-block discontiguity: the block's first element was already delivered
        (
            sg_list(
                &mut r,
                &[
                    (dst + 100, 4096, false, 0),
                    (dst + 5000, 1000, false, 64 * 512),
                    (dst + 7000, 3096, false, 64 * 512 + 1001),
                ],
            ),
            4,
            8192,
            Status::BadSg,
            4096,
            vec![(100, 0, 4096), (5000, 64 * 512, 1000)],
        ),
        // list ends inside the block
        (
            sg_list(&mut r, &[(dst + 12000, 1000, false, 16 * 512)]),
            4,
            4096,
            Status::BadSg,
            0,
            vec![(12000, 16 * 512, 1000)],
        ),
        // SG_MAX reached inside the block
        (
            sg_list(
                &mut r,
                &[
                    (dst + 14000, 2048, false, 24 * 512),
                    (dst + 17000, 2048, false, 24 * 512 + 2048),
                ],
            ),
            1,
            4096,
            Status::BadSg,
            0,
            vec![(14000, 24 * 512, 2048)],
        ),
        // list goes on past BYTES
        (
            sg_list(
                &mut r,
                &[(dst + 20000, 4096, false, 0), (dst, 4096, false, 4096)],
            ),
            4,
            4096,
            Status::BadSg,
            4096,
            vec![(20000, 0, 4096)],
        ),
        // element refused (the second one)
        (
            {
                let l = sg_list(
                    &mut r,
                    &[(dst + 25000, 4096, false, 512), (dst, 4096, false, 0)],
                );
                let mut first = SgElem::parse(&r.cpu_read(l, SgElem::SIZE)).unwrap();
                first.next = unreg;
                r.cpu_write(l, &first.to_bytes());
                l
            },
            4,
            8192,
            Status::DmaError,
            4096,
            vec![(25000, 512, 4096)],
        ),
        // the second block is beyond the disk: the first is delivered, nothing of the second
        (
            sg_list(&mut r, &[(dst + 30000, 8192, false, last_blk)]),
            4,
            8192,
            Status::DiskError,
            4096,
            vec![(30000, last_blk, 4096)],
        ),
        // a ZERO element at the start of a block still reads the block
        (
            sg_list(
                &mut r,
                &[
                    (0, 1000, true, 32 * 512),
                    (dst + 40000, 3096, false, 32 * 512 + 1000),
                ],
            ),
            2,
            4096,
            Status::Ok,
            4096,
            vec![(40000, 32 * 512 + 1000, 3096)],
        ),
    ];
    let n = cases.len();
    for (i, c) in cases.iter().enumerate() {
        r.submit(&blk_request(
            Opcode::BlkRead,
            1000 + i as u32,
            c.0,
            c.1,
            c.2,
        ));
    }
    let cs = r.wait_cpls(n);
    let mut want = vec![0xEE; 65536];
    for (i, (c, case)) in cs.iter().zip(&cases).enumerate() {
        assert_eq!(
            (c.tag, c.kind, c.status, c.bytes, c.opcode),
            (
                1000 + i as u32,
                CplKind::BlkDone,
                case.3,
                case.4,
                Opcode::BlkRead.code()
            ),
            "case {i}"
        );
        for &(off, disk_off, len) in &case.5 {
            let (o, d, l) = (off as usize, disk_off as usize, len as usize);
            want[o..o + l].copy_from_slice(&img[d..d + l]);
        }
    }
    assert!(r.cpu_read(dst, 65536) == want, "host memory");
    // block reads issued: cases 3 (2), 4, 5, 6, 7, 8 (2, the second fails), 9
    assert_eq!(r.r(reg::CNT_BLK_READS), 9);
    assert_eq!(r.r(reg::CNT_BLK_RD_BYTES), 9 * 4096);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), n as u32 - 1);
    assert_eq!(r.env.mem.stats().stray_accesses, 1);
    r.assert_all_free();
}
