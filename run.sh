#!/usr/bin/env bash
# Buflet's entry point. Quick start:
#   ./run.sh demo   # the built-in demo on the Verilated RTL and on the Rust model
#   ./run.sh test   # every test: unit, RTL module, lint, end to end on both backends
set -euo pipefail
cd "$(dirname "$0")"
. scripts/ensure-verilator.sh
ensure_verilator
. scripts/ensure-e2fsprogs.sh
ensure_e2fsprogs
. scripts/ensure-tcpdump.sh
ensure_tcpdump
case "${1:-}" in
  demo)
    shift
    cargo build --release --bin buflet
    for backend in rtl model; do
      ./target/release/buflet demo --backend "$backend" "$@"
      echo
    done
    ;;
  test)
    shift
    cargo test --release --workspace "$@"
    ;;
  *)
    echo "usage: ./run.sh demo [demo options] | ./run.sh test [cargo test options]" >&2
    exit 2
    ;;
esac
