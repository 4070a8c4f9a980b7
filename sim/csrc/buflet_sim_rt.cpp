// Runtime support shared by all buflet-sim models; compiled once per build.
// See buflet_sim_rt.h for why vl_finish and vl_fatal are replaced here.
#include "buflet_sim_rt.h"

#include "verilated.h"

#include <cstdio>
#include <string>

namespace {
thread_local std::string t_last_error;
}  // namespace

void buflet_sim_set_error(const char* msg) noexcept {
    try {
        t_last_error = msg ? msg : "";
    } catch (...) {
    }
}

extern "C" const char* buflet_sim_last_error(void) { return t_last_error.c_str(); }

// $finish: record it in the current model's context; never exit the process.
void vl_finish(const char* filename, int linenum, const char* hier) {
    (void)hier;
    VerilatedContext* const ctx = Verilated::threadContextp();
    if (!ctx->gotFinish() && filename && filename[0]) {
        std::fprintf(stderr, "- %s:%d: Verilog $finish\n", filename, linenum);
    }
    ctx->gotFinish(true);
}

// $fatal, $stop (with fatalOnError) and internal runtime errors: record the
// error in the context and unwind back to the shim entry point.
void vl_fatal(const char* filename, int linenum, const char* hier, const char* msg) {
    (void)hier;
    Verilated::threadContextp()->gotError(true);
    Verilated::threadContextp()->gotFinish(true);
    std::string text = "%Error: ";
    if (filename && filename[0]) {
        text += filename;
        text += ":";
        text += std::to_string(linenum);
        text += ": ";
    }
    text += msg ? msg : "(no message)";
    Verilated::runFlushCallbacks();
    throw BufletSimFatal(text);
}
