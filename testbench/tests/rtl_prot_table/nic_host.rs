//! A tiny host for the `buflet_nic` top: byte memory, register accesses, DMA reads and writes
//! served one word per cycle, frames sent on the MAC rx port, and the host accesses counted.

use crate::*;

/// A tiny host for the `buflet_nic` top: a byte memory, register accesses, DMA reads answered
/// one word per cycle, DMA writes applied to the memory. Counts the host accesses.
pub struct NicHost {
    pub m: Model,
    /// The `buflet_nic` ports.
    pub p: ports::BufletNic,
    pub clk: Port,
    pub kw: usize,
    pub mem: Vec<u8>,
    /// (words left of the response being served)
    pub rsp: std::collections::VecDeque<Vec<u8>>,
    pub wr: Option<(u64, u64, usize)>,
    pub host_reads: Vec<u64>,
    pub host_writes: Vec<u64>,
}

impl NicHost {
    pub fn new(model: &str) -> NicHost {
        let mut m = Model::new(model).expect("model built (sim/models.txt)");
        let p = ports::BufletNic::bind(&m).expect("ports");
        let clk = p.clk;
        let kw = p.s_axis_dma_rd_tkeep.width() as usize;
        m.set(p.rst, 1);
        m.tick(clk);
        m.tick(clk);
        m.set(p.rst, 0);
        for (port, v) in [
            (p.m_dma_rd_req_ready, 1),
            (p.m_dma_wr_req_ready, 1),
            (p.m_axis_dma_wr_tready, 1),
            (p.m_axis_tx_tready, 1),
        ] {
            m.set(port, v);
        }
        NicHost {
            m,
            p,
            clk,
            kw,
            mem: vec![0u8; 1 << 16],
            rsp: Default::default(),
            wr: None,
            host_reads: Vec::new(),
            host_writes: Vec::new(),
        }
    }

    /// One clock: serve the DMA ports, then tick.
    pub fn cycle(&mut self) {
        let kw = self.kw;
        let word = self.rsp.front().cloned();
        let (tv, tl) = (self.p.s_axis_dma_rd_tvalid, self.p.s_axis_dma_rd_tlast);
        let (td, tk) = (self.p.s_axis_dma_rd_tdata, self.p.s_axis_dma_rd_tkeep);
        self.m.set(tv, word.is_some() as u64);
        if let Some(w) = &word {
            self.m.set_bytes(td, w);
            self.m.set_bytes(tk, &vec![0xFF; kw.div_ceil(8)]);
            self.m.set(tl, (self.rsp.len() == 1) as u64);
        }
        self.m.eval();
        if word.is_some() && self.m.get(self.p.s_axis_dma_rd_tready) == 1 {
            self.rsp.pop_front();
        }
        if self.m.get(self.p.m_dma_rd_req_valid) == 1 {
            let a = self.m.get(self.p.m_dma_rd_req_addr);
            let l = self.m.get(self.p.m_dma_rd_req_len) as usize;
            self.host_reads.push(a);
            for c in self.mem[a as usize..a as usize + l].chunks(kw) {
                let mut w = c.to_vec();
                w.resize(kw, 0);
                self.rsp.push_back(w);
            }
        }
        if self.m.get(self.p.m_dma_wr_req_valid) == 1 {
            assert!(self.wr.is_none(), "one write at a time");
            let a = self.m.get(self.p.m_dma_wr_req_addr);
            let l = self.m.get(self.p.m_dma_wr_req_len);
            self.host_writes.push(a);
            self.wr = Some((a, l, 0));
        }
        if self.m.get(self.p.m_axis_dma_wr_tvalid) == 1 {
            let (a, l, off) = self.wr.expect("write data after its request");
            let mut b = vec![0u8; kw];
            self.m.get_bytes(self.p.m_axis_dma_wr_tdata, &mut b);
            let n = (l as usize - off).min(kw);
            self.mem[a as usize + off..][..n].copy_from_slice(&b[..n]);
            self.wr = if off + n == l as usize {
                None
            } else {
                Some((a, l, off + n))
            };
        }
        self.m.tick(self.clk);
    }

    /// Lays `entries` into the request ring at `req` and sets up both rings of `size` entries
    /// (the completion ring at `cq`) through the registers.
    pub fn rings(&mut self, req: u64, cq: u64, size: u32, entries: &[[u8; 64]]) {
        use buflet_spec::reg;
        for (i, x) in entries.iter().enumerate() {
            self.mem[req as usize + 64 * i..][..64].copy_from_slice(x);
        }
        self.wr(reg::REQ_BASE_LO, req as u32);
        self.wr(reg::REQ_SIZE, size);
        self.wr(reg::CPL_BASE_LO, cq as u32);
        self.wr(reg::CPL_SIZE, size);
    }

    /// Writes CTRL, then REQ_TAIL (posting the entries up to `tail`), and runs `cycles` cycles.
    pub fn post(&mut self, ctrl: u32, tail: u32, cycles: usize) {
        use buflet_spec::reg;
        self.wr(reg::CTRL, ctrl);
        self.wr(reg::REQ_TAIL, tail);
        self.run(cycles);
    }

    pub fn run(&mut self, n: usize) {
        for _ in 0..n {
            self.cycle();
        }
    }

    pub fn reg_access(&mut self, write: bool, a: u32, v: u32) -> u32 {
        let (valid, w, ad, wd) = (
            self.p.s_reg_valid,
            self.p.s_reg_write,
            self.p.s_reg_addr,
            self.p.s_reg_wdata,
        );
        self.m.set(valid, 1);
        self.m.set(w, write as u64);
        self.m.set(ad, a as u64);
        self.m.set(wd, v as u64);
        self.cycle();
        self.m.set(valid, 0);
        self.m.eval();
        let r = if write {
            0
        } else {
            assert_eq!(self.m.get(self.p.m_reg_rvalid), 1);
            self.m.get(self.p.m_reg_rdata) as u32
        };
        self.cycle();
        r
    }

    /// Send one frame on the MAC rx port, one word per cycle.
    pub fn send_frame(&mut self, f: &[u8]) {
        let kw = self.kw;
        let (td, tk, tv, tl, tr) = (
            self.p.s_axis_rx_tdata,
            self.p.s_axis_rx_tkeep,
            self.p.s_axis_rx_tvalid,
            self.p.s_axis_rx_tlast,
            self.p.s_axis_rx_tready,
        );
        let words: Vec<&[u8]> = f.chunks(kw).collect();
        let mut i = 0;
        let mut guard = 0;
        while i < words.len() {
            let mut w = words[i].to_vec();
            let n = w.len();
            w.resize(kw, 0);
            let keep: u128 = if n == 128 {
                u128::MAX
            } else {
                (1u128 << n) - 1
            };
            self.m.set_bytes(td, &w);
            self.m.set_bytes(tk, &keep.to_le_bytes()[..kw.div_ceil(8)]);
            self.m.set(tv, 1);
            self.m.set(tl, (i + 1 == words.len()) as u64);
            self.m.eval();
            if self.m.get(tr) == 1 {
                i += 1;
            }
            self.cycle();
            guard += 1;
            assert!(guard < 10_000, "rx port stuck");
        }
        self.m.set(tv, 0);
        self.m.set(tl, 0);
    }

    pub fn wr(&mut self, a: u32, v: u32) {
        self.reg_access(true, a, v);
    }

    pub fn rd(&mut self, a: u32) -> u32 {
        self.reg_access(false, a, 0)
    }
}
