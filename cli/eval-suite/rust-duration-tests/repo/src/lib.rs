//! Durations as people write them in settings files: `90s`, `5m`, `1h30m`, `2d`.

use std::fmt;

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Nothing but whitespace.
    Empty,
    /// Digits at the end with no unit after them, as in `15`.
    MissingUnit,
    /// A unit other than `s`, `m`, `h` or `d`.
    UnknownUnit(char),
    /// A unit with no digits before it, as in `h`.
    MissingNumber,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => f.write_str("the duration is empty"),
            DurationError::MissingUnit => f.write_str("a number has no unit (s, m, h or d)"),
            DurationError::UnknownUnit(unit) => write!(f, "`{unit}` is not a unit (s, m, h or d)"),
            DurationError::MissingNumber => f.write_str("a unit has no number before it"),
        }
    }
}

/// The number of seconds in `text`: numbers each followed by a unit, added up.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total = 0u64;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        if let Some(digit) = c.to_digit(10) {
            number = Some(number.unwrap_or(0) * 10 + u64::from(digit));
            continue;
        }
        let seconds = match c {
            's' => 1,
            'm' => 60,
            'h' => 60 * 60,
            'd' => 24 * 60 * 60,
            other => return Err(DurationError::UnknownUnit(other)),
        };
        let value = number.take().ok_or(DurationError::MissingNumber)?;
        total += value * seconds;
    }
    if number.is_some() {
        return Err(DurationError::MissingUnit);
    }
    Ok(total)
}
