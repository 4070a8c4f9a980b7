//! Text segments and every negotiation rule of the target's Negotiator.

use buflet_iscsi::pdu::Stage;
use buflet_iscsi::text::*;
use buflet_iscsi::Error;

fn pairs(kv: &[(&str, &str)]) -> TextPairs {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get<'a>(p: &'a TextPairs, key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn one(n: &mut Negotiator, stage: Stage, key: &str, value: &str) -> Option<String> {
    let out = n.negotiate(stage, &pairs(&[(key, value)])).unwrap();
    get(&out, key).map(str::to_owned)
}

fn op(key: &str, value: &str) -> Option<String> {
    one(
        &mut Negotiator::new(TargetParams::default()),
        Stage::Operational,
        key,
        value,
    )
}

#[test]
fn text_round_trip_keeps_order_and_equals_in_values() {
    let p = pairs(&[
        ("InitiatorName", "iqn.2005-03.org.open-iscsi:abc"),
        ("HeaderDigest", "None,CRC32C"),
        ("X-com.example.blob", "a=b=c"),
        ("Empty", ""),
    ]);
    let bytes = emit_text(&p);
    assert_eq!(bytes.iter().filter(|&&c| c == 0).count(), 4);
    assert_eq!(parse_text(&bytes).unwrap(), p);
    // NUL padding after the last pair is tolerated.
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0, 0, 0]);
    assert_eq!(parse_text(&padded).unwrap(), p);
    assert_eq!(parse_text(b"").unwrap(), Vec::new());
}

#[test]
fn malformed_text_gives_errors() {
    assert_eq!(parse_text(b"NoEquals\0"), Err(Error::MissingEquals));
    assert_eq!(parse_text(b"A=1"), Err(Error::MissingNul));
    assert_eq!(parse_text(b"A=1\0\0B=2\0"), Err(Error::MissingEquals));
    assert_eq!(parse_text(b"=value\0"), Err(Error::BadKeyName));
    assert_eq!(parse_text(b"Bad Key=1\0"), Err(Error::BadKeyName));
    assert_eq!(parse_text(b"A#b=1\0"), Err(Error::BadKeyName));
    assert_eq!(parse_text(b"A=\xff\xfe\0"), Err(Error::TextNotUtf8));
    assert_eq!(parse_text(b"\xc3=1\0"), Err(Error::TextNotUtf8));
    let long_key = format!("{}=1\0", "K".repeat(64));
    assert_eq!(parse_text(long_key.as_bytes()), Err(Error::KeyTooLong));
    let ok_key = format!("{}=1\0", "K".repeat(63));
    assert!(parse_text(ok_key.as_bytes()).is_ok());
    let long_value = format!("A={}\0", "v".repeat(MAX_VALUE_LEN + 1));
    assert_eq!(
        parse_text(long_value.as_bytes()),
        Err(Error::ValueTooLong { max: MAX_VALUE_LEN })
    );
    let huge = vec![b'a'; MAX_TEXT_LEN + 1];
    assert_eq!(
        parse_text(&huge),
        Err(Error::TextTooLong { max: MAX_TEXT_LEN })
    );
}

#[test]
fn key_names_follow_rfc_7143_rules() {
    for k in [
        "HeaderDigest",
        "X-com.example.key",
        "X#registered",
        "a.b-c+d@e_f9",
    ] {
        assert!(valid_key(k), "{k}");
    }
    for k in ["", "has space", "A/B", "Ä", "#X", "Y#z"] {
        assert!(!valid_key(k), "{k}");
    }
}

#[test]
fn random_text_never_panics() {
    let mut seed = 7u64;
    let alphabet = b"AB=\0xX-#,9\xff";
    let mut ok = 0;
    for _ in 0..20_000 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let len = (seed >> 40) as usize % 40;
        let buf: Vec<u8> = (0..len)
            .map(|i| alphabet[((seed >> (i % 50)) as usize + i * 7) % alphabet.len()])
            .collect();
        if let Ok(p) = parse_text(&buf) {
            ok += 1;
            let mut n = Negotiator::new(TargetParams::default());
            let _ = n.negotiate(Stage::Operational, &p);
        }
    }
    assert!(ok > 0);
}

#[test]
fn numbers_and_booleans() {
    assert_eq!(parse_number("262144"), Some(262144));
    assert_eq!(parse_number("0x40000"), Some(262144));
    assert_eq!(parse_number("0X10"), Some(16));
    for bad in ["", "0x", "-1", "+1", "1 ", "12a", "99999999999999999999999"] {
        assert_eq!(parse_number(bad), None, "{bad}");
    }
    assert_eq!(parse_bool("Yes"), Some(true));
    assert_eq!(parse_bool("No"), Some(false));
    assert_eq!(parse_bool("yes"), None);
}

#[test]
fn split_text_respects_the_limit() {
    let data = vec![1u8; 10];
    let chunks = split_text(&data, 4);
    assert_eq!(
        chunks.iter().map(|c| c.len()).collect::<Vec<_>>(),
        [4, 4, 2]
    );
    assert_eq!(split_text(&[], 4).len(), 1);
    assert_eq!(split_text(&data, 0).len(), 10);
}

#[test]
fn digest_list_selection_follows_the_initiators_order() {
    let mut n = Negotiator::new(TargetParams::default());
    assert_eq!(
        one(&mut n, Stage::Operational, "HeaderDigest", "CRC32C,None").as_deref(),
        Some("CRC32C")
    );
    assert_eq!(n.session().header_digest, Digest::Crc32c);
    assert_eq!(op("HeaderDigest", "None,CRC32C").as_deref(), Some("None"));
    assert_eq!(op("DataDigest", "MD5,CRC32C").as_deref(), Some("CRC32C"));
    assert_eq!(op("DataDigest", "MD5").as_deref(), Some(REJECT));
    assert_eq!(op("DataDigest", ",None").as_deref(), Some(REJECT));
    let only_none = TargetParams {
        header_digest: vec![Digest::None],
        ..TargetParams::default()
    };
    let mut n = Negotiator::new(only_none);
    assert_eq!(
        one(&mut n, Stage::Operational, "HeaderDigest", "CRC32C").as_deref(),
        Some(REJECT)
    );
    assert_eq!(n.session().header_digest, Digest::None);
}

#[test]
fn boolean_or_and_and() {
    // InitialR2T: OR. Target default Yes.
    assert_eq!(op("InitialR2T", "No").as_deref(), Some("Yes"));
    let lax = TargetParams {
        initial_r2t: false,
        immediate_data: false,
        data_pdu_in_order: false,
        data_sequence_in_order: false,
        ..TargetParams::default()
    };
    let mut n = Negotiator::new(lax.clone());
    assert_eq!(
        one(&mut n, Stage::Operational, "InitialR2T", "No").as_deref(),
        Some("No")
    );
    assert!(!n.session().initial_r2t);
    // ImmediateData: AND.
    assert_eq!(op("ImmediateData", "Yes").as_deref(), Some("Yes"));
    let mut n = Negotiator::new(lax.clone());
    assert_eq!(
        one(&mut n, Stage::Operational, "ImmediateData", "Yes").as_deref(),
        Some("No")
    );
    assert!(!n.session().immediate_data);
    // DataPDUInOrder / DataSequenceInOrder: OR.
    assert_eq!(op("DataPDUInOrder", "No").as_deref(), Some("Yes"));
    let mut n = Negotiator::new(lax);
    assert_eq!(
        one(&mut n, Stage::Operational, "DataSequenceInOrder", "No").as_deref(),
        Some("No")
    );
    assert_eq!(op("ImmediateData", "yes").as_deref(), Some(REJECT));
    assert_eq!(op("InitialR2T", "").as_deref(), Some(REJECT));
}

#[test]
fn numeric_min_max_and_ranges() {
    assert_eq!(op("MaxBurstLength", "1048576").as_deref(), Some("262144"));
    assert_eq!(op("MaxBurstLength", "16384").as_deref(), Some("16384"));
    assert_eq!(op("MaxBurstLength", "511").as_deref(), Some(REJECT));
    assert_eq!(op("MaxBurstLength", "16777216").as_deref(), Some(REJECT));
    assert_eq!(op("MaxBurstLength", "big").as_deref(), Some(REJECT));
    assert_eq!(op("FirstBurstLength", "1048576").as_deref(), Some("65536"));
    assert_eq!(op("DefaultTime2Wait", "0").as_deref(), Some("2"), "max");
    assert_eq!(op("DefaultTime2Wait", "10").as_deref(), Some("10"));
    assert_eq!(op("DefaultTime2Wait", "3601").as_deref(), Some(REJECT));
    assert_eq!(op("DefaultTime2Retain", "0").as_deref(), Some("0"), "min");
    assert_eq!(op("DefaultTime2Retain", "60").as_deref(), Some("20"));
    assert_eq!(op("MaxOutstandingR2T", "8").as_deref(), Some("1"));
    assert_eq!(op("MaxOutstandingR2T", "0").as_deref(), Some(REJECT));
    assert_eq!(op("ErrorRecoveryLevel", "2").as_deref(), Some("0"));
    assert_eq!(op("ErrorRecoveryLevel", "3").as_deref(), Some(REJECT));
    assert_eq!(op("MaxConnections", "8").as_deref(), Some("1"));
    assert_eq!(op("MaxConnections", "0").as_deref(), Some(REJECT));
    assert_eq!(op("iSCSIProtocolLevel", "2").as_deref(), Some("1"));
    assert_eq!(op("iSCSIProtocolLevel", "32").as_deref(), Some(REJECT));
    let mut n = Negotiator::new(TargetParams::default());
    n.negotiate(
        Stage::Operational,
        &pairs(&[("MaxBurstLength", "0x8000"), ("DefaultTime2Retain", "5")]),
    )
    .unwrap();
    assert_eq!(n.session().max_burst_length, 32768);
    assert_eq!(n.session().default_time2retain, 5);
}

#[test]
fn first_burst_never_exceeds_max_burst_whatever_the_order() {
    let params = TargetParams {
        first_burst_length: 262144,
        ..TargetParams::default()
    };
    let mut n = Negotiator::new(params);
    let out = n
        .negotiate(
            Stage::Operational,
            &pairs(&[("FirstBurstLength", "65536"), ("MaxBurstLength", "16384")]),
        )
        .unwrap();
    assert_eq!(get(&out, "FirstBurstLength"), Some("16384"));
    assert_eq!(get(&out, "MaxBurstLength"), Some("16384"));
    assert_eq!(n.session().first_burst_length, 16384);
}

#[test]
fn first_burst_irrelevant_without_unsolicited_data() {
    let mut n = Negotiator::new(TargetParams::default());
    let out = n
        .negotiate(
            Stage::Operational,
            &pairs(&[
                ("FirstBurstLength", "65536"),
                ("InitialR2T", "Yes"),
                ("ImmediateData", "No"),
            ]),
        )
        .unwrap();
    assert_eq!(get(&out, "FirstBurstLength"), Some(IRRELEVANT));
}

#[test]
fn max_recv_data_segment_length_is_declarative() {
    let params = TargetParams {
        max_recv_data_segment_length: 262144,
        ..TargetParams::default()
    };
    let mut n = Negotiator::new(params);
    let out = n
        .negotiate(
            Stage::Operational,
            &pairs(&[("MaxRecvDataSegmentLength", "65536")]),
        )
        .unwrap();
    assert!(out.is_empty(), "a declaration is not answered: {out:?}");
    assert_eq!(n.session().initiator_max_recv_data_segment_length, 65536);
    assert_eq!(n.session().target_max_recv_data_segment_length, 262144);
    assert_eq!(
        n.declarations(),
        pairs(&[("MaxRecvDataSegmentLength", "262144")])
    );
    assert!(n.declarations().is_empty(), "declared once");
    assert_eq!(
        op("MaxRecvDataSegmentLength", "100").as_deref(),
        Some(REJECT)
    );
    assert_eq!(
        op("MaxRecvDataSegmentLength", "16777216").as_deref(),
        Some(REJECT)
    );
}

#[test]
fn markers_extensions_unknown_and_target_only_keys() {
    assert_eq!(op("OFMarker", "Yes").as_deref(), Some("No"));
    assert_eq!(op("IFMarker", "No").as_deref(), Some("No"));
    assert_eq!(op("IFMarker", "Maybe").as_deref(), Some(REJECT));
    assert_eq!(op("OFMarkInt", "2048~8192").as_deref(), Some(REJECT));
    assert_eq!(op("IFMarkInt", "2048").as_deref(), Some(REJECT));
    assert_eq!(
        op("X-com.example.foo", "1").as_deref(),
        Some(NOT_UNDERSTOOD)
    );
    assert_eq!(op("X#Foo", "1").as_deref(), Some(NOT_UNDERSTOOD));
    assert_eq!(op("NoSuchKey", "1").as_deref(), Some(NOT_UNDERSTOOD));
    assert_eq!(op("TargetAlias", "x").as_deref(), Some(REJECT));
    assert_eq!(op("TargetAddress", "1.2.3.4").as_deref(), Some(REJECT));
    assert_eq!(op("TargetPortalGroupTag", "1").as_deref(), Some(REJECT));
    assert_eq!(op("SendTargets", "All").as_deref(), Some(REJECT));
    assert_eq!(
        op("TaskReporting", "ResponseFence,RFC3720").as_deref(),
        Some("RFC3720")
    );
    assert_eq!(op("TaskReporting", "FastAbort").as_deref(), Some(REJECT));
}

#[test]
fn answers_from_the_initiator_are_not_answered() {
    let mut n = Negotiator::new(TargetParams::default());
    let out = n
        .negotiate(
            Stage::Operational,
            &pairs(&[("X-foo", NOT_UNDERSTOOD), ("Bar", IRRELEVANT)]),
        )
        .unwrap();
    assert!(out.is_empty());
}

#[test]
fn declarations_of_names_are_recorded_not_answered() {
    let mut n = Negotiator::new(TargetParams::default());
    let out = n
        .negotiate(
            Stage::Security,
            &pairs(&[
                ("InitiatorName", "iqn.2010-11.libiscsi:x"),
                ("InitiatorAlias", "host"),
                ("TargetName", "iqn.t:disk"),
                ("SessionType", "Normal"),
            ]),
        )
        .unwrap();
    assert!(out.is_empty(), "{out:?}");
    let s = n.session();
    assert_eq!(s.initiator_name.as_deref(), Some("iqn.2010-11.libiscsi:x"));
    assert_eq!(s.initiator_alias.as_deref(), Some("host"));
    assert_eq!(s.target_name.as_deref(), Some("iqn.t:disk"));
    let long = "i".repeat(MAX_NAME_LEN + 1);
    let mut n = Negotiator::new(TargetParams::default());
    assert_eq!(
        one(&mut n, Stage::Security, "InitiatorName", &long).as_deref(),
        Some(REJECT)
    );
    assert_eq!(op("SessionType", "Bogus").as_deref(), Some(REJECT));
}

#[test]
fn duplicate_keys_are_a_protocol_error() {
    let mut n = Negotiator::new(TargetParams::default());
    assert_eq!(
        n.negotiate(
            Stage::Operational,
            &pairs(&[("MaxBurstLength", "512"), ("MaxBurstLength", "1024")])
        ),
        Err(Error::DuplicateKey("MaxBurstLength".into()))
    );
    let mut n = Negotiator::new(TargetParams::default());
    n.negotiate(Stage::Operational, &pairs(&[("ImmediateData", "Yes")]))
        .unwrap();
    assert_eq!(
        n.negotiate(Stage::Operational, &pairs(&[("ImmediateData", "No")])),
        Err(Error::DuplicateKey("ImmediateData".into()))
    );
    // A new sequence (a new Text exchange) may repeat keys.
    n.new_sequence();
    assert!(n
        .negotiate(
            Stage::FullFeature,
            &pairs(&[("MaxRecvDataSegmentLength", "8192")])
        )
        .is_ok());
}

#[test]
fn discovery_sessions_make_data_keys_irrelevant() {
    let mut n = Negotiator::new(TargetParams::default());
    let out = n
        .negotiate(
            Stage::Operational,
            &pairs(&[
                ("MaxBurstLength", "262144"),
                ("InitialR2T", "No"),
                ("MaxConnections", "1"),
                ("HeaderDigest", "None"),
                ("SessionType", "Discovery"),
                ("DataPDUInOrder", "Yes"),
                ("FirstBurstLength", "512"),
                ("MaxOutstandingR2T", "1"),
                ("ErrorRecoveryLevel", "0"),
            ]),
        )
        .unwrap();
    for k in [
        "MaxBurstLength",
        "InitialR2T",
        "MaxConnections",
        "DataPDUInOrder",
        "FirstBurstLength",
        "MaxOutstandingR2T",
    ] {
        assert_eq!(get(&out, k), Some(IRRELEVANT), "{k}");
    }
    assert_eq!(get(&out, "HeaderDigest"), Some("None"));
    assert_eq!(get(&out, "ErrorRecoveryLevel"), Some("0"));
    assert_eq!(n.session().session_type, SessionType::Discovery);
}

#[test]
fn auth_method_only_in_the_security_stage() {
    let mut n = Negotiator::new(TargetParams::default());
    assert_eq!(
        one(&mut n, Stage::Security, "AuthMethod", "CHAP,None").as_deref(),
        Some("None")
    );
    assert_eq!(n.session().auth_method.as_deref(), Some("None"));
    let mut n = Negotiator::new(TargetParams::default());
    assert_eq!(
        one(&mut n, Stage::Security, "AuthMethod", "CHAP").as_deref(),
        Some(REJECT)
    );
    assert_eq!(op("AuthMethod", "None").as_deref(), Some(REJECT));
}

#[test]
fn full_feature_phase_rejects_login_only_keys() {
    let mut n = Negotiator::new(TargetParams::default());
    let out = n
        .negotiate(
            Stage::FullFeature,
            &pairs(&[
                ("HeaderDigest", "CRC32C"),
                ("MaxBurstLength", "512"),
                ("MaxRecvDataSegmentLength", "4096"),
                ("X-vendor", "1"),
            ]),
        )
        .unwrap();
    assert_eq!(get(&out, "HeaderDigest"), Some(REJECT));
    assert_eq!(get(&out, "MaxBurstLength"), Some(REJECT));
    assert_eq!(get(&out, "MaxRecvDataSegmentLength"), None);
    assert_eq!(get(&out, "X-vendor"), Some(NOT_UNDERSTOOD));
    assert_eq!(n.session().initiator_max_recv_data_segment_length, 4096);
    assert_eq!(n.session().header_digest, Digest::None);
}

#[test]
fn session_defaults_are_rfc_7143_section_13() {
    let s = SessionParams::default();
    assert_eq!(s.header_digest, Digest::None);
    assert_eq!(s.max_connections, 1);
    assert!(s.initial_r2t && s.immediate_data);
    assert_eq!(s.initiator_max_recv_data_segment_length, 8192);
    assert_eq!(s.max_burst_length, 262144);
    assert_eq!(s.first_burst_length, 65536);
    assert_eq!((s.default_time2wait, s.default_time2retain), (2, 20));
    assert_eq!(s.max_outstanding_r2t, 1);
    assert!(s.data_pdu_in_order && s.data_sequence_in_order);
    assert_eq!(s.error_recovery_level, 0);
    assert_eq!(s.session_type, SessionType::Normal);
}
