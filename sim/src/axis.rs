//! AXI-stream verification components for module tests, in the manner of
//! cocotbext-axi: an [`AxisSource`] that drives frames into a model, an
//! [`AxisSink`] that takes them out with random backpressure, and an
//! [`AxisMonitor`] that records every handshake.
//!
//! # Stepping
//!
//! The components hold no reference to the model; the test loop steps each
//! of them once per clock cycle, in two phases around the evaluation that
//! settles the cycle's inputs:
//!
//! ```text
//! loop {
//!     src.drive(&mut m);     // set this cycle's inputs (tvalid/tdata/..., tready)
//!     sink.drive(&mut m);
//!     m.eval();              // settle: outputs now show this cycle's handshakes
//!     src.sample(&m);        // tvalid && tready now = a transfer at the coming edge
//!     sink.sample(&m);
//!     mon.sample(&m);
//!     // ... the test's own per-cycle checks ...
//!     m.tick(clk);           // the rising edge
//! }
//! ```
//!
//! `drive` must come before and `sample` after the same evaluation, and
//! the clock edge after `sample`. A handshake is counted when `tvalid` and
//! `tready` are both high after that evaluation, which is when the design
//! registers the beat at the next rising edge.
//!
//! # Randomness
//!
//! The source's idle cycles and the sink's backpressure come from a small
//! seeded generator ([`SplitMix64`]): the same seed gives the same cycle
//! pattern, independent of the test's own random generator.
//!
//! # Widths
//!
//! `tdata` and `tkeep` may be of any width (values go through
//! [`Model::set_bytes`] / [`Model::get_bytes`]); a beat's data is the whole
//! bus (`tdata` width / 8 bytes), its keep a little-endian bit mask with one
//! bit per byte. Sideband ports are up to 64 bits wide.

use std::collections::VecDeque;

use crate::{Dir, Model, Port, SimError};

/// SplitMix64: a small seeded generator for idle cycles and backpressure.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p` (0 never draws: always false; 1 always true).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        // 53 random bits as a float in [0, 1)
        ((self.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// The ports of one stream. Only `tvalid` is required: a stream without
/// `tdata` (a channel of sideband fields only, e.g. a metadata channel) or
/// without `tready` (no backpressure) is fine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisBus {
    /// `tvalid`.
    pub tvalid: Port,
    /// `tready`, if the stream has backpressure.
    pub tready: Option<Port>,
    /// `tdata`, any width (a whole number of bytes is not required).
    pub tdata: Option<Port>,
    /// `tkeep`, one bit per byte of `tdata`.
    pub tkeep: Option<Port>,
    /// `tlast`.
    pub tlast: Option<Port>,
    /// Named sideband ports (e.g. `tuser`), up to 64 bits each, in the
    /// order of [`Beat::sideband`].
    pub sideband: Vec<(String, Port)>,
}

/// The builder methods `name(port)` of the optional ports of [`AxisBus`].
macro_rules! optional_ports {
    ($($name:ident),*) => {
        $(
            #[doc = concat!("With `", stringify!($name), "`.")]
            pub fn $name(mut self, p: Port) -> Self {
                self.$name = Some(p);
                self
            }
        )*
    };
}

impl AxisBus {
    /// A bus of `tvalid` only; add the other ports with the builder methods.
    pub fn new(tvalid: Port) -> Self {
        AxisBus {
            tvalid,
            tready: None,
            tdata: None,
            tkeep: None,
            tlast: None,
            sideband: Vec::new(),
        }
    }

    optional_ports!(tready, tdata, tkeep, tlast);

    /// With a sideband port called `name` (up to 64 bits).
    pub fn sideband(mut self, name: &str, p: Port) -> Self {
        self.sideband.push((name.to_string(), p));
        self
    }

    /// Resolves `<prefix>_tvalid`, `_tready`, `_tdata`, `_tkeep`, `_tlast`
    /// by name (each but `tvalid` optional), plus the sideband ports
    /// `<prefix>_<name>` for each of `sideband`.
    pub fn from_prefix(m: &Model, prefix: &str, sideband: &[&str]) -> Result<Self, SimError> {
        let opt = |s: &str| m.port(&format!("{prefix}_{s}")).ok();
        let mut bus = AxisBus {
            tvalid: m.port(&format!("{prefix}_tvalid"))?,
            tready: opt("tready"),
            tdata: opt("tdata"),
            tkeep: opt("tkeep"),
            tlast: opt("tlast"),
            sideband: Vec::new(),
        };
        for s in sideband {
            bus.sideband
                .push((s.to_string(), m.port(&format!("{prefix}_{s}"))?));
        }
        Ok(bus)
    }

    /// Bytes of a beat's data: `tdata`'s width / 8, rounded up (0 without `tdata`).
    pub fn data_bytes(&self) -> usize {
        self.tdata.map_or(0, |p| p.width().div_ceil(8) as usize)
    }

    /// Bytes of a beat's keep mask (0 without `tkeep`).
    pub fn keep_bytes(&self) -> usize {
        self.tkeep.map_or(0, |p| p.width().div_ceil(8) as usize)
    }

    /// Checks that the sideband ports are at most 64 bits wide and that the
    /// directions match a component that drives (`drives = true`: tvalid,
    /// tdata, ... are inputs of the model) or receives the stream.
    fn check(&self, m: &Model, drives: bool) -> Result<(), SimError> {
        let want = |p: Port, forward: bool| -> Result<(), SimError> {
            let input = forward == drives;
            let ok = match p.dir() {
                Dir::InOut => true,
                Dir::In => input,
                Dir::Out => !input,
            };
            if ok {
                return Ok(());
            }
            let port = m.info().ports[p.index()].name.to_string();
            let model = m.info().name.to_string();
            Err(if input {
                SimError::NotAnInput { model, port }
            } else {
                SimError::NotAnOutput { model, port }
            })
        };
        want(self.tvalid, true)?;
        for p in [self.tdata, self.tkeep, self.tlast].into_iter().flatten() {
            want(p, true)?;
        }
        for (_, p) in &self.sideband {
            want(*p, true)?;
            if p.width() > 64 {
                return Err(SimError::WidthMismatch {
                    model: m.info().name.to_string(),
                    port: m.info().ports[p.index()].name.to_string(),
                    expected: 64,
                    actual: p.width(),
                });
            }
        }
        if let Some(r) = self.tready {
            want(r, false)?;
        }
        Ok(())
    }

    /// Reads the beat on the bus (whatever `tvalid` says).
    fn read_beat(&self, m: &Model) -> Beat {
        let mut data = vec![0u8; self.data_bytes()];
        if let Some(p) = self.tdata {
            m.get_bytes(p, &mut data);
        }
        let mut keep = vec![0u8; self.keep_bytes()];
        if let Some(p) = self.tkeep {
            m.get_bytes(p, &mut keep);
        }
        Beat {
            data,
            keep,
            last: self.tlast.is_some_and(|p| m.get(p) == 1),
            sideband: self.sideband.iter().map(|(_, p)| m.get(*p)).collect(),
        }
    }

    fn valid_and_ready(&self, m: &Model) -> bool {
        m.get(self.tvalid) == 1 && self.tready.is_none_or(|r| m.get(r) == 1)
    }
}

/// One transfer: the whole `tdata` bus, the `tkeep` mask, `tlast` and the
/// sideband values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Beat {
    /// The whole bus, little-endian (byte 0 is `tdata[7:0]`).
    pub data: Vec<u8>,
    /// The keep mask, little-endian bytes (bit i: byte i of `data` is
    /// valid); empty if the bus has no `tkeep` (all bytes valid).
    pub keep: Vec<u8>,
    /// `tlast` (false without `tlast`).
    pub last: bool,
    /// The sideband values, in the order of [`AxisBus::sideband`].
    pub sideband: Vec<u64>,
}

impl Beat {
    /// A beat from whole-bus data, a keep mask of up to 64 bits and `last`.
    pub fn new(data: Vec<u8>, keep: u64, last: bool) -> Self {
        let n = data.len().div_ceil(8);
        Beat {
            data,
            keep: keep.to_le_bytes()[..n.min(8)].to_vec(),
            last,
            sideband: Vec::new(),
        }
    }

    /// With sideband values.
    pub fn with_sideband(mut self, values: Vec<u64>) -> Self {
        self.sideband = values;
        self
    }

    /// The low 64 bits of the keep mask.
    pub fn keep_u64(&self) -> u64 {
        let mut b = [0u8; 8];
        let n = self.keep.len().min(8);
        b[..n].copy_from_slice(&self.keep[..n]);
        u64::from_le_bytes(b)
    }

    /// True if byte `i` of the data is valid.
    pub fn kept(&self, i: usize) -> bool {
        if self.keep.is_empty() {
            return i < self.data.len();
        }
        self.keep.get(i / 8).is_some_and(|k| k >> (i % 8) & 1 == 1)
    }

    /// The valid bytes, in order (those whose keep bit is set).
    pub fn kept_bytes(&self) -> Vec<u8> {
        (0..self.data.len())
            .filter(|&i| self.kept(i))
            .map(|i| self.data[i])
            .collect()
    }
}

/// A frame: the beats up to and including one with `tlast`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// The beats, in order.
    pub beats: Vec<Beat>,
}

impl Frame {
    /// Cuts `bytes` into beats of `width` bytes with low-aligned keep masks
    /// (full beats, and a partial last one), `tlast` on the last; an empty
    /// payload is one beat with an empty keep mask. Each beat carries
    /// `sideband`.
    pub fn from_bytes(bytes: &[u8], width: usize, sideband: &[u64]) -> Frame {
        assert!(width > 0, "a frame needs a tdata bus");
        let n = bytes.len().div_ceil(width).max(1);
        let beats = (0..n)
            .map(|i| {
                let chunk = bytes.get(i * width..).unwrap_or(&[]);
                let chunk = &chunk[..chunk.len().min(width)];
                let mut data = vec![0u8; width];
                data[..chunk.len()].copy_from_slice(chunk);
                let mut keep = vec![0u8; width.div_ceil(8)];
                for b in 0..chunk.len() {
                    keep[b / 8] |= 1 << (b % 8);
                }
                Beat {
                    data,
                    keep,
                    last: i + 1 == n,
                    sideband: sideband.to_vec(),
                }
            })
            .collect();
        Frame { beats }
    }

    /// The valid bytes of all beats, concatenated.
    pub fn bytes(&self) -> Vec<u8> {
        self.beats.iter().flat_map(Beat::kept_bytes).collect()
    }
}

/// Drives beats onto a stream whose `tvalid`, `tdata`, ... are model inputs.
///
/// Every cycle in [`AxisSource::drive`], with probability `idle` the source
/// leaves `tvalid` low (also while a beat is waiting: by default it may
/// withdraw a beat that was not yet taken, as a stress of the design; set
/// [`AxisSource::hold_valid`] for the AXI rule that a presented beat stays
/// until taken). While `tvalid` is low, the other ports hold zeros, or
/// random garbage with [`AxisSource::garbage_when_idle`].
#[derive(Debug)]
pub struct AxisSource {
    bus: AxisBus,
    queue: VecDeque<Beat>,
    rng: SplitMix64,
    idle: f64,
    hold_valid: bool,
    garbage: bool,
    /// A beat is on the bus with tvalid high this cycle.
    presenting: bool,
    sent: u64,
    sent_frames: u64,
}

impl AxisSource {
    /// A source on `bus` (checked: its ports must be inputs of `m`, `tready`
    /// an output) with idle probability `idle` per cycle and random seed `seed`.
    pub fn new(m: &Model, bus: AxisBus, idle: f64, seed: u64) -> Result<Self, SimError> {
        bus.check(m, true)?;
        Ok(AxisSource {
            bus,
            queue: VecDeque::new(),
            rng: SplitMix64::new(seed),
            idle,
            hold_valid: false,
            garbage: false,
            presenting: false,
            sent: 0,
            sent_frames: 0,
        })
    }

    /// Keeps a presented beat on the bus until it is taken (AXI rule).
    pub fn hold_valid(mut self, on: bool) -> Self {
        self.hold_valid = on;
        self
    }

    /// Drives random data, keep, last and sideband while `tvalid` is low.
    pub fn garbage_when_idle(mut self, on: bool) -> Self {
        self.garbage = on;
        self
    }

    /// Changes the idle probability (e.g. between phases of a test).
    pub fn set_idle(&mut self, idle: f64) {
        self.idle = idle;
    }

    /// The bus.
    pub fn bus(&self) -> &AxisBus {
        &self.bus
    }

    /// Queues one beat.
    pub fn send_beat(&mut self, beat: Beat) {
        self.queue.push_back(beat);
    }

    /// Queues a frame's beats.
    pub fn send_frame(&mut self, frame: Frame) {
        self.queue.extend(frame.beats);
    }

    /// Queues `bytes` as one frame cut into bus-wide beats
    /// ([`Frame::from_bytes`]), each with `sideband`.
    pub fn send_bytes(&mut self, bytes: &[u8], sideband: &[u64]) {
        let f = Frame::from_bytes(bytes, self.bus.data_bytes(), sideband);
        self.send_frame(f);
    }

    /// Beats queued and not yet taken.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// True when every queued beat was taken.
    pub fn idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Beats taken so far.
    pub fn beats_sent(&self) -> u64 {
        self.sent
    }

    /// Beats with `tlast` taken so far.
    pub fn frames_sent(&self) -> u64 {
        self.sent_frames
    }

    /// Before the evaluation: presents the next beat (or an idle cycle).
    pub fn drive(&mut self, m: &mut Model) {
        let keep_presenting = self.hold_valid && self.presenting;
        self.presenting =
            !self.queue.is_empty() && (keep_presenting || !self.rng.chance(self.idle));
        m.set(self.bus.tvalid, u64::from(self.presenting));
        if self.presenting {
            let beat = self.queue.front().expect("a queued beat");
            write_beat(m, &self.bus, beat);
        } else if self.garbage {
            let mut g = Beat {
                data: vec![0; self.bus.data_bytes()],
                keep: vec![0; self.bus.keep_bytes()],
                last: self.rng.chance(0.5),
                sideband: Vec::new(),
            };
            self.rng.fill(&mut g.data);
            self.rng.fill(&mut g.keep);
            g.sideband = (0..self.bus.sideband.len())
                .map(|_| self.rng.next_u64())
                .collect();
            write_beat(m, &self.bus, &g);
        } else {
            write_beat(m, &self.bus, &Beat::default());
        }
    }

    /// After the evaluation: if the beat on the bus is taken, moves on.
    /// Returns the beat taken this cycle, if any.
    pub fn sample(&mut self, m: &Model) -> Option<Beat> {
        if !self.presenting || self.bus.tready.is_some_and(|r| m.get(r) != 1) {
            return None;
        }
        self.presenting = false;
        let beat = self.queue.pop_front().expect("a presented beat");
        self.sent += 1;
        self.sent_frames += u64::from(beat.last);
        Some(beat)
    }
}

/// Sets the bus's forward ports to `beat` (missing bytes and values are 0).
fn write_beat(m: &mut Model, bus: &AxisBus, beat: &Beat) {
    if let Some(p) = bus.tdata {
        m.set_bytes(p, &beat.data);
    }
    if let Some(p) = bus.tkeep {
        m.set_bytes(p, &beat.keep);
    }
    if let Some(p) = bus.tlast {
        m.set(p, u64::from(beat.last));
    }
    for (i, (_, p)) in bus.sideband.iter().enumerate() {
        m.set(*p, beat.sideband.get(i).copied().unwrap_or(0));
    }
}

/// Takes beats from a stream whose `tvalid`, `tdata`, ... are model
/// outputs: drives `tready` low with probability `stall` per cycle and
/// collects the beats into frames (a frame ends with `tlast`; on a bus
/// without `tlast` every beat is a frame).
#[derive(Debug)]
pub struct AxisSink {
    bus: AxisBus,
    rng: SplitMix64,
    stall: f64,
    ready: bool,
    /// The beat presented last cycle while `tready` was low: it must still be presented, unchanged.
    stalled: Option<Beat>,
    beats: Vec<Beat>,
    current: Frame,
    frames: VecDeque<Frame>,
}

impl AxisSink {
    /// A sink on `bus` (checked: its ports must be outputs of `m`, `tready`
    /// an input) stalling with probability `stall` per cycle, seed `seed`.
    pub fn new(m: &Model, bus: AxisBus, stall: f64, seed: u64) -> Result<Self, SimError> {
        bus.check(m, false)?;
        Ok(AxisSink {
            bus,
            rng: SplitMix64::new(seed),
            stall,
            ready: false,
            stalled: None,
            beats: Vec::new(),
            current: Frame::default(),
            frames: VecDeque::new(),
        })
    }

    /// Changes the stall probability.
    pub fn set_stall(&mut self, stall: f64) {
        self.stall = stall;
    }

    /// The bus.
    pub fn bus(&self) -> &AxisBus {
        &self.bus
    }

    /// The `tready` driven this cycle.
    pub fn ready(&self) -> bool {
        self.ready
    }

    /// Before the evaluation: drives `tready` (random backpressure).
    pub fn drive(&mut self, m: &mut Model) {
        self.drive_gated(m, true);
    }

    /// [`AxisSink::drive`] for a responder that can only take data in some states (a block
    /// device between a write request and its data): `tready` stays low while `open` is
    /// false. The stall draw is made either way, so the backpressure pattern does not depend
    /// on the gate.
    pub fn drive_gated(&mut self, m: &mut Model, open: bool) {
        let go = !self.rng.chance(self.stall);
        self.ready = open && go;
        if let Some(r) = self.bus.tready {
            m.set(r, u64::from(self.ready));
        }
    }

    /// After the evaluation: collects the beat if one is transferred this
    /// cycle, and returns it. Checks the AXI-Stream rule on the way: a beat
    /// presented while `tready` was low stays presented, with the same valid
    /// bytes, `tkeep`, `tlast` and sideband, until it is taken (a violation
    /// panics: it is a test failure).
    pub fn sample(&mut self, m: &Model) -> Option<Beat> {
        let valid = m.get(self.bus.tvalid) == 1;
        if let Some(prev) = self.stalled.take() {
            assert!(
                valid,
                "AXI-Stream: tvalid dropped while the beat was stalled"
            );
            let now = self.bus.read_beat(m);
            assert!(
                now.kept_bytes() == prev.kept_bytes()
                    && now.keep == prev.keep
                    && now.last == prev.last
                    && now.sideband == prev.sideband,
                "AXI-Stream: a stalled beat changed: {prev:?} became {now:?}"
            );
        }
        if !valid {
            return None;
        }
        if !(self.ready || self.bus.tready.is_none()) {
            self.stalled = Some(self.bus.read_beat(m));
            return None;
        }
        let beat = self.bus.read_beat(m);
        self.beats.push(beat.clone());
        self.current.beats.push(beat.clone());
        if beat.last || self.bus.tlast.is_none() {
            self.frames.push_back(std::mem::take(&mut self.current));
        }
        Some(beat)
    }

    /// Every beat received so far, in order.
    pub fn beats(&self) -> &[Beat] {
        &self.beats
    }

    /// Number of beats received so far.
    pub fn beat_count(&self) -> usize {
        self.beats.len()
    }

    /// The oldest complete frame not yet taken.
    pub fn recv(&mut self) -> Option<Frame> {
        self.frames.pop_front()
    }

    /// Complete frames waiting in [`AxisSink::recv`].
    pub fn frames_waiting(&self) -> usize {
        self.frames.len()
    }

    /// Beats of the frame in progress (received, no `tlast` yet).
    pub fn partial(&self) -> &Frame {
        &self.current
    }
}

/// One recorded handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// [`Model::cycles`] when it was sampled (the edge that takes it is the
    /// next tick).
    pub cycle: u64,
    /// The beat.
    pub beat: Beat,
}

/// Records every handshake (`tvalid && tready` after the evaluation) on a
/// stream, driving nothing; works on either side of a model.
#[derive(Debug)]
pub struct AxisMonitor {
    bus: AxisBus,
    transfers: Vec<Transfer>,
}

impl AxisMonitor {
    /// A monitor of `bus`.
    pub fn new(bus: AxisBus) -> Self {
        AxisMonitor {
            bus,
            transfers: Vec::new(),
        }
    }

    /// After the evaluation: records the handshake of this cycle, if any.
    pub fn sample(&mut self, m: &Model) -> Option<&Transfer> {
        if !self.bus.valid_and_ready(m) {
            return None;
        }
        self.transfers.push(Transfer {
            cycle: m.cycles(),
            beat: self.bus.read_beat(m),
        });
        self.transfers.last()
    }

    /// Every handshake so far, in order.
    pub fn transfers(&self) -> &[Transfer] {
        &self.transfers
    }

    /// The frames of the recorded handshakes (complete ones only).
    pub fn frames(&self) -> Vec<Frame> {
        let mut out = Vec::new();
        let mut cur = Frame::default();
        for t in &self.transfers {
            cur.beats.push(t.beat.clone());
            if t.beat.last || self.bus.tlast.is_none() {
                out.push(std::mem::take(&mut cur));
            }
        }
        out
    }

    /// Forgets the recorded handshakes.
    pub fn clear(&mut self) {
        self.transfers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_seeded_and_chance_is_fair() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(SplitMix64::new(8).next_u64(), SplitMix64::new(7).next_u64());
        let hits = (0..10_000).filter(|_| a.chance(0.25)).count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
        assert!(!(0..100).any(|_| a.chance(0.0)));
        assert!((0..100).all(|_| a.chance(1.0)));
    }

    #[test]
    fn frames_from_bytes() {
        let f = Frame::from_bytes(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 8, &[5]);
        assert_eq!(f.beats.len(), 2);
        assert_eq!(f.beats[0].keep_u64(), 0xff);
        assert!(!f.beats[0].last);
        assert_eq!(f.beats[1].data, [9, 10, 0, 0, 0, 0, 0, 0]);
        assert_eq!(f.beats[1].keep_u64(), 0x3);
        assert!(f.beats[1].last);
        assert_eq!(f.beats[1].sideband, [5]);
        assert_eq!(f.bytes(), (1..=10).collect::<Vec<u8>>());
        // 9-byte bus (72 bits): a 2-byte keep
        let f = Frame::from_bytes(&[0xaa; 9], 9, &[]);
        assert_eq!(f.beats.len(), 1);
        assert_eq!(f.beats[0].keep, [0xff, 0x01]);
        // empty payload: one beat, nothing kept
        let f = Frame::from_bytes(&[], 8, &[]);
        assert_eq!(f.beats.len(), 1);
        assert!(f.beats[0].last && f.bytes().is_empty());
    }

    #[test]
    fn kept_bytes_follow_the_mask() {
        let b = Beat::new(vec![1, 2, 3, 4, 5, 6, 7, 8], 0b0110_0100, true);
        assert_eq!(b.kept_bytes(), [3, 6, 7]);
        let no_keep = Beat {
            data: vec![1, 2],
            ..Beat::default()
        };
        assert_eq!(no_keep.kept_bytes(), [1, 2]);
    }
}
