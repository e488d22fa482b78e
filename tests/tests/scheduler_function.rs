//! The scheduler Lambda's handler against moto, as EventBridge invokes it every minute:
//! the schedules due in the DynamoDB registry go to the intake queue as requests (the
//! policy function's input), once per fire time however often it is invoked; schedules
//! not due, and ticks that repeat, send nothing.

use e2e::aws::{config, drain, fifo_queue, fresh_store};
use e2e::store_contract::schedule_entry;
use e2e::unique;
use ota_aws::SqsEventQueue;
use scheduler_function::{Scheduler, handle};
use shared::ids::RepoId;
use shared::inbound::{Inbound, RequestSource};
use shared::ports::ScheduleRegistry;

/// 2026-12-02T03:00:00Z, a fire time of `0 3 * * *`.
const THREE_AM: u64 = 1_796_180_400_000;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

async fn scheduler() -> (Scheduler, aws_sdk_sqs::Client, String) {
    let (registry, _client, _table) = fresh_store("ota-scheduler").await;
    let sqs = aws_sdk_sqs::Client::new(&config().await);
    let queue_url = fifo_queue(&sqs, &unique("intake")).await;
    let queue = SqsEventQueue::new(sqs.clone(), &queue_url);
    (Scheduler { registry, queue }, sqs, queue_url)
}

#[tokio::test]
async fn a_due_schedule_is_queued_once_as_a_request_and_the_others_wait() {
    let (scheduler, sqs, queue_url) = scheduler().await;
    // Missed three nights ago; another not due until tomorrow; one that never fires.
    let missed = schedule_entry(7, 1, Some(THREE_AM - 2 * DAY_MS));
    let later = schedule_entry(7, 2, Some(THREE_AM + DAY_MS));
    let never = schedule_entry(8, 3, None);
    for entry in [&missed, &later, &never] {
        scheduler.registry.put_schedule(entry).await.expect("put");
    }
    let now = THREE_AM + 30_000;

    let report = handle(&scheduler, now).await.expect("tick");
    assert_eq!(report.queued.len(), 1, "{report:?}");
    let messages = drain(&sqs, &queue_url).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let Ok(Inbound::Request(request)) = Inbound::from_queue_message(&messages[0].body) else {
        panic!("not a request: {}", messages[0].body);
    };
    assert_eq!(request.id.as_str(), report.queued[0]);
    assert!(
        request.id.as_str().ends_with("-202612020300"),
        "{}",
        request.id
    );
    assert_eq!(request.repository.id, Some(RepoId(1)));
    assert_eq!(request.tasks, ["deps"]);
    assert_eq!(
        request.source,
        RequestSource::Schedule {
            cron: "0 3 * * *".to_owned()
        }
    );
    // The repository's messages keep their order in the intake queue.
    assert_eq!(messages[0].group_id.as_deref(), Some("repo-1"));

    let fired = scheduler
        .registry
        .schedule(RepoId(1))
        .await
        .expect("get")
        .expect("entry");
    assert_eq!(fired.last_fired_ms, Some(THREE_AM));
    assert_eq!(fired.next_fire_ms, Some(THREE_AM + DAY_MS));

    // Invoked again in the same minute (a retry, a second rule): nothing more.
    let again = handle(&scheduler, now + 10_000).await.expect("tick");
    assert!(again.queued.is_empty(), "{again:?}");
    assert!(drain(&sqs, &queue_url).await.is_empty());
}

#[tokio::test]
async fn a_fire_time_queued_twice_leaves_one_message() {
    let (scheduler, sqs, queue_url) = scheduler().await;
    let entry = schedule_entry(7, 1, Some(THREE_AM));
    scheduler.registry.put_schedule(&entry).await.expect("put");
    let first = handle(&scheduler, THREE_AM + 1_000).await.expect("tick");
    assert_eq!(first.queued.len(), 1);
    // The registry as if the claim had been lost after the message was sent: the tick
    // fires the same fire time again, under the same request id, which the intake
    // queue deduplicates on.
    scheduler.registry.put_schedule(&entry).await.expect("put");
    let second = handle(&scheduler, THREE_AM + 2_000).await.expect("tick");
    assert_eq!(second.queued, first.queued);
    let messages = drain(&sqs, &queue_url).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        messages[0].deduplication_id.as_deref(),
        Some(first.queued[0].as_str())
    );
}
