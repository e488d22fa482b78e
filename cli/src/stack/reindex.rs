//! `ota --stack NAME reindex`: once, after updating a stack from a version without the
//! dashboard, puts the jobs, audit entries and installations recorded before into the
//! table's by-time index, so the dashboard lists them ([`ota_aws::DynamoStore::index_by_time`]).

use super::Stack;
use std::process::ExitCode;

pub async fn run(stack: &Stack) -> anyhow::Result<ExitCode> {
    let done = stack.store()?.index_by_time().await?;
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    println!(
        "Indexed {}, {} and {} for the dashboard.",
        count(done.jobs, "job", "jobs"),
        count(done.audit_entries, "audit entry", "audit entries"),
        count(done.installations, "installation", "installations"),
    );
    Ok(ExitCode::SUCCESS)
}
