//! OP_BLK_READ through the driver on both backends: blocks written to the disk come back into
//! host memory along a scatter-gather list (discard elements skipped), and a read past the disk's
//! end is a DISK_ERROR completion. The read half of seed 000's read-modify-write. And p2p
//! reads (docs/p2p.md): HOST_BUFLETS taken and refused, DEVMEM elements putting blocks into
//! host buflets (every rule that makes one BAD_SG), a DEVMEM TX_POST refused when its first
//! offset leaves its first buflet.

use buflet_driver::regcache::Perms;
use buflet_driver::{Completion, Driver, DriverError};
use buflet_platform::Agent;
use buflet_spec::{param, reg};
use buflet_spec::{CplKind, Opcode, SgElem, SgFlags, Status};
use buflet_testbench::{frames, Backend, Bench};
use rand::{RngCore, SeedableRng};

/// A bench on `backend` over a fresh 1 MiB scratch disk (removed when the bench is dropped).
fn setup(backend: Backend, name: &str) -> Bench {
    Bench::builder(backend).name(name).build().unwrap()
}

/// An SG element: (src, len, flags, disk byte address).
type Elem = (u64, u32, SgFlags, u64);

/// Write SG elements as a linked list; returns its address.
fn sg_list(drv: &mut Driver, elems: &[Elem]) -> u64 {
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

/// The completion of kind `kind` (BLK_DONE, or CMD_DONE) for request `tag`.
fn done_kind(drv: &mut Driver, tag: u32, kind: CplKind) -> Completion {
    for _ in 0..200 {
        if let Some(c) = drv
            .wait(20_000)
            .unwrap()
            .into_iter()
            .find(|c| c.tag == tag && c.kind == kind)
        {
            return c;
        }
    }
    panic!("no {kind:?} for tag {tag}");
}

fn done(drv: &mut Driver, tag: u32) -> Completion {
    done_kind(drv, tag, CplKind::BlkDone)
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

/// p2p reads (docs/p2p.md "p2p reads"); the data path end to end (blocks read into host
/// buflets and sent from there to an independent TCP) is `tests/read_back.rs`.
///
/// HOST_BUFLETS refused above half the pool and taken at a quarter (the free count leaves
/// them out); two blocks read into host buflets (the counter moves, no block byte reaches host
/// memory; the bytes themselves are checked end to end by `read_back.rs`); every BAD_SG rule
/// of a DEVMEM read element (DISK_ADDR's alignment too); a DEVMEM post with FIRST_OFF past its buflet refused; the host
/// buflets given back.
#[test]
fn devmem_block_reads_on_both_backends() {
    for backend in Backend::ALL {
        let mut bench = Bench::builder(backend).name("p2prd").build().unwrap();
        let drv = &mut bench.drv;
        let b = backend.name();
        let num = drv.info.num_buflets;
        let bb = u64::from(drv.info.buflet_bytes);

        // HOST_BUFLETS: more than half the pool is refused, a quarter taken.
        let e = drv.set_host_buflets(num / 2 + 1).unwrap_err();
        assert!(
            matches!(e, DriverError::Invalid(m) if m.contains("HOST_BUFLETS")),
            "{b}"
        );
        assert_eq!(drv.rd(reg::HOST_BUFLETS), 0, "{b}");
        let host = drv.set_host_buflets(num / 4).unwrap();
        assert_eq!(host, (num - num / 4) as u16..num as u16, "{b}");
        assert_eq!(
            drv.rd(reg::CNT_FREE_BUFLETS),
            num - num / 4,
            "{b}: free count"
        );

        // Two blocks of seeded bytes on disk.
        let mut data = vec![0u8; 8192];
        rand_chacha::ChaCha8Rng::seed_from_u64(9).fill_bytes(&mut data);
        let src = drv.env.mem.alloc(8192, 4096).unwrap();
        drv.reg_acquire(src, 8192, Perms::RW).unwrap();
        drv.env.mem.write(Agent::Cpu, src, &data).unwrap();
        let disk = 64 * 512;
        let w = sg_list(drv, &[(src, 8192, SgFlags::empty(), disk)]);
        let tag = drv.blk_write(w, 1, 8192).unwrap();
        let c = done(drv, tag);
        assert_eq!((c.status, c.bytes), (Status::Ok, 8192), "{b}");

        // Into host buflets, one element per buflet-sized piece (DEVMEM).
        let dev = SgFlags::DEVMEM;
        let top = u64::from(host.end) - 1;
        let pieces: Vec<Elem> = (0..8192 / bb)
            .map(|k| ((top - k) * bb, bb as u32, dev, disk + k * bb))
            .collect();
        let before = drv.rd(reg::CNT_BLK_DEV_WR_BYTES);
        let before_host = drv.env.mem.stats();
        let r = sg_list(drv, &pieces);
        let tag = drv.blk_read(r, pieces.len() as u32, 8192).unwrap();
        let c = done(drv, tag);
        assert_eq!((c.status, c.bytes), (Status::Ok, 8192), "{b}: DEVMEM read");
        assert_eq!(
            drv.rd(reg::CNT_BLK_DEV_WR_BYTES) - before,
            8192,
            "{b}: counter"
        );
        let after_host = drv.env.mem.stats();
        assert_eq!(
            after_host.blk_written, before_host.blk_written,
            "{b}: no block byte went to host memory"
        );

        // Every rule that makes a DEVMEM element of a BLK_READ BAD_SG; nothing delivered.
        let align = param::DEV_ALIGN;
        let base = top * bb;
        let bad: [(&str, Elem); 6] = [
            ("misaligned SRC_ADDR", (base + 32, 4096 - 64, dev, disk)),
            ("misaligned LEN", (base, bb as u32 - 8, dev, disk)),
            ("not a host buflet", (0, bb as u32, dev, disk)),
            (
                "ZERO with DEVMEM",
                (base, bb as u32, dev | SgFlags::ZERO, disk),
            ),
            ("crossing the buflet", (base + align, bb as u32, dev, disk)),
            (
                "past the memory",
                (u64::from(num) * bb, bb as u32, dev, disk),
            ),
        ];
        for (what, el) in bad {
            let before = drv.rd(reg::CNT_BLK_DEV_WR_BYTES);
            let r = sg_list(drv, &[el]);
            let tag = drv.blk_read(r, 1, 4096).unwrap();
            let c = done(drv, tag);
            assert_eq!((c.status, c.bytes), (Status::BadSg, 0), "{b}: {what}");
            assert_eq!(drv.rd(reg::CNT_BLK_DEV_WR_BYTES), before, "{b}: {what}");
        }

        // A DEVMEM element at a block offset that is not a multiple of DEV_ALIGN (after a
        // 100-byte host element): BAD_SG, though SRC_ADDR and LEN are aligned; the host
        // element before it was delivered in the same block, which is not counted.
        let hostpg = drv.env.mem.alloc(4096, 4096).unwrap();
        drv.reg_acquire(hostpg, 4096, Perms::RW).unwrap();
        let before = drv.rd(reg::CNT_BLK_DEV_WR_BYTES);
        let r = sg_list(
            drv,
            &[
                (hostpg, 100, SgFlags::empty(), disk),
                (base, bb as u32, dev, disk + 100),
                (
                    hostpg + 100,
                    4096 - 100 - bb as u32,
                    SgFlags::empty(),
                    disk + 100 + bb,
                ),
            ],
        );
        let tag = drv.blk_read(r, 3, 4096).unwrap();
        let c = done(drv, tag);
        assert_eq!(
            (c.status, c.bytes),
            (Status::BadSg, 0),
            "{b}: misaligned DISK_ADDR"
        );
        assert_eq!(
            drv.rd(reg::CNT_BLK_DEV_WR_BYTES),
            before,
            "{b}: misaligned DISK_ADDR"
        );

        // A DEVMEM post whose first offset leaves its first buflet is refused (BAD_NB).
        let spec = frames::demo_socket(0x1000, 1460);
        let (sock, _) = drv.add_socket(&spec).unwrap();
        let tag = drv
            .tx_post_dev(sock, &[host.start], bb as u16, 10, true)
            .unwrap();
        let c = done_kind(drv, tag, CplKind::CmdDone);
        assert_eq!(
            (c.opcode, c.status),
            (Opcode::TxPost.code(), Status::BadNb),
            "{b}: FIRST_OFF past the buflet"
        );
        // The host buflets go back to the pool.
        drv.del_socket(sock).unwrap();
        drv.set_host_buflets(0).unwrap();
        assert_eq!(drv.rd(reg::CNT_FREE_BUFLETS), num, "{b}");
    }
}
