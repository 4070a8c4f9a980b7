//! Arbiter tests with three clients each: `dma_rd_arb` (requests forwarded from the granted
//! client, several reads in flight, each response routed back to its client in request order), `dma_wr_arb` (request and data of one client at a time)
//! and `stream_arb` (every source served in order, output stable while stalled).

use crate::*;

/// Test data byte i of a read at `addr`.
pub fn mem_byte(addr: u64, i: u64) -> u8 {
    let x = addr.wrapping_add(i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as u8
}

pub fn dma_rd_arb_three_clients() {
    const N: usize = 3;
    let (mut m, p) = dut!("dma_rd_arb_w64", DmaRdArb);
    let mut rng = StdRng::seed_from_u64(41);
    // per client: queue of (addr, len) to issue, and expected response bytes
    let mut todo: Vec<VecDeque<(u64, u64)>> = (0..N)
        .map(|c| {
            (0..60)
                .map(|k| {
                    (
                        ((c as u64) << 32) | (k * 4096 + k),
                        1 + (k * 37 + c as u64 * 11) % 300,
                    )
                })
                .collect()
        })
        .collect();
    let mut expect: Vec<VecDeque<Vec<u8>>> = vec![VecDeque::new(); N];
    let mut got_bytes: Vec<Vec<u8>> = vec![Vec::new(); N];
    let mut done = [0usize; N];
    let mut valid = [false; N];
    let mut dma = DmaResponder::new(dma_rd_ports!(p));
    // reads in flight: the client of each, in request order (the host answers in that order)
    let mut inflight: VecDeque<usize> = VecDeque::new();
    let mut most_inflight = 0;
    let mut cycles = 0;
    while done.iter().sum::<usize>() < 60 * N {
        cycles += 1;
        assert!(cycles < 200_000, "timeout {done:?}");
        let mut vbits = 0u64;
        let mut addrs = [0u8; N * 8];
        let mut lens = [0u8; N * 2];
        let mut rdy = 0u64;
        for c in 0..N {
            if !valid[c] && !todo[c].is_empty() && rng.gen_bool(0.4) {
                valid[c] = true;
            }
            if valid[c] {
                vbits |= 1 << c;
                let (a, l) = todo[c][0];
                addrs[c * 8..c * 8 + 8].copy_from_slice(&a.to_le_bytes());
                lens[c * 2..c * 2 + 2].copy_from_slice(&(l as u16).to_le_bytes());
            }
            if rng.gen_bool(0.6) {
                rdy |= 1 << c;
            }
        }
        m.set(p.s_req_valid, vbits);
        m.set_bytes(p.s_req_addr, &addrs);
        m.set_bytes(p.s_req_len, &lens);
        m.set(p.m_axis_rsp_tready, rdy);
        let rv = dma.drive(&mut m, &mut rng);
        m.eval();
        let sready = m.get(p.s_req_ready);
        assert_eq!(sready & !vbits, 0, "ready only to a requesting client");
        assert!(sready.count_ones() <= 1);
        if let Some((a, l)) = dma.request(&m) {
            assert!(
                inflight.len() < OUTSTANDING,
                "read request with {OUTSTANDING} in flight"
            );
            let c = sready.trailing_zeros() as usize;
            assert!(c < N, "request accepted but no client got ready");
            assert_eq!(
                (a, l),
                todo[c][0],
                "request forwarded from the granted client"
            );
            let refused = (a + l) % 7 == 0;
            let data: Vec<u8> = (0..l)
                .map(|i| if refused { 0 } else { mem_byte(a, i) })
                .collect();
            expect[c].push_back(data.clone());
            dma.push(rng.gen_range(0..8), &data, refused);
            todo[c].pop_front();
            valid[c] = false;
            inflight.push_back(c);
            most_inflight = most_inflight.max(inflight.len());
        } else {
            assert_eq!(sready, 0);
        }
        let tv = m.get(p.m_axis_rsp_tvalid);
        assert!(tv.count_ones() <= 1);
        if rv {
            let head = *inflight
                .front()
                .expect("a response without a read in flight");
            assert_eq!(tv, 1 << head, "response goes to the oldest read's client");
        }
        if let Some(((b, k, l), refused)) = dma.take(&m) {
            let c = tv.trailing_zeros() as usize;
            assert!(
                rdy & (1 << c) != 0,
                "response moved without the client's ready"
            );
            assert_eq!(m.get(p.m_axis_rsp_tkeep), k);
            assert_eq!(m.get(p.m_axis_rsp_tlast), l as u64);
            assert_eq!(m.get(p.m_axis_rsp_tuser), (l && refused) as u64);
            got_bytes[c].extend_from_slice(&b);
            if l {
                let want = expect[c].pop_front().unwrap();
                assert_eq!(got_bytes[c], want, "client {c} response data");
                got_bytes[c].clear();
                done[c] += 1;
                inflight.pop_front();
            }
        } else if rv {
            // stalled by the granted client
            let c = tv.trailing_zeros() as usize;
            assert!(
                rdy & (1 << c) == 0,
                "host stalled although the client was ready"
            );
        }
        m.tick(p.clk);
    }
    // split transactions: reads overlap, up to the arbiter's limit
    assert!(
        most_inflight > 2,
        "at most {most_inflight} reads were in flight at once"
    );
}

/// dma_rd_arb's OUTSTANDING (the default; rtl/buflet_nic.v passes DMA_RD_OUTSTANDING).
const OUTSTANDING: usize = buflet_spec::param::DMA_RD_OUTSTANDING as usize;

/// dma_wr_arb's OUTSTANDING (the default; rtl/buflet_nic.v passes DMA_WR_OUTSTANDING).
const WR_OUTSTANDING: usize = buflet_spec::param::DMA_WR_OUTSTANDING as usize;

/// Split write transactions (docs/architecture.md "DMA writes are split transactions"): a
/// client's request is taken while earlier writes' data still streams, the host port carries
/// the writes' data in request order, a client's words move only once its request was taken,
/// each client's writes keep their order, and at most OUTSTANDING writes are owed their data.
pub fn dma_wr_arb_three_clients() {
    const N: usize = 3;
    let (mut m, p) = dut!("dma_wr_arb_w64", DmaWrArb);
    let kw = 8usize;
    let mut rng = StdRng::seed_from_u64(51);
    // The host side is one stream: the kit's sink (backpressure, AXI-Stream rule). The client
    // side is N streams flattened into wide vectors, driven here by hand.
    let bus = AxisBus::from_prefix(&m, "m_axis_dma_wr", &[]).expect("m_axis_dma_wr");
    let mut sink = AxisSink::new(&m, bus, 0.4, 0x51).expect("sink");
    // Each client keeps a word presented until it is taken (the AXI-Stream rule; the arbiter
    // passes the head client's stream through, so the sink checks it end to end).
    let mut dvalid = [false; N];
    // client state: its writes (addr, data), how many of them were requested (taken), and the
    // word index of the oldest write still sending data
    let mut todo: Vec<VecDeque<(u64, Vec<u8>)>> = (0..N)
        .map(|c| {
            (0..50u64)
                .map(|k| {
                    let len = 1 + (k * 53 + c as u64 * 7) % 200;
                    let a = ((c as u64) << 40) | (k << 12);
                    (a, (0..len).map(|i| mem_byte(a, i)).collect())
                })
                .collect()
        })
        .collect();
    let mut req_valid = [false; N];
    let mut requested = [0usize; N]; // writes of todo[c] whose request was taken
    let mut word = [0usize; N];
    // host side: requests taken and not yet complete, in order (client, addr, data so far)
    let mut host: VecDeque<(usize, u64, Vec<u8>)> = VecDeque::new();
    let mut most_owed = 0;
    let mut written = 0;
    let mut cycles = 0;
    while written < 50 * N {
        cycles += 1;
        assert!(cycles < 200_000, "timeout");
        let (mut vb, mut dv, mut dl) = (0u64, 0u64, 0u64);
        let mut addrs = [0u8; N * 8];
        let mut lens = [0u8; N * 2];
        let mut tdata = [0u8; N * 8];
        let mut tkeep = [0u8; N];
        let mut words_now: Vec<Option<(Vec<u8>, u64, bool)>> = vec![None; N];
        for c in 0..N {
            // the next write's request (several may be taken ahead of their data)
            if let Some((a, data)) = todo[c].get(requested[c]) {
                if !req_valid[c] && rng.gen_bool(0.4) {
                    req_valid[c] = true;
                }
                if req_valid[c] {
                    vb |= 1 << c;
                    addrs[c * 8..c * 8 + 8].copy_from_slice(&a.to_le_bytes());
                    lens[c * 2..c * 2 + 2].copy_from_slice(&(data.len() as u16).to_le_bytes());
                }
            }
            // the oldest write's data, presented as soon as the client likes, even before its
            // request was taken
            if let Some((_, data)) = todo[c].front() {
                if !dvalid[c] && rng.gen_bool(0.7) {
                    dvalid[c] = true;
                }
                if dvalid[c] {
                    let w = words_of(data, kw)[word[c]].clone();
                    dv |= 1 << c;
                    if w.2 {
                        dl |= 1 << c;
                    }
                    tdata[c * 8..c * 8 + w.0.len()].copy_from_slice(&w.0);
                    tkeep[c] = w.1 as u8;
                    words_now[c] = Some(w);
                }
            }
        }
        m.set(p.s_req_valid, vb);
        m.set_bytes(p.s_req_addr, &addrs);
        m.set_bytes(p.s_req_len, &lens);
        m.set_bytes(p.s_axis_tdata, &tdata);
        m.set_bytes(p.s_axis_tkeep, &tkeep);
        m.set(p.s_axis_tvalid, dv);
        m.set(p.s_axis_tlast, dl);
        let rq_ready = rng.gen_bool(0.5);
        m.set(p.m_dma_wr_req_ready, rq_ready as u64);
        sink.drive(&mut m);
        m.eval();
        let sr = m.get(p.s_req_ready);
        let tr = m.get(p.s_axis_tready);
        if m.get(p.m_dma_wr_req_valid) == 1 {
            assert!(
                host.len() < WR_OUTSTANDING,
                "a request beyond {WR_OUTSTANDING} writes owed their data"
            );
        }
        // the data of the oldest write owed, sampled before this cycle's request joins
        if let Some(beat) = sink.sample(&m) {
            let c = tr.trailing_zeros() as usize;
            assert!(
                c < N && tr.count_ones() == 1,
                "exactly the head client moves"
            );
            let (hc, a, bytes) = host
                .front_mut()
                .expect("data on the host port before its request");
            assert_eq!(c, *hc, "the data of the oldest write owed");
            assert!(
                requested[c] > 0,
                "data of a client whose request was not taken"
            );
            let w = words_now[c].clone().unwrap();
            dvalid[c] = false;
            let n = w.0.len();
            assert_eq!(beat.keep_u64(), w.1);
            assert_eq!(beat.last, w.2);
            bytes.extend_from_slice(&beat.data[..n]);
            word[c] += 1;
            if w.2 {
                let want = todo[c].pop_front().unwrap();
                assert_eq!(*a, want.0);
                assert_eq!(*bytes, want.1, "write data of client {c}");
                host.pop_front();
                requested[c] -= 1;
                word[c] = 0;
                written += 1;
            }
        } else {
            assert_eq!(tr & dv, 0, "a client word moved without a host transfer");
        }
        if rq_ready && m.get(p.m_dma_wr_req_valid) == 1 {
            let c = sr.trailing_zeros() as usize;
            assert!(c < N && sr.count_ones() == 1);
            let (a, data) = &todo[c][requested[c]];
            assert_eq!(m.get(p.m_dma_wr_req_addr), *a);
            assert_eq!(m.get(p.m_dma_wr_req_len), data.len() as u64);
            assert_eq!(m.get(p.m_dma_wr_req_id), c as u64);
            host.push_back((c, *a, Vec::new()));
            most_owed = most_owed.max(host.len());
            req_valid[c] = false;
            requested[c] += 1;
        } else {
            assert_eq!(sr, 0);
        }
        m.tick(p.clk);
    }
    // split transactions: requests go ahead of the data, up to the arbiter's limit
    assert_eq!(
        most_owed, WR_OUTSTANDING,
        "most writes owed their data at once"
    );
}

pub fn stream_arb_three_sources() {
    const N: usize = 3;
    let (mut m, p) = dut!("stream_arb_n3", StreamArb);
    let mut rng = StdRng::seed_from_u64(61);
    let per = 200u32;
    let mut next = [0u32; N]; // next sequence number per source
    let mut recv = [0u32; N];
    let mut valid = [false; N];
    let mut held: Option<Vec<u8>> = None; // output word stalled by m_ready = 0
    let mut cycles = 0;
    let item = |c: usize, s: u32| -> Vec<u8> {
        let mut v = vec![0u8; 32];
        v[0] = c as u8;
        v[4..8].copy_from_slice(&s.to_le_bytes());
        for (i, b) in v.iter_mut().enumerate().skip(8) {
            *b = mem_byte((c as u64) << 32 | s as u64, i as u64);
        }
        v
    };
    let mut order = Vec::new();
    while recv.iter().sum::<u32>() < per * N as u32 {
        cycles += 1;
        assert!(cycles < 100_000, "timeout");
        let mut vb = 0u64;
        let mut data = vec![0u8; 32 * N];
        for c in 0..N {
            if !valid[c] && next[c] < per && rng.gen_bool(if c == 0 { 0.9 } else { 0.3 }) {
                valid[c] = true;
            }
            if valid[c] {
                vb |= 1 << c;
                data[c * 32..c * 32 + 32].copy_from_slice(&item(c, next[c]));
            }
        }
        m.set(p.s_valid, vb);
        m.set_bytes(p.s_data, &data);
        let mr = rng.gen_bool(0.5);
        m.set(p.m_ready, mr as u64);
        m.eval();
        let sr = m.get(p.s_ready);
        assert_eq!(sr & !vb, 0);
        for c in 0..N {
            if sr & (1 << c) != 0 {
                valid[c] = false;
                next[c] += 1;
            }
        }
        if m.get(p.m_valid) == 1 {
            let out = get_bytes(&m, p.m_data, 32);
            if let Some(h) = &held {
                assert_eq!(&out, h, "output changed while stalled");
            }
            if mr {
                let c = out[0] as usize;
                let s = u32::from_le_bytes(out[4..8].try_into().unwrap());
                assert_eq!(out, item(c, recv[c]), "source {c} in order");
                assert_eq!(s, recv[c]);
                recv[c] += 1;
                order.push(c);
                held = None;
            } else {
                held = Some(out);
            }
        }
        m.tick(p.clk);
    }
    // round robin: the busy source 0 never takes two turns in a row while another one waits;
    // weak check: every source got served
    assert!(recv.iter().all(|&r| r == per));
}
