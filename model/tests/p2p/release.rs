//! Held chains (docs/p2p.md): the OP_BUF_RELEASE rules, and FIN segments with data and SOCK_DEL,
//! which free what was only partly delivered but never a held chain.

use super::*;

/// BUF_RELEASE: COUNT range, heads in order, the first head not held stops the request.
#[test]
fn buf_release_rules() {
    let mut r = Rig::new("p2p-rel", cfg(64), 32, 32);
    let n = geometry(&r).1;
    let (recs, chains) = delivered(&mut r, &[100, 5000, 200, 3000, 300]);
    let heads: Vec<u16> = recs
        .iter()
        .filter(|x| x.head != NULL)
        .map(|x| x.head)
        .collect();
    assert_eq!(heads.len(), 5);
    assert_eq!(chains, vec![1, 3, 1, 2, 1]);
    let mut free = n - 8;
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), free);
    // A buflet of a held chain that is not its head.
    let inner = recs
        .iter()
        .find(|x| x.head == NULL && x.off == 0)
        .map(|x| x.buflet)
        .unwrap();
    assert!(!heads.contains(&inner));
    // COUNT out of range: nothing released.
    assert_eq!(release(&mut r, 1, 0, &heads), (Status::BadBuf, 0));
    assert_eq!(release(&mut r, 2, 25, &heads), (Status::BadBuf, 0));
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), free);
    // Stops at the first head that is not held.
    assert_eq!(
        release(&mut r, 3, 4, &[heads[0], heads[1], 0x1234, heads[2]]),
        (Status::BadBuf, 2)
    );
    free += 4;
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), free);
    assert_eq!(r.r(reg::CNT_BUF_RELEASED), 2);
    for (tag, h) in [(4, heads[0]), (5, inner), (6, n as u16), (7, NULL)] {
        assert_eq!(release(&mut r, tag, 1, &[h]), (Status::BadBuf, 0), "{h}");
    }
    assert_eq!(
        release(&mut r, 8, 2, &[heads[3], heads[1]]),
        (Status::BadBuf, 1)
    );
    free += 2;
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), free);
    assert_eq!(
        release(&mut r, 9, 2, &[heads[4], heads[2]]),
        (Status::Ok, 2)
    );
    assert_eq!(r.r(reg::CNT_BUF_RELEASED), 5);
    assert_eq!(r.r(reg::CNT_REQ_ERRORS), 8);
    r.assert_all_free();
    // COUNT = RELEASE_MAX is in range (and stops at the first head not held).
    assert_eq!(release(&mut r, 10, 24, &[0; 24]), (Status::BadBuf, 0));
}

/// Post an NB of `total` bytes over one page as ref `rn`; returns its pages.
fn post_one(r: &mut Rig, rn: u32, total: u32) -> Vec<u64> {
    let (hmd, pages) = r.nb_mem(4096);
    r.submit(&nb_post(0, 0x400 + rn, rn, total, hmd, 1));
    pages
}

/// Wait for the NB laid over `pages` to come back FULL with `bytes`; its records.
fn full_records(r: &mut Rig, pages: &[u64], bytes: u32) -> Vec<Rec> {
    let c = r.wait_cpls(1);
    assert_eq!((c[0].bytes, c[0].flags), (bytes, CplFlags::FULL));
    records(r, pages, bytes)
}

/// Delete socket 0 and check the free buflet count afterwards (`what` says why it is `free`).
fn delete_leaves_free(r: &mut Rig, free: u32, what: &str) {
    r.delete(0);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), free, "{what}");
}

/// Send one data segment; returns (payload offset, buflets of its frame).
fn send_one(r: &mut Rig, seq: u32, len: usize, fin: bool, seed: u64) -> (usize, u32) {
    let f = frame(&Seg {
        seq,
        fin,
        payload: bytes(seed, len),
        ..Seg::default()
    });
    let out = (pay_off(&f), f.len().div_ceil(2048) as u32);
    r.push(f);
    r.settle();
    out
}

/// A FIN segment with data is held by its last record and its marker (returned on the next NB,
/// or still on the list at SOCK_DEL) does not free it; SOCK_DEL frees a partly delivered head
/// segment but never a held chain.
#[test]
fn fin_with_data_and_sock_del() {
    let mut r = Rig::new("p2p-del", cfg(64), 32, 32);
    let n = geometry(&r).1;
    let mut heads = vec![];

    // 1. 2500 bytes with FIN fill the NB exactly (chunks 1994 and 506); the FIN marker
    //    returns the next NB empty and leaves the held chain alone.
    let seq = hold_socket(&mut r);
    let pages = post_one(&mut r, 0, 2500);
    let (po, nb) = send_one(&mut r, seq, 2500, true, 5);
    let recs = full_records(&mut r, &pages, 2500);
    check_records(
        &recs,
        &oracle(2048, &[(po, 2500)], &[(2500, 1)])[0],
        &mut None,
    );
    assert_eq!(nb, 2);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n - 2);
    post_one(&mut r, 1, 4096);
    let c = r.wait_cpls(1);
    assert_eq!(
        (c[0].ref_num, c[0].bytes, c[0].flags, c[0].stream_off),
        (1, 0, CplFlags::FIN, 2500)
    );
    assert_eq!(
        r.r(reg::CNT_FREE_BUFLETS),
        n - 2,
        "the FIN marker's chain is held"
    );
    heads.push(recs[1].head);
    r.delete(0);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n - 2);

    // 2. A whole segment (held) and a partly delivered one (freed by SOCK_DEL).
    let seq = hold_socket(&mut r);
    let pages = post_one(&mut r, 2, 2000);
    let (_, a) = send_one(&mut r, seq, 1500, false, 6);
    let (_, b) = send_one(&mut r, seq.wrapping_add(1500), 4000, false, 7);
    assert_eq!((a, b), (1, 2));
    let recs = full_records(&mut r, &pages, 2000);
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[0].head, recs[1].head), (recs[0].buflet, NULL));
    heads.push(recs[0].head);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n - 5);
    delete_leaves_free(&mut r, n - 3, "the partly delivered segment is freed");

    // 3. 1000 bytes with FIN fill the NB; the FIN marker is still on the list at SOCK_DEL.
    let seq = hold_socket(&mut r);
    let pages = post_one(&mut r, 3, 1000);
    send_one(&mut r, seq, 1000, true, 8);
    let recs = full_records(&mut r, &pages, 1000);
    assert_eq!(recs[0].head, recs[0].buflet);
    heads.push(recs[0].head);
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n - 4);
    delete_leaves_free(&mut r, n - 4, "held chains survive SOCK_DEL");

    assert_eq!(release(&mut r, 1, 3, &heads), (Status::Ok, 3));
    r.assert_all_free();

    // 4. Released while its FIN marker is still listed: counted released at once, freed once
    //    when the marker leaves the list (its FIN step), never twice.
    let seq = hold_socket(&mut r);
    let pages = post_one(&mut r, 4, 1000);
    send_one(&mut r, seq, 1000, true, 9);
    let recs = full_records(&mut r, &pages, 1000);
    let h = recs[0].head;
    assert_eq!(r.r(reg::CNT_FREE_BUFLETS), n - 1);
    assert_eq!(release(&mut r, 2, 1, &[h]), (Status::Ok, 1));
    assert_eq!(
        r.r(reg::CNT_FREE_BUFLETS),
        n - 1,
        "the marker still uses the chain"
    );
    assert_eq!(release(&mut r, 3, 1, &[h]), (Status::BadBuf, 0));
    post_one(&mut r, 5, 4096);
    let c = r.wait_cpls(1);
    assert_eq!((c[0].bytes, c[0].flags), (0, CplFlags::FIN));
    r.assert_all_free();
    r.finish(0);
}
