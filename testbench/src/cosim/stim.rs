//! The stimulus of a co-simulation case: host actions and frames, one step at a time.
//!
//! Every step is self-contained (frames are finished bytes, requests name their parameters), so
//! any subsequence of a stimulus is again a valid stimulus: that is what lets a property test
//! shrink a failing case to a short list of steps.

use std::fmt;

/// One frame offered to the device's MAC receive side, with a human label for reports.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// What the frame is ("s3 data +1448 len 1448 (retransmit)", "udp to s1", ...).
    pub label: String,
    /// The frame's bytes, from the destination MAC, without FCS.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{} B]", self.label, self.bytes.len())
    }
}

/// The fields of a SOCK_ADD request, possibly invalid on purpose: the spec's `sock_desc`
/// (its `TAG` is set when the step runs).
pub type SockParams = buflet_spec::SockDesc;

/// The fields of a SOCK_LISTEN request, possibly invalid on purpose: the spec's
/// `listen_desc` (its `TAG` is set when the step runs).
pub type ListenParams = buflet_spec::ListenDesc;

/// Which named-buffer reference number an NB_POST uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NbSlot {
    /// A slot the host knows is free (the lowest one); the step does nothing if none is free.
    Free,
    /// A slot that is currently posted (BAD_NB expected); the step does nothing if none is.
    Busy,
    /// This exact reference number (used for out-of-range numbers).
    Raw(u32),
}

/// Where the page list of a named buffer points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageList {
    /// The slot's own registered pages.
    Good,
    /// A page list whose first page is outside registered memory (writes are refused).
    UnregisteredPage,
    /// A page list that is itself outside registered memory (its read is refused).
    UnregisteredList,
}

/// An NB_POST request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NbPost {
    /// Socket the buffer is designated to.
    pub sock: u16,
    /// Which reference number.
    pub slot: NbSlot,
    /// `HMD_PAGES` (0..=4; 0 is invalid).
    pub pages: u32,
    /// `TOTAL_BYTES` (may exceed `pages * 4096` on purpose).
    pub total_bytes: u32,
    /// Where the page list points.
    pub list: PageList,
    /// `TIMEOUT`: timer ticks before the buffer is returned (0 = never).
    pub timeout: u32,
}

/// Which anonymous-buffer reference number an ANON_POST uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonSlot {
    /// A slot the host knows is free (the lowest one); the step does nothing if none is free.
    Free,
    /// A slot that is currently posted (BAD_NB expected); the step does nothing if none is.
    Busy,
    /// This exact reference number (used for out-of-range numbers).
    Raw(u32),
}

/// An ANON_POST request: an anonymous buffer for frames that match no socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonPost {
    /// Which reference number.
    pub slot: AnonSlot,
    /// `LEN` (valid: ANON_MIN_LEN..=ANON_MAX_LEN; outside on purpose for BAD_NB).
    pub len: u32,
}

/// How a BLK_WRITE request is made invalid, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlkBad {
    /// `BYTES` is not a multiple of 4096.
    BytesNotMultiple,
    /// An element with `LEN` 0.
    ZeroLen,
    /// The second element does not continue the first one's block.
    Discontiguous,
    /// `SG_MAX` smaller than the list.
    SgMaxShort,
    /// The first element's source is outside registered memory (DMA_ERROR).
    Unregistered,
}

/// A BLK_WRITE request: write pages of a named-buffer slot to disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkParams {
    /// Named-buffer slot whose pages are the source (whatever the device wrote there).
    pub src_ref: u32,
    /// Blocks to write (1..=4).
    pub blocks: u32,
    /// First sector on disk (a multiple of 8).
    pub lba: u64,
    /// Describe every block as two 2048-byte elements.
    pub split: bool,
    /// The first element is a ZERO element.
    pub zero_first: bool,
    /// How the request is broken, if at all.
    pub bad: Option<BlkBad>,
    /// p2p: take the data from buflet memory (DEVMEM elements over the hold extents the host
    /// learned from hold records, oldest first; ZERO elements pad the last block) instead of
    /// the slot's pages. Falls back to the pages when the host knows no extent.
    pub devmem: bool,
}

/// How a BUF_RELEASE request is made invalid, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelBad {
    /// `COUNT` 0.
    CountZero,
    /// `COUNT` RELEASE_MAX + 1.
    CountOver,
    /// A head that is not held (0xFFFF) after the valid ones.
    NotHeld,
    /// The first head twice.
    Twice,
}

/// How a TX_POST request is made invalid, if at all (each is refused with CMD_DONE BAD_NB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxBad {
    /// `LEN` 0.
    ZeroLen,
    /// `FIRST_OFF` 4096 or more.
    FirstOffPastPage,
    /// A page list one page shorter than `FIRST_OFF + LEN` needs.
    ShortList,
    /// Flag `DEVMEM` (p2p posts are not implemented: refused).
    Devmem,
    /// `LEN` above 2^30.
    HugeLen,
}

/// A TX_POST request (docs/tcp-transmit.md): `bytes` seeded bytes in fresh whole host pages
/// (taken from the case's send pool, never reused within a case), starting `first_off` bytes
/// into the first page, posted by the driver's `tx_post`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxPost {
    /// Socket whose send queue the buffer joins.
    pub sock: u16,
    /// `LEN`.
    pub bytes: u32,
    /// Flag `PSH`.
    pub psh: bool,
    /// `FIRST_OFF` (< 4096 unless `bad` says otherwise).
    pub first_off: u16,
    /// Seed of the bytes.
    pub seed: u64,
    /// List the pages in reverse order of their addresses (a scattered page list).
    pub scatter: bool,
    /// How the request is broken, if at all.
    pub bad: Option<TxBad>,
    /// p2p (docs/p2p.md "p2p reads"): post host buflets (flag DEVMEM) of the posts' region
    /// instead of send-pool pages: `FIRST_OFF` modulo BUFLET_BYTES, at most 8 buflets.
    pub dev: bool,
    /// Bytes the CPU writes over the first seeded ones, from `FIRST_OFF` on (an iSCSI PDU
    /// header and its small data segment, gen/iscsi.rs); empty: seeded bytes only. Bytes past
    /// `LEN` are not written.
    pub head: Vec<u8>,
}

/// How a DEVMEM BLK_READ is made invalid, if at all (each is BAD_SG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevBad {
    /// The first element's SRC_ADDR is not a multiple of DEV_ALIGN.
    Misaligned,
    /// The first element names buflet 0 (never a host buflet).
    NotHost,
    /// The first element is ZERO as well.
    Zero,
    /// The first element runs past its buflet's end.
    Crosses,
}

/// A BLK_READ into host buflets (DEVMEM elements, one per buflet-sized piece of each block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevRead {
    /// First sector on disk (a multiple of 8).
    pub lba: u64,
    /// Blocks to read (1..=4).
    pub blocks: u32,
    /// Into the posts' region of the host buflets (else the reads' own region).
    pub post_region: bool,
    /// Rotation of the buflets within the region.
    pub first: u32,
    /// How the request is broken, if at all.
    pub bad: Option<DevBad>,
}

/// One step of a stimulus: a host action or frames on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// OP_SOCK_ADD.
    AddSocket(SockParams),
    /// OP_SOCK_DEL of a socket reference.
    DelSocket {
        /// Socket reference number.
        sock: u16,
    },
    /// OP_NB_POST.
    PostNb(NbPost),
    /// OP_NOP.
    Nop,
    /// A request with an unknown opcode.
    BadOpcode {
        /// The opcode byte.
        opcode: u8,
    },
    /// OP_BLK_WRITE.
    BlkWrite(BlkParams),
    /// OP_ANON_POST.
    PostAnon(AnonPost),
    /// Program the ARP responder: `NIC_MAC_LO/HI` and `NIC_IP` (0.0.0.0 = off).
    NicAddr {
        /// The NIC's MAC (wire order).
        mac: [u8; 6],
        /// The NIC's IPv4 address.
        ip: [u8; 4],
    },
    /// A write to TIMER_KICK: one timer tick.
    TimerKick,
    /// Periodic ticks: TIMER_PERIOD is set to `period`, the host polls CNT_TICKS until `ticks`
    /// more ticks were taken, then writes TIMER_PERIOD = 0. (The number of ticks, not the
    /// cycles they took, is what both sides must agree on: the model is cycle-approximate.)
    TimerTicks {
        /// Cycles per tick.
        period: u32,
        /// Ticks to let happen.
        ticks: u32,
    },
    /// OP_BUF_RELEASE of up to RELEASE_MAX held chains the host learned from hold records,
    /// oldest first (nothing when it knows none and the request is valid).
    Release {
        /// How the request is broken, if at all.
        bad: Option<RelBad>,
    },
    /// OP_TX_POST.
    TxPost(TxPost),
    /// A write of HOST_BUFLETS (p2p reads; refused by the device above NUM_BUFLETS / 2).
    HostBuflets {
        /// The value written.
        n: u32,
    },
    /// OP_BLK_READ into host buflets.
    DevRead(DevRead),
    /// OP_SOCK_CLOSE: our FIN after the queued data.
    SockClose {
        /// Socket reference number.
        sock: u16,
    },
    /// OP_SOCK_CLOSE with ABORT: an RST, every post back RESET.
    SockAbort {
        /// Socket reference number.
        sock: u16,
    },
    /// The send side's timer policy: RTO_INIT, RTO_MIN, RTO_MAX (timer ticks) and TX_RETRIES.
    TxPolicy {
        /// RTO_INIT.
        rto_init: u32,
        /// RTO_MIN.
        rto_min: u32,
        /// RTO_MAX.
        rto_max: u32,
        /// TX_RETRIES.
        retries: u32,
    },
    /// OP_SOCK_LISTEN (docs/tcp-receive.md, "Listening sockets"), possibly invalid on
    /// purpose (its `TAG` is set when the step runs).
    Listen(ListenParams),
    /// OP_SOCK_UNLISTEN of a listen slot.
    Unlisten {
        /// Listen slot.
        slot: u16,
    },
    /// OP_SOCK_POOL: a socket slot joins the accept pool (no completion unless refused).
    Pool {
        /// Socket reference number.
        sock: u16,
    },
    /// A write of HALF_OPEN_MAX.
    HalfOpenMax {
        /// The value written.
        n: u32,
    },
    /// NB_POST to the socket the host learned (from its ACCEPT) serves this peer; nothing
    /// when it knows none.
    AcceptedNb {
        /// The peer's IPv4 address.
        peer_ip: [u8; 4],
        /// The peer's port.
        peer_port: u16,
        /// `HMD_PAGES` (1..=MAX_NB_PAGES); `TOTAL_BYTES` is `pages * 4096`.
        pages: u32,
    },
    /// SOCK_DEL of the socket the host learned serves this peer, then (with `repool`) its
    /// slot back to the accept pool; nothing when the host knows none.
    AcceptedDel {
        /// The peer's IPv4 address.
        peer_ip: [u8; 4],
        /// The peer's port.
        peer_port: u16,
        /// SOCK_POOL the slot after the SOCK_DEL.
        repool: bool,
    },
    /// One frame.
    Frame(Frame),
    /// Several frames pushed at once (they arrive back to back at line rate).
    Burst(Vec<Frame>),
}

impl Step {
    /// A one-line description for reports.
    /// The step's kind, for statistics by kind: the first word of [`Step::describe`] ("frame",
    /// "SOCK_ADD", "NB_POST", ...).
    pub fn kind(&self) -> String {
        Self::kind_of(&self.describe())
    }

    /// The kind named by a description from [`Step::describe`].
    pub fn kind_of(describe: &str) -> String {
        describe.split_whitespace().next().unwrap_or("").to_string()
    }

    pub fn describe(&self) -> String {
        match self {
            Step::AddSocket(p) => format!(
                "SOCK_ADD ref {} {}:{} <- {}:{} vlan {} proto {} iss {:#x} rcv_buf {} mss {} wscale {} flags {:#x}",
                p.sock_ref,
                p.local_ip, p.local_port,
                p.remote_ip, p.remote_port,
                p.vlan, p.proto, p.iss, p.rcv_buf, p.mss, p.rcv_wscale, p.flags.bits()
            ),
            Step::DelSocket { sock } => format!("SOCK_DEL ref {sock}"),
            Step::PostNb(n) => format!(
                "NB_POST sock {} slot {:?} pages {} total {} list {:?} timeout {}",
                n.sock, n.slot, n.pages, n.total_bytes, n.list, n.timeout
            ),
            Step::PostAnon(a) => format!("ANON_POST slot {:?} len {}", a.slot, a.len),
            Step::NicAddr { mac, ip } => format!(
                "NIC_MAC {:02x?} NIC_IP {}.{}.{}.{}",
                mac, ip[0], ip[1], ip[2], ip[3]
            ),
            Step::TimerKick => "TIMER_KICK".into(),
            Step::TimerTicks { period, ticks } => {
                format!("TIMER_PERIOD {period} for {ticks} ticks, then 0")
            }
            Step::Nop => "NOP".into(),
            Step::BadOpcode { opcode } => format!("request with opcode {opcode}"),
            Step::BlkWrite(b) => format!(
                "BLK_WRITE from slot {} blocks {} lba {} split {} zero_first {} bad {:?} devmem {}",
                b.src_ref, b.blocks, b.lba, b.split, b.zero_first, b.bad, b.devmem
            ),
            Step::Release { bad } => format!("BUF_RELEASE bad {bad:?}"),
            Step::TxPost(t) => format!(
                "TX_POST sock {} bytes {} psh {} first_off {} seed {} scatter {} bad {:?} dev {}{}",
                t.sock,
                t.bytes,
                t.psh,
                t.first_off,
                t.seed,
                t.scatter,
                t.bad,
                t.dev,
                if t.head.is_empty() {
                    String::new()
                } else {
                    format!(" head {} B", t.head.len())
                }
            ),
            Step::HostBuflets { n } => format!("HOST_BUFLETS {n}"),
            Step::DevRead(d) => format!(
                "BLK_READ DEVMEM lba {} blocks {} post_region {} first {} bad {:?}",
                d.lba, d.blocks, d.post_region, d.first, d.bad
            ),
            Step::SockClose { sock } => format!("SOCK_CLOSE ref {sock}"),
            Step::SockAbort { sock } => format!("SOCK_CLOSE ABORT ref {sock}"),
            Step::TxPolicy {
                rto_init,
                rto_min,
                rto_max,
                retries,
            } => format!(
                "RTO_INIT {rto_init} RTO_MIN {rto_min} RTO_MAX {rto_max} TX_RETRIES {retries}"
            ),
            Step::Listen(l) => format!(
                "SOCK_LISTEN slot {} {}:{} vlan {} proto {} iss {:#x} rcv_buf {} mss {} wscale {} flags {:#x}",
                l.slot, l.local_ip, l.local_port, l.vlan, l.proto, l.iss, l.rcv_buf, l.mss,
                l.rcv_wscale, l.flags.bits()
            ),
            Step::Unlisten { slot } => format!("SOCK_UNLISTEN slot {slot}"),
            Step::Pool { sock } => format!("SOCK_POOL ref {sock}"),
            Step::HalfOpenMax { n } => format!("HALF_OPEN_MAX {n}"),
            Step::AcceptedNb {
                peer_ip,
                peer_port,
                pages,
            } => format!(
                "NB_POST ({pages} pages) to the socket accepted for {}:{peer_port}",
                std::net::Ipv4Addr::from(*peer_ip)
            ),
            Step::AcceptedDel {
                peer_ip,
                peer_port,
                repool,
            } => format!(
                "SOCK_DEL of the socket accepted for {}:{peer_port}{}",
                std::net::Ipv4Addr::from(*peer_ip),
                if *repool { ", then SOCK_POOL" } else { "" }
            ),
            Step::Frame(f) => format!("frame {f:?}"),
            Step::Burst(fs) => {
                let v: Vec<String> = fs.iter().map(|f| format!("{f:?}")).collect();
                format!("burst of {}: {}", fs.len(), v.join(" | "))
            }
        }
    }
}

/// A seeded sequence of steps. `index[i]` is the position step `i` had in the generated
/// stimulus (after shrinking, the surviving positions), so a shrunk case can be reproduced from
/// its seed with [`Stimulus::subset`].
#[derive(Clone, PartialEq, Eq)]
pub struct Stimulus {
    /// The seed it was generated from.
    pub seed: u64,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Original positions of the steps.
    pub index: Vec<usize>,
}

impl Stimulus {
    /// A stimulus of these steps (positions 0..n).
    pub fn new(seed: u64, steps: Vec<Step>) -> Self {
        let index = (0..steps.len()).collect();
        Stimulus { seed, steps, index }
    }

    /// The steps at these positions of this stimulus (out-of-range positions are ignored).
    pub fn subset(&self, keep: &[usize]) -> Self {
        let mut steps = Vec::new();
        let mut index = Vec::new();
        for &k in keep {
            if let Some(s) = self.steps.get(k) {
                steps.push(s.clone());
                index.push(self.index.get(k).copied().unwrap_or(k));
            }
        }
        Stimulus {
            seed: self.seed,
            steps,
            index,
        }
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True when there are no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Number of frames over all steps.
    pub fn frames(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Frame(_) => 1,
                Step::Burst(v) => v.len(),
                _ => 0,
            })
            .sum()
    }
}

impl fmt::Debug for Stimulus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Stimulus {{ seed: {}, {} steps, original positions {:?}",
            self.seed,
            self.steps.len(),
            compress(&self.index)
        )?;
        for (i, s) in self.steps.iter().enumerate() {
            writeln!(f, "  {i:4} (#{}) {}", self.index[i], s.describe())?;
        }
        write!(f, "}}")
    }
}

/// Ranges of consecutive positions, "0-17,19,22-30".
fn compress(v: &[usize]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if j > i {
            format!("{}-{}", v[i], v[j])
        } else {
            v[i].to_string()
        });
        i = j + 1;
    }
    out.join(",")
}
