//! The device's statistics counters, read by their spec names.

use crate::*;

/// Snapshot of the device's statistics counters, read by their spec names.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// `CNT_RX_FRAMES`.
    pub rx_frames: u32,
    /// `CNT_RX_BYTES`.
    pub rx_bytes: u32,
    /// `CNT_RX_ACCEPTED`.
    pub rx_accepted: u32,
    /// `CNT_DELIVERED_BYTES`.
    pub delivered_bytes: u32,
    /// `CNT_FREE_BUFLETS`.
    pub free_buflets: u32,
    /// `CNT_REQ_ERRORS`.
    pub req_errors: u32,
    /// `CNT_BLK_WRITES`.
    pub blk_writes: u32,
    /// `CNT_BLK_BYTES`.
    pub blk_bytes: u32,
    /// `CNT_CPL_POSTED`.
    pub cpl_posted: u32,
    /// `CNT_NB_RETURNED`.
    pub nb_returned: u32,
    /// `CNT_TX_FRAMES`.
    pub tx_frames: u32,
    /// `CNT_TX_BYTES`.
    pub tx_bytes: u32,
    /// `CNT_OOO_HELD`.
    pub ooo_held: u32,
    /// `CNT_ANON_RX`: frames passed to the driver in anonymous buffers.
    pub anon_rx: u32,
    /// `CNT_ARP_REPLIES`: ARP requests for `NIC_IP` answered by the NIC.
    pub arp_replies: u32,
    /// `CNT_TIMEOUTS`: named buffers returned on timeout.
    pub timeouts: u32,
    /// `CNT_TICKS`: timer ticks (sweeps) performed.
    pub ticks: u32,
    /// `CNT_BLK_READS`: block reads issued to the block device.
    pub blk_reads: u32,
    /// `CNT_BLK_RD_BYTES`: bytes read from the block device into host memory.
    pub blk_rd_bytes: u32,
    /// `CNT_HOLD_RECORDS`: hold records written (p2p).
    pub hold_records: u32,
    /// `CNT_BUF_RELEASED`: held chains released by `BUF_RELEASE` (p2p).
    pub buf_released: u32,
    /// `CNT_BLK_DEV_BYTES`: bytes the block engine read from buflet memory (p2p).
    pub blk_dev_bytes: u32,
    /// `CNT_BUF_WIN_READS`: buflet-memory window copies (the CPU's p2p header reads).
    pub buf_win_reads: u32,
    /// `CNT_TX_WND_UPDATES`: window updates the timer ticks sent.
    pub tx_wnd_updates: u32,
    /// `CNT_TX_DELAYED_ACKS`: delayed ACKs the timer ticks sent (sock_flag DELAYED_ACK).
    pub tx_delayed_acks: u32,
    /// `CNT_RX_DONE`: frames the engine finished without a drop or an anonymous delivery
    /// (`rx_frames == rx_done + anon_rx + dropped()`).
    pub rx_done: u32,
    /// `CNT_BLK_TIMEOUTS`: block-device commands given up on `BLK_TIMEOUT`.
    pub blk_timeouts: u32,
    /// Drop counters by reason, in spec order: `(name, count)` for every reason 1..=14.
    pub drops: Vec<(&'static str, u32)>,
}

impl Counters {
    /// The drop count of a reason by its spec name (`"OUT_OF_WINDOW"`), 0 if unknown.
    pub fn drop_count(&self, name: &str) -> u32 {
        self.drops
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// Sum of all drop counters.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().map(|(_, v)| *v as u64).sum()
    }
}

/// Every drop reason of the spec that has a counter (all but `NONE`), in code order.
pub fn drop_reasons() -> impl Iterator<Item = DropReason> {
    DropReason::counted()
}

impl Driver {
    /// Read a device counter register.
    pub fn counter(&mut self, addr: u32) -> u32 {
        self.rd(addr)
    }

    /// Read the drop counter of a drop reason (0 for `DropReason::None`, which has none).
    pub fn drop_count(&mut self, reason: DropReason) -> u32 {
        reason.counter().map_or(0, |a| self.rd(a))
    }

    /// Read every statistics counter.
    pub fn counters(&mut self) -> Counters {
        let drops = drop_reasons()
            .map(|r| (r.name(), self.drop_count(r)))
            .collect();
        Counters {
            rx_frames: self.rd(reg::CNT_RX_FRAMES),
            rx_bytes: self.rd(reg::CNT_RX_BYTES),
            rx_accepted: self.rd(reg::CNT_RX_ACCEPTED),
            delivered_bytes: self.rd(reg::CNT_DELIVERED_BYTES),
            free_buflets: self.rd(reg::CNT_FREE_BUFLETS),
            req_errors: self.rd(reg::CNT_REQ_ERRORS),
            blk_writes: self.rd(reg::CNT_BLK_WRITES),
            blk_bytes: self.rd(reg::CNT_BLK_BYTES),
            cpl_posted: self.rd(reg::CNT_CPL_POSTED),
            nb_returned: self.rd(reg::CNT_NB_RETURNED),
            tx_frames: self.rd(reg::CNT_TX_FRAMES),
            tx_bytes: self.rd(reg::CNT_TX_BYTES),
            ooo_held: self.rd(reg::CNT_OOO_HELD),
            anon_rx: self.rd(reg::CNT_ANON_RX),
            arp_replies: self.rd(reg::CNT_ARP_REPLIES),
            timeouts: self.rd(reg::CNT_TIMEOUTS),
            ticks: self.rd(reg::CNT_TICKS),
            blk_reads: self.rd(reg::CNT_BLK_READS),
            blk_rd_bytes: self.rd(reg::CNT_BLK_RD_BYTES),
            hold_records: self.rd(reg::CNT_HOLD_RECORDS),
            buf_released: self.rd(reg::CNT_BUF_RELEASED),
            blk_dev_bytes: self.rd(reg::CNT_BLK_DEV_BYTES),
            buf_win_reads: self.rd(reg::CNT_BUF_WIN_READS),
            tx_wnd_updates: self.rd(reg::CNT_TX_WND_UPDATES),
            tx_delayed_acks: self.rd(reg::CNT_TX_DELAYED_ACKS),
            rx_done: self.rd(reg::CNT_RX_DONE),
            blk_timeouts: self.rd(reg::CNT_BLK_TIMEOUTS),
            drops,
        }
    }
}
