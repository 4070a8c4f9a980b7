//! Directed tests at 64 and 512 bits: hand-written ARP replies compared with the docs table
//! between TCP segments, and the latency of one command at a time (3 cycles to the first word,
//! then one word per cycle).

use crate::*;

/// Hand-written ARP replies (untagged, tagged, VLAN with PCP bits, all-ones
/// and all-zero addresses) whose bytes are written out here from the docs
/// table, sent under heavy backpressure with idle cycles, between TCP segments.
pub fn arp_table(prefix: &str, kw: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = TxCmd {
        dst_mac: [0x02, 0x11, 0x22, 0x33, 0x44, 0x55],
        src_mac: [0x0A, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF],
        kind: TxKind::Arp.code(),
        src_ip: Ipv4Addr::new(10, 0, 0, 1),
        dst_ip: Ipv4Addr::new(192, 168, 1, 2),
        ..Default::default()
    };
    #[rustfmt::skip]
    let want_untagged: Vec<u8> = vec![
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55,  0x0A, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
        0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
        0x0A, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,  10, 0, 0, 1,
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55,  192, 168, 1, 2,
    ];
    assert_eq!(want_untagged.len(), 42);
    assert_eq!(arp_table_frame(&base), want_untagged);
    let tagged = TxCmd {
        vlan: 0xE123, // PCP/DEI bits are not sent: TCI 0x0123
        ..base
    };
    let want_tagged: Vec<u8> = [
        &want_untagged[..12],
        &[0x81, 0x00, 0x01, 0x23],
        &want_untagged[12..],
    ]
    .concat();
    assert_eq!(arp_table_frame(&tagged), want_tagged);
    let mut cmds = vec![
        base,
        tagged,
        TxCmd {
            dst_mac: [0xFF; 6],
            src_mac: [0xFF; 6],
            src_ip: Ipv4Addr::BROADCAST,
            dst_ip: Ipv4Addr::BROADCAST,
            vlan: 0x0FFF,
            ..base
        },
        TxCmd {
            dst_mac: [0; 6],
            src_mac: [0; 6],
            src_ip: Ipv4Addr::UNSPECIFIED,
            dst_ip: Ipv4Addr::UNSPECIFIED,
            ..base
        },
        // TCP fields set: ignored by an ARP command
        TxCmd {
            src_port: 0xFFFF,
            dst_port: 0xFFFF,
            seq: u32::MAX,
            ack: u32::MAX,
            window: 0xFFFF,
            flags: TcpFlags::from_bits_retain(0xFF),
            opts: TxOpts::from_bits_retain(0xFF),
            mss: 0xFFFF,
            wscale: 0xFF,
            vlan: 7,
            ..base
        },
    ];
    // interleaved with TCP segments
    for i in 0..40 {
        let mut c = random_cmd(&mut rng);
        if i % 2 == 0 {
            c.kind = TxKind::Arp.code();
        } else {
            c.kind = TxKind::Tcp.code();
        }
        cmds.push(c);
    }
    cmds.push(base);
    let items: Vec<Item> = cmds.into_iter().map(|c| (c, Vec::new())).collect();
    let st = run_cmds(prefix, kw, seed, &items, 0.3, 0.6);
    assert_eq!(st.arp, 26, "{prefix}: ARP replies");
}

pub fn tx_builder_w64_arp_table() {
    arp_table("tx_builder_w64", 8, 5);
}

pub fn tx_builder_w512_arp_table() {
    arp_table("tx_builder_w512", 64, 6);
}

/// One command at a time, MAC always ready: the first word of an ARP reply,
/// like that of a TCP segment, leaves 3 cycles after the command's handshake,
/// and the frame then takes one cycle per word (the model's tx_builder timing).
pub fn latency(prefix: &str, kw: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut m = Model::new(prefix).expect("model built (sim/models.txt)");
    let p = ports::TxBuilder::bind(&m).expect("ports");
    buflet_testbench::rtl_check::reset(&mut m, p.clk, p.rst, 3);
    m.set(p.m_axis_tx_tready, 1);
    let mut word = vec![0u8; kw];
    for i in 0..40 {
        let mut c = random_cmd(&mut rng);
        c.kind = if i % 2 == 0 {
            TxKind::Arp.code()
        } else {
            TxKind::Tcp.code()
        };
        m.set(p.s_cmd_valid, 1);
        m.set_bytes(p.s_cmd_data, &entry_bytes(&c, &mut rng));
        m.eval();
        assert_eq!(m.get(p.s_cmd_ready), 1, "{prefix}: command {i} not taken");
        assert_eq!(m.get(p.m_axis_tx_tvalid), 0);
        m.tick(p.clk);
        m.set(p.s_cmd_valid, 0);
        let mut t = 0;
        let mut f = Vec::new();
        loop {
            t += 1;
            m.eval();
            if m.get(p.m_axis_tx_tvalid) == 1 {
                m.get_bytes(p.m_axis_tx_tdata, &mut word);
                let nb = m.get(p.m_axis_tx_tkeep).count_ones() as usize;
                if f.is_empty() {
                    assert_eq!(t, 3, "{prefix}: command {i}: first word latency");
                }
                f.extend_from_slice(&word[..nb]);
                if m.get(p.m_axis_tx_tlast) == 1 {
                    assert_eq!(m.get(p.ev_tx_frame), 1);
                    assert_eq!(m.get(p.ev_tx_bytes) as usize, f.len());
                    m.tick(p.clk);
                    break;
                }
            } else {
                assert!(f.is_empty(), "{prefix}: command {i}: bubble in the frame");
            }
            assert!(t < 20, "{prefix}: command {i}: no frame");
            m.tick(p.clk);
        }
        assert_eq!(
            t - 2,
            frame_len(&c).div_ceil(kw),
            "{prefix}: command {i}: one word per cycle"
        );
        check_frame(&format!("{prefix}: command {i}"), &f, &c, &[]);
    }
}

pub fn tx_builder_w64_latency() {
    latency("tx_builder_w64", 8, 7);
}

pub fn tx_builder_w512_latency() {
    latency("tx_builder_w512", 64, 8);
}
