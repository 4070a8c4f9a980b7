//! Receive rate by frame size (`buflet bench rate`): back-to-back valid TCP frames of one
//! connection through the real driver, named buffers always posted, on either backend and
//! width. Frames are built by etherparse; the sender keeps inside the window the NIC's ACKs
//! advertise (parsed by etherparse), so nothing is dropped for being out of window, and a
//! timer runs so a closed window is reopened by the NIC's window updates.
//!
//! A frame of `size` bytes is an Ethernet frame as the standard counts it (FCS included, not
//! the preamble and gap): the simulated wire carries `size - 4` bytes, a 20-byte IPv4 header,
//! a 20-byte TCP header and `size - 58` bytes of payload. The figures: device cycles per frame
//! from the first data frame offered until every payload byte was written into host memory
//! (`CNT_DELIVERED_BYTES` and the bytes read back), what that is at the device clock in frames and bits per second, and
//! the cycles per frame 100 GbE would need (`clock / (100e9 / ((size + 20) * 8))`: the 20 bytes
//! are the preamble and the inter-frame gap). The wire feeds the MAC at [`DEFAULT_LINE_GBPS`]
//! unless told otherwise, so the NIC, not the wire, sets the rate.
//!
//! Every payload byte is checked: the stream is seeded bytes of period [`PERIOD`] (a prime, so
//! two frames fewer than `PERIOD` frames apart never carry the same bytes), each named buffer
//! is read back as it returns (in the order it was posted) and the unreturned tail once at
//! the end, and `verified` says whether host memory holds the stream in order.

use crate::frames::{
    demo_socket, CLIENT_IP, CLIENT_MAC, CLIENT_PORT, SERVER_IP, SERVER_MAC, SERVER_PORT,
};
use crate::{Backend, Bench, TbError};
use buflet_driver::CplKind;
use buflet_platform::DeviceConfig;
use buflet_spec::reg;
use etherparse::{
    EtherType, Ethernet2Header, IpNumber, Ipv4Header, PacketBuilder, SlicedPacket, TcpHeader,
    TcpOptionElement, TransportSlice,
};
use serde::Serialize;
use smoltcp::wire::{IpAddress, Ipv4Address, TcpPacket, TcpSeqNumber};
use std::collections::{HashMap, VecDeque};

/// The wire's rate by default, Gbit/s: faster than the NIC takes frames at any size.
pub const DEFAULT_LINE_GBPS: f64 = 1000.0;
/// Frame sizes of the default sweep.
pub const DEFAULT_SIZES: [usize; 7] = [64, 128, 256, 512, 1024, 1500, 9000];
/// Headers and FCS of a frame: Ethernet 14 + IPv4 20 + TCP 20 + FCS 4.
pub const OVERHEAD: usize = 58;
/// The window scale the client announces and the NIC's socket uses.
const WSCALE: u8 = 7;
/// Named buffers kept posted, and their pages.
const NBS: usize = 16;
const NB_PAGES: usize = 16;
/// Cycles per poll of the wire unless the MAC's queue is full (the resolution of the figures:
/// the end is found to `STEP` cycles).
const STEP: u64 = 32;
/// Frames the harness keeps queued at the MAC while frames are still to be sent.
const QUEUE: usize = 64;
/// Longest poll of the wire while sending, cycles: the NIC delivers at most 64 bytes a cycle,
/// so a poll never fills more than a quarter of the 1 MiB of named buffers posted.
const MAX_STEP: u64 = 4096;
/// While frames are still to be sent, the driver reads its completions and the delivered-byte
/// counter at the end of the first wire poll that ends `POLL_CYCLES` or more cycles after it
/// last did (the 1 MiB of named buffers posted holds far more than the NIC delivers in a
/// `MAX_STEP`); once every frame is sent, at every wire poll. Register reads were most of the
/// host time the model's bench spent outside the model.
const POLL_CYCLES: u64 = 256;

/// Cycles per poll of the wire while the MAC's queue is full, for `size`-byte frames (FCS
/// included) on a `width`-bit bus. The MAC takes at most one bus word a cycle, so in this time
/// it takes at most half of the `QUEUE` frames queued (a quarter once a frame is a few words
/// long): the NIC never waits for a frame. The figures move only with when the driver's
/// register reads and buffer posts land (by at most 0.02 cycles per frame on the default
/// sweep). Polling in longer steps is what makes the model's bench fast (a poll cost the
/// harness about as much as the model's work on a frame).
fn sending_step(width: u32, size: usize) -> u64 {
    let words = size.div_ceil((width / 8).max(1) as usize) as u64;
    (words * (QUEUE / 4) as u64).clamp(STEP, MAX_STEP)
}

/// Timer period while measuring: a closed window is reopened by the tick's window update.
const TICK: u32 = 1024;
/// Cycles the last delivery's DMA write may take to land once counted.
const SETTLE: u64 = 100_000;
/// Period of the payload stream's bytes (a prime).
pub const PERIOD: usize = 65521;
/// The clock the figures are quoted at, MHz.
pub const REF_CLOCK_MHZ: f64 = 250.0;
/// Preamble, start delimiter and inter-frame gap per frame on the wire, bytes.
pub const WIRE_GAP: usize = 20;

/// One frame size measured.
#[derive(Debug, Clone, Serialize)]
pub struct RatePoint {
    /// "model" or "rtl", and the datapath width.
    pub backend: String,
    pub width: u32,
    /// Ethernet frame bytes (FCS included) and TCP payload bytes per frame.
    pub frame_bytes: usize,
    pub payload_bytes: usize,
    /// Data frames sent and payload bytes the NIC wrote into host memory.
    pub frames: u64,
    pub delivered_bytes: u64,
    /// Device cycles from the first data frame offered until the last payload byte was in
    /// host memory, and per frame.
    pub cycles: u64,
    pub cycles_per_frame: f64,
    /// The device clock, and the rate at that clock.
    pub clock_mhz: u32,
    pub mpps: f64,
    pub gbps: f64,
    /// The rate at 250 MHz: frames, and wire bits (frame plus 20 bytes of preamble and gap).
    pub mpps_at_250mhz: f64,
    pub wire_gbps_at_250mhz: f64,
    /// Cycles per frame 100 GbE needs at this size and clock.
    pub cycles_per_frame_100g: f64,
    /// Every payload byte was in host memory, in order, when the measurement ended.
    pub verified: bool,
    /// The first payload byte (stream offset) that was not as sent, if any.
    pub first_bad_byte: Option<u64>,
    /// Frames the device dropped (any reason) while measuring: 0 unless something is wrong.
    pub drops: u64,
    /// Delivery steps chained to their frame and frames chained to a delivery step while
    /// measuring (CNT_DLV_CHAINED, CNT_FRM_CHAINED; docs/tcp-receive.md): the RTL and the
    /// model take these decisions by the same rules.
    pub dlv_chained: u64,
    pub frm_chained: u64,
    /// The rate the wire fed the MAC at, Gbit/s.
    pub line_gbps: f64,
    /// Host wall-clock seconds the measured cycles took to simulate (the driver's polling
    /// included): what `bench simspeed` divides by.
    pub host_seconds: f64,
}

/// The payload stream: byte `o` is `pattern[o % PERIOD]`; `pattern` repeats its head so any
/// frame's bytes are one slice.
struct Stream {
    pattern: Vec<u8>,
}

impl Stream {
    fn new(seed: u64, max_frame: usize) -> Self {
        let mut pattern = crate::frames::payload(seed, PERIOD);
        pattern.extend_from_within(..max_frame.min(PERIOD));
        Self { pattern }
    }

    /// The `len` bytes from stream offset `off` (`len` up to the frame size it was made for).
    fn at(&self, off: u64, len: usize) -> &[u8] {
        let s = (off % PERIOD as u64) as usize;
        &self.pattern[s..s + len]
    }

    /// The offset of the first byte of `got` (stream bytes from `off`) that differs.
    fn first_diff(&self, off: u64, got: &[u8]) -> Option<u64> {
        let mut pos = 0usize;
        while pos < got.len() {
            let o = off + pos as u64;
            let n = (PERIOD - (o % PERIOD as u64) as usize).min(got.len() - pos);
            let (want, have) = (self.at(o, n), &got[pos..pos + n]);
            if want != have {
                let i = want.iter().zip(have).position(|(a, b)| a != b).unwrap_or(0);
                return Some(o + i as u64);
            }
            pos += n;
        }
        None
    }
}

/// A data segment of the client: `payload` at sequence `seq`, acknowledging `ack`.
///
/// The headers are etherparse's and the TCP checksum is smoltcp's, filled in place: the same
/// bytes as etherparse's `PacketBuilder` (test `segments_match_the_builder`).
/// `PacketBuilder` moves its whole state through every step, and etherparse's checksum takes
/// twice smoltcp's time: each was a sixth of the model's bench time.
fn segment(seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    Segments::new(ack, payload.len()).at(seq, payload)
}

/// The client's data segments of one payload length: etherparse's headers, written once;
/// each segment copies them and its payload, and smoltcp sets its sequence number and fills
/// its TCP checksum (test `segments_match_the_builder`). Per segment, the headers'
/// construction and the IPv4 checksum took as much host time as the TCP checksum.
struct Segments {
    head: Vec<u8>,
    /// Where the TCP header starts.
    l3: usize,
    len: usize,
}

impl Segments {
    fn new(ack: u32, len: usize) -> Self {
        let mut tcp = TcpHeader::new(CLIENT_PORT, SERVER_PORT, 0, 65535);
        tcp.ack = true;
        tcp.acknowledgment_number = ack;
        let mut ip = Ipv4Header {
            source: CLIENT_IP,
            destination: SERVER_IP,
            time_to_live: 64,
            protocol: IpNumber::TCP,
            ..Default::default()
        };
        // Frames are at most a jumbo frame: the lengths fit (a longer payload is a bench bug).
        ip.set_payload_len(tcp.header_len() + len)
            .expect("a segment's payload fits an IPv4 packet");
        ip.header_checksum = ip.calc_header_checksum();
        let eth = Ethernet2Header {
            source: CLIENT_MAC,
            destination: SERVER_MAC,
            ether_type: EtherType::IPV4,
        };
        let l3 = Ethernet2Header::LEN + ip.header_len();
        let mut head = Vec::with_capacity(l3 + tcp.header_len());
        // Writing into a Vec cannot fail.
        let _ = eth
            .write(&mut head)
            .and(ip.write(&mut head))
            .and(tcp.write(&mut head));
        Self { head, l3, len }
    }

    /// The segment at sequence `seq` carrying `payload` (`len` bytes: a bench bug otherwise).
    fn at(&self, seq: u32, payload: &[u8]) -> Vec<u8> {
        assert_eq!(
            payload.len(),
            self.len,
            "a segment of the template's length"
        );
        let mut v = Vec::with_capacity(self.head.len() + payload.len());
        v.extend_from_slice(&self.head);
        v.extend_from_slice(payload);
        let mut t = TcpPacket::new_unchecked(&mut v[self.l3..]);
        t.set_seq_number(TcpSeqNumber(seq as i32));
        t.fill_checksum(
            &IpAddress::Ipv4(Ipv4Address::from(CLIENT_IP)),
            &IpAddress::Ipv4(Ipv4Address::from(SERVER_IP)),
        );
        v
    }
}

/// The NIC's frame as (ACK number, right edge of its window), if it is a TCP segment to the
/// client.
fn nic_ack(f: &[u8], shift: u8) -> Option<(u32, u32)> {
    // Sliced: the headers are read in place (PacketHeaders copies them out, a third of the
    // bench's host time on the model).
    let p = SlicedPacket::from_ethernet(f).ok()?;
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        return None;
    };
    if !t.ack() {
        return None;
    }
    let win = u32::from(t.window_size()) << if t.syn() { 0 } else { shift };
    Some((
        t.acknowledgment_number(),
        t.acknowledgment_number().wrapping_add(win),
    ))
}

/// Measure `frames` frames of `size` bytes on `backend` at `width` bits, the wire feeding
/// the MAC at `line_gbps` (well above what the NIC takes, back to back; 100 for 100 GbE).
pub fn measure(
    backend: Backend,
    width: u32,
    size: usize,
    frames: u64,
    line_gbps: f64,
) -> Result<RatePoint, TbError> {
    measure_recorded(backend, width, size, frames, line_gbps, &Capture::default())
}

/// What a measurement also writes (RTL only).
#[derive(Debug, Clone, Default)]
pub struct Capture {
    /// The RTL's inputs of every cycle (bring-up included; `buflet_sim::stimulus`): the same
    /// run replays in Icarus Verilog.
    pub stimulus: Option<std::path::PathBuf>,
    /// A waveform of every signal (FST, unless the RTL was built with `BUFLET_TRACE=vcd` or `0`).
    pub trace: Option<std::path::PathBuf>,
}

/// [`measure`], also writing what `capture` asks for.
pub fn measure_recorded(
    backend: Backend,
    width: u32,
    size: usize,
    frames: u64,
    line_gbps: f64,
    capture: &Capture,
) -> Result<RatePoint, TbError> {
    let stimulus = capture.stimulus.as_deref();
    if !(line_gbps.is_finite() && line_gbps > 0.0) {
        return Err(TbError::Unsupported(format!(
            "line rate {line_gbps} Gbit/s"
        )));
    }
    let max = buflet_spec::param::MAX_FRAME as usize + 4;
    if !(OVERHEAD + 1..=max).contains(&size) {
        return Err(TbError::Unsupported(format!(
            "frame size {size}: from {} to {max} bytes (FCS included)",
            OVERHEAD + 1
        )));
    }
    if frames == 0 {
        return Err(TbError::Unsupported("0 frames".into()));
    }
    let payload = size - OVERHEAD;
    let cfg = DeviceConfig {
        line_gbps,
        ..DeviceConfig::with_width(width)
    };
    let mut b = Bench::builder(backend)
        .config(cfg)
        .mem(128 << 20)
        .name("rate")
        .stimulus(capture.stimulus.clone())
        .trace(capture.trace.clone())
        .build()?;
    let clock_mhz = b.drv.info.clock_mhz.max(1);
    let (isn, iss) = (0x0100_0000u32, 0x7000_0000u32);
    // Delayed ACKs, as a receiver at line rate runs (the timer below sends an owed one).
    let spec = buflet_driver::SocketSpec {
        rcv_buf: 64 << 20,
        rcv_wscale: WSCALE,
        ..demo_socket(iss, payload.clamp(536, 9000) as u16)
    }
    .with_delayed_ack(true);
    let (sock, _) = b.drv.add_socket(&spec)?;
    let mut posted = HashMap::new();
    // Posted named buffers, oldest first: the NIC fills them in this order.
    let mut order = VecDeque::new();
    for _ in 0..NBS {
        let nb = b.drv.alloc_nb(NB_PAGES)?;
        b.drv.post_nb(sock, &nb, 0)?;
        order.push_back(nb.ref_num);
        posted.insert(nb.ref_num, nb);
    }
    // The handshake.
    let syn = PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC)
        .ipv4(CLIENT_IP, SERVER_IP, 64)
        .tcp(CLIENT_PORT, SERVER_PORT, isn, 65535)
        .syn()
        .options(&[
            TcpOptionElement::MaximumSegmentSize(payload.clamp(536, 65535) as u16),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(WSCALE),
        ])
        .map_err(|e| TbError::Unsupported(format!("SYN options: {e}")))?;
    let mut v = Vec::new();
    let _ = syn.write(&mut v, &[]);
    b.wire.send(v);
    let mut edge = None;
    let mut waited = 0u64;
    while edge.is_none() {
        b.drv.run(STEP);
        waited += STEP;
        while let Some(f) = b.wire.recv() {
            if let Some((_, e)) = nic_ack(&f, 0) {
                edge = Some(e);
            }
        }
        if waited > 10_000_000 {
            return Err(TbError::Stalled("no SYN-ACK".into()));
        }
    }
    let ack = iss.wrapping_add(1);
    let first = isn.wrapping_add(1);
    b.wire.send(segment(first, ack, &[]));
    b.drv.set_timer_period(TICK);
    let drops0 = b.drv.counters().dropped();
    let chained0 = (
        b.drv.rd(reg::CNT_DLV_CHAINED),
        b.drv.rd(reg::CNT_FRM_CHAINED),
    );
    let d0 = b.drv.rd(reg::CNT_DELIVERED_BYTES);
    let stream = Stream::new(u64::from(size as u32), payload);
    // Stream bytes read back and checked so far, and the first wrong one.
    let (mut checked, mut bad) = (0u64, None);
    let total = frames * payload as u64;
    let mut right = edge.unwrap_or(first);
    let mut sent = 0u64;
    let start = b.drv.cycles();
    let started = std::time::Instant::now();
    let mut last_progress = start;
    let mut delivered = 0u64;
    let step = sending_step(width, size);
    let segments = Segments::new(ack, payload);
    // The cycle the driver last read its completions.
    let mut polled = start;
    loop {
        // Offer every frame the window admits, keeping a few in the MAC's queue.
        while sent < frames && b.wire.pending() < QUEUE {
            let seq = first.wrapping_add((sent * payload as u64) as u32);
            if (right.wrapping_sub(seq.wrapping_add(payload as u32)) as i32) < 0 {
                break;
            }
            b.wire
                .send(segments.at(seq, stream.at(sent * payload as u64, payload)));
            sent += 1;
        }
        // A full queue lasts a long step; a sender the window holds back (or one with every
        // frame sent) polls at once again.
        b.drv.run(if b.wire.pending() >= QUEUE {
            step
        } else {
            STEP
        });
        while let Some(f) = b.wire.recv() {
            if let Some((_, e)) = nic_ack(&f, WSCALE) {
                if (e.wrapping_sub(right) as i32) > 0 {
                    right = e;
                }
            }
        }
        if sent < frames && b.drv.cycles() - polled < POLL_CYCLES {
            continue;
        }
        polled = b.drv.cycles();
        for c in b.drv.completions()? {
            if c.kind == CplKind::NbReturn {
                if let Some(nb) = posted.get(&c.ref_num) {
                    // Returned out of posting order: its bytes are not the next ones.
                    if order.pop_front() != Some(c.ref_num) {
                        bad = bad.or(Some(checked));
                    }
                    let got = b.drv.read_nb(nb, c.bytes as usize)?;
                    if let Some(o) = stream.first_diff(checked, &got) {
                        bad = bad.or(Some(o));
                    }
                    checked += got.len() as u64;
                    b.drv.post_nb(sock, nb, 0)?;
                    order.push_back(c.ref_num);
                }
            }
        }
        let d = u64::from(b.drv.rd(reg::CNT_DELIVERED_BYTES).wrapping_sub(d0));
        if d != delivered {
            delivered = d;
            last_progress = b.drv.cycles();
        }
        if delivered >= total {
            // CNT_DELIVERED_BYTES counts a delivery when its DMA write is issued: the run
            // ends when the last byte is in host memory. The bytes not yet returned lie at
            // the head of the oldest posted buffer.
            let Some(nb) = order.front().and_then(|r| posted.get(r)) else {
                break;
            };
            if checked >= delivered {
                break;
            }
            let got = b.drv.read_nb(nb, (delivered - checked) as usize)?;
            let diff = stream.first_diff(checked, &got);
            if diff.is_none() || b.drv.cycles() - last_progress > SETTLE {
                bad = bad.or(diff);
                checked += got.len() as u64;
                break;
            }
        }
        if b.drv.cycles() - last_progress > 20_000_000 {
            return Err(TbError::Stalled(format!(
                "{size}-byte frames: {delivered} of {total} payload bytes delivered, {sent} of {frames} frames sent"
            )));
        }
    }
    let cycles = b.drv.cycles() - start;
    let host_seconds = started.elapsed().as_secs_f64();
    let drops = b.drv.counters().dropped() - drops0;
    let (dlv_chained, frm_chained) = (
        u64::from(b.drv.rd(reg::CNT_DLV_CHAINED).wrapping_sub(chained0.0)),
        u64::from(b.drv.rd(reg::CNT_FRM_CHAINED).wrapping_sub(chained0.1)),
    );
    if stimulus.is_some() {
        b.drv
            .device_mut()
            .stimulus_close()
            .map_err(|e| TbError::Backend(backend.name().into(), e))?;
    }
    let verified = bad.is_none() && checked == total && delivered == total;
    if bad.is_none() && !verified {
        bad = Some(checked);
    }
    let cpf = cycles as f64 / frames as f64;
    let mpps = f64::from(clock_mhz) / cpf;
    let need = f64::from(clock_mhz) * 1e6 / (100e9 / ((size + 20) as f64 * 8.0));
    Ok(RatePoint {
        backend: backend.name().to_string(),
        width,
        frame_bytes: size,
        payload_bytes: payload,
        frames,
        delivered_bytes: delivered,
        cycles,
        cycles_per_frame: cpf,
        clock_mhz,
        mpps,
        gbps: mpps * size as f64 * 8.0 / 1000.0,
        mpps_at_250mhz: REF_CLOCK_MHZ / cpf,
        wire_gbps_at_250mhz: REF_CLOCK_MHZ / cpf * ((size + WIRE_GAP) * 8) as f64 / 1000.0,
        cycles_per_frame_100g: need,
        verified,
        first_bad_byte: bad,
        drops,
        dlv_chained,
        frm_chained,
        line_gbps,
        host_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_match_the_builder() {
        let s = Stream::new(5, 9000);
        for (seq, ack, len) in [
            (1u32, 2u32, 0usize),
            (0xffff_fff0, 7, 1),
            (9, 0, 1442),
            (3, 4, 8942),
        ] {
            let payload = s.at(u64::from(seq), len);
            let b = PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC)
                .ipv4(CLIENT_IP, SERVER_IP, 64)
                .tcp(CLIENT_PORT, SERVER_PORT, seq, 65535)
                .ack(ack);
            let mut want = Vec::new();
            b.write(&mut want, payload).unwrap();
            assert_eq!(segment(seq, ack, payload), want, "{len}-byte payload");
            assert_eq!(
                Segments::new(ack, len).at(seq, payload),
                want,
                "{len}-byte payload, from the template"
            );
        }
    }

    #[test]
    fn the_stream_finds_the_first_wrong_byte() {
        let s = Stream::new(3, 1442);
        // Four frames of 1,442 bytes in order, across the period's end.
        let off = PERIOD as u64 - 2000;
        let mut got: Vec<u8> = (0..4u64)
            .flat_map(|i| s.at(off + i * 1442, 1442).to_vec())
            .collect();
        assert_eq!(s.first_diff(off, &got), None);
        // Frames 1 and 2 swapped: found at frame 1's first differing byte.
        let (a, b) = (
            s.at(off + 1442, 1442).to_vec(),
            s.at(off + 2884, 1442).to_vec(),
        );
        got[1442..2884].copy_from_slice(&b);
        got[2884..4326].copy_from_slice(&a);
        let i = a.iter().zip(&b).position(|(x, y)| x != y).unwrap() as u64;
        assert_eq!(s.first_diff(off, &got), Some(off + 1442 + i));
        // One flipped byte after the wrap.
        let mut one: Vec<u8> = s.at(off + 2500, 100).to_vec();
        one[7] ^= 1;
        assert_eq!(s.first_diff(off + 2500, &one), Some(off + 2507));
    }
}
