# Sourced by run.sh: the iSCSI conformance run (scripts/iscsi-conformance.sh) uses libiscsi's
# initiator tools and conformance suite (libiscsi-bin: iscsi-ls, iscsi-inq,
# iscsi-readcapacity16, iscsi-test-cu) and qemu-img with its libiscsi driver (qemu-utils,
# qemu-block-extra) to write and read back a file. Install them from Debian when root and
# missing; without root the run is skipped and says why.
ensure_libiscsi() {
  local want=()
  command -v iscsi-test-cu >/dev/null 2>&1 || want+=(libiscsi-bin)
  if ! command -v qemu-img >/dev/null 2>&1 || ! qemu-img --help 2>/dev/null | grep -qw iscsi; then
    want+=(qemu-utils qemu-block-extra)
  fi
  [ ${#want[@]} = 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run.sh: installing ${want[*]} from Debian" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >&2
  else
    echo "run.sh: ${want[*]} not found and cannot install them (the iSCSI run will be skipped)" >&2
  fi
}
