//! The demo's TCP stream, built with etherparse.

use buflet_driver::SocketSpec;
use buflet_spec::{IpProto, SockFlags};
use etherparse::{PacketBuilder, TcpOptionElement, VlanId};
use rand::{RngCore, SeedableRng};

/// Client (sender) and server (the NIC) addresses of the demo connection.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
pub const SERVER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
pub const CLIENT_IP: [u8; 4] = [10, 0, 0, 1];
pub const SERVER_IP: [u8; 4] = [10, 0, 0, 2];
pub const CLIENT_PORT: u16 = 40_000;
pub const SERVER_PORT: u16 = 5001;

/// The seed of connection `i` of a run seeded `seed` (`buflet demo --connections`): `seed` for
/// connection 0, then `seed + i * 0x9E37_79B9_7F4A_7C15` (wrapping).
pub fn connection_seed(seed: u64, i: usize) -> u64 {
    seed.wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A seeded pseudo-random payload.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// The demo's client ISN and NIC ISS for payload seed `seed` (`buflet demo`, `buflet bench`).
pub fn demo_isn_iss(seed: u64) -> (u32, u32) {
    let isn = 0x1000_0000u32.wrapping_mul(seed as u32 | 1);
    (isn, isn.rotate_left(16) ^ 0x5eed_0001)
}

/// Receive buffer of the NIC's socket in every scenario: large enough that the buflet pool,
/// not the socket, bounds the window at line rate.
pub const RCV_BUF: u32 = 1 << 20;
/// Window scale shift the NIC's socket offers.
pub const RCV_WSCALE: u8 = 7;

/// MSS option value for an Ethernet MTU (IPv4 and TCP headers without options: MTU - 40).
pub fn mss_for_mtu(mtu: usize) -> u16 {
    mtu.saturating_sub(40).clamp(1, 65535) as u16
}

/// A client of the demo server: its MAC, IPv4 address and TCP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client {
    /// MAC address.
    pub mac: [u8; 6],
    /// IPv4 address, wire order.
    pub ip: [u8; 4],
    /// TCP source port.
    pub port: u16,
}

impl Client {
    /// The demo's one client.
    pub const DEMO: Client = Client {
        mac: CLIENT_MAC,
        ip: CLIENT_IP,
        port: CLIENT_PORT,
    };

    /// Client `i` of many: four hosts (10.0.0.1, 10.0.0.3, 10.0.0.4, 10.0.0.5, each with its
    /// own MAC), each connection from its own source port (40000 + i; `i` below 25,536).
    pub fn nth(i: usize) -> Client {
        let host = (i % 4) as u8;
        let ip = if host == 0 {
            CLIENT_IP
        } else {
            [10, 0, 0, 2 + host]
        };
        let mut mac = CLIENT_MAC;
        mac[4] = host;
        Client {
            mac,
            ip,
            port: CLIENT_PORT.wrapping_add(i as u16),
        }
    }

    /// "ip:port".
    pub fn addr(&self) -> String {
        format!("{}:{}", std::net::Ipv4Addr::from(self.ip), self.port)
    }

    /// The NIC's socket of this client's connection to the demo server, with ISS `iss` and
    /// MSS option `mss` (as [`demo_socket`] for the demo's client).
    pub fn socket(&self, iss: u32, mss: u16) -> SocketSpec {
        SocketSpec {
            remote_mac: self.mac,
            remote_ip: self.ip,
            remote_port: self.port,
            ..demo_socket(iss, mss)
        }
    }
}

/// The ISS of a socket accepted from a listen slot whose ISS base is `base` (docs/tcp-receive.md
/// "Listening sockets"): `base` plus the 32-bit folded hash of the 4-tuple (architecture.md:
/// `x = remote_ip ^ local_ip ^ (remote_port << 16 | local_port)`, `x ^= x >> 16`,
/// `x ^= x >> 8`), computed here from the documented formula, not by the device's code.
pub fn accepted_iss(
    base: u32,
    remote_ip: [u8; 4],
    remote_port: u16,
    local_ip: [u8; 4],
    local_port: u16,
) -> u32 {
    let mut x = u32::from_be_bytes(remote_ip)
        ^ u32::from_be_bytes(local_ip)
        ^ (u32::from(remote_port) << 16 | u32::from(local_port));
    x ^= x >> 16;
    x ^= x >> 8;
    base.wrapping_add(x)
}

/// The socket descriptor of the demo connection, from the NIC's side: it answers the client's
/// SYN with SEQ `iss` and MSS option `mss`.
pub fn demo_socket(iss: u32, mss: u16) -> SocketSpec {
    SocketSpec {
        local_mac: SERVER_MAC,
        remote_mac: CLIENT_MAC,
        vlan: 0,
        local_ip: SERVER_IP,
        remote_ip: CLIENT_IP,
        local_port: SERVER_PORT,
        remote_port: CLIENT_PORT,
        iss,
        rcv_buf: RCV_BUF,
        mss,
        rcv_wscale: RCV_WSCALE,
        flags: SockFlags::empty(),
        proto: IpProto::Tcp,
    }
}

/// A broadcast ARP request from `sha`/`spa` asking for `tpa` (etherparse builds it).
pub fn arp_request(sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType};
    let mut v = Vec::new();
    if let Ok(a) = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        ArpOperation::REQUEST,
        &sha,
        &spa,
        &[0; 6],
        &tpa,
    ) {
        let _ = PacketBuilder::ethernet2(sha, [0xff; 6])
            .arp(a)
            .write(&mut v);
    }
    v
}

/// TCP option bytes each data segment carries (NOP, NOP, timestamp), as Linux sends them.
pub const DATA_OPTION_BYTES: usize = 12;

/// The frames a client sends to transfer `data` in one TCP connection to a server whose initial
/// sequence number is `iss`: SYN (MSS, SACK permitted, timestamps, window scale 7), the ACK
/// completing the handshake (`ack = iss + 1`), data segments of `mss` bytes (with the
/// timestamp option, as Linux sends them; PSH on every eighth), FIN. Every frame after the SYN
/// acknowledges `iss + 1`. The runner sends the SYN, waits for the NIC's SYN-ACK and paces the
/// rest by the NIC's ACKs.
pub fn tcp_stream(data: &[u8], mss: usize, isn: u32, iss: u32) -> Vec<Vec<u8>> {
    tcp_stream_from(&Client::DEMO, data, mss, isn, iss)
}

/// [`tcp_stream`] from `client` (to the demo server, [`SERVER_MAC`] / [`SERVER_IP`] /
/// [`SERVER_PORT`]).
pub fn tcp_stream_from(
    client: &Client,
    data: &[u8],
    mss: usize,
    isn: u32,
    iss: u32,
) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let base = || PacketBuilder::ethernet2(client.mac, SERVER_MAC).ipv4(client.ip, SERVER_IP, 64);
    let (client_port, server_port) = (client.port, SERVER_PORT);
    let syn_opts = [
        TcpOptionElement::MaximumSegmentSize((mss + DATA_OPTION_BYTES).min(65535) as u16),
        TcpOptionElement::SelectiveAcknowledgementPermitted,
        TcpOptionElement::Timestamp(1, 0),
        TcpOptionElement::Noop,
        TcpOptionElement::WindowScale(7),
    ];
    let syn = base()
        .tcp(client_port, server_port, isn, 64240)
        .syn()
        .options(&syn_opts)
        .expect("SYN options fit");
    frames.push(emit(syn, &[]));
    let ack = iss.wrapping_add(1);
    let mut seq = isn.wrapping_add(1);
    let hs = base()
        .tcp(client_port, server_port, seq, 502)
        .ack(ack)
        .options(&[
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::Timestamp(2, 1),
        ])
        .expect("timestamp option fits");
    frames.push(emit(hs, &[]));
    for (i, chunk) in data.chunks(mss.max(1)).enumerate() {
        let ts = [
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::Timestamp(3 + i as u32, 1),
        ];
        let mut b = base()
            .tcp(client_port, server_port, seq, 502)
            .ack(ack)
            .options(&ts)
            .expect("timestamp option fits");
        if i % 8 == 7 {
            b = b.psh();
        }
        frames.push(emit(b, chunk));
        seq = seq.wrapping_add(chunk.len() as u32);
    }
    let fin = base()
        .tcp(client_port, server_port, seq, 502)
        .ack(ack)
        .fin();
    frames.push(emit(fin, &[]));
    frames
}

/// A pure ACK from `sock`'s peer to the NIC: SEQ `seq`, ACK `ack`, no payload. The runner's
/// window probe: sent with `seq = RCV_NXT - 1` (as Linux probes a zero window), it is outside
/// any window, so the NIC answers with an ACK carrying its current window (and counts the
/// probe OUT_OF_WINDOW).
pub fn peer_ack(sock: &SocketSpec, seq: u32, ack: u32) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2(sock.remote_mac, sock.local_mac);
    let ip = match VlanId::try_new(sock.vlan & 0x0FFF) {
        Ok(id) if sock.vlan != 0 => eth.single_vlan(id).ipv4(sock.remote_ip, sock.local_ip, 64),
        _ => eth.ipv4(sock.remote_ip, sock.local_ip, 64),
    };
    let b = ip.tcp(sock.remote_port, sock.local_port, seq, 502).ack(ack);
    emit(b, &[])
}

fn emit(b: etherparse::PacketBuilderStep<etherparse::TcpHeader>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .expect("writing to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented example (architecture.md's hash, the model's test vector): x = 0x9CDCD4DE.
    #[test]
    fn accepted_iss_is_the_base_plus_the_folded_hash() {
        assert_eq!(
            accepted_iss(0, [10, 77, 0, 9], 40000, [10, 77, 0, 2], 2049),
            0x9CDC_D4DE
        );
        assert_eq!(
            accepted_iss(0xFFFF_FFFF, [10, 77, 0, 9], 40000, [10, 77, 0, 2], 2049),
            0x9CDC_D4DD
        );
    }

    /// Clients are distinct 4-tuples, on four hosts, and the demo's first client is client 0.
    #[test]
    fn nth_clients_differ() {
        assert_eq!(Client::nth(0), Client::DEMO);
        let set: std::collections::HashSet<_> = (0..1000)
            .map(|i| (Client::nth(i).ip, Client::nth(i).port))
            .collect();
        assert_eq!(set.len(), 1000);
        let ips: std::collections::HashSet<_> = (0..1000).map(|i| Client::nth(i).ip).collect();
        assert_eq!(ips.len(), 4);
        assert!(!ips.contains(&SERVER_IP));
    }
}
