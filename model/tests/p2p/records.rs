//! Hold records (docs/p2p.md): the records of a hold socket against the oracle over frames
//! spanning several buflets and segments split across NBs, DEVMEM block writes built from them
//! (byte-exact disk), the FULL return on record room, and HOLD refused on a UDP socket.

use super::*;

/// DEVMEM elements for `recs` in stream order, from disk byte `disk`.
fn devmem_elems(bb: u64, recs: &[Rec], disk: u64) -> Vec<Elem> {
    let mut d = disk;
    recs.iter()
        .map(|x| {
            let e = (x.dev_addr(bb as u32), u32::from(x.len), DEVMEM, d);
            d += u64::from(x.len);
            e
        })
        .collect()
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
    let pages = post_nbs(&mut r, 0x100, &nbs);
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
    r.send(Seg::at(seq).fin());
    r.settle();
    let cs = r.wait_cpls(3);
    assert_eq!(cs.len(), 3, "{cs:?}");
    let want = oracle(bb, &segs, &nbs);
    let mut first = None;
    let mut all = vec![];
    let mut off = 0;
    for (i, c) in cs.iter().enumerate() {
        let bytes: u32 = want[i].iter().map(|w| u32::from(w.1)).sum();
        let flags = if i < 2 { CplFlags::FULL } else { CplFlags::FIN };
        assert_eq!(
            (c.kind, c.status, c.ref_num, c.bytes, c.flags, c.stream_off),
            (CplKind::NbReturn, Status::Ok, i as u32, bytes, flags, off),
            "{c:?}"
        );
        off += u64::from(bytes);
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
        blk(&mut r, Opcode::BlkWrite, 7, &els, 12288),
        (Status::Ok, 12288)
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
            release(&mut r, 0x5E1 + k as u32, b.len() as u16, b),
            (Status::Ok, b.len() as u32)
        );
    }
    assert_eq!(r.r(reg::CNT_BUF_RELEASED), heads.len() as u32);
    r.assert_all_free();
    r.finish(0);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 0);
    assert_eq!(r.env.mem.stats().stray_accesses, 0);
}

width_tests!(records_and_devmem: records_and_devmem_w64 = 64, records_and_devmem_w512 = 512);

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
    let pages = post_nbs(&mut r, 0x200, &nbs);
    let sizes = vec![1usize; 1100];
    let Sent {
        segs, seq, stream, ..
    } = send_stream(&mut r, seq, &sizes, 900);
    r.send(Seg::at(seq).fin());
    r.settle();
    let cs = r.wait_cpls(2);
    assert_eq!(cs.len(), 2, "{cs:?}");
    assert_eq!(
        (cs[0].ref_num, cs[0].bytes, cs[0].flags, cs[0].stream_off),
        (0, 1024, CplFlags::FULL, 0)
    );
    assert_eq!(
        (cs[1].ref_num, cs[1].bytes, cs[1].flags, cs[1].stream_off),
        (1, 76, CplFlags::FIN, 1024)
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
    assert_eq!(
        r.cpu_read(pages[0][1], 8),
        HoldRec {
            buflet: all[512].buflet,
            off: all[512].off,
            len: 1,
            head: all[512].buflet,
        }
        .to_bytes()
    );
    assert_eq!(r.r(reg::CNT_HOLD_RECORDS), 1100);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), 2048 - 1100);
    // The first 1024 bytes through 1024 DEVMEM elements, the block's rest zeros.
    let mut els = devmem_elems(bb as u64, &all[..1024], 0);
    els.push((0, 3072, ZERO, 1024));
    assert_eq!(
        blk(&mut r, Opcode::BlkWrite, 9, &els, 4096),
        (Status::Ok, 4096)
    );
    let mut want_blk = stream[..1024].to_vec();
    want_blk.resize(4096, 0);
    assert_eq!(sha(&r.disk(0, 4096)), sha(&want_blk));
    assert_eq!(r.r(reg::CNT_BLK_DEV_BYTES), 1024);
    let heads: Vec<u16> = all.iter().map(|x| x.head).collect();
    for (k, b) in heads.chunks(24).enumerate() {
        assert_eq!(
            release(&mut r, k as u32, b.len() as u16, b),
            (Status::Ok, b.len() as u32)
        );
    }
    r.assert_all_free();
}

/// HOLD is for TCP sockets only.
#[test]
fn hold_needs_tcp() {
    let mut r = Rig::new("p2p-udp", cfg(64), 16, 16);
    let udp = |sref, tag, flags| SockDesc {
        proto: buflet_spec::IpProto::Udp.code(),
        flags,
        ..sock_desc(sref, tag, 0)
    };
    r.submit(&udp(1, 0x11, SockFlags::HOLD).to_bytes());
    r.submit(&udp(2, 0x12, SockFlags::HOLD | SockFlags::PSH_RETURN).to_bytes());
    r.submit(&sock_add_opts(3, 0x13, &hold_opts()));
    r.submit(&udp_sock_add(4, 0x14, 0));
    let cs = r.wait_cpls(4);
    let got: Vec<(u32, Status)> = cs.iter().map(|c| (c.tag, c.status)).collect();
    assert_eq!(
        got,
        vec![
            (0x11, Status::BadSock),
            (0x12, Status::BadSock),
            (0x13, Status::Ok),
            (0x14, Status::Ok)
        ]
    );
}
