//! The template's `Conditions` as CloudFormation evaluates them for the tests' parameters,
//! so that moto's copy holds only what CloudFormation would create: a resource whose
//! condition is false is left out (moto need not know its type), and each `Fn::If` is
//! replaced by the branch CloudFormation takes.

use serde_json::Value;
use std::collections::BTreeMap;

/// Every condition of `template`, evaluated with `parameters` (defaults included).
pub fn evaluate(
    template: &Value,
    parameters: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, bool>, String> {
    let declared = template["Conditions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut values = BTreeMap::new();
    for name in declared.keys() {
        let value = condition(name, &declared, parameters, &mut values, 0)?;
        values.insert(name.clone(), value);
    }
    Ok(values)
}

fn condition(
    name: &str,
    declared: &serde_json::Map<String, Value>,
    parameters: &BTreeMap<String, String>,
    known: &mut BTreeMap<String, bool>,
    depth: usize,
) -> Result<bool, String> {
    if let Some(value) = known.get(name) {
        return Ok(*value);
    }
    if depth > 32 {
        return Err(format!("condition {name} refers to itself"));
    }
    let body = declared
        .get(name)
        .ok_or_else(|| format!("no condition {name}"))?;
    let value = truth(body, declared, parameters, known, depth + 1)?;
    known.insert(name.to_owned(), value);
    Ok(value)
}

fn truth(
    body: &Value,
    declared: &serde_json::Map<String, Value>,
    parameters: &BTreeMap<String, String>,
    known: &mut BTreeMap<String, bool>,
    depth: usize,
) -> Result<bool, String> {
    let (function, arguments) = body
        .as_object()
        .and_then(|map| map.iter().next())
        .ok_or_else(|| format!("not a condition function: {body}"))?;
    let items = || arguments.as_array().cloned().unwrap_or_default();
    match function.as_str() {
        "Condition" => condition(
            arguments.as_str().unwrap_or_default(),
            declared,
            parameters,
            known,
            depth,
        ),
        "Fn::Not" => Ok(!truth(&items()[0], declared, parameters, known, depth)?),
        "Fn::And" => items().iter().try_fold(true, |all, item| {
            Ok(all && truth(item, declared, parameters, known, depth)?)
        }),
        "Fn::Or" => items().iter().try_fold(false, |any, item| {
            Ok(any || truth(item, declared, parameters, known, depth)?)
        }),
        "Fn::Equals" => {
            let sides = items();
            let [left, right] = sides.as_slice() else {
                return Err(format!("Fn::Equals takes two values: {arguments}"));
            };
            Ok(scalar(left, parameters)? == scalar(right, parameters)?)
        }
        other => Err(format!("condition function {other} is not evaluated here")),
    }
}

fn scalar(value: &Value, parameters: &BTreeMap<String, String>) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Object(map) => match map.get("Ref").and_then(Value::as_str) {
            Some(name) => parameters
                .get(name)
                .cloned()
                .ok_or_else(|| format!("parameter {name} has no value")),
            None => Err(format!("not a value a condition compares: {value}")),
        },
        _ => Err(format!("not a value a condition compares: {value}")),
    }
}

/// Replaces each `Fn::If` in `value` by the branch `conditions` takes.
pub fn resolve_ifs(value: &mut Value, conditions: &BTreeMap<String, bool>) -> Result<(), String> {
    if let Some(arguments) = value.get("Fn::If").and_then(Value::as_array).cloned() {
        let [name, then, otherwise] = arguments.as_slice() else {
            return Err(format!("Fn::If takes three values: {arguments:?}"));
        };
        let name = name.as_str().unwrap_or_default();
        let taken = *conditions
            .get(name)
            .ok_or_else(|| format!("Fn::If names no condition {name}"))?;
        *value = if taken {
            then.clone()
        } else {
            otherwise.clone()
        };
        return resolve_ifs(value, conditions);
    }
    match value {
        Value::Object(map) => map
            .values_mut()
            .try_for_each(|item| resolve_ifs(item, conditions)),
        Value::Array(items) => {
            items
                .iter_mut()
                .try_for_each(|item| resolve_ifs(item, conditions))?;
            // `!Ref AWS::NoValue` in a list leaves the item out.
            items.retain(|item| item.get("Ref").and_then(Value::as_str) != Some("AWS::NoValue"));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Leaves out of `template` what a false condition keeps CloudFormation from creating
/// (resources and outputs), and resolves every `Fn::If`. Returns the resources left out
/// with their types and conditions.
pub fn apply(
    template: &mut Value,
    parameters: &BTreeMap<String, String>,
) -> Result<Vec<(String, String, String)>, String> {
    let conditions = evaluate(template, parameters)?;
    let mut left_out = Vec::new();
    for section in ["Resources", "Outputs"] {
        if let Some(items) = template.get_mut(section).and_then(Value::as_object_mut) {
            let off: Vec<String> = items
                .iter()
                .filter(|(_, item)| {
                    item["Condition"]
                        .as_str()
                        .is_some_and(|name| conditions.get(name) == Some(&false))
                })
                .map(|(key, _)| key.clone())
                .collect();
            for key in off {
                if let Some(item) = items.remove(&key)
                    && section == "Resources"
                {
                    left_out.push((
                        key,
                        item["Type"].as_str().unwrap_or_default().to_owned(),
                        item["Condition"].as_str().unwrap_or_default().to_owned(),
                    ));
                }
            }
        }
    }
    for section in ["Resources", "Outputs"] {
        if let Some(items) = template.get_mut(section) {
            resolve_ifs(items, &conditions)?;
        }
    }
    Ok(left_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_false_condition_leaves_its_resource_out_and_picks_the_other_branch() {
        let mut template = json!({
            "Conditions": {
                "Own": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Url"}, ""]}]},
                "Gpu": {"Fn::And": [{"Fn::Not": [{"Condition": "Own"}]}, {"Fn::Equals": ["a", "a"]}]}
            },
            "Resources": {
                "Service": {"Type": "AWS::ECS::Service", "Condition": "Gpu"},
                "Function": {"Type": "AWS::Lambda::Function", "Properties": {
                    "Name": {"Fn::If": ["Gpu", {"Ref": "Service"}, "none"]},
                    "List": ["a", {"Fn::If": ["Own", {"Ref": "AWS::NoValue"}, "b"]}]
                }}
            },
            "Outputs": {"S": {"Condition": "Gpu", "Value": {"Ref": "Service"}}}
        });
        let parameters = BTreeMap::from([("Url".to_owned(), "http://o".to_owned())]);
        let left_out = apply(&mut template, &parameters).expect("apply");
        assert_eq!(
            left_out,
            [(
                "Service".to_owned(),
                "AWS::ECS::Service".to_owned(),
                "Gpu".to_owned()
            )]
        );
        assert_eq!(
            template["Resources"]["Function"]["Properties"],
            json!({"Name": "none", "List": ["a"]})
        );
        assert_eq!(template["Outputs"], json!({}));
    }
}
