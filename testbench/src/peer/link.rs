//! The lossy link between the smoltcp peer and the NIC, and the peer's `phy::Device`.
//!
//! Each direction is impaired independently with its own seeded generator: a frame offered to
//! the link is lost with probability `loss`; a frame that survives is sent twice with
//! probability `dup`; every copy is held back with probability `reorder` until 1..=3 later
//! frames have passed it (or until the link goes quiet, see [`Dir::flush`]).
//!
//! The adapter wraps the peer's IPv4 packets in Ethernet II frames addressed to the NIC and
//! strips the Ethernet header of the NIC's frames for the peer, both with etherparse.

use etherparse::{EtherType, Ethernet2Header, SlicedPacket, TransportSlice};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use std::collections::VecDeque;

/// What one direction of the link did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DirStats {
    /// Frames offered to the link.
    pub offered: u64,
    /// Frames lost.
    pub dropped: u64,
    /// Frame copies held back behind later frames.
    pub reordered: u64,
    /// Frames sent twice.
    pub duplicated: u64,
    /// Frame copies that came out of the link.
    pub delivered: u64,
    /// Frames with a byte past the Ethernet header changed (a checksum catches it).
    pub corrupted: u64,
    /// Frames cut short.
    pub truncated: u64,
}

/// What the link did, per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    /// Peer to NIC.
    pub to_nic: DirStats,
    /// NIC to peer.
    pub to_peer: DirStats,
    /// Frames from the NIC that the adapter refused: not Ethernet II + IPv4 + TCP as etherparse
    /// reads them, or with a wrong IPv4 header or TCP checksum. The peer never sees them.
    pub bad_nic_frames: u64,
}

/// Impairment probabilities of one direction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Impair {
    /// Loss probability.
    pub loss: f64,
    /// Reorder probability.
    pub reorder: f64,
    /// Duplication probability.
    pub dup: f64,
    /// Probability that a byte past the Ethernet header is changed.
    pub corrupt: f64,
    /// Probability that a frame is cut short.
    pub truncate: f64,
}

/// One direction of the link.
pub struct Dir {
    rng: ChaCha8Rng,
    imp: Impair,
    held: Vec<(Vec<u8>, u8)>,
    out: VecDeque<Vec<u8>>,
    /// Counters.
    pub stats: DirStats,
}

impl Dir {
    /// A direction with its own generator.
    pub fn new(seed: u64, imp: Impair) -> Self {
        Dir {
            rng: ChaCha8Rng::seed_from_u64(seed),
            imp,
            held: Vec::new(),
            out: VecDeque::new(),
            stats: DirStats::default(),
        }
    }

    /// Offer a frame to the link.
    pub fn offer(&mut self, mut frame: Vec<u8>) {
        self.stats.offered += 1;
        if self.rng.gen_bool(self.imp.loss) {
            self.stats.dropped += 1;
            return;
        }
        // Corruption and truncation draw only when asked for, so runs without them keep
        // their generator sequence.
        if self.imp.corrupt > 0.0 && frame.len() > 14 && self.rng.gen_bool(self.imp.corrupt) {
            self.stats.corrupted += 1;
            let i = self.rng.gen_range(14..frame.len());
            frame[i] ^= self.rng.gen_range(1..=255u8);
        }
        if self.imp.truncate > 0.0 && frame.len() > 1 && self.rng.gen_bool(self.imp.truncate) {
            self.stats.truncated += 1;
            let n = self.rng.gen_range(1..frame.len());
            frame.truncate(n);
        }
        if self.rng.gen_bool(self.imp.dup) {
            self.stats.duplicated += 1;
            self.pass(frame.clone());
        }
        self.pass(frame);
    }

    fn pass(&mut self, frame: Vec<u8>) {
        if self.rng.gen_bool(self.imp.reorder) {
            self.stats.reordered += 1;
            let behind = self.rng.gen_range(1..=3u8);
            self.held.push((frame, behind));
            return;
        }
        self.emit(frame);
        // Held frames count the frames that overtake them; release those that were passed
        // by enough, in the order they were held.
        let mut i = 0;
        while i < self.held.len() {
            self.held[i].1 -= 1;
            if self.held[i].1 == 0 {
                let (f, _) = self.held.remove(i);
                self.emit(f);
            } else {
                i += 1;
            }
        }
    }

    fn emit(&mut self, frame: Vec<u8>) {
        self.stats.delivered += 1;
        self.out.push_back(frame);
    }

    /// The link went quiet: frames still held back go out now (in the order they were held),
    /// so that a held frame with nothing behind it is late, not lost.
    pub fn flush(&mut self) {
        for (f, _) in std::mem::take(&mut self.held) {
            self.emit(f);
        }
    }

    /// Frames that came out of the link, in order.
    pub fn take(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.out.drain(..)
    }

    /// Frames held back or waiting to be taken.
    pub fn in_flight(&self) -> usize {
        self.held.len() + self.out.len()
    }
}

/// Wrap the peer's IPv4 packet in an Ethernet II frame from `src` to `dst`.
pub fn eth_wrap(src: [u8; 6], dst: [u8; 6], ip: &[u8]) -> Vec<u8> {
    let h = Ethernet2Header {
        source: src,
        destination: dst,
        ether_type: EtherType::IPV4,
    };
    let mut out = Vec::with_capacity(Ethernet2Header::LEN + ip.len());
    out.extend_from_slice(&h.to_bytes());
    out.extend_from_slice(ip);
    out
}

/// The IPv4 packet inside a frame the NIC sent (without Ethernet header, VLAN tag or padding),
/// if etherparse reads it as IPv4 + TCP with correct checksums.
pub fn eth_strip(frame: &[u8]) -> Option<Vec<u8>> {
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
        return None;
    };
    let hdr = ip.header();
    if hdr.to_header().calc_header_checksum() != hdr.header_checksum() {
        return None;
    }
    let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
        return None;
    };
    let want = tcp
        .to_header()
        .calc_checksum_ipv4(&hdr.to_header(), tcp.payload())
        .ok()?;
    if want != tcp.checksum() {
        return None;
    }
    let hlen = hdr.slice().len();
    let total = hdr.total_len() as usize;
    let start = hdr.slice().as_ptr() as usize - frame.as_ptr() as usize;
    if total < hlen || start + total > frame.len() {
        return None;
    }
    Some(frame[start..start + total].to_vec())
}

/// TCP facts of a packet the peer sent, for counting its retransmissions.
#[derive(Debug, Clone, Copy)]
pub struct PeerSeg {
    /// Sequence number.
    pub seq: u32,
    /// Sequence space the segment occupies (payload + SYN + FIN).
    pub len: u32,
    /// SYN flag.
    pub syn: bool,
    /// TCP source port (which of the peer's connections sent it).
    pub src_port: u16,
}

/// Read the TCP header of an IPv4 packet the peer sent.
pub fn peer_seg(ip: &[u8]) -> Option<PeerSeg> {
    let p = SlicedPacket::from_ip(ip).ok()?;
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        return None;
    };
    Some(PeerSeg {
        seq: t.sequence_number(),
        len: t.payload().len() as u32 + t.syn() as u32 + t.fin() as u32,
        syn: t.syn(),
        src_port: t.source_port(),
    })
}

/// What the NIC's ACKs did to the peer's send window, observed on the NIC's side of the link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AckStats {
    /// ACKs that repeat the previous ACK number (no SYN): duplicate ACKs in the sense of
    /// RFC 5681 only when the window is unchanged too.
    pub dup_acks: u64,
    /// Of those, the ones whose window differs from the previous ACK's, which RFC 5681 senders
    /// (smoltcp, Linux without SACK) do not count towards fast retransmit.
    pub dup_acks_window_changed: u64,
    /// ACKs whose right window edge (ACK + scaled window) lies left of an edge the NIC had
    /// already advertised by one window-scale unit or more: the window shrank (RFC 9293 3.8.6:
    /// a receiver SHOULD NOT).
    pub window_shrinks: u64,
    /// ACKs advertising a zero window (the socket buffer or the buflet pool is full).
    pub zero_windows: u64,
}

/// Watches the NIC's frames for [`AckStats`].
#[derive(Default)]
pub struct AckObserver {
    scale: u8,
    last: Option<(u32, u16)>,
    right: Option<u32>,
    /// Counters.
    pub stats: AckStats,
}

impl AckObserver {
    /// Look at one frame the NIC transmitted (before the link impairs it).
    pub fn see(&mut self, frame: &[u8]) {
        let Ok(p) = SlicedPacket::from_ethernet(frame) else {
            return;
        };
        let Some(TransportSlice::Tcp(t)) = &p.transport else {
            return;
        };
        let (ack, win) = (t.acknowledgment_number(), t.window_size());
        if t.syn() {
            // Window scale applies from the first ACK after the SYN-ACK (RFC 7323).
            self.scale = t
                .options_iterator()
                .filter_map(|o| match o {
                    Ok(etherparse::TcpOptionElement::WindowScale(s)) => Some(s.min(14)),
                    _ => None,
                })
                .last()
                .unwrap_or(0);
            self.last = None;
            self.right = None;
            return;
        }
        if let Some((a, w)) = self.last {
            if a == ack {
                self.stats.dup_acks += 1;
                if w != win {
                    self.stats.dup_acks_window_changed += 1;
                }
            }
        }
        self.last = Some((ack, win));
        self.stats.zero_windows += u64::from(win == 0);
        let right = ack.wrapping_add((win as u32) << self.scale);
        match self.right {
            // Moves left by less than one scale unit are the rounding of the scaled window.
            Some(r) if (r.wrapping_sub(right) as i32) >= 1i32 << self.scale => {
                self.stats.window_shrinks += 1
            }
            Some(r) if (right.wrapping_sub(r) as i32) < 0 => {}
            _ => self.right = Some(right),
        }
    }
}

/// The smoltcp side of the link: IPv4 packets in, IPv4 packets out (`Medium::Ip`).
pub struct PeerPhy {
    /// Packets for the peer to receive.
    pub rx: VecDeque<Vec<u8>>,
    /// Packets the peer sent.
    pub tx: Vec<Vec<u8>>,
    mtu: usize,
}

impl PeerPhy {
    /// An empty device with an IP MTU of `mtu` bytes.
    pub fn new(mtu: usize) -> Self {
        PeerPhy {
            rx: VecDeque::new(),
            tx: Vec::new(),
            mtu,
        }
    }

    /// Take what the link delivers to the peer: each NIC frame's IPv4 packet joins `rx`; a
    /// frame that is not IPv4 + TCP with right checksums is not, and is counted in `bad`.
    pub fn receive(&mut self, from_nic: &mut Dir, bad: &mut u64) {
        for f in from_nic.take() {
            match eth_strip(&f) {
                Some(ip) => self.rx.push_back(ip),
                None => *bad += 1,
            }
        }
    }
}

/// Receive token: one packet.
pub struct RxTok(Vec<u8>);

/// Transmit token: appends the packet to the device's output.
pub struct TxTok<'a>(&'a mut Vec<Vec<u8>>);

impl phy::RxToken for RxTok {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.0)
    }
}

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.push(buf);
        r
    }
}

impl phy::Device for PeerPhy {
    type RxToken<'a>
        = RxTok
    where
        Self: 'a;
    type TxToken<'a>
        = TxTok<'a>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let p = self.rx.pop_front()?;
        Some((RxTok(p), TxTok(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        Some(TxTok(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = self.mtu;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direction seeded `seed` with these loss, reorder and duplication probabilities.
    fn dir(seed: u64, loss: f64, reorder: f64, dup: f64) -> Dir {
        Dir::new(
            seed,
            Impair {
                loss,
                reorder,
                dup,
                ..Impair::default()
            },
        )
    }

    #[test]
    fn clean_link_is_transparent() {
        let mut d = dir(1, 0.0, 0.0, 0.0);
        for i in 0..100u8 {
            d.offer(vec![i]);
        }
        let got: Vec<u8> = d.take().map(|f| f[0]).collect();
        assert_eq!(got, (0..100).collect::<Vec<u8>>());
        assert_eq!(d.stats.delivered, 100);
    }

    #[test]
    fn impairments_happen_and_account() {
        let mut d = dir(9, 0.1, 0.2, 0.1);
        for i in 0..2000u32 {
            d.offer(i.to_le_bytes().to_vec());
        }
        d.flush();
        let got: Vec<u32> = d
            .take()
            .map(|f| u32::from_le_bytes(f[..4].try_into().unwrap()))
            .collect();
        let s = d.stats;
        assert!(s.dropped > 100 && s.duplicated > 100 && s.reordered > 200);
        assert_eq!(s.offered, 2000);
        assert_eq!(got.len() as u64, s.offered - s.dropped + s.duplicated);
        assert_eq!(got.len() as u64, s.delivered);
        assert!(got.windows(2).any(|w| w[1] < w[0]), "nothing reordered");
    }

    #[test]
    fn wrap_and_strip_round_trip() {
        let b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
            .tcp(5001, 40000, 7, 100)
            .ack(9);
        let mut f = Vec::new();
        b.write(&mut f, &[]).unwrap();
        let ip = f[14..].to_vec();
        f.resize(60, 0); // MAC padding
        assert_eq!(eth_strip(&f), Some(ip.clone()));
        let w = eth_wrap([1; 6], [2; 6], &ip);
        assert_eq!(&w[..12], &f[..12]);
        f[40] ^= 1; // break the TCP checksum (ack field)
        assert_eq!(eth_strip(&f), None);
    }
}
