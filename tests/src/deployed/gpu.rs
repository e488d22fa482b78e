//! The stack's own GPU Ollama service, for the deployed stack's tests: what ECS, Cloud Map
//! and the VPC's resolver do that moto does not. Moto records the service's desired count
//! and launches nothing, so [`StackWorld::schedule_gpu_service`] plays ECS's scheduler
//! from the service as the stack made it: with a desired count of 1 it places the
//! service's task (group `service:<name>`; as Fargate, moto having no GPU instance to
//! place it on) and, its container passing the health check (moto's containers report
//! healthy at once), registers the task's address in the Cloud Map service of the
//! service's registries; at 0 it stops the task and deregisters it. The Auto Scaling
//! group that managed scaling would size is not played. [`StackWorld::resolve_ollama`]
//! is the VPC's resolver for a runner: a Cloud Map name answers the healthy instances'
//! addresses, and the one task at that address is the fake Ollama.

use super::StackWorld;
use super::made_after::registry_service_id;
use aws_sdk_ecs::types::{AssignPublicIp, AwsVpcConfiguration, LaunchType, NetworkConfiguration};
use aws_sdk_servicediscovery::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_servicediscovery::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_servicediscovery::error::BoxError;
use aws_sdk_servicediscovery::types::HealthStatusFilter;
use std::collections::BTreeMap;

/// The GPU task's address in the stack's first subnet (`PublicSubnetA`, 10.42.0.0/20).
const STAND_IN_ADDRESS: &str = "10.42.0.10";

/// What Cloud Map registers for an ECS task's A record.
const IPV4: &str = "AWS_INSTANCE_IPV4";

/// The GPU service's task while it runs: its ARN, its address and the Cloud Map service
/// it is registered in.
#[derive(Debug, Clone)]
pub(super) struct GpuTask {
    arn: String,
    address: String,
    registry: String,
}

impl StackWorld {
    /// The dispatch function's `GPU_SERVICE_CLUSTER` and `GPU_SERVICE_NAME`: empty when
    /// the stack runs no GPU service.
    fn gpu_service(&self) -> Option<(String, String)> {
        let env = self.env("DispatchFunction");
        let cluster = env
            .get("GPU_SERVICE_CLUSTER")
            .filter(|value| !value.is_empty())?;
        let name = env
            .get("GPU_SERVICE_NAME")
            .filter(|value| !value.is_empty())?;
        Some((cluster.clone(), name.clone()))
    }

    /// The GPU service's desired count, as the dispatch function left it.
    pub async fn gpu_desired_count(&self) -> i32 {
        let (cluster, name) = self
            .gpu_service()
            .unwrap_or_else(|| panic!("the stack runs no GPU service"));
        self.ecs
            .describe_services()
            .cluster(&cluster)
            .services(&name)
            .send()
            .await
            .expect("DescribeServices")
            .services()
            .first()
            .unwrap_or_else(|| panic!("no GPU service {name}"))
            .desired_count()
    }

    /// ECS's scheduler for the GPU service, one step. Returns whether it changed anything.
    pub(super) async fn schedule_gpu_service(&self) -> usize {
        let Some((cluster, name)) = self.gpu_service() else {
            return 0;
        };
        let described = self
            .ecs
            .describe_services()
            .cluster(&cluster)
            .services(&name)
            .send()
            .await
            .expect("DescribeServices");
        let service = described
            .services()
            .first()
            .unwrap_or_else(|| panic!("no GPU service {name} on {cluster}"));
        let running = self.gpu_task.lock().await.clone();
        match (service.desired_count(), running) {
            (desired, None) if desired > 0 => {
                let definition = service.task_definition().unwrap_or_default().to_owned();
                let task = self.place_gpu_task(&cluster, &name, &definition).await;
                *self.gpu_task.lock().await = Some(task);
                1
            }
            (0, Some(task)) => {
                self.ecs
                    .stop_task()
                    .cluster(&cluster)
                    .task(&task.arn)
                    .reason("Scaling activity initiated by (deployment)")
                    .send()
                    .await
                    .expect("StopTask");
                self.cloud_map()
                    .deregister_instance()
                    .service_id(&task.registry)
                    .instance_id(task_id(&task.arn))
                    .send()
                    .await
                    .expect("DeregisterInstance");
                *self.gpu_task.lock().await = None;
                1
            }
            _ => 0,
        }
    }

    /// The service's task placed, healthy, and registered in its Cloud Map service.
    async fn place_gpu_task(&self, cluster: &str, service: &str, definition: &str) -> GpuTask {
        let settings = self
            .stack
            .service_settings
            .iter()
            .find(|(logical, _)| {
                self.stack
                    .physical(logical)
                    .ends_with(&format!("/{service}"))
            })
            .map(|(_, settings)| settings.clone())
            .unwrap_or_else(|| panic!("the stack kept no settings of the service {service}"));
        let registry = settings["ServiceRegistries"][0]["RegistryArn"]
            .as_str()
            .unwrap_or_else(|| {
                panic!("the GPU service {service} registers in no Cloud Map service")
            });
        let registry = registry_service_id(registry).unwrap_or_else(|problem| panic!("{problem}"));
        let subnets = self.env("DispatchFunction")["RUNNER_SUBNETS"].clone();
        let network = AwsVpcConfiguration::builder()
            .set_subnets(Some(subnets.split(',').map(str::to_owned).collect()))
            .security_groups(self.stack.physical("OllamaSecurityGroup"))
            .assign_public_ip(AssignPublicIp::Disabled)
            .build()
            .expect("the service's network");
        let started = self
            .ecs
            .run_task()
            .cluster(cluster)
            .task_definition(definition)
            .launch_type(LaunchType::Fargate)
            .group(format!("service:{service}"))
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(network)
                    .build(),
            )
            .send()
            .await
            .expect("place the GPU service's task");
        let arn = started
            .tasks()
            .first()
            .and_then(|task| task.task_arn())
            .expect("the task's ARN")
            .to_owned();
        // Moto's CloudFormation keeps no `NetworkMode` of a task definition, so the task
        // has no network interface of its own (awsvpc gives it one in the subnet): it
        // gets a stand-in address there, which only ties the Cloud Map record to it.
        let address = STAND_IN_ADDRESS.to_owned();
        self.cloud_map()
            .register_instance()
            .service_id(&registry)
            .instance_id(task_id(&arn))
            .attributes(IPV4, &address)
            .send()
            .await
            .expect("RegisterInstance");
        GpuTask {
            arn,
            address,
            registry,
        }
    }

    /// `url` as a runner in the stack's VPC reaches it: a Cloud Map name resolves to its
    /// healthy instances, and the GPU service's task at that address is the fake Ollama.
    /// Other URLs are as they are.
    pub(super) async fn resolve_ollama(&self, url: &str) -> String {
        let Some((_, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let host = authority.split(':').next().unwrap_or_default();
        let Some((service, namespace)) = host.split_once('.') else {
            return url.to_owned();
        };
        if !namespace.ends_with(".internal") {
            return url.to_owned();
        }
        let found = self
            .cloud_map()
            .discover_instances()
            .namespace_name(namespace)
            .service_name(service)
            .health_status(HealthStatusFilter::Healthy)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{host} does not resolve in the stack's VPC: {err}"));
        let addresses: Vec<String> = found
            .instances()
            .iter()
            .filter_map(|instance| instance.attributes()?.get(IPV4).cloned())
            .collect();
        let task = self.gpu_task.lock().await.clone();
        match task {
            Some(task) if addresses.contains(&task.address) => {
                let fake = self.fakes.ollama.host();
                let path = rest.strip_prefix(authority).unwrap_or_default();
                format!("{}{path}", fake.trim_end_matches('/'))
            }
            _ => panic!(
                "{host} answers {addresses:?}, where no GPU Ollama task runs: a runner there \
                 would find no Ollama"
            ),
        }
    }

    /// The healthy instances of the Cloud Map name `host` (`service.namespace`).
    pub async fn cloud_map_addresses(&self, host: &str) -> BTreeMap<String, String> {
        let (service, namespace) = host.split_once('.').expect("a Cloud Map name");
        self.cloud_map()
            .discover_instances()
            .namespace_name(namespace)
            .service_name(service)
            .health_status(HealthStatusFilter::Healthy)
            .send()
            .await
            .expect("DiscoverInstances")
            .instances()
            .iter()
            .filter_map(|instance| {
                Some((
                    instance.instance_id()?.to_owned(),
                    instance.attributes()?.get(IPV4)?.clone(),
                ))
            })
            .collect()
    }

    fn cloud_map(&self) -> aws_sdk_servicediscovery::Client {
        let config = aws_sdk_servicediscovery::config::Builder::from(&self.aws)
            .interceptor(NoHostPrefix)
            .build();
        aws_sdk_servicediscovery::Client::from_conf(config)
    }
}

/// `DiscoverInstances` goes to `data-servicediscovery…` on AWS: the SDK puts `data-`
/// before the endpoint's host, which moto's `127.0.0.1` does not survive. Taken off
/// before the request leaves.
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let uri = request.uri().replacen("://data-", "://", 1);
        request.set_uri(uri)?;
        Ok(())
    }
}

/// The id at the end of a task's ARN: ECS registers a task in Cloud Map by it.
fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
