//! Buflet's framed write protocol (BFW1) end to end (`buflet demo --protocol framed`, `buflet
//! replay --protocol framed`): the client sends a file as records of seeded sizes at seeded,
//! mostly unaligned, file offsets, in a seeded order, with overlapping rewrites; the NIC puts the
//! stream in named buffers, the NAS application reads only the record headers and writes each
//! record's data zero-copy at its offset (read-modify-write for partial blocks). The file on disk
//! must be the records applied in order to an empty file, on both backends.
//!
//! The expected files are built here from the record lists (and malformed streams are built
//! here byte by byte, from the layout in `nas/src/framed.rs`'s doc), never with our parser.

use buflet_testbench::e2e_check::{assert_zero_copy_and_no_leaks, run_ok, temp_dir};
use buflet_testbench::{
    framed_demo_records, framed_stream, pcap, sha256_hex, Backend, FramedRecord, FsKind, Protocol,
    RunOptions, RunReport, Scenario,
};
use std::path::PathBuf;

const ISN: u32 = 0xffff_f000;
const ISS: u32 = 0x0bad_cafe;

/// The records applied in order to an empty file: as long as the highest byte written, zeros
/// where nothing landed.
fn apply(records: &[FramedRecord]) -> Vec<u8> {
    let mut file = Vec::new();
    for r in records {
        let (at, n) = (r.file_off as usize, r.data.len());
        if n == 0 {
            continue;
        }
        if file.len() < at + n {
            file.resize(at + n, 0);
        }
        file[at..at + n].copy_from_slice(&r.data);
    }
    file
}

/// A record header by hand: magic, u32 LE length, u64 LE file offset, 8 reserved bytes.
fn hdr(magic: &[u8; 4], len: u32, off: u64) -> Vec<u8> {
    let mut h = magic.to_vec();
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(&off.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h
}

/// A record of `data` at file offset `file_off`.
fn rec(file_off: u64, data: Vec<u8>) -> FramedRecord {
    FramedRecord { file_off, data }
}

fn bytes(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

/// What every good framed run satisfies, with `records` the records sent.
fn check_framed(r: &RunReport, records: &[FramedRecord]) {
    let want = apply(records);
    let sha = sha256_hex(&want);
    let ctx = format!(
        "{} {}-bit: {:?} {:?}",
        r.backend, r.data_width, r.failures, r.writer
    );
    assert!(r.passed && r.verified, "{ctx}");
    assert_eq!(r.disk_sha256, sha, "{ctx}");
    assert_eq!(r.source_sha256, sha, "{ctx}");
    assert_eq!(r.payload_bytes, want.len() as u64, "{ctx}");
    assert_eq!(r.protocol, Protocol::Framed);
    assert_eq!(r.framed_records, records.len() as u64, "{ctx}");
    // every record is durable by the end, in order: what WRITE_ACKs report
    assert_eq!(r.framed_durable, records.len() as u64, "{ctx}");
    assert_eq!(r.framed_durable_bytes, r.framed_record_bytes, "{ctx}");
    let data: u64 = records.iter().map(|x| x.data.len() as u64).sum();
    assert_eq!(r.framed_record_bytes, data, "{ctx}");
    assert_eq!(
        r.writer.bytes_written, data,
        "every record byte written: {ctx}"
    );
    assert_eq!(r.writer.writes_failed, 0, "{ctx}");
    assert_eq!(r.stream_error, None, "{ctx}");
    assert_eq!(r.rmw_blocks, r.writer.rmw_blocks, "{ctx}");
    assert_zero_copy_and_no_leaks(r, &ctx);
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(json["protocol"], "framed");
    assert_eq!(json["framed_records"], records.len() as u64);
    assert_eq!(json["framed_record_bytes"], data);
    assert_eq!(json["rmw_blocks"], r.writer.rmw_blocks);
    assert_eq!(json["stream_error"], serde_json::Value::Null);
    assert_eq!(json["passed"], true);
}

/// The demo's records cover the file, most at unaligned offsets, in an order that matters.
#[test]
fn demo_records_cover_the_file_unaligned_with_overlapping_rewrites() {
    let n = 300_001;
    let recs = framed_demo_records(5, n);
    assert_eq!(recs, framed_demo_records(5, n), "seeded");
    assert_ne!(recs, framed_demo_records(6, n));
    let file = apply(&recs);
    assert_eq!(file.len(), n);
    let mut covered = vec![false; n];
    for r in &recs {
        covered[r.file_off as usize..r.file_off as usize + r.data.len()].fill(true);
    }
    assert!(covered.iter().all(|&c| c), "the records cover the file");
    let unaligned = recs.iter().filter(|r| r.file_off % 4096 != 0).count();
    assert!(unaligned * 2 > recs.len(), "{unaligned} of {}", recs.len());
    assert!(recs.iter().any(|r| r.data.len() < 512), "some tiny records");
    // Overlaps: the file is not what the records make in reverse order.
    let mut rev = recs.clone();
    rev.reverse();
    assert_ne!(apply(&rev), file, "record order matters");
    // Every rewrite (a record whose bytes are not the seeded file's) overlaps the record just
    // before it, so even swapping neighbours changes the file.
    let payload = buflet_testbench::frames::payload(5, n);
    let mut rewrites = 0;
    for (i, r) in recs.iter().enumerate() {
        let (a, b) = (r.file_off as usize, r.file_off as usize + r.data.len());
        if r.data[..] == payload[a..b] {
            continue;
        }
        rewrites += 1;
        let p = &recs[i - 1];
        assert!(
            a < p.file_off as usize + p.data.len() && (p.file_off as usize) < b,
            "rewrite {i} overlaps record {}",
            i - 1
        );
        let mut swapped = recs.clone();
        swapped.swap(i - 1, i);
        assert_ne!(apply(&swapped), file, "swapping records {} and {i}", i - 1);
    }
    assert!(
        rewrites >= 2,
        "{rewrites} rewrites in {} records",
        recs.len()
    );
    // Not in file order.
    assert!(recs.windows(2).any(|w| w[1].file_off < w[0].file_off));
    // The stream is the records, headers by the documented layout.
    let s = framed_stream(&recs[..2]);
    assert_eq!(
        s[..24],
        hdr(b"BFW1", recs[0].data.len() as u32, recs[0].file_off)[..]
    );
    assert_eq!(s.len(), 48 + recs[0].data.len() + recs[1].data.len());
}

/// The framed demo lands byte-exact on both backends at 64 bits.
#[test]
fn framed_demo_lands_byte_exact_on_both_backends() {
    let recs = framed_demo_records(3, 600_000 + 123);
    let sc = Scenario::framed(&recs, 1448, ISN, ISS);
    assert_eq!(sc.protocol, Protocol::Framed);
    assert_eq!(sc.expected_file().unwrap().to_vec(), apply(&recs));
    let mut shas = Vec::new();
    for b in Backend::ALL {
        let r = run_ok(&sc, &RunOptions::new(b, 64));
        check_framed(&r, &recs);
        assert!(r.rmw_blocks > 0, "unaligned records: {:?}", r.writer);
        assert!(r.disk_reads > 0, "{:?}", r.writer);
        shas.push(r.disk_sha256);
    }
    assert_eq!(shas[0], shas[1]);
}

/// At 512 bits too, with another seed and segment size.
#[test]
fn framed_demo_at_512_bits_on_both_backends() {
    let recs = framed_demo_records(11, 200_000);
    let sc = Scenario::framed(&recs, 1000, ISN, ISS);
    for b in Backend::ALL {
        check_framed(&run_ok(&sc, &RunOptions::new(b, 512)), &recs);
    }
}

/// Hand-made records: a 1-byte record, records in one block, across blocks, a zero-length one,
/// a hole that stays zero, a rewrite of part of an earlier record.
#[test]
fn hand_made_records_with_a_hole_and_rewrites_on_both_backends() {
    let recs = vec![
        rec(10_000, bytes(1, 9000)),
        rec(3, vec![0xAA]),
        rec(12_000, bytes(2, 100)),
        rec(50, Vec::new()),
        rec(8192, bytes(3, 4096)),
        rec(40_000, bytes(4, 777)),
    ];
    let sc = Scenario::framed(&recs, 536, ISN, ISS);
    let want = apply(&recs);
    assert_eq!(want.len(), 40_777);
    assert!(want[20_000..40_000].iter().all(|&b| b == 0), "hole");
    for b in Backend::ALL {
        check_framed(&run_ok(&sc, &RunOptions::new(b, 64)), &recs);
    }
}

/// A record with a bad magic ends the run with a clear error: the records before it are on
/// disk, nothing of it or after it is (the records after it would rewrite the file and extend
/// it). On both backends.
#[test]
fn bad_magic_stops_the_nas_and_nothing_after_it_is_written_on_both_backends() {
    let good = vec![rec(100, bytes(5, 20_000)), rec(7, bytes(6, 300))];
    let mut stream = framed_stream(&good);
    let bad_at = stream.len();
    stream.extend_from_slice(&hdr(b"BFW2", 1000, 0));
    stream.extend_from_slice(&bytes(7, 1000));
    stream.extend_from_slice(&hdr(b"BFW1", 5000, 0));
    stream.extend_from_slice(&bytes(8, 5000));
    stream.extend_from_slice(&hdr(b"BFW1", 4096, 1 << 20));
    stream.extend_from_slice(&bytes(9, 4096));
    let sc = Scenario::demo(stream, 1448, ISN, ISS).with_protocol(Protocol::Framed);
    let want = apply(&good);
    assert_eq!(sc.expected_file().unwrap().to_vec(), want);
    for b in Backend::ALL {
        let r = run_ok(&sc, &RunOptions::new(b, 64));
        let ctx = format!("{}: {:?}", r.backend, r.failures);
        assert!(!r.passed, "{ctx}");
        let e = r.stream_error.clone().expect("a stream error");
        assert!(e.contains("bad magic"), "{e}");
        assert!(e.contains(&format!("stream offset {bad_at}")), "{e}");
        assert!(r.failures.contains(&e), "{ctx}");
        // Only the good records reached the disk.
        assert!(r.verified, "{ctx}");
        assert_eq!(r.disk_sha256, sha256_hex(&want), "{ctx}");
        assert_eq!(r.payload_bytes, want.len() as u64, "{ctx}");
        assert_eq!(r.framed_records, 2, "{ctx}");
        assert_eq!(r.writer.bytes_written, 20_300, "{ctx}");
        // The rest of the stream was read and dropped: the connection closed cleanly.
        assert_eq!(r.stream_bytes, sc.source.len() as u64, "{ctx}");
        assert_eq!(r.buflets_free_end, r.num_buflets, "{ctx}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(json["stream_error"], e.as_str());
    }
}

/// A length over the protocol's bound, reserved bytes set, or a stream cut inside a header or
/// inside a record's data are reported too (model).
#[test]
fn over_long_records_and_cut_streams_are_reported() {
    let good = vec![rec(4096, bytes(1, 5000))];
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        (
            "over the 16777216-byte limit",
            hdr(b"BFW1", (1 << 24) + 1, 0),
            apply(&good),
        ),
        (
            "reserved bytes",
            {
                let mut h = hdr(b"BFW1", 10, 0);
                h[20] = 1;
                h.extend_from_slice(&[1; 10]);
                h
            },
            apply(&good),
        ),
        (
            "inside the record header",
            hdr(b"BFW1", 10, 0)[..20].to_vec(),
            apply(&good),
        ),
        (
            "only the data that arrived",
            {
                let mut h = hdr(b"BFW1", 6000, 100);
                h.extend_from_slice(&bytes(2, 2500));
                h
            },
            {
                let mut f = apply(&good);
                f[100..2600].copy_from_slice(&bytes(2, 2500));
                f
            },
        ),
    ];
    for (what, tail, want) in cases {
        let mut stream = framed_stream(&good);
        stream.extend_from_slice(&tail);
        let sc = Scenario::demo(stream, 1448, ISN, ISS).with_protocol(Protocol::Framed);
        assert_eq!(sc.expected_file().unwrap().to_vec(), want, "{what}");
        let r = run_ok(&sc, &RunOptions::new(Backend::Model, 64));
        let e = r.stream_error.clone().unwrap_or_default();
        assert!(e.contains(what), "{what}: {e:?}");
        assert!(!r.passed && r.verified, "{what}: {:?}", r.failures);
        assert_eq!(r.disk_sha256, sha256_hex(&want), "{what}");
    }
}

/// `--pcap-out` then `replay --protocol framed`: the demo's capture holds both directions (the
/// NIC's SYN-ACK and ACKs too), and replayed through the NAS on both backends it leaves the same
/// file.
#[test]
fn framed_demo_capture_replays_on_both_backends() {
    let tmp = temp_dir("buflet-framed-test-");
    let dir = tmp.path();
    let cap: PathBuf = dir.join("framed.pcap");
    let recs = framed_demo_records(9, 150_000);
    let sc = Scenario::framed(&recs, 1448, ISN, ISS);
    let mut opt = RunOptions::new(Backend::Model, 64);
    opt.pcap_out = Some(cap.clone());
    let first = run_ok(&sc, &opt);
    check_framed(&first, &recs);

    // The capture, read with pcap-file and etherparse: every frame sent both ways.
    let mut rd = pcap_file::pcap::PcapReader::new(std::fs::File::open(&cap).unwrap()).unwrap();
    let (mut to_nic, mut from_nic) = (0u64, 0u64);
    while let Some(p) = rd.next_packet() {
        let p = p.unwrap();
        let eth = etherparse::Ethernet2Header::from_slice(&p.data).unwrap().0;
        if eth.destination == buflet_testbench::frames::SERVER_MAC {
            to_nic += 1;
        } else {
            assert_eq!(eth.source, buflet_testbench::frames::SERVER_MAC);
            from_nic += 1;
        }
    }
    assert_eq!(to_nic, first.frames_sent);
    assert_eq!(from_nic, first.tx_frames);

    let c = pcap::load(&cap).unwrap();
    assert_eq!(c.server_isn, ISS);
    assert_eq!(c.stream, sc.source, "the capture carries the framed stream");
    let replay = Scenario::replay(c);
    assert_eq!(replay.protocol, Protocol::Raw, "port 5001: raw unless told");
    let replay = replay.with_protocol(Protocol::Framed);
    for b in Backend::ALL {
        let r = run_ok(&replay, &RunOptions::new(b, 64));
        check_framed(&r, &recs);
        assert_eq!(r.disk_sha256, first.disk_sha256);
    }
}

/// The framed demo into a file of a real ext4 file system (model): holes read as zeros,
/// e2fsck clean, debugfs reads the file.
#[test]
fn framed_demo_into_ext4_reads_back_with_debugfs() {
    let tmp = temp_dir("buflet-framed-img-");
    let dir = tmp.path();
    let mut recs = framed_demo_records(21, 100_000);
    // A hole at the start: offsets from 10000 on only.
    for r in &mut recs {
        r.file_off += 10_000;
    }
    let sc = Scenario::framed(&recs, 1448, ISN, ISS);
    let mut opt = RunOptions::new(Backend::Model, 64);
    opt.image = Some(dir.join("framed.img"));
    opt.fs = Some(FsKind::Ext4);
    opt.file_path = "/nas/framed.bin".into();
    let r = run_ok(&sc, &opt);
    check_framed(&r, &recs);
    let want = sha256_hex(&apply(&recs));
    assert_eq!(r.fsck_clean, Some(true), "{:?}", r.fsck_summary);
    assert_eq!(r.debugfs_sha256.as_deref(), Some(want.as_str()));
}
