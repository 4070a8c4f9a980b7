//! The device under test: a Verilated model whose ports are looked up by name once and cached,
//! held in reset for three cycles; and the DMA read responses the host side plays (words with
//! their keep masks and last flags).

use crate::*;

pub struct Dut {
    pub m: Model,
    pub ports: HashMap<&'static str, Port>,
    pub clk: Port,
}

impl Dut {
    pub fn new(name: &str) -> Dut {
        let m = Model::new(name).expect("model built (sim/models.txt)");
        let clk = m.input("clk").unwrap();
        let mut d = Dut {
            m,
            ports: HashMap::new(),
            clk,
        };
        d.set("rst", 1);
        for _ in 0..3 {
            d.tick();
        }
        d.set("rst", 0);
        d.m.eval();
        d
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
    pub fn width(&mut self, name: &'static str) -> usize {
        self.p(name).width() as usize
    }
    pub fn tick(&mut self) {
        self.m.tick(self.clk);
    }
}

/// A DMA read response in flight: delay, words (bytes, keep, last), refused.
pub type Response = (u32, VecDeque<(Vec<u8>, u64, bool)>, bool);

pub fn low_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Packs `data` into DMA words of `kw` bytes: (bytes, keep, last).
pub fn words_of(data: &[u8], kw: usize) -> VecDeque<(Vec<u8>, u64, bool)> {
    let n = data.len().div_ceil(kw);
    (0..n)
        .map(|w| {
            let c = &data[w * kw..(w * kw + kw).min(data.len())];
            (c.to_vec(), low_mask(c.len()), w == n - 1)
        })
        .collect()
}
