//! Tool calls as the model made them, with their arguments checked: Ollama sends a JSON
//! object, some models (and proxies) a string holding one, and a confused model anything.

use serde_json::{Map, Value};

use super::wire::{WireFunction, WireToolCall};

/// Why a tool call's arguments can't be used. `Display` is addressed to the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedArguments {
    #[error(
        "the arguments are a string that is not valid JSON ({reason}); send the arguments as a JSON object"
    )]
    NotJson { reason: String },
    #[error(
        "the arguments are {found}, not a JSON object; send an object such as {{\"path\": \"src/lib.rs\"}}"
    )]
    NotAnObject { found: &'static str },
}

/// One tool call from the model's response.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The call's id, when the server gave one; echoed in the tool result.
    pub id: Option<String>,
    /// The tool's name; empty when the call had none.
    pub name: String,
    pub arguments: Result<Map<String, Value>, MalformedArguments>,
}

impl ToolCall {
    /// Reads one element of `message.tool_calls`, leniently: a missing or non-string name
    /// becomes empty, and the arguments are checked by [`parse_arguments`].
    pub fn from_wire(value: &Value) -> Self {
        let function = value.get("function");
        let name = function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned();
        let arguments = parse_arguments(function.and_then(|f| f.get("arguments")));
        let id = value
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        Self {
            id,
            name,
            arguments,
        }
    }

    /// The call as it goes back into the conversation (malformed arguments as `{}`).
    pub fn to_wire(&self) -> WireToolCall {
        WireToolCall {
            id: self.id.clone(),
            function: WireFunction {
                name: self.name.clone(),
                arguments: self.arguments.clone().unwrap_or_default(),
            },
        }
    }
}

/// The arguments as an object. Accepted: an object; a string holding a JSON object (some
/// models double-encode); nothing at all or `null` (a call without arguments). Anything
/// else is malformed.
pub fn parse_arguments(value: Option<&Value>) -> Result<Map<String, Value>, MalformedArguments> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(Value::String(text)) => {
            let text = text.trim();
            if text.is_empty() {
                return Ok(Map::new());
            }
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(other) => Err(MalformedArguments::NotAnObject {
                    found: kind(&other),
                }),
                Err(err) => Err(MalformedArguments::NotJson {
                    reason: err.to_string(),
                }),
            }
        }
        Some(other) => Err(MalformedArguments::NotAnObject { found: kind(other) }),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_and_strings_holding_objects_are_accepted() {
        let object = json!({"path": "src/lib.rs", "start_line": 3});
        assert_eq!(
            parse_arguments(Some(&object)).unwrap(),
            object.as_object().unwrap().clone()
        );
        let encoded = Value::String(object.to_string());
        assert_eq!(
            parse_arguments(Some(&encoded)).unwrap(),
            object.as_object().unwrap().clone()
        );
        assert!(parse_arguments(None).unwrap().is_empty());
        assert!(parse_arguments(Some(&Value::Null)).unwrap().is_empty());
        assert!(parse_arguments(Some(&json!("  "))).unwrap().is_empty());
    }

    #[test]
    fn anything_else_is_malformed_with_a_reason() {
        let broken = json!("{\"path\": \"src/lib.rs\"");
        let err = parse_arguments(Some(&broken)).unwrap_err();
        assert!(matches!(err, MalformedArguments::NotJson { .. }));
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        assert_eq!(
            parse_arguments(Some(&json!("[1, 2]"))),
            Err(MalformedArguments::NotAnObject { found: "an array" })
        );
        assert_eq!(
            parse_arguments(Some(&json!(42))),
            Err(MalformedArguments::NotAnObject { found: "a number" })
        );
        assert_eq!(
            parse_arguments(Some(&json!(["path"]))),
            Err(MalformedArguments::NotAnObject { found: "an array" })
        );
    }

    #[test]
    fn calls_are_read_leniently_and_echoed_as_objects() {
        let call = ToolCall::from_wire(&json!({
            "id": "call_1",
            "function": {"index": 0, "name": " read_file ", "arguments": "{\"path\": \"a\"}"}
        }));
        assert_eq!(call.id.as_deref(), Some("call_1"));
        assert_eq!(call.name, "read_file");
        assert_eq!(
            call.to_wire().function.arguments,
            *json!({"path": "a"}).as_object().unwrap()
        );

        let nameless = ToolCall::from_wire(&json!({"function": {"arguments": 7}}));
        assert_eq!(nameless.name, "");
        assert!(nameless.arguments.is_err());
        assert!(nameless.to_wire().function.arguments.is_empty());

        let garbage = ToolCall::from_wire(&json!("read_file"));
        assert_eq!(garbage.name, "");
        assert!(garbage.arguments.unwrap().is_empty());
    }
}
