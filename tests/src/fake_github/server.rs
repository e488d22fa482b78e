//! The fake's HTTP side: one handler that records the request, matches a route, checks the
//! credential (App JWT or installation token, its repository and permissions), plays a
//! scripted fault if one is due, and otherwise lets `routes` answer.

use super::openapi::{self, Description, Operation, Verdict};
use super::routes::{self, Call};
use super::{APP_ID, AuthKind, Fault, Recorded, Route, State};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ota_github::{Access, Endpoint};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where GitHub's error answers point when the fake knows no better page.
const DOCUMENTATION_URL: &str = "https://docs.github.com/rest";

/// GitHub refuses App JWTs that live longer than ten minutes.
const MAX_JWT_LIFETIME_SECS: u64 = 600;

/// What a route answers.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Value,
    /// Set when the fake refuses the request because the client got something wrong.
    pub(crate) refused: Option<String>,
    /// A plain-text body instead of `body`'s JSON.
    pub(crate) text: Option<String>,
}

impl Answer {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
            refused: None,
            text: None,
        }
    }

    /// A plain-text answer, as GitHub's front end gives some refusals.
    pub(crate) fn text(status: u16, text: &str) -> Self {
        Self {
            text: Some(text.to_owned()),
            ..Self::json(status, Value::Null)
        }
    }

    /// A legitimate error answer, GitHub-style.
    pub(crate) fn error(status: u16, message: &str) -> Self {
        Self::json(
            status,
            json!({
                "message": message,
                "documentation_url": DOCUMENTATION_URL,
                "status": status.to_string(),
            }),
        )
    }

    /// An error caused by a client mistake: it counts as unexpected.
    pub(crate) fn refuse(status: u16, message: &str, why: impl Into<String>) -> Self {
        Self {
            refused: Some(why.into()),
            ..Self::error(status, message)
        }
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match self.text {
            Some(text) => (status, text).into_response(),
            None => (status, axum::Json(self.body)).into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

pub(crate) async fn serve(listener: tokio::net::TcpListener, state: Arc<Mutex<State>>) {
    let app = Router::new().fallback(handle).with_state(state);
    // Ends when the test drops the fake (the task is aborted) or the socket fails.
    let _ = axum::serve(listener, app).await;
}

async fn handle(
    Shared(state): Shared<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    let query: BTreeMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let body_json = (!body.is_empty())
        .then(|| serde_json::from_slice::<Value>(&body).ok())
        .flatten();
    let path = uri
        .path()
        .strip_prefix(state.prefix.as_str())
        .map(str::to_owned);
    let mut record = Recorded {
        method: method.to_string(),
        path: path.clone().unwrap_or_else(|| uri.path().to_owned()),
        query: query.clone(),
        body: body_json.clone(),
        auth: AuthKind::None,
        user_agent: None,
        route: None,
        refused: None,
        fault: None,
        status: 0,
    };
    let segments: Vec<String> = path
        .as_deref()
        .unwrap_or("")
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let user_agent = super::limits::user_agent(&headers);
    record.user_agent = user_agent.as_ref().ok().cloned();
    let description = openapi::description();
    let api_segments = if path.is_some() {
        segments.clone()
    } else {
        Vec::new()
    };
    if let Some(call) = super::oauth::parse(&method, uri.path(), &api_segments) {
        record.route = Some(call.route());
        let answer = match description
            .operation(method.as_str(), &api_segments)
            .filter(|_| call.is_api())
        {
            _ if user_agent.is_err() => user_agent.err().unwrap_or_else(|| Answer::error(403, "")),
            Some(operation) => match description.check_request(&operation, &query, None) {
                Verdict::Invalid(why) => Answer::refuse(422, "Invalid request.", why),
                Verdict::Accepted { .. }
                    if state
                        .faults
                        .iter()
                        .any(|(route, left, _)| *route == call.route() && *left > 0) =>
                {
                    let fault = take_fault(&mut state, call.route());
                    record.fault = fault;
                    match fault {
                        Some(Fault::Status(status)) => Answer::error(status, reason(status)),
                        _ => Answer::error(500, "the fake plays only status faults on user routes"),
                    }
                }
                Verdict::Accepted { .. } => {
                    let answer = super::oauth::answer(
                        &mut state.oauth,
                        &call,
                        &query,
                        &headers,
                        &body,
                        &mut record.auth,
                    );
                    completed(description, &operation, answer)
                }
            },
            None => super::oauth::answer(
                &mut state.oauth,
                &call,
                &query,
                &headers,
                &body,
                &mut record.auth,
            ),
        };
        record.status = answer.status;
        record.refused = answer.refused.clone();
        state.requests.push(record);
        return answer.into_response();
    }
    let operation = path
        .is_some()
        .then(|| description.operation(method.as_str(), &segments))
        .flatten();
    let mut ignored = Vec::new();
    let answer = match operation {
        // GitHub refuses a request without a User-Agent before anything else.
        _ if user_agent.is_err() => user_agent.err().unwrap_or_else(|| Answer::error(403, "")),
        // GitHub answers 404 for a route it does not have, whatever the method.
        None => Answer::refuse(404, "Not Found", "no such operation in GitHub's REST API"),
        Some(operation) => {
            record.path = format!("/{}", segments.join("/"));
            let verdict = description.check_request(&operation, &query, body_json.as_ref());
            let call = routes::parse(&method, &segments);
            match (verdict, call) {
                // GitHub's answer to a body it cannot parse.
                _ if !body.is_empty() && body_json.is_none() => {
                    Answer::refuse(400, "Problems parsing JSON", "the body is not JSON")
                }
                (Verdict::Invalid(why), _) => {
                    let mut answer = Answer::refuse(
                        422,
                        &format!("Invalid request.\n\n{why}"),
                        format!("GitHub's description refuses it: {why}"),
                    );
                    if let Some(url) = description.docs_url(&operation) {
                        answer.body["documentation_url"] = json!(url);
                    }
                    answer
                }
                (Verdict::Accepted { .. }, None) => Answer::refuse(
                    404,
                    "Not Found",
                    format!(
                        "{} {} is GitHub's, but the fake does not serve it",
                        operation.method, operation.template
                    ),
                ),
                (Verdict::Accepted { ignored: names }, Some(call)) => {
                    ignored = names;
                    record.route = Some(call.route());
                    let endpoint = call.endpoint();
                    if Endpoint::find(&operation.method, &operation.template) != Some(endpoint) {
                        Answer::refuse(
                            404,
                            "Not Found",
                            format!(
                                "the fake routed {} {} as {endpoint:?}, which production's table puts elsewhere",
                                operation.method, operation.template
                            ),
                        )
                    } else {
                        let answer = authorized(
                            &mut state,
                            &mut record,
                            &headers,
                            &call,
                            &query,
                            body_json.as_ref(),
                        );
                        // A scripted fault is sent as scripted: a wrong shape stays wrong.
                        if record.fault.is_some() {
                            answer
                        } else {
                            completed(description, &operation, answer)
                        }
                    }
                }
            }
        }
    };
    record.status = answer.status;
    record.refused = answer.refused.clone().or_else(|| {
        (!ignored.is_empty()).then(|| {
            format!(
                "query parameters GitHub ignores (the client meant something by them): {ignored:?}"
            )
        })
    });
    state.requests.push(record);
    answer.into_response()
}

/// Checks the credential, then plays a fault or the route.
fn authorized(
    state: &mut State,
    record: &mut Recorded,
    headers: &HeaderMap,
    call: &Call,
    query: &BTreeMap<String, String>,
    body: Option<&Value>,
) -> Answer {
    let credential = credential(headers);
    match call {
        Call::ManifestConversion { .. } => {
            // GitHub asks for no credential here; one sent anyway is recorded, not checked.
            record.auth = match credential {
                Some(("bearer", jwt)) => check_jwt(jwt, &state.app_keys),
                Some(_) => AuthKind::Other,
                None => AuthKind::None,
            };
        }
        Call::AccessToken { .. } | Call::App => {
            record.auth = match credential {
                Some(("bearer", jwt)) => check_jwt(jwt, &state.app_keys),
                Some(_) => AuthKind::Other,
                None => AuthKind::None,
            };
            if !matches!(record.auth, AuthKind::AppJwt { .. }) {
                return Answer::refuse(
                    401,
                    "A JSON web token could not be decoded",
                    format!("not a valid App JWT: {:?}", record.auth),
                );
            }
        }
        Call::Repo { repo, .. } => {
            let Some((_, token)) = credential else {
                return Answer::refuse(401, "Requires authentication", "no credential");
            };
            let now = SystemTime::now();
            let Some(minted) = state.tokens.iter().find(|minted| minted.token == token) else {
                record.auth = AuthKind::UnknownToken;
                return Answer::refuse(401, "Bad credentials", "a token the fake never minted");
            };
            if minted.expires_at <= now {
                record.auth = AuthKind::UnknownToken;
                return Answer::refuse(401, "Bad credentials", "an expired token");
            }
            record.auth = AuthKind::InstallationToken {
                installation: minted.installation,
                repositories: minted.repositories.clone(),
            };
            let name = repo.split_once('/').map_or("", |(_, name)| name);
            if !minted.repositories.iter().any(|scoped| scoped == name) {
                return Answer::refuse(404, "Not Found", format!("token not scoped to {repo}"));
            }
            let endpoint = call.endpoint();
            let allowed = endpoint.allowed(|name| match minted.permissions.get(name)?.as_str() {
                "read" => Some(Access::Read),
                "write" => Some(Access::Write),
                _ => None,
            });
            if !allowed {
                // GitHub's answer to a token without the endpoint's permission.
                return Answer::refuse(
                    403,
                    "Resource not accessible by integration",
                    format!("the token lacks {:?} for {endpoint:?}", endpoint.needs()),
                );
            }
        }
    }
    let route = call.route();
    let fault = take_fault(state, route);
    record.fault = fault;
    match fault {
        Some(Fault::Status(status)) => Answer::error(status, reason(status)),
        Some(Fault::RateLimited { retry_after_secs }) => Answer {
            headers: vec![("retry-after", retry_after_secs.to_string())],
            ..Answer::error(
                403,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            )
        },
        Some(Fault::QuotaExhausted { reset_in_secs }) => {
            let reset = SystemTime::now() + Duration::from_secs(reset_in_secs);
            let reset = reset
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            Answer {
                headers: vec![
                    ("x-ratelimit-remaining", "0".to_owned()),
                    ("x-ratelimit-reset", reset.to_string()),
                ],
                ..Answer::error(403, "API rate limit exceeded for installation.")
            }
        }
        Some(Fault::WrongShape) => Answer::json(
            200,
            json!({ "id": "not-a-number", "message": "a body of another shape" }),
        ),
        Some(Fault::AfterCommit(status)) => {
            routes::answer(state, call, query, body);
            Answer::error(status, reason(status))
        }
        None => routes::answer(state, call, query, body),
    }
}

/// A successful answer completed to the full shape GitHub's description gives it; an
/// answer that still breaks the description is the fake's mistake, and fails the test.
fn completed(description: &Description, operation: &Operation, mut answer: Answer) -> Answer {
    if !(200..300).contains(&answer.status) {
        return answer;
    }
    let Some(schema) = description.response_schema(operation, answer.status) else {
        return answer;
    };
    answer.body = description.complete(schema, &answer.body);
    let problems = description.problems(schema, &answer.body, "answer");
    if !problems.is_empty() && answer.refused.is_none() {
        answer.refused = Some(format!(
            "the fake's answer to {} {} breaks GitHub's description: {}",
            operation.method,
            operation.template,
            problems.join("; ")
        ));
    }
    answer
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Fault")
}

fn take_fault(state: &mut State, route: Route) -> Option<Fault> {
    let (_, remaining, fault) = state
        .faults
        .iter_mut()
        .find(|(faulty, remaining, _)| *faulty == route && *remaining > 0)?;
    *remaining -= 1;
    Some(*fault)
}

/// The scheme (lower case) and the credential of the `Authorization` header.
fn credential(headers: &HeaderMap) -> Option<(&'static str, &str)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "bearer" => "bearer",
        "token" => "token",
        _ => "other",
    };
    Some((scheme, credential.trim()))
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    iat: u64,
    exp: u64,
}

/// A JWT signed by one of the test App's keys (`keys`, the public halves GitHub has),
/// issued by the test App, valid now, living at most ten minutes.
fn check_jwt(jwt: &str, keys: &[String]) -> AuthKind {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[APP_ID.to_string()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss"]);
    let mut why = "the App has no key".to_owned();
    let mut decoded = None;
    for pem in keys {
        let key = match DecodingKey::from_rsa_pem(pem.as_bytes()) {
            Ok(key) => key,
            Err(err) => return AuthKind::BadJwt(format!("test public key: {err}")),
        };
        match jsonwebtoken::decode::<Claims>(jwt, &key, &validation) {
            Ok(data) => {
                decoded = Some(data.claims);
                break;
            }
            Err(err) => why = err.to_string(),
        }
    }
    let Some(claims) = decoded else {
        return AuthKind::BadJwt(why);
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    if claims.exp.saturating_sub(claims.iat) > MAX_JWT_LIFETIME_SECS {
        return AuthKind::BadJwt("exp is more than 10 minutes after iat".to_owned());
    }
    if claims.iat > now + 60 {
        return AuthKind::BadJwt("iat is in the future".to_owned());
    }
    AuthKind::AppJwt {
        iss: claims.iss,
        iat: claims.iat,
        exp: claims.exp,
    }
}
