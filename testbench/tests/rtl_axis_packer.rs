//! RTL test of `axis_packer` at DATA_WIDTH 64 and 512 (models `axis_packer_w64`,
//! `axis_packer_w512`): random packets made of words that each carry one
//! contiguous run of bytes anywhere in the word (garbage outside tkeep),
//! random idle cycles on the input and random backpressure on the output,
//! checked against a plain Rust reference (concatenate, cut into full words).

use buflet_sim::axis::{AxisBus, Beat};
use buflet_sim::{ports, Model};
use buflet_testbench::rtl_check::{assert_quiet, count_cycle, reset, stream_ends};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One input word: the bytes of the whole word (garbage outside the run), the run.
struct InWord {
    data: Vec<u8>,
    keep: u64,
    last: bool,
}

/// Expected output word.
#[derive(Debug, PartialEq, Eq)]
struct OutWord {
    bytes: Vec<u8>, // valid bytes only
    keep: u64,
    last: bool,
}

fn low_mask(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Random packets; returns the input words and the reference output.
fn make_traffic(rng: &mut ChaCha8Rng, kw: usize, packets: usize) -> (Vec<InWord>, Vec<OutWord>) {
    let mut input = Vec::new();
    let mut output = Vec::new();
    for _ in 0..packets {
        let nwords = match rng.gen_range(0..4) {
            0 => 1,
            1 => rng.gen_range(1..4),
            _ => rng.gen_range(1..24),
        };
        let mut packet = Vec::new();
        for w in 0..nwords {
            let mut data = vec![0u8; kw];
            rng.fill(&mut data[..]);
            // Mostly full words, sometimes short runs at random places.
            let (off, n) = match rng.gen_range(0..4) {
                0 => (0, kw),
                1 => {
                    let n = rng.gen_range(1..=kw);
                    (0, n)
                }
                _ => {
                    let off = rng.gen_range(0..kw);
                    let n = rng.gen_range(1..=kw - off);
                    (off, n)
                }
            };
            packet.extend_from_slice(&data[off..off + n]);
            input.push(InWord {
                data,
                keep: low_mask(n) << off,
                last: w + 1 == nwords,
            });
        }
        let chunks: Vec<&[u8]> = packet.chunks(kw).collect();
        let nchunks = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            output.push(OutWord {
                bytes: c.to_vec(),
                keep: low_mask(c.len()),
                last: i + 1 == nchunks,
            });
        }
    }
    (input, output)
}

/// The stimulus: the traffic comes from `seed`; the source's idle cycles (garbage on the bus
/// while not valid) and the sink's backpressure from their own generators seeded from it.
fn run(prefix: &str, kw: usize, seed: u64, idle_p: f64, stall_p: f64) {
    let mut m = Model::new(prefix).expect("model");
    let p = ports::AxisPacker::bind(&m).expect("ports");
    assert_eq!(p.s_axis_tdata.width() as usize, kw * 8);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (input, expected) = make_traffic(&mut rng, kw, 300);

    let s_bus = AxisBus::from_prefix(&m, "s_axis", &[]).expect("input bus");
    let (mut src, mut sink) = stream_ends(&m, s_bus, idle_p, stall_p, seed);
    for w in &input {
        src.send_beat(Beat::new(w.data.clone(), w.keep, w.last));
    }

    reset(&mut m, p.clk, p.rst, 3);

    let mut oi = 0;
    let mut cycles = 0u64;
    let mut in_xfers = 0u64;
    while oi < expected.len() {
        count_cycle(&mut cycles, 200_000, || {
            format!("timeout: {oi}/{} output words", expected.len())
        });
        src.drive(&mut m);
        sink.drive(&mut m);
        m.eval();
        if src.sample(&m).is_some() {
            in_xfers += 1;
        }
        if let Some(beat) = sink.sample(&m) {
            let keep = beat.keep_u64();
            let n = keep.count_ones() as usize;
            let got = OutWord {
                bytes: beat.data[..n].to_vec(),
                keep,
                last: beat.last,
            };
            assert_eq!(got, expected[oi], "{prefix}: output word {oi}");
            oi += 1;
        }
        m.tick(p.clk);
    }
    assert_eq!(
        src.beats_sent() as usize,
        input.len(),
        "{prefix}: all input consumed"
    );
    // Nothing more comes out.
    let end = [(p.s_axis_tvalid, 0), (p.m_axis_tready, 1)];
    assert_quiet(&mut m, p.clk, &end, &[p.m_axis_tvalid], 5, prefix);
    if idle_p == 0.0 && stall_p == 0.0 {
        // Throughput: one input word per cycle except one extra cycle for a
        // tail flush per packet at most.
        let packets = input.iter().filter(|w| w.last).count() as u64;
        assert!(
            cycles <= in_xfers + packets + 4,
            "{prefix}: {cycles} cycles for {in_xfers} words / {packets} packets"
        );
    }
}

buflet_testbench::run_table! { run;
    axis_packer_w64_random: ("axis_packer_w64", 8, 1, 0.25, 0.3);
    axis_packer_w512_random: ("axis_packer_w512", 64, 2, 0.25, 0.3);
    axis_packer_w64_full_rate: ("axis_packer_w64", 8, 3, 0.0, 0.0);
    axis_packer_w512_full_rate: ("axis_packer_w512", 64, 4, 0.0, 0.0);
}
