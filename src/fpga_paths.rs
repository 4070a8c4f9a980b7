//! The longest register-to-register paths of the mapped ECP5 netlist, estimated before place
//! and route (docs/fpga.md).
//!
//! nextpnr names only the one critical path of a clock, and only after routing, which does not
//! finish in reasonable time on this design; its estimate after placement gives an Fmax and no
//! path. This walks the netlist Yosys wrote for nextpnr (`ecp5.json`, flattened) with a fixed
//! delay per cell and per routed connection, and lists the slowest endpoints, one row per
//! register or memory port, with the named nets the path passes. The delays are a rough
//! model of an LFE5UM5G -8 ([`Delays`]); the ranking, not the nanoseconds, is what to read.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The delay model, ns: the orders of magnitude of an ECP5's cell delays, and an average
/// routed connection.
pub struct Delays {
    /// A LUT4's input to output.
    pub lut: f64,
    /// A PFUMX or L6MUX21 (wide-function multiplexer in the slice).
    pub wide_mux: f64,
    /// A CCU2C's data input to its sum or carry out.
    pub carry_in: f64,
    /// A CCU2C's carry in to carry out (the dedicated chain) and to its sums.
    pub carry_chain: f64,
    /// A CCU2C's carry in to its sum outputs.
    pub carry_sum: f64,
    /// A distributed RAM's read address to data.
    pub lutram_read: f64,
    /// A flip-flop's clock to output.
    pub ff_out: f64,
    /// A DP16KD's clock to data out.
    pub bram_out: f64,
    /// A MULT18X18D's clock to output.
    pub dsp_out: f64,
    /// A routed connection between two cells (none inside a slice's wide multiplexer or a
    /// carry chain).
    pub route: f64,
    /// An endpoint's setup.
    pub setup: f64,
}

/// The model the estimate uses.
pub const DELAYS: Delays = Delays {
    lut: 0.4,
    wide_mux: 0.2,
    carry_in: 0.5,
    carry_chain: 0.05,
    carry_sum: 0.3,
    lutram_read: 0.9,
    ff_out: 0.5,
    bram_out: 4.3,
    dsp_out: 3.0,
    route: 0.85,
    setup: 0.2,
};

/// One endpoint (a register or a memory port, all its bits) and its slowest path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstPath {
    /// The estimated arrival at the endpoint, setup included, ns.
    pub ns: f64,
    /// The endpoint: a register's name, or a memory's port.
    pub to: String,
    /// How many of its bits arrive later than the clock goal's period.
    pub late_bits: usize,
    /// Cells on the slowest path: LUT4s, and carry cells (CCU2C).
    pub luts: u32,
    pub carries: u32,
    /// Where it starts: a register, a block RAM's output, or a port.
    pub from: String,
    /// The named nets it passes, in order, each once.
    pub through: Vec<String>,
}

/// Which of [`Delays`] a combinational arc takes.
#[derive(Clone, Copy)]
enum Stage {
    Lut,
    WideMux,
    CarryIn,
    CarryChain,
    CarrySum,
    LutRamRead,
}

impl Stage {
    fn delay(self, d: &Delays) -> f64 {
        match self {
            Stage::Lut => d.lut,
            Stage::WideMux => d.wide_mux,
            Stage::CarryIn => d.carry_in,
            Stage::CarryChain => d.carry_chain,
            Stage::CarrySum => d.carry_sum,
            Stage::LutRamRead => d.lutram_read,
        }
    }
}

/// A combinational arc class of a cell type: its inputs, its outputs, its delay.
type Arc = (&'static [&'static str], &'static [&'static str], Stage);

fn arcs(ty: &str) -> &'static [Arc] {
    match ty {
        "LUT4" => &[(&["A", "B", "C", "D"], &["Z"], Stage::Lut)],
        "PFUMX" => &[(&["ALUT", "BLUT", "C0"], &["Z"], Stage::WideMux)],
        "L6MUX21" => &[(&["D0", "D1", "SD"], &["Z"], Stage::WideMux)],
        "CCU2C" => &[
            (
                &["A0", "B0", "C0", "D0", "A1", "B1", "C1", "D1"],
                &["S0", "S1", "COUT"],
                Stage::CarryIn,
            ),
            (&["CIN"], &["COUT"], Stage::CarryChain),
            (&["CIN"], &["S0", "S1"], Stage::CarrySum),
        ],
        "TRELLIS_DPR16X4" => &[(&["RAD"], &["DO"], Stage::LutRamRead)],
        _ => &[],
    }
}

/// `port` is `want`, or one bit of it (`RAD[0]` of `RAD`).
fn port_is(port: &str, want: &str) -> bool {
    port == want || (port.starts_with(want) && port[want.len()..].starts_with('['))
}

/// The name a path row shows for a net: the hierarchy's, less the NIC's instance, and less
/// the suffixes synthesis adds to the nets it creates (`_LUT4_Z_...`, `_TRELLIS_FF_Q_...`).
fn base_name(n: &str) -> String {
    let mut s = n.strip_prefix("u_nic.").unwrap_or(n).to_string();
    for cut in [
        "_TRELLIS_FF_",
        "_LUT4_",
        "_PFUMX_",
        "_L6MUX21_",
        "_CCU2C_",
        "_DP16KD_",
        "_TRELLIS_DPR16X4_",
    ] {
        if let Some(i) = s.find(cut) {
            s.truncate(i);
        }
    }
    // a function's result (`name$func$FILE:LINE$N.$result`) is named by the function
    for cut in ["$func$", "["] {
        if let Some(i) = s.find(cut) {
            s.truncate(i);
        }
    }
    s
}

struct Cell<'a> {
    ty: &'a str,
    conns: Vec<(&'a str, bool, Vec<u64>)>, // (port, is output, bits)
}

/// The `n` slowest endpoints of module `top` of a flattened ECP5 netlist; `late_ns` is the
/// clock goal's period, which [`EstPath::late_bits`] counts against. The error names the
/// missing module.
pub fn estimate(
    netlist: &Value,
    top: &str,
    n: usize,
    late_ns: f64,
) -> Result<Vec<EstPath>, String> {
    let d = &DELAYS;
    let m = netlist
        .get("modules")
        .and_then(|m| m.get(top))
        .ok_or_else(|| format!("the netlist has no module {top}"))?;
    // a readable name per bit: a public one over Yosys's `$...`, the shorter of two public
    let mut names: HashMap<u64, &str> = HashMap::new();
    if let Some(nets) = m.get("netnames").and_then(|v| v.as_object()) {
        for (name, v) in nets {
            let Some(bits) = v.get("bits").and_then(|b| b.as_array()) else {
                continue;
            };
            for b in bits.iter().filter_map(|b| b.as_u64()) {
                let e = names.entry(b).or_insert(name.as_str());
                let hidden = |x: &str| x.starts_with('$');
                if (hidden(e) && !hidden(name))
                    || (hidden(e) == hidden(name) && name.len() < e.len())
                {
                    *e = name.as_str();
                }
            }
        }
    }
    let mut cells: Vec<Cell> = Vec::new();
    if let Some(cs) = m.get("cells").and_then(|v| v.as_object()) {
        for c in cs.values() {
            let ty = c.get("type").and_then(|t| t.as_str()).unwrap_or("");
            let (Some(dirs), Some(conns)) = (
                c.get("port_directions").and_then(|v| v.as_object()),
                c.get("connections").and_then(|v| v.as_object()),
            ) else {
                continue;
            };
            let mut cv = Vec::new();
            for (p, bits) in conns {
                let out = dirs.get(p).and_then(|x| x.as_str()) == Some("output");
                let bits: Vec<u64> = bits
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_u64()).collect())
                    .unwrap_or_default();
                cv.push((p.as_str(), out, bits));
            }
            cells.push(Cell { ty, conns: cv });
        }
    }
    // the driver of each bit: (cell, output port)
    let mut driver: HashMap<u64, (usize, usize)> = HashMap::new();
    for (ci, c) in cells.iter().enumerate() {
        for (pi, (_, out, bits)) in c.conns.iter().enumerate() {
            if *out {
                for &b in bits {
                    driver.insert(b, (ci, pi));
                }
            }
        }
    }
    // arrival of each bit, ns, and the input bit it came through (memo; a bit being computed
    // counts as 0, so a combinational loop ends the walk instead of looping)
    let mut arr: HashMap<u64, (f64, Option<u64>)> = HashMap::new();
    let source = |ty: &str| match ty {
        "DP16KD" => d.bram_out,
        "MULT18X18D" => d.dsp_out,
        _ => d.ff_out,
    };
    // iterative depth-first evaluation
    fn inputs_of(c: &Cell, ins: &[&str]) -> Vec<u64> {
        let mut v = Vec::new();
        for (p, out, bits) in &c.conns {
            if !*out && ins.iter().any(|w| port_is(p, w)) {
                v.extend(bits);
            }
        }
        v
    }
    let eval = |bit: u64, arr: &mut HashMap<u64, (f64, Option<u64>)>| {
        let mut stack = vec![(bit, false)];
        while let Some((b, expanded)) = stack.pop() {
            if arr.contains_key(&b) && !expanded {
                continue;
            }
            let Some(&(ci, pi)) = driver.get(&b) else {
                arr.insert(b, (0.0, None));
                continue;
            };
            let c = &cells[ci];
            let port = c.conns[pi].0;
            let classes: Vec<_> = arcs(c.ty)
                .iter()
                .filter(|(_, outs, _)| outs.iter().any(|o| port_is(port, o)))
                .collect();
            if classes.is_empty() {
                arr.insert(b, (source(c.ty), None));
                continue;
            }
            if !expanded {
                arr.insert(b, (0.0, None)); // in progress
                stack.push((b, true));
                for (ins, _, _) in &classes {
                    for ib in inputs_of(c, ins) {
                        if !arr.contains_key(&ib) {
                            stack.push((ib, false));
                        }
                    }
                }
                continue;
            }
            let mut best = (0.0, None);
            for (ins, _, stage) in &classes {
                for ib in inputs_of(c, ins) {
                    let from_ty = driver.get(&ib).map(|&(dc, _)| cells[dc].ty).unwrap_or("");
                    // no routed hop along a carry chain or into a slice's wide multiplexer
                    let local = (c.ty == "CCU2C" && ins.contains(&"CIN"))
                        || (matches!(c.ty, "PFUMX" | "L6MUX21")
                            && matches!(from_ty, "LUT4" | "PFUMX"));
                    let hop = if local { 0.0 } else { d.route };
                    let a = arr.get(&ib).map_or(0.0, |x| x.0) + hop + stage.delay(d);
                    if a > best.0 {
                        best = (a, Some(ib));
                    }
                }
            }
            arr.insert(b, best);
        }
    };
    let name = |b: u64| names.get(&b).copied().unwrap_or("?");
    // endpoints: the clocked inputs of registers and memories, named by the register (its
    // output's name) or the memory (a block's output name up to its `.row.column` suffix)
    let mut ends: Vec<(f64, u64, String)> = Vec::new();
    for c in &cells {
        let memory = matches!(c.ty, "DP16KD" | "TRELLIS_DPR16X4" | "MULT18X18D");
        if !memory && c.ty != "TRELLIS_FF" {
            continue;
        }
        let first_out = c
            .conns
            .iter()
            .find(|(_, out, bits)| *out && !bits.is_empty())
            .map(|(_, _, bits)| name(bits[0]))
            .unwrap_or("?");
        let mut key = base_name(first_out);
        // a memory's blocks are named `mem.row.column_port`; so are the registers of its
        // read port that synthesis made from the RTL's read address
        let cut = key
            .char_indices()
            .find(|&(i, ch)| ch == '.' && key[i + 1..].starts_with(|x: char| x.is_ascii_digit()))
            .map(|(i, _)| i);
        if let Some(i) = cut {
            key.truncate(i);
            key.push_str(if memory { " (write)" } else { " (read)" });
        } else if memory {
            key.push_str(" (write)");
        }
        for (p, out, bits) in &c.conns {
            let clock = p.starts_with("CLK") || *p == "WCK";
            let read = c.ty == "TRELLIS_DPR16X4" && port_is(p, "RAD");
            if *out || clock || read {
                continue;
            }
            for &b in bits {
                eval(b, &mut arr);
                ends.push((arr[&b].0 + d.route + d.setup, b, key.clone()));
            }
        }
    }
    ends.sort_by(|a, b| b.0.total_cmp(&a.0));
    // one row per endpoint, its slowest bit's path; at most PER_START rows per start point,
    // so that one slow source fanning out to many registers leaves room for the others
    const PER_START: usize = 2;
    let mut rows: BTreeMap<String, Option<usize>> = BTreeMap::new();
    let mut starts: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<EstPath> = Vec::new();
    for (ns, b, key) in ends {
        if let Some(row) = rows.get(&key) {
            if let (Some(i), true) = (row, ns > late_ns) {
                out[*i].late_bits += 1;
            }
            continue;
        }
        if out.len() >= n {
            continue;
        }
        let mut path = Vec::new();
        let mut x = Some(b);
        let (mut luts, mut carries) = (0, 0);
        // a combinational loop's bits lead back to themselves: each bit once
        let mut seen = std::collections::HashSet::new();
        while let Some(bit) = x.filter(|&bit| seen.insert(bit)) {
            if let Some(&(ci, _)) = driver.get(&bit) {
                match cells[ci].ty {
                    "LUT4" => luts += 1,
                    "CCU2C" => carries += 1,
                    _ => {}
                }
            }
            path.push(base_name(name(bit)));
            x = arr.get(&bit).and_then(|v| v.1);
        }
        path.reverse();
        path.dedup();
        let from = path.first().cloned().unwrap_or_default();
        let seen_from = starts.entry(from.clone()).or_insert(0);
        if *seen_from >= PER_START {
            rows.insert(key, None);
            continue;
        }
        *seen_from += 1;
        let through: Vec<String> = path
            .iter()
            .skip(1)
            .filter(|p| !p.starts_with('$') && **p != key && **p != from)
            .cloned()
            .collect();
        rows.insert(key.clone(), Some(out.len()));
        out.push(EstPath {
            ns,
            to: key,
            late_bits: usize::from(ns > late_ns),
            luts,
            carries,
            from,
            through,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register, two LUT4s and a two-cell carry chain into a register: the arrival adds the
    /// register's output, each routed hop and each cell; the chain's second cell adds no hop.
    #[test]
    fn a_path_adds_its_cells_and_hops() {
        let net = serde_json::json!({"modules": {"top": {
            "netnames": {
                "u_nic.u_a.q": {"bits": [2]},
                "u_nic.u_a.l1": {"bits": [3]},
                "u_nic.u_b.l2": {"bits": [4]},
                "u_nic.u_b.c0_CCU2C_S0_COUT": {"bits": [5]},
                "u_nic.u_b.sum": {"bits": [6]},
                "u_nic.u_b.r_TRELLIS_FF_Q_DI": {"bits": [6]},
                "u_nic.u_b.r": {"bits": [7]},
                "u_nic.u_a.loop": {"bits": [8]}
            },
            "cells": {
                "ff1": {"type": "TRELLIS_FF", "port_directions": {"DI": "input", "CLK": "input", "Q": "output"},
                        "connections": {"DI": [8], "CLK": [1], "Q": [2]}},
                "l1": {"type": "LUT4", "port_directions": {"A": "input", "B": "input", "C": "input", "D": "input", "Z": "output"},
                       "connections": {"A": [2], "B": "0", "C": "0", "D": "0", "Z": [3]}},
                "l2": {"type": "LUT4", "port_directions": {"A": "input", "B": "input", "C": "input", "D": "input", "Z": "output"},
                       "connections": {"A": [3], "B": [2], "C": "0", "D": "0", "Z": [4]}},
                "c0": {"type": "CCU2C", "port_directions": {"A0": "input", "CIN": "input", "COUT": "output", "S0": "output"},
                       "connections": {"A0": [4], "CIN": "0", "COUT": [5], "S0": [9]}},
                "c1": {"type": "CCU2C", "port_directions": {"A0": "input", "CIN": "input", "COUT": "output", "S0": "output"},
                       "connections": {"A0": "0", "CIN": [5], "COUT": [10], "S0": [6]}},
                "ff2": {"type": "TRELLIS_FF", "port_directions": {"DI": "input", "CLK": "input", "Q": "output"},
                        "connections": {"DI": [6], "CLK": [1], "Q": [7]}},
                // a combinational loop: a LUT4 fed by itself ends the walk
                "lp": {"type": "LUT4", "port_directions": {"A": "input", "B": "input", "C": "input", "D": "input", "Z": "output"},
                       "connections": {"A": [8], "B": "0", "C": "0", "D": "0", "Z": [8]}}
            }
        }}});
        let p = estimate(&net, "top", 5, 8.0).unwrap();
        let d = &DELAYS;
        let want = d.ff_out
            + (d.route + d.lut) * 2.0
            + d.route
            + d.carry_in
            + d.carry_sum
            + d.route
            + d.setup;
        let r = p
            .iter()
            .find(|r| r.to == "u_b.r")
            .expect("the register's row");
        assert!((r.ns - want).abs() < 1e-9, "{} against {want}", r.ns);
        assert_eq!((r.luts, r.carries), (2, 2));
        assert_eq!(r.from, "u_a.q");
        assert_eq!(r.through, ["u_a.l1", "u_b.l2", "u_b.c0", "u_b.sum"]);
        assert_eq!(r.late_bits, 0);
        assert_eq!(
            base_name("u_nic.u_toe.u_tcp_rx.wu_q$func$/x/rtl/toe_tcp_rx.v:236$21496.$result"),
            "u_toe.u_tcp_rx.wu_q"
        );
        assert!(p.iter().any(|r| r.to == "u_a.q"), "{p:?}");
        assert!(estimate(&net, "none", 5, 8.0).is_err());
    }

    /// Three registers fed by one register: two rows (the start point's limit); a register
    /// named after a memory block is listed as that memory's read port.
    #[test]
    fn one_source_takes_at_most_two_rows() {
        let ff = |d: u64, q: u64| {
            serde_json::json!({"type": "TRELLIS_FF",
                "port_directions": {"DI": "input", "CLK": "input", "Q": "output"},
                "connections": {"DI": [d], "CLK": [1], "Q": [q]}})
        };
        let net = serde_json::json!({"modules": {"top": {
            "netnames": {
                "u_nic.src": {"bits": [2]},
                "u_nic.a": {"bits": [3]}, "u_nic.b": {"bits": [4]},
                "u_nic.u_toe.ctx_mem.0.1_DOB3": {"bits": [5]}
            },
            "cells": {"s": ff(9, 2), "a": ff(2, 3), "b": ff(2, 4), "c": ff(2, 5)}
        }}});
        let p = estimate(&net, "top", 10, 8.0).unwrap();
        let from_src = p.iter().filter(|r| r.from == "src").count();
        assert_eq!(from_src, 2, "{p:?}");
        let net2 = serde_json::json!({"modules": {"top": {
            "netnames": {"u_nic.src": {"bits": [2]}, "u_nic.u_toe.ctx_mem.0.1_DOB3": {"bits": [5]}},
            "cells": {"s": ff(9, 2), "c": ff(2, 5)}
        }}});
        let p = estimate(&net2, "top", 10, 8.0).unwrap();
        assert!(p.iter().any(|r| r.to == "u_toe.ctx_mem (read)"), "{p:?}");
    }
}
