//! Build script of `buflet-sim`: Verilates every model listed in
//! `sim/models.txt`, compiles the generated C++ into one static library, and
//! generates the Rust/C++ glue that `src/lib.rs` exposes as a safe API.
//! The logic (and its tests) is in the `buflet-verilate` crate
//! (`sim/build-support/`).

fn main() {
    buflet_verilate::run_build_script();
}
