//! Buflet exhaustion by a hostile peer, on both backends: a flood of one-byte segments inside
//! the window but past a hole would each hold a whole buflet out of order, so a few hundred of
//! them take the shared pool, and the segment that fills the hole then finds no buflet: the
//! connection (and every other one) would stop for good. The NIC keeps the pool's reserve for
//! in-order data: an out-of-order segment is not held while the pool is at its reserve
//! (`POOL_LOW` drop), so the stream still lands on disk byte-exact and every buflet comes back.

mod common;

use buflet_nas::ExtentFile;
use buflet_spec::{param, DropReason};
use buflet_testbench::frames::{self, CLIENT_PORT, SERVER_PORT};
use buflet_testbench::{sha256_hex, Backend};
use common::{base, emit, handshake, recorder, Outcomes, Rig, MSS};
use etherparse::{SlicedPacket, TransportSlice};

#[test]
fn one_byte_out_of_order_flood_cannot_take_the_pool() {
    for backend in Backend::ALL {
        let name = backend.name();
        let mut rig = Rig::new(backend, "ooo-flood", 1 << 20, 8, 16);
        let data = frames::payload(41, 96 * 1024);
        let (isn, iss) = (0x0100_0000u32, 0x7000_0000u32);
        let (seq0, ack) = (isn.wrapping_add(1), iss.wrapping_add(1));
        for f in handshake(isn, iss) {
            rig.wire.send(f);
        }
        rig.step(20_000);
        let total = rig.drv.info.num_buflets;
        // One-byte segments at every other offset past a one-byte hole: more than the pool.
        let flood = total as usize + 64;
        for k in 0..flood {
            let off = 1 + 2 * k;
            let seg = base()
                .tcp(
                    CLIENT_PORT,
                    SERVER_PORT,
                    seq0.wrapping_add(off as u32),
                    4096,
                )
                .ack(ack);
            rig.wire.send(emit(seg, &data[off..off + 1]));
            if k % 16 == 15 {
                rig.step(2_000);
            }
        }
        while rig.wire.pending() > 0 {
            rig.step(2_000);
        }
        rig.step(20_000);
        let c = rig.drv.counters();
        let reserve = total / param::POOL_RESERVE_DIV as u32;
        // The free count is sampled with the frame's own buflet taken: the last segment held
        // left `reserve + 1` free, the next ones are dropped and give theirs back.
        assert_eq!(
            c.free_buflets,
            reserve + 1,
            "{name}: the flood must stop at the pool's reserve: {c:?}"
        );
        assert!(
            rig.drv.drop_count(DropReason::PoolLow) > 0,
            "{name}: no POOL_LOW drop: {:?}",
            c.drops
        );
        // The genuine stream from the hole, sent again from the NIC's acknowledgment number
        // until all of it is in (the in-order segment is cut at the next held byte, so each
        // round gains up to the next gap).
        let end = seq0.wrapping_add(data.len() as u32);
        let mut una = seq0;
        let mut rounds = 0;
        while una != end {
            let from = una.wrapping_sub(seq0) as usize;
            for (k, chunk) in data[from..].chunks(MSS).take(8).enumerate() {
                let seq = una.wrapping_add((k * MSS) as u32);
                // PSH on the stream's last segment only: it returns the last named buffer.
                let mut seg = base().tcp(CLIENT_PORT, SERVER_PORT, seq, 4096).ack(ack);
                if seq.wrapping_add(chunk.len() as u32) == end {
                    seg = seg.psh();
                }
                rig.wire.send(emit(seg, chunk));
            }
            for _ in 0..6 {
                for c in rig.drv.wait(1_000).unwrap() {
                    assert!(rig.nas.handle(&mut rig.drv, &c).unwrap(), "{c:?}");
                }
                while let Some(f) = rig.wire.recv() {
                    let p = SlicedPacket::from_ethernet(&f).expect("the NIC's frame parses");
                    if let Some(TransportSlice::Tcp(t)) = p.transport {
                        if t.acknowledgment_number().wrapping_sub(una) as i32 > 0 {
                            una = t.acknowledgment_number();
                        }
                    }
                }
            }
            rounds += 1;
            assert!(
                rounds < 2 * total as usize,
                "{name}: the stream stopped at {} of {} bytes: {:?}",
                una.wrapping_sub(seq0),
                data.len(),
                rig.drv.counters()
            );
        }
        rig.wait_received(data.len() as u64, false);
        // Written zero-copy to disk and compared there.
        let out = Outcomes::default();
        let file = ExtentFile {
            disk_start: 0,
            capacity: 1 << 20,
        };
        let len = data.len() as u64;
        rig.nas
            .write(&mut rig.drv, &file, 0, 0, len, recorder(&out, 0))
            .unwrap();
        rig.settle();
        assert!(
            matches!(out.borrow()[..], [(0, Ok(n))] if n == len),
            "{name}: {out:?}"
        );
        assert_eq!(
            sha256_hex(&rig.disk(0, len)),
            sha256_hex(&data),
            "{name}: the disk does not hold the stream"
        );
        rig.finish();
    }
}
