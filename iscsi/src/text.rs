//! Text data segments (RFC 7143 section 6.1) and the target's key negotiation (sections 6.2,
//! 6.3 and 13).
//!
//! A segment is a sequence of `key=value` strings, each terminated by a NUL byte. [`parse_text`]
//! turns one into an ordered list of pairs (rejecting bad key names, missing `=`, missing NULs,
//! non-UTF-8 bytes and over-long keys or values); [`emit_text`] does the reverse.
//!
//! [`Negotiator`] is the responder side of a negotiation: fed the initiator's keys of one Login
//! or Text request, it answers each one by the key's rule (list selection, Boolean AND/OR,
//! numeric min/max with range checks, declarations) and keeps the [`SessionParams`] agreed so
//! far. Malformed or out-of-range values are answered `Reject`, unknown keys `NotUnderstood`,
//! keys without meaning in the session type `Irrelevant`; a key sent twice in one negotiation
//! is a protocol error ([`Error::DuplicateKey`]).

use crate::error::{Error, Result};
use crate::pdu::{Stage, MAX_DATA_SEGMENT_LENGTH};

/// Longest key name (RFC 7143 section 6.1).
pub const MAX_KEY_LEN: usize = 63;
/// Longest value string a text segment may carry (RFC 7143 section 6.1: 8192 bytes, e.g.
/// long CHAP challenges).
pub const MAX_VALUE_LEN: usize = 8192;
/// Longest individual value (a list element, a name) the negotiation accepts (255 bytes).
pub const MAX_SIMPLE_VALUE_LEN: usize = 255;
/// Longest iSCSI name (RFC 7143 section 4.2.7.1: 223 bytes).
pub const MAX_NAME_LEN: usize = 223;
/// Longest text (one segment, or several joined by the C bit) this crate accepts.
pub const MAX_TEXT_LEN: usize = 64 * 1024;

/// The answer value for an unknown key.
pub const NOT_UNDERSTOOD: &str = "NotUnderstood";
/// The answer value for a malformed, out-of-range or unacceptable value.
pub const REJECT: &str = "Reject";
/// The answer value for a key that has no meaning in the current state.
pub const IRRELEVANT: &str = "Irrelevant";

/// An ordered list of `(key, value)` pairs, as they appear in a text segment.
pub type TextPairs = Vec<(String, String)>;

/// True when `key` is a well-formed key name: 1..=63 bytes of letters, digits, `.`, `-`, `+`,
/// `@`, `_` (plus the `#` of an `X#` extension key).
pub fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_KEY_LEN
        && b.iter().enumerate().all(|(i, &c)| {
            c.is_ascii_alphanumeric()
                || matches!(c, b'.' | b'-' | b'+' | b'@' | b'_')
                || (c == b'#' && i == 1 && b[0] == b'X')
        })
}

/// Parses a text data segment (DataSegmentLength bytes, padding excluded; trailing NUL
/// padding is tolerated) into ordered pairs.
pub fn parse_text(data: &[u8]) -> Result<TextPairs> {
    if data.len() > MAX_TEXT_LEN {
        return Err(Error::TextTooLong { max: MAX_TEXT_LEN });
    }
    let mut pairs = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some(nul) = rest.iter().position(|&c| c == 0) else {
            return Err(Error::MissingNul);
        };
        let (item, tail) = rest.split_at(nul);
        rest = tail.get(1..).unwrap_or(&[]);
        if item.is_empty() {
            // Only NUL padding may follow an empty item.
            if rest.iter().all(|&c| c == 0) {
                break;
            }
            return Err(Error::MissingEquals);
        }
        let eq = item
            .iter()
            .position(|&c| c == b'=')
            .ok_or(Error::MissingEquals)?;
        let (k, v) = item.split_at(eq);
        let v = v.get(1..).unwrap_or(&[]);
        if k.len() > MAX_KEY_LEN {
            return Err(Error::KeyTooLong);
        }
        if v.len() > MAX_VALUE_LEN {
            return Err(Error::ValueTooLong { max: MAX_VALUE_LEN });
        }
        let k = core::str::from_utf8(k).map_err(|_| Error::TextNotUtf8)?;
        let v = core::str::from_utf8(v).map_err(|_| Error::TextNotUtf8)?;
        if !valid_key(k) {
            return Err(Error::BadKeyName);
        }
        pairs.push((k.to_owned(), v.to_owned()));
    }
    Ok(pairs)
}

/// Appends one `key=value\0` to a segment under construction.
pub fn push_pair(out: &mut Vec<u8>, key: &str, value: &str) {
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value.as_bytes());
    out.push(0);
}

/// Encodes pairs as a text data segment (unpadded).
pub fn emit_text(pairs: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        push_pair(&mut out, k, v);
    }
    out
}

/// Splits a text segment into chunks of at most `max` bytes (the peer's
/// MaxRecvDataSegmentLength), for a sequence of Login or Text Responses with the C bit set on
/// all but the last. A `max` of 0 is treated as 1.
pub fn split_text(data: &[u8], max: usize) -> Vec<&[u8]> {
    if data.is_empty() {
        return vec![data];
    }
    data.chunks(max.max(1)).collect()
}

/// A digest algorithm (HeaderDigest / DataDigest values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Digest {
    /// No digest.
    None,
    /// CRC32C.
    Crc32c,
}

impl Digest {
    /// The key value.
    pub fn as_str(self) -> &'static str {
        match self {
            Digest::None => "None",
            Digest::Crc32c => "CRC32C",
        }
    }

    /// The digest of a key value, if known (case-sensitive, as RFC 7143 values are).
    pub fn from_value(value: &str) -> Option<Digest> {
        match value {
            "None" => Some(Digest::None),
            "CRC32C" => Some(Digest::Crc32c),
            _ => None,
        }
    }

    /// True for CRC32C: the 4 digest bytes are present on the wire.
    pub fn enabled(self) -> bool {
        self == Digest::Crc32c
    }
}

/// The session type (SessionType key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SessionType {
    /// A normal session: SCSI commands to one target.
    Normal,
    /// A discovery session: only Text Requests with SendTargets, then Logout.
    Discovery,
}

/// What the target offers and accepts: its side of every negotiated key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetParams {
    /// Header digests the target supports (the initiator's order decides among them).
    pub header_digest: Vec<Digest>,
    /// Data digests the target supports.
    pub data_digest: Vec<Digest>,
    /// InitialR2T: `true` if the target requires an R2T before any non-immediate data (OR).
    pub initial_r2t: bool,
    /// ImmediateData: `true` if the target accepts data in the SCSI Command PDU (AND).
    pub immediate_data: bool,
    /// The target's MaxRecvDataSegmentLength (declared, 512..=2^24-1).
    pub max_recv_data_segment_length: u32,
    /// The largest MaxBurstLength the target accepts (min).
    pub max_burst_length: u32,
    /// The largest FirstBurstLength the target accepts (min).
    pub first_burst_length: u32,
    /// The largest MaxOutstandingR2T the target accepts (min).
    pub max_outstanding_r2t: u16,
    /// The target's DefaultTime2Wait (max).
    pub default_time2wait: u16,
    /// The target's DefaultTime2Retain (min).
    pub default_time2retain: u16,
    /// The highest ErrorRecoveryLevel the target implements (min).
    pub error_recovery_level: u8,
    /// The most connections per session the target allows (min).
    pub max_connections: u16,
    /// DataPDUInOrder: `true` if the target needs Data-Out PDUs in order (OR).
    pub data_pdu_in_order: bool,
    /// DataSequenceInOrder: `true` if the target needs sequences in order (OR).
    pub data_sequence_in_order: bool,
}

impl Default for TargetParams {
    /// A target that implements ErrorRecoveryLevel 0, one connection per session, both
    /// digests, immediate data, in-order data, and the RFC 7143 default sizes.
    fn default() -> TargetParams {
        TargetParams {
            header_digest: vec![Digest::None, Digest::Crc32c],
            data_digest: vec![Digest::None, Digest::Crc32c],
            initial_r2t: true,
            immediate_data: true,
            max_recv_data_segment_length: 8192,
            max_burst_length: 262_144,
            first_burst_length: 65_536,
            max_outstanding_r2t: 1,
            default_time2wait: 2,
            default_time2retain: 20,
            error_recovery_level: 0,
            max_connections: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
        }
    }
}

/// The operational parameters in force for a session (RFC 7143 section 13 defaults until
/// negotiated otherwise).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionParams {
    /// HeaderDigest in force.
    pub header_digest: Digest,
    /// DataDigest in force.
    pub data_digest: Digest,
    /// MaxConnections.
    pub max_connections: u16,
    /// InitialR2T.
    pub initial_r2t: bool,
    /// ImmediateData.
    pub immediate_data: bool,
    /// The initiator's declared MaxRecvDataSegmentLength: the limit on data segments the
    /// target sends.
    pub initiator_max_recv_data_segment_length: u32,
    /// The target's declared MaxRecvDataSegmentLength: the limit on data segments it receives.
    pub target_max_recv_data_segment_length: u32,
    /// MaxBurstLength.
    pub max_burst_length: u32,
    /// FirstBurstLength.
    pub first_burst_length: u32,
    /// DefaultTime2Wait.
    pub default_time2wait: u16,
    /// DefaultTime2Retain.
    pub default_time2retain: u16,
    /// MaxOutstandingR2T.
    pub max_outstanding_r2t: u16,
    /// DataPDUInOrder.
    pub data_pdu_in_order: bool,
    /// DataSequenceInOrder.
    pub data_sequence_in_order: bool,
    /// ErrorRecoveryLevel.
    pub error_recovery_level: u8,
    /// SessionType.
    pub session_type: SessionType,
    /// InitiatorName, once declared.
    pub initiator_name: Option<String>,
    /// InitiatorAlias, if declared.
    pub initiator_alias: Option<String>,
    /// TargetName the initiator asked for, if declared.
    pub target_name: Option<String>,
    /// The AuthMethod selected in the security stage, if one was negotiated.
    pub auth_method: Option<String>,
    /// IFMarker (always `false`: markers are obsolete).
    pub if_marker: bool,
    /// OFMarker (always `false`).
    pub of_marker: bool,
    /// iSCSIProtocolLevel (RFC 7144).
    pub iscsi_protocol_level: u8,
}

impl Default for SessionParams {
    /// The RFC 7143 section 13 defaults.
    fn default() -> SessionParams {
        SessionParams {
            header_digest: Digest::None,
            data_digest: Digest::None,
            max_connections: 1,
            initial_r2t: true,
            immediate_data: true,
            initiator_max_recv_data_segment_length: 8192,
            target_max_recv_data_segment_length: 8192,
            max_burst_length: 262_144,
            first_burst_length: 65_536,
            default_time2wait: 2,
            default_time2retain: 20,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
            session_type: SessionType::Normal,
            initiator_name: None,
            initiator_alias: None,
            target_name: None,
            auth_method: None,
            if_marker: false,
            of_marker: false,
            iscsi_protocol_level: 1,
        }
    }
}

/// Parses a numerical value: decimal, or hexadecimal with `0x`/`0X` (RFC 7143 section 5.1).
pub fn parse_number(value: &str) -> Option<u64> {
    let (digits, radix) = match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) => (hex, 16),
        None => (value, 10),
    };
    if digits.is_empty() || digits.len() > 20 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Parses a Boolean value (`Yes` / `No`).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "Yes" => Some(true),
        "No" => Some(false),
        _ => None,
    }
}

/// The `Yes` / `No` string of a Boolean.
pub fn bool_str(v: bool) -> &'static str {
    if v {
        "Yes"
    } else {
        "No"
    }
}

fn number_in(value: &str, lo: u64, hi: u64) -> Option<u64> {
    parse_number(value).filter(|n| (lo..=hi).contains(n))
}

/// Selects from an initiator's list (`a,b,c`) the first value the target accepts; `None`
/// when the list is malformed (empty element, over-long element) or nothing is accepted.
fn select(list: &str, accept: impl Fn(&str) -> bool) -> Option<&str> {
    let mut chosen = None;
    for item in list.split(',') {
        if item.is_empty() || item.len() > MAX_SIMPLE_VALUE_LEN {
            return None;
        }
        if chosen.is_none() && accept(item) {
            chosen = Some(item);
        }
    }
    chosen
}

/// The responder's side of a key negotiation (the target's), across the PDUs of one Login or
/// one Text exchange. See the module documentation for the rules.
#[derive(Debug, Clone)]
pub struct Negotiator {
    params: TargetParams,
    session: SessionParams,
    seen: Vec<String>,
    declared: bool,
}

impl Negotiator {
    /// A negotiator for a new session with the target's offers; the session starts at the RFC
    /// defaults, with the target's MaxRecvDataSegmentLength.
    pub fn new(params: TargetParams) -> Negotiator {
        let session = SessionParams {
            target_max_recv_data_segment_length: params
                .max_recv_data_segment_length
                .clamp(512, MAX_DATA_SEGMENT_LENGTH),
            ..SessionParams::default()
        };
        Negotiator {
            params,
            session,
            seen: Vec::new(),
            declared: false,
        }
    }

    /// The target's offers.
    pub fn params(&self) -> &TargetParams {
        &self.params
    }

    /// The parameters agreed so far.
    pub fn session(&self) -> &SessionParams {
        &self.session
    }

    /// The agreed parameters, consuming the negotiator.
    pub fn into_session(self) -> SessionParams {
        self.session
    }

    /// Starts a new negotiation (a new Text exchange in full feature phase): keys seen before
    /// may be sent again.
    pub fn new_sequence(&mut self) {
        self.seen.clear();
    }

    /// The target's own declarations not yet sent (its MaxRecvDataSegmentLength), to append to
    /// a response of the operational stage. Returns them once.
    pub fn declarations(&mut self) -> TextPairs {
        if self.declared {
            return Vec::new();
        }
        self.declared = true;
        vec![(
            "MaxRecvDataSegmentLength".to_owned(),
            self.session.target_max_recv_data_segment_length.to_string(),
        )]
    }

    /// Answers the initiator's keys of one request in `stage` (Security, Operational, or
    /// FullFeature for a Text Request). Returns the response pairs in the request's order.
    /// Errors only on a protocol error (a key sent twice in this negotiation).
    pub fn negotiate(&mut self, stage: Stage, keys: &[(String, String)]) -> Result<TextPairs> {
        for (i, (k, _)) in keys.iter().enumerate() {
            if self.seen.iter().any(|s| s == k) || keys[..i].iter().any(|(p, _)| p == k) {
                return Err(Error::DuplicateKey(k.clone()));
            }
        }
        // SessionType decides what is irrelevant, whatever its position in the request.
        if stage != Stage::FullFeature {
            if let Some((_, v)) = keys.iter().find(|(k, _)| k == "SessionType") {
                match v.as_str() {
                    "Normal" => self.session.session_type = SessionType::Normal,
                    "Discovery" => self.session.session_type = SessionType::Discovery,
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        for (k, v) in keys {
            self.seen.push(k.clone());
            if matches!(v.as_str(), NOT_UNDERSTOOD | REJECT | IRRELEVANT) {
                // An answer to a declaration of ours: nothing to say back.
                continue;
            }
            if let Some(answer) = self.answer(stage, k, v) {
                out.push((k.clone(), answer));
            }
        }
        self.fix_first_burst(&mut out);
        Ok(out)
    }

    /// FirstBurstLength must not exceed MaxBurstLength and is irrelevant with InitialR2T=Yes
    /// and ImmediateData=No; both depend on keys that may come after it.
    fn fix_first_burst(&mut self, out: &mut TextPairs) {
        let s = &mut self.session;
        if s.first_burst_length > s.max_burst_length {
            s.first_burst_length = s.max_burst_length;
        }
        let irrelevant = s.initial_r2t && !s.immediate_data;
        for (k, v) in out.iter_mut() {
            if k == "FirstBurstLength" && v != REJECT && v != IRRELEVANT {
                *v = if irrelevant {
                    IRRELEVANT.to_owned()
                } else {
                    s.first_burst_length.to_string()
                };
            }
        }
    }

    fn answer(&mut self, stage: Stage, key: &str, value: &str) -> Option<String> {
        let discovery = self.session.session_type == SessionType::Discovery;
        let login = stage != Stage::FullFeature;
        let reject = || Some(REJECT.to_owned());
        let irrelevant = || Some(IRRELEVANT.to_owned());
        let p = &self.params;
        let s = &mut self.session;
        match key {
            "MaxRecvDataSegmentLength" => {
                // Declarative, allowed in full feature phase too.
                match number_in(value, 512, u64::from(MAX_DATA_SEGMENT_LENGTH)) {
                    Some(n) => {
                        s.initiator_max_recv_data_segment_length = n as u32;
                        None
                    }
                    None => reject(),
                }
            }
            _ if key.starts_with("X-") || key.starts_with("X#") => Some(NOT_UNDERSTOOD.to_owned()),
            // Everything below is login-only (LO/IO keys, declarations of the login).
            "HeaderDigest"
            | "DataDigest"
            | "MaxConnections"
            | "TargetName"
            | "InitiatorName"
            | "InitiatorAlias"
            | "InitialR2T"
            | "ImmediateData"
            | "MaxBurstLength"
            | "FirstBurstLength"
            | "DefaultTime2Wait"
            | "DefaultTime2Retain"
            | "MaxOutstandingR2T"
            | "DataPDUInOrder"
            | "DataSequenceInOrder"
            | "ErrorRecoveryLevel"
            | "SessionType"
            | "AuthMethod"
            | "OFMarker"
            | "IFMarker"
            | "OFMarkInt"
            | "IFMarkInt"
            | "TaskReporting"
            | "iSCSIProtocolLevel"
                if !login =>
            {
                reject()
            }
            "HeaderDigest" | "DataDigest" => {
                let supported = if key == "HeaderDigest" {
                    &p.header_digest
                } else {
                    &p.data_digest
                };
                let chosen = select(value, |v| {
                    Digest::from_value(v).is_some_and(|d| supported.contains(&d))
                })
                .and_then(Digest::from_value);
                match chosen {
                    Some(d) => {
                        if key == "HeaderDigest" {
                            s.header_digest = d;
                        } else {
                            s.data_digest = d;
                        }
                        Some(d.as_str().to_owned())
                    }
                    None => reject(),
                }
            }
            "MaxConnections" if discovery => irrelevant(),
            "MaxConnections" => match number_in(value, 1, 65535) {
                Some(n) => {
                    s.max_connections = (n as u16).min(p.max_connections.max(1));
                    Some(s.max_connections.to_string())
                }
                None => reject(),
            },
            "InitiatorName" | "TargetName" => {
                if value.is_empty() || value.len() > MAX_NAME_LEN {
                    return reject();
                }
                if key == "InitiatorName" {
                    s.initiator_name = Some(value.to_owned());
                } else {
                    s.target_name = Some(value.to_owned());
                }
                None
            }
            "InitiatorAlias" => {
                if value.len() > MAX_SIMPLE_VALUE_LEN {
                    return reject();
                }
                s.initiator_alias = Some(value.to_owned());
                None
            }
            "SessionType" => match value {
                "Normal" | "Discovery" => None,
                _ => reject(),
            },
            "InitialR2T" | "ImmediateData" | "DataPDUInOrder" | "DataSequenceInOrder"
                if discovery =>
            {
                irrelevant()
            }
            "InitialR2T" => match parse_bool(value) {
                Some(v) => {
                    s.initial_r2t = v || p.initial_r2t;
                    Some(bool_str(s.initial_r2t).to_owned())
                }
                None => reject(),
            },
            "ImmediateData" => match parse_bool(value) {
                Some(v) => {
                    s.immediate_data = v && p.immediate_data;
                    Some(bool_str(s.immediate_data).to_owned())
                }
                None => reject(),
            },
            "DataPDUInOrder" => match parse_bool(value) {
                Some(v) => {
                    s.data_pdu_in_order = v || p.data_pdu_in_order;
                    Some(bool_str(s.data_pdu_in_order).to_owned())
                }
                None => reject(),
            },
            "DataSequenceInOrder" => match parse_bool(value) {
                Some(v) => {
                    s.data_sequence_in_order = v || p.data_sequence_in_order;
                    Some(bool_str(s.data_sequence_in_order).to_owned())
                }
                None => reject(),
            },
            "MaxBurstLength" | "FirstBurstLength" | "MaxOutstandingR2T" if discovery => {
                irrelevant()
            }
            "MaxBurstLength" => match number_in(value, 512, u64::from(MAX_DATA_SEGMENT_LENGTH)) {
                Some(n) => {
                    s.max_burst_length = (n as u32).min(p.max_burst_length.max(512));
                    Some(s.max_burst_length.to_string())
                }
                None => reject(),
            },
            "FirstBurstLength" => {
                match number_in(value, 512, u64::from(MAX_DATA_SEGMENT_LENGTH)) {
                    // The final value is written by `fix_first_burst`.
                    Some(n) => {
                        s.first_burst_length = (n as u32).min(p.first_burst_length.max(512));
                        Some(s.first_burst_length.to_string())
                    }
                    None => reject(),
                }
            }
            "MaxOutstandingR2T" => match number_in(value, 1, 65535) {
                Some(n) => {
                    s.max_outstanding_r2t = (n as u16).min(p.max_outstanding_r2t.max(1));
                    Some(s.max_outstanding_r2t.to_string())
                }
                None => reject(),
            },
            "DefaultTime2Wait" => match number_in(value, 0, 3600) {
                Some(n) => {
                    s.default_time2wait = (n as u16).max(p.default_time2wait.min(3600));
                    Some(s.default_time2wait.to_string())
                }
                None => reject(),
            },
            "DefaultTime2Retain" => match number_in(value, 0, 3600) {
                Some(n) => {
                    s.default_time2retain = (n as u16).min(p.default_time2retain);
                    Some(s.default_time2retain.to_string())
                }
                None => reject(),
            },
            "ErrorRecoveryLevel" => match number_in(value, 0, 2) {
                Some(n) => {
                    s.error_recovery_level = (n as u8).min(p.error_recovery_level);
                    Some(s.error_recovery_level.to_string())
                }
                None => reject(),
            },
            "AuthMethod" if stage != Stage::Security => reject(),
            "AuthMethod" => match select(value, |v| v == "None") {
                Some(m) => {
                    s.auth_method = Some(m.to_owned());
                    Some(m.to_owned())
                }
                None => reject(),
            },
            "OFMarker" | "IFMarker" => match parse_bool(value) {
                // Markers are obsolete (RFC 7143 section 13.25); AND with our No.
                Some(_) => Some("No".to_owned()),
                None => reject(),
            },
            "OFMarkInt" | "IFMarkInt" => reject(),
            "TaskReporting" => match select(value, |v| v == "RFC3720") {
                Some(m) => Some(m.to_owned()),
                None => reject(),
            },
            "iSCSIProtocolLevel" => match number_in(value, 0, 31) {
                Some(n) => {
                    s.iscsi_protocol_level = (n as u8).min(1);
                    Some(s.iscsi_protocol_level.to_string())
                }
                None => reject(),
            },
            // Keys only the target sends, and SendTargets outside a Text Request.
            "TargetAlias" | "TargetAddress" | "TargetPortalGroupTag" | "SendTargets" => reject(),
            _ if key.starts_with("CHAP_") => irrelevant(),
            _ => Some(NOT_UNDERSTOOD.to_owned()),
        }
    }
}
