//! The project's metrics, defined once: what each stage and the runner count, under which
//! few dimensions, written as CloudWatch's embedded metric format (EMF, one JSON document
//! per line). The domain only [`record`]s a [`Metric`] as a `tracing` event of target
//! [`TARGET`]; on AWS a layer (`ota_aws::emf::EmfLayer`) prints its line on stdout, where
//! CloudWatch Logs turns it into metrics without an API call, and on one machine it is an
//! ordinary debug log line.
//!
//! CloudWatch bills per metric (each name × dimension values), so dimensions hold only
//! bounded words: decisions, endpoint kinds, outcomes and built-in task names (a task
//! a repository defines itself counts as `custom`).

use crate::config::BuiltinTask;
use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric the project publishes (the dashboard and the
/// alarms of `template.yaml` name it).
pub const NAMESPACE: &str = "OllamaTurboAgent";

/// The `tracing` target of metric events: the EMF layer prints these, and only these.
pub const TARGET: &str = "ota_metrics";

/// The unit of a published value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Seconds => "Seconds",
        }
    }
}

/// One EMF document under construction.
#[derive(Debug, Default)]
pub struct Emf {
    root: Map<String, Value>,
    directives: Vec<Value>,
}

impl Emf {
    pub fn new() -> Self {
        Self::default()
    }

    /// A dimension value or a plain property (searchable in Logs Insights).
    pub fn property(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.root.insert(key.to_owned(), value.into());
        self
    }

    /// Counts published under each of `dimension_sets` (`&[]` for no dimension).
    pub fn counts(self, dimension_sets: &[&[&str]], counts: &[(&str, u64)]) -> Self {
        let values: Vec<(&str, f64, Unit)> = counts
            .iter()
            .map(|(name, count)| (*name, *count as f64, Unit::Count))
            .collect();
        self.values(dimension_sets, &values)
    }

    /// Values published under each of `dimension_sets`, each with its unit.
    pub fn values(mut self, dimension_sets: &[&[&str]], values: &[(&str, f64, Unit)]) -> Self {
        for (name, value, _) in values {
            let number = if value.fract() == 0.0 && *value >= 0.0 && *value < u64::MAX as f64 {
                json!(*value as u64)
            } else {
                json!(value)
            };
            self.root.insert((*name).to_owned(), number);
        }
        self.directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": dimension_sets,
            "Metrics": values
                .iter()
                .map(|(name, _, unit)| json!({ "Name": name, "Unit": unit.as_str() }))
                .collect::<Vec<_>>(),
        }));
        self
    }

    pub fn to_line(&self, timestamp_millis: u64) -> String {
        let mut root = self.root.clone();
        root.insert(
            "_aws".to_owned(),
            json!({ "Timestamp": timestamp_millis, "CloudWatchMetrics": self.directives }),
        );
        Value::Object(root).to_string()
    }
}

/// What happened, as a metric. The names in the comments are the metrics CloudWatch
/// shows (`docs/operations.md` lists them with the dashboard and the alarms).
#[derive(Debug, Clone, PartialEq)]
pub enum Metric<'a> {
    /// The policy stage decided (`PolicyDecisions` by `Decision`): `accepted` and
    /// `approval_required` recorded a job, `denied`, `rate_limited` and `invalid` refused
    /// one, `ignored` and the operations (`approved`, `cancelled`) neither.
    Decision { decision: &'a str },
    /// The dispatch stage started a runner (`RunnersLaunched`) or put the attempt in line
    /// (`JobsQueued`), by `Endpoint` (`self_hosted`, `hosted`, or `none` while in line).
    Dispatch { launched: bool, endpoint: &'a str },
    /// A runner took its job (`RunnersStarted` by `Endpoint`).
    RunnerStarted { endpoint: &'a str },
    /// A runner's attempt ended (`Attempts` by `Endpoint` and `Outcome`, the error's name
    /// or `succeeded`; `AttemptDuration` in seconds by `Endpoint`, and for an attempt that
    /// succeeded `JobTokens`, prompt and completion together: a failed attempt's are not
    /// known).
    Attempt {
        endpoint: &'a str,
        outcome: &'a str,
        seconds: f64,
        tokens: Option<u64>,
    },
    /// A job ended (`JobsFinished` by `Task` and `Outcome`, its final status, and without
    /// dimension; `JobsFailed` counts those that did not succeed, for the failure-rate
    /// alarm; `JobDuration`, from request to end, in seconds).
    JobFinished {
        task: &'a str,
        outcome: &'a str,
        seconds: f64,
    },
    /// A component found its configuration wrong at start-up (`ConfigurationErrors`, and
    /// by `Component`); `setting` names what is wrong.
    ConfigurationError {
        component: &'a str,
        setting: &'a str,
    },
}

impl Metric<'_> {
    /// The EMF document of this metric.
    pub fn emf(&self) -> Emf {
        match self {
            Self::Decision { decision } => Emf::new()
                .property("Decision", *decision)
                .counts(&[&["Decision"]], &[("PolicyDecisions", 1)]),
            Self::Dispatch { launched, endpoint } => {
                let name = if *launched {
                    "RunnersLaunched"
                } else {
                    "JobsQueued"
                };
                Emf::new()
                    .property("Endpoint", *endpoint)
                    .counts(&[&["Endpoint"]], &[(name, 1)])
            }
            Self::RunnerStarted { endpoint } => Emf::new()
                .property("Endpoint", *endpoint)
                .counts(&[&["Endpoint"]], &[("RunnersStarted", 1)]),
            Self::Attempt {
                endpoint,
                outcome,
                seconds,
                tokens,
            } => {
                let mut values = vec![("AttemptDuration", *seconds, Unit::Seconds)];
                values.extend(tokens.map(|tokens| ("JobTokens", tokens as f64, Unit::Count)));
                Emf::new()
                    .property("Endpoint", *endpoint)
                    .property("Outcome", *outcome)
                    .counts(&[&["Endpoint", "Outcome"]], &[("Attempts", 1)])
                    .values(&[&["Endpoint"]], &values)
            }
            Self::JobFinished {
                task,
                outcome,
                seconds,
            } => Emf::new()
                .property("Task", task_dimension(task))
                .property("Outcome", *outcome)
                .counts(
                    &[&["Task", "Outcome"], &[]],
                    &[
                        ("JobsFinished", 1),
                        ("JobsFailed", u64::from(*outcome != "succeeded")),
                    ],
                )
                .values(&[&[]], &[("JobDuration", *seconds, Unit::Seconds)]),
            Self::ConfigurationError { component, setting } => Emf::new()
                .property("Component", *component)
                .property("setting", *setting)
                .counts(&[&[], &["Component"]], &[("ConfigurationErrors", 1)]),
        }
    }

    /// The EMF line of this metric at `timestamp_millis`.
    pub fn line(&self, timestamp_millis: u64) -> String {
        self.emf().to_line(timestamp_millis)
    }
}

/// A task's name as a dimension: built-in tasks by name, any other `custom`.
pub fn task_dimension(task: &str) -> &str {
    match BuiltinTask::from_name(task) {
        Some(builtin) => builtin.name(),
        None => "custom",
    }
}

/// Records `metric` now: a `tracing` event of target [`TARGET`] carrying its EMF line in
/// the field `emf`.
pub fn record(metric: &Metric<'_>) {
    let line = metric.line(crate::clock::now_ms());
    tracing::debug!(target: TARGET, emf = %line, "metric");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(metric: &Metric<'_>) -> Value {
        serde_json::from_str(&metric.line(1_700_000_000_000)).expect("json")
    }

    #[test]
    fn builds_a_document_cloudwatch_accepts() {
        let line = Emf::new()
            .property("Reason", "bad_signature")
            .counts(&[&[]], &[("Received", 1)])
            .counts(&[&["Reason"]], &[("Rejected", 1)])
            .to_line(1_700_000_000_000);
        let doc: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().expect("array");
        assert_eq!(directives.len(), 2);
        assert_eq!(directives[1]["Namespace"], NAMESPACE);
        assert_eq!(directives[1]["Dimensions"], json!([["Reason"]]));
        assert_eq!(
            directives[1]["Metrics"],
            json!([{"Name": "Rejected", "Unit": "Count"}])
        );
        assert_eq!(doc["Rejected"], 1);
        assert_eq!(doc["Reason"], "bad_signature");
    }

    #[test]
    fn a_finished_job_counts_by_task_and_outcome_and_as_a_failure() {
        let doc = doc(&Metric::JobFinished {
            task: "refactor",
            outcome: "failed",
            seconds: 61.5,
        });
        assert_eq!(doc["Task"], "refactor");
        assert_eq!(doc["Outcome"], "failed");
        assert_eq!(doc["JobsFinished"], 1);
        assert_eq!(doc["JobsFailed"], 1);
        assert_eq!(doc["JobDuration"], 61.5);
        let directives = &doc["_aws"]["CloudWatchMetrics"];
        assert_eq!(
            directives[0]["Dimensions"],
            json!([["Task", "Outcome"], []])
        );
        assert_eq!(
            directives[1]["Metrics"],
            json!([{"Name": "JobDuration", "Unit": "Seconds"}])
        );
    }

    #[test]
    fn a_repository_s_own_task_is_not_a_dimension_value() {
        let doc = doc(&Metric::JobFinished {
            task: "my-very-own-task",
            outcome: "succeeded",
            seconds: 3.0,
        });
        assert_eq!(doc["Task"], "custom");
        assert_eq!(doc["JobsFailed"], 0);
        assert_eq!(doc["JobDuration"], 3);
    }

    #[test]
    fn a_configuration_error_names_the_setting_and_counts_without_dimension() {
        let doc = doc(&Metric::ConfigurationError {
            component: "policy",
            setting: "APP_ID",
        });
        assert_eq!(doc["ConfigurationErrors"], 1);
        assert_eq!(doc["setting"], "APP_ID");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[], ["Component"]])
        );
    }
}
