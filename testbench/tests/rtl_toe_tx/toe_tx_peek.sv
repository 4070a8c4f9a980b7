`resetall
`default_nettype none
// Test wrapper (testbench/tests/rtl_toe_tx): toe_tx with every port passed through, and its
// working send state sn (the snd_ctx fields of the socket the steps work on) as an output,
// so the test checks SND.UNA, CWND, SSTHRESH, ... after each step; and the send state table
// (snd_mem), which toe_engine holds for toe_tx. Not part of the design.
`include "buflet_defs.vh"
module toe_tx_peek #(
    parameter NUM_SOCKETS = 64,
    parameter NUM_POSTS   = 256,
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
    output wire                m_pc_dev,
    // the working send state (toe_tx.sn): the test reads the snd_ctx fields
    output wire [8*`BF_SND_CTX_SIZE-1:0] peek_sn
);

    // the send state table, as toe_engine holds it beside its socket tables
    reg  [8*`BF_SND_CTX_SIZE-1:0] snd_mem [0:NUM_SOCKETS-1];
    wire [8*`BF_SND_CTX_SIZE-1:0] snd_rd = snd_mem[sk_idx];
    wire                          snd_we;
    wire [8*`BF_SND_CTX_SIZE-1:0] snd_wd;
    always @(posedge clk) if (snd_we) snd_mem[sk_idx] <= snd_wd;

    toe_tx #(.NUM_SOCKETS(NUM_SOCKETS), .NUM_POSTS(NUM_POSTS), .SW(SW)) u (.*);
    assign peek_sn = u.sn;
endmodule
`resetall
