//! The runner slots on DynamoDB (moto), through the real SDK: versioned writes that refuse
//! a stale version, and dispatches racing for the last slots that never overshoot a cap.

use e2e::aws::fresh_store;
use shared::dispatch::capacity::{acquire, acquire_telling, release, wait_for_launch_capacity};
use shared::dispatch::{Admission, Endpoints, Limits, SlotRequest, Slots};
use shared::ids::InstallationId;
use shared::job::JobId;
use shared::ports::SlotStore;
use shared::ports::StoreError;

fn job(n: usize) -> JobId {
    JobId::parse(&format!("j{n:020}")).expect("job id")
}

fn request(n: usize, installation: u64) -> SlotRequest {
    SlotRequest {
        job: job(n),
        installation: InstallationId(installation),
        attempt: 1,
        allow_hosted: false,
        now_ms: 1_000,
        timeouts: shared::job::Timeouts::DEFAULT,
    }
}

#[tokio::test]
async fn a_write_must_find_the_version_it_read() {
    let (store, _, _) = fresh_store("ota-slots").await;
    let empty = store.slots().await.expect("read");
    assert_eq!((empty.version, empty.slots.leases.len()), (0, 0));
    let mut slots = Slots::default();
    slots.admit(&request(1, 1), &LIMITS, &endpoints());
    store.put_slots(&slots, 0).await.expect("first write");
    assert_eq!(
        store.put_slots(&slots, 0).await,
        Err(StoreError::Conflict { current: None })
    );
    let stored = store.slots().await.expect("read");
    assert_eq!(stored.version, 1);
    assert_eq!(stored.slots, slots);
    store
        .put_slots(&Slots::default(), 1)
        .await
        .expect("second write");
    assert_eq!(
        store.put_slots(&Slots::default(), 1).await,
        Err(StoreError::Conflict { current: None })
    );
}

const LIMITS: Limits = Limits {
    gpu_slots: 2,
    hosted_slots: 0,
    per_installation: 10,
};

fn endpoints() -> Endpoints {
    Endpoints {
        self_hosted: Some("http://gpu:11434".to_owned()),
        hosted: None,
        self_hosted_down: None,
    }
}

#[tokio::test]
async fn racing_dispatches_never_take_more_slots_than_there_are() {
    let (store, _, _) = fresh_store("ota-slots").await;
    let endpoints = endpoints();
    let requests: Vec<SlotRequest> = (0..6).map(|n| request(n, n as u64)).collect();
    let answers = futures_util::future::join_all(
        requests
            .iter()
            .map(|request| acquire(&store, request, &LIMITS, &endpoints)),
    )
    .await;
    let admitted: Vec<&JobId> = answers
        .iter()
        .zip(&requests)
        .filter_map(|(answer, request)| match answer {
            Ok(Admission::Admitted(_)) => Some(&request.job),
            Ok(Admission::Full(_)) => None,
            Err(err) => panic!("{err}"),
        })
        .collect();
    assert_eq!(admitted.len(), 2, "{answers:?}");
    let stored = store.slots().await.expect("read").slots;
    assert_eq!(stored.leases.len(), 2);

    release(&store, admitted[0], 1).await.expect("release");
    release(&store, admitted[0], 1)
        .await
        .expect("releasing twice is harmless");
    // The refused wait in line: a newcomer does not jump it, the oldest waiter gets the slot.
    assert_eq!(stored.waiting.len(), 4);
    assert!(matches!(
        acquire(&store, &request(9, 9), &LIMITS, &endpoints).await,
        Ok(Admission::Full(_))
    ));
    let oldest = store.slots().await.expect("read").slots.waiting[0]
        .job
        .clone();
    let oldest = requests
        .iter()
        .find(|request| request.job == oldest)
        .expect("a refused request");
    assert!(matches!(
        acquire(&store, oldest, &LIMITS, &endpoints).await,
        Ok(Admission::Admitted(_))
    ));
}

#[tokio::test]
async fn a_wait_is_news_once_per_reason() {
    let (store, _, _) = fresh_store("ota-slots").await;
    let endpoints = endpoints();
    let one_slot = Limits {
        gpu_slots: 1,
        ..LIMITS
    };
    let news = |answer: Result<(Admission, bool), StoreError>| match answer.expect("acquire") {
        (Admission::Full(reason), news) => (reason, news),
        (admitted, _) => panic!("queued: {admitted:?}"),
    };
    let ahead = acquire(&store, &request(1, 1), &one_slot, &endpoints)
        .await
        .expect("acquire");
    assert!(matches!(ahead, Admission::Admitted(_)), "{ahead:?}");
    let waiting = request(2, 2);
    let (reason, first) = news(acquire_telling(&store, &waiting, &one_slot, &endpoints).await);
    assert!(first, "joining the line is news: {reason}");
    let (again, repeated) = news(acquire_telling(&store, &waiting, &one_slot, &endpoints).await);
    assert_eq!((again.as_str(), repeated), (reason.as_str(), false));
    // Waiting for another reason is news again; so is a later attempt joining the line.
    let changed = wait_for_launch_capacity(&store, &waiting, "Fargate has no capacity")
        .await
        .expect("wait for a launch");
    assert!(changed);
    let (_, back) = news(acquire_telling(&store, &waiting, &one_slot, &endpoints).await);
    assert!(back, "the GPU being full is news after the launch wait");
    let retry = SlotRequest {
        attempt: 2,
        ..waiting.clone()
    };
    let (_, retried) = news(acquire_telling(&store, &retry, &one_slot, &endpoints).await);
    assert!(retried, "a later attempt in line is news");
}
