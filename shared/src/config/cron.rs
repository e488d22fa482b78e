//! The `schedule` trigger's cron expression, checked for shape only: five fields
//! (minute, hour, day of month, month, day of week) with values in range. Nothing runs
//! on a schedule yet; checking now keeps files written today valid when it does.

use std::fmt;

/// A five-field cron expression that passed the shape check, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule(String);

/// One of the five fields: its name for messages, its range, and names allowed instead
/// of numbers.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

/// Month names cron accepts (any case), `jan` being 1.
const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
/// Weekday names cron accepts (any case), `sun` being 0.
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The fields in the order cron writes them, with the ranges of standard cron.
const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
    },
    // 7 is Sunday too, as in most crons.
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        names: WEEKDAYS,
    },
];

impl CronSchedule {
    /// Checks the shape of `text`. The error is a sentence for the user.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != FIELDS.len() {
            return Err(format!(
                "`{text}` has {} fields; a cron schedule has 5: minute hour day-of-month \
                 month day-of-week, like `0 3 * * 1`",
                parts.len()
            ));
        }
        for (part, field) in parts.iter().zip(FIELDS.iter()) {
            for item in part.split(',') {
                check_item(item, field)
                    .map_err(|why| format!("`{text}`: the {} field `{part}` {why}", field.name))?;
            }
        }
        Ok(Self(parts.join(" ")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One comma-separated item: `*`, `N`, `N-M`, each optionally followed by `/STEP`.
fn check_item(item: &str, field: &Field) -> Result<(), String> {
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(step) if step >= 1 && step <= field.max => {}
            _ => return Err(format!("has a bad step `/{step}`")),
        }
    }
    if range == "*" {
        return Ok(());
    }
    let (low, high) = match range.split_once('-') {
        Some((low, high)) => (value(low, field)?, value(high, field)?),
        None => {
            let single = value(range, field)?;
            (single, single)
        }
    };
    if low > high {
        return Err(format!("has a range `{range}` that runs backwards"));
    }
    Ok(())
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lowered = text.to_ascii_lowercase();
    if let Some(index) = field.names.iter().position(|name| *name == lowered) {
        // Month names count from 1, weekday names from 0 (Sunday).
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        return Ok(if field.min == 1 { index + 1 } else { index });
    }
    match text.parse::<u32>() {
        Ok(number) if (field.min..=field.max).contains(&number) => Ok(number),
        _ => Err(format!(
            "has `{text}`, which is not a value from {} to {}",
            field.min, field.max
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_schedules() {
        for good in [
            "0 3 * * 1",
            "*/15 * * * *",
            "0 0 1 1 *",
            "30 2 * * MON-FRI",
            "0 9-17/2 * jan,jul sun",
            "0 0 * * 7",
            "5,35 */6 1-15 * *",
        ] {
            assert!(CronSchedule::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            CronSchedule::parse("  0  3 * *   1 ").map(|c| c.to_string()),
            Ok("0 3 * * 1".to_owned())
        );
    }

    #[test]
    fn rejects_bad_shapes() {
        for bad in [
            "",
            "@daily",
            "0 3 * *",
            "0 3 * * 1 2026",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "a * * * *",
            "* * * * funday",
            "1,,2 * * * *",
            "? * * * *",
        ] {
            assert!(CronSchedule::parse(bad).is_err(), "{bad}");
        }
        let err = CronSchedule::parse("61 * * * *").expect_err("minute 61");
        assert!(err.contains("minute field `61`"), "{err}");
    }
}
