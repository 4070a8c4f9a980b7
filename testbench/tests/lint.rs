//! `verilator --lint-only -Wall` is clean on the top and on every module, at 64 and 512 bits;
//! every Verilog file sets `` `default_nettype none `` and resets with `` `resetall ``; every
//! elaboration-time parameter check (rtl/buflet_checks.vh) fires, with its message, on a bad
//! value, and boundary values still elaborate clean.
//! (Backend-independent: lint concerns the RTL sources only.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn verilator() -> String {
    std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".into())
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `-G` parameters: (name, value).
type Params = Vec<(String, String)>;

/// Lints rtl/`top`.v with `-G` parameters; (success, stderr + stdout).
fn run_lint(top: &str, params: &[(String, String)]) -> (bool, String) {
    let mut args = vec![
        "--lint-only".to_string(),
        "-Wall".into(),
        "-Irtl".into(),
        "-y".into(),
        "rtl".into(),
    ];
    for (k, v) in params {
        args.push(format!("-G{k}={v}"));
    }
    args.push(format!("rtl/{top}.v"));
    let out = Command::new(verilator())
        .current_dir(root())
        .args(&args)
        .output()
        .expect("verilator runs (provisioned by ./run.sh)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

fn lint(top: &str, width: u32) -> String {
    let src = std::fs::read_to_string(root().join(format!("rtl/{top}.v"))).unwrap();
    let mut params = Vec::new();
    if src.contains("parameter DATA_WIDTH") {
        params.push(("DATA_WIDTH".to_string(), width.to_string()));
    }
    run_lint(top, &params).1
}

/// Files in `dir` (relative to the workspace root) ending in `ext`, sorted, as
/// (file stem, path).
fn files(dir: &str, ext: &str) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            Some((name.strip_suffix(ext)?.to_string(), e.path()))
        })
        .collect();
    v.sort();
    v
}

fn rtl_modules() -> Vec<String> {
    files("rtl", ".v").into_iter().map(|(m, _)| m).collect()
}

#[test]
fn every_rtl_module_lints_clean_at_64_and_512() {
    let mods = rtl_modules();
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

/// The ECP5 board top (fpga/ecp5/buflet_ecp5_evn.v) with port_scan and the whole RTL lints
/// clean too. Its PLL is a vendor primitive: Yosys's declaration of it (cells_bb.v, from the
/// Yosys that ./run.sh provisions) gives its ports, and fpga/ecp5/lint.vlt keeps Verilator's
/// warnings about that vendor file, and only that file, out.
#[test]
fn the_ecp5_board_top_lints_clean() {
    // Yosys finds its data next to its binary (<prefix>/bin/yosys, <prefix>/share/yosys).
    let yosys = std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("yosys"))
                .find(|y| y.is_file())
        })
        .expect("yosys on PATH (Debian's yosys, provisioned by ./run.sh)");
    let yosys = std::fs::canonicalize(&yosys).unwrap();
    let cells = yosys
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("share/yosys/ecp5/cells_bb.v");
    let mut args: Vec<String> = [
        "--lint-only",
        "-Wall",
        "-Irtl",
        "-Ifpga",
        "-y",
        "rtl",
        "-y",
        "fpga",
        "--top-module",
        "buflet_ecp5_evn",
        "fpga/ecp5/lint.vlt",
    ]
    .map(String::from)
    .to_vec();
    args.push(cells.display().to_string());
    args.push("fpga/ecp5/buflet_ecp5_evn.v".into());
    let out = Command::new(verilator())
        .current_dir(root())
        .args(&args)
        .output()
        .expect("verilator runs");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !text.contains("%Warning") && !text.contains("%Error"),
        "the board top does not lint clean:\n{text}"
    );
}

/// Lines that are not blank and not a `//` comment, trimmed.
fn code_lines(src: &str) -> Vec<&str> {
    src.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .collect()
}

/// In the manner of verilog-axis: `` `resetall `` then `` `default_nettype none `` before
/// anything else (a `` `timescale `` may stand between them), one module, and `` `resetall ``
/// right after its `endmodule`. Include files set nothing (see rtl/buflet_checks.vh).
#[test]
fn every_verilog_file_sets_default_nettype_none_and_resets() {
    let mut bad = Vec::new();
    let mut sources = files("rtl", ".v");
    sources.extend(files("sim/selftest", ".v"));
    sources.extend(files("fpga", ".v"));
    sources.extend(files("fpga/ecp5", ".v"));
    for (_, path) in &sources {
        let src = std::fs::read_to_string(path).unwrap();
        let code = code_lines(&src);
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        let module_at = code.iter().position(|l| l.starts_with("module "));
        let nettype_at = code.iter().position(|l| *l == "`default_nettype none");
        let modules = code.iter().filter(|l| l.starts_with("module ")).count();
        if code.first() != Some(&"`resetall") {
            bad.push(format!("{name}: the first directive is not `resetall"));
        }
        match (nettype_at, module_at) {
            (Some(n), Some(m)) if n < m => {
                if code[1..n].iter().any(|l| !l.starts_with("`timescale")) {
                    bad.push(format!(
                        "{name}: only a `timescale may stand between `resetall and `default_nettype none"
                    ));
                }
            }
            _ => bad.push(format!("{name}: no `default_nettype none before `module`")),
        }
        if modules != 1 {
            bad.push(format!("{name}: {modules} modules (one module per file)"));
        }
        if code.iter().any(|l| l.starts_with("`default_nettype wire")) {
            bad.push(format!(
                "{name}: `default_nettype wire (end the file with `resetall instead)"
            ));
        }
        if code.len() < 2 || code[code.len() - 2..] != ["endmodule", "`resetall"] {
            bad.push(format!(
                "{name}: does not end with endmodule then `resetall"
            ));
        }
    }
    for (_, path) in files("rtl", ".vh") {
        let src = std::fs::read_to_string(&path).unwrap();
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        if code_lines(&src)
            .iter()
            .any(|l| l.starts_with("`resetall") || l.starts_with("`default_nettype"))
        {
            bad.push(format!(
                "{name}: an include file sets `resetall/`default_nettype (its includer does)"
            ));
        }
    }
    for must in ["buflet_nic", "sim_selftest"] {
        assert!(
            sources.iter().any(|(stem, _)| stem == must),
            "{must}.v was checked"
        );
    }
    assert!(bad.is_empty(), "Verilog hygiene:\n{}", bad.join("\n"));
}

/// Bad parameter values, `"TOP PARAM=VALUE ... | message"`: each must stop elaboration of
/// rtl/TOP.v with that message. The test adds DATA_WIDTH=96 for every module that has a
/// DATA_WIDTH parameter.
const BAD_PARAMS: &[&str] = &[
    "axis_packer DATA_WIDTH=32 | axis_packer: DATA_WIDTH must be a power of two in 64..512",
    "axis_packer DATA_WIDTH=1024 | axis_packer: DATA_WIDTH must be a power of two in 64..512",
    "axis_packer KEEP_WIDTH=4 | axis_packer: KEEP_WIDTH must be DATA_WIDTH/8",
    "tx_builder KEEP_WIDTH=16 | tx_builder: KEEP_WIDTH must be DATA_WIDTH/8",
    "tx_data KEEP_WIDTH=16 | tx_data: KEEP_WIDTH must be DATA_WIDTH/8",
    "toe_tx NUM_POSTS=0 | toe_tx: NUM_POSTS must be in 1..4096",
    "toe_tx NUM_POSTS=4097 | toe_tx: NUM_POSTS must be in 1..4096",
    "tx_data MAX_SEG=0 | tx_data: MAX_SEG must be in 1..65469 (a frame of 66 + MAX_SEG bytes)",
    "tx_data MAX_SEG=65470 | tx_data: MAX_SEG must be in 1..65469 (a frame of 66 + MAX_SEG bytes)",
    "tx_data BUFLET_BYTES=8192 | tx_data: BUFLET_BYTES must be a power of two in KEEP_WIDTH..4096 (a run's room is 13 bits)",
    "tx_data BUFLET_BYTES=1000 | tx_data: BUFLET_BYTES must be a power of two in KEEP_WIDTH..4096 (a run's room is 13 bits)",
    "tx_data NUM_BUFLETS=3 | tx_data: NUM_BUFLETS must be a power of two in 2..32768",
    "tx_data BW_ADDR=5 | tx_data: BW_ADDR must be $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH)",
    "buflet_pool BUFLET_BYTES=1000 | buflet_pool: BUFLET_BYTES must be a power of two >= KEEP_WIDTH",
    "buflet_pool BUFLET_BYTES=4 | buflet_pool: BUFLET_BYTES must be a power of two >= KEEP_WIDTH",
    "buflet_pool NUM_BUFLETS=100 | buflet_pool: NUM_BUFLETS must be a power of two in 2..32768",
    "buflet_pool NUM_BUFLETS=65536 | buflet_pool: NUM_BUFLETS must be a power of two in 2..32768",
    "buflet_pool KEEP_WIDTH=16 | buflet_pool: KEEP_WIDTH must be DATA_WIDTH/8",
    "buflet_pool BW_ADDR=20 | buflet_pool: BW_ADDR must be $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH)",
    "buf_window KEEP_WIDTH=16 | buf_window: KEEP_WIDTH must be DATA_WIDTH/8",
    "buf_window BUFLET_BYTES=1000 | buf_window: BUFLET_BYTES must be a power of two >= KEEP_WIDTH",
    "buf_window DATA_WIDTH=512 BUFLET_BYTES=32 | buf_window: BUFLET_BYTES must be a power of two >= KEEP_WIDTH",
    "buf_window NUM_BUFLETS=100 | buf_window: NUM_BUFLETS must be a power of two in 2..32768",
    "buf_window NUM_BUFLETS=65536 | buf_window: NUM_BUFLETS must be a power of two in 2..32768",
    "buf_window BW_ADDR=20 | buf_window: BW_ADDR must be $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH)",
    "rx_parser BUFLET_BYTES=8 | rx_parser: BUFLET_BYTES must be a power of two >= 2*KEEP_WIDTH",
    "rx_parser BUFLET_BYTES=3000 | rx_parser: BUFLET_BYTES must be a power of two >= 2*KEEP_WIDTH",
    "rx_parser NUM_BUFLETS=1 | rx_parser: NUM_BUFLETS must be a power of two in 2..32768",
    "rx_parser KEEP_WIDTH=16 | rx_parser: KEEP_WIDTH must be DATA_WIDTH/8",
    "rx_parser BW_ADDR=20 | rx_parser: BW_ADDR must be $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH)",
    "toe_mover BUFLET_BYTES=65536 | toe_mover: BUFLET_BYTES must be a power of two in 2*KEEP_WIDTH..32768",
    "toe_mover BUFLET_BYTES=8 | toe_mover: BUFLET_BYTES must be a power of two in 2*KEEP_WIDTH..32768",
    "toe_mover NUM_BUFLETS=48 | toe_mover: NUM_BUFLETS must be a power of two in 2..32768",
    "toe_mover KEEP_WIDTH=16 | toe_mover: KEEP_WIDTH must be DATA_WIDTH/8",
    "toe_mover BW_ADDR=20 | toe_mover: BW_ADDR must be $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH)",
    "blk_dma BUFLET_BYTES=1000 | blk_dma: BUFLET_BYTES must be a power of two >= DATA_WIDTH/8",
    "blk_dma NUM_BUFLETS=3 | blk_dma: NUM_BUFLETS must be a power of two in 2..32768",
    "blk_dma BW_ADDR=20 | blk_dma: BW_ADDR must be $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH)",
    "sync_fifo DEPTH=3 | sync_fifo: DEPTH must be a power of two >= 2",
    "sync_fifo DEPTH=1 | sync_fifo: DEPTH must be a power of two >= 2",
    "prot_table NUM_REGIONS=0 | prot_table: NUM_REGIONS must be >= 1",
    "prot_table NPORTS=0 | prot_table: NPORTS must be >= 1",
    "reg_block NFAULT=0 | reg_block: NFAULT must be >= 1",
    "rr_pick N=0 | rr_pick: N must be >= 1",
    "rr_pick N=4 GW=1 | rr_pick: GW must be >= $clog2(N) and >= 1",
    "stream_arb N=0 | stream_arb: N must be >= 1",
    "dma_rd_arb N=0 | dma_rd_arb: N must be in 1..256 (the requester id is 8 bits)",
    "dma_rd_arb N=300 | dma_rd_arb: N must be in 1..256 (the requester id is 8 bits)",
    "dma_rd_arb OUTSTANDING=6 | dma_rd_arb: OUTSTANDING must be a power of two >= 2",
    "dma_rd_arb OUTSTANDING=1 | dma_rd_arb: OUTSTANDING must be a power of two >= 2",
    "dma_wr_arb OUTSTANDING=6 | dma_wr_arb: OUTSTANDING must be a power of two >= 2",
    "dma_wr_arb OUTSTANDING=1 | dma_wr_arb: OUTSTANDING must be a power of two >= 2",
    "dma_wr_arb N=0 | dma_wr_arb: N must be in 1..256 (the requester id is 8 bits)",
    "dma_wr_arb N=300 | dma_wr_arb: N must be in 1..256 (the requester id is 8 bits)",
    "toe_engine KEEP_WIDTH=16 | toe_engine: KEEP_WIDTH must be DATA_WIDTH/8",
    "toe_engine NUM_BUFLETS=100 | toe_engine: NUM_BUFLETS must be a power of two in 2..32768",
    "toe_engine BW_ADDR=20 | toe_engine: BW_ADDR must be $clog2(NUM_BUFLETS*BUFLET_BYTES/KEEP_WIDTH)",
    "toe_engine BUFLET_BYTES=8192 | toe_engine: BUFLET_BYTES must be a power of two in 2*KEEP_WIDTH..4096",
    "toe_engine BUFLET_BYTES=3000 | toe_engine: BUFLET_BYTES must be a power of two in 2*KEEP_WIDTH..4096",
    "toe_lookup HASH_BUCKETS=100 | toe_lookup: HASH_BUCKETS must be a power of two",
    "toe_engine NUM_SOCKETS=1 | toe_engine: NUM_SOCKETS must be in 2..65535",
    "toe_listen NUM_LISTEN=0 | toe_listen: NUM_LISTEN must be in 1..256",
    "toe_listen NUM_LISTEN=257 | toe_listen: NUM_LISTEN must be in 1..256",
    "toe_tcp_rx BUFLET_BYTES=3000 | toe_tcp_rx: BUFLET_BYTES must be a power of two >= 2",
    "toe_tcp_rx BUFLET_BYTES=1 | toe_tcp_rx: BUFLET_BYTES must be a power of two >= 2",
    "toe_deliver BUFLET_BYTES=3000 | toe_deliver: BUFLET_BYTES must be a power of two <= 4096",
    "toe_deliver BUFLET_BYTES=8192 | toe_deliver: BUFLET_BYTES must be a power of two <= 4096",
    "toe_udp_anon BUFLET_BYTES=3000 | toe_udp_anon: BUFLET_BYTES must be a power of two",
    // toe_engine's submodules check through it
    "toe_engine HASH_BUCKETS=100 | toe_lookup: HASH_BUCKETS must be a power of two",
    "buflet_nic HASH_BUCKETS=100 | buflet_nic: HASH_BUCKETS must be a power of two (toe_engine)",
    "buflet_nic BUFLET_BYTES=8192 | buflet_nic: BUFLET_BYTES must be a power of two in 2*KEEP_WIDTH..4096 (toe_engine)",
    "buflet_nic BUFLET_BYTES=3000 | buflet_nic: BUFLET_BYTES must be a power of two in 2*KEEP_WIDTH..4096 (toe_engine)",
    // a submodule's check fires through the top
    "buflet_nic NUM_REGIONS=0 | prot_table: NUM_REGIONS must be >= 1",
];

/// Boundary values that are allowed, `"TOP PARAM=VALUE ..."`: they must lint clean.
const GOOD_PARAMS: &[&str] = &[
    "sync_fifo DEPTH=2",
    "prot_table NUM_REGIONS=5 NPORTS=2",
    "prot_table NUM_REGIONS=1 NPORTS=1",
    "rr_pick N=1",
    "rr_pick N=4 GW=3",
    "stream_arb N=1",
    "dma_rd_arb N=1",
    "dma_wr_arb N=256",
    "reg_block NFAULT=1",
    "buflet_pool DATA_WIDTH=512 BUFLET_BYTES=64 NUM_BUFLETS=2",
    "rx_parser DATA_WIDTH=512 BUFLET_BYTES=128 NUM_BUFLETS=2",
    "buf_window DATA_WIDTH=512 BUFLET_BYTES=64 NUM_BUFLETS=2",
    // a memory smaller than a window (every window refused)
    "buf_window DATA_WIDTH=64 BUFLET_BYTES=8 NUM_BUFLETS=2",
    "buf_window DATA_WIDTH=128 BUFLET_BYTES=4096 NUM_BUFLETS=32768",
    "toe_mover DATA_WIDTH=64 BUFLET_BYTES=32768 NUM_BUFLETS=2",
    "blk_dma DATA_WIDTH=512 BUFLET_BYTES=64 NUM_BUFLETS=2",
    "toe_engine DATA_WIDTH=512 BUFLET_BYTES=128 NUM_BUFLETS=2 HASH_BUCKETS=1",
    "toe_engine DATA_WIDTH=64 BUFLET_BYTES=4096",
    "toe_tcp_rx BUFLET_BYTES=2",
    "toe_deliver BUFLET_BYTES=4096",
    "tx_data DATA_WIDTH=64 MAX_SEG=65469",
    "toe_tx NUM_POSTS=1",
    "toe_tx NUM_POSTS=4096",
    "tx_data DATA_WIDTH=512 MAX_SEG=1",
    "buflet_nic DATA_WIDTH=64 BUFLET_BYTES=4096",
    "buflet_nic DATA_WIDTH=512 BUFLET_BYTES=128 HASH_BUCKETS=1",
    "toe_listen NUM_LISTEN=1 NUM_SOCKETS=2",
    "toe_listen NUM_LISTEN=256",
    "toe_engine NUM_SOCKETS=2 HASH_BUCKETS=1 NUM_LISTEN=1",
    // the socket-scaled build (sim/models.txt buflet_nic_w64_s4096)
    "buflet_nic NUM_SOCKETS=4096 NUM_NBS=4096 NUM_BUFLETS=1024",
];

/// The messages `module`'s source declares: literal `` `BF_ERROR("...") `` strings, and those of the
/// rtl/buflet_checks.vh macros it uses (`` `"MOD: ...`" `` with MOD = the macro's first argument).
fn declared_messages(src: &str, macros: &[(String, Vec<String>)]) -> Vec<String> {
    let mut msgs = Vec::new();
    let mut rest = src;
    const CALL: &str = "`BF_ERROR(\"";
    while let Some(i) = rest.find(CALL) {
        let after = &rest[i + CALL.len()..];
        let end = after.find("\")").expect("`BF_ERROR(\"...\") closes");
        msgs.push(after[..end].to_string());
        rest = &after[end..];
    }
    for (name, texts) in macros {
        let mut rest = src;
        let call = format!("`{name}(");
        while let Some(i) = rest.find(&call) {
            let after = &rest[i + call.len()..];
            let arg = after[..after.find([',', ')']).unwrap()].trim();
            msgs.extend(texts.iter().map(|t| t.replace("MOD", arg)));
            rest = after;
        }
    }
    msgs
}

/// The check macros of rtl/buflet_checks.vh: (name, message templates).
fn check_macros() -> Vec<(String, Vec<String>)> {
    let src = std::fs::read_to_string(root().join("rtl/buflet_checks.vh")).unwrap();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut cur: Option<(String, Vec<String>)> = None;
    for line in src.lines() {
        if let Some(def) = line.strip_prefix("`define BF_CHECK_") {
            let name = format!("BF_CHECK_{}", &def[..def.find('(').unwrap()]);
            cur = Some((name, Vec::new()));
        }
        if let Some((_, texts)) = cur.as_mut() {
            let mut parts = line.split("`\"");
            parts.next();
            while let (Some(t), Some(_)) = (parts.next(), parts.next()) {
                texts.push(t.to_string());
            }
            if !line.trim_end().ends_with('\\') {
                out.extend(cur.take());
            }
        }
    }
    assert!(
        out.len() >= 3,
        "rtl/buflet_checks.vh defines its check macros"
    );
    out
}

/// Parses `"TOP PARAM=VALUE ..."`.
fn parse_case(spec: &str) -> (String, Params) {
    let mut words = spec.split_whitespace();
    let top = words.next().expect("a module name").to_string();
    let params = words
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("PARAM=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect();
    (top, params)
}

#[test]
fn bad_parameters_stop_elaboration_with_their_message() {
    let macros = check_macros();
    let mut cases: Vec<(String, Params, String)> = BAD_PARAMS
        .iter()
        .map(|case| {
            let (spec, msg) = case
                .split_once(" | ")
                .expect("TOP PARAM=VALUE ... | message");
            let (top, params) = parse_case(spec);
            (top, params, msg.to_string())
        })
        .collect();
    let mut missing = Vec::new();
    for m in rtl_modules() {
        let src = std::fs::read_to_string(root().join(format!("rtl/{m}.v"))).unwrap();
        if src.contains("parameter DATA_WIDTH") {
            let msg = format!("{m}: DATA_WIDTH must be a power of two in 64..512");
            if !src.contains(&format!("`BF_CHECK_DATA_WIDTH({m})")) {
                missing.push(format!(
                    "{m} has a DATA_WIDTH parameter but no `BF_CHECK_DATA_WIDTH({m})"
                ));
            }
            cases.push((m.clone(), vec![("DATA_WIDTH".into(), "96".into())], msg));
        }
        // every check the module declares is exercised here
        for msg in declared_messages(&src, &macros) {
            if !cases.iter().any(|(top, _, want)| *top == m && *want == msg) {
                missing.push(format!("{m}: no bad-parameter case for \"{msg}\""));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "untested checks:\n{}",
        missing.join("\n")
    );
    let mut wrong = Vec::new();
    for (top, params, msg) in &cases {
        let (ok, out) = run_lint(top, params);
        if ok || !out.contains(msg.as_str()) {
            wrong.push(format!(
                "--- {top} {params:?}: expected elaboration to fail with \"{msg}\"; got (success = {ok}):\n{out}"
            ));
        }
    }
    assert!(wrong.is_empty(), "parameter checks:\n{}", wrong.join("\n"));
}

#[test]
fn boundary_parameters_lint_clean() {
    let mut dirty = Vec::new();
    for case in GOOD_PARAMS {
        let (top, params) = parse_case(case);
        let (ok, out) = run_lint(&top, &params);
        if !ok || out.contains("%Warning") || out.contains("%Error") {
            dirty.push(format!("--- {top} {params:?}:\n{out}"));
        }
    }
    assert!(
        dirty.is_empty(),
        "allowed parameters rejected or not clean:\n{}",
        dirty.join("\n")
    );
}
