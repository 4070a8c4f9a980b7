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
. scripts/ensure-libiscsi.sh
ensure_libiscsi
# The conformance tests `./run.sh test` runs on both backends (the whole suite:
# scripts/iscsi-conformance.sh --tests ALL).
ISCSI_SUBSET="ALL.Read10"
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
    # The live test: the Linux kernel's own TCP (8 clients) uploads to `buflet serve --tap`
    # on each backend. It needs root and /dev/net/tun; without them it says so and why.
    cargo build --release --bin buflet
    for backend in rtl model; do
      rc=0
      scripts/live-clients.sh --backend "$backend" --clients 8 --bytes 1048576 || rc=$?
      if [ "$rc" = 77 ]; then
        echo "run.sh: the live test (scripts/live-clients.sh) was skipped on $backend: see the reason above"
      elif [ "$rc" != 0 ]; then
        echo "run.sh: the live test failed on $backend" >&2
        exit "$rc"
      fi
    done
    # The iSCSI target against libiscsi (an independent initiator): its tools, a subset of its
    # conformance suite, and a file written and read back, on each backend.
    for backend in rtl model; do
      rc=0
      scripts/iscsi-conformance.sh --backend "$backend" --tests "$ISCSI_SUBSET" --rw-bytes 8388608 || rc=$?
      if [ "$rc" = 77 ]; then
        echo "run.sh: the iSCSI run (scripts/iscsi-conformance.sh) was skipped on $backend: see the reason above"
      elif [ "$rc" != 0 ]; then
        echo "run.sh: the iSCSI run failed on $backend" >&2
        exit "$rc"
      fi
    done
    ;;
  *)
    echo "usage: ./run.sh demo [demo options] | ./run.sh test [cargo test options]" >&2
    exit 2
    ;;
esac
