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
