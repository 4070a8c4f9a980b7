//! Delivery in the oracle (`rtl/toe_deliver.v` with `rtl/toe_mover.v`,
//! `model/src/toe/deliver.rs`): each DMA write request of a delivery step checked against the
//! chunk the contract makes (payload into the head NB's pages, or a hold record at page-list
//! position 8 * RECS for a hold socket), UDP datagram ends, the returns a chunk causes, the
//! DMA_ERROR return of a refused page list, the return on a FIN/RST marker, and the NB_RETURN
//! completion with the buffer's bytes.

use crate::*;

impl Tb {
    /// A DMA write request of the delivery path.
    pub fn on_dma_write(&mut self, a: u64, l: usize) {
        if self.anon_write(a, l) {
            return;
        }
        let refn = *self
            .nbs
            .iter()
            .find(|(_, n)| n.pages.iter().any(|&pg| a >= pg && a < pg + PAGE as u64))
            .unwrap_or_else(|| panic!("DMA write {a:#x}+{l} outside every named buffer page"))
            .0;
        let nb = self.nbs.get_mut(&refn).unwrap();
        let s = self.osock[nb.slot as usize]
            .as_mut()
            .expect("delivery to a socket not in use");
        assert_eq!(s.nbs.front(), Some(&refn), "delivery goes into the head NB");
        let udp = s.udp();
        let seg = s.inorder.front_mut().expect("delivery with no segment");
        assert!(!seg.data.is_empty(), "delivery from an empty segment");
        if s.cfg.flags.contains(SockFlags::HOLD) {
            // p2p: one 8-byte record at page-list position 8 * RECS, the chunk bounded by the
            // buflet that holds DATA_OFF
            let bb = self.bb;
            let n = seg
                .data
                .len()
                .min(nb.total - nb.filled)
                .min(bb - seg.doff % bb);
            let pos = HoldRec::SIZE * nb.recs;
            assert_eq!(
                (a, l),
                (nb.pages[pos / PAGE] + (pos % PAGE) as u64, HoldRec::SIZE),
                "hold record address and length (NB {refn}, recs {})",
                nb.recs
            );
            let mut b = seg.chain;
            for _ in 0..seg.doff / bb {
                b = self.link[b as usize];
            }
            let off = seg.doff % bb;
            assert!(
                self.ram[b as usize * bb + off..b as usize * bb + off + n] == seg.data[..n],
                "oracle: the chunk's bytes lie in buflet {b}"
            );
            let emptied = n == seg.data.len();
            let head = if emptied { seg.chain } else { NULL16 };
            let rec = HoldRec {
                buflet: b,
                off: off as u16,
                len: n as u16,
                head,
            };
            nb.records.push((a, rec));
            nb.recs += 1;
            if nb.filled == 0 {
                nb.stream_off = s.stream_off;
            }
            let bytes: Vec<u8> = seg.data.drain(..n).collect();
            seg.doff += n;
            s.delivered.extend_from_slice(&bytes);
            nb.filled += n;
            s.stream_off += n as u64;
            self.exp.delivered += n as u64;
            self.exp.hold_recs += 1;
            self.expose_exp.push_back(b);
            *self.cov.entry("hold_record").or_default() += 1;
            if n == bb - off && !seg.data.is_empty() {
                *self.cov.entry("hold_buflet_bound").or_default() += 1;
            }
            let flags = seg.flags;
            let finrst = flags.intersects(FIN | RST);
            if emptied {
                assert!(
                    self.held.insert(seg.chain),
                    "chain {} held twice",
                    seg.chain
                );
                seg.held = true;
                *self.cov.entry("hold_head").or_default() += 1;
                if finrst {
                    *self.cov.entry("hold_fin_held").or_default() += 1;
                } else {
                    s.inorder.pop_front();
                }
            }
            let full_b = nb.filled == nb.total;
            let full_r = nb.recs == (nb.n_pages * RECS_PER_PAGE).min(0xFFFF);
            let full = full_b || full_r;
            if let Some(r) = chunk_return(nb, emptied, flags, full, s.cfg.flags) {
                s.nbs.pop_front();
                self.ret_exp.insert(refn, r);
                *self
                    .cov
                    .entry(if full_r && !full_b {
                        "hold_full_recs"
                    } else if full {
                        "hold_full_return"
                    } else {
                        "hold_psh_return"
                    })
                    .or_default() += 1;
            }
            return;
        }
        let in_page = nb.filled % PAGE;
        let n = seg.data.len().min(nb.total - nb.filled).min(PAGE - in_page);
        assert_eq!(
            (a, l),
            (nb.pages[nb.filled / PAGE] + in_page as u64, n),
            "chunk address and length (NB {refn}, filled {})",
            nb.filled
        );
        if nb.filled == 0 {
            nb.stream_off = s.stream_off;
        }
        let bytes: Vec<u8> = seg.data.drain(..n).collect();
        nb.content.extend_from_slice(&bytes);
        s.delivered.extend_from_slice(&bytes);
        nb.filled += n;
        s.stream_off += n as u64;
        self.exp.delivered += n as u64;
        if udp {
            // a datagram ends its buffer once written, or once the buffer is full
            let done = seg.data.is_empty();
            let full = nb.filled == nb.total;
            if nb.filled > n {
                *self.cov.entry("udp_multi_chunk").or_default() += 1;
            }
            if done || full {
                let g = s.inorder.pop_front().unwrap();
                self.allowed_free.insert(g.chain);
                s.nbs.pop_front();
                let r = RetExp {
                    flags: CplFlags::DATAGRAM
                        | if done {
                            CplFlags::empty()
                        } else {
                            CplFlags::TRUNC
                        },
                    status: Status::Ok,
                    bytes: nb.filled,
                    stream_off: nb.stream_off,
                    hdr: nb.filled.min(8) as u8,
                };
                self.ret_exp.insert(refn, r);
                self.count_cov(&[if done { "udp_return" } else { "udp_trunc" }]);
            }
            return;
        }
        let emptied = seg.data.is_empty();
        let flags = seg.flags;
        let finrst = flags.intersects(FIN | RST);
        if emptied && !finrst {
            let g = s.inorder.pop_front().unwrap();
            self.allowed_free.insert(g.chain);
        }
        let full = nb.filled == nb.total;
        if let Some(r) = chunk_return(nb, emptied, flags, full, s.cfg.flags) {
            s.nbs.pop_front();
            self.ret_exp.insert(refn, r);
            self.count_cov(&[if full { "full_return" } else { "psh_return" }]);
        }
    }

    /// A page-list read of a refused NB: the engine returns that NB (the head NB of its socket)
    /// with DMA_ERROR and goes on with the next one, possibly before the completion is seen.
    pub fn refused_read(&mut self, a: u64) {
        let (&refn, nb) = self
            .nbs
            .iter()
            .find(|(_, n)| n.refused && a >= n.hmd && a < n.hmd + 8 * n.n_pages as u64)
            .expect("refused read of a live NB");
        let s = self.osock[nb.slot as usize]
            .as_mut()
            .expect("page-list read for a socket not in use");
        assert_eq!(s.nbs.front(), Some(&refn), "page-list read of the head NB");
        s.nbs.pop_front();
        let so = if nb.filled == 0 {
            s.stream_off
        } else {
            nb.stream_off
        };
        let r = RetExp {
            flags: CplFlags::empty(),
            status: Status::DmaError,
            bytes: nb.filled,
            stream_off: so,
            hdr: 0,
        };
        self.ret_exp.insert(refn, r);
        self.count_cov(&["dma_error_return"]);
    }

    /// The NB_RETURN of NB `refn` was not predicted by a delivery, a delete, a refused read or
    /// a sweep: it must be the return of the head NB on a FIN/RST marker at the head of the
    /// in-order list. Records the expected completion.
    pub fn resolve_end_return(&mut self, refn: u16, flags: CplFlags) {
        let nb = &self.nbs[&refn];
        let s = self.osock[nb.slot as usize]
            .as_mut()
            .unwrap_or_else(|| panic!("NB_RETURN {refn} of a socket not in use"));
        assert_eq!(s.nbs.front(), Some(&refn), "returned NB is the head NB");
        let m = s.inorder.front().unwrap_or_else(|| {
            panic!(
                "NB_RETURN {refn} (flags {:#x}) without a reason",
                flags.bits()
            )
        });
        assert!(
            m.data.is_empty() && m.flags.intersects(FIN | RST),
            "NB_RETURN {refn} (flags {:#x}) without a FULL/PSH/FIN/RST/TIMEOUT reason",
            flags.bits()
        );
        s.nbs.pop_front();
        let so = if nb.filled == 0 {
            s.stream_off
        } else {
            nb.stream_off
        };
        let m = s.inorder.pop_front().unwrap();
        let mut fl = CplFlags::empty();
        fl.set(CplFlags::FIN, m.flags.contains(FIN));
        fl.set(CplFlags::RST, m.flags.contains(RST));
        s.end_flag = fl;
        if !m.freed && !m.held {
            self.allowed_free.insert(m.chain);
        }
        *self.cov.entry("end_return").or_default() += 1;
        self.ret_exp.insert(
            refn,
            RetExp {
                flags: fl,
                status: Status::Ok,
                bytes: nb.filled,
                stream_off: so,
                hdr: 0,
            },
        );
    }

    /// An NB_RETURN completion: the return the oracle predicted (or, unpredicted, a sweep whose
    /// tick pulse is still to come or the return on a FIN/RST marker), in DELETE and TIMEOUT
    /// order, with the buffer's payload or hold records already in host memory.
    pub fn check_nb_return(&mut self, c: &Cpl) {
        self.got.returned += 1;
        let (status, flags, bytes, soff, hdr) = (
            c.status,
            c.flags,
            c.bytes as usize,
            c.stream_off,
            c.hdr_bytes,
        );
        let refn = c.ref_num as u16;
        assert!(
            self.nbs.contains_key(&refn),
            "NB_RETURN of unknown NB {refn}"
        );
        if !self.ret_exp.contains_key(&refn) {
            if c.has(CplFlags::TIMEOUT) && c.is_ok() {
                // the sweep runs before its ev_tick pulse was seen
                self.sweep();
                self.early += 1;
            } else {
                assert_ne!(
                    status,
                    Status::DmaError,
                    "DMA_ERROR return without a refused page-list read"
                );
                self.resolve_end_return(refn, flags);
            }
        }
        let nb = self.nbs.remove(&refn).unwrap();
        assert_eq!(
            (c.tag, c.opcode, c.sock_ref),
            (nb.tag, Opcode::NbPost.code(), nb.slot),
            "NB_RETURN identity"
        );
        let exp = self
            .ret_exp
            .remove(&refn)
            .unwrap_or_else(|| panic!("NB_RETURN {refn} (flags {:#x}) not expected", flags.bits()));
        if exp.flags == CplFlags::DELETE {
            assert_eq!(
                self.del_order.pop_front().map(|(_, r)| r),
                Some(refn),
                "SOCK_DEL returns NBs head first"
            );
        }
        if exp.flags == CplFlags::TIMEOUT {
            assert_eq!(
                self.timeout_order.pop_front(),
                Some(refn),
                "timeout returns in active-list order"
            );
        }
        assert_eq!(
            (status, flags, bytes, soff, hdr),
            (exp.status, exp.flags, exp.bytes, exp.stream_off, exp.hdr),
            "NB_RETURN {refn} (status, flags, bytes, stream_off, hdr_bytes)"
        );
        // payload must already be in host memory
        for (i, chunk) in nb.content.chunks(PAGE).enumerate() {
            let a = nb.pages[i];
            let got = self.host_slice(a, chunk.len()).to_vec();
            assert!(got == chunk, "NB {refn} page {i} content");
        }
        // hold records too: record r at page-list position 8r
        for (r, (a, rec)) in nb.records.iter().enumerate() {
            let got = HoldRec::parse(self.host_slice(*a, HoldRec::SIZE)).unwrap();
            assert_eq!(
                got, *rec,
                "NB {refn} hold record {r} (BUFLET, OFF, LEN, HEAD)"
            );
        }
    }
}

/// The return a TCP chunk causes (tcp-receive.md "Delivery additions"): `FULL` when it filled
/// the buffer, else `PSH` when it emptied a PSH/URG segment without FIN/RST on a PSH_RETURN
/// socket; `None` when the buffer stays.
fn chunk_return(
    nb: &Nb,
    emptied: bool,
    flags: TcpFlags,
    full: bool,
    sock_flags: SockFlags,
) -> Option<RetExp> {
    let psh = emptied
        && !flags.intersects(FIN | RST)
        && flags.intersects(PSH | URG)
        && sock_flags.contains(SockFlags::PSH_RETURN);
    (full || psh).then_some(RetExp {
        flags: if full { CplFlags::FULL } else { CplFlags::PSH },
        status: Status::Ok,
        bytes: nb.filled,
        stream_off: nb.stream_off,
        hdr: 0,
    })
}
