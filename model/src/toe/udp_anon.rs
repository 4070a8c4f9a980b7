//! The paths of docs/rx-paths.md that are neither lookup nor TCP (rtl/toe_udp_anon.v): the ARP
//! answer, a UDP socket's datagram receive, and the anonymous buffers (`ANON_POST` slots, the
//! anonymous list, the anonymous delivery and its `ANON_RX`).

use buflet_platform::{Agent, HostEnv};
use buflet_spec::{op, reg, CplFlags, CplKind, Status, TxCmd, TxKind};

use super::{Seg, PAGE, UDP_HDR};
use crate::buflets::Chain;
use crate::parse::Parsed;
use crate::{costs, dma_write, prot, Cpl, Meta, ModelDevice};

/// A posted anonymous buffer (`anon_desc`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Anon {
    pub(super) tag: u32,
    pub(super) len: u32,
    pub(super) addr: u64,
}

impl ModelDevice {
    /// A datagram for UDP socket `s` (found by the lookup at `base`). Returns the done cycle.
    pub(super) fn udp_frame(&mut self, m: &Meta, s: u16, base: u64) -> u64 {
        let p = m.p;
        // rx-paths.md, UDP "Receive": the whole datagram (header and payload) is one
        // segment; no ACK, no window, no reassembly.
        let seg = Seg {
            chain: m.chain,
            data_off: p.pay_off - UDP_HDR as u16,
            data_len: p.pay_len + UDP_HDR as u16,
            seq: 0,
            flags: 0,
        };
        self.toe.socks[s as usize].segs.push_back(seg);
        self.toe.wake_grown(s);
        self.regs.count(reg::CNT_RX_ACCEPTED, 1);
        // kept without an ACK: the frame ends in S_SA0 (costs::FIN_STEP)
        base + costs::LIST_STEP - costs::FIN_STEP
    }

    /// The ARP responder (rx-paths.md): answer an ARP request for NIC_IP with a `KIND = ARP`
    /// tx command and consume the frame. Returns the done time. Only metadata is needed, so a
    /// request is answered even when the pool could not store it.
    pub(super) fn arp_answer(&mut self, p: &Parsed, chain: Chain, base: u64) -> u64 {
        let cmd = TxCmd {
            kind: TxKind::Arp.code(),
            dst_mac: p.arp_sha,
            src_mac: self.regs.nic_mac(),
            vlan: p.vlan,
            src_ip: self.regs.nic_ip.into(),
            dst_ip: p.src_ip.into(),
            ..TxCmd::default()
        };
        self.pool.free_chain(chain);
        self.regs.count(reg::CNT_ARP_REPLIES, 1);
        self.tx.push(&self.cfg, base, &cmd) + costs::ENGINE_TX
    }

    /// A frame for the anonymous path (`NO_SOCKET`, or `NOT_IPV4` not taken by the ARP
    /// responder): written from its first byte into the head anonymous buffer, which is
    /// returned with `ANON_RX`; with the anonymous list empty, dropped under `reason`.
    /// Returns the done time (the writes and the completion are one engine event).
    pub(super) fn anon_or_drop(
        &mut self,
        env: &mut HostEnv,
        m: &Meta,
        reason: u64,
        base: u64,
    ) -> u64 {
        // A frame the pool could not store whole is never passed up (rx-paths.md: "frames
        // failing a check (... no buflet) are never passed up"); it keeps its reason.
        let Some(rn) = self.toe.anon_q.front().copied().filter(|_| m.whole) else {
            self.drop_frame(m.chain, reason);
            return base;
        };
        self.toe.anon_q.pop_front();
        let a = self.toe.anon[rn as usize]
            .take()
            .expect("posted anonymous buffer");
        let len = m.p.len as u32;
        let mut t = base + costs::ANON_DELIVERY;
        if !self.check(a.addr, a.len as u64, true, prot::rid::WR_TOE) {
            // Refused before any write: the buffer is returned empty, the frame is dropped
            // under its own reason.
            self.drop_frame(m.chain, reason);
            self.post_cpl(
                t,
                Cpl {
                    kind: CplKind::AnonRx,
                    status: Status::ProtFault,
                    tag: a.tag,
                    ref_num: rn,
                    opcode: op::ANON_POST as u8,
                    ..Cpl::default()
                },
            );
            return t;
        }
        let n = len.min(a.len) as usize;
        let mut buf = std::mem::take(&mut self.toe.scratch);
        let mut off = 0;
        while off < n {
            let k = (n - off).min(PAGE as usize);
            self.pool.read(m.chain.head, off, &mut buf[..k]);
            t = dma_write(
                &self.cfg,
                &mut self.wr_free,
                env,
                Agent::NicDma,
                t,
                a.addr.wrapping_add(off as u64),
                &buf[..k],
            );
            off += k;
        }
        self.toe.scratch = buf;
        self.pool.free_chain(m.chain);
        self.regs.count(reg::CNT_ANON_RX, 1);
        self.post_cpl(
            t,
            Cpl {
                kind: CplKind::AnonRx,
                status: Status::Ok,
                sock_ref: 0,
                tag: a.tag,
                ref_num: rn,
                bytes: n as u32,
                flags: if (n as u32) < len {
                    CplFlags::TRUNC
                } else {
                    CplFlags::empty()
                },
                opcode: op::ANON_POST as u8,
                ..Cpl::default()
            },
        );
        t
    }
}
