//! The asynchronous emulation module: the seed's door calls, run on a pool of worker threads.
//!
//! The transport submits an [`EmuPacket`] with its command's [`CmdIo`]; a worker takes it,
//! marks it `Executing`, snapshots its input bytes and calls [`LuHandler::execute`] (the door
//! call). When the handler returns, the module audits the packet as the seed's data object
//! does ("only a particular set of writes is allowed"): input bytes unchanged, reserved output
//! bytes zero, state `Done`, sense length in range, data-in no longer than the expected
//! length. A packet that fails the audit, or whose handler panicked, is restored and completed
//! with CHECK CONDITION, HARDWARE ERROR / INTERNAL TARGET FAILURE (0x44/00). Completed packets
//! come back on [`EmuModule::completions`] in whatever order they finish; the transport matches
//! them by tag.
//!
//! Concurrency: `max_workers` threads execute packets at once, so one slow command never holds
//! up others as long as fewer than `max_workers` are slow. At most `max_outstanding` packets
//! (submitted, not yet completed) are accepted; with [`EmuModule::new`] that equals
//! `max_workers`, so every accepted packet has a worker of its own at once. A refused submit
//! is an [`EmuError`], for the transport to answer with TASK SET FULL or BUSY.
//!
//! Shutdown ([`EmuModule::shutdown`], also on drop) stops taking packets, completes packets
//! still queued (not started) with TASK ABORTED without executing them, and joins the workers.
//! A worker blocked inside a [`CmdIo`] call stays blocked until the transport answers that
//! call: releasing it (failing it with [`crate::IoError::Gone`] when the connection is gone) is
//! the transport's job, and shutdown waits for it. Never call `shutdown` from inside a handler.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde::Serialize;

use crate::packet::{self, EmuPacket, PacketState};
use crate::{status, CmdIo, LuHandler, TmFunction};

/// Why a submit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmuError {
    /// The module is shut down.
    #[error("the emulation module is shut down")]
    ShutDown,
    /// As many packets as allowed are outstanding (answer with TASK SET FULL).
    #[error("{0} packets outstanding, the most allowed")]
    Full(usize),
    /// The packet is not in state `New`.
    #[error("packet {tag} submitted in state {state}, not New")]
    NotNew {
        /// Its tag.
        tag: u64,
        /// The state byte found.
        state: u8,
    },
    /// A worker thread could not be started.
    #[error("cannot start a worker thread: {0}")]
    Spawn(String),
}

/// Counters of the emulation module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EmuStats {
    /// Packets accepted by [`EmuModule::submit`].
    pub submitted: u64,
    /// Packets completed (sent on the completion channel).
    pub completed: u64,
    /// Completed with CHECK CONDITION (violations and panics included).
    pub check_conditions: u64,
    /// Handlers that wrote outside the output fields or left the packet incomplete.
    pub violations: u64,
    /// Handlers that panicked.
    pub panics: u64,
    /// The most packets outstanding at once.
    pub max_outstanding: u64,
    /// Submits refused (full or shut down).
    pub refused: u64,
    /// Queued packets completed with TASK ABORTED at shutdown, never executed.
    pub aborted: u64,
}

type Job = (EmuPacket, Box<dyn CmdIo + Send>);

struct Shared {
    handler: Arc<dyn LuHandler>,
    stats: Mutex<EmuStats>,
    outstanding: AtomicUsize,
    stopping: AtomicBool,
    done: Sender<EmuPacket>,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, EmuStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finish(&self, pkt: EmuPacket, violation: bool, panicked: bool, aborted: bool) {
        {
            let mut s = self.stats();
            s.completed += 1;
            if pkt.status() == status::CHECK_CONDITION {
                s.check_conditions += 1;
            }
            s.violations += u64::from(violation);
            s.panics += u64::from(panicked);
            s.aborted += u64::from(aborted);
        }
        self.outstanding.fetch_sub(1, Ordering::AcqRel);
        // The receiver lives in the module; if it is gone nobody wants the completion.
        let _ = self.done.send(pkt);
    }

    fn run(&self, (mut pkt, io): Job) {
        if self.stopping.load(Ordering::Acquire) {
            drop(io);
            pkt.complete(status::TASK_ABORTED);
            self.finish(pkt, false, false, true);
            return;
        }
        pkt.set_state(PacketState::Executing);
        let mut input = [0u8; packet::INPUT_END];
        input.copy_from_slice(&pkt.as_bytes()[..packet::INPUT_END]);
        let handler = &self.handler;
        let result = catch_unwind(AssertUnwindSafe(|| handler.execute(&mut pkt, &*io)));
        // No CmdIo call may follow the handler's return: the mapping goes now.
        drop(io);
        let panicked = result.is_err();
        let violation = !panicked && !audit(&pkt, &input);
        if panicked || violation {
            fail_internal(&mut pkt, &input);
        }
        self.finish(pkt, violation, panicked, false);
    }
}

/// Whether a handler kept to its output fields and completed the packet.
fn audit(pkt: &EmuPacket, input: &[u8; packet::INPUT_END]) -> bool {
    let b = pkt.as_bytes();
    b[..packet::INPUT_END] == input[..]
        && b[packet::OUT_RESERVED..packet::SENSE]
            .iter()
            .all(|&x| x == 0)
        && pkt.state() == Ok(PacketState::Done)
        && (pkt.sense_len() as usize) <= packet::SENSE_MAX
        && pkt.data_in_len() <= pkt.expected_len()
}

/// Restore the input bytes and complete with INTERNAL TARGET FAILURE.
fn fail_internal(pkt: &mut EmuPacket, input: &[u8; packet::INPUT_END]) {
    let b = pkt.bytes_mut();
    b[..packet::INPUT_END].copy_from_slice(input);
    b[packet::OUT_RESERVED..packet::SENSE].fill(0);
    pkt.set_residual(0, 0);
    pkt.set_data_in_len(0);
    pkt.check_condition(0x4, 0x44, 0x00);
}

/// The asynchronous emulation module: executes packets on worker threads, many at once.
pub struct EmuModule {
    shared: Arc<Shared>,
    jobs: Mutex<Option<Sender<Job>>>,
    completions: Receiver<EmuPacket>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    max_outstanding: usize,
}

impl EmuModule {
    /// A module running `handler` on `max_workers` threads (at least 1), accepting as many
    /// outstanding packets as it has workers. Threads that cannot be started shrink the pool
    /// (see [`EmuModule::workers`]); use [`EmuModule::with_limits`] to see the error.
    pub fn new(handler: Arc<dyn LuHandler>, max_workers: usize) -> Self {
        let n = max_workers.max(1);
        Self::build(handler, n, n, true).unwrap_or_else(|_| Self::inert())
    }

    /// A module with `max_workers` threads (at least 1) accepting up to `max_outstanding`
    /// packets (at least `max_workers`); packets beyond the workers queue for the next free
    /// one. Fails if a thread cannot be started.
    pub fn with_limits(
        handler: Arc<dyn LuHandler>,
        max_workers: usize,
        max_outstanding: usize,
    ) -> Result<Self, EmuError> {
        let w = max_workers.max(1);
        Self::build(handler, w, max_outstanding.max(w), false)
    }

    fn build(
        handler: Arc<dyn LuHandler>,
        workers: usize,
        max_outstanding: usize,
        tolerate_spawn_failure: bool,
    ) -> Result<Self, EmuError> {
        let (jtx, jrx) = crossbeam_channel::unbounded::<Job>();
        let (dtx, drx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            handler,
            stats: Mutex::new(EmuStats::default()),
            outstanding: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            done: dtx,
        });
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let rx = jrx.clone();
            let sh = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("scsi-emu-{i}"))
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        sh.run(job);
                    }
                });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) if !tolerate_spawn_failure || handles.is_empty() => {
                    drop(jtx);
                    for h in handles {
                        let _ = h.join();
                    }
                    return Err(EmuError::Spawn(e.to_string()));
                }
                Err(_) => break,
            }
        }
        let max_outstanding = if tolerate_spawn_failure {
            handles.len()
        } else {
            max_outstanding
        };
        Ok(EmuModule {
            shared,
            jobs: Mutex::new(Some(jtx)),
            completions: drx,
            workers: Mutex::new(handles),
            max_outstanding,
        })
    }

    /// A module without workers that refuses every submit (no thread could be started).
    fn inert() -> Self {
        struct Nobody;
        impl LuHandler for Nobody {
            fn execute(&self, _: &mut EmuPacket, _: &dyn CmdIo) {}
            fn task_management(&self, _: TmFunction, _: u64) {}
            fn nexus_lost(&self, _: u64) {}
        }
        let (dtx, drx) = crossbeam_channel::unbounded();
        EmuModule {
            shared: Arc::new(Shared {
                handler: Arc::new(Nobody),
                stats: Mutex::new(EmuStats::default()),
                outstanding: AtomicUsize::new(0),
                stopping: AtomicBool::new(true),
                done: dtx,
            }),
            jobs: Mutex::new(None),
            completions: drx,
            workers: Mutex::new(Vec::new()),
            max_outstanding: 0,
        }
    }

    /// Hand `pkt` (state `New`) and its command's data mapping `io` to a worker. The packet
    /// comes back completed on [`EmuModule::completions`]; `io` is dropped as soon as the
    /// handler returned, before the completion is sent.
    pub fn submit(&self, pkt: EmuPacket, io: Box<dyn CmdIo + Send>) -> Result<(), EmuError> {
        if pkt.state() != Ok(PacketState::New) {
            return Err(EmuError::NotNew {
                tag: pkt.tag(),
                state: pkt.as_bytes()[packet::STATE],
            });
        }
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = jobs.as_ref() else {
            self.shared.stats().refused += 1;
            return Err(EmuError::ShutDown);
        };
        let max = self.max_outstanding;
        let reserved =
            self.shared
                .outstanding
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                });
        let now = match reserved {
            Ok(prev) => prev + 1,
            Err(_) => {
                self.shared.stats().refused += 1;
                return Err(EmuError::Full(max));
            }
        };
        {
            let mut s = self.shared.stats();
            s.submitted += 1;
            s.max_outstanding = s.max_outstanding.max(now as u64);
        }
        if tx.send((pkt, io)).is_err() {
            self.shared.outstanding.fetch_sub(1, Ordering::AcqRel);
            let mut s = self.shared.stats();
            s.submitted -= 1;
            s.refused += 1;
            return Err(EmuError::ShutDown);
        }
        Ok(())
    }

    /// Completed packets, in completion order (match them by tag).
    pub fn completions(&self) -> &Receiver<EmuPacket> {
        &self.completions
    }

    /// A completed packet if one is ready.
    pub fn try_complete(&self) -> Option<EmuPacket> {
        self.completions.try_recv().ok()
    }

    /// The next completed packet, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<EmuPacket> {
        self.completions.recv_timeout(timeout).ok()
    }

    /// Packets submitted and not yet completed.
    pub fn outstanding(&self) -> usize {
        self.shared.outstanding.load(Ordering::Acquire)
    }

    /// The most packets accepted at once.
    pub fn max_outstanding(&self) -> usize {
        self.max_outstanding
    }

    /// Worker threads running.
    pub fn workers(&self) -> usize {
        self.workers.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// A copy of the counters.
    pub fn stats(&self) -> EmuStats {
        *self.shared.stats()
    }

    /// Forward a task-management function from nexus `initiator` to the logical unit.
    /// Aborting commands already executing is the transport's: it fails their [`CmdIo`] calls
    /// with [`crate::IoError::Gone`].
    pub fn task_management(&self, f: TmFunction, initiator: u64) {
        self.shared.handler.task_management(f, initiator);
    }

    /// Tell the logical unit that nexus `initiator` is gone.
    pub fn nexus_lost(&self, initiator: u64) {
        self.shared.handler.nexus_lost(initiator);
    }

    /// Tell the logical unit the TransportID and relative target port of nexus `initiator`
    /// (see [`LuHandler::nexus_identity`]).
    pub fn nexus_identity(&self, initiator: u64, transport_id: &[u8], relative_port: u16) {
        self.shared
            .handler
            .nexus_identity(initiator, transport_id, relative_port);
    }

    /// Stop taking packets, complete queued ones with TASK ABORTED, and join the workers.
    /// Waits for handlers still executing; one blocked in a [`CmdIo`] call waits for the
    /// transport to answer it. Idempotent.
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        drop(self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take());
        let handles: Vec<_> = self
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for h in handles {
            let _ = h.join();
        }
    }
}

impl Drop for EmuModule {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Direction, EmuPacket};
    use crate::IoError;
    use std::sync::Condvar;

    const WAIT: Duration = Duration::from_secs(30);

    /// A CmdIo whose `read` blocks until the test releases its tag.
    struct GateIo {
        tag: u64,
        gate: Arc<Gate>,
    }
    struct Gate {
        state: Mutex<(usize, Vec<u64>)>, // (blocked now, released tags)
        cv: Condvar,
    }
    impl CmdIo for GateIo {
        fn block_size(&self) -> u32 {
            512
        }
        fn blocks(&self) -> u64 {
            1
        }
        fn data_out_len(&self) -> u64 {
            0
        }
        fn data_in_len(&self) -> u64 {
            0
        }
        fn write(&self, _: u64, _: u32, _: u64) -> Result<(), IoError> {
            Ok(())
        }
        fn write_same(&self, _: u64, _: u32, _: u64) -> Result<(), IoError> {
            Ok(())
        }
        fn write_zeros(&self, _: u64, _: u32) -> Result<(), IoError> {
            Ok(())
        }
        fn read(&self, _: u64, _: u32, _: u64) -> Result<(), IoError> {
            let mut g = self.gate.state.lock().unwrap();
            g.0 += 1;
            self.gate.cv.notify_all();
            while !g.1.contains(&self.tag) {
                let (ng, t) = self.gate.cv.wait_timeout(g, WAIT).unwrap();
                g = ng;
                if t.timed_out() {
                    return Err(IoError::Gone("test gate timed out".into()));
                }
            }
            g.0 -= 1;
            Ok(())
        }
        fn read_to_vec(&self, _: u64, _: u32) -> Result<Vec<u8>, IoError> {
            Ok(Vec::new())
        }
        fn sync(&self) -> Result<(), IoError> {
            Ok(())
        }
        fn peek(&self, _: u64, _: &mut [u8]) -> Result<(), IoError> {
            Ok(())
        }
        fn fill(&self, _: u64, _: &[u8]) -> Result<(), IoError> {
            Ok(())
        }
    }

    /// Handler whose behaviour is chosen by the CDB's opcode.
    struct TestLu {
        tm: Mutex<Vec<(TmFunction, u64)>>,
    }
    impl LuHandler for TestLu {
        fn execute(&self, pkt: &mut EmuPacket, io: &dyn CmdIo) {
            match pkt.cdb()[0] {
                // Wait at the gate, then GOOD.
                0x28 => match io.read(0, 1, 0) {
                    Ok(()) => pkt.good(),
                    Err(_) => pkt.check_condition(0xB, 0, 0),
                },
                // Scribble on the CDB.
                0x01 => {
                    pkt.bytes_mut()[packet::CDB + 1] = 0xAA;
                    pkt.good();
                }
                // Scribble on the reserved output bytes.
                0x02 => {
                    pkt.bytes_mut()[packet::OUT_RESERVED] = 1;
                    pkt.good();
                }
                // Forget to complete.
                0x03 => {}
                // Panic.
                0x04 => panic!("hostile handler"),
                // Claim more data-in than expected.
                0x05 => {
                    pkt.set_data_in_len(pkt.expected_len() + 1);
                    pkt.good();
                }
                _ => pkt.good(),
            }
        }
        fn task_management(&self, f: TmFunction, initiator: u64) {
            self.tm.lock().unwrap().push((f, initiator));
        }
        fn nexus_lost(&self, _: u64) {}
    }

    fn lu() -> Arc<TestLu> {
        Arc::new(TestLu {
            tm: Mutex::new(Vec::new()),
        })
    }

    fn gate() -> Arc<Gate> {
        Arc::new(Gate {
            state: Mutex::new((0, Vec::new())),
            cv: Condvar::new(),
        })
    }

    fn pkt(tag: u64, op: u8) -> EmuPacket {
        EmuPacket::new(tag, 0, &[op, 0, 0, 0, 0, 0], Direction::None, 0, 7, 1).unwrap()
    }

    fn io(tag: u64, g: &Arc<Gate>) -> Box<dyn CmdIo + Send> {
        Box::new(GateIo {
            tag,
            gate: g.clone(),
        })
    }

    #[test]
    fn sixty_four_at_once_complete_out_of_order() {
        let m = EmuModule::new(lu(), 64);
        let g = gate();
        for tag in 0..64 {
            m.submit(pkt(tag, 0x28), io(tag, &g)).unwrap();
        }
        // All 64 are blocked in their CmdIo at once: they run concurrently.
        {
            let mut s = g.state.lock().unwrap();
            while s.0 < 64 {
                let (ns, t) = g.cv.wait_timeout(s, WAIT).unwrap();
                s = ns;
                assert!(!t.timed_out(), "only {} commands executing at once", s.0);
            }
        }
        assert_eq!(m.outstanding(), 64);
        assert!(matches!(
            m.submit(pkt(99, 0x00), io(99, &g)),
            Err(EmuError::Full(64))
        ));
        // Release in reverse order: each completes before the next is released.
        let mut order = Vec::new();
        for tag in (0..64).rev() {
            g.state.lock().unwrap().1.push(tag);
            g.cv.notify_all();
            let done = m.recv_timeout(WAIT).expect("completion");
            assert_eq!(done.state(), Ok(PacketState::Done));
            assert_eq!(done.status(), status::GOOD);
            order.push(done.tag());
        }
        assert_eq!(order, (0..64).rev().collect::<Vec<_>>());
        let s = m.stats();
        assert_eq!(s.submitted, 64);
        assert_eq!(s.completed, 64);
        assert_eq!(s.max_outstanding, 64);
        assert_eq!(s.refused, 1);
        assert_eq!(m.outstanding(), 0);
    }

    #[test]
    fn slow_command_does_not_hold_up_others() {
        let m = EmuModule::new(lu(), 4);
        let g = gate();
        m.submit(pkt(1, 0x28), io(1, &g)).unwrap();
        for tag in 2..5 {
            m.submit(pkt(tag, 0x00), io(tag, &g)).unwrap();
        }
        let mut tags: Vec<u64> = (0..3)
            .map(|_| m.recv_timeout(WAIT).expect("fast ones").tag())
            .collect();
        tags.sort();
        assert_eq!(tags, vec![2, 3, 4]);
        assert_eq!(m.outstanding(), 1);
        g.state.lock().unwrap().1.push(1);
        g.cv.notify_all();
        assert_eq!(m.recv_timeout(WAIT).unwrap().tag(), 1);
    }

    fn run_one(op: u8) -> (EmuPacket, EmuStats) {
        let m = EmuModule::new(lu(), 2);
        let g = gate();
        let p = pkt(5, op);
        m.submit(p, io(5, &g)).unwrap();
        let done = m.recv_timeout(WAIT).expect("completion");
        (done, m.stats())
    }

    fn assert_internal_failure(done: &EmuPacket) {
        let fresh = pkt(5, done.cdb()[0]);
        assert_eq!(
            &done.as_bytes()[..packet::INPUT_END],
            &fresh.as_bytes()[..packet::INPUT_END],
            "input bytes restored"
        );
        assert_eq!(done.status(), status::CHECK_CONDITION);
        assert_eq!(done.sense_triplet(), Some((0x4, 0x44, 0x00)));
        assert_eq!(done.state(), Ok(PacketState::Done));
        assert!(done.as_bytes()[packet::OUT_RESERVED..packet::SENSE]
            .iter()
            .all(|&b| b == 0));
    }

    #[test]
    fn write_outside_outputs_caught() {
        for op in [0x01, 0x02, 0x03, 0x05] {
            let (done, s) = run_one(op);
            assert_internal_failure(&done);
            assert_eq!(s.violations, 1, "op {op:#x}");
            assert_eq!(s.panics, 0);
            assert_eq!(s.check_conditions, 1);
        }
    }

    #[test]
    fn panicking_handler_caught() {
        let (done, s) = run_one(0x04);
        assert_internal_failure(&done);
        assert_eq!(s.panics, 1);
        assert_eq!(s.violations, 0);
        assert_eq!(s.completed, 1);
    }

    #[test]
    fn good_handler_passes_audit() {
        let (done, s) = run_one(0x00);
        assert_eq!(done.status(), status::GOOD);
        assert_eq!(s.violations + s.panics + s.check_conditions, 0);
    }

    #[test]
    fn refused_submits_are_errors() {
        let m = EmuModule::new(lu(), 1);
        let g = gate();
        let mut p = pkt(1, 0);
        p.set_state(PacketState::Done);
        assert!(matches!(
            m.submit(p, io(1, &g)),
            Err(EmuError::NotNew { tag: 1, .. })
        ));
        m.shutdown();
        assert_eq!(m.submit(pkt(2, 0), io(2, &g)), Err(EmuError::ShutDown));
        assert_eq!(m.workers(), 0);
        assert_eq!(m.stats().refused, 1);
    }

    #[test]
    fn shutdown_aborts_queued_and_joins() {
        let l = lu();
        let m = EmuModule::with_limits(l, 1, 4).unwrap();
        let g = gate();
        m.submit(pkt(1, 0x28), io(1, &g)).unwrap();
        m.submit(pkt(2, 0x00), io(2, &g)).unwrap();
        m.submit(pkt(3, 0x00), io(3, &g)).unwrap();
        {
            let mut s = g.state.lock().unwrap();
            while s.0 < 1 {
                s = g.cv.wait_timeout(s, WAIT).unwrap().0;
            }
        }
        // The transport releases the blocked call from another thread while we shut down.
        let g2 = g.clone();
        let releaser = std::thread::spawn(move || {
            g2.state.lock().unwrap().1.push(1);
            g2.cv.notify_all();
        });
        m.shutdown();
        releaser.join().unwrap();
        let mut got: Vec<(u64, u8)> = m
            .completions()
            .try_iter()
            .map(|p| (p.tag(), p.status()))
            .collect();
        got.sort();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (1, status::GOOD));
        // 2 and 3 were either run before the stop flag or aborted: never lost.
        let s = m.stats();
        assert_eq!(s.completed, 3);
        for (tag, st) in &got[1..] {
            assert!(
                *st == status::GOOD || *st == status::TASK_ABORTED,
                "tag {tag}"
            );
        }
        assert_eq!(
            s.aborted as usize,
            got.iter()
                .filter(|(_, st)| *st == status::TASK_ABORTED)
                .count()
        );
    }

    #[test]
    fn task_management_forwarded() {
        let l = lu();
        let m = EmuModule::new(l.clone(), 1);
        m.task_management(TmFunction::LogicalUnitReset, 42);
        assert_eq!(
            *l.tm.lock().unwrap(),
            vec![(TmFunction::LogicalUnitReset, 42)]
        );
    }
}
