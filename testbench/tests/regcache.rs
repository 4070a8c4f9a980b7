//! The driver's registration cache (seed 004) on both backends: a demo-sized stream (4 MiB and
//! 777 bytes, the `buflet demo` default) goes through the NIC into named buffers and through the
//! NAS writer to disk in rounds, re-posting the same named buffers and reusing the writer's
//! scatter-gather lists and bounce blocks. Registrations stay in place across I/Os, so almost
//! every lookup is a hit; the device never touches unregistered memory (no stray access) even
//! when the cache collects aggressively, because entries in use are never collected; and the
//! data lands byte-exact (sha256).

mod common;

use buflet_driver::regcache::{Perms, RegConfig};
use buflet_nas::ExtentFile;
use buflet_testbench::frames::{self, CLIENT_PORT, SERVER_PORT};
use buflet_testbench::{sha256_hex, Backend};
use common::{base, calls, emit, handshake, recorder, Outcomes, Rig, BLOCK, MSS};

/// The initial sequence numbers `Rig::new` sets up (its client ISN and the NIC's ISS).
const ISN: u32 = 0x0100_0000;
const ISS: u32 = 0x7000_0000;

/// The client side of the rig's connection, sending in rounds.
struct Client {
    seq: u32,
    ack: u32,
}

impl Client {
    /// Handshake with the NIC.
    fn connect(rig: &mut Rig) -> Client {
        let c = Client {
            seq: ISN.wrapping_add(1),
            ack: ISS.wrapping_add(1),
        };
        for f in handshake(ISN, ISS) {
            rig.wire.send(f);
        }
        rig.step(20_000);
        c
    }

    /// Send `data` (the last segment with PSH, so the last named buffer comes back) and run
    /// until the stream holds everything sent so far.
    fn send(&mut self, rig: &mut Rig, data: &[u8], upto: u64) {
        let chunks: Vec<&[u8]> = data.chunks(MSS).collect();
        for (i, batch) in chunks.chunks(32).enumerate() {
            for (j, c) in batch.iter().enumerate() {
                let mut b = base()
                    .tcp(CLIENT_PORT, SERVER_PORT, self.seq, 4096)
                    .ack(self.ack);
                if i * 32 + j + 1 == chunks.len() {
                    b = b.psh();
                }
                rig.wire.send(emit(b, c));
                self.seq = self.seq.wrapping_add(c.len() as u32);
            }
            let mut n = 0;
            while rig.wire.pending() > 0 {
                rig.step(20_000);
                n += 1;
                assert!(n < 10_000, "frames not taken");
            }
        }
        let mut n = 0;
        while rig.nas.received() < upto {
            rig.step(20_000);
            n += 1;
            assert!(n < 10_000, "received {} of {upto}", rig.nas.received());
        }
    }
}

/// Stream `total` bytes through the NIC and the NAS writer in rounds of `round` bytes (each
/// round is received, written to disk, and its named buffers re-posted), then check the disk
/// by sha256, no stray access, no leaked buflet, and nothing left in use in the cache.
fn stream_in_rounds(rig: &mut Rig, total: usize, round: usize, seed: u64) {
    let data = frames::payload(seed, total);
    let file = ExtentFile {
        disk_start: 16 * BLOCK,
        capacity: (total as u64).div_ceil(BLOCK) * BLOCK,
    };
    let mut client = Client::connect(rig);
    let out = Outcomes::default();
    let mut written = 0u64;
    for (k, piece) in data.chunks(round).enumerate() {
        let upto = written + piece.len() as u64;
        client.send(rig, piece, upto);
        rig.nas
            .write(
                &mut rig.drv,
                &file,
                written,
                written,
                piece.len() as u64,
                recorder(&out, k as u32),
            )
            .unwrap();
        rig.settle();
        assert_eq!(calls(&out, k as u32), 1);
        written = upto;
    }
    for (k, r) in out.borrow().iter() {
        assert!(r.is_ok(), "write {k}: {r:?}");
    }
    assert_eq!(rig.nas.written(), total as u64);
    let disk = rig.disk(file.disk_start, total as u64);
    assert_eq!(sha256_hex(&disk), sha256_hex(&data), "disk != stream");
    assert_eq!(rig.drv.env.mem.stats().stray_accesses, 0);
    assert_eq!(rig.drv.env.mem.stats().cpu_copied, 0);
}

/// The 4 MiB demo stream: nearly every registration lookup is a hit, and the registrations
/// are bounded by the distinct buffers (named buffer pages and page lists, list buffers,
/// bounce blocks), not by the number of I/Os.
fn demo_hit_rate(backend: Backend) {
    let total = (4 << 20) + 777;
    // 16 named buffers of 4 pages (256 KiB) posted; rounds of 192 KiB.
    let mut rig = Rig::new(backend, "regcache-demo", 5 << 20, 16, 4);
    stream_in_rounds(&mut rig, total, 48 * BLOCK as usize, 0x5eed_0004);
    let s = rig.drv.reg_stats();
    eprintln!(
        "{}: registration cache over a {total}-byte stream: {} lookups, {} hits, {} misses \
         (hit rate {:.4}), {} registrations, {} deregistrations, {} collected, {} entries",
        rig.drv.backend(),
        s.lookups,
        s.hits,
        s.misses,
        s.hit_rate(),
        s.registrations,
        s.deregistrations,
        s.collected,
        rig.drv.regcache().len()
    );
    assert_eq!(s.lookups, s.hits + s.misses);
    assert!(s.lookups > 1000, "every post and block command looks up");
    assert!(s.hit_rate() > 0.95, "hit rate {}", s.hit_rate());
    // The 16 named buffers' 64 pages and 16 page lists, a few list buffers and bounce blocks.
    assert!(s.registrations < 120, "{} registrations", s.registrations);
    assert_eq!(s.registrations, s.misses);
    assert_eq!(s.collected, 0, "nothing stale with the default bounds");
    // Between I/Os only the buffers posted to the NIC are in use: the 16 named buffers' pages
    // and page lists.
    assert_eq!(rig.drv.regcache().in_use(), 16 * 5);
    rig.finish();
}

/// A tiny cache that collects everything released at once (and is over capacity all the time):
/// registrations churn, but no entry in use is ever collected, so the device never strays and
/// the data still lands byte-exact.
fn aggressive_collection(backend: Backend) {
    let mut rig = Rig::new(backend, "regcache-gc", 2 << 20, 8, 4);
    rig.drv.set_reg_config(RegConfig {
        max_idle: 0,
        capacity: 4,
    });
    stream_in_rounds(&mut rig, (1 << 20) + 333, 24 * BLOCK as usize, 0x5eed_0005);
    let s = rig.drv.reg_stats();
    assert!(s.collected > 100, "{s:?}");
    assert!(s.hit_rate() < 0.5, "{s:?}");
    assert_eq!(s.registrations, s.misses);
    let live = rig.drv.regcache().len() as u64;
    assert_eq!(s.registrations - s.deregistrations, live);
    // Whatever is left after a collection is in use (the posted named buffers).
    rig.drv.reg_collect();
    assert_eq!(rig.drv.regcache().in_use(), rig.drv.regcache().len());
    rig.finish();
}

/// Explicit free and a property change through the driver; freeing a named buffer deregisters
/// its pages and page list, and socket deletion (all buffers returned and freed by the stream)
/// leaves the cache with nothing in use.
fn free_and_property_change(backend: Backend) {
    let mut rig = Rig::new(backend, "regcache-free", 1 << 20, 2, 2);
    let page = rig.drv.info.page_bytes as u64;
    assert_eq!(rig.drv.regcache().in_use(), 2 * 3);
    let a = rig.drv.io_buf_alloc(8192, 4096).unwrap();
    assert!(!rig.drv.reg_acquire(a, 8192, Perms::READ).unwrap());
    assert!(rig.drv.env.mem.is_registered(a, 8192));
    // In use: no property change.
    assert!(rig.drv.reg_set_perms(a, 8192, Perms::WRITE).is_err());
    rig.drv.reg_release(a, 8192).unwrap();
    assert!(rig.drv.reg_set_perms(a, 8192, Perms::WRITE).unwrap());
    let e = rig.drv.regcache().entry(a, 8192).unwrap();
    assert_eq!((e.perms, e.users), (Perms::WRITE, 0));
    assert!(rig.drv.env.mem.is_registered(a, 8192));
    assert!(rig.drv.reg_acquire(a, 8192, Perms::WRITE).unwrap(), "hit");
    rig.drv.reg_release(a, 8192).unwrap();
    assert_eq!(rig.drv.reg_free(a, 8192), 1);
    assert!(!rig.drv.env.mem.is_registered(a, 1));
    rig.drv.env.mem.free(a);
    // A named buffer freed while never posted: nothing registered, nothing to do; posted and
    // returned on deletion, then freed: deregistered.
    let nb = rig.drv.alloc_nb(2).unwrap();
    assert!(!rig.drv.env.mem.is_registered(nb.pages[0], 1));
    rig.drv.post_nb(rig.sock, &nb, 0).unwrap();
    assert!(rig.drv.env.mem.is_registered(nb.pages[1], page as usize));
    assert!(rig.drv.env.mem.is_registered(nb.hmd_addr, 16));
    let before = rig.drv.reg_stats().deregistrations;
    let returned = rig.drv.del_socket(rig.sock).unwrap();
    assert!(returned.iter().any(|c| c.ref_num == nb.ref_num));
    for c in &returned {
        if c.ref_num != nb.ref_num {
            rig.nas.handle(&mut rig.drv, c).unwrap();
        }
    }
    assert_eq!(rig.drv.regcache().in_use(), 0, "every return released");
    let pages = nb.pages.clone();
    let hmd = nb.hmd_addr;
    rig.drv.free_nb(nb);
    // The stream's two buffers (2 pages and a page list each), freed on their DELETE return,
    // and ours.
    assert_eq!(rig.drv.reg_stats().deregistrations - before, 2 * 3 + 3);
    assert!(pages.iter().all(|&p| !rig.drv.env.mem.is_registered(p, 1)));
    assert!(!rig.drv.env.mem.is_registered(hmd, 1));
    assert_eq!(rig.drv.env.mem.stats().stray_accesses, 0);
}

buflet_testbench::backend_tests! {
    demo_hit_rate => demo_hit_rate_model(), demo_hit_rate_rtl();
    aggressive_collection => aggressive_collection_model(), aggressive_collection_rtl();
    free_and_property_change => free_and_property_change_model(), free_and_property_change_rtl();
}
