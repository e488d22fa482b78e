//! What the store's tests share: a database in a temporary directory, deliveries and
//! envelopes. Jobs, installations, policies and audit entries come from
//! `e2e::store_contract`, which the DynamoDB store's tests share too.

use super::Database;
use shared::envelope::{
    AccountKind, Actor, AuthorAssociation, Comment, CommentSource, ENVELOPE_VERSION, Envelope,
    EventName, Repository, Subject,
};
use shared::ids::{AccountId, DeliveryId, InstallationId, RepoFullName, RepoId};
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
            review: None,
        }),
    }
}
