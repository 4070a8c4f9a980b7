//! Tests of the AXI-stream kit (`buflet_sim::axis`) and the typed port
//! structs (`buflet_sim::ports`) against the self-test model (a register
//! stage adding 1 to every byte, at 64, 72 and 512 bits) and `sync_fifo`
//! (a valid/ready stream without tdata: its data is carried as sideband).

use buflet_sim::axis::{AxisBus, AxisMonitor, AxisSink, AxisSource, Beat, Frame, SplitMix64};
use buflet_sim::{ports, Model, SimError};

fn selftest_buses(p: &ports::SimSelftest) -> (AxisBus, AxisBus) {
    let s = AxisBus::new(p.s_axis_tvalid)
        .tready(p.s_axis_tready)
        .tdata(p.s_axis_tdata)
        .tkeep(p.s_axis_tkeep)
        .tlast(p.s_axis_tlast);
    let m = AxisBus::new(p.m_axis_tvalid)
        .tready(p.m_axis_tready)
        .tdata(p.m_axis_tdata)
        .tkeep(p.m_axis_tkeep)
        .tlast(p.m_axis_tlast);
    (s, m)
}

/// One cycle of `src` and `sink` up to the clock edge (left to the caller): both drive, the
/// model evaluates, both sample. Returns the beat taken from the source and the beat the sink
/// received, if any.
fn settle(
    m: &mut Model,
    src: &mut AxisSource,
    sink: &mut AxisSink,
) -> (Option<Beat>, Option<Beat>) {
    src.drive(m);
    sink.drive(m);
    m.eval();
    (src.sample(m), sink.sample(m))
}

fn reset(m: &mut Model, clk: buflet_sim::Port, rst: buflet_sim::Port) {
    m.set(rst, 1);
    for _ in 0..3 {
        m.tick(clk);
    }
    m.set(rst, 0);
}

/// Random frames through the self-test model: what the sink collects is
/// what the source sent with every byte + 1, and the monitors saw exactly
/// the source's and the sink's beats.
fn pass_frames(model: &str, seed: u64, idle: f64, stall: f64, hold: bool) {
    let mut m = Model::new(model).unwrap();
    let p = ports::SimSelftest::bind(&m).unwrap();
    let (s_bus, m_bus) = selftest_buses(&p);
    let width = s_bus.data_bytes();
    let mut src = AxisSource::new(&m, s_bus.clone(), idle, seed)
        .unwrap()
        .garbage_when_idle(true)
        .hold_valid(hold);
    let mut sink = AxisSink::new(&m, m_bus.clone(), stall, seed ^ 0x5a5a).unwrap();
    let mut mon_in = AxisMonitor::new(s_bus);
    let mut mon_out = AxisMonitor::new(m_bus);
    let mut rng = SplitMix64::new(seed);
    let mut sent = Vec::new();
    for i in 0..60 {
        let len = match i % 4 {
            0 => 1 + (rng.next_u64() % 3) as usize,
            1 => width,
            _ => 1 + (rng.next_u64() % (5 * width as u64)) as usize,
        };
        let mut bytes = vec![0u8; len];
        rng.fill(&mut bytes);
        src.send_bytes(&bytes, &[]);
        sent.push(bytes);
    }
    let total_beats = src.pending();
    reset(&mut m, p.clk, p.rst);
    let mut cycles = 0;
    let mut withdrawn = 0;
    let mut held_beat: Option<Beat> = None;
    // cycles with a beat waiting in the source / with tready low from the sink
    let (mut waiting, mut idle_cycles, mut stalled) = (0u32, 0u32, 0u32);
    while sink.beat_count() < total_beats {
        cycles += 1;
        assert!(cycles < 100_000, "{model}: timeout");
        let had_beat = !src.idle();
        src.drive(&mut m);
        sink.drive(&mut m);
        m.eval();
        let valid = m.get(p.s_axis_tvalid) == 1;
        assert_eq!(m.get(p.m_axis_tready) == 1, sink.ready());
        stalled += u32::from(!sink.ready());
        if had_beat {
            waiting += 1;
            idle_cycles += u32::from(!valid);
        } else {
            assert!(!valid, "{model}: tvalid with nothing queued");
        }
        // A beat presented but not taken last cycle: with hold_valid it is still
        // there, unchanged.
        if let Some(prev) = held_beat.take() {
            if hold {
                assert!(valid, "{model}: hold_valid dropped tvalid");
                let mut now = vec![0u8; width];
                m.get_bytes(p.s_axis_tdata, &mut now);
                assert_eq!(now, prev.data, "{model}: held beat changed");
            } else if !valid {
                withdrawn += 1;
            }
        }
        if valid && m.get(p.s_axis_tready) == 0 {
            let mut data = vec![0u8; width];
            m.get_bytes(p.s_axis_tdata, &mut data);
            held_beat = Some(Beat {
                data,
                ..Beat::default()
            });
        }
        let taken = src.sample(&m);
        let got = sink.sample(&m);
        assert_eq!(mon_in.sample(&m).map(|t| &t.beat), taken.as_ref());
        assert_eq!(mon_out.sample(&m).map(|t| &t.beat), got.as_ref());
        m.tick(p.clk);
    }
    assert!(src.idle());
    assert_eq!(src.beats_sent() as usize, total_beats);
    assert_eq!(src.frames_sent(), 60);
    for (i, bytes) in sent.iter().enumerate() {
        let f = sink
            .recv()
            .unwrap_or_else(|| panic!("{model}: frame {i} missing"));
        let want: Vec<u8> = bytes.iter().map(|b| b.wrapping_add(1)).collect();
        assert_eq!(f.bytes(), want, "{model}: frame {i}");
        assert_eq!(
            f.beats.len(),
            bytes.len().div_ceil(width),
            "{model}: frame {i} beats"
        );
    }
    assert!(sink.recv().is_none());
    assert_eq!(mon_in.transfers().len(), total_beats);
    assert_eq!(mon_out.frames().len(), 60);
    assert_eq!(m.get(p.count) as usize, total_beats);
    // cycles of the monitor's records increase strictly
    assert!(mon_out
        .transfers()
        .windows(2)
        .all(|w| w[0].cycle < w[1].cycle));
    // the idle and stall rates are what was asked for (hold_valid lowers the idle rate: a beat
    // once presented stays)
    let rate = |n: u32, d: u32| f64::from(n) / f64::from(d);
    let want_idle = if hold {
        0.0..=idle + 0.05
    } else {
        idle - 0.05..=idle + 0.05
    };
    assert!(
        want_idle.contains(&rate(idle_cycles, waiting)) || (idle == 0.0 && idle_cycles == 0),
        "{model}: idle {idle_cycles}/{waiting}"
    );
    assert!(
        (stall - 0.05..=stall + 0.05).contains(&rate(stalled, cycles as u32)),
        "{model}: stalled {stalled}/{cycles}"
    );
    if !hold && idle > 0.0 && stall > 0.0 {
        assert!(withdrawn > 0, "{model}: no beat was ever withdrawn");
    }
    if idle == 0.0 && stall == 0.0 {
        // one beat per cycle, plus the register stage
        assert!(
            cycles <= total_beats + 2,
            "{model}: {cycles} cycles for {total_beats} beats"
        );
    }
}

/// One `#[test]` per line: `name: pass_frames(model, seed, idle, stall, hold)`.
macro_rules! pass_frames_tests {
    ($($name:ident: ($($arg:expr),*);)*) => {
        $(
            #[test]
            fn $name() {
                pass_frames($($arg),*);
            }
        )*
    };
}

pass_frames_tests! {
    source_sink_monitor_w64: ("selftest_w64", 1, 0.3, 0.4, false);
    source_sink_monitor_w72_hold_valid: ("selftest_w72", 2, 0.3, 0.4, true);
    source_sink_monitor_w512: ("selftest_w512", 3, 0.5, 0.2, false);
    full_rate_w512: ("selftest_w512", 4, 0.0, 0.0, false);
}

#[test]
fn same_seed_same_cycles() {
    let run = |seed: u64| -> Vec<u64> {
        let mut m = Model::new("selftest_w64").unwrap();
        let p = ports::SimSelftest::bind(&m).unwrap();
        let (s_bus, m_bus) = selftest_buses(&p);
        let mut src = AxisSource::new(&m, s_bus, 0.5, seed).unwrap();
        let mut sink = AxisSink::new(&m, m_bus.clone(), 0.5, seed + 1).unwrap();
        let mut mon = AxisMonitor::new(m_bus);
        src.send_bytes(&[7u8; 100], &[]);
        reset(&mut m, p.clk, p.rst);
        while sink.frames_waiting() == 0 {
            settle(&mut m, &mut src, &mut sink);
            mon.sample(&m);
            m.tick(p.clk);
        }
        mon.transfers().iter().map(|t| t.cycle).collect()
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9), run(10));
}

#[test]
fn explicit_beats_keep_their_masks() {
    let mut m = Model::new("selftest_w64").unwrap();
    let p = ports::SimSelftest::bind(&m).unwrap();
    let (s_bus, m_bus) = selftest_buses(&p);
    let mut src = AxisSource::new(&m, s_bus, 0.0, 1).unwrap();
    let mut sink = AxisSink::new(&m, m_bus, 0.0, 2).unwrap();
    let beats = [
        Beat::new(vec![1, 2, 3, 4, 5, 6, 7, 8], 0b0011_1100, false),
        Beat::new(vec![9; 8], 0x80, true),
    ];
    src.send_frame(Frame {
        beats: beats.to_vec(),
    });
    reset(&mut m, p.clk, p.rst);
    for _ in 0..5 {
        settle(&mut m, &mut src, &mut sink);
        m.tick(p.clk);
    }
    let f = sink.recv().expect("frame");
    assert_eq!(f.beats.len(), 2);
    assert_eq!(f.beats[0].keep_u64(), 0b0011_1100);
    assert_eq!(f.beats[0].data, [2, 3, 4, 5, 6, 7, 8, 9]);
    assert!(!f.beats[0].last && f.beats[1].last);
    assert_eq!(f.bytes(), [4, 5, 6, 7, 10]);
}

/// sync_fifo as a stream without tdata: s_data and m_data are sideband.
#[test]
fn sideband_only_stream_through_sync_fifo() {
    let mut m = Model::new("sync_fifo_d8").unwrap();
    let p = ports::SyncFifo::bind(&m).unwrap();
    let s_bus = AxisBus::new(p.s_valid)
        .tready(p.s_ready)
        .sideband("data", p.s_data);
    let m_bus = AxisBus::new(p.m_valid)
        .tready(p.m_ready)
        .sideband("data", p.m_data);
    assert_eq!(s_bus.data_bytes(), 0);
    let mut src = AxisSource::new(&m, s_bus, 0.3, 5)
        .unwrap()
        .garbage_when_idle(true);
    let mut sink = AxisSink::new(&m, m_bus, 0.6, 6).unwrap();
    for v in 0..500u64 {
        src.send_beat(Beat::default().with_sideband(vec![(v * 131) & 0xffff]));
    }
    reset(&mut m, p.clk, p.rst);
    let mut cycles = 0;
    while sink.beat_count() < 500 {
        cycles += 1;
        assert!(cycles < 10_000);
        settle(&mut m, &mut src, &mut sink);
        m.tick(p.clk);
    }
    // no tlast: every beat is a frame
    assert_eq!(sink.frames_waiting(), 500);
    for (v, b) in sink.beats().iter().enumerate() {
        assert_eq!(b.sideband, [(v as u64 * 131) & 0xffff]);
        assert!(b.data.is_empty() && b.keep.is_empty());
    }
}

#[test]
fn wrong_directions_are_refused() {
    let m = Model::new("selftest_w64").unwrap();
    let p = ports::SimSelftest::bind(&m).unwrap();
    let (s_bus, m_bus) = selftest_buses(&p);
    assert!(matches!(
        AxisSource::new(&m, m_bus, 0.0, 0),
        Err(SimError::NotAnInput { .. })
    ));
    assert!(matches!(
        AxisSink::new(&m, s_bus, 0.0, 0),
        Err(SimError::NotAnOutput { .. })
    ));
    let bus = AxisBus::from_prefix(&m, "s_axis", &[]).unwrap();
    assert_eq!(bus.tkeep, Some(p.s_axis_tkeep));
    assert_eq!(bus.tdata, Some(p.s_axis_tdata));
    assert!(AxisBus::from_prefix(&m, "x_axis", &[]).is_err());
    assert!(AxisBus::from_prefix(&m, "s_axis", &["tuser"]).is_err());
}

#[test]
fn typed_ports_bind_to_every_model_of_their_top() {
    for name in ["selftest_w64", "selftest_w72", "selftest_w512"] {
        let m = Model::new(name).unwrap();
        let p = ports::SimSelftest::bind(&m).unwrap();
        assert_eq!(p.s_axis_tdata, m.input("s_axis_tdata").unwrap());
        assert_eq!(p.m_axis_tkeep, m.output("m_axis_tkeep").unwrap());
        assert_eq!(p.count.width(), 64);
        assert_eq!(
            p.s_axis_tdata.width(),
            m.info()
                .param("DATA_WIDTH")
                .unwrap()
                .parse::<u32>()
                .unwrap()
        );
    }
    assert_eq!(
        ports::SimSelftest::MODELS,
        ["selftest_w64", "selftest_w512", "selftest_w72"]
    );
    let other = Model::new("sync_fifo_w64").unwrap();
    let e = ports::SimSelftest::bind(&other).unwrap_err();
    assert!(matches!(e, SimError::WrongModel { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "model sync_fifo_w64 (top sync_fifo) is not a model of top sim_selftest (selftest_w64, selftest_w512, selftest_w72)"
    );
    assert!(ports::SimSelftestFatal::bind(&Model::new("selftest_fatal").unwrap()).is_ok());
}
