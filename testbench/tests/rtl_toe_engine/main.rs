//! toe_engine module test (Verilated at DATA_WIDTH 64 and 512, small tables): the TCP receive
//! engine 0.2 (docs/tcp-receive.md, with the window right edge RCV_WND_EDGE) and the other
//! receive paths (docs/rx-paths.md: UDP sockets, anonymous buffers, the ARP responder, timer
//! ticks and named-buffer timeouts).
//!
//! The harness serves the buflet pool (data RAM with 1-cycle read latency, combinational link RAM,
//! chain frees, and `pool_free` from its own buflet accounting), host memory and DMA (page-list
//! reads, refused reads, payload writes), the tx command stream, NIC_MAC/NIC_IP and `tick_req`
//! pulses, and feeds requests and rx metadata records with random idle cycles; every output is
//! randomly backpressured.
//!
//! An independent oracle (plain Rust, in `oracle/`) implements the contract: per socket the state
//! machine, the window (`win`, the promise kept in RCV_WND_EDGE, `wnd`, the advertised field and
//! the edge update, from the free count the harness drove in the cycle the engine picked the
//! record), acceptability, trimming, the in-order list and the reassembly list with their exact
//! bytes, delivery of TCP bytes and of UDP datagrams, the anonymous list, ARP answers, the active
//! list and the timer sweep. It is evaluated at the handshakes (request and metadata picks, DMA
//! write requests, completions, chain frees) and at the `ev_tick` pulse, and checks: every tx
//! command (all 48 bytes, in order), every DMA write (address and length), NB and anonymous
//! buffer contents at their completion (payload in host memory before it), every completion,
//! counter events, that every buflet chain is freed exactly once and only when the contract lets
//! it go, and, from the tx commands alone, that the advertised right edge never moves left.
//!
//! The random test drives adaptive peers: each builds its next frame from the oracle's current
//! view (handshake junk, in-order, ahead, retransmitted, duplicate and overlapping segments,
//! segments up to and past the promised edge, out-of-window and zero-window probes, SYN/RST/FIN
//! cases, post-close frames), and bytes that the contract must discard are poisoned, so delivered
//! bytes equal the stream only if the right copy of every byte wins. UDP peers, anonymous
//! buffers, noise frames (parser drops, other protocols, non-IPv4, ARP requests, frames stored
//! in part), random tick requests and NB timeouts run beside them. Directed tests pin exact
//! values by hand. TOE_SEEDS sets the number of random seeds, TOE_MODELS (comma list) restricts
//! the directed tests to some models.
//!
//! The files, by responsibility; the oracle is split file for file as the engine
//! (`rtl/toe_*.v`, `model/src/toe/*.rs`; docs/architecture.md lists the pairs):
//!
//! | file | holds |
//! |---|---|
//! | `main.rs` | shared constants and imports, the list of tests |
//! | `ports.rs` | the toe_engine ports, looked up by name |
//! | `harness/mod.rs` | the testbench state (`Tb`), settling and the end-of-test checks |
//! | `harness/cycle.rs` | one clock cycle: driving the inputs, sampling every handshake, the buflet pool |
//! | `stimulus.rs` | sockets, frames, the tx commands they should produce, the request builders |
//! | `oracle/mod.rs` | the oracle's state, a frame's dispatch, tx commands, completions, chain frees |
//! | `oracle/req.rs` | requests: SOCK_ADD, SOCK_DEL, NB_POST, ANON_POST, BUF_RELEASE, NOP, CMD_DONE |
//! | `oracle/lookup.rs` | the 4-tuple hash and the socket lookup |
//! | `oracle/tcp_rx.rs` | TCP receive: window, states, acceptability, trimming, reassembly, ACK / SYN-ACK, the edge check |
//! | `oracle/deliver.rs` | delivery: chunks, hold records, refused page lists, NB returns |
//! | `oracle/sweep.rs` | the timer tick's sweep |
//! | `oracle/udp_anon.rs` | ARP answers, UDP receive, anonymous buffers |
//! | `peers.rs` | adaptive TCP peers, UDP peers, noise frames |
//! | `random.rs` | the random run and its coverage |
//! | `directed/*.rs` | directed tests: TCP, the window rule, UDP/anonymous/ARP, timeouts, p2p hold |

mod directed;
mod harness;
mod oracle;
mod peers;
mod ports;
mod random;
mod stimulus;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::Ipv4Addr;

use buflet_sim::axis::{AxisBus, AxisSink};
use buflet_sim::{Model, Port};
use buflet_spec::{
    self as spec, AnonDesc, BufRelease, Cpl, CplFlags, CplKind, DropReason, HoldRec, IpProto,
    ListenDesc, NbDesc, Opcode, ReqHdr, SockDesc, SockFlags, SockState, Status, TcpFlags, TxCmd,
    TxKind, TxOpts,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use harness::*;
use oracle::*;
use ports::Ports;
use stimulus::*;

const NULL16: u16 = spec::param::NULL16 as u16;
const PAGE: usize = spec::param::PAGE_BYTES as usize;
const MAX_FRAME: usize = spec::param::MAX_FRAME as usize;
const HOST_BASE: u64 = 0x1_2000_0000;
const HOST_SIZE: usize = 32 << 20;
const REFUSED_BASE: u64 = 0x7777_0000_0000;

/// Short names of the TCP flags, for the frames the peers and the directed tests write.
const FIN: TcpFlags = TcpFlags::FIN;
const SYN: TcpFlags = TcpFlags::SYN;
const RST: TcpFlags = TcpFlags::RST;
const PSH: TcpFlags = TcpFlags::PSH;
const ACK: TcpFlags = TcpFlags::ACK;
const URG: TcpFlags = TcpFlags::URG;

const RELEASE_MAX: usize = spec::param::RELEASE_MAX as usize;
const RECS_PER_PAGE: usize = PAGE / HoldRec::SIZE;

buflet_testbench::test_list! {
    random => {
        toe_engine_w64_random_traffic,
        toe_engine_w512_random_traffic,
    },
    directed::tcp => {
        handshake_syn_ack_fields_and_windows,
        reordering_overlaps_and_duplicates,
        zero_window_trim_and_probes,
        fin_and_rst_in_order_and_ahead,
        sock_del_returns_nbs_frees_segments_and_unlinks,
        psh_return_and_syn_rcvd_reset,
        toe_engine_w64_throughput,
        toe_engine_w512_throughput,
        delivery_chained_to_its_frame,
        frames_chained_to_a_delivery,
    },
    directed::window => {
        window_duplicate_acks_repeat_the_window,
        window_promise_is_honoured_after_the_pool_closes,
        window_syn_ack_sets_the_first_edge,
    },
    directed::rx_paths => {
        udp_datagrams_into_named_buffers,
        anonymous_buffers,
        arp_responder,
    },
    directed::timeouts => {
        timeouts_of_head_named_buffers,
        timeout_between_chunks_wakes_the_next_buffer,
        tick_requests_merge,
        sock_del_in_the_active_list_then_ticks,
    },
    directed => {
        backpressure_on_every_output_stream,
    },
    directed::listen => {
        listen_unlisten_pool_requests_are_validated,
        accept_iss_fields_and_accept_ok,
        listen_full_on_empty_pool_and_half_open_max,
        half_open_reset_timeout_and_delete,
        lookup_cost_counters,
        lookup_forwarding,
        listen_random_accepts_resets_deletes,
    },
    directed::hold => {
        hold_records_held_chains_and_buf_release,
        hold_record_positions_across_pages_and_full_on_record_room,
        hold_fin_and_sock_del_leave_held_chains,
    },
}
