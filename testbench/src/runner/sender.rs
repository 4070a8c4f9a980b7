//! The client side of a run: it sends the scenario's segments paced by the NIC's ACKs and window, retransmits after a silence, probes a closed window, and takes the NIC's frames off the wire.

use super::*;

/// Sequence space of one client frame of the connection, relative to the client's ISN + 1
/// (the SYN is at -1).
#[derive(Debug, Clone, Copy)]
pub(super) struct Seg {
    /// Relative SEQ.
    pub(super) start: i64,
    /// Relative end of the payload (start + payload length).
    pub(super) data_end: i64,
    /// Relative end of the sequence space it occupies (data end + FIN; 0 for the SYN).
    pub(super) seq_end: i64,
    pub(super) syn: bool,
    /// An RST: sent only once everything before it is acknowledged (the NIC takes an RST
    /// exactly at RCV_NXT, as the reference receiver did).
    pub(super) rst: bool,
}

impl Seg {
    pub(super) fn seg_len(&self) -> i64 {
        self.seq_end - self.start
    }
}

/// The NIC's transmit side as the sender sees it.
#[derive(Debug, Default)]
pub(super) struct Peer {
    /// Highest acknowledgment, relative (None before the SYN-ACK).
    pub(super) acked: Option<i64>,
    /// Latest window, in bytes (already scaled).
    pub(super) window: u64,
    /// Shift applied to the window field of ACKs (0 unless both SYNs carried window scale).
    pub(super) shift: u32,
    /// Frames taken from the NIC.
    pub(super) seen: u64,
}

impl Peer {
    /// Right edge of the window, relative.
    pub(super) fn right(&self) -> Option<i64> {
        self.acked.map(|a| a + self.window as i64)
    }
}

/// The sender: the scenario's frames, which are still to go, and what went.
pub(super) struct Sender {
    pub(super) base: u32,
    pub(super) segs: Vec<Option<Seg>>,
    pub(super) pending: Vec<usize>,
    /// Sent frames of the connection by relative start.
    pub(super) sent: BTreeMap<i64, Vec<usize>>,
    pub(super) high_sent: Option<i64>,
    pub(super) recover: Option<i64>,
    pub(super) overtake: bool,
    pub(super) syn_offers_ws: bool,
    pub(super) frames_sent: u64,
    pub(super) retransmits: u64,
    pub(super) probes: u64,
    /// Every frame on the wire with the cycle it went (only with `RunOptions::pcap_out`).
    pub(super) log: Option<Vec<(u64, Vec<u8>)>>,
}

/// Relative sequence number of `x` (against `base`), unwrapped to the value nearest `near`.
pub(super) fn unwrap_rel(x: u32, base: u32, near: i64) -> i64 {
    let near32 = base.wrapping_add(near as u32);
    near + x.wrapping_sub(near32) as i32 as i64
}

pub(super) fn is_ours_from_client(t: &TcpInfo, s: &SocketSpec) -> bool {
    t.src_ip == s.remote_ip
        && t.dst_ip == s.local_ip
        && t.src_port == s.remote_port
        && t.dst_port == s.local_port
}

impl Sender {
    pub(super) fn new(sc: &Scenario) -> Self {
        let base = sc.isn.wrapping_add(1);
        let mut near = 0i64;
        let mut syn_offers_ws = false;
        let segs = sc
            .frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let (t, _) = tcp_info(f)?;
                let taken = sc.taken.as_ref().is_none_or(|v| v.get(i) == Some(&true));
                if !taken || !is_ours_from_client(&t, &sc.socket) || !segment_ok(f) {
                    return None;
                }
                let start = unwrap_rel(t.seq, base, near);
                near = start;
                if t.syn && !t.ack && t.wscale.is_some() {
                    syn_offers_ws = true;
                }
                let data_end = start + t.payload_len as i64;
                let seq_end = data_end + t.fin as i64 + t.syn as i64;
                Some(Seg {
                    start,
                    data_end,
                    seq_end,
                    syn: t.syn,
                    rst: t.rst,
                })
            })
            .collect();
        Sender {
            base,
            segs,
            pending: (0..sc.frames.len()).collect(),
            sent: BTreeMap::new(),
            high_sent: None,
            recover: None,
            overtake: sc.overtake,
            syn_offers_ws,
            frames_sent: 0,
            retransmits: 0,
            probes: 0,
            log: None,
        }
    }

    /// Put a frame on the wire to the NIC.
    pub(super) fn wire(&mut self, b: &Bench, frame: Vec<u8>) {
        if let Some(l) = &mut self.log {
            l.push((b.cycles(), frame.clone()));
        }
        b.wire.send(frame);
        self.frames_sent += 1;
    }

    /// A frame the NIC transmitted, for the log.
    pub(super) fn heard(&mut self, cycle: u64, frame: &[u8]) {
        if let Some(l) = &mut self.log {
            l.push((cycle, frame.to_vec()));
        }
    }

    /// Whether a connection frame may go now.
    pub(super) fn fits(seg: &Seg, peer: &Peer) -> bool {
        if seg.syn {
            return true;
        }
        let Some(right) = peer.right() else {
            return false;
        };
        if seg.rst {
            return peer.acked == Some(seg.start);
        }
        seg.data_end <= right && (seg.seg_len() == 0 || seg.start < right)
    }

    pub(super) fn push(&mut self, b: &Bench, sc: &Scenario, idx: usize) {
        self.wire(b, sc.frames[idx].clone());
        if let Some(seg) = self.segs[idx] {
            self.high_sent = Some(self.high_sent.map_or(seg.seq_end, |h| h.max(seg.seq_end)));
            self.sent.entry(seg.start).or_default().push(idx);
        }
    }

    /// Send every pending frame that fits (in order; overtaking if the scenario allows).
    /// Returns how many went.
    pub(super) fn send_ready(&mut self, b: &Bench, sc: &Scenario, peer: &Peer) -> usize {
        let pending = std::mem::take(&mut self.pending);
        let mut kept = Vec::with_capacity(pending.len());
        let mut blocked = false;
        let mut sent = 0;
        for idx in pending {
            let go = !blocked && self.segs[idx].as_ref().is_none_or(|s| Self::fits(s, peer));
            if go {
                self.push(b, sc, idx);
                sent += 1;
            } else {
                kept.push(idx);
                if !self.overtake {
                    blocked = true;
                }
            }
        }
        self.pending = kept;
        sent
    }

    /// The sent frame holding relative sequence number `at` (reaching furthest; the latest
    /// in scenario order among equals, as a capture's retransmission comes after the
    /// original), if any.
    pub(super) fn covering(&self, at: i64) -> Option<usize> {
        self.sent
            .range(..=at)
            .rev()
            .flat_map(|(_, v)| v.iter().copied())
            .filter_map(|i| self.segs[i].map(|s| (i, s)))
            .filter(|(_, s)| s.start <= at && at < s.seq_end)
            .max_by_key(|(i, s)| (s.seq_end, *i))
            .map(|(i, _)| i)
    }

    /// The first unacknowledged byte, if anything sent is unacknowledged.
    pub(super) fn unacked(&self, peer: &Peer) -> Option<i64> {
        let a = peer.acked.unwrap_or(-1);
        self.high_sent.filter(|&h| h > a).map(|_| a)
    }

    pub(super) fn retransmit(&mut self, b: &Bench, sc: &Scenario, at: i64) -> bool {
        match self.covering(at) {
            Some(idx) => {
                self.wire(b, sc.frames[idx].clone());
                self.retransmits += 1;
                true
            }
            None => false,
        }
    }

    /// The NIC has been silent with nothing on the wire: retransmit, or probe the window.
    /// With the window closed, nothing is retransmitted (the NIC would refuse it): the
    /// window is probed instead.
    pub(super) fn on_timeout(&mut self, b: &Bench, sc: &Scenario, peer: &Peer) {
        if let Some(at) = self
            .unacked(peer)
            .filter(|_| peer.acked.is_none() || peer.window > 0)
        {
            if self.retransmit(b, sc, at) {
                self.recover = self.high_sent;
                return;
            }
        }
        let waiting =
            self.pending.iter().any(|&i| self.segs[i].is_some()) || self.unacked(peer).is_some();
        if let (Some(a), true) = (peer.acked, waiting) {
            let seq = self.base.wrapping_add(a as u32).wrapping_sub(1);
            let ack = sc.socket.iss.wrapping_add(1);
            self.wire(b, frames::peer_ack(&sc.socket, seq, ack));
            self.probes += 1;
        }
    }

    /// The NIC's ACK advanced: in recovery, a partial ACK re-sends the frame at the new ACK.
    pub(super) fn on_ack_advance(&mut self, b: &Bench, sc: &Scenario, peer: &Peer) {
        let (Some(r), Some(a)) = (self.recover, peer.acked) else {
            return;
        };
        if a >= r {
            self.recover = None;
        } else if self.unacked(peer).is_some() && peer.window > 0 {
            self.retransmit(b, sc, a);
        }
    }
}

/// Check one frame the NIC transmitted and take its ACK and window (an ARP reply is let pass).
pub(super) fn take_nic_frame(
    f: &[u8],
    sc: &Scenario,
    sender: &Sender,
    peer: &mut Peer,
) -> Result<(), TbError> {
    let bad = |m: String| TbError::Protocol(format!("the NIC transmitted {m}"));
    let s = &sc.socket;
    // An ARP reply (docs/rx-paths.md, only when NIC_IP is set) is no part of the connection.
    if let Ok(SlicedPacket {
        net: Some(NetSlice::Arp(_)),
        ..
    }) = SlicedPacket::from_ethernet(f)
    {
        return Ok(());
    }
    if f.len() < 14 || f[0..6] != s.remote_mac || f[6..12] != s.local_mac {
        return Err(bad(format!(
            "a frame with the wrong MAC addresses ({} bytes)",
            f.len()
        )));
    }
    let p = SlicedPacket::from_ethernet(f)
        .map_err(|e| bad(format!("a frame etherparse cannot parse: {e}")))?;
    let vlan = p.vlan_ids().first().map_or(0, |v| v.value());
    if vlan != s.vlan {
        return Err(bad(format!("a frame on VLAN {vlan}, expected {}", s.vlan)));
    }
    let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Tcp(t))) = (&p.net, &p.transport) else {
        return Err(bad("a frame that is not IPv4/TCP".into()));
    };
    let ih = ip.header();
    if ih.header_checksum() != ih.to_header().calc_header_checksum() {
        return Err(bad("an IPv4 header with a wrong checksum".into()));
    }
    let csum = t
        .calc_checksum_ipv4(ih.source(), ih.destination())
        .map_err(|e| bad(format!("an oversized TCP segment: {e}")))?;
    if csum != t.checksum() {
        return Err(bad(format!(
            "a TCP segment with checksum {:#06x}, expected {csum:#06x}",
            t.checksum()
        )));
    }
    let (info, payload) = tcp_info(f).ok_or_else(|| bad("an unparsable TCP segment".into()))?;
    if info.src_ip != s.local_ip
        || info.dst_ip != s.remote_ip
        || info.src_port != s.local_port
        || info.dst_port != s.remote_port
    {
        return Err(bad("a segment of another connection".into()));
    }
    if !payload.is_empty() || info.fin || info.rst || !info.ack {
        return Err(bad(format!(
            "a segment that is not an ACK or SYN-ACK (flags SYN {} ACK {} FIN {} RST {}, {} payload bytes)",
            info.syn,
            info.ack,
            info.fin,
            info.rst,
            payload.len()
        )));
    }
    let iss = s.iss;
    let near = peer.acked.unwrap_or(0);
    let ack = unwrap_rel(info.ack_num, sender.base, near);
    if info.syn {
        if info.seq != iss {
            return Err(bad(format!(
                "a SYN-ACK with SEQ {}, expected ISS {iss}",
                info.seq
            )));
        }
        if ack != 0 {
            return Err(bad(format!(
                "a SYN-ACK acknowledging {}, expected the client's ISN + 1 = {}",
                info.ack_num, sender.base
            )));
        }
        if info.mss != Some(s.mss) {
            return Err(bad(format!(
                "a SYN-ACK with MSS option {:?}, expected {}",
                info.mss, s.mss
            )));
        }
        let want_ws = sender.syn_offers_ws.then_some(s.rcv_wscale);
        if info.wscale != want_ws {
            return Err(bad(format!(
                "a SYN-ACK with window scale {:?}, expected {want_ws:?}",
                info.wscale
            )));
        }
        peer.shift = info.wscale.map_or(0, |w| w.min(14) as u32);
        if peer.acked.is_none() {
            peer.acked = Some(0);
        }
        // RFC 7323: the window of a SYN-ACK is never scaled.
        peer.window = info.window as u64;
    } else {
        if peer.acked.is_none() {
            return Err(bad("an ACK before its SYN-ACK".into()));
        }
        if info.seq != iss.wrapping_add(1) {
            return Err(bad(format!(
                "an ACK with SEQ {}, expected ISS + 1 = {}",
                info.seq,
                iss.wrapping_add(1)
            )));
        }
        peer.acked = peer.acked.map(|a| a.max(ack));
        peer.window = (info.window as u64) << peer.shift;
    }
    Ok(())
}
