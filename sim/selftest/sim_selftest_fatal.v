// sim_selftest_fatal: exercises the binding's handling of $finish and
// $fatal (which must neither exit nor abort the Rust process).

`resetall
`timescale 1ns / 1ps
`default_nettype none

module sim_selftest_fatal (
    input  wire       clk,
    input  wire       do_finish,
    input  wire       do_fatal,
    output reg  [7:0] n
);

    initial n = 8'd0;

    always @(posedge clk) begin
        n <= n + 8'd1;
        if (do_finish) begin
            $finish;
        end
        if (do_fatal) begin
            $fatal(1, "selftest fatal requested at n=%0d", n);
        end
    end

endmodule

`resetall
