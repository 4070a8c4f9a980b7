//! Every in-memory layout the RTL, the model and the driver share: ring entries,
//! descriptors, completions, scatter-gather elements and NIC-internal records. Each becomes a
//! module of `(offset, bytes)` constants (rendered into `rtl/buflet_defs.vh` and
//! `docs/regmap.md`) and a typed struct with `parse` and `emit` (see `wire.rs`).

use crate::consts::*;
use crate::wire::layouts;
use crate::{Field, Layout};
use std::net::Ipv4Addr;

layouts! {
    req_hdr (ReqHdr) size 64, "Common header of every 64-byte request ring entry." => {
        OPCODE opcode @ 0: u8, "Request opcode (see `op`).";
        FLAGS flags @ 1: u8, "Opcode-specific flags.";
        SOCK_REF sock_ref @ 2: u16, "Socket reference number the request applies to.";
        TAG tag @ 4: u32, "Driver cookie echoed in the completion.";
    }
    sock_desc (SockDesc) size 64, "Socket descriptor (seed 001), host part. Posted by OP_SOCK_ADD as the whole request entry; the NIC keeps it unchanged in its socket table beside the NIC-owned `sock_ctx`." => {
        OPCODE opcode @ 0: Opcode, "OP_SOCK_ADD.";
        FLAGS flags @ 1: SockFlags, "`sock_flag` bits.";
        SOCK_REF sock_ref @ 2: u16, "Socket reference number (index of the socket table slot).";
        TAG tag @ 4: u32, "Driver cookie.";
        LOCAL_MAC local_mac @ 8: [u8; 6], "Our MAC: destination of received frames, source of transmitted ones. Byte k = wire byte k.";
        REMOTE_MAC remote_mac @ 14: [u8; 6], "The peer's MAC: destination of transmitted frames. Byte k = wire byte k.";
        VLAN vlan @ 20: u16, "VLAN id (0 = untagged).";
        PROTO proto @ 22: u8, "IP protocol: 6 = TCP.";
        LISTEN_SLOT listen_slot @ 23: u8, "NIC-set on an accepted socket (flag ACCEPTED): its listen slot. 0 in SOCK_ADD.";
        LOCAL_IP local_ip @ 24: Ipv4Addr, "Destination IPv4 address of received frames (ours).";
        REMOTE_IP remote_ip @ 28: Ipv4Addr, "Source IPv4 address of received frames (the peer's).";
        LOCAL_PORT local_port @ 32: u16, "Destination port of received frames (ours).";
        REMOTE_PORT remote_port @ 34: u16, "Source port of received frames (the peer's).";
        ISS iss @ 36: u32, "Our initial send sequence number (the SYN-ACK's SEQ).";
        RCV_BUF rcv_buf @ 40: u32, "Receive buffer in bytes: bound of accepted-but-undelivered data, and so of the advertised window (1..2^30).";
        MSS mss @ 44: u16, "MSS option value sent in the SYN-ACK.";
        RCV_WSCALE rcv_wscale @ 46: u8, "Our window scale shift (0..14), offered in the SYN-ACK when the SYN carried the option.";
        RSVD1 rsvd1 @ 47: u8, "Reserved, 0.";
    }
    sock_ctx (SockCtx) size 40, "NIC-owned socket state, kept beside each `sock_desc` in the socket table." => {
        STATE state @ 0: SockState, "Connection state (see `sock_state`).";
        WS_OK ws_ok @ 1: u8, "1 when the SYN carried window scale: advertised windows are shifted by RCV_WSCALE.";
        NEXT_SOCK next_sock @ 2: u16, "Next socket on the hash chain (0xFFFF = none).";
        NB_HEAD nb_head @ 4: u16, "Named buffer list head (0xFFFF = none).";
        NB_TAIL nb_tail @ 6: u16, "Named buffer list tail (0xFFFF = none).";
        SEG_HEAD seg_head @ 8: u16, "In-order segment list head buflet (0xFFFF = none).";
        SEG_TAIL seg_tail @ 10: u16, "In-order segment list tail buflet (0xFFFF = none).";
        OOO_HEAD ooo_head @ 12: u16, "Reassembly list head: out-of-order segments sorted by SEQ (0xFFFF = none).";
        ACT_NEXT act_next @ 14: u16, "Next socket on the active list (0xFFFF = none); the timer sweep walks it.";
        RCV_NXT rcv_nxt @ 16: u32, "Next expected sequence number.";
        IRS irs @ 20: u32, "The peer's initial sequence number (SEQ of its SYN).";
        STREAM_OFF stream_off @ 24: u64, "Stream offset of the next byte to deliver (bytes since the SYN).";
        RCV_WND_EDGE rcv_wnd_edge @ 32: u32, "Right edge of the window last advertised (RCV_NXT + scaled window of the last ACK or SYN-ACK); it never moves left.";
        RCV_ACKED rcv_acked @ 36: u32, "RCV_NXT as the last frame this socket sent carrying ACK had it (an ACK, a SYN-ACK, a data segment, RST | ACK): RCV_NXT - RCV_ACKED are the bytes received and not yet acknowledged, owed by a delayed ACK (sock_flag DELAYED_ACK, docs/tcp-receive.md).";
    }
    listen_desc (ListenDesc) size 64, "OP_SOCK_LISTEN request: a listening slot and the template of the sockets it accepts. Laid out as `sock_desc` (the NIC copies it into the accepted socket's slot and fills in the peer's MAC, IP and port, the ISS, SOCK_REF, LISTEN_SLOT and flag ACCEPTED); the remote fields are ignored (docs/tcp-receive.md, Listening sockets)." => {
        OPCODE opcode @ 0: Opcode, "OP_SOCK_LISTEN.";
        FLAGS flags @ 1: SockFlags, "`sock_flag` bits of every accepted socket: PSH_RETURN and HOLD only.";
        SLOT slot @ 2: u16, "Listen slot (< NUM_LISTEN).";
        TAG tag @ 4: u32, "Driver cookie, echoed by the CMD_DONE and by every ACCEPT of this slot.";
        LOCAL_MAC local_mac @ 8: [u8; 6], "Our MAC: source of the accepted sockets' frames.";
        RSVD0 rsvd0 @ 14: [u8; 6], "Ignored (the peer's MAC comes from its SYN).";
        VLAN vlan @ 20: u16, "VLAN id (0 = untagged) a SYN must carry.";
        PROTO proto @ 22: u8, "IP protocol: 6 = TCP.";
        RSVD1 rsvd1 @ 23: u8, "Ignored (the NIC writes LISTEN_SLOT here).";
        LOCAL_IP local_ip @ 24: Ipv4Addr, "Destination IPv4 address a SYN must carry (ours).";
        RSVD2 rsvd2 @ 28: u32, "Ignored (the peer's IPv4 address comes from its SYN).";
        LOCAL_PORT local_port @ 32: u16, "Destination port a SYN must carry (ours).";
        RSVD3 rsvd3 @ 34: u16, "Ignored (the peer's port comes from its SYN).";
        ISS iss @ 36: u32, "ISS base: an accepted socket's ISS is ISS + the 32-bit folded hash of its 4-tuple (x of the lookup hash before the bucket mask), so connections of one slot start apart.";
        RCV_BUF rcv_buf @ 40: u32, "Receive buffer of every accepted socket (1..2^30).";
        MSS mss @ 44: u16, "MSS option value sent in the SYN-ACK.";
        RCV_WSCALE rcv_wscale @ 46: u8, "Our window scale shift (0..14).";
        RSVD4 rsvd4 @ 47: u8, "Reserved, 0.";
    }
    nb_desc (NbDesc) size 64, "Named buffer descriptor (seed 001). Posted by OP_NB_POST as the whole request entry; the NIC keeps it in its NB table." => {
        OPCODE opcode @ 0: Opcode, "OP_NB_POST.";
        FLAGS flags @ 1: u8, "Reserved, 0.";
        SOCK_REF sock_ref @ 2: u16, "Socket the buffer is designated to.";
        TAG tag @ 4: u32, "Driver cookie, echoed by the NB_RETURN completion.";
        REF_NUM ref_num @ 8: u32, "Named buffer reference number (NB table slot, < NUM_NBS).";
        TIMEOUT timeout @ 12: u32, "Timer ticks before a partly filled buffer is returned (0 = never).";
        TOTAL_BYTES total_bytes @ 16: u32, "Capacity in bytes (threshold at which the buffer is returned).";
        UDP_HDR_BYTES udp_hdr_bytes @ 20: u16, "NIC-owned: UDP header bytes written to the buffer.";
        NEXT_NB next_nb @ 22: u16, "NIC-owned: next NB of the socket (0xFFFF = none).";
        PREV_NB prev_nb @ 24: u16, "NIC-owned: previous NB of the socket (0xFFFF = none).";
        RECS recs @ 26: u16, "NIC-owned: hold records written so far (socket flag HOLD, docs/p2p.md).";
        FILLED filled @ 28: u32, "NIC-owned: bytes written so far.";
        HMD_ADDR hmd_addr @ 32: u64, "Host memory descriptor: address of an array of u64 host page addresses.";
        HMD_PAGES hmd_pages @ 40: u32, "Number of pages in the host memory descriptor; TOTAL_BYTES <= HMD_PAGES * PAGE_BYTES.";
        STREAM_OFF stream_off @ 48: u64, "NIC-owned: stream offset of the buffer's first byte.";
        TICKS_LEFT ticks_left @ 56: u32, "NIC-owned: timer ticks left before the buffer is returned (set from TIMEOUT).";
    }
    blk_req (BlkReq) size 64, "OP_BLK_WRITE / OP_BLK_READ request: move whole blocks between the block device and host memory along a linked scatter-gather list (seed 000)." => {
        OPCODE opcode @ 0: Opcode, "OP_BLK_WRITE or OP_BLK_READ.";
        FLAGS flags @ 1: u8, "Reserved, 0.";
        SOCK_REF sock_ref @ 2: u16, "Unused, 0.";
        TAG tag @ 4: u32, "Driver cookie.";
        SG_ADDR sg_addr @ 8: u64, "Host address of the first scatter-gather element.";
        SG_MAX sg_max @ 16: u32, "Upper bound on elements to follow (loop guard).";
        BYTES bytes @ 20: u32, "Total bytes described; must be a multiple of BLOCK_BYTES.";
    }
    region_desc (RegionDesc) size 64, "OP_REG_REGION / OP_DEREG_REGION request: a host region the device may access (seed 004)." => {
        OPCODE opcode @ 0: Opcode, "OP_REG_REGION or OP_DEREG_REGION.";
        FLAGS flags @ 1: RegionPerm, "`region_perm` bits (REG_REGION).";
        SOCK_REF sock_ref @ 2: u16, "Unused, 0.";
        TAG tag @ 4: u32, "Driver cookie, echoed by CMD_DONE.";
        SLOT slot @ 8: u32, "Protection table slot (< NUM_REGIONS).";
        RSVD0 rsvd0 @ 12: u32, "Reserved, 0.";
        BASE base @ 16: u64, "First host byte of the region.";
        LEN len @ 24: u64, "Bytes in the region (REG_REGION).";
    }
    anon_desc (AnonDesc) size 64, "OP_ANON_POST request: an anonymous buffer (seed 001) for frames that match no socket." => {
        OPCODE opcode @ 0: Opcode, "OP_ANON_POST.";
        FLAGS flags @ 1: u8, "Reserved, 0.";
        SOCK_REF sock_ref @ 2: u16, "Unused, 0.";
        TAG tag @ 4: u32, "Driver cookie, echoed by the ANON_RX completion.";
        REF_NUM ref_num @ 8: u32, "Anonymous buffer slot (< NUM_ANON).";
        LEN len @ 12: u32, "Capacity in bytes (ANON_MIN_LEN..=ANON_MAX_LEN).";
        ADDR addr @ 16: u64, "Host address of the buffer (contiguous, registered).";
    }
    sg_elem (SgElem) size 32, "Scatter-gather element (seed 000): source in host memory, destination on disk, link." => {
        SRC_ADDR src_addr @ 0: u64, "Host address of the data (source of a write, destination of a read).";
        LEN len @ 8: u32, "Bytes in this element (1..=BLOCK_BYTES*16).";
        FLAGS flags @ 12: SgFlags, "`sg_flag` bits. ZERO: on a write, write zeros (SRC_ADDR is not read); on a read, discard these bytes (SRC_ADDR is not written). DEVMEM: on a write, SRC_ADDR is a buflet-memory address (docs/p2p.md).";
        DISK_ADDR disk_addr @ 16: u64, "Destination byte address on disk (LBA*512); consecutive with the previous element inside a block.";
        NEXT next @ 24: u64, "Host address of the next element, 0 = last.";
    }
    hold_rec (HoldRec) size 8, "Hold record (p2p, docs/p2p.md): one delivered chunk of a HOLD socket, left in buflet memory. Written by the device into the named buffer's pages, record r at page-list position 8r." => {
        BUFLET buflet @ 0: u16, "Buflet holding the chunk.";
        OFF off @ 2: u16, "Byte offset of the chunk's first byte inside that buflet.";
        LEN len @ 4: u16, "Payload bytes in the chunk (1..BUFLET_BYTES); the chunk never crosses a buflet.";
        HEAD head @ 6: u16, "First buflet of the segment's chain when this chunk emptied the segment: the chain is now held for the driver, which frees it with BUF_RELEASE. 0xFFFF otherwise.";
    }
    buf_release (BufRelease) size 64, "OP_BUF_RELEASE request: give held buflet chains back to the free list (p2p, docs/p2p.md)." => {
        OPCODE opcode @ 0: Opcode, "OP_BUF_RELEASE.";
        FLAGS flags @ 1: u8, "Reserved, 0.";
        SOCK_REF sock_ref @ 2: u16, "Unused, 0.";
        TAG tag @ 4: u32, "Driver cookie, echoed by CMD_DONE.";
        COUNT count @ 8: u16, "Chains to release (1..=RELEASE_MAX).";
        RSVD0 rsvd0 @ 10: [u8; 6], "Reserved, 0.";
        HEADS heads @ 16: [u16; 24], "Chain heads (hold_rec HEAD values); the first COUNT are used.";
    }
    tx_desc (TxDesc) size 64, "OP_TX_POST request: a buffer handed to the NIC by reference, appended to the socket's send queue (docs/tcp-transmit.md). The NIC owns it until a TX_DONE covers it." => {
        OPCODE opcode @ 0: Opcode, "OP_TX_POST.";
        FLAGS flags @ 1: TxFlags, "`tx_flag` bits.";
        SOCK_REF sock_ref @ 2: u16, "Socket whose send queue the buffer joins.";
        TAG tag @ 4: u32, "Driver cookie, echoed by the TX_DONE that covers the post.";
        LEN len @ 8: u32, "Bytes to send (1..2^30).";
        FIRST_OFF first_off @ 12: u16, "Offset of the first byte in the first page (< PAGE_BYTES).";
        RSVD0 rsvd0 @ 14: u16, "Reserved, 0.";
        HMD_ADDR hmd_addr @ 16: u64, "Address of the page list: u64 page addresses (host pages, or buflet-memory addresses with DEVMEM).";
        HMD_PAGES hmd_pages @ 24: u32, "Pages in the list; FIRST_OFF + LEN <= HMD_PAGES * PAGE_BYTES.";
        RSVD1 rsvd1 @ 28: u32, "Reserved, 0.";
        SND_OFF snd_off @ 32: u64, "NIC-owned: offset of the post's first byte in the socket's send stream.";
        NEXT_POST next_post @ 40: u16, "NIC-owned: next post of the socket (0xFFFF = none).";
        RSVD2 rsvd2 @ 42: [u8; 22], "Reserved, 0.";
    }
    snd_ctx (SndCtx) size 128, "NIC-owned send state of a TCP socket, beside `sock_ctx` (docs/tcp-transmit.md). Positions in the send stream are 64-bit offsets from ISS + 1 (a segment's SEQ is ISS + 1 + offset modulo 2^32); times are timer ticks." => {
        UNA una @ 0: u64, "SND.UNA: oldest unacknowledged offset.";
        NXT nxt @ 8: u64, "SND.NXT: next offset to send.";
        MAX max @ 16: u64, "SND.MAX: highest offset sent plus one (our FIN counts one).";
        END end @ 24: u64, "Offset past the last post's last byte (our FIN takes this offset).";
        RECOVER recover @ 32: u64, "SND.MAX when fast recovery began (RFC 6582).";
        RTT_UNTIL rtt_until @ 40: u64, "Offset whose acknowledgment ends the RTT sample in progress.";
        WND wnd @ 48: u32, "The peer's window in bytes (scaled).";
        WL1 wl1 @ 52: u32, "SEQ of the segment that last updated WND (SND.WL1).";
        WL2 wl2 @ 56: u32, "ACK of the segment that last updated WND (SND.WL2).";
        CWND cwnd @ 60: u32, "Congestion window in bytes (saturates at 2^32 - 1).";
        SSTHRESH ssthresh @ 64: u32, "Slow-start threshold in bytes (2^32 - 1 = none yet).";
        SRTT srtt @ 68: u32, "Smoothed RTT, ticks * 8 (RFC 6298; 0 = no sample yet).";
        RTTVAR rttvar @ 72: u32, "RTT variation, ticks * 4.";
        RTO rto @ 76: u32, "Retransmission timeout in ticks, backoff included.";
        TIMER timer @ 80: u32, "Ticks left to the retransmission, persist or SYN deadline (0 = stopped).";
        BACKOFF backoff @ 84: u32, "Timeouts (or unanswered probes) in a row.";
        RTT_TICKS rtt_ticks @ 88: u32, "Ticks since the RTT sample began (saturating).";
        CLOSE_TAG close_tag @ 92: u32, "Tag of the SOCK_CLOSE waiting for our FIN's acknowledgment.";
        CONNECT_TAG connect_tag @ 96: u32, "Tag of the SOCK_ADD (CONNECT) waiting for the handshake.";
        NXT_POFF nxt_poff @ 100: u32, "Offset of NXT inside the post NXT_POST.";
        MSS mss @ 104: u16, "The peer's MSS (its SYN's option, else DEF_PEER_MSS), clamped to ours.";
        POST_HEAD post_head @ 106: u16, "Oldest post not wholly acknowledged (0xFFFF = none).";
        POST_TAIL post_tail @ 108: u16, "Newest post (0xFFFF = none).";
        NXT_POST nxt_post @ 110: u16, "The post holding offset NXT (0xFFFF = NXT is at END).";
        WSCALE wscale @ 112: u8, "The peer's window scale shift (0 without WS_OK).";
        DUPACKS dupacks @ 113: u8, "Duplicate ACKs in a row (saturating).";
        SFLAGS sflags @ 114: u16, "`snd_flag` bits.";
        ABC abc @ 116: u32, "Bytes acknowledged in congestion avoidance since CWND last grew (RFC 3465).";
        HEAD_END head_end @ 120: u64, "Offset past the last byte of the post POST_HEAD (its completion is due once UNA reaches it).";
    }
    cpl (Cpl) size 32, "Completion ring entry, written by the device in one 32-byte DMA write." => {
        KIND kind @ 0: CplKind, "Completion kind (see `cpl_kind`).";
        STATUS status @ 1: Status, "0 = OK, else a `status` code.";
        SOCK_REF sock_ref @ 2: u16, "Socket the completion concerns.";
        TAG tag @ 4: u32, "Tag of the request it completes.";
        REF_NUM ref_num @ 8: u32, "Named buffer reference number (NB_RETURN); posts covered (TX_DONE).";
        BYTES bytes @ 12: u32, "Bytes filled (NB_RETURN), written to disk (BLK_DONE), chains released (BUF_RELEASE) or acknowledged bytes of the posts covered (TX_DONE).";
        FLAGS flags @ 16: CplFlags, "`cpl_flag` bits: why a buffer was returned.";
        OPCODE opcode @ 20: u8, "Opcode of the request completed.";
        HDR_BYTES hdr_bytes @ 21: u8, "UDP header bytes at the start of the buffer (NB_RETURN of a UDP datagram).";
        PHASE phase @ 23: u8, "Phase: 1 on the ring's first pass, toggling on every wrap.";
        STREAM_OFF stream_off @ 24: u64, "Stream offset of the buffer's first byte (NB_RETURN).";
    }
    buflet_hdr (BufletHdr) size 16, "Segment buflet header (seed 001), kept per buflet in the NIC's header table." => {
        NEXT_BUFLET next_buflet @ 0: u16, "Next buflet of this segment (0xFFFF = none).";
        DATA_OFF data_off @ 2: u16, "Byte offset of the first undelivered data byte, from the start of the frame.";
        DATA_LEN data_len @ 4: u16, "Undelivered data bytes in the segment.";
        MAC_OFF mac_off @ 6: u8, "Offset of the MAC header (0).";
        IP_OFF ip_off @ 7: u8, "Offset of the IPv4 header (14, or 18 with a VLAN tag).";
        L4_OFF l4_off @ 8: u8, "Offset of the TCP/UDP header.";
        FLAGS flags @ 9: TcpFlags, "TCP flags of the segment.";
        NEXT_SEG next_seg @ 10: u16, "First buflet of the next segment of the socket (0xFFFF = none).";
        SEQ seq @ 12: u32, "Sequence number of the first data byte.";
    }
    tx_cmd (TxCmd) size 48, "Internal: one frame for tx_builder, snapshotted by toe_engine when it decides to send (ACK, SYN-ACK)." => {
        DST_MAC dst_mac @ 0: [u8; 6], "Destination MAC (socket REMOTE_MAC).";
        SRC_MAC src_mac @ 6: [u8; 6], "Source MAC (socket LOCAL_MAC).";
        VLAN vlan @ 12: u16, "VLAN id; 0 = untagged, else an 802.1Q tag with PCP 0, DEI 0.";
        KIND kind @ 14: u8, "`tx_kind`: TCP segment or ARP reply.";
        RSVD rsvd @ 15: u8, "Reserved, 0.";
        SRC_IP src_ip @ 16: Ipv4Addr, "Source IPv4 (socket LOCAL_IP).";
        DST_IP dst_ip @ 20: Ipv4Addr, "Destination IPv4 (socket REMOTE_IP).";
        SRC_PORT src_port @ 24: u16, "Source port (socket LOCAL_PORT).";
        DST_PORT dst_port @ 26: u16, "Destination port (socket REMOTE_PORT).";
        SEQ seq @ 28: u32, "TCP sequence number.";
        ACK ack @ 32: u32, "TCP acknowledgment number.";
        WINDOW window @ 36: u16, "TCP window field (already scaled).";
        FLAGS flags @ 38: TcpFlags, "TCP flags (`tcp_flag`).";
        OPTS opts @ 39: TxOpts, "`tx_opt` bits: options to append.";
        MSS mss @ 40: u16, "MSS option value.";
        WSCALE wscale @ 42: u8, "Window scale option shift.";
        RSVD2 rsvd2 @ 43: u8, "Reserved, 0.";
        PAY_LEN pay_len @ 44: u16, "Payload bytes that follow the header (data segments; 0 for ACK, SYN, FIN, RST, ARP).";
        PAY_SUM pay_sum @ 46: u16, "One's-complement sum of the payload as big-endian 16-bit words (an odd last byte padded with 0), folded to 16 bits, not complemented; set by tx_data, 0 from the engine.";
    }
}
