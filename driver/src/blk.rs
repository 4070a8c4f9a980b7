//! Block-controller DMA requests (seed 000): `BLK_WRITE` and `BLK_READ` over a scatter-gather list.

use crate::*;

impl Driver {
    /// Submit a block write of a scatter-gather list already in host memory; returns its tag.
    pub fn blk_write(
        &mut self,
        sg_addr: u64,
        sg_count: u32,
        bytes: u32,
    ) -> Result<u32, DriverError> {
        self.blk_op(Opcode::BlkWrite, sg_addr, sg_count, bytes)
    }

    /// Submit an OP_BLK_READ: whole blocks from the disk into host memory along the SG list
    /// (the read half of read-modify-write). Returns the tag of its BLK_DONE completion.
    pub fn blk_read(
        &mut self,
        sg_addr: u64,
        sg_count: u32,
        bytes: u32,
    ) -> Result<u32, DriverError> {
        self.blk_op(Opcode::BlkRead, sg_addr, sg_count, bytes)
    }

    pub(crate) fn blk_op(
        &mut self,
        opcode: Opcode,
        sg_addr: u64,
        sg_count: u32,
        bytes: u32,
    ) -> Result<u32, DriverError> {
        let tag = self.tag();
        let e = BlkReq {
            opcode,
            tag,
            sg_addr,
            sg_max: sg_count,
            bytes,
            ..Default::default()
        }
        .to_bytes();
        self.submit(&e)?;
        Ok(tag)
    }
}
