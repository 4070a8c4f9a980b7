//! The SMB2 parser finds every WRITE in real Samba uploads (smbclient, smbprotocol; dialects 2.1,
//! 3.0.2, 3.1.1): applying the WRITEs it reports to an empty file gives the file the server stored.
//! The client-to-server stream is reassembled here with etherparse and pcap-file, independently of
//! the device and of the testbench.

use std::collections::BTreeMap;
use std::path::PathBuf;

use buflet_nas::smb2::{parse_head, parse_message, MsgKind, Write, CMD_WRITE};
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use sha2::{Digest, Sha256};

fn traces() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

/// Client-to-server TCP stream of the first connection to port 445.
fn client_stream(pcap: &str) -> Vec<u8> {
    let f = std::fs::File::open(traces().join(pcap)).unwrap_or_else(|e| panic!("{pcap}: {e}"));
    let mut r = pcap_file::pcap::PcapReader::new(f).unwrap();
    let mut isn = None;
    let mut segs: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        let Ok(s) = SlicedPacket::from_ethernet(&p.data) else {
            continue;
        };
        let (Some(NetSlice::Ipv4(_)), Some(TransportSlice::Tcp(t))) = (&s.net, &s.transport) else {
            continue;
        };
        if t.destination_port() != 445 {
            continue;
        }
        if t.syn() {
            isn.get_or_insert(t.sequence_number());
            continue;
        }
        let Some(isn) = isn else { continue };
        if !t.payload().is_empty() {
            let off = t.sequence_number().wrapping_sub(isn).wrapping_sub(1);
            segs.entry(off).or_insert_with(|| t.payload().to_vec());
        }
    }
    let mut out = Vec::new();
    for (off, data) in segs {
        let off = off as usize;
        assert!(
            off <= out.len(),
            "{pcap}: gap in the client stream at {}",
            out.len()
        );
        if off + data.len() > out.len() {
            out.extend_from_slice(&data[out.len() - off..]);
        }
    }
    out
}

struct Upload {
    file: Vec<u8>,
    writes: usize,
    kinds: Vec<MsgKind>,
}

fn apply_writes(stream: &[u8]) -> Upload {
    let mut read = |off: u64, buf: &mut [u8]| -> bool {
        let (s, e) = (off as usize, off as usize + buf.len());
        e <= stream.len() && {
            buf.copy_from_slice(&stream[s..e]);
            true
        }
    };
    let mut file = Vec::new();
    let (mut at, mut writes, mut kinds) = (0u64, 0, Vec::new());
    while let Some(m) = parse_message(at, stream.len() as u64, &mut read).unwrap() {
        kinds.push(m.kind);
        for c in &m.commands {
            if let Some(w) = c.write {
                assert_eq!(c.command, CMD_WRITE);
                let end = (w.file_off + w.len as u64) as usize;
                if file.len() < end {
                    file.resize(end, 0);
                }
                let s = w.stream_off as usize;
                file[w.file_off as usize..end].copy_from_slice(&stream[s..s + w.len as usize]);
                writes += 1;
            }
        }
        at = m.end;
    }
    assert_eq!(
        at,
        stream.len() as u64,
        "the stream ends on a message boundary"
    );
    Upload {
        file,
        writes,
        kinds,
    }
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn payload_sha(name: &str) -> String {
    sha(&std::fs::read(traces().join(name)).unwrap())
}

#[test]
fn smbclient_smb210_1mib_upload() {
    let up = apply_writes(&client_stream("smb-smbclient-smb210-user-put-1MiB.pcap"));
    assert!(up.writes >= 1);
    assert_eq!(sha(&up.file), payload_sha("payload-1MiB.bin"));
}

#[test]
fn smbclient_smb311_100000b_upload() {
    let up = apply_writes(&client_stream(
        "smb-smbclient-smb311-guest-put-100000B.pcap",
    ));
    assert_eq!(sha(&up.file), payload_sha("payload-100000B.bin"));
    assert!(!up.kinds.contains(&MsgKind::Encrypted));
}

#[test]
fn smbprotocol_unaligned_offsets() {
    let up = apply_writes(&client_stream(
        "smb-smbprotocol-smb302-user-unsigned-offsets.pcap",
    ));
    assert_eq!(up.file.len(), 1_048_576);
    assert_eq!(
        sha(&up.file),
        "0e8cf2c2e468740d4463aa2d00bb112dbcd63008b6fb781ceb8d076926faba3c"
    );
    assert!(up.writes >= 5, "{} writes", up.writes);
}

#[test]
fn transform_header_is_reported_as_encrypted() {
    // A NetBIOS session message holding an SMB2 TRANSFORM header (0xFD 'SMB').
    let mut s = vec![0u8, 0, 0, 56];
    s.extend_from_slice(&[0xFD, b'S', b'M', b'B']);
    s.resize(60, 0);
    let up = apply_writes(&s);
    assert_eq!(up.kinds, vec![MsgKind::Encrypted]);
    assert_eq!(up.writes, 0);
}

#[test]
fn write_pointing_outside_its_message_is_malformed() {
    let mut s = vec![0u8, 0, 0, 112];
    let mut h = vec![0u8; 112];
    h[..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
    h[4] = 64;
    h[12] = 9; // WRITE
    h[64] = 49;
    h[66] = 0x70; // DataOffset 112
    h[68..72].copy_from_slice(&100u32.to_le_bytes()); // 100 bytes: beyond the message
    s.extend_from_slice(&h);
    let mut read = |off: u64, buf: &mut [u8]| {
        buf.copy_from_slice(&s[off as usize..off as usize + buf.len()]);
        true
    };
    let e = parse_message(0, s.len() as u64, &mut read).unwrap_err();
    assert!(e.to_string().contains("outside its command"), "{e}");
}

/// The WRITEs of a stream as `parse_head` finds them when the stream arrives in `step`-byte
/// pieces (as named buffers come back): a message is taken as soon as its headers are in,
/// before its data.
fn writes_arriving(stream: &[u8], step: usize) -> Vec<Write> {
    let mut read = |off: u64, buf: &mut [u8]| -> bool {
        let (s, e) = (off as usize, off as usize + buf.len());
        e <= stream.len() && {
            buf.copy_from_slice(&stream[s..e]);
            true
        }
    };
    let mut out = Vec::new();
    let (mut at, mut received) = (0u64, 0u64);
    let mut early = 0;
    while at < stream.len() as u64 {
        received = (received + step as u64).min(stream.len() as u64);
        while let Some(m) = parse_head(at, received, &mut read).unwrap() {
            if m.end > received {
                early += 1;
            }
            out.extend(m.commands.iter().filter_map(|c| c.write));
            at = m.end;
        }
    }
    assert!(early > 0, "no message was taken before its data was all in");
    out
}

#[test]
fn head_parsing_as_bytes_arrive_finds_the_same_writes() {
    for pcap in [
        "smb-smbclient-smb210-user-put-1MiB.pcap",
        "smb-smbprotocol-smb302-user-unsigned-offsets.pcap",
    ] {
        let stream = client_stream(pcap);
        let mut read = |off: u64, buf: &mut [u8]| -> bool {
            let (s, e) = (off as usize, off as usize + buf.len());
            e <= stream.len() && {
                buf.copy_from_slice(&stream[s..e]);
                true
            }
        };
        let mut whole = Vec::new();
        let mut at = 0;
        while let Some(m) = parse_message(at, stream.len() as u64, &mut read).unwrap() {
            whole.extend(m.commands.iter().filter_map(|c| c.write));
            at = m.end;
        }
        for step in [1448, 4096, 65536] {
            assert_eq!(
                writes_arriving(&stream, step),
                whole,
                "{pcap} in {step}-byte steps"
            );
        }
    }
}
