//! Runs jobs concurrently under a total limit and per-group limits (a session's group is its
//! provider): the one executor of `batch` and `replay`.
//!
//! One dispatcher starts jobs and collects their ends, so jobs start strictly in input order
//! among those whose group has a free slot (a job waiting for Ollama holds no slot and blocks
//! no other provider), a job's task exists only while it runs (memory follows the concurrency,
//! not the number of jobs), and the observer hears of every end in the dispatcher.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinSet;

use super::experiment::ConcurrencyLimits;
use super::plan::SessionPlan;

/// Something the executor runs.
pub trait Job: Clone + Send + 'static {
    /// The group whose limit it counts against ([`ConcurrencyLimits::for_provider`]).
    fn group(&self) -> &str;
}

impl Job for SessionPlan {
    fn group(&self) -> &str {
        self.provider()
    }
}

/// Observes the jobs as they run (the CLI draws its progress from this).
pub trait BatchObserver<J, R>: Send + Sync {
    fn started(&self, job: &J);
    fn finished(&self, job: &J, result: &R);
    /// Whether this result stops the run: no further job starts and the running ones are
    /// cancelled (their results are left out).
    fn stops(&self, _result: &R) -> bool {
        false
    }
}

/// Runs `run_one` for every job, at most `limits.total` at once and at most
/// `limits.for_provider(group)` per group; jobs start in input order among those whose group
/// has room. Returns the results in completion order. A task that panics is reported as `Err`
/// with its job.
pub async fn run_concurrently<J, R, F, Fut>(
    jobs: Vec<J>,
    limits: &ConcurrencyLimits,
    run_one: F,
    observer: Arc<dyn BatchObserver<J, R>>,
) -> Vec<Result<(J, R), J>>
where
    J: Job,
    F: Fn(J) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let mut results = Vec::new();
    run_each(jobs, limits, run_one, observer, |end| results.push(end)).await;
    results
}

/// [`run_concurrently`] for a job list of any length: jobs are taken from `jobs` only as slots
/// free up (plus, while one group is full, the jobs of that group met on the way to another
/// group's next one), and each end goes to `ended` instead of a list, so memory follows the
/// concurrency, not the number of jobs.
pub async fn run_each<J, R, F, Fut>(
    jobs: impl IntoIterator<Item = J>,
    limits: &ConcurrencyLimits,
    run_one: F,
    observer: Arc<dyn BatchObserver<J, R>>,
    mut ended: impl FnMut(Result<(J, R), J>),
) where
    J: Job,
    F: Fn(J) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let mut jobs = jobs.into_iter().enumerate().fuse();
    // Jobs taken from the input but not started: each group's in input order, with their index.
    let mut queues: BTreeMap<String, VecDeque<(usize, J)>> = BTreeMap::new();
    let total = limits.total.max(1);
    let has_room = |running: &BTreeMap<String, usize>, group: &str| {
        running.get(group).copied().unwrap_or(0) < limits.for_provider(group).max(1)
    };
    let mut running: BTreeMap<String, usize> = BTreeMap::new();
    let mut tasks = JoinSet::new();
    let mut task_jobs = BTreeMap::new();
    let mut stopped = false;
    loop {
        while !stopped && tasks.len() < total {
            // The earliest waiting job whose group has a free slot; when none waits, the next
            // input jobs are taken until one can start (the others wait in their queue).
            let mut next = queues
                .iter()
                .filter(|(group, _)| has_room(&running, group))
                .filter_map(|(group, queue)| {
                    queue.front().map(|(index, _)| (*index, group.clone()))
                })
                .min();
            while next.is_none() {
                let Some((index, job)) = jobs.next() else {
                    break;
                };
                let group = job.group().to_owned();
                let startable = has_room(&running, &group);
                queues
                    .entry(group.clone())
                    .or_default()
                    .push_back((index, job));
                if startable {
                    next = Some((index, group));
                }
            }
            let Some((_, group)) = next else {
                break;
            };
            let Some((_, job)) = queues.get_mut(&group).and_then(VecDeque::pop_front) else {
                break;
            };
            *running.entry(group).or_default() += 1;
            observer.started(&job);
            let work = run_one(job.clone());
            let copy = job.clone();
            let handle = tasks.spawn(async move { (job, work.await) });
            task_jobs.insert(handle.id(), copy);
        }
        let Some(joined) = tasks.join_next_with_id().await else {
            break;
        };
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(error) => error.id(),
        };
        let Some(job) = task_jobs.remove(&id) else {
            continue;
        };
        if let Some(n) = running.get_mut(job.group()) {
            *n -= 1;
        }
        match joined {
            Ok((_, (job, result))) => {
                observer.finished(&job, &result);
                if !stopped && observer.stops(&result) {
                    stopped = true;
                    // Cancelled tasks end as cancelled joins below, which are left out.
                    tasks.abort_all();
                }
                ended(Ok((job, result)));
            }
            Err(error) if error.is_panic() => ended(Err(job)),
            // Cancelled after a stop: it never finished.
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::batch::{Experiment, expand};

    #[derive(Default)]
    struct Peaks {
        running: Mutex<BTreeMap<String, usize>>,
        peak: Mutex<BTreeMap<String, usize>>,
        total_running: AtomicUsize,
        total_peak: AtomicUsize,
    }

    impl BatchObserver<SessionPlan, ()> for Peaks {
        fn started(&self, plan: &SessionPlan) {
            let mut running = self.running.lock().unwrap();
            let n = running.entry(plan.provider().to_owned()).or_default();
            *n += 1;
            let mut peak = self.peak.lock().unwrap();
            let p = peak.entry(plan.provider().to_owned()).or_default();
            *p = (*p).max(*n);
            let t = self.total_running.fetch_add(1, Ordering::SeqCst) + 1;
            self.total_peak.fetch_max(t, Ordering::SeqCst);
        }
        fn finished(&self, plan: &SessionPlan, (): &()) {
            *self
                .running
                .lock()
                .unwrap()
                .get_mut(plan.provider())
                .unwrap() -= 1;
            self.total_running.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn limits_hold_per_provider_and_in_total() {
        let exp = Experiment::parse(
            "name='e'\napp='a'\nmodels=['openai:a','openai:b','ollama:c']\nruns=6\n[concurrency]\ntotal=3\n",
            Path::new("e.toml"),
        )
        .unwrap();
        let plans = expand(&exp).unwrap();
        let peaks = Arc::new(Peaks::default());
        let results = run_concurrently(
            plans.clone(),
            &exp.concurrency,
            |_plan| async { tokio::time::sleep(Duration::from_secs(1)).await },
            peaks.clone(),
        )
        .await;
        assert_eq!(results.len(), plans.len());
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(peaks.total_peak.load(Ordering::SeqCst), 3);
        assert_eq!(peaks.peak.lock().unwrap()["ollama"], 1);
    }

    fn total_of(total: usize) -> ConcurrencyLimits {
        ConcurrencyLimits {
            total,
            ..ConcurrencyLimits::default()
        }
    }

    /// A job of the tests: its number and group.
    #[derive(Debug, Clone)]
    struct Numbered(u32, &'static str);

    impl Job for Numbered {
        fn group(&self) -> &str {
            self.1
        }
    }

    /// Records start order; stops at a chosen result.
    #[derive(Default)]
    struct Order {
        started: Mutex<Vec<u32>>,
        stop_at: Option<u32>,
    }

    impl BatchObserver<Numbered, u32> for Order {
        fn started(&self, job: &Numbered) {
            self.started.lock().unwrap().push(job.0);
        }
        fn finished(&self, _job: &Numbered, _result: &u32) {}
        fn stops(&self, result: &u32) -> bool {
            self.stop_at == Some(*result)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_start_in_input_order_and_a_full_group_blocks_no_other() {
        let jobs: Vec<Numbered> = (0..12)
            .map(|n| Numbered(n, if n % 3 == 0 { "ollama" } else { "openai" }))
            .collect();
        let order = Arc::new(Order::default());
        let limits = total_of(1);
        let results = run_concurrently(
            jobs.clone(),
            &limits,
            |job: Numbered| async move { job.0 },
            order.clone(),
        )
        .await;
        assert_eq!(results.len(), 12);
        assert_eq!(*order.started.lock().unwrap(), (0..12).collect::<Vec<_>>());
        // Ollama at 1 with a long first job: the other provider's jobs go on meanwhile.
        let order = Arc::new(Order::default());
        let limits = total_of(2);
        let results = run_concurrently(
            jobs,
            &limits,
            |job: Numbered| async move {
                if job.0 == 0 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                job.0
            },
            order.clone(),
        )
        .await;
        assert_eq!(results.len(), 12);
        let started = order.started.lock().unwrap().clone();
        let first_openai = started.iter().position(|n| n % 3 != 0).unwrap();
        let second_ollama = started.iter().position(|n| *n == 3).unwrap();
        assert!(first_openai < second_ollama, "{started:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopping_result_starts_nothing_more_and_leaves_out_the_cancelled() {
        let jobs: Vec<Numbered> = (0..10).map(|n| Numbered(n, "replay")).collect();
        let order = Arc::new(Order {
            stop_at: Some(2),
            ..Order::default()
        });
        let limits = total_of(2);
        let results = run_concurrently(
            jobs,
            &limits,
            |job: Numbered| async move {
                // Job 2 ends first among those running with it; 3 is still running then.
                tokio::time::sleep(Duration::from_secs(if job.0 == 3 { 60 } else { 1 })).await;
                job.0
            },
            order.clone(),
        )
        .await;
        let mut ended: Vec<u32> = results.iter().map(|r| r.as_ref().unwrap().1).collect();
        ended.sort_unstable();
        assert_eq!(
            ended,
            [0, 1, 2],
            "job 3 was cancelled, 4 and later never started"
        );
        assert_eq!(*order.started.lock().unwrap(), [0, 1, 2, 3]);
    }

    #[tokio::test]
    async fn a_panicking_job_is_reported_with_its_job() {
        let jobs = vec![Numbered(0, "a"), Numbered(1, "a")];
        let results = run_concurrently(
            jobs,
            &ConcurrencyLimits::default(),
            |job: Numbered| async move {
                assert!(job.0 != 1, "job 1 fails");
                job.0
            },
            Arc::new(Order::default()),
        )
        .await;
        assert_eq!(results.len(), 2);
        let crashed: Vec<u32> = results
            .iter()
            .filter_map(|r| r.as_ref().err().map(|job| job.0))
            .collect();
        assert_eq!(crashed, [1]);
    }

    /// Counts jobs taken from the input, live tasks and the most of each seen at a start.
    #[derive(Default)]
    struct Live {
        taken: Arc<AtomicUsize>,
        running: AtomicUsize,
        most_running: AtomicUsize,
        ended: AtomicUsize,
        most_ahead: AtomicUsize,
    }

    impl BatchObserver<Numbered, u32> for Live {
        fn started(&self, _job: &Numbered) {
            let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_running.fetch_max(running, Ordering::SeqCst);
            // Taken from the input but not ended: running, or waiting in a full group.
            let ahead = self.taken.load(Ordering::SeqCst) - self.ended.load(Ordering::SeqCst);
            self.most_ahead.fetch_max(ahead, Ordering::SeqCst);
        }
        fn finished(&self, _job: &Numbered, _result: &u32) {
            self.running.fetch_sub(1, Ordering::SeqCst);
            self.ended.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_are_taken_from_the_input_only_as_slots_free_up() {
        let live = Arc::new(Live::default());
        let taken = live.taken.clone();
        // 10,000 planned jobs, made one at a time as the executor asks for them.
        let jobs = (0..10_000u32).map(move |n| {
            taken.fetch_add(1, Ordering::SeqCst);
            Numbered(n, "replay")
        });
        let mut ended = 0usize;
        run_each(
            jobs,
            &total_of(4),
            |job: Numbered| async move {
                tokio::time::sleep(Duration::from_millis(u64::from(job.0 % 7))).await;
                job.0
            },
            live.clone(),
            |end| {
                assert!(end.is_ok());
                ended += 1;
            },
        )
        .await;
        assert_eq!(ended, 10_000);
        assert_eq!(live.taken.load(Ordering::SeqCst), 10_000);
        assert_eq!(live.most_running.load(Ordering::SeqCst), 4);
        // Never more jobs in memory than the running ones (one group: none waits).
        assert_eq!(live.most_ahead.load(Ordering::SeqCst), 4);
    }
}
