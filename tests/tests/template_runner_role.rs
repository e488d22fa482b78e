//! The Fargate runner's rights in `template.yaml`: its task role reads no secret and may
//! invoke only the dispatch function (for its job's token), and its task definition names
//! that function and holds no secret's ARN.

use e2e::workflow::definition::workspace_file;

/// The lines of the template's resource `name`, up to the next resource.
fn resource(template: &str, name: &str) -> Vec<String> {
    let header = format!("  {name}:");
    let mut lines = template
        .lines()
        .skip_while(|line| line.trim_end() != header);
    assert!(lines.next().is_some(), "template.yaml has no {name}");
    lines
        .take_while(|line| line.trim().is_empty() || line.starts_with("    "))
        .filter(|line| !line.trim_start().starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The value of the first `key:` among `lines`.
fn value<'l>(lines: &'l [String], key: &str) -> &'l str {
    lines
        .iter()
        .find_map(|line| line.trim().strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {lines:#?}"))
        .trim()
}

/// The dispatch function's ARN as the template builds its name.
fn dispatch_function_arn(template: &str) -> String {
    let function = resource(template, "DispatchFunction");
    let name = value(&function, "FunctionName");
    let name = name.strip_prefix("!Sub ").expect("a !Sub name");
    // Its alias `live`, which deployments move (AutoPublishAlias).
    format!(
        "!Sub arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{name}:live"
    )
}

#[test]
fn the_runner_task_role_reads_no_secret_and_invokes_only_the_dispatch_function() {
    let template = workspace_file("template.yaml");
    let role = resource(&template, "RunnerTaskRole");
    let text = role.join("\n").to_lowercase();
    assert!(!text.contains("secretsmanager"), "{text}");
    assert!(!text.contains("kms:"), "{text}");
    let actions: Vec<&str> = role
        .iter()
        .filter_map(|line| line.trim().strip_prefix("Action:"))
        .map(str::trim)
        .collect();
    let lambda: Vec<&&str> = actions.iter().filter(|a| a.contains("lambda:")).collect();
    assert_eq!(lambda, [&"lambda:InvokeFunction"], "{actions:?}");
    // The statement that allows it names the dispatch function's ARN, and only it.
    let at = role
        .iter()
        .position(|line| line.contains("lambda:InvokeFunction"))
        .expect("the invoke statement");
    let resource_line = role[at..]
        .iter()
        .find_map(|line| line.trim().strip_prefix("Resource:"))
        .expect("its Resource")
        .trim();
    assert_eq!(resource_line, dispatch_function_arn(&template));
    assert!(!resource_line.contains('*'), "{resource_line}");
}

#[test]
fn the_runner_task_definition_names_the_dispatch_function_and_no_secret() {
    let template = workspace_file("template.yaml");
    let task = resource(&template, "RunnerTaskDefinition");
    let text = task.join("\n");
    for gone in [
        "PRIVATE_KEY_SECRET_ARN",
        "OLLAMA_API_KEY_SECRET_ARN",
        "Secrets:",
    ] {
        assert!(!text.contains(gone), "{gone} in {text}");
    }
    let at = task
        .iter()
        .position(|line| line.trim() == "- Name: DISPATCH_FUNCTION")
        .expect("DISPATCH_FUNCTION in the runner's environment");
    let function = resource(&template, "DispatchFunction");
    // The alias `live` of the function, as name:qualifier.
    assert_eq!(
        task[at + 1].trim(),
        format!("Value: {}:live", value(&function, "FunctionName"))
    );
}

#[test]
fn the_dispatch_function_reads_the_keys_it_hands_out() {
    let template = workspace_file("template.yaml");
    let function = resource(&template, "DispatchFunction").join("\n");
    for secret in ["!Ref GitHubAppPrivateKey", "!Ref OllamaApiKey"] {
        assert!(
            function.contains(&format!("SecretArn: {secret}")),
            "GetSecretValue on {secret}: {function}"
        );
    }
}

/// GitHub asks every client to name its App in the `User-Agent`: each component that holds
/// the App's id also gets its slug.
#[test]
fn every_component_that_calls_github_gets_the_apps_slug() {
    let template = workspace_file("template.yaml");
    for name in [
        "PolicyFunction",
        "DispatchFunction",
        "ReportFunction",
        "RunnerTaskDefinition",
    ] {
        let lines = resource(&template, name).join("\n");
        assert!(lines.contains("GitHubAppId"), "{name} holds the App id");
        assert!(
            lines.contains("APP_SLUG") && lines.contains("!Ref GitHubAppSlug"),
            "{name} lacks APP_SLUG"
        );
    }
}
