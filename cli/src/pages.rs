//! The HTML pages `ota serve` shows in a browser: the first-run setup, the step that posts
//! the App manifest to GitHub, the status page, and messages. Server-rendered from plain
//! data, no external assets; every dynamic value is escaped here, so callers pass raw text.

use serde_json::Value;
use shared::job::{JobRecord, JobStatus};

/// What the setup page needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupView {
    /// What keeps the server from running, one sentence each ("APP_ID is not set").
    pub missing: Vec<String>,
    /// The public URL to prefill, when one is known.
    pub public_url: Option<String>,
    /// Where this server listens, as a URL the machine itself can use
    /// (`http://127.0.0.1:3000`): what a tunnel forwards to.
    pub local_url: String,
    pub port: u16,
    /// Where `app.json` will be written.
    pub data_dir: String,
    /// The GitHub web host the App is created on (`https://github.com`, a GHES host).
    pub github_web_url: String,
}

/// What the status page shows: plain data the server gathered.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    pub app_name: String,
    /// The App's page on GitHub.
    pub app_url: Option<String>,
    /// Where GitHub sends webhooks, when known.
    pub webhook_url: Option<String>,
    /// The GitHub web host, for links to repositories, issues and pull requests.
    pub github_web_url: String,
    pub ollama_url: String,
    pub runner_slots_in_use: u32,
    pub runner_slots: u32,
    /// Accepted deliveries not yet handled.
    pub inbox_pending: u64,
    /// Deliveries that failed every attempt and need an operator.
    pub inbox_dead_lettered: u64,
    pub jobs_by_status: Vec<(JobStatus, u64)>,
    /// Most recent first.
    pub recent_jobs: Vec<JobRecord>,
    /// Unix milliseconds, for "updated 5 min ago".
    pub now_ms: u64,
}

/// The first-run page: what is missing, how GitHub can reach this server, and the form
/// that starts creating the App (or how to configure one by environment instead).
pub fn setup_page(view: &SetupView) -> String {
    let missing = if view.missing.is_empty() {
        String::new()
    } else {
        let items: String = view
            .missing
            .iter()
            .map(|item| format!("<li>{}</li>", text(item)))
            .collect();
        format!(
            "<p>The server is running, but it cannot work for GitHub yet:</p>\
             <ul class=\"missing\">{items}</ul>"
        )
    };
    let local = text(&view.local_url);
    let port = view.port;
    let web = text(&view.github_web_url);
    let body = format!(
        r#"<h1>Set up Ollama Turbo Agent</h1>
{missing}
<h2>1. Let GitHub reach this server</h2>
<p>GitHub sends webhooks to <code>&lt;public URL&gt;/webhook</code>, and after the App is
created it sends your browser to <code>&lt;public URL&gt;/setup/callback</code>. This server
listens on <code>{local}</code>, which GitHub cannot reach. Expose it with a tunnel, one of:</p>
<ul>
<li><code>cloudflared tunnel --url {local}</code> (prints a <code>https://….trycloudflare.com</code> URL)</li>
<li><code>ngrok http {port}</code> (prints a <code>https://….ngrok-free.app</code> URL)</li>
<li>smee.io, which relays webhooks only: create a channel at <a href="https://smee.io/new">smee.io</a>,
run <code>smee -u https://smee.io/CHANNEL -t {local}/webhook</code>, enter the channel URL as
the webhook URL below and <code>{local}</code> as the public URL.</li>
</ul>
<p>Keep the tunnel running while the server runs: GitHub keeps sending webhooks to that URL.</p>
<h2>2. Create the GitHub App</h2>
<form method="post" action="/setup">
<p><label>Public URL of this server<br>
<input name="public_url" type="url" required size="50" value="{public_url}" placeholder="https://example.trycloudflare.com"></label></p>
<p><label>Webhook URL, only if webhooks arrive another way (a smee.io channel)<br>
<input name="webhook_url" type="url" size="50" placeholder="https://smee.io/CHANNEL"></label></p>
<p><label>Organization that will own the App (leave empty for your own account)<br>
<input name="organization" size="30" placeholder="my-org"></label></p>
<p><button type="submit">Create the App on GitHub</button></p>
</form>
<p>GitHub ({web}) asks you to name the App and creates it with the permissions and events
this server needs. Its id, private key and webhook secret are then stored in
<code>{data_dir}/app.json</code>, readable by you only.</p>
<h2>Or configure an existing App</h2>
<p>Set <code>APP_ID</code>, <code>PRIVATE_KEY_PATH</code> (or <code>PRIVATE_KEY</code>) and
<code>WEBHOOK_SECRET</code> in the environment (and <code>GITHUB_API_URL</code> for GitHub
Enterprise Server, e.g. <code>https://HOST/api/v3</code>), then restart <code>ota serve</code>.</p>"#,
        public_url = attr(view.public_url.as_deref().unwrap_or("")),
        data_dir = text(&view.data_dir),
    );
    layout("Set up Ollama Turbo Agent", &body)
}

/// The page that posts the manifest to GitHub's new-App page: a button, pressed by one
/// line of script when scripts run.
pub fn manifest_redirect_page(new_app_url: &str, manifest: &Value) -> String {
    let body = format!(
        r#"<h1>Create the GitHub App</h1>
<form id="manifest" method="post" action="{action}">
<input type="hidden" name="manifest" value="{manifest}">
<p>Continue on GitHub to name the App and create it.</p>
<p><button type="submit">Continue on GitHub</button></p>
</form>
<script>document.getElementById("manifest").submit();</script>"#,
        action = attr(new_app_url),
        manifest = attr(&manifest.to_string()),
    );
    layout("Create the GitHub App", &body)
}

/// The page after the App was created: where to install it.
pub fn app_created_page(app_name: &str, app_url: &str, webhook_url: Option<&str>) -> String {
    let install_url = format!("{}/installations/new", app_url.trim_end_matches('/'));
    let webhook = webhook_url.map_or_else(String::new, |url| {
        format!(
            "<p>GitHub sends its webhooks to <code>{}</code>: keep the tunnel running.</p>",
            text(url)
        )
    });
    let body = format!(
        r#"<h1>App {name} created</h1>
<p>Its credentials are stored, and this server now works for it.</p>
<p>Install it on your repositories: {install}</p>
{webhook}
<p>Then comment <code>/ollama help</code> on an issue or pull request of an installed
repository. The <a href="/">status page</a> shows the jobs.</p>"#,
        name = text(app_name),
        install = link(&install_url, &install_url),
    );
    layout(&format!("App {app_name} created"), &body)
}

/// The status page: the App, where things are, and what the jobs are doing.
pub fn status_page(view: &StatusView) -> String {
    let app = match &view.app_url {
        Some(url) => link(url, &view.app_name),
        None => text(&view.app_name),
    };
    let webhook = view.webhook_url.as_deref().map_or_else(
        || "not known".to_owned(),
        |url| format!("<code>{}</code>", text(url)),
    );
    let counts: String = view
        .jobs_by_status
        .iter()
        .map(|(status, count)| format!("<tr><td>{}</td><td>{count}</td></tr>", status.as_str()))
        .collect();
    let jobs = if view.recent_jobs.is_empty() {
        "<p>No jobs yet.</p>".to_owned()
    } else {
        let rows: String = view
            .recent_jobs
            .iter()
            .map(|job| job_row(job, view))
            .collect();
        format!(
            "<table><tr><th>job</th><th>status</th><th>where</th><th>task</th>\
             <th>requester</th><th>attempts</th><th>updated</th><th>result</th></tr>\
             {rows}</table>"
        )
    };
    let body = format!(
        r#"<h1>Ollama Turbo Agent</h1>
<table>
<tr><th>App</th><td>{app}</td></tr>
<tr><th>Webhook URL</th><td>{webhook}</td></tr>
<tr><th>Ollama</th><td><code>{ollama}</code></td></tr>
<tr><th>Runners</th><td>{in_use} of {slots} busy</td></tr>
<tr><th>Inbox</th><td>{pending} pending, {dead} dead-lettered</td></tr>
</table>
<h2>Jobs</h2>
<table>{counts}</table>
<h2>Recent jobs</h2>
<p><a href="/jobs">All jobs, with filters, details and logs</a></p>
{jobs}"#,
        ollama = text(&view.ollama_url),
        in_use = view.runner_slots_in_use,
        slots = view.runner_slots,
        pending = view.inbox_pending,
        dead = view.inbox_dead_lettered,
    );
    layout("Ollama Turbo Agent", &body)
}

fn job_row(job: &JobRecord, view: &StatusView) -> String {
    let web = view.github_web_url.trim_end_matches('/');
    let repo = job.repo.as_str();
    let place = match job.trigger.number() {
        Some(number) => link(
            &format!("{web}/{repo}/issues/{number}"),
            &format!("{repo}#{number}"),
        ),
        None => link(&format!("{web}/{repo}"), repo),
    };
    let updated = [
        Some(job.created_at_ms),
        job.started_at_ms,
        job.completed_at_ms,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(job.created_at_ms);
    let result = job.result.as_ref();
    let outcome = match (
        result.and_then(|result| result.error.as_ref()),
        result.and_then(|result| result.pull_request_url.as_deref()),
    ) {
        (Some(error), _) => format!(
            "<span class=\"error\">{}: {}</span>",
            text(&error.name),
            text(&shorten(&error.message, 300))
        ),
        (None, Some(url)) => link(url, "pull request"),
        (None, None) => String::new(),
    };
    format!(
        "<tr><td><code>{id}</code></td><td class=\"{status}\">{status}</td><td>{place}</td>\
         <td>{task}</td><td>{requester}</td><td>{attempts}</td><td>{updated}</td>\
         <td>{outcome}</td></tr>",
        id = text(job.id.short()),
        status = job.status.as_str(),
        task = text(&job.task),
        requester = text(&job.requester),
        attempts = job.attempts,
        updated = ago(view.now_ms, updated),
    )
}

/// The page a stranger gets instead of the operator's pages (403): where the operator
/// finds the token, and a field to enter it. Says nothing about the server itself.
pub fn sign_in_page(wrong_token: bool) -> String {
    let wrong = if wrong_token {
        "<p class=\"error\">That token is not this server's.</p>\n"
    } else {
        ""
    };
    let body = format!(
        r#"<h1>Sign in</h1>
{wrong}<p><a href="/signin/github">Sign in with GitHub</a> to see the jobs of the
repositories you can reach through the App.</p>
<p>This server's own pages are for its operator. Open the sign-in link that
<code>ota serve</code> printed in its terminal when it started
(<code>http://…/signin?token=…</code>), or enter the token: it is in the file
<code>operator-token</code> in the server's data directory (<code>./.ota</code> unless
<code>--data-dir</code> says otherwise), or in <code>OTA_OPERATOR_TOKEN</code> if it was
started with one.</p>
<form method="get" action="/signin">
<p><label>Operator token<br>
<input name="token" type="password" required size="50" autocomplete="off"></label></p>
<p><button type="submit">Sign in</button></p>
</form>"#
    );
    layout("Sign in", &body)
}

/// A page with a title and one paragraph: errors and notices.
pub fn message_page(title: &str, body_text: &str) -> String {
    let body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n<p><a href=\"/\">Back to the start</a></p>",
        text(title),
        text(body_text)
    );
    layout(title, &body)
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }}
code {{ background: #f2f2f2; padding: 0 .2em; }}
table {{ border-collapse: collapse; }}
th, td {{ text-align: left; padding: .2rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
.missing, .error, .failed, .dead_lettered {{ color: #b00020; }}
.succeeded {{ color: #137333; }}
</style>
</head>
<body>
{body}
</body>
</html>
"#,
        title = text(title),
    )
}

/// Text content, escaped.
fn text(value: &str) -> String {
    html_escape::encode_text(value).into_owned()
}

/// A double-quoted attribute value, escaped.
fn attr(value: &str) -> String {
    html_escape::encode_double_quoted_attribute(value).into_owned()
}

/// A link when `href` is a web URL; the text alone otherwise (no `javascript:` links).
fn link(href: &str, label: &str) -> String {
    if href.starts_with("https://") || href.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", attr(href), text(label))
    } else {
        text(label)
    }
}

fn shorten(value: &str, max_chars: usize) -> String {
    match value.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// "5 min ago", from Unix milliseconds.
fn ago(now_ms: u64, then_ms: u64) -> String {
    let secs = now_ms.saturating_sub(then_ms) / 1000;
    match secs {
        0..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::ids::{CommitSha, DeliveryId, InstallationId, RepoFullName};
    use shared::job::{Approval, ErrorReport, JobId, JobRequest, JobResult, Trigger};

    fn setup_view() -> SetupView {
        SetupView {
            missing: vec![
                "APP_ID is not set".to_owned(),
                "WEBHOOK_SECRET is not set".to_owned(),
            ],
            public_url: Some("https://x.example/?a=\"<b>".to_owned()),
            local_url: "http://127.0.0.1:3000".to_owned(),
            port: 3000,
            data_dir: "/home/me/.ota".to_owned(),
            github_web_url: "https://github.com".to_owned(),
        }
    }

    fn job(task: &str, status: JobStatus, error: Option<&str>) -> JobRecord {
        let delivery = DeliveryId::parse("d-1").unwrap();
        let mut job = JobRecord::new(
            JobRequest {
                id: JobId::for_command(&delivery, 0),
                delivery,
                installation: InstallationId(1),
                repo: RepoFullName::new("acme/app"),
                commit: CommitSha::new("a".repeat(40)),
                git_ref: "main".to_owned(),
                trigger: Trigger::Issue { number: 12 },
                task: task.to_owned(),
                params: String::new(),
                requester: "mona".to_owned(),
                approval: Approval::not_required(),
            },
            1_000,
        );
        job.status = status;
        job.attempts = 2;
        job.result = error.map(|message| JobResult {
            error: Some(ErrorReport {
                name: "Runner.Crashed".to_owned(),
                message: message.to_owned(),
            }),
            ..JobResult::default()
        });
        job
    }

    fn status_view(jobs: Vec<JobRecord>) -> StatusView {
        StatusView {
            app_name: "My <agent>".to_owned(),
            app_url: Some("https://github.com/apps/my-agent".to_owned()),
            webhook_url: Some("https://x.example/webhook".to_owned()),
            github_web_url: "https://github.com".to_owned(),
            ollama_url: "http://127.0.0.1:11434".to_owned(),
            runner_slots_in_use: 1,
            runner_slots: 2,
            inbox_pending: 3,
            inbox_dead_lettered: 4,
            jobs_by_status: vec![(JobStatus::Succeeded, 5), (JobStatus::DeadLettered, 6)],
            recent_jobs: jobs,
            now_ms: 1_000 + 5 * 60_000,
        }
    }

    #[test]
    fn the_setup_page_lists_what_is_missing_and_how_to_expose_the_server() {
        let page = setup_page(&setup_view());
        assert!(page.contains("<title>Set up Ollama Turbo Agent</title>"));
        assert!(page.contains("<li>APP_ID is not set</li>"));
        assert!(page.contains("<li>WEBHOOK_SECRET is not set</li>"));
        assert!(page.contains("cloudflared tunnel --url http://127.0.0.1:3000"));
        assert!(page.contains("ngrok http 3000"));
        assert!(page.contains("smee -u https://smee.io/CHANNEL -t http://127.0.0.1:3000/webhook"));
        assert!(page.contains(r#"<form method="post" action="/setup">"#));
        assert!(page.contains("PRIVATE_KEY_PATH"));
        assert!(page.contains("/home/me/.ota/app.json"));
        // The prefilled URL cannot close the attribute.
        assert!(page.contains(r#"value="https://x.example/?a=&quot;&lt;b&gt;""#));
        assert!(!page.contains("<b>"));
    }

    #[test]
    fn the_manifest_round_trips_through_the_hidden_field() {
        let manifest = json!({
            "name": "Quotes \" & <tags> 'too'",
            "hook_attributes": { "url": "https://x.example/webhook" },
        });
        let page = manifest_redirect_page(
            "https://github.com/settings/apps/new?state=s&x=1",
            &manifest,
        );
        assert!(page.contains(r#"action="https://github.com/settings/apps/new?state=s&amp;x=1""#));
        let (_, rest) = page.split_once(r#"name="manifest" value=""#).unwrap();
        let (field, _) = rest.split_once('"').unwrap();
        let decoded = html_escape::decode_html_entities(field);
        assert_eq!(serde_json::from_str::<Value>(&decoded).unwrap(), manifest);
    }

    #[test]
    fn the_status_page_escapes_what_users_and_models_wrote() {
        let page = status_page(&status_view(vec![
            job(
                "<script>alert(1)</script>",
                JobStatus::Failed,
                Some("boom <script>x</script>"),
            ),
            job("review", JobStatus::Succeeded, None),
        ]));
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("Runner.Crashed: boom &lt;script&gt;x&lt;/script&gt;"));
        assert!(page.contains("My &lt;agent&gt;"));
        assert!(
            page.contains(r#"<a href="https://github.com/acme/app/issues/12">acme/app#12</a>"#)
        );
        assert!(page.contains("<td>mona</td><td>2</td><td>5 min ago</td>"));
        assert!(page.contains("<tr><td>dead_lettered</td><td>6</td></tr>"));
        assert!(page.contains("1 of 2 busy"));
        assert!(page.contains("3 pending, 4 dead-lettered"));
    }

    #[test]
    fn only_web_urls_become_links() {
        assert_eq!(link("javascript:alert(1)", "x"), "x");
        assert_eq!(
            link("https://a.example/?q=\"", "<x>"),
            r#"<a href="https://a.example/?q=&quot;">&lt;x&gt;</a>"#
        );
    }

    #[test]
    fn messages_are_escaped() {
        let page = message_page("Setup <failed>", "GitHub said <no>");
        assert!(page.contains("<h1>Setup &lt;failed&gt;</h1>"));
        assert!(page.contains("<p>GitHub said &lt;no&gt;</p>"));
    }

    #[test]
    fn the_created_page_links_to_the_installation() {
        let page = app_created_page("My agent", "https://github.com/apps/my-agent", None);
        assert!(page.contains(r#"<a href="https://github.com/apps/my-agent/installations/new">"#));
    }
}
