// Buflet NIC top: external ports as in docs/architecture.md.
//
//   req_fetch -> (opcode BLK_WRITE/BLK_READ ? blk_dma : REG/DEREG_REGION ? prot_table : toe_engine)
//   completions: toe_engine, blk_dma, prot_table -> stream_arb -> cpl_writer
//   protection (docs/protection.md): prot_table lookup ports 0 = blk_dma,
//   1 = toe_engine, 2/3 = dma_guard read/write (between the DMA arbiters and the host ports);
//   faults -> reg_block (port 0 blk_dma, 1 toe_engine, 2/3 dma_guard; a refused ring fetch or
//   completion write is fatal); STATUS.FAULT stops
//   request fetch
//   DMA reads : req_fetch (0), toe_engine (1), blk_dma (2), tx_data (3) -> dma_rd_arb
//   DMA writes: toe_engine (0), cpl_writer (1), blk_dma (2) -> dma_wr_arb
//   MAC rx -> rx_parser -> buflet_pool / toe_engine
//   MAC tx <- tx_builder <- tx_data <- toe_engine tx commands (ACK, SYN-ACK, SYN, RST, ARP
//   reply, data segments) and the data segments' payload pieces (docs/tcp-transmit.md)
//   reg_block -> toe_engine: NIC_MAC/NIC_IP (ARP responder), tick_req (timer);
//   toe_engine -> reg_block: ev_anon_rx, ev_arp_reply, ev_timeout, ev_tick, ev_rx_done
//   p2p (docs/p2p.md): toe_engine expose_en/expose_idx -> buflet_pool exposed bitmap;
//   blk_dma DEVMEM elements read buflet_pool's second data read port (bram_rd_*) and its
//   exposed bits (exp_rd_idx/exp_rd); counters: toe_engine ev_hold_rec/ev_released and
//   blk_dma ev_dev_bytes -> reg_block (CNT_HOLD_RECORDS, CNT_BUF_RELEASED, CNT_BLK_DEV_BYTES)
//   the CPU's window (docs/p2p.md "The CPU's window"): reg_block win_start/win_start_addr (a
//   BUF_WIN_ADDR write) -> buf_window, which checks the exposed bit (the pool's exp2_rd_idx/
//   exp2_rd) and copies WIN_BYTES through the pool's third reader of read port 2 (ram4_rd_*,
//   in the cycles blk_dma and tx_data do not read); its address, status, data and ev_read
//   (CNT_BUF_WIN_READS) -> reg_block

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module buflet_nic #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter NUM_SOCKETS  = 64,
    // HASH_PER_SOCKET buckets per socket slot in every build (docs/tcp-receive.md "Lookup
    // cost"); a parameter still, so module tests can force chains with few buckets
    parameter HASH_BUCKETS = `BF_PARAM_HASH_PER_SOCKET * NUM_SOCKETS,
    parameter NUM_NBS      = 64,
    parameter NUM_ANON     = 16,
    parameter NUM_POSTS    = `BF_PARAM_DEF_NUM_POSTS,
    parameter NUM_REGIONS  = `BF_PARAM_DEF_NUM_REGIONS,
    parameter NUM_LISTEN   = `BF_PARAM_DEF_NUM_LISTEN,
    parameter CLOCK_MHZ    = 250
) (
    input  wire                    clk,
    input  wire                    rst,
    // registers
    input  wire                    s_reg_valid,
    output wire                    s_reg_ready,
    input  wire                    s_reg_write,
    input  wire [11:0]             s_reg_addr,
    input  wire [31:0]             s_reg_wdata,
    output wire                    m_reg_rvalid,
    output wire [31:0]             m_reg_rdata,
    // MAC receive
    input  wire [DATA_WIDTH-1:0]   s_axis_rx_tdata,
    input  wire [DATA_WIDTH/8-1:0] s_axis_rx_tkeep,
    input  wire                    s_axis_rx_tvalid,
    output wire                    s_axis_rx_tready,
    input  wire                    s_axis_rx_tlast,
    // MAC transmit (ACK, SYN-ACK and ARP reply frames from tx_builder)
    output wire [DATA_WIDTH-1:0]   m_axis_tx_tdata,
    output wire [DATA_WIDTH/8-1:0] m_axis_tx_tkeep,
    output wire                    m_axis_tx_tvalid,
    input  wire                    m_axis_tx_tready,
    output wire                    m_axis_tx_tlast,
    // DMA read
    output wire                    m_dma_rd_req_valid,
    input  wire                    m_dma_rd_req_ready,
    output wire [63:0]             m_dma_rd_req_addr,
    output wire [15:0]             m_dma_rd_req_len,
    output wire [7:0]              m_dma_rd_req_id,     // requester: 0 req_fetch, 1 toe_engine, 2 blk_dma, 3 tx_data
    input  wire [DATA_WIDTH-1:0]   s_axis_dma_rd_tdata,
    input  wire [DATA_WIDTH/8-1:0] s_axis_dma_rd_tkeep,
    input  wire                    s_axis_dma_rd_tvalid,
    output wire                    s_axis_dma_rd_tready,
    input  wire                    s_axis_dma_rd_tlast,
    input  wire                    s_axis_dma_rd_tuser,
    // DMA write
    output wire                    m_dma_wr_req_valid,
    input  wire                    m_dma_wr_req_ready,
    output wire [63:0]             m_dma_wr_req_addr,
    output wire [15:0]             m_dma_wr_req_len,
    output wire [7:0]              m_dma_wr_req_id,     // requester: 0 toe_engine, 1 cpl_writer, 2 blk_dma
    output wire [DATA_WIDTH-1:0]   m_axis_dma_wr_tdata,
    output wire [DATA_WIDTH/8-1:0] m_axis_dma_wr_tkeep,
    output wire                    m_axis_dma_wr_tvalid,
    input  wire                    m_axis_dma_wr_tready,
    output wire                    m_axis_dma_wr_tlast,
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
    input  wire [DATA_WIDTH-1:0]   s_axis_blk_rd_tdata,
    input  wire [DATA_WIDTH/8-1:0] s_axis_blk_rd_tkeep,
    input  wire                    s_axis_blk_rd_tvalid,
    output wire                    s_axis_blk_rd_tready,
    input  wire                    s_axis_blk_rd_tlast,
    // interrupt
    output wire                    irq
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(buflet_nic)
        // toe_engine's assumptions (its header: power-of-two HASH_BUCKETS and BUFLET_BYTES,
        // 2*KEEP_WIDTH <= BUFLET_BYTES <= 4096), checked here while toe_engine.v is being split;
        // the split modules check them themselves.
        if (!`BF_IS_POW2(HASH_BUCKETS)) begin : g_check_hash_buckets
            `BF_ERROR("buflet_nic: HASH_BUCKETS must be a power of two (toe_engine)")
        end
        if (!`BF_IS_POW2(BUFLET_BYTES) || BUFLET_BYTES < DATA_WIDTH / 4 || BUFLET_BYTES > 4096) begin : g_check_buflet_bytes
            `BF_ERROR("buflet_nic: BUFLET_BYTES must be a power of two in 2*KEEP_WIDTH..4096 (toe_engine)")
        end
    endgenerate

    localparam KW      = DATA_WIDTH / 8;
    localparam BW_ADDR = $clog2(NUM_BUFLETS * BUFLET_BYTES / KW);

    // ------------------------------------------------------------------ registers
    wire        ctrl_enable, ctrl_prot_en, ring_stop;
    localparam NFAULT = 4;   // 0 blk_dma, 1 toe_engine, 2 dma_guard read, 3 dma_guard write
    wire [NFAULT-1:0]    fault_valid, fault_fatal;
    wire [NFAULT*64-1:0] fault_addr;
    wire [NFAULT*16-1:0] fault_info;
    wire [63:0] req_base, cpl_base;
    wire [31:0] req_size, req_tail, req_head, cpl_size, cpl_head, cpl_tail;
    wire        cpl_posted;
    wire [7:0]  cpl_status;
    wire        ev_rx_frame;
    wire [15:0] ev_rx_bytes;
    wire        ev_drop_valid, ev_accepted, ev_delivered_valid, ev_nb_returned, ev_blk_write, ev_blk_read;
    wire        ev_ooo_held, ev_tx_frame;
    wire [4:0]  ev_drop_reason;
    // listening sockets: HALF_OPEN_MAX to toe_engine, HALF_OPEN / ACCEPT_POOL and the
    // CNT_ACCEPTS, CNT_LOOKUPS, CNT_LOOKUP_CYCLES events back
    wire [31:0] half_open_max, half_open, accept_pool;
    wire        ev_accept, ev_lookup, ev_lookup_cyc, ev_lookup_fwd, ev_dlv_chain, ev_frm_chain;
    wire [15:0] ev_tx_bytes;
    wire [31:0] rto_init, rto_min, rto_max, tx_retries;
    wire        ev_tx_seg, ev_tx_retrans, ev_tx_rto, ev_tx_fast, ev_tx_probe, ev_tx_done, ev_tx_wupd, ev_tx_dack;
    wire [15:0] ev_tx_seg_bytes, ev_tx_done_count;
    wire [15:0] ev_delivered_bytes, ev_blk_bytes, free_count;
    wire [47:0] nic_mac;
    wire [31:0] nic_ip;
    wire        tick_req;
    wire [31:0] blk_timeout;
    wire        ev_blk_timeout;
    wire        ev_anon_rx, ev_arp_reply, ev_timeout, ev_tick, ev_rx_done;
    wire        ev_hold_rec, ev_released, ev_dev_bytes_valid, ev_dev_wr_valid;
    wire [15:0] ev_dev_bytes, ev_dev_wr_bytes;
    // HOST_BUFLETS (docs/p2p.md "p2p reads"): reg_block -> buflet_pool, and back
    wire        host_wr_en;
    wire [31:0] host_wr_val;
    wire [15:0] host_buflets;
    // the CPU's window: reg_block -> buf_window, and back
    wire                            win_start, win_busy, win_bad, ev_win_read;
    wire [31:0]                     win_start_addr, win_addr;
    wire [8*`BF_PARAM_WIN_BYTES-1:0] win_data;

    reg_block #(
        .DATA_WIDTH(DATA_WIDTH), .BUFLET_BYTES(BUFLET_BYTES), .NUM_BUFLETS(NUM_BUFLETS),
        .NUM_SOCKETS(NUM_SOCKETS), .HASH_BUCKETS(HASH_BUCKETS), .NUM_NBS(NUM_NBS),
        .NUM_ANON(NUM_ANON), .CLOCK_MHZ(CLOCK_MHZ), .NUM_REGIONS(NUM_REGIONS), .NFAULT(NFAULT),
        .NUM_POSTS(NUM_POSTS), .NUM_LISTEN(NUM_LISTEN)
    ) u_regs (
        .clk(clk), .rst(rst),
        .s_reg_valid(s_reg_valid), .s_reg_ready(s_reg_ready), .s_reg_write(s_reg_write),
        .s_reg_addr(s_reg_addr), .s_reg_wdata(s_reg_wdata),
        .m_reg_rvalid(m_reg_rvalid), .m_reg_rdata(m_reg_rdata),
        .ctrl_enable(ctrl_enable), .ctrl_prot_en(ctrl_prot_en), .ring_stop(ring_stop),
        .req_base(req_base), .req_size(req_size), .req_tail(req_tail),
        .cpl_base(cpl_base), .cpl_size(cpl_size), .cpl_head(cpl_head),
        .nic_mac(nic_mac), .nic_ip(nic_ip), .tick_req(tick_req), .blk_timeout(blk_timeout),
        .req_head(req_head), .cpl_tail(cpl_tail), .cpl_posted(cpl_posted), .cpl_status(cpl_status),
        .ev_rx_frame(ev_rx_frame), .ev_rx_bytes(ev_rx_bytes),
        .ev_drop_valid(ev_drop_valid), .ev_drop_reason(ev_drop_reason), .ev_accepted(ev_accepted),
        .ev_delivered_valid(ev_delivered_valid), .ev_delivered_bytes(ev_delivered_bytes),
        .ev_nb_returned(ev_nb_returned), .ev_ooo_held(ev_ooo_held),
        .ev_tx_frame(ev_tx_frame), .ev_tx_bytes(ev_tx_bytes),
        .rto_init(rto_init), .rto_min(rto_min), .rto_max(rto_max), .tx_retries(tx_retries),
        .half_open_max(half_open_max), .half_open(half_open), .accept_pool(accept_pool),
        .ev_accept(ev_accept), .ev_lookup(ev_lookup), .ev_lookup_cyc(ev_lookup_cyc), .ev_lookup_fwd(ev_lookup_fwd), .ev_dlv_chain(ev_dlv_chain), .ev_frm_chain(ev_frm_chain),
        .ev_tx_seg(ev_tx_seg), .ev_tx_seg_bytes(ev_tx_seg_bytes), .ev_tx_retrans(ev_tx_retrans),
        .ev_tx_rto(ev_tx_rto), .ev_tx_fast(ev_tx_fast), .ev_tx_probe(ev_tx_probe), .ev_tx_wupd(ev_tx_wupd), .ev_tx_dack(ev_tx_dack),
        .ev_tx_done(ev_tx_done), .ev_tx_done_count(ev_tx_done_count),
        .ev_blk_write(ev_blk_write), .ev_blk_read(ev_blk_read), .ev_blk_bytes(ev_blk_bytes),
        .ev_blk_timeout(ev_blk_timeout),
        .ev_anon_rx(ev_anon_rx), .ev_arp_reply(ev_arp_reply), .ev_timeout(ev_timeout),
        .ev_rx_done(ev_rx_done),
        .ev_tick(ev_tick),
        .ev_hold_rec(ev_hold_rec), .ev_released(ev_released),
        .ev_dev_bytes_valid(ev_dev_bytes_valid), .ev_dev_bytes(ev_dev_bytes),
        .ev_dev_wr_valid(ev_dev_wr_valid), .ev_dev_wr_bytes(ev_dev_wr_bytes),
        .host_wr_en(host_wr_en), .host_wr_val(host_wr_val), .host_buflets(host_buflets),
        .win_start(win_start), .win_start_addr(win_start_addr), .win_addr(win_addr),
        .win_busy(win_busy), .win_bad(win_bad), .win_data(win_data), .ev_win_read(ev_win_read),
        .free_buflets(free_count),
        .ev_fault_valid(fault_valid), .ev_fault_addr(fault_addr), .ev_fault_info(fault_info),
        .ev_fault_fatal(fault_fatal),
        .irq(irq)
    );

    // protection lookup ports (prot_table): 0 blk_dma, 1 toe_engine, 2 dma_guard read,
    // 3 dma_guard write
    localparam NLK = 4;
    wire [NLK*64-1:0] lk_addr;
    wire [NLK*32-1:0] lk_len;
    wire [NLK-1:0]    lk_write, lk_allowed, lk_valid;

    // ------------------------------------------------------------------ DMA read arbiter
    localparam NRD = 4;   // 0 req_fetch, 1 toe_engine, 2 blk_dma, 3 tx_data
    // reads in flight at the host port at most (split transactions: the arbiter and the guard
    // keep them in request order)
    localparam RD_OUTSTANDING = `BF_PARAM_DMA_RD_OUTSTANDING;
    wire [NRD-1:0]    rd_req_valid, rd_req_ready;
    wire [NRD*64-1:0] rd_req_addr;
    wire [NRD*16-1:0] rd_req_len;
    wire [DATA_WIDTH-1:0] rd_tdata;
    wire [KW-1:0]     rd_tkeep;
    wire [NRD-1:0]    rd_tvalid, rd_tready;
    wire              rd_tlast, rd_tuser;
    // arbiter <-> dma_guard
    wire                  g_rd_req_pending;
    wire                  g_rd_req_valid, g_rd_req_ready, g_rd_tvalid, g_rd_tready, g_rd_tlast, g_rd_tuser;
    wire [63:0]           g_rd_req_addr;
    wire [15:0]           g_rd_req_len;
    wire [7:0]            g_rd_req_id;
    wire [DATA_WIDTH-1:0] g_rd_tdata;
    wire [KW-1:0]         g_rd_tkeep;
    wire                  g_rd_refused;

    dma_rd_arb #(.N(NRD), .DATA_WIDTH(DATA_WIDTH), .OUTSTANDING(RD_OUTSTANDING)) u_rd_arb (
        .clk(clk), .rst(rst),
        .s_req_valid(rd_req_valid), .s_req_ready(rd_req_ready),
        .s_req_addr(rd_req_addr), .s_req_len(rd_req_len),
        .m_axis_rsp_tdata(rd_tdata), .m_axis_rsp_tkeep(rd_tkeep), .m_axis_rsp_tvalid(rd_tvalid),
        .m_axis_rsp_tready(rd_tready), .m_axis_rsp_tlast(rd_tlast), .m_axis_rsp_tuser(rd_tuser),
        .m_dma_rd_req_valid(g_rd_req_valid), .m_dma_rd_req_ready(g_rd_req_ready),
        .m_dma_rd_req_pending(g_rd_req_pending),
        .m_dma_rd_req_addr(g_rd_req_addr), .m_dma_rd_req_len(g_rd_req_len),
        .m_dma_rd_req_id(g_rd_req_id),
        .s_axis_dma_rd_tdata(g_rd_tdata), .s_axis_dma_rd_tkeep(g_rd_tkeep),
        .s_axis_dma_rd_tvalid(g_rd_tvalid), .s_axis_dma_rd_tready(g_rd_tready),
        .s_axis_dma_rd_tlast(g_rd_tlast), .s_axis_dma_rd_tuser(g_rd_tuser)
    );

    // ------------------------------------------------------------------ DMA write arbiter
    localparam NWR = 3;   // 0 toe_engine, 1 cpl_writer, 2 blk_dma
    // writes whose data is owed at most (split transactions: requests go ahead of the data)
    localparam WR_OUTSTANDING = `BF_PARAM_DMA_WR_OUTSTANDING;
    wire [NWR-1:0]            wr_req_valid, wr_req_ready;
    wire [NWR*64-1:0]         wr_req_addr;
    wire [NWR*16-1:0]         wr_req_len;
    wire [NWR*DATA_WIDTH-1:0] wr_tdata;
    wire [NWR*KW-1:0]         wr_tkeep;
    wire [NWR-1:0]            wr_tvalid, wr_tready, wr_tlast;
    // arbiter <-> dma_guard
    wire                  g_wr_req_pending;
    wire                  g_wr_req_valid, g_wr_req_ready, g_wr_tvalid, g_wr_tready, g_wr_tlast;
    wire [63:0]           g_wr_req_addr;
    wire [15:0]           g_wr_req_len;
    wire [7:0]            g_wr_req_id;
    wire [DATA_WIDTH-1:0] g_wr_tdata;
    wire [KW-1:0]         g_wr_tkeep;
    wire                  g_wr_refused;

    dma_wr_arb #(.N(NWR), .DATA_WIDTH(DATA_WIDTH), .OUTSTANDING(WR_OUTSTANDING)) u_wr_arb (
        .clk(clk), .rst(rst),
        .s_req_valid(wr_req_valid), .s_req_ready(wr_req_ready),
        .s_req_addr(wr_req_addr), .s_req_len(wr_req_len),
        .s_axis_tdata(wr_tdata), .s_axis_tkeep(wr_tkeep), .s_axis_tvalid(wr_tvalid),
        .s_axis_tready(wr_tready), .s_axis_tlast(wr_tlast),
        .m_dma_wr_req_valid(g_wr_req_valid), .m_dma_wr_req_ready(g_wr_req_ready),
        .m_dma_wr_req_pending(g_wr_req_pending),
        .m_dma_wr_req_addr(g_wr_req_addr), .m_dma_wr_req_len(g_wr_req_len),
        .m_dma_wr_req_id(g_wr_req_id),
        .m_axis_dma_wr_tdata(g_wr_tdata), .m_axis_dma_wr_tkeep(g_wr_tkeep),
        .m_axis_dma_wr_tvalid(g_wr_tvalid), .m_axis_dma_wr_tready(g_wr_tready),
        .m_axis_dma_wr_tlast(g_wr_tlast)
    );

    // ------------------------------------------------------------------ DMA guard (protection backstop)
    wire        grd_rd_fault, grd_wr_fault;
    wire [63:0] grd_rd_fault_addr, grd_wr_fault_addr;
    wire [7:0]  grd_rd_fault_id, grd_wr_fault_id;

    dma_guard #(.DATA_WIDTH(DATA_WIDTH), .OUTSTANDING(RD_OUTSTANDING),
                .WR_OUTSTANDING(WR_OUTSTANDING)) u_guard (
        .clk(clk), .rst(rst),
        .s_rd_req_valid(g_rd_req_valid), .s_rd_req_ready(g_rd_req_ready),
        .s_rd_req_addr(g_rd_req_addr), .s_rd_req_len(g_rd_req_len), .s_rd_req_id(g_rd_req_id),
        .m_axis_rd_tdata(g_rd_tdata), .m_axis_rd_tkeep(g_rd_tkeep), .m_axis_rd_tvalid(g_rd_tvalid),
        .m_axis_rd_tready(g_rd_tready), .m_axis_rd_tlast(g_rd_tlast), .m_axis_rd_tuser(g_rd_tuser),
        .rd_refused(g_rd_refused),
        .m_dma_rd_req_valid(m_dma_rd_req_valid), .m_dma_rd_req_ready(m_dma_rd_req_ready),
        .m_dma_rd_req_addr(m_dma_rd_req_addr), .m_dma_rd_req_len(m_dma_rd_req_len),
        .m_dma_rd_req_id(m_dma_rd_req_id),
        .s_axis_dma_rd_tdata(s_axis_dma_rd_tdata), .s_axis_dma_rd_tkeep(s_axis_dma_rd_tkeep),
        .s_axis_dma_rd_tvalid(s_axis_dma_rd_tvalid), .s_axis_dma_rd_tready(s_axis_dma_rd_tready),
        .s_axis_dma_rd_tlast(s_axis_dma_rd_tlast), .s_axis_dma_rd_tuser(s_axis_dma_rd_tuser),
        .s_wr_req_valid(g_wr_req_valid), .s_wr_req_ready(g_wr_req_ready),
        .s_wr_req_addr(g_wr_req_addr), .s_wr_req_len(g_wr_req_len), .s_wr_req_id(g_wr_req_id),
        .s_axis_wr_tdata(g_wr_tdata), .s_axis_wr_tkeep(g_wr_tkeep), .s_axis_wr_tvalid(g_wr_tvalid),
        .s_axis_wr_tready(g_wr_tready), .s_axis_wr_tlast(g_wr_tlast),
        .wr_refused(g_wr_refused),
        .m_dma_wr_req_valid(m_dma_wr_req_valid), .m_dma_wr_req_ready(m_dma_wr_req_ready),
        .m_dma_wr_req_addr(m_dma_wr_req_addr), .m_dma_wr_req_len(m_dma_wr_req_len),
        .m_dma_wr_req_id(m_dma_wr_req_id),
        .m_axis_dma_wr_tdata(m_axis_dma_wr_tdata), .m_axis_dma_wr_tkeep(m_axis_dma_wr_tkeep),
        .m_axis_dma_wr_tvalid(m_axis_dma_wr_tvalid), .m_axis_dma_wr_tready(m_axis_dma_wr_tready),
        .m_axis_dma_wr_tlast(m_axis_dma_wr_tlast),
        .rd_lk_addr(lk_addr[191:128]), .rd_lk_len(lk_len[95:64]), .rd_lk_deny(!lk_allowed[2]),
        .wr_lk_addr(lk_addr[255:192]), .wr_lk_len(lk_len[127:96]), .wr_lk_deny(!lk_allowed[3]),
        .ev_rd_fault(grd_rd_fault), .ev_rd_fault_addr(grd_rd_fault_addr), .ev_rd_fault_id(grd_rd_fault_id),
        .ev_wr_fault(grd_wr_fault), .ev_wr_fault_addr(grd_wr_fault_addr), .ev_wr_fault_id(grd_wr_fault_id)
    );
    assign lk_write[2] = 1'b0;
    assign lk_write[3] = 1'b1;
    // the guard's lookups ask while an arbiter holds an untaken grant (from registers: the
    // request's own valid depends on the other ports' answers)
    assign lk_valid[2] = g_rd_req_pending;
    assign lk_valid[3] = g_wr_req_pending;

    // ------------------------------------------------------------------ completion arbiter
    localparam NCPL = 3;  // 0 toe_engine, 1 blk_dma, 2 prot_table
    wire [NCPL-1:0]     cpl_src_valid, cpl_src_ready;
    wire [NCPL*256-1:0] cpl_src_data;
    wire                cpl_valid, cpl_ready;
    wire [255:0]        cpl_data;

    stream_arb #(.N(NCPL), .WIDTH(256)) u_cpl_arb (
        .clk(clk), .rst(rst),
        .s_valid(cpl_src_valid), .s_ready(cpl_src_ready), .s_data(cpl_src_data),
        .m_valid(cpl_valid), .m_ready(cpl_ready), .m_data(cpl_data)
    );

    cpl_writer #(.DATA_WIDTH(DATA_WIDTH)) u_cpl_writer (
        .clk(clk), .rst(rst),
        .cpl_base(cpl_base), .cpl_size(cpl_size), .cpl_head(cpl_head), .cpl_tail(cpl_tail),
        .stop(ring_stop), .wr_refused(g_wr_refused),
        .s_cpl_valid(cpl_valid), .s_cpl_ready(cpl_ready), .s_cpl_data(cpl_data),
        .m_dma_wr_req_valid(wr_req_valid[1]), .m_dma_wr_req_ready(wr_req_ready[1]),
        .m_dma_wr_req_addr(wr_req_addr[127:64]), .m_dma_wr_req_len(wr_req_len[31:16]),
        .m_axis_dma_wr_tdata(wr_tdata[2*DATA_WIDTH-1:DATA_WIDTH]),
        .m_axis_dma_wr_tkeep(wr_tkeep[2*KW-1:KW]),
        .m_axis_dma_wr_tvalid(wr_tvalid[1]), .m_axis_dma_wr_tready(wr_tready[1]),
        .m_axis_dma_wr_tlast(wr_tlast[1]),
        .cpl_posted(cpl_posted), .cpl_status(cpl_status)
    );

    // ------------------------------------------------------------------ request ring
    wire         req_valid, req_ready;
    wire [511:0] req_data;

    req_fetch #(.DATA_WIDTH(DATA_WIDTH)) u_req_fetch (
        .clk(clk), .rst(rst), .enable(ctrl_enable && !ring_stop),
        .req_base(req_base), .req_size(req_size), .req_tail(req_tail), .req_head(req_head),
        .m_dma_rd_req_valid(rd_req_valid[0]), .m_dma_rd_req_ready(rd_req_ready[0]),
        .m_dma_rd_req_addr(rd_req_addr[63:0]), .m_dma_rd_req_len(rd_req_len[15:0]),
        .s_axis_dma_rd_tdata(rd_tdata), .s_axis_dma_rd_tkeep(rd_tkeep),
        .s_axis_dma_rd_tvalid(rd_tvalid[0]), .s_axis_dma_rd_tready(rd_tready[0]),
        .s_axis_dma_rd_tlast(rd_tlast), .s_axis_dma_rd_tuser(rd_tuser),
        .rd_refused(g_rd_refused),
        .m_req_valid(req_valid), .m_req_ready(req_ready), .m_req_data(req_data)
    );

    // dispatch by opcode
    wire is_blk = (req_data[`BF_REQ_HDR_OPCODE_RANGE] == 8'(`BF_OP_BLK_WRITE)) ||
                  (req_data[`BF_REQ_HDR_OPCODE_RANGE] == 8'(`BF_OP_BLK_READ));
    wire is_region = (req_data[`BF_REQ_HDR_OPCODE_RANGE] == 8'(`BF_OP_REG_REGION)) ||
                     (req_data[`BF_REQ_HDR_OPCODE_RANGE] == 8'(`BF_OP_DEREG_REGION));
    wire toe_req_ready, blk_cmd_ready, prot_req_ready;
    assign req_ready = is_blk ? blk_cmd_ready : is_region ? prot_req_ready : toe_req_ready;

    // ------------------------------------------------------------------ protection table

    prot_table #(.NUM_REGIONS(NUM_REGIONS), .NPORTS(NLK)) u_prot (
        .clk(clk), .rst(rst), .prot_en(ctrl_prot_en),
        .s_req_valid(req_valid && is_region), .s_req_ready(prot_req_ready), .s_req_data(req_data),
        .m_cpl_valid(cpl_src_valid[2]), .m_cpl_ready(cpl_src_ready[2]),
        .m_cpl_data(cpl_src_data[767:512]),
        .lk_addr(lk_addr), .lk_len(lk_len), .lk_write(lk_write), .lk_valid(lk_valid),
        .lk_allowed(lk_allowed)
    );

    wire        blk_fault, blk_fault_write, toe_fault, toe_fault_write;
    wire [63:0] blk_fault_addr, toe_fault_addr;
    // requester ids in PROT_FAULT_INFO bits 15:8: the arbiter port (blk_dma: read 2, write 2;
    // toe_engine: read 1, write 0)
    wire [7:0] toe_rid = toe_fault_write ? 8'd0 : 8'd1;
    // dma_guard: the arbiter client index; a ring access (request fetch read 0, completion
    // write 1) is fatal
    assign fault_valid = {grd_wr_fault, grd_rd_fault, toe_fault, blk_fault};
    assign fault_fatal = {grd_wr_fault && (grd_wr_fault_id == 8'd1),
                          grd_rd_fault && (grd_rd_fault_id == 8'd0), 2'b00};
    assign fault_addr  = {grd_wr_fault_addr, grd_rd_fault_addr, toe_fault_addr, blk_fault_addr};
    assign fault_info  = {grd_wr_fault_id, 8'd1, grd_rd_fault_id, 8'd0,
                          toe_rid, 7'd0, toe_fault_write, 8'd2, 7'd0, blk_fault_write};

    // ------------------------------------------------------------------ block engine
    // buflet memory for DEVMEM elements (buflet_pool second read port, exposed bits)
    wire                  bram_rd_en;
    wire [BW_ADDR-1:0]    bram_rd_addr;
    wire [DATA_WIDTH-1:0] bram_rd_data;
    wire [15:0]           exp_rd_idx;
    wire                  exp_rd;
    // DEVMEM block reads into buflet memory (buflet_pool's shared write port)
    wire                  bram_wr_en, bram_wr_ready;
    wire [BW_ADDR-1:0]    bram_wr_addr;
    wire [DATA_WIDTH-1:0] bram_wr_data;
    // DEVMEM posts: tx_data reads buflet memory through the second read port's spare cycles
    wire                  txb_rd_en, txb_rd_ready;
    wire [BW_ADDR-1:0]    txb_rd_addr;
    wire [DATA_WIDTH-1:0] txb_rd_data;
    // the CPU's window reads buflet memory through the second read port's remaining cycles
    wire                  win_rd_en, win_rd_ready;
    wire [BW_ADDR-1:0]    win_rd_addr;
    wire [DATA_WIDTH-1:0] win_rd_data;
    wire [15:0]           win_exp_idx;
    wire                  win_exp;

    buf_window #(
        .DATA_WIDTH(DATA_WIDTH), .BUFLET_BYTES(BUFLET_BYTES), .NUM_BUFLETS(NUM_BUFLETS)
    ) u_window (
        .clk(clk), .rst(rst),
        .start(win_start), .start_addr(win_start_addr),
        .win_addr(win_addr), .busy(win_busy), .bad(win_bad), .win_data(win_data),
        .ev_read(ev_win_read),
        .rd_en(win_rd_en), .rd_ready(win_rd_ready), .rd_addr(win_rd_addr), .rd_data(win_rd_data),
        .exp_idx(win_exp_idx), .exp(win_exp)
    );

    blk_dma #(
        .DATA_WIDTH(DATA_WIDTH), .BUFLET_BYTES(BUFLET_BYTES), .NUM_BUFLETS(NUM_BUFLETS)
    ) u_blk_dma (
        .clk(clk), .rst(rst),
        .bram_rd_en(bram_rd_en), .bram_rd_addr(bram_rd_addr), .bram_rd_data(bram_rd_data),
        .exp_rd_idx(exp_rd_idx), .exp_rd(exp_rd),
        .bram_wr_en(bram_wr_en), .bram_wr_ready(bram_wr_ready), .bram_wr_addr(bram_wr_addr),
        .bram_wr_data(bram_wr_data), .host_buflets(host_buflets),
        .ev_dev_bytes_valid(ev_dev_bytes_valid), .ev_dev_bytes(ev_dev_bytes),
        .ev_dev_wr_valid(ev_dev_wr_valid), .ev_dev_wr_bytes(ev_dev_wr_bytes),
        .s_cmd_valid(req_valid && is_blk), .s_cmd_ready(blk_cmd_ready), .s_cmd_data(req_data),
        .prot_addr(lk_addr[63:0]), .prot_len(lk_len[31:0]), .prot_write(lk_write[0]),
        .prot_ask(lk_valid[0]),
        .prot_deny(!lk_allowed[0]),
        .ev_fault(blk_fault), .ev_fault_addr(blk_fault_addr), .ev_fault_write(blk_fault_write),
        .m_dma_rd_req_valid(rd_req_valid[2]), .m_dma_rd_req_ready(rd_req_ready[2]),
        .m_dma_rd_req_addr(rd_req_addr[191:128]), .m_dma_rd_req_len(rd_req_len[47:32]),
        .s_axis_dma_rd_tdata(rd_tdata), .s_axis_dma_rd_tkeep(rd_tkeep),
        .s_axis_dma_rd_tvalid(rd_tvalid[2]), .s_axis_dma_rd_tready(rd_tready[2]),
        .s_axis_dma_rd_tlast(rd_tlast), .s_axis_dma_rd_tuser(rd_tuser),
        .m_blk_req_valid(m_blk_req_valid), .m_blk_req_ready(m_blk_req_ready),
        .m_blk_req_lba(m_blk_req_lba), .m_blk_req_len(m_blk_req_len),
        .m_blk_req_write(m_blk_req_write),
        .m_axis_blk_wr_tdata(m_axis_blk_wr_tdata), .m_axis_blk_wr_tkeep(m_axis_blk_wr_tkeep),
        .m_axis_blk_wr_tvalid(m_axis_blk_wr_tvalid), .m_axis_blk_wr_tready(m_axis_blk_wr_tready),
        .m_axis_blk_wr_tlast(m_axis_blk_wr_tlast),
        .s_blk_resp_valid(s_blk_resp_valid), .s_blk_resp_ready(s_blk_resp_ready),
        .s_blk_resp_status(s_blk_resp_status),
        .s_axis_blk_rd_tdata(s_axis_blk_rd_tdata), .s_axis_blk_rd_tkeep(s_axis_blk_rd_tkeep),
        .s_axis_blk_rd_tvalid(s_axis_blk_rd_tvalid), .s_axis_blk_rd_tready(s_axis_blk_rd_tready),
        .s_axis_blk_rd_tlast(s_axis_blk_rd_tlast),
        .m_dma_wr_req_valid(wr_req_valid[2]), .m_dma_wr_req_ready(wr_req_ready[2]),
        .m_dma_wr_req_addr(wr_req_addr[191:128]), .m_dma_wr_req_len(wr_req_len[47:32]),
        .m_axis_dma_wr_tdata(wr_tdata[3*DATA_WIDTH-1:2*DATA_WIDTH]),
        .m_axis_dma_wr_tkeep(wr_tkeep[3*KW-1:2*KW]),
        .m_axis_dma_wr_tvalid(wr_tvalid[2]), .m_axis_dma_wr_tready(wr_tready[2]),
        .m_axis_dma_wr_tlast(wr_tlast[2]),
        .m_cpl_valid(cpl_src_valid[1]), .m_cpl_ready(cpl_src_ready[1]),
        .m_cpl_data(cpl_src_data[511:256]),
        .ev_blk_write(ev_blk_write), .ev_blk_read(ev_blk_read), .ev_blk_bytes(ev_blk_bytes),
        .blk_timeout(blk_timeout), .ev_blk_timeout(ev_blk_timeout)
    );

    // ------------------------------------------------------------------ receive path
    wire               alloc_req, alloc_valid;
    wire [15:0]        alloc_idx;
    wire               link_wr_en;
    wire [15:0]        link_wr_idx, link_wr_next, link_rd_idx, link_rd_next;
    wire               ram_wr_en, ram_rd_en;
    wire [BW_ADDR-1:0] ram_wr_addr, ram_rd_addr;
    wire [DATA_WIDTH-1:0] ram_wr_data, ram_rd_data;
    wire               free_valid, free_ready;
    wire [15:0]        free_head, free_tail, free_cnt;
    wire               expose_en;
    wire [15:0]        expose_idx;

    wire        meta_valid, meta_ready;
    wire [3:0]  meta_reason;
    wire [15:0] meta_len;
    wire [11:0] meta_vlan;
    wire [31:0] meta_src_ip, meta_dst_ip, meta_seq;
    wire [15:0] meta_src_port, meta_dst_port;
    wire [7:0]  meta_flags;
    wire [31:0] meta_ack;
    wire        meta_ws_valid;
    wire [3:0]  meta_ws;
    wire [15:0] meta_window, meta_mss;
    wire [15:0] meta_pay_off, meta_pay_len, meta_head, meta_tail, meta_count;
    wire        meta_udp, meta_arp_req;
    wire [47:0] meta_arp_sha, meta_src_mac;
    // the records as toe_engine takes them, from the FIFO behind the parser
    wire        mq_valid, mq_ready;
    wire [3:0]  mq_reason;
    wire [15:0] mq_len;
    wire [11:0] mq_vlan;
    wire [31:0] mq_src_ip, mq_dst_ip, mq_seq;
    wire [15:0] mq_src_port, mq_dst_port;
    wire [7:0]  mq_flags;
    wire [31:0] mq_ack;
    wire        mq_ws_valid;
    wire [3:0]  mq_ws;
    wire [15:0] mq_window, mq_mss;
    wire [15:0] mq_pay_off, mq_pay_len, mq_head, mq_tail, mq_count;
    wire        mq_udp, mq_arp_req;
    wire [47:0] mq_arp_sha, mq_src_mac;

    // Frame metadata waits in a FIFO of RX_META_FIFO records between rx_parser and toe_engine
    // (docs/architecture.md): the engine may fall that many frames behind the wire (a page-list
    // read behind the block engine's reads, a request) before the parser holds the MAC.
    localparam META_W = 4 + 16 + 12 + 32 + 32 + 16 + 16 + 32 + 8 + 32 + 1 + 4 + 16 + 16 + 16 + 16 +
                        1 + 1 + 48 + 48 + 16 + 16 + 16;
    wire [META_W-1:0] meta_rec = {meta_reason, meta_len, meta_vlan, meta_src_ip, meta_dst_ip,
                                  meta_src_port, meta_dst_port, meta_seq, meta_flags, meta_ack,
                                  meta_ws_valid, meta_ws, meta_window, meta_mss, meta_pay_off,
                                  meta_pay_len, meta_udp, meta_arp_req, meta_arp_sha, meta_src_mac,
                                  meta_head, meta_tail, meta_count};
    wire [META_W-1:0] mq_rec;
    assign {mq_reason, mq_len, mq_vlan, mq_src_ip, mq_dst_ip, mq_src_port, mq_dst_port, mq_seq,
            mq_flags, mq_ack, mq_ws_valid, mq_ws, mq_window, mq_mss, mq_pay_off, mq_pay_len, mq_udp,
            mq_arp_req, mq_arp_sha, mq_src_mac, mq_head, mq_tail, mq_count} = mq_rec;
    sync_fifo #(.WIDTH(META_W), .DEPTH(`BF_PARAM_RX_META_FIFO)) u_meta_fifo (
        .clk(clk), .rst(rst),
        .s_valid(meta_valid), .s_ready(meta_ready), .s_data(meta_rec),
        .m_valid(mq_valid), .m_ready(mq_ready), .m_data(mq_rec)
    );

    wire         tx_cmd_valid, tx_cmd_ready;
    wire [383:0] tx_cmd_data;

    assign ev_rx_frame = meta_valid && meta_ready;
    assign ev_rx_bytes = meta_len;

    buflet_pool #(
        .DATA_WIDTH(DATA_WIDTH), .BUFLET_BYTES(BUFLET_BYTES), .NUM_BUFLETS(NUM_BUFLETS)
    ) u_pool (
        .clk(clk), .rst(rst),
        .alloc_req(alloc_req), .alloc_valid(alloc_valid), .alloc_idx(alloc_idx),
        .s_free_valid(free_valid), .s_free_ready(free_ready), .s_free_head(free_head),
        .s_free_tail(free_tail), .s_free_count(free_cnt),
        .link_wr_en(link_wr_en), .link_wr_idx(link_wr_idx), .link_wr_next(link_wr_next),
        .link_rd_idx(link_rd_idx), .link_rd_next(link_rd_next),
        .ram_wr_en(ram_wr_en), .ram_wr_addr(ram_wr_addr), .ram_wr_data(ram_wr_data),
        .ram_rd_en(ram_rd_en), .ram_rd_addr(ram_rd_addr), .ram_rd_data(ram_rd_data),
        .ram2_rd_en(bram_rd_en), .ram2_rd_addr(bram_rd_addr), .ram2_rd_data(bram_rd_data),
        .ram2_wr_en(bram_wr_en), .ram2_wr_ready(bram_wr_ready), .ram2_wr_addr(bram_wr_addr),
        .ram2_wr_data(bram_wr_data),
        .ram3_rd_en(txb_rd_en), .ram3_rd_ready(txb_rd_ready), .ram3_rd_addr(txb_rd_addr),
        .ram3_rd_data(txb_rd_data),
        .ram4_rd_en(win_rd_en), .ram4_rd_ready(win_rd_ready), .ram4_rd_addr(win_rd_addr),
        .ram4_rd_data(win_rd_data),
        .host_wr_en(host_wr_en), .host_wr_val(host_wr_val), .host_buflets(host_buflets),
        .expose_en(expose_en), .expose_idx(expose_idx),
        .exp_rd_idx(exp_rd_idx), .exp_rd(exp_rd),
        .exp2_rd_idx(win_exp_idx), .exp2_rd(win_exp),
        .free_count(free_count)
    );

    rx_parser #(
        .DATA_WIDTH(DATA_WIDTH), .BUFLET_BYTES(BUFLET_BYTES), .NUM_BUFLETS(NUM_BUFLETS)
    ) u_rx_parser (
        .clk(clk), .rst(rst), .enable(ctrl_enable),
        .s_axis_rx_tdata(s_axis_rx_tdata), .s_axis_rx_tkeep(s_axis_rx_tkeep),
        .s_axis_rx_tvalid(s_axis_rx_tvalid), .s_axis_rx_tready(s_axis_rx_tready),
        .s_axis_rx_tlast(s_axis_rx_tlast),
        .alloc_req(alloc_req), .alloc_valid(alloc_valid), .alloc_idx(alloc_idx),
        .link_wr_en(link_wr_en), .link_wr_idx(link_wr_idx), .link_wr_next(link_wr_next),
        .ram_wr_en(ram_wr_en), .ram_wr_addr(ram_wr_addr), .ram_wr_data(ram_wr_data),
        .m_meta_valid(meta_valid), .m_meta_ready(meta_ready), .m_meta_reason(meta_reason),
        .m_meta_len(meta_len), .m_meta_vlan(meta_vlan),
        .m_meta_src_ip(meta_src_ip), .m_meta_dst_ip(meta_dst_ip),
        .m_meta_src_port(meta_src_port), .m_meta_dst_port(meta_dst_port),
        .m_meta_seq(meta_seq), .m_meta_flags(meta_flags),
        .m_meta_ack(meta_ack), .m_meta_ws_valid(meta_ws_valid), .m_meta_ws(meta_ws),
        .m_meta_window(meta_window), .m_meta_mss(meta_mss),
        .m_meta_pay_off(meta_pay_off), .m_meta_pay_len(meta_pay_len),
        .m_meta_udp(meta_udp), .m_meta_arp_req(meta_arp_req), .m_meta_arp_sha(meta_arp_sha),
        .m_meta_src_mac(meta_src_mac),
        .m_meta_head(meta_head), .m_meta_tail(meta_tail), .m_meta_count(meta_count)
    );

    toe_engine #(
        .DATA_WIDTH(DATA_WIDTH), .BUFLET_BYTES(BUFLET_BYTES), .NUM_BUFLETS(NUM_BUFLETS),
        .NUM_SOCKETS(NUM_SOCKETS), .HASH_BUCKETS(HASH_BUCKETS), .NUM_NBS(NUM_NBS),
        .NUM_ANON(NUM_ANON), .NUM_POSTS(NUM_POSTS), .NUM_LISTEN(NUM_LISTEN)
    ) u_toe (
        .clk(clk), .rst(rst),
        .s_req_valid(req_valid && !is_blk && !is_region), .s_req_ready(toe_req_ready), .s_req_data(req_data),
        .s_meta_valid(mq_valid), .s_meta_ready(mq_ready), .s_meta_reason(mq_reason),
        .s_meta_len(mq_len), .s_meta_vlan(mq_vlan),
        .s_meta_src_ip(mq_src_ip), .s_meta_dst_ip(mq_dst_ip),
        .s_meta_src_port(mq_src_port), .s_meta_dst_port(mq_dst_port),
        .s_meta_seq(mq_seq), .s_meta_flags(mq_flags),
        .s_meta_ack(mq_ack), .s_meta_ws_valid(mq_ws_valid), .s_meta_ws(mq_ws),
        .s_meta_window(mq_window), .s_meta_mss(mq_mss),
        .s_meta_pay_off(mq_pay_off), .s_meta_pay_len(mq_pay_len),
        .s_meta_udp(mq_udp), .s_meta_arp_req(mq_arp_req), .s_meta_arp_sha(mq_arp_sha),
        .s_meta_src_mac(mq_src_mac),
        .half_open_max(half_open_max), .half_open(half_open), .accept_pool(accept_pool),
        .ev_accept(ev_accept), .ev_lookup(ev_lookup), .ev_lookup_cyc(ev_lookup_cyc), .ev_lookup_fwd(ev_lookup_fwd), .ev_dlv_chain(ev_dlv_chain), .ev_frm_chain(ev_frm_chain),
        .s_meta_head(mq_head), .s_meta_tail(mq_tail), .s_meta_count(mq_count),
        .m_free_valid(free_valid), .m_free_ready(free_ready), .m_free_head(free_head),
        .m_free_tail(free_tail), .m_free_count(free_cnt),
        .pool_free(free_count),
        .link_rd_idx(link_rd_idx), .link_rd_next(link_rd_next),
        .ram_rd_en(ram_rd_en), .ram_rd_addr(ram_rd_addr), .ram_rd_data(ram_rd_data),
        .m_dma_rd_req_valid(rd_req_valid[1]), .m_dma_rd_req_ready(rd_req_ready[1]),
        .m_dma_rd_req_addr(rd_req_addr[127:64]), .m_dma_rd_req_len(rd_req_len[31:16]),
        .s_axis_dma_rd_tdata(rd_tdata), .s_axis_dma_rd_tkeep(rd_tkeep),
        .s_axis_dma_rd_tvalid(rd_tvalid[1]), .s_axis_dma_rd_tready(rd_tready[1]),
        .s_axis_dma_rd_tlast(rd_tlast), .s_axis_dma_rd_tuser(rd_tuser),
        .m_dma_wr_req_valid(wr_req_valid[0]), .m_dma_wr_req_ready(wr_req_ready[0]),
        .m_dma_wr_req_addr(wr_req_addr[63:0]), .m_dma_wr_req_len(wr_req_len[15:0]),
        .m_axis_dma_wr_tdata(wr_tdata[DATA_WIDTH-1:0]), .m_axis_dma_wr_tkeep(wr_tkeep[KW-1:0]),
        .m_axis_dma_wr_tvalid(wr_tvalid[0]), .m_axis_dma_wr_tready(wr_tready[0]),
        .m_axis_dma_wr_tlast(wr_tlast[0]),
        .m_cpl_valid(cpl_src_valid[0]), .m_cpl_ready(cpl_src_ready[0]),
        .m_cpl_data(cpl_src_data[255:0]),
        .ev_drop_valid(ev_drop_valid), .ev_drop_reason(ev_drop_reason), .ev_accepted(ev_accepted),
        .ev_delivered_valid(ev_delivered_valid), .ev_delivered_bytes(ev_delivered_bytes),
        .ev_nb_returned(ev_nb_returned), .ev_ooo_held(ev_ooo_held),
        .nic_mac(nic_mac), .nic_ip(nic_ip), .tick_req(tick_req),
        .ev_anon_rx(ev_anon_rx), .ev_arp_reply(ev_arp_reply), .ev_timeout(ev_timeout),
        .ev_rx_done(ev_rx_done),
        .ev_tick(ev_tick),
        .prot_addr(lk_addr[127:64]), .prot_len(lk_len[63:32]), .prot_write(lk_write[1]),
        .prot_ask(lk_valid[1]),
        .prot_deny(!lk_allowed[1]),
        .ev_fault(toe_fault), .ev_fault_addr(toe_fault_addr), .ev_fault_write(toe_fault_write),
        .expose_en(expose_en), .expose_idx(expose_idx),
        .ev_hold_rec(ev_hold_rec), .ev_released(ev_released),
        .m_tx_valid(tx_cmd_valid), .m_tx_ready(tx_cmd_ready), .m_tx_data(tx_cmd_data),
        .rto_init(rto_init), .rto_min(rto_min), .rto_max(rto_max), .tx_retries(tx_retries),
        .m_pc_valid(pc_valid), .m_pc_ready(pc_ready), .m_pc_hmd(pc_hmd), .m_pc_at(pc_at),
        .m_pc_len(pc_len), .m_pc_last(pc_last), .m_pc_psh(pc_psh), .m_pc_dev(pc_dev),
        .txd_idle(txd_idle),
        .txd_inval(txd_inval),
        .ev_tx_seg(ev_tx_seg), .ev_tx_seg_bytes(ev_tx_seg_bytes), .ev_tx_retrans(ev_tx_retrans),
        .ev_tx_rto(ev_tx_rto), .ev_tx_fast(ev_tx_fast), .ev_tx_probe(ev_tx_probe), .ev_tx_wupd(ev_tx_wupd), .ev_tx_dack(ev_tx_dack),
        .ev_tx_done(ev_tx_done), .ev_tx_done_count(ev_tx_done_count)
    );

    // ------------------------------------------------------------------ transmit path
    // tx_data fetches each data segment's payload (DMA read client 3) and keeps command order;
    // tx_builder builds every frame
    wire                  pc_valid, pc_ready, pc_last, pc_psh, pc_dev, txd_idle, txd_inval;
    /* verilator lint_off UNUSEDSIGNAL */
    wire                  txd_fault;   // a refused payload read: dma_guard reports and counts it
    /* verilator lint_on UNUSEDSIGNAL */
    wire [63:0]           pc_hmd;
    wire [31:0]           pc_at;
    wire [15:0]           pc_len;
    wire                  tb_cmd_valid, tb_cmd_ready;
    wire [383:0]          tb_cmd_data;
    wire [DATA_WIDTH-1:0] pay_tdata;
    wire [KW-1:0]         pay_tkeep;
    wire                  pay_tvalid, pay_tready, pay_tlast;
    tx_data #(.DATA_WIDTH(DATA_WIDTH), .BUFLET_BYTES(BUFLET_BYTES), .NUM_BUFLETS(NUM_BUFLETS)) u_tx_data (
        .clk(clk), .rst(rst),
        .s_cmd_valid(tx_cmd_valid), .s_cmd_ready(tx_cmd_ready), .s_cmd_data(tx_cmd_data),
        .s_pc_valid(pc_valid), .s_pc_ready(pc_ready), .s_pc_hmd(pc_hmd), .s_pc_at(pc_at),
        .s_pc_len(pc_len), .s_pc_last(pc_last), .s_pc_psh(pc_psh), .s_pc_dev(pc_dev),
        .inval(txd_inval),
        .m_bram_rd_en(txb_rd_en), .bram_rd_ready(txb_rd_ready), .m_bram_rd_addr(txb_rd_addr),
        .bram_rd_data(txb_rd_data), .host_buflets(host_buflets),
        .m_dma_rd_req_valid(rd_req_valid[3]), .m_dma_rd_req_ready(rd_req_ready[3]),
        .m_dma_rd_req_addr(rd_req_addr[255:192]), .m_dma_rd_req_len(rd_req_len[63:48]),
        .s_axis_dma_rd_tdata(rd_tdata), .s_axis_dma_rd_tkeep(rd_tkeep),
        .s_axis_dma_rd_tvalid(rd_tvalid[3]), .s_axis_dma_rd_tready(rd_tready[3]),
        .s_axis_dma_rd_tlast(rd_tlast), .s_axis_dma_rd_tuser(rd_tuser),
        .m_cmd_valid(tb_cmd_valid), .m_cmd_ready(tb_cmd_ready), .m_cmd_data(tb_cmd_data),
        .m_axis_pay_tdata(pay_tdata), .m_axis_pay_tkeep(pay_tkeep), .m_axis_pay_tvalid(pay_tvalid),
        .m_axis_pay_tready(pay_tready), .m_axis_pay_tlast(pay_tlast),
        .ev_pay_fault(txd_fault), .idle(txd_idle)
    );
    tx_builder #(.DATA_WIDTH(DATA_WIDTH)) u_tx_builder (
        .clk(clk), .rst(rst),
        .s_cmd_valid(tb_cmd_valid), .s_cmd_ready(tb_cmd_ready), .s_cmd_data(tb_cmd_data),
        .s_axis_pay_tdata(pay_tdata), .s_axis_pay_tkeep(pay_tkeep), .s_axis_pay_tvalid(pay_tvalid),
        .s_axis_pay_tready(pay_tready), .s_axis_pay_tlast(pay_tlast),
        .m_axis_tx_tdata(m_axis_tx_tdata), .m_axis_tx_tkeep(m_axis_tx_tkeep),
        .m_axis_tx_tvalid(m_axis_tx_tvalid), .m_axis_tx_tready(m_axis_tx_tready),
        .m_axis_tx_tlast(m_axis_tx_tlast),
        .ev_tx_frame(ev_tx_frame), .ev_tx_bytes(ev_tx_bytes)
    );
endmodule

`resetall
