//! The NAS answers over the NIC's send side (issue 12): smoltcp, an independent TCP, writes a
//! seeded file as BFW1 `WRITE` records over a lossy link, waits for the NAS's `WRITE_ACK` of
//! every record, reads the file back with `READ`s and checks it. The read direction is
//! zero-copy (the block engine reads into host pages, the NIC sends from them), and seed 002's
//! copy-on-write table decides which page each answer's header is written into. On both
//! backends.

use buflet_nas::answer::Cow;
use buflet_nas::WriteMode;
use buflet_testbench::peer::{run, run_with, Faults, PeerOpts, PeerReport, RECORD_BYTES};
use buflet_testbench::Backend;

fn opts(backend: Backend, bytes: u64, loss: f64, cow: Cow, seed: u64) -> PeerOpts {
    PeerOpts {
        backend,
        width: 64,
        bytes,
        loss,
        reorder: if loss > 0.0 { 0.05 } else { 0.0 },
        dup: if loss > 0.0 { 0.01 } else { 0.0 },
        seed,
        read_back: true,
        cow,
        pcap_out: None,
        mode: Default::default(),
    }
}

fn go(o: &PeerOpts) -> PeerReport {
    run(o).unwrap_or_else(|e| panic!("{} {:?}: {e}", o.backend.name(), o))
}

/// What every read-back must satisfy.
fn check(r: &PeerReport) {
    let b = &r.backend;
    assert!(r.read_back);
    assert!(
        r.verified,
        "{b}: disk {} / read back {:?} / source {}; failure {:?}",
        r.disk_sha256, r.read_sha256, r.source_sha256, r.failure
    );
    assert_eq!(r.read_sha256.as_deref(), Some(r.source_sha256.as_str()));
    // The whole file, and the seeded extra ranges (each checked byte by byte by the client).
    assert!(r.read_bytes > r.bytes, "{b}: bytes read back");
    assert_eq!(
        r.write_acks,
        r.bytes.div_ceil(RECORD_BYTES),
        "{b}: one WRITE_ACK per record"
    );
    assert_eq!(r.link.bad_nic_frames, 0, "{b}: frames etherparse rejects");
    assert_eq!(r.buflets_free_end, r.num_buflets, "{b}: buflets leaked");
    assert_eq!(r.acked_lost, 0);
    // Every data byte the NIC sent at least once, read from host memory by DMA.
    assert!(
        r.tx_segs >= r.bytes / 1460,
        "{b}: {} data segments",
        r.tx_segs
    );
    let a = r.answers.expect("answer stats");
    assert_eq!(
        a.reads,
        r.write_acks + 8,
        "{b}: the whole file's READs and 8 more"
    );
    assert_eq!(a.read_bytes, r.read_bytes);
    assert!(a.blk_read_bytes >= a.read_bytes, "{b}: whole blocks read");
    assert!(
        a.posts_done > a.write_acks + a.reads,
        "{b}: every header and data post acknowledged"
    );
}

/// Issue 12's "done when" at a test's size: a lossy, reordering, duplicating link in both
/// directions; the NIC retransmits; about 2 host-DRAM crossings per byte read back (the block
/// engine's write of each byte into host memory, the NIC's read of it); the table-aware NAS
/// takes no copy-on-write fault.
#[test]
fn read_back_over_a_lossy_link() {
    for backend in Backend::ALL {
        let r = go(&opts(backend, 512 << 10, 0.05, Cow::Aware, 7));
        check(&r);
        let b = &r.backend;
        assert!(r.tx_retransmits > 0, "{b}: no retransmission at 5% loss");
        let x = r.read_dram_crossings_per_byte.expect("read crossings");
        assert!((1.95..2.3).contains(&x), "{b}: {x} crossings per byte read");
        assert_eq!(r.cow_faults, 0, "{b}: the aware NAS takes no fault");
        assert_eq!(r.cpu_copied_bytes, 0, "{b}: no byte copied by the CPU");
        assert!(r.cow_table_peak > 0, "{b}: posts were marked");
    }
}

/// On a clean link the read direction costs exactly the block engine's write and the NIC's
/// read of each byte, plus the small change of rings, headers and page lists.
#[test]
fn clean_read_back_costs_two_crossings() {
    for backend in Backend::ALL {
        let r = go(&opts(backend, 256 << 10, 0.0, Cow::Aware, 3));
        check(&r);
        assert_eq!(r.tx_retransmits, 0, "{}: retransmissions", r.backend);
        assert_eq!(r.peer_retransmissions, Some(0));
        let x = r.read_dram_crossings_per_byte.expect("read crossings");
        // Unaligned extra reads read their partial blocks whole.
        assert!((2.0..2.2).contains(&x), "{}: {x}", r.backend);
    }
}

/// Seed 002's claim, both sides: the naive NAS rewrites its header page right after posting
/// it and takes copy-on-write faults (each a page copied by the CPU), yet the client reads
/// exactly what was written; the aware NAS takes none.
#[test]
fn naive_header_reuse_faults_and_stays_correct() {
    for backend in Backend::ALL {
        let naive = go(&opts(backend, 512 << 10, 0.02, Cow::Naive, 5));
        check(&naive);
        let b = &naive.backend;
        assert!(naive.cow_faults > 0, "{b}: the naive NAS took no fault");
        assert_eq!(
            naive.cpu_copied_bytes,
            naive.cow_faults * 4096,
            "{b}: each fault copies one page, nothing else is copied"
        );
        assert_eq!(naive.answers.expect("stats").header_pages, 1);
        let aware = go(&opts(backend, 512 << 10, 0.02, Cow::Aware, 5));
        check(&aware);
        assert_eq!(aware.cow_faults, 0, "{b}: the aware NAS took a fault");
        assert!(aware.answers.expect("stats").header_pages > 1);
    }
}

/// `--pcap-out` of a read-back: every record reads back with pcap-file, every frame the NIC
/// sent parses with etherparse with correct IPv4 and TCP checksums, data segments from the
/// NIC are in it, and tcpdump (a libpcap reader, as Wireshark uses) reads the file without
/// error.
#[test]
fn pcap_of_a_read_back_reads_with_independent_tools() {
    use buflet_testbench::frames::SERVER_MAC;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("read-back.pcap");
        let mut o = opts(backend, 128 << 10, 0.02, Cow::Aware, 9);
        o.pcap_out = Some(path.clone());
        let r = go(&o);
        check(&r);
        let f = std::fs::File::open(&path).expect("pcap written");
        let mut rd = pcap_file::pcap::PcapReader::new(f).expect("pcap header");
        let (mut frames, mut nic_data) = (0u64, 0u64);
        while let Some(p) = rd.next_packet() {
            let p = p.expect("pcap record");
            frames += 1;
            if p.data[6..12] != SERVER_MAC {
                continue;
            }
            let s = SlicedPacket::from_ethernet(&p.data).expect("the NIC's frame parses");
            let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(tcp))) = (&s.net, &s.transport)
            else {
                continue; // an ARP reply
            };
            let h = ip.header().to_header();
            assert_eq!(h.calc_header_checksum(), h.header_checksum);
            let want = tcp
                .to_header()
                .calc_checksum_ipv4(&h, tcp.payload())
                .expect("checksum");
            assert_eq!(want, tcp.checksum(), "TCP checksum of a frame the NIC sent");
            if !tcp.payload().is_empty() {
                nic_data += 1;
            }
        }
        assert_eq!(frames, r.link.to_nic.delivered + r.nic_tx_frames);
        assert!(
            nic_data >= r.bytes / 1460,
            "{}: {nic_data} data frames",
            r.backend
        );
        // tcpdump is provisioned by run.sh (scripts/ensure-tcpdump.sh).
        let out = std::process::Command::new("tcpdump")
            .args(["-nn", "-r"])
            .arg(&path)
            .output()
            .expect("tcpdump runs (run.sh installs it)");
        assert!(
            out.status.success(),
            "tcpdump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.lines().count() as u64,
            frames,
            "tcpdump reads every frame"
        );
        assert!(
            !text.contains("truncated") && !text.contains("bad"),
            "{text}"
        );
    }
}

/// A `READ` that reaches past the file's extent on disk ends the run with an error naming
/// it (no hang, no panic), every acknowledged write is still on disk and no buflet leaks.
#[test]
fn a_read_past_the_file_is_refused_by_name() {
    for backend in Backend::ALL {
        let f = Faults {
            read_past_end: Some(20_000),
            ..Faults::default()
        };
        let r = run_with(&opts(backend, 100_000, 0.0, Cow::Aware, 4), &f)
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name()));
        let b = &r.backend;
        let m = r
            .failure
            .as_deref()
            .unwrap_or_else(|| panic!("{b}: no failure"));
        assert!(m.contains("beyond the file's extent"), "{b}: {m}");
        assert!(!r.verified, "{b}");
        assert_eq!(r.acked_lost, 0, "{b}: acknowledged bytes lost");
        assert_eq!(
            r.disk_sha256, r.source_sha256,
            "{b}: the writes are on disk"
        );
        assert_eq!(r.buflets_free_end, r.num_buflets, "{b}: buflets leaked");
    }
}

/// Block reads that fail are issued again (up to 3 times each) and the client still reads
/// exactly the file; the write side retries its own failures as always.
#[test]
fn failed_block_reads_are_retried() {
    for backend in Backend::ALL {
        let f = Faults {
            disk_error_rate: 0.05,
            max_retries: Some(4),
            ..Faults::default()
        };
        let r = run_with(&opts(backend, 256 << 10, 0.0, Cow::Aware, 6), &f)
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name()));
        check(&r);
        let a = r.answers.expect("stats");
        assert!(a.read_retries > 0, "{}: no block read failed", r.backend);
    }
}

/// p2p reads (docs/p2p.md "p2p reads"): the NAS reads the blocks into host buflets
/// (`DEVMEM` block reads) and the NIC sends them from there (`DEVMEM` posts): no payload byte
/// read back crosses host DRAM, only SG elements, page lists, headers and ring entries (below
/// 0.1 per byte). The writes go p2p too: their BFW1 headers are read through the NIC's
/// buflet-memory window (MMIO), their payload written from buflet memory. Over a lossy link,
/// on both backends.
#[test]
fn p2p_reads_leave_host_dram_alone() {
    for backend in Backend::ALL {
        let mut o = opts(backend, 512 << 10, 0.03, Cow::Aware, 8);
        o.mode = WriteMode::P2p;
        let r = go(&o);
        check(&r);
        let b = &r.backend;
        assert_eq!(
            (r.write_mode.as_str(), r.read_mode.as_deref()),
            ("p2p", Some("p2p"))
        );
        let x = r.read_dram_crossings_per_byte.expect("read crossings");
        assert!(x < 0.1, "{b}: {x} crossings per byte read back");
        let w = r.dram_crossings_per_byte.expect("write crossings");
        assert!(w < 0.15, "{b}: {w} crossings per byte written");
        let a = r.answers.expect("stats");
        assert_eq!(
            r.blk_dev_wr_bytes, a.blk_read_bytes,
            "{b}: every block read went to buflets"
        );
        assert!(
            r.tx_retransmits > 0,
            "{b}: the NIC resent from buflet memory"
        );
    }
}
