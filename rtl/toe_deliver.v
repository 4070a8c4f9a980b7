`resetall
`default_nettype none
// toe_deliver: the delivery step of toe_engine (architecture.md "Delivery", docs/p2p.md): a
// socket with an in-order segment and a named buffer moves one chunk of the head segment into
// the head NB, n = min(DATA_LEN, TOTAL_BYTES - FILLED, 4096 - FILLED mod 4096), DMA-written at
// page (FILLED / 4096) + FILLED mod 4096; a hold socket (sock FLAGS & HOLD) instead writes one
// 8-byte hold_rec at the record position 8 * RECS of the page list, its chunk bounded by the
// buflet holding DATA_OFF. The page address comes from the page cache or is read from the NB's
// page list (docs/architecture.md "Delivery"): a miss reads PG_GROUP (8) entries at once, from
// the chunk's page on (fewer at the list's end: HMD_PAGES), one DMA read of 8 * count bytes,
// so the read's round trip is paid once per 8 pages; the cache holds that group (nb, first
// page, count, addresses) and, per entry, whether the page was checked against the protection
// table (S_DPGCHK, once per page before its first use).
// toe_engine sequences the step (S_D1 .. S_DRET, in_* below) and owns the tables; this block
// holds the chunk (dn, dpage), the page just read (pg_new), the page cache and the NB return
// being prepared (ret_status, ret_flags, ret_hdr), and gives the table writes of the steps
// (ctx_we/cx_dl, nb_we/nb_dl, hdr_we/hd_dlv at the working indices: after the chunk in S_DISSUE;
// the head segment unlinked in S_DFREE; the head NB returned in S_DRET), cx_dl and nb_dl also
// being the working copies after the step, and the decisions:
//   dlv_empt   the chunk empties the segment;
//   dlv_dfree  ... which then leaves the list and its chain is freed (no FIN/RST, not hold; a
//              datagram ends once written or once the NB is full);
//   dlv_ret    the NB is returned after the chunk: FULL (TOTAL_BYTES reached or, hold, no room
//              for another record: RECS == min(HMD_PAGES * 512, 65535)), PSH (a PSH/URG segment
//              emptied on a PSH_RETURN socket) or DATAGRAM [| TRUNC] with HDR_BYTES min(8, FILLED).
// A refused or failed page-list read returns the head NB with PROT_FAULT / DMA_ERROR, BYTES =
// FILLED, FLAGS 0; the segment stays. cpl_ret is the NB_RETURN completion (an empty buffer
// reports where the stream stands: the socket's STREAM_OFF).
`include "buflet_defs.vh"
`include "buflet_checks.vh"
module toe_deliver #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_NBS      = 64,
    parameter NW           = $clog2(NUM_NBS)
) (
    input  wire                           clk,
    input  wire                           rst,
    // FSM steps
    input  wire                           in_d1,      // S_D1: size the chunk, find its page
    input  wire                           pl_deny,    // S_DPGREQ: the page list is refused
    input  wire                           pg_beat,    // S_DPGRSP: a page-list word is taken
    input  wire                           pg_rsp,     // S_DPGRSP: ... the last one
    input  wire                           in_pgchk,   // S_DPGCHK: the page is checked
    input  wire                           prot_deny,
    input  wire                           issue,      // S_DISSUE: the chunk's DMA write fires
    input  wire                           dfree,      // S_DFREE: the empty segment is freed
    input  wire                           ret_go,     // S_DRET: the NB_RETURN is posted
    input  wire                           ret_del,    // S_DEL_NBR: SOCK_DEL returns the head NB
    input  wire                           ret_tmo,    // S_TK2: the sweep returns the head NB
    input  wire                           nb_post,    // S_REQ_NB1: NB slot post_nb is posted
    input  wire [NW-1:0]                  post_nb,
    // the page-list read's data
    input  wire                           rd_tuser,
    input  wire [DATA_WIDTH-1:0]          rd_data,
    // the socket, its head segment and head NB (working copies and just read)
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [511:0]                   sk,
    input  wire [127:0]                   hd_rd,
    input  wire [511:0]                   nb_rd,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [8*`BF_SOCK_CTX_SIZE-1:0] cx,
    input  wire [511:0]                   nb,
    input  wire [127:0]                   hd,
    input  wire [NW-1:0]                  nb_idx,
    input  wire                           hd_is_tail, // the head segment is the list's tail
    input  wire [15:0]                    nxt_rd,     // ... else its NEXT_SEG
    // decisions
    output wire                           d_empty,    // S_D1: the head segment is empty (FIN/RST)
    output wire                           d_finrst,
    output wire                           pc_hit,     // S_D1: the page address is cached
    output wire                           pc_hit_chk, // ... and was checked (S_DPGCHK)
    output reg  [12:0]                    dn,         // chunk bytes
    output wire [63:0]                    pg_new,     // the chunk's page address (cached)
    output wire                           sk_hold,
    output wire                           dlv_empt,
    output wire                           dlv_dfree,
    output wire                           dlv_ret,
    output wire                           hd_finrst,  // the working segment has FIN or RST
    // DMA: the page-list read, its protection check, the chunk's write
    output wire [63:0]                    pl_addr,
    output wire [31:0]                    pl_len,
    output wire [63:0]                    pl_rd_addr,
    output wire [15:0]                    pl_rd_len,  // 8 * entries read at once
    output wire [63:0]                    wr_addr,
    output wire [15:0]                    wr_len,
    // table writes (working copies after the step) and the completion
    output wire                           ctx_we,
    output wire [8*`BF_SOCK_CTX_SIZE-1:0] cx_dl,
    output wire                           nb_we,
    output wire [511:0]                   nb_dl,
    output wire                           hdr_we,
    output reg  [127:0]                   hd_dlv,
    output reg  [255:0]                   cpl_ret
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh): a chunk fits 13 bits
    generate
        `BF_CHECK_DATA_WIDTH(toe_deliver)
        if (!`BF_IS_POW2(BUFLET_BYTES) || BUFLET_BYTES > 4096) begin : g_check_buflet_bytes
            `BF_ERROR("toe_deliver: BUFLET_BYTES must be a power of two <= 4096")
        end
    endgenerate
    localparam [15:0] NULL16 = 16'hFFFF;
    localparam [7:0]  PROTO_UDP = `BF_IP_PROTO_UDP;
    localparam [31:0] BB_M1_32 = BUFLET_BYTES - 1;
    localparam [15:0] BB16     = BB_M1_32[15:0] + 16'd1;
    localparam [12:0] PAGE_BYTES = `BF_PARAM_PAGE_BYTES;
    localparam [7:0] ST_OK         = `BF_STATUS_OK;
    localparam [7:0] ST_DMA_ERROR  = `BF_STATUS_DMA_ERROR;
    localparam [7:0] ST_PROT_FAULT = `BF_STATUS_PROT_FAULT;
    localparam [7:0] KIND_NB_RETURN = `BF_CPL_KIND_NB_RETURN;
    localparam [7:0] FL_FULL     = `BF_CPL_FLAG_FULL;
    localparam [7:0] FL_PSH      = `BF_CPL_FLAG_PSH;
    localparam [7:0] FL_FIN      = `BF_CPL_FLAG_FIN;
    localparam [7:0] FL_RST      = `BF_CPL_FLAG_RST;
    localparam [7:0] FL_DELETE   = `BF_CPL_FLAG_DELETE;
    localparam [7:0] FL_TIMEOUT  = `BF_CPL_FLAG_TIMEOUT;
    localparam [7:0] FL_TRUNC    = `BF_CPL_FLAG_TRUNC;
    localparam [7:0] FL_DATAGRAM = `BF_CPL_FLAG_DATAGRAM;
    localparam [7:0] TF_FIN = `BF_TCP_FLAG_FIN;
    localparam [7:0] TF_RST = `BF_TCP_FLAG_RST;
    localparam [7:0] TF_PSH = `BF_TCP_FLAG_PSH;
    localparam [7:0] TF_URG = `BF_TCP_FLAG_URG;
    localparam [7:0] SF_PSH_RETURN = `BF_SOCK_FLAG_PSH_RETURN;
    localparam [7:0] SF_HOLD       = `BF_SOCK_FLAG_HOLD;

    reg [19:0]   dpage;            // page index of the chunk
    reg [7:0]    ret_status;
    reg [7:0]    ret_flags;
    reg [7:0]    ret_hdr;          // HDR_BYTES of the return (DATAGRAM returns only)
    reg [511:0]  nb_dlv, nb_ret;
    reg [8*`BF_SOCK_CTX_SIZE-1:0] cx_dlv, cx_free, cx_ret;
    // page address cache: one group of the page list, (nb, pages pc_page .. pc_page+pc_cnt-1)
    localparam PG_GROUP = `BF_PARAM_PAGE_LIST_GROUP;
    localparam PGW      = $clog2(PG_GROUP);
    localparam EPW      = (DATA_WIDTH / 64 < PG_GROUP) ? DATA_WIDTH / 64 : PG_GROUP;  // entries per word
    reg                pc_vld;
    reg [NW-1:0]       pc_nb;
    reg [19:0]         pc_page;
    reg [PGW:0]        pc_cnt;
    reg [63:0]         pc_arr [0:PG_GROUP-1];
    reg [PG_GROUP-1:0] pc_chk;         // the entry's page was checked (S_DPGCHK)
    reg [PGW:0]        dcnt;           // entries the miss reads
    reg [PGW-1:0]      pg_k;           // response words taken

    // ------------------------------------------------------------------ the chunk (S_D1)
    wire        cx_has_nb   = (cx[`BF_SOCK_CTX_NB_HEAD_RANGE] != NULL16);
    wire [15:0] hdr_len     = hd_rd[`BF_BUFLET_HDR_DATA_LEN_RANGE];
    assign      d_empty     = (hdr_len == 16'd0);
    assign      d_finrst    = (hd_rd[`BF_BUFLET_HDR_FLAGS_RANGE] & (TF_FIN | TF_RST)) != 8'd0;
    wire [31:0] nbr_filled  = nb_rd[`BF_NB_DESC_FILLED_RANGE];
    wire [31:0] nbr_total   = nb_rd[`BF_NB_DESC_TOTAL_BYTES_RANGE];
    wire [31:0] nbr_room    = nbr_total - nbr_filled;
    wire [12:0] nbr_pg_room = PAGE_BYTES - {1'b0, nbr_filled[11:0]};
    wire [12:0] n_a         = ({16'd0, hdr_len} < nbr_room) ? hdr_len[12:0] : nbr_room[12:0];
    wire [31:0] n_a32       = ({16'd0, hdr_len} < nbr_room) ? {16'd0, hdr_len} : nbr_room;
    wire [12:0] n_pay       = (n_a32 < {19'd0, nbr_pg_room}) ? n_a : nbr_pg_room;
    // hold socket: the chunk never crosses a buflet of the chain, and the page is the one of
    // the record position 8 * RECS
    assign      sk_hold     = (sk[`BF_SOCK_DESC_FLAGS_RANGE] & SF_HOLD) != 8'd0;
    wire        sk_udp      = (sk[`BF_SOCK_DESC_PROTO_RANGE] == PROTO_UDP);
    wire [15:0] hdr_doff    = hd_rd[`BF_BUFLET_HDR_DATA_OFF_RANGE];
    wire [15:0] bb_room     = BB16 - (hdr_doff & BB_M1_32[15:0]);
    wire [12:0] n_hold      = (n_a32 < {16'd0, bb_room}) ? n_a : bb_room[12:0];
    wire [12:0] n_calc      = sk_hold ? n_hold : n_pay;
    wire [6:0]  nbr_rec_pg  = nb_rd[`BF_NB_DESC_RECS_OFF*8+9 +: 7];   // (8 * RECS) / 4096
    wire [19:0] page_calc   = sk_hold ? {13'd0, nbr_rec_pg} : nbr_filled[31:12];
    wire [19:0] pc_off      = page_calc - pc_page;
    assign      pc_hit      = pc_vld && (pc_nb == nb_idx) && (page_calc >= pc_page) &&
                              (pc_off < 20'(pc_cnt));
    assign      pc_hit_chk  = pc_chk[pc_off[PGW-1:0]];
    // entries a miss reads: min(PG_GROUP, HMD_PAGES - page), at least 1
    wire [31:0] nbr_pages   = nb_rd[`BF_NB_DESC_HMD_PAGES_RANGE];
    wire [31:0] pg_left     = nbr_pages - {12'd0, page_calc};
    wire [PGW:0] cnt_calc   = (nbr_pages <= {12'd0, page_calc}) ? (PGW+1)'(1) :
                              (pg_left >= 32'(PG_GROUP)) ? (PGW+1)'(PG_GROUP) : pg_left[PGW:0];
    // the chunk's entry (dpage is in the cached group from S_DPGCHK / S_DISSUE on)
    /* verilator lint_off UNUSEDSIGNAL */
    wire [19:0] dp_off      = dpage - pc_page;   // below PG_GROUP
    /* verilator lint_on UNUSEDSIGNAL */
    assign      pg_new      = pc_arr[dp_off[PGW-1:0]];

    // ------------------------------------------------------------------ after the chunk (S_DISSUE)
    wire [31:0] nb_filled  = nb[`BF_NB_DESC_FILLED_RANGE];
    wire [15:0] nb_recs    = nb[`BF_NB_DESC_RECS_RANGE];
    wire [31:0] nb_pages   = nb[`BF_NB_DESC_HMD_PAGES_RANGE];
    wire [15:0] seg_after  = hd_is_tail ? NULL16 : nxt_rd;   // next of the in-order head
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
        nb_ret = nb;
        nb_ret[`BF_NB_DESC_UDP_HDR_BYTES_RANGE] = {8'd0, ret_hdr};
    end
    // FULL: TOTAL_BYTES reached, or (hold) no room for another record (RECS == HMD_PAGES * 512)
    // (capped by the 16-bit RECS field: at most 65535 records)
    wire [40:0] rec_room_w = {nb_pages, 9'd0};
    wire [15:0] rec_room   = (rec_room_w > 41'd65535) ? 16'hFFFF : rec_room_w[15:0];
    wire rec_full  = sk_hold && (nb_dlv[`BF_NB_DESC_RECS_RANGE] == rec_room);
    wire dlv_full  = (nb_dlv[`BF_NB_DESC_FILLED_RANGE] == nb[`BF_NB_DESC_TOTAL_BYTES_RANGE]) || rec_full;
    assign hd_finrst = (hd[`BF_BUFLET_HDR_FLAGS_RANGE] & (TF_FIN | TF_RST)) != 8'd0;
    wire hd_pshurg = (hd[`BF_BUFLET_HDR_FLAGS_RANGE] & (TF_PSH | TF_URG)) != 8'd0;
    assign dlv_empt = (hd[`BF_BUFLET_HDR_DATA_LEN_RANGE] == {3'd0, dn});
    // a datagram ends once written or once the NB is full (the rest is discarded)
    wire dlv_dgram = sk_udp && (dlv_empt || dlv_full);
    // a chunk that empties a segment without FIN/RST (or ends a datagram) removes it at once
    wire dlv_drain = (dlv_empt && !hd_finrst) || dlv_dgram;
    // a hold chunk that empties its segment holds the chain instead (HEAD in the record)
    assign dlv_dfree = dlv_drain && !sk_hold;
    wire dlv_psh   = dlv_empt && !hd_finrst && hd_pshurg && !dlv_full &&
                     ((sk[`BF_SOCK_DESC_FLAGS_RANGE] & SF_PSH_RETURN) != 8'd0);
    assign dlv_ret = dlv_full || dlv_psh || dlv_dgram;
    wire [31:0] dlv_filled = nb_dlv[`BF_NB_DESC_FILLED_RANGE];
    wire [7:0]  dg_hdr     = (dlv_filled < 32'd8) ? dlv_filled[7:0] : 8'd8;   // min(8, FILLED)
    wire [7:0]  dlv_flags  = dlv_dgram ? (FL_DATAGRAM | (dlv_empt ? 8'd0 : FL_TRUNC)) :
                             dlv_full  ? FL_FULL : FL_PSH;

    // table writes: S_DISSUE (segment, and NB and context unless the NB is returned), S_DFREE
    // (context, unless the segment's FIN/RST returns the NB), S_DRET (NB, context)
    assign ctx_we = (issue && !dlv_ret) || (dfree && !hd_finrst) || ret_go;
    assign cx_dl  = issue ? cx_dlv : dfree ? cx_free : cx_ret;
    assign nb_we  = (issue && !dlv_ret) || ret_go;
    assign nb_dl  = issue ? nb_dlv : nb_ret;
    assign hdr_we = issue;

    // ------------------------------------------------------------------ DMA and protection
    // the page list (HMD_ADDR, 8 * HMD_PAGES saturated to 32 bits, READ); a hold chunk writes
    // its 8-byte record at (8 * RECS) mod 4096 of its page
    assign pl_addr    = nb[`BF_NB_DESC_HMD_ADDR_RANGE];
    assign pl_len     = (nb_pages[31:29] != 3'd0) ? 32'hFFFF_FFFF : {nb_pages[28:0], 3'd0};
    assign pl_rd_addr = nb[`BF_NB_DESC_HMD_ADDR_RANGE] + {41'd0, dpage, 3'd0};
    assign pl_rd_len  = 16'({dcnt, 3'd0});
    assign wr_addr    = sk_hold ? (pg_new + {52'd0, nb_recs[8:0], 3'd0}) : (pg_new + {52'd0, nb_filled[11:0]});
    assign wr_len     = sk_hold ? 16'd8 : {3'd0, dn};

    // ------------------------------------------------------------------ registers
    always @(posedge clk) begin
        if (rst) begin
            pc_vld <= 1'b0;
        end else begin
            if (in_d1) begin
                ret_status <= ST_OK;
                ret_flags  <= 8'd0;
                ret_hdr    <= 8'd0;
                pg_k       <= {PGW{1'b0}};
                if (!d_empty && cx_has_nb) begin
                    dn    <= n_calc;
                    dpage <= page_calc;
                    dcnt  <= cnt_calc;
                end
            end
            if (ret_del || ret_tmo) begin
                ret_status <= ST_OK;
                ret_flags  <= ret_del ? FL_DELETE : FL_TIMEOUT;
                ret_hdr    <= 8'd0;
            end
            // the page list in S_DPGREQ and the page in S_DPGCHK are asked before they are
            // used: a refusal returns the NB PROT_FAULT (the page cache is left as it is)
            if (pl_deny || (in_pgchk && prot_deny)) ret_status <= ST_PROT_FAULT;
            if (pg_beat) pg_k <= pg_k + 1'b1;
            if (pg_rsp) begin
                if (rd_tuser) begin
                    ret_status <= ST_DMA_ERROR;
                    pc_vld     <= 1'b0;
                end else begin
                    pc_vld  <= 1'b1;
                    pc_nb   <= nb_idx;
                    pc_page <= dpage;
                    pc_cnt  <= dcnt;
                    pc_chk  <= {PG_GROUP{1'b0}};
                end
            end
            if (in_pgchk && !prot_deny) pc_chk[dp_off[PGW-1:0]] <= 1'b1;
            if (issue && dlv_ret) begin
                ret_flags <= dlv_flags;
                ret_hdr   <= dlv_dgram ? dg_hdr : 8'd0;
            end
            if (dfree && hd_finrst)
                ret_flags <= (((hd[`BF_BUFLET_HDR_FLAGS_RANGE] & TF_FIN) != 8'd0) ? FL_FIN : 8'd0) |
                             (((hd[`BF_BUFLET_HDR_FLAGS_RANGE] & TF_RST) != 8'd0) ? FL_RST : 8'd0);
            if (nb_post && pc_nb == post_nb) pc_vld <= 1'b0;
            if (ret_go && pc_nb == nb_idx) pc_vld <= 1'b0;
        end
    end

    // the group's entries, EPW per response word, packed from the first one
    integer e;
    always @(posedge clk) begin
        if (pg_beat) begin
            for (e = 0; e < EPW; e = e + 1) begin
                if (32'(pg_k) * 32'(EPW) + 32'(e) < 32'(PG_GROUP))
                    pc_arr[PGW'(32'(pg_k) * 32'(EPW) + 32'(e))] <= rd_data[64*e +: 64];
            end
        end
    end

    always @* begin
        cpl_ret = 256'd0;
        cpl_ret[`BF_CPL_KIND_RANGE]       = KIND_NB_RETURN;
        cpl_ret[`BF_CPL_STATUS_RANGE]     = ret_status;
        cpl_ret[`BF_CPL_SOCK_REF_RANGE]   = nb[`BF_NB_DESC_SOCK_REF_RANGE];
        cpl_ret[`BF_CPL_TAG_RANGE]        = nb[`BF_NB_DESC_TAG_RANGE];
        cpl_ret[`BF_CPL_REF_NUM_RANGE]    = nb[`BF_NB_DESC_REF_NUM_RANGE];
        cpl_ret[`BF_CPL_BYTES_RANGE]      = nb_filled;
        cpl_ret[`BF_CPL_FLAGS_RANGE]      = {24'd0, ret_flags};
        cpl_ret[`BF_CPL_OPCODE_RANGE]     = nb[`BF_NB_DESC_OPCODE_RANGE];
        cpl_ret[`BF_CPL_HDR_BYTES_RANGE]  = ret_hdr;
        // an empty buffer reports where the stream stands (FIN at a buffer boundary)
        cpl_ret[`BF_CPL_STREAM_OFF_RANGE] = (nb_filled == 32'd0) ? cx[`BF_SOCK_CTX_STREAM_OFF_RANGE]
                                                                 : nb[`BF_NB_DESC_STREAM_OFF_RANGE];
    end
endmodule
`resetall
