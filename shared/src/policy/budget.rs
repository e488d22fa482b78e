//! Token budgets: whether an installation policy's `token_budget` lets a new job start,
//! given the tokens the installation's jobs used in the current UTC day and month. Only
//! the start of a job is judged: a job that is running when the budget runs out goes on,
//! and its tokens count when it ends.

use crate::ports::{BudgetPeriod, BudgetWindow, TokenBudget, TokensUsed};

/// A budget that is spent: which one, how much of it was used, and when it resets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSpent {
    pub period: BudgetPeriod,
    pub used: u64,
    pub budget: u64,
    /// The window the budget counts in; its end is when the budget resets.
    pub window: BudgetWindow,
}

impl BudgetSpent {
    pub fn resets_at_ms(&self) -> u64 {
        self.window.end_ms
    }
}

/// The spent budget of `budget` that keeps a job from starting at `now_ms`, if any: a
/// budget is spent once the tokens used reach it. When both are, the month's, which
/// resets last, so the answer says when jobs can start again.
pub fn budget_spent(
    budget: Option<&TokenBudget>,
    used: TokensUsed,
    now_ms: u64,
) -> Option<BudgetSpent> {
    let budget = budget?;
    [
        (BudgetPeriod::Month, budget.per_month),
        (BudgetPeriod::Day, budget.per_day),
    ]
    .into_iter()
    .find_map(|(period, limit)| {
        let limit = limit?;
        let used = used.of(period);
        (used >= limit).then(|| BudgetSpent {
            period,
            used,
            budget: limit,
            window: BudgetWindow::containing(period, now_ms),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-03 10:00 UTC.
    const NOW: u64 = 1_796_292_000_000;

    fn budget(per_day: Option<u64>, per_month: Option<u64>) -> TokenBudget {
        TokenBudget { per_day, per_month }
    }

    fn used(day: u64, month: u64) -> TokensUsed {
        TokensUsed { day, month }
    }

    #[test]
    fn without_a_budget_every_job_starts() {
        assert_eq!(budget_spent(None, used(u64::MAX, u64::MAX), NOW), None);
        assert_eq!(
            budget_spent(Some(&budget(None, None)), used(u64::MAX, u64::MAX), NOW),
            None
        );
    }

    #[test]
    fn a_job_starts_while_the_budget_is_not_reached() {
        let daily = budget(Some(2_000), Some(10_000));
        assert_eq!(budget_spent(Some(&daily), used(1_999, 9_999), NOW), None);
        assert_eq!(budget_spent(Some(&daily), used(0, 0), NOW), None);
    }

    #[test]
    fn the_day_s_budget_once_reached_refuses_until_midnight_utc() {
        let daily = budget(Some(2_000), Some(10_000));
        let spent = budget_spent(Some(&daily), used(2_000, 5_000), NOW).expect("spent");
        assert_eq!(spent.period, BudgetPeriod::Day);
        assert_eq!((spent.used, spent.budget), (2_000, 2_000));
        assert_eq!(spent.window.label, "2026-12-03");
        // 2026-12-04 00:00 UTC.
        assert_eq!(spent.resets_at_ms(), 1_796_342_400_000);
    }

    #[test]
    fn the_month_s_budget_wins_when_both_are_spent_as_it_resets_last() {
        let both = budget(Some(2_000), Some(10_000));
        let spent = budget_spent(Some(&both), used(2_500, 12_000), NOW).expect("spent");
        assert_eq!(spent.period, BudgetPeriod::Month);
        assert_eq!((spent.used, spent.budget), (12_000, 10_000));
        // 2027-01-01 00:00 UTC.
        assert_eq!(spent.resets_at_ms(), 1_798_761_600_000);
        let monthly = budget(None, Some(10_000));
        assert_eq!(
            budget_spent(Some(&monthly), used(9_000, 10_000), NOW).map(|spent| spent.period),
            Some(BudgetPeriod::Month)
        );
        assert_eq!(budget_spent(Some(&monthly), used(50_000, 9_999), NOW), None);
    }
}
