//! What the intake queue carries to the policy stage: a GitHub delivery (the webhook's
//! [`Envelope`]), or a [`Request`] for jobs that did not come from GitHub — a schedule's
//! tick, an operator's run. Both take the same path: the same queue, the same policy stage
//! with its rules, limits and audit log, the same workflow.
//!
//! On the queue a delivery is its envelope, exactly as before requests existed; a request
//! is `{"version": 1, "request": {…}}`. A consumer tells them apart by the `request` key.

use crate::envelope::{ENVELOPE_VERSION, Envelope, Repository};
use crate::ids::{DeliveryId, InstallationId, RepoFullName, RepoId};
use serde::{Deserialize, Serialize};

/// One message for the policy stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Delivery(Envelope),
    Request(Request),
}

/// A request for jobs on a repository's default branch head, from outside GitHub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Names the request once: its jobs' ids derive from it, so a request queued twice
    /// starts its jobs once. A schedule's tick names the schedule and the minute it is
    /// for; an operator's run is a fresh id.
    pub id: DeliveryId,
    pub source: RequestSource,
    pub installation: InstallationId,
    pub repository: RequestRepository,
    /// The tasks to run, one job each, in this order; each must be a built-in task or
    /// one of the repository's config.
    pub tasks: Vec<String>,
    /// Instructions for every task; empty for none.
    #[serde(default)]
    pub text: String,
}

/// The repository a request is for: its name, and what else the requester knew of it.
/// A schedule's registry knows its id and default branch; an operator naming
/// repositories of an installation knows their names only, and the policy stage asks
/// GitHub for the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRepository {
    pub full_name: RepoFullName,
    #[serde(default)]
    pub id: Option<RepoId>,
    #[serde(default)]
    pub default_branch: Option<String>,
}

impl RequestRepository {
    /// A repository known by its name only.
    pub fn named(full_name: RepoFullName) -> Self {
        Self {
            full_name,
            id: None,
            default_branch: None,
        }
    }
}

impl From<Repository> for RequestRepository {
    fn from(repository: Repository) -> Self {
        Self {
            full_name: repository.full_name,
            id: Some(repository.id),
            default_branch: repository.default_branch,
        }
    }
}

/// Who asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestSource {
    /// A schedule of the repository's config fired (`schedule.cron`).
    Schedule { cron: String },
    /// An operator of the App asked, e.g. through `ota` (`local:alice`).
    Operator { login: String },
}

impl RequestSource {
    /// Who the audit log and the job name as the requester.
    pub fn requester(&self) -> String {
        match self {
            Self::Schedule { cron } => format!("schedule:{cron}"),
            Self::Operator { login } => login.clone(),
        }
    }
}

/// The longest SQS FIFO message group id.
const MESSAGE_GROUP_MAX_CHARS: usize = 128;

/// A request as the queue carries it.
#[derive(Serialize, Deserialize)]
struct QueuedRequest {
    version: u32,
    request: Request,
}

impl Inbound {
    /// Reads a queue message; the error says what is wrong with it, for the log line of a
    /// message that is set aside.
    pub fn from_queue_message(body: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|err| format!("not JSON: {err}"))?;
        if value.get("request").is_none() {
            return Envelope::from_queue_message(body).map(Self::Delivery);
        }
        let queued: QueuedRequest = serde_path_to_error::deserialize(value)
            .map_err(|err| format!("not a request: {}: {}", err.path(), err.inner()))?;
        if queued.version != ENVELOPE_VERSION {
            return Err(format!(
                "request version {} is not {ENVELOPE_VERSION}",
                queued.version
            ));
        }
        Ok(Self::Request(queued.request))
    }

    /// The message as the queue carries it.
    pub fn to_queue_message(&self) -> Result<String, serde_json::Error> {
        match self {
            Self::Delivery(envelope) => serde_json::to_string(envelope),
            Self::Request(request) => serde_json::to_string(&QueuedRequest {
                version: ENVELOPE_VERSION,
                request: request.clone(),
            }),
        }
    }

    /// What the queue deduplicates on.
    pub fn id(&self) -> &DeliveryId {
        match self {
            Self::Delivery(envelope) => &envelope.delivery,
            Self::Request(request) => &request.id,
        }
    }

    /// Messages of one repository are processed in order, deliveries and requests alike.
    pub fn ordering_key(&self) -> String {
        match self {
            Self::Delivery(envelope) => envelope.ordering_key(),
            Self::Request(request) => match request.repository.id {
                Some(id) => format!("repo-{id}"),
                // The name, where the id is not known: the same repository's requests
                // stay in order among themselves. Cut to SQS's 128 characters (GitHub
                // names are ASCII); two long names sharing a group only share an order.
                None => format!("repo-{}", request.repository.full_name)
                    .chars()
                    .take(MESSAGE_GROUP_MAX_CHARS)
                    .collect(),
            },
        }
    }
}

impl Inbound {
    /// The span its processing is logged in, with the fields a reader searches by.
    pub fn span(&self) -> tracing::Span {
        match self {
            Self::Delivery(envelope) => envelope.span(),
            Self::Request(request) => tracing::info_span!(
                "event",
                delivery = %request.id,
                event = "request",
                source = request.source.requester(),
                installation = request.installation.0,
                repo = request.repository.full_name.as_str(),
            ),
        }
    }
}

impl From<Envelope> for Inbound {
    fn from(envelope: Envelope) -> Self {
        Self::Delivery(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            id: DeliveryId::parse("schedule-0-202612021000").expect("id"),
            source: RequestSource::Schedule {
                cron: "0 10 * * 1".to_owned(),
            },
            installation: InstallationId(7),
            repository: Repository {
                id: RepoId(42),
                full_name: RepoFullName::new("octo-org/app"),
                default_branch: Some("main".to_owned()),
                private: true,
            }
            .into(),
            tasks: vec!["docs".to_owned()],
            text: String::new(),
        }
    }

    #[test]
    fn a_request_round_trips_through_the_queue_and_keeps_its_repositorys_order() {
        let inbound = Inbound::Request(request());
        let body = inbound.to_queue_message().expect("json");
        assert!(body.starts_with(r#"{"version":1,"request":{"#), "{body}");
        assert_eq!(Inbound::from_queue_message(&body), Ok(inbound.clone()));
        assert_eq!(inbound.ordering_key(), "repo-42");
        assert_eq!(inbound.id().as_str(), "schedule-0-202612021000");
    }

    #[test]
    fn a_request_for_a_repository_known_by_name_keeps_its_order_by_name() {
        let mut request = request();
        request.repository = RequestRepository::named(RepoFullName::new("octo-org/app"));
        let inbound = Inbound::Request(request);
        let body = inbound.to_queue_message().expect("json");
        assert_eq!(Inbound::from_queue_message(&body), Ok(inbound.clone()));
        assert_eq!(inbound.ordering_key(), "repo-octo-org/app");
        let mut long = self::request();
        long.repository =
            RequestRepository::named(RepoFullName::new(format!("o/{}", "r".repeat(200))));
        assert_eq!(Inbound::Request(long).ordering_key().len(), 128);
    }

    #[test]
    fn a_request_queued_before_names_were_enough_still_reads() {
        // What a schedule queued when the repository was always complete.
        let body = r#"{"version":1,"request":{"id":"s-1","source":{"kind":"schedule","cron":"0 3 * * *"},"installation":7,"repository":{"id":42,"full_name":"octo-org/app","default_branch":"main","private":true},"tasks":["docs"]}}"#;
        let Ok(Inbound::Request(request)) = Inbound::from_queue_message(body) else {
            panic!("not a request");
        };
        assert_eq!(request.repository.id, Some(RepoId(42)));
        assert_eq!(request.repository.default_branch.as_deref(), Some("main"));
    }

    #[test]
    fn a_bad_request_names_the_field() {
        let body = r#"{"version":1,"request":{"id":"x","source":{"kind":"moon"}}}"#;
        let err = Inbound::from_queue_message(body).expect_err("bad source");
        assert!(err.starts_with("not a request: request.source"), "{err}");
        let body = r#"{"version":9,"request":{}}"#;
        assert!(Inbound::from_queue_message(body).is_err());
        assert!(Inbound::from_queue_message("[").is_err());
    }

    #[test]
    fn sources_name_their_requester() {
        let operator = RequestSource::Operator {
            login: "local:alice".to_owned(),
        };
        assert_eq!(operator.requester(), "local:alice");
        assert_eq!(request().source.requester(), "schedule:0 10 * * 1");
    }
}
