//! Small conveniences on the typed layouts, kept beside them so every user reads a field the
//! same way.

use crate::{
    param, sg_elem, AnonDesc, BufRelease, Cpl, CplFlags, DropReason, HoldRec, Opcode, RegionDesc,
    RegionPerm, ReqHdr, SgElem, Status, TxCmd, TxKind,
};

/// The null link of 16-bit link fields (`param::NULL16`), typed.
pub const NULL16: u16 = param::NULL16 as u16;

impl Cpl {
    /// True when `STATUS` is `OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The opcode of the request completed (`Err` with the raw byte for an opcode the spec
    /// does not define: a `BAD_OPCODE` completion echoes it).
    pub fn op(&self) -> Result<Opcode, u8> {
        Opcode::try_from(self.opcode)
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

impl RegionDesc {
    /// A `REG_REGION` or `DEREG_REGION` entry for protection-table `slot` (`base`, `len` and
    /// `flags` matter to `REG_REGION` only).
    pub fn new(
        opcode: Opcode,
        tag: u32,
        slot: u32,
        base: u64,
        len: u64,
        flags: RegionPerm,
    ) -> Self {
        RegionDesc {
            opcode,
            flags,
            tag,
            slot,
            base,
            len,
            ..Default::default()
        }
    }
}

impl AnonDesc {
    /// An `ANON_POST` entry: anonymous buffer `ref_num` of `len` bytes at `addr`.
    pub fn post(tag: u32, ref_num: u32, len: u32, addr: u64) -> Self {
        AnonDesc {
            opcode: Opcode::AnonPost,
            tag,
            ref_num,
            len,
            addr,
            ..Default::default()
        }
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

impl ReqHdr {
    /// The request's opcode (`Err` with the raw byte for an opcode the spec does not define).
    pub fn op(&self) -> Result<Opcode, u8> {
        Opcode::try_from(self.opcode)
    }
}

impl TxCmd {
    /// The frame kind (`Err` with the raw byte for a code the spec does not define, which
    /// tx_builder builds as a TCP segment). `KIND` stays a raw byte so that a command can carry
    /// any value the RTL may be handed, and a test can check what the device does with it.
    pub fn kind(&self) -> Result<TxKind, u8> {
        TxKind::try_from(self.kind)
    }
}

impl DropReason {
    /// Every reason that has a counter (all but `NONE`), in code order.
    pub fn counted() -> impl Iterator<Item = DropReason> {
        DropReason::ALL
            .iter()
            .copied()
            .filter(|r| *r != DropReason::None)
    }
}

/// A linked scatter-gather list laid out contiguously at host address `base`: element k at
/// `base + 32k`, each `NEXT` pointing at the following one and the last at 0 (the `NEXT`
/// fields of `elems` are ignored).
pub fn sg_list(base: u64, elems: &[SgElem]) -> Vec<u8> {
    let mut out = vec![0u8; elems.len() * sg_elem::SIZE];
    for (k, (e, d)) in elems
        .iter()
        .zip(out.chunks_exact_mut(sg_elem::SIZE))
        .enumerate()
    {
        let next = if k + 1 < elems.len() {
            base + ((k + 1) * sg_elem::SIZE) as u64
        } else {
            0
        };
        SgElem { next, ..*e }.emit(d);
    }
    out
}
