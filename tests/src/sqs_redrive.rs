//! SQS's dead-letter redrive (`StartMessageMoveTask`), which moto lacks, in front of moto:
//! a server that answers that one action itself and passes every other request to moto as
//! it came (a process pointed at it with `AWS_ENDPOINT_URL` sees one AWS). It moves the
//! messages as SQS documents
//! (docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html):
//! only from a queue that is the dead-letter queue of another SQS queue, back to that
//! queue when no `DestinationArn` is given, FIFO to FIFO only, and one task per queue at
//! a time. The task here finishes before the answer (SQS moves in the background); the
//! moved messages keep their bodies, and on a FIFO queue their group ids (the
//! deduplication id is the message's id, which no other redriven message shares).
//!
//! SQS's reference names `ResourceNotFoundException` for a queue that is not there and
//! `UnsupportedOperation` for what it does not do; which one it answers for a source that
//! is not a dead-letter queue is not written down: the fake refuses it with
//! `UnsupportedOperation`, the one that stops a caller either way.

use aws_sdk_sqs::types::MessageSystemAttributeName;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The JSON protocol's header that names the action.
const TARGET: &str = "x-amz-target";

struct Front {
    moto: String,
    sqs: aws_sdk_sqs::Client,
    http: reqwest::Client,
    /// Every task started: source ARN, how many messages it moved.
    tasks: Mutex<Vec<(String, usize)>>,
}

/// The server, on a thread of its own (a test waits for the `ota` process it serves
/// without yielding); it stops when dropped.
pub struct SqsRedrive {
    addr: SocketAddr,
    front: Arc<Front>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for SqsRedrive {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl SqsRedrive {
    /// In front of this run's moto.
    pub async fn start() -> Self {
        let aws = crate::aws::config().await;
        let front = Arc::new(Front {
            moto: crate::aws::moto_endpoint().trim_end_matches('/').to_owned(),
            sqs: aws_sdk_sqs::Client::new(&aws),
            http: reqwest::Client::new(),
            tasks: Mutex::new(Vec::new()),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, address) = std::sync::mpsc::channel();
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&front));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the front's runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind the SQS redrive front");
                let _ = bound.send(listener.local_addr().expect("its address"));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let addr = address.recv().expect("the front listens");
        Self {
            addr,
            front,
            stop: Some(stop),
        }
    }

    /// The endpoint to give as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The tasks started so far: source ARN and messages moved.
    pub fn tasks(&self) -> Vec<(String, usize)> {
        self.front
            .tasks
            .lock()
            .unwrap_or_else(|err| err.into_inner())
            .clone()
    }
}

async fn handle(
    State(front): State<Arc<Front>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get(TARGET)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if target == "AmazonSQS.StartMessageMoveTask" {
        return match start_message_move_task(&front, &body).await {
            Ok(handle) => json_response(StatusCode::OK, json!({ "TaskHandle": handle })),
            Err((kind, message)) => error(kind, &message),
        };
    }
    pass_to_moto(&front, method, &uri, &headers, body).await
}

/// The request as it came, to moto; its answer as moto gave it.
async fn pass_to_moto(
    front: &Front,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let mut request = front
        .http
        .request(method, format!("{}{path}", front.moto))
        .body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(err) => {
            return (StatusCode::BAD_GATEWAY, format!("moto: {err}")).into_response();
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response
        .body(Body::from(bytes))
        .unwrap_or_else(|err| (StatusCode::BAD_GATEWAY, err.to_string()).into_response())
}

/// SQS's JSON-protocol error.
fn error(kind: &str, message: &str) -> Response {
    let mut response = json_response(
        StatusCode::BAD_REQUEST,
        json!({ "__type": format!("com.amazonaws.sqs#{kind}"), "message": message }),
    );
    if let Ok(value) = format!("AWS.SimpleQueueService.{kind};Sender").parse() {
        response.headers_mut().insert("x-amzn-query-error", value);
    }
    response
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.0")],
        body.to_string(),
    )
        .into_response()
}

type Refusal = (&'static str, String);

/// Moves every message of the source dead-letter queue back, as SQS's task does.
async fn start_message_move_task(front: &Front, body: &[u8]) -> Result<String, Refusal> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|err| ("InvalidParameterValue", format!("the request: {err}")))?;
    let Some(source_arn) = request["SourceArn"].as_str() else {
        return Err(("MissingParameter", "SourceArn is required".to_owned()));
    };
    let source = queue_url(front, source_arn).await?;
    // Only a dead-letter queue of another SQS queue.
    let origins = front
        .sqs
        .list_dead_letter_source_queues()
        .queue_url(&source)
        .send()
        .await
        .map_err(|err| {
            (
                "InternalError",
                format!("ListDeadLetterSourceQueues: {err}"),
            )
        })?
        .queue_urls;
    if origins.is_empty() {
        return Err((
            "UnsupportedOperation",
            "Source queue must be configured as a Dead Letter Queue.".to_owned(),
        ));
    }
    let destination = match (request["DestinationArn"].as_str(), origins.as_slice()) {
        (Some(arn), _) => queue_url(front, arn).await?,
        (None, [one]) => one.clone(),
        // Each message would go back to its own source; the stack has one per queue.
        (None, _) => {
            return Err((
                "UnsupportedOperation",
                "the fake moves back to one source queue only".to_owned(),
            ));
        }
    };
    let fifo = |url: &str| url.ends_with(".fifo");
    if fifo(&source) != fifo(&destination) {
        return Err((
            "InvalidParameterValue",
            "The source and destination queues must be of the same type.".to_owned(),
        ));
    }
    let moved = move_all(front, &source, &destination, fifo(&destination)).await?;
    let mut tasks = front.tasks.lock().unwrap_or_else(|err| err.into_inner());
    tasks.push((source_arn.to_owned(), moved));
    Ok(format!("task-{}", tasks.len()))
}

/// The URL of the queue `arn` (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
async fn queue_url(front: &Front, arn: &str) -> Result<String, Refusal> {
    let name = arn
        .strip_prefix("arn:aws:sqs:")
        .and_then(|rest| rest.rsplit(':').next())
        .ok_or_else(|| ("InvalidParameterValue", format!("{arn} is not a queue ARN")))?;
    front
        .sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .ok()
        .and_then(|found| found.queue_url)
        .ok_or_else(|| {
            (
                "ResourceNotFoundException",
                format!("The resource that you specified for the SourceArn parameter doesn't exist: {arn}"),
            )
        })
}

async fn move_all(
    front: &Front,
    source: &str,
    destination: &str,
    fifo: bool,
) -> Result<usize, Refusal> {
    let failed = |what: &str, err: String| ("InternalError", format!("{what}: {err}"));
    let mut moved = 0;
    loop {
        let received = front
            .sqs
            .receive_message()
            .queue_url(source)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|err| failed("ReceiveMessage", err.to_string()))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(moved);
        }
        for message in messages {
            let mut send = front
                .sqs
                .send_message()
                .queue_url(destination)
                .message_body(message.body.clone().unwrap_or_default());
            if fifo {
                let group = message
                    .attributes
                    .as_ref()
                    .and_then(|attributes| {
                        attributes.get(&MessageSystemAttributeName::MessageGroupId)
                    })
                    .cloned()
                    .unwrap_or_default();
                send = send
                    .message_group_id(group)
                    .message_deduplication_id(message.message_id.clone().unwrap_or_default());
            }
            send.send()
                .await
                .map_err(|err| failed("SendMessage", err.to_string()))?;
            front
                .sqs
                .delete_message()
                .queue_url(source)
                .receipt_handle(message.receipt_handle.unwrap_or_default())
                .send()
                .await
                .map_err(|err| failed("DeleteMessage", err.to_string()))?;
            moved += 1;
        }
    }
}
