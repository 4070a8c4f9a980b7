//! Hostile input: random CDBs, lengths and parameter lists through the emulation module.
//! Every packet must complete (never a panic, never an audit violation) with a status and
//! sense the standard allows.

mod common;

use std::sync::Arc;
use std::time::Duration;

use buflet_scsi::packet::{Direction, EmuPacket};
use buflet_scsi::sbc::{BlockLu, LuConfig};
use buflet_scsi::{status, EmuModule, PacketState};
use common::*;

#[test]
fn random_cdbs_end_in_valid_completions() {
    let cfg = LuConfig {
        blocks: 64,
        ..LuConfig::default()
    };
    let m = Medium::new(cfg.blocks, cfg.block_size);
    let lu = Arc::new(BlockLu::new(cfg).unwrap());
    let emu = EmuModule::new(lu, 8);
    let mut x: u64 = 0x2545F4914F6CDD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let opcodes: Vec<u8> = vec![
        0x00, 0x03, 0x08, 0x0A, 0x12, 0x15, 0x1A, 0x1B, 0x1E, 0x25, 0x28, 0x2A, 0x2E, 0x2F, 0x34,
        0x35, 0x41, 0x42, 0x55, 0x5A, 0x5E, 0x5F, 0x88, 0x89, 0x8A, 0x8E, 0x8F, 0x90, 0x91, 0x93,
        0x9E, 0xA0, 0xA3, 0xA8, 0xAA, 0xAE, 0xAF,
    ];
    let total = 6000u64;
    let mut sent = 0u64;
    let mut got = 0u64;
    for i in 0..total {
        let mut cdb = [0u8; 16];
        for b in cdb.iter_mut() {
            *b = next() as u8;
        }
        cdb[0] = if i % 5 == 0 {
            next() as u8
        } else {
            opcodes[(next() % opcodes.len() as u64) as usize]
        };
        // Bias toward small LBAs and lengths so commands get past the range check.
        if next() % 2 == 0 {
            for b in &mut cdb[2..9] {
                *b = 0;
            }
            cdb[9] &= 0x3F;
            cdb[10..13].fill(0);
            cdb[13] &= 0x0F;
            cdb[5] &= 0x3F;
            cdb[8] &= 0x0F;
        }
        if next() % 3 == 0 {
            cdb[1] &= 0x1F; // no PROTECT fields
        }
        let cdb_len = 1 + (next() % 16) as usize;
        let cdb_len = if next() % 4 == 0 { cdb_len } else { 16 };
        let expected = (next() % 8192) as u32;
        let dir = match next() % 3 {
            0 => Direction::None,
            1 => Direction::ToDevice,
            _ => Direction::FromDevice,
        };
        let mut out = vec![
            0u8;
            if dir == Direction::ToDevice {
                expected as usize
            } else {
                0
            }
        ];
        for b in out.iter_mut() {
            *b = if next() % 4 == 0 { next() as u8 } else { 0 };
        }
        // Sometimes a plausible parameter list header.
        if out.len() >= 24 && next() % 2 == 0 {
            out[0..8].fill(0);
        }
        let in_cap = if dir == Direction::FromDevice {
            expected as usize
        } else {
            0
        };
        let pkt = EmuPacket::new(i, 0, &cdb[..cdb_len], dir, expected, next() % 4, 1).unwrap();
        let io = MemIo {
            m: m.clone(),
            out,
            inbuf: Arc::new(std::sync::Mutex::new(vec![0; in_cap])),
        };
        // Wait for room when all workers are busy.
        while emu.outstanding() >= emu.max_outstanding() {
            let done = emu.recv_timeout(Duration::from_secs(30)).expect("progress");
            check(&done);
            got += 1;
        }
        emu.submit(pkt, Box::new(io)).unwrap();
        sent += 1;
    }
    while got < sent {
        let done = emu.recv_timeout(Duration::from_secs(30)).expect("progress");
        check(&done);
        got += 1;
    }
    let s = emu.stats();
    assert_eq!(s.completed, total);
    assert_eq!(s.panics, 0, "no handler panic");
    assert_eq!(s.violations, 0, "no audit violation");
    assert!(s.check_conditions > 0 && s.check_conditions < total);
}

fn check(p: &EmuPacket) {
    assert_eq!(p.state(), Ok(PacketState::Done));
    assert!(p.data_in_len() <= p.expected_len());
    match p.status() {
        status::GOOD | status::CONDITION_MET | status::RESERVATION_CONFLICT => {
            assert_eq!(p.sense_len(), 0)
        }
        status::CHECK_CONDITION => {
            let (key, asc, _) = p.sense_triplet().expect("fixed sense");
            assert!(
                matches!(key, 0x3 | 0x5 | 0x6 | 0x7 | 0xB | 0xE),
                "sense key {key:#x} for {:02x?}",
                p.cdb()
            );
            assert_ne!(asc, 0x44, "no internal target failure for {:02x?}", p.cdb());
        }
        s => panic!("status {s:#x}"),
    }
}
