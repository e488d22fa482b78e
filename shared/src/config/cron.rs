//! The `schedule` trigger's cron expression: five fields (minute, hour, day of month,
//! month, day of week) with values in range, as standard (Vixie) cron reads them, and the
//! next time it fires after an instant in a time zone ([`CronSchedule::next_after`]).
//!
//! Days: when both the day of month and the day of week are restricted (neither starts
//! with `*`), a day matches if either does, as in Vixie cron; otherwise both must.
//!
//! Daylight saving time: fire times are wall-clock times of the zone, turned into instants
//! with jiff's `compatible` disambiguation (the one RFC 5545 and Temporal use). A time the
//! clock skips (02:30 when it jumps from 02:00 to 03:00) fires as much later as the gap is
//! long (03:30); a time the clock passes twice (01:30 when it goes back from 02:00 to
//! 01:00) fires once, at its first occurrence.

use super::timezone::ScheduleZone;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime, time};
use std::fmt;

/// A five-field cron expression that passed the check, kept as written (normalized
/// spaces) with the values each field allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    text: String,
    /// Bit `n` of field `i` is set when value `n` is allowed (day of week 7 folded into 0).
    allowed: [u64; 5],
    /// The day of month and the day of week fields start with `*`.
    any_day_of_month: bool,
    any_day_of_week: bool,
}

/// How far ahead [`CronSchedule::next_after`] looks: 28 years cover every combination of
/// a date and a weekday (`0 0 29 2 1`, a 29 February on a Monday, comes every 28 years at
/// most within a century).
const SEARCH_DAYS: u32 = 28 * 366;

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
        let mut allowed = [0u64; 5];
        for ((part, field), bits) in parts.iter().zip(FIELDS.iter()).zip(allowed.iter_mut()) {
            for item in part.split(',') {
                *bits |= item_bits(item, field)
                    .map_err(|why| format!("`{text}`: the {} field `{part}` {why}", field.name))?;
            }
        }
        // Sunday is 0 and 7.
        if allowed[4] & (1 << 7) != 0 {
            allowed[4] |= 1;
        }
        Ok(Self {
            text: parts.join(" "),
            allowed,
            any_day_of_month: parts[2].starts_with('*'),
            any_day_of_week: parts[4].starts_with('*'),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first instant strictly after `after` at which the schedule fires in `zone`, or
    /// `None` when it never fires in the years ahead (`0 0 30 2 *`).
    pub fn next_after(&self, after: Timestamp, zone: &ScheduleZone) -> Option<Timestamp> {
        let tz = zone.time_zone();
        let start = tz.to_datetime(after);
        let mut date = start.date();
        for day in 0..SEARCH_DAYS {
            if self.day_matches(date) {
                for hour in 0..24i8 {
                    if !allows(self.allowed[1], hour) {
                        continue;
                    }
                    for minute in 0..60i8 {
                        // On the first day, only the minutes after `after`'s.
                        if !allows(self.allowed[0], minute)
                            || (day == 0 && (hour, minute) <= (start.hour(), start.minute()))
                        {
                            continue;
                        }
                        let civil = DateTime::from_parts(date, time(hour, minute, 0, 0));
                        let Ok(instant) = tz.to_ambiguous_timestamp(civil).compatible() else {
                            continue;
                        };
                        // In a repeated hour the first occurrence may be behind `after`.
                        if instant > after {
                            return Some(instant);
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    fn day_matches(&self, date: Date) -> bool {
        if !allows(self.allowed[3], date.month()) {
            return false;
        }
        let by_month_day = allows(self.allowed[2], date.day());
        let by_week_day = allows(self.allowed[4], date.weekday().to_sunday_zero_offset());
        match (self.any_day_of_month, self.any_day_of_week) {
            (false, false) => by_month_day || by_week_day,
            _ => by_month_day && by_week_day,
        }
    }
}

fn allows(bits: u64, value: i8) -> bool {
    u32::try_from(value).is_ok_and(|value| value < 64 && bits & (1 << value) != 0)
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One comma-separated item: `*`, `N`, `N-M`, each optionally followed by `/STEP`; the
/// values it allows, as bits.
fn item_bits(item: &str, field: &Field) -> Result<u64, String> {
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    let step = match step {
        Some(step) => match step.parse::<u32>() {
            Ok(step) if step >= 1 && step <= field.max => step,
            _ => return Err(format!("has a bad step `/{step}`")),
        },
        None => 1,
    };
    let (low, high) = match range.split_once('-') {
        _ if range == "*" => (field.min, field.max),
        Some((low, high)) => (value(low, field)?, value(high, field)?),
        None => {
            let single = value(range, field)?;
            (single, single)
        }
    };
    if low > high {
        return Err(format!("has a range `{range}` that runs backwards"));
    }
    // `N/STEP` runs from N to the field's end, as in Vixie cron.
    let high = if step > 1 && !range.contains('-') && range != "*" {
        field.max
    } else {
        high
    };
    Ok((low..=high)
        .step_by(usize::try_from(step).unwrap_or(1))
        .fold(0u64, |bits, value| bits | (1u64 << value)))
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

    fn at(text: &str) -> Timestamp {
        text.parse().expect("an instant")
    }

    fn next(cron: &str, zone: &str, after: &str) -> Option<String> {
        let cron = CronSchedule::parse(cron).expect("cron");
        let zone = ScheduleZone::parse(zone).expect("zone");
        cron.next_after(at(after), &zone).map(|t| t.to_string())
    }

    #[test]
    fn the_next_fire_time_in_utc_is_strictly_after_the_instant() {
        let utc = |cron, after| next(cron, "UTC", after);
        assert_eq!(
            utc("* * * * *", "2026-12-02T10:00:00Z").as_deref(),
            Some("2026-12-02T10:01:00Z")
        );
        assert_eq!(
            utc("* * * * *", "2026-12-02T10:00:30Z").as_deref(),
            Some("2026-12-02T10:01:00Z")
        );
        assert_eq!(
            utc("*/15 * * * *", "2026-12-02T10:14:59Z").as_deref(),
            Some("2026-12-02T10:15:00Z")
        );
        assert_eq!(
            utc("0 3 * * 1", "2026-12-02T10:00:00Z").as_deref(),
            Some("2026-12-07T03:00:00Z")
        );
        assert_eq!(
            utc("0 0 1 1 *", "2026-12-02T10:00:00Z").as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            utc("30 2 * * 7", "2026-12-02T10:00:00Z").as_deref(),
            Some("2026-12-06T02:30:00Z")
        );
        assert_eq!(
            utc("5/20 * * * *", "2026-12-02T10:06:00Z").as_deref(),
            Some("2026-12-02T10:25:00Z")
        );
        // Both day fields restricted: either matches (the 15th is a Tuesday; Friday the 4th).
        assert_eq!(
            utc("0 0 15 * fri", "2026-12-02T10:00:00Z").as_deref(),
            Some("2026-12-04T00:00:00Z")
        );
        // One restricted: both must (a Friday that is the 1st of a month: 2027-01-01).
        assert_eq!(
            utc("0 0 1 * *", "2026-12-02T10:00:00Z").as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            utc("0 0 */1 * fri", "2026-12-02T10:00:00Z").as_deref(),
            Some("2026-12-04T00:00:00Z")
        );
        // A 29 February on a Monday: 2044.
        assert_eq!(
            utc("0 0 29 2 *", "2026-12-02T10:00:00Z").as_deref(),
            Some("2028-02-29T00:00:00Z")
        );
        assert_eq!(utc("0 0 30 2 *", "2026-12-02T10:00:00Z"), None);
    }

    #[test]
    fn a_time_zone_moves_the_fire_times_with_its_offset() {
        // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
        let berlin = |after| next("0 9 * * *", "Europe/Berlin", after);
        assert_eq!(
            berlin("2026-12-02T10:00:00Z").as_deref(),
            Some("2026-12-03T08:00:00Z")
        );
        assert_eq!(
            berlin("2026-07-01T10:00:00Z").as_deref(),
            Some("2026-07-02T07:00:00Z")
        );
    }

    #[test]
    fn a_skipped_time_fires_after_the_gap_and_a_repeated_one_fires_once() {
        // New York, 8 March 2026: 02:00 EST becomes 03:00 EDT; 02:30 does not exist and
        // fires at 03:30 EDT (07:30 UTC), the next day at 02:30 EDT (06:30 UTC).
        let skipped = |after| next("30 2 * * *", "America/New_York", after);
        assert_eq!(
            skipped("2026-03-08T05:00:00Z").as_deref(),
            Some("2026-03-08T07:30:00Z")
        );
        assert_eq!(
            skipped("2026-03-08T07:30:00Z").as_deref(),
            Some("2026-03-09T06:30:00Z")
        );
        // 1 November 2026: 02:00 EDT becomes 01:00 EST; 01:30 happens twice and fires at
        // the first (05:30 UTC), not at the second (06:30 UTC).
        let repeated = |after| next("30 1 * * *", "America/New_York", after);
        assert_eq!(
            repeated("2026-11-01T04:00:00Z").as_deref(),
            Some("2026-11-01T05:30:00Z")
        );
        assert_eq!(
            repeated("2026-11-01T05:30:00Z").as_deref(),
            Some("2026-11-02T06:30:00Z")
        );
        // Every ten minutes through the repeated hour: each wall-clock time once.
        let ten = |after| next("*/10 * * * *", "America/New_York", after);
        assert_eq!(
            ten("2026-11-01T05:50:00Z").as_deref(),
            Some("2026-11-01T07:00:00Z")
        );
    }
}
