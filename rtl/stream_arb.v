// N-input arbiter for single-word transactions (e.g. 32-byte completion entries), round robin.
// The output is registered: a word is taken from the picked input when the output register is
// empty or being drained, and held stable until m_ready.
// Inputs are flattened: input i uses s_data[i*WIDTH +: WIDTH].

`resetall
`default_nettype none
`include "buflet_checks.vh"

module stream_arb #(
    parameter N     = 2,
    parameter WIDTH = 256
) (
    input  wire               clk,
    input  wire               rst,
    input  wire [N-1:0]       s_valid,
    output wire [N-1:0]       s_ready,
    input  wire [N*WIDTH-1:0] s_data,
    output reg                m_valid,
    input  wire               m_ready,
    output reg  [WIDTH-1:0]   m_data
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        if (N < 1) begin : g_check_n
            `BF_ERROR("stream_arb: N must be >= 1")
        end
    endgenerate

    localparam GW = (N > 1) ? $clog2(N) : 1;

    reg [GW-1:0] last_grant;
    // round robin pick: first valid requester after last_grant
    wire [GW-1:0] pick;
    wire          pick_ok;
    rr_pick #(.N(N), .GW(GW)) u_pick (.req(s_valid), .last(last_grant), .pick(pick), .pick_ok(pick_ok));

    wire         load = pick_ok && (!m_valid || m_ready);
    wire [N-1:0] pmask = {{(N-1){1'b0}}, 1'b1} << pick;

    assign s_ready = load ? pmask : {N{1'b0}};

    always @(posedge clk) begin
        if (rst) begin
            m_valid    <= 1'b0;
            m_data     <= {WIDTH{1'b0}};
            last_grant <= GW'(N - 1);
        end else begin
            if (load) begin
                m_valid    <= 1'b1;
                m_data     <= s_data[pick*WIDTH +: WIDTH];
                last_grant <= pick;
            end else if (m_ready) begin
                m_valid <= 1'b0;
            end
        end
    end
endmodule

`resetall
