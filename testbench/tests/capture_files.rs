//! Capture files the replay is given: each way a file can be wrong is one clear line naming
//! what is wrong (issue 11, item 9: empty, truncated and directory inputs all said "not a pcap
//! file: Error reading bytes", pcapng said "wrong magic number", a snaplen-limited capture was
//! called corrupt); pcapng captures are read (pcap-file) and replay byte-exact.

use buflet_testbench::traces::trace;
use buflet_testbench::{pcap, run_stream, sha256_hex, Backend, RunOptions, Scenario};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

const NAME: &str = "linux-tcp-mtu1500-100000B.pcap";

fn packets(path: &Path) -> (PcapHeader, Vec<(Duration, u32, Vec<u8>)>) {
    let mut r = PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let h = r.header();
    let mut v = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        v.push((p.timestamp, p.orig_len, p.data.into_owned()));
    }
    (h, v)
}

/// The error `pcap::load` gives for `path`.
fn load_err(path: &Path) -> String {
    match pcap::load(path) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_files_are_named_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("empty.pcap"), b"").unwrap();
    assert!(load_err(&p("empty.pcap")).contains("is empty"));
    assert!(load_err(dir.path()).contains("is a directory"));
    assert!(load_err(&p("missing.pcap")).contains("cannot open"));
    let real = std::fs::read(trace(NAME)).unwrap();
    std::fs::write(p("short.pcap"), &real[..10]).unwrap();
    assert!(load_err(&p("short.pcap")).contains("too short for a pcap file header"));
    std::fs::write(p("cut.pcap"), &real[..real.len() - 100]).unwrap();
    let e = load_err(&p("cut.pcap"));
    assert!(
        e.contains("the capture is truncated") && e.contains("ends inside record"),
        "{e}"
    );
    std::fs::write(p("text.pcap"), "hello, world\n".repeat(10)).unwrap();
    assert!(load_err(&p("text.pcap")).contains("is not a pcap or pcapng capture"));
    // A record that claims 2 GiB in a tiny file: an error, not an allocation.
    let mut huge = real[..24].to_vec();
    huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes()); // snaplen
    huge.extend_from_slice(&[0; 8]);
    huge.extend_from_slice(&0x8000_0000u32.to_le_bytes());
    huge.extend_from_slice(&0x8000_0000u32.to_le_bytes());
    huge.extend_from_slice(&[0; 64]);
    std::fs::write(p("huge.pcap"), &huge).unwrap();
    assert!(load_err(&p("huge.pcap")).contains("truncated"));
}

/// A capture taken with a small snaplen names the first frame it cut.
#[test]
fn snaplen_cut_frames_are_named() {
    let (mut h, pkts) = packets(&trace(NAME));
    h.snaplen = 96;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap96.pcap");
    let mut w = PcapWriter::with_header(std::fs::File::create(&path).unwrap(), h).unwrap();
    for (ts, orig, data) in &pkts {
        let n = data.len().min(96);
        w.write_packet(&PcapPacket::new(*ts, *orig, &data[..n]))
            .unwrap();
    }
    drop(w);
    let first = pkts.iter().position(|p| p.2.len() > 96).unwrap() + 1;
    let e = load_err(&path);
    assert!(
        e.contains("snaplen") && e.contains(&format!("frame {first} (96 of")),
        "{e}"
    );
}

/// The same capture as pcapng replays byte-exact on both backends.
#[test]
fn pcapng_captures_replay_byte_exact() {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::PcapNgWriter;
    let (h, pkts) = packets(&trace(NAME));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upload.pcapng");
    let mut w = PcapNgWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock::new(h.datalink, 0))
        .unwrap();
    for (ts, orig, data) in &pkts {
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: *ts,
            original_len: *orig,
            data: Cow::Borrowed(data),
            options: vec![],
        })
        .unwrap();
    }
    drop(w);
    let payload = std::fs::read(trace("payload-100000B.bin")).unwrap();
    let cap = pcap::load(&path).unwrap();
    assert_eq!(cap.stream, payload);
    for b in Backend::ALL {
        let sc = Scenario::replay(pcap::load(&path).unwrap());
        let r = run_stream(&sc, &RunOptions::new(b, 64)).unwrap();
        assert!(r.passed, "{}: {:?}", b.name(), r.failures);
        assert_eq!(r.disk_sha256, sha256_hex(&payload));
    }
}
