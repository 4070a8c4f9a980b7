// N-client DMA read arbiter, round robin, with split transactions: up to OUTSTANDING reads are
// in flight at the host port at once, from any clients (one client may have several). A grant
// is taken by a client with a pending request and held only until that request is taken (a
// registered grant: the request's address and length come from one client's registers); the
// client index then enters a FIFO of reads in flight. The host answers in request order, so the
// response words go to the client at the FIFO's head, which leaves it with the last word
// (tlast). The latency of one read overlaps the requests and data of the others: the port is
// limited by its data words, not by its round trip (docs/architecture.md "DMA").
// Client buses are flattened: client i uses bits [i*W +: W]. The response data is broadcast;
// tvalid goes only to the client at the head. N is 1..256 (the requester id m_dma_rd_req_id is
// the granted client index, 8 bits); OUTSTANDING is a power of two >= 2 (checked at
// elaboration).

`resetall
`default_nettype none
`include "buflet_checks.vh"

module dma_rd_arb #(
    parameter N           = 3,
    parameter DATA_WIDTH  = 64,
    parameter OUTSTANDING = 8
) (
    input  wire                       clk,
    input  wire                       rst,
    // clients
    input  wire [N-1:0]               s_req_valid,
    output wire [N-1:0]               s_req_ready,
    input  wire [N*64-1:0]            s_req_addr,
    input  wire [N*16-1:0]            s_req_len,
    output wire [DATA_WIDTH-1:0]      m_axis_rsp_tdata,
    output wire [DATA_WIDTH/8-1:0]    m_axis_rsp_tkeep,
    output wire [N-1:0]               m_axis_rsp_tvalid,
    input  wire [N-1:0]               m_axis_rsp_tready,
    output wire                       m_axis_rsp_tlast,
    output wire                       m_axis_rsp_tuser,
    // host DMA read port
    output wire                       m_dma_rd_req_valid,
    output wire                       m_dma_rd_req_pending, // a grant whose request is not yet taken (registers only)
    input  wire                       m_dma_rd_req_ready,
    output wire [63:0]                m_dma_rd_req_addr,
    output wire [15:0]                m_dma_rd_req_len,
    output wire [7:0]                 m_dma_rd_req_id,     // granted client index (requester id)
    input  wire [DATA_WIDTH-1:0]      s_axis_dma_rd_tdata,
    input  wire [DATA_WIDTH/8-1:0]    s_axis_dma_rd_tkeep,
    input  wire                       s_axis_dma_rd_tvalid,
    output wire                       s_axis_dma_rd_tready,
    input  wire                       s_axis_dma_rd_tlast,
    input  wire                       s_axis_dma_rd_tuser
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(dma_rd_arb)
        if (N < 1 || N > 256) begin : g_check_n
            `BF_ERROR("dma_rd_arb: N must be in 1..256 (the requester id is 8 bits)")
        end
        if (!`BF_IS_POW2(OUTSTANDING) || OUTSTANDING < 2) begin : g_check_outstanding
            `BF_ERROR("dma_rd_arb: OUTSTANDING must be a power of two >= 2")
        end
    endgenerate

    localparam GW = (N > 1) ? $clog2(N) : 1;

    reg          busy;      // a client holds the grant; its request is not taken yet
    reg [GW-1:0] grant;
    reg [GW-1:0] last_grant;

    // reads in flight, in request order: the client each response goes to
    wire          req_fire = m_dma_rd_req_valid && m_dma_rd_req_ready;
    wire          fl_ready;             // room for one more read in flight
    wire          fl_valid;             // a read is in flight
    wire [GW-1:0] head;                 // its client
    wire          rsp_end = s_axis_dma_rd_tvalid && s_axis_dma_rd_tready && s_axis_dma_rd_tlast;
    sync_fifo #(.WIDTH(GW), .DEPTH(OUTSTANDING)) u_inflight (
        .clk(clk), .rst(rst),
        .s_valid(req_fire), .s_ready(fl_ready), .s_data(grant),
        .m_valid(fl_valid), .m_ready(rsp_end), .m_data(head)
    );

    // round robin pick: first valid requester after last_grant
    wire [GW-1:0] pick;
    wire          pick_ok;
    rr_pick #(.N(N), .GW(GW)) u_pick (.req(s_req_valid), .last(last_grant), .pick(pick), .pick_ok(pick_ok));

    wire [N-1:0] gmask = {{(N-1){1'b0}}, 1'b1} << grant;
    wire [N-1:0] hmask = {{(N-1){1'b0}}, 1'b1} << head;

    assign m_dma_rd_req_pending = busy;
    assign m_dma_rd_req_valid = busy && fl_ready && s_req_valid[grant];
    assign m_dma_rd_req_addr  = s_req_addr[grant*64 +: 64];
    assign m_dma_rd_req_id    = 8'(grant);
    assign m_dma_rd_req_len   = s_req_len[grant*16 +: 16];
    assign s_req_ready        = req_fire ? gmask : {N{1'b0}};

    assign m_axis_rsp_tdata   = s_axis_dma_rd_tdata;
    assign m_axis_rsp_tkeep   = s_axis_dma_rd_tkeep;
    assign m_axis_rsp_tlast   = s_axis_dma_rd_tlast;
    assign m_axis_rsp_tuser   = s_axis_dma_rd_tuser;
    assign m_axis_rsp_tvalid  = (fl_valid && s_axis_dma_rd_tvalid) ? hmask : {N{1'b0}};
    assign s_axis_dma_rd_tready = fl_valid && m_axis_rsp_tready[head];

    always @(posedge clk) begin
        if (rst) begin
            busy       <= 1'b0;
            grant      <= {GW{1'b0}};
            last_grant <= GW'(N - 1);
        end else if (!busy) begin
            if (pick_ok) begin
                busy       <= 1'b1;
                grant      <= pick;
                last_grant <= pick;
            end
        end else if (req_fire || !s_req_valid[grant]) begin
            busy <= 1'b0;   // request taken (its read is in flight), or withdrawn
        end
    end
endmodule

`resetall
