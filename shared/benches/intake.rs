//! Verify + normalize of one delivery against the floor: a bare HMAC-SHA256 over the
//! same bytes. Run with `cargo bench -p shared --bench intake`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use shared::envelope::EventName;
use shared::ids::DeliveryId;
use shared::webhook::payload::normalize;
use shared::webhook::signature::{Signature, sign};
use std::hint::black_box;

const SECRET: &str = "benchmark webhook secret";

/// A ~10 KB `issue_comment.created`, as an App receives it.
fn issue_comment() -> Vec<u8> {
    let mut payload: Value =
        serde_json::from_str(include_str!("fixtures/issue_comment.json")).expect("fixture");
    payload["installation"] = json!({ "id": 1 });
    payload["comment"]["body"] = json!("/ollama refactor the auth module");
    serde_json::to_vec(&payload).expect("serializes")
}

/// A ~1 MB push: the real payload with its commit list grown.
fn push() -> Vec<u8> {
    let mut payload: Value =
        serde_json::from_str(include_str!("fixtures/push.json")).expect("fixture");
    let commit = payload["commits"][0].clone();
    let mut commits = Vec::new();
    while serde_json::to_vec(&commits).expect("serializes").len() < 1024 * 1024 {
        for _ in 0..64 {
            commits.push(commit.clone());
        }
    }
    payload["commits"] = json!(commits);
    serde_json::to_vec(&payload).expect("serializes")
}

fn bench(c: &mut Criterion) {
    let secret = secrecy::SecretString::from(SECRET);
    for (name, event, body) in [
        (
            "issue_comment_10KB",
            EventName::IssueComment,
            issue_comment(),
        ),
        ("push_1MB", EventName::Push, push()),
    ] {
        let header = sign(SECRET.as_bytes(), &body);
        let delivery = DeliveryId::parse("bench").expect("id");
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("hmac_sha256", |b| {
            b.iter(|| sign(black_box(SECRET.as_bytes()), black_box(&body)))
        });
        group.bench_function("verify_and_normalize", |b| {
            b.iter(|| {
                let signature = Signature::parse(black_box(&header)).expect("header");
                assert!(signature.matches(&secret, black_box(&body)));
                normalize(event, delivery.clone(), black_box(&body)).expect("normalizes")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
