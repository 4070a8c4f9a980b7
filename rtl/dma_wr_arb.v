// N-client DMA write arbiter, round robin, with split request and data phases (docs/
// architecture.md "DMA writes are split transactions"). A grant is taken by a client with a
// pending request and held only until that request is accepted; the client's index then enters
// a FIFO of writes whose data is owed (OUTSTANDING deep), and the data words are passed from
// the client at the FIFO's head, which leaves it with its last word (tlast). So the next
// request (of any client) is accepted while a write's data streams, and one write's data
// follows the last one's without a gap. A client's data is passed only after its request was
// accepted, and each client's writes keep their order. Client buses are flattened: client i
// uses bits [i*W +: W]. N is 1..256 (the requester id m_dma_wr_req_id is the granted client
// index, 8 bits), OUTSTANDING a power of two >= 2 (checked at elaboration).

`resetall
`default_nettype none
`include "buflet_checks.vh"

module dma_wr_arb #(
    parameter N           = 2,
    parameter DATA_WIDTH  = 64,
    parameter OUTSTANDING = 4
) (
    input  wire                       clk,
    input  wire                       rst,
    // clients
    input  wire [N-1:0]               s_req_valid,
    output wire [N-1:0]               s_req_ready,
    input  wire [N*64-1:0]            s_req_addr,
    input  wire [N*16-1:0]            s_req_len,
    input  wire [N*DATA_WIDTH-1:0]    s_axis_tdata,
    input  wire [N*DATA_WIDTH/8-1:0]  s_axis_tkeep,
    input  wire [N-1:0]               s_axis_tvalid,
    output wire [N-1:0]               s_axis_tready,
    input  wire [N-1:0]               s_axis_tlast,
    // host DMA write port
    output wire                       m_dma_wr_req_valid,
    output wire                       m_dma_wr_req_pending, // a grant whose request is not yet taken (registers only)
    input  wire                       m_dma_wr_req_ready,
    output wire [63:0]                m_dma_wr_req_addr,
    output wire [15:0]                m_dma_wr_req_len,
    output wire [7:0]                 m_dma_wr_req_id,     // granted client index (requester id)
    output wire [DATA_WIDTH-1:0]      m_axis_dma_wr_tdata,
    output wire [DATA_WIDTH/8-1:0]    m_axis_dma_wr_tkeep,
    output wire                       m_axis_dma_wr_tvalid,
    input  wire                       m_axis_dma_wr_tready,
    output wire                       m_axis_dma_wr_tlast
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(dma_wr_arb)
        if (N < 1 || N > 256) begin : g_check_n
            `BF_ERROR("dma_wr_arb: N must be in 1..256 (the requester id is 8 bits)")
        end
        if (!`BF_IS_POW2(OUTSTANDING) || OUTSTANDING < 2) begin : g_check_outstanding
            `BF_ERROR("dma_wr_arb: OUTSTANDING must be a power of two >= 2")
        end
    endgenerate

    localparam KW = DATA_WIDTH / 8;
    localparam GW = (N > 1) ? $clog2(N) : 1;

    reg          busy;      // a client holds the grant; its request is not taken yet
    reg [GW-1:0] grant;
    reg [GW-1:0] last_grant;

    wire          req_fire = m_dma_wr_req_valid && m_dma_wr_req_ready;
    wire          ow_ready;             // room for one more write owed its data
    wire          ow_valid;             // a write's data is owed
    wire [GW-1:0] head;                 // its client
    wire          data_end = m_axis_dma_wr_tvalid && m_axis_dma_wr_tready && m_axis_dma_wr_tlast;
    sync_fifo #(.WIDTH(GW), .DEPTH(OUTSTANDING)) u_owed (
        .clk(clk), .rst(rst),
        .s_valid(req_fire), .s_ready(ow_ready), .s_data(grant),
        .m_valid(ow_valid), .m_ready(data_end), .m_data(head)
    );

    // round robin pick: first valid requester after last_grant
    wire [GW-1:0] pick;
    wire          pick_ok;
    rr_pick #(.N(N), .GW(GW)) u_pick (.req(s_req_valid), .last(last_grant), .pick(pick), .pick_ok(pick_ok));

    wire [N-1:0] gmask = {{(N-1){1'b0}}, 1'b1} << grant;
    wire [N-1:0] hmask = {{(N-1){1'b0}}, 1'b1} << head;

    assign m_dma_wr_req_pending = busy;
    assign m_dma_wr_req_valid   = busy && ow_ready && s_req_valid[grant];
    assign m_dma_wr_req_addr    = s_req_addr[grant*64 +: 64];
    assign m_dma_wr_req_len     = s_req_len[grant*16 +: 16];
    assign m_dma_wr_req_id      = 8'(grant);
    assign s_req_ready          = req_fire ? gmask : {N{1'b0}};

    assign m_axis_dma_wr_tdata  = s_axis_tdata[head*DATA_WIDTH +: DATA_WIDTH];
    assign m_axis_dma_wr_tkeep  = s_axis_tkeep[head*KW +: KW];
    assign m_axis_dma_wr_tlast  = s_axis_tlast[head];
    assign m_axis_dma_wr_tvalid = ow_valid && s_axis_tvalid[head];
    assign s_axis_tready        = (ow_valid && m_axis_dma_wr_tready) ? hmask : {N{1'b0}};

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
            busy <= 1'b0;   // request taken (its data is owed), or withdrawn
        end
    end
endmodule

`resetall
