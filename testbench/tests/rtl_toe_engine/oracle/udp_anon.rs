//! The paths of docs/rx-paths.md that are neither lookup nor TCP, in the oracle
//! (`rtl/toe_udp_anon.v`, `model/src/toe/udp_anon.rs`): the ARP answer, a UDP socket's datagram
//! receive, and the anonymous buffers (the anonymous list, the delivery's DMA writes and the
//! `ANON_RX` completion with the buffer's bytes).

use crate::*;

/// A posted anonymous buffer.
#[derive(Clone, Debug)]
pub struct Anon {
    pub refn: u32,
    pub tag: u32,
    pub len: usize,
    pub addr: u64,
}

/// An expected ANON_RX completion: the buffer and the bytes it must hold by then.
#[derive(Debug)]
pub struct AnonExp {
    pub buf: Anon,
    pub content: Vec<u8>,
    pub trunc: bool,
}

impl Tb {
    /// An ARP request (reason NOT_IPV4): answered when it asks for NIC_IP (responder on), even
    /// when it was not stored; returns false when the frame goes the anonymous way.
    pub fn arp_answer(&mut self, f: &Frame, chain: u16) -> bool {
        let Some(sha) = f.arp_sha else {
            return false;
        };
        if self.nic_ip != 0 && f.dst_ip == self.nic_ip {
            let t = arp_tx_cmd(sha, self.nic_mac, f.vlan, self.nic_ip, f.src_ip);
            self.tx_expect.push_back((t, None));
            self.exp.tx += 1;
            self.exp.arp += 1;
            self.release(chain);
            self.count_cov(&[if f.whole() {
                "arp_reply"
            } else {
                "arp_reply_partial"
            }]);
            return true;
        }
        self.count_cov(&["arp_not_ours"]);
        false
    }

    /// A frame that matched no socket (reason NO_SOCKET) or is not IPv4 and was not answered:
    /// the head anonymous buffer takes it when it was stored whole, else it is dropped under
    /// `reason` (rx-paths.md "Anonymous buffers", decision 1).
    pub fn anon_or_drop(&mut self, f: &Frame, chain: u16, reason: DropReason) {
        self.release(chain);
        if !f.whole() || self.anon_list.is_empty() {
            self.exp.count_drop(reason);
            self.count_cov(&[if f.whole() {
                "anon_none_drop"
            } else {
                "anon_partial_drop"
            }]);
            return;
        }
        let buf = self.anon_list.pop_front().unwrap();
        let n = f.len().min(buf.len);
        assert_eq!(f.bytes.len(), f.len());
        for k in 0..n.div_ceil(PAGE) {
            self.anon_writes
                .push_back((buf.addr + (k * PAGE) as u64, (n - k * PAGE).min(PAGE)));
        }
        self.exp.anon_rx += 1;
        self.count_cov(&[if n < f.len() { "anon_trunc" } else { "anon_rx" }]);
        if n > PAGE {
            self.count_cov(&["anon_multi_write"]);
        }
        self.anon_cpl.push_back(AnonExp {
            content: f.bytes[..n].to_vec(),
            trunc: n < f.len(),
            buf,
        });
    }

    /// A datagram matched to UDP socket `si`: one segment, the UDP header and the payload.
    pub fn udp_frame(&mut self, f: &Frame, si: usize, chain: u16) {
        let s = self.osock[si].as_mut().unwrap();
        assert!(f.pay_off >= 8);
        s.inorder.push_back(OSeg {
            seq: 0,
            data: f.bytes[f.pay_off - 8..f.len()].to_vec(),
            flags: TcpFlags::empty(),
            chain,
            freed: false,
            doff: f.pay_off - 8,
            held: false,
        });
        self.exp.accepted += 1;
        self.count_cov(&["udp_rx"]);
    }

    /// A DMA write request while an anonymous delivery is in progress: its next write, exactly.
    /// Returns false when none is (the write is a named buffer's).
    pub fn anon_write(&mut self, a: u64, l: usize) -> bool {
        let Some(w) = self.anon_writes.pop_front() else {
            return false;
        };
        assert_eq!((a, l), w, "anonymous delivery DMA write (address, length)");
        true
    }

    /// An ANON_RX completion: the next one expected, and the buffer's bytes in host memory.
    pub fn check_anon_rx(&mut self, c: &Cpl) {
        let x = self.anon_cpl.pop_front().expect("unexpected ANON_RX");
        assert_eq!(
            (
                c.status,
                c.sock_ref,
                c.tag,
                c.ref_num,
                c.bytes as usize,
                c.flags,
                c.opcode,
                c.hdr_bytes,
                c.stream_off
            ),
            (
                Status::Ok,
                0,
                x.buf.tag,
                x.buf.refn,
                x.content.len(),
                if x.trunc {
                    CplFlags::TRUNC
                } else {
                    CplFlags::empty()
                },
                Opcode::AnonPost.code(),
                0,
                0
            ),
            "ANON_RX (status, sock, tag, ref, bytes, flags, opcode, hdr_bytes, stream_off)"
        );
        let n = x.content.len();
        let got = self.host_slice(x.buf.addr, n).to_vec();
        assert!(got == x.content, "anonymous buffer {} content", x.buf.refn);
    }
}
