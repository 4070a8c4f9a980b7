//! Directed tests of p2p hold sockets (docs/p2p.md): hold records (BUFLET, OFF, LEN, HEAD) and
//! held chains, their positions across pages and the FULL return on record room, BUF_RELEASE
//! (bad requests, double releases, a request stopped part way), and FIN segments and SOCK_DEL
//! that leave held chains alone.

use super::*;

/// A TCP socket in `slot` with flags `flags` (HOLD among them) and a 1 MiB receive buffer.
fn hold_sock(slot: u16, flags: SockFlags, rng: &mut ChaCha8Rng) -> SockCfg {
    SockCfg::new(slot, rng).with_flags(flags).buf(1 << 20)
}

/// (ref, flags, bytes) of the first NB_RETURN completion from `from` on.
fn first_ret(tb: &Tb, from: usize) -> (u32, CplFlags, u32) {
    let r = rets(tb, from);
    (r[0].0, r[0].1, r[0].2)
}

/// The hold records of an NB read back from host memory: (BUFLET, OFF, LEN, HEAD) of records
/// `from..to` (record r at page-list position 8r).
pub fn host_records(tb: &mut Tb, pages: &[u64], from: usize, to: usize) -> Vec<HoldRec> {
    (from..to)
        .map(|r| {
            let pos = HoldRec::SIZE * r;
            let a = pages[pos / PAGE] + (pos % PAGE) as u64;
            HoldRec::parse(tb.host_slice(a, HoldRec::SIZE)).unwrap()
        })
        .collect()
}

/// (STATUS, BYTES) of the CMD_DONEs from `from` on, with their opcode.
pub fn cmd_dones(tb: &Tb, from: usize) -> Vec<(Opcode, Status, u32)> {
    tb.cpl_log[from..]
        .iter()
        .filter(|c| c.kind == CplKind::CmdDone)
        .map(|c| {
            let op = Opcode::try_from(c.opcode)
                .unwrap_or_else(|v| panic!("CMD_DONE of unknown opcode {v:#x}"));
            (op, c.status, c.bytes)
        })
        .collect()
}

/// p2p delivery (docs/p2p.md): a hold socket's chunks never cross a buflet of the frame's chain
/// and each writes one 8-byte record (BUFLET, OFF, LEN, HEAD) instead of the bytes; the emptied
/// chain is held (the pool free count stays down) and the expose pulses name each record's
/// buflet; HOLD with UDP is BAD_SOCK; a payload socket beside it is unchanged. Then BUF_RELEASE:
/// COUNT 0 and 25, a head not held, out of range, a release, a double release, a request
/// stopped part way, with the free count after each.
pub fn hold_records_held_chains_and_buf_release() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 40);
        let (bb, nbuf) = (tb.bb, tb.nbuf);
        let h = hold_sock(0, SockFlags::HOLD, &mut rng);
        let u = SockCfg::new(1, &mut rng)
            .into_udp()
            .with_flags(SockFlags::HOLD);
        let p = SockCfg::new(2, &mut rng).buf(1 << 20);
        add_socks(&mut tb, &[&h, &u, &p]);
        assert_eq!(
            cmd_dones(&tb, 0),
            vec![
                (Opcode::SockAdd, Status::Ok, 0),
                (Opcode::SockAdd, Status::BadSock, 0),
                (Opcode::SockAdd, Status::Ok, 0)
            ],
            "{model}: HOLD with UDP is BAD_SOCK"
        );
        let isn = 0x5000_0000u32;
        handshake(&mut tb, &h, isn, None);
        handshake(&mut tb, &p, isn, None);
        tb.nb_post(0, 0, 3000, 1, false);
        tb.nb_post(2, 1, 3000, 1, false);
        tb.settle(10_000);
        let pages = tb.nbs[&0].pages.clone();
        let s = stream_of(3000, 41);
        let seq = seq_of(isn);
        // 700 bytes at DATA_OFF 54: chunks up to each buflet's end
        tb.push(h.frame(seq(0), 0, ACK, s[..700].to_vec()));
        tb.push(p.frame(seq(0), 0, ACK, s[..700].to_vec()));
        tb.settle(40_000);
        let mut lens = vec![bb - 54];
        while lens.iter().sum::<usize>() < 700 {
            let left = 700 - lens.iter().sum::<usize>();
            lens.push(left.min(bb));
        }
        let nrec = lens.len();
        assert_eq!(tb.nbs[&0].recs, nrec);
        let recs = host_records(&mut tb, &pages, 0, nrec);
        let head = recs[0].buflet;
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(
                r.off as usize,
                if i == 0 { 54 } else { 0 },
                "{model}: OFF {i}"
            );
            assert_eq!(r.len as usize, lens[i], "{model}: LEN {i}");
            let hd = if i + 1 == nrec { head } else { NULL16 };
            assert_eq!(r.head, hd, "{model}: HEAD {i}");
            if i + 1 < nrec {
                assert_eq!(
                    tb.link[r.buflet as usize],
                    recs[i + 1].buflet,
                    "{model}: BUFLETs follow the chain"
                );
            }
            let b = r.buflet as usize * bb + r.off as usize;
            let k: usize = lens[..i].iter().sum();
            assert!(
                tb.ram[b..b + lens[i]] == s[k..k + lens[i]],
                "{model}: record {i} points at its bytes"
            );
        }
        assert_eq!(
            tb.exposed,
            recs.iter().map(|r| r.buflet).collect::<Vec<_>>(),
            "{model}: one expose pulse per record, naming its BUFLET"
        );
        assert_eq!(tb.got.hold_recs, nrec as u64);
        // the payload socket's bytes went to host memory as before; its chain is free
        assert!(tb.osock[2].as_ref().unwrap().delivered == s[..700]);
        assert_eq!(
            tb.free.len(),
            nbuf - nrec,
            "{model}: the held chain is not free"
        );
        assert!(tb.held.contains(&head));
        // a second segment: one more held chain
        tb.push(h.frame(seq(700), 0, ACK, s[700..760].to_vec()));
        tb.settle(40_000);
        let r2 = host_records(&mut tb, &pages, nrec, nrec + 1)[0];
        assert_eq!(
            (r2.off, r2.len, r2.head),
            (54, 60, r2.buflet),
            "{model}: a one-buflet segment"
        );
        let head2 = r2.buflet;
        assert_eq!(tb.free.len(), nbuf - nrec - 1);
        // BUF_RELEASE: bad requests release nothing
        let c0 = tb.cpl_log.len();
        let not_held = (0..nbuf as u16)
            .find(|b| *b != head && *b != head2)
            .unwrap();
        tb.buf_release_n(0, &[head]);
        tb.buf_release_n(25, &[head]);
        tb.buf_release(&[not_held]);
        tb.buf_release(&[nbuf as u16]);
        tb.buf_release(&[NULL16]);
        tb.settle(20_000);
        assert_eq!(tb.free.len(), nbuf - nrec - 1, "{model}: nothing released");
        // release the first, again (not held any more), then both with the first twice
        tb.buf_release(&[head]);
        tb.settle(20_000);
        assert_eq!(tb.free.len(), nbuf - 1, "{model}: the first chain released");
        tb.buf_release(&[head]);
        tb.buf_release(&[head2, head, head2]);
        tb.settle(20_000);
        let (ok, bad) = (Status::Ok, Status::BadBuf);
        assert_eq!(
            cmd_dones(&tb, c0),
            vec![
                (Opcode::BufRelease, bad, 0),
                (Opcode::BufRelease, bad, 0),
                (Opcode::BufRelease, bad, 0),
                (Opcode::BufRelease, bad, 0),
                (Opcode::BufRelease, bad, 0),
                (Opcode::BufRelease, ok, 1),
                (Opcode::BufRelease, bad, 0),
                (Opcode::BufRelease, bad, 1),
            ],
            "{model}: BUF_RELEASE completions (opcode, status, bytes)"
        );
        assert_eq!(tb.free.len(), nbuf, "{model}: every chain back");
        assert_eq!(tb.got.released, 2);
        // a full 24-head release
        let c1 = tb.cpl_log.len();
        for k in 0..RELEASE_MAX {
            tb.push(h.frame(seq(760 + k), 0, ACK, s[760 + k..761 + k].to_vec()));
        }
        tb.settle(60_000);
        assert_eq!(tb.held.len(), RELEASE_MAX);
        tb.release_all();
        tb.settle(20_000);
        assert_eq!(
            cmd_dones(&tb, c1),
            vec![(Opcode::BufRelease, Status::Ok, RELEASE_MAX as u32)]
        );
        assert_eq!(tb.free.len(), nbuf);
        // the buffers end: NB_RETURN BYTES counts payload bytes, not record bytes
        let c2 = tb.cpl_log.len();
        tb.sock_del(0);
        tb.sock_del(2);
        tb.settle(20_000);
        assert_eq!(
            first_ret(&tb, c2),
            (0, CplFlags::DELETE, 784),
            "{model}: the hold NB's BYTES count payload bytes"
        );
        tb.final_checks(true);
    }
}

/// Record positions: record r goes to page[(8r) / 4096] + (8r) mod 4096 (the page list is read
/// again for page 1), and the NB is returned FULL when RECS reaches HMD_PAGES * 512 (no room for
/// another record) as well as on TOTAL_BYTES.
pub fn hold_record_positions_across_pages_and_full_on_record_room() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 42);
        let h = hold_sock(3, SockFlags::HOLD, &mut rng);
        add_socks(&mut tb, &[&h]);
        let isn = 0x0123_4567u32;
        handshake(&mut tb, &h, isn, None);
        // NB 0: one page, room for 512 records; NB 1: two pages, TOTAL 540 * 5 bytes
        tb.nb_post(3, 0, PAGE, 1, false);
        tb.nb_post(3, 1, 540 * 5, 2, false);
        tb.settle(10_000);
        let p1 = tb.nbs[&1].pages.clone();
        let s = stream_of(1052 * 5, 43);
        let seq = seq_of(isn);
        let c0 = tb.cpl_log.len();
        let mut k = 0;
        while k < 1052 {
            for _ in 0..40.min(1052 - k) {
                tb.push(h.frame(seq(5 * k), 0, ACK, s[5 * k..5 * k + 5].to_vec()));
                k += 1;
            }
            tb.settle(100_000);
            tb.release_all();
            tb.settle(100_000);
        }
        let r = rets(&tb, c0);
        assert_eq!(
            r.iter().map(|x| (x.0, x.1, x.2)).collect::<Vec<_>>(),
            vec![(0, CplFlags::FULL, 512 * 5), (1, CplFlags::FULL, 540 * 5)],
            "{model}: FULL on record room, then on TOTAL_BYTES"
        );
        assert_eq!(*tb.cov.get("hold_full_recs").unwrap_or(&0), 1);
        // NB 1's records 510..540 straddle its two pages
        let recs = host_records(&mut tb, &p1, 510, 540);
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(
                (r.off, r.len, r.head),
                (54, 5, r.buflet),
                "{model}: record {}",
                510 + i
            );
        }
        assert_eq!(tb.got.hold_recs, 1052);
        close(&mut tb, &[3]);
    }
}

/// A hold FIN segment: its last record names the head, the chain is held (not freed) and the
/// NB is returned FIN; SOCK_DEL frees a partly delivered head segment (its records had HEAD
/// 0xFFFF) but leaves held chains alone, including a FIN segment emptied by its last record that
/// still waits on the list for its return; they are released after the SOCK_DEL.
pub fn hold_fin_and_sock_del_leave_held_chains() {
    for model in models() {
        let (mut tb, mut rng) = dtb_rng(model, 44);
        let nbuf = tb.nbuf;
        let h = hold_sock(4, SockFlags::HOLD, &mut rng);
        let g = hold_sock(5, SockFlags::HOLD | SockFlags::PSH_RETURN, &mut rng);
        add_socks(&mut tb, &[&h, &g]);
        let isn = 0x0999_0000u32;
        let seq = connect(&mut tb, &[&h, &g], isn);
        let s = stream_of(2000, 45);
        // h: 300 bytes + FIN that fill an NB exactly: FULL; the emptied FIN segment waits on
        // the list for the next NB, its chain held. Released now, it is no longer held but is
        // freed only with its segment, at the FIN return.
        let c0 = tb.cpl_log.len();
        tb.nb_post(4, 0, 300, 1, false);
        tb.push(h.frame(seq(0), 0, ACK | FIN, s[..300].to_vec()));
        tb.settle(40_000);
        assert_eq!(
            first_ret(&tb, c0),
            (0, CplFlags::FULL, 300),
            "{model}: FULL return"
        );
        assert_eq!(tb.held.len(), 1, "{model}: the FIN segment's chain is held");
        let fin_chain = *tb.held.iter().next().unwrap();
        assert!(tb.chains.contains_key(&fin_chain), "{model}: not freed");
        let free0 = tb.free.len();
        let c0b = tb.cpl_log.len();
        tb.buf_release(&[fin_chain]);
        tb.settle(20_000);
        assert_eq!(
            cmd_dones(&tb, c0b),
            vec![(Opcode::BufRelease, Status::Ok, 1)]
        );
        assert_eq!(tb.free.len(), free0, "{model}: released, not yet freed");
        assert!(tb.chains.contains_key(&fin_chain));
        tb.nb_post(4, 0, 1000, 1, false);
        tb.settle(20_000);
        assert_eq!(
            first_ret(&tb, c0b),
            (0, CplFlags::FIN, 0),
            "{model}: FIN return"
        );
        assert!(
            !tb.chains.contains_key(&fin_chain),
            "{model}: freed with its segment"
        );
        assert!(tb.free.len() > free0);
        // g: a PSH segment returns PSH; then a 700-byte segment into a 300-byte NB (FULL, the
        // segment partly delivered), then a FIN segment that exactly fills the next NB (FULL;
        // the emptied FIN segment stays on the list, held, waiting for an NB)
        let c1 = tb.cpl_log.len();
        tb.nb_post(5, 1, 1000, 1, false);
        tb.push(g.frame(seq(0), 0, ACK | PSH, s[..100].to_vec()));
        tb.settle(40_000);
        tb.nb_post(5, 2, 300, 1, false);
        tb.push(g.frame(seq(100), 0, ACK, s[100..800].to_vec()));
        tb.settle(40_000);
        let r = rets(&tb, c1);
        assert_eq!(
            r.iter().map(|x| (x.0, x.1, x.2)).collect::<Vec<_>>(),
            vec![(1, CplFlags::PSH, 100), (2, CplFlags::FULL, 300)],
            "{model}: PSH and FULL returns of a hold socket"
        );
        let held_before = tb.held.len();
        assert_eq!(held_before, 1, "{model}: g's PSH segment chain");
        let free_before = tb.free.len();
        // SOCK_DEL of g: the partly delivered 700-byte segment is freed, held chains are not
        let c2 = tb.cpl_log.len();
        tb.sock_del(5);
        tb.settle(40_000);
        assert_eq!(cmd_dones(&tb, c2), vec![(Opcode::SockDel, Status::Ok, 0)]);
        assert!(
            tb.free.len() > free_before,
            "{model}: the partly delivered segment is freed"
        );
        assert_eq!(tb.held.len(), held_before);
        // g again: the FIN segment that fills its NB exactly waits on the list, held
        tb.sock_add(&g);
        tb.settle(10_000);
        handshake(&mut tb, &g, isn, None);
        let c3 = tb.cpl_log.len();
        tb.nb_post(5, 3, 200, 1, false);
        tb.push(g.frame(seq(0), 0, ACK | FIN, s[..200].to_vec()));
        tb.settle(40_000);
        assert_eq!(first_ret(&tb, c3), (3, CplFlags::FULL, 200));
        assert_eq!(tb.held.len(), held_before + 1);
        tb.sock_del(5);
        tb.settle(40_000);
        assert_eq!(
            tb.held.len(),
            held_before + 1,
            "{model}: SOCK_DEL leaves held chains"
        );
        tb.release_all();
        tb.settle(20_000);
        assert_eq!(
            tb.free.len(),
            nbuf,
            "{model}: every chain back after the releases"
        );
        close(&mut tb, &[4]);
    }
}
