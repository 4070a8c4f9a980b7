//! The demo's TCP stream, built with etherparse.

use buflet_driver::SocketSpec;
use etherparse::{PacketBuilder, TcpOptionElement};
use rand::{RngCore, SeedableRng};

/// Client (sender) and server (the NIC) addresses of the demo connection.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
pub const SERVER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
pub const CLIENT_IP: [u8; 4] = [10, 0, 0, 1];
pub const SERVER_IP: [u8; 4] = [10, 0, 0, 2];
pub const CLIENT_PORT: u16 = 40_000;
pub const SERVER_PORT: u16 = 5001;

/// A seeded pseudo-random payload.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// The socket descriptor of the demo connection, from the NIC's side.
pub fn demo_socket() -> SocketSpec {
    SocketSpec {
        local_mac: SERVER_MAC,
        remote_mac: CLIENT_MAC,
        vlan: 0,
        local_ip: SERVER_IP,
        remote_ip: CLIENT_IP,
        local_port: SERVER_PORT,
        remote_port: CLIENT_PORT,
    }
}

/// The frames a client sends to transfer `data` in one TCP connection: SYN, data segments of
/// `mss` bytes (with the timestamp option, as Linux sends them), FIN.
pub fn tcp_stream(data: &[u8], mss: usize, isn: u32) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let base = || PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC).ipv4(CLIENT_IP, SERVER_IP, 64);
    let syn_opts = [
        TcpOptionElement::MaximumSegmentSize(mss as u16 + 12),
        TcpOptionElement::SelectiveAcknowledgementPermitted,
        TcpOptionElement::Timestamp(1, 0),
        TcpOptionElement::Noop,
        TcpOptionElement::WindowScale(7),
    ];
    let syn = base()
        .tcp(CLIENT_PORT, SERVER_PORT, isn, 64240)
        .syn()
        .options(&syn_opts)
        .expect("SYN options fit");
    frames.push(emit(syn, &[]));
    let mut seq = isn.wrapping_add(1);
    for (i, chunk) in data.chunks(mss).enumerate() {
        let ts = [
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::Timestamp(2 + i as u32, 1),
        ];
        let mut b = base()
            .tcp(CLIENT_PORT, SERVER_PORT, seq, 502)
            .ack(1)
            .options(&ts)
            .expect("timestamp option fits");
        if i % 8 == 7 {
            b = b.psh();
        }
        frames.push(emit(b, chunk));
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    let fin = base().tcp(CLIENT_PORT, SERVER_PORT, seq, 502).ack(1).fin();
    frames.push(emit(fin, &[]));
    frames
}

fn emit(b: etherparse::PacketBuilderStep<etherparse::TcpHeader>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .expect("writing to a Vec cannot fail");
    out
}
