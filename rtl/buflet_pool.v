// buflet_pool: the NIC's local packet memory cut into NUM_BUFLETS buflets of
// BUFLET_BYTES bytes, the free buflet list, the link RAM and the data RAM.
//
// Free list: a LIFO linked through the link RAM (free_head, link[]) plus a
// counter of never-used buflets (fresh), so no init pass is needed after
// reset. Allocation takes the free-list head when the list is not empty,
// otherwise the next never-used buflet. Freeing a chain pushes the whole
// chain in front of the list in one cycle: link[tail] <= free_head,
// free_head <= head. An allocation and a free in the same cycle are both
// honoured. free_count is exact at all times.
//
// Data RAM: one physical write port shared by rx_parser (ram_wr_*, always
// taken) and blk_dma's DEVMEM block reads (ram2_wr_*, taken in the cycles
// rx_parser does not write: ram2_wr_ready), and two registered read ports
// (ram_rd_* for toe_engine delivery, ram2_rd_* for blk_dma DEVMEM elements,
// docs/p2p.md); port 2 also serves tx_data's DEVMEM posts (ram3_rd_*, in the
// cycles blk_dma does not read, into a register of their own) and the CPU's
// window (ram4_rd_*, buf_window, docs/p2p.md "The CPU's window": in the cycles
// neither blk_dma nor tx_data reads, into a third register of its own).
//
// Host buflets (docs/p2p.md "p2p reads"): host_buflets (HOST_BUFLETS, reset 0)
// top buflets are never handed out: fresh allocation stops at NUM_BUFLETS -
// host_buflets and free_count leaves them out. host_wr_en with host_wr_val
// sets it when host_wr_val <= NUM_BUFLETS/2 and fresh <= NUM_BUFLETS -
// host_wr_val (no such buflet was ever handed out); otherwise it is ignored.
// Each read port's data is valid the cycle after its rd_en and holds until
// its next rd_en. Port 2's three readers share one physical read (an address
// mux and one output register); each keeps a copy of its data once another
// reader's replaces it. So synthesis infers the 1-write/2-read memory as two
// copies of the RAM sharing the write port (two simple dual-port block RAMs),
// not four.
//
// Exposed bitmap (docs/p2p.md "Exposed buflets"): one bit per buflet, set by
// expose_en at expose_idx (toe_engine wrote a hold record naming it) and
// cleared when the buflet is handed out on alloc_* (rx_parser takes it for a
// new frame; a clear wins over a set of the same buflet in the same cycle).
// exp_rd is the bit of exp_rd_idx, combinational, 0 when exp_rd_idx >=
// NUM_BUFLETS; exp2_rd/exp2_rd_idx is a second such lookup (buf_window).
// Freeing a chain does not change the bits.
//
// Assumptions (checked at elaboration): DATA_WIDTH a power of two in 64..512,
// KEEP_WIDTH = DATA_WIDTH/8, BUFLET_BYTES a power of two >= KEEP_WIDTH,
// NUM_BUFLETS a power of two in 2..32768 (16-bit indices, 0xFFFF = null),
// BW_ADDR = $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH).

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module buflet_pool #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter KEEP_WIDTH   = DATA_WIDTH / 8,
    parameter BW_ADDR      = $clog2(NUM_BUFLETS * BUFLET_BYTES / KEEP_WIDTH)
) (
    input  wire                  clk,
    input  wire                  rst,
    // allocation
    input  wire                  alloc_req,
    output wire                  alloc_valid,
    output wire [15:0]           alloc_idx,
    // free a whole chain
    input  wire                  s_free_valid,
    output wire                  s_free_ready,
    input  wire [15:0]           s_free_head,
    input  wire [15:0]           s_free_tail,
    input  wire [15:0]           s_free_count,
    // link RAM
    input  wire                  link_wr_en,
    input  wire [15:0]           link_wr_idx,
    input  wire [15:0]           link_wr_next,
    input  wire [15:0]           link_rd_idx,
    output wire [15:0]           link_rd_next,
    // data RAM
    input  wire                  ram_wr_en,
    input  wire [BW_ADDR-1:0]    ram_wr_addr,
    input  wire [DATA_WIDTH-1:0] ram_wr_data,
    // second writer of the data RAM (blk_dma DEVMEM block reads), when rx_parser does not write
    input  wire                  ram2_wr_en,
    output wire                  ram2_wr_ready,
    input  wire [BW_ADDR-1:0]    ram2_wr_addr,
    input  wire [DATA_WIDTH-1:0] ram2_wr_data,
    // HOST_BUFLETS
    input  wire                  host_wr_en,
    input  wire [31:0]           host_wr_val,
    output wire [15:0]           host_buflets,
    input  wire                  ram_rd_en,
    input  wire [BW_ADDR-1:0]    ram_rd_addr,
    output wire [DATA_WIDTH-1:0] ram_rd_data,
    // second data read port (blk_dma)
    input  wire                  ram2_rd_en,
    input  wire [BW_ADDR-1:0]    ram2_rd_addr,
    output wire [DATA_WIDTH-1:0] ram2_rd_data,
    // a second reader of that port (tx_data DEVMEM posts): granted when blk_dma does not read;
    // its own output register, holding until its next granted read
    input  wire                  ram3_rd_en,
    output wire                  ram3_rd_ready,
    input  wire [BW_ADDR-1:0]    ram3_rd_addr,
    output wire [DATA_WIDTH-1:0] ram3_rd_data,
    // a third reader of that port (buf_window, the CPU's window): granted when neither blk_dma
    // nor tx_data reads; its own output register, holding until its next granted read
    input  wire                  ram4_rd_en,
    output wire                  ram4_rd_ready,
    input  wire [BW_ADDR-1:0]    ram4_rd_addr,
    output wire [DATA_WIDTH-1:0] ram4_rd_data,
    // exposed bitmap
    input  wire                  expose_en,
    input  wire [15:0]           expose_idx,
    input  wire [15:0]           exp_rd_idx,
    output wire                  exp_rd,
    input  wire [15:0]           exp2_rd_idx,
    output wire                  exp2_rd,
    output wire [15:0]           free_count
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(buflet_pool)
        `BF_CHECK_KEEP_WIDTH(buflet_pool)
        if (!`BF_IS_POW2(BUFLET_BYTES) || BUFLET_BYTES < KEEP_WIDTH) begin : g_check_buflet_bytes
            `BF_ERROR("buflet_pool: BUFLET_BYTES must be a power of two >= KEEP_WIDTH")
        end
        `BF_CHECK_BUFLET_RAM(buflet_pool, KEEP_WIDTH)
    endgenerate


    localparam LB = (NUM_BUFLETS > 1) ? $clog2(NUM_BUFLETS) : 1;
    localparam RAM_WORDS = NUM_BUFLETS * BUFLET_BYTES / KEEP_WIDTH;
    localparam [15:0] NULL16 = `BF_PARAM_NULL16;
    localparam [16:0] NUM17 = NUM_BUFLETS[16:0];

    reg [15:0]           link_mem [0:NUM_BUFLETS-1];
    reg [DATA_WIDTH-1:0] data_mem [0:RAM_WORDS-1];
    reg [DATA_WIDTH-1:0] rd_data_r;
    // Read port 2 is one physical read (one block RAM port) shared by its three readers: p2_q
    // is the RAM's output register and p2_last says whose read it holds; each reader's data
    // is p2_q while it was the last to read, else its copy taken when p2_q was replaced.
    reg [DATA_WIDTH-1:0] p2_q;
    reg [1:0]            p2_last;   // P2_BLK, P2_TXD or P2_WIN
    reg [DATA_WIDTH-1:0] hold2, hold3, hold4;
    localparam [1:0] P2_BLK = 2'd0, P2_TXD = 2'd1, P2_WIN = 2'd2;
    wire                p2_en   = ram2_rd_en || ram3_rd_en || ram4_rd_en;
    wire [BW_ADDR-1:0]  p2_addr = ram2_rd_en ? ram2_rd_addr : ram3_rd_en ? ram3_rd_addr : ram4_rd_addr;
    reg [NUM_BUFLETS-1:0] exposed;

    reg [15:0] free_head;   // head of the free list, NULL16 when empty
    reg [16:0] fresh;       // next never-used buflet (NUM_BUFLETS = none left)
    reg [15:0] free_cnt;
    reg [16:0] host;        // HOST_BUFLETS
    wire [16:0] fresh_lim = NUM17 - host;
    wire host_ok = (host_wr_val <= 32'(NUM_BUFLETS / 2)) &&
                   ({15'd0, fresh} <= 32'(NUM_BUFLETS) - host_wr_val);

    // Only the low LB bits of a buflet index address the link RAM (indices
    // are < NUM_BUFLETS by construction).
    /* verilator lint_off UNUSEDSIGNAL */
    wire [15:0] fh = free_head;
    wire [15:0] ftail = s_free_tail;
    wire [15:0] lwi = link_wr_idx;
    wire [15:0] lri = link_rd_idx;
    wire [15:0] eri = exp_rd_idx;
    wire [15:0] eri2 = exp2_rd_idx;
    wire [15:0] esi = expose_idx;
    wire [15:0] ali = alloc_idx;
    /* verilator lint_on UNUSEDSIGNAL */

    wire list_nonempty = (free_head != NULL16);
    wire fresh_left    = (fresh < fresh_lim);
    wire [15:0] fresh16 = fresh[15:0];

    assign alloc_valid = list_nonempty || fresh_left;
    assign alloc_idx   = list_nonempty ? free_head : (fresh_left ? fresh16 : NULL16);

    wire do_alloc = alloc_req && alloc_valid;
    wire pop_list = do_alloc && list_nonempty;
    wire [15:0] head_after_pop = pop_list ? link_mem[fh[LB-1:0]] : free_head;

    assign s_free_ready = !link_wr_en;
    wire do_free = s_free_valid && !link_wr_en && (s_free_count != 16'd0);

    assign link_rd_next = link_mem[lri[LB-1:0]];
    assign ram_rd_data  = rd_data_r;
    assign ram2_rd_data = (p2_last == P2_BLK) ? p2_q : hold2;
    assign ram3_rd_data = (p2_last == P2_TXD) ? p2_q : hold3;
    assign ram4_rd_data = (p2_last == P2_WIN) ? p2_q : hold4;
    assign ram3_rd_ready = !ram2_rd_en;
    assign ram4_rd_ready = !ram2_rd_en && !ram3_rd_en;
    assign exp_rd       = ({1'b0, exp_rd_idx} < NUM17) && exposed[eri[LB-1:0]];
    assign exp2_rd      = ({1'b0, exp2_rd_idx} < NUM17) && exposed[eri2[LB-1:0]];
    assign free_count   = free_cnt - host[15:0];
    assign host_buflets = host[15:0];
    assign ram2_wr_ready = !ram_wr_en;

    always @(posedge clk) begin
        if (rst) begin
            free_head <= NULL16;
            fresh     <= 17'd0;
            free_cnt  <= NUM_BUFLETS[15:0];
            host      <= 17'd0;
        end else begin
            if (host_wr_en && host_ok) host <= host_wr_val[16:0];
            if (do_free) begin
                free_head <= s_free_head;
            end else if (pop_list) begin
                free_head <= head_after_pop;
            end
            if (do_alloc && !list_nonempty) begin
                fresh <= fresh + 17'd1;
            end
            free_cnt <= free_cnt + (do_free ? s_free_count : 16'd0) - {15'd0, do_alloc};
        end
    end

    // Link RAM: one write per cycle, either the rx_parser's or a free.
    always @(posedge clk) begin
        if (link_wr_en) begin
            link_mem[lwi[LB-1:0]] <= link_wr_next;
        end else if (do_free && !rst) begin
            link_mem[ftail[LB-1:0]] <= head_after_pop;
        end
    end

    // Data RAM: write port and two registered read ports (the second with three readers).
    always @(posedge clk) begin
        if (ram_wr_en) begin
            data_mem[ram_wr_addr] <= ram_wr_data;
        end else if (ram2_wr_en) begin
            data_mem[ram2_wr_addr] <= ram2_wr_data;
        end
        if (ram_rd_en) begin
            rd_data_r <= data_mem[ram_rd_addr];
        end
        if (p2_en) begin
            p2_q <= data_mem[p2_addr];
        end
    end

    // Read port 2's readers: who holds p2_q, and the copy of the one whose data it replaces.
    always @(posedge clk) begin
        if (rst) begin
            p2_last <= P2_BLK;
        end else if (p2_en) begin
            p2_last <= ram2_rd_en ? P2_BLK : ram3_rd_en ? P2_TXD : P2_WIN;
            case (p2_last)
                P2_BLK:  hold2 <= p2_q;
                P2_TXD:  hold3 <= p2_q;
                default: hold4 <= p2_q;
            endcase
        end
    end

    // Exposed bitmap: set by a hold record, cleared when the buflet is allocated.
    always @(posedge clk) begin
        if (rst) begin
            exposed <= {NUM_BUFLETS{1'b0}};
        end else begin
            if (expose_en && ({1'b0, expose_idx} < NUM17)) begin
                exposed[esi[LB-1:0]] <= 1'b1;
            end
            if (do_alloc) begin
                exposed[ali[LB-1:0]] <= 1'b0;
            end
        end
    end

endmodule

`resetall
