//! Persistent reservations: registration, reservation types and the SPC-4 conflict table.

mod common;

use buflet_scsi::{iscsi_transport_id, status, LuHandler};
use common::*;

const A: u64 = 0xAAAA;
const B: u64 = 0xBBBB;

fn prout(sa: u8, rtype: u8, key: u64, sa_key: u64, flags: u8) -> (Vec<u8>, Vec<u8>) {
    let c = vec![0x5F, sa, rtype & 0x0F, 0, 0, 0, 0, 0, 24, 0];
    let mut p = vec![0u8; 24];
    p[0..8].copy_from_slice(&key.to_be_bytes());
    p[8..16].copy_from_slice(&sa_key.to_be_bytes());
    p[20] = flags;
    (c, p)
}

fn out(r: &Rig, init: u64, sa: u8, rtype: u8, key: u64, sa_key: u64) -> Res {
    let (c, p) = prout(sa, rtype, key, sa_key, 0);
    r.cmd_from(init, &c, &p, 24)
}

fn prin(r: &Rig, init: u64, sa: u8) -> Res {
    r.cmd_from(init, &[0x5E, sa, 0, 0, 0, 0, 0, 0x10, 0, 0], &[], 4096)
}

fn keys(r: &Rig) -> (u32, Vec<u64>) {
    let d = prin(r, 99, 0);
    d.assert_good();
    let gen = u32::from_be_bytes(d.data[0..4].try_into().unwrap());
    let len = u32::from_be_bytes(d.data[4..8].try_into().unwrap()) as usize;
    assert_eq!(len, d.data.len() - 8);
    let k = d.data[8..]
        .chunks_exact(8)
        .map(|x| u64::from_be_bytes(x.try_into().unwrap()))
        .collect();
    (gen, k)
}

/// (key, type) of the reservation, if any.
fn reservation(r: &Rig) -> Option<(u64, u8)> {
    let d = prin(r, 99, 1);
    d.assert_good();
    let len = u32::from_be_bytes(d.data[4..8].try_into().unwrap());
    if len == 0 {
        return None;
    }
    assert_eq!(len, 16);
    Some((
        u64::from_be_bytes(d.data[8..16].try_into().unwrap()),
        d.data[21] & 0x0F,
    ))
}

/// Clear any unit attention of `init`.
fn drain(r: &Rig, init: u64) {
    for _ in 0..8 {
        if r.cmd_from(init, &[0; 6], &[], 0).good() {
            return;
        }
    }
}

#[test]
fn register_and_read_keys() {
    let r = Rig::small();
    assert_eq!(keys(&r), (0, vec![]));
    out(&r, 1, 0, 0, 0, A).assert_good();
    out(&r, 2, 0, 0, 0, B).assert_good();
    let (gen, k) = keys(&r);
    assert_eq!(gen, 2);
    assert_eq!(k, vec![A, B]);
    // Re-register with the wrong reservation key: conflict, nothing changes.
    assert_eq!(
        out(&r, 1, 0, 0, 0, 0x1234).status(),
        status::RESERVATION_CONFLICT
    );
    // An unregistered nexus naming a key: conflict.
    assert_eq!(
        out(&r, 3, 0, 0, 9, 9).status(),
        status::RESERVATION_CONFLICT
    );
    // An unregistered nexus unregistering: GOOD, no generation change.
    out(&r, 3, 0, 0, 0, 0).assert_good();
    assert_eq!(keys(&r).0, 2);
    // Change key with the right one; REGISTER AND IGNORE ignores it.
    out(&r, 1, 0, 0, A, 0xA1).assert_good();
    out(&r, 2, 6, 0, 0xDEAD, 0xB1).assert_good();
    assert_eq!(keys(&r), (4, vec![0xA1, 0xB1]));
    // Unregister.
    out(&r, 1, 0, 0, 0xA1, 0).assert_good();
    assert_eq!(keys(&r), (5, vec![0xB1]));
}

#[test]
fn reserve_and_release() {
    let r = Rig::small();
    out(&r, 1, 0, 0, 0, A).assert_good();
    out(&r, 2, 0, 0, 0, B).assert_good();
    // Not registered, or the wrong key: conflict.
    assert_eq!(
        out(&r, 3, 1, 1, 0, 0).status(),
        status::RESERVATION_CONFLICT
    );
    assert_eq!(
        out(&r, 1, 1, 1, B, 0).status(),
        status::RESERVATION_CONFLICT
    );
    out(&r, 1, 1, 1, A, 0).assert_good();
    assert_eq!(reservation(&r), Some((A, 1)));
    // The holder again with the same type: GOOD; another type or nexus: conflict.
    out(&r, 1, 1, 1, A, 0).assert_good();
    assert_eq!(
        out(&r, 1, 1, 3, A, 0).status(),
        status::RESERVATION_CONFLICT
    );
    assert_eq!(
        out(&r, 2, 1, 1, B, 0).status(),
        status::RESERVATION_CONFLICT
    );
    // Release by a registered non-holder: GOOD, nothing happens.
    out(&r, 2, 2, 1, B, 0).assert_good();
    assert_eq!(reservation(&r), Some((A, 1)));
    // Release with the wrong type.
    out(&r, 1, 2, 3, A, 0).assert_sense(5, 0x26, 0x04);
    out(&r, 1, 2, 1, A, 0).assert_good();
    assert_eq!(reservation(&r), None);
    // Invalid type and scope.
    out(&r, 1, 1, 2, A, 0).assert_sense(5, 0x24, 0);
    let (mut c, p) = prout(1, 1, A, 0, 0);
    c[2] = 0x11; // scope 1
    r.cmd_from(1, &c, &p, 24).assert_sense(5, 0x24, 0);
}

#[test]
fn conflict_table() {
    // (type, registered non-holder (read, write) allowed, unregistered (read, write) allowed)
    let table = [
        (1u8, (true, false), (true, false)),
        (3, (false, false), (false, false)),
        (5, (true, true), (true, false)),
        (6, (true, true), (false, false)),
        (7, (true, true), (true, false)),
        (8, (true, true), (false, false)),
    ];
    for (t, reg, unreg) in table {
        let r = Rig::small();
        out(&r, 1, 0, 0, 0, A).assert_good();
        out(&r, 2, 0, 0, 0, B).assert_good();
        out(&r, 1, 1, t, A, 0).assert_good();
        let check = |init: u64, (rd, wr): (bool, bool)| {
            let read = r.cmd_from(init, &read10(0, 1), &[], 512);
            let write = r.cmd_from(init, &write10(0, 1), &[3; 512], 512);
            let ok = |x: &Res, allowed: bool| {
                if allowed {
                    x.assert_good();
                } else {
                    assert_eq!(
                        x.status(),
                        status::RESERVATION_CONFLICT,
                        "type {t} nexus {init}"
                    );
                }
            };
            ok(&read, rd);
            ok(&write, wr);
            // Always allowed: TEST UNIT READY, INQUIRY, READ CAPACITY, PR IN.
            r.cmd_from(init, &[0; 6], &[], 0).assert_good();
            r.cmd_from(init, &[0x12, 0, 0, 0, 36, 0], &[], 36)
                .assert_good();
            r.cmd_from(init, &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[], 8)
                .assert_good();
            prin(&r, init, 0).assert_good();
            // UNMAP, WRITE SAME and SYNCHRONIZE CACHE are writes.
            let s = r.cmd_from(init, &cdb10(0x35, 0, 0), &[], 0);
            assert_eq!(s.good(), wr, "type {t} nexus {init} sync cache");
        };
        check(1, (true, true));
        check(2, reg);
        check(3, unreg);
        // The medium holds what an allowed write wrote, never a refused one.
        let d = r.din(&read10(0, 1), 512);
        assert_eq!(d.data, vec![3; 512]);
    }
}

#[test]
fn all_registrants_reservation_follows_registrations() {
    let r = Rig::small();
    out(&r, 1, 0, 0, 0, A).assert_good();
    out(&r, 2, 0, 0, 0, B).assert_good();
    out(&r, 1, 1, 8, A, 0).assert_good();
    // Key 0 reported for all-registrants types.
    assert_eq!(reservation(&r), Some((0, 8)));
    // Every registrant holds it: nexus 2 may release it.
    out(&r, 1, 0, 0, A, 0).assert_good(); // nexus 1 unregisters: still reserved
    assert_eq!(reservation(&r), Some((0, 8)));
    out(&r, 2, 0, 0, B, 0).assert_good(); // the last one: released
    assert_eq!(reservation(&r), None);
}

#[test]
fn registrants_only_holder_unregistering_releases() {
    let r = Rig::small();
    out(&r, 1, 0, 0, 0, A).assert_good();
    out(&r, 2, 0, 0, 0, B).assert_good();
    out(&r, 1, 1, 5, A, 0).assert_good();
    out(&r, 1, 0, 0, A, 0).assert_good();
    assert_eq!(reservation(&r), None);
    r.cmd_from(2, &[0; 6], &[], 0).assert_sense(6, 0x2A, 0x04);
}

#[test]
fn preempt_and_clear() {
    let r = Rig::small();
    out(&r, 1, 0, 0, 0, A).assert_good();
    out(&r, 2, 0, 0, 0, B).assert_good();
    out(&r, 3, 0, 0, 0, 0xC).assert_good();
    out(&r, 1, 1, 3, A, 0).assert_good();
    let gen = keys(&r).0;
    // Nexus 2 preempts the holder: 1's registration goes, 2 holds a WE reservation.
    out(&r, 2, 4, 1, B, A).assert_good();
    assert_eq!(reservation(&r), Some((B, 1)));
    let (g2, k) = keys(&r);
    assert_eq!(g2, gen + 1);
    assert_eq!(k, vec![B, 0xC]);
    r.cmd_from(1, &[0; 6], &[], 0).assert_sense(6, 0x2A, 0x05);
    // Nexus 1 is no longer registered: its writes conflict, its PR OUT too.
    assert_eq!(
        r.cmd_from(1, &write10(0, 1), &[1; 512], 512).status(),
        status::RESERVATION_CONFLICT
    );
    assert_eq!(
        out(&r, 1, 4, 1, A, B).status(),
        status::RESERVATION_CONFLICT
    );
    // Preempt a key nobody holds: conflict. Key 0 without an all-registrants reservation:
    // invalid field in the parameter list.
    assert_eq!(
        out(&r, 3, 4, 1, 0xC, 0x77).status(),
        status::RESERVATION_CONFLICT
    );
    out(&r, 3, 4, 1, 0xC, 0).assert_sense(5, 0x26, 0);
    // PREEMPT AND ABORT of a non-holder registrant's key leaves the reservation.
    out(&r, 4, 0, 0, 0, 0xD).assert_good();
    out(&r, 2, 5, 1, B, 0xD).assert_good();
    assert_eq!(reservation(&r), Some((B, 1)));
    assert_eq!(keys(&r).1, vec![B, 0xC]);
    drain(&r, 4);
    // CLEAR by a registrant: everything goes, others are told.
    out(&r, 3, 3, 0, 0xC, 0).assert_good();
    assert_eq!(reservation(&r), None);
    assert_eq!(keys(&r).1, Vec::<u64>::new());
    r.cmd_from(2, &[0; 6], &[], 0).assert_sense(6, 0x2A, 0x03);
}

#[test]
fn preempt_all_registrants_with_key_zero() {
    let r = Rig::small();
    out(&r, 1, 0, 0, 0, A).assert_good();
    out(&r, 2, 0, 0, 0, B).assert_good();
    out(&r, 1, 1, 7, A, 0).assert_good();
    out(&r, 2, 5, 3, B, 0).assert_good();
    assert_eq!(reservation(&r), Some((B, 3)));
    assert_eq!(keys(&r).1, vec![B]);
}

#[test]
fn capabilities_and_full_status() {
    let r = Rig::small();
    let d = prin(&r, 1, 2);
    d.assert_good();
    assert_eq!(d.data.len(), 8);
    assert_eq!(u16::from_be_bytes([d.data[0], d.data[1]]), 8);
    assert_eq!(d.data[3] & 0x80, 0x80, "TMV");
    assert_eq!(d.data[4], 0xEA);
    assert_eq!(d.data[5], 0x01);
    let tid = iscsi_transport_id("iqn.2024-01.org.example:host1,i,0x23d000000001");
    assert_eq!(tid.len() % 4, 0);
    assert_eq!(tid[0], 0x05);
    r.lu.nexus_identity(1, &tid, 1);
    out(&r, 1, 0, 0, 0, A).assert_good();
    out(&r, 2, 0, 0, 0, B).assert_good();
    out(&r, 1, 1, 1, A, 0).assert_good();
    let d = prin(&r, 1, 3);
    d.assert_good();
    let len = u32::from_be_bytes(d.data[4..8].try_into().unwrap()) as usize;
    assert_eq!(len, d.data.len() - 8);
    let mut off = 8;
    let mut seen = Vec::new();
    while off < d.data.len() {
        let x = &d.data[off..];
        let key = u64::from_be_bytes(x[0..8].try_into().unwrap());
        let holder = x[12] & 1 == 1;
        let rtype = x[13] & 0x0F;
        let port = u16::from_be_bytes([x[18], x[19]]);
        let add = u32::from_be_bytes(x[20..24].try_into().unwrap()) as usize;
        let t = &x[24..24 + add];
        seen.push((key, holder, rtype, port, t.to_vec()));
        off += 24 + add;
    }
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], (A, true, 1, 1, tid));
    assert_eq!(seen[1].0, B);
    assert!(!seen[1].1);
    assert_eq!(seen[1].4[0], 0x05, "placeholder iSCSI TransportID");
    // Allocation length truncates.
    let d = r.cmd_from(1, &[0x5E, 3, 0, 0, 0, 0, 0, 0, 12, 0], &[], 12);
    assert_eq!(d.data.len(), 12);
}

#[test]
fn pr_errors() {
    let r = Rig::small();
    // Unknown service actions.
    prin(&r, 1, 5).assert_sense(5, 0x24, 0);
    out(&r, 1, 7, 0, 0, A).assert_sense(5, 0x24, 0);
    // Parameter list length other than 24, or data short of it.
    let (mut c, p) = prout(0, 0, 0, A, 0);
    c[8] = 20;
    r.cmd_from(1, &c, &p[..20], 20).assert_sense(5, 0x1A, 0);
    let (c, p) = prout(0, 0, 0, A, 0);
    r.cmd_from(1, &c, &p[..10], 10).assert_sense(5, 0x1A, 0);
    // APTPL, SPEC_I_PT, ALL_TG_PT are not supported.
    for f in [0x01, 0x04, 0x08] {
        let (c, p) = prout(0, 0, 0, A, f);
        r.cmd_from(1, &c, &p, 24).assert_sense(5, 0x26, 0);
    }
    assert_eq!(keys(&r), (0, vec![]));
}
