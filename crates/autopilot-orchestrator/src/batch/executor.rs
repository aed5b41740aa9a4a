//! Runs planned sessions concurrently under a total limit and per-provider limits.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::experiment::ConcurrencyLimits;
use super::plan::SessionPlan;

/// Observes a batch as it runs (the CLI draws its progress bar from this).
pub trait BatchObserver<R>: Send + Sync {
    fn started(&self, plan: &SessionPlan);
    fn finished(&self, plan: &SessionPlan, result: &R);
}

/// Runs `run_one` for every plan, at most `limits.total` at once and at most
/// `limits.for_provider(p)` per provider; sessions start in plan order. Returns the results
/// in completion order. A task that panics is reported as `Err` with the plan.
pub async fn run_concurrently<R, F, Fut>(
    plans: Vec<SessionPlan>,
    limits: &ConcurrencyLimits,
    run_one: F,
    observer: Arc<dyn BatchObserver<R>>,
) -> Vec<Result<(SessionPlan, R), SessionPlan>>
where
    F: Fn(SessionPlan) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let total = Arc::new(Semaphore::new(limits.total.max(1)));
    let mut per_provider: BTreeMap<String, Arc<Semaphore>> = BTreeMap::new();
    let run_one = Arc::new(run_one);
    let mut tasks = JoinSet::new();
    let mut task_plans = BTreeMap::new();
    for plan in plans {
        let provider = plan.provider().to_owned();
        let provider_slots = per_provider
            .entry(provider.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(limits.for_provider(&provider))))
            .clone();
        let total = total.clone();
        let run_one = run_one.clone();
        let observer = observer.clone();
        let plan_copy = plan.clone();
        let handle = tasks.spawn(async move {
            // The provider slot first: a session waiting for Ollama holds no global slot.
            let _provider = provider_slots.acquire_owned().await;
            let _slot = total.acquire_owned().await;
            observer.started(&plan);
            let result = run_one(plan.clone()).await;
            observer.finished(&plan, &result);
            (plan, result)
        });
        task_plans.insert(handle.id(), plan_copy);
    }
    let mut results = Vec::with_capacity(task_plans.len());
    while let Some(joined) = tasks.join_next_with_id().await {
        match joined {
            Ok((_, done)) => results.push(Ok(done)),
            Err(err) => {
                if let Some(plan) = task_plans.remove(&err.id()) {
                    results.push(Err(plan));
                }
            }
        }
    }
    results
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

    impl BatchObserver<()> for Peaks {
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
}
