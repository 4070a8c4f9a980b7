//! Recorded stimulus of a Verilated top, and the Verilog testbench that replays it in another
//! simulator (Icarus Verilog): the same top, driven cycle by cycle with exactly the inputs the
//! Rust harness gave it, so the two simulators' speeds can be compared on identical work.
//!
//! The recorder runs at each rising edge of the clock, after the harness has set the cycle's
//! inputs and evaluated: it writes the inputs that changed since the previous edge and counts,
//! for every 1-bit output, the cycles it was high (a stream's `tlast` and `tuser` only while
//! its `tvalid` is: [`qualifier`]). The testbench applies the same inputs while
//! the clock is low, counts the same outputs before the edge and prints its counts, so a run
//! that simulated something else is told apart from one that agrees.
//!
//! The file is text, read by the testbench with `$fscanf`, one record per line:
//! - `I H`: input number `I` (the order of [`Recorder::inputs`]) takes the hex value `H`;
//! - `-1 N`: `N` (hex) rising edges with the inputs as they are;
//! - `-2 0`: the end of the stimulus;
//!
//! then a trailer line `# cycles C counts K1 K2 ...` that the testbench does not read.
//! Before the first record the top has been reset: `rst` high for [`RESET_CYCLES`] edges with
//! every other input 0, then `rst` low.

use crate::{Dir, Model, ModelInfo, Port, PortInfo};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Rising edges with `rst` high before the recorded cycles (as [`crate::RtlDevice::new`] does).
pub const RESET_CYCLES: u32 = 8;

/// The marker line that starts the trailer.
const TRAILER: &str = "# cycles ";

/// Records the inputs of a [`Model`] at each rising edge into a stimulus file.
pub struct Recorder {
    out: BufWriter<File>,
    /// Recorded inputs (every input but the clock) and their values at the last edge.
    inputs: Vec<(Port, Vec<u8>)>,
    /// 1-bit outputs, their qualifier ([`qualifier`]) and the edges each was high before.
    outputs: Vec<(Port, Option<Port>, u64)>,
    /// Edges recorded, and edges not yet written (inputs unchanged since the last record).
    cycles: u64,
    pending: u64,
    scratch: Vec<u8>,
    done: bool,
}

/// The ports a stimulus covers: inputs (all but `clk`) and 1-bit outputs, in header order.
fn covered(info: &ModelInfo) -> (Vec<&'static PortInfo>, Vec<&'static PortInfo>) {
    let ins = info
        .ports
        .iter()
        .filter(|p| p.dir == Dir::In && p.name != "clk")
        .collect();
    let outs = info
        .ports
        .iter()
        .filter(|p| p.dir == Dir::Out && p.width == 1)
        .collect();
    (ins, outs)
}

/// The valid output that qualifies output `name`: a stream's `_tlast` and `_tuser` mean
/// something only while its `_tvalid` is high (at other times they are whatever the design
/// left there, and simulators differ on registers never reset), so they are counted only then.
pub fn qualifier(info: &ModelInfo, name: &str) -> Option<&'static str> {
    let stem = name
        .strip_suffix("_tlast")
        .or_else(|| name.strip_suffix("_tuser"))?;
    let valid = format!("{stem}_tvalid");
    info.ports
        .iter()
        .find(|p| p.dir == Dir::Out && p.width == 1 && p.name == valid)
        .map(|p| p.name)
}

impl Recorder {
    /// Start recording `m`'s inputs into a new file at `path`.
    pub fn create(m: &Model, path: &Path) -> io::Result<Self> {
        let port = |p: &PortInfo| {
            m.port(p.name)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
        };
        let (ins, outs) = covered(m.info());
        let inputs = ins
            .iter()
            .map(|p| Ok((port(p)?, vec![0u8; p.bytes()])))
            .collect::<io::Result<_>>()?;
        let outputs = outs
            .iter()
            .map(|p| {
                let q = match qualifier(m.info(), p.name) {
                    Some(v) => Some(port(m.info().find_port(v).expect("qualifier is a port").1)?),
                    None => None,
                };
                Ok((port(p)?, q, 0))
            })
            .collect::<io::Result<_>>()?;
        Ok(Self {
            out: BufWriter::new(File::create(path)?),
            inputs,
            outputs,
            cycles: 0,
            pending: 0,
            scratch: Vec::new(),
            done: false,
        })
    }

    /// Record the edge about to happen: `m` has this cycle's inputs and was evaluated.
    pub fn edge(&mut self, m: &Model) -> io::Result<()> {
        for (p, q, n) in &mut self.outputs {
            *n += m.get(*p) & q.map_or(1, |q| m.get(q));
        }
        for (i, (p, prev)) in self.inputs.iter_mut().enumerate() {
            self.scratch.resize(prev.len(), 0);
            m.get_bytes(*p, &mut self.scratch);
            if self.scratch != *prev {
                if self.pending > 0 {
                    writeln!(self.out, "-1 {:x}", self.pending)?;
                    self.pending = 0;
                }
                prev.copy_from_slice(&self.scratch);
                let mut hex = String::with_capacity(prev.len() * 2);
                for b in prev.iter().rev() {
                    let _ = write!(hex, "{b:02x}");
                }
                writeln!(self.out, "{i} {hex}")?;
            }
        }
        self.pending += 1;
        self.cycles += 1;
        Ok(())
    }

    /// End the stimulus and write the trailer (cycles and the outputs' counts).
    pub fn finish(&mut self) -> io::Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        if self.pending > 0 {
            writeln!(self.out, "-1 {:x}", self.pending)?;
        }
        writeln!(self.out, "-2 0")?;
        let counts: Vec<String> = self.outputs.iter().map(|(_, _, n)| n.to_string()).collect();
        writeln!(
            self.out,
            "{TRAILER}{} counts {}",
            self.cycles,
            counts.join(" ")
        )?;
        self.out.flush()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// What a stimulus file's trailer says: the edges recorded and each 1-bit output's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub cycles: u64,
    pub counts: Vec<u64>,
}

impl Summary {
    /// Parse `TRAILER`-style text: `# cycles C counts K1 K2 ...` (the file's last line, or a
    /// testbench's report in the same form).
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.trim().strip_prefix(TRAILER)?;
        let (c, counts) = rest.split_once(" counts")?;
        Some(Self {
            cycles: c.trim().parse().ok()?,
            counts: counts
                .split_whitespace()
                .map(|k| k.parse().ok())
                .collect::<Option<_>>()?,
        })
    }

    /// The summary at the end of the stimulus file at `path`.
    pub fn read(path: &Path) -> io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        text.lines()
            .rev()
            .find_map(Self::parse)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no trailer: unfinished"))
    }
}

/// A Verilog testbench (module `buflet_stim_tb`) that instantiates `info`'s top (ports `clk`
/// and `rst` among them) with its build's parameters, resets it, replays the stimulus file named by the macro `STIM_FILE`
/// and prints a line [`Summary::parse`] reads.
pub fn testbench(info: &ModelInfo) -> String {
    let (ins, outs) = covered(info);
    let maxw = ins.iter().map(|p| p.width).max().unwrap_or(1);
    let mut v = String::new();
    let w = |p: &PortInfo| {
        if p.width == 1 {
            String::new()
        } else {
            format!("[{}:0] ", p.width - 1)
        }
    };
    let _ = writeln!(
        v,
        "// Generated by buflet-sim (sim/src/stimulus.rs): replays a recorded stimulus of {}.",
        info.top
    );
    v.push_str("`timescale 1ns/1ps\nmodule buflet_stim_tb;\n    reg clk = 1'b0;\n");
    for p in &ins {
        let _ = writeln!(v, "    reg {}i_{} = 0;", w(p), p.name);
    }
    for p in info.ports.iter().filter(|p| p.dir == Dir::Out) {
        let _ = writeln!(v, "    wire {}o_{};", w(p), p.name);
    }
    let params: Vec<String> = info
        .params
        .iter()
        .map(|(k, val)| format!(".{k}({val})"))
        .collect();
    let _ = write!(v, "    {} ", info.top);
    if !params.is_empty() {
        let _ = write!(v, "#({}) ", params.join(", "));
    }
    v.push_str("dut (\n");
    let conns: Vec<String> = info
        .ports
        .iter()
        .map(|p| match p.dir {
            _ if p.name == "clk" => "        .clk(clk)".to_string(),
            Dir::Out => format!("        .{0}(o_{0})", p.name),
            Dir::In => format!("        .{0}(i_{0})", p.name),
            Dir::InOut => format!("        .{0}()", p.name),
        })
        .collect();
    v.push_str(&conns.join(",\n"));
    v.push_str("\n    );\n");
    let _ = writeln!(
        v,
        "    integer fd, r, idx, n, k, cycles;\n    reg [{}:0] val;\n    reg [63:0] cnt [0:{}];",
        maxw - 1,
        outs.len().max(1) - 1
    );
    v.push_str("    task edge_; begin\n        #1;\n");
    for (k, p) in outs.iter().enumerate() {
        let q = qualifier(info, p.name).map_or(String::new(), |q| format!(" && o_{q} === 1'b1"));
        let _ = writeln!(
            v,
            "        if (o_{} === 1'b1{q}) cnt[{k}] = cnt[{k}] + 1;",
            p.name
        );
    }
    v.push_str("        #4 clk = 1'b1;\n        #5 clk = 1'b0;\n        cycles = cycles + 1;\n    end endtask\n");
    v.push_str("    initial begin\n");
    let _ = writeln!(
        v,
        "        for (k = 0; k < {}; k = k + 1) cnt[k] = 0;",
        outs.len().max(1)
    );
    let _ = writeln!(
        v,
        "        i_rst = 1'b1;\n        repeat ({RESET_CYCLES}) begin #5 clk = 1'b1; #5 clk = 1'b0; end\n        i_rst = 1'b0;"
    );
    v.push_str("        cycles = 0;\n        fd = $fopen(`STIM_FILE, \"r\");\n");
    v.push_str("        if (fd == 0) begin $display(\"buflet_stim_tb: cannot open the stimulus\"); $finish; end\n");
    v.push_str("        idx = 0;\n        while (idx != -2) begin\n            r = $fscanf(fd, \"%d %h\\n\", idx, val);\n");
    v.push_str("            if (r != 2) begin $display(\"buflet_stim_tb: bad stimulus record\"); $finish; end\n");
    v.push_str("            case (idx)\n                -2: ;\n                -1: begin n = val; repeat (n) edge_; end\n");
    for (i, p) in ins.iter().enumerate() {
        let _ = writeln!(
            v,
            "                {i}: i_{} = val[{}:0];",
            p.name,
            p.width - 1
        );
    }
    v.push_str("                default: begin $display(\"buflet_stim_tb: bad input number\"); $finish; end\n            endcase\n        end\n");
    v.push_str("        $write(\"# cycles %0d counts\", cycles);\n");
    let _ = writeln!(
        v,
        "        for (k = 0; k < {}; k = k + 1) $write(\" %0d\", cnt[k]);",
        outs.len()
    );
    v.push_str("        $write(\"\\n\");\n        $finish;\n    end\nendmodule\n");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_parse_and_refuse() {
        let s = Summary::parse("# cycles 12 counts 3 0 7").unwrap();
        assert_eq!((s.cycles, s.counts), (12, vec![3, 0, 7]));
        assert_eq!(Summary::parse("# cycles 5 counts").unwrap().counts, vec![]);
        assert!(Summary::parse("# cycles x counts 1").is_none());
        assert!(Summary::parse("-2 0").is_none());
    }
}
