//! RTL test of `toe_tx` (models `toe_tx_s8_p8`: 8 sockets, 8 post slots; `toe_tx_s4_p5`:
//! 4 sockets, 5 post slots). toe_tx has no DATA_WIDTH parameter (it handles the send state,
//! the post table and the pieces, not bus words; `tx_data` and `tx_builder` are the
//! width-dependent part, tested in rtl_tx_data.rs and rtl_tx_builder/), so it is run at its
//! table sizes instead. The model is built through a test wrapper
//! (`rtl_toe_tx/toe_tx_peek.sv`) that passes every port through and shows toe_tx's working
//! send state `sn`, so every snd_ctx field is checked after every step.
//!
//! The test drives toe_tx cycle by cycle as toe_engine's states do (`ld`, the step, `wb`;
//! requests TX_POST / SOCK_CLOSE with their statuses; SOCK_ADD with and without CONNECT; a
//! peer's SYN, the handshake's ACK, a SYN-ACK of an active open, an RST in SYN_RCVD, an RST
//! refusing an active open, the peer's RST; ACK frames with completions by the post walk;
//! timer ticks with the SYN-ACK timer, retransmission timeouts, probes and give-ups, each
//! followed by the abort sequence (`in_abort`, the post walk of every post, the pending
//! tags); SOCK_DEL; the send step: pop of the send-ready FIFO, `in_seg`, `seg_go`, the piece
//! walk, `in_sent`). Each run is a
//! seeded random stream of these over several sockets, with a peer that acknowledges new
//! data, repeats ACKs (duplicates), sends old ACKs and ACKs of data never sent, changes and
//! closes its window, sends FIN; random idle cycles with garbage on every data input between
//! and inside the steps, random backpressure on the piece stream (m_pc), the send-ready FIFO
//! popped at random times.
//!
//! The reference (`reference.rs`) is the model's send logic (`model/src/toe/snd.rs`, whose
//! `Snd` is private to the model) restated independently of the RTL, from
//! docs/tcp-transmit.md, in the order toe_engine applies it (snd_wake's persist start at
//! every write-back, as toe_tx documents). It keeps two things as toe_tx does where the model
//! has no state to compare: TAIL_PSH stays set once the posts are gone (they differ only after
//! SOCK_DEL returned an open socket's posts), and the probe that gives up does not count in
//! BACKOFF (nothing reads it after the abort). Checked against it:
//! - after every step, every field of the working send state: UNA, NXT, MAX, END, the window
//!   and WL1/WL2, CWND, SSTHRESH and ABC (slow start, RFC 3465 byte counting), DUPACKS,
//!   RECOVER and the RECOVERY/RETX flags (the third duplicate, further duplicates, NewReno
//!   partial and full ACKs), SRTT/RTTVAR/RTO, TIMER, BACKOFF (its doubling and reset), the
//!   RTT sample, PERSIST/PROBE, the FIN and the pending close/connect with their tags, the
//!   post list's head, tail, head end and tail PSH (slots taken lowest first);
//! - TX_POST's status (BAD_SOCK, BAD_NB, NO_POST when every slot holds a post, OK) and
//!   SOCK_CLOSE's; `ack_unsent`, `snd_seq`, `pw_need`, `close_due`, `fin_acked`, the tags;
//!   the tick's decisions (`tk_*`);
//! - the send step's segment (`seg_any`, SEQ, length, FIN) and its pieces: one per post the
//!   segment touches, hmd, offset in the page list, length, `last`, PSH only on the last
//!   piece when it ends a PSH post;
//! - the post walk: completions by range (count, bytes, the last post's tag) when UNA passes
//!   post ends, and every post returned (count, bytes acknowledged, tag) on an abort or
//!   SOCK_DEL, their slots free again;
//! - the send-ready FIFO: `tq_valid`, and the order of sockets popped (each socket at most
//!   once in it, a deleted socket's entry left there);
//! - the counter pulses (fast retransmits, probes, retransmissions, data segments and bytes)
//!   in total.
//!
//! Every run asserts that the interesting cases happened (fast retransmits, partial and full
//! ACKs, timeouts, probes, give-ups, NO_POST, multi-post segments, PSH pieces, ...). The
//! full-rate runs (no idle cycles, no backpressure) check the walks' speed: a piece walk hands
//! on one piece per cycle (k pieces within k + 2 cycles of `seg_go`), a post walk takes two
//! cycles per post (c posts within 2c + 3 cycles of `pw_go`).
//!
//! The crafted runs (`directed.rs`) assert hand-computed values: the initial window, slow
//! start, the third duplicate ACK (SSTHRESH, CWND, RECOVER), inflation, the fast retransmit,
//! NewReno's partial and full ACKs, byte counting (CWND grows when exactly CWND bytes are
//! acknowledged); the pieces of a segment over three posts; NO_POST with every slot taken,
//! completions by range, slot reuse, every post returned on SOCK_DEL and the peer's RST; RTO
//! expiry, go-back-N, the doubling capped at RTO_MAX, BACKOFF reset by an ACK, the give-up at
//! TX_RETRIES.

mod bench;
mod directed;
mod driver;
mod reference;

#[test]
fn toe_tx_s8_p8_newreno_and_byte_counting() {
    directed::newreno_and_byte_counting("toe_tx_s8_p8");
}

#[test]
fn toe_tx_s8_p8_posts_and_pieces() {
    directed::posts_and_pieces("toe_tx_s8_p8", 8);
}

#[test]
fn toe_tx_s4_p5_posts_and_pieces() {
    directed::posts_and_pieces("toe_tx_s4_p5", 5);
}

#[test]
fn toe_tx_s8_p8_rto_backoff_and_give_up() {
    directed::rto_backoff_and_give_up("toe_tx_s8_p8");
}

buflet_testbench::run_table! { driver::run;
    toe_tx_s8_p8_random: ("toe_tx_s8_p8", 8, 8, 61, 60000, 0.3, 0.3);
    toe_tx_s4_p5_random: ("toe_tx_s4_p5", 4, 5, 62, 60000, 0.3, 0.3);
    toe_tx_s8_p8_heavy_backpressure: ("toe_tx_s8_p8", 8, 8, 63, 30000, 0.1, 0.8);
    toe_tx_s4_p5_heavy_backpressure: ("toe_tx_s4_p5", 4, 5, 64, 30000, 0.1, 0.8);
    toe_tx_s8_p8_full_rate: ("toe_tx_s8_p8", 8, 8, 65, 60000, 0.0, 0.0);
    toe_tx_s4_p5_full_rate: ("toe_tx_s4_p5", 4, 5, 66, 60000, 0.0, 0.0);
}
