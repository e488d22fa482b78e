//! Branch patterns for the `push` trigger: branch names with `*` (any characters but
//! `/`), `**` (any characters) and `?` (one character but `/`), as in GitHub Actions.

use std::fmt;

use super::limits::MAX_BRANCH_PATTERN_CHARS;

/// A checked branch pattern, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchPattern(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`
    One,
    /// `*`
    Segment,
    /// `**`
    Anything,
}

impl BranchPattern {
    /// Checks `text`. The error is a sentence for the user.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("a branch pattern can't be empty".to_owned());
        }
        if text.chars().count() > MAX_BRANCH_PATTERN_CHARS {
            return Err(format!(
                "branch pattern is longer than {MAX_BRANCH_PATTERN_CHARS} characters"
            ));
        }
        if text.starts_with("refs/") {
            return Err(format!(
                "`{text}` is a ref; write the branch name without `refs/heads/`"
            ));
        }
        if let Some(bad) = text.chars().find(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '~' | '^' | ':' | '\\' | '[')
        }) {
            return Err(format!(
                "`{text}` contains `{}`, which can't be in a branch name; wildcards are `*`, `**` and `?`",
                bad.escape_default()
            ));
        }
        if text.starts_with('/')
            || text.ends_with('/')
            || text.contains("//")
            || text.contains("..")
        {
            return Err(format!("`{text}` is not a branch name (stray `/` or `..`)"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `branch` (a name like `main` or `release/1.2`, not a ref) matches.
    pub fn matches(&self, branch: &str) -> bool {
        let tokens = tokens(&self.0);
        let text: Vec<char> = branch.chars().collect();
        // reachable[j]: the tokens so far can match exactly the first j characters.
        let mut reachable = vec![false; text.len() + 1];
        reachable[0] = true;
        for token in tokens {
            let mut next = vec![false; text.len() + 1];
            for j in 0..=text.len() {
                if !reachable[j] {
                    continue;
                }
                match token {
                    Token::Literal(c) => {
                        if text.get(j) == Some(&c) {
                            next[j + 1] = true;
                        }
                    }
                    Token::One => {
                        if text.get(j).is_some_and(|c| *c != '/') {
                            next[j + 1] = true;
                        }
                    }
                    Token::Segment | Token::Anything => {
                        next[j] = true;
                        for (k, c) in text.iter().enumerate().skip(j) {
                            if token == Token::Segment && *c == '/' {
                                break;
                            }
                            next[k + 1] = true;
                        }
                    }
                }
            }
            reachable = next;
        }
        reachable[text.len()]
    }
}

impl fmt::Display for BranchPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn tokens(pattern: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                Token::Anything
            }
            '*' => Token::Segment,
            '?' => Token::One,
            other => Token::Literal(other),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, branch: &str) -> bool {
        BranchPattern::parse(pattern)
            .expect(pattern)
            .matches(branch)
    }

    #[test]
    fn wildcards_match_like_github_actions() {
        assert!(matches("main", "main"));
        assert!(!matches("main", "main2"));
        assert!(matches("release/*", "release/1.2"));
        assert!(!matches("release/*", "release/1.2/hotfix"));
        assert!(!matches("release/*", "release"));
        assert!(matches("release/**", "release/1.2/hotfix"));
        assert!(matches("**", "any/thing/at/all"));
        assert!(matches("*", "main"));
        assert!(!matches("*", "feature/x"));
        assert!(matches("v?", "v1"));
        assert!(!matches("v?", "v/"));
        assert!(matches("feature/*-wip", "feature/login-wip"));
        assert!(matches("**/hotfix", "a/b/hotfix"));
    }

    #[test]
    fn rejects_what_can_not_be_a_branch() {
        for bad in [
            "",
            "refs/heads/main",
            "has space",
            "a..b",
            "/lead",
            "trail/",
            "a//b",
            "x:y",
            "[ab]",
            "tab\t",
        ] {
            assert!(BranchPattern::parse(bad).is_err(), "{bad:?}");
        }
        assert!(BranchPattern::parse(&"a".repeat(256)).is_err());
    }
}
