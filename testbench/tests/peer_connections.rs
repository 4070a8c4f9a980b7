//! `buflet peer --connections`: several smoltcp connections at once through the seeded lossy
//! link to a NIC that listens, on the model and on the RTL. Every connection's file must hold
//! that connection's seeded bytes (sha256 computed here from the seeded stream), every
//! connection is accepted from the listen slot, and every buflet is back after the last
//! SOCK_DEL.

use buflet_testbench::peer::many::run_many;
use buflet_testbench::peer::PeerOpts;
use buflet_testbench::{frames, sha256_hex, Backend};

fn opts(backend: Backend, bytes: u64, loss: f64, reorder: f64, seed: u64) -> PeerOpts {
    PeerOpts {
        backend,
        width: 64,
        bytes,
        loss,
        reorder,
        dup: 0.0,
        seed,
        read_back: false,
        cow: Default::default(),
        pcap_out: None,
        mode: Default::default(),
    }
}

#[test]
fn four_lossy_connections_land_on_both_backends() {
    for backend in Backend::ALL {
        let o = opts(backend, 96 * 1024 + 5, 0.02, 0.05, 7);
        let r = run_many(&o, 4, None).unwrap_or_else(|e| panic!("{}: {e}", backend.name()));
        let ctx = format!("{}: {}", backend.name(), serde_json::to_string(&r).unwrap());
        assert!(r.passed, "{ctx}");
        assert_eq!(r.connections.len(), 4, "{ctx}");
        assert_eq!(r.accepts, 4, "{ctx}");
        assert_eq!(r.buflets_free_end, r.num_buflets, "{ctx}");
        for (i, c) in r.connections.iter().enumerate() {
            let want = sha256_hex(&frames::payload(
                frames::connection_seed(7, i),
                o.bytes as usize,
            ));
            assert_eq!(c.sha256, want, "connection {i}: {ctx}");
            assert!(c.verified, "connection {i}: {ctx}");
            assert_eq!(c.bytes, o.bytes, "{ctx}");
            assert_eq!(c.client, format!("10.0.0.1:{}", 40000 + i), "{ctx}");
        }
        // The link did lose frames, and the peer made up for them.
        assert!(r.link.to_nic.dropped + r.link.to_peer.dropped > 0, "{ctx}");
    }
}

#[test]
fn more_connections_than_sockets_all_land() {
    // 70 connections on the 64-socket build: the NAS keeps at most 64 open (the pool holds
    // what is left) and every connection still lands.
    for backend in [Backend::Model, Backend::Rtl] {
        let o = opts(backend, 16 * 1024, 0.0, 0.0, 3);
        let r = run_many(&o, 70, None).unwrap_or_else(|e| panic!("{backend:?}: {e}"));
        assert!(r.passed, "{}", serde_json::to_string(&r).unwrap());
        assert!(r.peak_connections <= 64, "peak {}", r.peak_connections);
        assert_eq!(r.accepts, 70);
    }
}

#[test]
fn read_back_and_zero_connections_are_refused() {
    let mut o = opts(Backend::Model, 4096, 0.0, 0.0, 1);
    assert!(run_many(&o, 0, None).is_err());
    o.read_back = true;
    assert!(run_many(&o, 2, None).is_err());
}
