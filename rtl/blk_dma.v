// Block-controller DMA engine (seed 000): executes BLK_WRITE and BLK_READ requests.
//
// A command FIFO holds up to 4 `blk_req` entries (writes and reads, in request order). For each
// command the engine walks the linked scatter-gather list (32-byte `sg_elem` DMA reads) one
// element at a time; a local 4096-byte block buffer stages one block.
//
// DEVMEM elements of a BLK_READ (docs/p2p.md "p2p reads"): the element's bytes of the block go
// to buflet memory at SRC_ADDR instead of host memory. SRC_ADDR, LEN and DISK_ADDR are
// multiples of DEV_ALIGN (>= any bus word) and the range lies inside one host buflet (index >=
// NUM_BUFLETS - host_buflets), else BAD_SG. Each word of the chunk is taken from the block
// buffer and written whole to one memory word through buflet_pool's shared write port
// (bram_wr_en/addr/data, taken when bram_wr_ready: rx_parser writes first), one word per cycle
// when the port is free. ev_dev_wr_valid/ev_dev_wr_bytes pulse per chunk delivered (the
// CNT_BLK_DEV_WR_BYTES event).
//
// DEVMEM elements of a BLK_WRITE (docs/p2p.md): an element with FLAGS & DEVMEM takes its bytes
// from the NIC's buflet memory at device byte address SRC_ADDR, through buflet_pool's second
// read port (bram_rd_en/addr -> bram_rd_data the next cycle; the data holds until the next
// bram_rd_en). Its chunks are read one bus word per cycle (a read is issued whenever the word
// on bram_rd_data is absent or taken by the packer in that cycle), marked with tkeep (first
// word from SRC_ADDR mod KEEP_WIDTH, last word up to the chunk's end) and packed into the
// block exactly as host bytes are; host, ZERO and DEVMEM elements mix freely in one block. No
// host memory is accessed and the protection lookup is not used for them. The exposed bit of
// the element's buflet is read combinationally on exp_rd_idx/exp_rd when the element is
// checked. ev_dev_bytes_valid/ev_dev_bytes pulse with ev_blk_write when a block data packet is
// issued that holds DEVMEM bytes (their number in that block): the CNT_BLK_DEV_BYTES event, so
// an element's LEN is counted once all blocks holding its bytes have gone to the block device.
//
// BLK_WRITE: the element data is read from host memory in chunks that never cross a 4096-byte
// block boundary (or zero words are generated for ZERO elements), packed with an axis_packer
// into the block buffer and, once a block is complete, written with one block-device write
// (lba, len 4096) followed by its 4096-byte data packet. Staging each block means a block is
// only written when all of its elements and data were fetched without error: a list or DMA
// error in the middle of a block never sends a partial packet to the block device.
//
// The write issuer (BLK_WRITE, docs/storage.md "The write issuer"): a BLK_WRITE's list is walked
// by an issuer of its own, ahead of the data. It fetches and checks each element, requests the
// element after it right away (before the element's own chunk reads, so the two round trips of
// the linked list overlap the data), then issues the element's chunks: a host chunk's DMA read
// request, and for every chunk (host, ZERO or DEVMEM) a chunk entry in a 4-entry queue (length,
// whether it completes the block, the block's lba, the DEVMEM source). The data side (the main
// state machine) takes the entries in order and packs each chunk into the block buffer: a host
// chunk's data from the DMA read stream, zeros, or buflet memory. At most 2 host chunks are read
// and not yet packed, and a host chunk is requested only while at most W_MAX-2 writes are owed a
// status, so a chunk's data rarely waits on the read stream for the block buffer. The issuer's
// reads are answered in request order: a 4-entry FIFO of read kinds routes each response to the
// element register (always ready) or the packer. An element the issuer refuses (BAD_SG,
// PROT_FAULT, SG_MAX, a failed element read) or the list's end ends with a STOP entry behind the
// element's earlier chunks: the data side takes its status when it gets there, so an error found
// in the data before it (a chunk's DMA_ERROR) comes first, as in list order. The element after
// the current one is not requested when the engine would not fetch it (NEXT 0, SG_MAX reached,
// BYTES reached at a block boundary) or the protection table refuses its read; the normal fetch
// then reports the fault. A command that ends (an error, a failed or late block) first takes and
// discards every answer to reads in flight (S_CPL waits for them).
//
// Block writes stream (docs/storage.md "Block writes in flight"). The block buffer has two
// banks: when the device takes a block's request, the block sender sends that bank's data
// packet (one word per cycle, m_axis_blk_wr_*) while the engine packs the next block into the
// other bank; the next request waits for the sender. The engine never waits for a status: up to
// W_MAX = BLK_WRITES_IN_FLIGHT writes are owed a status (`owed`), and a complete block waits in
// S_BLK_WAIT while W_MAX are. The device answers in request order, so each status taken while
// `owed` is non-zero is the oldest owed write's, in any state. BYTES counts the blocks whose
// status was OK before the first failed one (the prefix a retry starts after). A failed status
// makes the command's status DISK_ERROR (a write in flight precedes, in list order, every
// element the engine has fetched since, so it overrides any later error); the engine then stops
// at its next element fetch, chunk or block (no further block is issued) and, like every
// command, completes only when no status is owed (S_CPL waits). Writes issued before the
// failure arrived are done by the device but not counted.
//
// Parked completions (BLK_WRITE, docs/storage.md "Parked completions"): a write that ended
// (S_CPL: the issuer stopped, every read answered, the sender done) with statuses still owed
// parks its completion (p_*: tag, status, BYTES, the statuses it is owed, p_left) and the
// engine takes the next command. The oldest owed statuses are the parked command's: each status
// that comes goes to it while p_left != 0. It is posted in the cycle after its last status;
// another command's completion waits for it (order kept), a BLK_READ does not start while a
// write is parked, and one write is parked at a time. A timeout while the parked command is
// owed statuses gives it up (DISK_TIMEOUT; its owed answers become `stale`) and restarts the
// current command's wait; it also counts in S_IDLE with a parked command owed statuses.
//
// BLK_READ (docs/storage.md): when the element that starts a block has been accepted, the
// engine issues one block-device read (lba of that element, len 4096, write 0), stores the
// block's data words from s_axis_blk_rd_* in the block buffer and takes its status. With status
// 0 it then writes the block's bytes to host memory along the elements: each element's part of
// the block is one DMA write (at most 4096 bytes, never crossing the block boundary) taken from
// the buffer at the element's byte offset and realigned to a packed stream, one bus word per
// cycle; a ZERO element's bytes are skipped. Elements after the first one of a block are
// fetched and checked while the block is being delivered (element k+1 after element k's host
// write was issued), so a list error found inside a block ends the request after the block's
// earlier elements were written to host memory; that block does not count in BYTES. The next
// block is read only after all host writes of the current one have been issued.
//
// Validation (status BAD_SG unless noted; BYTES of the completion = bytes of the blocks written
// to disk, or read and delivered to host memory, with OK status):
//   - command BYTES zero or not a multiple of 4096 (nothing is fetched);
//   - more than SG_MAX elements would be fetched;
//   - element LEN not in 1..65536;
//   - element at a block boundary whose DISK_ADDR is not a multiple of 512, or inside a block
//     whose DISK_ADDR is not the previous element's end;
//   - element that would take the described total beyond BYTES (checked when it is fetched);
//   - DEVMEM element (checked after the three checks above, docs/p2p.md) in a BLK_READ, or with
//     ZERO, or with SRC_ADDR >= NUM_BUFLETS*BUFLET_BYTES, or with SRC_ADDR mod BUFLET_BYTES +
//     LEN > BUFLET_BYTES, or whose buflet is not exposed;
//   - list ending (NEXT == 0) inside a block, or before BYTES bytes were described;
//   - BYTES reached at a block boundary but NEXT != 0;
//   - DMA_ERROR: a host read (element, or write data) was refused;
//   - DISK_ERROR: the block device returned a non-zero status (a failed read block is not
//     written to host memory).
//   - DISK_TIMEOUT (docs/storage.md): the block device made no progress for blk_timeout
//     (register BLK_TIMEOUT, 0 = wait forever) cycles while the engine waited for it: a request
//     not taken (S_BLK_REQ, S_RB_REQ), a read's data (S_RB_DATA) or a status (S_RB_RESP; a
//     write's in S_BLK_WAIT with W_MAX owed, in S_CPL with any owed, or in S_W_POP while the
//     issuer holds a host chunk back because W_MAX-1 are owed). DISK_ERROR stays when
//     an owed write had already failed. The wait counter restarts at every request handshake, read data word and
//     status, late ones being discarded included. The command ends with the blocks done so far (none of the given-up block counts)
//     and ev_blk_timeout pulses. A command given up after its request was taken leaves an
//     answer owed (every owed write's too): `stale` counts them, and while it is non-zero every read data word and
//     status from the device is taken and discarded (the device answers in order), so a late
//     answer never passes for the answer of a later command. The device must take a write's
//     data once it took its request (the block sender waits without a timeout; no wait for
//     the device counts while it sends).
//   - PROT_FAULT (docs/protection.md): the protection lookup port (prot_addr/len/write ->
//     prot_deny, combinational, answered by prot_table) refused the element fetch (asked in
//     S_ELEM_REQ after the SG_MAX check: no read is issued), or the element's SRC_ADDR/LEN
//     (READ for BLK_WRITE, WRITE for BLK_READ; not for ZERO or DEVMEM elements; asked in
//     S_ELEM_CHK after the element checks above). The refusal ends the request before any
//     host access for that element (a BLK_WRITE block in progress is not written; a BLK_READ
//     block is not read when the element starts it) and pulses ev_fault with the refused
//     address and direction.
//
// Assumptions (checked at elaboration): DATA_WIDTH a power of two in 64..512, BUFLET_BYTES a
// power of two >= DATA_WIDTH/8, NUM_BUFLETS a power of two in 2..32768, BW_ADDR =
// $clog2(NUM_BUFLETS*BUFLET_BYTES/(DATA_WIDTH/8)) (the buflet_pool's).

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module blk_dma #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter BW_ADDR      = $clog2(NUM_BUFLETS * BUFLET_BYTES / (DATA_WIDTH / 8))
) (
    input  wire                    clk,
    input  wire                    rst,
    // BLK_WRITE / BLK_READ request entries
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
    input  wire [DATA_WIDTH-1:0]   s_axis_blk_rd_tdata,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [DATA_WIDTH/8-1:0] s_axis_blk_rd_tkeep,   // a block is a whole number of full words
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                    s_axis_blk_rd_tvalid,
    output wire                    s_axis_blk_rd_tready,
    input  wire                    s_axis_blk_rd_tlast,
    input  wire                    s_blk_resp_valid,
    output wire                    s_blk_resp_ready,
    input  wire [7:0]              s_blk_resp_status,
    // DMA write client (BLK_READ data to host memory)
    output wire                    m_dma_wr_req_valid,
    input  wire                    m_dma_wr_req_ready,
    output wire [63:0]             m_dma_wr_req_addr,
    output wire [15:0]             m_dma_wr_req_len,
    output wire [DATA_WIDTH-1:0]   m_axis_dma_wr_tdata,
    output wire [DATA_WIDTH/8-1:0] m_axis_dma_wr_tkeep,
    output wire                    m_axis_dma_wr_tvalid,
    input  wire                    m_axis_dma_wr_tready,
    output wire                    m_axis_dma_wr_tlast,
    // protection lookup (one port of prot_table) and fault events
    output wire [63:0]             prot_addr,
    output wire [31:0]             prot_len,
    output wire                    prot_write,
    output wire                    prot_ask,       // a lookup is asked this cycle
    input  wire                    prot_deny,      // the lookup refuses (0: allowed)
    output reg                     ev_fault,       // one access refused (one-cycle pulse)
    output reg  [63:0]             ev_fault_addr,
    output reg                     ev_fault_write,
    // buflet memory (buflet_pool second read port, exposed bitmap) for DEVMEM elements
    output wire                    bram_rd_en,
    output wire [BW_ADDR-1:0]      bram_rd_addr,
    input  wire [DATA_WIDTH-1:0]   bram_rd_data,
    output wire [15:0]             exp_rd_idx,
    input  wire                    exp_rd,
    // buflet memory writes for DEVMEM elements of a BLK_READ (buflet_pool's shared write
    // port, taken when ready) and the host buflets they may name (HOST_BUFLETS)
    output wire                    bram_wr_en,
    input  wire                    bram_wr_ready,
    output wire [BW_ADDR-1:0]      bram_wr_addr,
    output wire [DATA_WIDTH-1:0]   bram_wr_data,
    input  wire [15:0]             host_buflets,
    // BLK_TIMEOUT: cycles without progress of the block device before a command is given up
    input  wire [31:0]             blk_timeout,
    // completions
    output wire                    m_cpl_valid,
    input  wire                    m_cpl_ready,
    output wire [255:0]            m_cpl_data,
    // counter events
    output reg                     ev_blk_write,   // one block write issued
    output reg                     ev_blk_read,    // one block read issued
    output reg                     ev_blk_timeout, // a command given up on blk_timeout
    output wire [15:0]             ev_blk_bytes,   // bytes of either (4096)
    output reg                     ev_dev_bytes_valid,   // with ev_blk_write: DEVMEM bytes in it
    output reg  [15:0]             ev_dev_bytes,
    output reg                     ev_dev_wr_valid,      // a BLK_READ chunk went to buflet memory
    output reg  [15:0]             ev_dev_wr_bytes
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(blk_dma)
        if (!`BF_IS_POW2(BUFLET_BYTES) || BUFLET_BYTES < DATA_WIDTH / 8) begin : g_check_buflet_bytes
            `BF_ERROR("blk_dma: BUFLET_BYTES must be a power of two >= DATA_WIDTH/8")
        end
        `BF_CHECK_BUFLET_RAM(blk_dma, DATA_WIDTH / 8)
    endgenerate

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
    localparam KSH        = $clog2(KEEP_WIDTH);    // byte offset bits inside a bus word
    localparam LBB        = $clog2(BUFLET_BYTES);  // byte offset bits inside a buflet
    localparam [64:0] DEV_BYTES = 65'(NUM_BUFLETS) * 65'(BUFLET_BYTES);

    // ------------------------------------------------------------------ command FIFO
    localparam CMD_W = 1 + 32 + 16 + 64 + 32 + 32;
    wire             cmd_is_rd = (s_cmd_data[`BF_BLK_REQ_OPCODE_RANGE] == 8'(`BF_OP_BLK_READ));
    wire [CMD_W-1:0] cmd_in = {cmd_is_rd,
                               s_cmd_data[`BF_BLK_REQ_TAG_RANGE],
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

    // ------------------------------------------------------------------ issuer queues
    // kinds of the issuer's reads in flight, in request order (1: a host chunk, 0: an element)
    wire rk_s_ready;
    wire rk_valid;
    wire rk_kind;
    wire rk_pop;
    wire rk_elem  = rk_valid && !rk_kind;
    wire rk_chunk = rk_valid && rk_kind;
    // chunk entries for the data side: kind, length, completes the block, the block's lba,
    // the DEVMEM source (device byte address)
    localparam K_HOST = 2'd0, K_ZERO = 2'd1, K_DEV = 2'd2, K_STOP = 2'd3;
    localparam DAW  = BW_ADDR + $clog2(DATA_WIDTH / 8);
    localparam CQ_W = 2 + 13 + 1 + 64 + DAW;
    wire            cq_s_valid;
    wire            cq_s_ready;
    wire [CQ_W-1:0] cq_s_data;
    wire            cq_valid;
    wire            cq_ready;
    wire [CQ_W-1:0] cq_data;
    wire [1:0]      q_kind = cq_data[CQ_W-1 -: 2];
    wire [12:0]     q_len  = cq_data[CQ_W-3 -: 13];
    wire            q_end  = cq_data[CQ_W-16];
    wire [63:0]     q_lba  = cq_data[DAW +: 64];
    wire [DAW-1:0]  q_src  = cq_data[DAW-1:0];

    // ------------------------------------------------------------------ state
    localparam S_IDLE     = 5'd0,  S_ELEM_REQ = 5'd1,  S_ELEM_RSP = 5'd2,  S_ELEM_CHK = 5'd3,
               S_CHUNK    = 5'd4,  S_RD_DATA  = 5'd6,  S_ZERO     = 5'd7,
               S_NEXT     = 5'd8,  S_BLK_WAIT = 5'd9,  S_BLK_REQ  = 5'd10,
               S_CPL      = 5'd13,
               // BLK_WRITE data side: take the next chunk entry from the issuer's queue
               S_W_POP    = 5'd11,
               // BLK_READ: block read request, its data, its status; host write of a chunk
               // (buffer read priming, request, data); end of a delivered block
               S_RB_REQ   = 5'd14, S_RB_DATA  = 5'd15, S_RB_RESP  = 5'd16, S_WR_PRIME = 5'd17,
               S_WR_REQ   = 5'd18, S_WR_DATA  = 5'd19, S_RB_END   = 5'd20,
               // BLK_WRITE: a DEVMEM chunk read from buflet memory
               S_DEV_DATA = 5'd21,
               // BLK_READ: a DEVMEM chunk written into buflet memory
               S_DEV_WR   = 5'd22;
    reg [4:0] state;

    // BLK_WRITE issuer: fetch an element (or wait for the one requested ahead), check it,
    // request the next one ahead, issue the element's chunks, decide what follows it, queue
    // the STOP entry
    localparam I_IDLE = 3'd0, I_EREQ = 3'd1, I_ECHK = 3'd2, I_PF = 3'd3, I_CHUNK = 3'd4,
               I_NEXT = 3'd5, I_STOP = 3'd6;
    reg [2:0] i_state;

    // the write issuer ends the list walk with `st` (queued behind its chunks as STOP)
    task stop(input [7:0] st);
        begin
            i_status <= st;
            i_state  <= I_STOP;
        end
    endtask

    // a protection refusal of the lookup asked this cycle
    task fault;
        begin
            ev_fault       <= 1'b1;
            ev_fault_addr  <= prot_addr;
            ev_fault_write <= prot_write;
        end
    endtask

    // the fetched element passed its checks: it becomes the current element
    task accept_elem;
        begin
            described <= new_desc[31:0];
            e_src     <= f_src;
            e_rem     <= f_len[16:0];
            e_zero    <= f_zero;
            e_dev     <= f_dev;
            e_next    <= f_next;
            cur_disk  <= f_disk + {32'd0, f_len};
            if (blk_fill == 12'd0) blk_lba <= f_disk >> SECT_SHIFT;
        end
    endtask

    reg        c_rd;         // the command is a BLK_READ
    reg [31:0] c_tag;
    reg [15:0] c_sock;
    reg [31:0] c_max;
    reg [31:0] c_bytes;
    reg [63:0] next_ptr;     // address of the next element to fetch
    reg [31:0] elem_cnt;     // elements fetched
    reg [31:0] described;    // sum of LEN of the accepted elements
    reg [31:0] written;      // bytes of blocks written (read and delivered) with OK status
    reg [11:0] blk_fill;     // bytes of the current block already packed (read: delivered)
    reg [63:0] blk_lba;
    reg [63:0] cur_disk;     // disk byte address just after the previous element
    reg [63:0] e_src;
    reg [16:0] e_rem;
    reg        e_zero;
    reg        e_dev;        // the current element is DEVMEM
    reg [63:0] e_next;
    reg [12:0] chunk;        // 1..4096
    reg        c_end;        // the current chunk completes the block
    reg [12:0] z_rem;        // bytes left of a ZERO or DEVMEM chunk (write) or of a host write (read)
    reg [12:0] blk_dev;      // DEVMEM bytes packed into the current block
    reg [7:0]  status;
    localparam W_MAX = `BF_PARAM_BLK_WRITES_IN_FLIGHT;
    localparam OW    = $clog2(W_MAX + 1);
    reg [OW-1:0] owed;       // BLK_WRITE: blocks sent whose status has not come yet
    reg          failed;     // BLK_WRITE: a status was not OK (the command ends DISK_ERROR)
    // A write command that ended with statuses still owed is parked: its completion waits
    // here for them while the engine starts the next command (docs/storage.md).
    reg          p_valid;
    reg [OW-1:0] p_left;     // its statuses still owed (the oldest owed ones)
    reg  [7:0]   p_status;   // its completion's (DISK_ERROR once a status of its own failed)
    reg [31:0]   p_tag;
    reg [15:0]   p_sock;
    reg [31:0]   p_written;
    reg          i_pf;       // issuer: an element's read is in flight
    reg          i_have;     // issuer: sg_q holds that element, not yet checked
    reg          i_err;      // its read returned an error (tuser)
    reg  [7:0]   i_status;   // issuer: the status its STOP entry ends the command with
    reg  [1:0]   hc_out;     // host chunks requested and not yet packed (or discarded)
    reg  [63:0]  d_lba;      // data side: lba of the block being packed
    reg  [1:0]   d_kind;     // data side: kind of the chunk being packed

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
    wire        f_zero = (f_flg & 32'(`BF_SG_FLAG_ZERO)) != 32'd0;
    wire        f_dev  = (f_flg & 32'(`BF_SG_FLAG_DEVMEM)) != 32'd0;
    wire [63:0] f_next = sg_q[`BF_SG_ELEM_NEXT_RANGE];

    wire ok_len   = (f_len != 32'd0) && (f_len <= 32'(MAX_LEN));
    wire ok_disk  = (blk_fill == 12'd0) ? (f_disk[SECT_SHIFT-1:0] == {SECT_SHIFT{1'b0}})
                                        : (f_disk == cur_disk);
    wire [32:0] new_desc = {1'b0, described} + {1'b0, f_len};
    wire ok_total = new_desc <= {1'b0, c_bytes};

    // DEVMEM (docs/p2p.md): a write, not ZERO, inside one exposed buflet of the memory
    wire [32:0] dev_end = 33'(f_src[LBB-1:0]) + {1'b0, f_len};
    wire ok_dev_wr = !c_rd && !f_zero && ({1'b0, f_src} < DEV_BYTES) &&
                     (dev_end <= 33'(BUFLET_BYTES)) && exp_rd;
    // DEVMEM in a BLK_READ (docs/p2p.md "p2p reads"): not ZERO, SRC_ADDR, LEN and DISK_ADDR
    // multiples of DEV_ALIGN (so every bus word of the block lands whole in one memory
    // word), inside one host buflet
    localparam DAB = $clog2(`BF_PARAM_DEV_ALIGN);
    wire ok_dev_rd = c_rd && !f_zero && ({1'b0, f_src} < DEV_BYTES) &&
                     (dev_end <= 33'(BUFLET_BYTES)) &&
                     (f_src[DAB-1:0] == {DAB{1'b0}}) && (f_len[DAB-1:0] == {DAB{1'b0}}) &&
                     (f_disk[DAB-1:0] == {DAB{1'b0}}) &&
                     ({1'b0, f_buflet[15:0]} + {1'b0, host_buflets} >= 17'(NUM_BUFLETS));
    wire ok_dev = ok_dev_wr || ok_dev_rd;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [63:0] f_buflet = f_src >> LBB;   // low 16 bits: the range check covers the rest
    /* verilator lint_on UNUSEDSIGNAL */
    assign exp_rd_idx = f_buflet[15:0];

    wire prot_allowed = !prot_deny;
    // the element's checks (BAD_SG, then the protection lookup of its data)
    wire chk_bad  = !(ok_len && ok_disk && ok_total) || (f_dev && !ok_dev);
    wire chk_prot = !chk_bad && !f_zero && !f_dev && !prot_allowed;

    // After an element's last chunk (blk_fill past it): the list ends when NEXT is 0 or BYTES
    // was reached at a block boundary, OK only when both and at a block boundary (else BAD_SG:
    // the list ended inside a block or before BYTES, or goes on past BYTES).
    wire       at_bytes  = (blk_fill == 12'd0) && (described == c_bytes);
    wire       nx_end    = (e_next == 64'd0) || at_bytes;
    wire [7:0] nx_status = ((e_next == 64'd0) && at_bytes) ? 8'(`BF_STATUS_OK) : 8'(`BF_STATUS_BAD_SG);

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

    // DEVMEM chunk: dv_pend = the word read in the previous cycle is on bram_rd_data (held until
    // the next read); dv_issue = words still to read at dv_addr; z_rem = bytes still to pack;
    // the first word starts at byte dv_lo.
    reg  [BW_ADDR-1:0]    dv_addr;
    reg  [13:0]           dv_issue;
    reg                   dv_pend;
    reg                   dv_first;
    reg  [KSH-1:0]        dv_lo;
    wire [12:0]           dv_off   = dv_first ? 13'(dv_lo) : 13'd0;
    wire [12:0]           dv_avail = 13'(KEEP_WIDTH) - dv_off;       // bytes of the word from dv_off
    wire                  dv_last  = (z_rem <= dv_avail);
    wire [12:0]           dv_n     = dv_last ? z_rem : dv_avail;      // bytes of this word
    wire [12:0]           dv_top   = 13'(KEEP_WIDTH) - (dv_off + dv_n);
    wire [KEEP_WIDTH-1:0] dv_keep  = ({KEEP_WIDTH{1'b1}} >> dv_top) & ({KEEP_WIDTH{1'b1}} << dv_off);
    wire                  dv_take  = (state == S_DEV_DATA) && dv_pend && pk_s_tready;
    wire                  dv_rd    = (state == S_DEV_DATA) && (dv_issue != 14'd0) &&
                                     (!dv_pend || pk_s_tready);
    assign bram_rd_en   = dv_rd;
    assign bram_rd_addr = dv_addr;

    wire [KEEP_WIDTH-1:0] z_keep = (z_rem >= 13'(KEEP_WIDTH)) ? {KEEP_WIDTH{1'b1}}
                                 : ({KEEP_WIDTH{1'b1}} >> (13'(KEEP_WIDTH) - z_rem));
    wire z_last = (z_rem <= 13'(KEEP_WIDTH));

    always @(*) begin
        pk_s_tdata  = s_axis_dma_rd_tdata;
        pk_s_tkeep  = s_axis_dma_rd_tkeep;
        pk_s_tvalid = 1'b0;
        pk_s_tlast  = s_axis_dma_rd_tlast && c_end;
        if (state == S_RD_DATA) begin
            pk_s_tvalid = s_axis_dma_rd_tvalid && rk_chunk;
        end else if (state == S_ZERO) begin
            pk_s_tdata  = {DATA_WIDTH{1'b0}};
            pk_s_tkeep  = z_keep;
            pk_s_tvalid = 1'b1;
            pk_s_tlast  = z_last && c_end;
        end else if (state == S_DEV_DATA) begin
            pk_s_tdata  = bram_rd_data;
            pk_s_tkeep  = dv_keep;
            pk_s_tvalid = dv_pend;
            pk_s_tlast  = dv_last && c_end;
        end
    end

    // Block buffer: written by the packer (BLK_WRITE) or by the block read stream (BLK_READ),
    // read one word per cycle towards the block device (BLK_WRITE) or the host (BLK_READ).
    // Two banks ({bank, word}): wb is filled (packer or block read stream), s_bank is sent.
    reg [DATA_WIDTH-1:0] bmem [0:2*BLK_WORDS-1];
    reg                  wb;         // the bank being filled
    reg                  s_busy;     // the block sender is sending bank s_bank
    reg                  s_bank;
    reg [BAW-1:0]        wr_ptr;
    reg                  buf_done;   // the block is complete (BLK_READ: extra words are dropped)
    reg [BAW-1:0]        rd_ptr;
    reg [DATA_WIDTH-1:0] rd_q;       // bmem at the address presented in the previous cycle

    wire blk_beat = s_busy && m_axis_blk_wr_tready;
    // the device took a block's request: its bank goes to the sender, the other one is filled
    wire handoff  = (state == S_BLK_REQ) && !failed && m_blk_req_ready;
    wire blk_last = (rd_ptr == BAW'(BLK_WORDS - 1));
    wire [BAW-1:0] rd_next = blk_beat ? rd_ptr + 1'b1 : rd_ptr;

    // BLK_READ: block data in, one word per cycle
    reg  [31:0] stale;       // answers owed for commands given up (discarded on arrival)
    wire        fresh = (stale == 32'd0);
    wire rb_beat = (state == S_RB_DATA) && fresh && s_axis_blk_rd_tvalid;
    wire rb_we   = rb_beat && !buf_done;

    // BLK_READ: host write of the chunk at byte blk_fill of the buffer. hw_lo holds word
    // hw_ptr-1 and rd_q word hw_ptr; each output word is the two shifted down by the byte offset.
    reg  [BAW-1:0]        hw_ptr;
    reg  [DATA_WIDTH-1:0] hw_lo;
    wire [BAW-1:0]        hw_w0  = blk_fill[11:KSH];
    wire [KSH-1:0]        hw_sh  = blk_fill[KSH-1:0];
    wire                  hw_beat = (state == S_WR_DATA) && m_axis_dma_wr_tready;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [2*DATA_WIDTH-1:0] hw_pair = {rd_q, hw_lo} >> {hw_sh, 3'b000};   // low word used
    /* verilator lint_on UNUSEDSIGNAL */

    // BLK_READ DEVMEM chunk: rd_q holds block word dw_ptr (the chunk's first word was
    // presented in S_CHUNK), written to buflet memory word dv_addr when the port is free.
    reg  [BAW-1:0] dw_ptr;
    wire           dw_beat = (state == S_DEV_WR) && bram_wr_ready;
    assign bram_wr_en   = (state == S_DEV_WR);
    assign bram_wr_addr = dv_addr;
    assign bram_wr_data = rd_q;

    reg [BAW-1:0] raddr_lo;
    always @(*) begin
        case (state)
            S_CHUNK:    raddr_lo = hw_w0;
            S_WR_PRIME: raddr_lo = hw_w0 + 1'b1;
            S_WR_REQ:   raddr_lo = hw_ptr;
            S_WR_DATA:  raddr_lo = hw_beat ? hw_ptr + 1'b1 : hw_ptr;
            S_DEV_WR:   raddr_lo = dw_beat ? dw_ptr + 1'b1 : dw_ptr;
            default:    raddr_lo = rd_ptr;   // word 0 of the bank handed to the sender next
        endcase
    end
    // the sender owns the read port while it sends (BLK_READ states never overlap it)
    wire [BAW:0] raddr = s_busy ? {s_bank, rd_next} : {wb, raddr_lo};

    always @(posedge clk) begin
        if (pk_m_tvalid) begin
            bmem[{wb, wr_ptr}] <= pk_m_tdata;
        end else if (rb_we) begin
            bmem[{wb, wr_ptr}] <= s_axis_blk_rd_tdata;
        end
        rd_q <= bmem[raddr];
    end

    wire p_owe     = p_valid && (p_left != {OW{1'b0}});   // the parked command is owed statuses
    wire p_failed  = (p_status == 8'(`BF_STATUS_DISK_ERROR));  // a status of its own failed
    wire resp_fire = (state == S_RB_RESP) && fresh && s_blk_resp_valid;   // a read's status
    wire w_resp    = (owed != {OW{1'b0}}) && fresh && s_blk_resp_valid;     // an owed write's
    wire stale_resp = !fresh && s_blk_resp_valid;   // a late answer, discarded
    wire w_sent    = blk_beat && blk_last;          // a write's data packet went out

    // timeout: cycles the engine has waited for the block device without progress
    wire        dev_wait = (state == S_BLK_REQ) || (state == S_RB_REQ) || (state == S_RB_DATA) ||
                           (state == S_RB_RESP) ||
                           ((state == S_BLK_WAIT) && buf_done && !s_busy && (owed == OW'(W_MAX))) ||
                           ((state == S_CPL) && !s_busy && (owed != {OW{1'b0}})) ||
                           // no command, a parked completion owed statuses
                           ((state == S_IDLE) && p_owe && !s_busy) ||
                           // the data side waits for a host chunk the issuer holds back while
                           // W_MAX-1 writes are owed
                           ((state == S_W_POP) && !cq_valid && !s_busy && (i_state == I_CHUNK) &&
                            !e_zero && !e_dev && (owed >= OW'(W_MAX - 1)));
    // progress: any handshake with the device, late answers being discarded included (a
    // device busy sending them is alive)
    wire        dev_prog = (m_blk_req_valid && m_blk_req_ready) || rb_beat || resp_fire || w_resp ||
                           stale_resp || (!fresh && s_axis_blk_rd_tvalid);
    reg  [31:0] wait_cnt;
    wire        timed_out = dev_wait && !dev_prog && (blk_timeout != 32'd0) &&
                            (wait_cnt >= blk_timeout - 32'd1);
    // a timeout gives up the parked command first (its statuses are the oldest owed; the
    // current command's wait then starts over), else the current command
    wire        p_timed = timed_out && p_owe;
    wire        c_timed = timed_out && !p_owe;
    // given up: the parked command's statuses; or the owed writes' statuses and, after a
    // read's request was taken, its answer
    wire [31:0] owe = p_timed ? 32'(p_left) : !c_timed ? 32'd0 :
                      32'(owed) + (((state == S_RB_DATA) || (state == S_RB_RESP)) ? 32'd1 : 32'd0);
    always @(posedge clk) begin
        // restarts at progress and at a timeout (a parked command given up: the current
        // command's wait starts over)
        if (rst || !dev_wait || dev_prog || timed_out) wait_cnt <= 32'd0;
        else wait_cnt <= wait_cnt + 32'd1;
        if (rst) stale <= 32'd0;
        else stale <= stale + owe - {31'd0, stale_resp};
    end

    always @(posedge clk) begin
        if (pk_rst || resp_fire || handoff) begin
            wr_ptr   <= {BAW{1'b0}};
            buf_done <= 1'b0;
        end else if (pk_m_tvalid) begin
            wr_ptr <= wr_ptr + 1'b1;
            if (pk_m_tlast) buf_done <= 1'b1;
        end else if (rb_we) begin
            wr_ptr <= wr_ptr + 1'b1;
            if (wr_ptr == BAW'(BLK_WORDS - 1)) buf_done <= 1'b1;
        end
        if (rst || !s_busy) begin
            rd_ptr <= {BAW{1'b0}};
        end else begin
            rd_ptr <= rd_next;
        end
        if (rst) begin
            wb     <= 1'b0;
            s_busy <= 1'b0;
            s_bank <= 1'b0;
        end else if (handoff) begin
            s_busy <= 1'b1;
            s_bank <= wb;
            wb     <= !wb;
        end else if (w_sent) begin
            s_busy <= 1'b0;
        end
        if (state == S_WR_PRIME) begin
            hw_lo  <= rd_q;
            hw_ptr <= hw_w0 + 1'b1;
        end else if (hw_beat) begin
            hw_lo  <= rd_q;
            hw_ptr <= hw_ptr + 1'b1;
        end
    end

    // ------------------------------------------------------------------ outputs
    // a BLK_READ waits for a parked write's statuses (the device answers in order)
    assign cmd_ready = (state == S_IDLE) && !(cmd_out[CMD_W-1] && p_valid);

    // the issuer stops when the data side ended the command (or an owed write failed)
    // (S_IDLE starts it: `failed` is the last command's until then)
    wire i_halt  = (state == S_CPL) || (failed && (state != S_IDLE));
    // the element after the current one: the engine would fetch it (I_PF asks its read ahead)
    wire pf_ok   = (e_next != 64'd0) && (elem_cnt != c_max) &&
                   ((12'(blk_fill + e_rem[11:0]) != 12'd0) || (described != c_bytes));
    wire i_efetch = (i_state == I_EREQ) && !i_pf && !i_have && (elem_cnt != c_max);
    wire i_pfetch = (i_state == I_PF) && pf_ok;
    wire i_host   = (i_state == I_CHUNK) && !e_zero && !e_dev;
    wire i_rd_go  = !i_halt && rk_s_ready && prot_allowed && (i_efetch || i_pfetch);
    wire i_rd_chunk = !i_halt && rk_s_ready && cq_s_ready && i_host && (hc_out != 2'd2) &&
                      (owed < OW'(W_MAX - 1));
    wire elem_fetch = (state == S_ELEM_REQ) || i_efetch || i_pfetch;
    assign m_dma_rd_req_valid = ((state == S_ELEM_REQ) && (elem_cnt != c_max) && prot_allowed) ||
                                i_rd_go || i_rd_chunk;
    wire i_rd_fire = (i_rd_go || i_rd_chunk) && m_dma_rd_req_ready;
    // protection lookup: an element's fetch (next_ptr; e_next when asked ahead), else the
    // fetched element's data
    assign prot_addr  = ((state == S_ELEM_REQ) || (i_state == I_EREQ)) ? next_ptr :
                        ((i_state == I_PF) ? e_next : f_src);
    assign prot_len   = elem_fetch ? 32'(SG_BYTES) : f_len;
    assign prot_write = !elem_fetch && c_rd;
    assign prot_ask   = elem_fetch || (state == S_ELEM_CHK) || (i_state == I_ECHK);
    assign m_dma_rd_req_addr  = (i_state == I_CHUNK) ? e_src : ((i_state == I_PF) ? e_next : next_ptr);
    assign m_dma_rd_req_len   = (i_state == I_CHUNK) ? {3'd0, next_chunk} : 16'(SG_BYTES);
    // the issuer's reads are answered in order: an element's word is always taken, a chunk's
    // by the packer (or discarded once the command ended)
    assign s_axis_dma_rd_tready = (state == S_ELEM_RSP) || rk_elem ||
                                  (rk_chunk && (((state == S_RD_DATA) && pk_s_tready) ||
                                                (state == S_CPL)));
    wire rsp_last  = s_axis_dma_rd_tvalid && s_axis_dma_rd_tready && s_axis_dma_rd_tlast;
    wire elem_done = rk_elem && rsp_last;
    wire hc_done   = rk_chunk && rsp_last;
    assign rk_pop  = elem_done || hc_done;

    // chunk entries: one per chunk issued (a host chunk's with its read request), STOP last
    wire i_push_chunk = (i_state == I_CHUNK) && !i_halt && cq_s_ready &&
                        (i_host ? (i_rd_chunk && m_dma_rd_req_ready) : 1'b1);
    wire i_push_stop  = (i_state == I_STOP) && !i_halt && cq_s_ready;
    assign cq_s_valid = i_push_chunk || i_push_stop;
    assign cq_s_data  = {i_push_stop ? K_STOP : (e_zero ? K_ZERO : (e_dev ? K_DEV : K_HOST)),
                         next_chunk, (next_chunk == room), blk_lba, e_src[DAW-1:0]};
    // the data side takes entries in S_W_POP; a command that ended discards the rest
    assign cq_ready   = ((state == S_W_POP) && !failed) || (state == S_CPL);

    sync_fifo #(.WIDTH(1), .DEPTH(4)) u_rk_fifo (
        .clk(clk), .rst(rst),
        .s_valid(i_rd_fire), .s_ready(rk_s_ready), .s_data(i_state == I_CHUNK),
        .m_valid(rk_valid), .m_ready(rk_pop), .m_data(rk_kind)
    );

    sync_fifo #(.WIDTH(CQ_W), .DEPTH(4)) u_cq_fifo (
        .clk(clk), .rst(rst),
        .s_valid(cq_s_valid), .s_ready(cq_s_ready), .s_data(cq_s_data),
        .m_valid(cq_valid), .m_ready(cq_ready), .m_data(cq_data)
    );

    wire sg_beat = ((state == S_ELEM_RSP) || rk_elem) && s_axis_dma_rd_tvalid;
    wire rd_beat = (state == S_RD_DATA) && rk_chunk && s_axis_dma_rd_tvalid && pk_s_tready;
    wire z_beat  = (state == S_ZERO) && pk_s_tready;

    // no block write is requested once an owed write failed
    assign m_blk_req_valid      = ((state == S_BLK_REQ) && !failed) || (state == S_RB_REQ);
    assign m_blk_req_lba        = c_rd ? blk_lba : d_lba;
    assign m_blk_req_len        = 16'(BLK_BYTES);
    assign m_blk_req_write      = !c_rd;
    assign m_axis_blk_wr_tdata  = rd_q;
    assign m_axis_blk_wr_tkeep  = {KEEP_WIDTH{1'b1}};
    assign m_axis_blk_wr_tvalid = s_busy;
    assign m_axis_blk_wr_tlast  = blk_last;
    assign s_blk_resp_ready     = (state == S_RB_RESP) || (owed != {OW{1'b0}}) || !fresh;
    assign s_axis_blk_rd_tready = (state == S_RB_DATA) || !fresh;

    // byte mask of a keep mask
    function [DATA_WIDTH-1:0] byte_mask;
        input [KEEP_WIDTH-1:0] k;
        integer j;
        begin
            for (j = 0; j < KEEP_WIDTH; j = j + 1) byte_mask[8*j +: 8] = {8{k[j]}};
        end
    endfunction

    assign m_dma_wr_req_valid   = (state == S_WR_REQ);
    assign m_dma_wr_req_addr    = e_src;
    assign m_dma_wr_req_len     = {3'd0, chunk};
    assign m_axis_dma_wr_tdata  = hw_pair[DATA_WIDTH-1:0] & byte_mask(z_keep);
    assign m_axis_dma_wr_tkeep  = z_keep;
    assign m_axis_dma_wr_tvalid = (state == S_WR_DATA);
    assign m_axis_dma_wr_tlast  = z_last;

    // a command completes once no status is owed, the sender is done, the issuer stopped and
    // every answer to its reads was taken, and after the parked one
    wire cur_done = (i_state == I_IDLE) && !rk_valid && !cq_valid && !s_busy;
    wire cur_cpl  = (state == S_CPL) && (owed == {OW{1'b0}}) && cur_done && !p_valid;
    wire p_cpl    = p_valid && (p_left == {OW{1'b0}});
    // a write that ended with statuses owed parks its completion (one at a time)
    wire park     = (state == S_CPL) && !c_rd && !p_valid && (owed != {OW{1'b0}}) && cur_done &&
                    !w_resp && !timed_out;
    // a failed write precedes, in list order, whatever the engine found after it
    wire [7:0] cur_status = failed ? 8'(`BF_STATUS_DISK_ERROR) : status;
    reg [255:0] cpl;
    always @(*) begin
        cpl = 256'd0;
        cpl[`BF_CPL_KIND_RANGE]     = 8'(`BF_CPL_KIND_BLK_DONE);
        cpl[`BF_CPL_STATUS_RANGE]   = p_cpl ? p_status : cur_status;
        cpl[`BF_CPL_SOCK_REF_RANGE] = p_cpl ? p_sock : c_sock;
        cpl[`BF_CPL_TAG_RANGE]      = p_cpl ? p_tag : c_tag;
        cpl[`BF_CPL_BYTES_RANGE]    = p_cpl ? p_written : written;
        cpl[`BF_CPL_OPCODE_RANGE]   = (c_rd && !p_cpl) ? 8'(`BF_OP_BLK_READ) : 8'(`BF_OP_BLK_WRITE);
    end
    assign m_cpl_valid  = p_cpl || cur_cpl;
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
            c_rd         <= 1'b0;
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
            e_dev        <= 1'b0;
            blk_dev      <= 13'd0;
            dv_addr      <= {BW_ADDR{1'b0}};
            dv_issue     <= 14'd0;
            dv_pend      <= 1'b0;
            dv_first     <= 1'b0;
            dv_lo        <= {KSH{1'b0}};
            ev_dev_bytes_valid <= 1'b0;
            ev_dev_bytes <= 16'd0;
            ev_dev_wr_valid <= 1'b0;
            ev_dev_wr_bytes <= 16'd0;
            dw_ptr       <= {BAW{1'b0}};
            e_next       <= 64'd0;
            chunk        <= 13'd0;
            c_end        <= 1'b0;
            z_rem        <= 13'd0;
            status       <= 8'd0;
            owed         <= {OW{1'b0}};
            failed       <= 1'b0;
            p_valid      <= 1'b0;
            p_left       <= {OW{1'b0}};
            p_status     <= 8'd0;
            p_tag        <= 32'd0;
            p_sock       <= 16'd0;
            p_written    <= 32'd0;
            i_state      <= I_IDLE;
            i_pf         <= 1'b0;
            i_have       <= 1'b0;
            i_err        <= 1'b0;
            i_status     <= 8'd0;
            hc_out       <= 2'd0;
            d_lba        <= 64'd0;
            d_kind       <= K_HOST;
            sg_cnt       <= 4'd0;
            ev_blk_write <= 1'b0;
            ev_blk_read  <= 1'b0;
            ev_blk_timeout <= 1'b0;
            ev_fault     <= 1'b0;
            ev_fault_addr  <= 64'd0;
            ev_fault_write <= 1'b0;
        end else begin
            ev_blk_write <= 1'b0;
            ev_blk_read  <= 1'b0;
            ev_blk_timeout <= timed_out;
            ev_fault     <= 1'b0;
            ev_dev_bytes_valid <= 1'b0;
            ev_dev_wr_valid <= 1'b0;
            if (c_timed) begin
                status <= 8'(`BF_STATUS_DISK_TIMEOUT);
                state  <= S_CPL;
            end else case (state)
                S_IDLE: if (cmd_valid && cmd_ready) begin
                    {c_rd, c_tag, c_sock, next_ptr, c_max, c_bytes} <= cmd_out;
                    elem_cnt  <= 32'd0;
                    described <= 32'd0;
                    written   <= 32'd0;
                    blk_fill  <= 12'd0;
                    e_rem     <= 17'd0;
                    blk_dev   <= 13'd0;
                    failed    <= 1'b0;
                    i_pf      <= 1'b0;
                    i_have    <= 1'b0;
                    status    <= 8'(`BF_STATUS_OK);
                    if (cmd_out[31:0] == 32'd0 || cmd_out[11:0] != 12'd0) begin
                        status <= 8'(`BF_STATUS_BAD_SG);
                        state  <= S_CPL;
                    end else if (cmd_out[CMD_W-1]) begin
                        state  <= S_ELEM_REQ;
                    end else begin
                        state   <= S_W_POP;       // the issuer walks the list
                        i_state <= I_EREQ;
                    end
                end
                // ---------------------------------------------------------- BLK_READ list walk
                S_ELEM_REQ: begin
                    sg_cnt <= 4'd0;
                    if (elem_cnt == c_max) begin
                        status <= 8'(`BF_STATUS_BAD_SG);
                        state  <= S_CPL;
                    end else if (!prot_allowed) begin
                        status         <= 8'(`BF_STATUS_PROT_FAULT);
                        ev_fault       <= 1'b1;
                        ev_fault_addr  <= prot_addr;
                        ev_fault_write <= prot_write;
                        state          <= S_CPL;
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
                    if (chk_bad) begin
                        status <= 8'(`BF_STATUS_BAD_SG);
                        state  <= S_CPL;
                    end else if (chk_prot) begin
                        status <= 8'(`BF_STATUS_PROT_FAULT);
                        fault();
                        state  <= S_CPL;
                    end else begin
                        accept_elem();
                        // a read fetches the block when its first element is accepted
                        state <= (blk_fill == 12'd0) ? S_RB_REQ : S_CHUNK;
                    end
                end
                S_CHUNK: begin
                    chunk  <= next_chunk;
                    z_rem  <= next_chunk;
                    c_end  <= (next_chunk == room);
                    dv_addr <= e_src[BW_ADDR+KSH-1:KSH];
                    dw_ptr <= hw_w0;
                    state  <= e_zero ? S_NEXT :                // ZERO: bytes discarded
                              (e_dev ? S_DEV_WR : S_WR_PRIME);
                end
                // ---------------------------------------------------------- BLK_WRITE data side
                // the next chunk entry: pack it, or end the command (STOP: the issuer's status)
                S_W_POP: if (failed) begin
                    state <= S_CPL;                  // an owed write failed: stop here
                end else if (cq_valid) begin
                    d_kind   <= q_kind;
                    chunk    <= q_len;
                    z_rem    <= q_len;
                    c_end    <= q_end;
                    d_lba    <= q_lba;
                    dv_addr  <= q_src[DAW-1:KSH];
                    dv_issue <= 14'((14'(q_src[KSH-1:0]) + {1'b0, q_len} + 14'(KEEP_WIDTH - 1)) >> KSH);
                    dv_pend  <= 1'b0;
                    dv_first <= 1'b1;
                    dv_lo    <= q_src[KSH-1:0];
                    case (q_kind)
                        K_HOST:  state <= S_RD_DATA;
                        K_ZERO:  state <= S_ZERO;
                        K_DEV:   state <= S_DEV_DATA;
                        default: begin
                            status <= i_status;
                            state  <= S_CPL;
                        end
                    endcase
                end
                S_RD_DATA: if (rd_beat && s_axis_dma_rd_tlast) begin
                    if (s_axis_dma_rd_tuser) begin
                        status <= 8'(`BF_STATUS_DMA_ERROR);
                        state  <= S_CPL;
                    end else begin
                        state  <= S_NEXT;
                    end
                end
                S_ZERO: if (z_beat) begin
                    z_rem <= z_rem - 13'(KEEP_WIDTH);
                    if (z_last) state <= S_NEXT;
                end
                S_DEV_DATA: begin
                    if (dv_rd) begin
                        dv_addr  <= dv_addr + 1'b1;
                        dv_issue <= dv_issue - 14'd1;
                    end
                    dv_pend <= dv_rd || (dv_pend && !dv_take);
                    if (dv_take) begin
                        z_rem    <= z_rem - dv_n;
                        dv_first <= 1'b0;
                        if (dv_last) state <= S_NEXT;
                    end
                end
                S_DEV_WR: if (dw_beat) begin
                    dv_addr <= dv_addr + 1'b1;
                    dw_ptr  <= dw_ptr + 1'b1;
                    z_rem   <= z_rem - 13'(KEEP_WIDTH);
                    if (z_last) state <= S_NEXT;
                end
                S_NEXT: if (!c_rd) begin
                    // a write's chunk is packed: the block is complete, or the next entry
                    if (d_kind == K_DEV) blk_dev <= blk_dev + chunk;
                    state <= c_end ? S_BLK_WAIT : S_W_POP;
                end else begin
                    ev_dev_wr_valid <= e_dev;
                    ev_dev_wr_bytes <= 16'(chunk);
                    e_src    <= e_src + {51'd0, chunk};
                    e_rem    <= e_rem - {4'd0, chunk};
                    blk_fill <= blk_fill + chunk[11:0];
                    if (c_end) begin
                        state <= S_RB_END;
                    end else if (e_next == 64'd0) begin
                        // list ended inside a block
                        status <= 8'(`BF_STATUS_BAD_SG);
                        state  <= S_CPL;
                    end else begin
                        next_ptr <= e_next;
                        state    <= S_ELEM_REQ;
                    end
                end
                S_BLK_WAIT: if (failed) begin
                    state <= S_CPL;                  // the packed block is not written
                end else if (buf_done && !s_busy && owed != OW'(W_MAX)) begin
                    state <= S_BLK_REQ;
                end
                S_BLK_REQ: if (failed) begin
                    state <= S_CPL;                  // the packed block is not written
                end else if (m_blk_req_ready) begin
                    ev_blk_write       <= 1'b1;
                    ev_dev_bytes_valid <= (blk_dev != 13'd0);
                    ev_dev_bytes       <= 16'(blk_dev);
                    blk_dev            <= 13'd0;
                    // the sender sends it; its status is counted when it comes (below); the
                    // next block is packed now
                    state              <= S_W_POP;
                end
                // ---------------------------------------------------------- BLK_READ
                S_RB_REQ: if (m_blk_req_ready) begin
                    ev_blk_read <= 1'b1;
                    state       <= S_RB_DATA;
                end
                S_RB_DATA: if (rb_beat && s_axis_blk_rd_tlast) state <= S_RB_RESP;
                S_RB_RESP: if (resp_fire) begin
                    if (s_blk_resp_status != 8'd0) begin
                        status <= 8'(`BF_STATUS_DISK_ERROR);   // nothing of this block delivered
                        state  <= S_CPL;
                    end else begin
                        state <= S_CHUNK;
                    end
                end
                S_WR_PRIME: state <= S_WR_REQ;
                S_WR_REQ: if (m_dma_wr_req_ready) state <= S_WR_DATA;
                S_WR_DATA: if (hw_beat) begin
                    z_rem <= z_rem - 13'(KEEP_WIDTH);
                    if (z_last) state <= S_NEXT;
                end
                // every host write of the block was issued: it counts; the element goes on into
                // the next block, or the list ends or goes on
                S_RB_END: begin
                    written <= written + 32'(BLK_BYTES);
                    blk_lba <= blk_lba + 64'(SECT_PER_BLK);
                    if (e_rem != 17'd0) begin
                        state <= S_RB_REQ;
                    end else if (nx_end) begin
                        status <= nx_status;
                        state  <= S_CPL;
                    end else begin
                        next_ptr <= e_next;
                        state    <= S_ELEM_REQ;
                    end
                end
                S_CPL: if (cur_cpl && m_cpl_ready) begin
                    state <= S_IDLE;
                end else if (park) begin
                    {p_valid, p_left, p_status} <= {1'b1, owed, cur_status};
                    {p_tag, p_sock, p_written} <= {c_tag, c_sock, written};
                    state <= S_IDLE;
                end
                default: state <= S_IDLE;
            endcase
            // ---------------------------------------------------------- BLK_WRITE issuer
            // the element's word is taken whenever it is the oldest answer (always ready)
            if (elem_done) begin
                i_pf   <= 1'b0;
                i_have <= 1'b1;
                i_err  <= s_axis_dma_rd_tuser;
            end
            if (sg_beat && rk_elem) sg_cnt <= sg_cnt + 4'd1;
            hc_out <= hc_out + 2'(i_rd_chunk && m_dma_rd_req_ready) - 2'(hc_done);
            if (i_halt) begin
                i_state <= I_IDLE;                  // the data side ended the command
            end else case (i_state)
                I_EREQ: if (i_have) begin
                    i_have <= 1'b0;                 // asked ahead (or just now): check it
                    if (i_err) stop(8'(`BF_STATUS_DMA_ERROR));
                    else       i_state <= I_ECHK;
                end else if (!i_pf) begin
                    if (elem_cnt == c_max) begin
                        stop(8'(`BF_STATUS_BAD_SG));
                    end else if (!prot_allowed) begin
                        fault();
                        stop(8'(`BF_STATUS_PROT_FAULT));
                    end else if (i_rd_go && m_dma_rd_req_ready) begin
                        i_pf   <= 1'b1;
                        sg_cnt <= 4'd0;
                    end
                end
                I_ECHK: begin
                    elem_cnt <= elem_cnt + 32'd1;
                    if (chk_bad) begin
                        stop(8'(`BF_STATUS_BAD_SG));
                    end else if (chk_prot) begin
                        fault();
                        stop(8'(`BF_STATUS_PROT_FAULT));
                    end else begin
                        accept_elem();
                        i_state <= I_PF;
                    end
                end
                // the element after this one, asked ahead of this one's chunks (not when the
                // engine would not fetch it, nor when refused: I_EREQ then reports it)
                I_PF: if (!pf_ok || !prot_allowed) begin
                    i_state <= I_CHUNK;
                end else if (i_rd_go && m_dma_rd_req_ready) begin
                    i_pf    <= 1'b1;
                    sg_cnt  <= 4'd0;
                    i_state <= I_CHUNK;
                end
                I_CHUNK: if (i_push_chunk) begin
                    e_src    <= e_src + {51'd0, next_chunk};
                    e_rem    <= e_rem - {4'd0, next_chunk};
                    blk_fill <= blk_fill + next_chunk[11:0];
                    if (next_chunk == room) blk_lba <= blk_lba + 64'(SECT_PER_BLK);
                    if (e_rem == {4'd0, next_chunk}) i_state <= I_NEXT;
                end
                // the element is issued: the list's end, an error, or the next element
                I_NEXT: if (nx_end) begin
                    stop(nx_status);
                end else begin
                    next_ptr <= e_next;
                    i_state  <= I_EREQ;
                end
                I_STOP: if (i_push_stop) i_state <= I_IDLE;
                default: ;                          // I_IDLE: started by S_IDLE (above)
            endcase
            // Owed writes: one more when a data packet goes out, one fewer per status; given up
            // on a timeout (they became `stale`). A failed one sets `failed`, which makes the
            // completion DISK_ERROR whatever the FSM found since.
            // The oldest owed statuses are the parked command's.
            if (c_timed) begin
                owed <= {OW{1'b0}};
            end else if (p_timed) begin
                owed <= owed + OW'(w_sent) - p_left;
            end else begin
                owed <= owed + OW'(w_sent) - OW'(w_resp);
            end
            if (w_resp && !timed_out && p_owe) begin
                p_left <= p_left - 1'b1;
                if (s_blk_resp_status != 8'd0) begin
                    p_status <= 8'(`BF_STATUS_DISK_ERROR);
                end else if (!p_failed) begin
                    p_written <= p_written + 32'(BLK_BYTES);
                end
            end else if (w_resp && !timed_out) begin
                if (s_blk_resp_status != 8'd0) begin
                    failed <= 1'b1;
                end else if (!failed) begin
                    written <= written + 32'(BLK_BYTES);
                end
            end
            if (p_timed) begin
                p_left <= {OW{1'b0}};
                if (!p_failed) p_status <= 8'(`BF_STATUS_DISK_TIMEOUT);
            end
            if (p_cpl && m_cpl_ready) p_valid <= 1'b0;
        end
    end
endmodule

`resetall
