//! The single-table key layout: which partition and sort key each kind of item lives
//! under. The one place that spells the key strings; `docs/storage.md` describes the same
//! layout for people, and the tests below pin it.

use shared::ids::{InstallationId, RepoFullName, RepoId};
use shared::job::{JobId, Wait};

/// The table's partition key attribute.
pub(crate) const PK: &str = "PK";
/// The table's sort key attribute.
pub(crate) const SK: &str = "SK";
/// The partition key of the jobs-by-thread index.
pub(crate) const GSI1PK: &str = "GSI1PK";
/// The sort key of the jobs-by-thread index: creation time, then id.
pub(crate) const GSI1SK: &str = "GSI1SK";
/// The index that lists the jobs of one issue or pull request, newest first.
pub(crate) const THREAD_INDEX: &str = "GSI1";
/// The partition key of the by-time index.
pub(crate) const GSI2PK: &str = "GSI2PK";
/// The sort key of the by-time index: a time (or an id) zero-padded, then what makes it
/// unique.
pub(crate) const GSI2SK: &str = "GSI2SK";
/// The index that lists every job, every audit entry and every installation, in one
/// partition each ([`JOBS_LIST_PK`], [`AUDIT_LIST_PK`], [`INSTALLATIONS_LIST_PK`]),
/// newest (or highest id) last. One partition per kind: a partition takes 1,000 writes a
/// second, far beyond the jobs and audit entries of a GitHub App.
pub(crate) const TIME_INDEX: &str = "GSI2";
/// The by-time index's partition of the jobs.
pub(crate) const JOBS_LIST_PK: &str = "JOBS";
/// The by-time index's partition of the audit entries, every installation's.
pub(crate) const AUDIT_LIST_PK: &str = "AUDIT";
/// The by-time index's partition of the installations, by id.
pub(crate) const INSTALLATIONS_LIST_PK: &str = "INSTALLATIONS";
/// The attribute DynamoDB's TTL reads (epoch seconds): rate counters expire by it.
pub(crate) const EXPIRES_AT: &str = "expires_at";

/// The sort key of a job's own item (its task tokens share its partition).
pub(crate) const JOB_SK: &str = "JOB";
/// The sort key of an installation's own item (its repositories and policies share its
/// partition, so removing the installation is one query and a batch delete).
pub(crate) const INSTALLATION_SK: &str = "META";
/// The sort key prefix of an installation's repositories.
pub(crate) const REPO_PREFIX: &str = "REPO#";
/// The sort key prefix of an installation's policies.
pub(crate) const POLICY_PREFIX: &str = "POLICY#";
/// The sort key of a rate counter: one item per key and window, so the sort key is fixed.
pub(crate) const RATE_SK: &str = "RATE";
/// The sort key of a token counter: one item per installation and window.
pub(crate) const TOKENS_SK: &str = "TOKENS";
/// The sort key of the mark that a job's tokens were counted.
pub(crate) const TOKEN_CHARGE_SK: &str = "CHARGE";

/// The partition key of the runner slots (one item for the whole deployment: the caps
/// are global, and the item is small and written once per dispatch and per job end).
pub(crate) const SLOTS_PK: &str = "SLOTS";
/// The sort key of the runner slots.
pub(crate) const SLOTS_SK: &str = "SLOTS";

/// The partition key of the schedule registry: one partition, one item per repository
/// with a schedule, so a tick reads only the repositories that have one.
pub(crate) const SCHEDULES_PK: &str = "SCHEDULES";
/// The sort key of a repository's tracking issue (under [`tracking_pk`]).
pub(crate) const TRACKING_SK: &str = "TRACKING";

/// Every number in a sort key is zero-padded to this width (`u64::MAX` has 20 digits),
/// so that the string order DynamoDB sorts by is the numeric order.
const NUMBER_WIDTH: usize = 20;

pub(crate) fn job_pk(id: &JobId) -> String {
    format!("JOB#{}", id.as_str())
}

/// The partition keys of the jobs whose id starts with `prefix`.
pub(crate) fn job_pk_prefix(prefix: &str) -> String {
    format!("JOB#{prefix}")
}

pub(crate) fn token_sk(wait: Wait) -> &'static str {
    match wait {
        Wait::Approval => "TOKEN#approval",
        Wait::Run => "TOKEN#run",
    }
}

/// The thread a job reports to, lower-cased: GitHub treats `Owner/Repo` and `owner/repo`
/// as the same repository, and so does the index.
pub(crate) fn thread_pk(repo: &RepoFullName, number: u64) -> String {
    format!("THREAD#{}#{number}", repo.as_str().to_ascii_lowercase())
}

pub(crate) fn thread_sk(created_at_ms: u64, id: &JobId) -> String {
    format!("{created_at_ms:0NUMBER_WIDTH$}#{}", id.as_str())
}

/// The sort key of an installation in the by-time index: its id, padded.
pub(crate) fn installation_list_sk(id: InstallationId) -> String {
    format!("{:0NUMBER_WIDTH$}", id.0)
}

/// The by-time index's sort key that everything at or after `at_ms` sorts at or above
/// (and everything before it below).
pub(crate) fn time_bound(at_ms: u64) -> String {
    format!("{at_ms:0NUMBER_WIDTH$}")
}

/// Whether `raw` has the shape of a by-time sort key: a padded number, `#`, the rest.
pub(crate) fn is_time_sk(raw: &str) -> bool {
    raw.split_once('#').is_some_and(|(at, rest)| {
        at.len() == NUMBER_WIDTH && at.bytes().all(|byte| byte.is_ascii_digit()) && !rest.is_empty()
    })
}

pub(crate) fn installation_pk(id: InstallationId) -> String {
    format!("INST#{id}")
}

/// Lower-cased for the same reason as [`thread_pk`]; the item keeps the name as given.
pub(crate) fn repo_sk(repo: &RepoFullName) -> String {
    format!("{REPO_PREFIX}{}", repo.as_str().to_ascii_lowercase())
}

pub(crate) fn policy_sk(name: &str) -> String {
    format!("{POLICY_PREFIX}{name}")
}

/// A repository's schedule in the [`SCHEDULES_PK`] partition, by the repository's id
/// (which a rename keeps).
pub(crate) fn schedule_sk(repo: RepoId) -> String {
    format!("{REPO_PREFIX}{:0NUMBER_WIDTH$}", repo.0)
}

/// The partition of a repository's tracking issue, apart from its schedule, which it
/// outlives.
pub(crate) fn tracking_pk(repo: RepoId) -> String {
    format!("TRACKING#{}", repo.0)
}

pub(crate) fn audit_pk(installation: InstallationId) -> String {
    format!("AUDIT#{installation}")
}

/// Time first, so a query in key order is a query in time order; then the delivery and a
/// digest of the entry, so two different entries never share a key and the same entry
/// appended twice (a redelivered batch) does.
pub(crate) fn audit_sk(at_ms: u64, delivery: &str, digest: &str) -> String {
    format!("{at_ms:0NUMBER_WIDTH$}#{delivery}#{digest}")
}

/// An installation's token counter of a UTC day (`day`, `2026-12-03`) or month
/// (`month`, `2026-12`).
pub(crate) fn tokens_pk(installation: InstallationId, period: &str, label: &str) -> String {
    format!("TOKENS#{installation}#{period}#{label}")
}

/// The mark that a job's tokens were counted: a partition of its own, apart from the
/// job's (`JOB#…`), which listings by id prefix read.
pub(crate) fn token_charge_pk(job: &JobId) -> String {
    format!("TOKENCHARGE#{}", job.as_str())
}

/// The window's length is part of the key: an hourly and a per-minute limit on the same
/// key have windows that start at the same instant, and must not share a counter.
pub(crate) fn rate_pk(key: &str, window_ms: u64, window_start_ms: u64) -> String {
    format!("RATE#{key}#{window_ms}#{window_start_ms:0NUMBER_WIDTH$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_spelled_as_documented() {
        let id = JobId::parse("j0123456789abcdef0123").expect("job id");
        assert_eq!(job_pk(&id), "JOB#j0123456789abcdef0123");
        assert_eq!(token_sk(Wait::Approval), "TOKEN#approval");
        assert_eq!(token_sk(Wait::Run), "TOKEN#run");
        let repo = RepoFullName::new("Octo-Org/Hello-World");
        assert_eq!(thread_pk(&repo, 7), "THREAD#octo-org/hello-world#7");
        assert_eq!(
            thread_sk(1_700_000_000_000, &id),
            "00000001700000000000#j0123456789abcdef0123"
        );
        assert_eq!(installation_pk(InstallationId(42)), "INST#42");
        assert_eq!(SCHEDULES_PK, "SCHEDULES");
        assert_eq!(schedule_sk(RepoId(1296269)), "REPO#00000000000001296269");
        assert_eq!(tracking_pk(RepoId(1296269)), "TRACKING#1296269");
        assert_eq!(TRACKING_SK, "TRACKING");
        assert_eq!(
            installation_list_sk(InstallationId(42)),
            "00000000000000000042"
        );
        assert_eq!(time_bound(5), "00000000000000000005");
        assert!(is_time_sk(&thread_sk(5, &id)));
        assert!(!is_time_sk("5#j1") && !is_time_sk("00000000000000000005#"));
        assert_eq!(repo_sk(&repo), "REPO#octo-org/hello-world");
        assert_eq!(policy_sk("default"), "POLICY#default");
        assert_eq!(
            tokens_pk(InstallationId(42), "day", "2026-12-03"),
            "TOKENS#42#day#2026-12-03"
        );
        assert_eq!(token_charge_pk(&id), "TOKENCHARGE#j0123456789abcdef0123");
        assert_eq!(audit_pk(InstallationId(42)), "AUDIT#42");
        assert_eq!(audit_sk(5, "d-1", "abcd"), "00000000000000000005#d-1#abcd");
        assert_eq!(
            rate_pk("user:octocat", 3_600_000, 7_200_000),
            "RATE#user:octocat#3600000#00000000000007200000"
        );
    }

    #[test]
    fn padded_numbers_sort_as_numbers() {
        let id = JobId::parse("j0123456789abcdef0123").expect("job id");
        let mut keys = [
            thread_sk(10, &id),
            thread_sk(9, &id),
            thread_sk(u64::MAX, &id),
        ];
        keys.sort();
        assert_eq!(
            keys,
            [
                thread_sk(9, &id),
                thread_sk(10, &id),
                thread_sk(u64::MAX, &id)
            ]
        );
    }
}
