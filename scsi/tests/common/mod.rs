//! An in-memory `CmdIo` test double over a `Vec` medium, and helpers to run hand-built CDBs.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use buflet_scsi::packet::{Direction, EmuPacket};
use buflet_scsi::sbc::{BlockLu, LuConfig};
use buflet_scsi::{CmdIo, IoError, LuHandler};

/// Which medium call fails next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    None,
    Write,
    Read,
    Gone,
}

/// The medium shared by every command.
pub struct Medium {
    pub data: Mutex<Vec<u8>>,
    pub bs: u32,
    pub blocks: u64,
    pub syncs: AtomicU64,
    pub fail: Mutex<FailMode>,
}

impl Medium {
    pub fn new(blocks: u64, bs: u32) -> Arc<Self> {
        Arc::new(Medium {
            data: Mutex::new(vec![0; (blocks * bs as u64) as usize]),
            bs,
            blocks,
            syncs: AtomicU64::new(0),
            fail: Mutex::new(FailMode::None),
        })
    }
    pub fn block(&self, lba: u64) -> Vec<u8> {
        let bs = self.bs as usize;
        let d = self.data.lock().unwrap();
        d[lba as usize * bs..(lba as usize + 1) * bs].to_vec()
    }
    pub fn set_block(&self, lba: u64, fill: u8) {
        let bs = self.bs as usize;
        let mut d = self.data.lock().unwrap();
        d[lba as usize * bs..(lba as usize + 1) * bs].fill(fill);
    }
}

/// One command's mapping: its data-out bytes and a data-in buffer of `in_cap` bytes.
pub struct MemIo {
    pub m: Arc<Medium>,
    pub out: Vec<u8>,
    pub inbuf: Arc<Mutex<Vec<u8>>>,
}

impl MemIo {
    fn span(&self, lba: u64, blocks: u32) -> Result<std::ops::Range<usize>, IoError> {
        let bs = self.m.bs as u64;
        let end = lba
            .checked_add(blocks as u64)
            .filter(|&e| e <= self.m.blocks)
            .ok_or_else(|| IoError::Range(format!("lba {lba} + {blocks}")))?;
        Ok((lba * bs) as usize..(end * bs) as usize)
    }
    fn fail(&self, write: bool) -> Result<(), IoError> {
        match *self.m.fail.lock().unwrap() {
            FailMode::Write if write => Err(IoError::Write("injected".into())),
            FailMode::Read if !write => Err(IoError::Read("injected".into())),
            FailMode::Gone => Err(IoError::Gone("injected".into())),
            _ => Ok(()),
        }
    }
}

impl CmdIo for MemIo {
    fn block_size(&self) -> u32 {
        self.m.bs
    }
    fn blocks(&self) -> u64 {
        self.m.blocks
    }
    fn data_out_len(&self) -> u64 {
        self.out.len() as u64
    }
    fn data_in_len(&self) -> u64 {
        self.inbuf.lock().unwrap().len() as u64
    }
    fn write(&self, lba: u64, blocks: u32, off: u64) -> Result<(), IoError> {
        self.fail(true)?;
        let r = self.span(lba, blocks)?;
        let off = off as usize;
        let src = self
            .out
            .get(off..off + r.len())
            .ok_or_else(|| IoError::Range("data-out".into()))?;
        self.m.data.lock().unwrap()[r].copy_from_slice(src);
        Ok(())
    }
    fn write_same(&self, lba: u64, blocks: u32, off: u64) -> Result<(), IoError> {
        self.fail(true)?;
        let r = self.span(lba, blocks)?;
        let bs = self.m.bs as usize;
        let off = off as usize;
        let src = self
            .out
            .get(off..off + bs)
            .ok_or_else(|| IoError::Range("data-out".into()))?;
        let mut d = self.m.data.lock().unwrap();
        for b in d[r].chunks_mut(bs) {
            b.copy_from_slice(src);
        }
        Ok(())
    }
    fn write_zeros(&self, lba: u64, blocks: u32) -> Result<(), IoError> {
        self.fail(true)?;
        let r = self.span(lba, blocks)?;
        self.m.data.lock().unwrap()[r].fill(0);
        Ok(())
    }
    fn read(&self, lba: u64, blocks: u32, off: u64) -> Result<(), IoError> {
        self.fail(false)?;
        let r = self.span(lba, blocks)?;
        let off = off as usize;
        let mut inb = self.inbuf.lock().unwrap();
        let dst = inb
            .get_mut(off..off + r.len())
            .ok_or_else(|| IoError::Range("data-in".into()))?;
        dst.copy_from_slice(&self.m.data.lock().unwrap()[r]);
        Ok(())
    }
    fn read_to_vec(&self, lba: u64, blocks: u32) -> Result<Vec<u8>, IoError> {
        self.fail(false)?;
        let r = self.span(lba, blocks)?;
        Ok(self.m.data.lock().unwrap()[r].to_vec())
    }
    fn sync(&self) -> Result<(), IoError> {
        self.m.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn peek(&self, off: u64, out: &mut [u8]) -> Result<(), IoError> {
        let off = off as usize;
        let src = self
            .out
            .get(off..off + out.len())
            .ok_or_else(|| IoError::Range("peek".into()))?;
        out.copy_from_slice(src);
        Ok(())
    }
    fn fill(&self, off: u64, data: &[u8]) -> Result<(), IoError> {
        let off = off as usize;
        let mut inb = self.inbuf.lock().unwrap();
        let dst = inb
            .get_mut(off..off + data.len())
            .ok_or_else(|| IoError::Range("fill".into()))?;
        dst.copy_from_slice(data);
        Ok(())
    }
}

/// A logical unit and its medium.
pub struct Rig {
    pub lu: Arc<BlockLu>,
    pub m: Arc<Medium>,
    pub tag: AtomicU64,
}

/// A completed command.
pub struct Res {
    pub pkt: EmuPacket,
    pub data: Vec<u8>,
}

impl Res {
    pub fn status(&self) -> u8 {
        self.pkt.status()
    }
    pub fn sense(&self) -> Option<(u8, u8, u8)> {
        self.pkt.sense_triplet()
    }
    pub fn good(&self) -> bool {
        self.pkt.status() == 0
    }
    #[track_caller]
    pub fn assert_good(&self) {
        assert_eq!(
            self.pkt.status(),
            0,
            "expected GOOD, got sense {:?}",
            self.sense()
        );
    }
    #[track_caller]
    pub fn assert_sense(&self, key: u8, asc: u8, ascq: u8) {
        assert_eq!(self.pkt.status(), buflet_scsi::status::CHECK_CONDITION);
        assert_eq!(self.sense(), Some((key, asc, ascq)));
    }
}

impl Rig {
    pub fn new(cfg: LuConfig) -> Rig {
        let m = Medium::new(cfg.blocks, cfg.block_size);
        let lu = Arc::new(BlockLu::new(cfg).unwrap());
        Rig {
            lu,
            m,
            tag: AtomicU64::new(1),
        }
    }
    pub fn small() -> Rig {
        Rig::new(LuConfig {
            blocks: 64,
            ..LuConfig::default()
        })
    }

    pub fn io(&self, out: Vec<u8>, in_cap: usize) -> MemIo {
        MemIo {
            m: self.m.clone(),
            out,
            inbuf: Arc::new(Mutex::new(vec![0; in_cap])),
        }
    }

    /// Run `cdb` from nexus `init` with data-out `out` and expected length `expected`
    /// (data-in room equals it for a data-in command).
    pub fn cmd_from(&self, init: u64, cdb: &[u8], out: &[u8], expected: u32) -> Res {
        let dir = if !out.is_empty() {
            Direction::ToDevice
        } else if expected > 0 {
            Direction::FromDevice
        } else {
            Direction::None
        };
        let in_cap = if dir == Direction::FromDevice {
            expected as usize
        } else {
            0
        };
        let tag = self.tag.fetch_add(1, Ordering::SeqCst);
        let mut pkt = EmuPacket::new(tag, 0, cdb, dir, expected, init, 1).unwrap();
        pkt.set_state(buflet_scsi::PacketState::Executing);
        let io = self.io(out.to_vec(), in_cap);
        self.lu.execute(&mut pkt, &io);
        assert_eq!(pkt.state(), Ok(buflet_scsi::PacketState::Done));
        let n = pkt.data_in_len() as usize;
        let data = io.inbuf.lock().unwrap()[..n].to_vec();
        Res { pkt, data }
    }

    /// Data-in command from nexus 1.
    pub fn din(&self, cdb: &[u8], alloc: u32) -> Res {
        self.cmd_from(1, cdb, &[], alloc)
    }
    /// Data-out command from nexus 1 (expected length = data length).
    pub fn dout(&self, cdb: &[u8], out: &[u8]) -> Res {
        self.cmd_from(1, cdb, out, out.len() as u32)
    }
    /// No-data command from nexus 1.
    pub fn nd(&self, cdb: &[u8]) -> Res {
        self.cmd_from(1, cdb, &[], 0)
    }
}

pub fn read10(lba: u32, n: u16) -> Vec<u8> {
    let mut c = vec![0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[7..9].copy_from_slice(&n.to_be_bytes());
    c
}
pub fn write10(lba: u32, n: u16) -> Vec<u8> {
    let mut c = read10(lba, n);
    c[0] = 0x2A;
    c
}
pub fn cdb16(op: u8, lba: u64, n: u32) -> Vec<u8> {
    let mut c = vec![0u8; 16];
    c[0] = op;
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[10..14].copy_from_slice(&n.to_be_bytes());
    c
}
pub fn cdb12(op: u8, lba: u32, n: u32) -> Vec<u8> {
    let mut c = vec![0u8; 12];
    c[0] = op;
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[6..10].copy_from_slice(&n.to_be_bytes());
    c
}
pub fn cdb10(op: u8, lba: u32, n: u16) -> Vec<u8> {
    let mut c = read10(lba, n);
    c[0] = op;
    c
}
pub fn pattern(blocks: usize, bs: usize, seed: u8) -> Vec<u8> {
    (0..blocks * bs)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect()
}
pub fn get_lba_status(lba: u64, alloc: u32) -> Vec<u8> {
    let mut c = cdb16(0x9E, lba, alloc);
    c[1] = 0x12;
    c
}
/// (lba, blocks, deallocated) descriptors of GET LBA STATUS data.
pub fn lba_status(d: &[u8]) -> Vec<(u64, u32, bool)> {
    d[8..]
        .chunks_exact(16)
        .map(|x| {
            (
                u64::from_be_bytes(x[0..8].try_into().unwrap()),
                u32::from_be_bytes(x[8..12].try_into().unwrap()),
                x[12] & 0x0F == 1,
            )
        })
        .collect()
}
