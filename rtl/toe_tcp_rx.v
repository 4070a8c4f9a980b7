`resetall
`default_nettype none
// toe_tcp_rx: the TCP receive rules of docs/tcp-receive.md for toe_engine, one frame at a
// time: the window, the state machine of a socket (LISTEN, SYN_RCVD, ESTAB, CLOSE_WAIT),
// acceptability, trimming, the in-order append with the reassembly drain, the reassembly
// insert, and the ACK / SYN-ACK tx command with the right-edge update.
// toe_engine sequences the steps (S_TCP, S_EST0, S_EST1, S_RSTMK, S_INORD, S_DRAIN, S_INS,
// S_INS_B, S_INS_L, S_TX1: in_* below) and owns the socket's context cx; this block holds the
// working segment (w_*, after trimming) and the reassembly walk (ins_prev, ins_cur), and gives
// per step: the next context (cx_nx), the segment's header (hd_new, written with its chain
// when seg_we), the list link to write (nxt_*: NEXT_SEG of the old in-order tail, of the
// inserted segment, of its predecessor; the UDP append, in_udp, links the same way), and the
// decision
//   tp_fin          finish the frame now: drop reason tp_dr (0 = none), queue an ACK if tp_ack;
//   tp_alt          else take the step's other successor (S_EST0: S_RSTMK, S_EST1: S_INORD,
//                   S_INS: S_INS_L);
//   tp_inord        else (S_EST0) go to S_INORD at once: the segment starts at RCV_NXT, fits
//                   the window, carries data or FIN, and the reassembly list is empty, so
//                   S_EST1 would trim nothing and go there;
//   tp_stay         else stay (S_INS: the walk goes on);
//   tp_step         the list element read next is NEXT_SEG of this one (S_DRAIN, S_INS).
// Window ("The window"): the pool room of the free count sampled at the pick (smp), registered
// with the sample; win, promised = max(rel(RCV_WND_EDGE), 0), wnd = max(win, promised) and the
// advertised adv are registered every cycle from cx (valid one cycle after cx changes). An
// ACK's WINDOW is adv scaled by RCV_WSCALE when WS_OK, a SYN-ACK's min(win, 65535) unscaled;
// as the command is queued (ack_take) RCV_WND_EDGE moves to RCV_NXT + (field << shift) when
// that lies right of it. An ACK carries MSS 0 and WSCALE 0 (OPTS 0), a SYN-ACK the socket's
// MSS and RCV_WSCALE (OPTS MSS, and WS when the SYN had it).
`include "buflet_defs.vh"
`include "buflet_checks.vh"
module toe_tcp_rx #(
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter BW           = $clog2(NUM_BUFLETS)
) (
    input  wire                           clk,
    input  wire                           rst,
    // the pool free count, sampled as the engine picks a frame or a request
    input  wire                           smp,
    input  wire [15:0]                    pool_free,
    // FSM steps
    input  wire                           in_meta,
    input  wire                           in_tcp,
    input  wire                           in_est0,
    input  wire                           in_est1,
    input  wire                           in_rstmk,
    input  wire                           in_inord,
    input  wire                           in_drain,
    input  wire                           in_ins,
    input  wire                           in_insb,
    input  wire                           in_insl,
    input  wire                           in_insl2,
    input  wire                           in_udp,      // S_UDP: a datagram joins the in-order list
    input  wire                           ack_take,    // S_TX1: the ACK / SYN-ACK is queued
    // the send side (toe_tx): the frame's ACK acknowledges data never sent; ISS + 1 + SND.MAX
    // (SEQ of an ACK); the command to build: 0 = the rules' (ACK, SYN-ACK or RST), 1 = a data
    // segment (d_seq, ACK | d_flags, d_len payload bytes), 2 = our SYN, 3 = RST | ACK, 5 = a
    // SYN-ACK (its timer)
    input  wire                           ack_unsent,
    input  wire [31:0]                    snd_seq,
    input  wire [2:0]                     tx_mode,
    input  wire [31:0]                    d_seq,
    input  wire [7:0]                     d_flags,
    input  wire [15:0]                    d_len,
    // frame metadata
    input  wire [31:0]                    mt_seq,
    input  wire [31:0]                    mt_ack,
    input  wire [7:0]                     mt_flags,
    input  wire                           mt_ws_valid,
    input  wire [15:0]                    mt_pay_off,
    input  wire [15:0]                    mt_pay_len,
    input  wire [15:0]                    mt_head,
    // the socket and the list element just read
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [511:0]                   sk,
    input  wire [127:0]                   hd_rd,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [8*`BF_SOCK_CTX_SIZE-1:0] cx,
    input  wire [15:0]                    nxt_rd,
    // decisions
    output reg                            tp_fin,
    output reg  [3:0]                     tp_dr,
    output reg                            tp_ack,
    output reg                            tp_alt,
    output wire                           tp_inord,
    output reg                            tp_stay,
    output reg                            tp_step,
    output wire                           tp_acc,      // S_INORD: payload accepted
    output wire                           tp_wupd,     // S_TKS1 (a timer tick): send a window update
    output wire                           tp_dack,     // S_TKS1: a delayed ACK is owed
    output reg  [8*`BF_SOCK_CTX_SIZE-1:0] cx_nx,
    output wire                           seg_we,      // the frame's segment header and chain
    output wire                           nxt_we,
    output wire [BW-1:0]                  nxt_wa,
    output wire [15:0]                    nxt_wd,
    output reg  [127:0]                   hd_new,
    output reg  [383:0]                   tx_cmd
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh): the pool room is a shift
    generate
        if (!`BF_IS_POW2(BUFLET_BYTES) || BUFLET_BYTES < 2) begin : g_check_buflet_bytes
            `BF_ERROR("toe_tcp_rx: BUFLET_BYTES must be a power of two >= 2")
        end
    endgenerate
    localparam [15:0] NULL16 = 16'hFFFF;
    localparam [7:0] ST_LISTEN     = `BF_SOCK_STATE_LISTEN;
    localparam [7:0] ST_SYN_RCVD   = `BF_SOCK_STATE_SYN_RCVD;
    localparam [7:0] ST_ESTAB      = `BF_SOCK_STATE_ESTAB;
    localparam [7:0] ST_CLOSE_WAIT = `BF_SOCK_STATE_CLOSE_WAIT;
    localparam [7:0] ST_CLOSED     = `BF_SOCK_STATE_CLOSED;
    localparam [7:0] ST_SYN_SENT   = `BF_SOCK_STATE_SYN_SENT;
    localparam [7:0] ST_FIN_WAIT_1 = `BF_SOCK_STATE_FIN_WAIT_1;
    localparam [7:0] ST_FIN_WAIT_2 = `BF_SOCK_STATE_FIN_WAIT_2;
    localparam [7:0] ST_CLOSING    = `BF_SOCK_STATE_CLOSING;
    localparam [7:0] ST_LAST_ACK   = `BF_SOCK_STATE_LAST_ACK;
    localparam [7:0] ST_TIME_WAIT  = `BF_SOCK_STATE_TIME_WAIT;
    localparam [3:0] DROP_BAD_ACK   = `BF_DROP_BAD_ACK;
    localparam [3:0] DROP_NONE      = `BF_DROP_NONE;
    localparam [3:0] DROP_OOO       = `BF_DROP_OUT_OF_ORDER;
    localparam [3:0] DROP_OOW       = `BF_DROP_OUT_OF_WINDOW;
    localparam [3:0] DROP_DUP       = `BF_DROP_DUPLICATE;
    localparam [3:0] DROP_BAD_STATE = `BF_DROP_BAD_STATE;
    localparam [3:0] DROP_POOL_LOW  = `BF_DROP_POOL_LOW;
    localparam [7:0] TF_FIN = `BF_TCP_FLAG_FIN;
    localparam [7:0] TF_SYN = `BF_TCP_FLAG_SYN;
    localparam [7:0] TF_RST = `BF_TCP_FLAG_RST;
    localparam [7:0] TF_PSH = `BF_TCP_FLAG_PSH;
    localparam [7:0] TF_ACK = `BF_TCP_FLAG_ACK;
    localparam [7:0] SF_ACCEPTED = `BF_SOCK_FLAG_ACCEPTED;
    localparam [7:0] SF_DELAYED_ACK = `BF_SOCK_FLAG_DELAYED_ACK;
    localparam [7:0] TX_OPT_MSS = `BF_TX_OPT_MSS;
    localparam [7:0] TX_OPT_WS  = `BF_TX_OPT_WS;
    localparam [7:0] NO_FIN_PSH = ~(TF_FIN | TF_PSH);
    // window: reserve = NUM_BUFLETS / POOL_RESERVE_DIV; pool room is (free - reserve) * (BUFLET_BYTES/2)
    localparam [31:0] RESERVE32 = NUM_BUFLETS / `BF_PARAM_POOL_RESERVE_DIV;
    localparam [15:0] RESERVE   = RESERVE32[15:0];
    localparam HALF_SHIFT = $clog2(BUFLET_BYTES / 2);

    reg [31:0] pool_room;          // window pool room of the free count sampled at the pick
    reg [31:0] win_r;              // win(cx), one cycle after cx
    reg [31:0] wnd_r;              // max(win, promised): acceptability and trimming
    reg [31:0] adv_r;              // the window to advertise (before scaling)
    reg        tx_syn;             // the command to queue is a SYN-ACK (else an ACK)
    reg        tx_rst;             // ... an RST answering a SYN_SENT's bad ACK
    // working segment (after trimming)
    reg [31:0] w_seq;
    reg [31:0] w_off;              // rel(w_seq), signed
    reg [15:0] w_len;
    reg [15:0] w_doff;
    reg [7:0]  w_flags;
    // reassembly walk: the element read and its predecessor
    reg [15:0] ins_prev;
    reg [15:0] ins_cur;

    // ------------------------------------------------------------------ window
    // pool_room of a free count: the count above the reserve, in half-buflets
    function [31:0] room_of(input [15:0] free);
        reg [15:0] units;
        reg [47:0] wide;
        begin
            units   = (free > RESERVE) ? (free - RESERVE) : 16'd0;
            wide    = {32'd0, units} << HALF_SHIFT;
            room_of = (wide[47:32] != 16'd0) ? 32'hFFFF_FFFF : wide[31:0];
        end
    endfunction
    wire [31:0] cx_rcv    = cx[`BF_SOCK_CTX_RCV_NXT_RANGE];
    wire [31:0] cx_irs    = cx[`BF_SOCK_CTX_IRS_RANGE];
    wire [31:0] cx_soff32 = cx[`BF_SOCK_CTX_STREAM_OFF_OFF*8 +: 32];
    wire [31:0] sk_rcvbuf = sk[`BF_SOCK_DESC_RCV_BUF_RANGE];
    // bytes held = RCV_NXT - IRS - 1 - STREAM_OFF, as one three-operand sum RCV_NXT + ~IRS +
    // ~STREAM_OFF + 1 added carry-save: one carry chain instead of three (docs/fpga.md)
    wire [31:0] hd_b      = ~cx_irs;
    wire [31:0] hd_c      = ~cx_soff32;
    wire [31:0] hd_x      = cx_rcv ^ hd_b ^ hd_c;
    wire [30:0] hd_m      = (cx_rcv[30:0] & hd_b[30:0]) | (cx_rcv[30:0] & hd_c[30:0]) | (hd_b[30:0] & hd_c[30:0]);
    wire [31:0] held      = hd_x + {hd_m, 1'b1};
    wire [31:0] sock_room = (held >= sk_rcvbuf) ? 32'd0 : (sk_rcvbuf - held);
    wire [31:0] win_c     = (sock_room < pool_room) ? sock_room : pool_room;
    // the advertised right edge never moves left: adv is 0 with no pool room, the promise
    // while the reassembly list is not empty, else wnd
    wire [31:0] cx_edge   = cx[`BF_SOCK_CTX_RCV_WND_EDGE_RANGE];
    wire [31:0] edge_rel  = cx_edge - cx_rcv;          // rel(RCV_WND_EDGE), signed
    wire [31:0] promised  = edge_rel[31] ? 32'd0 : edge_rel;
    wire [31:0] wnd_c     = (win_c > promised) ? win_c : promised;
    wire [15:0] cx_ooo_head = cx[`BF_SOCK_CTX_OOO_HEAD_RANGE];
    wire        cx_ooo_ne = (cx_ooo_head != NULL16);
    wire [31:0] adv_c     = (pool_room == 32'd0) ? 32'd0 :
                            (cx_ooo_ne && promised != 32'd0) ? promised : wnd_c;
    wire [3:0]  ack_shift = (cx[`BF_SOCK_CTX_WS_OK_RANGE] != 8'd0) ? sk[`BF_SOCK_DESC_RCV_WSCALE_OFF*8 +: 4] : 4'd0;
    wire [31:0] adv_sh    = adv_r >> ack_shift;
    wire [15:0] ack_win   = (adv_sh > 32'd65535) ? 16'hFFFF : adv_sh[15:0];
    wire [15:0] syn_win   = (win_r > 32'd65535) ? 16'hFFFF : win_r[15:0];
    // edge' = RCV_NXT + (field << shift), kept when rel(edge') > rel(RCV_WND_EDGE)
    // (field << shift < 2^30, so it is a plain compare)
    // the command's kind: the rules' (tx_syn, tx_rst) or the engine's (tx_mode)
    wire        k_synack  = (tx_mode == 3'd0 && tx_syn) || (tx_mode == 3'd5);
    wire        k_rst     = (tx_mode == 3'd0 && tx_rst);
    wire        k_syn     = (tx_mode == 3'd2);
    wire        tx_edge   = !k_rst && !k_syn;          // the command advertises a window: the edge moves
    wire [15:0] tx_field  = k_synack ? syn_win : ack_win;
    wire [3:0]  tx_shift  = k_synack ? 4'd0 : ack_shift;
    wire [31:0] fld_sh    = {16'd0, tx_field} << tx_shift;
    wire        edge_upd  = edge_rel[31] || (fld_sh > edge_rel);
    wire [31:0] edge_new  = cx_rcv + fld_sh;

    // ------------------------------------------------------------------ segment rules
    wire [7:0]  cx_state  = cx[`BF_SOCK_CTX_STATE_RANGE];
    // the peer may still send (its FIN not yet taken) / its FIN was taken in order
    wire        p_open    = (cx_state == ST_ESTAB) || (cx_state == ST_FIN_WAIT_1) || (cx_state == ST_FIN_WAIT_2);
    wire        p_done    = (cx_state == ST_CLOSE_WAIT) || (cx_state == ST_LAST_ACK) ||
                            (cx_state == ST_CLOSING) || (cx_state == ST_TIME_WAIT);
    // window update (a timer tick, toe_engine S_TKS1; RFC 9293 3.8.6.2.2): the peer may still
    // send, the advertised right edge lies less than min(MSS, RCV_BUF/2) right of RCV_NXT, and
    // the window an ACK would advertise now (adv as its field gives it back) lies at least that
    // much further. The ACK moves the edge there, so the next tick does not send it again.
    wire [31:0] wu_mss    = {16'd0, sk[`BF_SOCK_DESC_MSS_RANGE]};
    wire [31:0] wu_half   = sk_rcvbuf >> 1;
    wire [31:0] wu_min    = (wu_mss < wu_half) ? wu_mss : wu_half;
    wire        wu_tcp    = (sk[`BF_SOCK_DESC_PROTO_RANGE] == 8'(`BF_IP_PROTO_TCP));
    // "adv as its field gives it back" is q(adv) = min(adv >> shift, 65535) << shift, which is
    // at most adv and never falls as adv grows. adv is 0 (no pool room: no update), the
    // promise (with data out of order: q(promise) <= promise, no update), or max(win,
    // promised), which can only pass the test as win = min(sock_room, pool_room), and
    // q(min(a, b)) = min(q(a), q(b)). So the test is q(sock_room) and q(pool_room) each
    // against promised + wu_min (< 2^17: promised < wu_min <= 65535), made side by side
    // rather than after the window's min and max and the field's round trip.
    function [31:0] wu_q(input [31:0] a, input [3:0] sh);
        // (a >> sh) > 65535: a bit of a at or above 16 + sh
        wu_q = ((a & (32'hFFFF_0000 << sh)) != 32'd0) ? (32'h0000_FFFF << sh) : (a & (32'hFFFF_FFFF << sh));
    endfunction
    wire [31:0] wu_need   = promised + wu_min;
    assign      tp_wupd   = wu_tcp && p_open && (wu_min != 32'd0) && (promised < wu_min) &&
                            (pool_room != 32'd0) && !(cx_ooo_ne && promised != 32'd0) &&
                            (wu_q(sock_room, ack_shift) >= wu_need) && (wu_q(pool_room, ack_shift) >= wu_need);
    // the state once the peer's FIN is taken in order
    wire [7:0]  st_fin    = (cx_state == ST_FIN_WAIT_1) ? ST_CLOSING :
                            (cx_state == ST_FIN_WAIT_2) ? ST_TIME_WAIT : ST_CLOSE_WAIT;
    wire [15:0] cx_seg_head = cx[`BF_SOCK_CTX_SEG_HEAD_RANGE];
    wire [15:0] cx_seg_tail = cx[`BF_SOCK_CTX_SEG_TAIL_RANGE];
    wire [31:0] sk_iss    = sk[`BF_SOCK_DESC_ISS_RANGE];
    wire        sk_accd   = (sk[`BF_SOCK_DESC_FLAGS_RANGE] & SF_ACCEPTED) != 8'd0;
    wire        mt_syn    = (mt_flags & TF_SYN) != 8'd0;
    wire        mt_rst    = (mt_flags & TF_RST) != 8'd0;
    wire        mt_ackf   = (mt_flags & TF_ACK) != 8'd0;
    wire        ss_ack_ok = mt_ackf && (mt_ack == sk_iss + 32'd1);   // SYN_SENT: it ACKs our SYN
    wire        w_fin     = (w_flags & TF_FIN) != 8'd0;
    wire        w_syn     = (w_flags & TF_SYN) != 8'd0;
    wire        w_rst     = (w_flags & TF_RST) != 8'd0;
    // acceptability (S_EST0): wnd = wnd_r, off = w_off (signed), seg_len = len + SYN + FIN
    wire [16:0] seg_len   = {1'b0, w_len} + {16'd0, w_syn} + {16'd0, w_fin};
    wire        off_neg   = w_off[31];
    wire        off_zero  = (w_off == 32'd0);
    wire        off_in    = !off_neg && (w_off < wnd_r);
    wire [33:0] seg_end   = {{2{w_off[31]}}, w_off} + {17'd0, seg_len} - 34'd1;
    wire        end_in    = !seg_end[33] && (seg_end[32:0] < {1'b0, wnd_r});
    wire        acceptable = (seg_len == 17'd0) ? ((wnd_r == 32'd0) ? off_zero : off_in)
                                                : ((wnd_r != 32'd0) && (off_in || end_in));
    // S_EST0's shortcut to S_INORD (the rules of S_EST0 passed, S_EST1's in-order case with
    // nothing to trim; with off == 0, w_right = len)
    assign      tp_inord  = in_est0 && acceptable && !w_rst && !w_syn && !p_done && off_zero &&
                            ({16'd0, w_len} <= wnd_r) && (w_len != 16'd0 || w_fin) && !cx_ooo_ne;
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
    wire        io_cut   = cx_ooo_ne && (c_off < n_len);
    wire [15:0] io_len   = io_cut ? hr_rel[15:0] : w_len;
    wire [7:0]  io_flags = io_cut ? (w_flags & NO_FIN_PSH) : w_flags;
    wire        io_fin   = (io_flags & TF_FIN) != 8'd0;
    assign      tp_acc   = (io_len != 16'd0);
    // delayed ACKs (sock_flag DELAYED_ACK, docs/tcp-receive.md): RCV_ACKED is RCV_NXT as the
    // last frame sent with ACK carried it. An in-order segment without PSH or FIN that drained
    // nothing and left nothing out of order, with at most MSS bytes unacknowledged and at least
    // MSS of the advertised window left, is not acknowledged at once; a tick sends the owed ACK
    // (tp_dack) unless a later frame's ACK carried it. Only a segment that finds the
    // reassembly list empty can wait, so the decision is S_INORD's, where such a frame ends
    // (RCV_NXT after the append is rcv_io); a frame that goes on to S_DRAIN found the list
    // not empty and is acknowledged at once.
    wire [31:0] cx_acked  = cx[`BF_SOCK_CTX_RCV_ACKED_RANGE];
    wire        sk_dack   = (sk[`BF_SOCK_DESC_FLAGS_RANGE] & SF_DELAYED_ACK) != 8'd0;
    wire [31:0] rcv_io    = cx_rcv + {16'd0, io_len} + {31'd0, io_fin};   // RCV_NXT after S_INORD
    // dack_waits is read only where the list is empty (no cut: io_len = w_len) and holds only
    // without FIN, so RCV_NXT after the segment is cx_rcv + w_len: the bounds are then sums of
    // the context's own differences and w_len, not of the cut (the head's header read)
    wire [31:0] dack_una  = (cx_rcv - cx_acked) + {16'd0, w_len};
    wire [31:0] dack_left = edge_rel - {16'd0, w_len};   // rel(RCV_WND_EDGE) after the segment
    wire        dack_waits = sk_dack && ((w_flags & (TF_FIN | TF_PSH)) == 8'd0) &&
                             (dack_una <= wu_mss) && !dack_left[31] && (dack_left >= wu_mss);
    assign      tp_dack   = wu_tcp && p_open && sk_dack && (cx_rcv != cx_acked);
    // drain step (S_DRAIN)
    wire        dr_go    = p_open && cx_ooo_ne && (hr_seq == cx_rcv);
    // reassembly walk (S_INS, S_INS_B)
    wire        ins_end  = (ins_cur == NULL16);
    wire        ins_past = (c_end <= n_off);              // cur ends before the new segment
    wire        ins_ovl  = (c_off <= n_off);              // cur holds the new front
    wire        ins_tail = !ins_end && (c_off < n_end);   // cur overlaps the new tail

    // ------------------------------------------------------------------ table writes
    wire tail_link = (in_inord || in_rstmk || in_udp || (in_drain && dr_go)) && (cx_seg_tail != NULL16);
    assign seg_we = in_inord || in_rstmk || in_udp || in_insl;
    assign nxt_we = tail_link || in_insl || in_insl2;
    assign nxt_wa = in_insl ? mt_head[BW-1:0] : in_insl2 ? ins_prev[BW-1:0] : cx_seg_tail[BW-1:0];
    assign nxt_wd = in_drain ? cx_ooo_head : in_insl ? ins_cur : mt_head;

    // ------------------------------------------------------------------ decision
    task fin(input [3:0] reason, input ack);
        begin
            tp_fin = 1'b1;
            tp_dr  = reason;
            tp_ack = ack;
        end
    endtask
    always @* begin
        tp_fin  = 1'b0;
        tp_dr   = DROP_NONE;
        tp_ack  = 1'b0;
        tp_alt  = 1'b0;
        tp_stay = 1'b0;
        tp_step = 1'b0;
        if (in_tcp) begin
            if ((p_open || p_done) && mt_ackf && !mt_rst && ack_unsent) begin
                fin(DROP_BAD_ACK, 1'b1);                                         // answered
            end else if (cx_state == ST_SYN_SENT) begin
                // active open (RFC 9293 3.10.7.3, no simultaneous open)
                if (mt_ackf && !ss_ack_ok) fin(DROP_BAD_ACK, !mt_rst);           // RST at its ACK
                else if (mt_rst) fin(ss_ack_ok ? DROP_NONE : DROP_BAD_STATE, 1'b0);
                else if (mt_syn && ss_ack_ok) fin(DROP_NONE, 1'b1);              // ACK it
                else fin(DROP_BAD_STATE, 1'b0);
            end else if (cx_state == ST_LISTEN) begin
                if (!mt_rst && mt_syn && !mt_ackf) fin(DROP_NONE, 1'b1);          // SYN-ACK
                else fin(DROP_BAD_STATE, 1'b0);
            end else if (cx_state == ST_SYN_RCVD) begin
                if (mt_rst) fin((mt_seq == cx_rcv) ? DROP_NONE : DROP_OOW, 1'b0);
                else if (mt_syn) fin((mt_seq == cx_irs) ? DROP_NONE : DROP_BAD_STATE, mt_seq == cx_irs);
                else if (!(mt_ackf && mt_ack == sk_iss + 32'd1)) fin(DROP_BAD_STATE, 1'b0);
            end else if (!p_open && !p_done) begin
                fin(DROP_BAD_STATE, 1'b0);
            end
        end
        if (in_est0) begin
            if (!acceptable) fin(DROP_OOW, !w_rst);
            else if (w_rst) begin
                if (off_zero) tp_alt = 1'b1;                                     // S_RSTMK
                else fin(DROP_OOW, 1'b1);
            end else if (w_syn) fin(DROP_BAD_STATE, 1'b1);
            else if (p_done) begin
                if (seg_len != 17'd0) fin(DROP_BAD_STATE, 1'b1);
                else fin(DROP_NONE, 1'b0);
            end
        end
        if (in_est1) begin
            if (t_len == 16'd0 && !t_fin) fin(DROP_NONE, 1'b0);                  // a pure ACK
            else if (off_zero) tp_alt = 1'b1;                                    // S_INORD
            else if (t_len == 16'd0) fin(DROP_OOO, 1'b1);                        // a FIN ahead
            else if (pool_room == 32'd0) fin(DROP_POOL_LOW, 1'b1);               // pool at its reserve
        end
        // in order with the reassembly list empty: nothing to drain, the frame ends now
        if (in_inord && !cx_ooo_ne) fin(DROP_NONE, !dack_waits);
        if (in_drain) begin
            if (dr_go) tp_step = 1'b1;
            else fin(DROP_NONE, 1'b1);
        end
        if (in_ins) begin
            if (ins_end) tp_alt = 1'b1;                                          // S_INS_L
            else if (ins_past) begin
                tp_stay = 1'b1;
                tp_step = 1'b1;
            end else if (ins_ovl) begin
                if (ov_d >= n_len) fin(DROP_DUP, 1'b1);
                else tp_step = 1'b1;
            end
        end
        if (in_insb && ins_tail && cut_l == 34'sd0) fin(DROP_DUP, 1'b1);
        if (in_insl && ins_prev == NULL16) fin(DROP_NONE, 1'b1);
    end

    // ------------------------------------------------------------------ next context
    // Link segment h (chained by the table write logic) at the tail of the in-order list.
    task seg_append(input [15:0] h);
        begin
            cx_nx[`BF_SOCK_CTX_SEG_TAIL_RANGE] = h;
            if (cx_seg_head == NULL16) cx_nx[`BF_SOCK_CTX_SEG_HEAD_RANGE] = h;
        end
    endtask
    always @* begin
        cx_nx = cx;
        if (in_tcp && !((p_open || p_done) && mt_ackf && !mt_rst && ack_unsent)) begin
            if (cx_state == ST_SYN_SENT && !(mt_ackf && !ss_ack_ok)) begin
                if (mt_rst) begin
                    if (ss_ack_ok) cx_nx[`BF_SOCK_CTX_STATE_RANGE] = ST_CLOSED;    // refused
                end else if (mt_syn && ss_ack_ok) begin
                    cx_nx[`BF_SOCK_CTX_IRS_RANGE]          = mt_seq;
                    cx_nx[`BF_SOCK_CTX_RCV_NXT_RANGE]      = mt_seq + 32'd1;
                    cx_nx[`BF_SOCK_CTX_STREAM_OFF_RANGE]   = 64'd0;
                    cx_nx[`BF_SOCK_CTX_WS_OK_RANGE]        = {7'd0, mt_ws_valid};
                    cx_nx[`BF_SOCK_CTX_STATE_RANGE]        = ST_ESTAB;
                    cx_nx[`BF_SOCK_CTX_RCV_WND_EDGE_RANGE] = mt_seq + 32'd1;
                end
            end
            if (cx_state == ST_LISTEN && !mt_rst && mt_syn && !mt_ackf) begin
                cx_nx[`BF_SOCK_CTX_IRS_RANGE]          = mt_seq;
                cx_nx[`BF_SOCK_CTX_RCV_NXT_RANGE]      = mt_seq + 32'd1;
                cx_nx[`BF_SOCK_CTX_STREAM_OFF_RANGE]   = 64'd0;
                cx_nx[`BF_SOCK_CTX_WS_OK_RANGE]        = {7'd0, mt_ws_valid};
                cx_nx[`BF_SOCK_CTX_STATE_RANGE]        = ST_SYN_RCVD;
                cx_nx[`BF_SOCK_CTX_RCV_WND_EDGE_RANGE] = mt_seq + 32'd1;   // edge = RCV_NXT
            end else if (cx_state == ST_SYN_RCVD) begin
                if (mt_rst) begin
                    // an accepted socket does not listen again (docs/tcp-receive.md)
                    if (mt_seq == cx_rcv) cx_nx[`BF_SOCK_CTX_STATE_RANGE] = sk_accd ? ST_CLOSED : ST_LISTEN;
                end else if (!mt_syn && mt_ackf && mt_ack == sk_iss + 32'd1) begin
                    cx_nx[`BF_SOCK_CTX_STATE_RANGE] = ST_ESTAB;
                end
            end
        end
        if (in_est0 && acceptable && w_rst && off_zero) cx_nx[`BF_SOCK_CTX_STATE_RANGE] = ST_CLOSED;
        // RST at RCV_NXT: a zero-length marker on the in-order list
        if (in_rstmk) seg_append(mt_head);
        if (in_inord) begin
            seg_append(mt_head);
            cx_nx[`BF_SOCK_CTX_RCV_NXT_RANGE] = rcv_io;
            if (io_fin) cx_nx[`BF_SOCK_CTX_STATE_RANGE] = st_fin;
        end
        if (in_drain && dr_go) begin
            seg_append(cx_ooo_head);
            cx_nx[`BF_SOCK_CTX_OOO_HEAD_RANGE] = nxt_rd;
            cx_nx[`BF_SOCK_CTX_RCV_NXT_RANGE]  = cx_rcv + {16'd0, hr_len} + {31'd0, hr_fin};
            if (hr_fin) cx_nx[`BF_SOCK_CTX_STATE_RANGE] = st_fin;
        end
        if (in_insl && ins_prev == NULL16) cx_nx[`BF_SOCK_CTX_OOO_HEAD_RANGE] = mt_head;
        if (ack_take && edge_upd && tx_edge) cx_nx[`BF_SOCK_CTX_RCV_WND_EDGE_RANGE] = edge_new;
        // every command but an RST or our SYN carries ACK = RCV_NXT (a SYN-ACK's IRS + 1 is it)
        if (ack_take && tx_edge) cx_nx[`BF_SOCK_CTX_RCV_ACKED_RANGE] = cx_rcv;
    end

    // ------------------------------------------------------------------ registers
    always @(posedge clk) begin
        win_r <= win_c;
        wnd_r <= wnd_c;
        adv_r <= adv_c;
        if (!rst) begin
            // the free count sampled at the last pick, registered with the sample: a frame
            // forwarded from the pick to S_TCP has wnd_r from it in S_EST0
            if (smp) pool_room <= room_of(pool_free);
            if (in_meta) begin
                tx_syn    <= 1'b0;
                tx_rst    <= 1'b0;
            end
            if (in_tcp) begin
                // working segment; win_r is computed from cx during this cycle
                w_seq   <= mt_seq;
                w_off   <= mt_seq - cx_rcv;
                w_len   <= mt_pay_len;
                w_doff  <= mt_pay_off;
                w_flags <= mt_flags;
                tx_rst <= (cx_state == ST_SYN_SENT) && mt_ackf && !ss_ack_ok && !mt_rst &&
                          !((p_open || p_done) && ack_unsent);
                if ((cx_state == ST_LISTEN && !mt_rst && mt_syn && !mt_ackf) ||
                    (cx_state == ST_SYN_RCVD && !mt_rst && mt_syn && mt_seq == cx_irs))
                    tx_syn <= 1'b1;
            end
            // front trim of an acceptable ESTAB segment
            if (in_est0 && !tp_fin && !tp_alt && off_neg) begin
                w_doff <= w_doff + neg_off[15:0];
                w_len  <= w_len - neg_off[15:0];
                w_seq  <= w_seq + neg_off;
                w_off  <= 32'd0;
            end
            if (in_est1) begin
                w_len   <= t_len;
                w_flags <= t_flags;
                if (!tp_fin && !tp_alt) begin
                    ins_prev <= NULL16;
                    ins_cur  <= cx_ooo_head;
                end
            end
            if (in_ins && !tp_fin && tp_step) begin
                ins_prev <= ins_cur;
                ins_cur  <= nxt_rd;
                if (!tp_stay) begin
                    // cur holds the new front: cut it
                    w_off  <= w_off + ov_d[31:0];
                    w_seq  <= w_seq + ov_d[31:0];
                    w_doff <= w_doff + ov_d[15:0];
                    w_len  <= w_len - ov_d[15:0];
                end
            end
            if (in_insb && ins_tail) begin
                w_len   <= cut_l[15:0];
                w_flags <= w_flags & NO_FIN_PSH;
            end
        end
    end

    // ------------------------------------------------------------------ segment header, tx command
    always @* begin
        hd_new = 128'd0;
        hd_new[`BF_BUFLET_HDR_NEXT_BUFLET_RANGE] = NULL16;  // chain links live in the pool's link RAM
        hd_new[`BF_BUFLET_HDR_DATA_OFF_RANGE]    = w_doff;
        hd_new[`BF_BUFLET_HDR_DATA_LEN_RANGE]    = w_len;
        hd_new[`BF_BUFLET_HDR_FLAGS_RANGE]       = w_flags;
        hd_new[`BF_BUFLET_HDR_NEXT_SEG_RANGE]    = NULL16;  // links live in nxt_mem
        hd_new[`BF_BUFLET_HDR_SEQ_RANGE]         = w_seq;
        if (in_inord) begin
            hd_new[`BF_BUFLET_HDR_DATA_LEN_RANGE] = io_len;
            hd_new[`BF_BUFLET_HDR_FLAGS_RANGE]    = io_flags;
        end else if (in_rstmk) begin
            hd_new[`BF_BUFLET_HDR_DATA_LEN_RANGE] = 16'd0;
        end
        tx_cmd = 384'd0;
        tx_cmd[`BF_TX_CMD_DST_MAC_RANGE]  = sk[`BF_SOCK_DESC_REMOTE_MAC_RANGE];
        tx_cmd[`BF_TX_CMD_SRC_MAC_RANGE]  = sk[`BF_SOCK_DESC_LOCAL_MAC_RANGE];
        tx_cmd[`BF_TX_CMD_VLAN_RANGE]     = sk[`BF_SOCK_DESC_VLAN_RANGE];
        tx_cmd[`BF_TX_CMD_SRC_IP_RANGE]   = sk[`BF_SOCK_DESC_LOCAL_IP_RANGE];
        tx_cmd[`BF_TX_CMD_DST_IP_RANGE]   = sk[`BF_SOCK_DESC_REMOTE_IP_RANGE];
        tx_cmd[`BF_TX_CMD_SRC_PORT_RANGE] = sk[`BF_SOCK_DESC_LOCAL_PORT_RANGE];
        tx_cmd[`BF_TX_CMD_DST_PORT_RANGE] = sk[`BF_SOCK_DESC_REMOTE_PORT_RANGE];
        if (k_rst) begin
            tx_cmd[`BF_TX_CMD_SEQ_RANGE]    = mt_ack;
            tx_cmd[`BF_TX_CMD_FLAGS_RANGE]  = TF_RST;
        end else if (k_syn) begin
            tx_cmd[`BF_TX_CMD_SEQ_RANGE]    = sk_iss;
            tx_cmd[`BF_TX_CMD_WINDOW_RANGE] = syn_win;
            tx_cmd[`BF_TX_CMD_FLAGS_RANGE]  = TF_SYN;
            tx_cmd[`BF_TX_CMD_OPTS_RANGE]   = TX_OPT_MSS | TX_OPT_WS;
            tx_cmd[`BF_TX_CMD_MSS_RANGE]    = sk[`BF_SOCK_DESC_MSS_RANGE];
            tx_cmd[`BF_TX_CMD_WSCALE_RANGE] = sk[`BF_SOCK_DESC_RCV_WSCALE_RANGE];
        end else if (k_synack) begin
            tx_cmd[`BF_TX_CMD_SEQ_RANGE]    = sk_iss;
            tx_cmd[`BF_TX_CMD_ACK_RANGE]    = cx_irs + 32'd1;
            tx_cmd[`BF_TX_CMD_WINDOW_RANGE] = syn_win;
            tx_cmd[`BF_TX_CMD_FLAGS_RANGE]  = TF_SYN | TF_ACK;
            tx_cmd[`BF_TX_CMD_OPTS_RANGE]   = TX_OPT_MSS |
                                              ((cx[`BF_SOCK_CTX_WS_OK_RANGE] != 8'd0) ? TX_OPT_WS : 8'd0);
            tx_cmd[`BF_TX_CMD_MSS_RANGE]    = sk[`BF_SOCK_DESC_MSS_RANGE];
            tx_cmd[`BF_TX_CMD_WSCALE_RANGE] = sk[`BF_SOCK_DESC_RCV_WSCALE_RANGE];
        end else begin
            // an ACK (SEQ = SND.MAX), a data segment, our RST | ACK
            tx_cmd[`BF_TX_CMD_SEQ_RANGE]    = (tx_mode == 3'd1) ? d_seq : snd_seq;
            tx_cmd[`BF_TX_CMD_ACK_RANGE]    = cx_rcv;
            tx_cmd[`BF_TX_CMD_WINDOW_RANGE] = ack_win;
            tx_cmd[`BF_TX_CMD_FLAGS_RANGE]  = (tx_mode == 3'd1) ? (TF_ACK | d_flags) :
                                              (tx_mode == 3'd3) ? (TF_ACK | TF_RST) : TF_ACK;
            if (tx_mode == 3'd1) tx_cmd[`BF_TX_CMD_PAY_LEN_RANGE] = d_len;
        end
    end
endmodule
`resetall
