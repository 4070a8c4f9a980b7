//! Replays of a real upload with hostile frames mixed in (issue 11, item 1): a forged SYN with
//! a bad checksum before the real one, a corrupted copy of a data segment before the genuine
//! one, a valid segment far outside the window (an injection attempt), a truncated frame, a
//! wrong-port segment, a bad IPv4 header checksum and garbage. The reference is what a correct
//! receiver accepts, so the upload still lands byte-exact on both backends, and every hostile
//! frame is a counted drop. Frames are built and edited with etherparse; the capture is
//! written with pcap-file.

use buflet_testbench::traces::trace;
use buflet_testbench::{pcap, run_stream, sha256_hex, Backend, RunOptions, RunReport, Scenario};
use etherparse::PacketBuilder;
use std::path::Path;

const NAME: &str = "linux-tcp-mtu1500-100000B.pcap";

/// Every frame of a capture, with its header.
fn read_all(path: &Path) -> (pcap_file::pcap::PcapHeader, Vec<Vec<u8>>) {
    let mut r = pcap_file::pcap::PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let h = r.header();
    let mut v = Vec::new();
    while let Some(p) = r.next_packet() {
        v.push(p.unwrap().data.into_owned());
    }
    (h, v)
}

fn write_all(path: &Path, h: pcap_file::pcap::PcapHeader, frames: &[Vec<u8>]) {
    let mut w =
        pcap_file::pcap::PcapWriter::with_header(std::fs::File::create(path).unwrap(), h).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let p = pcap_file::pcap::PcapPacket::new(
            std::time::Duration::from_micros(i as u64),
            f.len() as u32,
            f,
        );
        w.write_packet(&p).unwrap();
    }
}

/// The TCP fields of a frame (etherparse, through the harness's reader).
fn tcp(f: &[u8]) -> Option<pcap::TcpInfo> {
    pcap::tcp_info(f).map(|(t, _)| t)
}

/// The capture with hostile frames added; returns them counted.
fn hostile(frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, usize) {
    let syn_i = frames
        .iter()
        .position(|f| tcp(f).is_some_and(|t| t.syn && !t.ack))
        .unwrap();
    let syn = &frames[syn_i];
    let t = tcp(syn).unwrap();
    let (cip, sip, cport, sport, isn) = (t.src_ip, t.dst_ip, t.src_port, t.dst_port, t.seq);
    let (smac, cmac): ([u8; 6], [u8; 6]) = (
        syn[0..6].try_into().unwrap(),
        syn[6..12].try_into().unwrap(),
    );
    let data: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| tcp(f).is_some_and(|t| t.src_ip == cip && t.payload_len > 0))
        .map(|(i, _)| i)
        .collect();
    let build = |sport_: u16, dport: u16, seq: u32, payload: &[u8]| {
        let b = PacketBuilder::ethernet2(cmac, smac)
            .ipv4(cip, sip, 64)
            .tcp(sport_, dport, seq, 64240)
            .ack(1);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    };
    let mut out = Vec::new();
    let mut added = 0;
    for (i, f) in frames.iter().enumerate() {
        if i == syn_i {
            // A forged SYN with a bad checksum before the real one.
            let mut forged = f.clone();
            let n = forged.len();
            forged[n - 1] ^= 0x55;
            forged[50] ^= 0xff; // TCP checksum field (14 + 20 + 16)
            out.push(forged);
            added += 1;
        }
        if i == data[4] {
            // A corrupted copy (payload changed, checksum not) before the genuine segment.
            let mut bad = f.clone();
            let n = bad.len();
            bad[n - 10] ^= 0x01;
            out.push(bad);
            // A bad IPv4 header checksum on another copy.
            let mut badip = f.clone();
            badip[24] ^= 0x40;
            out.push(badip);
            added += 2;
        }
        if i == data[10] {
            // A valid segment far outside any window: an injection attempt.
            out.push(build(cport, sport, isn.wrapping_add(1 << 30), &[0xee; 600]));
            // A frame cut in the middle of its payload.
            out.push(f[..f.len() / 2].to_vec());
            // A valid segment for another port.
            out.push(build(
                cport,
                sport.wrapping_add(1),
                isn.wrapping_add(1),
                b"wrong port",
            ));
            // Garbage addressed to the server.
            let mut junk = smac.to_vec();
            junk.extend_from_slice(&cmac);
            junk.extend((0..50u8).map(|k| k.wrapping_mul(37)));
            out.push(junk);
            added += 4;
        }
        out.push(f.clone());
    }
    (out, added)
}

fn replay(path: &Path, b: Backend) -> RunReport {
    let sc = Scenario::replay(pcap::load(path).unwrap_or_else(|e| panic!("{e}")));
    run_stream(&sc, &RunOptions::new(b, 64)).unwrap_or_else(|e| panic!("{}: {e}", b.name()))
}

#[test]
fn hostile_frames_mixed_into_an_upload_land_byte_exact_and_counted_on_both_backends() {
    let payload = std::fs::read(trace("payload-100000B.bin")).unwrap();
    let (h, frames) = read_all(&trace(NAME));
    let (mixed, added) = hostile(&frames);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.pcap");
    write_all(&path, h, &mixed);
    let cap = pcap::load(&path).unwrap();
    assert_eq!(
        cap.stream, payload,
        "the reference is what a correct receiver takes"
    );
    for b in Backend::ALL {
        let clean = replay(&trace(NAME), b);
        let r = replay(&path, b);
        let ctx = format!("{}: {:?} vs clean {:?}", b.name(), r.drops, clean.drops);
        assert!(r.verified && r.passed, "{ctx}: {:?}", r.failures);
        assert_eq!(r.disk_sha256, sha256_hex(&payload), "{ctx}");
        assert_eq!(r.buflets_free_end, r.num_buflets, "{ctx}");
        assert_eq!(
            r.dropped,
            clean.dropped + added as u64,
            "every hostile frame is a counted drop: {ctx}"
        );
    }
}
