//! [`InstallationStore`] and [`PolicyStore`] on DynamoDB: an installation's own item, its
//! repositories and its policies share the partition `INST#<id>`, so that everything kept
//! for an installation is one query away and goes with it when it is removed.

use super::keys::{self, GSI2PK, GSI2SK, PK, SK};
use super::{
    DynamoStore, Item, RECORD, TYPE, decode, encode, key, string, string_attribute, unavailable,
};
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use shared::ids::{InstallationId, RepoFullName};
use shared::policy::InstallationPolicy;
use shared::ports::{InstallationRecord, InstallationStore, PolicyStore, StoreError};
use std::collections::HashMap;

/// The repository's name as GitHub gave it (the sort key holds it lower-cased).
const REPO: &str = "repo";

impl DynamoStore {
    /// The items of an installation's partition whose sort key starts with `prefix`.
    async fn installation_items(
        &self,
        what: &str,
        id: InstallationId,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .partition_query(
                "#pk = :pk AND begins_with(#sk, :prefix)",
                PK,
                keys::installation_pk(id),
            )
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":prefix", string(prefix))
            .consistent_read(true);
        self.query_items(what, query, None).await
    }

    /// One write request per distinct repository: a batch may not name an item twice.
    fn repository_writes(
        id: InstallationId,
        repos: &[RepoFullName],
        write: impl Fn(Item, &RepoFullName) -> Result<WriteRequest, StoreError>,
    ) -> Result<Vec<WriteRequest>, StoreError> {
        let mut distinct = HashMap::new();
        for repo in repos {
            distinct.entry(keys::repo_sk(repo)).or_insert(repo);
        }
        distinct
            .into_iter()
            .map(|(sk, repo)| write(key(keys::installation_pk(id), sk), repo))
            .collect()
    }
}

fn delete(key: Item) -> Result<WriteRequest, StoreError> {
    let request = DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map_err(|err| StoreError::Unavailable(format!("building a delete request: {err}")))?;
    Ok(WriteRequest::builder().delete_request(request).build())
}

fn put(item: Item) -> Result<WriteRequest, StoreError> {
    let request = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|err| StoreError::Unavailable(format!("building a put request: {err}")))?;
    Ok(WriteRequest::builder().put_request(request).build())
}

impl InstallationStore for DynamoStore {
    async fn upsert_installation(
        &self,
        installation: &InstallationRecord,
    ) -> Result<(), StoreError> {
        let mut item = key(
            keys::installation_pk(installation.id),
            keys::INSTALLATION_SK,
        );
        item.insert(TYPE.to_owned(), string("installation"));
        item.insert(GSI2PK.to_owned(), string(keys::INSTALLATIONS_LIST_PK));
        item.insert(
            GSI2SK.to_owned(),
            string(keys::installation_list_sk(installation.id)),
        );
        item.insert(
            RECORD.to_owned(),
            encode("installation record", installation)?,
        );
        self.put_request(item)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| unavailable("storing an installation", &err))
    }

    async fn remove_installation(&self, id: InstallationId) -> Result<(), StoreError> {
        // Every item of the partition (the installation's own, its repositories and
        // policies); deleting them in any order is safe to repeat if this fails halfway.
        let query = self
            .partition_query("#pk = :pk", PK, keys::installation_pk(id))
            .expression_attribute_names("#sk", SK)
            .projection_expression("#pk, #sk")
            .consistent_read(true);
        let items = self
            .query_items("listing an installation's items", query, None)
            .await?;
        let deletes = items
            .into_iter()
            .map(|item| {
                let pk = string_attribute(&item, PK, "installation item")?.to_owned();
                let sk = string_attribute(&item, SK, "installation item")?.to_owned();
                delete(key(pk, sk))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write("removing an installation", deletes).await
    }

    async fn installation(
        &self,
        id: InstallationId,
    ) -> Result<Option<InstallationRecord>, StoreError> {
        let output = self
            .get_request(key(keys::installation_pk(id), keys::INSTALLATION_SK))
            .send()
            .await
            .map_err(|err| unavailable("reading an installation", &err))?;
        output
            .item
            .map(|item| decode(&item, "installation record"))
            .transpose()
    }

    async fn add_repositories(
        &self,
        id: InstallationId,
        repos: &[RepoFullName],
    ) -> Result<(), StoreError> {
        let puts = Self::repository_writes(id, repos, |mut item, repo| {
            item.insert(TYPE.to_owned(), string("repository"));
            item.insert(REPO.to_owned(), string(repo.as_str()));
            put(item)
        })?;
        self.batch_write("adding repositories", puts).await
    }

    async fn remove_repositories(
        &self,
        id: InstallationId,
        repos: &[RepoFullName],
    ) -> Result<(), StoreError> {
        let deletes = Self::repository_writes(id, repos, |item, _| delete(item))?;
        self.batch_write("removing repositories", deletes).await
    }

    async fn repositories(&self, id: InstallationId) -> Result<Vec<RepoFullName>, StoreError> {
        let items = self
            .installation_items("listing repositories", id, keys::REPO_PREFIX)
            .await?;
        items
            .iter()
            .map(|item| string_attribute(item, REPO, "repository item").map(RepoFullName::new))
            .collect()
    }
}

impl PolicyStore for DynamoStore {
    async fn policies(
        &self,
        installation: InstallationId,
    ) -> Result<Vec<InstallationPolicy>, StoreError> {
        let items = self
            .installation_items("listing policies", installation, keys::POLICY_PREFIX)
            .await?;
        items
            .iter()
            .map(|item| decode(item, "installation policy"))
            .collect()
    }

    async fn put_policy(&self, policy: &InstallationPolicy) -> Result<(), StoreError> {
        let mut item = key(
            keys::installation_pk(policy.installation),
            keys::policy_sk(&policy.name),
        );
        item.insert(TYPE.to_owned(), string("policy"));
        item.insert(RECORD.to_owned(), encode("installation policy", policy)?);
        self.put_request(item)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| unavailable("storing a policy", &err))
    }
}
