// toe_engine: socket table, hash lookup, TCP receive rules, named buffers and delivery.
//
// A central FSM processes one event at a time, picked round-robin among
//   (a) a request entry (SOCK_ADD, NB_POST, NOP, anything else -> BAD_OPCODE),
//   (b) an rx metadata record (socket lookup through the hash chains, TCP rules, segment append),
//   (c) a delivery step for a socket popped from the pending FIFO (one chunk DMA write, or the
//       removal of a drained segment, or an NB return).
// State lives in RAM-like arrays (registered read address, one write port each):
//   sock_mem  NUM_SOCKETS  x 512  sock_desc layout
//   bkt_mem   HASH_BUCKETS x 16   hash chain heads (+ a valid bitmap so no init pass is needed)
//   nb_mem    NUM_NBS      x 512  nb_desc layout
//   hdr_mem   NUM_BUFLETS  x 128  buflet_hdr layout (header of a segment's first buflet)
//   chn_mem   NUM_BUFLETS  x 32   {count, tail} of the segment chain starting at that buflet
// The pending FIFO holds each socket at most once (queued bitmap), so it never overflows and a
// delivery step never scans the socket table.
// Delivery data is moved by toe_mover (chain walk, pipelined RAM read, skid FIFO, axis_packer).
// The FSM only waits for the mover when it must: a new chunk needs the mover's command slot, a
// FIN/RST segment's chain is freed once no read is pending, and an NB_RETURN is posted only after
// every payload word already issued has left on m_axis_dma_wr (payload before its completion).
// A chunk that empties a segment without FIN/RST unlinks it at once; its chain goes out on
// m_free_* (one op per chain) as soon as the mover has issued that chunk's reads.
// Decisions (see the R3 report): a refused page-list read returns the head NB with STATUS
// DMA_ERROR, BYTES = FILLED, FLAGS 0 and keeps the segment for the next NB; an NB returned empty
// reports its own STREAM_OFF field (0); a zero-payload FIN/RST with a wrong seq is OUT_OF_ORDER;
// buflet_hdr NEXT_BUFLET is written 0xFFFF and MAC/IP/L4_OFF 0 (chain links live in the pool's
// link RAM). Assumes power-of-two HASH_BUCKETS and BUFLET_BYTES >= 2*KEEP_WIDTH.
`default_nettype none
`include "buflet_defs.vh"
module toe_engine #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter NUM_SOCKETS  = 64,
    parameter HASH_BUCKETS = 256,
    parameter NUM_NBS      = 64,
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
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [15:0]           s_meta_len,      // frame length: counted by reg_block, not needed here
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [11:0]           s_meta_vlan,
    input  wire [31:0]           s_meta_src_ip,
    input  wire [31:0]           s_meta_dst_ip,
    input  wire [15:0]           s_meta_src_port,
    input  wire [15:0]           s_meta_dst_port,
    input  wire [31:0]           s_meta_seq,
    input  wire [7:0]            s_meta_flags,
    input  wire [15:0]           s_meta_pay_off,
    input  wire [15:0]           s_meta_pay_len,
    input  wire [15:0]           s_meta_head,
    input  wire [15:0]           s_meta_tail,
    input  wire [15:0]           s_meta_count,
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
    // counter events
    output reg                   ev_drop_valid,
    output reg  [3:0]            ev_drop_reason,
    output reg                   ev_accepted,
    output reg                   ev_delivered_valid,
    output reg  [15:0]           ev_delivered_bytes,
    output reg                   ev_nb_returned
);
    localparam SW = $clog2(NUM_SOCKETS);
    localparam NW = $clog2(NUM_NBS);
    localparam BW = $clog2(NUM_BUFLETS);
    localparam HW = (HASH_BUCKETS > 1) ? $clog2(HASH_BUCKETS) : 1;
    localparam [15:0] NULL16 = 16'hFFFF;
    localparam [31:0] SOCK_LAST32 = NUM_SOCKETS - 1;
    localparam [7:0] ST_LISTEN = `BF_SOCK_STATE_LISTEN;
    localparam [7:0] ST_ESTAB  = `BF_SOCK_STATE_ESTAB;
    localparam [7:0] ST_CLOSED = `BF_SOCK_STATE_CLOSED;
    localparam [7:0] OP_SOCK_ADD = `BF_OP_SOCK_ADD;
    localparam [7:0] OP_NB_POST  = `BF_OP_NB_POST;
    localparam [7:0] OP_NOP      = `BF_OP_NOP;
    localparam [7:0] ST_OK         = `BF_STATUS_OK;
    localparam [7:0] ST_BAD_OPCODE = `BF_STATUS_BAD_OPCODE;
    localparam [7:0] ST_BAD_SOCK   = `BF_STATUS_BAD_SOCK;
    localparam [7:0] ST_BAD_NB     = `BF_STATUS_BAD_NB;
    localparam [7:0] ST_DMA_ERROR  = `BF_STATUS_DMA_ERROR;
    localparam [7:0] KIND_CMD_DONE  = `BF_CPL_KIND_CMD_DONE;
    localparam [7:0] KIND_NB_RETURN = `BF_CPL_KIND_NB_RETURN;
    localparam [7:0] FL_FULL = `BF_CPL_FLAG_FULL;
    localparam [7:0] FL_FIN  = `BF_CPL_FLAG_FIN;
    localparam [7:0] FL_RST  = `BF_CPL_FLAG_RST;
    localparam [3:0] DROP_NONE = `BF_DROP_NONE;
    localparam [3:0] DROP_NO_SOCKET = `BF_DROP_NO_SOCKET;
    localparam [3:0] DROP_OOO = `BF_DROP_OUT_OF_ORDER;
    localparam [7:0] FL_FIN_TCP = 8'h01;   // TCP header flag bits
    localparam [7:0] FL_RST_TCP = 8'h04;
    localparam [12:0] PAGE_BYTES = `BF_PARAM_PAGE_BYTES;

    // FSM states
    localparam [4:0]
        S_IDLE    = 5'd0,
        S_REQ     = 5'd1,
        S_REQ_ADD = 5'd2,
        S_REQ_NB1 = 5'd3,
        S_REQ_NB2 = 5'd4,
        S_CPL     = 5'd5,
        S_META    = 5'd6,
        S_LOOK0   = 5'd7,
        S_LOOK1   = 5'd8,
        S_TCP     = 5'd9,
        S_APP2    = 5'd10,
        S_DROP    = 5'd11,
        S_DQ      = 5'd12,
        S_D1      = 5'd13,
        S_DPGREQ  = 5'd14,
        S_DPGRSP  = 5'd15,
        S_DISSUE  = 5'd16,
        S_DFREE   = 5'd17,
        S_DRET    = 5'd18;

    // ------------------------------------------------------------------ tables
    reg [511:0] sock_mem [0:NUM_SOCKETS-1];
    reg [511:0] nb_mem   [0:NUM_NBS-1];
    reg [127:0] hdr_mem  [0:NUM_BUFLETS-1];
    reg [31:0]  chn_mem  [0:NUM_BUFLETS-1];
    reg [15:0]  bkt_mem  [0:HASH_BUCKETS-1];
    reg [HASH_BUCKETS-1:0] bkt_vld;
    reg [NUM_SOCKETS-1:0]  sock_used;
    reg [NUM_NBS-1:0]      nb_used;

    // pending-delivery FIFO of socket refs (each socket at most once)
    reg [SW-1:0]          pq_mem [0:NUM_SOCKETS-1];
    reg [SW-1:0]          pq_wp, pq_rp;
    reg [SW:0]            pq_cnt;
    reg [NUM_SOCKETS-1:0] pq_in;

    // ------------------------------------------------------------------ FSM registers
    reg [4:0]   state;
    reg [1:0]   last_src;          // 0 req, 1 meta, 2 delivery
    reg [511:0] rq;                // latched request
    reg [7:0]   cst;               // CMD_DONE status
    reg [511:0] sk;                // working socket
    reg [511:0] nb;                // working NB
    reg [127:0] hd;                // working segment header
    reg [SW-1:0] sk_idx;
    reg [NW-1:0] nb_idx;
    reg [BW-1:0] hd_idx;
    reg [HW-1:0] b_idx;
    // latched metadata
    reg [3:0]   mt_reason;
    reg [11:0]  mt_vlan;
    reg [31:0]  mt_src_ip, mt_dst_ip, mt_seq;
    reg [15:0]  mt_src_port, mt_dst_port;
    reg [7:0]   mt_flags;
    reg [15:0]  mt_pay_off, mt_pay_len, mt_head, mt_tail, mt_count;
    reg [3:0]   dr;                // drop reason for S_DROP (0 = consumed silently)
    // delivery
    reg [12:0]  dn;                // chunk bytes
    reg [19:0]  dpage;             // page index of the chunk
    reg [7:0]   ret_status;
    reg [7:0]   ret_flags;
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
    wire [511:0] nb_rd  = nb_mem[nb_idx];
    wire [127:0] hd_rd  = hdr_mem[hd_idx];
    wire [31:0]  chn_rd = chn_mem[hd_idx];
    wire [15:0]  bkt_rd = bkt_vld[b_idx] ? bkt_mem[b_idx] : NULL16;

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

    // ------------------------------------------------------------------ event selection
    wire ev_req  = s_req_valid;
    wire ev_meta = s_meta_valid;
    wire ev_dlv  = (pq_cnt != {(SW+1){1'b0}});
    reg  pick_req, pick_meta, pick_dlv;
    always @* begin
        pick_req  = 1'b0;
        pick_meta = 1'b0;
        pick_dlv  = 1'b0;
        case (last_src)
            2'd0: begin
                if (ev_meta) pick_meta = 1'b1;
                else if (ev_dlv) pick_dlv = 1'b1;
                else if (ev_req) pick_req = 1'b1;
            end
            2'd1: begin
                if (ev_dlv) pick_dlv = 1'b1;
                else if (ev_req) pick_req = 1'b1;
                else if (ev_meta) pick_meta = 1'b1;
            end
            default: begin
                if (ev_req) pick_req = 1'b1;
                else if (ev_meta) pick_meta = 1'b1;
                else if (ev_dlv) pick_dlv = 1'b1;
            end
        endcase
    end
    assign s_req_ready  = (state == S_IDLE) && pick_req;
    assign s_meta_ready = (state == S_IDLE) && pick_meta;

    // ------------------------------------------------------------------ request decode
    wire [7:0]  rq_op      = rq[`BF_REQ_HDR_OPCODE_RANGE];
    wire [15:0] rq_sock    = rq[`BF_REQ_HDR_SOCK_REF_RANGE];
    wire        rq_sock_ok = ({16'd0, rq_sock} < NUM_SOCKETS) && sock_used[rq_sock[SW-1:0]];
    wire        rq_slot_free = ({16'd0, rq_sock} < NUM_SOCKETS) && !sock_used[rq_sock[SW-1:0]];
    wire [31:0] rq_ref     = rq[`BF_NB_DESC_REF_NUM_RANGE];
    wire [31:0] rq_total   = rq[`BF_NB_DESC_TOTAL_BYTES_RANGE];
    wire [31:0] rq_pages   = rq[`BF_NB_DESC_HMD_PAGES_RANGE];
    wire        rq_nb_ok   = (rq_ref < NUM_NBS) && !nb_used[rq_ref[NW-1:0]] && (rq_pages != 32'd0) &&
                             (rq_total != 32'd0) && ({12'd0, rq_total} <= {rq_pages, 12'd0});

    // new socket (SOCK_ADD)
    reg [511:0] sk_add;
    always @* begin
        sk_add = rq;
        sk_add[`BF_SOCK_DESC_STATE_RANGE]      = ST_LISTEN;
        sk_add[`BF_SOCK_DESC_NEXT_SOCK_RANGE]  = bkt_rd;
        sk_add[`BF_SOCK_DESC_PREV_SOCK_RANGE]  = NULL16;
        sk_add[`BF_SOCK_DESC_NB_HEAD_RANGE]    = NULL16;
        sk_add[`BF_SOCK_DESC_NB_TAIL_RANGE]    = NULL16;
        sk_add[`BF_SOCK_DESC_SEG_HEAD_RANGE]   = NULL16;
        sk_add[`BF_SOCK_DESC_SEG_TAIL_RANGE]   = NULL16;
        sk_add[`BF_SOCK_DESC_RCV_NXT_RANGE]    = 32'd0;
        sk_add[`BF_SOCK_DESC_STREAM_OFF_RANGE] = 64'd0;
    end

    // new NB (NB_POST), socket NB list append, old tail link
    wire [15:0] skr_nb_head = sk_rd[`BF_SOCK_DESC_NB_HEAD_RANGE];
    wire [15:0] skr_nb_tail = sk_rd[`BF_SOCK_DESC_NB_TAIL_RANGE];
    reg [511:0] nb_post, sk_nbp, nb_link;
    always @* begin
        nb_post = rq;
        nb_post[`BF_NB_DESC_UDP_HDR_BYTES_RANGE] = 16'd0;
        nb_post[`BF_NB_DESC_NEXT_NB_RANGE]       = NULL16;
        nb_post[`BF_NB_DESC_PREV_NB_RANGE]       = skr_nb_tail;
        nb_post[`BF_NB_DESC_FILLED_RANGE]        = 32'd0;
        nb_post[`BF_NB_DESC_STREAM_OFF_RANGE]    = 64'd0;
        sk_nbp = sk_rd;
        sk_nbp[`BF_SOCK_DESC_NB_TAIL_RANGE] = rq_ref[15:0];
        if (skr_nb_head == NULL16) sk_nbp[`BF_SOCK_DESC_NB_HEAD_RANGE] = rq_ref[15:0];
        nb_link = nb_rd;
        nb_link[`BF_NB_DESC_NEXT_NB_RANGE] = rq_ref[15:0];
    end

    // ------------------------------------------------------------------ socket lookup and TCP rules
    wire sk_match = (sk_rd[`BF_SOCK_DESC_LOCAL_IP_RANGE]   == mt_dst_ip) &&
                    (sk_rd[`BF_SOCK_DESC_REMOTE_IP_RANGE]  == mt_src_ip) &&
                    (sk_rd[`BF_SOCK_DESC_LOCAL_PORT_RANGE] == mt_dst_port) &&
                    (sk_rd[`BF_SOCK_DESC_REMOTE_PORT_RANGE] == mt_src_port) &&
                    (sk_rd[`BF_SOCK_DESC_VLAN_RANGE] == {4'd0, mt_vlan});
    wire [15:0] sk_next_sock = sk_rd[`BF_SOCK_DESC_NEXT_SOCK_RANGE];

    wire [7:0]  sk_state = sk[`BF_SOCK_DESC_STATE_RANGE];
    wire [31:0] sk_rcv   = sk[`BF_SOCK_DESC_RCV_NXT_RANGE];
    wire [15:0] sk_seg_tail = sk[`BF_SOCK_DESC_SEG_TAIL_RANGE];
    wire        mt_fin   = mt_flags[0];
    wire        mt_syn   = mt_flags[1];
    wire        mt_rst   = mt_flags[2];
    wire        mt_seq_ok = (mt_seq == sk_rcv);
    localparam [1:0] A_DROP = 2'd0, A_CONSUME = 2'd1, A_APPEND = 2'd2;
    reg [1:0]   tcp_act;
    reg         tcp_accept;          // payload accepted (counter)
    reg [511:0] sk_tcp;
    always @* begin
        tcp_act    = A_DROP;
        tcp_accept = 1'b0;
        sk_tcp     = sk;
        if (sk_state == ST_LISTEN) begin
            if (mt_syn) begin
                tcp_act = A_CONSUME;
                sk_tcp[`BF_SOCK_DESC_RCV_NXT_RANGE] = mt_seq + 32'd1;
                sk_tcp[`BF_SOCK_DESC_STATE_RANGE]   = ST_ESTAB;
            end
        end else if (sk_state == ST_ESTAB) begin
            if (mt_pay_len != 16'd0) begin
                if (mt_seq_ok) begin
                    tcp_act    = A_APPEND;
                    tcp_accept = 1'b1;
                    sk_tcp[`BF_SOCK_DESC_RCV_NXT_RANGE] = mt_seq + {16'd0, mt_pay_len} + {31'd0, mt_fin};
                    if (mt_fin || mt_rst) sk_tcp[`BF_SOCK_DESC_STATE_RANGE] = ST_CLOSED;
                end
            end else if (mt_fin || mt_rst) begin
                if (mt_seq_ok) begin
                    tcp_act = A_APPEND;
                    sk_tcp[`BF_SOCK_DESC_RCV_NXT_RANGE] = mt_seq + {31'd0, mt_fin};
                    sk_tcp[`BF_SOCK_DESC_STATE_RANGE]   = ST_CLOSED;
                end
            end else begin
                tcp_act = A_CONSUME;     // pure ACK
            end
        end
        if (tcp_act == A_APPEND) begin
            sk_tcp[`BF_SOCK_DESC_SEG_TAIL_RANGE] = mt_head;
            if (sk[`BF_SOCK_DESC_SEG_HEAD_RANGE] == NULL16) sk_tcp[`BF_SOCK_DESC_SEG_HEAD_RANGE] = mt_head;
        end
    end

    // header of an appended segment, and link from the previous tail segment
    reg [127:0] hd_app, hd_link;
    always @* begin
        hd_app = 128'd0;
        hd_app[`BF_BUFLET_HDR_NEXT_BUFLET_RANGE] = NULL16;  // chain links live in the pool's link RAM
        hd_app[`BF_BUFLET_HDR_DATA_OFF_RANGE]    = mt_pay_off;
        hd_app[`BF_BUFLET_HDR_DATA_LEN_RANGE]    = mt_pay_len;
        hd_app[`BF_BUFLET_HDR_FLAGS_RANGE]       = mt_flags;
        hd_app[`BF_BUFLET_HDR_NEXT_SEG_RANGE]    = NULL16;
        hd_app[`BF_BUFLET_HDR_SEQ_RANGE]         = mt_seq;
        hd_link = hd_rd;
        hd_link[`BF_BUFLET_HDR_NEXT_SEG_RANGE]   = mt_head;
    end

    // ------------------------------------------------------------------ delivery
    wire [15:0] skc_nb_head  = sk[`BF_SOCK_DESC_NB_HEAD_RANGE];
    wire        skc_has_nb   = (skc_nb_head != NULL16);
    wire [15:0] hdr_len      = hd_rd[`BF_BUFLET_HDR_DATA_LEN_RANGE];
    wire        hdr_finrst   = hd_rd[`BF_BUFLET_HDR_FLAGS_OFF*8] | hd_rd[`BF_BUFLET_HDR_FLAGS_OFF*8+2];
    wire [31:0] nbr_filled   = nb_rd[`BF_NB_DESC_FILLED_RANGE];
    wire [31:0] nbr_total    = nb_rd[`BF_NB_DESC_TOTAL_BYTES_RANGE];
    wire [31:0] nbr_room     = nbr_total - nbr_filled;
    wire [12:0] nbr_pg_room  = PAGE_BYTES - {1'b0, nbr_filled[11:0]};
    wire [12:0] n_a          = ({16'd0, hdr_len} < nbr_room) ? hdr_len[12:0] : nbr_room[12:0];
    wire [31:0] n_a32        = ({16'd0, hdr_len} < nbr_room) ? {16'd0, hdr_len} : nbr_room;
    wire [12:0] n_calc       = (n_a32 < {19'd0, nbr_pg_room}) ? n_a : nbr_pg_room;
    wire [19:0] page_calc    = nbr_filled[31:12];
    wire        pc_hit       = pc_vld && (pc_nb == nb_idx) && (pc_page == page_calc);

    wire [31:0] nb_filled    = nb[`BF_NB_DESC_FILLED_RANGE];
    wire        mv_cmd_ready, mv_rd_idle, mv_out_idle;
    wire        wr_fire      = m_dma_wr_req_valid && m_dma_wr_req_ready;

    reg [127:0] hd_dlv;
    reg [511:0] nb_dlv, sk_dlv, sk_free, sk_ret;
    always @* begin
        hd_dlv = hd;
        hd_dlv[`BF_BUFLET_HDR_DATA_OFF_RANGE] = hd[`BF_BUFLET_HDR_DATA_OFF_RANGE] + {3'd0, dn};
        hd_dlv[`BF_BUFLET_HDR_DATA_LEN_RANGE] = hd[`BF_BUFLET_HDR_DATA_LEN_RANGE] - {3'd0, dn};
        nb_dlv = nb;
        nb_dlv[`BF_NB_DESC_FILLED_RANGE] = nb_filled + {19'd0, dn};
        if (nb_filled == 32'd0) nb_dlv[`BF_NB_DESC_STREAM_OFF_RANGE] = sk[`BF_SOCK_DESC_STREAM_OFF_RANGE];
        sk_dlv = sk;
        sk_dlv[`BF_SOCK_DESC_STREAM_OFF_RANGE] = sk[`BF_SOCK_DESC_STREAM_OFF_RANGE] + {51'd0, dn};
        if (dlv_drain) begin
            sk_dlv[`BF_SOCK_DESC_SEG_HEAD_RANGE] = hd[`BF_BUFLET_HDR_NEXT_SEG_RANGE];
            if (hd[`BF_BUFLET_HDR_NEXT_SEG_RANGE] == NULL16) sk_dlv[`BF_SOCK_DESC_SEG_TAIL_RANGE] = NULL16;
        end
        // drained segment leaves the list
        sk_free = sk;
        sk_free[`BF_SOCK_DESC_SEG_HEAD_RANGE] = hd[`BF_BUFLET_HDR_NEXT_SEG_RANGE];
        if (hd[`BF_BUFLET_HDR_NEXT_SEG_RANGE] == NULL16) sk_free[`BF_SOCK_DESC_SEG_TAIL_RANGE] = NULL16;
        // head NB leaves the list
        sk_ret = sk;
        sk_ret[`BF_SOCK_DESC_NB_HEAD_RANGE] = nb[`BF_NB_DESC_NEXT_NB_RANGE];
        if (nb[`BF_NB_DESC_NEXT_NB_RANGE] == NULL16) sk_ret[`BF_SOCK_DESC_NB_TAIL_RANGE] = NULL16;
    end
    wire dlv_full  = (nb_dlv[`BF_NB_DESC_FILLED_RANGE] == nb[`BF_NB_DESC_TOTAL_BYTES_RANGE]);
    wire hd_finrst = (hd[`BF_BUFLET_HDR_FLAGS_RANGE] & (FL_FIN_TCP | FL_RST_TCP)) != 8'd0;
    wire dfree_go  = (state == S_DFREE) && mv_rd_idle && free_slot;
    // a chunk that empties a segment without FIN/RST removes it at once; its chain is freed
    // through df_* once the mover has issued the chunk's reads
    wire dlv_drain = (hd[`BF_BUFLET_HDR_DATA_LEN_RANGE] == {3'd0, dn}) && !hd_finrst;
    wire fsm_fr_load = (state == S_DROP && mt_count != 16'd0 && free_slot) || dfree_go;
    wire df_move   = df_valid && mv_cmd_ready && free_slot && !fsm_fr_load;
    wire dret_go   = (state == S_DRET) && mv_out_idle && cpl_slot;

    // ------------------------------------------------------------------ table write ports
    reg         sock_we;
    reg [SW-1:0] sock_wa;
    reg [511:0] sock_wd;
    reg         nb_we;
    reg [NW-1:0] nb_wa;
    reg [511:0] nb_wd;
    reg         hdr_we;
    reg [BW-1:0] hdr_wa;
    reg [127:0] hdr_wd;
    always @* begin
        sock_we = 1'b0;
        sock_wa = sk_idx;
        sock_wd = sk_tcp;
        nb_we   = 1'b0;
        nb_wa   = nb_idx;
        nb_wd   = nb_dlv;
        hdr_we  = 1'b0;
        hdr_wa  = hd_idx;
        hdr_wd  = hd_dlv;
        case (state)
            S_REQ_ADD: begin
                sock_we = 1'b1;
                sock_wa = rq_sock[SW-1:0];
                sock_wd = sk_add;
            end
            S_REQ_NB1: begin
                sock_we = 1'b1;
                sock_wd = sk_nbp;
                nb_we   = 1'b1;
                nb_wa   = rq_ref[NW-1:0];
                nb_wd   = nb_post;
            end
            S_REQ_NB2: begin
                nb_we = 1'b1;
                nb_wd = nb_link;
            end
            S_TCP: begin
                sock_we = (tcp_act != A_DROP);
                sock_wd = sk_tcp;
                hdr_we  = (tcp_act == A_APPEND);
                hdr_wa  = mt_head[BW-1:0];
                hdr_wd  = hd_app;
            end
            S_APP2: begin
                hdr_we = 1'b1;
                hdr_wd = hd_link;
            end
            S_DISSUE: begin
                sock_we = wr_fire && !dlv_full;
                sock_wd = sk_dlv;
                nb_we   = wr_fire && !dlv_full;
                nb_wd   = nb_dlv;
                hdr_we  = wr_fire;
                hdr_wd  = hd_dlv;
            end
            S_DFREE: begin
                sock_we = dfree_go && !hd_finrst;
                sock_wd = sk_free;
            end
            S_DRET: begin
                sock_we = dret_go;
                sock_wd = sk_ret;
            end
            default: ;
        endcase
    end
    always @(posedge clk) begin
        if (sock_we) sock_mem[sock_wa] <= sock_wd;
        if (nb_we) nb_mem[nb_wa] <= nb_wd;
        if (hdr_we) hdr_mem[hdr_wa] <= hdr_wd;
        if (state == S_TCP && tcp_act == A_APPEND) chn_mem[mt_head[BW-1:0]] <= {mt_count, mt_tail};
        if (state == S_REQ_ADD) bkt_mem[b_idx] <= rq_sock;
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

    // ------------------------------------------------------------------ main FSM
    always @(posedge clk) begin
        if (rst) begin
            state      <= S_IDLE;
            last_src   <= 2'd0;
            bkt_vld    <= {HASH_BUCKETS{1'b0}};
            sock_used  <= {NUM_SOCKETS{1'b0}};
            nb_used    <= {NUM_NBS{1'b0}};
            pq_wp      <= {SW{1'b0}};
            pq_rp      <= {SW{1'b0}};
            pq_cnt     <= {(SW+1){1'b0}};
            pq_in      <= {NUM_SOCKETS{1'b0}};
            pc_vld     <= 1'b0;
            fr_valid   <= 1'b0;
            df_valid   <= 1'b0;
            cp_valid   <= 1'b0;
            ev_drop_valid      <= 1'b0;
            ev_drop_reason     <= 4'd0;
            ev_accepted        <= 1'b0;
            ev_delivered_valid <= 1'b0;
            ev_delivered_bytes <= 16'd0;
            ev_nb_returned     <= 1'b0;
        end else begin
            ev_drop_valid      <= 1'b0;
            ev_accepted        <= 1'b0;
            ev_delivered_valid <= 1'b0;
            ev_nb_returned     <= 1'b0;
            if (fr_valid && m_free_ready) fr_valid <= 1'b0;
            if (df_move) begin
                df_valid <= 1'b0;
                fr_valid <= 1'b1;
                fr_head  <= df_head;
                fr_tail  <= df_tail;
                fr_count <= df_count;
            end
            if (cp_valid && m_cpl_ready) cp_valid <= 1'b0;

            case (state)
                // ---------------------------------------------------------- pick an event
                S_IDLE: begin
                    if (pick_req) begin
                        rq       <= s_req_data;
                        last_src <= 2'd0;
                        state    <= S_REQ;
                    end else if (pick_meta) begin
                        mt_reason   <= s_meta_reason;
                        mt_vlan     <= s_meta_vlan;
                        mt_src_ip   <= s_meta_src_ip;
                        mt_dst_ip   <= s_meta_dst_ip;
                        mt_src_port <= s_meta_src_port;
                        mt_dst_port <= s_meta_dst_port;
                        mt_seq      <= s_meta_seq;
                        mt_flags    <= s_meta_flags;
                        mt_pay_off  <= s_meta_pay_off;
                        mt_pay_len  <= s_meta_pay_len;
                        mt_head     <= s_meta_head;
                        mt_tail     <= s_meta_tail;
                        mt_count    <= s_meta_count;
                        last_src    <= 2'd1;
                        state       <= S_META;
                    end else if (pick_dlv) begin
                        sk_idx   <= pq_mem[pq_rp];
                        pq_in[pq_mem[pq_rp]] <= 1'b0;
                        pq_rp    <= (pq_rp == SOCK_LAST32[SW-1:0]) ? {SW{1'b0}} : pq_rp + 1'b1;
                        pq_cnt   <= pq_cnt - 1'b1;
                        last_src <= 2'd2;
                        state    <= S_DQ;
                    end
                end

                // ---------------------------------------------------------- requests
                S_REQ: begin
                    cst <= ST_OK;
                    if (rq_op == OP_SOCK_ADD) begin
                        if (rq_slot_free && rq[`BF_SOCK_DESC_PROTO_RANGE] == 8'd6) begin
                            b_idx <= req_bkt;
                            state <= S_REQ_ADD;
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
                    end else if (rq_op == OP_NOP) begin
                        state <= S_CPL;
                    end else begin
                        cst   <= ST_BAD_OPCODE;
                        state <= S_CPL;
                    end
                end
                S_REQ_ADD: begin
                    // sock_mem / bkt_mem written by the table write logic
                    bkt_vld[b_idx] <= 1'b1;
                    sock_used[rq_sock[SW-1:0]] <= 1'b1;
                    state <= S_CPL;
                end
                S_REQ_NB1: begin
                    nb_used[rq_ref[NW-1:0]] <= 1'b1;
                    if (pc_nb == rq_ref[NW-1:0]) pc_vld <= 1'b0;
                    if (skr_nb_tail != NULL16) begin
                        nb_idx <= skr_nb_tail[NW-1:0];
                        state  <= S_REQ_NB2;
                    end else begin
                        wake(sk_idx);
                        state <= S_IDLE;
                    end
                end
                S_REQ_NB2: begin
                    wake(sk_idx);
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
                    state <= S_IDLE;
                end

                // ---------------------------------------------------------- rx metadata
                S_META: begin
                    if (mt_reason != DROP_NONE) begin
                        dr    <= mt_reason;
                        state <= S_DROP;
                    end else begin
                        b_idx <= meta_bkt;
                        state <= S_LOOK0;
                    end
                end
                S_LOOK0: begin
                    if (bkt_rd == NULL16) begin
                        dr    <= DROP_NO_SOCKET;
                        state <= S_DROP;
                    end else begin
                        sk_idx <= bkt_rd[SW-1:0];
                        state  <= S_LOOK1;
                    end
                end
                S_LOOK1: begin
                    if (sk_match) begin
                        sk    <= sk_rd;
                        state <= S_TCP;
                    end else if (sk_next_sock == NULL16) begin
                        dr    <= DROP_NO_SOCKET;
                        state <= S_DROP;
                    end else begin
                        sk_idx <= sk_next_sock[SW-1:0];
                    end
                end
                S_TCP: begin
                    sk <= sk_tcp;
                    if (tcp_act == A_DROP) begin
                        dr    <= DROP_OOO;
                        state <= S_DROP;
                    end else if (tcp_act == A_CONSUME) begin
                        dr    <= DROP_NONE;
                        state <= S_DROP;
                    end else begin
                        ev_accepted <= tcp_accept;
                        if (sk_seg_tail != NULL16) begin
                            hd_idx <= sk_seg_tail[BW-1:0];
                            state  <= S_APP2;
                        end else begin
                            wake(sk_idx);
                            state <= S_IDLE;
                        end
                    end
                end
                S_APP2: begin
                    wake(sk_idx);
                    state <= S_IDLE;
                end
                S_DROP: begin
                    if (mt_count == 16'd0 || free_slot) begin
                        if (mt_count != 16'd0) begin
                            fr_valid <= 1'b1;
                            fr_head  <= mt_head;
                            fr_tail  <= mt_tail;
                            fr_count <= mt_count;
                        end
                        ev_drop_valid  <= (dr != DROP_NONE);
                        ev_drop_reason <= dr;
                        state <= S_IDLE;
                    end
                end

                // ---------------------------------------------------------- delivery
                S_DQ: begin
                    sk <= sk_rd;
                    if (sk_rd[`BF_SOCK_DESC_SEG_HEAD_RANGE] == NULL16) begin
                        state <= S_IDLE;
                    end else begin
                        hd_idx <= sk_rd[`BF_SOCK_DESC_SEG_HEAD_OFF*8 +: BW];
                        nb_idx <= skr_nb_head[NW-1:0];
                        state  <= S_D1;
                    end
                end
                S_D1: begin
                    hd <= hd_rd;
                    nb <= nb_rd;
                    ret_status <= ST_OK;
                    ret_flags  <= 8'd0;
                    if (hdr_len == 16'd0) begin
                        if (hdr_finrst && !skc_has_nb) state <= S_IDLE;
                        else state <= S_DFREE;
                    end else if (!skc_has_nb) begin
                        state <= S_IDLE;
                    end else begin
                        dn    <= n_calc;
                        dpage <= page_calc;
                        state <= pc_hit ? S_DISSUE : S_DPGREQ;
                    end
                end
                S_DPGREQ: if (m_dma_rd_req_ready) state <= S_DPGRSP;
                S_DPGRSP: if (s_axis_dma_rd_tvalid && s_axis_dma_rd_tlast) begin
                    if (s_axis_dma_rd_tuser) begin
                        ret_status <= ST_DMA_ERROR;
                        pc_vld     <= 1'b0;
                        state      <= S_DRET;
                    end else begin
                        pc_vld  <= 1'b1;
                        pc_nb   <= nb_idx;
                        pc_page <= dpage;
                        pc_addr <= s_axis_dma_rd_tdata[63:0];
                        state   <= S_DISSUE;
                    end
                end
                S_DISSUE: if (wr_fire) begin
                    hd <= hd_dlv;
                    nb <= nb_dlv;
                    sk <= sk_dlv;
                    ev_delivered_valid <= 1'b1;
                    ev_delivered_bytes <= {3'd0, dn};
                    if (dlv_drain) begin
                        df_valid <= 1'b1;
                        df_head  <= {{(16-BW){1'b0}}, hd_idx};
                        df_tail  <= chn_rd[15:0];
                        df_count <= chn_rd[31:16];
                    end
                    if (dlv_full) begin
                        ret_flags <= FL_FULL;
                        state     <= S_DRET;
                    end else begin
                        if (sk_dlv[`BF_SOCK_DESC_SEG_HEAD_RANGE] != NULL16) wake(sk_idx);
                        state <= S_IDLE;
                    end
                end
                S_DFREE: if (dfree_go) begin
                    fr_valid <= 1'b1;
                    fr_head  <= {{(16-BW){1'b0}}, hd_idx};
                    fr_tail  <= chn_rd[15:0];
                    fr_count <= chn_rd[31:16];
                    sk       <= sk_free;
                    if (hd_finrst) begin
                        ret_flags <= (hd[`BF_BUFLET_HDR_FLAGS_OFF*8] ? FL_FIN : 8'd0) |
                                     (hd[`BF_BUFLET_HDR_FLAGS_OFF*8+2] ? FL_RST : 8'd0);
                        state <= S_DRET;
                    end else begin
                        if (sk_free[`BF_SOCK_DESC_SEG_HEAD_RANGE] != NULL16) wake(sk_idx);
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
                    // an empty buffer reports where the stream stands (FIN at a buffer boundary)
                    cp_data[`BF_CPL_STREAM_OFF_RANGE] <= (nb_filled == 32'd0) ? sk[`BF_SOCK_DESC_STREAM_OFF_RANGE]
                                                                               : nb[`BF_NB_DESC_STREAM_OFF_RANGE];
                    nb_used[nb_idx] <= 1'b0;
                    if (pc_nb == nb_idx) pc_vld <= 1'b0;
                    ev_nb_returned <= 1'b1;
                    sk <= sk_ret;
                    if (sk_ret[`BF_SOCK_DESC_SEG_HEAD_RANGE] != NULL16) wake(sk_idx);
                    state <= S_IDLE;
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

    assign m_dma_rd_req_valid   = (state == S_DPGREQ);
    assign m_dma_rd_req_addr    = nb[`BF_NB_DESC_HMD_ADDR_RANGE] + {41'd0, dpage, 3'd0};
    assign m_dma_rd_req_len     = 16'd8;
    assign s_axis_dma_rd_tready = (state == S_DPGRSP);

    assign m_dma_wr_req_valid = (state == S_DISSUE) && mv_cmd_ready && !(dlv_drain && df_valid && !df_move);
    assign m_dma_wr_req_addr  = pc_addr + {52'd0, nb_filled[11:0]};
    assign m_dma_wr_req_len   = {3'd0, dn};

    toe_mover #(
        .DATA_WIDTH  (DATA_WIDTH),
        .BUFLET_BYTES(BUFLET_BYTES),
        .NUM_BUFLETS (NUM_BUFLETS)
    ) u_mover (
        .clk          (clk),
        .rst          (rst),
        .cmd_valid    (wr_fire),
        .cmd_ready    (mv_cmd_ready),
        .cmd_buf      ({{(16-BW){1'b0}}, hd_idx}),
        .cmd_off      (hd[`BF_BUFLET_HDR_DATA_OFF_RANGE]),
        .cmd_len      (dn),
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
        .out_idle     (mv_out_idle)
    );
endmodule
`default_nettype wire
