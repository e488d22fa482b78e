//! Reading a tool call's arguments, with errors worded for the model. Lenient where small
//! models commonly slip and the meaning is still plain (a number sent as `"12"`, a boolean
//! as `"true"`); strict where guessing could do harm (a path must be a string).

use serde_json::{Map, Value};

/// An argument is missing or has the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error("`{tool}` needs the argument `{name}` ({expected}); its arguments are {known}")]
    Missing {
        tool: &'static str,
        name: &'static str,
        expected: &'static str,
        known: String,
    },
    #[error("the argument `{name}` of `{tool}` must be {expected}, not {found}")]
    WrongType {
        tool: &'static str,
        name: &'static str,
        expected: &'static str,
        found: String,
    },
}

/// The arguments of one call to `tool`, which takes the arguments named in `known`.
pub struct Args<'a> {
    tool: &'static str,
    known: &'static [&'static str],
    map: &'a Map<String, Value>,
}

impl<'a> Args<'a> {
    pub fn new(
        tool: &'static str,
        known: &'static [&'static str],
        map: &'a Map<String, Value>,
    ) -> Self {
        Self { tool, known, map }
    }

    fn present(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn missing(&self, name: &'static str, expected: &'static str) -> ArgError {
        ArgError::Missing {
            tool: self.tool,
            name,
            expected,
            known: self
                .known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    fn wrong(&self, name: &'static str, expected: &'static str, found: &Value) -> ArgError {
        let mut shown = found.to_string();
        if shown.len() > 60 {
            shown = format!("{}…", shown.chars().take(60).collect::<String>());
        }
        ArgError::WrongType {
            tool: self.tool,
            name,
            expected,
            found: shown,
        }
    }

    /// A required string (may be empty).
    pub fn string(&self, name: &'static str) -> Result<&'a str, ArgError> {
        self.opt_string(name)?
            .ok_or_else(|| self.missing(name, "a string"))
    }

    pub fn opt_string(&self, name: &'static str) -> Result<Option<&'a str>, ArgError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong(name, "a string", other)),
        }
    }

    /// A whole number ≥ 0, also accepted as a string of digits.
    pub fn opt_usize(&self, name: &'static str) -> Result<Option<usize>, ArgError> {
        let value = match self.present(name) {
            None => return Ok(None),
            Some(value) => value,
        };
        let number = match value {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            Value::String(text) => text.trim().parse::<u64>().ok(),
            _ => None,
        };
        number
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| self.wrong(name, "a whole number", value))
    }

    /// A required whole number.
    pub fn usize(&self, name: &'static str) -> Result<usize, ArgError> {
        self.opt_usize(name)?
            .ok_or_else(|| self.missing(name, "a whole number"))
    }

    /// `true` or `false`, also accepted as those strings.
    pub fn opt_bool(&self, name: &'static str) -> Result<Option<bool>, ArgError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(self.wrong(name, "true or false", other)),
        }
    }

    /// A required array.
    pub fn array(&self, name: &'static str) -> Result<&'a [Value], ArgError> {
        match self.present(name) {
            None => Err(self.missing(name, "an array")),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.wrong(name, "an array", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KNOWN: &[&str] = &["path", "start_line", "regex"];

    fn with(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn reads_values_leniently_where_the_meaning_is_plain() {
        let map = with(json!({"path": "a.rs", "start_line": "12", "regex": "TRUE", "n": 3.0}));
        let args = Args::new("read_file", KNOWN, &map);
        assert_eq!(args.string("path"), Ok("a.rs"));
        assert_eq!(args.opt_usize("start_line"), Ok(Some(12)));
        assert_eq!(args.opt_bool("regex"), Ok(Some(true)));
        assert_eq!(args.opt_usize("n"), Ok(Some(3)));
        assert_eq!(args.opt_string("glob"), Ok(None));
    }

    #[test]
    fn missing_and_wrong_arguments_say_what_is_expected() {
        let map = with(json!({"file": "a.rs", "start_line": -1, "path": null}));
        let args = Args::new("read_file", KNOWN, &map);
        assert_eq!(
            args.string("path").unwrap_err().to_string(),
            "`read_file` needs the argument `path` (a string); its arguments are `path`, `start_line`, `regex`"
        );
        assert_eq!(
            args.opt_usize("start_line").unwrap_err().to_string(),
            "the argument `start_line` of `read_file` must be a whole number, not -1"
        );
        let map = with(json!({"path": ["a", "b"]}));
        let args = Args::new("read_file", KNOWN, &map);
        assert!(matches!(
            args.string("path"),
            Err(ArgError::WrongType { .. })
        ));
    }
}
