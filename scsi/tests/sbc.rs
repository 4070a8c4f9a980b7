//! The block command set, command family by command family, with CDBs built by hand.

mod common;

use buflet_scsi::packet::{RESIDUAL_OVERFLOW, RESIDUAL_UNDERFLOW};
use buflet_scsi::sbc::LuConfig;
use buflet_scsi::{status, LuHandler, TmFunction};
use common::*;

const ILLEGAL: u8 = 5;

#[test]
fn test_unit_ready_and_unsupported_opcodes() {
    let r = Rig::small();
    r.nd(&[0, 0, 0, 0, 0, 0]).assert_good();
    // An opcode the unit does not implement: the suite skips on this.
    r.nd(&[0xC0, 0, 0, 0, 0, 0]).assert_sense(ILLEGAL, 0x20, 0);
    r.nd(&[0x04, 0, 0, 0, 0, 0]).assert_sense(ILLEGAL, 0x20, 0);
    // Unknown service action of SERVICE ACTION IN(16) / MAINTENANCE IN.
    let mut c = cdb16(0x9E, 0, 32);
    c[1] = 0x13;
    r.din(&c, 32).assert_sense(ILLEGAL, 0x24, 0);
    // A CDB shorter than its opcode's length.
    r.nd(&[0x28, 0, 0]).assert_sense(ILLEGAL, 0x24, 0);
    // PREVENT ALLOW with PREVENT 0 accepted, PREVENT 1 refused; START STOP accepted.
    r.nd(&[0x1E, 0, 0, 0, 0, 0]).assert_good();
    r.nd(&[0x1E, 0, 0, 0, 1, 0]).assert_sense(ILLEGAL, 0x24, 0);
    r.nd(&[0x1B, 0, 0, 0, 1, 0]).assert_good();
}

#[test]
fn inquiry_standard_and_truncation() {
    let r = Rig::small();
    let d = r.din(&[0x12, 0, 0, 0, 255, 0], 255);
    d.assert_good();
    assert_eq!(d.data.len(), 96);
    assert_eq!(d.data[0], 0x00);
    assert_eq!(d.data[2], 0x06);
    assert_eq!(d.data[3] & 0x0F, 2);
    assert_eq!(d.data[4] as usize, 96 - 5);
    assert_eq!(d.data[7] & 0x02, 0x02, "CMDQUE");
    assert_eq!(&d.data[8..16], b"BUFLET  ");
    assert_eq!(&d.data[16..24], b"Block LU");
    // Allocation length 255 against 96 bytes: underflow of the rest.
    assert_eq!(d.pkt.residual_flags(), RESIDUAL_UNDERFLOW);
    assert_eq!(d.pkt.residual(), 255 - 96);
    // Allocation length truncates.
    let d = r.din(&[0x12, 0, 0, 0, 5, 0], 5);
    d.assert_good();
    assert_eq!(d.data.len(), 5);
    assert_eq!(d.pkt.residual_flags(), 0);
    // Allocation length 0: nothing sent, GOOD.
    let d = r.din(&[0x12, 0, 0, 0, 0, 0], 0);
    d.assert_good();
    assert!(d.data.is_empty());
    // Expected length shorter than the allocation length: overflow.
    let d = r.din(&[0x12, 0, 0, 0, 96, 0], 36);
    assert_eq!(d.data.len(), 36);
    assert_eq!(d.pkt.residual_flags(), RESIDUAL_OVERFLOW);
    assert_eq!(d.pkt.residual(), 60);
    // CmdDt, page code without EVPD, unknown VPD page.
    r.din(&[0x12, 0x02, 0, 0, 255, 0], 255)
        .assert_sense(ILLEGAL, 0x24, 0);
    r.din(&[0x12, 0, 0x80, 0, 255, 0], 255)
        .assert_sense(ILLEGAL, 0x24, 0);
    r.din(&[0x12, 1, 0x99, 0, 255, 0], 255)
        .assert_sense(ILLEGAL, 0x24, 0);
}

#[test]
fn inquiry_vpd_pages() {
    let r = Rig::small();
    let vpd = |p: u8| {
        let d = r.din(&[0x12, 1, p, 1, 0, 0], 256);
        d.assert_good();
        assert_eq!(d.data[1], p);
        let len = u16::from_be_bytes([d.data[2], d.data[3]]) as usize;
        assert_eq!(d.data.len(), len + 4, "page {p:#x} length");
        d.data
    };
    assert_eq!(&vpd(0x00)[4..], &[0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2]);
    assert_eq!(&vpd(0x80)[4..], b"BUFLET0001");
    let id = vpd(0x83);
    // First designator: NAA, binary, 8 bytes, top nibble 5.
    assert_eq!(&id[4..8], &[0x01, 0x03, 0x00, 0x08]);
    assert_eq!(id[8] >> 4, 5);
    // Second: T10 vendor id, ASCII.
    assert_eq!(id[16] & 0x0F, 2);
    assert_eq!(id[17] & 0x0F, 1);
    assert_eq!(&id[20..28], b"BUFLET  ");
    let bl = vpd(0xB0);
    assert_eq!(bl.len(), 64);
    assert_eq!(bl[4] & 1, 1, "WSNZ");
    assert_eq!(bl[5], 16, "MAXIMUM COMPARE AND WRITE LENGTH");
    assert_eq!(u32::from_be_bytes(bl[8..12].try_into().unwrap()), 8192);
    assert_eq!(u32::from_be_bytes(bl[20..24].try_into().unwrap()), 1 << 16);
    assert_eq!(u32::from_be_bytes(bl[24..28].try_into().unwrap()), 64);
    assert_eq!(u64::from_be_bytes(bl[36..44].try_into().unwrap()), 1 << 16);
    let bc = vpd(0xB1);
    assert_eq!(u16::from_be_bytes([bc[4], bc[5]]), 1, "non-rotating");
    let lbp = vpd(0xB2);
    assert_eq!(lbp[5] & 0xE4, 0xE4, "LBPU LBPWS LBPWS10 LBPRZ");
    assert_eq!(lbp[6] & 0x07, 2, "thin");
}

#[test]
fn read_capacity() {
    let r = Rig::small();
    let d = r.din(&[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8);
    d.assert_good();
    assert_eq!(d.data, [0, 0, 0, 63, 0, 0, 2, 0]);
    r.din(&[0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0], 8)
        .assert_sense(ILLEGAL, 0x24, 0);
    let mut c = cdb16(0x9E, 0, 32);
    c[1] = 0x10;
    let d = r.din(&c, 32);
    d.assert_good();
    assert_eq!(u64::from_be_bytes(d.data[0..8].try_into().unwrap()), 63);
    assert_eq!(u32::from_be_bytes(d.data[8..12].try_into().unwrap()), 512);
    assert_eq!(d.data[14] & 0xC0, 0xC0, "LBPME LBPRZ");
    // Allocation length truncates.
    let mut c = cdb16(0x9E, 0, 12);
    c[1] = 0x10;
    assert_eq!(r.din(&c, 32).data.len(), 12);
    // A medium too big for READ CAPACITY(10).
    let lu = buflet_scsi::sbc::BlockLu::new(LuConfig {
        blocks: 1 << 33,
        ..LuConfig::default()
    })
    .unwrap();
    let big = Rig {
        lu: std::sync::Arc::new(lu),
        m: Medium::new(1, 512),
        tag: Default::default(),
    };
    let d = big.din(&[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8);
    assert_eq!(&d.data[0..4], &[0xFF; 4]);
}

#[test]
fn config_refused() {
    use buflet_scsi::sbc::{BlockLu, LuConfigError};
    let bad = |c: LuConfig| BlockLu::new(c).err();
    assert_eq!(
        bad(LuConfig {
            blocks: 0,
            ..LuConfig::default()
        }),
        Some(LuConfigError::NoBlocks)
    );
    assert_eq!(
        bad(LuConfig {
            block_size: 1000,
            ..LuConfig::default()
        }),
        Some(LuConfigError::BlockSize(1000))
    );
    assert_eq!(
        bad(LuConfig {
            vendor: "TOO LONG VENDOR".into(),
            ..LuConfig::default()
        }),
        Some(LuConfigError::Ident("vendor"))
    );
}

#[test]
fn read_write_all_sizes() {
    let r = Rig::small();
    let bs = 512;
    let cases: Vec<(Vec<u8>, Vec<u8>, u64)> = vec![
        (vec![0x0A, 0, 0, 1, 2, 0], vec![0x08, 0, 0, 1, 2, 0], 1),
        (write10(4, 3), read10(4, 3), 4),
        (cdb12(0xAA, 9, 2), cdb12(0xA8, 9, 2), 9),
        (cdb16(0x8A, 20, 5), cdb16(0x88, 20, 5), 20),
    ];
    for (i, (w, rd, lba)) in cases.into_iter().enumerate() {
        let n = if w[0] == 0x0A {
            w[4] as usize
        } else if w.len() == 10 {
            u16::from_be_bytes([w[7], w[8]]) as usize
        } else if w.len() == 12 {
            u32::from_be_bytes(w[6..10].try_into().unwrap()) as usize
        } else {
            u32::from_be_bytes(w[10..14].try_into().unwrap()) as usize
        };
        let data = pattern(n, bs, i as u8);
        let res = r.dout(&w, &data);
        res.assert_good();
        assert_eq!(res.pkt.residual_flags(), 0);
        assert_eq!(r.m.block(lba), data[..bs].to_vec(), "case {i}");
        let back = r.din(&rd, (n * bs) as u32);
        back.assert_good();
        assert_eq!(back.data, data, "case {i}");
        assert_eq!(back.pkt.data_in_len() as usize, n * bs);
    }
    // READ(6) with transfer length 0 moves 256 blocks: beyond this 64-block medium.
    r.din(&[0x08, 0, 0, 0, 0, 0], 256 * 512)
        .assert_sense(ILLEGAL, 0x21, 0);
}

#[test]
fn lba_range_checked_before_data_moves() {
    let r = Rig::small();
    let data = pattern(2, 512, 7);
    r.dout(&write10(63, 2), &data)
        .assert_sense(ILLEGAL, 0x21, 0);
    assert_eq!(r.m.block(63), vec![0; 512], "nothing written");
    r.din(&read10(64, 1), 512).assert_sense(ILLEGAL, 0x21, 0);
    r.din(&cdb16(0x88, u64::MAX, 1), 512)
        .assert_sense(ILLEGAL, 0x21, 0);
    r.din(&cdb16(0x88, u64::MAX - 1, 4), 2048)
        .assert_sense(ILLEGAL, 0x21, 0);
    // Zero blocks: no-op inside, out of range past the end.
    let z = r.din(&read10(0, 0), 0);
    z.assert_good();
    assert!(z.data.is_empty());
    r.nd(&write10(10, 0)).assert_good();
    r.din(&read10(65, 0), 0).assert_sense(ILLEGAL, 0x21, 0);
    r.nd(&cdb16(0x8A, 1 << 40, 0))
        .assert_sense(ILLEGAL, 0x21, 0);
}

#[test]
fn protect_fields_and_max_transfer() {
    let r = Rig::new(LuConfig {
        blocks: 64,
        max_transfer_blocks: 4,
        ..LuConfig::default()
    });
    let mut c = read10(0, 1);
    c[1] = 0x20; // RDPROTECT 1
    r.din(&c, 512).assert_sense(ILLEGAL, 0x24, 0);
    let mut c = write10(0, 1);
    c[1] = 0x40;
    r.dout(&c, &[1; 512]).assert_sense(ILLEGAL, 0x24, 0);
    assert_eq!(r.m.block(0), vec![0; 512]);
    r.din(&read10(0, 5), 5 * 512).assert_sense(ILLEGAL, 0x24, 0);
    // DPO and FUA accepted; FUA syncs.
    let mut c = write10(0, 1);
    c[1] = 0x18;
    let before = r.m.syncs.load(std::sync::atomic::Ordering::SeqCst);
    r.dout(&c, &[9; 512]).assert_good();
    assert!(r.m.syncs.load(std::sync::atomic::Ordering::SeqCst) > before);
}

#[test]
fn residuals_follow_expected_length() {
    let r = Rig::small();
    r.m.set_block(0, 0xAB);
    r.m.set_block(1, 0xCD);
    // READ 1 block with expected length 0: overflow, nothing moved.
    let d = r.cmd_from(1, &read10(0, 1), &[], 0);
    d.assert_good();
    assert_eq!(d.pkt.residual_flags(), RESIDUAL_OVERFLOW);
    assert_eq!(d.pkt.residual(), 512);
    assert_eq!(d.pkt.data_in_len(), 0);
    // READ 1 block with expected length 2 blocks: underflow.
    let d = r.din(&read10(0, 1), 1024);
    d.assert_good();
    assert_eq!(d.pkt.residual_flags(), RESIDUAL_UNDERFLOW);
    assert_eq!(d.pkt.residual(), 512);
    assert_eq!(d.data, vec![0xAB; 512]);
    // READ 2 blocks with room for 1: overflow, first block moved.
    let d = r.din(&read10(0, 2), 512);
    assert_eq!(d.pkt.residual_flags(), RESIDUAL_OVERFLOW);
    assert_eq!(d.pkt.residual(), 512);
    assert_eq!(d.data, vec![0xAB; 512]);
    // WRITE 2 blocks with one block of data: only the first written.
    let w = r.dout(&write10(0, 2), &[0x11; 512]);
    w.assert_good();
    assert_eq!(w.pkt.residual_flags(), RESIDUAL_OVERFLOW);
    assert_eq!(w.pkt.residual(), 512);
    assert_eq!(r.m.block(0), vec![0x11; 512]);
    assert_eq!(r.m.block(1), vec![0xCD; 512]);
    // WRITE 1 block with 2 blocks of data: the first written, underflow.
    let w = r.dout(&write10(1, 1), &[0x22; 1024]);
    assert_eq!(w.pkt.residual_flags(), RESIDUAL_UNDERFLOW);
    assert_eq!(w.pkt.residual(), 512);
    assert_eq!(r.m.block(1), vec![0x22; 512]);
    assert_eq!(r.m.block(2), vec![0; 512]);
    // A no-data command with an expected length: underflow of all of it.
    let t = r.cmd_from(1, &[0, 0, 0, 0, 0, 0], &[], 100);
    assert_eq!(t.pkt.residual_flags(), RESIDUAL_UNDERFLOW);
    assert_eq!(t.pkt.residual(), 100);
}

#[test]
fn read_only_unit() {
    let r = Rig::new(LuConfig {
        blocks: 64,
        read_only: true,
        ..LuConfig::default()
    });
    r.dout(&write10(0, 1), &[1; 512]).assert_sense(7, 0x27, 0);
    r.dout(&cdb16(0x8A, 0, 1), &[1; 512])
        .assert_sense(7, 0x27, 0);
    r.dout(&cdb10(0x41, 0, 1), &[1; 512])
        .assert_sense(7, 0x27, 0);
    let mut um = vec![0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0];
    um[8] = 24;
    r.dout(&um, &[0; 24]).assert_sense(7, 0x27, 0);
    r.din(&read10(0, 1), 512).assert_good();
    assert_eq!(r.m.block(0), vec![0; 512]);
    // MODE SENSE reports WP.
    let d = r.din(&[0x1A, 0x08, 0x3F, 0, 255, 0], 255);
    assert_eq!(d.data[2] & 0x80, 0x80);
}

#[test]
fn medium_errors_map_to_sense() {
    let r = Rig::small();
    *r.m.fail.lock().unwrap() = FailMode::Write;
    r.dout(&write10(0, 1), &[1; 512]).assert_sense(3, 0x0C, 0);
    *r.m.fail.lock().unwrap() = FailMode::Read;
    r.din(&read10(0, 1), 512).assert_sense(3, 0x11, 0);
    *r.m.fail.lock().unwrap() = FailMode::Gone;
    let g = r.din(&read10(0, 1), 512);
    assert_eq!(g.sense().map(|s| s.0), Some(0xB));
    *r.m.fail.lock().unwrap() = FailMode::None;
    r.din(&read10(0, 1), 512).assert_good();
}

#[test]
fn verify_bytchk() {
    let r = Rig::small();
    let data = pattern(3, 512, 3);
    r.dout(&write10(5, 3), &data).assert_good();
    // BYTCHK 0: range check only.
    r.nd(&cdb10(0x2F, 5, 3)).assert_good();
    r.nd(&cdb10(0x2F, 63, 2)).assert_sense(ILLEGAL, 0x21, 0);
    // BYTCHK 1: compare.
    let mut c = cdb10(0x2F, 5, 3);
    c[1] = 0x02;
    r.dout(&c, &data).assert_good();
    let mut bad = data.clone();
    bad[700] ^= 0xFF;
    let m = r.dout(&c, &bad);
    m.assert_sense(0xE, 0x1D, 0);
    assert_eq!(m.pkt.sense_information(), Some(700));
    // VERIFY(16) and (12) too.
    let mut c16 = cdb16(0x8F, 5, 3);
    c16[1] = 0x02;
    r.dout(&c16, &data).assert_good();
    let mut c12 = cdb12(0xAF, 5, 3);
    c12[1] = 0x02;
    let m = r.dout(&c12, &bad);
    assert_eq!(m.pkt.sense_information(), Some(700));
    // BYTCHK 3: one block against each.
    r.m.set_block(20, 0x5A);
    r.m.set_block(21, 0x5A);
    let mut c = cdb10(0x2F, 20, 2);
    c[1] = 0x06;
    r.dout(&c, &[0x5A; 512]).assert_good();
    r.m.set_block(21, 0x5B);
    let m = r.dout(&c, &[0x5A; 512]);
    assert_eq!(m.pkt.sense_information(), Some(512));
    // BYTCHK 2 reserved; VRPROTECT refused.
    c[1] = 0x04;
    r.dout(&c, &[0x5A; 512]).assert_sense(ILLEGAL, 0x24, 0);
    let mut c = cdb10(0x2F, 5, 1);
    c[1] = 0x20;
    r.nd(&c).assert_sense(ILLEGAL, 0x24, 0);
}

#[test]
fn write_and_verify() {
    let r = Rig::small();
    for (i, c) in [cdb10(0x2E, 3, 2), cdb12(0xAE, 3, 2), cdb16(0x8E, 3, 2)]
        .iter()
        .enumerate()
    {
        let mut c = c.clone();
        c[1] = 0x02; // BYTCHK
        let data = pattern(2, 512, 40 + i as u8);
        r.dout(&c, &data).assert_good();
        assert_eq!(r.m.block(4), data[512..].to_vec());
    }
    r.dout(&cdb10(0x2E, 63, 2), &[0; 1024])
        .assert_sense(ILLEGAL, 0x21, 0);
}

#[test]
fn write_same_and_unmap_bit() {
    let r = Rig::small();
    // Plain WRITE SAME(10) of a pattern block.
    let blk = pattern(1, 512, 9);
    r.dout(&cdb10(0x41, 10, 4), &blk).assert_good();
    for lba in 10..14 {
        assert_eq!(r.m.block(lba), blk);
    }
    assert_eq!(r.m.block(14), vec![0; 512]);
    // WRITE SAME(16) with UNMAP and a zero block: deallocated, reads zeros.
    let mut c = cdb16(0x93, 10, 2);
    c[1] = 0x08;
    r.dout(&c, &[0; 512]).assert_good();
    assert_eq!(r.m.block(10), vec![0; 512]);
    assert_eq!(r.m.block(12), blk);
    let s = lba_status(&r.din(&get_lba_status(10, 64), 64).data);
    assert_eq!(s[0], (10, 2, true));
    assert_eq!(s[1].0, 12);
    assert!(!s[1].2);
    // NDOB on 16: no data-out, zeros, deallocated with UNMAP.
    let mut c = cdb16(0x93, 12, 2);
    c[1] = 0x09;
    r.nd(&c).assert_good();
    assert_eq!(r.m.block(12), vec![0; 512]);
    assert_eq!(
        lba_status(&r.din(&get_lba_status(10, 64), 64).data)[0],
        (10, 4, true)
    );
    // Zero blocks refused (WSNZ), ANCHOR refused, WRPROTECT refused, beyond the end.
    r.dout(&cdb10(0x41, 0, 0), &blk)
        .assert_sense(ILLEGAL, 0x24, 0);
    let mut c = cdb10(0x41, 0, 1);
    c[1] = 0x10;
    r.dout(&c, &blk).assert_sense(ILLEGAL, 0x24, 0);
    c[1] = 0x20;
    r.dout(&c, &blk).assert_sense(ILLEGAL, 0x24, 0);
    r.dout(&cdb10(0x41, 62, 4), &blk)
        .assert_sense(ILLEGAL, 0x21, 0);
    r.dout(&cdb16(0x93, 70, 1), &blk)
        .assert_sense(ILLEGAL, 0x21, 0);
    // More than MAXIMUM WRITE SAME LENGTH.
    let r2 = Rig::new(LuConfig {
        blocks: 64,
        max_write_same_blocks: 4,
        ..LuConfig::default()
    });
    r2.dout(&cdb10(0x41, 0, 5), &blk)
        .assert_sense(ILLEGAL, 0x24, 0);
}

fn unmap_list(descs: &[(u64, u32)]) -> Vec<u8> {
    let mut p = vec![0u8; 8];
    p[0..2].copy_from_slice(&((6 + 16 * descs.len()) as u16).to_be_bytes());
    p[2..4].copy_from_slice(&((16 * descs.len()) as u16).to_be_bytes());
    for &(lba, n) in descs {
        p.extend_from_slice(&lba.to_be_bytes());
        p.extend_from_slice(&n.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
    }
    p
}

fn unmap_cdb(len: u16) -> Vec<u8> {
    let mut c = vec![0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    c[7..9].copy_from_slice(&len.to_be_bytes());
    c
}

#[test]
fn unmap_and_get_lba_status() {
    let r = Rig::small();
    r.dout(&cdb16(0x8A, 0, 64), &pattern(64, 512, 1))
        .assert_good();
    let all = lba_status(&r.din(&get_lba_status(0, 64), 64).data);
    assert_eq!(all, vec![(0, 64, false)]);
    let p = unmap_list(&[(10, 5), (30, 1)]);
    r.dout(&unmap_cdb(p.len() as u16), &p).assert_good();
    assert_eq!(r.m.block(10), vec![0; 512]);
    assert_eq!(r.m.block(14), vec![0; 512]);
    assert_ne!(r.m.block(15), vec![0; 512]);
    let s = lba_status(&r.din(&get_lba_status(8, 1024), 1024).data);
    assert_eq!(
        s,
        vec![
            (8, 2, false),
            (10, 5, true),
            (15, 15, false),
            (30, 1, true),
            (31, 33, false)
        ]
    );
    // The header's length matches the descriptors.
    let d = r.din(&get_lba_status(8, 1024), 1024).data;
    assert_eq!(
        u32::from_be_bytes(d[0..4].try_into().unwrap()) as usize,
        d.len() - 4
    );
    // A small allocation length truncates to the first descriptor.
    let d = r.din(&get_lba_status(8, 24), 24);
    assert_eq!(lba_status(&d.data), vec![(8, 2, false)]);
    // Writing maps again.
    r.dout(&write10(11, 1), &[7; 512]).assert_good();
    let s = lba_status(&r.din(&get_lba_status(10, 64), 64).data);
    assert_eq!(s[0], (10, 1, true));
    assert_eq!(s[1], (11, 1, false));
    assert_eq!(s[2], (12, 3, true));
    // Beyond the end, anchor, limits, list length.
    r.din(&get_lba_status(64, 64), 64)
        .assert_sense(ILLEGAL, 0x21, 0);
    let p = unmap_list(&[(60, 5)]);
    r.dout(&unmap_cdb(p.len() as u16), &p)
        .assert_sense(ILLEGAL, 0x21, 0);
    assert_ne!(r.m.block(60), vec![0; 512], "nothing unmapped");
    let mut c = unmap_cdb(24);
    c[1] = 1;
    r.dout(&c, &unmap_list(&[(0, 1)]))
        .assert_sense(ILLEGAL, 0x24, 0);
    r.dout(&unmap_cdb(4), &[0; 4])
        .assert_sense(ILLEGAL, 0x1A, 0);
    r.nd(&unmap_cdb(0)).assert_good();
    let r2 = Rig::new(LuConfig {
        blocks: 64,
        max_unmap_blocks: 4,
        max_unmap_descriptors: 2,
        ..LuConfig::default()
    });
    let p = unmap_list(&[(0, 5)]);
    r2.dout(&unmap_cdb(p.len() as u16), &p)
        .assert_sense(ILLEGAL, 0x26, 0);
    let p = unmap_list(&[(0, 1), (2, 1), (4, 1)]);
    r2.dout(&unmap_cdb(p.len() as u16), &p)
        .assert_sense(ILLEGAL, 0x26, 0);
}

#[test]
fn provisioning_map_matches_a_model() {
    // Random writes and unmaps against a per-block model; GET LBA STATUS must agree.
    let r = Rig::new(LuConfig {
        blocks: 200,
        initially_mapped: false,
        ..LuConfig::default()
    });
    let mut model = [false; 200];
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    for _ in 0..300 {
        let lba = next(200);
        let n = 1 + next(20).min(199 - lba);
        if next(2) == 0 {
            r.dout(&cdb16(0x8A, lba, n as u32), &vec![1; n as usize * 512])
                .assert_good();
            model[lba as usize..(lba + n) as usize].fill(true);
        } else {
            let p = unmap_list(&[(lba, n as u32)]);
            r.dout(&unmap_cdb(p.len() as u16), &p).assert_good();
            model[lba as usize..(lba + n) as usize].fill(false);
        }
        let mut at = 0u64;
        while at < 200 {
            let s = lba_status(&r.din(&get_lba_status(at, 24), 24).data);
            let (l, k, dealloc) = s[0];
            assert_eq!(l, at);
            assert!(k > 0);
            for b in at..at + k as u64 {
                assert_eq!(model[b as usize], !dealloc, "block {b}");
            }
            at += k as u64;
            if at < 200 {
                assert_eq!(
                    model[at as usize], dealloc,
                    "extent ends where state changes"
                );
            }
        }
    }
}

fn caw(lba: u64, n: u8) -> Vec<u8> {
    let mut c = vec![0u8; 16];
    c[0] = 0x89;
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[13] = n;
    c
}

#[test]
fn compare_and_write() {
    let r = Rig::small();
    r.m.set_block(5, 0x11);
    r.m.set_block(6, 0x11);
    let mut d = vec![0x11; 1024];
    d.extend_from_slice(&[0x22; 1024]);
    r.dout(&caw(5, 2), &d).assert_good();
    assert_eq!(r.m.block(5), vec![0x22; 512]);
    assert_eq!(r.m.block(6), vec![0x22; 512]);
    // Miscompare: medium unchanged, INFORMATION holds the offset.
    let mut d = vec![0x22; 1024];
    d[600] = 0;
    d.extend_from_slice(&[0x33; 1024]);
    let m = r.dout(&caw(5, 2), &d);
    m.assert_sense(0xE, 0x1D, 0);
    assert_eq!(m.pkt.sense_information(), Some(600));
    assert_eq!(r.m.block(6), vec![0x22; 512]);
    // Limits.
    r.dout(&caw(5, 17), &vec![0; 17 * 1024])
        .assert_sense(ILLEGAL, 0x24, 0);
    r.dout(&caw(63, 2), &[0; 2048])
        .assert_sense(ILLEGAL, 0x21, 0);
    r.dout(&caw(5, 2), &[0; 1024])
        .assert_sense(ILLEGAL, 0x24, 0);
    r.nd(&caw(5, 0)).assert_good();
}

#[test]
fn compare_and_write_is_atomic() {
    // Threads increment a counter in block 0 with COMPARE AND WRITE, retrying on miscompare;
    // without atomicity two would both succeed from the same value and an increment would be
    // lost.
    let r = std::sync::Arc::new(Rig::small());
    let threads = 8;
    let per = 50u32;
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let r = r.clone();
            std::thread::spawn(move || {
                let mut done = 0;
                while done < per {
                    let cur = r.cmd_from(t, &read10(0, 1), &[], 512);
                    cur.assert_good();
                    let v = u32::from_le_bytes(cur.data[0..4].try_into().unwrap());
                    let mut d = cur.data.clone();
                    let mut new = cur.data.clone();
                    new[0..4].copy_from_slice(&(v + 1).to_le_bytes());
                    d.extend_from_slice(&new);
                    let res = r.cmd_from(t, &caw(0, 1), &d, 1024);
                    if res.good() {
                        done += 1;
                    } else {
                        res.assert_sense(0xE, 0x1D, 0);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let b = r.m.block(0);
    assert_eq!(
        u32::from_le_bytes(b[0..4].try_into().unwrap()),
        threads as u32 * per
    );
}

#[test]
fn sync_cache_and_prefetch() {
    let r = Rig::small();
    let s0 = r.m.syncs.load(std::sync::atomic::Ordering::SeqCst);
    r.nd(&cdb10(0x35, 0, 0)).assert_good();
    r.nd(&cdb16(0x91, 10, 4)).assert_good();
    assert_eq!(r.m.syncs.load(std::sync::atomic::Ordering::SeqCst), s0 + 2);
    r.nd(&cdb10(0x35, 64, 0)).assert_sense(ILLEGAL, 0x21, 0);
    r.nd(&cdb16(0x91, 60, 5)).assert_sense(ILLEGAL, 0x21, 0);
    let p = r.nd(&cdb10(0x34, 0, 8));
    assert_eq!(p.status(), status::CONDITION_MET);
    assert_eq!(r.nd(&cdb16(0x90, 0, 1)).status(), status::CONDITION_MET);
    r.nd(&cdb16(0x90, 63, 2)).assert_sense(ILLEGAL, 0x21, 0);
}

#[test]
fn mode_sense_pages() {
    let r = Rig::small();
    let d = r.din(&[0x1A, 0, 0x3F, 0, 255, 0], 255);
    d.assert_good();
    assert_eq!(d.data[0] as usize, d.data.len() - 1);
    assert_eq!(d.data[3], 8, "block descriptor");
    assert_eq!(&d.data[4..8], &64u32.to_be_bytes());
    assert_eq!(&d.data[9..12], &[0, 2, 0]);
    let pages: Vec<u8> = {
        let mut v = Vec::new();
        let mut off = 12;
        while off < d.data.len() {
            v.push(d.data[off] & 0x3F);
            off += 2 + d.data[off + 1] as usize;
        }
        assert_eq!(off, d.data.len());
        v
    };
    assert_eq!(pages, vec![0x08, 0x0A, 0x1C]);
    assert_eq!(d.data[12 + 2] & 0x04, 0x04, "WCE");
    // DBD, one page, MODE SENSE(10) with LLBAA.
    let d = r.din(&[0x1A, 0x08, 0x08, 0, 255, 0], 255);
    assert_eq!(d.data[3], 0);
    assert_eq!(d.data.len(), 4 + 20);
    let d = r.din(&[0x5A, 0x10, 0x0A, 0, 0, 0, 0, 1, 0, 0], 256);
    d.assert_good();
    assert_eq!(
        u16::from_be_bytes([d.data[0], d.data[1]]) as usize,
        d.data.len() - 2
    );
    assert_eq!(d.data[4] & 1, 1, "LONGLBA");
    assert_eq!(u16::from_be_bytes([d.data[6], d.data[7]]), 16);
    assert_eq!(&d.data[8..16], &64u64.to_be_bytes());
    assert_eq!(d.data[24], 0x0A);
    // Changeable values: WCE only on caching.
    let d = r.din(&[0x1A, 0x08, 0x48, 0, 255, 0], 255);
    assert_eq!(d.data[4 + 2], 0x04);
    // Saved values: not supported; unknown page; unknown subpage.
    r.din(&[0x1A, 0, 0xC8, 0, 255, 0], 255)
        .assert_sense(ILLEGAL, 0x39, 0);
    r.din(&[0x1A, 0, 0x19, 0, 255, 0], 255)
        .assert_sense(ILLEGAL, 0x24, 0);
    r.din(&[0x1A, 0, 0x08, 1, 255, 0], 255)
        .assert_sense(ILLEGAL, 0x24, 0);
    // Truncation.
    let d = r.din(&[0x1A, 0, 0x3F, 0, 10, 0], 10);
    assert_eq!(d.data.len(), 10);
}

#[test]
fn mode_select_changeable_bits() {
    let r = Rig::small();
    // Nexus 2 has been seen: it gets MODE PARAMETERS CHANGED.
    r.cmd_from(2, &[0, 0, 0, 0, 0, 0], &[], 0).assert_good();
    let cur = r.din(&[0x1A, 0x08, 0x08, 0, 255, 0], 255).data;
    let mut list = cur.clone();
    list[0] = 0;
    list[4 + 2] &= !0x04; // WCE off
    let c = [0x15, 0x10, 0, 0, list.len() as u8, 0];
    r.dout(&c, &list).assert_good();
    let now = r.din(&[0x1A, 0x08, 0x08, 0, 255, 0], 255).data;
    assert_eq!(now[4 + 2] & 0x04, 0);
    // WCE 0 makes every write durable.
    let s0 = r.m.syncs.load(std::sync::atomic::Ordering::SeqCst);
    r.dout(&write10(0, 1), &[1; 512]).assert_good();
    assert_eq!(r.m.syncs.load(std::sync::atomic::Ordering::SeqCst), s0 + 1);
    r.cmd_from(2, &[0, 0, 0, 0, 0, 0], &[], 0)
        .assert_sense(6, 0x2A, 0x01);
    r.cmd_from(2, &[0, 0, 0, 0, 0, 0], &[], 0).assert_good();
    // A non-changeable bit: refused, nothing applied.
    let mut bad = list.clone();
    bad[4 + 2] |= 0x04;
    bad[4 + 3] = 0xFF;
    r.dout(&c, &bad).assert_sense(ILLEGAL, 0x26, 0);
    let now = r.din(&[0x1A, 0x08, 0x08, 0, 255, 0], 255).data;
    assert_eq!(now[4 + 2] & 0x04, 0);
    // Unknown page, wrong page length, SP, short list, wrong block length.
    let mut unk = list.clone();
    unk[4] = 0x19;
    r.dout(&c, &unk).assert_sense(ILLEGAL, 0x26, 0);
    let mut wl = list.clone();
    wl[5] = 0x10;
    r.dout(&c, &wl).assert_sense(ILLEGAL, 0x26, 0);
    r.dout(&[0x15, 0x11, 0, 0, list.len() as u8, 0], &list)
        .assert_sense(ILLEGAL, 0x24, 0);
    r.dout(&[0x15, 0x10, 0, 0, 3, 0], &list[..3])
        .assert_sense(ILLEGAL, 0x1A, 0);
    r.dout(&[0x15, 0x10, 0, 0, list.len() as u8, 0], &list[..10])
        .assert_sense(ILLEGAL, 0x1A, 0);
    let withbd = r.din(&[0x1A, 0, 0x1C, 0, 255, 0], 255).data;
    let mut l2 = withbd.clone();
    l2[0] = 0;
    r.dout(&[0x15, 0x10, 0, 0, l2.len() as u8, 0], &l2)
        .assert_good();
    l2[10] = 4; // block length 1024
    r.dout(&[0x15, 0x10, 0, 0, l2.len() as u8, 0], &l2)
        .assert_sense(ILLEGAL, 0x26, 0);
    // MODE SELECT(10) round trip of every page.
    let all = r.din(&[0x5A, 0, 0x3F, 0, 0, 0, 0, 1, 0, 0], 256).data;
    let mut l3 = all.clone();
    l3[0] = 0;
    l3[1] = 0;
    let mut c10 = vec![0x55, 0x10, 0, 0, 0, 0, 0, 0, 0, 0];
    c10[7..9].copy_from_slice(&(l3.len() as u16).to_be_bytes());
    r.dout(&c10, &l3).assert_good();
}

#[test]
fn report_luns() {
    let r = Rig::small();
    let d = r.din(&[0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], 256);
    d.assert_good();
    assert_eq!(d.data.len(), 16);
    assert_eq!(&d.data[0..4], &8u32.to_be_bytes());
    assert_eq!(&d.data[8..16], &[0; 8]);
    r.din(&[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0], 8)
        .assert_sense(ILLEGAL, 0x24, 0);
    r.din(&[0xA0, 0, 5, 0, 0, 0, 0, 0, 1, 0, 0, 0], 256)
        .assert_sense(ILLEGAL, 0x24, 0);
}

fn rsoc(options: u8, op: u8, sa: u16, alloc: u32) -> Vec<u8> {
    let mut c = vec![0xA3, 0x0C, options, op, 0, 0, 0, 0, 0, 0, 0, 0];
    c[4..6].copy_from_slice(&sa.to_be_bytes());
    c[6..10].copy_from_slice(&alloc.to_be_bytes());
    c
}

#[test]
fn report_supported_opcodes() {
    let r = Rig::small();
    let d = r.din(&rsoc(0, 0, 0, 4096), 4096);
    d.assert_good();
    let len = u32::from_be_bytes(d.data[0..4].try_into().unwrap()) as usize;
    assert_eq!(len, d.data.len() - 4);
    let descs: Vec<(u8, u16, bool, u16)> = d.data[4..]
        .chunks_exact(8)
        .map(|x| {
            (
                x[0],
                u16::from_be_bytes([x[2], x[3]]),
                x[5] & 1 == 1,
                u16::from_be_bytes([x[6], x[7]]),
            )
        })
        .collect();
    assert!(descs.contains(&(0x88, 0, false, 16)));
    assert!(descs.contains(&(0x28, 0, false, 10)));
    assert!(descs.contains(&(0x9E, 0x10, true, 16)));
    assert!(descs.contains(&(0x9E, 0x12, true, 16)));
    assert!(descs.contains(&(0x89, 0, false, 16)));
    // Every listed command answers the one-command form and is executed (never 0x20/00).
    for &(op, sa, has_sa, cdb_len) in &descs {
        let opt = if has_sa { 2 } else { 1 };
        let one = r.din(&rsoc(opt, op, sa, 512), 512);
        one.assert_good();
        assert_eq!(one.data[1] & 0x07, 3, "op {op:#x} supported");
        assert_eq!(u16::from_be_bytes([one.data[2], one.data[3]]), cdb_len);
        assert_eq!(one.data[4], op);
        assert_eq!(one.data.len(), 4 + cdb_len as usize);
    }
    // RCTD: 20-byte descriptors with CTDP.
    let mut c = rsoc(0, 0, 0, 4096);
    c[2] = 0x80;
    let d = r.din(&c, 4096);
    let len = u32::from_be_bytes(d.data[0..4].try_into().unwrap()) as usize;
    assert_eq!(len, descs.len() * 20);
    assert_eq!(d.data[4 + 5] & 0x02, 0x02);
    // Unsupported opcode: SUPPORT 001b. Wrong form for an SA command: INVALID FIELD.
    let one = r.din(&rsoc(1, 0xC0, 0, 512), 512);
    assert_eq!(one.data[1] & 0x07, 1);
    r.din(&rsoc(1, 0x9E, 0, 512), 512)
        .assert_sense(ILLEGAL, 0x24, 0);
    r.din(&rsoc(2, 0x28, 0, 512), 512)
        .assert_sense(ILLEGAL, 0x24, 0);
    r.din(&rsoc(7, 0x28, 0, 512), 512)
        .assert_sense(ILLEGAL, 0x24, 0);
    let one = r.din(&rsoc(3, 0x28, 0, 512), 512);
    assert_eq!(one.data[1] & 0x07, 3);
}

#[test]
fn unit_attention_after_reset_only() {
    let r = Rig::small();
    // First contact: no unit attention.
    r.nd(&[0, 0, 0, 0, 0, 0]).assert_good();
    r.cmd_from(2, &[0, 0, 0, 0, 0, 0], &[], 0).assert_good();
    r.lu.task_management(TmFunction::LogicalUnitReset, 1);
    // INQUIRY and REPORT LUNS pass without clearing it.
    r.din(&[0x12, 0, 0, 0, 36, 0], 36).assert_good();
    r.nd(&[0, 0, 0, 0, 0, 0]).assert_sense(6, 0x29, 0);
    r.nd(&[0, 0, 0, 0, 0, 0]).assert_good();
    // REQUEST SENSE reports it as data and clears it.
    let s = r.cmd_from(2, &[0x03, 0, 0, 0, 18, 0], &[], 18);
    s.assert_good();
    assert_eq!(s.data[2] & 0x0F, 6);
    assert_eq!(s.data[12], 0x29);
    r.cmd_from(2, &[0, 0, 0, 0, 0, 0], &[], 0).assert_good();
    let s = r.din(&[0x03, 0, 0, 0, 18, 0], 18);
    assert_eq!(s.data[0], 0x70);
    assert_eq!(s.data[2], 0, "no sense");
    // I_T NEXUS RESET: only that nexus, I_T NEXUS LOSS OCCURRED.
    r.lu.task_management(TmFunction::ItNexusReset, 2);
    r.nd(&[0, 0, 0, 0, 0, 0]).assert_good();
    r.cmd_from(2, &[0, 0, 0, 0, 0, 0], &[], 0)
        .assert_sense(6, 0x29, 0x07);
    // Aborts set nothing; a lost nexus forgets its attentions.
    r.lu.task_management(TmFunction::AbortTaskSet, 1);
    r.nd(&[0, 0, 0, 0, 0, 0]).assert_good();
    r.lu.task_management(TmFunction::TargetWarmReset, 1);
    r.lu.nexus_lost(1);
    r.nd(&[0, 0, 0, 0, 0, 0]).assert_good();
}
