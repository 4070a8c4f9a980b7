// rx_parser: streams each received frame into a freshly allocated buflet
// chain (one bus word per cycle), parses Ethernet II / one optional 802.1Q
// tag / IPv4 / TCP or UDP (and ARP requests), verifies both checksums on the
// fly, and emits one metadata record per frame (architecture.md "Receive:
// parse and checks", docs/rx-paths.md "UDP" and "ARP responder").
//
// Structure
//  * Stage A (streaming, one word per cycle): the first HDR_WORDS words of a
//    frame are kept in a header register; every decision uses the view
//    "header so far including the current word" (unseen bytes read as 0,
//    bytes past tkeep read as 0). Each word adds its 16-bit big-endian
//    lanes to two accumulators under byte masks: IPv4 header
//    [l3, l3+IHL*4) and L4 (TCP segment or UDP datagram)
//    [l3+IHL*4, l3+total_len). l3 and IHL*4
//    are even and words start at even offsets, so a lane never straddles a
//    range start; an odd segment end is the high byte of a lane padded with
//    zero. The mask of a byte only needs header bytes of the current or
//    earlier words (the TCP range starts >= l3+20, after the total length).
//    The whole frame, from byte 0, is written to the buflet RAM: a buflet is
//    allocated at the first word and at every BUFLET_BYTES boundary, and
//    link[previous] <= new is written in the allocation cycle. After the last
//    word link[tail] <= NULL is written on the next cycle (before the
//    metadata is visible). RAM writes are registered (one cycle later).
//    If no buflet is available when one is needed the frame keeps being
//    consumed but nothing more is stored or allocated; head/tail/count
//    describe exactly what was allocated; the reason is NO_BUFLET only when
//    every other check passed (it is check 12, "first failure wins").
//  * Stage B (one record): at the last word, the decoded fields and the
//    accumulators are latched; the next cycle adds the pseudo header
//    (protocol 6 or 17, L4 length = total length - IHL*4),
//    folds both sums, applies the checks in order and loads the metadata
//    output register (SYN frames with options first walk them, see below).
//    The input is stalled only on a frame's last word, while stage B still
//    holds the previous record (walking, or waiting for the metadata
//    register).
//  * enable is sampled with the first word of a frame; a frame received with
//    enable 0 is consumed without allocation, storage or metadata.
//
//  * Option walk (docs/tcp-receive.md "Frame metadata"): with the last
//    word the (at most 40) TCP option bytes are latched from the header view
//    together with the other fields. A frame with SYN set, data offset > 5
//    and every parser check passed then walks them in stage B, one option
//    (or NOP) per cycle: the record leaves stage B in the cycle the walk
//    stops (at most n+1 <= 41 steps, since every step either stops or moves
//    forward). Other frames leave stage B as before. The input is stalled
//    only on the last word of a following frame while stage B is still
//    occupied, so the words of that frame keep streaming in meanwhile, and
//    records stay in frame order.
//
//  * UDP (protocol 17, docs/rx-paths.md): the UDP header is read through
//    the same view as the TCP header (ports at l4+0/2, UDP length at l4+4 =
//    the high half of the TCP SEQ field, checksum at l4+6 = its low half).
//    Checks after the IPv4 ones: L4 length p < 8 TRUNCATED, UDP length != p
//    BAD_L4_HDR, checksum field != 0 and the sum wrong BAD_L4_CSUM, then
//    NO_BUFLET. A passing datagram reports m_meta_udp = 1, payload offset
//    l4 + 8, payload length p - 8, SEQ/ACK/FLAGS 0, no window scale (the
//    option walk only runs for protocol 6). Protocols other than 6 and 17
//    are NO_SOCKET.
//  * ARP (docs/rx-paths.md "ARP responder"): at the last word the 28 bytes
//    at l3 are checked for a request (EtherType 0x0806, frame length >=
//    l3 + 28, htype 1, ptype 0x0800, hlen 6, plen 4, oper 1); the sender
//    MAC is latched, and SPA/TPA take the place of the IPv4 source and
//    destination. m_meta_arp_req = 1 with reason NOT_IPV4 (a TOO_LONG frame
//    is not reported as a request). The frame is stored as any other.
//  * Every record carries the frame's Ethernet source MAC (bytes 6..11,
//    m_meta_src_mac): an accepted socket's REMOTE_MAC (docs/tcp-receive.md
//    "Listening sockets").
//
// Decisions where the contract is silent: a VLAN-tagged frame too short to
// hold the inner EtherType reads it as 0 (NOT_IPV4); frames longer than
// MAX_FRAME are still stored whole (reason TOO_LONG), the frame length and
// byte offsets saturate near 2^17 (metadata length saturates at 65535).
//
// Assumptions: input frames are packed (all words full but the last); and,
// checked at elaboration, DATA_WIDTH a power of two in 64..512, KEEP_WIDTH =
// DATA_WIDTH/8, BUFLET_BYTES a power of two >= 2*KEEP_WIDTH, NUM_BUFLETS a
// power of two in 2..32768, BW_ADDR = $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH).

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module rx_parser #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter KEEP_WIDTH   = DATA_WIDTH / 8,
    parameter BW_ADDR      = $clog2(NUM_BUFLETS * BUFLET_BYTES / KEEP_WIDTH)
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  enable,

    input  wire [DATA_WIDTH-1:0] s_axis_rx_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_rx_tkeep,
    input  wire                  s_axis_rx_tvalid,
    output wire                  s_axis_rx_tready,
    input  wire                  s_axis_rx_tlast,

    output wire                  alloc_req,
    input  wire                  alloc_valid,
    input  wire [15:0]           alloc_idx,

    output wire                  link_wr_en,
    output wire [15:0]           link_wr_idx,
    output wire [15:0]           link_wr_next,

    output wire                  ram_wr_en,
    output wire [BW_ADDR-1:0]    ram_wr_addr,
    output wire [DATA_WIDTH-1:0] ram_wr_data,

    output wire                  m_meta_valid,
    input  wire                  m_meta_ready,
    output wire [3:0]            m_meta_reason,
    output wire [15:0]           m_meta_len,
    output wire [11:0]           m_meta_vlan,
    output wire [31:0]           m_meta_src_ip,
    output wire [31:0]           m_meta_dst_ip,
    output wire [15:0]           m_meta_src_port,
    output wire [15:0]           m_meta_dst_port,
    output wire [31:0]           m_meta_seq,
    output wire [7:0]            m_meta_flags,
    output wire [31:0]           m_meta_ack,
    output wire                  m_meta_ws_valid,
    output wire [3:0]            m_meta_ws,
    output wire [15:0]           m_meta_window,   // TCP WINDOW field (0 for UDP)
    output wire [15:0]           m_meta_mss,      // SYN's MSS option (0 without one)
    output wire [15:0]           m_meta_pay_off,
    output wire [15:0]           m_meta_pay_len,
    output wire                  m_meta_udp,      // a UDP datagram that passed every check
    output wire                  m_meta_arp_req,  // an ARP request (reason NOT_IPV4): src_ip = SPA, dst_ip = TPA
    output wire [47:0]           m_meta_arp_sha,  // ARP sender MAC, wire byte k in [8k+7:8k]
    output wire [47:0]           m_meta_src_mac,  // Ethernet source MAC of every frame, wire byte k in [8k+7:8k]
    output wire [15:0]           m_meta_head,
    output wire [15:0]           m_meta_tail,
    output wire [15:0]           m_meta_count
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(rx_parser)
        `BF_CHECK_KEEP_WIDTH(rx_parser)
        if (!`BF_IS_POW2(BUFLET_BYTES) || BUFLET_BYTES < 2 * KEEP_WIDTH) begin : g_check_buflet_bytes
            `BF_ERROR("rx_parser: BUFLET_BYTES must be a power of two >= 2*KEEP_WIDTH")
        end
        `BF_CHECK_BUFLET_RAM(rx_parser, KEEP_WIDTH)
    endgenerate


    // ------------------------------------------------------------------
    // Parameters
    // ------------------------------------------------------------------
    localparam KW        = KEEP_WIDTH;
    localparam DW        = DATA_WIDTH;
    localparam CW        = $clog2(KW) + 1;               // 0..KW
    localparam WPB       = BUFLET_BYTES / KW;            // words per buflet
    localparam BOW       = (WPB > 1) ? $clog2(WPB) : 1;  // word-in-buflet bits
    localparam LB        = BW_ADDR - BOW;                // buflet index bits
    localparam HDR_NEED  = 138;                          // 18 + 60 + 60: up to the last TCP option byte
    localparam HDR_WORDS = (HDR_NEED + KW - 1) / KW;
    localparam HB        = HDR_WORDS * KW;               // header bytes kept
    localparam HWW       = $clog2(HDR_WORDS + 1);
    localparam [16:0] POS_SAT = 17'h1FFC0;               // byte offsets stop here
    localparam [16:0] KW17    = KW[16:0];
    localparam [15:0] NULL16  = `BF_PARAM_NULL16;
    localparam [16:0] MAX_FRAME = `BF_PARAM_MAX_FRAME;
    localparam [3:0] R_NONE     = `BF_DROP_NONE;
    localparam [3:0] R_TRUNC    = `BF_DROP_TRUNCATED;
    localparam [3:0] R_NOT_IPV4 = `BF_DROP_NOT_IPV4;
    localparam [3:0] R_BAD_IP   = `BF_DROP_BAD_IP_HDR;
    localparam [3:0] R_IP_CSUM  = `BF_DROP_BAD_IP_CSUM;
    localparam [3:0] R_BAD_L4   = `BF_DROP_BAD_L4_HDR;
    localparam [3:0] R_L4_CSUM  = `BF_DROP_BAD_L4_CSUM;
    localparam [3:0] R_NO_SOCK  = `BF_DROP_NO_SOCKET;
    localparam [3:0] R_NO_BUF   = `BF_DROP_NO_BUFLET;
    localparam [3:0] R_TOO_LONG = `BF_DROP_TOO_LONG;

    // ------------------------------------------------------------------
    // Stage A state
    // ------------------------------------------------------------------
    reg                 first;      // next word is the first of a frame
    reg                 en_r;       // enable latched at the frame's first word
    reg [16:0]          pos;        // byte offset of the current word
    reg [HWW-1:0]       hw;         // header word index (saturates at HDR_WORDS)
    reg [BOW-1:0]       boff;       // word index inside the current buflet
    reg [HB*8-1:0]      hdr;
    reg [31:0]          ip_acc;
    reg [31:0]          tcp_acc;
    reg                 nobuf_r;
    reg [15:0]          cur_buf;
    reg [15:0]          head_r;
    reg [15:0]          tail_r;
    reg [15:0]          count_r;
    reg                 nl_pend;    // link[nl_idx] <= NULL pending
    reg [15:0]          nl_idx;
    reg                 wr_en_r;
    reg [BW_ADDR-1:0]   wr_addr_r;
    reg [DW-1:0]        wr_data_r;

    // Stage B (finished frame waiting for its checks)
    reg                 fin_valid;
    reg [16:0]          fin_len;
    reg                 fin_vlan;
    reg [11:0]          fin_vid;
    reg [15:0]          fin_etype;
    reg [3:0]           fin_ver;
    reg [3:0]           fin_ihl;
    reg [15:0]          fin_tot;
    reg                 fin_mf;
    reg [12:0]          fin_frag;
    reg [7:0]           fin_proto;
    reg [31:0]          fin_src;
    reg [31:0]          fin_dst;
    reg [15:0]          fin_sport;
    reg [15:0]          fin_dport;
    reg [31:0]          fin_seq;
    reg [3:0]           fin_doff;
    reg [7:0]           fin_flags;
    reg [31:0]          fin_ack;
    reg                 fin_arp;    // an ARP request (fin_src/fin_dst hold SPA/TPA)
    reg [47:0]          fin_sha;
    reg [47:0]          fin_smac;   // Ethernet source (frame bytes 6..11)
    reg [319:0]         fin_opts;   // option byte i at [8i+7:8i]
    reg                 w_run;      // option walk still running
    reg [5:0]           w_i;        // walk position
    reg                 w_wsv;
    reg [3:0]           w_ws;
    reg [15:0]          w_mss;
    reg [15:0]          fin_win;
    reg [31:0]          fin_ip_acc;
    reg [31:0]          fin_tcp_acc;
    reg                 fin_nobuf;
    reg [15:0]          fin_head;
    reg [15:0]          fin_tail;
    reg [15:0]          fin_count;

    // Metadata output register
    reg                 meta_valid;
    reg [3:0]           meta_reason;
    reg [15:0]          meta_len;
    reg [11:0]          meta_vlan;
    reg [31:0]          meta_src;
    reg [31:0]          meta_dst;
    reg [15:0]          meta_sport;
    reg [15:0]          meta_dport;
    reg [31:0]          meta_seq;
    reg [7:0]           meta_flags;
    reg [31:0]          meta_ack;
    reg                 meta_wsv;
    reg [3:0]           meta_ws;
    reg [15:0]          meta_win;
    reg [15:0]          meta_mss;
    reg [15:0]          meta_pay_off;
    reg [15:0]          meta_pay_len;
    reg                 meta_udp;
    reg                 meta_arp;
    reg [47:0]          meta_sha;
    reg [47:0]          meta_smac;
    reg [15:0]          meta_head;
    reg [15:0]          meta_tail;
    reg [15:0]          meta_count;

    // ------------------------------------------------------------------
    // Handshake
    // ------------------------------------------------------------------
    wire w_done;   // the option walk of the record in stage B is over (see stage B)
    wire fin_go = fin_valid && w_done && (!meta_valid || m_meta_ready);
    // only a last word needs stage B free
    assign s_axis_rx_tready = !(s_axis_rx_tlast && fin_valid && !fin_go);
    wire xfer = s_axis_rx_tvalid && s_axis_rx_tready;
    wire last = xfer && s_axis_rx_tlast;

    // ------------------------------------------------------------------
    // Current word: masked data, byte count
    // ------------------------------------------------------------------
    reg [DW-1:0] dm;
    reg [CW-1:0] nb;
    integer i;
    always @* begin
        nb = {CW{1'b0}};
        for (i = 0; i < KW; i = i + 1) begin
            dm[8*i +: 8] = s_axis_rx_tdata[8*i +: 8] & {8{s_axis_rx_tkeep[i]}};
            nb = nb + {{(CW-1){1'b0}}, s_axis_rx_tkeep[i]};
        end
    end

    // Header view: stored words, then the current word, then zeros.
    wire [HB*8-1:0] hv;
    genvar gw;
    generate
        for (gw = 0; gw < HDR_WORDS; gw = gw + 1) begin : g_hv
            localparam [HWW-1:0] GW = gw;
            assign hv[gw*DW +: DW] = (GW < hw) ? hdr[gw*DW +: DW] :
                                     (GW == hw) ? dm : {DW{1'b0}};
        end
    endgenerate

    // ------------------------------------------------------------------
    // Field decode from the header view
    // ------------------------------------------------------------------
    wire [15:0] et0     = {hv[12*8 +: 8], hv[13*8 +: 8]};
    wire        is_vlan = (et0 == 16'h8100);
    wire [15:0] etype   = is_vlan ? {hv[16*8 +: 8], hv[17*8 +: 8]} : et0;
    wire [11:0] vid     = is_vlan ? {hv[14*8 +: 4], hv[15*8 +: 8]} : 12'd0;
    wire [7:0]  l3      = is_vlan ? 8'd18 : 8'd14;
    // ipv byte b = IPv4 header byte b (TOS, ID, TTL and checksum bytes unused)
    /* verilator lint_off UNUSEDSIGNAL */
    wire [159:0] ipv    = is_vlan ? hv[18*8 +: 160] : hv[14*8 +: 160];
    /* verilator lint_on UNUSEDSIGNAL */
    wire [3:0]  ver     = ipv[7:4];
    wire [3:0]  ihl     = ipv[3:0];
    wire [7:0]  ihl4    = {2'b00, ihl, 2'b00};
    wire [15:0] tot_len = {ipv[2*8 +: 8], ipv[3*8 +: 8]};
    wire        mf      = ipv[6*8 + 5];
    wire [12:0] frag    = {ipv[6*8 +: 5], ipv[7*8 +: 8]};
    wire [7:0]  proto   = ipv[9*8 +: 8];
    wire [31:0] src_ip  = {ipv[12*8 +: 8], ipv[13*8 +: 8], ipv[14*8 +: 8], ipv[15*8 +: 8]};
    wire [31:0] dst_ip  = {ipv[16*8 +: 8], ipv[17*8 +: 8], ipv[18*8 +: 8], ipv[19*8 +: 8]};
    wire [7:0]  l4      = l3 + ihl4;

    // TCP view: the 60 bytes at l4 (header, then the 40 option bytes at l4 + 20, of which
    // only the first doff*4-20 count); l4 in {34, 38, ..., 78} when IHL >= 5.
    reg [479:0] l4v;
    integer o;
    always @* begin
        l4v = 480'd0;
        for (o = 34; o <= 78; o = o + 4) begin
            if ({24'd0, l4} == o) begin
                l4v = hv[o*8 +: 480];
            end
        end
    end
    wire [15:0] sport   = {l4v[0*8 +: 8], l4v[1*8 +: 8]};
    wire [15:0] dport   = {l4v[2*8 +: 8], l4v[3*8 +: 8]};
    wire [31:0] seq     = {l4v[4*8 +: 8], l4v[5*8 +: 8], l4v[6*8 +: 8], l4v[7*8 +: 8]};
    wire [31:0] ack     = {l4v[8*8 +: 8], l4v[9*8 +: 8], l4v[10*8 +: 8], l4v[11*8 +: 8]};
    wire [3:0]  doff    = l4v[12*8 + 4 +: 4];
    wire [7:0]  tflags  = l4v[13*8 +: 8];
    wire [15:0] twin    = {l4v[14*8 +: 8], l4v[15*8 +: 8]};
    /* verilator lint_off UNUSEDSIGNAL */
    wire [479:0] l4v_unused = l4v;  // byte 12[3:0] and bytes 14..19 are not needed
    /* verilator lint_on UNUSEDSIGNAL */

    // TCP option bytes: the 40 bytes from l4 + 20.
    wire [319:0] optv   = l4v[20*8 +: 320];

    // ------------------------------------------------------------------
    // Checksum lanes of the current word
    // ------------------------------------------------------------------
    wire [16:0] ip_lo_b  = {9'd0, l3};
    wire [16:0] ip_hi_b  = {9'd0, l3} + {9'd0, ihl4};
    wire [16:0] tcp_lo_b = {9'd0, l4};
    wire [16:0] tcp_hi_b = {9'd0, l3} + {1'b0, tot_len};
    reg  [21:0] ipsum;
    reg  [21:0] tcpsum;
    reg  [16:0] k0;
    reg  [16:0] k1;
    reg  [7:0]  lhi;
    reg  [7:0]  llo;
    integer j;
    always @* begin
        ipsum  = 22'd0;
        tcpsum = 22'd0;
        k0 = pos;
        k1 = 17'd0;
        lhi = 8'd0;
        llo = 8'd0;
        for (j = 0; j < KW / 2; j = j + 1) begin
            k1  = k0 + 17'd1;
            lhi = dm[16*j +: 8];
            llo = dm[16*j + 8 +: 8];
            if (k0 >= ip_lo_b && k0 < ip_hi_b) begin
                ipsum = ipsum + {6'd0, lhi, llo};
            end
            if (k0 >= tcp_lo_b) begin
                tcpsum = tcpsum + {6'd0, (k0 < tcp_hi_b) ? lhi : 8'd0,
                                         (k1 < tcp_hi_b) ? llo : 8'd0};
            end
            k0 = k0 + 17'd2;
        end
    end

    wire [31:0] ip_acc_n  = (first ? 32'd0 : ip_acc)  + {10'd0, ipsum};
    wire [31:0] tcp_acc_n = (first ? 32'd0 : tcp_acc) + {10'd0, tcpsum};
    wire [16:0] len_n     = pos + {{(17-CW){1'b0}}, nb};

    // ARP request: the 28 bytes at l3 (byte b of the ARP packet at [8b+7:8b]).
    /* verilator lint_off UNUSEDSIGNAL */
    wire [223:0] arpv   = is_vlan ? hv[18*8 +: 224] : hv[14*8 +: 224];   // THA unused
    /* verilator lint_on UNUSEDSIGNAL */
    wire [31:0] arp_spa = {arpv[14*8 +: 8], arpv[15*8 +: 8], arpv[16*8 +: 8], arpv[17*8 +: 8]};
    wire [31:0] arp_tpa = {arpv[24*8 +: 8], arpv[25*8 +: 8], arpv[26*8 +: 8], arpv[27*8 +: 8]};
    wire        is_arp  = (etype == 16'h0806);
    wire        arp_req = is_arp &&
                          (len_n >= {9'd0, l3} + 17'd28) &&
                          (arpv[0 +: 32] == 32'h0008_0100) &&   // htype 00 01, ptype 08 00
                          (arpv[32 +: 32] == 32'h0100_0406);    // hlen 6, plen 4, oper 00 01

    // ------------------------------------------------------------------
    // Buflet allocation and storage
    // ------------------------------------------------------------------
    wire        en_f       = first ? enable : en_r;
    wire        nobuf_cur  = first ? 1'b0 : nobuf_r;
    wire [15:0] count_cur  = first ? 16'd0 : count_r;
    wire        need       = (boff == {BOW{1'b0}});
    wire        want_alloc = xfer && en_f && !nobuf_cur && need;
    wire        got        = want_alloc && alloc_valid;
    wire        nobuf_n    = nobuf_cur || (want_alloc && !alloc_valid);
    wire        store      = xfer && en_f && !nobuf_n;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [15:0] buf_w      = need ? alloc_idx : cur_buf;   // only [LB-1:0] addresses the RAM
    /* verilator lint_on UNUSEDSIGNAL */
    wire [15:0] count_n    = count_cur + {15'd0, got};
    wire [15:0] head_n     = (got && count_cur == 16'd0) ? alloc_idx :
                             (first ? NULL16 : head_r);
    wire [15:0] tail_n     = got ? alloc_idx : (first ? NULL16 : tail_r);
    wire        lw         = got && (count_cur != 16'd0);

    assign alloc_req    = want_alloc;
    assign link_wr_en   = lw || nl_pend;
    assign link_wr_idx  = lw ? tail_r : nl_idx;
    assign link_wr_next = lw ? alloc_idx : NULL16;

    assign ram_wr_en   = wr_en_r;
    assign ram_wr_addr = wr_addr_r;
    assign ram_wr_data = wr_data_r;

    always @(posedge clk) begin
        if (rst) begin
            first   <= 1'b1;
            en_r    <= 1'b0;
            pos     <= 17'd0;
            hw      <= {HWW{1'b0}};
            boff    <= {BOW{1'b0}};
            ip_acc  <= 32'd0;
            tcp_acc <= 32'd0;
            nobuf_r <= 1'b0;
            cur_buf <= NULL16;
            head_r  <= NULL16;
            tail_r  <= NULL16;
            count_r <= 16'd0;
            nl_pend <= 1'b0;
            nl_idx  <= NULL16;
            wr_en_r <= 1'b0;
        end else begin
            wr_en_r <= store;
            if (!lw) begin
                nl_pend <= 1'b0;
            end
            if (xfer) begin
                en_r    <= en_f;
                ip_acc  <= ip_acc_n;
                tcp_acc <= tcp_acc_n;
                nobuf_r <= nobuf_n;
                head_r  <= head_n;
                tail_r  <= tail_n;
                count_r <= count_n;
                if (got) begin
                    cur_buf <= alloc_idx;
                end
                if (s_axis_rx_tlast) begin
                    first <= 1'b1;
                    pos   <= 17'd0;
                    hw    <= {HWW{1'b0}};
                    boff  <= {BOW{1'b0}};
                    if (en_f && count_n != 16'd0) begin
                        nl_pend <= 1'b1;
                        nl_idx  <= tail_n;
                    end
                end else begin
                    first <= 1'b0;
                    if (pos < POS_SAT) begin
                        pos <= pos + KW17;
                    end
                    if ({{(32-HWW){1'b0}}, hw} < HDR_WORDS) begin
                        hw <= hw + {{(HWW-1){1'b0}}, 1'b1};
                    end
                    boff <= boff + {{(BOW-1){1'b0}}, 1'b1};
                end
            end
        end
    end

    // Header capture and the registered RAM write (no reset needed).
    integer h;
    always @(posedge clk) begin
        if (xfer) begin
            for (h = 0; h < HDR_WORDS; h = h + 1) begin
                if ({{(32-HWW){1'b0}}, hw} == h) begin
                    hdr[h*DW +: DW] <= dm;
                end
            end
        end
        wr_addr_r <= {buf_w[LB-1:0], boff};
        wr_data_r <= dm;
    end

    // ------------------------------------------------------------------
    // Stage A -> B: latch the finished frame
    // ------------------------------------------------------------------
    always @(posedge clk) begin
        if (rst) begin
            fin_valid <= 1'b0;
        end else begin
            if (fin_go) begin
                fin_valid <= 1'b0;
            end
            if (last && en_f) begin
                fin_valid <= 1'b1;
            end
        end
        if (last && en_f) begin
            fin_len     <= len_n;
            fin_vlan    <= is_vlan;
            fin_vid     <= vid;
            fin_etype   <= etype;
            fin_ver     <= ver;
            fin_ihl     <= ihl;
            fin_tot     <= tot_len;
            fin_mf      <= mf;
            fin_frag    <= frag;
            fin_proto   <= proto;
            fin_src     <= is_arp ? arp_spa : src_ip;
            fin_dst     <= is_arp ? arp_tpa : dst_ip;
            fin_arp     <= arp_req;
            fin_sha     <= arpv[8*8 +: 48];
            fin_smac    <= hv[6*8 +: 48];
            fin_sport   <= sport;
            fin_dport   <= dport;
            fin_seq     <= seq;
            fin_doff    <= doff;
            fin_flags   <= tflags;
            fin_win     <= twin;
            fin_ack     <= ack;
            fin_opts    <= optv;
            fin_ip_acc  <= ip_acc_n;
            fin_tcp_acc <= tcp_acc_n;
            fin_nobuf   <= nobuf_n;
            fin_head    <= head_n;
            fin_tail    <= tail_n;
            fin_count   <= count_n;
        end
    end

    // ------------------------------------------------------------------
    // Stage B: pseudo header, folds, checks in order
    // ------------------------------------------------------------------
    wire [16:0] b_l3      = fin_vlan ? 17'd18 : 17'd14;
    wire [16:0] b_ihl4    = {11'd0, fin_ihl, 2'b00};
    wire [16:0] b_doff4   = {11'd0, fin_doff, 2'b00};
    wire [16:0] b_tot     = {1'b0, fin_tot};
    wire [16:0] b_l4len   = b_tot - b_ihl4;                 // L4 length p (if tot >= ihl4)
    wire        b_tcp     = (fin_proto == 8'd6);
    wire        b_udp     = (fin_proto == 8'd17);
    // pseudo header: source, destination, protocol (6 or 17; only used for those), L4 length,
    // summed as a tree (three adds deep, not six in a row; docs/fpga.md)
    wire [16:0] b_ps_src  = {1'b0, fin_src[31:16]} + {1'b0, fin_src[15:0]};
    wire [16:0] b_ps_dst  = {1'b0, fin_dst[31:16]} + {1'b0, fin_dst[15:0]};
    wire [31:0] b_ps_acc  = fin_tcp_acc + {24'd0, fin_proto};
    wire [31:0] b_tcp_sum = ({15'd0, b_ps_src} + {15'd0, b_ps_dst}) + (b_ps_acc + {16'd0, b_l4len[15:0]});
    // fold(s) == 0xFFFF, with t = s[15:0] + s[31:16] <= 0x1FFFE: t is 0x0FFFF, or 0x1FFFE
    // (whose end-around carry makes 0xFFFF); one add fewer than folding and comparing
    function ck_ok(input [31:0] s);
        reg [16:0] t;
        begin
            t = {1'b0, s[15:0]} + {1'b0, s[31:16]};
            ck_ok = (t == 17'h0FFFF) || (t == 17'h1FFFE);
        end
    endfunction
    wire        b_ip_ok   = ck_ok(fin_ip_acc);
    wire        b_tcp_ok  = ck_ok(b_tcp_sum);
    // UDP header fields through the TCP view: length = SEQ[31:16], checksum = SEQ[15:0]
    wire [15:0] b_udp_len = fin_seq[31:16];
    wire [15:0] b_udp_ck  = fin_seq[15:0];
    wire [15:0] b_l4_hdr  = b_udp ? 16'd8 : b_doff4[15:0];
    wire [15:0] b_pay_off = b_l3[15:0] + b_ihl4[15:0] + b_l4_hdr;
    wire [15:0] b_pay_len = fin_tot - b_ihl4[15:0] - b_l4_hdr;

    // Option walk (SYN frames that passed every check). One step per cycle:
    // the option at w_i, with n = doff*4 - 20 option bytes.
    // (w_i <= 40 always; bytes past the 40 option bytes read as 0)
    wire [511:0] o_all = {192'd0, fin_opts};
    wire [5:0]  o_n    = {fin_doff, 2'b00} - 6'd20;   // meaningful when doff > 5
    wire [5:0]  o_i1   = w_i + 6'd1;
    wire [5:0]  o_i2   = w_i + 6'd2;
    wire [7:0]  o_k    = o_all[{w_i, 3'b000} +: 8];
    wire [7:0]  o_len  = o_all[{o_i1, 3'b000} +: 8];
    wire [7:0]  o_val  = o_all[{o_i2, 3'b000} +: 8];
    wire [5:0]  o_i3   = w_i + 6'd3;
    wire [7:0]  o_val2 = o_all[{o_i3, 3'b000} +: 8];
    wire [8:0]  o_end  = {3'd0, w_i} + {1'b0, o_len};
    wire        o_stop = (w_i >= o_n) || (o_k == 8'd0) ||
                         ((o_k != 8'd1) && ((o_i1 >= o_n) || (o_len < 8'd2) ||
                                            (o_end > {3'd0, o_n})));
    wire        o_ws   = !o_stop && (o_k == 8'd3) && (o_len == 8'd3);
    wire        o_mss  = !o_stop && (o_k == 8'd2) && (o_len == 8'd4);
    wire [5:0]  o_next = (o_k == 8'd1) ? o_i1 : o_end[5:0];

    reg [3:0] b_reason;
    always @* begin
        if (fin_len > MAX_FRAME) begin
            b_reason = R_TOO_LONG;
        end else if (fin_len < 17'd14) begin
            b_reason = R_TRUNC;
        end else if (fin_etype != 16'h0800 || (fin_vlan && fin_len < 17'd18)) begin
            // (a tag without the whole inner EtherType: byte 17 missing reads as 0,
            // which would make 08 xx look like IPv4)
            b_reason = R_NOT_IPV4;
        end else if (fin_len < b_l3 + 17'd20) begin
            b_reason = R_TRUNC;
        end else if (fin_ver != 4'd4 || fin_ihl < 4'd5 || b_tot < b_ihl4) begin
            b_reason = R_BAD_IP;
        end else if (b_l3 + b_tot > fin_len) begin
            b_reason = R_TRUNC;
        end else if (fin_mf || fin_frag != 13'd0) begin
            b_reason = R_BAD_IP;
        end else if (!b_ip_ok) begin
            b_reason = R_IP_CSUM;
        end else if (b_udp) begin
            if (b_l4len < 17'd8) begin
                b_reason = R_TRUNC;
            end else if ({1'b0, b_udp_len} != b_l4len) begin
                b_reason = R_BAD_L4;
            end else if (b_udp_ck != 16'd0 && !b_tcp_ok) begin
                b_reason = R_L4_CSUM;
            end else if (fin_nobuf) begin
                b_reason = R_NO_BUF;
            end else begin
                b_reason = R_NONE;
            end
        end else if (!b_tcp) begin
            b_reason = R_NO_SOCK;
        end else if (b_l4len < 17'd20) begin
            b_reason = R_TRUNC;
        end else if (fin_doff < 4'd5 || b_ihl4 + b_doff4 > b_tot) begin
            b_reason = R_BAD_L4;
        end else if (!b_tcp_ok) begin
            b_reason = R_L4_CSUM;
        end else if (fin_nobuf) begin
            b_reason = R_NO_BUF;
        end else begin
            b_reason = R_NONE;
        end
    end

    // The walk runs for a TCP SYN with options whose headers pass every check but the two
    // checksums, stored whole; a SYN that fails a checksum walks as well and leaves dropped
    // (the model's walk_steps follow). The checksums' sums are thus not in series with the
    // handshake (fin_go, s_axis_rx_tready) in one cycle, only with the record's reason.
    wire b_shape = (fin_len <= MAX_FRAME) && (fin_len >= b_l3 + 17'd20) &&
                   (fin_etype == 16'h0800) && !(fin_vlan && fin_len < 17'd18) &&
                   (fin_ver == 4'd4) && (fin_ihl >= 4'd5) && (b_tot >= b_ihl4) &&
                   (b_l3 + b_tot <= fin_len) && !fin_mf && (fin_frag == 13'd0) && b_tcp &&
                   (b_l4len >= 17'd20) && (fin_doff >= 4'd5) && (b_ihl4 + b_doff4 <= b_tot) &&
                   !fin_nobuf;
    // the record may leave once the walk is over, or in the step where it stops
    wire walk_on = w_run && b_shape;
    assign w_done = !walk_on || o_stop;

    always @(posedge clk) begin
        if (rst) begin
            w_run <= 1'b0;
        end else if (last && en_f) begin
            w_run <= (proto == 8'd6) && tflags[1] && (doff > 4'd5);   // TCP SYN with options
        end else if (fin_go || (fin_valid && walk_on && o_stop)) begin
            w_run <= 1'b0;
        end
        if (last && en_f) begin
            w_i   <= 6'd0;
            w_wsv <= 1'b0;
            w_ws  <= 4'd0;
            w_mss <= 16'd0;
        end else if (fin_valid && walk_on && !o_stop) begin
            w_i <= o_next;
            if (o_mss) w_mss <= {o_val, o_val2};
            if (o_ws) begin
                w_wsv <= 1'b1;
                w_ws  <= (o_val > 8'd14) ? 4'd14 : o_val[3:0];
            end
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            meta_valid <= 1'b0;
        end else if (fin_go) begin
            meta_valid <= 1'b1;
        end else if (m_meta_ready) begin
            meta_valid <= 1'b0;
        end
        if (fin_go) begin
            meta_reason  <= b_reason;
            meta_len     <= fin_len[16] ? 16'hFFFF : fin_len[15:0];
            meta_vlan    <= fin_vid;
            meta_src     <= fin_src;
            meta_dst     <= fin_dst;
            meta_sport   <= fin_sport;
            meta_dport   <= fin_dport;
            meta_seq     <= b_udp ? 32'd0 : fin_seq;
            meta_flags   <= b_udp ? 8'd0 : fin_flags;
            meta_ack     <= b_udp ? 32'd0 : fin_ack;
            // a walk sets them; a SYN that failed a checksum walked too: 0 for it
            meta_wsv     <= w_wsv && (b_reason == R_NONE);
            meta_ws      <= (b_reason == R_NONE) ? w_ws : 4'd0;
            meta_mss     <= (b_reason == R_NONE) ? w_mss : 16'd0;
            meta_win     <= b_udp ? 16'd0 : fin_win;
            meta_pay_off <= b_pay_off;
            meta_pay_len <= b_pay_len;
            meta_udp     <= b_udp && (b_reason == R_NONE);
            meta_arp     <= fin_arp && (b_reason == R_NOT_IPV4);
            meta_sha     <= fin_sha;
            meta_smac    <= fin_smac;
            meta_head    <= fin_head;
            meta_tail    <= fin_tail;
            meta_count   <= fin_count;
        end
    end

    assign m_meta_valid    = meta_valid;
    assign m_meta_reason   = meta_reason;
    assign m_meta_len      = meta_len;
    assign m_meta_vlan     = meta_vlan;
    assign m_meta_src_ip   = meta_src;
    assign m_meta_dst_ip   = meta_dst;
    assign m_meta_src_port = meta_sport;
    assign m_meta_dst_port = meta_dport;
    assign m_meta_seq      = meta_seq;
    assign m_meta_flags    = meta_flags;
    assign m_meta_ack      = meta_ack;
    assign m_meta_ws_valid = meta_wsv;
    assign m_meta_ws       = meta_ws;
    assign m_meta_window   = meta_win;
    assign m_meta_mss      = meta_mss;
    assign m_meta_pay_off  = meta_pay_off;
    assign m_meta_pay_len  = meta_pay_len;
    assign m_meta_udp      = meta_udp;
    assign m_meta_arp_req  = meta_arp;
    assign m_meta_arp_sha  = meta_sha;
    assign m_meta_src_mac  = meta_smac;
    assign m_meta_head     = meta_head;
    assign m_meta_tail     = meta_tail;
    assign m_meta_count    = meta_count;

endmodule

`resetall
