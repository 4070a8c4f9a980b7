//! Directed tests: exact values pinned by hand, every result also checked by the oracle. This
//! file holds their helpers and the backpressure test; the tests are grouped by what they pin:
//! `tcp.rs` (handshake, reassembly, zero window, FIN/RST, SOCK_DEL, PSH, throughput),
//! `window.rs` (the window rule), `rx_paths.rs` (UDP, anonymous buffers, ARP), `timeouts.rs`
//! (ticks and NB timeouts), `hold.rs` (p2p hold sockets and BUF_RELEASE). TOE_MODELS (comma
//! list) restricts them to some models.

pub mod hold;
pub mod listen;
pub mod rx_paths;
pub mod tcp;
pub mod timeouts;
pub mod window;

use crate::*;

/// The models the directed tests run on by default.
const MODELS: [&str; 2] = ["toe_engine_w64", "toe_engine_w512"];

/// The models the directed tests run on: both, or those named in TOE_MODELS (comma list).
pub fn models() -> Vec<&'static str> {
    match std::env::var("TOE_MODELS") {
        Ok(v) => MODELS
            .into_iter()
            .filter(|m| v.split(',').any(|x| x.trim() == *m))
            .collect(),
        Err(_) => MODELS.to_vec(),
    }
}

/// (SEQ, ACK, WINDOW, FLAGS, OPTS, MSS, WSCALE) of a tx command.
pub fn txv(t: &TxCmd) -> (u32, u32, u16, TcpFlags, TxOpts, u16, u8) {
    (t.seq, t.ack, t.window, t.flags, t.opts, t.mss, t.wscale)
}

/// A testbench for a directed test: 60% ready and valid, 50% tx ready.
pub fn dtb(model: &str, seed: u64) -> Tb {
    let mut tb = Tb::new(model, seed);
    tb.p_ready = 60;
    tb.p_valid = 60;
    tb.p_tx = 50;
    tb
}

/// A directed test's testbench (`dtb`) and its stimulus generator, both seeded with `seed`.
pub fn dtb_rng(model: &str, seed: u64) -> (Tb, ChaCha8Rng) {
    (dtb(model, seed), ChaCha8Rng::seed_from_u64(seed))
}

/// Queues a SOCK_ADD of each socket of `socks`, in order, and lets the engine settle.
pub fn add_socks(tb: &mut Tb, socks: &[&SockCfg]) {
    for c in socks {
        tb.sock_add(c);
    }
    tb.settle(10_000);
}

/// A directed testbench with one TCP socket in `slot` (receive buffer `rcv_buf`) added; the
/// socket is the first draw of the stimulus generator.
pub fn one_socket(model: &str, seed: u64, slot: u16, rcv_buf: u32) -> (Tb, ChaCha8Rng, SockCfg) {
    let (mut tb, mut rng) = dtb_rng(model, seed);
    let c = SockCfg::new(slot, &mut rng).buf(rcv_buf);
    add_socks(&mut tb, &[&c]);
    (tb, rng, c)
}

/// The sequence number of byte `k` of the stream of a peer whose ISN is `isn`.
pub fn seq_of(isn: u32) -> impl Fn(usize) -> u32 {
    move |k| isn.wrapping_add(1).wrapping_add(k as u32)
}

/// The end of a directed test: deletes the sockets in `slots`, lets the engine settle and runs
/// the final checks (every buflet free).
pub fn close(tb: &mut Tb, slots: &[u16]) {
    for &slot in slots {
        tb.sock_del(slot);
    }
    tb.settle(20_000);
    tb.final_checks(true);
}

/// Sends the handshake of `c` with peer ISN `isn` and checks the SYN-ACK it produced.
pub fn handshake(tb: &mut Tb, c: &SockCfg, isn: u32, ws: Option<u8>) {
    let mut f = c.frame(isn, 0, SYN, Vec::new());
    f.ws = ws;
    tb.push(f);
    tb.push(c.frame(isn.wrapping_add(1), c.iss.wrapping_add(1), ACK, Vec::new()));
    tb.settle(20_000);
}

/// Sends the handshake of each socket of `socks` (peer ISN `isn`, no window scale) and returns
/// the sequence numbers of their peers' streams (`seq_of(isn)`).
pub fn connect(tb: &mut Tb, socks: &[&SockCfg], isn: u32) -> impl Fn(usize) -> u32 {
    for c in socks {
        handshake(tb, c, isn, None);
    }
    seq_of(isn)
}

/// `n` random bytes from `seed`.
pub fn stream_of(n: usize, seed: u64) -> Vec<u8> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| r.gen()).collect()
}

/// (ref, flags, bytes, stream_off, hdr_bytes) of the NB_RETURN completions from `from` on.
pub fn rets(tb: &Tb, from: usize) -> Vec<(u32, CplFlags, u32, u64, u8)> {
    tb.cpl_log[from..]
        .iter()
        .filter(|c| c.kind == CplKind::NbReturn)
        .map(|c| (c.ref_num, c.flags, c.bytes, c.stream_off, c.hdr_bytes))
        .collect()
}

/// Runs `n` spaced ticks (each one settled) and checks CNT_TICKS moved by exactly `n`.
pub fn ticks(tb: &mut Tb, n: u64) {
    for _ in 0..n {
        let t0 = tb.got.ticks;
        tb.tick();
        tb.settle(20_000);
        assert_eq!(tb.got.ticks, t0 + 1, "one tick per spaced request");
    }
}

/// A bit of everything: a TCP connection with reordering, a UDP socket, anonymous frames, ARP
/// requests, NB timeouts; every result is checked by the oracle.
pub fn mixed_scenario(tb: &mut Tb, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    tb.nic_ip = 0x0A00_0001;
    let mut c = SockCfg::new(0, &mut rng).buf(3000);
    c.wscale = 1;
    let u = SockCfg::new(1, &mut rng).into_udp();
    tb.sock_add(&c);
    tb.sock_add(&u);
    tb.anon_post(0, 2000);
    tb.anon_post(1, 64);
    tb.settle(20_000);
    let isn = 0xFFFF_FFF0u32;
    handshake(tb, &c, isn, Some(4));
    let s = stream_of(5000, seed);
    let seq = seq_of(isn);
    tb.push(c.frame(seq(1000), 0, ACK, s[1000..1800].to_vec()));
    tb.push(c.frame(seq(0), 0, ACK, s[..600].to_vec()));
    tb.push(u.datagram(stream_of(4500, seed + 1)));
    tb.push(arp_frame(rng.gen(), 0x0A00_0009, tb.nic_ip, 0, &mut rng));
    tb.push(raw_frame(DropReason::NotIpv4, 1500, &mut rng));
    tb.push(c.frame(seq(500), 0, ACK | PSH, s[500..1000].to_vec()));
    tb.push(u.datagram(stream_of(30, seed + 2)));
    tb.push(raw_frame(DropReason::NoSocket, 300, &mut rng));
    tb.nb_post_t(0, 0, 1000, 1, false, 0);
    tb.nb_post_t(0, 1, 6000, 2, false, 2);
    tb.nb_post_t(1, 2, 6000, 2, false, 0);
    tb.nb_post_t(1, 3, 10, 1, false, 0);
    tb.settle(100_000);
    ticks(tb, 2);
    tb.push(c.frame(seq(1800), 0, ACK | FIN, s[1800..2500].to_vec()));
    tb.nb_post_t(0, 4, 2000, 1, false, 0);
    tb.settle(100_000);
    assert!(tb.osock[0].as_ref().unwrap().delivered == s[..2500]);
    assert_eq!(tb.osock[0].as_ref().unwrap().end_flag, CplFlags::FIN);
    tb.sock_del(0);
    tb.sock_del(1);
    tb.settle(40_000);
    assert_eq!((tb.got.anon_rx, tb.got.arp, tb.got.timeouts), (2, 1, 1));
    tb.final_checks(true);
}

/// The mixed scenario with one output stream slow (ready 4%) at a time, then all of them (15%).
pub fn backpressure_on_every_output_stream() {
    for model in models() {
        for slow in 0..=6 {
            let mut tb = Tb::new(model, 60 + slow as u64);
            tb.p_valid = 100;
            let mut p = [100u32; 6];
            if slow < 6 {
                p[slow] = 4;
            } else {
                p = [15; 6];
            }
            tb.p_out = Some(p);
            mixed_scenario(&mut tb, 60 + slow as u64);
        }
    }
}
