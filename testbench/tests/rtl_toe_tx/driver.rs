//! The random runs: sockets through their lives, a peer, the engine's step sequences.

use std::collections::VecDeque;

use buflet_spec::{ip_proto, req_hdr, sock_desc, sock_state as ss, status, tx_desc, TcpFlags};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bench::{check_state, Dut, Events, In, Out};
use crate::reference::{Cov, Piece, Policy, Post, PostReq, Seg, Snd, Tk, BUFLET};

fn put(b: &mut [u8], f: (usize, usize), v: u64) {
    b[f.0..f.0 + f.1].copy_from_slice(&v.to_le_bytes()[..f.1]);
}

const ACK: u8 = TcpFlags::ACK.bits();
const SYN: u8 = TcpFlags::SYN.bits();
const FIN: u8 = TcpFlags::FIN.bits();

#[derive(Clone, Default)]
pub struct Sock {
    used: bool,
    pub st: u8,
    pub iss: u32,
    own_mss: u16,
    pub snd: Snd,
    /// The peer's next SEQ, its window (unscaled) and window scale.
    pub peer_seq: u32,
    pub win: u16,
    /// The peer is silent for a while (its frames are not sent): timeouts pile up.
    deaf: bool,
}

pub struct World {
    pub dut: Dut,
    name: String,
    rng: ChaCha8Rng,
    pol: Policy,
    pub socks: Vec<Sock>,
    slots: Vec<bool>,
    pub tq: VecDeque<usize>,
    tq_in: Vec<bool>,
    cov: Cov,
    ev: Events,
    full_rate: bool,
    n_op: usize,
    /// The last segment sent: socket, segment, pieces.
    pub last: Option<(usize, Seg, Vec<Piece>)>,
    /// The last post walk's (count, bytes, tag), and the last tick's decisions.
    pub last_pw: Option<(u64, u64, u32)>,
    pub last_tk: Tk,
}

fn st_open(st: u8) -> bool {
    [
        ss::ESTAB,
        ss::CLOSE_WAIT,
        ss::FIN_WAIT_1,
        ss::FIN_WAIT_2,
        ss::LAST_ACK,
    ]
    .contains(&u64::from(st))
}

impl World {
    fn ctx(&self, s: usize, what: &str) -> String {
        format!(
            "{} op {} cycle {} socket {s} ({what})",
            self.name, self.n_op, self.dut.cycles
        )
    }

    /// The step inputs for socket `s` (no frame).
    pub fn inp(&mut self, s: usize) -> In {
        let k = &self.socks[s];
        let mut sk = vec![0u8; 64];
        self.rng.fill(&mut sk[..]);
        put(&mut sk, sock_desc::ISS, u64::from(k.iss));
        put(&mut sk, sock_desc::MSS, u64::from(k.own_mss));
        put(&mut sk, sock_desc::PROTO, ip_proto::TCP);
        let mut rq = vec![0u8; 64];
        self.rng.fill(&mut rq[..]);
        In {
            sk_idx: s,
            sk,
            rq,
            st_now: k.st,
            sock_ok: true,
            mt_seq: self.rng.gen(),
            mt_ack: self.rng.gen(),
            mt_window: self.rng.gen(),
            mt_pay_len: self.rng.gen(),
            mt_flags: self.rng.gen(),
            mt_ws: None,
            mt_mss: self.rng.gen(),
            syn_active: false,
        }
    }

    fn check(&self, s: usize, what: &str) {
        check_state(&self.dut.sn(), &self.socks[s].snd, &self.ctx(s, what));
    }

    /// The reference's write-back: snd_wake (persist start; the FIFO, each socket once).
    fn wb_ref(&mut self, s: usize) {
        let can = self.socks[s].snd.wake();
        if can && !self.tq_in[s] {
            self.tq_in[s] = true;
            self.tq.push_back(s);
        }
    }

    fn ld(&mut self, s: usize, i: &In) {
        let ld = self.dut.p.ld;
        self.dut.step(&[ld], i);
        self.check(s, "ld");
    }

    fn wb(&mut self, s: usize, i: &In, what: &str) {
        let wb = self.dut.p.wb;
        self.dut.step(&[wb], i);
        self.wb_ref(s);
        self.check(s, what);
    }

    /// A world of `n_sock` sockets (none in use) on model `name` with `n_posts` post slots;
    /// `rates`: (idle probability, piece backpressure).
    pub fn new(
        name: &str,
        n_sock: usize,
        n_posts: usize,
        seed: u64,
        rates: (f64, f64),
        pol: Policy,
        rng: ChaCha8Rng,
    ) -> World {
        World {
            dut: Dut::new(name, seed, rates.0, rates.1, pol),
            name: name.to_string(),
            rng,
            pol,
            socks: vec![Sock::default(); n_sock],
            slots: vec![false; n_posts],
            tq: VecDeque::new(),
            tq_in: vec![false; n_sock],
            cov: Cov::default(),
            ev: Events::default(),
            full_rate: rates == (0.0, 0.0),
            n_op: 0,
            last: None,
            last_pw: None,
            last_tk: Tk::default(),
        }
    }

    /// The end of a run: the send-ready FIFO drained, the counter pulses in total.
    pub fn finish(&mut self) {
        while !self.tq.is_empty() {
            self.op_send();
        }
        for _ in 0..4 {
            self.dut.cycle(&[], None);
        }
        assert_eq!(
            self.dut.ev, self.ev,
            "{}: counter pulses (fast retransmits, probes, retransmissions, data segments, bytes)",
            self.name
        );
    }

    // ------------------------------------------------------------------ requests
    fn op_add(&mut self, s: usize) {
        let connect = self.rng.gen_bool(0.5);
        let tag: u32 = self.rng.gen();
        let iss = self.rng.gen();
        let own_mss = *[64u16, 100, 536, 1460, 9000, 12000]
            .get(self.rng.gen_range(0..6))
            .unwrap();
        self.add(s, connect, tag, iss, own_mss);
    }

    /// SOCK_ADD (LISTEN, or SYN_SENT with CONNECT).
    pub fn add(&mut self, s: usize, connect: bool, tag: u32, iss: u32, own_mss: u16) {
        let k = &mut self.socks[s];
        k.used = true;
        k.iss = iss;
        k.own_mss = own_mss;
        k.st = (if connect { ss::SYN_SENT } else { ss::LISTEN }) as u8;
        let mut i = self.inp(s);
        put(&mut i.rq, req_hdr::TAG, u64::from(tag));
        let p = self.dut.p;
        let ctl = if connect {
            vec![p.init, p.init_connect, p.wb]
        } else {
            vec![p.init, p.wb]
        };
        self.dut.step(&ctl, &i);
        self.socks[s].snd = Snd::init(connect.then_some(tag), &self.pol);
        self.wb_ref(s);
        self.check(s, "SOCK_ADD");
    }

    fn op_post(&mut self, s: usize) {
        let mss = self.socks[s].snd.mss.max(64);
        let r = &mut self.rng;
        let len: u32 = match r.gen_range(0..10) {
            0..=4 => r.gen_range(1..=mss as u32),
            5..=7 => r.gen_range(1..=3 * mss as u32),
            8 => r.gen_range(1..=4),
            _ => r.gen_range(1..=30_000),
        };
        let first_off: u16 = if r.gen_bool(0.3) {
            0
        } else {
            r.gen_range(0..4096)
        };
        let need = (u64::from(first_off) + u64::from(len)).div_ceil(4096) as u32;
        let mut q = PostReq {
            tag: r.gen(),
            len,
            first_off,
            hmd: r.gen::<u64>() & !7,
            pages: need + r.gen_range(0..2),
            psh: r.gen_bool(0.4),
            devmem: false,
        };
        match r.gen_range(0..40) {
            0 => q.len = 0,
            1 => q.pages = need - 1,
            2 => q.devmem = true,
            3 => q.first_off = r.gen_range(4096..=u16::MAX),
            4 => q.len = (1 << 30) + r.gen_range(1..1000),
            5 => q.pages = 0,
            6..=8 => {
                // A DEVMEM post (p2p reads): its list entries cover buflets.
                let bb = BUFLET as u32;
                q.devmem = true;
                q.first_off %= bb as u16;
                q.pages = (u32::from(q.first_off) + len).div_ceil(bb) + r.gen_range(0..2);
            }
            _ => {}
        }
        let sock_ok = !self.rng.gen_bool(0.02);
        let tcp = !self.rng.gen_bool(0.02);
        self.post(s, q, sock_ok, tcp);
    }

    /// TX_POST: its status (checked), the post queued when accepted.
    pub fn post(&mut self, s: usize, q: PostReq, sock_ok: bool, tcp: bool) -> u64 {
        let mut i = self.inp(s);
        i.sock_ok = sock_ok;
        if !tcp {
            put(&mut i.sk, sock_desc::PROTO, ip_proto::UDP);
        }
        put(&mut i.rq, tx_desc::TAG, u64::from(q.tag));
        put(&mut i.rq, tx_desc::LEN, u64::from(q.len));
        put(&mut i.rq, tx_desc::FIRST_OFF, u64::from(q.first_off));
        put(&mut i.rq, tx_desc::HMD_ADDR, q.hmd);
        put(&mut i.rq, tx_desc::HMD_PAGES, u64::from(q.pages));
        let fl = u64::from(q.psh) | (u64::from(q.devmem) << 1);
        put(
            &mut i.rq,
            tx_desc::FLAGS,
            fl | (self.rng.gen::<u64>() & 0xFC),
        );
        self.ld(s, &i);
        let o = self.dut.peek_out(&i);
        let free = self.slots.iter().position(|u| !u);
        let k = &self.socks[s];
        let want = k.snd.post_status(sock_ok, k.st, tcp, &q, free.is_some());
        assert_eq!(o.post_st, want, "{}: TX_POST {q:?}", self.ctx(s, "post"));
        match want {
            status::NO_POST => self.cov.no_post += 1,
            status::BAD_NB => self.cov.bad_nb += 1,
            status::BAD_SOCK => self.cov.bad_sock += 1,
            _ => {}
        }
        if want != status::OK {
            return want;
        }
        let slot = free.unwrap();
        let p = self.dut.p;
        self.dut.step(&[p.post_take, p.wb], &i);
        self.slots[slot] = true;
        let snd = &mut self.socks[s].snd;
        snd.posts.push_back(Post {
            slot,
            tag: q.tag,
            len: u64::from(q.len),
            first_off: u64::from(q.first_off),
            hmd: q.hmd,
            psh: q.psh,
            devmem: q.devmem,
            off: snd.end,
        });
        snd.end += u64::from(q.len);
        snd.tail_psh = q.psh;
        self.cov.posts += 1;
        self.wb_ref(s);
        self.check(s, "TX_POST");
        want
    }

    fn op_close(&mut self, s: usize) {
        let sock_ok = !self.rng.gen_bool(0.03);
        let tag: u32 = self.rng.gen();
        let mut i = self.inp(s);
        i.sock_ok = sock_ok;
        put(&mut i.rq, req_hdr::TAG, u64::from(tag));
        self.ld(s, &i);
        let o = self.dut.peek_out(&i);
        let k = &self.socks[s];
        let want = k.snd.close_status(sock_ok, k.st, true);
        assert_eq!(o.close_st, want, "{}", self.ctx(s, "SOCK_CLOSE status"));
        if want != status::OK {
            return;
        }
        let p = self.dut.p;
        self.dut.step(&[p.close_take, p.wb], &i);
        let k = &mut self.socks[s];
        k.snd.fin_queued = true;
        k.snd.close_tag = Some(tag);
        k.st = (if u64::from(k.st) == ss::ESTAB {
            ss::FIN_WAIT_1
        } else {
            ss::LAST_ACK
        }) as u8;
        self.wb_ref(s);
        self.check(s, "SOCK_CLOSE");
    }

    /// Every post returned, the pending tags taken, the write-back (abort, SOCK_DEL).
    fn abort_seq(&mut self, s: usize, i: &In, cls: bool) {
        let p = self.dut.p;
        if cls {
            self.dut.step(&[p.in_abort], i);
            self.socks[s].snd.abort();
            self.check(s, "in_abort");
        }
        self.dut.step(&[p.pw_go, p.pw_all], i);
        let n = self.dut.wait(|o| o.pw_busy);
        let o = self.dut.peek_out(i);
        let (posts, acked) = self.socks[s].snd.return_all();
        self.cov.returns += u64::from(!posts.is_empty());
        self.check_pw(s, &o, &posts, acked, n, "post return");
        self.pending(s, i);
        self.wb(s, i, "abort write-back");
    }

    fn check_pw(&mut self, s: usize, o: &Out, posts: &[Post], bytes: u64, cycles: u64, what: &str) {
        let ctx = self.ctx(s, what);
        self.last_pw = Some((o.pw_count, o.pw_bytes, o.pw_tag));
        assert_eq!(o.pw_count, posts.len() as u64, "{ctx}: pw_count");
        if let Some(last) = posts.last() {
            assert_eq!(
                o.pw_bytes,
                bytes.min(u64::from(u32::MAX)),
                "{ctx}: pw_bytes"
            );
            assert_eq!(o.pw_tag, last.tag, "{ctx}: pw_tag");
        }
        for p in posts {
            assert!(self.slots[p.slot], "{ctx}: slot {} not in use", p.slot);
            self.slots[p.slot] = false;
        }
        if self.full_rate {
            assert!(
                cycles <= 2 * posts.len() as u64 + 3,
                "{ctx}: post walk of {} posts took {cycles} cycles",
                posts.len()
            );
        }
        self.check(s, what);
    }

    /// A pending active open and SOCK_CLOSE are taken (their tags checked).
    fn pending(&mut self, s: usize, i: &In) {
        let p = self.dut.p;
        let ctx = self.ctx(s, "pending tags");
        let o = self.dut.peek_out(i);
        let k = &mut self.socks[s];
        assert_eq!(
            o.connect_pend,
            k.snd.connect_tag.is_some(),
            "{ctx}: connect_pend"
        );
        assert_eq!(o.close_pend, k.snd.close_tag.is_some(), "{ctx}: close_pend");
        if let Some(t) = k.snd.connect_tag.take() {
            let o = self.dut.step(&[p.take_connect], i);
            assert_eq!(o.connect_tag, t, "{ctx}: connect_tag");
        }
        if let Some(t) = self.socks[s].snd.close_tag.take() {
            let o = self.dut.step(&[p.take_close], i);
            assert_eq!(o.close_tag, t, "{ctx}: close_tag");
        }
        self.check(s, "tags taken");
    }

    pub fn op_del(&mut self, s: usize) {
        let i = self.inp(s);
        self.ld(s, &i);
        self.abort_seq(s, &i, false);
        let k = &mut self.socks[s];
        k.used = false;
        k.st = ss::FREE as u8;
    }

    // ------------------------------------------------------------------ frames
    fn syn_fields(&mut self, i: &mut In) {
        let r = &mut self.rng;
        i.mt_seq = r.gen();
        i.mt_window = if r.gen_bool(0.1) {
            0
        } else {
            r.gen_range(1..=u16::MAX)
        };
        i.mt_ws = r.gen_bool(0.7).then(|| r.gen_range(0..=3));
        i.mt_mss = if r.gen_bool(0.2) {
            0
        } else {
            r.gen_range(40..=10_000)
        };
        i.mt_pay_len = 0;
    }

    /// A peer's SYN in LISTEN: on_syn, SYN_RCVD.
    fn op_syn(&mut self, s: usize) {
        let mut i = self.inp(s);
        self.syn_fields(&mut i);
        self.syn(s, i);
    }

    /// The peer's SYN (`i`'s frame fields) in LISTEN.
    pub fn syn(&mut self, s: usize, mut i: In) {
        i.mt_flags = SYN;
        self.ld(s, &i);
        self.socks[s].st = ss::SYN_RCVD as u8;
        i.st_now = self.socks[s].st;
        let p = self.dut.p;
        self.dut.step(&[p.in_syn], &i);
        let k = &mut self.socks[s];
        let iss = k.iss;
        k.snd.on_syn(
            i.mt_window,
            i.mt_ws,
            i.mt_mss,
            k.own_mss,
            &self.pol,
            i.mt_seq,
            iss,
        );
        k.peer_seq = i.mt_seq.wrapping_add(1);
        k.win = self.rng.gen_range(1..=8000);
        self.check(s, "on_syn");
        self.wb(s, &i, "SYN write-back");
    }

    /// The ACK that ends the passive handshake.
    pub fn op_est(&mut self, s: usize) {
        let mut i = self.inp(s);
        let k = &self.socks[s];
        (i.mt_seq, i.mt_ack, i.mt_window, i.mt_pay_len, i.mt_flags) =
            (k.peer_seq, k.iss.wrapping_add(1), k.win, 0, ACK);
        self.ld(s, &i);
        self.socks[s].st = ss::ESTAB as u8;
        i.st_now = self.socks[s].st;
        let p = self.dut.p;
        self.dut.step(&[p.in_est], &i);
        self.socks[s].snd.on_established(&self.pol);
        self.check(s, "on_established");
        self.dut.ack_gap();
        let o = self.dut.step(&[p.in_ack], &i);
        self.ref_ack(s, &i);
        self.after_ack(s, &i, &o, false);
    }

    /// The SYN-ACK of an active open: on_syn, on_established, the connect's tag, its ACK.
    fn op_synack(&mut self, s: usize) {
        let mut i = self.inp(s);
        self.syn_fields(&mut i);
        i.mt_ack = self.socks[s].iss.wrapping_add(1);
        i.mt_flags = SYN | ACK;
        i.syn_active = true;
        self.ld(s, &i);
        let p = self.dut.p;
        self.dut.step(&[p.in_syn], &i);
        let k = &mut self.socks[s];
        k.snd.on_syn(
            i.mt_window,
            i.mt_ws,
            i.mt_mss,
            k.own_mss,
            &self.pol,
            i.mt_seq,
            i.mt_ack,
        );
        k.peer_seq = i.mt_seq.wrapping_add(1);
        k.win = self.rng.gen_range(1..=8000);
        self.check(s, "on_syn (active)");
        self.socks[s].st = ss::ESTAB as u8;
        i.st_now = self.socks[s].st;
        self.dut.step(&[p.in_est], &i);
        self.socks[s].snd.on_established(&self.pol);
        self.check(s, "on_established (active)");
        let ctx = self.ctx(s, "connect");
        let tag = self.socks[s]
            .snd
            .connect_tag
            .take()
            .expect("a pending connect");
        let o = self.dut.step(&[p.take_connect], &i);
        assert!(o.connect_pend, "{ctx}: connect_pend");
        assert_eq!(o.connect_tag, tag, "{ctx}: connect_tag");
        self.cov.connects += 1;
        self.dut.ack_gap();
        let o = self.dut.step(&[p.in_ack], &i);
        self.ref_ack(s, &i);
        self.after_ack(s, &i, &o, false);
    }

    /// An RST in SYN_RCVD: the SYN-ACK timer stops, LISTEN.
    fn op_rst_synrcvd(&mut self, s: usize) {
        let i = self.inp(s);
        self.ld(s, &i);
        self.socks[s].st = ss::LISTEN as u8;
        let p = self.dut.p;
        self.dut.step(&[p.in_stop], &i);
        self.socks[s].snd.timer = 0;
        self.check(s, "in_stop");
        self.wb(s, &i, "RST write-back");
    }

    /// An RST refusing an active open (SYN_SENT): the connect completes (RESET), then the
    /// abort returns the posts made early.
    fn op_rst_synsent(&mut self, s: usize) {
        let mut i = self.inp(s);
        self.ld(s, &i);
        self.socks[s].st = ss::CLOSED as u8;
        i.st_now = self.socks[s].st;
        let p = self.dut.p;
        let ctx = self.ctx(s, "connect refused");
        let tag = self.socks[s]
            .snd
            .connect_tag
            .take()
            .expect("a pending connect");
        let o = self.dut.step(&[p.take_connect], &i);
        assert!(o.connect_pend, "{ctx}: connect_pend");
        assert_eq!(o.connect_tag, tag, "{ctx}: connect_tag");
        self.check(s, "connect taken");
        self.cov.refused += 1;
        self.abort_seq(s, &i, true);
        self.wb(s, &i, "RST frame write-back");
    }

    /// The peer's RST in a synchronized state: CLOSED, every post returned.
    pub fn op_rst(&mut self, s: usize) {
        let mut i = self.inp(s);
        self.ld(s, &i);
        self.socks[s].st = ss::CLOSED as u8;
        i.st_now = self.socks[s].st;
        self.abort_seq(s, &i, true);
        self.wb(s, &i, "RST frame write-back");
    }

    fn ref_ack(&mut self, s: usize, i: &In) -> bool {
        let k = &mut self.socks[s];
        let fast = k.snd.ack(
            k.iss,
            i.mt_seq,
            i.mt_ack,
            i.mt_window,
            i.mt_pay_len,
            i.mt_flags & (SYN | FIN) != 0,
            i.mt_flags & SYN != 0,
            &self.pol,
            &mut self.cov,
        );
        self.ev.fast_retrans += u64::from(fast);
        fast
    }

    /// After snd_ack (the output `o` of the in_ack cycle): completions by the post walk,
    /// our FIN's acknowledgment, the write-back.
    fn after_ack(&mut self, s: usize, i: &In, o: &Out, wrote: bool) {
        let ctx = self.ctx(s, "after ACK");
        let k = &self.socks[s];
        assert_eq!(o.pw_need, k.snd.pw_need(), "{ctx}: pw_need");
        let due = k.snd.fin_acked() && k.snd.close_tag.is_some();
        assert_eq!(o.close_due, due, "{ctx}: close_due");
        if wrote {
            self.wb_ref(s);
            self.check(s, "ACK write-back");
            if !o.pw_need && !o.close_due {
                return;
            }
        } else {
            self.check(s, "snd_ack");
        }
        let p = self.dut.p;
        if self.socks[s].snd.pw_need() {
            self.dut.step(&[p.pw_go], i);
            let n = self.dut.wait(|o| o.pw_busy);
            let o = self.dut.peek_out(i);
            let done = self.socks[s].snd.complete();
            let bytes = done.iter().map(|p| p.len).sum();
            self.cov.completions += 1;
            self.cov.multi_completions += u64::from(done.len() > 1);
            self.check_pw(s, &o, &done, bytes, n, "completions");
        }
        let o = self.dut.peek_out(i);
        let k = &mut self.socks[s];
        assert_eq!(o.fin_acked, k.snd.fin_acked(), "{ctx}: fin_acked");
        if k.snd.fin_acked() && k.snd.close_tag.is_some() {
            let t = k.snd.close_tag.take().unwrap();
            k.st = (match u64::from(k.st) {
                ss::FIN_WAIT_1 => ss::FIN_WAIT_2,
                _ => ss::CLOSED,
            }) as u8;
            let o = self.dut.step(&[p.take_close], i);
            assert!(o.close_pend, "{ctx}: close_pend");
            assert_eq!(o.close_tag, t, "{ctx}: close_tag");
            self.cov.closes_done += 1;
        }
        self.wb(s, i, "ACK final write-back");
    }

    /// An ACK from the peer in a synchronized state.
    fn op_ack(&mut self, s: usize) {
        let mut i = self.inp(s);
        let r = &mut self.rng;
        let k = &mut self.socks[s];
        let una_seq = k.iss.wrapping_add(1).wrapping_add(k.snd.una as u32);
        let fl = k.snd.max.saturating_sub(k.snd.una) as u32;
        let dup = r.gen_bool(0.35);
        let ack = if dup {
            una_seq
        } else {
            match r.gen_range(0..20) {
                0..=13 if fl > 0 => {
                    if r.gen_bool(0.4) {
                        una_seq.wrapping_add(fl)
                    } else {
                        una_seq.wrapping_add(r.gen_range(1..=fl))
                    }
                }
                14..=16 => una_seq.wrapping_sub(r.gen_range(1..100_000)),
                17 => una_seq.wrapping_add(fl + r.gen_range(1..5000)),
                _ => una_seq,
            }
        };
        if !dup && r.gen_bool(0.25) {
            k.win = if r.gen_bool(0.3) {
                0
            } else {
                r.gen_range(1..=8000)
            };
        }
        let mut flags = ACK;
        let mut pay = 0u16;
        if !dup && r.gen_bool(0.2) {
            pay = r.gen_range(1..=1000);
        }
        let mut seq = k.peer_seq;
        if !dup && r.gen_bool(0.05) {
            seq = seq.wrapping_sub(r.gen_range(1..1000));
        }
        if !dup && u64::from(k.st) == ss::ESTAB && r.gen_bool(0.03) {
            flags |= FIN;
            k.st = ss::CLOSE_WAIT as u8;
        }
        if seq == k.peer_seq {
            k.peer_seq = k
                .peer_seq
                .wrapping_add(u32::from(pay) + u32::from(flags & FIN != 0));
        }
        (
            i.mt_seq,
            i.mt_ack,
            i.mt_window,
            i.mt_pay_len,
            i.mt_flags,
            i.st_now,
        ) = (seq, ack, k.win, pay, flags, k.st);
        self.ack_frame(s, i);
    }

    /// An ACK frame `i` (its SEQ, ACK, WINDOW, payload length, flags) in a synchronized
    /// state.
    pub fn ack_frame(&mut self, s: usize, i: In) {
        let ack = i.mt_ack;
        self.ld(s, &i);
        let o = self.dut.peek_out(&i);
        let k = &self.socks[s];
        let ctx = self.ctx(s, "ACK checks");
        let unsent = k.snd.acks_unsent(k.iss, ack);
        assert_eq!(o.ack_unsent, unsent, "{ctx}: ack_unsent (ACK {ack:#x})");
        assert_eq!(
            o.snd_seq,
            k.iss.wrapping_add(1).wrapping_add(k.snd.max as u32),
            "{ctx}: snd_seq"
        );
        if unsent {
            self.cov.ack_unsent += 1;
            return;
        }
        let p = self.dut.p;
        self.dut.ack_gap();
        let o = self.dut.step(&[p.in_ack, p.wb], &i);
        self.ref_ack(s, &i);
        self.after_ack(s, &i, &o, true);
    }

    // ------------------------------------------------------------------ timers
    pub fn op_tick(&mut self, s: usize) {
        let i = self.inp(s);
        self.ld(s, &i);
        let p = self.dut.p;
        let o = self.dut.step(&[p.in_tick, p.wb], &i);
        let st = self.socks[s].st;
        let tk = self.socks[s].snd.tick(st, &self.pol);
        self.last_tk = tk;
        let got = o.tk;
        let want = [tk.synack, tk.listen, tk.fail, tk.reset, tk.rto];
        assert_eq!(
            got,
            want,
            "{}: tk_[synack, listen, fail, reset, rto]",
            self.ctx(s, "tick")
        );
        self.wb_ref(s);
        self.check(s, "tick");
        self.cov.synacks += u64::from(tk.synack);
        self.cov.listens += u64::from(tk.listen);
        self.cov.fails += u64::from(tk.fail);
        self.cov.resets += u64::from(tk.reset);
        self.cov.rtos += u64::from(tk.rto);
        if tk.listen {
            self.socks[s].st = ss::LISTEN as u8;
        }
        if tk.fail || tk.reset {
            self.socks[s].st = ss::CLOSED as u8;
            let mut i = self.inp(s);
            i.st_now = ss::CLOSED as u8;
            self.abort_seq(s, &i, true);
        }
    }

    // ------------------------------------------------------------------ the send step
    /// The send step of the socket at the head of the send-ready FIFO, if any.
    pub fn op_send(&mut self) {
        let p = self.dut.p;
        // a write-back queues its socket at the edge after it: one idle cycle first
        self.dut.cycle(&[], None);
        let o = self.dut.cycle(&[], None);
        assert_eq!(
            o.tq_valid,
            !self.tq.is_empty(),
            "{} op {}: tq_valid",
            self.name,
            self.n_op
        );
        if !o.tq_valid {
            return;
        }
        self.dut.idle();
        let o = self.dut.cycle(&[p.tq_pop], None);
        let s = self.tq.pop_front().unwrap();
        assert_eq!(o.tq_sock, s, "{} op {}: tq_sock", self.name, self.n_op);
        self.tq_in[s] = false;
        let i = self.inp(s);
        self.ld(s, &i);
        let o = self.dut.step(&[p.in_seg], &i);
        let k = &self.socks[s];
        let seg = k.snd.next_seg();
        let ctx = self.ctx(s, "send step");
        assert_eq!(
            o.seg_any,
            seg.is_some(),
            "{ctx}: seg_any (reference {seg:?})"
        );
        let Some(seg) = seg else {
            self.cov.tq_dup_skipped += 1;
            return;
        };
        assert_eq!(
            (o.seg_seq, o.seg_len, o.seg_fin),
            (
                k.iss.wrapping_add(1).wrapping_add(seg.off as u32),
                seg.len,
                seg.fin
            ),
            "{ctx}: (seg_seq, seg_len, seg_fin) of {seg:?}"
        );
        if !k.used {
            return; // deleted while on the list: it sends nothing
        }
        self.send(s, &i, seg);
    }

    fn send(&mut self, s: usize, i: &In, seg: Seg) {
        let p = self.dut.p;
        let ctx = self.ctx(s, "piece walk");
        self.dut.step(&[p.seg_go], i);
        let n = self.dut.wait(|o| o.walk_busy);
        let got = self.dut.take_pieces();
        self.last = Some((s, seg, got.clone()));
        let k = &self.socks[s];
        let want = k.snd.pieces(&seg);
        assert_eq!(got, want, "{ctx}: pieces of {seg:?}");
        if self.full_rate {
            assert!(
                n <= want.len() as u64 + 2,
                "{ctx}: {} pieces took {n} cycles",
                want.len()
            );
        }
        self.cov.segs += 1;
        self.cov.multi_piece += u64::from(want.len() > 1);
        self.cov.psh_pieces += u64::from(want.last().is_some_and(|p| p.4));
        self.cov.dev_pieces += want.iter().filter(|p| p.5).count() as u64;
        self.cov.fins += u64::from(seg.fin);
        self.cov.probes += u64::from(seg.probe);
        self.dut.step(&[p.in_sent, p.wb], i);
        let k = &mut self.socks[s];
        self.ev.probes += u64::from(seg.probe);
        self.ev.retrans += u64::from(seg.off < k.snd.max);
        if seg.len > 0 {
            self.ev.data_segs += 1;
            self.ev.data_bytes += seg.len;
        }
        k.snd.sent(&seg);
        self.wb_ref(s);
        self.check(s, "in_sent");
    }

    // ------------------------------------------------------------------ the stream
    fn op(&mut self) {
        if self.rng.gen_bool(0.4) {
            return self.op_send();
        }
        let s = self.rng.gen_range(0..self.socks.len());
        let r: u32 = self.rng.gen_range(0..100);
        let k = &self.socks[s];
        if !k.used {
            if r < 50 {
                self.op_add(s);
            }
            return;
        }
        let flip = if self.socks[s].deaf { 0.01 } else { 0.02 };
        if self.rng.gen_bool(flip) {
            self.socks[s].deaf = !self.socks[s].deaf;
        }
        let k = &self.socks[s];
        let st = u64::from(k.st);
        if k.deaf && st != ss::LISTEN {
            return match r {
                0..=59 => self.op_tick(s),
                60..=79 => self.op_post(s),
                _ => {}
            };
        }
        match st {
            ss::LISTEN => match r {
                0..=39 => self.op_syn(s),
                40..=69 => self.op_post(s),
                70..=79 => self.op_tick(s),
                80..=82 => self.op_del(s),
                _ => {}
            },
            ss::SYN_RCVD => match r {
                0..=29 => self.op_est(s),
                30..=34 => self.op_rst_synrcvd(s),
                35..=74 => self.op_tick(s),
                75..=89 => self.op_post(s),
                _ => {}
            },
            ss::SYN_SENT => match r {
                0..=26 => self.op_synack(s),
                27..=29 => self.op_rst_synsent(s),
                30..=69 => self.op_tick(s),
                70..=84 => self.op_post(s),
                85..=86 => self.op_del(s),
                _ => {}
            },
            _ if st_open(k.st) => match r {
                0..=44 => self.op_ack(s),
                45..=69 => self.op_post(s),
                70..=90 => self.op_tick(s),
                91..=93 => self.op_close(s),
                94 => self.op_rst(s),
                95 => self.op_del(s),
                _ => {}
            },
            _ => match r {
                0..=19 => self.op_del(s),
                20..=29 => self.op_post(s),
                30..=39 => self.op_close(s),
                40..=59 => self.op_tick(s),
                _ => {}
            },
        }
    }
}

/// One random run of `n_ops` operations on model `name` (`n_sock` sockets, `n_posts` post
/// slots), idle probability `idle_p`, piece backpressure `stall_p`.
pub fn run(
    name: &str,
    n_sock: usize,
    n_posts: usize,
    seed: u64,
    n_ops: usize,
    idle_p: f64,
    stall_p: f64,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pol = Policy {
        rto_init: rng.gen_range(1..=3),
        rto_min: rng.gen_range(1..=2),
        rto_max: rng.gen_range(8..=16),
        retries: rng.gen_range(2..=4),
    };
    let mut w = World::new(name, n_sock, n_posts, seed, (idle_p, stall_p), pol, rng);
    for n in 0..n_ops {
        w.n_op = n;
        w.op();
    }
    w.finish();
    let c = &w.cov;
    eprintln!(
        "{name}: {n_ops} operations in {} cycles; {c:?}",
        w.dut.cycles
    );
    let need = [
        ("fast retransmits", c.fast_retrans),
        ("window inflations", c.inflate),
        ("partial ACKs", c.partial_acks),
        ("full ACKs", c.full_acks),
        ("slow start", c.slow_start),
        ("congestion avoidance growth", c.abc_grow),
        ("RTT samples", c.rtt_samples),
        ("timeouts", c.rtos),
        ("probes", c.probes),
        ("persist ends", c.persist_end),
        ("give-ups", c.resets),
        ("SYN_RCVD give-ups", c.listens),
        ("active open failures", c.fails),
        ("SYN-ACK resends", c.synacks),
        ("NO_POST", c.no_post),
        ("BAD_NB", c.bad_nb),
        ("BAD_SOCK", c.bad_sock),
        ("completions", c.completions),
        ("multi-post completions", c.multi_completions),
        ("post returns", c.returns),
        ("multi-piece segments", c.multi_piece),
        ("PSH pieces", c.psh_pieces),
        ("DEVMEM pieces", c.dev_pieces),
        ("FINs", c.fins),
        ("closes done", c.closes_done),
        ("ACKs of unsent data", c.ack_unsent),
        ("active opens", c.connects),
        ("refused active opens", c.refused),
    ];
    let missing: Vec<&str> = need
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(s, _)| *s)
        .collect();
    assert!(missing.is_empty(), "{name}: never exercised: {missing:?}");
}
