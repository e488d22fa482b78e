//! What moto's CloudFormation does not do as AWS does, one row per resource type of the
//! translated template: each type the tests may meet is named here with how test
//! support handles it, and a type that is not is a loud failure that names it. The
//! template stays as AWS needs it; only the copy handed to moto is changed.
//!
//! To add a type: run `cargo test -p e2e --test stack_deployed`; the failure names the
//! type. If moto's CloudFormation creates it as AWS would (its model has
//! `cloudformation_type()` returning the type, and what the tests read of it is right),
//! add a [`Handling::Creates`] row. If moto lacks it and nothing in the tests uses it,
//! a [`Handling::Skip`] row with the reason, or [`Handling::StandIn`] if what refers to
//! it can use one of its properties instead. Otherwise a [`Handling::Create`] row, with a
//! new [`Creation`] arm in `stack.rs` that makes it through its service's API.

use super::intrinsics::{self, Made};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// How test support handles one resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Moto's CloudFormation creates it as AWS does.
    Creates,
    /// Moto creates it, but not as AWS does: the resource is rewritten first.
    Adapt(Adaptation),
    /// Moto lacks it: test support makes it through the service's API, and references
    /// to it are replaced by what it answers.
    Create(Creation),
    /// Moto lacks it and no test needs it at run time: left out of moto's copy. Nothing
    /// in the stack may refer to it (an output that does is left out too).
    Skip(&'static str),
    /// Moto lacks it, and what refers to it can use one of its own properties instead
    /// (a Lambda alias: its `FunctionName`): left out, each `Ref` to it replaced by that
    /// property's value. The second field says why.
    StandIn(&'static str, &'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adaptation {
    /// A FIFO queue without a `QueueName`: CloudFormation's generated name ends in
    /// `.fifo`, moto's does not (and moto then refuses it), so the name is given.
    FifoQueueName,
    /// Moto reads only `DefinitionString` and ignores `DefinitionS3Location` and
    /// `DefinitionSubstitutions`: the definition is inlined, each `${Name}` replaced as
    /// CloudFormation replaces it (an `Fn::Join` of the text and the values). And moto's
    /// CloudFormation puts the state machine where moto's executing Step Functions (on
    /// after `execute_state_machine`) does not look: the resolved definition and role are
    /// read back through two extra outputs and the same state machine (same name, so the
    /// same ARN) is created through Step Functions' API after the stack.
    InlineDefinition,
    /// A repository without a `RepositoryName`: CloudFormation generates a lowercase one,
    /// moto keeps the logical id's capitals (and then refuses it), so the name is given.
    LowercaseRepositoryName,
    /// Moto would invoke the function (in Docker) on each message: the mapping is
    /// created disabled, and the tests' pump plays Lambda's poller from it.
    PolledByTests,
    /// Moto keeps a `Number` parameter a number in environment variables (and its Lambda
    /// then answers a JSON number the SDK refuses); CloudFormation makes every value a
    /// string. Each value is wrapped in an `Fn::Join` of one piece, which moto strings.
    StringEnvironment,
    /// Moto's CloudFormation creates a service from its cluster, task definition and
    /// desired count only. Its `CapacityProviderStrategy` and `ServiceRegistries` (which
    /// name what test support makes after the stack) leave moto's copy and are kept,
    /// resolved after the stack, for the tests' ECS scheduler
    /// ([`Plan::service_settings`]).
    EcsService,
    /// [`Adaptation::StringEnvironment`] for the containers' environments; and moto's
    /// `RunTask` adds up the containers' own `Memory`, which Fargate does not need (the
    /// task's counts): a container without one gets the task's.
    TaskDefinition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    /// Made before the stack (it refers to nothing in it): `CreateSecret`, with a value
    /// from `GetRandomPassword` for a `GenerateSecretString`, else an empty secret.
    SecretBefore,
    /// Made after the stack (it refers to the function): `CreateFunctionUrlConfig`.
    FunctionUrlAfter,
    /// A Cloud Map private DNS namespace, after the stack (it names the stack's VPC):
    /// `CreatePrivateDnsNamespace`.
    NamespaceAfter,
    /// A Cloud Map service in that namespace: `servicediscovery:CreateService`. What the
    /// stack reads of it before it exists is its `Name`, which is its own property.
    DiscoveryServiceAfter,
    /// An ECS capacity provider on the stack's Auto Scaling group:
    /// `CreateCapacityProvider`.
    CapacityProviderAfter,
    /// A cluster's capacity providers: `PutClusterCapacityProviders`.
    CapacityProvidersOfClusterAfter,
}

impl Creation {
    /// Whether test support makes it after the stack (else before).
    pub fn after(self) -> bool {
        !matches!(self, Creation::SecretBefore)
    }

    /// The attributes CloudFormation answers from the resource's own properties, which
    /// the stack may read before test support has made it (a Cloud Map service's
    /// `Name`).
    fn known_attributes(self, properties: &Value) -> BTreeMap<String, String> {
        match self {
            Creation::DiscoveryServiceAfter => properties["Name"]
                .as_str()
                .map(|name| BTreeMap::from([("Name".to_owned(), name.to_owned())]))
                .unwrap_or_default(),
            _ => BTreeMap::new(),
        }
    }
}

/// Every resource type the translated template may hold, and how test support handles
/// it.
pub const RESOURCE_TYPES: &[(&str, Handling)] = &[
    ("AWS::DynamoDB::Table", Handling::Creates),
    ("AWS::ECS::Cluster", Handling::Creates),
    (
        "AWS::ECS::TaskDefinition",
        Handling::Adapt(Adaptation::TaskDefinition),
    ),
    ("AWS::Events::Rule", Handling::Creates),
    ("AWS::IAM::Role", Handling::Creates),
    (
        "AWS::Lambda::Function",
        Handling::Adapt(Adaptation::StringEnvironment),
    ),
    ("AWS::Lambda::Permission", Handling::Creates),
    ("AWS::Logs::LogGroup", Handling::Creates),
    (
        "AWS::SQS::Queue",
        Handling::Adapt(Adaptation::FifoQueueName),
    ),
    (
        "AWS::StepFunctions::StateMachine",
        Handling::Adapt(Adaptation::InlineDefinition),
    ),
    (
        "AWS::Lambda::EventSourceMapping",
        Handling::Adapt(Adaptation::PolledByTests),
    ),
    (
        "AWS::SecretsManager::Secret",
        Handling::Create(Creation::SecretBefore),
    ),
    (
        "AWS::Lambda::Url",
        Handling::Create(Creation::FunctionUrlAfter),
    ),
    (
        "AWS::Lambda::Alias",
        Handling::StandIn(
            "FunctionName",
            "moto lacks aliases; what names the alias (event source mappings, the URL) gets \
             the function, whose code is the same; a rule's target, which must be an ARN \
             (CloudFormation's `Ref` of an alias is its ARN), the function's ARN",
        ),
    ),
    ("AWS::AutoScaling::AutoScalingGroup", Handling::Creates),
    ("AWS::CloudWatch::Dashboard", Handling::Creates),
    ("AWS::EC2::InternetGateway", Handling::Creates),
    ("AWS::EC2::LaunchTemplate", Handling::Creates),
    ("AWS::EC2::Route", Handling::Creates),
    ("AWS::EC2::RouteTable", Handling::Creates),
    ("AWS::EC2::SecurityGroup", Handling::Creates),
    ("AWS::EC2::SecurityGroupIngress", Handling::Creates),
    ("AWS::EC2::Subnet", Handling::Creates),
    ("AWS::EC2::SubnetRouteTableAssociation", Handling::Creates),
    ("AWS::EC2::VPC", Handling::Creates),
    ("AWS::EC2::VPCGatewayAttachment", Handling::Creates),
    (
        "AWS::ECR::Repository",
        Handling::Adapt(Adaptation::LowercaseRepositoryName),
    ),
    ("AWS::ECS::Service", Handling::Adapt(Adaptation::EcsService)),
    (
        "AWS::ServiceDiscovery::PrivateDnsNamespace",
        Handling::Create(Creation::NamespaceAfter),
    ),
    (
        "AWS::ServiceDiscovery::Service",
        Handling::Create(Creation::DiscoveryServiceAfter),
    ),
    (
        "AWS::ECS::CapacityProvider",
        Handling::Create(Creation::CapacityProviderAfter),
    ),
    (
        "AWS::ECS::ClusterCapacityProviderAssociations",
        Handling::Create(Creation::CapacityProvidersOfClusterAfter),
    ),
    ("AWS::IAM::InstanceProfile", Handling::Creates),
    ("AWS::Lambda::Version", Handling::Creates),
    ("AWS::S3::Bucket", Handling::Creates),
    ("AWS::SNS::Topic", Handling::Creates),
    (
        "AWS::EC2::SecurityGroupEgress",
        Handling::Skip("moto lacks it and does not filter traffic by security group"),
    ),
    (
        "AWS::CloudWatch::Alarm",
        Handling::Skip(
            "moto's CloudFormation lacks it; the alarms' wiring is checked on the template \
             (template_policies), and nothing in a test waits for an alarm",
        ),
    ),
    (
        "AWS::Logs::QueryDefinition",
        Handling::Skip("moto lacks it; saved queries are for operators, not the path"),
    ),
    (
        "AWS::SNS::Subscription",
        Handling::Skip("moto lacks it; only the alarms' e-mail uses it"),
    ),
    (
        "AWS::CodeBuild::Project",
        Handling::Skip(
            "moto lacks it; the image build is scripts/deploy's, tested with stubs \
             (deploy_script), and the tests' runner is the local one",
        ),
    ),
    (
        "AWS::CodeDeploy::Application",
        Handling::Skip("moto lacks it; gradual deployment moves aliases, which moto lacks too"),
    ),
    (
        "AWS::CodeDeploy::DeploymentGroup",
        Handling::Skip("moto lacks it; gradual deployment moves aliases, which moto lacks too"),
    ),
    (
        "AWS::SQS::QueuePolicy",
        Handling::Skip(
            "moto does not check who may send to a queue; EventBridge is played by the tests",
        ),
    ),
];

/// How test support handles `resource_type`, or the loud failure that names it.
pub fn handling(resource_type: &str, logical_id: &str) -> Result<Handling, String> {
    RESOURCE_TYPES
        .iter()
        .find(|(known, _)| *known == resource_type)
        .map(|(_, handling)| *handling)
        .ok_or_else(|| {
            format!(
                "template.yaml's {logical_id} is a {resource_type}, which \
                 tests/src/deployed/moto_lacks.rs does not cover: check whether moto's \
                 CloudFormation creates it and add a row to RESOURCE_TYPES (see the \
                 module's doc and tests/README.md)"
            )
        })
}

/// Moto's copy of a translated template, and what test support does around it.
#[derive(Debug, Default)]
pub struct Plan {
    /// The template handed to moto's CloudFormation.
    pub template: Value,
    /// Resources made before the stack, by logical id, with their properties.
    pub before: Vec<(String, Creation, Value)>,
    /// Resources made after the stack, by logical id, with their properties.
    pub after: Vec<(String, Creation, Value)>,
    /// Outputs that name a resource made after the stack: resolved then.
    pub deferred_outputs: BTreeMap<String, Value>,
    /// Resources left out, by logical id, with their types and why.
    pub skipped: Vec<(String, String, &'static str)>,
    /// What moto's copy of each ECS service leaves out ([`Adaptation::EcsService`]), by
    /// logical id, unresolved.
    pub service_settings: BTreeMap<String, Value>,
    /// State machines to create again through Step Functions' API, by logical id; their
    /// definitions and roles are the outputs [`definition_output`] and [`role_output`].
    pub state_machines: Vec<String>,
}

/// The extra output that carries a state machine's resolved definition.
pub fn definition_output(logical_id: &str) -> String {
    format!("MotoDefinitionOf{logical_id}")
}

/// The extra output that carries a state machine's role.
pub fn role_output(logical_id: &str) -> String {
    format!("MotoRoleOf{logical_id}")
}

/// Splits `template` (translated) into moto's copy and the rest; `stack` names the
/// stack (for the names moto gets wrong). Adaptations that need the definition text
/// take it from `definitions` (by logical id).
pub fn plan(
    mut template: Value,
    stack: &str,
    parameters: &BTreeMap<String, String>,
    definitions: &BTreeMap<String, String>,
) -> Result<Plan, String> {
    let mut plan = Plan::default();
    // What CloudFormation would not create either: out before any type is looked up.
    let mut off = Vec::new();
    for (name, kind, _) in super::conditions::apply(&mut template, parameters)? {
        off.push(name.clone());
        plan.skipped.push((
            name,
            kind,
            "its condition is false with the tests' parameters",
        ));
    }
    let names: Vec<String> = template["Resources"]
        .as_object()
        .ok_or("the translated template has no Resources")?
        .keys()
        .cloned()
        .collect();
    let mut removed = off;
    let mut stand_ins = Vec::new();
    let mut known = Vec::new();
    for name in &names {
        let resource = &mut template["Resources"][name];
        let kind = resource["Type"].as_str().unwrap_or_default().to_owned();
        match handling(&kind, name)? {
            Handling::Creates => {}
            Handling::Adapt(adaptation) => {
                let context = Context {
                    stack,
                    parameters,
                    definitions,
                };
                if let Some(settings) = adapt(adaptation, name, resource, &context)? {
                    plan.service_settings.insert(name.clone(), settings);
                }
            }
            Handling::Create(creation) => {
                let properties = resource["Properties"].take();
                known.push((name.clone(), creation.known_attributes(&properties)));
                let made = (name.clone(), creation, properties);
                if creation.after() {
                    plan.after.push(made);
                } else {
                    plan.before.push(made);
                }
                removed.push(name.clone());
            }
            Handling::Skip(why) => {
                plan.skipped.push((name.clone(), kind, why));
                removed.push(name.clone());
            }
            Handling::StandIn(property, why) => {
                let with = resource["Properties"][property].clone();
                if with.is_null() {
                    return Err(format!(
                        "{name} ({kind}) has no {property} to stand in for it"
                    ));
                }
                stand_ins.push((name.clone(), with));
                plan.skipped.push((name.clone(), kind, why));
                removed.push(name.clone());
            }
        }
    }
    // What the stack reads of a resource made after it, from that resource's own
    // properties, is put in now.
    for (name, attributes) in &known {
        let made = Made {
            reference: String::new(),
            attributes: attributes.clone(),
        };
        intrinsics::substitute_known(&mut template, name, &made)?;
    }
    // Made after the stack, in the order of their references to one another.
    plan.after = in_dependency_order(std::mem::take(&mut plan.after))?;
    for (name, with) in &stand_ins {
        rule_targets_by_arn(&mut template, name, with);
        intrinsics::stand_in(&mut template, name, with)?;
        // What test support makes through the APIs may name the alias too (the URL).
        for (_, _, properties) in plan.before.iter_mut().chain(plan.after.iter_mut()) {
            intrinsics::stand_in(properties, name, with)?;
        }
    }
    let resources = template["Resources"]
        .as_object_mut()
        .ok_or("the translated template has no Resources")?;
    for name in &removed {
        resources.remove(name);
        for resource in resources.values_mut() {
            intrinsics::drop_dependency(resource, name);
        }
    }
    // What is made before the stack is substituted once made; the rest may not be
    // referred to by the stack's resources.
    let after_or_skipped: Vec<&String> = plan
        .after
        .iter()
        .map(|(name, ..)| name)
        .chain(plan.skipped.iter().map(|(name, ..)| name))
        .filter(|name| !stand_ins.iter().any(|(stood_in, _)| stood_in == *name))
        .collect();
    for name in &after_or_skipped {
        for (user, resource) in resources.iter() {
            if intrinsics::refers_to(resource, name) {
                return Err(format!(
                    "{user} refers to {name}, which test support makes after the stack or \
                     leaves out (tests/src/deployed/moto_lacks.rs): make it before the stack, \
                     or add what moto lacks another way"
                ));
            }
        }
    }
    let state_machines: Vec<(String, Value, Value)> = resources
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::StepFunctions::StateMachine")
        .map(|(name, resource)| {
            let properties = &resource["Properties"];
            (
                name.clone(),
                properties["DefinitionString"].clone(),
                properties["RoleArn"].clone(),
            )
        })
        .collect();
    for (name, definition, role) in state_machines {
        let outputs = template
            .as_object_mut()
            .ok_or("the translated template is not a map")?
            .entry("Outputs")
            .or_insert_with(|| json!({}));
        outputs[definition_output(&name)] = json!({ "Value": definition });
        outputs[role_output(&name)] = json!({ "Value": role });
        plan.state_machines.push(name);
    }
    if let Some(outputs) = template.get_mut("Outputs").and_then(Value::as_object_mut) {
        let deferred: Vec<String> = outputs
            .iter()
            .filter(|(_, output)| {
                after_or_skipped
                    .iter()
                    .any(|name| intrinsics::refers_to(output, name))
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in deferred {
            if let Some(output) = outputs.remove(&key) {
                plan.deferred_outputs.insert(key, output["Value"].clone());
            }
        }
    }
    plan.template = template;
    Ok(plan)
}

/// A rule's targets that name `alias` (`Ref`, an ARN in CloudFormation) name the ARN of
/// the function standing in for it (`with`, a `Ref` of the function, is its name).
fn rule_targets_by_arn(template: &mut Value, alias: &str, with: &Value) {
    let Some(function) = with["Ref"].as_str().map(str::to_owned) else {
        return;
    };
    let Some(resources) = template["Resources"].as_object_mut() else {
        return;
    };
    for resource in resources.values_mut() {
        if resource["Type"] != "AWS::Events::Rule" {
            continue;
        }
        let Some(targets) = resource["Properties"]["Targets"].as_array_mut() else {
            continue;
        };
        for target in targets {
            if target["Arn"] == json!({ "Ref": alias }) {
                target["Arn"] = json!({ "Fn::GetAtt": [function, "Arn"] });
            }
        }
    }
}

/// Replaces, in moto's copy, every reference to `name` by what was made for it.
pub fn made_before(plan: &mut Plan, name: &str, made: &Made) -> Result<(), String> {
    intrinsics::substitute(&mut plan.template, name, made)
}

/// What adaptations may need besides the resource.
struct Context<'a> {
    stack: &'a str,
    parameters: &'a BTreeMap<String, String>,
    definitions: &'a BTreeMap<String, String>,
}

/// Rewrites `resource` for moto; answers what an ECS service leaves out of moto's copy.
fn adapt(
    adaptation: Adaptation,
    name: &str,
    resource: &mut Value,
    context: &Context<'_>,
) -> Result<Option<Value>, String> {
    let Context {
        stack,
        parameters,
        definitions,
    } = context;
    let properties = &mut resource["Properties"];
    match adaptation {
        Adaptation::FifoQueueName => {
            let fifo = matches!(properties.get("FifoQueue"), Some(Value::Bool(true)))
                || properties.get("FifoQueue").and_then(Value::as_str) == Some("true");
            if fifo && properties.get("QueueName").is_none() {
                // CloudFormation's own pattern: stack-LogicalId-suffix.fifo (80 at most).
                let mut base = format!("{stack}-{name}");
                base.truncate(75);
                properties["QueueName"] = json!(format!("{base}.fifo"));
            }
        }
        Adaptation::LowercaseRepositoryName => {
            if properties.get("RepositoryName").is_none() {
                properties["RepositoryName"] = json!(format!("{stack}-{name}").to_lowercase());
            }
        }
        Adaptation::InlineDefinition => {
            if properties.get("DefinitionString").is_none() {
                let text = definitions
                    .get(name)
                    .ok_or_else(|| format!("{name}: no definition text to inline"))?;
                let substitutions = properties
                    .get("DefinitionSubstitutions")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                properties["DefinitionString"] = definition_join(text, &substitutions)?;
                if let Some(map) = properties.as_object_mut() {
                    map.remove("DefinitionS3Location");
                    map.remove("DefinitionSubstitutions");
                }
            }
        }
        Adaptation::PolledByTests => {
            properties["Enabled"] = json!(false);
        }
        Adaptation::EcsService => {
            let mut settings = serde_json::Map::new();
            if let Some(map) = properties.as_object_mut() {
                for key in ["CapacityProviderStrategy", "ServiceRegistries"] {
                    if let Some(value) = map.remove(key) {
                        settings.insert(key.to_owned(), value);
                    }
                }
            }
            return Ok(Some(Value::Object(settings)));
        }
        Adaptation::StringEnvironment => {
            if let Some(variables) = properties
                .pointer_mut("/Environment/Variables")
                .and_then(Value::as_object_mut)
            {
                variables.values_mut().for_each(as_string);
            }
        }
        Adaptation::TaskDefinition => {
            let memory = match properties.get("Memory") {
                Some(memory) => {
                    let resolved = intrinsics::resolve(memory, parameters, &BTreeMap::new())?;
                    let text = resolved
                        .as_str()
                        .map_or(resolved.to_string(), str::to_owned);
                    let mib: u64 = text
                        .parse()
                        .map_err(|_| format!("{name}: Memory {text} is not a number of MiB"))?;
                    Some(json!(mib))
                }
                None => None,
            };
            let containers = properties
                .get_mut("ContainerDefinitions")
                .and_then(Value::as_array_mut);
            for container in containers.into_iter().flatten() {
                if container.get("Memory").is_none()
                    && container.get("MemoryReservation").is_none()
                    && let Some(memory) = &memory
                {
                    container["Memory"] = memory.clone();
                }
                let pairs = container
                    .get_mut("Environment")
                    .and_then(Value::as_array_mut);
                for pair in pairs.into_iter().flatten() {
                    if let Some(value) = pair.get_mut("Value") {
                        as_string(value);
                    }
                }
            }
        }
    }
    Ok(None)
}

/// `made` (logical id, how, properties) ordered so that each comes after those its
/// properties refer to, as CloudFormation orders creations.
fn in_dependency_order(
    mut made: Vec<(String, Creation, Value)>,
) -> Result<Vec<(String, Creation, Value)>, String> {
    let mut ordered = Vec::with_capacity(made.len());
    while !made.is_empty() {
        let ready = made.iter().position(|(_, _, properties)| {
            !made
                .iter()
                .any(|(other, ..)| intrinsics::refers_to(properties, other))
        });
        let Some(index) = ready else {
            let names: Vec<&String> = made.iter().map(|(name, ..)| name).collect();
            return Err(format!("{names:?} refer to one another in a circle"));
        };
        ordered.push(made.remove(index));
    }
    Ok(ordered)
}

/// A value as CloudFormation passes it where only strings go: a non-string (a `Ref` to a
/// `Number` parameter) becomes an `Fn::Join` of one piece, which moto makes a string.
fn as_string(value: &mut Value) {
    if !value.is_string() {
        *value = json!({ "Fn::Join": ["", [value.take()]] });
    }
}

/// The definition as CloudFormation makes it from `DefinitionSubstitutions`: each
/// `${Name}` with a substitution replaced by its value (which may be an intrinsic), as an
/// `Fn::Join` of the text's pieces.
pub fn definition_join(text: &str, substitutions: &Value) -> Result<Value, String> {
    let substitutions = substitutions
        .as_object()
        .ok_or("DefinitionSubstitutions is not a map")?;
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let key = &after[..end];
        match substitutions.get(key) {
            Some(value) => {
                pieces.push(json!(rest[..start]));
                pieces.push(match value {
                    Value::Number(number) => json!(number.to_string()),
                    other => other.clone(),
                });
                rest = &after[end + 1..];
            }
            None => {
                pieces.push(json!(rest[..start + 2]));
                rest = after;
            }
        }
    }
    pieces.push(json!(rest));
    Ok(json!({ "Fn::Join": ["", pieces] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncovered_type_is_named_loudly() {
        let template = json!({"Resources": {"Models": {"Type": "AWS::EFS::FileSystem"}}});
        let err = plan(template, "s", &BTreeMap::new(), &BTreeMap::new()).expect_err("uncovered");
        assert!(err.contains("Models is a AWS::EFS::FileSystem"), "{err}");
        assert!(err.contains("RESOURCE_TYPES"), "{err}");
    }

    #[test]
    fn substitutions_become_a_join_and_other_dollars_stay() {
        let joined = definition_join(
            r#"{"Q": "${Queue}", "T.$": "$$.Task.Token", "N": ${Count}, "X": "${Other}"}"#,
            &json!({"Queue": {"Ref": "Q"}, "Count": "3"}),
        )
        .expect("joined");
        assert_eq!(
            joined,
            json!({"Fn::Join": ["", [
                "{\"Q\": \"", {"Ref": "Q"}, "\", \"T.$\": \"$$.Task.Token\", \"N\": ", "3",
                ", \"X\": \"${", "Other}\"}"
            ]]})
        );
    }

    #[test]
    fn skipped_resources_leave_moto_s_copy_and_a_reference_to_one_is_refused() {
        let template = json!({"Resources": {
            "Q": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": true}},
            "P": {"Type": "AWS::SQS::QueuePolicy", "Properties": {"Queues": [{"Ref": "Q"}]}},
        }});
        let plan = plan(template, "stack", &BTreeMap::new(), &BTreeMap::new()).expect("planned");
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(
            plan.template["Resources"]["Q"]["Properties"]["QueueName"],
            "stack-Q.fifo"
        );
        assert!(plan.template["Resources"].get("P").is_none());

        let template = json!({"Resources": {
            "P": {"Type": "AWS::SQS::QueuePolicy"},
            "R": {"Type": "AWS::IAM::Role", "Properties": {"X": {"Ref": "P"}}},
        }});
        let err =
            super::plan(template, "s", &BTreeMap::new(), &BTreeMap::new()).expect_err("refers");
        assert!(err.contains("R refers to P"), "{err}");
    }

    #[test]
    fn a_stand_in_takes_the_place_of_its_resource() {
        let template = json!({"Resources": {
            "Fn": {"Type": "AWS::Lambda::Function"},
            "Live": {"Type": "AWS::Lambda::Alias", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Esm": {"Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {"FunctionName": {"Ref": "Live"}}},
            "Tick": {"Type": "AWS::Events::Rule",
                     "Properties": {"Targets": [{"Id": "t", "Arn": {"Ref": "Live"}}]}},
        }});
        let plan = plan(template, "s", &BTreeMap::new(), &BTreeMap::new()).expect("planned");
        assert!(plan.template["Resources"].get("Live").is_none());
        assert_eq!(
            plan.template["Resources"]["Esm"]["Properties"]["FunctionName"],
            json!({"Ref": "Fn"})
        );
        // A rule's target is an ARN, as CloudFormation's `Ref` of an alias is.
        assert_eq!(
            plan.template["Resources"]["Tick"]["Properties"]["Targets"][0]["Arn"],
            json!({"Fn::GetAtt": ["Fn", "Arn"]})
        );
    }

    #[test]
    fn what_is_made_after_the_stack_comes_in_the_order_of_its_references() {
        let template = json!({"Resources": {
            "A": {"Type": "AWS::ServiceDiscovery::Service",
                  "Properties": {"Name": "ollama", "NamespaceId": {"Fn::GetAtt": ["B", "Id"]}}},
            "B": {"Type": "AWS::ServiceDiscovery::PrivateDnsNamespace",
                  "Properties": {"Name": "n", "Vpc": "vpc-1"}},
            "F": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {
                "URL": {"Fn::Sub": "http://${A.Name}.n:11434"}}}}},
        }});
        let plan = plan(template, "s", &BTreeMap::new(), &BTreeMap::new()).expect("planned");
        let order: Vec<&str> = plan.after.iter().map(|(name, ..)| name.as_str()).collect();
        assert_eq!(order, ["B", "A"]);
        // The service's name is its own property: the function has it before it exists.
        assert_eq!(
            plan.template["Resources"]["F"]["Properties"]["Environment"]["Variables"]["URL"],
            json!({"Fn::Join": ["", [{"Fn::Sub": "http://ollama.n:11434"}]]})
        );

        let circle = json!({"Resources": {
            "A": {"Type": "AWS::ECS::CapacityProvider", "Properties": {"X": {"Ref": "B"}}},
            "B": {"Type": "AWS::ECS::ClusterCapacityProviderAssociations",
                  "Properties": {"X": {"Ref": "A"}}},
        }});
        let err = super::plan(circle, "s", &BTreeMap::new(), &BTreeMap::new()).expect_err("circle");
        assert!(err.contains("in a circle"), "{err}");
    }

    #[test]
    fn a_service_s_strategy_and_registries_leave_moto_s_copy_and_are_kept() {
        let template = json!({"Resources": {
            "S": {"Type": "AWS::ECS::Service", "Properties": {
                "Cluster": "c", "DesiredCount": 0,
                "CapacityProviderStrategy": [{"CapacityProvider": "p", "Weight": 1}],
                "ServiceRegistries": [{"RegistryArn": "arn:r"}]}},
        }});
        let plan = plan(template, "s", &BTreeMap::new(), &BTreeMap::new()).expect("planned");
        assert_eq!(
            plan.template["Resources"]["S"]["Properties"],
            json!({"Cluster": "c", "DesiredCount": 0})
        );
        assert_eq!(
            plan.service_settings["S"]["ServiceRegistries"],
            json!([{"RegistryArn": "arn:r"}])
        );
    }
}
