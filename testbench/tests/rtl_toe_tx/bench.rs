//! The harness: toe_tx (through `toe_tx_peek`) driven one control cycle at a time, as
//! toe_engine's states drive it, with seeded random idle cycles (garbage on every data input)
//! between and inside the steps, backpressure on the piece stream, and the send-ready FIFO
//! popped at random times.

use buflet_sim::axis::{AxisBus, AxisSink};
use buflet_sim::{ports, Model, Port};
use buflet_spec::{snd_ctx, snd_flag};
use buflet_testbench::rtl_check::reset;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::reference::{Piece, Policy, Snd};

pub const NULL16: u64 = 0xFFFF;

/// The data inputs of a step (the rest of the cycle's inputs are garbage).
#[derive(Debug, Clone, Default)]
pub struct In {
    pub sk_idx: usize,
    pub sk: Vec<u8>,
    pub rq: Vec<u8>,
    pub st_now: u8,
    pub sock_ok: bool,
    pub mt_seq: u32,
    pub mt_ack: u32,
    pub mt_window: u16,
    pub mt_pay_len: u16,
    pub mt_flags: u8,
    pub mt_ws: Option<u8>,
    pub mt_mss: u16,
    pub syn_active: bool,
}

/// Outputs sampled in a cycle (after the evaluation, before the clock edge).
#[derive(Debug, Clone, Copy, Default)]
pub struct Out {
    pub post_st: u64,
    pub close_st: u64,
    pub ack_unsent: bool,
    pub snd_seq: u32,
    pub connect_pend: bool,
    pub connect_tag: u32,
    pub close_pend: bool,
    pub close_tag: u32,
    pub fin_acked: bool,
    pub pw_need: bool,
    pub close_due: bool,
    pub tk: [bool; 5],
    pub seg_any: bool,
    pub seg_seq: u32,
    pub seg_len: u64,
    pub seg_fin: bool,
    pub walk_busy: bool,
    pub pw_busy: bool,
    pub pw_count: u64,
    pub pw_bytes: u64,
    pub pw_tag: u32,
    pub tq_valid: bool,
    pub tq_sock: usize,
}

/// Counter events seen (one-cycle pulses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    pub fast_retrans: u64,
    pub probes: u64,
    pub retrans: u64,
    pub data_segs: u64,
    pub data_bytes: u64,
}

pub struct Dut {
    pub m: Model,
    pub p: ports::ToeTxPeek,
    pub name: String,
    rng: ChaCha8Rng,
    idle_p: f64,
    pc_sink: AxisSink,
    /// Pieces taken from m_pc since the last `take_pieces`.
    pieces: Vec<Piece>,
    pub ev: Events,
    pub cycles: u64,
    pol: Policy,
    ctl: Vec<Port>,
}

impl Dut {
    pub fn new(name: &str, seed: u64, idle_p: f64, stall_p: f64, pol: Policy) -> Dut {
        let mut m = Model::new(name).expect("model built (sim/models.txt)");
        let p = ports::ToeTxPeek::bind(&m).expect("ports");
        let pc_bus = AxisBus::new(p.m_pc_valid)
            .tready(p.m_pc_ready)
            .sideband("hmd", p.m_pc_hmd)
            .sideband("at", p.m_pc_at)
            .sideband("len", p.m_pc_len)
            .sideband("last", p.m_pc_last)
            .sideband("psh", p.m_pc_psh)
            .sideband("dev", p.m_pc_dev);
        let pc_sink = AxisSink::new(&m, pc_bus, stall_p, seed ^ 0x5eed).unwrap();
        let ctl = vec![
            p.ld,
            p.wb,
            p.init,
            p.init_connect,
            p.post_take,
            p.close_take,
            p.in_syn,
            p.in_est,
            p.in_stop,
            p.in_ack,
            p.in_tick,
            p.in_seg,
            p.seg_go,
            p.in_sent,
            p.in_abort,
            p.take_connect,
            p.take_close,
            p.pw_go,
            p.pw_all,
            p.tq_pop,
        ];
        for &c in &ctl {
            m.set(c, 0);
        }
        reset(&mut m, p.clk, p.rst, 3);
        Dut {
            m,
            p,
            name: name.to_string(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xd17),
            idle_p,
            pc_sink,
            pieces: Vec::new(),
            ev: Events::default(),
            cycles: 0,
            pol,
            ctl,
        }
    }

    fn apply(&mut self, inp: Option<&In>) {
        let p = self.p;
        let m = &mut self.m;
        m.set(p.rto_init, u64::from(self.pol.rto_init));
        m.set(p.rto_min, u64::from(self.pol.rto_min));
        m.set(p.rto_max, u64::from(self.pol.rto_max));
        m.set(p.retries, u64::from(self.pol.retries));
        match inp {
            Some(i) => {
                m.set(p.sk_idx, i.sk_idx as u64);
                m.set_bytes(p.sk, &i.sk);
                m.set_bytes(p.rq, &i.rq);
                m.set(p.st_now, u64::from(i.st_now));
                m.set(p.sock_ok, u64::from(i.sock_ok));
                m.set(p.mt_seq, u64::from(i.mt_seq));
                m.set(p.mt_ack, u64::from(i.mt_ack));
                m.set(p.mt_window, u64::from(i.mt_window));
                m.set(p.mt_pay_len, u64::from(i.mt_pay_len));
                m.set(p.mt_flags, u64::from(i.mt_flags));
                m.set(p.mt_ws_valid, u64::from(i.mt_ws.is_some()));
                m.set(
                    p.mt_ws,
                    u64::from(i.mt_ws.unwrap_or(self.rng.gen_range(0..16))),
                );
                m.set(p.mt_mss, u64::from(i.mt_mss));
                m.set(p.syn_active, u64::from(i.syn_active));
            }
            None => {
                let r = &mut self.rng;
                let mut junk = vec![0u8; 64];
                r.fill(&mut junk[..]);
                m.set_bytes(p.sk, &junk);
                r.fill(&mut junk[..]);
                m.set_bytes(p.rq, &junk);
                for port in [
                    p.sk_idx,
                    p.st_now,
                    p.sock_ok,
                    p.mt_seq,
                    p.mt_ack,
                    p.mt_window,
                    p.mt_pay_len,
                    p.mt_flags,
                    p.mt_ws_valid,
                    p.mt_ws,
                    p.mt_mss,
                    p.syn_active,
                ] {
                    m.set(port, r.gen());
                }
            }
        }
    }

    fn read(&self) -> Out {
        let m = &self.m;
        let p = &self.p;
        let b = |x: Port| m.get(x) == 1;
        Out {
            post_st: m.get(p.post_st),
            close_st: m.get(p.close_st),
            ack_unsent: b(p.ack_unsent),
            snd_seq: m.get(p.snd_seq) as u32,
            connect_pend: b(p.connect_pend),
            connect_tag: m.get(p.connect_tag) as u32,
            close_pend: b(p.close_pend),
            close_tag: m.get(p.close_tag) as u32,
            fin_acked: b(p.fin_acked),
            pw_need: b(p.pw_need),
            close_due: b(p.close_due),
            tk: [
                b(p.tk_synack),
                b(p.tk_listen),
                b(p.tk_fail),
                b(p.tk_reset),
                b(p.tk_rto),
            ],
            seg_any: b(p.seg_any),
            seg_seq: m.get(p.seg_seq) as u32,
            seg_len: m.get(p.seg_len),
            seg_fin: b(p.seg_fin),
            walk_busy: b(p.walk_busy),
            pw_busy: b(p.pw_busy),
            pw_count: m.get(p.pw_count),
            pw_bytes: m.get(p.pw_bytes),
            pw_tag: m.get(p.pw_tag) as u32,
            tq_valid: b(p.tq_valid),
            tq_sock: m.get(p.tq_sock) as usize,
        }
    }

    /// One cycle with the control inputs `ctl` high and the data inputs `inp` (garbage when
    /// `None`); the outputs before the clock edge.
    pub fn cycle(&mut self, ctl: &[Port], inp: Option<&In>) -> Out {
        self.cycles += 1;
        assert!(self.cycles < 50_000_000, "{}: runaway", self.name);
        for i in 0..self.ctl.len() {
            let c = self.ctl[i];
            self.m.set(c, u64::from(ctl.contains(&c)));
        }
        self.apply(inp);
        self.pc_sink.drive(&mut self.m);
        self.m.eval();
        let o = self.read();
        if let Some(bt) = self.pc_sink.sample(&self.m) {
            let s = &bt.sideband;
            self.pieces.push((
                s[0],
                s[1] as u32,
                s[2] as u16,
                s[3] == 1,
                s[4] == 1,
                s[5] == 1,
            ));
        }
        let p = &self.p;
        let g = |x: Port| self.m.get(x);
        self.ev.fast_retrans += g(p.ev_fast_retrans);
        self.ev.probes += g(p.ev_probe);
        self.ev.retrans += g(p.ev_retrans);
        if g(p.ev_data_seg) == 1 {
            self.ev.data_segs += 1;
            self.ev.data_bytes += g(p.ev_data_bytes);
        }
        self.m.tick(p.clk);
        o
    }

    /// Random idle cycles (each with probability idle_p).
    pub fn idle(&mut self) {
        while self.idle_p > 0.0 && self.rng.gen_bool(self.idle_p) {
            self.cycle(&[], None);
        }
    }

    /// The cycle toe_engine spends between loading (or last changing) the send state and
    /// the ACK step (S_TCP; S_SA3 and S_SA4): toe_tx registers the step's operands from the
    /// state then. Garbage on the inputs, no control.
    pub fn ack_gap(&mut self) {
        self.cycle(&[], None);
    }

    /// Idle cycles, then one step cycle.
    pub fn step(&mut self, ctl: &[Port], inp: &In) -> Out {
        self.idle();
        self.cycle(ctl, Some(inp))
    }

    /// The outputs now, with `inp` on the inputs and no control (no clock edge taken).
    pub fn peek_out(&mut self, inp: &In) -> Out {
        for i in 0..self.ctl.len() {
            let c = self.ctl[i];
            self.m.set(c, 0);
        }
        self.apply(Some(inp));
        self.m.eval();
        self.read()
    }

    pub fn take_pieces(&mut self) -> Vec<Piece> {
        std::mem::take(&mut self.pieces)
    }

    /// Cycles until `busy(out)` is false (idle cycles, garbage inputs); how many.
    pub fn wait(&mut self, busy: impl Fn(&Out) -> bool) -> u64 {
        let mut n = 0;
        loop {
            // the outputs with nothing driven: sample without a step
            let o = self.cycle(&[], None);
            n += 1;
            if !busy(&o) {
                return n;
            }
            assert!(n < 100_000, "{}: stuck busy", self.name);
        }
    }

    /// One field of the working send state.
    pub fn sn_field(&self, f: (usize, usize)) -> u64 {
        field(&self.sn(), f)
    }

    /// The working send state (snd_ctx bytes).
    pub fn sn(&self) -> Vec<u8> {
        let mut b = vec![0u8; snd_ctx::SIZE];
        self.m.get_bytes(self.p.peek_sn, &mut b);
        b
    }
}

fn field(b: &[u8], f: (usize, usize)) -> u64 {
    let mut v = [0u8; 8];
    v[..f.1].copy_from_slice(&b[f.0..f.0 + f.1]);
    u64::from_le_bytes(v)
}

/// Checks the RTL's working send state `b` against the reference `r`.
pub fn check_state(b: &[u8], r: &Snd, ctx: &str) {
    let fl = field(b, snd_ctx::SFLAGS);
    let has = |f: u64| fl & f != 0;
    let got = |f| field(b, f);
    let mut want: Vec<(&str, u64, u64)> = vec![
        ("UNA", got(snd_ctx::UNA), r.una),
        ("NXT", got(snd_ctx::NXT), r.nxt),
        ("MAX", got(snd_ctx::MAX), r.max),
        ("END", got(snd_ctx::END), r.end),
        ("WND", got(snd_ctx::WND), r.wnd),
        ("WL1", got(snd_ctx::WL1), u64::from(r.wl1)),
        ("WL2", got(snd_ctx::WL2), u64::from(r.wl2)),
        ("CWND", got(snd_ctx::CWND), r.cwnd),
        ("SSTHRESH", got(snd_ctx::SSTHRESH), r.ssthresh),
        ("ABC", got(snd_ctx::ABC), r.abc),
        ("SRTT", got(snd_ctx::SRTT), u64::from(r.srtt)),
        ("RTTVAR", got(snd_ctx::RTTVAR), u64::from(r.rttvar)),
        ("RTO", got(snd_ctx::RTO), u64::from(r.rto)),
        ("TIMER", got(snd_ctx::TIMER), u64::from(r.timer)),
        ("BACKOFF", got(snd_ctx::BACKOFF), u64::from(r.backoff)),
        ("MSS", got(snd_ctx::MSS), r.mss),
        ("WSCALE", got(snd_ctx::WSCALE), u64::from(r.wscale)),
        ("DUPACKS", got(snd_ctx::DUPACKS), u64::from(r.dupacks)),
        ("RECOVER", got(snd_ctx::RECOVER), r.recover),
        ("OPEN", u64::from(has(snd_flag::OPEN)), u64::from(r.open)),
        (
            "RECOVERY",
            u64::from(has(snd_flag::RECOVERY)),
            u64::from(r.in_recovery),
        ),
        ("RETX", u64::from(has(snd_flag::RETX)), u64::from(r.retx)),
        (
            "PERSIST",
            u64::from(has(snd_flag::PERSIST)),
            u64::from(r.persist),
        ),
        ("PROBE", u64::from(has(snd_flag::PROBE)), u64::from(r.probe)),
        (
            "FIN_QUEUED",
            u64::from(has(snd_flag::FIN_QUEUED)),
            u64::from(r.fin_queued),
        ),
        (
            "CLOSE_PEND",
            u64::from(has(snd_flag::CLOSE_PEND)),
            u64::from(r.close_tag.is_some()),
        ),
        (
            "CONNECT_PEND",
            u64::from(has(snd_flag::CONNECT_PEND)),
            u64::from(r.connect_tag.is_some()),
        ),
        (
            "RTT_ON",
            u64::from(has(snd_flag::RTT_ON)),
            u64::from(r.rtt.is_some()),
        ),
        (
            "POST_HEAD",
            got(snd_ctx::POST_HEAD),
            r.posts.front().map_or(NULL16, |p| p.slot as u64),
        ),
        (
            "POST_TAIL",
            got(snd_ctx::POST_TAIL),
            r.posts.back().map_or(NULL16, |p| p.slot as u64),
        ),
    ];
    if let Some((until, ticks)) = r.rtt {
        want.push(("RTT_UNTIL", got(snd_ctx::RTT_UNTIL), until));
        want.push(("RTT_TICKS", got(snd_ctx::RTT_TICKS), u64::from(ticks)));
    }
    if let Some(t) = r.close_tag {
        want.push(("CLOSE_TAG", got(snd_ctx::CLOSE_TAG), u64::from(t)));
    }
    if let Some(t) = r.connect_tag {
        want.push(("CONNECT_TAG", got(snd_ctx::CONNECT_TAG), u64::from(t)));
    }
    if let Some(h) = r.posts.front() {
        want.push(("HEAD_END", got(snd_ctx::HEAD_END), h.off + h.len));
    }
    want.push((
        "TAIL_PSH",
        u64::from(has(snd_flag::TAIL_PSH)),
        u64::from(r.tail_psh),
    ));
    let bad: Vec<String> = want
        .iter()
        .filter(|(_, g, w)| g != w)
        .map(|(n, g, w)| format!("{n}: got {g:#x}, want {w:#x}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{ctx}: send state differs: {}\nreference: {r:?}",
        bad.join("; ")
    );
}
