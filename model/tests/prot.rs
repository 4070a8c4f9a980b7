//! Device protection table (docs/protection.md): REG_REGION/DEREG_REGION validation, and every
//! row of the check table (ring fetch and completion write, NB page list, NB page, anonymous
//! buffer, SG element, BLK_WRITE source, BLK_READ destination) refused before any host access,
//! with the fault registers, counter and IRQ; with PROT_EN off nothing is checked.

mod common;

use buflet_spec::{param, reg, Cpl, CplKind, DropReason, Opcode, RegionDesc, RegionPerm, Status};
use common::*;

const RD: RegionPerm = RegionPerm::READ;
const WR: RegionPerm = RegionPerm::WRITE;
const RW: RegionPerm = RD.union(WR);
const NONE: RegionPerm = RegionPerm::empty();
const CTRL_PROT: u32 = 3; // ENABLE | PROT_EN

fn region(opcode: Opcode, tag: u32, slot: u32, base: u64, len: u64, flags: RegionPerm) -> [u8; 64] {
    RegionDesc::new(opcode, tag, slot, base, len, flags).to_bytes()
}

/// Submit one request and return its single completion.
fn one(r: &mut Rig, e: &[u8; 64]) -> Cpl {
    r.submit(e);
    let c = r.wait_cpls(1);
    assert_eq!(c.len(), 1, "{c:?}");
    c[0]
}

/// Register `base..base+len` in `slot` and check the CMD_DONE.
fn reg_region(r: &mut Rig, slot: u32, base: u64, len: u64, flags: RegionPerm) {
    let c = one(
        r,
        &region(Opcode::RegRegion, 0x5E60 + slot, slot, base, len, flags),
    );
    assert_eq!(
        (c.kind, c.status, c.opcode, c.tag),
        (
            CplKind::CmdDone,
            Status::Ok,
            Opcode::RegRegion.code(),
            0x5E60 + slot
        )
    );
}

/// Host memory that is neither registered with the host (any access is a stray access) nor
/// in the device table.
fn foreign(r: &mut Rig, len: u64) -> u64 {
    r.env.mem.alloc(len, 4096).unwrap()
}

fn strays(r: &Rig) -> u64 {
    r.env.mem.stats().stray_accesses
}

/// A rig whose rings are in the table (slots 0 and 1), PROT_EN on.
fn prot_rig(name: &str) -> Rig {
    let mut r = Rig::new(name, cfg(64), 16, 16);
    let (rb, rs, cb, cs) = (
        r.req_base,
        r.req_size as u64 * 64,
        r.cpl_base,
        r.cpl_size as u64 * 32,
    );
    reg_region(&mut r, 0, rb, rs, RD);
    reg_region(&mut r, 1, cb, cs, WR);
    r.w(reg::CTRL, CTRL_PROT);
    r
}

fn fault_regs(r: &mut Rig) -> (u64, u32) {
    let a = r.r(reg::PROT_FAULT_ADDR_LO) as u64 | (r.r(reg::PROT_FAULT_ADDR_HI) as u64) << 32;
    (a, r.r(reg::PROT_FAULT_INFO))
}

/// CNT_PROT_FAULTS (through the register once the spec gives it its own address).
fn faults(r: &mut Rig) -> u32 {
    let n = r.dev.prot_faults();
    if reg::CNT_PROT_FAULTS != reg::CNT_BLK_READS {
        assert_eq!(r.r(reg::CNT_PROT_FAULTS), n);
    }
    n
}

/// Check the last fault: address, INFO {write, requester}, count, IRQ_STATUS.FAULT (cleared).
fn assert_fault(r: &mut Rig, addr: u64, write: bool, id: u32, count: u32) {
    assert_eq!(fault_regs(r), (addr, write as u32 | id << 8));
    assert_eq!(faults(r), count);
    assert_ne!(r.r(reg::IRQ_STATUS) & 2, 0, "IRQ_STATUS.FAULT");
    r.w(reg::IRQ_STATUS, 2);
    assert_eq!(r.r(reg::IRQ_STATUS) & 2, 0);
}

#[test]
fn region_requests_are_validated() {
    let mut r = Rig::new("prot-req", cfg(64), 16, 16);
    assert_eq!(r.r(reg::NUM_REGIONS), param::DEF_NUM_REGIONS as u32);
    let n = param::DEF_NUM_REGIONS as u32;
    reg_region(&mut r, n - 1, 0x1000, 0x1000, RW);
    // Wrapping exactly to 2^64 is allowed.
    reg_region(&mut r, 2, u64::MAX - 0xFFF, 0x1000, RD);
    let bad = [
        region(Opcode::RegRegion, 1, n, 0x1000, 0x1000, RD),
        region(Opcode::RegRegion, 2, 3, 0x1000, 0, RD),
        region(Opcode::RegRegion, 3, 3, u64::MAX - 0xFFF, 0x1001, RD),
        region(Opcode::RegRegion, 4, 3, 0x1000, 0x1000, NONE),
        // an undefined permission bit
        region(
            Opcode::RegRegion,
            5,
            3,
            0x1000,
            0x1000,
            RegionPerm::from_bits_retain(4),
        ),
        region(Opcode::DeregRegion, 6, n, 0, 0, NONE),
    ];
    for e in &bad {
        let c = one(&mut r, e);
        assert_eq!(
            (c.kind, c.status),
            (CplKind::CmdDone, Status::BadRegion),
            "{c:?}"
        );
    }
    for (tag, slot) in [(7, 3), (8, n - 1)] {
        // DEREG of an invalid or a valid slot.
        let c = one(&mut r, &region(Opcode::DeregRegion, tag, slot, 0, 0, NONE));
        assert_eq!(
            (c.status, c.opcode, c.tag),
            (Status::Ok, Opcode::DeregRegion.code(), tag)
        );
    }
    // Nothing was refused: PROT_EN was off.
    assert_eq!(faults(&mut r), 0);
}

#[test]
fn request_fetch_outside_is_fatal_until_reenabled() {
    let mut r = Rig::new("prot-fetch", cfg(64), 16, 16);
    let cb = r.cpl_base;
    reg_region(&mut r, 1, cb, 16 * 32, WR);
    r.w(reg::CTRL, CTRL_PROT);
    r.submit(&req(Opcode::Nop, 9));
    r.run(5_000);
    assert!(r.cpls().is_empty());
    assert_eq!(r.r(reg::REQ_HEAD), 1, "the NOP before PROT_EN only");
    assert_eq!(r.r(reg::STATUS) & 4, 4, "STATUS.FAULT");
    let rb = r.req_base;
    assert_fault(&mut r, rb + 64, false, 0, 1);
    r.run(5_000);
    assert_eq!(faults(&mut r), 1, "stopped: no retry");
    // Clear ENABLE, set it again without PROT_EN: the NOP runs.
    r.w(reg::CTRL, 0);
    assert_eq!(r.r(reg::STATUS) & 4, 0);
    r.w(reg::CTRL, 1);
    let c = r.wait_cpls(1);
    assert_eq!(
        (c[0].kind, c[0].status, c[0].tag),
        (CplKind::CmdDone, Status::Ok, 9)
    );
    assert_eq!(strays(&r), 0);
}

#[test]
fn completion_write_outside_is_fatal_and_nothing_is_lost() {
    let mut r = Rig::new("prot-cpl", cfg(64), 16, 16);
    let rb = r.req_base;
    reg_region(&mut r, 0, rb, 16 * 64, RD);
    // A read-only region over the completion ring does not allow the write.
    let cb = r.cpl_base;
    reg_region(&mut r, 1, cb, 16 * 32, RD);
    r.w(reg::CTRL, CTRL_PROT);
    r.submit(&req(Opcode::Nop, 10));
    r.submit(&req(Opcode::Nop, 11));
    r.run(5_000);
    assert!(r.cpls().is_empty());
    assert_eq!(r.r(reg::STATUS) & 4, 4);
    assert_fault(&mut r, cb + 2 * 32, true, 1, 1);
    r.w(reg::CTRL, 0);
    r.w(reg::CTRL, 1);
    let c = r.wait_cpls(2);
    assert_eq!(
        (c[0].tag, c[1].tag),
        (10, 11),
        "the refused completion was kept"
    );
    assert_eq!(strays(&r), 0);
}

/// Socket 0 established, an NB over `hmd`; returns the first data SEQ.
fn sock_with_nb(r: &mut Rig, hmd: u64, pages: u32, total: u32) -> u32 {
    let c = one(r, &sock_add(0, 1, 0));
    assert_eq!(c.status, Status::Ok);
    let seq = r.handshake(1000);
    r.submit(&nb_post(0, 77, 0, total, hmd, pages));
    r.run(2_000);
    seq
}

fn nb_fault(page_list_foreign: bool) {
    let mut r = prot_rig(if page_list_foreign {
        "prot-nblist"
    } else {
        "prot-nbpage"
    });
    let page = if page_list_foreign {
        r.alloc(4096)
    } else {
        foreign(&mut r, 4096)
    };
    let hmd = if page_list_foreign {
        foreign(&mut r, 8)
    } else {
        r.alloc(8)
    };
    r.env.mem.register(hmd, 8); // CPU writes the list
    r.cpu_write(hmd, &page.to_le_bytes());
    if page_list_foreign {
        r.env.mem.unregister(hmd, 8);
        reg_region(&mut r, 2, page, 4096, WR);
    } else {
        reg_region(&mut r, 2, hmd, 8, RD);
    }
    let seq = sock_with_nb(&mut r, hmd, 1, 4096);
    let data = bytes(3, 1000);
    r.send(Seg::at(seq).payload(data.clone()));
    r.settle();
    let c = r.wait_cpls(1);
    assert_eq!(
        (c[0].kind, c[0].status, c[0].tag, c[0].bytes),
        (CplKind::NbReturn, Status::ProtFault, 77, 0)
    );
    if page_list_foreign {
        assert_fault(&mut r, hmd, false, 1, 1);
    } else {
        assert_fault(&mut r, page, true, 0, 1);
    }
    assert_eq!(strays(&r), 0);
    // The segment stayed: a good NB gets it.
    let (hmd2, pages2) = r.nb_mem(4096);
    reg_region(&mut r, 3, hmd2, 8, RD);
    reg_region(&mut r, 4, pages2[0], 4096, WR);
    r.submit(&nb_post(0, 78, 1, 1000, hmd2, 1));
    let c = r.wait_cpls(1);
    assert_eq!(
        (c[0].kind, c[0].status, c[0].tag, c[0].bytes),
        (CplKind::NbReturn, Status::Ok, 78, 1000)
    );
    assert_eq!(r.nb_read(&pages2, 1000), data);
    assert_eq!(faults(&mut r), 1);
}

#[test]
fn nb_page_list_outside_returns_prot_fault() {
    nb_fault(true);
}

#[test]
fn nb_page_outside_returns_prot_fault() {
    nb_fault(false);
}

#[test]
fn anon_buffer_outside_returns_prot_fault() {
    let mut r = prot_rig("prot-anon");
    let bad = foreign(&mut r, 2048);
    r.submit(&anon_post(5, 0, 2048, bad));
    // A buffer one byte longer than its region is refused too (whole access inside).
    let good = r.alloc(2048);
    reg_region(&mut r, 2, good, 2047, WR);
    r.submit(&anon_post(6, 1, 2048, good));
    r.run(2_000);
    let d0 = r.r(DropReason::NoSocket.counter().unwrap());
    let f = udp_frame(None, REMOTE_PORT, LOCAL_PORT, &bytes(4, 300));
    r.push(f.clone());
    r.push(f.clone());
    r.settle();
    let c = r.wait_cpls(2);
    for (x, tag) in c.iter().zip([5, 6]) {
        assert_eq!(
            (x.kind, x.status, x.tag, x.bytes),
            (CplKind::AnonRx, Status::ProtFault, tag, 0)
        );
    }
    assert_fault(&mut r, good, true, 0, 2);
    let d1 = r.r(DropReason::NoSocket.counter().unwrap());
    assert_eq!(d1 - d0, 2, "dropped under their own reason");
    assert_eq!(strays(&r), 0);
    // Inside the region: delivered.
    reg_region(&mut r, 2, good, 2048, WR);
    r.submit(&anon_post(7, 1, 2048, good));
    r.run(2_000);
    r.push(f.clone());
    r.settle();
    let c = r.wait_cpls(1);
    assert_eq!((c[0].status, c[0].bytes), (Status::Ok, f.len() as u32));
    assert_eq!(r.cpu_read(good, f.len()), f);
    r.assert_all_free();
}

/// Write a linked SG list at `base` (CPU write, whatever the registrations).
fn sg_at(r: &mut Rig, base: u64, els: &[El]) {
    r.env.mem.register(base, 32 * els.len() as u64);
    r.sg_write(base, els);
}

/// 64 bytes of host memory for an SG list (two elements), registered READ in `slot`.
fn list_region(r: &mut Rig, slot: u32) -> u64 {
    let list = r.alloc(64);
    reg_region(r, slot, list, 64, RD);
    list
}

/// Write `els` as a linked SG list at `list` (see [`sg_at`]) and submit a block request
/// (`opcode`) over all of it; returns its completion.
fn blk_over(r: &mut Rig, opcode: Opcode, tag: u32, list: u64, els: &[El]) -> Cpl {
    sg_at(r, list, els);
    let bytes: u64 = els.iter().map(|e| e.1).sum();
    one(
        r,
        &blk_request(opcode, tag, list, els.len() as u32, bytes as u32),
    )
}

#[test]
fn sg_element_outside_returns_prot_fault() {
    let mut r = prot_rig("prot-sg");
    let src = r.alloc(8192);
    r.cpu_write(src, &bytes(5, 8192));
    reg_region(&mut r, 2, src, 8192, RD);
    // Element 0 in the table, element 1 not (same host allocation, different regions).
    let list = r.alloc(4096);
    sg_at(
        &mut r,
        list,
        &[(src, 4096, false, 0), (src + 4096, 4096, false, 4096)],
    );
    // Make element 1 live outside the registered 32 bytes.
    reg_region(&mut r, 3, list, 32, RD);
    let c = one(&mut r, &blk_request(Opcode::BlkWrite, 20, list, 2, 8192));
    assert_eq!(
        (c.kind, c.status, c.tag, c.bytes),
        (CplKind::BlkDone, Status::ProtFault, 20, 4096)
    );
    assert_fault(&mut r, list + 32, false, 2, 1);
    assert_eq!(r.disk(0, 4096), bytes(5, 8192)[..4096]);
    assert_eq!(
        r.disk(4096, 4096),
        vec![0; 4096],
        "second block not written"
    );
    // The first element itself outside: nothing done.
    let f = foreign(&mut r, 32);
    let c = one(&mut r, &blk_request(Opcode::BlkWrite, 21, f, 1, 4096));
    assert_eq!((c.status, c.bytes), (Status::ProtFault, 0));
    assert_fault(&mut r, f, false, 2, 2);
    assert_eq!(strays(&r), 0);
}

#[test]
fn blk_write_source_outside_returns_prot_fault() {
    let mut r = prot_rig("prot-bw");
    let src = r.alloc(8192);
    r.cpu_write(src, &bytes(6, 8192));
    // READ|WRITE is fine for a source; the second half is outside the region.
    reg_region(&mut r, 2, src, 4096 + 100, RW);
    let list = list_region(&mut r, 3);
    let els = [(src, 4000, false, 0), (src + 4000, 4192, false, 4000)];
    let c = blk_over(&mut r, Opcode::BlkWrite, 30, list, &els);
    assert_eq!((c.status, c.bytes), (Status::ProtFault, 0));
    assert_fault(&mut r, src + 4000, false, 2, 1);
    assert_eq!(r.disk(0, 8192), vec![0; 8192], "the block is not written");
    // A ZERO element's address is never checked.
    let els = [(src, 4000, false, 0), (0xDEAD_0000, 96, true, 4000)];
    let c = blk_over(&mut r, Opcode::BlkWrite, 31, list, &els);
    assert_eq!((c.status, c.bytes), (Status::Ok, 4096));
    assert_eq!(faults(&mut r), 1);
    assert_eq!(strays(&r), 0);
}

#[test]
fn blk_read_destination_outside_returns_prot_fault() {
    let mut r = prot_rig("prot-br");
    r.env.disk.write(0, &bytes(7, 8192)).unwrap();
    let dst = r.alloc(8192);
    r.cpu_write(dst, &[0xEE; 8192]);
    // A read-only region does not allow the write.
    reg_region(&mut r, 2, dst, 4096, WR);
    reg_region(&mut r, 3, dst + 4096, 4096, RD);
    let list = list_region(&mut r, 4);
    let els = [(dst, 4096, false, 0), (dst + 4096, 4096, false, 4096)];
    let c = blk_over(&mut r, Opcode::BlkRead, 40, list, &els);
    assert_eq!((c.status, c.bytes), (Status::ProtFault, 4096));
    assert_fault(&mut r, dst + 4096, true, 2, 1);
    assert_eq!(r.cpu_read(dst, 4096), bytes(7, 4096));
    assert_eq!(r.cpu_read(dst + 4096, 4096), vec![0xEE; 4096]);
    assert_eq!(strays(&r), 0);
}

#[test]
fn an_access_spanning_two_regions_is_refused() {
    let mut r = prot_rig("prot-span");
    let dst = r.alloc(8192);
    reg_region(&mut r, 2, dst, 4096, WR);
    reg_region(&mut r, 3, dst + 4096, 4096, WR);
    r.submit(&anon_post(1, 0, 256, dst + 4096 - 128));
    r.run(2_000);
    r.push(udp_frame(None, REMOTE_PORT, LOCAL_PORT, &bytes(8, 100)));
    r.settle();
    let c = r.wait_cpls(1);
    assert_eq!(c[0].status, Status::ProtFault);
    // DEREG_REGION takes effect: a buffer inside the removed region is refused.
    let c = one(&mut r, &region(Opcode::DeregRegion, 9, 2, 0, 0, NONE));
    assert_eq!(c.status, Status::Ok);
    r.submit(&anon_post(2, 0, 256, dst));
    r.run(2_000);
    r.push(udp_frame(None, REMOTE_PORT, LOCAL_PORT, &bytes(8, 100)));
    r.settle();
    let c = r.wait_cpls(1);
    assert_eq!((c[0].tag, c[0].status), (2, Status::ProtFault));
    assert_eq!(faults(&mut r), 2);
}

/// PROT_EN off: the table is ignored (every access of the rows above goes through).
#[test]
fn prot_en_off_checks_nothing() {
    let mut r = Rig::new("prot-off", cfg(64), 16, 16);
    // Something in the table, but none of the memory below.
    reg_region(&mut r, 0, 0x10_0000_0000, 4096, RW);
    let (hmd, pages) = r.nb_mem(4096);
    let seq = sock_with_nb(&mut r, hmd, 1, 500);
    let data = bytes(9, 500);
    r.send(Seg::at(seq).payload(data.clone()));
    r.settle();
    let c = r.wait_cpls(1);
    assert_eq!((c[0].status, c[0].bytes), (Status::Ok, 500));
    assert_eq!(r.nb_read(&pages, 500), data);
    let a = r.alloc(2048);
    r.submit(&anon_post(3, 0, 2048, a));
    r.run(2_000);
    r.push(udp_frame(Some(5), REMOTE_PORT, LOCAL_PORT, &bytes(1, 64)));
    r.settle();
    assert_eq!(r.wait_cpls(1)[0].status, Status::Ok);
    let src = r.alloc(4096);
    let list = r.alloc(32);
    let c = blk_over(&mut r, Opcode::BlkWrite, 1, list, &[(src, 4096, false, 0)]);
    assert_eq!(c.status, Status::Ok);
    let c = one(&mut r, &blk_request(Opcode::BlkRead, 2, list, 1, 4096));
    assert_eq!(c.status, Status::Ok);
    assert_eq!(faults(&mut r), 0);
    assert_eq!(r.r(reg::STATUS) & 4, 0);
    assert_eq!(strays(&r), 0);
}
