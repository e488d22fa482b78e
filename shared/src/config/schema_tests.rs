//! `docs/ollama-turbo.schema.json` is written by hand; these tests keep it in step with
//! the types: every key the parser accepts is in the schema (and nothing else), and the
//! limits and names in it are the ones the code enforces.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::Value;

use super::limits::{
    DEFAULT_MAX_TOKENS, DEFAULT_MODEL, MAX_BRANCH_PATTERN_CHARS, MAX_BRANCH_PATTERNS,
    MAX_DESCRIPTION_CHARS, MAX_MODEL_NAME_CHARS, MAX_TIMEOUT, MAX_TOKENS_CAP,
};
use super::model::PrAction;
use super::raw::{
    RawApproval, RawAutomation, RawCheckSuite, RawCommentTrigger, RawConfig, RawDefaults,
    RawLabeled, RawOutput, RawPrOpened, RawPush, RawSchedule, RawTask, RawTriggers,
};
use super::task::{BuiltinTask, MAX_TASK_NAME_CHARS, RESERVED_TASK_NAMES, TaskName};

/// The committed schema, the file editors load.
const SCHEMA: &str = include_str!("../../../docs/ollama-turbo.schema.json");

/// A deserializer that only records the field list a derived struct asks for.
struct Introspect<'a>(&'a mut Vec<&'static str>);

impl<'de> Deserializer<'de> for Introspect<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.extend_from_slice(fields);
        Err(de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The keys `T` accepts, in declaration order.
fn keys_of<T: DeserializeOwned>() -> Vec<&'static str> {
    let mut fields = Vec::new();
    let _ = T::deserialize(Introspect(&mut fields));
    fields
}

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("the schema is JSON")
}

/// Follows `$ref`s (`#/definitions/...`) until a node without one.
fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').expect("local $ref");
        node = root.pointer(pointer).expect("$ref resolves");
    }
    node
}

/// The schema node reached by following `path` through `properties`, resolving `$ref`s.
fn node<'a>(root: &'a Value, path: &[&str]) -> &'a Value {
    let mut current = resolve(root, root);
    for key in path {
        let next = current
            .get("properties")
            .and_then(|properties| properties.get(*key))
            .unwrap_or_else(|| panic!("schema has no `{key}` in {path:?}"));
        current = resolve(root, next);
    }
    current
}

fn property_names(node: &Value) -> Vec<String> {
    node.get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

fn assert_same_keys(root: &Value, path: &[&str], rust: &[&str]) {
    let object = node(root, path);
    let mut in_schema = property_names(object);
    in_schema.sort();
    let mut in_rust: Vec<String> = rust.iter().map(|key| (*key).to_owned()).collect();
    in_rust.sort();
    assert_eq!(in_schema, in_rust, "keys of {path:?}");
    assert_eq!(
        object.get("additionalProperties"),
        Some(&Value::Bool(false)),
        "{path:?} must reject unknown keys, as the parser does"
    );
}

#[test]
fn every_key_the_parser_accepts_is_in_the_schema_and_no_other() {
    let root = schema();
    let triggers = ["automation", "triggers"];
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec![], keys_of::<RawConfig>()),
        (vec!["automation"], keys_of::<RawAutomation>()),
        (triggers.to_vec(), keys_of::<RawTriggers>()),
        (
            [&triggers[..], &["comment"]].concat(),
            keys_of::<RawCommentTrigger>(),
        ),
        (
            [&triggers[..], &["pr_opened"]].concat(),
            keys_of::<RawPrOpened>(),
        ),
        ([&triggers[..], &["push"]].concat(), keys_of::<RawPush>()),
        (
            [&triggers[..], &["check_suite"]].concat(),
            keys_of::<RawCheckSuite>(),
        ),
        (
            [&triggers[..], &["schedule"]].concat(),
            keys_of::<RawSchedule>(),
        ),
        (vec!["automation", "defaults"], keys_of::<RawDefaults>()),
        (vec!["automation", "approval"], keys_of::<RawApproval>()),
        (vec!["automation", "output"], keys_of::<RawOutput>()),
    ];
    for (path, keys) in cases {
        assert!(!keys.is_empty(), "introspection found no keys for {path:?}");
        assert_same_keys(&root, &path, &keys);
    }
    // `labeled` is a list; its entries are objects.
    let entry = &node(&root, &["automation", "triggers", "labeled"])["items"];
    let mut in_schema = property_names(entry);
    in_schema.sort();
    let mut in_rust = keys_of::<RawLabeled>();
    in_rust.sort_unstable();
    assert_eq!(in_schema, in_rust, "keys of a `labeled` entry");
    assert_eq!(entry["additionalProperties"], Value::Bool(false));
    let task_keys = keys_of::<RawTask>();
    for task in BuiltinTask::ALL {
        assert_same_keys(&root, &["automation", "tasks", task.name()], &task_keys);
    }
    let custom = resolve(
        &root,
        &node(&root, &["automation", "tasks"])["additionalProperties"],
    );
    let parts = custom["allOf"].as_array().expect("customTask is allOf");
    let task = resolve(&root, &parts[0]);
    let mut in_schema = property_names(task);
    in_schema.sort();
    let mut in_rust: Vec<String> = task_keys.iter().map(|k| (*k).to_owned()).collect();
    in_rust.sort();
    assert_eq!(in_schema, in_rust);
    assert_eq!(parts[1]["required"], serde_json::json!(["prompt"]));
}

#[test]
fn the_builtin_tasks_and_pull_request_actions_match() {
    let root = schema();
    let mut builtin = property_names(node(&root, &["automation", "tasks"]));
    builtin.sort();
    let mut expected: Vec<String> = BuiltinTask::ALL
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    expected.sort();
    assert_eq!(builtin, expected);
    let actions =
        &node(&root, &["automation", "triggers", "pr_opened", "actions"])["items"]["enum"];
    let expected: Vec<&str> = PrAction::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(actions, &serde_json::json!(expected));
    for action in PrAction::ALL {
        let parsed: PrAction =
            serde_json::from_value(Value::from(action.as_str())).expect("action");
        assert_eq!(parsed, action);
    }
}

#[test]
fn the_schema_states_the_limits_the_code_enforces() {
    let root = schema();
    let definitions = &root["definitions"];
    let max_tokens = &definitions["maxTokens"];
    assert_eq!(max_tokens["maximum"], MAX_TOKENS_CAP);
    assert_eq!(max_tokens["default"], DEFAULT_MAX_TOKENS);
    let model = &definitions["model"];
    assert_eq!(model["maxLength"], MAX_MODEL_NAME_CHARS);
    assert_eq!(model["default"], DEFAULT_MODEL);
    assert_eq!(
        definitions["timeout"]["oneOf"][0]["maximum"],
        MAX_TIMEOUT.as_secs()
    );
    assert_eq!(
        definitions["task"]["properties"]["description"]["maxLength"],
        MAX_DESCRIPTION_CHARS
    );
    let label =
        &node(&root, &["automation", "triggers", "labeled"])["items"]["properties"]["label"];
    assert_eq!(label["maxLength"], super::limits::MAX_LABEL_CHARS);
    assert_eq!(
        label["pattern"],
        format!(
            "^(?!{})",
            super::limits::APP_LABEL_PREFIX
                .chars()
                .map(|c| if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_uppercase(), c)
                } else {
                    c.to_string()
                })
                .collect::<String>()
        )
    );
    assert_eq!(
        definitions["paths"]["maxItems"],
        super::limits::MAX_PATH_PATTERNS
    );
    assert_eq!(
        definitions["pathsIgnore"]["maxItems"],
        super::limits::MAX_PATH_PATTERNS
    );
    assert_eq!(
        definitions["pathPattern"]["maxLength"],
        super::limits::MAX_PATH_PATTERN_CHARS
    );
    let branches = node(&root, &["automation", "triggers", "push", "branches"]);
    assert_eq!(branches["maxItems"], MAX_BRANCH_PATTERNS);
    assert_eq!(branches["items"]["maxLength"], MAX_BRANCH_PATTERN_CHARS);
    let name = &definitions["taskName"];
    assert_eq!(
        name["pattern"],
        format!("^[a-z][a-z0-9_-]{{0,{}}}$", MAX_TASK_NAME_CHARS - 1)
    );
    assert_eq!(name["not"]["enum"], serde_json::json!(RESERVED_TASK_NAMES));
    for reserved in RESERVED_TASK_NAMES {
        assert!(TaskName::new(reserved).is_err());
    }
    let approval = node(&root, &["automation", "approval"]);
    let defaults = super::Approval::default();
    assert_eq!(
        approval["properties"]["required"]["default"],
        defaults.required
    );
    assert_eq!(
        approval["properties"]["maintainers_only"]["default"],
        defaults.maintainers_only
    );
    assert_eq!(
        approval["properties"]["allow_self_approval"]["default"],
        defaults.allow_self_approval
    );
    assert_eq!(
        node(&root, &["version"])["const"],
        super::limits::CURRENT_VERSION
    );
}

#[test]
fn the_schema_states_the_model_settings_and_the_trigger_list() {
    let root = schema();
    let definitions = &root["definitions"];
    assert_eq!(
        definitions["temperature"]["maximum"].as_f64(),
        Some(super::MAX_TEMPERATURE)
    );
    assert_eq!(definitions["topK"]["maximum"], super::MAX_TOP_K);
    assert_eq!(
        definitions["think"]["oneOf"][1]["enum"],
        serde_json::json!(super::Think::LEVELS)
    );
    // The shorthand list takes every trigger but `schedule`, which needs a cron.
    let listed: Vec<&str> = super::resolve_triggers::TRIGGER_DEFAULTS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| *name != "schedule")
        .collect();
    assert_eq!(
        node(&root, &["automation", "triggers"])["items"]["enum"],
        serde_json::json!(listed)
    );
    let mut sections = keys_of::<RawTriggers>();
    sections.retain(|name| !matches!(*name, "schedule" | "labeled"));
    assert_eq!(sections, listed);
}
