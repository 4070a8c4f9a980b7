#!/usr/bin/env bash
# rtl-equiv.sh: proves that a restructured RTL module computes what the old one did, cycle for
# cycle (Yosys equiv_make, equiv_simple, equiv_induct: the two designs' outputs and
# same-named registers, by induction from equal states). For logic-depth work (docs/fpga.md):
# a change that regroups sums or compares should be proved, not only tested.
#
#   scripts/rtl-equiv.sh MODULE [REV] [-p NAME=VALUE]...
#       rtl/MODULE.v as it is now against rtl/MODULE.v at git revision REV (default HEAD)
#   scripts/rtl-equiv.sh --files GOLD.v GATE.v MODULE [-p NAME=VALUE]...
#       two files that each define MODULE
#
# -p sets a parameter of both (e.g. -p DATA_WIDTH=512). Includes come from rtl/. Prints one
# line; exits 0 when every output and register is proved equal, 1 when something is not (or
# the designs do not match up: a register renamed is not matched), 2 on a usage or tool error.
# Uses Debian's yosys (provisioned by ./run.sh test). Its temporary files are removed on every
# exit path.
set -euo pipefail

die() { echo "rtl-equiv: $*" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v yosys >/dev/null 2>&1 || die "yosys not found (./run.sh test provisions it)"

gold_src=""; gate_src=""; module=""; rev="HEAD"; params=()
if [ "${1:-}" = "--files" ]; then
  [ $# -ge 4 ] || die "usage: --files GOLD.v GATE.v MODULE [-p NAME=VALUE]..."
  gold_src=$2; gate_src=$3; module=$4; shift 4
  [ -f "$gold_src" ] || die "$gold_src: no such file"
  [ -f "$gate_src" ] || die "$gate_src: no such file"
else
  [ $# -ge 1 ] || die "usage: MODULE [REV] [-p NAME=VALUE]... | --files GOLD.v GATE.v MODULE [-p NAME=VALUE]..."
  module=$1; shift
  if [ $# -ge 1 ] && [ "$1" != "-p" ]; then rev=$1; shift; fi
  gate_src="$root/rtl/$module.v"
  [ -f "$gate_src" ] || die "rtl/$module.v: no such file"
fi
[[ "$module" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad module name: $module"
while [ $# -gt 0 ]; do
  [ "$1" = "-p" ] && [ $# -ge 2 ] || die "unexpected argument: $1"
  [[ "$2" =~ ^[A-Z_][A-Z0-9_]*=[0-9]+$ ]] || die "bad parameter (NAME=number): $2"
  params+=("$2"); shift 2
done

work=$(mktemp -d "${TMPDIR:-/tmp}/rtl-equiv.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

if [ -z "$gold_src" ]; then
  git -C "$root" show "$rev:rtl/$module.v" > "$work/gold_src.v" 2>/dev/null ||
    die "rtl/$module.v at $rev: not found"
  gold_src="$work/gold_src.v"
fi
# the old design's module is renamed, so both can be read into one design
sed -E "s/^(\s*module\s+)$module\b/\1${module}__gold/" "$gold_src" > "$work/gold.v"
grep -qE "^\s*module\s+${module}__gold\b" "$work/gold.v" || die "$gold_src defines no module $module"
cp "$gate_src" "$work/gate.v"
grep -qE "^\s*module\s+$module\b" "$work/gate.v" || die "$gate_src defines no module $module"

chparam=""
for p in "${params[@]+"${params[@]}"}"; do
  chparam+="chparam -set ${p%%=*} ${p#*=} ${module}__gold $module"$'\n'
done
cat > "$work/equiv.ys" <<EOF
read_verilog -sv -I$root/rtl $work/gold.v $work/gate.v
$chparam
hierarchy -check
proc
flatten
memory -nomap
memory_map
opt_clean
async2sync
equiv_make ${module}__gold $module equiv
hierarchy -top equiv
equiv_simple -undef
equiv_induct -undef
equiv_status
EOF
if ! (cd "$work" && yosys -q -l equiv.log -s equiv.ys) >/dev/null 2>&1; then
  msg=$(grep -m1 -E "ERROR" "$work/equiv.log" 2>/dev/null || true)
  die "yosys failed: ${msg:-see its log}"
fi
line=$(grep -E "Of those cells [0-9]+ are proven and [0-9]+ are unproven" "$work/equiv.log" | tail -1 || true)
[ -n "$line" ] || die "yosys printed no equivalence status"
proven=$(sed -E 's/.*Of those cells ([0-9]+) are proven and ([0-9]+) are unproven.*/\1/' <<<"$line")
unproven=$(sed -E 's/.*Of those cells ([0-9]+) are proven and ([0-9]+) are unproven.*/\2/' <<<"$line")
if [ "$unproven" = "0" ]; then
  echo "rtl-equiv: $module: equivalent ($proven signals proved)"
  exit 0
fi
echo "rtl-equiv: $module: NOT proved equivalent ($unproven of $((proven + unproven)) signals unproven)"
exit 1
