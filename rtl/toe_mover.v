// toe_mover: delivery data mover of toe_engine.
// Takes one chunk command (first buflet of a segment chain, byte offset from the frame start, length),
// walks the chain to the buflet holding the offset (link RAM, one hop per cycle), then reads the
// chunk's words from the buflet data RAM (1-cycle read latency, one word per cycle), marks the
// chunk's bytes in each word with tkeep, and packs them with an axis_packer into one packet on
// m_axis_*. A 4-entry skid FIFO with read credits handles output backpressure.
// One more command waits in a command register while a chunk streams (cmd_ready: the register is
// free), and starts in the cycle after the last word of the chunk before it is read, so
// consecutive chunks leave back to back. rd_done counts (mod 256) the commands whose RAM reads
// are all made, one cycle after the last: a chain may be freed once its command is counted.
// Record mode (cmd_rec, p2p hold delivery, docs/p2p.md): the same walk to the buflet holding
// the offset, then instead of the payload one 8-byte hold_rec word {HEAD = cmd_head, LEN =
// cmd_len, OFF = offset inside that buflet, BUFLET = that buflet} (byte k in bits [8k+7:8k])
// goes through the FIFO as a one-word packet (tkeep = the low 8 bytes); no data RAM read.
// rec_issue pulses (combinationally) in the cycle the record enters the pipeline, with rec_buf
// = its BUFLET.
// Assumptions (checked at elaboration): DATA_WIDTH a power of two in 64..512 (a record is one
// word), KEEP_WIDTH = DATA_WIDTH/8, BUFLET_BYTES a power of two in 2*KEEP_WIDTH..32768 (at least
// two words per buflet; offsets are 16 bits), NUM_BUFLETS a power of two in 2..32768, BW_ADDR =
// $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH).

`resetall
`default_nettype none
`include "buflet_checks.vh"

module toe_mover #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter KEEP_WIDTH   = DATA_WIDTH / 8,
    parameter BW_ADDR      = $clog2(NUM_BUFLETS * BUFLET_BYTES / KEEP_WIDTH)
) (
    input  wire                  clk,
    input  wire                  rst,
    // chunk command
    input  wire                  cmd_valid,
    output wire                  cmd_ready,
    input  wire [15:0]           cmd_buf,
    input  wire [15:0]           cmd_off,
    input  wire [12:0]           cmd_len,
    input  wire                  cmd_rec,   // record mode: emit the hold_rec instead of the bytes
    input  wire [15:0]           cmd_head,  // its HEAD field (record mode)
    // buflet pool read ports
    output wire [15:0]           link_rd_idx,
    input  wire [15:0]           link_rd_next,
    output wire                  ram_rd_en,
    output wire [BW_ADDR-1:0]    ram_rd_addr,
    input  wire [DATA_WIDTH-1:0] ram_rd_data,
    // packed output (DMA write data)
    output wire [DATA_WIDTH-1:0] m_axis_tdata,
    output wire [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,
    // status
    output wire                  rd_idle,   // no RAM read pending or in flight (chains may be freed)
    output reg  [7:0]            rd_done,   // commands whose RAM reads are all made (mod 256)
    output wire                  out_idle,  // every accepted chunk has left on m_axis (tlast taken)
    output wire                  rec_issue, // a record enters the pipeline (one-cycle)
    output wire [15:0]           rec_buf    // its BUFLET (valid with rec_issue)
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(toe_mover)
        `BF_CHECK_KEEP_WIDTH(toe_mover)
        if (!`BF_IS_POW2(BUFLET_BYTES) || BUFLET_BYTES < 2 * KEEP_WIDTH || BUFLET_BYTES > 32768) begin : g_check_buflet_bytes
            `BF_ERROR("toe_mover: BUFLET_BYTES must be a power of two in 2*KEEP_WIDTH..32768")
        end
        `BF_CHECK_BUFLET_RAM(toe_mover, KEEP_WIDTH)
    endgenerate

    localparam WPB   = BUFLET_BYTES / KEEP_WIDTH;     // words per buflet
    localparam WOW   = $clog2(WPB);
    localparam KW    = $clog2(KEEP_WIDTH);
    localparam DEPTH = 4;
    localparam [31:0] KW32 = KEEP_WIDTH;
    localparam [31:0] BB32 = BUFLET_BYTES;

    localparam [1:0] S_IDLE = 2'd0, S_WALK = 2'd1, S_STREAM = 2'd2, S_REC = 2'd3;
    localparam [KEEP_WIDTH-1:0] REC_KEEP = {KEEP_WIDTH{1'b1}} >> (KEEP_WIDTH - 8);

    reg  [1:0]  state;
    reg  [15:0] cur_buf;
    reg  [15:0] off_rem;        // byte offset inside the chain, reduced while walking
    reg  [WOW-1:0] woff;        // word index inside the current buflet
    reg  [KW-1:0]  boff;        // byte offset of the first chunk byte in the current word
    reg  [12:0] rem;            // bytes still to read (record mode: the chunk length)
    reg         m_rec;          // the command is a record
    reg  [15:0] m_head;         // its HEAD field

    // the command waiting behind the current one
    reg         q_valid;
    reg  [15:0] q_buf;
    reg  [15:0] q_off;
    reg  [12:0] q_len;
    reg         q_rec;
    reg  [15:0] q_head;

    // read pipeline stage (data arrives the cycle after ram_rd_en)
    reg                  p_valid;
    reg [KEEP_WIDTH-1:0] p_keep;
    reg                  p_last;
    reg                  p_rec;     // the stage holds a record word (not RAM data)
    reg [63:0]           p_rdata;   // that word
    reg [DATA_WIDTH-1:0] rec_word;
    always @* begin
        rec_word = {DATA_WIDTH{1'b0}};
        rec_word[63:0] = p_rdata;
    end

    // skid FIFO
    reg [DATA_WIDTH-1:0] f_data [0:DEPTH-1];
    reg [KEEP_WIDTH-1:0] f_keep [0:DEPTH-1];
    reg                  f_last [0:DEPTH-1];
    reg [1:0]            f_wp, f_rp;
    reg [2:0]            f_cnt;

    reg [7:0]            pkts;  // chunks accepted whose tlast has not left yet

    wire f_out_valid = (f_cnt != 3'd0);
    wire f_out_ready;
    wire f_pop  = f_out_valid && f_out_ready;
    wire f_push = p_valid;

    // bytes available in this word and bytes taken from it
    wire [KW:0]  avail   = KW32[KW:0] - {1'b0, boff};
    wire [KW:0]  take    = ({{(12-KW){1'b0}}, avail} >= rem) ? rem[KW:0] : avail;
    wire         w_last  = ({{(12-KW){1'b0}}, take} == rem);
    wire         w_end   = (take == avail);          // word consumed to its last byte
    wire [KEEP_WIDTH-1:0] keep_lo = {KEEP_WIDTH{1'b1}} >> (KW32[KW:0] - take);
    wire [KEEP_WIDTH-1:0] w_keep  = keep_lo << boff;

    wire room  = (({1'b0, f_cnt} + {3'b0, p_valid}) < DEPTH);
    wire issue = (state == S_STREAM) && room;
    assign rec_issue = (state == S_REC) && room;
    assign rec_buf   = cur_buf;

    // BUFLET_BYTES / KEEP_WIDTH is a power of two >= 2: word address = {buflet, word in buflet}
    wire [BW_ADDR-1:0] word_addr = {cur_buf[BW_ADDR-WOW-1:0], woff};

    assign cmd_ready   = !q_valid && (pkts != 8'hFF);
    assign link_rd_idx = cur_buf;
    assign ram_rd_en   = issue;
    assign ram_rd_addr = word_addr;
    assign rd_idle     = (state == S_IDLE) && !p_valid && !q_valid;
    assign out_idle    = (pkts == 8'd0);

    wire cmd_fire = cmd_valid && cmd_ready;
    wire out_last = m_axis_tvalid && m_axis_tready && m_axis_tlast;
    // the current command's last RAM read (or its record) goes out this cycle
    wire cur_end  = ((state == S_STREAM) && issue && w_last) || rec_issue;
    // a command starts: the waiting one, else the one offered now (straight from S_IDLE)
    wire start    = ((state == S_IDLE) || cur_end) && (q_valid || cmd_fire);
    wire [15:0] n_buf  = q_valid ? q_buf  : cmd_buf;
    wire [15:0] n_off  = q_valid ? q_off  : cmd_off;
    wire [12:0] n_len  = q_valid ? q_len  : cmd_len;
    wire        n_rec  = q_valid ? q_rec  : cmd_rec;
    wire [15:0] n_head = q_valid ? q_head : cmd_head;

    always @(posedge clk) begin
        if (rst) begin
            state   <= S_IDLE;
            cur_buf <= 16'hFFFF;
            off_rem <= 16'd0;
            woff    <= {WOW{1'b0}};
            boff    <= {KW{1'b0}};
            rem     <= 13'd0;
            p_valid <= 1'b0;
            p_keep  <= {KEEP_WIDTH{1'b0}};
            p_last  <= 1'b0;
            p_rec   <= 1'b0;
            p_rdata <= 64'd0;
            m_rec   <= 1'b0;
            m_head  <= 16'hFFFF;
            pkts    <= 8'd0;
            q_valid <= 1'b0;
            q_buf   <= 16'd0;
            q_off   <= 16'd0;
            q_len   <= 13'd0;
            q_rec   <= 1'b0;
            q_head  <= 16'd0;
            rd_done <= 8'd0;
        end else begin
            rd_done <= rd_done + {7'd0, cur_end};
            // the offered command waits when it does not start now (or the waiting one does)
            if (cmd_fire && (!start || q_valid)) begin
                {q_valid, q_buf, q_off, q_len, q_rec, q_head} <= {1'b1, cmd_buf, cmd_off, cmd_len, cmd_rec, cmd_head};
            end else if (start && q_valid) begin
                q_valid <= 1'b0;
            end
            pkts <= pkts + {7'd0, cmd_fire} - {7'd0, out_last};
            p_valid <= issue || rec_issue;
            p_rec   <= rec_issue;
            if (issue) begin
                p_keep <= w_keep;
                p_last <= w_last;
            end
            if (rec_issue) begin
                p_keep  <= REC_KEEP;
                p_last  <= 1'b1;
                p_rdata <= {m_head, 3'd0, rem, off_rem, cur_buf};
            end
            case (state)
                S_IDLE: ;                               // a command starts below

                S_WALK: begin
                    if (off_rem >= BB32[15:0]) begin
                        cur_buf <= link_rd_next;
                        off_rem <= off_rem - BB32[15:0];
                    end else begin
                        woff  <= off_rem[KW+WOW-1:KW];
                        boff  <= off_rem[KW-1:0];
                        state <= m_rec ? S_REC : S_STREAM;
                    end
                end
                S_STREAM: if (issue) begin
                    rem  <= rem - {{(12-KW){1'b0}}, take};
                    boff <= {KW{1'b0}};
                    if (w_end) begin
                        if (woff == {WOW{1'b1}}) begin
                            woff    <= {WOW{1'b0}};
                            cur_buf <= link_rd_next;
                        end else begin
                            woff <= woff + 1'b1;
                        end
                    end
                    if (w_last) state <= S_IDLE;
                end
                S_REC: if (rec_issue) state <= S_IDLE;
                default: state <= S_IDLE;
            endcase
            if (start) begin
                cur_buf <= n_buf;
                off_rem <= n_off;
                rem     <= n_len;
                woff    <= n_off[KW+WOW-1:KW];
                boff    <= n_off[KW-1:0];
                m_rec   <= n_rec;
                m_head  <= n_head;
                // offset inside the first buflet: stream (or emit the record) at once, else
                // walk the chain first
                state   <= (n_off >= BB32[15:0]) ? S_WALK : n_rec ? S_REC : S_STREAM;
            end
        end
    end

    // skid FIFO
    always @(posedge clk) begin
        if (rst) begin
            f_wp  <= 2'd0;
            f_rp  <= 2'd0;
            f_cnt <= 3'd0;
        end else begin
            if (f_push) f_wp <= f_wp + 2'd1;
            if (f_pop)  f_rp <= f_rp + 2'd1;
            f_cnt <= f_cnt + {2'd0, f_push} - {2'd0, f_pop};
        end
    end
    always @(posedge clk) begin
        if (f_push) begin
            f_data[f_wp] <= p_rec ? rec_word : ram_rd_data;
            f_keep[f_wp] <= p_keep;
            f_last[f_wp] <= p_last;
        end
    end

    axis_packer #(
        .DATA_WIDTH(DATA_WIDTH)
    ) u_packer (
        .clk          (clk),
        .rst          (rst),
        .s_axis_tdata (f_data[f_rp]),
        .s_axis_tkeep (f_keep[f_rp]),
        .s_axis_tvalid(f_out_valid),
        .s_axis_tready(f_out_ready),
        .s_axis_tlast (f_last[f_rp]),
        .m_axis_tdata (m_axis_tdata),
        .m_axis_tkeep (m_axis_tkeep),
        .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready),
        .m_axis_tlast (m_axis_tlast)
    );
endmodule

`resetall
