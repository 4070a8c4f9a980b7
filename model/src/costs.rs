//! Every cycle cost of the model, in one place.
//!
//! The model mirrors an RTL that moves one bus word (`DATA_WIDTH/8` bytes) per cycle on its hot
//! paths. Costs derive from the [`DeviceConfig`]: datapath width, DMA read latency, block device
//! latency and MAC line rate. The small constant overheads below stand for handshakes, table
//! reads and state-machine transitions of the corresponding RTL unit.

use buflet_platform::DeviceConfig;

/// A register read: request handshake, then `m_reg_rvalid` one cycle later.
pub const REG_READ: u64 = 2;
/// A register write: one handshake.
pub const REG_WRITE: u64 = 1;

/// rx_parser's stage B after a frame's last word: the pseudo header added, both sums folded,
/// the checks applied and the metadata register loaded (plus one cycle per SYN option walked).
/// The next frame's words stream in meanwhile; only its last word waits for stage B.
pub const PARSE_OVERHEAD: u64 = 2;
/// Metadata records rx_parser may have finished but toe_engine not yet accepted (the parser
/// stalls the MAC while this is full).
pub const META_FIFO_DEPTH: usize = 2 + buflet_spec::param::RX_META_FIFO as usize;
/// A frame record reaches toe_engine one cycle after the parser's output register hands it to
/// the FIFO (first word fall-through: the write, then the record at the FIFO's head).
pub const META_FIFO_LATENCY: u64 = 1;

/// DMA read request handshake and arbitration, on top of the memory latency and data words.
pub const DMA_RD_OVERHEAD: u64 = 2;
/// From a write request asked to the request taken: the arbiter's grant, then the handshake.
/// A write alone on the port then has its client's first word [`DMA_WR_LEAD`] later, then the
/// data words; writes are split transactions (rtl/dma_wr_arb.v): the next request is taken
/// while a write's data streams, and its words follow without a gap (`WritePort` in lib.rs).
pub const DMA_WR_REQ: u64 = 1;
/// From a client's request taken to its first data word at the host port.
pub const DMA_WR_LEAD: u64 = 1;

/// toe_engine per-frame work: hash, bucket chain walk, socket read-modify-write, chain free.
/// A frame that reaches the socket lookup is charged `ENGINE_FRAME - LOOKUP_FLAT` plus the
/// lookup's own cycles (the bucket read and one per socket visited, docs/tcp-receive.md
/// "Lookup cost"); a frame the lookup never sees (a parser drop, an ARP request) the whole
/// of it. Also the base of a send step.
pub const ENGINE_FRAME: u64 = 8;
/// The part of [`ENGINE_FRAME`] that stood for the hash and a one-socket chain walk (the
/// bucket read and one visit): replaced by `1 + visited` for a frame that reaches the lookup,
/// so a one-socket run costs what it did; by 0 for a frame forwarded to the socket the engine
/// already holds (rtl/toe_engine.v `fw_fast`: the pick reads it) and by 1 for one forwarded
/// to another (S_LOOK1 reads it).
pub const LOOKUP_FLAT: u64 = 2;
/// The part of [`ENGINE_FRAME`] that stood for S_META, the metadata decode: a frame the parser
/// passed for the lookup goes from the pick straight to the bucket read (rtl/toe_engine.v
/// S_IDLE hashes the record at the FIFO's head), so it is not charged; a parser drop, an ARP
/// request or a frame for the anonymous path still is.
pub const META_STEP: u64 = 1;
/// An ARP request for NIC_IP, from the pick to its reply's command queued (rtl/toe_engine.v
/// S_IDLE, S_META, S_TX1): no lookup and no TCP rules, so not [`ENGINE_FRAME`].
pub const ARP_STEPS: u64 = 3;
/// Making an accepted socket (rtl/toe_engine.v S_ACC0, S_ACC1): the pool head read, the
/// descriptor and context written from the template, the chain and active-list heads written.
/// The listen slots' compare itself costs nothing: it is combinational, in the cycle the
/// lookup misses.
pub const ACCEPT_MAKE: u64 = 2;
/// toe_engine per-request work (SOCK_ADD, NB_POST, NOP, unknown): table read-modify-write.
pub const ENGINE_REQ: u64 = 4;
/// SOCK_DEL's fixed steps beyond [`ENGINE_REQ`]: the wait for the mover (S_DEL0), the send
/// side's abort sequence (S_DTX, S_AB0..S_AB6, with [`ABORT_WALK`]), the list dispatch
/// (S_DEL_NB) and the unlinks' heads and end (S_DEL_UL, S_DEL_UL0, S_DEL_AL0, S_DEL_END): 14
/// states and the walk. The hash chain's walk to the predecessor costs one more per socket
/// before it, and so does the active list's (S_DEL_AL1): a delete costs O(active sockets) in
/// the RTL.
pub const DEL_STEPS: u64 = 14 + ABORT_WALK;
/// The abort sequence's post walk over a list with no post left (S_AB1 starts it, S_AB2 waits
/// while it reads the list's end and stops), beyond one cycle in each state (measured with
/// cosim: every SOCK_DEL of a socket with nothing to give back was these cycles short).
pub const ABORT_WALK: u64 = 3;
/// toe_engine per-delivery-step overhead, to the cycle after S_DISSUE: the pick, the socket
/// read (S_DQ), the segment and NB reads (S_D1), S_DISSUE (`mover_write` issues the chunk in
/// its last cycle).
pub const ENGINE_DELIVERY: u64 = 4;
/// A delivery step chained to the frame that grew its socket's in-order list
/// (rtl/toe_engine.v `dl_chain`: the frame's end goes straight to S_D1) skips the pick
/// (S_IDLE) and the socket read (S_DQ).
pub const DELIVERY_CHAINED: u64 = 2;
/// toe_engine returning an NB (or retiring an empty FIN/RST segment) without moving data;
/// also each NB a SOCK_DEL returns.
pub const ENGINE_RETURN: u64 = 3;
/// toe_engine per list step: a reassembly-list element visited by an insert, a segment moved
/// by the in-order drain (or the head read that trims an in-order segment), a segment linked,
/// a segment chain freed by SOCK_DEL. rtl/toe_engine.v walks one element per cycle (registered
/// header/NEXT_SEG reads); raise this if the RTL's steps get slower.
pub const LIST_STEP: u64 = 1;
/// An insertion into the reassembly list: the cycle S_EST1 hands the walk its first element,
/// beyond the walk's reads and the links (model/src/toe/tcp_rx.rs `established`).
pub const INS_STEPS: u64 = 1;
/// toe_engine per head of a `BUF_RELEASE` (docs/p2p.md, rtl/toe_engine.v S_REL0): the
/// held-bitmap read; a head not held ends the request. A hold record itself costs like an
/// 8-byte payload chunk ([`ENGINE_DELIVERY`], the page lookup, one 8-byte DMA write).
pub const RELEASE_STEP: u64 = 1;
/// A held head's chain freed on the pool's free port (S_REL1, once the port is free).
pub const RELEASE_FREE: u64 = 1;
/// toe_engine handing a `tx_cmd` snapshot to the tx command FIFO (one handshake).
pub const ENGINE_TX: u64 = 1;
/// A TCP frame's send-side step after its receive rules (S_SA0: an ACK that completes no post
/// and no close passes in one cycle).
pub const SEND_SIDE_STEP: u64 = 1;
/// The send side's slow steps after S_SA0 (rtl/toe_engine.v S_SA1..S_SA5: the SYN's and the
/// handshake's effects, an active open's SOCK_ADD completion, the peer's RST), taken when
/// `sa_slow` holds: a SYN that enters SYN_RCVD, the handshake's end (SYN_RCVD or SYN_SENT to
/// an open state), SYN_RCVD back to LISTEN, an active open's end, or CLOSED by the frame.
/// S_SA9 follows them (one more cycle), and an ACK goes through S_SA6 and S_SA8 (one each)
/// and the post walk on the way.
pub const SEND_SLOW_STEPS: u64 = 5;
/// When an active open's SOCK_ADD completion is posted, after S_SA0 (S_SA3).
pub const SEND_SLOW_CONNECT: u64 = 3;
/// A send request's socket read and decision (rtl/toe_engine.v S_SR0, S_SR1) before a
/// SOCK_CLOSE with ABORT starts the abort sequence.
pub const SEND_REQ_STEPS: u64 = 2;
/// The abort sequence queueing its RST (S_TXW, S_TXG from S_AB0).
pub const ABORT_RST_PUSH: u64 = 2;
/// The abort sequence the peer's RST runs from S_SA4 (S_AB0..S_AB6, and its post walk).
pub const SEND_ABORT_STEPS: u64 = 7 + ABORT_WALK;
/// An accepted socket leaving SYN_RCVD: its ACCEPT is posted in S_ACPT, after one S_FIN and
/// before another.
pub const ACCEPT_POST: u64 = 1;

/// toe_tx's post walk, per post: its read, then its count and the next read.
pub const POST_WALK_STEP: u64 = 2;

/// toe_tx's walk over the `n` posts an ACK completed (S_SA7 while `pw_busy`): the first
/// post's read, two cycles per post, the stop, and the step out.
pub fn post_walk(n: u64) -> u64 {
    POST_WALK_STEP * n + 3
}

/// S_EST1, the right trim and the in-order / ahead decision: part of [`ENGINE_FRAME`]. A
/// segment that starts at RCV_NXT, fits the window, carries data or FIN and finds the
/// reassembly list empty goes from S_EST0 straight to S_INORD, one cycle sooner.
pub const EST_STEP: u64 = 1;
/// S_FIN, a frame's end (its outcome counted, its socket woken, its chain freed unless kept):
/// part of [`ENGINE_FRAME`]. A kept frame without an ACK of its own (a delayed ACK, a datagram)
/// whose send-side step is the one-cycle common case and that posts no ACCEPT ends in S_SA0
/// instead, one cycle sooner.
pub const FIN_STEP: u64 = 1;
/// A frame's own ACK after its TCP rules: the window settles on the final context (S_TX0),
/// then the command is queued (S_TX1). A kept frame that posts no ACCEPT ends there
/// (rtl/toe_engine.v `tx_fold`: no [`FIN_STEP`]).
pub const FRAME_ACK: u64 = 2;
/// toe_engine starting an anonymous delivery: anonymous list head read and the buflet RAM
/// read latency before the first DMA write (the frame then moves one bus word per cycle, in
/// the DMA writes' own cost).
pub const ANON_DELIVERY: u64 = 4;
/// From a delivery chunk's issue (S_DISSUE: toe_mover takes it, the engine's write request
/// register its request) to its first word at the host port: the mover's start, the buflet
/// RAM's read latency, the skid FIFO and the packer, while the arbiter grants and takes the
/// request (the engine is free meanwhile).
pub const MOVER_LEAD: u64 = 6;
/// toe_mover has made a chunk's reads this many cycles before the chunk's write is done (its
/// skid FIFO and packer still hold the words); the chunk waiting behind it starts then.
pub const MOVER_FREE_EARLY: u64 = 3;
/// How much sooner toe_mover's reads of a chunk end when the DMA port holds its words back:
/// its 4-entry skid FIFO fills, so the reads run that far ahead of the port (beyond
/// [`MOVER_FREE_EARLY`]).
pub const MOVER_SKID: u64 = 2;
/// Between two chunks toe_mover streams back to back: one idle cycle after a chunk's last word
/// (its packer emits the partial last word, then takes the next chunk's first).
pub const MOVER_GAP: u64 = 1;

/// toe_mover's walk along a chain to the buflet holding byte `off` of the frame (S_WALK): one
/// hop per buflet passed and one cycle to start streaming, none when `off` is in the first.
pub fn mover_walk(off: u64, buflet_bytes: u64) -> u64 {
    if off >= buflet_bytes {
        off / buflet_bytes + 1
    } else {
        0
    }
}
/// toe_engine taking a timer tick: the pick (S_IDLE), which goes straight to the active
/// list's first socket.
pub const TIMER_TICK: u64 = 1;
/// Timer sweep, per socket visited: its descriptor and context read and its send timers
/// (rtl/toe_engine.v S_TKS0, S_TKS1); a window update or delayed ACK is queued after them.
pub const TIMER_SEND_STEPS: u64 = 2;
/// Timer sweep, per socket visited: the context's ACT_NEXT and NB_HEAD (S_TK1).
pub const TIMER_VISIT: u64 = 1;
/// Timer sweep, a window update queued: the tx push's window cycle, its queueing and the
/// context write-back (toe_engine S_TXW, S_TXG, S_TKS2).
pub const WINDOW_UPDATE: u64 = 3;
/// Timer sweep, a window update or delayed ACK: from the end of S_TKS1 to the command entering
/// tx_builder's FIFO (S_TXW, where the window settles on the context; S_TXG, the handshake;
/// the FIFO's write).
pub const TICK_PUSH: u64 = 3;
/// Timer sweep, per socket with a head NB: its TIMEOUT/TICKS_LEFT read and write-back (S_TK2),
/// whether or not it has a timeout (a return costs [`ENGINE_RETURN`] more).
pub const TIMER_COUNT: u64 = 1;

/// Entries of toe_engine's tx command FIFO in front of tx_builder (the engine stalls while it
/// is full).
pub const TX_CMD_FIFO_DEPTH: usize = 4;
/// tx_builder's checksum stage between its command register and its frame register.
pub const TX_CSUM_CYCLES: u64 = 1;

/// Request dispatch from req_fetch to toe_engine or the blk_dma FIFO.
pub const DISPATCH: u64 = 1;
/// Entries of the blk_dma command FIFO (request fetch stalls while it is full).
pub const BLK_FIFO_DEPTH: usize = 4;
/// blk_dma per-step state-machine overhead (element decode, chunk bookkeeping).
pub const BLK_STEP: u64 = 2;

/// Entries of a named buffer's page list read at once on a page-cache miss (spec
/// `PAGE_LIST_GROUP`, rtl/toe_deliver.v): the read's round trip is paid once per group.
pub const PG_GROUP: usize = buflet_spec::param::PAGE_LIST_GROUP as usize;

/// Request ring entry and completion entry sizes come from the spec; these are the DMA costs.
pub fn words(cfg: &DeviceConfig, bytes: usize) -> u64 {
    bytes.div_ceil(cfg.bus_bytes()) as u64
}

/// Producing `len` zero bytes for a ZERO scatter-gather element (no memory access).
pub fn zero_fill(cfg: &DeviceConfig, len: usize) -> u64 {
    words(cfg, len) + 1
}

/// Reading `len` bytes of buflet memory from device byte address `addr` for a DEVMEM element
/// (docs/p2p.md): like a host element without the DMA round trip, one RAM word per cycle over
/// the words the range touches, plus the RAM's one-cycle read latency.
pub fn dev_read(cfg: &DeviceConfig, addr: u64, len: usize) -> u64 {
    let bus = cfg.bus_bytes() as u64;
    let lead = (addr % bus) as usize;
    words(cfg, lead + len) + 1
}

/// One block-device read: the request, the device latency, then the 4096-byte data packet one
/// word per cycle (its status follows the last word).
pub fn block_read(cfg: &DeviceConfig, len: usize) -> u64 {
    cfg.disk_latency as u64 + words(cfg, len) + 1
}

/// Cycles from a block write's last data word to its status reaching blk_dma (the device
/// latency); the engine packs the next block meanwhile.
pub fn block_status(cfg: &DeviceConfig) -> u64 {
    cfg.disk_latency as u64
}
