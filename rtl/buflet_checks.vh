// Elaboration-time checks of module parameters (hand-written; shared by the rtl/*.v modules).
//
// A module states the assumptions its code makes about its parameters as generate-ifs that
// call the $error elaboration task (through `BF_ERROR), inside a named block, near the top of its body:
//
//     generate
//         `BF_CHECK_DATA_WIDTH(sync_fifo)
//         if (!`BF_IS_POW2(DEPTH) || DEPTH < 2) begin : g_check_depth
//             `BF_ERROR("sync_fifo: DEPTH must be a power of two >= 2")
//         end
//     endgenerate
//
// A broken assumption then stops elaboration with that message, naming the module, in both
// tools: Verilator 5 reports %Warning-USERERROR, which is fatal unless -Wno-fatal is given
// (sim/build.rs, which builds with -Wno-fatal, adds -Werror-USERERROR), and Yosys
// (read_verilog -sv) reports ERROR at `hierarchy`. Messages are plain strings: Yosys 0.23
// does not format $error arguments, and drops the message of $fatal(1, "..."), so neither
// %d arguments nor $fatal are used. testbench/tests/lint.rs checks that every message fires.
//
// No `resetall or `default_nettype here, on purpose: an include file is read inside the file
// that includes it, which sets its own (`resetall + `default_nettype none at its top,
// `resetall after endmodule). `resetall is illegal inside a module, and a nettype set here
// would change the includer's from the point of the include on, and only at the first
// include (the guard below makes later ones empty).
`ifndef BUFLET_CHECKS_VH
`define BUFLET_CHECKS_VH

// A broken assumption: MSG, a string literal. Verilator and Yosys stop elaboration with it
// ($error). Icarus Verilog 11 (Debian 12) has no elaboration-time $error, so there the check
// runs at time 0 instead: the message on stdout and $finish before the first clock edge.
`ifdef __ICARUS__
`define BF_ERROR(MSG) initial begin $display("ERROR: %s", MSG); $finish; end
`else
`define BF_ERROR(MSG) $error(MSG);
`endif

// 1 when the constant expression X is a power of two (1, 2, 4, ...), else 0.
`define BF_IS_POW2(X) (((X) > 0) && (((X) & ((X) - 1)) == 0))

// DATA_WIDTH, the width of every data stream (docs/architecture.md "Conventions"): a power of
// two in 64..512. MOD is the module's name, for the message.
`define BF_CHECK_DATA_WIDTH(MOD) \
    if (!`BF_IS_POW2(DATA_WIDTH) || DATA_WIDTH < 64 || DATA_WIDTH > 512) begin : g_check_data_width \
        `BF_ERROR(`"MOD: DATA_WIDTH must be a power of two in 64..512`") \
    end

// KEEP_WIDTH, in a module that has it as a parameter: DATA_WIDTH / 8.
`define BF_CHECK_KEEP_WIDTH(MOD) \
    if (KEEP_WIDTH * 8 != DATA_WIDTH) begin : g_check_keep_width \
        `BF_ERROR(`"MOD: KEEP_WIDTH must be DATA_WIDTH/8`") \
    end

// The buflet memory of a module with NUM_BUFLETS, BUFLET_BYTES and BW_ADDR parameters:
// NUM_BUFLETS a power of two in 2..32768 (16-bit buflet indices, 0xFFFF = null), BW_ADDR the
// buflet RAM word-address width $clog2(NUM_BUFLETS * BUFLET_BYTES / KW), KW = bytes per word.
// (BUFLET_BYTES has module-specific bounds and is checked by each module itself.)
`define BF_CHECK_BUFLET_RAM(MOD, KW) \
    if (!`BF_IS_POW2(NUM_BUFLETS) || NUM_BUFLETS < 2 || NUM_BUFLETS > 32768) begin : g_check_num_buflets \
        `BF_ERROR(`"MOD: NUM_BUFLETS must be a power of two in 2..32768`") \
    end \
    if (BW_ADDR != $clog2(NUM_BUFLETS * BUFLET_BYTES / (KW))) begin : g_check_bw_addr \
        `BF_ERROR(`"MOD: BW_ADDR must be $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH)`") \
    end

`endif
