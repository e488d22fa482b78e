//! A stand-in for AWS Lambda's Invoke API, for tests (moto runs functions only in Docker):
//! `POST /2015-03-31/functions/{name}/invocations` with a JSON event in, the handler's JSON
//! answer out. A handler's error is answered as Lambda answers a function error: status
//! 200, `X-Amz-Function-Error: Unhandled` and `{"errorMessage", "errorType"}`. An unknown
//! function is Lambda's 404 `ResourceNotFoundException`, an event that is not JSON its 400
//! `InvalidRequestContentException`. [`FakeLambda::dispatch_tokens`] runs the real
//! dispatch function's token handler in-process.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use dispatch_function::{Invocation, TokenDesk};
use serde_json::{Value, json};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What the fake runs for an invocation: the event in, the answer or the function's error.
pub type Handler =
    Arc<dyn Fn(Value) -> Pin<Box<dyn Future<Output = Result<Value, String>> + Send>> + Send + Sync>;

struct Function {
    name: String,
    handler: Handler,
    invocations: AtomicUsize,
}

/// The aliases every function has: the template's `AutoPublishAlias`.
const ALIASES: &[&str] = &["live"];

/// One function behind a fake Invoke API; the server stops when the fake is dropped.
pub struct FakeLambda {
    addr: SocketAddr,
    function: Arc<Function>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLambda {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeLambda {
    /// The function `name`, running `handler`.
    pub async fn start(name: &str, handler: Handler) -> Self {
        let function = Arc::new(Function {
            name: name.to_owned(),
            handler,
            invocations: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Lambda");
        let addr = listener.local_addr().expect("fake Lambda address");
        let app = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(function.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            function,
            server,
        }
    }

    /// The dispatch function `name` as far as runners use it: the real token handler
    /// (`dispatch_function::TokenDesk`) on a runner's token request; an SQS batch is a
    /// function error here (the workflow tests call the batch handler themselves).
    pub async fn dispatch_tokens(name: &str, desk: TokenDesk) -> Self {
        let desk = Arc::new(desk);
        let handler: Handler = Arc::new(move |event| {
            let desk = desk.clone();
            Box::pin(async move {
                match Invocation::read(event).map_err(|err| err.to_string())? {
                    Invocation::Token(request) => Ok(desk.answer(&request).await),
                    Invocation::Batch(_) => {
                        Err("this test's dispatch function takes no SQS batch".to_owned())
                    }
                }
            })
        });
        Self::start(name, handler).await
    }

    /// The endpoint to point a Lambda client at.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.function.name
    }

    /// How many times the function was invoked.
    pub fn invocations(&self) -> usize {
        self.function.invocations.load(Ordering::SeqCst)
    }

    /// A Lambda client of `aws`'s settings pointed at this fake.
    pub fn client(&self, aws: &aws_config::SdkConfig) -> aws_sdk_lambda::Client {
        let config = aws_sdk_lambda::config::Builder::from(aws)
            .endpoint_url(self.url())
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }
}

fn service_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({ "Type": "User", "message": message }).to_string();
    (
        status,
        [
            (
                HeaderName::from_static("x-amzn-errortype"),
                HeaderValue::from_str(kind).unwrap_or(HeaderValue::from_static("Unknown")),
            ),
            (
                HeaderName::from_static("content-type"),
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn invoke(
    State(function): State<Arc<Function>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    // A name, or an ARN that ends in it; either may carry the qualifier of an alias the
    // function has (`name:live`, as the template publishes every function). Any other
    // qualifier names a version or alias that does not exist: not found, as Lambda says.
    let unqualified = match name.rsplit_once(':') {
        Some((base, qualifier)) if ALIASES.contains(&qualifier) => base,
        _ => name.as_str(),
    };
    let named = unqualified == function.name
        || unqualified.ends_with(&format!(":function:{}", function.name));
    if !named {
        return service_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {name}"),
        );
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return service_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json",
        );
    };
    function.invocations.fetch_add(1, Ordering::SeqCst);
    match (function.handler)(event).await {
        Ok(answer) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            answer.to_string(),
        )
            .into_response(),
        Err(message) => (
            StatusCode::OK,
            [
                ("content-type", "application/json"),
                ("x-amz-function-error", "Unhandled"),
            ],
            json!({ "errorType": "Error", "errorMessage": message }).to_string(),
        )
            .into_response(),
    }
}
