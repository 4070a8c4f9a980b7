//! What one backend did during one step, and the comparison of two such observations.

use buflet_driver::Completion;
use buflet_platform::{Agent, DevWrite, DiskWrite};
use buflet_spec as spec;
use std::fmt::Write as _;

/// A maximal run of contiguous device writes (same agent, same refusal), in log order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Which DMA engine wrote.
    pub agent: Agent,
    /// Host address of the first byte.
    pub addr: u64,
    /// The bytes.
    pub data: Vec<u8>,
    /// The writes were refused by host memory.
    pub refused: bool,
}

/// Runs of device writes with the cycle of each run's first write.
pub type TimedRuns = (Vec<Run>, Vec<u64>);

/// Split a device-write log into completion-ring writes (`[cpl.0, cpl.1)`) and the rest, each
/// merged into maximal contiguous runs. `at[i]` is the cycle write `i` was seen at; each run
/// keeps the cycle of its first write.
pub fn split_merge(log: Vec<DevWrite>, at: &[u64], cpl: (u64, u64)) -> (TimedRuns, TimedRuns) {
    let mut ring = (Vec::new(), Vec::new());
    let mut rest = (Vec::new(), Vec::new());
    for (i, w) in log.into_iter().enumerate() {
        let to = if w.addr >= cpl.0 && w.addr < cpl.1 {
            &mut ring
        } else {
            &mut rest
        };
        push_merged(to, w, at.get(i).copied().unwrap_or(0));
    }
    (ring, rest)
}

fn push_merged((v, at): &mut TimedRuns, w: DevWrite, cycle: u64) {
    if let Some(last) = v.last_mut() {
        if last.agent == w.agent
            && last.refused == w.refused
            && last.addr.wrapping_add(last.data.len() as u64) == w.addr
        {
            last.data.extend_from_slice(&w.data);
            return;
        }
    }
    v.push(Run {
        agent: w.agent,
        addr: w.addr,
        data: w.data,
        refused: w.refused,
    });
    at.push(cycle);
}

/// Everything one backend did during one step.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Completion-ring writes, merged.
    pub ring: Vec<Run>,
    /// Every other device write (payload, ...), merged.
    pub other: Vec<Run>,
    /// Completions the driver consumed after the step.
    pub cpls: Vec<Completion>,
    /// Block-device writes.
    pub disk: Vec<DiskWrite>,
    /// Transmitted frames.
    pub tx: Vec<Vec<u8>>,
    /// Every counter register, by name, after the step.
    pub counters: Vec<(&'static str, u32)>,
    /// Cycles from the step's start to its last activity.
    pub busy: u64,
    /// When each transaction happened, on this backend's clock.
    pub at: Cycles,
}

/// The cycles (since the device's reset, the clock a waveform of it is dumped on) of the
/// transactions of an [`Observed`]: a write run at its first word (the RTL's when the harness
/// saw it; the model's, written whole in the event that issued it, where the model's costs
/// put its first word), disk writes at the cycle the block's last word reached the device
/// (the RTL's block device writes it then; the model, which writes the block in the event that
/// starts sending it, stamps it where its costs put that word: `DiskWrite::at`), frames when
/// the harness saw them, completions and counters when the host read them after the step.
#[derive(Debug, Clone, Default)]
pub struct Cycles {
    /// The step's first cycle.
    pub start: u64,
    /// Each completion-ring write run's first write.
    pub ring: Vec<u64>,
    /// Each other write run's first write.
    pub other: Vec<u64>,
    /// The driver took the completions from the ring.
    pub cpls: u64,
    /// Each disk write.
    pub disk: Vec<u64>,
    /// Each transmitted frame.
    pub tx: Vec<u64>,
    /// The counters were read.
    pub counters: u64,
}

/// The kinds of compared transactions, in the order [`compare`] takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnKind {
    /// A completion-ring write run.
    RingWrite,
    /// Any other device write run.
    DevWrite,
    /// A completion, decoded.
    Completion,
    /// A block-device write.
    DiskWrite,
    /// A transmitted frame.
    TxFrame,
    /// A counter register.
    Counter,
}

impl TxnKind {
    /// Every kind, in comparison order.
    pub const ALL: [TxnKind; 6] = [
        TxnKind::RingWrite,
        TxnKind::DevWrite,
        TxnKind::Completion,
        TxnKind::DiskWrite,
        TxnKind::TxFrame,
        TxnKind::Counter,
    ];

    /// The kind's name in the dump's CSVs.
    pub fn name(self) -> &'static str {
        match self {
            TxnKind::RingWrite => "ring_write",
            TxnKind::DevWrite => "dev_write",
            TxnKind::Completion => "completion",
            TxnKind::DiskWrite => "disk_write",
            TxnKind::TxFrame => "tx_frame",
            TxnKind::Counter => "counter",
        }
    }

    /// Whether a transaction of this kind carries bytes timed where the device produced them
    /// (completions and counters are read by the host after the step).
    pub fn is_data(self) -> bool {
        !matches!(self, TxnKind::Completion | TxnKind::Counter)
    }
}

impl Observed {
    /// How many transactions of `kind` this side has.
    pub fn count(&self, kind: TxnKind) -> usize {
        match kind {
            TxnKind::RingWrite => self.ring.len(),
            TxnKind::DevWrite => self.other.len(),
            TxnKind::Completion => self.cpls.len(),
            TxnKind::DiskWrite => self.disk.len(),
            TxnKind::TxFrame => self.tx.len(),
            TxnKind::Counter => self.counters.len(),
        }
    }

    /// The cycle of transaction `item` of `kind` (see [`Cycles`]).
    pub fn cycle_of(&self, kind: TxnKind, item: usize) -> Option<u64> {
        let v = match kind {
            TxnKind::RingWrite => &self.at.ring,
            TxnKind::DevWrite => &self.at.other,
            TxnKind::DiskWrite => &self.at.disk,
            TxnKind::TxFrame => &self.at.tx,
            TxnKind::Completion => return (item < self.cpls.len()).then_some(self.at.cpls),
            TxnKind::Counter => return (item < self.counters.len()).then_some(self.at.counters),
        };
        v.get(item).copied()
    }

    /// The cycle of the step's last activity (writes, disk writes, frames, frames taken from
    /// the wire; the model's writes end where its costs say).
    pub fn last_activity(&self) -> u64 {
        self.at.start + self.busy
    }

    /// Change transaction `item` of `kind`, if this side has it, so that it no longer equals
    /// the other side's: the first byte of a write run's or a disk write's data, the last
    /// byte of a frame, a completion's byte count or a counter's value. A test hook (provoking
    /// a mismatch without changing a backend); returns whether a transaction was changed.
    pub fn perturb(&mut self, kind: TxnKind, item: usize) -> bool {
        fn flip(d: &mut [u8], last: bool) -> bool {
            let i = if last { d.len().wrapping_sub(1) } else { 0 };
            d.get_mut(i).map(|b| *b ^= 0xFF).is_some()
        }
        match kind {
            TxnKind::RingWrite => self
                .ring
                .get_mut(item)
                .is_some_and(|r| flip(&mut r.data, false)),
            TxnKind::DevWrite => self
                .other
                .get_mut(item)
                .is_some_and(|r| flip(&mut r.data, false)),
            TxnKind::Completion => self
                .cpls
                .get_mut(item)
                .map(|c| c.bytes = c.bytes.wrapping_add(1))
                .is_some(),
            TxnKind::DiskWrite => self
                .disk
                .get_mut(item)
                .is_some_and(|d| flip(&mut d.data, false)),
            TxnKind::TxFrame => self.tx.get_mut(item).is_some_and(|f| flip(f, true)),
            TxnKind::Counter => self
                .counters
                .get_mut(item)
                .map(|c| c.1 = c.1.wrapping_add(1))
                .is_some(),
        }
    }
}

/// Whether both sides have transaction `item` of `kind` and they are equal (as [`compare`]
/// judges them).
pub fn equal_at(a: &Observed, b: &Observed, kind: TxnKind, item: usize) -> bool {
    fn eq<T: PartialEq>(x: &[T], y: &[T], i: usize) -> bool {
        matches!((x.get(i), y.get(i)), (Some(x), Some(y)) if x == y)
    }
    match kind {
        TxnKind::RingWrite => eq(&a.ring, &b.ring, item),
        TxnKind::DevWrite => eq(&a.other, &b.other, item),
        TxnKind::Completion => eq(&a.cpls, &b.cpls, item),
        TxnKind::DiskWrite => eq(&a.disk, &b.disk, item),
        TxnKind::TxFrame => eq(&a.tx, &b.tx, item),
        TxnKind::Counter => eq(&a.counters, &b.counters, item),
    }
}

/// The first byte at which the bytes of transaction `item` of `kind` differ between the sides
/// (write runs, disk writes, frames present on both sides; a shorter side differs where it
/// ends), or None.
pub fn bytes_differ_at(a: &Observed, b: &Observed, kind: TxnKind, item: usize) -> Option<usize> {
    fn data(o: &Observed, kind: TxnKind, item: usize) -> Option<&[u8]> {
        Some(match kind {
            TxnKind::RingWrite => &o.ring.get(item)?.data,
            TxnKind::DevWrite => &o.other.get(item)?.data,
            TxnKind::DiskWrite => &o.disk.get(item)?.data,
            TxnKind::TxFrame => o.tx.get(item)?,
            TxnKind::Completion | TxnKind::Counter => return None,
        })
    }
    let (x, y) = (data(a, kind, item)?, data(b, kind, item)?);
    (0..x.len().max(y.len())).find(|&i| x.get(i) != y.get(i))
}

/// The comparison slots of a step, in [`compare`]'s order: for each kind, as many as the side
/// with more of them has (a transaction only one side has is a slot too).
pub fn slots(a: &Observed, b: &Observed) -> impl Iterator<Item = (TxnKind, usize)> {
    let counts = TxnKind::ALL.map(|k| (k, a.count(k).max(b.count(k))));
    counts
        .into_iter()
        .flat_map(|(k, n)| (0..n).map(move |i| (k, i)))
}

/// The first difference between two observations.
#[derive(Debug, Clone)]
pub struct Diff {
    /// What differs ("tx frame #0 of 1/2", "counter CNT_RX_FRAMES", ...).
    pub kind: String,
    /// Side A's value.
    pub a: String,
    /// Side B's value.
    pub b: String,
}

/// Compare in the contract's order: completion-ring writes, other writes, completions, disk
/// writes, transmitted frames, counters. Adds the number of equal transactions to `compared`
/// and returns the first difference.
pub fn compare(a: &Observed, b: &Observed, compared: &mut u64) -> Option<Diff> {
    let diff = list(
        "completion-ring write run",
        &a.ring,
        &b.ring,
        compared,
        show_run,
    )
    .or_else(|| list("device write run", &a.other, &b.other, compared, show_run))
    .or_else(|| list("completion", &a.cpls, &b.cpls, compared, |c, _| show_cpl(c)))
    .or_else(|| list("disk write", &a.disk, &b.disk, compared, show_disk))
    .or_else(|| {
        list("transmitted frame", &a.tx, &b.tx, compared, |f, o| {
            show_frame(f, o.map(|v| v.as_slice()))
        })
    });
    if diff.is_some() {
        return diff;
    }
    for (x, y) in a.counters.iter().zip(&b.counters) {
        if x != y {
            return Some(Diff {
                kind: format!("counter {} (register {:#05x})", x.0, counter_addr(x.0)),
                a: format!("{} = {}", x.0, x.1),
                b: format!("{} = {}", y.0, y.1),
            });
        }
        *compared += 1;
    }
    if a.counters.len() != b.counters.len() {
        return Some(Diff {
            kind: "counter list".into(),
            a: format!("{} counters", a.counters.len()),
            b: format!("{} counters", b.counters.len()),
        });
    }
    None
}

fn counter_addr(name: &str) -> u32 {
    spec::REGS
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.addr)
        .unwrap_or(0)
}

/// Compare two lists item by item; `show(item, other)` describes an item (with the other
/// side's item, when there is one, to point at the first differing byte).
fn list<T: PartialEq>(
    what: &str,
    a: &[T],
    b: &[T],
    compared: &mut u64,
    show: impl Fn(&T, Option<&T>) -> String,
) -> Option<Diff> {
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x == y => *compared += 1,
            (x, y) => {
                return Some(Diff {
                    kind: format!(
                        "{what} #{i} (side A has {}, side B has {})",
                        a.len(),
                        b.len()
                    ),
                    a: x.map(|x| show(x, y)).unwrap_or_else(|| "(none)".into()),
                    b: y.map(|y| show(y, x)).unwrap_or_else(|| "(none)".into()),
                });
            }
        }
    }
    None
}

fn show_run(r: &Run, other: Option<&Run>) -> String {
    format!(
        "{:?} write at {:#x}, {} bytes{}: {}",
        r.agent,
        r.addr,
        r.data.len(),
        if r.refused { " (refused)" } else { "" },
        bytes(&r.data, other.map(|o| o.data.as_slice()))
    )
}

fn show_disk(d: &DiskWrite, other: Option<&DiskWrite>) -> String {
    format!(
        "lba {} ({} bytes): {}",
        d.lba,
        d.data.len(),
        bytes(&d.data, other.map(|o| o.data.as_slice()))
    )
}

fn show_frame(f: &[u8], other: Option<&[u8]>) -> String {
    format!(
        "{} bytes, {}: {}",
        f.len(),
        decode_frame(f),
        bytes(f, other)
    )
}

/// A frame's addresses and TCP (or ARP, or UDP) fields as etherparse reads them.
pub fn decode_frame(f: &[u8]) -> String {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let Ok(p) = SlicedPacket::from_ethernet(f) else {
        return "not parseable by etherparse".into();
    };
    let mut s = String::new();
    if let Some(NetSlice::Ipv4(ip)) = &p.net {
        let h = ip.header();
        let _ = write!(s, "{:?} -> {:?} ", h.source_addr(), h.destination_addr());
    }
    if let Some(NetSlice::Arp(a)) = &p.net {
        let _ = write!(
            s,
            "ARP {:?} sender {:02x?} {:?} target {:02x?} {:?}",
            a.operation(),
            a.sender_hw_addr(),
            a.sender_protocol_addr(),
            a.target_hw_addr(),
            a.target_protocol_addr()
        );
    }
    if let Some(TransportSlice::Udp(u)) = &p.transport {
        let _ = write!(
            s,
            "UDP {} -> {} len {}",
            u.source_port(),
            u.destination_port(),
            u.length()
        );
    }
    if let Some(TransportSlice::Tcp(t)) = &p.transport {
        let _ = write!(
            s,
            "TCP {} -> {} seq {:#x} ack {:#x} win {} flags {}{}{}{}{} opts {:02x?}",
            t.source_port(),
            t.destination_port(),
            t.sequence_number(),
            t.acknowledgment_number(),
            t.window_size(),
            if t.syn() { "S" } else { "" },
            if t.ack() { "A" } else { "" },
            if t.fin() { "F" } else { "" },
            if t.rst() { "R" } else { "" },
            if t.psh() { "P" } else { "" },
            t.options()
        );
    }
    s
}

/// A completion's fields, with the names of its opcode and status.
pub fn show_cpl(c: &Completion) -> String {
    let name = |group: &str, v: u64| {
        spec::consts()
            .find(|k| k.group == group && k.value == v)
            .map(|k| k.name)
            .unwrap_or("?")
    };
    format!(
        "{} status {} ({}) opcode {} ({}) sock {} tag {} ref {} bytes {} flags {:#x} hdr_bytes {} stream_off {}",
        c.kind,
        c.status.code(),
        c.status,
        c.opcode,
        name("op", c.opcode as u64),
        c.sock_ref,
        c.tag,
        c.ref_num,
        c.bytes,
        c.flags.bits(),
        c.hdr_bytes,
        c.stream_off
    )
}

/// Hex of `d` around its first difference from `other` (or its start).
pub fn bytes(d: &[u8], other: Option<&[u8]>) -> String {
    let first = other.and_then(|o| (0..d.len().max(o.len())).find(|&i| d.get(i) != o.get(i)));
    let at = first.unwrap_or(0);
    let lo = at.saturating_sub(8);
    let hi = (lo + 40).min(d.len());
    let hex: String = d
        .get(lo..hi)
        .unwrap_or(&[])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    match first {
        Some(i) => format!(
            "first differing byte {i} ({}); bytes {lo}..{hi}: {hex}{}",
            d.get(i)
                .map(|b| format!("{b:#04x}"))
                .unwrap_or_else(|| "past the end".into()),
            if hi < d.len() { " ..." } else { "" }
        ),
        None => format!(
            "bytes {lo}..{hi}: {hex}{}",
            if hi < d.len() { " ..." } else { "" }
        ),
    }
}
