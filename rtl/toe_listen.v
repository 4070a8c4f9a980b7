`resetall
`default_nettype none
// toe_listen: listening sockets for toe_engine (docs/tcp-receive.md "Listening sockets").
// Holds the NUM_LISTEN listen slots (valid bit and key {LOCAL_IP, LOCAL_PORT, VLAN} in flops,
// compared in parallel with a frame's destination; the template entry, listen_desc as posted,
// in a memory read at a registered address), the accept pool (a FIFO of socket refs in a
// memory of NUM_SOCKETS entries, with a "pooled" bitmap so that requests naming a pooled slot
// are refused like a free one) and the HALF_OPEN count.
// toe_engine sequences the steps:
//   listen_we    SOCK_LISTEN accepted: slot rq SLOT keeps the entry and listens
//   unlisten     SOCK_UNLISTEN accepted: slot rq SOCK_REF stops listening
//   pool_push    SOCK_POOL accepted: socket rq SOCK_REF joins the tail of the pool
//   acc_take     a SYN took the pool's head (pool_head): popped, HALF_OPEN += 1, and the
//                template of the matching slot (l_idx) is read (lt_rd, valid next cycle)
//   ho_dec       an accepted socket left SYN_RCVD: HALF_OPEN -= 1
// and it decides: l_hit (with l_idx: the lowest listening slot whose key equals the frame's
// destination IP, port and VLAN), full (the pool is empty or HALF_OPEN >= HALF_OPEN_MAX),
// rq_listening / rq_pooled (the state of the slot a request names).
`include "buflet_defs.vh"
`include "buflet_checks.vh"
module toe_listen #(
    parameter NUM_LISTEN  = `BF_PARAM_DEF_NUM_LISTEN,
    parameter NUM_SOCKETS = 64,
    parameter SW          = $clog2(NUM_SOCKETS),
    parameter LW          = (NUM_LISTEN > 1) ? $clog2(NUM_LISTEN) : 1
) (
    input  wire          clk,
    input  wire          rst,
    // requests: the entry and its SOCK_REF / SLOT field
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [511:0]  rq,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire          listen_we,
    input  wire          unlisten,
    input  wire          pool_push,
    output wire          rq_listening,   // rq SOCK_REF < NUM_LISTEN and that slot listens
    output wire          rq_pooled,      // rq SOCK_REF < NUM_SOCKETS and that slot is pooled
    // the frame's destination (metadata)
    input  wire [31:0]   mt_dst_ip,
    input  wire [15:0]   mt_dst_port,
    input  wire [11:0]   mt_vlan,
    output reg           l_hit,
    // the accept pool and HALF_OPEN
    input  wire [31:0]   half_open_max,
    output wire          full,
    output wire [SW-1:0] pool_head,
    input  wire          acc_take,
    output wire [511:0]  lt_rd,          // template of slot lt_ra (one cycle after acc_take)
    output reg  [LW-1:0] lt_ra,
    input  wire          ho_dec,
    output wire [31:0]   half_open,      // register HALF_OPEN
    output wire [31:0]   pool_count      // register ACCEPT_POOL
);
    // parameter checks (elaboration time): LISTEN_SLOT is one byte
    generate
        if (NUM_LISTEN < 1 || NUM_LISTEN > 256) begin : g_check_num_listen
            `BF_ERROR("toe_listen: NUM_LISTEN must be in 1..256")
        end
    endgenerate
    localparam [31:0] SOCK_LAST32 = NUM_SOCKETS - 1;

    // listen slots
    reg [NUM_LISTEN-1:0] lv;
    reg [31:0]           l_ip   [0:NUM_LISTEN-1];
    reg [15:0]           l_port [0:NUM_LISTEN-1];
    reg [11:0]           l_vlan [0:NUM_LISTEN-1];
    reg [511:0]          lt_mem [0:NUM_LISTEN-1];
    // accept pool
    reg [SW-1:0]          pool_mem [0:NUM_SOCKETS-1];
    reg [SW-1:0]          pool_wp, pool_rp;
    reg [SW:0]            pool_cnt;
    reg [NUM_SOCKETS-1:0] pooled;
    reg [SW:0]            ho_cnt;
    reg [LW-1:0]          l_idx;          // the matching slot

    wire [15:0] rq_ref = rq[`BF_REQ_HDR_SOCK_REF_RANGE];
    wire        rq_lin = ({16'd0, rq_ref} < NUM_LISTEN);
    wire        rq_sin = ({16'd0, rq_ref} < NUM_SOCKETS);
    wire [LW-1:0] rq_l = rq_ref[LW-1:0];
    wire [SW-1:0] rq_s = rq_ref[SW-1:0];
    assign rq_listening = rq_lin && lv[rq_l];
    assign rq_pooled    = rq_sin && pooled[rq_s];
    assign lt_rd        = lt_mem[lt_ra];
    assign pool_head    = pool_mem[pool_rp];
    assign pool_count   = {{(31-SW){1'b0}}, pool_cnt};
    assign half_open    = {{(31-SW){1'b0}}, ho_cnt};
    assign full         = (pool_cnt == {(SW+1){1'b0}}) || (half_open >= half_open_max);

    // the lowest listening slot whose key is the frame's destination
    integer i;
    always @* begin
        l_hit = 1'b0;
        l_idx = {LW{1'b0}};
        for (i = NUM_LISTEN - 1; i >= 0; i = i - 1) begin
            if (lv[i] && l_ip[i] == mt_dst_ip && l_port[i] == mt_dst_port && l_vlan[i] == mt_vlan) begin
                l_hit = 1'b1;
                l_idx = i[LW-1:0];
            end
        end
    end

    always @(posedge clk) begin
        if (listen_we) begin
            l_ip[rq_l]   <= rq[`BF_LISTEN_DESC_LOCAL_IP_RANGE];
            l_port[rq_l] <= rq[`BF_LISTEN_DESC_LOCAL_PORT_RANGE];
            l_vlan[rq_l] <= rq[`BF_LISTEN_DESC_VLAN_OFF*8 +: 12];
            lt_mem[rq_l] <= rq;
        end
        if (pool_push) pool_mem[pool_wp] <= rq_s;
        if (acc_take) lt_ra <= l_idx;
    end
    always @(posedge clk) begin
        if (rst) begin
            lv       <= {NUM_LISTEN{1'b0}};
            pooled   <= {NUM_SOCKETS{1'b0}};
            {pool_wp, pool_rp, pool_cnt, ho_cnt} <= 0;
        end else begin
            if (listen_we) lv[rq_l] <= 1'b1;
            if (unlisten) lv[rq_l] <= 1'b0;
            if (pool_push) begin
                pooled[rq_s] <= 1'b1;
                pool_wp <= (pool_wp == SOCK_LAST32[SW-1:0]) ? {SW{1'b0}} : pool_wp + 1'b1;
            end
            if (acc_take) begin
                pooled[pool_head] <= 1'b0;
                pool_rp <= (pool_rp == SOCK_LAST32[SW-1:0]) ? {SW{1'b0}} : pool_rp + 1'b1;
            end
            pool_cnt <= pool_cnt + {{SW{1'b0}}, pool_push} - {{SW{1'b0}}, acc_take};
            ho_cnt   <= ho_cnt + {{SW{1'b0}}, acc_take} - {{SW{1'b0}}, ho_dec};
        end
    end
endmodule
`resetall
