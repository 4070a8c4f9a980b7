//! The captures in the repository's `traces/` and their manifest (`traces/manifest.csv`,
//! written by each capture's author, never by our code), for the tests that replay them.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The path of `name` in `traces/` (`trace("")` is the directory itself).
pub fn trace(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../traces")
        .join(name)
}

/// The names of the captures `<prefix>*.pcap` in `traces/`, sorted.
pub fn captures(prefix: &str) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(trace(""))
        .expect("traces/")
        .map(|e| {
            e.expect("a traces/ entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.starts_with(prefix) && n.ends_with(".pcap"))
        .collect();
    found.sort();
    found
}

/// The row of capture `pcap_name` in traces/manifest.csv, by column name. Panics when the
/// manifest cannot be read or does not list the capture.
pub fn manifest_row(pcap_name: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(trace("manifest.csv")).expect("traces/manifest.csv");
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().expect("manifest header").split(',').collect();
    let row = rows
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| {
            r[header
                .iter()
                .position(|h| *h == "pcap")
                .expect("pcap column")]
                == pcap_name
        })
        .unwrap_or_else(|| panic!("{pcap_name} is not in manifest.csv"));
    header
        .iter()
        .zip(row)
        .map(|(h, v)| (h.to_string(), v.to_string()))
        .collect()
}
