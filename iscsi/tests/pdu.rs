//! PDU headers: round trips of every type, field positions, digests, hostile input.

use buflet_iscsi::pdu::*;
use buflet_iscsi::Error;

fn round_trip(p: Pdu) -> [u8; BHS_LEN] {
    let mut b = [0xa5u8; BHS_LEN];
    p.emit(&mut b);
    assert_eq!(Pdu::parse(&b).unwrap(), p, "round trip of {p:?}");
    // The view agrees with the repr on the common fields.
    let v = Bhs::new_checked(&b[..]).unwrap();
    assert_eq!(v.header().unwrap(), &b);
    b
}

fn sn() -> SnTriple {
    SnTriple {
        stat_sn: 0x1111_1111,
        exp_cmd_sn: 0x2222_2222,
        max_cmd_sn: 0x3333_3333,
    }
}

#[test]
fn opcodes_all_known_and_unknown_rejected() {
    let known = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
        0x31, 0x32, 0x3f,
    ];
    for v in 0u8..0x40 {
        let r = Opcode::try_from(v);
        if known.contains(&v) {
            let op = r.unwrap();
            assert_eq!(op as u8, v);
            assert_eq!(op.is_initiator(), v < 0x20);
        } else {
            assert_eq!(r, Err(Error::UnknownOpcode(v)));
        }
    }
    // The I bit does not change the opcode.
    assert_eq!(Opcode::try_from(0x41), Ok(Opcode::ScsiCommand));
    let mut b = [0u8; BHS_LEN];
    b[0] = 0x07;
    assert_eq!(Bhs::new_checked(&b[..]), Err(Error::UnknownOpcode(0x07)));
    assert_eq!(Pdu::parse(&b), Err(Error::UnknownOpcode(0x07)));
}

#[test]
fn scsi_command_round_trip_and_layout() {
    let cmd = ScsiCommand {
        immediate: true,
        final_: true,
        read: false,
        write: true,
        attr: task_attr::SIMPLE,
        total_ahs_length: 0,
        data_segment_length: 0x01_0203,
        lun: 0x0001_0000_0000_0000,
        itt: 0xdead_beef,
        expected_data_transfer_length: 65536,
        cmd_sn: 7,
        exp_stat_sn: 9,
        cdb: [0x2a, 0, 0, 0, 0, 8, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0],
    };
    let b = round_trip(Pdu::ScsiCommand(cmd));
    assert_eq!(b[0], 0x41);
    assert_eq!(b[1], 0x80 | 0x20 | 0x01);
    assert_eq!(&b[5..8], &[1, 2, 3]);
    assert_eq!(&b[20..24], &65536u32.to_be_bytes());
    assert_eq!(b[32], 0x2a);
    let v = Bhs::new_checked(&b[..]).unwrap();
    assert!(v.immediate() && v.final_flag());
    assert_eq!(v.opcode(), Ok(Opcode::ScsiCommand));
    assert_eq!(v.data_segment_length(), 0x01_0203);
    assert_eq!(v.lun(), cmd.lun);
    assert_eq!(v.itt(), 0xdead_beef);
    assert_eq!(v.expected_data_transfer_length(), 65536);
    assert_eq!(v.cmd_sn(), 7);
    assert_eq!(v.exp_stat_sn(), 9);
    assert_eq!(v.cdb(), cmd.cdb);
}

#[test]
fn rfc3720_read10_example_parses_and_has_the_published_digest() {
    // RFC 3720 appendix B.4: "An iSCSI - SCSI Read (10) Command PDU", CRC 56 3a 96 d9.
    let mut b = [0u8; BHS_LEN];
    b[0] = 0x01;
    b[1] = 0xc0;
    b[16] = 0x14;
    b[22] = 0x04;
    b[27] = 0x14;
    b[31] = 0x18;
    b[32] = 0x28;
    b[40] = 0x02;
    let cmd = ScsiCommand::parse(&b).unwrap();
    assert!(cmd.final_ && cmd.read && !cmd.write);
    assert_eq!(cmd.itt, 0x1400_0000);
    assert_eq!(cmd.expected_data_transfer_length, 0x400);
    assert_eq!(cmd.cmd_sn, 0x14);
    assert_eq!(cmd.exp_stat_sn, 0x18);
    assert_eq!(cmd.cdb[0], 0x28);
    assert_eq!(digest_to_wire(header_digest(&b)), [0x56, 0x3a, 0x96, 0xd9]);
}

#[test]
fn digest_vectors_of_rfc3720_b4_little_endian_on_the_wire() {
    let zeros = [0u8; 32];
    assert_eq!(header_digest(&zeros), 0x8a91_36aa);
    assert_eq!(
        digest_to_wire(header_digest(&zeros)),
        [0xaa, 0x36, 0x91, 0x8a]
    );
    let ones = [0xffu8; 32];
    assert_eq!(digest_to_wire(data_digest(&ones)), [0x43, 0xab, 0xa8, 0x62]);
    let inc: Vec<u8> = (0u8..32).collect();
    assert_eq!(digest_to_wire(data_digest(&inc)), [0x4e, 0x79, 0xdd, 0x46]);
    let dec: Vec<u8> = (0u8..32).rev().collect();
    assert_eq!(digest_to_wire(data_digest(&dec)), [0x5c, 0xdb, 0x3f, 0x11]);
    assert_eq!(digest_from_wire([0xaa, 0x36, 0x91, 0x8a]), 0x8a91_36aa);
    // The standard CRC32C check value.
    assert_eq!(header_digest(b"123456789"), 0xe306_9283);
}

#[test]
fn data_digest_covers_the_padding() {
    assert_eq!(data_digest(b"abc"), header_digest(b"abc\0"));
    assert_eq!(data_digest(b"abcd"), header_digest(b"abcd"));
    assert_eq!(data_digest(b"abcde"), header_digest(b"abcde\0\0\0"));
    assert_ne!(data_digest(b"abc"), header_digest(b"abc"));
    let d = data_digest(b"hello");
    assert_eq!(check_digest(d, digest_to_wire(d)), Ok(()));
    assert_eq!(
        check_digest(d, digest_to_wire(d ^ 1)),
        Err(Error::DigestMismatch {
            computed: d,
            received: d ^ 1
        })
    );
}

#[test]
fn padding_and_pdu_lengths() {
    assert_eq!(
        (0..8).map(pad_len).collect::<Vec<_>>(),
        [0, 3, 2, 1, 0, 3, 2, 1]
    );
    assert_eq!(padded_len(13), 16);
    assert_eq!(pdu_len(0, 0, false, false), 48);
    assert_eq!(pdu_len(0, 0, true, true), 52, "no data digest without data");
    assert_eq!(pdu_len(0, 5, true, true), 48 + 4 + 8 + 4);
    assert_eq!(pdu_len(20, 5, false, false), 48 + 20 + 8);
    let mut b = [0u8; BHS_LEN];
    b[4] = 5;
    b[7] = 5;
    let v = Bhs::new_unchecked(&b[..]);
    assert_eq!(v.ahs_len_bytes(), 20);
    assert_eq!(v.pdu_len(true, true), 48 + 20 + 4 + 8 + 4);
}

#[test]
fn serial_number_arithmetic_wraps() {
    assert!(sn_lt(0xffff_ffff, 0));
    assert!(!sn_lt(0, 0xffff_ffff));
    assert!(sn_gt(0, 0xffff_fff0));
    assert!(sn_lt(5, 6) && !sn_lt(6, 5) && !sn_lt(5, 5));
    assert!(sn_le(5, 5) && sn_ge(5, 5));
    // Exactly 2^31 apart: undefined, neither is less.
    assert!(!sn_lt(1, 1 + 0x8000_0000) && !sn_lt(1 + 0x8000_0000, 1));
    assert!(sn_in_window(2, 0xffff_fffe, 10));
    assert!(!sn_in_window(11, 0xffff_fffe, 10));
    assert!(!sn_in_window(0xffff_fffd, 0xffff_fffe, 10));
}

#[test]
fn view_on_short_buffers_errors_and_never_panics() {
    for len in 0..BHS_LEN {
        let buf = vec![0xffu8; len];
        assert_eq!(
            Bhs::new_checked(&buf[..]),
            Err(Error::Truncated {
                need: 48,
                have: len
            })
        );
        let v = Bhs::new_unchecked(&buf[..]);
        assert!(v.check_len().is_err());
        assert!(v.header().is_err());
        // Reading fields past the end gives zeros, not a panic.
        let _ = (
            v.lun(),
            v.itt(),
            v.cdb(),
            v.residual_count(),
            v.pdu_len(true, true),
        );
        let mut m = Bhs::new_unchecked(buf.clone());
        m.set_itt(1);
        m.set_max_cmd_sn(2);
        m.set_data_segment_length(3);
        assert!(m.header_mut().is_err());
    }
}

#[test]
fn view_setters_and_data_segment_limit() {
    let mut buf = [0u8; 100];
    let mut v = Bhs::new_unchecked(&mut buf[..]);
    v.set_opcode(Opcode::NopIn);
    v.set_immediate(true);
    v.set_flags(0x80);
    v.set_total_ahs_length(1);
    v.set_data_segment_length(0x0100_0000 | 300);
    v.set_lun(42);
    v.set_itt(7);
    v.set_ttt(8);
    v.set_stat_sn(9);
    v.set_exp_cmd_sn(10);
    v.set_max_cmd_sn(11);
    assert_eq!(v.opcode(), Ok(Opcode::NopIn));
    assert!(v.immediate() && v.final_flag());
    assert_eq!(v.data_segment_length(), 300, "truncated to 24 bits");
    assert_eq!((v.lun(), v.itt(), v.ttt()), (42, 7, 8));
    assert_eq!((v.stat_sn(), v.exp_cmd_sn(), v.max_cmd_sn()), (9, 10, 11));
    assert_eq!(v.check_data_segment_length(300), Ok(()));
    assert_eq!(
        v.check_data_segment_length(299),
        Err(Error::DataSegmentTooLong { len: 300, max: 299 })
    );
    let nop = NopIn::parse(v.header().unwrap()).unwrap();
    assert_eq!(nop.sn.max_cmd_sn, 11);
}

#[test]
fn initiator_pdus_round_trip() {
    round_trip(Pdu::DataOut(DataOut {
        final_: true,
        data_segment_length: 8192,
        lun: 3,
        itt: 4,
        ttt: 5,
        exp_stat_sn: 6,
        data_sn: 7,
        buffer_offset: 8192 * 3,
    }));
    let b = round_trip(Pdu::NopOut(NopOut {
        immediate: true,
        data_segment_length: 4,
        lun: 0,
        itt: 0x10,
        ttt: RESERVED_TAG,
        cmd_sn: 1,
        exp_stat_sn: 2,
    }));
    assert_eq!(b[0], 0x40);
    let b = round_trip(Pdu::TaskMgmtRequest(TaskMgmtRequest {
        immediate: true,
        function: tmf_function::ABORT_TASK,
        lun: 1,
        itt: 2,
        referenced_task_tag: 3,
        cmd_sn: 4,
        exp_stat_sn: 5,
        ref_cmd_sn: 6,
        exp_data_sn: 7,
    }));
    assert_eq!(b[1], 0x81);
    let b = round_trip(Pdu::LoginRequest(LoginRequest {
        transit: true,
        continue_: false,
        csg: Stage::Operational,
        nsg: Stage::FullFeature,
        version_max: 0,
        version_min: 0,
        data_segment_length: 500,
        isid: [0x80, 1, 2, 3, 4, 5],
        tsih: 0,
        itt: 9,
        cid: 0x1234,
        cmd_sn: 10,
        exp_stat_sn: 11,
    }));
    assert_eq!(b[0], 0x43, "Login Request always has the I bit");
    assert_eq!(b[1], 0x87);
    assert_eq!(&b[20..22], &[0x12, 0x34]);
    round_trip(Pdu::TextRequest(TextRequest {
        immediate: true,
        final_: false,
        continue_: true,
        data_segment_length: 17,
        lun: 0,
        itt: 1,
        ttt: RESERVED_TAG,
        cmd_sn: 2,
        exp_stat_sn: 3,
    }));
    let b = round_trip(Pdu::LogoutRequest(LogoutRequest {
        immediate: true,
        reason: logout_reason::CLOSE_SESSION,
        itt: 1,
        cid: 2,
        cmd_sn: 3,
        exp_stat_sn: 4,
    }));
    assert_eq!(b[1], 0x80);
    round_trip(Pdu::Snack(Snack {
        type_: snack_type::STATUS,
        lun: 0,
        itt: RESERVED_TAG,
        ttt: 0,
        exp_stat_sn: 5,
        beg_run: 6,
        run_length: 7,
    }));
}

#[test]
fn target_pdus_round_trip() {
    let b = round_trip(Pdu::ScsiResponse(ScsiResponse {
        bidi_overflow: false,
        bidi_underflow: true,
        overflow: false,
        underflow: true,
        response: scsi_response::COMPLETED,
        status: 0x02,
        data_segment_length: 20,
        itt: 1,
        snack_tag: 0,
        sn: sn(),
        exp_data_sn: 3,
        bidi_residual_count: 4,
        residual_count: 5,
    }));
    assert_eq!(b[1], 0x80 | 0x08 | 0x02);
    assert_eq!(b[3], 0x02);
    assert_eq!(&b[24..28], &0x1111_1111u32.to_be_bytes());
    let b = round_trip(Pdu::DataIn(DataIn {
        final_: true,
        acknowledge: false,
        overflow: false,
        underflow: true,
        status_present: true,
        status: 0,
        data_segment_length: 4096,
        lun: 0,
        itt: 2,
        ttt: RESERVED_TAG,
        sn: sn(),
        data_sn: 0,
        buffer_offset: 0,
        residual_count: 512,
    }));
    assert_eq!(b[1], 0x83);
    let b = round_trip(Pdu::R2t(R2t {
        lun: 1,
        itt: 2,
        ttt: 3,
        sn: sn(),
        r2t_sn: 4,
        buffer_offset: 5,
        desired_data_transfer_length: 262144,
    }));
    assert_eq!(&b[44..48], &262144u32.to_be_bytes());
    round_trip(Pdu::NopIn(NopIn {
        data_segment_length: 0,
        lun: 0,
        itt: RESERVED_TAG,
        ttt: 77,
        sn: sn(),
    }));
    round_trip(Pdu::TaskMgmtResponse(TaskMgmtResponse {
        response: tmf_response::TASK_DOES_NOT_EXIST,
        itt: 1,
        sn: sn(),
    }));
    let b = round_trip(Pdu::LoginResponse(LoginResponse {
        transit: true,
        continue_: false,
        csg: Stage::Security,
        nsg: Stage::Operational,
        version_max: 0,
        version_active: 0,
        data_segment_length: 30,
        isid: [0x40, 0, 1, 0x37, 0, 0],
        tsih: 0,
        itt: 1,
        sn: sn(),
        status_class: 2,
        status_detail: 7,
    }));
    assert_eq!((b[36], b[37]), (2, 7));
    assert_eq!(
        LoginResponse::parse(&b).unwrap().status(),
        login_status::MISSING_PARAMETER
    );
    round_trip(Pdu::TextResponse(TextResponse {
        final_: true,
        continue_: false,
        data_segment_length: 60,
        lun: 0,
        itt: 5,
        ttt: RESERVED_TAG,
        sn: sn(),
    }));
    let b = round_trip(Pdu::LogoutResponse(LogoutResponse {
        response: logout_response::CLOSED,
        itt: 1,
        sn: sn(),
        time2wait: 2,
        time2retain: 20,
    }));
    assert_eq!(&b[40..44], &[0, 2, 0, 20]);
    let b = round_trip(Pdu::Reject(Reject {
        reason: reject_reason::PROTOCOL_ERROR,
        data_segment_length: 48,
        sn: sn(),
        data_sn: 0,
    }));
    assert_eq!(&b[16..20], &[0xff; 4]);
    round_trip(Pdu::AsyncMessage(AsyncMessage {
        data_segment_length: 0,
        lun: 0,
        sn: sn(),
        event: async_event::LOGOUT_REQUEST,
        vcode: 0,
        parameter1: 0,
        parameter2: 0,
        parameter3: 5,
    }));
}

#[test]
fn data_in_without_status_zeroes_the_status_fields() {
    let d = DataIn {
        final_: false,
        acknowledge: false,
        overflow: true,
        underflow: true,
        status_present: false,
        status: 0x02,
        data_segment_length: 8,
        lun: 0,
        itt: 1,
        ttt: RESERVED_TAG,
        sn: sn(),
        data_sn: 1,
        buffer_offset: 8,
        residual_count: 99,
    };
    let mut b = [0u8; BHS_LEN];
    d.emit(&mut b);
    assert_eq!(b[1], 0);
    assert_eq!(b[3], 0);
    assert_eq!(&b[24..28], &[0; 4]);
    assert_eq!(&b[44..48], &[0; 4]);
    // S without F is refused on parse.
    b[1] = 0x01;
    assert!(matches!(DataIn::parse(&b), Err(Error::BadField(_))));
}

#[test]
fn typed_parse_rejects_other_opcodes_and_unexpected_data() {
    let mut b = [0u8; BHS_LEN];
    NopIn {
        data_segment_length: 0,
        lun: 0,
        itt: 0,
        ttt: 0,
        sn: sn(),
    }
    .emit(&mut b);
    assert_eq!(
        ScsiCommand::parse(&b),
        Err(Error::WrongOpcode {
            expected: Opcode::ScsiCommand,
            found: 0x20
        })
    );
    for (op, parse) in [
        (
            Opcode::TaskMgmtRequest,
            (|b: &[u8; 48]| TaskMgmtRequest::parse(b).map(|_| ())) as fn(&[u8; 48]) -> _,
        ),
        (Opcode::LogoutRequest, |b| {
            LogoutRequest::parse(b).map(|_| ())
        }),
        (Opcode::Snack, |b| Snack::parse(b).map(|_| ())),
        (Opcode::R2t, |b| R2t::parse(b).map(|_| ())),
        (Opcode::TaskMgmtResponse, |b| {
            TaskMgmtResponse::parse(b).map(|_| ())
        }),
        (Opcode::LogoutResponse, |b| {
            LogoutResponse::parse(b).map(|_| ())
        }),
    ] {
        let mut h = [0u8; BHS_LEN];
        h[0] = op as u8;
        h[1] = 0x80;
        assert_eq!(parse(&h), Ok(()));
        h[7] = 1;
        assert_eq!(parse(&h), Err(Error::UnexpectedData(op)));
    }
}

#[test]
fn login_reserved_stage_is_an_error() {
    let mut b = [0u8; BHS_LEN];
    b[0] = 0x43;
    b[1] = 0x80 | (2 << 2) | 3;
    assert!(matches!(LoginRequest::parse(&b), Err(Error::BadField(_))));
    b[1] = 0x80 | (1 << 2) | 2;
    assert!(matches!(LoginRequest::parse(&b), Err(Error::BadField(_))));
    b[1] = 1 << 2 | 2; // NSG ignored without T
    assert_eq!(LoginRequest::parse(&b).unwrap().csg, Stage::Operational);
}

#[test]
fn command_ahs_round_trip() {
    let ahs = CommandAhs {
        extended_cdb: Some((0u8..16).collect()),
        bidi_read_length: Some(4096),
    };
    let bytes = ahs.to_bytes();
    assert_eq!(bytes.len() % 4, 0);
    assert_eq!(&bytes[..4], &[0, 17, 1, 0]);
    assert_eq!(CommandAhs::parse(&bytes).unwrap(), ahs);
    let cdb = ahs.full_cdb(&[0x7f; 16]);
    assert_eq!(cdb.len(), 32);
    assert_eq!(cdb[16..], (0u8..16).collect::<Vec<_>>()[..]);
    // An odd extended length is padded.
    let odd = CommandAhs {
        extended_cdb: Some(vec![9; 5]),
        bidi_read_length: None,
    };
    let bytes = odd.to_bytes();
    assert_eq!(bytes.len(), 12);
    assert_eq!(CommandAhs::parse(&bytes).unwrap(), odd);
    assert_eq!(CommandAhs::parse(&[]).unwrap(), CommandAhs::default());
}

#[test]
fn hostile_ahs_gives_errors() {
    let bad: &[&[u8]] = &[
        &[0, 5],                                           // shorter than a header
        &[0, 40, 1, 0, 1, 2, 3, 4],                        // length past the end
        &[0, 5, 9, 0, 0, 0, 0, 1],                         // unknown type
        &[0, 1, 1, 0],                                     // extended CDB of zero bytes
        &[0, 3, 2, 0, 0, 0, 0, 0],                         // bidi length not 5
        &[0, 5, 2, 0, 0, 0, 0, 1, 0, 5, 2, 0, 0, 0, 0, 1], // two bidi
        &[0, 2, 1, 0, 9, 0, 0, 0, 0, 2, 1, 0, 9, 0, 0, 0], // two extended
    ];
    for b in bad {
        assert!(
            matches!(CommandAhs::parse(b), Err(Error::BadAhs(_))),
            "{b:?}"
        );
    }
    let mut huge = vec![0u8; 4 + 300];
    huge[..4].copy_from_slice(&[1, 45, 1, 0]);
    assert!(CommandAhs::parse(&huge).is_err(), "CDB over 260 bytes");
}

/// A small deterministic generator: no extra dependency for fuzz-style tests.
fn lcg(seed: &mut u64) -> u8 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 33) as u8
}

#[test]
fn random_headers_never_panic() {
    let mut seed = 1;
    let mut parsed = 0;
    for i in 0..20_000 {
        let mut b = [0u8; BHS_LEN];
        for x in b.iter_mut() {
            *x = lcg(&mut seed);
        }
        b[0] = (i % 64) as u8;
        if let Ok(p) = Pdu::parse(&b) {
            parsed += 1;
            let mut out = [0u8; BHS_LEN];
            p.emit(&mut out);
            assert_eq!(Pdu::parse(&out).unwrap(), p);
        }
        let len = usize::from(lcg(&mut seed)) % 64;
        let _ = CommandAhs::parse(&b[..len.min(BHS_LEN)]);
    }
    assert!(parsed > 1000);
}
