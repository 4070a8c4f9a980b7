//! The oracle of the protection table, written from docs/protection.md: a list of slots that
//! REG_REGION / DEREG_REGION entries change (with their CMD_DONE status), and the `allowed` rule
//! in 128-bit arithmetic.

use crate::*;

#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub base: u64,
    pub len: u64,
    pub perm: RegionPerm,
}

/// The table as docs/protection.md describes it.
pub struct Oracle {
    pub slots: Vec<Option<Slot>>,
}

impl Oracle {
    /// Applies one request entry; returns the CMD_DONE status.
    pub fn request(&mut self, e: &[u8]) -> Status {
        let d = RegionDesc::parse(e).unwrap();
        let slot = d.slot as usize;
        let n = self.slots.len();
        if d.opcode == Opcode::RegRegion {
            let (base, len, flags) = (d.base, d.len, d.flags);
            let ok = slot < n
                && len != 0
                && base as u128 + len as u128 <= 1u128 << 64
                && (1..=3).contains(&flags.bits());
            if !ok {
                return Status::BadRegion;
            }
            self.slots[slot] = Some(Slot {
                base,
                len,
                perm: flags,
            });
            Status::Ok
        } else {
            if slot >= n {
                return Status::BadRegion;
            }
            self.slots[slot] = None;
            Status::Ok
        }
    }

    pub fn allowed(&self, prot_en: bool, addr: u64, len: u32, write: bool) -> bool {
        let want = if write {
            RegionPerm::WRITE
        } else {
            RegionPerm::READ
        };
        !prot_en
            || self.slots.iter().flatten().any(|s| {
                s.perm.intersects(want)
                    && s.base <= addr
                    && addr as u128 + len as u128 <= s.base as u128 + s.len as u128
            })
    }
}
