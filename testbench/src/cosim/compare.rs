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

/// Split a device-write log into completion-ring writes (`[cpl.0, cpl.1)`) and the rest, each
/// merged into maximal contiguous runs.
pub fn split_merge(log: Vec<DevWrite>, cpl: (u64, u64)) -> (Vec<Run>, Vec<Run>) {
    let mut ring = Vec::new();
    let mut rest = Vec::new();
    for w in log {
        let to = if w.addr >= cpl.0 && w.addr < cpl.1 {
            &mut ring
        } else {
            &mut rest
        };
        push_merged(to, w);
    }
    (ring, rest)
}

fn push_merged(v: &mut Vec<Run>, w: DevWrite) {
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

fn show_cpl(c: &Completion) -> String {
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
