//! A secret kept in AWS Secrets Manager, read by version stage so that rotation works:
//! `AWSCURRENT` is the secret, `AWSPREVIOUS` the one it replaced.

use crate::describe;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use secrecy::SecretString;
use shared::ports::{SecretError, SecretSource, SecretVersion};

#[derive(Clone)]
pub struct SecretsManagerSecret {
    client: Client,
    secret_id: String,
}

impl SecretsManagerSecret {
    /// `secret_id` is the secret's ARN or name.
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    /// Stores `value` as the secret's new `AWSCURRENT` version; the one it replaces
    /// becomes `AWSPREVIOUS`, so readers that accept both keep working meanwhile. The
    /// error names the secret, never the value.
    pub async fn put(&self, value: &SecretString) -> Result<(), SecretError> {
        use secrecy::ExposeSecret;
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(value.expose_secret())
            .send()
            .await
            .map(|_| ())
            .map_err(|err| {
                SecretError(format!(
                    "storing secret {}: {}",
                    self.secret_id,
                    describe(&err)
                ))
            })
    }
}

impl SecretSource for SecretsManagerSecret {
    async fn fetch(&self, version: SecretVersion) -> Result<Option<SecretString>, SecretError> {
        let stage = match version {
            SecretVersion::Current => "AWSCURRENT",
            SecretVersion::Previous => "AWSPREVIOUS",
        };
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        match answer {
            Ok(output) => match output.secret_string {
                Some(value) => Ok(Some(SecretString::from(value))),
                None => Err(SecretError(format!(
                    "secret {} ({stage}) holds binary data; store it as a string",
                    self.secret_id
                ))),
            },
            // No previous version yet: the secret was never rotated.
            Err(err)
                if version == SecretVersion::Previous
                    && matches!(
                        err.as_service_error(),
                        Some(GetSecretValueError::ResourceNotFoundException(_))
                    ) =>
            {
                Ok(None)
            }
            Err(err) => Err(SecretError(format!(
                "reading secret {} ({stage}): {}",
                self.secret_id,
                describe(&err)
            ))),
        }
    }
}
