// axis_packer: byte packer. Each input word carries one contiguous run of
// valid bytes anywhere in the word (tkeep = contiguous ones, at least one);
// the output is packed: every word full except the last of a packet, whose
// tkeep is a contiguous low mask.
//
// A holding register keeps fewer than KEEP_WIDTH bytes. Every accepted input
// word is shifted down to byte 0 (first set bit of tkeep), appended behind
// the held bytes, and a full word is emitted whenever KEEP_WIDTH bytes are
// available. On tlast the remainder is flushed; when the last input word
// brings the total above KEEP_WIDTH the tail needs one extra output cycle
// (the only cycle in which the input is not accepted), otherwise one word per
// cycle is sustained. The output is registered; s_axis_tready depends
// combinationally on m_axis_tready.

`resetall
`default_nettype none
`include "buflet_checks.vh"

module axis_packer #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH / 8
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(axis_packer)
        `BF_CHECK_KEEP_WIDTH(axis_packer)
    endgenerate


    localparam CW = $clog2(KEEP_WIDTH) + 1;   // holds 0..KEEP_WIDTH
    localparam TW = CW + 1;                   // holds 0..2*KEEP_WIDTH-1

    reg [DATA_WIDTH-1:0] hold_data;           // bytes [0, hold_cnt) valid, rest zero
    reg [CW-1:0]         hold_cnt;
    reg                  flush_pend;          // hold holds the tail of a finished packet

    reg [DATA_WIDTH-1:0] out_data;
    reg [KEEP_WIDTH-1:0] out_keep;
    reg                  out_valid;
    reg                  out_last;

    wire out_free = !out_valid || m_axis_tready;
    assign s_axis_tready = out_free && !flush_pend;
    wire xfer = s_axis_tvalid && s_axis_tready;

    // First set bit and number of set bits of tkeep, each a few logic levels deep at any
    // width (docs/fpga.md): the lowest set bit is isolated by an add (k & (~k + 1)) and
    // encoded by OR-reducing it under a constant mask per index bit; the count is a tree of
    // adds, level l holding NKW >> l counts of l + 1 bits
    // (over tkeep padded to a power of two, which KEEP_WIDTH is in every legal build, so that
    // a bad parameter still reaches its check's message)
    localparam LV  = $clog2(KEEP_WIDTH);
    localparam NKW = 1 << LV;
    reg  [NKW-1:0]        kp;
    always @* begin
        kp = {NKW{1'b0}};
        kp[KEEP_WIDTH-1:0] = s_axis_tkeep;
    end
    wire [NKW-1:0]        first_oh = kp & (~kp + {{(NKW-1){1'b0}}, 1'b1});
    wire [CW-1:0]         first;
    wire [CW-1:0]         nbytes;
    assign first[CW-1] = 1'b0;
    genvar fb, l, p;
    generate
        for (fb = 0; fb < LV; fb = fb + 1) begin : g_first
            // bit fb of every index: runs of 2^fb zeros and ones, by replication
            localparam [NKW-1:0] SEL = {(NKW >> (fb + 1)){{(1 << fb){1'b1}}, {(1 << fb){1'b0}}}};
            assign first[fb] = |(first_oh & SEL);
        end
        for (l = 0; l <= LV; l = l + 1) begin : g_cnt
            wire [(NKW >> l) * (l + 1) - 1:0] c;
            if (l == 0) begin : g_leaf
                assign c = kp;
            end else begin : g_add
                for (p = 0; p < (NKW >> l); p = p + 1) begin : g_pair
                    assign c[p*(l+1) +: (l+1)] = {1'b0, g_cnt[l-1].c[(2*p)*l +: l]} +
                                                 {1'b0, g_cnt[l-1].c[(2*p+1)*l +: l]};
                end
            end
        end
    endgenerate
    assign nbytes = g_cnt[LV].c;

    // Keep mask of the low n bytes (n in 0..KEEP_WIDTH).
    function [KEEP_WIDTH-1:0] low_mask;
        input [CW-1:0] n;
        integer j;
        begin
            for (j = 0; j < KEEP_WIDTH; j = j + 1) begin
                low_mask[j] = (j < n);
            end
        end
    endfunction

    // Data mask of the low n bytes.
    function [DATA_WIDTH-1:0] byte_mask;
        input [KEEP_WIDTH-1:0] k;
        integer j;
        begin
            for (j = 0; j < KEEP_WIDTH; j = j + 1) begin
                byte_mask[8*j +: 8] = {8{k[j]}};
            end
        end
    endfunction

    wire [DATA_WIDTH-1:0] aligned = (s_axis_tdata & byte_mask(s_axis_tkeep)) >> {first, 3'b000};
    wire [2*DATA_WIDTH-1:0] combined =
        {{DATA_WIDTH{1'b0}}, hold_data} | ({{DATA_WIDTH{1'b0}}, aligned} << {hold_cnt, 3'b000});
    wire [TW-1:0] total = {1'b0, hold_cnt} + {1'b0, nbytes};
    wire [TW-1:0] kw_t  = KEEP_WIDTH[TW-1:0];
    wire          full  = (total >= kw_t);
    wire [TW-1:0] rest  = total - kw_t;

    always @(posedge clk) begin
        if (rst) begin
            hold_data  <= {DATA_WIDTH{1'b0}};
            hold_cnt   <= {CW{1'b0}};
            flush_pend <= 1'b0;
            out_valid  <= 1'b0;
            out_last   <= 1'b0;
            out_data   <= {DATA_WIDTH{1'b0}};
            out_keep   <= {KEEP_WIDTH{1'b0}};
        end else if (out_free) begin
            if (flush_pend) begin
                out_valid  <= 1'b1;
                out_data   <= hold_data;
                out_keep   <= low_mask(hold_cnt);
                out_last   <= 1'b1;
                hold_data  <= {DATA_WIDTH{1'b0}};
                hold_cnt   <= {CW{1'b0}};
                flush_pend <= 1'b0;
            end else if (xfer) begin
                if (full) begin
                    out_valid <= 1'b1;
                    out_data  <= combined[DATA_WIDTH-1:0];
                    out_keep  <= {KEEP_WIDTH{1'b1}};
                    out_last  <= s_axis_tlast && (rest == {TW{1'b0}});
                    hold_data <= combined[2*DATA_WIDTH-1:DATA_WIDTH];
                    hold_cnt  <= rest[CW-1:0];
                    flush_pend <= s_axis_tlast && (rest != {TW{1'b0}});
                end else if (s_axis_tlast) begin
                    out_valid <= 1'b1;
                    out_data  <= combined[DATA_WIDTH-1:0];
                    out_keep  <= low_mask(total[CW-1:0]);
                    out_last  <= 1'b1;
                    hold_data <= {DATA_WIDTH{1'b0}};
                    hold_cnt  <= {CW{1'b0}};
                end else begin
                    out_valid <= 1'b0;
                    hold_data <= combined[DATA_WIDTH-1:0];
                    hold_cnt  <= total[CW-1:0];
                end
            end else begin
                out_valid <= 1'b0;
            end
        end
    end

    assign m_axis_tdata  = out_data;
    assign m_axis_tkeep  = out_keep;
    assign m_axis_tvalid = out_valid;
    assign m_axis_tlast  = out_last;

endmodule

`resetall
