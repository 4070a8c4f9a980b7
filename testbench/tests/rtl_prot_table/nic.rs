//! Tests of the whole `buflet_nic` top at 64 and 512 bits, with protection on: refused ring
//! accesses (fatal), a refused anonymous buffer, refused named-buffer page lists and pages.

use crate::*;

/// The ring accesses are checked only by dma_guard, and a refusal is fatal: a refused request
/// fetch reads nothing and leaves REQ_HEAD; a refused completion write writes nothing, leaves
/// CPL_TAIL and keeps the completion, which is posted once CTRL.ENABLE has been cleared and set
/// again (docs/protection.md).
pub fn nic_ring_faults(model: &str) {
    use buflet_spec::reg;
    let mut h = NicHost::new(model);
    let (req, cq) = (0x1000u64, 0x2000u64);
    let nop = |tag| {
        ReqHdr {
            opcode: Opcode::Nop.code(),
            tag,
            ..Default::default()
        }
        .to_bytes()
    };
    let reg_req = RegionDesc {
        opcode: Opcode::RegRegion,
        tag: 8,
        slot: 0,
        base: req,
        len: 0x100,
        flags: RegionPerm::READ,
        ..Default::default()
    };
    h.rings(req, cq, 4, &[nop(7), reg_req.to_bytes(), nop(9)]);
    h.wr(reg::IRQ_MASK, 2);
    // protection on, no region: the first ring fetch is refused
    h.post(3, 1, 200);
    assert!(h.host_reads.is_empty(), "refused fetch reached the host");
    assert!(h.host_writes.is_empty());
    assert_eq!(h.rd(reg::STATUS), 7, "READY | ENABLED | FAULT");
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 1);
    assert_eq!(h.rd(reg::PROT_FAULT_ADDR_LO), req as u32);
    assert_eq!(h.rd(reg::PROT_FAULT_ADDR_HI), 0);
    assert_eq!(
        h.rd(reg::PROT_FAULT_INFO),
        0x0000,
        "read, requester 0 (request fetch)"
    );
    assert_eq!(h.rd(reg::REQ_HEAD), 0);
    assert_eq!(h.rd(reg::IRQ_STATUS) & 2, 2);
    h.m.eval();
    assert_eq!(h.m.get(h.p.irq), 1);
    // ENABLE cleared then set (protection off): the entry is fetched and completed
    h.wr(reg::CTRL, 0);
    assert_eq!(h.rd(reg::STATUS) & 4, 0, "FAULT cleared by CTRL.ENABLE 0");
    h.post(1, 2, 400);
    assert_eq!(h.rd(reg::REQ_HEAD), 2);
    assert_eq!(h.rd(reg::CPL_TAIL), 2);
    let c0 = Cpl::parse(&h.mem[cq as usize..]).unwrap();
    assert_eq!(
        (c0.kind, c0.status, c0.tag),
        (CplKind::CmdDone, Status::Ok, 7)
    );
    let c1 = Cpl::parse(&h.mem[cq as usize + 32..]).unwrap();
    assert_eq!(
        (c1.status, c1.tag, c1.opcode),
        (Status::Ok, 8, Opcode::RegRegion.code())
    );
    // protection on with only the request ring registered (READ): the fetch is allowed, the
    // completion write is refused
    let (nr, nw) = (h.host_reads.len(), h.host_writes.len());
    h.post(3, 3, 400);
    assert_eq!(h.host_reads.len(), nr + 1, "the fetch is inside the region");
    assert_eq!(
        h.host_writes.len(),
        nw,
        "refused completion write reached the host"
    );
    assert_eq!(h.rd(reg::REQ_HEAD), 3);
    assert_eq!(
        h.rd(reg::CPL_TAIL),
        2,
        "the refused completion is not posted"
    );
    assert_eq!(h.rd(reg::STATUS), 7);
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 2);
    assert_eq!(h.rd(reg::PROT_FAULT_ADDR_LO), (cq + 64) as u32);
    assert_eq!(
        h.rd(reg::PROT_FAULT_INFO),
        0x0101,
        "write, requester 1 (completion writer)"
    );
    assert!(h.mem[cq as usize + 64..][..32].iter().all(|&b| b == 0));
    // cleared and re-enabled without protection: the kept completion is posted
    h.wr(reg::CTRL, 0);
    h.wr(reg::CTRL, 1);
    h.run(200);
    assert_eq!(h.rd(reg::CPL_TAIL), 3);
    let c2 = Cpl::parse(&h.mem[cq as usize + 64..]).unwrap();
    assert_eq!(
        (c2.kind, c2.status, c2.tag),
        (CplKind::CmdDone, Status::Ok, 9)
    );
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 2);
}

pub fn nic_ring_faults_w64() {
    nic_ring_faults("buflet_nic_w64");
}

pub fn nic_ring_faults_w512() {
    nic_ring_faults("buflet_nic_w512");
}

/// An anonymous buffer outside the registered regions is refused before any write: ANON_RX
/// {PROT_FAULT, BYTES 0}, the frame dropped under its own reason (NO_SOCKET), a fault recorded
/// (write, requester 0, toe_engine), not fatal; the next buffer (registered) gets the next frame.
pub fn nic_anon_refused(model: &str) {
    use buflet_spec::{reg, AnonDesc};
    use etherparse::PacketBuilder;
    let mut h = NicHost::new(model);
    let (req, cq, bad, good) = (0x1000u64, 0x2000u64, 0x8000u64, 0x9000u64);
    let mut e = region_reqs(&[
        (req, 0x200, RegionPerm::READ),
        (cq, 0x100, RegionPerm::WRITE),
        (good, 2048, RegionPerm::WRITE),
    ]);
    for (k, addr) in [bad, good].into_iter().enumerate() {
        e.push(
            AnonDesc {
                opcode: Opcode::AnonPost,
                tag: 100 + k as u32,
                ref_num: k as u32,
                len: 2048,
                addr,
                ..Default::default()
            }
            .to_bytes(),
        );
    }
    h.rings(req, cq, 8, &e);
    h.post(1, 5, 600);
    assert_eq!(h.rd(reg::CPL_TAIL), 3, "three CMD_DONE");
    h.wr(reg::CTRL, 3);
    let frame = |n: u8| {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000 + n as u16, 2000);
        let mut v = Vec::new();
        b.write(&mut v, &[n; 40]).unwrap();
        v
    };
    let nw = h.host_writes.len();
    h.send_frame(&frame(1));
    h.run(600);
    assert!(
        h.host_writes[nw..].iter().all(|&a| a != bad),
        "write into the refused buffer"
    );
    assert_eq!(h.rd(reg::CPL_TAIL), 4);
    let c = Cpl::parse(&h.mem[cq as usize + 3 * 32..]).unwrap();
    assert_eq!(
        (c.kind, c.status, c.tag, c.ref_num, c.bytes),
        (CplKind::AnonRx, Status::ProtFault, 100, 0, 0)
    );
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 1);
    assert_eq!(h.rd(reg::PROT_FAULT_ADDR_LO), bad as u32);
    assert_eq!(
        h.rd(reg::PROT_FAULT_INFO),
        0x0001,
        "write, requester 0 (toe_engine)"
    );
    assert_eq!(
        h.rd(reg::CNT_DROP_NO_SOCKET),
        1,
        "dropped under its own reason"
    );
    assert_eq!(h.rd(reg::CNT_ANON_RX), 0);
    assert_eq!(h.rd(reg::STATUS), 3, "not fatal");
    let f2 = frame(2);
    h.send_frame(&f2);
    h.run(600);
    assert_eq!(h.rd(reg::CPL_TAIL), 5);
    let c = Cpl::parse(&h.mem[cq as usize + 4 * 32..]).unwrap();
    assert_eq!(
        (c.kind, c.status, c.tag, c.bytes),
        (CplKind::AnonRx, Status::Ok, 101, f2.len() as u32)
    );
    assert_eq!(&h.mem[good as usize..][..f2.len()], &f2[..]);
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 1);
    assert_eq!(h.rd(reg::CNT_ANON_RX), 1);
    assert_eq!(h.rd(reg::CNT_DROP_NO_SOCKET), 1);
}

pub fn nic_anon_refused_w64() {
    nic_anon_refused("buflet_nic_w64");
}

pub fn nic_anon_refused_w512() {
    nic_anon_refused("buflet_nic_w512");
}

/// Named-buffer delivery (a UDP socket, so no handshake is needed): a page list outside the
/// regions (READ) and then a page outside them (WRITE) each return the head NB `PROT_FAULT`
/// with BYTES 0 and nothing written; the datagram stays and goes into the third NB, whose list
/// and page are registered.
pub fn nic_nb_refused(model: &str) {
    use buflet_spec::{reg, IpProto, NbDesc, SockDesc};
    use etherparse::PacketBuilder;
    let mut h = NicHost::new(model);
    let (req, cq) = (0x1000u64, 0x2000u64);
    let (list_bad, list_ok, page_ok, page_bad) = (0x6000u64, 0x5000u64, 0xA000u64, 0xB000u64);
    h.mem[list_ok as usize..][..8].copy_from_slice(&page_ok.to_le_bytes());
    h.mem[list_ok as usize + 8..][..8].copy_from_slice(&page_bad.to_le_bytes());
    h.mem[list_bad as usize..][..8].copy_from_slice(&page_ok.to_le_bytes());
    let (nic_mac, peer_mac) = ([2u8, 0, 0, 0, 0, 2], [2u8, 0, 0, 0, 0, 1]);
    let (nic_ip, peer_ip) = ([10u8, 0, 0, 2], [10u8, 0, 0, 1]);
    let mut e = region_reqs(&[
        (req, 0x400, RegionPerm::READ),
        (cq, 0x200, RegionPerm::WRITE),
        (list_ok, 16, RegionPerm::READ),
        (page_ok, 4096, RegionPerm::WRITE),
    ]);
    e.push(
        SockDesc {
            opcode: Opcode::SockAdd,
            sock_ref: 1,
            tag: 50,
            local_mac: nic_mac,
            remote_mac: peer_mac,
            proto: IpProto::Udp.code(),
            local_ip: nic_ip.into(),
            remote_ip: peer_ip.into(),
            local_port: 2000,
            remote_port: 1000,
            rcv_buf: 65536,
            mss: 1460,
            ..Default::default()
        }
        .to_bytes(),
    );
    // three NBs in order: list refused, page refused, both registered
    for (k, (hmd, tag)) in [(list_bad, 200u32), (list_ok + 8, 201), (list_ok, 202)]
        .into_iter()
        .enumerate()
    {
        e.push(
            NbDesc {
                opcode: Opcode::NbPost,
                sock_ref: 1,
                tag,
                ref_num: k as u32,
                total_bytes: 2048,
                hmd_addr: hmd,
                hmd_pages: 1,
                ..Default::default()
            }
            .to_bytes(),
        );
    }
    h.rings(req, cq, 16, &e);
    // the regions are registered with protection off, the rest runs with it on
    h.post(1, 4, 800);
    h.post(3, 8, 1500);
    assert_eq!(h.rd(reg::REQ_HEAD), 8);
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 0, "setup faulted");
    let b = PacketBuilder::ethernet2(peer_mac, nic_mac)
        .ipv4(peer_ip, nic_ip, 64)
        .udp(1000, 2000);
    let mut f = Vec::new();
    b.write(&mut f, &[0x5A; 100]).unwrap();
    h.send_frame(&f);
    h.run(3000);
    assert!(
        !h.host_writes
            .iter()
            .any(|&a| (page_bad..page_bad + 4096).contains(&a)),
        "write into a refused page"
    );
    assert!(
        !h.host_reads.contains(&list_bad),
        "read of a refused page list"
    );
    let tail = h.rd(reg::CPL_TAIL) as usize;
    let cpls: Vec<Cpl> = (0..tail)
        .map(|i| Cpl::parse(&h.mem[cq as usize + 32 * i..]).unwrap())
        .collect();
    let ret = |tag: u32| {
        let c = cpls
            .iter()
            .find(|c| c.kind == CplKind::NbReturn && c.tag == tag)
            .unwrap_or_else(|| panic!("no NB_RETURN for tag {tag}"));
        (c.status, c.bytes)
    };
    assert_eq!(ret(200), (Status::ProtFault, 0));
    assert_eq!(ret(201), (Status::ProtFault, 0));
    let (st, n) = ret(202);
    assert_eq!(st, Status::Ok);
    assert!(
        n >= 100,
        "the datagram went into the registered NB ({n} bytes)"
    );
    assert!(h.host_writes.contains(&page_ok));
    assert_eq!(h.rd(reg::CNT_PROT_FAULTS), 2);
    assert_eq!(
        h.rd(reg::PROT_FAULT_ADDR_LO),
        page_bad as u32,
        "the last fault: the page"
    );
    assert_eq!(
        h.rd(reg::PROT_FAULT_INFO),
        0x0001,
        "write, requester 0 (toe_engine)"
    );
    assert_eq!(h.rd(reg::STATUS), 3, "not fatal");
}

pub fn nic_nb_refused_w64() {
    nic_nb_refused("buflet_nic_w64");
}

pub fn nic_nb_refused_w512() {
    nic_nb_refused("buflet_nic_w512");
}
