//! The single source of truth for Buflet's host interface.
//!
//! Everything the RTL, the model and the driver must agree on is defined here once:
//! the register map, every ring entry, descriptor, completion and scatter-gather layout,
//! the opcodes, status codes and drop reasons. `buflet-gen` renders this module into
//! `rtl/buflet_defs.vh` and `docs/regmap.md`; a test fails when either file is stale.
//!
//! All in-memory structures are little-endian. Network addresses inside descriptors are
//! stored as their numeric value (10.77.0.2 is the u32 0x0A4D0002), not in wire order.

pub mod gen;

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

macro_rules! layouts {
    ($( $lname:ident ($lmod:ident) size $size:expr, $ldoc:expr => { $( $fname:ident @ $off:expr, $bytes:expr, $fdoc:expr; )* } )*) => {
        $(
            #[doc = $ldoc]
            pub mod $lmod {
                #[doc = "Size of the structure in bytes."]
                pub const SIZE: usize = $size;
                $(
                    #[doc = $fdoc]
                    pub const $fname: (usize, usize) = ($off, $bytes);
                )*
            }
        )*
        /// Every layout.
        pub const LAYOUTS: &[Layout] = &[ $( Layout { name: stringify!($lname), size: $size, doc: $ldoc, fields: &[ $( Field { name: stringify!($fname), offset: $off, bytes: $bytes, doc: $fdoc }, )* ] }, )* ];
    };
}

macro_rules! constants {
    ($( $group:ident { $( $name:ident = $val:expr, $doc:expr; )* } )*) => {
        $(
            #[allow(non_snake_case)]
            #[doc = concat!("Constants of group ", stringify!($group), ".")]
            pub mod $group {
                $( #[doc = $doc] pub const $name: u64 = $val; )*
            }
        )*
        /// Every constant, grouped.
        pub const CONSTS: &[Const] = &[ $( $( Const { group: stringify!($group), name: stringify!($name), value: $val, doc: $doc }, )* )* ];
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
    CTRL          = 0x040, Rw,  "bit0 ENABLE: start processing rings and frames. bit1 PROT_EN: check every DMA access against the protection table (docs/protection.md).";
    STATUS        = 0x044, Ro,  "bit0 READY: local memory initialised; bit1 ENABLED; bit2 FAULT: a ring access was refused by the protection table, rings stopped.";
    IRQ_STATUS    = 0x048, W1c, "bit0 CPL: a completion was posted; bit1 FAULT: an access was refused by the protection table. Write 1 to clear.";
    IRQ_MASK      = 0x04C, Rw,  "Interrupt enables, same bits as IRQ_STATUS.";
    NIC_MAC_LO    = 0x050, Rw,  "The NIC's MAC address bytes 0..3 (byte 0 = first wire byte, in bits 7:0), for ARP replies.";
    NIC_MAC_HI    = 0x054, Rw,  "The NIC's MAC address bytes 4..5 in bits 15:0.";
    NIC_IP        = 0x058, Rw,  "The NIC's IPv4 address (numeric); ARP requests for it are answered. 0 = responder off.";
    TIMER_PERIOD  = 0x060, Rw,  "Cycles per timer tick (named-buffer timeout sweep); 0 = no periodic ticks.";
    TIMER_KICK    = 0x064, Rw,  "Doorbell: any write requests one timer tick now; reads return the last value written.";
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
}

layouts! {
    req_hdr (req_hdr) size 64, "Common header of every 64-byte request ring entry." => {
        OPCODE   @ 0, 1, "Request opcode (see `op`).";
        FLAGS    @ 1, 1, "Opcode-specific flags.";
        SOCK_REF @ 2, 2, "Socket reference number the request applies to.";
        TAG      @ 4, 4, "Driver cookie echoed in the completion.";
    }
    sock_desc (sock_desc) size 64, "Socket descriptor (seed 001), host part. Posted by OP_SOCK_ADD as the whole request entry; the NIC keeps it unchanged in its socket table beside the NIC-owned `sock_ctx`." => {
        OPCODE      @ 0, 1, "OP_SOCK_ADD.";
        FLAGS       @ 1, 1, "`sock_flag` bits.";
        SOCK_REF    @ 2, 2, "Socket reference number (index of the socket table slot).";
        TAG         @ 4, 4, "Driver cookie.";
        LOCAL_MAC   @ 8, 6, "Our MAC: destination of received frames, source of transmitted ones. Byte k = wire byte k.";
        REMOTE_MAC  @ 14, 6, "The peer's MAC: destination of transmitted frames. Byte k = wire byte k.";
        VLAN        @ 20, 2, "VLAN id (0 = untagged).";
        PROTO       @ 22, 1, "IP protocol: 6 = TCP.";
        RSVD0       @ 23, 1, "Reserved, 0.";
        LOCAL_IP    @ 24, 4, "Destination IPv4 address of received frames (ours).";
        REMOTE_IP   @ 28, 4, "Source IPv4 address of received frames (the peer's).";
        LOCAL_PORT  @ 32, 2, "Destination port of received frames (ours).";
        REMOTE_PORT @ 34, 2, "Source port of received frames (the peer's).";
        ISS         @ 36, 4, "Our initial send sequence number (the SYN-ACK's SEQ).";
        RCV_BUF     @ 40, 4, "Receive buffer in bytes: bound of accepted-but-undelivered data, and so of the advertised window (1..2^30).";
        MSS         @ 44, 2, "MSS option value sent in the SYN-ACK.";
        RCV_WSCALE  @ 46, 1, "Our window scale shift (0..14), offered in the SYN-ACK when the SYN carried the option.";
        RSVD1       @ 47, 1, "Reserved, 0.";
    }
    sock_ctx (sock_ctx) size 40, "NIC-owned socket state, kept beside each `sock_desc` in the socket table." => {
        STATE       @ 0, 1, "Connection state (see `sock_state`).";
        WS_OK       @ 1, 1, "1 when the SYN carried window scale: advertised windows are shifted by RCV_WSCALE.";
        NEXT_SOCK   @ 2, 2, "Next socket on the hash chain (0xFFFF = none).";
        NB_HEAD     @ 4, 2, "Named buffer list head (0xFFFF = none).";
        NB_TAIL     @ 6, 2, "Named buffer list tail (0xFFFF = none).";
        SEG_HEAD    @ 8, 2, "In-order segment list head buflet (0xFFFF = none).";
        SEG_TAIL    @ 10, 2, "In-order segment list tail buflet (0xFFFF = none).";
        OOO_HEAD    @ 12, 2, "Reassembly list head: out-of-order segments sorted by SEQ (0xFFFF = none).";
        ACT_NEXT    @ 14, 2, "Next socket on the active list (0xFFFF = none); the timer sweep walks it.";
        RCV_NXT     @ 16, 4, "Next expected sequence number.";
        IRS         @ 20, 4, "The peer's initial sequence number (SEQ of its SYN).";
        STREAM_OFF  @ 24, 8, "Stream offset of the next byte to deliver (bytes since the SYN).";
        RCV_WND_EDGE @ 32, 4, "Right edge of the window last advertised (RCV_NXT + scaled window of the last ACK or SYN-ACK); it never moves left.";
        RSVD0       @ 36, 4, "Reserved, 0.";
    }
    nb_desc (nb_desc) size 64, "Named buffer descriptor (seed 001). Posted by OP_NB_POST as the whole request entry; the NIC keeps it in its NB table." => {
        OPCODE        @ 0, 1, "OP_NB_POST.";
        FLAGS         @ 1, 1, "Reserved, 0.";
        SOCK_REF      @ 2, 2, "Socket the buffer is designated to.";
        TAG           @ 4, 4, "Driver cookie, echoed by the NB_RETURN completion.";
        REF_NUM       @ 8, 4, "Named buffer reference number (NB table slot, < NUM_NBS).";
        TIMEOUT       @ 12, 4, "Timer ticks before a partly filled buffer is returned (0 = never).";
        TOTAL_BYTES   @ 16, 4, "Capacity in bytes (threshold at which the buffer is returned).";
        UDP_HDR_BYTES @ 20, 2, "NIC-owned: UDP header bytes written to the buffer.";
        NEXT_NB       @ 22, 2, "NIC-owned: next NB of the socket (0xFFFF = none).";
        PREV_NB       @ 24, 2, "NIC-owned: previous NB of the socket (0xFFFF = none).";
        RECS          @ 26, 2, "NIC-owned: hold records written so far (socket flag HOLD, docs/p2p.md).";
        FILLED        @ 28, 4, "NIC-owned: bytes written so far.";
        HMD_ADDR      @ 32, 8, "Host memory descriptor: address of an array of u64 host page addresses.";
        HMD_PAGES     @ 40, 4, "Number of pages in the host memory descriptor; TOTAL_BYTES <= HMD_PAGES * PAGE_BYTES.";
        STREAM_OFF    @ 48, 8, "NIC-owned: stream offset of the buffer's first byte.";
        TICKS_LEFT    @ 56, 4, "NIC-owned: timer ticks left before the buffer is returned (set from TIMEOUT).";
    }
    blk_req (blk_req) size 64, "OP_BLK_WRITE / OP_BLK_READ request: move whole blocks between the block device and host memory along a linked scatter-gather list (seed 000)." => {
        OPCODE   @ 0, 1, "OP_BLK_WRITE or OP_BLK_READ.";
        FLAGS    @ 1, 1, "Reserved, 0.";
        SOCK_REF @ 2, 2, "Unused, 0.";
        TAG      @ 4, 4, "Driver cookie.";
        SG_ADDR  @ 8, 8, "Host address of the first scatter-gather element.";
        SG_MAX   @ 16, 4, "Upper bound on elements to follow (loop guard).";
        BYTES    @ 20, 4, "Total bytes described; must be a multiple of BLOCK_BYTES.";
    }
    region_desc (region_desc) size 64, "OP_REG_REGION / OP_DEREG_REGION request: a host region the device may access (seed 004)." => {
        OPCODE   @ 0, 1, "OP_REG_REGION or OP_DEREG_REGION.";
        FLAGS    @ 1, 1, "`region_perm` bits (REG_REGION).";
        SOCK_REF @ 2, 2, "Unused, 0.";
        TAG      @ 4, 4, "Driver cookie, echoed by CMD_DONE.";
        SLOT     @ 8, 4, "Protection table slot (< NUM_REGIONS).";
        RSVD0    @ 12, 4, "Reserved, 0.";
        BASE     @ 16, 8, "First host byte of the region.";
        LEN      @ 24, 8, "Bytes in the region (REG_REGION).";
    }
    anon_desc (anon_desc) size 64, "OP_ANON_POST request: an anonymous buffer (seed 001) for frames that match no socket." => {
        OPCODE   @ 0, 1, "OP_ANON_POST.";
        FLAGS    @ 1, 1, "Reserved, 0.";
        SOCK_REF @ 2, 2, "Unused, 0.";
        TAG      @ 4, 4, "Driver cookie, echoed by the ANON_RX completion.";
        REF_NUM  @ 8, 4, "Anonymous buffer slot (< NUM_ANON).";
        LEN      @ 12, 4, "Capacity in bytes (ANON_MIN_LEN..=ANON_MAX_LEN).";
        ADDR     @ 16, 8, "Host address of the buffer (contiguous, registered).";
    }
    sg_elem (sg_elem) size 32, "Scatter-gather element (seed 000): source in host memory, destination on disk, link." => {
        SRC_ADDR  @ 0, 8, "Host address of the data (source of a write, destination of a read).";
        LEN       @ 8, 4, "Bytes in this element (1..=BLOCK_BYTES*16).";
        FLAGS     @ 12, 4, "`sg_flag` bits. ZERO: on a write, write zeros (SRC_ADDR is not read); on a read, discard these bytes (SRC_ADDR is not written). DEVMEM: on a write, SRC_ADDR is a buflet-memory address (docs/p2p.md).";
        DISK_ADDR @ 16, 8, "Destination byte address on disk (LBA*512); consecutive with the previous element inside a block.";
        NEXT      @ 24, 8, "Host address of the next element, 0 = last.";
    }
    hold_rec (hold_rec) size 8, "Hold record (p2p, docs/p2p.md): one delivered chunk of a HOLD socket, left in buflet memory. Written by the device into the named buffer's pages, record r at page-list position 8r." => {
        BUFLET @ 0, 2, "Buflet holding the chunk.";
        OFF    @ 2, 2, "Byte offset of the chunk's first byte inside that buflet.";
        LEN    @ 4, 2, "Payload bytes in the chunk (1..BUFLET_BYTES); the chunk never crosses a buflet.";
        HEAD   @ 6, 2, "First buflet of the segment's chain when this chunk emptied the segment: the chain is now held for the driver, which frees it with BUF_RELEASE. 0xFFFF otherwise.";
    }
    buf_release (buf_release) size 64, "OP_BUF_RELEASE request: give held buflet chains back to the free list (p2p, docs/p2p.md)." => {
        OPCODE   @ 0, 1, "OP_BUF_RELEASE.";
        FLAGS    @ 1, 1, "Reserved, 0.";
        SOCK_REF @ 2, 2, "Unused, 0.";
        TAG      @ 4, 4, "Driver cookie, echoed by CMD_DONE.";
        COUNT    @ 8, 2, "Chains to release (1..=RELEASE_MAX).";
        RSVD0    @ 10, 6, "Reserved, 0.";
        HEAD0    @ 16, 2, "First chain head (a hold_rec HEAD value). Head k (k < COUNT) is the u16 at byte 16 + 2k, up to byte 63.";
    }
    cpl (cpl) size 32, "Completion ring entry, written by the device in one 32-byte DMA write." => {
        KIND       @ 0, 1, "Completion kind (see `cpl_kind`).";
        STATUS     @ 1, 1, "0 = OK, else a `status` code.";
        SOCK_REF   @ 2, 2, "Socket the completion concerns.";
        TAG        @ 4, 4, "Tag of the request it completes.";
        REF_NUM    @ 8, 4, "Named buffer reference number (NB_RETURN).";
        BYTES      @ 12, 4, "Bytes filled (NB_RETURN), written to disk (BLK_DONE) or chains released (BUF_RELEASE).";
        FLAGS      @ 16, 4, "`cpl_flag` bits: why a buffer was returned.";
        OPCODE     @ 20, 1, "Opcode of the request completed.";
        HDR_BYTES  @ 21, 1, "UDP header bytes at the start of the buffer (NB_RETURN of a UDP datagram).";
        PHASE      @ 23, 1, "Phase: 1 on the ring's first pass, toggling on every wrap.";
        STREAM_OFF @ 24, 8, "Stream offset of the buffer's first byte (NB_RETURN).";
    }
    buflet_hdr (buflet_hdr) size 16, "Segment buflet header (seed 001), kept per buflet in the NIC's header table." => {
        NEXT_BUFLET @ 0, 2, "Next buflet of this segment (0xFFFF = none).";
        DATA_OFF    @ 2, 2, "Byte offset of the first undelivered data byte, from the start of the frame.";
        DATA_LEN    @ 4, 2, "Undelivered data bytes in the segment.";
        MAC_OFF     @ 6, 1, "Offset of the MAC header (0).";
        IP_OFF      @ 7, 1, "Offset of the IPv4 header (14, or 18 with a VLAN tag).";
        L4_OFF      @ 8, 1, "Offset of the TCP/UDP header.";
        FLAGS       @ 9, 1, "TCP flags of the segment.";
        NEXT_SEG    @ 10, 2, "First buflet of the next segment of the socket (0xFFFF = none).";
        SEQ         @ 12, 4, "Sequence number of the first data byte.";
    }
    tx_cmd (tx_cmd) size 48, "Internal: one frame for tx_builder, snapshotted by toe_engine when it decides to send (ACK, SYN-ACK)." => {
        DST_MAC  @ 0, 6, "Destination MAC (socket REMOTE_MAC).";
        SRC_MAC  @ 6, 6, "Source MAC (socket LOCAL_MAC).";
        VLAN     @ 12, 2, "VLAN id; 0 = untagged, else an 802.1Q tag with PCP 0, DEI 0.";
        KIND     @ 14, 1, "`tx_kind`: TCP segment or ARP reply.";
        RSVD     @ 15, 1, "Reserved, 0.";
        SRC_IP   @ 16, 4, "Source IPv4 (socket LOCAL_IP).";
        DST_IP   @ 20, 4, "Destination IPv4 (socket REMOTE_IP).";
        SRC_PORT @ 24, 2, "Source port (socket LOCAL_PORT).";
        DST_PORT @ 26, 2, "Destination port (socket REMOTE_PORT).";
        SEQ      @ 28, 4, "TCP sequence number.";
        ACK      @ 32, 4, "TCP acknowledgment number.";
        WINDOW   @ 36, 2, "TCP window field (already scaled).";
        FLAGS    @ 38, 1, "TCP flags (`tcp_flag`).";
        OPTS     @ 39, 1, "`tx_opt` bits: options to append.";
        MSS      @ 40, 2, "MSS option value.";
        WSCALE   @ 42, 1, "Window scale option shift.";
        RSVD2    @ 43, 5, "Reserved, 0.";
    }
}

constants! {
    op {
        SOCK_ADD  = 1, "Add a socket descriptor to the active list.";
        SOCK_DEL  = 2, "Delete a socket descriptor (named buffers are returned first).";
        NB_POST   = 3, "Designate a named buffer to a socket.";
        BLK_WRITE = 4, "Write a scatter-gather list to the block device.";
        NOP       = 5, "Completes with no effect (ring test).";
        ANON_POST = 6, "Give the NIC an anonymous buffer for frames that match no socket.";
        BLK_READ  = 7, "Read blocks from the block device into host memory along a scatter-gather list (read-modify-write).";
        REG_REGION = 8, "Register a host region in the device protection table (seed 004).";
        DEREG_REGION = 9, "Remove a region from the device protection table.";
        BUF_RELEASE = 10, "Free held buflet chains (p2p): entry `buf_release`.";
    }
    cpl_kind {
        CMD_DONE  = 1, "A request finished (SOCK_ADD, SOCK_DEL, NOP, or any request that failed).";
        NB_RETURN = 2, "A named buffer is returned to the driver.";
        BLK_DONE  = 3, "A block write finished.";
        ANON_RX   = 4, "A frame was written into an anonymous buffer, which is returned to the driver.";
    }
    status {
        OK          = 0, "Success.";
        BAD_OPCODE  = 1, "Unknown request opcode.";
        BAD_SOCK    = 2, "Socket reference out of range, slot busy, or not in use.";
        BAD_NB      = 3, "Named buffer reference out of range or busy, or bad page list.";
        BAD_SG      = 4, "Scatter-gather list invalid: zero/huge length, discontiguous block, too many elements.";
        DISK_ERROR  = 5, "The block device reported an error.";
        DMA_ERROR   = 6, "A host memory access failed.";
        BAD_REGION  = 7, "Region request invalid: slot out of range, zero length, wrapping range, or bad permission bits.";
        PROT_FAULT  = 8, "An access outside the registered regions was refused (seed 004).";
        BAD_BUF     = 9, "BUF_RELEASE: COUNT out of range, or a head that is not a held chain.";
    }
    cpl_flag {
        FULL    = 1, "Returned because it reached TOTAL_BYTES.";
        PSH     = 2, "Returned on PSH.";
        FIN     = 4, "Returned because the peer sent FIN.";
        RST     = 8, "Returned because the peer sent RST.";
        TIMEOUT = 16, "Returned on timeout.";
        DELETE  = 32, "Returned because its socket was deleted.";
        TRUNC   = 64, "The datagram or frame was longer than the buffer; the buffer holds its first bytes.";
        DATAGRAM = 128, "Returned after one UDP datagram.";
    }
    sock_state {
        FREE       = 0, "Slot unused.";
        LISTEN     = 1, "Posted, waiting for the peer's SYN.";
        SYN_RCVD   = 2, "SYN seen, SYN-ACK sent; waiting for the ACK of our SYN.";
        ESTAB      = 3, "Handshake complete; data accepted and reassembled.";
        CLOSE_WAIT = 4, "The peer's FIN was received in order; no more data.";
        CLOSED     = 5, "An RST was accepted.";
    }
    sock_flag {
        PSH_RETURN = 1, "Return the head named buffer, partly filled, when a segment with PSH has been delivered into it.";
        HOLD       = 2, "p2p (docs/p2p.md): payload stays in buflet memory; delivery writes hold records instead of payload, and emptied chains are held for BUF_RELEASE. TCP only.";
    }
    tcp_flag {
        FIN = 0x01, "TCP FIN.";
        SYN = 0x02, "TCP SYN.";
        RST = 0x04, "TCP RST.";
        PSH = 0x08, "TCP PSH.";
        ACK = 0x10, "TCP ACK.";
        URG = 0x20, "TCP URG.";
    }
    tx_kind {
        TCP = 0, "A TCP segment (ACK, SYN-ACK).";
        ARP = 1, "An ARP reply.";
    }
    tx_opt {
        MSS = 1, "tx_cmd OPTS bit: append the MSS option (kind 2, length 4).";
        WS  = 2, "tx_cmd OPTS bit: append NOP + window scale (kind 3, length 3).";
    }
    drop {
        NONE         = 0, "Frame passed every check.";
        TRUNCATED    = 1, "Frame shorter than its headers or IPv4 total length. Counter CNT_DROP_TRUNCATED.";
        NOT_IPV4     = 2, "Not IPv4. Counter CNT_DROP_NOT_IPV4.";
        BAD_IP_HDR   = 3, "IPv4 version/IHL/total length invalid, or a fragment.";
        BAD_IP_CSUM  = 4, "IPv4 header checksum wrong.";
        BAD_L4_HDR   = 5, "TCP data offset invalid.";
        BAD_L4_CSUM  = 6, "TCP/UDP checksum wrong.";
        NO_SOCKET    = 7, "No socket matches (or not TCP).";
        NO_BUFLET    = 8, "Free buflet list empty.";
        OUT_OF_ORDER = 9, "Zero-length FIN ahead of RCV_NXT: not held out of order.";
        TOO_LONG     = 10, "Longer than MAX_FRAME.";
        OUT_OF_WINDOW = 11, "Fails the RFC 9293 acceptability test, or an RST not exactly at RCV_NXT.";
        DUPLICATE    = 12, "Out-of-order segment whose every byte is already held.";
        BAD_STATE    = 13, "Not valid in the socket's state.";
        COUNTER_BASE = 0x200, "Counter of drop reason r (1..13) is at COUNTER_BASE + 4*r.";
    }
    region_perm {
        READ  = 1, "The device may read the region.";
        WRITE = 2, "The device may write the region.";
    }
    sg_flag {
        ZERO = 1, "Element writes zeros; SRC_ADDR is not read.";
        DEVMEM = 2, "Write only: SRC_ADDR is a buflet-memory address b*BUFLET_BYTES + k; the element lies inside one exposed buflet (docs/p2p.md).";
    }
    param {
        ID_MAGIC         = 0x42464C54, "Value of the ID register.";
        VERSION          = 0x000300, "Interface version 0.3.0.";
        NULL16           = 0xFFFF, "Null link in 16-bit link fields.";
        MAX_FRAME        = 9216, "Longest frame accepted, bytes.";
        BLOCK_BYTES      = 4096, "File-system block size.";
        PAGE_BYTES       = 4096, "Host page size.";
        SECTOR_BYTES     = 512, "Block device sector size.";
        DEF_BUFLET_BYTES = 2048, "Default buflet size.";
        DEF_NUM_BUFLETS  = 256, "Default buflet count.";
        DEF_NUM_SOCKETS  = 64, "Default socket slots.";
        DEF_HASH_BUCKETS = 256, "Default hash buckets.";
        DEF_NUM_NBS      = 64, "Default named buffer slots.";
        DEF_NUM_ANON     = 16, "Default anonymous buffer slots.";
        DEF_NUM_REGIONS  = 32, "Default protection table slots.";
        ANON_MIN_LEN     = 64, "Smallest anonymous buffer.";
        ANON_MAX_LEN     = 16384, "Largest anonymous buffer (contiguous host memory).";
        DEF_CLOCK_MHZ    = 250, "Default characterised clock.";
        POOL_RESERVE_DIV = 16, "Window: NUM_BUFLETS / POOL_RESERVE_DIV buflets are held back from the pool room.";
        IP_TTL           = 64, "TTL of transmitted IPv4 packets.";
        RELEASE_MAX      = 24, "Most chain heads in one BUF_RELEASE request.";
        HOLD_REC_BYTES   = 8, "Bytes per hold record.";
    }
}

/// Read a little-endian field of up to 8 bytes from a structure.
pub fn get(buf: &[u8], field: (usize, usize)) -> u64 {
    let (off, n) = field;
    let mut v = [0u8; 8];
    v[..n].copy_from_slice(&buf[off..off + n]);
    u64::from_le_bytes(v)
}

/// Write a little-endian field of up to 8 bytes into a structure.
pub fn put(buf: &mut [u8], field: (usize, usize), value: u64) {
    let (off, n) = field;
    buf[off..off + n].copy_from_slice(&value.to_le_bytes()[..n]);
}
