//! The frame checks: a transmitted frame parsed with etherparse and every field compared with
//! its command (Ethernet II and VLAN header, ARP reply, IPv4 and TCP headers with both
//! checksums, the payload of a data segment), and its bytes compared with the Rust model
//! (`frame_with`), the docs table and etherparse.

use crate::*;

/// Parses a transmitted frame with etherparse and checks its length and the
/// Ethernet II / VLAN header against the command; `inner` is the EtherType
/// of the payload (after the tag, when there is one).
pub fn check_link<'a>(
    ctx: &str,
    f: &'a [u8],
    c: &TxCmd,
    inner: EtherType,
    pay: usize,
) -> PacketHeaders<'a> {
    assert_eq!(
        f.len(),
        frame_len(c) + pay,
        "{ctx}: frame length (no padding)"
    );
    let h = PacketHeaders::from_ethernet_slice(f).expect("etherparse parse");
    let Some(etherparse::LinkHeader::Ethernet2(eth)) = &h.link else {
        panic!("{ctx}: no Ethernet II header")
    };
    assert_eq!(eth.destination, c.dst_mac, "{ctx}: destination MAC");
    assert_eq!(eth.source, c.src_mac, "{ctx}: source MAC");
    match (h.vlan(), c.vlan) {
        (None, 0) => assert_eq!(eth.ether_type, inner, "{ctx}: EtherType"),
        (Some(VlanHeader::Single(v)), vlan) if vlan != 0 => {
            assert_eq!(eth.ether_type, EtherType::VLAN_TAGGED_FRAME, "{ctx}: TPID");
            assert_eq!(v.vlan_id.value(), vlan & 0x0FFF, "{ctx}: VLAN id");
            assert_eq!(v.pcp.value(), 0, "{ctx}: PCP");
            assert!(!v.drop_eligible_indicator, "{ctx}: DEI");
            assert_eq!(v.ether_type, inner, "{ctx}: inner EtherType");
        }
        (v, vlan) => panic!("{ctx}: VLAN header {v:?} for VLAN {vlan:#x}"),
    }
    h
}

/// Parses a transmitted ARP reply with etherparse and checks every field
/// against the command; then the bytes against the docs table and etherparse.
pub fn check_arp_frame(ctx: &str, f: &[u8], c: &TxCmd) {
    let h = check_link(ctx, f, c, EtherType::ARP, 0);
    let Some(NetHeaders::Arp(arp)) = &h.net else {
        panic!("{ctx}: not ARP")
    };
    assert_eq!(arp.hw_addr_type, ArpHardwareId::ETHERNET, "{ctx}: htype");
    assert_eq!(arp.proto_addr_type, EtherType::IPV4, "{ctx}: ptype");
    let a = arp.try_eth_ipv4().expect("Ethernet/IPv4 ARP");
    assert_eq!(a.operation, ArpOperation::REPLY, "{ctx}: operation");
    assert_eq!(a.sender_mac, c.src_mac, "{ctx}: sender MAC");
    assert_eq!(a.sender_ipv4, c.src_ip.octets(), "{ctx}: sender IP");
    assert_eq!(a.target_mac, c.dst_mac, "{ctx}: target MAC");
    assert_eq!(a.target_ipv4, c.dst_ip.octets(), "{ctx}: target IP");
    assert!(h.transport.is_none(), "{ctx}: transport header");
    assert!(
        h.payload.slice().is_empty(),
        "{ctx}: bytes after the ARP packet"
    );
    assert_eq!(f, &arp_table_frame(c)[..], "{ctx}: bytes vs the docs table");
    assert_eq!(
        f,
        &etherparse_arp_frame(c)[..],
        "{ctx}: bytes vs etherparse"
    );
}

/// Parses a transmitted frame with etherparse and checks every field against
/// the command and `payload` (empty for an ARP reply or a segment without data), and both
/// checksums against etherparse's calculation.
pub fn check_frame(ctx: &str, f: &[u8], c: &TxCmd, payload: &[u8]) {
    assert_eq!(
        f,
        &buflet_model::tx::frame_with(c, payload)[..],
        "{ctx}: bytes vs the Rust model"
    );
    if is_arp(c) {
        assert!(payload.is_empty(), "{ctx}: an ARP reply has no payload");
        return check_arp_frame(ctx, f, c);
    }
    let h = check_link(ctx, f, c, EtherType::IPV4, payload.len());
    let Some(NetHeaders::Ipv4(ip, _)) = &h.net else {
        panic!("{ctx}: not IPv4")
    };
    assert_eq!(ip.header_len(), 20, "{ctx}: IHL");
    assert_eq!(ip.dscp.value(), 0, "{ctx}: DSCP");
    assert_eq!(ip.ecn.value(), 0, "{ctx}: ECN");
    let tcp_len = 20 + option_bytes(c).len();
    assert_eq!(
        usize::from(ip.total_len),
        20 + tcp_len + payload.len(),
        "{ctx}: total length"
    );
    assert_eq!(ip.identification, 0, "{ctx}: ID");
    assert!(ip.dont_fragment, "{ctx}: DF");
    assert!(!ip.more_fragments, "{ctx}: MF");
    assert_eq!(ip.fragment_offset.value(), 0, "{ctx}: fragment offset");
    assert_eq!(u64::from(ip.time_to_live), param::IP_TTL, "{ctx}: TTL");
    assert_eq!(ip.protocol, IpNumber::TCP, "{ctx}: protocol");
    assert_eq!(ip.source, c.src_ip.octets(), "{ctx}: source IP");
    assert_eq!(ip.destination, c.dst_ip.octets(), "{ctx}: destination IP");
    assert_eq!(
        ip.header_checksum,
        ip.calc_header_checksum(),
        "{ctx}: IPv4 header checksum"
    );
    let Some(TransportHeader::Tcp(tcp)) = &h.transport else {
        panic!("{ctx}: not TCP")
    };
    assert_eq!(tcp.source_port, c.src_port, "{ctx}: source port");
    assert_eq!(tcp.destination_port, c.dst_port, "{ctx}: destination port");
    assert_eq!(tcp.sequence_number, c.seq, "{ctx}: SEQ");
    assert_eq!(tcp.acknowledgment_number, c.ack, "{ctx}: ACK");
    assert_eq!(tcp.header_len(), tcp_len, "{ctx}: data offset");
    assert_eq!(
        f[frame_len(c) - tcp_len + 13],
        c.flags.bits(),
        "{ctx}: flags byte"
    );
    let want = tcp_header(c);
    assert_eq!(
        (tcp.fin, tcp.syn, tcp.rst, tcp.psh, tcp.ack, tcp.urg, tcp.ece, tcp.cwr, tcp.ns),
        (want.fin, want.syn, want.rst, want.psh, want.ack, want.urg, want.ece, want.cwr, false),
        "{ctx}: flags"
    );
    assert_eq!(tcp.window_size, c.window, "{ctx}: window");
    assert_eq!(tcp.urgent_pointer, 0, "{ctx}: urgent pointer");
    assert_eq!(
        tcp.options.as_slice(),
        &option_bytes(c)[..],
        "{ctx}: options"
    );
    assert_eq!(h.payload.slice(), payload, "{ctx}: payload");
    assert_eq!(
        tcp.checksum,
        tcp.calc_checksum_ipv4(ip, payload).expect("tcp checksum"),
        "{ctx}: TCP checksum"
    );
    assert_eq!(
        f,
        &etherparse_frame(c, payload)[..],
        "{ctx}: bytes vs etherparse"
    );
}
