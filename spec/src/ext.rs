//! Small conveniences on the typed layouts, kept beside them so every user reads a field the
//! same way.

use crate::{param, BufRelease, Cpl, CplFlags, HoldRec, Opcode, Status};

impl Cpl {
    /// True when `STATUS` is `OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// True when any bit of `f` is set in `FLAGS` (`has(FIN | RST)`: either).
    pub fn has(&self, f: CplFlags) -> bool {
        self.flags.intersects(f)
    }
}

impl HoldRec {
    /// The chain this record's chunk emptied, held for the driver (`None` when `HEAD` is the
    /// null link).
    pub fn held_head(&self) -> Option<u16> {
        (u64::from(self.head) != param::NULL16).then_some(self.head)
    }

    /// Device byte address of the chunk's first byte in buflet memory (the `SRC_ADDR` of a
    /// `DEVMEM` scatter-gather element): `buflet * buflet_bytes + off`.
    pub fn dev_addr(&self, buflet_bytes: u32) -> u64 {
        u64::from(self.buflet) * u64::from(buflet_bytes) + u64::from(self.off)
    }
}

impl BufRelease {
    /// A `BUF_RELEASE` entry naming `heads` (at most `RELEASE_MAX` fit; more are cut) with the
    /// given `COUNT` (not checked: the device refuses a bad one with `BAD_BUF`).
    pub fn new(tag: u32, heads: &[u16], count: u16) -> Self {
        let mut r = BufRelease {
            opcode: Opcode::BufRelease,
            tag,
            count,
            ..Default::default()
        };
        for (d, &h) in r.heads.iter_mut().zip(heads) {
            *d = h;
        }
        r
    }

    /// The heads the entry's `COUNT` names (all `RELEASE_MAX` slots when `COUNT` is larger).
    pub fn named(&self) -> &[u16] {
        &self.heads[..(self.count as usize).min(self.heads.len())]
    }
}
