//! Text Requests in full feature phase: SendTargets (RFC 7143 section 13.3 and appendix C)
//! and the few keys that may be renegotiated.
//!
//! The answer may be longer than the initiator's MaxRecvDataSegmentLength; the caller then
//! sends it in several Text Responses ([`crate::text::split_text`]), all but the last with the
//! C bit and a Target Transfer Tag, each after the initiator's empty continuation request.

use crate::error::Result;
use crate::login::TargetConfig;
use crate::pdu::Stage;
use crate::text::{Negotiator, SessionType, TextPairs, REJECT};

/// The SendTargets answer for `value` (`All`, a target name, or empty) in a session of
/// `session_type`: `TargetName=` then one `TargetAddress=` per configured address.
///
/// `All` is answered in Discovery sessions only; the empty value (the session's own target) in
/// Normal sessions only; otherwise `SendTargets=Reject`. A name the portal does not export
/// gives an empty answer.
pub fn send_targets(config: &TargetConfig, session_type: SessionType, value: &str) -> TextPairs {
    let ours = match (value, session_type) {
        ("All", SessionType::Discovery) | ("", SessionType::Normal) => true,
        ("All", SessionType::Normal) | ("", SessionType::Discovery) => {
            return vec![("SendTargets".to_owned(), REJECT.to_owned())];
        }
        (name, _) => name == config.target_name,
    };
    let mut out = Vec::new();
    if ours {
        out.push(("TargetName".to_owned(), config.target_name.clone()));
        for addr in &config.addresses {
            out.push(("TargetAddress".to_owned(), addr.clone()));
        }
    }
    out
}

/// Answers the keys of a (complete) Text Request in full feature phase: SendTargets is
/// answered from `config`, every other key goes to the `negotiator` (which accepts a new
/// MaxRecvDataSegmentLength declaration and rejects login-only keys). Starts a new
/// negotiation sequence each call. Errors on a protocol error (a key sent twice), which the
/// caller answers with a Reject PDU.
pub fn text_response(
    config: &TargetConfig,
    negotiator: &mut Negotiator,
    keys: &[(String, String)],
) -> Result<TextPairs> {
    negotiator.new_sequence();
    let session_type = negotiator.session().session_type;
    let mut others = Vec::new();
    let mut out = Vec::new();
    for (k, v) in keys {
        if k == "SendTargets" {
            if others.iter().any(|(o, _): &(String, String)| o == k) {
                return Err(crate::Error::DuplicateKey(k.clone()));
            }
            others.push((k.clone(), String::new()));
            out.extend(send_targets(config, session_type, v));
        }
    }
    let rest: Vec<(String, String)> = keys
        .iter()
        .filter(|(k, _)| k != "SendTargets")
        .cloned()
        .collect();
    out.extend(negotiator.negotiate(Stage::FullFeature, &rest)?);
    Ok(out)
}
