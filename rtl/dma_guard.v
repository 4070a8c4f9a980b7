// DMA guard (seed 004, docs/protection.md): the protection backstop between the DMA arbiters
// and the host DMA ports. Every request leaving an arbiter is looked up in prot_table (two
// combinational lookup ports: reads ask READ, writes ask WRITE); a refused request never
// reaches the host:
//   read : the request is accepted from the arbiter and answered with one response word
//          {tdata 0, tkeep 0, tlast 1, tuser 1} (the error response clients already handle);
//          rd_refused is high while that word is presented, so that a client can tell a
//          refusal from a host DMA error (request fetch: the ring fetch is fatal, the entry is
//          not handed out).
//   write: the request is accepted from the arbiter and its data words are accepted and
//          dropped up to tlast; wr_refused is high while that write's data is being taken, up
//          to and with its last word (the completion writer keeps its entry).
// Each refusal pulses ev_rd_fault / ev_wr_fault (one cycle, registered) with the refused
// address and the requester id (the arbiter's client index). Up to OUTSTANDING reads may be in
// flight (dma_rd_arb's split transactions): every accepted read, passed or refused, enters a
// FIFO in request order, and the responses leave in that order: a refused read's error word
// waits until the host has answered every read before it, and the host's words of later reads
// wait behind it. Writes are split the same way (dma_wr_arb): up to WR_OUTSTANDING accepted
// writes, passed or refused, may be owed their data; a FIFO of them in request order tells
// whether the data words now coming are passed to the host or dropped.

`resetall
`default_nettype none
`include "buflet_checks.vh"

module dma_guard #(
    parameter DATA_WIDTH  = 64,
    parameter OUTSTANDING = 8,   // reads in flight at most (dma_rd_arb's OUTSTANDING)
    parameter WR_OUTSTANDING = 4 // writes owed their data at most (dma_wr_arb's OUTSTANDING)
) (
    input  wire                    clk,
    input  wire                    rst,
    // read requests from the read arbiter
    input  wire                    s_rd_req_valid,
    output wire                    s_rd_req_ready,
    input  wire [63:0]             s_rd_req_addr,
    input  wire [15:0]             s_rd_req_len,
    input  wire [7:0]              s_rd_req_id,
    // read responses to the read arbiter
    output wire [DATA_WIDTH-1:0]   m_axis_rd_tdata,
    output wire [DATA_WIDTH/8-1:0] m_axis_rd_tkeep,
    output wire                    m_axis_rd_tvalid,
    input  wire                    m_axis_rd_tready,
    output wire                    m_axis_rd_tlast,
    output wire                    m_axis_rd_tuser,
    output wire                    rd_refused,
    // host DMA read port
    output wire                    m_dma_rd_req_valid,
    input  wire                    m_dma_rd_req_ready,
    output wire [63:0]             m_dma_rd_req_addr,
    output wire [15:0]             m_dma_rd_req_len,
    output wire [7:0]              m_dma_rd_req_id,
    input  wire [DATA_WIDTH-1:0]   s_axis_dma_rd_tdata,
    input  wire [DATA_WIDTH/8-1:0] s_axis_dma_rd_tkeep,
    input  wire                    s_axis_dma_rd_tvalid,
    output wire                    s_axis_dma_rd_tready,
    input  wire                    s_axis_dma_rd_tlast,
    input  wire                    s_axis_dma_rd_tuser,
    // write requests and data from the write arbiter
    input  wire                    s_wr_req_valid,
    output wire                    s_wr_req_ready,
    input  wire [63:0]             s_wr_req_addr,
    input  wire [15:0]             s_wr_req_len,
    input  wire [7:0]              s_wr_req_id,
    input  wire [DATA_WIDTH-1:0]   s_axis_wr_tdata,
    input  wire [DATA_WIDTH/8-1:0] s_axis_wr_tkeep,
    input  wire                    s_axis_wr_tvalid,
    output wire                    s_axis_wr_tready,
    input  wire                    s_axis_wr_tlast,
    output wire                    wr_refused,
    // host DMA write port
    output wire                    m_dma_wr_req_valid,
    input  wire                    m_dma_wr_req_ready,
    output wire [63:0]             m_dma_wr_req_addr,
    output wire [15:0]             m_dma_wr_req_len,
    output wire [7:0]              m_dma_wr_req_id,
    output wire [DATA_WIDTH-1:0]   m_axis_dma_wr_tdata,
    output wire [DATA_WIDTH/8-1:0] m_axis_dma_wr_tkeep,
    output wire                    m_axis_dma_wr_tvalid,
    input  wire                    m_axis_dma_wr_tready,
    output wire                    m_axis_dma_wr_tlast,
    // protection lookups (prot_table ports; READ for rd, WRITE for wr)
    output wire [63:0]             rd_lk_addr,
    output wire [31:0]             rd_lk_len,
    input  wire                    rd_lk_deny,
    output wire [63:0]             wr_lk_addr,
    output wire [31:0]             wr_lk_len,
    input  wire                    wr_lk_deny,
    // fault events
    output reg                     ev_rd_fault,
    output reg  [63:0]             ev_rd_fault_addr,
    output reg  [7:0]              ev_rd_fault_id,
    output reg                     ev_wr_fault,
    output reg  [63:0]             ev_wr_fault_addr,
    output reg  [7:0]              ev_wr_fault_id
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(dma_guard)
    endgenerate

    localparam KW = DATA_WIDTH / 8;

    // ------------------------------------------------------------------ reads
    assign rd_lk_addr = s_rd_req_addr;
    assign rd_lk_len  = {16'd0, s_rd_req_len};

    // reads in flight, in request order: whether each was refused
    wire rf_ready;   // room for one more
    wire rf_valid;   // a read is in flight
    wire rf_head;    // the oldest one was refused: its error word is next
    wire rd_take   = s_rd_req_valid && s_rd_req_ready;
    wire rd_refuse = s_rd_req_valid && rf_ready && rd_lk_deny;
    wire rd_err    = rf_valid && rf_head;   // presenting the error word of a refused read
    wire rd_pop    = rd_err ? m_axis_rd_tready
                            : (s_axis_dma_rd_tvalid && s_axis_dma_rd_tready && s_axis_dma_rd_tlast);
    sync_fifo #(.WIDTH(1), .DEPTH(OUTSTANDING)) u_rd_order (
        .clk(clk), .rst(rst),
        .s_valid(rd_take), .s_ready(rf_ready), .s_data(rd_lk_deny),
        .m_valid(rf_valid), .m_ready(rd_pop), .m_data(rf_head)
    );

    assign m_dma_rd_req_valid = s_rd_req_valid && rf_ready && !rd_lk_deny;
    assign m_dma_rd_req_addr  = s_rd_req_addr;
    assign m_dma_rd_req_len   = s_rd_req_len;
    assign m_dma_rd_req_id    = s_rd_req_id;
    assign s_rd_req_ready     = rf_ready && (rd_lk_deny || m_dma_rd_req_ready);

    assign m_axis_rd_tdata  = rd_err ? {DATA_WIDTH{1'b0}} : s_axis_dma_rd_tdata;
    assign m_axis_rd_tkeep  = rd_err ? {KW{1'b0}} : s_axis_dma_rd_tkeep;
    assign m_axis_rd_tvalid = rd_err || (rf_valid && s_axis_dma_rd_tvalid);
    assign m_axis_rd_tlast  = rd_err || s_axis_dma_rd_tlast;
    assign m_axis_rd_tuser  = rd_err || s_axis_dma_rd_tuser;
    assign s_axis_dma_rd_tready = rf_valid && !rf_head && m_axis_rd_tready;
    assign rd_refused       = rd_err;

    // ------------------------------------------------------------------ writes
    assign wr_lk_addr = s_wr_req_addr;
    assign wr_lk_len  = {16'd0, s_wr_req_len};

    // writes owed their data, in request order: whether each was refused
    wire wo_ready;   // room for one more
    wire wo_valid;   // a write's data is owed
    wire wo_head;    // the oldest one was refused: its data is dropped
    wire wr_take   = s_wr_req_valid && s_wr_req_ready;
    wire wr_refuse = s_wr_req_valid && wo_ready && wr_lk_deny;
    wire wr_drop   = wo_valid && wo_head;
    wire wr_end    = s_axis_wr_tvalid && s_axis_wr_tready && s_axis_wr_tlast;
    sync_fifo #(.WIDTH(1), .DEPTH(WR_OUTSTANDING)) u_wr_order (
        .clk(clk), .rst(rst),
        .s_valid(wr_take), .s_ready(wo_ready), .s_data(wr_lk_deny),
        .m_valid(wo_valid), .m_ready(wr_end), .m_data(wo_head)
    );

    assign m_dma_wr_req_valid = s_wr_req_valid && wo_ready && !wr_lk_deny;
    assign m_dma_wr_req_addr  = s_wr_req_addr;
    assign m_dma_wr_req_len   = s_wr_req_len;
    assign m_dma_wr_req_id    = s_wr_req_id;
    assign s_wr_req_ready     = wo_ready && (wr_lk_deny || m_dma_wr_req_ready);

    assign m_axis_dma_wr_tdata  = s_axis_wr_tdata;
    assign m_axis_dma_wr_tkeep  = s_axis_wr_tkeep;
    assign m_axis_dma_wr_tlast  = s_axis_wr_tlast;
    assign m_axis_dma_wr_tvalid = s_axis_wr_tvalid && wo_valid && !wo_head;
    assign s_axis_wr_tready     = wo_valid && (wo_head || m_axis_dma_wr_tready);
    assign wr_refused           = wr_drop;

    always @(posedge clk) begin
        if (rst) begin
            ev_rd_fault      <= 1'b0;
            ev_rd_fault_addr <= 64'd0;
            ev_rd_fault_id   <= 8'd0;
            ev_wr_fault      <= 1'b0;
            ev_wr_fault_addr <= 64'd0;
            ev_wr_fault_id   <= 8'd0;
        end else begin
            ev_rd_fault <= 1'b0;
            ev_wr_fault <= 1'b0;
            if (rd_refuse) begin
                ev_rd_fault      <= 1'b1;
                ev_rd_fault_addr <= s_rd_req_addr;
                ev_rd_fault_id   <= s_rd_req_id;
            end
            if (wr_refuse) begin
                ev_wr_fault      <= 1'b1;
                ev_wr_fault_addr <= s_wr_req_addr;
                ev_wr_fault_id   <= s_wr_req_id;
            end
        end
    end
endmodule

`resetall
