//! Deliveries as GitHub sends them: a body, its HMAC signature and GitHub's headers,
//! packaged as the event a Lambda Function URL hands the webhook function.

use base64::Engine;
use lambda_http::request::LambdaRequest;
use serde_json::{Value, json};

/// One delivery under construction; `build` signs it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Option<String>,
    pub delivery_id: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub signature: Signature,
    /// Send the body base64-encoded, as Function URLs do for non-text content.
    pub base64: bool,
}

#[derive(Debug, Clone)]
pub enum Signature {
    With(String),
    Header(String),
    Missing,
}

impl Delivery {
    /// A JSON delivery of `event`, signed with `secret`, with a fresh delivery id.
    pub fn json(event: &str, payload: &Value, secret: &str) -> Self {
        Self {
            event: Some(event.to_owned()),
            delivery_id: Some(crate::unique("delivery")),
            content_type: Some("application/json".to_owned()),
            body: serde_json::to_vec(payload).expect("payload serializes"),
            signature: Signature::With(secret.to_owned()),
            base64: false,
        }
    }

    /// The same payload, form-encoded as `payload=<json>`.
    pub fn form(event: &str, payload: &Value, secret: &str) -> Self {
        let json = serde_json::to_string(payload).expect("payload serializes");
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &json)
            .finish();
        Self {
            content_type: Some("application/x-www-form-urlencoded".to_owned()),
            body: body.into_bytes(),
            ..Self::json(event, payload, secret)
        }
    }

    pub fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn delivery_id(mut self, id: &str) -> Self {
        self.delivery_id = Some(id.to_owned());
        self
    }

    pub fn signature_header(&self) -> Option<String> {
        match &self.signature {
            Signature::With(secret) => Some(shared::webhook::signature::sign(
                secret.as_bytes(),
                &self.body,
            )),
            Signature::Header(header) => Some(header.clone()),
            Signature::Missing => None,
        }
    }

    /// The request the webhook function receives from its Function URL.
    pub fn to_lambda_request(&self) -> lambda_http::Request {
        let mut headers = serde_json::Map::new();
        let mut header = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                headers.insert(name.to_owned(), Value::String(value));
            }
        };
        header("user-agent", Some("GitHub-Hookshot/044aadd".to_owned()));
        header("content-type", self.content_type.clone());
        header("x-github-event", self.event.clone());
        header("x-github-delivery", self.delivery_id.clone());
        header("x-hub-signature-256", self.signature_header());
        header("x-github-hook-id", Some("292430182".to_owned()));
        let body = if self.base64 {
            base64::engine::general_purpose::STANDARD.encode(&self.body)
        } else {
            String::from_utf8(self.body.clone()).expect("text bodies are UTF-8")
        };
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "anonymous",
                "apiId": "abcdefghij",
                "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
                "domainPrefix": "abcdefghij",
                "http": {
                    "method": "POST",
                    "path": "/",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "140.82.115.1",
                    "userAgent": "GitHub-Hookshot/044aadd"
                },
                "requestId": crate::unique("request"),
                "routeKey": "$default",
                "stage": "$default",
                "time": "24/Nov/2026:10:00:00 +0000",
                "timeEpoch": 1_795_000_000_000u64
            },
            "body": body,
            "isBase64Encoded": self.base64
        });
        function_url_request(event)
    }
}

/// Parses a Function URL event the way the Lambda runtime does.
pub fn function_url_request(event: Value) -> lambda_http::Request {
    let request: LambdaRequest = serde_json::from_value(event).expect("a valid Function URL event");
    lambda_http::Request::from(request)
}
