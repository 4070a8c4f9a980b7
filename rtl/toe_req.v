`resetall
`default_nettype none
// toe_req: request decode and validation for toe_engine (architecture.md, docs/rx-paths.md,
// docs/p2p.md). Holds the request entry the engine picked (rq), the CMD_DONE status and BYTES
// and the BUF_RELEASE head index; decides in S_REQ which operation goes on (go_*: SOCK_ADD,
// SOCK_DEL, NB_POST, ANON_POST, BUF_RELEASE) and with which status the others complete
// (BAD_SOCK, BAD_NB, BAD_BUF, BAD_OPCODE; NOP is OK). Gives the table writes of the request
// steps toe_engine sequences: SOCK_ADD (sock_desc as posted, the new context: UDP starts in
// ESTAB, at the head of its hash chain and of the active list), NB_POST (the new NB, the
// socket's NB list, the old tail's link), SOCK_DEL's unlinks (the bucket head or the
// predecessor's NEXT_SOCK, the predecessor's ACT_NEXT) and its free slot; the anonymous buffer
// entry {ADDR, LEN[15:0], TAG} (ANON_POST) and the CMD_DONE completion.
// Listening sockets (docs/tcp-receive.md): SOCK_LISTEN (a listen_desc: the slot free, TCP,
// RCV_BUF and RCV_WSCALE as SOCK_ADD's, FLAGS only PSH_RETURN and HOLD), SOCK_UNLISTEN (the
// slot listens) and SOCK_POOL (a free slot not yet pooled; no completion when accepted) are
// decided here (go_listen, go_unlisten, go_pool); toe_listen keeps their state. A pooled
// slot is refused by SOCK_ADD like a used one (and by the others, as a free one).
// A UDP socket ignores ISS, RCV_BUF, MSS and RCV_WSCALE (not validated); HOLD needs TCP.
`include "buflet_defs.vh"
module toe_req #(
    parameter NUM_SOCKETS = 64,
    parameter NUM_NBS     = 64,
    parameter NUM_BUFLETS = 256,
    parameter NUM_ANON    = 16,
    parameter NUM_LISTEN  = `BF_PARAM_DEF_NUM_LISTEN,
    parameter NW          = $clog2(NUM_NBS),
    parameter BW          = $clog2(NUM_BUFLETS),
    parameter AW          = (NUM_ANON > 1) ? $clog2(NUM_ANON) : 1
) (
    input  wire                           clk,
    input  wire                           rst,
    // the request entry, latched as the engine picks it
    input  wire                           load,
    input  wire [511:0]                   s_req_data,
    // FSM steps
    input  wire                           in_req,      // S_REQ: decode, CMD_DONE status
    input  wire                           in_rel0,     // S_REL0: head rl_buf checked
    input  wire                           rel_step,    // S_REL1: head rl_buf released
    input  wire                           in_add,      // S_REQ_ADD
    input  wire                           in_nb1,      // S_REQ_NB1: the NB, the socket's NB list
    input  wire                           in_nb2,      // S_REQ_NB2: the old tail's link
    input  wire                           in_ul0,      // S_DEL_UL0: the bucket head
    input  wire                           in_ul1,      // S_DEL_UL1: a hash chain element
    input  wire                           in_al1,      // S_DEL_AL1: an active list element
    input  wire                           in_end,      // S_DEL_END: the slot is freed
    input  wire                           st_set,      // the send side refused its request: CMD_DONE
    input  wire [7:0]                     st_val,      //   status st_val (toe_tx)
    // table state
    input  wire [NUM_SOCKETS-1:0]         sock_used,
    input  wire [NUM_NBS-1:0]             nb_used,
    input  wire [NUM_BUFLETS-1:0]         hold_bm,
    input  wire [NUM_ANON-1:0]            an_busy,
    input  wire                           rq_listening, // the listen slot SOCK_REF names listens (toe_listen)
    input  wire                           rq_pooled,    // the socket slot SOCK_REF names is pooled (toe_listen)
    input  wire [15:0]                    bkt_rd,      // head of the SOCK_ADD's hash chain
    input  wire [15:0]                    act_head,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [8*`BF_SOCK_CTX_SIZE-1:0] cx,          // the SOCK_DEL socket's context (its links)
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [8*`BF_SOCK_CTX_SIZE-1:0] cx_rd,       // the context just read (NB_POST, unlinks)
    input  wire [511:0]                   nb_rd,       // the NB just read (NB_POST: the old tail)
    // decode
    output reg  [511:0]                   rq,
    output wire [15:0]                    rq_sock,
    output wire [NW-1:0]                  rq_nb,       // NB_POST REF_NUM
    output wire                           go_add,
    output wire                           go_del,
    output wire                           go_nb,
    output wire                           go_anon,
    output wire                           go_rel,
    output wire                           go_snd,      // TX_POST or SOCK_CLOSE on a socket in use (toe_tx decides)
    output wire                           go_connect,  // the SOCK_ADD is an active open (CONNECT)
    output wire                           go_listen,   // SOCK_LISTEN accepted
    output wire                           go_unlisten, // SOCK_UNLISTEN accepted
    output wire                           go_pool,     // SOCK_POOL accepted (no completion)
    // BUF_RELEASE: head k, held or not, the last one
    output wire [BW-1:0]                  rl_buf,
    output wire                           rl_held,
    output wire                           rl_last,
    // table writes (sock_mem at rq_sock, bkt_mem at the bucket read)
    output wire                           sock_we,
    output wire                           bkt_we,
    output wire [15:0]                    bkt_wd,
    output wire                           ctx_we,
    output wire                           ctx_at_sock, // ... at rq_sock (else the context read)
    output reg  [8*`BF_SOCK_CTX_SIZE-1:0] ctx_wd,
    output wire                           nb_we,
    output wire                           nb_at_ref,   // ... at rq_nb (else the NB read)
    output wire [511:0]                   nb_wd,
    output wire [AW-1:0]                  an_ref,      // ANON_POST: slot
    output wire [111:0]                   an_ent,      //   and entry
    output reg  [255:0]                   cpl_cmd      // CMD_DONE
);
    localparam SW = $clog2(NUM_SOCKETS);
    localparam CW = 8 * `BF_SOCK_CTX_SIZE;
    localparam [15:0] NULL16 = 16'hFFFF;
    localparam [31:0] NBUF32 = NUM_BUFLETS;
    localparam [31:0] RCV_BUF_MAX = `BF_PARAM_RCV_BUF_MAX;
    localparam [7:0]  PROTO_TCP   = `BF_IP_PROTO_TCP;
    localparam [7:0]  PROTO_UDP   = `BF_IP_PROTO_UDP;
    localparam [31:0] ANON_MIN = `BF_PARAM_ANON_MIN_LEN;
    localparam [31:0] ANON_MAX = `BF_PARAM_ANON_MAX_LEN;
    localparam [15:0] RELEASE_MAX = `BF_PARAM_RELEASE_MAX;
    localparam [7:0] ST_FREE   = `BF_SOCK_STATE_FREE;
    localparam [7:0] ST_LISTEN = `BF_SOCK_STATE_LISTEN;
    localparam [7:0] ST_ESTAB  = `BF_SOCK_STATE_ESTAB;
    localparam [7:0] OP_SOCK_ADD    = `BF_OP_SOCK_ADD;
    localparam [7:0] OP_SOCK_DEL    = `BF_OP_SOCK_DEL;
    localparam [7:0] OP_NB_POST     = `BF_OP_NB_POST;
    localparam [7:0] OP_NOP         = `BF_OP_NOP;
    localparam [7:0] OP_ANON_POST   = `BF_OP_ANON_POST;
    localparam [7:0] OP_BUF_RELEASE = `BF_OP_BUF_RELEASE;
    localparam [7:0] OP_TX_POST     = `BF_OP_TX_POST;
    localparam [7:0] OP_SOCK_CLOSE  = `BF_OP_SOCK_CLOSE;
    localparam [7:0] OP_SOCK_LISTEN = `BF_OP_SOCK_LISTEN;
    localparam [7:0] OP_SOCK_UNLISTEN = `BF_OP_SOCK_UNLISTEN;
    localparam [7:0] OP_SOCK_POOL   = `BF_OP_SOCK_POOL;
    localparam [7:0] SF_LISTEN_OK   = `BF_SOCK_FLAG_PSH_RETURN | `BF_SOCK_FLAG_HOLD | `BF_SOCK_FLAG_DELAYED_ACK;
    localparam [7:0] ST_SYN_SENT    = `BF_SOCK_STATE_SYN_SENT;
    localparam [7:0] SF_CONNECT     = `BF_SOCK_FLAG_CONNECT;
    localparam [7:0] SF_ACCEPTED    = `BF_SOCK_FLAG_ACCEPTED;
    localparam [7:0] ST_OK         = `BF_STATUS_OK;
    localparam [7:0] ST_BAD_OPCODE = `BF_STATUS_BAD_OPCODE;
    localparam [7:0] ST_BAD_SOCK   = `BF_STATUS_BAD_SOCK;
    localparam [7:0] ST_BAD_NB     = `BF_STATUS_BAD_NB;
    localparam [7:0] ST_BAD_BUF    = `BF_STATUS_BAD_BUF;
    localparam [7:0] KIND_CMD_DONE = `BF_CPL_KIND_CMD_DONE;
    localparam [7:0] SF_HOLD       = `BF_SOCK_FLAG_HOLD;

    reg [7:0]  cst;                // CMD_DONE status
    reg [31:0] cbytes;             // CMD_DONE BYTES (BUF_RELEASE: chains released)
    reg [4:0]  rl_k;               // BUF_RELEASE: index of the head being released

    wire [7:0]  rq_op      = rq[`BF_REQ_HDR_OPCODE_RANGE];
    assign      rq_sock    = rq[`BF_REQ_HDR_SOCK_REF_RANGE];
    wire        rq_sock_in = ({16'd0, rq_sock} < NUM_SOCKETS);
    wire        sock_ok    = rq_sock_in && sock_used[rq_sock[SW-1:0]];
    wire        slot_free  = rq_sock_in && !sock_used[rq_sock[SW-1:0]] && !rq_pooled;
    // SOCK_ADD
    wire [31:0] rq_rcvbuf  = rq[`BF_SOCK_DESC_RCV_BUF_RANGE];
    wire        rq_tcp     = (rq[`BF_SOCK_DESC_PROTO_RANGE] == PROTO_TCP);
    wire        rq_udp     = (rq[`BF_SOCK_DESC_PROTO_RANGE] == PROTO_UDP);
    wire        rq_hold    = (rq[`BF_SOCK_DESC_FLAGS_RANGE] & SF_HOLD) != 8'd0;
    wire        rq_conn    = (rq[`BF_SOCK_DESC_FLAGS_RANGE] & SF_CONNECT) != 8'd0;
    wire        rq_accd    = (rq[`BF_SOCK_DESC_FLAGS_RANGE] & SF_ACCEPTED) != 8'd0;   // NIC-set only
    wire        add_ok     = slot_free && !rq_accd && !((rq_hold || rq_conn) && !rq_tcp) &&
                             (tcp_ok || rq_udp);
    // SOCK_LISTEN (SLOT is SOCK_REF's field), SOCK_UNLISTEN, SOCK_POOL
    wire        tcp_ok     = rq_tcp && (rq_rcvbuf != 32'd0) && (rq_rcvbuf <= RCV_BUF_MAX) &&
                             (rq[`BF_SOCK_DESC_RCV_WSCALE_RANGE] <= 8'd14);
    wire        lsn_ok     = ({16'd0, rq_sock} < NUM_LISTEN) && !rq_listening && tcp_ok &&
                             ((rq[`BF_LISTEN_DESC_FLAGS_RANGE] & ~SF_LISTEN_OK) == 8'd0);
    // NB_POST
    wire [31:0] rq_ref     = rq[`BF_NB_DESC_REF_NUM_RANGE];
    wire [31:0] rq_total   = rq[`BF_NB_DESC_TOTAL_BYTES_RANGE];
    wire [31:0] rq_pages   = rq[`BF_NB_DESC_HMD_PAGES_RANGE];
    wire        nb_ok      = (rq_ref < NUM_NBS) && !nb_used[rq_ref[NW-1:0]] && (rq_pages != 32'd0) &&
                             (rq_total != 32'd0) && ({12'd0, rq_total} <= {rq_pages, 12'd0});
    assign      rq_nb      = rq_ref[NW-1:0];
    // ANON_POST (SOCK_REF and FLAGS are not checked)
    wire [31:0] rq_aref    = rq[`BF_ANON_DESC_REF_NUM_RANGE];
    wire [31:0] rq_alen    = rq[`BF_ANON_DESC_LEN_RANGE];
    wire        an_ok      = (rq_aref < NUM_ANON) && !an_busy[rq_aref[AW-1:0]] &&
                             (rq_alen >= ANON_MIN) && (rq_alen <= ANON_MAX);
    assign      an_ref     = rq_aref[AW-1:0];
    assign      an_ent     = {rq[`BF_ANON_DESC_ADDR_RANGE], rq_alen[15:0], rq[`BF_ANON_DESC_TAG_RANGE]};
    // BUF_RELEASE: COUNT, head k at byte 16 + 2k
    wire [15:0] rl_count   = rq[`BF_BUF_RELEASE_COUNT_RANGE];
    wire        rl_cnt_ok  = (rl_count != 16'd0) && (rl_count <= RELEASE_MAX);
    wire [8:0]  rl_bit     = 9'd128 + {rl_k, 4'd0};
    wire [15:0] rl_head    = rq[rl_bit +: 16];
    assign      rl_buf     = rl_head[BW-1:0];
    assign      rl_held    = ({16'd0, rl_head} < NBUF32) && hold_bm[rl_buf];
    assign      rl_last    = ({11'd0, rl_k} + 16'd1 == rl_count);

    // the operation that goes on from S_REQ (else CMD_DONE with req_st)
    assign go_add  = (rq_op == OP_SOCK_ADD) && add_ok;
    assign go_del  = (rq_op == OP_SOCK_DEL) && sock_ok;
    assign go_nb   = (rq_op == OP_NB_POST) && sock_ok && nb_ok;
    assign go_anon = (rq_op == OP_ANON_POST) && an_ok;
    assign go_rel  = (rq_op == OP_BUF_RELEASE) && rl_cnt_ok;
    assign go_snd  = (rq_op == OP_TX_POST || rq_op == OP_SOCK_CLOSE) && sock_ok;
    assign go_connect = rq_conn;
    assign go_listen   = (rq_op == OP_SOCK_LISTEN) && lsn_ok;
    assign go_unlisten = (rq_op == OP_SOCK_UNLISTEN) && rq_listening;
    assign go_pool     = (rq_op == OP_SOCK_POOL) && slot_free;
    reg [7:0] req_st;
    always @* begin
        case (rq_op)
            OP_SOCK_ADD:    req_st = add_ok ? ST_OK : ST_BAD_SOCK;
            OP_SOCK_DEL:    req_st = sock_ok ? ST_OK : ST_BAD_SOCK;
            OP_NB_POST:     req_st = !sock_ok ? ST_BAD_SOCK : !nb_ok ? ST_BAD_NB : ST_OK;
            OP_ANON_POST:   req_st = an_ok ? ST_OK : ST_BAD_NB;
            OP_NOP:         req_st = ST_OK;
            OP_BUF_RELEASE: req_st = rl_cnt_ok ? ST_OK : ST_BAD_BUF;
            OP_TX_POST, OP_SOCK_CLOSE: req_st = sock_ok ? ST_OK : ST_BAD_SOCK;
            OP_SOCK_LISTEN:   req_st = lsn_ok ? ST_OK : ST_BAD_SOCK;
            OP_SOCK_UNLISTEN: req_st = rq_listening ? ST_OK : ST_BAD_SOCK;
            OP_SOCK_POOL:     req_st = slot_free ? ST_OK : ST_BAD_SOCK;
            default:        req_st = ST_BAD_OPCODE;
        endcase
    end

    always @(posedge clk) begin
        if (!rst) begin
            if (load) rq <= s_req_data;
            if (in_req) begin
                cst    <= req_st;
                cbytes <= 32'd0;
                rl_k   <= 5'd0;
            end
            // heads in order; the first one not held (or out of range) ends it BAD_BUF
            if (st_set) cst <= st_val;
            if (in_rel0 && !rl_held) begin
                cst    <= ST_BAD_BUF;
                cbytes <= {27'd0, rl_k};
            end
            if (rel_step) begin
                rl_k <= rl_k + 5'd1;
                if (rl_last) cbytes <= {16'd0, rl_count};
            end
        end
    end

    // table writes
    wire [15:0] cxr_nb_head = cx_rd[`BF_SOCK_CTX_NB_HEAD_RANGE];
    wire [15:0] cxr_nb_tail = cx_rd[`BF_SOCK_CTX_NB_TAIL_RANGE];
    wire        ul1_hit     = (cx_rd[`BF_SOCK_CTX_NEXT_SOCK_RANGE] == rq_sock);
    wire        al1_hit     = (cx_rd[`BF_SOCK_CTX_ACT_NEXT_RANGE] == rq_sock);
    reg [CW-1:0] cx_add, cx_nbp;
    reg [511:0]  nb_post, nb_link;
    assign sock_we     = in_add;
    assign bkt_we      = in_add || (in_ul0 && bkt_rd == rq_sock);
    assign bkt_wd      = in_add ? rq_sock : cx[`BF_SOCK_CTX_NEXT_SOCK_RANGE];
    assign ctx_we      = in_add || in_nb1 || (in_ul1 && ul1_hit) || (in_al1 && al1_hit) || in_end;
    assign ctx_at_sock = in_add || in_end;
    assign nb_we       = in_nb1 || in_nb2;
    assign nb_at_ref   = in_nb1;
    assign nb_wd       = in_nb1 ? nb_post : nb_link;
    always @* begin
        ctx_wd = cx_rd;
        if (in_add) ctx_wd = cx_add;
        if (in_nb1) ctx_wd = cx_nbp;
        if (in_ul1) ctx_wd[`BF_SOCK_CTX_NEXT_SOCK_RANGE] = cx[`BF_SOCK_CTX_NEXT_SOCK_RANGE];
        if (in_al1) ctx_wd[`BF_SOCK_CTX_ACT_NEXT_RANGE] = cx[`BF_SOCK_CTX_ACT_NEXT_RANGE];
        if (in_end) begin
            ctx_wd = {CW{1'b0}};
            ctx_wd[`BF_SOCK_CTX_STATE_RANGE] = ST_FREE;
        end
    end
    always @* begin
        cx_add = {CW{1'b0}};
        cx_add[`BF_SOCK_CTX_STATE_RANGE]     = rq_udp ? ST_ESTAB : rq_conn ? ST_SYN_SENT : ST_LISTEN;
        cx_add[`BF_SOCK_CTX_WS_OK_RANGE]     = 8'd0;
        cx_add[`BF_SOCK_CTX_NEXT_SOCK_RANGE] = bkt_rd;
        cx_add[`BF_SOCK_CTX_NB_HEAD_RANGE]   = NULL16;
        cx_add[`BF_SOCK_CTX_NB_TAIL_RANGE]   = NULL16;
        cx_add[`BF_SOCK_CTX_SEG_HEAD_RANGE]  = NULL16;
        cx_add[`BF_SOCK_CTX_SEG_TAIL_RANGE]  = NULL16;
        cx_add[`BF_SOCK_CTX_OOO_HEAD_RANGE]  = NULL16;
        cx_add[`BF_SOCK_CTX_ACT_NEXT_RANGE]  = act_head;
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
        cpl_cmd = 256'd0;
        cpl_cmd[`BF_CPL_KIND_RANGE]     = KIND_CMD_DONE;
        cpl_cmd[`BF_CPL_STATUS_RANGE]   = cst;
        cpl_cmd[`BF_CPL_SOCK_REF_RANGE] = rq_sock;
        cpl_cmd[`BF_CPL_TAG_RANGE]      = rq[`BF_REQ_HDR_TAG_RANGE];
        cpl_cmd[`BF_CPL_OPCODE_RANGE]   = rq_op;
        cpl_cmd[`BF_CPL_BYTES_RANGE]    = cbytes;
    end
endmodule
`resetall
