// Small synchronous FIFO (valid/ready on both sides). DEPTH must be a power of two >= 2 (checked
// at elaboration).
// The output is read combinationally from the storage array (first-word fall-through).

`resetall
`default_nettype none
`include "buflet_checks.vh"

module sync_fifo #(
    parameter WIDTH = 32,
    parameter DEPTH = 4
) (
    input  wire             clk,
    input  wire             rst,
    input  wire             s_valid,
    output wire             s_ready,
    input  wire [WIDTH-1:0] s_data,
    output wire             m_valid,
    input  wire             m_ready,
    output wire [WIDTH-1:0] m_data
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        if (!`BF_IS_POW2(DEPTH) || DEPTH < 2) begin : g_check_depth
            `BF_ERROR("sync_fifo: DEPTH must be a power of two >= 2")
        end
    endgenerate

    localparam AW = $clog2(DEPTH);

    reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [AW:0]      wr_ptr;
    reg [AW:0]      rd_ptr;

    wire full  = (wr_ptr[AW] != rd_ptr[AW]) && (wr_ptr[AW-1:0] == rd_ptr[AW-1:0]);
    wire empty = (wr_ptr == rd_ptr);

    assign s_ready = !full;
    assign m_valid = !empty;
    assign m_data  = mem[rd_ptr[AW-1:0]];

    always @(posedge clk) begin
        if (s_valid && !full) begin
            mem[wr_ptr[AW-1:0]] <= s_data;
        end
        if (rst) begin
            wr_ptr <= {(AW+1){1'b0}};
            rd_ptr <= {(AW+1){1'b0}};
        end else begin
            if (s_valid && !full) wr_ptr <= wr_ptr + 1'b1;
            if (m_ready && !empty) rd_ptr <= rd_ptr + 1'b1;
        end
    end
endmodule

`resetall
