//! Scraping a Verilated model's ports from its generated header
//! (`VL_IN8(&clk,0,0);`, `VL_OUTW(&x,511,0,16);`, ...).

use crate::is_ident;

/// Direction of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// `input`
    In,
    /// `output`
    Out,
    /// `inout`
    InOut,
}

/// One port of a Verilated top module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDecl {
    /// The port's name (a C identifier).
    pub name: String,
    /// Its direction.
    pub dir: Dir,
    /// Its width in bits.
    pub width: u32,
}

impl PortDecl {
    /// Port `name` with direction `dir` and `width` bits.
    pub fn new(name: &str, dir: Dir, width: u32) -> Self {
        PortDecl {
            name: name.to_string(),
            dir,
            width,
        }
    }
}

/// A port declaration the binding cannot handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The macro's arguments are not `name,msb,lsb[,words]`.
    #[error("cannot parse port declaration `{0}`")]
    Unparsable(String),
    /// Not a scalar or packed-vector port (e.g. an unpacked array).
    #[error(
        "unsupported port declaration `{0}` (only scalar and packed-vector ports are supported)"
    )]
    Unsupported(String),
    /// The width does not fit the storage type the macro names.
    #[error("port `{line}`: width {width} does not match storage VL_{mac}; buflet-sim's storage rules need updating for this Verilator")]
    WidthMismatch {
        /// The declaration.
        line: String,
        /// Its width, from msb and lsb.
        width: u32,
        /// The macro without `VL_` (`IN8`, `OUTW`, ...).
        mac: String,
    },
}

/// Extracts `VL_IN8(&clk,0,0);`, `VL_OUTW(&x,511,0,16);`, ... (with or
/// without the `&`, which older Verilator versions did not emit), in the
/// order of the header. The storage named by the macro (`8`: CData, `16`:
/// SData, none: IData, `64`: QData, `W`: VlWide) is checked against the
/// width, since the binding chooses the storage from the width.
pub fn parse_ports(header: &str) -> Result<Vec<PortDecl>, PortError> {
    let mut ports = Vec::new();
    for line in header.lines() {
        let l = line.trim();
        let Some(rest) = l.strip_prefix("VL_") else {
            continue;
        };
        let Some(open) = rest.find('(') else { continue };
        let mac = &rest[..open];
        let (dir, suffix) = if let Some(s) = mac.strip_prefix("INOUT") {
            (Dir::InOut, s)
        } else if let Some(s) = mac.strip_prefix("IN") {
            (Dir::In, s)
        } else if let Some(s) = mac.strip_prefix("OUT") {
            (Dir::Out, s)
        } else {
            continue;
        };
        if !matches!(suffix, "" | "8" | "16" | "64" | "W") {
            continue;
        }
        let bad = || PortError::Unparsable(l.to_string());
        let close = rest.rfind(')').ok_or_else(bad)?;
        let args: Vec<&str> = rest[open + 1..close].split(',').map(str::trim).collect();
        if args.len() < 3 {
            return Err(bad());
        }
        let name = args[0].trim_start_matches('&').trim();
        if !is_ident(name) {
            return Err(PortError::Unsupported(l.to_string()));
        }
        let msb: i64 = args[1].parse().map_err(|_| bad())?;
        let lsb: i64 = args[2].parse().map_err(|_| bad())?;
        let width = u32::try_from((msb - lsb).abs() + 1).map_err(|_| bad())?;
        let ok = match suffix {
            "8" => width <= 8,
            "16" => (9..=16).contains(&width),
            "" => (17..=32).contains(&width),
            "64" => (33..=64).contains(&width),
            _ => {
                let words: u32 = args.get(3).and_then(|w| w.parse().ok()).ok_or_else(bad)?;
                width > 64 && words == width.div_ceil(32)
            }
        };
        if !ok {
            return Err(PortError::WidthMismatch {
                line: l.to_string(),
                width,
                mac: mac.to_string(),
            });
        }
        ports.push(PortDecl::new(name, dir, width));
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From Verilator 5.048's `Vselftest_w72.h` (sim_selftest, DATA_WIDTH=72).
    const SELFTEST_W72_H: &str = r#"
class alignas(VL_CACHE_LINE_BYTES) Vselftest_w72 VL_NOT_FINAL : public VerilatedModel {
  private:
    // Symbol table holding complete model state (owned by this class)
    Vselftest_w72__Syms* const vlSymsp;

  public:

    // CONSTEXPR CAPABILITIES
    // Verilated with --trace?
    static constexpr bool traceCapable = false;

    // PORTS
    // The application code writes and reads these signals to
    // propagate new values into/out from the Verilated model.
    VL_IN8(&clk,0,0);
    VL_IN8(&rst,0,0);
    VL_IN8(&s_axis_tvalid,0,0);
    VL_IN8(&s_axis_tlast,0,0);
    VL_OUT8(&s_axis_tready,0,0);
    VL_OUT8(&m_axis_tvalid,0,0);
    VL_OUT8(&m_axis_tlast,0,0);
    VL_IN8(&m_axis_tready,0,0);
    VL_OUT8(&irq,0,0);
    VL_IN16(&s_axis_tkeep,8,0);
    VL_OUT16(&m_axis_tkeep,8,0);
    VL_INW(&s_axis_tdata,71,0,3);
    VL_OUTW(&m_axis_tdata,71,0,3);
    VL_OUT64(&count,63,0);

    // CELLS
    // Public to allow access to /* verilator public */ items.
    // Otherwise the application code can consider these internals.

    // Root instance pointer to allow access to model internals,
    // including inlined /* verilator public_flat_* */ items.
    Vselftest_w72___024root* const rootp;
  private:
    VL_UNCOPYABLE(Vselftest_w72);  ///< Copying not allowed
"#;

    /// From `Vtoe_mover_w512.h` and `Vreg_block_w64.h`: 16-bit, 32-bit
    /// (`VL_IN`/`VL_OUT`) and 512-bit ports.
    const MIXED_H: &str = "
    VL_IN16(&cmd_len,12,0);
    VL_OUT16(&rec_buf,15,0);
    VL_INW(&ram_rd_data,511,0,16);
    VL_OUTW(&m_axis_tdata,511,0,16);
    VL_OUT64(&m_axis_tkeep,63,0);
    VL_IN(&s_reg_wdata,31,0);
    VL_OUT(&m_reg_rdata,31,0);
    VL_IN64(&addr,47,0);
";

    fn p(name: &str, dir: Dir, width: u32) -> PortDecl {
        PortDecl::new(name, dir, width)
    }

    #[test]
    fn selftest_header() {
        let ports = parse_ports(SELFTEST_W72_H).unwrap();
        assert_eq!(
            ports,
            [
                p("clk", Dir::In, 1),
                p("rst", Dir::In, 1),
                p("s_axis_tvalid", Dir::In, 1),
                p("s_axis_tlast", Dir::In, 1),
                p("s_axis_tready", Dir::Out, 1),
                p("m_axis_tvalid", Dir::Out, 1),
                p("m_axis_tlast", Dir::Out, 1),
                p("m_axis_tready", Dir::In, 1),
                p("irq", Dir::Out, 1),
                p("s_axis_tkeep", Dir::In, 9),
                p("m_axis_tkeep", Dir::Out, 9),
                p("s_axis_tdata", Dir::In, 72),
                p("m_axis_tdata", Dir::Out, 72),
                p("count", Dir::Out, 64),
            ]
        );
    }

    #[test]
    fn every_storage_class() {
        let ports = parse_ports(MIXED_H).unwrap();
        assert_eq!(
            ports,
            [
                p("cmd_len", Dir::In, 13),
                p("rec_buf", Dir::Out, 16),
                p("ram_rd_data", Dir::In, 512),
                p("m_axis_tdata", Dir::Out, 512),
                p("m_axis_tkeep", Dir::Out, 64),
                p("s_reg_wdata", Dir::In, 32),
                p("m_reg_rdata", Dir::Out, 32),
                p("addr", Dir::In, 48),
            ]
        );
    }

    #[test]
    fn without_ampersand_inout_and_nonzero_lsb() {
        // older Verilator (and the root class) print no `&`
        let ports = parse_ports(
            "        VL_INW(s_axis_tdata,511,0,16);\n  VL_INOUT8(&pad,3,0);\n VL_IN16(&r,15,4);\n VL_OUT8(&le,0,7);\n",
        )
        .unwrap();
        assert_eq!(
            ports,
            [
                p("s_axis_tdata", Dir::In, 512),
                p("pad", Dir::InOut, 4),
                p("r", Dir::In, 12),
                p("le", Dir::Out, 8),
            ]
        );
    }

    #[test]
    fn other_macros_are_ignored() {
        let ports = parse_ports(
            "VL_UNCOPYABLE(Vx);\nVL_INLINE_OPT void f();\nVL_MODULE(Vx) {\nVL_SIG8(x,0,0);\nVL_INTERNAL(a,b,c);\n",
        )
        .unwrap();
        assert!(ports.is_empty(), "{ports:?}");
    }

    #[test]
    fn unparsable() {
        for l in [
            "VL_IN8(&clk,0);",
            "VL_IN8(&clk,x,0);",
            "VL_IN8(&clk,0,0;",
            "VL_INW(&d,71,0);",
        ] {
            assert_eq!(
                parse_ports(l),
                Err(PortError::Unparsable(l.to_string())),
                "{l}"
            );
        }
    }

    #[test]
    fn unsupported_port() {
        let l = "VL_IN8((&arr)[4],0,0);";
        assert_eq!(parse_ports(l), Err(PortError::Unsupported(l.into())));
        assert!(PortError::Unsupported(l.into())
            .to_string()
            .contains("only scalar and packed-vector ports"));
    }

    #[test]
    fn width_storage_mismatch() {
        for (l, width, mac) in [
            ("VL_IN8(&a,8,0);", 9, "IN8"),
            ("VL_OUT16(&a,7,0);", 8, "OUT16"),
            ("VL_IN(&a,15,0);", 16, "IN"),
            ("VL_OUT64(&a,31,0);", 32, "OUT64"),
            ("VL_INW(&a,63,0,2);", 64, "INW"),
            ("VL_INW(&a,71,0,2);", 72, "INW"),
        ] {
            assert_eq!(
                parse_ports(l),
                Err(PortError::WidthMismatch {
                    line: l.into(),
                    width,
                    mac: mac.into()
                }),
                "{l}"
            );
        }
    }
}
