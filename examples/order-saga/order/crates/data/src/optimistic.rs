//! Optimistic concurrency: a read-modify-write that lost the race to another writer (its ETag went
//! stale) is simply run again on the fresh state, after a pause.
//!
//! The pauses grow exponentially and are drawn at random below that bound ("full jitter"), so
//! writers that collided once spread out instead of colliding again in lockstep.

use std::future::Future;
use std::time::Duration;

use biz::error::RepoError;
use biz::order_repo::{ModifyError, RetryPolicy};
use rand::Rng;

/// Longest pause between two attempts, whatever the policy: past this, waiting longer only adds
/// latency; the contention is better reported to the caller.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// An error that may mean "another writer got there first: try again".
pub trait Contention {
    /// Whether this is a lost race (and not a failure that retrying cannot fix).
    fn is_conflict(&self) -> bool;
}

impl Contention for RepoError {
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict)
    }
}

impl Contention for ModifyError {
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Repo(RepoError::Conflict))
    }
}

/// Runs `attempt` until it does not fail with a conflict, at most `policy.max_attempts` times (at
/// least once), pausing with jittered exponential back-off in between. Returns the last outcome:
/// a success, the first error that is no conflict, or the last conflict.
pub async fn retry_on_conflict<T, E, F, Fut>(policy: RetryPolicy, mut attempt: F) -> Result<T, E>
where
    E: Contention,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let max_attempts = policy.max_attempts.max(1);
    let mut made = 1;
    loop {
        match attempt().await {
            Err(error) if error.is_conflict() && made < max_attempts => {
                tokio::time::sleep(jittered(backoff_ceiling(policy, made))).await;
                made += 1;
            }
            outcome => return outcome,
        }
    }
}

/// The longest pause after the `failed`-th failed attempt: `base_delay_ms × 2^(failed − 1)`,
/// capped at [`MAX_BACKOFF`].
pub fn backoff_ceiling(policy: RetryPolicy, failed: u32) -> Duration {
    let doublings = failed.saturating_sub(1).min(32);
    let millis = policy.base_delay_ms.saturating_mul(1_u64 << doublings);
    Duration::from_millis(millis).min(MAX_BACKOFF)
}

/// A pause drawn uniformly from zero to `ceiling`.
fn jittered(ceiling: Duration) -> Duration {
    let ceiling_micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(rand::rng().random_range(0..=ceiling_micros))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio::time::Instant;

    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 5,
        base_delay_ms: 10,
    };

    /// Runs `retry_on_conflict` with attempts answering `outcomes` in turn (the last one repeated);
    /// returns the result, the number of attempts made and the (virtual) time spent.
    async fn run(
        policy: RetryPolicy,
        outcomes: &[Result<u32, RepoError>],
    ) -> (Result<u32, RepoError>, u32, Duration) {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let result = retry_on_conflict(policy, || {
            let call = calls.fetch_add(1, Ordering::SeqCst) as usize;
            let outcome = match &outcomes[call.min(outcomes.len() - 1)] {
                Ok(value) => Ok(*value),
                Err(RepoError::Conflict) => Err(RepoError::Conflict),
                Err(other) => Err(RepoError::Unavailable(other.to_string())),
            };
            async move { outcome }
        })
        .await;
        (result, calls.load(Ordering::SeqCst), started.elapsed())
    }

    fn total_ceiling(policy: RetryPolicy, pauses: u32) -> Duration {
        (1..=pauses)
            .map(|failed| backoff_ceiling(policy, failed))
            .sum()
    }

    #[tokio::test(start_paused = true)]
    async fn a_conflict_every_time_makes_max_attempts_then_reports_the_conflict() {
        let (result, attempts, spent) = run(POLICY, &[Err(RepoError::Conflict)]).await;
        assert!(matches!(result, Err(RepoError::Conflict)), "{result:?}");
        assert_eq!(attempts, 5);
        assert!(spent <= total_ceiling(POLICY, 4), "paused {spent:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_the_first_success() {
        let (result, attempts, _) = run(
            POLICY,
            &[Err(RepoError::Conflict), Err(RepoError::Conflict), Ok(7)],
        )
        .await;
        assert_eq!((result.unwrap(), attempts), (7, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_are_not_retried() {
        let (result, attempts, spent) =
            run(POLICY, &[Err(RepoError::Unavailable("down".into()))]).await;
        assert!(
            matches!(result, Err(RepoError::Unavailable(_))),
            "{result:?}"
        );
        assert_eq!((attempts, spent), (1, Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn never_means_one_attempt_and_zero_attempts_still_makes_one() {
        for policy in [
            RetryPolicy::NEVER,
            RetryPolicy {
                max_attempts: 0,
                base_delay_ms: 10,
            },
        ] {
            let (result, attempts, spent) = run(policy, &[Err(RepoError::Conflict)]).await;
            assert!(matches!(result, Err(RepoError::Conflict)));
            assert_eq!((attempts, spent), (1, Duration::ZERO));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_a_modify_conflict_but_not_a_rejected_change() {
        let calls = AtomicU32::new(0);
        let rejected = retry_on_conflict(POLICY, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err::<(), _>(ModifyError::Rejected(biz::order::ValidationError::new(
                    "delta", "too big",
                )))
            }
        })
        .await;
        assert!(matches!(rejected, Err(ModifyError::Rejected(_))));
        assert_eq!(calls.swap(0, Ordering::SeqCst), 1);
        let conflicted = retry_on_conflict(POLICY, || async {
            Err::<(), _>(ModifyError::Repo(RepoError::Conflict))
        })
        .await;
        assert!(matches!(
            conflicted,
            Err(ModifyError::Repo(RepoError::Conflict))
        ));
    }

    #[test]
    fn the_ceiling_doubles_from_the_base_and_is_capped() {
        let ceilings: Vec<u64> = (1..=5)
            .map(|failed| backoff_ceiling(POLICY, failed).as_millis() as u64)
            .collect();
        assert_eq!(ceilings, [10, 20, 40, 80, 160]);
        assert_eq!(backoff_ceiling(POLICY, 20), MAX_BACKOFF);
        assert_eq!(
            backoff_ceiling(
                RetryPolicy {
                    max_attempts: 3,
                    base_delay_ms: u64::MAX
                },
                u32::MAX
            ),
            MAX_BACKOFF
        );
        assert_eq!(backoff_ceiling(RetryPolicy::NEVER, 3), Duration::ZERO);
    }

    #[test]
    fn jitter_stays_between_zero_and_the_ceiling_and_varies() {
        let ceiling = Duration::from_millis(40);
        let pauses: Vec<Duration> = (0..200).map(|_| jittered(ceiling)).collect();
        assert!(pauses.iter().all(|pause| *pause <= ceiling));
        assert!(
            pauses.iter().any(|pause| *pause != pauses[0]),
            "200 equal draws: no jitter"
        );
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }
}
