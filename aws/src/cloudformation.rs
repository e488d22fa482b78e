//! A deployed stack as CloudFormation describes it: its outputs by name, for the
//! operator's `ota --stack NAME` to find the table, the state machine, the queues and
//! the secrets `template.yaml` created.

use crate::describe;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use std::collections::BTreeMap;

/// Why the stack's resources could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    #[error(
        "there is no stack {stack:?} in this account and region; check the name, AWS_REGION \
         and AWS_PROFILE (`aws cloudformation describe-stacks --stack-name {stack}`)"
    )]
    NotFound { stack: String },
    #[error("could not describe stack {stack:?}: {reason}")]
    Unavailable { stack: String, reason: String },
    #[error(
        "stack {stack:?} has no output {output} ({what}); was it deployed from an older \
         template.yaml? Deploy the current one with `scripts/deploy`"
    )]
    MissingOutput {
        stack: String,
        output: String,
        what: String,
    },
}

/// A stack's outputs, read once.
#[derive(Debug, Clone)]
pub struct StackOutputs {
    stack: String,
    outputs: BTreeMap<String, String>,
}

impl StackOutputs {
    /// Describes `stack` (its name or id). A stack that does not exist is
    /// [`StackError::NotFound`]; CloudFormation says so with a `ValidationError`.
    pub async fn describe(client: &Client, stack: &str) -> Result<Self, StackError> {
        let answer = client.describe_stacks().stack_name(stack).send().await;
        let output = match answer {
            Ok(output) => output,
            Err(err)
                if err.code() == Some("ValidationError")
                    && err.message().is_some_and(|m| m.contains("does not exist")) =>
            {
                return Err(StackError::NotFound {
                    stack: stack.to_owned(),
                });
            }
            Err(err) => {
                return Err(StackError::Unavailable {
                    stack: stack.to_owned(),
                    reason: describe(&err),
                });
            }
        };
        let Some(found) = output.stacks.unwrap_or_default().into_iter().next() else {
            return Err(StackError::NotFound {
                stack: stack.to_owned(),
            });
        };
        let outputs = found
            .outputs
            .unwrap_or_default()
            .into_iter()
            .filter_map(|output| Some((output.output_key?, output.output_value?)))
            .collect();
        Ok(Self {
            stack: stack.to_owned(),
            outputs,
        })
    }

    /// The stack's outputs as given, for tests and other readers.
    pub fn from_outputs(stack: &str, outputs: BTreeMap<String, String>) -> Self {
        Self {
            stack: stack.to_owned(),
            outputs,
        }
    }

    /// The stack's name as the operator gave it.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The output `name`; `what` says what it is, for the error when it is missing.
    pub fn get(&self, name: &str, what: &str) -> Result<&str, StackError> {
        self.outputs
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| StackError::MissingOutput {
                stack: self.stack.clone(),
                output: name.to_owned(),
                what: what.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_output_names_the_stack_the_output_and_what_it_is() {
        let outputs = StackOutputs::from_outputs(
            "ota-prod",
            BTreeMap::from([("JobsTableName".to_owned(), "t".to_owned())]),
        );
        assert_eq!(outputs.get("JobsTableName", "the jobs table"), Ok("t"));
        let err = outputs
            .get("JobStateMachineArn", "the job state machine")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "stack \"ota-prod\" has no output JobStateMachineArn (the job state machine); was \
             it deployed from an older template.yaml? Deploy the current one with \
             `scripts/deploy`"
        );
    }
}
