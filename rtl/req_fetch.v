// Request ring reader. While enabled and head != tail it DMA-reads the 64-byte entry at
// req_base + (head mod req_size)*64, collects it into 512 bits and hands it out on m_req_*;
// head increments when the entry is handed out. A refused read (tuser on the last response
// word) hands out an all-zero entry (opcode 0 -> BAD_OPCODE completion downstream), except a
// read refused by the protection table (dma_guard, rd_refused with the error word): that entry
// is not handed out and REQ_HEAD stays (the fault is fatal, the top stops this reader through
// `enable`; docs/protection.md).
// req_size must be a power of two (the ring index is head & (req_size-1)).

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module req_fetch #(
    parameter DATA_WIDTH = 64
) (
    input  wire                    clk,
    input  wire                    rst,
    input  wire                    enable,
    input  wire [63:0]             req_base,
    input  wire [31:0]             req_size,
    input  wire [31:0]             req_tail,
    output reg  [31:0]             req_head,
    // DMA read client
    output wire                    m_dma_rd_req_valid,
    input  wire                    m_dma_rd_req_ready,
    output wire [63:0]             m_dma_rd_req_addr,
    output wire [15:0]             m_dma_rd_req_len,
    input  wire [DATA_WIDTH-1:0]   s_axis_dma_rd_tdata,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [DATA_WIDTH/8-1:0] s_axis_dma_rd_tkeep,   // packed response: keep not needed
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                    s_axis_dma_rd_tvalid,
    output wire                    s_axis_dma_rd_tready,
    input  wire                    s_axis_dma_rd_tlast,
    input  wire                    s_axis_dma_rd_tuser,
    input  wire                    rd_refused,     // the error word is a protection refusal
    // request entries
    output wire                    m_req_valid,
    input  wire                    m_req_ready,
    output wire [511:0]            m_req_data
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(req_fetch)
    endgenerate

    localparam ENTRY_BYTES = `BF_REQ_HDR_SIZE;
    localparam WORDS       = (ENTRY_BYTES * 8 + DATA_WIDTH - 1) / DATA_WIDTH;
    localparam BUF_W       = WORDS * DATA_WIDTH;

    localparam S_IDLE = 2'd0, S_REQ = 2'd1, S_RSP = 2'd2, S_OUT = 2'd3;
    reg [1:0] state;

    reg [BUF_W-1:0] entry;
    reg [3:0]       word_cnt;
    reg [63:0]      rd_addr;

    wire [31:0] idx = req_head & (req_size - 32'd1);

    assign m_dma_rd_req_valid   = (state == S_REQ);
    assign m_dma_rd_req_addr    = rd_addr;
    assign m_dma_rd_req_len     = 16'(ENTRY_BYTES);
    assign s_axis_dma_rd_tready = (state == S_RSP);
    assign m_req_valid          = (state == S_OUT);
    assign m_req_data           = entry[511:0];

    wire beat = s_axis_dma_rd_tvalid && (state == S_RSP);

    always @(posedge clk) begin
        if (rst) begin
            state    <= S_IDLE;
            req_head <= 32'd0;
            word_cnt <= 4'd0;
            rd_addr  <= 64'd0;
        end else begin
            case (state)
                S_IDLE: begin
                    word_cnt <= 4'd0;
                    if (enable && req_head != req_tail) begin
                        rd_addr <= req_base + {26'd0, idx, 6'd0};
                        state   <= S_REQ;
                    end
                end
                S_REQ: if (m_dma_rd_req_ready) state <= S_RSP;
                S_RSP: if (beat) begin
                    word_cnt <= word_cnt + 4'd1;
                    if (s_axis_dma_rd_tlast) begin
                        state <= (s_axis_dma_rd_tuser && rd_refused) ? S_IDLE : S_OUT;
                    end
                end
                S_OUT: if (m_req_ready) begin
                    req_head <= req_head + 32'd1;
                    state    <= S_IDLE;
                end
                default: state <= S_IDLE;
            endcase
        end
    end

    // entry assembly: word k of the response lands at bits [k*DATA_WIDTH +: DATA_WIDTH]
    genvar k;
    generate
        for (k = 0; k < WORDS; k = k + 1) begin : g_word
            always @(posedge clk) begin
                if (beat && word_cnt == 4'(k)) begin
                    entry[k*DATA_WIDTH +: DATA_WIDTH] <= s_axis_dma_rd_tdata;
                end
                // refused read: the whole entry becomes zero (opcode 0)
                if (beat && s_axis_dma_rd_tlast && s_axis_dma_rd_tuser) begin
                    entry[k*DATA_WIDTH +: DATA_WIDTH] <= {DATA_WIDTH{1'b0}};
                end
            end
        end
    endgenerate
endmodule

`resetall
