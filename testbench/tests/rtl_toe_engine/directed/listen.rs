//! Directed tests of listening sockets (docs/tcp-receive.md "Listening sockets"): SOCK_LISTEN,
//! SOCK_UNLISTEN and SOCK_POOL validation, a pooled slot refused by the other requests, the
//! accept (the accepted socket's fields, ISS = template ISS + the folded hash, ACCEPT OK), the
//! lowest matching slot, LISTEN_FULL on an empty pool and on HALF_OPEN_MAX, leaving SYN_RCVD by
//! an RST (ACCEPT RESET), by the SYN-ACK timeout (ACCEPT TIMEOUT) and by SOCK_DEL (none), and
//! the lookup cost counters. Every result is also checked by the oracle.

use super::*;

/// The template of a listen slot: local fields of `SockCfg::new(0, rng)` on port `port`.
fn template(rng: &mut ChaCha8Rng, port: u16) -> SockCfg {
    let mut t = SockCfg::new(0, rng);
    t.local_port = port;
    t.remote_mac = [0xEE; 6];
    t.remote_ip = 0xDEAD_BEEF;
    t.remote_port = 0xBEEF;
    t
}

/// The socket a SYN from peer (`mac`, `ip`, `port`) to template `t` makes in slot `slot`, as
/// its peer sees it (its frames and the commands it answers with).
fn accepted(t: &SockCfg, slot: u16, mac: [u8; 6], ip: u32, port: u16) -> SockCfg {
    SockCfg {
        slot,
        flags: t.flags | SockFlags::ACCEPTED,
        remote_mac: mac,
        remote_ip: ip,
        remote_port: port,
        iss: t.iss.wrapping_add(fold(ip, t.local_ip, port, t.local_port)),
        ..*t
    }
}

/// (kind, status, sock ref, tag, opcode) of the completions from `from` on.
fn cpls(tb: &Tb, from: usize) -> Vec<(CplKind, Status, u16, u32, u8)> {
    tb.cpl_log[from..]
        .iter()
        .map(|c| (c.kind, c.status, c.sock_ref, c.tag, c.opcode))
        .collect()
}

/// HALF_OPEN and ACCEPT_POOL as the engine reports them.
fn counts(tb: &Tb) -> (u64, u64) {
    (tb.m.get(tb.p.half_open), tb.m.get(tb.p.accept_pool))
}

pub fn listen_unlisten_pool_requests_are_validated() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 31);
        let nl = tb.listens.len() as u16;
        let ns = tb.num_socks as u16;
        let t = template(&mut rng, 80);
        let n0 = tb.cpl_log.len();
        let ok0 = tb.listen(0, &t);
        let again = tb.listen(0, &t); // listening already
        let past = tb.listen(nl, &t); // past NUM_LISTEN
        let udp = tb.listen(1, &t.into_udp());
        let buf0 = tb.listen(1, &t.buf(0));
        let buf_big = tb.listen(1, &t.buf((1 << 30) + 1));
        let mut ws = t;
        ws.wscale = 15;
        let ws15 = tb.listen(1, &ws);
        let conn = tb.listen(1, &t.with_flags(SockFlags::CONNECT));
        let accd = tb.listen(1, &t.with_flags(SockFlags::ACCEPTED));
        let ok1 = tb.listen(
            1,
            &t.with_flags(SockFlags::PSH_RETURN | SockFlags::HOLD)
                .buf(1 << 30),
        );
        tb.settle(20_000);
        let lsn = Opcode::SockListen.code();
        let (ok, bad) = (Status::Ok, Status::BadSock);
        let k = CplKind::CmdDone;
        assert_eq!(
            cpls(&tb, n0),
            vec![
                (k, ok, 0, ok0, lsn),
                (k, bad, 0, again, lsn),
                (k, bad, nl, past, lsn),
                (k, bad, 1, udp, lsn),
                (k, bad, 1, buf0, lsn),
                (k, bad, 1, buf_big, lsn),
                (k, bad, 1, ws15, lsn),
                (k, bad, 1, conn, lsn),
                (k, bad, 1, accd, lsn),
                (k, ok, 1, ok1, lsn),
            ],
            "{model}: SOCK_LISTEN"
        );
        // SOCK_UNLISTEN: the slot must listen
        let n0 = tb.cpl_log.len();
        tb.unlisten(2);
        tb.unlisten(1);
        tb.unlisten(1);
        tb.unlisten(nl);
        tb.settle(20_000);
        let st: Vec<_> = tb.cpl_log[n0..]
            .iter()
            .map(|c| (c.status, c.sock_ref))
            .collect();
        assert_eq!(
            st,
            vec![(bad, 2), (ok, 1), (bad, 1), (bad, nl)],
            "{model}: SOCK_UNLISTEN"
        );
        // SOCK_POOL: no completion when accepted; a slot in use, pooled or out of range fails
        let c4 = SockCfg::new(4, &mut rng);
        add_socks(&mut tb, &[&c4]);
        let n0 = tb.cpl_log.len();
        tb.pool_sock(3);
        tb.pool_sock(3);
        tb.pool_sock(4);
        tb.pool_sock(ns);
        tb.pool_sock(5);
        tb.settle(20_000);
        let st: Vec<_> = tb.cpl_log[n0..]
            .iter()
            .map(|c| (c.status, c.sock_ref, c.opcode))
            .collect();
        let pl = Opcode::SockPool.code();
        assert_eq!(
            st,
            vec![(bad, 3, pl), (bad, 4, pl), (bad, ns, pl)],
            "{model}: SOCK_POOL"
        );
        assert_eq!(counts(&tb), (0, 2), "{model}: HALF_OPEN, ACCEPT_POOL");
        // a pooled slot is refused like a free one (SOCK_DEL, NB_POST) and by SOCK_ADD; so is
        // a SOCK_ADD with the NIC's flag ACCEPTED
        let n0 = tb.cpl_log.len();
        tb.sock_add(&SockCfg::new(3, &mut rng));
        tb.sock_del(3);
        tb.nb_post(3, 0, 100, 1, false);
        tb.sock_add(&SockCfg::new(6, &mut rng).with_flags(SockFlags::ACCEPTED));
        tb.settle(20_000);
        let st: Vec<_> = tb.cpl_log[n0..]
            .iter()
            .map(|c| (c.status, c.sock_ref))
            .collect();
        assert_eq!(
            st,
            vec![(bad, 3), (bad, 3), (bad, 3), (bad, 6)],
            "{model}: pooled slot"
        );
        assert_eq!(tb.got.accepts, 0);
        close(&mut tb, &[4]);
    }
}

pub fn accept_iss_fields_and_accept_ok() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 32);
        let mut t = template(&mut rng, 445).with_flags(SockFlags::PSH_RETURN);
        t.iss = 0xFFFF_FF00;
        t.wscale = 3;
        t.vlan = 7;
        // slots 1 and 3 listen on the same address: the lowest wins
        let tag3 = tb.listen(3, &t);
        let tag1 = tb.listen(1, &t);
        let mut other = t;
        other.local_port = 446;
        tb.listen(0, &other);
        tb.pool_sock(5);
        tb.pool_sock(2);
        tb.settle(20_000);
        assert_eq!(counts(&tb), (0, 2));
        let (mac_a, ip_a, port_a) = ([0x02, 0xAA, 1, 2, 3, 4], 0xC0A8_0105, 50123);
        let a = accepted(&t, 5, mac_a, ip_a, port_a);
        assert_eq!(
            a.iss,
            0xFFFF_FF00u32.wrapping_add(fold(ip_a, t.local_ip, port_a, 445))
        );
        // a SYN with ACK set, or RST, does not take a socket: the anonymous path (NO_SOCKET)
        tb.push(a.frame(999, 0, SYN | ACK, Vec::new()));
        tb.push(a.frame(999, 0, SYN | RST, Vec::new()));
        tb.settle(20_000);
        assert_eq!(tb.exp.dropped(DropReason::NoSocket), 2);
        assert_eq!(counts(&tb), (0, 2));
        // the SYN: slot 5 is taken, SYN-ACK from the template with ISS = T + x
        let mut syn = a.frame(1000, 0, SYN, Vec::new());
        syn.ws = Some(2);
        tb.push(syn.clone());
        tb.settle(20_000);
        assert_eq!(counts(&tb), (1, 1), "{model}: half-open after the SYN");
        let sa = *tb.tx_log.last().unwrap();
        assert_eq!(
            (sa.seq, sa.ack, sa.flags, sa.dst_mac, sa.src_mac, sa.vlan),
            (a.iss, 1001, SYN | ACK, mac_a, t.local_mac, 7),
            "{model}: SYN-ACK"
        );
        assert_eq!((sa.src_port, sa.dst_port, sa.wscale), (445, port_a, 3));
        // a retransmitted SYN finds the socket: the SYN-ACK again, no other socket taken
        tb.push(syn);
        tb.settle(20_000);
        assert_eq!(counts(&tb), (1, 1));
        // the ACK that completes the handshake carries data: ACCEPT OK, the data waits
        let n0 = tb.cpl_log.len();
        let s = stream_of(300, 32);
        tb.push(a.frame(1001, 0, ACK | PSH, s.clone()));
        tb.settle(20_000);
        assert_eq!(counts(&tb), (0, 1), "{model}: established");
        let c = tb.cpl_log[n0];
        assert_eq!(
            (c.kind, c.status, c.sock_ref, c.tag, c.opcode, c.ref_num, c.bytes),
            (
                CplKind::Accept,
                Status::Ok,
                5,
                tag1,
                Opcode::SockListen.code(),
                ip_a,
                u32::from(port_a) | 1 << 16
            ),
            "{model}: ACCEPT"
        );
        assert_eq!(tb.got.accepts, 1);
        // delivery as for any socket (PSH_RETURN from the template)
        tb.nb_post(5, 0, 1000, 1, false);
        tb.settle(20_000);
        assert_eq!(tb.osock[5].as_ref().unwrap().delivered, s);
        assert_eq!(rets(&tb, n0), vec![(0, CplFlags::PSH, 300, 0, 0)]);
        // a second peer, on the other slot's port: slot 2 (the pool's next), listen slot 0
        let b = accepted(&other, 2, [0x02, 0xBB, 0, 0, 0, 9], 0x0A0A_0A0A, 1024);
        tb.push(b.frame(77, 0, SYN, Vec::new()));
        tb.push(b.frame(78, 0, ACK, Vec::new()));
        // unlisten slot 1: slot 3 now takes SYNs to 445, but the pool is empty: LISTEN_FULL
        tb.unlisten(1);
        tb.settle(20_000);
        let c2 = accepted(&t, 7, [0x02, 0xCC, 0, 0, 0, 1], ip_a, port_a + 1);
        tb.push(c2.frame(5, 0, SYN, Vec::new()));
        tb.settle(20_000);
        assert_eq!(tb.exp.dropped(DropReason::ListenFull), 1);
        tb.pool_sock(7);
        tb.settle(20_000); // the pool before the SYN (requests and frames race)
        tb.push(c2.frame(5, 0, SYN, Vec::new()));
        tb.push(c2.frame(6, 0, ACK, Vec::new()));
        tb.settle(20_000);
        let acc: Vec<_> = tb
            .cpl_log
            .iter()
            .filter(|c| c.kind == CplKind::Accept)
            .map(|c| (c.sock_ref, c.tag, c.bytes >> 16))
            .collect();
        assert_eq!(
            acc,
            vec![(5, tag1, 1), (2, acc_tag(&tb, 0), 0), (7, tag3, 3)]
        );
        assert_eq!(tb.got.accepts, 3);
        assert_eq!(counts(&tb), (0, 0));
        close(&mut tb, &[5, 2, 7]);
    }
}

/// The TAG listen slot `l` was opened with (the oracle's record).
fn acc_tag(tb: &Tb, l: usize) -> u32 {
    tb.listens[l].unwrap().1
}

pub fn listen_full_on_empty_pool_and_half_open_max() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 33);
        let t = template(&mut rng, 2049);
        tb.listen(4, &t);
        tb.settle(20_000);
        let a = accepted(&t, 0, [2, 0, 0, 0, 0, 0xA], 0x0B00_0001, 7000);
        let b = accepted(&t, 1, [2, 0, 0, 0, 0, 0xB], 0x0B00_0002, 7001);
        // no pool: dropped LISTEN_FULL, not answered
        tb.push(a.frame(10, 0, SYN, Vec::new()));
        tb.settle(20_000);
        assert_eq!(tb.got.dropped(DropReason::ListenFull), 1);
        assert!(tb.tx_log.is_empty());
        // HALF_OPEN_MAX 1: a second half-open connection is refused until the first completes
        tb.half_open_max = 1;
        tb.pool_sock(0);
        tb.pool_sock(1);
        tb.settle(20_000); // the pool before the SYN (requests and frames race)
        tb.push(a.frame(10, 0, SYN, Vec::new()));
        tb.push(b.frame(20, 0, SYN, Vec::new()));
        tb.settle(20_000);
        assert_eq!(tb.got.dropped(DropReason::ListenFull), 2);
        assert_eq!(counts(&tb), (1, 1));
        tb.push(a.frame(11, 0, ACK, Vec::new()));
        tb.push(b.frame(20, 0, SYN, Vec::new()));
        tb.settle(20_000);
        assert_eq!(counts(&tb), (1, 0));
        // HALF_OPEN_MAX 0 refuses every SYN
        tb.half_open_max = 0;
        tb.pool_sock(3);
        tb.settle(20_000); // the pool before the SYN (requests and frames race)
        let c = accepted(&t, 3, [2, 0, 0, 0, 0, 0xC], 0x0B00_0003, 7002);
        tb.push(c.frame(30, 0, SYN, Vec::new()));
        tb.settle(20_000);
        assert_eq!(tb.got.dropped(DropReason::ListenFull), 3);
        tb.half_open_max = 16;
        tb.push(b.frame(21, 0, ACK, Vec::new()));
        tb.settle(20_000);
        assert_eq!(counts(&tb), (0, 1));
        assert_eq!(tb.got.accepts, 2);
        close(&mut tb, &[0, 1]);
    }
}

pub fn half_open_reset_timeout_and_delete() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 34);
        // the SYN-ACK timer gives up at the first tick after the SYN (RTO_INIT 1, TX_RETRIES
        // 0); no tick comes before the one below
        tb.rto_init = 1;
        tb.tx_retries = 0;
        tb.synack_giveup = true;
        let t = template(&mut rng, 3260);
        let tag = tb.listen(7, &t);
        for s in [6, 7, 0] {
            tb.pool_sock(s);
        }
        tb.settle(20_000);
        let a = accepted(&t, 6, [2, 1, 1, 1, 1, 1], 0x0C00_0001, 9000);
        let b = accepted(&t, 7, [2, 1, 1, 1, 1, 2], 0x0C00_0002, 9001);
        let c = accepted(&t, 0, [2, 1, 1, 1, 1, 3], 0x0C00_0003, 9002);
        tb.push(a.frame(100, 0, SYN, Vec::new()));
        tb.push(b.frame(200, 0, SYN, Vec::new()));
        tb.push(c.frame(300, 0, SYN, Vec::new()));
        tb.settle(20_000);
        assert_eq!(counts(&tb), (3, 0));
        // an RST not at RCV_NXT: OUT_OF_WINDOW, still half-open; at RCV_NXT: ACCEPT RESET, CLOSED
        let n0 = tb.cpl_log.len();
        tb.push(a.frame(105, 0, RST, Vec::new()));
        tb.settle(20_000);
        assert_eq!(counts(&tb), (3, 0));
        tb.push(a.frame(101, 0, RST, Vec::new()));
        tb.settle(20_000);
        assert_eq!(counts(&tb), (2, 0));
        // CLOSED: every segment BAD_STATE
        tb.push(a.frame(101, 0, SYN, Vec::new()));
        tb.settle(20_000);
        // SOCK_DEL of a half-open accepted socket: HALF_OPEN - 1, no ACCEPT
        tb.sock_del(7);
        tb.settle(20_000);
        assert_eq!(counts(&tb), (1, 0));
        // the SYN-ACK timeout
        let d = accepted(&t, 7, [2, 1, 1, 1, 1, 4], 0x0C00_0004, 9003);
        tb.pool_sock(7);
        tb.settle(20_000); // the pool before the SYN (requests and frames race)
        tb.push(d.frame(400, 0, SYN, Vec::new()));
        tb.settle(20_000);
        assert_eq!(counts(&tb), (2, 0));
        ticks(&mut tb, 1);
        assert_eq!(counts(&tb), (0, 0));
        let acc: Vec<_> = tb.cpl_log[n0..]
            .iter()
            .filter(|c| c.kind == CplKind::Accept)
            .map(|c| (c.sock_ref, c.status, c.tag, c.ref_num))
            .collect();
        // the sweep walks the active list from its head: d (7) was accepted last
        assert_eq!(
            acc,
            vec![
                (6, Status::Reset, tag, 0x0C00_0001),
                (7, Status::Timeout, tag, 0x0C00_0004),
                (0, Status::Timeout, tag, 0x0C00_0003),
            ],
            "{model}: ACCEPTs"
        );
        assert_eq!(tb.got.accepts, 0);
        assert_eq!(tb.got.dropped(DropReason::BadState), 1);
        close(&mut tb, &[6, 7, 0]);
    }
}

pub fn lookup_cost_counters() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 35);
        let n = tb.hash_buckets;
        // three sockets in one bucket (added a, b, c: the chain is c, b, a), one in another
        let a = SockCfg::new(0, &mut rng);
        let bk = |c: &SockCfg| bucket(c.remote_ip, c.local_ip, c.remote_port, c.local_port, n);
        let mut same = (1..2000u16).map(|p| {
            let mut c = a;
            c.remote_port = p;
            c
        });
        let mut b = same.find(|c| bk(c) == bk(&a)).unwrap();
        let mut c = same.find(|c| bk(c) == bk(&a)).unwrap();
        let miss = same.find(|c| bk(c) == bk(&a)).unwrap();
        let mut d = (1..2000u16)
            .map(|p| {
                let mut d = a;
                d.remote_port = p;
                d
            })
            .find(|d| bk(d) != bk(&a))
            .unwrap();
        let empty = (1..2000u16)
            .map(|p| {
                let mut e = a;
                e.remote_port = p;
                e
            })
            .find(|e| bk(e) != bk(&a) && bk(e) != bk(&d))
            .unwrap();
        (b.slot, c.slot, d.slot) = (1, 2, 3);
        add_socks(&mut tb, &[&a, &b, &c, &d]);
        let (l0, c0) = (tb.got.lookups, tb.got.lookup_cycles);
        let one = |tb: &mut Tb, f: Frame| {
            let c0 = tb.got.lookup_cycles;
            tb.push(f);
            tb.settle(20_000);
            tb.got.lookup_cycles - c0
        };
        assert_eq!(
            one(&mut tb, a.frame(1, 0, SYN, Vec::new())),
            1 + 3,
            "{model}: a, last"
        );
        assert_eq!(
            one(&mut tb, b.frame(1, 0, SYN, Vec::new())),
            1 + 2,
            "{model}: b"
        );
        assert_eq!(
            one(&mut tb, c.frame(1, 0, SYN, Vec::new())),
            1 + 1,
            "{model}: c, head"
        );
        assert_eq!(
            one(&mut tb, d.frame(1, 0, SYN, Vec::new())),
            1 + 1,
            "{model}: d, alone"
        );
        assert_eq!(
            one(&mut tb, miss.frame(1, 0, SYN, Vec::new())),
            1 + 3,
            "{model}: miss"
        );
        assert_eq!(
            one(&mut tb, empty.frame(1, 0, ACK, Vec::new())),
            1,
            "{model}: empty bucket"
        );
        // a parser drop and an ARP request do not reach the lookup
        tb.nic_ip = 0x0A00_0001;
        tb.push(raw_frame(DropReason::BadIpCsum, 60, &mut rng));
        tb.push(arp_frame(rng.gen(), 0x0A00_0009, tb.nic_ip, 0, &mut rng));
        tb.settle(20_000);
        assert_eq!(tb.got.lookups - l0, 6, "{model}: CNT_LOOKUPS");
        assert_eq!(tb.got.lookup_cycles - c0, 4 + 3 + 2 + 2 + 4 + 1);
        // a deleted socket leaves the chain: a is now two from the head
        tb.sock_del(1);
        tb.settle(20_000);
        assert_eq!(
            one(&mut tb, a.frame(2, 0, RST, Vec::new())),
            1 + 2,
            "{model}: after SOCK_DEL"
        );
        close(&mut tb, &[0, 2, 3]);
    }
}

/// Forwarding (docs/tcp-receive.md "Lookup cost"): a frame of the 4-tuple the last walk
/// matched costs no lookup cycle (and still counts as a lookup); a frame of another socket
/// walks and moves the forwarded socket to its own; a SOCK_ADD or a SOCK_DEL makes the next
/// frame walk again. The oracle checks every frame's outcome, so a forwarded frame reached the
/// socket a walk would have.
pub fn lookup_forwarding() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 36);
        let n = tb.hash_buckets;
        let bk = |c: &SockCfg| bucket(c.remote_ip, c.local_ip, c.remote_port, c.local_port, n);
        // a and b in one bucket (chain b, a), e to be added later
        let a = SockCfg::new(0, &mut rng);
        let mut b = (1..2000u16)
            .map(|p| {
                let mut c = a;
                c.remote_port = p;
                c
            })
            .find(|c| bk(c) == bk(&a) && c.remote_port != a.remote_port)
            .unwrap();
        let mut e = SockCfg::new(2, &mut rng);
        (b.slot, e.slot) = (1, 2);
        add_socks(&mut tb, &[&a, &b]);
        // (lookups, lookup cycles, forwarded) of one frame
        let one = |tb: &mut Tb, f: Frame| {
            let g0 = (tb.got.lookups, tb.got.lookup_cycles, tb.got.lookup_fwd);
            tb.push(f);
            tb.settle(20_000);
            let g = (tb.got.lookups, tb.got.lookup_cycles, tb.got.lookup_fwd);
            (g.0 - g0.0, g.1 - g0.1, g.2 - g0.2)
        };
        let syn = |c: &SockCfg, seq: u32| c.frame(seq, 0, SYN, Vec::new());
        assert_eq!(one(&mut tb, syn(&a, 1)), (1, 1 + 2, 0), "{model}: a walks");
        assert_eq!(one(&mut tb, syn(&a, 1)), (1, 0, 1), "{model}: a forwarded");
        assert_eq!(one(&mut tb, syn(&a, 1)), (1, 0, 1), "{model}: a again");
        assert_eq!(one(&mut tb, syn(&b, 1)), (1, 1 + 1, 0), "{model}: b walks");
        assert_eq!(one(&mut tb, syn(&b, 1)), (1, 0, 1), "{model}: b forwarded");
        assert_eq!(
            one(&mut tb, syn(&a, 1)),
            (1, 1 + 2, 0),
            "{model}: a walks again"
        );
        // a socket added (another bucket's): the next frame walks
        add_socks(&mut tb, &[&e]);
        assert_eq!(
            one(&mut tb, syn(&a, 1)),
            (1, 1 + 2, 0),
            "{model}: after SOCK_ADD"
        );
        assert_eq!(
            one(&mut tb, syn(&a, 1)),
            (1, 0, 1),
            "{model}: forwarded again"
        );
        // a request for another socket (NB_POST to e) moves the engine's socket register:
        // a's next frame is still forwarded (S_LOOK1 reads a first), with no lookup cycle
        tb.nb_post(2, 7, 4096, 1, false);
        tb.settle(20_000);
        assert_eq!(
            one(&mut tb, syn(&a, 1)),
            (1, 0, 1),
            "{model}: forwarded via S_LOOK1"
        );
        // a SOCK_DEL (of b): the next frame walks (a is now the head)
        tb.sock_del(1);
        tb.settle(20_000);
        assert_eq!(
            one(&mut tb, syn(&a, 1)),
            (1, 1 + 1, 0),
            "{model}: after SOCK_DEL"
        );
        assert_eq!(
            one(&mut tb, syn(&a, 1)),
            (1, 0, 1),
            "{model}: forwarded after it"
        );
        close(&mut tb, &[0, 2]);
    }
}

/// Random listening: twelve peers SYN, complete, reset, send data and retransmit SYNs to one
/// listen port while the driver pools slots (some refused), deletes sockets (half-open ones
/// too), moves HALF_OPEN_MAX and closes and reopens the listen; some SYNs go to no listen.
/// Every output is the oracle's; HALF_OPEN and ACCEPT_POOL are checked at each pause.
pub fn listen_random_accepts_resets_deletes() {
    for model in models() {
        let mut cov: HashMap<&'static str, u64> = HashMap::new();
        for seed in 0..4u64 {
            let (mut tb, mut rng) = dtb_rng(model, 40 + seed);
            let ns = tb.num_socks as u16;
            let mut t = template(&mut rng, 8080);
            t.wscale = rng.gen_range(0..4);
            let lslot = rng.gen_range(0..tb.listens.len() as u16);
            tb.listen(lslot, &t);
            let peers: Vec<([u8; 6], u32, u16)> = (0..12u32)
                .map(|i| {
                    (
                        rng.gen(),
                        0x0D00_0000 | rng.gen_range(0..0xFFFF),
                        1024 + i as u16 * 37,
                    )
                })
                .collect();
            let mut isn: Vec<u32> = peers.iter().map(|_| rng.gen()).collect();
            let mut listening = true;
            for step in 0..400 {
                let i = rng.gen_range(0..peers.len());
                let (mac, ip, port) = peers[i];
                let p = accepted(&t, 0, mac, ip, port);
                match rng.gen_range(0..100) {
                    0..=9 => tb.pool_sock(rng.gen_range(0..ns + 1)),
                    10..=34 => {
                        if rng.gen_bool(0.5) {
                            isn[i] = rng.gen();
                        }
                        let mut f = p.frame(isn[i], 0, SYN, Vec::new());
                        f.ws = rng.gen_bool(0.5).then(|| rng.gen_range(0..15));
                        tb.push(f);
                    }
                    35..=59 => {
                        let n = [0, 0, 1, 100, 700][rng.gen_range(0..5)];
                        let s = isn[i].wrapping_add(1);
                        tb.push(p.frame(s, 0, ACK | PSH, stream_of(n, step)));
                    }
                    60..=67 => {
                        let s = isn[i].wrapping_add(if rng.gen_bool(0.7) { 1 } else { 9 });
                        tb.push(p.frame(s, 0, RST, Vec::new()));
                    }
                    68..=75 => tb.sock_del(rng.gen_range(0..ns)),
                    76..=79 => {
                        tb.settle(20_000);
                        tb.half_open_max = rng.gen_range(0..5);
                    }
                    80..=82 => {
                        if listening {
                            tb.unlisten(lslot);
                        } else {
                            tb.listen(lslot, &t);
                        }
                        listening = !listening;
                    }
                    83..=87 => {
                        // a SYN to another port, a SYN-ACK: no listen takes them
                        let mut q = p;
                        q.local_port = 8081;
                        tb.push(q.frame(isn[i], 0, SYN, Vec::new()));
                        tb.push(p.frame(isn[i], 0, SYN | ACK, Vec::new()));
                    }
                    _ => {
                        tb.settle(40_000);
                        let want = (u64::from(tb.half_open), tb.pool.len() as u64);
                        assert_eq!(
                            counts(&tb),
                            want,
                            "{model} seed {seed}: HALF_OPEN, ACCEPT_POOL"
                        );
                    }
                }
            }
            tb.settle(40_000);
            assert_eq!(counts(&tb), (u64::from(tb.half_open), tb.pool.len() as u64));
            let used: Vec<u16> = (0..ns)
                .filter(|&s| tb.osock[s as usize].is_some())
                .collect();
            close(&mut tb, &used);
            assert_eq!(
                counts(&tb).0,
                0,
                "{model} seed {seed}: nothing half-open at the end"
            );
            for (k, n) in &tb.cov {
                *cov.entry(k).or_default() += n;
            }
        }
        // the seeds together reach every way out of SYN_RCVD but the timeout (directed above)
        for k in [
            "accept_taken",
            "accept_ok",
            "accept_reset",
            "listen_full",
            "accept_deleted_half_open",
        ] {
            assert!(cov.get(k).is_some_and(|&n| n > 0), "{model}: {k} ({cov:?})");
        }
    }
}
