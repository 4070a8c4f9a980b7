//! iSCSI-shaped co-simulation traffic (issue 16, `testbench/src/cosim/gen/iscsi.rs`): the
//! generated stimuli carry the shapes the NAS's iSCSI target puts through the NIC (a client
//! stream of real PDUs with Data-Out bursts, R2T and Data-In posts by the host), and the RTL
//! and the model agree on them.

use buflet_iscsi::pdu::{self, Pdu, BHS_LEN};
use buflet_testbench::cosim::{self, GenConfig, Step, Stimulus};
use etherparse::{SlicedPacket, TransportSlice};
use std::collections::BTreeMap;

/// The socket of a stimulus's iSCSI connection (the SOCK_ADD on port 3260).
fn iscsi_sock(stim: &Stimulus) -> Option<u16> {
    stim.steps.iter().find_map(|s| match s {
        Step::AddSocket(p) if p.local_port == 3260 => Some(p.sock_ref),
        _ => None,
    })
}

/// The steps of the iSCSI connection alone (its requests and its client's frames).
fn iscsi_only(stim: &Stimulus, sock: u16) -> Stimulus {
    let keep: Vec<usize> = (0..stim.len())
        .filter(|&i| match &stim.steps[i] {
            Step::AddSocket(p) => p.sock_ref == sock,
            Step::PostNb(n) => n.sock == sock,
            Step::TxPost(t) => t.sock == sock,
            Step::SockClose { sock: s } => *s == sock,
            Step::Frame(f) => f.label.contains(" iSCSI "),
            _ => false,
        })
        .collect();
    stim.subset(&keep)
}

/// One TCP segment of the client: stream offset, payload, PSH.
struct Seg {
    off: usize,
    payload: Vec<u8>,
    psh: bool,
}

/// The client's segments (from its SYN's sequence number) and its byte stream reassembled.
fn client_stream(stim: &Stimulus) -> (Vec<Seg>, Vec<u8>) {
    let mut irs = None;
    let mut segs = Vec::new();
    for s in &stim.steps {
        let Step::Frame(f) = s else { continue };
        if !f.label.contains(" iSCSI ") {
            continue;
        }
        let p = SlicedPacket::from_ethernet(&f.bytes).unwrap();
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!("not TCP: {}", f.label)
        };
        if t.syn() {
            irs = Some(t.sequence_number());
            continue;
        }
        let off = t
            .sequence_number()
            .wrapping_sub(irs.unwrap().wrapping_add(1)) as usize;
        if !t.payload().is_empty() {
            segs.push(Seg {
                off,
                payload: t.payload().to_vec(),
                psh: t.psh(),
            });
        }
    }
    let mut by_off: BTreeMap<usize, &Seg> = BTreeMap::new();
    for s in &segs {
        by_off.insert(s.off, s);
    }
    let mut stream = Vec::new();
    for (off, s) in by_off {
        assert_eq!(off, stream.len(), "a hole in the client's stream");
        stream.extend_from_slice(&s.payload);
    }
    (segs, stream)
}

/// The PDUs of a byte stream: (start, end, header).
fn pdus(stream: &[u8]) -> Vec<(usize, usize, Pdu)> {
    let mut v = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let h: &[u8; BHS_LEN] = stream[at..at + BHS_LEN].try_into().unwrap();
        let dsl = pdu::Bhs::new_unchecked(&h[..]).data_segment_length() as usize;
        let end = at + BHS_LEN + pdu::padded_len(dsl);
        v.push((at, end, Pdu::parse(h).unwrap()));
        at = end;
    }
    assert_eq!(at, stream.len(), "the stream ends inside a PDU");
    v
}

/// What a stimulus's iSCSI connection contains.
#[derive(Debug, Default)]
struct Shapes {
    logins: usize,
    writes_with_immediate: usize,
    reads: usize,
    nops: usize,
    /// Data-Out bursts of two PDUs or more (DataSN from 0, offsets contiguous, F on the last
    /// only).
    data_out_bursts: usize,
    /// PDUs whose bytes span two segments or more, and segments carrying two PDUs' bytes.
    pdus_across_segments: usize,
    segments_across_pdus: usize,
    r2t_posts: usize,
    /// Data-In header posts followed by their data post (several pages, by reference).
    data_in_posts: usize,
    response_posts: usize,
}

fn shapes(stim: &Stimulus, sock: u16) -> Shapes {
    let mut sh = Shapes::default();
    let (segs, stream) = client_stream(stim);
    let ps = pdus(&stream);
    assert!(matches!(ps[0].2, Pdu::LoginRequest(_)), "{:?}", ps[0].2);
    let ends: std::collections::BTreeSet<usize> = ps.iter().map(|p| p.1).collect();
    for s in &segs {
        let end = s.off + s.payload.len();
        if s.psh {
            assert!(ends.contains(&end), "PSH at {end}, not a PDU's end");
        }
        if ps.iter().any(|p| p.0 > s.off && p.0 < end) {
            sh.segments_across_pdus += 1;
        }
    }
    let mut bursts: BTreeMap<(u32, u32), Vec<pdu::DataOut>> = BTreeMap::new();
    for (a, b, p) in &ps {
        if segs.iter().any(|s| s.off > *a && s.off < *b) {
            sh.pdus_across_segments += 1;
        }
        match p {
            Pdu::LoginRequest(_) => sh.logins += 1,
            Pdu::ScsiCommand(c) if c.write && c.data_segment_length > 0 => {
                sh.writes_with_immediate += 1
            }
            Pdu::ScsiCommand(c) if c.read => sh.reads += 1,
            Pdu::NopOut(_) => sh.nops += 1,
            Pdu::DataOut(d) => bursts.entry((d.itt, d.ttt)).or_default().push(*d),
            _ => {}
        }
    }
    for b in bursts.values() {
        for (k, d) in b.iter().enumerate() {
            assert_eq!(d.data_sn, k as u32, "{b:?}");
            assert_eq!(d.final_, k + 1 == b.len(), "{b:?}");
            if k > 0 {
                let prev = &b[k - 1];
                assert_eq!(
                    d.buffer_offset,
                    prev.buffer_offset + prev.data_segment_length
                );
            }
        }
        if b.len() >= 2 {
            sh.data_out_bursts += 1;
        }
    }
    let posts: Vec<&cosim::TxPost> = stim
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::TxPost(t) if t.sock == sock => Some(t),
            _ => None,
        })
        .collect();
    for (i, t) in posts.iter().enumerate() {
        assert!(t.bad.is_none());
        if t.head.len() < BHS_LEN {
            continue;
        }
        let h: &[u8; BHS_LEN] = t.head[..BHS_LEN].try_into().unwrap();
        match Pdu::parse(h).unwrap() {
            Pdu::R2t(_) if t.bytes == 48 && t.psh => sh.r2t_posts += 1,
            Pdu::DataIn(d) if t.bytes == 48 && !t.psh => {
                let data = posts[i + 1];
                assert!(data.head.is_empty() && data.psh);
                assert_eq!(data.bytes, d.data_segment_length);
                assert_eq!(u32::from(data.first_off), d.buffer_offset % 4096);
                if (u32::from(data.first_off) + data.bytes).div_ceil(4096) >= 2 {
                    sh.data_in_posts += 1;
                }
            }
            Pdu::ScsiResponse(_) if t.bytes == 48 && t.psh => sh.response_posts += 1,
            _ => {}
        }
    }
    sh
}

/// Over seeds 1..=12 of the default mix, the iSCSI connections (about one case in two) carry
/// what a target sees and sends: a login, WRITE(10)s with immediate data, Data-Out bursts
/// (checked: DataSN from 0, contiguous offsets, F on the last), READ(10)s, NOP-Outs, PDUs
/// across segments and segments across PDUs, PSH only at PDU ends; R2T, Data-In (header,
/// then data by reference over several pages) and SCSI Response posts.
#[test]
fn stimuli_include_iscsi_shapes() {
    let mut total = Shapes::default();
    let mut cases = Vec::new();
    for seed in 1..=12 {
        let stim = cosim::generate(seed);
        let Some(sock) = iscsi_sock(&stim) else {
            continue;
        };
        cases.push(seed);
        let sh = shapes(&stim, sock);
        assert_eq!(sh.logins, 1, "seed {seed}");
        total.logins += sh.logins;
        total.writes_with_immediate += sh.writes_with_immediate;
        total.reads += sh.reads;
        total.nops += sh.nops;
        total.data_out_bursts += sh.data_out_bursts;
        total.pdus_across_segments += sh.pdus_across_segments;
        total.segments_across_pdus += sh.segments_across_pdus;
        total.r2t_posts += sh.r2t_posts;
        total.data_in_posts += sh.data_in_posts;
        total.response_posts += sh.response_posts;
    }
    eprintln!("seeds with iSCSI {cases:?}: {total:?}");
    assert!(cases.len() >= 3, "seeds with iSCSI: {cases:?}");
    let t = &total;
    for (what, n) in [
        ("WRITE with immediate data", t.writes_with_immediate),
        ("READ", t.reads),
        ("NOP-Out", t.nops),
        ("Data-Out burst", t.data_out_bursts),
        ("PDU across segments", t.pdus_across_segments),
        ("segment across PDUs", t.segments_across_pdus),
        ("R2T post", t.r2t_posts),
        ("Data-In posts", t.data_in_posts),
        ("SCSI Response post", t.response_posts),
    ] {
        assert!(n > 0, "no {what}: {total:?}");
    }
}

/// The generator's assumptions hold: the iSCSI steps alone (no other connection's ticks or
/// traffic), on the model against itself, deliver the whole client stream into named buffers
/// (returned at PDU ends), every post completes (TX_DONE) and no ACK guess was beyond what the
/// NIC sent (no BAD_ACK), nothing is dropped.
#[test]
fn iscsi_steps_alone_are_clean_on_the_model() {
    use buflet_testbench::Backend;
    let mut n = 0;
    for seed in 1..=12 {
        let stim = cosim::generate(seed);
        let Some(sock) = iscsi_sock(&stim) else {
            continue;
        };
        n += 1;
        let only = iscsi_only(&stim, sock);
        let (_, stream) = client_stream(&only);
        let posts = only
            .steps
            .iter()
            .filter(|s| matches!(s, Step::TxPost(_)))
            .count() as u32;
        let r =
            cosim::run_lockstep([(Backend::Model, &only), (Backend::Model, &only)], 64).unwrap();
        assert!(r.mismatch.is_none(), "{}", r.mismatch.unwrap());
        let c: BTreeMap<&str, u32> = r.counters_end.iter().copied().collect();
        assert_eq!(
            c["CNT_DELIVERED_BYTES"] as usize,
            stream.len(),
            "seed {seed}: {c:?}"
        );
        assert_eq!(c["CNT_TX_DONE"], posts, "seed {seed}: {c:?}");
        for (k, v) in &c {
            if k.starts_with("CNT_DROP_") {
                assert_eq!(*v, 0, "seed {seed}: {k}: {c:?}");
            }
        }
        assert_eq!(r.free_buflets_end, [r.num_buflets; 2]);
    }
    assert!(n >= 3);
}

/// The RTL and the model agree on the iSCSI traffic: the iSCSI steps alone of the first two
/// seeds with one at 64 bits, of the first at 512 bits too. (Whole default-mix cases with an
/// iSCSI connection run in tests/cosim.rs and `buflet cosim`.)
#[test]
fn model_and_rtl_agree_on_iscsi_traffic() {
    let seeds: Vec<u64> = (1..=12)
        .filter(|&s| iscsi_sock(&cosim::generate(s)).is_some())
        .take(2)
        .collect();
    assert_eq!(seeds.len(), 2);
    let check = |stim: &Stimulus, width: u32| {
        let r = cosim::run_case(stim, width).unwrap();
        assert!(
            r.mismatch.is_none(),
            "seed {} at {width} bits: {}",
            stim.seed,
            r.mismatch.unwrap()
        );
        assert_eq!(r.free_buflets_end, [r.num_buflets; 2]);
        assert!(r.compared > 0);
    };
    for &seed in &seeds {
        let stim = cosim::generate(seed);
        let only = iscsi_only(&stim, iscsi_sock(&stim).unwrap());
        check(&only, 64);
        if seed == seeds[0] {
            check(&only, 512);
        }
    }
    // The small mix (the property test's) has iSCSI connections too.
    assert!((0..20).any(|s| iscsi_sock(&cosim::generate_with(s, &GenConfig::small())).is_some()));
}
