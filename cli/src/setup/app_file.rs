//! The App's credentials as the setup flow stores them: `<data-dir>/app.json`, readable by
//! the server's user only. `ota serve` reads it when the environment names no App.

use super::SetupError;
use super::private_file::{read_if_exists, write_private};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::fmt;
use std::path::{Path, PathBuf};

/// The file's name in the data directory.
pub const APP_FILE: &str = "app.json";

/// A GitHub App's identity and secrets, as GitHub handed them out when the App was
/// created. `Debug` never shows the key or the secrets.
#[derive(Clone)]
pub struct AppFile {
    pub app_id: u64,
    /// The App's URL name: its bot user is `<slug>[bot]`.
    pub slug: String,
    pub name: String,
    /// The App's page on GitHub (`https://github.com/apps/<slug>`).
    pub html_url: String,
    /// The App's RSA private key, PEM.
    pub private_key: SecretString,
    pub webhook_secret: SecretString,
    /// The webhook secret before the last rotation, still accepted until the time given
    /// (Unix milliseconds): the overlap while GitHub is switched to the new one.
    pub previous_webhook_secret: Option<(SecretString, u64)>,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
}

impl fmt::Debug for AppFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppFile")
            .field("app_id", &self.app_id)
            .field("slug", &self.slug)
            .field("name", &self.name)
            .field("html_url", &self.html_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl AppFile {
    /// Where the file lives in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(APP_FILE)
    }

    /// The stored App, `None` when setup has not run yet. A file that exists but cannot
    /// be read or used is an error naming the file and the problem.
    pub fn load(data_dir: &Path) -> Result<Option<AppFile>, SetupError> {
        let path = Self::path(data_dir);
        let Some(content) = read_if_exists(&path)? else {
            return Ok(None);
        };
        let unreadable = |reason: String| SetupError::Unreadable {
            path: path.clone(),
            reason,
        };
        // Only the position of a syntax error is shown: serde's messages may quote
        // what they found, and this file holds secrets.
        let value: Value = serde_json::from_str(&content).map_err(|err| {
            unreadable(format!(
                "not valid JSON (line {}, column {})",
                err.line(),
                err.column()
            ))
        })?;
        let fields = Fields(&value);
        let app = AppFile {
            app_id: fields.id("app_id").map_err(unreadable)?,
            slug: fields.string("slug").map_err(unreadable)?,
            name: fields.string("name").map_err(unreadable)?,
            html_url: fields.string("html_url").map_err(unreadable)?,
            private_key: fields.string("private_key").map_err(unreadable)?.into(),
            webhook_secret: fields.string("webhook_secret").map_err(unreadable)?.into(),
            previous_webhook_secret: match (
                fields
                    .optional_string("previous_webhook_secret")
                    .map_err(unreadable)?,
                fields
                    .optional_id("previous_webhook_secret_until_ms")
                    .map_err(unreadable)?,
            ) {
                (Some(secret), Some(until)) => Some((secret.into(), until)),
                (None, None) => None,
                _ => {
                    return Err(unreadable(
                        "`previous_webhook_secret` and `previous_webhook_secret_until_ms` go together"
                            .to_owned(),
                    ));
                }
            },
            client_id: fields.string("client_id").map_err(unreadable)?,
            client_secret: fields
                .optional_string("client_secret")
                .map_err(unreadable)?
                .map(SecretString::from),
        };
        app.check().map_err(unreadable)?;
        Ok(Some(app))
    }

    /// Writes the file atomically with mode 0600, creating the data directory if needed.
    pub fn save(&self, data_dir: &Path) -> Result<(), SetupError> {
        let stored = json!({
            "app_id": self.app_id,
            "slug": self.slug,
            "name": self.name,
            "html_url": self.html_url,
            "private_key": self.private_key.expose_secret(),
            "webhook_secret": self.webhook_secret.expose_secret(),
            "previous_webhook_secret": self
                .previous_webhook_secret
                .as_ref()
                .map(|(secret, _)| secret.expose_secret()),
            "previous_webhook_secret_until_ms": self
                .previous_webhook_secret
                .as_ref()
                .map(|(_, until)| until),
            "client_id": self.client_id,
            "client_secret": self.client_secret.as_ref().map(ExposeSecret::expose_secret),
        });
        let mut content =
            serde_json::to_string_pretty(&stored).map_err(|err| SetupError::Unwritable {
                path: Self::path(data_dir),
                reason: err.to_string(),
            })?;
        content.push('\n');
        write_private(&Self::path(data_dir), content.as_bytes())
    }

    /// The App's id and key, for the GitHub client.
    pub fn credentials(&self) -> ota_github::AppCredentials {
        ota_github::AppCredentials {
            app_id: shared::ids::AppId(self.app_id),
            private_key: self.private_key.clone(),
        }
    }

    /// What a usable App has; the reason names the field.
    pub(super) fn check(&self) -> Result<(), String> {
        if self.app_id == 0 {
            return Err("`app_id` must be a positive number".to_owned());
        }
        if !self.private_key.expose_secret().contains("-----BEGIN") {
            return Err("`private_key` is not a PEM private key".to_owned());
        }
        if self.webhook_secret.expose_secret().is_empty() {
            return Err("`webhook_secret` is empty".to_owned());
        }
        Ok(())
    }
}

/// Reads named fields of a JSON object; errors name the field, never its value.
pub(super) struct Fields<'a>(pub(super) &'a Value);

impl Fields<'_> {
    pub(super) fn string(&self, name: &str) -> Result<String, String> {
        self.optional_string(name)?
            .ok_or_else(|| format!("`{name}` is missing"))
    }

    pub(super) fn optional_string(&self, name: &str) -> Result<Option<String>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(format!("`{name}` is not a string")),
        }
    }

    pub(super) fn optional_id(&self, name: &str) -> Result<Option<u64>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.id(name).map(Some),
        }
    }

    pub(super) fn id(&self, name: &str) -> Result<u64, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(format!("`{name}` is missing")),
            Some(value) => value
                .as_u64()
                .ok_or_else(|| format!("`{name}` is not a positive whole number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n";

    fn app() -> AppFile {
        AppFile {
            app_id: 42,
            slug: "ota-test".to_owned(),
            name: "OTA test".to_owned(),
            html_url: "https://github.com/apps/ota-test".to_owned(),
            private_key: PEM.into(),
            webhook_secret: "whsec-value".into(),
            previous_webhook_secret: Some(("whsec-old".into(), 1_700_000_000_000)),
            client_id: "Iv1.abc".to_owned(),
            client_secret: Some("client-secret-value".into()),
        }
    }

    #[test]
    fn what_is_saved_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        app().save(dir.path()).unwrap();
        let loaded = AppFile::load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded.app_id, 42);
        assert_eq!(loaded.slug, "ota-test");
        assert_eq!(loaded.name, "OTA test");
        assert_eq!(loaded.html_url, "https://github.com/apps/ota-test");
        assert_eq!(loaded.private_key.expose_secret(), PEM);
        assert_eq!(loaded.webhook_secret.expose_secret(), "whsec-value");
        let (previous, until) = loaded.previous_webhook_secret.as_ref().unwrap();
        assert_eq!(previous.expose_secret(), "whsec-old");
        assert_eq!(*until, 1_700_000_000_000);
        assert_eq!(loaded.client_id, "Iv1.abc");
        assert_eq!(
            loaded
                .client_secret
                .as_ref()
                .map(ExposeSecret::expose_secret),
            Some("client-secret-value")
        );
    }

    #[test]
    fn no_file_means_not_set_up() {
        let dir = tempfile::tempdir().unwrap();
        assert!(AppFile::load(dir.path()).unwrap().is_none());
    }

    #[test]
    fn debug_shows_no_secret() {
        let shown = format!("{:?}", app());
        assert!(shown.contains("ota-test"));
        for secret in [
            "BEGIN RSA",
            "whsec-value",
            "whsec-old",
            "client-secret-value",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn a_broken_file_is_an_error_naming_the_file_and_the_field_not_the_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = AppFile::path(dir.path());
        fs::write(
            &path,
            r#"{"app_id": 42, "slug": "s", "name": "n", "html_url": "u","#,
        )
        .unwrap();
        let err = AppFile::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("app.json") && err.contains("not valid JSON"),
            "{err}"
        );

        let mut stored: Value = serde_json::from_str(&{
            app().save(dir.path()).unwrap();
            fs::read_to_string(&path).unwrap()
        })
        .unwrap();
        stored["webhook_secret"] = json!(7);
        stored["private_key"] = json!("not a key but secret-looking");
        fs::write(&path, stored.to_string()).unwrap();
        let err = AppFile::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("`webhook_secret` is not a string"), "{err}");

        stored["webhook_secret"] = json!("whsec-value");
        fs::write(&path, stored.to_string()).unwrap();
        let err = AppFile::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("`private_key` is not a PEM"), "{err}");
        assert!(!err.contains("secret-looking"), "{err}");
    }
}
