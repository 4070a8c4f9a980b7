//! The NAS server's run loop for one connection: the socket, its receive stream and the
//! application that turns what arrives into block writes, turned one step at a time by
//! whoever owns the clock (the demo and replay runner, the smoltcp peer, a live server).
//!
//! Each [`NasServer::poll`] collects the device's completions, hands them to the stream
//! (returned named buffers, finished block writes), and lets the application issue the writes
//! the received data allows. The caller plays the network and decides when the run is over
//! ([`NasServer::done`]).

use crate::app::{DiskPump, FramedApp, Smb2App};
use crate::{FileMap, NasStream, WriteError, WriteMode};
use buflet_driver::{Completion, CplFlags, CplKind, Driver, DriverError, SocketSpec};

/// Which application serves the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppKind {
    /// The stream is the file, at offset 0.
    Raw,
    /// SMB2 WRITE requests over NetBIOS session framing, each at its file offset.
    Smb2,
    /// BFW1 records, each at its file offset.
    Framed,
    /// An iSCSI target: the connection is one session on the shared logical unit
    /// ([`ServerConfig::iscsi`]), and the file is the logical unit's medium.
    Iscsi,
}

/// The application on top of the stream.
pub enum App<M: FileMap> {
    /// The stream is the file at offset 0.
    Raw(DiskPump<M>),
    /// SMB2 WRITEs at their file offsets.
    Smb2(Smb2App),
    /// BFW1 records at their file offsets.
    Framed(FramedApp),
    /// An iSCSI session.
    Iscsi(Box<crate::iscsi::IscsiApp>),
}

/// How a [`NasServer`] sets its connection up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Named buffers kept posted to the socket.
    pub nbs: usize,
    /// Host pages per named buffer.
    pub pages_per_nb: usize,
    /// How payload moves to the disk; [`WriteMode::P2p`] makes the socket a hold socket.
    pub mode: WriteMode,
    /// Retries of a failed block command (`None`: the writer's default).
    pub max_retries: Option<u32>,
    /// Bytes per block write the applications issue.
    pub write_chunk: u64,
    /// Named-buffer timeouts: the device's timer period in cycles and the `TIMEOUT` in ticks
    /// of every named buffer posted (`None`: buffers wait until full, PSH or FIN).
    pub nb_timeout: Option<(u32, u32)>,
    /// BFW1: answer the client (a `WRITE_ACK` per record once its data is durable) over the
    /// NIC's send side. The client must read the answers (issue 12: the NAS's answers).
    pub answers: bool,
    /// How the answer path picks the pages it writes headers into (seed 002).
    pub cow: crate::answer::Cow,
    /// How read data moves to the NIC (`None`: as `mode`). p2p reads work beside a write
    /// direction that is not p2p (a BFW1 stream needs its headers in host memory).
    pub read_mode: Option<WriteMode>,
    /// The iSCSI target every [`AppKind::Iscsi`] connection is a session of.
    pub iscsi: Option<std::sync::Arc<crate::iscsi::IscsiShared>>,
}

/// Failures of the run loop.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The driver failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The writer refused or failed a write.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The application gave up: a block write failed for good (after the writer's retries),
    /// or the stream holds something it cannot parse.
    #[error("{0}")]
    App(String),
}

/// What one [`NasServer::poll`] saw.
#[derive(Debug, Default)]
pub struct Polled {
    /// Completions collected.
    pub completions: usize,
    /// Those the stream did not take (not for its socket or its writes).
    pub unhandled: Vec<Completion>,
    /// Named buffers that came back empty on timeout: no data moved (a caller measuring
    /// activity leaves them out).
    pub empty_timeouts: usize,
}

/// One connection of the NAS: socket, stream, application and the file it writes.
pub struct NasServer<M: FileMap> {
    /// The socket's receive stream and the writer on it.
    pub stream: NasStream,
    /// The application feeding the writer.
    pub app: App<M>,
    /// Where the file's bytes go on the disk.
    pub file: M,
    /// The answers to the client (BFW1 with [`ServerConfig::answers`]).
    pub answers: Option<crate::answer::Answers>,
}

impl<M: FileMap + Clone> NasServer<M> {
    /// Add the socket `spec` (a hold socket when `cfg.mode` is p2p), post its named buffers and
    /// set the writer up for `kind`, writing into `file`.
    pub fn start(
        drv: &mut Driver,
        spec: &SocketSpec,
        kind: AppKind,
        file: M,
        cfg: &ServerConfig,
    ) -> Result<Self, ServeError> {
        let (sock, early) = drv.add_socket(&spec.with_hold(cfg.mode.needs_hold()))?;
        Self::on_socket(drv, sock, &early, kind, file, cfg)
    }

    /// Serve a socket the driver already has: one it accepted from a listen slot
    /// ([`Driver::accepted`] with status `OK`; a hold socket when the listen had `HOLD`, as
    /// `cfg.mode` must then be p2p). Posts its named buffers and sets the writer up for `kind`,
    /// writing into `file`. The socket is not added: [`NasServer::start`] adds one.
    pub fn accept(
        drv: &mut Driver,
        sock: u16,
        kind: AppKind,
        file: M,
        cfg: &ServerConfig,
    ) -> Result<Self, ServeError> {
        Self::on_socket(drv, sock, &[], kind, file, cfg)
    }

    /// Set the connection up on socket `sock`; `early` are completions seen while it was
    /// added.
    fn on_socket(
        drv: &mut Driver,
        sock: u16,
        early: &[Completion],
        kind: AppKind,
        file: M,
        cfg: &ServerConfig,
    ) -> Result<Self, ServeError> {
        let ticks = cfg.nb_timeout.map_or(0, |(_, t)| t);
        let mut stream =
            NasStream::start_with_timeout(drv, sock, cfg.nbs, cfg.pages_per_nb, ticks)?;
        if let Some((period, _)) = cfg.nb_timeout {
            drv.set_timer_period(period);
        }
        stream.set_mode(cfg.mode)?;
        if let Some(n) = cfg.max_retries {
            stream.set_max_retries(n);
        }
        // SMB2, BFW1: a write ending at the end of the stream is no end of the file.
        stream.set_zero_tail_at_eof(kind == AppKind::Raw);
        for c in early {
            stream.handle(drv, c)?;
        }
        let app = match kind {
            AppKind::Raw => App::Raw(DiskPump::new(file.clone(), cfg.write_chunk)),
            AppKind::Smb2 => App::Smb2(Smb2App::new(cfg.write_chunk)),
            AppKind::Framed => App::Framed(FramedApp::new(cfg.write_chunk)),
            AppKind::Iscsi => {
                let Some(sh) = cfg.iscsi.clone() else {
                    return Err(ServeError::App(
                        "an iSCSI connection needs the target (ServerConfig::iscsi)".into(),
                    ));
                };
                App::Iscsi(Box::new(crate::iscsi::IscsiApp::new(
                    sh,
                    sock,
                    u64::from(drv.info.page_bytes),
                )))
            }
        };
        let answers = if cfg.answers && kind == AppKind::Framed {
            Some(
                crate::answer::Answers::new(drv, sock, cfg.cow, cfg.read_mode.unwrap_or(cfg.mode))
                    .map_err(|e| ServeError::App(e.to_string()))?,
            )
        } else {
            None
        };
        Ok(NasServer {
            stream,
            app,
            file,
            answers,
        })
    }
}

impl<M: FileMap> NasServer<M> {
    /// One turn of the run loop: wait up to `cycles` for completions and hand them to the
    /// stream (the clock moves at least a little even when the wait returns at once), then let
    /// the application issue the writes the received data allows.
    pub fn poll(&mut self, drv: &mut Driver, cycles: u64) -> Result<Polled, ServeError> {
        let c0 = drv.cycles();
        let cpls = drv.wait(cycles)?;
        let mut polled = Polled {
            completions: cpls.len(),
            unhandled: Vec::new(),
            empty_timeouts: cpls
                .iter()
                .filter(|c| c.kind == CplKind::NbReturn && c.bytes == 0 && c.has(CplFlags::TIMEOUT))
                .count(),
        };
        for c in cpls {
            if !self.handle(drv, &c)? {
                polled.unhandled.push(c);
            }
        }
        if drv.cycles() == c0 {
            drv.run(64);
        }
        self.step(drv)?;
        Ok(polled)
    }

    /// Hand one completion to the connection (its answers, then its stream). Returns true if
    /// it belonged to the connection. Call [`NasServer::step`] after a batch.
    pub fn handle(&mut self, drv: &mut Driver, c: &Completion) -> Result<bool, ServeError> {
        if self.answers.as_mut().is_some_and(|a| a.handle(drv, c)) {
            return Ok(true);
        }
        if let App::Iscsi(a) = &mut self.app {
            if a.handle(drv, c) {
                return Ok(true);
            }
        }
        Ok(self.stream.handle(drv, c)?)
    }

    /// After completions were handled: fail if the application failed, else let it issue the
    /// writes the received data allows and send the answers that became due.
    pub fn step(&mut self, drv: &mut Driver) -> Result<(), ServeError> {
        if let Some(e) = self.failed() {
            return Err(ServeError::App(e));
        }
        self.pump(drv)?;
        if let App::Iscsi(a) = &mut self.app {
            a.step(drv, &mut self.stream, &self.file)?;
        }
        if let (Some(a), App::Framed(f)) = (self.answers.as_mut(), &mut self.app) {
            for d in f.take_durable() {
                match d.kind {
                    crate::framed::Kind::Read => a.read(drv, d.len, d.file_off),
                    _ => a.write_ack(d.len, d.file_off),
                }
            }
            a.flush(drv, &self.file)
                .map_err(|e| ServeError::App(e.to_string()))?;
        }
        Ok(())
    }

    /// Tags of the device requests in flight whose completions are matched by tag
    /// (`BLK_DONE` of the writer's and the answers' block commands, `CMD_DONE` of p2p
    /// releases), appended to `out`: a server of many connections routes those completions by
    /// them.
    pub fn pending_tags(&self, out: &mut Vec<u32>) {
        self.stream.pending_tags(out);
        if let Some(a) = &self.answers {
            a.pending_tags(out);
        }
        if let App::Iscsi(a) = &self.app {
            a.pending_tags(out);
        }
    }

    /// Block commands of the application in flight (the answers' reads, the iSCSI target's
    /// reads and writes): a connection that failed still waits for them, so the pages and
    /// host buflets they fill go back when it ends.
    pub fn app_blk_in_flight(&self) -> usize {
        let answers = self.answers.as_ref().map_or(0, |a| a.reads_in_flight());
        let iscsi = match &self.app {
            App::Iscsi(a) => a.blk_in_flight(),
            _ => 0,
        };
        answers + iscsi
    }

    /// The connection is over (its socket deleted): the application gives back what it
    /// holds (the iSCSI target's page pool), and the stream its bounced copies.
    pub fn release(&mut self, drv: &mut Driver) {
        if let App::Iscsi(a) = &mut self.app {
            a.release(drv);
        }
        if self.stream.writes_in_flight() == 0 {
            self.stream.free_bounces(drv);
        }
    }

    /// The application has something due that no completion will bring (an iSCSI
    /// connection past its login timeout): step it.
    pub fn step_due(&self) -> bool {
        match &self.app {
            App::Iscsi(a) => a.login_overdue(),
            _ => false,
        }
    }

    /// Device work in flight for the connection: block writes, and the iSCSI application's
    /// block commands and PDUs not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        let app = match &self.app {
            App::Iscsi(a) => a.in_flight(),
            _ => 0,
        };
        self.stream.writes_in_flight() + app
    }

    /// Let the application issue the writes the received data allows.
    pub fn pump(&mut self, drv: &mut Driver) -> Result<(), WriteError> {
        match &mut self.app {
            App::Raw(p) => p.pump(drv, &mut self.stream),
            App::Smb2(a) => a.pump(drv, &mut self.stream, &self.file),
            App::Framed(a) => a.pump(drv, &mut self.stream, &self.file),
            App::Iscsi(_) => Ok(()),
        }
    }

    /// Delete the socket: its named buffers come back first (flag `DELETE`) and go to the
    /// stream.
    pub fn close(&mut self, drv: &mut Driver) -> Result<(), ServeError> {
        for c in drv.del_socket(self.stream.sock())? {
            self.stream.handle(drv, &c)?;
        }
        Ok(())
    }

    /// The connection is over (aborted, or its end mark lost): what arrived is the stream.
    /// Poll until everything received is written (the tail included) or the application fails.
    pub fn finish(&mut self, drv: &mut Driver, cycles: u64) -> Result<(), ServeError> {
        if self.stream.eof.is_none() {
            self.stream.eof = Some(self.stream.received());
        }
        for _ in 0..100_000 {
            if self.done() {
                return Ok(());
            }
            self.poll(drv, cycles)?;
        }
        Err(ServeError::App(format!(
            "the last writes did not finish: {} bytes of {} on disk",
            self.written(),
            self.stream.received()
        )))
    }

    /// The application's first failure, if any.
    pub fn failed(&self) -> Option<String> {
        if let Some(e) = self.answers.as_ref().and_then(|a| a.failed()) {
            return Some(e);
        }
        match &self.app {
            App::Raw(p) => p.failed(),
            App::Smb2(a) => a.failed(),
            App::Framed(a) => a.failed(),
            App::Iscsi(a) => a.failed(),
        }
    }

    /// File bytes on disk so far.
    pub fn written(&self) -> u64 {
        match &self.app {
            App::Raw(_) => self.stream.written(),
            App::Smb2(a) => a.written(),
            App::Framed(a) => a.written(),
            App::Iscsi(a) => a.stats.write_bytes,
        }
    }

    /// Everything the stream delivered up to its end is written, with no write in flight, and
    /// every answer is acknowledged by the client.
    pub fn done(&self) -> bool {
        let s = &self.stream;
        if self.answers.as_ref().is_some_and(|a| !a.idle()) {
            return false;
        }
        match &self.app {
            App::Raw(_) => s.eof.is_some_and(|e| s.written() >= e) && s.writes_in_flight() == 0,
            App::Smb2(a) => a.done(s),
            App::Framed(a) => a.done(s),
            App::Iscsi(a) => a.done(s),
        }
    }

    /// The file's length as the application knows it: the stream's length (raw), or the
    /// highest offset a WRITE or record reached.
    pub fn file_len(&self) -> u64 {
        match &self.app {
            App::Raw(_) => self.stream.eof.unwrap_or(0),
            App::Smb2(a) => a.file_len,
            App::Framed(a) => a.file_len,
            App::Iscsi(a) => a.stats.write_bytes,
        }
    }
}
