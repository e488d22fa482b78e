//! The retry policy and the timeouts as data: the workflow's `Retry`, `HeartbeatSeconds`
//! and `TimeoutSeconds` are written from these values, and the local engine computes its
//! delays with [`RetryPolicy::delay_before_retry`], which follows Step Functions' rules.

use super::error::JobError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

/// Retries after the first attempt (Step Functions' `MaxAttempts` counts retries). Three
/// covers a GPU node scaling from zero or a short GitHub incident; a fourth failure in a
/// row says the trouble will outlast the job, and the user can `/retry` later.
pub const MAX_RETRIES: u32 = 3;

/// Backoff before the first retry. 30 seconds rather than Step Functions' default 1: every
/// transient error here (no Fargate capacity, a model still loading, GitHub's secondary
/// rate limit, a dead runner) takes tens of seconds to clear, not milliseconds.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(30);

/// Each retry's backoff doubles: 30 s, 60 s, 120 s, i.e. up to 3.5 minutes over the three
/// retries, enough for an instance to boot and a model to load.
pub const BACKOFF_RATE: f64 = 2.0;

/// Cap on one backoff. Does not bind with the defaults (the third retry waits at most
/// 120 s); it keeps a raised retry count from leaving a job silent for long.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// How long a job waits for `/approve`. Three days, so that a job requested on a Friday
/// evening is still approvable on Monday; a waiting Standard workflow costs nothing, and
/// the approval is pinned to the head commit, so a long wait cannot approve newer code.
pub const APPROVAL_TIMEOUT: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// Silence after which a runner counts as dead (`States.HeartbeatTimeout`). The wait
/// starts when the dispatch is sent, so it has to cover Fargate provisioning and the image
/// pull before the first heartbeat (usually under two minutes, sometimes more); a false
/// timeout would start a second runner for a job whose first runner is alive. A crashed
/// runner is still noticed within five minutes.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(300);

/// How often a runner sends a heartbeat: a tenth of [`HEARTBEAT_TIMEOUT`], so several
/// failed `SendTaskHeartbeat` calls in a row (throttling, a network blip) are harmless.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

/// Longest one attempt may run, from dispatch to result (`Runner.TimedOut` after that).
/// Agent jobs that help finish within minutes; one still going after half an hour is
/// looping and burning runner and model time. Each retry gets its own 30 minutes.
pub const MAX_RUNTIME: Duration = Duration::from_secs(30 * 60);

/// How long an attempt may wait in line for a runner slot on Step Functions before its
/// run wait gives up (`Runner.TimedOut`). A day: no capacity is a wait, never a failed
/// attempt, and a waiting Standard workflow costs nothing; the sweep keeps the wait's
/// heartbeat alive meanwhile. The runtime itself is still enforced from the dispatch on.
pub const MAX_QUEUE: Duration = Duration::from_secs(24 * 60 * 60);

/// How a backoff is randomized: Step Functions' `JitterStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Jitter {
    /// Wait the computed backoff exactly.
    None,
    /// Wait a uniformly random time in `[0, backoff]`: jobs that failed together (a
    /// capacity shortage, a GitHub outage) do not come back together.
    Full,
}

/// When and how often a job retries after a transient error. Serialized with durations in
/// whole seconds, as Step Functions writes them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Retries after the first attempt, like Step Functions' `MaxAttempts` (0 = never retry).
    pub max_attempts: u32,
    /// Backoff before the first retry (`IntervalSeconds`).
    #[serde(rename = "interval_seconds", with = "seconds")]
    pub interval: Duration,
    /// Factor between consecutive backoffs (`BackoffRate`, at least 1.0).
    pub backoff_rate: f64,
    /// Cap on one backoff (`MaxDelaySeconds`), applied before the jitter.
    #[serde(rename = "max_delay_seconds", with = "seconds")]
    pub max_delay: Duration,
    pub jitter: Jitter,
}

impl RetryPolicy {
    /// The project's policy.
    pub const DEFAULT: Self = Self {
        max_attempts: MAX_RETRIES,
        interval: RETRY_INTERVAL,
        backoff_rate: BACKOFF_RATE,
        max_delay: MAX_RETRY_DELAY,
        jitter: Jitter::Full,
    };

    /// The backoff before retry number `retry_number` (1 for the first retry), before
    /// jitter: `min(interval * backoff_rate^(retry_number - 1), max_delay)`.
    pub fn backoff(&self, retry_number: u32) -> Duration {
        let exponent = i32::try_from(retry_number.saturating_sub(1)).unwrap_or(i32::MAX);
        let uncapped = self.interval.as_secs_f64() * self.backoff_rate.powi(exponent);
        // `f64::min` ignores a NaN operand, and an infinite backoff is capped like any other.
        let capped = uncapped.min(self.max_delay.as_secs_f64());
        Duration::try_from_secs_f64(capped).unwrap_or(self.max_delay)
    }

    /// How long to wait before retry number `retry_number` (1 for the first retry), as
    /// Step Functions computes it: the [`backoff`](Self::backoff), and with full jitter a
    /// uniformly random point in `[0, backoff]`, chosen by `unit_random` in `[0, 1]`
    /// (clamped; the caller supplies the randomness so this stays pure).
    pub fn delay_before_retry(&self, retry_number: u32, unit_random: f64) -> Duration {
        let backoff = self.backoff(retry_number);
        match self.jitter {
            Jitter::None => backoff,
            Jitter::Full => {
                let fraction = if unit_random.is_nan() {
                    0.0
                } else {
                    unit_random.clamp(0.0, 1.0)
                };
                backoff.mul_f64(fraction)
            }
        }
    }

    /// Whether a job whose latest attempt failed with `error` gets another one.
    /// `attempts_so_far` counts attempts made, the failed one included (a job's
    /// [`attempts`](super::JobRecord::attempts)); the next retry's number is that count.
    pub fn should_retry(&self, error: &JobError, attempts_so_far: u32) -> bool {
        error.is_transient() && attempts_so_far.saturating_sub(1) < self.max_attempts
    }

    /// [`should_retry`](Self::should_retry) and
    /// [`delay_before_retry`](Self::delay_before_retry) together: the wait before the
    /// next attempt, or `None` when the error is final.
    pub fn next_retry(
        &self,
        error: &JobError,
        attempts_so_far: u32,
        unit_random: f64,
    ) -> Option<Duration> {
        self.should_retry(error, attempts_so_far)
            .then(|| self.delay_before_retry(attempts_so_far.max(1), unit_random))
    }

    /// The policy as a Step Functions retrier for `errors`, e.g. [`super::TRANSIENT_ERRORS`]:
    /// what the state machine definition must contain, for the test that compares them.
    /// Durations are whole seconds there (rounded up, at least 1 for the interval).
    pub fn to_asl_retrier(&self, errors: &[&str]) -> Value {
        json!({
            "ErrorEquals": errors,
            "IntervalSeconds": whole_seconds(self.interval).max(1),
            "BackoffRate": self.backoff_rate,
            "MaxAttempts": self.max_attempts,
            "MaxDelaySeconds": whole_seconds(self.max_delay).max(1),
            "JitterStrategy": match self.jitter {
                Jitter::None => "NONE",
                Jitter::Full => "FULL",
            },
        })
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How long a job may wait at each step. Serialized in whole seconds (`approval_seconds`,
/// ...), so a workflow can read them from its input (`TimeoutSecondsPath`), together with
/// the derived `run_wait_seconds` ([`Timeouts::run_wait`]), which a reader ignores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "TimeoutsWire")]
pub struct Timeouts {
    /// For `/approve`; then the job is `expired` (`TimeoutSeconds` of the approval wait).
    #[serde(rename = "approval_seconds", with = "seconds")]
    pub approval: Duration,
    /// Without a heartbeat from the runner (`HeartbeatSeconds` of the run).
    #[serde(rename = "heartbeat_seconds", with = "seconds")]
    pub heartbeat: Duration,
    /// For one attempt, from dispatch to result (`TimeoutSeconds` of the run).
    #[serde(rename = "max_runtime_seconds", with = "seconds")]
    pub max_runtime: Duration,
    /// Longest an attempt may wait in line for a runner slot before it is dispatched, on
    /// top of the runtime. Inputs written before it existed read as [`MAX_QUEUE`].
    #[serde(
        rename = "max_queue_seconds",
        with = "seconds",
        default = "default_max_queue"
    )]
    pub max_queue: Duration,
}

fn default_max_queue() -> Duration {
    MAX_QUEUE
}

/// [`Timeouts`] as written: each timeout and the run wait's, all in whole seconds.
#[derive(Serialize)]
struct TimeoutsWire {
    approval_seconds: u64,
    heartbeat_seconds: u64,
    max_runtime_seconds: u64,
    max_queue_seconds: u64,
    run_wait_seconds: u64,
}

impl From<Timeouts> for TimeoutsWire {
    fn from(timeouts: Timeouts) -> Self {
        Self {
            approval_seconds: whole_seconds(timeouts.approval),
            heartbeat_seconds: whole_seconds(timeouts.heartbeat),
            max_runtime_seconds: whole_seconds(timeouts.max_runtime),
            max_queue_seconds: whole_seconds(timeouts.max_queue),
            run_wait_seconds: whole_seconds(timeouts.run_wait()),
        }
    }
}

impl Timeouts {
    /// The project's timeouts.
    pub const DEFAULT: Self = Self {
        approval: APPROVAL_TIMEOUT,
        heartbeat: HEARTBEAT_TIMEOUT,
        max_runtime: MAX_RUNTIME,
        max_queue: MAX_QUEUE,
    };

    /// How long the run's wait lasts on Step Functions, where an attempt's time in line
    /// is part of that one wait: the queue allowance plus the runtime. The runtime itself
    /// is enforced from the dispatch on (the runner's deadlines, the heartbeat, the slot's
    /// lease); the local engine opens the run's wait only once the attempt has its slot
    /// and times it with [`max_runtime`](Self::max_runtime) alone.
    pub fn run_wait(&self) -> Duration {
        self.max_queue.saturating_add(self.max_runtime)
    }

    /// Checks what Step Functions would refuse or never fire: each timeout at least one
    /// second (the queue allowance may be zero), and the heartbeat shorter than the runtime.
    pub fn validate(&self) -> Result<(), TimeoutsError> {
        for (field, value) in [
            ("approval", self.approval),
            ("heartbeat", self.heartbeat),
            ("max_runtime", self.max_runtime),
        ] {
            if value < Duration::from_secs(1) {
                return Err(TimeoutsError::TooShort(field));
            }
        }
        if self.heartbeat >= self.max_runtime {
            return Err(TimeoutsError::HeartbeatNotShorterThanRuntime);
        }
        Ok(())
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Timeouts that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutsError {
    #[error("the {0} timeout must be at least one second")]
    TooShort(&'static str),
    #[error("the heartbeat timeout must be shorter than the maximum runtime")]
    HeartbeatNotShorterThanRuntime,
}

/// Seconds, rounded up: a timeout never shrinks on its way into Step Functions.
fn whole_seconds(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0))
}

/// `Duration` as whole seconds in serde, the unit Step Functions and people use.
mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(super::whole_seconds(*duration))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::TRANSIENT_ERRORS;

    const POLICY: RetryPolicy = RetryPolicy::DEFAULT;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn backoff_grows_by_the_rate_from_the_interval() {
        assert_eq!(POLICY.backoff(1), secs(30));
        assert_eq!(POLICY.backoff(2), secs(60));
        assert_eq!(POLICY.backoff(3), secs(120));
        // Retry 0 does not exist; it is read as the first.
        assert_eq!(POLICY.backoff(0), secs(30));
    }

    #[test]
    fn backoff_is_capped_at_the_max_delay() {
        assert_eq!(POLICY.backoff(4), secs(240));
        assert_eq!(POLICY.backoff(5), secs(300));
        assert_eq!(POLICY.backoff(6), secs(300));
        assert_eq!(POLICY.backoff(u32::MAX), secs(300));
        let silly = RetryPolicy {
            backoff_rate: f64::NAN,
            ..POLICY
        };
        assert_eq!(silly.backoff(2), secs(300));
    }

    #[test]
    fn without_jitter_the_delay_is_the_backoff() {
        let policy = RetryPolicy {
            jitter: Jitter::None,
            ..POLICY
        };
        for retry in 1..=8 {
            for random in [0.0, 0.5, 1.0] {
                assert_eq!(
                    policy.delay_before_retry(retry, random),
                    policy.backoff(retry)
                );
            }
        }
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_backoff() {
        for retry in 1..=8 {
            let backoff = POLICY.backoff(retry);
            assert_eq!(POLICY.delay_before_retry(retry, 0.0), Duration::ZERO);
            assert_eq!(POLICY.delay_before_retry(retry, 1.0), backoff);
            assert_eq!(POLICY.delay_before_retry(retry, 0.5), backoff / 2);
            for step in 0..=100 {
                let delay = POLICY.delay_before_retry(retry, f64::from(step) / 100.0);
                assert!(delay <= backoff, "retry {retry}, step {step}: {delay:?}");
            }
            // Out-of-range randomness is clamped, never stretches the wait.
            assert_eq!(POLICY.delay_before_retry(retry, 7.0), backoff);
            assert_eq!(POLICY.delay_before_retry(retry, -1.0), Duration::ZERO);
            assert_eq!(POLICY.delay_before_retry(retry, f64::NAN), Duration::ZERO);
        }
        assert_eq!(POLICY.delay_before_retry(9, 1.0), MAX_RETRY_DELAY);
    }

    #[test]
    fn transient_errors_retry_until_the_attempts_are_used_up() {
        let error = JobError::RunnerModelUnavailable;
        assert!(POLICY.should_retry(&error, 1));
        assert!(POLICY.should_retry(&error, 2));
        assert!(POLICY.should_retry(&error, 3));
        assert!(!POLICY.should_retry(&error, 4), "1 attempt + 3 retries");
        assert!(!POLICY.should_retry(&error, u32::MAX));
        let never = RetryPolicy {
            max_attempts: 0,
            ..POLICY
        };
        assert!(!never.should_retry(&error, 1));
    }

    #[test]
    fn permanent_errors_never_retry() {
        for error in JobError::ALL.into_iter().filter(|e| !e.is_transient()) {
            assert!(!POLICY.should_retry(&error, 1), "{error}");
            assert_eq!(POLICY.next_retry(&error, 1, 1.0), None);
        }
    }

    #[test]
    fn next_retry_numbers_the_retry_by_attempts_made() {
        let error = JobError::HeartbeatTimeout;
        assert_eq!(POLICY.next_retry(&error, 1, 1.0), Some(secs(30)));
        assert_eq!(POLICY.next_retry(&error, 2, 1.0), Some(secs(60)));
        assert_eq!(POLICY.next_retry(&error, 3, 1.0), Some(secs(120)));
        assert_eq!(POLICY.next_retry(&error, 4, 1.0), None);
    }

    #[test]
    fn the_asl_retrier_carries_the_same_numbers() {
        assert_eq!(
            POLICY.to_asl_retrier(TRANSIENT_ERRORS),
            json!({
                "ErrorEquals": [
                    "Runner.ModelUnavailable",
                    "Runner.GitHubUnavailable",
                    "States.HeartbeatTimeout"
                ],
                "IntervalSeconds": 30,
                "BackoffRate": 2.0,
                "MaxAttempts": 3,
                "MaxDelaySeconds": 300,
                "JitterStrategy": "FULL"
            })
        );
        let odd = RetryPolicy {
            interval: Duration::from_millis(1500),
            jitter: Jitter::None,
            ..POLICY
        };
        assert_eq!(odd.to_asl_retrier(&[])["IntervalSeconds"], 2);
        assert_eq!(odd.to_asl_retrier(&[])["JitterStrategy"], "NONE");
    }

    #[test]
    fn default_timeouts_are_consistent() {
        let timeouts = Timeouts::default();
        assert_eq!(timeouts.validate(), Ok(()));
        assert_eq!(timeouts.approval, secs(259_200));
        assert_eq!(timeouts.heartbeat, secs(300));
        assert_eq!(timeouts.max_runtime, secs(1_800));
        assert!(HEARTBEAT_INTERVAL * 3 < HEARTBEAT_TIMEOUT);
    }

    #[test]
    fn unusable_timeouts_are_refused() {
        let zero = Timeouts {
            approval: Duration::ZERO,
            ..Timeouts::DEFAULT
        };
        assert_eq!(zero.validate(), Err(TimeoutsError::TooShort("approval")));
        let inverted = Timeouts {
            heartbeat: secs(1_800),
            ..Timeouts::DEFAULT
        };
        assert_eq!(
            inverted.validate(),
            Err(TimeoutsError::HeartbeatNotShorterThanRuntime)
        );
    }

    #[test]
    fn policy_and_timeouts_round_trip_through_serde_in_seconds() {
        let json = serde_json::to_value(POLICY).expect("serialize");
        assert_eq!(
            json,
            json!({
                "max_attempts": 3,
                "interval_seconds": 30,
                "backoff_rate": 2.0,
                "max_delay_seconds": 300,
                "jitter": "FULL"
            })
        );
        let json = serde_json::to_string(&POLICY).expect("serialize");
        let back: RetryPolicy = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, POLICY);
        assert_eq!(
            serde_json::to_value(Timeouts::DEFAULT).expect("serialize"),
            json!({
                "approval_seconds": 259_200,
                "heartbeat_seconds": 300,
                "max_runtime_seconds": 1_800,
                "max_queue_seconds": 86_400,
                "run_wait_seconds": 88_200
            })
        );
        let json = serde_json::to_string(&Timeouts::DEFAULT).expect("serialize");
        let back: Timeouts = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, Timeouts::DEFAULT);
    }

    #[test]
    fn the_run_wait_on_step_functions_adds_the_queue_allowance_to_the_runtime() {
        let timeouts = Timeouts {
            heartbeat: secs(10),
            max_runtime: secs(40),
            max_queue: secs(600),
            ..Timeouts::DEFAULT
        };
        assert_eq!(timeouts.run_wait(), secs(640));
        assert!(Timeouts::DEFAULT.run_wait() > Timeouts::DEFAULT.max_runtime + MAX_QUEUE / 2);
        let json = serde_json::to_value(timeouts).expect("serialize");
        assert_eq!(json["run_wait_seconds"], 640);
        assert_eq!(json["max_runtime_seconds"], 40);
        // No allowance is allowed: the run wait is then the runtime.
        let none = Timeouts {
            max_queue: Duration::ZERO,
            ..timeouts
        };
        assert_eq!(none.validate(), Ok(()));
        assert_eq!(none.run_wait(), secs(40));
    }

    #[test]
    fn timeouts_written_before_the_queue_allowance_still_read() {
        let old: Timeouts = serde_json::from_value(json!({
            "approval_seconds": 60,
            "heartbeat_seconds": 5,
            "max_runtime_seconds": 30
        }))
        .expect("an old workflow input");
        assert_eq!(old.max_queue, MAX_QUEUE);
        assert_eq!(old.max_runtime, secs(30));
        assert_eq!(old.run_wait(), MAX_QUEUE + secs(30));
        // The derived field is ignored on the way in.
        let written = serde_json::to_value(old).expect("serialize");
        let back: Timeouts = serde_json::from_value(written).expect("deserialize");
        assert_eq!(back, old);
    }
}
