//! `verilator --lint-only -Wall` is clean on the top and on every module, at 64 and 512 bits.
//! (Backend-independent: lint concerns the RTL sources only.)

use std::path::Path;
use std::process::Command;

fn verilator() -> String {
    std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".into())
}

fn lint(top: &str, width: u32) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let src = std::fs::read_to_string(root.join(format!("rtl/{top}.v"))).unwrap();
    let mut args = vec![
        "--lint-only".to_string(),
        "-Wall".into(),
        "-Irtl".into(),
        "-y".into(),
        "rtl".into(),
    ];
    if src.contains("parameter DATA_WIDTH") {
        args.push(format!("-GDATA_WIDTH={width}"));
    }
    args.push(format!("rtl/{top}.v"));
    let out = Command::new(verilator())
        .current_dir(root)
        .args(&args)
        .output()
        .expect("verilator runs (provisioned by ./run.sh)");
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

#[test]
fn every_rtl_module_lints_clean_at_64_and_512() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut mods: Vec<String> = std::fs::read_dir(root.join("rtl"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".v").map(str::to_string))
        .collect();
    mods.sort();
    assert!(
        mods.iter().any(|m| m == "buflet_nic"),
        "rtl/buflet_nic.v exists"
    );
    let mut dirty = Vec::new();
    for m in &mods {
        for w in [64, 512] {
            let out = lint(m, w);
            if out.contains("%Warning") || out.contains("%Error") {
                dirty.push(format!("--- {m} at {w} bits:\n{out}"));
            }
        }
    }
    assert!(dirty.is_empty(), "lint not clean:\n{}", dirty.join("\n"));
}
