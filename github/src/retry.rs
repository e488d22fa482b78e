//! Bounded retries of transient GitHub failures inside one call. The bounds are small on
//! purpose: the caller is a queue consumer, and a long wait is better spent by the queue
//! redelivering the message than by a Lambda sleeping.

use shared::ports::GitHubError;
use std::future::Future;
use std::time::Duration;

/// How hard one call tries before giving the failure back to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The most time spent waiting between attempts of one call. A wait GitHub asks for
    /// that would pass it is not waited: the call fails with
    /// [`GitHubError::RateLimited`] at once, for the caller to retry later.
    pub wait_budget: Duration,
    /// The wait before the second attempt when GitHub did not say how long; doubled
    /// before each further one.
    pub base_delay: Duration,
    /// The longest single backoff wait when GitHub did not say how long.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts within ten seconds of waiting: enough to ride out a blip or a short
    /// secondary rate limit, well inside a Lambda's timeout.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            wait_budget: Duration::from_secs(10),
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before attempt `attempt + 1` after `error`, with `waited` already spent;
    /// `None` when the error should go back to the caller.
    pub fn delay_after(
        &self,
        error: &GitHubError,
        attempt: u32,
        waited: Duration,
    ) -> Option<Duration> {
        if !error.is_transient() || attempt >= self.max_attempts {
            return None;
        }
        let delay = match error {
            GitHubError::RateLimited {
                retry_after: Some(after),
            } => *after,
            _ => self.backoff(attempt),
        };
        (waited + delay <= self.wait_budget).then_some(delay)
    }

    /// Exponential backoff with up to 25% jitter, so that retries of many calls failed
    /// together do not arrive together.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let delay = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let nanos = shared::clock::since_epoch().subsec_nanos();
        delay + delay.mul_f64(f64::from(nanos % 250) / 1000.0)
    }

    /// Runs `attempt` (given its 1-based number) until it succeeds, fails for good, or
    /// the policy's bounds are reached; `what` names the call in logs.
    pub(crate) async fn run<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, GitHubError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, GitHubError>>,
    {
        let mut number = 1;
        let mut waited = Duration::ZERO;
        loop {
            let error = match attempt(number).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let Some(delay) = self.delay_after(&error, number, waited) else {
                if error.is_transient() {
                    tracing::warn!(call = what, attempts = number, %error, "GitHub call failed; giving up for now");
                }
                return Err(error);
            };
            tracing::warn!(
                call = what,
                attempt = number,
                delay_ms = shared::clock::millis(delay),
                %error,
                "GitHub call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            waited += delay;
            number += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_retried_and_only_within_bounds() {
        let policy = RetryPolicy::default();
        let unavailable = GitHubError::Unavailable("502".into());
        assert!(
            policy
                .delay_after(&unavailable, 1, Duration::ZERO)
                .is_some()
        );
        assert!(
            policy
                .delay_after(&unavailable, 3, Duration::ZERO)
                .is_none()
        );
        assert!(
            policy
                .delay_after(&GitHubError::Rejected("422".into()), 1, Duration::ZERO)
                .is_none()
        );
    }

    #[test]
    fn a_wait_past_the_budget_is_left_to_the_caller() {
        let policy = RetryPolicy::default();
        let soon = GitHubError::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        };
        let later = GitHubError::RateLimited {
            retry_after: Some(Duration::from_secs(600)),
        };
        assert_eq!(
            policy.delay_after(&soon, 1, Duration::ZERO),
            Some(Duration::from_secs(2))
        );
        assert_eq!(policy.delay_after(&soon, 2, Duration::from_secs(9)), None);
        assert_eq!(policy.delay_after(&later, 1, Duration::ZERO), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        assert!(policy.backoff(1) >= Duration::from_millis(250));
        assert!(policy.backoff(2) >= Duration::from_millis(500));
        assert!(policy.backoff(30) <= policy.max_delay.mul_f64(1.25));
    }
}
