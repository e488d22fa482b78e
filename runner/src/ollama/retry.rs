//! How often and how patiently a chat call is retried when Ollama is not ready: exponential
//! backoff with jitter, bounded in attempts.

use std::time::Duration;

/// The retry schedule of one chat call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt; doubled before each further one.
    pub base_delay: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Six attempts over about a minute and a half of waiting: a GPU service scaling from
    /// zero or loading a large model answers within that, and a server that is really
    /// down is then reported as `Runner.ModelUnavailable` for the workflow to retry the job
    /// later, rather than holding the runner.
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(30),
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

    /// The wait after failed attempt number `attempt` (1 for the first), with "equal
    /// jitter": half the exponential step, plus a random part of the other half, so that
    /// several runners hitting the same server don't retry in lockstep, yet never retry at
    /// once.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let step = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let half = step / 2;
        half + half.mul_f64(random.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_with_bounded_jitter() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(policy.delay(1, 1.0), Duration::from_secs(2));
        assert_eq!(policy.delay(2, 0.0), Duration::from_secs(2));
        assert_eq!(policy.delay(3, 0.5), Duration::from_secs(6));
        assert_eq!(policy.delay(10, 1.0), Duration::from_secs(30));
        assert_eq!(policy.delay(u32::MAX, 0.0), Duration::from_secs(15));
        let total: Duration = (1..policy.max_attempts).map(|a| policy.delay(a, 1.0)).sum();
        assert!(total <= Duration::from_secs(100), "{total:?}");
    }
}
