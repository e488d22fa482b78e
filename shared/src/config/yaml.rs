//! Reading the YAML: serde-saphyr under tight limits, and its errors turned into a
//! [`Problem`] with line, column, field path and a reason a user can act on.
//!
//! Why serde-saphyr (2.x) rather than serde_yaml_ng (0.10), the other maintained
//! successor of the unmaintained serde_yaml: both report line and column and honour
//! `#[serde(deny_unknown_fields)]`, but serde-saphyr also
//! - returns structured errors (`SerdeUnknownField { field, expected }`), so the
//!   "did you mean" hint needs no parsing of message text;
//! - has `Spanned<T>`, which keeps the position of values that pass deserialization, so
//!   the validation step after it can report line numbers too;
//! - has a configurable `Budget` and alias-replay limits against anchor/alias
//!   ("billion laughs") bombs, where serde_yaml_ng has one fixed internal limit;
//! - is pure Rust without `unsafe` and fuzzed, where serde_yaml_ng runs on
//!   `unsafe-libyaml`, a machine translation of libyaml that is itself unmaintained;
//! - rejects duplicate keys and, with `strict_booleans`, YAML 1.1 booleans like `yes`/`no`.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_path_to_error::{Path, Segment};
use serde_saphyr::{
    DuplicateKeyPolicy, Error, Location, MessageFormatter, Spanned, UserMessageFormatter,
};

use super::error::{ConfigFile, Position, Problem, ProblemKind};
use super::raw::{Entries, RawConfig};

/// Parses `text` into the raw, unvalidated configuration. The caller has checked its size.
pub(super) fn parse_raw(text: &str) -> Result<RawConfig, Problem> {
    let mut path = None;
    let parsed: Result<Option<RawConfig>, Error> =
        serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
            serde_path_to_error::deserialize(de).map_err(|error| {
                path = Some(error.path().clone());
                error.into_inner()
            })
        });
    // An explicit empty document (`---` alone) has a null root: the same as no keys.
    parsed
        .map(Option::unwrap_or_default)
        .map_err(|error| problem_from(text, &error, path.as_ref()))
}

/// Parser settings: strict where YAML is lenient (duplicate keys, `yes`/`no` booleans),
/// and limits far above any real configuration but far below what hurts. A real file is
/// 5 levels deep with a few hundred nodes; a 64 KiB file can hold ~32 k nodes (`[a,a,…]`).
/// The anchor, alias and replay limits keep aliases from multiplying that: each anchor may
/// be replayed 100 times, and all replays together add at most 20 k events.
pub(crate) fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: budget(),
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 20_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 100,
        },
        duplicate_keys: DuplicateKeyPolicy::Error,
        strict_booleans: true,
        with_snippet: false,
    }
}

/// The parser's budget; see [`options`].
fn budget() -> Option<serde_saphyr::Budget> {
    serde_saphyr::budget! {
        // Two, so that a second document is reported as such rather than as a breach.
        max_documents: 2,
        max_depth: 24,
        max_nodes: 40_000,
        max_events: 100_000,
        max_anchors: 200,
        max_aliases: 200,
        max_merge_keys: 200,
        max_recorded_anchor_events: 20_000,
        max_recorded_anchor_bytes: 1024 * 1024,
        max_total_scalar_bytes: 1024 * 1024,
    }
}

fn problem_from(text: &str, error: &Error, path: Option<&Path>) -> Problem {
    let mut error = error.without_snippet();
    // An error inside an aliased value: report the underlying error at the alias.
    let use_site = error.location();
    while let Error::AliasError { error: inner, .. } = error {
        error = inner.without_snippet();
    }
    let location = use_site.or_else(|| error.location());
    let position = location.filter(|at| at.line() > 0).map(|at| Position {
        line: at.line(),
        column: at.column(),
    });
    let mut field = path
        .map(|path| field_path(text, path, position))
        .unwrap_or_default();
    let kind = match error {
        Error::SerdeUnknownField {
            field: key,
            expected,
            ..
        } => ProblemKind::UnknownKey {
            key: key.clone(),
            expected: expected.iter().map(ToString::to_string).collect(),
        },
        Error::SerdeUnknownVariant {
            variant, expected, ..
        } => ProblemKind::UnknownValue {
            value: variant.clone(),
            expected: expected.iter().map(ToString::to_string).collect(),
        },
        Error::SerdeInvalidType { expected, .. } | Error::SerdeInvalidValue { expected, .. } => {
            ProblemKind::WrongType {
                expected: friendly_expected(expected),
                found: found_at(text, location),
            }
        }
        Error::InvalidScalar { ty, .. } => ProblemKind::WrongType {
            expected: friendly_expected(ty),
            found: found_at(text, location),
        },
        Error::InvalidBooleanStrict { .. } => ProblemKind::WrongType {
            expected: "`true` or `false`".to_owned(),
            found: found_at(text, location),
        },
        Error::NullIntoString { .. } => ProblemKind::WrongType {
            expected: "text".to_owned(),
            found: "an empty value".to_owned(),
        },
        Error::Unexpected { expected, .. } => ProblemKind::WrongType {
            expected: friendly_expected(expected),
            found: found_at(text, location),
        },
        Error::DuplicateMappingKey { key, .. } => {
            if let Some(key) = key {
                append(&mut field, key);
            }
            ProblemKind::Invalid {
                message: "this key is set twice".to_owned(),
                hint: Some("keep one of the two".to_owned()),
            }
        }
        Error::MultipleDocuments { .. } => ProblemKind::Syntax {
            message: "the file holds more than one YAML document (a second `---`)".to_owned(),
        },
        Error::Budget { .. }
        | Error::AliasReplayCounterOverflow { .. }
        | Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. } => ProblemKind::Syntax {
            message: "the file is too complex to read (too deeply nested, or too many anchors \
                      and aliases)"
                .to_owned(),
        },
        other => ProblemKind::Syntax {
            message: UserMessageFormatter.format_message(other).into_owned(),
        },
    };
    Problem {
        file: ConfigFile::Repository,
        position,
        field,
        kind,
    }
}

fn append(field: &mut String, key: &str) {
    if !field.is_empty() {
        field.push('.');
    }
    field.push_str(key);
}

/// `automation.tasks.refactor.timeout` from serde_path_to_error's path: drops the `value`
/// steps `Spanned` adds, and names the task where the path only has `?` (task names are
/// `Spanned` keys, which the path can't capture).
fn field_path(text: &str, path: &Path, position: Option<Position>) -> String {
    let segments: Vec<&Segment> = path.iter().collect();
    let mut field = String::new();
    for (index, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Map { key } if key == "value" => {}
            Segment::Map { key } => append(&mut field, key),
            Segment::Enum { variant } => append(&mut field, variant),
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            // A task name (a `Spanned` key the path can't capture). When no task entry
            // holds the error, it is in a key being read: the caller adds the key.
            Segment::Unknown => {
                let task = (field == "automation.tasks")
                    .then(|| task_at(text, position))
                    .flatten();
                match task {
                    Some(name) => append(&mut field, &name),
                    None if index + 1 == segments.len() => {}
                    None => append(&mut field, "?"),
                }
            }
        }
    }
    field
}

/// The name of the task whose entry holds `position`: the last task key at or before it.
/// Reads the file a second time, without the strict types, only to find the keys.
fn task_at(text: &str, position: Option<Position>) -> Option<String> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Probe {
        automation: Option<ProbeAutomation>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct ProbeAutomation {
        tasks: Option<Entries<Spanned<String>, IgnoredAny>>,
    }

    let position = position?;
    let probe: Probe = serde_saphyr::from_str_with_options(text, options()).ok()?;
    let tasks = probe.automation?.tasks?;
    tasks
        .0
        .into_iter()
        .map(|(name, _)| name)
        .rfind(|name| {
            let at = Position {
                line: name.referenced.line(),
                column: name.referenced.column(),
            };
            at <= position
        })
        .map(|name| name.value)
}

/// Words for what serde expected, as a user would say them.
fn friendly_expected(expected: &str) -> String {
    let lowered = expected.to_ascii_lowercase();
    let words = match lowered.as_str() {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "bool" | "a boolean" => "`true` or `false`",
        "a string" | "string" | "str" | "string scalar" => "text",
        "a sequence" | "sequence start" | "a list" => "a list",
        "mapping start" | "a map" | "a mapping" => "a mapping of keys to values",
        _ if lowered.starts_with("struct ") || lowered.starts_with("a span-aware") => {
            "a mapping of keys to values"
        }
        _ => return expected.to_owned(),
    };
    words.to_owned()
}

/// What the file has at `location`, in words: `` `lots` ``, "a list", "a mapping".
fn found_at(text: &str, location: Option<Location>) -> String {
    let Some((start, len)) = location.and_then(|at| {
        let span = at.span();
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len().unwrap_or(0)).ok()?;
        Some((start, len))
    }) else {
        return "something else".to_owned();
    };
    let rest = text.get(start..).unwrap_or_default();
    let line = rest.lines().next().unwrap_or_default().trim_end();
    let token = match line.chars().next() {
        None => return "an empty value".to_owned(),
        Some('[') => return "a list".to_owned(),
        Some('-') if line.len() == 1 || line[1..].starts_with(' ') => return "a list".to_owned(),
        Some('{') => return "a mapping".to_owned(),
        Some('|' | '>') => return "a block of text".to_owned(),
        // The scalar's own extent when the parser gave one, else up to a separator.
        Some(_) => match rest.get(..len).filter(|token| !token.trim().is_empty()) {
            Some(token) => token.trim(),
            None => {
                let end = line.find([',', ']', '}']).unwrap_or(line.len());
                line[..end].split(" #").next().unwrap_or_default().trim()
            }
        },
    };
    if token.ends_with(':') || token.contains(": ") {
        return "a mapping".to_owned();
    }
    let first_line = token.lines().next().unwrap_or_default();
    if first_line.chars().count() > 40 || first_line.len() < token.len() {
        format!(
            "`{}…`",
            first_line.chars().take(40).collect::<String>().trim_end()
        )
    } else {
        format!("`{token}`")
    }
}
