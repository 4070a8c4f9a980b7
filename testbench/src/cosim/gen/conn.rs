//! Generated connections: their 4-tuples, TCP segments built by etherparse, and the steps of each connection (handshake, data, loss, reordering, FIN/RST, named buffers, deletes).

use super::*;

/// The addresses of frames from a peer to the NIC.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tuple {
    pub(super) src_mac: [u8; 6],
    pub(super) dst_mac: [u8; 6],
    pub(super) vlan: u16,
    pub(super) src_ip: [u8; 4],
    pub(super) dst_ip: [u8; 4],
    pub(super) src_port: u16,
    pub(super) dst_port: u16,
}

impl Tuple {
    pub(super) fn of(p: &SockParams) -> Self {
        Tuple {
            src_mac: p.remote_mac,
            dst_mac: p.local_mac,
            vlan: p.vlan,
            src_ip: p.remote_ip.octets(),
            dst_ip: p.local_ip.octets(),
            src_port: p.remote_port,
            dst_port: p.local_port,
        }
    }

    pub(super) fn ip(&self) -> PacketBuilderStep<IpHeaders> {
        let eth = PacketBuilder::ethernet2(self.src_mac, self.dst_mac);
        match VlanId::try_new(self.vlan & 0x0FFF) {
            Ok(id) if self.vlan != 0 => eth.single_vlan(id).ipv4(self.src_ip, self.dst_ip, 64),
            _ => eth.ipv4(self.src_ip, self.dst_ip, 64),
        }
    }

    /// Offset of the IPv4 header in frames of this tuple.
    pub(super) fn l3(&self) -> usize {
        if self.vlan != 0 {
            18
        } else {
            14
        }
    }
}

/// TCP options of a generated segment.
#[derive(Debug, Clone)]
pub(super) enum Opts {
    None,
    List(Vec<TcpOptionElement>),
    Raw(Vec<u8>),
}

/// A TCP segment from the peer, built by etherparse.
pub(super) fn tcp_frame(
    t: &Tuple,
    seq: u32,
    flags: u8,
    ack: u32,
    window: u16,
    opts: &Opts,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = t.ip().tcp(t.src_port, t.dst_port, seq, window);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    if flags & ACK != 0 {
        b = b.ack(ack);
    }
    if flags & URG != 0 {
        b = b.urg(1);
    }
    let b = match opts {
        Opts::None => b,
        Opts::List(l) => b.options(l).unwrap_or_else(|_| unreachable!("options fit")),
        Opts::Raw(r) => b
            .options_raw(r)
            .unwrap_or_else(|_| unreachable!("raw options fit")),
    };
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload)
        .unwrap_or_else(|_| unreachable!("writing to a Vec cannot fail"));
    out
}

/// The hash bucket of a 4-tuple, as docs/architecture.md defines it (used to make sockets
/// collide in one bucket on purpose).
pub(super) fn bucket(
    local_ip: Ipv4Addr,
    remote_ip: Ipv4Addr,
    local_port: u16,
    remote_port: u16,
) -> u32 {
    let mut x = u32::from(remote_ip)
        ^ u32::from(local_ip)
        ^ ((remote_port as u32) << 16 | local_port as u32);
    x ^= x >> 16;
    x ^= x >> 8;
    x % param::DEF_HASH_BUCKETS as u32
}

/// One generated connection.
pub(super) struct Conn {
    pub(super) p: SockParams,
    pub(super) irs: u32,
    pub(super) stream: Vec<u8>,
    pub(super) seg_max: usize,
    pub(super) ts: bool,
    pub(super) name: String,
    /// Many tiny segments, a large receive buffer and no named buffer until the end: the
    /// held segments fill the buflet pool and the window closes on pool room.
    pub(super) stress: bool,
    /// The send side (docs/tcp-transmit.md): the host posts data on this connection and the
    /// peer's ACK field acknowledges it (gen/tx.rs).
    pub(super) tx: bool,
    /// An active open (SOCK_ADD with CONNECT): the peer answers the NIC's SYN with a SYN-ACK.
    pub(super) active: bool,
    /// Bytes of the host's accepted posts so far, as the generator counts them.
    pub(super) snd_posted: u64,
    /// The peer's acknowledgment of the NIC's send stream: ACK = ISS + 1 + `snd_acked` in
    /// its pure ACKs.
    pub(super) snd_acked: u64,
    /// What the peer's data segments acknowledge: `snd_acked` before its last advance. A
    /// guess beyond what the NIC sent drops the segment (BAD_ACK) with its data; lagging one
    /// advance behind, a single wrong guess costs no data.
    pub(super) snd_acked_data: u64,
    /// SOCK_CLOSE was issued (our FIN follows the posts).
    pub(super) snd_closed: bool,
    /// The window the peer advertises in every segment (65535 unless the send side varies it).
    pub(super) win: u16,
    /// Send-pool pages this connection's posts may still take.
    pub(super) tx_pages: u64,
    /// The case gave the host buflets (HOST_BUFLETS): some posts are DEVMEM ones.
    pub(super) dev_posts: bool,
}

impl Conn {
    pub(super) fn new(
        rng: &mut ChaCha8Rng,
        i: usize,
        sock_ref: u16,
        prev: &[Conn],
        cfg: &GenConfig,
    ) -> Self {
        let local_ip = Ipv4Addr::new(10, 0, 0, 2 + rng.gen_range(0..2u8));
        let remote_ip = Ipv4Addr::new(10, 1, i as u8, rng.gen_range(1..255u8));
        let local_port = *[80u16, 443, 5001, rng.gen_range(1024..65535)]
            .choose(rng)
            .unwrap_or(&5001);
        let rcv_buf = match rng.gen_range(0..100) {
            0..=14 => rng.gen_range(1..4000),
            15..=59 => rng.gen_range(8_000..65_536),
            _ => rng.gen_range(128 * 1024..=1 << 20),
        };
        let mut p = SockParams {
            opcode: Opcode::SockAdd,
            sock_ref,
            local_mac: NIC_MAC,
            remote_mac: [0x02, 0, 0, 0, 0x10, i as u8],
            vlan: if rng.gen_bool(0.2) {
                rng.gen_range(1..4095)
            } else {
                0
            },
            proto: TCP,
            local_ip,
            remote_ip,
            local_port,
            remote_port: rng.gen_range(1024..65535),
            iss: rng.gen(),
            rcv_buf,
            mss: rng.gen_range(536..=8960),
            rcv_wscale: rng.gen_range(0..=14),
            flags: if rng.gen_bool(0.3) {
                SockFlags::PSH_RETURN
            } else {
                SockFlags::empty()
            },
            ..Default::default()
        };
        if let Some(other) = prev.choose(rng) {
            let o = &other.p;
            match rng.gen_range(0..100) {
                // The same 4-tuple on another VLAN: a different socket in the same bucket.
                0..=9 => {
                    p.local_ip = o.local_ip;
                    p.remote_ip = o.remote_ip;
                    p.local_port = o.local_port;
                    p.remote_port = o.remote_port;
                    p.vlan = (o.vlan + 1 + rng.gen_range(0..100)) % 4095;
                }
                // Another 4-tuple that hashes into the same bucket: a chained lookup.
                10..=34 => {
                    let want = bucket(o.local_ip, o.remote_ip, o.local_port, o.remote_port);
                    let start: u16 = rng.gen_range(1024..60000);
                    for d in 0..4096u16 {
                        let port = start.wrapping_add(d);
                        if port != o.remote_port
                            && bucket(p.local_ip, p.remote_ip, p.local_port, port) == want
                        {
                            p.remote_port = port;
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        // Keep (4-tuple, VLAN) unique.
        while prev.iter().any(|c| {
            let q = &c.p;
            q.local_ip == p.local_ip
                && q.remote_ip == p.remote_ip
                && q.local_port == p.local_port
                && q.remote_port == p.remote_port
                && q.vlan == p.vlan
        }) {
            p.remote_port = p.remote_port.wrapping_add(1).max(1024);
        }
        let irs = if rng.gen_bool(0.2) {
            u32::MAX - rng.gen_range(0..20_000) // sequence numbers wrap inside the stream
        } else {
            rng.gen()
        };
        let udp = rng.gen_bool(cfg.udp.clamp(0.0, 1.0));
        if udp {
            p.proto = UDP;
        }
        // Delayed ACKs on two sockets in five (ignored on a UDP socket; the case's timer
        // ticks send the owed ones), chosen by the random ISS so that the generator's stream,
        // and so every case's stimulus but this flag, stays what it was.
        if p.iss % 5 < 2 {
            p.flags |= SockFlags::DELAYED_ACK;
        }
        // A hold socket (p2p); now and then on a UDP socket, which SOCK_ADD refuses.
        if rng.gen_bool(cfg.hold.clamp(0.0, 1.0)) && (!udp || rng.gen_bool(0.1)) {
            p.flags |= SockFlags::HOLD;
        }
        let stress = !udp && rng.gen_bool(cfg.stress.clamp(0.0, 1.0));
        let tx = !udp && !stress && rng.gen_bool(cfg.tx.clamp(0.0, 1.0));
        let active = tx && rng.gen_bool(cfg.connect.clamp(0.0, 1.0));
        if active {
            p.flags |= SockFlags::CONNECT;
        }
        let len = if udp {
            0
        } else if stress {
            p.rcv_buf = 1 << 20;
            rng.gen_range(cfg.max_stream / 2..=cfg.max_stream * 2 / 3)
        } else if rng.gen_bool(0.1) {
            0
        } else {
            rng.gen_range(1..=cfg.max_stream.max(1))
        };
        let stream = crate::frames::payload(rng.gen(), len);
        let seg_max = if stress {
            rng.gen_range(40..=100)
        } else if cfg.jumbo && rng.gen_bool(0.2) {
            rng.gen_range(2000..=8900)
        } else {
            rng.gen_range(200..=1460)
        };
        Conn {
            name: format!("s{sock_ref}"),
            p,
            irs,
            stream,
            seg_max,
            ts: rng.gen_bool(0.4),
            stress,
            tx,
            active,
            snd_posted: 0,
            snd_acked: 0,
            snd_acked_data: 0,
            snd_closed: false,
            win: 65535,
            tx_pages: 0,
            dev_posts: false,
        }
    }

    pub(super) fn tuple(&self) -> Tuple {
        Tuple::of(&self.p)
    }

    pub(super) fn seq_of(&self, off: usize) -> u32 {
        self.irs.wrapping_add(1).wrapping_add(off as u32)
    }

    /// The peer's ACK field: ISS + 1 + what it acknowledged of the NIC's send stream.
    pub(super) fn ack_no(&self) -> u32 {
        self.p
            .iss
            .wrapping_add(1)
            .wrapping_add(self.snd_acked as u32)
    }

    pub(super) fn data_opts(&self, off: usize) -> Opts {
        if self.ts {
            Opts::List(vec![
                TcpOptionElement::Noop,
                TcpOptionElement::Noop,
                TcpOptionElement::Timestamp(1000 + off as u32, 77),
            ])
        } else {
            Opts::None
        }
    }

    /// A segment carrying stream bytes `[off, off+len)` with ACK = ISS+1.
    pub(super) fn data(&self, off: usize, len: usize, extra: u8, what: &str) -> Step {
        let end = (off + len).min(self.stream.len());
        let off = off.min(end);
        let payload = &self.stream[off..end];
        let bytes = tcp_frame(
            &self.tuple(),
            self.seq_of(off),
            ACK | extra,
            self.p
                .iss
                .wrapping_add(1)
                .wrapping_add(self.snd_acked_data as u32),
            self.win,
            &self.data_opts(off),
            payload,
        );
        let fl = flag_names(ACK | extra);
        frame(format!("{} {what} [{off}..{end}) {fl}", self.name), bytes)
    }

    /// A segment with no payload.
    pub(super) fn ctl(&self, seq: u32, flags: u8, ack: u32, opts: &Opts, what: &str) -> Step {
        let bytes = tcp_frame(&self.tuple(), seq, flags, ack, self.win, opts, &[]);
        frame(
            format!(
                "{} {what} seq {:+} {}",
                self.name,
                seq.wrapping_sub(self.irs.wrapping_add(1)) as i32,
                flag_names(flags)
            ),
            bytes,
        )
    }

    pub(super) fn post(&self, rng: &mut ChaCha8Rng, posted: &mut usize, cfg: &GenConfig) -> Step {
        let pages = rng.gen_range(1..=MAX_NB_PAGES);
        let total = if rng.gen_bool(0.6) {
            pages * PAGE
        } else {
            rng.gen_range(1..=pages * PAGE)
        };
        *posted += total as usize;
        let timeout = if rng.gen_bool(cfg.nb_timeout.clamp(0.0, 1.0)) {
            rng.gen_range(1..=4)
        } else {
            0
        };
        Step::PostNb(NbPost {
            sock: self.p.sock_ref,
            slot: NbSlot::Free,
            pages,
            total_bytes: total,
            list: PageList::Good,
            timeout,
        })
    }

    /// A UDP datagram from the peer to this socket's address on port `dport` (usually the
    /// socket's), built by etherparse, with one field broken afterwards as `bad` says.
    pub(super) fn datagram(
        &self,
        payload: &[u8],
        dport: u16,
        bad: UdpBad,
    ) -> (Vec<u8>, &'static str) {
        let t = self.tuple();
        let mut out = Vec::new();
        let _ = t.ip().udp(t.src_port, dport).write(&mut out, payload);
        let l3 = t.l3();
        let l4 = l3 + 20;
        let what = match bad {
            UdpBad::None => "datagram",
            UdpBad::NoChecksum => {
                out[l4 + 6] = 0;
                out[l4 + 7] = 0;
                "datagram without checksum"
            }
            UdpBad::Checksum => {
                if payload.is_empty() {
                    // Flipping the top bit keeps a checksum non-zero (and makes it wrong).
                    out[l4 + 6] ^= 0x80;
                    if out[l4 + 6] == 0 && out[l4 + 7] == 0 {
                        out[l4 + 7] = 1;
                    }
                } else {
                    let n = out.len();
                    out[n - 1] ^= 0x10;
                }
                "datagram with a bad checksum"
            }
            UdpBad::Length(d) => {
                let len = u16::from_be_bytes([out[l4 + 4], out[l4 + 5]]);
                let v = (len as i32 + d).clamp(0, 65535) as u16;
                out[l4 + 4..l4 + 6].copy_from_slice(&v.to_be_bytes());
                "datagram whose UDP length is not the IP payload's"
            }
            UdpBad::Short(k) => {
                // The IPv4 total length leaves fewer than 8 bytes for UDP (the rest is padding).
                let tot = (20 + k as u16).to_be_bytes();
                out[l3 + 2] = tot[0];
                out[l3 + 3] = tot[1];
                fix_ip_csum(&mut out, l3);
                "IPv4 payload shorter than a UDP header"
            }
        };
        (out, what)
    }

    /// The steps of a UDP socket: SOCK_ADD, named buffers (some short, some with a TIMEOUT)
    /// and datagrams of every size, some broken, some for another port, some before a buffer
    /// is there; sometimes a TCP SYN on the same 4-tuple (no socket: the protocol differs)
    /// and a delete mid-way.
    pub(super) fn udp_events(&mut self, rng: &mut ChaCha8Rng, cfg: &GenConfig) -> Vec<Step> {
        let mut ev = vec![Step::AddSocket(self.p)];
        let mut posted = 0usize;
        for _ in 0..rng.gen_range(0..=3) {
            ev.push(self.post(rng, &mut posted, cfg));
        }
        let n = rng.gen_range(1..=14);
        let mut sent = 0usize;
        for k in 0..n {
            let len = match rng.gen_range(0..100) {
                0..=19 => rng.gen_range(0..=64),
                20..=69 => rng.gen_range(65..=1472),
                70..=89 => rng.gen_range(1473..=4200),
                _ if cfg.jumbo => rng.gen_range(4201..=8950),
                _ => rng.gen_range(1473..=4200),
            };
            let payload = crate::frames::payload(rng.gen(), len);
            let bad = match rng.gen_range(0..100) {
                0..=79 => UdpBad::None,
                80..=85 => UdpBad::NoChecksum,
                86..=90 => UdpBad::Checksum,
                91..=94 => UdpBad::Length(*[-1i32, 1, -8, 100].choose(rng).unwrap_or(&1)),
                _ => UdpBad::Short(rng.gen_range(0..8)),
            };
            let dport = if rng.gen_bool(0.06) {
                self.p.local_port.wrapping_add(1) // no socket
            } else {
                self.p.local_port
            };
            let (bytes, what) = self.datagram(&payload, dport, bad);
            ev.push(frame(
                format!("{} {what} #{k} len {len} to port {dport}", self.name),
                bytes,
            ));
            sent += len + 8;
            if rng.gen_bool(0.4) {
                ev.push(self.post(rng, &mut posted, cfg));
            }
            if rng.gen_bool(0.04) {
                let bytes = tcp_frame(&self.tuple(), rng.gen(), SYN, 0, 1000, &Opts::None, &[]);
                ev.push(frame(
                    format!("{} TCP SYN on the UDP socket's 4-tuple", self.name),
                    bytes,
                ));
            }
        }
        // Buffers for most of what is still waiting.
        if rng.gen_bool(0.75) {
            while posted < sent {
                ev.push(self.post(rng, &mut posted, cfg));
            }
        }
        if ev.len() > 2 && rng.gen_bool(0.1) {
            let at = rng.gen_range(1..ev.len());
            ev.insert(
                at,
                Step::DelSocket {
                    sock: self.p.sock_ref,
                },
            );
        }
        ev
    }

    pub(super) fn syn_opts(&self, rng: &mut ChaCha8Rng) -> Opts {
        if rng.gen_bool(0.06) {
            // Option lists the walk must stop on without hanging: a zero length, a length
            // running past the end, EOL before the WS option, or a WS with a bad length.
            let lists: [&[u8]; 5] = [
                &[3, 0, 7, 1],
                &[1, 1, 3, 9, 7, 0, 0, 0],
                &[0, 3, 3, 7],
                &[3, 4, 7, 0, 1, 3, 3, 9],
                &[2, 4, 5, 180, 1, 3, 3, 2, 1, 3, 3, 12],
            ];
            return Opts::Raw(lists.choose(rng).unwrap_or(&lists[0]).to_vec());
        }
        let mut v = vec![TcpOptionElement::MaximumSegmentSize(self.seg_max as u16)];
        if rng.gen_bool(0.5) {
            v.push(TcpOptionElement::SelectiveAcknowledgementPermitted);
        }
        if rng.gen_bool(0.4) {
            v.push(TcpOptionElement::Timestamp(rng.gen(), 0));
        }
        if rng.gen_bool(0.6) {
            v.push(TcpOptionElement::Noop);
            let shift = if rng.gen_bool(0.1) {
                rng.gen_range(15..=255)
            } else {
                rng.gen_range(0..=14)
            };
            v.push(TcpOptionElement::WindowScale(shift));
        }
        Opts::List(v)
    }

    /// The connection's steps, in its own order.
    pub(super) fn events(&mut self, rng: &mut ChaCha8Rng, cfg: &GenConfig) -> Vec<Step> {
        let mut ev = vec![Step::AddSocket(self.p)];
        let factor = if self.stress {
            0.0
        } else {
            *[0.0, 0.3, 0.8, 1.5, 3.0].choose(rng).unwrap_or(&1.0)
        };
        let budget = (factor * self.stream.len() as f64) as usize;
        let mut posted = 0usize;
        for _ in 0..rng.gen_range(0..=2) {
            if posted < budget || rng.gen_bool(0.3) {
                ev.push(self.post(rng, &mut posted, cfg));
            }
        }
        if self.tx && rng.gen_bool(0.3) {
            // Posts before the handshake wait for ESTAB.
            self.tx_post_step(rng, &mut ev);
        }
        let opts = self.syn_opts(rng);
        if self.active {
            self.active_open(rng, &opts, &mut ev);
        } else {
            let ack = self.ack_no();
            // Segments before the SYN: LISTEN drops them (BAD_STATE).
            if rng.gen_bool(0.1) {
                ev.push(self.data(0, 100, 0, "data in LISTEN"));
            }
            if rng.gen_bool(0.08) {
                ev.push(self.ctl(self.seq_of(0), RST, 0, &Opts::None, "RST in LISTEN"));
            }
            if rng.gen_bool(0.05) {
                ev.push(self.ctl(self.seq_of(0), ACK, ack, &Opts::None, "ACK in LISTEN"));
            }
            if rng.gen_bool(0.05) {
                ev.push(self.ctl(self.irs, SYN | ACK, ack, &Opts::None, "SYN-ACK in LISTEN"));
            }
            // The SYN (maybe retransmitted, maybe with a payload the NIC ignores).
            let syn = if rng.gen_bool(0.05) {
                let bytes = tcp_frame(&self.tuple(), self.irs, SYN, 0, 64240, &opts, &[0xAB; 24]);
                frame(format!("{} SYN with payload {opts:?}", self.name), bytes)
            } else {
                let bytes = tcp_frame(&self.tuple(), self.irs, SYN, 0, 64240, &opts, &[]);
                frame(format!("{} SYN {opts:?}", self.name), bytes)
            };
            ev.push(syn.clone());
            if rng.gen_bool(0.15) {
                ev.push(syn.clone());
            }
            if rng.gen_bool(0.05) {
                let other = self.irs.wrapping_add(rng.gen_range(1..1000));
                ev.push(self.ctl(other, SYN, 0, &opts, "SYN other seq in SYN_RCVD"));
            }
            if rng.gen_bool(0.08) {
                let bad = ack.wrapping_add(*[1u32, u32::MAX, 1000].choose(rng).unwrap_or(&1));
                ev.push(self.ctl(
                    self.seq_of(0),
                    ACK,
                    bad,
                    &Opts::None,
                    "wrong ACK in SYN_RCVD",
                ));
            }
            if rng.gen_bool(0.05) {
                let s = self.seq_of(rng.gen_range(1..5000));
                ev.push(self.ctl(s, RST, 0, &Opts::None, "RST not at RCV_NXT in SYN_RCVD"));
            }
            if rng.gen_bool(0.05) {
                ev.push(self.ctl(self.seq_of(0), RST, 0, &Opts::None, "RST in SYN_RCVD"));
                // Back to LISTEN: the peer opens again with a new initial sequence number.
                self.irs = self.irs.wrapping_add(rng.gen_range(100_000..1_000_000));
                let bytes = tcp_frame(&self.tuple(), self.irs, SYN, 0, 64240, &opts, &[]);
                ev.push(frame(format!("{} SYN again {opts:?}", self.name), bytes));
            }
            // The handshake ACK (otherwise the first data segment completes the handshake).
            if rng.gen_bool(0.75) {
                let mut st = self.ctl(self.seq_of(0), ACK, ack, &Opts::None, "handshake ACK");
                if rng.gen_bool(0.1) {
                    if let Step::Frame(f) = &mut st {
                        // A real MAC pads short frames to 60 bytes: bytes after the IPv4 total
                        // length are padding.
                        f.bytes.resize(60, 0);
                        f.label.push_str(" (padded to 60)");
                    }
                }
                ev.push(st);
            }
        }
        let syn_end = ev.len();

        // The stream: segments, some reordered, lost (retransmitted later), duplicated.
        let len = self.stream.len();
        let mut segs = Vec::new();
        let mut off = 0;
        while off < len {
            let n = if rng.gen_bool(0.5) {
                self.seg_max
            } else {
                rng.gen_range(1..=self.seg_max)
            };
            let n = n.min(len - off);
            segs.push((off, n));
            off += n;
        }
        let mut i = 0;
        while i + 1 < segs.len() {
            if rng.gen_bool(0.08) {
                segs.swap(i, i + 1);
                i += 2;
            } else {
                i += 1;
            }
        }
        let mut late: Vec<(usize, usize, usize, &'static str)> = Vec::new(); // (delay, off, len, why)
        for (k, &(off, n)) in segs.iter().enumerate() {
            let mut extra = 0;
            if rng.gen_bool(0.15) {
                extra |= PSH;
            }
            if rng.gen_bool(0.02) {
                extra |= URG;
            }
            let r = rng.gen_range(0..100);
            if r < 8 {
                late.push((rng.gen_range(1..=8), off, n, "retransmit of lost"));
            } else {
                ev.push(self.data(off, n, extra, "data"));
                if r < 13 {
                    late.push((rng.gen_range(0..=4), off, n, "duplicate"));
                }
            }
            if rng.gen_bool(0.05) && off > 0 {
                // A retransmission that overlaps what was sent before and after.
                let a = off - rng.gen_range(1..=off.min(700));
                let b = (off + n + rng.gen_range(0..700)).min(len);
                ev.push(self.data(a, b - a, 0, "overlapping retransmit"));
            }
            if rng.gen_bool(0.03) {
                let ack = self.ack_no();
                ev.push(self.ctl(self.seq_of(off), ACK, ack, &Opts::None, "pure ACK"));
            }
            if self.tx && rng.gen_bool(0.45) {
                self.tx_round(rng, &mut ev, off);
            }
            if posted < budget && rng.gen_bool(0.35) {
                ev.push(self.post(rng, &mut posted, cfg));
            }
            if k > 0 && rng.gen_bool(0.01) {
                ev.push(self.ctl(self.irs, SYN, 0, &Opts::None, "SYN when established"));
            }
            for l in late.iter_mut() {
                l.0 = l.0.saturating_sub(1);
            }
            let (due, keep): (Vec<_>, Vec<_>) = late.into_iter().partition(|l| l.0 == 0);
            late = keep;
            for (_, o, m, why) in due {
                ev.push(self.data(o, m, 0, why));
            }
        }
        // The send side goes on after the peer's stream: more posts, ACKs, timers, SOCK_CLOSE.
        if self.tx {
            self.tx_tail(rng, &mut ev, len);
        }
        let ack = self.ack_no();
        // How the stream ends.
        let close = rng.gen_range(0..100);
        let end = self.seq_of(len);
        if close < 55 && !late.is_empty() && rng.gen_bool(0.4) {
            ev.push(self.ctl(end, ACK | FIN, ack, &Opts::None, "FIN ahead of a gap"));
        }
        for (_, o, m, why) in std::mem::take(&mut late) {
            ev.push(self.data(o, m, 0, why));
        }
        let fin = || self.ctl(end, ACK | FIN, ack, &Opts::None, "FIN");
        match close {
            0..=54 => ev.push(fin()),
            55..=64 => ev.push(self.ctl(end, RST, 0, &Opts::None, "RST at end")),
            65..=69 => {
                let s = end.wrapping_add(rng.gen_range(1..3000));
                ev.push(self.ctl(s, RST | ACK, ack, &Opts::None, "RST past RCV_NXT"));
            }
            _ => {}
        }
        // Retransmission pass: more buffers, then the whole stream again (most of it is left of
        // the window by now: ACK + OUT_OF_WINDOW).
        if len > 0 && (self.stress || rng.gen_bool(0.5) || (factor < 1.0 && rng.gen_bool(0.7))) {
            let want = len + len / 3;
            while posted < want {
                ev.push(self.post(rng, &mut posted, cfg));
            }
            // A retransmission coalesces what was sent in tiny segments.
            let chunk = if self.stress { 1400 } else { self.seg_max };
            let mut o = 0;
            while o < len {
                let m = chunk.min(len - o);
                ev.push(self.data(o, m, 0, "resend"));
                o += m;
            }
            if close < 55 {
                ev.push(fin());
            }
        }
        // Odd segments after the end.
        if rng.gen_bool(0.15) {
            let after = if close < 55 { len + 1 } else { len };
            let bytes = tcp_frame(
                &self.tuple(),
                self.seq_of(after),
                ACK,
                ack,
                65535,
                &Opts::None,
                &[0x5A; 40],
            );
            ev.push(frame(format!("{} data after the end", self.name), bytes));
        }
        if rng.gen_bool(0.06) {
            ev.push(self.ctl(self.irs, SYN, 0, &Opts::None, "SYN after the end"));
        }
        // Deleted mid-stream, sometimes added again and reopened.
        if ev.len() > syn_end + 1 && rng.gen_bool(0.12) {
            let at = rng.gen_range(syn_end..ev.len());
            let rest: Vec<Step> = ev.split_off(at);
            ev.push(Step::DelSocket {
                sock: self.p.sock_ref,
            });
            ev.extend(
                rest.into_iter()
                    .filter(|s| matches!(s, Step::Frame(_)))
                    .take(2),
            );
            if rng.gen_bool(0.4) {
                ev.push(Step::AddSocket(self.p));
                // A new connection: the NIC's send stream starts again.
                self.snd_posted = 0;
                self.snd_acked = 0;
                self.snd_acked_data = 0;
                self.snd_closed = false;
                self.irs = rng.gen();
                let bytes = tcp_frame(&self.tuple(), self.irs, SYN, 0, 64240, &opts, &[]);
                ev.push(frame(format!("{} SYN after re-add", self.name), bytes));
                let ack = self.ack_no();
                ev.push(self.ctl(self.seq_of(0), ACK, ack, &Opts::None, "handshake ACK"));
                let m = len.min(self.seg_max);
                if m > 0 {
                    ev.push(self.data(0, m, PSH, "data after re-add"));
                }
            }
        }
        ev
    }
}
