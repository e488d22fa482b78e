//! Which of a review's inline comments GitHub will take. GitHub refuses a whole review
//! (422 "Pull request review thread line must be part of the diff") when one comment's
//! `line` is not a line of its file's diff on the comment's side; a file without a
//! `patch` in "List pull request files" (binary, too large) takes none. So comments are
//! checked against the hunks first, and the ones that don't fit are kept in the review's
//! body with their file and line: a review is never lost for one misplaced comment.

use shared::ports::InlineComment;
use std::collections::BTreeMap;
use std::ops::Range;

/// The lines of the new version of a file that `patch`'s hunks show (context and added
/// lines): where a `side: RIGHT` comment may go.
pub(crate) fn right_side_lines(patch: &str) -> Vec<Range<u64>> {
    patch
        .lines()
        .filter_map(|line| {
            let header = line.strip_prefix("@@ ")?;
            let new = header
                .split_whitespace()
                .find_map(|part| part.strip_prefix('+'))?;
            let (start, count) = match new.split_once(',') {
                Some((start, count)) => (start.parse::<u64>().ok()?, count.parse::<u64>().ok()?),
                None => (new.parse::<u64>().ok()?, 1),
            };
            Some(start..start.saturating_add(count))
        })
        .collect()
}

/// A review's comments, sorted into those on the diff and those that are not.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Placed {
    pub(crate) inline: Vec<InlineComment>,
    pub(crate) outside: Vec<InlineComment>,
}

/// Sorts `comments` by whether their line is in a hunk of their file; `patches` maps the
/// pull request's file names to their patch (`None` for a file GitHub shows no diff of).
pub(crate) fn place(
    patches: &BTreeMap<String, Option<String>>,
    comments: &[InlineComment],
) -> Placed {
    let lines: BTreeMap<&str, Vec<Range<u64>>> = patches
        .iter()
        .map(|(name, patch)| {
            (
                name.as_str(),
                patch.as_deref().map(right_side_lines).unwrap_or_default(),
            )
        })
        .collect();
    let mut placed = Placed::default();
    for comment in comments {
        let on_diff = lines
            .get(comment.path.as_str())
            .is_some_and(|hunks| hunks.iter().any(|hunk| hunk.contains(&comment.line)));
        if on_diff {
            placed.inline.push(comment.clone());
        } else {
            placed.outside.push(comment.clone());
        }
    }
    placed
}

/// The review's body followed by the comments GitHub would not take inline, each with
/// its file and line.
pub(crate) fn body_with_outside_comments(body: &str, outside: &[InlineComment]) -> String {
    if outside.is_empty() {
        return body.to_owned();
    }
    let mut text = body.trim_end().to_owned();
    text.push_str(
        "\n\n**On lines outside this pull request's changes** (GitHub takes inline comments only on the diff):\n",
    );
    for comment in outside {
        let mut lines = comment.body.trim().lines();
        text.push_str(&format!(
            "\n- `{}` line {}: {}",
            comment.path.replace('`', "'"),
            comment.line,
            lines.next().unwrap_or("")
        ));
        for line in lines {
            text.push_str(&format!("\n  {line}"));
        }
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(path: &str, line: u64) -> InlineComment {
        InlineComment {
            path: path.to_owned(),
            line,
            body: format!("on {path}:{line}"),
        }
    }

    #[test]
    fn hunk_headers_give_the_new_versions_lines() {
        assert_eq!(
            right_side_lines("@@ -1,3 +1,5 @@\n a\n+b\n@@ -40 +42,2 @@ fn x()\n c\n@@ -9,2 +11 @@"),
            [1..6, 42..44, 11..12]
        );
        assert!(right_side_lines("Binary files differ").is_empty());
        // A deleted file's hunk shows no new lines.
        assert!(
            right_side_lines("@@ -1,3 +0,0 @@")
                .iter()
                .all(|hunk| hunk.is_empty())
        );
    }

    #[test]
    fn comments_off_the_diff_or_on_files_without_one_are_kept_out() {
        let patches = BTreeMap::from([
            (
                "src/lib.rs".to_owned(),
                Some("@@ -1,3 +1,5 @@\n x".to_owned()),
            ),
            ("logo.png".to_owned(), None),
        ]);
        let placed = place(
            &patches,
            &[
                comment("src/lib.rs", 5),
                comment("src/lib.rs", 6),
                comment("logo.png", 1),
                comment("README.md", 1),
            ],
        );
        assert_eq!(placed.inline, [comment("src/lib.rs", 5)]);
        assert_eq!(
            placed.outside,
            [
                comment("src/lib.rs", 6),
                comment("logo.png", 1),
                comment("README.md", 1)
            ]
        );
        assert_eq!(body_with_outside_comments("Fine.", &[]), "Fine.");
    }
}
