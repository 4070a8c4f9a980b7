//! The applications that feed the NAS writer as data arrives: the raw stream ([`DiskPump`]: the
//! whole stream is the file), SMB2 WRITE requests ([`Smb2App`]) and BFW1 records ([`FramedApp`]),
//! the last two one [`RecordApp`] each, over their own [`RecordProtocol`], writing through one
//! [`PieceWriter`].

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use crate::framed::Kind;
use crate::{ExtentFile, FileMap, NasStream, WriteError};
use buflet_driver::Driver;

/// Block writes the driver keeps outstanding: below the block engine's command FIFO depth (4), so
/// a block write never holds up the named-buffer posts behind it on the request ring.
pub const BLK_QUEUE_DEPTH: usize = 3;

/// Issues zero-copy block writes of the received stream, `chunk` bytes at a time (the tail at
/// EOF), as data comes in, stream offset = file offset. A failed write is recorded in `failure`
/// by its completion callback. The file is any [`FileMap`]: one extent of a raw disk, or a file
/// of a real file system (`buflet_fs::FsFile`).
pub struct DiskPump<F: FileMap = ExtentFile> {
    pub file: F,
    pub chunk: u64,
    /// Stream bytes handed to block writes so far.
    pub issued: u64,
    pub failure: Rc<RefCell<Option<String>>>,
}

impl<F: FileMap> DiskPump<F> {
    pub fn new(file: F, chunk: u64) -> Self {
        DiskPump {
            file,
            chunk,
            issued: 0,
            failure: Rc::new(RefCell::new(None)),
        }
    }

    /// The first block-write failure reported so far.
    pub fn failed(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Issue the block writes the received data allows, within the queue depth.
    pub fn pump(&mut self, drv: &mut Driver, nas: &mut NasStream) -> Result<(), WriteError> {
        let received = nas.received();
        let target = received.min(nas.eof.unwrap_or(u64::MAX));
        while self.issued < target && nas.writes_in_flight() < BLK_QUEUE_DEPTH {
            let avail = target - self.issued;
            // With every named buffer returned and held (partly filled ones come back on
            // timeout), the NIC has nowhere to put more data: waiting for a whole chunk would
            // deadlock, so what arrived is written now (its partial last block by
            // read-modify-write).
            let starved = nas.posted_count() == 0 && nas.writes_in_flight() == 0;
            let n = if (nas.eof == Some(received) || starved) && avail <= self.chunk {
                avail
            } else if avail >= self.chunk {
                self.chunk
            } else {
                break;
            };
            let fail = self.failure.clone();
            nas.write(
                drv,
                &self.file,
                self.issued,
                self.issued,
                n,
                Box::new(move |r| {
                    if let Err(e) = r {
                        *fail.borrow_mut() = Some(e.to_string());
                    }
                }),
            )?;
            self.issued += n;
        }
        Ok(())
    }
}

/// An application that reads records out of the stream, one header after another, and writes
/// each record's data at its file offset through one [`PieceWriter`]: the machinery SMB2
/// ([`Smb2App`]) and BFW1 ([`FramedApp`]) share, so that each protocol only says how it parses
/// its headers and what an early end of the stream means ([`RecordProtocol`]).
pub struct RecordApp<P> {
    /// Stream offset of the next record's header.
    pub next: u64,
    /// Record data still to hand to the writer, and the writes' outcome.
    w: PieceWriter,
    /// Highest file offset + 1 a record with data reaches: the file's length.
    pub file_len: u64,
    /// Why the rest of the stream is not served (SMB2: an unsupported session; BFW1: a bad
    /// record or a stream cut inside one): nothing after that point is written, the rest of
    /// the stream is read and discarded.
    pub refused: Option<String>,
    /// The protocol's own parser state and counters.
    pub proto: P,
    /// The last queued request: (stream offset, stream end, file offset, `file_len` before
    /// it), to shorten the file when the stream cuts that request ([`RecordApp::cut_at`]).
    last: Option<(u64, u64, u64, u64)>,
}

/// What a [`RecordApp`] leaves to its protocol: parsing the headers that arrived and judging
/// a stream that ends early. Both work on the whole application, so that they reach the shared
/// state (`next`, `refused`, the queued data) and the protocol's own (`proto`) at once.
pub trait RecordProtocol: Default + Sized {
    /// Parse the headers that arrived from `app.next` on, queue each record's data
    /// ([`RecordApp::queue`]) and move `app.next` past it; stop at the first incomplete header,
    /// or with `app.refused` set.
    fn parse(app: &mut RecordApp<Self>, drv: &mut Driver, nas: &mut NasStream);

    /// The stream ends at `eof` (called on every pump once that is known, after `parse`):
    /// report a stream that ends inside a record.
    fn at_eof(app: &mut RecordApp<Self>, eof: u64);
}

impl<P: RecordProtocol> RecordApp<P> {
    /// An application that writes in pieces of at most `chunk` bytes (a multiple of the block
    /// size).
    pub fn new(chunk: u64) -> Self {
        RecordApp {
            next: 0,
            w: PieceWriter::new(chunk),
            file_len: 0,
            refused: None,
            proto: P::default(),
            last: None,
        }
    }

    /// The first failure so far: a failed write, or (SMB2) a malformed stream.
    pub fn failed(&self) -> Option<String> {
        self.w.failed()
    }

    /// File bytes on disk so far.
    pub fn written(&self) -> u64 {
        self.w.written()
    }

    /// Requests (records with data, and empty ones queued with [`RecordApp::queue_empty`])
    /// now durable on the block device, and reads whose turn came ([`RecordApp::queue_read`]),
    /// in order: what a BFW1 `WRITE_ACK` reports, and the `READ`s that may now be served.
    /// Each is reported once.
    pub fn take_durable(&mut self) -> Vec<Durable> {
        self.w.take_durable()
    }

    /// A request of no data at `file_off`, acknowledged in its turn.
    pub fn queue_empty(&mut self, file_off: u64) {
        self.w.push_marker(Kind::Write, 0, file_off);
    }

    /// A read of `len` file bytes at `file_off`: reported by [`RecordApp::take_durable`] once
    /// every request before it is durable (a read sees every earlier write).
    pub fn queue_read(&mut self, len: u64, file_off: u64) {
        self.w.push_marker(Kind::Read, len, file_off);
    }

    /// Every record up to the end of the stream (or up to the point the stream was refused) is
    /// parsed and its data written, with no write in flight.
    pub fn done(&self, nas: &NasStream) -> bool {
        self.w.done(nas, self.parsed())
    }

    /// Stream offset below which no header is needed any more: the next record's, or the end
    /// of everything once the stream is refused (the rest is read and discarded).
    fn parsed(&self) -> u64 {
        if self.refused.is_some() {
            u64::MAX
        } else {
            self.next
        }
    }

    /// Queue `len` (> 0) data bytes at stream offset `stream_off` for file offset `file_off`,
    /// and grow the file's length to cover them. A range that ends past the 64-bit offset
    /// space refuses the stream instead (`false`): nothing of it or after it is written.
    pub fn queue(&mut self, stream_off: u64, len: u64, file_off: u64) -> bool {
        let Some(end) = file_off.checked_add(len) else {
            self.refused = Some(format!(
                "a write of {len} bytes at file offset {file_off} (stream offset {stream_off}) ends past the 64-bit offset space: nothing more is written"
            ));
            return false;
        };
        self.last = Some((
            stream_off,
            stream_off.saturating_add(len),
            file_off,
            self.file_len,
        ));
        self.file_len = self.file_len.max(end);
        self.w.push(stream_off, len, file_off);
        true
    }

    /// The stream ends at `eof`: requests are cut there (what arrived of them is written), and
    /// the file is as long as what arrived makes it, not as the cut request declared.
    pub fn cut_at(&mut self, eof: u64) {
        self.w.cut_at(eof);
        if let Some((s, e, f, before)) = self.last {
            if e > eof {
                let arrived = eof.saturating_sub(s);
                self.file_len = if arrived > 0 {
                    before.max(f + arrived)
                } else {
                    before
                };
            }
        }
    }

    /// Parse what arrived, issue the writes it allows, and tell the stream which bytes the
    /// application no longer needs.
    pub fn pump(
        &mut self,
        drv: &mut Driver,
        nas: &mut NasStream,
        file: &dyn FileMap,
    ) -> Result<(), WriteError> {
        P::parse(self, drv, nas);
        if let Some(eof) = nas.eof {
            P::at_eof(self, eof);
        }
        self.w.issue(drv, nas, file, self.parsed())
    }
}

/// The NAS application's SMB2 side (port 445): it parses NetBIOS session messages and SMB2
/// headers out of the named buffers (the CPU reads header bytes only), skips every command but
/// WRITE requests, and writes each WRITE's data at its file offset as it arrives, in pieces that
/// end on file-block boundaries (a WRITE's first and last pieces may be partial blocks: the
/// writer's read-modify-write). An encrypted (TRANSFORM) or compressed session is reported as
/// unsupported (in `refused`) and nothing of it is written.
pub type Smb2App = RecordApp<Smb2>;

/// SMB2's part of [`Smb2App`]: its parser state and counters.
#[derive(Debug, Default)]
pub struct Smb2 {
    /// WRITE requests found.
    pub writes: u64,
    /// NetBIOS messages parsed.
    pub messages: u64,
    /// SMB2 commands other than WRITE requests, skipped.
    pub skipped: u64,
    /// Bytes received at the last parse attempt that found no complete header: the header
    /// bytes are not read again until more arrive.
    waiting_at: Option<(u64, bool)>,
    /// FileId of the file the WRITEs go to: one file per connection.
    file_id: Option<(u64, u64)>,
}

impl RecordProtocol for Smb2 {
    fn parse(app: &mut Smb2App, drv: &mut Driver, nas: &mut NasStream) {
        use crate::smb2::{parse_head, MsgKind};
        while app.refused.is_none() && app.w.failed().is_none() {
            let received = nas.received();
            if app.proto.waiting_at == Some((received, nas.eof.is_some())) {
                break;
            }
            let mut read = |off: u64, buf: &mut [u8]| nas.peek(drv, off, buf).is_ok();
            let m = match parse_head(app.next, received, &mut read) {
                Ok(Some(m)) => m,
                Ok(None) => {
                    app.proto.waiting_at = Some((received, nas.eof.is_some()));
                    if nas.eof.is_some_and(|e| received >= e && app.next < e) {
                        app.w.fail(format!(
                            "SMB2: the stream ends inside the message at stream offset {} (it ends at {received})",
                            app.next
                        ));
                    }
                    break;
                }
                Err(e) => {
                    app.w.fail(format!("SMB2: {e}"));
                    break;
                }
            };
            app.proto.messages += 1;
            match m.kind {
                MsgKind::Encrypted | MsgKind::Compressed => {
                    let what = if m.kind == MsgKind::Encrypted {
                        "an encrypted SMB2 session (TRANSFORM header)"
                    } else {
                        "a compressed SMB2 message (COMPRESSION_TRANSFORM header)"
                    };
                    app.refused = Some(format!(
                        "{what} at stream offset {} is not supported: nothing of it is written",
                        m.start
                    ));
                    break;
                }
                MsgKind::NetbiosControl | MsgKind::Smb1 => {}
                MsgKind::Smb2 => {
                    for c in &m.commands {
                        if let Some(w) = c.write {
                            if *app.proto.file_id.get_or_insert(w.file_id) != w.file_id {
                                app.refused = Some(format!(
                                    "a WRITE at stream offset {} to a second file (FileId {:x?}, the first was {:x?}) is not supported: one file per connection, nothing more is written",
                                    c.off, w.file_id, app.proto.file_id
                                ));
                                break;
                            }
                        }
                        match c.write {
                            Some(w) if w.len > 0 => {
                                app.proto.writes += 1;
                                if !app.queue(w.stream_off, w.len as u64, w.file_off) {
                                    break;
                                }
                            }
                            Some(_) => app.proto.writes += 1,
                            None => app.proto.skipped += 1,
                        }
                    }
                    if app.refused.is_some() {
                        break;
                    }
                }
            }
            app.next = m.end;
        }
    }

    /// A message cut by the end of the stream is a malformed stream: the run fails.
    fn at_eof(app: &mut Smb2App, eof: u64) {
        let past = app.w.back_end().map_or(app.next, |e| e.max(app.next));
        if app.refused.is_none() && past > eof {
            app.w.fail(format!(
                "SMB2: the stream ends at {eof}, inside the message that ends at {past}"
            ));
        }
    }
}

/// Data of write requests not yet handed to the NAS writer, in stream order, and what became
/// of the writes: the part the SMB2 and BFW1 applications share. Requests are issued strictly
/// in stream order (the writer serializes writes that share a disk block in submission order,
/// so a later request's bytes replace an earlier one's), each as it arrives, in pieces of at
/// most `chunk` bytes that end on file-block boundaries (a request's first and last pieces may
/// be partial blocks: the writer's read-modify-write).
pub struct PieceWriter {
    pieces: VecDeque<Piece>,
    /// Bytes per write (a multiple of the block size).
    chunk: u64,
    /// File bytes confirmed written by the writes' callbacks.
    written_bytes: Rc<RefCell<u64>>,
    /// The first write failure, or a malformed stream: nothing more is issued.
    failure: Rc<RefCell<Option<String>>>,
    /// Requests whose durability the client may be told of (BFW1 `WRITE_ACK`), in order.
    acks: VecDeque<AckRec>,
    /// Block writes in flight per request id.
    in_flight: Rc<RefCell<HashMap<u64, u32>>>,
    /// The id the next request gets.
    next_id: u64,
}

/// A request whose turn came ([`PieceWriter::take_durable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durable {
    /// `WRITE`: durable now; `READ`: every request before it is durable.
    pub kind: Kind,
    /// Bytes written, or asked for.
    pub len: u64,
    /// File offset.
    pub file_off: u64,
}

/// A request on its way to being durable.
#[derive(Debug, Clone, Copy)]
struct AckRec {
    id: u64,
    /// `WRITE` (acknowledged when durable) or `READ` (served when its turn comes).
    kind: Kind,
    len: u64,
    file_off: u64,
    /// Every byte of it is handed to the writer.
    issued: bool,
}

/// One request's data not yet handed to the writer.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Next stream byte to write.
    pos: u64,
    /// Stream offset just past the data.
    end: u64,
    /// File offset of `pos`.
    file_pos: u64,
    /// The request it belongs to.
    id: u64,
}

impl PieceWriter {
    pub fn new(chunk: u64) -> Self {
        PieceWriter {
            pieces: VecDeque::new(),
            chunk,
            written_bytes: Rc::new(RefCell::new(0)),
            failure: Rc::new(RefCell::new(None)),
            acks: VecDeque::new(),
            in_flight: Rc::new(RefCell::new(HashMap::new())),
            next_id: 0,
        }
    }

    /// Requests now durable, in order: every block write of each one has completed, and of
    /// every request before it. Each is reported once.
    pub fn take_durable(&mut self) -> Vec<Durable> {
        let mut out = Vec::new();
        if self.failure.borrow().is_some() {
            return out;
        }
        let inf = self.in_flight.borrow();
        while let Some(a) = self.acks.front() {
            if !a.issued || inf.get(&a.id).copied().unwrap_or(0) != 0 {
                break;
            }
            out.push(Durable {
                kind: a.kind,
                len: a.len,
                file_off: a.file_off,
            });
            self.acks.pop_front();
        }
        out
    }

    /// A request that writes nothing (an empty `WRITE`, a `READ`): reported once every
    /// request before it is durable.
    pub fn push_marker(&mut self, kind: Kind, len: u64, file_off: u64) {
        let id = self.next_id;
        self.next_id += 1;
        self.acks.push_back(AckRec {
            id,
            kind,
            len,
            file_off,
            issued: true,
        });
    }

    /// Queue `len` (> 0) stream bytes from `stream_off`, for file offset `file_off`.
    pub fn push(&mut self, stream_off: u64, len: u64, file_off: u64) {
        let id = self.next_id;
        self.next_id += 1;
        self.pieces.push_back(Piece {
            pos: stream_off,
            end: stream_off + len,
            file_pos: file_off,
            id,
        });
        self.acks.push_back(AckRec {
            id,
            kind: Kind::Write,
            len,
            file_off,
            issued: false,
        });
    }

    /// Record the first failure (later ones are dropped).
    pub fn fail(&self, msg: String) {
        self.failure.borrow_mut().get_or_insert(msg);
    }

    /// The first failure so far.
    pub fn failed(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// File bytes on disk so far.
    pub fn written(&self) -> u64 {
        *self.written_bytes.borrow()
    }

    /// The application parsed the stream up to `parsed` (`u64::MAX` once it stopped reading
    /// it), past its end, and every queued request is written, with no write in flight.
    pub fn done(&self, nas: &NasStream, parsed: u64) -> bool {
        nas.eof.is_some_and(|e| parsed >= e)
            && self.pieces.is_empty()
            && nas.writes_in_flight() == 0
    }

    /// Stream offset just past the last queued request.
    pub fn back_end(&self) -> Option<u64> {
        self.pieces.back().map(|p| p.end)
    }

    /// The stream ends at `eof`: requests are cut there (what arrived of them is written).
    fn cut_at(&mut self, eof: u64) {
        // A request the end of the stream cuts is never durable as asked: no acknowledgement
        // for it or after it.
        let cut: Vec<u64> = self
            .pieces
            .iter()
            .filter(|p| p.end > eof)
            .map(|p| p.id)
            .collect();
        if let Some(&first) = cut.first() {
            self.acks.retain(|a| a.id < first);
        }
        self.pieces.retain_mut(|p| {
            p.end = p.end.min(eof);
            p.pos < p.end
        });
    }

    /// Hand the writer what the received data allows, within the queue depth, in order; then
    /// tell the stream which bytes the application no longer needs: those below the first byte
    /// still to write and below `parsed`, where the application's next header starts
    /// (`u64::MAX` once it stopped reading the stream: the rest is read and discarded). Writes
    /// in flight keep their bytes until they finish.
    pub fn issue(
        &mut self,
        drv: &mut Driver,
        nas: &mut NasStream,
        file: &dyn FileMap,
        parsed: u64,
    ) -> Result<(), WriteError> {
        let block = drv.info.block_bytes as u64;
        let received = nas.received();
        while nas.writes_in_flight() < BLK_QUEUE_DEPTH && self.failure.borrow().is_none() {
            let Some(p) = self.pieces.front_mut() else {
                break;
            };
            let have = received.min(p.end);
            if have <= p.pos {
                break;
            }
            let mut n = have - p.pos;
            // The rest of the WRITE goes in one piece when it is all here and fits a chunk;
            // otherwise at most a chunk, ending on a file-block boundary.
            if have < p.end || n > self.chunk {
                let lim = n.min(self.chunk);
                let end_file = (p.file_pos + lim) / block * block;
                if end_file > p.file_pos {
                    n = end_file - p.file_pos;
                } else if have < p.end {
                    break;
                } else {
                    n = lim;
                }
            }
            let fail = self.failure.clone();
            let done = self.written_bytes.clone();
            let inf = self.in_flight.clone();
            let id = p.id;
            *inf.borrow_mut().entry(id).or_insert(0) += 1;
            let range = (p.file_pos, p.file_pos + n);
            nas.write(
                drv,
                file,
                p.file_pos,
                p.pos,
                n,
                Box::new(move |r| match r {
                    Ok(_) => {
                        *done.borrow_mut() += range.1 - range.0;
                        if let Some(k) = inf.borrow_mut().get_mut(&id) {
                            *k -= 1;
                        }
                    }
                    Err(e) => {
                        fail.borrow_mut().get_or_insert(format!(
                            "block write of file bytes {}..{} failed: {e}",
                            range.0, range.1
                        ));
                    }
                }),
            )?;
            p.pos += n;
            p.file_pos += n;
            if p.pos == p.end {
                if let Some(a) = self.acks.iter_mut().find(|a| a.id == p.id) {
                    a.issued = true;
                }
                self.pieces.pop_front();
            }
        }
        let keep = self.pieces.front().map_or(parsed, |p| p.pos.min(parsed));
        nas.consume(drv, keep.min(nas.received()))?;
        Ok(())
    }
}

/// The NAS application's side of Buflet's framed write protocol (BFW1, `crate::framed`):
/// it reads only the 24-byte record headers out of the named buffers and writes each record's
/// data at its file offset, zero-copy, as it arrives (in record order, so an overlapping later
/// record replaces an earlier one's bytes). A bad header (wrong magic, reserved bytes set,
/// length or file range over the protocol's bounds) or a stream that ends inside a record stops
/// it: nothing of or after the bad record is written (what arrived of a cut record is), the
/// rest of the stream is read and discarded so the connection still closes cleanly, and the
/// reason is kept in `refused` (the run then fails).
pub type FramedApp = RecordApp<Bfw1>;

/// BFW1's part of [`FramedApp`]: its counters.
#[derive(Debug, Default)]
pub struct Bfw1 {
    /// Valid records found (and written, on a good stream).
    pub records: u64,
    /// Data bytes of those records.
    pub record_bytes: u64,
}

impl RecordProtocol for Bfw1 {
    fn parse(app: &mut FramedApp, drv: &mut Driver, nas: &mut NasStream) {
        use crate::framed::{parse, HDR};
        while app.refused.is_none() {
            let received = nas.received();
            if app.next + HDR > received {
                if let Some(e) = nas.eof.filter(|&e| received >= e && app.next < e) {
                    app.refused = Some(format!(
                        "BFW1: the stream ends at {e}, inside the record header at stream offset {}: nothing of it is written",
                        app.next
                    ));
                }
                break;
            }
            let mut h = [0u8; HDR as usize];
            if nas.peek(drv, app.next, &mut h).is_err() {
                break;
            }
            match parse(app.next, &h) {
                Ok(r) if !r.kind.from_client() => {
                    app.refused = Some(format!(
                        "BFW1 record at stream offset {}: a {:?} record comes from a server, not a client: the run stops there",
                        r.start, r.kind
                    ));
                }
                Ok(r) if r.kind == crate::framed::Kind::Read => {
                    app.queue_read(u64::from(r.len), r.file_off);
                    app.next = r.end();
                }
                Ok(r) => {
                    app.proto.records += 1;
                    app.proto.record_bytes += r.len as u64;
                    if r.len > 0 {
                        // BFW1 headers bound the range (framed::MAX_FILE_END): it fits.
                        app.queue(r.stream_off, r.len as u64, r.file_off);
                    } else {
                        app.queue_empty(r.file_off);
                    }
                    app.next = r.end();
                }
                Err(e) => {
                    app.refused = Some(format!(
                        "{e}: the run stops there, nothing of it or after it is written"
                    ));
                }
            }
        }
    }

    /// A record cut by the end of the stream refuses the stream; what arrived of it is still
    /// written.
    fn at_eof(app: &mut FramedApp, eof: u64) {
        if app.refused.is_none() && app.next > eof {
            app.refused = Some(format!(
                "BFW1: the stream ends at {eof}, inside the record whose data ends at {}: only the data that arrived is written",
                app.next
            ));
        }
        app.cut_at(eof);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WRITE whose range runs past 2^64 refuses the stream instead of wrapping (issue 11,
    /// item 2: `file_off + len` overflowed).
    #[test]
    fn a_range_past_the_offset_space_refuses_the_stream() {
        let mut a = Smb2App::new(65536);
        assert!(a.queue(100, 16, 4096));
        assert_eq!(a.file_len, 4112);
        assert!(!a.queue(200, 16, u64::MAX - 15));
        assert!(a.refused.as_deref().unwrap_or("").contains("64-bit"));
        assert_eq!(a.file_len, 4112);
    }
}
