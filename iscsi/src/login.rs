//! The target's login phase (RFC 7143 sections 6.3 and 11.12/11.13), sans-I/O.
//!
//! [`LoginTarget::on_request`] takes each Login Request (its parsed header and its data
//! segment) and returns a [`LoginStep`]: the Login Response header to emit, its text data
//! segment, and whether the login goes on, completed (with the session it created) or failed
//! (send the response, then close the connection).
//!
//! What this target does:
//! - Security stage (CSG 0): `AuthMethod` must list `None` (no CHAP): otherwise, or if CHAP
//!   keys are sent, the login fails with 0x0201 (authentication failure).
//! - Operational stage (CSG 1): keys go through the [`Negotiator`]; the target adds its
//!   MaxRecvDataSegmentLength declaration to its first operational (or final) response.
//! - It always agrees to the transit the initiator asks for (T bit), answering everything in
//!   one response, so a one-PDU login (libiscsi: CSG 1, NSG 3, T) completes in one exchange.
//! - A request with the C bit is acknowledged with an empty response and its text is joined
//!   with the next one's.
//! - Version-min above 0 fails with 0x0205; a nonzero TSIH (a connection for an existing
//!   session) with 0x020a (this target runs one connection per session); a missing
//!   InitiatorName (or TargetName in a Normal session) with 0x0207; an unknown TargetName with
//!   0x0203; an unknown SessionType with 0x0209; any other protocol error with 0x0200.
//!
//! StatSN: RFC 7143 lets the target choose the StatSN of its first Login Response (section
//! 11.13.4: it is the starting status sequence number of the connection). By default this
//! target starts at the ExpStatSN of the initiator's first request (what Linux LIO does, and
//! what an initiator that already guessed expects); [`LoginTarget::with_initial_stat_sn`]
//! overrides it. Every Login Response consumes one StatSN. Login Requests are immediate, so
//! the session's ExpCmdSN is the CmdSN of the last Login Request.

use std::num::NonZeroU16;

use crate::error::Error;
use crate::pdu::{login_status, LoginRequest, LoginResponse, SnTriple, Stage};
use crate::text::{
    emit_text, parse_text, Negotiator, SessionParams, SessionType, TargetParams, TextPairs,
    MAX_TEXT_LEN,
};

/// The only iSCSI version (RFC 7143 section 11.12.4: 0x00).
pub const ISCSI_VERSION: u8 = 0x00;

/// What the target is: its name, how it is reached, and what it negotiates.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetConfig {
    /// The target's iSCSI name (an IQN such as `iqn.2024-01.org.buflet:disk0`).
    pub target_name: String,
    /// TargetAlias, sent in the first Login Response of a Normal session if set.
    pub target_alias: Option<String>,
    /// The Target Portal Group Tag of the portal the connections arrive on.
    pub portal_group_tag: u16,
    /// TargetAddress values for SendTargets, `ip:port,tpgt` (e.g. `10.213.0.2:3260,1`).
    pub addresses: Vec<String>,
    /// The target's negotiation offers.
    pub params: TargetParams,
    /// Command window granted: MaxCmdSN = ExpCmdSN + cmd_window - 1 (at least 1).
    pub cmd_window: u32,
    /// How long a connection may take to reach full feature phase (host time) before the
    /// target ends it, so a client that connects and never logs in does not hold a connection
    /// for good. `None`: no limit.
    pub login_timeout: Option<std::time::Duration>,
}

/// The default [`TargetConfig::login_timeout`], as Linux's LIO target (15 s).
pub const DEFAULT_LOGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

impl TargetConfig {
    /// A configuration with default parameters and a command window of 32.
    pub fn new(target_name: impl Into<String>) -> TargetConfig {
        TargetConfig {
            target_name: target_name.into(),
            target_alias: None,
            portal_group_tag: 1,
            addresses: Vec::new(),
            params: TargetParams::default(),
            cmd_window: 32,
            login_timeout: Some(DEFAULT_LOGIN_TIMEOUT),
        }
    }
}

/// What became of the login after one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// More Login Requests are expected.
    Continue,
    /// The response moves the connection to full feature phase with this session.
    Complete(Box<LoginComplete>),
    /// The login failed: send the response, then close the connection.
    Failed,
}

/// A session the login created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginComplete {
    /// The negotiated parameters (session type and names included).
    pub params: SessionParams,
    /// Normal or Discovery.
    pub session_type: SessionType,
    /// The initiator's name.
    pub initiator_name: String,
    /// The initiator's session ID.
    pub isid: [u8; 6],
    /// The TSIH the target assigned (nonzero).
    pub tsih: u16,
    /// The connection ID.
    pub cid: u16,
    /// StatSN of the first response in full feature phase.
    pub next_stat_sn: u32,
    /// ExpCmdSN: the CmdSN the first non-immediate command will carry.
    pub exp_cmd_sn: u32,
    /// MaxCmdSN granted in the final Login Response.
    pub max_cmd_sn: u32,
}

/// The target's answer to one Login Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStep {
    /// The Login Response header to emit (its DataSegmentLength is `data.len()`).
    pub response: LoginResponse,
    /// The response's text data segment (unpadded).
    pub data: Vec<u8>,
    /// What happens next.
    pub outcome: LoginOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a request in this stage (`None`: the first request, stage 0 or 1).
    Expect(Option<Stage>),
    Done,
    Failed,
}

/// The target side of the login phase of one connection.
#[derive(Debug, Clone)]
pub struct LoginTarget {
    config: TargetConfig,
    negotiator: Negotiator,
    state: State,
    pending: Vec<u8>,
    ids: Option<([u8; 6], u16, u16)>,
    tsih: NonZeroU16,
    next_stat_sn: Option<u32>,
    names_checked: bool,
    first_response_sent: bool,
}

/// Why a request fails the login (status class/detail).
struct Fail(u16);

impl LoginTarget {
    /// A login for a new connection. The session gets TSIH 1 unless
    /// [`LoginTarget::with_tsih`] says otherwise.
    pub fn new(config: TargetConfig) -> LoginTarget {
        let negotiator = Negotiator::new(config.params.clone());
        LoginTarget {
            config,
            negotiator,
            state: State::Expect(None),
            pending: Vec::new(),
            ids: None,
            tsih: NonZeroU16::MIN,
            next_stat_sn: None,
            names_checked: false,
            first_response_sent: false,
        }
    }

    /// Sets the TSIH the new session gets (the caller keeps TSIHs unique among sessions).
    pub fn with_tsih(mut self, tsih: NonZeroU16) -> LoginTarget {
        self.tsih = tsih;
        self
    }

    /// Sets the StatSN of the first Login Response (default: the first request's ExpStatSN).
    pub fn with_initial_stat_sn(mut self, stat_sn: u32) -> LoginTarget {
        self.next_stat_sn = Some(stat_sn);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &TargetConfig {
        &self.config
    }

    /// The parameters negotiated so far.
    pub fn session(&self) -> &SessionParams {
        self.negotiator.session()
    }

    /// The session's negotiator, once the login is over: Text Requests of the full feature
    /// phase renegotiate with it (and SendTargets needs its session type).
    pub fn into_negotiator(self) -> Negotiator {
        self.negotiator
    }

    /// True once the login completed or failed (further requests are refused).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done | State::Failed)
    }

    /// Answers one Login Request; `data` is its data segment (at least DataSegmentLength
    /// bytes; padding beyond it is ignored).
    pub fn on_request(&mut self, req: &LoginRequest, data: &[u8]) -> LoginStep {
        let stat_sn = *self.next_stat_sn.get_or_insert(req.exp_stat_sn);
        self.next_stat_sn = Some(stat_sn.wrapping_add(1));
        let sn = SnTriple {
            stat_sn,
            exp_cmd_sn: req.cmd_sn,
            max_cmd_sn: req
                .cmd_sn
                .wrapping_add(self.config.cmd_window.max(1))
                .wrapping_sub(1),
        };
        match self.step(req, data) {
            Ok((response_keys, transit)) => {
                let data = emit_text(&response_keys);
                let complete = transit && req.nsg == Stage::FullFeature;
                let response = LoginResponse {
                    transit,
                    continue_: false,
                    csg: req.csg,
                    nsg: if transit { req.nsg } else { Stage::Security },
                    version_max: ISCSI_VERSION,
                    version_active: ISCSI_VERSION,
                    data_segment_length: data.len() as u32,
                    isid: req.isid,
                    tsih: if complete { self.tsih.get() } else { req.tsih },
                    itt: req.itt,
                    sn,
                    status_class: 0,
                    status_detail: 0,
                };
                self.first_response_sent = true;
                let outcome = if complete {
                    self.state = State::Done;
                    let params = self.negotiator.session().clone();
                    LoginOutcome::Complete(Box::new(LoginComplete {
                        session_type: params.session_type,
                        initiator_name: params.initiator_name.clone().unwrap_or_default(),
                        params,
                        isid: req.isid,
                        tsih: self.tsih.get(),
                        cid: req.cid,
                        next_stat_sn: stat_sn.wrapping_add(1),
                        exp_cmd_sn: sn.exp_cmd_sn,
                        max_cmd_sn: sn.max_cmd_sn,
                    }))
                } else {
                    if !req.continue_ {
                        let next = if transit { req.nsg } else { req.csg };
                        self.state = State::Expect(Some(next));
                    }
                    LoginOutcome::Continue
                };
                LoginStep {
                    response,
                    data,
                    outcome,
                }
            }
            Err(Fail(status)) => {
                self.state = State::Failed;
                LoginStep {
                    response: LoginResponse {
                        transit: false,
                        continue_: false,
                        csg: req.csg,
                        nsg: Stage::Security,
                        version_max: ISCSI_VERSION,
                        version_active: ISCSI_VERSION,
                        data_segment_length: 0,
                        isid: req.isid,
                        tsih: req.tsih,
                        itt: req.itt,
                        sn,
                        status_class: (status >> 8) as u8,
                        status_detail: status as u8,
                    },
                    data: Vec::new(),
                    outcome: LoginOutcome::Failed,
                }
            }
        }
    }

    /// Validates one request and negotiates its keys: the response keys and the T bit.
    fn step(
        &mut self,
        req: &LoginRequest,
        data: &[u8],
    ) -> core::result::Result<(TextPairs, bool), Fail> {
        let expected = match self.state {
            State::Expect(stage) => stage,
            State::Done | State::Failed => return Err(Fail(login_status::INITIATOR_ERROR)),
        };
        match self.ids {
            None => {
                if req.version_min > ISCSI_VERSION || req.version_max < req.version_min {
                    return Err(Fail(login_status::UNSUPPORTED_VERSION));
                }
                if req.tsih != 0 {
                    return Err(Fail(login_status::SESSION_DOES_NOT_EXIST));
                }
                self.ids = Some((req.isid, req.tsih, req.cid));
            }
            Some(ids) if ids != (req.isid, req.tsih, req.cid) => {
                return Err(Fail(login_status::INITIATOR_ERROR));
            }
            Some(_) => {}
        }
        let stage_ok = match expected {
            None => matches!(req.csg, Stage::Security | Stage::Operational),
            Some(stage) => req.csg == stage,
        };
        if !stage_ok || (req.transit && req.continue_) {
            return Err(Fail(login_status::INITIATOR_ERROR));
        }
        if req.transit && req.nsg.code() <= req.csg.code() {
            return Err(Fail(login_status::INITIATOR_ERROR));
        }
        let len = req.data_segment_length as usize;
        let segment = data.get(..len).ok_or(Fail(login_status::INITIATOR_ERROR))?;
        if self.pending.len() + segment.len() > MAX_TEXT_LEN {
            return Err(Fail(login_status::INITIATOR_ERROR));
        }
        self.pending.extend_from_slice(segment);
        if req.continue_ {
            // Acknowledge and wait for the rest of the text.
            return Ok((Vec::new(), false));
        }
        let text = core::mem::take(&mut self.pending);
        let keys = parse_text(&text).map_err(|_| Fail(login_status::INITIATOR_ERROR))?;

        if !self.names_checked {
            self.names_checked = true;
            self.check_names(&keys)?;
        }
        if req.csg == Stage::Security && keys.iter().any(|(k, _)| k.starts_with("CHAP_")) {
            return Err(Fail(login_status::AUTHENTICATION_FAILURE));
        }
        let mut out = match self.negotiator.negotiate(req.csg, &keys) {
            Ok(out) => out,
            Err(Error::DuplicateKey(_)) | Err(_) => {
                return Err(Fail(login_status::INITIATOR_ERROR))
            }
        };
        if out
            .iter()
            .any(|(k, v)| k == "AuthMethod" && v == crate::text::REJECT)
        {
            return Err(Fail(login_status::AUTHENTICATION_FAILURE));
        }
        if !self.first_response_sent
            && self.negotiator.session().session_type == SessionType::Normal
        {
            if let Some(alias) = &self.config.target_alias {
                out.push(("TargetAlias".to_owned(), alias.clone()));
            }
            out.push((
                "TargetPortalGroupTag".to_owned(),
                self.config.portal_group_tag.to_string(),
            ));
        }
        let to_ffp = req.transit && req.nsg == Stage::FullFeature;
        if req.csg == Stage::Operational || to_ffp {
            out.extend(self.negotiator.declarations());
        }
        Ok((out, req.transit))
    }

    /// The checks of the first (complete) request: names and session type.
    fn check_names(&self, keys: &[(String, String)]) -> core::result::Result<(), Fail> {
        let get = |key: &str| keys.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let session_type = match get("SessionType") {
            None | Some("Normal") => SessionType::Normal,
            Some("Discovery") => SessionType::Discovery,
            Some(_) => return Err(Fail(login_status::SESSION_TYPE_NOT_SUPPORTED)),
        };
        if get("InitiatorName").is_none_or(str::is_empty) {
            return Err(Fail(login_status::MISSING_PARAMETER));
        }
        if session_type == SessionType::Normal {
            match get("TargetName") {
                None | Some("") => return Err(Fail(login_status::MISSING_PARAMETER)),
                Some(name) if name != self.config.target_name => {
                    return Err(Fail(login_status::NOT_FOUND));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}
