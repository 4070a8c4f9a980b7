//! Listening sockets (docs/tcp-receive.md, "Listening sockets") end to end through the host
//! driver, on both backends: a listen slot and the accept pool, many clients connecting and
//! uploading (ACCEPT OK with the right peer, data landing in named buffers posted after the
//! ACCEPT, checked by sha256), LISTEN_FULL on an empty pool and at HALF_OPEN_MAX, a half-open
//! connection reset and another timed out (ACCEPT RESET / TIMEOUT, HALF_OPEN back to 0, the
//! slots deleted and pooled again), unlisten, and a SYN flood from spoofed ports during an
//! upload on an accepted connection. Frames are built and parsed with etherparse.

mod common;

use std::collections::BTreeMap;

use buflet_driver::{Accepted, Completion, CplKind, Driver, ListenSpec, NamedBuffer};
use buflet_platform::WirePort;
use buflet_spec::{reg, CplFlags, SockFlags, Status};
use buflet_testbench::{sha256_hex, Backend, Bench};
use etherparse::{PacketBuilder, PacketHeaders, TcpOptionElement, TransportHeader};

const NIC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const NIC_IP: [u8; 4] = [10, 0, 0, 2];
const PORT: u16 = 2049;
const MSS: usize = 1448;

fn rig(backend: Backend, name: &str) -> Bench {
    Bench::builder(backend)
        .width(64)
        .mem(64 << 20)
        .name(&format!("listen-{name}"))
        .build()
        .unwrap()
}

fn listen_spec() -> ListenSpec {
    ListenSpec {
        local_mac: NIC_MAC,
        vlan: 0,
        local_ip: NIC_IP,
        local_port: PORT,
        iss: 0x4000_0000,
        rcv_buf: 1 << 20,
        mss: 1460,
        rcv_wscale: 7,
        flags: SockFlags::empty(),
    }
}

/// A client: its address, port and the sequence numbers of both directions.
#[derive(Debug, Clone, Copy)]
struct Client {
    ip: [u8; 4],
    port: u16,
    isn: u32,
    /// The NIC's ISS, from its SYN-ACK.
    iss: u32,
}

impl Client {
    fn new(i: u32) -> Client {
        Client {
            ip: [10, 1, (i >> 8) as u8, i as u8],
            port: 30_000 + (i * 7919 % 30_000) as u16,
            isn: 0x1000_0000u32.wrapping_mul(i + 1),
            iss: 0,
        }
    }

    fn mac(&self) -> [u8; 6] {
        [0x02, 0x10, self.ip[0], self.ip[1], self.ip[2], self.ip[3]]
    }

    fn syn(&self) -> Vec<u8> {
        let b = PacketBuilder::ethernet2(self.mac(), NIC_MAC)
            .ipv4(self.ip, NIC_IP, 64)
            .tcp(self.port, PORT, self.isn, 64240)
            .syn()
            .options(&[
                TcpOptionElement::MaximumSegmentSize(MSS as u16),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ])
            .unwrap();
        let mut v = Vec::new();
        b.write(&mut v, &[]).unwrap();
        v
    }

    /// A segment carrying stream bytes from offset `off` (ACK set), with FIN or RST.
    fn seg(&self, off: u32, payload: &[u8], fin: bool, rst: bool) -> Vec<u8> {
        let seq = self.isn.wrapping_add(1).wrapping_add(off);
        let mut b = PacketBuilder::ethernet2(self.mac(), NIC_MAC)
            .ipv4(self.ip, NIC_IP, 64)
            .tcp(self.port, PORT, seq, 8192);
        if rst {
            b = b.rst();
        } else {
            b = b.ack(self.iss.wrapping_add(1));
        }
        if fin {
            b = b.fin();
        }
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }
}

/// A frame the NIC sent: (destination IP, destination port, SEQ, ACK, SYN, window field).
fn parse_tx(f: &[u8]) -> ([u8; 4], u16, u32, u32, bool, u16) {
    let h = PacketHeaders::from_ethernet_slice(f).expect("transmitted frame parses");
    let Some(etherparse::NetHeaders::Ipv4(ip, _)) = h.net else {
        panic!("not IPv4")
    };
    let Some(TransportHeader::Tcp(t)) = h.transport else {
        panic!("not TCP")
    };
    assert_eq!(&f[6..12], &NIC_MAC, "source MAC");
    assert_eq!(ip.source, NIC_IP);
    (
        ip.destination,
        t.destination_port,
        t.sequence_number,
        t.acknowledgment_number,
        t.syn,
        t.window_size,
    )
}

/// Run until the device took every frame, then a little longer: completions and sent frames.
fn settle(drv: &mut Driver, wire: &WirePort) -> (Vec<Completion>, Vec<Vec<u8>>) {
    let mut cpls = Vec::new();
    let mut tx = Vec::new();
    for _ in 0..100_000 {
        cpls.extend(drv.wait(1000).unwrap());
        while let Some(f) = wire.recv() {
            tx.push(f);
        }
        if wire.pending() == 0 {
            break;
        }
    }
    for _ in 0..30 {
        drv.run(1000);
        cpls.extend(drv.completions().unwrap());
        while let Some(f) = wire.recv() {
            tx.push(f);
        }
    }
    (cpls, tx)
}

/// Send the SYNs of `clients` and learn each one's ISS from its SYN-ACK (checked: to the
/// client's MAC, IP and port, ACK = ISN + 1). Returns other completions seen.
fn connect(drv: &mut Driver, wire: &WirePort, clients: &mut [Client]) -> Vec<Completion> {
    for c in clients.iter() {
        wire.send(c.syn());
    }
    let (cpls, tx) = settle(drv, wire);
    assert_eq!(tx.len(), clients.len(), "one SYN-ACK per client");
    for f in &tx {
        let (ip, port, seq, ack, syn, _) = parse_tx(f);
        assert!(syn);
        let c = clients
            .iter_mut()
            .find(|c| c.ip == ip && c.port == port)
            .expect("a SYN-ACK to a client");
        assert_eq!(&f[..6], &c.mac(), "to the SYN's source MAC");
        assert_eq!(ack, c.isn.wrapping_add(1));
        c.iss = seq;
    }
    cpls
}

fn stream(seed: u32, len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed as u8)
        .collect()
}

/// Take the ACCEPT completions of `cpls` through the driver: (accepted, other completions).
fn accepts(drv: &mut Driver, cpls: Vec<Completion>) -> (Vec<Accepted>, Vec<Completion>) {
    let mut acc = Vec::new();
    let mut rest = Vec::new();
    for c in cpls {
        match drv.accepted(&c).unwrap() {
            Some((a, others)) => {
                acc.push(a);
                rest.extend(others);
            }
            None => rest.push(c),
        }
    }
    (acc, rest)
}

/// Many clients connect to one listen slot and each uploads a stream then FIN: ACCEPT OK with
/// the right peer for each, the data waits for named buffers posted after the ACCEPT and lands
/// byte-exact; the sockets are deleted and pooled again; after UNLISTEN a SYN finds no socket.
fn many_clients(backend: Backend) {
    let mut r = rig(backend, "many");
    let Bench { drv, wire, .. } = &mut r;
    let (slot, early) = drv.listen(&listen_spec()).unwrap();
    assert!(early.is_empty());
    assert_eq!(drv.pool_sockets(10).unwrap(), 10);
    let (cs, _) = settle(drv, wire);
    assert!(cs.is_empty(), "SOCK_POOL has no completion: {cs:?}");
    assert_eq!(drv.rd(reg::ACCEPT_POOL), 10);
    let n = 8u32;
    let mut clients: Vec<Client> = (0..n).map(Client::new).collect();
    assert!(connect(drv, wire, &mut clients).is_empty());
    assert_eq!(drv.rd(reg::HALF_OPEN), n);
    // The handshake ACK carries the first segment; then the rest of the stream and FIN.
    let len = 10_000usize;
    let streams: Vec<Vec<u8>> = (0..n).map(|i| stream(i + 1, len)).collect();
    for (c, s) in clients.iter().zip(&streams) {
        let mut off = 0;
        while off < len {
            let end = (off + MSS).min(len);
            wire.send(c.seg(off as u32, &s[off..end], end == len, false));
            off = end;
        }
    }
    let (cpls, tx) = settle(drv, wire);
    assert!(tx.iter().all(|f| !parse_tx(f).4), "only ACKs now");
    let (acc, rest) = accepts(drv, cpls);
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(acc.len(), n as usize);
    assert_eq!(drv.rd(reg::HALF_OPEN), 0);
    assert_eq!(drv.rd(reg::CNT_ACCEPTS), n);
    assert_eq!(drv.rd(reg::ACCEPT_POOL), 10 - n);
    let mut by_sock = BTreeMap::new();
    for a in &acc {
        assert_eq!((a.status, a.slot), (Status::Ok, slot));
        let i = clients
            .iter()
            .position(|c| c.ip == a.peer_ip && c.port == a.peer_port)
            .unwrap_or_else(|| panic!("ACCEPT of an unknown peer {}", a.peer()));
        assert!(by_sock.insert(a.sock, i).is_none());
    }
    // Named buffers after the ACCEPTs: each gets its stream and FIN.
    let mut nbs: BTreeMap<u16, NamedBuffer> = BTreeMap::new();
    for &s in by_sock.keys() {
        let nb = drv.alloc_nb(3).unwrap();
        drv.post_nb(s, &nb, 0).unwrap();
        nbs.insert(s, nb);
    }
    let (cpls, _) = settle(drv, wire);
    assert_eq!(cpls.len(), n as usize, "{cpls:?}");
    for c in &cpls {
        assert_eq!(c.kind, CplKind::NbReturn);
        assert!(c.flags.contains(CplFlags::FIN), "{c:?}");
        assert_eq!(c.bytes as usize, len);
        let got = drv.read_nb(&nbs[&c.sock_ref], len).unwrap();
        assert_eq!(sha256_hex(&got), sha256_hex(&streams[by_sock[&c.sock_ref]]));
    }
    // Delete every connection and give the slots back to the pool.
    for &s in by_sock.keys() {
        assert!(drv.del_socket(s).unwrap().is_empty());
    }
    assert_eq!(drv.pool_sockets(n as usize).unwrap(), n as usize);
    let _ = settle(drv, wire);
    assert_eq!(drv.rd(reg::ACCEPT_POOL), 10);
    // Lookups: every frame reached the lookup; each walk cost at least the bucket read, and a
    // client's back-to-back segments were forwarded without one.
    let looks = drv.rd(reg::CNT_LOOKUPS);
    let fwd = drv.rd(reg::CNT_LOOKUP_FWD);
    assert_eq!(looks, drv.rd(reg::CNT_RX_FRAMES));
    assert!(fwd > 0 && fwd < looks, "{fwd} of {looks} forwarded");
    assert!(drv.rd(reg::CNT_LOOKUP_CYCLES) >= looks - fwd);
    // Unlisten: a new SYN matches no socket and no listen.
    drv.unlisten(slot).unwrap();
    wire.send(Client::new(99).syn());
    let (cs, tx) = settle(drv, wire);
    assert!(cs.is_empty() && tx.is_empty(), "{cs:?}");
    assert_eq!(drv.counter(reg::CNT_DROP_NO_SOCKET), 1);
    assert_eq!(drv.rd(reg::ACCEPT_POOL), 10);
    common::assert_buflets_free(drv);
}

/// LISTEN_FULL with an empty pool and at HALF_OPEN_MAX; one half-open connection reset by its
/// peer (ACCEPT RESET), one whose SYN-ACK retries run out (ACCEPT TIMEOUT): HALF_OPEN back to
/// 0, the slots deleted by the driver and pooled again.
fn full_reset_timeout(backend: Backend) {
    let mut r = rig(backend, "full");
    let Bench { drv, wire, .. } = &mut r;
    let (slot, _) = drv.listen(&listen_spec()).unwrap();
    wire.send(Client::new(1).syn());
    let (cs, tx) = settle(drv, wire);
    assert!(cs.is_empty() && tx.is_empty(), "empty pool: no answer");
    assert_eq!(drv.counter(reg::CNT_DROP_LISTEN_FULL), 1);
    drv.wr(reg::HALF_OPEN_MAX, 2);
    assert_eq!(drv.rd(reg::HALF_OPEN_MAX), 2);
    // Short SYN-ACK timers (timer ticks come only from TIMER_KICK here).
    drv.set_rto(1, 1, 2);
    drv.wr(reg::TX_RETRIES, 2);
    drv.pool_sockets(4).unwrap();
    let _ = settle(drv, wire);
    let mut cl: Vec<Client> = (1..=3).map(Client::new).collect();
    for c in &cl {
        wire.send(c.syn());
    }
    let (cs, tx) = settle(drv, wire);
    assert!(cs.is_empty());
    assert_eq!(tx.len(), 2, "the third SYN is over HALF_OPEN_MAX");
    assert_eq!(drv.counter(reg::CNT_DROP_LISTEN_FULL), 2);
    assert_eq!((drv.rd(reg::HALF_OPEN), drv.rd(reg::ACCEPT_POOL)), (2, 2));
    for f in &tx {
        let (ip, port, seq, ..) = parse_tx(f);
        let c = cl
            .iter_mut()
            .find(|c| c.ip == ip && c.port == port)
            .unwrap();
        c.iss = seq;
    }
    // The first client resets its half-open connection.
    wire.send(cl[0].seg(0, &[], false, true));
    let (cs, _) = settle(drv, wire);
    let (acc, rest) = accepts(drv, cs);
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(acc.len(), 1);
    assert_eq!(
        (acc[0].status, acc[0].peer_ip, acc[0].peer_port, acc[0].slot),
        (Status::Reset, cl[0].ip, cl[0].port, slot)
    );
    assert_eq!(drv.rd(reg::HALF_OPEN), 1);
    // The second never answers its SYN-ACK: retransmitted, then TIMEOUT.
    let mut acc = Vec::new();
    let mut resent = 0;
    for _ in 0..12 {
        drv.timer_kick();
        let (cs, tx) = settle(drv, wire);
        resent += tx.len();
        acc.extend(accepts(drv, cs).0);
        if !acc.is_empty() {
            break;
        }
    }
    assert_eq!(resent, 2, "two SYN-ACK retransmissions");
    assert_eq!(acc.len(), 1);
    assert_eq!(
        (acc[0].status, acc[0].peer_ip, acc[0].peer_port),
        (Status::Timeout, cl[1].ip, cl[1].port)
    );
    assert_eq!(drv.rd(reg::HALF_OPEN), 0);
    assert_eq!(drv.rd(reg::CNT_ACCEPTS), 0);
    // Both slots were deleted by the driver: pool them again.
    assert_eq!(drv.pool_sockets(2).unwrap(), 2);
    let _ = settle(drv, wire);
    assert_eq!(drv.rd(reg::ACCEPT_POOL), 4);
    // The third client tries again and gets through.
    drv.set_rto(1000, 1000, 60000);
    let mut c3 = [cl[2]];
    assert!(connect(drv, wire, &mut c3).is_empty());
    wire.send(c3[0].seg(0, b"hello", false, false));
    let (cs, _) = settle(drv, wire);
    let (acc, _) = accepts(drv, cs);
    assert_eq!(acc.len(), 1);
    assert_eq!(acc[0].status, Status::Ok);
    let nb = drv.alloc_nb(1).unwrap();
    drv.post_nb(acc[0].sock, &nb, 0).unwrap();
    wire.send(c3[0].seg(5, b" world", true, false));
    let (cs, _) = settle(drv, wire);
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(
        drv.read_nb(&nb, cs[0].bytes as usize).unwrap(),
        b"hello world"
    );
    drv.del_socket(acc[0].sock).unwrap();
    common::assert_buflets_free(drv);
}

/// A SYN flood (thousands of SYNs from spoofed addresses and ports) while a client uploads on
/// an accepted connection: the upload lands byte-exact, the flood takes what the pool holds
/// and the rest is dropped LISTEN_FULL.
fn syn_flood(backend: Backend) {
    let mut r = rig(backend, "flood");
    let Bench { drv, wire, .. } = &mut r;
    drv.listen(&listen_spec()).unwrap();
    drv.pool_sockets(5).unwrap();
    let _ = settle(drv, wire);
    let mut cl = [Client::new(7)];
    connect(drv, wire, &mut cl);
    let c = cl[0];
    let total = 256 * 1024usize;
    let data = stream(42, total);
    wire.send(c.seg(0, &[], false, false));
    let (cs, _) = settle(drv, wire);
    let (acc, _) = accepts(drv, cs);
    assert_eq!(acc.len(), 1);
    let sock = acc[0].sock;
    // Four named buffers of 4 pages in flight; each one returned is read and posted again.
    let mut posted: BTreeMap<u32, NamedBuffer> = BTreeMap::new();
    for _ in 0..4 {
        let nb = drv.alloc_nb(4).unwrap();
        drv.post_nb(sock, &nb, 0).unwrap();
        posted.insert(nb.ref_num, nb);
    }
    let mut landed = vec![0u8; total];
    let mut landed_bytes = 0usize;
    let (mut acked, mut wnd) = (0usize, 65535usize);
    let mut spoof = 0u32;
    let mut rounds = 0;
    while acked < total || landed_bytes < total {
        rounds += 1;
        assert!(
            rounds < 2000,
            "upload stuck at {acked} acked, {landed_bytes} landed"
        );
        // Go-back-N from the last ACK, up to the window, with SYNs from spoofed peers between.
        let mut off = acked;
        let end = (acked + wnd).min(total);
        while off < end {
            let e = (off + MSS).min(end);
            wire.send(c.seg(off as u32, &data[off..e], false, false));
            off = e;
            for _ in 0..12 {
                spoof += 1;
                let mut s = Client::new(1000 + spoof);
                s.port = 1024 + (spoof % 60_000) as u16;
                s.ip[1] = 100 + (spoof >> 16) as u8;
                wire.send(s.syn());
            }
        }
        let (cs, tx) = settle(drv, wire);
        for f in &tx {
            let (ip, port, _, ack, syn, win) = parse_tx(f);
            if ip == c.ip && port == c.port && !syn {
                let a = ack.wrapping_sub(c.isn.wrapping_add(1)) as usize;
                acked = acked.max(a);
                wnd = (win as usize) << 7;
            }
        }
        for cpl in cs {
            assert_eq!(cpl.kind, CplKind::NbReturn, "{cpl:?}");
            assert_eq!(cpl.sock_ref, sock);
            let nb = posted.remove(&cpl.ref_num).unwrap();
            let got = drv.read_nb(&nb, cpl.bytes as usize).unwrap();
            let at = cpl.stream_off as usize;
            landed[at..at + got.len()].copy_from_slice(&got);
            landed_bytes += got.len();
            drv.post_nb(sock, &nb, 0).unwrap();
            posted.insert(nb.ref_num, nb);
        }
        if acked == total && landed_bytes < total {
            // The last bytes sit in a partly filled buffer: FIN returns it.
            wire.send(c.seg(total as u32, &[], true, false));
        }
    }
    assert_eq!(sha256_hex(&landed), sha256_hex(&data));
    assert!(spoof >= 2000, "{spoof} spoofed SYNs");
    let full = drv.counter(reg::CNT_DROP_LISTEN_FULL);
    assert!(full > 0);
    // The flood took the four slots left in the pool; everything else was LISTEN_FULL.
    assert_eq!(drv.rd(reg::ACCEPT_POOL), 0);
    assert_eq!(drv.rd(reg::HALF_OPEN), 4);
    assert_eq!(full, spoof - 4);
    assert_eq!(drv.rd(reg::CNT_ACCEPTS), 1);
    drv.del_socket(sock).unwrap();
    common::assert_buflets_free(drv);
}

/// Listen with `spec`, pool one socket, and let client `i` send its SYN (checked to get its
/// SYN-ACK; the handshake's ACK rides on the client's first segment).
fn one_client(drv: &mut Driver, wire: &WirePort, spec: &ListenSpec, i: u32) -> Client {
    drv.listen(spec).unwrap();
    assert_eq!(drv.pool_sockets(1).unwrap(), 1);
    let _ = settle(drv, wire);
    let mut clients = [Client::new(i)];
    assert!(connect(drv, wire, &mut clients).is_empty());
    clients[0]
}

/// Window updates (RFC 9293 3.8.6.2.2, docs/tcp-receive.md "Window updates"): an accepted
/// socket with a 16 KiB receive buffer and no named buffer takes 16 KiB, and its last ACK
/// closes the window. Ticks while the bytes wait send nothing. Once a named buffer took them,
/// the next tick sends one ACK with the window open again (CNT_TX_WND_UPDATES 1) although the
/// peer sent nothing; a later tick sends nothing more, and the peer's next segment is taken.
fn window_update(backend: Backend) {
    let mut r = rig(backend, "wupd");
    let Bench { drv, wire, .. } = &mut r;
    let buf = 16usize << 10;
    let c = one_client(
        drv,
        wire,
        &ListenSpec {
            rcv_buf: buf as u32,
            ..listen_spec()
        },
        3,
    );
    let data = stream(9, buf + MSS);
    let mut off = 0;
    while off < buf {
        let end = (off + MSS).min(buf);
        wire.send(c.seg(off as u32, &data[off..end], false, false));
        off = end;
    }
    let (cpls, tx) = settle(drv, wire);
    let (acc, rest) = accepts(drv, cpls);
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(acc.len(), 1);
    let sock = acc[0].sock;
    let all_in = c.isn.wrapping_add(1).wrapping_add(buf as u32);
    let (_, _, _, ack, _, window) = parse_tx(tx.last().expect("ACKs"));
    assert_eq!((ack, window), (all_in, 0), "the last ACK closes the window");
    assert_eq!(drv.counters().dropped(), 0, "{:?}", drv.counters().drops);
    // The bytes wait for a named buffer: a tick has nothing to announce.
    drv.timer_kick();
    let (_, tx) = settle(drv, wire);
    assert!(tx.is_empty(), "{} frames", tx.len());
    assert_eq!(drv.rd(reg::CNT_TX_WND_UPDATES), 0);
    // A named buffer takes them; no frame goes out until a tick.
    let nb = drv.alloc_nb(4).unwrap();
    drv.post_nb(sock, &nb, 0).unwrap();
    let (cpls, tx) = settle(drv, wire);
    assert!(tx.is_empty(), "{} frames", tx.len());
    assert_eq!(cpls.len(), 1, "{cpls:?}");
    assert_eq!(cpls[0].kind, CplKind::NbReturn);
    assert_eq!(cpls[0].bytes as usize, buf);
    let got = drv.read_nb(&nb, buf).unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&data[..buf]));
    // The tick announces the open window: SEQ = ISS + 1, ACK unchanged, at least
    // min(MSS, RCV_BUF/2) open (the field is scaled by 2^7).
    drv.timer_kick();
    let (_, tx) = settle(drv, wire);
    assert_eq!(tx.len(), 1, "one window update");
    let (ip, port, seq, ack, syn, window) = parse_tx(&tx[0]);
    assert_eq!((ip, port, syn), (c.ip, c.port, false));
    assert_eq!((seq, ack), (c.iss.wrapping_add(1), all_in));
    assert!(
        (window as usize) << 7 >= 1460.min(buf / 2),
        "window field {window}"
    );
    assert_eq!(drv.rd(reg::CNT_TX_WND_UPDATES), 1);
    // Announced: the next tick is quiet.
    drv.timer_kick();
    let (_, tx) = settle(drv, wire);
    assert!(tx.is_empty(), "{} frames", tx.len());
    assert_eq!(drv.rd(reg::CNT_TX_WND_UPDATES), 1);
    // The peer sends again and is taken.
    wire.send(c.seg(buf as u32, &data[buf..], false, false));
    let (_, tx) = settle(drv, wire);
    let (_, _, _, ack, _, _) = parse_tx(tx.last().expect("an ACK"));
    assert_eq!(ack, all_in.wrapping_add(MSS as u32));
    assert_eq!(drv.counters().dropped(), 0, "{:?}", drv.counters().drops);
    drv.del_socket(sock).unwrap();
    drv.free_nb(nb);
    common::assert_buflets_free(drv);
}

/// Delayed ACKs (docs/tcp-receive.md "Delayed ACKs"): a listen slot with DELAYED_ACK passes
/// it to the accepted socket, which acknowledges every second full-sized segment; a lone one
/// is acknowledged by the next timer tick (CNT_TX_DELAYED_ACKS) and only once; PSH, a segment
/// ahead of RCV_NXT and the one filling the gap, and FIN are acknowledged at once. Every byte
/// lands (sha256).
fn delayed_acks(backend: Backend) {
    let mut r = rig(backend, "dack");
    let Bench { drv, wire, .. } = &mut r;
    let c = one_client(drv, wire, &listen_spec().with_delayed_ack(true), 4);
    let n = 9;
    let data = stream(11, n * MSS);
    let part = |k: usize| &data[k * MSS..(k + 1) * MSS];
    // Segment k (PSH if `psh`, FIN if `fin`): the ACK numbers of the frames the NIC sent in
    // answer, and the ACCEPTs seen.
    let send = |drv: &mut Driver, k: usize, psh: bool, fin: bool| -> (Vec<u32>, Vec<Accepted>) {
        let seq = c.isn.wrapping_add(1).wrapping_add((k * MSS) as u32);
        let mut b = PacketBuilder::ethernet2(c.mac(), NIC_MAC)
            .ipv4(c.ip, NIC_IP, 64)
            .tcp(c.port, PORT, seq, 8192)
            .ack(c.iss.wrapping_add(1));
        if psh {
            b = b.psh();
        }
        if fin {
            b = b.fin();
        }
        let mut v = Vec::new();
        b.write(&mut v, part(k)).unwrap();
        wire.send(v);
        let (cpls, tx) = settle(drv, wire);
        let (acc, rest) = accepts(drv, cpls);
        assert!(rest.iter().all(|c| c.kind == CplKind::NbReturn), "{rest:?}");
        (tx.iter().map(|f| parse_tx(f).3).collect(), acc)
    };
    let acks = |drv: &mut Driver, k: usize, psh: bool, fin: bool| send(drv, k, psh, fin).0;
    let end = |k: usize| c.isn.wrapping_add(1).wrapping_add((k * MSS) as u32);
    // The first segment completes the handshake: its ACK waits.
    let (first, acc) = send(drv, 0, false, false);
    assert_eq!(first, vec![]);
    assert_eq!(acc.len(), 1, "accepted");
    let sock = acc[0].sock;
    let nb = drv.alloc_nb(4).unwrap();
    drv.post_nb(sock, &nb, 0).unwrap();
    // Every second full-sized segment.
    assert_eq!(acks(drv, 1, false, false), vec![end(2)]);
    assert_eq!(acks(drv, 2, false, false), vec![]);
    assert_eq!(acks(drv, 3, false, false), vec![end(4)]);
    assert_eq!(acks(drv, 4, false, false), vec![]);
    assert_eq!(drv.rd(reg::CNT_TX_DELAYED_ACKS), 0);
    // The tick sends the owed ACK, once.
    drv.timer_kick();
    let (_, tx) = settle(drv, wire);
    let tick: Vec<u32> = tx.iter().map(|f| parse_tx(f).3).collect();
    assert_eq!(tick, vec![end(5)], "one delayed ACK");
    assert_eq!(drv.rd(reg::CNT_TX_DELAYED_ACKS), 1);
    drv.timer_kick();
    let (_, tx) = settle(drv, wire);
    assert!(tx.is_empty(), "{} frames after the owed ACK went", tx.len());
    // PSH: at once.
    assert_eq!(acks(drv, 5, true, false), vec![end(6)]);
    // Ahead of RCV_NXT: the duplicate ACK at once; the segment filling the gap: at once.
    assert_eq!(acks(drv, 7, false, false), vec![end(6)]);
    assert_eq!(acks(drv, 6, false, false), vec![end(8)]);
    // FIN: at once (RCV_NXT counts it).
    assert_eq!(acks(drv, 8, false, true), vec![end(9).wrapping_add(1)]);
    assert_eq!(drv.rd(reg::CNT_TX_DELAYED_ACKS), 1);
    assert_eq!(drv.rd(reg::CNT_TX_WND_UPDATES), 0);
    assert_eq!(drv.counters().dropped(), 0, "{:?}", drv.counters().drops);
    let got = drv.read_nb(&nb, n * MSS).unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&data));
    drv.del_socket(sock).unwrap();
    drv.free_nb(nb);
    common::assert_buflets_free(drv);
}

buflet_testbench::backend_tests! {
    many_clients => many_clients_model(), many_clients_rtl();
    full_reset_timeout => full_reset_timeout_model(), full_reset_timeout_rtl();
    syn_flood => syn_flood_model(), syn_flood_rtl();
    window_update => window_update_model(), window_update_rtl();
    delayed_acks => delayed_acks_model(), delayed_acks_rtl();
}
