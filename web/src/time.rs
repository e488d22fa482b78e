//! Dates as the pages show and the filters take them: UTC, `YYYY-MM-DD HH:MM`, from Unix
//! milliseconds and back, without a calendar crate (the civil-date algorithms of Howard
//! Hinnant's `chrono`-compatible date library).

/// Days since 1970-01-01 of the civil date `y-m-d`.
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

/// `2026-12-02 20:15 UTC`.
pub fn format_ms(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let in_day = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        in_day / 3600,
        (in_day % 3600) / 60
    )
}

/// The start of the UTC day `YYYY-MM-DD`, in Unix milliseconds; `None` for anything else.
pub fn parse_date(text: &str) -> Option<u64> {
    let mut parts = text.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // 2026-02-31 is not a day: it would come back as March.
    if civil_from_days(days) != (y, m, d) {
        return None;
    }
    u64::try_from(days).ok().map(|days| days * 86_400_000)
}

/// A filter form's date field `name`: empty is no date; otherwise a `YYYY-MM-DD` day's
/// start, or a sentence that says what to write.
pub fn date_field(name: &str, text: &str) -> Result<Option<u64>, String> {
    match text {
        "" => Ok(None),
        text => parse_date(text)
            .map(Some)
            .ok_or_else(|| format!("{name} must be a date as YYYY-MM-DD, not “{text}”.")),
    }
}

/// A duration as `1 h 2 min`, `3 min 4 s` or `5 s`.
pub fn format_duration(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_and_print_in_utc() {
        assert_eq!(format_ms(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_ms(1_796_242_500_000), "2026-12-02 20:15 UTC");
        assert_eq!(parse_date("2026-12-02"), Some(1_796_169_600_000));
        assert_eq!(
            format_ms(parse_date("2024-02-29").unwrap()),
            "2024-02-29 00:00 UTC"
        );
        for wrong in ["2026-02-31", "2026-13-01", "yesterday", "", "1969-12-31"] {
            assert_eq!(parse_date(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn durations_read_in_the_largest_units() {
        assert_eq!(format_duration(5_400), "5 s");
        assert_eq!(format_duration(184_000), "3 min 4 s");
        assert_eq!(format_duration(3_720_000), "1 h 2 min");
    }
}
