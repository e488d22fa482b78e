//! `EcsGpuService` against moto's ECS: the service's desired count is what starts and
//! stops it, and only a running task of the service with its Ollama container healthy
//! makes it ready (moto launches no service tasks; `e2e::workflow::gpu` plays ECS).

use e2e::aws::config;
use e2e::unique;
use e2e::workflow::gpu::GpuInMoto;
use ota_aws::{EcsGpuService, GpuServiceTarget};
use shared::ports::{GpuError, GpuService, GpuState};

/// A subnet id moto accepts: its `RunTask` checks that the subnet exists.
async fn subnet() -> String {
    e2e::workflow::default_subnet()
}

#[tokio::test]
async fn the_desired_count_starts_and_stops_it_and_a_healthy_task_makes_it_ready() {
    let config = config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let gpu = GpuInMoto::create(&ecs, &unique("ota-gpu"), subnet().await).await;
    let service = EcsGpuService::new(ecs.clone(), gpu.target.clone());

    assert_eq!(service.state().await, Ok(GpuState::Stopped));
    service.start().await.expect("start");
    assert_eq!(gpu.desired_count().await, 1);
    assert_eq!(service.state().await, Ok(GpuState::Starting));
    service
        .start()
        .await
        .expect("starting again changes nothing");
    assert_eq!(gpu.desired_count().await, 1);
    assert_eq!(service.state().await, Ok(GpuState::Starting));

    let task = gpu.task_becomes_healthy().await;
    assert_eq!(service.state().await, Ok(GpuState::Ready));

    service.stop().await.expect("stop");
    assert_eq!(gpu.desired_count().await, 0);
    assert_eq!(service.state().await, Ok(GpuState::Stopped));
    service
        .stop()
        .await
        .expect("stopping again changes nothing");
    gpu.task_stops(&task).await;
    assert_eq!(service.state().await, Ok(GpuState::Stopped));
}

#[tokio::test]
async fn a_task_of_something_else_in_the_cluster_does_not_make_it_ready() {
    let config = config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let gpu = GpuInMoto::create(&ecs, &unique("ota-gpu"), subnet().await).await;
    // The same task definition run by hand, not by the service: its group is the family.
    let other = GpuServiceTarget {
        service: "not-ollama".to_owned(),
        ..gpu.target.clone()
    };
    ecs.create_service()
        .cluster(&other.cluster)
        .service_name(&other.service)
        .task_definition(&gpu.task_definition)
        .desired_count(1)
        .send()
        .await
        .expect("another service");
    gpu.task_becomes_healthy().await;
    let service = EcsGpuService::new(ecs.clone(), other);
    assert_eq!(service.state().await, Ok(GpuState::Starting));
}

#[tokio::test]
async fn a_missing_service_is_a_misconfiguration_not_a_wait() {
    let config = config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let gpu = GpuInMoto::create(&ecs, &unique("ota-gpu"), subnet().await).await;
    let missing = EcsGpuService::new(
        ecs.clone(),
        GpuServiceTarget {
            service: "no-such-service".to_owned(),
            ..gpu.target.clone()
        },
    );
    let err = missing.state().await.expect_err("no such service");
    assert!(
        matches!(&err, GpuError::Rejected(text) if text.contains("no-such-service")),
        "{err}"
    );
    assert!(!err.is_transient());
}
