//! The reference of the register block (docs/architecture.md): what every register address
//! reads (read-only parameters, read/write registers with their masks, live values, counters)
//! and the list of read/write registers.

use crate::*;

/// Reference of the register block state.
#[derive(Default)]
pub struct Regs {
    pub rw: HashMap<u32, u32>,
    pub irq_status: bool,
    pub cnt: HashMap<u32, u32>,
}

impl Regs {
    pub fn read(&self, a: u32, req_head: u32, cpl_tail: u32, free: u32) -> u32 {
        let rw = |x| self.rw.get(&x).copied().unwrap_or(0);
        match a {
            reg::ID => param::ID_MAGIC as u32,
            reg::VERSION => param::VERSION as u32,
            reg::DATA_WIDTH => 64,
            reg::BUFLET_BYTES => param::DEF_BUFLET_BYTES as u32,
            reg::NUM_BUFLETS => param::DEF_NUM_BUFLETS as u32,
            reg::NUM_SOCKETS => param::DEF_NUM_SOCKETS as u32,
            reg::HASH_BUCKETS => param::DEF_HASH_BUCKETS as u32,
            reg::NUM_NBS => param::DEF_NUM_NBS as u32,
            reg::BLOCK_BYTES => param::BLOCK_BYTES as u32,
            reg::PAGE_BYTES => param::PAGE_BYTES as u32,
            reg::CLOCK_MHZ => param::DEF_CLOCK_MHZ as u32,
            reg::NUM_ANON => param::DEF_NUM_ANON as u32,
            reg::CTRL | reg::IRQ_MASK => rw(a) & 3,
            reg::NUM_REGIONS => param::DEF_NUM_REGIONS as u32,
            reg::NIC_MAC_HI => rw(a) & 0xFFFF,
            reg::NIC_MAC_LO | reg::NIC_IP | reg::TIMER_PERIOD | reg::TIMER_KICK => rw(a),
            // reset value DEF_BLK_TIMEOUT until written
            reg::BLK_TIMEOUT => self
                .rw
                .get(&a)
                .copied()
                .unwrap_or(param::DEF_BLK_TIMEOUT as u32),
            reg::STATUS => 1 | ((rw(reg::CTRL) & 1) << 1),
            reg::IRQ_STATUS => self.irq_status as u32,
            reg::REQ_HEAD => req_head,
            reg::CPL_TAIL => cpl_tail,
            reg::CNT_FREE_BUFLETS => free,
            reg::REQ_BASE_LO
            | reg::REQ_BASE_HI
            | reg::REQ_SIZE
            | reg::REQ_TAIL
            | reg::CPL_BASE_LO
            | reg::CPL_BASE_HI
            | reg::CPL_SIZE
            | reg::CPL_HEAD => rw(a),
            _ => self.cnt.get(&a).copied().unwrap_or(0),
        }
    }
    pub fn add(&mut self, a: u32, v: u32) {
        let c = self.cnt.entry(a).or_insert(0);
        *c = c.wrapping_add(v);
    }
}

pub const RW_REGS: [u32; 16] = [
    reg::NIC_MAC_LO,
    reg::NIC_MAC_HI,
    reg::NIC_IP,
    reg::TIMER_PERIOD,
    reg::TIMER_KICK,
    reg::BLK_TIMEOUT,
    reg::CTRL,
    reg::IRQ_MASK,
    reg::REQ_BASE_LO,
    reg::REQ_BASE_HI,
    reg::REQ_SIZE,
    reg::REQ_TAIL,
    reg::CPL_BASE_LO,
    reg::CPL_BASE_HI,
    reg::CPL_SIZE,
    reg::CPL_HEAD,
];
