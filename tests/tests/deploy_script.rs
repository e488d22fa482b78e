//! `scripts/deploy` as a new user runs it, with `sam`, `aws`, `pip` and `cargo` stubbed at
//! the edge (`e2e::deploy_script`): it tags the runner image by version and commit,
//! deploys with that tag, builds the image in the stack's CodeBuild project and waits for
//! it (or skips it when the repository has the tag), stops with a clear error when the
//! build fails or the work tree is dirty, builds without AWS for `--build-only`, and
//! stores the App's key through `ota` for `--set-private-key`.

use e2e::deploy_script::{DeployWorld, Run};

const NO_STACK: &str = "\nAn error occurred (ValidationError) when calling the DescribeStacks operation: Stack with id ollama-turbo-agent does not exist\n";
const OUTPUTS: &str = "WebhookUrl\thttps://abc.lambda-url.us-east-1.on.aws/\n\
RunnerImageRepositoryName\tota-runner-abc\n\
RunnerImageRepositoryUri\t123456789012.dkr.ecr.us-east-1.amazonaws.com/ota-runner-abc\n\
RunnerImageSourceBucket\tota-sources-abc\n\
RunnerImageBuildProject\tRunnerImageBuild-abc\n";
const NO_IMAGE: &str = "\nAn error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image with imageId {imageTag:'0.1.0-x'} does not exist\n";
const BUILD_ID: &str = "RunnerImageBuild-abc:4f1c2d3e\n";

/// The calls to the stubbed commands, less the installation of the tools.
fn calls_past_install(run: &Run) -> Vec<&str> {
    run.calls
        .iter()
        .map(String::as_str)
        .filter(|call| !call.starts_with("pip "))
        .collect()
}

/// The first word or two of each call: which command, in which order.
fn commands(run: &Run) -> Vec<String> {
    calls_past_install(run)
        .iter()
        .map(|call| {
            let words: Vec<&str> = call.split(' ').collect();
            let n = if words[0] == "aws" { 3 } else { 2 };
            words[..n.min(words.len())].join(" ")
        })
        .collect()
}

fn the_call<'r>(run: &'r Run, prefix: &str) -> &'r str {
    let found: Vec<&str> = calls_past_install(run)
        .into_iter()
        .filter(|call| call.starts_with(prefix))
        .collect();
    assert_eq!(found.len(), 1, "one call {prefix}: {:#?}", run.calls);
    found[0]
}

#[test]
fn a_first_deploy_tags_the_image_deploys_with_the_tag_then_builds_it_and_waits() {
    let world = DeployWorld::new();
    world.respond(
        "aws.cloudformation.describe-stacks",
        Some(1),
        "",
        NO_STACK,
        255,
    );
    world.respond(
        "aws.cloudformation.describe-stacks",
        Some(2),
        OUTPUTS,
        "",
        0,
    );
    world.respond("aws.ecr.describe-images", None, "", NO_IMAGE, 254);
    world.respond("aws.codebuild.start-build", None, BUILD_ID, "", 0);
    world.respond(
        "aws.codebuild.batch-get-builds",
        Some(1),
        "IN_PROGRESS\tPROVISIONING\n",
        "",
        0,
    );
    world.respond(
        "aws.codebuild.batch-get-builds",
        Some(2),
        "IN_PROGRESS\tBUILD\n",
        "",
        0,
    );
    world.respond(
        "aws.codebuild.batch-get-builds",
        Some(3),
        "IN_PROGRESS\tBUILD\n",
        "",
        0,
    );
    world.respond(
        "aws.codebuild.batch-get-builds",
        Some(4),
        "SUCCEEDED\tCOMPLETED\n",
        "",
        0,
    );

    let run = world.run(&["--guided"]);

    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        commands(&run),
        [
            "sam validate",
            "sam build",
            "aws cloudformation describe-stacks",
            "sam deploy",
            "aws cloudformation describe-stacks",
            "aws ecr describe-images",
            "aws s3 cp",
            "aws codebuild start-build",
            "aws codebuild batch-get-builds",
            "sleep 15",
            "aws codebuild batch-get-builds",
            "sleep 15",
            "aws codebuild batch-get-builds",
            "sleep 15",
            "aws codebuild batch-get-builds",
        ]
    );
    let tag = format!("0.1.0-{}", world.commit());
    assert!(
        run.calls.iter().all(|call| !call.contains(&tag)),
        "the calls are redacted"
    );
    assert_eq!(
        the_call(&run, "sam deploy"),
        "sam deploy --guided --parameter-overrides RunnerImage=\"\" RunnerImageTag=0.1.0-[commit]"
    );
    assert_eq!(
        the_call(&run, "aws ecr describe-images"),
        "aws ecr describe-images --repository-name ota-runner-abc --image-ids imageTag=0.1.0-[commit] --region us-east-1 --output text --query imageDetails[0].imageTags"
    );
    assert_eq!(
        the_call(&run, "aws s3 cp"),
        "aws s3 cp target/deploy/runner-source-0.1.0-[commit].zip s3://ota-sources-abc/sources/0.1.0-[commit].zip --region us-east-1 --only-show-errors"
    );
    assert_eq!(
        the_call(&run, "aws codebuild start-build"),
        "aws codebuild start-build --project-name RunnerImageBuild-abc --region us-east-1 --source-location-override ota-sources-abc/sources/0.1.0-[commit].zip --environment-variables-override name=IMAGE_TAG,value=0.1.0-[commit],type=PLAINTEXT --query build.id --output text"
    );
    // The archive uploaded is HEAD's tree.
    let archive = world
        .path()
        .join(format!("target/deploy/runner-source-{tag}.zip"));
    let bytes = std::fs::read(&archive).expect("the source archive");
    assert_eq!(&bytes[..2], b"PK", "a zip archive");
    insta::assert_snapshot!("first_deploy", run.output);
}

#[test]
fn an_existing_stack_with_the_image_already_built_skips_the_build_and_deploys_with_its_tag() {
    let world = DeployWorld::new();
    world.respond("aws.cloudformation.describe-stacks", None, OUTPUTS, "", 0);
    world.respond("aws.ecr.describe-images", None, "0.1.0-x\n", "", 0);

    let run = world.run(&["--config-env", "prod"]);

    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        commands(&run),
        [
            "sam validate",
            "sam build",
            "aws cloudformation describe-stacks",
            "aws ecr describe-images",
            "sam deploy",
        ]
    );
    assert_eq!(
        the_call(&run, "aws cloudformation describe-stacks"),
        "aws cloudformation describe-stacks --stack-name ollama-turbo-agent-prod --region us-east-1 --query Stacks[0].Outputs[].[OutputKey,OutputValue] --output text"
    );
    // prod's own overrides are kept: SAM would drop them for the ones the script adds.
    let deploy = the_call(&run, "sam deploy");
    assert!(
        deploy.starts_with("sam deploy --config-env prod --parameter-overrides "),
        "{deploy}"
    );
    assert!(deploy.contains(" LogLevel=warn "), "{deploy}");
    assert!(
        deploy.ends_with(" RunnerImage=\"\" RunnerImageTag=0.1.0-[commit]"),
        "{deploy}"
    );
    assert_eq!(
        the_call(&run, "sam build"),
        "sam build --beta-features --config-env prod"
    );
    insta::assert_snapshot!("image_already_built", run.output);
}

#[test]
fn an_existing_stack_builds_the_image_before_deploying_and_a_failed_build_stops_the_deploy() {
    let world = DeployWorld::new();
    world.respond("aws.cloudformation.describe-stacks", None, OUTPUTS, "", 0);
    world.respond("aws.ecr.describe-images", None, "", NO_IMAGE, 254);
    world.respond("aws.codebuild.start-build", None, BUILD_ID, "", 0);
    world.respond(
        "aws.codebuild.batch-get-builds",
        Some(1),
        "IN_PROGRESS\tBUILD\n",
        "",
        0,
    );
    world.respond(
        "aws.codebuild.batch-get-builds",
        Some(2),
        "FAILED\tCOMPLETED\n",
        "",
        0,
    );
    world.respond(
        "aws.codebuild.batch-get-builds",
        Some(3),
        "BUILD\tError while executing command: docker build --platform linux/arm64 -f runner/Dockerfile . Reason: exit status 101\n",
        "",
        0,
    );

    let run = world.run(&[]);

    assert_eq!(run.code, 1, "{}", run.output);
    assert_eq!(
        commands(&run),
        [
            "sam validate",
            "sam build",
            "aws cloudformation describe-stacks",
            "aws ecr describe-images",
            "aws s3 cp",
            "aws codebuild start-build",
            "aws codebuild batch-get-builds",
            "sleep 15",
            "aws codebuild batch-get-builds",
            "aws codebuild batch-get-builds",
        ],
        "no sam deploy after a failed build"
    );
    insta::assert_snapshot!("failed_build", run.output);
}

#[test]
fn an_image_that_cannot_be_looked_for_stops_the_deploy_with_aws_message() {
    let world = DeployWorld::new();
    world.respond("aws.cloudformation.describe-stacks", None, OUTPUTS, "", 0);
    world.respond(
        "aws.ecr.describe-images",
        None,
        "",
        "\nAn error occurred (AccessDeniedException) when calling the DescribeImages operation: not authorized to perform: ecr:DescribeImages\n",
        254,
    );

    let run = world.run(&[]);

    assert_eq!(run.code, 1, "{}", run.output);
    assert_eq!(
        commands(&run).last().map(String::as_str),
        Some("aws ecr describe-images"),
        "nothing built or deployed"
    );
    insta::assert_snapshot!("image_lookup_denied", run.output);
}

#[test]
fn a_released_image_is_deployed_as_given_with_nothing_built() {
    let world = DeployWorld::new();
    world.respond("aws.cloudformation.describe-stacks", None, OUTPUTS, "", 0);
    world.change_without_committing();

    let run = world.run(&["--runner-image", "ghcr.io/acme/ota-runner:0.1.0"]);

    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        commands(&run),
        [
            "sam validate",
            "sam build",
            "aws cloudformation describe-stacks",
            "sam deploy"
        ]
    );
    assert_eq!(
        the_call(&run, "sam deploy"),
        "sam deploy --parameter-overrides RunnerImage=ghcr.io/acme/ota-runner:0.1.0"
    );
}

#[test]
fn uncommitted_changes_are_refused_before_anything_is_built() {
    let world = DeployWorld::new();
    world.change_without_committing();

    let run = world.run(&[]);

    assert_eq!(run.code, 1, "{}", run.output);
    assert!(run.calls.is_empty(), "{:#?}", run.calls);
    insta::assert_snapshot!("dirty_work_tree", run.output);
}

#[test]
fn build_only_builds_without_aws_or_a_clean_tree() {
    let world = DeployWorld::new();
    world.change_without_committing();

    let run = world.run(&["--build-only"]);

    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(commands(&run), ["sam validate", "sam build"]);
    assert_eq!(
        run.calls.first().map(String::as_str),
        Some("pip install --quiet --disable-pip-version-check -r requirements-deploy.txt")
    );
    insta::assert_snapshot!("build_only", run.output);
}

#[test]
fn set_private_key_stores_the_key_through_ota_for_the_stack_named() {
    let world = DeployWorld::new();
    let key = world.write("app.pem", "-----BEGIN RSA PRIVATE KEY-----\n");
    world.respond(
        "cargo.run",
        None,
        "Stored the App's private key in stack ota-test.\n",
        "",
        0,
    );

    let run = world.run(&["--set-private-key", "app.pem", "--stack", "ota-test"]);

    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        run.calls,
        [
            "cargo run --release --locked --quiet -p ota -- --stack ota-test secrets set private-key app.pem"
        ],
        "ota alone: no tools installed, no build"
    );
    assert!(key.exists());
    insta::assert_snapshot!("set_private_key", run.output);
}

#[test]
fn set_private_key_names_the_default_stack_and_reports_a_key_ota_refused() {
    let world = DeployWorld::new();
    world.write("app.pem", "not a key\n");
    world.respond(
        "cargo.run",
        None,
        "",
        "error: app.pem is not a PEM private key (expected -----BEGIN RSA PRIVATE KEY-----)\n",
        1,
    );

    let run = world.run(&["--set-private-key", "app.pem"]);

    assert_eq!(run.code, 1, "{}", run.output);
    assert_eq!(
        run.calls,
        [
            "cargo run --release --locked --quiet -p ota -- --stack ollama-turbo-agent secrets set private-key app.pem"
        ]
    );
    insta::assert_snapshot!("set_private_key_refused", run.output);

    let missing = world.run(&["--set-private-key", "nowhere.pem"]);
    assert_eq!(missing.code, 1);
    assert!(missing.calls.is_empty());
    insta::assert_snapshot!("set_private_key_missing_file", missing.output);
}
