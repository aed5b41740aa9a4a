//! The retry policy: exponential backoff with jitter (from `backon`), a server's Retry-After
//! honoured, bounded by a number of tries and by time. Pure: the client asks it for the next
//! delay and it answers from numbers only.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// When and how often a transient failure is retried. Fatal failures never are.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Tries in total, the first included (1 = no retries).
    pub max_attempts: u32,
    /// The delay before the first retry; each further one multiplies it by `factor`.
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub factor: f32,
    /// Add a random extra of up to one delay (spreads out clients that failed together).
    pub jitter: bool,
    /// A seed for the jitter, for reproducible delays in tests.
    pub jitter_seed: Option<u64>,
    /// No retry starts later than this after the first try started.
    pub max_elapsed: Duration,
    /// A server asking to wait longer than this ends the retries instead.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            factor: 2.0,
            jitter: true,
            jitter_seed: None,
            max_elapsed: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// One try, no retries (used for replay: a recording answers the same way every time).
    pub fn no_retries() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The backoff delays for one call, in order; it ends after `max_attempts - 1`.
    pub fn backoff(&self) -> ExponentialBackoff {
        let mut builder = ExponentialBuilder::new()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay.max(self.initial_delay))
            .with_factor(self.factor.max(1.0))
            .with_max_times(self.max_attempts.saturating_sub(1) as usize);
        if self.jitter {
            builder = builder.with_jitter();
            if let Some(seed) = self.jitter_seed {
                builder = builder.with_jitter_seed(seed);
            }
        }
        builder.build()
    }

    /// The delay before the next try, or `None` to stop. `backoff` is the next backoff delay
    /// (`None`: tries used up), `retry_after` what the server asked for, `elapsed` the time
    /// since the first try started.
    pub fn next_delay(
        &self,
        backoff: Option<Duration>,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        let backoff = backoff?;
        let delay = match retry_after {
            Some(wait) if wait > self.max_retry_after => return None,
            // The server knows when it will be ready: wait exactly that long.
            Some(wait) => wait,
            // backon multiplies by an f32 (200 ms comes out as 200.000003 ms, which a
            // millisecond timer rounds up): whole milliseconds keep delays exact.
            None => {
                let ms = backoff.as_micros().saturating_add(500) / 1000;
                Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
            }
        };
        (elapsed.saturating_add(delay) <= self.max_elapsed).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn plain(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_delay: 100 * MS,
            max_delay: 350 * MS,
            factor: 2.0,
            jitter: false,
            jitter_seed: None,
            max_elapsed: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(5),
        }
    }

    #[test]
    fn delays_grow_to_the_cap_and_stop_after_the_tries() {
        // backon multiplies by an f32 factor: compare whole milliseconds.
        let delays: Vec<u128> = plain(5).backoff().map(|d| d.as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 350, 350]);
        assert_eq!(plain(1).backoff().count(), 0);
    }

    #[test]
    fn jitter_stays_within_one_extra_delay() {
        let policy = RetryPolicy {
            jitter: true,
            jitter_seed: Some(7),
            ..plain(4)
        };
        let delays: Vec<Duration> = policy.backoff().collect();
        assert_eq!(delays.len(), 3);
        for (delay, base) in delays.iter().zip([100 * MS, 200 * MS, 350 * MS]) {
            assert!(*delay >= base && *delay < base * 2, "{delay:?} vs {base:?}");
        }
        let again: Vec<Duration> = policy.backoff().collect();
        assert_eq!(delays, again, "a seed makes the jitter reproducible");
    }

    #[test]
    fn retry_after_and_the_time_bound_decide_the_next_delay() {
        let policy = plain(4);
        let zero = Duration::ZERO;
        assert_eq!(
            policy.next_delay(Some(100 * MS), None, zero),
            Some(100 * MS)
        );
        assert_eq!(
            policy.next_delay(Some(100 * MS), Some(Duration::from_secs(2)), zero),
            Some(Duration::from_secs(2))
        );
        // Asked to wait longer than we are willing to: stop.
        assert_eq!(
            policy.next_delay(Some(100 * MS), Some(Duration::from_secs(6)), zero),
            None
        );
        // Tries used up.
        assert_eq!(policy.next_delay(None, None, zero), None);
        // The retry would start after the time bound.
        assert_eq!(
            policy.next_delay(Some(100 * MS), None, Duration::from_millis(9_950)),
            None
        );
        assert_eq!(
            policy.next_delay(Some(100 * MS), None, Duration::from_millis(9_900)),
            Some(100 * MS)
        );
    }
}
