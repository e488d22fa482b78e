"""Plays `sam package` and the Serverless transform for tests: uploads a placeholder
code zip and each local `DefinitionUri` to S3 (the moto server), points the template at
them, and translates it with the SAM translator (aws-sam-translator, pinned in
requirements-dev.txt) into plain CloudFormation, printed as JSON on stdout.

Usage: sam_package.py TEMPLATE ENDPOINT BUCKET PREFIX PARAMETERS_JSON
(PREFIX keeps the objects of stacks created at once apart.)
Managed policy names resolve against the endpoint's IAM, as `sam deploy` resolves them
against the account's.
"""

import json
import os
import sys
import io
import zipfile

import boto3
from cfnlint.decode import decode_str
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

REGION = "us-east-1"
ACCOUNT = "123456789012"


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def placeholder_zip():
    """Lambda needs a zip; moto runs code only in Docker, so the tests run the real
    handlers in-process and this one never runs."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\necho 'placeholder: tests run the handler in-process' >&2\nexit 1\n")
    return buffer.getvalue()


def main():
    # The translator reads the region from the default session, as `sam` does.
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    template_path, endpoint, bucket, prefix, parameters = sys.argv[1:6]
    parameters = json.loads(parameters)
    with open(template_path, encoding="utf-8") as handle:
        template, matches = decode_str(handle.read())
    if template is None:
        sys.exit(f"{template_path} does not parse: {matches}")
    root = os.path.dirname(os.path.abspath(template_path))
    s3 = client("s3", endpoint)
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    code_key = f"{prefix}/code/placeholder.zip"
    s3.put_object(Bucket=bucket, Key=code_key, Body=placeholder_zip())
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = f"s3://{bucket}/{code_key}"
        if kind == "AWS::Serverless::StateMachine" and isinstance(properties.get("DefinitionUri"), str):
            key = f"{prefix}/definitions/{name}.json"
            with open(os.path.join(root, properties["DefinitionUri"]), "rb") as definition:
                s3.put_object(Bucket=bucket, Key=key, Body=definition.read())
            properties["DefinitionUri"] = {"Bucket": bucket, "Key": key}
    values = dict(parameters)
    values.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"})
    loader = ManagedPolicyLoader(client("iam", endpoint))
    translated = transform(json.loads(json.dumps(template)), values, loader)
    json.dump(translated, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
