//! [`InstallationStore`] and [`PolicyStore`] on SQLite: an installation's row, its
//! repositories and its policies, each keyed by the installation, so that removing it
//! removes everything kept for it in one transaction.

use super::db::{Database, sql_error};
use super::record::{encode, select_record, select_records};
use rusqlite::{Connection, params};
use shared::ids::{InstallationId, RepoFullName};
use shared::policy::InstallationPolicy;
use shared::ports::{InstallationRecord, InstallationStore, PolicyStore, StoreError};

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
        self.call(move |connection| {
            let what = format!("installation record {id}");
            let sql = "SELECT record FROM installations WHERE id = ?1";
            select_record(connection, &what, sql, [id.0])
        })
        .await
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

impl Database {
    /// Every installation, by id.
    pub async fn all_installations(&self) -> Result<Vec<InstallationRecord>, StoreError> {
        self.call(|connection| {
            select_records(
                connection,
                "installation record",
                "SELECT record FROM installations ORDER BY id",
                [],
            )
        })
        .await
    }

    /// Makes the installation's policies exactly `policies`, in one transaction.
    pub async fn replace_policies(
        &self,
        id: InstallationId,
        policies: &[InstallationPolicy],
    ) -> Result<(), StoreError> {
        let rows = policies
            .iter()
            .map(|policy| Ok((policy.name.clone(), encode("installation policy", policy)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.call(move |connection| {
            let transaction = connection.transaction().map_err(sql_error)?;
            transaction
                .execute("DELETE FROM policies WHERE installation = ?1", [id.0])
                .map_err(sql_error)?;
            {
                let mut insert = transaction
                    .prepare_cached(
                        "INSERT INTO policies (installation, name, record) VALUES (?1, ?2, ?3)",
                    )
                    .map_err(sql_error)?;
                for (name, record) in &rows {
                    insert
                        .execute(params![id.0, name, record])
                        .map_err(sql_error)?;
                }
            }
            transaction.commit().map_err(sql_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;
    use e2e::store_contract::{self, repos};

    #[tokio::test]
    async fn installations_keep_the_installation_store_contract() {
        let (_dir, db) = database();
        store_contract::installation_store_contract(&db).await;
    }

    /// DynamoDB keeps the first spelling of one call's duplicates; SQLite the last.
    #[tokio::test]
    async fn a_repository_added_in_two_cases_at_once_keeps_the_later_spelling() {
        let (_dir, db) = database();
        let id = InstallationId(9);
        db.add_repositories(id, &repos(&["octo-org/c", "Octo-Org/C"]))
            .await
            .expect("add");
        assert_eq!(db.repositories(id).await, Ok(repos(&["Octo-Org/C"])));
    }
}
