// Completion ring writer. Takes 32-byte `cpl` entries, fills in the PHASE byte
// (1 - ((tail / size) & 1)) and writes each entry with one 32-byte DMA write at
// cpl_base + (tail mod size)*32. Stalls while tail - head == size. After each entry's
// data: tail += 1 and a one-cycle cpl_posted pulse with the entry's status.
// Protection (docs/protection.md): no entry is taken while `stop` (STATUS.FAULT) is high; a
// write refused by dma_guard (wr_refused on its last word) does not move the tail or post: the
// entry is kept and written again (at the then current tail) once `stop` is low.
// cpl_size must be a power of two.

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module cpl_writer #(
    parameter DATA_WIDTH = 64
) (
    input  wire                    clk,
    input  wire                    rst,
    input  wire [63:0]             cpl_base,
    input  wire [31:0]             cpl_size,
    input  wire [31:0]             cpl_head,
    output reg  [31:0]             cpl_tail,
    input  wire                    stop,         // ring fault: post nothing
    input  wire                    wr_refused,   // the current write is being dropped (dma_guard)
    // completion entries
    input  wire                    s_cpl_valid,
    output wire                    s_cpl_ready,
    input  wire [255:0]            s_cpl_data,
    // DMA write client
    output wire                    m_dma_wr_req_valid,
    input  wire                    m_dma_wr_req_ready,
    output wire [63:0]             m_dma_wr_req_addr,
    output wire [15:0]             m_dma_wr_req_len,
    output wire [DATA_WIDTH-1:0]   m_axis_dma_wr_tdata,
    output wire [DATA_WIDTH/8-1:0] m_axis_dma_wr_tkeep,
    output wire                    m_axis_dma_wr_tvalid,
    input  wire                    m_axis_dma_wr_tready,
    output wire                    m_axis_dma_wr_tlast,
    // posted event
    output reg                     cpl_posted,
    output reg  [7:0]              cpl_status
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(cpl_writer)
    endgenerate

    localparam KEEP_WIDTH = DATA_WIDTH / 8;
    localparam CPL_BYTES  = `BF_CPL_SIZE;
    localparam WORDS      = (CPL_BYTES * 8 + DATA_WIDTH - 1) / DATA_WIDTH;
    localparam BUF_W      = WORDS * DATA_WIDTH;
    localparam LAST_BYTES = CPL_BYTES - (WORDS - 1) * KEEP_WIDTH;

    localparam S_IDLE = 2'd0, S_REQ = 2'd1, S_DATA = 2'd2, S_HOLD = 2'd3;
    reg [1:0] state;

    reg [BUF_W-1:0] buf_q;
    reg [3:0]       word_cnt;
    reg [63:0]      wr_addr;
    reg [255:0]     held;        // the entry being written (kept for a retry after a refusal)

    wire        full  = (cpl_tail - cpl_head) == cpl_size;
    wire [31:0] idx   = cpl_tail & (cpl_size - 32'd1);
    wire [7:0]  phase = ((cpl_tail & cpl_size) == 32'd0) ? 8'd1 : 8'd0;
    wire        last  = (word_cnt == 4'(WORDS - 1));

    // the entry with its PHASE byte filled in
    reg [255:0] entry;
    always @(*) begin
        entry = (state == S_HOLD) ? held : s_cpl_data;
        entry[`BF_CPL_PHASE_RANGE] = phase;
    end

    assign s_cpl_ready          = (state == S_IDLE) && !full && !stop;
    assign m_dma_wr_req_valid   = (state == S_REQ);
    assign m_dma_wr_req_addr    = wr_addr;
    assign m_dma_wr_req_len     = 16'(CPL_BYTES);
    assign m_axis_dma_wr_tvalid = (state == S_DATA);
    assign m_axis_dma_wr_tdata  = buf_q[DATA_WIDTH-1:0];
    assign m_axis_dma_wr_tlast  = last;
    assign m_axis_dma_wr_tkeep  = last ? {KEEP_WIDTH{1'b1}} >> (KEEP_WIDTH - LAST_BYTES)
                                       : {KEEP_WIDTH{1'b1}};

    wire beat = (state == S_DATA) && m_axis_dma_wr_tready;

    always @(posedge clk) begin
        if (rst) begin
            state      <= S_IDLE;
            cpl_tail   <= 32'd0;
            cpl_posted <= 1'b0;
            cpl_status <= 8'd0;
            word_cnt   <= 4'd0;
            wr_addr    <= 64'd0;
            buf_q      <= {BUF_W{1'b0}};
            held       <= 256'd0;
        end else begin
            cpl_posted <= 1'b0;
            case (state)
                S_IDLE: if (s_cpl_valid && !full && !stop) begin
                    buf_q      <= BUF_W'(entry);
                    held       <= s_cpl_data;
                    cpl_status <= s_cpl_data[`BF_CPL_STATUS_RANGE];
                    wr_addr    <= cpl_base + {27'd0, idx, 5'd0};
                    word_cnt   <= 4'd0;
                    state      <= S_REQ;
                end
                S_REQ: if (m_dma_wr_req_ready) state <= S_DATA;
                S_DATA: if (beat) begin
                    buf_q    <= buf_q >> DATA_WIDTH;
                    word_cnt <= word_cnt + 4'd1;
                    if (last) begin
                        if (wr_refused) begin
                            state <= S_HOLD;
                        end else begin
                            cpl_tail   <= cpl_tail + 32'd1;
                            cpl_posted <= 1'b1;
                            state      <= S_IDLE;
                        end
                    end
                end
                // a refused write: retry the held entry once the fault is cleared
                S_HOLD: if (!full && !stop) begin
                    buf_q    <= BUF_W'(entry);
                    wr_addr  <= cpl_base + {27'd0, idx, 5'd0};
                    word_cnt <= 4'd0;
                    state    <= S_REQ;
                end
            endcase
        end
    end
endmodule

`resetall
