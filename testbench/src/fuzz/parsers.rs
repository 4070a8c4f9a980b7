//! The capture, SMB2 and BFW1 parsers under random and mutated inputs: none may panic, and
//! none may allocate in proportion to what an input claims rather than what it holds (inputs
//! are at most a few KiB, so an allocation that followed a claimed length would abort the run).

use super::mutate;
use buflet_nas::{framed, smb2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// What a parser fuzz run tried.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParserFuzzReport {
    pub seed: u64,
    /// Inputs per parser.
    pub inputs: u64,
    /// Capture inputs read as captures (the rest were refused with an error).
    pub captures_read: u64,
    /// SMB2 inputs that parsed as a message, and BFW1 inputs that parsed as a record.
    pub smb2_messages: u64,
    pub bfw1_records: u64,
}

/// Feed `inputs` inputs to each parser. A panic propagates (the caller's test or command fails).
pub fn run(seed: u64, inputs: u64) -> ParserFuzzReport {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rep = ParserFuzzReport {
        seed,
        inputs,
        ..ParserFuzzReport::default()
    };
    let seeds = seed_inputs();
    for _ in 0..inputs {
        // Captures: a mutated small capture, or random bytes behind a pcap or pcapng magic.
        let mut cap = seeds.capture.clone();
        if rng.gen_bool(0.8) {
            mutate(&mut rng, &mut cap);
        } else {
            let magic: &[u8] = if rng.gen_bool(0.5) {
                &[0xd4, 0xc3, 0xb2, 0xa1]
            } else {
                &[0x0a, 0x0d, 0x0d, 0x0a]
            };
            cap = magic.to_vec();
            cap.extend((0..rng.gen_range(0..512)).map(|_| rng.gen::<u8>()));
        }
        if crate::pcap::frames_from_bytes(&cap).is_ok() {
            rep.captures_read += 1;
        }
        // SMB2: a mutated WRITE message (header, body and data), read from memory.
        let mut m = seeds.smb2.clone();
        mutate(&mut rng, &mut m);
        let len = m.len() as u64;
        let mut read = |off: u64, buf: &mut [u8]| {
            let (a, b) = (off as usize, off as usize + buf.len());
            b <= m.len() && {
                buf.copy_from_slice(&m[a..b]);
                true
            }
        };
        if let Ok(Some(_)) = smb2::parse_message(0, len, &mut read) {
            rep.smb2_messages += 1;
        }
        let _ = smb2::parse_head(0, len, &mut read);
        // BFW1: a mutated header.
        let mut h = seeds.bfw1;
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..h.len());
            h[i] = rng.gen();
        }
        if framed::parse(rng.gen(), &h).is_ok() {
            rep.bfw1_records += 1;
        }
    }
    rep
}

struct Seeds {
    capture: Vec<u8>,
    smb2: Vec<u8>,
    bfw1: [u8; framed::HDR as usize],
}

/// Well-formed inputs the mutations start from, built here without our packet code.
fn seed_inputs() -> Seeds {
    // A classic pcap with two Ethernet/IPv4/TCP frames.
    let mut capture = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    capture.extend_from_slice(&[0; 8]);
    capture.extend_from_slice(&65535u32.to_le_bytes());
    capture.extend_from_slice(&1u32.to_le_bytes());
    for seq in [1000u32, 2000] {
        let mut f = Vec::new();
        let _ = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 445, seq, 1000)
            .write(&mut f, &[7; 40]);
        capture.extend_from_slice(&[0; 8]);
        capture.extend_from_slice(&(f.len() as u32).to_le_bytes());
        capture.extend_from_slice(&(f.len() as u32).to_le_bytes());
        capture.extend_from_slice(&f);
    }
    // A NetBIOS session message holding one SMB2 WRITE of 32 bytes at offset 4096.
    let mut smb = vec![0xfe, b'S', b'M', b'B', 64, 0];
    smb.resize(64, 0);
    smb[12..14].copy_from_slice(&9u16.to_le_bytes()); // WRITE
    let mut body = vec![0u8; 48];
    body[0..2].copy_from_slice(&49u16.to_le_bytes());
    body[2..4].copy_from_slice(&(64u16 + 48).to_le_bytes());
    body[4..8].copy_from_slice(&32u32.to_le_bytes());
    body[8..16].copy_from_slice(&4096u64.to_le_bytes());
    smb.extend_from_slice(&body);
    smb.extend_from_slice(&[0xab; 32]);
    let mut smb2 = vec![0, 0, 0, 0];
    smb2[1..4].copy_from_slice(&(smb.len() as u32).to_be_bytes()[1..]);
    smb2.extend_from_slice(&smb);
    let mut bfw1 = [0u8; framed::HDR as usize];
    bfw1[..4].copy_from_slice(b"BFW1");
    bfw1[4..8].copy_from_slice(&100u32.to_le_bytes());
    bfw1[8..16].copy_from_slice(&8192u64.to_le_bytes());
    Seeds {
        capture,
        smb2,
        bfw1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inputs the mutations start from are well formed: the fuzz begins inside each
    /// parser's accepted language.
    #[test]
    fn seeds_parse() {
        let s = seed_inputs();
        assert_eq!(crate::pcap::frames_from_bytes(&s.capture).unwrap().len(), 2);
        let m = s.smb2.clone();
        let mut read = |off: u64, buf: &mut [u8]| {
            let (a, b) = (off as usize, off as usize + buf.len());
            b <= m.len() && {
                buf.copy_from_slice(&m[a..b]);
                true
            }
        };
        let msg = smb2::parse_message(0, m.len() as u64, &mut read)
            .unwrap()
            .unwrap();
        let w = msg.commands[0].write.unwrap();
        assert_eq!((w.file_off, w.len), (4096, 32));
        let r = framed::parse(0, &s.bfw1).unwrap();
        assert_eq!((r.file_off, r.len), (8192, 100));
    }
}
