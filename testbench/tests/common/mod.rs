//! A small rig for driving the NAS writer on either backend: a disk image pre-filled with a
//! known pattern (so read-modify-write has old bytes to keep), a TCP connection whose data is
//! received into named buffers (frames built with etherparse), and checks at the end.

#![allow(dead_code)]

use buflet_spec::SockFlags;
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use buflet_driver::Driver;
use buflet_nas::{FileMap, NasStream, WriteCallback, WriteError, WriteMode};
use buflet_platform::WirePort;
use buflet_testbench::frames::{
    self, CLIENT_IP, CLIENT_MAC, CLIENT_PORT, SERVER_IP, SERVER_MAC, SERVER_PORT,
};
use buflet_testbench::{Backend, Bench};
use etherparse::{PacketBuilder, TcpOptionElement};
use rand::{RngCore, SeedableRng};

/// Segment size of the test connection.
pub const MSS: usize = 1448;
/// File-system block.
pub const BLOCK: u64 = 4096;

/// A file whose blocks are scattered over the disk: file block k lives at disk block `table[k]`.
#[derive(Debug, Clone)]
pub struct Scattered(pub Vec<u64>);

impl Scattered {
    /// `blocks` file blocks at a seeded permutation of disk blocks `first..first+blocks`.
    pub fn new(first: u64, blocks: u64, seed: u64) -> Self {
        let mut t: Vec<u64> = (first..first + blocks).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for i in (1..t.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            t.swap(i, j);
        }
        Scattered(t)
    }
}

impl FileMap for Scattered {
    fn disk_addr(&self, off: u64) -> Option<u64> {
        self.0
            .get((off / BLOCK) as usize)
            .map(|b| b * BLOCK + off % BLOCK)
    }
}

/// What the writes' callbacks reported, each call recorded under its key (to check "exactly
/// once" as well as the result).
pub type Outcomes = Rc<RefCell<Vec<(u32, Result<u64, WriteError>)>>>;

/// A callback recording its outcome under `key`.
pub fn recorder(out: &Outcomes, key: u32) -> WriteCallback {
    let out = out.clone();
    Box::new(move |r: Result<u64, WriteError>| out.borrow_mut().push((key, r)))
}

/// How many times the callback of `key` was called.
pub fn calls(out: &Outcomes, key: u32) -> usize {
    out.borrow().iter().filter(|(k, _)| *k == key).count()
}

/// The client's IPv4 headers towards the NIC (etherparse).
pub fn base() -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC).ipv4(CLIENT_IP, SERVER_IP, 64)
}

/// A TCP segment of `p` from a builder step.
pub fn emit(b: etherparse::PacketBuilderStep<etherparse::TcpHeader>, p: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.size(p.len()));
    b.write(&mut v, p).unwrap();
    v
}

/// The client's SYN at `isn` (MSS and window scale 7 offered) and its ACK of the NIC's
/// SYN-ACK (ISS `iss`).
pub fn handshake(isn: u32, iss: u32) -> [Vec<u8>; 2] {
    let syn = base()
        .tcp(CLIENT_PORT, SERVER_PORT, isn, 64240)
        .syn()
        .options(&[
            TcpOptionElement::MaximumSegmentSize(MSS as u16),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ])
        .unwrap();
    let (seq, ack) = (isn.wrapping_add(1), iss.wrapping_add(1));
    [
        emit(syn, &[]),
        emit(
            base().tcp(CLIENT_PORT, SERVER_PORT, seq, 4096).ack(ack),
            &[],
        ),
    ]
}

/// Every buflet of the device is on the free list.
pub fn assert_buflets_free(drv: &mut Driver) {
    let c = drv.counters();
    assert_eq!(
        c.free_buflets,
        drv.info.num_buflets,
        "{}: buflets not all free: {c:?}",
        drv.backend()
    );
}

/// One backend, one connection, one stream, one disk image.
pub struct Rig {
    pub drv: Driver,
    /// The client's end of the NIC's wire.
    pub wire: WirePort,
    pub nas: NasStream,
    pub sock: u16,
    pub img: PathBuf,
    /// The directory holding `img`, removed with the rig on every exit path (panics too).
    _tmp: Option<buflet_platform::scratch::Scratch>,
    pub disk_bytes: u64,
    /// What the disk held before any write (the oracle's starting point).
    pub initial: Vec<u8>,
    isn: u32,
    iss: u32,
}

impl Rig {
    /// A rig with a disk of `disk_bytes` filled with a seeded pattern and `nbs` named buffers of
    /// `pages` pages posted to the connection's socket (zero-copy writer).
    pub fn new(backend: Backend, name: &str, disk_bytes: u64, nbs: usize, pages: usize) -> Rig {
        Rig::with_mode(backend, name, disk_bytes, nbs, pages, WriteMode::ZeroCopy)
    }

    /// [`Rig::new`] with the writer in `mode`: for p2p the socket is a hold socket.
    pub fn with_mode(
        backend: Backend,
        name: &str,
        disk_bytes: u64,
        nbs: usize,
        pages: usize,
        mode: WriteMode,
    ) -> Rig {
        let initial = frames::payload(0xd15c ^ disk_bytes, disk_bytes as usize);
        let Bench {
            mut drv,
            wire,
            scratch,
        } = Bench::builder(backend)
            .mem(32 << 20)
            .disk_contents(initial.clone())
            .name(&format!("naswr-{name}-{mode}"))
            .build()
            .unwrap();
        let img = drv.env.disk.path().to_path_buf();
        let (isn, iss) = (0x0100_0000, 0x7000_0000);
        // PSH returns a partly filled named buffer, so the stream's last bytes come back
        // without a FIN.
        let spec = buflet_driver::SocketSpec {
            flags: SockFlags::PSH_RETURN,
            ..frames::demo_socket(iss, MSS as u16)
        }
        .with_hold(mode.needs_hold());
        let (sock, early) = drv.add_socket(&spec).unwrap();
        assert!(early.is_empty());
        let mut nas = NasStream::start(&mut drv, sock, nbs, pages).unwrap();
        nas.set_mode(mode).unwrap();
        Rig {
            drv,
            wire,
            nas,
            sock,
            img,
            _tmp: scratch,
            disk_bytes,
            initial,
            isn,
            iss,
        }
    }

    /// Collect completions for `cycles` at most (until the interrupt) and feed them to the stream.
    pub fn step(&mut self, cycles: u64) {
        for c in self.drv.wait(cycles).unwrap() {
            assert!(
                self.nas.handle(&mut self.drv, &c).unwrap(),
                "a completion not for the stream: {c:?}"
            );
        }
        while self.wire.recv().is_some() {}
    }

    /// Run the handshake and deliver `data` (then FIN if `fin`), in batches the window admits,
    /// until the stream holds all of it. The last segment carries PSH so the last named buffer
    /// comes back without FIN.
    pub fn receive(&mut self, data: &[u8], fin: bool) {
        self.receive_upto(data, fin, data.len() as u64);
    }

    /// [`Rig::receive`], but done once the stream holds `expect` bytes (the named buffers
    /// posted may take less than `data`).
    pub fn receive_upto(&mut self, data: &[u8], fin: bool, expect: u64) {
        let ack = self.iss.wrapping_add(1);
        let mut seq = self.isn.wrapping_add(1);
        for f in handshake(self.isn, self.iss) {
            self.wire.send(f);
        }
        let chunks: Vec<&[u8]> = data.chunks(MSS).collect();
        for (i, batch) in chunks.chunks(32).enumerate() {
            for (j, c) in batch.iter().enumerate() {
                let mut b = base().tcp(CLIENT_PORT, SERVER_PORT, seq, 4096).ack(ack);
                if i * 32 + j + 1 == chunks.len() && !fin {
                    b = b.psh();
                }
                self.wire.send(emit(b, c));
                seq = seq.wrapping_add(c.len() as u32);
            }
            let mut n = 0;
            while self.wire.pending() > 0 {
                self.step(20_000);
                n += 1;
                assert!(n < 10_000, "frames not taken");
            }
        }
        if fin {
            self.wire.send(emit(
                base()
                    .tcp(CLIENT_PORT, SERVER_PORT, seq, 4096)
                    .ack(ack)
                    .fin(),
                &[],
            ));
        }
        self.wait_received(expect, fin);
        let drops = self.drv.counters().dropped();
        assert_eq!(drops, 0, "frames dropped: {:?}", self.drv.counters().drops);
    }

    /// Run until the stream holds `expect` bytes (and its end mark, with `fin`); the counters
    /// and the buffers posted are in the message if it never does.
    pub fn wait_received(&mut self, expect: u64, fin: bool) {
        let mut n = 0;
        while self.nas.received() < expect || (fin && self.nas.eof.is_none()) {
            self.step(20_000);
            n += 1;
            assert!(
                n < 10_000,
                "{}: stream received {} of {expect} bytes: {:?}, {} buffers posted",
                self.drv.backend(),
                self.nas.received(),
                self.drv.counters(),
                self.nas.posted_count()
            );
        }
    }

    /// Run until every write has called back.
    pub fn settle(&mut self) {
        let mut n = 0;
        while self.nas.writes_in_flight() > 0 {
            self.step(20_000);
            n += 1;
            assert!(
                n < 100_000,
                "{} writes never finished",
                self.nas.writes_in_flight()
            );
        }
    }

    /// `len` bytes of the disk image at `off`.
    pub fn disk(&self, off: u64, len: u64) -> Vec<u8> {
        let mut v = vec![0u8; len as usize];
        self.drv.env.disk.read_bytes(off, &mut v).unwrap();
        v
    }

    /// The whole disk image.
    pub fn whole_disk(&self) -> Vec<u8> {
        self.disk(0, self.disk_bytes)
    }

    /// Delete the socket, take its buffers back, and check nothing leaked on the NIC (every
    /// buflet free) or strayed in host memory. p2p: the bytes no write took are given up first,
    /// so every held chain goes back with BUF_RELEASE before the socket is deleted.
    pub fn finish(mut self) {
        assert_eq!(self.nas.writes_in_flight(), 0);
        if self.nas.is_hold() {
            let got = self.nas.received();
            self.nas.discard(&mut self.drv, 0, got).unwrap();
            let mut n = 0;
            while self.nas.held_chains() != (0, 0) {
                self.step(20_000);
                n += 1;
                assert!(
                    n < 1000,
                    "held chains never released: {:?}",
                    self.nas.held_chains()
                );
            }
            assert!(self.nas.errors.is_empty(), "{:?}", self.nas.errors);
        }
        for c in self.drv.del_socket(self.sock).unwrap() {
            self.nas.handle(&mut self.drv, &c).unwrap();
        }
        self.drv.run(20_000);
        assert_buflets_free(&mut self.drv);
        assert_eq!(self.drv.env.mem.stats().stray_accesses, 0);
    }
}

/// Apply a write to the oracle: file range `[file_off, file_off+data.len())` through `map`.
pub fn oracle_write(disk: &mut [u8], map: &dyn FileMap, file_off: u64, data: &[u8]) {
    for (i, &b) in data.iter().enumerate() {
        let f = file_off + i as u64;
        let d = map.disk_addr(f - f % BLOCK).unwrap() + f % BLOCK;
        disk[d as usize] = b;
    }
}

/// Zero the rest of the block holding file offset `end - 1`, after `end` (a write that ends the
/// file with a zero tail).
pub fn oracle_zero_tail(disk: &mut [u8], map: &dyn FileMap, end: u64) {
    if end.is_multiple_of(BLOCK) {
        return;
    }
    let blk = end - end % BLOCK;
    let d = map.disk_addr(blk).unwrap();
    for b in &mut disk[(d + end % BLOCK) as usize..(d + BLOCK) as usize] {
        *b = 0;
    }
}

/// Blocks a write of `len` bytes at `off` touches.
pub fn blocks_of(off: u64, len: u64) -> u64 {
    (off + len).div_ceil(BLOCK) - off / BLOCK
}
