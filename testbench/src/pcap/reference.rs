//! The reference a replay is checked against: the client-to-server byte stream as a correct
//! receiver takes it from the capture, frame by frame in capture order. It is built from the
//! capture alone (etherparse parses, nothing of Buflet's), and it decides which frames belong
//! to the connection; everything else in the capture is sent to the NIC unpaced and must be
//! dropped and counted there.
//!
//! A client frame is taken when:
//! - it parses as Ethernet/IPv4/TCP with lengths that agree (the IPv4 total length fits the
//!   frame, the TCP header fits the IPv4 payload) and both checksums are right;
//! - its 4-tuple is the connection's;
//! - its sequence range is inside the receive window the server announced in the capture
//!   (the highest ACK + scaled window seen from the server so far, at least the SYN-ACK's),
//!   or entirely before `RCV_NXT` (an old duplicate: harmless, taken as the connection's);
//! - an RST is taken only exactly at `RCV_NXT` (RFC 5961, as the NIC does), and ends the
//!   stream there; nothing after a taken RST or beyond a taken FIN is taken.

use buflet_driver::SocketSpec;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use std::collections::BTreeMap;

/// How far behind `RCV_NXT` a segment may start and still count as an old duplicate: beyond
/// this it is a forged segment from another part of the sequence space.
const MAX_BEHIND: i64 = 1 << 30;

/// What the reference receiver made of a capture.
#[derive(Debug, Clone, Default)]
pub struct Reference {
    /// The client's bytes, in order, up to its FIN (or the RST that ended the connection).
    pub stream: Vec<u8>,
    /// Per server-bound frame (same order as the frames given): whether it is a segment of
    /// the connection (SYN, data, ACK, FIN, an accepted RST, an old duplicate).
    pub taken: Vec<bool>,
    /// Relative sequence number at which an accepted RST ended the connection.
    pub reset_at: Option<u64>,
}

/// Whether a frame's IPv4 header and TCP checksums are right and its lengths agree
/// (etherparse's view). A frame that fails is no segment of any connection.
pub fn segment_ok(f: &[u8]) -> bool {
    let Ok(p) = SlicedPacket::from_ethernet(f) else {
        return false;
    };
    let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(t))) = (&p.net, &p.transport) else {
        return false;
    };
    let ih = ip.header();
    ih.header_checksum() == ih.to_header().calc_header_checksum()
        && t.calc_checksum_ipv4(ih.source(), ih.destination()).ok() == Some(t.checksum())
}

/// Relative sequence number of `x` against `base`, unwrapped to the value nearest `near`.
fn rel(x: u32, base: u32, near: i64) -> i64 {
    near + x.wrapping_sub(base.wrapping_add(near as u32)) as i32 as i64
}

/// Frames of the capture in order, each marked server-bound or not, reduced to what the
/// reference reads.
pub(super) struct Frame<'a> {
    pub data: &'a [u8],
    /// Sent towards the server (index into the server-bound frames).
    pub to_server: Option<usize>,
}

/// Run the reference receiver over the capture. `isn` is the client's SYN sequence number;
/// `syn_ack_window` and the shift come from the server's SYN-ACK.
pub(super) fn build(
    frames: &[Frame],
    n_server: usize,
    sock: &SocketSpec,
    isn: u32,
    syn_ack_window: u16,
    server_shift: u8,
) -> Result<Reference, String> {
    let base = isn.wrapping_add(1);
    let mut r = Reference {
        taken: vec![false; n_server],
        ..Reference::default()
    };
    // Out-of-order pieces by relative start; `rcv_nxt` is the end of `r.stream`.
    let mut pieces: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    let mut right: i64 = syn_ack_window as i64;
    let mut near = 0i64;
    let mut fin_at: Option<i64> = None;
    let mut closed = false;
    for f in frames {
        let Some((t, payload)) = super::tcp_info(f.data) else {
            continue;
        };
        if !segment_ok(f.data) {
            continue;
        }
        let from_client = t.src_ip == sock.remote_ip
            && t.dst_ip == sock.local_ip
            && t.src_port == sock.remote_port
            && t.dst_port == sock.local_port;
        let from_server = t.src_ip == sock.local_ip
            && t.dst_ip == sock.remote_ip
            && t.src_port == sock.local_port
            && t.dst_port == sock.remote_port;
        if from_server && t.ack && !t.syn && !t.rst {
            // The window the server announces: its right edge never moves left.
            let a = rel(t.ack_num, base, near);
            right = right.max(a + ((t.window as i64) << server_shift.min(14)));
            continue;
        }
        let (true, Some(idx)) = (from_client, f.to_server) else {
            continue;
        };
        if t.syn {
            // The connection's SYN (or its retransmission); any other SYN is not ours.
            r.taken[idx] = !t.ack && t.seq == isn;
            continue;
        }
        let start = rel(t.seq, base, near);
        let rcv_nxt = r.stream.len() as i64;
        // RCV_NXT in sequence space: a taken FIN occupies one more.
        let seq_nxt = rcv_nxt + fin_at.is_some_and(|e| e == rcv_nxt) as i64;
        let data_end = start + payload.len() as i64;
        if start < rcv_nxt - MAX_BEHIND {
            continue;
        }
        if closed {
            // After the FIN or an RST only retransmissions of what came before belong here.
            if r.reset_at.is_none() && !t.rst && data_end + t.fin as i64 <= seq_nxt {
                r.taken[idx] = true;
            }
            continue;
        }
        if t.rst {
            if start == rcv_nxt {
                r.taken[idx] = true;
                near = start;
                r.reset_at = Some(rcv_nxt as u64);
                closed = true;
            }
            continue;
        }
        // Entirely before RCV_NXT: an old duplicate. Otherwise the segment must start inside
        // the window (a zero-length one may sit at its right edge).
        let old = data_end + t.fin as i64 <= rcv_nxt;
        let in_window = start < right || (start == right && payload.is_empty() && !t.fin);
        if !old && !in_window {
            continue;
        }
        if fin_at.is_some_and(|e| data_end > e) {
            continue;
        }
        r.taken[idx] = true;
        near = start;
        // Bytes inside the window, first arrival wins where pieces overlap.
        let keep_end = data_end.min(right);
        if keep_end > start.max(rcv_nxt) {
            let from = (start.max(rcv_nxt) - start) as usize;
            let to = (keep_end - start) as usize;
            let at = start + from as i64;
            let piece = &payload[from..to];
            let longer = pieces.get(&at).is_none_or(|p| p.len() < piece.len());
            if longer {
                pieces.insert(at, piece.to_vec());
            }
        }
        if t.fin && data_end <= right {
            fin_at.get_or_insert(data_end);
        }
        // Move RCV_NXT over every piece that reaches it.
        while let Some((&at, _)) = pieces.range(..=r.stream.len() as i64).next() {
            let p = pieces.remove(&at).unwrap_or_default();
            let have = r.stream.len() as i64;
            if at + p.len() as i64 > have {
                r.stream.extend_from_slice(&p[(have - at) as usize..]);
            }
        }
        if fin_at == Some(r.stream.len() as i64) {
            closed = true;
        }
    }
    if r.reset_at.is_some() {
        return Ok(r);
    }
    let end = fin_at.ok_or("the connection has no FIN (and no RST) the server could accept")?;
    let have = r.stream.len() as i64;
    if have < end {
        let next = pieces.keys().next().copied().unwrap_or(end).min(end);
        return Err(format!(
            "stream bytes {have}..{next} are missing from the capture (no valid, in-window segment carries them)"
        ));
    }
    r.stream.truncate(end as usize);
    Ok(r)
}
