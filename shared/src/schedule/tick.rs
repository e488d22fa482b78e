//! One tick: the due schedules from the registry, each fire time claimed, then its request
//! queued for the policy stage. `ota serve`'s ticker and the scheduler Lambda call it.

use super::due::{due, request_for};
use crate::inbound::Inbound;
use crate::ports::{EventQueue, QueueError, ScheduleEntry, ScheduleRegistry, StoreError};

/// The most schedules one tick fires; more wait for the next tick, a minute later.
pub const TICK_LIMIT: usize = 500;

/// What a tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// The requests queued, by id.
    pub queued: Vec<String>,
    /// Fire times another tick claimed first.
    pub taken: usize,
}

/// Why a tick stopped: the registry or the queue is unavailable. The next tick tries again.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Fires every schedule due at `now_ms`.
pub async fn tick<R: ScheduleRegistry, Q: EventQueue>(
    registry: &R,
    queue: &Q,
    now_ms: u64,
) -> Result<TickReport, TickError> {
    let mut report = TickReport::default();
    for entry in registry.due_schedules(now_ms, TICK_LIMIT).await? {
        let repo = entry.repository.full_name.as_str().to_owned();
        let Some(expected) = entry.next_fire_ms else {
            continue;
        };
        let fire = match due(&entry, now_ms) {
            Ok(Some(fire)) => fire,
            Ok(None) => continue,
            Err(problem) => {
                tracing::warn!(repo, error = %problem, "a registered schedule does not read; it will not fire");
                registry
                    .claim_fire(entry.repository.id, expected, entry.last_fired_ms, None)
                    .await?;
                continue;
            }
        };
        let request = match request_for(&entry, fire) {
            Ok(request) => request,
            Err(problem) => {
                tracing::warn!(repo, error = %problem, "a schedule's request could not be made");
                continue;
            }
        };
        // Claimed first: a tick that repeats this one, or runs beside it, finds the fire
        // time taken and queues nothing.
        if !registry
            .claim_fire(
                entry.repository.id,
                expected,
                Some(fire.fired_ms),
                fire.next_ms,
            )
            .await?
        {
            report.taken += 1;
            continue;
        }
        let id = request.id.to_string();
        if let Err(err) = queue.enqueue(&Inbound::Request(request)).await {
            put_back(registry, &entry, fire.next_ms).await;
            return Err(err.into());
        }
        tracing::info!(
            repo,
            request = id,
            cron = entry.cron,
            timezone = entry.timezone,
            fired_ms = fire.fired_ms,
            "schedule fired"
        );
        report.queued.push(id);
    }
    Ok(report)
}

/// A fire whose request could not be queued is given back, so that the next tick fires it
/// (under the same id, which the queue deduplicates on).
async fn put_back<R: ScheduleRegistry>(registry: &R, entry: &ScheduleEntry, next: Option<u64>) {
    let (Some(claimed), Some(original)) = (next, entry.next_fire_ms) else {
        return;
    };
    if let Err(err) = registry
        .claim_fire(
            entry.repository.id,
            claimed,
            entry.last_fired_ms,
            Some(original),
        )
        .await
    {
        tracing::error!(repo = entry.repository.full_name.as_str(), error = %err, "a fire that was not queued could not be given back; it is lost");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Repository;
    use crate::ids::{InstallationId, RepoFullName, RepoId};
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// The registry as a map; claims conditional as the stores' are.
    #[derive(Default)]
    struct Registry(Mutex<BTreeMap<u64, ScheduleEntry>>);

    impl Registry {
        fn get(&self, repo: u64) -> Option<ScheduleEntry> {
            self.0.lock().ok()?.get(&repo).cloned()
        }
    }

    impl ScheduleRegistry for Registry {
        async fn put_schedule(&self, entry: &ScheduleEntry) -> Result<(), StoreError> {
            if let Ok(mut map) = self.0.lock() {
                map.insert(entry.repository.id.0, entry.clone());
            }
            Ok(())
        }
        async fn schedule(&self, repo: RepoId) -> Result<Option<ScheduleEntry>, StoreError> {
            Ok(self.get(repo.0))
        }
        async fn remove_schedule(&self, _: RepoId) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn remove_installation_schedules(
            &self,
            _: InstallationId,
        ) -> Result<u64, StoreError> {
            Ok(0)
        }
        async fn due_schedules(
            &self,
            now: u64,
            _: usize,
        ) -> Result<Vec<ScheduleEntry>, StoreError> {
            let map = self
                .0
                .lock()
                .map_err(|_| StoreError::Unavailable("lock".into()))?;
            Ok(map
                .values()
                .filter(|entry| entry.next_fire_ms.is_some_and(|next| next <= now))
                .cloned()
                .collect())
        }
        async fn claim_fire(
            &self,
            repo: RepoId,
            expected: u64,
            fired: Option<u64>,
            next: Option<u64>,
        ) -> Result<bool, StoreError> {
            let mut map = self
                .0
                .lock()
                .map_err(|_| StoreError::Unavailable("lock".into()))?;
            match map.get_mut(&repo.0) {
                Some(entry) if entry.next_fire_ms == Some(expected) => {
                    entry.next_fire_ms = next;
                    entry.last_fired_ms = fired;
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
        async fn tracking_issue(&self, _: RepoId) -> Result<Option<u64>, StoreError> {
            Ok(None)
        }
        async fn put_tracking_issue(&self, _: RepoId, _: u64) -> Result<(), StoreError> {
            Ok(())
        }
    }

    /// A queue that takes messages, or refuses them all.
    #[derive(Default)]
    struct Queue {
        refuse: bool,
        taken: Mutex<Vec<String>>,
    }

    impl EventQueue for Queue {
        async fn enqueue(&self, message: &Inbound) -> Result<(), QueueError> {
            if self.refuse {
                return Err(QueueError("down".to_owned()));
            }
            if let Ok(mut taken) = self.taken.lock() {
                taken.push(message.id().to_string());
            }
            Ok(())
        }
    }

    const MINUTE: u64 = 60_000;
    /// 2026-12-02T10:00:00Z.
    const TEN: u64 = 1_796_205_600_000;

    fn every_five_minutes(next: u64) -> ScheduleEntry {
        ScheduleEntry {
            installation: InstallationId(7),
            repository: Repository {
                id: RepoId(42),
                full_name: RepoFullName::new("octo-org/app"),
                default_branch: Some("main".to_owned()),
                private: false,
            },
            cron: "*/5 * * * *".to_owned(),
            timezone: "UTC".to_owned(),
            tasks: vec!["deps".to_owned()],
            next_fire_ms: Some(next),
            last_fired_ms: None,
            updated_at_ms: 0,
        }
    }

    #[tokio::test]
    async fn a_tick_fires_once_and_a_repeated_tick_fires_nothing() {
        let registry = Registry::default();
        let queue = Queue::default();
        registry
            .put_schedule(&every_five_minutes(TEN))
            .await
            .expect("put");

        let report = tick(&registry, &queue, TEN + 1_000).await.expect("tick");
        assert_eq!(report.queued.len(), 1);
        let again = tick(&registry, &queue, TEN + 2_000).await.expect("tick");
        assert_eq!(again, TickReport::default());
        assert_eq!(queue.taken.lock().expect("lock").len(), 1);
        let entry = registry.get(42).expect("entry");
        assert_eq!(entry.next_fire_ms, Some(TEN + 5 * MINUTE));
        assert_eq!(entry.last_fired_ms, Some(TEN));
    }

    #[tokio::test]
    async fn a_fire_the_queue_refused_is_given_back_for_the_next_tick() {
        let registry = Registry::default();
        registry
            .put_schedule(&every_five_minutes(TEN))
            .await
            .expect("put");
        let down = Queue {
            refuse: true,
            ..Queue::default()
        };
        assert!(tick(&registry, &down, TEN + 1_000).await.is_err());
        let given_back = registry.get(42).expect("entry");
        assert_eq!(given_back.next_fire_ms, Some(TEN));
        assert_eq!(given_back.last_fired_ms, None, "as it was");

        let up = Queue::default();
        let report = tick(&registry, &up, TEN + 2 * MINUTE).await.expect("tick");
        assert_eq!(report.queued.len(), 1);
        assert!(report.queued[0].ends_with("-202612021000"), "{report:?}");
    }
}
