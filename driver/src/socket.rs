//! Socket descriptors: what the host says about a connection (`SocketSpec`), `SOCK_ADD` and
//! `SOCK_DEL`.

use crate::*;

/// The connection a socket descriptor describes, from the NIC's point of view, and the
/// host-chosen TCP parameters of its passive open (the `sock_desc` layout of the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketSpec {
    /// Our MAC (destination of received frames, source of the NIC's ACKs), wire order.
    pub local_mac: [u8; 6],
    /// The peer's MAC (destination of the NIC's ACKs), wire order.
    pub remote_mac: [u8; 6],
    /// VLAN id, 0 = untagged.
    pub vlan: u16,
    /// Our IPv4 address, wire order.
    pub local_ip: [u8; 4],
    /// The peer's IPv4 address, wire order.
    pub remote_ip: [u8; 4],
    /// Our TCP port.
    pub local_port: u16,
    /// The peer's TCP port.
    pub remote_port: u16,
    /// Our initial send sequence number (the SEQ of the NIC's SYN-ACK).
    pub iss: u32,
    /// Receive buffer in bytes (1..2^30): bound of accepted-but-undelivered data.
    pub rcv_buf: u32,
    /// MSS option value the NIC sends in its SYN-ACK.
    pub mss: u16,
    /// Window scale shift (0..14) the NIC offers when the peer's SYN carries the option.
    pub rcv_wscale: u8,
    /// `sock_flag` bits (e.g. `PSH_RETURN`; `HOLD` makes a p2p hold socket, TCP only,
    /// docs/p2p.md: its named buffers receive hold records instead of payload).
    pub flags: SockFlags,
    /// IP protocol. TCP: passive open, reassembly, ACKs with the window
    /// (docs/tcp-receive.md). UDP: the socket starts established; each datagram (UDP header
    /// included) goes into its own named buffer, returned with flag DATAGRAM
    /// (docs/rx-paths.md); the TCP parameters are ignored.
    pub proto: IpProto,
}

impl SocketSpec {
    /// The same socket with `sock_flag::HOLD` set (`on`) or cleared: a p2p hold socket whose
    /// payload stays in the NIC's buflets (docs/p2p.md).
    pub fn with_hold(mut self, on: bool) -> Self {
        self.flags.set(SockFlags::HOLD, on);
        self
    }

    /// The same socket with `sock_flag::DELAYED_ACK` set (`on`) or cleared: the NIC
    /// acknowledges every second full-sized segment, at once on PSH, FIN or out-of-order data,
    /// and an owed ACK at the latest on the next timer tick (docs/tcp-receive.md "Delayed
    /// ACKs"). The driver must run the timer (`set_timer_period` or `timer_kick`).
    pub fn with_delayed_ack(mut self, on: bool) -> Self {
        self.flags.set(SockFlags::DELAYED_ACK, on);
        self
    }

    /// True when `sock_flag::HOLD` is set.
    pub fn is_hold(&self) -> bool {
        self.flags.contains(SockFlags::HOLD)
    }

    /// The `SOCK_ADD` entry of this socket in slot `sock_ref` (tag 0: [`Driver`] sets it).
    pub fn desc(&self, sock_ref: u16) -> SockDesc {
        SockDesc {
            opcode: Opcode::SockAdd,
            flags: self.flags,
            sock_ref,
            local_mac: self.local_mac,
            remote_mac: self.remote_mac,
            vlan: self.vlan,
            proto: self.proto.code(),
            local_ip: Ipv4Addr::from(self.local_ip),
            remote_ip: Ipv4Addr::from(self.remote_ip),
            local_port: self.local_port,
            remote_port: self.remote_port,
            iss: self.iss,
            rcv_buf: self.rcv_buf,
            mss: self.mss,
            rcv_wscale: self.rcv_wscale,
            ..Default::default()
        }
    }
}

impl Driver {
    /// Post a socket descriptor (OP_SOCK_ADD). A TCP socket starts in LISTEN; a UDP socket
    /// starts established and ignores `iss`, `rcv_buf`, `mss` and `rcv_wscale` (for UDP,
    /// `local_port`/`remote_port` are the datagrams' destination and source ports). Returns its
    /// reference number and completions seen meanwhile.
    pub fn add_socket(&mut self, s: &SocketSpec) -> Result<(u16, Vec<Completion>), DriverError> {
        let sref = self.sock_free.pop().ok_or(DriverError::NoSlot("socket"))?;
        let e = s.desc(sref).to_bytes();
        match self.call(e, "SOCK_ADD") {
            Ok((_, others)) => {
                self.sock_flags.insert(sref, s.flags);
                Ok((sref, others))
            }
            Err(err) => {
                self.sock_free.push(sref);
                Err(err)
            }
        }
    }

    /// The `sock_flag` bits a socket was added with ([`Driver::add_socket`]), `None` for a
    /// socket this driver has not added (or has deleted).
    pub fn socket_flags(&self, sref: u16) -> Option<SockFlags> {
        self.sock_flags.get(&sref).copied()
    }

    /// Delete a socket (OP_SOCK_DEL) and wait for its `CMD_DONE`. The device returns the
    /// socket's named buffers first (`NB_RETURN`, flag `DELETE`, bytes filled so far), so every
    /// one of them is among the returned completions, together with any other completion
    /// (block writes, ...) that arrived meanwhile, in ring order. The `CMD_DONE` itself is
    /// consumed. The reference number becomes free for [`Driver::add_socket`].
    pub fn del_socket(&mut self, sref: u16) -> Result<Vec<Completion>, DriverError> {
        let mut e = [0u8; 64];
        ReqHdr {
            opcode: Opcode::SockDel.code(),
            sock_ref: sref,
            ..Default::default()
        }
        .emit(&mut e);
        let (_, others) = self.call(e, "SOCK_DEL")?;
        self.sock_flags.remove(&sref);
        if (sref as u32) < self.info.num_sockets && !self.sock_free.contains(&sref) {
            self.sock_free.push(sref);
        }
        Ok(others)
    }
}

impl Driver {
    /// Close our direction of socket `sref` (`SOCK_CLOSE`, docs/tcp-transmit.md): the NIC
    /// sends FIN after the data already posted. The request completes (`CMD_DONE` with opcode
    /// `SOCK_CLOSE` and the returned tag) only when the peer acknowledges the FIN, so this
    /// does not wait: the completion comes with the others.
    pub fn sock_close(&mut self, sref: u16) -> Result<u32, DriverError> {
        let tag = self.tag();
        let mut e = [0u8; 64];
        ReqHdr {
            opcode: Opcode::SockClose.code(),
            sock_ref: sref,
            tag,
            ..Default::default()
        }
        .emit(&mut e);
        self.submit(&e)?;
        Ok(tag)
    }

    /// Abort the connection of socket `sref` (`SOCK_CLOSE` with `ABORT`): the NIC sends an RST
    /// (when there is a peer to reset), the socket is CLOSED, its posts come back `TX_DONE
    /// RESET` and a pending close or active open `CMD_DONE RESET`, then this request's
    /// `CMD_DONE OK` (with the returned tag). The socket stays until `SOCK_DEL`.
    pub fn sock_abort(&mut self, sref: u16) -> Result<u32, DriverError> {
        let tag = self.tag();
        let mut e = [0u8; 64];
        ReqHdr {
            opcode: Opcode::SockClose.code(),
            flags: spec::CloseFlags::ABORT.bits(),
            sock_ref: sref,
            tag,
        }
        .emit(&mut e);
        self.submit(&e)?;
        Ok(tag)
    }
}

impl Driver {
    /// Open a TCP connection actively (`SOCK_ADD` with flag `CONNECT`, docs/tcp-transmit.md):
    /// the NIC sends a SYN from `s.iss` to the socket's remote address. The request completes
    /// (`CMD_DONE`, opcode `SOCK_ADD`, the returned tag) when the handshake ends (`OK`), the
    /// peer refuses (`RESET`) or the SYN retries run out (`TIMEOUT`), so this does not wait.
    /// Data may be posted at once; it goes out once the connection is established.
    pub fn connect_socket(&mut self, s: &SocketSpec) -> Result<(u16, u32), DriverError> {
        let sref = self.sock_free.pop().ok_or(DriverError::NoSlot("socket"))?;
        let tag = self.tag();
        let mut d = s.desc(sref);
        d.flags |= SockFlags::CONNECT;
        d.tag = tag;
        if let Err(e) = self.submit(&d.to_bytes()) {
            self.sock_free.push(sref);
            return Err(e);
        }
        self.sock_flags.insert(sref, d.flags);
        Ok((sref, tag))
    }
}
