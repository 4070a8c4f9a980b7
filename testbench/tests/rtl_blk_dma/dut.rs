//! The device under test: a Verilated `blk_dma` model whose ports are looked up by name once and
//! cached, with its DMA word width in bytes.

use crate::*;

/// Port cache over a model.
pub struct Dut {
    pub m: Model,
    pub ports: HashMap<&'static str, Port>,
    pub clk: Port,
    pub kw: usize,
}

impl Dut {
    pub fn new(name: &str) -> Dut {
        let m = Model::new(name).expect("model built (sim/models.txt)");
        let clk = m.input("clk").unwrap();
        let kw = m.port("s_axis_dma_rd_tkeep").unwrap().width() as usize;
        Dut {
            m,
            ports: HashMap::new(),
            clk,
            kw,
        }
    }
    pub fn p(&mut self, name: &'static str) -> Port {
        if let Some(p) = self.ports.get(name) {
            return *p;
        }
        let p = self.m.port(name).unwrap_or_else(|e| panic!("{e}"));
        self.ports.insert(name, p);
        p
    }
    pub fn set(&mut self, name: &'static str, v: u64) {
        let p = self.p(name);
        self.m.set(p, v);
    }
    pub fn get(&mut self, name: &'static str) -> u64 {
        let p = self.p(name);
        self.m.get(p)
    }
    pub fn set_bytes(&mut self, name: &'static str, b: &[u8]) {
        let p = self.p(name);
        self.m.set_bytes(p, b);
    }
    pub fn get_bytes(&mut self, name: &'static str, n: usize) -> Vec<u8> {
        let p = self.p(name);
        let mut v = vec![0u8; n];
        self.m.get_bytes(p, &mut v);
        v
    }
    pub fn tick(&mut self) {
        self.m.tick(self.clk);
    }
}
