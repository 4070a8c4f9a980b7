// Shared helpers for the generated buflet-sim shims (see build.rs).
//
// Verilator's default $fatal/$stop handler calls std::abort() and a second
// $finish calls std::exit(0), both of which would take the whole Rust test
// process down (the second one even reporting success). The runtime is
// therefore compiled with VL_USER_FATAL / VL_USER_FINISH and this file
// supplies replacements: $finish only records the finish in the model's
// VerilatedContext, and a fatal error throws BufletSimFatal, which every
// shim entry point catches and turns into an error code. The message is then
// available from buflet_sim_last_error() on the same thread.
#ifndef BUFLET_SIM_RT_H_
#define BUFLET_SIM_RT_H_

#include <exception>
#include <string>

class BufletSimFatal : public std::exception {
    std::string m_msg;

public:
    explicit BufletSimFatal(std::string msg)
        : m_msg{std::move(msg)} {}
    const char* what() const noexcept override { return m_msg.c_str(); }
};

// Records msg as this thread's last error (copied).
void buflet_sim_set_error(const char* msg) noexcept;

extern "C" const char* buflet_sim_last_error(void);

#endif  // BUFLET_SIM_RT_H_
