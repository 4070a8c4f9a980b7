//! The send side of a generated connection (docs/tcp-transmit.md): TX_POSTs (some refused),
//! the peer's ACKs of the NIC's send stream (advancing, duplicated, beyond what was sent),
//! windows that vary down to 0, timer ticks for retransmission timeouts, probes and the
//! TX_RETRIES reset, SOCK_CLOSE, and the active open (SOCK_ADD with CONNECT, the peer's
//! SYN-ACK, sometimes refused or wrong).
//!
//! The peer does not see the NIC's frames, so what it acknowledges is a guess: an ACK advances
//! by at most what the NIC must have sent by then if the earlier ACKs were right (one segment of
//! the smallest MSS the connection may use, within the window the peer last advertised). A
//! guess beyond SND.MAX is an ACK of data never sent (BAD_ACK: dropped, answered with an ACK);
//! both backends must agree on that as on everything else.

use super::*;

/// Most bytes of a DEVMEM post (8 host buflets of the default size).
const DEV_POST_MAX: u32 = 8 * param::DEF_BUFLET_BYTES as u32;

/// The smallest MSS the NIC may use towards this peer: ours, the peer's (the SYN's option),
/// and 536 (a SYN without the option).
fn mss_lb(c: &Conn) -> u64 {
    (c.seg_max as u64).min(u64::from(c.p.mss)).clamp(1, 536)
}

impl Conn {
    /// A pure ACK from the peer at stream offset `seq_off` of its own stream, with the current
    /// ACK and window.
    pub(super) fn peer_ack(&self, seq_off: usize, what: &str) -> Step {
        let ack = self.ack_no();
        self.ctl(
            self.seq_of(seq_off),
            ACK,
            ack,
            &Opts::None,
            &format!("{what} ack +{} win {}", self.snd_acked, self.win),
        )
    }

    /// A TX_POST of fresh bytes on this connection (nothing when its pages are used up or the
    /// connection was closed: a post after SOCK_CLOSE is made by [`Conn::tx_bad_post`]).
    pub(super) fn tx_post_step(&mut self, rng: &mut ChaCha8Rng, ev: &mut Vec<Step>) {
        if self.snd_closed {
            return;
        }
        let bytes: u32 = match rng.gen_range(0..100) {
            0..=19 => rng.gen_range(1..=100),
            20..=59 => rng.gen_range(101..=3000),
            _ => rng.gen_range(3001..=16_000),
        };
        let first_off: u16 = if rng.gen_bool(0.5) {
            0
        } else {
            rng.gen_range(1..PAGE as u16)
        };
        // p2p: host buflets of the posts' region (at most 8 of them), not send-pool pages.
        let dev = self.dev_posts && rng.gen_bool(0.35);
        let bytes = if dev {
            bytes.min(DEV_POST_MAX - u32::from(first_off) % param::DEF_BUFLET_BYTES as u32)
        } else {
            bytes
        };
        let pages = (u64::from(first_off) + u64::from(bytes)).div_ceil(PAGE as u64);
        if !dev {
            if pages > self.tx_pages {
                return;
            }
            self.tx_pages -= pages;
        }
        self.snd_posted += u64::from(bytes);
        ev.push(Step::TxPost(TxPost {
            sock: self.p.sock_ref,
            bytes,
            psh: rng.gen_bool(0.5),
            first_off,
            seed: rng.gen(),
            scatter: rng.gen_bool(0.3),
            bad: None,
            dev,
            head: Vec::new(),
        }));
    }

    /// A refused TX_POST: broken fields, or after SOCK_CLOSE (BAD_SOCK).
    pub(super) fn tx_bad_post(&mut self, rng: &mut ChaCha8Rng, ev: &mut Vec<Step>) {
        if self.tx_pages < 2 {
            return;
        }
        self.tx_pages -= 2;
        let bad = [
            TxBad::ZeroLen,
            TxBad::FirstOffPastPage,
            TxBad::ShortList,
            TxBad::Devmem,
            TxBad::HugeLen,
        ]
        .choose(rng)
        .copied();
        ev.push(Step::TxPost(TxPost {
            sock: self.p.sock_ref,
            bytes: rng.gen_range(1..=3000),
            psh: rng.gen_bool(0.5),
            first_off: if bad == Some(TxBad::FirstOffPastPage) {
                rng.gen_range(PAGE as u16..=u16::MAX)
            } else {
                rng.gen_range(0..PAGE as u16)
            },
            seed: rng.gen(),
            scatter: false,
            bad: if self.snd_closed && rng.gen_bool(0.5) {
                None // a valid post on a closed socket: BAD_SOCK
            } else {
                bad
            },
            dev: false,
            head: Vec::new(),
        }));
    }

    /// Advance the peer's ACK by up to what the NIC must have sent (see the module doc).
    fn tx_advance(&mut self, rng: &mut ChaCha8Rng) -> bool {
        let queued = self.snd_posted - self.snd_acked;
        let room = queued.min(u64::from(self.win)).min(2 * mss_lb(self));
        if room == 0 {
            return false;
        }
        self.snd_acked_data = self.snd_acked;
        self.snd_acked += rng.gen_range(1..=room);
        true
    }

    /// Timer ticks: a few kicks, or a run of periodic ticks.
    pub(super) fn tx_timer(&self, rng: &mut ChaCha8Rng, ev: &mut Vec<Step>) {
        if rng.gen_bool(0.6) {
            for _ in 0..rng.gen_range(1..=3) {
                ev.push(Step::TimerKick);
            }
        } else {
            ev.push(Step::TimerTicks {
                period: rng.gen_range(3_000..=8_000),
                ticks: rng.gen_range(2..=10),
            });
        }
    }

    /// One send-side action, with the peer at offset `seq_off` of its own stream.
    pub(super) fn tx_round(&mut self, rng: &mut ChaCha8Rng, ev: &mut Vec<Step>, seq_off: usize) {
        match rng.gen_range(0..100) {
            0..=27 => self.tx_post_step(rng, ev),
            28..=51 => {
                // The ACK advances; half the time it rides on the peer's next data segment.
                if self.tx_advance(rng) && rng.gen_bool(0.5) {
                    ev.push(self.peer_ack(seq_off, "ACK"));
                    if rng.gen_bool(0.3) {
                        // Right after an ACK the guess is most likely SND.UNA exactly: duplicates
                        // of it start fast retransmit.
                        for k in 0..3 {
                            ev.push(self.peer_ack(seq_off, &format!("duplicate ACK {}/3", k + 1)));
                        }
                    }
                }
            }
            52..=55 => {
                // Fast retransmit for certain: the window opens, a post of several segments
                // goes out at once, the peer acknowledges its first byte and then repeats that
                // ACK three times (data in flight, the window unchanged).
                self.win = 65535;
                ev.push(self.peer_ack(seq_off, "window update"));
                let before = self.snd_posted;
                self.tx_post_step(rng, ev);
                if self.snd_posted > before && self.snd_posted - self.snd_acked > 2 * mss_lb(self) {
                    self.snd_acked_data = self.snd_acked;
                    self.snd_acked += 1;
                    ev.push(self.peer_ack(seq_off, "ACK"));
                    for k in 0..3 {
                        ev.push(self.peer_ack(seq_off, &format!("duplicate ACK {}/3", k + 1)));
                    }
                }
            }
            56..=58 => {
                // Duplicate ACKs: the third starts fast retransmit when data is in flight.
                let n = rng.gen_range(3..=4);
                for k in 0..n {
                    ev.push(self.peer_ack(seq_off, &format!("duplicate ACK {}/{n}", k + 1)));
                }
            }
            59..=67 => {
                self.win = match rng.gen_range(0..6) {
                    0 | 1 => 0,
                    2 => rng.gen_range(1..=200),
                    3 => rng.gen_range(536..=3000),
                    4 => rng.gen_range(3001..=20_000),
                    _ => 65535,
                };
                ev.push(self.peer_ack(seq_off, "window update"));
                if self.win == 0 {
                    // The persist timer probes the closed window.
                    ev.push(Step::TimerTicks {
                        period: rng.gen_range(3_000..=8_000),
                        ticks: rng.gen_range(4..=16),
                    });
                }
            }
            68..=71 => {
                // An ACK of data never sent (beyond every byte posted): BAD_ACK.
                let beyond = self.snd_posted - self.snd_acked + 1 + rng.gen_range(0..3000);
                let ack = self.ack_no().wrapping_add(beyond as u32);
                ev.push(self.ctl(
                    self.seq_of(seq_off),
                    ACK,
                    ack,
                    &Opts::None,
                    &format!("ACK of unsent data +{}", self.snd_acked + beyond),
                ));
            }
            72..=87 => self.tx_timer(rng, ev),
            88..=91 => self.tx_bad_post(rng, ev),
            _ => {
                // The window opens again and the ACK catches up.
                self.win = 65535;
                for _ in 0..rng.gen_range(1..=4) {
                    if !self.tx_advance(rng) {
                        break;
                    }
                    ev.push(self.peer_ack(seq_off, "ACK"));
                }
            }
        }
    }

    /// After the peer's stream (`len` bytes): more rounds, then mostly the ACKs of what was
    /// posted (and of our FIN after a SOCK_CLOSE), so posts complete with TX_DONE.
    pub(super) fn tx_tail(&mut self, rng: &mut ChaCha8Rng, ev: &mut Vec<Step>, len: usize) {
        for _ in 0..rng.gen_range(2..=10) {
            self.tx_round(rng, ev, len);
        }
        if rng.gen_bool(0.12) {
            // An abort with posts (and perhaps a close) in flight: the rest of the peer's
            // steps meet a CLOSED socket.
            if rng.gen_bool(0.4) {
                ev.push(Step::SockClose {
                    sock: self.p.sock_ref,
                });
            }
            ev.push(Step::SockAbort {
                sock: self.p.sock_ref,
            });
            self.snd_closed = true;
        } else if rng.gen_bool(0.4) {
            ev.push(Step::SockClose {
                sock: self.p.sock_ref,
            });
            self.snd_closed = true;
            if rng.gen_bool(0.3) {
                self.tx_bad_post(rng, ev);
            }
            if rng.gen_bool(0.2) {
                ev.push(Step::SockClose {
                    sock: self.p.sock_ref,
                }); // closed twice: BAD_SOCK
            }
        }
        if rng.gen_bool(0.75) {
            self.win = 65535;
            for _ in 0..16 {
                if !self.tx_advance(rng) {
                    break;
                }
                ev.push(self.peer_ack(len, "ACK"));
                if rng.gen_bool(0.1) {
                    self.tx_timer(rng, ev);
                }
            }
            if self.snd_closed && self.snd_acked == self.snd_posted && rng.gen_bool(0.7) {
                // The FIN's acknowledgment completes the SOCK_CLOSE.
                self.snd_acked += 1;
                ev.push(self.peer_ack(len, "ACK of our FIN"));
            }
        }
        if !ev.iter().any(|s| matches!(s, Step::PostNb(_))) && rng.gen_bool(0.7) {
            // The socket's first named buffer, with a TIMEOUT: at the head of its list, and
            // nothing fills it any more, so the ticks below (or later ones) return it with
            // TIMEOUT.
            ev.push(Step::PostNb(NbPost {
                sock: self.p.sock_ref,
                slot: NbSlot::Free,
                pages: 1,
                total_bytes: PAGE,
                list: PageList::Good,
                timeout: rng.gen_range(1..=2),
            }));
            self.tx_timer(rng, ev);
        }
        if rng.gen_bool(0.25) {
            // Silence: the retransmissions run out (TX_RETRIES) and the posts come back with
            // TIMEOUT after an RST.
            ev.push(Step::TimerTicks {
                period: rng.gen_range(3_000..=8_000),
                ticks: rng.gen_range(16..=48),
            });
        }
    }

    /// The active open's steps up to the established connection: SOCK_ADD with CONNECT (the
    /// NIC sends a SYN), sometimes SYN retransmissions (ticks) and odd answers, then the peer's
    /// SYN-ACK acknowledging ISS + 1 (sometimes an RST refuses the connection instead).
    pub(super) fn active_open(&mut self, rng: &mut ChaCha8Rng, opts: &Opts, ev: &mut Vec<Step>) {
        let iss1 = self.p.iss.wrapping_add(1);
        if rng.gen_bool(0.25) {
            self.tx_timer(rng, ev);
        }
        if rng.gen_bool(0.06) {
            // The SYN retries run out: CMD_DONE TIMEOUT; what follows meets a closed socket.
            ev.push(Step::TimerTicks {
                period: rng.gen_range(3_000..=8_000),
                ticks: rng.gen_range(16..=48),
            });
        }
        if rng.gen_bool(0.3) {
            let bad = iss1.wrapping_add(*[1u32, u32::MAX, 5000].choose(rng).unwrap_or(&1));
            let b = tcp_frame(&self.tuple(), self.irs, SYN | ACK, bad, self.win, opts, &[]);
            ev.push(frame(
                format!("{} SYN-ACK with a wrong ACK (RST, BAD_ACK)", self.name),
                b,
            ));
        }
        if rng.gen_bool(0.05) {
            ev.push(self.ctl(self.irs, RST, 0, &Opts::None, "RST without ACK in SYN_SENT"));
        }
        if rng.gen_bool(0.05) {
            let b = tcp_frame(&self.tuple(), self.irs, SYN, 0, self.win, opts, &[]);
            ev.push(frame(
                format!("{} SYN in SYN_SENT (simultaneous open)", self.name),
                b,
            ));
        }
        if rng.gen_bool(0.08) {
            ev.push(self.ctl(
                self.irs,
                RST | ACK,
                iss1,
                &Opts::None,
                "RST refusing the open",
            ));
        }
        let b = tcp_frame(
            &self.tuple(),
            self.irs,
            SYN | ACK,
            iss1,
            self.win,
            opts,
            &[],
        );
        let synack = frame(format!("{} SYN-ACK {opts:?}", self.name), b);
        ev.push(synack.clone());
        if rng.gen_bool(0.1) {
            ev.push(synack);
        }
    }
}
