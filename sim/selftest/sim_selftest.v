// sim_selftest: a tiny AXI-Stream stage used only to test the buflet-sim
// binding to Verilated models. It registers each accepted input word and adds 1
// (mod 256) to every byte of tdata. One word per cycle, full valid/ready
// handshake (a skid-free single register stage: input is accepted when the
// output register is empty or is being drained in the same cycle).

`resetall
`timescale 1ns / 1ps
`default_nettype none

module sim_selftest #(
    parameter DATA_WIDTH = 64
) (
    input  wire                      clk,
    input  wire                      rst,

    input  wire [DATA_WIDTH-1:0]     s_axis_tdata,
    input  wire [DATA_WIDTH/8-1:0]   s_axis_tkeep,
    input  wire                      s_axis_tvalid,
    input  wire                      s_axis_tlast,
    output wire                      s_axis_tready,

    output reg  [DATA_WIDTH-1:0]     m_axis_tdata,
    output reg  [DATA_WIDTH/8-1:0]   m_axis_tkeep,
    output reg                       m_axis_tvalid,
    output reg                       m_axis_tlast,
    input  wire                      m_axis_tready,

    output reg  [63:0]               count,
    output reg                       irq
);

    localparam BYTES = DATA_WIDTH / 8;

    wire accept = s_axis_tvalid && s_axis_tready;

    assign s_axis_tready = !m_axis_tvalid || m_axis_tready;

    reg [DATA_WIDTH-1:0] plus_one;
    integer i;
    always @(*) begin
        for (i = 0; i < BYTES; i = i + 1) begin
            plus_one[i*8 +: 8] = s_axis_tdata[i*8 +: 8] + 8'd1;
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            m_axis_tdata  <= {DATA_WIDTH{1'b0}};
            m_axis_tkeep  <= {BYTES{1'b0}};
            m_axis_tvalid <= 1'b0;
            m_axis_tlast  <= 1'b0;
            count         <= 64'd0;
            irq           <= 1'b0;
        end else begin
            if (accept) begin
                m_axis_tdata  <= plus_one;
                m_axis_tkeep  <= s_axis_tkeep;
                m_axis_tvalid <= 1'b1;
                m_axis_tlast  <= s_axis_tlast;
                count         <= count + 64'd1;
            end else if (m_axis_tready) begin
                m_axis_tvalid <= 1'b0;
            end
            // irq pulses for one cycle when a word with tlast is accepted.
            irq <= accept && s_axis_tlast;
        end
    end

endmodule

`resetall
