//! `ota --stack NAME secrets set private-key FILE | webhook-secret [FILE] |
//! ollama-api-key [FILE]`: the stack's secrets, written as new versions (the old one
//! stays as `AWSPREVIOUS`). A private key is checked to be one the App can sign with
//! before it is stored; no value is ever printed, nor part of an error.

use super::{SecretName, Stack};
use anyhow::{Context, bail};
use ota_github::AppCredentials;
use secrecy::{ExposeSecret, SecretString};
use shared::ids::AppId;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The largest secret file read: a 4096-bit PEM key is about 3.3 KB.
const MAX_SECRET_BYTES: u64 = 16 * 1024;
/// A generated webhook secret's length, as the template's own (`PasswordLength: 40`).
const WEBHOOK_SECRET_LEN: usize = 40;
/// The characters of a generated webhook secret (the template excludes punctuation too).
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[derive(Debug, Clone, clap::Subcommand)]
pub enum SecretsCommand {
    /// Store a new value of one of the stack's secrets.
    Set {
        /// Which secret.
        name: SecretName,
        /// Where the value is: a file, or `-` for stdin. The private key needs one; the
        /// webhook secret is generated without; the Ollama API key is read from stdin
        /// without.
        file: Option<PathBuf>,
    },
}

pub async fn run(stack: &Stack, command: SecretsCommand) -> anyhow::Result<ExitCode> {
    let SecretsCommand::Set { name, file } = command;
    let (value, generated) = match (name, file) {
        (SecretName::PrivateKey, None) => {
            bail!("give the App's private key file: `ota secrets set private-key app.pem`")
        }
        (SecretName::WebhookSecret, None) => (generate()?, true),
        (SecretName::OllamaApiKey, None) => (read_secret(Path::new("-"))?, false),
        (_, Some(file)) => (read_secret(&file)?, false),
    };
    check(name, &value)?;
    let (secret, arn) = stack.secret(name)?;
    secret.put(&value).await?;
    let how = if generated {
        "a newly generated value"
    } else {
        "the value given"
    };
    println!("Stored {how} as {} ({arn}).", name.what());
    match name {
        SecretName::PrivateKey => println!(
            "The functions read the key when they start: new instances use it at once; \
             the previous key stays readable as AWSPREVIOUS."
        ),
        SecretName::WebhookSecret => println!(
            "Now paste it into the App's settings (Webhook secret); deliveries signed with \
             the previous secret keep passing meanwhile. Read it with:\n  aws secretsmanager \
             get-secret-value --secret-id {arn} --query SecretString --output text"
        ),
        SecretName::OllamaApiKey => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// What each secret must be before it is stored.
fn check(name: SecretName, value: &SecretString) -> anyhow::Result<()> {
    let text = value.expose_secret();
    if text.is_empty() {
        bail!("{} is empty; nothing was stored", name.what());
    }
    match name {
        SecretName::PrivateKey => {
            let credentials = AppCredentials {
                app_id: AppId(1),
                private_key: value.clone(),
            };
            credentials
                .check_private_key()
                .map_err(|err| anyhow::anyhow!("{err}; nothing was stored"))
        }
        SecretName::WebhookSecret | SecretName::OllamaApiKey => {
            if text.chars().any(char::is_whitespace) {
                bail!(
                    "{} holds white space inside; nothing was stored",
                    name.what()
                );
            }
            Ok(())
        }
    }
}

/// A secret from `path` (`-`: stdin), without the line end a file or an `echo` adds.
fn read_secret(path: &Path) -> anyhow::Result<SecretString> {
    let bytes = read_input(path, MAX_SECRET_BYTES)
        .with_context(|| format!("reading {}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))?;
    Ok(SecretString::from(text.trim().to_owned()))
}

/// The bytes of `path` (`-`: stdin), at most `max` of them.
pub(super) fn read_input(path: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin().take(max + 1).read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(path)?
            .take(max + 1)
            .read_to_end(&mut bytes)?;
    }
    if bytes.len() as u64 > max {
        bail!("larger than {max} bytes");
    }
    Ok(bytes)
}

/// A new random webhook secret (also `ota serve`'s settings page's).
pub(crate) fn generate() -> anyhow::Result<SecretString> {
    let mut random = [0u8; WEBHOOK_SECRET_LEN];
    getrandom::fill(&mut random).map_err(|err| anyhow::anyhow!("no randomness: {err}"))?;
    // 256 is 4 × 62 + 8: the few values past 248 are folded in, a bias of no consequence
    // for a 40-character secret (over 230 bits).
    let text: String = random
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect();
    Ok(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_webhook_secret_is_long_and_plain() {
        let secret = generate().expect("random");
        let text = secret.expose_secret();
        assert_eq!(text.len(), WEBHOOK_SECRET_LEN);
        assert!(text.bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(text, generate().expect("random").expose_secret());
    }

    #[test]
    fn a_non_key_is_refused_without_echoing_it() {
        let value = SecretString::from("not a key: hunter2".to_owned());
        let err = check(SecretName::PrivateKey, &value)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valid RSA private key"), "{err}");
        assert!(err.ends_with("nothing was stored"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
