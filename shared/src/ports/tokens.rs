//! The token ledger port: the tokens an installation's jobs used, counted per UTC day and
//! per UTC month (calendar windows, fixed: every caller agrees on them without
//! coordination), each job's tokens counted once. The policy stage reads the counters to
//! enforce an installation policy's `token_budget`; the report stage adds a job's tokens
//! when it ends.

use super::StoreError;
use crate::ids::InstallationId;
use crate::job::JobId;
use std::future::Future;
use std::time::Duration;

const DAY_MS: u64 = 86_400_000;

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
        let day = i64::try_from(at_ms / DAY_MS).unwrap_or(i64::MAX / 2);
        let (year, month, date) = civil_from_days(day);
        let day_ms = |days: i64| u64::try_from(days).unwrap_or(0).saturating_mul(DAY_MS);
        match period {
            BudgetPeriod::Day => Self {
                period,
                label: format!("{year:04}-{month:02}-{date:02}"),
                start_ms: day_ms(day),
                end_ms: day_ms(day + 1),
            },
            BudgetPeriod::Month => {
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                Self {
                    period,
                    label: format!("{year:04}-{month:02}"),
                    start_ms: day_ms(days_from_civil(year, month, 1)),
                    end_ms: day_ms(days_from_civil(next_year, next_month, 1)),
                }
            }
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

/// Days since 1970-01-01 of the civil date `y-m-d` (Howard Hinnant's algorithms).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of `days` since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

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
