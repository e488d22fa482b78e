//! The App's secrets as `ota serve` rotates them from the dashboard's settings page
//! ([`ota_web`]'s `/settings`, through the [`AppSecrets`] port): in the data directory's
//! App file when the setup stored the App there, never when the environment names it
//! (`WEBHOOK_SECRET`, `PRIVATE_KEY`/`PRIVATE_KEY_PATH`: the page says to rotate them
//! there, since the variables win over the file at every start).
//!
//! The webhook secret: a new one is current at once and the old one stays accepted
//! ([`SecretVersion::Previous`]) for [`WEBHOOK_OVERLAP`] or until the owner finishes the
//! rotation, the intake reading them again at each step. The private key: a new one is
//! proved with GitHub first (`GET /app` with a JWT it signs), then stored and swapped into
//! every GitHub client of the server ([`ota_github::AppKey`]). Each rotation writes an audit entry;
//! no secret is logged, audited or put in an error.

use super::Server;
use crate::setup::AppFile;
use ota_github::{GitHubApp, KeyCheckError};
use secrecy::SecretString;
use shared::clock::now_ms;
use shared::ids::InstallationId;
use shared::policy_stage::dashboard::OPERATOR_NAME;
use shared::policy_stage::operations::Actor;
use shared::ports::{
    AppSecrets, AuditEntry, AuditLog, DashboardActor, RotationError, SecretError, SecretPlace,
    SecretSource, SecretVersion, SecretsFuture, SecretsStatus,
};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

/// How long the previous webhook secret stays accepted after a rotation unless the owner
/// finishes it sooner: time to paste the new one on GitHub, with deliveries GitHub
/// retries or that wait in a queue signed with the old one.
pub const WEBHOOK_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// The audit log's installation for the server's own settings: GitHub numbers
/// installations from 1, so 0 is none of them.
pub const SERVER_WIDE: InstallationId = InstallationId(0);

/// The webhook secret as the intake reads it: the current one, and the previous one
/// until its overlap ends.
#[derive(Clone)]
pub struct LocalWebhookSecret(Arc<RwLock<Versions>>);

struct Versions {
    current: SecretString,
    previous: Option<(SecretString, u64)>,
}

impl LocalWebhookSecret {
    pub fn new(current: SecretString, previous: Option<(SecretString, u64)>) -> Self {
        Self(Arc::new(RwLock::new(Versions { current, previous })))
    }

    fn set(&self, current: SecretString, previous: Option<(SecretString, u64)>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Versions { current, previous };
    }

    /// Until when the previous secret is accepted, while an overlap lasts.
    pub fn previous_until(&self) -> Option<u64> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .previous
            .as_ref()
            .map(|(_, until)| *until)
    }
}

impl SecretSource for LocalWebhookSecret {
    async fn fetch(&self, version: SecretVersion) -> Result<Option<SecretString>, SecretError> {
        let versions = self.0.read().unwrap_or_else(PoisonError::into_inner);
        Ok(match version {
            SecretVersion::Current => Some(versions.current.clone()),
            SecretVersion::Previous => versions
                .previous
                .as_ref()
                .filter(|(_, until)| *until > now_ms())
                .map(|(secret, _)| secret.clone()),
        })
    }
}

/// The settings page's work on `ota serve`.
pub struct LocalSecrets {
    /// Weak: the server holds the dashboard, which holds this.
    server: Weak<Server>,
    /// One rotation at a time: each reads and rewrites the App file.
    busy: tokio::sync::Mutex<()>,
}

impl LocalSecrets {
    pub fn new(server: &Arc<Server>) -> Self {
        Self {
            server: Arc::downgrade(server),
            busy: tokio::sync::Mutex::new(()),
        }
    }

    fn server(&self) -> Result<Arc<Server>, RotationError> {
        self.server
            .upgrade()
            .ok_or_else(|| RotationError::Unavailable("the server is shutting down".to_owned()))
    }
}

/// The App file, for a change; the reason never quotes it.
fn load(server: &Server) -> Result<AppFile, RotationError> {
    match AppFile::load(&server.args.data_dir.path) {
        Ok(Some(file)) => Ok(file),
        Ok(None) => Err(RotationError::Unavailable(format!(
            "{} is gone: set the App up again",
            AppFile::path(&server.args.data_dir.path).display()
        ))),
        Err(err) => Err(RotationError::Unavailable(err.to_string())),
    }
}

fn save(server: &Server, file: &AppFile) -> Result<(), RotationError> {
    file.save(&server.args.data_dir.path)
        .map_err(|err| RotationError::Unavailable(err.to_string()))
}

fn place(server: &Server, stored: bool, variables: &str) -> SecretPlace {
    if stored {
        SecretPlace::File(
            AppFile::path(&server.args.data_dir.path)
                .display()
                .to_string(),
        )
    } else {
        SecretPlace::Environment(variables.to_owned())
    }
}

/// The running App, if its secrets are the file's.
fn stored_app(
    server: &Server,
    what: &str,
    variables: &str,
) -> Result<Arc<super::RunningApp>, RotationError> {
    let app = server.running().ok_or(RotationError::NoApp)?;
    if !app.settings.stored {
        return Err(RotationError::Managed(format!(
            "This server reads the {what} from its environment ({variables}): rotate it there and restart the server. A value stored from this page would be ignored while the variable is set."
        )));
    }
    Ok(app)
}

const WEBHOOK_VARIABLES: &str = "WEBHOOK_SECRET";
const KEY_VARIABLES: &str = "PRIVATE_KEY or PRIVATE_KEY_PATH";

async fn audit(
    server: &Server,
    actor: &DashboardActor,
    command: &str,
    decision: &str,
    reason: String,
) {
    let at_ms = now_ms();
    let entry = AuditEntry {
        installation: SERVER_WIDE,
        repo: None,
        at_ms,
        delivery: format!("dashboard-{at_ms}"),
        actor: match actor {
            DashboardActor::User(login) => login.clone(),
            DashboardActor::Operator => Actor::operator(OPERATOR_NAME).name().to_owned(),
        },
        command: command.to_owned(),
        decision: decision.to_owned(),
        reason,
        policy: None,
        job: None,
    };
    if let Err(err) = server.db.append(&entry).await {
        tracing::error!(error = %err, command, "could not write the settings change's audit entry");
    }
}

/// Ends the webhook secret's overlap: the file and the intake keep the current secret
/// only.
async fn end_overlap(server: &Server, app: &super::RunningApp) -> Result<(), RotationError> {
    let mut file = load(server)?;
    file.previous_webhook_secret = None;
    save(server, &file)?;
    app.webhook.set(file.webhook_secret, None);
    app.intake.forget_secrets().await;
    Ok(())
}

/// Ends an overlap whose time is up (called before each delivery is checked).
pub async fn expire_overlap(server: &Server, app: &super::RunningApp) {
    if app
        .webhook
        .previous_until()
        .is_some_and(|until| until <= now_ms())
    {
        match end_overlap(server, app).await {
            Ok(()) => tracing::info!(
                "the previous webhook secret's overlap ended; only the new one is accepted"
            ),
            Err(err) => {
                tracing::error!(error = %err, "could not end the previous webhook secret's overlap")
            }
        }
    }
}

impl AppSecrets for LocalSecrets {
    fn status(&self) -> SecretsFuture<'_, SecretsStatus> {
        Box::pin(async move {
            let server = self.server()?;
            let app = server.running().ok_or(RotationError::NoApp)?;
            Ok(SecretsStatus {
                app_id: app.settings.app_id.0,
                slug: app.settings.slug.clone(),
                webhook_secret: place(&server, app.settings.stored, WEBHOOK_VARIABLES),
                previous_secret_until_ms: app
                    .webhook
                    .previous_until()
                    .filter(|until| *until > now_ms()),
                private_key: place(&server, app.settings.stored, KEY_VARIABLES),
            })
        })
    }

    fn rotate_webhook_secret(&self, actor: DashboardActor) -> SecretsFuture<'_, SecretString> {
        Box::pin(async move {
            let _busy = self.busy.lock().await;
            let server = self.server()?;
            let app = stored_app(&server, "webhook secret", WEBHOOK_VARIABLES)?;
            // A second rotation now would drop the secret GitHub may still sign with.
            if app
                .webhook
                .previous_until()
                .is_some_and(|until| until > now_ms())
            {
                return Err(RotationError::Refused(
                    "A rotation is under way: finish it first (once GitHub has the secret it made), then make another.".to_owned(),
                ));
            }
            let secret = crate::stack::secrets::generate()
                .map_err(|err| RotationError::Unavailable(err.to_string()))?;
            let until = now_ms() + u64::try_from(WEBHOOK_OVERLAP.as_millis()).unwrap_or(u64::MAX);
            let mut file = load(&server)?;
            let previous = std::mem::replace(&mut file.webhook_secret, secret.clone());
            file.previous_webhook_secret = Some((previous, until));
            save(&server, &file)?;
            app.webhook.set(
                file.webhook_secret.clone(),
                file.previous_webhook_secret.clone(),
            );
            app.intake.forget_secrets().await;
            audit(
                &server,
                &actor,
                "dashboard webhook secret rotate",
                "accepted",
                format!(
                    "a new webhook secret is current; the previous one is accepted until {} or until the rotation is finished",
                    ota_web::time::format_ms(until)
                ),
            )
            .await;
            Ok(secret)
        })
    }

    fn finish_webhook_rotation(&self, actor: DashboardActor) -> SecretsFuture<'_, ()> {
        Box::pin(async move {
            let _busy = self.busy.lock().await;
            let server = self.server()?;
            let app = stored_app(&server, "webhook secret", WEBHOOK_VARIABLES)?;
            if app.webhook.previous_until().is_none() {
                return Err(RotationError::Refused(
                    "No rotation is under way: only the current webhook secret is accepted already.".to_owned(),
                ));
            }
            end_overlap(&server, &app).await?;
            audit(
                &server,
                &actor,
                "dashboard webhook secret finish",
                "accepted",
                "the previous webhook secret is refused from now on".to_owned(),
            )
            .await;
            Ok(())
        })
    }

    fn replace_private_key(
        &self,
        private_key: SecretString,
        actor: DashboardActor,
    ) -> SecretsFuture<'_, ()> {
        Box::pin(async move {
            let _busy = self.busy.lock().await;
            let server = self.server()?;
            let app = stored_app(&server, "App's private key", KEY_VARIABLES)?;
            let github = GitHubApp::new(
                app.settings.app_id,
                private_key.clone(),
                server.environment.api_url.clone(),
            )
            .with_slug(app.settings.slug.clone());
            if let Err(err) = github.check_key(&private_key).await {
                let why = err.to_string();
                audit(
                    &server,
                    &actor,
                    "dashboard private key replace",
                    "denied",
                    why.clone(),
                )
                .await;
                return Err(match err {
                    KeyCheckError::Unavailable(_) => RotationError::Unavailable(why),
                    _ => RotationError::Refused(format!("The key was not taken: {why}.")),
                });
            }
            let mut file = load(&server)?;
            file.private_key = private_key.clone();
            save(&server, &file)?;
            app.key
                .replace(private_key)
                .map_err(|err| RotationError::Unavailable(err.to_string()))?;
            audit(
                &server,
                &actor,
                "dashboard private key replace",
                "accepted",
                format!(
                    "GitHub accepted the new key for App {}; it is stored and signs every request from now on",
                    app.settings.app_id.0
                ),
            )
            .await;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    async fn previous(source: &LocalWebhookSecret) -> Option<String> {
        source
            .fetch(SecretVersion::Previous)
            .await
            .expect("in memory")
            .map(|secret| secret.expose_secret().to_owned())
    }

    #[tokio::test]
    async fn the_previous_secret_is_read_until_its_overlap_ends() {
        let later = now_ms() + 60_000;
        let source = LocalWebhookSecret::new("new".into(), Some(("old".into(), later)));
        assert_eq!(previous(&source).await.as_deref(), Some("old"));
        assert_eq!(source.previous_until(), Some(later));
        let current = source
            .fetch(SecretVersion::Current)
            .await
            .expect("in memory");
        assert_eq!(
            current
                .map(|secret| secret.expose_secret().to_owned())
                .as_deref(),
            Some("new")
        );

        source.set(
            "new".into(),
            Some(("old".into(), now_ms().saturating_sub(1))),
        );
        assert_eq!(previous(&source).await, None, "the overlap is over");
        source.set("new".into(), None);
        assert_eq!(previous(&source).await, None);
        assert_eq!(source.previous_until(), None);
    }
}
