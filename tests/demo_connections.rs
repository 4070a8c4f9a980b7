//! `buflet demo --connections N` end to end, on both backends: N seeded clients interleaved on
//! one NIC that listens (no prepared socket), each connection's file checked. The JSON's
//! `connections` list must hold one verified object per client whose sha256 equals the sha256 of
//! that client's seeded stream computed here (with sha2, from the documented seed derivation),
//! and the listen counters must agree with the connection count.

use buflet_testbench::frames;
use sha2::{Digest, Sha256};
use std::process::Command;

fn report(args: &[&str]) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_buflet"))
        .args(args)
        .output()
        .expect("buflet runs");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 1, "one JSON object: {out}");
    serde_json::from_str(&out).expect("JSON")
}

/// Every connection of `r` verified, from the clients `frames::Client::nth(0..n)`, with the
/// sha256 of `expected(i)`.
fn check(r: &serde_json::Value, n: usize, expected: impl Fn(usize) -> Vec<u8>) {
    let ctx = r.to_string();
    assert_eq!(r["passed"], true, "{ctx}");
    assert_eq!(r["verified"], true, "{ctx}");
    assert_eq!(r["accepts"], n as u64, "{ctx}");
    assert_eq!(r["sockets_from"], "listen", "{ctx}");
    assert_eq!(r["buflets_free_end"], r["num_buflets"], "{ctx}");
    // Walks cost cycles; a connection's back-to-back frames are forwarded without one.
    assert!(
        r["lookup_cycles_per_frame"].as_f64().expect("lookup cost") > 0.0,
        "{ctx}"
    );
    // The runner keeps at most 8 clients in their handshake, under HALF_OPEN_MAX: no SYN is
    // refused.
    assert_eq!(r["listen_full_drops"], 0, "{ctx}");
    let conns = r["connections"].as_array().expect("connections list");
    assert_eq!(conns.len(), n, "{ctx}");
    for (i, c) in conns.iter().enumerate() {
        let file = expected(i);
        let sha = hex::encode(Sha256::digest(&file));
        assert_eq!(c["client"], frames::Client::nth(i).addr(), "{ctx}");
        assert_eq!(c["verified"], true, "connection {i}: {c}");
        assert_eq!(c["sha256"], sha.as_str(), "connection {i}: {c}");
        assert_eq!(c["bytes"], file.len() as u64, "connection {i}: {c}");
    }
    // Distinct clients: distinct files.
    let shas: std::collections::HashSet<_> =
        conns.iter().map(|c| c["sha256"].to_string()).collect();
    assert_eq!(shas.len(), n, "{ctx}");
}

/// The seeded stream of connection `i`, from the documented derivation (connection 0 keeps
/// the seed; connection i adds i * 0x9E37_79B9_7F4A_7C15).
fn seeded(seed: u64, i: usize, bytes: usize) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let s = seed.wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut v = vec![0u8; bytes];
    rand_chacha::ChaCha8Rng::seed_from_u64(s).fill_bytes(&mut v);
    v
}

#[test]
fn eight_raw_connections_land_on_both_backends() {
    for backend in ["model", "rtl"] {
        let r = report(&[
            "demo",
            "--connections",
            "8",
            "--bytes",
            "65536",
            "--seed",
            "5",
            "--backend",
            backend,
            "--json",
        ]);
        assert_eq!(r["backend"], backend);
        assert_eq!(r["connection_count"], 8);
        assert_eq!(r["sockets"], 64, "the default build");
        check(&r, 8, |i| seeded(5, i, 65536));
    }
}

#[test]
fn eight_framed_connections_land_on_both_backends() {
    for backend in ["model", "rtl"] {
        let r = report(&[
            "demo",
            "--connections",
            "8",
            "--bytes",
            "65536",
            "--seed",
            "3",
            "--protocol",
            "framed",
            "--backend",
            backend,
            "--json",
        ]);
        assert_eq!(r["protocol"], "framed");
        // Each BFW1 session rewrites parts of its file: the file it must leave is the one
        // the testbench's reference decoder builds from the records (checked against the
        // disk inside the run); here, each connection's file is its own and verified.
        let conns = r["connections"].as_array().expect("connections");
        assert_eq!(conns.len(), 8, "{r}");
        assert!(
            conns
                .iter()
                .all(|c| c["verified"] == true && c["sha256"] == c["expected_sha256"]),
            "{r}"
        );
        assert_eq!(r["accepts"], 8, "{r}");
        assert_eq!(r["passed"], true, "{r}");
    }
}

/// The socket-scaled build: more connections than the default build has sockets.
#[test]
fn a_hundred_connections_on_the_4096_socket_build() {
    // Both backends have the 4096-socket build at 64 bits.
    for backend in ["model", "rtl"] {
        let r = report(&[
            "demo",
            "--connections",
            "100",
            "--sockets",
            "4096",
            "--backend",
            backend,
            "--json",
        ]);
        assert_eq!(r["sockets"], 4096, "{r}");
        // 4 MiB / 100 rounded up to 4 KiB: 45056 bytes each.
        check(&r, 100, |i| seeded(1, i, 45056));
    }
}

/// The model only: the human report is printed by the same code for either backend, whose runs
/// the tests above check on both.
#[test]
fn the_human_report_lists_connections_then_totals() {
    let o = Command::new(env!("CARGO_BIN_EXE_buflet"))
        .args(["demo", "--connections", "20", "--bytes", "16384"])
        .output()
        .expect("buflet runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    let per_conn = lines
        .iter()
        .filter(|l| l.starts_with("  10.0.0.") && l.ends_with(" verified"));
    assert_eq!(per_conn.count(), 16, "{out}");
    assert!(out.contains("... 4 more"), "{out}");
    assert!(
        lines
            .last()
            .expect("totals")
            .starts_with("totals: 20 of 20 connections verified"),
        "{out}"
    );
}

/// `buflet replay` of a capture with two connections (two real captures merged frame by frame
/// with pcap-file): the JSON lists both, each file verified against its payload's sha256 from
/// traces/SHA256SUMS; a one-connection replay lists its one connection the same way. The model
/// only: this checks the CLI's report; `-p buflet-testbench --test replay_connections` replays
/// merged captures on both backends.
#[test]
fn replay_reports_every_connection() {
    use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
    let traces = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
    let read = |name: &str| -> Vec<Vec<u8>> {
        let mut r = PcapReader::new(std::fs::File::open(traces.join(name)).unwrap()).unwrap();
        let mut v = Vec::new();
        while let Some(p) = r.next_packet() {
            v.push(p.unwrap().data.into_owned());
        }
        v
    };
    let sums = std::fs::read_to_string(traces.join("SHA256SUMS")).unwrap();
    let sha = |name: &str| {
        sums.lines()
            .find(|l| l.ends_with(name))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_string()
    };
    let a = read("linux-tcp-mtu1500-100000B-impaired.pcap");
    let b = read("linux-tcp-mtu1500-1KiB.pcap");
    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("two.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&merged).unwrap()).unwrap();
    for k in 0..a.len().max(b.len()) {
        for f in [a.get(k), b.get(k)].into_iter().flatten() {
            w.write_packet(&PcapPacket::new(
                std::time::Duration::ZERO,
                f.len() as u32,
                f,
            ))
            .unwrap();
        }
    }
    drop(w);
    let r = report(&["replay", merged.to_str().unwrap(), "--json"]);
    let conns = r["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 2, "{r}");
    assert_eq!(conns[0]["client"], "10.77.0.1:42003", "{r}");
    assert_eq!(conns[1]["client"], "10.77.0.1:41001", "{r}");
    assert_eq!(
        conns[0]["sha256"],
        sha("payload-100000B.bin").as_str(),
        "{r}"
    );
    assert_eq!(conns[1]["sha256"], sha("payload-1KiB.bin").as_str(), "{r}");
    assert_eq!(r["passed"], true, "{r}");
    let one = traces.join("linux-tcp-mtu1500-4096B.pcap");
    let r = report(&["replay", one.to_str().unwrap(), "--json"]);
    let conns = r["connections"].as_array().expect("connections");
    assert_eq!(conns.len(), 1, "{r}");
    assert_eq!(conns[0]["sha256"], sha("payload-4096B.bin").as_str(), "{r}");
    assert_eq!(conns[0]["verified"], true, "{r}");
}

/// p2p: the payload stays in the NIC's buflets until written, so each connection's buffers are
/// sized to its share of the buflet pool; eight connections still land on both backends.
#[test]
fn p2p_connections_land_on_both_backends() {
    for backend in ["model", "rtl"] {
        let r = report(&[
            "demo",
            "--connections",
            "8",
            "--bytes",
            "65536",
            "--seed",
            "9",
            "--mode",
            "p2p",
            "--backend",
            backend,
            "--json",
        ]);
        assert_eq!(r["mode"], "p2p", "{r}");
        check(&r, 8, |i| seeded(9, i, 65536));
        assert!(r["pages_per_nb"].as_u64().expect("pages") < 16, "{r}");
    }
}

/// BFW1 needs two named buffers per connection (a record header cut by the end of one buffer
/// is read once the next comes): on the default build (64 NB slots) 64 framed connections are
/// served 32 at a time, the rest wait in their SYN retransmissions, and all of them land.
#[test]
fn sixty_four_framed_connections_share_the_named_buffers() {
    for backend in ["model", "rtl"] {
        let r = report(&[
            "demo",
            "--connections",
            "64",
            "--protocol",
            "framed",
            "--backend",
            backend,
            "--json",
        ]);
        assert_eq!(r["passed"], true, "{r}");
        assert_eq!(r["connections_verified"], 64, "{r}");
        assert_eq!(r["nbs_per_connection"], 2, "{r}");
        assert!(r["peak_connections"].as_u64().expect("peak") <= 32, "{r}");
        assert_eq!(r["accepts"], 64, "{r}");
    }
}
