`resetall
`default_nettype none
// toe_sweep: the named-buffer timeout sweep of toe_engine (docs/rx-paths.md "Named-buffer
// timeouts"). Holds the pending-tick flag (`if (tick taken) 0 else if (tick_req) 1`: requests
// while a tick is pending merge into it) and the sweep mode (set while the FSM runs a tick:
// an NB return ends in the next socket of the active list). Decides for the head NB just
// read (S_TK2): TICKS_LEFT is counted down when TIMEOUT != 0 (tk_count, nb_tick is the
// entry to write back) and the NB expires when that makes it 0 (tk_expire). The FSM walks
// the active list, one socket per two cycles (its sock_ctx, then its head NB).
`include "buflet_defs.vh"
module toe_sweep (
    input  wire         clk,
    input  wire         rst,
    input  wire         tick_req,    // one-cycle pulse: a timer tick is requested
    input  wire         in_idle,     // the FSM is in S_IDLE
    input  wire         tick_take,   // ... and takes the pending tick
    input  wire [511:0] nb_rd,       // the head NB just read (TIMEOUT, TICKS_LEFT)
    output reg          tk_pend,
    output reg          tk_mode,
    output wire         tk_count,
    output wire         tk_expire,
    output reg  [511:0] nb_tick
);
    wire [31:0] nbr_timeout = nb_rd[`BF_NB_DESC_TIMEOUT_RANGE];
    wire [31:0] nbr_ticks   = nb_rd[`BF_NB_DESC_TICKS_LEFT_RANGE];
    assign tk_count  = (nbr_timeout != 32'd0);
    assign tk_expire = tk_count && (nbr_ticks <= 32'd1);
    always @* begin
        nb_tick = nb_rd;
        nb_tick[`BF_NB_DESC_TICKS_LEFT_RANGE] = nbr_ticks - 32'd1;
    end

    always @(posedge clk) begin
        if (rst) begin
            tk_pend <= 1'b0;
            tk_mode <= 1'b0;
        end else begin
            if (tick_take) tk_pend <= 1'b0;
            else if (tick_req) tk_pend <= 1'b1;
            if (in_idle) tk_mode <= tick_take;
        end
    end
endmodule
`resetall
