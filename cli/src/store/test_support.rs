//! What the store's tests share: a database in a temporary directory, jobs and envelopes.

use super::Database;
use shared::ids::{AccountId, CommitSha, DeliveryId, InstallationId, RepoFullName, RepoId};
use shared::job::{Approval, JobId, JobRecord, JobRequest, Trigger};
use shared::webhook::envelope::{
    AccountKind, Actor, AuthorAssociation, Comment, CommentSource, ENVELOPE_VERSION, Envelope,
    EventName, Repository, Subject,
};
use std::sync::atomic::{AtomicU64, Ordering};
use tempfile::TempDir;

/// A fresh database; the directory goes when the returned guard is dropped.
pub(crate) fn database() -> (TempDir, Database) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = Database::open(dir.path()).expect("open the database");
    (dir, database)
}

/// A delivery id no other call returns.
pub(crate) fn unique_delivery() -> DeliveryId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    DeliveryId::parse(&format!("72d3162e-cc78-11e3-81ab-{n:012}")).expect("delivery id")
}

pub(crate) fn job_on(repo: &str, trigger: Trigger, created_at_ms: u64) -> JobRecord {
    let delivery = unique_delivery();
    JobRecord::new(
        JobRequest {
            id: JobId::for_command(&delivery, 0),
            delivery,
            installation: InstallationId(42),
            repo: RepoFullName::new(repo),
            commit: CommitSha::new("6dcb09b5b57875f334f61aebed695e2e4193db5e"),
            git_ref: "refs/heads/feature".to_owned(),
            trigger,
            task: "refactor".to_owned(),
            params: "extract the retry loop".to_owned(),
            requester: "octocat".to_owned(),
            approval: Approval::not_required(),
        },
        created_at_ms,
    )
}

pub(crate) fn comment_on(number: u64) -> Trigger {
    Trigger::Comment {
        comment_id: 1_234,
        source: CommentSource::IssueComment,
        number,
        on_pull_request: true,
    }
}

/// A job on `octo-org/hello-world#7`.
pub(crate) fn job(created_at_ms: u64) -> JobRecord {
    job_on("octo-org/hello-world", comment_on(7), created_at_ms)
}

/// A new comment on issue 7 of repository `repo_id`, or an installation-wide event when
/// there is no repository.
pub(crate) fn envelope(delivery: &DeliveryId, repo_id: Option<u64>) -> Envelope {
    Envelope {
        version: ENVELOPE_VERSION,
        delivery: delivery.clone(),
        event: EventName::IssueComment,
        action: Some("created".to_owned()),
        installation: Some(InstallationId(42)),
        repository: repo_id.map(|id| Repository {
            id: RepoId(id),
            full_name: RepoFullName::new(format!("octo-org/repo-{id}")),
            default_branch: Some("main".to_owned()),
            private: false,
        }),
        sender: Actor {
            id: AccountId(1),
            login: "octocat".to_owned(),
            kind: AccountKind::User,
        },
        subject: Subject::Comment(Comment {
            source: CommentSource::IssueComment,
            id: 1,
            number: 7,
            on_pull_request: false,
            author_association: AuthorAssociation::Member,
            body: "/ollama refactor extract the retry loop into a helper".to_owned(),
            body_truncated: false,
            pull_request: None,
        }),
    }
}
