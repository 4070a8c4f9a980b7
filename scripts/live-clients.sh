#!/usr/bin/env bash
# The live test: the Linux kernel's own TCP uploads to Buflet through a TAP interface.
#
#   scripts/live-clients.sh [--backend model|rtl] [--clients N] [--bytes B] [--seed S]
#                           [--buflet PATH] [--timeout SECONDS]
#
# Makes a network namespace holding a TAP interface (the kernel's side: 10.213.0.1/24), starts
# `buflet serve --tap` on it (the NIC: 10.213.0.2, raw protocol, port 9000), runs N concurrent
# kernel clients (Python sockets, stock) that each upload B seeded bytes and close, captures the
# TAP with tcpdump, and checks that every file landed byte-exact (the sha256 `buflet serve`
# reports for each client against the client's own), that every buflet is free at the end,
# that no RST crossed the wire either way, and that the NIC coalesced its ACKs (fewer than
# three frames out per four in). Every address lives only inside the namespace, which
# is removed on every exit; each client is bounded in time.
#
# Ends with one JSON line: clients, verified, failed (and backend, rst_frames, buflets_free,
# num_buflets, frames_in, frames_out, delayed_acks, acks_coalesced, passed). Exit 0 when everything verified; 77 when the test cannot run here (not
# root, no /dev/net/tun, no `ip`): the line then has "skipped" with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

backend=model clients=8 bytes=1048576 seed=1 buflet=./target/release/buflet limit=600
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --buflet) buflet=$2; shift 2 ;;
    --timeout) limit=$2; shift 2 ;;
    *) echo "live-clients: unknown option $1" >&2; exit 2 ;;
  esac
done
for v in "$clients" "$bytes" "$seed" "$limit"; do
  case "$v" in ''|*[!0-9]*) echo "live-clients: not a number: $v" >&2; exit 2 ;; esac
done
case "$backend" in model|rtl) ;; *) echo "live-clients: --backend must be model or rtl" >&2; exit 2 ;; esac
if [ "$clients" -lt 1 ] || [ "$clients" -gt 256 ]; then
  echo "live-clients: --clients must be 1..256" >&2; exit 2
fi

skip() {
  echo "live-clients: skipped: $1" >&2
  printf '{"clients":%s,"verified":0,"failed":0,"backend":"%s","skipped":"%s","passed":false}\n' \
    "$clients" "$backend" "$1"
  exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and a TAP interface)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v python3 >/dev/null || skip "no python3 for the clients"
[ -x "$buflet" ] || { echo "live-clients: $buflet not built (cargo build --release --bin buflet)" >&2; exit 2; }
command -v tcpdump >/dev/null || skip "no tcpdump to watch the wire for RSTs (./run.sh provisions it)"

ns="buflet-live-$$"
tap="bfl$$"
tap=${tap:0:15}
work=$(mktemp -d "${TMPDIR:-/tmp}/buflet-live-XXXXXX")
serve_pid="" dump_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  [ -n "$dump_pid" ] && kill "$dump_pid" 2>/dev/null && wait "$dump_pid" 2>/dev/null
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

ip netns exec "$ns" tcpdump -q -n -i "$tap" -w "$work/live.pcap" 'tcp' 2>/dev/null &
dump_pid=$!

ip netns exec "$ns" "$buflet" serve --tap "$tap" --backend "$backend" --ip 10.213.0.2 \
  --port 9000 --exit-after "$clients" --json >"$work/serve.jsonl" 2>"$work/serve.err" &
serve_pid=$!

# Ready when serve says it listens (bounded: the RTL build may still be loading).
for _ in $(seq 1 600); do
  grep -q '"event":"listening"' "$work/serve.jsonl" 2>/dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q '"event":"listening"' "$work/serve.jsonl" 2>/dev/null; then
  echo "live-clients: buflet serve did not start: $(tail -n 3 "$work/serve.err")" >&2
  printf '{"clients":%s,"verified":0,"failed":%s,"backend":"%s","error":"serve did not start","passed":false}\n' \
    "$clients" "$clients" "$backend"
  exit 1
fi

# The clients: each uploads its seeded bytes, closes its direction and waits for the server's
# FIN, then prints its local port and the sha256 of what it sent.
cat >"$work/client.py" <<'PY'
import hashlib, random, socket, sys
idx, seed, size, limit = (int(a) for a in sys.argv[1:5])
data = random.Random(seed * 1000003 + idx).randbytes(size)
s = socket.create_connection(("10.213.0.2", 9000), timeout=limit)
s.settimeout(limit)
port = s.getsockname()[1]
s.sendall(data)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
s.close()
print(f"10.213.0.1:{port} {hashlib.sha256(data).hexdigest()}")
PY
pids=()
for i in $(seq 0 $((clients - 1))); do
  timeout "$limit" ip netns exec "$ns" python3 "$work/client.py" "$i" "$seed" "$bytes" "$limit" \
    >"$work/client-$i.out" 2>"$work/client-$i.err" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done

# serve ends by itself after --exit-after connections (bounded wait, then interrupted).
for _ in $(seq 1 $((limit * 10))); do
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$serve_pid" 2>/dev/null; then
  kill -INT "$serve_pid" 2>/dev/null || true
  sleep 2
fi
wait "$serve_pid" 2>/dev/null || true
serve_pid=""
if [ -n "$dump_pid" ]; then
  sleep 0.5
  kill "$dump_pid" 2>/dev/null || true
  wait "$dump_pid" 2>/dev/null || true
  dump_pid=""
fi
# No capture means the wire was not watched: the check fails rather than pass unseen.
rst=null
if [ -s "$work/live.pcap" ]; then
  rst=$(tcpdump -n -r "$work/live.pcap" 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null | wc -l)
fi

python3 - "$work" "$clients" "$backend" "$rst" <<'PY'
import json, pathlib, sys
work, n, backend, rst = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
sent = {}
for i in range(n):
    out = (work / f"client-{i}.out").read_text().split()
    if len(out) == 2:
        sent[out[0]] = out[1]
summary = {}
for line in (work / "serve.jsonl").read_text().splitlines():
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if o.get("event") == "summary":
        summary = o
landed = {c["client"]: c for c in summary.get("connections", [])}
verified = sum(1 for k, h in sent.items() if k in landed and landed[k].get("sha256") == h)
free, total = summary.get("buflets_free_end"), summary.get("num_buflets")
rst_frames = None if rst == "null" else int(rst)
# The NIC coalesces its ACKs (delayed ACKs on every accepted socket): about one frame out
# per two in; one per frame in would mean every segment was acknowledged on its own.
fin, fout = summary.get("frames_in") or 0, summary.get("frames_out") or 0
coalesced = fin > 0 and 4 * fout < 3 * fin
ok = (verified == n and free is not None and free == total and rst_frames == 0 and coalesced)
print(json.dumps({"clients": n, "verified": verified, "failed": n - verified,
                  "backend": backend, "rst_frames": rst_frames, "buflets_free": free,
                  "num_buflets": total, "frames_in": summary.get("frames_in"),
                  "frames_out": summary.get("frames_out"),
                  "delayed_acks": summary.get("delayed_acks"), "acks_coalesced": coalesced,
                  "serve_error": summary.get("error"), "passed": ok}))
sys.exit(0 if ok else 1)
PY
