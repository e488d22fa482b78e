//! GitHub's REST API description (`@octokit/openapi`'s `api.github.com.json`, pinned in
//! `package.json`), loaded once per process: which operation a request is, whether its
//! path, query and JSON body are ones GitHub accepts, and the full shape of an answer.
//!
//! The description is OpenAPI 3.0.3: its schemas are OpenAPI Schema Objects, not JSON
//! Schema (`nullable: true` instead of a `null` type, `$ref`s into
//! `#/components/...`), so they are read here directly. Checked: `$ref`, `type`,
//! `nullable`, `enum`, `required`, `properties`, `additionalProperties`, `items`,
//! `allOf`, `anyOf`, `oneOf` (as "at least one": GitHub's variants overlap),
//! `minLength`/`maxLength`, `minItems`/`maxItems`, `minimum`/`maximum`, and the
//! `date-time` format. Not checked: `pattern` and other formats.

use chrono::DateTime;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Where `npm ci` (see `scripts/test`) puts the description.
const DESCRIPTION_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../node_modules/@octokit/openapi/generated/api.github.com.json"
);

/// The date-time GitHub's own examples use, for required timestamps the fake has no value
/// for.
const PLACEHOLDER_TIME: &str = "2011-04-14T16:00:49Z";

/// The description, parsed once (it is ~13 MB).
pub(crate) struct Description {
    doc: Value,
    /// Each path template, split into segments.
    templates: Vec<(String, Vec<String>)>,
}

/// An operation a request matched.
pub(crate) struct Operation {
    pub(crate) method: String,
    pub(crate) template: String,
    /// The path parameters, decoded.
    pub(crate) params: BTreeMap<String, String>,
}

/// What the description says of a request.
pub(crate) enum Verdict {
    /// GitHub would serve it; `ignored` names query parameters GitHub would ignore (the
    /// client thinks they do something: a test should know).
    Accepted { ignored: Vec<String> },
    /// GitHub would answer 422 "Invalid request": why.
    Invalid(String),
}

pub(crate) fn description() -> &'static Description {
    static DESCRIPTION: OnceLock<Description> = OnceLock::new();
    DESCRIPTION.get_or_init(|| {
        let text = std::fs::read_to_string(DESCRIPTION_PATH).unwrap_or_else(|err| {
            panic!("GitHub's REST description {DESCRIPTION_PATH}: {err} (run `npm ci`)")
        });
        let doc: Value = serde_json::from_str(&text).expect("GitHub's REST description is JSON");
        let templates = doc["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .keys()
                    .map(|template| {
                        let segments = template
                            .split('/')
                            .filter(|segment| !segment.is_empty())
                            .map(str::to_owned)
                            .collect();
                        (template.clone(), segments)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Description { doc, templates }
    })
}

/// A `{name}` segment's name.
fn param_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{')?.strip_suffix('}')
}

/// Path parameters that GitHub lets span several segments (a file path, a branch name).
const MULTI_SEGMENT: [&str; 2] = ["path", "branch"];

impl Description {
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(pointer) = reference.strip_prefix('#') else {
                break;
            };
            match self.doc.pointer(pointer) {
                Some(target) => value = target,
                None => break,
            }
        }
        value
    }

    fn operation_json(&self, operation: &Operation) -> &Value {
        &self.doc["paths"][&operation.template][operation.method.to_ascii_lowercase()]
    }

    /// The operation `method` on the decoded `segments`, preferring the template with
    /// the most literal segments (`pulls/comments/{id}` over `pulls/{pull_number}`).
    pub(crate) fn operation(&self, method: &str, segments: &[String]) -> Option<Operation> {
        let method = method.to_ascii_lowercase();
        let mut best: Option<(usize, Operation)> = None;
        for (template, parts) in &self.templates {
            if self.doc["paths"][template].get(&method).is_none() {
                continue;
            }
            let Some(params) = match_template(parts, segments) else {
                continue;
            };
            let literal = parts
                .iter()
                .filter(|part| param_name(part).is_none())
                .count();
            let operation = Operation {
                method: method.to_ascii_uppercase(),
                template: template.clone(),
                params,
            };
            let op = self.operation_json(&operation);
            if !self.path_params_valid(op, &operation.params) {
                continue;
            }
            if best.as_ref().is_none_or(|(score, _)| literal > *score) {
                best = Some((literal, operation));
            }
        }
        best.map(|(_, operation)| operation)
    }

    fn parameters<'a>(&'a self, op: &'a Value) -> impl Iterator<Item = &'a Value> + 'a {
        op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|param| self.resolve(param))
    }

    fn path_params_valid(&self, op: &Value, params: &BTreeMap<String, String>) -> bool {
        self.parameters(op)
            .filter(|param| param["in"] == "path")
            .all(|param| {
                let name = param["name"].as_str().unwrap_or("");
                params.get(name).is_some_and(|text| {
                    let value = coerce(self.resolve(&param["schema"]), text);
                    self.problems(&param["schema"], &value, name).is_empty()
                })
            })
    }

    /// Whether GitHub accepts the query and the body of `operation`.
    pub(crate) fn check_request(
        &self,
        operation: &Operation,
        query: &BTreeMap<String, String>,
        body: Option<&Value>,
    ) -> Verdict {
        let op = self.operation_json(operation);
        let mut declared = Vec::new();
        for param in self.parameters(op).filter(|param| param["in"] == "query") {
            let name = param["name"].as_str().unwrap_or("");
            declared.push(name.to_owned());
            match query.get(name) {
                None if param["required"] == true => {
                    return Verdict::Invalid(format!("query parameter `{name}` is required"));
                }
                None => {}
                Some(text) => {
                    let value = coerce(self.resolve(&param["schema"]), text);
                    let problems = self.problems(&param["schema"], &value, name);
                    if let Some(problem) = problems.into_iter().next() {
                        return Verdict::Invalid(problem);
                    }
                }
            }
        }
        let request_body = self.resolve(&op["requestBody"]);
        let schema = &request_body["content"]["application/json"]["schema"];
        match body {
            None if request_body["required"] == true => {
                return Verdict::Invalid("a JSON body is required".to_owned());
            }
            None => {}
            Some(_) if schema.is_null() => {
                return Verdict::Invalid("this operation takes no body".to_owned());
            }
            Some(body) => {
                let problems = self.problems(schema, body, "body");
                if !problems.is_empty() {
                    return Verdict::Invalid(problems.join("; "));
                }
            }
        }
        let ignored = query
            .keys()
            .filter(|name| !declared.contains(name))
            .cloned()
            .collect();
        Verdict::Accepted { ignored }
    }

    /// The page of GitHub's docs for `operation`, which its error answers point at.
    pub(crate) fn docs_url(&self, operation: &Operation) -> Option<String> {
        self.operation_json(operation)["externalDocs"]["url"]
            .as_str()
            .map(str::to_owned)
    }

    /// The schema of `operation`'s `status` answer in JSON, if the description has one.
    pub(crate) fn response_schema(&self, operation: &Operation, status: u16) -> Option<&Value> {
        let op = self.operation_json(operation);
        let response = self.resolve(&op["responses"][status.to_string()]);
        let content = response["content"].as_object()?;
        content
            .get("application/json")
            .or_else(|| content.values().next())
            .map(|media| &media["schema"])
            .filter(|schema| !schema.is_null())
    }

    /// `overlay` (what the fake's route answers) completed with every property `schema`
    /// requires that it lacks, so that the answer has the full shape GitHub's has.
    pub(crate) fn complete(&self, schema: &Value, overlay: &Value) -> Value {
        let schema = self.resolve(schema);
        if let Some(all) = schema["allOf"].as_array() {
            return all
                .iter()
                .fold(overlay.clone(), |value, part| self.complete(part, &value));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(variants) = schema[key].as_array() {
                let candidates: Vec<Value> = variants
                    .iter()
                    .map(|variant| self.complete(variant, overlay))
                    .collect();
                let fitting = variants
                    .iter()
                    .zip(&candidates)
                    .find(|(variant, value)| self.problems(variant, value, "").is_empty());
                return match fitting {
                    Some((_, value)) => value.clone(),
                    None => candidates
                        .into_iter()
                        .find(|value| same_kind(value, overlay))
                        .unwrap_or_else(|| overlay.clone()),
                };
            }
        }
        match overlay {
            Value::Null if schema["nullable"] == true || is_any(schema) => Value::Null,
            Value::Null => self.skeleton(schema),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.complete(&schema["items"], item))
                    .collect(),
            ),
            Value::Object(fields) => {
                let mut out = fields.clone();
                let properties = schema["properties"].as_object();
                for (name, value) in fields {
                    if let Some(property) = properties.and_then(|p| p.get(name)) {
                        out.insert(name.clone(), self.complete(property, value));
                    }
                }
                for name in schema["required"].as_array().into_iter().flatten() {
                    let Some(name) = name.as_str() else { continue };
                    if !out.contains_key(name) {
                        let property = properties.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
                        out.insert(name.to_owned(), self.skeleton(property));
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    /// The smallest value `schema` accepts: required properties only, `null` where
    /// nullable, an enum's first value, empty lists.
    fn skeleton(&self, schema: &Value) -> Value {
        let schema = self.resolve(schema);
        if schema["nullable"] == true {
            return Value::Null;
        }
        if let Some(all) = schema["allOf"].as_array() {
            return all
                .iter()
                .fold(json!({}), |value, part| merge(self.skeleton(part), &value));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = schema[key].as_array().and_then(|v| v.first()) {
                return self.skeleton(first);
            }
        }
        if let Some(first) = schema["enum"].as_array().and_then(|v| v.first()) {
            return first.clone();
        }
        match schema["type"].as_str() {
            Some("object") => self.complete(schema, &json!({})),
            Some("array") => json!([]),
            Some("integer" | "number") => json!(schema["minimum"].as_i64().unwrap_or(1)),
            Some("boolean") => json!(false),
            Some("string") => match schema["format"].as_str() {
                Some("date-time") => json!(PLACEHOLDER_TIME),
                Some("uri") => json!("https://api.github.com/placeholder"),
                Some("email") => json!("octocat@github.com"),
                _ => json!(""),
            },
            _ => Value::Null,
        }
    }

    /// Where `value` breaks `schema`, each problem named by its place (`at`).
    pub(crate) fn problems(&self, schema: &Value, value: &Value, at: &str) -> Vec<String> {
        let mut problems = Vec::new();
        self.check(schema, value, at, &mut problems);
        problems
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if value.is_null() && (schema["nullable"] == true || is_any(schema)) {
            return;
        }
        if let Some(all) = schema["allOf"].as_array() {
            for part in all {
                self.check(part, value, at, problems);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(variants) = schema[key].as_array()
                && !variants
                    .iter()
                    .any(|variant| self.problems(variant, value, at).is_empty())
            {
                let first = variants
                    .iter()
                    .map(|variant| self.problems(variant, value, at))
                    .min_by_key(Vec::len)
                    .unwrap_or_default();
                problems.push(format!(
                    "{at} matches none of its {} variants ({})",
                    variants.len(),
                    first.join("; ")
                ));
            }
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.contains(value)
        {
            problems.push(format!(
                "{at} is {value}, not one of {}",
                Value::from(allowed.clone())
            ));
            return;
        }
        let Some(kind) = schema["type"].as_str() else {
            return;
        };
        let fits = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "null" => value.is_null(),
            _ => true,
        };
        if !fits {
            problems.push(format!("{at} is {}, not {kind}", kind_of(value)));
            return;
        }
        match value {
            Value::Object(fields) => self.check_object(schema, fields, at, problems),
            Value::Array(items) => {
                let count = items.len() as u64;
                if schema["minItems"].as_u64().is_some_and(|min| count < min) {
                    problems.push(format!("{at} has {count} items, fewer than minItems"));
                }
                if schema["maxItems"].as_u64().is_some_and(|max| count > max) {
                    problems.push(format!("{at} has {count} items, more than maxItems"));
                }
                for (index, item) in items.iter().enumerate() {
                    self.check(&schema["items"], item, &format!("{at}[{index}]"), problems);
                }
            }
            Value::String(text) => {
                let chars = text.chars().count() as u64;
                if schema["maxLength"].as_u64().is_some_and(|max| chars > max) {
                    problems.push(format!("{at} is {chars} characters, over maxLength"));
                }
                if schema["minLength"].as_u64().is_some_and(|min| chars < min) {
                    problems.push(format!("{at} is {chars} characters, under minLength"));
                }
                if schema["format"] == "date-time" && DateTime::parse_from_rfc3339(text).is_err() {
                    problems.push(format!("{at} ({text:?}) is not a date-time"));
                }
            }
            Value::Number(number) => {
                let number = number.as_f64().unwrap_or(0.0);
                if schema["minimum"].as_f64().is_some_and(|min| number < min) {
                    problems.push(format!("{at} is {number}, under its minimum"));
                }
                if schema["maximum"].as_f64().is_some_and(|max| number > max) {
                    problems.push(format!("{at} is {number}, over its maximum"));
                }
            }
            _ => {}
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        fields: &Map<String, Value>,
        at: &str,
        problems: &mut Vec<String>,
    ) {
        for name in schema["required"].as_array().into_iter().flatten() {
            if let Some(name) = name.as_str()
                && !fields.contains_key(name)
            {
                problems.push(format!("{at}.{name} is required"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, value) in fields {
            let place = format!("{at}.{name}");
            match (
                properties.and_then(|p| p.get(name)),
                &schema["additionalProperties"],
            ) {
                (Some(property), _) => self.check(property, value, &place, problems),
                (None, Value::Bool(false)) => {
                    problems.push(format!("{place} is not a property GitHub knows"));
                }
                (None, extra @ Value::Object(_)) => self.check(extra, value, &place, problems),
                (None, _) => {}
            }
        }
    }
}

/// Matches `segments` to a template's `parts`, returning the path parameters.
fn match_template(parts: &[String], segments: &[String]) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    for (index, part) in parts.iter().enumerate() {
        let last = index + 1 == parts.len();
        match param_name(part) {
            Some(name) if last && MULTI_SEGMENT.contains(&name) => {
                let rest = segments.get(index..).filter(|rest| !rest.is_empty())?;
                params.insert(name.to_owned(), rest.join("/"));
                return Some(params);
            }
            Some(name) => {
                params.insert(name.to_owned(), segments.get(index)?.clone());
            }
            None if segments.get(index) == Some(part) => {}
            None => return None,
        }
    }
    (parts.len() == segments.len()).then_some(params)
}

/// A query or path parameter's text as the JSON value its schema's type reads it as.
fn coerce(schema: &Value, text: &str) -> Value {
    match schema["type"].as_str() {
        Some("integer") => text
            .parse::<i64>()
            .map_or_else(|_| json!(text), |number| json!(number)),
        Some("number") => text
            .parse::<f64>()
            .map_or_else(|_| json!(text), |number| json!(number)),
        Some("boolean") => match text {
            "true" => json!(true),
            "false" => json!(false),
            _ => json!(text),
        },
        _ => json!(text),
    }
}

/// A schema that says nothing of the value (`{}`).
fn is_any(schema: &Value) -> bool {
    schema.as_object().is_none_or(|fields| {
        ![
            "type",
            "$ref",
            "allOf",
            "anyOf",
            "oneOf",
            "enum",
            "properties",
        ]
        .iter()
        .any(|key| fields.contains_key(*key))
    })
}

fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `base` with `over`'s fields written over it (recursively for objects).
fn merge(base: Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(mut base), Value::Object(over)) => {
            for (name, value) in over {
                let merged = match base.remove(name) {
                    Some(existing) => merge(existing, value),
                    None => value.clone(),
                };
                base.insert(name.clone(), merged);
            }
            Value::Object(base)
        }
        (_, over) => over.clone(),
    }
}
