//! One clock cycle of the harness: drives requests, metadata, the pool free count, NIC_MAC and
//! NIC_IP, tick requests and random output readies; serves the link RAM, the data RAM (1-cycle
//! read latency) and DMA reads; samples every handshake and event pulse and hands each to the
//! oracle; stores a frame in a fresh buflet chain when it is presented; takes chain frees back
//! into the pool.

use crate::*;

impl Tb {
    /// Runs one clock cycle.
    pub fn cycle(&mut self) {
        let p = self.p;
        // requests
        if self.cur_req.is_none() && !self.req_q.is_empty() {
            let pv = self.p_valid;
            if self.chance(pv) {
                self.cur_req = self.req_q.pop_front();
            }
        }
        match &self.cur_req {
            Some(e) => {
                self.m.set(p.req_valid, 1);
                self.m.set_bytes(p.req_data, e);
            }
            None => self.m.set(p.req_valid, 0),
        }
        // metadata: a frame gets its buflet chain when it is presented
        if self.cur_meta.is_none() && !self.frames.is_empty() {
            let pv = self.p_valid;
            if self.chance(pv) {
                self.present_frame();
            }
        }
        match &self.cur_meta {
            Some(fr) => {
                let m = &mut self.m;
                m.set(p.meta_valid, 1);
                m.set(p.meta_reason, u64::from(fr.reason.code()));
                m.set(p.meta_len, fr.len() as u64);
                m.set(p.meta_udp, fr.udp as u64);
                m.set(p.meta_arp_req, fr.arp_sha.is_some() as u64);
                let mut sha = [0u8; 8];
                sha[..6].copy_from_slice(&fr.arp_sha.unwrap_or([0; 6]));
                m.set(p.meta_arp_sha, u64::from_le_bytes(sha));
                sha[..6].copy_from_slice(&fr.src_mac);
                m.set(p.meta_src_mac, u64::from_le_bytes(sha));
                m.set(p.meta_vlan, fr.vlan as u64);
                m.set(p.meta_src_ip, fr.src_ip as u64);
                m.set(p.meta_dst_ip, fr.dst_ip as u64);
                m.set(p.meta_src_port, fr.sport as u64);
                m.set(p.meta_dst_port, fr.dport as u64);
                m.set(p.meta_seq, fr.seq as u64);
                m.set(p.meta_ack, fr.ack as u64);
                m.set(p.meta_flags, u64::from(fr.flags.bits()));
                m.set(p.meta_ws_valid, fr.ws.is_some() as u64);
                m.set(p.meta_ws, fr.ws.unwrap_or(0) as u64);
                m.set(p.meta_pay_off, fr.pay_off as u64);
                m.set(p.meta_pay_len, fr.payload.len() as u64);
                m.set(p.meta_head, self.cur_chain.0 as u64);
                m.set(p.meta_tail, self.cur_chain.1 as u64);
                m.set(p.meta_count, self.cur_chain.2 as u64);
            }
            None => self.m.set(p.meta_valid, 0),
        }
        let free_now = self.free.len();
        self.m.set(p.pool_free, free_now as u64);
        let mut mac = [0u8; 8];
        mac[..6].copy_from_slice(&self.nic_mac);
        self.m.set(p.nic_mac, u64::from_le_bytes(mac));
        self.m.set(p.nic_ip, self.nic_ip as u64);
        // The send side (toe_tx) is not under test here (no socket sends; testbench/tests/tx.rs
        // tests it through the whole NIC): tx_data idle, pieces taken, and the SYN-ACK timer
        // beyond reach, so the receive-side oracle's tx stream stays the one it predicts.
        self.m.set(p.txd_idle, 1);
        self.m.set(p.pc_ready, 1);
        self.m.set(p.rto_init, self.rto_init as u64);
        self.m.set(p.tx_retries, self.tx_retries as u64);
        self.m.set(p.half_open_max, self.half_open_max as u64);
        // timer tick requests
        let mut tick = false;
        if self.tick_now > 0 {
            self.tick_now -= 1;
            tick = true;
        } else if self.p_tick > 0 && self.rng.gen_range(0..100_000) < self.p_tick {
            tick = true;
        }
        if tick {
            self.tick_reqs += 1;
            self.last_tick_req = Some(self.m.cycles());
        }
        self.m.set(p.tick_req, tick as u64);
        // output readies
        let probs = self.p_out.unwrap_or([
            self.p_ready,
            self.p_ready,
            self.p_ready,
            self.p_ready,
            self.p_ready,
            self.p_tx,
        ]);
        let rr: [bool; 6] =
            std::array::from_fn(|i| self.rng.gen_range(0..100) < probs[i] && !self.hold[i]);
        let tx_r = rr[O_TX];
        self.m.set(p.free_ready, rr[O_FREE] as u64);
        self.m.set(p.rd_req_ready, rr[O_RD_REQ] as u64);
        self.m.set(p.wr_req_ready, rr[O_WR_REQ] as u64);
        // The DMA write data sink stalls with the same probability the other outputs use (its
        // own draw; rr keeps its six draws so the rest of the stimulus is unchanged).
        self.wr_sink
            .set_stall(1.0 - f64::from(probs[O_WR_DATA].min(100)) / 100.0);
        self.wr_sink.drive_gated(&mut self.m, !self.hold[O_WR_DATA]);
        self.m.set(p.cpl_ready, rr[O_CPL] as u64);
        self.m.set(p.tx_ready, tx_r as u64);
        // DMA read response
        let pv = self.p_valid;
        let rd_v = !self.rd_resp.is_empty() && self.chance(pv);
        self.m.set(p.rd_tvalid, rd_v as u64);
        if let Some((w, keep, last, user)) = self.rd_resp.front() {
            self.m.set_bytes(p.rd_tdata, w);
            self.m.set_bytes(p.rd_tkeep, keep);
            self.m.set(p.rd_tlast, *last as u64);
            self.m.set(p.rd_tuser, (*last && *user) as u64);
        }
        // RAM read data (registered read)
        if let Some(a) = self.rd_pending {
            let w = self.ram[a * self.kw..(a + 1) * self.kw].to_vec();
            self.m.set_bytes(p.ram_rd_data, &w);
        } else {
            let w = vec![0xA5u8; self.kw];
            self.m.set_bytes(p.ram_rd_data, &w);
        }
        self.m.eval();
        let li = self.m.get(p.link_rd_idx) as usize;
        let ln = if li < self.nbuf {
            self.link[li]
        } else {
            NULL16
        };
        self.m.set(p.link_rd_next, ln as u64);
        self.m.eval();

        // ------------------------------------------------ sample handshakes
        let g = |m: &Model, port: Port| m.get(port) != 0;
        // registered event pulses report what happened before this cycle's handshakes
        if g(&self.m, p.ev_tick) {
            self.on_ev_tick();
        }
        // a DMA write request reports a chunk the engine issued in the cycle before (its
        // register offers it from then on): the oracle takes the chunk when it is first
        // offered, before this cycle's picks see the state after it
        if g(&self.m, p.wr_req_valid) && !self.wr_req_seen {
            let a = self.m.get(p.wr_req_addr);
            let l = self.m.get(p.wr_req_len) as usize;
            assert!((1..=PAGE).contains(&l), "DMA write length {l}");
            self.on_dma_write(a, l);
            self.wr_req_seen = true;
        }
        // the frame taken in the cycle before (after that cycle's chunk, above)
        if let Some((fr, head, free)) = self.picked.take() {
            self.oracle_frame(&fr, head, free);
        }
        self.got.timeouts += self.m.get(p.ev_timeout);
        self.got.anon_rx += self.m.get(p.ev_anon_rx);
        self.got.arp += self.m.get(p.ev_arp_reply);
        if self.cur_req.is_some() && g(&self.m, p.req_ready) {
            let e = self.cur_req.take().unwrap();
            self.oracle_req(&e);
        }
        if self.cur_meta.is_some() && g(&self.m, p.meta_ready) {
            let fr = self.cur_meta.take().unwrap();
            self.meta_picks += 1;
            let head = if self.cur_chain.2 == 0 {
                NULL16
            } else {
                self.cur_chain.0
            };
            self.picked = Some((fr, head, free_now));
        }
        if g(&self.m, p.tx_valid) && tx_r {
            let mut t = [0u8; TxCmd::SIZE];
            self.m.get_bytes(p.tx_data, &mut t);
            self.on_tx(&t);
        }
        if g(&self.m, p.free_valid) && rr[O_FREE] {
            let (h, t, c) = (
                self.m.get(p.free_head) as u16,
                self.m.get(p.free_tail) as u16,
                self.m.get(p.free_count) as u16,
            );
            self.on_free(h, t, c);
        }
        if g(&self.m, p.rd_req_valid) && rr[O_RD_REQ] {
            let a = self.m.get(p.rd_req_addr);
            let l = self.m.get(p.rd_req_len);
            // a page-list miss reads up to PAGE_LIST_GROUP entries from the chunk's page on,
            // within the list
            let group = 8 * spec::param::PAGE_LIST_GROUP;
            assert!(
                (8..=group).contains(&l) && l.is_multiple_of(8),
                "page-list read of {l} bytes"
            );
            let ok = self.nbs.values().any(|n| {
                let end = n.hmd + 8 * n.n_pages as u64;
                a >= n.hmd
                    && a + l <= end
                    && (a - n.hmd).is_multiple_of(8)
                    && (l == group || a + l == end)
            });
            assert!(
                ok,
                "page-list read {a:#x}+{l} outside every live NB's list, or short"
            );
            let refused = (REFUSED_BASE..REFUSED_BASE + (1 << 30)).contains(&a);
            let data = if refused {
                self.refused_read(a);
                vec![0u8; l as usize]
            } else {
                self.host_slice(a, l as usize).to_vec()
            };
            // packed words, tuser on the last one of a refused read
            let kw = self.kw;
            let n = data.len().div_ceil(kw);
            for (i, c) in data.chunks(kw).enumerate() {
                let mut w = vec![0u8; kw];
                w[..c.len()].copy_from_slice(c);
                let keep: Vec<u8> = (0..kw.div_ceil(8))
                    .map(|byte| {
                        (0..8)
                            .filter(|bit| byte * 8 + bit < c.len())
                            .fold(0u8, |m, bit| m | (1 << bit))
                    })
                    .collect();
                self.rd_resp.push_back((w, keep, i + 1 == n, refused));
            }
        }
        if rd_v && g(&self.m, p.rd_tready) {
            self.rd_resp.pop_front();
        }
        if g(&self.m, p.wr_req_valid) && rr[O_WR_REQ] {
            let a = self.m.get(p.wr_req_addr);
            let l = self.m.get(p.wr_req_len) as usize;
            self.wr_reqs.push_back((a, l));
            self.wr_req_seen = false;
        }
        if let Some(beat) = self.wr_sink.sample(&self.m) {
            if self.wr_cur.is_none() {
                let (a, l) = self
                    .wr_reqs
                    .pop_front()
                    .expect("DMA write data before its request");
                self.wr_cur = Some((a, l, 0));
            }
            let (a, l, got) = self.wr_cur.unwrap();
            let now = self.m.cycles();
            self.wr_beats += 1;
            self.first_beat.get_or_insert(now);
            self.last_beat = now;
            let keep = beat.keep_u64();
            let w = beat.data;
            let left = l - got;
            let n = left.min(self.kw);
            let exp_keep = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            assert_eq!(keep, exp_keep, "packed tkeep (len {l}, got {got})");
            let last = beat.last;
            assert_eq!(
                last,
                n == left,
                "tlast on the last word only (len {l}, got {got})"
            );
            self.host_slice(a + got as u64, n).copy_from_slice(&w[..n]);
            self.wr_cur = if last { None } else { Some((a, l, got + n)) };
        }
        if g(&self.m, p.cpl_valid) && rr[O_CPL] {
            let mut c = [0u8; Cpl::SIZE];
            self.m.get_bytes(p.cpl_data, &mut c);
            self.on_cpl(&c);
        }
        self.rd_pending = None;
        if g(&self.m, p.ram_rd_en) {
            let a = self.m.get(p.ram_rd_addr) as usize;
            assert!(a < self.nbuf * self.bb / self.kw);
            assert!(self.in_use[a * self.kw / self.bb], "read of a free buflet");
            self.rd_pending = Some(a);
        }
        if g(&self.m, p.ev_drop_valid) {
            self.got.drop[self.m.get(p.ev_drop_reason) as usize] += 1;
        }
        self.got.accepted += self.m.get(p.ev_accepted);
        self.got.ooo_held += self.m.get(p.ev_ooo_held);
        self.got.hold_recs += self.m.get(p.ev_hold_rec);
        self.got.released += self.m.get(p.ev_released);
        self.got.accepts += self.m.get(p.ev_accept);
        self.got.lookups += self.m.get(p.ev_lookup);
        self.got.lookup_cycles += self.m.get(p.ev_lookup_cyc);
        self.got.lookup_fwd += self.m.get(p.ev_lookup_fwd);
        self.got.dlv_chained += self.m.get(p.ev_dlv_chain);
        self.got.frm_chained += self.m.get(p.ev_frm_chain);
        self.got.wnd_updates += self.m.get(p.ev_tx_wupd);
        self.got.delayed_acks += self.m.get(p.ev_tx_dack);
        if g(&self.m, p.expose_en) {
            let b = self.m.get(p.expose_idx) as u16;
            let e = self
                .expose_exp
                .pop_front()
                .unwrap_or_else(|| panic!("expose pulse (buflet {b}) without a hold record"));
            assert_eq!(b, e, "expose_idx = the record's BUFLET");
            self.exposed.push(b);
        }
        if g(&self.m, p.ev_delivered_valid) {
            self.got.delivered += self.m.get(p.ev_delivered_bytes);
        }
        self.ev_returned += self.m.get(p.ev_nb_returned);
        self.prev_free = free_now;
        self.m.tick(p.clk);
    }

    /// Gives the front frame a buflet chain (if the pool has room) and presents it.
    pub fn present_frame(&mut self) {
        let fr = self.frames.front().unwrap();
        let len = fr.len();
        let need = if fr.no_chain {
            0
        } else if let Some(k) = fr.short_chain {
            assert!(k < len.div_ceil(self.bb));
            k
        } else {
            len.div_ceil(self.bb).max(1)
        };
        if need > self.free.len() {
            // The pool stays short: the parser would have run out of buflets. The frame is
            // stored with no chain at all and reported NO_BUFLET (a frame that already failed
            // a check keeps its reason; decision 1), so the stimulus never deadlocks.
            let now = self.m.cycles();
            let since = *self.pool_wait.get_or_insert(now);
            if now - since > 3000 {
                let f = self.frames.front_mut().unwrap();
                f.no_chain = true;
                f.short_chain = None;
                if f.reason == DropReason::None {
                    f.reason = DropReason::NoBuflet;
                }
                *self.cov.entry("harness_no_buflet").or_default() += 1;
                self.pool_wait = None;
            }
            return;
        }
        self.pool_wait = None;
        let mut fr = self.frames.pop_front().unwrap();
        let mut bytes: Vec<u8> = (0..fr.pay_off).map(|_| self.rng.gen()).collect();
        bytes.extend_from_slice(&fr.payload);
        fr.bytes = bytes.clone();
        let mut chain = Vec::new();
        for _ in 0..need {
            let b = self.free.pop_front().unwrap();
            assert!(!self.in_use[b as usize]);
            self.in_use[b as usize] = true;
            self.link[b as usize] = self.rng.gen(); // stale link of a fresh buflet
            chain.push(b);
        }
        for w in chain.windows(2) {
            self.link[w[0] as usize] = w[1];
        }
        for (k, &byte) in bytes.iter().enumerate().take(need * self.bb) {
            let b = chain[k / self.bb] as usize;
            self.ram[b * self.bb + k % self.bb] = byte;
        }
        self.cur_chain = if need == 0 {
            (NULL16, NULL16, 0)
        } else {
            let (h, t) = (chain[0], *chain.last().unwrap());
            let old = self.chains.insert(
                h,
                Chain {
                    tail: t,
                    count: need as u16,
                },
            );
            assert!(old.is_none());
            (h, t, need as u16)
        };
        self.cur_meta = Some(fr);
    }

    /// A chain free the engine made: the chain goes back to the pool, then the oracle checks
    /// the contract lets it go.
    pub fn on_free(&mut self, h: u16, t: u16, c: u16) {
        let ch = self
            .chains
            .remove(&h)
            .unwrap_or_else(|| panic!("free of unknown/already freed chain {h}"));
        assert_eq!(
            (ch.tail, ch.count),
            (t, c),
            "free op tail/count of chain {h}"
        );
        let mut b = h;
        for i in 0..c {
            assert!(self.in_use[b as usize], "buflet {b} freed twice");
            self.in_use[b as usize] = false;
            self.free.push_back(b);
            if i + 1 < c {
                b = self.link[b as usize];
            }
        }
        assert_eq!(b, t);
        self.chain_freed(h);
    }
}
