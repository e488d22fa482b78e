//! The checks on single values (model names, token budgets, timeouts, text), and the
//! [`Checker`] that collects every problem instead of stopping at the first.

use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::duration::{format_duration, parse_duration};
use super::error::{ConfigFile, Position, Problem, ProblemKind};
use super::limits::{MAX_CANDIDATES, MAX_MODEL_NAME_CHARS, MAX_TIMEOUT, MAX_TOKENS_CAP};
use super::raw::RawDuration;

/// Collects problems while the configuration is resolved.
#[derive(Debug, Default)]
pub(super) struct Checker {
    pub problems: Vec<Problem>,
}

pub(super) fn position(location: &Location) -> Option<Position> {
    (location.line() > 0).then(|| Position {
        line: location.line(),
        column: location.column(),
    })
}

impl Checker {
    /// Records that the value at `at`, key `field`, is not acceptable.
    pub fn invalid(
        &mut self,
        at: &Location,
        field: &str,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        self.problems.push(Problem {
            file: ConfigFile::Repository,
            position: position(at),
            field: field.to_owned(),
            kind: ProblemKind::Invalid {
                message: message.into(),
                hint: hint.map(str::to_owned),
            },
        });
    }

    /// Text that must say something: `None` (and a problem) when blank.
    pub fn text(&mut self, value: &Spanned<String>, field: &str) -> Option<String> {
        if value.value.trim().is_empty() {
            self.invalid(
                &value.referenced,
                field,
                "is empty",
                Some("write a value or remove the key"),
            );
            return None;
        }
        Some(value.value.clone())
    }

    /// An Ollama model name such as `qwen3-coder:30b` or `hf.co/org/repo:Q4_K_M`.
    pub fn model(&mut self, value: &Spanned<String>, field: &str) -> Option<String> {
        let name = self.text(value, field)?.trim().to_owned();
        if name.chars().count() > MAX_MODEL_NAME_CHARS {
            self.invalid(
                &value.referenced,
                field,
                format!("model name is longer than {MAX_MODEL_NAME_CHARS} characters"),
                None,
            );
            return None;
        }
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/');
        if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
            self.invalid(
                &value.referenced,
                field,
                format!(
                    "`{name}` is not an Ollama model name: it contains `{}`",
                    bad.escape_default()
                ),
                Some("write the name as `ollama list` shows it, like `qwen3-coder:30b`"),
            );
            return None;
        }
        Some(name)
    }

    /// An output token budget: more than 0, at most [`MAX_TOKENS_CAP`].
    pub fn max_tokens(&mut self, value: &Spanned<i64>, field: &str) -> Option<u32> {
        let tokens = value.value;
        if tokens <= 0 {
            self.invalid(
                &value.referenced,
                field,
                format!("`{tokens}` must be more than 0"),
                None,
            );
            return None;
        }
        match u32::try_from(tokens) {
            Ok(tokens) if tokens <= MAX_TOKENS_CAP => Some(tokens),
            _ => {
                self.invalid(
                    &value.referenced,
                    field,
                    format!(
                        "`{tokens}` is more than {MAX_TOKENS_CAP}, the most any model Ollama \
                         serves can use"
                    ),
                    Some("check for an extra zero; 16384 is a good start"),
                );
                None
            }
        }
    }

    /// A number of candidates: 1 to [`MAX_CANDIDATES`].
    pub fn candidates(&mut self, value: &Spanned<i64>, field: &str) -> Option<u8> {
        match u8::try_from(value.value) {
            Ok(n) if (1..=MAX_CANDIDATES).contains(&n) => Some(n),
            _ => {
                self.invalid(
                    &value.referenced,
                    field,
                    format!("`{}` is not from 1 to {MAX_CANDIDATES}", value.value),
                    Some("each candidate is a whole run of the task; 3 is a good start"),
                );
                None
            }
        }
    }

    /// A time limit: more than 0, at most [`MAX_TIMEOUT`].
    pub fn timeout(&mut self, value: &Spanned<RawDuration>, field: &str) -> Option<Duration> {
        let duration = match &value.value {
            RawDuration::Seconds(seconds) if *seconds < 0 => {
                self.invalid(
                    &value.referenced,
                    field,
                    format!("`{seconds}` must be more than 0"),
                    None,
                );
                return None;
            }
            RawDuration::Seconds(seconds) => Duration::from_secs(seconds.unsigned_abs()),
            RawDuration::Text(text) => match parse_duration(text) {
                Ok(duration) => duration,
                Err(message) => {
                    self.invalid(&value.referenced, field, message, None);
                    return None;
                }
            },
        };
        if duration.is_zero() {
            self.invalid(
                &value.referenced,
                field,
                "a timeout must be more than 0",
                None,
            );
            return None;
        }
        if duration > MAX_TIMEOUT {
            self.invalid(
                &value.referenced,
                field,
                format!(
                    "`{}` is longer than {}, the most a task may run",
                    format_duration(duration),
                    format_duration(MAX_TIMEOUT)
                ),
                Some("split the work into smaller tasks"),
            );
            return None;
        }
        Some(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<T>(value: T) -> Spanned<T> {
        Spanned::new(value, Location::UNKNOWN, Location::UNKNOWN)
    }

    #[test]
    fn model_names_like_ollama_writes_them() {
        let mut check = Checker::default();
        for good in [
            "qwen3-coder:30b",
            "llama3.1",
            "hf.co/org/repo:Q4_K_M",
            " gemma3 ",
        ] {
            assert!(check.model(&at(good.to_owned()), "m").is_some(), "{good}");
        }
        assert!(check.problems.is_empty());
        for bad in ["", "  ", "qwen coder", "x;rm -rf /", "mo\ndel"] {
            assert_eq!(check.model(&at(bad.to_owned()), "m"), None, "{bad:?}");
        }
        assert!(check.model(&at("a".repeat(201)), "m").is_none());
        assert_eq!(check.problems.len(), 6);
    }

    #[test]
    fn token_budgets_are_bounded() {
        let mut check = Checker::default();
        assert_eq!(check.max_tokens(&at(1), "t"), Some(1));
        assert_eq!(check.max_tokens(&at(262_144), "t"), Some(262_144));
        assert_eq!(check.max_tokens(&at(0), "t"), None);
        assert_eq!(check.max_tokens(&at(-3), "t"), None);
        assert_eq!(check.max_tokens(&at(262_145), "t"), None);
        assert_eq!(check.max_tokens(&at(i64::MAX), "t"), None);
        assert_eq!(check.problems.len(), 4);
    }

    #[test]
    fn timeouts_are_bounded() {
        let mut check = Checker::default();
        let secs = |check: &mut Checker, raw| check.timeout(&at(raw), "t").map(|d| d.as_secs());
        assert_eq!(secs(&mut check, RawDuration::Seconds(90)), Some(90));
        assert_eq!(
            secs(&mut check, RawDuration::Text("6h".into())),
            Some(21_600)
        );
        assert_eq!(secs(&mut check, RawDuration::Text("6h1s".into())), None);
        assert_eq!(secs(&mut check, RawDuration::Seconds(0)), None);
        assert_eq!(secs(&mut check, RawDuration::Seconds(-1)), None);
        assert_eq!(secs(&mut check, RawDuration::Text("0m".into())), None);
        assert_eq!(secs(&mut check, RawDuration::Text("soon".into())), None);
        assert_eq!(check.problems.len(), 5);
    }
}
