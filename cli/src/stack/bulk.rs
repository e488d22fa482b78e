//! `ota --stack NAME bulk`: the bulk run of [`crate::commands::bulk`] on a deployed stack.
//! Its requests go into the stack's intake queue (output `IntakeQueueUrl`), where the
//! policy function takes them as it takes a schedule's; the jobs and refusals are read
//! from the stack's table. The operator acts as `local:<user>`, as in `ota --stack NAME
//! approve`.

use super::Stack;
use crate::commands::bulk::{BulkArgs, bulk};
use crate::commands::operator_user;
use ota_aws::SqsEventQueue;
use shared::policy_stage::operations::Actor;
use std::process::ExitCode;

/// The output that names the intake queue.
pub const INTAKE_QUEUE_OUTPUT: &str = "IntakeQueueUrl";

pub async fn run(stack: &Stack, args: BulkArgs) -> anyhow::Result<ExitCode> {
    let store = stack.store()?;
    let url = stack.outputs.get(INTAKE_QUEUE_OUTPUT, "the intake queue")?;
    let queue = SqsEventQueue::new(aws_sdk_sqs::Client::new(&stack.aws), url);
    let run = args.run(Actor::operator(&operator_user()).name().to_owned());
    bulk(&store, &queue, &run, &format!("stack {}", stack.name())).await
}
