//! The managed GPU Ollama service in moto: a cluster and an ECS service shaped like
//! `template.yaml`'s (`OllamaService`, desired count 0), and what ECS does that moto does
//! not. Moto's services launch no tasks, and its `ListTasks` ignores `serviceName`; so
//! [`GpuInMoto::task_becomes_healthy`] plays ECS's scheduler placing the service's task
//! (group `service:<name>`, as ECS groups a service's tasks) with its container passing
//! the health check, which is the moment `EcsGpuService` reads the service as ready.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType,
    NetworkConfiguration, NetworkMode,
};
use ota_aws::GpuServiceTarget;

/// The Ollama container's name, as in `template.yaml`.
pub const OLLAMA_CONTAINER: &str = "ollama";

pub struct GpuInMoto {
    pub ecs: aws_sdk_ecs::Client,
    pub target: GpuServiceTarget,
    pub task_definition: String,
    subnet: String,
}

impl GpuInMoto {
    /// A GPU cluster and its Ollama service at desired count 0.
    pub async fn create(ecs: &aws_sdk_ecs::Client, name: &str, subnet: String) -> Self {
        let cluster = format!("{name}-gpu");
        ecs.create_cluster()
            .cluster_name(&cluster)
            .send()
            .await
            .expect("create the GPU cluster in moto");
        let family = format!("{name}-ollama");
        // The template's task definition is for EC2 with one GPU; moto needs neither.
        ecs.register_task_definition()
            .family(&family)
            .requires_compatibilities(Compatibility::Ec2)
            .network_mode(NetworkMode::Awsvpc)
            .container_definitions(
                ContainerDefinition::builder()
                    .name(OLLAMA_CONTAINER)
                    .image("ollama/ollama:0.12.6")
                    .memory(4096)
                    .essential(true)
                    .build(),
            )
            .send()
            .await
            .expect("register the Ollama task definition in moto");
        let service = "ollama".to_owned();
        ecs.create_service()
            .cluster(&cluster)
            .service_name(&service)
            .task_definition(&family)
            .desired_count(0)
            .send()
            .await
            .expect("create the GPU Ollama service in moto");
        Self {
            ecs: ecs.clone(),
            target: GpuServiceTarget {
                cluster,
                service,
                container: OLLAMA_CONTAINER.to_owned(),
            },
            task_definition: family,
            subnet,
        }
    }

    /// The service's desired count, as the dispatch stage left it.
    pub async fn desired_count(&self) -> i32 {
        self.ecs
            .describe_services()
            .cluster(&self.target.cluster)
            .services(&self.target.service)
            .send()
            .await
            .expect("describe the GPU service")
            .services()
            .first()
            .expect("the GPU service")
            .desired_count()
    }

    /// ECS places the service's task and its Ollama passes its health check (moto's
    /// containers report healthy at once). Launched as Fargate in moto, which has no GPU
    /// instance to place it on.
    pub async fn task_becomes_healthy(&self) -> String {
        let network = AwsVpcConfiguration::builder()
            .subnets(&self.subnet)
            .security_groups("sg-0123456789abcdef0")
            .assign_public_ip(AssignPublicIp::Disabled)
            .build()
            .expect("network");
        self.ecs
            .run_task()
            .cluster(&self.target.cluster)
            .task_definition(&self.task_definition)
            .launch_type(LaunchType::Fargate)
            .group(format!("service:{}", self.target.service))
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(network)
                    .build(),
            )
            .send()
            .await
            .expect("run the service's task in moto")
            .tasks()
            .first()
            .and_then(|task| task.task_arn())
            .expect("a task")
            .to_owned()
    }

    /// ECS stops the service's task (after the desired count went to 0).
    pub async fn task_stops(&self, task: &str) {
        self.ecs
            .stop_task()
            .cluster(&self.target.cluster)
            .task(task)
            .send()
            .await
            .expect("stop the service's task in moto");
    }
}
