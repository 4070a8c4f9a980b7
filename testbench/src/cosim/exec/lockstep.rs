//! Running a case: both sides step by step, compared after every step.

use super::*;

/// Cycles without any activity after which a backend counts as quiescent: four times the
/// slowest round trip (a memory read plus a disk write) plus the longest frame on the wire.
pub(super) fn quiet_window(width: u32) -> u64 {
    let c = DeviceConfig::with_width(width);
    4 * (c.mem_read_latency as u64 + c.disk_latency as u64)
        + c.wire_cycles(param::MAX_FRAME as usize)
}

/// Run a stimulus on the model and on the RTL at `width` bits, step by step, and compare.
pub fn run_case(stim: &Stimulus, width: u32) -> Result<CaseResult, CosimError> {
    run_lockstep([(Backend::Model, stim), (Backend::Rtl, stim)], width)
}

/// Run two stimuli of equal length on two backends (side A and side B) in lockstep: step `i`
/// of each is applied to its side, both run to quiescence, and their observations are compared.
/// After the last step every socket the host still holds is deleted (compared like any step)
/// and both sides must be back at `CNT_FREE_BUFLETS == NUM_BUFLETS`.
///
/// Passing different stimuli (or the same backend twice) is for testing the comparison itself.
pub fn run_lockstep(
    sides: [(Backend, &Stimulus); 2],
    width: u32,
) -> Result<CaseResult, CosimError> {
    let [(ba, sa), (bb, sb)] = sides;
    if sa.len() != sb.len() {
        return Err(CosimError::Stimulus(format!(
            "side A has {} steps, side B {}",
            sa.len(),
            sb.len()
        )));
    }
    let (na, nb) = if ba == bb {
        (format!("{} (A)", ba.name()), format!("{} (B)", bb.name()))
    } else {
        (ba.name().to_string(), bb.name().to_string())
    };
    let mut a = Side::new(ba, na, width)?;
    let mut b = Side::new(bb, nb, width)?;
    if a.lay != b.lay {
        return Err(CosimError::Setup(
            "host memory layouts differ after bring-up".into(),
        ));
    }
    let num_buflets = a.b.drv.info.num_buflets;
    if num_buflets != b.b.drv.info.num_buflets {
        return Err(CosimError::Setup(format!(
            "NUM_BUFLETS differs: {} vs {}",
            num_buflets, b.b.drv.info.num_buflets
        )));
    }
    let quiet = quiet_window(width);
    let mut host = Host::new(a.b.drv.info.num_nbs, a.b.drv.info.num_anon);
    let mut res = CaseResult {
        seed: sa.seed,
        steps: 0,
        compared: 0,
        sides: [a.name.clone(), b.name.clone()],
        cycles: [0, 0],
        step_cycles: Vec::new(),
        step_kinds: Vec::new(),
        mismatch: None,
        free_buflets_end: [0, 0],
        num_buflets,
        counters_end: Vec::new(),
        cpl_kinds: Default::default(),
    };
    let mut recent: VecDeque<String> = VecDeque::new();
    let n = sa.len();
    let mut i = 0usize;
    let mut cleanup: Vec<Step> = Vec::new();
    loop {
        let (step_a, step_b, orig) = if i < n {
            (&sa.steps[i], &sb.steps[i], format!("#{}", sa.index[i]))
        } else {
            if i == n {
                cleanup = host
                    .live
                    .iter()
                    .map(|&sock| Step::DelSocket { sock })
                    .collect();
            }
            // Held chains survive SOCK_DEL: release them after the deletes.
            if i - n == cleanup.len() && !host.held.is_empty() {
                // No DEVMEM write follows: every held chain may go.
                host.extents.clear();
                cleanup.push(Step::Release { bad: None });
            }
            match cleanup.get(i - n) {
                Some(s) => (s, s, "cleanup".to_string()),
                None => break,
            }
        };
        let mut hb = host.clone();
        let act_a = host.plan(step_a, &a.lay);
        let act_b = hb.plan(step_b, &b.lay);
        let ta = a.b.drv.cycles();
        let tb = b.b.drv.cycles();
        let posted_a = a.apply(&act_a, i)?;
        let posted_b = b.apply(&act_b, i)?;
        if step_a == step_b && posted_a != posted_b {
            return Err(CosimError::Setup(format!(
                "the drivers tagged step {i}'s TX_POSTs differently: {posted_a:?} vs {posted_b:?}"
            )));
        }
        for &(sock, tag) in &posted_a {
            host.tx_posted(sock, tag);
        }
        let oa = a.settle(ta, quiet, i)?;
        let ob = b.settle(tb, quiet, i)?;
        res.steps += 1;
        res.cycles[0] += oa.busy;
        res.cycles[1] += ob.busy;
        res.step_cycles.push([oa.busy, ob.busy]);
        res.counters_end.clone_from(&oa.counters);
        for c in &oa.cpls {
            *res.cpl_kinds.entry(cpl_kind_name(c)).or_default() += 1;
        }
        let desc_a = step_a.describe();
        res.step_kinds.push(Step::kind_of(&desc_a));
        let desc = if step_a == step_b {
            desc_a
        } else {
            format!("A: {desc_a} / B: {}", step_b.describe())
        };
        if let Some(d) = compare::compare(&oa, &ob, &mut res.compared) {
            res.mismatch = Some(Mismatch {
                seed: sa.seed,
                step: i,
                origin: orig,
                step_desc: desc,
                kind: d.kind,
                sides: res.sides.clone(),
                a: d.a,
                b: d.b,
                recent: recent.iter().cloned().collect(),
            });
            return Ok(res);
        }
        host.absorb(&oa.cpls, &mut a.b.drv.env.mem, &a.lay);
        recent.push_back(format!("{i} ({orig}): {desc}"));
        if recent.len() > RECENT {
            recent.pop_front();
        }
        i += 1;
    }
    // Every TX_POST came back (TX_DONE, or a refusal) once every socket was deleted, and
    // neither driver still has a page in its copy-on-write table.
    let out = host.tx_outstanding();
    let cow = [a.b.drv.cow_table_len().0, b.b.drv.cow_table_len().0];
    if !out.is_empty() || cow != [0, 0] {
        res.mismatch = Some(Mismatch {
            seed: sa.seed,
            step: i,
            origin: "end".into(),
            step_desc: "after deleting every socket".into(),
            kind: "end check: every TX_POST must have come back".into(),
            sides: res.sides.clone(),
            a: format!(
                "posts not returned (socket, tags): {out:?}; pages in the copy-on-write table: {}",
                cow[0]
            ),
            b: format!("pages in the copy-on-write table: {}", cow[1]),
            recent: recent.iter().cloned().collect(),
        });
        return Ok(res);
    }
    // The host buflets go back to the pool (every post of them has come back).
    a.b.drv.wr(reg::HOST_BUFLETS, 0);
    b.b.drv.wr(reg::HOST_BUFLETS, 0);
    let fa = a.b.drv.rd(reg::CNT_FREE_BUFLETS);
    let fb = b.b.drv.rd(reg::CNT_FREE_BUFLETS);
    res.free_buflets_end = [fa, fb];
    if fa != num_buflets || fb != num_buflets {
        res.mismatch = Some(Mismatch {
            seed: sa.seed,
            step: i,
            origin: "end".into(),
            step_desc: "after deleting every socket".into(),
            kind: format!("end check: CNT_FREE_BUFLETS must equal NUM_BUFLETS ({num_buflets})"),
            sides: res.sides.clone(),
            a: format!("CNT_FREE_BUFLETS = {fa}"),
            b: format!("CNT_FREE_BUFLETS = {fb}"),
            recent: recent.iter().cloned().collect(),
        });
    }
    Ok(res)
}

/// "KIND/STATUS" of a completion, for [`CaseResult::cpl_kinds`].
fn cpl_kind_name(c: &buflet_driver::Completion) -> String {
    format!("{:?}/{:?}", c.kind, c.status)
}
