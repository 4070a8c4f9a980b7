#!/usr/bin/env bash
# Which of toe_engine's tables Yosys infers as memories with a synchronous read port (block-RAM
# material) and which stay asynchronous (flip-flops or LUT-RAM), at a given socket count:
#
#   scripts/yosys-memories.sh [NUM_SOCKETS]     # default 256; needs Debian's yosys
#
# Runs Yosys's front end and memory_dff only (no technology mapping: a minute or two), and
# prints one line per memory: name, depth x width, read port sync or async.
set -euo pipefail
cd "$(dirname "$0")/.."
sockets=${1:-256}
case "$sockets" in ''|*[!0-9]*) echo "yosys-memories: NUM_SOCKETS must be a number" >&2; exit 2 ;; esac
command -v yosys >/dev/null || { echo "yosys-memories: yosys not found (apt-get install yosys)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/buflet-yosys-XXXXXX")
trap 'rm -rf "$work"' EXIT
files=$(echo rtl/toe_*.v rtl/rr_pick.v rtl/sync_fifo.v rtl/axis_packer.v)
cat >"$work/mem.ys" <<YS
read_verilog -sv -I rtl $files
hierarchy -top toe_engine -chparam NUM_SOCKETS $sockets -chparam HASH_BUCKETS $((sockets * 4))
proc
flatten
opt -fast
memory_dff
memory_collect
opt_clean
tee -q -o $work/mems.txt dump t:\$mem_v2
YS
yosys -q -s "$work/mem.ys" >"$work/log.txt" 2>&1 || { tail -n 20 "$work/log.txt" >&2; exit 1; }
awk '
  /^  cell \$mem_v2/ { name=$3 }
  /parameter .SIZE / { size=$3 }
  /parameter .WIDTH / { width=$3 }
  /parameter .RD_CLK_ENABLE / { rd=$3 }
  /^  end/ && name != "" {
    sync = (rd ~ /^[0-9]+.b?1+$/ || rd == "1\x271") ? "sync" : "async"
    if (rd ~ /0/) sync = "async"
    printf "%-28s %7s x %-5s read %s\n", substr(name, 2), size, width, sync
    name=""
  }' "$work/mems.txt"
