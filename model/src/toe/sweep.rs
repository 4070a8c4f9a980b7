//! The named-buffer timeout sweep of docs/rx-paths.md (rtl/toe_sweep.v): one timer tick walks
//! the active list, counting a head NB's TICKS_LEFT down and returning it with TIMEOUT when
//! that makes it 0.

use buflet_spec::{reg, CplFlags, Status};

use crate::{costs, ModelDevice};

impl ModelDevice {
    /// One timer tick (rx-paths.md, "Named-buffer timeouts"): the sweep over the active list.
    /// Returns the done time. Ticks do not depend on CTRL.ENABLE (the contract does not tie
    /// them to it).
    pub(super) fn engine_tick(&mut self) -> u64 {
        self.regs.count(reg::CNT_TICKS, 1);
        // The free count the tick's windows see (sampled as the RTL picks the tick).
        let free = self.free_sample();
        let mut t = self.now + costs::TIMER_TICK;
        let mut next = self.toe.act_head;
        while let Some(s) = next {
            // The sweep never unlinks a socket: the link read now is the one the RTL follows.
            next = self.toe.socks[s as usize].act_next;
            // the engine's socket register follows the sweep (it stops on the last socket)
            self.toe.sk_reg = Some(s);
            // S_TKS0, S_TKS1: the socket read, its send timers
            t += costs::TIMER_SEND_STEPS;
            // The send side's timers (docs/tcp-transmit.md; the RTL will sweep only the
            // transmit-active sockets).
            let was = self.toe.socks[s as usize].state;
            self.snd_tick(s, t);
            // A window update when the window opened past a closed or small right edge, else
            // a delayed ACK that is owed (not when the tick ended or restarted the connection).
            let sock = &mut self.toe.socks[s as usize];
            if sock.state == was {
                if let Some(cmd) = sock.window_update(&self.cfg, free) {
                    self.regs.count(reg::CNT_TX_WND_UPDATES, 1);
                    self.tx.push(&self.cfg, t + costs::TICK_PUSH, &cmd);
                    t += costs::WINDOW_UPDATE;
                } else if let Some(cmd) = sock.delayed_ack(&self.cfg, free) {
                    // the same tx push as a window update's (toe_engine S_TKS1)
                    self.regs.count(reg::CNT_TX_DELAYED_ACKS, 1);
                    self.tx.push(&self.cfg, t + costs::TICK_PUSH, &cmd);
                    t += costs::WINDOW_UPDATE;
                }
            }
            // S_TK1: the context's head NB
            t += costs::TIMER_VISIT;
            let Some(&rn) = self.toe.socks[s as usize].nbs.front() else {
                continue;
            };
            // S_TK2: the head NB read (and counted down when it has a timeout)
            t += costs::TIMER_COUNT;
            let Some(nb) = self.toe.nbs[rn as usize].as_mut() else {
                continue;
            };
            if nb.timeout == 0 {
                continue;
            }
            nb.ticks_left = nb.ticks_left.saturating_sub(1);
            if nb.ticks_left != 0 {
                continue;
            }
            t += costs::ENGINE_RETURN;
            self.return_nb(s, CplFlags::TIMEOUT, Status::Ok, t);
            self.regs.count(reg::CNT_TIMEOUTS, 1);
            // Woken: waiting segments go to the next buffer; without one the socket leaves
            // the ready list.
            let sock = &mut self.toe.socks[s as usize];
            if sock.queued && sock.nbs.is_empty() {
                sock.queued = false;
                self.toe.ready.retain(|&x| x != s);
            }
            self.toe.wake(s);
        }
        t
    }
}
