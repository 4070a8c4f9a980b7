//! The target's login state machine and SendTargets, driven the way initiators drive them.

use buflet_iscsi::discovery::{send_targets, text_response};
use buflet_iscsi::login::*;
use buflet_iscsi::pdu::{login_status, LoginRequest, LoginResponse, Stage, BHS_LEN};
use buflet_iscsi::text::*;
use std::num::NonZeroU16;

const TARGET: &str = "iqn.2024-01.org.buflet:disk0";
const INITIATOR: &str = "iqn.2010-11.libiscsi:buflet-test";

fn config() -> TargetConfig {
    TargetConfig {
        target_name: TARGET.into(),
        target_alias: Some("buflet".into()),
        portal_group_tag: 1,
        addresses: vec!["10.213.0.2:3260,1".into()],
        params: TargetParams {
            max_recv_data_segment_length: 262144,
            first_burst_length: 262144,
            immediate_data: true,
            initial_r2t: false,
            ..TargetParams::default()
        },
        cmd_window: 16,
        login_timeout: None,
    }
}

fn text(kv: &[(&str, &str)]) -> Vec<u8> {
    let p: TextPairs = kv
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    emit_text(&p)
}

fn req(csg: Stage, nsg: Stage, transit: bool, data: &[u8]) -> LoginRequest {
    LoginRequest {
        transit,
        continue_: false,
        csg,
        nsg,
        version_max: 0,
        version_min: 0,
        data_segment_length: data.len() as u32,
        isid: [0x80, 0x12, 0x34, 0x56, 0x78, 0x9a],
        tsih: 0,
        itt: 0x1234,
        cid: 0,
        cmd_sn: 0x5555,
        exp_stat_sn: 0x7000,
    }
}

fn keys(step: &LoginStep) -> TextPairs {
    parse_text(&step.data).unwrap()
}

fn get<'a>(p: &'a TextPairs, key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The operational keys libiscsi sends in its first (CSG 1) Login Request.
fn libiscsi_op_keys(with_names: bool) -> Vec<u8> {
    let mut kv = vec![];
    if with_names {
        kv.extend([
            ("InitiatorName", INITIATOR),
            ("InitiatorAlias", "testhost"),
            ("TargetName", TARGET),
            ("SessionType", "Normal"),
        ]);
    }
    kv.extend([
        ("HeaderDigest", "None,CRC32C"),
        ("DataDigest", "None"),
        ("InitialR2T", "No"),
        ("ImmediateData", "Yes"),
        ("MaxBurstLength", "262144"),
        ("FirstBurstLength", "262144"),
        ("DefaultTime2Wait", "2"),
        ("DefaultTime2Retain", "0"),
        ("MaxOutstandingR2T", "1"),
        ("ErrorRecoveryLevel", "0"),
        ("IFMarker", "No"),
        ("OFMarker", "No"),
        ("MaxConnections", "1"),
        ("MaxRecvDataSegmentLength", "262144"),
        ("DataPDUInOrder", "Yes"),
        ("DataSequenceInOrder", "Yes"),
    ]);
    text(&kv)
}

fn status(step: &LoginStep) -> u16 {
    step.response.status()
}

#[test]
fn libiscsi_one_pdu_login_completes_in_one_exchange() {
    let mut t = LoginTarget::new(config()).with_tsih(NonZeroU16::new(0x42).unwrap());
    let data = libiscsi_op_keys(true);
    let r = req(Stage::Operational, Stage::FullFeature, true, &data);
    let step = t.on_request(&r, &data);
    assert_eq!(status(&step), login_status::SUCCESS);
    let resp = step.response;
    assert!(resp.transit && !resp.continue_);
    assert_eq!(
        (resp.csg, resp.nsg),
        (Stage::Operational, Stage::FullFeature)
    );
    assert_eq!(resp.tsih, 0x42);
    assert_eq!(resp.isid, r.isid);
    assert_eq!(resp.itt, 0x1234);
    assert_eq!(
        resp.sn.stat_sn, 0x7000,
        "starts at the initiator's ExpStatSN"
    );
    assert_eq!(resp.sn.exp_cmd_sn, 0x5555);
    assert_eq!(resp.sn.max_cmd_sn, 0x5555 + 15);
    assert_eq!(resp.data_segment_length as usize, step.data.len());
    let k = keys(&step);
    assert_eq!(get(&k, "HeaderDigest"), Some("None"));
    assert_eq!(get(&k, "DataDigest"), Some("None"));
    assert_eq!(get(&k, "InitialR2T"), Some("No"));
    assert_eq!(get(&k, "ImmediateData"), Some("Yes"));
    assert_eq!(get(&k, "MaxBurstLength"), Some("262144"));
    assert_eq!(get(&k, "FirstBurstLength"), Some("262144"));
    assert_eq!(get(&k, "DefaultTime2Wait"), Some("2"));
    assert_eq!(get(&k, "DefaultTime2Retain"), Some("0"));
    assert_eq!(get(&k, "IFMarker"), Some("No"));
    assert_eq!(get(&k, "TargetPortalGroupTag"), Some("1"));
    assert_eq!(get(&k, "TargetAlias"), Some("buflet"));
    assert_eq!(get(&k, "MaxRecvDataSegmentLength"), Some("262144"));
    assert_eq!(
        get(&k, "InitiatorName"),
        None,
        "declarations are not answered"
    );
    let LoginOutcome::Complete(done) = step.outcome else {
        panic!("login did not complete: {:?}", step.outcome);
    };
    assert_eq!(done.session_type, SessionType::Normal);
    assert_eq!(done.initiator_name, INITIATOR);
    assert_eq!(done.tsih, 0x42);
    assert_eq!(done.isid, r.isid);
    assert_eq!(done.next_stat_sn, 0x7001);
    assert_eq!(done.exp_cmd_sn, 0x5555);
    assert_eq!(done.params.initiator_max_recv_data_segment_length, 262144);
    assert_eq!(done.params.target_max_recv_data_segment_length, 262144);
    assert!(!done.params.initial_r2t && done.params.immediate_data);
    assert_eq!(done.params.default_time2retain, 0);
    assert_eq!(done.params.target_name.as_deref(), Some(TARGET));
    assert!(t.is_finished());
    // The response emits and parses back.
    let mut b = [0u8; BHS_LEN];
    resp.emit(&mut b);
    assert_eq!(b[0], 0x23);
    assert_eq!(b[1], 0x80 | (1 << 2) | 3);
    assert_eq!(LoginResponse::parse(&b).unwrap(), resp);
    // Anything after completion is refused.
    let again = t.on_request(&r, &data);
    assert_eq!(status(&again), login_status::INITIATOR_ERROR);
    assert_eq!(again.outcome, LoginOutcome::Failed);
}

#[test]
fn libiscsi_security_then_operational_login() {
    let mut t = LoginTarget::new(config()).with_initial_stat_sn(100);
    let sec = text(&[
        ("InitiatorName", INITIATOR),
        ("InitiatorAlias", "testhost"),
        ("TargetName", TARGET),
        ("SessionType", "Normal"),
        ("AuthMethod", "CHAP,None"),
    ]);
    let step = t.on_request(&req(Stage::Security, Stage::Operational, true, &sec), &sec);
    assert_eq!(status(&step), 0);
    assert_eq!(step.outcome, LoginOutcome::Continue);
    assert!(step.response.transit);
    assert_eq!(
        (step.response.csg, step.response.nsg),
        (Stage::Security, Stage::Operational)
    );
    assert_eq!(step.response.tsih, 0, "TSIH only in the final response");
    assert_eq!(step.response.sn.stat_sn, 100);
    let k = keys(&step);
    assert_eq!(get(&k, "AuthMethod"), Some("None"));
    assert_eq!(get(&k, "TargetPortalGroupTag"), Some("1"));
    assert_eq!(
        get(&k, "MaxRecvDataSegmentLength"),
        None,
        "declared in stage 1"
    );

    let op = libiscsi_op_keys(false);
    let step = t.on_request(&req(Stage::Operational, Stage::FullFeature, true, &op), &op);
    assert_eq!(status(&step), 0);
    assert_eq!(step.response.sn.stat_sn, 101);
    assert_eq!(step.response.tsih, 1);
    let k = keys(&step);
    assert_eq!(get(&k, "MaxRecvDataSegmentLength"), Some("262144"));
    assert_eq!(
        get(&k, "TargetPortalGroupTag"),
        None,
        "only in the first response"
    );
    let LoginOutcome::Complete(done) = step.outcome else {
        panic!("not complete");
    };
    assert_eq!(done.params.auth_method.as_deref(), Some("None"));
    assert_eq!(done.next_stat_sn, 102);
}

#[test]
fn operational_stage_without_transit_then_transit() {
    let mut t = LoginTarget::new(config());
    let first = text(&[("InitiatorName", INITIATOR), ("TargetName", TARGET)]);
    let step = t.on_request(
        &req(Stage::Operational, Stage::Security, false, &first),
        &first,
    );
    assert_eq!(status(&step), 0);
    assert!(!step.response.transit);
    assert_eq!(step.response.csg, Stage::Operational);
    assert_eq!(
        get(&keys(&step), "MaxRecvDataSegmentLength"),
        Some("262144")
    );
    let second = text(&[("HeaderDigest", "CRC32C")]);
    let step = t.on_request(
        &req(Stage::Operational, Stage::FullFeature, true, &second),
        &second,
    );
    assert_eq!(get(&keys(&step), "MaxRecvDataSegmentLength"), None);
    let LoginOutcome::Complete(done) = step.outcome else {
        panic!("not complete");
    };
    assert_eq!(done.params.header_digest, Digest::Crc32c);
}

#[test]
fn continued_text_is_accumulated_across_pdus() {
    let mut t = LoginTarget::new(config());
    let data = libiscsi_op_keys(true);
    let (a, b) = data.split_at(37); // split inside a pair
    let mut r1 = req(Stage::Operational, Stage::FullFeature, false, a);
    r1.continue_ = true;
    let step = t.on_request(&r1, a);
    assert_eq!(status(&step), 0);
    assert!(step.data.is_empty());
    assert!(!step.response.transit);
    assert_eq!(step.outcome, LoginOutcome::Continue);
    let step = t.on_request(&req(Stage::Operational, Stage::FullFeature, true, b), b);
    assert_eq!(status(&step), 0);
    assert!(matches!(step.outcome, LoginOutcome::Complete(_)));
    assert_eq!(get(&keys(&step), "MaxBurstLength"), Some("262144"));
}

#[test]
fn discovery_login_and_send_targets() {
    let mut t = LoginTarget::new(config());
    let data = text(&[
        ("InitiatorName", INITIATOR),
        ("SessionType", "Discovery"),
        ("HeaderDigest", "None"),
        ("DataDigest", "None"),
        ("MaxRecvDataSegmentLength", "8192"),
        ("MaxBurstLength", "262144"),
    ]);
    let step = t.on_request(
        &req(Stage::Operational, Stage::FullFeature, true, &data),
        &data,
    );
    assert_eq!(status(&step), 0);
    let k = keys(&step);
    assert_eq!(get(&k, "MaxBurstLength"), Some(IRRELEVANT));
    assert_eq!(get(&k, "TargetPortalGroupTag"), None);
    let LoginOutcome::Complete(done) = step.outcome else {
        panic!("not complete");
    };
    assert_eq!(done.session_type, SessionType::Discovery);

    let cfg = config();
    let mut n = Negotiator::new(cfg.params.clone());
    n.negotiate(
        Stage::Operational,
        &[("SessionType".into(), "Discovery".into())],
    )
    .unwrap();
    let ask = parse_text(&text(&[("SendTargets", "All")])).unwrap();
    let answer = text_response(&cfg, &mut n, &ask).unwrap();
    assert_eq!(
        emit_text(&answer),
        text(&[
            ("TargetName", TARGET),
            ("TargetAddress", "10.213.0.2:3260,1")
        ])
    );
    assert!(send_targets(&cfg, SessionType::Discovery, "iqn.other").is_empty());
    assert_eq!(send_targets(&cfg, SessionType::Discovery, TARGET).len(), 2);
    assert_eq!(
        send_targets(&cfg, SessionType::Discovery, ""),
        vec![("SendTargets".to_string(), REJECT.to_string())]
    );
    // Repeating SendTargets in a new exchange is fine; twice in one is not.
    assert!(text_response(&cfg, &mut n, &ask).is_ok());
    let twice = parse_text(&text(&[("SendTargets", "All"), ("SendTargets", "All")])).unwrap();
    assert!(text_response(&cfg, &mut n, &twice).is_err());
}

#[test]
fn send_targets_in_a_normal_session() {
    let cfg = config();
    let mut n = Negotiator::new(cfg.params.clone());
    let ask = parse_text(&text(&[
        ("SendTargets", ""),
        ("MaxRecvDataSegmentLength", "4096"),
        ("HeaderDigest", "CRC32C"),
    ]))
    .unwrap();
    let answer = text_response(&cfg, &mut n, &ask).unwrap();
    assert_eq!(get(&answer, "TargetName"), Some(TARGET));
    assert_eq!(get(&answer, "HeaderDigest"), Some(REJECT));
    assert_eq!(n.session().initiator_max_recv_data_segment_length, 4096);
    assert_eq!(
        send_targets(&cfg, SessionType::Normal, "All"),
        vec![("SendTargets".to_string(), REJECT.to_string())]
    );
}

fn fails_with(data: &[u8], r: LoginRequest, expected: u16) {
    let mut t = LoginTarget::new(config());
    let step = t.on_request(&r, data);
    assert_eq!(status(&step), expected, "{:?}", parse_text(data));
    assert_eq!(step.outcome, LoginOutcome::Failed);
    assert!(!step.response.transit);
    assert!(step.data.is_empty());
    assert!(t.is_finished());
}

#[test]
fn login_failures_carry_the_rfc_status() {
    let good = libiscsi_op_keys(true);
    let op = |d: &[u8]| req(Stage::Operational, Stage::FullFeature, true, d);

    let mut r = op(&good);
    r.version_min = 1;
    r.version_max = 1;
    fails_with(&good, r, login_status::UNSUPPORTED_VERSION);

    let mut r = op(&good);
    r.tsih = 7;
    fails_with(&good, r, login_status::SESSION_DOES_NOT_EXIST);

    let d = text(&[("TargetName", TARGET), ("SessionType", "Normal")]);
    fails_with(&d, op(&d), login_status::MISSING_PARAMETER);

    let d = text(&[("InitiatorName", INITIATOR), ("SessionType", "Normal")]);
    fails_with(&d, op(&d), login_status::MISSING_PARAMETER);

    let d = text(&[("InitiatorName", INITIATOR), ("TargetName", "iqn.nope")]);
    fails_with(&d, op(&d), login_status::NOT_FOUND);

    let d = text(&[("InitiatorName", INITIATOR), ("SessionType", "Bogus")]);
    fails_with(&d, op(&d), login_status::SESSION_TYPE_NOT_SUPPORTED);

    let sec = |d: &[u8]| req(Stage::Security, Stage::Operational, true, d);
    let d = text(&[
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("AuthMethod", "CHAP"),
    ]);
    fails_with(&d, sec(&d), login_status::AUTHENTICATION_FAILURE);
    let d = text(&[
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("CHAP_A", "5"),
    ]);
    fails_with(&d, sec(&d), login_status::AUTHENTICATION_FAILURE);

    // Malformed text, duplicate keys, data shorter than DataSegmentLength.
    fails_with(
        b"InitiatorName\0",
        op(b"InitiatorName\0"),
        login_status::INITIATOR_ERROR,
    );
    let d = text(&[
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("MaxBurstLength", "512"),
        ("MaxBurstLength", "512"),
    ]);
    fails_with(&d, op(&d), login_status::INITIATOR_ERROR);
    fails_with(&good[..10], op(&good), login_status::INITIATOR_ERROR);

    // Bad stage transitions: T and C together, NSG not after CSG, starting in stage 3.
    let mut r = op(&good);
    r.continue_ = true;
    fails_with(&good, r, login_status::INITIATOR_ERROR);
    fails_with(
        &good,
        req(Stage::Operational, Stage::Operational, true, &good),
        login_status::INITIATOR_ERROR,
    );
    fails_with(
        &good,
        req(Stage::FullFeature, Stage::FullFeature, false, &good),
        login_status::INITIATOR_ERROR,
    );
}

#[test]
fn later_requests_must_match_stage_and_identity() {
    let sec = text(&[("InitiatorName", INITIATOR), ("TargetName", TARGET)]);
    let first = req(Stage::Security, Stage::Operational, true, &sec);

    // After transit to stage 1, another stage-0 request is an error.
    let mut t = LoginTarget::new(config());
    assert_eq!(status(&t.on_request(&first, &sec)), 0);
    let d = text(&[("AuthMethod", "None")]);
    let step = t.on_request(&req(Stage::Security, Stage::Operational, true, &d), &d);
    assert_eq!(status(&step), login_status::INITIATOR_ERROR);

    // A changed ISID mid-login is an error.
    let mut t = LoginTarget::new(config());
    assert_eq!(status(&t.on_request(&first, &sec)), 0);
    let d = libiscsi_op_keys(false);
    let mut r = req(Stage::Operational, Stage::FullFeature, true, &d);
    r.isid[5] ^= 1;
    assert_eq!(status(&t.on_request(&r, &d)), login_status::INITIATOR_ERROR);

    // A key negotiated in stage 0 may not come again in stage 1.
    let mut t = LoginTarget::new(config());
    let sec2 = text(&[
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("HeaderDigest", "None"),
    ]);
    let r0 = req(Stage::Security, Stage::Operational, true, &sec2);
    assert_eq!(status(&t.on_request(&r0, &sec2)), 0);
    let d = text(&[("HeaderDigest", "CRC32C")]);
    let step = t.on_request(&req(Stage::Operational, Stage::FullFeature, true, &d), &d);
    assert_eq!(status(&step), login_status::INITIATOR_ERROR);
}

#[test]
fn security_straight_to_full_feature_declares_and_completes() {
    let mut t = LoginTarget::new(config());
    let d = text(&[
        ("InitiatorName", INITIATOR),
        ("TargetName", TARGET),
        ("AuthMethod", "None"),
    ]);
    let step = t.on_request(&req(Stage::Security, Stage::FullFeature, true, &d), &d);
    assert_eq!(status(&step), 0);
    let k = keys(&step);
    assert_eq!(get(&k, "AuthMethod"), Some("None"));
    assert_eq!(get(&k, "MaxRecvDataSegmentLength"), Some("262144"));
    assert!(matches!(step.outcome, LoginOutcome::Complete(_)));
}
