//! A small thread pool for the build's jobs (Verilating, compiling).

use std::env;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Number of parallel jobs: cargo's `NUM_JOBS`, else the number of CPUs.
pub fn num_jobs() -> usize {
    jobs_from(env::var("NUM_JOBS").ok().as_deref())
}

/// [`num_jobs`] for a given `NUM_JOBS` value.
pub fn jobs_from(num_jobs: Option<&str>) -> usize {
    num_jobs
        .and_then(|j| j.parse().ok())
        .filter(|&j| j > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
}

/// Runs `f` over `items` on up to `jobs` threads; results in item order.
pub fn run_pool<T: Sync, R: Send>(jobs: usize, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().expect("result lock")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("result lock")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    #[test]
    fn results_in_item_order() {
        let items: Vec<u64> = (0..100).collect();
        for jobs in [0, 1, 3, 200] {
            let r = run_pool(jobs, &items, |&x| x * x);
            assert_eq!(
                r,
                items.iter().map(|x| x * x).collect::<Vec<_>>(),
                "jobs {jobs}"
            );
        }
        assert!(run_pool(4, &[] as &[u8], |_| 0).is_empty());
    }

    #[test]
    fn uses_several_threads() {
        let threads = Mutex::new(BTreeSet::new());
        let barrier = std::sync::Barrier::new(2);
        run_pool(2, &[0, 1], |_| {
            threads
                .lock()
                .unwrap()
                .insert(format!("{:?}", std::thread::current().id()));
            // both items must be running at once to pass the barrier
            barrier.wait();
        });
        assert_eq!(threads.lock().unwrap().len(), 2);
    }

    #[test]
    fn job_count() {
        assert_eq!(jobs_from(Some("3")), 3);
        let dflt = jobs_from(None);
        assert!(dflt >= 1);
        assert_eq!(jobs_from(Some("0")), dflt);
        assert_eq!(jobs_from(Some("x")), dflt);
    }
}
