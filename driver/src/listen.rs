//! Listening sockets (docs/tcp-receive.md, "Listening sockets"): `SOCK_LISTEN` opens a listen
//! slot with the template of the sockets it accepts, `SOCK_POOL` gives the device socket slots
//! to accept into, and each connection comes back as an `ACCEPT` completion.

use crate::*;

/// A listen slot: the address and port clients connect to, and the TCP parameters of every
/// socket it accepts (the `listen_desc` layout of the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenSpec {
    /// Our MAC, wire order.
    pub local_mac: [u8; 6],
    /// VLAN id a SYN must carry, 0 = untagged.
    pub vlan: u16,
    /// Our IPv4 address, wire order.
    pub local_ip: [u8; 4],
    /// Our TCP port.
    pub local_port: u16,
    /// ISS base: each accepted socket's ISS is this plus its 4-tuple's hash.
    pub iss: u32,
    /// Receive buffer of every accepted socket, bytes (1..2^30).
    pub rcv_buf: u32,
    /// MSS option value of the SYN-ACKs.
    pub mss: u16,
    /// Window scale shift (0..14) offered to a SYN that carries the option.
    pub rcv_wscale: u8,
    /// `sock_flag` bits of every accepted socket: `PSH_RETURN`, `HOLD` and `DELAYED_ACK` only.
    pub flags: SockFlags,
}

impl ListenSpec {
    /// The same listen with `sock_flag::HOLD` set (`on`) or cleared: every accepted socket is
    /// a p2p hold socket (docs/p2p.md), as [`crate::SocketSpec::with_hold`].
    pub fn with_hold(mut self, on: bool) -> Self {
        self.flags.set(SockFlags::HOLD, on);
        self
    }

    /// The same listen with `sock_flag::DELAYED_ACK` set (`on`) or cleared: every accepted
    /// socket coalesces its ACKs, as [`crate::SocketSpec::with_delayed_ack`] (the driver must
    /// run the timer).
    pub fn with_delayed_ack(mut self, on: bool) -> Self {
        self.flags.set(SockFlags::DELAYED_ACK, on);
        self
    }

    /// The `SOCK_LISTEN` entry of this listen in `slot` (tag 0: [`Driver`] sets it).
    pub fn desc(&self, slot: u16) -> ListenDesc {
        ListenDesc {
            opcode: Opcode::SockListen,
            flags: self.flags,
            slot,
            local_mac: self.local_mac,
            vlan: self.vlan,
            proto: IpProto::Tcp.code(),
            local_ip: Ipv4Addr::from(self.local_ip),
            local_port: self.local_port,
            iss: self.iss,
            rcv_buf: self.rcv_buf,
            mss: self.mss,
            rcv_wscale: self.rcv_wscale,
            ..Default::default()
        }
    }
}

/// What an `ACCEPT` completion says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The socket slot the connection lives in.
    pub sock: u16,
    /// `OK`: established, post named buffers. `RESET` / `TIMEOUT`: the half-open connection
    /// died; the driver has deleted the socket already ([`Driver::accepted`]).
    pub status: Status,
    /// The listen slot that made it.
    pub slot: u16,
    /// The peer's IPv4 address, wire order.
    pub peer_ip: [u8; 4],
    /// The peer's TCP port.
    pub peer_port: u16,
    /// The listen's tag.
    pub tag: u32,
}

impl Accepted {
    /// Decode an `ACCEPT` completion (`None` for any other kind).
    pub fn from_cpl(c: &Completion) -> Option<Self> {
        (c.kind == CplKind::Accept).then(|| Accepted {
            sock: c.sock_ref,
            status: c.status,
            slot: (c.bytes >> 16) as u16,
            peer_ip: c.ref_num.to_be_bytes(),
            peer_port: c.bytes as u16,
            tag: c.tag,
        })
    }

    /// The peer as "ip:port".
    pub fn peer(&self) -> String {
        format!("{}:{}", Ipv4Addr::from(self.peer_ip), self.peer_port)
    }
}

impl Driver {
    /// Open a listen slot (`SOCK_LISTEN`) and wait for its `CMD_DONE`. Returns the slot and
    /// completions seen meanwhile. Connections arrive as `ACCEPT` completions once slots are
    /// in the accept pool ([`Driver::pool_sockets`]).
    pub fn listen(&mut self, l: &ListenSpec) -> Result<(u16, Vec<Completion>), DriverError> {
        let slot = self
            .listen_free
            .pop()
            .ok_or(DriverError::NoSlot("listen"))?;
        match self.call(l.desc(slot).to_bytes(), "SOCK_LISTEN") {
            Ok((_, others)) => {
                self.listen_flags.insert(slot, l.flags);
                Ok((slot, others))
            }
            Err(err) => {
                self.listen_free.push(slot);
                Err(err)
            }
        }
    }

    /// Close a listen slot (`SOCK_UNLISTEN`) and wait for its `CMD_DONE`; connections it made
    /// go on. Returns completions seen meanwhile.
    pub fn unlisten(&mut self, slot: u16) -> Result<Vec<Completion>, DriverError> {
        let mut e = [0u8; 64];
        ReqHdr {
            opcode: Opcode::SockUnlisten.code(),
            sock_ref: slot,
            ..Default::default()
        }
        .emit(&mut e);
        let (_, others) = self.call(e, "SOCK_UNLISTEN")?;
        if !self.listen_free.contains(&slot) {
            self.listen_free.push(slot);
        }
        Ok(others)
    }

    /// Give up to `n` free socket slots to the device's accept pool (`SOCK_POOL`, no completion
    /// on success). Returns how many were given (fewer when the driver runs out of slots).
    pub fn pool_sockets(&mut self, n: usize) -> Result<usize, DriverError> {
        let mut given = 0;
        while given < n {
            let Some(sref) = self.sock_free.pop() else {
                break;
            };
            let mut e = [0u8; 64];
            ReqHdr {
                opcode: Opcode::SockPool.code(),
                sock_ref: sref,
                tag: self.tag(),
                ..Default::default()
            }
            .emit(&mut e);
            if let Err(err) = self.submit(&e) {
                self.sock_free.push(sref);
                return Err(err);
            }
            self.sock_pooled.insert(sref);
            given += 1;
        }
        Ok(given)
    }

    /// Socket slots in the accept pool as the driver counts them (given, not yet accepted).
    pub fn pooled_sockets(&self) -> usize {
        self.sock_pooled.len()
    }

    /// Take an `ACCEPT` completion (`None` for any other kind). An `OK` one makes the socket
    /// the driver's (it may post named buffers, send, close and delete it). A `RESET` or
    /// `TIMEOUT` one (the half-open connection died) is finished here: the socket is deleted
    /// (its slot becomes free) and completions seen meanwhile are returned beside it.
    pub fn accepted(
        &mut self,
        c: &Completion,
    ) -> Result<Option<(Accepted, Vec<Completion>)>, DriverError> {
        let Some(a) = Accepted::from_cpl(c) else {
            return Ok(None);
        };
        self.sock_pooled.remove(&a.sock);
        // The socket is the driver's now, with the listen's flags (the HOLD bit matters to
        // named-buffer posts).
        let flags = self.listen_flags.get(&a.slot).copied().unwrap_or_default();
        self.sock_flags.insert(a.sock, flags | SockFlags::ACCEPTED);
        if a.status == Status::Ok {
            return Ok(Some((a, Vec::new())));
        }
        let others = self.del_socket(a.sock)?;
        Ok(Some((a, others)))
    }
}
