//! [`InstallationStore`] and [`PolicyStore`] on SQLite: an installation's row, its
//! repositories and its policies, each keyed by the installation, so that removing it
//! removes everything kept for it in one transaction.

use super::db::{Database, sql_error};
use super::record::{decode, encode, select_records};
use rusqlite::{Connection, OptionalExtension, params};
use shared::ids::{InstallationId, RepoFullName};
use shared::policy::InstallationPolicy;
use shared::store::{InstallationRecord, InstallationStore, PolicyStore, StoreError};

/// Every name in `repos`, owned, for the blocking call. The rows are keyed by the name
/// lower-cased: GitHub treats `Octo-Org/Repo` and `octo-org/repo` as one repository.
fn names(repos: &[RepoFullName]) -> Vec<String> {
    repos.iter().map(|repo| repo.as_str().to_owned()).collect()
}

/// The installation's row, repositories and policies, all or nothing.
fn remove_everything_of(connection: &mut Connection, id: u64) -> Result<(), StoreError> {
    let transaction = connection.transaction().map_err(sql_error)?;
    transaction
        .execute(
            "DELETE FROM installation_repositories WHERE installation = ?1",
            [id],
        )
        .and_then(|_| transaction.execute("DELETE FROM policies WHERE installation = ?1", [id]))
        .and_then(|_| transaction.execute("DELETE FROM installations WHERE id = ?1", [id]))
        .map_err(sql_error)?;
    transaction.commit().map_err(sql_error)
}

/// Adds the repositories in one transaction. A later spelling of a repository replaces an
/// earlier one, as a rename that changed only the case would.
fn insert_repositories(
    connection: &mut Connection,
    id: u64,
    repos: &[String],
) -> Result<(), StoreError> {
    let transaction = connection.transaction().map_err(sql_error)?;
    {
        let mut insert = transaction
            .prepare_cached(
                "INSERT INTO installation_repositories (installation, repo_key, repo)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (installation, repo_key) DO UPDATE SET repo = excluded.repo",
            )
            .map_err(sql_error)?;
        for repo in repos {
            insert
                .execute(params![id, repo.to_ascii_lowercase(), repo])
                .map_err(sql_error)?;
        }
    }
    transaction.commit().map_err(sql_error)
}

/// Removes the repositories, however they are spelled, in one transaction.
fn delete_repositories(
    connection: &mut Connection,
    id: u64,
    repos: &[String],
) -> Result<(), StoreError> {
    let transaction = connection.transaction().map_err(sql_error)?;
    {
        let mut delete = transaction
            .prepare_cached(
                "DELETE FROM installation_repositories WHERE installation = ?1 AND repo_key = ?2",
            )
            .map_err(sql_error)?;
        for repo in repos {
            delete
                .execute(params![id, repo.to_ascii_lowercase()])
                .map_err(sql_error)?;
        }
    }
    transaction.commit().map_err(sql_error)
}

impl InstallationStore for Database {
    async fn upsert_installation(
        &self,
        installation: &InstallationRecord,
    ) -> Result<(), StoreError> {
        let id = installation.id.0;
        let record = encode("installation record", installation)?;
        self.call(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO installations (id, record) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                )
                .and_then(|mut upsert| upsert.execute(params![id, record]))
                .map(|_| ())
                .map_err(sql_error)
        })
        .await
    }

    async fn remove_installation(&self, id: InstallationId) -> Result<(), StoreError> {
        self.call(move |connection| remove_everything_of(connection, id.0))
            .await
    }

    async fn installation(
        &self,
        id: InstallationId,
    ) -> Result<Option<InstallationRecord>, StoreError> {
        let record: Option<String> = self
            .call(move |connection| {
                connection
                    .prepare_cached("SELECT record FROM installations WHERE id = ?1")
                    .and_then(|mut select| select.query_row([id.0], |row| row.get(0)).optional())
                    .map_err(sql_error)
            })
            .await?;
        record
            .map(|json| decode(&format!("installation record {id}"), &json))
            .transpose()
    }

    async fn add_repositories(
        &self,
        id: InstallationId,
        repos: &[RepoFullName],
    ) -> Result<(), StoreError> {
        let repos = names(repos);
        self.call(move |connection| insert_repositories(connection, id.0, &repos))
            .await
    }

    async fn remove_repositories(
        &self,
        id: InstallationId,
        repos: &[RepoFullName],
    ) -> Result<(), StoreError> {
        let repos = names(repos);
        self.call(move |connection| delete_repositories(connection, id.0, &repos))
            .await
    }

    /// In lower-cased name order, each as GitHub last spelled it.
    async fn repositories(&self, id: InstallationId) -> Result<Vec<RepoFullName>, StoreError> {
        let names: Vec<String> = self
            .call(move |connection| {
                let mut select = connection
                    .prepare_cached(
                        "SELECT repo FROM installation_repositories WHERE installation = ?1
                         ORDER BY repo_key",
                    )
                    .map_err(sql_error)?;
                let rows = select
                    .query_map([id.0], |row| row.get(0))
                    .map_err(sql_error)?;
                rows.collect::<Result<_, _>>().map_err(sql_error)
            })
            .await?;
        Ok(names.into_iter().map(RepoFullName::new).collect())
    }
}

impl PolicyStore for Database {
    /// In name order.
    async fn policies(
        &self,
        installation: InstallationId,
    ) -> Result<Vec<InstallationPolicy>, StoreError> {
        self.call(move |connection| {
            select_records(
                connection,
                "installation policy",
                "SELECT record FROM policies WHERE installation = ?1 ORDER BY name",
                [installation.0],
            )
        })
        .await
    }

    /// Replaces the installation's policy of the same name, if any.
    async fn put_policy(&self, policy: &InstallationPolicy) -> Result<(), StoreError> {
        let installation = policy.installation.0;
        let name = policy.name.clone();
        let record = encode("installation policy", policy)?;
        self.call(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO policies (installation, name, record) VALUES (?1, ?2, ?3)
                     ON CONFLICT (installation, name) DO UPDATE SET record = excluded.record",
                )
                .and_then(|mut upsert| upsert.execute(params![installation, name, record]))
                .map(|_| ())
                .map_err(sql_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;
    use shared::policy::TriggerKind;

    fn installation(id: u64, account: &str, suspended: bool) -> InstallationRecord {
        InstallationRecord {
            id: InstallationId(id),
            account: account.to_owned(),
            repository_selection: Some("selected".to_owned()),
            suspended,
            updated_at_ms: 1_000,
        }
    }

    fn policy(installation: u64, name: &str, pattern: &str) -> InstallationPolicy {
        InstallationPolicy {
            installation: InstallationId(installation),
            name: name.to_owned(),
            repo_pattern: pattern.to_owned(),
            allowed_triggers: Some(vec![TriggerKind::Comment]),
            allowed_users: None,
            require_approval: Some(true),
            max_runtime_seconds: Some(1_800),
            allow_hosted_model: None,
            user_jobs_per_hour: Some(5),
            installation_jobs_per_hour: None,
        }
    }

    fn repos(names: &[&str]) -> Vec<RepoFullName> {
        names.iter().map(|name| RepoFullName::new(*name)).collect()
    }

    #[tokio::test]
    async fn removing_an_installation_removes_its_repositories_and_policies() {
        let (_dir, db) = database();
        let (id, neighbour) = (InstallationId(7), InstallationId(8));
        assert_eq!(db.installation(id).await, Ok(None));
        db.upsert_installation(&installation(7, "octo-org", false))
            .await
            .expect("upsert");
        let suspended = installation(7, "octo-org", true);
        db.upsert_installation(&suspended).await.expect("upsert");
        assert_eq!(db.installation(id).await, Ok(Some(suspended)));

        db.upsert_installation(&installation(8, "neighbour", false))
            .await
            .expect("upsert");
        for target in [id, neighbour] {
            db.add_repositories(target, &repos(&["octo-org/a", "octo-org/b"]))
                .await
                .expect("add");
            db.put_policy(&policy(target.0, "default", "*/*"))
                .await
                .expect("policy");
        }

        db.remove_installation(id).await.expect("remove");
        assert_eq!(db.installation(id).await, Ok(None));
        assert_eq!(db.repositories(id).await, Ok(Vec::new()));
        assert_eq!(db.policies(id).await, Ok(Vec::new()));
        db.remove_installation(id).await.expect("removing twice");

        assert!(db.installation(neighbour).await.expect("read").is_some());
        assert_eq!(db.repositories(neighbour).await.expect("read").len(), 2);
        assert_eq!(db.policies(neighbour).await.expect("read").len(), 1);
    }

    #[tokio::test]
    async fn repositories_are_added_and_removed_whatever_their_case() {
        let (_dir, db) = database();
        let id = InstallationId(9);
        assert_eq!(db.repositories(id).await, Ok(Vec::new()));
        db.add_repositories(id, &repos(&["octo-org/b", "octo-org/a", "octo-org/a"]))
            .await
            .expect("add");
        db.add_repositories(id, &repos(&["octo-org/c", "Octo-Org/C"]))
            .await
            .expect("add more");
        assert_eq!(
            db.repositories(id).await,
            Ok(repos(&["octo-org/a", "octo-org/b", "Octo-Org/C"]))
        );
        db.remove_repositories(id, &repos(&["Octo-Org/B", "octo-org/never-added"]))
            .await
            .expect("remove");
        assert_eq!(
            db.repositories(id).await,
            Ok(repos(&["octo-org/a", "Octo-Org/C"]))
        );
        assert_eq!(db.repositories(InstallationId(10)).await, Ok(Vec::new()));
    }

    #[tokio::test]
    async fn policies_are_listed_by_name_and_replaced_by_name() {
        let (_dir, db) = database();
        let id = InstallationId(10);
        let org = policy(10, "org", "octo-org/*");
        let mut everything = policy(10, "everything", "*/*");
        everything.allowed_triggers = None;
        everything.allowed_users = Some(vec!["octocat".to_owned()]);
        db.put_policy(&org).await.expect("put");
        db.put_policy(&everything).await.expect("put");
        db.put_policy(&policy(11, "other-installation", "*/*"))
            .await
            .expect("put");
        assert_eq!(
            db.policies(id).await,
            Ok(vec![everything.clone(), org.clone()])
        );

        let mut stricter = org.clone();
        stricter.require_approval = Some(false);
        stricter.installation_jobs_per_hour = Some(20);
        db.put_policy(&stricter).await.expect("replace");
        assert_eq!(db.policies(id).await, Ok(vec![everything, stricter]));
    }
}
