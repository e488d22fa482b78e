//! Durations as written in the file: a number of seconds (`90`), or numbers with units
//! `h`, `m` and `s` in that order (`90s`, `30m`, `2h`, `1h30m`).

use std::time::Duration;

/// Parses `text` as a duration. The error is a sentence for the user.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let invalid = || {
        format!(
            "`{text}` is not a duration: write a number of seconds or numbers with units \
             `h`, `m`, `s`, like `90s`, `30m` or `1h30m`"
        )
    };
    if text.is_empty() {
        return Err(invalid());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(Duration::from_secs).map_err(|_| invalid());
    }
    let mut seconds: u64 = 0;
    let mut rest = text;
    // Units must come in this order, each at most once: `1h30m`, not `30m1h`.
    let mut units: &[(char, u64)] = &[('h', 3600), ('m', 60), ('s', 1)];
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let (number, tail) = rest.split_at(digits);
        let mut tail_chars = tail.chars();
        let unit = tail_chars.next().ok_or_else(invalid)?;
        let position = units
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(invalid)?;
        let factor = units[position].1;
        units = &units[position + 1..];
        let value: u64 = number.parse().map_err(|_| invalid())?;
        seconds = value
            .checked_mul(factor)
            .and_then(|s| s.checked_add(seconds))
            .ok_or_else(invalid)?;
        rest = tail_chars.as_str();
    }
    Ok(Duration::from_secs(seconds))
}

/// Writes `duration` the way the file would (`1h30m`, `45s`, `0s`), whole seconds only.
pub fn format_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    let (hours, minutes, seconds) = (total / 3600, total % 3600 / 60, total % 60);
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if seconds > 0 || out.is_empty() {
        out.push_str(&format!("{seconds}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> Result<u64, String> {
        parse_duration(text).map(|d| d.as_secs())
    }

    #[test]
    fn reads_seconds_and_units() {
        assert_eq!(secs("90"), Ok(90));
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("30m"), Ok(1800));
        assert_eq!(secs("2h"), Ok(7200));
        assert_eq!(secs("1h30m"), Ok(5400));
        assert_eq!(secs("1h2m3s"), Ok(3723));
        assert_eq!(secs(" 5m "), Ok(300));
        assert_eq!(secs("0"), Ok(0));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "",
            "m",
            "30x",
            "30 m",
            "1.5h",
            "-5m",
            "30m1h",
            "1h1h",
            "5mm",
            "h30",
            "30min",
            "99999999999999999999",
            "5124095576030432h",
        ] {
            let err = secs(bad).expect_err(bad);
            assert!(err.contains("is not a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn formats_like_the_file() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(45)), "45s");
        assert_eq!(format_duration(Duration::from_secs(3601)), "1h1s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
