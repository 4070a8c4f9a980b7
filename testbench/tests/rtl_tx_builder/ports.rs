//! The tx_builder ports, looked up once by name on the Verilated model.

use crate::*;

pub struct Ports {
    pub clk: Port,
    pub rst: Port,
    pub cmd_valid: Port,
    pub cmd_ready: Port,
    pub cmd_data: Port,
    pub tdata: Port,
    pub tkeep: Port,
    pub tvalid: Port,
    pub tready: Port,
    pub tlast: Port,
    pub ev_frame: Port,
    pub ev_bytes: Port,
}

impl Ports {
    pub fn new(m: &Model) -> Ports {
        let p = |n: &str| m.port(n).unwrap_or_else(|e| panic!("{e}"));
        Ports {
            clk: p("clk"),
            rst: p("rst"),
            cmd_valid: p("s_cmd_valid"),
            cmd_ready: p("s_cmd_ready"),
            cmd_data: p("s_cmd_data"),
            tdata: p("m_axis_tx_tdata"),
            tkeep: p("m_axis_tx_tkeep"),
            tvalid: p("m_axis_tx_tvalid"),
            tready: p("m_axis_tx_tready"),
            tlast: p("m_axis_tx_tlast"),
            ev_frame: p("ev_tx_frame"),
            ev_bytes: p("ev_tx_bytes"),
        }
    }
}
