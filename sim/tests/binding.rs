//! Tests of the Verilator binding against the self-test model
//! (sim/selftest/sim_selftest.v): +1 on every byte, one register stage.

use std::collections::VecDeque;

use buflet_sim::{models, Dir, Model, Port, SimError};

/// xorshift64*: deterministic randomness without extra dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// True with probability num/den.
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

struct Ports {
    clk: Port,
    rst: Port,
    s_tdata: Port,
    s_tkeep: Port,
    s_tvalid: Port,
    s_tlast: Port,
    s_tready: Port,
    m_tdata: Port,
    m_tkeep: Port,
    m_tvalid: Port,
    m_tlast: Port,
    m_tready: Port,
    count: Port,
    irq: Port,
}

impl Ports {
    fn new(m: &Model) -> Ports {
        Ports {
            clk: m.input("clk").unwrap(),
            rst: m.input("rst").unwrap(),
            s_tdata: m.input("s_axis_tdata").unwrap(),
            s_tkeep: m.input("s_axis_tkeep").unwrap(),
            s_tvalid: m.input("s_axis_tvalid").unwrap(),
            s_tlast: m.input("s_axis_tlast").unwrap(),
            s_tready: m.output("s_axis_tready").unwrap(),
            m_tdata: m.output("m_axis_tdata").unwrap(),
            m_tkeep: m.output("m_axis_tkeep").unwrap(),
            m_tvalid: m.output("m_axis_tvalid").unwrap(),
            m_tlast: m.output("m_axis_tlast").unwrap(),
            m_tready: m.input("m_axis_tready").unwrap(),
            count: m.output("count").unwrap(),
            irq: m.output("irq").unwrap(),
        }
    }
}

fn reset(m: &mut Model, p: &Ports) {
    m.set(p.rst, 1);
    for _ in 0..3 {
        m.tick(p.clk);
    }
    m.set(p.rst, 0);
    m.eval();
}

#[test]
fn both_models_are_built() {
    let names: Vec<&str> = models().iter().map(|m| m.name).collect();
    assert!(names.contains(&"selftest_w64"), "{names:?}");
    assert!(names.contains(&"selftest_w512"), "{names:?}");
    assert!(!buflet_sim::VERILATOR_VERSION.is_empty());
}

#[test]
fn ports_have_the_right_widths_and_directions() {
    for (name, w) in [("selftest_w64", 64u32), ("selftest_w512", 512)] {
        let m = Model::new(name).unwrap();
        let info = m.info();
        assert_eq!(info.name, name);
        assert_eq!(info.top, "sim_selftest");
        assert_eq!(info.param("DATA_WIDTH"), Some(w.to_string().as_str()));
        let expect = [
            ("clk", Dir::In, 1),
            ("rst", Dir::In, 1),
            ("s_axis_tdata", Dir::In, w),
            ("s_axis_tkeep", Dir::In, w / 8),
            ("s_axis_tvalid", Dir::In, 1),
            ("s_axis_tlast", Dir::In, 1),
            ("s_axis_tready", Dir::Out, 1),
            ("m_axis_tdata", Dir::Out, w),
            ("m_axis_tkeep", Dir::Out, w / 8),
            ("m_axis_tvalid", Dir::Out, 1),
            ("m_axis_tlast", Dir::Out, 1),
            ("m_axis_tready", Dir::In, 1),
            ("count", Dir::Out, 64),
            ("irq", Dir::Out, 1),
        ];
        assert_eq!(info.ports.len(), expect.len(), "{:?}", info.ports);
        for (pname, dir, width) in expect {
            let (idx, pi) = info.find_port(pname).unwrap();
            assert_eq!((pi.dir, pi.width), (dir, width), "{name}.{pname}");
            let p = m.port(pname).unwrap();
            assert_eq!((p.dir(), p.width(), p.index()), (dir, width, idx));
            assert_eq!(pi.bytes(), width.div_ceil(8) as usize);
        }
    }
}

/// Streams `n` random words with random idle cycles and backpressure and
/// checks every output byte, tkeep, tlast, the word count and irq.
fn stream(name: &str, n: usize, seed: u64) {
    let mut m = Model::new(name).unwrap();
    let p = Ports::new(&m);
    let bytes = p.s_tdata.width() as usize / 8;
    let mut rng = Rng(seed);
    reset(&mut m, &p);
    assert_eq!(m.get(p.count), 0);

    let mut expected: VecDeque<(Vec<u8>, u64, bool)> = VecDeque::new();
    let mut sent = 0usize;
    let mut received = 0usize;
    let mut cur: Option<(Vec<u8>, u64, bool)> = None;
    let mut out = vec![0u8; bytes];
    let mut cycles = 0u64;
    while received < n {
        cycles += 1;
        assert!(cycles < 100 * n as u64, "stream stalled");
        // Source: maybe present a new word (a presented word stays until taken).
        if cur.is_none() && sent < n && rng.chance(2, 3) {
            let mut data = vec![0u8; bytes];
            rng.fill(&mut data);
            let keep = rng.next() & ((1u128 << bytes) - 1) as u64;
            let last = rng.chance(1, 4);
            cur = Some((data, keep, last));
        }
        match &cur {
            Some((data, keep, last)) => {
                // Exercise both the u64 and the byte paths on narrow ports.
                if bytes == 8 && rng.chance(1, 2) {
                    m.set(p.s_tdata, u64::from_le_bytes(data[..8].try_into().unwrap()));
                } else {
                    m.set_bytes(p.s_tdata, data);
                }
                m.set(p.s_tkeep, *keep);
                m.set(p.s_tlast, u64::from(*last));
                m.set(p.s_tvalid, 1);
            }
            None => {
                m.set(p.s_tvalid, 0);
                // Garbage on the data lines while idle must not matter.
                m.set(p.s_tdata, rng.next());
            }
        }
        let ready = rng.chance(3, 4);
        m.set(p.m_tready, u64::from(ready));
        m.eval();

        // Sample the handshakes just before the rising edge.
        let accepted = cur.is_some() && m.get(p.s_tready) == 1;
        let mut accepted_last = false;
        if accepted {
            let (data, keep, last) = cur.take().unwrap();
            let plus: Vec<u8> = data.iter().map(|b| b.wrapping_add(1)).collect();
            accepted_last = last;
            expected.push_back((plus, keep, last));
            sent += 1;
        }
        if m.get(p.m_tvalid) == 1 && ready {
            let (data, keep, last) = expected.pop_front().expect("output without input");
            m.get_bytes(p.m_tdata, &mut out);
            assert_eq!(out, data, "{name}: word {received}");
            assert_eq!(m.get(p.m_tkeep), keep, "{name}: tkeep of word {received}");
            assert_eq!(
                m.get(p.m_tlast) == 1,
                last,
                "{name}: tlast of word {received}"
            );
            received += 1;
        }
        m.tick(p.clk);
        assert_eq!(
            m.get(p.irq) == 1,
            accepted_last,
            "{name}: irq at cycle {cycles}"
        );
        assert_eq!(m.get(p.count), sent as u64, "{name}: count");
    }
    assert!(expected.is_empty());
    assert_eq!(m.get(p.count), n as u64);
    assert_eq!(m.cycles(), cycles + 3);
}

#[test]
fn stream_random_words_w64() {
    stream("selftest_w64", 1000, 0x1234_5678_9abc_def1);
}

#[test]
fn stream_random_words_w512() {
    stream("selftest_w512", 1000, 0x0fed_cba9_8765_4321);
}

#[test]
fn stream_random_words_w72() {
    stream("selftest_w72", 300, 0x5555_aaaa_0123_4567);
}

#[test]
fn partial_top_word_is_masked() {
    let mut m = Model::new("selftest_w72").unwrap();
    let tdata = m.port_with_width("s_axis_tdata", 72).unwrap();
    let tkeep = m.port_with_width("s_axis_tkeep", 9).unwrap();
    m.set_bytes(tdata, &[0xff; 12]);
    let mut w = [0u32; 4];
    m.get_words(tdata, &mut w);
    assert_eq!(w, [u32::MAX, u32::MAX, 0xff, 0]);
    m.set_words(tdata, &[1, 2, 0x1234_5678]);
    let mut b = [0xeeu8; 9];
    m.get_bytes(tdata, &mut b);
    assert_eq!(b, [1, 0, 0, 0, 2, 0, 0, 0, 0x78]);
    // Short slices take the word-by-word paths.
    m.set_bytes(tdata, &[1, 2, 3, 4, 5]);
    let mut b = [0xeeu8; 6];
    m.get_bytes(tdata, &mut b);
    assert_eq!(b, [1, 2, 3, 4, 5, 0]);
    let mut b = [0xeeu8; 16];
    m.get_bytes(tdata, &mut b);
    assert_eq!(b[..6], [1, 2, 3, 4, 5, 0]);
    assert!(b[6..].iter().all(|&x| x == 0));
    m.set(tkeep, u64::MAX);
    assert_eq!(m.get(tkeep), 0x1ff);
    m.set_bytes(tkeep, &[0xff, 0xff, 0xff]);
    assert_eq!(m.get(tkeep), 0x1ff);
}

#[test]
fn wide_words_and_masking() {
    let mut m = Model::new("selftest_w512").unwrap();
    let tdata = m.input("s_axis_tdata").unwrap();
    let tkeep = m.input("s_axis_tkeep").unwrap();
    let words: Vec<u32> = (0..16)
        .map(|i| 0x0101_0101u32.wrapping_mul(i + 1))
        .collect();
    m.set_words(tdata, &words);
    let mut back = [0u32; 18];
    m.get_words(tdata, &mut back);
    assert_eq!(&back[..16], &words[..]);
    assert_eq!(&back[16..], &[0, 0]);
    // Short slices: missing words are zero.
    m.set_words(tdata, &[7, 8]);
    m.get_words(tdata, &mut back);
    assert_eq!(&back[..3], &[7, 8, 0]);
    assert_eq!(m.get(tdata), (8 << 32) | 7);
    // set() on a wide port clears the upper words.
    m.set_words(tdata, &[u32::MAX; 16]);
    m.set(tdata, 5);
    let mut bytes = [0xaau8; 70];
    m.get_bytes(tdata, &mut bytes);
    assert_eq!(bytes[0], 5);
    assert!(bytes[1..].iter().all(|&b| b == 0));
    // Byte slices longer than the port are cut, the tail of `out` zeroed.
    m.set_bytes(tdata, &[0xffu8; 80]);
    m.get_bytes(tdata, &mut bytes);
    assert!(bytes[..64].iter().all(|&b| b == 0xff));
    assert!(bytes[64..].iter().all(|&b| b == 0));
    // 64-bit tkeep: full width.
    m.set(tkeep, u64::MAX);
    assert_eq!(m.get(tkeep), u64::MAX);

    let mut n = Model::new("selftest_w64").unwrap();
    let keep8 = n.input("s_axis_tkeep").unwrap();
    n.set(keep8, 0x1ff);
    assert_eq!(n.get(keep8), 0xff, "value masked to the port width");
    n.set_bytes(keep8, &[0x12, 0x34]);
    assert_eq!(n.get(keep8), 0x12);
    let mut w = [9u32; 3];
    n.get_words(keep8, &mut w);
    assert_eq!(w, [0x12, 0, 0]);
}

#[test]
fn instances_coexist_and_are_independent() {
    let mut a = Model::new("selftest_w64").unwrap();
    let mut b = Model::new("selftest_w64").unwrap();
    let mut c = Model::new("selftest_w512").unwrap();
    let pa = Ports::new(&a);
    // Ports resolved on one instance work on another of the same model.
    let pb = Ports::new(&b);
    assert_eq!(pa.count, pb.count);
    let pc = Ports::new(&c);
    reset(&mut a, &pa);
    reset(&mut b, &pa);
    reset(&mut c, &pc);
    a.set(pa.s_tvalid, 1);
    a.set(pa.m_tready, 1);
    a.set(pa.s_tdata, 0x0102_0304_0506_0708);
    c.set(pc.s_tvalid, 1);
    c.set(pc.m_tready, 1);
    for _ in 0..10 {
        a.tick(pa.clk);
        c.tick(pc.clk);
    }
    for _ in 0..4 {
        b.tick(pa.clk);
    }
    assert_eq!(a.get(pa.count), 10);
    assert_eq!(b.get(pa.count), 0);
    assert_eq!(c.get(pc.count), 10);
    assert_eq!(a.get(pa.m_tdata), 0x0203_0405_0607_0809);
    assert_eq!(b.get(pa.m_tvalid), 0);
    assert_eq!(a.cycles(), 13);
    assert_eq!(b.cycles(), 7);
    drop(a);
    // The others still work after one is dropped.
    b.set(pa.s_tvalid, 1);
    b.tick(pa.clk);
    assert_eq!(b.get(pa.count), 1);
    c.tick(pc.clk);
    assert_eq!(c.get(pc.count), 11);
}

#[test]
fn models_move_between_threads_and_run_in_parallel() {
    let mut m = Model::new("selftest_w64").unwrap();
    let p = Ports::new(&m);
    reset(&mut m, &p);
    let handles: Vec<_> = (0..3)
        .map(|i| {
            std::thread::spawn(move || {
                let mut m = Model::new(if i == 2 {
                    "selftest_w512"
                } else {
                    "selftest_w64"
                })
                .unwrap();
                let p = Ports::new(&m);
                reset(&mut m, &p);
                m.set(p.s_tvalid, 1);
                m.set(p.m_tready, 1);
                for _ in 0..(1000 * (i + 1)) {
                    m.tick(p.clk);
                }
                assert_eq!(m.get(p.count), 1000 * (i + 1));
                m
            })
        })
        .collect();
    // Meanwhile, this thread's model, moved to a new thread and back.
    let mut m = std::thread::spawn(move || {
        m.set(p.s_tvalid, 1);
        m.set(p.m_tready, 1);
        for _ in 0..500 {
            m.tick(p.clk);
        }
        m
    })
    .join()
    .unwrap();
    m.tick(p.clk);
    assert_eq!(m.get(p.count), 501);
    for (i, h) in handles.into_iter().enumerate() {
        let mut other = h.join().unwrap();
        let q = Ports::new(&other);
        other.tick(q.clk);
        assert_eq!(other.get(q.count), 1000 * (i as u64 + 1) + 1);
    }
}

#[test]
fn unknown_model_and_port_are_errors() {
    match Model::new("no_such_model") {
        Err(SimError::UnknownModel(n)) => assert_eq!(n, "no_such_model"),
        other => panic!("expected UnknownModel, got {other:?}"),
    }
    let e = Model::new("no_such_model").unwrap_err().to_string();
    assert!(e.contains("selftest_w64"), "{e}");
    let m = Model::new("selftest_w64").unwrap();
    assert!(matches!(
        m.port("no_such_port"),
        Err(SimError::UnknownPort { ref port, .. }) if port == "no_such_port"
    ));
    assert!(matches!(m.input("count"), Err(SimError::NotAnInput { .. })));
    assert!(matches!(m.output("clk"), Err(SimError::NotAnOutput { .. })));
    assert!(matches!(
        m.port_with_width("count", 32),
        Err(SimError::WidthMismatch {
            expected: 32,
            actual: 64,
            ..
        })
    ));
    assert!(m.port_with_width("count", 64).is_ok());
}

#[test]
fn tracing_matches_the_build() {
    let mut m = Model::new("selftest_w64").unwrap();
    let p = Ports::new(&m);
    let path = std::env::temp_dir().join(format!("buflet_sim_test_{}.trace", std::process::id()));
    match buflet_sim::TRACE_FORMAT {
        None => {
            assert!(matches!(m.trace_open(&path), Err(SimError::Trace(_))));
            assert!(!m.tracing());
        }
        Some(_) => {
            m.trace_open(&path).unwrap();
            reset(&mut m, &p);
            for _ in 0..20 {
                m.tick(p.clk);
            }
            m.trace_close().unwrap();
            let len = std::fs::metadata(&path).unwrap().len();
            std::fs::remove_file(&path).unwrap();
            assert!(len > 0);
        }
    }
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "is an output")]
fn setting_an_output_panics_in_debug_builds() {
    let mut m = Model::new("selftest_w64").unwrap();
    let count = m.port("count").unwrap();
    m.set(count, 1);
}

#[test]
fn finish_is_recorded_and_does_not_exit() {
    let mut m = Model::new("selftest_fatal").unwrap();
    let clk = m.input("clk").unwrap();
    let fin = m.input("do_finish").unwrap();
    let n = m.output("n").unwrap();
    m.tick(clk);
    assert!(!m.finished());
    m.set(fin, 1);
    m.tick(clk);
    assert!(m.finished());
    // Verilator's default handler exits the process on a second $finish.
    m.tick(clk);
    m.tick(clk);
    assert_eq!(m.get(n), 4);
    // Other instances are not affected.
    let other = Model::new("selftest_fatal").unwrap();
    assert!(!other.finished());
}

#[test]
fn fatal_is_an_error_not_an_abort() {
    let mut m = Model::new("selftest_fatal").unwrap();
    let clk = m.input("clk").unwrap();
    let fatal = m.input("do_fatal").unwrap();
    m.tick(clk);
    m.tick(clk);
    m.set(fatal, 1);
    match m.try_tick(clk) {
        Err(SimError::Fatal { model, message }) => {
            assert_eq!(model, "selftest_fatal");
            // $fatal prints its own message to stdout, then stops.
            assert!(message.contains("sim_selftest_fatal.v:"), "{message}");
        }
        other => panic!("expected a fatal error, got {other:?}"),
    }
    assert!(m.finished());
    // A fresh instance still works.
    let mut k = Model::new("selftest_fatal").unwrap();
    let kclk = k.input("clk").unwrap();
    k.tick(kclk);
    assert_eq!(k.get(k.output("n").unwrap()), 1);
}

#[test]
#[should_panic(expected = "sim_selftest_fatal.v")]
fn fatal_panics_in_tick() {
    let mut m = Model::new("selftest_fatal").unwrap();
    let clk = m.input("clk").unwrap();
    let fatal = m.input("do_fatal").unwrap();
    m.set(fatal, 1);
    m.tick(clk);
}
