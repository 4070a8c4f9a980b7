# Sourced by run.sh: the RTL must elaborate in Icarus Verilog and Yosys as well as Verilator
# (testbench/tests/three_tools.rs), `buflet bench simspeed` replays a recorded stimulus in
# Icarus, and the Verilated models are built with FST tracing, which links zlib (and, with a
# Verilator of the 5.4x series, liblz4). Install what is missing from Debian when root.
ensure_hdl_tools() {
  local missing=""
  command -v iverilog >/dev/null 2>&1 && command -v vvp >/dev/null 2>&1 || missing="$missing iverilog"
  command -v yosys >/dev/null 2>&1 || missing="$missing yosys"
  [ -e /usr/include/zlib.h ] || missing="$missing zlib1g-dev"
  [ -e /usr/include/lz4.h ] || missing="$missing liblz4-dev"
  if [ -z "$missing" ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run.sh: installing$missing from Debian" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
  else
    echo "run.sh:$missing not found and cannot install them: install$missing" >&2
    return 1
  fi
}
