//! Prints how many cycles per second the self-test models run at through
//! `tick` plus a few `set`/`get` per cycle (no timing assertion).
//!
//! cargo run --release -p buflet-sim --example bench_selftest [CYCLES]

use std::time::Instant;

use buflet_sim::Model;

fn main() -> Result<(), buflet_sim::SimError> {
    let cycles: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    println!("Verilator {}", buflet_sim::VERILATOR_VERSION);
    for name in ["selftest_w64", "selftest_w512"] {
        let mut m = Model::new(name)?;
        let clk = m.input("clk")?;
        let rst = m.input("rst")?;
        let s_tdata = m.input("s_axis_tdata")?;
        let s_tvalid = m.input("s_axis_tvalid")?;
        let m_tready = m.input("m_axis_tready")?;
        let m_tdata = m.output("m_axis_tdata")?;
        let m_tvalid = m.output("m_axis_tvalid")?;
        let count = m.output("count")?;
        m.set(rst, 1);
        m.tick(clk);
        m.set(rst, 0);
        m.set(m_tready, 1);
        let n = if name.ends_with("512") {
            cycles / 2
        } else {
            cycles
        };
        let mut data = [0u8; 64];
        let mut check = 0u64;
        let t0 = Instant::now();
        for i in 0..n {
            m.set(s_tvalid, u64::from(i & 7 != 0));
            if s_tdata.width() <= 64 {
                m.set(s_tdata, i);
            } else {
                data[..8].copy_from_slice(&i.to_le_bytes());
                m.set_bytes(s_tdata, &data);
            }
            m.tick(clk);
            if m.get(m_tvalid) == 1 {
                check = check.wrapping_add(m.get(m_tdata));
            }
        }
        let dt = t0.elapsed().as_secs_f64();
        println!(
            "{name}: {n} cycles in {dt:.3} s = {:.2} M cycles/s (words {}, checksum {check:x})",
            n as f64 / dt / 1e6,
            m.get(count)
        );
    }
    Ok(())
}
