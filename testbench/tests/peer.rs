//! A real TCP implementation (smoltcp) connects to the NIC's listening socket and sends a seeded
//! stream over a link that loses, reorders and duplicates frames; the stream must land
//! byte-exact on disk through the zero-copy path, on the model and on the RTL, with every buflet
//! back on the free list after SOCK_DEL.

use buflet_testbench::peer::{run, PeerError, PeerOpts, PeerReport};
use buflet_testbench::Backend;

fn opts(backend: Backend, bytes: u64, loss: f64, reorder: f64, dup: f64) -> PeerOpts {
    PeerOpts {
        backend,
        width: 64,
        bytes,
        loss,
        reorder,
        dup,
        seed: 11,
        read_back: false,
        cow: Default::default(),
        pcap_out: None,
        mode: Default::default(),
    }
}

fn go(o: &PeerOpts) -> PeerReport {
    run(o).unwrap_or_else(|e| panic!("{} {:?}: {e}", o.backend.name(), o))
}

fn drop_count(r: &PeerReport, name: &str) -> u64 {
    *r.drops
        .get(name)
        .unwrap_or_else(|| panic!("no drop counter {name}"))
}

/// What every run must satisfy.
fn check_common(r: &PeerReport) {
    assert!(
        r.verified,
        "{}: disk sha {} != source {}",
        r.backend, r.disk_sha256, r.source_sha256
    );
    assert_eq!(r.buflets_free_end, r.num_buflets, "buflets leaked");
    assert_eq!(
        r.link.bad_nic_frames, 0,
        "the NIC sent frames etherparse rejects"
    );
    assert_eq!(
        r.nic_tx_frames, r.link.to_peer.offered,
        "CNT_TX_FRAMES disagrees with the frames the NIC put on the link"
    );
    for reason in [
        "TRUNCATED",
        "NOT_IPV4",
        "BAD_IP_HDR",
        "BAD_IP_CSUM",
        "BAD_L4_HDR",
        "BAD_L4_CSUM",
        "NO_SOCKET",
        "NO_BUFLET",
        "TOO_LONG",
    ] {
        assert_eq!(drop_count(r, reason), 0, "{}: {reason} drops", r.backend);
    }
    // The handshake (SYN-ACK) and an ACK for every data segment at least.
    assert!(r.nic_tx_frames > r.bytes / 1460);
    // docs/tcp-receive.md, "The window": the advertised right edge never moves left (the
    // observer forgives the rounding of the scaled window; the pool never runs dry here, which
    // is the one case where the NIC advertises 0 inside its promise).
    assert_eq!(r.nic_acks.window_shrinks, 0, "{:?}", r.nic_acks);
}

fn check_clean(r: &PeerReport) {
    check_common(r);
    for d in [r.link.to_nic, r.link.to_peer] {
        assert_eq!(d.dropped + d.reordered + d.duplicated, 0);
        assert_eq!(d.delivered, d.offered);
    }
    assert_eq!(
        r.peer_retransmissions,
        Some(0),
        "retransmissions on a clean link"
    );
    assert_eq!((r.peer_timeouts, r.peer_fast_retransmits), (0, 0));
    assert_eq!(r.time_skips, 0, "the peer never waited for a timer");
    assert_eq!(r.ooo_held, 0);
    assert_eq!(r.nic_acks.dup_acks, 0, "duplicate ACKs on a clean link");
    let drops: u64 = r.drops.values().sum();
    assert_eq!(drops, 0, "drops on a clean link: {:?}", r.drops);
}

fn check_impaired(r: &PeerReport) {
    check_common(r);
    // The impairments really happened, in both directions.
    for d in [r.link.to_nic, r.link.to_peer] {
        assert!(
            d.dropped > 0 && d.reordered > 0 && d.duplicated > 0,
            "{d:?}"
        );
    }
    // Lost data segments and lost ACKs make the peer retransmit.
    assert!(r.peer_retransmissions.unwrap() > 0);
    // ... mostly by fast retransmit: while segments wait in the reassembly list the NIC's
    // duplicate ACKs repeat the window exactly, so smoltcp counts them (RFC 5681) and resends
    // the gap after three, instead of waiting for its retransmission timeout (1 s at least).
    // With a window that shrank as held segments took buflets, the same runs recovered from
    // nearly every loss by timeout (model, seed 11, 2 MiB: 26 timeouts, 3 fast retransmits,
    // 26 s simulated; now 5 timeouts, 33 fast retransmits, 5 s).
    assert!(
        r.peer_fast_retransmits > r.peer_timeouts,
        "{} fast retransmits, {} timeouts",
        r.peer_fast_retransmits,
        r.peer_timeouts
    );
    // Every timeout costs at least smoltcp's minimum RTO of simulated time.
    assert!(r.sim_time_ms >= 1000.0 * r.peer_timeouts as f64);
    assert!(
        r.nic_acks.dup_acks_window_changed * 10 <= r.nic_acks.dup_acks,
        "{:?}",
        r.nic_acks
    );
    // Segments reordered or sent after a loss arrive ahead of RCV_NXT and are held.
    assert!(r.ooo_held > 0, "nothing held out of order");
    // Duplicates and retransmissions of what the NIC already has are dropped as such.
    assert!(
        drop_count(r, "OUT_OF_WINDOW") + drop_count(r, "DUPLICATE") > 0,
        "{:?}",
        r.drops
    );
    assert_eq!(drop_count(r, "BAD_STATE"), 0, "{:?}", r.drops);
}

/// A stream of `bytes` over a clean link.
fn clean_link(backend: Backend, bytes: u64) {
    check_clean(&go(&opts(backend, bytes, 0.0, 0.0, 0.0)));
}

/// A stream of `bytes` over a link that loses 2%, reorders 5% and duplicates 1% of frames.
fn lossy_link(backend: Backend, bytes: u64) {
    check_impaired(&go(&opts(backend, bytes, 0.02, 0.05, 0.01)));
}

/// 1 MiB over a lossier link (3% lost, 5% reordered, 2% duplicated), 512-bit data path.
fn lossy_link_512_bit(backend: Backend) {
    let mut o = opts(backend, 1 << 20, 0.03, 0.05, 0.02);
    o.width = 512;
    o.seed = 5;
    check_impaired(&go(&o));
}

// The RTL runs smaller streams than the model to keep CI time down (Verilator simulates a few
// hundred thousand cycles per second here; 1 MiB over the impaired link takes a few seconds);
// the impaired ones are still long enough for every impairment in both directions.
buflet_testbench::backend_tests! {
    clean_link => model_clean_link((1 << 20) + 333), rtl_clean_link(512 * 1024 + 77);
    lossy_link => model_lossy_link(2 << 20), rtl_lossy_link(1 << 20);
    lossy_link_512_bit => model_lossy_link_512_bit(), rtl_lossy_link_512_bit();
}

/// Same options, same run: nothing reads a wall clock, on either backend (the RTL run is
/// shorter: Verilator is much slower than the model).
#[test]
fn runs_are_deterministic() {
    for (backend, bytes) in [(Backend::Model, 300_000), (Backend::Rtl, 100_000)] {
        let o = opts(backend, bytes, 0.02, 0.05, 0.01);
        let a = go(&o);
        let b = go(&o);
        check_common(&a);
        assert_eq!(a.cycles, b.cycles, "{}", backend.name());
        assert_eq!(a.link, b.link);
        assert_eq!(a.nic_acks, b.nic_acks);
        assert_eq!(a.drops, b.drops);
        assert_eq!(a.sim_time_ms, b.sim_time_ms);
        assert_eq!(
            (a.peer_timeouts, a.peer_fast_retransmits),
            (b.peer_timeouts, b.peer_fast_retransmits)
        );
    }
}

/// The model and the RTL agree on a clean transfer: the frame counts within 2% (smoltcp's
/// segmentation follows the timing of the ACKs) and the cycles within 5%.
#[test]
fn model_and_rtl_agree_on_a_clean_link() {
    let m = go(&opts(Backend::Model, 256 * 1024, 0.0, 0.0, 0.0));
    let r = go(&opts(Backend::Rtl, 256 * 1024, 0.0, 0.0, 0.0));
    check_clean(&m);
    check_clean(&r);
    let (fm, fr) = (m.nic_tx_frames as f64, r.nic_tx_frames as f64);
    assert!((fm - fr).abs() <= 0.02 * fm.max(fr), "{fm} vs {fr} frames");
    let (a, b) = (m.cycles as f64, r.cycles as f64);
    assert!(
        (a - b).abs() <= 0.05 * a.max(b),
        "model {} vs RTL {} cycles",
        m.cycles,
        r.cycles
    );
}

/// Options are checked before any device is built, so both backends refuse them the same way
/// (and the RTL costs nothing here).
#[test]
fn bad_options_are_refused() {
    for backend in Backend::ALL {
        let mut o = opts(backend, 1000, 1.5, 0.0, 0.0);
        assert!(matches!(run(&o), Err(PeerError::Options(_))));
        o.loss = 0.0;
        o.width = 100;
        assert!(matches!(run(&o), Err(PeerError::Options(_))));
        o.width = 64;
        o.bytes = (1 << 32) + 1;
        assert!(matches!(run(&o), Err(PeerError::Options(_))));
    }
}
