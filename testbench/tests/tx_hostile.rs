//! The send side against crafted peers (docs/tcp-transmit.md, issue 12): each case is a
//! regression a review of the model found. Frames are built with etherparse and the NIC's
//! frames parsed with it. Every case runs on both backends (`model::*`, `rtl::*`).

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

/// A segment the NIC sent.
#[derive(Debug)]
struct Seg {
    len: usize,
    syn: bool,
    rst: bool,
    frame_len: usize,
}

fn parse(f: &[u8]) -> Seg {
    let p = SlicedPacket::from_ethernet(f).expect("the NIC's frame parses");
    let Some(TransportSlice::Tcp(t)) = &p.transport else {
        panic!("not TCP")
    };
    Seg {
        len: t.payload().len(),
        syn: t.syn(),
        rst: t.rst(),
        frame_len: f.len(),
    }
}

/// A model with a fast timer (a tick per 2500 cycles, RTO 20 ticks, at most 64, 4 retries).
fn bench(be: Backend) -> Bench {
    let mut b = Bench::builder(be)
        .mem(64 << 20)
        .blank_disk(1 << 20)
        .name("txh")
        .build()
        .unwrap();
    b.drv.set_timer_period(2500);
    b.drv.wr(reg::RTO_INIT, 20);
    b.drv.wr(reg::RTO_MIN, 2);
    b.drv.wr(reg::RTO_MAX, 64);
    b.drv.wr(reg::TX_RETRIES, 4);
    b
}

/// Run `cycles`; the NIC's segments and the completions.
fn pump(b: &mut Bench, cycles: u64) -> (Vec<Seg>, Vec<Completion>) {
    let (mut v, mut c) = (Vec::new(), Vec::new());
    let mut ran = 0;
    while ran < cycles {
        c.extend(b.drv.wait(20_000).unwrap());
        ran += 20_000;
        while let Some(f) = b.wire.recv() {
            v.push(parse(&f));
        }
    }
    (v, c)
}

fn post(b: &mut Bench, sock: u16, bytes: usize) {
    let data = frames::payload(7, bytes);
    let npages = (bytes as u64).div_ceil(4096);
    let base = b.drv.env.mem.alloc(npages * 4096, 4096).unwrap();
    b.drv.env.mem.write(Agent::Cpu, base, &data).unwrap();
    let pages: Vec<u64> = (0..npages).map(|i| base + i * 4096).collect();
    let list = b.drv.env.mem.alloc(8 * npages, 64).unwrap();
    b.drv
        .tx_post(sock, list, &pages, 0, bytes as u32, true)
        .unwrap();
}

fn syn_opts(mss: u16) -> Vec<TcpOptionElement> {
    vec![
        TcpOptionElement::MaximumSegmentSize(mss),
        TcpOptionElement::Noop,
        TcpOptionElement::WindowScale(7),
    ]
}

fn syn() -> F {
    F {
        syn: true,
        ..F::default()
    }
}

/// Handshake with a peer offering `mss`; the socket.
fn establish(b: &mut Bench, mss: u16) -> u16 {
    let (sock, _) = b.drv.add_socket(&frames::demo_socket(ISS, 1460)).unwrap();
    b.wire.send(pkt(ISN, 65535, syn(), &syn_opts(mss), &[]));
    assert!(pump(b, 100_000).0.iter().any(|s| s.syn), "no SYN-ACK");
    let ack = F {
        ack: Some(ISS + 1),
        ..F::default()
    };
    b.wire.send(pkt(ISN + 1, 2000, ack, &[], &[]));
    pump(b, 100_000);
    sock
}

/// A SYN then an RST (a SYN scan): the socket listens again, quietly, and answers the next SYN.
fn a_reset_half_open_socket_listens_again(be: Backend) {
    let mut b = bench(be);
    b.drv.add_socket(&frames::demo_socket(ISS, 1460)).unwrap();
    b.wire.send(pkt(ISN, 65535, syn(), &syn_opts(1460), &[]));
    pump(&mut b, 50_000);
    let rst = F {
        rst: true,
        ..F::default()
    };
    b.wire.send(pkt(ISN + 1, 0, rst, &[], &[]));
    let (v, _) = pump(&mut b, 5_000_000);
    assert!(v.is_empty(), "frames after the RST: {v:?}");
    assert_eq!(b.drv.counter(reg::CNT_TX_RTO), 0);
    b.wire
        .send(pkt(ISN + 5000, 65535, syn(), &syn_opts(1460), &[]));
    assert!(
        pump(&mut b, 100_000).0.iter().any(|s| s.syn),
        "the next SYN got no SYN-ACK"
    );
}

/// A SYN-ACK's window is not scaled: an active open sends no more than it allows.
fn the_syn_ack_window_is_not_scaled(be: Backend) {
    let mut b = bench(be);
    let (sock, _) = b
        .drv
        .connect_socket(&frames::demo_socket(ISS, 1460))
        .unwrap();
    pump(&mut b, 50_000);
    post(&mut b, sock, 64 * 1024);
    let synack = F {
        syn: true,
        ack: Some(ISS + 1),
        ..F::default()
    };
    b.wire.send(pkt(ISN, 1000, synack, &syn_opts(1460), &[]));
    let (v, _) = pump(&mut b, 40_000);
    let bytes: usize = v.iter().map(|s| s.len).sum();
    assert!(
        bytes > 0 && bytes <= 1000,
        "{bytes} bytes into a 1000-byte window"
    );
}

/// A peer MSS larger than ours is clamped to ours: no oversized frame.
fn a_huge_peer_mss_is_clamped(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, 65535);
    post(&mut b, sock, 200 * 1024);
    let (v, _) = pump(&mut b, 40_000);
    assert!(v.iter().any(|s| s.len > 0));
    for s in &v {
        assert!(s.len <= 1460 && s.frame_len <= 1514, "{s:?}");
    }
}

/// The peer's RST stops the send side: nothing more is sent (no retransmission, no RST of
/// ours) and the post comes back with RESET.
fn a_peer_reset_stops_sending_and_returns_the_posts(be: Backend) {
    let mut b = bench(be);
    let sock = establish(&mut b, 1460);
    post(&mut b, sock, 1460);
    pump(&mut b, 40_000);
    let rst = F {
        rst: true,
        ..F::default()
    };
    b.wire.send(pkt(ISN + 1, 2000, rst, &[], &[]));
    let (v, c) = pump(&mut b, 5_000_000);
    assert!(v.is_empty(), "frames after the peer's RST: {v:?}");
    assert!(
        c.iter()
            .any(|c| c.kind == CplKind::TxDone && c.status == Status::Reset),
        "{c:?}"
    );
}

/// A third ACK carrying data and FIN still opens the send side: posts go out.
fn a_handshake_ack_with_fin_still_opens_the_send_side(be: Backend) {
    let mut b = bench(be);
    let (sock, _) = b.drv.add_socket(&frames::demo_socket(ISS, 1460)).unwrap();
    b.wire.send(pkt(ISN, 65535, syn(), &syn_opts(1460), &[]));
    pump(&mut b, 30_000);
    let ackfin = F {
        ack: Some(ISS + 1),
        fin: true,
        ..F::default()
    };
    b.wire.send(pkt(ISN + 1, 2000, ackfin, &[], b"hello"));
    pump(&mut b, 30_000);
    post(&mut b, sock, 3000);
    let (v, _) = pump(&mut b, 200_000);
    assert!(v.iter().any(|s| s.len > 0), "no data went out: {v:?}");
    assert!(!v.iter().any(|s| s.rst), "{v:?}");
}

on_both!(
    a_reset_half_open_socket_listens_again,
    the_syn_ack_window_is_not_scaled,
    a_huge_peer_mss_is_clamped,
    a_peer_reset_stops_sending_and_returns_the_posts,
    a_handshake_ack_with_fin_still_opens_the_send_side,
);
