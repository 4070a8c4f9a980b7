// buflet_ecp5_evn: the place-and-route top for the Lattice ECP5-5G Evaluation Board
// (LFE5UM5G-85F-8BG381; pins and clocking in ecp5_evn.lpf; docs/fpga.md).
//
// buflet_nic at the ECP5 build's parameters (below; every other one at its default) on a
// 124 MHz clock from the board's 12 MHz oscillator (EHXPLLL: 12 / 3 * 31 / 5; the timing
// constraint is 125 MHz). The parameters are what fits the part and lets nextpnr route it
// (docs/fpga.md has the measured figures):
//   NUM_BUFLETS 32 (default 256): the buflet RAM fits the part's 208 DP16KD with the tables;
//   NUM_REGIONS 1 (default 32): prot_table compares every region on each of its 4 lookup
//     ports in one cycle; at 32 regions that alone takes half of the part's LUTs, and at 4
//     the whole design fills 91% of them, more than nextpnr could route;
//   NUM_SOCKETS 16, NUM_NBS 16, NUM_POSTS 64 (defaults 64, 64, 256): the socket, buffer and
//     send-post tables' bitmaps, free-slot searches and queues shrink with them.
// With one region the table still checks every access, against one host range. Every port
// of the NIC that a bring-up connects to a MAC, a host DMA engine or a block device goes
// through port_scan, a four-pin serial chain on the PMOD header: a host shifts each input in,
// steps the NIC one cycle and shifts each output out (port_scan.v). The LEDs show the PLL lock, the reset, the
// NIC's interrupt and a heartbeat. What replaces the chain in a bring-up: docs/fpga.md.

`resetall
`default_nettype none

module buflet_ecp5_evn #(
    parameter DATA_WIDTH  = 64,
    parameter NUM_BUFLETS = 32,
    parameter NUM_SOCKETS = 16,
    parameter NUM_NBS     = 16,
    parameter NUM_POSTS   = 64,
    parameter NUM_REGIONS = 1
) (
    input  wire       clk12,    // A10, 12 MHz from the FT2232H
    input  wire       rst_n,    // G2, the board's reset button
    input  wire       scan_clk,   // PMOD 1
    input  wire       scan_in,    // PMOD 2
    input  wire       scan_step,  // PMOD 3
    output wire       scan_out,   // PMOD 4
    output wire [7:0] led_n     // LEDs, active low
);
    localparam KW = DATA_WIDTH / 8;
    // Inputs of buflet_nic, in the order packed below.
    localparam IN_W = (1 + 1 + 12 + 32)               // register port
                    + (DATA_WIDTH + KW + 2)           // MAC rx
                    + 1                               // MAC tx ready
                    + 1 + (DATA_WIDTH + KW + 3)       // DMA read request ready, read data
                    + 1 + 1                           // DMA write request ready, data ready
                    + 1 + 1 + (1 + 8)                 // block request ready, write ready, status
                    + (DATA_WIDTH + KW + 2);          // block read data
    // Outputs of buflet_nic (irq included), in the order packed below.
    localparam OUT_W = (1 + 1 + 32)                   // register port
                     + 1                              // MAC rx ready
                     + (DATA_WIDTH + KW + 2)          // MAC tx
                     + (1 + 64 + 16 + 8) + 1          // DMA read request, read data ready
                     + (1 + 64 + 16 + 8)              // DMA write request
                     + (DATA_WIDTH + KW + 2)          // DMA write data
                     + (1 + 64 + 16 + 1)              // block request
                     + (DATA_WIDTH + KW + 2)          // block write data
                     + 1 + 1                          // block status ready, read data ready
                     + 1;                             // irq

    wire clk;
    wire locked;
    wire [5:0] pll_unused;  // CLKOS, CLKOS2, CLKOS3, INTLOCK, REFCLK, CLKINTFB

    (* FREQUENCY_PIN_CLKI = "12" *)
    (* FREQUENCY_PIN_CLKOP = "124" *)
    (* ICP_CURRENT = "12" *) (* LPF_RESISTOR = "8" *) (* MFG_ENABLE_FILTEROPAMP = "1" *)
    (* MFG_GMCREF_SEL = "2" *)
    EHXPLLL #(
        .PLLRST_ENA("DISABLED"),
        .INTFB_WAKE("DISABLED"),
        .STDBY_ENABLE("DISABLED"),
        .DPHASE_SOURCE("DISABLED"),
        .OUTDIVIDER_MUXA("DIVA"),
        .OUTDIVIDER_MUXB("DIVB"),
        .OUTDIVIDER_MUXC("DIVC"),
        .OUTDIVIDER_MUXD("DIVD"),
        .CLKI_DIV(3),
        .CLKOP_ENABLE("ENABLED"),
        .CLKOP_DIV(5),
        .CLKOP_CPHASE(2),
        .CLKOP_FPHASE(0),
        .FEEDBK_PATH("CLKOP"),
        .CLKFB_DIV(31)
    ) u_pll (
        .RST(1'b0),
        .STDBY(1'b0),
        .CLKI(clk12),
        .CLKOP(clk),
        .CLKFB(clk),
        .PHASESEL0(1'b0),
        .PHASESEL1(1'b0),
        .PHASEDIR(1'b1),
        .PHASESTEP(1'b1),
        .PHASELOADREG(1'b1),
        .PLLWAKESYNC(1'b0),
        .ENCLKOP(1'b0),
        .ENCLKOS(1'b0),
        .ENCLKOS2(1'b0),
        .ENCLKOS3(1'b0),
        .LOCK(locked),
        .CLKOS(pll_unused[0]),
        .CLKOS2(pll_unused[1]),
        .CLKOS3(pll_unused[2]),
        .INTLOCK(pll_unused[3]),
        .REFCLK(pll_unused[4]),
        .CLKINTFB(pll_unused[5])
    );

    // Synchronous reset: held until the PLL locks and while the button is pressed, released
    // through two flops.
    reg [1:0] rst_s;
    always @(posedge clk) rst_s <= {rst_s[0], !(locked && rst_n)};
    wire rst = rst_s[1];

    wire [IN_W-1:0]  drv;
    wire [OUT_W-1:0] sns;

    port_scan #(
        .IN_WIDTH(IN_W),
        .OUT_WIDTH(OUT_W)
    ) u_scan (
        .clk(clk),
        .rst(rst),
        .scan_clk(scan_clk),
        .scan_in(scan_in),
        .scan_step(scan_step),
        .scan_out(scan_out),
        .drive(drv),
        .sense(sns)
    );

    wire                  s_reg_valid, s_reg_write;
    wire [11:0]           s_reg_addr;
    wire [31:0]           s_reg_wdata;
    wire [DATA_WIDTH-1:0] rx_tdata, dma_rd_tdata, blk_rd_tdata;
    wire [KW-1:0]         rx_tkeep, dma_rd_tkeep, blk_rd_tkeep;
    wire                  rx_tvalid, rx_tlast, tx_tready;
    wire                  dma_rd_req_ready, dma_rd_tvalid, dma_rd_tlast, dma_rd_tuser;
    wire                  dma_wr_req_ready, dma_wr_tready;
    wire                  blk_req_ready, blk_wr_tready, blk_resp_valid;
    wire [7:0]            blk_resp_status;
    wire                  blk_rd_tvalid, blk_rd_tlast;
    assign {s_reg_valid, s_reg_write, s_reg_addr, s_reg_wdata,
            rx_tdata, rx_tkeep, rx_tvalid, rx_tlast,
            tx_tready,
            dma_rd_req_ready, dma_rd_tdata, dma_rd_tkeep, dma_rd_tvalid, dma_rd_tlast, dma_rd_tuser,
            dma_wr_req_ready, dma_wr_tready,
            blk_req_ready, blk_wr_tready, blk_resp_valid, blk_resp_status,
            blk_rd_tdata, blk_rd_tkeep, blk_rd_tvalid, blk_rd_tlast} = drv;

    wire                  s_reg_ready, m_reg_rvalid;
    wire [31:0]           m_reg_rdata;
    wire                  rx_tready;
    wire [DATA_WIDTH-1:0] tx_tdata, dma_wr_tdata, blk_wr_tdata;
    wire [KW-1:0]         tx_tkeep, dma_wr_tkeep, blk_wr_tkeep;
    wire                  tx_tvalid, tx_tlast;
    wire                  dma_rd_req_valid, dma_rd_tready;
    wire [63:0]           dma_rd_req_addr, dma_wr_req_addr, blk_req_lba;
    wire [15:0]           dma_rd_req_len, dma_wr_req_len, blk_req_len;
    wire [7:0]            dma_rd_req_id, dma_wr_req_id;
    wire                  dma_wr_req_valid, dma_wr_tvalid, dma_wr_tlast;
    wire                  blk_req_valid, blk_req_write, blk_wr_tvalid, blk_wr_tlast;
    wire                  blk_resp_ready, blk_rd_tready;
    wire                  irq;
    assign sns = {s_reg_ready, m_reg_rvalid, m_reg_rdata,
                  rx_tready,
                  tx_tdata, tx_tkeep, tx_tvalid, tx_tlast,
                  dma_rd_req_valid, dma_rd_req_addr, dma_rd_req_len, dma_rd_req_id, dma_rd_tready,
                  dma_wr_req_valid, dma_wr_req_addr, dma_wr_req_len, dma_wr_req_id,
                  dma_wr_tdata, dma_wr_tkeep, dma_wr_tvalid, dma_wr_tlast,
                  blk_req_valid, blk_req_lba, blk_req_len, blk_req_write,
                  blk_wr_tdata, blk_wr_tkeep, blk_wr_tvalid, blk_wr_tlast,
                  blk_resp_ready, blk_rd_tready,
                  irq};

    buflet_nic #(
        .DATA_WIDTH(DATA_WIDTH),
        .NUM_BUFLETS(NUM_BUFLETS),
        .NUM_SOCKETS(NUM_SOCKETS),
        .NUM_NBS(NUM_NBS),
        .NUM_POSTS(NUM_POSTS),
        .NUM_REGIONS(NUM_REGIONS),
        .CLOCK_MHZ(124)
    ) u_nic (
        .clk(clk),
        .rst(rst),
        .s_reg_valid(s_reg_valid),
        .s_reg_ready(s_reg_ready),
        .s_reg_write(s_reg_write),
        .s_reg_addr(s_reg_addr),
        .s_reg_wdata(s_reg_wdata),
        .m_reg_rvalid(m_reg_rvalid),
        .m_reg_rdata(m_reg_rdata),
        .s_axis_rx_tdata(rx_tdata),
        .s_axis_rx_tkeep(rx_tkeep),
        .s_axis_rx_tvalid(rx_tvalid),
        .s_axis_rx_tready(rx_tready),
        .s_axis_rx_tlast(rx_tlast),
        .m_axis_tx_tdata(tx_tdata),
        .m_axis_tx_tkeep(tx_tkeep),
        .m_axis_tx_tvalid(tx_tvalid),
        .m_axis_tx_tready(tx_tready),
        .m_axis_tx_tlast(tx_tlast),
        .m_dma_rd_req_valid(dma_rd_req_valid),
        .m_dma_rd_req_ready(dma_rd_req_ready),
        .m_dma_rd_req_addr(dma_rd_req_addr),
        .m_dma_rd_req_len(dma_rd_req_len),
        .m_dma_rd_req_id(dma_rd_req_id),
        .s_axis_dma_rd_tdata(dma_rd_tdata),
        .s_axis_dma_rd_tkeep(dma_rd_tkeep),
        .s_axis_dma_rd_tvalid(dma_rd_tvalid),
        .s_axis_dma_rd_tready(dma_rd_tready),
        .s_axis_dma_rd_tlast(dma_rd_tlast),
        .s_axis_dma_rd_tuser(dma_rd_tuser),
        .m_dma_wr_req_valid(dma_wr_req_valid),
        .m_dma_wr_req_ready(dma_wr_req_ready),
        .m_dma_wr_req_addr(dma_wr_req_addr),
        .m_dma_wr_req_len(dma_wr_req_len),
        .m_dma_wr_req_id(dma_wr_req_id),
        .m_axis_dma_wr_tdata(dma_wr_tdata),
        .m_axis_dma_wr_tkeep(dma_wr_tkeep),
        .m_axis_dma_wr_tvalid(dma_wr_tvalid),
        .m_axis_dma_wr_tready(dma_wr_tready),
        .m_axis_dma_wr_tlast(dma_wr_tlast),
        .m_blk_req_valid(blk_req_valid),
        .m_blk_req_ready(blk_req_ready),
        .m_blk_req_lba(blk_req_lba),
        .m_blk_req_len(blk_req_len),
        .m_blk_req_write(blk_req_write),
        .m_axis_blk_wr_tdata(blk_wr_tdata),
        .m_axis_blk_wr_tkeep(blk_wr_tkeep),
        .m_axis_blk_wr_tvalid(blk_wr_tvalid),
        .m_axis_blk_wr_tready(blk_wr_tready),
        .m_axis_blk_wr_tlast(blk_wr_tlast),
        .s_blk_resp_valid(blk_resp_valid),
        .s_blk_resp_ready(blk_resp_ready),
        .s_blk_resp_status(blk_resp_status),
        .s_axis_blk_rd_tdata(blk_rd_tdata),
        .s_axis_blk_rd_tkeep(blk_rd_tkeep),
        .s_axis_blk_rd_tvalid(blk_rd_tvalid),
        .s_axis_blk_rd_tready(blk_rd_tready),
        .s_axis_blk_rd_tlast(blk_rd_tlast),
        .irq(irq)
    );

    // About 1.8 Hz at 124 MHz.
    reg [25:0] beat;
    always @(posedge clk) beat <= rst ? 26'd0 : beat + 26'd1;

    assign led_n = ~{4'b0, beat[25], irq, rst, locked};
endmodule

`resetall
