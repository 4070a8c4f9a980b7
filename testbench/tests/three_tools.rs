//! The RTL elaborates in the three tools a bring-up meets: Verilator (testbench/tests/lint.rs
//! lints every module), Icarus Verilog (`iverilog -g2012`) and Yosys (`read_verilog -sv`,
//! `hierarchy -check`), at 64 and 512 bits; and a broken parameter stops each of the other two
//! with its message (Icarus 11 has no elaboration-time `$error`: there the check fires at time
//! 0, rtl/buflet_checks.vh). Tool-level test: no backend is involved. `./run.sh` installs
//! Icarus and Yosys (scripts/ensure-hdl-tools.sh).

use std::path::PathBuf;
use std::process::Command;

fn rtl() -> PathBuf {
    buflet_testbench::simspeed::rtl_dir()
}

/// Every Verilog file of rtl/, sorted.
fn sources() -> Vec<PathBuf> {
    let v = buflet_testbench::simspeed::rtl_sources().unwrap();
    assert!(v.len() > 20, "rtl/*.v: {v:?}");
    v
}

fn tool(name: &str) -> Command {
    let ok = Command::new(name)
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{name} is not installed: ./run.sh installs it (scripts/ensure-hdl-tools.sh), or apt-get install {}",
        if name == "yosys" { "yosys" } else { "iverilog" }
    );
    Command::new(name)
}

/// Icarus: compile the top at `width`, then run it (the parameter checks fire at time 0).
/// Returns (compiled, what the compiler and the run printed).
fn icarus(width: u32) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nic.vvp");
    let o = tool("iverilog")
        .arg("-g2012")
        .arg("-I")
        .arg(rtl())
        .args(["-s", "buflet_nic", "-o"])
        .arg(&out)
        .arg(format!("-Pbuflet_nic.DATA_WIDTH={width}"))
        .args(sources())
        .output()
        .unwrap();
    let mut text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        return (false, text);
    }
    // No clock is driven: the run ends once time 0 is done.
    let r = tool("vvp").arg("-n").arg(&out).output().unwrap();
    text += &String::from_utf8_lossy(&r.stdout);
    (true, text)
}

/// Yosys: read every file and elaborate the top's hierarchy at `width`.
fn yosys(width: u32) -> (bool, String) {
    let files: Vec<String> = sources().iter().map(|p| p.display().to_string()).collect();
    let script = format!(
        "read_verilog -sv -I {} {}; hierarchy -check -top buflet_nic -chparam DATA_WIDTH {width}",
        rtl().display(),
        files.join(" ")
    );
    let o = tool("yosys").args(["-q", "-p", &script]).output().unwrap();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), text)
}

#[test]
fn icarus_elaborates_the_top_at_64_and_512_bits() {
    for w in [64, 512] {
        let (ok, text) = icarus(w);
        assert!(ok && !text.contains("ERROR"), "{w} bits:\n{text}");
    }
    let (_, text) = icarus(96);
    assert!(
        text.contains("ERROR: buflet_nic: DATA_WIDTH must be a power of two in 64..512"),
        "{text}"
    );
}

#[test]
fn yosys_elaborates_the_top_at_64_and_512_bits() {
    for w in [64, 512] {
        let (ok, text) = yosys(w);
        assert!(ok && !text.contains("ERROR"), "{w} bits:\n{text}");
    }
    let (ok, text) = yosys(96);
    assert!(
        !ok && text.contains("buflet_nic: DATA_WIDTH must be a power of two in 64..512"),
        "{text}"
    );
}

/// Runs scripts/rtl-equiv.sh with `args`, its temporary files under `tmp`: (exit code,
/// stdout, stderr).
fn rtl_equiv(args: &[&str], tmp: &std::path::Path) -> (i32, String, String) {
    let _ = tool("yosys");
    let script = rtl().join("../scripts/rtl-equiv.sh");
    let o = Command::new("bash")
        .arg(script)
        .args(args)
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// scripts/rtl-equiv.sh, the proof a logic-depth change is checked with (docs/fpga.md): a
/// module is proved equal to itself, a one-bit change in its byte count is found, a bad
/// parameter is refused in one line, and no temporary file is left behind.
#[test]
fn rtl_equiv_proves_and_refutes() {
    let tmp = tempfile::tempdir().unwrap();
    let packer = rtl().join("axis_packer.v");
    let packer = packer.to_str().unwrap();
    let (code, out, err) = rtl_equiv(&["--files", packer, packer, "axis_packer"], tmp.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("axis_packer: equivalent"), "{out}");

    // the count of tkeep's bytes, off when byte 1 is kept
    let src = std::fs::read_to_string(rtl().join("axis_packer.v")).unwrap();
    let good = "assign nbytes = g_cnt[LV].c;";
    assert!(
        src.contains(good),
        "axis_packer.v changed: update this test"
    );
    let bad = src.replace(
        good,
        "assign nbytes = g_cnt[LV].c ^ {{(CW-1){1'b0}}, s_axis_tkeep[1]};",
    );
    let mutated = tmp.path().join("mutated").join("axis_packer.v");
    std::fs::create_dir(mutated.parent().unwrap()).unwrap();
    std::fs::write(&mutated, bad).unwrap();
    let (code, out, err) = rtl_equiv(
        &["--files", packer, mutated.to_str().unwrap(), "axis_packer"],
        tmp.path(),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("NOT proved equivalent"), "{out}");

    let (code, out, err) = rtl_equiv(&["axis_packer", "HEAD", "-p", "DATA_WIDTH=x"], tmp.path());
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad parameter"), "{err}");

    // only the mutated copy is left in TMPDIR: the script's own directories are gone
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("mutated")], "{left:?}");
}
