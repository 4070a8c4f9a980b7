//! Listening sockets in generated cases (docs/tcp-receive.md, "Listening sockets"): a listen
//! slot (after refused SOCK_LISTENs, sometimes a duplicate and an UNLISTEN of a slot that does
//! not listen), the accept pool (SOCK_POOL, refused ones too), HALF_OPEN_MAX, a wave of SYNs
//! from many clients (pool exhaustion and HALF_OPEN_MAX give LISTEN_FULL), each client then
//! completing its handshake and uploading into named buffers posted after its ACCEPT,
//! resetting its half-open connection, or going silent until the SYN-ACK retries run out;
//! sometimes an abort and a SOCK_DEL of a half-open socket (its slot predicted from the pool's
//! order); deletes of the accepted sockets with their slots pooled again, a second wave on the
//! re-pooled slots, and UNLISTEN.
//!
//! The generator is open-loop: it does not know which slot a SYN takes (or whether it gets
//! one); host steps name an accepted connection by its peer ([`Step::AcceptedNb`],
//! [`Step::AcceptedDel`]) and the host resolves it from the ACCEPT completions it saw.

use super::*;
use buflet_spec::ListenDesc;

/// How a listen client's connection goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Handshake, data into named buffers, maybe FIN.
    Complete,
    /// An RST in SYN_RCVD (sometimes after one out of window).
    Reset,
    /// No answer to the SYN-ACK: its retries run out (ACCEPT TIMEOUT).
    Silent,
}

/// A client of the listen slot, as a [`Conn`] whose `p` describes the socket an accept makes
/// (ISS = the listen's ISS + the folded hash of the 4-tuple).
fn client(rng: &mut ChaCha8Rng, l: &ListenDesc, i: usize, cfg: &GenConfig) -> Conn {
    let remote_ip = Ipv4Addr::new(10, 3, i as u8, rng.gen_range(1..255u8));
    let remote_port = rng.gen_range(1024..65535u16);
    let x = buflet_model::hash_x(
        u32::from(remote_ip),
        u32::from(l.local_ip),
        remote_port,
        l.local_port,
    );
    let p = SockParams {
        opcode: Opcode::SockAdd,
        sock_ref: 0,
        local_mac: l.local_mac,
        remote_mac: [0x02, 0, 0, 0, 0x30, i as u8],
        vlan: l.vlan,
        proto: TCP,
        local_ip: l.local_ip,
        remote_ip,
        local_port: l.local_port,
        remote_port,
        iss: l.iss.wrapping_add(x),
        rcv_buf: l.rcv_buf,
        mss: l.mss,
        rcv_wscale: l.rcv_wscale,
        flags: l.flags | SockFlags::ACCEPTED,
        ..Default::default()
    };
    let len = if rng.gen_bool(0.15) {
        0
    } else {
        rng.gen_range(1..=(cfg.max_stream / 2).max(1))
    };
    Conn {
        name: format!("L{i}"),
        p,
        irs: rng.gen(),
        stream: crate::frames::payload(rng.gen(), len),
        seg_max: rng.gen_range(200..=1460),
        ts: rng.gen_bool(0.3),
        stress: false,
        tx: false,
        active: false,
        snd_posted: 0,
        snd_acked: 0,
        snd_acked_data: 0,
        snd_closed: false,
        win: 65535,
        tx_pages: 0,
        dev_posts: false,
    }
}

fn peer(c: &Conn) -> ([u8; 4], u16) {
    (c.p.remote_ip.octets(), c.p.remote_port)
}

/// The SYN of client `c` (window scale offered most of the time).
fn syn(rng: &mut ChaCha8Rng, c: &Conn) -> Step {
    let opts = if rng.gen_bool(0.8) {
        Opts::List(vec![
            TcpOptionElement::MaximumSegmentSize(rng.gen_range(536..=8960)),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(rng.gen_range(0..=14)),
        ])
    } else {
        Opts::None
    };
    let bytes = tcp_frame(&c.tuple(), c.irs, SYN, 0, 64240, &opts, &[]);
    frame(format!("{} SYN to the listen", c.name), bytes)
}

/// The steps of a completing client after the SYN wave: the handshake ACK (maybe with the
/// first segment), a named buffer for its stream posted after the ACCEPT, the rest of the
/// stream (sometimes a segment twice), maybe FIN.
fn complete(rng: &mut ChaCha8Rng, c: &Conn, ev: &mut Vec<Step>) {
    let (ip, port) = peer(c);
    let len = c.stream.len();
    let mut off = 0;
    if len > 0 && rng.gen_bool(0.4) {
        let n = c.seg_max.min(len);
        ev.push(c.data(0, n, 0, "handshake ACK with data"));
        off = n;
    } else {
        ev.push(c.ctl(c.seq_of(0), ACK, c.ack_no(), &Opts::None, "handshake ACK"));
    }
    let pages = (len as u32 / PAGE + 1).min(MAX_NB_PAGES);
    ev.push(Step::AcceptedNb {
        peer_ip: ip,
        peer_port: port,
        pages,
    });
    while off < len {
        let n = c.seg_max.min(len - off);
        let psh = if off + n == len { PSH } else { 0 };
        ev.push(c.data(off, n, psh, "data"));
        if rng.gen_bool(0.08) {
            ev.push(c.data(off, n, psh, "data again"));
        }
        off += n;
    }
    if len as u32 > MAX_NB_PAGES * PAGE {
        // More than one buffer holds: a second one for the rest.
        ev.push(Step::AcceptedNb {
            peer_ip: ip,
            peer_port: port,
            pages: MAX_NB_PAGES,
        });
    }
    if rng.gen_bool(0.7) {
        ev.push(c.ctl(c.seq_of(len), FIN | ACK, c.ack_no(), &Opts::None, "FIN"));
    }
}

/// The listen scenario of a case: its steps, in order. `pool_refs` are socket slots no
/// connection of the case uses; `busy_ref` is one a connection uses (a refused SOCK_POOL).
pub(super) fn listen_events(
    rng: &mut ChaCha8Rng,
    cfg: &GenConfig,
    pool_refs: &[u16],
    busy_ref: u16,
) -> Vec<Step> {
    let mut ev = Vec::new();
    let slot = rng.gen_range(0..param::DEF_NUM_LISTEN as u16);
    let l = ListenDesc {
        opcode: Opcode::SockListen,
        flags: if rng.gen_bool(0.3) {
            SockFlags::PSH_RETURN
        } else {
            SockFlags::empty()
        },
        slot,
        local_mac: NIC_MAC,
        // The ignored fields carry junk now and then.
        rsvd0: if rng.gen_bool(0.3) { rng.gen() } else { [0; 6] },
        vlan: if rng.gen_bool(0.2) {
            rng.gen_range(1..4095)
        } else {
            0
        },
        proto: TCP,
        rsvd1: if rng.gen_bool(0.3) { rng.gen() } else { 0 },
        local_ip: Ipv4Addr::new(10, 0, 0, 2 + rng.gen_range(0..2u8)),
        rsvd2: if rng.gen_bool(0.3) { rng.gen() } else { 0 },
        local_port: *[21u16, 445, 2049, rng.gen_range(7000..9000)]
            .choose(rng)
            .unwrap_or(&2049),
        iss: rng.gen(),
        rcv_buf: match rng.gen_range(0..100) {
            0..=14 => rng.gen_range(1..4000),
            15..=59 => rng.gen_range(8_000..65_536),
            _ => rng.gen_range(128 * 1024..=1 << 20),
        },
        mss: rng.gen_range(536..=8960),
        rcv_wscale: rng.gen_range(0..=14),
        ..Default::default()
    };
    // Accepted sockets with delayed ACKs on half the slots, chosen by the random ISS (the
    // generator's stream stays what it was).
    let mut l = l;
    if l.iss.is_multiple_of(2) {
        l.flags |= SockFlags::DELAYED_ACK;
    }
    // Refused SOCK_LISTENs.
    for _ in 0..rng.gen_range(0..=2) {
        let mut b = l;
        match rng.gen_range(0..7) {
            0 => b.slot = param::DEF_NUM_LISTEN as u16 + rng.gen_range(0..300),
            1 => b.proto = UDP,
            2 => b.rcv_buf = 0,
            3 => b.rcv_buf = (1 << 30) + 1,
            4 => b.rcv_wscale = rng.gen_range(15..=255),
            5 => b.flags = SockFlags::CONNECT,
            _ => b.flags = SockFlags::ACCEPTED | SockFlags::PSH_RETURN,
        }
        ev.push(Step::Listen(b));
    }
    let m = rng.gen_range(2..=10usize);
    let mut clients: Vec<(Conn, Fate)> = (0..m)
        .map(|i| {
            let fate = match rng.gen_range(0..100) {
                0..=64 => Fate::Complete,
                65..=82 => Fate::Reset,
                _ => Fate::Silent,
            };
            (client(rng, &l, i, cfg), fate)
        })
        .collect();
    // A SYN before the listen: no socket, no listen (the anonymous path).
    if rng.gen_bool(0.2) {
        ev.push(syn(rng, &clients[0].0));
    }
    ev.push(Step::Listen(l));
    if rng.gen_bool(0.3) {
        ev.push(Step::Listen(l)); // listening already: BAD_SOCK
    }
    if rng.gen_bool(0.3) {
        ev.push(Step::Unlisten {
            slot: (slot + 1 + rng.gen_range(0..7)) % param::DEF_NUM_LISTEN as u16,
        });
    }
    // A SYN while the pool is empty: LISTEN_FULL.
    if rng.gen_bool(0.5) {
        ev.push(syn(rng, &clients[m - 1].0));
    }
    if rng.gen_bool(0.4) {
        ev.push(Step::HalfOpenMax {
            n: rng.gen_range(1..=6),
        });
    }
    let k = rng.gen_range(1..=pool_refs.len().clamp(1, 8));
    for &s in &pool_refs[..k.min(pool_refs.len())] {
        ev.push(Step::Pool { sock: s });
    }
    if rng.gen_bool(0.4) {
        let bad = match rng.gen_range(0..3) {
            0 => busy_ref,
            1 => param::DEF_NUM_SOCKETS as u16 + rng.gen_range(0..1000),
            _ => pool_refs[0],
        };
        ev.push(Step::Pool { sock: bad });
    }
    if clients.iter().any(|(_, f)| *f == Fate::Silent) {
        // SYN-ACK retries that run out within the case.
        let rto_max = rng.gen_range(1..=4);
        ev.push(Step::TxPolicy {
            rto_init: rng.gen_range(1..=rto_max),
            rto_min: 1,
            rto_max,
            retries: rng.gen_range(1..=3),
        });
    }
    // The wave: every client's SYN (some twice), then each one's way on, interleaved.
    for (c, _) in &clients {
        let s = syn(rng, c);
        ev.push(s.clone());
        if rng.gen_bool(0.12) {
            ev.push(s);
        }
    }
    // The pool is a FIFO: the first client's SYN took the first pooled slot, the second's
    // the second (unless the prediction fails: then these requests meet whatever the slot
    // holds, as deterministically). An abort in SYN_RCVD (RST, ACCEPT RESET before the
    // CMD_DONE) and a SOCK_DEL in SYN_RCVD (no ACCEPT); the clients' later frames then find a
    // CLOSED socket or none.
    if k >= 1 && rng.gen_bool(0.3) {
        ev.push(Step::SockAbort { sock: pool_refs[0] });
    }
    if k >= 2 && m >= 2 && rng.gen_bool(0.3) {
        ev.push(Step::DelSocket { sock: pool_refs[1] });
    }
    let mut follow: Vec<Vec<Step>> = Vec::new();
    for (c, fate) in &clients {
        let mut v = Vec::new();
        match fate {
            Fate::Complete => complete(rng, c, &mut v),
            Fate::Reset => {
                if rng.gen_bool(0.3) {
                    v.push(c.ctl(c.seq_of(7), RST, 0, &Opts::None, "RST off RCV_NXT"));
                }
                v.push(c.ctl(c.seq_of(0), RST, 0, &Opts::None, "RST in SYN_RCVD"));
            }
            Fate::Silent => {}
        }
        follow.push(v);
    }
    while follow.iter().any(|v| !v.is_empty()) {
        let live: Vec<usize> = (0..follow.len())
            .filter(|&i| !follow[i].is_empty())
            .collect();
        let i = *live.choose(rng).unwrap_or(&0);
        ev.push(follow[i].remove(0));
    }
    if clients.iter().any(|(_, f)| *f == Fate::Silent) {
        ev.push(Step::TimerTicks {
            period: 1500,
            ticks: 30,
        });
    }
    // Deletes, and the slots back to the pool.
    clients.shuffle(rng);
    for (c, _) in &clients {
        if rng.gen_bool(0.85) {
            let (ip, port) = peer(c);
            ev.push(Step::AcceptedDel {
                peer_ip: ip,
                peer_port: port,
                repool: rng.gen_bool(0.8),
            });
        }
    }
    // A second wave on the re-pooled slots.
    for i in 0..rng.gen_range(0..=3usize) {
        let c = client(rng, &l, m + i, cfg);
        ev.push(syn(rng, &c));
        complete(rng, &c, &mut ev);
    }
    if rng.gen_bool(0.6) {
        ev.push(Step::Unlisten { slot });
        let c = client(rng, &l, m + 10, cfg);
        ev.push(syn(rng, &c));
    }
    ev
}
