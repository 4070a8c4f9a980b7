// Round-robin choice among N requesters: the first requester after `last` (wrapping), so each
// requester is served within N grants. Combinational; shared by every arbiter.

`resetall
`default_nettype none
`include "buflet_checks.vh"

module rr_pick #(
    parameter N  = 2,
    parameter GW = (N > 1) ? $clog2(N) : 1
) (
    input  wire [N-1:0]  req,
    input  wire [GW-1:0] last,
    output reg  [GW-1:0] pick,
    output reg           pick_ok
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        if (N < 1) begin : g_check_n
            `BF_ERROR("rr_pick: N must be >= 1")
        end
        if (GW < ((N > 1) ? $clog2(N) : 1)) begin : g_check_gw
            `BF_ERROR("rr_pick: GW must be >= $clog2(N) and >= 1")
        end
    endgenerate

    integer i;
    always @(*) begin
        pick    = {GW{1'b0}};
        pick_ok = 1'b0;
        for (i = N - 1; i >= 0; i = i - 1) begin
            if (req[i] && GW'(i) > last) begin
                pick    = GW'(i);
                pick_ok = 1'b1;
            end
        end
        if (!pick_ok) begin
            for (i = N - 1; i >= 0; i = i - 1) begin
                if (req[i]) begin
                    pick    = GW'(i);
                    pick_ok = 1'b1;
                end
            end
        end
    end
endmodule

`resetall
