//! The single source of truth for Buflet's host interface.
//!
//! Everything the RTL, the model and the driver must agree on is defined here once:
//! the register map, every ring entry, descriptor, completion and scatter-gather layout,
//! the opcodes, status codes and drop reasons. `buflet-gen` renders this module into
//! `rtl/buflet_defs.vh` and `docs/regmap.md`; a test fails when either file is stale.
//!
//! All in-memory structures are little-endian. Network addresses inside descriptors are
//! stored as their numeric value (10.77.0.2 is the u32 0x0A4D0002), not in wire order.

mod consts;
mod ext;
pub mod gen;
mod layouts;
pub mod wire;

pub use consts::*;
pub use ext::{sg_list, NULL16};
pub use layouts::*;
pub use wire::{LayoutError, Wire};

/// Access type of a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read-only.
    Ro,
    /// Read-write.
    Rw,
    /// Read; writing 1 to a bit clears it.
    W1c,
    /// Write-only doorbell (reads return the last value written).
    Wo,
}

/// One 32-bit register of the register block.
#[derive(Debug, Clone, Copy)]
pub struct Reg {
    pub name: &'static str,
    pub addr: u32,
    pub access: Access,
    pub doc: &'static str,
}

/// One field of an in-memory layout: byte offset and width in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub bytes: usize,
    pub doc: &'static str,
}

/// An in-memory layout (ring entry, descriptor, ...).
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub name: &'static str,
    pub size: usize,
    pub doc: &'static str,
    pub fields: &'static [Field],
}

/// A named constant (opcode, status, flag, drop reason, parameter default).
#[derive(Debug, Clone, Copy)]
pub struct Const {
    pub group: &'static str,
    pub name: &'static str,
    pub value: u64,
    pub doc: &'static str,
}

macro_rules! registers {
    ($( $name:ident = $addr:expr, $acc:ident, $doc:expr; )*) => {
        /// Register byte addresses.
        pub mod reg {
            $( #[doc = $doc] pub const $name: u32 = $addr; )*
        }
        /// Every register, in address order.
        pub const REGS: &[Reg] = &[ $( Reg { name: stringify!($name), addr: $addr, access: Access::$acc, doc: $doc }, )* ];
    };
}

registers! {
    ID            = 0x000, Ro,  "Magic 0x42464C54 ('BFLT').";
    VERSION       = 0x004, Ro,  "Interface version: major<<16 | minor<<8 | patch.";
    DATA_WIDTH    = 0x008, Ro,  "Datapath width in bits (build parameter DATA_WIDTH).";
    BUFLET_BYTES  = 0x00C, Ro,  "Bytes per buflet (build parameter).";
    NUM_BUFLETS   = 0x010, Ro,  "Buflets in local memory (build parameter).";
    NUM_SOCKETS   = 0x014, Ro,  "Socket descriptor slots; valid socket reference numbers are 0..NUM_SOCKETS-1.";
    HASH_BUCKETS  = 0x018, Ro,  "Buckets of the 4-tuple hash table.";
    NUM_NBS       = 0x01C, Ro,  "Named buffer descriptor slots; valid NB reference numbers are 0..NUM_NBS-1.";
    BLOCK_BYTES   = 0x020, Ro,  "File-system block size used by the block DMA engine (4096).";
    PAGE_BYTES    = 0x024, Ro,  "Host page size of named-buffer page lists (4096).";
    CLOCK_MHZ     = 0x028, Ro,  "Core clock the build is characterised for, in MHz.";
    NUM_ANON      = 0x02C, Ro,  "Anonymous buffer slots; valid anonymous reference numbers are 0..NUM_ANON-1.";
    NUM_REGIONS   = 0x030, Ro,  "Protection table slots (seed 004); valid region slots are 0..NUM_REGIONS-1.";
    NUM_POSTS     = 0x034, Ro,  "Send post slots (TX_POST entries the NIC holds until acknowledged, NIC-wide).";
    NUM_LISTEN    = 0x038, Ro,  "Listen slots (build parameter); valid SOCK_LISTEN slots are 0..NUM_LISTEN-1.";
    CTRL          = 0x040, Rw,  "bit0 ENABLE: start processing rings and frames. bit1 PROT_EN: check every DMA access against the protection table (docs/protection.md).";
    STATUS        = 0x044, Ro,  "bit0 READY: local memory initialised; bit1 ENABLED; bit2 FAULT: a ring access was refused by the protection table, rings stopped.";
    IRQ_STATUS    = 0x048, W1c, "bit0 CPL: a completion was posted; bit1 FAULT: an access was refused by the protection table. Write 1 to clear.";
    IRQ_MASK      = 0x04C, Rw,  "Interrupt enables, same bits as IRQ_STATUS.";
    NIC_MAC_LO    = 0x050, Rw,  "The NIC's MAC address bytes 0..3 (byte 0 = first wire byte, in bits 7:0), for ARP replies.";
    NIC_MAC_HI    = 0x054, Rw,  "The NIC's MAC address bytes 4..5 in bits 15:0.";
    NIC_IP        = 0x058, Rw,  "The NIC's IPv4 address (numeric); ARP requests for it are answered. 0 = responder off.";
    TIMER_PERIOD  = 0x060, Rw,  "Cycles per timer tick (named-buffer timeout sweep); 0 = no periodic ticks.";
    TIMER_KICK    = 0x064, Rw,  "Doorbell: any write requests one timer tick now; reads return the last value written.";
    BLK_TIMEOUT   = 0x068, Rw,  "Cycles the block engine waits for the block device to make progress (take a request, send a read's data, send a status) before it gives the command up with status DISK_TIMEOUT; 0 = wait forever. Reset value DEF_BLK_TIMEOUT.";
    PROT_FAULT_ADDR_LO = 0x070, Ro, "Address of the last refused access, low 32 bits.";
    PROT_FAULT_ADDR_HI = 0x074, Ro, "Address of the last refused access, high 32 bits.";
    PROT_FAULT_INFO = 0x078, Ro, "Last refused access: bit0 write, bits 15:8 requester id.";
    REQ_BASE_LO   = 0x080, Rw,  "Request ring base address, low 32 bits (64-byte aligned).";
    REQ_BASE_HI   = 0x084, Rw,  "Request ring base address, high 32 bits.";
    REQ_SIZE      = 0x088, Rw,  "Request ring entries (power of two, 2..65536).";
    REQ_TAIL      = 0x08C, Rw,  "Request doorbell: free-running producer index written by the host.";
    REQ_HEAD      = 0x090, Ro,  "Free-running consumer index: entries fetched by the device.";
    CPL_BASE_LO   = 0x0A0, Rw,  "Completion ring base address, low 32 bits (32-byte aligned).";
    CPL_BASE_HI   = 0x0A4, Rw,  "Completion ring base address, high 32 bits.";
    CPL_SIZE      = 0x0A8, Rw,  "Completion ring entries (power of two, 2..65536).";
    CPL_HEAD      = 0x0AC, Rw,  "Free-running consumer index written by the host after it reads entries.";
    CPL_TAIL      = 0x0B0, Ro,  "Free-running producer index: completions posted by the device.";
    RTO_INIT      = 0x0C0, Rw,  "Retransmission timeout before any RTT sample, in timer ticks (reset value DEF_RTO_INIT).";
    RTO_MIN       = 0x0C4, Rw,  "Lower bound of the retransmission timeout, in timer ticks (reset value DEF_RTO_MIN).";
    RTO_MAX       = 0x0C8, Rw,  "Upper bound of the retransmission timeout and of its backoff, in timer ticks (reset value DEF_RTO_MAX).";
    TX_RETRIES    = 0x0CC, Rw,  "Retransmission timeouts in a row before the connection is reset and its posts return with TIMEOUT (reset value DEF_TX_RETRIES).";
    HOST_BUFLETS  = 0x0D0, Rw,  "Buflets the host owns (p2p reads, docs/p2p.md): the top HOST_BUFLETS buflets are never handed out by the pool. A write of v takes effect only when v <= NUM_BUFLETS/2 and no buflet at or above NUM_BUFLETS-v was ever handed out; otherwise the register keeps its value. Reset 0.";
    HALF_OPEN_MAX = 0x0D4, Rw,  "Most sockets taken from the accept pool that may be in SYN_RCVD at once; a SYN beyond it is dropped LISTEN_FULL (reset value DEF_HALF_OPEN_MAX).";
    HALF_OPEN     = 0x0D8, Ro,  "Sockets taken from the accept pool now in SYN_RCVD (half-open connections).";
    ACCEPT_POOL   = 0x0DC, Ro,  "Socket slots in the accept pool (given by SOCK_POOL, not yet taken by a SYN).";
    BUF_WIN_ADDR  = 0x0E0, Rw,  "Buflet-memory window (docs/p2p.md \"The CPU's window\"): a write of device byte address A starts a copy of the WIN_BYTES bytes at A into BUF_WIN_DATA0..15. Refused (STATUS.BAD, the data reads 0) unless A is a multiple of WIN_BYTES inside buflet memory and A's buflet is exposed. A write while BUF_WIN_STATUS.BUSY is ignored. Reads return the last address taken.";
    BUF_WIN_STATUS = 0x0E4, Ro, "bit0 BUSY: the copy started by the last BUF_WIN_ADDR write is not finished; bit1 BAD: that write was refused. Reset 0.";
    CNT_RX_FRAMES       = 0x100, Ro, "Frames received on the MAC side.";
    CNT_RX_BYTES        = 0x104, Ro, "Bytes received on the MAC side.";
    CNT_RX_ACCEPTED     = 0x108, Ro, "Frames accepted into a socket's segment list.";
    CNT_DELIVERED_BYTES = 0x10C, Ro, "Payload bytes DMAed into named buffers.";
    CNT_FREE_BUFLETS    = 0x138, Ro, "Buflets currently on the free list.";
    CNT_REQ_ERRORS      = 0x13C, Ro, "Requests completed with a non-zero status.";
    CNT_BLK_WRITES      = 0x140, Ro, "Block write operations issued to the block device.";
    CNT_BLK_BYTES       = 0x144, Ro, "Bytes written to the block device.";
    CNT_CPL_POSTED      = 0x148, Ro, "Completions posted.";
    CNT_NB_RETURNED     = 0x14C, Ro, "Named buffers returned to the driver.";
    CNT_TX_FRAMES       = 0x150, Ro, "Frames transmitted (ACK, SYN-ACK, ARP reply).";
    CNT_TX_BYTES        = 0x154, Ro, "Bytes transmitted.";
    CNT_OOO_HELD        = 0x158, Ro, "Segments held out of order (inserted into a socket's reassembly list).";
    CNT_ANON_RX         = 0x15C, Ro, "Frames passed to the driver in anonymous buffers.";
    CNT_ARP_REPLIES     = 0x160, Ro, "ARP requests for NIC_IP answered by the NIC.";
    CNT_TIMEOUTS        = 0x164, Ro, "Named buffers returned on timeout.";
    CNT_TICKS           = 0x168, Ro, "Timer ticks (sweeps) performed.";
    CNT_BLK_READS       = 0x16C, Ro, "Block read operations issued to the block device.";
    CNT_BLK_RD_BYTES    = 0x170, Ro, "Bytes read from the block device into host memory.";
    CNT_PROT_FAULTS     = 0x174, Ro, "DMA accesses refused by the protection table.";
    CNT_HOLD_RECORDS    = 0x178, Ro, "Hold records written (p2p delivery, docs/p2p.md).";
    CNT_BUF_RELEASED    = 0x17C, Ro, "Held buflet chains released by BUF_RELEASE.";
    CNT_BLK_DEV_BYTES   = 0x180, Ro, "Bytes the block engine read from buflet memory (DEVMEM elements, p2p).";
    CNT_RX_DONE         = 0x184, Ro, "Frames the engine finished without a drop and without an anonymous delivery: taken into a socket, held out of order, answered (ARP) or consumed by the TCP rules. CNT_RX_FRAMES = CNT_RX_DONE + CNT_ANON_RX + the drop counters.";
    CNT_BLK_TIMEOUTS    = 0x188, Ro, "Block-device commands given up because the device did not answer within BLK_TIMEOUT cycles.";
    CNT_TX_SEGS         = 0x18C, Ro, "Data segments transmitted (first transmissions and retransmissions; SYN and FIN count when they carry data).";
    CNT_TX_DATA_BYTES   = 0x190, Ro, "Payload bytes transmitted in data segments (retransmissions included).";
    CNT_TX_RETRANS      = 0x194, Ro, "Segments sent again (timeout, fast retransmit or recovery).";
    CNT_TX_RTO          = 0x198, Ro, "Retransmission timer expiries.";
    CNT_TX_FAST_RETRANS = 0x19C, Ro, "Fast retransmits entered on the third duplicate ACK (RFC 5681).";
    CNT_TX_PROBES       = 0x1A0, Ro, "Zero-window probes sent.";
    CNT_TX_DONE         = 0x1A4, Ro, "TX_POSTs completed (every byte acknowledged).";
    CNT_BLK_DEV_WR_BYTES = 0x1A8, Ro, "Bytes the block engine wrote into buflet memory (DEVMEM elements of BLK_READs, p2p reads).";
    CNT_ACCEPTS         = 0x1AC, Ro, "Connections accepted: ACCEPT completions with status OK.";
    CNT_LOOKUPS         = 0x1B0, Ro, "Frames that went through the socket lookup (passed rx_parser, not an ARP request), walked or forwarded.";
    CNT_LOOKUP_CYCLES   = 0x1B4, Ro, "Engine cycles spent in socket lookups: the bucket read plus one per socket visited on the chain, none for a forwarded frame (CNT_LOOKUP_CYCLES / CNT_LOOKUPS is the lookup cost per frame; / (CNT_LOOKUPS - CNT_LOOKUP_FWD) per walk).";
    CNT_BUF_WIN_READS   = 0x1B8, Ro, "Window copies done (BUF_WIN_ADDR writes taken and not refused).";
    CNT_TX_WND_UPDATES  = 0x1BC, Ro, "Window updates sent: ACKs a timer tick sent because the receive window of a socket whose peer may still send had opened by at least min(MSS, RCV_BUF/2) past a right edge closer than that (RFC 9293 3.8.6.2.2; docs/tcp-receive.md).";
    CNT_TX_DELAYED_ACKS = 0x1C0, Ro, "Delayed ACKs sent: ACKs a timer tick sent for bytes a DELAYED_ACK socket had received and not yet acknowledged (a tick's ACK that is also a window update counts in CNT_TX_WND_UPDATES only; docs/tcp-receive.md).";
    CNT_LOOKUP_FWD      = 0x1C4, Ro, "Frames of CNT_LOOKUPS forwarded to the socket the last walk matched, without a walk (docs/tcp-receive.md \"Forwarding\").";
    CNT_DLV_CHAINED     = 0x1C8, Ro, "Delivery steps chained to the frame that grew the socket's in-order list: the frame's end goes straight to the step, without the pick and the socket read (docs/tcp-receive.md \"Chained delivery\").";
    CNT_FRM_CHAINED     = 0x1CC, Ro, "Frames chained to the delivery step before them: a step that issues its chunk and keeps the named buffer takes the next frame of the same socket in that cycle, without the pick (docs/tcp-receive.md \"Chained frames\").";
    CNT_DROP_TRUNCATED  = 0x204, Ro, "Dropped: frame shorter than its headers or IPv4 total length.";
    CNT_DROP_NOT_IPV4   = 0x208, Ro, "Dropped: not IPv4 (ARP, IPv6, ...).";
    CNT_DROP_BAD_IP_HDR = 0x20C, Ro, "Dropped: IPv4 version, IHL or total length invalid, or a fragment.";
    CNT_DROP_BAD_IP_CSUM = 0x210, Ro, "Dropped: IPv4 header checksum wrong.";
    CNT_DROP_BAD_L4_HDR = 0x214, Ro, "Dropped: TCP data offset invalid.";
    CNT_DROP_BAD_L4_CSUM = 0x218, Ro, "Dropped: TCP/UDP checksum wrong.";
    CNT_DROP_NO_SOCKET  = 0x21C, Ro, "Dropped: no socket descriptor matches the 4-tuple (or not TCP).";
    CNT_DROP_NO_BUFLET  = 0x220, Ro, "Dropped: free buflet list empty.";
    CNT_DROP_OUT_OF_ORDER = 0x224, Ro, "Dropped: a zero-length FIN ahead of RCV_NXT (not held; the peer retransmits it).";
    CNT_DROP_TOO_LONG   = 0x228, Ro, "Dropped: frame longer than MAX_FRAME bytes.";
    CNT_DROP_OUT_OF_WINDOW = 0x22C, Ro, "Dropped: fails the RFC 9293 acceptability test, or an RST not exactly at RCV_NXT.";
    CNT_DROP_DUPLICATE  = 0x230, Ro, "Dropped: every byte already held out of order.";
    CNT_DROP_BAD_STATE  = 0x234, Ro, "Dropped: not valid in the socket's state (data before the handshake, SYN when established, ...).";
    CNT_DROP_POOL_LOW   = 0x238, Ro, "Dropped: an out-of-order segment while the free buflets are at the pool's reserve (NUM_BUFLETS / POOL_RESERVE_DIV): not held, so the segment that fills the gap always finds a buflet.";
    CNT_DROP_BAD_ACK    = 0x23C, Ro, "Dropped: an ACK of sequence numbers never sent (answered with an ACK).";
    CNT_DROP_LISTEN_FULL = 0x240, Ro, "Dropped: a SYN to a listen slot while the accept pool was empty or HALF_OPEN_MAX connections were half-open (a SYN flood is counted here).";
    BUF_WIN_DATA0  = 0x400, Ro, "Window bytes 0..3 (byte 0 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA1  = 0x404, Ro, "Window bytes 4..7 (byte 4 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA2  = 0x408, Ro, "Window bytes 8..11 (byte 8 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA3  = 0x40C, Ro, "Window bytes 12..15 (byte 12 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA4  = 0x410, Ro, "Window bytes 16..19 (byte 16 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA5  = 0x414, Ro, "Window bytes 20..23 (byte 20 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA6  = 0x418, Ro, "Window bytes 24..27 (byte 24 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA7  = 0x41C, Ro, "Window bytes 28..31 (byte 28 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA8  = 0x420, Ro, "Window bytes 32..35 (byte 32 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA9  = 0x424, Ro, "Window bytes 36..39 (byte 36 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA10  = 0x428, Ro, "Window bytes 40..43 (byte 40 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA11  = 0x42C, Ro, "Window bytes 44..47 (byte 44 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA12  = 0x430, Ro, "Window bytes 48..51 (byte 48 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA13  = 0x434, Ro, "Window bytes 52..55 (byte 52 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA14  = 0x438, Ro, "Window bytes 56..59 (byte 56 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
    BUF_WIN_DATA15  = 0x43C, Ro, "Window bytes 60..63 (byte 60 in bits 7:0), valid once BUF_WIN_STATUS.BUSY is clear.";
}

/// Every constant group, in the order the renderers list them.
pub const CONST_GROUPS: &[&[Const]] = &[
    op::CONSTS,
    cpl_kind::CONSTS,
    status::CONSTS,
    cpl_flag::CONSTS,
    sock_state::CONSTS,
    sock_flag::CONSTS,
    tcp_flag::CONSTS,
    tx_kind::CONSTS,
    tx_flag::CONSTS,
    close_flag::CONSTS,
    snd_flag::CONSTS,
    tx_opt::CONSTS,
    drop::CONSTS,
    region_perm::CONSTS,
    sg_flag::CONSTS,
    ip_proto::CONSTS,
    param::CONSTS,
];

/// Every constant, group by group.
pub fn consts() -> impl Iterator<Item = &'static Const> {
    CONST_GROUPS.iter().flat_map(|g| g.iter())
}

impl DropReason {
    /// Address of the drop counter of this reason (`None` for `DropReason::None`).
    pub fn counter(self) -> Option<u32> {
        (self != DropReason::None).then(|| (drop::COUNTER_BASE + 4 * u64::from(self.code())) as u32)
    }
}
