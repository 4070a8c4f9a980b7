// Register block: ID/build parameters, control, rings, IRQ, transmit policy and counters
// (docs/regmap.md).
// One access per handshake (s_reg_ready is always 1); a read returns m_reg_rvalid/m_reg_rdata
// one cycle after its handshake. Counters are 32-bit and wrap.
//
// ARP responder and timer (docs/rx-paths.md, decisions 4 and 8):
//  * nic_mac = {NIC_MAC_HI[15:0], NIC_MAC_LO} (wire byte k in [8k+7:8k]); NIC_MAC_HI keeps
//    only bits 15:0. nic_ip = NIC_IP.
//  * tick_req is a one-cycle pulse: in the cycle of a TIMER_KICK write (combinational from
//    the register bus; TIMER_KICK reads back the last value written), and every TIMER_PERIOD
//    cycles. A write of TIMER_PERIOD = P in cycle w restarts the count: the periodic pulses
//    come in cycles w + P, w + 2P, ... (so the engine's pending flag, set at the edge after a
//    pulse, rises one period after the register itself changes, as in the model); P = 0 stops
//    them. Ticks run whether or not CTRL.ENABLE is set. Merging requests into one pending
//    tick is toe_engine's business.
//
// Protection table (seed 004, docs/protection.md):
//  * NUM_REGIONS reads back the build parameter; ctrl_prot_en = CTRL.PROT_EN (bit 1).
//  * Fault events come on NFAULT ports (ev_fault_valid[i], ev_fault_addr[i*64 +: 64],
//    ev_fault_info[i*16 +: 16] = PROT_FAULT_INFO {bits 15:8 requester id, bit 0 write},
//    ev_fault_fatal[i]). Each valid port counts one CNT_PROT_FAULTS and sets IRQ_STATUS.FAULT
//    (bit 1; it wins over a simultaneous write-1-to-clear); PROT_FAULT_ADDR/INFO take the
//    highest-numbered valid port of the cycle. A fatal one (a ring access) sets STATUS.FAULT
//    (bit 2) and ring_stop, which stays set until a CTRL write with ENABLE = 0.
//
// p2p counters (docs/p2p.md): ev_hold_rec counts one CNT_HOLD_RECORDS, ev_released one
// CNT_BUF_RELEASED, ev_dev_bytes_valid adds ev_dev_bytes to CNT_BLK_DEV_BYTES,
// ev_dev_wr_valid adds ev_dev_wr_bytes to CNT_BLK_DEV_WR_BYTES (p2p reads). HOST_BUFLETS is
// buflet_pool's: a write pulses host_wr_en with host_wr_val (the pool decides whether it takes
// it), a read returns host_buflets.
//
// The CPU's window (docs/p2p.md "The CPU's window"; buf_window holds its state): a BUF_WIN_ADDR
// write pulses win_start with win_start_addr = the value written (buf_window ignores it while
// busy); reads return win_addr (BUF_WIN_ADDR), {30'd0, win_bad, win_busy} (BUF_WIN_STATUS) and
// win_data[32k +: 32] (BUF_WIN_DATAk, k = 0..WIN_BYTES/4-1); ev_win_read counts one
// CNT_BUF_WIN_READS.
//
// Block device timeout (docs/storage.md): blk_timeout = BLK_TIMEOUT (reset value
// DEF_BLK_TIMEOUT); ev_blk_timeout counts one CNT_BLK_TIMEOUTS.
//
// Send side (docs/tcp-transmit.md):
//  * RTO_INIT, RTO_MIN, RTO_MAX, TX_RETRIES are 32-bit read/write registers (reset values
//    DEF_RTO_INIT, DEF_RTO_MIN, DEF_RTO_MAX, DEF_TX_RETRIES), exported as rto_init, rto_min,
//    rto_max, tx_retries. NUM_POSTS reads back the build parameter NUM_POSTS.
//  * ev_tx_seg counts one CNT_TX_SEGS and adds ev_tx_seg_bytes to CNT_TX_DATA_BYTES;
//    ev_tx_retrans, ev_tx_rto, ev_tx_fast, ev_tx_probe, ev_tx_wupd, ev_tx_dack count one
//    CNT_TX_RETRANS, CNT_TX_RTO, CNT_TX_FAST_RETRANS, CNT_TX_PROBES, CNT_TX_WND_UPDATES,
//    CNT_TX_DELAYED_ACKS; ev_tx_done adds ev_tx_done_count (posts completed)
//    to CNT_TX_DONE. ev_tx_frame/ev_tx_bytes (every transmitted frame, payload included, so
//    16 bits) count CNT_TX_FRAMES and CNT_TX_BYTES. Drop reason BAD_ACK (15) has its counter
//    in the drop-reason array like every other reason.
//
// Listening sockets (docs/tcp-receive.md): NUM_LISTEN reads back the build parameter;
// HALF_OPEN_MAX is read/write (reset DEF_HALF_OPEN_MAX), exported as half_open_max; HALF_OPEN
// and ACCEPT_POOL read toe_engine's counts; ev_accept counts one CNT_ACCEPTS, ev_lookup one
// CNT_LOOKUPS, ev_lookup_cyc one CNT_LOOKUP_CYCLES, ev_lookup_fwd one CNT_LOOKUP_FWD,
// ev_dlv_chain one CNT_DLV_CHAINED, ev_frm_chain one CNT_FRM_CHAINED.
// ev_drop_reason is 5 bits: LISTEN_FULL (16)
// has its counter at 0x240 like every other reason.

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module reg_block #(
    parameter DATA_WIDTH   = 64,
    parameter BUFLET_BYTES = 2048,
    parameter NUM_BUFLETS  = 256,
    parameter NUM_SOCKETS  = 64,
    parameter HASH_BUCKETS = 256,
    parameter NUM_NBS      = 64,
    parameter NUM_ANON     = 16,
    parameter NUM_POSTS    = `BF_PARAM_DEF_NUM_POSTS,
    parameter CLOCK_MHZ    = 250,
    parameter NUM_REGIONS  = `BF_PARAM_DEF_NUM_REGIONS,
    parameter NFAULT       = 4,
    parameter NUM_LISTEN   = `BF_PARAM_DEF_NUM_LISTEN
) (
    input  wire        clk,
    input  wire        rst,
    // register bus
    input  wire        s_reg_valid,
    output wire        s_reg_ready,
    input  wire        s_reg_write,
    input  wire [11:0] s_reg_addr,
    input  wire [31:0] s_reg_wdata,
    output reg         m_reg_rvalid,
    output reg  [31:0] m_reg_rdata,
    // configuration outputs
    output wire        ctrl_enable,
    output wire        ctrl_prot_en,  // CTRL.PROT_EN
    output wire        ring_stop,     // STATUS.FAULT: stop fetching requests, posting completions
    output wire [63:0] req_base,
    output wire [31:0] req_size,
    output wire [31:0] req_tail,
    output wire [63:0] cpl_base,
    output wire [31:0] cpl_size,
    output wire [31:0] cpl_head,
    output wire [47:0] nic_mac,       // {NIC_MAC_HI[15:0], NIC_MAC_LO}: wire byte k in [8k+7:8k]
    output wire [31:0] nic_ip,        // NIC_IP; 0 = ARP responder off
    output wire        tick_req,      // one-cycle pulse: TIMER_PERIOD elapsed or TIMER_KICK written
    output wire [31:0] blk_timeout,   // BLK_TIMEOUT: cycles blk_dma waits for the block device
    output wire [31:0] rto_init,      // RTO_INIT: RTO before any RTT sample, timer ticks
    output wire [31:0] rto_min,       // RTO_MIN: lower bound of the RTO, timer ticks
    output wire [31:0] rto_max,       // RTO_MAX: upper bound of the RTO and its backoff, ticks
    output wire [31:0] tx_retries,    // TX_RETRIES: timeouts in a row before the reset
    output wire [31:0] half_open_max, // HALF_OPEN_MAX: most accepted sockets in SYN_RCVD at once
    input  wire [31:0] half_open,     // HALF_OPEN (toe_engine)
    input  wire [31:0] accept_pool,   // ACCEPT_POOL (toe_engine)
    input  wire        ev_accept,     // an ACCEPT with status OK
    input  wire        ev_lookup,     // a frame's socket lookup
    input  wire        ev_lookup_cyc, // a cycle of it
    input  wire        ev_lookup_fwd, // a lookup answered by forwarding (no walk)
    input  wire        ev_dlv_chain,  // a delivery step chained to its frame
    input  wire        ev_frm_chain,  // a frame chained to a delivery step
    // state inputs
    input  wire [31:0] req_head,
    input  wire [31:0] cpl_tail,
    input  wire        cpl_posted,
    input  wire [7:0]  cpl_status,
    // counter events
    input  wire        ev_rx_frame,
    input  wire [15:0] ev_rx_bytes,
    input  wire        ev_drop_valid,
    input  wire [4:0]  ev_drop_reason,
    input  wire        ev_accepted,
    input  wire        ev_delivered_valid,
    input  wire [15:0] ev_delivered_bytes,
    input  wire        ev_nb_returned,
    input  wire        ev_ooo_held,
    input  wire        ev_tx_frame,
    input  wire [15:0] ev_tx_bytes,         // frame length (payload included)
    input  wire        ev_tx_seg,           // a data segment sent (first time or again)
    input  wire [15:0] ev_tx_seg_bytes,     // its payload bytes
    input  wire        ev_tx_retrans,       // a segment sent again
    input  wire        ev_tx_rto,           // a retransmission timer expiry
    input  wire        ev_tx_fast,          // a fast retransmit entered
    input  wire        ev_tx_probe,         // a zero-window probe sent
    input  wire        ev_tx_wupd,          // a window update sent
    input  wire        ev_tx_dack,          // a delayed ACK sent
    input  wire        ev_tx_done,          // TX_POSTs completed ...
    input  wire [15:0] ev_tx_done_count,    // ... this many
    input  wire        ev_blk_write,
    input  wire        ev_blk_read,
    input  wire        ev_blk_timeout,      // blk_dma gave a command up on BLK_TIMEOUT
    input  wire [15:0] ev_blk_bytes,
    input  wire        ev_anon_rx,
    input  wire        ev_arp_reply,
    input  wire        ev_rx_done,          // toe_engine finished a frame without a drop
    input  wire        ev_timeout,
    input  wire        ev_tick,
    input  wire        ev_hold_rec,         // a hold record was written
    input  wire        ev_released,         // a held chain was released (BUF_RELEASE)
    input  wire        ev_dev_bytes_valid,  // a block write holding DEVMEM bytes
    input  wire [15:0] ev_dev_bytes,        // their number
    input  wire        ev_dev_wr_valid,     // a block read put bytes into buflet memory
    input  wire [15:0] ev_dev_wr_bytes,     // their number
    output wire        host_wr_en,          // HOST_BUFLETS written ...
    output wire [31:0] host_wr_val,         // ... with this value
    input  wire [15:0] host_buflets,        // HOST_BUFLETS in force (buflet_pool)
    // the CPU's window (buf_window)
    output wire        win_start,           // BUF_WIN_ADDR written ...
    output wire [31:0] win_start_addr,      // ... with this address
    input  wire [31:0] win_addr,            // BUF_WIN_ADDR
    input  wire        win_busy,            // BUF_WIN_STATUS.BUSY
    input  wire        win_bad,             // BUF_WIN_STATUS.BAD
    input  wire [8*`BF_PARAM_WIN_BYTES-1:0] win_data, // BUF_WIN_DATAk = win_data[32k +: 32]
    input  wire        ev_win_read,         // a window copy done
    input  wire [15:0] free_buflets,
    // protection faults
    input  wire [NFAULT-1:0]    ev_fault_valid,
    input  wire [NFAULT*64-1:0] ev_fault_addr,
    input  wire [NFAULT*16-1:0] ev_fault_info,
    input  wire [NFAULT-1:0]    ev_fault_fatal,
    output wire        irq
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        `BF_CHECK_DATA_WIDTH(reg_block)
        if (NFAULT < 1) begin : g_check_nfault
            `BF_ERROR("reg_block: NFAULT must be >= 1")
        end
    endgenerate

    // one counter per drop reason 1..`BF_DROP_LISTEN_FULL (index 0 unused; LISTEN_FULL = 16
    // is the last reason)
    localparam NUM_DROP = `BF_DROP_LISTEN_FULL + 1;
    // BUF_WIN_DATA0.. registers
    localparam NUM_WIN_REGS = `BF_PARAM_WIN_BYTES / 4;

    reg        r_enable;
    reg        r_prot_en;
    reg        r_fault;          // STATUS.FAULT
    reg [1:0]  r_irq_status;     // bit0 CPL, bit1 FAULT
    reg [1:0]  r_irq_mask;
    reg [31:0] r_fault_addr_lo, r_fault_addr_hi, r_fault_info, cnt_prot_faults;
    reg [31:0] r_req_base_lo, r_req_base_hi, r_req_size, r_req_tail;
    reg [31:0] r_cpl_base_lo, r_cpl_base_hi, r_cpl_size, r_cpl_head;
    reg [31:0] r_mac_lo, r_ip, r_timer_period, r_timer_kick, r_timer_cnt, r_blk_timeout;
    reg [31:0] r_rto_init, r_rto_min, r_rto_max, r_tx_retries, r_half_open_max;
    reg [31:0] cnt_accepts, cnt_lookups, cnt_lookup_cycles, cnt_lookup_fwd, cnt_dlv_chained, cnt_frm_chained;
    reg [15:0] r_mac_hi;

    reg [31:0] cnt_rx_frames, cnt_rx_bytes, cnt_rx_accepted, cnt_delivered;
    reg [31:0] cnt_req_errors, cnt_blk_writes, cnt_blk_bytes, cnt_cpl_posted, cnt_nb_returned;
    reg [31:0] cnt_blk_reads, cnt_blk_rd_bytes, cnt_blk_timeouts;
    reg [31:0] cnt_tx_frames, cnt_tx_bytes, cnt_ooo_held;
    reg [31:0] cnt_anon_rx, cnt_arp_replies, cnt_timeouts, cnt_ticks;
    reg [31:0] cnt_hold_records, cnt_buf_released, cnt_blk_dev_bytes, cnt_rx_done;
    reg [31:0] cnt_blk_dev_wr_bytes, cnt_buf_win_reads;
    reg [31:0] cnt_tx_segs, cnt_tx_data_bytes, cnt_tx_retrans, cnt_tx_rto;
    reg [31:0] cnt_tx_fast_retrans, cnt_tx_probes, cnt_tx_done, cnt_tx_wnd_updates, cnt_tx_delayed_acks;
    reg [31:0] cnt_drop [0:NUM_DROP-1];

    assign s_reg_ready = 1'b1;
    assign ctrl_enable = r_enable;
    assign ctrl_prot_en = r_prot_en;
    assign ring_stop   = r_fault;
    assign req_base    = {r_req_base_hi, r_req_base_lo};
    assign req_size    = r_req_size;
    assign req_tail    = r_req_tail;
    assign cpl_base    = {r_cpl_base_hi, r_cpl_base_lo};
    assign cpl_size    = r_cpl_size;
    assign cpl_head    = r_cpl_head;
    assign irq         = |(r_irq_status & r_irq_mask);
    assign nic_mac     = {r_mac_hi, r_mac_lo};
    assign nic_ip      = r_ip;
    assign blk_timeout = r_blk_timeout;
    assign rto_init    = r_rto_init;
    assign rto_min     = r_rto_min;
    assign rto_max     = r_rto_max;
    assign tx_retries  = r_tx_retries;
    assign half_open_max = r_half_open_max;

    wire wr = s_reg_valid && s_reg_write;
    assign host_wr_en  = wr && (s_reg_addr == `BF_REG_HOST_BUFLETS);
    assign host_wr_val = s_reg_wdata;
    assign win_start      = wr && (s_reg_addr == `BF_REG_BUF_WIN_ADDR);
    assign win_start_addr = s_reg_wdata;
    wire rd = s_reg_valid && !s_reg_write;

    // timer: r_timer_cnt counts down to 1 (0 = stopped); the pulse reloads it
    wire period_tick = (r_timer_cnt == 32'd1);
    assign tick_req  = period_tick || (wr && s_reg_addr == `BF_REG_TIMER_KICK);

    // fault events of this cycle: how many, and the highest-numbered one
    localparam FCW = $clog2(NFAULT + 1);
    reg [FCW-1:0] f_n;
    reg [63:0]    f_addr;
    reg [15:0]    f_info;
    reg           f_fatal;
    integer f;
    always @(*) begin
        f_n     = {FCW{1'b0}};
        f_addr  = 64'd0;
        f_info  = 16'd0;
        f_fatal = 1'b0;
        for (f = 0; f < NFAULT; f = f + 1) begin
            if (ev_fault_valid[f]) begin
                f_n    = f_n + 1'b1;
                f_addr = ev_fault_addr[f*64 +: 64];
                f_info = ev_fault_info[f*16 +: 16];
                if (ev_fault_fatal[f]) f_fatal = 1'b1;
            end
        end
    end
    wire f_any = |ev_fault_valid;

    // read mux
    reg [31:0] rdata;
    integer j;
    // (decoded only on a read, so an idle register port costs the simulation nothing)
    always @(*) begin
        rdata = 32'd0;
        j     = 0;  // assigned on every path: no latch for the loop variable
        if (rd) begin
            case (s_reg_addr)
                `BF_REG_ID:                  rdata = 32'(`BF_PARAM_ID_MAGIC);
                `BF_REG_VERSION:             rdata = 32'(`BF_PARAM_VERSION);
                `BF_REG_DATA_WIDTH:          rdata = 32'(DATA_WIDTH);
                `BF_REG_BUFLET_BYTES:        rdata = 32'(BUFLET_BYTES);
                `BF_REG_NUM_BUFLETS:         rdata = 32'(NUM_BUFLETS);
                `BF_REG_NUM_SOCKETS:         rdata = 32'(NUM_SOCKETS);
                `BF_REG_HASH_BUCKETS:        rdata = 32'(HASH_BUCKETS);
                `BF_REG_NUM_NBS:             rdata = 32'(NUM_NBS);
                `BF_REG_BLOCK_BYTES:         rdata = 32'(`BF_PARAM_BLOCK_BYTES);
                `BF_REG_PAGE_BYTES:          rdata = 32'(`BF_PARAM_PAGE_BYTES);
                `BF_REG_CLOCK_MHZ:           rdata = 32'(CLOCK_MHZ);
                `BF_REG_NUM_ANON:            rdata = 32'(NUM_ANON);
                `BF_REG_NUM_REGIONS:         rdata = 32'(NUM_REGIONS);
                `BF_REG_NUM_POSTS:           rdata = 32'(NUM_POSTS);
                `BF_REG_NUM_LISTEN:          rdata = 32'(NUM_LISTEN);
                `BF_REG_HALF_OPEN_MAX:       rdata = r_half_open_max;
                `BF_REG_HALF_OPEN:           rdata = half_open;
                `BF_REG_ACCEPT_POOL:         rdata = accept_pool;
                `BF_REG_CNT_ACCEPTS:         rdata = cnt_accepts;
                `BF_REG_CNT_LOOKUPS:         rdata = cnt_lookups;
                `BF_REG_CNT_LOOKUP_CYCLES:   rdata = cnt_lookup_cycles;
                `BF_REG_CNT_LOOKUP_FWD:      rdata = cnt_lookup_fwd;
                `BF_REG_CNT_DLV_CHAINED:     rdata = cnt_dlv_chained;
                `BF_REG_CNT_FRM_CHAINED:     rdata = cnt_frm_chained;
                `BF_REG_CTRL:                rdata = {30'd0, r_prot_en, r_enable};
                `BF_REG_STATUS:              rdata = {29'd0, r_fault, r_enable, 1'b1};
                `BF_REG_IRQ_STATUS:          rdata = {30'd0, r_irq_status};
                `BF_REG_IRQ_MASK:            rdata = {30'd0, r_irq_mask};
                `BF_REG_PROT_FAULT_ADDR_LO:  rdata = r_fault_addr_lo;
                `BF_REG_PROT_FAULT_ADDR_HI:  rdata = r_fault_addr_hi;
                `BF_REG_PROT_FAULT_INFO:     rdata = r_fault_info;
                `BF_REG_NIC_MAC_LO:          rdata = r_mac_lo;
                `BF_REG_NIC_MAC_HI:          rdata = {16'd0, r_mac_hi};
                `BF_REG_NIC_IP:              rdata = r_ip;
                `BF_REG_TIMER_PERIOD:        rdata = r_timer_period;
                `BF_REG_TIMER_KICK:          rdata = r_timer_kick;
                `BF_REG_BLK_TIMEOUT:         rdata = r_blk_timeout;
                `BF_REG_RTO_INIT:            rdata = r_rto_init;
                `BF_REG_RTO_MIN:             rdata = r_rto_min;
                `BF_REG_RTO_MAX:             rdata = r_rto_max;
                `BF_REG_TX_RETRIES:          rdata = r_tx_retries;
                `BF_REG_REQ_BASE_LO:         rdata = r_req_base_lo;
                `BF_REG_REQ_BASE_HI:         rdata = r_req_base_hi;
                `BF_REG_REQ_SIZE:            rdata = r_req_size;
                `BF_REG_REQ_TAIL:            rdata = r_req_tail;
                `BF_REG_REQ_HEAD:            rdata = req_head;
                `BF_REG_CPL_BASE_LO:         rdata = r_cpl_base_lo;
                `BF_REG_CPL_BASE_HI:         rdata = r_cpl_base_hi;
                `BF_REG_CPL_SIZE:            rdata = r_cpl_size;
                `BF_REG_CPL_HEAD:            rdata = r_cpl_head;
                `BF_REG_CPL_TAIL:            rdata = cpl_tail;
                `BF_REG_CNT_RX_FRAMES:       rdata = cnt_rx_frames;
                `BF_REG_CNT_RX_BYTES:        rdata = cnt_rx_bytes;
                `BF_REG_CNT_RX_ACCEPTED:     rdata = cnt_rx_accepted;
                `BF_REG_CNT_DELIVERED_BYTES: rdata = cnt_delivered;
                `BF_REG_CNT_FREE_BUFLETS:    rdata = {16'd0, free_buflets};
                `BF_REG_CNT_REQ_ERRORS:      rdata = cnt_req_errors;
                `BF_REG_CNT_BLK_WRITES:      rdata = cnt_blk_writes;
                `BF_REG_CNT_BLK_BYTES:       rdata = cnt_blk_bytes;
                `BF_REG_CNT_BLK_READS:       rdata = cnt_blk_reads;
                `BF_REG_CNT_BLK_RD_BYTES:    rdata = cnt_blk_rd_bytes;
                `BF_REG_CNT_CPL_POSTED:      rdata = cnt_cpl_posted;
                `BF_REG_CNT_NB_RETURNED:     rdata = cnt_nb_returned;
                `BF_REG_CNT_TX_FRAMES:       rdata = cnt_tx_frames;
                `BF_REG_CNT_TX_BYTES:        rdata = cnt_tx_bytes;
                `BF_REG_CNT_OOO_HELD:        rdata = cnt_ooo_held;
                `BF_REG_CNT_ANON_RX:         rdata = cnt_anon_rx;
                `BF_REG_CNT_ARP_REPLIES:     rdata = cnt_arp_replies;
                `BF_REG_CNT_TIMEOUTS:        rdata = cnt_timeouts;
                `BF_REG_CNT_TICKS:           rdata = cnt_ticks;
                `BF_REG_CNT_PROT_FAULTS:     rdata = cnt_prot_faults;
                `BF_REG_CNT_HOLD_RECORDS:    rdata = cnt_hold_records;
                `BF_REG_CNT_BUF_RELEASED:    rdata = cnt_buf_released;
                `BF_REG_CNT_BLK_DEV_BYTES:   rdata = cnt_blk_dev_bytes;
                `BF_REG_CNT_RX_DONE:         rdata = cnt_rx_done;
                `BF_REG_CNT_BLK_TIMEOUTS:    rdata = cnt_blk_timeouts;
                `BF_REG_CNT_TX_SEGS:         rdata = cnt_tx_segs;
                `BF_REG_CNT_TX_DATA_BYTES:   rdata = cnt_tx_data_bytes;
                `BF_REG_CNT_TX_RETRANS:      rdata = cnt_tx_retrans;
                `BF_REG_CNT_TX_RTO:          rdata = cnt_tx_rto;
                `BF_REG_CNT_TX_FAST_RETRANS: rdata = cnt_tx_fast_retrans;
                `BF_REG_CNT_TX_PROBES:       rdata = cnt_tx_probes;
                `BF_REG_CNT_TX_DONE:         rdata = cnt_tx_done;
                `BF_REG_CNT_BLK_DEV_WR_BYTES: rdata = cnt_blk_dev_wr_bytes;
                `BF_REG_HOST_BUFLETS:        rdata = {16'd0, host_buflets};
                `BF_REG_BUF_WIN_ADDR:        rdata = win_addr;
                `BF_REG_BUF_WIN_STATUS:      rdata = {30'd0, win_bad, win_busy};
                `BF_REG_CNT_BUF_WIN_READS:   rdata = cnt_buf_win_reads;
                `BF_REG_CNT_TX_WND_UPDATES:  rdata = cnt_tx_wnd_updates;
                `BF_REG_CNT_TX_DELAYED_ACKS: rdata = cnt_tx_delayed_acks;
                default: rdata = 32'd0;
            endcase
            // drop counter of reason r at `BF_DROP_COUNTER_BASE + 4*r
            for (j = 1; j < NUM_DROP; j = j + 1) begin
                if (s_reg_addr == 12'(`BF_DROP_COUNTER_BASE + 4 * j)) rdata = cnt_drop[j];
            end
            // window data k at BUF_WIN_DATA0 + 4*k
            for (j = 0; j < NUM_WIN_REGS; j = j + 1) begin
                if (s_reg_addr == `BF_REG_BUF_WIN_DATA0 + 12'(4 * j)) rdata = win_data[32*j +: 32];
            end
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            m_reg_rvalid <= 1'b0;
            m_reg_rdata  <= 32'd0;
        end else begin
            m_reg_rvalid <= rd;
            if (rd) m_reg_rdata <= rdata;
        end
    end

    // writable registers
    always @(posedge clk) begin
        if (rst) begin
            r_enable      <= 1'b0;
            r_prot_en     <= 1'b0;
            r_fault       <= 1'b0;
            r_irq_status  <= 2'd0;
            r_irq_mask    <= 2'd0;
            r_fault_addr_lo <= 32'd0;
            r_fault_addr_hi <= 32'd0;
            r_fault_info  <= 32'd0;
            r_req_base_lo <= 32'd0;
            r_req_base_hi <= 32'd0;
            r_req_size    <= 32'd0;
            r_req_tail    <= 32'd0;
            r_cpl_base_lo <= 32'd0;
            r_cpl_base_hi <= 32'd0;
            r_cpl_size    <= 32'd0;
            r_cpl_head    <= 32'd0;
            r_mac_lo      <= 32'd0;
            r_mac_hi      <= 16'd0;
            r_ip          <= 32'd0;
            r_timer_period <= 32'd0;
            r_timer_kick  <= 32'd0;
            r_timer_cnt   <= 32'd0;
            r_blk_timeout <= 32'(`BF_PARAM_DEF_BLK_TIMEOUT);
            r_rto_init    <= 32'(`BF_PARAM_DEF_RTO_INIT);
            r_rto_min     <= 32'(`BF_PARAM_DEF_RTO_MIN);
            r_rto_max     <= 32'(`BF_PARAM_DEF_RTO_MAX);
            r_tx_retries  <= 32'(`BF_PARAM_DEF_TX_RETRIES);
            r_half_open_max <= 32'(`BF_PARAM_DEF_HALF_OPEN_MAX);
        end else begin
            if (wr) begin
                case (s_reg_addr)
                    `BF_REG_CTRL: begin
                        r_enable  <= s_reg_wdata[0];
                        r_prot_en <= s_reg_wdata[1];
                    end
                    `BF_REG_IRQ_MASK:    r_irq_mask    <= s_reg_wdata[1:0];
                    `BF_REG_REQ_BASE_LO: r_req_base_lo <= s_reg_wdata;
                    `BF_REG_REQ_BASE_HI: r_req_base_hi <= s_reg_wdata;
                    `BF_REG_REQ_SIZE:    r_req_size    <= s_reg_wdata;
                    `BF_REG_REQ_TAIL:    r_req_tail    <= s_reg_wdata;
                    `BF_REG_CPL_BASE_LO: r_cpl_base_lo <= s_reg_wdata;
                    `BF_REG_CPL_BASE_HI: r_cpl_base_hi <= s_reg_wdata;
                    `BF_REG_CPL_SIZE:    r_cpl_size    <= s_reg_wdata;
                    `BF_REG_CPL_HEAD:    r_cpl_head    <= s_reg_wdata;
                    `BF_REG_NIC_MAC_LO:  r_mac_lo      <= s_reg_wdata;
                    `BF_REG_NIC_MAC_HI:  r_mac_hi      <= s_reg_wdata[15:0];
                    `BF_REG_NIC_IP:      r_ip          <= s_reg_wdata;
                    `BF_REG_TIMER_PERIOD: r_timer_period <= s_reg_wdata;
                    `BF_REG_TIMER_KICK:  r_timer_kick  <= s_reg_wdata;
                    `BF_REG_BLK_TIMEOUT: r_blk_timeout <= s_reg_wdata;
                    `BF_REG_RTO_INIT:    r_rto_init    <= s_reg_wdata;
                    `BF_REG_RTO_MIN:     r_rto_min     <= s_reg_wdata;
                    `BF_REG_RTO_MAX:     r_rto_max     <= s_reg_wdata;
                    `BF_REG_TX_RETRIES:  r_tx_retries  <= s_reg_wdata;
                    `BF_REG_HALF_OPEN_MAX: r_half_open_max <= s_reg_wdata;
                    default: ;
                endcase
            end
            // the period count: a TIMER_PERIOD write restarts it, a pulse reloads it
            if (wr && s_reg_addr == `BF_REG_TIMER_PERIOD) begin
                r_timer_cnt <= s_reg_wdata;
            end else if (period_tick) begin
                r_timer_cnt <= r_timer_period;
            end else if (r_timer_cnt != 32'd0) begin
                r_timer_cnt <= r_timer_cnt - 32'd1;
            end
            // IRQ_STATUS: a new completion wins over a simultaneous write-1-to-clear
            if (cpl_posted) begin
                r_irq_status[0] <= 1'b1;
            end else if (wr && s_reg_addr == `BF_REG_IRQ_STATUS && s_reg_wdata[0]) begin
                r_irq_status[0] <= 1'b0;
            end
            if (f_any) begin
                r_irq_status[1] <= 1'b1;
            end else if (wr && s_reg_addr == `BF_REG_IRQ_STATUS && s_reg_wdata[1]) begin
                r_irq_status[1] <= 1'b0;
            end
            // protection faults: the last one's address and info; a ring fault stops the rings
            // until CTRL.ENABLE is cleared (a fault in the same cycle wins)
            if (f_any) begin
                r_fault_addr_lo <= f_addr[31:0];
                r_fault_addr_hi <= f_addr[63:32];
                r_fault_info    <= {16'd0, f_info};
            end
            if (f_fatal) begin
                r_fault <= 1'b1;
            end else if (wr && s_reg_addr == `BF_REG_CTRL && !s_reg_wdata[0]) begin
                r_fault <= 1'b0;
            end
        end
    end

    // counters
    integer i;
    always @(posedge clk) begin
        if (rst) begin
            cnt_rx_frames   <= 32'd0;
            cnt_rx_bytes    <= 32'd0;
            cnt_rx_accepted <= 32'd0;
            cnt_delivered   <= 32'd0;
            cnt_req_errors  <= 32'd0;
            cnt_blk_writes  <= 32'd0;
            cnt_blk_bytes   <= 32'd0;
            cnt_blk_reads   <= 32'd0;
            cnt_blk_rd_bytes <= 32'd0;
            cnt_cpl_posted  <= 32'd0;
            cnt_nb_returned <= 32'd0;
            cnt_tx_frames   <= 32'd0;
            cnt_tx_bytes    <= 32'd0;
            cnt_ooo_held    <= 32'd0;
            cnt_anon_rx     <= 32'd0;
            cnt_arp_replies <= 32'd0;
            cnt_timeouts    <= 32'd0;
            cnt_ticks       <= 32'd0;
            cnt_prot_faults <= 32'd0;
            cnt_hold_records  <= 32'd0;
            cnt_buf_released  <= 32'd0;
            cnt_blk_dev_bytes <= 32'd0;
            cnt_blk_dev_wr_bytes <= 32'd0;
            cnt_buf_win_reads <= 32'd0;
            cnt_tx_wnd_updates <= 32'd0;
            cnt_tx_delayed_acks <= 32'd0;
            cnt_rx_done       <= 32'd0;
            cnt_blk_timeouts  <= 32'd0;
            cnt_tx_segs       <= 32'd0;
            cnt_tx_data_bytes <= 32'd0;
            cnt_tx_retrans    <= 32'd0;
            cnt_tx_rto        <= 32'd0;
            cnt_tx_fast_retrans <= 32'd0;
            cnt_tx_probes     <= 32'd0;
            cnt_tx_done       <= 32'd0;
            {cnt_accepts, cnt_lookups, cnt_lookup_cycles, cnt_lookup_fwd, cnt_dlv_chained, cnt_frm_chained} <= 0;
            for (i = 0; i < NUM_DROP; i = i + 1) cnt_drop[i] <= 32'd0;
        end else begin
            if (ev_rx_frame) begin
                cnt_rx_frames <= cnt_rx_frames + 32'd1;
                cnt_rx_bytes  <= cnt_rx_bytes + {16'd0, ev_rx_bytes};
            end
            if (ev_accepted) cnt_rx_accepted <= cnt_rx_accepted + 32'd1;
            if (ev_delivered_valid) cnt_delivered <= cnt_delivered + {16'd0, ev_delivered_bytes};
            if (ev_nb_returned) cnt_nb_returned <= cnt_nb_returned + 32'd1;
            if (ev_ooo_held) cnt_ooo_held <= cnt_ooo_held + 32'd1;
            if (ev_anon_rx) cnt_anon_rx <= cnt_anon_rx + 32'd1;
            if (ev_arp_reply) cnt_arp_replies <= cnt_arp_replies + 32'd1;
            if (ev_rx_done) cnt_rx_done <= cnt_rx_done + 32'd1;
            if (ev_timeout) cnt_timeouts <= cnt_timeouts + 32'd1;
            if (ev_tick) cnt_ticks <= cnt_ticks + 32'd1;
            if (ev_hold_rec) cnt_hold_records <= cnt_hold_records + 32'd1;
            if (ev_released) cnt_buf_released <= cnt_buf_released + 32'd1;
            if (ev_dev_bytes_valid) cnt_blk_dev_bytes <= cnt_blk_dev_bytes + {16'd0, ev_dev_bytes};
            if (ev_dev_wr_valid) cnt_blk_dev_wr_bytes <= cnt_blk_dev_wr_bytes + {16'd0, ev_dev_wr_bytes};
            if (ev_win_read) cnt_buf_win_reads <= cnt_buf_win_reads + 32'd1;
            cnt_prot_faults <= cnt_prot_faults + 32'(f_n);
            if (ev_tx_frame) begin
                cnt_tx_frames <= cnt_tx_frames + 32'd1;
                cnt_tx_bytes  <= cnt_tx_bytes + {16'd0, ev_tx_bytes};
            end
            if (ev_tx_seg) begin
                cnt_tx_segs       <= cnt_tx_segs + 32'd1;
                cnt_tx_data_bytes <= cnt_tx_data_bytes + {16'd0, ev_tx_seg_bytes};
            end
            if (ev_tx_retrans) cnt_tx_retrans <= cnt_tx_retrans + 32'd1;
            if (ev_tx_rto) cnt_tx_rto <= cnt_tx_rto + 32'd1;
            if (ev_tx_fast) cnt_tx_fast_retrans <= cnt_tx_fast_retrans + 32'd1;
            if (ev_tx_probe) cnt_tx_probes <= cnt_tx_probes + 32'd1;
            if (ev_tx_wupd) cnt_tx_wnd_updates <= cnt_tx_wnd_updates + 32'd1;
            if (ev_tx_dack) cnt_tx_delayed_acks <= cnt_tx_delayed_acks + 32'd1;
            if (ev_tx_done) cnt_tx_done <= cnt_tx_done + {16'd0, ev_tx_done_count};
            if (ev_accept) cnt_accepts <= cnt_accepts + 32'd1;
            if (ev_lookup) cnt_lookups <= cnt_lookups + 32'd1;
            if (ev_lookup_cyc) cnt_lookup_cycles <= cnt_lookup_cycles + 32'd1;
            if (ev_lookup_fwd) cnt_lookup_fwd <= cnt_lookup_fwd + 32'd1;
            if (ev_dlv_chain) cnt_dlv_chained <= cnt_dlv_chained + 32'd1;
            if (ev_frm_chain) cnt_frm_chained <= cnt_frm_chained + 32'd1;
            if (ev_blk_write) begin
                cnt_blk_writes <= cnt_blk_writes + 32'd1;
                cnt_blk_bytes  <= cnt_blk_bytes + {16'd0, ev_blk_bytes};
            end
            if (ev_blk_timeout) cnt_blk_timeouts <= cnt_blk_timeouts + 32'd1;
            if (ev_blk_read) begin
                cnt_blk_reads    <= cnt_blk_reads + 32'd1;
                cnt_blk_rd_bytes <= cnt_blk_rd_bytes + {16'd0, ev_blk_bytes};
            end
            if (cpl_posted) begin
                cnt_cpl_posted <= cnt_cpl_posted + 32'd1;
                if (cpl_status != 8'd0) cnt_req_errors <= cnt_req_errors + 32'd1;
            end
            for (i = 1; i < NUM_DROP; i = i + 1) begin
                if (ev_drop_valid && ev_drop_reason == 5'(i)) cnt_drop[i] <= cnt_drop[i] + 32'd1;
            end
        end
    end
endmodule

`resetall
