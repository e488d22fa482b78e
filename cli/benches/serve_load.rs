//! Load on `ota serve`'s webhook: signed `issue_comment` deliveries (~13 KB, the real
//! `@octokit/webhooks-examples` payload, each with its own delivery id) posted over 16
//! keep-alive connections on loopback, for a fixed time. Prints the sustained deliveries
//! per second and the latency percentiles, then kills the server with SIGKILL and counts
//! the deliveries in its database: every accepted one must be there.
//!
//! `cargo bench -p ota --bench serve_load` (release build). Options by environment:
//! `LOAD_SECONDS` (default 10), `LOAD_CONNECTIONS` (default 16), `LOAD_THREADS` (the
//! generator's threads, default 1).

use bytes::Bytes;
use e2e::fake_github::{APP_ID, PRIVATE_KEY_PEM};
use e2e::ota_server::{INSTALLATION, OtaServer, pr_comment};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const OTA: &str = env!("CARGO_BIN_EXE_ota");
const SECRET: &str = "load benchmark webhook secret";

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|raw| raw.parse().ok())
        .unwrap_or(default)
}

struct Connection {
    latencies_us: Vec<u32>,
    accepted: u64,
    refused: u64,
}

async fn connection(
    addr: String,
    index: usize,
    body: Bytes,
    signature: String,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Connection {
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut result = Connection {
        latencies_us: Vec::with_capacity(1 << 20),
        accepted: 0,
        refused: 0,
    };
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        sequence += 1;
        let request = Request::post("/webhook")
            .header("host", &addr)
            .header("content-type", "application/json")
            .header("x-github-event", "issue_comment")
            .header("x-github-delivery", format!("load-{index}-{sequence}"))
            .header("x-hub-signature-256", &signature)
            .body(Full::new(body.clone()))
            .expect("request");
        sender.ready().await.expect("connection ready");
        let started = Instant::now();
        let response = sender.send_request(request).await.expect("response");
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await.expect("body");
        let elapsed = started.elapsed();
        if measuring.load(Ordering::Relaxed) {
            result
                .latencies_us
                .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        }
        if status == 202 {
            result.accepted += 1;
        } else {
            result.refused += 1;
        }
    }
    result
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this once without
    // it, as a short check that the program and the durability count still work.
    let measuring_run = std::env::args().any(|arg| arg == "--bench");
    let (default_seconds, default_connections, warmup) = if measuring_run {
        (10, 16, Duration::from_secs(2))
    } else {
        (1, 4, Duration::from_millis(200))
    };
    let seconds: u64 = setting("LOAD_SECONDS", default_seconds);
    let connections: usize = setting("LOAD_CONNECTIONS", default_connections);
    let threads: usize = setting("LOAD_THREADS", 1);

    let data_dir = tempfile::tempdir().expect("data directory");
    // GitHub is unreachable: the policy stage backs off on the first delivery and holds
    // the repository's others behind it, so the figures are the intake's alone.
    let env: Vec<(String, String)> = [
        ("APP_ID", APP_ID.to_string()),
        ("PRIVATE_KEY", PRIVATE_KEY_PEM.to_owned()),
        ("WEBHOOK_SECRET", SECRET.to_owned()),
        ("GITHUB_API_URL", "http://127.0.0.1:9".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let server = OtaServer::start_with(OTA, data_dir.path(), &env, &[]);
    let addr = server.url.trim_start_matches("http://").to_owned();

    let mut payload = pr_comment(
        "Codertocat",
        "/ollama refactor the retry loop into a helper",
    );
    payload["installation"]["id"] = serde_json::json!(INSTALLATION);
    let body = Bytes::from(serde_json::to_vec(&payload).expect("payload"));
    let signature = shared::webhook::signature::sign(SECRET.as_bytes(), &body);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime");
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (results, measured) = runtime.block_on(async {
        let tasks: Vec<_> = (0..connections)
            .map(|index| {
                tokio::spawn(connection(
                    addr.clone(),
                    index,
                    body.clone(),
                    signature.clone(),
                    Arc::clone(&measuring),
                    Arc::clone(&stop),
                ))
            })
            .collect();
        tokio::time::sleep(warmup).await;
        measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        measuring.store(false, Ordering::Relaxed);
        let measured = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("connection task"));
        }
        (results, measured)
    });
    server.kill();

    let mut latencies: Vec<u32> = results
        .iter()
        .flat_map(|result| result.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let accepted: u64 = results.iter().map(|result| result.accepted).sum();
    let refused: u64 = results.iter().map(|result| result.refused).sum();

    let stored = runtime.block_on(async {
        let db = ota_local::store::Database::open(data_dir.path()).expect("database");
        db.inbox_len().await.expect("count")
    });
    println!(
        "ota serve webhook load: {} B issue_comment deliveries, {connections} connections, {seconds} s (after {:.1} s warm-up), generator threads {threads}",
        body.len(),
        warmup.as_secs_f64()
    );
    println!(
        "  sustained: {:.0} deliveries/s ({} measured)",
        latencies.len() as f64 / measured.as_secs_f64(),
        latencies.len()
    );
    println!(
        "  latency:   p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 99.9),
        percentile(&latencies, 100.0)
    );
    println!("  answers:   {accepted} accepted (202), {refused} other");
    println!(
        "  durable:   {stored} deliveries in the database after SIGKILL; {}",
        if stored >= accepted && refused == 0 {
            "every accepted delivery is there"
        } else {
            "MISSING DELIVERIES"
        }
    );
    if stored < accepted || refused > 0 {
        std::process::exit(1);
    }
}
