//! Many TCP connections on one NIC: each client sends its own scenario (SYN, handshake ACK once
//! the NIC's SYN-ACK checks out, data paced by the NIC's ACKs and window, FIN), all clients
//! interleaved on the one wire, and the NAS serves them all with
//! [`buflet_nas::MultiServer`], each connection into its own file (its own extent of the disk
//! image). Then every file is read back and compared with its scenario's file.
//!
//! The device either listens (`MultiOptions::listen`: no socket is prepared; each SYN takes a
//! slot from the accept pool and each accepted socket's ISS is the listen's ISS plus the hash of
//! its 4-tuple, which the client checks in the SYN-ACK and then acknowledges) or, for replays,
//! gets one prepared socket per connection with that connection's own ISS (the capture's
//! server ISN, so the capture's ACKs are valid).
//!
//! Each client is a [`Sender`] like the single-connection run's, with two additions for
//! sharing one NIC: a client's bytes in flight are capped at its share of the NIC's buflet pool
//! (a real TCP's congestion window plays that part), and at most
//! [`MultiOptions::max_handshakes`] clients are between their SYN and the NIC's SYN-ACK at a
//! time (the NIC answers at most `HALF_OPEN_MAX` at once and drops the rest `LISTEN_FULL`).

use super::*;
use buflet_driver::ListenSpec;
use buflet_nas::multi::{ConnId, ConnSummary, MultiConfig, MultiServer};
use std::collections::HashMap;

/// Cycles a finished connection keeps its socket (the clients' last frames are all
/// acknowledged by then on a clean wire: none).
const LINGER: u64 = 0;

/// How to run many connections.
#[derive(Clone)]
pub struct MultiOptions {
    /// Backend, device configuration, named buffers and pages before scaling, block write
    /// size, retransmission timeout, write mode, pcap output.
    pub run: RunOptions,
    /// Listen with this template (its ISS is the base of every accepted socket's); `None`:
    /// one prepared socket per connection, each with its scenario's ISS.
    pub listen: Option<ListenSpec>,
    /// Clients between their SYN and the NIC's SYN-ACK at once, at most.
    pub max_handshakes: usize,
    /// Host bytes of named-buffer pages for all connections together.
    pub nb_memory: u64,
}

impl MultiOptions {
    /// Listening with the demo server's address, `iss` as the ISS base, MSS option `mss`.
    pub fn listening(run: RunOptions, iss: u32, mss: u16) -> Self {
        MultiOptions {
            run,
            listen: Some(ListenSpec {
                local_mac: frames::SERVER_MAC,
                vlan: 0,
                local_ip: frames::SERVER_IP,
                local_port: frames::SERVER_PORT,
                iss,
                rcv_buf: frames::RCV_BUF,
                mss,
                rcv_wscale: frames::RCV_WSCALE,
                flags: buflet_spec::SockFlags::empty(),
            }),
            max_handshakes: 8,
            nb_memory: buflet_nas::multi::DEFAULT_NB_MEMORY / 2,
        }
    }

    /// One prepared socket per connection (replays).
    pub fn prepared(run: RunOptions) -> Self {
        MultiOptions {
            listen: None,
            ..Self::listening(run, 0, 0)
        }
    }
}

/// One connection of a multi-connection run, as the JSON's `connections` list has it.
#[derive(Debug, Clone, Serialize)]
pub struct ConnReport {
    /// The client, "ip:port".
    pub client: String,
    /// Bytes of the file that landed (the stream's length for raw; the highest offset written
    /// for SMB2 and BFW1).
    pub bytes: u64,
    /// sha256 of the file as read back from the disk image.
    pub sha256: String,
    /// sha256 of the file the scenario should leave, known independently of the NIC.
    pub expected_sha256: String,
    /// The file read back is the expected one (and the connection did not fail).
    pub verified: bool,
    /// Bytes of the client-to-server stream the NIC delivered.
    pub stream_bytes: u64,
    /// Frames this client sent again.
    pub retransmits: u64,
    /// What went wrong with this connection, if anything.
    pub failure: Option<String>,
}

/// What a multi-connection run measured. Serialized as the CLI's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct MultiReport {
    /// "model" or "rtl".
    pub backend: String,
    /// Datapath width in bits.
    pub data_width: u32,
    /// "raw", "smb2" or "framed".
    pub protocol: Protocol,
    /// "listen" (accepted from a listen slot) or "prepared" (one SOCK_ADD per connection).
    pub sockets_from: &'static str,
    /// One object per TCP connection, in client order.
    pub connections: Vec<ConnReport>,
    /// Connections in the run.
    pub connection_count: usize,
    /// Connections whose file verified.
    pub connections_verified: usize,
    /// Sum of the files' bytes.
    pub bytes: u64,
    /// Sum of the streams' bytes.
    pub stream_bytes: u64,
    /// Every connection verified.
    pub verified: bool,
    /// Socket slots of the build (`NUM_SOCKETS`).
    pub sockets: u32,
    /// Named-buffer slots of the build (`NUM_NBS`), and each connection's share.
    pub num_nbs: u32,
    /// Named buffers each connection kept posted, and host pages per buffer.
    pub nbs_per_connection: usize,
    pub pages_per_nb: usize,
    /// Most connections open at once on the NAS.
    pub peak_connections: usize,
    /// Connections accepted from the listen slot (`CNT_ACCEPTS`).
    pub accepts: u64,
    /// SYNs dropped because the accept pool was empty or too many were half-open
    /// (`CNT_DROP_LISTEN_FULL`).
    pub listen_full_drops: u64,
    /// Frames that went through the socket lookup (`CNT_LOOKUPS`), engine cycles spent there
    /// (`CNT_LOOKUP_CYCLES`), and their ratio.
    pub lookups: u64,
    pub lookup_cycles: u64,
    pub lookup_cycles_per_frame: f64,
    /// Frames the clients put on the wire, retransmissions and window probes among them.
    pub frames_sent: u64,
    pub retransmits: u64,
    pub probes: u64,
    /// Frames the NIC transmitted (`CNT_TX_FRAMES`) and those the clients took (must agree).
    pub tx_frames: u64,
    pub tx_frames_seen: u64,
    /// Sum of the drop counters, and each by name.
    pub dropped: u64,
    pub drops: DropCounts,
    /// Device cycles.
    pub cycles: u64,
    /// Host-DRAM bytes moved per file byte, and bytes the CPU copied.
    pub dram_crossings_per_byte: f64,
    pub cpu_copied_bytes: u64,
    /// "p2p", "zerocopy", "splice" or "copy".
    #[serde(serialize_with = "mode_name")]
    pub mode: WriteMode,
    /// Free buflets after every socket was deleted, and the build's count (must agree).
    pub buflets_free_end: u32,
    pub num_buflets: u32,
    /// What went wrong; empty on a good run.
    pub failures: Vec<String>,
    /// Every connection verified and nothing else failed.
    pub passed: bool,
    pub wall_seconds: f64,
    pub sim_cycles_per_second: f64,
}

/// One client and what it knows of its connection.
struct Client {
    sc: Scenario,
    sender: Sender,
    peer: Peer,
    /// The NIC's SYN-ACK came and checked out (its ISS is in `sc.socket.iss`).
    synced: bool,
    last_activity: u64,
    expected_sha256: String,
    expected_len: u64,
    /// Where its file is on the disk.
    file: ExtentFile,
}

impl Client {
    /// Everything the client sends went and is acknowledged.
    fn finished(&self) -> bool {
        self.sender.pending.is_empty() && self.sender.unacked(&self.peer).is_none()
    }
}

/// Deliver every scenario on one NIC at once and check every file: see the module doc. The
/// scenarios' client 4-tuples must differ; with [`MultiOptions::listen`] their ISS is learned
/// from the NIC's SYN-ACK.
pub fn run_multi(scs: Vec<Scenario>, opt: &MultiOptions) -> Result<MultiReport, TbError> {
    let started = Instant::now();
    let ro = &opt.run;
    let n = scs.len();
    if n == 0 {
        return Err(TbError::Input {
            path: "scenarios".into(),
            msg: "no connection to run".into(),
        });
    }
    let protocol = scs[0].protocol;
    let block = buflet_fs::BLOCK;
    // Each client's file: its own extent of the image, one after the other.
    let disk_start = 1u64 << 20;
    let mut at = disk_start;
    let mut clients = Vec::with_capacity(n);
    let mut by_addr: HashMap<([u8; 4], u16), usize> = HashMap::new();
    for sc in scs {
        let expected = sc.expected_file()?;
        let cap = expected.len().div_ceil(block) * block + block;
        let file = ExtentFile {
            disk_start: at,
            capacity: cap,
        };
        at += cap;
        let key = (sc.socket.remote_ip, sc.socket.remote_port);
        if by_addr.insert(key, clients.len()).is_some() {
            return Err(TbError::Input {
                path: "scenarios".into(),
                msg: format!(
                    "two connections from {}:{}",
                    std::net::Ipv4Addr::from(key.0),
                    key.1
                ),
            });
        }
        let mut sender = Sender::new(&sc);
        if ro.pcap_out.is_some() {
            sender.log = Some(Vec::new());
        }
        clients.push(Client {
            sender,
            peer: Peer::default(),
            synced: opt.listen.is_none(),
            last_activity: 0,
            expected_sha256: expected.sha256_hex(),
            expected_len: expected.len(),
            file,
            sc,
        });
    }
    let (_scratch, image) =
        crate::scratch_image("buflet-multi-", &format!("{}.img", ro.backend.name()))?;
    let disk = BlockDevice::create(&image, at + (1 << 20))?;
    let kind = match protocol {
        Protocol::Raw => AppKind::Raw,
        Protocol::Smb2 => AppKind::Smb2,
        Protocol::Framed => AppKind::Framed,
    };
    // As MultiServer::new caps it: SMB2 and BFW1 keep two named buffers per connection.
    let min_nbs = if protocol == Protocol::Raw { 1 } else { 2 };
    let max_connections = n
        .min(ro.config.num_sockets as usize)
        .min(ro.config.num_nbs as usize / min_nbs)
        .max(1);
    let mcfg = MultiConfig {
        kind,
        server: ServerConfig {
            nbs: ro.nbs,
            pages_per_nb: ro.pages_per_nb,
            mode: ro.mode,
            max_retries: ro.max_retries,
            write_chunk: ro.write_chunk,
            nb_timeout: None,
            answers: false,
            cow: Default::default(),
            read_mode: None,
            iscsi: None,
        },
        max_connections,
        linger_cycles: LINGER,
        nb_memory: opt.nb_memory,
    };
    let conn_cfg = mcfg.per_connection(&conn_info(&ro.config));
    let nb_bytes = (max_connections * conn_cfg.nbs * conn_cfg.pages_per_nb * 4096) as u64;
    // Named buffers, plus each connection's bounce blocks and lists, plus the rings.
    let mem_size =
        (nb_bytes + max_connections as u64 * (64 << 10) + (16 << 20)).next_power_of_two();
    let mut bench = Bench::builder(ro.backend)
        .config(ro.config.clone())
        .mem(mem_size)
        .disk(disk)
        .trace(ro.trace.clone())
        .trace_window(ro.trace_from, ro.trace_cycles)
        .build()?;
    let b = &mut bench;
    let files: HashMap<([u8; 4], u16), ExtentFile> = clients
        .iter()
        .map(|c| ((c.sc.socket.remote_ip, c.sc.socket.remote_port), c.file))
        .collect();
    let alloc = move |id: &ConnId| -> Result<Store, String> {
        files
            .get(&(id.peer_ip, id.peer_port))
            .map(|f| Store::Extent(*f))
            .ok_or_else(|| format!("{} is no client of this run", id.peer()))
    };
    let mut srv = MultiServer::new(&b.drv, mcfg, alloc);
    if let Some(l) = &opt.listen {
        srv.listen(&mut b.drv, l)?;
        // SOCK_POOL has no completion: let the device take the pool before the first SYN.
        let pooled = b.drv.pooled_sockets() as u32;
        for _ in 0..1000 {
            if b.drv.rd(reg::ACCEPT_POOL) >= pooled {
                break;
            }
            b.drv.run(256);
        }
    } else {
        for c in &clients {
            srv.add(&mut b.drv, &c.sc.socket)?;
        }
    }
    let rto = ro.rto_cycles;
    // The NIC's buflet pool above its reserve, in window bytes: the clients' shares.
    let pool_window = {
        let nb = u64::from(b.drv.info.num_buflets);
        (nb - nb / buflet_spec::param::POOL_RESERVE_DIV) * u64::from(b.drv.info.buflet_bytes) / 2
    };
    let mut nic_log: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut seen = 0u64;
    let mut next_start = 0usize;
    let mut active: Vec<usize> = Vec::new();
    let mut summaries: Vec<Option<ConnSummary<Store>>> = (0..n).map(|_| None).collect();
    let mut ended = 0usize;
    let mut last_state = (0i64, 0u64, 0u64, 0usize, 0usize);
    let mut last_progress = b.cycles();
    let mut handshaking = 0usize;
    loop {
        // What the NIC transmitted, to the client it is for.
        let now = b.cycles();
        while let Some(f) = b.wire.recv() {
            seen += 1;
            if ro.pcap_out.is_some() {
                nic_log.push((now, f.clone()));
            }
            let Some((t, _)) = tcp_info(&f) else {
                // An ARP reply is no part of any connection; anything else is checked by the
                // client it would be for, so take_nic_frame of client 0 says what is wrong.
                take_nic_frame(&f, &clients[0].sc, &clients[0].sender, &mut Peer::default())?;
                continue;
            };
            let i = *by_addr.get(&(t.dst_ip, t.dst_port)).ok_or_else(|| {
                TbError::Protocol(format!(
                    "the NIC transmitted a frame to {}:{}, no client of this run",
                    std::net::Ipv4Addr::from(t.dst_ip),
                    t.dst_port
                ))
            })?;
            let c = &mut clients[i];
            if t.syn && t.ack && !c.synced {
                let l = opt
                    .listen
                    .as_ref()
                    .expect("only listening runs learn the ISS");
                let want = frames::accepted_iss(
                    l.iss,
                    c.sc.socket.remote_ip,
                    c.sc.socket.remote_port,
                    l.local_ip,
                    l.local_port,
                );
                if t.seq != want {
                    return Err(TbError::Protocol(format!(
                        "the NIC's SYN-ACK to {}:{} has SEQ {:#010x}, expected the listen's ISS + hash = {want:#010x}",
                        std::net::Ipv4Addr::from(t.dst_ip),
                        t.dst_port,
                        t.seq
                    )));
                }
                c.sc.set_iss(t.seq);
                c.synced = true;
                handshaking = handshaking.saturating_sub(1);
            }
            let before = c.peer.acked;
            take_nic_frame(&f, &c.sc, &c.sender, &mut c.peer)?;
            c.peer.seen += 1;
            c.last_activity = now;
            if c.peer.acked > before && before.is_some() {
                let view = capped(&c.peer, pool_window, active.len());
                c.sender.on_ack_advance(b, &c.sc, &view);
            }
        }
        // New clients, a few handshakes at a time.
        while next_start < n && handshaking < opt.max_handshakes.max(1) {
            let c = &mut clients[next_start];
            c.last_activity = b.cycles();
            if !c.synced {
                handshaking += 1;
            }
            active.push(next_start);
            next_start += 1;
        }
        // Every active client sends what fits, or retransmits after a silence.
        let share = active.len();
        let wire_idle = b.wire.pending() == 0;
        let now = b.cycles();
        for &i in &active {
            let c = &mut clients[i];
            let view = capped(&c.peer, pool_window, share);
            if c.sender.send_ready(b, &c.sc, &view) > 0 {
                c.last_activity = now;
            } else if now - c.last_activity >= rto
                && (wire_idle || now - c.last_activity >= 8 * rto)
                && !c.finished()
            {
                c.sender.on_timeout(b, &c.sc, &view);
                c.last_activity = now;
            }
        }
        active.retain(|&i| !(clients[i].synced && clients[i].finished()));

        let polled = srv.poll(&mut b.drv, STEP)?;
        if let Some(c) = polled
            .unhandled
            .iter()
            .find(|c| c.status != buflet_spec::Status::Ok)
        {
            return Err(TbError::Protocol(format!(
                "completion kind {} for request {} failed with status {} ({})",
                c.kind,
                c.opcode,
                c.status,
                c.status.name()
            )));
        }
        for s in srv.take_finished() {
            let Some(&i) = by_addr.get(&(s.id.peer_ip, s.id.peer_port)) else {
                return Err(TbError::Protocol(format!(
                    "the NAS served a connection from {}, no client of this run",
                    s.id.peer()
                )));
            };
            if summaries[i].is_some() {
                return Err(TbError::Protocol(format!(
                    "the NAS served {} twice",
                    s.id.peer()
                )));
            }
            summaries[i] = Some(s);
            ended += 1;
        }
        if let Some(p) = &ro.progress {
            let (_, w) = srv.progress();
            let done: u64 = summaries.iter().flatten().map(|s| s.written).sum();
            p(done + w, clients.iter().map(|c| c.expected_len).sum());
        }
        if ended == n && next_start == n && active.is_empty() && b.wire.pending() == 0 {
            break;
        }
        let (recv, written) = srv.progress();
        let acked: i64 = clients.iter().map(|c| c.peer.acked.unwrap_or(0)).sum();
        let state = (acked, recv, written, ended, next_start);
        if state != last_state {
            last_state = state;
            last_progress = b.cycles();
        } else if b.cycles() - last_progress > STALL_CYCLES {
            let d = drops(&mut b.drv);
            let open: Vec<String> = srv
                .open_sockets()
                .take(4)
                .filter_map(|s| srv.connection(s).map(|c| (s, c)))
                .map(|(s, c)| {
                    let st = &c.stream;
                    format!(
                        "socket {s}: {} bytes received, eof {:?}, {} written, {} buffers posted, {} held, {} writes in flight",
                        st.received(),
                        st.eof,
                        c.written(),
                        st.posted_count(),
                        st.held_count(),
                        st.writes_in_flight()
                    )
                })
                .collect();
            return Err(TbError::Stalled(format!(
                "no progress for {STALL_CYCLES} cycles: {ended} of {n} connections ended, {} clients active, {} open on the NAS ({:?}; CNT_ACCEPTS {}, ACCEPT_POOL {}, HALF_OPEN {}), drops {:?}; {}",
                active.len(),
                srv.open_connections(),
                srv.stats(),
                b.drv.counter(reg::CNT_ACCEPTS),
                b.drv.rd(reg::ACCEPT_POOL),
                b.drv.rd(reg::HALF_OPEN),
                d.nonzero(),
                open.join("; ")
            )));
        }
    }

    // Let the NIC answer the last frames (nothing should come: every socket is deleted).
    let mut quiet_since = b.cycles();
    while b.cycles() - quiet_since < SETTLE_CYCLES {
        let polled = srv.poll(&mut b.drv, STEP)?;
        let mut busy = b.wire.pending() > 0 || polled.completions > 0;
        while let Some(f) = b.wire.recv() {
            seen += 1;
            if ro.pcap_out.is_some() {
                nic_log.push((b.cycles(), f));
            }
            busy = true;
        }
        if busy {
            quiet_since = b.cycles();
        }
    }
    srv.unlisten(&mut b.drv)?;

    if let Some(path) = &ro.pcap_out {
        let mut log = nic_log;
        for c in &mut clients {
            log.extend(c.sender.log.take().unwrap_or_default());
        }
        log.sort_by_key(|(cy, _)| *cy);
        write_pcap(path, &log, ro.config.clock_mhz)?;
    }
    let stats = srv.stats();
    let conn_cfg = srv.connection_config().clone();
    let cycles = b.cycles();
    let counters: Counters = b.drv.counters();
    let drops = DropCounts(counters.drops.clone());
    let lookups = u64::from(b.drv.counter(reg::CNT_LOOKUPS));
    let lookup_cycles = u64::from(b.drv.counter(reg::CNT_LOOKUP_CYCLES));
    let accepts = u64::from(b.drv.counter(reg::CNT_ACCEPTS));
    let mut failures = Vec::new();
    let mut conns = Vec::with_capacity(n);
    for (c, s) in clients.iter().zip(&summaries) {
        let client = format!(
            "{}:{}",
            std::net::Ipv4Addr::from(c.sc.socket.remote_ip),
            c.sc.socket.remote_port
        );
        let Some(s) = s else {
            failures.push(format!("{client}: the NAS never ended the connection"));
            conns.push(ConnReport {
                client,
                bytes: 0,
                sha256: String::new(),
                expected_sha256: c.expected_sha256.clone(),
                verified: false,
                stream_bytes: 0,
                retransmits: c.sender.retransmits,
                failure: Some("never ended".into()),
            });
            continue;
        };
        let sha256 = Store::Extent(c.file).sha256_back(&b.drv.env.disk, s.file_len)?;
        let mut failure = s.failure.clone();
        if s.reset {
            failure.get_or_insert_with(|| "the peer reset the connection".into());
        }
        let verified = failure.is_none() && sha256 == c.expected_sha256 && c.expected_len > 0;
        if !verified {
            failures.push(format!(
                "{client}: {}",
                failure.clone().unwrap_or_else(|| if c.expected_len == 0 {
                    "nothing to verify: the reference file is empty".into()
                } else {
                    format!(
                        "the disk holds {} bytes with sha256 {sha256}, expected {} bytes with sha256 {}",
                        s.file_len, c.expected_len, c.expected_sha256
                    )
                })
            ));
        }
        conns.push(ConnReport {
            client,
            bytes: s.file_len,
            sha256,
            expected_sha256: c.expected_sha256.clone(),
            verified,
            stream_bytes: s.stream_bytes,
            retransmits: c.sender.retransmits,
            failure,
        });
    }
    let num_buflets = b.drv.info.num_buflets;
    if counters.free_buflets != num_buflets {
        failures.push(format!(
            "{} of {} buflets free after every SOCK_DEL: {} leaked",
            counters.free_buflets,
            num_buflets,
            num_buflets.saturating_sub(counters.free_buflets)
        ));
    }
    let tx_frames_seen = seen;
    if counters.tx_frames as u64 != tx_frames_seen {
        failures.push(format!(
            "CNT_TX_FRAMES is {} but {tx_frames_seen} frames came out of the NIC",
            counters.tx_frames
        ));
    }
    if opt.listen.is_some() && accepts != n as u64 {
        failures.push(format!("CNT_ACCEPTS is {accepts}, expected {n}"));
    }
    let verified_count = conns.iter().filter(|c| c.verified).count();
    let bytes: u64 = conns.iter().map(|c| c.bytes).sum();
    let s = b.drv.env.mem.stats();
    let wall = started.elapsed().as_secs_f64();
    Ok(MultiReport {
        backend: b.drv.backend().to_string(),
        data_width: b.drv.info.data_width,
        protocol,
        sockets_from: if opt.listen.is_some() {
            "listen"
        } else {
            "prepared"
        },
        connection_count: n,
        connections_verified: verified_count,
        bytes,
        stream_bytes: conns.iter().map(|c| c.stream_bytes).sum(),
        verified: verified_count == n,
        sockets: b.drv.info.num_sockets,
        num_nbs: b.drv.info.num_nbs,
        nbs_per_connection: conn_cfg.nbs,
        pages_per_nb: conn_cfg.pages_per_nb,
        peak_connections: stats.peak,
        accepts,
        listen_full_drops: u64::from(drops.get("LISTEN_FULL")),
        lookups,
        lookup_cycles,
        lookup_cycles_per_frame: if lookups > 0 {
            lookup_cycles as f64 / lookups as f64
        } else {
            0.0
        },
        frames_sent: clients.iter().map(|c| c.sender.frames_sent).sum(),
        retransmits: clients.iter().map(|c| c.sender.retransmits).sum(),
        probes: clients.iter().map(|c| c.sender.probes).sum(),
        tx_frames: counters.tx_frames as u64,
        tx_frames_seen,
        dropped: drops.total(),
        drops,
        cycles,
        dram_crossings_per_byte: if bytes > 0 {
            s.total() as f64 / bytes as f64
        } else {
            0.0
        },
        cpu_copied_bytes: s.cpu_copied,
        mode: ro.mode,
        buflets_free_end: counters.free_buflets,
        num_buflets,
        passed: failures.is_empty() && verified_count == n,
        failures,
        connections: conns,
        wall_seconds: wall,
        sim_cycles_per_second: cycles as f64 / wall.max(1e-9),
    })
}

/// The device facts [`MultiConfig::per_connection`] scales by, from a configuration (before the
/// device exists: host memory is sized from them).
pub fn conn_info(cfg: &DeviceConfig) -> buflet_driver::DeviceInfo {
    buflet_driver::DeviceInfo {
        num_nbs: cfg.num_nbs,
        num_buflets: cfg.num_buflets,
        buflet_bytes: cfg.buflet_bytes,
        page_bytes: 4096,
        ..Default::default()
    }
}

/// The window a client may fill: the NIC's, capped at its share of the NIC's buflet pool among
/// `sharing` clients (at least 4 full segments), as a congestion window would.
fn capped(p: &Peer, pool_window: u64, sharing: usize) -> Peer {
    let share = (pool_window / sharing.max(1) as u64).max(4 * 1460);
    Peer {
        acked: p.acked,
        window: p.window.min(share),
        shift: p.shift,
        seen: p.seen,
    }
}
