//! [`AuditLog`] on DynamoDB: one partition per installation, entries sorted by time.
//! Append-only: an entry is written only where none is, and its key includes a digest of
//! the entry, so appending the same entry again (a redelivered batch) leaves one copy and
//! nothing is ever overwritten.

use super::keys::{self, GSI2PK, GSI2SK, PK};
use super::{DynamoStore, RECORD, TYPE, conditional_failure, decode, key, string};
use sha2::{Digest, Sha256};
use shared::ids::InstallationId;
use shared::ports::{AuditEntry, AuditLog, StoreError};

/// Hex digits of the entry's SHA-256 in its key: 64 bits tell apart the entries of one
/// delivery in one millisecond with room to spare.
const DIGEST_HEX_LEN: usize = 16;

impl AuditLog for DynamoStore {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let json = serde_json::to_string(entry).map_err(|err| {
            StoreError::Corrupt(format!("audit entry could not be encoded: {err}"))
        })?;
        let digest = hex::encode(Sha256::digest(&json));
        let sk = keys::audit_sk(
            entry.at_ms,
            &entry.delivery,
            digest.get(..DIGEST_HEX_LEN).unwrap_or(&digest),
        );
        let mut item = key(keys::audit_pk(entry.installation), sk.clone());
        item.insert(GSI2PK.to_owned(), string(keys::AUDIT_LIST_PK));
        item.insert(GSI2SK.to_owned(), string(sk));
        item.insert(TYPE.to_owned(), string("audit"));
        item.insert(RECORD.to_owned(), string(json));
        let sent = self
            .put_request(item)
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        if let Err(err) = sent {
            // Failed on its condition: the same entry, appended before (the key says so).
            conditional_failure("appending to the audit log", err)?;
        }
        Ok(())
    }

    async fn recent(
        &self,
        installation: InstallationId,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let query = self.partition_query("#pk = :pk", PK, keys::audit_pk(installation));
        let items = self
            .newest_items("reading the audit log", query, limit)
            .await?;
        items
            .iter()
            .map(|item| decode(item, "audit entry"))
            .collect()
    }
}
