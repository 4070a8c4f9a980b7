// port_scan: every input and output port of a wrapped design, reached from a host through a
// four-pin serial chain, one clock cycle at a time (docs/fpga.md "The board top").
//
// A board without the design's real neighbours (MAC, host DMA, block device) still has to
// give each port a source and a sink, or synthesis removes the logic they feed. This chain
// is that source and sink, and it is a usable (slow) bring-up path: a host on GPIO pins
// shifts the next value of every input in, steps the design for one cycle, and shifts out
// what every output was in that cycle.
//
//   pins (any clock domain; each passes a two-flop synchronizer, so the host toggles them
//   slower than clk / 4):
//     scan_clk   a rising edge shifts the chain by one bit (scan_in in at the input end, the
//              output end out on scan_out), or, with scan_step high, steps instead
//     scan_in    the next bit
//     scan_step  on a scan_clk edge: drive `drive` from the input register for exactly one clk
//              cycle (every input is 0 in the other cycles: no valid, no ready), and load
//              `sense` of that same cycle into the output register
//     scan_out   the bit at the chain's end
//   chain: scan_in -> input register (IN_WIDTH bits, bit 0 first out) -> output register
//   (OUT_WIDTH bits) -> scan_out.
//
// Assumptions (checked at elaboration): IN_WIDTH and OUT_WIDTH >= 2.

`resetall
`default_nettype none

module port_scan #(
    parameter IN_WIDTH  = 8,
    parameter OUT_WIDTH = 8
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 scan_clk,
    input  wire                 scan_in,
    input  wire                 scan_step,
    output wire                 scan_out,
    output reg  [IN_WIDTH-1:0]  drive,
    input  wire [OUT_WIDTH-1:0] sense
);
    generate
        if (IN_WIDTH < 2 || OUT_WIDTH < 2) begin : g_bad_width
            $error("port_scan: IN_WIDTH and OUT_WIDTH must be at least 2");
        end
    endgenerate

    reg [2:0] clk_s;    // scan_clk synchronizer and edge detector
    reg [1:0] in_s;
    reg [1:0] step_s;
    reg [IN_WIDTH-1:0]  in_sr;
    reg [OUT_WIDTH-1:0] out_sr;
    reg                 stepped;  // the cycle `drive` was applied: capture `sense`

    wire edge_up = clk_s[1] && !clk_s[2];

    assign scan_out = out_sr[OUT_WIDTH-1];

    always @(posedge clk) begin
        if (rst) begin
            clk_s   <= 3'b0;
            in_s    <= 2'b0;
            step_s  <= 2'b0;
            in_sr   <= {IN_WIDTH{1'b0}};
            out_sr  <= {OUT_WIDTH{1'b0}};
            drive   <= {IN_WIDTH{1'b0}};
            stepped <= 1'b0;
        end else begin
            clk_s   <= {clk_s[1:0], scan_clk};
            in_s    <= {in_s[0], scan_in};
            step_s  <= {step_s[0], scan_step};
            drive   <= {IN_WIDTH{1'b0}};
            stepped <= 1'b0;
            if (edge_up && step_s[1]) begin
                drive   <= in_sr;
                stepped <= 1'b1;
            end else if (edge_up) begin
                in_sr  <= {in_sr[IN_WIDTH-2:0], in_s[1]};
                out_sr <= {out_sr[OUT_WIDTH-2:0], in_sr[IN_WIDTH-1]};
            end
            if (stepped) out_sr <= sense;
        end
    end
endmodule

`resetall
