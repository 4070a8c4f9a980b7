//! Seeded fuzzing on the stable toolchain: mutated and random inputs into the device
//! ([`frames`]) and into the capture, SMB2 and BFW1 parsers ([`parsers`]). `buflet fuzz` runs
//! them at any size; the test suite runs them small. The RTL is fuzzed through the cosim
//! (`buflet cosim`), whose cases mix malformed frames into the traffic and compare every
//! transaction with the model.

pub mod frames;
pub mod parsers;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Mutate a frame in place: 1 to 4 of bit flips, overwritten bytes, a cut, growth with random
/// bytes, and a random 16-bit field; then, half the time, make the IPv4 header checksum and the
/// TCP or UDP checksum right again (etherparse), so the mutation reaches past the checks.
pub fn mutate(rng: &mut ChaCha8Rng, v: &mut Vec<u8>) {
    for _ in 0..rng.gen_range(1..=4) {
        match rng.gen_range(0..5) {
            0 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if !v.is_empty() => {
                let i = rng.gen_range(0..v.len());
                v[i] = rng.gen();
            }
            2 if !v.is_empty() => {
                let n = rng.gen_range(0..v.len());
                v.truncate(n);
            }
            3 => {
                let n = rng.gen_range(1..64);
                v.extend((0..n).map(|_| rng.gen::<u8>()));
            }
            _ if v.len() >= 2 => {
                // A header field: bias towards the first 64 bytes.
                let i = rng.gen_range(0..v.len().min(64) - 1);
                let x: u16 = rng.gen();
                v[i..i + 2].copy_from_slice(&x.to_be_bytes());
            }
            _ => {}
        }
    }
    if rng.gen_bool(0.5) {
        fix_checksums(v);
    }
}

/// Rewrite the IPv4 header checksum and the TCP/UDP checksum of an untagged Ethernet/IPv4
/// frame, when etherparse can read its headers.
fn fix_checksums(v: &mut [u8]) {
    use etherparse::{Ipv4Header, TcpHeader, UdpHeader};
    if v.len() < 14 + 20 || v[12..14] != [0x08, 0x00] {
        return;
    }
    let Ok((mut ip, _)) = Ipv4Header::from_slice(&v[14..]) else {
        return;
    };
    let ihl = ip.header_len();
    ip.header_checksum = ip.calc_header_checksum();
    v[14 + 10..14 + 12].copy_from_slice(&ip.header_checksum.to_be_bytes());
    let l4 = 14 + ihl;
    let end = (14 + ip.total_len as usize).min(v.len());
    if l4 >= end {
        return;
    }
    match ip.protocol {
        etherparse::IpNumber::TCP => {
            if let Ok((t, _)) = TcpHeader::from_slice(&v[l4..end]) {
                let hl = t.header_len();
                if l4 + hl <= end {
                    if let Ok(c) = t.calc_checksum_ipv4(&ip, &v[l4 + hl..end]) {
                        v[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
                    }
                }
            }
        }
        etherparse::IpNumber::UDP => {
            if let Ok((u, _)) = UdpHeader::from_slice(&v[l4..end]) {
                if let Ok(c) = u.calc_checksum_ipv4(&ip, &v[l4 + 8..end]) {
                    v[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
                }
            }
        }
        _ => {}
    }
}
