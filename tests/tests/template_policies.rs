//! Least privilege in `template.yaml`, read as AWS deploys it: the template translated by
//! SAM's own translator (`scripts/sam-translate`, the venv of `scripts/test`), so the
//! policies SAM's policy templates, event sources and tracing add are checked too. No
//! role receives from or deletes on every queue, none scans or deletes DynamoDB items,
//! and every statement on `*` is one AWS allows nothing narrower for, named by its Sid.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The statements on `*` and why AWS allows nothing narrower.
const STAR_SIDS: &[(&str, &str)] = &[
    (
        "AnswerApprovalWaits",
        "task tokens of service integrations have no resource",
    ),
    ("KeepQueuedWaitsAlive", "task tokens have no resource"),
    ("FailAttempts", "task tokens have no resource"),
    (
        "LogInToTheRegistry",
        "ecr:GetAuthorizationToken takes no resource (the runner image build)",
    ),
    ("AnswerItsWait", "task tokens have no resource"),
    (
        "FindAndStopRunners",
        "ListTasks takes no resource; scoped by the ecs:cluster condition",
    ),
    (
        "DeliverExecutionLogs",
        "CloudWatch Logs' delivery actions take no resource",
    ),
];

/// AWS managed policies SAM or the template attach, each narrow enough: logs of the
/// function's own groups, X-Ray segments (which have no resource), CodeDeploy's role for
/// Lambda deployments, ECS pulling the runner image and writing its logs.
const MANAGED: &[&str] = &[
    "service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess",
    "service-role/AWSCodeDeployRoleForLambda",
    "service-role/AmazonECSTaskExecutionRolePolicy",
    // The ECS container instance role AWS documents for the GPU instances: registering
    // with the cluster, pulling images, the agent's logs; no SQS or DynamoDB.
    "service-role/AmazonEC2ContainerServiceforEC2Role",
];

fn translated() -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    let output = Command::new(&python)
        .arg("scripts/sam-translate")
        .current_dir(&root)
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "{} scripts/sam-translate: {err} (scripts/test installs the venv)",
                python.display()
            )
        });
    assert!(
        output.status.success(),
        "scripts/sam-translate failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the translation is JSON")
}

/// Every role's inline statements, with the role's name.
fn statements(template: &Value) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for (name, resource) in template["Resources"].as_object().expect("resources") {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in resource["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let statements = &policy["PolicyDocument"]["Statement"];
            let list = match statements {
                Value::Array(list) => list.clone(),
                one => vec![one.clone()],
            };
            all.extend(list.into_iter().map(|statement| (name.clone(), statement)));
        }
    }
    all
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(list) => list.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_statement_on_star_is_one_aws_allows_nothing_narrower_for() {
    let template = translated();
    let all = statements(&template);
    assert!(all.len() > 10, "the roles' statements were read: {all:?}");
    let mut stars = 0;
    for (role, statement) in &all {
        if !strings(&statement["Resource"]).iter().any(|r| r == "*") {
            continue;
        }
        stars += 1;
        let sid = statement["Sid"].as_str().unwrap_or("");
        assert!(
            STAR_SIDS.iter().any(|(allowed, _)| *allowed == sid),
            "{role} allows {} on * (Sid {sid:?}): name it in STAR_SIDS with why AWS allows nothing narrower, or scope it",
            statement["Action"]
        );
        for action in strings(&statement["Action"]) {
            assert!(!action.starts_with("sqs:"), "{role}: {action} on *");
            assert!(!action.starts_with("dynamodb:"), "{role}: {action} on *");
            assert!(!action.contains('*'), "{role}: {action} on *");
        }
    }
    assert!(
        stars > 0,
        "the task-token statements are on * and were seen"
    );
}

#[test]
fn no_role_receives_from_every_queue_or_scans_or_deletes_items() {
    let template = translated();
    for (role, statement) in statements(&template) {
        // The dashboard removes installation policies: deletes held to the
        // installations' partitions (`INST#…`), never a job or the audit log.
        let installations_only = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            == serde_json::json!(["INST#*"]);
        for action in strings(&statement["Action"]) {
            assert!(
                !matches!(action.as_str(), "dynamodb:Scan" | "dynamodb:*" | "sqs:*"),
                "{role} allows {action}"
            );
            assert!(
                action != "dynamodb:DeleteItem" || installations_only,
                "{role} allows {action} beyond the installations' partitions"
            );
        }
    }
    for (name, resource) in template["Resources"].as_object().expect("resources") {
        for arn in resource["Properties"]["ManagedPolicyArns"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let text = arn.to_string();
            assert!(
                MANAGED
                    .iter()
                    .any(|managed| text.contains(&format!("policy/{managed}"))),
                "{name} has the managed policy {text}: SQS's managed policy receives from every queue"
            );
        }
    }
}

#[test]
fn each_queue_is_read_by_its_function_s_alias_and_only_its_own() {
    let template = translated();
    let resources = template["Resources"].as_object().expect("resources");
    let mappings: Vec<(&String, &Value)> = resources
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Lambda::EventSourceMapping")
        .collect();
    assert_eq!(mappings.len(), 4, "{mappings:?}");
    for (name, mapping) in mappings {
        let function = mapping["Properties"]["FunctionName"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} names no function: {mapping}"));
        assert!(
            function.ends_with("Aliaslive"),
            "{name} reads into {function}"
        );
        let queue = &mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0];
        let role = format!("{}Role", function.trim_end_matches("Aliaslive"));
        let reads = statements(&template).into_iter().any(|(owner, statement)| {
            owner == role
                && strings(&statement["Action"]).contains(&"sqs:ReceiveMessage".to_owned())
                && statement["Resource"]
                    .to_string()
                    .contains(&format!("\"{}\"", queue.as_str().unwrap_or("")))
        });
        assert!(reads, "{role} may not receive from {queue}");
    }
}

#[test]
fn the_webhook_url_is_the_alias_s() {
    let template = translated();
    let url = &template["Resources"]["WebhookFunctionUrl"]["Properties"];
    assert_eq!(url["TargetFunctionArn"]["Ref"], "WebhookFunctionAliaslive");
    assert_eq!(
        template["Outputs"]["WebhookUrl"]["Value"]["Fn::GetAtt"][0],
        "WebhookFunctionUrl"
    );
}
