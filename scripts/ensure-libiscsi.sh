# Sourced by run.sh: the iSCSI conformance run (scripts/iscsi-conformance.sh) uses libiscsi's
# initiator tools and conformance suite (libiscsi-bin: iscsi-ls, iscsi-inq,
# iscsi-readcapacity16, iscsi-test-cu) and qemu-img with its libiscsi driver (qemu-utils,
# qemu-block-extra) to write and read back a file. Install them from Debian when root and
# missing; without root the run is skipped and says why.
# qemu-img can open iscsi:// URLs (its iSCSI block module is installed and loads).
qemu_iscsi_ok() {
  command -v qemu-img >/dev/null 2>&1 || return 1
  local out
  # qemu-img fails here either way (nobody listens on port 1): only its message tells.
  out=$(timeout 10 qemu-img info iscsi://127.0.0.1:1/iqn.invalid:x/0 2>&1 || true)
  case "$out" in
    *"Unable to load module"*|*"Unknown protocol"*|*"Must specify either driver"*) return 1 ;;
  esac
  return 0
}
ensure_libiscsi() {
  local want=()
  command -v iscsi-test-cu >/dev/null 2>&1 || want+=(libiscsi-bin)
  if ! qemu_iscsi_ok; then
    want+=(qemu-utils qemu-block-extra)
  fi
  [ ${#want[@]} = 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run.sh: installing ${want[*]} from Debian" >&2
    apt-get update -qq
    local pkgs=() v
    # qemu-block-extra must be the very version of qemu-utils (a backported qemu-utils has
    # no matching module): both at qemu-block-extra's candidate.
    v=$(apt-cache policy qemu-block-extra 2>/dev/null | awk '/Candidate/{print $2}')
    for p in "${want[@]}"; do
      case "$p" in
        qemu-*) [ -n "$v" ] && [ "$v" != "(none)" ] && pkgs+=("$p=$v") ;;
        *) pkgs+=("$p") ;;
      esac
    done
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades "${pkgs[@]}" >&2 \
      || echo "run.sh: installing ${pkgs[*]} failed (the iSCSI run will say what is missing)" >&2
  else
    echo "run.sh: ${want[*]} not found and cannot install them (the iSCSI run will be skipped)" >&2
  fi
}
