# Sourced by run.sh: the read-back test opens a capture with tcpdump (a libpcap reader, as
# Wireshark uses). Install it from Debian when root and missing.
ensure_tcpdump() {
  if PATH="$PATH:/usr/sbin:/sbin" command -v tcpdump >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run.sh: installing tcpdump from Debian" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump >&2
  else
    echo "run.sh: tcpdump not found and cannot install it: install tcpdump" >&2
    return 1
  fi
}
