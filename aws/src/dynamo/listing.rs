//! The dashboard's listings on the table: a page of jobs and a page of the audit log,
//! newest first, and every installation. Each is a `Query` of one partition of the
//! by-time index (`GSI2`, [`keys::TIME_INDEX`]), never a `Scan` of the table.
//!
//! What a page costs: the query reads the index from the cursor down, in time order; the
//! time filters bound it (the newest end in the key condition, the oldest by stopping
//! there), and the other filters (repository, task, status, requester; actor, decision)
//! are checked on what it reads — as DynamoDB's own filter expressions would be, which
//! read the same items. So a page reads its matching items and every other item between
//! them: the newest jobs of a busy filter cost about one read unit per item (a job item
//! is under 4 KB), eventually consistent reads half that. A filter that matches rarely
//! stops after [`READ_BUDGET`] items with a cursor where it stopped, so no page reads
//! more than that; the next page reads on from there.

use super::keys::{self, GSI2PK, GSI2SK};
use super::{DynamoStore, Item, decode, string, string_attribute, unavailable};
use shared::job::JobRecord;
use shared::ports::{
    AuditEntry, AuditFilter, AuditPage, InstallationRecord, JobFilter, JobPage, StoreError,
};

/// The most jobs or entries one page holds, whatever is asked (as on one machine).
pub const MAX_PAGE: usize = 200;
/// The most items one page reads from the index: a rare filter's page stops there.
pub const READ_BUDGET: usize = 1_000;
/// Items asked of each `Query` call.
const QUERY_BATCH: i32 = 100;

/// A page's items with their sort keys, and where the next page starts.
struct Page<T> {
    items: Vec<T>,
    next: Option<String>,
}

/// Which part of a by-time partition a page reads.
struct Window<'a> {
    partition: &'static str,
    since_ms: Option<u64>,
    until_ms: Option<u64>,
    after: Option<&'a str>,
}

impl DynamoStore {
    /// The newest items of the window that `pick` keeps, at most `limit` (and
    /// [`MAX_PAGE`]), reading at most [`READ_BUDGET`] items.
    async fn time_page<T>(
        &self,
        what: &str,
        window: Window<'_>,
        limit: usize,
        pick: impl Fn(&Item) -> Result<Option<T>, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let mut upper = window.until_ms.map(keys::time_bound);
        if let Some(after) = window.after {
            if !keys::is_time_sk(after) {
                return Err(StoreError::Corrupt(format!("not a page cursor: {after:?}")));
            }
            if upper.as_deref().is_none_or(|until| after < until) {
                upper = Some(after.to_owned());
            }
        }
        let lower = window.since_ms.map(keys::time_bound);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::TIME_INDEX)
            .expression_attribute_names("#pk", GSI2PK)
            .expression_attribute_values(":pk", string(window.partition))
            .scan_index_forward(false)
            .limit(QUERY_BATCH);
        query = match upper {
            Some(upper) => query
                .key_condition_expression("#pk = :pk AND #sk < :upper")
                .expression_attribute_names("#sk", GSI2SK)
                .expression_attribute_values(":upper", string(upper)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        let mut items: Vec<(String, T)> = Vec::new();
        let mut read = 0;
        let mut start = None;
        let next = 'pages: loop {
            let output = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| unavailable(what, &err))?;
            for item in output.items.unwrap_or_default() {
                let sk = string_attribute(&item, GSI2SK, what)?;
                if lower.as_deref().is_some_and(|lower| sk < lower) {
                    break 'pages None;
                }
                if let Some(value) = pick(&item)? {
                    if items.len() == limit {
                        // Another follows: the page ends at its last item.
                        break 'pages items.last().map(|(sk, _)| sk.clone());
                    }
                    items.push((sk.to_owned(), value));
                }
                read += 1;
                if read >= READ_BUDGET {
                    // The next page reads on after the last item read.
                    break 'pages Some(sk.to_owned());
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break None;
            }
        };
        Ok(Page {
            items: items.into_iter().map(|(_, value)| value).collect(),
            next,
        })
    }

    /// The jobs `filter` selects, newest first, at most `limit`, after the cursor `after`.
    pub async fn job_page(
        &self,
        filter: &JobFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<JobPage, StoreError> {
        if filter.repos.as_ref().is_some_and(Vec::is_empty) {
            return Ok(JobPage {
                jobs: Vec::new(),
                next: None,
            });
        }
        let window = Window {
            partition: keys::JOBS_LIST_PK,
            since_ms: filter.since_ms,
            until_ms: filter.until_ms,
            after,
        };
        let page = self
            .time_page("listing jobs", window, limit, |item| {
                let job: JobRecord = decode(item, "job record")?;
                Ok(filter.matches(&job).then_some(job))
            })
            .await?;
        Ok(JobPage {
            jobs: page.items,
            next: page.next,
        })
    }

    /// The audit entries `filter` selects, every installation's, newest first, at most
    /// `limit`, after the cursor `after`.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, StoreError> {
        if filter.repos.as_ref().is_some_and(Vec::is_empty) {
            return Ok(AuditPage {
                entries: Vec::new(),
                next: None,
            });
        }
        let window = Window {
            partition: keys::AUDIT_LIST_PK,
            since_ms: filter.since_ms,
            until_ms: filter.until_ms,
            after,
        };
        let page = self
            .time_page("reading the audit log", window, limit, |item| {
                let entry: AuditEntry = decode(item, "audit entry")?;
                Ok(filter.matches(&entry).then_some(entry))
            })
            .await?;
        Ok(AuditPage {
            entries: page.items,
            next: page.next,
        })
    }

    /// Every installation, by id.
    pub async fn all_installations(&self) -> Result<Vec<InstallationRecord>, StoreError> {
        let query = self
            .partition_query("#pk = :pk", GSI2PK, keys::INSTALLATIONS_LIST_PK.to_owned())
            .index_name(keys::TIME_INDEX);
        let items = self
            .query_items("listing installations", query, None)
            .await?;
        items
            .iter()
            .map(|item| decode(item, "installation record"))
            .collect()
    }
}
