//! `ota serve`: the whole App in one process. The webhook endpoint runs the same intake
//! as the webhook Lambda, into the SQLite inbox; the intake worker runs the policy stage
//! on it; the engine walks each job's workflow, dispatching runners as child processes
//! and reporting through the report stage. Without an App configured it serves the setup
//! page instead, and never exits for want of credentials. Its pages are the operator's
//! only ([`guard`], with the [`OperatorToken`] printed at start as a sign-in link), and
//! slow clients are cut off ([`listener`], [`body`]). The dashboard (`ota-web`, signed
//! in with GitHub) serves the jobs ([`dashboard`]), and its settings page rotates the
//! App's webhook secret and key ([`rotation`]). The [`ticker`] fires the repositories'
//! schedules.

mod body;
mod dashboard;
mod guard;
mod intake_worker;
mod listener;
mod operator_token;
mod rotation;
mod routes;
mod runner_token;
mod ticker;

pub use guard::{Gate, KnownHosts, SESSION_COOKIE};
pub use operator_token::{OperatorToken, TOKEN_FILE, TOKEN_VARIABLE, TokenSource};

use crate::settings::{AppConfig, AppSettings, Environment, ServeArgs, read_app};
use anyhow::{Context, anyhow};
use ota_github::{AppKey, GitHubApp, GitHubClient, TokenPermissions};
use ota_local::clones::CloneDirs;
use ota_local::engine::{Engine, LocalWorkflow};
use ota_local::processes::ChildLauncher;
use ota_local::store::{Database, Inbox};
use shared::clock::now_ms;
use shared::dispatch::{DispatchSettings, Dispatcher, Endpoints, GrantKey, Limits};
use shared::policy_stage::PolicyStage;
use shared::report::Reporter;
use shared::webhook::intake::{AppIdentity, Intake};
use shared::webhook::secrets::WebhookSecrets;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// How often a webhook signature that matches no secret makes the intake read the
/// secret again: the local secret only changes through the settings page, which makes
/// the intake read it again at once.
const SECRET_REFRESH: Duration = Duration::from_secs(30);

/// The intake as `ota serve` runs it.
pub type LocalIntake = Intake<Inbox, rotation::LocalWebhookSecret>;

/// What the server shares between its requests and workers.
pub struct Server {
    pub db: Database,
    pub inbox: Inbox,
    pub environment: Environment,
    pub args: ServeArgs,
    /// The address actually listened on.
    pub addr: SocketAddr,
    /// The `ota` executable, started as `ota runner` for each runner.
    program: PathBuf,
    app: RwLock<Option<Arc<RunningApp>>>,
    /// What the setup page says is missing while no App is configured.
    missing: RwLock<Vec<String>>,
}

/// The App's part of the server, once it is configured.
pub struct RunningApp {
    pub settings: AppSettings,
    pub intake: LocalIntake,
    /// Mints the runners' tokens (`POST /runner/token`).
    pub tokens: GitHubClient,
    /// Checks the runners' credentials.
    pub grants: GrantKey,
    /// The webhook secret the intake checks against, as the settings page rotates it.
    pub webhook: rotation::LocalWebhookSecret,
    /// The App's key, shared by every GitHub client of the server: the settings page
    /// replaces it in all of them at once.
    pub key: AppKey,
}

impl Server {
    pub fn running(&self) -> Option<Arc<RunningApp>> {
        self.app.read().ok().and_then(|app| app.clone())
    }

    pub fn missing(&self) -> Vec<String> {
        self.missing
            .read()
            .map(|missing| missing.clone())
            .unwrap_or_default()
    }

    /// The URL GitHub should deliver to, as far as this server knows it.
    pub fn webhook_url(&self) -> String {
        let base = self
            .args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr));
        format!("{}/webhook", base.trim_end_matches('/'))
    }

    /// The URL this server's runners reach it at: the listening address, or the
    /// loopback address when it listens on every interface.
    pub fn runner_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{addr}")
    }

    /// Builds the App's stages and starts its workers: the intake worker and the engine.
    pub async fn start_app(self: &Arc<Self>, settings: AppSettings) -> anyhow::Result<()> {
        if self.running().is_some() {
            return Ok(());
        }
        let app = GitHubApp::new(
            settings.app_id,
            settings.private_key.clone(),
            &self.environment.api_url,
        )
        .with_slug(settings.slug.clone());
        let key = app
            .key()
            .with_context(|| format!("the GitHub App's private key (from {})", settings.source))?;
        let github = || {
            app.client_with_key(&key, TokenPermissions::policy_and_report())
                .with_context(|| format!("the GitHub App's client (from {})", settings.source))
        };
        let db = self.db.clone();
        let wake = Arc::new(Notify::new());
        let workflow = LocalWorkflow::new(db.clone(), Arc::clone(&wake));
        let grants = GrantKey::from_app_key(&settings.private_key);
        let launcher = ChildLauncher::new(
            self.program.clone(),
            self.args.data_dir.path.clone(),
            crate::child::runner_environment(
                &|name| std::env::var(name).ok(),
                &self.runner_url(),
                &settings,
                &self.environment,
            ),
            db.clone(),
            Arc::clone(&wake),
        );
        let lost = launcher
            .recover()
            .await
            .context("recovering the runners' records")?;
        if lost > 0 {
            tracing::warn!(
                lost,
                "runners of the previous server were lost; their jobs will be retried"
            );
        }
        // No runner of an earlier server runs any more: what clones they left go.
        match CloneDirs::new(&self.args.data_dir.path).sweep() {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed clones left by earlier runners"),
            Err(err) => {
                tracing::warn!(error = %err, "could not remove the clones left by earlier runners")
            }
        }
        let stage = PolicyStage::new(github()?, db.clone(), workflow.clone())
            .with_app(AppIdentity::from_slug(Some(&settings.slug)));
        let stage = Arc::new(stage);
        let reporter = Reporter {
            github: github()?,
            store: db.clone(),
            launcher: launcher.clone(),
            clock: now_ms,
        };
        let hosted = self.environment.hosted_url();
        let limits = Limits {
            gpu_slots: self.args.gpu_slots,
            hosted_slots: if hosted.is_some() {
                self.args.hosted_slots
            } else {
                0
            },
            per_installation: self.args.installation_slots,
        };
        let dispatcher = Dispatcher {
            store: db.clone(),
            workflow,
            launcher: launcher.clone(),
            settings: DispatchSettings {
                limits,
                endpoints: Endpoints {
                    self_hosted: Some(self.environment.ollama_host.clone()),
                    hosted,
                    self_hosted_down: None,
                },
            },
            // One machine has no GPU service to start: the user's Ollama is always there.
            gpu: None,
            grants: grants.clone(),
            clock: now_ms,
        };
        let mut engine = Engine::new(db.clone(), reporter, dispatcher, launcher.records(), wake);
        engine.retry.interval = Duration::from_secs(self.args.retry_interval_seconds);
        let engine = Arc::new(engine);
        let tokens = github()?;
        let webhook = rotation::LocalWebhookSecret::new(
            settings.webhook_secret.clone(),
            settings.previous_webhook_secret.clone(),
        );
        let intake = Intake::new(
            self.inbox.clone(),
            WebhookSecrets::new(webhook.clone(), SECRET_REFRESH),
            AppIdentity::from_slug(Some(&settings.slug)),
        );
        tokio::spawn(engine.run());
        tokio::spawn(ticker::run(
            db.clone(),
            self.inbox.clone(),
            Duration::from_secs(self.args.schedule_tick_seconds),
        ));
        tokio::spawn(intake_worker::run(db, self.inbox.clone(), stage));
        tracing::info!(app_id = settings.app_id.0, slug = %settings.slug, from = %settings.source, "GitHub App configured; processing deliveries");
        if let Ok(mut app) = self.app.write() {
            *app = Some(Arc::new(RunningApp {
                settings,
                intake,
                tokens,
                grants,
                webhook,
                key,
            }));
        }
        if let Ok(mut missing) = self.missing.write() {
            missing.clear();
        }
        Ok(())
    }
}

/// Holds the data directory for this server alone: two servers on one database would
/// each run the same jobs. The lock ends with the process, however it ends.
fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    create_private_dir(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = data_dir.join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|_| {
        anyhow!(
            "another `ota serve` is using the data directory {}; stop it or choose another --data-dir",
            data_dir.display()
        )
    })?;
    Ok(file)
}

/// The data directory holds the App's key and the jobs' task tokens: its owner's only.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    // The server holds the webhook secret (and may read the App's key): no other process
    // of its user reads its environment or memory through `/proc`.
    ota_runner::sandbox::protect_runner_process().context("making the server undumpable")?;
    let var = |name: &str| std::env::var(name).ok();
    // Every wrong setting is named at once, not one per attempt.
    let (environment, app) = match (Environment::read(&var), read_app(&var, &args.data_dir.path)) {
        (Ok(environment), Ok(app)) => (environment, app),
        (environment, app) => {
            let problems: Vec<String> = [environment.err(), app.err()]
                .into_iter()
                .flatten()
                .collect();
            return Err(anyhow!(
                "ota serve is misconfigured: {}",
                problems.join("; ")
            ));
        }
    };
    let _lock = lock_data_dir(&args.data_dir.path)?;
    let db = Database::open(&args.data_dir.path).context("opening the database")?;
    let inbox = db.inbox().context("opening the inbox")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let addr = listener
        .local_addr()
        .context("reading the listening address")?;
    let program = std::env::current_exe().context("finding the ota executable")?;
    let token =
        OperatorToken::load_or_create(environment.operator_token.clone(), &args.data_dir.path)
            .context("the operator's token")?;
    let gate = Arc::new(Gate {
        token,
        hosts: KnownHosts::new(addr, args.public_url.as_deref()),
    });
    let server = Arc::new(Server {
        db,
        inbox,
        environment,
        args,
        addr,
        program,
        app: RwLock::new(None),
        missing: RwLock::new(Vec::new()),
    });
    match app {
        AppConfig::Ready(settings) => server.start_app(settings).await?,
        AppConfig::Missing(missing) => {
            tracing::warn!(missing = %missing.join("; "), "no GitHub App configured yet; open the sign-in link printed below to set one up");
            if let Ok(mut slot) = server.missing.write() {
                *slot = missing;
            }
        }
    }
    // The one place the token is shown: the operator's terminal, never the log.
    let local = crate::browser::local_url(addr);
    println!("Ollama Turbo Agent is listening on {local}");
    println!("  webhook: {}", server.webhook_url());
    println!("  sign in: {}", gate.token.sign_in_url(&local));
    let header_timeout = Duration::from_secs(server.args.header_timeout_seconds);
    let web = dashboard::web(&server, &gate)?;
    let router = routes::router(Arc::clone(&server), gate, web);
    listener::serve(listener, router, header_timeout, shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM. Whatever is in flight is safe to interrupt: it is redone on start.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
