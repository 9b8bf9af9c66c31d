"""The deploy-time base image check in the template: one resource per stack listing the stack's base
images, every checked ImageVersion after it, its function's role reading exactly those repositories,
and the opt-out."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import deploy_sim
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from constructs_lib import BaseImage, Image, base_image_check
from constructs_lib.provider import function_code_directory

ACCOUNT = "111122223333"
URI = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/base:1"
DIGEST_URI = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/other@sha256:" + "ab" * 32


def resources(stack: cdk.Stack, kind: str) -> dict[str, Any]:
    return dict(Template.from_stack(stack).find_resources(kind))


def check_of(stack: cdk.Stack) -> tuple[str, dict[str, Any]]:
    ((logical_id, check),) = resources(stack, base_image_check.RESOURCE_TYPE).items()
    return logical_id, check


def test_each_version_waits_for_the_one_check_of_its_stack(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="team-image")
    v1 = image.add_version("V1", base_image=BaseImage.from_uri(URI))
    v2 = image.add_version("V2", base_image=BaseImage.from_uri(DIGEST_URI))
    check_id, check = check_of(stack)
    listed = check["Properties"]["Images"]
    assert [entry["ImageUri"] for entry in listed] == [URI, DIGEST_URI]
    assert len({entry["Key"] for entry in listed}) == 2
    versions = resources(stack, "AWS::SageMaker::ImageVersion")
    for version in (v1, v2):
        assert check_id in versions[stack.get_logical_id(version.resource)]["DependsOn"]
    # The digest is the check's answer for that version: a GetAtt on it.
    key = listed[0]["Key"]
    assert stack.resolve(v1.base_image_digest) == {"Fn::GetAtt": [check_id, f"Digest{key}"]}


def test_versions_of_one_base_image_share_its_entry_and_its_digest(stack: cdk.Stack) -> None:
    """One URI is checked once: each version of it waits for the one entry and answers its digest."""
    image = Image(stack, "Image", image_name="team-image")
    other = Image(stack, "Other", image_name="other-image")
    v1 = image.add_version("V1", base_image=BaseImage.from_uri(URI))
    v2 = image.add_version("V2", base_image=BaseImage.from_uri(DIGEST_URI))
    v3 = other.add_version("V1", base_image=BaseImage.from_uri(URI))
    check_id, check = check_of(stack)
    assert [entry["ImageUri"] for entry in check["Properties"]["Images"]] == [URI, DIGEST_URI]
    versions = resources(stack, "AWS::SageMaker::ImageVersion")
    assert check_id in versions[stack.get_logical_id(v3.resource)]["DependsOn"]
    assert stack.resolve(v3.base_image_digest) == stack.resolve(v1.base_image_digest)
    assert stack.resolve(v2.base_image_digest) != stack.resolve(v1.base_image_digest)


def test_a_uri_keeps_its_key_wherever_its_version_is_declared() -> None:
    """The key is the URI's, not the version's: renaming or moving a version keeps its answer's
    attribute. A token URI, whose text changes between synths, is keyed by what it resolves to."""
    keys = []
    for image_id, version_id in (("Image", "V1"), ("Renamed", "Other")):
        stack = cdk.Stack(cdk.App(), "Stack")
        image = Image(stack, image_id, image_name="team-image")
        image.add_version(version_id, base_image=BaseImage.from_uri(URI))
        keys.append(check_of(stack)[1]["Properties"]["Images"][0]["Key"])
    assert keys[0] == keys[1]

    def token_keys(version_id: str, *tags: str, tokens_before: int = 0) -> list[str]:
        stack = cdk.Stack(cdk.App(), "Stack")
        for n in range(tokens_before):  # tokens made first: the URI token's text moves, not its value
            cdk.CfnParameter(stack, f"Unrelated{n}").value_as_string  # noqa: B018
        repository = ecr.Repository(stack, "Repo")
        image = Image(stack, "Image", image_name="team-image")
        for n, tag in enumerate(tags):
            image.add_version(f"{version_id}{n}", base_image=BaseImage.from_ecr_repository(repository, tag))
        return [str(entry["Key"]) for entry in check_of(stack)[1]["Properties"]["Images"]]

    # Two versions on one token URI share one entry; another tag is another; a rename moves nothing.
    (shared,) = token_keys("V", "v1", "v1")
    assert token_keys("Renamed", "v1", "v2", tokens_before=3) == [shared, token_keys("X", "v2")[0]]
    assert shared != token_keys("X", "v2")[0]


def test_the_function_may_read_exactly_the_repositories_the_versions_use(stack: cdk.Stack) -> None:
    repository = ecr.Repository(stack, "Repo")
    image = Image(stack, "Image", image_name="team-image")
    image.add_version("V1", base_image=BaseImage.from_uri(URI))
    image.add_version("V2", base_image=BaseImage.from_uri(URI.replace(":1", ":2")))  # same repository
    image.add_version("V3", base_image=BaseImage.from_ecr_repository(repository, "v3"))
    image.add_version("V4", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.3"))
    provider = base_image_check._BaseImageCheckProvider.of(stack)
    role_id = stack.get_logical_id(provider.role.node.default_child)  # type: ignore[arg-type]
    statements = [
        statement
        for policy in resources(stack, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if not statement["Action"][0].startswith("logs:")
    ]
    (statement,) = statements
    assert sorted(statement["Action"]) == sorted(base_image_check.ECR_ACTIONS)
    granted = [json.dumps(r, sort_keys=True) for r in statement["Resource"]]
    assert len(granted) == 3  # team/base once, the stack's repository, the DLC registry's
    assert "*" not in json.dumps(statement["Resource"]).replace("/*", "")
    assert any("repository/team/base" in g for g in granted)
    assert any("pytorch-training" in g for g in granted)


def test_the_opt_out_removes_the_version_from_the_check(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="team-image")
    checked = image.add_version("V1", base_image=BaseImage.from_uri(URI))
    skipped = image.add_version("V2", base_image=BaseImage.from_uri(DIGEST_URI), check_base_image=False)
    check_id, check = check_of(stack)
    assert [entry["ImageUri"] for entry in check["Properties"]["Images"]] == [URI]
    versions = resources(stack, "AWS::SageMaker::ImageVersion")
    assert check_id in versions[stack.get_logical_id(checked.resource)]["DependsOn"]
    assert check_id not in versions[stack.get_logical_id(skipped.resource)].get("DependsOn", [])
    assert skipped.base_image_digest is None


def test_no_check_and_no_function_when_every_version_opts_out(stack: cdk.Stack) -> None:
    image = Image(stack, "Image", image_name="team-image")
    image.add_version("V1", base_image=BaseImage.from_uri(URI), check_base_image=False)
    assert resources(stack, base_image_check.RESOURCE_TYPE) == {}
    assert resources(stack, "AWS::Lambda::Function") == {}


def test_a_token_uri_of_an_unknown_repository_is_not_checked(stack: cdk.Stack) -> None:
    uri = cdk.CfnParameter(stack, "BaseImageUri").value_as_string
    version = Image(stack, "Image", image_name="team-image").add_version(
        "V1", base_image=BaseImage.from_uri(uri)
    )
    assert resources(stack, base_image_check.RESOURCE_TYPE) == {}
    assert version.base_image_digest is None


def test_the_check_passes_aws_solutions(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = cdk.Stack(app, "Stack")
    image = Image(stack, "Image", image_name="team-image")
    image.add_version("V1", base_image=BaseImage.from_uri(URI))
    app.synth()  # raises on an unacknowledged finding
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert plugin["conclusion"] == "success"
    suppressed = [f["ruleName"] for f in plugin.get("suppressedViolations", [])]
    assert suppressed == ["AwsSolutions-IAM5[Resource::*]"]  # the image role's GetAuthorizationToken only


def test_the_function_asset_stays_under_100_kib() -> None:
    staged = Path(function_code_directory("base_image_check"))
    size = sum(path.stat().st_size for path in staged.rglob("*") if path.is_file())
    assert (staged / "index.py").is_file() and (staged / "custom_resource.py").is_file()
    assert size < 100 * 1024, size


@pytest.mark.parametrize("check", [True, False])
def test_add_version_takes_the_option(stack: cdk.Stack, check: bool) -> None:
    image = Image(stack, "Image", image_name="team-image")
    version = image.add_version("V1", base_image=BaseImage.from_uri(URI), check_base_image=check)
    assert (version.base_image_digest is not None) is check


def test_more_versions_than_one_answer_holds_spread_over_more_check_resources(stack: cdk.Stack) -> None:
    """CloudFormation takes an answer of 4,096 bytes: 30 digests a resource."""
    image = Image(stack, "Image", image_name="team-image")
    versions = [
        image.add_version(f"V{n}", base_image=BaseImage.from_uri(URI.replace(":1", f":{n}")))
        for n in range(31)
    ]
    checks = resources(stack, base_image_check.RESOURCE_TYPE)
    assert sorted(len(c["Properties"]["Images"]) for c in checks.values()) == [1, 30]
    (second,) = [k for k, c in checks.items() if len(c["Properties"]["Images"]) == 1]
    last = resources(stack, "AWS::SageMaker::ImageVersion")[stack.get_logical_id(versions[-1].resource)]
    assert second in last["DependsOn"]


# --- contract: the construct and lambda/base_image_check/index.py agree ---------------------------

HANDLER = Path(__file__).resolve().parents[1] / "lambda" / "base_image_check" / "index.py"


def load_handler() -> ModuleType:
    """The handler, by path (``lambda`` is a keyword), with ``lambda/shared`` importable as in Lambda."""
    return deploy_sim.load_handler(HANDLER.parent, "base_image_check_handler_contract")


def test_contract_the_role_may_call_exactly_what_the_handler_calls() -> None:
    handler = load_handler()
    assert tuple(handler.ECR_ACTIONS) == tuple(base_image_check.ECR_ACTIONS)


def test_contract_the_function_outlives_the_handlers_budget_by_its_margin(stack: cdk.Stack) -> None:
    handler = load_handler()
    shared = sys.modules["custom_resource"]
    expected = handler.MAX_SECONDS + shared.SAFETY_MARGIN_SECONDS
    assert base_image_check.FUNCTION_TIMEOUT.to_seconds() == expected
    Image(stack, "Image", image_name="team-image").add_version("V1", base_image=BaseImage.from_uri(URI))
    (function,) = resources(stack, "AWS::Lambda::Function").values()
    assert function["Properties"]["Timeout"] == expected
    # CloudFormation waits for the answer longer than the function can run.
    _, check = check_of(stack)
    assert int(check["Properties"]["ServiceTimeout"]) >= expected


class Resolver(deploy_sim.Resolver):
    """deploy_sim's, with an ECR repository's Ref and Arn as CloudFormation gives them."""

    def ref(self, rid: str) -> Any:
        resource = self.resources.get(rid, {})
        if resource.get("Type") == "AWS::ECR::Repository":
            return self.resolve(resource["Properties"]["RepositoryName"])
        return super().ref(rid)

    def get_att(self, rid: str, attribute: str) -> Any:
        if self.resources[rid]["Type"] == "AWS::ECR::Repository" and attribute == "Arn":
            region, account = self.pseudo["AWS::Region"], self.pseudo["AWS::AccountId"]
            return f"arn:aws:ecr:{region}:{account}:repository/{self.ref(rid)}"
        return super().get_att(rid, attribute)


def test_contract_the_handler_accepts_what_the_construct_renders(stack_in: Any) -> None:
    """The template's properties, resolved and stringified as CloudFormation sends them, pass the
    handler's own parsing: every Key and every ImageUri (a literal, an app repository's, a DLC's)."""
    stack = stack_in("eu-west-1")
    image = Image(stack, "Image", image_name="team-image")
    versions = [
        image.add_version("V1", base_image=BaseImage.from_uri(URI)),
        image.add_version("V2", base_image=BaseImage.from_uri(DIGEST_URI)),
        image.add_version(
            "V3",
            base_image=BaseImage.from_ecr_repository(
                ecr.Repository(stack, "R", repository_name="team/app"), "v3"
            ),
        ),
        image.add_version("V4", base_image=BaseImage.from_deep_learning_container("pytorch-training", "2.3")),
    ]
    template = Template.from_stack(stack).to_json()
    check_id, _ = check_of(stack)
    resolver = Resolver(template)
    sent = deploy_sim.as_strings(resolver.resolve(template["Resources"][check_id]["Properties"]))
    parsed = load_handler().parse(sent)
    assert len(parsed) == len(versions)
    assert [parsed[entry["Key"]].uri for entry in sent["Images"]] == [e["ImageUri"] for e in sent["Images"]]
    assert parsed[sent["Images"][0]["Key"]].uri == URI
    # Each version's digest names the answer's Data key the handler writes: Digest<Key>.
    for version, entry in zip(versions, sent["Images"], strict=True):
        assert stack.resolve(version.base_image_digest) == {"Fn::GetAtt": [check_id, f"Digest{entry['Key']}"]}
