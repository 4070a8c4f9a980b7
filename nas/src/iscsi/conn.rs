//! One iSCSI connection (one session: MaxConnections is 1) on one accepted socket: PDUs parsed
//! out of the named buffers (the CPU reads headers, login text and parameter lists only),
//! SCSI commands handed to the logical unit as emulation packets, their data-out left where
//! the NIC delivered it and written by the block engine, data-in read by the block engine into
//! pages the NIC sends from, R2Ts, status, task management, NOP, text and logout.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use buflet_driver::{Completion, CplKind, Driver};
use buflet_scsi::{status, Direction, EmuPacket, IoError, TmFunction};
use buflet_spec::Status;
use crossbeam_channel::Sender;

use super::blk::{self, BlkCmd, CMD_BYTES};
use super::glue::{self, Hdr};
use super::port::{IoOp, IoReq, PortIo};
use super::tx::{PagePool, PduTx};
use super::{IscsiShared, IscsiStats};
use crate::{FileMap, NasStream};

/// Commands outstanding at once the target allows (MaxCmdSN - ExpCmdSN + 1).
pub const CMD_WINDOW: u32 = 64;
/// Largest data segment the target accepts (its MaxRecvDataSegmentLength declaration).
pub const MAX_RECV_DSL: u32 = 256 * 1024;
/// Largest expected data transfer length of one command the target serves (bigger ones end
/// in CHECK CONDITION before any data moves): bounds the data-in pages of one command.
pub const MAX_XFER: u32 = 16 << 20;
/// Streamed reads: block reads in flight per logical-unit read, and the most bytes one reads
/// (whole blocks) into host pages, or (p2p) into host buflets.
const STREAM_READS: usize = 2;
const PAGE_CHUNK: u64 = 64 * 1024;
const DEV_CHUNK: u64 = 32 * 1024;

/// Pages of data-in and header buffers one connection may hold.
pub const POOL_PAGES: usize = 8192;
/// Data-out bytes the connection solicits at once over all its commands (R2Ts whose data has
/// not come), beyond one R2T: the initiator then never queues much more than this behind a
/// NOP-Out or a task-management request, however many commands are outstanding, so those are
/// answered in bounded time even when the device is slow (the RTL).
pub const SOLICIT_LIMIT: u64 = 1 << 20;
/// ITT of a PDU that expects no answer.
const RESERVED_TAG: u32 = 0xffff_ffff;

/// Where the session is.
enum Phase {
    Login(Box<glue::Login>),
    /// Full feature phase, with the session's negotiator (Text Requests); `discovery` when
    /// only Text, NOP and Logout are allowed.
    Full {
        negotiator: Box<buflet_iscsi::text::Negotiator>,
        discovery: bool,
    },
    /// Logout answered: nothing more is parsed.
    LoggedOut,
}

/// A request of the logical unit waiting on the device thread.
enum Pending {
    /// Data-out bytes `[off, end)` to the medium from file offset `file_off`; `issued` bytes
    /// handed to the writer so far.
    Write {
        file_off: u64,
        off: u64,
        end: u64,
        issued: u64,
        left: Rc<RefCell<(u32, Option<String>)>>,
        reply: Sender<Result<Vec<u8>, IoError>>,
    },
    /// CPU read of data-out bytes once they are in.
    Peek {
        off: u64,
        len: u64,
        reply: Sender<Result<Vec<u8>, IoError>>,
    },
    /// WRITE SAME (the data-out block at `src`) or zeros (`src` none) to `blocks` blocks from
    /// `lba`, once the block is in.
    Same {
        lba: u64,
        blocks: u32,
        src: Option<u64>,
        reply: Sender<Result<Vec<u8>, IoError>>,
    },
    /// Block commands in flight (reads into data-in pages, write-same, zeros), and where the
    /// bytes go when they are a `ReadVec`.
    Blk {
        cmds: Vec<BlkCmd>,
        failed: Option<String>,
        read: bool,
        vec: Option<(Vec<u64>, u64)>,
        own: Vec<u64>,
        reply: Sender<Result<Vec<u8>, IoError>>,
    },
    /// Data-in bytes `[next, end)` still to read from the medium (file offset
    /// `file_off + (next - off)`), chunk by chunk, into host pages or (`dev`, p2p) host
    /// buflets; each chunk read in is sent at once as Data-In PDUs from where it is, so the
    /// disk reads and the sending overlap (in p2p the data never enters host memory).
    StreamRead {
        file_off: u64,
        off: u64,
        next: u64,
        end: u64,
        chunks: VecDeque<ReadChunk>,
        /// Bytes per chunk (whole blocks), and whether chunks go to host buflets.
        chunk: u64,
        dev: bool,
        failed: Option<String>,
        reply: Sender<Result<Vec<u8>, IoError>>,
    },
}

/// Data-in bytes `[off, off + len)` read into host pages or host buflets (`cmd` while in
/// flight).
struct ReadChunk {
    off: u64,
    len: u64,
    pages: Vec<u64>,
    buflets: Vec<u16>,
    cmd: Option<BlkCmd>,
}

/// A SCSI Command or Data-Out whose header was handled and whose data segment is coming.
struct Cur {
    raw: [u8; 48],
    /// The task its data joins and the buffer offset of its first byte (`None`: dropped).
    keep: Option<(u32, u64)>,
    data_off: u64,
    dsl: u64,
    /// Stream offset up to which the data was handed over.
    fed: u64,
    /// Stream offset past the PDU (padding and digest included).
    end: u64,
    /// The data digest so far, when DataDigest is CRC32C.
    crc: Option<u32>,
}

/// A task-management request answered once the tasks it aborted (`tasks`) are gone.
struct TmfWait {
    itt: u32,
    response: u8,
    tasks: Vec<u32>,
    /// TARGET COLD RESET: the connection ends after the answer.
    cold: bool,
}

/// One SCSI command.
struct Task {
    itt: u32,
    tag: u64,
    lun: u64,
    edtl: u32,
    write: bool,
    /// Data-out segments by buffer offset: (stream offset, bytes).
    segs: BTreeMap<u64, (u64, u64)>,
    /// Unsolicited data-out still expected (immediate data counted), and the DataSN of the
    /// next unsolicited Data-Out.
    unsol_left: u64,
    unsol_sn: u32,
    /// Buffer offset the next unsolicited Data-Out must carry.
    unsol_off: u64,
    /// Next buffer offset to solicit, R2Ts outstanding (TTT, offset, bytes, received, DataSN),
    /// and the next R2TSN.
    solicit_next: u64,
    r2ts: Vec<(u32, u64, u64, u64, u32)>,
    r2t_sn: u32,
    /// The logical unit's answer.
    done: Option<EmuPacket>,
    /// Aborted by task management: no answer is sent.
    aborted: bool,
    /// A data digest failed: the command ends in ABORTED COMMAND.
    digest_failed: bool,
    /// Data-in pages by page index.
    din: Vec<Option<u64>>,
    /// Data-in bytes from 0 already sent as Data-In PDUs by streamed reads, and the DataSN of
    /// the next Data-In.
    din_sent: u64,
    data_sn: u32,
    /// Its PDUs whose data segment is still coming.
    streaming: u32,
    pending: Vec<Pending>,
}

impl Task {
    /// Every data-out byte the initiator will send has come (what was solicited, and the
    /// unsolicited burst).
    fn data_settled(&self) -> bool {
        self.unsol_left == 0 && self.r2ts.is_empty() && self.streaming == 0
    }
}

/// The iSCSI application of one connection.
pub struct IscsiApp {
    sh: Arc<IscsiShared>,
    id: u64,
    /// The I_T nexus (initiator port and this target port), once logged in.
    nexus: u64,
    sock: u16,
    next: u64,
    /// The PDU whose data segment is streaming in.
    cur: Option<Cur>,
    phase: Phase,
    params: glue::Params,
    stat_sn: u32,
    exp_cmd_sn: u32,
    tasks: HashMap<u32, Task>,
    by_tag: HashMap<u64, u32>,
    blk_tags: HashMap<u32, u32>,
    next_ttt: u32,
    /// Task-management requests not yet answered, in arrival order.
    tmf_wait: VecDeque<TmfWait>,
    /// Data-out bytes solicited by R2Ts and not yet come, over all commands.
    solicited: u64,
    tx: PduTx,
    pool: PagePool,
    failure: Option<String>,
    /// The session is over (logout, or a fatal protocol error): the rest is discarded.
    closed: bool,
    /// When the connection was accepted (the login timeout runs from here).
    started: std::time::Instant,
    /// Counters.
    pub stats: IscsiStats,
}

impl Drop for IscsiApp {
    fn drop(&mut self) {
        self.sh.unbind(self.id);
        self.sh.add_ended(&self.stats);
    }
}

impl IscsiApp {
    /// The application of a connection on `sock`.
    pub fn new(sh: Arc<IscsiShared>, sock: u16, page: u64) -> Self {
        let id = sh.new_conn_id();
        let login = glue::Login::new(&sh.target, sh.new_tsih());
        sh.bind(id, sock);
        IscsiApp {
            sh,
            id,
            nexus: 0,
            sock,
            next: 0,
            cur: None,
            phase: Phase::Login(Box::new(login)),
            params: glue::Params::default(),
            stat_sn: 0,
            exp_cmd_sn: 0,
            tasks: HashMap::new(),
            by_tag: HashMap::new(),
            blk_tags: HashMap::new(),
            next_ttt: 1,
            tmf_wait: VecDeque::new(),
            solicited: 0,
            tx: PduTx::new(sock),
            pool: PagePool::new(page, POOL_PAGES),
            failure: None,
            closed: false,
            started: std::time::Instant::now(),
            stats: IscsiStats::default(),
        }
    }

    /// The connection is over: its tasks end (their logical-unit requests fail `Gone`), and
    /// its pages go back to host memory, but for those a block command or the NIC may still
    /// use.
    pub fn release(&mut self, drv: &mut Driver) {
        for (_, t) in std::mem::take(&mut self.tasks) {
            let busy = t
                .pending
                .iter()
                .any(|p| matches!(p, Pending::Blk { cmds, .. } if !cmds.is_empty()));
            // Streamed reads: the pages and host buflets already read into go back (those a
            // block read still fills stay out, as pages under a block command do).
            for p in &t.pending {
                if let Pending::StreamRead { chunks, .. } = p {
                    for ch in chunks.iter().filter(|ch| ch.cmd.is_none()) {
                        drv.give_host_buflets(ch.buflets.iter().copied());
                        self.pool.give(ch.pages.iter().copied());
                    }
                }
            }
            if !busy {
                self.pool.give(t.din.into_iter().flatten());
            }
        }
        self.pool.free_all(drv);
    }

    /// The connection's id (requests of its logical-unit workers carry it).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The first failure: a protocol error that ends the connection (reported once the PDUs
    /// queued before it, its Reject among them, were sent and acknowledged), or a send that
    /// failed.
    pub fn failed(&self) -> Option<String> {
        self.tx
            .failed()
            .or_else(|| self.failure.clone().filter(|_| self.tx.idle()))
    }

    /// Everything up to the end of the stream is parsed, no command is outstanding and every
    /// PDU was sent and acknowledged.
    pub fn done(&self, nas: &NasStream) -> bool {
        nas.eof.is_some_and(|e| self.next >= e || self.closed)
            && self.tasks.is_empty()
            && self.tx.idle()
            && nas.writes_in_flight() == 0
    }

    /// Block commands in flight, PDUs not yet acknowledged by the initiator and requests of
    /// the logical unit waiting (on data still to come, or on the block engine).
    pub fn in_flight(&self) -> usize {
        let waiting: usize = self.tasks.values().map(|t| t.pending.len()).sum();
        self.blk_tags.len() + self.tx.in_flight() + waiting
    }

    /// Still logging in past the login timeout, not yet failed for it.
    pub fn login_overdue(&self) -> bool {
        matches!(self.phase, Phase::Login(_))
            && self.failure.is_none()
            && self
                .sh
                .target
                .login_timeout
                .is_some_and(|t| self.started.elapsed() > t)
    }

    /// Block commands in flight.
    pub fn blk_in_flight(&self) -> usize {
        self.blk_tags.len()
    }

    /// Tags of its block commands in flight.
    pub fn pending_tags(&self, out: &mut Vec<u32>) {
        out.extend(self.blk_tags.keys().copied());
    }

    /// Take a completion (its posts' `TX_DONE`s, its block commands' `BLK_DONE`s).
    pub fn handle(&mut self, drv: &mut Driver, c: &Completion) -> bool {
        if self.tx.handle(c, &mut self.pool) {
            drv.give_host_buflets(self.tx.take_returned_buflets());
            return true;
        }
        if c.kind != CplKind::BlkDone {
            return false;
        }
        let Some(itt) = self.blk_tags.remove(&c.tag) else {
            return false;
        };
        let Some(t) = self.tasks.get_mut(&itt) else {
            return true;
        };
        for p in &mut t.pending {
            match p {
                Pending::Blk { cmds, failed, .. } => {
                    if let Some(i) = cmds.iter().position(|b| b.tag == c.tag) {
                        let cmd = cmds.swap_remove(i);
                        blk::finish(drv, cmd);
                        if c.status != Status::Ok {
                            failed.get_or_insert(format!("block command ended {:?}", c.status));
                        }
                        break;
                    }
                }
                Pending::StreamRead { chunks, failed, .. } => {
                    let hit = chunks
                        .iter_mut()
                        .find(|ch| ch.cmd.as_ref().is_some_and(|b| b.tag == c.tag));
                    if let Some(ch) = hit {
                        if let Some(cmd) = ch.cmd.take() {
                            blk::finish(drv, cmd);
                        }
                        if c.status != Status::Ok {
                            failed.get_or_insert(format!("block read ended {:?}", c.status));
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
        true
    }

    /// Parse what arrived, serve the logical unit's requests that can be served, answer the
    /// commands that are over and send what is queued.
    pub fn step(
        &mut self,
        drv: &mut Driver,
        nas: &mut NasStream,
        file: &dyn FileMap,
    ) -> Result<(), crate::ServeError> {
        if self.failure.is_none() {
            if let Err(e) = self.parse(drv, nas) {
                self.fail(e);
            }
        }
        // A connection that is not logged in in time ends (its socket is reset).
        if self.login_overdue() {
            self.stats.login_timeouts += 1;
            let limit = self.sh.target.login_timeout.unwrap_or_default();
            self.fail(format!("iSCSI: no login within {} ms", limit.as_millis()));
        }
        if nas.eof.is_some_and(|e| nas.received() >= e) && !self.closed {
            self.end_of_stream(drv, nas);
        }
        let itts: Vec<u32> = self.tasks.keys().copied().collect();
        for itt in itts {
            self.serve(drv, nas, file, itt);
            self.try_finish(drv, itt);
        }
        if !self.tmf_wait.is_empty() {
            self.answer_tmfs();
        }
        if nas.posted_count() == 0 && !nas.is_hold() {
            self.unstarve(drv, nas);
        }
        if self.closed {
            let rx = nas.received();
            if rx > self.next {
                let _ = nas.discard(drv, self.next, rx - self.next);
                self.next = rx;
            }
        }
        self.tx
            .flush(drv, &mut self.pool)
            .map_err(|e| crate::ServeError::App(format!("iSCSI: sending a PDU: {e}")))?;
        Ok(())
    }

    /// The initiator's direction ended (FIN or RST) and all of it is in: nothing more is
    /// parsed; a PDU cut by the end is dropped; a command still waiting for data-out that will
    /// never come is aborted (its logical-unit requests answered `Gone`), so the connection
    /// can end.
    fn end_of_stream(&mut self, drv: &mut Driver, nas: &mut NasStream) {
        self.closed = true;
        if let Some(cur) = self.cur.take() {
            let rx = nas.received();
            if rx > cur.fed {
                let _ = nas.discard(drv, cur.fed, rx - cur.fed);
            }
            if let Some(t) = cur.keep.and_then(|(itt, _)| self.tasks.get_mut(&itt)) {
                t.streaming = t.streaming.saturating_sub(1);
            }
        }
        for t in self.tasks.values_mut() {
            if !t.data_settled() {
                t.aborted = true;
            }
        }
    }

    /// Every named buffer is back and held, and a logical unit waits to read data-out that is
    /// not all in: an initiator pushing small segments (each PSH returns a buffer) can fill
    /// all the buffers with less than the range, and the rest could never come. The part that
    /// is in is copied out of the buffers ([`NasStream::bounce`]) so they go back to the NIC;
    /// the logical unit then reads (or writes) the copy.
    fn unstarve(&mut self, drv: &mut Driver, nas: &mut NasStream) {
        let mut ranges = Vec::new();
        for t in self.tasks.values() {
            for p in &t.pending {
                let Pending::Peek { off, len, .. } = p else {
                    continue;
                };
                let end = off + len;
                for (&b, &(s, l)) in t.segs.range(..end) {
                    let (lo, hi) = ((*off).max(b), end.min(b + l));
                    if lo < hi {
                        ranges.push((s + (lo - b), hi - lo));
                    }
                }
            }
        }
        for (s, n) in ranges {
            if let Err(e) = nas.bounce(drv, s, n) {
                self.fail(format!("iSCSI: copying data-out out of named buffers: {e}"));
                return;
            }
        }
    }

    fn fail(&mut self, e: String) {
        self.failure.get_or_insert(e);
        self.closed = true;
    }

    /// Parse what arrived: every complete PDU, and the data segments of SCSI Command and
    /// Data-Out PDUs as their bytes come (their header is handled as soon as it is in, and
    /// their data joins the task piece by piece, so a data segment larger than the named
    /// buffers never waits for itself).
    fn parse(&mut self, drv: &mut Driver, nas: &mut NasStream) -> Result<(), String> {
        while !self.closed {
            let rx = nas.received();
            if self.cur.is_some() {
                if !self.feed(drv, nas, rx)? {
                    break;
                }
                continue;
            }
            if self.next + 48 > rx {
                break;
            }
            let mut raw = [0u8; 48];
            nas.peek(drv, self.next, &mut raw)
                .map_err(|e| format!("iSCSI: reading a PDU header: {e}"))?;
            let h = glue::header(&raw)
                .map_err(|e| format!("iSCSI: PDU at stream offset {}: {e}", self.next))?;
            let hd = if self.params.header_digest { 4 } else { 0 };
            let dd = if self.params.data_digest && h.dsl > 0 {
                4
            } else {
                0
            };
            let hdr_len = 48 + h.ahs_len as u64 + hd;
            let limit = match self.phase {
                Phase::Login(_) => 8192,
                _ => MAX_RECV_DSL,
            };
            if h.dsl > limit {
                // An oversize segment: the stream cannot be trusted past it.
                self.reject(&raw, glue::REJECT_PROTOCOL_ERROR);
                return Err(format!(
                    "iSCSI: a data segment of {} bytes, over MaxRecvDataSegmentLength {limit}: the connection ends",
                    h.dsl
                ));
            }
            let data_off = self.next + hdr_len;
            let padded = (h.dsl as u64).div_ceil(4) * 4;
            let end = data_off + padded + dd;
            let streamed = matches!(
                self.phase,
                Phase::Full {
                    discovery: false,
                    ..
                }
            ) && (h.op == glue::OP_SCSI_CMD || h.op == glue::OP_DATA_OUT);
            if data_off > rx || (!streamed && end > rx) {
                break;
            }
            let mut ahs = vec![0u8; h.ahs_len as usize];
            if !ahs.is_empty() {
                nas.peek(drv, self.next + 48, &mut ahs)
                    .map_err(|e| format!("iSCSI: reading an AHS: {e}"))?;
            }
            if hd > 0 {
                let mut d = [0u8; 4];
                nas.peek(drv, self.next + 48 + h.ahs_len as u64, &mut d)
                    .map_err(|e| format!("iSCSI: reading a header digest: {e}"))?;
                if !glue::header_digest_ok(&raw, &ahs, d) {
                    self.stats.digest_errors += 1;
                    return Err(format!(
                        "iSCSI: header digest error at stream offset {}: the connection ends",
                        self.next
                    ));
                }
            }
            let start = self.next;
            self.next = end;
            self.stats.pdus_in += 1;
            // The header (and digest) is read: its bytes go back to the NIC at once.
            let _ = nas.discard(drv, start, hdr_len);
            let data = (data_off, h.dsl as u64);
            if streamed {
                // The data joins its task as it comes (`feed`); none of it is needed yet.
                let keep = match h.op {
                    glue::OP_SCSI_CMD => self.scsi_cmd(&raw, &ahs, &h, data),
                    _ => self.data_out(&raw, &h, data),
                };
                if let Some((itt, _)) = keep {
                    if let Some(t) = self.tasks.get_mut(&itt) {
                        t.streaming += 1;
                    }
                }
                self.cur = Some(Cur {
                    raw,
                    keep,
                    data_off,
                    dsl: h.dsl as u64,
                    fed: data_off,
                    end,
                    crc: (dd > 0).then_some(0),
                });
                continue;
            }
            let mut data_ok = true;
            if dd > 0 {
                // The CPU reads the segment to check its digest (one more crossing per byte).
                let mut seg = vec![0u8; padded as usize];
                let mut d = [0u8; 4];
                nas.peek(drv, data_off, &mut seg)
                    .and_then(|_| nas.peek(drv, data_off + padded, &mut d))
                    .map_err(|e| format!("iSCSI: reading a data segment: {e}"))?;
                self.stats.digest_bytes_read += padded;
                if !glue::data_digest_ok(&seg, d) {
                    self.stats.digest_errors += 1;
                    self.reject(&raw, glue::REJECT_DATA_DIGEST);
                    data_ok = false;
                }
            }
            if data_ok {
                match self.phase {
                    Phase::Login(_) => self.login_pdu(drv, nas, &raw, &h, data)?,
                    Phase::LoggedOut => {}
                    Phase::Full { .. } => self.full_pdu(drv, nas, &raw, &h, data)?,
                }
            }
            if end > data_off {
                let _ = nas.discard(drv, data_off, end - data_off);
            }
        }
        Ok(())
    }

    /// The data segment being streamed: hand its task what arrived up to `rx`; `true` once
    /// the whole PDU (padding and digest too) is in and done with.
    fn feed(&mut self, drv: &mut Driver, nas: &mut NasStream, rx: u64) -> Result<bool, String> {
        let Some(mut cur) = self.cur.take() else {
            return Ok(true);
        };
        let data_end = cur.data_off + cur.dsl;
        let upto = rx.min(data_end);
        if upto > cur.fed {
            let n = upto - cur.fed;
            if let Some(crc) = cur.crc.as_mut() {
                let mut v = vec![0u8; n as usize];
                nas.peek(drv, cur.fed, &mut v)
                    .map_err(|e| format!("iSCSI: reading a data segment: {e}"))?;
                *crc = crc32c::crc32c_append(*crc, &v);
                self.stats.digest_bytes_read += n;
            }
            let task = cur.keep.and_then(|(itt, _)| self.tasks.get_mut(&itt));
            match (task, cur.keep) {
                // Data the logical unit still may read: kept. Once its command is over (done,
                // failed early, aborted) nothing reads it: it goes back to the NIC at once, so
                // a refused command's data-out never holds the named buffers.
                (Some(t), Some((_, buf_off)))
                    if !t.aborted && !t.digest_failed && t.done.is_none() =>
                {
                    let off = buf_off + (cur.fed - cur.data_off);
                    // A piece that continues the previous one (same PDU) extends it, so
                    // writes cut on block boundaries rather than where named buffers end.
                    let prev = t
                        .segs
                        .range_mut(..off)
                        .next_back()
                        .filter(|(&b, &mut (st, l))| b + l == off && st + l == cur.fed);
                    match prev {
                        Some((_, e)) => e.1 += n,
                        None => {
                            t.segs.insert(off, (cur.fed, n));
                        }
                    }
                }
                _ => {
                    let _ = nas.discard(drv, cur.fed, n);
                }
            }
            cur.fed = upto;
        }
        if rx < cur.end {
            self.cur = Some(cur);
            return Ok(false);
        }
        // The whole PDU is in: padding and digest.
        let tail = cur.end - data_end;
        let mut good = true;
        if let Some(crc) = cur.crc {
            let mut t = vec![0u8; tail as usize];
            nas.peek(drv, data_end, &mut t)
                .map_err(|e| format!("iSCSI: reading a data digest: {e}"))?;
            let (pad, d) = t.split_at(t.len() - 4);
            let crc = crc32c::crc32c_append(crc, pad);
            good = crc == u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
        }
        if tail > 0 {
            let _ = nas.discard(drv, data_end, tail);
        }
        if let Some((itt, _)) = cur.keep {
            if let Some(t) = self.tasks.get_mut(&itt) {
                t.streaming = t.streaming.saturating_sub(1);
                if !good {
                    t.digest_failed = true;
                }
            }
        }
        if !good {
            self.stats.digest_errors += 1;
            self.reject(&cur.raw, glue::REJECT_DATA_DIGEST);
        }
        Ok(true)
    }

    fn read_data(
        &self,
        drv: &mut Driver,
        nas: &NasStream,
        (off, len): (u64, u64),
    ) -> Result<Vec<u8>, String> {
        let mut v = vec![0u8; len as usize];
        nas.peek(drv, off, &mut v)
            .map_err(|e| format!("iSCSI: reading a data segment: {e}"))?;
        Ok(v)
    }

    fn login_pdu(
        &mut self,
        drv: &mut Driver,
        nas: &NasStream,
        raw: &[u8; 48],
        h: &Hdr,
        data: (u64, u64),
    ) -> Result<(), String> {
        if h.op != glue::OP_LOGIN {
            self.reject(raw, glue::REJECT_PROTOCOL_ERROR);
            return Err(format!(
                "iSCSI: opcode {:#04x} before the login completed: the connection ends",
                h.op
            ));
        }
        let text = self.read_data(drv, nas, data)?;
        let Phase::Login(login) = &mut self.phase else {
            return Ok(());
        };
        let step = login.on_request(raw, &text);
        // The login's own PDUs go with the parameters of the login phase (no digests).
        let b = glue::frame(&step.header, &step.data, false, false);
        self.stats.pdus_out += 1;
        self.tx.bytes(b, true);
        if let Some(p) = step.params {
            self.params = p;
            self.stat_sn = step.next_stat_sn;
            self.exp_cmd_sn = step.exp_cmd_sn;
            self.nexus = self.sh.nexus_of(&step.initiator.0, step.initiator.1);
            let old = std::mem::replace(&mut self.phase, Phase::LoggedOut);
            if let Phase::Login(l) = old {
                self.phase = Phase::Full {
                    negotiator: Box::new(l.into_negotiator()),
                    discovery: step.discovery,
                };
            }
            self.stats.logins += 1;
        } else if step.failed {
            self.phase = Phase::LoggedOut;
            self.closed = true;
        }
        Ok(())
    }

    /// Queue a PDU: header (digest when negotiated), data segment, padding and digest, all
    /// written by the CPU.
    fn send_pdu(&mut self, header: [u8; 48], data: &[u8]) {
        let b = glue::frame(
            &header,
            data,
            self.params.header_digest,
            self.params.data_digest,
        );
        self.stats.pdus_out += 1;
        self.tx.bytes(b, true);
    }

    fn reject(&mut self, raw: &[u8; 48], reason: u8) {
        self.stats.rejects += 1;
        // RFC 7143 11.17: StatSN is advanced after a Reject.
        let sn = self.next_stat_sn();
        let h = glue::reject(reason, sn, self.exp_cmd_sn, self.max_cmd_sn());
        self.send_pdu(h, raw);
    }

    fn max_cmd_sn(&self) -> u32 {
        self.exp_cmd_sn.wrapping_add(CMD_WINDOW - 1)
    }

    fn next_stat_sn(&mut self) -> u32 {
        let s = self.stat_sn;
        self.stat_sn = self.stat_sn.wrapping_add(1);
        s
    }

    /// A command-numbered PDU: `true` when it is to be executed (in the window; a
    /// non-immediate one advances ExpCmdSN).
    fn cmd_sn_ok(&mut self, imm: bool, cmd_sn: u32) -> bool {
        if imm {
            return true;
        }
        if cmd_sn != self.exp_cmd_sn {
            // Outside the window (or a duplicate): silently ignored (RFC 7143 4.2.2.1).
            self.stats.cmd_sn_ignored += 1;
            return false;
        }
        self.exp_cmd_sn = self.exp_cmd_sn.wrapping_add(1);
        true
    }

    /// A PDU of the full-feature phase other than SCSI Command and Data-Out (whole: header
    /// and data segment are in).
    fn full_pdu(
        &mut self,
        drv: &mut Driver,
        nas: &NasStream,
        raw: &[u8; 48],
        h: &Hdr,
        data: (u64, u64),
    ) -> Result<(), String> {
        let discovery = matches!(
            self.phase,
            Phase::Full {
                discovery: true,
                ..
            }
        );
        if discovery && !matches!(h.op, glue::OP_TEXT | glue::OP_NOP_OUT | glue::OP_LOGOUT) {
            self.reject(raw, glue::REJECT_PROTOCOL_ERROR);
            return Ok(());
        }
        match h.op {
            glue::OP_NOP_OUT => {
                let n = glue::nop_out(raw);
                if !self.cmd_sn_ok(h.imm, n.cmd_sn) {
                    return Ok(());
                }
                if n.itt != RESERVED_TAG {
                    let ping = self.read_data(drv, nas, data)?;
                    let sn = self.next_stat_sn();
                    let hdr = glue::nop_in(
                        n.itt,
                        n.lun,
                        sn,
                        self.exp_cmd_sn,
                        self.max_cmd_sn(),
                        ping.len(),
                    );
                    self.send_pdu(hdr, &ping);
                    self.stats.nops += 1;
                }
                Ok(())
            }
            glue::OP_TMF => {
                self.tmf(raw, h);
                Ok(())
            }
            glue::OP_TEXT => {
                let t = glue::text_req(raw);
                if !self.cmd_sn_ok(h.imm, t.cmd_sn) {
                    return Ok(());
                }
                let text = self.read_data(drv, nas, data)?;
                let sns = (self.stat_sn, self.exp_cmd_sn, self.max_cmd_sn());
                let Phase::Full { negotiator, .. } = &mut self.phase else {
                    return Ok(());
                };
                match glue::text_response(raw, &text, &self.sh.target, negotiator, sns) {
                    Ok((hdr, out)) => {
                        self.next_stat_sn();
                        self.send_pdu(hdr, &out);
                    }
                    Err(_) => self.reject(raw, glue::REJECT_PROTOCOL_ERROR),
                }
                Ok(())
            }
            glue::OP_LOGOUT => {
                let l = glue::logout_req(raw);
                if !self.cmd_sn_ok(h.imm, l.cmd_sn) {
                    return Ok(());
                }
                let sn = self.next_stat_sn();
                let hdr = glue::logout_response(l.itt, sn, self.exp_cmd_sn, self.max_cmd_sn());
                self.send_pdu(hdr, &[]);
                self.phase = Phase::LoggedOut;
                self.closed = true;
                self.stats.logouts += 1;
                // Commands still at the logical unit end without an answer.
                for t in self.tasks.values_mut() {
                    t.aborted = true;
                }
                Ok(())
            }
            glue::OP_SNACK => {
                // ErrorRecoveryLevel 0: no SNACK.
                self.reject(raw, glue::REJECT_PROTOCOL_ERROR);
                Ok(())
            }
            _ => {
                self.reject(raw, glue::REJECT_CMD_NOT_SUPPORTED);
                Ok(())
            }
        }
    }

    /// A SCSI Command: a task, handed to the logical unit at once; the data-out it needs
    /// beyond the unsolicited burst is solicited with R2Ts.
    /// Returns the task its immediate data joins (at buffer offset 0), if any.
    fn scsi_cmd(
        &mut self,
        raw: &[u8; 48],
        ahs: &[u8],
        h: &Hdr,
        data: (u64, u64),
    ) -> Option<(u32, u64)> {
        let c = match glue::scsi_cmd(raw, ahs) {
            Ok(c) => c,
            Err(_) => {
                // Its CmdSN is used up all the same, or every later command would wait.
                if self.cmd_sn_ok(h.imm, glue::cmd_sn(raw)) {
                    self.reject(raw, glue::REJECT_INVALID_FIELD);
                }
                return None;
            }
        };
        if !self.cmd_sn_ok(h.imm, c.cmd_sn) {
            return None;
        }
        if self.tasks.contains_key(&c.itt) {
            self.reject(raw, glue::REJECT_TASK_IN_PROGRESS);
            return None;
        }
        self.stats.commands += 1;
        if self.sh.trace {
            eprintln!(
                "{:.3} iscsi {}: cmd itt {:#x} cdb {:02x?} edtl {} r{} w{} imm {}",
                self.sh.t0.elapsed().as_secs_f64() * 1e3,
                self.id,
                c.itt,
                c.cdb,
                c.edtl,
                c.read as u8,
                c.write as u8,
                data.1
            );
        }
        let edtl = c.edtl;
        let dir = match (c.read, c.write) {
            (true, true) => Direction::Bidirectional,
            (false, true) => Direction::ToDevice,
            (true, false) => Direction::FromDevice,
            _ => Direction::None,
        };
        let imm = if c.write { data.1.min(edtl as u64) } else { 0 };
        let unsol = if c.write && !self.params.initial_r2t {
            (self.params.first_burst as u64).min(edtl as u64)
        } else {
            imm
        };
        let mut t = Task {
            itt: c.itt,
            tag: self.sh.new_tag(),
            lun: c.lun,
            edtl,
            write: c.write,
            segs: BTreeMap::new(),
            unsol_left: unsol.saturating_sub(imm),
            unsol_sn: 0,
            unsol_off: imm,
            solicit_next: unsol.max(imm),
            r2ts: Vec::new(),
            r2t_sn: 0,
            done: None,
            aborted: false,
            digest_failed: false,
            din: Vec::new(),
            din_sent: 0,
            data_sn: 0,
            streaming: 0,
            pending: Vec::new(),
        };
        let kept = (imm > 0).then_some((c.itt, 0));
        if !c.write {
            t.solicit_next = 0;
        }
        let too_big = edtl > MAX_XFER;
        let pkt = EmuPacket::new(t.tag, c.lun, &c.cdb, dir, edtl, self.nexus, 1)
            // iSCSI's ATTR codes (RFC 7143 11.3.1.3) to SAM's in the packet.
            .map(|p| {
                p.with_task_attr(match c.attr {
                    2 => 2,
                    3 => 1,
                    4 => 4,
                    _ => 0,
                })
            });
        let itt = c.itt;
        self.by_tag.insert(t.tag, itt);
        match pkt {
            Ok(p) if !too_big => {
                let io = PortIo {
                    tx: self.sh.io_tx.clone(),
                    conn: self.id,
                    sock: self.sock,
                    tag: t.tag,
                    block_size: self.sh.block_size,
                    blocks: self.sh.blocks,
                    data_out_len: if c.write { edtl as u64 } else { 0 },
                    data_in_len: if c.read { edtl as u64 } else { 0 },
                };
                self.sh.submitted(t.tag, self.id);
                if let Err(e) = self.sh.emu.submit(p, Box::new(io)) {
                    let mut p = EmuPacket::new(t.tag, c.lun, &c.cdb[..1], dir, edtl, self.id, 1)
                        .unwrap_or_else(|_| glue::blank_packet(t.tag));
                    p.set_status(match e {
                        buflet_scsi::emu::EmuError::Full(_) => status::TASK_SET_FULL,
                        _ => status::BUSY,
                    });
                    p.set_state(buflet_scsi::PacketState::Done);
                    t.done = Some(p);
                    // The logical unit is full (or shut down): the command gets the status
                    // above, and the refusal is counted.
                    self.stats.lu_refused += 1;
                }
            }
            _ => {
                // A CDB the packet cannot carry, or a transfer too large: INVALID FIELD IN CDB.
                let mut p = glue::blank_packet(t.tag);
                p.check_condition(0x5, 0x24, 0x00);
                t.done = Some(p);
            }
        }
        if t.done.is_none() {
            self.solicit(&mut t);
        }
        self.tasks.insert(itt, t);
        kept
    }

    /// Send the R2Ts the task may have outstanding (MaxOutstandingR2T), each at most
    /// MaxBurstLength.
    fn solicit(&mut self, t: &mut Task) {
        if !t.write {
            return;
        }
        while t.r2ts.len() < self.params.max_r2t.max(1) as usize && t.solicit_next < t.edtl as u64 {
            let off = t.solicit_next;
            let len = (t.edtl as u64 - off).min(self.params.max_burst as u64);
            if self.solicited > 0 && self.solicited + len > SOLICIT_LIMIT {
                // Solicited later, once data already asked for has come.
                break;
            }
            self.solicited += len;
            let ttt = self.next_ttt;
            self.next_ttt = self.next_ttt.wrapping_add(1).max(1);
            if self.next_ttt == RESERVED_TAG {
                self.next_ttt = 1;
            }
            let hdr = glue::r2t(
                t.lun,
                t.itt,
                ttt,
                self.stat_sn,
                self.exp_cmd_sn,
                self.max_cmd_sn(),
                t.r2t_sn,
                off as u32,
                len as u32,
            );
            t.r2t_sn = t.r2t_sn.wrapping_add(1);
            t.r2ts.push((ttt, off, len, 0, 0));
            t.solicit_next += len;
            self.stats.r2ts += 1;
            let b = glue::header_only(&hdr, self.params.header_digest);
            self.stats.pdus_out += 1;
            self.tx.bytes(b, true);
        }
    }

    /// A Data-Out: its segment joins its task's data-out (kept in the named buffers).
    /// Returns the task its data joins and the buffer offset, if it is kept.
    fn data_out(&mut self, raw: &[u8; 48], h: &Hdr, data: (u64, u64)) -> Option<(u32, u64)> {
        let d = glue::data_out(raw);
        let Some(mut t) = self.tasks.remove(&d.itt) else {
            // Data for a task that is over (aborted): dropped.
            self.stats.stray_data += 1;
            return None;
        };
        let len = data.1;
        let mut kept = None;
        let mut bad = false;
        if t.aborted {
            // Data for an aborted command (the initiator may still send what it was asked
            // for): dropped without a word.
            self.stats.stray_data += 1;
            self.tasks.insert(d.itt, t);
            return None;
        }
        if d.ttt == RESERVED_TAG {
            if t.unsol_left < len
                || d.data_sn != t.unsol_sn
                || u64::from(d.buffer_offset) != t.unsol_off
            {
                bad = true;
            } else {
                t.unsol_left -= len;
                t.unsol_sn += 1;
                t.unsol_off += len;
                if h.fin {
                    t.unsol_left = 0;
                }
            }
        } else if let Some(i) = t.r2ts.iter().position(|r| r.0 == d.ttt) {
            let r = &mut t.r2ts[i];
            let (_, off, rlen, got, sn) = *r;
            if d.data_sn != sn || d.buffer_offset as u64 != off + got || got + len > rlen {
                bad = true;
            } else {
                r.3 += len;
                r.4 += 1;
                self.solicited = self.solicited.saturating_sub(len);
                if r.3 == rlen {
                    t.r2ts.swap_remove(i);
                }
            }
        } else {
            bad = true;
        }
        if bad || d.buffer_offset as u64 + len > t.edtl as u64 {
            // DataSN out of order, an offset or length that does not match the R2T: a
            // protocol error the task cannot recover from at ErrorRecoveryLevel 0.
            self.stats.protocol_errors += 1;
            self.reject(raw, glue::REJECT_PROTOCOL_ERROR);
            t.digest_failed = true;
            t.unsol_left = 0;
            let open: u64 = t.r2ts.iter().map(|r| r.2 - r.3).sum();
            self.solicited = self.solicited.saturating_sub(open);
            t.r2ts.clear();
            t.solicit_next = t.edtl as u64;
        } else if len > 0 && !t.aborted && !t.digest_failed {
            kept = Some((d.itt, u64::from(d.buffer_offset)));
        }
        if t.done.is_none() && !t.digest_failed {
            self.solicit(&mut t);
        }
        self.tasks.insert(d.itt, t);
        kept
    }

    fn tmf(&mut self, raw: &[u8; 48], h: &Hdr) {
        let m = glue::tmf(raw);
        // ExpCmdSN before this request: the window RefCmdSN is judged against.
        let exp = self.exp_cmd_sn;
        if !self.cmd_sn_ok(h.imm, m.cmd_sn) {
            return;
        }
        self.stats.tmfs += 1;
        let f = match m.function {
            1 => Some(TmFunction::AbortTask),
            2 => Some(TmFunction::AbortTaskSet),
            3 => Some(TmFunction::ClearAca),
            4 => Some(TmFunction::ClearTaskSet),
            5 => Some(TmFunction::LogicalUnitReset),
            6 => Some(TmFunction::TargetWarmReset),
            7 => Some(TmFunction::TargetColdReset),
            _ => None,
        };
        let response = match f {
            Some(TmFunction::AbortTask) => match self.tasks.get_mut(&m.rtt) {
                Some(t) if t.lun == m.lun => {
                    t.aborted = true;
                    0
                }
                Some(_) => 1,
                // Not here (RFC 7143 11.6.1): "Function complete" when RefCmdSN is in the
                // CmdSN window and below this request's CmdSN (the task never arrived here:
                // dropped or ignored); "Task does not exist" otherwise: RefCmdSN is below
                // ExpCmdSN, so the task was received and has already been answered.
                None => {
                    let d = m.ref_cmd_sn.wrapping_sub(exp);
                    let ahead = m.cmd_sn.wrapping_sub(exp);
                    if d < CMD_WINDOW && ahead <= CMD_WINDOW && d < ahead {
                        0
                    } else {
                        1
                    }
                }
            },
            Some(TmFunction::ClearAca) => 5,
            Some(f) => {
                for t in self.tasks.values_mut() {
                    if f != TmFunction::AbortTaskSet && f != TmFunction::ClearTaskSet
                        || t.lun == m.lun
                    {
                        t.aborted = true;
                    }
                }
                self.sh.emu.task_management(f, self.nexus);
                0
            }
            // TASK REASSIGN: task allegiance reassignment not supported (ErrorRecoveryLevel 0).
            None if m.function == 8 => 4,
            None => 5,
        };
        // "Function complete" only once the tasks it aborted are gone: the logical unit
        // completed them and every block command they issued ended, so no write of theirs
        // lands after the answer (RFC 7143 11.6.2).
        let wait: Vec<u32> = if response == 0 {
            self.tasks
                .iter()
                .filter(|(_, t)| t.aborted)
                .map(|(&i, _)| i)
                .collect()
        } else {
            Vec::new()
        };
        self.tmf_wait.push_back(TmfWait {
            itt: m.itt,
            response,
            tasks: wait,
            cold: f == Some(TmFunction::TargetColdReset),
        });
        self.answer_tmfs();
    }

    /// Send the task-management responses whose aborted tasks are all gone, in order.
    fn answer_tmfs(&mut self) {
        while let Some(w) = self.tmf_wait.front() {
            if w.tasks.iter().any(|i| self.tasks.contains_key(i)) {
                return;
            }
            let Some(w) = self.tmf_wait.pop_front() else {
                return;
            };
            let sn = self.next_stat_sn();
            let hdr = glue::tmf_response(w.itt, w.response, sn, self.exp_cmd_sn, self.max_cmd_sn());
            self.send_pdu(hdr, &[]);
            if w.cold {
                self.closed = true;
            }
        }
    }

    /// A request of the logical unit for one of this connection's commands.
    pub fn on_io(&mut self, drv: &mut Driver, nas: &mut NasStream, file: &dyn FileMap, req: IoReq) {
        if self.sh.trace {
            eprintln!(
                "{:.3} iscsi {}: io tag {} {:?}",
                self.sh.t0.elapsed().as_secs_f64() * 1e3,
                self.id,
                req.tag,
                req.op
            );
        }
        let Some(itt) = self.by_tag.get(&req.tag).copied() else {
            let _ = req
                .reply
                .send(Err(IoError::Gone("the command is over".into())));
            return;
        };
        let Some(t) = self.tasks.get_mut(&itt) else {
            let _ = req
                .reply
                .send(Err(IoError::Gone("the command is over".into())));
            return;
        };
        if t.aborted {
            let _ = req
                .reply
                .send(Err(IoError::Gone("the command was aborted".into())));
            return;
        }
        let bs = self.sh.block_size as u64;
        let page = self.pool.page();
        let reply = req.reply;
        let span = |blocks: u32| u64::from(blocks) * bs;
        let in_medium = |lba: u64, blocks: u32| {
            lba.checked_add(u64::from(blocks))
                .is_some_and(|e| e <= self.sh.blocks)
        };
        match req.op {
            IoOp::Write { lba, blocks, off } => {
                let end = off + span(blocks);
                if !in_medium(lba, blocks) || end > t.edtl as u64 || !t.write {
                    let _ = reply.send(Err(IoError::Range(format!(
                        "write of data-out {off}..{end} to LBA {lba}+{blocks}"
                    ))));
                    return;
                }
                t.pending.push(Pending::Write {
                    file_off: lba * bs,
                    off,
                    end,
                    issued: 0,
                    left: Rc::new(RefCell::new((0, None))),
                    reply,
                });
            }
            IoOp::Peek { off, len } => {
                if off + len > t.edtl as u64 || !t.write || len > MAX_RECV_DSL as u64 * 4 {
                    let _ =
                        reply.send(Err(IoError::Range(format!("peek of data-out {off}+{len}"))));
                    return;
                }
                t.pending.push(Pending::Peek { off, len, reply });
            }
            IoOp::Fill { off, data } => {
                let end = off + data.len() as u64;
                if end > (t.edtl as u64).min(MAX_XFER as u64) {
                    let _ =
                        reply.send(Err(IoError::Range(format!("fill of data-in {off}..{end}"))));
                    return;
                }
                let r = Self::din_pages(t, &mut self.pool, drv, off, end).and_then(|_| {
                    let mut at = off;
                    for chunk in data.chunks(page as usize) {
                        let mut pos = 0;
                        while pos < chunk.len() {
                            let pg = (at / page) as usize;
                            let in_pg = at % page;
                            let n = ((page - in_pg) as usize).min(chunk.len() - pos);
                            let addr = t.din[pg].unwrap_or(0) + in_pg;
                            drv.env
                                .mem
                                .write(buflet_platform::Agent::Cpu, addr, &chunk[pos..pos + n])
                                .map_err(|e| IoError::Gone(e.to_string()))?;
                            pos += n;
                            at += n as u64;
                        }
                    }
                    Ok(())
                });
                let _ = reply.send(r.map(|_| Vec::new()));
            }
            IoOp::Sync => {
                let _ = reply.send(Ok(Vec::new()));
            }
            IoOp::Release { off, len } => {
                // The pieces of [off, off + len) go back to the NIC; a piece that straddles
                // an edge keeps its part outside.
                let end = off.saturating_add(len);
                let hit: Vec<u64> = t
                    .segs
                    .range(..end)
                    .filter(|(&b, &(_, l))| b + l > off)
                    .map(|(&b, _)| b)
                    .collect();
                for b in hit {
                    let Some((s, l)) = t.segs.remove(&b) else {
                        continue;
                    };
                    let lo = off.max(b);
                    let hi = end.min(b + l);
                    if b < lo {
                        t.segs.insert(b, (s, lo - b));
                    }
                    if hi < b + l {
                        t.segs.insert(hi, (s + (hi - b), b + l - hi));
                    }
                    let _ = nas.discard(drv, s + (lo - b), hi - lo);
                }
                let _ = reply.send(Ok(Vec::new()));
            }
            IoOp::Read { lba, blocks, off } => {
                let end = off + span(blocks);
                if !in_medium(lba, blocks)
                    || end > (t.edtl as u64).min(MAX_XFER as u64)
                    || off % page != 0
                {
                    let _ = reply.send(Err(IoError::Range(format!(
                        "read of LBA {lba}+{blocks} into data-in {off}..{end}"
                    ))));
                    return;
                }
                // At the front of the data-in not yet sent, the read streams: chunks of blocks
                // go out as Data-In as soon as they are read in. In p2p (a hold socket) they
                // go to host buflets and leave from there; with a data digest the CPU reads
                // the data anyway, so host pages then.
                let dev = Self::dev_chunk(drv, nas, bs, self.params.data_digest);
                let pages = page.is_multiple_of(bs).then_some(PAGE_CHUNK / bs * bs);
                if let Some(chunk) = dev.or(pages).filter(|&c| c > 0 && off == t.din_sent) {
                    t.pending.push(Pending::StreamRead {
                        file_off: lba * bs,
                        off,
                        next: off,
                        end,
                        chunks: VecDeque::new(),
                        chunk,
                        dev: dev.is_some(),
                        failed: None,
                        reply,
                    });
                    self.serve(drv, nas, file, itt);
                    return;
                }
                if let Err(e) = Self::din_pages(t, &mut self.pool, drv, off, end) {
                    let _ = reply.send(Err(e));
                    return;
                }
                let din = t.din.clone();
                let src = |i: u64| {
                    let b = off + i * bs;
                    din[(b / page) as usize].unwrap_or(0) + b % page
                };
                let r = Self::blk_span(
                    drv,
                    file,
                    lba * bs,
                    bs,
                    u64::from(blocks),
                    false,
                    &src,
                    page,
                );
                match r {
                    Ok(cmds) => {
                        t.pending.push(Self::blk_wait(
                            &mut self.blk_tags,
                            itt,
                            cmds,
                            true,
                            None,
                            Vec::new(),
                            reply,
                        ));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(IoError::Read(e)));
                    }
                }
            }
            IoOp::ReadVec { lba, blocks } => {
                let n = u64::from(blocks);
                if !in_medium(lba, blocks) || n * bs > MAX_XFER as u64 {
                    let _ = reply.send(Err(IoError::Range(format!("read of LBA {lba}+{blocks}"))));
                    return;
                }
                let pages_n = (n * bs).div_ceil(page) as usize;
                let mut pages = Vec::with_capacity(pages_n);
                for _ in 0..pages_n {
                    match self.pool.take(drv) {
                        Ok(Some(p)) => pages.push(p),
                        _ => break,
                    }
                }
                if pages.len() < pages_n {
                    self.pool.give(pages);
                    let _ = reply.send(Err(IoError::Read("no pages for the compare data".into())));
                    return;
                }
                let src = |i: u64| {
                    let b = i * bs;
                    pages[(b / page) as usize] + b % page
                };
                match Self::blk_span(drv, file, lba * bs, bs, n, false, &src, page) {
                    Ok(cmds) => {
                        t.pending.push(Self::blk_wait(
                            &mut self.blk_tags,
                            itt,
                            cmds,
                            true,
                            Some((pages.clone(), n * bs)),
                            pages,
                            reply,
                        ));
                    }
                    Err(e) => {
                        self.pool.give(pages);
                        let _ = reply.send(Err(IoError::Read(e)));
                    }
                }
            }
            IoOp::WriteSame { lba, blocks, off } => {
                if !in_medium(lba, blocks) || off + bs > t.edtl as u64 || !t.write {
                    let _ = reply.send(Err(IoError::Range(format!(
                        "write-same of LBA {lba}+{blocks} from data-out {off}"
                    ))));
                    return;
                }
                t.pending.push(Pending::Same {
                    lba,
                    blocks,
                    src: Some(off),
                    reply,
                });
            }
            IoOp::Zeros { lba, blocks } => {
                if !in_medium(lba, blocks) {
                    let _ = reply.send(Err(IoError::Range(format!("zeros to LBA {lba}+{blocks}"))));
                    return;
                }
                t.pending.push(Pending::Same {
                    lba,
                    blocks,
                    src: None,
                    reply,
                });
            }
        }
        self.serve(drv, nas, file, itt);
    }

    /// Block commands issued for task `itt`: their `BLK_DONE`s routed to it, and the request
    /// that waits on them (`vec`: the pages and bytes a `ReadVec` answers with; `own`: pages
    /// that go back to the pool when it is over).
    #[allow(clippy::too_many_arguments)]
    fn blk_wait(
        tags: &mut HashMap<u32, u32>,
        itt: u32,
        cmds: Vec<BlkCmd>,
        read: bool,
        vec: Option<(Vec<u64>, u64)>,
        own: Vec<u64>,
        reply: Sender<Result<Vec<u8>, IoError>>,
    ) -> Pending {
        for c in &cmds {
            tags.insert(c.tag, itt);
        }
        Pending::Blk {
            cmds,
            failed: None,
            read,
            vec,
            own,
            reply,
        }
    }

    /// p2p reads: the bytes per chunk when a read of `bs`-byte blocks goes through host
    /// buflets: on a hold socket, without a data digest (the CPU would read the data for it),
    /// with host buflets set aside that tile blocks and hold at least two chunks of a block.
    fn dev_chunk(drv: &Driver, nas: &NasStream, bs: u64, data_digest: bool) -> Option<u64> {
        let bb = u64::from(drv.info.buflet_bytes);
        let host = drv.host_buflets() as u64 * bb;
        let tiles = bb > 0
            && bb % buflet_spec::param::DEV_ALIGN == 0
            && (bs.is_multiple_of(bb) || bb.is_multiple_of(bs));
        let chunk = DEV_CHUNK.min(host / STREAM_READS as u64) / bs * bs;
        (nas.hold && !data_digest && tiles && chunk > 0).then_some(chunk)
    }

    /// Data-in pages covering `[off, end)`.
    fn din_pages(
        t: &mut Task,
        pool: &mut PagePool,
        drv: &mut Driver,
        off: u64,
        end: u64,
    ) -> Result<(), IoError> {
        let page = pool.page();
        let last = end.div_ceil(page) as usize;
        if t.din.len() < last {
            t.din.resize(last, None);
        }
        for i in (off / page) as usize..last {
            if t.din[i].is_none() {
                match pool.take(drv) {
                    Ok(Some(p)) => t.din[i] = Some(p),
                    _ => return Err(IoError::Gone("no host pages for data-in".into())),
                }
            }
        }
        Ok(())
    }

    /// Block commands over `blocks` blocks from file offset `file_off`, host block `i` at
    /// `src(i)`, at most [`CMD_BYTES`] each.
    #[allow(clippy::too_many_arguments)]
    fn blk_span(
        drv: &mut Driver,
        file: &dyn FileMap,
        file_off: u64,
        bs: u64,
        blocks: u64,
        write: bool,
        src: &dyn Fn(u64) -> u64,
        page: u64,
    ) -> Result<Vec<BlkCmd>, String> {
        let per = (CMD_BYTES / bs).max(1);
        let mut cmds = Vec::new();
        let mut i = 0;
        while i < blocks {
            let n = per.min(blocks - i);
            let mut elems = Vec::with_capacity(n as usize);
            let mut bufs: Vec<(u64, u64)> = Vec::new();
            for k in i..i + n {
                let Some(disk) = file.disk_addr(file_off + k * bs) else {
                    return Err(format!(
                        "file offset {} is not on the disk",
                        file_off + k * bs
                    ));
                };
                let s = src(k);
                elems.push(buflet_spec::SgElem {
                    src_addr: s,
                    len: bs as u32,
                    flags: buflet_spec::SgFlags::empty(),
                    disk_addr: disk,
                    next: 0,
                });
                let pg = s - s % page;
                if !bufs.iter().any(|b| b.0 == pg) {
                    bufs.push((pg, page));
                }
            }
            let cmd = blk::issue(drv, &elems, write, &bufs).map_err(|e| e.to_string())?;
            cmds.push(cmd);
            i += n;
        }
        Ok(cmds)
    }

    /// CPU copy of data-out bytes `[off, off + out.len())`, if they are all in.
    fn copy_out(
        t: &Task,
        drv: &mut Driver,
        nas: &NasStream,
        off: u64,
        out: &mut [u8],
    ) -> Result<(), ()> {
        let end = off + out.len() as u64;
        // Every byte in first (on a p2p stream each read is MMIO through the NIC's window: a
        // range still arriving is not read again and again).
        let mut pieces = Vec::new();
        let mut pos = off;
        while pos < end {
            let (&b, &(s, l)) = t.segs.range(..=pos).next_back().ok_or(())?;
            if pos >= b + l {
                return Err(());
            }
            let n = (b + l - pos).min(end - pos);
            pieces.push((pos, s + (pos - b), n));
            pos += n;
        }
        for (pos, src, n) in pieces {
            let at = (pos - off) as usize;
            nas.peek(drv, src, &mut out[at..at + n as usize])
                .map_err(|_| ())?;
        }
        Ok(())
    }

    /// Serve what the task's pending requests can have now.
    fn serve(&mut self, drv: &mut Driver, nas: &mut NasStream, file: &dyn FileMap, itt: u32) {
        let Some(t) = self.tasks.get_mut(&itt) else {
            return;
        };
        if t.aborted {
            // An aborted command waits for nothing more: data-out still asked for is dropped
            // when it comes, and the logical unit's requests fail (`Gone`: their reply
            // channels go with them), so it completes and the task ends without an answer.
            let open: u64 = t.r2ts.iter().map(|r| r.2 - r.3).sum();
            self.solicited = self.solicited.saturating_sub(open);
            t.r2ts.clear();
            t.unsol_left = 0;
            t.solicit_next = t.edtl as u64;
            let keep_blk: Vec<Pending> = std::mem::take(&mut t.pending)
                .into_iter()
                .filter(|p| {
                    matches!(p, Pending::Blk { cmds, .. } if !cmds.is_empty())
                        || matches!(p, Pending::StreamRead { .. })
                        || matches!(p, Pending::Write { left, .. } if left.borrow().0 > 0)
                })
                .collect();
            // Block commands in flight finish first (their pages are still being written; a
            // streamed read sends nothing more and gives its pages and host buflets back;
            // a write issues nothing more and ends once the writes it issued are done), so
            // the task is gone, and the medium settled, before task management answers.
            t.pending = keep_blk;
        }
        let mut keep = Vec::new();
        let pending = std::mem::take(&mut t.pending);
        for mut p in pending {
            if let Pending::Same {
                lba,
                blocks,
                src,
                reply,
            } = &p
            {
                let bs = self.sh.block_size as u64;
                let mut block = vec![0u8; bs as usize];
                let got = match src {
                    Some(o) => Self::copy_out(t, drv, nas, *o, &mut block).is_ok(),
                    None => true,
                };
                if !got {
                    if t.data_settled() {
                        let _ = reply.send(Err(IoError::Gone(
                            "the initiator did not send the WRITE SAME block".into(),
                        )));
                    } else {
                        keep.push(p);
                    }
                    continue;
                }
                let page = self.pool.page();
                let issued = match self.pool.take(drv) {
                    Ok(Some(pg)) => match drv
                        .env
                        .mem
                        .write(buflet_platform::Agent::Cpu, pg, &block)
                        .map_err(|e| e.to_string())
                        .and_then(|_| {
                            Self::blk_span(
                                drv,
                                file,
                                lba * bs,
                                bs,
                                u64::from(*blocks),
                                true,
                                &|_| pg,
                                page,
                            )
                        }) {
                        Ok(cmds) => Ok((cmds, pg)),
                        Err(e) => {
                            self.pool.give([pg]);
                            Err(e)
                        }
                    },
                    _ => Err("no page for the write-same block".to_string()),
                };
                match issued {
                    Ok((cmds, pg)) => {
                        keep.push(Self::blk_wait(
                            &mut self.blk_tags,
                            itt,
                            cmds,
                            false,
                            None,
                            vec![pg],
                            reply.clone(),
                        ));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(IoError::Write(e)));
                    }
                }
                continue;
            }
            let over = match &mut p {
                Pending::Same { .. } => false,
                Pending::Write {
                    file_off,
                    off,
                    end,
                    issued,
                    left,
                    reply,
                } => {
                    // Hand the writer every data-out piece that is in, in order (nothing more
                    // once the task is aborted).
                    let mut err = None;
                    while *off + *issued < *end && err.is_none() && !t.aborted {
                        let pos = *off + *issued;
                        let Some((&b, &(s, l))) = t.segs.range(..=pos).next_back() else {
                            break;
                        };
                        if pos >= b + l {
                            break;
                        }
                        let mut n = (b + l - pos).min(*end - pos).min(crate::MAX_WRITE_BYTES);
                        // Whole blocks while more of the piece may come; a partial block only
                        // where the range ends or the data goes on in another PDU.
                        let bs = self.sh.block_size as u64;
                        let final_piece = pos + n == *end || t.segs.contains_key(&(b + l));
                        if pos + n < *end && !(final_piece && pos + n == b + l) {
                            let fpos = *file_off + *issued;
                            let fend = (fpos + n) / bs * bs;
                            if fend <= fpos {
                                break;
                            }
                            n = fend - fpos;
                        }
                        let lf = left.clone();
                        lf.borrow_mut().0 += 1;
                        let r = nas.write(
                            drv,
                            file,
                            *file_off + *issued,
                            s + (pos - b),
                            n,
                            Box::new(move |r| {
                                let mut g = lf.borrow_mut();
                                g.0 -= 1;
                                if let Err(e) = r {
                                    g.1.get_or_insert(e.to_string());
                                }
                            }),
                        );
                        match r {
                            Ok(_) => *issued += n,
                            Err(e) => {
                                left.borrow_mut().0 -= 1;
                                err = Some(e.to_string());
                            }
                        }
                    }
                    let g = left.borrow();
                    if let Some(e) = err.or_else(|| g.1.clone()).filter(|_| g.0 == 0) {
                        let _ = reply.send(Err(IoError::Write(e)));
                        true
                    } else if *off + *issued == *end && g.0 == 0 {
                        self.stats.write_bytes += *end - *off;
                        let _ = reply.send(Ok(Vec::new()));
                        true
                    } else if t.data_settled() && *off + *issued < *end && g.0 == 0 {
                        let _ = reply.send(Err(IoError::Gone(
                            "the initiator sent less data-out than the command needs".into(),
                        )));
                        true
                    } else {
                        false
                    }
                }
                Pending::Peek { off, len, reply } => {
                    let mut v = vec![0u8; *len as usize];
                    if Self::copy_out(t, drv, nas, *off, &mut v).is_ok() {
                        let _ = reply.send(Ok(v));
                        true
                    } else if t.data_settled() {
                        let _ = reply.send(Err(IoError::Gone(
                            "the initiator sent less data-out than the command needs".into(),
                        )));
                        true
                    } else {
                        false
                    }
                }
                Pending::StreamRead {
                    file_off,
                    off,
                    next,
                    end,
                    chunks,
                    chunk,
                    dev,
                    failed,
                    reply,
                } => {
                    let bs = self.sh.block_size as u64;
                    // A chunk's unit: a host buflet or a host page.
                    let unit = if *dev {
                        u64::from(drv.info.buflet_bytes)
                    } else {
                        self.pool.page()
                    };
                    // The chunks read in, in order, go out at once as Data-In PDUs.
                    while chunks.front().is_some_and(|c| c.cmd.is_none()) {
                        let Some(c) = chunks.pop_front() else {
                            break;
                        };
                        if failed.is_some() || t.aborted || self.closed {
                            drv.give_host_buflets(c.buflets);
                            self.pool.give(c.pages);
                            continue;
                        }
                        let mrdsl = u64::from(self.params.initiator_mrdsl.max(512));
                        let burst = u64::from(self.params.max_burst.max(512));
                        let max_cmd_sn = self.exp_cmd_sn.wrapping_add(CMD_WINDOW - 1);
                        let c_end = c.off + c.len;
                        let mut a = c.off;
                        while a < c_end {
                            // A sequence ends at a burst boundary and where this read ends.
                            let burst_end = ((a / burst + 1) * burst).min(*end);
                            let n = mrdsl.min(burst_end - a).min(c_end - a);
                            let hdr = glue::data_in(
                                t.lun,
                                itt,
                                self.stat_sn,
                                self.exp_cmd_sn,
                                max_cmd_sn,
                                t.data_sn,
                                a as u32,
                                n as u32,
                                a + n == burst_end,
                                None,
                            );
                            t.data_sn = t.data_sn.wrapping_add(1);
                            let r0 = a - c.off;
                            let b0 = (r0 / unit) as usize;
                            let b1 = (r0 + n).div_ceil(unit) as usize;
                            let first_off = r0 % unit;
                            // The chunk's buflets or pages go back with its last post.
                            let last = a + n == c_end;
                            let data = if *dev {
                                DinData::Buflets {
                                    list: c.buflets[b0..b1].to_vec(),
                                    own: if last { c.buflets.clone() } else { Vec::new() },
                                }
                            } else {
                                DinData::Pages {
                                    list: c.pages[b0..b1].to_vec(),
                                    own: if last { c.pages.clone() } else { Vec::new() },
                                    page: unit,
                                }
                            };
                            let out = (&mut self.tx, &mut self.stats);
                            queue_data_in(out, drv, &self.params, &hdr, first_off, n, data);
                            a += n;
                        }
                        t.din_sent = c_end;
                    }
                    // Read ahead while the host buflets (or the connection's pages) allow.
                    while failed.is_none()
                        && !t.aborted
                        && !self.closed
                        && *next < *end
                        && chunks.len() < STREAM_READS
                    {
                        let len = (*chunk).min(*end - *next);
                        let n_units = len.div_ceil(unit) as usize;
                        let (buflets, pages) = if *dev {
                            let Some(b) = drv.take_host_buflets(n_units) else {
                                break;
                            };
                            (b, Vec::new())
                        } else {
                            let mut pg = Vec::with_capacity(n_units);
                            while pg.len() < n_units {
                                match self.pool.take(drv) {
                                    Ok(Some(p)) => pg.push(p),
                                    _ => break,
                                }
                            }
                            if pg.len() < n_units {
                                self.pool.give(pg);
                                break;
                            }
                            (Vec::new(), pg)
                        };
                        // One element per block, or per buflet when a buflet is smaller.
                        let piece = unit.min(bs);
                        let mut elems = Vec::with_capacity((len / piece) as usize);
                        for x in (0..len).step_by(piece as usize) {
                            let fo = *file_off + (*next - *off) + x;
                            let Some(disk) = file.disk_addr(fo - fo % bs) else {
                                failed
                                    .get_or_insert(format!("file offset {fo} is not on the disk"));
                                break;
                            };
                            let i = (x / unit) as usize;
                            let (src_addr, flags) = if *dev {
                                (
                                    u64::from(buflets[i]) * unit + x % unit,
                                    buflet_spec::SgFlags::DEVMEM,
                                )
                            } else {
                                (pages[i] + x % unit, buflet_spec::SgFlags::empty())
                            };
                            elems.push(buflet_spec::SgElem {
                                src_addr,
                                len: piece as u32,
                                flags,
                                disk_addr: disk + fo % bs,
                                next: 0,
                            });
                        }
                        let bufs: Vec<(u64, u64)> = pages.iter().map(|&p| (p, unit)).collect();
                        let issued = if failed.is_some() {
                            None
                        } else {
                            match blk::issue(drv, &elems, false, &bufs) {
                                Ok(cmd) => Some(cmd),
                                Err(e) => {
                                    failed.get_or_insert(e.to_string());
                                    None
                                }
                            }
                        };
                        let Some(cmd) = issued else {
                            drv.give_host_buflets(buflets);
                            self.pool.give(pages);
                            break;
                        };
                        self.blk_tags.insert(cmd.tag, itt);
                        chunks.push_back(ReadChunk {
                            off: *next,
                            len,
                            pages,
                            buflets,
                            cmd: Some(cmd),
                        });
                        *next += len;
                    }
                    if chunks.is_empty() && (*next == *end || failed.is_some() || t.aborted) {
                        let r = match failed.take() {
                            Some(e) => Err(IoError::Read(e)),
                            None if t.aborted => {
                                Err(IoError::Gone("the command was aborted".into()))
                            }
                            None => Ok(Vec::new()),
                        };
                        let _ = reply.send(r);
                        true
                    } else {
                        false
                    }
                }
                Pending::Blk {
                    cmds,
                    failed,
                    read,
                    vec,
                    own,
                    reply,
                } => {
                    if cmds.is_empty() {
                        let r = match failed.take() {
                            Some(e) if *read => Err(IoError::Read(e)),
                            Some(e) => Err(IoError::Write(e)),
                            None => match vec.take() {
                                Some((pages, n)) => {
                                    let mut v = vec![0u8; n as usize];
                                    let page = self.pool.page() as usize;
                                    let mut ok = Ok(());
                                    for (i, chunk) in v.chunks_mut(page).enumerate() {
                                        if let Err(e) = drv.env.mem.read(
                                            buflet_platform::Agent::Cpu,
                                            pages[i],
                                            chunk,
                                        ) {
                                            ok = Err(IoError::Read(e.to_string()));
                                            break;
                                        }
                                    }
                                    ok.map(|_| v)
                                }
                                None => Ok(Vec::new()),
                            },
                        };
                        self.pool.give(std::mem::take(own));
                        let _ = reply.send(r);
                        true
                    } else {
                        false
                    }
                }
            };
            if !over {
                keep.push(p);
            }
        }
        t.pending.extend(keep);
        if t.done.is_none() && !t.digest_failed {
            let mut tt = self.tasks.remove(&itt);
            if let Some(t) = tt.as_mut() {
                self.solicit(t);
            }
            if let Some(t) = tt {
                self.tasks.insert(itt, t);
            }
        }
    }

    /// The logical unit finished a command of this connection: its data-out goes back to the
    /// NIC now (writes still in flight keep their bytes until they end).
    pub fn on_done(&mut self, nas: &mut NasStream, drv: &mut Driver, pkt: EmuPacket) {
        if self.sh.trace {
            eprintln!(
                "{:.3} iscsi {}: done tag {} status {:#x} sense {:?} data_in {}",
                self.sh.t0.elapsed().as_secs_f64() * 1e3,
                self.id,
                pkt.tag(),
                pkt.status(),
                pkt.sense_triplet(),
                pkt.data_in_len()
            );
        }
        let Some(itt) = self.by_tag.get(&pkt.tag()).copied() else {
            return;
        };
        if let Some(t) = self.tasks.get_mut(&itt) {
            t.done = Some(pkt);
            // No more data is solicited: what was asked for still comes and is dropped.
            t.solicit_next = t.edtl as u64;
            for (_, (s, l)) in std::mem::take(&mut t.segs) {
                let _ = nas.discard(drv, s, l);
            }
        }
    }

    /// Answer a task whose logical-unit work is over and whose data-out has all come.
    fn try_finish(&mut self, drv: &mut Driver, itt: u32) {
        let ready = self
            .tasks
            .get(&itt)
            .is_some_and(|t| t.done.is_some() && t.data_settled() && t.pending.is_empty());
        if !ready {
            return;
        }
        let Some(t) = self.tasks.remove(&itt) else {
            return;
        };
        self.by_tag.remove(&t.tag);
        let Some(pkt) = t.done else {
            return;
        };
        if t.aborted || self.closed {
            self.pool.give(t.din.into_iter().flatten());
            self.stats.aborted += 1;
            return;
        }
        let mut status = pkt.status();
        let mut sense = pkt.sense().to_vec();
        if t.digest_failed && status == status::GOOD {
            // ABORTED COMMAND, SCSI PARITY ERROR / protocol service CRC error.
            status = status::CHECK_CONDITION;
            sense = glue::fixed_sense(0xB, 0x47, 0x05);
        }
        let r2t_count = t.r2t_sn;
        // What the logical unit says it produced, but never past the pages it filled (after
        // what p2p reads already sent from host buflets).
        let page = self.pool.page();
        let first = (t.din_sent / page) as usize;
        let filled = if t.din.len() > first {
            let n = t.din[first..]
                .iter()
                .position(Option::is_none)
                .unwrap_or(t.din.len() - first);
            (first + n) as u64 * page
        } else {
            t.din_sent
        };
        let filled = filled.max(t.din_sent);
        let produced = u64::from(pkt.data_in_len()).min(t.edtl as u64).min(filled);
        let (under, over, residual) = glue::residual(&pkt, t.edtl, produced, t.write);
        let sense_ok = status == status::GOOD && sense.is_empty();
        // Data-in PDUs, by reference from the pages the data is in.
        let mrdsl = u64::from(self.params.initiator_mrdsl.max(512));
        let streamed = t.din_sent;
        let mut off = streamed;
        let mut data_sn = t.data_sn;
        let mut owned_upto = 0usize;
        let din = t.din;
        let burst = u64::from(self.params.max_burst.max(512));
        while off < produced {
            let burst_end = ((off / burst + 1) * burst).min(produced);
            let n = mrdsl.min(burst_end - off);
            let last = off + n == produced;
            let fin = off + n == burst_end;
            let with_status = last && sense_ok;
            let sn = if with_status {
                self.next_stat_sn()
            } else {
                self.stat_sn
            };
            let hdr = glue::data_in(
                t.lun,
                itt,
                sn,
                self.exp_cmd_sn,
                self.max_cmd_sn(),
                data_sn,
                off as u32,
                n as u32,
                fin,
                with_status.then_some((status, under, over, residual)),
            );
            data_sn += 1;
            let p0 = (off / page) as usize;
            let p1 = (off + n).div_ceil(page) as usize;
            let list: Vec<u64> = din[p0..p1].iter().map(|p| p.unwrap_or(0)).collect();
            // Each page goes back with the post that reads its last byte.
            let full_end = if last {
                p1
            } else {
                ((off + n) / page) as usize
            };
            let own_from = owned_upto.max(p0);
            let own: Vec<u64> = (own_from..full_end).filter_map(|i| din[i]).collect();
            owned_upto = owned_upto.max(full_end);
            let data = DinData::Pages { list, own, page };
            let out = (&mut self.tx, &mut self.stats);
            queue_data_in(out, drv, &self.params, &hdr, off % page, n, data);
            off += n;
        }
        self.pool
            .give(din.iter().skip(owned_upto).flatten().copied());
        // The status goes alone when the data went before it (all streamed from host buflets).
        if !sense_ok || produced == 0 || streamed >= produced {
            let sn = self.next_stat_sn();
            let hdr = glue::scsi_response(
                itt,
                status,
                sn,
                self.exp_cmd_sn,
                self.max_cmd_sn(),
                // ExpDataSN: the R2Ts and Data-Ins of the command (RFC 7143 11.4.8).
                data_sn.wrapping_add(r2t_count),
                under,
                over,
                residual,
                sense.len(),
            );
            let seg = if sense.is_empty() {
                Vec::new()
            } else {
                let mut s = (sense.len() as u16).to_be_bytes().to_vec();
                s.extend_from_slice(&sense);
                s
            };
            self.send_pdu(hdr, &seg);
        }
        self.stats.responses += 1;
        if status != status::GOOD {
            self.stats.check_conditions += 1;
        }
    }
}

/// Where a Data-In PDU's data is sent from: host pages (`page` bytes each) or host buflets,
/// with those that go back once the post is over (`own`).
enum DinData {
    Pages {
        list: Vec<u64>,
        own: Vec<u64>,
        page: u64,
    },
    Buflets {
        list: Vec<u16>,
        own: Vec<u16>,
    },
}

/// Queue one Data-In PDU: its header `hdr`, its `n` data bytes by reference (starting
/// `first_off` bytes into the first entry of `data`), then its data digest or its padding. A
/// data digest is made from host pages (the CPU reads them); reads through host buflets are
/// never streamed with one ([`IscsiApp::dev_chunk`]).
fn queue_data_in(
    (tx, stats): (&mut PduTx, &mut IscsiStats),
    drv: &mut Driver,
    params: &glue::Params,
    hdr: &[u8; 48],
    first_off: u64,
    n: u64,
    data: DinData,
) {
    tx.bytes(glue::header_only(hdr, params.header_digest), false);
    let digest = match data {
        DinData::Pages { list, own, page } => {
            let digest = params.data_digest.then(|| {
                stats.digest_bytes_read += n;
                glue::pad_and_digest(&gather(drv, &list, first_off, n, page))
            });
            tx.pages(list, first_off as u16, n as u32, own, digest.is_none());
            digest
        }
        DinData::Buflets { list, own } => {
            stats.dev_read_bytes += n;
            tx.buflets(list, first_off as u16, n as u32, own, true);
            None
        }
    };
    match digest {
        Some(d) => tx.bytes(d, true),
        None if !n.is_multiple_of(4) => tx.bytes(vec![0u8; (4 - n % 4) as usize], true),
        None => {}
    }
    stats.pdus_out += 1;
    stats.read_bytes += n;
}

/// The CPU's copy of `n` data-in bytes that start `first` bytes into the first of `pages`
/// (`page` bytes each), to make their data digest.
fn gather(drv: &mut Driver, pages: &[u64], first: u64, n: u64, page: u64) -> Vec<u8> {
    let mut buf = vec![0u8; n as usize];
    let mut at = 0usize;
    for (k, &pg) in pages.iter().enumerate() {
        if at >= buf.len() {
            break;
        }
        let s = if k == 0 { first } else { 0 };
        let m = ((page - s) as usize).min(buf.len() - at);
        let _ = drv
            .env
            .mem
            .read(buflet_platform::Agent::Cpu, pg + s, &mut buf[at..at + m]);
        at += m;
    }
    buf
}
