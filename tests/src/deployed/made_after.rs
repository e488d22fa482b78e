//! What test support makes after the stack through the services' APIs, where moto's
//! CloudFormation lacks the type ([`moto_lacks`](super::moto_lacks)): the GPU service's
//! Cloud Map namespace and service, its ECS capacity provider and the cluster's
//! association with it. Each answers what CloudFormation's `Ref` and `Fn::GetAtt` answer,
//! and refuses what AWS refuses where moto does not check (a capacity provider on a group
//! that is not there, an association naming a provider that is not, a service whose
//! strategy names a provider its cluster does not have).

use super::intrinsics::Made;
use super::moto_lacks::Creation;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, CapacityProviderStrategyItem, ManagedDraining, ManagedScaling,
    ManagedScalingStatus, ManagedTerminationProtection,
};
use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsRecord, HealthCheckCustomConfig, OperationTargetType, RecordType, RoutingPolicy,
};
use serde_json::Value;
use std::collections::BTreeMap;

pub struct Clients {
    ecs: aws_sdk_ecs::Client,
    cloud_map: aws_sdk_servicediscovery::Client,
}

/// A property's number, whether the template wrote it as one or a parameter made it a
/// string.
fn number(value: &Value) -> Option<i32> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
        .and_then(|number| i32::try_from(number).ok())
}

/// Refuses a property test support would not make as CloudFormation does.
fn only(logical: &str, properties: &Value, known: &[&str]) -> Result<(), String> {
    match properties
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, _)| key)
        .find(|key| !known.contains(&key.as_str()))
    {
        Some(unknown) => Err(format!(
            "{logical}: test support does not make the property {unknown} \
             (tests/src/deployed/made_after.rs)"
        )),
        None => Ok(()),
    }
}

impl Clients {
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(aws),
            cloud_map: aws_sdk_servicediscovery::Client::new(aws),
        }
    }

    /// Makes `logical` of the stack `stack` from its resolved `properties`; `resources`
    /// are the stack's physical ids so far.
    pub async fn make(
        &self,
        creation: Creation,
        stack: &str,
        logical: &str,
        properties: &Value,
        resources: &BTreeMap<String, String>,
    ) -> Result<Made, String> {
        match creation {
            Creation::NamespaceAfter => self.namespace(logical, properties).await,
            Creation::DiscoveryServiceAfter => self.discovery_service(logical, properties).await,
            Creation::CapacityProviderAfter => {
                self.capacity_provider(stack, logical, properties, resources)
                    .await
            }
            Creation::CapacityProvidersOfClusterAfter => {
                self.cluster_capacity(logical, properties).await
            }
            other => Err(format!("{logical}: {other:?} is not made here")),
        }
    }

    /// `AWS::ServiceDiscovery::PrivateDnsNamespace`: `Ref` is its id.
    async fn namespace(&self, logical: &str, properties: &Value) -> Result<Made, String> {
        only(logical, properties, &["Name", "Vpc", "Description"])?;
        let (Some(name), Some(vpc)) = (properties["Name"].as_str(), properties["Vpc"].as_str())
        else {
            return Err(format!("{logical}: a namespace needs Name and Vpc"));
        };
        let operation = self
            .cloud_map
            .create_private_dns_namespace()
            .name(name)
            .vpc(vpc)
            .set_description(properties["Description"].as_str().map(str::to_owned))
            .creator_request_id(logical)
            .send()
            .await
            .map_err(|err| format!("{logical}: CreatePrivateDnsNamespace: {err}"))?
            .operation_id
            .ok_or_else(|| format!("{logical}: CreatePrivateDnsNamespace answered no operation"))?;
        // The namespace is made asynchronously; its id is the operation's target.
        let id = self
            .cloud_map
            .get_operation()
            .operation_id(&operation)
            .send()
            .await
            .map_err(|err| format!("{logical}: GetOperation: {err}"))?
            .operation
            .and_then(|operation| operation.targets)
            .and_then(|targets| targets.get(&OperationTargetType::Namespace).cloned())
            .ok_or_else(|| format!("{logical}: the operation names no namespace"))?;
        let namespace = self
            .cloud_map
            .get_namespace()
            .id(&id)
            .send()
            .await
            .map_err(|err| format!("{logical}: GetNamespace: {err}"))?
            .namespace
            .ok_or_else(|| format!("{logical}: GetNamespace answered none"))?;
        let arn = namespace.arn.unwrap_or_default();
        Ok(Made {
            reference: id.clone(),
            attributes: BTreeMap::from([("Id".to_owned(), id), ("Arn".to_owned(), arn)]),
        })
    }

    /// `AWS::ServiceDiscovery::Service`: `Ref` is its id.
    async fn discovery_service(&self, logical: &str, properties: &Value) -> Result<Made, String> {
        only(
            logical,
            properties,
            &[
                "Name",
                "Description",
                "NamespaceId",
                "DnsConfig",
                "HealthCheckCustomConfig",
            ],
        )?;
        let Some(name) = properties["Name"].as_str() else {
            return Err(format!("{logical}: no Name"));
        };
        let dns = &properties["DnsConfig"];
        let mut records = Vec::new();
        for record in dns["DnsRecords"].as_array().into_iter().flatten() {
            records.push(
                DnsRecord::builder()
                    .r#type(RecordType::from(
                        record["Type"].as_str().unwrap_or_default(),
                    ))
                    .ttl(i64::from(number(&record["TTL"]).unwrap_or_default()))
                    .build()
                    .map_err(|err| format!("{logical}: a DNS record: {err}"))?,
            );
        }
        let dns_config = DnsConfig::builder()
            .set_routing_policy(dns["RoutingPolicy"].as_str().map(RoutingPolicy::from))
            .set_dns_records(Some(records))
            .build()
            .map_err(|err| format!("{logical}: DnsConfig: {err}"))?;
        let mut create = self
            .cloud_map
            .create_service()
            .name(name)
            .set_namespace_id(properties["NamespaceId"].as_str().map(str::to_owned))
            .set_description(properties["Description"].as_str().map(str::to_owned))
            .dns_config(dns_config);
        let custom = &properties["HealthCheckCustomConfig"];
        if custom.is_object() {
            // Cloud Map no longer takes a failure threshold: it is always 1.
            if let Some(threshold) = custom.get("FailureThreshold")
                && number(threshold) != Some(1)
            {
                return Err(format!(
                    "{logical}: FailureThreshold {threshold} is deprecated and always 1"
                ));
            }
            create = create.health_check_custom_config(HealthCheckCustomConfig::builder().build());
        }
        let service = create
            .send()
            .await
            .map_err(|err| format!("{logical}: servicediscovery:CreateService: {err}"))?
            .service
            .ok_or_else(|| format!("{logical}: CreateService answered no service"))?;
        let id = service.id.unwrap_or_default();
        Ok(Made {
            reference: id.clone(),
            attributes: BTreeMap::from([
                ("Id".to_owned(), id),
                ("Arn".to_owned(), service.arn.unwrap_or_default()),
                ("Name".to_owned(), name.to_owned()),
            ]),
        })
    }

    /// `AWS::ECS::CapacityProvider`, named as CloudFormation names it
    /// (`Stack-LogicalId-suffix`, here without the suffix): `Ref` is its name.
    async fn capacity_provider(
        &self,
        stack: &str,
        logical: &str,
        properties: &Value,
        resources: &BTreeMap<String, String>,
    ) -> Result<Made, String> {
        only(logical, properties, &["AutoScalingGroupProvider", "Name"])?;
        let provider = &properties["AutoScalingGroupProvider"];
        let Some(group) = provider["AutoScalingGroupArn"].as_str() else {
            return Err(format!("{logical}: no AutoScalingGroupArn"));
        };
        // ECS refuses a group that is not there; moto does not look. The ARN or the name
        // (what `Ref` of a group answers) of one of the stack's groups.
        if !resources
            .values()
            .any(|physical| physical == group || group.ends_with(&format!("/{physical}")))
        {
            return Err(format!(
                "{logical}: the Auto Scaling group {group} is none of the stack's"
            ));
        }
        let name = properties["Name"]
            .as_str()
            .map_or_else(|| format!("{stack}-{logical}"), str::to_owned);
        if ["aws", "ecs", "fargate"]
            .iter()
            .any(|prefix| name.to_lowercase().starts_with(prefix))
        {
            return Err(format!("{logical}: ECS refuses the name {name}"));
        }
        let scaling = &provider["ManagedScaling"];
        let managed_scaling = ManagedScaling::builder()
            .set_status(scaling["Status"].as_str().map(ManagedScalingStatus::from))
            .set_target_capacity(number(&scaling["TargetCapacity"]))
            .set_minimum_scaling_step_size(number(&scaling["MinimumScalingStepSize"]))
            .set_maximum_scaling_step_size(number(&scaling["MaximumScalingStepSize"]))
            .set_instance_warmup_period(number(&scaling["InstanceWarmupPeriod"]))
            .build();
        let group_provider = AutoScalingGroupProvider::builder()
            .auto_scaling_group_arn(group)
            .managed_scaling(managed_scaling)
            .set_managed_termination_protection(
                provider["ManagedTerminationProtection"]
                    .as_str()
                    .map(ManagedTerminationProtection::from),
            )
            .set_managed_draining(
                provider["ManagedDraining"]
                    .as_str()
                    .map(ManagedDraining::from),
            )
            .build()
            .map_err(|err| format!("{logical}: AutoScalingGroupProvider: {err}"))?;
        let created = self
            .ecs
            .create_capacity_provider()
            .name(&name)
            .auto_scaling_group_provider(group_provider)
            .send()
            .await
            .map_err(|err| format!("{logical}: CreateCapacityProvider: {err}"))?;
        let arn = created
            .capacity_provider
            .and_then(|provider| provider.capacity_provider_arn)
            .unwrap_or_default();
        Ok(Made {
            reference: name,
            attributes: BTreeMap::from([("Arn".to_owned(), arn)]),
        })
    }

    /// `AWS::ECS::ClusterCapacityProviderAssociations`: `Ref` is the cluster's name.
    async fn cluster_capacity(&self, logical: &str, properties: &Value) -> Result<Made, String> {
        only(
            logical,
            properties,
            &[
                "Cluster",
                "CapacityProviders",
                "DefaultCapacityProviderStrategy",
            ],
        )?;
        let Some(cluster) = properties["Cluster"].as_str() else {
            return Err(format!("{logical}: no Cluster"));
        };
        let providers: Vec<String> = properties["CapacityProviders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|provider| provider.as_str().map(str::to_owned))
            .collect();
        // ECS refuses a provider that does not exist; moto takes any name.
        let described = self
            .ecs
            .describe_capacity_providers()
            .set_capacity_providers(Some(providers.clone()))
            .send()
            .await
            .map_err(|err| format!("{logical}: DescribeCapacityProviders: {err}"))?;
        if let Some(missing) = described.failures().first() {
            return Err(format!(
                "{logical}: ECS has no capacity provider {:?}",
                missing.arn()
            ));
        }
        let strategy = strategy(logical, &properties["DefaultCapacityProviderStrategy"])?;
        for item in &strategy {
            if !providers
                .iter()
                .any(|name| name == item.capacity_provider())
            {
                return Err(format!(
                    "{logical}: the default strategy names {}, which is not one of the \
                     cluster's providers",
                    item.capacity_provider()
                ));
            }
        }
        self.ecs
            .put_cluster_capacity_providers()
            .cluster(cluster)
            .set_capacity_providers(Some(providers))
            .set_default_capacity_provider_strategy(Some(strategy))
            .send()
            .await
            .map_err(|err| format!("{logical}: PutClusterCapacityProviders: {err}"))?;
        Ok(Made {
            reference: cluster.to_owned(),
            attributes: BTreeMap::new(),
        })
    }

    /// What ECS's `CreateService` checks of what moto's copy of the service `logical`
    /// left out: its strategy's providers are its cluster's, its registries exist.
    pub async fn check_service(
        &self,
        logical: &str,
        settings: &Value,
        cluster: &str,
    ) -> Result<(), String> {
        let described = self
            .ecs
            .describe_clusters()
            .clusters(cluster)
            .send()
            .await
            .map_err(|err| format!("{logical}: DescribeClusters: {err}"))?;
        let associated: Vec<String> = described
            .clusters()
            .first()
            .map(|cluster| cluster.capacity_providers().to_vec())
            .unwrap_or_default();
        for item in strategy(logical, &settings["CapacityProviderStrategy"])? {
            if !associated
                .iter()
                .any(|name| name == item.capacity_provider())
            {
                return Err(format!(
                    "{logical}: its strategy names {}, which its cluster {cluster} is not \
                     associated with (ECS refuses the service)",
                    item.capacity_provider()
                ));
            }
        }
        for registry in settings["ServiceRegistries"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let arn = registry["RegistryArn"].as_str().unwrap_or_default();
            self.cloud_map
                .get_service()
                .id(registry_service_id(arn)?)
                .send()
                .await
                .map_err(|err| format!("{logical}: its registry {arn}: {err}"))?;
        }
        Ok(())
    }
}

/// The Cloud Map service id in a registry ARN (`arn:…:servicediscovery:…:service/srv-…`).
pub fn registry_service_id(arn: &str) -> Result<String, String> {
    arn.rsplit_once(":service/")
        .map(|(_, id)| id.to_owned())
        .ok_or_else(|| format!("{arn} is not a Cloud Map service ARN"))
}

/// A capacity provider strategy as ECS's API takes it.
fn strategy(logical: &str, items: &Value) -> Result<Vec<CapacityProviderStrategyItem>, String> {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(item["CapacityProvider"].as_str().unwrap_or_default())
                .set_weight(number(&item["Weight"]))
                .set_base(number(&item["Base"]))
                .build()
                .map_err(|err| format!("{logical}: a strategy item: {err}"))
        })
        .collect()
}
