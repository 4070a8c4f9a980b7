//! The reference of the register block (docs/architecture.md): what every register address
//! reads (read-only parameters, read/write registers with their masks, live values, counters)
//! and the list of read/write registers.

use crate::*;

/// NUM_POSTS of the `reg_block_w64` model (sim/models.txt): not the default, so a read shows
/// the parameter reaches the register.
pub const NUM_POSTS_W64: u32 = 48;

/// The registers whose value until the first write is not 0: (address, reset value).
pub const RESET_VALUES: [(u32, u32); 6] = [
    (reg::BLK_TIMEOUT, param::DEF_BLK_TIMEOUT as u32),
    (reg::RTO_INIT, param::DEF_RTO_INIT as u32),
    (reg::RTO_MIN, param::DEF_RTO_MIN as u32),
    (reg::RTO_MAX, param::DEF_RTO_MAX as u32),
    (reg::TX_RETRIES, param::DEF_TX_RETRIES as u32),
    (reg::HALF_OPEN_MAX, param::DEF_HALF_OPEN_MAX as u32),
];

/// The HALF_OPEN and ACCEPT_POOL inputs the test drives (toe_engine's counts: read through).
pub const HALF_OPEN_IN: u32 = 0x0000_0123;
pub const ACCEPT_POOL_IN: u32 = 0x0000_0FED;

/// The window's inputs (buf_window's state, docs/p2p.md "The CPU's window"): BUF_WIN_ADDR,
/// BUF_WIN_STATUS {BAD, BUSY} and BUF_WIN_DATA0..15 read them through.
#[derive(Default, Clone, Copy)]
pub struct WinIn {
    pub addr: u32,
    pub busy: bool,
    pub bad: bool,
    pub data: [u32; param::WIN_BYTES as usize / 4],
}

/// Reference of the register block state.
#[derive(Default)]
pub struct Regs {
    pub rw: HashMap<u32, u32>,
    pub irq_status: bool,
    pub cnt: HashMap<u32, u32>,
    pub win: WinIn,
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
            reg::NUM_POSTS => NUM_POSTS_W64,
            reg::BLOCK_BYTES => param::BLOCK_BYTES as u32,
            reg::PAGE_BYTES => param::PAGE_BYTES as u32,
            reg::CLOCK_MHZ => param::DEF_CLOCK_MHZ as u32,
            reg::NUM_ANON => param::DEF_NUM_ANON as u32,
            reg::CTRL | reg::IRQ_MASK => rw(a) & 3,
            reg::NUM_REGIONS => param::DEF_NUM_REGIONS as u32,
            reg::NUM_LISTEN => param::DEF_NUM_LISTEN as u32,
            reg::HALF_OPEN => HALF_OPEN_IN,
            reg::ACCEPT_POOL => ACCEPT_POOL_IN,
            reg::NIC_MAC_HI => rw(a) & 0xFFFF,
            reg::NIC_MAC_LO | reg::NIC_IP | reg::TIMER_PERIOD | reg::TIMER_KICK => rw(a),
            // the reset value (DEF_BLK_TIMEOUT, DEF_RTO_INIT, ...) until written
            reg::BLK_TIMEOUT
            | reg::RTO_INIT
            | reg::RTO_MIN
            | reg::RTO_MAX
            | reg::TX_RETRIES
            | reg::HALF_OPEN_MAX => self.rw.get(&a).copied().unwrap_or_else(|| reset_value(a)),
            reg::STATUS => 1 | ((rw(reg::CTRL) & 1) << 1),
            reg::IRQ_STATUS => self.irq_status as u32,
            reg::REQ_HEAD => req_head,
            reg::CPL_TAIL => cpl_tail,
            reg::CNT_FREE_BUFLETS => free,
            reg::BUF_WIN_ADDR => self.win.addr,
            reg::BUF_WIN_STATUS => u32::from(self.win.busy) | u32::from(self.win.bad) << 1,
            a if (reg::BUF_WIN_DATA0..=reg::BUF_WIN_DATA15).contains(&a) && a % 4 == 0 => {
                self.win.data[((a - reg::BUF_WIN_DATA0) / 4) as usize]
            }
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

/// The reset value of read/write register `a` (0 unless listed in [`RESET_VALUES`]).
pub fn reset_value(a: u32) -> u32 {
    RESET_VALUES
        .iter()
        .find(|&&(x, _)| x == a)
        .map_or(0, |&(_, v)| v)
}

pub const RW_REGS: [u32; 21] = [
    reg::NIC_MAC_LO,
    reg::NIC_MAC_HI,
    reg::NIC_IP,
    reg::TIMER_PERIOD,
    reg::TIMER_KICK,
    reg::BLK_TIMEOUT,
    reg::RTO_INIT,
    reg::RTO_MIN,
    reg::RTO_MAX,
    reg::TX_RETRIES,
    reg::HALF_OPEN_MAX,
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
