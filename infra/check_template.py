"""Checks template.yaml offline: cfn-lint on the template, then the SAM transform to plain
CloudFormation (what `sam deploy` submits) and cfn-lint again on the result, which catches
errors inside AWS::Serverless::Function that cfn-lint alone misses."""

import json
import os
import subprocess
import sys
import tempfile

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no AWS managed policies, so none need looking up (no network)."""

    def load(self):
        return {}


def lint(path):
    cfn_lint = str(__import__("pathlib").Path(sys.executable).with_name("cfn-lint"))
    result = subprocess.run([cfn_lint, "--", path], capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout + result.stderr)
    return result.returncode == 0


def main():
    # The transform fills in pseudo parameters (AWS::Region) from the environment; no call is made.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template_path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    ok = lint(template_path)
    with open(template_path) as f:
        template = yaml_parse(f.read())
    # As `sam package` would: local code becomes an S3 object.
    template.get("Globals", {}).get("Function", {})["CodeUri"] = "s3://nextdue-artifacts/nextdue.zip"
    translated = transform(template, {}, NoManagedPolicies())
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(translated, out, indent=1)
    ok = lint(out.name) and ok
    functions = [n for n, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
    mappings = [n for n, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    print(f"template: {len(functions)} functions, {len(mappings)} event source mappings, "
          f"{len(translated['Resources'])} resources after the SAM transform: {'clean' if ok else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
