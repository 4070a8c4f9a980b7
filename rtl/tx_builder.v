// tx_builder: turns one `tx_cmd` (toe_engine's snapshot of an ACK, SYN-ACK or
// ARP reply) into the Ethernet frame of docs/tcp-receive.md "Transmitted
// frames" or docs/rx-paths.md "Reply frame" and streams it out packed, one bus
// word per cycle, honouring backpressure.
//
// Frame: DST_MAC, SRC_MAC, [81 00, TCI = VLAN & 0x0FFF when VLAN != 0], 08 00,
// IPv4 (45 00, total length, ID 0, DF, TTL `BF_PARAM_IP_TTL, protocol 6, header
// checksum, SRC_IP, DST_IP), TCP (ports, SEQ, ACK, data offset, FLAGS, WINDOW,
// checksum over the pseudo header, urgent 0), then the options asked for by
// OPTS: `02 04` MSS and/or `01 03 03` WSCALE. 54..66 bytes, no padding.
//
// Data segments (docs/tcp-transmit.md): a TCP command with PAY_LEN > 0 is followed on the wire
// by PAY_LEN payload bytes taken from s_axis_pay (packed words: every word full but the last
// of a segment, whose tkeep is a low mask; exactly PAY_LEN bytes per such command, in command
// order; tx_data holds them all before it offers the command). The IPv4 total length and the
// pseudo-header length include PAY_LEN and the TCP checksum adds PAY_SUM (the payload's folded
// one's-complement sum; the TCP header length is a multiple of 4, so the payload starts at an
// even TCP offset). The header length H (54..66, 2 mod 4) is never a multiple of the bus width,
// so the payload is realigned: the word holding the header's last H mod KW bytes takes the
// first payload word shifted up by O = H mod KW bytes, each later word the next payload word
// shifted up by O under the top O bytes carried from the previous one, then a last word of
// only the carried bytes when they remain. One word per cycle while the payload is valid: the
// output word is combinational from s_axis_pay (s_axis_pay_tready from m_axis_tx_tready, and
// m_axis_tx_tvalid from s_axis_pay_tvalid, which an AXI source holds until taken). PAY_LEN is
// ignored by ARP commands; the frame's length (ev_tx_bytes) is H + PAY_LEN, up to
// 66 + `BF_PARAM_TX_MAX_SEG.
//
// KIND = ARP (`BF_TX_KIND_ARP; any other KIND is a TCP segment): DST_MAC,
// SRC_MAC, [81 00, TCI as above], 08 06, 00 01 08 00 06 04 00 02, SRC_MAC,
// SRC_IP, DST_MAC, DST_IP (IPs big-endian): 42 bytes, 46 with a tag, no
// padding. It takes the same pipeline (and so the same timing) as a TCP
// segment; only the frame assembled in the last stage differs.
//
// Pipeline (each stage a register with valid/ready, so commands stream
// back to back and a frame's first word follows its last word's predecessor
// without a bubble):
//   c1: the accepted command;
//   c2: the command and the two unfolded 16-bit one's-complement sums;
//   f : the assembled header (shifted down one word per transfer), the
//       frame's remaining byte count and length, the payload bytes still to
//       take and the carried payload bytes.
// ev_tx_frame / ev_tx_bytes pulse (combinationally) in the cycle the last
// word of a frame is transferred.

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module tx_builder #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH / 8
) (
    input  wire                  clk,
    input  wire                  rst,

    input  wire                  s_cmd_valid,
    output wire                  s_cmd_ready,
    input  wire [383:0]          s_cmd_data,

    output wire [DATA_WIDTH-1:0] m_axis_tx_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tx_tkeep,
    output wire                  m_axis_tx_tvalid,
    input  wire                  m_axis_tx_tready,
    output wire                  m_axis_tx_tlast,

    // payload of the data segments (PAY_LEN bytes per TCP command with PAY_LEN > 0)
    input  wire [DATA_WIDTH-1:0] s_axis_pay_tdata,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [KEEP_WIDTH-1:0] s_axis_pay_tkeep,   // implied by PAY_LEN
    input  wire                  s_axis_pay_tlast,   // implied by PAY_LEN
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                  s_axis_pay_tvalid,
    output wire                  s_axis_pay_tready,

    output wire                  ev_tx_frame,
    output wire [15:0]           ev_tx_bytes
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(tx_builder)
        `BF_CHECK_KEEP_WIDTH(tx_builder)
    endgenerate

    localparam KW     = KEEP_WIDTH;
    localparam DW     = DATA_WIDTH;
    localparam MAXF   = 66;                              // longest frame
    localparam NWORDS = (MAXF + KW - 1) / KW;
    localparam FB     = NWORDS * KW;                     // frame register bytes
    localparam [15:0] KW16 = KW[15:0];
    localparam OW = $clog2(KW);                          // byte offset in a word
    localparam [7:0] TTL = `BF_PARAM_IP_TTL;
    localparam [7:0] OPT_MSS = `BF_TX_OPT_MSS;
    localparam [7:0] OPT_WS  = `BF_TX_OPT_WS;
    localparam [7:0] KIND_ARP = `BF_TX_KIND_ARP;

    // ------------------------------------------------------------------ handshakes
    reg          c1_valid;
    reg [383:0]  c1_cmd;
    reg          c2_valid;
    reg [383:0]  c2_cmd;
    reg [20:0]   c2_ip_sum;
    reg [20:0]   c2_tcp_sum;
    reg          f_valid;
    reg [FB*8-1:0] f_data;     // header bytes not yet transferred (zeros past the header)
    reg [15:0]   f_rem;        // bytes not yet transferred
    reg [15:0]   f_len;
    reg [6:0]    f_hrem;       // header bytes not yet transferred
    reg [15:0]   f_prem;       // payload bytes not yet taken from s_axis_pay
    reg [OW-1:0] f_off;        // O = H mod KW (never 0: H is 2 mod 4)
    reg [DW-1:0] f_carry;      // the top O bytes of the last payload word taken (low O lanes)

    wire f_last  = (f_rem <= KW16);
    // the word needs a payload word: past the header's full words, payload left
    wire f_need  = ({25'd0, f_hrem} < KW) && (f_prem != 16'd0);
    wire f_ovld  = f_valid && (!f_need || s_axis_pay_tvalid);
    wire f_xfer  = f_ovld && m_axis_tx_tready;
    wire f_done  = f_xfer && f_last;
    wire c2_go   = c2_valid && (!f_valid || f_done);
    wire c1_go   = c1_valid && (!c2_valid || c2_go);
    assign s_cmd_ready = !c1_valid || c1_go;
    wire c0_go   = s_cmd_valid && s_cmd_ready;

    // ------------------------------------------------------------------ fields
    // c1 -> c2: lengths and unfolded sums (at most 22 terms of 16 bits: < 2^21)
    wire [31:0] a_src   = c1_cmd[`BF_TX_CMD_SRC_IP_RANGE];
    wire [31:0] a_dst   = c1_cmd[`BF_TX_CMD_DST_IP_RANGE];
    wire [31:0] a_seq   = c1_cmd[`BF_TX_CMD_SEQ_RANGE];
    wire [31:0] a_ack   = c1_cmd[`BF_TX_CMD_ACK_RANGE];
    wire [15:0] a_sport = c1_cmd[`BF_TX_CMD_SRC_PORT_RANGE];
    wire [15:0] a_dport = c1_cmd[`BF_TX_CMD_DST_PORT_RANGE];
    wire [15:0] a_win   = c1_cmd[`BF_TX_CMD_WINDOW_RANGE];
    wire [7:0]  a_flags = c1_cmd[`BF_TX_CMD_FLAGS_RANGE];
    wire [7:0]  a_opts  = c1_cmd[`BF_TX_CMD_OPTS_RANGE];
    wire [15:0] a_mss   = c1_cmd[`BF_TX_CMD_MSS_RANGE];
    wire [7:0]  a_wsc   = c1_cmd[`BF_TX_CMD_WSCALE_RANGE];
    wire        a_omss  = |(a_opts & OPT_MSS);
    wire        a_ows   = |(a_opts & OPT_WS);
    wire [3:0]  a_doff  = 4'd5 + {3'd0, a_omss} + {3'd0, a_ows};
    wire [15:0] a_plen  = c1_cmd[`BF_TX_CMD_PAY_LEN_RANGE];
    wire [15:0] a_psum  = (a_plen != 16'd0) ? c1_cmd[`BF_TX_CMD_PAY_SUM_RANGE] : 16'd0;
    wire [15:0] a_tcpl  = {10'd0, a_doff, 2'b00} + a_plen;   // TCP length: header + payload
    wire [15:0] a_totl  = a_tcpl + 16'd20;
    wire [20:0] a_addr_sum = {5'd0, a_src[31:16]} + {5'd0, a_src[15:0]} +
                             {5'd0, a_dst[31:16]} + {5'd0, a_dst[15:0]};
    wire [20:0] a_ip_sum = a_addr_sum + 21'h4500 + {5'd0, a_totl} + 21'h4000 +
                           {5'd0, TTL, 8'd6};
    wire [20:0] a_tcp_sum = a_addr_sum + 21'd6 + {5'd0, a_tcpl} +
                            {5'd0, a_sport} + {5'd0, a_dport} +
                            {5'd0, a_seq[31:16]} + {5'd0, a_seq[15:0]} +
                            {5'd0, a_ack[31:16]} + {5'd0, a_ack[15:0]} +
                            {5'd0, a_doff, 4'd0, a_flags} + {5'd0, a_win} +
                            (a_omss ? (21'h0204 + {5'd0, a_mss}) : 21'd0) +
                            (a_ows  ? (21'h0103 + {5'd0, 8'h03, a_wsc}) : 21'd0) +
                            {5'd0, a_psum};

    // c2 -> f: fold, assemble (at most 24 terms of 16 bits: < 2^21)
    function [15:0] csum;
        input [20:0] s;
        reg [16:0] t;
        begin
            t    = {12'd0, s[20:16]} + {1'b0, s[15:0]};
            csum = ~(t[15:0] + {15'd0, t[16]});   // t <= 0x1001E: one carry at most
        end
    endfunction

    /* verilator lint_off UNUSEDSIGNAL */
    wire [383:0] b = c2_cmd;   // reserved bytes, OPTS[7:2], VLAN[15:12] are unused
    /* verilator lint_on UNUSEDSIGNAL */
    wire [47:0] b_dmac  = b[`BF_TX_CMD_DST_MAC_RANGE];
    wire [47:0] b_smac  = b[`BF_TX_CMD_SRC_MAC_RANGE];
    wire [15:0] b_vlan  = b[`BF_TX_CMD_VLAN_RANGE];
    wire [31:0] b_src   = b[`BF_TX_CMD_SRC_IP_RANGE];
    wire [31:0] b_dst   = b[`BF_TX_CMD_DST_IP_RANGE];
    wire [15:0] b_sport = b[`BF_TX_CMD_SRC_PORT_RANGE];
    wire [15:0] b_dport = b[`BF_TX_CMD_DST_PORT_RANGE];
    wire [31:0] b_seq   = b[`BF_TX_CMD_SEQ_RANGE];
    wire [31:0] b_ack   = b[`BF_TX_CMD_ACK_RANGE];
    wire [15:0] b_win   = b[`BF_TX_CMD_WINDOW_RANGE];
    wire [7:0]  b_flags = b[`BF_TX_CMD_FLAGS_RANGE];
    wire [7:0]  b_opts  = b[`BF_TX_CMD_OPTS_RANGE];
    wire [15:0] b_mss   = b[`BF_TX_CMD_MSS_RANGE];
    wire [7:0]  b_wsc   = b[`BF_TX_CMD_WSCALE_RANGE];
    wire        b_omss  = |(b_opts & OPT_MSS);
    wire        b_ows   = |(b_opts & OPT_WS);
    wire        b_tag   = (b_vlan != 16'd0);
    wire        b_arp   = (b[`BF_TX_CMD_KIND_RANGE] == KIND_ARP);
    wire [3:0]  b_doff  = 4'd5 + {3'd0, b_omss} + {3'd0, b_ows};
    wire [15:0] b_plen  = b_arp ? 16'd0 : b[`BF_TX_CMD_PAY_LEN_RANGE];
    wire [15:0] b_tcpl  = {10'd0, b_doff, 2'b00} + b_plen;
    wire [15:0] b_totl  = b_tcpl + 16'd20;
    wire [6:0]  b_hlen  = (b_arp ? 7'd28 : {1'b0, b_doff, 2'b00} + 7'd20) + (b_tag ? 7'd18 : 7'd14);
    wire [15:0] b_len   = {9'd0, b_hlen} + b_plen;
    wire [15:0] b_ipc   = csum(c2_ip_sum);
    wire [15:0] b_tcpc  = csum(c2_tcp_sum);

    // big-endian byte order helpers: byte k of the result at bits [8k+7:8k]
    function [15:0] be16;
        input [15:0] v;
        be16 = {v[7:0], v[15:8]};
    endfunction
    function [31:0] be32;
        input [31:0] v;
        be32 = {v[7:0], v[15:8], v[23:16], v[31:24]};
    endfunction

    // Untagged layout (bytes 0..61, byte k at [8k+7:8k]); the options start at 54.
    wire [31:0] b_o0 = b_omss ? {be16(b_mss), 16'h0402} : {b_wsc, 24'h030301};
    wire [31:0] b_o1 = {b_wsc, 24'h030301};
    wire [495:0] b_nt = {
        b_o1, b_o0,                              // 58..61, 54..57 (kept or not by the length)
        16'h0000, be16(b_tcpc), be16(b_win),     // 52 urgent, 50 checksum, 48 window
        b_flags, {b_doff, 4'h0},                 // 47, 46
        be32(b_ack), be32(b_seq),                // 42, 38
        be16(b_dport), be16(b_sport),            // 36, 34
        be32(b_dst), be32(b_src),                // 30, 26
        be16(b_ipc), 8'd6, TTL,                  // 24, 23, 22
        16'h0040, 16'h0000,                      // 20 (DF), 18 (ID)
        be16(b_totl), 16'h0045,                  // 16, 14
        16'h0008,                                // 12: 08 00
        b_smac, b_dmac                           // 6, 0
    };
    wire [31:0]  b_tci   = {be16({4'h0, b_vlan[11:0]}), 16'h0081};   // 81 00, TCI
    wire [527:0] b_tcp_f = b_tag ? {b_nt[495:96], b_tci, b_nt[95:0]} : {32'd0, b_nt};
    // ARP reply, untagged (bytes 0..41)
    wire [335:0] b_an = {
        be32(b_dst), b_dmac,                     // 38 TPA, 32 THA
        be32(b_src), b_smac,                     // 28 SPA, 22 SHA
        16'h0200, 16'h0406, 16'h0008, 16'h0100,  // 20 oper 2, 18 hlen/plen, 16 ptype, 14 htype
        16'h0608,                                // 12: 08 06
        b_smac, b_dmac                           // 6, 0
    };
    wire [367:0] b_arp_f = b_tag ? {b_an[335:96], b_tci, b_an[95:0]} : {32'd0, b_an};
    wire [527:0] b_frame = b_arp ? {160'd0, b_arp_f} : b_tcp_f;
    // bytes past the frame's length are zero (a shifted mask: no per-byte loop to evaluate)
    wire [527:0] b_keep   = ~({528{1'b1}} << {b_hlen, 3'b000});
    wire [527:0] b_masked = b_frame & b_keep;
    wire [FB*8-1:0] b_fill;
    generate
        if (FB > MAXF) begin : g_pad
            assign b_fill = {{(FB*8-528){1'b0}}, b_masked};
        end else begin : g_nopad
            assign b_fill = b_masked;
        end
    endgenerate

    // ------------------------------------------------------------------ registers
    always @(posedge clk) begin
        if (rst) begin
            c1_valid <= 1'b0;
            c2_valid <= 1'b0;
            f_valid  <= 1'b0;
        end else begin
            if (c0_go) begin
                c1_valid <= 1'b1;
            end else if (c1_go) begin
                c1_valid <= 1'b0;
            end
            if (c1_go) begin
                c2_valid <= 1'b1;
            end else if (c2_go) begin
                c2_valid <= 1'b0;
            end
            if (c2_go) begin
                f_valid <= 1'b1;
            end else if (f_done) begin
                f_valid <= 1'b0;
            end
        end
    end

    always @(posedge clk) begin
        if (c0_go) begin
            c1_cmd <= s_cmd_data;
        end
        if (c1_go) begin
            c2_cmd     <= c1_cmd;
            c2_ip_sum  <= a_ip_sum;
            c2_tcp_sum <= a_tcp_sum;
        end
        if (c2_go) begin
            f_data <= b_fill;
            f_rem  <= b_len;
            f_len  <= b_len;
            f_hrem <= b_hlen;
            f_prem <= b_plen;
            f_off  <= b_hlen[OW-1:0];
        end else if (f_xfer) begin
            f_data <= f_data >> DW;
            f_rem  <= f_rem - KW16;
            f_hrem <= ({25'd0, f_hrem} > KW) ? (f_hrem - KW[6:0]) : 7'd0;
            if (f_need) begin
                f_prem  <= (f_prem > KW16) ? (f_prem - KW16) : 16'd0;
                f_carry <= s_axis_pay_tdata >> {KW[OW:0] - {1'b0, f_off}, 3'b000};
            end
        end
    end

    // ------------------------------------------------------------------ output
    reg [KW-1:0] keep;
    integer j;
    always @* begin
        for (j = 0; j < KW; j = j + 1) begin
            keep[j] = ({16'd0, f_rem} > j);
        end
    end

    // Past the header's full words (f_hrem < KW) the word is the low O bytes (the header's
    // last ones while f_hrem != 0, else the carried payload bytes) under the next payload
    // word shifted up by O (none once the payload is all taken: the carried bytes end it).
    wire [DW-1:0] low  = (f_hrem != 7'd0) ? f_data[DW-1:0] : f_carry;
    wire [DW-1:0] pay  = f_need ? (s_axis_pay_tdata << {f_off, 3'b000}) : {DW{1'b0}};
    wire          hdrw = ({25'd0, f_hrem} >= KW);

    assign m_axis_tx_tdata  = hdrw ? f_data[DW-1:0] : (low | pay);
    assign m_axis_tx_tkeep  = keep;
    assign m_axis_tx_tvalid = f_ovld;
    assign m_axis_tx_tlast  = f_last;
    assign s_axis_pay_tready = f_valid && f_need && m_axis_tx_tready;
    assign ev_tx_frame      = f_done;
    assign ev_tx_bytes      = f_len;
endmodule

`resetall
