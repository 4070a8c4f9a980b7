//! One run end to end: bring-up, handshake, stream, writes, verification, socket delete, report.

use super::*;

/// A failed run whose cause was the host's file system under the image is reported as that.
fn host_or(drv: &Driver, e: TbError) -> TbError {
    match drv.env.disk.host_failure() {
        Some(h) => TbError::HostDisk(h),
        None => e,
    }
}

/// Refuse to overwrite a file at `path` that is not a previous Buflet image (or empty) unless
/// `force`: `--image` must not turn a user's file into a disk image.
fn check_image_target(path: &std::path::Path, force: bool) -> Result<(), TbError> {
    let refuse = |msg: String| TbError::Input {
        path: path.display().to_string(),
        msg,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(refuse(e.to_string())),
    };
    if !meta.is_file() {
        return Err(refuse("exists and is not a regular file".into()));
    }
    if force || meta.len() == 0 || buflet_fs::is_buflet_image(path) {
        return Ok(());
    }
    Err(refuse(
        "exists and is not a Buflet disk image; pass --force to overwrite it".into(),
    ))
}

/// Deliver the scenario's frames; the NAS application writes the file zero-copy (the stream at
/// offset 0, or each SMB2 WRITE at its offset) to a raw disk extent or to a file of a real file
/// system; then read the file back from the disk image (and with stock e2fsprogs) and compare.
pub fn run_stream(sc: &Scenario, opt: &RunOptions) -> Result<RunReport, TbError> {
    let started = Instant::now();
    if let Some(p) = &opt.image {
        check_image_target(p, opt.force)?;
    }
    let block = buflet_fs::BLOCK;
    let expected = sc.expected_file()?;
    let file_len = expected.len();
    let disk_start = 1 << 20;
    // Without --image the disk is a scratch image, removed with `_scratch`.
    let (_scratch, image) = match &opt.image {
        Some(p) => (None, p.clone()),
        None => {
            let (dir, path) =
                crate::scratch_image("buflet-run-", &format!("{}.img", opt.backend.name()))?;
            (Some(dir), path)
        }
    };
    let (mut disk, store) = match opt.fs {
        None => {
            let file_cap = file_len.div_ceil(block) * block + block;
            let disk = BlockDevice::create(&image, disk_start + file_cap + (1 << 20))?;
            let ext = ExtentFile {
                disk_start,
                capacity: file_cap,
            };
            (disk, Store::Extent(ext))
        }
        Some(kind) => {
            let fs_err = |e: buflet_fs::FsError| TbError::Input {
                path: image.display().to_string(),
                msg: e.to_string(),
            };
            let f = buflet_fs::format_with_file(
                &image,
                buflet_fs::image_bytes_for(file_len),
                kind,
                &opt.file_path,
                file_len,
            )
            .map_err(fs_err)?;
            if sc.protocol != Protocol::Raw {
                // A new file on the server reads as zeros where no write lands.
                buflet_fs::zero_blocks(&image, &f).map_err(fs_err)?;
            }
            (BlockDevice::open(&image)?, Store::Fs(f))
        }
    };
    if opt.disk == DiskMode::Scsi {
        disk.use_scsi()?;
    }
    if opt.disk_error_rate > 0.0 {
        disk.set_error_rate(opt.disk_error_rate, opt.error_seed)?;
    }
    let mem_size = ((opt.nbs * opt.pages_per_nb * 4096) as u64 + (8 << 20)).next_power_of_two();
    let mut bench = Bench::builder(opt.backend)
        .config(opt.config.clone())
        .mem(mem_size)
        .disk(disk)
        .trace(opt.trace.clone())
        .trace_window(opt.trace_from, opt.trace_cycles)
        .build()?;
    let b = &mut bench;
    let kind = match sc.protocol {
        Protocol::Raw => AppKind::Raw,
        Protocol::Smb2 => AppKind::Smb2,
        Protocol::Framed => AppKind::Framed,
    };
    let scfg = ServerConfig {
        nbs: opt.nbs,
        pages_per_nb: opt.pages_per_nb,
        mode: opt.mode,
        max_retries: opt.max_retries,
        write_chunk: opt.write_chunk,
        nb_timeout: None,
        answers: false,
        cow: Default::default(),
        read_mode: None,
        iscsi: None,
    };
    let mut srv = NasServer::start(&mut b.drv, &sc.socket, kind, store, &scfg)?;
    let total = file_len;

    let mut sender = Sender::new(sc);
    if opt.pcap_out.is_some() {
        sender.log = Some(Vec::new());
    }
    let mut peer = Peer::default();
    let mut last_activity = b.cycles();
    let mut last_progress = b.cycles();
    let mut last_state = (None, 0u64, 0u64, 0u64, usize::MAX, None);
    let debug = std::env::var("BUFLET_DEBUG").is_ok();
    loop {
        // What the NIC transmitted: its SYN-ACK and ACKs pace the sender.
        let before = peer.acked;
        while let Some(f) = b.wire.recv() {
            take_nic_frame(&f, sc, &sender, &mut peer)?;
            sender.heard(b.cycles(), &f);
            peer.seen += 1;
            last_activity = b.cycles();
        }
        if peer.acked > before && before.is_some() {
            sender.on_ack_advance(b, sc, &peer);
        }
        if sender.send_ready(b, sc, &peer) > 0 {
            last_activity = b.cycles();
        }
        if b.wire.pending() > 0 {
            last_activity = b.cycles();
        } else if b.cycles() - last_activity >= opt.rto_cycles {
            sender.on_timeout(b, sc, &peer);
            last_activity = b.cycles();
        }

        if let Err(e) = srv.poll(&mut b.drv, STEP) {
            return Err(host_or(&b.drv, e.into()));
        }
        if debug {
            let fb = b.drv.rd(reg::CNT_FREE_BUFLETS);
            eprintln!(
                "cyc {} pending {} acked {:?} win {} recv {} written {} posted {} inflight {} free {} wire {} retx {} probes {}",
                b.cycles(),
                sender.pending.len(),
                peer.acked,
                peer.window,
                srv.stream.received(),
                srv.written(),
                srv.stream.posted_bytes(),
                srv.stream.writes_in_flight(),
                fb,
                b.wire.pending(),
                sender.retransmits,
                sender.probes
            );
        }
        if let Some(p) = &opt.progress {
            p(srv.written().min(total), total);
        }
        if srv.done() && (sender.pending.is_empty() || srv.stream.reset) && b.wire.pending() == 0 {
            break;
        }
        let state = (
            peer.acked,
            srv.stream.received(),
            srv.stream.written(),
            srv.written(),
            sender.pending.len(),
            srv.stream.eof,
        );
        if state != last_state {
            last_state = state;
            last_progress = b.cycles();
        } else if b.cycles() - last_progress > STALL_CYCLES {
            let d = drops(&mut b.drv);
            return Err(TbError::Stalled(format!(
                "no progress for {STALL_CYCLES} cycles: {} of {} frames still to send, NIC acked {:?} window {}, {} bytes received, {} on disk, eof {:?}, {} retransmits, {} probes, drops {:?}",
                sender.pending.len(),
                sc.frames.len(),
                peer.acked,
                peer.window,
                srv.stream.received(),
                srv.written(),
                srv.stream.eof,
                sender.retransmits,
                sender.probes,
                d.nonzero()
            )));
        }
    }

    let transfer_cycles = b.cycles();
    // Let the NIC answer the last frames, then delete the socket: its named buffers come back
    // first (flag DELETE), and every buflet must return to the free list.
    let mut quiet_since = b.cycles();
    while b.cycles() - quiet_since < SETTLE_CYCLES {
        for c in b.drv.wait(STEP)? {
            srv.stream.handle(&mut b.drv, &c)?;
        }
        let mut active = b.wire.pending() > 0;
        while let Some(f) = b.wire.recv() {
            take_nic_frame(&f, sc, &sender, &mut peer)?;
            sender.heard(b.cycles(), &f);
            peer.seen += 1;
            active = true;
        }
        if active {
            quiet_since = b.cycles();
        }
    }
    srv.close(&mut b.drv)?;
    b.drv.run(STEP);
    while let Some(f) = b.wire.recv() {
        take_nic_frame(&f, sc, &sender, &mut peer)?;
        sender.heard(b.cycles(), &f);
        peer.seen += 1;
    }
    if let Some(e) = srv.failed() {
        return Err(host_or(&b.drv, TbError::WriteFailed(e)));
    }

    if let (Some(path), Some(log)) = (&opt.pcap_out, &sender.log) {
        write_pcap(path, log, opt.config.clock_mhz)?;
    }
    let len = srv.file_len();
    // BFW1: the records now durable, in order (what WRITE_ACKs would report).
    let durable = match &mut srv.app {
        App::Framed(a) => a.take_durable(),
        _ => Vec::new(),
    };
    let (smb, framed) = match &srv.app {
        App::Raw(_) | App::Iscsi(_) => (None, None),
        App::Smb2(a) => (Some(a), None),
        App::Framed(a) => (None, Some(a)),
    };
    let disk_sha256 = srv.file.sha256_back(&b.drv.env.disk, len)?;
    let fs_check: Option<FsCheck> = match &srv.file {
        Store::Fs(f) => Some(buflet_fs::check(&image, &f.path, sha256_hex)),
        Store::Extent(_) => None,
    };
    let cycles = b.cycles();
    let s = b.drv.env.mem.stats();
    let scsi = b.drv.env.disk.scsi_stats().unwrap_or_default();
    let disk_stats = b.drv.env.disk.stats();
    let writer = srv.stream.stats();
    let counters: Counters = b.drv.counters();
    let drops = DropCounts(counters.drops.clone());
    let wall = started.elapsed().as_secs_f64();
    let source_sha256 = expected.sha256_hex();
    // Verified means bytes were compared: an empty reference (a session refused before its
    // first WRITE, a stream with no data) verifies nothing.
    let mut verified = disk_sha256 == source_sha256 && !expected.is_empty();
    let num_buflets = b.drv.info.num_buflets;
    let mut failures = Vec::new();
    if expected.is_empty() {
        failures.push("nothing to verify: the reference file is empty".to_string());
    } else if !verified {
        failures.push("the disk does not hold the source bytes".to_string());
    }
    if let Some(c) = &fs_check {
        if !c.fsck_clean {
            failures.push(format!("e2fsck -fn: {}", c.fsck_summary));
        }
        if c.debugfs_sha256 != source_sha256 {
            failures.push(format!(
                "debugfs cat reads {} bytes with sha256 {}, not the source",
                c.debugfs_bytes, c.debugfs_sha256
            ));
        }
        verified &= c.fsck_clean && c.debugfs_sha256 == source_sha256;
    }
    if let Some(u) = smb.and_then(|a| a.refused.clone()) {
        failures.push(u);
    }
    if let Some(e) = framed.and_then(|a| a.refused.clone()) {
        failures.push(e);
    }
    if counters.free_buflets != num_buflets {
        failures.push(format!(
            "{} of {} buflets free after SOCK_DEL: {} leaked",
            counters.free_buflets,
            num_buflets,
            num_buflets.saturating_sub(counters.free_buflets)
        ));
    }
    let (chains_held, releases_open) = srv.stream.held_chains();
    if chains_held + releases_open > 0 {
        failures.push(format!(
            "p2p: {chains_held} held chains never released, {releases_open} BUF_RELEASE requests never completed"
        ));
    }
    if counters.tx_frames as u64 != peer.seen {
        failures.push(format!(
            "CNT_TX_FRAMES is {} but {} frames came out of the NIC",
            counters.tx_frames, peer.seen
        ));
    }
    if srv.stream.reset {
        failures.push("the NIC returned a named buffer with flag RST".to_string());
    }
    for c in &srv.stream.errors {
        failures.push(format!(
            "named buffer {} returned with status {} ({})",
            c.ref_num,
            c.status,
            c.status.name()
        ));
    }
    let lookups = b.drv.counter(reg::CNT_LOOKUPS);
    let lookup_cycles = b.drv.counter(reg::CNT_LOOKUP_CYCLES);
    let connections = vec![ConnReport {
        client: format!(
            "{}:{}",
            std::net::Ipv4Addr::from(sc.socket.remote_ip),
            sc.socket.remote_port
        ),
        bytes: len,
        sha256: disk_sha256.clone(),
        expected_sha256: source_sha256.clone(),
        verified,
        stream_bytes: srv.stream.eof.unwrap_or(0),
        retransmits: sender.retransmits,
        failure: failures.first().cloned(),
    }];
    let report = RunReport {
        connections,
        sockets: b.drv.info.num_sockets,
        accepts: u64::from(b.drv.counter(reg::CNT_ACCEPTS)),
        listen_full_drops: u64::from(drops.get("LISTEN_FULL")),
        lookup_cycles_per_frame: if lookups > 0 {
            f64::from(lookup_cycles) / f64::from(lookups)
        } else {
            0.0
        },
        backend: b.drv.backend().to_string(),
        data_width: b.drv.info.data_width,
        protocol: sc.protocol,
        stream_bytes: srv.stream.eof.unwrap_or(0),
        payload_bytes: len,
        smb2_writes: smb.map_or(0, |a| a.proto.writes),
        smb2_messages: smb.map_or(0, |a| a.proto.messages),
        smb2_skipped: smb.map_or(0, |a| a.proto.skipped),
        unsupported: smb.and_then(|a| a.refused.clone()),
        framed_records: framed.map_or(0, |a| a.proto.records),
        framed_record_bytes: framed.map_or(0, |a| a.proto.record_bytes),
        framed_durable: durable.len() as u64,
        framed_durable_bytes: durable.iter().map(|d| d.len).sum(),
        stream_error: framed.and_then(|a| a.refused.clone()),
        rmw_blocks: writer.rmw_blocks,
        fs: opt.fs,
        file_path: opt.fs.map(|_| opt.file_path.clone()),
        fsck_clean: fs_check.as_ref().map(|c| c.fsck_clean),
        fsck_summary: fs_check.as_ref().map(|c| c.fsck_summary.clone()),
        debugfs_sha256: fs_check.as_ref().map(|c| c.debugfs_sha256.clone()),
        mode: opt.mode,
        hold_records: counters.hold_records as u64,
        chains_released: counters.buf_released as u64,
        blk_dev_bytes: counters.blk_dev_bytes as u64,
        disk_error_rate: opt.disk_error_rate,
        write_retries: writer.retries,
        write_failures: writer.writes_failed,
        writer,
        disk_reads: disk_stats.reads,
        disk_bytes_written: disk_stats.bytes_written,
        disk_bytes_read: disk_stats.bytes_read,
        frames: sc.frames.len() as u64,
        frames_sent: sender.frames_sent,
        retransmits: sender.retransmits,
        probes: sender.probes,
        tx_frames: counters.tx_frames as u64,
        tx_frames_seen: peer.seen,
        tx_bytes: counters.tx_bytes as u64,
        ooo_held: counters.ooo_held as u64,
        rx_accepted: counters.rx_accepted as u64,
        dropped: drops.total(),
        drops,
        cycles,
        transfer_cycles,
        cpu_copied_bytes: s.cpu_copied,
        regcache: b.drv.reg_stats(),
        verified,
        disk_sha256,
        source_sha256,
        dram_crossings_per_byte: if len > 0 {
            s.total() as f64 / len as f64
        } else {
            0.0
        },
        host_dram_bytes: s.total(),
        nic_dma_written: s.nic_written,
        nic_dma_read: s.nic_read,
        blk_dma_read: s.blk_read,
        cpu_read: s.cpu_read,
        cpu_written: s.cpu_written,
        stray_accesses: s.stray_accesses,
        disk_writes: disk_stats.writes,
        disk: b.drv.env.disk.mode(),
        scsi_commands: scsi.commands,
        scsi_bytes_mapped: scsi.bytes_mapped,
        scsi_bytes_copied: scsi.bytes_copied,
        buflets_free_end: counters.free_buflets,
        num_buflets,
        passed: failures.is_empty(),
        failures,
        wall_seconds: wall,
        sim_cycles_per_second: cycles as f64 / wall.max(1e-9),
        image: image.display().to_string(),
    };
    Ok(report)
}

/// Write `log` (cycle, frame) as a classic pcap file of Ethernet frames, the cycle count turned
/// into time at `clock_mhz`.
pub fn write_pcap(
    path: &std::path::Path,
    log: &[(u64, Vec<u8>)],
    clock_mhz: u32,
) -> Result<(), TbError> {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let err = |e: String| TbError::Input {
        path: path.display().to_string(),
        msg: e,
    };
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let header = PcapHeader {
        ts_resolution: pcap_file::TsResolution::NanoSecond,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(std::io::BufWriter::new(file), header)
        .map_err(|e| err(e.to_string()))?;
    let mhz = clock_mhz.max(1) as u128;
    for (cycle, f) in log {
        let ns = (*cycle as u128 * 1000 / mhz).min(u64::MAX as u128) as u64;
        w.write_packet(&PcapPacket::new(
            std::time::Duration::from_nanos(ns),
            f.len() as u32,
            f,
        ))
        .map_err(|e| err(e.to_string()))?;
    }
    use std::io::Write;
    w.into_writer().flush().map_err(|e| err(e.to_string()))
}

/// Every drop counter of the device, by spec name.
pub fn drops(drv: &mut Driver) -> DropCounts {
    DropCounts(
        buflet_driver::drop_reasons()
            .map(|r| (r.name(), drv.drop_count(r)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn relative_sequence_numbers_unwrap_across_2_pow_32() {
        let base = 0xffff_fff0u32;
        assert_eq!(unwrap_rel(base, base, 0), 0);
        assert_eq!(unwrap_rel(base.wrapping_sub(1), base, 0), -1);
        assert_eq!(unwrap_rel(0x10, base, 0), 0x20);
        // Far along a long stream, near the previous value.
        let near = 5_000_000_000i64;
        let x = base.wrapping_add(near as u32).wrapping_add(1448);
        assert_eq!(unwrap_rel(x, base, near), near + 1448);
    }

    #[test]
    pub(super) fn drop_counts_serialize_as_an_object_in_spec_order() {
        let d = DropCounts(vec![
            ("TRUNCATED", 0),
            ("OUT_OF_WINDOW", 3),
            ("DUPLICATE", 1),
        ]);
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"TRUNCATED":0,"OUT_OF_WINDOW":3,"DUPLICATE":1}"#
        );
        assert_eq!(d.get("OUT_OF_WINDOW"), 3);
        assert_eq!(d.get("NO_SUCH"), 0);
        assert_eq!(d.total(), 4);
        assert_eq!(d.nonzero(), vec![("OUT_OF_WINDOW", 3), ("DUPLICATE", 1)]);
    }

    #[test]
    pub(super) fn a_frame_fits_when_its_data_ends_inside_the_window() {
        let peer = Peer {
            acked: Some(1000),
            window: 2000,
            ..Peer::default()
        };
        let seg = |start: i64, len: i64, fin: bool| Seg {
            start,
            data_end: start + len,
            seq_end: start + len + fin as i64,
            syn: false,
            rst: false,
        };
        assert!(Sender::fits(&seg(1000, 2000, false), &peer));
        assert!(!Sender::fits(&seg(1001, 2000, false), &peer));
        // Duplicates left of the ACK still go.
        assert!(Sender::fits(&seg(0, 1000, false), &peer));
        // A FIN needs a byte of window, a pure ACK does not.
        assert!(Sender::fits(&seg(2999, 0, true), &peer));
        assert!(!Sender::fits(&seg(3000, 0, true), &peer));
        assert!(Sender::fits(&seg(3000, 0, false), &peer));
        // Nothing but the SYN before the SYN-ACK.
        let none = Peer::default();
        assert!(!Sender::fits(&seg(0, 0, false), &none));
        let syn = Seg {
            start: -1,
            data_end: -1,
            seq_end: 0,
            syn: true,
            rst: false,
        };
        assert!(Sender::fits(&syn, &none));
        // An RST goes only once everything before it is acknowledged.
        let rst = Seg {
            rst: true,
            ..seg(1000, 0, false)
        };
        assert!(Sender::fits(&rst, &peer));
        assert!(!Sender::fits(&Seg { start: 1001, ..rst }, &peer));
    }
}
