//! The NAS server for many connections: a listen slot, the accept pool kept topped up, one
//! [`NasServer`] per accepted connection, every completion dispatched to the connection it
//! belongs to, and each connection ended (SOCK_DEL, its slot back to the pool) once its stream
//! is finished and written.
//!
//! Like [`NasServer`], a [`MultiServer`] is turned one step at a time by whoever owns the clock
//! ([`MultiServer::poll`]): a simulation testbench, or a live server's own loop on another
//! thread. Each connection's stream is its own file, from a caller-supplied allocator
//! ([`FileAlloc`]): the raw protocol writes the stream at offset 0 of that file, BFW1 and SMB2
//! each connection's own session into it.
//!
//! Dispatch costs no scan of the connections: `NB_RETURN`, `TX_DONE` and socket `CMD_DONE`s
//! go by their socket, `BLK_DONE`s and the p2p releases' `CMD_DONE`s by their tag (each
//! connection's requests in flight are registered by tag after every step it takes,
//! [`NasServer::pending_tags`]).

use crate::server::{AppKind, NasServer, ServeError, ServerConfig};
use crate::{FileMap, WriteStats};
use buflet_driver::{Accepted, Completion, CplKind, DeviceInfo, Driver, ListenSpec, SocketSpec};
use buflet_spec::Status;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::Ipv4Addr;

/// Host bytes of named-buffer pages a [`MultiServer`] plans for all its connections together
/// by default (the pages per buffer shrink to fit).
pub const DEFAULT_NB_MEMORY: u64 = 64 << 20;

/// Who a connection is, as the file allocator and the summaries see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId {
    /// The socket slot.
    pub sock: u16,
    /// The peer's IPv4 address, wire order.
    pub peer_ip: [u8; 4],
    /// The peer's TCP port.
    pub peer_port: u16,
    /// Connections served before this one (0 for the first): a stable index for allocators.
    pub index: usize,
}

impl ConnId {
    /// The peer as "ip:port".
    pub fn peer(&self) -> String {
        format!("{}:{}", Ipv4Addr::from(self.peer_ip), self.peer_port)
    }
}

/// Where each connection's file goes: called once per connection, before its first byte is
/// written. An error refuses the connection (it is deleted; its summary says why).
pub trait FileAlloc<M> {
    /// The file of connection `id`.
    fn file(&mut self, id: &ConnId) -> Result<M, String>;
}

impl<M, F: FnMut(&ConnId) -> Result<M, String>> FileAlloc<M> for F {
    fn file(&mut self, id: &ConnId) -> Result<M, String> {
        self(id)
    }
}

/// How a [`MultiServer`] serves its connections.
#[derive(Debug, Clone)]
pub struct MultiConfig {
    /// The application on every connection.
    pub kind: AppKind,
    /// Each connection's setup, before scaling: [`MultiConfig::per_connection`] shrinks its
    /// named buffers to fit the device and host memory.
    pub server: ServerConfig,
    /// Connections served at once at most: accepted ones plus the slots in the accept pool.
    pub max_connections: usize,
    /// Host bytes of named-buffer pages for all connections together.
    pub nb_memory: u64,
    /// Device cycles a finished connection keeps its socket before `SOCK_DEL` (0: deleted at
    /// once). Meanwhile the NIC still answers the client (in `CLOSE_WAIT` it acknowledges a
    /// retransmitted FIN whose ACK was lost); a deleted socket's frames get no answer.
    pub linger_cycles: u64,
}

impl MultiConfig {
    /// The setup of one connection when `max_connections` share the device `info`:
    /// `max(1, min(nbs, NUM_NBS / max_connections))` buffers of at most
    /// `nb_memory / (max_connections * buffers * page)` pages (at least 1), and block writes no
    /// larger than half the connection's buffers (a whole number of 4 KiB blocks, at least
    /// one), so a connection never waits for more than its buffers hold. In p2p
    /// ([`crate::WriteMode::P2p`]) the payload stays in the NIC's buflets until it is written,
    /// so a buffer's payload is at most half the connection's share of the buflet pool and a
    /// block write at most one buffer: each connection fills a buffer with the buflets it can
    /// get.
    pub fn per_connection(&self, info: &DeviceInfo) -> ServerConfig {
        let conns = self.max_connections.max(1);
        let nbs = (info.num_nbs as usize / conns).clamp(1, self.server.nbs.max(1));
        let page = u64::from(info.page_bytes.max(1));
        let mut fit = (self.nb_memory / (conns as u64 * nbs as u64 * page)).max(1);
        let hold = self.server.mode.needs_hold();
        if hold {
            let nb = u64::from(info.num_buflets);
            let pool =
                (nb - nb / buflet_spec::param::POOL_RESERVE_DIV) * u64::from(info.buflet_bytes);
            fit = fit.min((pool / 2 / conns as u64 / page).max(1));
        }
        let pages = self.server.pages_per_nb.clamp(1, fit as usize);
        let one = pages as u64 * page;
        let held = nbs as u64 * one;
        let block = 4096u64;
        let mut chunk = (held / 2 / block * block)
            .max(block)
            .min(self.server.write_chunk.max(block));
        if hold {
            chunk = chunk.min((one / block * block).max(block));
        }
        ServerConfig {
            nbs,
            pages_per_nb: pages,
            write_chunk: chunk,
            ..self.server.clone()
        }
    }
}

/// How a connection ended.
#[derive(Debug, Clone)]
pub struct ConnSummary<M> {
    /// Who it was.
    pub id: ConnId,
    /// Its file (`None` when the allocator refused it).
    pub file: Option<M>,
    /// Stream bytes received (up to the FIN or RST).
    pub stream_bytes: u64,
    /// The file's length as the application knows it.
    pub file_len: u64,
    /// File bytes on disk.
    pub written: u64,
    /// The peer reset the connection.
    pub reset: bool,
    /// Why it failed, if it did (a write failed for good, a refused file, a bad stream, a
    /// named buffer returned with an error).
    pub failure: Option<String>,
    /// The writer's counters.
    pub writer: WriteStats,
}

/// What one [`MultiServer::poll`] saw.
#[derive(Debug, Default)]
pub struct MultiPolled {
    /// Completions collected.
    pub completions: usize,
    /// Completions no connection took.
    pub unhandled: Vec<Completion>,
    /// Connections accepted (or added) this turn.
    pub accepted: usize,
    /// Connections ended this turn.
    pub ended: usize,
}

/// Counters of a [`MultiServer`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MultiStats {
    /// `ACCEPT` completions with status `OK` (plus sockets added by [`MultiServer::add`]).
    pub accepted: u64,
    /// `ACCEPT` completions with another status (the half-open connection died).
    pub accept_failed: u64,
    /// Connections ended (their socket deleted).
    pub ended: u64,
    /// Most connections open at once.
    pub peak: usize,
}

struct Conn<M: FileMap> {
    id: ConnId,
    srv: NasServer<M>,
    failure: Option<String>,
    /// Graceful close: the tag of our `SOCK_CLOSE` (FIN sent after the stream was written),
    /// and whether its `CMD_DONE` came back (the peer acknowledged the FIN, or it ended).
    close_tag: Option<u32>,
    closed: bool,
    /// Finished, lingering until this cycle.
    linger_until: Option<u64>,
}

/// Many connections of the NAS: see the module doc.
pub struct MultiServer<M: FileMap, A: FileAlloc<M>> {
    cfg: MultiConfig,
    /// Each connection's setup ([`MultiConfig::per_connection`] for this device).
    conn_cfg: ServerConfig,
    listen: Option<u16>,
    conns: HashMap<u16, Conn<M>>,
    /// Tag of a request in flight → the socket of the connection that issued it.
    tags: HashMap<u32, u16>,
    alloc: A,
    /// Connections that took a completion or were set up since their last step.
    dirty: BTreeSet<u16>,
    finished: Vec<ConnSummary<M>>,
    next_index: usize,
    stats: MultiStats,
    scratch: Vec<u32>,
    /// End each connection with our FIN before deleting it ([`MultiServer::set_graceful_close`]).
    graceful: bool,
    /// Finished connections lingering, by the cycle their socket goes (in that order).
    lingering: VecDeque<(u64, u16)>,
}

impl<M: FileMap + Clone, A: FileAlloc<M>> MultiServer<M, A> {
    /// A server with no listen slot: connections come from [`MultiServer::add`] (prepared
    /// sockets, each with its own ISS) or, after [`MultiServer::listen`], from `ACCEPT`s.
    ///
    /// SMB2 and BFW1 need two named buffers per connection (a header cut by the end of one
    /// buffer is read once the next one comes, while the first is held), so with them at most
    /// `NUM_NBS / 2` connections are open at once (`max_connections` is lowered to that).
    pub fn new(drv: &Driver, mut cfg: MultiConfig, alloc: A) -> Self {
        let min_nbs = if cfg.kind == AppKind::Raw { 1 } else { 2 };
        cfg.max_connections = cfg
            .max_connections
            .min(drv.info.num_nbs as usize / min_nbs)
            .max(1);
        let conn_cfg = cfg.per_connection(&drv.info);
        MultiServer {
            cfg,
            conn_cfg,
            listen: None,
            conns: HashMap::new(),
            tags: HashMap::new(),
            alloc,
            dirty: BTreeSet::new(),
            finished: Vec::new(),
            next_index: 0,
            stats: MultiStats::default(),
            scratch: Vec::new(),
            graceful: false,
            lingering: VecDeque::new(),
        }
    }

    /// Open the listen slot `spec` (with `HOLD` when the connections' mode is p2p) and give the
    /// accept pool its slots. Completions seen meanwhile are dispatched.
    pub fn listen(&mut self, drv: &mut Driver, spec: &ListenSpec) -> Result<u16, ServeError> {
        let mut spec = *spec;
        if self.conn_cfg.mode.needs_hold() {
            spec.flags |= buflet_spec::SockFlags::HOLD;
        }
        let (slot, others) = drv.listen(&spec)?;
        self.listen = Some(slot);
        self.dispatch(drv, others)?;
        self.top_up(drv)?;
        Ok(slot)
    }

    /// Stop listening (`SOCK_UNLISTEN`); accepted connections go on. The slots in the accept
    /// pool stay with the device until reset.
    pub fn unlisten(&mut self, drv: &mut Driver) -> Result<(), ServeError> {
        if let Some(slot) = self.listen.take() {
            let others = drv.unlisten(slot)?;
            self.dispatch(drv, others)?;
        }
        Ok(())
    }

    /// Serve a prepared socket: add `spec` (its own ISS; a hold socket when the mode is p2p)
    /// and set its connection up, as `NasServer::start` does.
    pub fn add(&mut self, drv: &mut Driver, spec: &SocketSpec) -> Result<u16, ServeError> {
        let (sock, early) = drv.add_socket(&spec.with_hold(self.conn_cfg.mode.needs_hold()))?;
        self.stats.accepted += 1;
        self.open(drv, sock, spec.remote_ip, spec.remote_port)?;
        self.dispatch(drv, early)?;
        Ok(sock)
    }

    /// Each connection's setup on this device (named buffers scaled to the connection count).
    pub fn connection_config(&self) -> &ServerConfig {
        &self.conn_cfg
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// The listen slot, while listening.
    pub fn listen_slot(&self) -> Option<u16> {
        self.listen
    }

    /// End each finished connection with our FIN (`SOCK_CLOSE`) and delete its socket only
    /// once the peer has acknowledged it (or the close ended otherwise), as a server whose
    /// clients wait for the end of the stream (a kernel client that half-closes and reads to
    /// EOF) needs. Off: the socket is deleted as soon as the stream is written (the peer sees
    /// no FIN).
    pub fn set_graceful_close(&mut self, on: bool) {
        self.graceful = on;
    }

    /// Device work in flight over all open connections: block writes, and an application's
    /// own block commands and unacknowledged sends (a caller that runs the device only while
    /// there is work keeps running it while this is not 0).
    pub fn in_flight(&self) -> usize {
        self.conns.values().map(|c| c.srv.in_flight()).sum()
    }

    /// The counters.
    pub fn stats(&self) -> MultiStats {
        self.stats
    }

    /// The summaries of the connections ended since the last call, in the order they ended.
    pub fn take_finished(&mut self) -> Vec<ConnSummary<M>> {
        std::mem::take(&mut self.finished)
    }

    /// The sockets of the open connections (in no particular order).
    pub fn open_sockets(&self) -> impl Iterator<Item = u16> + '_ {
        self.conns.keys().copied()
    }

    /// The open connection on socket `sock`, if any.
    pub fn connection(&self, sock: u16) -> Option<&NasServer<M>> {
        self.conns.get(&sock).map(|c| &c.srv)
    }

    /// Sum over the open connections of stream bytes received and file bytes written.
    pub fn progress(&self) -> (u64, u64) {
        self.conns.values().fold((0, 0), |(r, w), c| {
            (r + c.srv.stream.received(), w + c.srv.written())
        })
    }

    /// One turn: wait up to `cycles` for completions (the clock moves at least a little even
    /// when the wait returns at once) and handle them ([`MultiServer::handle_completions`]).
    pub fn poll(&mut self, drv: &mut Driver, cycles: u64) -> Result<MultiPolled, ServeError> {
        let c0 = drv.cycles();
        let cpls = drv.wait(cycles)?;
        let polled = self.handle_completions(drv, cpls)?;
        if drv.cycles() == c0 {
            drv.run(64);
        }
        Ok(polled)
    }

    /// Handle completions the caller collected (for a caller that waits on the device
    /// itself): accept new connections, dispatch the rest to theirs, let each connection that
    /// took one issue its writes, end the connections that are finished, and top the accept
    /// pool up. A driver failure is returned; a connection's own failure ends that connection
    /// (its summary says why) and the others go on.
    pub fn handle_completions(
        &mut self,
        drv: &mut Driver,
        cpls: Vec<Completion>,
    ) -> Result<MultiPolled, ServeError> {
        let before = (self.stats.accepted, self.stats.ended);
        let mut polled = MultiPolled {
            completions: cpls.len(),
            ..Default::default()
        };
        // Connections with something due without a completion (an iSCSI login timeout).
        for (&sock, conn) in &self.conns {
            if conn.failure.is_none() && conn.srv.step_due() {
                self.dirty.insert(sock);
            }
        }
        polled.unhandled = self.dispatch(drv, cpls)?;
        // Lingering connections whose time is up.
        let now = drv.cycles();
        while self.lingering.front().is_some_and(|&(t, _)| t <= now) {
            let Some((_, sock)) = self.lingering.pop_front() else {
                break;
            };
            let others = self.end(drv, sock)?;
            polled.unhandled.extend(self.dispatch(drv, others)?);
        }
        self.top_up(drv)?;
        polled.accepted = (self.stats.accepted - before.0) as usize;
        polled.ended = (self.stats.ended - before.1) as usize;
        Ok(polled)
    }

    /// Dispatch completions, step the connections that took one, end finished connections;
    /// completions that come back from those requests are dispatched in turn. Returns those no
    /// connection took.
    fn dispatch(
        &mut self,
        drv: &mut Driver,
        cpls: Vec<Completion>,
    ) -> Result<Vec<Completion>, ServeError> {
        let mut queue: VecDeque<Completion> = cpls.into();
        let mut unhandled = Vec::new();
        loop {
            while let Some(c) = queue.pop_front() {
                if !self.route(drv, &c, &mut queue)? {
                    unhandled.push(c);
                }
            }
            // Step every connection that took something, then end those that are finished.
            let dirty = std::mem::take(&mut self.dirty);
            let mut ending = Vec::new();
            for sock in dirty {
                let Some(conn) = self.conns.get_mut(&sock) else {
                    continue;
                };
                if conn.failure.is_none() {
                    if let Err(e) = conn.srv.step(drv) {
                        match e {
                            ServeError::App(m) => conn.failure = Some(m),
                            ServeError::Write(w) => conn.failure = Some(w.to_string()),
                            e => return Err(e),
                        }
                    }
                }
                self.register(sock);
                if self.is_finished(sock) {
                    ending.push(sock);
                }
            }
            for sock in ending {
                if self.graceful && !self.close_sent(drv, sock)? {
                    continue;
                }
                if self.cfg.linger_cycles == 0 {
                    queue.extend(self.end(drv, sock)?);
                } else if let Some(c) = self.conns.get_mut(&sock) {
                    let until = drv.cycles().saturating_add(self.cfg.linger_cycles);
                    c.linger_until = Some(until);
                    self.lingering.push_back((until, sock));
                }
            }
            if queue.is_empty() && self.dirty.is_empty() {
                return Ok(unhandled);
            }
        }
    }

    /// Hand one completion to its connection (or accept one). Returns whether it was taken.
    fn route(
        &mut self,
        drv: &mut Driver,
        c: &Completion,
        queue: &mut VecDeque<Completion>,
    ) -> Result<bool, ServeError> {
        if c.kind == CplKind::Accept {
            let Some((a, others)) = drv.accepted(c)? else {
                return Ok(false);
            };
            queue.extend(others);
            if a.status == Status::Ok {
                self.accept(drv, &a)?;
            } else {
                self.stats.accept_failed += 1;
            }
            return Ok(true);
        }
        let tagged = matches!(c.kind, CplKind::BlkDone | CplKind::CmdDone);
        if tagged && !self.tags.contains_key(&c.tag) {
            // A request issued earlier in this dispatch by a connection not registered yet
            // (its completion came back inside a request the server waited on).
            let dirty: Vec<u16> = self.dirty.iter().copied().collect();
            for sock in dirty {
                self.register(sock);
            }
        }
        let by_tag = tagged.then(|| self.tags.get(&c.tag).copied()).flatten();
        let sock = match (c.kind, by_tag) {
            (_, Some(s)) => s,
            (CplKind::NbReturn | CplKind::TxDone | CplKind::CmdDone, None) => c.sock_ref,
            _ => return Ok(false),
        };
        let Some(conn) = self.conns.get_mut(&sock) else {
            return Ok(false);
        };
        if c.kind == CplKind::CmdDone && conn.close_tag == Some(c.tag) {
            conn.closed = true;
            self.tags.remove(&c.tag);
            self.dirty.insert(sock);
            return Ok(true);
        }
        let taken = match conn.srv.handle(drv, c) {
            Ok(t) => t,
            Err(ServeError::Driver(e)) => return Err(ServeError::Driver(e)),
            Err(e) => {
                conn.failure.get_or_insert(e.to_string());
                true
            }
        };
        if taken && by_tag.is_some() {
            self.tags.remove(&c.tag);
        }
        self.dirty.insert(sock);
        Ok(taken)
    }

    /// An `ACCEPT` with status `OK`: the connection's file, stream and application.
    fn accept(&mut self, drv: &mut Driver, a: &Accepted) -> Result<(), ServeError> {
        self.stats.accepted += 1;
        self.open(drv, a.sock, a.peer_ip, a.peer_port)
    }

    fn open(
        &mut self,
        drv: &mut Driver,
        sock: u16,
        peer_ip: [u8; 4],
        peer_port: u16,
    ) -> Result<(), ServeError> {
        let id = ConnId {
            sock,
            peer_ip,
            peer_port,
            index: self.next_index,
        };
        self.next_index += 1;
        let file = match self.alloc.file(&id) {
            Ok(f) => f,
            Err(why) => {
                // Refused: the socket goes (its slot back to the pool) and nothing is written.
                let others = drv.del_socket(sock)?;
                self.finished.push(ConnSummary {
                    id,
                    file: None,
                    stream_bytes: 0,
                    file_len: 0,
                    written: 0,
                    reset: false,
                    failure: Some(format!("no file for the connection: {why}")),
                    writer: WriteStats::default(),
                });
                self.stats.ended += 1;
                self.dispatch(drv, others)?;
                return Ok(());
            }
        };
        let srv = NasServer::accept(drv, sock, self.cfg.kind, file, &self.conn_cfg)?;
        self.conns.insert(
            sock,
            Conn {
                id,
                srv,
                failure: None,
                close_tag: None,
                closed: false,
                linger_until: None,
            },
        );
        self.stats.peak = self.stats.peak.max(self.conns.len());
        self.dirty.insert(sock);
        Ok(())
    }

    /// Run `f` on connection `sock` (an event from outside the device: the iSCSI logical
    /// unit's request or completion), then step it like a connection that took a completion
    /// and end it if it is finished. `false` when there is no such connection.
    pub fn with_connection(
        &mut self,
        drv: &mut Driver,
        sock: u16,
        f: impl FnOnce(&mut NasServer<M>, &mut Driver),
    ) -> Result<bool, ServeError> {
        let Some(conn) = self.conns.get_mut(&sock) else {
            return Ok(false);
        };
        f(&mut conn.srv, drv);
        self.dirty.insert(sock);
        self.dispatch(drv, Vec::new())?;
        Ok(true)
    }

    /// Graceful close of finished connection `sock`: send our FIN the first time, or an RST
    /// when the connection failed (a connection the peer reset is not closed first). Returns whether the socket
    /// may be deleted now.
    fn close_sent(&mut self, drv: &mut Driver, sock: u16) -> Result<bool, ServeError> {
        let Some(conn) = self.conns.get_mut(&sock) else {
            return Ok(true);
        };
        if conn.closed || conn.srv.stream.reset {
            return Ok(true);
        }
        if conn.close_tag.is_none() {
            // A failed connection is aborted (the peer gets an RST: not everything it sent
            // was taken); a finished one is closed with our FIN.
            let failed = conn.failure.is_some() || conn.srv.failed().is_some();
            let tag = if failed {
                drv.sock_abort(sock)?
            } else {
                drv.sock_close(sock)?
            };
            conn.close_tag = Some(tag);
            self.tags.insert(tag, sock);
        }
        Ok(false)
    }

    /// Register the tags of connection `sock`'s requests in flight.
    fn register(&mut self, sock: u16) {
        let Some(conn) = self.conns.get(&sock) else {
            return;
        };
        self.scratch.clear();
        conn.srv.pending_tags(&mut self.scratch);
        for &t in &self.scratch {
            self.tags.insert(t, sock);
        }
    }

    /// Whether connection `sock` is over: its stream ended (FIN or RST) and everything it
    /// delivered is written, or it failed and has no write in flight.
    fn is_finished(&self, sock: u16) -> bool {
        let Some(conn) = self.conns.get(&sock) else {
            return false;
        };
        if conn.linger_until.is_some() {
            return false;
        }
        let s = &conn.srv.stream;
        if conn.failure.is_some() || conn.srv.failed().is_some() || !s.errors.is_empty() {
            return s.writes_in_flight() == 0 && conn.srv.app_blk_in_flight() == 0;
        }
        s.eof.is_some() && conn.srv.done()
    }

    /// End connection `sock`: delete its socket (its named buffers come back first, flag
    /// `DELETE`), drop its tags, keep its summary. Returns completions seen meanwhile that
    /// are not its own.
    fn end(&mut self, drv: &mut Driver, sock: u16) -> Result<Vec<Completion>, ServeError> {
        let Some(mut conn) = self.conns.remove(&sock) else {
            return Ok(Vec::new());
        };
        let mut others = Vec::new();
        for c in drv.del_socket(sock)? {
            // Its named buffers (flag DELETE), and its application's posts and block commands.
            if !conn.srv.handle(drv, &c)? {
                others.push(c);
            }
        }
        self.scratch.clear();
        conn.srv.pending_tags(&mut self.scratch);
        for t in &self.scratch {
            self.tags.remove(t);
        }
        let failure = conn.failure.take().or_else(|| conn.srv.failed());
        conn.srv.release(drv);
        let s = &conn.srv.stream;
        let failure = failure.or_else(|| {
            s.errors.first().map(|c| {
                format!(
                    "named buffer {} returned with status {} ({})",
                    c.ref_num,
                    c.status,
                    c.status.name()
                )
            })
        });
        self.finished.push(ConnSummary {
            id: conn.id,
            stream_bytes: s.eof.unwrap_or_else(|| s.received()),
            file_len: conn.srv.file_len(),
            written: conn.srv.written(),
            reset: s.reset,
            failure,
            writer: s.stats(),
            file: Some(conn.srv.file),
        });
        self.stats.ended += 1;
        Ok(others)
    }

    /// Keep the accept pool at the connections that may still open: `max_connections` less
    /// the open ones and the slots already pooled (pooled slots stay with the device).
    fn top_up(&mut self, drv: &mut Driver) -> Result<(), ServeError> {
        if self.listen.is_none() {
            return Ok(());
        }
        let want = self
            .cfg
            .max_connections
            .saturating_sub(self.conns.len() + drv.pooled_sockets());
        if want > 0 {
            drv.pool_sockets(want)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WriteMode;

    fn cfg(max_connections: usize) -> MultiConfig {
        MultiConfig {
            kind: AppKind::Raw,
            server: ServerConfig {
                nbs: 16,
                pages_per_nb: 16,
                mode: WriteMode::ZeroCopy,
                max_retries: None,
                write_chunk: 64 * 1024,
                nb_timeout: None,
                answers: false,
                cow: Default::default(),
                read_mode: None,
                iscsi: None,
            },
            max_connections,
            nb_memory: 32 << 20,
            linger_cycles: 0,
        }
    }

    fn info(num_nbs: u32, num_buflets: u32) -> DeviceInfo {
        DeviceInfo {
            num_nbs,
            num_buflets,
            buflet_bytes: 2048,
            page_bytes: 4096,
            ..Default::default()
        }
    }

    /// One connection keeps the configured buffers; many share the device's NB slots and the
    /// host memory budget, and never wait for more than their buffers hold.
    #[test]
    fn named_buffers_scale_down_with_the_connection_count() {
        let one = cfg(1).per_connection(&info(64, 256));
        assert_eq!(
            (one.nbs, one.pages_per_nb, one.write_chunk),
            (16, 16, 64 * 1024)
        );
        let sixty_four = cfg(64).per_connection(&info(64, 256));
        assert_eq!((sixty_four.nbs, sixty_four.pages_per_nb), (1, 16));
        assert_eq!(
            sixty_four.write_chunk,
            32 * 1024,
            "half of one 64 KiB buffer"
        );
        let thousand = cfg(1000).per_connection(&info(4096, 1024));
        assert_eq!((thousand.nbs, thousand.pages_per_nb), (4, 2));
        assert_eq!(thousand.write_chunk, 16 * 1024);
        // Host pages stay within the budget.
        let pages = 1000 * thousand.nbs * thousand.pages_per_nb * 4096;
        assert!(pages as u64 <= 32 << 20);
        // More connections than NB slots: still one buffer each, one page at least.
        let many = cfg(100_000).per_connection(&info(4096, 1024));
        assert_eq!(
            (many.nbs, many.pages_per_nb, many.write_chunk),
            (1, 1, 4096)
        );
    }

    /// p2p: a buffer's payload fits the connection's share of the buflet pool, and a block
    /// write is one buffer at most.
    #[test]
    fn p2p_buffers_fit_the_buflet_pool() {
        let mut c = cfg(8);
        c.server.mode = WriteMode::P2p;
        let p = c.per_connection(&info(64, 256));
        // (256 - 16) * 2048 / 2 / 8 / 4096 = 7 pages.
        assert_eq!((p.nbs, p.pages_per_nb), (8, 7));
        assert_eq!(p.write_chunk, 7 * 4096);
        let z = cfg(8).per_connection(&info(64, 256));
        assert_eq!(z.pages_per_nb, 16, "zero-copy buffers are host memory");
    }

    #[test]
    fn conn_ids_print_as_ip_and_port() {
        let id = ConnId {
            sock: 3,
            peer_ip: [10, 0, 0, 7],
            peer_port: 40001,
            index: 0,
        };
        assert_eq!(id.peer(), "10.0.0.7:40001");
    }
}
