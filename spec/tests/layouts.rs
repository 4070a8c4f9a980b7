//! The typed layouts agree with the offset tables the Verilog and the docs are rendered from:
//! every field lands where `LAYOUTS` says, parse and emit round-trip, and bad input is an error.

use buflet_spec::*;

/// Deterministic non-zero filler (no rand dependency in the spec crate).
fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
        .collect()
}

/// Bytes that some field of the layout covers.
fn covered(l: &Layout) -> Vec<bool> {
    let mut c = vec![false; l.size];
    for f in l.fields {
        c[f.offset..f.offset + f.bytes]
            .iter_mut()
            .for_each(|b| *b = true);
    }
    c
}

#[test]
fn plain_fields_land_at_their_offsets() {
    let mut b = [0u8; 64];
    let d = SockDesc {
        opcode: Opcode::SockAdd,
        flags: SockFlags::HOLD | SockFlags::PSH_RETURN,
        sock_ref: 0x1234,
        tag: 0xDEAD_BEEF,
        local_mac: [2, 0, 0, 0, 0, 9],
        local_ip: "10.77.0.2".parse().unwrap(),
        remote_port: 445,
        rcv_buf: 1 << 20,
        ..Default::default()
    };
    d.emit(&mut b);
    assert_eq!(b[0], op::SOCK_ADD as u8);
    assert_eq!(b[1], 3);
    assert_eq!(&b[2..4], &0x1234u16.to_le_bytes());
    assert_eq!(&b[4..8], &0xDEAD_BEEFu32.to_le_bytes());
    let (off, n) = sock_desc::LOCAL_MAC;
    assert_eq!(
        &b[off..off + n],
        &[2, 0, 0, 0, 0, 9],
        "MAC bytes in wire order"
    );
    let (off, _) = sock_desc::LOCAL_IP;
    assert_eq!(
        &b[off..off + 4],
        &0x0A4D_0002u32.to_le_bytes(),
        "IPv4 as its numeric value"
    );
    assert_eq!(SockDesc::parse(&b).unwrap(), d);
}

#[test]
fn every_layout_round_trips_through_parse_and_emit() {
    // Enum fields need valid codes: set them, then check every covered byte survives.
    for (i, l) in LAYOUTS.iter().enumerate() {
        let mut b = pattern(l.size, i as u8);
        for f in l.fields {
            if matches!(
                (l.name, f.name),
                (_, "OPCODE") | ("cpl", "KIND") | ("cpl", "STATUS") | ("sock_ctx", "STATE")
            ) {
                b[f.offset] = 1;
            }
        }
        let cov = covered(l);
        let mut out = vec![0u8; l.size];
        let ok = match l.name {
            "req_hdr" => ReqHdr::parse(&b).map(|v| v.emit(&mut out)),
            "sock_desc" => SockDesc::parse(&b).map(|v| v.emit(&mut out)),
            "listen_desc" => ListenDesc::parse(&b).map(|v| v.emit(&mut out)),
            "sock_ctx" => SockCtx::parse(&b).map(|v| v.emit(&mut out)),
            "nb_desc" => NbDesc::parse(&b).map(|v| v.emit(&mut out)),
            "blk_req" => BlkReq::parse(&b).map(|v| v.emit(&mut out)),
            "region_desc" => RegionDesc::parse(&b).map(|v| v.emit(&mut out)),
            "anon_desc" => AnonDesc::parse(&b).map(|v| v.emit(&mut out)),
            "sg_elem" => SgElem::parse(&b).map(|v| v.emit(&mut out)),
            "hold_rec" => HoldRec::parse(&b).map(|v| v.emit(&mut out)),
            "buf_release" => BufRelease::parse(&b).map(|v| v.emit(&mut out)),
            "cpl" => Cpl::parse(&b).map(|v| v.emit(&mut out)),
            "buflet_hdr" => BufletHdr::parse(&b).map(|v| v.emit(&mut out)),
            "tx_cmd" => TxCmd::parse(&b).map(|v| v.emit(&mut out)),
            "tx_desc" => TxDesc::parse(&b).map(|v| v.emit(&mut out)),
            "snd_ctx" => SndCtx::parse(&b).map(|v| v.emit(&mut out)),
            other => panic!("layout {other} has no typed struct in this test"),
        };
        ok.unwrap_or_else(|e| panic!("{}: {e}", l.name));
        for k in 0..l.size {
            if cov[k] {
                assert_eq!(out[k], b[k], "{} byte {k}", l.name);
            } else {
                assert_eq!(out[k], 0, "{} byte {k} is no field's", l.name);
            }
        }
    }
}

#[test]
fn short_buffers_and_unknown_codes_are_errors() {
    assert_eq!(
        Cpl::parse(&[0u8; 31]),
        Err(LayoutError::Truncated {
            layout: "cpl",
            need: 32,
            got: 31
        })
    );
    let mut e = Cpl {
        kind: CplKind::NbReturn,
        ..Default::default()
    }
    .to_bytes();
    e[0] = 0x7F;
    match Cpl::parse(&e) {
        Err(LayoutError::BadValue {
            field: "KIND",
            value: 0x7F,
            ..
        }) => {}
        other => panic!("expected a bad KIND, got {other:?}"),
    }
    e[0] = cpl_kind::BLK_DONE as u8;
    e[1] = 200;
    assert!(matches!(
        Cpl::parse(&e),
        Err(LayoutError::BadValue {
            field: "STATUS",
            value: 200,
            ..
        })
    ));
    // flags keep unknown bits: the device, not the parser, decides about them
    let mut s = SgElem::default().to_bytes();
    s[12] = 0x80;
    assert_eq!(SgElem::parse(&s).unwrap().flags.bits(), 0x80);
    // tx_cmd KIND is a raw byte (tx_builder builds an unknown kind as a TCP segment)
    let mut t = TxCmd::default().to_bytes();
    t[tx_cmd::KIND.0] = 0x7F;
    let t = TxCmd::parse(&t).unwrap();
    assert_eq!((t.kind, t.kind()), (0x7F, Err(0x7F)));
    let arp = TxCmd {
        kind: TxKind::Arp.code(),
        ..Default::default()
    };
    assert_eq!(arp.kind(), Ok(TxKind::Arp));
}

#[test]
fn codes_round_trip_and_match_their_constants() {
    for o in Opcode::ALL {
        assert_eq!(Opcode::try_from(o.code()), Ok(*o));
        let c = op::CONSTS.iter().find(|c| c.name == o.name()).unwrap();
        assert_eq!(c.value, u64::from(o.code()));
    }
    assert_eq!(Opcode::try_from(0), Err(0));
    for s in Status::ALL {
        assert_eq!(Status::try_from(s.code()), Ok(*s));
    }
    for d in DropReason::ALL {
        let name = format!("CNT_DROP_{}", d.name());
        let reg = REGS.iter().find(|r| r.name == name).map(|r| r.addr);
        assert_eq!(d.counter(), reg, "{name}");
    }
    assert_eq!(IpProto::Tcp.code(), 6);
    assert_eq!(IpProto::Udp.code(), 17);
    assert!(consts().any(|c| c.group == "drop" && c.name == "COUNTER_BASE"));
}

#[test]
fn buf_release_heads_cover_the_rest_of_the_entry() {
    let (off, n) = buf_release::HEADS;
    assert_eq!(off + n, buf_release::SIZE);
    assert_eq!(n / 2, param::RELEASE_MAX as usize);
    let mut r = BufRelease {
        opcode: Opcode::BufRelease,
        count: 2,
        ..Default::default()
    };
    r.heads[0] = 7;
    r.heads[1] = 0xFFFF;
    let b = r.to_bytes();
    assert_eq!(&b[16..20], &[7, 0, 0xFF, 0xFF]);
}

#[test]
fn sg_lists_link_their_elements_and_counted_reasons_have_counters() {
    let el = |src, len| SgElem {
        src_addr: src,
        len,
        disk_addr: 4096,
        next: 0xDEAD,
        ..Default::default()
    };
    let b = sg_list(0x10_000, &[el(1, 10), el(2, 20), el(3, 30)]);
    assert_eq!(b.len(), 3 * sg_elem::SIZE);
    let e: Vec<SgElem> = b
        .chunks(sg_elem::SIZE)
        .map(|c| SgElem::parse(c).unwrap())
        .collect();
    assert_eq!((e[0].next, e[1].next, e[2].next), (0x10_020, 0x10_040, 0));
    assert_eq!((e[1].src_addr, e[2].len), (2, 30));
    assert!(sg_list(0, &[]).is_empty());
    assert_eq!(DropReason::counted().count(), DropReason::ALL.len() - 1);
    assert!(DropReason::counted().all(|r| r.counter().is_some()));
    assert_eq!(u64::from(NULL16), param::NULL16);
}

#[test]
fn every_constant_group_is_rendered() {
    // A group declared in consts.rs but missing from CONST_GROUPS would silently vanish from
    // the Verilog include and the docs.
    let src = include_str!("../src/consts.rs");
    let declared: Vec<&str> = src
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .filter(|l| !l.starts_with(' ') && (l.ends_with("=> {")))
        .filter_map(|l| l.split([' ', ',']).next())
        .collect();
    assert!(declared.len() >= 14, "{declared:?}");
    let rendered: Vec<&str> = CONST_GROUPS.iter().map(|g| g[0].group).collect();
    for g in &declared {
        assert!(rendered.contains(g), "group {g} is not in CONST_GROUPS");
    }
    assert_eq!(declared.len(), rendered.len());
}
