//! `cpl_writer` tests at 64 and 512 bits: arbitrary 32-byte entries written into a small
//! completion ring that the host drains slowly, with the PHASE byte set per pass, the
//! `cpl_posted` pulse and CPL_TAIL.

use crate::*;

pub fn cpl_writer_run(name: &str, seed: u64) {
    let (mut m, p) = dut!(name, CplWriter);
    let kw = p.m_axis_dma_wr_tkeep.width() as usize;
    let mut rng = StdRng::seed_from_u64(seed);
    // The completion writes' data stream: the kit's sink (backpressure, AXI-Stream rule).
    let bus = AxisBus::from_prefix(&m, "m_axis_dma_wr", &[]).expect("m_axis_dma_wr");
    let mut sink = AxisSink::new(&m, bus, 0.4, seed ^ 0xc91).expect("sink");
    let size = 4u32;
    let base = 0x2_0000_0000u64 + 32 * 5;
    m.set(p.cpl_base, base);
    m.set(p.cpl_size, size as u64);
    let total = 200u32;
    let mut src: VecDeque<[u8; 32]> = VecDeque::new();
    for _ in 0..total {
        let mut e = [0u8; 32];
        rng.fill(&mut e[..]);
        // Arbitrary bytes, not a valid completion (the writer carries any entry and only sets
        // PHASE), so the typed `Cpl` cannot hold them: the STATUS byte is set through the
        // spec's offset table.
        if rng.gen_bool(0.5) {
            e[cpl::STATUS.0] = 0;
        }
        src.push_back(e);
    }
    let mut sent = 0usize; // entries accepted by the DUT
    let mut written: Vec<[u8; 32]> = Vec::new();
    let mut head = 0u32; // host consumer index
    let mut cur: Option<(u64, Vec<u8>)> = None; // write in progress: addr, bytes so far
    let mut posted = 0u32;
    let mut valid = false;
    let mut cycles = 0;
    while posted < total {
        cycles += 1;
        assert!(cycles < 200_000, "timeout");
        if !valid && sent < total as usize && rng.gen_bool(0.5) {
            valid = true;
        }
        if valid {
            m.set_bytes(p.s_cpl_data, &src[sent]);
        }
        m.set(p.s_cpl_valid, valid as u64);
        // the host consumes completions slowly, so the ring fills up
        if head < posted && rng.gen_bool(0.05) {
            head += 1;
        }
        m.set(p.cpl_head, head as u64);
        let req_ready = rng.gen_bool(0.5);
        m.set(p.m_dma_wr_req_ready, req_ready as u64);
        sink.drive(&mut m);
        m.eval();
        if m.get(p.cpl_posted) == 1 {
            // the pulse follows the entry's last data word: check its status
            assert_eq!(
                m.get(p.cpl_status) as u8,
                src[posted as usize][cpl::STATUS.0] // the STATUS byte of an arbitrary entry
            );
            posted += 1;
        }
        assert_eq!(m.get(p.cpl_tail) as u32, posted);
        if valid && m.get(p.s_cpl_ready) == 1 {
            assert!(
                posted - head < size,
                "entry accepted while the ring is full"
            );
            valid = false;
            sent += 1;
        }
        if req_ready && m.get(p.m_dma_wr_req_valid) == 1 {
            assert!(cur.is_none());
            assert_eq!(m.get(p.m_dma_wr_req_len), 32);
            let tail = posted;
            assert!(tail - head < size, "write while the ring is full");
            assert_eq!(m.get(p.m_dma_wr_req_addr), base + 32 * (tail % size) as u64);
            cur = Some((m.get(p.m_dma_wr_req_addr), Vec::new()));
        }
        if let Some(beat) = sink.sample(&m) {
            let (_, bytes) = cur.as_mut().expect("data before its request");
            let (keep, data) = (beat.keep, beat.data);
            let n = keep.iter().map(|b| b.count_ones() as usize).sum::<usize>();
            assert_eq!(
                keep,
                low_mask(n).to_le_bytes()[..kw / 8].to_vec(),
                "low keep mask"
            );
            bytes.extend_from_slice(&data[..n]);
            let last = beat.last;
            assert_eq!(last, bytes.len() == 32, "tlast on the 32nd byte");
            if last {
                let (_, b) = cur.take().unwrap();
                written.push(b.try_into().unwrap());
            }
        }
        m.tick(p.clk);
    }
    assert_eq!(written.len(), total as usize);
    for (i, w) in written.iter().enumerate() {
        let mut want = src[i];
        // the PHASE byte of an arbitrary entry (see above)
        want[cpl::PHASE.0] = if (i as u32 / size) & 1 == 0 { 1 } else { 0 };
        assert_eq!(w, &want, "completion {i}");
    }
}

pub fn cpl_writer_w64() {
    cpl_writer_run("cpl_writer_w64", 31);
}

pub fn cpl_writer_w512() {
    cpl_writer_run("cpl_writer_w512", 32);
}
