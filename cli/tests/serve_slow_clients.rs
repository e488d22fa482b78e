//! Clients that are slow, or send too much, through the real binary: half-sent headers
//! are cut off, a body shorter than its `Content-Length` is answered 408, many such
//! connections at once do not starve the server (here with few file descriptors), and an
//! oversized delivery is refused in the intake's words, with its log line.

use e2e::ota_server::{OtaServer, eventually};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// Short timeouts, so that the tests wait little.
const SHORT_TIMEOUTS: [&str; 4] = [
    "--header-timeout-seconds",
    "1",
    "--body-timeout-seconds",
    "1",
];

/// Far longer than the timeouts, for a loaded machine.
const GENEROUS: Duration = Duration::from_secs(30);

const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

fn address(server: &OtaServer) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// Everything the server sends until it closes the connection (or `GENEROUS` passes,
/// which fails the test).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(GENEROUS, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_client_that_sends_half_its_headers_is_disconnected() {
    let data_dir = tempfile::tempdir().expect("data directory");
    let server = OtaServer::start_with(OTA, data_dir.path(), &[], &SHORT_TIMEOUTS);
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        .await
        .unwrap();

    let answer = read_until_closed(&mut stream).await;

    assert_eq!(answer, "", "nothing is answered to half a request");
    eventually(&server, "the log line", GENEROUS, || {
        server
            .log()
            .contains("its request's headers did not arrive within 1 s")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_answered_408() {
    let data_dir = tempfile::tempdir().expect("data directory");
    let server = OtaServer::start_with(OTA, data_dir.path(), &[], &SHORT_TIMEOUTS);
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    let request = format!(
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Event: issue_comment\r\n\
         X-GitHub-Delivery: {DELIVERY}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"act"
    );
    stream.write_all(request.as_bytes()).await.unwrap();

    let answer = read_until_closed(&mut stream).await;

    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    insta::assert_snapshot!("slow_delivery_body", body);
    let log = server.log();
    assert!(log.contains("body did not arrive within 1 s"), "{log}");
    assert!(log.contains(DELIVERY), "{log}");
}

#[tokio::test]
async fn stalled_connections_do_not_starve_the_server() {
    let data_dir = tempfile::tempdir().expect("data directory");
    // Few file descriptors, as on a small machine or under a low ulimit: without timeouts
    // the stalled connections take them all.
    let wrapper = data_dir.path().join("ota-with-few-files");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nulimit -n 64 || exit 1\nexec '{OTA}' \"$@\"\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let server = OtaServer::start_with(
        wrapper.to_str().unwrap(),
        data_dir.path(),
        &[],
        &SHORT_TIMEOUTS,
    );
    let mut stalled = Vec::new();
    for index in 0..120 {
        let mut stream = TcpStream::connect(address(&server)).await.unwrap();
        let half: &[u8] = if index % 2 == 0 {
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        } else {
            b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nabc"
        };
        stream.write_all(half).await.unwrap();
        stalled.push(stream);
    }

    let started = Instant::now();
    let health = loop {
        let attempt = reqwest::Client::new()
            .get(format!("{}/healthz", server.url))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Ok(response) = attempt {
            break response;
        }
        assert!(
            started.elapsed() < 2 * GENEROUS,
            "/healthz never answered; the server's log:\n{}",
            server.log()
        );
    };

    assert_eq!(health.status().as_u16(), 200);
    drop(stalled);
}

#[tokio::test]
async fn an_oversized_delivery_is_refused_in_the_intakes_words_and_logged() {
    let data_dir = tempfile::tempdir().expect("data directory");
    let server = OtaServer::start_with(OTA, data_dir.path(), &[], &[]);
    // Over the intake's limit (GitHub's own cap is 25 MB) by more than one read.
    let body = vec![b' '; 26 * 1024 * 1024];

    let response = reqwest::Client::new()
        .post(format!("{}/webhook", server.url))
        .header("X-GitHub-Event", "issue_comment")
        .header("X-GitHub-Delivery", DELIVERY)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("an answer");

    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    insta::assert_snapshot!("oversized_delivery_body", response.text().await.unwrap());
    let log = server.log();
    let line = log
        .lines()
        .find(|line| line.contains("body_too_large"))
        .unwrap_or_else(|| panic!("no log line for the oversized delivery:\n{log}"));
    assert!(line.contains(DELIVERY), "{line}");
    assert!(line.contains("event=\"issue_comment\""), "{line}");
}
