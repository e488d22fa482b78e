//! The file as written: serde types that mirror `.ollama-turbo.yml` key for key.
//!
//! Every key is optional (`None` means "not written", so built-in defaults can be
//! layered under what the file sets), unknown keys are rejected, and values the
//! validation step checks carry their position ([`Spanned`]). A key with an empty value
//! (`model:`) counts as not written.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::model::PrAction;
use super::sampling::RawSampling;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawConfig {
    pub version: Option<Spanned<i64>>,
    pub automation: Option<RawAutomation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawAutomation {
    pub triggers: Option<Spanned<RawTriggerSpec>>,
    pub defaults: Option<RawDefaults>,
    pub tasks: Option<Entries<Spanned<String>, Option<RawTask>>>,
    pub approval: Option<RawApproval>,
    pub output: Option<RawOutput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawTriggers {
    pub comment: Option<Spanned<RawCommentTrigger>>,
    pub pr_opened: Option<Spanned<RawPrOpened>>,
    pub push: Option<Spanned<RawPush>>,
    pub check_suite: Option<Spanned<RawCheckSuite>>,
    pub ci_failed: Option<Spanned<RawCiFailed>>,
    pub schedule: Option<Spanned<RawSchedule>>,
    pub labeled: Option<Spanned<Vec<Spanned<RawLabeled>>>>,
}

/// `automation.triggers` as written: a mapping of trigger sections, or the shorthand list
/// of trigger names (`[comment, pr_opened]`), each on with its defaults.
#[derive(Debug)]
pub(super) enum RawTriggerSpec {
    Sections(Box<RawTriggers>),
    Names(Vec<Spanned<String>>),
}

impl Default for RawTriggerSpec {
    fn default() -> Self {
        Self::Sections(Box::default())
    }
}

impl<'de> Deserialize<'de> for RawTriggerSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpecVisitor;

        impl<'de> Visitor<'de> for SpecVisitor {
            type Value = RawTriggerSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of triggers, or a list of trigger names")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawTriggerSpec, A::Error> {
                RawTriggers::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|sections| RawTriggerSpec::Sections(Box::new(sections)))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<RawTriggerSpec, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(RawTriggerSpec::Names)
            }

            fn visit_unit<E: de::Error>(self) -> Result<RawTriggerSpec, E> {
                Ok(RawTriggerSpec::default())
            }
        }

        deserializer.deserialize_any(SpecVisitor)
    }
}

/// A list of patterns (branches, paths), with the position of the list and of each one.
pub(super) type RawPatterns = Spanned<Vec<Spanned<String>>>;

/// A list of task names, with the position of the list and of each name.
pub(super) type RawTaskList = Spanned<Vec<Spanned<String>>>;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawCommentTrigger {
    pub enabled: Option<Spanned<bool>>,
    pub tasks: Option<RawTaskList>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawPrOpened {
    pub enabled: Option<Spanned<bool>>,
    pub actions: Option<Spanned<Vec<PrAction>>>,
    pub paths: Option<RawPatterns>,
    pub paths_ignore: Option<RawPatterns>,
    pub tasks: Option<RawTaskList>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawPush {
    pub enabled: Option<Spanned<bool>>,
    pub branches: Option<RawPatterns>,
    pub paths: Option<RawPatterns>,
    pub paths_ignore: Option<RawPatterns>,
    pub tasks: Option<RawTaskList>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawCheckSuite {
    pub enabled: Option<Spanned<bool>>,
    pub tasks: Option<RawTaskList>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawCiFailed {
    pub enabled: Option<Spanned<bool>>,
    pub paths: Option<RawPatterns>,
    pub paths_ignore: Option<RawPatterns>,
    pub max_attempts: Option<Spanned<i64>>,
    pub tasks: Option<RawTaskList>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub enabled: Option<Spanned<bool>>,
    pub cron: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub tasks: Option<RawTaskList>,
}

/// One entry of `labeled`: a label and the tasks adding it starts.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawLabeled {
    pub label: Option<Spanned<String>>,
    pub tasks: Option<RawTaskList>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub model: Option<Spanned<String>>,
    pub hosted_model: Option<Spanned<String>>,
    pub max_tokens: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<RawDuration>>,
    pub think: Option<Spanned<RawThink>>,
    pub temperature: Option<Spanned<f64>>,
    pub top_p: Option<Spanned<f64>>,
    pub top_k: Option<Spanned<i64>>,
    pub seed: Option<Spanned<i64>>,
}

impl RawDefaults {
    /// The sampling keys, for [`super::check::Checker::sampling`].
    pub fn take_sampling(&mut self) -> RawSampling {
        RawSampling {
            temperature: self.temperature.take(),
            top_p: self.top_p.take(),
            top_k: self.top_k.take(),
            seed: self.seed.take(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawTask {
    pub description: Option<Spanned<String>>,
    pub prompt: Option<Spanned<String>>,
    pub command: Option<Spanned<String>>,
    pub model: Option<Spanned<String>>,
    pub hosted_model: Option<Spanned<String>>,
    pub max_tokens: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<RawDuration>>,
    pub auto_fix: Option<Spanned<bool>>,
    pub directory: Option<Spanned<String>>,
    pub candidates: Option<Spanned<i64>>,
    pub plan: Option<Spanned<bool>>,
    pub think: Option<Spanned<RawThink>>,
    pub temperature: Option<Spanned<f64>>,
    pub top_p: Option<Spanned<f64>>,
    pub top_k: Option<Spanned<i64>>,
    pub seed: Option<Spanned<i64>>,
}

impl RawTask {
    /// The sampling keys, for [`super::check::Checker::sampling`].
    pub fn take_sampling(&mut self) -> RawSampling {
        RawSampling {
            temperature: self.temperature.take(),
            top_p: self.top_p.take(),
            top_k: self.top_k.take(),
            seed: self.seed.take(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawApproval {
    pub required: Option<Spanned<bool>>,
    pub maintainers_only: Option<Spanned<bool>>,
    pub allow_self_approval: Option<Spanned<bool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawOutput {
    pub open_pr: Option<Spanned<bool>>,
    pub push_direct: Option<Spanned<bool>>,
    pub push_to_pr_branch: Option<Spanned<bool>>,
    pub merge: Option<Spanned<String>>,
    pub merge_method: Option<Spanned<String>>,
}

/// A `timeout` as written: a number (seconds) or text (`30m`), parsed by validation so
/// that a bad one is reported with the others instead of stopping the parse.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RawDuration {
    Seconds(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = RawDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like `30m`, `90s`, `1h30m` or a number of seconds")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDuration, E> {
                Ok(RawDuration::Seconds(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDuration, E> {
                Ok(RawDuration::Seconds(i64::try_from(v).unwrap_or(i64::MAX)))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDuration, E> {
                Ok(RawDuration::Text(v.to_string()))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDuration, E> {
                Ok(RawDuration::Text(v.to_owned()))
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

/// `think` as written: `true`/`false`, or a level's name, checked by validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RawThink {
    Flag(bool),
    Level(String),
}

impl<'de> Deserialize<'de> for RawThink {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ThinkVisitor;

        impl Visitor<'_> for ThinkVisitor {
            type Value = RawThink;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`true`, `false`, `low`, `medium` or `high`")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawThink, E> {
                Ok(RawThink::Flag(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawThink, E> {
                Ok(RawThink::Level(v.to_owned()))
            }
        }

        deserializer.deserialize_any(ThinkVisitor)
    }
}

/// A mapping read as a list of entries in file order. Unlike a `BTreeMap`, the keys may be
/// [`Spanned`] (which has no `Ord`), so each task name keeps its position. Duplicate keys
/// are rejected by the YAML layer before they get here.
#[derive(Debug)]
pub(super) struct Entries<K, V>(pub Vec<(K, V)>);

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<K, V>(PhantomData<(K, V)>);

        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<K, V> {
            type Value = Entries<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key()? {
                    entries.push((key, map.next_value()?));
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// A key the file writes and where its value is.
pub(super) type Written<'a> = (&'static str, &'a serde_saphyr::Location);

/// The keys of `fields` that are written (`Some`), with their values' positions.
fn written<'a>(
    fields: impl IntoIterator<Item = (&'static str, Option<&'a serde_saphyr::Location>)>,
) -> Vec<Written<'a>> {
    fields
        .into_iter()
        .filter_map(|(key, at)| at.map(|at| (key, at)))
        .collect()
}

fn at<T>(value: &Option<Spanned<T>>) -> Option<&serde_saphyr::Location> {
    value.as_ref().map(|value| &value.referenced)
}

impl RawTriggers {
    /// The trigger sections written, in [`super::overrides::TRIGGER_KEYS`] order.
    pub fn written(&self) -> Vec<Written<'_>> {
        written([
            ("comment", at(&self.comment)),
            ("pr_opened", at(&self.pr_opened)),
            ("push", at(&self.push)),
            ("check_suite", at(&self.check_suite)),
            ("ci_failed", at(&self.ci_failed)),
            ("schedule", at(&self.schedule)),
            ("labeled", at(&self.labeled)),
        ])
    }
}

impl RawDefaults {
    pub fn written(&self) -> Vec<Written<'_>> {
        written([
            ("model", at(&self.model)),
            ("hosted_model", at(&self.hosted_model)),
            ("max_tokens", at(&self.max_tokens)),
            ("timeout", at(&self.timeout)),
            ("think", at(&self.think)),
            ("temperature", at(&self.temperature)),
            ("top_p", at(&self.top_p)),
            ("top_k", at(&self.top_k)),
            ("seed", at(&self.seed)),
        ])
    }
}

impl RawTask {
    pub fn written(&self) -> Vec<Written<'_>> {
        written([
            ("description", at(&self.description)),
            ("prompt", at(&self.prompt)),
            ("command", at(&self.command)),
            ("model", at(&self.model)),
            ("hosted_model", at(&self.hosted_model)),
            ("max_tokens", at(&self.max_tokens)),
            ("timeout", at(&self.timeout)),
            ("auto_fix", at(&self.auto_fix)),
            ("directory", at(&self.directory)),
            ("candidates", at(&self.candidates)),
            ("plan", at(&self.plan)),
            ("think", at(&self.think)),
            ("temperature", at(&self.temperature)),
            ("top_p", at(&self.top_p)),
            ("top_k", at(&self.top_k)),
            ("seed", at(&self.seed)),
        ])
    }
}

impl RawApproval {
    pub fn written(&self) -> Vec<Written<'_>> {
        written([
            ("required", at(&self.required)),
            ("maintainers_only", at(&self.maintainers_only)),
            ("allow_self_approval", at(&self.allow_self_approval)),
        ])
    }
}

impl RawOutput {
    pub fn written(&self) -> Vec<Written<'_>> {
        written([
            ("open_pr", at(&self.open_pr)),
            ("push_direct", at(&self.push_direct)),
            ("push_to_pr_branch", at(&self.push_to_pr_branch)),
            ("merge", at(&self.merge)),
            ("merge_method", at(&self.merge_method)),
        ])
    }
}
