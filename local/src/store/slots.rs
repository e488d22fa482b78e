//! [`SlotStore`] on SQLite: the runner slots are one row holding their JSON and a version
//! number. A write names the version it read (0: none stored yet) and changes nothing if
//! another writer got there first, so of two dispatches racing for the last slot one wins
//! and the other reads again.

use super::db::{Database, sql_error};
use super::record::{decode, encode};
use rusqlite::{OptionalExtension, params};
use shared::dispatch::{Slots, VersionedSlots};
use shared::ports::SlotStore;
use shared::ports::StoreError;

impl SlotStore for Database {
    async fn slots(&self) -> Result<VersionedSlots, StoreError> {
        let stored: Option<(String, u64)> = self
            .call(|connection| {
                connection
                    .prepare_cached("SELECT record, version FROM runner_slots WHERE id = 1")
                    .and_then(|mut select| {
                        select
                            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                            .optional()
                    })
                    .map_err(sql_error)
            })
            .await?;
        let Some((record, version)) = stored else {
            return Ok(VersionedSlots::default());
        };
        Ok(VersionedSlots {
            slots: decode("runner slots", &record)?,
            version,
        })
    }

    async fn put_slots(&self, slots: &Slots, expected: u64) -> Result<(), StoreError> {
        let record = encode("runner slots", slots)?;
        let next = expected.saturating_add(1);
        let written = self
            .call(move |connection| {
                let sql = if expected == 0 {
                    "INSERT INTO runner_slots (id, version, record) VALUES (1, ?1, ?2)
                     ON CONFLICT (id) DO NOTHING"
                } else {
                    "UPDATE runner_slots SET version = ?1, record = ?2
                     WHERE id = 1 AND version = ?3"
                };
                let mut write = connection.prepare_cached(sql).map_err(sql_error)?;
                let written = if expected == 0 {
                    write.execute(params![next, record])
                } else {
                    write.execute(params![next, record, expected])
                };
                written.map_err(sql_error)
            })
            .await?;
        if written == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict { current: None })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;
    use e2e::store_contract::job;
    use shared::dispatch::capacity::{acquire, release};
    use shared::dispatch::{Admission, Endpoints, Lease, Limits, SlotRequest};
    use shared::ids::InstallationId;
    use shared::job::JobId;
    use shared::ports::EndpointKind;

    fn slots_of(job_number: u64) -> Slots {
        Slots {
            leases: vec![Lease {
                job: JobId::parse(&format!("j{job_number:020}")).expect("job id"),
                installation: InstallationId(42),
                endpoint: EndpointKind::SelfHosted,
                attempt: 1,
                expires_at_ms: 10_000,
            }],
            waiting: Vec::new(),
            gpu_idle_since_ms: None,
        }
    }

    #[tokio::test]
    async fn a_write_needs_the_version_it_read() {
        let (_dir, db) = database();
        assert_eq!(db.slots().await, Ok(VersionedSlots::default()));

        db.put_slots(&slots_of(1), 0).await.expect("first write");
        // Another writer that also read "nothing stored" loses.
        assert_eq!(
            db.put_slots(&slots_of(2), 0).await,
            Err(StoreError::Conflict { current: None })
        );
        assert_eq!(
            db.slots().await,
            Ok(VersionedSlots {
                slots: slots_of(1),
                version: 1
            })
        );
        db.put_slots(&slots_of(3), 1).await.expect("second write");
        for stale in [1, 5] {
            assert_eq!(
                db.put_slots(&slots_of(4), stale).await,
                Err(StoreError::Conflict { current: None }),
                "version {stale}"
            );
        }
        assert_eq!(
            db.slots().await,
            Ok(VersionedSlots {
                slots: slots_of(3),
                version: 2
            })
        );
    }

    #[tokio::test]
    async fn racing_dispatches_never_take_more_slots_than_there_are() {
        let (_dir, db) = database();
        let limits = Limits {
            gpu_slots: 3,
            hosted_slots: 0,
            per_installation: 100,
        };
        let endpoints = Endpoints {
            self_hosted: Some("http://gpu:11434".to_owned()),
            hosted: None,
            self_hosted_down: None,
        };
        let dispatches: Vec<_> = (0..10u64)
            .map(|n| {
                let db = db.clone();
                let endpoints = endpoints.clone();
                let request = SlotRequest {
                    job: job(100 + n).id,
                    installation: InstallationId(n),
                    attempt: 1,
                    allow_hosted: false,
                    now_ms: 1_000,
                    timeouts: shared::job::Timeouts::DEFAULT,
                };
                tokio::spawn(async move { acquire(&db, &request, &limits, &endpoints).await })
            })
            .collect();
        let mut admitted = 0;
        for dispatch in dispatches {
            if let Admission::Admitted(_) = dispatch.await.expect("task").expect("answer") {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 3);
        let stored = db.slots().await.expect("read");
        assert_eq!(stored.slots.leases.len(), 3);

        let leaving = stored.slots.leases[0].job.clone();
        release(&db, &leaving, 1).await.expect("release");
        assert_eq!(db.slots().await.expect("read").slots.leases.len(), 2);
    }
}
