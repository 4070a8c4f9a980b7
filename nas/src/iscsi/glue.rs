//! The wire format as the connection uses it, over `buflet_iscsi`'s PDU views: headers parsed
//! into what the target needs, the target's PDUs emitted, digests and framing.

use buflet_iscsi::pdu::{self, Opcode, SnTriple, BHS_LEN};
use buflet_scsi::EmuPacket;

pub use buflet_iscsi::login::TargetConfig;

/// Opcodes the connection dispatches on.
pub const OP_NOP_OUT: u8 = Opcode::NopOut as u8;
pub const OP_SCSI_CMD: u8 = Opcode::ScsiCommand as u8;
pub const OP_TMF: u8 = Opcode::TaskMgmtRequest as u8;
pub const OP_LOGIN: u8 = Opcode::LoginRequest as u8;
pub const OP_TEXT: u8 = Opcode::TextRequest as u8;
pub const OP_DATA_OUT: u8 = Opcode::DataOut as u8;
pub const OP_LOGOUT: u8 = Opcode::LogoutRequest as u8;
pub const OP_SNACK: u8 = Opcode::Snack as u8;

/// Reject reasons the connection sends.
pub const REJECT_DATA_DIGEST: u8 = pdu::reject_reason::DATA_DIGEST_ERROR;
pub const REJECT_PROTOCOL_ERROR: u8 = pdu::reject_reason::PROTOCOL_ERROR;
pub const REJECT_CMD_NOT_SUPPORTED: u8 = pdu::reject_reason::COMMAND_NOT_SUPPORTED;
pub const REJECT_TASK_IN_PROGRESS: u8 = pdu::reject_reason::TASK_IN_PROGRESS;
pub const REJECT_INVALID_FIELD: u8 = pdu::reject_reason::INVALID_PDU_FIELD;

/// The session's parameters as the connection uses them.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub header_digest: bool,
    pub data_digest: bool,
    pub initial_r2t: bool,
    pub first_burst: u32,
    pub max_burst: u32,
    pub max_r2t: u32,
    /// The initiator's MaxRecvDataSegmentLength: the largest data segment we send.
    pub initiator_mrdsl: u32,
}

impl Default for Params {
    /// RFC 7143 section 13 defaults (and 8192 for the login phase's segments).
    fn default() -> Self {
        Params {
            header_digest: false,
            data_digest: false,
            initial_r2t: true,
            first_burst: 65536,
            max_burst: 262144,
            max_r2t: 1,
            initiator_mrdsl: 8192,
        }
    }
}

/// What the connection reads of every header.
#[derive(Debug, Clone, Copy)]
pub struct Hdr {
    pub op: u8,
    pub imm: bool,
    pub fin: bool,
    pub ahs_len: u32,
    pub dsl: u32,
    pub itt: u32,
}

/// The common fields of a header; an opcode the target does not know is still returned (the
/// connection rejects it).
pub fn header(raw: &[u8; BHS_LEN]) -> Result<Hdr, String> {
    // The whole BHS is here: no accessor can run short; the opcode is judged by the caller.
    let b = pdu::Bhs::new_unchecked(&raw[..]);
    Ok(Hdr {
        op: b.opcode_raw(),
        imm: b.immediate(),
        fin: b.final_flag(),
        ahs_len: b.ahs_len_bytes() as u32,
        dsl: b.data_segment_length(),
        itt: b.itt(),
    })
}

/// The header digest received matches the BHS and AHS.
pub fn header_digest_ok(raw: &[u8; BHS_LEN], ahs: &[u8], wire: [u8; 4]) -> bool {
    let mut h = raw.to_vec();
    h.extend_from_slice(ahs);
    pdu::check_digest(pdu::header_digest(&h), wire).is_ok()
}

/// The data digest received (after the padded segment `seg`) matches it.
pub fn data_digest_ok(seg: &[u8], wire: [u8; 4]) -> bool {
    // `seg` is padded already (its length a multiple of 4): no more pad bytes are added.
    pdu::check_digest(pdu::data_digest(seg), wire).is_ok()
}

/// Padding to 4 and the data digest after a segment the CPU read.
pub fn pad_and_digest(data: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; pdu::pad_len(data.len())];
    v.extend_from_slice(&pdu::digest_to_wire(pdu::data_digest(data)));
    v
}

/// A header whose data segment goes separately (by reference): the header as emitted (its
/// DataSegmentLength kept) and its digest.
pub fn header_only(header: &[u8; BHS_LEN], hd: bool) -> Vec<u8> {
    let mut v = header.to_vec();
    if hd {
        v.extend_from_slice(&pdu::digest_to_wire(pdu::header_digest(header)));
    }
    v
}

/// A whole PDU as bytes: header, header digest, data segment, padding, data digest.
pub fn frame(header: &[u8; BHS_LEN], data: &[u8], hd: bool, dd: bool) -> Vec<u8> {
    let mut h = *header;
    if let Ok(mut b) = pdu::Bhs::new_checked(&mut h[..]) {
        b.set_data_segment_length(data.len() as u32);
    }
    let mut v = Vec::with_capacity(BHS_LEN + 8 + pdu::padded_len(data.len()));
    v.extend_from_slice(&h);
    if hd {
        v.extend_from_slice(&pdu::digest_to_wire(pdu::header_digest(&h)));
    }
    v.extend_from_slice(data);
    v.resize(v.len() + pdu::pad_len(data.len()), 0);
    if dd && !data.is_empty() {
        v.extend_from_slice(&pdu::digest_to_wire(pdu::data_digest(data)));
    }
    v
}

fn sn(stat_sn: u32, exp_cmd_sn: u32, max_cmd_sn: u32) -> SnTriple {
    SnTriple {
        stat_sn,
        exp_cmd_sn,
        max_cmd_sn,
    }
}

fn emit(f: impl FnOnce(&mut [u8; BHS_LEN])) -> [u8; BHS_LEN] {
    let mut b = [0u8; BHS_LEN];
    f(&mut b);
    b
}

/// A Reject of the PDU whose header the data segment carries.
pub fn reject(reason: u8, stat_sn: u32, exp: u32, max: u32) -> [u8; BHS_LEN] {
    emit(|b| {
        pdu::Reject {
            reason,
            data_segment_length: BHS_LEN as u32,
            sn: sn(stat_sn, exp, max),
            data_sn: 0,
        }
        .emit(b)
    })
}

/// What the connection needs of a SCSI Command.
pub struct Cmd {
    pub attr: u8,
    pub read: bool,
    pub write: bool,
    pub lun: u64,
    pub itt: u32,
    pub edtl: u32,
    pub cmd_sn: u32,
    pub cdb: Vec<u8>,
}

/// A SCSI Command and its AHS (an extended CDB).
pub fn scsi_cmd(raw: &[u8; BHS_LEN], ahs: &[u8]) -> Result<Cmd, String> {
    let c = pdu::ScsiCommand::parse(raw).map_err(|e| e.to_string())?;
    let a = pdu::CommandAhs::parse(ahs).map_err(|e| e.to_string())?;
    Ok(Cmd {
        attr: c.attr,
        read: c.read,
        write: c.write,
        lun: c.lun,
        itt: c.itt,
        edtl: c.expected_data_transfer_length,
        cmd_sn: c.cmd_sn,
        cdb: a.full_cdb(&c.cdb),
    })
}

/// The CmdSN field of a command-numbered header.
pub fn cmd_sn(raw: &[u8; BHS_LEN]) -> u32 {
    pdu::Bhs::new_unchecked(&raw[..]).cmd_sn()
}

/// A Data-Out.
pub fn data_out(raw: &[u8; BHS_LEN]) -> pdu::DataOut {
    pdu::DataOut::parse(raw).unwrap_or(pdu::DataOut {
        final_: false,
        data_segment_length: 0,
        lun: 0,
        itt: pdu::RESERVED_TAG,
        ttt: 0,
        exp_stat_sn: 0,
        data_sn: u32::MAX,
        buffer_offset: u32::MAX,
    })
}

/// What the connection needs of a NOP-Out.
pub struct Nop {
    pub itt: u32,
    pub lun: u64,
    pub cmd_sn: u32,
}

/// A NOP-Out.
pub fn nop_out(raw: &[u8; BHS_LEN]) -> Nop {
    let b = pdu::Bhs::new_unchecked(&raw[..]);
    Nop {
        itt: b.itt(),
        lun: b.lun(),
        cmd_sn: b.cmd_sn(),
    }
}

/// A NOP-In answering a ping of `len` data bytes.
pub fn nop_in(itt: u32, lun: u64, stat_sn: u32, exp: u32, max: u32, len: usize) -> [u8; BHS_LEN] {
    emit(|b| {
        pdu::NopIn {
            data_segment_length: len as u32,
            lun,
            itt,
            ttt: pdu::RESERVED_TAG,
            sn: sn(stat_sn, exp, max),
        }
        .emit(b)
    })
}

/// What the connection needs of a task-management request.
pub struct Tmf {
    pub function: u8,
    pub lun: u64,
    pub itt: u32,
    pub rtt: u32,
    pub cmd_sn: u32,
    /// RefCmdSN: the CmdSN of the task ABORT TASK names.
    pub ref_cmd_sn: u32,
}

/// A task-management request.
pub fn tmf(raw: &[u8; BHS_LEN]) -> Tmf {
    let b = pdu::Bhs::new_unchecked(&raw[..]);
    Tmf {
        function: b.flags() & 0x7f,
        lun: b.lun(),
        itt: b.itt(),
        rtt: b.referenced_task_tag(),
        cmd_sn: b.cmd_sn(),
        ref_cmd_sn: b.ref_cmd_sn(),
    }
}

/// A task-management response.
pub fn tmf_response(itt: u32, response: u8, stat_sn: u32, exp: u32, max: u32) -> [u8; BHS_LEN] {
    emit(|b| {
        pdu::TaskMgmtResponse {
            response,
            itt,
            sn: sn(stat_sn, exp, max),
        }
        .emit(b)
    })
}

/// The CmdSN of a text or logout request.
pub struct Numbered {
    pub itt: u32,
    pub cmd_sn: u32,
}

/// A Text Request's numbers.
pub fn text_req(raw: &[u8; BHS_LEN]) -> Numbered {
    let b = pdu::Bhs::new_unchecked(&raw[..]);
    Numbered {
        itt: b.itt(),
        cmd_sn: b.cmd_sn(),
    }
}

/// A Logout Request's numbers.
pub fn logout_req(raw: &[u8; BHS_LEN]) -> Numbered {
    text_req(raw)
}

/// A Logout Response: the connection or session is closed.
pub fn logout_response(itt: u32, stat_sn: u32, exp: u32, max: u32) -> [u8; BHS_LEN] {
    emit(|b| {
        pdu::LogoutResponse {
            response: pdu::logout_response::CLOSED,
            itt,
            sn: sn(stat_sn, exp, max),
            time2wait: 0,
            time2retain: 0,
        }
        .emit(b)
    })
}

/// An R2T for `len` bytes at `off`.
#[allow(clippy::too_many_arguments)]
pub fn r2t(
    lun: u64,
    itt: u32,
    ttt: u32,
    stat_sn: u32,
    exp: u32,
    max: u32,
    r2t_sn: u32,
    off: u32,
    len: u32,
) -> [u8; BHS_LEN] {
    emit(|b| {
        pdu::R2t {
            lun,
            itt,
            ttt,
            sn: sn(stat_sn, exp, max),
            r2t_sn,
            buffer_offset: off,
            desired_data_transfer_length: len,
        }
        .emit(b)
    })
}

/// A Data-In of `len` bytes at `off`; with `status` (status, underflow, overflow, residual) it
/// carries the command's status (S bit).
#[allow(clippy::too_many_arguments)]
pub fn data_in(
    lun: u64,
    itt: u32,
    stat_sn: u32,
    exp: u32,
    max: u32,
    data_sn: u32,
    off: u32,
    len: u32,
    fin: bool,
    status: Option<(u8, bool, bool, u32)>,
) -> [u8; BHS_LEN] {
    let (st, under, over, residual) = status.unwrap_or((0, false, false, 0));
    emit(|b| {
        pdu::DataIn {
            final_: fin || status.is_some(),
            acknowledge: false,
            overflow: status.is_some() && over,
            underflow: status.is_some() && under,
            status_present: status.is_some(),
            status: st,
            data_segment_length: len,
            lun,
            itt,
            ttt: pdu::RESERVED_TAG,
            sn: sn(stat_sn, exp, max),
            data_sn,
            buffer_offset: off,
            residual_count: if status.is_some() { residual } else { 0 },
        }
        .emit(b)
    })
}

/// A SCSI Response with `sense_len` bytes of sense data following (plus its 2-byte length).
#[allow(clippy::too_many_arguments)]
pub fn scsi_response(
    itt: u32,
    status: u8,
    stat_sn: u32,
    exp: u32,
    max: u32,
    exp_data_sn: u32,
    under: bool,
    over: bool,
    residual: u32,
    sense_len: usize,
) -> [u8; BHS_LEN] {
    emit(|b| {
        pdu::ScsiResponse {
            bidi_overflow: false,
            bidi_underflow: false,
            overflow: over,
            underflow: under,
            response: pdu::scsi_response::COMPLETED,
            status,
            data_segment_length: if sense_len > 0 {
                sense_len as u32 + 2
            } else {
                0
            },
            itt,
            snack_tag: 0,
            sn: sn(stat_sn, exp, max),
            exp_data_sn,
            bidi_residual_count: 0,
            residual_count: residual,
        }
        .emit(b)
    })
}

/// Fixed-format sense data.
pub fn fixed_sense(key: u8, asc: u8, ascq: u8) -> Vec<u8> {
    let mut s = vec![0u8; 18];
    s[0] = 0x70;
    s[2] = key;
    s[7] = 10;
    s[12] = asc;
    s[13] = ascq;
    s
}

/// Residual of a finished command: (underflow, overflow, count). The logical unit's own
/// residual wins; otherwise a read that produced less than the expected length underflows.
pub fn residual(pkt: &EmuPacket, edtl: u32, produced: u64, write: bool) -> (bool, bool, u32) {
    let f = pkt.residual_flags();
    if f != 0 {
        return (
            f & buflet_scsi::packet::RESIDUAL_UNDERFLOW != 0,
            f & buflet_scsi::packet::RESIDUAL_OVERFLOW != 0,
            pkt.residual(),
        );
    }
    if !write && produced < u64::from(edtl) {
        return (true, false, edtl - produced as u32);
    }
    (false, false, 0)
}

/// A packet that never reached the logical unit (its answer made by the target).
pub fn blank_packet(tag: u64) -> EmuPacket {
    let mut p = EmuPacket::new(tag, 0, &[0], buflet_scsi::Direction::None, 0, 0, 0)
        .unwrap_or_else(|_| EmuPacket::from_bytes([0; buflet_scsi::packet::PKT_BYTES]));
    p.set_state(buflet_scsi::PacketState::Done);
    p
}

/// The login phase of one connection, over `buflet_iscsi::login`.
pub struct Login {
    target: buflet_iscsi::login::LoginTarget,
}

/// The answer to one Login Request.
pub struct LoginOut {
    /// The Login Response header and its text.
    pub header: [u8; BHS_LEN],
    pub data: Vec<u8>,
    /// Set when the login completed: the session's parameters, StatSN of the next response
    /// and ExpCmdSN.
    pub params: Option<Params>,
    pub next_stat_sn: u32,
    pub exp_cmd_sn: u32,
    /// Discovery session (only Text, NOP and Logout follow).
    pub discovery: bool,
    /// The initiator port: its name and ISID.
    pub initiator: (String, [u8; 6]),
    /// The login failed: the response goes, then the connection ends.
    pub failed: bool,
}

impl Login {
    /// A login for a new connection; the session gets TSIH `tsih`.
    pub fn new(cfg: &TargetConfig, tsih: u16) -> Self {
        let mut t = buflet_iscsi::login::LoginTarget::new(cfg.clone());
        if let Some(n) = std::num::NonZeroU16::new(tsih) {
            t = t.with_tsih(n);
        }
        Login { target: t }
    }

    /// Answer one Login Request.
    pub fn on_request(&mut self, raw: &[u8; BHS_LEN], text: &[u8]) -> LoginOut {
        use buflet_iscsi::login::LoginOutcome;
        let req = match pdu::LoginRequest::parse(raw) {
            Ok(r) => r,
            Err(_) => {
                return LoginOut {
                    header: *raw,
                    data: Vec::new(),
                    params: None,
                    next_stat_sn: 0,
                    exp_cmd_sn: 0,
                    discovery: false,
                    initiator: (String::new(), [0; 6]),
                    failed: true,
                }
            }
        };
        let step = self.target.on_request(&req, text);
        let header = emit(|b| step.response.emit(b));
        let mut out = LoginOut {
            header,
            data: step.data,
            params: None,
            next_stat_sn: 0,
            exp_cmd_sn: 0,
            discovery: false,
            initiator: (String::new(), [0; 6]),
            failed: false,
        };
        match step.outcome {
            LoginOutcome::Continue => {}
            LoginOutcome::Failed => out.failed = true,
            LoginOutcome::Complete(c) => {
                let p = &c.params;
                out.params = Some(Params {
                    header_digest: p.header_digest.enabled(),
                    data_digest: p.data_digest.enabled(),
                    initial_r2t: p.initial_r2t,
                    first_burst: p.first_burst_length,
                    max_burst: p.max_burst_length,
                    max_r2t: u32::from(p.max_outstanding_r2t),
                    initiator_mrdsl: p.initiator_max_recv_data_segment_length,
                });
                out.next_stat_sn = c.next_stat_sn;
                out.exp_cmd_sn = c.exp_cmd_sn;
                out.discovery = c.session_type == buflet_iscsi::text::SessionType::Discovery;
                out.initiator = (c.initiator_name.clone(), c.isid);
            }
        }
        out
    }

    /// The negotiator of the session the login made (Text Requests renegotiate with it).
    pub fn into_negotiator(self) -> buflet_iscsi::text::Negotiator {
        self.target.into_negotiator()
    }
}

/// The Text Response to a Text Request (SendTargets, renegotiation); a key sent twice is a
/// protocol error (`Err`: the caller rejects the PDU).
pub fn text_response(
    raw: &[u8; BHS_LEN],
    text: &[u8],
    target: &TargetConfig,
    negotiator: &mut buflet_iscsi::text::Negotiator,
    sns: (u32, u32, u32),
) -> Result<([u8; BHS_LEN], Vec<u8>), String> {
    let req = pdu::TextRequest::parse(raw).map_err(|e| e.to_string())?;
    let keys = buflet_iscsi::text::parse_text(text).map_err(|e| e.to_string())?;
    let pairs = buflet_iscsi::discovery::text_response(target, negotiator, &keys)
        .map_err(|e| e.to_string())?;
    let data = buflet_iscsi::text::emit_text(&pairs);
    let header = emit(|b| {
        pdu::TextResponse {
            final_: true,
            continue_: false,
            data_segment_length: data.len() as u32,
            lun: req.lun,
            itt: req.itt,
            ttt: pdu::RESERVED_TAG,
            sn: sn(sns.0, sns.1, sns.2),
        }
        .emit(b)
    });
    Ok((header, data))
}
