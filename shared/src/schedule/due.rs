//! The pure part of schedules: the registry entry a config makes, which entries fire at a
//! given instant and for which fire time, and the request a fire makes.

use crate::config::{CronSchedule, ScheduleTrigger, ScheduleZone};
use crate::envelope::Repository;
use crate::ids::{DeliveryId, InstallationId};
use crate::inbound::{Request, RequestSource};
use crate::ports::ScheduleEntry;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// How far back from now [`due`] looks for the latest fire time missed, window after
/// window: an hour, a day, 40 days, 400 days (a yearly schedule), then since the missed one.
const LOOK_BACK_MS: [u64; 5] = [
    3_600_000,
    86_400_000,
    40 * 86_400_000,
    400 * 86_400_000,
    u64::MAX,
];

/// How many fire times [`due`] steps over within a window: a window of 400 days of a
/// daily schedule. Beyond it the fire time is the last one reached, still only one.
const MAX_MISSED_STEPS: usize = 1_000;

/// The registry entry for a repository whose config has `trigger`, or `None` when the
/// schedule is off or has no cron or tasks (then the repository leaves the registry).
/// An entry with the same cron and zone keeps its next fire time, so a push that leaves
/// the schedule as it was moves nothing.
pub fn entry_for(
    installation: InstallationId,
    repository: Repository,
    trigger: &ScheduleTrigger,
    existing: Option<&ScheduleEntry>,
    now_ms: u64,
) -> Option<ScheduleEntry> {
    let (cron, tasks) = trigger.active()?;
    let zone = &trigger.timezone;
    let same = existing.filter(|old| old.cron == cron.as_str() && old.timezone == zone.name());
    let (next_fire_ms, last_fired_ms) = match same {
        Some(old) => (old.next_fire_ms, old.last_fired_ms),
        None => (next_after(cron, zone, now_ms), None),
    };
    Some(ScheduleEntry {
        installation,
        repository,
        cron: cron.as_str().to_owned(),
        timezone: zone.name().to_owned(),
        tasks: tasks.iter().map(|task| task.as_str().to_owned()).collect(),
        next_fire_ms,
        last_fired_ms,
        updated_at_ms: now_ms,
    })
}

/// A schedule firing: the fire time it fires for and the one after `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    /// The latest fire time at or before now (the only one of those missed that runs).
    pub fired_ms: u64,
    /// The first fire time after now; `None`: never again.
    pub next_ms: Option<u64>,
}

/// Whether `entry` fires at `now_ms`, and for which fire time: its next fire time has
/// come. Fire times missed while nothing ticked (a server down) come to one fire, for the
/// latest of them. An entry whose cron or zone no longer reads (written by another
/// version) never fires: `Err` says why.
pub fn due(entry: &ScheduleEntry, now_ms: u64) -> Result<Option<Fire>, String> {
    let Some(next) = entry.next_fire_ms.filter(|next| *next <= now_ms) else {
        return Ok(None);
    };
    let cron = CronSchedule::parse(&entry.cron)?;
    let zone = ScheduleZone::parse(&entry.timezone)?;
    // The latest fire time in (next, now], looked for in growing windows back from now,
    // so that a frequent schedule missed for long steps over a few times only.
    let mut fired = next;
    for window in LOOK_BACK_MS {
        let start = now_ms.saturating_sub(window).max(next);
        let Some(mut latest) =
            next_after(&cron, &zone, start.saturating_sub(1)).filter(|first| *first <= now_ms)
        else {
            continue;
        };
        for _ in 0..MAX_MISSED_STEPS {
            match next_after(&cron, &zone, latest) {
                Some(later) if later <= now_ms => latest = later,
                _ => break,
            }
        }
        fired = latest;
        break;
    }
    Ok(Some(Fire {
        fired_ms: fired,
        next_ms: next_after(&cron, &zone, now_ms),
    }))
}

/// The request a fire makes: the schedule's tasks on the repository's default branch,
/// named by the repository, the schedule and the fire time.
pub fn request_for(entry: &ScheduleEntry, fire: Fire) -> Result<Request, String> {
    let mut digest = Sha256::new();
    digest.update(entry.cron.as_bytes());
    digest.update([0]);
    digest.update(entry.timezone.as_bytes());
    digest.update([0]);
    digest.update(entry.tasks.join(",").as_bytes());
    let schedule = hex::encode(&digest.finalize()[..4]);
    let minute = i64::try_from(fire.fired_ms)
        .ok()
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .map(|at| at.strftime("%Y%m%d%H%M").to_string())
        .ok_or_else(|| format!("fire time {} is out of range", fire.fired_ms))?;
    let id = format!("schedule-{}-{schedule}-{minute}", entry.repository.id.0);
    Ok(Request {
        id: DeliveryId::parse(&id).map_err(|err| err.to_string())?,
        source: RequestSource::Schedule {
            cron: entry.cron.clone(),
        },
        installation: entry.installation,
        repository: entry.repository.clone().into(),
        tasks: entry.tasks.clone(),
        text: String::new(),
    })
}

fn next_after(cron: &CronSchedule, zone: &ScheduleZone, after_ms: u64) -> Option<u64> {
    let after = Timestamp::from_millisecond(i64::try_from(after_ms).ok()?).ok()?;
    let next = cron.next_after(after, zone)?;
    u64::try_from(next.as_millisecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TaskName;
    use crate::ids::{RepoFullName, RepoId};

    fn ms(text: &str) -> u64 {
        let at: Timestamp = text.parse().expect("instant");
        u64::try_from(at.as_millisecond()).expect("after 1970")
    }

    fn trigger(cron: &str, zone: &str) -> ScheduleTrigger {
        ScheduleTrigger {
            enabled: true,
            cron: CronSchedule::parse(cron).ok(),
            timezone: ScheduleZone::parse(zone).expect("zone"),
            tasks: vec![TaskName::new("deps").expect("task")],
        }
    }

    fn repository() -> Repository {
        Repository {
            id: RepoId(42),
            full_name: RepoFullName::new("octo-org/app"),
            default_branch: Some("main".to_owned()),
            private: true,
        }
    }

    fn entry(cron: &str, now: &str) -> ScheduleEntry {
        entry_for(
            InstallationId(7),
            repository(),
            &trigger(cron, "UTC"),
            None,
            ms(now),
        )
        .expect("an entry")
    }

    #[test]
    fn a_new_entry_fires_next_at_the_crons_next_time_and_an_unchanged_one_keeps_it() {
        let fresh = entry("0 3 * * *", "2026-12-02T10:00:00Z");
        assert_eq!(fresh.next_fire_ms, Some(ms("2026-12-03T03:00:00Z")));
        assert_eq!(fresh.tasks, ["deps"]);
        assert_eq!(fresh.timezone, "UTC");
        let old = ScheduleEntry {
            next_fire_ms: Some(ms("2026-12-02T03:00:00Z")),
            last_fired_ms: Some(ms("2026-12-01T03:00:00Z")),
            ..fresh.clone()
        };
        let later = ms("2026-12-02T11:00:00Z");
        let kept = entry_for(
            InstallationId(7),
            repository(),
            &trigger("0 3 * * *", "UTC"),
            Some(&old),
            later,
        )
        .expect("entry");
        assert_eq!(kept.next_fire_ms, old.next_fire_ms);
        assert_eq!(kept.last_fired_ms, old.last_fired_ms);
        // Another zone is another schedule.
        let moved = entry_for(
            InstallationId(7),
            repository(),
            &trigger("0 3 * * *", "Asia/Tokyo"),
            Some(&old),
            later,
        )
        .expect("entry");
        assert_eq!(moved.next_fire_ms, Some(ms("2026-12-02T18:00:00Z")));
        assert_eq!(moved.last_fired_ms, None);
    }

    #[test]
    fn an_entry_that_is_off_or_has_no_tasks_is_none() {
        let mut off = trigger("0 3 * * *", "UTC");
        off.enabled = false;
        assert_eq!(
            entry_for(InstallationId(7), repository(), &off, None, 0),
            None
        );
        let mut empty = trigger("0 3 * * *", "UTC");
        empty.tasks.clear();
        assert_eq!(
            entry_for(InstallationId(7), repository(), &empty, None, 0),
            None
        );
    }

    #[test]
    fn a_schedule_fires_once_its_time_has_come() {
        let entry = entry("*/5 * * * *", "2026-12-02T10:01:00Z");
        assert_eq!(due(&entry, ms("2026-12-02T10:04:59Z")), Ok(None));
        assert_eq!(
            due(&entry, ms("2026-12-02T10:05:00Z")),
            Ok(Some(Fire {
                fired_ms: ms("2026-12-02T10:05:00Z"),
                next_ms: Some(ms("2026-12-02T10:10:00Z")),
            }))
        );
    }

    #[test]
    fn missed_fire_times_fire_once_for_the_latest() {
        // Down from 10:01 to 11:02: twelve fire times passed; one fire, for 11:00.
        let entry = entry("*/5 * * * *", "2026-12-02T10:01:00Z");
        assert_eq!(
            due(&entry, ms("2026-12-02T11:02:30Z")),
            Ok(Some(Fire {
                fired_ms: ms("2026-12-02T11:00:00Z"),
                next_ms: Some(ms("2026-12-02T11:05:00Z")),
            }))
        );
        // Down for three months on a schedule of every minute: still one fire, and the
        // next fire time is after now.
        let busy = super::tests::entry("* * * * *", "2026-09-01T00:00:00Z");
        let now = ms("2026-12-02T11:02:30Z");
        let fire = due(&busy, now).expect("reads").expect("due");
        assert_eq!(fire.fired_ms, ms("2026-12-02T11:02:00Z"));
        assert_eq!(fire.next_ms, Some(ms("2026-12-02T11:03:00Z")));
    }

    #[test]
    fn an_entry_that_does_not_read_says_why() {
        let mut broken = entry("* * * * *", "2026-12-02T10:00:00Z");
        broken.timezone = "Mars/Olympus".to_owned();
        let err = due(&broken, ms("2026-12-02T11:00:00Z")).expect_err("bad zone");
        assert!(err.contains("Mars/Olympus"), "{err}");
    }

    #[test]
    fn the_request_is_named_by_repository_schedule_and_fire_time() {
        let entry = entry("0 3 * * *", "2026-12-02T10:00:00Z");
        let fire = Fire {
            fired_ms: ms("2026-12-03T03:00:00Z"),
            next_ms: None,
        };
        let request = request_for(&entry, fire).expect("request");
        assert!(
            request.id.as_str().starts_with("schedule-42-"),
            "{}",
            request.id
        );
        assert!(
            request.id.as_str().ends_with("-202612030300"),
            "{}",
            request.id
        );
        assert_eq!(request_for(&entry, fire).expect("again").id, request.id);
        let other = ScheduleEntry {
            cron: "0 3 * * 1".to_owned(),
            ..entry.clone()
        };
        assert_ne!(request_for(&other, fire).expect("other").id, request.id);
        assert_eq!(request.tasks, ["deps"]);
        assert_eq!(request.source.requester(), "schedule:0 3 * * *");
        assert_eq!(request.repository.default_branch.as_deref(), Some("main"));
    }
}
