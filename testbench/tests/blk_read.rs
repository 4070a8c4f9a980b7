//! OP_BLK_READ through the driver on both backends: blocks written to the disk come back into
//! host memory along a scatter-gather list (discard elements skipped), and a read past the disk's
//! end is a DISK_ERROR completion. The read half of seed 000's read-modify-write.

use buflet_driver::regcache::Perms;
use buflet_driver::{Completion, Driver};
use buflet_platform::Agent;
use buflet_spec::reg;
use buflet_spec::{CplKind, Opcode, SgElem, SgFlags, Status};
use buflet_testbench::{Backend, Bench};
use rand::{RngCore, SeedableRng};

/// A bench on `backend` over a fresh 1 MiB scratch disk (removed when the bench is dropped).
fn setup(backend: Backend, name: &str) -> Bench {
    Bench::builder(backend).name(name).build().unwrap()
}

/// Write SG elements (src, len, flags, disk) as a linked list; returns its address.
fn sg_list(drv: &mut Driver, elems: &[(u64, u32, SgFlags, u64)]) -> u64 {
    let base = drv.env.mem.alloc(32 * elems.len() as u64, 32).unwrap();
    drv.reg_acquire(base, 32 * elems.len() as u64, Perms::RW)
        .unwrap();
    let elems: Vec<SgElem> = elems
        .iter()
        .map(|&(src, len, flags, disk)| SgElem {
            src_addr: src,
            len,
            flags,
            disk_addr: disk,
            next: 0,
        })
        .collect();
    drv.env
        .mem
        .write(Agent::Cpu, base, &buflet_spec::sg_list(base, &elems))
        .unwrap();
    base
}

fn done(drv: &mut Driver, tag: u32) -> Completion {
    for _ in 0..200 {
        if let Some(c) = drv
            .wait(20_000)
            .unwrap()
            .into_iter()
            .find(|c| c.tag == tag && c.kind == CplKind::BlkDone)
        {
            return c;
        }
    }
    panic!("no BLK_DONE for tag {tag}");
}

fn read_back(backend: Backend) {
    let mut bench = setup(backend, "blkrd");
    let drv = &mut bench.drv;
    let mut data = vec![0u8; 8192];
    rand_chacha::ChaCha8Rng::seed_from_u64(5).fill_bytes(&mut data);
    let src = drv.env.mem.alloc(8192, 4096).unwrap();
    drv.reg_acquire(src, 8192, Perms::RW).unwrap();
    drv.env.mem.write(Agent::Cpu, src, &data).unwrap();
    let disk = 80 * 512;
    let w = sg_list(drv, &[(src, 8192, SgFlags::empty(), disk)]);
    let tag = drv.blk_write(w, 1, 8192).unwrap();
    let c = done(drv, tag);
    assert_eq!((c.status, c.bytes), (Status::Ok, 8192));

    // Block 0 whole, then block 1 with its first 1000 bytes discarded.
    let dst = drv.env.mem.alloc(8192, 4096).unwrap();
    drv.reg_acquire(dst, 8192, Perms::RW).unwrap();
    let r = sg_list(
        drv,
        &[
            (dst, 4096, SgFlags::empty(), disk),
            (0, 1000, SgFlags::ZERO, disk + 4096),
            (dst + 4096, 3096, SgFlags::empty(), disk + 5096),
        ],
    );
    let tag = drv.blk_read(r, 3, 8192).unwrap();
    let c = done(drv, tag);
    assert_eq!(
        (c.status, c.bytes, c.opcode),
        (Status::Ok, 8192, Opcode::BlkRead.code())
    );
    let mut back = vec![0u8; 4096 + 3096];
    drv.env.mem.read(Agent::Cpu, dst, &mut back).unwrap();
    assert_eq!(&back[..4096], &data[..4096]);
    assert_eq!(&back[4096..], &data[5096..]);
    assert_eq!(drv.counter(reg::CNT_BLK_READS), 2);

    // Past the end of the 1 MiB disk.
    let r = sg_list(drv, &[(dst, 4096, SgFlags::empty(), 1 << 20)]);
    let tag = drv.blk_read(r, 1, 4096).unwrap();
    let c = done(drv, tag);
    assert_eq!((c.status, c.bytes), (Status::DiskError, 0));
    assert_eq!(drv.env.mem.stats().stray_accesses, 0);
}

buflet_testbench::backend_tests! {
    read_back => blk_read_model(), blk_read_rtl();
}
