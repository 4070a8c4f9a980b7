//! DEVMEM scatter-gather elements (docs/p2p.md): every BAD_SG rule (with PROT_EN on, the region
//! table not consulted), and the exposed bit cleared when the pool hands a buflet out again.

use super::*;

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
    let cases: Vec<(&str, Opcode, Vec<Elem>, u32, u32)> = vec![
        (
            "not exposed",
            Opcode::BlkWrite,
            vec![
                (x(unexposed, 0), 2048, DEVMEM, 0),
                (x(b1, 0), 2048, DEVMEM, 2048),
            ],
            4096,
            0,
        ),
        (
            "out of range",
            Opcode::BlkWrite,
            vec![(n * bb, 16, DEVMEM, 0), (0, 4080, ZERO, 16)],
            4096,
            0,
        ),
        (
            "out of range, far",
            Opcode::BlkWrite,
            vec![(u64::MAX - 7, 4, DEVMEM, 0), (0, 4092, ZERO, 4)],
            4096,
            0,
        ),
        (
            "crossing a buflet",
            Opcode::BlkWrite,
            vec![(x(b1, 2000), 100, DEVMEM, 0), (0, 3996, ZERO, 100)],
            4096,
            0,
        ),
        (
            "crossing the last buflet",
            Opcode::BlkWrite,
            vec![(x(n - 1, 2047), 2, DEVMEM, 0), (0, 4094, ZERO, 2)],
            4096,
            0,
        ),
        (
            "with ZERO",
            Opcode::BlkWrite,
            vec![(x(b1, 0), 100, DEVMEM | ZERO, 0), (0, 3996, ZERO, 100)],
            4096,
            0,
        ),
        (
            "in a BLK_READ",
            Opcode::BlkRead,
            vec![good, (x(b1, 0), 2048, DEVMEM, 2048)],
            4096,
            0,
        ),
        (
            "second block",
            Opcode::BlkWrite,
            vec![
                good,
                (x(b1, 0), 2048, DEVMEM, 2048),
                (
                    x(b0, u64::from(recs[0].off)),
                    u32::from(recs[0].len),
                    DEVMEM,
                    8 * 512,
                ),
                (
                    x(unexposed, 0),
                    10,
                    DEVMEM,
                    8 * 512 + u64::from(recs[0].len),
                ),
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
        assert_eq!(got, (Status::BadSg, done), "{name}");
        let m1 = r.env.mem.stats();
        let d1 = r.env.disk.stats();
        assert_eq!(
            d1.writes - d0.writes,
            u64::from(done / 4096),
            "{name}: blocks written"
        );
        assert_eq!(d1.reads, d0.reads, "{name}: no block read");
        // Only elements were read (the list is fetched up to the bad element).
        assert_eq!((m1.blk_read - m0.blk_read) % 32, 0, "{name}");
        assert!(m1.blk_read - m0.blk_read <= 32 * els.len() as u64, "{name}");
        assert_eq!(m1.blk_written, m0.blk_written, "{name}");
        dev_bytes += done;
        assert_eq!(r.r(reg::CNT_BLK_DEV_BYTES), dev_bytes, "{name}");
    }

    // PROT_EN on; regions only for the rings and the element list: DEVMEM still works, and
    // a host element in the same request is still checked.
    let list = r.alloc(4096);
    let rd = RegionPerm::READ;
    for (slot, base, len, perm) in [
        (0u32, r.req_base, r.req_size as u64 * 64, rd),
        (1, r.cpl_base, r.cpl_size as u64 * 32, RegionPerm::WRITE),
        (2, list, 4096, rd),
    ] {
        let e = RegionDesc {
            opcode: Opcode::RegRegion,
            flags: perm,
            tag: 0x700 + slot,
            slot,
            base,
            len,
            ..Default::default()
        };
        r.submit(&e.to_bytes());
        let c = r.wait_cpls(1);
        assert_eq!(c[0].status, Status::Ok);
    }
    r.w(reg::CTRL, 3);
    let host = r.alloc(4096);
    let els: Vec<Elem> = vec![(x(b1, 0), 2048, DEVMEM, 0), (x(b1, 0), 2048, DEVMEM, 2048)];
    // Write the list into the registered page.
    let write_list = |r: &mut Rig, els: &[Elem]| r.sg_write_flags(list, els);
    write_list(&mut r, &els);
    r.submit(&blk_request(Opcode::BlkWrite, 0x800, list, 2, 4096));
    let c = r.wait_cpls(1);
    assert_eq!((c[0].status, c[0].bytes), (Status::Ok, 4096));
    assert_eq!(r.r(reg::CNT_PROT_FAULTS), 0);
    // The same list with a host element over an unregistered page: PROT_FAULT.
    write_list(
        &mut r,
        &[(x(b1, 0), 2048, DEVMEM, 0), (host, 2048, HOST, 2048)],
    );
    r.submit(&blk_request(Opcode::BlkWrite, 0x801, list, 2, 4096));
    let c = r.wait_cpls(1);
    assert_eq!((c[0].status, c[0].bytes), (Status::ProtFault, 0));
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
    let el =
        |disk: u64| -> Vec<Elem> { vec![(src, 300, DEVMEM, disk), (0, 3796, ZERO, disk + 300)] };
    assert_eq!(
        blk(&mut r, Opcode::BlkWrite, 1, &el(0), 4096),
        (Status::Ok, 4096)
    );
    // Released: still exposed (the bytes are unchanged until the buflet is reused).
    assert_eq!(release(&mut r, 2, 1, &[recs[0].head]), (Status::Ok, 1));
    assert_eq!(
        blk(&mut r, Opcode::BlkWrite, 3, &el(4096), 4096),
        (Status::Ok, 4096)
    );
    assert_eq!(r.disk(4096, 300), r.disk(0, 300));
    assert_eq!(r.disk(0, 300), bytes(77, 300));
    // A frame for no socket takes the buflet at the head of the free list (the one just
    // released) and is dropped: the buflet is no longer exposed.
    r.send(Seg::at(1).payload(vec![0xEE; 10]).dport(9));
    r.settle();
    assert_eq!(r.r(reg::CNT_DROP_NO_SOCKET), 1);
    assert_eq!(
        blk(&mut r, Opcode::BlkWrite, 4, &el(8192), 4096),
        (Status::BadSg, 0)
    );
    r.assert_all_free();
}
