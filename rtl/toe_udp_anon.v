`resetall
`default_nettype none
// toe_udp_anon: the paths of docs/rx-paths.md that are neither lookup nor TCP, for
// toe_engine: the ARP answer (arp_hit, the KIND ARP tx command from the request's sender and
// VLAN and NIC_MAC/NIC_IP), the UDP datagram's segment header (one segment covering the UDP
// header and payload, SEQ 0, FLAGS 0) and the anonymous buffers.
// Anonymous buffers: NUM_ANON slots {ADDR, LEN[15:0], TAG} (anon_mem, registered read
// address), a busy bitmap and a FIFO of posted slots (first posted, first used). A frame with
// reason NOT_IPV4 or NO_SOCKET goes to the head slot when there is one and the frame was
// stored whole (its chain has ceil(len / BUFLET_BYTES) buflets, decision 1): the FSM takes the
// head slot (S_AN0), reads it (S_AN1: n = min(frame length, LEN)), asks the protection table
// for the whole buffer (S_AN_CHK), issues DMA writes of at most 4096 bytes at ADDR + 4096k
// (S_AN_WR, an_ck bytes each, through toe_mover), frees the chain and posts ANON_RX
// (cpl_anon: OK with BYTES n and TRUNC when n < length, or PROT_FAULT when refused).
`include "buflet_defs.vh"
`include "buflet_checks.vh"
module toe_udp_anon #(
    parameter BUFLET_BYTES = 2048,
    parameter NUM_ANON     = 16,
    parameter AW           = (NUM_ANON > 1) ? $clog2(NUM_ANON) : 1
) (
    input  wire                clk,
    input  wire                rst,
    // ANON_POST accepted (S_REQ): slot and entry {ADDR, LEN[15:0], TAG}
    input  wire                post,
    input  wire [AW-1:0]       post_ref,
    input  wire [111:0]        post_ent,
    // anonymous delivery steps
    input  wire                in_an0,      // S_AN0: the head slot leaves the FIFO
    input  wire                in_an1,      // S_AN1: its entry is read
    input  wire                chk_deny,    // S_AN_CHK: the buffer is refused
    input  wire                wr_fire,     // S_AN_WR: a DMA write request fires
    input  wire                cpl_go,      // S_AN_CPL: ANON_RX posted, the slot is free
    // frame metadata
    input  wire [3:0]          mt_reason,
    input  wire [15:0]         mt_len,
    input  wire [15:0]         mt_count,
    input  wire [15:0]         mt_pay_off,
    input  wire [15:0]         mt_pay_len,
    input  wire [11:0]         mt_vlan,
    input  wire [31:0]         mt_src_ip,
    input  wire [31:0]         mt_dst_ip,
    input  wire                mt_arp_req,
    input  wire [47:0]         mt_arp_sha,
    input  wire [47:0]         nic_mac,
    input  wire [31:0]         nic_ip,
    // decisions
    output wire                arp_hit,     // an ARP request for NIC_IP: answer it
    output wire                anon_rsn,    // the reason sends the frame to the anonymous path
    output wire                anon_go,     // ... and a buffer takes it
    output reg  [NUM_ANON-1:0] an_busy,
    // the delivery in progress
    output reg  [63:0]         an_addr,
    output wire [15:0]         an_len,      // LEN of the buffer
    output reg  [15:0]         an_off,      // offset of the next DMA write (a multiple of 4096)
    output wire [15:0]         an_ck,       // bytes of the next DMA write
    output wire                an_last,     // ... the last one
    output reg                 an_refused,
    // tx command, segment header, completion
    output reg  [383:0]        arp_cmd,
    output reg  [127:0]        hd_udp,
    output reg  [255:0]        cpl_anon
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh): "stored whole" is a shift
    generate
        if (!`BF_IS_POW2(BUFLET_BYTES)) begin : g_check_buflet_bytes
            `BF_ERROR("toe_udp_anon: BUFLET_BYTES must be a power of two")
        end
    endgenerate
    localparam BB_SHIFT = $clog2(BUFLET_BYTES);
    localparam [31:0] BB_M1_32    = BUFLET_BYTES - 1;
    localparam [31:0] ANON_LAST32 = NUM_ANON - 1;
    localparam [15:0] NULL16 = 16'hFFFF;
    localparam [3:0] DROP_NOT_IPV4  = `BF_DROP_NOT_IPV4;
    localparam [3:0] DROP_NO_SOCKET = `BF_DROP_NO_SOCKET;
    localparam [7:0] TX_KIND_ARP  = `BF_TX_KIND_ARP;
    localparam [7:0] ST_OK         = `BF_STATUS_OK;
    localparam [7:0] ST_PROT_FAULT = `BF_STATUS_PROT_FAULT;
    localparam [7:0] KIND_ANON_RX  = `BF_CPL_KIND_ANON_RX;
    localparam [7:0] OP_ANON_POST  = `BF_OP_ANON_POST;
    localparam [7:0] FL_TRUNC      = `BF_CPL_FLAG_TRUNC;

    reg [111:0]  anon_mem [0:NUM_ANON-1];   // {ADDR, LEN[15:0], TAG}
    reg [AW-1:0] aq_mem [0:NUM_ANON-1];     // FIFO of posted slots (each slot at most once)
    reg [AW-1:0] aq_wp, aq_rp;
    reg [AW:0]   aq_cnt;
    reg [AW-1:0] an_idx;
    reg [31:0]   an_tag;
    reg [15:0]   an_n;                      // bytes of the frame written (min(frame length, LEN))
    reg [15:0]   an_rem;                    // bytes left to issue
    wire [111:0] an_rd = anon_mem[an_idx];

    assign arp_hit  = (mt_reason == DROP_NOT_IPV4) && mt_arp_req && (nic_ip != 32'd0) &&
                      (mt_dst_ip == nic_ip);
    assign anon_rsn = (mt_reason == DROP_NOT_IPV4) || (mt_reason == DROP_NO_SOCKET);
    // stored whole: the chain holds ceil(len / BUFLET_BYTES) buflets (decision 1)
    wire [16:0] len_up   = {1'b0, mt_len} + BB_M1_32[16:0];
    wire [16:0] need_cnt = len_up >> BB_SHIFT;
    wire        mt_whole = ({1'b0, mt_count} == need_cnt);
    assign anon_go  = (aq_cnt != {(AW+1){1'b0}}) && mt_whole;
    assign an_len   = an_rd[47:32];
    assign an_ck    = (an_rem > 16'd4096) ? 16'd4096 : an_rem;
    assign an_last  = (an_rem == an_ck);
    wire [15:0] an_n0 = (mt_len < an_len) ? mt_len : an_len;

    always @(posedge clk) begin
        if (post) anon_mem[post_ref] <= post_ent;
    end
    always @(posedge clk) begin
        if (rst) begin
            an_busy    <= {NUM_ANON{1'b0}};
            aq_wp      <= {AW{1'b0}};
            aq_rp      <= {AW{1'b0}};
            aq_cnt     <= {(AW+1){1'b0}};
            an_refused <= 1'b0;
        end else begin
            if (post) begin
                an_busy[post_ref] <= 1'b1;
                aq_mem[aq_wp] <= post_ref;
                aq_wp  <= (aq_wp == ANON_LAST32[AW-1:0]) ? {AW{1'b0}} : aq_wp + 1'b1;
                aq_cnt <= aq_cnt + 1'b1;
            end
            if (in_an0) begin
                an_idx <= aq_mem[aq_rp];
                aq_rp  <= (aq_rp == ANON_LAST32[AW-1:0]) ? {AW{1'b0}} : aq_rp + 1'b1;
                aq_cnt <= aq_cnt - 1'b1;
            end
            if (in_an1) begin
                an_tag     <= an_rd[31:0];
                an_addr    <= an_rd[111:48];
                an_n       <= an_n0;
                an_rem     <= an_n0;
                an_off     <= 16'd0;
                an_refused <= 1'b0;
            end
            if (chk_deny) an_refused <= 1'b1;
            if (wr_fire) begin
                // bytes [an_off, an_off + an_ck) of the frame to ADDR + an_off
                an_off <= an_off + 16'd4096;
                an_rem <= an_rem - an_ck;
            end
            if (cpl_go) an_busy[an_idx] <= 1'b0;
        end
    end

    always @* begin
        // ARP reply (rx-paths.md): KIND ARP, the request's sender and VLAN, NIC_MAC/NIC_IP
        arp_cmd = 384'd0;
        arp_cmd[`BF_TX_CMD_DST_MAC_RANGE] = mt_arp_sha;
        arp_cmd[`BF_TX_CMD_SRC_MAC_RANGE] = nic_mac;
        arp_cmd[`BF_TX_CMD_VLAN_RANGE]    = {4'd0, mt_vlan};
        arp_cmd[`BF_TX_CMD_KIND_RANGE]    = TX_KIND_ARP;
        arp_cmd[`BF_TX_CMD_SRC_IP_RANGE]  = nic_ip;
        arp_cmd[`BF_TX_CMD_DST_IP_RANGE]  = mt_src_ip;
        // a datagram is one segment covering its UDP header and payload, SEQ 0, FLAGS 0
        hd_udp = 128'd0;
        hd_udp[`BF_BUFLET_HDR_NEXT_BUFLET_RANGE] = NULL16;   // chain links live in the pool's link RAM
        hd_udp[`BF_BUFLET_HDR_DATA_OFF_RANGE]    = mt_pay_off - 16'd8;
        hd_udp[`BF_BUFLET_HDR_DATA_LEN_RANGE]    = mt_pay_len + 16'd8;
        hd_udp[`BF_BUFLET_HDR_FLAGS_RANGE]       = 8'd0;
        hd_udp[`BF_BUFLET_HDR_NEXT_SEG_RANGE]    = NULL16;   // links live in nxt_mem
        hd_udp[`BF_BUFLET_HDR_SEQ_RANGE]         = 32'd0;
        // ANON_RX: the buffer filled (or refused: nothing was written)
        cpl_anon = 256'd0;
        cpl_anon[`BF_CPL_KIND_RANGE]    = KIND_ANON_RX;
        cpl_anon[`BF_CPL_TAG_RANGE]     = an_tag;
        cpl_anon[`BF_CPL_REF_NUM_RANGE] = {{(32-AW){1'b0}}, an_idx};
        cpl_anon[`BF_CPL_OPCODE_RANGE]  = OP_ANON_POST;
        if (an_refused) begin
            cpl_anon[`BF_CPL_STATUS_RANGE] = ST_PROT_FAULT;
        end else begin
            cpl_anon[`BF_CPL_STATUS_RANGE] = ST_OK;
            cpl_anon[`BF_CPL_BYTES_RANGE]  = {16'd0, an_n};
            cpl_anon[`BF_CPL_FLAGS_RANGE]  = (an_n < mt_len) ? {24'd0, FL_TRUNC} : 32'd0;
        end
    end
endmodule
`resetall
