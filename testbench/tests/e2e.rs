//! End-to-end: the demo stream and real captures go through the NIC and the zero-copy write
//! and land byte-exact on the disk image, on both backends. Frames are built and parsed by
//! etherparse; data is checked by sha256 of what was read back from the disk image.

use buflet_testbench::{frames, pcap, run_stream, Backend, RunOptions, RunReport, Scenario};
use etherparse::PacketBuilder;
use std::path::Path;

fn trace(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("traces")
        .join(name)
}

/// sha256 of the payload file a capture carries, from traces/manifest.csv (written by the
/// capture's author, not by our code).
fn manifest_sha(pcap_name: &str) -> String {
    let text = std::fs::read_to_string(trace("manifest.csv")).unwrap();
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let row: Vec<&str> = rows
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| r[col("pcap")] == pcap_name)
        .unwrap();
    row[col("payload_sha256")].to_string()
}

fn check_clean(r: &RunReport) {
    assert!(
        r.verified,
        "{} disk sha {} != source {}",
        r.backend, r.disk_sha256, r.source_sha256
    );
    assert_eq!(r.cpu_copied_bytes, 0, "the CPU copied payload");
    assert_eq!(r.stray_accesses, 0, "device touched unregistered memory");
    assert_eq!(r.free_buflets, r.num_buflets, "buflets leaked");
}

fn demo(backend: Backend, width: u32, bytes: usize) -> RunReport {
    let source = frames::payload(7, bytes);
    let isn = 0xfff0_0000; // close to wrap-around: sequence arithmetic must wrap
    let sc = Scenario {
        frames: frames::tcp_stream(&source, 1448, isn),
        socket: frames::demo_socket(),
        isn,
        source,
    };
    run_stream(&sc, &RunOptions::new(backend, width))
        .unwrap_or_else(|e| panic!("{}: {e}", backend.name()))
}

#[test]
fn demo_lands_zero_copy_on_both_backends() {
    let mut reports: Vec<RunReport> = Vec::new();
    for b in Backend::ALL {
        let r = demo(b, 64, 1 << 20 | 777);
        check_clean(&r);
        assert_eq!(r.payload_bytes, (1 << 20) + 777);
        assert!(
            r.dram_crossings_per_byte <= 2.05,
            "{}: {} crossings per byte",
            b.name(),
            r.dram_crossings_per_byte
        );
        assert!(
            r.dram_crossings_per_byte >= 2.0,
            "payload must cross DRAM twice"
        );
        assert_eq!(r.dropped, 0);
        assert_eq!(
            r.disk_writes,
            ((1u64 << 20) + 777).div_ceil(4096),
            "one block-device write per 4 KiB block"
        );
        reports.push(r);
    }
    // The RTL and the model move the same bytes through host memory, and their cycle counts
    // agree within the stated tolerance (5%).
    let (m, r) = (&reports[0], &reports[1]);
    let traffic = |x: &RunReport| {
        (
            x.nic_dma_written,
            x.nic_dma_read,
            x.blk_dma_read,
            x.cpu_read,
            x.cpu_written,
        )
    };
    assert_eq!(traffic(m), traffic(r), "host-memory traffic, model vs rtl");
    let err = (m.cycles as f64 - r.cycles as f64) / r.cycles as f64 * 100.0;
    assert!(
        err.abs() <= 5.0,
        "model {} vs rtl {} cycles: {err:.2}%",
        m.cycles,
        r.cycles
    );
}

#[test]
fn demo_at_512_bits_on_both_backends() {
    for b in Backend::ALL {
        let r = demo(b, 512, 300_000);
        check_clean(&r);
        assert_eq!(r.data_width, 512);
    }
}

fn replay(name: &str) {
    let cap = pcap::load(&trace(name)).unwrap();
    let want = manifest_sha(name);
    assert_eq!(
        buflet_testbench::sha256_hex(&cap.stream),
        want,
        "oracle reassembly of {name}"
    );
    for b in Backend::ALL {
        let sc = Scenario {
            frames: cap.frames.clone(),
            socket: cap.socket,
            isn: cap.isn,
            source: cap.stream.clone(),
        };
        let r = run_stream(&sc, &RunOptions::new(b, 64))
            .unwrap_or_else(|e| panic!("{name} on {}: {e}", b.name()));
        check_clean(&r);
        assert_eq!(r.disk_sha256, want, "{name} on {}", b.name());
    }
}

#[test]
fn replay_linux_mtu1500_1mib_on_both_backends() {
    replay("linux-tcp-mtu1500-1MiB.pcap");
}

#[test]
fn replay_linux_mtu9000_100000b_on_both_backends() {
    replay("linux-tcp-mtu9000-100000B.pcap");
}

#[test]
fn replay_small_captures_on_both_backends() {
    replay("linux-tcp-mtu1500-1KiB.pcap");
    replay("linux-tcp-mtu1500-4096B.pcap");
}

/// Hostile frames interleaved with a good stream are counted by reason and dropped; the good
/// stream still lands byte-exact and no buflet leaks.
#[test]
fn bad_frames_are_counted_and_dropped_on_both_backends() {
    let source = frames::payload(3, 200_000);
    let isn = 12345;
    let good = frames::tcp_stream(&source, 1448, isn);
    let mut mixed = Vec::new();
    for (i, f) in good.iter().enumerate() {
        if i > 1 && i % 10 == 0 {
            // A corrupted copy of the next data segment: TCP checksum wrong (payload bit flip).
            let mut bad = f.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0x40;
            mixed.push(bad);
            // Same segment with a broken IPv4 header checksum.
            let mut bad_ip = f.clone();
            bad_ip[24] ^= 0xff;
            mixed.push(bad_ip);
            // Truncated in the middle of the TCP header.
            mixed.push(f[..40].to_vec());
        }
        if i == 5 {
            // An ARP request, a frame for another port, and a runt.
            let arp = PacketBuilder::ethernet2(frames::CLIENT_MAC, [0xff; 6]).arp(
                etherparse::ArpPacket::new(
                    etherparse::ArpHardwareId::ETHERNET,
                    etherparse::EtherType::IPV4,
                    etherparse::ArpOperation::REQUEST,
                    &frames::CLIENT_MAC,
                    &frames::CLIENT_IP,
                    &[0; 6],
                    &frames::SERVER_IP,
                )
                .unwrap(),
            );
            let mut v = Vec::new();
            arp.write(&mut v).unwrap();
            mixed.push(v);
            let other = PacketBuilder::ethernet2(frames::CLIENT_MAC, frames::SERVER_MAC)
                .ipv4(frames::CLIENT_IP, frames::SERVER_IP, 64)
                .tcp(1, 2, 3, 4);
            let mut v = Vec::new();
            other.write(&mut v, b"not for any socket").unwrap();
            mixed.push(v);
            mixed.push(vec![0u8; 10]);
        }
        mixed.push(f.clone());
    }
    for b in Backend::ALL {
        let sc = Scenario {
            frames: mixed.clone(),
            socket: frames::demo_socket(),
            isn,
            source: source.clone(),
        };
        let r = run_stream(&sc, &RunOptions::new(b, 64))
            .unwrap_or_else(|e| panic!("{}: {e}", b.name()));
        check_clean(&r);
        let by = |n: &str| {
            r.drops_by_reason
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| *v)
                .unwrap_or(0)
        };
        let corrupted = (2..good.len()).filter(|i| i % 10 == 0).count() as u32;
        assert_eq!(by("BAD_L4_CSUM"), corrupted, "{}", b.name());
        assert_eq!(by("BAD_IP_CSUM"), corrupted, "{}", b.name());
        assert_eq!(by("TRUNCATED"), corrupted + 1, "{}", b.name());
        assert_eq!(by("NOT_IPV4"), 1, "{}", b.name());
        assert_eq!(by("NO_SOCKET"), 1, "{}", b.name());
    }
}

#[test]
fn unreadable_capture_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("buflet-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("garbage.pcap");
    std::fs::write(&p, b"this is not a capture").unwrap();
    let e = pcap::load(&p).err().expect("garbage must not load");
    assert!(e.to_string().contains("not a pcap file"), "{e}");
    assert!(pcap::load(&dir.join("missing.pcap")).is_err());
}

/// A waveform request either produces a trace file (RTL built with BUFLET_TRACE) or fails
/// with a clear message saying how to get one; the model says it has none.
#[test]
fn waveform_requests_are_honoured_or_clearly_refused() {
    let path = std::env::temp_dir().join(format!("buflet-wave-{}.fst", std::process::id()));
    let source = frames::payload(9, 5000);
    let sc = Scenario {
        frames: frames::tcp_stream(&source, 1448, 1),
        socket: frames::demo_socket(),
        isn: 1,
        source,
    };
    let mut opt = RunOptions::new(Backend::Rtl, 64);
    opt.trace = Some(path.clone());
    match (buflet_sim::TRACE_FORMAT, run_stream(&sc, &opt)) {
        (None, Err(e)) => assert!(e.to_string().contains("BUFLET_TRACE"), "{e}"),
        (Some(_), Ok(r)) => {
            assert!(r.verified);
            assert!(
                std::fs::metadata(&path).unwrap().len() > 0,
                "empty waveform"
            );
        }
        (fmt, r) => panic!(
            "trace format {fmt:?} but run gave {:?}",
            r.map(|r| r.verified)
        ),
    }
    let _ = std::fs::remove_file(&path);
    opt.backend = Backend::Model;
    let e = run_stream(&sc, &opt).expect_err("the model has no waveforms");
    assert!(e.to_string().contains("no waveforms"), "{e}");
}
