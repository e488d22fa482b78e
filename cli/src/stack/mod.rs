//! `ota --stack NAME`: the operator's commands on a deployed stack rather than the local
//! database. The stack's table, state machine, dead-letter queues and secrets are found
//! from its CloudFormation outputs ([`Stack::connect`]); AWS credentials, region and
//! `AWS_ENDPOINT_URL` come from the usual chain (`AWS_PROFILE`, `AWS_REGION`, ...).
//! `jobs`, `job`, `approve`, `cancel` and `retry` ([`jobs`]) run the same operations as
//! on one machine, with the store and workflow the policy function uses; `dlq`
//! ([`dlq`]), `policy` ([`policy`]), `secrets` ([`secrets`]) and `reindex` ([`reindex`])
//! exist only here.

pub mod bulk;
pub mod dlq;
pub mod jobs;
pub mod policy;
pub mod reindex;
pub mod secrets;

use anyhow::Context;
use aws_config::SdkConfig;
pub use ota_aws::{DEAD_LETTER_QUEUES, DeadLetterQueueSpec};
use ota_aws::{
    DeadLetterQueue, DynamoStore, SecretsManagerSecret, StackOutputs, StepFunctionsWorkflow,
};

/// The output that names the jobs table.
pub const TABLE_OUTPUT: &str = "JobsTableName";
/// The output that names the job state machine.
pub const STATE_MACHINE_OUTPUT: &str = "JobStateMachineArn";
/// The secrets `ota secrets set` writes, by their name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SecretName {
    /// The GitHub App's private key (PEM), checked before it is stored.
    PrivateKey,
    /// The App's webhook secret: generated unless read from a file or stdin.
    WebhookSecret,
    /// The API key of Ollama's hosted service.
    OllamaApiKey,
}

impl SecretName {
    /// The stack output holding the secret's ARN.
    pub fn output(self) -> &'static str {
        match self {
            Self::PrivateKey => "GitHubAppPrivateKeyArn",
            Self::WebhookSecret => "WebhookSecretArn",
            Self::OllamaApiKey => "OllamaApiKeyArn",
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Self::PrivateKey => "the GitHub App's private key",
            Self::WebhookSecret => "the webhook secret",
            Self::OllamaApiKey => "the hosted Ollama API key",
        }
    }
}

/// A deployed stack: its outputs and the SDK configuration to reach its resources.
pub struct Stack {
    pub outputs: StackOutputs,
    pub aws: SdkConfig,
}

impl Stack {
    /// Describes the stack `name`; a stack that does not exist is an error naming it.
    pub async fn connect(name: &str) -> anyhow::Result<Self> {
        let aws = ota_aws::load_config().await;
        let cloudformation = aws_sdk_cloudformation::Client::new(&aws);
        let outputs = StackOutputs::describe(&cloudformation, name).await?;
        Ok(Self { outputs, aws })
    }

    pub fn name(&self) -> &str {
        self.outputs.stack()
    }

    /// The store on the stack's table.
    pub fn store(&self) -> anyhow::Result<DynamoStore> {
        let table = self.outputs.get(TABLE_OUTPUT, "the jobs table")?;
        Ok(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&self.aws),
            table,
        ))
    }

    /// The workflow on the stack's state machine.
    pub fn workflow(&self) -> anyhow::Result<StepFunctionsWorkflow> {
        let arn = self
            .outputs
            .get(STATE_MACHINE_OUTPUT, "the job state machine")?;
        StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&self.aws), arn)
            .with_context(|| format!("stack {:?}: output {STATE_MACHINE_OUTPUT}", self.name()))
    }

    /// A dead-letter queue of the stack.
    pub fn dead_letter_queue(&self, spec: &DeadLetterQueueSpec) -> anyhow::Result<DeadLetterQueue> {
        let what = format!("the {} dead-letter queue", spec.name);
        let url = self.outputs.get(spec.output, &what)?;
        Ok(DeadLetterQueue::new(
            aws_sdk_sqs::Client::new(&self.aws),
            url,
        ))
    }

    /// A secret of the stack, and its ARN.
    pub fn secret(&self, name: SecretName) -> anyhow::Result<(SecretsManagerSecret, String)> {
        let arn = self.outputs.get(name.output(), name.what())?.to_owned();
        let client = aws_sdk_secretsmanager::Client::new(&self.aws);
        Ok((SecretsManagerSecret::new(client, &arn), arn))
    }
}
