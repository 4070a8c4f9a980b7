//! `buflet replay` of a capture with several TCP connections to the server port: every
//! connection is served (one prepared socket each, with its own ISS: the capture's server ISN),
//! each into its own file, each file's sha256 reported. No capture in traces/ has more than one
//! connection, so the test merges three real captures (distinct client ports) into one with
//! pcap-file, frame by frame in turn, each capture's own order kept; each connection's file must
//! then hash to its payload file's sha256 (traces/SHA256SUMS), on both backends.

use buflet_testbench::pcap::load_all;
use buflet_testbench::traces::trace;
use buflet_testbench::{run_multi, Backend, MultiOptions, RunOptions, Scenario};
use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};

/// The captures merged, and the payload each one's connection sends.
const PARTS: [(&str, &str); 3] = [
    ("linux-tcp-mtu1500-100000B.pcap", "payload-100000B.bin"),
    ("linux-tcp-mtu1500-1MiB-impaired.pcap", "payload-1MiB.bin"),
    ("linux-tcp-mtu1500-4096B.pcap", "payload-4096B.bin"),
];

fn frames_of(name: &str) -> Vec<Vec<u8>> {
    let f = std::fs::File::open(trace(name)).expect("capture");
    let mut r = PcapReader::new(f).expect("classic pcap");
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.expect("a packet").data.into_owned());
    }
    out
}

/// The three captures' frames, one of each in turn, into a classic pcap at `path`.
fn merge(path: &std::path::Path) {
    let parts: Vec<Vec<Vec<u8>>> = PARTS.iter().map(|(c, _)| frames_of(c)).collect();
    let mut w = PcapWriter::new(std::fs::File::create(path).expect("merged file")).expect("writer");
    let longest = parts.iter().map(Vec::len).max().unwrap_or(0);
    let mut n = 0u64;
    for k in 0..longest {
        for p in &parts {
            if let Some(f) = p.get(k) {
                n += 1;
                w.write_packet(&PcapPacket::new(
                    std::time::Duration::from_micros(n),
                    f.len() as u32,
                    f,
                ))
                .expect("write");
            }
        }
    }
}

/// sha256 of a payload, from traces/SHA256SUMS (written by the captures' author).
fn payload_sha(name: &str) -> String {
    let sums = std::fs::read_to_string(trace("SHA256SUMS")).expect("SHA256SUMS");
    sums.lines()
        .find(|l| l.ends_with(name))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{name} in SHA256SUMS"))
        .to_string()
}

#[test]
fn every_connection_of_a_merged_capture_lands_in_its_own_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let merged = dir.path().join("three.pcap");
    merge(&merged);
    let caps = load_all(&merged).expect("load");
    assert_eq!(caps.len(), 3, "three connections found");
    let want: Vec<String> = PARTS.iter().map(|(_, p)| payload_sha(p)).collect();
    for backend in Backend::ALL {
        let scs = Scenario::replay_all(load_all(&merged).expect("load"));
        assert_eq!(scs.len(), 3);
        let r = run_multi(scs, &MultiOptions::prepared(RunOptions::new(backend, 64)))
            .unwrap_or_else(|e| panic!("{}: {e}", backend.name()));
        let ctx = serde_json::to_string(&r).unwrap();
        assert!(r.passed, "{ctx}");
        assert_eq!(r.sockets_from, "prepared");
        assert_eq!(r.accepts, 0, "prepared sockets are not accepted: {ctx}");
        let shas: Vec<&str> = r.connections.iter().map(|c| c.sha256.as_str()).collect();
        assert_eq!(shas, want, "{ctx}");
        assert!(r.connections.iter().all(|c| c.verified), "{ctx}");
    }
}
