// Block-controller DMA engine (seed 000): executes BLK_WRITE requests.
//
// A command FIFO holds up to 4 `blk_req` entries. For each command the engine walks the linked
// scatter-gather list (32-byte `sg_elem` DMA reads), reads the element data from host memory in
// chunks that never cross a 4096-byte block boundary (or generates zero words for ZERO
// elements), packs them with an axis_packer into a local 4096-byte block buffer and, once a
// block is complete, issues one block-device write (lba, len 4096) followed by its 4096-byte data
// packet, then waits for that block's status before going on.
//
// Staging each block in the local buffer means a block is only written when all of its elements
// and data were fetched without error: a list or DMA error in the middle of a block never sends
// a partial packet to the block device.
//
// Validation (status BAD_SG unless noted; BYTES of the completion = bytes written with OK status):
//   - command BYTES zero or not a multiple of 4096 (nothing is fetched);
//   - more than SG_MAX elements would be fetched;
//   - element LEN not in 1..65536;
//   - element at a block boundary whose DISK_ADDR is not a multiple of 512, or inside a block
//     whose DISK_ADDR is not the previous element's end;
//   - element that would take the described total beyond BYTES (checked when it is fetched);
//   - list ending (NEXT == 0) inside a block, or before BYTES bytes were described;
//   - BYTES reached at a block boundary but NEXT != 0;
//   - DMA_ERROR: a host read (element or data) was refused;
//   - DISK_ERROR: the block device returned a non-zero status.
`include "buflet_defs.vh"

module blk_dma #(
    parameter DATA_WIDTH = 64
) (
    input  wire                    clk,
    input  wire                    rst,
    // BLK_WRITE request entries
    input  wire                    s_cmd_valid,
    output wire                    s_cmd_ready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [511:0]            s_cmd_data,     // only the blk_req fields are used
    /* verilator lint_on UNUSEDSIGNAL */
    // DMA read client
    output wire                    m_dma_rd_req_valid,
    input  wire                    m_dma_rd_req_ready,
    output wire [63:0]             m_dma_rd_req_addr,
    output wire [15:0]             m_dma_rd_req_len,
    input  wire [DATA_WIDTH-1:0]   s_axis_dma_rd_tdata,
    input  wire [DATA_WIDTH/8-1:0] s_axis_dma_rd_tkeep,
    input  wire                    s_axis_dma_rd_tvalid,
    output wire                    s_axis_dma_rd_tready,
    input  wire                    s_axis_dma_rd_tlast,
    input  wire                    s_axis_dma_rd_tuser,
    // block device
    output wire                    m_blk_req_valid,
    input  wire                    m_blk_req_ready,
    output wire [63:0]             m_blk_req_lba,
    output wire [15:0]             m_blk_req_len,
    output wire                    m_blk_req_write,
    output wire [DATA_WIDTH-1:0]   m_axis_blk_wr_tdata,
    output wire [DATA_WIDTH/8-1:0] m_axis_blk_wr_tkeep,
    output wire                    m_axis_blk_wr_tvalid,
    input  wire                    m_axis_blk_wr_tready,
    output wire                    m_axis_blk_wr_tlast,
    input  wire                    s_blk_resp_valid,
    output wire                    s_blk_resp_ready,
    input  wire [7:0]              s_blk_resp_status,
    // completions
    output wire                    m_cpl_valid,
    input  wire                    m_cpl_ready,
    output wire [255:0]            m_cpl_data,
    // counter events
    output reg                     ev_blk_write,
    output wire [15:0]             ev_blk_bytes
);
    localparam KEEP_WIDTH = DATA_WIDTH / 8;
    localparam BLK_BYTES  = `BF_PARAM_BLOCK_BYTES;
    localparam BLK_WORDS  = BLK_BYTES / KEEP_WIDTH;
    localparam BAW        = $clog2(BLK_WORDS);
    localparam SG_BYTES   = `BF_SG_ELEM_SIZE;
    localparam SG_WORDS   = (SG_BYTES * 8 + DATA_WIDTH - 1) / DATA_WIDTH;
    localparam SG_W       = SG_WORDS * DATA_WIDTH;
    localparam MAX_LEN    = 65536;
    localparam SECT_SHIFT = $clog2(`BF_PARAM_SECTOR_BYTES);
    localparam SECT_PER_BLK = BLK_BYTES / `BF_PARAM_SECTOR_BYTES;

    // ------------------------------------------------------------------ command FIFO
    localparam CMD_W = 32 + 16 + 64 + 32 + 32;
    wire [CMD_W-1:0] cmd_in = {s_cmd_data[`BF_BLK_REQ_TAG_RANGE],
                               s_cmd_data[`BF_BLK_REQ_SOCK_REF_RANGE],
                               s_cmd_data[`BF_BLK_REQ_SG_ADDR_RANGE],
                               s_cmd_data[`BF_BLK_REQ_SG_MAX_RANGE],
                               s_cmd_data[`BF_BLK_REQ_BYTES_RANGE]};
    wire             cmd_valid;
    wire             cmd_ready;
    wire [CMD_W-1:0] cmd_out;

    sync_fifo #(.WIDTH(CMD_W), .DEPTH(4)) u_cmd_fifo (
        .clk(clk), .rst(rst),
        .s_valid(s_cmd_valid), .s_ready(s_cmd_ready), .s_data(cmd_in),
        .m_valid(cmd_valid), .m_ready(cmd_ready), .m_data(cmd_out)
    );

    // ------------------------------------------------------------------ state
    localparam S_IDLE     = 4'd0,  S_ELEM_REQ = 4'd1,  S_ELEM_RSP = 4'd2,  S_ELEM_CHK = 4'd3,
               S_CHUNK    = 4'd4,  S_RD_REQ   = 4'd5,  S_RD_DATA  = 4'd6,  S_ZERO     = 4'd7,
               S_NEXT     = 4'd8,  S_BLK_WAIT = 4'd9,  S_BLK_REQ  = 4'd10, S_BLK_DATA = 4'd11,
               S_BLK_RESP = 4'd12, S_CPL      = 4'd13;
    reg [3:0] state;

    reg [31:0] c_tag;
    reg [15:0] c_sock;
    reg [31:0] c_max;
    reg [31:0] c_bytes;
    reg [63:0] next_ptr;     // address of the next element to fetch
    reg [31:0] elem_cnt;     // elements fetched
    reg [31:0] described;    // sum of LEN of the accepted elements
    reg [31:0] written;      // bytes written with OK status
    reg [11:0] blk_fill;     // bytes of the current block already packed
    reg [63:0] blk_lba;
    reg [63:0] cur_disk;     // disk byte address just after the previous element
    reg [63:0] e_src;
    reg [16:0] e_rem;
    reg        e_zero;
    reg [63:0] e_next;
    reg [12:0] chunk;        // 1..4096
    reg        c_end;        // the current chunk completes the block
    reg [12:0] z_rem;
    reg [7:0]  status;

    /* verilator lint_off UNUSEDSIGNAL */
    reg [SG_W-1:0] sg_q;     // wider than the element at 512 bits
    /* verilator lint_on UNUSEDSIGNAL */
    reg [3:0]      sg_cnt;

    // element fields
    wire [63:0] f_src  = sg_q[`BF_SG_ELEM_SRC_ADDR_RANGE];
    wire [31:0] f_len  = sg_q[`BF_SG_ELEM_LEN_RANGE];
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] f_flg  = sg_q[`BF_SG_ELEM_FLAGS_RANGE];   // only ZERO is defined
    /* verilator lint_on UNUSEDSIGNAL */
    wire [63:0] f_disk = sg_q[`BF_SG_ELEM_DISK_ADDR_RANGE];
    wire [63:0] f_next = sg_q[`BF_SG_ELEM_NEXT_RANGE];

    wire ok_len   = (f_len != 32'd0) && (f_len <= 32'(MAX_LEN));
    wire ok_disk  = (blk_fill == 12'd0) ? (f_disk[SECT_SHIFT-1:0] == {SECT_SHIFT{1'b0}})
                                        : (f_disk == cur_disk);
    wire [32:0] new_desc = {1'b0, described} + {1'b0, f_len};
    wire ok_total = new_desc <= {1'b0, c_bytes};

    wire [12:0] room       = 13'(BLK_BYTES) - {1'b0, blk_fill};
    wire [12:0] next_chunk = (e_rem < {4'd0, room}) ? e_rem[12:0] : room;

    // ------------------------------------------------------------------ packer + block buffer
    wire                  pk_rst = rst || (state == S_IDLE) || (state == S_CPL);
    reg  [DATA_WIDTH-1:0] pk_s_tdata;
    reg  [KEEP_WIDTH-1:0] pk_s_tkeep;
    reg                   pk_s_tvalid;
    reg                   pk_s_tlast;
    wire                  pk_s_tready;
    wire [DATA_WIDTH-1:0] pk_m_tdata;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [KEEP_WIDTH-1:0] pk_m_tkeep;   // a block is a whole number of full words
    /* verilator lint_on UNUSEDSIGNAL */
    wire                  pk_m_tvalid;
    wire                  pk_m_tlast;

    axis_packer #(.DATA_WIDTH(DATA_WIDTH)) u_packer (
        .clk(clk), .rst(pk_rst),
        .s_axis_tdata(pk_s_tdata), .s_axis_tkeep(pk_s_tkeep), .s_axis_tvalid(pk_s_tvalid),
        .s_axis_tready(pk_s_tready), .s_axis_tlast(pk_s_tlast),
        .m_axis_tdata(pk_m_tdata), .m_axis_tkeep(pk_m_tkeep), .m_axis_tvalid(pk_m_tvalid),
        .m_axis_tready(1'b1), .m_axis_tlast(pk_m_tlast)
    );

    wire [KEEP_WIDTH-1:0] z_keep = (z_rem >= 13'(KEEP_WIDTH)) ? {KEEP_WIDTH{1'b1}}
                                 : ({KEEP_WIDTH{1'b1}} >> (13'(KEEP_WIDTH) - z_rem));
    wire z_last = (z_rem <= 13'(KEEP_WIDTH));

    always @(*) begin
        pk_s_tdata  = s_axis_dma_rd_tdata;
        pk_s_tkeep  = s_axis_dma_rd_tkeep;
        pk_s_tvalid = 1'b0;
        pk_s_tlast  = s_axis_dma_rd_tlast && c_end;
        if (state == S_RD_DATA) begin
            pk_s_tvalid = s_axis_dma_rd_tvalid;
        end else if (state == S_ZERO) begin
            pk_s_tdata  = {DATA_WIDTH{1'b0}};
            pk_s_tkeep  = z_keep;
            pk_s_tvalid = 1'b1;
            pk_s_tlast  = z_last && c_end;
        end
    end

    reg [DATA_WIDTH-1:0] bmem [0:BLK_WORDS-1];
    reg [BAW-1:0]        wr_ptr;
    reg                  buf_done;
    reg [BAW-1:0]        rd_ptr;
    reg [DATA_WIDTH-1:0] rd_q;

    wire blk_beat = (state == S_BLK_DATA) && m_axis_blk_wr_tready;
    wire blk_last = (rd_ptr == BAW'(BLK_WORDS - 1));
    wire [BAW-1:0] rd_next = blk_beat ? rd_ptr + 1'b1 : rd_ptr;

    always @(posedge clk) begin
        if (pk_m_tvalid) bmem[wr_ptr] <= pk_m_tdata;
        rd_q <= bmem[rd_next];
    end

    wire resp_fire = (state == S_BLK_RESP) && s_blk_resp_valid;

    always @(posedge clk) begin
        if (pk_rst || resp_fire) begin
            wr_ptr   <= {BAW{1'b0}};
            buf_done <= 1'b0;
        end else if (pk_m_tvalid) begin
            wr_ptr <= wr_ptr + 1'b1;
            if (pk_m_tlast) buf_done <= 1'b1;
        end
        if (rst || state != S_BLK_DATA) begin
            rd_ptr <= {BAW{1'b0}};
        end else begin
            rd_ptr <= rd_next;
        end
    end

    // ------------------------------------------------------------------ outputs
    assign cmd_ready = (state == S_IDLE);

    assign m_dma_rd_req_valid = ((state == S_ELEM_REQ) && (elem_cnt != c_max)) || (state == S_RD_REQ);
    assign m_dma_rd_req_addr  = (state == S_RD_REQ) ? e_src : next_ptr;
    assign m_dma_rd_req_len   = (state == S_RD_REQ) ? {3'd0, chunk} : 16'(SG_BYTES);
    assign s_axis_dma_rd_tready = (state == S_ELEM_RSP) || ((state == S_RD_DATA) && pk_s_tready);

    wire sg_beat = (state == S_ELEM_RSP) && s_axis_dma_rd_tvalid;
    wire rd_beat = (state == S_RD_DATA) && s_axis_dma_rd_tvalid && pk_s_tready;
    wire z_beat  = (state == S_ZERO) && pk_s_tready;

    assign m_blk_req_valid      = (state == S_BLK_REQ);
    assign m_blk_req_lba        = blk_lba;
    assign m_blk_req_len        = 16'(BLK_BYTES);
    assign m_blk_req_write      = 1'b1;
    assign m_axis_blk_wr_tdata  = rd_q;
    assign m_axis_blk_wr_tkeep  = {KEEP_WIDTH{1'b1}};
    assign m_axis_blk_wr_tvalid = (state == S_BLK_DATA);
    assign m_axis_blk_wr_tlast  = blk_last;
    assign s_blk_resp_ready     = (state == S_BLK_RESP);

    reg [255:0] cpl;
    always @(*) begin
        cpl = 256'd0;
        cpl[`BF_CPL_KIND_RANGE]     = 8'(`BF_CPL_KIND_BLK_DONE);
        cpl[`BF_CPL_STATUS_RANGE]   = status;
        cpl[`BF_CPL_SOCK_REF_RANGE] = c_sock;
        cpl[`BF_CPL_TAG_RANGE]      = c_tag;
        cpl[`BF_CPL_BYTES_RANGE]    = written;
        cpl[`BF_CPL_OPCODE_RANGE]   = 8'(`BF_OP_BLK_WRITE);
    end
    assign m_cpl_valid  = (state == S_CPL);
    assign m_cpl_data   = cpl;
    assign ev_blk_bytes = 16'(BLK_BYTES);

    // ------------------------------------------------------------------ element collection
    genvar k;
    generate
        for (k = 0; k < SG_WORDS; k = k + 1) begin : g_sg
            always @(posedge clk) begin
                if (sg_beat && sg_cnt == 4'(k)) sg_q[k*DATA_WIDTH +: DATA_WIDTH] <= s_axis_dma_rd_tdata;
            end
        end
    endgenerate

    // ------------------------------------------------------------------ control
    always @(posedge clk) begin
        if (rst) begin
            state        <= S_IDLE;
            c_tag        <= 32'd0;
            c_sock       <= 16'd0;
            c_max        <= 32'd0;
            c_bytes      <= 32'd0;
            next_ptr     <= 64'd0;
            elem_cnt     <= 32'd0;
            described    <= 32'd0;
            written      <= 32'd0;
            blk_fill     <= 12'd0;
            blk_lba      <= 64'd0;
            cur_disk     <= 64'd0;
            e_src        <= 64'd0;
            e_rem        <= 17'd0;
            e_zero       <= 1'b0;
            e_next       <= 64'd0;
            chunk        <= 13'd0;
            c_end        <= 1'b0;
            z_rem        <= 13'd0;
            status       <= 8'd0;
            sg_cnt       <= 4'd0;
            ev_blk_write <= 1'b0;
        end else begin
            ev_blk_write <= 1'b0;
            case (state)
                S_IDLE: if (cmd_valid) begin
                    {c_tag, c_sock, next_ptr, c_max, c_bytes} <= cmd_out;
                    elem_cnt  <= 32'd0;
                    described <= 32'd0;
                    written   <= 32'd0;
                    blk_fill  <= 12'd0;
                    e_rem     <= 17'd0;
                    status    <= 8'(`BF_STATUS_OK);
                    if (cmd_out[31:0] == 32'd0 || cmd_out[11:0] != 12'd0) begin
                        status <= 8'(`BF_STATUS_BAD_SG);
                        state  <= S_CPL;
                    end else begin
                        state  <= S_ELEM_REQ;
                    end
                end
                S_ELEM_REQ: begin
                    sg_cnt <= 4'd0;
                    if (elem_cnt == c_max) begin
                        status <= 8'(`BF_STATUS_BAD_SG);
                        state  <= S_CPL;
                    end else if (m_dma_rd_req_ready) begin
                        state <= S_ELEM_RSP;
                    end
                end
                S_ELEM_RSP: if (sg_beat) begin
                    sg_cnt <= sg_cnt + 4'd1;
                    if (s_axis_dma_rd_tlast) begin
                        if (s_axis_dma_rd_tuser) begin
                            status <= 8'(`BF_STATUS_DMA_ERROR);
                            state  <= S_CPL;
                        end else begin
                            state <= S_ELEM_CHK;
                        end
                    end
                end
                S_ELEM_CHK: begin
                    elem_cnt <= elem_cnt + 32'd1;
                    if (!(ok_len && ok_disk && ok_total)) begin
                        status <= 8'(`BF_STATUS_BAD_SG);
                        state  <= S_CPL;
                    end else begin
                        described <= new_desc[31:0];
                        e_src     <= f_src;
                        e_rem     <= f_len[16:0];
                        e_zero    <= (f_flg & 32'(`BF_SG_FLAG_ZERO)) != 32'd0;
                        e_next    <= f_next;
                        cur_disk  <= f_disk + {32'd0, f_len};
                        if (blk_fill == 12'd0) blk_lba <= f_disk >> SECT_SHIFT;
                        state     <= S_CHUNK;
                    end
                end
                S_CHUNK: begin
                    chunk <= next_chunk;
                    z_rem <= next_chunk;
                    c_end <= (next_chunk == room);
                    state <= e_zero ? S_ZERO : S_RD_REQ;
                end
                S_RD_REQ: if (m_dma_rd_req_ready) state <= S_RD_DATA;
                S_RD_DATA: if (rd_beat && s_axis_dma_rd_tlast) begin
                    if (s_axis_dma_rd_tuser) begin
                        status <= 8'(`BF_STATUS_DMA_ERROR);
                        state  <= S_CPL;
                    end else begin
                        state <= S_NEXT;
                    end
                end
                S_ZERO: if (z_beat) begin
                    z_rem <= z_rem - 13'(KEEP_WIDTH);
                    if (z_last) state <= S_NEXT;
                end
                S_NEXT: begin
                    e_src    <= e_src + {51'd0, chunk};
                    e_rem    <= e_rem - {4'd0, chunk};
                    blk_fill <= blk_fill + chunk[11:0];
                    if (c_end) begin
                        state <= S_BLK_WAIT;
                    end else if (e_next == 64'd0) begin
                        // list ended inside a block
                        status <= 8'(`BF_STATUS_BAD_SG);
                        state  <= S_CPL;
                    end else begin
                        next_ptr <= e_next;
                        state    <= S_ELEM_REQ;
                    end
                end
                S_BLK_WAIT: if (buf_done) state <= S_BLK_REQ;
                S_BLK_REQ: if (m_blk_req_ready) begin
                    ev_blk_write <= 1'b1;
                    state        <= S_BLK_DATA;
                end
                S_BLK_DATA: if (blk_beat && blk_last) state <= S_BLK_RESP;
                S_BLK_RESP: if (s_blk_resp_valid) begin
                    if (s_blk_resp_status != 8'd0) begin
                        status <= 8'(`BF_STATUS_DISK_ERROR);
                        state  <= S_CPL;
                    end else begin
                        written <= written + 32'(BLK_BYTES);
                        blk_lba <= blk_lba + 64'(SECT_PER_BLK);
                        if (e_rem != 17'd0) begin
                            state <= S_CHUNK;             // element continues into the next block
                        end else if (e_next == 64'd0) begin
                            if (described != c_bytes) status <= 8'(`BF_STATUS_BAD_SG);
                            state <= S_CPL;
                        end else if (described == c_bytes) begin
                            status <= 8'(`BF_STATUS_BAD_SG);   // list goes on past BYTES
                            state  <= S_CPL;
                        end else begin
                            next_ptr <= e_next;
                            state    <= S_ELEM_REQ;
                        end
                    end
                end
                S_CPL: if (m_cpl_ready) state <= S_IDLE;
                default: state <= S_IDLE;
            endcase
        end
    end
endmodule
