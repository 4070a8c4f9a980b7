//! The named-buffer timeout sweep in the oracle (`rtl/toe_sweep.v`, `model/src/toe/sweep.rs`):
//! one timer tick walks the active list from its head, counting a head NB's TICKS_LEFT down and
//! returning it with TIMEOUT when that makes it 0; and the `ev_tick` pulse that runs it.

use crate::*;

impl Tb {
    /// The timer sweep of rx-paths.md: every socket of the active list, head first.
    pub fn sweep(&mut self) {
        let mut n_out = 0;
        for slot in self.active.clone() {
            // the SYN-ACK timer, before the head NB: gives up at once with RTO_INIT 1 and
            // TX_RETRIES 0 (an accepted socket: CLOSED, ACCEPT TIMEOUT; else LISTEN again)
            let s = self.osock[slot as usize]
                .as_mut()
                .expect("active list holds sockets in use");
            if self.synack_giveup && s.state == SockState::SynRcvd {
                if s.listen.is_some() {
                    s.state = SockState::Closed;
                    self.accept_done(slot as usize, Status::Timeout);
                } else {
                    s.state = SockState::Listen;
                }
            }
            // a window update, with the pool room of the free count the tick saw
            let pool_room = self.pool_room(self.prev_free);
            let s = self.osock[slot as usize].as_mut().unwrap();
            let wupd = s.window_update(pool_room);
            let is_wupd = wupd.is_some();
            if let Some(t) = wupd.or_else(|| s.delayed_ack(pool_room)) {
                let e = TxEdge {
                    slot,
                    shift: s.shift(),
                    syn_ack: false,
                    fresh: false,
                    pool_closed: pool_room == 0,
                };
                self.tx_expect.push_back((t, Some(e)));
                self.exp.tx += 1;
                if is_wupd {
                    self.exp.wnd_updates += 1;
                    self.count_cov(&["window_update"]);
                } else {
                    self.exp.delayed_acks += 1;
                    self.count_cov(&["delayed_ack"]);
                }
            }
            let s = self.osock[slot as usize].as_mut().unwrap();
            let Some(&r) = s.nbs.front() else {
                continue;
            };
            let nb = self.nbs.get_mut(&r).unwrap();
            if nb.timeout == 0 {
                continue;
            }
            assert!(nb.ticks_left > 0);
            nb.ticks_left -= 1;
            if nb.ticks_left > 0 {
                continue;
            }
            s.nbs.pop_front();
            let so = if nb.filled == 0 {
                s.stream_off
            } else {
                nb.stream_off
            };
            let mid_dgram = s.udp() && nb.filled > 0;
            self.ret_exp.insert(
                r,
                RetExp {
                    flags: CplFlags::TIMEOUT,
                    status: Status::Ok,
                    bytes: nb.filled,
                    stream_off: so,
                    hdr: 0,
                },
            );
            self.timeout_order.push_back(r);
            self.exp.timeouts += 1;
            n_out += 1;
            let empty = nb.filled == 0;
            self.count_cov(&[if empty { "timeout_empty" } else { "timeout" }]);
            if mid_dgram {
                self.count_cov(&["timeout_mid_datagram"]);
            }
        }
        if n_out > 1 {
            self.count_cov(&["timeout_several"]);
        }
        self.exp.ticks += 1;
    }

    /// An ev_tick pulse: the engine took a tick.
    pub fn on_ev_tick(&mut self) {
        self.got.ticks += 1;
        self.last_ev_tick = Some(self.m.cycles());
        if self.early > 0 {
            self.early -= 1;
            return;
        }
        // A FIN/RST return committed before the tick may still wait on m_cpl: it happened first.
        if self.m.get(self.p.cpl_valid) != 0 {
            let mut b = [0u8; Cpl::SIZE];
            self.m.get_bytes(self.p.cpl_data, &mut b);
            // (a completion that does not parse fails its check when it is taken)
            if let Ok(c) = Cpl::parse(&b) {
                let refn = c.ref_num as u16;
                if c.kind == CplKind::NbReturn
                    && c.has(CplFlags::FIN | CplFlags::RST)
                    && !c.has(CplFlags::TIMEOUT)
                    && self.nbs.contains_key(&refn)
                    && !self.ret_exp.contains_key(&refn)
                {
                    self.resolve_end_return(refn, c.flags);
                    self.count_cov(&["end_return_before_tick"]);
                }
            }
        }
        self.sweep();
    }
}
