//! The commits of a push payload, read one at a time and dropped: their number, and the
//! paths they add, modify or remove (for the triggers' `paths` filters) while those fit in
//! the envelope.

use crate::envelope::MAX_PUSH_PATHS_BYTES;
use serde::Deserialize;
use serde::de::{SeqAccess, Visitor};
use std::collections::BTreeSet;

/// A push's commits, read one at a time and not kept: how many, and the paths they
/// touch while those fit in [`MAX_PUSH_PATHS_BYTES`] (a push can list thousands).
pub(super) struct RawCommits {
    pub count: usize,
    /// `None` once the paths outgrew the envelope.
    pub paths: Option<BTreeSet<String>>,
}

/// The file lists of one commit of a push; everything else is skipped.
#[derive(Deserialize)]
struct RawPushCommit {
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
}

impl<'de> Deserialize<'de> for RawCommits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CommitsVisitor;
        impl<'de> Visitor<'de> for CommitsVisitor {
            type Value = RawCommits;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawCommits, A::Error> {
                let mut count = 0;
                let mut bytes = 0;
                let mut paths = Some(BTreeSet::new());
                while let Some(commit) = seq.next_element::<RawPushCommit>()? {
                    count += 1;
                    let Some(kept) = paths.as_mut() else {
                        continue;
                    };
                    for path in commit
                        .added
                        .into_iter()
                        .chain(commit.removed)
                        .chain(commit.modified)
                    {
                        bytes += path.len();
                        kept.insert(path);
                    }
                    if bytes > MAX_PUSH_PATHS_BYTES {
                        paths = None;
                    }
                }
                Ok(RawCommits { count, paths })
            }
        }
        deserializer.deserialize_seq(CommitsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use crate::envelope::{EventName, MAX_PUSH_COMMITS_LISTED, Subject};
    use crate::ids::DeliveryId;
    use crate::webhook::payload::normalize;

    fn delivery() -> DeliveryId {
        DeliveryId::parse("d-1").expect("valid id")
    }

    fn pushed_paths(json: &str) -> Option<Vec<String>> {
        match normalize(EventName::Push, delivery(), json.as_bytes())
            .expect("valid push")
            .subject
        {
            Subject::Push(push) => push.changed_paths,
            other => panic!("unexpected subject {other:?}"),
        }
    }

    #[test]
    fn push_keeps_the_paths_its_commits_touch_when_it_lists_them_all() {
        let push = |commits: &str, extra: &str| {
            format!(
                r#"{{"ref":"refs/heads/main","before":"a","after":"b",{extra}
                "commits":[{commits}],"sender":{{"id":1,"login":"a","type":"User"}}}}"#
            )
        };
        let two = r#"{"id":"1","added":["src/new.rs"],"modified":["README.md"],"removed":[]},
            {"id":"2","added":[],"modified":["src/new.rs"],"removed":["old.txt"]}"#;
        assert_eq!(
            pushed_paths(&push(two, "")),
            Some(vec![
                "README.md".to_owned(),
                "old.txt".to_owned(),
                "src/new.rs".to_owned()
            ])
        );
        assert_eq!(pushed_paths(&push(two, r#""forced":true,"#)), None);
        assert_eq!(pushed_paths(&push(two, r#""created":true,"#)), None);
        let many = vec![r#"{"id":"x","added":["a"]}"#; MAX_PUSH_COMMITS_LISTED + 1].join(",");
        assert_eq!(pushed_paths(&push(&many, "")), None, "may be cut");
        let long = "p".repeat(1000);
        let big: Vec<String> = (0..MAX_PUSH_COMMITS_LISTED)
            .map(|i| format!(r#"{{"id":"{i}","added":["{long}{i}a","{long}{i}b","{long}{i}c","{long}{i}d"]}}"#))
            .collect();
        assert_eq!(pushed_paths(&push(&big.join(","), "")), None, "too big");
    }
}
