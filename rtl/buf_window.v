// buf_window: the CPU's window into buflet memory (docs/p2p.md "The CPU's window", interface
// 0.4.0; registers BUF_WIN_ADDR, BUF_WIN_STATUS, BUF_WIN_DATA0..15, CNT_BUF_WIN_READS).
//
// start (reg_block: a BUF_WIN_ADDR write) with start_addr = device byte address A. While busy is
// low the write is taken: win_addr reads A from the next cycle on, and the checks are made in
// the write's cycle (combinational from start_addr; exp_idx = A / BUFLET_BYTES, low 16 bits,
// into buflet_pool's second exposed lookup, exp -> its bit):
//  * refused unless A % WIN_BYTES == 0, A + WIN_BYTES <= NUM_BUFLETS * BUFLET_BYTES (for an
//    aligned A and a memory of at least WIN_BYTES bytes: A < NUM_BUFLETS * BUFLET_BYTES) and
//    buflet A / BUFLET_BYTES is exposed. Refused: bad set, busy clear, win_data 0 from the next
//    cycle on.
//  * taken: bad clear, busy set from the next cycle on, win_data cleared; then the
//    NW = WIN_BYTES / KEEP_WIDTH words at A are read through buflet_pool's third reader of read
//    port 2 (rd_en while a word is left to issue; a read happens in a cycle with rd_en &&
//    rd_ready; its data is on rd_data the cycle after and is stored then), word k into
//    win_data[k*DATA_WIDTH +: DATA_WIDTH] (the RAM keeps wire byte j of a word in bits
//    8j+7:8j, so win_data byte i is the byte at A + i). busy clears at the edge that stores the
//    last word, and ev_read pulses in that cycle (CNT_BUF_WIN_READS += 1).
// A start while busy is ignored (win_addr, bad and win_data unchanged). Without stalls busy is
// high NW + 1 cycles (9 at 64 bits, 2 at 512). Reset: win_addr 0, busy 0, bad 0, win_data 0.
//
// Assumptions (checked at elaboration): DATA_WIDTH a power of two in 64..512, KEEP_WIDTH =
// DATA_WIDTH/8, BUFLET_BYTES a power of two >= KEEP_WIDTH, NUM_BUFLETS a power of two in
// 2..32768, BW_ADDR = $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH) (buflet_pool's).

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module buf_window #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter KEEP_WIDTH   = DATA_WIDTH / 8,
    parameter BW_ADDR      = $clog2(NUM_BUFLETS * BUFLET_BYTES / KEEP_WIDTH)
) (
    input  wire                          clk,
    input  wire                          rst,
    // BUF_WIN_ADDR written (reg_block), with this address
    input  wire                          start,
    input  wire [31:0]                   start_addr,
    // BUF_WIN_ADDR, BUF_WIN_STATUS {bad, busy}, BUF_WIN_DATA0..15 (byte i in [8i+7:8i])
    output wire [31:0]                   win_addr,
    output wire                          busy,
    output wire                          bad,
    output wire [8*`BF_PARAM_WIN_BYTES-1:0] win_data,
    // a window copy done (CNT_BUF_WIN_READS)
    output wire                          ev_read,
    // buflet_pool: third reader of read port 2, and the second exposed lookup
    output wire                          rd_en,
    input  wire                          rd_ready,
    output wire [BW_ADDR-1:0]            rd_addr,
    input  wire [DATA_WIDTH-1:0]         rd_data,
    output wire [15:0]                   exp_idx,
    input  wire                          exp
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(buf_window)
        `BF_CHECK_KEEP_WIDTH(buf_window)
        if (!`BF_IS_POW2(BUFLET_BYTES) || BUFLET_BYTES < KEEP_WIDTH) begin : g_check_buflet_bytes
            `BF_ERROR("buf_window: BUFLET_BYTES must be a power of two >= KEEP_WIDTH")
        end
        `BF_CHECK_BUFLET_RAM(buf_window, KEEP_WIDTH)
    endgenerate

    localparam WIN  = `BF_PARAM_WIN_BYTES;
    localparam NW   = WIN / KEEP_WIDTH;                 // words per window (1..8)
    localparam CW   = $clog2(NW + 1);                   // words issued, 0..NW
    localparam GW   = (NW > 1) ? $clog2(NW) : 1;        // word index
    localparam LKW  = $clog2(KEEP_WIDTH);
    localparam LBB  = $clog2(BUFLET_BYTES);
    localparam LWIN = $clog2(WIN);
    localparam [63:0] TOTAL = 64'(NUM_BUFLETS) * 64'(BUFLET_BYTES);
    localparam [CW-1:0] NW_C = CW'(NW);
    localparam [GW-1:0] LAST = GW'(NW - 1);

    reg [31:0]      r_addr;
    reg             r_busy;
    reg             r_bad;
    reg [8*WIN-1:0] r_bank;
    reg [CW-1:0]    r_iss;     // words issued
    reg             r_pend;    // a read was granted last cycle: its word is on rd_data
    reg [GW-1:0]    r_pidx;    // ... and its index

    // the checks, in the write's cycle
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] a_buf = start_addr >> LBB;
    wire [63:0] a64   = {32'd0, r_addr};
    /* verilator lint_on UNUSEDSIGNAL */
    assign exp_idx = a_buf[15:0];
    wire aligned  = (start_addr[LWIN-1:0] == {LWIN{1'b0}});
    wire in_range = ({32'd0, start_addr} + 64'(WIN)) <= TOTAL;
    wire take     = start && !r_busy;
    wire ok       = aligned && in_range && exp;

    // the copy
    wire [BW_ADDR-1:0] base = a64[LKW +: BW_ADDR];
    assign rd_en   = r_busy && (r_iss != NW_C);
    assign rd_addr = base + BW_ADDR'(r_iss);
    wire grant     = rd_en && rd_ready;
    wire last      = r_pend && (r_pidx == LAST);

    assign win_addr = r_addr;
    assign busy     = r_busy;
    assign bad      = r_bad;
    assign win_data = r_bank;
    assign ev_read  = last;

    integer k;
    always @(posedge clk) begin
        if (rst) begin
            r_addr <= 32'd0;
            r_busy <= 1'b0;
            r_bad  <= 1'b0;
            r_bank <= {8*WIN{1'b0}};
            r_iss  <= {CW{1'b0}};
            r_pend <= 1'b0;
            r_pidx <= {GW{1'b0}};
        end else begin
            r_pend <= grant;
            if (grant) begin
                r_iss  <= r_iss + CW'(1);
                r_pidx <= r_iss[GW-1:0];
            end
            for (k = 0; k < NW; k = k + 1) begin
                if (r_pend && r_pidx == GW'(k)) r_bank[k*DATA_WIDTH +: DATA_WIDTH] <= rd_data;
            end
            if (last) r_busy <= 1'b0;
            // a start is taken only while idle (no read issued or pending then)
            if (take) begin
                r_addr <= start_addr;
                r_bad  <= !ok;
                r_busy <= ok;
                r_bank <= {8*WIN{1'b0}};
                r_iss  <= {CW{1'b0}};
            end
        end
    end
endmodule

`resetall
