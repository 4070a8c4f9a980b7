//! The device under test: a Verilated model (its ports bound through the typed structs of
//! `buflet_sim::ports` by each test), held in reset for three cycles; and the DMA read responses
//! the host side plays (words with their keep masks and last flags).

use crate::*;

/// The model called `name` (listed in sim/models.txt).
pub fn model(name: &str) -> Model {
    Model::new(name).expect("model built (sim/models.txt)")
}

/// Holds the model in reset for three cycles, then releases it.
pub fn reset(m: &mut Model, clk: Port, rst: Port) {
    buflet_testbench::rtl_check::reset(m, clk, rst, 3);
    m.eval();
}

/// The low `n` bytes of port `p`.
pub fn get_bytes(m: &Model, p: Port, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    m.get_bytes(p, &mut v);
    v
}

/// A keep mask of the low `n` bytes.
pub fn low_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Packs `data` into DMA words of `kw` bytes: (bytes, keep, last).
pub fn words_of(data: &[u8], kw: usize) -> VecDeque<Word> {
    let n = data.len().div_ceil(kw);
    (0..n)
        .map(|w| {
            let c = &data[w * kw..(w * kw + kw).min(data.len())];
            (c.to_vec(), low_mask(c.len()), w == n - 1)
        })
        .collect()
}
