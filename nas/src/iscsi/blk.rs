//! Block commands the target issues itself on behalf of its logical unit: reads of blocks into
//! data-in pages (`BLK_READ`, zero-copy), and WRITE SAME / zeroing writes from one page repeated
//! along the scatter-gather list. Data-out writes go through the stream's writer
//! ([`crate::NasStream::write`]), straight from the named buffers.

use buflet_driver::regcache::Perms;
use buflet_driver::{Driver, DriverError};
use buflet_platform::Agent;
use buflet_spec::{sg_elem, sg_list, SgElem};

/// Bytes per block command the target issues (its list stays small).
pub const CMD_BYTES: u64 = 64 * 1024;

/// A block command in flight: its tag, its list, and the buffers it holds registered.
#[derive(Debug)]
pub struct BlkCmd {
    /// Tag of its `BLK_DONE`.
    pub tag: u32,
    sg: u64,
    sg_bytes: u64,
    regs: Vec<(u64, u64)>,
}

/// Issue a block read (`write` false) or write of `elems`; `bufs` are the host buffers the
/// elements point at (registered for the command's life).
pub fn issue(
    drv: &mut Driver,
    elems: &[SgElem],
    write: bool,
    bufs: &[(u64, u64)],
) -> Result<BlkCmd, DriverError> {
    let sg_bytes = (elems.len() * sg_elem::SIZE) as u64;
    let sg = drv.io_buf_alloc(sg_bytes, 64)?;
    drv.env.mem.write(Agent::Cpu, sg, &sg_list(sg, elems))?;
    let mut regs = vec![(sg, sg_bytes)];
    drv.reg_acquire(sg, sg_bytes, Perms::READ)?;
    let perms = if write { Perms::READ } else { Perms::RW };
    for &(a, l) in bufs {
        drv.reg_acquire(a, l, perms)?;
        regs.push((a, l));
    }
    let bytes: u64 = elems.iter().map(|e| u64::from(e.len)).sum();
    let tag = if write {
        drv.blk_write(sg, elems.len() as u32, bytes as u32)?
    } else {
        drv.blk_read(sg, elems.len() as u32, bytes as u32)?
    };
    Ok(BlkCmd {
        tag,
        sg,
        sg_bytes,
        regs,
    })
}

/// The command is over: its registrations and list go.
pub fn finish(drv: &mut Driver, cmd: BlkCmd) {
    for (a, l) in cmd.regs {
        let _ = drv.reg_release(a, l);
    }
    drv.io_buf_free(cmd.sg, cmd.sg_bytes, 64);
}
