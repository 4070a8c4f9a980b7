//! Register block: ID/build parameters, rings, IRQ and counters (rtl/reg_block.v).

use buflet_platform::DeviceConfig;
use buflet_spec::{param, reg};

/// Last event counter register (the block from `CNT_RX_FRAMES` up to it).
const CNT_LAST: u32 = reg::CNT_FRM_CHAINED;
/// Number of 32-bit counters from `CNT_RX_FRAMES` to [`CNT_LAST`].
const NCNT: usize = ((CNT_LAST - reg::CNT_RX_FRAMES) / 4 + 1) as usize;
/// Drop counters: reason r (0..NDROP) at `drop::COUNTER_BASE + 4*r` (reasons 1..=16).
const NDROP: usize = 17;
const DROP_BASE: u32 = buflet_spec::drop::COUNTER_BASE as u32;

/// CTRL.ENABLE.
pub const CTRL_ENABLE: u32 = 1;
/// CTRL.PROT_EN (docs/protection.md).
pub const CTRL_PROT_EN: u32 = 2;
/// STATUS.READY.
pub const STATUS_READY: u32 = 1;
/// STATUS.ENABLED.
pub const STATUS_ENABLED: u32 = 2;
/// STATUS.FAULT: a ring access was refused by the protection table.
pub const STATUS_FAULT: u32 = 4;
/// BUF_WIN_STATUS bit 1: the last BUF_WIN_ADDR write was refused (bit 0, BUSY, is never seen:
/// the model copies at once).
pub const WIN_BAD: u32 = 2;
/// IRQ_STATUS.CPL.
pub const IRQ_CPL: u32 = 1;
/// IRQ_STATUS.FAULT: an access was refused by the protection table.
pub const IRQ_FAULT: u32 = 2;

/// Register state.
#[derive(Debug)]
pub(crate) struct Regs {
    pub ctrl: u32,
    pub irq_status: u32,
    pub irq_mask: u32,
    pub req_base: u64,
    pub req_size: u32,
    pub req_tail: u32,
    pub req_head: u32,
    pub cpl_base: u64,
    pub cpl_size: u32,
    pub cpl_head: u32,
    pub cpl_tail: u32,
    /// NIC_MAC_LO: MAC bytes 0..3 (byte 0 in bits 7:0).
    pub nic_mac_lo: u32,
    /// NIC_MAC_HI: MAC bytes 4..5 in bits 15:0 (the upper bits are not stored).
    pub nic_mac_hi: u32,
    /// NIC_IP (numeric); 0 turns the ARP responder off.
    pub nic_ip: u32,
    /// TIMER_PERIOD: cycles per periodic timer tick, 0 = none.
    pub timer_period: u32,
    /// The last value written to the TIMER_KICK doorbell (what a read returns).
    timer_kick: u32,
    /// BLK_TIMEOUT: cycles the block engine waits for the block device, 0 = forever.
    pub blk_timeout: BlkTimeout,
    /// RTO_INIT, RTO_MIN, RTO_MAX, TX_RETRIES (docs/tcp-transmit.md).
    pub tx_policy: TxPolicy,
    /// HALF_OPEN_MAX (docs/tcp-receive.md, "Listening sockets").
    pub half_open_max: u32,
    cnt: Counters,
    drops: [u32; NDROP],
}

impl Default for Regs {
    fn default() -> Self {
        Regs {
            ctrl: 0,
            irq_status: 0,
            irq_mask: 0,
            req_base: 0,
            req_size: 0,
            req_tail: 0,
            req_head: 0,
            cpl_base: 0,
            cpl_size: 0,
            cpl_head: 0,
            cpl_tail: 0,
            nic_mac_lo: 0,
            nic_mac_hi: 0,
            nic_ip: 0,
            timer_period: 0,
            timer_kick: 0,
            blk_timeout: BlkTimeout::default(),
            tx_policy: TxPolicy::default(),
            half_open_max: param::DEF_HALF_OPEN_MAX as u32,
            cnt: Counters::default(),
            drops: [0; NDROP],
        }
    }
}

/// BLK_TIMEOUT, whose reset value is `DEF_BLK_TIMEOUT`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlkTimeout(pub u32);

impl Default for BlkTimeout {
    fn default() -> Self {
        BlkTimeout(param::DEF_BLK_TIMEOUT as u32)
    }
}

/// The transmit policy registers, with their reset values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxPolicy {
    pub rto_init: u32,
    pub rto_min: u32,
    pub rto_max: u32,
    pub retries: u32,
}

impl Default for TxPolicy {
    fn default() -> Self {
        TxPolicy {
            rto_init: param::DEF_RTO_INIT as u32,
            rto_min: param::DEF_RTO_MIN as u32,
            rto_max: param::DEF_RTO_MAX as u32,
            retries: param::DEF_TX_RETRIES as u32,
        }
    }
}

/// The event counters from `CNT_RX_FRAMES` to [`CNT_LAST`] (an array too long for a derived
/// `Default`).
#[derive(Debug)]
struct Counters([u32; NCNT]);

impl Default for Counters {
    fn default() -> Self {
        Counters([0; NCNT])
    }
}

fn set_lo(v: &mut u64, lo: u32) {
    *v = (*v & !0xFFFF_FFFF) | lo as u64;
}

fn set_hi(v: &mut u64, hi: u32) {
    *v = (*v & 0xFFFF_FFFF) | ((hi as u64) << 32);
}

impl Regs {
    pub fn enabled(&self) -> bool {
        self.ctrl & CTRL_ENABLE != 0
    }

    pub fn prot_en(&self) -> bool {
        self.ctrl & CTRL_PROT_EN != 0
    }

    pub fn irq(&self) -> bool {
        self.irq_status & self.irq_mask != 0
    }

    /// Add `v` to the counter register at `addr` (wrapping, 32 bits).
    pub fn count(&mut self, addr: u32, v: u64) {
        let i = ((addr - reg::CNT_RX_FRAMES) / 4) as usize;
        self.cnt.0[i] = self.cnt.0[i].wrapping_add(v as u32);
    }

    /// Frames with a counted outcome so far: drops and anonymous deliveries (what
    /// `CNT_RX_DONE` excludes).
    pub fn frame_outcomes(&self) -> u64 {
        let anon = self.cnt.0[((reg::CNT_ANON_RX - reg::CNT_RX_FRAMES) / 4) as usize];
        self.drops.iter().map(|&d| u64::from(d)).sum::<u64>() + u64::from(anon)
    }

    /// Counter of drop reason `r` (see `drop::COUNTER_BASE`).
    pub fn count_drop(&mut self, reason: u8) {
        let i = reason as usize % NDROP;
        self.drops[i] = self.drops[i].wrapping_add(1);
    }

    /// The NIC's MAC address (NIC_MAC_LO/HI), byte k = wire byte k.
    pub fn nic_mac(&self) -> [u8; 6] {
        let lo = self.nic_mac_lo.to_le_bytes();
        let hi = self.nic_mac_hi.to_le_bytes();
        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
    }

    pub fn read(&self, cfg: &DeviceConfig, addr: u32, free_buflets: u32) -> u32 {
        match addr {
            reg::ID => param::ID_MAGIC as u32,
            reg::VERSION => param::VERSION as u32,
            reg::DATA_WIDTH => cfg.data_width,
            reg::BUFLET_BYTES => cfg.buflet_bytes,
            reg::NUM_BUFLETS => cfg.num_buflets,
            reg::NUM_SOCKETS => cfg.num_sockets,
            reg::HASH_BUCKETS => cfg.hash_buckets,
            reg::NUM_NBS => cfg.num_nbs,
            reg::NUM_POSTS => cfg.num_posts,
            reg::BLOCK_BYTES => param::BLOCK_BYTES as u32,
            reg::PAGE_BYTES => param::PAGE_BYTES as u32,
            reg::CLOCK_MHZ => cfg.clock_mhz,
            reg::NUM_ANON => cfg.num_anon,
            reg::NUM_LISTEN => crate::toe::NUM_LISTEN as u32,
            reg::HALF_OPEN_MAX => self.half_open_max,
            reg::CTRL => self.ctrl,
            reg::STATUS => STATUS_READY | if self.enabled() { STATUS_ENABLED } else { 0 },
            reg::IRQ_STATUS => self.irq_status,
            reg::IRQ_MASK => self.irq_mask,
            reg::NIC_MAC_LO => self.nic_mac_lo,
            reg::NIC_MAC_HI => self.nic_mac_hi,
            reg::NIC_IP => self.nic_ip,
            reg::TIMER_PERIOD => self.timer_period,
            reg::TIMER_KICK => self.timer_kick,
            reg::BLK_TIMEOUT => self.blk_timeout.0,
            reg::RTO_INIT => self.tx_policy.rto_init,
            reg::RTO_MIN => self.tx_policy.rto_min,
            reg::RTO_MAX => self.tx_policy.rto_max,
            reg::TX_RETRIES => self.tx_policy.retries,
            reg::REQ_BASE_LO => self.req_base as u32,
            reg::REQ_BASE_HI => (self.req_base >> 32) as u32,
            reg::REQ_SIZE => self.req_size,
            reg::REQ_TAIL => self.req_tail,
            reg::REQ_HEAD => self.req_head,
            reg::CPL_BASE_LO => self.cpl_base as u32,
            reg::CPL_BASE_HI => (self.cpl_base >> 32) as u32,
            reg::CPL_SIZE => self.cpl_size,
            reg::CPL_HEAD => self.cpl_head,
            reg::CPL_TAIL => self.cpl_tail,
            reg::CNT_FREE_BUFLETS => free_buflets,
            a if (reg::CNT_RX_FRAMES..=CNT_LAST).contains(&a) && a % 4 == 0 => {
                self.cnt.0[((a - reg::CNT_RX_FRAMES) / 4) as usize]
            }
            a if (DROP_BASE + 4..DROP_BASE + 4 * NDROP as u32).contains(&a) && a % 4 == 0 => {
                self.drops[((a - DROP_BASE) / 4) as usize]
            }
            _ => 0,
        }
    }

    pub fn write(&mut self, addr: u32, v: u32) {
        match addr {
            reg::CTRL => self.ctrl = v & (CTRL_ENABLE | CTRL_PROT_EN),
            reg::IRQ_STATUS => self.irq_status &= !v,
            reg::IRQ_MASK => self.irq_mask = v & (IRQ_CPL | IRQ_FAULT),
            reg::NIC_MAC_LO => self.nic_mac_lo = v,
            reg::NIC_MAC_HI => self.nic_mac_hi = v & 0xFFFF,
            reg::NIC_IP => self.nic_ip = v,
            reg::TIMER_PERIOD => self.timer_period = v,
            reg::TIMER_KICK => self.timer_kick = v,
            reg::BLK_TIMEOUT => self.blk_timeout = BlkTimeout(v),
            reg::RTO_INIT => self.tx_policy.rto_init = v,
            reg::RTO_MIN => self.tx_policy.rto_min = v,
            reg::RTO_MAX => self.tx_policy.rto_max = v,
            reg::TX_RETRIES => self.tx_policy.retries = v,
            reg::HALF_OPEN_MAX => self.half_open_max = v,
            reg::REQ_BASE_LO => set_lo(&mut self.req_base, v),
            reg::REQ_BASE_HI => set_hi(&mut self.req_base, v),
            reg::REQ_SIZE => self.req_size = v,
            reg::REQ_TAIL => self.req_tail = v,
            reg::CPL_BASE_LO => set_lo(&mut self.cpl_base, v),
            reg::CPL_BASE_HI => set_hi(&mut self.cpl_base, v),
            reg::CPL_SIZE => self.cpl_size = v,
            reg::CPL_HEAD => self.cpl_head = v,
            _ => {}
        }
    }
}
