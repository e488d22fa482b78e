//! The references of a CloudFormation template to its resources (`Ref`, `Fn::GetAtt`,
//! `${Name}` in `Fn::Sub`, `DependsOn`): found, and replaced by the values of resources
//! that test support made outside the stack.

use serde_json::Value;
use std::collections::BTreeMap;

/// What a resource made outside the stack answers to `Ref` and `Fn::GetAtt`.
#[derive(Debug, Clone, Default)]
pub struct Made {
    /// Its `Ref` value (a secret's ARN, a function URL's function ARN...).
    pub reference: String,
    /// Its attributes by name, for `Fn::GetAtt`.
    pub attributes: BTreeMap<String, String>,
}

impl Made {
    fn get(&self, attribute: Option<&str>) -> Result<String, String> {
        match attribute {
            None => Ok(self.reference.clone()),
            Some(name) => self
                .attributes
                .get(name)
                .cloned()
                .ok_or_else(|| format!("has no attribute {name} in test support")),
        }
    }
}

/// The resource and attribute a `Fn::GetAtt` names, in either of its forms.
fn get_att(value: &Value) -> Option<(String, String)> {
    match value {
        Value::Array(parts) => Some((
            parts.first()?.as_str()?.to_owned(),
            parts.get(1)?.as_str()?.to_owned(),
        )),
        Value::String(text) => {
            let (name, attribute) = text.split_once('.')?;
            Some((name.to_owned(), attribute.to_owned()))
        }
        _ => None,
    }
}

/// The `${Name}` and `${Name.Attribute}` placeholders of a `Fn::Sub` string.
fn sub_names(text: &str) -> Vec<(String, Option<String>)> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = &after[..end];
        if !inner.starts_with('!') {
            match inner.split_once('.') {
                Some((name, attribute)) => {
                    names.push((name.to_owned(), Some(attribute.to_owned())))
                }
                None => names.push((inner.to_owned(), None)),
            }
        }
        rest = &after[end..];
    }
    names
}

/// Whether `value` refers to the resource `name` anywhere.
pub fn refers_to(value: &Value, name: &str) -> bool {
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::String(target)) = map.get("Ref") {
                    return target == name;
                }
                if let Some(target) = map.get("Fn::GetAtt").and_then(get_att) {
                    return target.0 == name;
                }
            }
            if let Some(sub) = map.get("Fn::Sub") {
                let text = match sub {
                    Value::String(text) => Some(text.as_str()),
                    Value::Array(parts) => parts.first().and_then(Value::as_str),
                    _ => None,
                };
                if text.is_some_and(|text| sub_names(text).iter().any(|(n, _)| n == name)) {
                    return true;
                }
            }
            map.values().any(|inner| refers_to(inner, name))
        }
        Value::Array(items) => items.iter().any(|inner| refers_to(inner, name)),
        _ => false,
    }
}

/// Replaces every reference to `name` in `value` by what `made` answers.
pub fn substitute(value: &mut Value, name: &str, made: &Made) -> Result<(), String> {
    replace(value, name, made, true)
}

/// Replaces the references to `name`'s attributes that `made` knows, and leaves the
/// others (a resource made later, of which some attributes are known before).
pub fn substitute_known(value: &mut Value, name: &str, made: &Made) -> Result<(), String> {
    replace(value, name, made, false)
}

fn replace(value: &mut Value, name: &str, made: &Made, strict: bool) -> Result<(), String> {
    let fail = |problem: String| format!("{name} {problem}");
    // What `made` answers for `attribute`: `None` where it does not know and need not.
    let answer = |attribute: Option<&str>| -> Result<Option<String>, String> {
        match made.get(attribute) {
            Ok(found) if strict || attribute.is_some() => Ok(Some(found)),
            Ok(_) => Ok(None),
            Err(_) if !strict => Ok(None),
            Err(problem) => Err(fail(problem)),
        }
    };
    if let Value::Object(map) = value {
        if map.len() == 1 {
            if map.get("Ref").and_then(Value::as_str) == Some(name) {
                if let Some(found) = answer(None)? {
                    *value = Value::String(found);
                }
                return Ok(());
            }
            if let Some((target, attribute)) = map.get("Fn::GetAtt").and_then(get_att)
                && target == name
            {
                if let Some(found) = answer(Some(&attribute))? {
                    *value = Value::String(found);
                }
                return Ok(());
            }
        }
        if let Some(sub) = map.get_mut("Fn::Sub") {
            let text = match sub {
                Value::String(text) => Some(text),
                Value::Array(parts) => parts.first_mut().and_then(|first| match first {
                    Value::String(text) => Some(text),
                    _ => None,
                }),
                _ => None,
            };
            if let Some(text) = text {
                for (target, attribute) in sub_names(text) {
                    if target != name {
                        continue;
                    }
                    let placeholder = match &attribute {
                        Some(attribute) => format!("${{{target}.{attribute}}}"),
                        None => format!("${{{target}}}"),
                    };
                    if let Some(found) = answer(attribute.as_deref())? {
                        *text = text.replace(&placeholder, &found);
                    }
                }
            }
        }
    }
    match value {
        Value::Object(map) => map
            .values_mut()
            .try_for_each(|inner| replace(inner, name, made, strict)),
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|inner| replace(inner, name, made, strict)),
        _ => Ok(()),
    }
}

/// Replaces every `Ref` to `name` in `value` by `with` (itself a value or an intrinsic);
/// any other reference to it is refused, naming it.
pub fn stand_in(value: &mut Value, name: &str, with: &Value) -> Result<(), String> {
    if let Value::Object(map) = value
        && map.len() == 1
        && map.get("Ref").and_then(Value::as_str) == Some(name)
    {
        *value = with.clone();
        return Ok(());
    }
    // Any other reference at this level: an `Fn::GetAtt`, or `${name}` in an `Fn::Sub`.
    if let Value::Object(map) = value {
        let get_att = map
            .get("Fn::GetAtt")
            .and_then(get_att)
            .is_some_and(|(target, _)| target == name);
        let sub = map
            .get("Fn::Sub")
            .is_some_and(|sub| refers_to(&serde_json::json!({ "Fn::Sub": sub }), name));
        if get_att || sub {
            return Err(format!(
                "{value} refers to {name}, which test support replaces only where it is a `Ref`"
            ));
        }
    }
    match value {
        Value::Object(map) => map
            .values_mut()
            .try_for_each(|inner| stand_in(inner, name, with)),
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|inner| stand_in(inner, name, with)),
        _ => Ok(()),
    }
}

/// Removes `name` from a resource's `DependsOn` (a name or a list of names).
pub fn drop_dependency(resource: &mut Value, name: &str) {
    let Some(map) = resource.as_object_mut() else {
        return;
    };
    match map.get_mut("DependsOn") {
        Some(Value::String(target)) if target == name => {
            map.remove("DependsOn");
        }
        Some(Value::Array(targets)) => targets.retain(|target| target != name),
        _ => {}
    }
}

/// Resolves a property value made only of literals and `Ref`s to parameters or to
/// resources (by `physical`: their physical ids), as CloudFormation would.
pub fn resolve(
    value: &Value,
    parameters: &BTreeMap<String, String>,
    physical: &BTreeMap<String, String>,
) -> Result<Value, String> {
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key("Ref") => {
            let name = map.get("Ref").and_then(Value::as_str).unwrap_or_default();
            parameters
                .get(name)
                .or_else(|| physical.get(name))
                .map(|found| Value::String(found.clone()))
                .ok_or_else(|| format!("Ref {name}: no such parameter or resource in the stack"))
        }
        Value::Object(map) if map.len() == 1 && map.contains_key("Fn::Sub") => {
            let (text, variables) = match &map["Fn::Sub"] {
                Value::String(text) => (text.as_str(), None),
                Value::Array(parts) => (
                    parts.first().and_then(Value::as_str).unwrap_or_default(),
                    parts.get(1).and_then(Value::as_object),
                ),
                other => return Err(format!("Fn::Sub of {other}")),
            };
            let mut resolved = text.to_owned();
            for (name, attribute) in sub_names(text) {
                let placeholder = match &attribute {
                    Some(attribute) => format!("${{{name}.{attribute}}}"),
                    None => format!("${{{name}}}"),
                };
                let value = match (variables.and_then(|map| map.get(&name)), &attribute) {
                    (Some(variable), None) => resolve(variable, parameters, physical)?
                        .as_str()
                        .map(str::to_owned),
                    (None, None) => parameters
                        .get(&name)
                        .or_else(|| physical.get(&name))
                        .cloned(),
                    _ => None,
                };
                let value = value.ok_or_else(|| {
                    format!("{placeholder} in {text}: test support does not resolve it")
                })?;
                resolved = resolved.replace(&placeholder, &value);
            }
            Ok(Value::String(resolved))
        }
        Value::Object(map) if map.keys().any(|key| key.starts_with("Fn::")) => Err(format!(
            "{value} uses an intrinsic test support does not resolve: extend \
             tests/src/deployed/intrinsics.rs"
        )),
        Value::Object(map) => map
            .iter()
            .map(|(key, inner)| Ok((key.clone(), resolve(inner, parameters, physical)?)))
            .collect::<Result<serde_json::Map<_, _>, String>>()
            .map(Value::Object),
        Value::Array(items) => items
            .iter()
            .map(|inner| resolve(inner, parameters, physical))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret() -> Made {
        Made {
            reference: "arn:secret".to_owned(),
            attributes: BTreeMap::from([("Id".to_owned(), "arn:secret".to_owned())]),
        }
    }

    #[test]
    fn finds_and_replaces_every_form_of_reference() {
        let mut value = json!({
            "A": {"Ref": "Key"},
            "B": {"Fn::GetAtt": ["Key", "Id"]},
            "C": {"Fn::Sub": "x-${Key}-${Other}-${!Key}"},
            "D": {"Ref": "Other"}
        });
        assert!(refers_to(&value, "Key"));
        substitute(&mut value, "Key", &secret()).expect("substituted");
        assert_eq!(
            value,
            json!({
                "A": "arn:secret",
                "B": "arn:secret",
                "C": {"Fn::Sub": "x-arn:secret-${Other}-${!Key}"},
                "D": {"Ref": "Other"}
            })
        );
        assert!(!refers_to(&value, "Key"));
        assert!(refers_to(&value, "Other"));
    }

    #[test]
    fn a_stand_in_replaces_refs_and_refuses_the_rest() {
        let mut value = json!({"A": {"Ref": "Alias"}, "B": {"Ref": "Other"}});
        stand_in(&mut value, "Alias", &json!({"Ref": "Function"})).expect("replaced");
        assert_eq!(
            value,
            json!({"A": {"Ref": "Function"}, "B": {"Ref": "Other"}})
        );
        let mut value = json!({"A": {"Fn::GetAtt": ["Alias", "Arn"]}});
        let err = stand_in(&mut value, "Alias", &json!("x")).expect_err("refused");
        assert!(err.contains("refers to Alias"), "{err}");
    }

    #[test]
    fn an_unknown_attribute_is_named() {
        let mut value = json!({"Fn::GetAtt": "Key.Arn"});
        let err = substitute(&mut value, "Key", &secret()).expect_err("no Arn");
        assert!(err.contains("Key has no attribute Arn"), "{err}");
    }
}
