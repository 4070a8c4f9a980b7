//! The NAS application's iSCSI target (RFC 7143) over the offloaded TCP, on seed 003's
//! user-space SCSI logical unit (`buflet_scsi`).
//!
//! | part | module |
//! |---|---|
//! | one connection: PDUs out of the named buffers, login, commands, R2T, Data-In, status, TMF | `conn` |
//! | the logical unit's requests to the device thread (a door call per request) | `port` |
//! | block reads into data-in pages, WRITE SAME and zeroing writes | `blk` |
//! | PDUs to the NIC: CPU-written headers, data by reference | `tx` |
//! | the wire format, through `buflet_iscsi` | `glue` |
//!
//! The logical unit is shared by every connection ([`IscsiShared`]): its emulation module runs
//! each command on a worker of its own; a worker's requests ([`port::IoReq`]) and the module's
//! completions come back to the device thread, which routes them to their connection
//! ([`pump`]).

mod blk;
mod conn;
pub mod glue;
pub mod port;
pub mod tx;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use buflet_driver::Driver;
use buflet_scsi::{EmuModule, EmuPacket, LuHandler};
use crossbeam_channel::{unbounded, Receiver, Sender};

pub use conn::{IscsiApp, CMD_WINDOW, MAX_RECV_DSL, MAX_XFER};
pub use glue::TargetConfig;
use port::IoReq;

use crate::multi::{FileAlloc, MultiServer};
use crate::{FileMap, ServeError};

/// What the target did, per connection.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct IscsiStats {
    /// PDUs parsed and sent.
    pub pdus_in: u64,
    pub pdus_out: u64,
    /// Logins completed and logouts.
    pub logins: u64,
    pub logouts: u64,
    /// SCSI commands received, answered, answered with a status other than GOOD, aborted.
    pub commands: u64,
    pub responses: u64,
    pub check_conditions: u64,
    pub aborted: u64,
    /// R2Ts sent.
    pub r2ts: u64,
    /// Data-out bytes the block engine wrote; data-in bytes sent by reference.
    pub write_bytes: u64,
    pub read_bytes: u64,
    /// Of the data-in bytes, those sent from host buflets (p2p: read into the NIC by the block
    /// engine and sent from there, never in host memory).
    pub dev_read_bytes: u64,
    /// NOP-Ins answering pings, task-management requests, rejects.
    pub nops: u64,
    pub tmfs: u64,
    pub rejects: u64,
    /// PDUs ignored for a CmdSN outside the window, digest errors, protocol errors, data-out
    /// for a task that is over.
    pub cmd_sn_ignored: u64,
    pub digest_errors: u64,
    pub protocol_errors: u64,
    pub stray_data: u64,
    /// Bytes the CPU read to check or make data digests.
    pub digest_bytes_read: u64,
    /// Commands the logical unit refused to take (busy).
    pub lu_refused: u64,
    /// Connections ended because they were not logged in within the login timeout.
    pub login_timeouts: u64,
}

impl IscsiStats {
    /// Add `o`'s counts to these.
    pub fn add(&mut self, o: &IscsiStats) {
        let IscsiStats {
            pdus_in,
            pdus_out,
            logins,
            logouts,
            commands,
            responses,
            check_conditions,
            aborted,
            r2ts,
            write_bytes,
            read_bytes,
            dev_read_bytes,
            nops,
            tmfs,
            rejects,
            cmd_sn_ignored,
            digest_errors,
            protocol_errors,
            stray_data,
            digest_bytes_read,
            lu_refused,
            login_timeouts,
        } = *o;
        self.pdus_in += pdus_in;
        self.pdus_out += pdus_out;
        self.logins += logins;
        self.logouts += logouts;
        self.commands += commands;
        self.responses += responses;
        self.check_conditions += check_conditions;
        self.aborted += aborted;
        self.r2ts += r2ts;
        self.write_bytes += write_bytes;
        self.read_bytes += read_bytes;
        self.dev_read_bytes += dev_read_bytes;
        self.nops += nops;
        self.tmfs += tmfs;
        self.rejects += rejects;
        self.cmd_sn_ignored += cmd_sn_ignored;
        self.digest_errors += digest_errors;
        self.protocol_errors += protocol_errors;
        self.stray_data += stray_data;
        self.digest_bytes_read += digest_bytes_read;
        self.lu_refused += lu_refused;
        self.login_timeouts += login_timeouts;
    }
}

/// p2p targets: set aside the host buflets READs are read into and sent from (a quarter of
/// the pool, at most [`crate::answer::P2P_HOST_BUFLETS`]; the rest receives). Call it before
/// any frame lands, i.e. before the target listens.
pub fn set_aside_host_buflets(
    drv: &mut buflet_driver::Driver,
) -> Result<u32, buflet_driver::DriverError> {
    let n = (crate::answer::P2P_HOST_BUFLETS as u32).min(drv.info.num_buflets / 4);
    drv.set_host_buflets(n)?;
    Ok(n)
}

/// The target's state shared by its connections: the logical unit behind its emulation
/// module, the channel its workers' requests come back on, and the target's identity.
pub struct IscsiShared {
    /// The emulation module (the logical unit's workers).
    pub emu: EmuModule,
    pub(crate) io_tx: Sender<IoReq>,
    io_rx: Receiver<IoReq>,
    /// Logical block size and blocks of the logical unit.
    pub block_size: u32,
    pub blocks: u64,
    /// Name, alias, portal and offered parameters.
    pub target: TargetConfig,
    next_conn: AtomicU64,
    next_tag: AtomicU64,
    next_tsih: std::sync::atomic::AtomicU16,
    socks: Mutex<HashMap<u64, u16>>,
    /// The connection of each command at the logical unit, by tag.
    tags: Mutex<HashMap<u64, u64>>,
    /// I_T nexus ids by (InitiatorName, ISID): the same initiator port keeps its id (and its
    /// persistent reservation registrations) across sessions.
    nexus: Mutex<HashMap<(String, [u8; 6]), u64>>,
    /// The counters of every connection that ended, summed.
    ended: Mutex<IscsiStats>,
    /// `BUFLET_ISCSI_TRACE` set: every command, request and answer on stderr.
    pub(crate) trace: bool,
    pub(crate) t0: std::time::Instant,
}

impl std::fmt::Debug for IscsiShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IscsiShared")
            .field("block_size", &self.block_size)
            .field("blocks", &self.blocks)
            .finish_non_exhaustive()
    }
}

impl IscsiShared {
    /// A target of one logical unit `lu` of `blocks` blocks of `block_size` bytes, run by an
    /// emulation module of `workers` workers.
    pub fn new(
        lu: Arc<dyn LuHandler>,
        workers: usize,
        block_size: u32,
        blocks: u64,
        target: TargetConfig,
    ) -> Arc<Self> {
        let (io_tx, io_rx) = unbounded();
        Arc::new(IscsiShared {
            emu: EmuModule::new(lu, workers),
            io_tx,
            io_rx,
            block_size,
            blocks,
            target,
            next_conn: AtomicU64::new(1),
            next_tag: AtomicU64::new(1),
            next_tsih: std::sync::atomic::AtomicU16::new(1),
            socks: Mutex::new(HashMap::new()),
            tags: Mutex::new(HashMap::new()),
            ended: Mutex::new(IscsiStats::default()),
            nexus: Mutex::new(HashMap::new()),
            trace: std::env::var_os("BUFLET_ISCSI_TRACE").is_some(),
            t0: std::time::Instant::now(),
        })
    }

    pub(crate) fn new_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn new_tag(&self) -> u64 {
        self.next_tag.fetch_add(1, Ordering::Relaxed)
    }

    /// A TSIH for a new session (nonzero, unique while fewer than 65,535 sessions live).
    pub(crate) fn new_tsih(&self) -> u16 {
        loop {
            let t = self.next_tsih.fetch_add(1, Ordering::Relaxed);
            if t != 0 {
                return t;
            }
        }
    }

    /// The nexus id of initiator port (`name`, `isid`), told to the logical unit with its
    /// TransportID the first time.
    pub(crate) fn nexus_of(&self, name: &str, isid: [u8; 6]) -> u64 {
        let Ok(mut m) = self.nexus.lock() else {
            return 0;
        };
        let n = m.len() as u64 + 1;
        let id = *m.entry((name.to_string(), isid)).or_insert(n);
        if id == n {
            let hex: String = isid.iter().map(|b| format!("{b:02x}")).collect();
            let tid = buflet_scsi::iscsi_transport_id(&format!("{name},i,0x{hex}"));
            self.emu.nexus_identity(id, &tid, 1);
        }
        id
    }

    /// Command `tag` of connection `conn` went to the logical unit.
    pub(crate) fn submitted(&self, tag: u64, conn: u64) {
        if let Ok(mut m) = self.tags.lock() {
            m.insert(tag, conn);
        }
    }

    fn conn_of_tag(&self, tag: u64) -> Option<u64> {
        self.tags.lock().ok().and_then(|mut m| m.remove(&tag))
    }

    pub(crate) fn bind(&self, conn: u64, sock: u16) {
        if let Ok(mut m) = self.socks.lock() {
            m.insert(conn, sock);
        }
    }

    pub(crate) fn unbind(&self, conn: u64) {
        if let Ok(mut m) = self.socks.lock() {
            m.remove(&conn);
        }
    }

    fn sock_of(&self, conn: u64) -> Option<u16> {
        self.socks.lock().ok().and_then(|m| m.get(&conn).copied())
    }

    /// The counters of the connections that ended, summed.
    pub fn ended_stats(&self) -> IscsiStats {
        self.ended.lock().map(|g| *g).unwrap_or_default()
    }

    pub(crate) fn add_ended(&self, s: &IscsiStats) {
        if let Ok(mut g) = self.ended.lock() {
            g.add(s);
        }
    }

    /// The logical unit's requests waiting for the device thread (select on it to wake).
    pub fn requests(&self) -> &Receiver<IoReq> {
        &self.io_rx
    }

    /// The emulation module's completions (select on it to wake).
    pub fn completions(&self) -> &Receiver<EmuPacket> {
        self.emu.completions()
    }
}

/// Route the logical unit's requests and completions to their connections of `srv` (the
/// device thread calls this in its loop). Returns how many were routed.
pub fn pump<M: FileMap + Clone, A: FileAlloc<M>>(
    srv: &mut MultiServer<M, A>,
    drv: &mut Driver,
    sh: &IscsiShared,
) -> Result<usize, ServeError> {
    let mut n = 0;
    while let Ok(req) = sh.io_rx.try_recv() {
        n += 1;
        let gone = |req: IoReq| {
            let _ = req.reply.send(Err(buflet_scsi::IoError::Gone(
                "the connection is over".into(),
            )));
        };
        if sh.sock_of(req.conn) != Some(req.sock) {
            gone(req);
            continue;
        }
        let mut req = Some(req);
        srv.with_connection(drv, req.as_ref().map_or(0, |r| r.sock), |c, drv| {
            if let (Some(r), crate::server::App::Iscsi(a)) = (req.take(), &mut c.app) {
                if a.id() == r.conn {
                    a.on_io(drv, &mut c.stream, &c.file, r);
                } else {
                    req = Some(r);
                }
            }
        })?;
        if let Some(r) = req {
            gone(r);
        }
    }
    while let Ok(pkt) = sh.completions().try_recv() {
        n += 1;
        let Some(conn) = sh.conn_of_tag(pkt.tag()) else {
            continue;
        };
        let Some(sock) = sh.sock_of(conn) else {
            continue;
        };
        let mut pkt = Some(pkt);
        srv.with_connection(drv, sock, |c, drv| {
            if let crate::server::App::Iscsi(a) = &mut c.app {
                if a.id() == conn {
                    if let Some(p) = pkt.take() {
                        a.on_done(&mut c.stream, drv, p);
                    }
                }
            }
        })?;
    }
    Ok(n)
}
