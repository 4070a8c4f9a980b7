//! `buflet peer --connections N`: N smoltcp connections at once, through the seeded lossy link,
//! to a NIC that listens.
//!
//! One smoltcp [`Interface`] (the client address, [`CLIENT_IP`]) holds N TCP sockets, each
//! connecting from its own port (40000 + i) to the NIC's listen slot and uploading its own
//! seeded bytes (`frames::payload(frames::connection_seed(seed, i), bytes)`) with Reno
//! congestion control, then closing. Each socket's send buffer is its share of the NIC's buflet
//! pool, so the connections together never have more bytes in flight than the NIC can hold. The NIC accepts every connection from its accept pool;
//! the NAS ([`buflet_nas::MultiServer`]) writes each connection's stream zero-copy into its own
//! extent of the disk image, and ends it (SOCK_DEL) once the stream is finished and written.
//! Every extent is then read back and compared with its connection's bytes.
//!
//! Time runs as in the one-connection run ([`super`]): smoltcp's clock is the device clock plus
//! the idle time skipped to its next timer.

use super::*;
use crate::runner::ConnReport;
use buflet_driver::ListenSpec;
use buflet_nas::multi::{ConnId, ConnSummary, MultiConfig, MultiServer};
use std::collections::HashMap;

/// Device cycles a finished connection keeps its socket, so that the NIC acknowledges a FIN the
/// peer sends again when the link lost the NIC's ACK of it (the peer's clock jumps to its
/// retransmission timer after [`SETTLE`] quiet cycles: dozens of retransmissions fit).
const LINGER: u64 = 400_000;

/// What a run of many connections measured. Serialized as the CLI's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct PeerManyReport {
    /// "model" or "rtl".
    pub backend: String,
    /// Datapath width in bits.
    pub data_width: u32,
    /// One object per TCP connection, in port order.
    pub connections: Vec<ConnReport>,
    /// Connections in the run.
    pub connection_count: usize,
    /// Connections whose file verified.
    pub connections_verified: usize,
    /// Bytes each connection sent, and all of them together.
    pub bytes_per_connection: u64,
    pub bytes: u64,
    /// Every connection verified.
    pub verified: bool,
    /// Every connection verified and nothing else failed.
    pub passed: bool,
    /// What went wrong; empty on a good run.
    pub failures: Vec<String>,
    /// Socket slots of the build (`NUM_SOCKETS`).
    pub sockets: u32,
    /// Connections accepted (`CNT_ACCEPTS`); SYNs dropped with the accept pool empty or too
    /// many half-open (`CNT_DROP_LISTEN_FULL`).
    pub accepts: u64,
    pub listen_full_drops: u64,
    /// `CNT_LOOKUP_CYCLES / CNT_LOOKUPS`.
    pub lookup_cycles_per_frame: f64,
    /// Named buffers each connection kept posted, and host pages per buffer.
    pub nbs_per_connection: usize,
    pub pages_per_nb: usize,
    /// Most connections open at once on the NAS.
    pub peak_connections: usize,
    /// What the link did in each direction.
    pub link: LinkStats,
    /// Segments the peer sent again, over all connections.
    pub peer_retransmissions: u64,
    /// Frames the NIC transmitted (`CNT_TX_FRAMES`), segments it held out of order.
    pub nic_tx_frames: u64,
    pub ooo_held: u64,
    /// Device drop counters by spec name.
    pub drops: BTreeMap<String, u64>,
    /// Device clock cycles, and simulated time (device time plus idle time skipped).
    pub cycles: u64,
    pub sim_time_ms: f64,
    /// Free buflets after every socket was deleted, and the build's count.
    pub buflets_free_end: u32,
    pub num_buflets: u32,
}

/// Per-connection state on the peer's side.
struct Conn {
    handle: smoltcp::iface::SocketHandle,
    port: u16,
    source: Vec<u8>,
    sent: usize,
    closed: bool,
    retx: RetxCounter,
    file: ExtentFile,
}

/// Run `connections` uploads at once to the device build with `sockets` socket slots (`None`:
/// the default build): see the module doc. `opts.bytes` is each connection's;
/// `opts.read_back` is not supported here.
pub fn run_many(
    opts: &PeerOpts,
    connections: usize,
    sockets: Option<u32>,
) -> Result<PeerManyReport, PeerError> {
    check_opts(opts)?;
    if opts.read_back {
        return Err(PeerError::Options(
            "--read-back serves one connection".into(),
        ));
    }
    if connections == 0 || connections > 25_536 {
        return Err(PeerError::Options(format!(
            "connections {connections} (expected 1..=25536)"
        )));
    }
    let n = connections;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x7065_6572_6d61_6e79);
    let listen_iss: u32 = rng.gen();
    let smol_seed: u64 = rng.gen();
    let imp = opts.impair();
    let mut to_nic = Dir::new(rng.gen(), imp);
    let mut to_peer = Dir::new(rng.gen(), imp);
    let mut bad_nic_frames = 0u64;

    let block = 4096u64;
    let file_cap = opts.bytes.div_ceil(block) * block + block;
    let disk_start = 1u64 << 20;
    let cfg = match sockets {
        Some(s) => buflet_platform::DeviceConfig::with_sockets(opts.width, s),
        None => buflet_platform::DeviceConfig::with_width(opts.width),
    };
    let max_connections = n.min(cfg.num_sockets as usize).max(1);
    let mcfg = MultiConfig {
        kind: AppKind::Raw,
        server: ServerConfig {
            nbs: NBS,
            pages_per_nb: PAGES_PER_NB,
            mode: opts.mode,
            read_mode: None,
            iscsi: None,
            max_retries: None,
            write_chunk: WRITE_CHUNK,
            nb_timeout: None,
            answers: false,
            cow: opts.cow,
        },
        max_connections,
        linger_cycles: LINGER,
        nb_memory: buflet_nas::multi::DEFAULT_NB_MEMORY / 2,
    };
    let conn_cfg = mcfg.per_connection(&crate::runner::conn_info(&cfg));
    let nb_bytes = (max_connections * conn_cfg.nbs * conn_cfg.pages_per_nb * 4096) as u64;
    let mem_size =
        (nb_bytes + max_connections as u64 * (64 << 10) + (16 << 20)).next_power_of_two();
    let mut bench = Bench::builder(opts.backend)
        .config(cfg)
        .mem(mem_size)
        .blank_disk(disk_start + n as u64 * file_cap + (1 << 20))
        .name("peer-many")
        .build()?;
    let Bench { drv, wire, .. } = &mut bench;
    let clock_mhz = u64::from(drv.info.clock_mhz.max(1));

    // Each connection's file: its own extent, by its port.
    let files: HashMap<u16, ExtentFile> = (0..n)
        .map(|i| {
            (
                CLIENT_PORT.wrapping_add(i as u16),
                ExtentFile {
                    disk_start: disk_start + i as u64 * file_cap,
                    capacity: file_cap,
                },
            )
        })
        .collect();
    let alloc_files = files.clone();
    let alloc = move |id: &ConnId| -> Result<ExtentFile, String> {
        if id.peer_ip != CLIENT_IP {
            return Err(format!("{} is not the peer", id.peer()));
        }
        alloc_files
            .get(&id.peer_port)
            .copied()
            .ok_or_else(|| format!("{} is no connection of the peer", id.peer()))
    };
    let pool_window = {
        let nb = u64::from(drv.info.num_buflets);
        (nb - nb / buflet_spec::param::POOL_RESERVE_DIV) * u64::from(drv.info.buflet_bytes) / 2
    };
    let rcv_share = (pool_window * 2 / 3 / n as u64).max(4 * u64::from(MSS));
    let mut srv = MultiServer::new(drv, mcfg, alloc);
    srv.listen(
        drv,
        &ListenSpec {
            local_mac: SERVER_MAC,
            vlan: 0,
            local_ip: SERVER_IP,
            local_port: SERVER_PORT,
            iss: listen_iss,
            // Each connection's receive buffer is its share of the buflet pool too: bytes the
            // NIC acknowledged wait in buflets until a named buffer takes them, and with every
            // connection's full RCV_BUF the pool runs dry (zero windows, see tx_buf below).
            rcv_buf: u32::try_from(rcv_share).unwrap_or(RCV_BUF).min(RCV_BUF),
            mss: MSS,
            rcv_wscale: frames::RCV_WSCALE,
            flags: buflet_spec::SockFlags::empty(),
        },
    )?;

    // The peer: one interface, one socket per connection.
    let mut clock = Clock {
        clock_mhz,
        skip_us: 0,
    };
    let mut phy = PeerPhy::new(PEER_MTU);
    let mut iface = client_iface(&mut phy, smol_seed, clock.now(drv.cycles()));
    let mut sockets = SocketSet::new(Vec::new());
    // Each socket's send buffer is its share of the NIC's buflet pool (in window bytes, less a
    // third for the buflets out-of-order segments fill partly), at least four segments: the
    // connections together never have more in flight than the pool holds. With more, the pool
    // runs dry, the NIC advertises zero windows and sends no window update (the peer must
    // probe), and a smoltcp retransmission timeout that finds the window closed leaves the
    // socket with no timer at all: it would wait forever.
    let tx_buf = ((pool_window * 2 / 3 / n as u64) as usize)
        .clamp(4 * usize::from(MSS), PEER_TX_BUF)
        .min((opts.bytes as usize).max(4096));
    let mut conns: Vec<Conn> = Vec::with_capacity(n);
    for i in 0..n {
        let port = CLIENT_PORT.wrapping_add(i as u16);
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; PEER_RX_BUF]),
            tcp::SocketBuffer::new(vec![0u8; tx_buf]),
        );
        s.set_congestion_control(tcp::CongestionControl::Reno);
        let handle = sockets.add(s);
        sockets
            .get_mut::<tcp::Socket>(handle)
            .connect(
                iface.context(),
                (IpAddress::Ipv4(Ipv4Address::from(SERVER_IP)), SERVER_PORT),
                port,
            )
            .map_err(|e| PeerError::Peer(format!("connect from port {port}: {e}")))?;
        conns.push(Conn {
            handle,
            port,
            source: frames::payload(frames::connection_seed(opts.seed, i), opts.bytes as usize),
            sent: 0,
            closed: false,
            retx: RetxCounter::default(),
            file: files[&port],
        });
    }
    let by_port: HashMap<u16, usize> = conns.iter().enumerate().map(|(i, c)| (c.port, i)).collect();

    let mut summaries: Vec<Option<ConnSummary<ExtentFile>>> = (0..n).map(|_| None).collect();
    let mut ended = 0usize;
    let mut quiet_since = drv.cycles();
    let mut progress_key = (0u64, 0u64, 0u64, 0usize);
    let mut progress_us = clock.micros(drv.cycles());
    let mut progress_cycles = drv.cycles();
    let mut last_delivered = drv.counter(reg::CNT_DELIVERED_BYTES);
    // The NIC's last ACK number and window field to each port (for a stall's report).
    let mut last_win: HashMap<u16, (u32, u16, bool)> = HashMap::new();

    loop {
        let now = clock.now(drv.cycles());
        iface.poll(now, &mut phy, &mut sockets);
        let mut acked_total = 0u64;
        for c in &mut conns {
            let s = sockets.get_mut::<tcp::Socket>(c.handle);
            if c.sent < c.source.len() && s.can_send() {
                c.sent += s
                    .send_slice(&c.source[c.sent..])
                    .map_err(|e| PeerError::Peer(format!("send on port {}: {e}", c.port)))?;
            }
            if c.sent == c.source.len() && !c.closed && s.may_send() {
                s.close();
                c.closed = true;
            }
            acked_total += (c.sent - s.send_queue()) as u64;
        }
        iface.poll(now, &mut phy, &mut sockets);

        // Peer -> link -> NIC.
        let mut active = !phy.tx.is_empty();
        for ip in phy.tx.drain(..) {
            if let Some(seg) = peer_seg(&ip) {
                if let Some(&i) = by_port.get(&seg.src_port) {
                    conns[i].retx.see(&ip);
                }
            }
            to_nic.offer(eth_wrap(CLIENT_MAC, SERVER_MAC, &ip));
        }
        for f in to_nic.take() {
            wire.send(f);
        }

        // The NIC and the NAS.
        let polled = srv.poll(drv, STEP)?;
        active |= polled.completions > 0;
        if let Some(c) = polled.unhandled.iter().find(|c| c.status != Status::Ok) {
            return Err(PeerError::Device(format!(
                "completion kind {} for request {} failed with status {} ({})",
                c.kind,
                c.opcode,
                c.status,
                c.status.name()
            )));
        }
        for s in srv.take_finished() {
            let i = *by_port.get(&s.id.peer_port).ok_or_else(|| {
                PeerError::Device(format!(
                    "the NAS served {}, no connection of the peer",
                    s.id.peer()
                ))
            })?;
            if summaries[i].replace(s).is_some() {
                return Err(PeerError::Device(format!(
                    "the NAS served port {} twice",
                    conns[i].port
                )));
            }
            ended += 1;
        }
        let delivered = drv.counter(reg::CNT_DELIVERED_BYTES);
        if delivered != last_delivered {
            last_delivered = delivered;
            active = true;
        }

        // NIC -> link -> peer.
        while let Some(f) = wire.recv() {
            active = true;
            if let Some((t, _)) = crate::pcap::tcp_info(&f) {
                last_win.insert(t.dst_port, (t.ack_num, t.window, t.syn));
            }
            to_peer.offer(f);
        }
        phy.receive(&mut to_peer, &mut bad_nic_frames);

        let all_closed = conns.iter().all(|c| {
            let s = sockets.get::<tcp::Socket>(c.handle);
            c.closed && s.send_queue() == 0
        });
        if ended == n && all_closed {
            break;
        }

        // Progress and stall detection.
        let cycles = drv.cycles();
        let now_us = clock.micros(cycles);
        let (recv, written) = srv.progress();
        let key = (acked_total, recv, written, ended);
        if key != progress_key {
            progress_key = key;
            progress_us = now_us;
            progress_cycles = cycles;
        }
        // The stall report, built only when the run stalls (it reads every counter).
        macro_rules! stalled {
            ($why:expr $(,)?) => {{
                let stuck: Vec<String> = conns
                    .iter()
                    .filter(|c| {
                        let s = sockets.get::<tcp::Socket>(c.handle);
                        !(c.closed && s.send_queue() == 0)
                    })
                    .take(4)
                    .map(|c| {
                        let s = sockets.get::<tcp::Socket>(c.handle);
                        format!(
                            "port {}: {} with {} of {} bytes queued, {} unacknowledged; the NIC's last (ACK, window, SYN) {:?}",
                            c.port,
                            s.state(),
                            c.sent,
                            c.source.len(),
                            s.send_queue(),
                            last_win.get(&c.port)
                        )
                    })
                    .collect();
                let nonzero: Vec<_> = drv
                    .counters()
                    .drops
                    .into_iter()
                    .filter(|(_, v)| *v > 0)
                    .collect();
                    PeerError::Stalled {
                    sim_ms: now_us as f64 / 1000.0,
                    cycles,
                    detail: format!(
                        "{}; {ended} of {n} connections ended, {} open on the NAS, {acked_total} bytes acknowledged to the peer, {recv} received and {written} written on open connections; {}; drops {:?}",
                        $why,
                        srv.open_connections(),
                        stuck.join("; "),
                        nonzero
                    ),
                }
            }};
        }
        if now_us - progress_us > NO_PROGRESS_US {
            return Err(stalled!("no progress for 900 simulated seconds"));
        }
        if cycles - progress_cycles > NO_PROGRESS_CYCLES {
            return Err(stalled!("no progress for 100M device cycles"));
        }
        if now_us > MAX_SIM_US {
            return Err(stalled!("the run exceeded a simulated day"));
        }

        // Quiet: nothing on the wire or in the device's queues.
        if active || wire.pending() > 0 || !phy.rx.is_empty() {
            quiet_since = cycles;
            continue;
        }
        if cycles - quiet_since < SETTLE {
            continue;
        }
        if to_nic.in_flight() > 0 || to_peer.in_flight() > 0 {
            to_nic.flush();
            to_peer.flush();
            for f in to_nic.take() {
                wire.send(f);
            }
            phy.receive(&mut to_peer, &mut bad_nic_frames);
            quiet_since = cycles;
            continue;
        }
        match iface.poll_delay(clock.now(cycles), &sockets) {
            Some(d) if d > Duration::ZERO => {
                clock.skip_us += d.total_micros() as i64;
                for c in &mut conns {
                    c.retx.skip();
                }
                quiet_since = cycles;
            }
            Some(_) => {}
            None => {
                if cycles - quiet_since > IDLE_LIMIT {
                    return Err(stalled!(
                        "the NIC and the link are idle and the peer has no timer pending",
                    ));
                }
            }
        }
    }

    // Frames still on the wire or in the receive pipeline hold buflets until dropped.
    for _ in 0..10_000 {
        if wire.pending() == 0 {
            break;
        }
        drv.run(STEP);
    }
    drv.run(SETTLE);
    while wire.recv().is_some() {}
    srv.unlisten(drv)?;
    let num_buflets = drv.info.num_buflets;
    let counters = drv.counters();
    let lookups = drv.counter(reg::CNT_LOOKUPS);
    let lookup_cycles = drv.counter(reg::CNT_LOOKUP_CYCLES);
    let accepts = u64::from(drv.counter(reg::CNT_ACCEPTS));
    let mut failures = Vec::new();
    let mut reports = Vec::with_capacity(n);
    for (c, s) in conns.iter().zip(&summaries) {
        let client = format!("{}:{}", std::net::Ipv4Addr::from(CLIENT_IP), c.port);
        let expected_sha256 = sha256_hex(&c.source);
        let (bytes, stream_bytes, mut failure) = match s {
            Some(s) => (s.file_len, s.stream_bytes, s.failure.clone()),
            None => (0, 0, Some("the NAS never ended the connection".to_string())),
        };
        if s.as_ref().is_some_and(|s| s.reset) {
            failure.get_or_insert_with(|| "the peer reset the connection".into());
        }
        let mut back = vec![0u8; bytes as usize];
        drv.env.disk.read_bytes(c.file.disk_start, &mut back)?;
        let sha256 = sha256_hex(&back);
        let verified = failure.is_none() && sha256 == expected_sha256 && !c.source.is_empty();
        if !verified {
            failures.push(format!(
                "{client}: {}",
                failure.clone().unwrap_or_else(|| format!(
                    "the disk holds {bytes} bytes with sha256 {sha256}, expected {} bytes with sha256 {expected_sha256}",
                    c.source.len()
                ))
            ));
        }
        reports.push(ConnReport {
            client,
            bytes,
            sha256,
            expected_sha256,
            verified,
            stream_bytes,
            retransmits: c.retx.count,
            failure,
        });
    }
    if counters.free_buflets != num_buflets {
        failures.push(format!(
            "{} of {num_buflets} buflets free after every SOCK_DEL: buflets leaked",
            counters.free_buflets
        ));
    }
    if accepts != n as u64 {
        failures.push(format!("CNT_ACCEPTS is {accepts}, expected {n}"));
    }
    let cycles = drv.cycles();
    let verified_count = reports.iter().filter(|r| r.verified).count();
    let stats = srv.stats();
    Ok(PeerManyReport {
        backend: drv.backend().to_string(),
        data_width: drv.info.data_width,
        connection_count: n,
        connections_verified: verified_count,
        bytes_per_connection: opts.bytes,
        bytes: reports.iter().map(|r| r.bytes).sum(),
        verified: verified_count == n,
        passed: verified_count == n && failures.is_empty(),
        failures,
        sockets: drv.info.num_sockets,
        accepts,
        listen_full_drops: counters
            .drops
            .iter()
            .find(|(name, _)| *name == "LISTEN_FULL")
            .map_or(0, |&(_, v)| u64::from(v)),
        lookup_cycles_per_frame: if lookups > 0 {
            f64::from(lookup_cycles) / f64::from(lookups)
        } else {
            0.0
        },
        nbs_per_connection: conn_cfg.nbs,
        pages_per_nb: conn_cfg.pages_per_nb,
        peak_connections: stats.peak,
        link: LinkStats {
            to_nic: to_nic.stats,
            to_peer: to_peer.stats,
            bad_nic_frames,
        },
        peer_retransmissions: conns.iter().map(|c| c.retx.count).sum(),
        nic_tx_frames: counters.tx_frames as u64,
        ooo_held: counters.ooo_held as u64,
        drops: counters
            .drops
            .iter()
            .map(|&(name, v)| (name.to_string(), u64::from(v)))
            .collect(),
        cycles,
        sim_time_ms: clock.micros(cycles) as f64 / 1000.0,
        buflets_free_end: counters.free_buflets,
        num_buflets,
        connections: reports,
    })
}
