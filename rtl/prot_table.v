// Device protection table (seed 004, docs/protection.md).
//
// NUM_REGIONS slots {VALID, BASE, END = BASE + LEN (65 bits), PERM[1:0]}, all invalid after
// reset, held in flip-flops so that every lookup port compares every slot in parallel.
//
// Requests: REG_REGION / DEREG_REGION entries (`region_desc`, routed here by the top from the
// request stream). One entry is taken per handshake, when the completion register is empty or
// being drained; the slot is updated at that same clock edge, so the change is in force for
// every request the top dispatches after it. Each entry posts one CMD_DONE {STATUS OK or
// BAD_REGION, SOCK_REF, TAG, OPCODE} from a registered output (held until m_cpl_ready).
//   REG_REGION  : valid when SLOT < NUM_REGIONS, LEN != 0, BASE + LEN <= 2^64 and FLAGS is
//                 1, 2 or 3 (region_perm READ = 1, WRITE = 2); the slot becomes
//                 {1, BASE, BASE + LEN, FLAGS[1:0]} (replacing what it held). Else no change.
//   DEREG_REGION: SLOT < NUM_REGIONS invalidates the slot (OK); else BAD_REGION.
//   Any other opcode is treated as DEREG_REGION (the top routes only these two here).
//
// Lookup ports (NPORTS of them, combinational: a user registers the answer where it needs
// to): port k asks {lk_addr[k], lk_len[k], lk_write[k]}; lk_allowed[k] is 1 when prot_en is 0,
// or some valid slot has the asked permission (WRITE when lk_write, else READ) and
// BASE <= addr and addr + len <= END (65-bit sums: no wrap). The whole access must be inside
// one region.

`resetall
`default_nettype none
`include "buflet_defs.vh"
`include "buflet_checks.vh"

module prot_table #(
    parameter NUM_REGIONS = `BF_PARAM_DEF_NUM_REGIONS,
    parameter NPORTS      = 4
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 prot_en,         // CTRL.PROT_EN: 0 allows every access
    // REG_REGION / DEREG_REGION request entries
    input  wire                 s_req_valid,
    output wire                 s_req_ready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [511:0]         s_req_data,      // only the region_desc fields are used
    /* verilator lint_on UNUSEDSIGNAL */
    // CMD_DONE completions
    output reg                  m_cpl_valid,
    input  wire                 m_cpl_ready,
    output reg  [255:0]         m_cpl_data,
    // lookup ports, port k in [k*64 +: 64], [k*32 +: 32], [k]
    input  wire [NPORTS*64-1:0] lk_addr,
    input  wire [NPORTS*32-1:0] lk_len,
    input  wire [NPORTS-1:0]    lk_write,
    input  wire [NPORTS-1:0]    lk_valid,        // port k asks this cycle (else it reads allowed)
    output reg  [NPORTS-1:0]    lk_allowed
);
    // parameter checks (elaboration time, rtl/buflet_checks.vh)
    generate
        if (NUM_REGIONS < 1) begin : g_check_num_regions
            `BF_ERROR("prot_table: NUM_REGIONS must be >= 1")
        end
        if (NPORTS < 1) begin : g_check_nports
            `BF_ERROR("prot_table: NPORTS must be >= 1")
        end
    endgenerate

    localparam SW = (NUM_REGIONS > 1) ? $clog2(NUM_REGIONS) : 1;

    localparam [7:0]  OP_REG     = `BF_OP_REG_REGION;
    localparam [7:0]  KIND_DONE  = `BF_CPL_KIND_CMD_DONE;
    localparam [7:0]  ST_OK      = `BF_STATUS_OK;
    localparam [7:0]  ST_BAD     = `BF_STATUS_BAD_REGION;
    localparam [64:0] TOP        = {1'b1, 64'd0};     // 2^64

    // ------------------------------------------------------------------ slots
    reg [NUM_REGIONS-1:0] s_valid;
    reg [63:0]            s_base [0:NUM_REGIONS-1];
    reg [64:0]            s_end  [0:NUM_REGIONS-1];
    reg [1:0]             s_perm [0:NUM_REGIONS-1];

    // ------------------------------------------------------------------ requests
    wire [7:0]  rq_op    = s_req_data[`BF_REGION_DESC_OPCODE_RANGE];
    wire [7:0]  rq_flags = s_req_data[`BF_REGION_DESC_FLAGS_RANGE];
    wire [31:0] rq_slot  = s_req_data[`BF_REGION_DESC_SLOT_RANGE];
    wire [63:0] rq_base  = s_req_data[`BF_REGION_DESC_BASE_RANGE];
    wire [63:0] rq_len   = s_req_data[`BF_REGION_DESC_LEN_RANGE];
    wire [64:0] rq_end   = {1'b0, rq_base} + {1'b0, rq_len};

    wire rq_is_reg  = (rq_op == OP_REG);
    wire slot_ok    = (rq_slot < 32'(NUM_REGIONS));
    wire reg_ok     = slot_ok && (rq_len != 64'd0) && (rq_end <= TOP) &&
                      (rq_flags[7:2] == 6'd0) && (rq_flags[1:0] != 2'd0);
    wire rq_ok      = rq_is_reg ? reg_ok : slot_ok;
    wire [SW-1:0] rq_idx = rq_slot[SW-1:0];

    assign s_req_ready = !m_cpl_valid || m_cpl_ready;
    wire take = s_req_valid && s_req_ready;

    integer i;
    always @(posedge clk) begin
        if (rst) begin
            s_valid     <= {NUM_REGIONS{1'b0}};
            m_cpl_valid <= 1'b0;
            m_cpl_data  <= 256'd0;
            for (i = 0; i < NUM_REGIONS; i = i + 1) begin
                s_base[i] <= 64'd0;
                s_end[i]  <= 65'd0;
                s_perm[i] <= 2'd0;
            end
        end else begin
            if (take) begin
                if (rq_ok) begin
                    s_valid[rq_idx] <= rq_is_reg;
                    if (rq_is_reg) begin
                        s_base[rq_idx] <= rq_base;
                        s_end[rq_idx]  <= rq_end;
                        s_perm[rq_idx] <= rq_flags[1:0];
                    end
                end
                m_cpl_valid <= 1'b1;
                m_cpl_data  <= 256'd0;
                m_cpl_data[`BF_CPL_KIND_RANGE]     <= KIND_DONE;
                m_cpl_data[`BF_CPL_STATUS_RANGE]   <= rq_ok ? ST_OK : ST_BAD;
                m_cpl_data[`BF_CPL_SOCK_REF_RANGE] <= s_req_data[`BF_REGION_DESC_SOCK_REF_RANGE];
                m_cpl_data[`BF_CPL_TAG_RANGE]      <= s_req_data[`BF_REGION_DESC_TAG_RANGE];
                m_cpl_data[`BF_CPL_OPCODE_RANGE]   <= rq_op;
            end else if (m_cpl_ready) begin
                m_cpl_valid <= 1'b0;
            end
        end
    end

    // ------------------------------------------------------------------ lookups
    integer k, j;
    reg [63:0] a;
    reg [64:0] e;
    reg        hit;
    always @(*) begin
        for (k = 0; k < NPORTS; k = k + 1) begin
            a   = lk_addr[k*64 +: 64];
            e   = {1'b0, a} + {33'd0, lk_len[k*32 +: 32]};
            hit = 1'b0;
            j   = 0;  // assigned on every path: no latch for the loop variable
            // the table is searched only for a port that asks (and only with protection on)
            if (prot_en && lk_valid[k]) begin
                for (j = 0; j < NUM_REGIONS; j = j + 1) begin
                    if (s_valid[j] && s_perm[j][lk_write[k] ? 1 : 0] &&
                        (s_base[j] <= a) && (e <= s_end[j]))
                        hit = 1'b1;
                end
            end
            lk_allowed[k] = !prot_en || !lk_valid[k] || hit;
        end
    end
endmodule

`resetall
