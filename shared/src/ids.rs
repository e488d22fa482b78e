//! Newtypes for the identifiers that travel between components, so that swapping two of
//! them is a compile error rather than a wrong lookup.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

numeric_id!(
    /// A GitHub App installation (`installation.id`).
    InstallationId
);
numeric_id!(
    /// A repository's numeric id: stable across renames and transfers.
    RepoId
);
numeric_id!(
    /// A GitHub user, bot or organization account id.
    AccountId
);
numeric_id!(
    /// A GitHub App id.
    AppId
);

string_id!(
    /// `owner/name` of a repository.
    RepoFullName
);
string_id!(
    /// A full 40 (SHA-1) or 64 (SHA-256) hex digit commit id.
    CommitSha
);
string_id!(
    /// The `X-GitHub-Delivery` GUID: the same on every redelivery of one event.
    DeliveryId
);

impl RepoFullName {
    pub fn new(full_name: impl Into<String>) -> Self {
        Self(full_name.into())
    }

    /// The account that owns the repository.
    pub fn owner(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(owner, _)| owner)
    }

    /// The repository name without its owner.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, name)| name)
    }
}

impl CommitSha {
    pub fn new(sha: impl Into<String>) -> Self {
        Self(sha.into())
    }
}

/// Why a delivery id from a request header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryIdError {
    #[error("is empty")]
    Empty,
    #[error("is {0} characters long; at most {max} are accepted", max = DeliveryId::MAX_LEN)]
    TooLong(usize),
    #[error("contains characters other than printable ASCII")]
    BadCharacters,
}

impl DeliveryId {
    /// SQS FIFO deduplication ids are at most 128 characters; GitHub's GUIDs are 36.
    pub const MAX_LEN: usize = 128;

    /// Accepts what can serve as an SQS deduplication id: 1 to 128 printable ASCII
    /// characters, no spaces.
    pub fn parse(raw: &str) -> Result<Self, DeliveryIdError> {
        if raw.is_empty() {
            return Err(DeliveryIdError::Empty);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(DeliveryIdError::TooLong(raw.chars().count()));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(DeliveryIdError::BadCharacters);
        }
        Ok(Self(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_id_accepts_github_guids_and_refuses_what_sqs_would() {
        assert!(DeliveryId::parse("72d3162e-cc78-11e3-81ab-4c9367dc0958").is_ok());
        assert_eq!(DeliveryId::parse(""), Err(DeliveryIdError::Empty));
        assert_eq!(
            DeliveryId::parse(&"a".repeat(129)),
            Err(DeliveryIdError::TooLong(129))
        );
        assert_eq!(
            DeliveryId::parse("has space"),
            Err(DeliveryIdError::BadCharacters)
        );
        assert_eq!(
            DeliveryId::parse("naïve"),
            Err(DeliveryIdError::BadCharacters)
        );
    }

    #[test]
    fn repo_full_name_splits_owner_and_name() {
        let repo = RepoFullName::new("octo-org/hello-world");
        assert_eq!(repo.owner(), "octo-org");
        assert_eq!(repo.name(), "hello-world");
    }
}
