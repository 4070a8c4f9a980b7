#!/usr/bin/env bash
# The iSCSI conformance run: libiscsi's initiator tools and its conformance suite against the
# Buflet NIC's iSCSI target (`buflet serve --protocol iscsi`) through a TAP interface.
#
#   scripts/iscsi-conformance.sh [--backend model|rtl] [--mode zerocopy|p2p] [--tests SPEC]
#                                [--rw-bytes N] [--buflet PATH] [--timeout SECONDS]
#
# Makes a network namespace holding a TAP interface (the initiator's side: 10.213.0.1/24),
# starts `buflet serve --tap --protocol iscsi` on it (the NIC: 10.213.0.2:3260, one 64 MiB
# logical unit), then runs, each bounded in time: `iscsi-ls` (discovery), `iscsi-inq`,
# `iscsi-readcapacity16` and `iscsi-test-cu --dataloss -t SPEC` (default ALL). With
# `--rw-bytes N` (and qemu-img with its iSCSI driver, libiscsi too) N seeded bytes are written
# to the logical unit and read back through the target, compared by sha256 (and against the
# image the target reports at the end). Every address lives only inside the namespace, which
# is removed on every exit.
#
# Ends with one JSON line: tests, passed, failed, asserts_failed, failing (names), and
# backend, tools (each tool's outcome), rw (the write/read-back check), scsi_commands,
# passed. Exit 0 when every tool and test passed; 77 when the run cannot happen here (not
# root, no /dev/net/tun, no libiscsi-bin): the line then has "skipped" with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

backend=model mode=zerocopy tests=ALL rw=0 buflet=./target/release/buflet limit=3600
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    --rw-bytes) rw=$2; shift 2 ;;
    --buflet) buflet=$2; shift 2 ;;
    --timeout) limit=$2; shift 2 ;;
    *) echo "iscsi-conformance: unknown option $1" >&2; exit 2 ;;
  esac
done
for v in "$rw" "$limit"; do
  case "$v" in ''|*[!0-9]*) echo "iscsi-conformance: not a number: $v" >&2; exit 2 ;; esac
done
case "$backend" in model|rtl) ;; *) echo "iscsi-conformance: --backend must be model or rtl" >&2; exit 2 ;; esac
case "$mode" in zerocopy|p2p) ;; *) echo "iscsi-conformance: --mode must be zerocopy or p2p" >&2; exit 2 ;; esac
case "$tests" in ''|*[!A-Za-z0-9._*,-]*) echo "iscsi-conformance: --tests must be FAMILY[.SUITE[.TEST]][,...]" >&2; exit 2 ;; esac

skip() {
  echo "iscsi-conformance: skipped: $1" >&2
  printf '{"tests":0,"passed":0,"failed":0,"backend":"%s","skipped":"%s"}\n' "$backend" "$1"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and a TAP interface)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v python3 >/dev/null || skip "no python3 to read the results"
command -v iscsi-test-cu >/dev/null || skip "no iscsi-test-cu (libiscsi-bin; ./run.sh provisions it)"
[ -x "$buflet" ] || { echo "iscsi-conformance: $buflet not built (cargo build --release --bin buflet)" >&2; exit 2; }

ns="buflet-iscsi-$$"
tap="bfi$$"
tap=${tap:0:15}
work=$(mktemp -d "${TMPDIR:-/tmp}/buflet-iscsi-XXXXXX")
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap 'cleanup || true' EXIT
trap 'exit 130' INT TERM HUP

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev "$tap" mode tap
ip netns exec "$ns" sysctl -q -w "net.ipv6.conf.$tap.disable_ipv6=1"
ip -n "$ns" addr add 10.213.0.1/24 dev "$tap"
ip -n "$ns" link set "$tap" up

# serve NAME: start `buflet serve --protocol iscsi` with its JSON lines in $work/NAME.jsonl.
serve() {
  ip netns exec "$ns" "$buflet" serve --tap "$tap" --backend "$backend" --ip 10.213.0.2 \
    --protocol iscsi --mode "$mode" --json >"$work/$1.jsonl" 2>"$work/$1.err" &
  serve_pid=$!
  for _ in $(seq 1 600); do
    grep -q '"event":"listening"' "$work/$1.jsonl" 2>/dev/null && break
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '"event":"listening"' "$work/$1.jsonl" 2>/dev/null; then
    echo "iscsi-conformance: buflet serve did not start: $(tail -n 3 "$work/$1.err")" >&2
    printf '{"tests":0,"passed":0,"failed":0,"backend":"%s","error":"serve did not start"}\n' "$backend"
    exit 1
  fi
}
# stop: interrupt serve; it writes its summary and exits (bounded wait).
stop() {
  kill -INT "$serve_pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$serve_pid" 2>/dev/null; then
    kill -KILL "$serve_pid" 2>/dev/null || true
  fi
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=""
}

iqn=iqn.2026-12.org.buflet:lu0
url="iscsi://10.213.0.2/$iqn/0"

# The file written and read back, on a target of its own (its summary's host-DRAM bytes are
# then this traffic's alone).
rw_json=null
if [ "$rw" -gt 0 ]; then
  . scripts/ensure-libiscsi.sh
  if qemu_iscsi_ok; then
    serve rw
    python3 -c "import random,sys; sys.stdout.buffer.write(random.Random(7).randbytes($rw))" >"$work/src.bin"
    src_sha=$(sha256sum "$work/src.bin" | cut -d' ' -f1)
    w=ok r=ok
    # qemu's iSCSI driver reconnects when 3 of its NOP-Outs (one per 5 s) stay unanswered. The
    # Verilated RTL moves about 1 MB/s, and a NOP-Out (or its NOP-In) queued behind qemu-img's
    # default 8 coroutines of 2 MiB each waits ~16 s: on the RTL one request is in flight.
    conc=()
    if [ "$backend" = rtl ]; then conc=(-m 1); fi
    timeout "$limit" ip netns exec "$ns" qemu-img convert "${conc[@]}" -n -f raw -O raw "$work/src.bin" "$url" \
      >"$work/qw.out" 2>&1 || w="failed: $(tail -n 1 "$work/qw.out" | tr -d '"\\')"
    timeout "$limit" ip netns exec "$ns" qemu-img convert "${conc[@]}" -f raw -O raw "$url" "$work/back.bin" \
      >"$work/qr.out" 2>&1 || r="failed: $(tail -n 1 "$work/qr.out" | tr -d '"\\')"
    back_sha=$(head -c "$rw" "$work/back.bin" 2>/dev/null | sha256sum | cut -d' ' -f1)
    rm -f "$work/back.bin"
    stop
    rw_json=$(printf '{"bytes":%s,"write":"%s","read":"%s","sha256":"%s","read_sha256":"%s","verified":%s}' \
      "$rw" "$w" "$r" "$src_sha" "$back_sha" "$([ "$src_sha" = "$back_sha" ] && echo true || echo false)")
  else
    rw_json='{"skipped":"no qemu-img with its iSCSI driver (qemu-utils, qemu-block-extra)"}'
  fi
fi

serve suite
run() { # name, seconds, command...: the tool's outcome into $work/tool-<name>
  local name=$1 t=$2; shift 2
  if timeout "$t" ip netns exec "$ns" "$@" >"$work/$name.out" 2>&1; then
    echo ok >"$work/tool-$name"
  else
    echo "failed ($?)" >"$work/tool-$name"
  fi
}
run iscsi-ls 60 iscsi-ls -s "iscsi://10.213.0.2"
run iscsi-inq 60 iscsi-inq "$url"
run iscsi-readcapacity16 60 iscsi-readcapacity16 "$url"

# The suite writes its XML results into its working directory: one run per spec, each kept.
IFS=, read -ra specs <<<"$tests"
i=0
for spec in "${specs[@]}"; do
  i=$((i + 1))
  (cd "$work" && timeout "$limit" ip netns exec "$ns" iscsi-test-cu --dataloss --xml -t "$spec" "$url" \
    >"$work/cu-$i.out" 2>&1) || true
  if [ -f "$work/CUnitAutomated-Results.xml" ]; then
    mv "$work/CUnitAutomated-Results.xml" "$work/results-$i.xml"
  else
    # No results at all (the target died, the login failed): the spec counts as failed.
    printf '%s\n' "$spec" >"$work/noresults-$i"
  fi
done
stop

python3 - "$work" "$backend" "$rw_json" "$mode" <<'PY'
import json, pathlib, re, sys
import xml.etree.ElementTree as ET
work, backend, rw, mode = pathlib.Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
tools = {n: (work / f"tool-{n}").read_text().strip()
         for n in ("iscsi-ls", "iscsi-inq", "iscsi-readcapacity16")}
tests = passed = failed = asserts_failed = 0
failing = []
for xml in sorted(work.glob("results-*.xml")):
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError:
        # A run cut by its time limit leaves the file unfinished: its tests count as failed.
        failing.append(f"{xml.name}: cut short (unfinished results)")
        continue
    for rec in root.iter("CUNIT_RUN_TEST_RECORD"):
        for ok in rec.iter("CUNIT_RUN_TEST_SUCCESS"):
            passed += 1
        names = {b.findtext("TEST_NAME", "").strip() for b in rec.iter("CUNIT_RUN_TEST_FAILURE")}
        for n in sorted(names):
            if n not in failing:
                failing.append(n)
    for row in root.iter("CUNIT_RUN_SUMMARY_RECORD"):
        if row.findtext("TYPE", "").strip() == "Assertions":
            asserts_failed += int(row.findtext("FAILED", "0").strip() or 0)
for nr in sorted(work.glob("noresults-*")):
    failing.append(f"{nr.read_text().strip()}: no results (the suite could not run)")
failed = len(failing)
tests = passed + failed
def summary_of(name):
    p = work / f"{name}.jsonl"
    if not p.exists():
        return {}
    for line in p.read_text().splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("event") == "summary":
            return o
    return {}
summary = summary_of("suite")
rw_summary = summary_of("rw")
ok = (tests > 0 and failed == 0 and all(v == "ok" for v in tools.values())
      and (rw is None or rw.get("verified", True)))
if isinstance(rw, dict) and "skipped" in rw:
    ok = False
if isinstance(rw, dict) and rw_summary:
    # The logical unit's blocks after the write, and what every agent moved through host
    # DRAM per byte written and read back.
    rw["image_sha256"] = rw_summary.get("lu_sha256")
    rw["dram_crossings_per_byte"] = rw_summary.get("dram_crossings_per_byte")
    rw["serve_error"] = rw_summary.get("error")
    # Window updates the NIC's ticks sent while the file moved (p2p fills the window).
    rw["wnd_updates"] = rw_summary.get("wnd_updates")
    if rw.get("bytes") == 64 << 20 and rw["image_sha256"] != rw.get("sha256"):
        rw["verified"] = False  # the whole 64 MiB logical unit was written: it must match
print(json.dumps({"tests": tests, "passed": passed, "failed": failed,
                  "asserts_failed": asserts_failed, "failing": failing, "backend": backend, "mode": mode,
                  "tools": tools, "rw": rw,
                  "scsi_commands": (summary.get("scsi") or {}).get("completed"),
                  "serve_error": summary.get("error"), "passed_all": ok}))
sys.exit(0 if ok else 1)
PY
