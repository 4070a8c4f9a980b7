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
    run_case_with(stim, width, &CaseOpts::default())
}

/// [`run_case`] with options: record the transactions, trace the RTL, perturb the model.
pub fn run_case_with(
    stim: &Stimulus,
    width: u32,
    opts: &CaseOpts,
) -> Result<CaseResult, CosimError> {
    run_lockstep_with([(Backend::Model, stim), (Backend::Rtl, stim)], width, opts)
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
    run_lockstep_with(sides, width, &CaseOpts::default())
}

/// [`run_lockstep`] with options: with `opts.record` the result keeps every compared
/// transaction of both sides ([`CaseResult::log`]), `opts.waves` is side B's waveform, and
/// `opts.perturb` changes one of side A's transactions before the comparison
/// ([`Observed::perturb`](super::Observed::perturb)).
pub fn run_lockstep_with(
    sides: [(Backend, &Stimulus); 2],
    width: u32,
    opts: &CaseOpts,
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
    let mut a = Side::new(ba, na, width, None)?;
    let mut b = Side::new(bb, nb, width, opts.waves.as_ref())?;
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
        txn_cycles: Vec::new(),
        step_kinds: Vec::new(),
        step_descs: Vec::new(),
        mismatch: None,
        free_buflets_end: [0, 0],
        num_buflets,
        counters_end: Vec::new(),
        cpl_kinds: Default::default(),
        log: opts.record.then(CaseLog::default),
    };
    // index of the first comparison slot of the step (see `compare::slots`)
    let mut slot_base = 0u64;
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
        let mut oa = a.settle(ta, quiet, i)?;
        let ob = b.settle(tb, quiet, i)?;
        let slots = compare::slots(&oa, &ob).count() as u64;
        if let Some(p) = opts
            .perturb
            .filter(|p| (slot_base..slot_base + slots).contains(p))
        {
            let at = compare::slots(&oa, &ob).nth((p - slot_base) as usize);
            if let Some((kind, item)) = at {
                oa.perturb(kind, item);
            }
        }
        if let Some(log) = res.log.as_mut() {
            log.record_step(i, &orig, slot_base, &oa, &ob);
        }
        slot_base += slots;
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
        res.step_descs.push(desc.clone());
        let before = res.compared;
        if let Some(d) = compare::compare(&oa, &ob, &mut res.compared) {
            // the first slot that differs: the transaction `compare` stopped at, after the
            // equal ones it counted
            let mut all = compare::slots(&oa, &ob);
            let pos = all.position(|(k, n)| !compare::equal_at(&oa, &ob, k, n));
            debug_assert_eq!(pos.map(|p| before + p as u64), Some(res.compared));
            let at = pos.and_then(|p| compare::slots(&oa, &ob).nth(p));
            let look = |o: &Observed| {
                at.filter(|(k, _)| k.is_data())
                    .and_then(|(k, n)| o.cycle_of(k, n))
                    .unwrap_or_else(|| o.last_activity())
            };
            res.mismatch = Some(Mismatch {
                seed: sa.seed,
                step: i,
                origin: orig,
                step_desc: desc,
                kind: d.kind,
                index: res.compared,
                cycles: [look(&oa), look(&ob)],
                sides: res.sides.clone(),
                a: d.a,
                b: d.b,
                recent: recent.iter().cloned().collect(),
            });
            return Ok(res);
        }
        // Every transaction compared equal: when each data transaction happened on each side.
        for (kind, item) in compare::slots(&oa, &ob).filter(|(k, _)| k.is_data()) {
            if let (Some(x), Some(y)) = (oa.cycle_of(kind, item), ob.cycle_of(kind, item)) {
                res.txn_cycles.push((
                    kind.name(),
                    [x.saturating_sub(oa.at.start), y.saturating_sub(ob.at.start)],
                ));
            }
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
            index: res.compared,
            cycles: [a.b.drv.cycles(), b.b.drv.cycles()],
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
            index: res.compared,
            cycles: [a.b.drv.cycles(), b.b.drv.cycles()],
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
