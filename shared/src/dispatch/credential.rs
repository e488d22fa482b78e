//! The control plane's side of a runner's credential: the dispatch stage grants one per
//! attempt ([`GrantKey::grant`], kept in the job record as a keyed digest), and the token
//! endpoint (`ota serve`'s `POST /runner/token`, the dispatch Lambda's direct invocation)
//! checks a runner's [`TokenRequest`] against it ([`check_token_request`]) before it
//! mints the job's installation token.
//!
//! The digest is keyed with a key derived from the App's private key, which only the
//! control plane holds: a runner that can write job records (the local runner opens the
//! database, the Fargate runner's role writes the jobs table) still cannot make a digest
//! for a credential of its choosing, nor move its own onto another job or attempt.

use crate::config::{BuiltinTask, Deliverable};
use crate::ids::{InstallationId, RepoFullName};
use crate::job::{JobId, JobRecord, JobStatus, RunnerCredential, RunnerGrant};
use crate::ports::{JobStore, StoreError};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// What the key derivation is for, so that the derived key is good for nothing else.
const KEY_PURPOSE: &[u8] = b"ollama-turbo-agent runner credential v1";

/// The key of the grants' digests. `Debug` never shows it.
#[derive(Clone)]
pub struct GrantKey(std::sync::Arc<SecretBox<[u8; 32]>>);

impl fmt::Debug for GrantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GrantKey([REDACTED])")
    }
}

impl GrantKey {
    /// The key derived from the App's private key (PEM): every part of the control
    /// plane that holds the App's key derives the same one, and no runner holds it.
    pub fn from_app_key(private_key: &SecretString) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(private_key.expose_secret().trim().as_bytes())
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(KEY_PURPOSE);
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        Self(std::sync::Arc::new(SecretBox::new(Box::new(key))))
    }

    /// The grant for `credential`, made for `attempt` of `job`.
    pub fn grant(
        &self,
        job: &JobId,
        attempt: u32,
        ollama_key: bool,
        credential: &RunnerCredential,
    ) -> RunnerGrant {
        RunnerGrant {
            attempt,
            ollama_key,
            digest: hex::encode(self.digest(job, attempt, credential)),
        }
    }

    /// Whether `credential` is the one `grant` was made for, compared in constant time.
    fn admits(
        &self,
        grant: &RunnerGrant,
        job: &JobId,
        attempt: u32,
        credential: &RunnerCredential,
    ) -> bool {
        let Ok(stored) = hex::decode(&grant.digest) else {
            return false;
        };
        let presented = self.digest(job, attempt, credential);
        grant.attempt == attempt && bool::from(stored.as_slice().ct_eq(presented.as_slice()))
    }

    fn digest(&self, job: &JobId, attempt: u32, credential: &RunnerCredential) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret())
            .unwrap_or_else(|_| unreachable_hmac());
        for part in [job.as_str(), &attempt.to_string(), credential.expose()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().to_vec()
    }
}

/// HMAC takes a key of any length; `new_from_slice` cannot fail for it.
fn unreachable_hmac() -> Hmac<Sha256> {
    unreachable!("HMAC-SHA256 accepts keys of every length")
}

/// A runner asking for its job's installation token: which job and attempt it runs, and
/// the credential it was started with. `Debug` never shows the credential.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub job: JobId,
    pub attempt: u32,
    pub credential: RunnerCredential,
}

/// A [`TokenRequest`] as JSON (the Lambda invocation's payload; `ota serve` takes the
/// credential as a bearer token instead and the rest as this body).
#[derive(Deserialize)]
struct TokenRequestJson {
    job: String,
    attempt: u32,
    #[serde(default)]
    credential: Option<String>,
}

/// Why a token request is not one: the message names the field, never quotes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a runner token request: {0}")]
pub struct TokenRequestError(pub String);

impl TokenRequest {
    /// Reads `{"job": …, "attempt": …, "credential": …}`; `credential` overrides the
    /// body's (a bearer header), and one of the two must be there.
    pub fn from_json(body: &[u8], credential: Option<&str>) -> Result<Self, TokenRequestError> {
        let json: TokenRequestJson = serde_json::from_slice(body).map_err(|err| {
            // serde's message may quote the input; only its position is kept.
            TokenRequestError(format!(
                "expected {{\"job\", \"attempt\"}} as JSON (line {}, column {})",
                err.line(),
                err.column()
            ))
        })?;
        let job =
            JobId::parse(&json.job).map_err(|err| TokenRequestError(format!("`job`: {err}")))?;
        let credential = credential
            .map(str::to_owned)
            .or(json.credential)
            .ok_or_else(|| TokenRequestError("the runner's credential is missing".to_owned()))?;
        let credential = RunnerCredential::parse(&credential)
            .map_err(|err| TokenRequestError(format!("the credential: {err}")))?;
        Ok(Self {
            job,
            attempt: json.attempt,
            credential,
        })
    }
}

/// Why a runner gets no token. None of these quotes the credential.
#[derive(Debug, thiserror::Error)]
pub enum TokenRefusal {
    #[error("job {0} does not exist")]
    UnknownJob(JobId),
    #[error("job {job} is {status}: its runners get no more tokens")]
    Finished { job: JobId, status: JobStatus },
    #[error("attempt {attempt} of job {job} is over: the job is on attempt {current}")]
    Superseded {
        job: JobId,
        attempt: u32,
        current: u32,
    },
    #[error("the credential is not the one attempt {attempt} of job {job} was started with")]
    WrongCredential { job: JobId, attempt: u32 },
    #[error("the job store is unavailable: {0}")]
    Store(#[from] StoreError),
}

impl TokenRefusal {
    /// The HTTP status that says it.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnknownJob(_) => 404,
            Self::Finished { .. } | Self::Superseded { .. } => 410,
            Self::WrongCredential { .. } => 401,
            Self::Store(_) => 503,
        }
    }

    /// A short name for the kind, for machine readers (`"wrong_credential"`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownJob(_) => "unknown_job",
            Self::Finished { .. } => "job_finished",
            Self::Superseded { .. } => "attempt_over",
            Self::WrongCredential { .. } => "wrong_credential",
            Self::Store(_) => "unavailable",
        }
    }
}

/// A request that holds: the job, and whether its runner gets the hosted service's key.
#[derive(Debug, Clone)]
pub struct Granted {
    pub job: JobRecord,
    pub ollama_key: bool,
}

impl Granted {
    /// What the job delivers, and so the permissions its token gets: a built-in task's
    /// own, a repository's own task's a pull request (as `.ollama-turbo.yml` resolves
    /// them, `config::resolve`).
    pub fn deliverable(&self) -> Deliverable {
        BuiltinTask::from_name(&self.job.task)
            .map_or(Deliverable::PullRequest, BuiltinTask::deliverable)
    }
}

/// The control plane's answer to a granted [`TokenRequest`]: the job's installation token
/// (GitHub's, for the job's one repository), when it expires, which installation and
/// repository it is for, and the hosted Ollama's API key when the attempt runs there.
/// `Debug` shows neither secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub token: String,
    /// Unix milliseconds.
    pub expires_at_ms: u64,
    pub installation: InstallationId,
    pub repo: RepoFullName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ollama_api_key: Option<String>,
}

impl fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("token", &"[REDACTED]")
            .field("expires_at_ms", &self.expires_at_ms)
            .field("installation", &self.installation)
            .field("repo", &self.repo)
            .field(
                "ollama_api_key",
                &self.ollama_api_key.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// Checks `request` against the job's record: the job exists and has not finished, the
/// request is for its current attempt, and the credential is that attempt's.
pub async fn check_token_request<S: JobStore>(
    store: &S,
    key: &GrantKey,
    request: &TokenRequest,
) -> Result<Granted, TokenRefusal> {
    let job = store
        .job(&request.job)
        .await?
        .ok_or_else(|| TokenRefusal::UnknownJob(request.job.clone()))?;
    let wrong = || TokenRefusal::WrongCredential {
        job: job.id.clone(),
        attempt: request.attempt,
    };
    let Some(grant) = job.runner_grant.as_ref() else {
        return Err(wrong());
    };
    // The credential is checked against what it claims first, so that a stranger learns
    // nothing about the job but "wrong credential".
    let current = grant.attempt;
    if !key.admits(grant, &job.id, request.attempt, &request.credential) {
        let superseded = request.attempt < current;
        return Err(if superseded {
            TokenRefusal::Superseded {
                job: job.id.clone(),
                attempt: request.attempt,
                current,
            }
        } else {
            wrong()
        });
    }
    if job.status.is_terminal() {
        return Err(TokenRefusal::Finished {
            job: job.id.clone(),
            status: job.status,
        });
    }
    if job.attempts != request.attempt {
        return Err(TokenRefusal::Superseded {
            job: job.id.clone(),
            attempt: request.attempt,
            current: job.attempts,
        });
    }
    let ollama_key = grant.ollama_key;
    Ok(Granted { job, ollama_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> GrantKey {
        GrantKey::from_app_key(&SecretString::from("-----BEGIN RSA PRIVATE KEY-----k"))
    }

    #[test]
    fn a_grant_admits_its_credential_for_its_job_and_attempt_only() {
        let job = JobId::parse("j0123456789abcdef0123").expect("id");
        let other = JobId::parse("j0123456789abcdef0124").expect("id");
        let credential = RunnerCredential::generate().expect("random");
        let grant = key().grant(&job, 2, false, &credential);
        assert!(!grant.digest.contains(credential.expose()));
        assert!(key().admits(&grant, &job, 2, &credential));
        assert!(!key().admits(&grant, &job, 1, &credential));
        assert!(!key().admits(&grant, &other, 2, &credential));
        let stranger = RunnerCredential::generate().expect("random");
        assert!(!key().admits(&grant, &job, 2, &stranger));
        let other_key = GrantKey::from_app_key(&SecretString::from("another key"));
        assert!(!other_key.admits(&grant, &job, 2, &credential));
    }

    #[test]
    fn requests_read_the_credential_from_the_header_or_the_body() {
        let credential = "ab".repeat(32);
        let body = br#"{"job": "j0123456789abcdef0123", "attempt": 3}"#;
        let request = TokenRequest::from_json(body, Some(&credential)).expect("request");
        assert_eq!(request.attempt, 3);
        let err = TokenRequest::from_json(body, None).expect_err("no credential");
        assert!(err.to_string().contains("missing"), "{err}");
        let with = format!(
            r#"{{"job": "j0123456789abcdef0123", "attempt": 3, "credential": "{credential}"}}"#
        );
        assert!(TokenRequest::from_json(with.as_bytes(), None).is_ok());
        let err = TokenRequest::from_json(
            b"{\"job\": \"secret-ish\", \"attempt\": 1}",
            Some(&credential),
        )
        .expect_err("bad id");
        assert!(err.to_string().contains("`job`"), "{err}");
        let err = TokenRequest::from_json(b"not json hunter2", Some(&credential)).expect_err("bad");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
