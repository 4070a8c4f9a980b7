//! Hostile request entries, hand-built and put on the request ring with the driver's raw
//! `submit`, on both backends: looping, empty and oversized scatter-gather lists, block counts
//! that are not whole blocks, named-buffer and anonymous-buffer posts out of range, too small or
//! too big, sockets out of range, unknown opcodes. Each one must end in an error completion with
//! the exact status of the contract; afterwards the device still works (a stream goes through
//! the NIC and the NAS writer to disk, checked by sha256), the device never touched memory
//! outside the registered regions, and every buflet is back in the pool.

mod common;

use buflet_driver::regcache::Perms;
use buflet_driver::{Completion, CplKind};
use buflet_nas::ExtentFile;
use buflet_platform::Agent;
use buflet_spec::{param, reg};
use buflet_spec::{AnonDesc, BlkReq, DropReason, NbDesc, Opcode, ReqHdr, SgElem, Status};
use buflet_testbench::{frames, sha256_hex, Backend};
use common::{calls, recorder, Outcomes, Rig, BLOCK};

/// Tags of the hostile requests: far from the driver's own (which count up from 1).
const TAG0: u32 = 0xbad0_0000;

/// Host memory the hostile requests point at, registered by the test through the driver's
/// registration cache, so every list and page is legal memory and only the descriptors are wrong.
struct Scratch {
    /// Scatter-gather elements, one per 32-byte slot.
    sg: u64,
    /// A data page (source of writes, destination of reads).
    data: u64,
    /// A page list naming `data` once.
    hmd: u64,
}

const SG_SLOTS: u64 = 64;

impl Scratch {
    fn new(rig: &mut Rig) -> Scratch {
        let mem = &mut rig.drv.env.mem;
        let sg = mem.alloc(SG_SLOTS * SgElem::SIZE as u64, 64).unwrap();
        let data = mem.alloc(4 * BLOCK, BLOCK).unwrap();
        let hmd = mem.alloc(8, 64).unwrap();
        mem.write(Agent::Cpu, hmd, &data.to_le_bytes()).unwrap();
        mem.write(Agent::Cpu, data, &frames::payload(3, 4 * BLOCK as usize))
            .unwrap();
        // Registered through the driver's cache (acquired for good), so that the driver also
        // puts them in the device protection table.
        let d = &mut rig.drv;
        d.reg_acquire(sg, SG_SLOTS * SgElem::SIZE as u64, Perms::READ)
            .unwrap();
        d.reg_acquire(data, 4 * BLOCK, Perms::RW).unwrap();
        d.reg_acquire(hmd, 8, Perms::READ).unwrap();
        Scratch { sg, data, hmd }
    }

    /// Address of element slot `k`.
    fn slot(&self, k: u64) -> u64 {
        self.sg + k * SgElem::SIZE as u64
    }

    /// Write element slot `k` (no flags).
    fn elem(&self, rig: &mut Rig, k: u64, src: u64, len: u64, disk: u64, next: u64) {
        let e = SgElem {
            src_addr: src,
            len: u32::try_from(len).unwrap(),
            disk_addr: disk,
            next,
            ..Default::default()
        };
        let slot = self.slot(k);
        rig.drv
            .env
            .mem
            .write(Agent::Cpu, slot, &e.to_bytes())
            .unwrap();
    }
}

fn blk(opcode: Opcode, tag: u32, sg_addr: u64, sg_max: u64, bytes: u64) -> [u8; 64] {
    BlkReq {
        opcode,
        tag,
        sg_addr,
        sg_max: u32::try_from(sg_max).unwrap(),
        bytes: u32::try_from(bytes).unwrap(),
        ..Default::default()
    }
    .to_bytes()
}

fn nb_post(tag: u32, sock: u16, ref_num: u32, total: u32, hmd: u64, pages: u32) -> [u8; 64] {
    NbDesc {
        opcode: Opcode::NbPost,
        sock_ref: sock,
        tag,
        ref_num,
        total_bytes: total,
        next_nb: param::NULL16 as u16,
        prev_nb: param::NULL16 as u16,
        hmd_addr: hmd,
        hmd_pages: pages,
        ..Default::default()
    }
    .to_bytes()
}

fn anon_post(tag: u32, ref_num: u32, len: u32, addr: u64) -> [u8; 64] {
    AnonDesc::post(tag, ref_num, len, addr).to_bytes()
}

/// A bare request header with any opcode byte (known or not).
fn raw(opcode: u8, tag: u32) -> [u8; 64] {
    ReqHdr {
        opcode,
        tag,
        ..Default::default()
    }
    .to_bytes()
}

/// `entry` with its header's TAG set to `tag` (the rest of the entry unchanged).
fn tagged(mut entry: [u8; 64], tag: u32) -> [u8; 64] {
    let mut h = ReqHdr::parse(&entry).unwrap();
    h.tag = tag;
    h.emit(&mut entry);
    entry
}

/// Submit `entry` (tagged `tag`) and wait for its completion; no other completion may come.
fn complete(rig: &mut Rig, entry: &[u8; 64], tag: u32, what: &str) -> Completion {
    rig.drv.submit(entry).unwrap();
    wait_tag(rig, tag, what)
}

/// One hostile case: the request, and the completion kind and status it must end with.
struct Case {
    what: String,
    entry: [u8; 64],
    kind: CplKind,
    status: Status,
    /// Largest BYTES the completion may report (block requests: bounded by SG_MAX).
    max_bytes: u32,
}

fn check(rig: &mut Rig, cases: Vec<Case>) {
    let errors0 = rig.drv.rd(reg::CNT_REQ_ERRORS);
    let n = cases.len() as u32;
    for (i, c) in cases.into_iter().enumerate() {
        let tag = TAG0 + i as u32;
        let entry = tagged(c.entry, tag);
        let got = complete(rig, &entry, tag, &c.what);
        assert_eq!(
            (got.kind, got.status),
            (c.kind, c.status),
            "{}: {}: {got:?}",
            rig.drv.backend(),
            c.what
        );
        assert_eq!(
            got.opcode,
            ReqHdr::parse(&entry).unwrap().opcode,
            "{}: opcode echoed",
            c.what
        );
        assert!(
            got.bytes <= c.max_bytes,
            "{}: {} bytes, at most {}",
            c.what,
            got.bytes,
            c.max_bytes
        );
        assert_eq!(
            rig.drv.env.mem.stats().stray_accesses,
            0,
            "{}: stray access",
            c.what
        );
    }
    assert_eq!(
        rig.drv.rd(reg::CNT_REQ_ERRORS) - errors0,
        n,
        "every one an error"
    );
}

/// After the hostile requests: a stream through the NIC and the NAS writer to disk, checked
/// by sha256, then the rig's own end checks (buflets all free, no stray access).
fn still_works(mut rig: Rig, seed: u64) {
    let total = 200_000usize;
    let data = frames::payload(seed, total);
    rig.receive(&data, false);
    let file = ExtentFile {
        disk_start: 64 * BLOCK,
        capacity: 64 * BLOCK,
    };
    let out = Outcomes::default();
    rig.nas
        .write(&mut rig.drv, &file, 0, 0, total as u64, recorder(&out, 0))
        .unwrap();
    rig.settle();
    assert_eq!(calls(&out, 0), 1);
    assert!(out.borrow()[0].1.is_ok(), "{:?}", out.borrow()[0].1);
    let disk = rig.disk(file.disk_start, total as u64);
    assert_eq!(sha256_hex(&disk), sha256_hex(&data), "disk != stream");
    assert_eq!(rig.drv.env.mem.stats().stray_accesses, 0);
    rig.finish();
}

/// Scatter-gather lists: a loop bounded by SG_MAX (write and read) or by BYTES, zero and huge
/// element lengths, BYTES zero or not whole blocks, SG_MAX 0.
fn hostile_sg(backend: Backend) {
    let mut rig = Rig::new(backend, "hostile-sg", 128 * BLOCK, 16, 4);
    let s = Scratch::new(&mut rig);
    let bs = |c: &str, entry, max_bytes| Case {
        what: c.to_string(),
        entry,
        kind: CplKind::BlkDone,
        status: Status::BadSg,
        max_bytes,
    };
    let mut cases = Vec::new();
    // Slot 0: one whole block at disk block 0 whose NEXT points back at itself.
    s.elem(&mut rig, 0, s.data, BLOCK, 0, s.slot(0));
    let big = 64 * BLOCK;
    for sg_max in [1u64, 8] {
        for opcode in [Opcode::BlkWrite, Opcode::BlkRead] {
            cases.push(bs(
                &format!("op {opcode}: a list looping on itself, SG_MAX {sg_max}"),
                blk(opcode, 0, s.slot(0), sg_max, big),
                (sg_max * BLOCK) as u32,
            ));
        }
    }
    cases.push(bs(
        "a loop with no SG_MAX bound ends at BYTES",
        blk(Opcode::BlkWrite, 0, s.slot(0), u32::MAX as u64, 4 * BLOCK),
        (4 * BLOCK) as u32,
    ));
    // Slots 1, 2: a two-element cycle of half blocks (1 -> 2 -> 1 ...), each pass a valid
    // block at disk block 0: only SG_MAX ends it.
    s.elem(&mut rig, 1, s.data, 2048, 0, s.slot(2));
    s.elem(&mut rig, 2, s.data + 2048, 2048, 2048, s.slot(1));
    cases.push(bs(
        "a two-element cycle",
        blk(Opcode::BlkWrite, 0, s.slot(1), 5, big),
        (2 * BLOCK) as u32,
    ));
    // Slot 3: zero length; slot 4: 65537 bytes; slot 5: u32::MAX bytes.
    s.elem(&mut rig, 3, s.data, 0, 0, 0);
    s.elem(&mut rig, 4, s.data, 65_537, 0, 0);
    s.elem(&mut rig, 5, s.data, u32::MAX as u64, 0, 0);
    for (slot, what) in [
        (3, "a zero-length element"),
        (4, "a 65537-byte element"),
        (5, "a 4 GiB element"),
    ] {
        for opcode in [Opcode::BlkWrite, Opcode::BlkRead] {
            cases.push(bs(
                &format!("op {opcode}: {what}"),
                blk(opcode, 0, s.slot(slot), 4, 32 * BLOCK),
                0,
            ));
        }
    }
    // Slot 6: a valid single block list.
    s.elem(&mut rig, 6, s.data, BLOCK, 0, 0);
    for (bytes, what) in [
        (0, "BYTES 0"),
        (4095, "BYTES 4095"),
        (BLOCK + 1, "BYTES one block plus one"),
        (BLOCK + 512, "BYTES not a multiple of 4096"),
    ] {
        for opcode in [Opcode::BlkWrite, Opcode::BlkRead] {
            cases.push(bs(
                &format!("op {opcode}: {what}"),
                blk(opcode, 0, s.slot(6), 4, bytes),
                bytes as u32 & !(BLOCK as u32 - 1),
            ));
        }
    }
    for opcode in [Opcode::BlkWrite, Opcode::BlkRead] {
        cases.push(bs(
            &format!("op {opcode}: SG_MAX 0"),
            blk(opcode, 0, s.slot(6), 0, BLOCK),
            0,
        ));
    }
    check(&mut rig, cases);
    still_works(rig, 0x4057_0001);
}

/// Named-buffer and anonymous-buffer posts, sockets out of range, unknown opcodes.
fn hostile_posts(backend: Backend) {
    let mut rig = Rig::new(backend, "hostile-posts", 128 * BLOCK, 16, 4);
    let s = Scratch::new(&mut rig);
    let info = rig.drv.info.clone();
    let sock = rig.sock;
    let page = info.page_bytes;
    let cmd = |c: String, entry, status| Case {
        what: c,
        entry,
        kind: CplKind::CmdDone,
        status,
        max_bytes: 0,
    };
    let mut cases = Vec::new();
    // A free named-buffer slot: the stream holds 0..16.
    let free_nb = info.num_nbs - 1;
    assert!(free_nb >= 16);
    for (what, e) in [
        ("HMD_PAGES 0", nb_post(0, sock, free_nb, 4096, s.hmd, 0)),
        (
            "TOTAL_BYTES above HMD_PAGES * 4096",
            nb_post(0, sock, free_nb, page + 1, s.hmd, 1),
        ),
        (
            "TOTAL_BYTES 4 GiB - 1 with one page",
            nb_post(0, sock, free_nb, u32::MAX, s.hmd, 1),
        ),
        ("TOTAL_BYTES 0", nb_post(0, sock, free_nb, 0, s.hmd, 1)),
        (
            "REF_NUM = NUM_NBS",
            nb_post(0, sock, info.num_nbs, 4096, s.hmd, 1),
        ),
        (
            "REF_NUM 0xFFFFFFFF",
            nb_post(0, sock, u32::MAX, 4096, s.hmd, 1),
        ),
        (
            "REF_NUM of a buffer already posted",
            nb_post(0, sock, 0, 4096, s.hmd, 1),
        ),
    ] {
        cases.push(cmd(format!("NB_POST: {what}"), e, Status::BadNb));
    }
    for (what, e) in [
        (
            "SOCK_REF = NUM_SOCKETS",
            nb_post(0, info.num_sockets as u16, free_nb, 4096, s.hmd, 1),
        ),
        (
            "SOCK_REF 0xFFFF",
            nb_post(0, 0xFFFF, free_nb, 4096, s.hmd, 1),
        ),
        (
            "a socket slot not in use",
            nb_post(
                0,
                (sock + 1) % info.num_sockets as u16,
                free_nb,
                4096,
                s.hmd,
                1,
            ),
        ),
    ] {
        cases.push(cmd(format!("NB_POST: {what}"), e, Status::BadSock));
    }
    for (what, e) in [
        (
            "REF_NUM = NUM_ANON",
            anon_post(0, info.num_anon, 256, s.data),
        ),
        ("REF_NUM 0xFFFFFFFF", anon_post(0, u32::MAX, 256, s.data)),
        (
            "LEN below ANON_MIN_LEN",
            anon_post(0, 0, param::ANON_MIN_LEN as u32 - 1, s.data),
        ),
        ("LEN 0", anon_post(0, 0, 0, s.data)),
        (
            "LEN above ANON_MAX_LEN",
            anon_post(0, 0, param::ANON_MAX_LEN as u32 + 1, s.data),
        ),
        ("LEN 4 GiB - 1", anon_post(0, 0, u32::MAX, s.data)),
    ] {
        cases.push(cmd(format!("ANON_POST: {what}"), e, Status::BadNb));
    }
    let del = ReqHdr {
        opcode: Opcode::SockDel.code(),
        sock_ref: info.num_sockets as u16,
        ..Default::default()
    }
    .to_bytes();
    cases.push(cmd(
        "SOCK_DEL: SOCK_REF = NUM_SOCKETS".into(),
        del,
        Status::BadSock,
    ));
    // 0, the first opcode past the spec's, and two far ones.
    let past = Opcode::ALL.iter().map(|o| o.code()).max().unwrap_or(0) + 1;
    for opcode in [0u8, past, 0x7f, 0xff] {
        cases.push(cmd(
            format!("unknown opcode {opcode}"),
            raw(opcode, 0),
            Status::BadOpcode,
        ));
    }
    check(&mut rig, cases);
    still_works(rig, 0x4057_0002);
}

/// The driver programs the device protection table from its registration cache (rings,
/// scratch memory, the rig's buffers) and has set `CTRL.PROT_EN`.
fn protected(rig: &mut Rig) {
    assert!(
        rig.drv.protected() && rig.drv.rd(reg::CTRL) & 2 != 0,
        "{}: the driver does not program a protection table (NUM_REGIONS {})",
        rig.drv.backend(),
        rig.drv.info.num_regions
    );
}

/// Scatter-gather elements (and a list) in memory nobody registered. The device checks its protection table before touching
/// memory: each request fails with `PROT_FAULT`, 0 bytes, and there is no stray access.
/// Afterwards the device still works through the driver path, protection still on (the driver
/// keeps the table in line with its registration cache).
fn unregistered_sources(backend: Backend) {
    let mut rig = Rig::new(backend, "hostile-unreg", 128 * BLOCK, 16, 4);
    let s = Scratch::new(&mut rig);
    let loose = rig.drv.env.mem.alloc(BLOCK, BLOCK).unwrap();
    // Slot 0: a write from an unregistered page; slot 1: a read into it.
    s.elem(&mut rig, 0, loose, BLOCK, 0, 0);
    s.elem(&mut rig, 1, loose, BLOCK, 0, 0);
    let loose_list = rig.drv.env.mem.alloc(64, 64).unwrap();
    protected(&mut rig);
    let cases = [
        (
            "write from unregistered memory",
            blk(Opcode::BlkWrite, 0, s.slot(0), 1, BLOCK),
        ),
        (
            "read into unregistered memory",
            blk(Opcode::BlkRead, 0, s.slot(1), 1, BLOCK),
        ),
        (
            "list in unregistered memory",
            blk(Opcode::BlkWrite, 0, loose_list, 1, BLOCK),
        ),
    ];
    let mut wrong = Vec::new();
    let mut check = |what: &str, c: &Completion, stray: u64, kind: CplKind| {
        if c.kind != kind || c.status != Status::ProtFault || c.bytes != 0 || stray != 0 {
            wrong.push(format!(
                "{what}: kind {:?} status {} bytes {} stray accesses {stray}",
                c.kind, c.status, c.bytes
            ));
        }
    };
    for (i, (what, e)) in cases.into_iter().enumerate() {
        let tag = TAG0 + 0x100 + i as u32;
        let e = tagged(e, tag);
        let stray0 = rig.drv.env.mem.stats().stray_accesses;
        let c = complete(&mut rig, &e, tag, what);
        let stray = rig.drv.env.mem.stats().stray_accesses - stray0;
        check(what, &c, stray, CplKind::BlkDone);
    }
    assert!(
        wrong.is_empty(),
        "{}: the device touched unregistered memory or did not fail: {wrong:#?}",
        rig.drv.backend()
    );
    assert!(rig.drv.rd(reg::STATUS) & 4 == 0, "no ring fault");
    assert_eq!(rig.drv.rd(reg::CNT_PROT_FAULTS), 3, "one fault per request");
    still_works(rig, 0x4057_0003);
}

/// An anonymous buffer in unregistered memory: the frame for no socket is dropped (under
/// NO_SOCKET) and the buffer comes back `ANON_RX PROT_FAULT`, 0 bytes, no stray access; a buffer
/// inside the table then receives the next frame with protection still on.
fn unregistered_anon(backend: Backend) {
    let mut rig = Rig::new(backend, "hostile-unreg-anon", 128 * BLOCK, 16, 4);
    let s = Scratch::new(&mut rig);
    let loose = rig.drv.env.mem.alloc(BLOCK, BLOCK).unwrap();
    protected(&mut rig);
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 1, 0, 9], [10, 1, 0, 2], 64)
        .udp(5000, 5001)
        .write(&mut f, &[0x5a; 200])
        .unwrap();
    for (i, (addr, st)) in [(loose, Status::ProtFault), (s.data, Status::Ok)]
        .into_iter()
        .enumerate()
    {
        let tag = TAG0 + 0x110 + i as u32;
        let stray0 = rig.drv.env.mem.stats().stray_accesses;
        rig.drv
            .submit(&anon_post(tag, 0, BLOCK as u32, addr))
            .unwrap();
        // The post (after the rig's own requests and the driver's region requests) is fetched
        // before the frame arrives.
        for _ in 0..1000 {
            if rig.drv.rd(reg::REQ_HEAD) == rig.drv.rd(reg::REQ_TAIL) {
                break;
            }
            rig.drv.run(1_000);
        }
        rig.drv.run(2_000);
        rig.wire.send(f.clone());
        let c = wait_tag(&mut rig, tag, "anonymous buffer");
        assert_eq!(rig.drv.env.mem.stats().stray_accesses - stray0, 0);
        let bytes = if st == Status::Ok { f.len() as u32 } else { 0 };
        assert_eq!((c.kind, c.status, c.bytes), (CplKind::AnonRx, st, bytes));
    }
    assert_eq!(rig.drv.drop_count(DropReason::NoSocket), 1);
    assert_eq!(rig.drv.rd(reg::STATUS) & 4, 0, "no ring fault");
}

/// Wait for the completion tagged `tag` (no other may come).
fn wait_tag(rig: &mut Rig, tag: u32, what: &str) -> Completion {
    for _ in 0..500 {
        let cs = rig.drv.wait(20_000).unwrap();
        assert!(cs.len() <= 1, "{what}: unexpected completions {cs:?}");
        if let Some(c) = cs.into_iter().next() {
            assert_eq!(
                c.tag, tag,
                "{what}: a completion for another request: {c:?}"
            );
            return c;
        }
    }
    panic!("{what}: no completion");
}

buflet_testbench::backend_tests! {
    hostile_sg => hostile_sg_model(), hostile_sg_rtl();
    hostile_posts => hostile_posts_model(), hostile_posts_rtl();
    unregistered_sources => unregistered_sources_model(), unregistered_sources_rtl();
    unregistered_anon => unregistered_anon_model(), unregistered_anon_rtl();
}
