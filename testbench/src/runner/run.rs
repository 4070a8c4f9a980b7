//! One run end to end: bring-up, handshake, stream, writes, verification, socket delete, report.

use super::*;

/// Deliver the scenario's frames; the NAS application writes the file zero-copy (the stream at
/// offset 0, or each SMB2 WRITE at its offset) to a raw disk extent or to a file of a real file
/// system; then read the file back from the disk image (and with stock e2fsprogs) and compare.
pub fn run_stream(sc: &Scenario, opt: &RunOptions) -> Result<RunReport, TbError> {
    let started = Instant::now();
    if opt.mode == WriteMode::P2p && sc.protocol != Protocol::Raw {
        return Err(TbError::Unsupported(format!(
            "--mode p2p serves the raw protocol only: a {} stream needs its headers read by the CPU, and p2p payload never enters host memory",
            sc.protocol.name()
        )));
    }
    let block = buflet_fs::BLOCK;
    let expected = sc.expected_file()?;
    let file_len = expected.len() as u64;
    let disk_start = 1 << 20;
    let tmp = opt
        .image
        .is_none()
        .then(|| TempImage::new(opt.backend.name()));
    let image = match (&opt.image, &tmp) {
        (Some(p), _) => p.clone(),
        (None, Some(t)) => t.0.clone(),
        (None, None) => unreachable!("a temporary image exists when no path is given"),
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
    let env = HostEnv {
        mem: HostMemory::new(mem_size),
        disk,
    };
    let mut dev = make_device(opt.backend, opt.config.clone())?;
    if let Some(t) = &opt.trace {
        dev.trace_open(t)
            .map_err(|e| TbError::Backend(opt.backend.name().into(), e))?;
    }
    let mut drv = Driver::new(dev, env)?;
    // p2p: the stream's socket is a hold socket, and the writer's mode follows from it.
    let (sock, early) = drv.add_socket(&sc.socket.with_hold(opt.mode.needs_hold()))?;
    let mut nas = NasStream::start(&mut drv, sock, opt.nbs, opt.pages_per_nb)?;
    nas.set_mode(opt.mode)?;
    if let Some(n) = opt.max_retries {
        nas.set_max_retries(n);
    }
    // SMB2, BFW1: a write ending at the end of the stream is no end of the file.
    nas.set_zero_tail_at_eof(sc.protocol == Protocol::Raw);
    for c in &early {
        nas.handle(&mut drv, c)?;
    }
    let mut app = match sc.protocol {
        Protocol::Raw => App::Raw(DiskPump::new(store.clone(), opt.write_chunk)),
        Protocol::Smb2 => App::Smb2(Smb2App::new(opt.write_chunk)),
        Protocol::Framed => App::Framed(FramedApp::new(opt.write_chunk)),
    };
    let total = file_len;

    let mut sender = Sender::new(sc);
    if opt.pcap_out.is_some() {
        sender.log = Some(Vec::new());
    }
    let mut peer = Peer::default();
    let mut last_activity = drv.cycles();
    let mut last_progress = drv.cycles();
    let mut last_state = (None, 0u64, 0u64, 0u64, usize::MAX, None);
    let debug = std::env::var("BUFLET_DEBUG").is_ok();
    loop {
        // What the NIC transmitted: its SYN-ACK and ACKs pace the sender.
        let before = peer.acked;
        while let Some(f) = drv.tx_pop() {
            take_nic_frame(&f, sc, &sender, &mut peer)?;
            sender.heard(drv.cycles(), &f);
            peer.seen += 1;
            last_activity = drv.cycles();
        }
        if peer.acked > before && before.is_some() {
            sender.on_ack_advance(&mut drv, sc, &peer);
        }
        if sender.send_ready(&mut drv, sc, &peer) > 0 {
            last_activity = drv.cycles();
        }
        if drv.rx_pending() > 0 {
            last_activity = drv.cycles();
        } else if drv.cycles() - last_activity >= opt.rto_cycles {
            sender.on_timeout(&mut drv, sc, &peer);
            last_activity = drv.cycles();
        }

        let c0 = drv.cycles();
        for c in drv.wait(STEP)? {
            nas.handle(&mut drv, &c)?;
        }
        if drv.cycles() == c0 {
            drv.run(64);
        }
        if let Some(e) = app.failed() {
            return Err(TbError::WriteFailed(e));
        }
        if debug {
            let fb = drv.rd(reg::CNT_FREE_BUFLETS);
            eprintln!(
                "cyc {} pending {} acked {:?} win {} recv {} written {} posted {} inflight {} free {} wire {} retx {} probes {}",
                drv.cycles(),
                sender.pending.len(),
                peer.acked,
                peer.window,
                nas.received(),
                app.written(&nas),
                nas.posted_bytes(),
                nas.writes_in_flight(),
                fb,
                drv.rx_pending(),
                sender.retransmits,
                sender.probes
            );
        }
        app.pump(&mut drv, &mut nas, &store)?;
        if let Some(p) = &opt.progress {
            p(app.written(&nas).min(total), total);
        }
        if app.done(&nas) && (sender.pending.is_empty() || nas.reset) && drv.rx_pending() == 0 {
            break;
        }
        let state = (
            peer.acked,
            nas.received(),
            nas.written(),
            app.written(&nas),
            sender.pending.len(),
            nas.eof,
        );
        if state != last_state {
            last_state = state;
            last_progress = drv.cycles();
        } else if drv.cycles() - last_progress > STALL_CYCLES {
            let d = drops(&mut drv);
            return Err(TbError::Stalled(format!(
                "no progress for {STALL_CYCLES} cycles: {} of {} frames still to send, NIC acked {:?} window {}, {} bytes received, {} on disk, eof {:?}, {} retransmits, {} probes, drops {:?}",
                sender.pending.len(),
                sc.frames.len(),
                peer.acked,
                peer.window,
                nas.received(),
                app.written(&nas),
                nas.eof,
                sender.retransmits,
                sender.probes,
                d.nonzero()
            )));
        }
    }

    // Let the NIC answer the last frames, then delete the socket: its named buffers come back
    // first (flag DELETE), and every buflet must return to the free list.
    let mut quiet_since = drv.cycles();
    while drv.cycles() - quiet_since < SETTLE_CYCLES {
        for c in drv.wait(STEP)? {
            nas.handle(&mut drv, &c)?;
        }
        let mut active = drv.rx_pending() > 0;
        while let Some(f) = drv.tx_pop() {
            take_nic_frame(&f, sc, &sender, &mut peer)?;
            sender.heard(drv.cycles(), &f);
            peer.seen += 1;
            active = true;
        }
        if active {
            quiet_since = drv.cycles();
        }
    }
    for c in drv.del_socket(sock)? {
        nas.handle(&mut drv, &c)?;
    }
    drv.run(STEP);
    while let Some(f) = drv.tx_pop() {
        take_nic_frame(&f, sc, &sender, &mut peer)?;
        sender.heard(drv.cycles(), &f);
        peer.seen += 1;
    }
    if let Some(e) = app.failed() {
        return Err(TbError::WriteFailed(e));
    }

    if let (Some(path), Some(log)) = (&opt.pcap_out, &sender.log) {
        write_pcap(path, log, opt.config.clock_mhz)?;
    }
    let stream_len = nas.eof.unwrap_or(0);
    let (len, smb, framed) = match &app {
        App::Raw(_) => (stream_len, None, None),
        App::Smb2(a) => (a.file_len, Some(a), None),
        App::Framed(a) => (a.file_len, None, Some(a)),
    };
    let back = store.read_back(&drv.env.disk, len)?;
    let fs_check: Option<FsCheck> = match &store {
        Store::Fs(f) => Some(buflet_fs::check(&image, &f.path, sha256_hex)),
        Store::Extent(_) => None,
    };
    let cycles = drv.cycles();
    let s = drv.env.mem.stats();
    let scsi = drv.env.disk.scsi_stats().unwrap_or_default();
    let disk_stats = drv.env.disk.stats();
    let writer = nas.stats();
    let counters: Counters = drv.counters();
    let drops = DropCounts(counters.drops.clone());
    let wall = started.elapsed().as_secs_f64();
    let disk_sha256 = sha256_hex(&back);
    let source_sha256 = sha256_hex(&expected);
    let mut verified = disk_sha256 == source_sha256;
    let num_buflets = drv.info.num_buflets;
    let mut failures = Vec::new();
    if !verified {
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
    let (chains_held, releases_open) = nas.held_chains();
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
    if nas.reset {
        failures.push("the NIC returned a named buffer with flag RST".to_string());
    }
    for c in &nas.errors {
        failures.push(format!(
            "named buffer {} returned with status {} ({})",
            c.ref_num,
            c.status,
            c.status.name()
        ));
    }
    let report = RunReport {
        backend: drv.backend().to_string(),
        data_width: drv.info.data_width,
        protocol: sc.protocol,
        stream_bytes: stream_len,
        payload_bytes: len,
        smb2_writes: smb.map_or(0, |a| a.proto.writes),
        smb2_messages: smb.map_or(0, |a| a.proto.messages),
        smb2_skipped: smb.map_or(0, |a| a.proto.skipped),
        unsupported: smb.and_then(|a| a.refused.clone()),
        framed_records: framed.map_or(0, |a| a.proto.records),
        framed_record_bytes: framed.map_or(0, |a| a.proto.record_bytes),
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
        cpu_copied_bytes: s.cpu_copied,
        regcache: drv.reg_stats(),
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
        disk: drv.env.disk.mode(),
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
pub(super) fn write_pcap(
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
        };
        assert!(Sender::fits(&syn, &none));
    }
}
