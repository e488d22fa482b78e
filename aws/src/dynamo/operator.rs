//! What the operator's `ota --stack` and the dashboard ask of the table beyond the ports:
//! the newest jobs and jobs by an id prefix (`Scan`s of the whole table, fine for an
//! operator's occasional look and never called by the functions, whose roles are not
//! granted `Scan`), a job's audit entries, and replacing an installation's policies.

use super::keys::{self, GSI2PK, GSI2SK, PK, SK};
use super::{DynamoStore, Item, decode, key, string, string_attribute, unavailable};
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use shared::ids::InstallationId;
use shared::job::{JobId, JobRecord, JobStatus};
use shared::policy::InstallationPolicy;
use shared::ports::{AuditEntry, InstallationRecord, JobStore, PolicyStore, StoreError};

/// What [`DynamoStore::index_by_time`] put into the by-time index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reindexed {
    pub jobs: usize,
    pub audit_entries: usize,
    pub installations: usize,
}

/// How long before a job's creation its audit entries may be stamped: the decision that
/// made it is written by another process, whose clock may be a little behind.
pub const AUDIT_LEEWAY_MS: u64 = 60_000;

/// How many jobs [`DynamoStore::jobs_by_prefix`] returns at most, as the local store does:
/// a prefix names one job, a handful when it is ambiguous.
pub const MAX_PREFIX_MATCHES: usize = 50;

impl DynamoStore {
    /// Every item a scan returns, following pages.
    async fn scan_items(
        &self,
        what: &str,
        scan: ScanFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = scan
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| unavailable(what, &err))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// A scan of the jobs' own items (not their task tokens), with `filter` added.
    fn job_scan(&self, filter: &str) -> ScanFluentBuilder {
        self.client
            .scan()
            .table_name(&self.table)
            .filter_expression(format!("#sk = :job_sk{filter}"))
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":job_sk", string(keys::JOB_SK))
            .consistent_read(true)
    }

    /// The newest `limit` jobs, of `status` when given, newest first.
    pub async fn recent_jobs(
        &self,
        limit: usize,
        status: Option<JobStatus>,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let scan = match status {
            None => self.job_scan(""),
            Some(status) => self
                .job_scan(" AND #status = :status")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", string(status.as_str())),
        };
        let items = self.scan_items("listing jobs", scan).await?;
        let mut jobs = items
            .iter()
            .map(|item| decode::<JobRecord>(item, "job record"))
            .collect::<Result<Vec<_>, _>>()?;
        sort_newest_first(&mut jobs);
        jobs.truncate(limit);
        Ok(jobs)
    }

    /// The jobs whose id starts with `prefix` (trimmed, lower-cased), newest first, at most
    /// [`MAX_PREFIX_MATCHES`]. A whole id is one read; a shorter prefix scans the table.
    pub async fn jobs_by_prefix(&self, prefix: &str) -> Result<Vec<JobRecord>, StoreError> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.is_empty() {
            return Ok(Vec::new());
        }
        if let Ok(id) = JobId::parse(&prefix)
            && let Some(job) = self.job(&id).await?
        {
            return Ok(vec![job]);
        }
        let scan = self
            .job_scan(" AND begins_with(#pk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":prefix", string(keys::job_pk_prefix(&prefix)));
        let items = self.scan_items("finding jobs by id", scan).await?;
        let mut jobs = items
            .iter()
            .map(|item| decode::<JobRecord>(item, "job record"))
            .collect::<Result<Vec<_>, _>>()?;
        sort_newest_first(&mut jobs);
        jobs.truncate(MAX_PREFIX_MATCHES);
        Ok(jobs)
    }

    /// The audit entries about `job` in its installation's log, oldest first. Only the
    /// entries from [`AUDIT_LEEWAY_MS`] before the job's creation on are read: the
    /// decision that made it and everything done to it after.
    pub async fn audit_for_job(&self, job: &JobRecord) -> Result<Vec<AuditEntry>, StoreError> {
        let since = keys::time_bound(job.created_at_ms.saturating_sub(AUDIT_LEEWAY_MS));
        let installation = job.installation;
        let job = &job.id;
        let query = self
            .partition_query(
                "#pk = :pk AND #sk >= :since",
                PK,
                keys::audit_pk(installation),
            )
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":since", string(since))
            .filter_expression("contains(#record, :job)")
            .expression_attribute_names("#record", super::RECORD)
            .expression_attribute_values(":job", string(job.as_str()))
            .consistent_read(true);
        let items = self
            .query_items("reading the job's audit entries", query, None)
            .await?;
        let entries = items
            .iter()
            .map(|item| decode::<AuditEntry>(item, "audit entry"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(entries
            .into_iter()
            .filter(|entry| entry.job.as_ref() == Some(job))
            .collect())
    }

    /// Puts the jobs, audit entries and installations written before the by-time index
    /// existed (a stack updated from an older version) into it, so the dashboard lists
    /// them. A `Scan` of the whole table, once after such an update; each item only gains
    /// the index's two attributes (`UpdateItem`, only while it exists), so a writer racing
    /// with it loses nothing, and running it again finds nothing left to do.
    pub async fn index_by_time(&self) -> Result<Reindexed, StoreError> {
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(
                "attribute_not_exists(#gsi2pk) AND #type IN (:job, :audit, :installation)",
            )
            .expression_attribute_names("#gsi2pk", GSI2PK)
            .expression_attribute_names("#type", super::TYPE)
            .expression_attribute_values(":job", string("job"))
            .expression_attribute_values(":audit", string("audit"))
            .expression_attribute_values(":installation", string("installation"));
        let items = self.scan_items("finding items to index", scan).await?;
        let mut done = Reindexed::default();
        for item in &items {
            let what = "an item to index";
            let (partition, sort) = match string_attribute(item, super::TYPE, what)? {
                "job" => {
                    let job: JobRecord = decode(item, "job record")?;
                    done.jobs += 1;
                    (
                        keys::JOBS_LIST_PK,
                        keys::thread_sk(job.created_at_ms, &job.id),
                    )
                }
                "audit" => {
                    done.audit_entries += 1;
                    (
                        keys::AUDIT_LIST_PK,
                        string_attribute(item, SK, what)?.to_owned(),
                    )
                }
                _ => {
                    let installation: InstallationRecord = decode(item, "installation record")?;
                    done.installations += 1;
                    (
                        keys::INSTALLATIONS_LIST_PK,
                        keys::installation_list_sk(installation.id),
                    )
                }
            };
            let pk = string_attribute(item, PK, what)?.to_owned();
            let sk = string_attribute(item, SK, what)?.to_owned();
            let sent = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(pk, sk)))
                .update_expression("SET #gsi2pk = :partition, #gsi2sk = :sort")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#gsi2pk", GSI2PK)
                .expression_attribute_names("#gsi2sk", GSI2SK)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":partition", string(partition))
                .expression_attribute_values(":sort", string(sort))
                .send()
                .await;
            match sent {
                Ok(_) => {}
                // Removed meanwhile (an uninstalled installation): nothing to list.
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|err| err.is_conditional_check_failed_exception()) => {}
                Err(err) => return Err(unavailable("indexing an item", &err)),
            }
        }
        Ok(done)
    }

    /// Makes the installation's policies exactly `policies`: stores each, then removes the
    /// others. Returns the names removed.
    pub async fn replace_policies(
        &self,
        installation: InstallationId,
        policies: &[InstallationPolicy],
    ) -> Result<Vec<String>, StoreError> {
        let before = self.policies(installation).await?;
        for policy in policies {
            self.put_policy(policy).await?;
        }
        let mut removed = Vec::new();
        for old in before {
            if !policies.iter().any(|policy| policy.name == old.name) {
                self.remove_policy(installation, &old.name).await?;
                removed.push(old.name);
            }
        }
        Ok(removed)
    }

    /// Removes the installation's policy `name`; removing one that is not there is fine.
    pub async fn remove_policy(
        &self,
        installation: InstallationId,
        name: &str,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::installation_pk(installation),
                keys::policy_sk(name),
            )))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| unavailable("removing a policy", &err))
    }
}

fn sort_newest_first(jobs: &mut [JobRecord]) {
    jobs.sort_by(|a, b| {
        b.created_at_ms
            .cmp(&a.created_at_ms)
            .then_with(|| b.id.as_str().cmp(a.id.as_str()))
    });
}
