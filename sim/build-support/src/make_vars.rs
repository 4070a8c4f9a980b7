//! Reading make variables from Verilator's make fragments
//! (`V<PREFIX>_classes.mk`, the runtime's `verilated.mk`).

use std::collections::BTreeMap;

use crate::is_ident;

/// Make variables: name to whitespace-separated words.
pub type MakeVars = BTreeMap<String, Vec<String>>;

/// Parses `NAME = v1 v2 \` / `NAME += ...` (also `:=`, `?=`) assignments with
/// `\` continuations; `#` starts a comment. Later `+=` append; `=` replaces.
/// Everything else (rules, conditionals, `$(...)` expansions) is not
/// interpreted: a conditional's assignments all apply.
pub fn parse_make_vars(text: &str) -> MakeVars {
    let mut vars: MakeVars = BTreeMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("");
        let cont = line.trim_end().ends_with('\\');
        let body = line.trim_end().trim_end_matches('\\');
        let values: &str = match &current {
            Some(_) => body,
            None => {
                let (name, op_rest) = match body.find('=') {
                    Some(i) => (&body[..i], &body[i + 1..]),
                    None => continue,
                };
                let (name, append) = match name.trim_end().strip_suffix('+') {
                    Some(n) => (n.trim(), true),
                    None => (name.trim_end_matches([':', '?']).trim(), false),
                };
                if !is_ident(name) {
                    continue;
                }
                let entry = vars.entry(name.to_string()).or_default();
                if !append {
                    entry.clear();
                }
                current = Some(name.to_string());
                op_rest
            }
        };
        if let Some(name) = &current {
            vars.get_mut(name)
                .expect("current var exists")
                .extend(values.split_whitespace().map(str::to_string));
        }
        if !cont {
            current = None;
        }
    }
    vars
}

/// The first word of a switch variable (`VM_TRACE = 0`), `"0"` if unset or empty.
pub fn switch(vars: &MakeVars, name: &str) -> String {
    vars.get(name)
        .and_then(|v| v.first().cloned())
        .unwrap_or_else(|| "0".into())
}

/// Libraries FST tracing needs: the `-l` flags verilated.mk adds to LDLIBS
/// inside its `VM_TRACE_FST` conditional (5.4x: lz4 and z), else just z
/// (older versions link zlib through their own rules).
pub fn fst_libs(verilated_mk: &str) -> Vec<String> {
    let mut libs = Vec::new();
    let mut depth = 0usize;
    let mut fst_depth: Option<usize> = None;
    for line in verilated_mk.lines() {
        let l = line.trim();
        if l.starts_with("ifeq")
            || l.starts_with("ifneq")
            || l.starts_with("ifdef")
            || l.starts_with("ifndef")
        {
            depth += 1;
            if fst_depth.is_none() && l.contains("VM_TRACE_FST") {
                fst_depth = Some(depth);
            }
        } else if l.starts_with("endif") {
            if fst_depth == Some(depth) {
                fst_depth = None;
            }
            depth = depth.saturating_sub(1);
        } else if fst_depth.is_some() && l.starts_with("LDLIBS") {
            for t in l.split_whitespace() {
                if let Some(lib) = t.strip_prefix("-l") {
                    if !libs.iter().any(|x| x == lib) {
                        libs.push(lib.to_string());
                    }
                }
            }
        }
    }
    if libs.is_empty() {
        libs.push("z".into());
    }
    libs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &MakeVars, name: &str) -> Vec<String> {
        v.get(name).cloned().unwrap_or_default()
    }

    /// The shape of a Verilator 5 `V<PREFIX>_classes.mk`.
    const CLASSES_MK: &str = "\
# Verilated -*- Makefile -*-
# DESCRIPTION: Verilator output: Make include file with class lists
#
# This file lists generated Verilated files, for including in higher level makefiles.
# See Vsync_fifo_w64.mk for the caller.

### Switches...
# C11 constructs required?  0/1 (always on now)
VM_C11 = 1
# Timing enabled?  0/1
VM_TIMING = 0
# Coverage output mode?  0/1 (from --coverage)
VM_COVERAGE = 0
# Parallel builds?  0/1 (from --output-split)
VM_PARALLEL_BUILDS = 0
# Tracing output mode?  0/1 (from --trace-fst/--trace-saif/--trace-vcd)
VM_TRACE = 0

### Object file lists...
# Generated module classes, fast-path, compile with highest optimization
VM_CLASSES_FAST += \\
\tVsync_fifo_w64 \\
\tVsync_fifo_w64___024root__0 \\

# Generated module classes, non-fast-path, compile with low/medium optimization
VM_CLASSES_SLOW += \\
\tVsync_fifo_w64___024root__Slow \\
\tVsync_fifo_w64___024root__0__Slow \\

# Generated support classes, fast-path, compile with highest optimization
VM_SUPPORT_FAST += \\

# Generated support classes, non-fast-path, compile with low/medium optimization
VM_SUPPORT_SLOW += \\
\tVsync_fifo_w64__Syms__Slow \\

# Global classes, need linked once per executable, fast-path, compile with highest optimization
VM_GLOBAL_FAST += \\
\tverilated \\
\tverilated_threads \\

# Global classes, need linked once per executable, non-fast-path, compile with low/medium optimization
VM_GLOBAL_SLOW += \\


# Verilated -*- Makefile -*-
";

    #[test]
    fn classes_mk() {
        let v = parse_make_vars(CLASSES_MK);
        assert_eq!(
            words(&v, "VM_CLASSES_FAST"),
            ["Vsync_fifo_w64", "Vsync_fifo_w64___024root__0"]
        );
        assert_eq!(
            words(&v, "VM_CLASSES_SLOW"),
            [
                "Vsync_fifo_w64___024root__Slow",
                "Vsync_fifo_w64___024root__0__Slow"
            ]
        );
        assert_eq!(words(&v, "VM_SUPPORT_FAST"), Vec::<String>::new());
        assert!(v.contains_key("VM_SUPPORT_FAST"));
        assert_eq!(words(&v, "VM_SUPPORT_SLOW"), ["Vsync_fifo_w64__Syms__Slow"]);
        assert_eq!(
            words(&v, "VM_GLOBAL_FAST"),
            ["verilated", "verilated_threads"]
        );
        assert!(words(&v, "VM_GLOBAL_SLOW").is_empty());
        assert_eq!(switch(&v, "VM_TRACE"), "0");
        assert_eq!(switch(&v, "VM_C11"), "1");
        // unset and empty switches read as 0
        assert_eq!(switch(&v, "VM_TRACE_FST"), "0");
        assert_eq!(switch(&v, "VM_GLOBAL_SLOW"), "0");
    }

    #[test]
    fn continuations() {
        let v = parse_make_vars("A = a1 \\\n  a2 \\\n  a3\nB = b1\n");
        assert_eq!(words(&v, "A"), ["a1", "a2", "a3"]);
        assert_eq!(words(&v, "B"), ["b1"]);
        // a continuation line is values, even if it looks like an assignment
        let v = parse_make_vars("A = \\\n  X=1 \\\n\nC = c\n");
        assert_eq!(words(&v, "A"), ["X=1"]);
        assert!(!v.contains_key("X"));
        assert_eq!(words(&v, "C"), ["c"]);
    }

    #[test]
    fn append_and_replace() {
        let v = parse_make_vars("A = 1\nA += 2\nA+=3\nB += x\nB = y\nC := c\nD ?= d\n");
        assert_eq!(words(&v, "A"), ["1", "2", "3"]);
        assert_eq!(words(&v, "B"), ["y"]);
        assert_eq!(words(&v, "C"), ["c"]);
        assert_eq!(words(&v, "D"), ["d"]);
    }

    #[test]
    fn comments() {
        let v = parse_make_vars(
            "# A = commented out\nA = a # trailing\n  # indented comment\nB = b1 \\\n # comment inside continuation\n",
        );
        assert_eq!(words(&v, "A"), ["a"]);
        // the comment-only line ends B's continuation
        assert_eq!(words(&v, "B"), ["b1"]);
        // a comment's backslash does not continue
        let v = parse_make_vars("A = a # not a continuation \\\nB = b\n");
        assert_eq!(words(&v, "A"), ["a"]);
        assert_eq!(words(&v, "B"), ["b"]);
    }

    #[test]
    fn rules_and_non_identifiers_are_skipped() {
        let v = parse_make_vars(
            "ifeq ($(VM_TRACE),1)\n  X = 1\nendif\n%.o: %.cpp\n\t$(CXX) -DA=1 -c $<\n$(Y) = 2\n",
        );
        // conditionals are not interpreted; a recipe line's `-DA=1` is no variable
        assert_eq!(words(&v, "X"), ["1"]);
        assert_eq!(v.len(), 1, "{v:?}");
    }

    #[test]
    fn verilated_mk_config() {
        let mk = "CFG_CXXFLAGS_STD = -std=gnu++17\n\
                  CFG_CXXFLAGS_STD_NEWEST = -std=gnu++20\n\
                  CFG_CXXFLAGS_NO_UNUSED = -faligned-new -fbracket-depth=4096 \\\n  -Wno-unused-parameter\n\
                  CFG_LDLIBS_THREADS = -pthread -lpthread -latomic\n";
        let v = parse_make_vars(mk);
        assert_eq!(words(&v, "CFG_CXXFLAGS_STD"), ["-std=gnu++17"]);
        assert_eq!(
            words(&v, "CFG_CXXFLAGS_NO_UNUSED"),
            [
                "-faligned-new",
                "-fbracket-depth=4096",
                "-Wno-unused-parameter"
            ]
        );
        assert_eq!(
            words(&v, "CFG_LDLIBS_THREADS"),
            ["-pthread", "-lpthread", "-latomic"]
        );
    }

    #[test]
    fn fst_libraries() {
        let mk = "ifneq ($(VM_TRACE_FST),0)\n  ifeq ($(X),1)\n    LDLIBS += -lfoo\n  endif\n  LDLIBS += -llz4 -lz\n  LDLIBS += -lz\nendif\nLDLIBS += -lbar\n";
        assert_eq!(fst_libs(mk), ["foo", "lz4", "z"]);
        assert_eq!(fst_libs("LDLIBS += -lbar\n"), ["z"]);
    }
}
