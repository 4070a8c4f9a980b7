//! Device protection table (seed 004, docs/protection.md; rtl/prot_table.v, rtl/dma_guard.v).
//!
//! `NUM_REGIONS` slots `{VALID, BASE, LEN, PERM}`, programmed by `REG_REGION` /
//! `DEREG_REGION` requests. Region requests are applied when request fetch hands them on (the
//! table is its own unit), so they take effect before any request fetched after them is
//! processed. Every device DMA access named by the contract is checked with
//! [`Prot::allowed`] before it reaches host memory; a refusal is recorded with
//! [`ModelDevice::prot_fault`].

use buflet_spec::{param, region_perm, status, Opcode, RegionDesc};

use crate::{costs, Cpl, ModelDevice, REQ_BYTES};

/// Protection table slots of the model's build (`NUM_REGIONS`).
pub const NUM_REGIONS: usize = param::DEF_NUM_REGIONS as usize;

/// Requester ids (docs/architecture.md, DMA ports) recorded in `PROT_FAULT_INFO`.
pub(crate) mod rid {
    /// Read requester: request fetch.
    pub const RD_REQ_FETCH: u8 = 0;
    /// Read requester: toe_engine (NB page lists).
    pub const RD_TOE: u8 = 1;
    /// Read requester: blk_dma (SG elements, BLK_WRITE sources).
    pub const RD_BLK: u8 = 2;
    /// Write requester: toe_engine (NB pages, anonymous buffers).
    pub const WR_TOE: u8 = 0;
    /// Write requester: completion writer.
    pub const WR_CPL: u8 = 1;
    /// Write requester: blk_dma (BLK_READ destinations).
    pub const WR_BLK: u8 = 2;
}

/// One slot of the table.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    valid: bool,
    base: u64,
    len: u64,
    perm: u8,
}

/// The table and the last-fault registers.
#[derive(Debug)]
pub(crate) struct Prot {
    slots: [Slot; NUM_REGIONS],
    /// `STATUS.FAULT`: a ring access was refused; request fetch and the completion writer
    /// are stopped until `CTRL.ENABLE` is cleared.
    pub ring_fault: bool,
    /// `CNT_PROT_FAULTS`.
    pub faults: u32,
    /// `PROT_FAULT_ADDR_LO/HI`.
    pub fault_addr: u64,
    /// `PROT_FAULT_INFO`.
    pub fault_info: u32,
}

impl Default for Prot {
    fn default() -> Self {
        Prot {
            slots: [Slot::default(); NUM_REGIONS],
            ring_fault: false,
            faults: 0,
            fault_addr: 0,
            fault_info: 0,
        }
    }
}

impl Prot {
    /// Whether some valid slot with `perm` covers `addr .. addr + len` entirely (the check
    /// without `CTRL.PROT_EN`; see [`ModelDevice::allowed`]).
    pub fn covers(&self, addr: u64, len: u64, perm: u8) -> bool {
        // u128: an access may end exactly at 2^64 when a region does.
        let end = addr as u128 + len as u128;
        self.slots.iter().any(|s| {
            s.valid
                && s.perm & perm == perm
                && s.base <= addr
                && end <= s.base as u128 + s.len as u128
        })
    }

    /// Apply a `REG_REGION` or `DEREG_REGION` entry; returns the CMD_DONE status.
    pub fn request(&mut self, e: &[u8]) -> u64 {
        // Only REG_REGION and DEREG_REGION entries come here (`is_region`).
        let Ok(r) = RegionDesc::parse(e) else {
            return status::BAD_REGION;
        };
        let slot = u64::from(r.slot);
        if slot >= NUM_REGIONS as u64 {
            return status::BAD_REGION;
        }
        let s = &mut self.slots[slot as usize];
        if r.opcode == Opcode::DeregRegion {
            *s = Slot::default();
            return status::OK;
        }
        let (base, len) = (r.base, r.len);
        let flags = u64::from(r.flags.bits());
        let perm_ok = (1..=region_perm::READ | region_perm::WRITE).contains(&flags);
        if len == 0 || base as u128 + len as u128 > 1u128 << 64 || !perm_ok {
            return status::BAD_REGION;
        }
        *s = Slot {
            valid: true,
            base,
            len,
            perm: flags as u8,
        };
        status::OK
    }
}

/// The entry goes to the protection table (REG_REGION, DEREG_REGION).
pub(crate) fn is_region(entry: &[u8]) -> bool {
    matches!(
        Opcode::try_from(entry[0]),
        Ok(Opcode::RegRegion | Opcode::DeregRegion)
    )
}

impl ModelDevice {
    /// `allowed(addr, len, perm)` of docs/protection.md.
    pub(crate) fn allowed(&self, addr: u64, len: u64, perm: u8) -> bool {
        !self.regs.prot_en() || self.prot.covers(addr, len, perm)
    }

    /// Record a refusal: `CNT_PROT_FAULTS`, `PROT_FAULT_ADDR/INFO`, `IRQ_STATUS.FAULT`.
    pub(crate) fn prot_fault(&mut self, addr: u64, write: bool, requester: u8) {
        let p = &mut self.prot;
        p.faults = p.faults.wrapping_add(1);
        p.fault_addr = addr;
        p.fault_info = write as u32 | (requester as u32) << 8;
        self.regs.irq_status |= crate::regs::IRQ_FAULT;
    }

    /// Check an access and record the fault when it is refused; true when allowed.
    pub(crate) fn check(&mut self, addr: u64, len: u64, write: bool, requester: u8) -> bool {
        let perm = if write {
            region_perm::WRITE
        } else {
            region_perm::READ
        } as u8;
        if self.allowed(addr, len, perm) {
            return true;
        }
        self.prot_fault(addr, write, requester);
        false
    }

    /// The protection table takes a region request from request fetch: applied now, its
    /// CMD_DONE follows.
    pub(crate) fn region_req(&mut self, e: &[u8; REQ_BYTES]) {
        let st = self.prot.request(e);
        self.post_cpl(self.now + costs::DISPATCH, Cpl::cmd_done(e, st));
    }

    /// CNT_PROT_FAULTS, for tests that compare the register with the model's own count.
    pub fn prot_faults(&self) -> u32 {
        self.prot.faults
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use buflet_spec::RegionPerm;

    fn reg(slot: u64, base: u64, len: u64, flags: u64) -> [u8; REQ_BYTES] {
        RegionDesc {
            opcode: Opcode::RegRegion,
            slot: slot as u32,
            base,
            len,
            flags: RegionPerm::from_bits_retain(flags as u8),
            ..Default::default()
        }
        .to_bytes()
    }

    #[test]
    fn access_ending_at_top_of_address_space() {
        let mut p = Prot::default();
        let base = u64::MAX - 4095; // region [2^64 - 4096, 2^64)
        assert_eq!(
            p.request(&reg(3, base, 4096, region_perm::READ)),
            status::OK
        );
        assert!(p.covers(base, 4096, region_perm::READ as u8));
        assert!(p.covers(u64::MAX, 1, region_perm::READ as u8));
        assert!(p.covers(u64::MAX - 7, 8, region_perm::READ as u8));
        assert!(!p.covers(u64::MAX, 2, region_perm::READ as u8), "past 2^64");
        assert!(
            !p.covers(base - 1, 2, region_perm::READ as u8),
            "below the base"
        );
        assert!(
            !p.covers(base, 4096, region_perm::WRITE as u8),
            "permission"
        );
        assert_eq!(
            p.request(&reg(4, base, 4097, region_perm::READ)),
            status::BAD_REGION,
            "wraps"
        );
    }
}
