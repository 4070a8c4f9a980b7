// toe_engine: socket table, hash lookup, TCP receive engine 0.2 (docs/tcp-receive.md), UDP
// sockets, anonymous buffers, the ARP responder and the named-buffer timeout sweep
// (docs/rx-paths.md), named buffers and delivery.
//
// A central FSM processes one event completely at a time, picked round-robin in the order
// frame, request, delivery step, tick (rx-paths.md decision 3):
//   (a) an rx metadata record: the ARP answer (a KIND ARP tx command), the anonymous path
//       (frame bytes [0, n) DMA-written into the head anonymous buffer, ANON_RX completion),
//       socket lookup through the hash chains (protocol included), the UDP append, or the TCP
//       state machine (acceptability, trimming, in-order append and reassembly drain or
//       reassembly insert, and the ACK / SYN-ACK tx command with the window right edge);
//   (b) a request entry (SOCK_ADD, SOCK_DEL, NB_POST, ANON_POST, NOP, else BAD_OPCODE);
//   (c) a delivery step for a socket popped from the pending FIFO (one chunk DMA write, or the
//       removal of a drained segment, or an NB return; a UDP datagram returns its NB with
//       DATAGRAM [| TRUNC] once written or once the NB is full);
//   (d) a pending timer tick: the sweep over the active list, one socket per two cycles (its
//       sock_ctx, then its head NB), counting TICKS_LEFT down and returning expired head NBs.
// The buflet pool's free count is latched when the FSM picks a metadata record or a request;
// that sample is the `free` of the window for the whole event.
// State lives in RAM-like arrays (registered read address, one write port each):
//   sock_mem  NUM_SOCKETS  x 512  sock_desc (the SOCK_ADD entry, unchanged)
//   ctx_mem   NUM_SOCKETS  x 320  sock_ctx (NIC-owned state, 40 bytes)
//   bkt_mem   HASH_BUCKETS x 16   hash chain heads (+ a valid bitmap so no init pass is needed)
//   nb_mem    NUM_NBS      x 512  nb_desc layout
//   hdr_mem   NUM_BUFLETS  x 128  buflet_hdr layout (header of a segment's first buflet)
//   nxt_mem   NUM_BUFLETS  x 16   NEXT_SEG of that segment (kept apart from hdr_mem so a list
//                                 link is one narrow write; hdr_mem's NEXT_SEG field is unused)
//   chn_mem   NUM_BUFLETS  x 32   {count, tail} of the segment chain starting at that buflet
//   anon_mem  NUM_ANON     x 112  {ADDR, LEN[15:0], TAG} of a posted anonymous buffer, plus a
//                                 busy bitmap and a FIFO of posted slots (first posted, first used)
// Segment lists: the in-order list runs from SEG_HEAD to SEG_TAIL (the tail's NEXT_SEG is not
// maintained: the list ends at SEG_TAIL), the reassembly list from OOO_HEAD to a null NEXT_SEG.
// A reassembly walk and a drain step take one cycle per element.
// Active list: head register act_head, linked through sock_ctx.ACT_NEXT; SOCK_ADD inserts at
// the head, SOCK_DEL walks it one element per cycle to unlink the socket (as the hash chain).
// The pending FIFO holds each socket at most once (queued bitmap), so it never overflows and a
// delivery step never scans the socket table. A socket is queued when it has both a segment and
// a named buffer (as the model's ready list); a popped socket that is no longer in use, or no
// longer has both, is skipped.
// Delivery data is moved by toe_mover (chain walk, pipelined RAM read, skid FIFO, axis_packer).
// The FSM only waits for the mover when it must: a new chunk needs the mover's command slot, a
// FIN/RST segment's chain is freed once no read is pending, an NB_RETURN (or ANON_RX) is posted
// only after every payload word already issued has left on m_axis_dma_wr (payload before its
// completion), and SOCK_DEL waits until the mover is idle before it returns NBs and frees chains.
// A chunk that empties a segment without FIN/RST (or ends a datagram) unlinks it at once; its
// chain goes out on m_free_* (one op per chain) as soon as the mover has issued its reads.
// An anonymous delivery sends the frame through the same mover, from byte 0 of its chain, in
// DMA writes of at most 4096 bytes at ADDR + 4096k, frees the chain, then posts ANON_RX.
// tx commands (ACK, SYN-ACK, ARP reply) are queued in decision order in a 4-entry FIFO; the FSM
// waits while it is full.
// Window (tcp-receive.md "The window"): win, promised = max(rel(RCV_WND_EDGE), 0),
// wnd = max(win, promised) and the advertised adv are registered every cycle from the working
// context; an ACK's WINDOW field and the RCV_WND_EDGE update are made as the command is queued.
// Timer: a pending-tick flag (`if (tick taken) 0 else if (tick_req) 1`), taken as an event.
// Decisions: a refused page-list read returns the head NB with STATUS DMA_ERROR, BYTES = FILLED,
// FLAGS 0 and keeps the segment for the next NB; buflet_hdr NEXT_BUFLET is written 0xFFFF and
// MAC/IP/L4_OFF 0 (chain links live in the pool's link RAM); an ACK tx command carries MSS 0 and
// WSCALE 0 (OPTS 0), a SYN-ACK always carries the socket's MSS and RCV_WSCALE fields. A frame is
// "stored whole" (anonymous path, decision 1) when its chain has ceil(len / BUFLET_BYTES)
// buflets. The NB's UDP_HDR_BYTES is written with the completion's HDR_BYTES at every return.
// p2p (docs/p2p.md): a hold socket (sock FLAGS & HOLD, TCP only) delivers chunks bounded by the
// buflet holding DATA_OFF; each is one 8-byte hold_rec DMA write at the record position 8 * RECS
// of the NB's page list (the mover walks the chain and emits the record; expose_en/expose_idx
// follow its issue). RECS lives in nb_mem; FULL also at RECS == HMD_PAGES * 512. A chunk that
// empties the segment marks its head in hold_bm (the chain stays in chn_mem) instead of freeing
// it; the FIN step and SOCK_DEL skip held heads. BUF_RELEASE frees held chains on m_free_*,
// except the chain of a FIN/RST segment still waiting on its list (mk_bm): released, it is no
// longer held and the FIN step (or SOCK_DEL) frees it with the segment.
// Assumes power-of-two HASH_BUCKETS and BUFLET_BYTES, 2*KEEP_WIDTH <= BUFLET_BYTES <= 4096.
`default_nettype none
`include "buflet_defs.vh"
module toe_engine #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter NUM_SOCKETS  = 64,
    parameter HASH_BUCKETS = 256,
    parameter NUM_NBS      = 64,
    parameter NUM_ANON     = 16,
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
    input  wire [31:0]           s_meta_src_ip,
    input  wire [31:0]           s_meta_dst_ip,
    input  wire [15:0]           s_meta_src_port,
    input  wire [15:0]           s_meta_dst_port,
    input  wire [31:0]           s_meta_seq,
    input  wire [31:0]           s_meta_ack,      // TCP acknowledgment number
    input  wire [7:0]            s_meta_flags,
    input  wire                  s_meta_ws_valid, // SYN carried window scale
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [3:0]            s_meta_ws,       // its shift (<= 14): the receive side never needs it
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [15:0]           s_meta_pay_off,
    input  wire [15:0]           s_meta_pay_len,
    input  wire [15:0]           s_meta_head,
    input  wire [15:0]           s_meta_tail,
    input  wire [15:0]           s_meta_count,
    input  wire                  s_meta_udp,      // a UDP datagram (reason OK): pay_off = UDP header + 8
    input  wire                  s_meta_arp_req,  // an ARP request (reason NOT_IPV4): src_ip = SPA, dst_ip = TPA
    input  wire [47:0]           s_meta_arp_sha,  // ARP sender MAC, wire byte k in bits [8k+7:8k]
    // ARP responder and timer (reg_block)
    input  wire [47:0]           nic_mac,         // {NIC_MAC_HI[15:0], NIC_MAC_LO}: wire byte k in [8k+7:8k]
    input  wire [31:0]           nic_ip,          // NIC_IP (numeric); 0 = responder off
    input  wire                  tick_req,        // one-cycle pulse: a timer tick is requested
    // buflet pool free count (live)
    input  wire [15:0]           pool_free,
    // chain free
    output wire                  m_free_valid,
    input  wire                  m_free_ready,
    output wire [15:0]           m_free_head,
    output wire [15:0]           m_free_tail,
    output wire [15:0]           m_free_count,
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
    input  wire                  s_axis_dma_rd_tvalid,
    output wire                  s_axis_dma_rd_tready,
    input  wire                  s_axis_dma_rd_tlast,
    input  wire                  s_axis_dma_rd_tuser,
    // DMA write client (payload into named buffers)
    output wire                  m_dma_wr_req_valid,
    input  wire                  m_dma_wr_req_ready,
    output wire [63:0]           m_dma_wr_req_addr,
    output wire [15:0]           m_dma_wr_req_len,
    output wire [DATA_WIDTH-1:0] m_axis_dma_wr_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_dma_wr_tkeep,
    output wire                  m_axis_dma_wr_tvalid,
    input  wire                  m_axis_dma_wr_tready,
    output wire                  m_axis_dma_wr_tlast,
    // completions
    output wire                  m_cpl_valid,
    input  wire                  m_cpl_ready,
    output wire [255:0]          m_cpl_data,
    // tx commands (spec layout tx_cmd, 48 bytes, byte k in bits [8k+7:8k])
    output wire                  m_tx_valid,
    input  wire                  m_tx_ready,
    output wire [383:0]          m_tx_data,
    // counter events
    output reg                   ev_drop_valid,
    output reg  [3:0]            ev_drop_reason,
    output reg                   ev_accepted,
    output reg                   ev_delivered_valid,
    output reg  [15:0]           ev_delivered_bytes,
    output reg                   ev_nb_returned,
    output reg                   ev_ooo_held,     // a segment was inserted into a reassembly list
    output reg                   ev_anon_rx,      // a frame was delivered into an anonymous buffer
    output reg                   ev_arp_reply,    // an ARP reply was queued
    output reg                   ev_timeout,      // a head NB was returned by the timer sweep
    output reg                   ev_tick,         // a timer tick was taken
    // protection lookup (one port of prot_table, docs/protection.md) and fault events
    output wire [63:0]           prot_addr,
    output wire [31:0]           prot_len,
    output wire                  prot_write,
    input  wire                  prot_deny,       // the lookup refuses (0: allowed)
    output reg                   ev_fault,        // one access refused (one-cycle pulse)
    output reg  [63:0]           ev_fault_addr,
    output reg                   ev_fault_write,  // 1: a write (NB page, anonymous buffer)
    // p2p hold delivery (docs/p2p.md)
    output reg                   expose_en,       // one-cycle pulse: a hold record naming expose_idx was written
    output reg  [15:0]           expose_idx,      // its BUFLET
    output reg                   ev_hold_rec,     // one-cycle pulse per hold record
    output reg                   ev_released      // one-cycle pulse per chain released by BUF_RELEASE
);
    localparam SW = $clog2(NUM_SOCKETS);
    localparam NW = $clog2(NUM_NBS);
    localparam BW = $clog2(NUM_BUFLETS);
    localparam HW = (HASH_BUCKETS > 1) ? $clog2(HASH_BUCKETS) : 1;
    localparam AW = (NUM_ANON > 1) ? $clog2(NUM_ANON) : 1;
    localparam CW = 8 * `BF_SOCK_CTX_SIZE;            // sock_ctx bits
    localparam BB_SHIFT = $clog2(BUFLET_BYTES);
    localparam [15:0] NULL16 = 16'hFFFF;
    localparam [31:0] SOCK_LAST32 = NUM_SOCKETS - 1;
    localparam [31:0] ANON_LAST32 = NUM_ANON - 1;
    localparam [31:0] BB_M1_32    = BUFLET_BYTES - 1;
    localparam [7:0] ST_FREE       = `BF_SOCK_STATE_FREE;
    localparam [7:0] ST_LISTEN     = `BF_SOCK_STATE_LISTEN;
    localparam [7:0] ST_SYN_RCVD   = `BF_SOCK_STATE_SYN_RCVD;
    localparam [7:0] ST_ESTAB      = `BF_SOCK_STATE_ESTAB;
    localparam [7:0] ST_CLOSE_WAIT = `BF_SOCK_STATE_CLOSE_WAIT;
    localparam [7:0] ST_CLOSED     = `BF_SOCK_STATE_CLOSED;
    localparam [7:0] OP_SOCK_ADD = `BF_OP_SOCK_ADD;
    localparam [7:0] OP_SOCK_DEL = `BF_OP_SOCK_DEL;
    localparam [7:0] OP_NB_POST  = `BF_OP_NB_POST;
    localparam [7:0] OP_NOP      = `BF_OP_NOP;
    localparam [7:0] OP_ANON_POST = `BF_OP_ANON_POST;
    localparam [7:0] OP_BUF_RELEASE = `BF_OP_BUF_RELEASE;
    localparam [7:0] PROTO_TCP = 8'd6;
    localparam [7:0] PROTO_UDP = 8'd17;
    localparam [7:0] ST_OK         = `BF_STATUS_OK;
    localparam [7:0] ST_BAD_OPCODE = `BF_STATUS_BAD_OPCODE;
    localparam [7:0] ST_BAD_SOCK   = `BF_STATUS_BAD_SOCK;
    localparam [7:0] ST_BAD_NB     = `BF_STATUS_BAD_NB;
    localparam [7:0] ST_DMA_ERROR  = `BF_STATUS_DMA_ERROR;
    localparam [7:0] ST_PROT_FAULT = `BF_STATUS_PROT_FAULT;
    localparam [7:0] ST_BAD_BUF    = `BF_STATUS_BAD_BUF;
    localparam [7:0] KIND_CMD_DONE  = `BF_CPL_KIND_CMD_DONE;
    localparam [7:0] KIND_NB_RETURN = `BF_CPL_KIND_NB_RETURN;
    localparam [7:0] KIND_ANON_RX   = `BF_CPL_KIND_ANON_RX;
    localparam [7:0] FL_FULL   = `BF_CPL_FLAG_FULL;
    localparam [7:0] FL_PSH    = `BF_CPL_FLAG_PSH;
    localparam [7:0] FL_FIN    = `BF_CPL_FLAG_FIN;
    localparam [7:0] FL_RST    = `BF_CPL_FLAG_RST;
    localparam [7:0] FL_DELETE = `BF_CPL_FLAG_DELETE;
    localparam [7:0] FL_TIMEOUT  = `BF_CPL_FLAG_TIMEOUT;
    localparam [7:0] FL_TRUNC    = `BF_CPL_FLAG_TRUNC;
    localparam [7:0] FL_DATAGRAM = `BF_CPL_FLAG_DATAGRAM;
    localparam [3:0] DROP_NONE      = `BF_DROP_NONE;
    localparam [3:0] DROP_NOT_IPV4  = `BF_DROP_NOT_IPV4;
    localparam [3:0] DROP_NO_SOCKET = `BF_DROP_NO_SOCKET;
    localparam [3:0] DROP_OOO       = `BF_DROP_OUT_OF_ORDER;
    localparam [3:0] DROP_OOW       = `BF_DROP_OUT_OF_WINDOW;
    localparam [3:0] DROP_DUP       = `BF_DROP_DUPLICATE;
    localparam [3:0] DROP_BAD_STATE = `BF_DROP_BAD_STATE;
    localparam [7:0] TF_FIN = `BF_TCP_FLAG_FIN;
    localparam [7:0] TF_SYN = `BF_TCP_FLAG_SYN;
    localparam [7:0] TF_RST = `BF_TCP_FLAG_RST;
    localparam [7:0] TF_PSH = `BF_TCP_FLAG_PSH;
    localparam [7:0] TF_ACK = `BF_TCP_FLAG_ACK;
    localparam [7:0] TF_URG = `BF_TCP_FLAG_URG;
    localparam [7:0] TX_OPT_MSS = `BF_TX_OPT_MSS;
    localparam [7:0] TX_OPT_WS  = `BF_TX_OPT_WS;
    localparam [7:0] TX_KIND_ARP = `BF_TX_KIND_ARP;
    localparam [7:0] SF_PSH_RETURN = `BF_SOCK_FLAG_PSH_RETURN;
    localparam [7:0] SF_HOLD       = `BF_SOCK_FLAG_HOLD;
    localparam [15:0] RELEASE_MAX  = `BF_PARAM_RELEASE_MAX;
    localparam [31:0] NBUF32       = NUM_BUFLETS;
    localparam [15:0] BB16         = BB_M1_32[15:0] + 16'd1;
    localparam [12:0] PAGE_BYTES = `BF_PARAM_PAGE_BYTES;
    localparam [31:0] RCV_BUF_MAX = 32'h4000_0000;
    localparam [31:0] ANON_MIN = `BF_PARAM_ANON_MIN_LEN;
    localparam [31:0] ANON_MAX = `BF_PARAM_ANON_MAX_LEN;
    // window: reserve = NUM_BUFLETS / POOL_RESERVE_DIV; pool room is (free - reserve) * (BUFLET_BYTES/2)
    localparam [31:0] RESERVE32 = NUM_BUFLETS / `BF_PARAM_POOL_RESERVE_DIV;
    localparam [15:0] RESERVE = RESERVE32[15:0];
    localparam HALF_SHIFT = $clog2(BUFLET_BYTES / 2);

    // FSM states
    localparam [5:0]
        S_IDLE    = 6'd0,
        S_REQ     = 6'd1,
        S_REQ_ADD = 6'd2,
        S_REQ_NB1 = 6'd3,
        S_REQ_NB2 = 6'd4,
        S_CPL     = 6'd5,
        S_META    = 6'd6,
        S_LOOK0   = 6'd7,
        S_LOOK1   = 6'd8,
        S_TCP     = 6'd9,
        S_EST0    = 6'd10,
        S_EST1    = 6'd11,
        S_INORD   = 6'd12,
        S_DRAIN   = 6'd13,
        S_INS     = 6'd14,
        S_INS_B   = 6'd15,
        S_INS_L   = 6'd16,
        S_INS_L2  = 6'd17,
        S_RSTMK   = 6'd18,
        S_TX0     = 6'd19,
        S_TX1     = 6'd20,
        S_FIN     = 6'd21,
        S_DQ      = 6'd22,
        S_D1      = 6'd23,
        S_DPGREQ  = 6'd24,
        S_DPGRSP  = 6'd25,
        S_DISSUE  = 6'd26,
        S_DFREE   = 6'd27,
        S_DRET    = 6'd28,
        S_DEL0    = 6'd29,
        S_DEL_NB  = 6'd30,
        S_DEL_NBR = 6'd31,
        S_DEL_SEG = 6'd32,
        S_DEL_UL  = 6'd33,
        S_DEL_UL0 = 6'd34,
        S_DEL_UL1 = 6'd35,
        S_DEL_END = 6'd36,
        S_DEL_AL0 = 6'd37,   // active list unlink: head
        S_DEL_AL1 = 6'd38,   // active list unlink: walk to the predecessor
        S_UDP     = 6'd39,   // UDP datagram appended to the in-order list
        S_AN0     = 6'd40,   // anonymous delivery: head slot of the anonymous FIFO
        S_AN1     = 6'd41,   //   its entry
        S_AN_WR   = 6'd42,   //   DMA writes of at most 4096 bytes (mover commands)
        S_AN_FREE = 6'd43,   //   free the frame's chain once its reads are issued
        S_AN_CPL  = 6'd44,   //   ANON_RX once its data has left
        S_TK1     = 6'd45,   // timer sweep: a socket's context
        S_TK2     = 6'd46,   //   its head NB
        S_DPGCHK  = 6'd47,   // delivery: protection check of the page address just read
        S_AN_CHK  = 6'd48,   // anonymous delivery: protection check of the buffer
        S_REL0    = 6'd49,   // BUF_RELEASE: check head k
        S_REL1    = 6'd50;   //   free its chain

    // ------------------------------------------------------------------ tables
    reg [511:0] sock_mem [0:NUM_SOCKETS-1];
    reg [CW-1:0] ctx_mem [0:NUM_SOCKETS-1];
    reg [511:0] nb_mem   [0:NUM_NBS-1];
    reg [127:0] hdr_mem  [0:NUM_BUFLETS-1];
    reg [15:0]  nxt_mem  [0:NUM_BUFLETS-1];
    reg [31:0]  chn_mem  [0:NUM_BUFLETS-1];
    reg [15:0]  bkt_mem  [0:HASH_BUCKETS-1];
    reg [HASH_BUCKETS-1:0] bkt_vld;
    reg [NUM_SOCKETS-1:0]  sock_used;
    reg [NUM_NBS-1:0]      nb_used;
    reg [NUM_BUFLETS-1:0]  hold_bm;   // held chains (p2p), by head; count and tail stay in chn_mem
    reg [NUM_BUFLETS-1:0]  mk_bm;     // hold FIN/RST segments emptied by a record, still on a list
    reg [111:0]            anon_mem [0:NUM_ANON-1];   // {ADDR, LEN[15:0], TAG}
    reg [NUM_ANON-1:0]     an_busy;

    // anonymous list: FIFO of posted slots (each slot at most once)
    reg [AW-1:0]           aq_mem [0:NUM_ANON-1];
    reg [AW-1:0]           aq_wp, aq_rp;
    reg [AW:0]             aq_cnt;

    // active list head, pending timer tick
    reg [15:0]             act_head;
    reg                    tk_pend;

    // pending-delivery FIFO of socket refs (each socket at most once)
    reg [SW-1:0]          pq_mem [0:NUM_SOCKETS-1];
    reg [SW-1:0]          pq_wp, pq_rp;
    reg [SW:0]            pq_cnt;
    reg [NUM_SOCKETS-1:0] pq_in;

    // ------------------------------------------------------------------ FSM registers
    reg [5:0]   state;
    reg [1:0]   last_src;          // 0 frame, 1 request, 2 delivery, 3 tick
    reg [511:0] rq;                // latched request
    reg [7:0]   cst;               // CMD_DONE status
    reg [31:0]  cbytes;            // CMD_DONE BYTES (BUF_RELEASE: chains released)
    reg [4:0]   rl_k;              // BUF_RELEASE: index of the head being released
    /* verilator lint_off UNUSEDSIGNAL */
    reg [511:0] sk;                // working socket descriptor (request header fields unused)
    /* verilator lint_on UNUSEDSIGNAL */
    reg [CW-1:0] cx;               // working socket context
    reg [511:0] nb;                // working NB
    reg [127:0] hd;                // working segment header
    reg [SW-1:0] sk_idx;
    reg [NW-1:0] nb_idx;
    reg [BW-1:0] hd_idx;
    reg [HW-1:0] b_idx;
    reg [15:0]  fr_free;           // pool free count sampled at the pick
    reg [31:0]  pool_room;         // window pool room of that sample
    reg [31:0]  win_r;             // win(cx), one cycle after cx
    reg [31:0]  wnd_r;             // max(win, promised): acceptability and trimming
    reg [31:0]  adv_r;             // the window to advertise (before scaling)
    // latched metadata
    reg [3:0]   mt_reason;
    reg [11:0]  mt_vlan;
    reg [31:0]  mt_src_ip, mt_dst_ip, mt_seq, mt_ack;
    reg [15:0]  mt_src_port, mt_dst_port;
    reg [7:0]   mt_flags;
    reg         mt_ws_valid;
    reg [15:0]  mt_pay_off, mt_pay_len, mt_head, mt_tail, mt_count;
    reg [15:0]  mt_len;
    reg         mt_udp, mt_arp_req;
    reg [47:0]  mt_arp_sha;
    // working segment (after trimming)
    reg [31:0]  w_seq;
    reg [31:0]  w_off;             // rel(w_seq), signed
    reg [15:0]  w_len;
    reg [15:0]  w_doff;
    reg [7:0]   w_flags;
    // reassembly walk
    reg [15:0]  ins_prev, ins_cur;
    // frame outcome
    reg [3:0]   dr;                // drop reason (0 = none)
    reg         f_keep;            // the frame's chain stays on a segment list
    reg         f_wake;            // the in-order list grew: wake delivery
    reg         f_wb;              // write cx back to ctx_mem
    reg         tx_syn;            // the queued tx command is a SYN-ACK (else an ACK)
    reg         tx_arp;            // the queued tx command is an ARP reply
    // delivery
    reg [12:0]  dn;                // chunk bytes
    reg [19:0]  dpage;             // page index of the chunk
    reg [7:0]   ret_status;
    reg [7:0]   ret_flags;
    reg [7:0]   ret_hdr;           // HDR_BYTES of the return (DATAGRAM returns only)
    reg         del_mode;          // S_DRET belongs to a SOCK_DEL
    reg         del_list;          // SOCK_DEL chain walk: 0 in-order list, 1 reassembly list
    reg         tk_mode;           // S_DRET belongs to a timer sweep
    // anonymous delivery
    reg [AW-1:0] an_idx;
    reg [31:0]  an_tag;
    reg [63:0]  an_addr;
    reg [15:0]  an_n;              // bytes of the frame written (min(frame length, LEN))
    reg [15:0]  an_off;            // offset of the next DMA write (a multiple of 4096)
    reg [15:0]  an_rem;            // bytes left to issue
    reg [3:0]   an_rsn;            // the frame's own drop reason (used when the buffer is refused)
    reg         an_refused;        // the buffer was refused: ANON_RX PROT_FAULT, frame dropped
    reg [63:0]  pg_new;            // page address just read from the list (checked in S_DPGCHK)
    // page address cache: last (nb, page) -> addr
    reg          pc_vld;
    reg [NW-1:0] pc_nb;
    reg [19:0]   pc_page;
    reg [63:0]   pc_addr;
    // output registers
    reg         df_valid;          // deferred free of a drained segment, released when its reads are issued
    reg [15:0]  df_head, df_tail, df_count;
    reg         fr_valid;
    reg [15:0]  fr_head, fr_tail, fr_count;
    reg         cp_valid;
    reg [255:0] cp_data;

    wire free_slot = !fr_valid || m_free_ready;
    wire cpl_slot  = !cp_valid || m_cpl_ready;

    // ------------------------------------------------------------------ memory reads (registered address)
    wire [511:0] sk_rd  = sock_mem[sk_idx];
    wire [CW-1:0] cx_rd = ctx_mem[sk_idx];
    wire [511:0] nb_rd  = nb_mem[nb_idx];
    wire [127:0] hd_rd  = hdr_mem[hd_idx];
    wire [15:0]  nxt_rd = nxt_mem[hd_idx];
    wire [31:0]  chn_rd = chn_mem[hd_idx];
    wire [15:0]  bkt_rd = bkt_vld[b_idx] ? bkt_mem[b_idx] : NULL16;
    wire [111:0] an_rd  = anon_mem[an_idx];

    // ------------------------------------------------------------------ hash
    function [HW-1:0] hash_f;
        input [31:0] rip;
        input [31:0] lip;
        input [15:0] rport;
        input [15:0] lport;
        reg [31:0] x;
        begin
            x = rip ^ lip ^ {rport, lport};
            x = x ^ (x >> 16);
            x = x ^ (x >> 8);
            hash_f = x[HW-1:0];
        end
    endfunction
    // HASH_BUCKETS is a power of two: x mod HASH_BUCKETS == low bits
    wire [HW-1:0] meta_bkt = hash_f(mt_src_ip, mt_dst_ip, mt_src_port, mt_dst_port);
    wire [HW-1:0] req_bkt  = hash_f(rq[`BF_SOCK_DESC_REMOTE_IP_RANGE], rq[`BF_SOCK_DESC_LOCAL_IP_RANGE],
                                    rq[`BF_SOCK_DESC_REMOTE_PORT_RANGE], rq[`BF_SOCK_DESC_LOCAL_PORT_RANGE]);
    wire [HW-1:0] del_bkt  = hash_f(sk[`BF_SOCK_DESC_REMOTE_IP_RANGE], sk[`BF_SOCK_DESC_LOCAL_IP_RANGE],
                                    sk[`BF_SOCK_DESC_REMOTE_PORT_RANGE], sk[`BF_SOCK_DESC_LOCAL_PORT_RANGE]);

    // ------------------------------------------------------------------ event selection
    // round robin in the order frame (0), request (1), delivery (2), tick (3): the source after
    // the last one picked goes first
    wire ev_req  = s_req_valid;
    wire ev_meta = s_meta_valid;
    wire ev_dlv  = (pq_cnt != {(SW+1){1'b0}});
    wire ev_tk   = tk_pend;
    reg  pick_req, pick_meta, pick_dlv, pick_tick;
    always @* begin
        pick_req  = 1'b0;
        pick_meta = 1'b0;
        pick_dlv  = 1'b0;
        pick_tick = 1'b0;
        case (last_src)
            2'd0: begin
                if (ev_req) pick_req = 1'b1;
                else if (ev_dlv) pick_dlv = 1'b1;
                else if (ev_tk) pick_tick = 1'b1;
                else if (ev_meta) pick_meta = 1'b1;
            end
            2'd1: begin
                if (ev_dlv) pick_dlv = 1'b1;
                else if (ev_tk) pick_tick = 1'b1;
                else if (ev_meta) pick_meta = 1'b1;
                else if (ev_req) pick_req = 1'b1;
            end
            2'd2: begin
                if (ev_tk) pick_tick = 1'b1;
                else if (ev_meta) pick_meta = 1'b1;
                else if (ev_req) pick_req = 1'b1;
                else if (ev_dlv) pick_dlv = 1'b1;
            end
            default: begin
                if (ev_meta) pick_meta = 1'b1;
                else if (ev_req) pick_req = 1'b1;
                else if (ev_dlv) pick_dlv = 1'b1;
                else if (ev_tk) pick_tick = 1'b1;
            end
        endcase
    end
    assign s_req_ready  = (state == S_IDLE) && pick_req;
    assign s_meta_ready = (state == S_IDLE) && pick_meta;
    wire tick_take = (state == S_IDLE) && pick_tick;

    // ------------------------------------------------------------------ window
    // pool room of the sampled free count (registered in S_META)
    wire [15:0] pr_units = (fr_free > RESERVE) ? (fr_free - RESERVE) : 16'd0;
    wire [47:0] pr_wide  = {32'd0, pr_units} << HALF_SHIFT;
    wire [31:0] pr_sat   = (pr_wide[47:32] != 16'd0) ? 32'hFFFF_FFFF : pr_wide[31:0];
    // win(cx.RCV_NXT): registered every cycle, so it is valid one cycle after cx changes
    wire [31:0] cx_rcv    = cx[`BF_SOCK_CTX_RCV_NXT_RANGE];
    wire [31:0] cx_irs    = cx[`BF_SOCK_CTX_IRS_RANGE];
    wire [31:0] cx_soff32 = cx[`BF_SOCK_CTX_STREAM_OFF_OFF*8 +: 32];
    wire [31:0] sk_rcvbuf = sk[`BF_SOCK_DESC_RCV_BUF_RANGE];
    wire [31:0] held      = cx_rcv - cx_irs - 32'd1 - cx_soff32;
    wire [31:0] sock_room = (held >= sk_rcvbuf) ? 32'd0 : (sk_rcvbuf - held);
    wire [31:0] win_c     = (sock_room < pool_room) ? sock_room : pool_room;
    // the advertised right edge never moves left: promised = max(rel(RCV_WND_EDGE), 0),
    // wnd = max(win, promised) (acceptability, trimming), adv (the ACK's window before scaling):
    // 0 with no pool room, the promise while the reassembly list is not empty, else wnd
    wire [31:0] cx_edge   = cx[`BF_SOCK_CTX_RCV_WND_EDGE_RANGE];
    wire [31:0] edge_rel  = cx_edge - cx_rcv;          // rel(RCV_WND_EDGE), signed
    wire [31:0] promised  = edge_rel[31] ? 32'd0 : edge_rel;
    wire [31:0] wnd_c     = (win_c > promised) ? win_c : promised;
    wire        cx_ooo_ne = (cx[`BF_SOCK_CTX_OOO_HEAD_RANGE] != NULL16);
    wire [31:0] adv_c     = (pool_room == 32'd0) ? 32'd0 :
                            (cx_ooo_ne && promised != 32'd0) ? promised : wnd_c;
    // WINDOW fields (from the registered values): ACK scaled, SYN-ACK never scaled
    wire [3:0]  ack_shift = (cx[`BF_SOCK_CTX_WS_OK_RANGE] != 8'd0) ? sk[`BF_SOCK_DESC_RCV_WSCALE_OFF*8 +: 4] : 4'd0;
    wire [31:0] adv_sh    = adv_r >> ack_shift;
    wire [15:0] ack_win   = (adv_sh > 32'd65535) ? 16'hFFFF : adv_sh[15:0];
    wire [15:0] syn_win   = (win_r > 32'd65535) ? 16'hFFFF : win_r[15:0];
    // RCV_WND_EDGE update as the command is queued: edge' = RCV_NXT + (field << shift), kept
    // when rel(edge') > rel(RCV_WND_EDGE) (field << shift < 2^30, so it is a plain compare)
    wire [15:0] tx_field  = tx_syn ? syn_win : ack_win;
    wire [3:0]  tx_shift  = tx_syn ? 4'd0 : ack_shift;
    wire [31:0] fld_sh    = {16'd0, tx_field} << tx_shift;
    wire        edge_upd  = edge_rel[31] || (fld_sh > edge_rel);
    wire [31:0] edge_new  = cx_rcv + fld_sh;

    // ------------------------------------------------------------------ request decode
    wire [7:0]  rq_op      = rq[`BF_REQ_HDR_OPCODE_RANGE];
    wire [15:0] rq_sock    = rq[`BF_REQ_HDR_SOCK_REF_RANGE];
    wire        rq_sock_in = ({16'd0, rq_sock} < NUM_SOCKETS);
    wire        rq_sock_ok = rq_sock_in && sock_used[rq_sock[SW-1:0]];
    wire        rq_slot_free = rq_sock_in && !sock_used[rq_sock[SW-1:0]];
    wire [31:0] rq_rcvbuf  = rq[`BF_SOCK_DESC_RCV_BUF_RANGE];
    wire [7:0]  rq_proto   = rq[`BF_SOCK_DESC_PROTO_RANGE];
    // a UDP socket ignores ISS, RCV_BUF, MSS and RCV_WSCALE (not validated)
    wire        rq_hold    = (rq[`BF_SOCK_DESC_FLAGS_RANGE] & SF_HOLD) != 8'd0;
    wire        rq_add_ok  = rq_slot_free && !(rq_hold && (rq_proto != PROTO_TCP)) &&
                             (((rq_proto == PROTO_TCP) && (rq_rcvbuf != 32'd0) && (rq_rcvbuf <= RCV_BUF_MAX) &&
                               (rq[`BF_SOCK_DESC_RCV_WSCALE_RANGE] <= 8'd14)) ||
                              (rq_proto == PROTO_UDP));
    wire [31:0] rq_ref     = rq[`BF_NB_DESC_REF_NUM_RANGE];
    wire [31:0] rq_total   = rq[`BF_NB_DESC_TOTAL_BYTES_RANGE];
    wire [31:0] rq_pages   = rq[`BF_NB_DESC_HMD_PAGES_RANGE];
    wire        rq_nb_ok   = (rq_ref < NUM_NBS) && !nb_used[rq_ref[NW-1:0]] && (rq_pages != 32'd0) &&
                             (rq_total != 32'd0) && ({12'd0, rq_total} <= {rq_pages, 12'd0});
    // BUF_RELEASE: COUNT, head k at byte 16 + 2k
    wire [15:0] rl_count   = rq[`BF_BUF_RELEASE_COUNT_RANGE];
    wire        rl_cnt_ok  = (rl_count != 16'd0) && (rl_count <= RELEASE_MAX);
    wire [8:0]  rl_bit     = 9'd128 + {rl_k, 4'd0};
    wire [15:0] rl_head    = rq[rl_bit +: 16];
    wire        rl_held    = ({16'd0, rl_head} < NBUF32) && hold_bm[rl_head[BW-1:0]];
    // ANON_POST (SOCK_REF and FLAGS are not checked)
    wire [31:0] rq_aref    = rq[`BF_ANON_DESC_REF_NUM_RANGE];
    wire [31:0] rq_alen    = rq[`BF_ANON_DESC_LEN_RANGE];
    wire        rq_an_ok   = (rq_aref < NUM_ANON) && !an_busy[rq_aref[AW-1:0]] &&
                             (rq_alen >= ANON_MIN) && (rq_alen <= ANON_MAX);

    // new socket context (SOCK_ADD): a UDP socket starts in ESTAB; it goes to the head of its
    // hash chain and of the active list
    reg [CW-1:0] cx_add;
    always @* begin
        cx_add = {CW{1'b0}};
        cx_add[`BF_SOCK_CTX_STATE_RANGE]     = (rq_proto == PROTO_UDP) ? ST_ESTAB : ST_LISTEN;
        cx_add[`BF_SOCK_CTX_WS_OK_RANGE]     = 8'd0;
        cx_add[`BF_SOCK_CTX_NEXT_SOCK_RANGE] = bkt_rd;
        cx_add[`BF_SOCK_CTX_NB_HEAD_RANGE]   = NULL16;
        cx_add[`BF_SOCK_CTX_NB_TAIL_RANGE]   = NULL16;
        cx_add[`BF_SOCK_CTX_SEG_HEAD_RANGE]  = NULL16;
        cx_add[`BF_SOCK_CTX_SEG_TAIL_RANGE]  = NULL16;
        cx_add[`BF_SOCK_CTX_OOO_HEAD_RANGE]  = NULL16;
        cx_add[`BF_SOCK_CTX_ACT_NEXT_RANGE]  = act_head;
    end

    // new NB (NB_POST), socket NB list append, old tail link
    wire [15:0] cxr_nb_head = cx_rd[`BF_SOCK_CTX_NB_HEAD_RANGE];
    wire [15:0] cxr_nb_tail = cx_rd[`BF_SOCK_CTX_NB_TAIL_RANGE];
    wire [15:0] cxr_seg_head = cx_rd[`BF_SOCK_CTX_SEG_HEAD_RANGE];
    reg [511:0] nb_post, nb_link;
    reg [CW-1:0] cx_nbp;
    always @* begin
        nb_post = rq;
        nb_post[`BF_NB_DESC_UDP_HDR_BYTES_RANGE] = 16'd0;
        nb_post[`BF_NB_DESC_NEXT_NB_RANGE]       = NULL16;
        nb_post[`BF_NB_DESC_PREV_NB_RANGE]       = cxr_nb_tail;
        nb_post[`BF_NB_DESC_FILLED_RANGE]        = 32'd0;
        nb_post[`BF_NB_DESC_RECS_RANGE]          = 16'd0;
        nb_post[`BF_NB_DESC_STREAM_OFF_RANGE]    = 64'd0;
        nb_post[`BF_NB_DESC_TICKS_LEFT_RANGE]    = rq[`BF_NB_DESC_TIMEOUT_RANGE];
        cx_nbp = cx_rd;
        cx_nbp[`BF_SOCK_CTX_NB_TAIL_RANGE] = rq_ref[15:0];
        if (cxr_nb_head == NULL16) cx_nbp[`BF_SOCK_CTX_NB_HEAD_RANGE] = rq_ref[15:0];
        nb_link = nb_rd;
        nb_link[`BF_NB_DESC_NEXT_NB_RANGE] = rq_ref[15:0];
    end

    // ------------------------------------------------------------------ socket lookup
    wire sk_match = (sk_rd[`BF_SOCK_DESC_LOCAL_IP_RANGE]   == mt_dst_ip) &&
                    (sk_rd[`BF_SOCK_DESC_REMOTE_IP_RANGE]  == mt_src_ip) &&
                    (sk_rd[`BF_SOCK_DESC_LOCAL_PORT_RANGE] == mt_dst_port) &&
                    (sk_rd[`BF_SOCK_DESC_REMOTE_PORT_RANGE] == mt_src_port) &&
                    (sk_rd[`BF_SOCK_DESC_VLAN_RANGE] == {4'd0, mt_vlan}) &&
                    (sk_rd[`BF_SOCK_DESC_PROTO_RANGE] == (mt_udp ? PROTO_UDP : PROTO_TCP));
    wire [15:0] cxr_next_sock = cx_rd[`BF_SOCK_CTX_NEXT_SOCK_RANGE];

    // ------------------------------------------------------------------ TCP rules
    wire [7:0]  cx_state   = cx[`BF_SOCK_CTX_STATE_RANGE];
    wire [15:0] cx_seg_head = cx[`BF_SOCK_CTX_SEG_HEAD_RANGE];
    wire [15:0] cx_seg_tail = cx[`BF_SOCK_CTX_SEG_TAIL_RANGE];
    wire [15:0] cx_ooo_head = cx[`BF_SOCK_CTX_OOO_HEAD_RANGE];
    wire [31:0] sk_iss     = sk[`BF_SOCK_DESC_ISS_RANGE];
    wire        mt_syn = (mt_flags & TF_SYN) != 8'd0;
    wire        mt_rst = (mt_flags & TF_RST) != 8'd0;
    wire        mt_ackf = (mt_flags & TF_ACK) != 8'd0;
    wire        w_fin = (w_flags & TF_FIN) != 8'd0;
    wire        w_syn = (w_flags & TF_SYN) != 8'd0;
    wire        w_rst = (w_flags & TF_RST) != 8'd0;
    wire [7:0]  NO_FIN_PSH = ~(TF_FIN | TF_PSH);

    // ------------------------------------------------------------------ ARP answer, anonymous path
    wire        arp_hit  = (mt_reason == DROP_NOT_IPV4) && mt_arp_req && (nic_ip != 32'd0) &&
                           (mt_dst_ip == nic_ip);
    wire        anon_rsn = (mt_reason == DROP_NOT_IPV4) || (mt_reason == DROP_NO_SOCKET);
    // stored whole: the chain holds ceil(len / BUFLET_BYTES) buflets (decision 1)
    wire [16:0] len_up   = {1'b0, mt_len} + BB_M1_32[16:0];
    wire [16:0] need_cnt = len_up >> BB_SHIFT;
    wire        mt_whole = ({1'b0, mt_count} == need_cnt);
    wire        anon_go  = (aq_cnt != {(AW+1){1'b0}}) && mt_whole;
    wire [15:0] an_len16 = an_rd[47:32];
    wire [15:0] an_ck    = (an_rem > 16'd4096) ? 16'd4096 : an_rem;   // bytes of the next write

    // acceptability (S_EST0): wnd = wnd_r, off = w_off (signed), seg_len = len + SYN + FIN
    wire [16:0] seg_len   = {1'b0, w_len} + {16'd0, w_syn} + {16'd0, w_fin};
    wire        off_neg   = w_off[31];
    wire        off_zero  = (w_off == 32'd0);
    wire        off_in    = !off_neg && (w_off < wnd_r);
    wire [33:0] seg_end   = {{2{w_off[31]}}, w_off} + {17'd0, seg_len} - 34'd1;
    wire        end_in    = !seg_end[33] && (seg_end[32:0] < {1'b0, wnd_r});
    wire        acceptable = (seg_len == 17'd0) ? ((wnd_r == 32'd0) ? off_zero : off_in)
                                                : ((wnd_r != 32'd0) && (off_in || end_in));
    wire [31:0] neg_off   = 32'd0 - w_off;             // front cut when off < 0 (fits 16 bits)
    // right trim (S_EST1): off >= 0 here
    wire [32:0] w_right   = {1'b0, w_off} + {17'd0, w_len};
    wire        over_win  = (w_right > {1'b0, wnd_r});
    wire [15:0] win_m_off = wnd_r[15:0] - w_off[15:0];   // < len when over_win
    wire [15:0] t_len     = over_win ? win_m_off : w_len;
    wire [7:0]  t_flags   = over_win ? (w_flags & NO_FIN_PSH) : w_flags;
    wire        t_fin     = (t_flags & TF_FIN) != 8'd0;

    // current list element (hd_rd) relative to RCV_NXT
    wire [31:0] hr_seq  = hd_rd[`BF_BUFLET_HDR_SEQ_RANGE];
    wire [15:0] hr_len  = hd_rd[`BF_BUFLET_HDR_DATA_LEN_RANGE];
    wire        hr_fin  = (hd_rd[`BF_BUFLET_HDR_FLAGS_RANGE] & TF_FIN) != 8'd0;
    wire [31:0] hr_rel  = hr_seq - cx_rcv;
    wire signed [33:0] c_off = {{2{hr_rel[31]}}, hr_rel};
    wire signed [33:0] c_end = c_off + $signed({18'd0, hr_len});
    wire signed [33:0] n_off = {{2{w_off[31]}}, w_off};
    wire signed [33:0] n_len = $signed({18'd0, w_len});
    wire signed [33:0] n_end = n_off + n_len;
    wire signed [33:0] ov_d  = c_end - n_off;            // bytes of the new front held by cur
    wire signed [33:0] cut_l = c_off - n_off;            // new length when cur overlaps the tail

    // in-order append (S_INORD): cut the tail at the reassembly head
    wire        io_cut   = (cx_ooo_head != NULL16) && (c_off < n_len);
    wire [15:0] io_len   = io_cut ? hr_rel[15:0] : w_len;
    wire [7:0]  io_flags = io_cut ? (w_flags & NO_FIN_PSH) : w_flags;
    wire        io_fin   = (io_flags & TF_FIN) != 8'd0;
    // drain step (S_DRAIN)
    wire        dr_go    = (cx_state == ST_ESTAB) && (cx_ooo_head != NULL16) && (hr_seq == cx_rcv);

    // header of a segment put on a list
    reg [127:0] hd_new;
    always @* begin
        hd_new = 128'd0;
        hd_new[`BF_BUFLET_HDR_NEXT_BUFLET_RANGE] = NULL16;  // chain links live in the pool's link RAM
        hd_new[`BF_BUFLET_HDR_DATA_OFF_RANGE]    = w_doff;
        hd_new[`BF_BUFLET_HDR_DATA_LEN_RANGE]    = w_len;
        hd_new[`BF_BUFLET_HDR_FLAGS_RANGE]       = w_flags;
        hd_new[`BF_BUFLET_HDR_NEXT_SEG_RANGE]    = NULL16;  // links live in nxt_mem
        hd_new[`BF_BUFLET_HDR_SEQ_RANGE]         = w_seq;
        if (state == S_INORD) begin
            hd_new[`BF_BUFLET_HDR_DATA_LEN_RANGE] = io_len;
            hd_new[`BF_BUFLET_HDR_FLAGS_RANGE]    = io_flags;
        end else if (state == S_RSTMK) begin
            hd_new[`BF_BUFLET_HDR_DATA_LEN_RANGE] = 16'd0;
        end else if (state == S_UDP) begin
            // a datagram is one segment covering its UDP header and payload, SEQ 0, FLAGS 0
            hd_new[`BF_BUFLET_HDR_DATA_OFF_RANGE] = mt_pay_off - 16'd8;
            hd_new[`BF_BUFLET_HDR_DATA_LEN_RANGE] = mt_pay_len + 16'd8;
            hd_new[`BF_BUFLET_HDR_FLAGS_RANGE]    = 8'd0;
            hd_new[`BF_BUFLET_HDR_SEQ_RANGE]      = 32'd0;
        end
    end

    // tx command
    reg [383:0] tx_cmd;
    always @* begin
        tx_cmd = 384'd0;
        if (tx_arp) begin
            // ARP reply (rx-paths.md): KIND ARP, the request's sender and VLAN, NIC_MAC/NIC_IP
            tx_cmd[`BF_TX_CMD_DST_MAC_RANGE] = mt_arp_sha;
            tx_cmd[`BF_TX_CMD_SRC_MAC_RANGE] = nic_mac;
            tx_cmd[`BF_TX_CMD_VLAN_RANGE]    = {4'd0, mt_vlan};
            tx_cmd[`BF_TX_CMD_KIND_RANGE]    = TX_KIND_ARP;
            tx_cmd[`BF_TX_CMD_SRC_IP_RANGE]  = nic_ip;
            tx_cmd[`BF_TX_CMD_DST_IP_RANGE]  = mt_src_ip;
        end else begin
            tx_cmd[`BF_TX_CMD_DST_MAC_RANGE]  = sk[`BF_SOCK_DESC_REMOTE_MAC_RANGE];
            tx_cmd[`BF_TX_CMD_SRC_MAC_RANGE]  = sk[`BF_SOCK_DESC_LOCAL_MAC_RANGE];
            tx_cmd[`BF_TX_CMD_VLAN_RANGE]     = sk[`BF_SOCK_DESC_VLAN_RANGE];
            tx_cmd[`BF_TX_CMD_SRC_IP_RANGE]   = sk[`BF_SOCK_DESC_LOCAL_IP_RANGE];
            tx_cmd[`BF_TX_CMD_DST_IP_RANGE]   = sk[`BF_SOCK_DESC_REMOTE_IP_RANGE];
            tx_cmd[`BF_TX_CMD_SRC_PORT_RANGE] = sk[`BF_SOCK_DESC_LOCAL_PORT_RANGE];
            tx_cmd[`BF_TX_CMD_DST_PORT_RANGE] = sk[`BF_SOCK_DESC_REMOTE_PORT_RANGE];
            if (tx_syn) begin
                tx_cmd[`BF_TX_CMD_SEQ_RANGE]    = sk_iss;
                tx_cmd[`BF_TX_CMD_ACK_RANGE]    = cx_irs + 32'd1;
                tx_cmd[`BF_TX_CMD_WINDOW_RANGE] = syn_win;
                tx_cmd[`BF_TX_CMD_FLAGS_RANGE]  = TF_SYN | TF_ACK;
                tx_cmd[`BF_TX_CMD_OPTS_RANGE]   = TX_OPT_MSS |
                                                  ((cx[`BF_SOCK_CTX_WS_OK_RANGE] != 8'd0) ? TX_OPT_WS : 8'd0);
                tx_cmd[`BF_TX_CMD_MSS_RANGE]    = sk[`BF_SOCK_DESC_MSS_RANGE];
                tx_cmd[`BF_TX_CMD_WSCALE_RANGE] = sk[`BF_SOCK_DESC_RCV_WSCALE_RANGE];
            end else begin
                tx_cmd[`BF_TX_CMD_SEQ_RANGE]    = sk_iss + 32'd1;
                tx_cmd[`BF_TX_CMD_ACK_RANGE]    = cx_rcv;
                tx_cmd[`BF_TX_CMD_WINDOW_RANGE] = ack_win;
                tx_cmd[`BF_TX_CMD_FLAGS_RANGE]  = TF_ACK;
            end
        end
    end
    wire tx_ready;

    sync_fifo #(
        .WIDTH(384),
        .DEPTH(4)
    ) u_txq (
        .clk    (clk),
        .rst    (rst),
        .s_valid(state == S_TX1),
        .s_ready(tx_ready),
        .s_data (tx_cmd),
        .m_valid(m_tx_valid),
        .m_ready(m_tx_ready),
        .m_data (m_tx_data)
    );

    // ------------------------------------------------------------------ delivery
    wire [15:0] cx_nb_head   = cx[`BF_SOCK_CTX_NB_HEAD_RANGE];
    wire        cx_has_nb    = (cx_nb_head != NULL16);
    wire [15:0] hdr_len      = hd_rd[`BF_BUFLET_HDR_DATA_LEN_RANGE];
    wire        hdr_finrst   = (hd_rd[`BF_BUFLET_HDR_FLAGS_RANGE] & (TF_FIN | TF_RST)) != 8'd0;
    wire [31:0] nbr_filled   = nb_rd[`BF_NB_DESC_FILLED_RANGE];
    wire [31:0] nbr_total    = nb_rd[`BF_NB_DESC_TOTAL_BYTES_RANGE];
    wire [31:0] nbr_room     = nbr_total - nbr_filled;
    wire [12:0] nbr_pg_room  = PAGE_BYTES - {1'b0, nbr_filled[11:0]};
    wire [12:0] n_a          = ({16'd0, hdr_len} < nbr_room) ? hdr_len[12:0] : nbr_room[12:0];
    wire [31:0] n_a32        = ({16'd0, hdr_len} < nbr_room) ? {16'd0, hdr_len} : nbr_room;
    wire [12:0] n_pay        = (n_a32 < {19'd0, nbr_pg_room}) ? n_a : nbr_pg_room;
    // hold socket: the chunk never crosses a buflet of the chain, and the page is the one of
    // the record position 8 * RECS
    wire        sk_hold      = (sk[`BF_SOCK_DESC_FLAGS_RANGE] & SF_HOLD) != 8'd0;
    wire [15:0] hdr_doff     = hd_rd[`BF_BUFLET_HDR_DATA_OFF_RANGE];
    wire [15:0] bb_room      = BB16 - (hdr_doff & BB_M1_32[15:0]);
    wire [12:0] n_hold       = (n_a32 < {16'd0, bb_room}) ? n_a : bb_room[12:0];
    wire [12:0] n_calc       = sk_hold ? n_hold : n_pay;
    wire [6:0]  nbr_rec_pg   = nb_rd[`BF_NB_DESC_RECS_OFF*8+9 +: 7];   // (8 * RECS) / 4096
    wire [19:0] page_calc    = sk_hold ? {13'd0, nbr_rec_pg} : nbr_filled[31:12];
    wire        pc_hit       = pc_vld && (pc_nb == nb_idx) && (pc_page == page_calc);

    wire [31:0] nb_filled    = nb[`BF_NB_DESC_FILLED_RANGE];
    wire [15:0] nb_recs      = nb[`BF_NB_DESC_RECS_RANGE];
    wire [31:0] nb_pages     = nb[`BF_NB_DESC_HMD_PAGES_RANGE];
    wire        mv_cmd_ready, mv_rd_idle, mv_out_idle;
    wire        wr_fire      = m_dma_wr_req_valid && m_dma_wr_req_ready;
    wire        hd_is_tail   = ({{(16-BW){1'b0}}, hd_idx} == cx_seg_tail);
    wire [15:0] seg_after    = hd_is_tail ? NULL16 : nxt_rd;   // next of the in-order head

    reg [127:0] hd_dlv;
    reg [511:0] nb_dlv;
    reg [CW-1:0] cx_dlv, cx_free, cx_ret;
    always @* begin
        hd_dlv = hd;
        hd_dlv[`BF_BUFLET_HDR_DATA_OFF_RANGE] = hd[`BF_BUFLET_HDR_DATA_OFF_RANGE] + {3'd0, dn};
        hd_dlv[`BF_BUFLET_HDR_DATA_LEN_RANGE] = hd[`BF_BUFLET_HDR_DATA_LEN_RANGE] - {3'd0, dn};
        nb_dlv = nb;
        nb_dlv[`BF_NB_DESC_FILLED_RANGE] = nb_filled + {19'd0, dn};
        if (sk_hold) nb_dlv[`BF_NB_DESC_RECS_RANGE] = nb_recs + 16'd1;
        if (nb_filled == 32'd0) nb_dlv[`BF_NB_DESC_STREAM_OFF_RANGE] = cx[`BF_SOCK_CTX_STREAM_OFF_RANGE];
        // the in-order head segment leaves the list
        cx_free = cx;
        cx_free[`BF_SOCK_CTX_SEG_HEAD_RANGE] = seg_after;
        if (hd_is_tail) cx_free[`BF_SOCK_CTX_SEG_TAIL_RANGE] = NULL16;
        cx_dlv = dlv_drain ? cx_free : cx;
        cx_dlv[`BF_SOCK_CTX_STREAM_OFF_RANGE] = cx[`BF_SOCK_CTX_STREAM_OFF_RANGE] + {51'd0, dn};
        // head NB leaves the list
        cx_ret = cx;
        cx_ret[`BF_SOCK_CTX_NB_HEAD_RANGE] = nb[`BF_NB_DESC_NEXT_NB_RANGE];
        if (nb[`BF_NB_DESC_NEXT_NB_RANGE] == NULL16) cx_ret[`BF_SOCK_CTX_NB_TAIL_RANGE] = NULL16;
    end
    // FULL: TOTAL_BYTES reached, or (hold) no room for another record (RECS == HMD_PAGES * 512)
    // (capped by the 16-bit RECS field: at most 65535 records)
    wire [40:0] rec_room_w = {nb_pages, 9'd0};
    wire [15:0] rec_room   = (rec_room_w > 41'd65535) ? 16'hFFFF : rec_room_w[15:0];
    wire rec_full  = sk_hold && (nb_dlv[`BF_NB_DESC_RECS_RANGE] == rec_room);
    wire dlv_full  = (nb_dlv[`BF_NB_DESC_FILLED_RANGE] == nb[`BF_NB_DESC_TOTAL_BYTES_RANGE]) || rec_full;
    wire hd_finrst = (hd[`BF_BUFLET_HDR_FLAGS_RANGE] & (TF_FIN | TF_RST)) != 8'd0;
    wire hd_pshurg = (hd[`BF_BUFLET_HDR_FLAGS_RANGE] & (TF_PSH | TF_URG)) != 8'd0;
    wire sk_udp    = (sk[`BF_SOCK_DESC_PROTO_RANGE] == PROTO_UDP);
    wire dlv_empt  = (hd[`BF_BUFLET_HDR_DATA_LEN_RANGE] == {3'd0, dn});   // the chunk empties the segment
    // a datagram ends once written or once the NB is full (the rest is discarded)
    wire dlv_dgram = sk_udp && (dlv_empt || dlv_full);
    // a chunk that empties a segment without FIN/RST (or ends a datagram) removes it at once;
    // its chain is freed through df_* once the mover has issued the chunk's reads
    wire dlv_drain = (dlv_empt && !hd_finrst) || dlv_dgram;
    // a hold chunk that empties its segment holds the chain instead (HEAD in the record)
    wire dlv_dfree = dlv_drain && !sk_hold;
    wire hd_held   = hold_bm[hd_idx];
    wire hd_mk     = mk_bm[hd_idx];
    wire dlv_psh   = dlv_empt && !hd_finrst && hd_pshurg && !dlv_full &&
                     ((sk[`BF_SOCK_DESC_FLAGS_RANGE] & SF_PSH_RETURN) != 8'd0);
    wire dlv_ret   = dlv_full || dlv_psh || dlv_dgram;
    wire [31:0] dlv_filled = nb_dlv[`BF_NB_DESC_FILLED_RANGE];
    wire [7:0]  dg_hdr     = (dlv_filled < 32'd8) ? dlv_filled[7:0] : 8'd8;   // min(8, FILLED)
    wire [7:0]  dlv_flags  = dlv_dgram ? (FL_DATAGRAM | (dlv_empt ? 8'd0 : FL_TRUNC)) :
                             dlv_full  ? FL_FULL : FL_PSH;
    wire dfree_go  = (state == S_DFREE) && mv_rd_idle && free_slot;
    wire fin_free  = (state == S_FIN) && !f_keep && (mt_count != 16'd0);
    wire delseg_go = (state == S_DEL_SEG) && free_slot;
    wire anfree_go = (state == S_AN_FREE) && mv_rd_idle && free_slot;
    // a released chain goes out once no chain walk of the mover is pending
    wire rel_go    = (state == S_REL1) && mv_rd_idle && free_slot;
    wire fsm_fr_load = (fin_free && free_slot) || dfree_go || delseg_go || anfree_go || rel_go;
    wire df_move   = df_valid && mv_cmd_ready && free_slot && !fsm_fr_load;
    wire dret_go   = (state == S_DRET) && mv_out_idle && cpl_slot;
    wire ancpl_go  = (state == S_AN_CPL) && mv_out_idle && cpl_slot;
    wire an_fire   = (state == S_AN_WR) && m_dma_wr_req_valid && m_dma_wr_req_ready;
    // tick sweep: the head NB's TIMEOUT / TICKS_LEFT (S_TK2)
    wire [31:0] nbr_timeout = nb_rd[`BF_NB_DESC_TIMEOUT_RANGE];
    wire [31:0] nbr_ticks   = nb_rd[`BF_NB_DESC_TICKS_LEFT_RANGE];
    wire        tk_count    = (nbr_timeout != 32'd0);
    wire        tk_expire   = tk_count && (nbr_ticks <= 32'd1);
    wire [15:0] cx_act_next = cx[`BF_SOCK_CTX_ACT_NEXT_RANGE];
    wire [15:0] cxr_act_next = cx_rd[`BF_SOCK_CTX_ACT_NEXT_RANGE];
    reg [511:0] nb_tick, nb_ret;
    always @* begin
        nb_tick = nb_rd;
        nb_tick[`BF_NB_DESC_TICKS_LEFT_RANGE] = nbr_ticks - 32'd1;
        nb_ret = nb;
        nb_ret[`BF_NB_DESC_UDP_HDR_BYTES_RANGE] = {8'd0, ret_hdr};
    end
    wire fin_go    = (state == S_FIN) && (!fin_free || free_slot);

    // ------------------------------------------------------------------ table write ports
    reg          sock_we;
    reg          ctx_we;
    reg [SW-1:0] ctx_wa;
    reg [CW-1:0] ctx_wd;
    reg          nb_we;
    reg [NW-1:0] nb_wa;
    reg [511:0]  nb_wd;
    reg          hdr_we;
    reg [BW-1:0] hdr_wa;
    reg [127:0]  hdr_wd;
    reg          nxt_we;
    reg [BW-1:0] nxt_wa;
    reg [15:0]   nxt_wd;
    reg          chn_we;
    reg          bkt_we;
    reg [15:0]   bkt_wd;
    reg          an_we;
    always @* begin
        sock_we = 1'b0;
        ctx_we  = 1'b0;
        ctx_wa  = sk_idx;
        ctx_wd  = cx;
        nb_we   = 1'b0;
        nb_wa   = nb_idx;
        nb_wd   = nb_dlv;
        hdr_we  = 1'b0;
        hdr_wa  = mt_head[BW-1:0];
        hdr_wd  = hd_new;
        nxt_we  = 1'b0;
        nxt_wa  = cx_seg_tail[BW-1:0];
        nxt_wd  = mt_head;
        chn_we  = 1'b0;
        bkt_we  = 1'b0;
        bkt_wd  = rq_sock;
        an_we   = 1'b0;
        case (state)
            S_REQ: begin
                an_we = (rq_op == OP_ANON_POST) && rq_an_ok;
            end
            S_REQ_ADD: begin
                sock_we = 1'b1;
                ctx_we  = 1'b1;
                ctx_wa  = rq_sock[SW-1:0];
                ctx_wd  = cx_add;
                bkt_we  = 1'b1;
            end
            S_REQ_NB1: begin
                ctx_we = 1'b1;
                ctx_wd = cx_nbp;
                nb_we  = 1'b1;
                nb_wa  = rq_ref[NW-1:0];
                nb_wd  = nb_post;
            end
            S_REQ_NB2: begin
                nb_we = 1'b1;
                nb_wd = nb_link;
            end
            S_INORD: begin
                hdr_we = 1'b1;
                chn_we = 1'b1;
                nxt_we = (cx_seg_tail != NULL16);
            end
            S_RSTMK: begin
                hdr_we = 1'b1;
                chn_we = 1'b1;
                nxt_we = (cx_seg_tail != NULL16);
            end
            S_UDP: begin
                hdr_we = 1'b1;
                chn_we = 1'b1;
                nxt_we = (cx_seg_tail != NULL16);
            end
            S_DRAIN: begin
                nxt_we = dr_go && (cx_seg_tail != NULL16);
                nxt_wd = cx_ooo_head;
            end
            S_INS_L: begin
                hdr_we = 1'b1;
                chn_we = 1'b1;
                nxt_we = 1'b1;
                nxt_wa = mt_head[BW-1:0];
                nxt_wd = ins_cur;
            end
            S_INS_L2: begin
                nxt_we = 1'b1;
                nxt_wa = ins_prev[BW-1:0];
                nxt_wd = mt_head;
            end
            S_FIN: begin
                ctx_we = fin_go && f_wb;
            end
            S_DISSUE: begin
                ctx_we = wr_fire && !dlv_ret;
                ctx_wd = cx_dlv;
                nb_we  = wr_fire && !dlv_ret;
                nb_wd  = nb_dlv;
                hdr_we = wr_fire;
                hdr_wa = hd_idx;
                hdr_wd = hd_dlv;
            end
            S_DFREE: begin
                ctx_we = dfree_go && !hd_finrst;
                ctx_wd = cx_free;
            end
            S_DRET: begin
                ctx_we = dret_go;
                ctx_wd = cx_ret;
                nb_we  = dret_go;
                nb_wd  = nb_ret;
            end
            S_TK2: begin
                nb_we = tk_count;
                nb_wd = nb_tick;
            end
            S_DEL_UL0: begin
                bkt_we = (bkt_rd == rq_sock);
                bkt_wd = cx[`BF_SOCK_CTX_NEXT_SOCK_RANGE];
            end
            S_DEL_UL1: begin
                ctx_we = (cxr_next_sock == rq_sock);
                ctx_wd = cx_rd;
                ctx_wd[`BF_SOCK_CTX_NEXT_SOCK_RANGE] = cx[`BF_SOCK_CTX_NEXT_SOCK_RANGE];
            end
            S_DEL_AL1: begin
                ctx_we = (cxr_act_next == rq_sock);
                ctx_wd = cx_rd;
                ctx_wd[`BF_SOCK_CTX_ACT_NEXT_RANGE] = cx_act_next;
            end
            S_DEL_END: begin
                ctx_we = 1'b1;
                ctx_wa = rq_sock[SW-1:0];
                ctx_wd = {CW{1'b0}};
                ctx_wd[`BF_SOCK_CTX_STATE_RANGE] = ST_FREE;
            end
            default: ;
        endcase
    end
    always @(posedge clk) begin
        if (sock_we) sock_mem[rq_sock[SW-1:0]] <= rq;
        if (ctx_we) ctx_mem[ctx_wa] <= ctx_wd;
        if (nb_we) nb_mem[nb_wa] <= nb_wd;
        if (hdr_we) hdr_mem[hdr_wa] <= hdr_wd;
        if (nxt_we) nxt_mem[nxt_wa] <= nxt_wd;
        if (chn_we) chn_mem[mt_head[BW-1:0]] <= {mt_count, mt_tail};
        if (bkt_we) bkt_mem[b_idx] <= bkt_wd;
        if (an_we) anon_mem[rq_aref[AW-1:0]] <= {rq[`BF_ANON_DESC_ADDR_RANGE], rq_alen[15:0],
                                                 rq[`BF_ANON_DESC_TAG_RANGE]};
    end

    // Put a socket on the pending-delivery FIFO unless it is already there (each socket at
    // most once, so delivery never scans the socket table). Called from the main FSM only.
    task wake(input [SW-1:0] s);
        begin
            if (!pq_in[s]) begin
                pq_mem[pq_wp] <= s;
                pq_wp  <= (pq_wp == SOCK_LAST32[SW-1:0]) ? {SW{1'b0}} : pq_wp + 1'b1;
                pq_cnt <= pq_cnt + 1'b1;
                pq_in[s] <= 1'b1;
            end
        end
    endtask

    // Free the chain starting at hd_idx in one free op (count and tail from chn_mem) when
    // `go`; the caller has checked free_slot.
    task free_chain(input go);
        begin
            if (go) begin
                fr_valid <= 1'b1;
                fr_head  <= {{(16-BW){1'b0}}, hd_idx};
                fr_tail  <= chn_rd[15:0];
                fr_count <= chn_rd[31:16];
            end
        end
    endtask

    // Link segment h (already chained by the table write logic) at the tail of the socket's
    // in-order list.
    task seg_append(input [15:0] h);
        begin
            cx[`BF_SOCK_CTX_SEG_TAIL_RANGE] <= h;
            if (cx_seg_head == NULL16) cx[`BF_SOCK_CTX_SEG_HEAD_RANGE] <= h;
        end
    endtask

    // Finish a frame: optionally queue an ACK, then S_FIN frees the chain / counts the drop.
    task finish(input [3:0] reason, input ack);
        begin
            dr    <= reason;
            state <= ack ? S_TX0 : S_FIN;
        end
    endtask

    // A frame for the anonymous path (reason NOT_IPV4 or NO_SOCKET): delivered into the head
    // anonymous buffer when there is one and the frame was stored whole, else dropped.
    task anon_or_drop(input [3:0] reason);
        begin
            an_rsn <= reason;
            if (anon_go) begin
                dr    <= DROP_NONE;
                state <= S_AN0;
            end else begin
                dr    <= reason;
                state <= S_FIN;
            end
        end
    endtask

    // Timer sweep: go on with the next socket of the active list, or end the tick.
    task tk_next(input [15:0] n);
        begin
            if (n == NULL16) begin
                state <= S_IDLE;
            end else begin
                sk_idx <= n[SW-1:0];
                state  <= S_TK1;
            end
        end
    endtask

    // ------------------------------------------------------------------ main FSM
    always @(posedge clk) begin
        win_r <= win_c;
        wnd_r <= wnd_c;
        adv_r <= adv_c;
        if (rst) begin
            state      <= S_IDLE;
            last_src   <= 2'd3;            // the frame goes first
            bkt_vld    <= {HASH_BUCKETS{1'b0}};
            sock_used  <= {NUM_SOCKETS{1'b0}};
            nb_used    <= {NUM_NBS{1'b0}};
            hold_bm    <= {NUM_BUFLETS{1'b0}};
            mk_bm      <= {NUM_BUFLETS{1'b0}};
            an_busy    <= {NUM_ANON{1'b0}};
            aq_wp      <= {AW{1'b0}};
            aq_rp      <= {AW{1'b0}};
            aq_cnt     <= {(AW+1){1'b0}};
            act_head   <= NULL16;
            tk_pend    <= 1'b0;
            tk_mode    <= 1'b0;
            pq_wp      <= {SW{1'b0}};
            pq_rp      <= {SW{1'b0}};
            pq_cnt     <= {(SW+1){1'b0}};
            pq_in      <= {NUM_SOCKETS{1'b0}};
            pc_vld     <= 1'b0;
            fr_valid   <= 1'b0;
            df_valid   <= 1'b0;
            cp_valid   <= 1'b0;
            del_mode   <= 1'b0;
            ev_drop_valid      <= 1'b0;
            ev_drop_reason     <= 4'd0;
            ev_accepted        <= 1'b0;
            ev_delivered_valid <= 1'b0;
            ev_delivered_bytes <= 16'd0;
            ev_nb_returned     <= 1'b0;
            ev_ooo_held        <= 1'b0;
            ev_anon_rx         <= 1'b0;
            ev_arp_reply       <= 1'b0;
            ev_timeout         <= 1'b0;
            ev_tick            <= 1'b0;
            ev_fault           <= 1'b0;
            ev_fault_addr      <= 64'd0;
            ev_fault_write     <= 1'b0;
            expose_en          <= 1'b0;
            expose_idx         <= 16'd0;
            ev_hold_rec        <= 1'b0;
            ev_released        <= 1'b0;
            an_rsn             <= 4'd0;
            an_refused         <= 1'b0;
        end else begin
            expose_en          <= 1'b0;
            ev_hold_rec        <= 1'b0;
            ev_released        <= 1'b0;
            ev_fault           <= 1'b0;
            ev_drop_valid      <= 1'b0;
            ev_accepted        <= 1'b0;
            ev_delivered_valid <= 1'b0;
            ev_nb_returned     <= 1'b0;
            ev_ooo_held        <= 1'b0;
            ev_anon_rx         <= 1'b0;
            ev_arp_reply       <= 1'b0;
            ev_timeout         <= 1'b0;
            ev_tick            <= 1'b0;
            // pending tick: a request in the cycle the tick is taken merges into it
            if (tick_take) tk_pend <= 1'b0;
            else if (tick_req) tk_pend <= 1'b1;
            if (fr_valid && m_free_ready) fr_valid <= 1'b0;
            if (df_move) begin
                df_valid <= 1'b0;
                fr_valid <= 1'b1;
                fr_head  <= df_head;
                fr_tail  <= df_tail;
                fr_count <= df_count;
            end
            if (cp_valid && m_cpl_ready) cp_valid <= 1'b0;
            // a hold record names its buflet: it becomes exposed
            expose_en <= mv_rec_issue;
            if (mv_rec_issue) expose_idx <= mv_rec_buf;

            case (state)
                // ---------------------------------------------------------- pick an event
                S_IDLE: begin
                    tk_mode <= 1'b0;
                    if (pick_req) begin
                        rq       <= s_req_data;
                        fr_free  <= pool_free;
                        last_src <= 2'd1;
                        state    <= S_REQ;
                    end else if (pick_meta) begin
                        mt_reason   <= s_meta_reason;
                        mt_vlan     <= s_meta_vlan;
                        mt_src_ip   <= s_meta_src_ip;
                        mt_dst_ip   <= s_meta_dst_ip;
                        mt_src_port <= s_meta_src_port;
                        mt_dst_port <= s_meta_dst_port;
                        mt_seq      <= s_meta_seq;
                        mt_ack      <= s_meta_ack;
                        mt_flags    <= s_meta_flags;
                        mt_ws_valid <= s_meta_ws_valid;
                        mt_pay_off  <= s_meta_pay_off;
                        mt_pay_len  <= s_meta_pay_len;
                        mt_head     <= s_meta_head;
                        mt_tail     <= s_meta_tail;
                        mt_count    <= s_meta_count;
                        mt_len      <= s_meta_len;
                        mt_udp      <= s_meta_udp;
                        mt_arp_req  <= s_meta_arp_req;
                        mt_arp_sha  <= s_meta_arp_sha;
                        fr_free     <= pool_free;
                        last_src    <= 2'd0;
                        state       <= S_META;
                    end else if (pick_dlv) begin
                        sk_idx   <= pq_mem[pq_rp];
                        pq_in[pq_mem[pq_rp]] <= 1'b0;
                        pq_rp    <= (pq_rp == SOCK_LAST32[SW-1:0]) ? {SW{1'b0}} : pq_rp + 1'b1;
                        pq_cnt   <= pq_cnt - 1'b1;
                        last_src <= 2'd2;
                        state    <= S_DQ;
                    end else if (pick_tick) begin
                        // a timer tick: sweep the active list from its head
                        ev_tick  <= 1'b1;
                        tk_mode  <= 1'b1;
                        last_src <= 2'd3;
                        if (act_head != NULL16) begin
                            sk_idx <= act_head[SW-1:0];
                            state  <= S_TK1;
                        end
                    end
                end

                // ---------------------------------------------------------- requests
                S_REQ: begin
                    cst    <= ST_OK;
                    cbytes <= 32'd0;
                    rl_k   <= 5'd0;
                    if (rq_op == OP_SOCK_ADD) begin
                        if (rq_add_ok) begin
                            b_idx <= req_bkt;
                            state <= S_REQ_ADD;
                        end else begin
                            cst   <= ST_BAD_SOCK;
                            state <= S_CPL;
                        end
                    end else if (rq_op == OP_SOCK_DEL) begin
                        if (rq_sock_ok) begin
                            sk_idx <= rq_sock[SW-1:0];
                            state  <= S_DEL0;
                        end else begin
                            cst   <= ST_BAD_SOCK;
                            state <= S_CPL;
                        end
                    end else if (rq_op == OP_NB_POST) begin
                        if (!rq_sock_ok) begin
                            cst   <= ST_BAD_SOCK;
                            state <= S_CPL;
                        end else if (!rq_nb_ok) begin
                            cst   <= ST_BAD_NB;
                            state <= S_CPL;
                        end else begin
                            sk_idx <= rq_sock[SW-1:0];
                            state  <= S_REQ_NB1;
                        end
                    end else if (rq_op == OP_ANON_POST) begin
                        if (rq_an_ok) begin
                            // anon_mem written by the table write logic; no completion now
                            an_busy[rq_aref[AW-1:0]] <= 1'b1;
                            aq_mem[aq_wp] <= rq_aref[AW-1:0];
                            aq_wp  <= (aq_wp == ANON_LAST32[AW-1:0]) ? {AW{1'b0}} : aq_wp + 1'b1;
                            aq_cnt <= aq_cnt + 1'b1;
                            state  <= S_IDLE;
                        end else begin
                            cst   <= ST_BAD_NB;
                            state <= S_CPL;
                        end
                    end else if (rq_op == OP_NOP) begin
                        state <= S_CPL;
                    end else if (rq_op == OP_BUF_RELEASE) begin
                        if (rl_cnt_ok) begin
                            state <= S_REL0;
                        end else begin
                            cst   <= ST_BAD_BUF;
                            state <= S_CPL;
                        end
                    end else begin
                        cst   <= ST_BAD_OPCODE;
                        state <= S_CPL;
                    end
                end
                S_REQ_ADD: begin
                    // sock_mem / ctx_mem / bkt_mem written by the table write logic
                    bkt_vld[b_idx] <= 1'b1;
                    sock_used[rq_sock[SW-1:0]] <= 1'b1;
                    act_head <= rq_sock;
                    state <= S_CPL;
                end
                S_REQ_NB1: begin
                    nb_used[rq_ref[NW-1:0]] <= 1'b1;
                    if (pc_nb == rq_ref[NW-1:0]) pc_vld <= 1'b0;
                    if (cxr_nb_tail != NULL16) begin
                        nb_idx <= cxr_nb_tail[NW-1:0];
                        state  <= S_REQ_NB2;
                    end else begin
                        if (cxr_seg_head != NULL16) wake(sk_idx);
                        state <= S_IDLE;
                    end
                end
                S_REQ_NB2: begin
                    if (cxr_seg_head != NULL16) wake(sk_idx);
                    state <= S_IDLE;
                end
                S_CPL: if (cpl_slot) begin
                    cp_valid <= 1'b1;
                    cp_data  <= 256'd0;
                    cp_data[`BF_CPL_KIND_RANGE]     <= KIND_CMD_DONE;
                    cp_data[`BF_CPL_STATUS_RANGE]   <= cst;
                    cp_data[`BF_CPL_SOCK_REF_RANGE] <= rq_sock;
                    cp_data[`BF_CPL_TAG_RANGE]      <= rq[`BF_REQ_HDR_TAG_RANGE];
                    cp_data[`BF_CPL_OPCODE_RANGE]   <= rq_op;
                    cp_data[`BF_CPL_BYTES_RANGE]    <= cbytes;
                    state <= S_IDLE;
                end

                // ---------------------------------------------------------- BUF_RELEASE
                // heads in order; the first one not held (or out of range) ends it BAD_BUF
                S_REL0: begin
                    if (rl_held) begin
                        hd_idx <= rl_head[BW-1:0];
                        state  <= S_REL1;
                    end else begin
                        cst    <= ST_BAD_BUF;
                        cbytes <= {27'd0, rl_k};
                        state  <= S_CPL;
                    end
                end
                S_REL1: if (rel_go) begin
                    // the whole chain in one free op (count and tail from chn_mem); a FIN/RST
                    // segment still on its list keeps the chain (its head names the segment)
                    // until the FIN step or SOCK_DEL frees it
                    free_chain(!hd_mk);
                    hold_bm[hd_idx] <= 1'b0;
                    ev_released  <= 1'b1;
                    rl_k <= rl_k + 5'd1;
                    if ({11'd0, rl_k} + 16'd1 == rl_count) begin
                        cbytes <= {16'd0, rl_count};
                        state  <= S_CPL;
                    end else begin
                        state <= S_REL0;
                    end
                end

                // ---------------------------------------------------------- SOCK_DEL
                S_DEL0: if (mv_rd_idle && mv_out_idle) begin
                    sk       <= sk_rd;
                    cx       <= cx_rd;
                    del_mode <= 1'b1;
                    state    <= S_DEL_NB;
                end
                S_DEL_NB: begin
                    if (cx_nb_head != NULL16) begin
                        nb_idx <= cx_nb_head[NW-1:0];
                        state  <= S_DEL_NBR;
                    end else if (cx_seg_head != NULL16) begin
                        hd_idx   <= cx_seg_head[BW-1:0];
                        del_list <= 1'b0;
                        state    <= S_DEL_SEG;
                    end else if (cx_ooo_head != NULL16) begin
                        hd_idx   <= cx_ooo_head[BW-1:0];
                        del_list <= 1'b1;
                        state    <= S_DEL_SEG;
                    end else begin
                        state <= S_DEL_UL;
                    end
                end
                S_DEL_NBR: begin
                    nb         <= nb_rd;
                    ret_status <= ST_OK;
                    ret_flags  <= FL_DELETE;
                    ret_hdr    <= 8'd0;
                    state      <= S_DRET;
                end
                S_DEL_SEG: if (free_slot) begin
                    // a held chain (a hold FIN segment emptied by its last record) stays held;
                    // released meanwhile, it is freed now
                    mk_bm[hd_idx] <= 1'b0;
                    free_chain(!hd_held);
                    if (!del_list) begin
                        if (hd_is_tail) begin
                            if (cx_ooo_head != NULL16) begin
                                hd_idx   <= cx_ooo_head[BW-1:0];
                                del_list <= 1'b1;
                            end else begin
                                state <= S_DEL_UL;
                            end
                        end else begin
                            hd_idx <= nxt_rd[BW-1:0];
                        end
                    end else if (nxt_rd == NULL16) begin
                        state <= S_DEL_UL;
                    end else begin
                        hd_idx <= nxt_rd[BW-1:0];
                    end
                end
                S_DEL_UL: begin
                    b_idx <= del_bkt;
                    state <= S_DEL_UL0;
                end
                S_DEL_UL0: begin
                    // bucket head rewritten by the table write logic when it is the socket
                    if (bkt_rd == rq_sock || bkt_rd == NULL16) begin
                        state <= S_DEL_AL0;
                    end else begin
                        sk_idx <= bkt_rd[SW-1:0];
                        state  <= S_DEL_UL1;
                    end
                end
                S_DEL_UL1: begin
                    // predecessor's NEXT_SOCK rewritten by the table write logic
                    if (cxr_next_sock == rq_sock || cxr_next_sock == NULL16) state <= S_DEL_AL0;
                    else sk_idx <= cxr_next_sock[SW-1:0];
                end
                S_DEL_AL0: begin
                    // unlink from the active list: the head, or walk to the predecessor
                    if (act_head == rq_sock) begin
                        act_head <= cx_act_next;
                        state    <= S_DEL_END;
                    end else if (act_head == NULL16) begin
                        state <= S_DEL_END;
                    end else begin
                        sk_idx <= act_head[SW-1:0];
                        state  <= S_DEL_AL1;
                    end
                end
                S_DEL_AL1: begin
                    // predecessor's ACT_NEXT rewritten by the table write logic
                    if (cxr_act_next == rq_sock || cxr_act_next == NULL16) state <= S_DEL_END;
                    else sk_idx <= cxr_act_next[SW-1:0];
                end
                S_DEL_END: begin
                    sock_used[rq_sock[SW-1:0]] <= 1'b0;
                    del_mode <= 1'b0;
                    cst      <= ST_OK;
                    state    <= S_CPL;
                end

                // ---------------------------------------------------------- rx metadata
                S_META: begin
                    pool_room <= pr_sat;
                    f_keep    <= 1'b0;
                    f_wake    <= 1'b0;
                    f_wb      <= 1'b0;
                    tx_syn    <= 1'b0;
                    tx_arp    <= 1'b0;
                    if (mt_reason == DROP_NONE) begin
                        b_idx <= meta_bkt;
                        state <= S_LOOK0;
                    end else if (arp_hit) begin
                        // ARP request for NIC_IP: queue the reply, the frame is consumed
                        tx_arp <= 1'b1;
                        dr     <= DROP_NONE;
                        state  <= S_TX1;
                    end else if (anon_rsn) begin
                        anon_or_drop(mt_reason);
                    end else begin
                        dr    <= mt_reason;
                        state <= S_FIN;
                    end
                end
                S_LOOK0: begin
                    if (bkt_rd == NULL16) begin
                        anon_or_drop(DROP_NO_SOCKET);
                    end else begin
                        sk_idx <= bkt_rd[SW-1:0];
                        state  <= S_LOOK1;
                    end
                end
                S_LOOK1: begin
                    if (sk_match) begin
                        sk    <= sk_rd;
                        cx    <= cx_rd;
                        f_wb  <= 1'b1;
                        state <= mt_udp ? S_UDP : S_TCP;
                    end else if (cxr_next_sock == NULL16) begin
                        anon_or_drop(DROP_NO_SOCKET);
                    end else begin
                        sk_idx <= cxr_next_sock[SW-1:0];
                    end
                end
                S_TCP: begin
                    // working segment; win_r is computed from cx during this cycle
                    w_seq   <= mt_seq;
                    w_off   <= mt_seq - cx_rcv;
                    w_len   <= mt_pay_len;
                    w_doff  <= mt_pay_off;
                    w_flags <= mt_flags;
                    if (cx_state == ST_LISTEN) begin
                        if (mt_rst) begin
                            finish(DROP_BAD_STATE, 1'b0);
                        end else if (mt_syn && !mt_ackf) begin
                            cx[`BF_SOCK_CTX_IRS_RANGE]        <= mt_seq;
                            cx[`BF_SOCK_CTX_RCV_NXT_RANGE]    <= mt_seq + 32'd1;
                            cx[`BF_SOCK_CTX_STREAM_OFF_RANGE] <= 64'd0;
                            cx[`BF_SOCK_CTX_WS_OK_RANGE]      <= {7'd0, mt_ws_valid};
                            cx[`BF_SOCK_CTX_STATE_RANGE]      <= ST_SYN_RCVD;
                            cx[`BF_SOCK_CTX_RCV_WND_EDGE_RANGE] <= mt_seq + 32'd1;   // edge = RCV_NXT
                            tx_syn <= 1'b1;
                            finish(DROP_NONE, 1'b1);
                        end else begin
                            finish(DROP_BAD_STATE, 1'b0);
                        end
                    end else if (cx_state == ST_SYN_RCVD) begin
                        if (mt_rst) begin
                            if (mt_seq == cx_rcv) begin
                                cx[`BF_SOCK_CTX_STATE_RANGE] <= ST_LISTEN;
                                finish(DROP_NONE, 1'b0);
                            end else begin
                                finish(DROP_OOW, 1'b0);
                            end
                        end else if (mt_syn) begin
                            if (mt_seq == cx_irs) begin
                                tx_syn <= 1'b1;
                                finish(DROP_NONE, 1'b1);
                            end else begin
                                finish(DROP_BAD_STATE, 1'b0);
                            end
                        end else if (mt_ackf && mt_ack == sk_iss + 32'd1) begin
                            cx[`BF_SOCK_CTX_STATE_RANGE] <= ST_ESTAB;
                            state <= S_EST0;
                        end else begin
                            finish(DROP_BAD_STATE, 1'b0);
                        end
                    end else if (cx_state == ST_ESTAB || cx_state == ST_CLOSE_WAIT) begin
                        state <= S_EST0;
                    end else begin
                        finish(DROP_BAD_STATE, 1'b0);
                    end
                end
                S_EST0: begin
                    if (!acceptable) begin
                        finish(DROP_OOW, !w_rst);
                    end else if (w_rst) begin
                        if (off_zero) begin
                            cx[`BF_SOCK_CTX_STATE_RANGE] <= ST_CLOSED;
                            state <= S_RSTMK;
                        end else begin
                            finish(DROP_OOW, 1'b1);
                        end
                    end else if (w_syn) begin
                        finish(DROP_BAD_STATE, 1'b1);
                    end else if (cx_state == ST_CLOSE_WAIT) begin
                        if (seg_len != 17'd0) finish(DROP_BAD_STATE, 1'b1);
                        else finish(DROP_NONE, 1'b0);
                    end else begin
                        if (off_neg) begin
                            w_doff <= w_doff + neg_off[15:0];
                            w_len  <= w_len - neg_off[15:0];
                            w_seq  <= w_seq + neg_off;
                            w_off  <= 32'd0;
                        end
                        state <= S_EST1;
                    end
                end
                S_EST1: begin
                    w_len   <= t_len;
                    w_flags <= t_flags;
                    hd_idx  <= cx_ooo_head[BW-1:0];
                    if (t_len == 16'd0 && !t_fin) begin
                        finish(DROP_NONE, 1'b0);          // a pure ACK: consumed, no ACK
                    end else if (off_zero) begin
                        state <= S_INORD;
                    end else if (t_len == 16'd0) begin
                        finish(DROP_OOO, 1'b1);           // a FIN ahead of RCV_NXT
                    end else begin
                        ins_prev <= NULL16;
                        ins_cur  <= cx_ooo_head;
                        state    <= S_INS;
                    end
                end
                S_RSTMK: begin
                    // RST at RCV_NXT: a zero-length marker on the in-order list (header written
                    // by the table write logic); no ACK
                    seg_append(mt_head);
                    f_keep <= 1'b1;
                    f_wake <= 1'b1;
                    finish(DROP_NONE, 1'b0);
                end
                S_UDP: begin
                    // a datagram for a UDP socket: appended to the in-order list as one segment
                    // (header, chain, link written by the table write logic); no ACK
                    seg_append(mt_head);
                    ev_accepted <= 1'b1;
                    f_keep <= 1'b1;
                    f_wake <= 1'b1;
                    finish(DROP_NONE, 1'b0);
                end
                S_INORD: begin
                    // append (header, chain, link written by the table write logic)
                    seg_append(mt_head);
                    cx[`BF_SOCK_CTX_RCV_NXT_RANGE] <= cx_rcv + {16'd0, io_len} + {31'd0, io_fin};
                    if (io_fin) cx[`BF_SOCK_CTX_STATE_RANGE] <= ST_CLOSE_WAIT;
                    ev_accepted <= (io_len != 16'd0);
                    f_keep <= 1'b1;
                    f_wake <= 1'b1;
                    state  <= S_DRAIN;
                end
                S_DRAIN: begin
                    if (dr_go) begin
                        seg_append(cx_ooo_head);
                        cx[`BF_SOCK_CTX_OOO_HEAD_RANGE] <= nxt_rd;
                        cx[`BF_SOCK_CTX_RCV_NXT_RANGE]  <= cx_rcv + {16'd0, hr_len} + {31'd0, hr_fin};
                        if (hr_fin) cx[`BF_SOCK_CTX_STATE_RANGE] <= ST_CLOSE_WAIT;
                        hd_idx <= nxt_rd[BW-1:0];
                    end else begin
                        finish(DROP_NONE, 1'b1);
                    end
                end
                S_INS: begin
                    if (ins_cur == NULL16) begin
                        state <= S_INS_L;
                    end else if (c_end <= n_off) begin
                        ins_prev <= ins_cur;
                        ins_cur  <= nxt_rd;
                        hd_idx   <= nxt_rd[BW-1:0];
                    end else if (c_off <= n_off) begin
                        if (ov_d >= n_len) begin
                            finish(DROP_DUP, 1'b1);
                        end else begin
                            w_off    <= w_off + ov_d[31:0];
                            w_seq    <= w_seq + ov_d[31:0];
                            w_doff   <= w_doff + ov_d[15:0];
                            w_len    <= w_len - ov_d[15:0];
                            ins_prev <= ins_cur;
                            ins_cur  <= nxt_rd;
                            hd_idx   <= nxt_rd[BW-1:0];
                            state    <= S_INS_B;
                        end
                    end else begin
                        state <= S_INS_B;
                    end
                end
                S_INS_B: begin
                    if (ins_cur != NULL16 && c_off < n_end) begin
                        w_len   <= cut_l[15:0];
                        w_flags <= w_flags & NO_FIN_PSH;
                        if (cut_l == 34'sd0) finish(DROP_DUP, 1'b1);
                        else state <= S_INS_L;
                    end else begin
                        state <= S_INS_L;
                    end
                end
                S_INS_L: begin
                    // header, chain and NEXT_SEG written by the table write logic
                    ev_ooo_held <= 1'b1;
                    f_keep      <= 1'b1;
                    if (ins_prev == NULL16) begin
                        cx[`BF_SOCK_CTX_OOO_HEAD_RANGE] <= mt_head;
                        finish(DROP_NONE, 1'b1);
                    end else begin
                        state <= S_INS_L2;
                    end
                end
                S_INS_L2: finish(DROP_NONE, 1'b1);
                S_TX0: state <= S_TX1;            // win_r follows the final cx
                S_TX1: if (tx_ready) begin
                    // the command is queued: an ACK or SYN-ACK moves the right edge
                    if (tx_arp) ev_arp_reply <= 1'b1;
                    else if (edge_upd) cx[`BF_SOCK_CTX_RCV_WND_EDGE_RANGE] <= edge_new;
                    state <= S_FIN;
                end
                S_FIN: if (fin_go) begin
                    if (fin_free) begin
                        fr_valid <= 1'b1;
                        fr_head  <= mt_head;
                        fr_tail  <= mt_tail;
                        fr_count <= mt_count;
                    end
                    ev_drop_valid  <= (dr != DROP_NONE);
                    ev_drop_reason <= dr;
                    if (f_wake && cx_has_nb) wake(sk_idx);
                    state <= S_IDLE;
                end

                // ---------------------------------------------------------- delivery
                S_DQ: begin
                    sk <= sk_rd;
                    cx <= cx_rd;
                    if (!sock_used[sk_idx] || cx_rd[`BF_SOCK_CTX_SEG_HEAD_RANGE] == NULL16) begin
                        state <= S_IDLE;
                    end else begin
                        hd_idx <= cx_rd[`BF_SOCK_CTX_SEG_HEAD_OFF*8 +: BW];
                        nb_idx <= cxr_nb_head[NW-1:0];
                        state  <= S_D1;
                    end
                end
                S_D1: begin
                    hd <= hd_rd;
                    nb <= nb_rd;
                    ret_status <= ST_OK;
                    ret_flags  <= 8'd0;
                    ret_hdr    <= 8'd0;
                    if (hdr_len == 16'd0) begin
                        if (hdr_finrst && !cx_has_nb) state <= S_IDLE;
                        else state <= S_DFREE;
                    end else if (!cx_has_nb) begin
                        state <= S_IDLE;
                    end else begin
                        dn    <= n_calc;
                        dpage <= page_calc;
                        state <= pc_hit ? S_DISSUE : S_DPGREQ;
                    end
                end
                // the page list (HMD_ADDR, 8 * HMD_PAGES, READ) is checked before it is read: a
                // refusal returns the head NB PROT_FAULT (the page cache is left as it is)
                S_DPGREQ: if (prot_deny) begin
                    ev_fault       <= 1'b1;
                    ev_fault_addr  <= prot_addr;
                    ev_fault_write <= 1'b0;
                    ret_status     <= ST_PROT_FAULT;
                    state          <= S_DRET;
                end else if (m_dma_rd_req_ready) begin
                    state <= S_DPGRSP;
                end
                S_DPGRSP: if (s_axis_dma_rd_tvalid && s_axis_dma_rd_tlast) begin
                    if (s_axis_dma_rd_tuser) begin
                        ret_status <= ST_DMA_ERROR;
                        pc_vld     <= 1'b0;
                        state      <= S_DRET;
                    end else begin
                        pg_new  <= s_axis_dma_rd_tdata[63:0];
                        state   <= S_DPGCHK;
                    end
                end
                // the page taken from the list (page, 4096, WRITE), before any payload write
                S_DPGCHK: if (prot_deny) begin
                    ev_fault       <= 1'b1;
                    ev_fault_addr  <= prot_addr;
                    ev_fault_write <= 1'b1;
                    ret_status     <= ST_PROT_FAULT;
                    state          <= S_DRET;
                end else begin
                    pc_vld  <= 1'b1;
                    pc_nb   <= nb_idx;
                    pc_page <= dpage;
                    pc_addr <= pg_new;
                    state   <= S_DISSUE;
                end
                S_DISSUE: if (wr_fire) begin
                    hd <= hd_dlv;
                    nb <= nb_dlv;
                    cx <= cx_dlv;
                    ev_delivered_valid <= 1'b1;
                    ev_delivered_bytes <= {3'd0, dn};
                    ev_hold_rec        <= sk_hold;
                    if (sk_hold && dlv_empt) hold_bm[hd_idx] <= 1'b1;
                    if (sk_hold && dlv_empt && hd_finrst) mk_bm[hd_idx] <= 1'b1;
                    if (dlv_dfree) begin
                        df_valid <= 1'b1;
                        df_head  <= {{(16-BW){1'b0}}, hd_idx};
                        df_tail  <= chn_rd[15:0];
                        df_count <= chn_rd[31:16];
                    end
                    if (dlv_ret) begin
                        ret_flags <= dlv_flags;
                        ret_hdr   <= dlv_dgram ? dg_hdr : 8'd0;
                        state     <= S_DRET;
                    end else begin
                        if (cx_dlv[`BF_SOCK_CTX_SEG_HEAD_RANGE] != NULL16) wake(sk_idx);
                        state <= S_IDLE;
                    end
                end
                S_DFREE: if (dfree_go) begin
                    // an empty segment: freed, unless its chain is held (the last record of a
                    // hold FIN segment named it and it was not released meanwhile)
                    mk_bm[hd_idx] <= 1'b0;
                    free_chain(!hd_held);
                    cx       <= cx_free;
                    if (hd_finrst) begin
                        ret_flags <= (((hd[`BF_BUFLET_HDR_FLAGS_RANGE] & TF_FIN) != 8'd0) ? FL_FIN : 8'd0) |
                                     (((hd[`BF_BUFLET_HDR_FLAGS_RANGE] & TF_RST) != 8'd0) ? FL_RST : 8'd0);
                        state <= S_DRET;
                    end else begin
                        if (cx_free[`BF_SOCK_CTX_SEG_HEAD_RANGE] != NULL16) wake(sk_idx);
                        state <= S_IDLE;
                    end
                end
                S_DRET: if (dret_go) begin
                    cp_valid <= 1'b1;
                    cp_data  <= 256'd0;
                    cp_data[`BF_CPL_KIND_RANGE]       <= KIND_NB_RETURN;
                    cp_data[`BF_CPL_STATUS_RANGE]     <= ret_status;
                    cp_data[`BF_CPL_SOCK_REF_RANGE]   <= nb[`BF_NB_DESC_SOCK_REF_RANGE];
                    cp_data[`BF_CPL_TAG_RANGE]        <= nb[`BF_NB_DESC_TAG_RANGE];
                    cp_data[`BF_CPL_REF_NUM_RANGE]    <= nb[`BF_NB_DESC_REF_NUM_RANGE];
                    cp_data[`BF_CPL_BYTES_RANGE]      <= nb_filled;
                    cp_data[`BF_CPL_FLAGS_RANGE]      <= {24'd0, ret_flags};
                    cp_data[`BF_CPL_OPCODE_RANGE]     <= nb[`BF_NB_DESC_OPCODE_RANGE];
                    cp_data[`BF_CPL_HDR_BYTES_RANGE]  <= ret_hdr;
                    // an empty buffer reports where the stream stands (FIN at a buffer boundary)
                    cp_data[`BF_CPL_STREAM_OFF_RANGE] <= (nb_filled == 32'd0) ? cx[`BF_SOCK_CTX_STREAM_OFF_RANGE]
                                                                               : nb[`BF_NB_DESC_STREAM_OFF_RANGE];
                    nb_used[nb_idx] <= 1'b0;
                    if (pc_nb == nb_idx) pc_vld <= 1'b0;
                    ev_nb_returned <= 1'b1;
                    cx <= cx_ret;
                    if (del_mode) begin
                        state <= S_DEL_NB;
                    end else begin
                        // woken: waiting segments go to the next NB
                        if (cx_ret[`BF_SOCK_CTX_SEG_HEAD_RANGE] != NULL16 &&
                            cx_ret[`BF_SOCK_CTX_NB_HEAD_RANGE] != NULL16) wake(sk_idx);
                        if (tk_mode) begin
                            ev_timeout <= 1'b1;
                            tk_next(cx_act_next);
                        end else begin
                            state <= S_IDLE;
                        end
                    end
                end

                // ---------------------------------------------------------- timer sweep
                S_TK1: begin
                    // the socket's context: its head NB, if any
                    cx <= cx_rd;
                    if (cxr_nb_head != NULL16) begin
                        nb_idx <= cxr_nb_head[NW-1:0];
                        state  <= S_TK2;
                    end else begin
                        tk_next(cxr_act_next);
                    end
                end
                S_TK2: begin
                    // the head NB: TICKS_LEFT counted down (written by the table write logic)
                    // when TIMEOUT != 0; returned with TIMEOUT when that makes it 0
                    nb <= nb_rd;
                    if (tk_expire) begin
                        ret_status <= ST_OK;
                        ret_flags  <= FL_TIMEOUT;
                        ret_hdr    <= 8'd0;
                        state      <= S_DRET;
                    end else begin
                        tk_next(cx_act_next);
                    end
                end

                // ---------------------------------------------------------- anonymous delivery
                S_AN0: begin
                    // the head of the anonymous list leaves it
                    an_idx <= aq_mem[aq_rp];
                    aq_rp  <= (aq_rp == ANON_LAST32[AW-1:0]) ? {AW{1'b0}} : aq_rp + 1'b1;
                    aq_cnt <= aq_cnt - 1'b1;
                    state  <= S_AN1;
                end
                S_AN1: begin
                    an_tag  <= an_rd[31:0];
                    an_addr <= an_rd[111:48];
                    an_n    <= (mt_len < an_len16) ? mt_len : an_len16;
                    an_rem  <= (mt_len < an_len16) ? mt_len : an_len16;
                    an_off  <= 16'd0;
                    an_refused <= 1'b0;
                    state   <= S_AN_CHK;
                end
                // the whole buffer (ADDR, LEN, WRITE) before any write into it: a refusal returns
                // it ANON_RX PROT_FAULT BYTES 0 and drops the frame under its own reason
                S_AN_CHK: if (prot_deny) begin
                    ev_fault       <= 1'b1;
                    ev_fault_addr  <= prot_addr;
                    ev_fault_write <= 1'b1;
                    an_refused     <= 1'b1;
                    state          <= S_AN_CPL;
                end else begin
                    state <= S_AN_WR;
                end
                S_AN_WR: if (an_fire) begin
                    // bytes [an_off, an_off + an_ck) of the frame to ADDR + an_off
                    an_off <= an_off + 16'd4096;
                    an_rem <= an_rem - an_ck;
                    if (an_rem == an_ck) state <= S_AN_FREE;
                end
                S_AN_FREE: if (anfree_go) begin
                    fr_valid <= 1'b1;
                    fr_head  <= mt_head;
                    fr_tail  <= mt_tail;
                    fr_count <= mt_count;
                    state    <= S_AN_CPL;
                end
                S_AN_CPL: if (ancpl_go) begin
                    cp_valid <= 1'b1;
                    cp_data  <= 256'd0;
                    cp_data[`BF_CPL_KIND_RANGE]    <= KIND_ANON_RX;
                    cp_data[`BF_CPL_TAG_RANGE]     <= an_tag;
                    cp_data[`BF_CPL_REF_NUM_RANGE] <= {{(32-AW){1'b0}}, an_idx};
                    cp_data[`BF_CPL_OPCODE_RANGE]  <= OP_ANON_POST;
                    an_busy[an_idx] <= 1'b0;
                    if (an_refused) begin
                        // nothing was written; S_FIN frees the chain and counts the drop
                        cp_data[`BF_CPL_STATUS_RANGE] <= ST_PROT_FAULT;
                        dr    <= an_rsn;
                        state <= S_FIN;
                    end else begin
                        cp_data[`BF_CPL_STATUS_RANGE] <= ST_OK;
                        cp_data[`BF_CPL_BYTES_RANGE]  <= {16'd0, an_n};
                        cp_data[`BF_CPL_FLAGS_RANGE]  <= (an_n < mt_len) ? {24'd0, FL_TRUNC} : 32'd0;
                        ev_anon_rx <= 1'b1;
                        state <= S_IDLE;
                    end
                end
                default: state <= S_IDLE;
            endcase
        end
    end

    // ------------------------------------------------------------------ outputs
    assign m_free_valid  = fr_valid;
    assign m_free_head   = fr_head;
    assign m_free_tail   = fr_tail;
    assign m_free_count  = fr_count;
    assign m_cpl_valid   = cp_valid;
    assign m_cpl_data    = cp_data;

    assign m_dma_rd_req_valid   = (state == S_DPGREQ) && !prot_deny;
    assign m_dma_rd_req_addr    = nb[`BF_NB_DESC_HMD_ADDR_RANGE] + {41'd0, dpage, 3'd0};
    assign m_dma_rd_req_len     = 16'd8;
    assign s_axis_dma_rd_tready = (state == S_DPGRSP);

    // protection lookup: the page list in S_DPGREQ (8 * HMD_PAGES, saturated to 32 bits), the
    // page just read in S_DPGCHK, the anonymous buffer in S_AN_CHK
    wire [31:0] hmd_pages = nb[`BF_NB_DESC_HMD_PAGES_RANGE];
    wire        pl_list   = (state == S_DPGREQ);
    assign prot_addr  = pl_list ? nb[`BF_NB_DESC_HMD_ADDR_RANGE] :
                        (state == S_DPGCHK) ? pg_new : an_addr;
    assign prot_len   = pl_list ? ((hmd_pages[31:29] != 3'd0) ? 32'hFFFF_FFFF : {hmd_pages[28:0], 3'd0}) :
                        (state == S_DPGCHK) ? 32'd4096 : {16'd0, an_len16};
    assign prot_write = !pl_list;

    wire an_wr = (state == S_AN_WR);
    assign m_dma_wr_req_valid = ((state == S_DISSUE) && mv_cmd_ready && !(dlv_dfree && df_valid && !df_move)) ||
                                (an_wr && mv_cmd_ready);
    // a hold chunk writes its 8-byte record at (8 * RECS) mod 4096 of its page
    assign m_dma_wr_req_addr  = an_wr ? (an_addr + {48'd0, an_off}) :
                                sk_hold ? (pc_addr + {52'd0, nb_recs[8:0], 3'd0}) :
                                (pc_addr + {52'd0, nb_filled[11:0]});
    assign m_dma_wr_req_len   = an_wr ? an_ck : sk_hold ? 16'd8 : {3'd0, dn};
    wire        mv_rec_issue;
    wire [15:0] mv_rec_buf;

    toe_mover #(
        .DATA_WIDTH  (DATA_WIDTH),
        .BUFLET_BYTES(BUFLET_BYTES),
        .NUM_BUFLETS (NUM_BUFLETS)
    ) u_mover (
        .clk          (clk),
        .rst          (rst),
        .cmd_valid    (wr_fire),
        .cmd_ready    (mv_cmd_ready),
        .cmd_buf      (an_wr ? mt_head : {{(16-BW){1'b0}}, hd_idx}),
        .cmd_off      (an_wr ? an_off : hd[`BF_BUFLET_HDR_DATA_OFF_RANGE]),
        .cmd_len      (an_wr ? an_ck[12:0] : dn),
        .cmd_rec      (!an_wr && sk_hold),
        .cmd_head     (dlv_empt ? {{(16-BW){1'b0}}, hd_idx} : NULL16),
        .link_rd_idx  (link_rd_idx),
        .link_rd_next (link_rd_next),
        .ram_rd_en    (ram_rd_en),
        .ram_rd_addr  (ram_rd_addr),
        .ram_rd_data  (ram_rd_data),
        .m_axis_tdata (m_axis_dma_wr_tdata),
        .m_axis_tkeep (m_axis_dma_wr_tkeep),
        .m_axis_tvalid(m_axis_dma_wr_tvalid),
        .m_axis_tready(m_axis_dma_wr_tready),
        .m_axis_tlast (m_axis_dma_wr_tlast),
        .rd_idle      (mv_rd_idle),
        .out_idle     (mv_out_idle),
        .rec_issue    (mv_rec_issue),
        .rec_buf      (mv_rec_buf)
    );
endmodule
`default_nettype wire
