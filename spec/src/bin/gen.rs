//! Writes `rtl/buflet_defs.vh` and `docs/regmap.md` from the spec.
use buflet_spec::gen;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    for (path, text) in [
        (gen::VERILOG_PATH, gen::verilog()),
        (gen::DOCS_PATH, gen::docs()),
    ] {
        let p = root.join(path);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
        println!("wrote {}", p.display());
    }
}
