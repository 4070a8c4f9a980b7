//! A review of the RTL send engine against the model (docs/tcp-transmit.md, issue 12): crafted
//! peers (etherparse) drive cases the co-simulation's random stimulus rarely reaches: page lists
//! reused after `TX_DONE`, posts of one byte, `FIRST_OFF` and page crossings, sequence numbers
//! wrapping past 2^32, zero-window probes, NewReno recovery, FIN retransmission and the closing
//! states, `SOCK_DEL` with posts in flight, the cursor after timeouts. Every case runs on both
//! backends (`model::*`, `rtl::*`).

#[macro_use]
mod tx_common;

use buflet_driver::{Completion, CplKind};
use buflet_platform::Agent;
use buflet_spec::{reg, Status};
use buflet_testbench::frames;
use buflet_testbench::{Backend, Bench};
use etherparse::{SlicedPacket, TcpOptionElement, TransportSlice};
use tx_common::{pkt, F};

const ISS: u32 = 0x1234_5678;
const ISN: u32 = 1000;
const PAGE: u64 = 4096;

/// A segment the NIC sent.
#[derive(Debug, Clone)]
struct Seg {
    seq: u32,
    ack: u32,
    syn: bool,
    fin: bool,
    rst: bool,
    psh: bool,
    payload: Vec<u8>,
}

impl Seg {
    fn len(&self) -> usize {
        self.payload.len()
    }
}

fn parse(f: &[u8]) -> Option<Seg> {
    let p = SlicedPacket::from_ethernet(f).ok()?;
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        return None;
    };
    Some(Seg {
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        syn: t.syn(),
        fin: t.fin(),
        rst: t.rst(),
        psh: t.psh(),
        payload: t.payload().to_vec(),
    })
}

/// A bench with a fast timer (a tick per 2500 cycles, RTO 20 ticks, between `rto_min` and 64
/// ticks, 4 retries).
fn bench_with(be: Backend, rto_min: u32) -> Bench {
    let mut b = Bench::builder(be)
        .mem(64 << 20)
        .blank_disk(1 << 20)
        .name("txr")
        .build()
        .unwrap();
    b.drv.set_timer_period(2500);
    b.drv.wr(reg::RTO_INIT, 20);
    b.drv.wr(reg::RTO_MIN, rto_min);
    b.drv.wr(reg::RTO_MAX, 64);
    b.drv.wr(reg::TX_RETRIES, 4);
    b
}

fn bench(be: Backend) -> Bench {
    bench_with(be, 20)
}

/// Run about `cycles`; the NIC's TCP segments and the completions.
fn pump(b: &mut Bench, cycles: u64) -> (Vec<Seg>, Vec<Completion>) {
    let (mut v, mut c) = (Vec::new(), Vec::new());
    let end = b.drv.cycles() + cycles;
    loop {
        let now = b.drv.cycles();
        if now >= end {
            break;
        }
        c.extend(b.drv.wait(end - now).unwrap());
        while let Some(f) = b.wire.recv() {
            v.extend(parse(&f));
        }
    }
    while let Some(f) = b.wire.recv() {
        v.extend(parse(&f));
    }
    (v, c)
}

/// Pump until a segment that `want` accepts arrives (at most `cycles`).
fn pump_until(
    b: &mut Bench,
    cycles: u64,
    want: impl Fn(&Seg) -> bool,
) -> (Vec<Seg>, Vec<Completion>) {
    let (mut v, mut c) = (Vec::new(), Vec::new());
    let mut ran = 0;
    while ran < cycles {
        let (v1, c1) = pump(b, 5_000);
        ran += 5_000;
        let hit = v1.iter().any(&want);
        v.extend(v1);
        c.extend(c1);
        if hit {
            break;
        }
    }
    (v, c)
}

fn syn() -> F {
    F {
        syn: true,
        ..F::default()
    }
}

fn acking(a: u32) -> F {
    F {
        ack: Some(a),
        ..F::default()
    }
}

/// The peer acknowledges `off` bytes of our stream (and our FIN when `off` counts it).
fn ack_off(b: &mut Bench, iss: u32, off: u32, win: u16) {
    let a = iss.wrapping_add(1).wrapping_add(off);
    b.wire.send(pkt(ISN + 1, win, acking(a), &[], &[]));
}

/// Handshake with a peer offering `mss` (and window scale 7 when `ws`); the third ACK
/// advertises `win`. The socket.
fn establish(b: &mut Bench, iss: u32, mss: u16, ws: bool, win: u16) -> u16 {
    let (sock, _) = b.drv.add_socket(&frames::demo_socket(iss, 1460)).unwrap();
    let mut opts = vec![TcpOptionElement::MaximumSegmentSize(mss)];
    if ws {
        opts.push(TcpOptionElement::Noop);
        opts.push(TcpOptionElement::WindowScale(7));
    }
    b.wire.send(pkt(ISN, 65535, syn(), &opts, &[]));
    assert!(pump(b, 100_000).0.iter().any(|s| s.syn), "no SYN-ACK");
    b.wire
        .send(pkt(ISN + 1, win, acking(iss.wrapping_add(1)), &[], &[]));
    pump(b, 50_000);
    sock
}

/// Host pages holding `data` from `first_off` in the first page, their page list, and the post.
fn post_at(b: &mut Bench, sock: u16, data: &[u8], first_off: u16, psh: bool) -> u32 {
    let total = u64::from(first_off) + data.len() as u64;
    let npages = total.div_ceil(PAGE).max(1);
    let base = b.drv.env.mem.alloc(npages * PAGE, PAGE).unwrap();
    b.drv
        .env
        .mem
        .write(Agent::Cpu, base + u64::from(first_off), data)
        .unwrap();
    let pages: Vec<u64> = (0..npages).map(|i| base + i * PAGE).collect();
    let list = b.drv.env.mem.alloc(8 * npages, 64).unwrap();
    b.drv
        .tx_post(sock, list, &pages, first_off, data.len() as u32, psh)
        .unwrap()
}

/// A simple receiver: takes our segments in order into `rx` (stream offset 0 first) and
/// acknowledges what it holds after every pump, advertising `win`. Returns the segments and
/// completions seen and whether our FIN was taken.
fn drain(
    b: &mut Bench,
    iss: u32,
    rx: &mut Vec<u8>,
    win: u16,
    cycles: u64,
) -> (Vec<Seg>, Vec<Completion>, bool) {
    let (mut all, mut cpl, mut fin) = (Vec::new(), Vec::new(), false);
    let mut ran = 0;
    while ran < cycles {
        let (v, c) = pump(b, 10_000);
        ran += 10_000;
        cpl.extend(c);
        if v.is_empty() {
            continue;
        }
        for s in &v {
            let off = s.seq.wrapping_sub(iss.wrapping_add(1)) as usize;
            if off <= rx.len() && off + s.len() > rx.len() {
                let from = rx.len() - off;
                rx.extend_from_slice(&s.payload[from..]);
            }
            if s.fin && off + s.len() == rx.len() {
                fin = true;
            }
        }
        all.extend(v);
        ack_off(b, iss, rx.len() as u32 + u32::from(fin), win);
    }
    (all, cpl, fin)
}

fn tx_done(c: &[Completion], st: Status) -> Vec<&Completion> {
    c.iter()
        .filter(|c| c.kind == CplKind::TxDone && c.status == st)
        .collect()
}

fn data_segs(v: &[Seg]) -> Vec<&Seg> {
    v.iter().filter(|s| s.len() > 0).collect()
}

// ------------------------------------------------------------------------------ the cases

/// After a post's TX_DONE the host may rewrite its page list (tx_send frees it and hands the
/// same memory to the next post). The next post through the same list address must be read
/// from the pages the list names now, not from a page address remembered from the old post.
fn a_reused_page_list_is_read_again(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, true, 2000);
    let list = b.drv.env.mem.alloc(64, 64).unwrap();
    let p1 = b.drv.env.mem.alloc(PAGE, PAGE).unwrap();
    let a = frames::payload(11, 500);
    b.drv.env.mem.write(Agent::Cpu, p1, &a).unwrap();
    b.drv.tx_post(sock, list, &[p1], 0, 500, true).unwrap();
    let (v, _) = pump(&mut b, 20_000);
    let d = data_segs(&v);
    assert_eq!(d.len(), 1, "{v:?}");
    assert_eq!(d[0].payload, a);
    ack_off(&mut b, ISS, 500, 2000);
    let (_, c) = pump(&mut b, 100_000);
    assert_eq!(tx_done(&c, Status::Ok).len(), 1, "{c:?}");
    // The same list memory, now naming another page.
    let p2 = b.drv.env.mem.alloc(PAGE, PAGE).unwrap();
    let bb = frames::payload(12, 500);
    b.drv.env.mem.write(Agent::Cpu, p2, &bb).unwrap();
    b.drv.tx_post(sock, list, &[p2], 0, 500, true).unwrap();
    let (v, _) = pump(&mut b, 20_000);
    let d = data_segs(&v);
    assert_eq!(d.len(), 1, "{v:?}");
    assert_eq!(d[0].seq, ISS + 1 + 500);
    assert!(
        d[0].payload == bb,
        "the second post's bytes are the first post's page: {}",
        d[0].payload == a
    );
}

/// Many one-byte posts (no PSH): Nagle holds them while the first byte is in flight, then
/// one segment carries all the rest, one piece per post; one TX_DONE covers them.
fn one_segment_spans_many_one_byte_posts(be: Backend) {
    const N: usize = 150;
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, true, 2000);
    let page = b.drv.env.mem.alloc(PAGE, PAGE).unwrap();
    let data = frames::payload(13, N);
    b.drv.env.mem.write(Agent::Cpu, page, &data).unwrap();
    let list = b.drv.env.mem.alloc(64, 64).unwrap();
    let mut tags = Vec::new();
    for k in 0..N {
        tags.push(
            b.drv
                .tx_post(sock, list, &[page], k as u16, 1, false)
                .unwrap(),
        );
    }
    let (v, _) = pump(&mut b, 30_000);
    let d = data_segs(&v);
    assert_eq!(d.len(), 1, "Nagle: one short segment in flight: {v:?}");
    let first = d[0].len();
    assert_eq!(d[0].seq, ISS + 1);
    assert_eq!(d[0].payload, data[..first]);
    ack_off(&mut b, ISS, first as u32, 2000);
    let (v, c) = pump(&mut b, 20_000);
    let d = data_segs(&v);
    assert_eq!(d.len(), 1, "{v:?}");
    assert_eq!(d[0].seq, ISS + 1 + first as u32);
    assert_eq!(d[0].payload, data[first..]);
    assert!(!d[0].psh, "no post asked for PSH");
    let done: u32 = tx_done(&c, Status::Ok).iter().map(|c| c.ref_num).sum();
    assert_eq!(done as usize, first, "{c:?}");
    ack_off(&mut b, ISS, N as u32, 2000);
    let (_, c) = pump(&mut b, 100_000);
    let t = tx_done(&c, Status::Ok);
    assert_eq!(t.len(), 1, "{c:?}");
    assert_eq!(t[0].ref_num as usize, N - first);
    assert_eq!(t[0].bytes as usize, N - first);
    assert_eq!(t[0].tag, tags[N - 1]);
}

/// Posts starting at FIRST_OFF 4095, 1 and 4000, and one of exactly two pages: every segment's
/// bytes cross pages and posts where they should; PSH only where a PSH post ends.
fn first_off_posts_cross_pages(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, true, 2000);
    let parts: [(usize, u16, bool); 4] = [
        (2, 4095, false),
        (9000, 1, true),
        (97, 4000, false),
        (8192, 0, true),
    ];
    let mut want = Vec::new();
    let mut ends = Vec::new();
    for (i, &(len, off, psh)) in parts.iter().enumerate() {
        let d = frames::payload(20 + i as u64, len);
        post_at(&mut b, sock, &d, off, psh);
        want.extend_from_slice(&d);
        if psh {
            ends.push(want.len());
        }
    }
    let mut rx = Vec::new();
    let (v, c, _) = drain(&mut b, ISS, &mut rx, 2000, 600_000);
    assert_eq!(rx.len(), want.len());
    assert!(rx == want, "the stream differs from the posts");
    let n: u32 = tx_done(&c, Status::Ok).iter().map(|c| c.ref_num).sum();
    assert_eq!(n, 4, "{c:?}");
    for s in data_segs(&v) {
        let end = s.seq.wrapping_sub(ISS + 1) as usize + s.len();
        assert_eq!(
            s.psh,
            ends.contains(&end),
            "PSH of the segment ending at {end}"
        );
    }
}

/// ISS just below 2^32: the stream's sequence numbers wrap after 4095 bytes; ACKs across the
/// wrap complete the posts, and an ACK one past SND.MAX is still recognised (BAD_ACK).
fn sequence_numbers_wrap_past_2_32(be: Backend) {
    let iss = 0xFFFF_F000u32;
    let mut b = bench(be);
    let sock = establish(&mut b, iss, 1460, true, 2000);
    let data = frames::payload(30, 20_000);
    post_at(&mut b, sock, &data[..7000], 5, false);
    post_at(&mut b, sock, &data[7000..], 0, true);
    let mut rx = Vec::new();
    let (_, c, _) = drain(&mut b, iss, &mut rx, 2000, 400_000);
    assert!(rx == data, "{} bytes", rx.len());
    let n: u32 = tx_done(&c, Status::Ok).iter().map(|c| c.ref_num).sum();
    assert_eq!(n, 2, "{c:?}");
    let before = b.drv.counter(reg::CNT_DROP_BAD_ACK);
    ack_off(&mut b, iss, 20_001, 2000);
    let (v, _) = pump(&mut b, 50_000);
    assert_eq!(b.drv.counter(reg::CNT_DROP_BAD_ACK), before + 1);
    assert!(
        v.iter()
            .any(|s| s.seq == iss.wrapping_add(1).wrapping_add(20_000)),
        "the answering ACK carries SEQ = ISS + 1 + SND.MAX: {v:?}"
    );
}

/// A closed window (RFC 9293 3.8.6.1): the probe byte is sent again while the peer answers
/// without taking it, the connection is never given up while it answers, the next probe moves
/// on once the byte is taken, and data flows again when the window opens.
fn answered_probes_never_give_up(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, false, 60_000);
    let data = frames::payload(40, 20_000);
    post_at(&mut b, sock, &data, 0, true);
    let (v, _) = pump(&mut b, 30_000);
    let sent: usize = data_segs(&v).iter().map(|s| s.len()).sum();
    assert_eq!(sent, 14_600, "the initial window (RFC 6928)");
    ack_off(&mut b, ISS, 14_600, 0);
    // Twice the retry limit of unanswered-looking probes, each answered.
    for i in 0..8 {
        let (v, _) = pump_until(&mut b, 400_000, |s| s.len() > 0);
        let d = data_segs(&v);
        assert_eq!(d.len(), 1, "probe {i}: {v:?}");
        assert_eq!((d[0].seq, d[0].len()), (ISS + 1 + 14_600, 1), "probe {i}");
        assert!(!v.iter().any(|s| s.rst), "probe {i}: {v:?}");
        ack_off(&mut b, ISS, 14_600, 0);
    }
    // The peer takes the byte (the window stays closed): the next probe is the next byte.
    ack_off(&mut b, ISS, 14_601, 0);
    let (v, _) = pump_until(&mut b, 400_000, |s| s.len() > 0);
    let d = data_segs(&v);
    assert_eq!(d.len(), 1, "{v:?}");
    assert_eq!((d[0].seq, d[0].len()), (ISS + 1 + 14_601, 1));
    assert_eq!(d[0].payload[0], data[14_601]);
    // The window opens: the rest follows.
    let mut rx = data[..14_602].to_vec();
    ack_off(&mut b, ISS, 14_602, 60_000);
    let (v, c, _) = drain(&mut b, ISS, &mut rx, 60_000, 300_000);
    assert!(rx == data, "{} bytes", rx.len());
    assert!(!v.iter().any(|s| s.rst));
    assert_eq!(tx_done(&c, Status::Ok).len(), 1, "{c:?}");
    assert!(b.drv.counter(reg::CNT_TX_PROBES) >= 9);
    assert_eq!(b.drv.counter(reg::CNT_TX_RTO), 0);
}

/// Unanswered probes count like timeouts: after TX_RETRIES (4) probes the next expiry sends an
/// RST (SEQ = ISS + 1 + SND.MAX) and the post comes back TIMEOUT with its acknowledged bytes.
fn unanswered_probes_end_in_a_reset(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, false, 60_000);
    let data = frames::payload(41, 20_000);
    post_at(&mut b, sock, &data, 0, true);
    pump(&mut b, 30_000);
    ack_off(&mut b, ISS, 14_600, 0);
    let (v, c) = pump(&mut b, 2_500_000);
    let probes: Vec<_> = data_segs(&v);
    assert_eq!(probes.len(), 4, "{v:?}");
    assert!(probes
        .iter()
        .all(|s| s.seq == ISS + 1 + 14_600 && s.len() == 1));
    let rst: Vec<_> = v.iter().filter(|s| s.rst).collect();
    assert_eq!(rst.len(), 1, "{v:?}");
    assert_eq!(rst[0].seq, ISS + 1 + 14_601);
    let t = tx_done(&c, Status::Timeout);
    assert_eq!(t.len(), 1, "{c:?}");
    assert_eq!((t[0].ref_num, t[0].bytes), (1, 14_600));
    assert_eq!(b.drv.counter(reg::CNT_TX_PROBES), 4);
    assert_eq!(b.drv.counter(reg::CNT_TX_RTO), 0);
}

/// NewReno (RFC 6582): three duplicate ACKs resend the segment at SND.UNA, a partial ACK resends
/// the next hole at once, a full ACK ends recovery; no timeout meanwhile.
fn newreno_partial_then_full_ack(be: Backend) {
    let mut b = bench_with(be, 40);
    let sock = establish(&mut b, ISS, 1000, false, 60_000);
    // (the handshake may have resent the SYN-ACK)
    let retrans0 = b.drv.counter(reg::CNT_TX_RETRANS);
    let data = frames::payload(50, 10_000);
    post_at(&mut b, sock, &data, 0, true);
    let (v, _) = pump(&mut b, 30_000);
    assert_eq!(data_segs(&v).len(), 10, "{v:?}");
    ack_off(&mut b, ISS, 1000, 60_000);
    pump(&mut b, 5_000);
    for _ in 0..3 {
        ack_off(&mut b, ISS, 1000, 60_000);
    }
    let (v, _) = pump(&mut b, 10_000);
    let d = data_segs(&v);
    assert_eq!(d.len(), 1, "fast retransmit: {v:?}");
    assert_eq!((d[0].seq, d[0].len()), (ISS + 1 + 1000, 1000));
    assert_eq!(d[0].payload, data[1000..2000]);
    assert_eq!(b.drv.counter(reg::CNT_TX_FAST_RETRANS), 1);
    // More duplicates inflate the window; nothing new to send.
    for _ in 0..2 {
        ack_off(&mut b, ISS, 1000, 60_000);
    }
    let (v, _) = pump(&mut b, 10_000);
    assert!(data_segs(&v).is_empty(), "{v:?}");
    // A partial ACK: the next hole at once.
    ack_off(&mut b, ISS, 3000, 60_000);
    let (v, _) = pump(&mut b, 10_000);
    let d = data_segs(&v);
    assert_eq!(d.len(), 1, "partial ACK: {v:?}");
    assert_eq!((d[0].seq, d[0].len()), (ISS + 1 + 3000, 1000));
    assert_eq!(d[0].payload, data[3000..4000]);
    // The full ACK.
    ack_off(&mut b, ISS, 10_000, 60_000);
    let (v, c) = pump(&mut b, 300_000);
    assert!(data_segs(&v).is_empty(), "{v:?}");
    assert_eq!(tx_done(&c, Status::Ok).len(), 1, "{c:?}");
    assert_eq!(b.drv.counter(reg::CNT_TX_RTO), 0);
    assert_eq!(b.drv.counter(reg::CNT_TX_RETRANS), retrans0 + 2);
    assert_eq!(b.drv.counter(reg::CNT_TX_FAST_RETRANS), 1);
}

/// Our FIN rides on the last data segment; its loss is repaired by the timer with a FIN alone
/// at ISS + 1 + end; its ACK completes SOCK_CLOSE; the peer's FIN is then acknowledged from
/// SEQ ISS + 1 + end + 1, and a TX_POST is refused.
fn fin_is_retransmitted_alone_and_the_close_completes(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, true, 2000);
    let data = frames::payload(60, 3000);
    // No PSH: the 80-byte tail waits (Nagle) until the FIN follows it.
    post_at(&mut b, sock, &data, 0, false);
    let (v, _) = pump(&mut b, 15_000);
    assert_eq!(data_segs(&v).len(), 2, "{v:?}");
    let ctag = b.drv.sock_close(sock).unwrap();
    let (v, _) = pump(&mut b, 15_000);
    let fins: Vec<_> = v.iter().filter(|s| s.fin).collect();
    assert_eq!(fins.len(), 1, "{v:?}");
    assert_eq!(
        fins[0].seq.wrapping_add(fins[0].len() as u32),
        ISS + 1 + 3000
    );
    assert!(fins[0].len() > 0, "the FIN rides on the last data segment");
    ack_off(&mut b, ISS, 3000, 2000);
    let (v, c) = pump_until(&mut b, 300_000, |s| s.fin);
    assert_eq!(tx_done(&c, Status::Ok).len(), 1, "{c:?}");
    let f: Vec<_> = v.iter().filter(|s| s.fin).collect();
    assert_eq!(f.len(), 1, "{v:?}");
    assert_eq!((f[0].seq, f[0].len()), (ISS + 1 + 3000, 0));
    assert!(data_segs(&v).is_empty(), "{v:?}");
    ack_off(&mut b, ISS, 3001, 2000);
    let (v, c) = pump(&mut b, 200_000);
    assert!(
        c.iter()
            .any(|c| c.kind == CplKind::CmdDone && c.tag == ctag && c.status == Status::Ok),
        "{c:?}"
    );
    assert!(!v.iter().any(|s| s.fin), "no FIN after its ACK: {v:?}");
    // FIN_WAIT_2: the peer's FIN.
    let finack = F {
        ack: Some(ISS + 1 + 3001),
        fin: true,
        ..F::default()
    };
    b.wire.send(pkt(ISN + 1, 2000, finack, &[], &[]));
    let (v, _) = pump(&mut b, 50_000);
    assert!(
        v.iter()
            .any(|s| s.ack == ISN + 2 && s.seq == ISS + 1 + 3001 && !s.fin),
        "{v:?}"
    );
    let t = post_at(&mut b, sock, &data[..10], 0, true);
    let (_, c) = pump(&mut b, 50_000);
    assert!(
        c.iter().any(|c| c.tag == t && c.status == Status::BadSock),
        "{c:?}"
    );
}

/// A simultaneous close where the peer's FIN also acknowledges ours: SOCK_CLOSE completes and
/// the peer's FIN is acknowledged (FIN_WAIT_1 -> TIME_WAIT); a repeated FIN is acknowledged
/// again.
fn a_fin_that_acks_our_fin_completes_the_close(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, true, 2000);
    let data = frames::payload(61, 1000);
    post_at(&mut b, sock, &data, 0, true);
    let ctag = b.drv.sock_close(sock).unwrap();
    let (v, _) = pump(&mut b, 40_000);
    assert!(
        v.iter()
            .any(|s| s.fin && s.seq.wrapping_add(s.len() as u32) == ISS + 1 + 1000),
        "{v:?}"
    );
    let finack = F {
        ack: Some(ISS + 1 + 1001),
        fin: true,
        ..F::default()
    };
    b.wire.send(pkt(ISN + 1, 2000, finack, &[], &[]));
    let (v, c) = pump(&mut b, 100_000);
    assert!(
        c.iter()
            .any(|c| c.kind == CplKind::CmdDone && c.tag == ctag && c.status == Status::Ok),
        "{c:?}"
    );
    assert_eq!(tx_done(&c, Status::Ok).len(), 1, "{c:?}");
    assert!(
        v.iter()
            .any(|s| s.ack == ISN + 2 && s.seq == ISS + 1 + 1001),
        "{v:?}"
    );
    assert!(!v.iter().any(|s| s.fin || s.rst), "{v:?}");
    b.wire.send(pkt(ISN + 1, 2000, finack, &[], &[]));
    let (v, _) = pump(&mut b, 50_000);
    assert!(v.iter().any(|s| s.ack == ISN + 2), "{v:?}");
    let (v, _) = pump(&mut b, 300_000);
    assert!(v.is_empty(), "nothing after TIME_WAIT's ACK: {v:?}");
}

/// The peer's FIN first (our FIN not yet acknowledged: CLOSING), then the ACK of our FIN.
fn closing_then_the_ack_of_our_fin(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, true, 2000);
    let data = frames::payload(62, 1000);
    post_at(&mut b, sock, &data, 0, true);
    let ctag = b.drv.sock_close(sock).unwrap();
    pump(&mut b, 40_000);
    let fin_only_data = F {
        ack: Some(ISS + 1 + 1000),
        fin: true,
        ..F::default()
    };
    b.wire.send(pkt(ISN + 1, 2000, fin_only_data, &[], &[]));
    let (v, c) = pump(&mut b, 30_000);
    assert!(v.iter().any(|s| s.ack == ISN + 2), "{v:?}");
    assert!(
        !c.iter().any(|c| c.tag == ctag),
        "the close waits for its FIN's ACK: {c:?}"
    );
    b.wire
        .send(pkt(ISN + 2, 2000, acking(ISS + 1 + 1001), &[], &[]));
    let (_, c) = pump(&mut b, 50_000);
    assert!(
        c.iter()
            .any(|c| c.kind == CplKind::CmdDone && c.tag == ctag && c.status == Status::Ok),
        "{c:?}"
    );
}

/// All data acknowledged with a zero window, then SOCK_CLOSE: the FIN goes alone without
/// waiting for the window; unanswered, it is sent again by the persist timer (a probe, not an
/// RTO); its ACK (still a zero window) completes the close.
fn a_fin_into_a_zero_window(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, true, 2000);
    let data = frames::payload(63, 1000);
    post_at(&mut b, sock, &data, 0, true);
    pump(&mut b, 40_000);
    ack_off(&mut b, ISS, 1000, 0);
    pump(&mut b, 20_000);
    let ctag = b.drv.sock_close(sock).unwrap();
    let (v, _) = pump(&mut b, 20_000);
    let f: Vec<_> = v.iter().filter(|s| s.fin).collect();
    assert_eq!(f.len(), 1, "{v:?}");
    assert_eq!((f[0].seq, f[0].len()), (ISS + 1 + 1000, 0));
    let (v, _) = pump_until(&mut b, 400_000, |s| s.fin);
    let f: Vec<_> = v.iter().filter(|s| s.fin).collect();
    assert_eq!(f.len(), 1, "{v:?}");
    assert_eq!((f[0].seq, f[0].len()), (ISS + 1 + 1000, 0));
    assert_eq!(b.drv.counter(reg::CNT_TX_RTO), 0);
    assert!(b.drv.counter(reg::CNT_TX_PROBES) >= 1);
    ack_off(&mut b, ISS, 1001, 0);
    let (_, c) = pump(&mut b, 50_000);
    assert!(
        c.iter()
            .any(|c| c.kind == CplKind::CmdDone && c.tag == ctag && c.status == Status::Ok),
        "{c:?}"
    );
}

/// SOCK_DEL with posts in flight: the wholly acknowledged post completed OK before; the one
/// acknowledged in part comes back RESET with its acknowledged bytes, the one never sent with
/// 0; nothing is sent after.
fn sock_del_returns_partly_acked_posts(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1000, false, 4500);
    let data = frames::payload(70, 9000);
    post_at(&mut b, sock, &data[..3000], 0, false);
    let t2 = post_at(&mut b, sock, &data[3000..6000], 100, false);
    let t3 = post_at(&mut b, sock, &data[6000..], 200, true);
    let (v, _) = pump(&mut b, 40_000);
    let sent: usize = data_segs(&v).iter().map(|s| s.len()).sum();
    assert_eq!(sent, 4000, "a 4500-byte window, Nagle: {v:?}");
    ack_off(&mut b, ISS, 3500, 4500);
    let (_, c) = pump(&mut b, 40_000);
    let t = tx_done(&c, Status::Ok);
    assert_eq!((t.len(), t[0].ref_num, t[0].bytes), (1, 1, 3000), "{c:?}");
    let c = b.drv.del_socket(sock).unwrap();
    let t = tx_done(&c, Status::Reset);
    assert_eq!(t.len(), 1, "{c:?}");
    assert_eq!((t[0].ref_num, t[0].bytes, t[0].tag), (2, 500, t3));
    assert_ne!(t2, t3);
    let (v, _) = pump(&mut b, 400_000);
    assert!(v.is_empty(), "{v:?}");
}

/// A timeout rewinds SND.NXT to SND.UNA inside a post that starts at FIRST_OFF 100, on a page
/// boundary: the retransmission is read from the right bytes, and go-back-N continues from
/// the cursor it leaves.
fn retransmission_after_a_timeout_crosses_a_page(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1000, false, 60_000);
    let data = frames::payload(80, 10_000);
    post_at(&mut b, sock, &data, 100, true);
    let (v, _) = pump(&mut b, 40_000);
    assert_eq!(data_segs(&v).len(), 10, "{v:?}");
    // Bytes 0..3900 arrived (an ACK inside a segment), then the peer goes quiet.
    ack_off(&mut b, ISS, 3900, 60_000);
    let (v, _) = pump_until(&mut b, 400_000, |s| s.len() > 0);
    let d = data_segs(&v);
    assert!(!d.is_empty(), "{v:?}");
    assert_eq!((d[0].seq, d[0].len()), (ISS + 1 + 3900, 1000));
    assert!(
        d[0].payload == data[3900..4900],
        "the retransmission's bytes"
    );
    assert_eq!(b.drv.counter(reg::CNT_TX_RTO), 1);
    let mut rx = data[..3900].to_vec();
    let (_, c, _) = drain(&mut b, ISS, &mut rx, 60_000, 400_000);
    assert!(rx == data, "{} bytes", rx.len());
    assert_eq!(tx_done(&c, Status::Ok).len(), 1, "{c:?}");
}

/// After a timeout rewound SND.NXT, an ACK beyond it (the peer had the bytes) moves SND.NXT up:
/// the next segment is read from the post holding the new SND.NXT, several posts past the head.
fn an_ack_past_the_rewound_nxt(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1000, false, 60_000);
    let data = frames::payload(90, 7000);
    for k in 0..10 {
        post_at(&mut b, sock, &data[k * 700..(k + 1) * 700], 4000, k == 9);
    }
    let (v, _) = pump(&mut b, 40_000);
    let sent: usize = data_segs(&v).iter().map(|s| s.len()).sum();
    assert_eq!(sent, 7000, "{v:?}");
    // Nothing acknowledged: the timer resends the first segment (CWND = 1 MSS).
    let (v, _) = pump_until(&mut b, 400_000, |s| s.len() > 0);
    let d = data_segs(&v);
    assert_eq!((d[0].seq, d[0].len()), (ISS + 1, 1000), "{v:?}");
    // The peer had bytes up to 2450 (a post's middle, past the rewound SND.NXT).
    ack_off(&mut b, ISS, 2450, 60_000);
    let (v, c) = pump(&mut b, 20_000);
    let d = data_segs(&v);
    assert!(!d.is_empty(), "{v:?}");
    assert_eq!(d[0].seq, ISS + 1 + 2450, "{v:?}");
    for s in &d {
        let off = s.seq.wrapping_sub(ISS + 1) as usize;
        assert!(s.payload == data[off..off + s.len()], "bytes at {off}");
    }
    let n: u32 = tx_done(&c, Status::Ok).iter().map(|c| c.ref_num).sum();
    assert_eq!(n, 3, "{c:?}");
    let mut rx = data[..2450].to_vec();
    let (_, c, _) = drain(&mut b, ISS, &mut rx, 60_000, 300_000);
    assert!(rx == data, "{} bytes", rx.len());
    let n: u32 = tx_done(&c, Status::Ok).iter().map(|c| c.ref_num).sum();
    assert_eq!(n, 7, "{c:?}");
}

/// TX_POST validation: FIRST_OFF 4096, LEN 0, a page list too short are BAD_NB; the same post
/// well formed is accepted.
fn tx_post_validation(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, true, 2000);
    let page = b.drv.env.mem.alloc(2 * PAGE, PAGE).unwrap();
    let list = b.drv.env.mem.alloc(64, 64).unwrap();
    let bad = [
        b.drv.tx_post(sock, list, &[page], 4096, 1, true).unwrap(),
        b.drv.tx_post(sock, list, &[page], 0, 0, true).unwrap(),
        b.drv.tx_post(sock, list, &[page], 1, 4096, true).unwrap(),
        b.drv
            .tx_post(sock, list, &[page, page + PAGE], 4095, 4098, true)
            .unwrap(),
    ];
    let good = b
        .drv
        .tx_post(sock, list, &[page, page + PAGE], 4095, 4097, true)
        .unwrap();
    let (v, c) = pump(&mut b, 30_000);
    for t in bad {
        assert!(
            c.iter().any(|c| c.tag == t && c.status == Status::BadNb),
            "{t}: {c:?}"
        );
    }
    assert!(!c.iter().any(|c| c.tag == good), "{c:?}");
    let sent: usize = data_segs(&v).iter().map(|s| s.len()).sum();
    assert_eq!(sent, 4097);
}

/// A page list at an address that is not 8-byte aligned (nothing in the spec asks for one):
/// its entries are read whole.
fn an_unaligned_page_list(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1460, true, 2000);
    let data = frames::payload(100, 6000);
    let base = b.drv.env.mem.alloc(3 * PAGE, PAGE).unwrap();
    b.drv.env.mem.write(Agent::Cpu, base + 3000, &data).unwrap();
    let list = b.drv.env.mem.alloc(64, 64).unwrap() + 4;
    let pages = [base, base + PAGE, base + 2 * PAGE];
    b.drv.tx_post(sock, list, &pages, 3000, 6000, true).unwrap();
    let mut rx = Vec::new();
    let (_, c, _) = drain(&mut b, ISS, &mut rx, 2000, 200_000);
    assert!(rx == data, "{} bytes {c:?}", rx.len());
    assert_eq!(tx_done(&c, Status::Ok).len(), 1, "{c:?}");
}

/// Jumbo segments (both MSS 9000): each segment's payload crosses three pages and two posts.
fn jumbo_segments_cross_pages_and_posts(be: Backend) {
    let mut b = bench(be);
    let (sock, _) = b.drv.add_socket(&frames::demo_socket(ISS, 9000)).unwrap();
    let opts = [
        TcpOptionElement::MaximumSegmentSize(9000),
        TcpOptionElement::Noop,
        TcpOptionElement::WindowScale(7),
    ];
    b.wire.send(pkt(ISN, 65535, syn(), &opts, &[]));
    assert!(pump(&mut b, 30_000).0.iter().any(|s| s.syn));
    b.wire.send(pkt(ISN + 1, 2000, acking(ISS + 1), &[], &[]));
    pump(&mut b, 20_000);
    let data = frames::payload(101, 40_000);
    post_at(&mut b, sock, &data[..13_333], 3001, false);
    post_at(&mut b, sock, &data[13_333..], 17, true);
    let mut rx = Vec::new();
    let (v, c, _) = drain(&mut b, ISS, &mut rx, 2000, 400_000);
    assert!(rx == data, "{} bytes", rx.len());
    assert!(
        data_segs(&v).iter().any(|s| s.len() == 9000),
        "no jumbo segment"
    );
    let n: u32 = tx_done(&c, Status::Ok).iter().map(|c| c.ref_num).sum();
    assert_eq!(n, 2, "{c:?}");
}

/// SOCK_CLOSE with ABORT while posts are in flight and a graceful close waits: one RST|ACK at
/// SND.NXT goes out, the post acknowledged in part comes back RESET with its acknowledged bytes,
/// the pending close CMD_DONE RESET, then the abort's CMD_DONE OK; nothing is sent after, and
/// the peer's next segment finds a CLOSED socket. An abort of a socket in LISTEN sends nothing.
fn abort_sends_rst_and_returns_everything(be: Backend) {
    use buflet_spec::Opcode;
    let mut b = bench(be);
    let sock = establish(&mut b, ISS, 1000, false, 3000);
    let data = frames::payload(71, 6000);
    let t1 = post_at(&mut b, sock, &data, 0, true);
    let (v, _) = pump(&mut b, 40_000);
    let sent: usize = data_segs(&v).iter().map(|s| s.len()).sum();
    assert_eq!(sent, 3000, "a 3000-byte window: {v:?}");
    ack_off(&mut b, ISS, 1000, 0); // 1000 bytes taken, the window closed
    let close = b.drv.sock_close(sock).unwrap();
    let (_, c) = pump(&mut b, 20_000);
    assert!(c.iter().all(|c| c.kind != CplKind::TxDone), "{c:?}");
    let abort = b.drv.sock_abort(sock).unwrap();
    let (v, c) = pump(&mut b, 40_000);
    let rst: Vec<&Seg> = v.iter().filter(|s| s.rst).collect();
    assert_eq!(rst.len(), 1, "one RST: {v:?}");
    assert_eq!(
        rst[0].seq,
        ISS.wrapping_add(1).wrapping_add(3000),
        "RST at SND.NXT"
    );
    assert_eq!(v.len(), 1, "nothing but the RST: {v:?}");
    let t = tx_done(&c, Status::Reset);
    assert_eq!(t.len(), 1, "{c:?}");
    assert_eq!((t[0].tag, t[0].ref_num, t[0].bytes), (t1, 1, 1000));
    let cmd: Vec<(u32, Status)> = c
        .iter()
        .filter(|c| c.kind == CplKind::CmdDone && c.opcode == Opcode::SockClose.code())
        .map(|c| (c.tag, c.status))
        .collect();
    assert_eq!(cmd, [(close, Status::Reset), (abort, Status::Ok)], "{c:?}");
    // The socket is closed: the peer's ACK gets nothing back, later ticks send nothing.
    ack_off(&mut b, ISS, 2000, 3000);
    let (v, _) = pump(&mut b, 400_000);
    assert!(v.iter().all(|s| s.rst || s.len() == 0), "{v:?}");
    assert!(data_segs(&v).is_empty(), "{v:?}");
    b.drv.del_socket(sock).unwrap();

    // LISTEN: nothing to reset.
    let mut b = bench(be);
    let (sock, _) = b.drv.add_socket(&frames::demo_socket(ISN, 1000)).unwrap();
    let abort = b.drv.sock_abort(sock).unwrap();
    let (v, c) = pump(&mut b, 20_000);
    assert!(v.is_empty(), "{v:?}");
    assert!(
        c.iter().any(|c| c.tag == abort && c.status == Status::Ok),
        "{c:?}"
    );
}

on_both!(
    abort_sends_rst_and_returns_everything,
    a_reused_page_list_is_read_again,
    one_segment_spans_many_one_byte_posts,
    first_off_posts_cross_pages,
    sequence_numbers_wrap_past_2_32,
    answered_probes_never_give_up,
    unanswered_probes_end_in_a_reset,
    newreno_partial_then_full_ack,
    fin_is_retransmitted_alone_and_the_close_completes,
    a_fin_that_acks_our_fin_completes_the_close,
    closing_then_the_ack_of_our_fin,
    a_fin_into_a_zero_window,
    sock_del_returns_partly_acked_posts,
    retransmission_after_a_timeout_crosses_a_page,
    an_ack_past_the_rewound_nxt,
    tx_post_validation,
    an_unaligned_page_list,
    jumbo_segments_cross_pages_and_posts,
);
