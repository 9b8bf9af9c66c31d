"""Studio attachments at the seams of a real app: the domain in a stack of its own, two stacks on one
target, other environments, what users type, and what the library can know at synth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sm
from aws_cdk import aws_ssm as ssm
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from constructs_lib import (
    AppImageConfig,
    BaseImage,
    ContainerConfig,
    Image,
    ImageVersion,
    KernelGatewayConfig,
    KernelSpec,
    StudioAttachment,
    ValidationError,
    studio,
)

BASE = BaseImage.from_uri("111122223333.dkr.ecr.us-east-1.amazonaws.com/base:1")
DOMAIN = "d-0123abc"
ACCOUNT, OTHER_ACCOUNT = "111122223333", "444455556666"


def domain_of(stack: cdk.Stack) -> sm.CfnDomain:
    role = iam.Role(stack, "Execution", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    return sm.CfnDomain(
        stack,
        "Domain",
        auth_mode="IAM",
        domain_name="team",
        vpc_id="vpc-0123456789abcdef0",
        subnet_ids=["subnet-0123456789abcdef0"],
        default_user_settings=sm.CfnDomain.UserSettingsProperty(execution_role=role.role_arn),
    )


# --- across stacks: routine changes must deploy ----------------------------------------------------------

# What changes between two deploys of an app whose domain is in a platform stack of its own.
CHANGES = {
    "move a pin": ({"pin": 1}, {"pin": 2}),
    "remove an attachment": ({"pin": 1}, {"attach": False}),
    "add a version": ({}, {"versions": 3}),
    "attach a second image": ({}, {"second": True}),
    "unpin": ({"pin": 2}, {}),
}


def platform_app(outdir: Path, *, platform_first: bool, pin: int | None = None, attach: bool = True,
                 versions: int = 2, second: bool = False, team: str = "Images",
                 keep_export: bool = True) -> dict[str, Any]:  # fmt: skip
    """The stacks' templates, exports and imports, and their deploy order, as the assembly has them.

    ``keep_export``: the platform exports its domain's id and execution role's ARN itself, as the README
    advises, so that the team's last attachment can go without CloudFormation refusing to delete an
    export still imported.
    """
    app = cdk.App(outdir=str(outdir))
    made: dict[str, Any] = {}

    def platform() -> None:
        made["platform"] = cdk.Stack(app, "Platform")
        made["domain"] = domain_of(made["platform"])
        if keep_export:  # what the team's stack imports: the domain's id and its execution role's ARN
            made["platform"].export_value(made["domain"].attr_domain_id)
            role = made["platform"].node.find_child("Execution")
            made["platform"].export_value(role.role_arn)  # type: ignore[attr-defined]

    if platform_first:
        platform()
    images = cdk.Stack(app, team)
    if not platform_first:
        platform()
    image = Image(images, "Image", image_name="team-image")
    for n in range(1, versions + 1):
        image.add_version(f"V{n}", base_image=BASE)
    lab = AppImageConfig(images, "Lab", jupyter_lab=ContainerConfig())
    if attach:
        StudioAttachment(
            images, "Attach", image=image, app_image_config=lab, version=pin, domain=made["domain"]
        )
    if second:
        other = Image(images, "Other", image_name="other-image")
        other.add_version("V1", base_image=BASE)
        StudioAttachment(images, "AttachOther", image=other, app_image_config=lab, domain=made["domain"])
    assembly = app.synth()
    stacks = {s.stack_name: s for s in assembly.stacks}
    order = [s.stack_name for s in _deploy_order(assembly.stacks)]
    if team != "Images":
        stacks["Images"] = stacks.pop(team)
        order = ["Images" if name == team else name for name in order]
    dependencies = {
        name: [d.id for d in s.dependencies if not d.id.endswith(".assets")] for name, s in stacks.items()
    }
    return {
        "templates": {name: s.template for name, s in stacks.items()},
        "order": order,
        "dependencies": dependencies,
    }


def _deploy_order(stacks: list[Any]) -> list[Any]:
    """The assembly's order, each stack after those it depends on (as `cdk deploy --all` runs them)."""
    done: list[Any] = []
    pending = list(stacks)
    ids = {s.id for s in stacks}
    while pending:
        ready = next(s for s in pending if {d.id for d in s.dependencies} & ids <= {x.id for x in done})
        done.append(ready)
        pending.remove(ready)
    return done


def exports(template: dict[str, Any]) -> set[str]:
    return {
        json.dumps(output["Export"]["Name"], sort_keys=True)
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    }


def imports(node: Any) -> set[str]:
    if isinstance(node, dict):
        if "Fn::ImportValue" in node:
            return {json.dumps(node["Fn::ImportValue"], sort_keys=True)}
        return set().union(*(imports(value) for value in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(imports(value) for value in node)) if node else set()
    return set()


def refused_exports(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What CloudFormation would refuse when deploying ``after`` over ``before``, stack by stack in the
    assembly's order: an exporting stack deleting an export that a stack deployed after it (so still at
    its "before" template) imports."""
    refused = []
    order = after["order"]
    for position, exporter in enumerate(order):
        gone = exports(before["templates"].get(exporter, {})) - exports(after["templates"][exporter])
        for importer in order[position + 1 :]:
            still_imported = imports(before["templates"].get(importer, {})) & gone
            refused += [f"{exporter} deletes {name}, imported by {importer}" for name in still_imported]
    return refused


@pytest.mark.parametrize(
    "team", ["Images", "TeamImages"], ids=["team before platform", "team after platform"]
)
@pytest.mark.parametrize("platform_first", [True, False], ids=["platform declared first", "images first"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_routine_changes_deploy_with_the_domain_in_a_platform_stack(
    tmp_path: Path, change: str, platform_first: bool, team: str
) -> None:
    """The assembly orders stacks that do not depend on each other by name, not by declaration: both
    names are tried, so that the platform deploys before and after the team's stack."""
    old, new = CHANGES[change]
    before = platform_app(tmp_path / "before", platform_first=platform_first, team=team, **old)
    after = platform_app(tmp_path / "after", platform_first=platform_first, team=team, **new)
    assert refused_exports(before, after) == []
    # The team's stack deploys after the platform whose domain it lists images in, by reference to the
    # domain's id: the natural direction. The platform stack depends on nothing of the team's, and its
    # domain lists none of the team's images (its own updates would drop them; the ledger puts them back).
    attached = new.get("attach", True) or new.get("second")
    assert after["dependencies"] == {"Platform": [], "Images": ["Platform"] if attached else []}
    if attached:
        assert after["order"].index("Platform") < after["order"].index("Images")
    domain = next(
        r
        for r in after["templates"]["Platform"]["Resources"].values()
        if r["Type"] == "AWS::SageMaker::Domain"
    )
    assert "JupyterLabAppSettings" not in domain["Properties"]["DefaultUserSettings"]
    carried = [
        r for r in after["templates"]["Images"]["Resources"].values() if r["Type"] == studio.RESOURCE_TYPE
    ]
    if attached:
        (resource,) = carried
        assert "Fn::ImportValue" in resource["Properties"]["DomainId"]
        listed = resource["Properties"]["CustomImages"]
        assert all(isinstance(entry["ImageName"], str) for entry in listed)  # literal names
    else:
        assert carried == []


def test_a_team_stack_that_uses_a_platform_output_attaches_to_its_domain_without_a_cycle(
    app: cdk.App,
) -> None:
    """The issue's DependencyCycle: the team uses the platform's repository and lists images in its
    domain. `cdk destroy Team` then takes only the team's stack: nothing depends on it. cdk-nag passes:
    the ledger's records below a domain id imported from the platform, and the read grant on the
    platform's role (an import), are acknowledged where they are."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    platform = cdk.Stack(app, "Platform")
    domain = domain_of(platform)
    repository = ecr.Repository(platform, "Base")
    team = cdk.Stack(app, "Team")
    image = Image(team, "Image", image_name="team-image")
    image.add_version("V1", base_image=BaseImage.from_ecr_repository(repository, tag="1"))
    lab = AppImageConfig(team, "Lab", jupyter_lab=ContainerConfig())
    image.attach_to_studio("Attach", app_image_config=lab, domain=domain)
    assembly = app.synth()  # raises on any unacknowledged cdk-nag finding
    dependencies = {s.stack_name: [d.id for d in s.dependencies if not d.id.endswith(".assets")]
                    for s in assembly.stacks}  # fmt: skip
    assert dependencies == {"Platform": [], "Team": ["Platform"]}
    # The execution role's read grant is the team's own policy, attached to the platform's role.
    policies = Template.from_stack(team).find_resources("AWS::IAM::Policy")
    granted = [
        p for p in policies.values()
        if "sagemaker:DescribeImageVersion" in json.dumps(p["Properties"]["PolicyDocument"])
    ]  # fmt: skip
    (grant,) = granted
    assert "Fn::ImportValue" in json.dumps(grant["Properties"]["Roles"])
    assert "sagemaker:DescribeAppImageConfig" in json.dumps(grant["Properties"]["PolicyDocument"])
    assert Template.from_stack(platform).find_resources("AWS::IAM::Policy") == {}


def test_the_last_attachment_can_go_only_while_the_platform_keeps_its_export(tmp_path: Path) -> None:
    """Without the platform's own export_value, removing the team's last attachment to its domain
    deletes the export while the team's stack, deployed after the platform, still imports it."""

    def removal(keep_export: bool) -> list[str]:
        before = platform_app(tmp_path / f"b{keep_export}", platform_first=True, team="TeamImages",
                              keep_export=keep_export)  # fmt: skip
        after = platform_app(tmp_path / f"a{keep_export}", platform_first=True, team="TeamImages",
                             keep_export=keep_export, attach=False)  # fmt: skip
        assert after["order"] == ["Platform", "Images"]
        return refused_exports(before, after)

    assert removal(keep_export=False) != []
    assert removal(keep_export=True) == []


def test_the_export_check_sees_an_export_that_a_routine_change_deletes(tmp_path: Path) -> None:
    """The oracle above is real: a name read as an attribute across stacks is an export, and removing
    the attachment deletes it while the platform stack still imports it."""

    def build(outdir: Path, attach: bool) -> dict[str, Any]:
        app = cdk.App(outdir=str(outdir))
        images = cdk.Stack(app, "Images")
        platform = cdk.Stack(app, "Platform")
        lab = AppImageConfig(images, "Lab", jupyter_lab=ContainerConfig())
        cdk.CfnOutput(platform, "Uses", value=lab.app_image_config_name) if attach else None
        assembly = app.synth()
        templates = {s.stack_name: s.template for s in assembly.stacks}
        return {"templates": templates, "order": [s.stack_name for s in _deploy_order(assembly.stacks)]}

    refused = refused_exports(build(tmp_path / "a", True), build(tmp_path / "b", False))
    assert len(refused) == 1 and "imported by Platform" in refused[0]


def test_a_pinned_version_of_another_stack_is_a_validation_error_naming_the_choices(app: cdk.App) -> None:
    platform = cdk.Stack(app, "Platform")
    domain = domain_of(platform)
    images = cdk.Stack(app, "Images")
    image = Image(images, "Image", image_name="team-image")
    v1 = image.add_version("V1", base_image=BASE)
    lab = AppImageConfig(images, "Lab", jupyter_lab=ContainerConfig())
    with pytest.raises(ValidationError) as error:  # made in the domain's stack, which carries the entry
        StudioAttachment(platform, "Attach", image=image, app_image_config=lab, version=v1, domain=domain)
    message = str(error.value)
    assert "'Platform/Attach'" in message and "Images/Image/V1" in message
    for choice in ("version=<n>", "leave version out", "in the version's stack"):
        assert choice in message


def test_a_pinned_version_in_the_targets_stack_is_referenced_as_before(app: cdk.App) -> None:
    stack = cdk.Stack(app, "One")
    domain = domain_of(stack)
    image = Image(stack, "Image", image_name="team-image")
    v1 = image.add_version("V1", base_image=BASE)
    lab = AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig())
    StudioAttachment(stack, "Attach", image=image, app_image_config=lab, version=v1, domain=domain)
    entry = Template.from_stack(stack).find_resources("AWS::SageMaker::Domain")
    (domain_resource,) = entry.values()
    (listed,) = domain_resource["Properties"]["DefaultUserSettings"]["JupyterLabAppSettings"]["CustomImages"]
    assert listed["ImageVersionNumber"] == {"Fn::GetAtt": [stack.get_logical_id(v1.resource), "Version"]}


# --- the same entry from two stacks ----------------------------------------------------------------------


def test_the_same_image_on_one_existing_target_from_two_stacks_is_refused(app: cdk.App) -> None:
    first, second = cdk.Stack(app, "First"), cdk.Stack(app, "Second")
    image_a = Image.from_image_name(first, "Image", "team-image")
    image_b = Image.from_image_name(second, "Image", "team-image")
    lab_a = AppImageConfig.from_app_image_config_name(first, "Lab", "lab", "JupyterLab")
    lab_b = AppImageConfig.from_app_image_config_name(second, "Lab", "lab", "JupyterLab")
    StudioAttachment(first, "Attach", image=image_a, app_image_config=lab_a, domain=DOMAIN)
    with pytest.raises(ValidationError) as error:
        StudioAttachment(second, "Attach", image=image_b, app_image_config=lab_b, domain=DOMAIN)
    assert "'Second/Attach'" in str(error.value) and "'First/Attach'" in str(error.value)
    assert "'team-image'" in str(error.value)
    # Another target, or another app type, is another entry.
    StudioAttachment(
        second, "Alice", image=image_b, app_image_config=lab_b, domain=DOMAIN, user_profile="alice"
    )


# --- environments -------------------------------------------------------------------------------------


def env_stack(app: cdk.App, id: str, account: str | None, region: str | None) -> cdk.Stack:
    return cdk.Stack(app, id, env=cdk.Environment(account=account, region=region))


@pytest.mark.parametrize("what", ["image", "app_image_config", "version"])
def test_an_image_config_or_version_of_another_account_is_a_validation_error(app: cdk.App, what: str) -> None:
    home = env_stack(app, "Home", ACCOUNT, "us-east-1")
    away = env_stack(app, "Away", OTHER_ACCOUNT, "us-east-1")
    image = Image(away if what in ("image", "version") else home, "Image", image_name="team-image")
    version = image.add_version("V1", base_image=BASE)
    lab = AppImageConfig(away if what == "app_image_config" else home, "Lab", jupyter_lab=ContainerConfig())
    with pytest.raises(ValidationError) as error:
        StudioAttachment(
            home, "Attach", image=image, app_image_config=lab, version=7 if what != "version" else version,
            domain=DOMAIN,
        )  # fmt: skip
    message = str(error.value)
    assert f"'{OTHER_ACCOUNT}'" in message and f"'{ACCOUNT}'" in message and "'Home'" in message


def test_an_image_imported_from_another_regions_arn_is_a_validation_error(app: cdk.App) -> None:
    home = env_stack(app, "Home", ACCOUNT, "us-east-1")
    image = Image.from_image_arn(home, "Image", f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:image/team-image")
    lab = AppImageConfig(home, "Lab", jupyter_lab=ContainerConfig())
    with pytest.raises(ValidationError, match=r"'eu-west-1'.*'us-east-1'"):
        StudioAttachment(home, "Attach", image=image, app_image_config=lab, domain=DOMAIN)


def test_a_target_of_another_region_is_a_validation_error(app: cdk.App) -> None:
    """The issue's case: image, version and config in us-east-1, the CfnDomain in eu-west-1."""
    images = env_stack(app, "Images", ACCOUNT, "us-east-1")
    platform = env_stack(app, "Platform", ACCOUNT, "eu-west-1")
    domain = domain_of(platform)
    image = Image(images, "Image", image_name="team-image")
    image.add_version("V1", base_image=BASE)
    lab = AppImageConfig(images, "Lab", jupyter_lab=ContainerConfig())
    with pytest.raises(ValidationError) as error:
        StudioAttachment(images, "Attach", image=image, app_image_config=lab, domain=domain)
    message = str(error.value)
    assert "target 'Platform/Domain'" in message and "'eu-west-1'" in message and "'us-east-1'" in message


def test_an_image_of_a_third_stack_with_a_target_in_another_environment_is_refused(app: cdk.App) -> None:
    """Item 18: the image and config in a third stack, the L1 target's stack in another region."""
    images = env_stack(app, "Images", ACCOUNT, "us-east-1")
    platform = env_stack(app, "Platform", ACCOUNT, "eu-west-1")
    profile = sm.CfnUserProfile(platform, "Profile", domain_id=DOMAIN, user_profile_name="alice")
    image = Image(images, "Image", image_name="team-image")
    image.add_version("V1", base_image=BASE)
    lab = AppImageConfig(images, "Lab", jupyter_lab=ContainerConfig())
    with pytest.raises(ValidationError, match=r"'eu-west-1'|'us-east-1'"):
        StudioAttachment(
            platform, "Attach", image=image, app_image_config=lab, domain=DOMAIN, user_profile=profile
        )


def test_a_version_imported_from_another_accounts_arn_is_a_validation_error(app: cdk.App) -> None:
    home = env_stack(app, "Home", ACCOUNT, "us-east-1")
    arn = f"arn:aws:sagemaker:us-east-1:{OTHER_ACCOUNT}:image-version/team-image/3"
    version = ImageVersion.from_image_version_arn(home, "Version", arn)
    lab = AppImageConfig(home, "Lab", jupyter_lab=ContainerConfig())
    image = Image.from_image_name(home, "Image", "team-image")  # this account's image of that name
    with pytest.raises(ValidationError) as error:
        StudioAttachment(home, "Attach", image=image, app_image_config=lab, version=version, domain=DOMAIN)
    message = str(error.value)
    assert "its version 'Home/Version'" in message
    assert f"'{OTHER_ACCOUNT}'" in message and f"'{ACCOUNT}'" in message


def test_unresolved_environments_pass(app: cdk.App) -> None:
    agnostic = cdk.Stack(app, "Agnostic")
    away = env_stack(app, "Away", OTHER_ACCOUNT, "us-east-1")
    image = Image(away, "Image", image_name="team-image")
    image.add_version("V1", base_image=BASE)
    lab = AppImageConfig(agnostic, "Lab", jupyter_lab=ContainerConfig())
    StudioAttachment(agnostic, "Attach", image=image, app_image_config=lab, domain=DOMAIN)


# --- what users type -----------------------------------------------------------------------------------


@pytest.fixture
def kit(app: cdk.App) -> dict[str, Any]:
    stack = cdk.Stack(app, "Stack")
    image = Image(stack, "Image", image_name="team-image")
    return {
        "stack": stack,
        "image": image,
        "version": image.add_version("V1", base_image=BASE),
        "lab": AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig()),
    }


@pytest.mark.parametrize("keyword", ["image", "app_image_config", "domain"])
def test_a_required_keyword_given_none_is_a_validation_error(
    app: cdk.App, kit: dict[str, Any], keyword: str
) -> None:
    given: dict[str, Any] = {"image": kit["image"], "app_image_config": kit["lab"], "domain": DOMAIN}
    # As `domain=app.node.try_get_context("studio_domain_id")` gives it when no -c is passed.
    given[keyword] = app.node.try_get_context("not-given")
    with pytest.raises(ValidationError, match=rf"'Stack/Attach'.*{keyword} is required, got None"):
        StudioAttachment(kit["stack"], "Attach", **given)


@pytest.mark.parametrize(
    ("keyword", "value", "expected"),
    [
        ("version", "2", "an ImageVersion of the image, a version number"),
        ("app_image_config", "my-config", "an IAppImageConfig"),
        ("image", "team-image", "an IImage"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_validation_error(
    kit: dict[str, Any], keyword: str, value: str, expected: str
) -> None:
    given: dict[str, Any] = {"image": kit["image"], "app_image_config": kit["lab"], "domain": DOMAIN}
    given[keyword] = value
    with pytest.raises(ValidationError) as error:
        StudioAttachment(kit["stack"], "Attach", **given)
    message = str(error.value)
    assert f"invalid {keyword} {value!r}" in message and expected in message and "got str" in message


# --- what the library knows at synth -------------------------------------------------------------------


def depends_on(stack: cdk.Stack, resource_type: str) -> list[str]:
    (resource,) = Template.from_stack(stack).find_resources(resource_type).values()
    return list(resource.get("DependsOn", []))


def test_an_unpinned_attachment_waits_for_the_images_last_version(kit: dict[str, Any]) -> None:
    stack = kit["stack"]
    v2 = kit["image"].add_version("V2", base_image=BASE)
    StudioAttachment(stack, "Attach", image=kit["image"], app_image_config=kit["lab"], domain=DOMAIN)
    assert stack.get_logical_id(v2.resource) in depends_on(stack, studio.RESOURCE_TYPE)


def test_a_version_declared_after_the_attachment_is_waited_for_too(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Stack")
    image = Image(stack, "Image", image_name="team-image")
    lab = AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig())
    StudioAttachment(stack, "Attach", image=image, app_image_config=lab, version=3, domain=DOMAIN)
    later = image.add_version("V1", base_image=BASE)
    assert stack.get_logical_id(later.resource) in depends_on(stack, studio.RESOURCE_TYPE)
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp(studio.NO_VERSION_WARNING))


@pytest.mark.parametrize("version", [None, 2], ids=["unpinned", "pinned by number"])
def test_a_version_declared_after_the_attachment_beside_an_earlier_one_is_waited_for(
    app: cdk.App, version: int | None
) -> None:
    """V1, then the attachment (version 2, or the latest), then V2: it must wait for V2, or a first
    deploy could list version 2 before it exists and leave the domain Update_Failed."""
    stack = cdk.Stack(app, "Stack")
    image = Image(stack, "Image", image_name="team-image")
    lab = AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig())
    image.add_version("V1", base_image=BASE)
    StudioAttachment(stack, "Attach", image=image, app_image_config=lab, version=version, domain=DOMAIN)
    domain = domain_of(stack)
    StudioAttachment(stack, "Merged", image=image, app_image_config=lab, version=version, domain=domain)
    v2 = image.add_version("V2", base_image=BASE)
    assert stack.get_logical_id(v2.resource) in depends_on(stack, studio.RESOURCE_TYPE)
    assert stack.get_logical_id(v2.resource) in depends_on(stack, "AWS::SageMaker::Domain")


def test_a_version_in_another_stack_declared_after_the_attachment_orders_the_stacks(app: cdk.App) -> None:
    """The attachment in a team stack of its own waits for the image's last version, wherever it is."""
    images = cdk.Stack(app, "Images")
    image = Image(images, "Image", image_name="team-image")
    lab = AppImageConfig(images, "Lab", jupyter_lab=ContainerConfig())
    image.add_version("V1", base_image=BASE)
    team = cdk.Stack(app, "Team")
    StudioAttachment(team, "Attach", image=image, app_image_config=lab, version=2, domain=DOMAIN)
    later = cdk.Stack(app, "Later")
    ImageVersion(later, "V2", image=image, base_image=BASE)
    dependencies = {s.stack_name: {d.id for d in s.dependencies} for s in app.synth().stacks}
    assert "Later" in dependencies["Team"]


def test_a_pin_by_number_waits_for_that_version_not_later_ones(app: cdk.App) -> None:
    images = cdk.Stack(app, "Images")
    image = Image(images, "Image", image_name="team-image")
    lab = AppImageConfig(images, "Lab", jupyter_lab=ContainerConfig())
    image.add_version("V1", base_image=BASE)
    ImageVersion(cdk.Stack(app, "Later"), "V2", image=image, base_image=BASE)
    team = cdk.Stack(app, "Team")
    StudioAttachment(team, "Attach", image=image, app_image_config=lab, version=1, domain=DOMAIN)
    ImageVersion(cdk.Stack(app, "Latest"), "V3", image=image, base_image=BASE)
    dependencies = {s.stack_name: {d.id for d in s.dependencies} for s in app.synth().stacks}
    assert "Images" in dependencies["Team"]
    assert "Later" not in dependencies["Team"] and "Latest" not in dependencies["Team"]


def test_the_latest_version_of_a_stack_that_deploys_after_the_attachment_is_not_waited_for(
    app: cdk.App,
) -> None:
    """The attachment in the image's stack, a version in a later stack: an unpinned entry lists the
    versions that exist (V1) and waits for no later stack (a cycle); pinned to that version, refused."""
    stack = cdk.Stack(app, "Stack")
    image = Image(stack, "Image", image_name="team-image")
    lab = AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig())
    v1 = image.add_version("V1", base_image=BASE)
    StudioAttachment(stack, "Attach", image=image, app_image_config=lab, domain=DOMAIN)
    StudioAttachment(stack, "Pinned", image=image, app_image_config=lab, version=2, domain="d-other")
    later = cdk.Stack(app, "Later")
    with pytest.raises(ValidationError, match="lists version 2 of image Stack/Image, declared as Later/V2"):
        ImageVersion(later, "V2", image=image, base_image=BASE)
    assert stack.get_logical_id(v1.resource) in depends_on_all(stack, studio.RESOURCE_TYPE)[0]


def depends_on_all(stack: cdk.Stack, resource_type: str) -> list[list[str]]:
    found = Template.from_stack(stack).find_resources(resource_type).values()
    return [list(resource.get("DependsOn", [])) for resource in found]


def test_an_image_without_versions_is_a_warning_with_an_id(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Stack")
    image = Image(stack, "Image", image_name="team-image")
    imported = Image.from_image_name(stack, "Imported", "has-versions")
    lab = AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig())
    StudioAttachment(stack, "Attach", image=image, app_image_config=lab, domain=DOMAIN)
    StudioAttachment(stack, "AttachImported", image=imported, app_image_config=lab, domain=DOMAIN)
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("has no version"))
    assert [w.id for w in warnings] == ["/Stack/Attach"]
    assert studio.NO_VERSION_WARNING in warnings[0].entry.data


def test_a_kernel_gateway_attachment_warns_of_studio_classic(kit: dict[str, Any]) -> None:
    stack = kit["stack"]
    kernel = AppImageConfig(
        stack, "Kernel", kernel_gateway=KernelGatewayConfig(kernel_specs=[KernelSpec(name="python3")])
    )
    StudioAttachment(stack, "Modern", image=kit["image"], app_image_config=kit["lab"], domain=DOMAIN)
    StudioAttachment(stack, "Classic", image=kit["image"], app_image_config=kernel, domain=DOMAIN)
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("Studio Classic"))
    assert [w.id for w in warnings] == ["/Stack/Classic"]
    assert studio.STUDIO_CLASSIC_WARNING in warnings[0].entry.data
    assert "JupyterLab" in warnings[0].entry.data


@pytest.mark.parametrize("where", ["existing target, two stacks", "an L1 of the app"])
def test_more_than_200_entries_on_one_target_and_app_type_is_refused(app: cdk.App, where: str) -> None:
    stacks = [cdk.Stack(app, "First"), cdk.Stack(app, "Second")]
    domain: Any = DOMAIN if where.startswith("existing") else domain_of(stacks[0])
    labs = [AppImageConfig.from_app_image_config_name(s, "Lab", "lab", "JupyterLab") for s in stacks]

    def attach(n: int) -> None:
        s = stacks[n % 2] if isinstance(domain, str) else stacks[0]
        image = Image.from_image_name(s, f"Image{n}", f"image-{n}")
        StudioAttachment(s, f"Attach{n}", image=image, app_image_config=labs[stacks.index(s)], domain=domain)

    for n in range(studio.MAX_CUSTOM_IMAGES):
        attach(n)
    with pytest.raises(ValidationError, match=r"more than 200 custom images"):
        attach(studio.MAX_CUSTOM_IMAGES)


def test_attachments_hold_no_module_state(app: cdk.App) -> None:
    """Per-target state is on the tree: the stack holds the target's construct under an id from it."""
    stack = cdk.Stack(app, "Stack")
    image = Image.from_image_name(stack, "Image", "team-image")
    lab = AppImageConfig.from_app_image_config_name(stack, "Lab", "lab", "JupyterLab")
    attachment = StudioAttachment(
        stack, "Attach", image=image, app_image_config=lab, domain=DOMAIN, user_profile="al"
    )
    target = stack.node.find_child(f"StudioCustomImages-{DOMAIN}-user-profile-al")
    assert attachment.resource is not None and attachment.resource.node.scope is target


@pytest.mark.parametrize(
    ("space_settings", "missing"),
    [
        (None, "has no DefaultSpaceSettings"),
        # The struct itself requires the role (jsii refuses one without it); a token hides whether it has.
        (cdk.Token.as_any({"JupyterLabAppSettings": {}}), "DefaultSpaceSettings as a token"),
    ],
    ids=["no DefaultSpaceSettings", "a token"],
)
@pytest.mark.parametrize("where", ["same stack", "platform stack"])
def test_default_space_settings_on_a_domain_without_them_is_a_validation_error(
    app: cdk.App, space_settings: Any, missing: str, where: str
) -> None:
    platform = cdk.Stack(app, "Platform")
    domain = domain_of(platform)
    if space_settings is not None:
        domain.default_space_settings = space_settings
    stack = platform if where == "same stack" else cdk.Stack(app, "Team")
    image = Image(stack, "Image", image_name="team-image")
    image.add_version("V1", base_image=BASE)
    lab = AppImageConfig(stack, "Lab", jupyter_lab=ContainerConfig())
    with pytest.raises(ValidationError) as error:
        image.attach_to_studio("Shared", app_image_config=lab, domain=domain, default_space_settings=True)
    message = str(error.value)
    assert "invalid default_space_settings True" in message and missing in message
    assert "Platform/Domain" in message and "execution_role" in message


# --- KernelGateway on a user profile or a space: 30 by CloudFormation's schema, 5 by the API's text -----


def kernel_gateway_kit(stack: cdk.Stack, where: str) -> tuple[AppImageConfig, dict[str, Any]]:
    kg = AppImageConfig(
        stack,
        "Kernel",
        kernel_gateway=KernelGatewayConfig(kernel_specs=[KernelSpec(name="python3")]),
    )
    if where == "existing profile":
        return kg, {"domain": DOMAIN, "user_profile": "alice"}
    if where == "existing space":
        return kg, {"domain": DOMAIN, "space": "shared"}
    profile = sm.CfnUserProfile(stack, "Profile", domain_id=DOMAIN, user_profile_name="bob")
    return kg, {"domain": DOMAIN, "user_profile": profile}


@pytest.mark.parametrize("where", ["existing profile", "existing space", "CfnUserProfile"])
def test_a_members_kernel_gateway_list_warns_past_5_and_is_refused_past_30(
    stack: cdk.Stack, where: str
) -> None:
    kg, target = kernel_gateway_kit(stack, where)

    def attach(n: int) -> StudioAttachment:
        image = Image.from_image_name(stack, f"Image{n}", f"image-{n}")
        return StudioAttachment(stack, f"Attach{n}", image=image, app_image_config=kg, **target)

    made = [attach(n) for n in range(30)]
    with pytest.raises(ValidationError) as error:
        attach(30)
    assert "more than 30 custom images" in str(error.value)
    assert "CloudFormation's schema" in str(error.value)
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("at most 5"))
    assert [w.id for w in warnings] == [f"/{made[5].node.path}"]  # the sixth, once
    assert studio.KERNEL_GATEWAY_CAP_WARNING in warnings[0].entry.data
    assert "CloudFormation's schema allows 30" in warnings[0].entry.data


def test_a_domains_kernel_gateway_list_takes_more_than_30(stack: cdk.Stack) -> None:
    kg, _ = kernel_gateway_kit(stack, "existing profile")
    for n in range(31):
        image = Image.from_image_name(stack, f"Image{n}", f"image-{n}")
        StudioAttachment(stack, f"Attach{n}", image=image, app_image_config=kg, domain=DOMAIN)
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("at most 5"))


def test_an_l1_members_own_entries_count_toward_its_cap(stack: cdk.Stack) -> None:
    kg, _ = kernel_gateway_kit(stack, "existing profile")
    own = [
        sm.CfnUserProfile.CustomImageProperty(image_name=f"own-{n}", app_image_config_name="kg")
        for n in range(26)
    ]
    profile = sm.CfnUserProfile(
        stack,
        "Own",
        domain_id=DOMAIN,
        user_profile_name="carol",
        user_settings=sm.CfnUserProfile.UserSettingsProperty(
            kernel_gateway_app_settings=sm.CfnUserProfile.KernelGatewayAppSettingsProperty(custom_images=own)
        ),
    )
    for n in range(4):
        image = Image.from_image_name(stack, f"Image{n}", f"image-{n}")
        StudioAttachment(
            stack, f"Attach{n}", image=image, app_image_config=kg, domain=DOMAIN, user_profile=profile
        )
    image = Image.from_image_name(stack, "Image4", "image-4")
    with pytest.raises(ValidationError, match="more than 30 custom images"):
        StudioAttachment(
            stack, "Attach4", image=image, app_image_config=kg, domain=DOMAIN, user_profile=profile
        )


def test_entries_written_into_an_l1_after_the_attachments_count_at_synth(stack: cdk.Stack) -> None:
    kg, _ = kernel_gateway_kit(stack, "existing profile")
    profile = sm.CfnUserProfile(stack, "Late", domain_id=DOMAIN, user_profile_name="dave")
    for n in range(2):
        image = Image.from_image_name(stack, f"Image{n}", f"image-{n}")
        StudioAttachment(
            stack, f"Attach{n}", image=image, app_image_config=kg, domain=DOMAIN, user_profile=profile
        )
    late = [
        sm.CfnUserProfile.CustomImageProperty(image_name=f"late-{n}", app_image_config_name="kg")
        for n in range(29)
    ]
    profile.user_settings = sm.CfnUserProfile.UserSettingsProperty(
        kernel_gateway_app_settings=sm.CfnUserProfile.KernelGatewayAppSettingsProperty(custom_images=late)
    )
    with pytest.raises(RuntimeError, match="29 entries of its own and 2 attachments, more than 30"):
        Template.from_stack(stack)


# --- the app-wide key of a target: its environment and, for tokens, their source ------------------------


def two_stacks_listing(app: cdk.App, domain_of_stack: Any, envs: tuple[Any, Any] = (None, None)) -> None:
    """The same image on the same domain (as each stack names it), from two stacks."""
    for n, name in enumerate(("First", "Second")):
        stack = cdk.Stack(app, name, env=envs[n])
        image = Image.from_image_name(stack, "Image", "team-image")
        lab = AppImageConfig.from_app_image_config_name(stack, "Lab", "lab", "JupyterLab")
        StudioAttachment(stack, "Attach", image=image, app_image_config=lab, domain=domain_of_stack(stack))


@pytest.mark.parametrize(
    "source",
    [
        lambda stack: cdk.Fn.import_value("PlatformDomainId"),
        lambda stack: ssm.StringParameter.value_for_string_parameter(stack, "/platform/domain-id"),
    ],
    ids=["Fn.import_value", "an SSM parameter"],
)
def test_a_token_target_from_a_known_source_is_one_target_app_wide(app: cdk.App, source: Any) -> None:
    with pytest.raises(ValidationError, match="already listed for JupyterLab in this target by"):
        two_stacks_listing(app, source)


def test_another_token_target_is_known_only_within_its_stack(app: cdk.App) -> None:
    two_stacks_listing(app, lambda stack: cdk.CfnParameter(stack, "DomainId").value_as_string)


def test_one_literal_domain_in_two_accounts_is_two_targets(app: cdk.App) -> None:
    """Two stages of a pipeline, each in its own account, with the same domain id."""
    envs = (
        cdk.Environment(account=ACCOUNT, region="us-east-1"),
        cdk.Environment(account=OTHER_ACCOUNT, region="us-east-1"),
    )
    two_stacks_listing(app, lambda stack: DOMAIN, envs)


def test_one_literal_domain_in_one_account_from_two_stacks_is_refused(app: cdk.App) -> None:
    envs = (cdk.Environment(account=ACCOUNT, region="us-east-1"),) * 2
    with pytest.raises(ValidationError, match="already listed"):
        two_stacks_listing(app, lambda stack: DOMAIN, envs)


def test_the_200_cap_counts_a_known_token_target_across_stacks(app: cdk.App) -> None:
    stacks = [cdk.Stack(app, "First"), cdk.Stack(app, "Second")]
    labs = [AppImageConfig.from_app_image_config_name(s, "Lab", "lab", "JupyterLab") for s in stacks]

    def attach(n: int) -> None:
        s = stacks[n % 2]
        image = Image.from_image_name(s, f"Image{n}", f"image-{n}")
        domain = cdk.Fn.import_value("Domain")
        StudioAttachment(s, f"Attach{n}", image=image, app_image_config=labs[n % 2], domain=domain)

    for n in range(studio.MAX_CUSTOM_IMAGES):
        attach(n)
    with pytest.raises(ValidationError, match="more than 200 custom images"):
        attach(studio.MAX_CUSTOM_IMAGES)


# --- issue 16: seams the suite did not hold ---------------------------------------------------------------


@pytest.mark.parametrize("target", ["existing", "CfnDomain"])
def test_an_entry_whose_config_is_in_a_stack_of_its_own_waits_for_it(app: cdk.App, target: str) -> None:
    configs = cdk.Stack(app, "Configs")
    lab = AppImageConfig(configs, "Lab", jupyter_lab=ContainerConfig())
    team = cdk.Stack(app, "Team")
    image = Image(team, "Image", image_name="team-image")
    image.add_version("V1", base_image=BASE)
    domain: Any = DOMAIN if target == "existing" else domain_of(team)
    StudioAttachment(team, "Attach", image=image, app_image_config=lab, domain=domain)
    dependencies = {s.stack_name: {d.id for d in s.dependencies} for s in app.synth().stacks}
    assert "Configs" in dependencies["Team"]


def test_a_pinned_version_of_another_stack_is_refused_for_an_existing_target_too(app: cdk.App) -> None:
    images = cdk.Stack(app, "Images")
    image = Image(images, "Image", image_name="team-image")
    v1 = image.add_version("V1", base_image=BASE)
    team = cdk.Stack(app, "Team")
    lab = AppImageConfig(team, "Lab", jupyter_lab=ContainerConfig())
    with pytest.raises(ValidationError) as error:
        StudioAttachment(team, "Attach", image=image, app_image_config=lab, version=v1, domain=DOMAIN)
    assert "'Team/Attach'" in str(error.value) and "Images/Image/V1" in str(error.value)
    assert "version=<n>" in str(error.value)


@pytest.mark.parametrize("target", ["CfnDomain", "CfnUserProfile", "CfnSpace"])
def test_the_studio_classic_warning_is_given_for_l1_targets_too(stack: cdk.Stack, target: str) -> None:
    kg = AppImageConfig(
        stack, "Kernel", kernel_gateway=KernelGatewayConfig(kernel_specs=[KernelSpec(name="python3")])
    )
    image = Image.from_image_name(stack, "Image", "team-image")
    domain = domain_of(stack)
    where: dict[str, Any] = {"domain": domain}
    if target == "CfnUserProfile":
        where["user_profile"] = sm.CfnUserProfile(
            stack, "Profile", domain_id=domain.attr_domain_id, user_profile_name="alice"
        )
    elif target == "CfnSpace":
        where["space"] = sm.CfnSpace(stack, "Space", domain_id=domain.attr_domain_id, space_name="shared")
    StudioAttachment(stack, "Attach", image=image, app_image_config=kg, **where)
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("Studio Classic"))
    assert [w.id for w in warnings] == ["/Stack/Attach"]
    assert studio.STUDIO_CLASSIC_WARNING in warnings[0].entry.data
