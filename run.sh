#!/usr/bin/env bash
# Buflet's entry point. Quick start:
#   ./run.sh demo   # the built-in demo on the Verilated RTL and on the Rust model
#   ./run.sh test   # every test: unit, RTL module, lint, end to end on both backends
# And:
#   ./run.sh fpga   # synthesis and ECP5 place and route with open tools (docs/fpga.md)
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
. scripts/ensure-hdl-tools.sh
ensure_hdl_tools
# What `./run.sh test` runs of libiscsi's conformance suite: all of it on the model, and on
# the RTL the suites that do not move hundreds of megabytes (the RTL simulates slower).
ISCSI_MODEL_TESTS="ALL"
ISCSI_RTL_TESTS="ALL.Inquiry,ALL.ReadCapacity10,ALL.ReadCapacity16,ALL.TestUnitReady,ALL.Mandatory,ALL.ModeSense6,ALL.Unmap,ALL.GetLBAStatus.BeyondEol,ALL.PrinReadKeys,ALL.ProutRegister,ALL.ProutReserve,ALL.iSCSIResiduals,ALL.iSCSITMF,ALL.iSCSIcmdsn,ALL.iSCSIdatasn"
# p2p (data-out stays in the NIC, headers read through its window): a subset on each backend
# (all of the suite takes about 10 minutes on the model in p2p: every command larger than the
# free buflets waits for the NIC's window update at the next timer tick).
ISCSI_MODEL_P2P_TESTS="ALL.Inquiry,ALL.Mandatory,ALL.TestUnitReady,ALL.Unmap,ALL.CompareAndWrite,ALL.Read10,ALL.Write10,ALL.PrinReadKeys,ALL.ProutRegister,ALL.ProutReserve,ALL.iSCSIResiduals,ALL.iSCSITMF,ALL.iSCSIcmdsn,ALL.iSCSIdatasn"
# On the RTL (about 1 MB/s) a 1 MiB WRITE that waits on the persist timer takes seconds, so
# the p2p subset there leaves out the suites of large writes (Unmap writes 1..255 blocks).
ISCSI_RTL_P2P_TESTS="ALL.Inquiry,ALL.TestUnitReady,ALL.Mandatory,ALL.ProutRegister,ALL.iSCSIResiduals,ALL.iSCSIcmdsn,ALL.iSCSIdatasn"
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
    # The iSCSI target against libiscsi (an independent initiator): its tools, its conformance
    # suite (all of it on the model, a subset on the RTL) and a file written and read back by
    # qemu-img, on each backend, zero-copy and p2p.
    for run in rtl/zerocopy rtl/p2p model/zerocopy model/p2p; do
      backend=${run%/*} mode=${run#*/} rc=0
      case "$run" in
        rtl/zerocopy) tests=$ISCSI_RTL_TESTS ;;
        rtl/p2p) tests=$ISCSI_RTL_P2P_TESTS ;;
        model/p2p) tests=$ISCSI_MODEL_P2P_TESTS ;;
        *) tests=$ISCSI_MODEL_TESTS ;;
      esac
      scripts/iscsi-conformance.sh --backend "$backend" --mode "$mode" --tests "$tests" \
        --rw-bytes 8388608 || rc=$?
      if [ "$rc" = 77 ]; then
        echo "run.sh: the iSCSI run (scripts/iscsi-conformance.sh) was skipped on $run: see the reason above"
      elif [ "$rc" != 0 ]; then
        echo "run.sh: the iSCSI run failed on $run" >&2
        exit "$rc"
      fi
    done
    ;;
  fpga)
    shift
    . scripts/ensure-fpga-tools.sh
    ensure_fpga_tools
    cargo build --release --bin buflet
    ./target/release/buflet fpga "$@"
    ;;
  *)
    echo "usage: ./run.sh demo [demo options] | ./run.sh test [cargo test options] | ./run.sh fpga [fpga options]" >&2
    exit 2
    ;;
esac
