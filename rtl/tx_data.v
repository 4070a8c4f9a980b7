// tx_data: the payload of the data segments (docs/tcp-transmit.md "Frames"). Sits between the
// engine's transmit command queue and tx_builder: each TCP command with PAY_LEN > 0 takes its
// payload pieces (s_pc: page list HMD, buffer offset AT, LEN; the last one flagged; their
// lengths add up to PAY_LEN), fetches them from host memory by DMA into the payload FIFO while
// summing PAY_SUM, and is passed on to tx_builder (m_cmd, PAY_SUM set) only once its last
// payload word is in the FIFO, so tx_builder never waits on memory inside a frame. Commands
// leave in the order they came; a command with PAY_LEN = 0 or KIND = ARP is passed on as it is
// once every earlier one has been passed on or dropped. The engine queues a data command before
// its pieces are known: the last piece says whether the segment ends a PSH post (s_pc_psh), and
// the command's FLAGS get PSH then.
//
// Fetch (one command at a time, one DMA read at a time): a piece is cut at 4096-byte page
// boundaries; each run's page address comes from the page list entry at HMD + 8 * (AT >> 12)
// (one 8-byte read; a one-entry cache (HMD, page) -> address, as toe_deliver's, skips the read
// for the next run or segment in the same page; a failed read is not cached, and the entry is
// forgotten when posts complete, `inval`: the host may then rewrite their page lists), then the run is
// read with one DMA read of (page + AT mod 4096, run length), issued only when the FIFO has room
// for all of it, so the shared response bus is never stalled while this client holds the
// arbiter. The responses go through axis_packer (tlast only on the command's final run) into
// the FIFO: a RAM of DEPTH words (two MAX_SEG segments plus packing slack, so the next
// segment's fetch overlaps the current one's transmission) with a synchronous read and a
// two-word output buffer (one word per cycle). PAY_SUM (one's-complement sum of the payload as
// big-endian 16-bit words, an odd last byte padded with 0, folded, not complemented) is summed
// from the packed words as they are written (every packed word but the last is full, so each
// starts at an even payload offset).
//
// A read that fails (tuser on a response of the command, page-list entry or payload) drops the
// command: no further reads are issued for it, its remaining pieces are still taken, its words
// already written are discarded (the write pointer rolls back to the command's start, the
// packer is cleared), ev_pay_fault pulses once and the command is not passed on. The read side
// only reads words of commands already passed on (committed), so a rollback never meets a word
// read out.
//
// DEVMEM pieces (docs/p2p.md "p2p reads", s_pc_dev): the post's list names host buflets. A run
// is cut at BUFLET_BYTES boundaries instead; its list entry (read and cached as above) must be
// a host buflet's device address (a multiple of BUFLET_BYTES, buflet index >= NUM_BUFLETS -
// host_buflets), else the read fails as a refused DMA read does; the run's bytes are read from
// buflet memory through a read port of buflet_pool shared with blk_dma (m_bram_rd_en asks,
// bram_rd_ready grants; the word is in bram_rd_data the cycle after a granted read and holds
// until the next one), one word per cycle when granted, marked with tkeep and packed into the
// FIFO exactly as DMA responses are.
//
// idle: no command, piece or read in progress (words may still wait in the FIFO for
// tx_builder; they are copies).

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module tx_data #(
    parameter DATA_WIDTH   = 64,
    parameter KEEP_WIDTH   = DATA_WIDTH / 8,
    parameter MAX_SEG      = `BF_PARAM_TX_MAX_SEG,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter BW_ADDR      = $clog2(NUM_BUFLETS * BUFLET_BYTES / KEEP_WIDTH)
) (
    input  wire                  clk,
    input  wire                  rst,

    // commands in decision order (tx_cmd layout, byte k at [8k+7:8k])
    input  wire                  s_cmd_valid,
    output wire                  s_cmd_ready,
    input  wire [383:0]          s_cmd_data,

    // payload pieces of the data commands, in command order
    input  wire                  s_pc_valid,
    output wire                  s_pc_ready,
    input  wire [63:0]           s_pc_hmd,
    input  wire [31:0]           s_pc_at,
    input  wire [15:0]           s_pc_len,
    input  wire                  s_pc_last,
    input  wire                  s_pc_psh,       // (last piece) the segment ends a PSH post: the command's FLAGS get PSH
    input  wire                  s_pc_dev,       // the piece's post is DEVMEM: its list names host buflets
    input  wire                  inval,          // one-cycle pulse: posts complete, their page lists may be reused: forget the cached page

    // buflet memory (DEVMEM pieces): a read port of buflet_pool shared with blk_dma
    output wire                  m_bram_rd_en,
    input  wire                  bram_rd_ready,
    output wire [BW_ADDR-1:0]    m_bram_rd_addr,
    input  wire [DATA_WIDTH-1:0] bram_rd_data,
    input  wire [15:0]           host_buflets,   // HOST_BUFLETS

    // DMA read client
    output wire                  m_dma_rd_req_valid,
    input  wire                  m_dma_rd_req_ready,
    output wire [63:0]           m_dma_rd_req_addr,
    output wire [15:0]           m_dma_rd_req_len,
    input  wire [DATA_WIDTH-1:0] s_axis_dma_rd_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_dma_rd_tkeep,
    input  wire                  s_axis_dma_rd_tvalid,
    output wire                  s_axis_dma_rd_tready,
    input  wire                  s_axis_dma_rd_tlast,
    input  wire                  s_axis_dma_rd_tuser,

    // to tx_builder
    output wire                  m_cmd_valid,
    input  wire                  m_cmd_ready,
    output wire [383:0]          m_cmd_data,
    output wire [DATA_WIDTH-1:0] m_axis_pay_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_pay_tkeep,
    output wire                  m_axis_pay_tvalid,
    input  wire                  m_axis_pay_tready,
    output wire                  m_axis_pay_tlast,

    output reg                   ev_pay_fault,
    output wire                  idle
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(tx_data)
        `BF_CHECK_KEEP_WIDTH(tx_data)
        if (MAX_SEG < 1 || MAX_SEG > 65469) begin : g_check_max_seg
            `BF_ERROR("tx_data: MAX_SEG must be in 1..65469 (a frame of 66 + MAX_SEG bytes)")
        end
        if (!`BF_IS_POW2(BUFLET_BYTES) || BUFLET_BYTES < KEEP_WIDTH || BUFLET_BYTES > 4096) begin : g_check_buflet_bytes
            `BF_ERROR("tx_data: BUFLET_BYTES must be a power of two in KEEP_WIDTH..4096 (a run's room is 13 bits)")
        end
        `BF_CHECK_BUFLET_RAM(tx_data, KEEP_WIDTH)
    endgenerate

    localparam KW    = KEEP_WIDTH;
    localparam DW    = DATA_WIDTH;
    localparam OW    = $clog2(KW);
    localparam SEGW  = (MAX_SEG + KW - 1) / KW;     // words of one segment
    localparam DEPTH = 2 * SEGW + 8;                // two segments plus packing slack
    localparam AW    = $clog2(DEPTH);
    localparam CW    = AW + 1;                      // counts 0..DEPTH
    localparam FW    = DW + KW + 1;                 // FIFO word: {last, keep, data}
    localparam [AW-1:0] LAST_ADDR = AW'(DEPTH - 1);
    localparam [CW-1:0] DEPTH_C   = CW'(DEPTH);
    localparam [7:0]    KIND_ARP  = `BF_TX_KIND_ARP;
    localparam [12:0]   PAGE_BYTES = `BF_PARAM_PAGE_BYTES;

    localparam [3:0] S_IDLE  = 4'd0,   // waiting for a command
                     S_PASS  = 4'd1,   // the command is offered on m_cmd
                     S_PIECE = 4'd2,   // waiting for the next piece
                     S_RUN   = 4'd3,   // the next run of the piece: cached page or not
                     S_PLREQ = 4'd4,   // the page-list entry's read is requested
                     S_PLRSP = 4'd5,   // ... and its response taken
                     S_ROOM  = 4'd6,   // waiting for FIFO room for the run
                     S_DREQ  = 4'd7,   // the run's read is requested
                     S_DRSP  = 4'd8,   // ... and its response packed into the FIFO
                     S_END   = 4'd9,   // the command's reads are done: commit or roll back
                     S_DVRD  = 4'd10;  // a DEVMEM run read from buflet memory into the FIFO
    localparam LBB = $clog2(BUFLET_BYTES);
    localparam [16:0] NUM17 = 17'(NUM_BUFLETS);

    reg [3:0]    state;
    reg [383:0]  cmd;
    reg          is_data;
    reg [63:0]   p_hmd;
    reg [31:0]   p_at;
    reg [15:0]   p_len;       // bytes of the piece not yet read
    reg          p_last;
    reg          p_dev;       // the piece is DEVMEM
    reg          fault;       // a read of the command failed
    reg          last_wr;     // the command's last word is in the FIFO
    reg [31:0]   acc;         // unfolded payload sum (< 2^29 for 64 KiB)
    reg          pc_vld;      // page cache: (DEVMEM, HMD, page) -> page (buflet) address
    reg          pc_dev;
    reg [63:0]   pc_hmd;
    reg [20:0]   pc_page;
    reg [63:0]   pc_addr;

    // ------------------------------------------------------------------ command intake
    wire [15:0] in_plen  = s_cmd_data[`BF_TX_CMD_PAY_LEN_RANGE];
    wire        in_data  = (s_cmd_data[`BF_TX_CMD_KIND_RANGE] != KIND_ARP) && (in_plen != 16'd0);
    assign s_cmd_ready   = (state == S_IDLE) || ((state == S_PASS) && m_cmd_ready);
    wire   cmd_go        = s_cmd_valid && s_cmd_ready;

    function [15:0] fold;
        input [31:0] s;
        reg [16:0] t;
        begin
            t    = {1'b0, s[31:16]} + {1'b0, s[15:0]};
            fold = t[15:0] + {15'd0, t[16]};
        end
    endfunction

    assign m_cmd_valid = (state == S_PASS);
    assign m_cmd_data  = is_data ? {fold(acc), cmd[367:0]} : cmd;

    // ------------------------------------------------------------------ the run
    // a run ends at the page's (DEVMEM: the buflet's) end
    wire [12:0] unit_off  = p_dev ? 13'(p_at[LBB-1:0]) : {1'b0, p_at[11:0]};
    wire [12:0] pg_room   = (p_dev ? 13'(BUFLET_BYTES) : PAGE_BYTES) - unit_off;
    wire [12:0] rn        = (p_len < {3'd0, pg_room}) ? p_len[12:0] : pg_room;
    wire        run_end   = ({3'd0, rn} == p_len);             // the run ends the piece
    wire        run_final = run_end && p_last;                 // ... and the command
    wire [20:0] page      = p_dev ? 21'(p_at >> LBB) : {1'b0, p_at[31:12]};
    wire        pc_hit    = pc_vld && (pc_dev == p_dev) && (pc_hmd == p_hmd) && (pc_page == page);
    // a DEVMEM entry: a host buflet's device address
    wire [63:0] ent       = s_axis_dma_rd_tdata[63:0];
    /* verilator lint_off UNUSEDSIGNAL */
    wire [63:0] ent_b     = ent >> LBB;
    /* verilator lint_on UNUSEDSIGNAL */
    wire        ent_ok    = (ent[LBB-1:0] == {LBB{1'b0}}) && (ent_b < 64'(NUM_BUFLETS)) &&
                            ({1'b0, ent_b[15:0]} + {1'b0, host_buflets} >= NUM17);
    wire [12:0] rn_words  = (rn + KW[12:0] - 13'd1) >> OW;

    // ------------------------------------------------------------------ the payload FIFO
    reg [FW-1:0] mem [0:DEPTH-1];
    reg [AW-1:0] wr_ptr, rd_ptr, cmd_start;
    reg [CW-1:0] used;        // words in the RAM
    reg [CW-1:0] avail;       // ... of commands passed on (readable)
    reg [CW-1:0] cwords;      // ... of the command being fetched
    wire [CW-1:0] room = DEPTH_C - used;
    wire room_ok = ({{(32 - CW){1'b0}}, room} >= {19'd0, rn_words} + 32'd3);

    function [AW-1:0] inc;
        input [AW-1:0] a;
        inc = (a == LAST_ADDR) ? {AW{1'b0}} : a + {{(AW-1){1'b0}}, 1'b1};
    endfunction

    // axis_packer between the DMA responses and the FIFO
    wire          pk_clear = (state == S_END) && fault;   // drop the packer's bytes
    // DEVMEM run: dv_pend = our word is on bram_rd_data; dv_issue = words still to read at
    // dv_addr; dv_rem = bytes still to pack; the first word starts at byte dv_lo.
    reg  [BW_ADDR-1:0] dv_addr;
    reg  [13:0]        dv_issue;
    reg                dv_pend;
    reg                dv_first;
    reg  [OW-1:0]      dv_lo;
    reg  [12:0]        dv_rem;
    wire [12:0]        dv_off   = dv_first ? 13'(dv_lo) : 13'd0;
    wire [12:0]        dv_avail = 13'(KW) - dv_off;
    wire               dv_last  = (dv_rem <= dv_avail);
    wire [12:0]        dv_n     = dv_last ? dv_rem : dv_avail;
    wire [12:0]        dv_top   = 13'(KW) - (dv_off + dv_n);
    wire [KW-1:0]      dv_keep  = ({KW{1'b1}} >> dv_top) & ({KW{1'b1}} << dv_off);
    wire               pk_s_ready;
    wire               dv_take  = (state == S_DVRD) && dv_pend && pk_s_ready;
    wire               dv_req   = (state == S_DVRD) && (dv_issue != 14'd0) && (!dv_pend || dv_take);
    wire               dv_fire  = dv_req && bram_rd_ready;
    assign m_bram_rd_en   = dv_req;
    assign m_bram_rd_addr = dv_addr;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [63:0]        dv_start = pc_addr + {51'd0, unit_off};   // device byte address of the run
    /* verilator lint_on UNUSEDSIGNAL */

    wire          pk_s_valid = ((state == S_DRSP) && s_axis_dma_rd_tvalid) || ((state == S_DVRD) && dv_pend);
    wire [DW-1:0] pk_s_data  = (state == S_DVRD) ? bram_rd_data : s_axis_dma_rd_tdata;
    wire [KW-1:0] pk_s_keep  = (state == S_DVRD) ? dv_keep : s_axis_dma_rd_tkeep;
    wire          pk_s_last  = ((state == S_DVRD) ? dv_last : s_axis_dma_rd_tlast) && run_final;
    wire [DW-1:0] pk_data;
    wire [KW-1:0] pk_keep;
    wire          pk_valid, pk_last;
    wire          pk_ready = !pk_clear && (used != DEPTH_C);
    axis_packer #(.DATA_WIDTH(DW), .KEEP_WIDTH(KW)) u_pack (
        .clk(clk), .rst(rst || pk_clear),
        .s_axis_tdata(pk_s_data), .s_axis_tkeep(pk_s_keep),
        .s_axis_tvalid(pk_s_valid), .s_axis_tready(pk_s_ready),
        .s_axis_tlast(pk_s_last),
        .m_axis_tdata(pk_data), .m_axis_tkeep(pk_keep), .m_axis_tvalid(pk_valid),
        .m_axis_tready(pk_ready), .m_axis_tlast(pk_last)
    );
    wire wr = pk_valid && pk_ready;

    // the word's sum: big-endian 16-bit lanes, bytes past tkeep as zero
    reg [DW-1:0] pk_masked;
    reg [31:0]   wsum;
    integer i;
    always @* begin
        for (i = 0; i < KW; i = i + 1) begin
            pk_masked[8*i +: 8] = pk_keep[i] ? pk_data[8*i +: 8] : 8'd0;
        end
        wsum = 32'd0;
        for (i = 0; i < KW / 2; i = i + 1) begin
            wsum = wsum + {16'd0, pk_masked[16*i +: 8], pk_masked[16*i+8 +: 8]};
        end
    end

    // read side: synchronous RAM read (pend: a word arrives in ram_q) into a two-word buffer
    reg [FW-1:0] ram_q;
    reg          pend;
    reg          q0_v, q1_v;
    reg [FW-1:0] q0, q1;
    wire         pop   = q0_v && m_axis_pay_tready;
    wire [1:0]   n_out = {1'b0, q0_v} + {1'b0, q1_v} + {1'b0, pend} - {1'b0, pop};
    wire         rd    = (avail != {CW{1'b0}}) && (n_out <= 2'd1);
    reg          n0_v, n1_v;
    reg [FW-1:0] n0, n1;
    always @* begin
        n0_v = q0_v; n0 = q0; n1_v = q1_v; n1 = q1;
        if (pop) begin
            n0_v = q1_v; n0 = q1; n1_v = 1'b0;
        end
        if (pend) begin
            if (!n0_v) begin
                n0_v = 1'b1; n0 = ram_q;
            end else begin
                n1_v = 1'b1; n1 = ram_q;
            end
        end
    end
    assign m_axis_pay_tdata  = q0[DW-1:0];
    assign m_axis_pay_tkeep  = q0[DW +: KW];
    assign m_axis_pay_tlast  = q0[FW-1];
    assign m_axis_pay_tvalid = q0_v;

    // ------------------------------------------------------------------ DMA
    wire rsp = s_axis_dma_rd_tvalid && s_axis_dma_rd_tready;
    assign m_dma_rd_req_valid   = (state == S_PLREQ) || (state == S_DREQ);
    assign m_dma_rd_req_addr    = (state == S_PLREQ) ? (p_hmd + {40'd0, page, 3'b000})
                                                     : (pc_addr + {52'd0, p_at[11:0]});
    assign m_dma_rd_req_len     = (state == S_PLREQ) ? 16'd8 : {3'd0, rn};
    assign s_axis_dma_rd_tready = (state == S_PLRSP) || ((state == S_DRSP) && pk_s_ready);
    assign s_pc_ready           = (state == S_PIECE);
    assign idle                 = (state == S_IDLE);
    wire   req_go               = m_dma_rd_req_valid && m_dma_rd_req_ready;
    wire   commit               = (state == S_END) && !fault && last_wr;

    // ------------------------------------------------------------------ registers
    always @(posedge clk) begin
        if (wr) mem[wr_ptr] <= {pk_last, pk_keep, pk_data};
        if (rd) ram_q <= mem[rd_ptr];
        if (cmd_go) begin
            cmd     <= s_cmd_data;
            is_data <= in_data;
        end
        if (s_pc_valid && s_pc_ready) begin
            p_hmd  <= s_pc_hmd;
            p_at   <= s_pc_at;
            p_len  <= s_pc_len;
            p_last <= s_pc_last;
            p_dev  <= s_pc_dev;
            if (s_pc_psh) cmd[`BF_TX_CMD_FLAGS_RANGE] <= cmd[`BF_TX_CMD_FLAGS_RANGE] | 8'(`BF_TCP_FLAG_PSH);
        end else if (((state == S_DRSP) && rsp && s_axis_dma_rd_tlast) || (dv_take && dv_last)) begin
            p_at  <= p_at + {19'd0, rn};
            p_len <= p_len - {3'd0, rn};
        end
        q0 <= n0;
        q1 <= n1;
        if (rst) begin
            state        <= S_IDLE;
            fault        <= 1'b0;
            last_wr      <= 1'b0;
            acc          <= 32'd0;
            pc_vld       <= 1'b0;
            wr_ptr       <= {AW{1'b0}};
            rd_ptr       <= {AW{1'b0}};
            cmd_start    <= {AW{1'b0}};
            used         <= {CW{1'b0}};
            avail        <= {CW{1'b0}};
            cwords       <= {CW{1'b0}};
            pend         <= 1'b0;
            q0_v         <= 1'b0;
            q1_v         <= 1'b0;
            ev_pay_fault <= 1'b0;
        end else begin
            ev_pay_fault <= 1'b0;
            pend <= rd;
            q0_v <= n0_v;
            q1_v <= n1_v;
            if (rd) rd_ptr <= inc(rd_ptr);

            // FIFO occupancy: written, read, committed, rolled back
            if (pk_clear) begin
                wr_ptr <= cmd_start;
                cwords <= {CW{1'b0}};
            end else if (wr) begin
                wr_ptr <= inc(wr_ptr);
                cwords <= cwords + {{(CW-1){1'b0}}, 1'b1};
            end else if (commit) begin
                cwords <= {CW{1'b0}};
            end
            used  <= used + {{(CW-1){1'b0}}, wr} - {{(CW-1){1'b0}}, rd} -
                     (pk_clear ? cwords : {CW{1'b0}});
            avail <= avail - {{(CW-1){1'b0}}, rd} + (commit ? cwords : {CW{1'b0}});
            if (wr) begin
                acc <= acc + wsum;
                if (pk_last) last_wr <= 1'b1;
            end

            if (cmd_go && in_data) begin
                cmd_start <= wr_ptr;
                acc       <= 32'd0;
                fault     <= 1'b0;
                last_wr   <= 1'b0;
            end

            case (state)
                S_IDLE, S_PASS: begin
                    if (cmd_go) state <= in_data ? S_PIECE : S_PASS;
                    else if (state == S_PASS && m_cmd_ready) state <= S_IDLE;
                end
                S_PIECE: if (s_pc_valid) state <= S_RUN;
                S_RUN: begin
                    if (fault) state <= p_last ? S_END : S_PIECE;   // skip the rest
                    else state <= pc_hit ? S_ROOM : S_PLREQ;
                end
                S_PLREQ: if (req_go) state <= S_PLRSP;
                S_PLRSP: begin
                    if (rsp && s_axis_dma_rd_tlast) begin
                        if (s_axis_dma_rd_tuser) begin
                            fault  <= 1'b1;
                            pc_vld <= 1'b0;
                            state  <= S_RUN;
                        end else if (p_dev && !ent_ok) begin
                            // not a host buflet: refused, as a failed read is
                            fault  <= 1'b1;
                            pc_vld <= 1'b0;
                            state  <= S_RUN;
                        end else begin
                            pc_vld  <= 1'b1;
                            pc_dev  <= p_dev;
                            pc_hmd  <= p_hmd;
                            pc_page <= page;
                            pc_addr <= s_axis_dma_rd_tdata[63:0];
                            state   <= S_ROOM;
                        end
                    end
                end
                S_ROOM: if (room_ok) begin
                    if (p_dev) begin
                        dv_addr  <= dv_start[BW_ADDR+OW-1:OW];
                        dv_issue <= 14'((14'(dv_start[OW-1:0]) + {1'b0, rn} + 14'(KW - 1)) >> OW);
                        dv_pend  <= 1'b0;
                        dv_first <= 1'b1;
                        dv_lo    <= dv_start[OW-1:0];
                        dv_rem   <= rn;
                        state    <= S_DVRD;
                    end else begin
                        state <= S_DREQ;
                    end
                end
                S_DVRD: begin
                    if (dv_fire) begin
                        dv_addr  <= dv_addr + 1'b1;
                        dv_issue <= dv_issue - 14'd1;
                    end
                    dv_pend <= dv_fire || (dv_pend && !dv_take);
                    if (dv_take) begin
                        dv_rem   <= dv_rem - dv_n;
                        dv_first <= 1'b0;
                        if (dv_last) state <= run_end ? (p_last ? S_END : S_PIECE) : S_RUN;
                    end
                end
                S_DREQ: if (req_go) state <= S_DRSP;
                S_DRSP: begin
                    if (rsp && s_axis_dma_rd_tlast) begin
                        if (s_axis_dma_rd_tuser) fault <= 1'b1;
                        if (run_end) state <= p_last ? S_END : S_PIECE;
                        else state <= S_RUN;
                    end
                end
                S_END: begin
                    if (fault) begin
                        ev_pay_fault <= 1'b1;
                        state        <= S_IDLE;
                    end else if (last_wr) begin
                        state <= S_PASS;
                    end
                end
                default: state <= S_IDLE;
            endcase
            // posts completed (the engine waits for idle first): their page lists may be
            // rewritten by the host, so a cached page address is no longer the list's
            if (inval) pc_vld <= 1'b0;
        end
    end
endmodule

`resetall
