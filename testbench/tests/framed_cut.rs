//! BFW1 streams cut by their end (issue 11, item 6): the record the stream cuts is written as
//! far as it arrived, the file is as long as what arrived makes it (not as the cut header
//! declared), `stream_error` says where, and the run fails cleanly with the disk verified
//! against the reference. On both backends.

use buflet_testbench::{
    framed_stream, frames, run_stream, Backend, FramedRecord, Protocol, RunOptions, Scenario,
};

fn rec(file_off: u64, len: usize, seed: u64) -> FramedRecord {
    FramedRecord {
        file_off,
        data: frames::payload(seed, len),
    }
}

/// Run `records` as one BFW1 stream cut `cut` bytes short of its end.
fn cut_run(records: &[FramedRecord], cut: usize, want_len: u64) {
    let mut stream = framed_stream(records);
    stream.truncate(stream.len() - cut);
    let sc = Scenario::demo(stream, 1448, 21, 22).with_protocol(Protocol::Framed);
    let want = sc.expected_file().unwrap();
    assert_eq!(want.len(), want_len, "the reference");
    for b in Backend::ALL {
        let r = run_stream(&sc, &RunOptions::new(b, 64)).unwrap_or_else(|e| {
            panic!(
                "{}: a cut stream is a failed run, not an error: {e}",
                b.name()
            )
        });
        let ctx = format!("{}: {:?}", b.name(), r.failures);
        let e = r.stream_error.clone().unwrap_or_default();
        assert!(e.contains("the stream ends at"), "{ctx}");
        assert!(!r.passed, "{ctx}");
        assert_eq!(r.payload_bytes, want_len, "{ctx}");
        assert_eq!(
            r.disk_sha256, r.source_sha256,
            "what arrived is on disk: {ctx}"
        );
        assert_eq!(r.disk_sha256, want.sha256_hex(), "{ctx}");
        assert_eq!(r.buflets_free_end, r.num_buflets, "{ctx}");
    }
}

/// A lone record cut in its data: 10,000 of its declared 20,000 bytes arrive.
#[test]
fn a_record_cut_in_its_data_writes_what_arrived() {
    cut_run(&[rec(0, 20_000, 1)], 10_000, 10_000);
}

/// The cut record lies past an earlier one; the file ends where its data stops.
#[test]
fn a_cut_record_beyond_an_earlier_one_sets_the_length() {
    cut_run(&[rec(0, 30_000, 2), rec(50_000, 20_000, 3)], 15_000, 55_000);
}

/// The stream stops inside the last record's header: the file is the earlier records only.
#[test]
fn a_stream_cut_in_a_header_keeps_the_earlier_records() {
    cut_run(&[rec(100, 9_000, 4), rec(70_000, 10, 5)], 10 + 12, 9_100);
}
