`resetall
`default_nettype none
// toe_tx: the send side of docs/tcp-transmit.md for toe_engine (model: model/src/toe/snd.rs).
// toe_engine sequences the steps (in_* below) and owns the socket's descriptor and receive
// context, and the send state table (snd_mem, one snd_ctx per socket: it sits beside the
// socket tables so its read address is the engine's sk_idx register and it infers block RAM;
// this block reads it on snd_rd and writes it on snd_we/snd_wd); this block owns the post
// table (post_mem: tx_desc entries with SND_OFF filled, post_nxt: their per-socket links,
// post_used), the send-ready FIFO (each socket at most once: tq_in), and the working send
// state sn of the socket the engine is working on. Per step it gives the next send state
// (written into sn at the step's clock edge) and the decisions:
//   ld      sn <= snd_mem[sk_idx]                 (the engine loads sk, cx)
//   wb      snd_mem[sk_idx] <= sn, with the persist start of snd_wake applied, and the
//           socket joins the send-ready FIFO, in the next cycle, when it has a segment to
//           send (snd_wake)
//   init    sn <= a fresh send state (SOCK_ADD; with CONNECT: SYN_SENT's timer and tag)
//   in_post TX_POST: post_st is the status; post_take writes the post and links it
//   in_close SOCK_CLOSE: close_st is the status; close_take queues our FIN
//   in_syn  a SYN (LISTEN) or SYN-ACK (SYN_SENT) was taken: Snd::on_syn
//   in_est  the handshake ended: Snd::on_established
//   in_stop the SYN-ACK timer stops (an RST in SYN_RCVD)
//   in_ack  an acceptable segment's ACK: snd_ack's arithmetic (una, RTT, CWND, window)
//   in_tick the timer tick: snd_tick / synack_tick (tk_* actions)
//   in_seg  the send step: next_seg (seg_*), and seg_go starts the piece walk
//   in_sent the segment was queued: NXT, MAX, the RTT sample, the timer, counters
//   in_abort the connection ended: the send side stops (posts returned by a post walk)
//   pw_go   a post walk from POST_HEAD: pw_all = every post (returned), else the posts UNA
//           has passed (completed); pw_busy until done; pw_count/bytes/tag for TX_DONE
// The piece walk hands tx_data one piece per post the segment touches (m_pc_*).
`include "buflet_defs.vh"
`include "buflet_checks.vh"
module toe_tx #(
    parameter NUM_SOCKETS = 64,
    parameter NUM_POSTS   = 256,
    parameter BUFLET_BYTES = 2048,
    parameter SW          = $clog2(NUM_SOCKETS)
) (
    input  wire                clk,
    input  wire                rst,
    input  wire [SW-1:0]       sk_idx,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [511:0]        sk,          // the socket's descriptor (ISS, MSS, PROTO)
    input  wire [511:0]        rq,          // the request entry (TX_POST, SOCK_CLOSE, SOCK_ADD)
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [7:0]          st_now,      // the socket's state (cx STATE)
    input  wire                sock_ok,     // the request's socket is in use
    // policy registers
    input  wire [31:0]         rto_init,
    input  wire [31:0]         rto_min,
    input  wire [31:0]         rto_max,
    input  wire [31:0]         retries,
    // frame fields (in_syn, in_ack)
    input  wire [31:0]         mt_seq,
    input  wire [31:0]         mt_ack,
    input  wire [15:0]         mt_window,
    input  wire [15:0]         mt_pay_len,
    input  wire [7:0]          mt_flags,
    input  wire                mt_ws_valid,
    input  wire [3:0]          mt_ws,
    input  wire [15:0]         mt_mss,
    input  wire                syn_active,  // in_syn: a SYN-ACK of our active open (WL2 = its ACK)
    // the send state table (toe_engine's snd_mem): the socket's entry, and its write
    input  wire [8*`BF_SND_CTX_SIZE-1:0] snd_rd,
    output wire                snd_we,
    output wire [8*`BF_SND_CTX_SIZE-1:0] snd_wd,
    // steps
    input  wire                ld,
    input  wire                wb,
    input  wire                init,
    input  wire                init_connect,
    input  wire                post_take,
    input  wire                close_take,
    input  wire                in_syn,
    input  wire                in_est,
    input  wire                in_stop,
    input  wire                in_ack,
    input  wire                in_tick,
    input  wire                in_seg,
    input  wire                seg_go,
    input  wire                in_sent,
    input  wire                in_abort,
    input  wire                take_connect, // CONNECT_PEND cleared (its CMD_DONE is posted)
    input  wire                take_close,   // CLOSE_PEND cleared
    input  wire                pw_go,
    input  wire                pw_all,
    // the send-ready FIFO
    output wire                tq_valid,
    input  wire                tq_pop,
    output wire [SW-1:0]       tq_sock,
    // decisions
    output reg  [7:0]          post_st,
    output reg  [7:0]          close_st,
    output wire                ack_unsent,  // the frame's ACK acknowledges data never sent
    output wire [31:0]         snd_seq,     // ISS + 1 + MAX: SEQ of a pure ACK or our RST
    output wire                connect_pend,
    output wire [31:0]         connect_tag,
    output wire                close_pend,
    output wire [31:0]         close_tag,
    output wire                fin_acked,   // our FIN is acknowledged
    output wire                pw_need,     // after this cycle's step: the head post is wholly acknowledged
    output wire                close_due,   // after this cycle's step: a SOCK_CLOSE's FIN is acknowledged
    output reg                 tk_synack,   // in_tick: resend the SYN-ACK (SYN_RCVD) or SYN (SYN_SENT)
    output reg                 tk_listen,   //          SYN_RCVD gives up: LISTEN again
    output reg                 tk_fail,     //          the active open fails (TIMEOUT)
    output reg                 tk_reset,    //          the retries ran out: RST, posts TIMEOUT
    output reg                 tk_rto,      //          a retransmission timeout (CNT_TX_RTO)
    output wire                seg_any,     // in_seg: a segment to send
    output wire [31:0]         seg_seq,
    output wire [15:0]         seg_len,
    output wire                seg_fin,
    output wire                walk_busy,
    output wire                pw_busy,
    output reg  [31:0]         pw_count,
    output wire [31:0]         pw_bytes,
    output reg  [31:0]         pw_tag,
    // counter events (one-cycle pulses)
    output reg                 ev_fast_retrans,
    output reg                 ev_probe,
    output reg                 ev_retrans,   // a data segment (or FIN) sent again
    output reg                 ev_data_seg,  // a segment with payload, of ev_data_bytes
    output reg  [15:0]         ev_data_bytes,
    // pieces for tx_data
    output wire                m_pc_valid,
    input  wire                m_pc_ready,
    output wire [63:0]         m_pc_hmd,
    output wire [31:0]         m_pc_at,
    output wire [15:0]         m_pc_len,
    output wire                m_pc_last,
    output wire                m_pc_psh,
    output wire                m_pc_dev        // the post is DEVMEM: its list names host buflets
);
    // parameter checks (elaboration time)
    generate
        if (NUM_POSTS < 1 || NUM_POSTS > 4096) begin : g_check_num_posts
            `BF_ERROR("toe_tx: NUM_POSTS must be in 1..4096")
        end
    endgenerate
    localparam SNW = 8 * `BF_SND_CTX_SIZE;
    localparam PW  = (NUM_POSTS > 1) ? $clog2(NUM_POSTS) : 1;
    localparam [15:0] NULL16 = 16'hFFFF;
    localparam [31:0] SOCK_LAST32 = NUM_SOCKETS - 1;
    localparam [7:0] ST_LISTEN     = `BF_SOCK_STATE_LISTEN;
    localparam [7:0] ST_SYN_RCVD   = `BF_SOCK_STATE_SYN_RCVD;
    localparam [7:0] ST_SYN_SENT   = `BF_SOCK_STATE_SYN_SENT;
    localparam [7:0] ST_ESTAB      = `BF_SOCK_STATE_ESTAB;
    localparam [7:0] ST_CLOSE_WAIT = `BF_SOCK_STATE_CLOSE_WAIT;
    localparam [7:0] PROTO_TCP     = `BF_IP_PROTO_TCP;
    localparam [7:0] S_OK       = `BF_STATUS_OK;
    localparam [7:0] S_BAD_SOCK = `BF_STATUS_BAD_SOCK;
    localparam [7:0] S_BAD_NB   = `BF_STATUS_BAD_NB;
    localparam [7:0] S_NO_POST  = `BF_STATUS_NO_POST;
    localparam [7:0] TXF_PSH    = `BF_TX_FLAG_PSH;
    localparam [7:0] TXF_DEVMEM = `BF_TX_FLAG_DEVMEM;
    localparam [7:0] TF_FIN = `BF_TCP_FLAG_FIN;
    localparam [7:0] TF_SYN = `BF_TCP_FLAG_SYN;
    localparam [15:0] F_OPEN     = `BF_SND_FLAG_OPEN;
    localparam [15:0] F_RECOVERY = `BF_SND_FLAG_RECOVERY;
    localparam [15:0] F_RETX     = `BF_SND_FLAG_RETX;
    localparam [15:0] F_PERSIST  = `BF_SND_FLAG_PERSIST;
    localparam [15:0] F_PROBE    = `BF_SND_FLAG_PROBE;
    localparam [15:0] F_FINQ     = `BF_SND_FLAG_FIN_QUEUED;
    localparam [15:0] F_CLOSEP   = `BF_SND_FLAG_CLOSE_PEND;
    localparam [15:0] F_CONNP    = `BF_SND_FLAG_CONNECT_PEND;
    localparam [15:0] F_TAILPSH  = `BF_SND_FLAG_TAIL_PSH;
    localparam [15:0] F_RTT      = `BF_SND_FLAG_RTT_ON;
    localparam [15:0] F_NXTHEAD  = `BF_SND_FLAG_NXT_HEAD;
    localparam [31:0] DEF_MSS    = `BF_PARAM_DEF_PEER_MSS;
    localparam [31:0] MAX_SEG    = `BF_PARAM_TX_MAX_SEG;

    // ------------------------------------------------------------------ tables
    reg [511:0]   post_mem [0:NUM_POSTS-1];
    reg [15:0]    post_nxt [0:NUM_POSTS-1];
    reg [NUM_POSTS-1:0] post_used;
    reg [SW-1:0]  tq_mem [0:NUM_SOCKETS-1];
    reg [SW-1:0]  tq_wp, tq_rp;
    reg [SW:0]    tq_cnt;
    reg [NUM_SOCKETS-1:0] tq_in;

    reg [SNW-1:0] sn;              // working send state
    reg [SNW-1:0] sn_nx;           // ... after this cycle's step
    reg [PW-1:0]  pa;              // post table read address (walks)
    /* verilator lint_off UNUSEDSIGNAL */
    wire [511:0]  pr     = post_mem[pa];   // the fields a walk needs
    /* verilator lint_on UNUSEDSIGNAL */
    wire [15:0]   pr_nxt = post_nxt[pa];

    // ------------------------------------------------------------------ fields
    wire [63:0] una  = sn[`BF_SND_CTX_UNA_RANGE];
    wire [63:0] nxt  = sn[`BF_SND_CTX_NXT_RANGE];
    wire [63:0] smax = sn[`BF_SND_CTX_MAX_RANGE];
    wire [63:0] send = sn[`BF_SND_CTX_END_RANGE];
    wire [31:0] wnd  = sn[`BF_SND_CTX_WND_RANGE];
    wire [31:0] cwnd = sn[`BF_SND_CTX_CWND_RANGE];
    wire [31:0] mss  = {16'd0, sn[`BF_SND_CTX_MSS_RANGE]};
    wire [15:0] fl   = sn[`BF_SND_CTX_SFLAGS_RANGE];
    wire        f_open  = (fl & F_OPEN) != 16'd0;
    wire        f_pers  = (fl & F_PERSIST) != 16'd0;
    wire        f_finq  = (fl & F_FINQ) != 16'd0;
    wire        f_rec   = (fl & F_RECOVERY) != 16'd0;
    wire        f_rtt   = (fl & F_RTT) != 16'd0;
    wire [31:0] timer = sn[`BF_SND_CTX_TIMER_RANGE];
    wire [31:0] rto   = sn[`BF_SND_CTX_RTO_RANGE];
    wire [31:0] backoff = sn[`BF_SND_CTX_BACKOFF_RANGE];
    wire [31:0] sk_iss  = sk[`BF_SOCK_DESC_ISS_RANGE];
    wire [31:0] iss1    = sk_iss + 32'd1;
    wire [63:0] inflight = nxt - una;
    assign connect_pend = (fl & F_CONNP) != 16'd0;
    assign close_pend   = (fl & F_CLOSEP) != 16'd0;
    assign connect_tag  = sn[`BF_SND_CTX_CONNECT_TAG_RANGE];
    assign close_tag    = sn[`BF_SND_CTX_CLOSE_TAG_RANGE];
    assign snd_seq      = iss1 + smax[31:0];
    wire [31:0] rto_cap = (rto_max == 32'd0) ? 32'd1 : rto_max;
    wire [31:0] rto_lo  = (rto_min == 32'd0) ? 32'd1 : rto_min;
    wire [31:0] rto_ini = (rto_init == 32'd0) ? 32'd1 : rto_init;
    // RTO doubled (saturating), capped at RTO_MAX
    wire [32:0] rto_x2  = {rto, 1'b0};
    wire [31:0] rto_dbl = (rto_x2 > {1'b0, rto_cap}) ? rto_cap : rto_x2[31:0];

    function [31:0] sat32(input [63:0] a);
        sat32 = (a[63:32] != 32'd0) ? 32'hFFFF_FFFF : a[31:0];
    endfunction

    // ------------------------------------------------------------------ next segment (Snd::next_seg)
    // {any, fast (a retransmission at UNA), probe, fin, off, len} of the working state sn.
    // Every decision is a compare of two of sn's fields or of differences of them, made side
    // by side: no sum or compare waits for another one's result (the segment length, the
    // minimum of room, MSS and the bytes left, is chosen by three compares; "it empties the
    // queue" and "the FIN goes with it" are compares of those values, not sums of the chosen
    // length), so the send decision is about three carry chains deep (docs/fpga.md).
    wire [31:0] ns_rw    = (wnd < cwnd) ? wnd : cwnd;          // min(WND, CWND)
    wire        ns_rmok  = (inflight[63:32] == 32'd0) && (ns_rw > inflight[31:0]);
    wire [31:0] ns_room  = ns_rmok ? (ns_rw - inflight[31:0]) : 32'd0;   // a: window room
    wire [63:0] ns_left  = (send > nxt) ? (send - nxt) : 64'd0;       // c: bytes not yet sent
    wire        ns_lhi   = ns_left[63:32] != 32'd0;
    wire        ns_ab    = ns_room < mss;                      // a < b (b: MSS)
    wire        ns_ac    = ns_lhi || (ns_room < ns_left[31:0]); // a < c
    wire        ns_bc    = ns_lhi || (mss < ns_left[31:0]);     // b < c
    wire        ns_cb    = !ns_lhi && (ns_left[31:0] < mss);    // c < b
    wire [63:0] ns_raw   = ns_ab ? (ns_ac ? {32'd0, ns_room} : ns_left)
                                 : (ns_bc ? {32'd0, mss} : ns_left);
    wire        ns_isb   = !ns_ab && !ns_cb;                   // the length is MSS
    wire        ns_isc   = !ns_ac && !ns_bc;                   // ... is every byte left
    wire        ns_nz    = ns_rmok && (mss != 32'd0) && (send > nxt);
    // Nagle (RFC 9293 3.7.4): a full segment; or nothing in flight; or it empties the queue
    // and the newest post asked for PSH (or our FIN follows)
    wire        ns_new   = f_open && ns_nz &&
                           (ns_isb || inflight == 64'd0 || (ns_isc && (((fl & F_TAILPSH) != 16'd0) || f_finq)));
    // a retransmission at UNA: min(MSS, min(MAX, END) - UNA)
    wire        ns_me    = smax < send;
    wire        ns_rgt   = ns_me ? (smax > una) : (send > una);
    wire [63:0] ns_rd    = ns_me ? (smax - una) : (send - una);
    wire        ns_rle   = ns_rd <= {32'd0, mss};
    wire [63:0] ns_rl    = !ns_rgt ? 64'd0 : ns_rle ? ns_rd : {32'd0, mss};
    wire        ns_fin1  = ns_rgt ? (!ns_me && ns_rle) : (una == send);
    // a probe: the byte probed last, if the peer did not take it; else the next one
    wire        ns_ulm   = una < smax;
    wire [63:0] ns_pb    = ns_ulm ? una : nxt;
    wire        ns_pblt  = ns_ulm ? (una < send) : (nxt < send);
    wire        ns_pbeq  = ns_ulm ? (una == send) : (nxt == send);
    wire        ns_pb1   = ns_ulm ? (una + 64'd1 == send) : (nxt + 64'd1 == send);
    wire        ns_neq   = nxt == send;
    wire        ns_c1    = f_open && ((fl & F_RETX) != 16'd0) && ns_ulm;
    wire        ns_c2    = f_open && ((fl & F_PROBE) != 16'd0) && (ns_pblt || (f_finq && ns_pbeq));
    wire        ns_c4    = f_open && f_finq && ns_neq;
    reg  [63:0] g_off, g_len;
    reg         g_any, g_fast, g_prb, g_fin;
    always @* begin
        g_fast = 1'b0; g_prb = 1'b0;
        if (ns_c1) begin
            g_off = una; g_len = ns_rl; g_fast = 1'b1;
            g_fin = f_finq && ns_fin1;
            g_any = (ns_rgt && mss != 32'd0) || g_fin;
        end else if (ns_c2) begin
            g_off = ns_pb; g_len = {63'd0, ns_pblt}; g_prb = 1'b1;
            g_fin = f_finq && ((ns_pblt && ns_pb1) || ns_pbeq);
            g_any = ns_pblt || g_fin;
        end else if (ns_new) begin
            g_off = nxt; g_len = ns_raw;
            g_fin = f_finq && ns_isc;
            g_any = 1'b1;
        end else begin
            g_off = nxt; g_len = 64'd0;
            g_fin = f_finq && ns_neq;
            g_any = ns_c4;
        end
    end
    assign seg_any = g_any;
    assign seg_seq = iss1 + g_off[31:0];
    assign seg_len = g_len[15:0];
    assign seg_fin = g_fin;

    // the send step's operands, kept for in_sent (the walk runs in between)
    reg [63:0] s_off, s_len;
    reg        s_fin, s_fast, s_prb;

    // ------------------------------------------------------------------ ACK checks
    // rel(ACK, SND.UNA) = ACK - (ISS + 1 + UNA) as one three-operand sum, ACK + ~ISS + ~UNA
    // + 1, added carry-save: one carry chain instead of three in series (docs/fpga.md)
    wire [31:0] da_b    = ~sk_iss;
    wire [31:0] da_c    = ~una[31:0];
    wire [31:0] da_x    = mt_ack ^ da_b ^ da_c;
    wire [30:0] da_m    = (mt_ack[30:0] & da_b[30:0]) | (mt_ack[30:0] & da_c[30:0]) |
                          (da_b[30:0] & da_c[30:0]);
    wire [31:0] d_ack   = da_x + {da_m, 1'b1};
    wire        d_pos   = !d_ack[31] && (d_ack != 32'd0);
    wire        d_nneg  = !d_ack[31];
    // UNA <= NXT <= MAX always holds (an ACK never moves UNA past MAX, and NXT is raised to
    // UNA), and the offsets stay far below 2^64, so the compares of UNA + d_ack are compares
    // of d_ack with differences of the state, made beside d_ack's own sum
    wire [63:0] u_room  = smax - una;                       // MAX - UNA
    wire        ack_ovr = (u_room[63:32] == 32'd0) && (d_ack > u_room[31:0]);   // UNA + d > MAX
    assign ack_unsent = f_open && d_pos && ack_ovr;
    assign fin_acked  = f_finq && (una == send + 64'd1);

    // ------------------------------------------------------------------ TX_POST, SOCK_CLOSE
    wire [31:0] rq_len   = rq[`BF_TX_DESC_LEN_RANGE];
    wire [15:0] rq_first = rq[`BF_TX_DESC_FIRST_OFF_RANGE];
    wire [31:0] rq_pages = rq[`BF_TX_DESC_HMD_PAGES_RANGE];
    wire [7:0]  rq_fl    = rq[`BF_TX_DESC_FLAGS_RANGE];
    wire [44:0] rq_need  = {13'd0, rq_len} + {29'd0, rq_first};
    // a list entry covers a 4096-byte host page, or (DEVMEM, docs/p2p.md) a host buflet
    wire        rq_dev   = (rq_fl & TXF_DEVMEM) != 8'd0;
    wire [15:0] rq_unit  = rq_dev ? 16'(BUFLET_BYTES) : 16'd4096;
    wire [44:0] rq_cap   = rq_dev ? ({13'd0, rq_pages} << $clog2(BUFLET_BYTES))
                                  : {1'b0, rq_pages, 12'd0};
    wire        sk_tcp   = (sk[`BF_SOCK_DESC_PROTO_RANGE] == PROTO_TCP);
    // a free post slot: the lowest clear bit of post_used. Groups of 16 slots each find their
    // lowest free slot, and the lowest group with one is found the same way, side by side: a
    // lowest set bit is isolated by an add (x & (~x + 1)) and encoded by OR-reducing it under a
    // constant mask per index bit. No carry runs across the whole table (docs/fpga.md), and
    // neither the hardware nor the simulation walks it bit by bit.
    localparam NPW = 1 << PW;                 // NUM_POSTS rounded up to a power of two (>= 2)
    localparam FG  = (NPW < 16) ? NPW : 16;   // slots per group
    localparam FGW = $clog2(FG);
    localparam NG  = NPW / FG;                // groups
    localparam GW  = (NG > 1) ? $clog2(NG) : 1;
    reg  [NPW-1:0]       pf;                  // free slots (the padding is never free)
    always @* begin
        pf = {NPW{1'b0}};
        pf[NUM_POSTS-1:0] = ~post_used;
    end
    wire [NG-1:0]        g_free;              // a group has a free slot
    wire [NG*FGW-1:0]    g_low;               // ... its lowest
    wire                 free_any = |g_free;
    wire [PW-1:0]        free_slot;
    genvar gg, fb;
    generate
        for (gg = 0; gg < NG; gg = gg + 1) begin : g_free_grp
            wire [FG-1:0] v  = pf[gg*FG +: FG];
            wire [FG-1:0] oh = v & (~v + {{(FG-1){1'b0}}, 1'b1});
            assign g_free[gg] = |v;
            for (fb = 0; fb < FGW; fb = fb + 1) begin : g_enc
                // bit fb of every index: runs of 2^fb zeros and ones, by replication
                localparam [FG-1:0] SEL = {(FG >> (fb + 1)){{(1 << fb){1'b1}}, {(1 << fb){1'b0}}}};
                assign g_low[gg*FGW + fb] = |(oh & SEL);
            end
        end
        if (NG == 1) begin : g_one_grp
            assign free_slot = g_low;
        end else begin : g_grps
            wire [NG-1:0] goh = g_free & (~g_free + {{(NG-1){1'b0}}, 1'b1});
            wire [GW-1:0] gsel;
            for (fb = 0; fb < GW; fb = fb + 1) begin : g_genc
                localparam [NG-1:0] SEL = {(NG >> (fb + 1)){{(1 << fb){1'b1}}, {(1 << fb){1'b0}}}};
                assign gsel[fb] = |(goh & SEL);
            end
            assign free_slot = {gsel, g_low[gsel*FGW +: FGW]};
        end
    endgenerate
    wire st_postable = (st_now == ST_LISTEN) || (st_now == ST_SYN_RCVD) || (st_now == ST_SYN_SENT) ||
                       (st_now == ST_ESTAB) || (st_now == ST_CLOSE_WAIT);
    always @* begin
        if (!sock_ok || !st_postable || !sk_tcp || f_finq) post_st = S_BAD_SOCK;
        else if (rq_len == 32'd0 || rq_len > 32'h4000_0000 || rq_first >= rq_unit ||
                 rq_pages == 32'd0 || rq_need > rq_cap) post_st = S_BAD_NB;
        else if (!free_any) post_st = S_NO_POST;
        else post_st = S_OK;
        if (!sock_ok || !sk_tcp || !f_open || f_finq ||
            (st_now != ST_ESTAB && st_now != ST_CLOSE_WAIT)) close_st = S_BAD_SOCK;
        else close_st = S_OK;
    end

    // ------------------------------------------------------------------ timer tick decisions
    wire        tk_syn_st = (st_now == ST_SYN_RCVD) || (st_now == ST_SYN_SENT);
    wire [31:0] bo1       = backoff + 32'd1;
    always @* begin
        {tk_synack, tk_listen, tk_fail, tk_reset, tk_rto} = 5'd0;
        if (in_tick) begin
            if (tk_syn_st) begin
                if (timer == 32'd1) begin
                    if (bo1 > retries) begin
                        if (st_now == ST_SYN_SENT) tk_fail = 1'b1;
                        else tk_listen = 1'b1;
                    end else tk_synack = 1'b1;
                end
            end else if (f_open && timer == 32'd1) begin
                if (f_pers || wnd == 32'd0) begin
                    if (bo1 > retries) tk_reset = 1'b1;
                end else begin
                    tk_rto = 1'b1;
                    if (backoff >= retries) tk_reset = 1'b1;
                end
            end
        end
    end

    // ------------------------------------------------------------------ snd_wake's persist start
    // (on the state after this cycle's step, so a step and its write-back may share a cycle)
    reg [SNW-1:0] sn_wk;           // sn_nx with snd_wake's persist start (below)
    // wb writes the socket's entry of the send state table (not during reset)
    assign snd_we = wb && !rst;
    assign snd_wd = sn_wk;
    // snd_wake's queueing is decided in the cycle after wb: sn then holds sn_wk (wb loads it
    // and no step changes sn before that edge), so the send step's own next_seg answers
    // whether the socket has a segment to send. One next_seg instead of two, and the ACK
    // step's arithmetic is not in series with it in one cycle (docs/fpga.md).
    reg          wk_pend;          // wb was asserted in the previous cycle
    reg [SW-1:0] wk_idx;           // ... for this socket
    wire         wk_push = wk_pend && g_any && !tq_in[wk_idx];

    // ------------------------------------------------------------------ piece walk
    // from NXT_POST/NXT_POFF (a new segment at NXT, the cursor valid), else from POST_HEAD
    // at g_off - SND_OFF; one piece per cycle (the post at pa is read combinationally)
    reg         w_on;              // walking (the post at pa is read combinationally)
    reg [15:0]  w_cur;             // post being walked (the cursor after the walk)
    reg [31:0]  w_poff;            // offset in it
    reg         w_fromhead;        // w_poff is computed from the post's SND_OFF on its read
    reg [63:0]  w_rem;
    reg         walk_new;          // the walk was from NXT: it moves the cursor
    reg         pc_valid;
    reg [63:0]  pc_hmd;
    reg [31:0]  pc_at;
    reg [15:0]  pc_len;
    reg         pc_last;
    reg         pc_psh;
    reg         pc_dev;
    wire [31:0] pr_len  = pr[`BF_TX_DESC_LEN_RANGE];
    wire [63:0] pr_off  = pr[`BF_TX_DESC_SND_OFF_RANGE];
    wire [31:0] w_po    = w_fromhead ? (s_off[31:0] - pr_off[31:0]) : w_poff;
    wire [31:0] w_avail = pr_len - w_po;
    wire [31:0] w_n     = ({32'd0, w_avail} < w_rem) ? w_avail : w_rem[31:0];
    wire        w_ends  = (w_n == w_avail);
    assign walk_busy = w_on || pc_valid;
    assign m_pc_valid = pc_valid;
    assign {m_pc_hmd, m_pc_at, m_pc_len, m_pc_last, m_pc_psh} = {pc_hmd, pc_at, pc_len, pc_last, pc_psh};
    assign m_pc_dev = pc_dev;
    wire from_cursor = !g_fast && (g_off == nxt);

    // ------------------------------------------------------------------ post walk
    reg         pw_on, pw_rd, pw_mode_all;
    reg [15:0]  pw_p;
    reg [63:0]  pw_sum;
    wire [63:0] pr_end   = pr_off + {32'd0, pr_len};
    wire [63:0] pr_acked = (una <= pr_off) ? 64'd0 : (una >= pr_end) ? {32'd0, pr_len} : (una - pr_off);
    wire        pw_stop  = (pw_p == NULL16) || (!pw_rd && !pw_mode_all && pr_end > una);
    wire        pw_done_c = pw_on && !pw_rd && ((pw_p == NULL16) || (!pw_mode_all && pr_end > una));
    assign pw_busy = pw_on;

    // ------------------------------------------------------------------ next state
    // RFC 6298 sample r (ticks, at least 1): SRTT, RTTVAR (scaled by 8 and 4), RTO
    wire [31:0] rtt_r   = (sn[`BF_SND_CTX_RTT_TICKS_RANGE] == 32'd0) ? 32'd1 : sn[`BF_SND_CTX_RTT_TICKS_RANGE];
    wire [31:0] srtt    = sn[`BF_SND_CTX_SRTT_RANGE];
    wire [31:0] rttvar  = sn[`BF_SND_CTX_RTTVAR_RANGE];
    wire [31:0] srtt8   = srtt >> 3;
    wire [31:0] rerr    = (srtt8 > rtt_r) ? (srtt8 - rtt_r) : (rtt_r - srtt8);
    wire [31:0] srtt_n  = (srtt == 32'd0) ? {rtt_r[28:0], 3'd0} : (srtt - (srtt >> 3) + rtt_r);
    wire [31:0] rttv_n  = (srtt == 32'd0) ? {rtt_r[30:0], 1'b0} : (rttvar - (rttvar >> 2) + rerr);
    wire [31:0] rto_raw = (srtt_n >> 3) + ((rttv_n == 32'd0) ? 32'd1 : rttv_n);
    wire [31:0] rto_smp = (rto_raw < rto_lo) ? rto_lo : (rto_raw > rto_cap) ? rto_cap : rto_raw;
    // on_syn
    wire [31:0] syn_mss0 = (mt_mss == 16'd0) ? DEF_MSS : {16'd0, mt_mss};
    wire [31:0] own_mss  = (sk[`BF_SOCK_DESC_MSS_RANGE] == 16'd0) ? 32'd1 : {16'd0, sk[`BF_SOCK_DESC_MSS_RANGE]};
    wire [31:0] syn_mss1 = (syn_mss0 < own_mss) ? syn_mss0 : own_mss;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] syn_mss2 = (syn_mss1 < MAX_SEG) ? syn_mss1 : MAX_SEG;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [15:0] syn_mss  = syn_mss2[15:0];   // <= TX_MAX_SEG
    // on_established: RFC 6928's initial window
    wire [31:0] mss2     = {mss[30:0], 1'b0};
    wire [31:0] iw_hi    = (mss2 > 32'd14600) ? mss2 : 32'd14600;
    wire [35:0] mss10    = {4'd0, mss} * 36'd10;
    wire [31:0] iw       = (mss10 < {4'd0, iw_hi}) ? mss10[31:0] : iw_hi;
    // snd_ack
    wire [31:0] new_wnd  = {16'd0, mt_window} << sn[`BF_SND_CTX_WSCALE_RANGE];
    wire        has_synfin = (mt_flags & (TF_SYN | TF_FIN)) != 8'd0;
    // max(in flight / 2, 2 MSS), the half saturated to 32 bits; 2 MSS < 2^17, so the compare
    // is the half's low 17 bits against it and an OR of the rest (no 32-bit compare after
    // the saturation)
    wire [63:0] hf       = {1'b0, inflight[63:1]};
    wire        hf_gt    = (hf[63:17] != 47'd0) || (hf[16:0] > mss2[16:0]);   // half > 2 MSS
    wire [31:0] ssth_c   = hf_gt ? sat32(hf) : mss2;
    wire [31:0] wl1      = sn[`BF_SND_CTX_WL1_RANGE];
    wire [31:0] wl2      = sn[`BF_SND_CTX_WL2_RANGE];
    wire [31:0] seq_wl1  = mt_seq - wl1;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] ack_wl2  = mt_ack - wl2;     // its sign
    /* verilator lint_on UNUSEDSIGNAL */
    wire        wupd     = d_nneg && ((mt_flags & TF_SYN) == 8'd0) &&
                           ((!seq_wl1[31] && seq_wl1 != 32'd0) || (mt_seq == wl1 && !ack_wl2[31]));

    // ------------------------------------------------------------------ the ACK step's operands
    // The ACK step (in_ack) comes at least a cycle after the working state was loaded or last
    // changed: toe_engine loads it in the pick (or the delivery step a chained frame starts
    // from) and is in S_TCP before S_SA0 or S_INORD, and in S_SA4 before S_SA5. So what the
    // step computes from the state alone is registered here in the cycle before, from sn as
    // it is then: the RTT sample's SRTT, RTTVAR and RTO; the bytes in flight and the room to
    // MAX; and each bound the ACK's distance d_ack is compared with, a difference of state
    // fields (UNA + d_ack >= RECOVER is d_ack >= RECOVER - UNA). In the step itself only
    // d_ack's sum and, after it, one compare or one difference with it remain; nothing waits
    // for UNA + d_ack (docs/tcp-transmit.md). The registers do not change the step's result.
    reg        q_inf_big, q_ur_big, q_rec_le, q_rec_big, q_rtt_le, q_rtt_big;
    reg [31:0] q_inf_lo, q_ur_lo, q_rec_lo, q_rtt_lo;
    reg [31:0] q_srtt, q_rttv, q_rto;            // the RTT sample applied (RFC 6298)
    reg        q_fr_pnx;                         // SSTHRESH > MSS
    reg        q_fr_neg, q_fr_big;               // C = NXT - UNA + MSS - SSTHRESH: < 0, >= 2^32
    reg [31:0] q_fr_lo, q_fr_e;                  // C's low half; (NXT - UNA + MSS)'s
    reg [32:0] q_cm;                             // CWND + MSS
    reg [31:0] q_ssth, q_cw3;                    // a third duplicate: SSTHRESH and CWND
    reg [31:0] q_una_hi1;                        // UNA's high half + 1
    reg        q_left_ok, q_left_big;            // END - UNA: > 0, >= 2^32
    reg [31:0] q_left_lo;
    reg        q_he_le, q_he_big;                // HEAD_END - UNA: <= 0, >= 2^32
    reg [31:0] q_he_lo;
    reg        q_c1_ok;                          // END + 1 - UNA: in [0, 2^32)
    reg [31:0] q_c1_lo;
    wire [65:0] fr_c   = {2'd0, inflight} + {34'd0, mss} - {34'd0, sn[`BF_SND_CTX_SSTHRESH_RANGE]};
    wire [63:0] rec_d  = sn[`BF_SND_CTX_RECOVER_RANGE] - una;
    wire [63:0] rtt_d  = sn[`BF_SND_CTX_RTT_UNTIL_RANGE] - una;
    wire [63:0] left_d = send - una;
    wire [63:0] he_d   = sn[`BF_SND_CTX_HEAD_END_RANGE] - una;
    wire [64:0] c1_d   = {1'b0, send} + 65'd1 - {1'b0, una};
    // a third duplicate ACK: SSTHRESH = max(in flight / 2, 2 MSS) (half saturated to 32
    // bits) and CWND = SSTHRESH + 3 MSS (saturated), each one carry chain from the state:
    // the half is (NXT >> 1) - (UNA >> 1) - (!NXT[0] && UNA[0]) (UNA <= NXT), and half + 3 MSS
    // a carry-save sum of NXT >> 1, ~(UNA >> 1), 2 MSS and MSS with the carry in !(...)
    wire [65:0] h_x    = {3'd0, nxt[63:1]};
    wire [65:0] h_y    = ~{3'd0, una[63:1]};
    wire [65:0] h_z    = {49'd0, mss2[16:0]};
    wire [65:0] h_w    = {50'd0, mss[15:0]};
    wire [65:0] h_s1   = h_x ^ h_y ^ h_z;
    wire [65:0] h_c1   = {(h_x[64:0] & h_y[64:0]) | (h_x[64:0] & h_z[64:0]) | (h_y[64:0] & h_z[64:0]), 1'b0};
    wire [65:0] h_s2   = h_s1 ^ h_c1 ^ h_w;
    wire [65:0] h_c2   = {(h_s1[64:0] & h_c1[64:0]) | (h_s1[64:0] & h_w[64:0]) | (h_c1[64:0] & h_w[64:0]), 1'b0};
    wire [65:0] h_3m   = h_s2 + h_c2 + {65'd0, !(!nxt[0] && una[0])};      // half + 3 MSS
    wire [31:0] cw3_v  = !hf_gt ? (mss2 + mss2 + mss) :                      // 5 MSS
                         (h_3m[65:32] != 34'd0) ? 32'hFFFF_FFFF : h_3m[31:0];
    always @(posedge clk) begin
        {q_inf_big, q_inf_lo} <= {inflight[63:32] != 32'd0, inflight[31:0]};
        {q_ur_big, q_ur_lo}   <= {u_room[63:32] != 32'd0, u_room[31:0]};
        q_rec_le  <= sn[`BF_SND_CTX_RECOVER_RANGE] <= una;
        {q_rec_big, q_rec_lo} <= {rec_d[63:32] != 32'd0, rec_d[31:0]};
        q_rtt_le  <= sn[`BF_SND_CTX_RTT_UNTIL_RANGE] <= una;
        {q_rtt_big, q_rtt_lo} <= {rtt_d[63:32] != 32'd0, rtt_d[31:0]};
        {q_srtt, q_rttv, q_rto} <= {srtt_n, rttv_n, rto_smp};
        q_fr_pnx  <= sn[`BF_SND_CTX_SSTHRESH_RANGE] > mss;
        {q_fr_neg, q_fr_big, q_fr_lo} <= {fr_c[65], !fr_c[65] && (fr_c[64:32] != 33'd0), fr_c[31:0]};
        q_fr_e    <= inflight[31:0] + mss;
        q_cm      <= {1'b0, cwnd} + {1'b0, mss};
        q_ssth    <= ssth_c;
        q_cw3     <= cw3_v;
        q_una_hi1 <= una[63:32] + 32'd1;
        q_left_ok <= send > una;
        {q_left_big, q_left_lo} <= {left_d[63:32] != 32'd0, left_d[31:0]};
        q_he_le   <= sn[`BF_SND_CTX_HEAD_END_RANGE] <= una;
        {q_he_big, q_he_lo} <= {he_d[63:32] != 32'd0, he_d[31:0]};
        q_c1_ok   <= !c1_d[64] && (c1_d[63:32] == 32'd0);
        q_c1_lo   <= c1_d[31:0];
    end
    // the step's decisions from them: each one compare (or difference) after d_ack
    wire        a_ovr  = !q_ur_big && (d_ack > q_ur_lo);             // UNA + d > MAX
    wire        a_ltm  = q_ur_big || (d_ack < q_ur_lo);              // UNA + d < MAX
    wire        a_pnx  = !q_inf_big && (q_inf_lo < d_ack);           // UNA + d > NXT
    wire        a_nxeq = !q_inf_big && (q_inf_lo == d_ack);          // UNA + d = NXT
    wire        a_rec  = q_rec_le || (!q_rec_big && (d_ack >= q_rec_lo));   // UNA + d >= RECOVER
    wire        a_rtt  = q_rtt_le || (!q_rtt_big && (d_ack >= q_rtt_lo));   // UNA + d >= RTT_UNTIL
    wire [32:0] a_lo   = {1'b0, una[31:0]} + {1'b0, d_ack};
    wire [63:0] a_una  = {a_lo[32] ? q_una_hi1 : una[63:32], a_lo[31:0]};   // UNA + d
    // NewReno's full ACK: min(SSTHRESH, in flight after + MSS)
    wire        a_frgt = a_pnx ? q_fr_pnx : (q_fr_neg || (!q_fr_big && (d_ack > q_fr_lo)));
    wire [31:0] a_frv  = a_pnx ? mss : (q_fr_e - d_ack);
    // a partial ACK: CWND - d (at least 0) + MSS, saturated
    wire [32:0] a_part = q_cm - {1'b0, d_ack};
    wire [31:0] a_cm   = q_cm[32] ? 32'hFFFF_FFFF : q_cm[31:0];       // CWND + MSS, saturated
    // slow start: CWND + min(d, MSS), saturated
    wire [32:0] a_ssd  = {1'b0, cwnd} + {1'b0, d_ack};
    // byte counting: ABC + d (32 bits) against CWND, as one carry-save sum ABC + d - CWND
    wire [32:0] a_abc  = {1'b0, sn[`BF_SND_CTX_ABC_RANGE]} + {1'b0, d_ack};
    wire [33:0] ab_a   = {2'd0, sn[`BF_SND_CTX_ABC_RANGE]};
    wire [33:0] ab_b   = {2'd0, d_ack};
    wire [33:0] ab_c   = ~{2'd0, cwnd};
    wire [32:0] ab_m   = (ab_a[32:0] & ab_b[32:0]) | (ab_a[32:0] & ab_c[32:0]) | (ab_b[32:0] & ab_c[32:0]);
    wire [33:0] ab_x   = (ab_a ^ ab_b ^ ab_c) + {ab_m, 1'b1};
    wire        a_abge = a_abc[32] ? (!ab_x[33] && ab_x[32]) : !ab_x[33];   // (ABC + d) mod 2^32 >= CWND
    // after the step: NXT = UNA < END (snd_wake's persist start); the head post acknowledged;
    // our FIN acknowledged
    wire        a_pers = (a_pnx || a_nxeq) && q_left_ok && (q_left_big || (d_ack < q_left_lo));
    wire        a_pw   = q_he_le || (!q_he_big && (q_he_lo <= d_ack));
    wire        a_c1   = q_c1_ok && (q_c1_lo == d_ack);

    // ------------------------------------------------------------------ the sent step's operands
    // in_sent comes at least three cycles after in_seg (seg_go, then the walk; toe_engine's
    // S_S2 and S_S3), the send state unchanged in between: the segment's end is registered a
    // cycle after in_seg and its compares with NXT and MAX a cycle after that, so in_sent
    // only selects (docs/tcp-transmit.md).
    reg [63:0] q_se;               // s_off + s_len + s_fin: the end of the segment sent
    reg        q_se_nxt, q_se_max; // ... beyond NXT, beyond MAX
    always @(posedge clk) begin
        q_se     <= s_off + s_len + {63'd0, s_fin};
        q_se_nxt <= q_se > nxt;
        q_se_max <= q_se > smax;
    end

    reg ev_fast_retrans_c;          // the third duplicate ACK starts fast retransmit
    reg        t_ltm;              // UNA after the step < MAX
    reg [31:0] t_rto;
    // UNA and NXT after every step but an ACK that moves UNA (a_mv; its own are a_una and
    // the a_* compares): the compares after the step read these, not sn_nx, so none of them
    // is in series with UNA + d_ack
    reg [63:0] g_una, g_nxt;
    reg [15:0] t_fl;
    reg [7:0]  t_dup;
    always @* begin
        sn_nx = sn;
        ev_fast_retrans_c = 1'b0;
        t_ltm = una < smax; t_rto = rto;
        {g_una, g_nxt} = {una, nxt};
        t_fl = fl; t_dup = 8'd0;
        if (init) begin
            sn_nx = {SNW{1'b0}};
            {g_una, g_nxt} = 128'd0;
            sn_nx[`BF_SND_CTX_POST_HEAD_RANGE] = NULL16;
            sn_nx[`BF_SND_CTX_POST_TAIL_RANGE] = NULL16;
            sn_nx[`BF_SND_CTX_NXT_POST_RANGE]  = NULL16;
            if (init_connect) begin
                sn_nx[`BF_SND_CTX_RTO_RANGE]         = rto_ini;
                sn_nx[`BF_SND_CTX_TIMER_RANGE]       = rto_ini;
                sn_nx[`BF_SND_CTX_CONNECT_TAG_RANGE] = rq[`BF_REQ_HDR_TAG_RANGE];
                sn_nx[`BF_SND_CTX_SFLAGS_RANGE]      = F_CONNP;
            end
        end
        if (post_take) begin
            sn_nx[`BF_SND_CTX_END_RANGE] = send + {32'd0, rq_len};
            sn_nx[`BF_SND_CTX_POST_TAIL_RANGE] = 16'(free_slot);
            if (sn[`BF_SND_CTX_POST_HEAD_RANGE] == NULL16) begin
                sn_nx[`BF_SND_CTX_POST_HEAD_RANGE] = 16'(free_slot);
                sn_nx[`BF_SND_CTX_HEAD_END_RANGE]  = send + {32'd0, rq_len};
            end
            if (sn[`BF_SND_CTX_NXT_POST_RANGE] == NULL16 && (fl & F_NXTHEAD) == 16'd0) begin
                sn_nx[`BF_SND_CTX_NXT_POST_RANGE] = 16'(free_slot);
                sn_nx[`BF_SND_CTX_NXT_POFF_RANGE] = 32'd0;
            end
            sn_nx[`BF_SND_CTX_SFLAGS_RANGE] = ((rq_fl & TXF_PSH) != 8'd0) ? (fl | F_TAILPSH) : (fl & ~F_TAILPSH);
        end
        if (close_take) begin
            sn_nx[`BF_SND_CTX_SFLAGS_RANGE]   = fl | F_FINQ | F_CLOSEP;
            sn_nx[`BF_SND_CTX_CLOSE_TAG_RANGE] = rq[`BF_REQ_HDR_TAG_RANGE];
        end
        if (take_connect) sn_nx[`BF_SND_CTX_SFLAGS_RANGE] = fl & ~F_CONNP;
        if (take_close) sn_nx[`BF_SND_CTX_SFLAGS_RANGE] = fl & ~F_CLOSEP;
        if (in_syn) begin
            // Snd::on_syn: posts, END and a pending active open are kept
            sn_nx = {SNW{1'b0}};
            {g_una, g_nxt} = 128'd0;
            sn_nx[`BF_SND_CTX_END_RANGE]         = send;
            sn_nx[`BF_SND_CTX_POST_HEAD_RANGE]   = sn[`BF_SND_CTX_POST_HEAD_RANGE];
            sn_nx[`BF_SND_CTX_POST_TAIL_RANGE]   = sn[`BF_SND_CTX_POST_TAIL_RANGE];
            sn_nx[`BF_SND_CTX_HEAD_END_RANGE]    = sn[`BF_SND_CTX_HEAD_END_RANGE];
            sn_nx[`BF_SND_CTX_NXT_POST_RANGE]    = sn[`BF_SND_CTX_NXT_POST_RANGE];
            sn_nx[`BF_SND_CTX_NXT_POFF_RANGE]    = sn[`BF_SND_CTX_NXT_POFF_RANGE];
            sn_nx[`BF_SND_CTX_CONNECT_TAG_RANGE] = connect_tag;
            sn_nx[`BF_SND_CTX_SFLAGS_RANGE]      = fl & (F_CONNP | F_TAILPSH | F_NXTHEAD);
            sn_nx[`BF_SND_CTX_WND_RANGE]         = {16'd0, mt_window};
            sn_nx[`BF_SND_CTX_WSCALE_RANGE]      = mt_ws_valid ? {4'd0, mt_ws} : 8'd0;
            sn_nx[`BF_SND_CTX_MSS_RANGE]         = syn_mss;
            sn_nx[`BF_SND_CTX_RTO_RANGE]         = rto_ini;
            sn_nx[`BF_SND_CTX_TIMER_RANGE]       = rto_ini;
            sn_nx[`BF_SND_CTX_WL1_RANGE]         = mt_seq;
            sn_nx[`BF_SND_CTX_WL2_RANGE]         = syn_active ? mt_ack : sk_iss;
        end
        if (in_est) begin
            sn_nx[`BF_SND_CTX_SFLAGS_RANGE]   = fl | F_OPEN;
            sn_nx[`BF_SND_CTX_TIMER_RANGE]    = 32'd0;
            sn_nx[`BF_SND_CTX_BACKOFF_RANGE]  = 32'd0;
            sn_nx[`BF_SND_CTX_CWND_RANGE]     = iw;
            sn_nx[`BF_SND_CTX_SSTHRESH_RANGE] = 32'hFFFF_FFFF;
            sn_nx[`BF_SND_CTX_RTO_RANGE]      = rto_ini;
        end
        if (in_stop) sn_nx[`BF_SND_CTX_TIMER_RANGE] = 32'd0;
        if (in_abort) begin
            sn_nx[`BF_SND_CTX_SFLAGS_RANGE] = fl & ~(F_OPEN | F_RETX | F_PROBE | F_PERSIST);
            sn_nx[`BF_SND_CTX_TIMER_RANGE]  = 32'd0;
        end
        if (in_ack && f_open && !(d_pos && a_ovr)) begin
            if (f_pers) sn_nx[`BF_SND_CTX_BACKOFF_RANGE] = 32'd0;
            // a duplicate ACK (RFC 5681)
            if (d_ack == 32'd0 && mt_pay_len == 16'd0 && !has_synfin && new_wnd == wnd &&
                new_wnd != 32'd0 && !f_pers && una < smax) begin
                t_dup = (sn[`BF_SND_CTX_DUPACKS_RANGE] == 8'hFF) ? 8'hFF : sn[`BF_SND_CTX_DUPACKS_RANGE] + 8'd1;
                sn_nx[`BF_SND_CTX_DUPACKS_RANGE] = t_dup;
                if (t_dup == 8'd3 && !f_rec && q_rec_le) begin
                    sn_nx[`BF_SND_CTX_SSTHRESH_RANGE] = q_ssth;
                    sn_nx[`BF_SND_CTX_RECOVER_RANGE]  = smax;
                    sn_nx[`BF_SND_CTX_CWND_RANGE]     = q_cw3;
                    t_fl = t_fl | F_RECOVERY | F_RETX;
                    ev_fast_retrans_c = 1'b1;
                end else if (f_rec) begin
                    sn_nx[`BF_SND_CTX_CWND_RANGE] = a_cm;
                end
            end
            if (d_pos) begin
                t_ltm = a_ltm;
                sn_nx[`BF_SND_CTX_UNA_RANGE] = a_una;
                sn_nx[`BF_SND_CTX_DUPACKS_RANGE] = 8'd0;
                if (a_pnx) begin
                    sn_nx[`BF_SND_CTX_NXT_RANGE] = a_una;
                    t_fl = t_fl | F_NXTHEAD;
                end
                if (f_rtt && a_rtt) begin
                    t_fl = t_fl & ~F_RTT;
                    sn_nx[`BF_SND_CTX_SRTT_RANGE]   = q_srtt;
                    sn_nx[`BF_SND_CTX_RTTVAR_RANGE] = q_rttv;
                    t_rto = q_rto;
                    sn_nx[`BF_SND_CTX_RTO_RANGE]    = t_rto;
                end
                sn_nx[`BF_SND_CTX_BACKOFF_RANGE] = 32'd0;
                sn_nx[`BF_SND_CTX_TIMER_RANGE]   = t_ltm ? t_rto : 32'd0;
                if (f_rec) begin
                    if (a_rec) begin
                        // full: min(SSTHRESH, in flight after + MSS)
                        sn_nx[`BF_SND_CTX_CWND_RANGE] = a_frgt ? a_frv : sn[`BF_SND_CTX_SSTHRESH_RANGE];
                        t_fl = t_fl & ~(F_RECOVERY | F_RETX);
                    end else begin
                        // partial: max(CWND - d, 0) + MSS
                        t_fl = t_fl | F_RETX;
                        sn_nx[`BF_SND_CTX_CWND_RANGE] = (cwnd <= d_ack) ? mss :
                                                        a_part[32] ? 32'hFFFF_FFFF : a_part[31:0];
                    end
                end else if (cwnd < sn[`BF_SND_CTX_SSTHRESH_RANGE]) begin
                    sn_nx[`BF_SND_CTX_CWND_RANGE] = (d_ack >= mss) ? a_cm :
                                                    a_ssd[32] ? 32'hFFFF_FFFF : a_ssd[31:0];
                end else begin
                    // congestion avoidance by bytes acknowledged (RFC 3465)
                    if (a_abge) begin
                        sn_nx[`BF_SND_CTX_ABC_RANGE]  = ab_x[31:0];
                        sn_nx[`BF_SND_CTX_CWND_RANGE] = a_cm;
                    end else begin
                        sn_nx[`BF_SND_CTX_ABC_RANGE] = a_abc[31:0];
                    end
                end
            end
            if (wupd) begin
                sn_nx[`BF_SND_CTX_WND_RANGE] = new_wnd;
                sn_nx[`BF_SND_CTX_WL1_RANGE] = mt_seq;
                sn_nx[`BF_SND_CTX_WL2_RANGE] = mt_ack;
            end
            if (f_pers && (wupd ? new_wnd : wnd) != 32'd0) begin
                t_fl = t_fl & ~(F_PERSIST | F_PROBE);
                sn_nx[`BF_SND_CTX_BACKOFF_RANGE] = 32'd0;
                sn_nx[`BF_SND_CTX_TIMER_RANGE]   = t_ltm ? t_rto : 32'd0;
            end
            sn_nx[`BF_SND_CTX_SFLAGS_RANGE] = t_fl;
        end
        if (in_tick) begin
            if (tk_syn_st) begin
                if (timer != 32'd0) begin
                    sn_nx[`BF_SND_CTX_TIMER_RANGE] = timer - 32'd1;
                    if (timer == 32'd1) begin
                        sn_nx[`BF_SND_CTX_BACKOFF_RANGE] = bo1;
                        if (bo1 <= retries) begin
                            sn_nx[`BF_SND_CTX_RTO_RANGE]   = rto_dbl;
                            sn_nx[`BF_SND_CTX_TIMER_RANGE] = rto_dbl;
                        end
                    end
                end
            end else if (f_open) begin
                if (f_rtt && sn[`BF_SND_CTX_RTT_TICKS_RANGE] != 32'hFFFF_FFFF)
                    sn_nx[`BF_SND_CTX_RTT_TICKS_RANGE] = sn[`BF_SND_CTX_RTT_TICKS_RANGE] + 32'd1;
                if (timer != 32'd0) sn_nx[`BF_SND_CTX_TIMER_RANGE] = timer - 32'd1;
                if (timer == 32'd1 && !tk_reset) begin
                    if (f_pers || wnd == 32'd0) begin
                        sn_nx[`BF_SND_CTX_SFLAGS_RANGE]  = (fl | F_PERSIST | F_PROBE) & ~F_RTT;
                        sn_nx[`BF_SND_CTX_BACKOFF_RANGE] = bo1;
                        sn_nx[`BF_SND_CTX_RTO_RANGE]     = rto_dbl;
                        sn_nx[`BF_SND_CTX_TIMER_RANGE]   = rto_dbl;
                    end else begin
                        // go-back-N from SND.UNA
                        sn_nx[`BF_SND_CTX_SSTHRESH_RANGE] = ssth_c;
                        sn_nx[`BF_SND_CTX_CWND_RANGE]     = mss;
                        sn_nx[`BF_SND_CTX_ABC_RANGE]      = 32'd0;
                        sn_nx[`BF_SND_CTX_NXT_RANGE]      = una;
                        g_nxt = una;
                        sn_nx[`BF_SND_CTX_SFLAGS_RANGE]   = (fl | F_NXTHEAD) & ~(F_RTT | F_RECOVERY | F_RETX);
                        sn_nx[`BF_SND_CTX_DUPACKS_RANGE]  = 8'd0;
                        sn_nx[`BF_SND_CTX_RECOVER_RANGE]  = smax;
                        sn_nx[`BF_SND_CTX_BACKOFF_RANGE]  = bo1;
                        sn_nx[`BF_SND_CTX_RTO_RANGE]      = rto_dbl;
                        sn_nx[`BF_SND_CTX_TIMER_RANGE]    = rto_dbl;
                    end
                end
            end
        end
        if (in_sent) begin
            // Snd after engine_send: SND.NXT (not for a retransmission at UNA), SND.MAX, the
            // RTT sample, the timer
            if (s_fast) begin
                sn_nx[`BF_SND_CTX_SFLAGS_RANGE] = fl & ~(F_RETX | F_RTT);
                t_fl = fl & ~(F_RETX | F_RTT);
            end else begin
                t_fl = fl;
                if (q_se_nxt) begin
                    sn_nx[`BF_SND_CTX_NXT_RANGE] = q_se;
                    g_nxt = q_se;
                end
            end
            if (s_prb) t_fl = t_fl & ~F_PROBE;
            if (walk_new && s_len != 64'd0) begin
                sn_nx[`BF_SND_CTX_NXT_POST_RANGE] = w_cur;
                sn_nx[`BF_SND_CTX_NXT_POFF_RANGE] = w_poff;
                t_fl = t_fl & ~F_NXTHEAD;
            end
            if (q_se_max) sn_nx[`BF_SND_CTX_MAX_RANGE] = q_se;
            if (!f_rtt && !(s_fast) && !(s_off < smax)) begin
                t_fl = t_fl | F_RTT;
                sn_nx[`BF_SND_CTX_RTT_UNTIL_RANGE] = q_se;
                sn_nx[`BF_SND_CTX_RTT_TICKS_RANGE] = 32'd0;
            end
            if (timer == 32'd0) sn_nx[`BF_SND_CTX_TIMER_RANGE] = rto;
            sn_nx[`BF_SND_CTX_SFLAGS_RANGE] = t_fl;
        end
        if (pw_done_c) begin
            sn_nx[`BF_SND_CTX_POST_HEAD_RANGE] = pw_p;
            sn_nx[`BF_SND_CTX_HEAD_END_RANGE]  = pr_end;   // the post the walk stopped at
            if (pw_p == NULL16) begin
                sn_nx[`BF_SND_CTX_POST_TAIL_RANGE] = NULL16;
                if (pw_mode_all) sn_nx[`BF_SND_CTX_NXT_POST_RANGE] = NULL16;
            end
        end
    end

    // After the step. An ACK that moves UNA (a_mv) takes its compares from the a_* terms (it
    // changes neither END nor the head post: no post walk ends in toe_engine's ACK step),
    // every other step from g_una and g_nxt.
    wire a_mv = in_ack && f_open && d_pos && !a_ovr;
    assign pw_need   = (sn_nx[`BF_SND_CTX_POST_HEAD_RANGE] != NULL16) &&
                       (a_mv ? a_pw : (sn_nx[`BF_SND_CTX_HEAD_END_RANGE] <= g_una));
    assign close_due = ((sn_nx[`BF_SND_CTX_SFLAGS_RANGE] & (F_FINQ | F_CLOSEP)) == (F_FINQ | F_CLOSEP)) &&
                       (a_mv ? a_c1 : (g_una == sn_nx[`BF_SND_CTX_END_RANGE] + 64'd1));
    // snd_wake's persist start: NXT = UNA < END with the window closed and no timer
    wire wk_nxt = a_mv ? a_pers : ((g_nxt < sn_nx[`BF_SND_CTX_END_RANGE]) && (g_nxt == g_una));
    always @* begin
        sn_wk = sn_nx;
        if ((sn_nx[`BF_SND_CTX_SFLAGS_RANGE] & F_OPEN) != 16'd0 && sn_nx[`BF_SND_CTX_WND_RANGE] == 32'd0 &&
            wk_nxt && sn_nx[`BF_SND_CTX_TIMER_RANGE] == 32'd0) begin
            sn_wk[`BF_SND_CTX_SFLAGS_RANGE] = sn_nx[`BF_SND_CTX_SFLAGS_RANGE] | F_PERSIST;
            sn_wk[`BF_SND_CTX_TIMER_RANGE]  = sn_nx[`BF_SND_CTX_RTO_RANGE];
        end
    end

    // ------------------------------------------------------------------ send-ready FIFO
    assign tq_valid = (tq_cnt != {(SW+1){1'b0}});
    assign tq_sock  = tq_mem[tq_rp];


    always @(posedge clk) begin
        if (rst) begin
            post_used <= {NUM_POSTS{1'b0}};
            {tq_wp, tq_rp, tq_cnt} <= 0;
            tq_in <= {NUM_SOCKETS{1'b0}};
            wk_pend <= 1'b0;
            {w_on, pc_valid, pw_on, pw_rd} <= 4'd0;
            {ev_fast_retrans, ev_probe, ev_retrans, ev_data_seg} <= 4'd0;
            ev_data_bytes <= 16'd0;
            sn <= {SNW{1'b0}};
        end else begin
            ev_fast_retrans <= ev_fast_retrans_c;
            ev_probe <= in_sent && s_prb;
            ev_retrans <= in_sent && (s_off < smax) && (s_len != 64'd0 || s_fin);
            ev_data_seg <= in_sent && (s_len != 64'd0);
            ev_data_bytes <= s_len[15:0];
            // working state
            if (ld) sn <= snd_rd;
            else if (wb) sn <= sn_wk;
            else sn <= sn_nx;
            if (tq_pop) begin
                tq_in[tq_sock] <= 1'b0;
                tq_rp <= (tq_rp == SOCK_LAST32[SW-1:0]) ? {SW{1'b0}} : tq_rp + 1'b1;
            end
            wk_pend <= wb;
            wk_idx  <= sk_idx;
            if (wk_push) begin
                tq_mem[tq_wp] <= wk_idx;
                tq_wp <= (tq_wp == SOCK_LAST32[SW-1:0]) ? {SW{1'b0}} : tq_wp + 1'b1;
                tq_in[wk_idx] <= 1'b1;
            end
            tq_cnt <= tq_cnt + {{SW{1'b0}}, wk_push} - {{SW{1'b0}}, tq_pop};
            // TX_POST
            if (post_take) begin
                post_mem[free_slot] <= {rq[511:`BF_TX_DESC_NEXT_POST_OFF*8+16], NULL16, send, rq[255:0]};
                post_nxt[free_slot] <= NULL16;
                post_used[free_slot] <= 1'b1;
                if (sn[`BF_SND_CTX_POST_TAIL_RANGE] != NULL16)
                    post_nxt[sn[`BF_SND_CTX_POST_TAIL_OFF*8 +: PW]] <= 16'(free_slot);
            end
            // the send step: operands, then the piece walk
            if (in_seg) begin
                {s_off, s_len, s_fin, s_fast, s_prb} <= {g_off, g_len, g_fin, g_fast, g_prb};
                walk_new <= from_cursor;
            end
            if (seg_go) begin
                // from the cursor (a new segment at NXT), else from POST_HEAD at s_off - SND_OFF
                w_on  <= (s_len != 64'd0);
                w_rem <= s_len;
                if (walk_new && (fl & F_NXTHEAD) == 16'd0) begin
                    w_cur  <= sn[`BF_SND_CTX_NXT_POST_RANGE];
                    pa     <= sn[`BF_SND_CTX_NXT_POST_OFF*8 +: PW];
                    w_poff <= sn[`BF_SND_CTX_NXT_POFF_RANGE];
                    w_fromhead <= 1'b0;
                end else begin
                    w_cur  <= sn[`BF_SND_CTX_POST_HEAD_RANGE];
                    pa     <= sn[`BF_SND_CTX_POST_HEAD_OFF*8 +: PW];
                    w_fromhead <= 1'b1;
                end
            end else if (w_on && (!pc_valid || m_pc_ready)) begin
                // the post at pa (read combinationally): its piece
                pc_valid <= 1'b1;
                pc_hmd   <= pr[`BF_TX_DESC_HMD_ADDR_RANGE];
                pc_at    <= {16'd0, pr[`BF_TX_DESC_FIRST_OFF_RANGE]} + w_po;
                pc_len   <= w_n[15:0];
                pc_last  <= ({32'd0, w_n} == w_rem);
                pc_psh   <= ({32'd0, w_n} == w_rem) && w_ends && ((pr[`BF_TX_DESC_FLAGS_RANGE] & TXF_PSH) != 8'd0);
                pc_dev   <= (pr[`BF_TX_DESC_FLAGS_RANGE] & TXF_DEVMEM) != 8'd0;
                w_rem    <= w_rem - {32'd0, w_n};
                w_fromhead <= 1'b0;
                if ({32'd0, w_n} == w_rem) w_on <= 1'b0;
                if (w_ends) begin
                    w_cur  <= pr_nxt;
                    w_poff <= 32'd0;
                    pa     <= pr_nxt[PW-1:0];
                end else begin
                    w_poff <= w_po + w_n;
                end
            end else if (pc_valid && m_pc_ready) begin
                pc_valid <= 1'b0;
            end
            // the post walk
            if (pw_go) begin
                pw_on <= 1'b1;
                pw_rd <= 1'b1;
                pw_mode_all <= pw_all;
                pw_p  <= sn[`BF_SND_CTX_POST_HEAD_RANGE];
                pa    <= sn[`BF_SND_CTX_POST_HEAD_OFF*8 +: PW];
                {pw_count, pw_sum, pw_tag} <= 0;
            end else if (pw_on && pw_rd) begin
                pw_rd <= 1'b0;             // pr is valid next cycle
            end else if (pw_on) begin
                if (pw_stop) begin
                    pw_on <= 1'b0;
                end else begin
                    post_used[pw_p[PW-1:0]] <= 1'b0;
                    pw_count <= pw_count + 32'd1;
                    pw_sum   <= pw_sum + (pw_mode_all ? pr_acked : {32'd0, pr_len});
                    pw_tag   <= pr[`BF_TX_DESC_TAG_RANGE];
                    pw_p     <= pr_nxt;
                    pa       <= pr_nxt[PW-1:0];
                    pw_rd    <= 1'b1;
                end
            end
        end
    end
    assign pw_bytes = sat32(pw_sum);
endmodule
`resetall
