//! Transmit: the frame tx_builder makes of a `tx_cmd` snapshot toe_engine queues
//! ([`TxCmd`], the spec layout; docs/tcp-receive.md, "Transmitted frames"; ARP replies:
//! docs/rx-paths.md, "Reply frame"), plus tx_builder's command queue and timing.

use std::collections::VecDeque;

use buflet_platform::DeviceConfig;
use buflet_spec::{param, TxCmd, TxKind, TxOpts};

use crate::costs;

/// Ones'-complement sum of big-endian 16-bit words, folded to 16 bits. Every part but the
/// last has an even length; an odd last part is padded with a zero byte (RFC 1071).
fn csum(parts: &[&[u8]]) -> u16 {
    let mut s: u64 = 0;
    for p in parts {
        let words = p.chunks_exact(2);
        let odd = words.remainder().first().map_or(0, |&b| u64::from(b) << 8);
        s += words
            .map(|w| u16::from_be_bytes([w[0], w[1]]) as u64)
            .sum::<u64>()
            + odd;
    }
    while s > 0xFFFF {
        s = (s & 0xFFFF) + (s >> 16);
    }
    !(s as u16)
}

/// TCP header bytes of `c`'s segment (20, plus 4 per option).
fn tcp_len(c: &TxCmd) -> usize {
    let mut n = 20;
    if c.opts.contains(TxOpts::MSS) {
        n += 4;
    }
    if c.opts.contains(TxOpts::WS) {
        n += 4;
    }
    n
}

/// The Ethernet header (with the 802.1Q tag when `vlan != 0`) up to the EtherType.
fn eth(c: &TxCmd, f: &mut Vec<u8>) {
    f.extend_from_slice(&c.dst_mac);
    f.extend_from_slice(&c.src_mac);
    if c.vlan != 0 {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&(c.vlan & 0x0FFF).to_be_bytes());
    }
}

/// The ARP reply of a `KIND = ARP` command: 42 bytes, 46 with a tag, no padding.
fn arp_frame(c: &TxCmd) -> Vec<u8> {
    let mut f = Vec::with_capacity(46);
    eth(c, &mut f);
    f.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02]);
    f.extend_from_slice(&c.src_mac);
    f.extend_from_slice(&c.src_ip.octets());
    f.extend_from_slice(&c.dst_mac);
    f.extend_from_slice(&c.dst_ip.octets());
    f
}

/// The bytes of `c`'s frame, exactly as tx_builder emits them (TCP: 54..66 bytes; ARP: 42 or
/// 46 bytes; no padding). A `KIND` other than ARP, defined or not, builds a TCP segment.
pub fn frame(c: &TxCmd) -> Vec<u8> {
    frame_with(c, &[])
}

/// [`frame`] of a TCP segment carrying `payload` after its header (docs/tcp-transmit.md):
/// the IPv4 total length and the TCP checksum cover it.
pub fn frame_with(c: &TxCmd, payload: &[u8]) -> Vec<u8> {
    if c.kind() == Ok(TxKind::Arp) {
        return arp_frame(c);
    }
    let hdr_len = tcp_len(c);
    let tcp_len = hdr_len + payload.len();
    let mut f = Vec::with_capacity(18 + 20 + tcp_len);
    eth(c, &mut f);
    f.extend_from_slice(&[0x08, 0x00]);
    let l3 = f.len();
    let total = (20 + tcp_len) as u16;
    f.extend_from_slice(&[0x45, 0x00]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0x00, param::IP_TTL as u8, 6, 0, 0]);
    f.extend_from_slice(&c.src_ip.octets());
    f.extend_from_slice(&c.dst_ip.octets());
    let ip_csum = csum(&[&f[l3..l3 + 20]]);
    f[l3 + 10..l3 + 12].copy_from_slice(&ip_csum.to_be_bytes());
    let l4 = f.len();
    f.extend_from_slice(&c.src_port.to_be_bytes());
    f.extend_from_slice(&c.dst_port.to_be_bytes());
    f.extend_from_slice(&c.seq.to_be_bytes());
    f.extend_from_slice(&c.ack.to_be_bytes());
    f.push(((hdr_len / 4) as u8) << 4);
    f.push(c.flags.bits());
    f.extend_from_slice(&c.window.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    if c.opts.contains(TxOpts::MSS) {
        f.extend_from_slice(&[2, 4]);
        f.extend_from_slice(&c.mss.to_be_bytes());
    }
    if c.opts.contains(TxOpts::WS) {
        f.extend_from_slice(&[1, 3, 3, c.wscale]);
    }
    f.extend_from_slice(payload);
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&c.src_ip.octets());
    pseudo[4..8].copy_from_slice(&c.dst_ip.octets());
    pseudo[9] = 6;
    pseudo[10..12].copy_from_slice(&(tcp_len as u16).to_be_bytes());
    let tcp_csum = csum(&[&pseudo, &f[l4..]]);
    f[l4 + 16..l4 + 18].copy_from_slice(&tcp_csum.to_be_bytes());
    f
}

/// tx_builder and the command FIFO in front of it: [`costs::TX_CMD_FIFO_DEPTH`] entries, then
/// a three-register pipeline (command, checksums, frame) that emits frames back to back, one
/// word per cycle, as fast as the wire takes them: the MAC takes a frame's words back to back
/// and its next frame no sooner than `DeviceConfig::wire_cycles` after this one's first word
/// (as the RTL's harness does). Since the timing depends only on the commands, each frame's
/// last-word cycle is fixed when its command is queued.
#[derive(Debug, Default)]
pub(crate) struct TxBuilder {
    /// Cycles at which the last commands left the FIFO (at most the FIFO depth of them).
    leaves: VecDeque<u64>,
    /// Cycle the last command moved from the command register to the checksum stage.
    c1_go: u64,
    /// Cycle the last command moved from the checksum stage to the frame register.
    c2_go: u64,
    /// Cycle of the last frame's last word.
    last_word: u64,
    /// First cycle the MAC takes the next frame's first word (the wire's pacing).
    wire_free: u64,
    /// Frames being built: (cycle of the last word, bytes).
    pub building: VecDeque<(u64, Vec<u8>)>,
}

impl TxBuilder {
    /// Queue `cmd` at cycle `t`. Returns the cycle the FIFO accepts it (later than `t` when
    /// the FIFO is full: toe_engine stalls until then).
    pub fn push(&mut self, cfg: &DeviceConfig, t: u64, cmd: &TxCmd) -> u64 {
        self.push_frame(cfg, t, frame(cmd))
    }

    /// Queue a data segment whose command enters the queue at `t` and whose payload is in at
    /// `ready` (tx_data passes it on no earlier). Returns when the queue took the command.
    pub fn push_data_ready(
        &mut self,
        cfg: &DeviceConfig,
        t: u64,
        ready: u64,
        cmd: &TxCmd,
        payload: &[u8],
    ) -> u64 {
        self.push_frame_at(cfg, t, ready, frame_with(cmd, payload))
    }

    fn push_frame(&mut self, cfg: &DeviceConfig, t: u64, frame: Vec<u8>) -> u64 {
        self.push_frame_at(cfg, t, 0, frame)
    }

    fn push_frame_at(&mut self, cfg: &DeviceConfig, t: u64, ready: u64, frame: Vec<u8>) -> u64 {
        let depth = costs::TX_CMD_FIFO_DEPTH;
        let accept = if self.leaves.len() >= depth {
            t.max(self.leaves[self.leaves.len() - depth])
        } else {
            t
        };
        // FIFO output the cycle after the push; each register passes the command on when the
        // next one is free (or frees up in the same cycle).
        let leave = (accept + 1).max(self.c1_go).max(ready);
        let c1_go = (leave + 1).max(self.c2_go);
        // the frame register holds the frame until the MAC takes its first word
        let c2_go = (c1_go + costs::TX_CSUM_CYCLES)
            .max(self.last_word)
            .max(self.wire_free.saturating_sub(1));
        let last_word = c2_go + costs::words(cfg, frame.len());
        self.wire_free = c2_go + 1 + cfg.wire_cycles(frame.len());
        self.leaves.push_back(leave);
        if self.leaves.len() > depth {
            self.leaves.pop_front();
        }
        self.c1_go = c1_go;
        self.c2_go = c2_go;
        self.last_word = last_word;
        self.building.push_back((last_word, frame));
        accept
    }

    /// Cycle the next frame is finished, if one is being built.
    pub fn next_done(&self) -> Option<u64> {
        self.building.front().map(|f| f.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buflet_spec::TcpFlags;
    use std::net::Ipv4Addr;

    #[test]
    fn fifo_full_stalls_the_producer_and_keeps_order() {
        // a wire that takes whatever the builder makes (1,000 Gbit/s)
        let cfg = DeviceConfig {
            line_gbps: 1000.0,
            ..DeviceConfig::with_width(64)
        };
        let mut b = TxBuilder::default();
        let cmd = |i: u32| TxCmd {
            seq: i,
            flags: TcpFlags::ACK,
            ..TxCmd::default()
        };
        let accepts: Vec<u64> = (0..10).map(|i| b.push(&cfg, 0, &cmd(i))).collect();
        // 54 bytes = 7 words at 64 bits. The first frame's words are cycles 4..=10 (FIFO out
        // at 1, command register 2, checksums 3); the next frames follow without a bubble.
        let done: Vec<u64> = b.building.iter().map(|f| f.0).collect();
        assert_eq!(done, (0..10).map(|i| 10 + 7 * i).collect::<Vec<u64>>());
        // A command leaves the FIFO when the command register frees: frame i-2 started.
        // Four wait in the FIFO; the fifth push waits for the first to leave, and so on.
        assert_eq!(&accepts[..4], &[0, 0, 0, 0]);
        assert!(accepts[4] > 0);
        assert!(accepts.windows(2).all(|w| w[0] <= w[1]));
        for (i, (_, f)) in b.building.iter().enumerate() {
            assert_eq!(f.len(), 54);
            assert_eq!(u32::from_be_bytes([f[38], f[39], f[40], f[41]]), i as u32);
        }
        // Spaced out: each frame takes 3 cycles of latency plus its words.
        let mut b = TxBuilder::default();
        b.push(&cfg, 100, &cmd(0));
        b.push(&cfg, 200, &cmd(1));
        let done: Vec<u64> = b.building.iter().map(|f| f.0).collect();
        assert_eq!(done, vec![110, 210]);
    }

    /// The wire paces the frames: the next frame's first word waits until the wire is free
    /// (`wire_cycles` after this frame's first word), and its words then follow back to back.
    #[test]
    fn the_wire_paces_back_to_back_frames() {
        let cfg = DeviceConfig::with_width(64); // 10 Gbit/s at 250 MHz: 5 bytes per cycle
        let gap = cfg.wire_cycles(54); // (60 + 4 + 20) / 5, rounded up: 17
        assert_eq!(gap, 17);
        let mut b = TxBuilder::default();
        let cmd = TxCmd {
            flags: TcpFlags::ACK,
            ..TxCmd::default()
        };
        for _ in 0..4 {
            b.push(&cfg, 0, &cmd);
        }
        // the first frame's words are cycles 4..=10, then one frame every 17 cycles
        let done: Vec<u64> = b.building.iter().map(|f| f.0).collect();
        assert_eq!(done, vec![10, 27, 44, 61]);
        // a frame queued after the wire went idle is not delayed
        b.push(&cfg, 200, &cmd);
        assert_eq!(b.building.back().unwrap().0, 210);
    }

    /// A data segment (odd payload length, so the checksum pads a byte) as an independent
    /// parser (etherparse) sees it: lengths, payload and both checksums.
    #[test]
    fn data_segment_checksums_verify_independently() {
        use etherparse::{SlicedPacket, TransportSlice};
        let c = TxCmd {
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(10, 0, 0, 2),
            src_port: 445,
            dst_port: 50000,
            seq: 77,
            ack: 99,
            window: 1000,
            flags: TcpFlags::ACK | TcpFlags::PSH,
            ..TxCmd::default()
        };
        for len in [1usize, 2, 1447, 1448] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let f = frame_with(&c, &payload);
            assert_eq!(f.len(), 54 + len);
            let p = SlicedPacket::from_ethernet(&f).expect("parses");
            let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
                panic!("not IPv4")
            };
            let Some(TransportSlice::Tcp(t)) = &p.transport else {
                panic!("not TCP")
            };
            assert_eq!(t.payload(), &payload[..]);
            let want = t
                .to_header()
                .calc_checksum_ipv4(&ip.header().to_header(), t.payload())
                .unwrap();
            assert_eq!(t.checksum(), want, "TCP checksum at {len} bytes");
            let h = ip.header().to_header();
            assert_eq!(h.header_checksum, h.calc_header_checksum());
        }
    }

    #[test]
    fn arp_reply_layout() {
        let c = TxCmd {
            kind: TxKind::Arp.code(),
            dst_mac: [1, 2, 3, 4, 5, 6],
            src_mac: [7, 8, 9, 10, 11, 12],
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(192, 168, 1, 2),
            ..TxCmd::default()
        };
        let want: Vec<u8> = [
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12][..],
            &[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2],
            &[7, 8, 9, 10, 11, 12, 10, 0, 0, 1],
            &[1, 2, 3, 4, 5, 6, 192, 168, 1, 2],
        ]
        .concat();
        assert_eq!(frame(&c), want);
        let tagged = frame(&TxCmd { vlan: 0x0ABC, ..c });
        assert_eq!(tagged.len(), 46);
        assert_eq!(&tagged[12..18], &[0x81, 0x00, 0x0A, 0xBC, 0x08, 0x06]);
        assert_eq!(&tagged[18..], &want[14..]);
    }

    #[test]
    fn frame_layout() {
        let c = TxCmd {
            dst_mac: [1, 2, 3, 4, 5, 6],
            src_mac: [7, 8, 9, 10, 11, 12],
            vlan: 0x1234,
            kind: TxKind::Tcp.code(),
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(10, 0, 0, 2),
            src_port: 80,
            dst_port: 1234,
            seq: 0x0102_0304,
            ack: 0x0506_0708,
            window: 0x090A,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            opts: TxOpts::MSS | TxOpts::WS,
            mss: 0x05B4,
            wscale: 7,
            ..TxCmd::default()
        };
        let f = frame(&c);
        assert_eq!(f.len(), 66);
        assert_eq!(&f[12..18], &[0x81, 0x00, 0x02, 0x34, 0x08, 0x00]);
        assert_eq!(&f[18..22], &[0x45, 0x00, 0x00, 48]);
        assert_eq!(&f[22..28], &[0, 0, 0x40, 0, 64, 6]);
        assert_eq!(f[18 + 32], 7 << 4);
        assert_eq!(&f[58..66], &[2, 4, 0x05, 0xB4, 1, 3, 3, 7]);
        // Both checksums verify: the ones'-complement sums come out as 0xFFFF.
        assert_eq!(csum(&[&f[18..38]]), 0);
        let mut pseudo = [0u8; 12];
        pseudo[..8].copy_from_slice(&f[30..38]);
        pseudo[9] = 6;
        pseudo[11] = 28;
        assert_eq!(csum(&[&pseudo, &f[38..]]), 0);
        assert_eq!(
            frame(&TxCmd {
                vlan: 0,
                opts: TxOpts::empty(),
                ..c
            })
            .len(),
            54
        );
        // A KIND the spec does not define builds a TCP segment, like TCP.
        assert_eq!(frame(&TxCmd { kind: 0x7F, ..c }), f);
    }
}
