//! The `schedule` trigger's `timezone`: an IANA time zone name (`Europe/Berlin`), read
//! from the time zone database built into the binary (jiff's bundled copy of the IANA
//! database), so every deployment reads a name the same way whatever its host has.

use jiff::tz::TimeZone;
use std::fmt;

/// A time zone a schedule's times are read in; UTC unless `timezone` names another.
#[derive(Debug, Clone)]
pub struct ScheduleZone {
    name: String,
    zone: TimeZone,
}

impl ScheduleZone {
    /// Coordinated Universal Time, the zone of a schedule without `timezone`.
    pub fn utc() -> Self {
        Self {
            name: "UTC".to_owned(),
            zone: TimeZone::UTC,
        }
    }

    /// The zone named `name` in the IANA database. The error is a sentence for the user.
    pub fn parse(name: &str) -> Result<Self, String> {
        let trimmed = name.trim();
        match TimeZone::get(trimmed) {
            Ok(zone) => Ok(Self {
                name: trimmed.to_owned(),
                zone,
            }),
            Err(_) => Err(format!(
                "`{name}` is not a time zone of the IANA database; write a name like \
                 `Europe/Berlin`, `America/New_York` or `UTC`"
            )),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn time_zone(&self) -> &TimeZone {
        &self.zone
    }
}

impl PartialEq for ScheduleZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ScheduleZone {}

impl Default for ScheduleZone {
    fn default() -> Self {
        Self::utc()
    }
}

impl fmt::Display for ScheduleZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_iana_names_and_refuses_others() {
        assert_eq!(
            ScheduleZone::parse("Europe/Berlin").map(|z| z.name().to_owned()),
            Ok("Europe/Berlin".to_owned())
        );
        assert!(ScheduleZone::parse("UTC").is_ok());
        let err = ScheduleZone::parse("Mars/Olympus").expect_err("no such zone");
        assert!(err.contains("`Mars/Olympus` is not a time zone"), "{err}");
        assert!(ScheduleZone::parse("").is_err());
    }
}
