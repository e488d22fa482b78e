//! The stack as `sam deploy` creates it, in moto: `template.yaml` packaged and
//! translated by the SAM translator (`sam_package.py`), split by [`moto_lacks`] into
//! moto's copy and what test support makes through the services' APIs, created with the
//! real CloudFormation client, and read back (resources, outputs).

use super::intrinsics::{self, Made};
use super::moto_lacks::{self, Creation, Plan};
use crate::aws::moto_endpoint;
use crate::fixtures::root;
use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use serde_json::Value;
use std::collections::BTreeMap;

/// The S3 bucket `sam_package.py` uploads code and definitions to, as `sam deploy`'s
/// managed bucket.
const PACKAGE_BUCKET: &str = "ota-sam-packages";

/// A stack created from `template.yaml`.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    /// Every parameter's value: the ones given, else the template's defaults.
    pub parameters: BTreeMap<String, String>,
    /// Physical ids by logical id: the stack's resources and those test support made.
    pub resources: BTreeMap<String, String>,
    /// Resource types by logical id, of the translated template.
    pub types: BTreeMap<String, String>,
    /// The `BuildProperties.Binary` of each function, by logical id.
    pub binaries: BTreeMap<String, String>,
    /// The stack's outputs, those test support resolved included.
    pub outputs: BTreeMap<String, String>,
    /// Resources left out of moto's copy: logical id, type, why.
    pub skipped: Vec<(String, String, &'static str)>,
    /// What moto's copy of each ECS service left out (its capacity provider strategy,
    /// its Cloud Map registries), resolved, by logical id: the tests' ECS scheduler
    /// follows it.
    pub service_settings: BTreeMap<String, Value>,
}

impl Stack {
    /// The physical id of the resource `logical_id`.
    pub fn physical(&self, logical_id: &str) -> &str {
        self.resources
            .get(logical_id)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("the stack has no resource {logical_id}"))
    }

    /// The output `key`.
    pub fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("the stack has no output {key}: {:?}", self.outputs))
    }
}

/// `sam package` and the Serverless transform, by `sam_package.py` in the `.venv`.
pub fn translate(stack: &str, parameters: &BTreeMap<String, String>) -> Result<Value, String> {
    let root = root();
    let python = root.join(".venv/bin/python");
    let script = root.join("tests/src/deployed/sam_package.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(root.join("template.yaml"))
        .arg(moto_endpoint())
        .arg(PACKAGE_BUCKET)
        .arg(stack)
        .arg(serde_json::to_string(parameters).map_err(|err| err.to_string())?)
        .output()
        .map_err(|err| {
            format!(
                "{}: {err}; run the suite with `scripts/test`, which installs \
                 requirements-dev.txt (aws-sam-translator) into .venv",
                python.display()
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "the SAM translation failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|err| format!("the translation: {err}"))
}

/// Creates the stack `name` from `template.yaml` with `parameters`, as moto allows.
pub async fn create(
    aws: &SdkConfig,
    name: &str,
    parameters: &BTreeMap<String, String>,
) -> Result<Stack, String> {
    let translated = translate(name, parameters)?;
    let mut all_parameters = BTreeMap::new();
    if let Some(declared) = translated["Parameters"].as_object() {
        for (key, declaration) in declared {
            if let Some(default) = declaration.get("Default") {
                let default = default.as_str().map_or(default.to_string(), str::to_owned);
                all_parameters.insert(key.clone(), default);
            }
        }
    }
    all_parameters.extend(parameters.clone());
    let mut types = BTreeMap::new();
    let mut binaries = BTreeMap::new();
    let mut definitions = BTreeMap::new();
    for (logical, resource) in translated["Resources"].as_object().into_iter().flatten() {
        let kind = resource["Type"].as_str().unwrap_or_default();
        types.insert(logical.clone(), kind.to_owned());
        if let Some(binary) = resource["Metadata"]["BuildProperties"]["Binary"].as_str() {
            binaries.insert(logical.clone(), binary.to_owned());
        }
        let location = &resource["Properties"]["DefinitionS3Location"];
        if let (Some(bucket), Some(key)) = (location["Bucket"].as_str(), location["Key"].as_str()) {
            definitions.insert(logical.clone(), package(bucket, key).await?);
        }
    }
    let mut plan = moto_lacks::plan(translated, name, &all_parameters, &definitions)?;
    let secrets = aws_sdk_secretsmanager::Client::new(aws);
    let mut resources = BTreeMap::new();
    let before = std::mem::take(&mut plan.before);
    for (logical, creation, properties) in &before {
        let made = match creation {
            Creation::SecretBefore => secret(&secrets, name, logical, properties).await?,
            other => return Err(format!("{logical}: {other:?} is made after the stack")),
        };
        moto_lacks::made_before(&mut plan, logical, &made)?;
        resources.insert(logical.clone(), made.reference);
    }
    let stack = create_in_moto(aws, name, &plan, parameters).await?;
    resources.extend(stack.0);
    let mut outputs = stack.1;
    let sfn = aws_sdk_sfn::Client::new(aws);
    for logical in &plan.state_machines {
        let arn = resources
            .get(logical)
            .ok_or_else(|| format!("the stack has no {logical}"))?;
        let definition = outputs.remove(&moto_lacks::definition_output(logical));
        let role = outputs.remove(&moto_lacks::role_output(logical));
        let (Some(definition), Some(role)) = (definition, role) else {
            return Err(format!("{logical}: moto resolved no definition or role"));
        };
        state_machine(&sfn, arn, &definition, &role).await?;
    }
    // What `Ref` answers besides parameters: the pseudo parameters, as moto sets them.
    let mut references = all_parameters.clone();
    for (pseudo, value) in [
        ("AWS::StackName", name),
        ("AWS::Region", crate::aws::REGION),
        ("AWS::AccountId", crate::aws::ACCOUNT_ID),
        ("AWS::Partition", "aws"),
    ] {
        references.insert(pseudo.to_owned(), value.to_owned());
    }
    let lambda = aws_sdk_lambda::Client::new(aws);
    let made_after = super::made_after::Clients::new(aws);
    let mut made_so_far: Vec<(String, Made)> = Vec::new();
    for (logical, creation, properties) in &plan.after {
        let mut properties = properties.clone();
        for (earlier, made) in &made_so_far {
            intrinsics::substitute(&mut properties, earlier, made)?;
        }
        let properties = intrinsics::resolve(&properties, &references, &resources)?;
        let made = match creation {
            Creation::FunctionUrlAfter => function_url(&lambda, logical, &properties).await?,
            Creation::SecretBefore => return Err(format!("{logical}: a secret is made before")),
            other => {
                made_after
                    .make(*other, name, logical, &properties, &resources)
                    .await?
            }
        };
        for (key, value) in &plan.deferred_outputs {
            let mut value = value.clone();
            intrinsics::substitute(&mut value, logical, &made)?;
            if let Some(text) = value.as_str() {
                outputs.insert(key.clone(), text.to_owned());
            }
        }
        resources.insert(logical.clone(), made.reference.clone());
        made_so_far.push((logical.clone(), made));
    }
    let mut service_settings = BTreeMap::new();
    for (logical, settings) in &plan.service_settings {
        let mut settings = settings.clone();
        for (earlier, made) in &made_so_far {
            intrinsics::substitute(&mut settings, earlier, made)?;
        }
        let settings = intrinsics::resolve(&settings, &references, &resources)?;
        let cluster = intrinsics::resolve(
            &plan.template["Resources"][logical]["Properties"]["Cluster"],
            &references,
            &resources,
        )?;
        let cluster = cluster
            .as_str()
            .ok_or_else(|| format!("{logical}: its Cluster is not a name"))?;
        made_after
            .check_service(logical, &settings, cluster)
            .await?;
        service_settings.insert(logical.clone(), settings);
    }
    Ok(Stack {
        name: name.to_owned(),
        parameters: all_parameters,
        resources,
        types,
        binaries,
        outputs,
        skipped: plan.skipped,
        service_settings,
    })
}

/// An object `sam_package.py` uploaded, read back from moto's S3 (path-style; moto
/// wants an `Authorization` header and checks no signature, and the project has no use
/// for the S3 SDK).
async fn package(bucket: &str, key: &str) -> Result<String, String> {
    let url = format!("{}/{bucket}/{key}", moto_endpoint().trim_end_matches('/'));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20250101/{}/s3/aws4_request, \
         SignedHeaders=host, Signature=0",
        crate::aws::REGION
    );
    let response = reqwest::Client::new()
        .get(&url)
        .header("authorization", authorization)
        .send()
        .await
        .map_err(|err| format!("{url}: {err}"))?;
    if !response.status().is_success() {
        return Err(format!("{url}: {}", response.status()));
    }
    response.text().await.map_err(|err| format!("{url}: {err}"))
}

/// Creates moto's copy of the stack and waits for it. Returns the physical ids of its
/// resources and its outputs.
async fn create_in_moto(
    aws: &SdkConfig,
    name: &str,
    plan: &Plan,
    parameters: &BTreeMap<String, String>,
) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>), String> {
    // Moto makes every resource within `CreateStack` itself: under load the call takes
    // longer than the product's two-second attempt timeout, after which the SDK would
    // send it again and find the stack it just made.
    let patient = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(2))
        .operation_attempt_timeout(std::time::Duration::from_secs(120))
        .operation_timeout(std::time::Duration::from_secs(120))
        .build();
    let cloudformation = aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(aws)
            .timeout_config(patient)
            .build(),
    );
    let mut create = cloudformation
        .create_stack()
        .stack_name(name)
        .template_body(plan.template.to_string())
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityAutoExpand);
    for (key, value) in parameters {
        create = create.parameters(
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => {}
        // The name is this test's alone: a stack of that name is the one an earlier
        // attempt of this very call made before the SDK gave up on its answer (a dropped
        // connection under load is retried), so it is waited for like ours.
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|service| service.is_already_exists_exception()) => {}
        Err(err) => {
            return Err(format!(
                "CreateStack: {}",
                aws_sdk_cloudformation::error::DisplayErrorContext(err)
            ));
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let stack = loop {
        let stack = cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .map_err(|err| format!("DescribeStacks: {err}"))?
            .stacks
            .unwrap_or_default()
            .into_iter()
            .next()
            .ok_or("DescribeStacks: no stack")?;
        let creating = stack.stack_status == Some(StackStatus::CreateInProgress);
        if !creating || std::time::Instant::now() > deadline {
            break stack;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    if stack.stack_status != Some(StackStatus::CreateComplete) {
        return Err(format!(
            "the stack is {:?}: {:?}",
            stack.stack_status, stack.stack_status_reason
        ));
    }
    let outputs = stack
        .outputs
        .unwrap_or_default()
        .into_iter()
        .filter_map(|output| Some((output.output_key?, output.output_value?)))
        .collect();
    let listed = cloudformation
        .list_stack_resources()
        .stack_name(name)
        .send()
        .await
        .map_err(|err| format!("ListStackResources: {err}"))?;
    let resources: BTreeMap<String, String> = listed
        .stack_resource_summaries()
        .iter()
        .filter_map(|resource| {
            Some((
                resource.logical_resource_id.clone()?,
                resource.physical_resource_id.clone()?,
            ))
        })
        .collect();
    // Moto leaves out a type it lacks with only a warning in its log: each resource of
    // its copy must be there.
    for logical in plan.template["Resources"].as_object().into_iter().flatten() {
        if !resources.contains_key(logical.0) {
            return Err(format!(
                "moto's CloudFormation did not create {} ({}): mark its type in \
                 tests/src/deployed/moto_lacks.rs",
                logical.0, logical.1["Type"]
            ));
        }
    }
    Ok((resources, outputs))
}

/// `AWS::SecretsManager::Secret` through Secrets Manager's API, named as CloudFormation
/// names it (`LogicalId-suffix`, here after the stack).
async fn secret(
    client: &aws_sdk_secretsmanager::Client,
    stack: &str,
    logical: &str,
    properties: &Value,
) -> Result<Made, String> {
    let known = [
        "Description",
        "GenerateSecretString",
        "SecretString",
        "Name",
    ];
    if let Some(unknown) = properties
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, _)| key)
        .find(|key| !known.contains(&key.as_str()))
    {
        return Err(format!(
            "{logical}: test support does not make a secret's {unknown} (moto_lacks.rs)"
        ));
    }
    let name = properties["Name"]
        .as_str()
        .map_or_else(|| format!("{stack}-{logical}"), str::to_owned);
    let mut create = client.create_secret().name(&name);
    if let Some(description) = properties["Description"].as_str() {
        create = create.description(description.trim());
    }
    if let Some(value) = properties["SecretString"].as_str() {
        create = create.secret_string(value);
    }
    let generate = &properties["GenerateSecretString"];
    if generate.is_object() {
        let flag = |key: &str| generate[key].as_bool();
        let password = client
            .get_random_password()
            .set_password_length(generate["PasswordLength"].as_i64())
            .set_exclude_characters(generate["ExcludeCharacters"].as_str().map(str::to_owned))
            .set_exclude_punctuation(flag("ExcludePunctuation"))
            .set_exclude_numbers(flag("ExcludeNumbers"))
            .set_exclude_uppercase(flag("ExcludeUppercase"))
            .set_exclude_lowercase(flag("ExcludeLowercase"))
            .set_include_space(flag("IncludeSpace"))
            .set_require_each_included_type(flag("RequireEachIncludedType"))
            .send()
            .await
            .map_err(|err| format!("{logical}: GetRandomPassword: {err}"))?
            .random_password
            .unwrap_or_default();
        let value = match (
            generate["SecretStringTemplate"].as_str(),
            generate["GenerateStringKey"].as_str(),
        ) {
            (Some(template), Some(key)) => {
                let mut object: Value = serde_json::from_str(template)
                    .map_err(|err| format!("{logical}: SecretStringTemplate: {err}"))?;
                object[key] = Value::String(password);
                object.to_string()
            }
            _ => password,
        };
        create = create.secret_string(value);
    }
    let arn = create
        .send()
        .await
        .map_err(|err| format!("{logical}: CreateSecret: {err}"))?
        .arn
        .ok_or_else(|| format!("{logical}: CreateSecret answered no ARN"))?;
    Ok(Made {
        reference: arn.clone(),
        attributes: BTreeMap::from([("Id".to_owned(), arn)]),
    })
}

/// The state machine `arn` again, through Step Functions' API, where moto executes it
/// (see [`moto_lacks::Adaptation::InlineDefinition`]): same name, so same ARN.
async fn state_machine(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    definition: &str,
    role: &str,
) -> Result<(), String> {
    let name = arn
        .rsplit_once(":stateMachine:")
        .map(|(_, name)| name)
        .ok_or_else(|| format!("{arn} is not a state machine ARN"))?;
    let created = sfn
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(role)
        .send()
        .await
        .map_err(|err| format!("CreateStateMachine {name}: {err}"))?;
    if created.state_machine_arn != arn {
        return Err(format!(
            "Step Functions made {} for the stack's {arn}",
            created.state_machine_arn
        ));
    }
    Ok(())
}

/// `AWS::Lambda::Url` through Lambda's API (`CreateFunctionUrlConfig`).
async fn function_url(
    client: &aws_sdk_lambda::Client,
    logical: &str,
    properties: &Value,
) -> Result<Made, String> {
    let target = properties["TargetFunctionArn"]
        .as_str()
        .ok_or_else(|| format!("{logical}: no TargetFunctionArn"))?;
    let auth = properties["AuthType"].as_str().unwrap_or("AWS_IAM");
    let created = client
        .create_function_url_config()
        .function_name(target)
        .auth_type(aws_sdk_lambda::types::FunctionUrlAuthType::from(auth))
        .set_qualifier(properties["Qualifier"].as_str().map(str::to_owned))
        .send()
        .await
        .map_err(|err| format!("{logical}: CreateFunctionUrlConfig: {err}"))?;
    Ok(Made {
        reference: created.function_arn.clone(),
        attributes: BTreeMap::from([
            ("FunctionArn".to_owned(), created.function_arn),
            ("FunctionUrl".to_owned(), created.function_url),
        ]),
    })
}
