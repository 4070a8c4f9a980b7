//! OP_BLK_READ through the driver on both backends: blocks written to the disk come back into
//! host memory along a scatter-gather list (discard elements skipped), and a read past the disk's
//! end is a DISK_ERROR completion. The read half of seed 000's read-modify-write.

use buflet_driver::regcache::Perms;
use buflet_driver::{Completion, Driver};
use buflet_platform::{Agent, BlockDevice, DeviceConfig, HostEnv, HostMemory};
use buflet_spec::{op, put, reg, sg_elem, sg_flag};
use buflet_spec::{CplKind, Status};
use buflet_testbench::{make_device, Backend};
use rand::{RngCore, SeedableRng};

fn setup(backend: Backend, name: &str) -> (Driver, std::path::PathBuf) {
    let img = std::env::temp_dir().join(format!("buflet-blkrd-{}-{name}.img", std::process::id()));
    let disk = BlockDevice::create(&img, 1 << 20).unwrap();
    let env = HostEnv {
        mem: HostMemory::new(16 << 20),
        disk,
    };
    let dev = make_device(backend, DeviceConfig::with_width(64)).unwrap();
    (Driver::new(dev, env).unwrap(), img)
}

/// Write SG elements (src, len, flags, disk) as a linked list; returns its address.
fn sg_list(drv: &mut Driver, elems: &[(u64, u32, u32, u64)]) -> u64 {
    let base = drv.env.mem.alloc(32 * elems.len() as u64, 32).unwrap();
    drv.reg_acquire(base, 32 * elems.len() as u64, Perms::RW)
        .unwrap();
    for (i, &(src, len, flags, disk)) in elems.iter().enumerate() {
        let mut e = [0u8; sg_elem::SIZE];
        put(&mut e, sg_elem::SRC_ADDR, src);
        put(&mut e, sg_elem::LEN, len as u64);
        put(&mut e, sg_elem::FLAGS, flags as u64);
        put(&mut e, sg_elem::DISK_ADDR, disk);
        let next = if i + 1 < elems.len() {
            base + 32 * (i as u64 + 1)
        } else {
            0
        };
        put(&mut e, sg_elem::NEXT, next);
        drv.env
            .mem
            .write(Agent::Cpu, base + 32 * i as u64, &e)
            .unwrap();
    }
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
    let (mut drv, img) = setup(backend, backend.name());
    let mut data = vec![0u8; 8192];
    rand_chacha::ChaCha8Rng::seed_from_u64(5).fill_bytes(&mut data);
    let src = drv.env.mem.alloc(8192, 4096).unwrap();
    drv.reg_acquire(src, 8192, Perms::RW).unwrap();
    drv.env.mem.write(Agent::Cpu, src, &data).unwrap();
    let disk = 80 * 512;
    let w = sg_list(&mut drv, &[(src, 8192, 0, disk)]);
    let tag = drv.blk_write(w, 1, 8192).unwrap();
    let c = done(&mut drv, tag);
    assert_eq!((c.status, c.bytes), (Status::Ok, 8192));

    // Block 0 whole, then block 1 with its first 1000 bytes discarded.
    let dst = drv.env.mem.alloc(8192, 4096).unwrap();
    drv.reg_acquire(dst, 8192, Perms::RW).unwrap();
    let r = sg_list(
        &mut drv,
        &[
            (dst, 4096, 0, disk),
            (0, 1000, sg_flag::ZERO as u32, disk + 4096),
            (dst + 4096, 3096, 0, disk + 5096),
        ],
    );
    let tag = drv.blk_read(r, 3, 8192).unwrap();
    let c = done(&mut drv, tag);
    assert_eq!(
        (c.status, c.bytes, c.opcode),
        (Status::Ok, 8192, op::BLK_READ as u8)
    );
    let mut back = vec![0u8; 4096 + 3096];
    drv.env.mem.read(Agent::Cpu, dst, &mut back).unwrap();
    assert_eq!(&back[..4096], &data[..4096]);
    assert_eq!(&back[4096..], &data[5096..]);
    assert_eq!(drv.counter(reg::CNT_BLK_READS), 2);

    // Past the end of the 1 MiB disk.
    let r = sg_list(&mut drv, &[(dst, 4096, 0, 1 << 20)]);
    let tag = drv.blk_read(r, 1, 4096).unwrap();
    let c = done(&mut drv, tag);
    assert_eq!((c.status, c.bytes), (Status::DiskError, 0));
    assert_eq!(drv.env.mem.stats().stray_accesses, 0);
    let _ = std::fs::remove_file(img);
}

#[test]
fn blk_read_model() {
    read_back(Backend::Model);
}

#[test]
fn blk_read_rtl() {
    read_back(Backend::Rtl);
}
