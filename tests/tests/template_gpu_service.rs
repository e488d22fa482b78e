//! The GPU Ollama service and its network in `template.yaml`: security groups that allow
//! exactly runner → Ollama on 11434 and runner → HTTPS, an Auto Scaling group and a
//! service that start at zero, the dispatch function told which service to start and
//! allowed only that, and the runners' Ollama URL the service's Cloud Map name. Read as
//! text, like the other template tests: CloudFormation's tags are not plain YAML.

use e2e::workflow::definition::{template_resource, workspace_file};

/// The resource's lines without comments or blank lines, trimmed.
fn lines(name: &str) -> Vec<String> {
    template_resource(name)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The value of the first `key:` among `lines`.
fn value<'l>(lines: &'l [String], key: &str) -> &'l str {
    lines
        .iter()
        .find_map(|line| {
            line.trim_start_matches("- ")
                .strip_prefix(&format!("{key}:"))
        })
        .unwrap_or_else(|| panic!("no {key} in {lines:#?}"))
        .trim()
}

/// Every resource of `kind`, by logical id.
fn resources_of_type(kind: &str) -> Vec<String> {
    let template = workspace_file("template.yaml");
    let resources = template
        .split_once("\nResources:\n")
        .expect("a Resources section")
        .1
        .split_once("\nOutputs:\n")
        .map_or_else(|| template.clone(), |(resources, _)| resources.to_owned());
    let mut found = Vec::new();
    let mut current = None;
    for line in resources.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            current = Some(line.trim().trim_end_matches(':').to_owned());
        } else if line.trim() == format!("Type: {kind}") {
            found.extend(current.clone());
        }
    }
    found
}

/// The environment variable `name` of the dispatch function, as written (one line, or the
/// lines of a multi-line intrinsic up to the next variable).
fn dispatch_env(name: &str) -> String {
    let function = lines("DispatchFunction");
    let at = function
        .iter()
        .position(|line| line.starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("the dispatch function has no {name}"));
    let mut text = function[at].clone();
    for line in &function[at + 1..] {
        if line.starts_with("- ") || line.starts_with('-') {
            text.push('\n');
            text.push_str(line);
        } else {
            break;
        }
    }
    text
}

#[test]
fn security_groups_allow_exactly_runner_to_ollama_and_runner_to_https() {
    // Every group's inline rules.
    let groups = resources_of_type("AWS::EC2::SecurityGroup");
    let mut groups_sorted = groups.clone();
    groups_sorted.sort();
    assert_eq!(
        groups_sorted,
        [
            "GpuInstanceSecurityGroup",
            "OllamaSecurityGroup",
            "RunnerSecurityGroup"
        ]
    );
    for group in &groups {
        let rules = lines(group);
        assert!(
            !rules
                .iter()
                .any(|line| line.starts_with("SecurityGroupIngress")),
            "{group} admits something inline: {rules:#?}"
        );
        let egress: Vec<&String> = rules
            .iter()
            .filter(|line| {
                ["IpProtocol:", "FromPort:", "ToPort:", "CidrIp:"]
                    .iter()
                    .any(|key| line.starts_with(key))
            })
            .collect();
        assert_eq!(
            egress,
            [
                "IpProtocol: tcp",
                "FromPort: 443",
                "ToPort: 443",
                "CidrIp: 0.0.0.0/0"
            ],
            "{group}: HTTPS out and nothing else inline"
        );
    }

    // The one way in: the Ollama's port, from runners.
    assert_eq!(
        resources_of_type("AWS::EC2::SecurityGroupIngress"),
        ["OllamaFromRunnersIngress"]
    );
    let ingress = lines("OllamaFromRunnersIngress");
    assert_eq!(value(&ingress, "GroupId"), "!Ref OllamaSecurityGroup");
    assert_eq!(
        value(&ingress, "SourceSecurityGroupId"),
        "!Ref RunnerSecurityGroup"
    );
    assert_eq!(
        (
            value(&ingress, "IpProtocol"),
            value(&ingress, "FromPort"),
            value(&ingress, "ToPort")
        ),
        ("tcp", "11434", "11434")
    );
    assert!(
        !ingress.iter().any(|line| line.starts_with("CidrIp")),
        "{ingress:#?}"
    );

    // Runners' other way out: the GPU Ollama (or an Ollama of one's own), on its port.
    let mut egress = resources_of_type("AWS::EC2::SecurityGroupEgress");
    egress.sort();
    assert_eq!(egress, ["RunnerToOllamaEgress", "RunnerToOwnOllamaEgress"]);
    let to_ollama = lines("RunnerToOllamaEgress");
    assert_eq!(value(&to_ollama, "GroupId"), "!Ref RunnerSecurityGroup");
    assert_eq!(
        value(&to_ollama, "DestinationSecurityGroupId"),
        "!Ref OllamaSecurityGroup"
    );
    assert_eq!(
        (value(&to_ollama, "FromPort"), value(&to_ollama, "ToPort")),
        ("11434", "11434")
    );
    let to_own = lines("RunnerToOwnOllamaEgress");
    assert_eq!(value(&to_own, "Condition"), "RunnersReachOwnOllama");
    assert_eq!(
        (value(&to_own, "FromPort"), value(&to_own, "ToPort")),
        ("11434", "11434")
    );

    // The runners and the service use these groups.
    assert_eq!(
        dispatch_env("RUNNER_SECURITY_GROUPS"),
        "RUNNER_SECURITY_GROUPS: !Ref RunnerSecurityGroup"
    );
    let service = lines("OllamaService");
    assert_eq!(
        value(&service, "SecurityGroups"),
        "[!Ref OllamaSecurityGroup]"
    );
    let launch = lines("GpuLaunchTemplate");
    assert_eq!(value(&launch, "Groups"), "[!Ref GpuInstanceSecurityGroup]");
}

#[test]
fn the_gpu_fleet_and_its_service_start_at_zero() {
    let group = lines("GpuAutoScalingGroup");
    assert_eq!(value(&group, "MinSize"), "\"0\"");
    assert_eq!(value(&group, "MaxSize"), "!Ref GpuMaxInstances");
    assert!(
        !group.iter().any(|line| line.starts_with("DesiredCapacity")),
        "{group:#?}"
    );
    let provider = lines("GpuCapacityProvider");
    assert_eq!(
        value(&provider, "AutoScalingGroupArn"),
        "!Ref GpuAutoScalingGroup"
    );
    assert_eq!(value(&provider, "Status"), "ENABLED");
    assert_eq!(value(&provider, "TargetCapacity"), "100");

    let service = lines("OllamaService");
    assert_eq!(value(&service, "DesiredCount"), "0");
    assert_eq!(
        value(&service, "CapacityProvider"),
        "!Ref GpuCapacityProvider"
    );
    assert_eq!(
        value(&service, "RegistryArn"),
        "!GetAtt OllamaDiscoveryService.Arn"
    );

    let task = lines("OllamaTaskDefinition");
    assert_eq!(value(&task, "Image"), "!Sub ollama/ollama:${OllamaVersion}");
    let at = task
        .iter()
        .position(|line| line == "- Type: GPU")
        .expect("a GPU");
    assert_eq!(task[at + 1], "Value: \"1\"");
    let parallel = task
        .iter()
        .position(|line| line == "- Name: OLLAMA_NUM_PARALLEL")
        .expect("OLLAMA_NUM_PARALLEL");
    assert_eq!(task[parallel + 1], "Value: !Ref GpuSlots");
    assert!(task.iter().any(|line| line == "- Name: OLLAMA_KEEP_ALIVE"));
    assert!(
        task.iter().any(|line| line == "- CMD-SHELL"),
        "a health check: {task:#?}"
    );

    let template = workspace_file("template.yaml");
    assert!(
        template.contains(
            "    Default: /aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id\n"
        ),
        "the GPU AMI from its public SSM parameter"
    );
}

#[test]
fn the_dispatch_function_starts_and_stops_that_service_and_nothing_else() {
    assert_eq!(
        dispatch_env("GPU_SERVICE_NAME"),
        "GPU_SERVICE_NAME: !If [CreateGpuService, !GetAtt OllamaService.Name, \"\"]"
    );
    assert_eq!(
        dispatch_env("GPU_SERVICE_CLUSTER"),
        "GPU_SERVICE_CLUSTER: !If [CreateGpuService, !Ref OllamaCluster, \"\"]"
    );
    assert_eq!(
        dispatch_env("GPU_IDLE_SECONDS"),
        "GPU_IDLE_SECONDS: !Ref GpuIdleSeconds"
    );

    let function = lines("DispatchFunction");
    let at = function
        .iter()
        .position(|line| line == "- Sid: StartAndStopTheGpuService")
        .expect("the GPU statement");
    let statement = &function[at..];
    assert_eq!(
        value(statement, "Action"),
        "[ecs:DescribeServices, ecs:UpdateService]"
    );
    assert_eq!(value(statement, "Resource"), "!Ref OllamaService");
    let update_service: Vec<&String> = function
        .iter()
        .filter(|line| line.contains("ecs:UpdateService"))
        .collect();
    assert_eq!(update_service.len(), 1, "{update_service:#?}");
}

#[test]
fn the_runners_ollama_url_is_the_services_cloud_map_name() {
    let namespace = lines("OllamaNamespace");
    assert_eq!(
        value(&namespace, "Name"),
        "!Sub ${AWS::StackName}.ota.internal"
    );
    let discovery = lines("OllamaDiscoveryService");
    assert_eq!(
        value(&discovery, "NamespaceId"),
        "!GetAtt OllamaNamespace.Id"
    );
    assert!(
        discovery.iter().any(|line| line == "- Type: A"),
        "{discovery:#?}"
    );
    let url = dispatch_env("SELF_HOSTED_OLLAMA_URL");
    assert!(
        url.contains(
            "- !Sub \"http://${OllamaDiscoveryService.Name}.${AWS::StackName}.ota.internal:11434\""
        ),
        "{url}"
    );
    // An Ollama of one's own still overrides it.
    assert!(url.contains("- !Ref SelfHostedOllamaUrl"), "{url}");
}

#[test]
fn the_runners_network_is_the_stacks_own_by_default() {
    let template = workspace_file("template.yaml");
    assert!(template.contains("  CreateVpc: !Equals [!Ref VpcId, \"\"]\n"));
    let subnets = dispatch_env("RUNNER_SUBNETS");
    assert!(
        subnets
            .contains("!If [CreateVpc, [!Ref PublicSubnetA, !Ref PublicSubnetB], !Ref SubnetIds]"),
        "{subnets}"
    );
    let a = lines("PublicSubnetA");
    let b = lines("PublicSubnetB");
    assert_eq!(value(&a, "AvailabilityZone"), "!Select [0, !GetAZs \"\"]");
    assert_eq!(value(&b, "AvailabilityZone"), "!Select [1, !GetAZs \"\"]");
    let route = lines("PublicDefaultRoute");
    assert_eq!(value(&route, "DestinationCidrBlock"), "0.0.0.0/0");
    assert_eq!(value(&route, "GatewayId"), "!Ref InternetGateway");
    assert!(
        resources_of_type("AWS::EC2::NatGateway").is_empty(),
        "no NAT gateway is paid for"
    );
}
