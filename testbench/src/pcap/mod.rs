//! Reading a capture and extracting what a server's NIC would receive, plus the reference a
//! replay is checked against: the client-to-server byte stream as a correct receiver takes
//! it ([`reference`]).

mod read;
mod reference;
pub use read::{from_bytes as frames_from_bytes, MAX_CAPTURE_BYTES};
pub use reference::{segment_ok, Reference};

use crate::TbError;
use buflet_driver::SocketSpec;
use buflet_spec::{IpProto, SockFlags};
use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};
use std::path::Path;

/// A capture reduced to one TCP connection as seen by the server.
pub struct Capture {
    /// Frames whose destination is the server's MAC (or broadcast/multicast), in capture order.
    pub frames: Vec<Vec<u8>>,
    /// All frames in the capture.
    pub total_frames: usize,
    /// The connection, from the server's (the NIC's) point of view.
    pub socket: SocketSpec,
    /// Initial sequence number of the client (SEQ of its SYN).
    pub isn: u32,
    /// Initial sequence number of the server (SEQ of its SYN-ACK in the capture). The NIC's
    /// socket uses it as its ISS, so the capture's own ACKs complete the handshake.
    pub server_isn: u32,
    /// The client-to-server byte stream, as a correct receiver takes it from the capture.
    pub stream: Vec<u8>,
    /// Per frame of `frames`: whether it is a segment of the connection (the rest, such as
    /// other traffic, bad checksums, truncated or out-of-window segments, is not).
    pub taken: Vec<bool>,
    /// The connection ended by an RST at this stream offset (no FIN).
    pub reset_at: Option<u64>,
}

/// TCP facts of a frame, parsed with etherparse.
pub struct TcpInfo {
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    /// Acknowledgment number field (meaningful when `ack`).
    pub ack_num: u32,
    /// Window field, unscaled.
    pub window: u16,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub payload_len: usize,
    /// MSS option value, if the segment carries one.
    pub mss: Option<u16>,
    /// Window scale option shift, if the segment carries one.
    pub wscale: Option<u8>,
}

impl TcpInfo {
    /// Sequence space the segment occupies: payload plus one for SYN and one for FIN.
    pub fn seg_len(&self) -> u64 {
        self.payload_len as u64 + self.syn as u64 + self.fin as u64
    }
}

/// Parse a frame as Ethernet/IPv4/TCP, if it is one.
pub fn tcp_info(frame: &[u8]) -> Option<(TcpInfo, &[u8])> {
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let Some(NetSlice::Ipv4(ip)) = &p.net else {
        return None;
    };
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        return None;
    };
    let mut mss = None;
    let mut wscale = None;
    for o in t.options_iterator() {
        match o {
            Ok(TcpOptionElement::MaximumSegmentSize(v)) => mss = Some(v),
            Ok(TcpOptionElement::WindowScale(v)) => wscale = Some(v),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let info = TcpInfo {
        src_ip: ip.header().source(),
        dst_ip: ip.header().destination(),
        src_port: t.source_port(),
        dst_port: t.destination_port(),
        seq: t.sequence_number(),
        ack_num: t.acknowledgment_number(),
        window: t.window_size(),
        syn: t.syn(),
        ack: t.ack(),
        fin: t.fin(),
        rst: t.rst(),
        psh: t.psh(),
        payload_len: t.payload().len(),
        mss,
        wscale,
    };
    Some((info, t.payload()))
}

fn err(path: &Path, msg: impl Into<String>) -> TbError {
    TbError::Input {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// Load a capture (classic pcap or pcapng, Ethernet) and pick its first TCP connection (the
/// first SYN without ACK whose checksums are right).
pub fn load(path: &Path) -> Result<Capture, TbError> {
    let all = read::frames(path).map_err(|m| err(path, m))?;
    let syn_idx = syns(&all).first().copied().ok_or_else(|| {
        err(
            path,
            "no TCP connection (no SYN with valid checksums) in the capture",
        )
    })?;
    connection(path, &all, syn_idx)
}

/// Load a capture and pick every TCP connection to the first connection's server (its IP and
/// port): one [`Capture`] per client 4-tuple, from its first SYN, in the order of those SYNs.
/// Each one's `frames` are all the server-bound frames of the capture, as [`load`]'s.
pub fn load_all(path: &Path) -> Result<Vec<Capture>, TbError> {
    let all = read::frames(path).map_err(|m| err(path, m))?;
    from_frames(path, &all)
}

/// [`load_all`] of frames already read (`path` names them in errors).
pub fn from_frames(path: &Path, all: &[Vec<u8>]) -> Result<Vec<Capture>, TbError> {
    let found = syns(all);
    let Some(&first) = found.first() else {
        return Err(err(
            path,
            "no TCP connection (no SYN with valid checksums) in the capture",
        ));
    };
    let (t0, _) = tcp_info(&all[first]).expect("a SYN parses");
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for i in found {
        let (t, _) = tcp_info(&all[i]).expect("a SYN parses");
        if t.dst_ip != t0.dst_ip || t.dst_port != t0.dst_port {
            continue;
        }
        if seen.insert((t.src_ip, t.src_port)) {
            out.push(connection(path, all, i)?);
        }
    }
    Ok(out)
}

/// Indices of the SYNs without ACK whose checksums are right.
fn syns(all: &[Vec<u8>]) -> Vec<usize> {
    all.iter()
        .enumerate()
        .filter(|(_, f)| tcp_info(f).is_some_and(|(t, _)| t.syn && !t.ack) && segment_ok(f))
        .map(|(i, _)| i)
        .collect()
}

/// The connection whose SYN is frame `syn_idx`.
fn connection(path: &Path, all: &[Vec<u8>], syn_idx: usize) -> Result<Capture, TbError> {
    let (syn, _) = tcp_info(&all[syn_idx]).expect("a SYN parses");
    let server_mac: [u8; 6] = all[syn_idx][0..6].try_into().expect("6 bytes");
    let client_mac: [u8; 6] = all[syn_idx][6..12].try_into().expect("6 bytes");
    // The server's SYN-ACK of this connection: its SEQ is the server's ISN.
    let syn_ack = all[syn_idx..]
        .iter()
        .find_map(|f| {
            tcp_info(f)
                .filter(|(t, _)| {
                    segment_ok(f)
                        && t.syn
                        && t.ack
                        && t.src_ip == syn.dst_ip
                        && t.dst_ip == syn.src_ip
                        && t.src_port == syn.dst_port
                        && t.dst_port == syn.src_port
                        && t.ack_num == syn.seq.wrapping_add(1)
                })
                .map(|(t, _)| t)
        })
        .ok_or_else(|| err(path, "no SYN-ACK from the server in the capture"))?;
    let server_isn = syn_ack.seq;
    let vlan = SlicedPacket::from_ethernet(&all[syn_idx])
        .ok()
        .and_then(|p| p.vlan_ids().first().map(|v| v.value()))
        .unwrap_or(0);
    let socket = SocketSpec {
        local_mac: server_mac,
        remote_mac: client_mac,
        vlan,
        local_ip: syn.dst_ip,
        remote_ip: syn.src_ip,
        local_port: syn.dst_port,
        remote_port: syn.src_port,
        iss: server_isn,
        rcv_buf: crate::frames::RCV_BUF,
        // Same MTU as the client: its SYN's MSS option (MTU - 40), 1460 when it has none.
        mss: syn.mss.unwrap_or(crate::frames::mss_for_mtu(1500)),
        rcv_wscale: crate::frames::RCV_WSCALE,
        flags: SockFlags::empty(),
        proto: IpProto::Tcp,
    };
    let to_server = |f: &[u8]| f.len() >= 6 && (f[0..6] == server_mac || f[0] & 1 == 1);
    let mut n_server = 0;
    let marked: Vec<reference::Frame> = all
        .iter()
        .map(|f| reference::Frame {
            data: f,
            to_server: to_server(f).then(|| {
                n_server += 1;
                n_server - 1
            }),
        })
        .collect();
    // Window scaling holds only when both SYNs offer it (RFC 7323).
    let shift = match (syn.wscale, syn_ack.wscale) {
        (Some(_), Some(s)) => s,
        _ => 0,
    };
    let r = reference::build(&marked, n_server, &socket, syn.seq, syn_ack.window, shift)
        .map_err(|m| err(path, m))?;
    let frames: Vec<Vec<u8>> = all.iter().filter(|f| to_server(f)).cloned().collect();
    Ok(Capture {
        total_frames: all.len(),
        frames,
        socket,
        isn: syn.seq,
        server_isn,
        stream: r.stream,
        taken: r.taken,
        reset_at: r.reset_at,
    })
}
