"""Checks template.yaml offline: cfn-lint on the template, then, for the default queues and for
two queues, the language extensions (Fn::ForEach) and the SAM transform to plain
CloudFormation (what CloudFormation deploys) and cfn-lint again on the result, which catches
errors inside AWS::Serverless::Function that cfn-lint alone misses. Each expansion must give
every configured queue its queue, dead-letter queue, alarm and executor mapping."""

import copy
import json
import os
import pathlib
import subprocess
import sys
import tempfile

from cfnlint.decode import decode_str
from cfnlint.template import Template
from cfnlint.template.transforms._language_extensions import language_extension
from samtranslator.translator.transform import transform

# (Queues parameter, the queues and maximum concurrencies it must produce)
QUEUE_CONFIGURATIONS = [
    (None, {"default": 20}),
    ("default:20,reports:5", {"default": 20, "reports": 5}),
]


class NoManagedPolicies:
    """The template names no AWS managed policies, so none need looking up (no network)."""

    def load(self):
        return {}


def lint(path):
    cfn_lint = str(pathlib.Path(sys.executable).with_name("cfn-lint"))
    result = subprocess.run([cfn_lint, "--", path], capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout + result.stderr)
    return result.returncode == 0


def resolve(value, resources):
    """The literal a property holds, following the few intrinsics the template uses:
    Fn::Select over Fn::Split, Fn::Sub of parameters, and a queue's Arn or Ref (its name)."""
    if isinstance(value, dict) and "Fn::Select" in value:
        index, source = value["Fn::Select"]
        separator, text = source["Fn::Split"]
        return resolve(text, resources).split(separator)[int(index)]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return resolve(resources[value["Fn::GetAtt"][0]]["Properties"]["QueueName"], resources)
    if isinstance(value, dict) and "Fn::Sub" in value:
        text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
        for name, inner in variables.items():
            text = text.replace("${%s}" % name, str(resolve(inner, resources)))
        text = text.replace("${QueuePrefix}", "nextdue-")
        for logical, resource in resources.items():
            if resource["Type"] == "AWS::SQS::Queue":
                for reference in ("${%s.Arn}" % logical, "${%s.QueueName}" % logical, "${%s}" % logical):
                    if reference in text:
                        text = text.replace(reference, resolve(resource["Properties"]["QueueName"], resources))
        return text
    return value


def check_queues(translated, expected):
    """Every expected queue has its queue, dead-letter queue, alarm and executor mapping."""
    resources = translated["Resources"]
    queues = {resolve(r["Properties"]["QueueName"], resources): n
              for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    mappings = {}
    for r in resources.values():
        executor = r["Properties"].get("FunctionName") == {"Ref": "ExecutorFunction"}
        if r["Type"] == "AWS::Lambda::EventSourceMapping" and executor:
            name = resolve(r["Properties"]["EventSourceArn"], resources)
            mappings[name] = int(resolve(r["Properties"]["ScalingConfig"]["MaximumConcurrency"], resources))
    alarms = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    problems = []
    for name, concurrency in expected.items():
        for queue in (f"nextdue-{name}", f"nextdue-{name}-dlq"):
            if queue not in queues:
                problems.append(f"no queue {queue}")
        if mappings.get(f"nextdue-{name}") != concurrency:
            problems.append(f"queue {name}: mapping concurrency {mappings.get(f'nextdue-{name}')}, wanted {concurrency}")
    if len(mappings) != len(expected):
        problems.append(f"{len(mappings)} queue mappings for {len(expected)} queues")
    # One dead-letter alarm a queue, plus the stream-failure and failure-rate alarms.
    if len(alarms) != len(expected) + 2:
        problems.append(f"{len(alarms)} alarms for {len(expected)} queues")
    return problems


def main():
    # The transform fills in pseudo parameters (AWS::Region) from the environment; no call is made.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("SAM_CLI_TELEMETRY", "0")
    template_path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    ok = lint(template_path)
    with open(template_path) as f:
        template, errors = decode_str(f.read())
    if errors:
        print(errors)
        sys.exit(1)
    for queues, expected in QUEUE_CONFIGURATIONS:
        parameters = {"QueuePrefix": "nextdue-"} | ({"Queues": queues} if queues else {})
        # Fn::ForEach, expanded as cfn-lint does (it keeps the intrinsics inside the loops).
        configured = copy.deepcopy(template)
        if queues:
            configured["Parameters"]["Queues"]["Default"] = queues
        matches, expanded = language_extension(Template(template_path, configured, ["us-east-1"]))
        if matches:
            print(matches)
            sys.exit(1)
        expanded = json.loads(json.dumps(expanded))
        expanded["Transform"] = "AWS::Serverless-2016-10-31"
        # As `sam package` would: local code becomes an S3 object.
        expanded.get("Globals", {}).get("Function", {})["CodeUri"] = "s3://nextdue-artifacts/nextdue.zip"
        translated = transform(expanded, parameters, NoManagedPolicies())
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
            json.dump(translated, out, indent=1)
        clean = lint(out.name)
        problems = check_queues(translated, expected)
        for problem in problems:
            print(f"template with Queues={queues or 'default'}: {problem}")
        ok = ok and clean and not problems
        functions = [n for n, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
        mappings = [n for n, r in translated["Resources"].items() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
        print(f"template, Queues={queues or 'default (default:20)'}: {len(functions)} functions, "
              f"{len(mappings)} event source mappings, {len(translated['Resources'])} resources after "
              f"the transforms: {'clean' if clean and not problems else 'FAILED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
