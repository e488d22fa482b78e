//! The runner image's build in `template.yaml` and `scripts/deploy` agree: the outputs the
//! script reads exist, the build's environment variable the script sets is the one the
//! buildspec tags the image with, and the build's role pushes to the stack's repository
//! only, with `*` only where ECR allows nothing narrower.

use e2e::workflow::definition::workspace_file;

/// The lines of the template's entry `name` (a resource or an output), up to the next.
fn entry(template: &str, name: &str) -> Vec<String> {
    let header = format!("  {name}:");
    let mut lines = template
        .lines()
        .skip_while(|line| line.trim_end() != header);
    assert!(lines.next().is_some(), "template.yaml has no {name}");
    lines
        .take_while(|line| line.trim().is_empty() || line.starts_with("    "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_output_the_deploy_script_reads_is_an_output_of_the_template() {
    let template = workspace_file("template.yaml");
    let script = workspace_file("scripts/deploy");
    let outputs = &template[template.find("\nOutputs:\n").expect("an Outputs section")..];
    let mut read: Vec<&str> = script
        .split("$(output ")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .collect();
    read.sort_unstable();
    read.dedup();
    assert_eq!(
        read,
        [
            "RunnerImageBuildProject",
            "RunnerImageRepositoryName",
            "RunnerImageRepositoryUri",
            "RunnerImageSourceBucket",
        ]
    );
    for name in read {
        assert!(
            outputs.contains(&format!("\n  {name}:\n")),
            "scripts/deploy reads the output {name}, which template.yaml does not have"
        );
    }
}

#[test]
fn the_build_tags_the_image_with_the_variable_the_script_sets() {
    let template = workspace_file("template.yaml");
    let script = workspace_file("scripts/deploy");
    let build = entry(&template, "RunnerImageBuild").join("\n");
    assert!(
        script.contains("--environment-variables-override \"name=IMAGE_TAG,value=$tag,"),
        "scripts/deploy sets IMAGE_TAG"
    );
    assert!(
        build.contains("-f runner/Dockerfile -t \"$REPOSITORY_URI:$IMAGE_TAG\" ."),
        "{build}"
    );
    assert!(
        build.contains("docker push \"$REPOSITORY_URI:$IMAGE_TAG\""),
        "{build}"
    );
    assert!(
        build.contains("Value: !GetAtt RunnerImageRepository.RepositoryUri"),
        "REPOSITORY_URI is the stack's repository: {build}"
    );
    // The task definition starts what the build pushed when no image is given.
    let task = entry(&template, "RunnerTaskDefinition").join("\n");
    assert!(
        task.contains("- !Sub ${RunnerImageRepository.RepositoryUri}:${RunnerImageTag}"),
        "{task}"
    );
}

#[test]
fn the_build_role_pushes_to_the_stack_repository_only() {
    let template = workspace_file("template.yaml");
    let role = entry(&template, "RunnerImageBuildRole");
    let resources: Vec<&str> = role
        .iter()
        .filter_map(|line| line.trim().strip_prefix("Resource:"))
        .map(str::trim)
        .collect();
    assert_eq!(
        resources,
        [
            "!Sub ${RunnerImageSourceBucket.Arn}/*",
            "!GetAtt RunnerImageSourceBucket.Arn",
            "\"*\"",
            "!GetAtt RunnerImageRepository.Arn",
            "!GetAtt RunnerImageBuildLogGroup.Arn",
        ]
    );
    // The one `*`: the registry's login token, which has no resource.
    let star = role
        .iter()
        .position(|line| line.trim() == "Resource: \"*\"")
        .expect("the * statement");
    assert_eq!(role[star - 1].trim(), "Action: ecr:GetAuthorizationToken");
    assert!(role[star - 2].trim().starts_with('#'), "a comment says why");
    let text = role.join("\n");
    for wide in [
        "ecr:*",
        "s3:*",
        "logs:*",
        "s3:PutObject",
        "ecr:DeleteRepository",
    ] {
        assert!(!text.contains(wide), "{wide} in {text}");
    }
}
