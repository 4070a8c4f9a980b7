//! `req_fetch` tests at 64 and 512 bits: request-ring entries posted at random, fetched by DMA
//! (refused reads included) while `enable` toggles, handed out in order; REQ_HEAD counts
//! them.

use crate::*;

pub fn req_fetch_run(name: &str, seed: u64) {
    let (mut m, p) = dut!(name, ReqFetch);
    let mut rng = StdRng::seed_from_u64(seed);
    let size = 8u32;
    let base = 0x1_0000_0040u64 * 64; // 64-byte aligned, above 4 GiB
    m.set(p.req_base, base);
    m.set(p.req_size, size as u64);
    let mut tail = 0u32;
    let mut head_model = 0u32; // entries handed out
    let mut ring: Vec<[u8; 64]> = vec![[0u8; 64]; size as usize];
    let mut posted: VecDeque<([u8; 64], bool)> = VecDeque::new(); // expected entries
    let mut refuse_slot: HashMap<u32, bool> = HashMap::new(); // index -> refused
    let mut dma = DmaResponder::new(dma_rd_ports!(p));
    let mut enable = false;
    let mut got = 0;
    let total = 300;
    let mut cycles = 0;
    while got < total {
        cycles += 1;
        assert!(cycles < 400_000, "timeout");
        // producer: post entries while the ring has room
        if tail < total as u32 && tail - head_model < size && rng.gen_bool(0.2) {
            let mut e = [0u8; 64];
            rng.fill(&mut e[..]);
            ring[(tail % size) as usize] = e;
            let refused = rng.gen_bool(0.1);
            refuse_slot.insert(tail, refused);
            posted.push_back((if refused { [0u8; 64] } else { e }, refused));
            tail += 1;
        }
        if rng.gen_bool(0.02) {
            enable = !enable;
        }
        if cycles > 300_000 {
            enable = true;
        }
        m.set(p.enable, enable as u64);
        m.set(p.req_tail, tail as u64);
        dma.drive(&mut m, &mut rng);
        let out_ready = rng.gen_bool(0.5);
        m.set(p.m_req_ready, out_ready as u64);
        m.eval();
        let head = m.get(p.req_head) as u32;
        assert_eq!(head, head_model, "REQ_HEAD counts entries handed out");
        if m.get(p.m_dma_rd_req_valid) == 1 {
            assert!(dma.is_empty(), "one read at a time");
            assert!(head != tail, "no fetch while head == tail");
            if let Some((a, len)) = dma.request(&m) {
                assert_eq!(len, 64);
                assert_eq!(a, base + ((head % size) as u64) * 64, "entry address");
                let refused = refuse_slot[&head];
                let data = if refused {
                    vec![0u8; 64]
                } else {
                    ring[(head % size) as usize].to_vec()
                };
                dma.push(rng.gen_range(0..10), &data, refused);
            }
        }
        dma.take(&m);
        if out_ready && m.get(p.m_req_valid) == 1 {
            let e = get_bytes(&m, p.m_req_data, 64);
            let (want, refused) = posted.pop_front().expect("entry without a posted request");
            assert_eq!(e, want.to_vec(), "entry {got} (refused {refused})");
            head_model += 1;
            got += 1;
        }
        m.tick(p.clk);
    }
}

pub fn req_fetch_w64() {
    req_fetch_run("req_fetch_w64", 21);
}

pub fn req_fetch_w512() {
    req_fetch_run("req_fetch_w512", 22);
}
