//! Seed 003: block I/O through the SCSI pass-through to the user-space logical unit.

use buflet_platform::scsi::{
    opcode, sense_key, Contexts, DataMap, DiskLu, EmulationPacket, LuHandler, PacketState,
    ScsiPassThrough, CHECK_CONDITION,
};
use buflet_platform::{BlockDevice, DiskError, DiskMode};

/// A fresh image file `name` of `bytes` in a directory removed when the returned guard drops.
fn image(name: &str, bytes: u64) -> (Tmp, BlockDevice) {
    let dir = tempfile::Builder::new()
        .prefix("buflet-scsi-")
        .tempdir()
        .unwrap();
    let p = dir.path().join(name);
    let d = BlockDevice::create(&p, bytes).unwrap();
    (Tmp { _dir: dir, path: p }, d)
}

/// An image path and the directory guard that removes it.
struct Tmp {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

#[test]
fn writes_and_reads_go_through_packets_with_the_dma_buffer_mapped_not_copied() {
    let (_p, mut d) = image("rw.img", 1 << 20);
    d.use_scsi().unwrap();
    assert_eq!(d.mode(), DiskMode::Scsi);
    let data: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    d.write(16, &data).unwrap();
    // The handler saw the block engine's buffer itself.
    assert_eq!(d.scsi_last_mapped_addr(), Some(data.as_ptr() as usize));
    let mut back = vec![0u8; 8192];
    d.read(16, &mut back).unwrap();
    assert_eq!(d.scsi_last_mapped_addr(), Some(back.as_ptr() as usize));
    assert_eq!(back, data);
    let mut raw = vec![0u8; 8192];
    d.read_bytes(16 * 512, &mut raw).unwrap();
    assert_eq!(raw, data, "the logical unit stored to the image");
    let s = d.scsi_stats().unwrap();
    assert_eq!((s.commands, s.check_conditions), (2, 0));
    assert_eq!(s.bytes_mapped, 16384);
    assert_eq!(s.bytes_copied, 0);
}

#[test]
fn medium_errors_from_the_handler_reach_the_caller_with_sense() {
    let (_p, mut d) = image("err.img", 1 << 20);
    d.use_scsi().unwrap();
    d.set_error_rate(1.0, 7).unwrap();
    match d.write(0, &[1u8; 4096]) {
        Err(DiskError::Scsi { lba: 0, sense }) => {
            assert_eq!((sense.key, sense.asc), (sense_key::MEDIUM_ERROR, 0x0C));
        }
        other => panic!("expected a CHECK CONDITION, got {other:?}"),
    }
    assert_eq!(d.scsi_stats().unwrap().check_conditions, 1);
    d.set_error_rate(0.0, 0).unwrap();
    d.write(0, &[1u8; 4096]).unwrap();
}

#[test]
fn seeded_error_rate_is_deterministic_in_both_modes() {
    let count = |scsi: bool| {
        let (_p, mut d) = image(if scsi { "r1.img" } else { "r2.img" }, 1 << 20);
        if scsi {
            d.use_scsi().unwrap();
        }
        d.set_error_rate(0.3, 42).unwrap();
        (0..200)
            .filter(|i| d.write(i % 64 * 8, &[0u8; 4096]).is_err())
            .count()
    };
    let (a, b) = (count(false), count(true));
    assert!((30..=90).contains(&a), "{a} of 200 failed");
    assert_eq!(
        a, b,
        "the same seed fails the same operations in both modes"
    );
}

fn packet<'a>(cdb: [u8; 16], data: DataMap<'a>) -> EmulationPacket<'a> {
    EmulationPacket {
        tag: 1,
        cdb,
        state: PacketState::Executing,
        direction: buflet_platform::scsi::Direction::ToDevice,
        length: 4096,
        status: 0,
        sense: [0; 18],
        ctx: Contexts {
            initiator: 1,
            lun: 0,
            port: 1,
        },
        data,
        accessed: None,
    }
}

#[test]
fn the_logical_unit_checks_its_cdbs() {
    let (p, _d) = image("lu.img", 1 << 20);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p.path)
        .unwrap();
    let mut lu = DiskLu::new(f, p.path.clone(), 2048, 512);
    let buf = [0u8; 4096];
    // LBA out of range.
    let mut c = [0u8; 16];
    c[0] = opcode::WRITE_16;
    c[2..10].copy_from_slice(&2045u64.to_be_bytes());
    c[10..14].copy_from_slice(&8u32.to_be_bytes());
    let mut pkt = packet(c, DataMap::Out(&buf));
    lu.execute(&mut pkt);
    assert_eq!(
        (pkt.status, pkt.sense[2], pkt.sense[12]),
        (CHECK_CONDITION, 5, 0x21)
    );
    // Transfer length not matching the data phase.
    c[2..10].copy_from_slice(&0u64.to_be_bytes());
    c[10..14].copy_from_slice(&3u32.to_be_bytes());
    let mut pkt = packet(c, DataMap::Out(&buf));
    lu.execute(&mut pkt);
    assert_eq!((pkt.status, pkt.sense[12]), (CHECK_CONDITION, 0x24));
    // Unsupported operation code (INQUIRY).
    let mut pkt = packet([0x12; 16], DataMap::None);
    lu.execute(&mut pkt);
    assert_eq!((pkt.status, pkt.sense[12]), (CHECK_CONDITION, 0x20));
    assert_eq!(pkt.state, PacketState::Done);
}

/// A handler that stores from its own copy of the data: the pass-through counts the copy.
struct CopyingLu(Vec<u8>);

impl LuHandler for CopyingLu {
    fn execute(&mut self, pkt: &mut EmulationPacket<'_>) {
        if let DataMap::Out(d) = &pkt.data {
            self.0 = d.to_vec();
            pkt.accessed = Some(self.0.as_ptr() as usize);
        }
        pkt.good();
    }
}

#[test]
fn a_handler_that_copies_is_counted() {
    let ctx = Contexts {
        initiator: 1,
        lun: 0,
        port: 1,
    };
    let mut pt = ScsiPassThrough::new(Box::new(CopyingLu(Vec::new())), 512, ctx);
    pt.write(0, &[5u8; 4096]).unwrap();
    let s = pt.stats();
    assert_eq!((s.bytes_mapped, s.bytes_copied), (4096, 4096));
}
