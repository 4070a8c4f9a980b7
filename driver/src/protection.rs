//! The device protection table (seed 004 in hardware): the rings' regions, and the mirror of
//! the registration cache's runs in the table's other slots.

use crate::*;

pub(crate) const CTRL_ENABLE: u32 = 1;
pub(crate) const CTRL_PROT_EN: u32 = 2;

/// A `REG_REGION` / `DEREG_REGION` request entry.
pub(crate) fn region_entry(
    opcode: Opcode,
    tag: u32,
    slot: u32,
    base: u64,
    len: u64,
    perm: RegionPerm,
) -> [u8; 64] {
    let mut d = RegionDesc {
        opcode,
        tag,
        slot,
        ..Default::default()
    };
    if opcode == Opcode::RegRegion {
        d.flags = perm;
        d.base = base;
        d.len = len;
    }
    d.to_bytes()
}

impl Driver {
    /// True when the driver programs the device protection table and `CTRL.PROT_EN` is set.
    pub fn protected(&self) -> bool {
        !self.prot_slots.is_empty() && self.prot_on
    }

    /// Turn the device checks (`CTRL.PROT_EN`) and the mirroring of the registration cache
    /// into the table off or on again (on: the table is brought up to date by the next
    /// request). Off is today's behaviour without a table, for callers that register memory
    /// directly with `HostMemory::register`. No effect on a device without a table.
    pub fn set_protection(&mut self, on: bool) {
        if self.prot_slots.is_empty() {
            return;
        }
        self.prot_on = on;
        let ctrl = if on {
            CTRL_ENABLE | CTRL_PROT_EN
        } else {
            CTRL_ENABLE
        };
        if on {
            // Slots are rewritten before the next request; until then the table may lag.
            self.prot_want.clear();
            self.prot_synced = None;
        }
        self.wr(reg::CTRL, ctrl);
    }

    /// The byte ranges `(start, end)` the protection table grants besides the rings, as
    /// programmed (slot `RING_SLOTS + i` is element `i`; `None` = invalid slot).
    pub fn prot_slots(&self) -> &[Option<(u64, u64)>] {
        &self.prot_slots
    }

    /// Mirror the registration cache's covered bytes into the protection table: maximal runs,
    /// one slot each, the two runs with the smallest gap merged while there are more runs than
    /// slots (the merged slot grants the gap too). Only slots that change get a request, issued
    /// on the request ring so that they take effect before any request submitted after them.
    /// Bytes that stay registered are never left uncovered between two of these requests: a
    /// slot is rewritten only when the bytes it held that are still wanted are covered by its
    /// new run or by another slot, and slots are invalidated last. (Should no such order exist,
    /// which needs every slot in use and a run split in two, the last rewrite leaves the
    /// moved bytes uncovered until the request after it; a request of the driver never uses
    /// bytes in that window, as only released entries leave the cache.)
    pub(crate) fn prot_sync(&mut self) -> Result<(), DriverError> {
        if self.prot_slots.is_empty() || !self.prot_on {
            return Ok(());
        }
        // Nothing covered changed since the last mirror (a hit or a release): the runs are
        // the same.
        let version = self.regs.cover_version();
        if self.prot_synced == Some(version) {
            return Ok(());
        }
        let want = fit_runs(&self.regs.runs(), self.prot_slots.len());
        if want == self.prot_want {
            self.prot_synced = Some(version);
            return Ok(());
        }
        let wanted: HashSet<(u64, u64)> = want.iter().copied().collect();
        let mut fixed: Vec<bool> = self
            .prot_slots
            .iter()
            .map(|s| s.is_some_and(|r| wanted.contains(&r)))
            .collect();
        let mut placed: HashSet<(u64, u64)> = self
            .prot_slots
            .iter()
            .flatten()
            .copied()
            .filter(|r| wanted.contains(r))
            .collect();
        let mut pending: Vec<(u64, u64)> = want
            .iter()
            .copied()
            .filter(|r| !placed.contains(r))
            .collect();
        while !pending.is_empty() {
            // A (run, slot) pair whose rewrite uncovers nothing still wanted.
            let safe = |slots: &[Option<(u64, u64)>],
                        placed: &HashSet<(u64, u64)>,
                        n: (u64, u64),
                        j: usize| {
                slots[j].is_none_or(|(a, b): (u64, u64)| {
                    want.iter()
                        .filter(|r| r.0 < b && a < r.1)
                        .all(|r| *r == n || placed.contains(r))
                })
            };
            let mut pick = None;
            'find: for (i, &n) in pending.iter().enumerate() {
                for (j, _) in fixed.iter().enumerate().filter(|(_, f)| !**f) {
                    if safe(&self.prot_slots, &placed, n, j) {
                        pick = Some((i, j));
                        break 'find;
                    }
                }
            }
            let (i, j) = match pick {
                Some(p) => p,
                None => match fixed.iter().position(|f| !f) {
                    Some(j) => (0, j),
                    None => break, // cannot happen: want.len() <= slots
                },
            };
            let n = pending.remove(i);
            let perm = RegionPerm::READ | RegionPerm::WRITE;
            self.region_req(Opcode::RegRegion, j, n.0, n.1 - n.0, perm)?;
            self.prot_slots[j] = Some(n);
            fixed[j] = true;
            placed.insert(n);
        }
        let stale: Vec<usize> = (0..fixed.len())
            .filter(|&j| !fixed[j] && self.prot_slots[j].is_some())
            .collect();
        for j in stale {
            self.region_req(Opcode::DeregRegion, j, 0, 0, RegionPerm::empty())?;
            self.prot_slots[j] = None;
        }
        self.prot_want = want;
        self.prot_synced = Some(version);
        Ok(())
    }

    /// Queue a region request for cache slot `j` (device slot `RING_SLOTS + j`); its
    /// `CMD_DONE` is swallowed by [`Driver::completions`].
    pub(crate) fn region_req(
        &mut self,
        opcode: Opcode,
        j: usize,
        base: u64,
        len: u64,
        perm: RegionPerm,
    ) -> Result<(), DriverError> {
        let tag = self.tag();
        let slot = RING_SLOTS + j as u32;
        let e = region_entry(opcode, tag, slot, base, len, perm);
        self.prot_tags.insert(tag);
        self.submit_raw(&e)
    }
}
