//! Every named constant the RTL, the model and the driver share: opcodes, completion kinds,
//! status codes, states, flags, drop reasons and protocol parameters. Code groups also become
//! enums, flag groups `bitflags` types (see `wire.rs`).

use crate::wire::{codes, constants, flag_sets};

codes! {
    op (Opcode), "Request opcodes." => {
        SockAdd SOCK_ADD = 1, "Add a socket descriptor to the active list.";
        SockDel SOCK_DEL = 2, "Delete a socket descriptor (named buffers are returned first).";
        NbPost NB_POST = 3, "Designate a named buffer to a socket.";
        BlkWrite BLK_WRITE = 4, "Write a scatter-gather list to the block device.";
        Nop NOP = 5, "Completes with no effect (ring test).";
        AnonPost ANON_POST = 6, "Give the NIC an anonymous buffer for frames that match no socket.";
        BlkRead BLK_READ = 7, "Read blocks from the block device into host memory along a scatter-gather list (read-modify-write).";
        RegRegion REG_REGION = 8, "Register a host region in the device protection table (seed 004).";
        DeregRegion DEREG_REGION = 9, "Remove a region from the device protection table.";
        BufRelease BUF_RELEASE = 10, "Free held buflet chains (p2p): entry `buf_release`.";
        TxPost TX_POST = 11, "Append a buffer, by reference, to a socket's send queue: entry `tx_desc` (docs/tcp-transmit.md).";
        SockClose SOCK_CLOSE = 12, "Send FIN after the socket's queued data; completes when the FIN is acknowledged. With close_flag.ABORT: abort the connection at once (docs/tcp-transmit.md).";
        SockListen SOCK_LISTEN = 13, "Open a listening slot: entry `listen_desc`; SYNs to its address and port that match no socket get a socket from the accept pool (docs/tcp-receive.md, Listening sockets).";
        SockUnlisten SOCK_UNLISTEN = 14, "Close listening slot SOCK_REF: no new connections; half-open and accepted ones go on.";
        SockPool SOCK_POOL = 15, "Give socket slot SOCK_REF to the accept pool; no completion now: the slot's ACCEPT completion comes when a SYN takes it.";
    }
    cpl_kind (CplKind), "Completion kinds." => {
        CmdDone CMD_DONE = 1, "A request finished (SOCK_ADD, SOCK_DEL, NOP, or any request that failed).";
        NbReturn NB_RETURN = 2, "A named buffer is returned to the driver.";
        BlkDone BLK_DONE = 3, "A block write finished.";
        AnonRx ANON_RX = 4, "A frame was written into an anonymous buffer, which is returned to the driver.";
        TxDone TX_DONE = 5, "Every byte of one or more TX_POSTs was acknowledged (or the connection ended): their buffers are the host's again.";
        Accept ACCEPT = 6, "A socket taken from the accept pool left SYN_RCVD: OK = the handshake completed (post named buffers); RESET or TIMEOUT = the half-open connection died (the slot is CLOSED: SOCK_DEL it). REF_NUM = the peer's IPv4 address, BYTES = the peer's port | listen slot << 16, TAG = the listen's TAG.";
    }
    status (Status), "Completion status codes." => {
        Ok OK = 0, "Success.";
        BadOpcode BAD_OPCODE = 1, "Unknown request opcode.";
        BadSock BAD_SOCK = 2, "Socket reference out of range, slot busy, or not in use.";
        BadNb BAD_NB = 3, "Named buffer reference out of range or busy, or bad page list.";
        BadSg BAD_SG = 4, "Scatter-gather list invalid: zero/huge length, discontiguous block, too many elements.";
        DiskError DISK_ERROR = 5, "The block device reported an error.";
        DmaError DMA_ERROR = 6, "A host memory access failed.";
        BadRegion BAD_REGION = 7, "Region request invalid: slot out of range, zero length, wrapping range, or bad permission bits.";
        ProtFault PROT_FAULT = 8, "An access outside the registered regions was refused (seed 004).";
        BadBuf BAD_BUF = 9, "BUF_RELEASE: COUNT out of range, or a head that is not a held chain.";
        DiskTimeout DISK_TIMEOUT = 10, "The block device did not answer within BLK_TIMEOUT cycles: the command was given up (its late answer is discarded).";
        Reset RESET = 11, "The connection was reset (RST received or sent) before the request could finish.";
        Timeout TIMEOUT = 12, "The peer stopped acknowledging: the retransmissions ran out (TX_RETRIES).";
        NoPost NO_POST = 13, "TX_POST: every post slot of the NIC (NUM_POSTS) holds a post not yet acknowledged; post again after a TX_DONE.";
    }
    sock_state (SockState), "Connection states (sock_ctx.STATE)." => {
        Free FREE = 0, "Slot unused.";
        Listen LISTEN = 1, "Posted, waiting for the peer's SYN.";
        SynRcvd SYN_RCVD = 2, "SYN seen, SYN-ACK sent; waiting for the ACK of our SYN.";
        Estab ESTAB = 3, "Handshake complete; data accepted and reassembled.";
        CloseWait CLOSE_WAIT = 4, "The peer's FIN was received in order; no more data.";
        Closed CLOSED = 5, "An RST was accepted (or sent).";
        SynSent SYN_SENT = 6, "Active open (SOCK_ADD with CONNECT): SYN sent, waiting for the SYN-ACK.";
        FinWait1 FIN_WAIT_1 = 7, "SOCK_CLOSE in ESTAB: our FIN queued or sent, not yet acknowledged.";
        FinWait2 FIN_WAIT_2 = 8, "Our FIN was acknowledged; the peer may still send.";
        LastAck LAST_ACK = 9, "SOCK_CLOSE in CLOSE_WAIT: our FIN sent after the peer's, not yet acknowledged.";
        TimeWait TIME_WAIT = 10, "Both FINs exchanged and acknowledged; the host ends it with SOCK_DEL.";
        Closing CLOSING = 11, "Both sides sent FIN at once; ours not yet acknowledged.";
    }
    tx_kind (TxKind), "Kinds of tx_cmd." => {
        Tcp TCP = 0, "A TCP segment (ACK, SYN-ACK).";
        Arp ARP = 1, "An ARP reply.";
    }
    drop (DropReason), "Drop reasons of received frames; each has a counter." => {
        None NONE = 0, "Frame passed every check.";
        Truncated TRUNCATED = 1, "Frame shorter than its headers or IPv4 total length. Counter CNT_DROP_TRUNCATED.";
        NotIpv4 NOT_IPV4 = 2, "Not IPv4. Counter CNT_DROP_NOT_IPV4.";
        BadIpHdr BAD_IP_HDR = 3, "IPv4 version/IHL/total length invalid, or a fragment.";
        BadIpCsum BAD_IP_CSUM = 4, "IPv4 header checksum wrong.";
        BadL4Hdr BAD_L4_HDR = 5, "TCP data offset invalid.";
        BadL4Csum BAD_L4_CSUM = 6, "TCP/UDP checksum wrong.";
        NoSocket NO_SOCKET = 7, "No socket matches (or not TCP).";
        NoBuflet NO_BUFLET = 8, "Free buflet list empty.";
        OutOfOrder OUT_OF_ORDER = 9, "Zero-length FIN ahead of RCV_NXT: not held out of order.";
        TooLong TOO_LONG = 10, "Longer than MAX_FRAME.";
        OutOfWindow OUT_OF_WINDOW = 11, "Fails the RFC 9293 acceptability test, or an RST not exactly at RCV_NXT.";
        Duplicate DUPLICATE = 12, "Out-of-order segment whose every byte is already held.";
        BadState BAD_STATE = 13, "Not valid in the socket's state.";
        PoolLow POOL_LOW = 14, "Out-of-order segment while the free buflets are at the pool's reserve: not held, the reserve stays for in-order data.";
        BadAck BAD_ACK = 15, "An ACK of sequence numbers never sent (ACK > SND_MAX): answered with an ACK.";
        ListenFull LISTEN_FULL = 16, "A SYN to a listening slot found the accept pool empty or HALF_OPEN_MAX connections half-open: not answered.";
        @ COUNTER_BASE = 0x200, "Counter of drop reason r (1..16) is at COUNTER_BASE + 4*r.";
    }
}

codes! {
    ip_proto (IpProto), "IP protocol numbers of sockets (sock_desc.PROTO) and parsed frames." => {
        Tcp TCP = 6, "TCP.";
        Udp UDP = 17, "UDP.";
    }
}

flag_sets! {
    cpl_flag (CplFlags: u32), "Why a buffer was returned (cpl.FLAGS)." => {
        FULL    = 1, "Returned because it reached TOTAL_BYTES.";
        PSH     = 2, "Returned on PSH.";
        FIN     = 4, "Returned because the peer sent FIN.";
        RST     = 8, "Returned because the peer sent RST.";
        TIMEOUT = 16, "Returned on timeout.";
        DELETE  = 32, "Returned because its socket was deleted.";
        TRUNC   = 64, "The datagram or frame was longer than the buffer; the buffer holds its first bytes.";
        DATAGRAM = 128, "Returned after one UDP datagram.";
    }
    sock_flag (SockFlags: u8), "Socket flags (sock_desc.FLAGS)." => {
        PSH_RETURN = 1, "Return the head named buffer, partly filled, when a segment with PSH has been delivered into it.";
        HOLD       = 2, "p2p (docs/p2p.md): payload stays in buflet memory; delivery writes hold records instead of payload, and emptied chains are held for BUF_RELEASE. TCP only.";
        CONNECT    = 4, "Active open: the socket starts in SYN_SENT and the NIC sends a SYN (docs/tcp-transmit.md). TCP only.";
        ACCEPTED   = 8, "NIC-set: the socket was made from a listen slot's template by a SYN (LISTEN_SLOT names the slot); leaving SYN_RCVD posts ACCEPT. Not allowed in SOCK_ADD or SOCK_LISTEN.";
        DELAYED_ACK = 16, "Delayed ACKs (docs/tcp-receive.md \"Delayed ACKs\"): an in-order segment without PSH or FIN that leaves at most MSS bytes unacknowledged, nothing out of order and at least MSS of window is not acknowledged at once; the next ACK carries it, at the latest the next timer tick's (so the driver runs the timer). Ignored on a UDP socket; allowed in SOCK_LISTEN.";
    }
    tcp_flag (TcpFlags: u8), "TCP header flags." => {
        FIN = 0x01, "TCP FIN.";
        SYN = 0x02, "TCP SYN.";
        RST = 0x04, "TCP RST.";
        PSH = 0x08, "TCP PSH.";
        ACK = 0x10, "TCP ACK.";
        URG = 0x20, "TCP URG.";
    }
    tx_flag (TxFlags: u8), "Flags of a send request (tx_desc.FLAGS)." => {
        PSH    = 1, "Set PSH on the post's last segment.";
        DEVMEM = 2, "p2p: the page-list entries are device addresses of host buflets (HOST_BUFLETS), each covering BUFLET_BYTES bytes; the payload is read from buflet memory (docs/p2p.md, p2p reads).";
    }
    close_flag (CloseFlags: u8), "Flags of a SOCK_CLOSE request (req_hdr.FLAGS)." => {
        ABORT = 1, "Abort: an RST goes out (SEQ = SND.NXT; none in LISTEN, SYN_SENT, TIME_WAIT or CLOSED), the socket is CLOSED, its posts come back TX_DONE RESET, a pending SOCK_CLOSE and active open CMD_DONE RESET, then this request's CMD_DONE OK.";
    }
    snd_flag (SndFlags: u16), "Send-state flags (snd_ctx.SFLAGS), NIC-internal." => {
        OPEN         = 0x001, "The handshake completed: the send side may run.";
        RECOVERY     = 0x002, "In fast recovery (RFC 6582).";
        RETX         = 0x004, "Send the segment at UNA again next (fast retransmit, a partial ACK).";
        PERSIST      = 0x008, "The timer runs as the persist timer (the peer's window is 0).";
        PROBE        = 0x010, "A zero-window probe is due.";
        FIN_QUEUED   = 0x020, "SOCK_CLOSE: our FIN follows the last post (offset END).";
        CLOSE_PEND   = 0x040, "A SOCK_CLOSE waits for its FIN's acknowledgment (CLOSE_TAG).";
        CONNECT_PEND = 0x080, "An active open waits for its handshake (CONNECT_TAG).";
        QUEUED       = 0x100, "On the send-ready FIFO.";
        TAIL_PSH     = 0x200, "The newest post asked for PSH.";
        RTT_ON       = 0x400, "An RTT sample is in progress (RTT_UNTIL, RTT_TICKS).";
        NXT_HEAD     = 0x800, "NXT_POST/NXT_POFF are stale: NXT equals UNA (after a timeout, or an ACK past NXT); the next walk from NXT starts at POST_HEAD.";
    }
    tx_opt (TxOpts: u8), "Options of a tx_cmd (tx_cmd.OPTS)." => {
        MSS = 1, "tx_cmd OPTS bit: append the MSS option (kind 2, length 4).";
        WS  = 2, "tx_cmd OPTS bit: append NOP + window scale (kind 3, length 3).";
    }
    region_perm (RegionPerm: u8), "Region permissions (region_desc.FLAGS)." => {
        READ  = 1, "The device may read the region.";
        WRITE = 2, "The device may write the region.";
    }
    sg_flag (SgFlags: u32), "Scatter-gather element flags (sg_elem.FLAGS)." => {
        ZERO = 1, "Element writes zeros; SRC_ADDR is not read.";
        DEVMEM = 2, "SRC_ADDR is a buflet-memory address b*BUFLET_BYTES + k. BLK_WRITE: the element lies inside one exposed buflet and its bytes are read from there. BLK_READ: the element lies inside one host buflet (HOST_BUFLETS), SRC_ADDR, LEN and DISK_ADDR are multiples of DEV_ALIGN, and its bytes are written there (docs/p2p.md).";
    }
}

constants! {
    param, "Protocol and build constants shared by the RTL, the model and the driver." => {
        ID_MAGIC         = 0x42464C54, "Value of the ID register.";
        VERSION          = 0x000400, "Interface version 0.4.0.";
        TX_MAX_SEG       = 9216, "Largest payload of one transmitted segment (the peer's MSS and ours are clamped to it); tx_data buffers two.";
        NULL16           = 0xFFFF, "Null link in 16-bit link fields.";
        MAX_FRAME        = 9216, "Longest frame accepted, bytes.";
        BLOCK_BYTES      = 4096, "File-system block size.";
        PAGE_BYTES       = 4096, "Host page size.";
        SECTOR_BYTES     = 512, "Block device sector size.";
        DEF_BUFLET_BYTES = 2048, "Default buflet size.";
        DEF_NUM_BUFLETS  = 256, "Default buflet count.";
        DEF_NUM_SOCKETS  = 64, "Default socket slots.";
        DEF_HASH_BUCKETS = 256, "Default hash buckets (HASH_PER_SOCKET * DEF_NUM_SOCKETS).";
        HASH_PER_SOCKET  = 4, "Hash buckets per socket slot in every build: chains stay short (about 1.1 sockets visited per lookup when the table is full), so the lookup cost does not grow with the socket count.";
        DEF_NUM_LISTEN   = 8, "Default listen slots.";
        DEF_HALF_OPEN_MAX = 16, "Reset value of HALF_OPEN_MAX.";
        DEF_NUM_NBS      = 64, "Default named buffer slots.";
        DEF_NUM_POSTS    = 256, "Default send post slots (TX_POST entries not yet acknowledged, NIC-wide).";
        DEF_NUM_ANON     = 16, "Default anonymous buffer slots.";
        DEF_NUM_REGIONS  = 32, "Default protection table slots.";
        ANON_MIN_LEN     = 64, "Smallest anonymous buffer.";
        ANON_MAX_LEN     = 16384, "Largest anonymous buffer (contiguous host memory).";
        DEF_CLOCK_MHZ    = 250, "Default characterised clock.";
        POOL_RESERVE_DIV = 16, "Window: NUM_BUFLETS / POOL_RESERVE_DIV buflets are held back from the pool room.";
        DEF_BLK_TIMEOUT  = 0x100_0000, "Reset value of BLK_TIMEOUT: 2^24 cycles (67 ms at 250 MHz).";
        DEF_RTO_INIT     = 1000, "Reset value of RTO_INIT: the RTO before any RTT sample, in timer ticks (RFC 6298: 1 s at a 1 ms tick).";
        DEF_RTO_MIN      = 1000, "Reset value of RTO_MIN, in timer ticks (RFC 6298: 1 s at a 1 ms tick).";
        DEF_RTO_MAX      = 60000, "Reset value of RTO_MAX, in timer ticks (60 s at a 1 ms tick).";
        DEF_TX_RETRIES   = 15, "Reset value of TX_RETRIES: retransmission timeouts in a row before the connection is reset.";
        DEF_PEER_MSS     = 536, "The peer's MSS when its SYN carries no MSS option (RFC 9293 3.7.1).";
        IP_TTL           = 64, "TTL of transmitted IPv4 packets.";
        RELEASE_MAX      = 24, "Most chain heads in one BUF_RELEASE request.";
        RCV_BUF_MAX      = 0x4000_0000, "Largest sock_desc.RCV_BUF (2^30 bytes).";
        HOLD_REC_BYTES   = 8, "Bytes per hold record.";
        WIN_BYTES        = 64, "Bytes the buflet-memory window copies at once (BUF_WIN_DATA0..15); BUF_WIN_ADDR is a multiple of it.";
        PAGE_LIST_GROUP  = 16, "Page-list entries delivery reads at once on a page-cache miss (from the chunk's page on, not past HMD_PAGES): one read's round trip per 16 pages.";
        RX_META_FIFO = 8, "Frame metadata records that wait between rx_parser and toe_engine (a FIFO behind the parser's output register): the engine may fall this many frames behind the wire before the parser holds the MAC.";
        DMA_RD_OUTSTANDING = 8, "DMA reads in flight at the host read port at most (dma_rd_arb's split transactions; the host answers in request order).";
        DMA_WR_OUTSTANDING = 4, "DMA writes whose data is owed at the host write port at most (dma_wr_arb's split transactions: a request goes ahead of its data; the data follows in request order).";
        BLK_WRITES_IN_FLIGHT = 8, "Block writes the block engine keeps issued before their statuses return (the block device answers in request order); a command's completion waits for all of them.";
        DEV_ALIGN        = 64, "Alignment of SRC_ADDR, LEN and DISK_ADDR of a DEVMEM element of a BLK_READ (the widest bus word).";
    }
}
