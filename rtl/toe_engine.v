`resetall
`default_nettype none
// toe_engine: the receive side's TCP offload engine (docs/tcp-receive.md, docs/rx-paths.md,
// docs/p2p.md; structure in docs/rtl-modules.md). This file holds the tables, the event pick
// and the one FSM that sequences every step; each responsibility's datapath and decisions
// are a submodule (the model splits the same way, model/src/toe/):
//   toe_req      request decode and validation, the request steps' table writes, CMD_DONE
//   toe_lookup   the 4-tuple hash (frame, SOCK_ADD, SOCK_DEL) and the chain-walk match
//   toe_tcp_rx   window, TCP states, acceptability, trimming, append, drain, reassembly
//                insert, list links, the ACK / SYN-ACK command and the right-edge update
//   toe_deliver  chunk sizing, page cache and page-list read, hold records, NB return
//   toe_sweep    the pending tick, TICKS_LEFT count down and expiry of a head NB
//   toe_udp_anon ARP answer, UDP datagram segment, anonymous buffers (table, FIFO, ANON_RX)
//   toe_listen   listen slots (key match, templates), the accept pool, HALF_OPEN
//   toe_mover    delivery data: chain walk, pipelined RAM read, skid FIFO, axis_packer
// One event is processed completely at a time, picked round-robin in the order frame,
// request, delivery step, tick (rx-paths.md decision 3). The pool's free count is sampled as
// a frame or a request is picked. Tables (registered read address, one write port each):
// sock_mem (sock_desc as posted), ctx_mem (sock_ctx), bkt_mem (hash chain heads, with a valid
// bitmap), nb_mem (nb_desc), hdr_mem (buflet_hdr of a segment's first buflet), nxt_mem (its
// NEXT_SEG), chn_mem ({count, tail} of the chain starting at that buflet); the bitmaps of
// used sockets and NBs, held chains (hold_bm) and held FIN/RST segments still listed (mk_bm);
// the active list head; the pending-delivery FIFO (each socket at most once).
// Listening sockets (docs/tcp-receive.md): a TCP SYN (ACK and RST clear) whose lookup misses
// and that matches a listen slot takes the accept pool's head (S_ACC0, S_ACC1: its sock_desc
// and context written, linked as SOCK_ADD links, HALF_OPEN + 1) and goes on in S_TCP with the
// LISTEN rules; with the pool empty or HALF_OPEN >= HALF_OPEN_MAX it is dropped LISTEN_FULL.
// An accepted socket leaving SYN_RCVD posts ACCEPT in S_ACPT (HALF_OPEN - 1): a frame's after
// its send-side steps and ACK, before S_FIN frees its chain; the SYN-ACK timeout's after the
// state moves to CLOSED; an abort's after its post returns, before its CMD_DONE. SOCK_DEL of
// a half-open accepted socket only counts HALF_OPEN down.
// Lookup cost: ev_lookup per frame looked up, ev_lookup_cyc per cycle in S_LOOK0 (the bucket
// read) and S_LOOK1 (one socket of the chain per cycle) of a walk.
// Forwarding (docs/tcp-receive.md "Forwarding"): the key and index of the socket the last
// walk matched (fw_*) answer the next frames of the same 4-tuple without a walk, until a
// socket is inserted (SOCK_ADD, an accept) or a SOCK_DEL starts. Such a frame goes from the
// pick to S_TCP (S_UDP) when the engine's socket register already names that socket and no
// context is written back in the pick's cycle (its descriptor and context are read at the
// pick), else through S_LOOK1, which reads them; neither counts a lookup cycle.
// Chained delivery (docs/tcp-receive.md "Chained delivery"): a frame whose in-order list grew
// ends in its socket's delivery step (S_D1) when the round robin would pick that step next
// (no request offered, no other socket pending: `dl_chain`), without S_IDLE and S_DQ.
`include "buflet_defs.vh"
`include "buflet_checks.vh"
module toe_engine #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter NUM_SOCKETS  = 64,
    parameter HASH_BUCKETS = 256,
    parameter NUM_NBS      = 64,
    parameter NUM_ANON     = 16,
    parameter NUM_POSTS    = `BF_PARAM_DEF_NUM_POSTS,
    parameter NUM_LISTEN   = `BF_PARAM_DEF_NUM_LISTEN,
    parameter KEEP_WIDTH   = DATA_WIDTH / 8,
    parameter BW_ADDR      = $clog2(NUM_BUFLETS * BUFLET_BYTES / KEEP_WIDTH)
) (
    input  wire                  clk,
    input  wire                  rst,
    // requests
    input  wire                  s_req_valid,
    output wire                  s_req_ready,
    input  wire [511:0]          s_req_data,
    // rx metadata
    input  wire                  s_meta_valid,
    output wire                  s_meta_ready,
    input  wire [3:0]            s_meta_reason,
    input  wire [15:0]           s_meta_len,      // frame length (anonymous delivery, "stored whole")
    input  wire [11:0]           s_meta_vlan,
    input  wire [31:0]           s_meta_src_ip, s_meta_dst_ip,
    input  wire [15:0]           s_meta_src_port, s_meta_dst_port,
    input  wire [31:0]           s_meta_seq,
    input  wire [31:0]           s_meta_ack,      // TCP acknowledgment number
    input  wire [7:0]            s_meta_flags,
    input  wire                  s_meta_ws_valid, // SYN carried window scale
    input  wire [3:0]            s_meta_ws,       // its shift (<= 14)
    input  wire [15:0]           s_meta_window,   // TCP WINDOW field
    input  wire [15:0]           s_meta_mss,      // SYN's MSS option (0 = none)
    input  wire [15:0]           s_meta_pay_off, s_meta_pay_len,
    input  wire [15:0]           s_meta_head, s_meta_tail, s_meta_count,
    input  wire                  s_meta_udp,      // a UDP datagram (reason OK): pay_off = UDP header + 8
    input  wire                  s_meta_arp_req,  // an ARP request (reason NOT_IPV4): src_ip = SPA, dst_ip = TPA
    input  wire [47:0]           s_meta_arp_sha,  // ARP sender MAC, wire byte k in bits [8k+7:8k]
    input  wire [47:0]           s_meta_src_mac,  // Ethernet source MAC, wire byte k in bits [8k+7:8k]
    // ARP responder and timer (reg_block)
    input  wire [47:0]           nic_mac,         // {NIC_MAC_HI[15:0], NIC_MAC_LO}: wire byte k in [8k+7:8k]
    input  wire [31:0]           nic_ip,          // NIC_IP (numeric); 0 = responder off
    input  wire                  tick_req,        // one-cycle pulse: a timer tick is requested
    // send policy (reg_block: RTO_INIT, RTO_MIN, RTO_MAX, TX_RETRIES)
    input  wire [31:0]           rto_init, rto_min, rto_max, tx_retries,
    // listening sockets (reg_block: HALF_OPEN_MAX in, HALF_OPEN and ACCEPT_POOL out)
    input  wire [31:0]           half_open_max,
    output wire [31:0]           half_open,
    output wire [31:0]           accept_pool,
    // payload pieces of data segments, for tx_data (docs/tcp-transmit.md); tx_data is idle
    output wire                  m_pc_valid,
    input  wire                  m_pc_ready,
    output wire [63:0]           m_pc_hmd,
    output wire [31:0]           m_pc_at,
    output wire [15:0]           m_pc_len,
    output wire                  m_pc_last,
    output wire                  m_pc_psh,
    output wire                  m_pc_dev,        // the piece's post is DEVMEM (p2p reads)
    input  wire                  txd_idle,
    output wire                  txd_inval,       // posts complete now: tx_data forgets its cached page
    // buflet pool free count (live)
    input  wire [15:0]           pool_free,
    // chain free
    output wire                  m_free_valid,
    input  wire                  m_free_ready,
    output wire [15:0]           m_free_head, m_free_tail, m_free_count,
    // buflet pool read ports
    output wire [15:0]           link_rd_idx,
    input  wire [15:0]           link_rd_next,
    output wire                  ram_rd_en,
    output wire [BW_ADDR-1:0]    ram_rd_addr,
    input  wire [DATA_WIDTH-1:0] ram_rd_data,
    // DMA read client (page-list entries)
    output wire                  m_dma_rd_req_valid,
    input  wire                  m_dma_rd_req_ready,
    output wire [63:0]           m_dma_rd_req_addr,
    output wire [15:0]           m_dma_rd_req_len,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [DATA_WIDTH-1:0] s_axis_dma_rd_tdata,  // only the first 8 bytes (one page address)
    input  wire [KEEP_WIDTH-1:0] s_axis_dma_rd_tkeep,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                  s_axis_dma_rd_tvalid, s_axis_dma_rd_tlast, s_axis_dma_rd_tuser,
    output wire                  s_axis_dma_rd_tready,
    // DMA write client (payload into named buffers)
    output wire                  m_dma_wr_req_valid,
    input  wire                  m_dma_wr_req_ready,
    output wire [63:0]           m_dma_wr_req_addr,
    output wire [15:0]           m_dma_wr_req_len,
    output wire [DATA_WIDTH-1:0] m_axis_dma_wr_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_dma_wr_tkeep,
    output wire                  m_axis_dma_wr_tvalid, m_axis_dma_wr_tlast,
    input  wire                  m_axis_dma_wr_tready,
    // completions
    output wire                  m_cpl_valid,
    input  wire                  m_cpl_ready,
    output wire [255:0]          m_cpl_data,
    // tx commands (spec layout tx_cmd, 48 bytes, byte k in bits [8k+7:8k])
    output wire                  m_tx_valid,
    input  wire                  m_tx_ready,
    output wire [383:0]          m_tx_data,
    // counter events (one-cycle pulses): a drop and its reason, payload accepted, bytes
    // delivered, an NB returned, a segment inserted into a reassembly list, a frame delivered
    // into an anonymous buffer, an ARP reply queued, a head NB returned by the timer sweep, a
    // timer tick taken, a frame finished without a drop (S_FIN, CNT_RX_DONE)
    output reg                   ev_drop_valid, ev_accepted, ev_delivered_valid, ev_nb_returned, ev_rx_done,
    output reg  [4:0]            ev_drop_reason,
    output reg  [15:0]           ev_delivered_bytes,
    output reg                   ev_ooo_held, ev_anon_rx, ev_arp_reply, ev_timeout, ev_tick,
    // an ACCEPT with status OK (CNT_ACCEPTS); a frame's lookup (CNT_LOOKUPS) and each of its
    // cycles (CNT_LOOKUP_CYCLES: the bucket read, one per socket visited)
    output reg                   ev_accept, ev_lookup, ev_lookup_cyc,
    output reg                   ev_lookup_fwd,   // a lookup answered by forwarding (CNT_LOOKUP_FWD)
    output reg                   ev_dlv_chain,    // a delivery step chained to its frame (CNT_DLV_CHAINED)
    output reg                   ev_frm_chain,    // a frame chained to a delivery step (CNT_FRM_CHAINED)
    // protection lookup (one port of prot_table, docs/protection.md) and fault events
    output wire [63:0]           prot_addr,
    output wire [31:0]           prot_len,
    output wire                  prot_write,
    output wire                  prot_ask,        // a lookup is asked this cycle
    input  wire                  prot_deny,       // the lookup refuses (0: allowed)
    output reg                   ev_fault,        // one access refused (one-cycle pulse)
    output reg  [63:0]           ev_fault_addr,
    output reg                   ev_fault_write,  // 1: a write (NB page, anonymous buffer)
    // p2p hold delivery (docs/p2p.md)
    output reg                   expose_en,       // one-cycle pulse: a hold record naming expose_idx was written
    output reg  [15:0]           expose_idx,      // its BUFLET
    output reg                   ev_hold_rec,     // one-cycle pulse per hold record
    output reg                   ev_released,     // one-cycle pulse per chain released by BUF_RELEASE
    // send-side counter events (one-cycle pulses): a data segment and its bytes, a segment
    // sent again, a retransmission timeout, a fast retransmit, a probe, posts completed
    output wire                  ev_tx_seg,
    output wire [15:0]           ev_tx_seg_bytes,
    output wire                  ev_tx_retrans,
    output reg                   ev_tx_rto,
    output wire                  ev_tx_fast,
    output wire                  ev_tx_probe,
    output reg                   ev_tx_wupd,      // a window update (an ACK of the tick) queued
    output reg                   ev_tx_dack,      // a delayed ACK (an ACK of the tick) queued
    output reg                   ev_tx_done,
    output reg  [15:0]           ev_tx_done_count
);
    localparam SW = $clog2(NUM_SOCKETS);
    localparam NW = $clog2(NUM_NBS);
    localparam BW = $clog2(NUM_BUFLETS);
    localparam HW = (HASH_BUCKETS > 1) ? $clog2(HASH_BUCKETS) : 1;
    localparam AW = (NUM_ANON > 1) ? $clog2(NUM_ANON) : 1;
    localparam CW = 8 * `BF_SOCK_CTX_SIZE;            // sock_ctx bits
    localparam [15:0] NULL16 = 16'hFFFF;
    localparam [31:0] SOCK_LAST32 = NUM_SOCKETS - 1;
    localparam [3:0] DROP_NONE4     = `BF_DROP_NONE;
    localparam [4:0] DROP_NONE      = `BF_DROP_NONE;
    localparam [4:0] DROP_OOW       = `BF_DROP_OUT_OF_WINDOW;
    localparam [4:0] DROP_BAD_STATE = `BF_DROP_BAD_STATE;
    localparam [4:0] DROP_BAD_ACK   = `BF_DROP_BAD_ACK;
    localparam [4:0] DROP_LISTEN_FULL = `BF_DROP_LISTEN_FULL;
    localparam [7:0] ST_LISTEN     = `BF_SOCK_STATE_LISTEN;
    localparam [7:0] ST_SYN_RCVD   = `BF_SOCK_STATE_SYN_RCVD;
    localparam [7:0] ST_SYN_SENT   = `BF_SOCK_STATE_SYN_SENT;
    localparam [7:0] ST_ESTAB      = `BF_SOCK_STATE_ESTAB;
    localparam [7:0] ST_FIN_WAIT_1 = `BF_SOCK_STATE_FIN_WAIT_1;
    localparam [7:0] ST_FIN_WAIT_2 = `BF_SOCK_STATE_FIN_WAIT_2;
    localparam [7:0] ST_CLOSE_WAIT = `BF_SOCK_STATE_CLOSE_WAIT;
    localparam [7:0] ST_CLOSING    = `BF_SOCK_STATE_CLOSING;
    localparam [7:0] ST_LAST_ACK   = `BF_SOCK_STATE_LAST_ACK;
    localparam [7:0] ST_TIME_WAIT  = `BF_SOCK_STATE_TIME_WAIT;
    localparam [7:0] ST_CLOSED     = `BF_SOCK_STATE_CLOSED;
    localparam [7:0] ST_OK8        = `BF_STATUS_OK;
    localparam [7:0] ST_RESET      = `BF_STATUS_RESET;
    localparam [7:0] ST_BAD_SOCK8  = `BF_STATUS_BAD_SOCK;
    localparam [7:0] ST_TIMEOUT    = `BF_STATUS_TIMEOUT;
    localparam [7:0] OP_TX_POST    = `BF_OP_TX_POST;
    localparam [7:0] OP_SOCK_ADD   = `BF_OP_SOCK_ADD;
    localparam [7:0] OP_SOCK_CLOSE = `BF_OP_SOCK_CLOSE;
    localparam [7:0] KIND_CMD_DONE = `BF_CPL_KIND_CMD_DONE;
    localparam [7:0] KIND_TX_DONE  = `BF_CPL_KIND_TX_DONE;
    localparam [7:0] TF_FIN = `BF_TCP_FLAG_FIN;
    localparam [7:0] TF_RST = `BF_TCP_FLAG_RST;
    localparam [7:0] TF_ACK = `BF_TCP_FLAG_ACK;
    localparam [4:0] DROP_NO_SOCKET = `BF_DROP_NO_SOCKET;
    localparam [7:0] KIND_ACCEPT   = `BF_CPL_KIND_ACCEPT;
    localparam [7:0] OP_SOCK_LISTEN = `BF_OP_SOCK_LISTEN;
    localparam [7:0] SF_ACCEPTED   = `BF_SOCK_FLAG_ACCEPTED;
    localparam [7:0] TF_SYN = `BF_TCP_FLAG_SYN;
    // parameter checks (elaboration time, rtl/buflet_checks.vh); the submodules check theirs
    generate
        `BF_CHECK_DATA_WIDTH(toe_engine)
        `BF_CHECK_KEEP_WIDTH(toe_engine)
        `BF_CHECK_BUFLET_RAM(toe_engine, KEEP_WIDTH)
        if (!`BF_IS_POW2(BUFLET_BYTES) || BUFLET_BYTES < 2 * KEEP_WIDTH || BUFLET_BYTES > 4096) begin : g_check_buflet_bytes
            `BF_ERROR("toe_engine: BUFLET_BYTES must be a power of two in 2*KEEP_WIDTH..4096")
        end
        // socket refs are 16 bits and 0xFFFF is the null link
        if (NUM_SOCKETS < 2 || NUM_SOCKETS > 65535) begin : g_check_num_sockets
            `BF_ERROR("toe_engine: NUM_SOCKETS must be in 2..65535")
        end
    endgenerate

    // FSM states, grouped by the submodule that decides them (docs/rtl-modules.md)
    localparam [6:0]
        S_IDLE = 7'd0,                                                                  // event pick
        S_REQ = 7'd1, S_REQ_ADD = 7'd2, S_REQ_NB1 = 7'd3, S_REQ_NB2 = 7'd4, S_CPL = 7'd5,  // toe_req
        S_REL0 = 7'd49, S_REL1 = 7'd50,                                               //   BUF_RELEASE
        S_DEL0 = 7'd29, S_DEL_NB = 7'd30, S_DEL_NBR = 7'd31, S_DEL_SEG = 7'd32,       //   SOCK_DEL
        S_DEL_UL = 7'd33, S_DEL_UL0 = 7'd34, S_DEL_UL1 = 7'd35, S_DEL_AL0 = 7'd37, S_DEL_AL1 = 7'd38,
        S_DEL_END = 7'd36,
        S_META = 7'd6, S_LOOK0 = 7'd7, S_LOOK1 = 7'd8,                                // toe_lookup
        S_TCP = 7'd9, S_EST0 = 7'd10, S_EST1 = 7'd11, S_INORD = 7'd12, S_DRAIN = 7'd13,  // toe_tcp_rx
        S_INS = 7'd14, S_INS_B = 7'd15, S_INS_L = 7'd16, S_INS_L2 = 7'd17, S_RSTMK = 7'd18,
        S_TX0 = 7'd19, S_TX1 = 7'd20, S_FIN = 7'd21,                                  // end of a frame
        S_DQ = 7'd22, S_D1 = 7'd23, S_DPGREQ = 7'd24, S_DPGRSP = 7'd25, S_DPGCHK = 7'd47,  // toe_deliver
        S_DISSUE = 7'd26, S_DFREE = 7'd27, S_DRET = 7'd28,
        S_UDP = 7'd39, S_AN0 = 7'd40, S_AN1 = 7'd41, S_AN_CHK = 7'd48, S_AN_WR = 7'd42,  // toe_udp_anon
        S_AN_FREE = 7'd43, S_AN_CPL = 7'd44,
        S_TK1 = 7'd45, S_TK2 = 7'd46,                                                 // toe_sweep
        // the send side (toe_tx): send requests, active open, the generic tx push, the send
        // step, the tick's send timers, a frame's send-side steps, the post returns
        S_SR0 = 7'd51, S_SR1 = 7'd52, S_CON0 = 7'd53, S_TXW = 7'd54, S_TXG = 7'd55,
        S_SQ = 7'd56, S_S1 = 7'd57, S_S2 = 7'd58, S_S3 = 7'd59, S_S4 = 7'd60,
        S_TKS0 = 7'd61, S_TKS1 = 7'd62, S_TKS2 = 7'd63,
        S_SA0 = 7'd64, S_SA1 = 7'd65, S_SA2 = 7'd66, S_SA3 = 7'd67, S_SA4 = 7'd68, S_SA5 = 7'd69,
        S_SA6 = 7'd70, S_SA7 = 7'd71, S_SA8 = 7'd72, S_SA9 = 7'd73,
        S_AB0 = 7'd74, S_AB1 = 7'd75, S_AB2 = 7'd76, S_AB3 = 7'd77, S_AB4 = 7'd78, S_AB5 = 7'd79,
        S_AB6 = 7'd80, S_DTX = 7'd81,                                                 // toe_sweep
        // listening sockets (toe_listen): the pool's head taken, its tables written; ACCEPT
        S_ACC0 = 7'd82, S_ACC1 = 7'd83, S_ACPT = 7'd84;

    // ------------------------------------------------------------------ tables
    // The per-socket and per-buffer tables are block RAM whatever their depth (ram_style: a
    // 64-entry table would otherwise land in LUT-RAM, and they grow with NUM_SOCKETS/NUM_NBS);
    // their read addresses are registers (sk_idx, nb_idx, hd_idx), so the reads are
    // synchronous (docs/fpga.md "Memories").
    (* ram_style = "block" *)
    reg [511:0]  sock_mem [0:NUM_SOCKETS-1];
    // toe_tx's send state table (snd_ctx per socket): here, so that its read address is the
    // sk_idx register like the tables above and it infers block RAM
    localparam SNDW = 8 * `BF_SND_CTX_SIZE;
    (* ram_style = "block" *)
    reg [SNDW-1:0] snd_mem [0:NUM_SOCKETS-1];
    wire [SNDW-1:0] snd_rd = snd_mem[sk_idx];
    wire            snd_we;
    wire [SNDW-1:0] snd_wd;
    (* ram_style = "block" *)
    reg [CW-1:0] ctx_mem  [0:NUM_SOCKETS-1];
    (* ram_style = "block" *)
    reg [511:0]  nb_mem   [0:NUM_NBS-1];
    reg [127:0]  hdr_mem  [0:NUM_BUFLETS-1];
    reg [15:0]   nxt_mem  [0:NUM_BUFLETS-1];
    reg [31:0]   chn_mem  [0:NUM_BUFLETS-1];
    reg [15:0]   bkt_mem  [0:HASH_BUCKETS-1];
    reg [HASH_BUCKETS-1:0] bkt_vld;
    reg [NUM_SOCKETS-1:0]  sock_used;
    reg [NUM_NBS-1:0]      nb_used;
    reg [NUM_BUFLETS-1:0]  hold_bm;   // held chains (p2p), by head; count and tail stay in chn_mem
    reg [NUM_BUFLETS-1:0]  mk_bm;     // hold FIN/RST segments emptied by a record, still on a list
    reg [15:0]             act_head;  // active list head
    // pending-delivery FIFO of socket refs (each socket at most once: pq_in); a socket is
    // queued when it has a segment and an NB; popped without both (or unused), it is skipped
    reg [SW-1:0]           pq_mem [0:NUM_SOCKETS-1];
    reg [SW-1:0]           pq_wp, pq_rp;
    reg [SW:0]             pq_cnt;
    reg [NUM_SOCKETS-1:0]  pq_in;

    // ------------------------------------------------------------------ FSM registers
    reg [6:0]    state;
    reg [2:0]    last_src;         // 0 frame, 1 request, 2 delivery, 3 tick, 4 send
    reg [511:0]  sk;               // working socket descriptor
    reg [CW-1:0] cx;               // working socket context
    reg [511:0]  nb;               // working NB
    reg [127:0]  hd;               // working segment header
    reg [SW-1:0] sk_idx;
    reg [NW-1:0] nb_idx;
    reg [BW-1:0] hd_idx;
    reg [HW-1:0] b_idx;
    // latched metadata
    reg [3:0]    mt_reason;
    reg [11:0]   mt_vlan;
    reg [31:0]   mt_src_ip, mt_dst_ip, mt_seq, mt_ack;
    reg [15:0]   mt_src_port, mt_dst_port, mt_pay_off, mt_pay_len, mt_head, mt_tail, mt_count, mt_len;
    reg [15:0]   mt_window, mt_mss;
    reg [3:0]    mt_ws;
    reg [7:0]    mt_flags;
    reg          mt_ws_valid, mt_udp, mt_arp_req;
    reg [47:0]   mt_src_mac;
    // ACCEPT: its status, the state after S_ACPT, a frame's ACCEPT already posted
    reg [7:0]    acc_st;
    reg [6:0]    acc_ret;
    reg          acc_posted;
    // the send side: the frame's socket state at its lookup, a TCP frame, its ACK to queue;
    // the tx push (mode, state after); a data segment's fields; the post-return sequence
    // (status, RST first, move to CLOSED, state after); the working context written back
    reg [7:0]    f_was;
    reg          f_tcp, f_ack;
    reg [2:0]    tx_mode;
    reg [6:0]    tx_ret;
    reg [31:0]   d_seq;
    reg [15:0]   d_len;
    reg          d_fin;
    reg [7:0]    d_flags;
    reg [7:0]    ab_st;
    reg          ab_rst, ab_cls;
    reg [6:0]    ab_ret;
    reg          cx_wb;
    reg [47:0]   mt_arp_sha;
    // frame outcome
    reg [4:0]    dr;               // drop reason (0 = none)
    reg [4:0]    an_rsn;           // the frame's own reason on the anonymous path (buffer refused)
    reg          f_keep;           // the frame's chain stays on a segment list
    reg          f_wake;           // the in-order list grew: wake delivery
    reg          f_wb;             // write cx back to ctx_mem
    // forwarding: the 4-tuple {src_ip, dst_ip, src_port, dst_port, vlan, udp} of the socket
    // fw_idx the last walk matched; fw_hit: the frame being looked up was answered by it
    localparam FWK = 32 + 32 + 16 + 16 + 12 + 1;
    reg          fw_valid, fw_hit;
    reg [FWK-1:0] fw_key;
    reg [SW-1:0] fw_idx;
    reg          tx_arp;           // the queued tx command is an ARP reply
    reg          del_mode;         // S_DRET belongs to a SOCK_DEL
    reg          del_list;         // SOCK_DEL chain walk: 0 in-order list, 1 reassembly list
    // outputs: chain frees (df: deferred frees of drained segments, oldest first (df2 behind
    // it), each released once toe_mover has made its chunk's reads: rd_done past its tag),
    // completions
    reg          df_valid, df2_valid, fr_valid, cp_valid;
    reg [15:0]   df_head, df_tail, df_count, fr_head, fr_tail, fr_count;
    reg [15:0]   df2_head, df2_tail, df2_count;
    reg [7:0]    df_tag, df2_tag;      // the mover command index of the chunk (mv_acc)
    reg [7:0]    mv_acc;               // mover commands issued (mod 256)
    reg [255:0]  cp_data;

    // ------------------------------------------------------------------ memory reads (registered address)
    wire [511:0]  sk_rd  = sock_mem[sk_idx];
    wire [CW-1:0] cx_rd  = ctx_mem[sk_idx];
    wire [511:0]  nb_rd  = nb_mem[nb_idx];
    wire [127:0]  hd_rd  = hdr_mem[hd_idx];
    wire [15:0]   nxt_rd = nxt_mem[hd_idx];
    wire [31:0]   chn_rd = chn_mem[hd_idx];
    wire [15:0]   bkt_rd = bkt_vld[b_idx] ? bkt_mem[b_idx] : NULL16;

    // ------------------------------------------------------------------ event pick
    // round robin in the order frame (0), request (1), delivery (2), tick (3): the source after
    // the last one picked goes first
    wire       tk_pend, tq_valid;
    wire [2:0] pick;
    wire       pick_ok;
    // a tick or a send step samples the pool's free count for its windows: not while a chain
    // free is still on its way to the pool (the model frees at once). Meanwhile nothing else
    // is picked (pk_hold): under steady delivery a free is nearly always on its way, and the
    // tick would wait for the traffic to stop; the frees land within a few cycles.
    wire       fr_pend = fr_valid || df_valid;
    wire       pk_hold = (tk_pend || tq_valid) && fr_pend;
    rr_pick #(.N(5), .GW(3)) u_pick (
        .req({tq_valid && !fr_pend, tk_pend && !fr_pend, pq_cnt != {(SW+1){1'b0}} && !pk_hold,
              s_req_valid && !pk_hold, s_meta_valid && !pk_hold}),
        .last(last_src),
        .pick(pick), .pick_ok(pick_ok)
    );
    wire pick_meta = pick_ok && (pick == 3'd0);
    wire pick_req  = pick_ok && (pick == 3'd1);
    wire pick_dlv  = pick_ok && (pick == 3'd2);
    wire pick_tick = pick_ok && (pick == 3'd3);
    wire pick_snd  = pick_ok && (pick == 3'd4);
    wire snd_take  = (state == S_IDLE) && pick_snd;
    assign s_req_ready  = (state == S_IDLE) && pick_req;
    assign s_meta_ready = ((state == S_IDLE) && pick_meta) || fr_chain;
    wire tick_take = (state == S_IDLE) && pick_tick;

    // ------------------------------------------------------------------ context fields, handshakes
    wire [15:0] cx_seg_head   = cx[`BF_SOCK_CTX_SEG_HEAD_RANGE];
    wire [15:0] cx_seg_tail   = cx[`BF_SOCK_CTX_SEG_TAIL_RANGE];
    wire [15:0] cx_ooo_head   = cx[`BF_SOCK_CTX_OOO_HEAD_RANGE];
    wire [15:0] cx_nb_head    = cx[`BF_SOCK_CTX_NB_HEAD_RANGE];
    wire [15:0] cx_act_next   = cx[`BF_SOCK_CTX_ACT_NEXT_RANGE];
    wire        cx_has_nb     = (cx_nb_head != NULL16);
    wire [15:0] cxr_nb_head   = cx_rd[`BF_SOCK_CTX_NB_HEAD_RANGE];
    wire [15:0] cxr_nb_tail   = cx_rd[`BF_SOCK_CTX_NB_TAIL_RANGE];
    wire [15:0] cxr_seg_head  = cx_rd[`BF_SOCK_CTX_SEG_HEAD_RANGE];
    wire [15:0] cxr_next_sock = cx_rd[`BF_SOCK_CTX_NEXT_SOCK_RANGE];
    wire [15:0] cxr_act_next  = cx_rd[`BF_SOCK_CTX_ACT_NEXT_RANGE];
    wire [15:0] hd_idx16      = {{(16-BW){1'b0}}, hd_idx};
    wire        hd_is_tail    = (hd_idx16 == cx_seg_tail);

    // the FSM waits for toe_mover only when it must: a chunk needs its command slot, a chain
    // is freed once no read is pending, a completion is posted after the data it reports,
    // SOCK_DEL waits for it to be idle; a drained segment's chain is freed (df_*) once the
    // mover has issued its reads
    wire free_slot = !fr_valid || m_free_ready;
    wire cpl_slot  = !cp_valid || m_cpl_ready;
    wire mv_cmd_ready, mv_rd_idle, mv_out_idle, mv_rec_issue, tx_ready;
    wire [15:0] mv_rec_buf;
    wire [7:0]  mv_rd_done;            // mover commands whose reads are all made (mod 256)
    // a DMA write (a delivery chunk, a hold record, an anonymous buffer's piece) is issued to
    // toe_mover and its request to the write request register (wq_*) in one cycle, once both
    // have room; the register offers the request to the DMA write arbiter while the engine
    // goes on (toe_mover's words follow once the arbiter has taken the request)
    reg          wq_valid;
    reg [63:0]   wq_addr;
    reg [15:0]   wq_len;
    wire wq_room   = !wq_valid || m_dma_wr_req_ready;
    wire wq_taken  = wq_valid && m_dma_wr_req_ready;
    wire an_wr     = (state == S_AN_WR);
    wire wr_fire   = (((state == S_DISSUE) && !(dlv_dfree && df2_valid && !df_move)) || an_wr) &&
                     mv_cmd_ready && wq_room;
    wire an_fire   = an_wr && wr_fire;
    wire dfree_go  = (state == S_DFREE) && mv_rd_idle && free_slot;
    wire [7:0] cx_state = cx[`BF_SOCK_CTX_STATE_RANGE];
    wire       sk_accd  = (sk[`BF_SOCK_DESC_FLAGS_RANGE] & SF_ACCEPTED) != 8'd0;
    // an accepted socket that left SYN_RCVD with this frame posts its ACCEPT first (S_ACPT)
    wire acc_leave = f_tcp && sk_accd && (f_was == ST_SYN_RCVD) && (cx_state != ST_SYN_RCVD);
    wire acc_wait  = (state == S_FIN) && acc_leave && !acc_posted;
    wire fin_free  = (state == S_FIN) && !acc_wait && !f_keep && (mt_count != 16'd0);
    wire fin_go    = (state == S_FIN) && !acc_wait && (!fin_free || free_slot);
    wire delseg_go = (state == S_DEL_SEG) && free_slot;
    wire anfree_go = (state == S_AN_FREE) && mv_rd_idle && free_slot;
    wire rel_go    = (state == S_REL1) && mv_rd_idle && free_slot;   // once no chain walk is pending
    wire fsm_fr_load = (fin_free && free_slot) || dfree_go || delseg_go || anfree_go || rel_go;
    wire [7:0] df_age = mv_rd_done - df_tag;   // 1..128: the oldest deferred chunk is read
    wire df_move   = df_valid && (df_age != 8'd0) && !df_age[7] && free_slot && !fsm_fr_load;
    wire df_push   = (state == S_DISSUE) && wr_fire && dlv_dfree;
    wire dret_go   = (state == S_DRET) && mv_out_idle && cpl_slot;
    wire ancpl_go  = (state == S_AN_CPL) && mv_out_idle && cpl_slot;
    // protection lookup: the page list in S_DPGREQ, the page just read in S_DPGCHK, the
    // anonymous buffer in S_AN_CHK
    wire pl_list   = (state == S_DPGREQ);
    wire pg_chk    = (state == S_DPGCHK);
    assign prot_ask = pl_list || pg_chk || (state == S_AN_CHK);

    // ------------------------------------------------------------------ submodules
    // requests
    wire [511:0]  rq;
    wire [15:0]   rq_sock, rq_bkt_wd;
    wire [NW-1:0] rq_nb;
    wire          go_add, go_del, go_nb, go_anon, go_rel, go_snd, go_connect, rl_held, rl_last;
    wire          go_listen, go_unlisten, go_pool, rq_listening, rq_pooled;
    wire          rq_sock_we, rq_bkt_we, rq_ctx_we, rq_ctx_at_sock, rq_nb_we, rq_nb_at_ref;
    wire [BW-1:0] rl_buf;
    wire [CW-1:0] rq_ctx_wd;
    wire [511:0]  rq_nb_wd;
    wire [NUM_ANON-1:0] an_busy;
    wire [AW-1:0] an_ref;
    wire [111:0]  an_ent;
    wire [255:0]  cpl_cmd;
    toe_req #(
        .NUM_SOCKETS(NUM_SOCKETS), .NUM_NBS(NUM_NBS), .NUM_BUFLETS(NUM_BUFLETS), .NUM_ANON(NUM_ANON),
        .NUM_LISTEN(NUM_LISTEN)
    ) u_req (
        .clk(clk), .rst(rst), .load(s_req_ready), .s_req_data(s_req_data),
        .in_req(state == S_REQ), .in_rel0(state == S_REL0), .rel_step(rel_go),
        .in_add(state == S_REQ_ADD), .in_nb1(state == S_REQ_NB1), .in_nb2(state == S_REQ_NB2),
        .in_ul0(state == S_DEL_UL0), .in_ul1(state == S_DEL_UL1), .in_al1(state == S_DEL_AL1),
        .in_end(state == S_DEL_END), .st_set(sr_refuse), .st_val(sr_st),
        .sock_used(sock_used), .nb_used(nb_used), .hold_bm(hold_bm), .an_busy(an_busy),
        .rq_listening(rq_listening), .rq_pooled(rq_pooled),
        .bkt_rd(bkt_rd), .act_head(act_head), .cx(cx), .cx_rd(cx_rd), .nb_rd(nb_rd),
        .rq(rq), .rq_sock(rq_sock), .rq_nb(rq_nb),
        .go_add(go_add), .go_del(go_del), .go_nb(go_nb), .go_anon(go_anon), .go_rel(go_rel),
        .go_snd(go_snd), .go_connect(go_connect),
        .go_listen(go_listen), .go_unlisten(go_unlisten), .go_pool(go_pool),
        .rl_buf(rl_buf), .rl_held(rl_held), .rl_last(rl_last),
        .sock_we(rq_sock_we), .bkt_we(rq_bkt_we), .bkt_wd(rq_bkt_wd), .ctx_we(rq_ctx_we),
        .ctx_at_sock(rq_ctx_at_sock), .ctx_wd(rq_ctx_wd), .nb_we(rq_nb_we), .nb_at_ref(rq_nb_at_ref),
        .nb_wd(rq_nb_wd), .an_ref(an_ref), .an_ent(an_ent), .cpl_cmd(cpl_cmd)
    );
    // lookup
    wire [HW-1:0] pick_bkt, req_bkt, del_bkt;
    wire [31:0]   meta_x;
    wire          sk_match;
    toe_lookup #(.HASH_BUCKETS(HASH_BUCKETS)) u_lookup (
        .mt_src_ip(mt_src_ip), .mt_dst_ip(mt_dst_ip), .mt_src_port(mt_src_port),
        .mt_dst_port(mt_dst_port), .mt_vlan(mt_vlan), .mt_udp(mt_udp),
        .pk_src_ip(s_meta_src_ip), .pk_dst_ip(s_meta_dst_ip), .pk_src_port(s_meta_src_port),
        .pk_dst_port(s_meta_dst_port),
        .rq(rq), .sk(sk), .sk_rd(sk_rd),
        .pick_bkt(pick_bkt), .meta_x(meta_x), .req_bkt(req_bkt), .del_bkt(del_bkt), .sk_match(sk_match)
    );
    // listening sockets: a SYN that found no socket (l_syn) matching a listen slot (l_hit)
    localparam LW = (NUM_LISTEN > 1) ? $clog2(NUM_LISTEN) : 1;
    wire          l_hit, l_full;
    wire [LW-1:0] lt_ra;
    wire [SW-1:0] pool_head;
    wire [511:0]  lt_rd, acc_desc;
    wire [CW-1:0] acc_ctx;
    wire          l_syn = !mt_udp && ((mt_flags & (TF_SYN | TF_ACK | TF_RST)) == TF_SYN);
    wire          ho_dec  = ((state == S_ACPT) && cpl_slot) ||
                            ((state == S_DEL_END) && sk_accd && (cx_state == ST_SYN_RCVD));
    toe_listen #(.NUM_LISTEN(NUM_LISTEN), .NUM_SOCKETS(NUM_SOCKETS)) u_listen (
        .clk(clk), .rst(rst), .rq(rq),
        .listen_we((state == S_REQ) && go_listen), .unlisten((state == S_REQ) && go_unlisten),
        .pool_push((state == S_REQ) && go_pool),
        .rq_listening(rq_listening), .rq_pooled(rq_pooled),
        .mt_dst_ip(mt_dst_ip), .mt_dst_port(mt_dst_port), .mt_vlan(mt_vlan),
        .l_hit(l_hit), .half_open_max(half_open_max), .full(l_full),
        .pool_head(pool_head), .acc_take(state == S_ACC0), .lt_rd(lt_rd), .lt_ra(lt_ra),
        .ho_dec(ho_dec), .half_open(half_open), .pool_count(accept_pool)
    );
    // the accepted socket (S_ACC1): the template of slot lt_ra with the frame's peer, SOCK_REF,
    // LISTEN_SLOT, flag ACCEPTED, OPCODE SOCK_ADD and ISS = template ISS + x; its context as
    // SOCK_ADD's (LISTEN, links null, at the head of its hash chain and of the active list)
    reg [511:0]  acc_d;
    reg [CW-1:0] acc_c;
    always @* begin
        acc_d = lt_rd;
        acc_d[`BF_SOCK_DESC_OPCODE_RANGE]      = OP_SOCK_ADD;
        acc_d[`BF_SOCK_DESC_FLAGS_RANGE]       = lt_rd[`BF_SOCK_DESC_FLAGS_RANGE] | SF_ACCEPTED;
        acc_d[`BF_SOCK_DESC_SOCK_REF_RANGE]    = 16'(sk_idx);
        acc_d[`BF_SOCK_DESC_LISTEN_SLOT_RANGE] = 8'(lt_ra);
        acc_d[`BF_SOCK_DESC_REMOTE_MAC_RANGE]  = mt_src_mac;
        acc_d[`BF_SOCK_DESC_REMOTE_IP_RANGE]   = mt_src_ip;
        acc_d[`BF_SOCK_DESC_REMOTE_PORT_RANGE] = mt_src_port;
        acc_d[`BF_SOCK_DESC_ISS_RANGE]         = lt_rd[`BF_SOCK_DESC_ISS_RANGE] + meta_x;
        acc_c = {CW{1'b0}};
        acc_c[`BF_SOCK_CTX_STATE_RANGE]     = ST_LISTEN;
        acc_c[`BF_SOCK_CTX_NEXT_SOCK_RANGE] = bkt_rd;
        acc_c[`BF_SOCK_CTX_NB_HEAD_RANGE]   = NULL16;
        acc_c[`BF_SOCK_CTX_NB_TAIL_RANGE]   = NULL16;
        acc_c[`BF_SOCK_CTX_SEG_HEAD_RANGE]  = NULL16;
        acc_c[`BF_SOCK_CTX_SEG_TAIL_RANGE]  = NULL16;
        acc_c[`BF_SOCK_CTX_OOO_HEAD_RANGE]  = NULL16;
        acc_c[`BF_SOCK_CTX_ACT_NEXT_RANGE]  = act_head;
    end
    assign acc_desc = acc_d;
    assign acc_ctx  = acc_c;
    wire acc_we = (state == S_ACC1);
    // TCP receive
    wire          tp_fin, tp_ack, tp_alt, tp_stay, tp_step, tp_acc, seg_we, nxt_we, tp_wupd, tp_dack, tp_inord;
    wire [3:0]    tp_dr;
    wire [BW-1:0] nxt_wa;
    wire [15:0]   nxt_wd;
    wire          in_inord = (state == S_INORD);   // the append (S_INORD): toe_tcp_rx, the send side, frame_done
    wire [CW-1:0] cx_tp;
    wire [127:0]  hd_tp;
    wire [383:0]  tx_tcp;
    toe_tcp_rx #(.BUFLET_BYTES(BUFLET_BYTES), .NUM_BUFLETS(NUM_BUFLETS)) u_tcp_rx (
        // the free count sampled at the pick: pool_room is registered with the sample and
        // wnd_r from the context in S_TCP, in time for S_EST0 (a frame forwarded from the
        // pick is in S_TCP the next cycle)
        .clk(clk), .rst(rst), .smp(s_req_ready || s_meta_ready || snd_take || tick_take), .pool_free(pool_free),
        .in_meta(s_meta_ready), .in_tcp(state == S_TCP), .in_est0(state == S_EST0),
        .in_est1(state == S_EST1), .in_rstmk(state == S_RSTMK), .in_inord(in_inord),
        .in_drain(state == S_DRAIN), .in_ins(state == S_INS), .in_insb(state == S_INS_B),
        .in_insl(state == S_INS_L), .in_insl2(state == S_INS_L2), .in_udp(state == S_UDP),
        .ack_take(((state == S_TX1) && tx_ready && !tx_arp) || ((state == S_TXG) && tx_ready)),
        .ack_unsent(ack_unsent), .snd_seq(snd_seq), .tx_mode(tx_mode), .d_seq(d_seq),
        .d_flags(d_flags), .d_len(d_len),
        .mt_seq(mt_seq), .mt_ack(mt_ack), .mt_flags(mt_flags), .mt_ws_valid(mt_ws_valid),
        .mt_pay_off(mt_pay_off), .mt_pay_len(mt_pay_len), .mt_head(mt_head),
        .sk(sk), .hd_rd(hd_rd), .cx(cx), .nxt_rd(nxt_rd),
        .tp_fin(tp_fin), .tp_dr(tp_dr), .tp_ack(tp_ack), .tp_alt(tp_alt), .tp_stay(tp_stay),
        .tp_step(tp_step), .tp_acc(tp_acc), .tp_wupd(tp_wupd), .tp_dack(tp_dack), .tp_inord(tp_inord), .cx_nx(cx_tp), .seg_we(seg_we), .nxt_we(nxt_we),
        .nxt_wa(nxt_wa), .nxt_wd(nxt_wd), .hd_new(hd_tp), .tx_cmd(tx_tcp)
    );
    // delivery
    wire          d_empty, d_finrst, pc_hit, sk_hold, dlv_empt, dlv_dfree, dlv_ret, hd_finrst;
    wire          dl_ctx_we, dl_nb_we, dl_hdr_we, tk_expire;
    wire [12:0]   dn;
    wire [63:0]   pg_new, pl_addr, pl_rd_addr, dl_wr_addr;
    wire [15:0]   pl_rd_len;
    wire          pc_hit_chk;
    wire [31:0]   pl_len;
    wire [15:0]   dl_wr_len;
    wire [CW-1:0] cx_dl;
    wire [511:0]  nb_dl;
    wire [127:0]  hd_dlv;
    wire [255:0]  cpl_ret;
    toe_deliver #(.DATA_WIDTH(DATA_WIDTH), .BUFLET_BYTES(BUFLET_BYTES), .NUM_NBS(NUM_NBS)) u_deliver (
        .clk(clk), .rst(rst), .in_d1(state == S_D1), .pl_deny(pl_list && prot_deny),
        .pg_beat((state == S_DPGRSP) && s_axis_dma_rd_tvalid),
        .pg_rsp((state == S_DPGRSP) && s_axis_dma_rd_tvalid && s_axis_dma_rd_tlast),
        .in_pgchk(pg_chk), .prot_deny(prot_deny), .issue((state == S_DISSUE) && wr_fire),
        .dfree(dfree_go), .ret_go(dret_go), .ret_del(state == S_DEL_NBR),
        .ret_tmo((state == S_TK2) && tk_expire), .nb_post(state == S_REQ_NB1), .post_nb(rq_nb),
        .rd_tuser(s_axis_dma_rd_tuser), .rd_data(s_axis_dma_rd_tdata),
        .sk(sk), .hd_rd(hd_rd), .nb_rd(nb_rd),
        .cx(cx), .nb(nb), .hd(hd), .nb_idx(nb_idx), .hd_is_tail(hd_is_tail), .nxt_rd(nxt_rd),
        .d_empty(d_empty), .d_finrst(d_finrst), .pc_hit(pc_hit), .pc_hit_chk(pc_hit_chk),
        .dn(dn), .pg_new(pg_new),
        .sk_hold(sk_hold), .dlv_empt(dlv_empt), .dlv_dfree(dlv_dfree), .dlv_ret(dlv_ret),
        .hd_finrst(hd_finrst), .pl_addr(pl_addr), .pl_len(pl_len), .pl_rd_addr(pl_rd_addr),
        .pl_rd_len(pl_rd_len),
        .wr_addr(dl_wr_addr), .wr_len(dl_wr_len), .ctx_we(dl_ctx_we), .cx_dl(cx_dl),
        .nb_we(dl_nb_we), .nb_dl(nb_dl), .hdr_we(dl_hdr_we), .hd_dlv(hd_dlv), .cpl_ret(cpl_ret)
    );
    // timer sweep
    wire          tk_mode, tk_count;
    wire [511:0]  nb_tick;
    toe_sweep u_sweep (
        .clk(clk), .rst(rst), .tick_req(tick_req), .in_idle(state == S_IDLE), .tick_take(tick_take),
        .nb_rd(nb_rd), .tk_pend(tk_pend), .tk_mode(tk_mode), .tk_count(tk_count),
        .tk_expire(tk_expire), .nb_tick(nb_tick)
    );
    // ARP, UDP, anonymous buffers
    wire          arp_hit, anon_rsn, anon_go, an_last, an_refused;
    wire [63:0]   an_addr;
    wire [15:0]   an_len, an_off, an_ck;
    wire [383:0]  tx_arp_cmd;
    wire [127:0]  hd_udp;
    wire [255:0]  cpl_anon;
    toe_udp_anon #(.BUFLET_BYTES(BUFLET_BYTES), .NUM_ANON(NUM_ANON)) u_udp_anon (
        .clk(clk), .rst(rst), .post((state == S_REQ) && go_anon), .post_ref(an_ref), .post_ent(an_ent),
        .in_an0(state == S_AN0), .in_an1(state == S_AN1), .chk_deny((state == S_AN_CHK) && prot_deny),
        .wr_fire(an_fire), .cpl_go(ancpl_go),
        .mt_reason(mt_reason), .mt_len(mt_len), .mt_count(mt_count), .mt_pay_off(mt_pay_off),
        .mt_pay_len(mt_pay_len), .mt_vlan(mt_vlan), .mt_src_ip(mt_src_ip), .mt_dst_ip(mt_dst_ip),
        .mt_arp_req(mt_arp_req), .mt_arp_sha(mt_arp_sha), .nic_mac(nic_mac), .nic_ip(nic_ip),
        .arp_hit(arp_hit), .anon_rsn(anon_rsn), .anon_go(anon_go), .an_busy(an_busy),
        .an_addr(an_addr), .an_len(an_len), .an_off(an_off), .an_ck(an_ck), .an_last(an_last),
        .an_refused(an_refused), .arp_cmd(tx_arp_cmd), .hd_udp(hd_udp), .cpl_anon(cpl_anon)
    );
    // tx commands (ACK, SYN-ACK, ARP reply), in decision order
    sync_fifo #(.WIDTH(384), .DEPTH(4)) u_txq (
        .clk(clk), .rst(rst), .s_valid(state == S_TX1 || state == S_TXG), .s_ready(tx_ready),
        .s_data((state == S_TX1 && tx_arp) ? tx_arp_cmd : tx_tcp), .m_valid(m_tx_valid), .m_ready(m_tx_ready), .m_data(m_tx_data)
    );

    // send side
    wire [7:0]  post_st, close_st;
    wire        ack_unsent, connect_pend, close_pend, fin_acked, pw_need, close_due;
    wire [31:0] snd_seq, connect_tag, close_tag, seg_seq, pw_count, pw_bytes, pw_tag;
    wire        tk_synack, tk_listen, tk_fail, tk_reset, tk_rto, seg_any, seg_fin;
    wire        walk_busy, pw_busy, tx_ev_retrans;
    wire [15:0] seg_len;
    wire [SW-1:0] tq_sock;
    wire        st_open  = (cx_state == ST_ESTAB) || (cx_state == ST_FIN_WAIT_1) || (cx_state == ST_FIN_WAIT_2) ||
                           (cx_state == ST_CLOSE_WAIT) || (cx_state == ST_LAST_ACK) ||
                           (cx_state == ST_CLOSING) || (cx_state == ST_TIME_WAIT);
    wire        was_open = (f_was == ST_ESTAB) || (f_was == ST_FIN_WAIT_1) || (f_was == ST_FIN_WAIT_2) ||
                           (f_was == ST_CLOSE_WAIT) || (f_was == ST_LAST_ACK) ||
                           (f_was == ST_CLOSING) || (f_was == ST_TIME_WAIT);
    wire        is_post  = (rq[`BF_REQ_HDR_OPCODE_RANGE] == OP_TX_POST);
    // SOCK_CLOSE with ABORT (docs/tcp-transmit.md): any TCP socket; an RST unless nothing is
    // there to reset (LISTEN, SYN_SENT, TIME_WAIT, CLOSED)
    wire        rq_abort  = !is_post && ((rq[`BF_REQ_HDR_FLAGS_RANGE] & 8'(`BF_CLOSE_FLAG_ABORT)) != 8'd0);
    wire [7:0]  abort_st  = (sk[`BF_SOCK_DESC_PROTO_RANGE] == 8'(`BF_IP_PROTO_TCP)) ? ST_OK8 : ST_BAD_SOCK8;
    wire        abort_rst = (cx_state != ST_LISTEN) && (cx_state != ST_SYN_SENT) &&
                            (cx_state != ST_TIME_WAIT) && (cx_state != ST_CLOSED);
    wire [7:0]  sr_st    = is_post ? post_st : rq_abort ? abort_st : close_st;
    wire        sr_refuse = (state == S_SR1) && (sr_st != ST_OK8);
    wire        sa_syn   = (f_was == ST_LISTEN && cx_state == ST_SYN_RCVD) || (f_was == ST_SYN_SENT && st_open);
    wire        ab_cpl_go = cpl_slot;
    toe_tx #(.NUM_SOCKETS(NUM_SOCKETS), .NUM_POSTS(NUM_POSTS), .BUFLET_BYTES(BUFLET_BYTES)) u_tx (
        .clk(clk), .rst(rst), .sk_idx(sk_idx), .sk(sk), .rq(rq), .st_now(cx_state), .sock_ok(1'b1),
        .rto_init(rto_init), .rto_min(rto_min), .rto_max(rto_max), .retries(tx_retries),
        .mt_seq(mt_seq), .mt_ack(mt_ack), .mt_window(mt_window), .mt_pay_len(mt_pay_len),
        .mt_flags(mt_flags), .mt_ws_valid(mt_ws_valid), .mt_ws(mt_ws), .mt_mss(mt_mss),
        .syn_active(f_was == ST_SYN_SENT),
        .snd_rd(snd_rd), .snd_we(snd_we), .snd_wd(snd_wd),
        .ld((state == S_SR0) || (state == S_SQ) || (state == S_TKS0) || (state == S_LOOK1 && sk_match) ||
            ((state == S_IDLE) && fw_fast) || fr_chain ||
            (state == S_DEL0 && mv_rd_idle && mv_out_idle)),
        .wb(((state == S_SR1) && !sr_refuse) || (state == S_REQ_ADD) || acc_we || (state == S_S4) ||
            (state == S_TKS1) || (state == S_SA9) || (state == S_AB6) ||
            (((state == S_SA0) || sa_in_inord) && !sa_skip && !sa_slow && sa_ack)),
        .init((state == S_REQ_ADD) || acc_we), .init_connect(go_connect && (state == S_REQ_ADD)),
        .post_take((state == S_SR1) && is_post && !sr_refuse),
        .close_take((state == S_SR1) && !is_post && !rq_abort && !sr_refuse),
        .in_syn((state == S_SA1) && sa_syn),
        .in_est((state == S_SA2) && sa_est),
        .in_stop((state == S_SA2) && sa_stop),
        .in_ack((((state == S_SA0) || sa_in_inord) && !sa_skip && !sa_slow && sa_ack) || ((state == S_SA5) && sa_ack)), .in_tick(state == S_TKS1), .in_seg(state == S_S1),
        .seg_go(state == S_S2), .in_sent(state == S_S4), .in_abort((state == S_AB0) && ab_cls),
        .take_connect(((state == S_SA3) && sa_conn && cpl_slot) || ((state == S_AB4) && connect_pend && cpl_slot)),
        .take_close(((state == S_SA8) && sa_close && cpl_slot) || ((state == S_AB5) && close_pend && cpl_slot)),
        .pw_go(((state == S_SA6) && pw_need && txd_idle && !walk_busy) || ((state == S_AB1) && txd_idle && !walk_busy)),
        .pw_all(state == S_AB1),
        .pw_need(pw_need), .close_due(close_due),
        .tq_valid(tq_valid), .tq_pop(snd_take), .tq_sock(tq_sock),
        .post_st(post_st), .close_st(close_st), .ack_unsent(ack_unsent), .snd_seq(snd_seq),
        .connect_pend(connect_pend), .connect_tag(connect_tag),
        .close_pend(close_pend), .close_tag(close_tag), .fin_acked(fin_acked),
        .tk_synack(tk_synack), .tk_listen(tk_listen), .tk_fail(tk_fail), .tk_reset(tk_reset), .tk_rto(tk_rto),
        .seg_any(seg_any), .seg_seq(seg_seq), .seg_len(seg_len), .seg_fin(seg_fin),
        .walk_busy(walk_busy), .pw_busy(pw_busy), .pw_count(pw_count), .pw_bytes(pw_bytes), .pw_tag(pw_tag),
        .ev_fast_retrans(ev_tx_fast), .ev_probe(ev_tx_probe), .ev_retrans(tx_ev_retrans),
        .ev_data_seg(ev_tx_seg), .ev_data_bytes(ev_tx_seg_bytes),
        .m_pc_valid(m_pc_valid), .m_pc_ready(m_pc_ready), .m_pc_hmd(m_pc_hmd), .m_pc_at(m_pc_at),
        .m_pc_len(m_pc_len), .m_pc_last(m_pc_last), .m_pc_psh(m_pc_psh), .m_pc_dev(m_pc_dev)
    );
    assign txd_inval = ((state == S_SA6) && pw_need && txd_idle && !walk_busy) ||
                       ((state == S_AB1) && txd_idle && !walk_busy);
    reg  ev_syn_retrans;
    assign ev_tx_retrans = tx_ev_retrans || ev_syn_retrans;
    // S_SA0 folded into the append (docs/tcp-receive.md "The frame path"): an in-order segment
    // that ends in S_INORD, carries no FIN (so the state S_SA0 reads stays) and posts no
    // ACCEPT takes its send-side step in S_INORD (toe_tx in_ack/wb), and goes on from there as
    // S_SA0 would: to its ACK (S_TX0), or, with its ACK waiting, the one-cycle case (sa_fold)
    // ends the frame there. Whether the ACK waits (tp_ack, the longest path of the append)
    // steers only the next state and the frame's end: the step itself and the context's
    // write-back (S_INORD's context, written again at the frame's end when it goes on) do not
    // wait for it.
    wire sa_in_inord = in_inord && tp_fin && ((mt_flags & TF_FIN) == 8'd0) &&
                       (tp_dr == DROP_NONE4) && !acc_leave;
    // the frame's drop reason as the send side's step sees it: dr from finish(), or the
    // append's own in S_INORD (the register still holds an earlier frame's)
    wire [4:0] sa_dr = in_inord ? {1'b0, tp_dr} : dr;
    // the frame's send-side steps: skipped for UDP and for an ACK of data never sent
    wire sa_skip  = !f_tcp || (sa_dr == DROP_BAD_ACK && was_open);
    wire sa_conn  = (f_was == ST_SYN_SENT) && (cx_state != ST_SYN_SENT) && connect_pend;
    wire sa_abort = (cx_state == ST_CLOSED) && (f_was != ST_CLOSED);
    wire sa_ack   = (sa_dr != DROP_OOW) && (sa_dr != DROP_BAD_STATE) && ((mt_flags & TF_ACK) != 8'd0) &&
                    ((mt_flags & TF_RST) == 8'd0) && st_open;
    wire sa_close = fin_acked && close_pend;
    wire sa_est   = (f_was == ST_SYN_RCVD || f_was == ST_SYN_SENT) && st_open;
    wire sa_stop  = (f_was == ST_SYN_RCVD) && (cx_state == ST_LISTEN);
    // steps beyond snd_ack: the handshake's end, an active open's end, the peer's RST
    wire sa_slow  = sa_syn || sa_est || sa_stop || sa_conn || sa_abort;
    // the common case in one step (S_SA0): an ACK that completes no post and no close; a kept
    // frame without an ACK of its own (a delayed ACK, an RST marker, a datagram) that posts no
    // ACCEPT also ends there, S_FIN's work done in the same cycle (its chain stays listed)
    wire sa_simple = sa_skip || (!sa_slow && !sa_ack) || (!sa_slow && !pw_need && !close_due);
    wire sa_fin    = (state == S_SA0) && sa_simple && !f_ack && f_keep && !acc_leave;
    wire sa_fold   = sa_in_inord && sa_simple && !tp_ack;
    // S_FIN folded into S_TX1: a kept frame that posts no ACCEPT (nothing to free, nothing to
    // post) ends as its ACK is queued, with S_TX1's context written back
    wire tx_fold   = (state == S_TX1) && tx_ready && !tx_arp && f_keep && !acc_leave;
    // what the frame's end (frame_done) sees: S_INORD's or S_TX1's outcome when it ends there
    // (sa_fold, tx_fold), else the registers
    wire           fd_wake = f_wake || in_inord;
    wire [CW-1:0]  fd_cx   = (in_inord || (state == S_TX1)) ? cx_tp : cx;
    wire [4:0]     fd_dr   = in_inord ? DROP_NONE : dr;
    wire [BW-1:0]  fd_seg_head = fd_cx[8*`BF_SOCK_CTX_SEG_HEAD_OFF +: BW];   // a listed head: < NUM_BUFLETS
    wire [15:0]    fd_nb_head  = fd_cx[`BF_SOCK_CTX_NB_HEAD_RANGE];
    // a frame whose in-order list grew delivers at once (frame_done) when the pick after it
    // would take that delivery: no other socket waits for one (the pending FIFO is empty or
    // holds only this socket, which then leaves it) and no request is offered (the round
    // robin after a frame tries the request first, then delivery)
    wire pq_self   = (pq_cnt == {{SW{1'b0}}, 1'b1}) && pq_in[sk_idx];
    // a frame chained to the delivery step before it (docs/tcp-receive.md "Chained frames"):
    // a step that issues its chunk and keeps the NB takes the record at the metadata FIFO's
    // head in the same cycle (no S_IDLE) when the pick after it would take that frame (no
    // tick and no send step waits; the round robin after a delivery tries the frame before a
    // request or another delivery) and the frame is forwarded to this socket; the context it
    // starts from is the one the step writes back (cx_dl). Not after a hold record (p2p): the
    // model times those steps to the record's write, not to its issue
    wire fr_chain  = (state == S_DISSUE) && wr_fire && !dlv_ret && !sk_hold && s_meta_valid &&
                     (s_meta_reason == DROP_NONE4) && fw_valid && (pk_key == fw_key) &&
                     (sk_idx == fw_idx) && !tk_pend && !tq_valid;
    wire dl_chain  = fd_wake && (fd_nb_head != NULL16) && ((pq_cnt == {(SW+1){1'b0}}) || pq_self) && !s_req_valid;
    // completions of the send side
    function [255:0] cpl_of(input [7:0] kind, input [7:0] st, input [31:0] tag, input [31:0] refn,
                            input [31:0] bytes, input [7:0] op);
        begin
            cpl_of = 256'd0;
            cpl_of[`BF_CPL_KIND_RANGE]     = kind;
            cpl_of[`BF_CPL_STATUS_RANGE]   = st;
            cpl_of[`BF_CPL_SOCK_REF_RANGE] = {{(16-SW){1'b0}}, sk_idx};
            cpl_of[`BF_CPL_TAG_RANGE]      = tag;
            cpl_of[`BF_CPL_REF_NUM_RANGE]  = refn;
            cpl_of[`BF_CPL_BYTES_RANGE]    = bytes;
            cpl_of[`BF_CPL_OPCODE_RANGE]   = op;
        end
    endfunction

    // ------------------------------------------------------------------ table write ports
    // each step's writes come from the submodule that decides it (one step at a time)
    wire          ctx_we = rq_ctx_we || dl_ctx_we || ((fin_go || sa_fin || sa_in_inord || tx_fold) && f_wb) || cx_wb || acc_we;
    wire [SW-1:0] ctx_wa = rq_ctx_at_sock ? rq_sock[SW-1:0] : sk_idx;
    wire [CW-1:0] ctx_wd = rq_ctx_we ? rq_ctx_wd : dl_ctx_we ? cx_dl : acc_we ? acc_ctx : fd_cx;
    wire          sock_we = rq_sock_we || acc_we;
    wire [SW-1:0] sock_wa = acc_we ? sk_idx : rq_sock[SW-1:0];
    wire [511:0]  sock_wd = acc_we ? acc_desc : rq;
    wire          bkt_we  = rq_bkt_we || acc_we;
    wire [15:0]   bkt_wd  = acc_we ? 16'(sk_idx) : rq_bkt_wd;
    wire          nb_we  = rq_nb_we || dl_nb_we || ((state == S_TK2) && tk_count);
    wire [NW-1:0] nb_wa  = rq_nb_at_ref ? rq_nb : nb_idx;
    wire [511:0]  nb_wd  = rq_nb_we ? rq_nb_wd : dl_nb_we ? nb_dl : nb_tick;
    wire          hdr_we = seg_we || dl_hdr_we;
    wire [BW-1:0] hdr_wa = dl_hdr_we ? hd_idx : mt_head[BW-1:0];
    wire [127:0]  hdr_wd = dl_hdr_we ? hd_dlv : (state == S_UDP) ? hd_udp : hd_tp;
    // forwarding: the record at the metadata FIFO's head is for the socket the last walk
    // matched (fw_pick); its descriptor and context are read at the pick (fw_fast) when the
    // socket register names it and no context is being written back in this cycle (a
    // SOCK_CLOSE's, whose last state comes back to S_IDLE with it); else S_LOOK1 reads them
    wire [FWK-1:0] pk_key  = {s_meta_src_ip, s_meta_dst_ip, s_meta_src_port, s_meta_dst_port,
                              s_meta_vlan, s_meta_udp};
    wire [FWK-1:0] mt_key  = {mt_src_ip, mt_dst_ip, mt_src_port, mt_dst_port, mt_vlan, mt_udp};
    wire           fw_pick = pick_meta && (s_meta_reason == DROP_NONE4) && fw_valid && (pk_key == fw_key);
    wire           fw_fast = fw_pick && (sk_idx == fw_idx) && !ctx_we;
    always @(posedge clk) begin
        if (sock_we) sock_mem[sock_wa] <= sock_wd;
        if (snd_we) snd_mem[sk_idx] <= snd_wd;
        if (ctx_we) ctx_mem[ctx_wa] <= ctx_wd;
        if (nb_we) nb_mem[nb_wa] <= nb_wd;
        if (hdr_we) hdr_mem[hdr_wa] <= hdr_wd;
        if (nxt_we) nxt_mem[nxt_wa] <= nxt_wd;
        if (seg_we) chn_mem[mt_head[BW-1:0]] <= {mt_count, mt_tail};
        if (bkt_we) bkt_mem[b_idx] <= bkt_wd;
    end

    // Latch the frame record at the metadata FIFO's head and clear the frame's outcome (the
    // pick in S_IDLE, or a frame chained to a delivery step, fr_chain).
    task take_meta;
        begin
            {mt_reason, mt_vlan, mt_src_ip, mt_dst_ip, mt_src_port, mt_dst_port} <=
                {s_meta_reason, s_meta_vlan, s_meta_src_ip, s_meta_dst_ip, s_meta_src_port, s_meta_dst_port};
            {mt_seq, mt_ack, mt_flags, mt_ws_valid, mt_pay_off, mt_pay_len} <=
                {s_meta_seq, s_meta_ack, s_meta_flags, s_meta_ws_valid, s_meta_pay_off, s_meta_pay_len};
            {mt_head, mt_tail, mt_count, mt_len, mt_udp, mt_arp_req, mt_arp_sha} <=
                {s_meta_head, s_meta_tail, s_meta_count, s_meta_len, s_meta_udp, s_meta_arp_req, s_meta_arp_sha};
            {mt_window, mt_mss, mt_ws, f_tcp, tx_mode} <= {s_meta_window, s_meta_mss, s_meta_ws, 1'b0, 3'd0};
            {mt_src_mac, acc_posted} <= {s_meta_src_mac, 1'b0};
            {f_keep, f_wake, f_wb, tx_arp} <= 4'b0000;
        end
    endtask
    // Put a socket on the pending-delivery FIFO unless it is already there.
    task wake(input [SW-1:0] s);
        if (!pq_in[s]) begin
            pq_mem[pq_wp] <= s;
            pq_wp    <= (pq_wp == SOCK_LAST32[SW-1:0]) ? {SW{1'b0}} : pq_wp + 1'b1;
            pq_cnt   <= pq_cnt + 1'b1;
            pq_in[s] <= 1'b1;
        end
    endtask
    // Take the socket at the pending-delivery FIFO's head off it.
    task pq_pop;
        begin
            pq_in[pq_mem[pq_rp]] <= 1'b0;
            pq_rp  <= (pq_rp == SOCK_LAST32[SW-1:0]) ? {SW{1'b0}} : pq_rp + 1'b1;
            pq_cnt <= pq_cnt - 1'b1;
        end
    endtask
    // Put a chain on m_free_* (the caller has checked free_slot).
    task free_op(input [15:0] h, input [15:0] t, input [15:0] c);
        {fr_valid, fr_head, fr_tail, fr_count} <= {1'b1, h, t, c};
    endtask
    // Free the chain starting at hd_idx (count and tail from chn_mem) when `go`.
    task free_chain(input go);
        if (go) free_op(hd_idx16, chn_rd[15:0], chn_rd[31:16]);
    endtask
    // Finish a frame: optionally queue an ACK, then S_FIN frees the chain / counts the drop.
    // (the send side's steps come first, S_SA0)
    task finish(input [4:0] reason, input ack);
        {dr, f_ack, state} <= {reason, ack, S_SA0};
    endtask
    // The end of a frame (S_FIN, or S_SA0 or S_INORD (sa_fold) for a kept frame without an
    // ACK, or S_TX1 (tx_fold) for a kept frame with one; fd_* are what it ends with): its outcome is
    // counted and a socket whose in-order list grew is woken for delivery, or delivers at
    // once (dl_chain): the pick that follows would take its delivery, and its descriptor and
    // context are the engine's registers (just written back), so it goes straight to S_D1
    // with the list's and the NB list's heads (no S_IDLE, no S_DQ).
    task frame_done;
        begin
            ev_drop_valid  <= (fd_dr != DROP_NONE);
            ev_drop_reason <= fd_dr;
            ev_rx_done     <= (fd_dr == DROP_NONE);
            if (dl_chain) begin
                {hd_idx, nb_idx} <= {fd_seg_head, fd_nb_head[NW-1:0]};
                {last_src, state, ev_dlv_chain} <= {3'd2, S_D1, 1'b1};
                if (pq_self) pq_pop;
            end else begin
                if (fd_wake && (fd_nb_head != NULL16)) wake(sk_idx);
                state <= S_IDLE;
            end
        end
    endtask
    // A frame for the anonymous path (reason NOT_IPV4 or NO_SOCKET): delivered into the head
    // anonymous buffer when there is one and the frame was stored whole, else dropped.
    task anon_or_drop(input [4:0] reason);
        {an_rsn, dr, state} <= {reason, anon_go ? DROP_NONE : reason, anon_go ? S_AN0 : S_FIN};
    endtask
    // A frame's lookup found no socket: a SYN to a listen slot takes a socket from the accept
    // pool (or is dropped LISTEN_FULL, unanswered); anything else takes the NO_SOCKET path.
    task lookup_miss;
        if (l_syn && l_hit) {dr, state} <= l_full ? {DROP_LISTEN_FULL, S_FIN} : {DROP_NONE, S_ACC0};
        else anon_or_drop(DROP_NO_SOCKET);
    endtask
    // Timer sweep: go on with the next socket of the active list, or end the tick.
    task tk_next(input [15:0] n);
        {sk_idx, state} <= (n == NULL16) ? {sk_idx, S_IDLE} : {n[SW-1:0], S_TKS0};
    endtask
    // Queue a tx command built by toe_tcp_rx in mode m (after the window settles), then go on
    // with state r.
    task tx_push(input [2:0] m, input [6:0] r);
        {tx_mode, tx_ret, state} <= {m, r, S_TXW};
    endtask
    // Give the socket's posts back (TX_DONE with status st), then a pending active open and
    // SOCK_CLOSE; rst: send RST | ACK first; cls: the socket moves to CLOSED; then state r.
    task ab_go(input [7:0] st, input rs, input cl, input [6:0] r);
        {ab_st, ab_rst, ab_cls, ab_ret, state} <= {st, rs, cl, r, S_AB0};
    endtask

    // ------------------------------------------------------------------ main FSM
    always @(posedge clk) begin
        if (rst) begin
            state    <= S_IDLE;
            last_src <= 3'd4;              // the frame goes first
            {bkt_vld, sock_used, nb_used, hold_bm, mk_bm, pq_in} <= 0;
            act_head <= NULL16;
            {pq_wp, pq_rp, pq_cnt} <= 0;
            {fr_valid, df_valid, df2_valid, cp_valid, del_mode, an_rsn} <= 0;
            {df_tag, df2_tag, mv_acc} <= 0;
            {ev_drop_valid, ev_drop_reason, ev_accepted, ev_delivered_valid, ev_delivered_bytes} <= 0;
            {ev_nb_returned, ev_ooo_held, ev_anon_rx, ev_arp_reply, ev_timeout, ev_tick, ev_rx_done} <= 0;
            {ev_fault, ev_fault_addr, ev_fault_write, expose_en, expose_idx, ev_hold_rec, ev_released} <= 0;
            {cx_wb, ev_syn_retrans, ev_tx_rto, ev_tx_done, ev_tx_done_count, tx_mode, f_tcp, f_ack} <= 0;
            {ev_accept, ev_lookup, ev_lookup_cyc, acc_posted, ev_tx_wupd, ev_tx_dack} <= 0;
            {fw_valid, fw_hit, ev_lookup_fwd, ev_dlv_chain, ev_frm_chain} <= 5'b00000;
        end else begin
            {ev_accept, ev_lookup, ev_lookup_fwd, ev_dlv_chain, ev_frm_chain} <= 5'd0;
            ev_lookup_cyc <= (state == S_LOOK0) || ((state == S_LOOK1) && !fw_hit);
            // a socket inserted or a SOCK_DEL begun: the next frames walk their chains
            if (sock_we || (state == S_DEL0)) fw_valid <= 1'b0;
            {cx_wb, ev_syn_retrans, ev_tx_rto, ev_tx_done, ev_tx_wupd, ev_tx_dack} <= 6'd0;
            {ev_drop_valid, ev_accepted, ev_delivered_valid, ev_nb_returned, ev_ooo_held, ev_rx_done} <= 0;
            {ev_anon_rx, ev_arp_reply, ev_timeout, ev_tick, ev_hold_rec, ev_released} <= 0;
            if (fr_valid && m_free_ready) fr_valid <= 1'b0;
            if (wr_fire) mv_acc <= mv_acc + 8'd1;
            // the deferred frees: the oldest leaves once read, a drained chunk's joins behind
            if (df_move) free_op(df_head, df_tail, df_count);
            if (df_move && (df2_valid || df_push)) begin
                df_valid <= 1'b1;
                {df_head, df_tail, df_count, df_tag} <= df2_valid ? {df2_head, df2_tail, df2_count, df2_tag}
                                                                  : {hd_idx16, chn_rd[15:0], chn_rd[31:16], mv_acc};
            end else if (df_move) begin
                df_valid <= 1'b0;
            end else if (df_push && !df_valid) begin
                df_valid <= 1'b1;
                {df_head, df_tail, df_count, df_tag} <= {hd_idx16, chn_rd[15:0], chn_rd[31:16], mv_acc};
            end
            if (df_push && ((df_valid && !df_move) || (df_move && df2_valid))) begin
                df2_valid <= 1'b1;
                {df2_head, df2_tail, df2_count, df2_tag} <= {hd_idx16, chn_rd[15:0], chn_rd[31:16], mv_acc};
            end else if (df_move) begin
                df2_valid <= 1'b0;
            end
            if (cp_valid && m_cpl_ready) cp_valid <= 1'b0;
            // a hold record names its buflet: it becomes exposed
            expose_en <= mv_rec_issue;
            if (mv_rec_issue) expose_idx <= mv_rec_buf;
            // a refused protection lookup: the FSM goes on with the refusal's return
            ev_fault <= prot_ask && prot_deny;
            if (prot_ask && prot_deny) {ev_fault_addr, ev_fault_write} <= {prot_addr, prot_write};

            case (state)
                // ---------------------------------------------------------- pick an event
                S_IDLE: begin
                    // a request's entry is latched by toe_req, the free count by toe_tcp_rx
                    if (pick_ok) last_src <= pick;
                    if (pick_meta) begin
                        take_meta;
                        // a frame for the lookup: the bucket read next (no S_META)
                        if (s_meta_reason == DROP_NONE4) {b_idx, ev_lookup} <= {pick_bkt, 1'b1};
                        // or answered by forwarding: S_TCP (S_UDP) next, or S_LOOK1's read
                        {fw_hit, ev_lookup_fwd} <= {2{fw_pick}};
                        if (fw_fast) begin
                            {sk, cx, f_wb, f_tcp} <= {sk_rd, cx_rd, 1'b1, !s_meta_udp};
                            f_was <= cx_rd[`BF_SOCK_CTX_STATE_RANGE];
                        end else if (fw_pick) begin
                            sk_idx <= fw_idx;
                        end
                    end
                    if (pick_dlv) begin
                        sk_idx <= pq_mem[pq_rp];
                        pq_pop;
                    end
                    // a timer tick sweeps the active list from its head
                    ev_tick <= pick_tick;
                    if (pick_tick && act_head != NULL16) sk_idx <= act_head[SW-1:0];
                    if (pick_snd) sk_idx <= tq_sock;
                    state <= pick_req ? S_REQ :
                             pick_meta ? ((s_meta_reason != DROP_NONE4) ? S_META :
                                          fw_fast ? (s_meta_udp ? S_UDP : S_TCP) : fw_pick ? S_LOOK1 : S_LOOK0) :
                             pick_dlv ? S_DQ : pick_snd ? S_SQ :
                             (pick_tick && act_head != NULL16) ? S_TKS0 : S_IDLE;
                end

                // ---------------------------------------------------------- requests (toe_req)
                // the operation goes on, or CMD_DONE with toe_req's status; an accepted
                // ANON_POST completes later (ANON_RX)
                S_REQ: begin
                    if (go_add) b_idx <= req_bkt;
                    if (go_del || go_nb || go_add || go_snd) sk_idx <= rq_sock[SW-1:0];
                    // SOCK_LISTEN / SOCK_UNLISTEN / SOCK_POOL are toe_listen's (this cycle);
                    // an accepted SOCK_POOL posts no completion
                    state <= go_add ? S_REQ_ADD : go_del ? S_DEL0 : go_nb ? S_REQ_NB1 :
                             (go_anon || go_pool) ? S_IDLE : go_rel ? S_REL0 : go_snd ? S_SR0 : S_CPL;
                end
                S_REQ_ADD: begin
                    bkt_vld[b_idx] <= 1'b1;
                    sock_used[rq_sock[SW-1:0]] <= 1'b1;
                    // an active open completes when its handshake ends (toe_tx)
                    {act_head, state} <= {rq_sock, go_connect ? S_CON0 : S_CPL};
                end
                S_REQ_NB1: begin
                    nb_used[rq_nb] <= 1'b1;
                    if (cxr_nb_tail != NULL16) nb_idx <= cxr_nb_tail[NW-1:0];
                    else if (cxr_seg_head != NULL16) wake(sk_idx);
                    state <= (cxr_nb_tail != NULL16) ? S_REQ_NB2 : S_IDLE;
                end
                S_REQ_NB2: begin if (cxr_seg_head != NULL16) wake(sk_idx); state <= S_IDLE; end
                S_CPL: if (cpl_slot) {cp_valid, cp_data, state} <= {1'b1, cpl_cmd, S_IDLE};
                // BUF_RELEASE: heads in order; the first one not held ends it BAD_BUF
                S_REL0: {hd_idx, state} <= {rl_buf, rl_held ? S_REL1 : S_CPL};
                S_REL1: if (rel_go) begin
                    // a FIN/RST segment still on its list keeps its chain until the FIN step or
                    // SOCK_DEL frees it with the segment
                    free_chain(!mk_bm[hd_idx]);
                    hold_bm[hd_idx] <= 1'b0;
                    ev_released <= 1'b1;
                    state <= rl_last ? S_CPL : S_REL0;
                end

                // ---------------------------------------------------------- SOCK_DEL
                S_DEL0: if (mv_rd_idle && mv_out_idle) {sk, cx, del_mode, state} <= {sk_rd, cx_rd, 1'b1, S_DTX};
                // the posts go back first (RESET), once tx_data reads none of them
                S_DTX: if (txd_idle && !walk_busy) ab_go(ST_RESET, 1'b0, 1'b0, S_DEL_NB);
                // NBs are returned with DELETE (toe_deliver), then the in-order and the
                // reassembly list's chains are freed, then the socket is unlinked
                S_DEL_NB: begin
                    if (cx_nb_head != NULL16) nb_idx <= cx_nb_head[NW-1:0];
                    else if (cx_seg_head != NULL16) hd_idx <= cx_seg_head[BW-1:0];
                    else hd_idx <= cx_ooo_head[BW-1:0];
                    del_list <= (cx_seg_head == NULL16);
                    state <= (cx_nb_head != NULL16) ? S_DEL_NBR :
                             (cx_seg_head != NULL16 || cx_ooo_head != NULL16) ? S_DEL_SEG : S_DEL_UL;
                end
                S_DEL_NBR: {nb, state} <= {nb_rd, S_DRET};
                S_DEL_SEG: if (free_slot) begin
                    // a held chain stays held; released meanwhile, it is freed now
                    mk_bm[hd_idx] <= 1'b0;
                    free_chain(!hold_bm[hd_idx]);
                    if (!del_list && hd_is_tail) begin
                        hd_idx   <= cx_ooo_head[BW-1:0];
                        del_list <= 1'b1;
                        if (cx_ooo_head == NULL16) state <= S_DEL_UL;
                    end else begin
                        hd_idx <= nxt_rd[BW-1:0];
                        if (del_list && nxt_rd == NULL16) state <= S_DEL_UL;
                    end
                end
                S_DEL_UL: {b_idx, state} <= {del_bkt, S_DEL_UL0};
                // hash chain, then active list: the head (rewritten by the table write logic
                // when it is the socket), or walk to the predecessor (its link rewritten)
                S_DEL_UL0: begin
                    sk_idx <= bkt_rd[SW-1:0];
                    state  <= (bkt_rd == rq_sock || bkt_rd == NULL16) ? S_DEL_AL0 : S_DEL_UL1;
                end
                S_DEL_UL1: begin
                    sk_idx <= cxr_next_sock[SW-1:0];
                    if (cxr_next_sock == rq_sock || cxr_next_sock == NULL16) state <= S_DEL_AL0;
                end
                S_DEL_AL0: begin
                    if (act_head == rq_sock) act_head <= cx_act_next;
                    sk_idx <= act_head[SW-1:0];
                    state  <= (act_head == rq_sock || act_head == NULL16) ? S_DEL_END : S_DEL_AL1;
                end
                S_DEL_AL1: begin
                    sk_idx <= cxr_act_next[SW-1:0];
                    if (cxr_act_next == rq_sock || cxr_act_next == NULL16) state <= S_DEL_END;
                end
                // CMD_DONE/OK (set by toe_req in S_REQ)
                S_DEL_END: begin
                    sock_used[rq_sock[SW-1:0]] <= 1'b0;
                    {del_mode, state} <= {1'b0, S_CPL};
                end

                // ---------------------------------------------------------- rx metadata
                // a frame the parser did not pass for the lookup (S_IDLE sends a frame for
                // the lookup to S_LOOK0, or forwarded to S_LOOK1, S_TCP or S_UDP): an ARP
                // request for NIC_IP: queue the reply, the frame is
                // consumed; or the anonymous path; or the parser's drop
                S_META: begin
                    tx_arp <= arp_hit;
                    if (arp_hit) {dr, state} <= {DROP_NONE, S_TX1};
                    else if (anon_rsn) anon_or_drop({1'b0, mt_reason});
                    else {dr, state} <= {1'b0, mt_reason, S_FIN};
                end
                // lookup (toe_lookup): the bucket head, then the chain
                S_LOOK0: begin
                    sk_idx <= bkt_rd[SW-1:0];
                    if (bkt_rd == NULL16) lookup_miss;
                    else state <= S_LOOK1;
                end
                S_LOOK1: begin
                    if (sk_match) begin
                        {sk, cx, f_wb, state} <= {sk_rd, cx_rd, 1'b1, mt_udp ? S_UDP : S_TCP};
                        {f_was, f_tcp} <= {cx_rd[`BF_SOCK_CTX_STATE_RANGE], !mt_udp};
                        {fw_valid, fw_idx, fw_key} <= {1'b1, sk_idx, mt_key};
                    end
                    else if (cxr_next_sock == NULL16) lookup_miss;
                    else sk_idx <= cxr_next_sock[SW-1:0];
                end
                // a SYN takes the accept pool's head (toe_listen pops it, reads the template)
                S_ACC0: {sk_idx, state} <= {pool_head, S_ACC1};
                // its sock_desc and context are written, linked like a SOCK_ADD's (table
                // write logic; toe_tx starts its send state), then the LISTEN rules
                S_ACC1: begin
                    bkt_vld[b_idx] <= 1'b1;
                    sock_used[sk_idx] <= 1'b1;
                    act_head <= 16'(sk_idx);
                    {sk, cx, f_wb, f_was, f_tcp, state} <= {acc_desc, acc_ctx, 1'b1, ST_LISTEN, 1'b1, S_TCP};
                end
                // ACCEPT (status acc_st), then state acc_ret
                S_ACPT: if (cpl_slot) begin
                    {cp_valid, ev_accept, state} <= {1'b1, acc_st == ST_OK8, acc_ret};
                    cp_data <= cpl_of(KIND_ACCEPT, acc_st, sk[`BF_SOCK_DESC_TAG_RANGE], sk[`BF_SOCK_DESC_REMOTE_IP_RANGE],
                                      {8'd0, sk[`BF_SOCK_DESC_LISTEN_SLOT_RANGE], sk[`BF_SOCK_DESC_REMOTE_PORT_RANGE]},
                                      OP_SOCK_LISTEN);
                end
                // TCP (toe_tcp_rx decides; cx_tp is the context after the step); the segment's
                // header, chain and links are written by the table write logic
                S_TCP: begin
                    cx <= cx_tp;
                    if (tp_fin) finish({1'b0, tp_dr}, tp_ack);
                    else state <= S_EST0;
                end
                S_EST0: begin
                    cx <= cx_tp;
                    if (tp_fin) finish({1'b0, tp_dr}, tp_ack);
                    else state <= tp_alt ? S_RSTMK : tp_inord ? S_INORD : S_EST1;
                end
                S_EST1: begin
                    hd_idx <= cx_ooo_head[BW-1:0];
                    if (tp_fin) finish({1'b0, tp_dr}, tp_ack);
                    else state <= tp_alt ? S_INORD : S_INS;
                end
                S_RSTMK, S_UDP: begin
                    // an RST marker or a UDP datagram joins the in-order list; no ACK
                    if (state == S_RSTMK) begin
                        cx <= cx_tp;
                    end else begin
                        cx[`BF_SOCK_CTX_SEG_TAIL_RANGE] <= mt_head;
                        if (cx_seg_head == NULL16) cx[`BF_SOCK_CTX_SEG_HEAD_RANGE] <= mt_head;
                    end
                    ev_accepted <= (state == S_UDP);
                    {f_keep, f_wake} <= 2'b11;
                    finish(DROP_NONE, 1'b0);
                end
                // appended; with the reassembly list empty the frame ends here (no drain step)
                S_INORD: begin
                    {cx, ev_accepted, f_keep, f_wake} <= {cx_tp, tp_acc, 2'b11};
                    if (sa_in_inord) {dr, f_ack} <= {DROP_NONE, tp_ack};
                    if (sa_fold) frame_done;
                    else if (sa_in_inord) state <= sa_simple ? S_TX0 : sa_slow ? S_SA1 : S_SA6;
                    else if (tp_fin) finish({1'b0, tp_dr}, tp_ack);
                    else state <= S_DRAIN;
                end
                S_DRAIN: begin
                    cx <= cx_tp;
                    if (tp_fin) finish({1'b0, tp_dr}, tp_ack);
                    else hd_idx <= nxt_rd[BW-1:0];
                end
                S_INS: begin
                    if (tp_step) hd_idx <= nxt_rd[BW-1:0];
                    if (tp_fin) finish({1'b0, tp_dr}, tp_ack);
                    else if (!tp_stay) state <= tp_alt ? S_INS_L : S_INS_B;
                end
                S_INS_B: if (tp_fin) finish({1'b0, tp_dr}, tp_ack); else state <= S_INS_L;
                S_INS_L: begin
                    {cx, ev_ooo_held, f_keep} <= {cx_tp, 2'b11};
                    if (tp_fin) finish({1'b0, tp_dr}, tp_ack);
                    else state <= S_INS_L2;
                end
                S_INS_L2: finish(DROP_NONE, 1'b1);
                S_TX0: state <= S_TX1;            // the window follows the final cx
                // queued: an ACK or SYN-ACK moves the right edge
                S_TX1: if (tx_fold) begin
                        cx <= cx_tp;
                        frame_done;
                    end else if (tx_ready) {cx, ev_arp_reply, state} <= {cx_tp, tx_arp, S_FIN};
                S_FIN: if (acc_wait) begin
                    {acc_st, acc_ret, acc_posted, state} <=
                        {(cx_state == ST_CLOSED) ? ST_RESET : ST_OK8, S_FIN, 1'b1, S_ACPT};
                end else if (fin_go) begin
                    if (fin_free) free_op(mt_head, mt_tail, mt_count);
                    frame_done;
                end

                // ---------------------------------------------------------- delivery (toe_deliver)
                S_DQ: begin
                    {sk, cx, hd_idx, nb_idx} <= {sk_rd, cx_rd, cxr_seg_head[BW-1:0], cxr_nb_head[NW-1:0]};
                    state <= (!sock_used[sk_idx] || cxr_seg_head == NULL16) ? S_IDLE : S_D1;
                end
                S_D1: begin
                    {hd, nb} <= {hd_rd, nb_rd};
                    if (d_empty) state <= (d_finrst && !cx_has_nb) ? S_IDLE : S_DFREE;
                    else if (!cx_has_nb) state <= S_IDLE;
                    // cached: a page not yet checked is checked first (once)
                    else state <= !pc_hit ? S_DPGREQ : pc_hit_chk ? S_DISSUE : S_DPGCHK;
                end
                // the page list is checked before it is read, the page read from it before it
                // is used; a refusal (or a failed read) returns the head NB
                S_DPGREQ: state <= prot_deny ? S_DRET : m_dma_rd_req_ready ? S_DPGRSP : S_DPGREQ;
                S_DPGRSP: if (s_axis_dma_rd_tvalid && s_axis_dma_rd_tlast)
                    state <= s_axis_dma_rd_tuser ? S_DRET : S_DPGCHK;
                S_DPGCHK: state <= prot_deny ? S_DRET : S_DISSUE;
                S_DISSUE: if (wr_fire) begin
                    {hd, nb, cx} <= {hd_dlv, nb_dl, cx_dl};
                    {ev_delivered_valid, ev_delivered_bytes, ev_hold_rec} <= {1'b1, 3'd0, dn, sk_hold};
                    if (sk_hold && dlv_empt) hold_bm[hd_idx] <= 1'b1;
                    if (sk_hold && dlv_empt && hd_finrst) mk_bm[hd_idx] <= 1'b1;
                    if (!dlv_ret && cx_dl[`BF_SOCK_CTX_SEG_HEAD_RANGE] != NULL16) wake(sk_idx);
                    state <= dlv_ret ? S_DRET : S_IDLE;
                    // the next frame, forwarded to this socket: S_TCP (S_UDP) with its
                    // descriptor and the context written back now
                    if (fr_chain) begin
                        take_meta;
                        {last_src, ev_lookup, fw_hit, ev_lookup_fwd, ev_frm_chain} <= {3'd0, 4'b1111};
                        {f_wb, f_tcp, f_was} <= {1'b1, !s_meta_udp, cx_dl[`BF_SOCK_CTX_STATE_RANGE]};
                        state <= s_meta_udp ? S_UDP : S_TCP;
                    end
                end
                S_DFREE: if (dfree_go) begin
                    // an empty segment: freed, unless its chain is held (the last record of a
                    // hold FIN segment named it and it was not released meanwhile)
                    mk_bm[hd_idx] <= 1'b0;
                    free_chain(!hold_bm[hd_idx]);
                    cx <= cx_dl;
                    if (!hd_finrst && cx_dl[`BF_SOCK_CTX_SEG_HEAD_RANGE] != NULL16) wake(sk_idx);
                    state <= hd_finrst ? S_DRET : S_IDLE;
                end
                S_DRET: if (dret_go) begin
                    nb_used[nb_idx] <= 1'b0;
                    {cp_valid, cp_data, ev_nb_returned, cx} <= {1'b1, cpl_ret, 1'b1, cx_dl};
                    if (del_mode) begin
                        state <= S_DEL_NB;
                    end else begin
                        // woken: waiting segments go to the next NB
                        if (cx_dl[`BF_SOCK_CTX_SEG_HEAD_RANGE] != NULL16 &&
                            cx_dl[`BF_SOCK_CTX_NB_HEAD_RANGE] != NULL16) wake(sk_idx);
                        ev_timeout <= tk_mode;
                        if (tk_mode) tk_next(cx_act_next);
                        else state <= S_IDLE;
                    end
                end

                // ---------------------------------------------------------- timer sweep (toe_sweep)
                S_TK1: begin
                    // the socket's context: its head NB, if any
                    {cx, nb_idx} <= {cx_rd, cxr_nb_head[NW-1:0]};
                    if (cxr_nb_head != NULL16) state <= S_TK2;
                    else tk_next(cxr_act_next);
                end
                S_TK2: begin
                    // the head NB: TICKS_LEFT counted down (the table write logic), returned
                    // with TIMEOUT when that makes it 0
                    nb <= nb_rd;
                    if (tk_expire) state <= S_DRET;
                    else tk_next(cx_act_next);
                end

                // ---------------------------------------------------------- anonymous delivery (toe_udp_anon)
                // the whole buffer is checked before any write into it: a refusal returns it
                // ANON_RX PROT_FAULT BYTES 0 and drops the frame under its own reason
                S_AN0: state <= S_AN1;
                S_AN1: state <= S_AN_CHK;
                S_AN_CHK: state <= prot_deny ? S_AN_CPL : S_AN_WR;
                S_AN_WR: if (an_fire && an_last) state <= S_AN_FREE;
                S_AN_FREE: if (anfree_go) begin
                    free_op(mt_head, mt_tail, mt_count);
                    state <= S_AN_CPL;
                end
                S_AN_CPL: if (ancpl_go) begin
                    {cp_valid, cp_data, ev_anon_rx} <= {1'b1, cpl_anon, !an_refused};
                    if (an_refused) dr <= an_rsn;   // S_FIN frees the chain and counts the drop
                    state <= an_refused ? S_FIN : S_IDLE;
                end
                // ---------------------------------------------------------- send side (toe_tx)
                // TX_POST / SOCK_CLOSE: the socket's state; accepted, or CMD_DONE with toe_tx's status
                S_SR0: {sk, cx, state} <= {sk_rd, cx_rd, S_SR1};
                S_SR1: if (!sr_refuse && rq_abort) begin
                    // abort: the posts, a pending active open and SOCK_CLOSE come back RESET,
                    // then this request's CMD_DONE OK
                    // (a half-open accepted socket's ACCEPT RESET comes before the CMD_DONE)
                    ab_go(ST_RESET, abort_rst, 1'b1, (sk_accd && cx_state == ST_SYN_RCVD) ? S_ACPT : S_CPL);
                    {acc_st, acc_ret} <= {ST_RESET, S_CPL};
                end else begin
                    if (!sr_refuse && !is_post) begin
                        cx[`BF_SOCK_CTX_STATE_RANGE] <= (cx_state == ST_ESTAB) ? ST_FIN_WAIT_1 : ST_LAST_ACK;
                        cx_wb <= 1'b1;
                    end
                    state <= sr_refuse ? S_CPL : S_IDLE;
                end
                // active open: our SYN
                S_CON0: begin
                    {sk, cx} <= {sk_rd, cx_rd};
                    tx_push(3'd2, S_IDLE);
                end
                // the generic tx push: the window follows cx, then the command is queued and
                // the right edge written back
                S_TXW: state <= S_TXG;
                S_TXG: if (tx_ready) begin
                    {cx, cx_wb, state} <= {cx_tp, 1'b1, tx_ret};
                end
                // the send step: the socket's next segment, its pieces, its header
                S_SQ: {sk, cx, state} <= {sk_rd, cx_rd, S_S1};
                S_S1: begin
                    {d_seq, d_len, d_fin} <= {seg_seq, seg_len, seg_fin};
                    state <= (seg_any && sock_used[sk_idx]) ? S_S2 : S_IDLE;
                end
                // the header is queued while the pieces walk (tx_data adds PSH from the last
                // piece); the send state moves once the walk is over (its cursor)
                S_S2: begin
                    d_flags <= d_fin ? TF_FIN : 8'd0;
                    tx_push(3'd1, S_S3);
                end
                S_S3: if (!walk_busy) state <= S_S4;
                S_S4: state <= S_IDLE;
                // the timer tick's send timers, before the socket's named-buffer timeout
                S_TKS0: {sk, cx, state} <= {sk_rd, cx_rd, S_TKS1};
                S_TKS1: begin
                    ev_tx_rto <= tk_rto;
                    if (tk_synack) begin
                        ev_syn_retrans <= 1'b1;
                        tx_push((cx_state == ST_SYN_SENT) ? 3'd2 : 3'd5, S_TKS2);
                    end else if (tk_listen) begin
                        // an accepted socket gives up: CLOSED, ACCEPT TIMEOUT
                        cx[`BF_SOCK_CTX_STATE_RANGE] <= sk_accd ? ST_CLOSED : ST_LISTEN;
                        {acc_st, acc_ret} <= {ST_TIMEOUT, S_TKS2};
                        {cx_wb, state} <= {1'b1, sk_accd ? S_ACPT : S_TKS2};
                    end else if (tk_fail) begin
                        ab_go(ST_TIMEOUT, 1'b0, 1'b1, S_TKS2);
                    end else if (tk_reset) begin
                        ab_go(ST_TIMEOUT, 1'b1, 1'b1, S_TKS2);
                    end else if (tp_wupd || tp_dack) begin
                        // the window opened past a closed or small right edge: a window
                        // update; else an owed delayed ACK (toe_tcp_rx's ACK, the edge and
                        // RCV_ACKED move as it is queued; S_TKS2 lets the context write-back
                        // land before S_TK1 reads it again)
                        {ev_tx_wupd, ev_tx_dack} <= {tp_wupd, !tp_wupd};
                        tx_push(3'd4, S_TKS2);
                    end else begin
                        state <= S_TK1;
                    end
                end
                S_TKS2: state <= S_TK1;
                // a frame's send-side steps (Snd::on_syn, on_established, the active open's
                // end, the peer's RST, snd_ack with its completions), then its ACK / the end
                // the common case in one step: an ACK that completes no post and no close
                S_SA0: begin
                    if (sa_fin) frame_done;
                    else if (sa_simple) state <= f_ack ? S_TX0 : S_FIN;
                    else state <= sa_slow ? S_SA1 : S_SA6;
                end
                S_SA1: state <= S_SA2;              // Snd::on_syn
                S_SA2: state <= S_SA3;              // on_established, the SYN-ACK timer stops
                S_SA3: if (!sa_conn) state <= S_SA4;
                    else if (cpl_slot) begin
                        {cp_valid, state} <= {1'b1, S_SA4};
                        cp_data <= cpl_of(KIND_CMD_DONE, st_open ? ST_OK8 : ST_RESET, connect_tag, 32'd0, 32'd0, OP_SOCK_ADD);
                    end
                S_SA4: if (sa_abort) ab_go(ST_RESET, 1'b0, 1'b1, S_SA5);
                    else state <= S_SA5;
                S_SA5: state <= sa_ack ? S_SA6 : S_SA9;   // snd_ack's arithmetic
                // the posts SND.UNA passed, once tx_data reads none of them (after TX_DONE the
                // NIC never reads a post's memory again)
                S_SA6: if (!pw_need) state <= S_SA8;
                    else if (txd_idle && !walk_busy) state <= S_SA7;
                S_SA7: if (!pw_busy && (pw_count == 32'd0 || cpl_slot)) begin
                    if (pw_count != 32'd0) begin
                        {cp_valid, ev_tx_done, ev_tx_done_count} <= {1'b1, 1'b1, pw_count[15:0]};
                        cp_data <= cpl_of(KIND_TX_DONE, ST_OK8, pw_tag, pw_count, pw_bytes, OP_TX_POST);
                    end
                    state <= S_SA8;
                end
                S_SA8: if (!sa_close) state <= S_SA9;
                    else if (cpl_slot) begin
                        // our FIN acknowledged: SOCK_CLOSE completes, the state moves on
                        {cp_valid, state} <= {1'b1, S_SA9};
                        cp_data <= cpl_of(KIND_CMD_DONE, ST_OK8, close_tag, 32'd0, 32'd0, OP_SOCK_CLOSE);
                        cx[`BF_SOCK_CTX_STATE_RANGE] <= (cx_state == ST_FIN_WAIT_1) ? ST_FIN_WAIT_2 :
                                                        (cx_state == ST_CLOSING) ? ST_TIME_WAIT : ST_CLOSED;
                    end
                S_SA9: state <= f_ack ? S_TX0 : S_FIN;
                // post returns (SOCK_DEL, the peer's RST, a timeout)
                S_AB0: begin
                    if (ab_cls) begin
                        cx[`BF_SOCK_CTX_STATE_RANGE] <= ST_CLOSED;
                        cx_wb <= 1'b1;
                    end
                    if (ab_rst) tx_push(3'd3, S_AB1);
                    else state <= S_AB1;
                end
                S_AB1: if (txd_idle && !walk_busy) state <= S_AB2;
                S_AB2: if (!pw_busy) state <= S_AB3;
                S_AB3: if (pw_count == 32'd0) state <= S_AB4;
                    else if (ab_cpl_go) begin
                        {cp_valid, state} <= {1'b1, S_AB4};
                        cp_data <= cpl_of(KIND_TX_DONE, ab_st, pw_tag, pw_count, pw_bytes, OP_TX_POST);
                    end
                S_AB4: if (!connect_pend) state <= S_AB5;
                    else if (cpl_slot) begin
                        {cp_valid, state} <= {1'b1, S_AB5};
                        cp_data <= cpl_of(KIND_CMD_DONE, ab_st, connect_tag, 32'd0, 32'd0, OP_SOCK_ADD);
                    end
                S_AB5: if (!close_pend) state <= S_AB6;
                    else if (cpl_slot) begin
                        {cp_valid, state} <= {1'b1, S_AB6};
                        cp_data <= cpl_of(KIND_CMD_DONE, ab_st, close_tag, 32'd0, 32'd0, OP_SOCK_CLOSE);
                    end
                S_AB6: state <= ab_ret;
                default: state <= S_IDLE;
            endcase
        end
    end

    // ------------------------------------------------------------------ outputs
    assign {m_free_valid, m_free_head, m_free_tail, m_free_count} = {fr_valid, fr_head, fr_tail, fr_count};
    assign {m_cpl_valid, m_cpl_data} = {cp_valid, cp_data};
    assign m_dma_rd_req_valid   = pl_list && !prot_deny;
    assign m_dma_rd_req_addr    = pl_rd_addr;
    assign m_dma_rd_req_len     = pl_rd_len;
    assign s_axis_dma_rd_tready = (state == S_DPGRSP);
    assign prot_addr  = pl_list ? pl_addr : pg_chk ? pg_new : an_addr;
    assign prot_len   = pl_list ? pl_len : pg_chk ? 32'd4096 : {16'd0, an_len};
    assign prot_write = !pl_list;
    assign m_dma_wr_req_valid = wq_valid;
    assign m_dma_wr_req_addr  = wq_addr;
    assign m_dma_wr_req_len   = wq_len;
    // the mover's words of a write pass once its request is taken (a client's data follows
    // its request): wq_owed counts requests taken whose last word has not passed (a few: the
    // chunks toe_mover holds, in its command register, its reads, its skid FIFO and packer)
    reg  [3:0] wq_owed;
    wire       mv_tvalid, mv_tlast;
    wire       wq_pass  = (wq_owed != 4'd0);
    wire       wq_end   = m_axis_dma_wr_tvalid && m_axis_dma_wr_tready && m_axis_dma_wr_tlast;
    assign m_axis_dma_wr_tvalid = mv_tvalid && wq_pass;
    assign m_axis_dma_wr_tlast  = mv_tlast;
    always @(posedge clk) begin
        if (rst) wq_owed <= 4'd0;
        else wq_owed <= wq_owed + {3'd0, wq_taken} - {3'd0, wq_end};
    end
    always @(posedge clk) begin
        if (rst) begin
            wq_valid <= 1'b0;
        end else if (wr_fire) begin
            wq_valid <= 1'b1;
            wq_addr  <= an_wr ? (an_addr + {48'd0, an_off}) : dl_wr_addr;
            wq_len   <= an_wr ? an_ck : dl_wr_len;
        end else if (m_dma_wr_req_ready) begin
            wq_valid <= 1'b0;
        end
    end

    // delivery data: a payload chunk, a hold record or an anonymous write
    toe_mover #(.DATA_WIDTH(DATA_WIDTH), .BUFLET_BYTES(BUFLET_BYTES), .NUM_BUFLETS(NUM_BUFLETS)) u_mover (
        .clk(clk), .rst(rst), .cmd_valid(wr_fire), .cmd_ready(mv_cmd_ready),
        .cmd_buf(an_wr ? mt_head : hd_idx16), .cmd_off(an_wr ? an_off : hd[`BF_BUFLET_HDR_DATA_OFF_RANGE]),
        .cmd_len(an_wr ? an_ck[12:0] : dn), .cmd_rec(!an_wr && sk_hold), .cmd_head(dlv_empt ? hd_idx16 : NULL16),
        .link_rd_idx(link_rd_idx), .link_rd_next(link_rd_next),
        .ram_rd_en(ram_rd_en), .ram_rd_addr(ram_rd_addr), .ram_rd_data(ram_rd_data),
        .m_axis_tdata(m_axis_dma_wr_tdata), .m_axis_tkeep(m_axis_dma_wr_tkeep), .m_axis_tvalid(mv_tvalid),
        .m_axis_tready(m_axis_dma_wr_tready && wq_pass), .m_axis_tlast(mv_tlast),
        .rd_idle(mv_rd_idle), .rd_done(mv_rd_done), .out_idle(mv_out_idle), .rec_issue(mv_rec_issue),
        .rec_buf(mv_rec_buf)
    );
endmodule
`resetall
