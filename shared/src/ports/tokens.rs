//! The token ledger port: the tokens an installation's jobs used, counted per UTC day and
//! per UTC month (calendar windows, fixed: every caller agrees on them without
//! coordination), each job's tokens counted once. The policy stage reads the counters to
//! enforce an installation policy's `token_budget`; the report stage adds a job's tokens
//! when it ends.

use super::StoreError;
use crate::ids::InstallationId;
use crate::job::JobId;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use std::future::Future;
use std::time::Duration;

/// How long counters and the marks of counted jobs are kept after their window (for a
/// mark: the month of the job's end) is over. Long past any redelivery of a job's end.
pub const TOKEN_RECORD_KEEP: Duration = Duration::from_secs(32 * 24 * 3_600);

/// The windows a token budget counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BudgetPeriod {
    Day,
    Month,
}

impl BudgetPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
        }
    }
}

/// The UTC day or month that contains a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetWindow {
    pub period: BudgetPeriod,
    /// `2026-12-03` for a day, `2026-12` for a month: part of the counter's key.
    pub label: String,
    /// Its start, in Unix milliseconds.
    pub start_ms: u64,
    /// Its end, exclusive: when the budget resets.
    pub end_ms: u64,
}

impl BudgetWindow {
    /// The UTC day or month of `period` that contains `at_ms`.
    pub fn containing(period: BudgetPeriod, at_ms: u64) -> Self {
        let at = i64::try_from(at_ms)
            .ok()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .unwrap_or(Timestamp::MAX);
        let date = TimeZone::UTC.to_datetime(at).date();
        let (start, end, label) = match period {
            BudgetPeriod::Day => (date, date.tomorrow().ok(), date.strftime("%Y-%m-%d")),
            BudgetPeriod::Month => {
                let first = date.first_of_month();
                let next = first.checked_add(1.month()).ok();
                (first, next, date.strftime("%Y-%m"))
            }
        };
        Self {
            period,
            label: label.to_string(),
            start_ms: start_ms(start),
            // The last day jiff knows ends its window.
            end_ms: end.map_or(u64::MAX, start_ms),
        }
    }

    /// When the counter of this window may be forgotten.
    pub fn keep_until_ms(&self) -> u64 {
        self.end_ms
            .saturating_add(u64::try_from(TOKEN_RECORD_KEEP.as_millis()).unwrap_or(u64::MAX))
    }
}

/// The tokens an installation's jobs used in the UTC day and month of a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokensUsed {
    pub day: u64,
    pub month: u64,
}

impl TokensUsed {
    pub fn of(self, period: BudgetPeriod) -> u64 {
        match period {
            BudgetPeriod::Day => self.day,
            BudgetPeriod::Month => self.month,
        }
    }
}

pub trait TokenLedger: Send + Sync {
    /// Adds `tokens`, used by `job` of `installation`, to the installation's counters of
    /// the UTC day and month that contain `at_ms` (the job's end) — once per job: keyed
    /// on the job's id, a second add for the same job changes nothing. `true` when this
    /// call counted them. Atomic: the mark and both counters change together or not at
    /// all, and concurrent adds all count.
    fn add_tokens(
        &self,
        installation: InstallationId,
        job: &JobId,
        tokens: u64,
        at_ms: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The tokens counted for `installation` in the UTC day and month that contain
    /// `now_ms`.
    fn tokens_used(
        &self,
        installation: InstallationId,
        now_ms: u64,
    ) -> impl Future<Output = Result<TokensUsed, StoreError>> + Send;
}

/// The start of the UTC day `date`, in Unix milliseconds.
fn start_ms(date: Date) -> u64 {
    TimeZone::UTC
        .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .ok()
        .and_then(|day| u64::try_from(day.as_millisecond()).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: u64 = 86_400_000;

    /// 2026-12-31 23:59:59.999 UTC.
    const NEW_YEAR_S_EVE: u64 = 1_798_761_599_999;

    #[test]
    fn windows_are_utc_calendar_days_and_months() {
        let day = BudgetWindow::containing(BudgetPeriod::Day, NEW_YEAR_S_EVE);
        assert_eq!(day.label, "2026-12-31");
        assert_eq!(day.end_ms, NEW_YEAR_S_EVE + 1);
        assert_eq!(day.start_ms, NEW_YEAR_S_EVE + 1 - DAY_MS);
        let month = BudgetWindow::containing(BudgetPeriod::Month, NEW_YEAR_S_EVE);
        assert_eq!(month.label, "2026-12");
        assert_eq!(month.end_ms, NEW_YEAR_S_EVE + 1);
        assert_eq!(month.start_ms, NEW_YEAR_S_EVE + 1 - 31 * DAY_MS);

        let next = BudgetWindow::containing(BudgetPeriod::Month, NEW_YEAR_S_EVE + 1);
        assert_eq!(next.label, "2027-01");
        assert_eq!(next.start_ms, NEW_YEAR_S_EVE + 1);
        // February 2028 has 29 days.
        let leap = BudgetWindow::containing(BudgetPeriod::Month, 1_833_000_000_000);
        assert_eq!(leap.label, "2028-02");
        assert_eq!(leap.end_ms - leap.start_ms, 29 * DAY_MS);
        assert_eq!(
            BudgetWindow::containing(BudgetPeriod::Day, 0).label,
            "1970-01-01"
        );
    }
}
