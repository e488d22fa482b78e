//! The job id: derived from the delivery that asked for the job, so that a redelivered
//! webhook names the same job and creating it twice is a no-op.

use crate::ids::{CommitSha, DeliveryId, RepoFullName};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// The letter every job id starts with: an id then never starts with a digit or a dash
/// (safe in branch names, YAML and command arguments), and readers recognize it in a comment.
pub const JOB_ID_PREFIX: char = 'j';

/// Hex digits after the prefix: 80 bits of SHA-256, so that a collision between two jobs
/// only becomes likely around 2^40 jobs, far beyond what one installation creates.
/// Even, because the digits are whole bytes of the digest.
pub const JOB_ID_HEX_LEN: usize = 20;

/// Length of a full id: 21 characters, well inside a Step Functions execution name
/// (1 to 80 of `[A-Za-z0-9_-]`), so the id is used as the execution name as it is.
pub const JOB_ID_LEN: usize = 1 + JOB_ID_HEX_LEN;

/// Length of [`JobId::short`], and the shortest prefix [`JobRef::parse`] accepts: the
/// prefix plus 7 hex digits (28 bits), like git's short commit ids. Short enough for
/// `ollama/<task>-<short id>` branch names; long enough that two live jobs of one repository
/// practically never share it, and a mistyped `/cancel` rarely hits another job.
pub const JOB_ID_SHORT_LEN: usize = 8;

/// Where the task name goes in a job's branch: every branch the App pushes is under it.
pub const BRANCH_PREFIX: &str = "ollama/";

/// Longest task part of a branch name: task names are short identifiers, and this keeps
/// a branch readable in GitHub's UI even for an odd one.
pub const MAX_BRANCH_TASK_LEN: usize = 40;

/// A job's id: `j` followed by 20 lowercase hex digits, e.g. `j3f9a0c2e5b7d1f4a6c8e`.
///
/// Deterministic: the same delivery and command (or trigger) index always give the same id,
/// which makes job creation idempotent (the store's conditional put and `StartExecution`
/// with this name both refuse the duplicate).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// The job for the `command_index`-th command (0-based) of the comment delivered as
    /// `delivery`.
    pub fn for_command(delivery: &DeliveryId, command_index: usize) -> Self {
        Self::derive("command", delivery, command_index)
    }

    /// The job for the `trigger_index`-th trigger (0-based) of a delivery that is not a
    /// command: a label, an opened pull request, a re-requested check run. Never equal to a
    /// command's id for the same delivery and index.
    pub fn for_trigger(delivery: &DeliveryId, trigger_index: usize) -> Self {
        Self::derive("trigger", delivery, trigger_index)
    }

    /// The job for the `task_index`-th task of the `ci_failed` trigger on `head` of
    /// `repo`: every failing suite of that head, and every redelivery, finds the same job.
    pub fn for_ci_failure(repo: &RepoFullName, head: &CommitSha, task_index: usize) -> Self {
        Self::derive(
            "ci_failed",
            &format!("{repo}@{}", head.as_str()),
            task_index,
        )
    }

    /// SHA-256 over `<kind>:<delivery>:<index>`. The index is decimal and comes last, so
    /// the input is unambiguous even for a delivery id containing `:`. Changing this
    /// breaks idempotency for deliveries in flight during a deploy: don't.
    fn derive(kind: &str, delivery: &dyn std::fmt::Display, index: usize) -> Self {
        let digest = Sha256::digest(format!("{kind}:{delivery}:{index}"));
        Self(format!(
            "{JOB_ID_PREFIX}{}",
            hex::encode(&digest[..JOB_ID_HEX_LEN / 2])
        ))
    }

    /// A full id exactly as this type prints it (from a store, an execution name, a
    /// message). For what users type, which may be a prefix, see [`JobRef::parse`].
    pub fn parse(raw: &str) -> Result<Self, JobIdError> {
        check_syntax(raw)?;
        if raw.len() < JOB_ID_LEN {
            return Err(JobIdError::TooShort(raw.len()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first [`JOB_ID_SHORT_LEN`] characters, shown to users and used in branch names.
    pub fn short(&self) -> &str {
        &self.0[..JOB_ID_SHORT_LEN]
    }

    /// `ollama/<task>-<short id>`, with the task reduced to lowercase letters, digits and
    /// single dashes so that the name is a valid git ref whatever the task is called.
    pub fn branch_name(&self, task: &str) -> String {
        let mut slug = String::with_capacity(task.len());
        for c in task.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.truncate(MAX_BRANCH_TASK_LEN);
        let slug = slug.trim_end_matches('-');
        let slug = if slug.is_empty() { "job" } else { slug };
        format!("{BRANCH_PREFIX}{slug}-{}", self.short())
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobId {
    type Error = JobIdError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

/// A job as a user names it in a command: the full id or a prefix of at least
/// [`JOB_ID_SHORT_LEN`] characters. Resolving a prefix to one job is the store's business.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobRef {
    Full(JobId),
    /// Lowercase, starts with `j`, between [`JOB_ID_SHORT_LEN`] and [`JOB_ID_LEN`] - 1
    /// characters.
    Prefix(String),
}

impl JobRef {
    /// Accepts what users paste: surrounding whitespace and uppercase hex are forgiven.
    pub fn parse(raw: &str) -> Result<Self, JobIdError> {
        let raw = raw.trim().to_ascii_lowercase();
        check_syntax(&raw)?;
        if raw.len() == JOB_ID_LEN {
            Ok(Self::Full(JobId(raw)))
        } else if raw.len() >= JOB_ID_SHORT_LEN {
            Ok(Self::Prefix(raw))
        } else {
            Err(JobIdError::TooShort(raw.len()))
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Full(id) => id.as_str(),
            Self::Prefix(prefix) => prefix,
        }
    }

    /// Whether `id` is the job this names.
    pub fn matches(&self, id: &JobId) -> bool {
        match self {
            Self::Full(full) => full == id,
            Self::Prefix(prefix) => id.as_str().starts_with(prefix.as_str()),
        }
    }
}

impl fmt::Display for JobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a job id. The messages are written for users who typed one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobIdError {
    #[error("the job id is empty")]
    Empty,
    #[error("a job id starts with `{JOB_ID_PREFIX}`")]
    MissingPrefix,
    #[error(
        "a job id is `{JOB_ID_PREFIX}` followed by lowercase hex digits (0-9, a-f); \
         found `{0}`"
    )]
    BadCharacter(char),
    #[error(
        "the job id has {0} characters; use at least the {JOB_ID_SHORT_LEN} shown in the \
         bot's comments (the full id has {JOB_ID_LEN})"
    )]
    TooShort(usize),
    #[error("the job id has {0} characters; a full id has {JOB_ID_LEN}")]
    TooLong(usize),
}

/// Prefix, charset and maximum length; the minimum depends on full id versus prefix.
fn check_syntax(raw: &str) -> Result<(), JobIdError> {
    let Some(rest) = raw.strip_prefix(JOB_ID_PREFIX) else {
        return Err(if raw.is_empty() {
            JobIdError::Empty
        } else {
            JobIdError::MissingPrefix
        });
    };
    if let Some(bad) = rest.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(JobIdError::BadCharacter(bad));
    }
    if raw.len() > JOB_ID_LEN {
        return Err(JobIdError::TooLong(raw.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(raw: &str) -> DeliveryId {
        DeliveryId::parse(raw).expect("valid delivery id")
    }

    const GUID: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

    #[test]
    fn ids_are_deterministic_per_delivery_and_index() {
        let a = JobId::for_command(&delivery(GUID), 0);
        assert_eq!(a, JobId::for_command(&delivery(GUID), 0));
        assert_ne!(a, JobId::for_command(&delivery(GUID), 1));
        assert_ne!(
            a,
            JobId::for_command(&delivery("72d3162e-cc78-11e3-81ab-4c9367dc0959"), 0)
        );
        assert_ne!(a, JobId::for_trigger(&delivery(GUID), 0));
    }

    #[test]
    fn derivation_is_pinned() {
        // `printf 'command:<guid>:0' | sha256sum`, first 20 hex digits. If this changes,
        // redeliveries during a deploy create duplicate jobs.
        let id = JobId::for_command(&delivery(GUID), 0);
        assert_eq!(id.as_str(), "j7c4a6f78a5722932c4ca");
        assert_eq!(id.short(), "j7c4a6f7");
    }

    #[test]
    fn ids_are_valid_execution_names_and_parse_back() {
        for index in 0..50 {
            for id in [
                JobId::for_command(&delivery(GUID), index),
                JobId::for_trigger(&delivery(GUID), index),
            ] {
                assert_eq!(id.as_str().len(), JOB_ID_LEN);
                assert!(id.as_str().len() <= 80);
                assert!(
                    id.as_str()
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                );
                assert_eq!(JobId::parse(id.as_str()), Ok(id.clone()));
                assert_eq!(id.short().len(), JOB_ID_SHORT_LEN);
                assert!(id.as_str().starts_with(id.short()));
            }
        }
    }

    #[test]
    fn full_id_parse_is_strict() {
        let id = JobId::for_command(&delivery(GUID), 0);
        assert_eq!(JobId::parse(""), Err(JobIdError::Empty));
        assert_eq!(
            JobId::parse(&id.as_str()[1..]),
            Err(JobIdError::MissingPrefix)
        );
        assert_eq!(
            JobId::parse(&id.as_str().to_uppercase()),
            Err(JobIdError::MissingPrefix)
        );
        assert_eq!(
            JobId::parse("j0123456789abcdef012G"),
            Err(JobIdError::BadCharacter('G'))
        );
        assert_eq!(JobId::parse(id.short()), Err(JobIdError::TooShort(8)));
        assert_eq!(
            JobId::parse(&format!("{id}0")),
            Err(JobIdError::TooLong(JOB_ID_LEN + 1))
        );
        assert_eq!(
            JobId::parse(" j0123456789abcdef0123"),
            Err(JobIdError::MissingPrefix)
        );
    }

    #[test]
    fn user_references_accept_full_ids_and_long_enough_prefixes() {
        let id = JobId::for_command(&delivery(GUID), 3);
        let full = JobRef::parse(&format!("  {}\n", id.as_str().to_uppercase()))
            .expect("full id, forgiven case and spaces");
        assert_eq!(full, JobRef::Full(id.clone()));
        assert!(full.matches(&id));

        let short = JobRef::parse(id.short()).expect("short id");
        assert_eq!(short, JobRef::Prefix(id.short().to_owned()));
        assert!(short.matches(&id));
        assert!(!short.matches(&JobId::for_command(&delivery(GUID), 4)));
        assert!(JobRef::parse(&id.as_str()[..15]).is_ok());

        assert_eq!(JobRef::parse("j1a2b3"), Err(JobIdError::TooShort(6)));
        assert_eq!(JobRef::parse("  "), Err(JobIdError::Empty));
        assert_eq!(JobRef::parse("#12"), Err(JobIdError::MissingPrefix));
        assert_eq!(
            JobRef::parse("j1a2b3c4-"),
            Err(JobIdError::BadCharacter('-'))
        );
        assert_eq!(
            JobRef::parse(&format!("{id}ff")),
            Err(JobIdError::TooLong(JOB_ID_LEN + 2))
        );
    }

    #[test]
    fn branch_names_use_a_clean_task_and_the_short_id() {
        let id = JobId::parse("j0123456789abcdef0123").expect("valid");
        assert_eq!(id.branch_name("refactor"), "ollama/refactor-j0123456");
        assert_eq!(
            id.branch_name("  Fix Lint / Clippy!! "),
            "ollama/fix-lint-clippy-j0123456"
        );
        assert_eq!(id.branch_name("..~^:"), "ollama/job-j0123456");
        let long = id.branch_name(&"a-".repeat(60));
        assert!(long.len() <= BRANCH_PREFIX.len() + MAX_BRANCH_TASK_LEN + 1 + JOB_ID_SHORT_LEN);
        assert!(!long.contains("--"));
    }

    #[test]
    fn serde_uses_the_plain_string_and_validates_it() {
        let id = JobId::parse("j0123456789abcdef0123").expect("valid");
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, "\"j0123456789abcdef0123\"");
        assert_eq!(
            serde_json::from_str::<JobId>(&json).expect("deserialize"),
            id
        );
        assert!(serde_json::from_str::<JobId>("\"j0123\"").is_err());
    }
}
