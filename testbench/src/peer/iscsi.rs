//! `buflet peer --protocol iscsi`: an iSCSI initiator on smoltcp's TCP writes a seeded file to
//! the NIC's iSCSI target and reads it back, on either backend, deterministic and without root
//! (the live run against libiscsi, `scripts/iscsi-conformance.sh`, needs a TAP interface).
//!
//! The initiator logs in (one operational-stage Login Request going to full feature), writes
//! the file with WRITE(10) commands of [`CHUNK`] bytes (immediate data up to FirstBurstLength,
//! the rest as Data-Out PDUs answering the target's R2Ts), up to [`QUEUE_DEPTH`] commands
//! outstanding, reads it back with READ(10) commands (Data-In PDUs, status in the last one or
//! in a SCSI Response), checks the status of every command, compares sha256 and logs out.
//! The target is the NAS's ([`buflet_nas::iscsi`]): the logical unit runs on worker threads of
//! the emulation module; the device, the driver and the NAS are turned by this loop.

use super::*;
use buflet_driver::ListenSpec;
use buflet_iscsi::pdu::{self, Stage, BHS_LEN};
use buflet_nas::iscsi::IscsiShared;
use buflet_nas::multi::{ConnId, MultiConfig, MultiServer};
use std::collections::HashMap;
use std::sync::Arc;

/// Bytes per WRITE(10) or READ(10).
pub const CHUNK: u64 = 256 * 1024;
/// Commands the initiator keeps outstanding.
pub const QUEUE_DEPTH: usize = 4;
/// The target's name.
pub const TARGET_NAME: &str = "iqn.2026-12.org.buflet:peer";
/// The initiator's MaxRecvDataSegmentLength (Data-In PDUs are at most this long).
const INITIATOR_MRDSL: u32 = 65536;

/// A protocol error the initiator commits once, right after its login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// A PDU with a reserved initiator opcode (0x0c): Reject, command not supported; the
    /// session goes on.
    UnknownOpcode,
    /// A SNACK at ErrorRecoveryLevel 0: Reject, protocol error; the session goes on.
    Snack,
    /// A NOP-Out whose data segment is longer than the target's MaxRecvDataSegmentLength:
    /// Reject, protocol error, then the target ends the connection (RST).
    OversizeSegment,
    /// Not a protocol error but an unkind sender: once the file is written, a VERIFY(10)
    /// with BYTCHK of [`TINY_VERIFY_BYTES`] whose data-out goes in [`TINY_SEGMENT`]-byte
    /// segments, each pushed (PSH) alone. Each PSH returns a named buffer, so the target's
    /// buffers fill with less than the logical unit compares at once; the target must copy
    /// the data out of them (bounce) and answer GOOD, not wait forever.
    TinyPushes,
    /// Connect and never log in: the target ends the connection (RST) once its login timeout
    /// ([`NO_LOGIN_TIMEOUT`] here) has passed, so the connection slot is not held for good.
    NoLogin,
    /// Not a protocol error: once the file is written, an ABORT TASK (immediate) naming the
    /// first WRITE, long answered. RefCmdSN is below ExpCmdSN, so the target must answer
    /// "Task does not exist" (RFC 7143 11.6.1), not "Function complete" (the initiator would
    /// take its completed write for aborted); the session goes on.
    AbortAnswered,
}

/// The target's login timeout in a [`Hostile::NoLogin`] run (host time).
pub const NO_LOGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(50);

/// Bytes the [`Hostile::TinyPushes`] VERIFY compares, from LBA 0.
pub const TINY_VERIFY_BYTES: u64 = 64 * 1024;
/// Bytes per TCP segment of the [`Hostile::TinyPushes`] VERIFY.
pub const TINY_SEGMENT: usize = 512;

/// What the iSCSI run measured.
#[derive(Debug, Clone, Serialize)]
pub struct IscsiPeerReport {
    /// "model" or "rtl".
    pub backend: String,
    /// Datapath width.
    pub data_width: u32,
    /// How data moved: "zerocopy" (host pages both ways) or "p2p" (data-out written from
    /// buflets, data-in sent from host buflets).
    pub mode: String,
    /// File bytes written and read back.
    pub bytes: u64,
    /// sha256 of the file, of what the initiator read back, and of the logical unit's blocks
    /// on the disk image.
    pub source_sha256: String,
    pub read_sha256: String,
    pub disk_sha256: String,
    /// All three agree.
    pub verified: bool,
    /// SCSI commands completed, R2Ts and Data-In PDUs the initiator received.
    pub commands: u64,
    pub r2ts: u64,
    pub data_in_pdus: u64,
    /// With digests negotiated: the target's PDUs whose header and data digests checked out.
    pub digests_checked: u64,
    /// Host-DRAM bytes moved per file byte while writing and while reading.
    pub write_dram_crossings_per_byte: f64,
    pub read_dram_crossings_per_byte: f64,
    /// Device cycles of the whole run.
    pub cycles: u64,
    /// Reasons of the Reject PDUs the target sent.
    pub rejects: Vec<u8>,
    /// Responses of the task-management requests the initiator sent, in order.
    pub tmf_responses: Vec<u8>,
    /// The target ended the connection with an RST.
    pub reset_by_target: bool,
    /// Data-out bytes the target copied out of its named buffers to free them
    /// ([`Hostile::TinyPushes`]).
    pub bounced_bytes: u64,
    /// Why the target's connections failed, when they did.
    pub target_failures: Vec<String>,
    /// Everything verified and every command ended GOOD.
    pub passed: bool,
    /// What went wrong.
    pub failures: Vec<String>,
}

/// The initiator's view of one outstanding command.
struct Cmd {
    /// The command's name, for failures.
    name: &'static str,
    lba: u32,
    blocks: u16,
    write: bool,
    /// Data-In received (read).
    got: u64,
}

/// A sans-I/O iSCSI initiator: bytes in, bytes out.
struct Initiator {
    out: VecDeque<u8>,
    inbuf: Vec<u8>,
    cmd_sn: u32,
    exp_stat_sn: u32,
    next_itt: u32,
    logged_in: bool,
    logged_out: bool,
    cmds: HashMap<u32, Cmd>,
    target_mrdsl: u32,
    first_burst: u32,
    immediate: bool,
    initial_r2t: bool,
    readback: Vec<u8>,
    failures: Vec<String>,
    rejects: Vec<u8>,
    expect_rejects: bool,
    /// Task-management requests sent and not answered, and the answers.
    tmf_pending: Vec<u32>,
    tmf_responses: Vec<u8>,
    commands: u64,
    r2ts: u64,
    data_ins: u64,
    block: u64,
    /// HeaderDigest and DataDigest CRC32C asked for, and in force (after the login).
    digests: bool,
    digests_on: bool,
    /// PDUs whose digest checked out.
    digests_checked: u64,
}

/// CRC32C of `bytes` as it goes on the wire (RFC 7143 11.1: least significant byte first),
/// from the crc32c crate, not from the target's code.
fn crc_wire(bytes: &[u8]) -> [u8; 4] {
    crc32c::crc32c(bytes).to_le_bytes()
}

fn emit(f: impl FnOnce(&mut [u8; BHS_LEN])) -> [u8; BHS_LEN] {
    let mut b = [0u8; BHS_LEN];
    f(&mut b);
    b
}

impl Initiator {
    fn new(bytes: u64, block: u64, digests: bool) -> Self {
        Initiator {
            digests,
            digests_on: false,
            digests_checked: 0,
            out: VecDeque::new(),
            inbuf: Vec::new(),
            cmd_sn: 1,
            exp_stat_sn: 0,
            next_itt: 1,
            logged_in: false,
            logged_out: false,
            cmds: HashMap::new(),
            target_mrdsl: 8192,
            first_burst: 65536,
            immediate: true,
            initial_r2t: true,
            readback: vec![0u8; bytes as usize],
            failures: Vec::new(),
            rejects: Vec::new(),
            expect_rejects: false,
            tmf_pending: Vec::new(),
            tmf_responses: Vec::new(),
            commands: 0,
            r2ts: 0,
            data_ins: 0,
            block,
        }
    }

    /// The next Initiator Task Tag.
    fn take_itt(&mut self) -> u32 {
        self.next_itt += 1;
        self.next_itt - 1
    }

    fn push(&mut self, hdr: &[u8; BHS_LEN], data: &[u8]) {
        self.out.extend(hdr);
        if self.digests_on {
            self.out.extend(crc_wire(hdr));
        }
        let start = self.out.len();
        self.out.extend(data);
        self.out
            .extend(std::iter::repeat_n(0u8, pdu::pad_len(data.len())));
        if self.digests_on && !data.is_empty() {
            let padded: Vec<u8> = self.out.range(start..).copied().collect();
            self.out.extend(crc_wire(&padded));
        }
    }

    fn login(&mut self) {
        let keys: Vec<(String, String)> = [
            ("InitiatorName", "iqn.2026-12.org.buflet:peer-initiator"),
            ("TargetName", TARGET_NAME),
            ("SessionType", "Normal"),
            ("HeaderDigest", if self.digests { "CRC32C" } else { "None" }),
            ("DataDigest", if self.digests { "CRC32C" } else { "None" }),
            ("InitialR2T", "Yes"),
            ("ImmediateData", "Yes"),
            ("MaxRecvDataSegmentLength", &INITIATOR_MRDSL.to_string()),
            ("MaxBurstLength", "262144"),
            ("FirstBurstLength", "65536"),
            ("MaxOutstandingR2T", "1"),
            ("ErrorRecoveryLevel", "0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let data = buflet_iscsi::text::emit_text(&keys);
        let hdr = emit(|b| {
            pdu::LoginRequest {
                transit: true,
                continue_: false,
                csg: Stage::Operational,
                nsg: Stage::FullFeature,
                version_max: 0,
                version_min: 0,
                data_segment_length: data.len() as u32,
                isid: [0x80, 0, 0, 0x42, 0, 1],
                tsih: 0,
                itt: 0,
                cid: 0,
                cmd_sn: self.cmd_sn,
                exp_stat_sn: 0,
            }
            .emit(b)
        });
        self.push(&hdr, &data);
    }

    /// A READ(10) or WRITE(10) of `blocks` blocks at `lba`; a write's data comes from `src`.
    fn command(&mut self, write: bool, lba: u32, blocks: u16, src: &[u8]) {
        let op = if write {
            (0x2a, 0, "WRITE(10)")
        } else {
            (0x28, 0, "READ(10)")
        };
        self.command_cdb(write, lba, blocks, src, op);
    }

    /// A 10-byte CDB command `(opcode, byte 1, name)` over `blocks` blocks at `lba`, with
    /// data-out from `src` when `write`.
    fn command_cdb(
        &mut self,
        write: bool,
        lba: u32,
        blocks: u16,
        src: &[u8],
        (opcode, byte1, name): (u8, u8, &'static str),
    ) {
        let itt = self.take_itt();
        let len = u32::from(blocks) * self.block as u32;
        let mut cdb = [0u8; 16];
        cdb[0] = opcode;
        cdb[1] = byte1;
        cdb[2..6].copy_from_slice(&lba.to_be_bytes());
        cdb[7..9].copy_from_slice(&blocks.to_be_bytes());
        let imm = if write && self.immediate {
            len.min(self.first_burst).min(self.target_mrdsl)
        } else {
            0
        };
        let hdr = emit(|b| {
            pdu::ScsiCommand {
                immediate: false,
                final_: !(write && !self.initial_r2t && imm < len),
                read: !write,
                write,
                attr: pdu::task_attr::SIMPLE,
                total_ahs_length: 0,
                data_segment_length: imm,
                lun: 0,
                itt,
                expected_data_transfer_length: len,
                cmd_sn: self.cmd_sn,
                exp_stat_sn: self.exp_stat_sn,
                cdb,
            }
            .emit(b)
        });
        self.cmd_sn += 1;
        let off = lba as usize * self.block as usize;
        self.push(&hdr, &src[off..off + imm as usize]);
        self.cmds.insert(
            itt,
            Cmd {
                name,
                lba,
                blocks,
                write,
                got: 0,
            },
        );
    }

    /// A VERIFY(10) with BYTCHK (byte-by-byte compare with the data-out) of `blocks` blocks
    /// at `lba`, the data-out from `src` (the file as written: the answer must be GOOD).
    fn verify(&mut self, lba: u32, blocks: u16, src: &[u8]) {
        self.command_cdb(true, lba, blocks, src, (0x2f, 0x02, "VERIFY(10)"));
    }

    /// Commit `h` (see [`Hostile`]).
    fn hostile(&mut self, h: Hostile) {
        self.expect_rejects = true;
        let mut b = [0u8; BHS_LEN];
        match h {
            Hostile::UnknownOpcode => {
                b[0] = 0x0c;
                b[1] = 0x80;
                b[16..20].copy_from_slice(&0x7777u32.to_be_bytes());
                self.push(&b, &[]);
            }
            Hostile::Snack => {
                let hdr = emit(|b| {
                    pdu::Snack {
                        type_: pdu::snack_type::STATUS,
                        lun: 0,
                        itt: pdu::RESERVED_TAG,
                        ttt: pdu::RESERVED_TAG,
                        exp_stat_sn: self.exp_stat_sn,
                        beg_run: 0,
                        run_length: 0,
                    }
                    .emit(b)
                });
                self.push(&hdr, &[]);
            }
            // Not protocol errors: see the Verify and Abort phases of the run, and its start.
            Hostile::TinyPushes | Hostile::NoLogin | Hostile::AbortAnswered => {
                self.expect_rejects = false
            }
            Hostile::OversizeSegment => {
                let n = buflet_nas::iscsi::MAX_RECV_DSL as usize + 4;
                let hdr = emit(|b| {
                    pdu::NopOut {
                        immediate: true,
                        data_segment_length: n as u32,
                        lun: 0,
                        itt: 0x5555,
                        ttt: pdu::RESERVED_TAG,
                        cmd_sn: self.cmd_sn,
                        exp_stat_sn: self.exp_stat_sn,
                    }
                    .emit(b)
                });
                self.push(&hdr, &vec![0x5a; n]);
            }
        }
    }

    /// An immediate ABORT TASK of task `rtt`, whose CmdSN was `ref_cmd_sn`.
    fn abort_task(&mut self, rtt: u32, ref_cmd_sn: u32) {
        let itt = self.take_itt();
        let hdr = emit(|b| {
            pdu::TaskMgmtRequest {
                immediate: true,
                function: pdu::tmf_function::ABORT_TASK,
                lun: 0,
                itt,
                referenced_task_tag: rtt,
                cmd_sn: self.cmd_sn,
                exp_stat_sn: self.exp_stat_sn,
                ref_cmd_sn,
                exp_data_sn: 0,
            }
            .emit(b)
        });
        self.tmf_pending.push(itt);
        self.push(&hdr, &[]);
    }

    fn logout(&mut self) {
        let itt = self.take_itt();
        let hdr = emit(|b| {
            pdu::LogoutRequest {
                immediate: true,
                reason: pdu::logout_reason::CLOSE_SESSION,
                itt,
                cid: 0,
                cmd_sn: self.cmd_sn,
                exp_stat_sn: self.exp_stat_sn,
            }
            .emit(b)
        });
        self.push(&hdr, &[]);
    }

    /// Take the target's bytes; answer R2Ts from `src`.
    fn input(&mut self, bytes: &[u8], src: &[u8]) {
        self.inbuf.extend_from_slice(bytes);
        loop {
            if self.inbuf.len() < BHS_LEN {
                return;
            }
            let mut raw = [0u8; BHS_LEN];
            raw.copy_from_slice(&self.inbuf[..BHS_LEN]);
            let b = pdu::Bhs::new_unchecked(&raw[..]);
            let dsl = b.data_segment_length() as usize;
            let hdr_end = BHS_LEN + b.ahs_len_bytes();
            let (hd, dd) = if self.digests_on {
                (4, if dsl > 0 { 4 } else { 0 })
            } else {
                (0, 0)
            };
            let total = hdr_end + hd + pdu::padded_len(dsl) + dd;
            if self.inbuf.len() < total {
                return;
            }
            let data_at = hdr_end + hd;
            let data: Vec<u8> = self.inbuf[data_at..data_at + dsl].to_vec();
            if self.digests_on {
                let padded_end = data_at + pdu::padded_len(dsl);
                let h_ok = self.inbuf[hdr_end..data_at] == crc_wire(&self.inbuf[..hdr_end]);
                let d_ok = dsl == 0
                    || self.inbuf[padded_end..total] == crc_wire(&self.inbuf[data_at..padded_end]);
                if h_ok && d_ok {
                    self.digests_checked += 1;
                } else {
                    self.fail(format!(
                        "a PDU (opcode {:#04x}) with a bad {} digest",
                        raw[0] & 0x3f,
                        if h_ok { "data" } else { "header" }
                    ));
                }
            }
            self.inbuf.drain(..total);
            self.pdu(&raw, &data, src);
        }
    }

    fn fail(&mut self, why: String) {
        if self.failures.len() < 8 {
            self.failures.push(why);
        }
    }

    fn pdu(&mut self, raw: &[u8; BHS_LEN], data: &[u8], src: &[u8]) {
        match pdu::Pdu::parse(raw) {
            Ok(pdu::Pdu::LoginResponse(r)) => {
                if r.status() != 0 {
                    self.fail(format!("login failed with status {:#06x}", r.status()));
                    return;
                }
                self.exp_stat_sn = r.sn.stat_sn.wrapping_add(1);
                if let Ok(keys) = buflet_iscsi::text::parse_text(data) {
                    for (k, v) in keys {
                        match k.as_str() {
                            "MaxRecvDataSegmentLength" => {
                                self.target_mrdsl = v.parse().unwrap_or(8192)
                            }
                            "FirstBurstLength" => self.first_burst = v.parse().unwrap_or(65536),
                            "ImmediateData" => self.immediate = v == "Yes",
                            "InitialR2T" => self.initial_r2t = v == "Yes",
                            "HeaderDigest" | "DataDigest" if self.digests && v != "CRC32C" => {
                                self.fail(format!("the target answered {k}={v} to CRC32C"));
                            }
                            _ => {}
                        }
                    }
                }
                if r.transit && r.nsg == Stage::FullFeature {
                    self.logged_in = true;
                    // Digests start with the first PDU after the login (RFC 7143 13.1).
                    self.digests_on = self.digests;
                }
            }
            Ok(pdu::Pdu::R2t(r)) => {
                self.r2ts += 1;
                let Some(c) = self.cmds.get(&r.itt) else {
                    self.fail(format!("an R2T for unknown task {:#x}", r.itt));
                    return;
                };
                let base = c.lba as usize * self.block as usize;
                let mut off = r.buffer_offset as usize;
                let end = off + r.desired_data_transfer_length as usize;
                let mut sn = 0;
                while off < end {
                    let n = (end - off).min(self.target_mrdsl as usize);
                    let hdr = emit(|b| {
                        pdu::DataOut {
                            final_: off + n == end,
                            data_segment_length: n as u32,
                            lun: 0,
                            itt: r.itt,
                            ttt: r.ttt,
                            exp_stat_sn: self.exp_stat_sn,
                            data_sn: sn,
                            buffer_offset: off as u32,
                        }
                        .emit(b)
                    });
                    let chunk = src[base + off..base + off + n].to_vec();
                    self.push(&hdr, &chunk);
                    off += n;
                    sn += 1;
                }
            }
            Ok(pdu::Pdu::DataIn(d)) => {
                self.data_ins += 1;
                let Some(c) = self.cmds.get_mut(&d.itt) else {
                    self.fail(format!("Data-In for unknown task {:#x}", d.itt));
                    return;
                };
                let at = c.lba as usize * self.block as usize + d.buffer_offset as usize;
                if at + data.len() <= self.readback.len() {
                    self.readback[at..at + data.len()].copy_from_slice(data);
                }
                c.got += data.len() as u64;
                if d.status_present {
                    self.exp_stat_sn = d.sn.stat_sn.wrapping_add(1);
                    self.finish(d.itt, d.status);
                }
            }
            Ok(pdu::Pdu::ScsiResponse(r)) => {
                self.exp_stat_sn = r.sn.stat_sn.wrapping_add(1);
                self.finish(r.itt, r.status);
            }
            Ok(pdu::Pdu::TaskMgmtResponse(r)) => {
                self.exp_stat_sn = r.sn.stat_sn.wrapping_add(1);
                if let Some(i) = self.tmf_pending.iter().position(|&t| t == r.itt) {
                    self.tmf_pending.remove(i);
                    self.tmf_responses.push(r.response);
                } else {
                    self.fail(format!("a TMF response for unknown task {:#x}", r.itt));
                }
            }
            Ok(pdu::Pdu::LogoutResponse(r)) => {
                self.exp_stat_sn = r.sn.stat_sn.wrapping_add(1);
                self.logged_out = true;
            }
            Ok(pdu::Pdu::Reject(r)) => {
                self.rejects.push(r.reason);
                if !self.expect_rejects {
                    self.fail(format!("the target rejected a PDU: reason {:#x}", r.reason));
                }
            }
            Ok(p) => self.fail(format!("unexpected PDU {p:?}")),
            Err(e) => self.fail(format!("a PDU the initiator cannot parse: {e}")),
        }
    }

    fn finish(&mut self, itt: u32, status: u8) {
        let Some(c) = self.cmds.remove(&itt) else {
            self.fail(format!("status for unknown task {itt:#x}"));
            return;
        };
        self.commands += 1;
        if status != 0 {
            self.fail(format!(
                "{} of {} blocks at LBA {} ended with status {status:#x}",
                c.name, c.blocks, c.lba
            ));
        }
        if !c.write && c.got != u64::from(c.blocks) * self.block {
            self.fail(format!(
                "READ(10) at LBA {} got {} of {} bytes",
                c.lba,
                c.got,
                u64::from(c.blocks) * self.block
            ));
        }
    }
}

/// Write `opts.bytes` seeded bytes through the NIC's iSCSI target and read them back.
pub fn run(opts: &PeerOpts) -> Result<IscsiPeerReport, PeerError> {
    run_with(opts, None)
}

/// [`run`], committing the protocol error `hostile` right after the login.
pub fn run_with(opts: &PeerOpts, hostile: Option<Hostile>) -> Result<IscsiPeerReport, PeerError> {
    run_full(opts, hostile, false)
}

/// [`run`] with HeaderDigest and DataDigest CRC32C negotiated (`digests`): every PDU either
/// way carries CRC32C digests, and each one the target sends is checked with the crc32c
/// crate (the report's `digests_checked`).
pub fn run_digests(opts: &PeerOpts) -> Result<IscsiPeerReport, PeerError> {
    run_full(opts, None, true)
}

fn run_full(
    opts: &PeerOpts,
    hostile: Option<Hostile>,
    digests: bool,
) -> Result<IscsiPeerReport, PeerError> {
    check_opts(opts)?;
    let block = 4096u64;
    if opts.bytes == 0 || !opts.bytes.is_multiple_of(block) {
        return Err(PeerError::Options(format!(
            "--bytes {} must be a positive multiple of {block} for iSCSI",
            opts.bytes
        )));
    }
    if !matches!(opts.mode, WriteMode::ZeroCopy | WriteMode::P2p) {
        return Err(PeerError::Options(format!(
            "--mode {} with --iscsi (the target runs zerocopy or p2p)",
            opts.mode
        )));
    }
    let source = frames::payload(opts.seed, opts.bytes as usize);
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x6973_6373_6970_6565);
    let listen_iss: u32 = rng.gen();
    let smol_seed: u64 = rng.gen();
    let imp = opts.impair();
    let mut to_nic = Dir::new(rng.gen(), imp);
    let mut to_peer = Dir::new(rng.gen(), imp);
    let mut bad_nic_frames = 0u64;
    let lu_bytes = opts.bytes.next_power_of_two().max(1 << 20);
    let cfg = buflet_platform::DeviceConfig::with_width(opts.width);
    let mut bench = Bench::builder(opts.backend)
        .config(cfg)
        .mem(64 << 20)
        .blank_disk(lu_bytes)
        .name("peer-iscsi")
        .build()?;
    let Bench { drv, wire, .. } = &mut bench;
    let clock_mhz = u64::from(drv.info.clock_mhz.max(1));
    let lu = buflet_scsi::sbc::BlockLu::new(buflet_scsi::sbc::LuConfig {
        blocks: lu_bytes / block,
        block_size: block as u32,
        max_transfer_blocks: buflet_nas::iscsi::MAX_XFER / block as u32,
        initially_mapped: false,
        ..buflet_scsi::sbc::LuConfig::default()
    })
    .map_err(|e| PeerError::Options(format!("the logical unit: {e}")))?;
    let mut target = buflet_nas::iscsi::TargetConfig::new(TARGET_NAME);
    target.cmd_window = buflet_nas::iscsi::CMD_WINDOW;
    target.params.max_recv_data_segment_length = buflet_nas::iscsi::MAX_RECV_DSL;
    target.params.max_burst_length = 256 << 10;
    target.params.first_burst_length = 64 << 10;
    if hostile == Some(Hostile::NoLogin) {
        target.login_timeout = Some(NO_LOGIN_TIMEOUT);
    }
    let sh: Arc<IscsiShared> =
        IscsiShared::new(Arc::new(lu), 16, block as u32, lu_bytes / block, target);
    let mcfg = MultiConfig {
        kind: AppKind::Iscsi,
        server: ServerConfig {
            nbs: 16,
            pages_per_nb: 16,
            mode: opts.mode,
            read_mode: None,
            iscsi: Some(sh.clone()),
            max_retries: None,
            write_chunk: WRITE_CHUNK,
            nb_timeout: None,
            answers: false,
            cow: Cow::Aware,
        },
        max_connections: 2,
        linger_cycles: 0,
        nb_memory: buflet_nas::multi::DEFAULT_NB_MEMORY,
    };
    let alloc = move |_: &ConnId| -> Result<ExtentFile, String> {
        Ok(ExtentFile {
            disk_start: 0,
            capacity: lu_bytes,
        })
    };
    // The NIC sends (R2Ts, Data-In, responses): its retransmission timer runs on the
    // device's tick, scaled to this link's microsecond round trips (as in the read-back).
    drv.set_timer_period(TX_TICK);
    set_send_rto(drv, TX_TICK);
    if opts.mode.needs_hold() {
        // p2p Data-In through host buflets (docs/iscsi.md), set aside before any frame lands.
        buflet_nas::iscsi::set_aside_host_buflets(drv)?;
    }
    let mut srv = MultiServer::new(drv, mcfg, alloc);
    srv.set_graceful_close(true);
    srv.listen(
        drv,
        &ListenSpec {
            local_mac: SERVER_MAC,
            vlan: 0,
            local_ip: SERVER_IP,
            local_port: SERVER_PORT,
            iss: listen_iss,
            rcv_buf: RCV_BUF,
            mss: MSS,
            rcv_wscale: frames::RCV_WSCALE,
            flags: buflet_spec::SockFlags::PSH_RETURN,
        }
        .with_hold(opts.mode.needs_hold()),
    )?;

    let mut clock = Clock {
        clock_mhz,
        skip_us: 0,
    };
    let mut phy = PeerPhy::new(PEER_MTU);
    let mut iface = client_iface(&mut phy, smol_seed, clock.now(drv.cycles()));
    let mut storage = [SocketStorage::EMPTY];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let handle = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; 1 << 20]),
        tcp::SocketBuffer::new(vec![0u8; 1 << 20]),
    ));
    sockets
        .get_mut::<tcp::Socket>(handle)
        .connect(
            iface.context(),
            (IpAddress::Ipv4(Ipv4Address::from(SERVER_IP)), SERVER_PORT),
            CLIENT_PORT,
        )
        .map_err(|e| PeerError::Peer(format!("connect: {e}")))?;

    let mut ini = Initiator::new(opts.bytes, block, digests);
    if hostile != Some(Hostile::NoLogin) {
        ini.login();
    }
    #[derive(PartialEq)]
    enum Phase {
        Login,
        Write,
        Verify,
        Abort,
        Read,
        Logout,
        Closing,
    }
    let mut phase = Phase::Login;
    let chunk_blocks = (CHUNK / block) as u32;
    let total_blocks = (opts.bytes / block) as u32;
    let mut next_lba = 0u32;
    let mut mem_at_read = None;
    let mem0 = drv.env.mem.stats();
    let mut progress_cycles = drv.cycles();
    let mut progress_key = (0u64, 0usize, 0usize);
    let mut quiet = 0u64;
    let mut reset_by_target = false;
    let mut bounced_bytes = 0u64;
    let mut target_failures = Vec::new();
    loop {
        if hostile == Some(Hostile::NoLogin) {
            // Nothing moves: let host time pass, which the login timeout counts.
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let now = clock.now(drv.cycles());
        iface.poll(now, &mut phy, &mut sockets);
        {
            let s = sockets.get_mut::<tcp::Socket>(handle);
            while s.can_recv() {
                let mut buf = vec![0u8; 65536];
                let n = s
                    .recv_slice(&mut buf)
                    .map_err(|e| PeerError::Peer(format!("recv: {e}")))?;
                if n == 0 {
                    break;
                }
                ini.input(&buf[..n], &source);
            }
            // Queue commands for the phase.
            match phase {
                Phase::Login if ini.logged_in => {
                    phase = Phase::Write;
                    if let Some(h) = hostile {
                        ini.hostile(h);
                    }
                }
                Phase::Write | Phase::Read => {
                    let write = phase == Phase::Write;
                    while ini.cmds.len() < QUEUE_DEPTH && next_lba < total_blocks {
                        let n = chunk_blocks.min(total_blocks - next_lba);
                        ini.command(write, next_lba, n as u16, &source);
                        next_lba += n;
                    }
                    if next_lba == total_blocks && ini.cmds.is_empty() {
                        next_lba = 0;
                        if write && hostile == Some(Hostile::TinyPushes) {
                            phase = Phase::Verify;
                            let n = (TINY_VERIFY_BYTES.min(opts.bytes) / block) as u16;
                            ini.verify(0, n, &source);
                        } else if write && hostile == Some(Hostile::AbortAnswered) {
                            // The first WRITE: ITT 1, CmdSN 1 (the login's CmdSN).
                            phase = Phase::Abort;
                            ini.abort_task(1, 1);
                        } else if write {
                            phase = Phase::Read;
                            mem_at_read = Some(drv.env.mem.stats());
                        } else {
                            phase = Phase::Logout;
                            ini.logout();
                        }
                    }
                }
                Phase::Abort if ini.tmf_pending.is_empty() => {
                    phase = Phase::Read;
                    mem_at_read = Some(drv.env.mem.stats());
                }
                Phase::Verify if ini.cmds.is_empty() => {
                    phase = Phase::Read;
                    mem_at_read = Some(drv.env.mem.stats());
                }
                Phase::Logout if ini.logged_out => {
                    s.close();
                    phase = Phase::Closing;
                }
                _ => {}
            }
            // Tiny pushes: one small segment at a time, sent once the last is acknowledged,
            // so each is the end of smoltcp's send buffer and carries PSH.
            let tiny = phase == Phase::Verify;
            let mut budget = if !tiny {
                usize::MAX
            } else if s.send_queue() == 0 {
                TINY_SEGMENT
            } else {
                0
            };
            while !ini.out.is_empty() && s.can_send() && budget > 0 {
                let (a, b) = ini.out.as_slices();
                let chunk = if a.is_empty() { b } else { a };
                let chunk = &chunk[..chunk.len().min(budget)];
                let n = s
                    .send_slice(chunk)
                    .map_err(|e| PeerError::Peer(format!("send: {e}")))?;
                if n == 0 {
                    break;
                }
                budget -= n;
                ini.out.drain(..n);
            }
        }
        if !ini.failures.is_empty() {
            break;
        }
        if (ini.logged_in || hostile == Some(Hostile::NoLogin))
            && !sockets.get::<tcp::Socket>(handle).is_open()
            && phase != Phase::Closing
        {
            // The target reset the connection.
            reset_by_target = true;
            break;
        }
        iface.poll(now, &mut phy, &mut sockets);
        let mut active = !phy.tx.is_empty();
        for ip in phy.tx.drain(..) {
            to_nic.offer(eth_wrap(CLIENT_MAC, SERVER_MAC, &ip));
        }
        for f in to_nic.take() {
            wire.send(f);
        }
        let polled = srv.poll(drv, STEP)?;
        active |= polled.completions > 0;
        // The logical unit's requests and answers (its workers are threads: wait for them
        // briefly when the device has nothing else to do).
        let mut routed = buflet_nas::iscsi::pump(&mut srv, drv, &sh)?;
        if routed == 0 && !active && sh.emu.outstanding() > 0 && srv.in_flight() == 0 {
            let mut sel = crossbeam_channel::Select::new();
            sel.recv(sh.requests());
            sel.recv(sh.completions());
            let _ = sel.ready_timeout(std::time::Duration::from_millis(200));
            routed = buflet_nas::iscsi::pump(&mut srv, drv, &sh)?;
        }
        active |= routed > 0;
        let finished = srv.take_finished();
        for s in &finished {
            bounced_bytes += s.writer.bounced_bytes;
            if let Some(f) = &s.failure {
                target_failures.push(f.clone());
                // After a hostile PDU the target may end the session: the peer must then see
                // the connection reset (checked below), not hang.
                if !matches!(hostile, Some(Hostile::OversizeSegment | Hostile::NoLogin)) {
                    ini.fail(format!("the target's connection failed: {f}"));
                }
            }
        }
        while let Some(f) = wire.recv() {
            active = true;
            to_peer.offer(f);
        }
        phy.receive(&mut to_peer, &mut bad_nic_frames);
        if phase == Phase::Closing && !finished.is_empty() {
            break;
        }
        let key = (ini.commands, ini.out.len(), srv.open_connections());
        if key != progress_key || active {
            progress_key = key;
            progress_cycles = drv.cycles();
            quiet = 0;
        } else {
            quiet += 1;
            if quiet > 64 {
                // Quiet (a lost segment waits for a retransmission): smoltcp's clock jumps to
                // its next timer.
                if let Some(d) = iface.poll_delay(now, &sockets) {
                    clock.skip_us += d.total_micros() as i64;
                }
            }
        }
        if drv.cycles() - progress_cycles > NO_PROGRESS_CYCLES {
            return Err(PeerError::Stalled {
                sim_ms: clock.micros(drv.cycles()) as f64 / 1000.0,
                cycles: drv.cycles(),
                detail: format!(
                    "iSCSI: {} commands done, {} outstanding, {} bytes to send",
                    ini.commands,
                    ini.cmds.len(),
                    ini.out.len()
                ),
            });
        }
    }
    let mem_end = drv.env.mem.stats();
    let mut disk = vec![0u8; opts.bytes as usize];
    drv.env.disk.read_bytes(0, &mut disk)?;
    let source_sha256 = sha256_hex(&source);
    let read_sha256 = sha256_hex(&ini.readback);
    let disk_sha256 = sha256_hex(&disk);
    let verified = source_sha256 == read_sha256 && source_sha256 == disk_sha256;
    let per = |a: u64| a as f64 / opts.bytes as f64;
    let mid = mem_at_read.unwrap_or_else(|| mem_end.clone());
    let mut failures = ini.failures.clone();
    if reset_by_target {
        failures.push("the target reset the connection".into());
    }
    if !verified && failures.is_empty() {
        failures.push("the file read back or on disk differs from what was written".into());
    }
    // p2p: every host buflet a READ streamed through is back once the connection ended.
    if !reset_by_target && drv.host_buflets_free() != drv.host_buflets() as usize {
        failures.push(format!(
            "{} of {} host buflets were not given back",
            drv.host_buflets() as usize - drv.host_buflets_free(),
            drv.host_buflets()
        ));
    }
    Ok(IscsiPeerReport {
        backend: opts.backend.name().to_string(),
        data_width: opts.width,
        mode: opts.mode.to_string(),
        bytes: opts.bytes,
        source_sha256,
        read_sha256,
        disk_sha256,
        verified,
        commands: ini.commands,
        r2ts: ini.r2ts,
        data_in_pdus: ini.data_ins,
        digests_checked: ini.digests_checked,
        write_dram_crossings_per_byte: per(mid.total() - mem0.total()),
        read_dram_crossings_per_byte: per(mem_end.total() - mid.total()),
        cycles: drv.cycles(),
        rejects: ini.rejects.clone(),
        tmf_responses: ini.tmf_responses.clone(),
        reset_by_target,
        bounced_bytes,
        target_failures,
        passed: verified && failures.is_empty(),
        failures,
    })
}
