//! An iSCSI-shaped connection (issue 16): the traffic shapes the NAS's iSCSI target
//! (nas/src/iscsi) puts through the NIC, so the RTL and the model are compared on exactly them.
//!
//! One passive TCP connection to port 3260 (SOCK_ADD with PSH_RETURN: a named buffer comes back
//! at the end of each PDU the initiator pushes), whose client-to-NIC byte stream is real iSCSI
//! PDUs built with `buflet_iscsi::pdu`: a Login Request with its text, SCSI Commands
//! WRITE(10) with immediate data (and unsolicited Data-Out when InitialR2T is No), Data-Out
//! bursts answering R2Ts (several PDUs, DataSN from 0, BufferOffset, F on the last of each
//! burst, sizes seeded), READ(10)s and NOP-Outs. Segments are cut at the peer's MSS (now and
//! then shorter, now and then two swapped), so PDUs cross segment boundaries; a burst is sent
//! PDU by PDU (PSH on each PDU's end) or coalesced (PSH on the burst's end, segments carry the
//! ends and starts of PDUs), and PDUs larger than a named buffer, or coalesced, cross
//! named-buffer boundaries. Named buffers are posted ahead of the stream as the target does:
//! the generator follows which buffer each pushed PDU fills and returns.
//!
//! In the NIC-to-client direction the host posts what the target sends (nas/src/iscsi/tx.rs):
//! Login Response, R2T and SCSI Response PDUs as one TX_POST of the bytes the CPU wrote (48
//! bytes for the headers), and each Data-In PDU as a 48-byte header post (no PSH) followed by a
//! post of its data by reference (several pages, from the PDU's offset in the read buffer,
//! PSH), the last one with the status (phase collapse) or followed by a SCSI Response; NOP-Ins
//! answer the pings. The client acknowledges that data as a peer does (pure ACKs of up to two
//! segments each, and its data segments lagging one ACK behind, as gen/tx.rs guesses).
//!
//! The connection's steps come from a generator seeded apart from the case's and are merged
//! into its steps. Bounded: its posts stay within [`ISCSI_TX_PAGES`] pages and
//! [`ISCSI_TX_POSTS`] posts, its stream within a few times `GenConfig::max_stream`.

use super::super::exec::{ISCSI_TX_PAGES, ISCSI_TX_POSTS};
use super::*;
use buflet_iscsi::pdu::{
    self, task_attr, DataIn, DataOut, LoginRequest, LoginResponse, NopIn, NopOut, R2t, ScsiCommand,
    ScsiResponse, SnTriple, Stage, BHS_LEN, RESERVED_TAG,
};

/// Seed of the iSCSI connection's generator, xored with the case's seed.
pub(super) const ISCSI_SEED: u64 = 0x6953_4353_4931;
/// The iSCSI port.
pub(super) const ISCSI_PORT: u16 = 3260;
/// Block size of the logical unit.
const BLOCK: u32 = 512;

/// The generator's view of the session and of the connection's named buffers.
struct Gen {
    c: Conn,
    ev: Vec<Step>,
    /// Bytes of the stream already cut into segments.
    sent: usize,
    /// Named buffers posted and not yet returned (as the generator follows them), head first,
    /// with the bytes filled in the head one.
    nbs: std::collections::VecDeque<u32>,
    nb_fill: u32,
    /// Pages of each named buffer this connection posts.
    nb_pages: u32,
    /// Send-pool pages and posts left.
    pages_left: u64,
    posts_left: u64,
    /// The smallest segment the NIC sends this peer (its MSS and the peer's).
    mss: u64,
    /// Session: CmdSN, the target's next StatSN, the next ITT and TTT.
    cmd_sn: u32,
    stat_sn: u32,
    itt: u32,
    ttt: u32,
    /// Negotiated: the target's and the initiator's MaxRecvDataSegmentLength, FirstBurstLength,
    /// MaxBurstLength, ImmediateData, InitialR2T, MaxOutstandingR2T.
    mrdsl_t: u32,
    mrdsl_i: u32,
    first_burst: u32,
    max_burst: u32,
    immediate: bool,
    initial_r2t: bool,
    max_r2t: u32,
}

/// A PDU on the wire: header, data segment, padding (no digests).
fn pdu_bytes(h: &[u8; BHS_LEN], data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(BHS_LEN + pdu::padded_len(data.len()));
    v.extend_from_slice(h);
    v.extend_from_slice(data);
    v.resize(BHS_LEN + pdu::padded_len(data.len()), 0);
    v
}

/// A READ(10) or WRITE(10) CDB.
fn cdb10(op: u8, lba: u32, blocks: u16) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = op;
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[7..9].copy_from_slice(&blocks.to_be_bytes());
    c
}

/// `key=value` pairs as a text data segment (each NUL-terminated).
fn text(kv: &[(&str, String)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (k, val) in kv {
        v.extend_from_slice(k.as_bytes());
        v.push(b'=');
        v.extend_from_slice(val.as_bytes());
        v.push(0);
    }
    v
}

impl Gen {
    fn sn(&self, consume: bool) -> SnTriple {
        SnTriple {
            stat_sn: self.stat_sn.wrapping_sub(u32::from(consume)),
            exp_cmd_sn: self.cmd_sn,
            max_cmd_sn: self.cmd_sn.wrapping_add(31),
        }
    }

    /// The next StatSN (consumed by a response).
    fn next_stat(&mut self) -> SnTriple {
        self.stat_sn = self.stat_sn.wrapping_add(1);
        self.sn(true)
    }

    /// Post named buffers until the pushed units of `units` bytes each fit with one buffer to
    /// spare, then follow their delivery (PSH_RETURN: a unit's end returns its last buffer).
    fn buffers_for(&mut self, units: &[usize]) {
        let size = self.nb_pages * PAGE;
        for _ in 0..64 {
            // How many buffers the units need beyond those posted.
            let mut q = self.nbs.clone();
            let mut fill = self.nb_fill;
            let mut short = false;
            'units: for &u in units {
                let mut left = u as u32;
                while left > 0 {
                    let Some(&cap) = q.front() else {
                        short = true;
                        break 'units;
                    };
                    let k = left.min(cap - fill);
                    left -= k;
                    fill += k;
                    if fill == cap {
                        q.pop_front();
                        fill = 0;
                    }
                }
                if fill > 0 {
                    q.pop_front();
                    fill = 0;
                }
            }
            if !short && !q.is_empty() {
                self.nbs = q;
                self.nb_fill = fill;
                return;
            }
            self.nbs.push_back(size);
            self.ev.push(Step::PostNb(NbPost {
                sock: self.c.p.sock_ref,
                slot: NbSlot::Free,
                pages: self.nb_pages,
                total_bytes: size,
                list: PageList::Good,
                timeout: 0,
            }));
        }
    }

    /// The client sends PDUs: `coalesce` runs them together (PSH on the last one's end), else
    /// each is pushed on its own. Segments are cut at the peer's MSS, now and then shorter,
    /// now and then two swapped.
    fn send(&mut self, rng: &mut ChaCha8Rng, pdus: Vec<Vec<u8>>, coalesce: bool, what: &str) {
        let mut units = Vec::new();
        if coalesce {
            units.push(pdus.iter().map(Vec::len).sum());
        } else {
            units.extend(pdus.iter().map(Vec::len));
        }
        self.buffers_for(&units);
        for p in &pdus {
            self.c.stream.extend_from_slice(p);
        }
        for u in units {
            let end = self.sent + u;
            let mut segs = Vec::new();
            while self.sent < end {
                let n = if rng.gen_bool(0.85) {
                    self.c.seg_max
                } else {
                    rng.gen_range(1..=self.c.seg_max)
                };
                let n = n.min(end - self.sent);
                segs.push((self.sent, n));
                self.sent += n;
            }
            if segs.len() > 1 && rng.gen_bool(0.1) {
                let i = rng.gen_range(0..segs.len() - 1);
                segs.swap(i, i + 1);
            }
            for (off, n) in segs {
                let psh = if off + n == end { PSH } else { 0 };
                let step = self.c.data(off, n, psh, &format!("iSCSI {what}"));
                self.ev.push(step);
            }
        }
    }

    /// Room for `posts` posts of `pages` pages in all.
    fn room(&self, posts: u64, pages: u64) -> bool {
        posts <= self.posts_left && pages <= self.pages_left
    }

    /// A TX_POST of bytes the CPU wrote (a PDU), at the start of a fresh page.
    fn post_bytes(&mut self, b: Vec<u8>, psh: bool) {
        let pages = (b.len() as u64).div_ceil(PAGE as u64);
        self.pages_left = self.pages_left.saturating_sub(pages);
        self.posts_left = self.posts_left.saturating_sub(1);
        self.c.snd_posted += b.len() as u64;
        self.ev.push(Step::TxPost(TxPost {
            sock: self.c.p.sock_ref,
            bytes: b.len() as u32,
            psh,
            first_off: 0,
            seed: 0,
            scatter: false,
            bad: None,
            dev: false,
            head: b,
        }));
    }

    /// A TX_POST of data by reference: `len` bytes from `first_off` in fresh pages.
    fn post_pages(&mut self, rng: &mut ChaCha8Rng, first_off: u16, len: u32, psh: bool) {
        let pages = (u64::from(first_off) + u64::from(len)).div_ceil(PAGE as u64);
        self.pages_left = self.pages_left.saturating_sub(pages);
        self.posts_left = self.posts_left.saturating_sub(1);
        self.c.snd_posted += u64::from(len);
        self.ev.push(Step::TxPost(TxPost {
            sock: self.c.p.sock_ref,
            bytes: len,
            psh,
            first_off,
            seed: rng.gen(),
            scatter: rng.gen_bool(0.3),
            bad: None,
            dev: false,
            head: Vec::new(),
        }));
    }

    /// The client acknowledges the target's PDUs: pure ACKs of up to two segments each, until
    /// it has acknowledged everything posted (at most `max` of them), now and then a timer
    /// tick between them.
    fn acks(&mut self, rng: &mut ChaCha8Rng, max: usize) {
        for _ in 0..max {
            let queued = self.c.snd_posted - self.c.snd_acked;
            let room = queued.min(u64::from(self.c.win)).min(2 * self.mss);
            if room == 0 {
                break;
            }
            self.c.snd_acked_data = self.c.snd_acked;
            self.c.snd_acked += if rng.gen_bool(0.7) {
                room
            } else {
                rng.gen_range(1..=room)
            };
            let st = self.c.peer_ack(self.sent, "iSCSI client");
            self.ev.push(st);
            if rng.gen_bool(0.04) {
                self.c.tx_timer(rng, &mut self.ev);
            }
        }
    }

    /// The client acknowledges now, or lets its ACK ride on what it sends next.
    fn maybe_acks(&mut self, rng: &mut ChaCha8Rng) {
        if rng.gen_bool(0.7) {
            self.acks(rng, 96);
        }
    }

    fn login(&mut self, rng: &mut ChaCha8Rng) {
        let isid = [0x80, 0x12, 0x34, 0x56, rng.gen(), rng.gen()];
        let itt = self.itt;
        self.itt = self.itt.wrapping_add(1);
        let data = text(&[
            (
                "InitiatorName",
                "iqn.2004-10.com.ubuntu:01:cosim".to_string(),
            ),
            ("TargetName", "iqn.2024-01.org.buflet:disk0".to_string()),
            ("SessionType", "Normal".to_string()),
            ("HeaderDigest", "None".to_string()),
            ("DataDigest", "None".to_string()),
            ("MaxRecvDataSegmentLength", self.mrdsl_i.to_string()),
            ("ImmediateData", yes(self.immediate)),
            ("InitialR2T", yes(self.initial_r2t)),
            ("FirstBurstLength", self.first_burst.to_string()),
            ("MaxBurstLength", self.max_burst.to_string()),
            ("MaxOutstandingR2T", self.max_r2t.to_string()),
        ]);
        let mut h = [0u8; BHS_LEN];
        LoginRequest {
            transit: true,
            continue_: false,
            csg: Stage::Operational,
            nsg: Stage::FullFeature,
            version_max: 0,
            version_min: 0,
            data_segment_length: data.len() as u32,
            isid,
            tsih: 0,
            itt,
            cid: 0,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: 0,
        }
        .emit(&mut h);
        self.send(rng, vec![pdu_bytes(&h, &data)], false, "Login Request");
        let data = text(&[
            ("TargetPortalGroupTag", "1".to_string()),
            ("MaxRecvDataSegmentLength", self.mrdsl_t.to_string()),
            ("HeaderDigest", "None".to_string()),
            ("DataDigest", "None".to_string()),
            ("ImmediateData", yes(self.immediate)),
            ("InitialR2T", yes(self.initial_r2t)),
            ("FirstBurstLength", self.first_burst.to_string()),
            ("MaxBurstLength", self.max_burst.to_string()),
        ]);
        let sn = self.next_stat();
        let mut h = [0u8; BHS_LEN];
        LoginResponse {
            transit: true,
            continue_: false,
            csg: Stage::Operational,
            nsg: Stage::FullFeature,
            version_max: 0,
            version_active: 0,
            data_segment_length: data.len() as u32,
            isid,
            tsih: 1,
            itt,
            sn,
            status_class: 0,
            status_detail: 0,
        }
        .emit(&mut h);
        self.post_bytes(pdu_bytes(&h, &data), true);
        self.maybe_acks(rng);
    }

    /// Data-Out PDUs of `len` bytes from `offset`, at most the target's
    /// MaxRecvDataSegmentLength each (now and then shorter), DataSN from 0, F on the last.
    fn data_outs(
        &mut self,
        rng: &mut ChaCha8Rng,
        itt: u32,
        ttt: u32,
        offset: u32,
        len: u32,
    ) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut at = 0;
        let mut data_sn = 0;
        while at < len {
            let n = if rng.gen_bool(0.8) {
                self.mrdsl_t
            } else {
                BLOCK * rng.gen_range(1..=(self.mrdsl_t / BLOCK).max(1))
            };
            let n = n.min(len - at);
            let mut h = [0u8; BHS_LEN];
            DataOut {
                final_: at + n == len,
                data_segment_length: n,
                lun: 0,
                itt,
                ttt,
                exp_stat_sn: self.stat_sn,
                data_sn,
                buffer_offset: offset + at,
            }
            .emit(&mut h);
            let data = crate::frames::payload(rng.gen(), n as usize);
            v.push(pdu_bytes(&h, &data));
            data_sn += 1;
            at += n;
        }
        v
    }

    /// WRITE(10) of `blocks` blocks: the command with immediate data, unsolicited Data-Out
    /// when InitialR2T is No, R2Ts (up to MaxOutstandingR2T at once) each answered by a
    /// Data-Out burst, the SCSI Response.
    fn write(&mut self, rng: &mut ChaCha8Rng, blocks: u32) {
        let edtl = blocks * BLOCK;
        let itt = self.itt;
        self.itt = self.itt.wrapping_add(1);
        let imm = if self.immediate {
            edtl.min(self.first_burst).min(self.mrdsl_t)
        } else {
            0
        };
        let unsol = if self.initial_r2t {
            imm
        } else {
            edtl.min(self.first_burst)
        };
        let mut h = [0u8; BHS_LEN];
        ScsiCommand {
            immediate: false,
            final_: unsol == imm,
            read: false,
            write: true,
            attr: task_attr::SIMPLE,
            total_ahs_length: 0,
            data_segment_length: imm,
            lun: 0,
            itt,
            expected_data_transfer_length: edtl,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.stat_sn,
            cdb: cdb10(0x2A, rng.gen_range(0..1 << 20), blocks as u16),
        }
        .emit(&mut h);
        self.cmd_sn = self.cmd_sn.wrapping_add(1);
        let mut pdus = vec![pdu_bytes(
            &h,
            &crate::frames::payload(rng.gen(), imm as usize),
        )];
        if unsol > imm {
            pdus.extend(self.data_outs(rng, itt, RESERVED_TAG, imm, unsol - imm));
        }
        let co = rng.gen_bool(0.5);
        self.send(rng, pdus, co, &format!("WRITE ITT {itt} EDTL {edtl}"));
        // Solicited data: R2Ts of up to MaxBurstLength, MaxOutstandingR2T at a time.
        let mut off = unsol;
        let mut r2t_sn = 0;
        while off < edtl {
            let mut asked = Vec::new();
            for _ in 0..self.max_r2t {
                if off >= edtl {
                    break;
                }
                let n = self.max_burst.min(edtl - off);
                let ttt = self.ttt;
                self.ttt = self.ttt.wrapping_add(1);
                let mut h = [0u8; BHS_LEN];
                R2t {
                    lun: 0,
                    itt,
                    ttt,
                    sn: self.sn(false),
                    r2t_sn,
                    buffer_offset: off,
                    desired_data_transfer_length: n,
                }
                .emit(&mut h);
                self.post_bytes(h.to_vec(), true);
                r2t_sn += 1;
                asked.push((ttt, off, n));
                off += n;
            }
            self.maybe_acks(rng);
            for (ttt, o, n) in asked {
                let pdus = self.data_outs(rng, itt, ttt, o, n);
                let co = rng.gen_bool(0.5);
                self.send(
                    rng,
                    pdus,
                    co,
                    &format!("Data-Out burst ITT {itt} TTT {ttt} +{o} len {n}"),
                );
            }
        }
        let sn = self.next_stat();
        let mut h = [0u8; BHS_LEN];
        ScsiResponse {
            bidi_overflow: false,
            bidi_underflow: false,
            overflow: false,
            underflow: false,
            response: pdu::scsi_response::COMPLETED,
            status: 0,
            data_segment_length: 0,
            itt,
            snack_tag: 0,
            sn,
            exp_data_sn: r2t_sn,
            bidi_residual_count: 0,
            residual_count: 0,
        }
        .emit(&mut h);
        self.post_bytes(h.to_vec(), true);
        self.maybe_acks(rng);
    }

    /// Pages a READ of `len` bytes posts (headers and data), and its posts.
    fn read_cost(&self, len: u32) -> (u64, u64) {
        let mut off = 0u32;
        let (mut posts, mut pages) = (1u64, 1u64);
        while off < len {
            let n = self.mrdsl_i.min(len - off).min(8 * PAGE - off % PAGE);
            posts += 2;
            pages += 1 + u64::from(off % PAGE + n).div_ceil(u64::from(PAGE));
            off += n;
        }
        (posts, pages)
    }

    /// READ(10) of `blocks` blocks: the command, then Data-In PDUs of at most the initiator's
    /// MaxRecvDataSegmentLength (F at each MaxBurstLength), each a header post and a data post
    /// by reference; the status in the last one or in a SCSI Response after it.
    fn read(&mut self, rng: &mut ChaCha8Rng, blocks: u32) {
        let edtl = blocks * BLOCK;
        let itt = self.itt;
        self.itt = self.itt.wrapping_add(1);
        let mut h = [0u8; BHS_LEN];
        ScsiCommand {
            immediate: false,
            final_: true,
            read: true,
            write: false,
            attr: task_attr::SIMPLE,
            total_ahs_length: 0,
            data_segment_length: 0,
            lun: 0,
            itt,
            expected_data_transfer_length: edtl,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.stat_sn,
            cdb: cdb10(0x28, rng.gen_range(0..1 << 20), blocks as u16),
        }
        .emit(&mut h);
        self.cmd_sn = self.cmd_sn.wrapping_add(1);
        self.send(
            rng,
            vec![h.to_vec()],
            false,
            &format!("READ ITT {itt} EDTL {edtl}"),
        );
        let collapse = rng.gen_bool(0.7);
        let (mut off, mut data_sn) = (0u32, 0u32);
        while off < edtl {
            let burst_end = ((off / self.max_burst + 1) * self.max_burst).min(edtl);
            // A data post names at most 8 pages (the cosim's page lists).
            let n = self.mrdsl_i.min(burst_end - off).min(8 * PAGE - off % PAGE);
            let last = off + n == edtl;
            let with_status = last && collapse;
            let sn = if with_status {
                self.next_stat()
            } else {
                self.sn(false)
            };
            let mut h = [0u8; BHS_LEN];
            DataIn {
                final_: off + n == burst_end,
                acknowledge: false,
                overflow: false,
                underflow: false,
                status_present: with_status,
                status: 0,
                data_segment_length: n,
                lun: 0,
                itt,
                ttt: RESERVED_TAG,
                sn,
                data_sn,
                buffer_offset: off,
                residual_count: 0,
            }
            .emit(&mut h);
            self.post_bytes(h.to_vec(), false);
            self.post_pages(rng, (off % PAGE) as u16, n, true);
            data_sn += 1;
            off += n;
            if rng.gen_bool(0.3) {
                // The client acknowledges while the target is still sending.
                self.acks(rng, 4);
            }
        }
        if !collapse {
            let sn = self.next_stat();
            let mut h = [0u8; BHS_LEN];
            ScsiResponse {
                bidi_overflow: false,
                bidi_underflow: false,
                overflow: false,
                underflow: false,
                response: pdu::scsi_response::COMPLETED,
                status: 0,
                data_segment_length: 0,
                itt,
                snack_tag: 0,
                sn,
                exp_data_sn: data_sn,
                bidi_residual_count: 0,
                residual_count: 0,
            }
            .emit(&mut h);
            self.post_bytes(h.to_vec(), true);
        }
        self.maybe_acks(rng);
    }

    /// A NOP-Out ping (sometimes with data) and the target's NOP-In echoing it.
    fn ping(&mut self, rng: &mut ChaCha8Rng) {
        let itt = self.itt;
        self.itt = self.itt.wrapping_add(1);
        let data = crate::frames::payload(rng.gen(), *[0usize, 4, 61].choose(rng).unwrap_or(&0));
        let mut h = [0u8; BHS_LEN];
        NopOut {
            immediate: true,
            data_segment_length: data.len() as u32,
            lun: 0,
            itt,
            ttt: RESERVED_TAG,
            cmd_sn: self.cmd_sn,
            exp_stat_sn: self.stat_sn,
        }
        .emit(&mut h);
        self.send(rng, vec![pdu_bytes(&h, &data)], false, "NOP-Out");
        let sn = self.next_stat();
        let mut h = [0u8; BHS_LEN];
        NopIn {
            data_segment_length: data.len() as u32,
            lun: 0,
            itt,
            ttt: RESERVED_TAG,
            sn,
        }
        .emit(&mut h);
        self.post_bytes(pdu_bytes(&h, &data), true);
        self.maybe_acks(rng);
    }
}

fn yes(b: bool) -> String {
    if b { "Yes" } else { "No" }.to_string()
}

/// The steps of a case's iSCSI connection on socket `sock_ref` (see the module doc).
pub(super) fn iscsi_events(rng: &mut ChaCha8Rng, cfg: &GenConfig, sock_ref: u16) -> Vec<Step> {
    let rcv_buf: u32 = rng.gen_range(128 * 1024..=1 << 20);
    let mut wscale = 0;
    while (rcv_buf >> wscale) > 65535 {
        wscale += 1;
    }
    let jumbo = cfg.jumbo && rng.gen_bool(0.25);
    let p = SockParams {
        opcode: Opcode::SockAdd,
        sock_ref,
        local_mac: NIC_MAC,
        remote_mac: [0x02, 0, 0, 0, 0x30, 0x01],
        vlan: if rng.gen_bool(0.2) {
            rng.gen_range(1..4095)
        } else {
            0
        },
        proto: TCP,
        local_ip: Ipv4Addr::new(10, 0, 0, 2 + rng.gen_range(0..2u8)),
        remote_ip: Ipv4Addr::new(10, 4, 0, rng.gen_range(1..255u8)),
        local_port: ISCSI_PORT,
        remote_port: rng.gen_range(32768..61000),
        iss: rng.gen(),
        rcv_buf,
        mss: if jumbo { 8960 } else { 1460 },
        rcv_wscale: wscale + rng.gen_range(0..=2),
        flags: SockFlags::PSH_RETURN,
        ..Default::default()
    };
    let seg_max = if jumbo {
        8948
    } else {
        *[1448usize, 1460, 1448, 1200].choose(rng).unwrap_or(&1448)
    };
    let irs = if rng.gen_bool(0.2) {
        u32::MAX - rng.gen_range(0..20_000) // sequence numbers wrap inside the stream
    } else {
        rng.gen()
    };
    let c = Conn {
        name: format!("s{sock_ref}"),
        p,
        irs,
        stream: Vec::new(),
        seg_max,
        ts: rng.gen_bool(0.5),
        stress: false,
        tx: true,
        active: false,
        snd_posted: 0,
        snd_acked: 0,
        snd_acked_data: 0,
        snd_closed: false,
        win: 65535,
        tx_pages: ISCSI_TX_PAGES,
        dev_posts: false,
    };
    let mrdsl = |rng: &mut ChaCha8Rng| -> u32 {
        if rng.gen_bool(0.6) {
            *[4096u32, 8192, 16384, 32768].choose(rng).unwrap_or(&8192)
        } else {
            BLOCK * rng.gen_range(2..=56) // not a whole page: PDUs start inside pages
        }
    };
    let mut g = Gen {
        mss: (seg_max as u64).min(u64::from(p.mss)),
        c,
        ev: Vec::new(),
        sent: 0,
        nbs: Default::default(),
        nb_fill: 0,
        nb_pages: rng.gen_range(1..=MAX_NB_PAGES),
        pages_left: ISCSI_TX_PAGES,
        posts_left: ISCSI_TX_POSTS,
        cmd_sn: rng.gen(),
        stat_sn: rng.gen(),
        itt: rng.gen_range(0..1000),
        ttt: rng.gen_range(0x100..0x10000),
        // Data-Out PDUs well below a burst, so bursts have several.
        mrdsl_t: if rng.gen_bool(0.5) {
            *[2048u32, 4096, 8192].choose(rng).unwrap_or(&4096)
        } else {
            BLOCK * rng.gen_range(3..=15)
        },
        mrdsl_i: mrdsl(rng),
        first_burst: *[4096u32, 8192, 16384].choose(rng).unwrap_or(&8192),
        max_burst: *[16384u32, 32768, 65536].choose(rng).unwrap_or(&16384),
        immediate: rng.gen_bool(0.75),
        initial_r2t: rng.gen_bool(0.6),
        max_r2t: rng.gen_range(1..=2),
    };
    g.first_burst = g.first_burst.min(g.max_burst);
    // The socket, a few buffers ahead, the handshake (MSS, window scale, SACK, timestamps).
    g.ev.push(Step::AddSocket(p));
    for _ in 0..rng.gen_range(1..=3) {
        g.nbs.push_back(g.nb_pages * PAGE);
        g.ev.push(Step::PostNb(NbPost {
            sock: sock_ref,
            slot: NbSlot::Free,
            pages: g.nb_pages,
            total_bytes: g.nb_pages * PAGE,
            list: PageList::Good,
            timeout: 0,
        }));
    }
    let mut opts = vec![
        TcpOptionElement::MaximumSegmentSize(seg_max as u16),
        TcpOptionElement::SelectiveAcknowledgementPermitted,
    ];
    if g.c.ts {
        opts.push(TcpOptionElement::Timestamp(rng.gen(), 0));
    }
    opts.push(TcpOptionElement::Noop);
    opts.push(TcpOptionElement::WindowScale(rng.gen_range(0..=7)));
    let opts = Opts::List(opts);
    let bytes = tcp_frame(&g.c.tuple(), irs, SYN, 0, 64240, &opts, &[]);
    g.ev.push(frame(format!("{} iSCSI SYN {opts:?}", g.c.name), bytes));
    let ack = g.c.ack_no();
    let st =
        g.c.ctl(g.c.seq_of(0), ACK, ack, &Opts::None, "iSCSI handshake ACK");
    g.ev.push(st);
    g.login(rng);
    // Commands, bounded by the stream and by the send pool.
    let max_blocks = ((cfg.max_stream * 2).clamp(16 * 1024, 64 * 1024) as u32 / BLOCK).max(1);
    let budget = cfg.max_stream.max(6_000) * 5;
    let mut ops = 0;
    while g.c.stream.len() < budget && ops < 12 {
        ops += 1;
        let blocks = if rng.gen_bool(0.2) {
            rng.gen_range(1..=8)
        } else {
            rng.gen_range(8..=max_blocks)
        };
        match rng.gen_range(0..100) {
            0..=44 => {
                // Each R2T and the response: one page each.
                let r2ts = u64::from((blocks * BLOCK).div_ceil(g.max_burst));
                if !g.room(r2ts + 1, r2ts + 1) {
                    break;
                }
                g.write(rng, blocks);
            }
            45..=89 => {
                let (posts, pages) = g.read_cost(blocks * BLOCK);
                if !g.room(posts, pages) {
                    break;
                }
                g.read(rng, blocks);
            }
            _ => {
                if !g.room(1, 1) {
                    break;
                }
                g.ping(rng);
            }
        }
    }
    // The client acknowledges the rest; the connection ends with the client's FIN, the
    // target's close, or stays open (the case's final deletes end it).
    g.acks(rng, 128);
    match rng.gen_range(0..100) {
        0..=34 => {
            let end = g.c.seq_of(g.sent);
            let ack = g.c.ack_no();
            let st =
                g.c.ctl(end, ACK | FIN, ack, &Opts::None, "iSCSI client FIN");
            g.ev.push(st);
        }
        35..=59 => {
            g.ev.push(Step::SockClose { sock: sock_ref });
            if g.c.snd_acked == g.c.snd_posted {
                g.c.snd_acked += 1;
                let st = g.c.peer_ack(g.sent, "iSCSI client ACK of our FIN");
                g.ev.push(st);
            }
        }
        _ => {}
    }
    g.ev
}
