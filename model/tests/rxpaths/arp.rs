//! The ARP responder (docs/rx-paths.md): which requests are answered, and the reply frames,
//! parsed with etherparse.

use super::*;

/// A transmitted ARP reply, parsed with etherparse.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    len: usize,
    eth_dst: [u8; 6],
    eth_src: [u8; 6],
    vlan: Option<u16>,
    sender_mac: [u8; 6],
    sender_ip: [u8; 4],
    target_mac: [u8; 6],
    target_ip: [u8; 4],
}

fn parse_reply(f: &[u8]) -> Reply {
    let h = PacketHeaders::from_ethernet_slice(f).expect("reply parses");
    let Some(LinkHeader::Ethernet2(eth)) = h.link else {
        panic!("no Ethernet header")
    };
    let vlan = match h.link_exts.first() {
        Some(LinkExtHeader::Vlan(v)) => {
            assert_eq!(v.ether_type, EtherType::ARP);
            assert_eq!(v.pcp, etherparse::VlanPcp::ZERO);
            assert!(!v.drop_eligible_indicator);
            Some(v.vlan_id.value())
        }
        Some(_) => panic!("unexpected link extension"),
        None => {
            assert_eq!(eth.ether_type, EtherType::ARP);
            None
        }
    };
    let Some(NetHeaders::Arp(arp)) = h.net else {
        panic!("not ARP")
    };
    let a = arp.try_eth_ipv4().expect("Ethernet/IPv4 ARP");
    assert_eq!(a.operation, ArpOperation::REPLY);
    assert!(h.transport.is_none());
    assert_eq!(f.len(), 42 + 4 * vlan.is_some() as usize, "no padding");
    Reply {
        len: f.len(),
        eth_dst: eth.destination,
        eth_src: eth.source,
        vlan,
        sender_mac: a.sender_mac,
        sender_ip: a.sender_ipv4,
        target_mac: a.target_mac,
        target_ip: a.target_ipv4,
    }
}

#[test]
fn arp_responder() {
    let mut r = rig("arp", 64);
    // Registers read back (NIC_MAC_HI holds 16 bits).
    r.w(reg::NIC_MAC_HI, 0xABCD_5544);
    assert_eq!(r.r(reg::NIC_MAC_HI), 0x5544);
    set_nic(&mut r, NIC_MAC, LOCAL_IP);
    assert_eq!(r.r(reg::NIC_MAC_LO), 0x3322_1102);
    assert_eq!(r.r(reg::NIC_IP), 0x0A4D_0002);
    let anon = post_anon(&mut r, 5, 0, 256);
    let req =
        |vlan, sha, spa| arp_frame(vlan, OTHER_MAC, ArpOperation::REQUEST, sha, spa, LOCAL_IP);
    // Untagged, tagged, and tagged with Ethernet padding to 64 bytes.
    let mut padded = req(Some(4095), [7; 6], [192, 168, 1, 1]);
    padded.resize(64, 0xEE);
    for f in [
        req(None, REMOTE_MAC, REMOTE_IP),
        req(Some(5), [2, 9, 8, 7, 6, 5], [10, 77, 0, 50]),
        padded,
    ] {
        r.push(f);
    }
    r.settle();
    let mut out = vec![];
    while let Some(f) = r.wire.recv() {
        out.push(parse_reply(&f));
    }
    let reply = |len, dst: [u8; 6], vlan, ip: [u8; 4]| Reply {
        len,
        eth_dst: dst,
        eth_src: NIC_MAC,
        vlan,
        sender_mac: NIC_MAC,
        sender_ip: LOCAL_IP,
        target_mac: dst,
        target_ip: ip,
    };
    assert_eq!(
        out,
        vec![
            // The reply goes to the ARP sender hardware address, not the Ethernet source.
            reply(42, REMOTE_MAC, None, REMOTE_IP),
            reply(46, [2, 9, 8, 7, 6, 5], Some(5), [10, 77, 0, 50]),
            reply(46, [7; 6], Some(4095), [192, 168, 1, 1]),
        ]
    );
    assert_eq!(r.r(reg::CNT_ARP_REPLIES), 3);
    assert_eq!(r.r(reg::CNT_TX_FRAMES), 3);
    assert_eq!(r.r(reg::CNT_TX_BYTES), 42 + 46 + 46);
    assert!(
        drops(&mut r).iter().all(|&d| d == 0),
        "consumed, not dropped"
    );
    assert_eq!(r.r(reg::CNT_ANON_RX), 0);
    assert!(r.cpls().is_empty());
    r.assert_all_free();

    // Not answered: a request for another address (to the anonymous buffer), then with the
    // list empty a reply for NIC_IP, a request with protocol type IPv6, a truncated request.
    let other = arp_frame(
        None,
        OTHER_MAC,
        ArpOperation::REQUEST,
        OTHER_MAC,
        REMOTE_IP,
        [10, 77, 0, 3],
    );
    r.push(other.clone());
    r.push(arp_frame(
        None,
        OTHER_MAC,
        ArpOperation::REPLY,
        OTHER_MAC,
        REMOTE_IP,
        LOCAL_IP,
    ));
    let mut v6 = req(None, REMOTE_MAC, REMOTE_IP);
    v6[16..18].copy_from_slice(&[0x86, 0xDD]);
    r.push(v6);
    let mut short = req(None, REMOTE_MAC, REMOTE_IP);
    short.truncate(14 + 27);
    r.push(short);
    r.settle();
    assert_eq!(r.wait_cpls(1), vec![anon_rx(5, 0, 42, CplFlags::empty())]);
    assert_eq!(r.cpu_read(anon, 42), other);
    assert_eq!(r.r(reg::CNT_DROP_NOT_IPV4), 3);
    assert_eq!(r.wire.recv(), None);

    // NIC_IP 0 turns the responder off, even for a request for 0.0.0.0.
    r.w(reg::NIC_IP, 0);
    r.push(req(None, REMOTE_MAC, REMOTE_IP));
    r.push(arp_frame(
        None,
        OTHER_MAC,
        ArpOperation::REQUEST,
        OTHER_MAC,
        REMOTE_IP,
        [0; 4],
    ));
    r.settle();
    assert_eq!(r.wire.recv(), None);
    assert_eq!(r.r(reg::CNT_DROP_NOT_IPV4), 5);
    assert_eq!(r.r(reg::CNT_ARP_REPLIES), 3);
    // And back on.
    r.w(reg::NIC_IP, u32::from_be_bytes(LOCAL_IP));
    r.push(req(Some(1), REMOTE_MAC, REMOTE_IP));
    r.settle();
    let f = r.wire.recv().expect("answered again");
    assert_eq!(parse_reply(&f), reply(46, REMOTE_MAC, Some(1), REMOTE_IP));
    assert_eq!(r.r(reg::CNT_ARP_REPLIES), 4);
    r.assert_all_free();
}
