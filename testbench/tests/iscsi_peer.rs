//! The NIC's iSCSI target end to end, on both backends: an iSCSI initiator on smoltcp's TCP
//! logs in, writes a seeded file with WRITE(10) (immediate data and R2T-solicited Data-Out),
//! reads it back with READ(10) (Data-In sent by the NIC from the pages the block engine read
//! into) and logs out. The file read back and the logical unit's blocks on the disk image must
//! both match the source by sha256, every command must end GOOD, and the payload must cross
//! host DRAM about twice per byte each way (zero-copy; p2p writes: about 0.1). The independent
//! initiator is libiscsi, run live by scripts/iscsi-conformance.sh (root and a TAP interface).

use buflet_iscsi::pdu;
use buflet_testbench::peer::iscsi::{
    run, run_digests, run_with, Hostile, IscsiPeerReport, TINY_VERIFY_BYTES,
};
use buflet_testbench::peer::PeerOpts;
use buflet_testbench::Backend;

fn opts(backend: Backend, width: u32, bytes: u64, loss: f64) -> PeerOpts {
    PeerOpts {
        backend,
        width,
        bytes,
        loss,
        reorder: loss,
        dup: 0.0,
        seed: 16,
        read_back: false,
        cow: Default::default(),
        pcap_out: None,
        mode: Default::default(),
    }
}

fn check(r: &IscsiPeerReport) {
    assert!(r.passed, "{}: {:?}", r.backend, r.failures);
    assert!(
        r.verified,
        "{}: read {} disk {} source {}",
        r.backend, r.read_sha256, r.disk_sha256, r.source_sha256
    );
    let chunks = r.bytes.div_ceil(buflet_testbench::peer::iscsi::CHUNK);
    assert_eq!(
        r.commands,
        2 * chunks,
        "{}: one WRITE and one READ per chunk",
        r.backend
    );
    // Everything beyond the first burst of each write is solicited.
    assert!(
        r.r2ts >= chunks,
        "{}: {} R2Ts for {chunks} writes",
        r.backend,
        r.r2ts
    );
    assert!(
        r.data_in_pdus >= chunks,
        "{}: {} Data-In PDUs",
        r.backend,
        r.data_in_pdus
    );
    // p2p: data-out stays in the NIC's buflets and the block engine writes it from there;
    // data-in is read into host buflets and sent from there. Only metadata (hold records,
    // lists, requests, completions, Data-In headers; headers read by MMIO: none) crosses host
    // DRAM. Otherwise each byte crosses about twice each way.
    let (write, read) = if r.mode == "p2p" {
        (0.0..0.15, 0.0..0.15)
    } else {
        (1.9..2.6, 1.9..2.6)
    };
    assert!(
        write.contains(&r.write_dram_crossings_per_byte),
        "{} {}: writing crosses host DRAM {:.3} times per byte",
        r.backend,
        r.mode,
        r.write_dram_crossings_per_byte
    );
    assert!(
        read.contains(&r.read_dram_crossings_per_byte),
        "{} {}: reading crosses host DRAM {:.3} times per byte",
        r.backend,
        r.mode,
        r.read_dram_crossings_per_byte
    );
}

#[test]
fn iscsi_write_and_read_back_model() {
    let r = run(&opts(Backend::Model, 64, 4 << 20, 0.0)).expect("model run");
    check(&r);
}

#[test]
fn iscsi_write_and_read_back_rtl() {
    let r = run(&opts(Backend::Rtl, 64, 1 << 20, 0.0)).expect("rtl run");
    check(&r);
}

#[test]
fn iscsi_write_and_read_back_rtl_512() {
    let r = run(&opts(Backend::Rtl, 512, 1 << 20, 0.0)).expect("rtl 512 run");
    check(&r);
}

/// p2p (docs/p2p.md): the session's socket is a hold socket, PDU headers are read through the
/// NIC's buflet-memory window, and data-out goes from buflet memory to the disk.
#[test]
fn iscsi_p2p_both_backends() {
    for (b, width, bytes, loss) in [
        (Backend::Model, 64, 4 << 20, 0.0),
        (Backend::Model, 64, 1 << 20, 0.02),
        (Backend::Rtl, 64, 1 << 20, 0.0),
        (Backend::Rtl, 512, 512 << 10, 0.02),
    ] {
        let mut o = opts(b, width, bytes, loss);
        o.mode = buflet_nas::WriteMode::P2p;
        let r = run(&o).expect("p2p run");
        assert_eq!(r.mode, "p2p");
        check(&r);
    }
}

/// HeaderDigest and DataDigest CRC32C: the initiator checks every digest the target makes
/// (with the crc32c crate) and the target checks the initiator's. The CPU reads each data
/// byte once more to make or check its digest, so data-in goes from host pages even in p2p.
#[test]
fn iscsi_with_digests_both_backends() {
    for (b, width, bytes, mode) in [
        (Backend::Model, 64, 2 << 20, buflet_nas::WriteMode::ZeroCopy),
        (Backend::Model, 64, 1 << 20, buflet_nas::WriteMode::P2p),
        (Backend::Rtl, 64, 512 << 10, buflet_nas::WriteMode::ZeroCopy),
        (Backend::Rtl, 512, 512 << 10, buflet_nas::WriteMode::P2p),
    ] {
        let mut o = opts(b, width, bytes, 0.0);
        o.mode = mode;
        let r = run_digests(&o).expect("digest run");
        let what = format!("{} {} {}", r.backend, r.data_width, r.mode);
        assert!(r.passed, "{what}: {:?}", r.failures);
        assert!(r.verified, "{what}");
        // Every Data-In, R2T and response carried digests that checked out.
        assert!(
            r.digests_checked >= r.data_in_pdus + r.r2ts + r.commands,
            "{what}: {} digests checked for {} Data-Ins, {} R2Ts, {} commands",
            r.digests_checked,
            r.data_in_pdus,
            r.r2ts,
            r.commands
        );
        // Reading: the block engine writes each byte, the NIC reads it, the CPU reads it for
        // the digest.
        assert!(
            (2.9..3.6).contains(&r.read_dram_crossings_per_byte),
            "{what}: reading crosses host DRAM {:.3} times per byte",
            r.read_dram_crossings_per_byte
        );
    }
}

#[test]
fn iscsi_over_a_lossy_link_both_backends() {
    for b in [Backend::Model, Backend::Rtl] {
        let r = run(&opts(b, 64, 1 << 20, 0.02)).expect("lossy run");
        check(&r);
    }
}

/// A PDU with an unknown opcode and a SNACK (ErrorRecoveryLevel 0) are rejected with the
/// reasons RFC 7143 names and the session goes on: the file still lands and reads back.
#[test]
fn protocol_errors_are_rejected_and_the_session_goes_on() {
    for b in [Backend::Model, Backend::Rtl] {
        for (h, reason) in [(Hostile::UnknownOpcode, 0x05), (Hostile::Snack, 0x04)] {
            let r = run_with(&opts(b, 64, 256 << 10, 0.0), Some(h)).expect("hostile run");
            assert_eq!(
                r.rejects,
                vec![reason],
                "{} {h:?}: {:?}",
                r.backend,
                r.failures
            );
            check(&r);
        }
    }
}

/// A data segment over MaxRecvDataSegmentLength: the target rejects it and then resets the
/// connection (the stream after it cannot be trusted); nothing hangs.
#[test]
fn an_oversize_segment_is_rejected_and_the_connection_reset() {
    for b in [Backend::Model, Backend::Rtl] {
        let r = run_with(&opts(b, 64, 256 << 10, 0.0), Some(Hostile::OversizeSegment))
            .expect("hostile run");
        assert_eq!(r.rejects, vec![0x04], "{}: {:?}", r.backend, r.failures);
        assert!(
            r.reset_by_target,
            "{}: the connection was not reset",
            r.backend
        );
        assert!(!r.passed, "{}", r.backend);
    }
}

/// An initiator that pushes every 512-byte segment alone (each PSH returns a named buffer)
/// while the logical unit compares 16 KiB at a time: the 16 buffers fill with less than one
/// compare, so the target must copy the data-out out of them (bounce) to go on. The VERIFY
/// ends GOOD and the file still reads back. Before the bounce, this stalled.
#[test]
fn tiny_pushes_are_bounced_not_stalled_both_backends() {
    for (b, width) in [(Backend::Model, 64), (Backend::Rtl, 64)] {
        let r = run_with(&opts(b, width, 256 << 10, 0.0), Some(Hostile::TinyPushes))
            .expect("tiny-push run");
        assert!(r.passed, "{}: {:?}", r.backend, r.failures);
        assert!(r.verified, "{}", r.backend);
        let chunks = r.bytes.div_ceil(buflet_testbench::peer::iscsi::CHUNK);
        assert_eq!(
            r.commands,
            2 * chunks + 1,
            "{}: the VERIFY ended",
            r.backend
        );
        assert!(
            r.bounced_bytes > 0 && r.bounced_bytes <= TINY_VERIFY_BYTES,
            "{}: {} data-out bytes bounced",
            r.backend,
            r.bounced_bytes
        );
    }
    // p2p: the named buffers go back at once (the bytes stay in held buflets, bounded by the
    // window), so the same VERIFY ends GOOD without a bounce.
    for b in [Backend::Model, Backend::Rtl] {
        let mut o = opts(b, 64, 256 << 10, 0.0);
        o.mode = buflet_nas::WriteMode::P2p;
        let r = run_with(&o, Some(Hostile::TinyPushes)).expect("tiny-push p2p run");
        assert!(r.passed, "{} p2p: {:?}", r.backend, r.failures);
        assert_eq!(r.bounced_bytes, 0, "{} p2p", r.backend);
    }
}

/// ABORT TASK of a write the target has long answered (RefCmdSN below ExpCmdSN): "Task does
/// not exist" (RFC 7143 11.6.1), as libiscsi's AbortTaskSimpleAsync expects when the write
/// wins the race; "Function complete" would tell the initiator its completed write was
/// aborted. The session goes on: the file reads back.
#[test]
fn abort_of_an_answered_task_is_task_does_not_exist_both_backends() {
    for b in [Backend::Model, Backend::Rtl] {
        let r = run_with(&opts(b, 64, 256 << 10, 0.0), Some(Hostile::AbortAnswered))
            .expect("abort run");
        assert_eq!(
            r.tmf_responses,
            vec![pdu::tmf_response::TASK_DOES_NOT_EXIST],
            "{}: {:?}",
            r.backend,
            r.failures
        );
        check(&r);
    }
}

/// A client that connects and never logs in: the target ends the connection (RST) after its
/// login timeout instead of holding it for good, and says why.
#[test]
fn no_login_is_timed_out_both_backends() {
    for b in [Backend::Model, Backend::Rtl] {
        let r =
            run_with(&opts(b, 64, 256 << 10, 0.0), Some(Hostile::NoLogin)).expect("no-login run");
        assert!(r.reset_by_target, "{}: {:?}", r.backend, r.failures);
        assert!(!r.passed, "{}", r.backend);
        assert_eq!(r.commands, 0, "{}", r.backend);
        assert!(
            r.target_failures
                .iter()
                .any(|f| f.contains("no login within")),
            "{}: {:?}",
            r.backend,
            r.target_failures
        );
    }
}
