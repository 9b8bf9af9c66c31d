"""``IImage.grant_read`` and the read grant a Studio L1 target's execution role gets from an attachment.

SageMaker describes the listed image (and its versions) with the target's execution role when it updates
the target, and leaves it Update_Failed when the role may not: ``grant_read`` gives exactly that, on the
image and ``image-version/<name>/*`` (literal names, so a grantee in another stack takes no export), and
acknowledges the cdk-nag finding for that one wildcard on the grantee. An attachment merged into a
``CfnDomain`` / ``CfnUserProfile`` / ``CfnSpace`` grants it to the execution role that runs those apps
when that role is an ``iam.Role`` of this app, before the L1 is created or updated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sm
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from constructs_lib import (
    AppImageConfig,
    AppType,
    BaseImage,
    ContainerConfig,
    Image,
    StudioAttachment,
    studio,
)
from constructs_lib.image import ImageBase

READ_ACTIONS = ["sagemaker:DescribeImage", "sagemaker:DescribeImageVersion", "sagemaker:ListImageVersions"]
BASE = BaseImage.from_uri("111122223333.dkr.ecr.us-east-1.amazonaws.com/base:1")
ROLE_ARN = "arn:aws:iam::111122223333:role/studio-execution"
DOMAIN = "d-0123abc"
FOREIGN_IMAGE = "arn:aws-cn:sagemaker:cn-north-1:444455556666:image/theirs"


def agnostic_arn(resource: str) -> dict[str, Any]:
    """A SageMaker ARN of an environment-agnostic stack, as CloudFormation gets it."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":sagemaker:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":{resource}",
            ],
        ]
    }


def read_arns(name: str) -> list[Any]:
    return [agnostic_arn(f"image/{name}"), agnostic_arn(f"image-version/{name}/*")]


def sagemaker_role(scope: cdk.Stack, id: str) -> iam.Role:
    return iam.Role(scope, id, assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_of(stack: cdk.Stack, role: iam.IRole) -> list[dict[str, Any]]:
    """Every statement of every policy of the stack attached to ``role``."""
    role_ref = {"Ref": stack.get_logical_id(role.node.default_child)}  # type: ignore[arg-type]
    template = Template.from_stack(stack).to_json()
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        and role_ref in resource["Properties"].get("Roles", [])
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def read_statements(stack: cdk.Stack, role: iam.IRole) -> list[dict[str, Any]]:
    return [s for s in statements_of(stack, role) if "sagemaker:DescribeImage" in as_list(s["Action"])]


def config_statements(stack: cdk.Stack, role: iam.IRole) -> list[dict[str, Any]]:
    return [
        s for s in statements_of(stack, role) if "sagemaker:DescribeAppImageConfig" in as_list(s["Action"])
    ]


def granted_resources(stack: cdk.Stack, role: iam.IRole) -> list[Any]:
    """The resources of the role's image-read statements, each statement checked to be exactly that."""
    resources = []
    for statement in read_statements(stack, role):
        assert set(statement) == {"Action", "Effect", "Resource"}
        assert statement["Effect"] == "Allow"
        assert sorted(as_list(statement["Action"])) == READ_ACTIONS
        resources += as_list(statement["Resource"])
    return resources


# --- grant_read ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("imported", [False, True], ids=["AppImageConfig", "from_app_image_config_name"])
def test_app_image_config_grant_read_allows_describe_on_exactly_that_config(
    stack: cdk.Stack, imported: bool
) -> None:
    config = (
        AppImageConfig.from_app_image_config_name(stack, "Lab", "their-lab", AppType.JUPYTER_LAB)
        if imported
        else AppImageConfig(stack, "Lab", app_image_config_name="our-lab", jupyter_lab=ContainerConfig())
    )
    role = sagemaker_role(stack, "Studio")
    config.grant_read(role)
    name = "their-lab" if imported else "our-lab"
    arn = stack.format_arn(service="sagemaker", resource="app-image-config", resource_name=name)
    assert config_statements(stack, role) == [
        {"Action": "sagemaker:DescribeAppImageConfig", "Effect": "Allow", "Resource": stack.resolve(arn)}
    ]


GRANT_CASES = {
    "Image": (lambda stack: Image(stack, "Image", image_name="img"), read_arns("img")),
    "from_image_name": (lambda stack: Image.from_image_name(stack, "Image", "theirs"), read_arns("theirs")),
    "from_image_arn of another account": (
        lambda stack: Image.from_image_arn(stack, "Image", FOREIGN_IMAGE),
        [FOREIGN_IMAGE, "arn:aws-cn:sagemaker:cn-north-1:444455556666:image-version/theirs/*"],
    ),
}


@pytest.mark.parametrize("case", list(GRANT_CASES))
def test_grant_read_allows_exactly_three_actions_on_the_image_and_its_versions(
    stack: cdk.Stack, case: str
) -> None:
    make, expected = GRANT_CASES[case]
    image: ImageBase = make(stack)
    role = sagemaker_role(stack, "Grantee")
    grant = image.grant_read(role)
    assert grant.success
    (statement,) = read_statements(stack, role)
    assert statement == {"Action": READ_ACTIONS, "Effect": "Allow", "Resource": expected}
    assert statements_of(stack, role) == [statement]  # nothing else
    assert '"*"' not in json.dumps(statement)
    # The image's name is written into the ARNs: no reference to the image's own resource.
    if isinstance(image, Image):
        image_id = stack.get_logical_id(image.node.default_child)  # type: ignore[arg-type]
        assert image_id not in json.dumps(statement)


def test_grant_read_to_an_image_arn_of_another_partition_takes_nothing_from_the_stack(
    stack: cdk.Stack,
) -> None:
    image = Image.from_image_arn(stack, "Image", FOREIGN_IMAGE)
    role = sagemaker_role(stack, "Grantee")
    image.grant_read(role)
    assert "Ref" not in json.dumps(granted_resources(stack, role))


@pytest.mark.parametrize(
    "env",
    [None, cdk.Environment(account="111122223333", region="us-east-1")],
    ids=["environment-agnostic", "one account and region"],
)
@pytest.mark.parametrize("imported", [False, True], ids=["Image", "from_image_name"])
def test_a_grantee_in_another_stack_takes_no_export(
    app: cdk.App, env: cdk.Environment | None, imported: bool
) -> None:
    images = cdk.Stack(app, "Images", env=env)
    studio = cdk.Stack(app, "Studio", env=env)
    image = (
        Image.from_image_name(images, "Image", "img")
        if imported
        else Image(images, "Image", image_name="img")
    )
    role = sagemaker_role(studio, "Execution")
    image.grant_read(role)
    assembly = app.synth()
    for name in ("Images", "Studio"):
        template = assembly.get_stack_by_name(name).template
        assert "Outputs" not in template, name
        assert "Fn::ImportValue" not in json.dumps(template), name
    assert studio.dependencies == [] and images.dependencies == []
    resources = granted_resources(studio, role)
    assert len(resources) == 2 and [json.dumps(r) for r in resources] == [
        json.dumps(studio.resolve(studio.format_arn(service="sagemaker", resource=kind, resource_name=name)))
        for kind, name in (("image", "img"), ("image-version", "img/*"))
    ]


# --- the read grant an attachment merged into an L1 gives its execution role -----------------------


def studio_domain(stack: cdk.Stack, user_role_arn: str, space_role_arn: str) -> sm.CfnDomain:
    """A domain of the app whose default user and space settings run with these roles."""
    d = sm.CfnDomain
    return d(
        stack,
        "Domain",
        auth_mode="IAM",
        domain_name="studio",
        subnet_ids=["subnet-0123"],
        vpc_id="vpc-0123",
        default_user_settings=d.UserSettingsProperty(execution_role=user_role_arn),
        default_space_settings=d.DefaultSpaceSettingsProperty(execution_role=space_role_arn),
    )


class Roles:
    """A domain's two default roles, a profile's own role, and the L1s that use them."""

    def __init__(self, stack: cdk.Stack) -> None:
        self.stack = stack
        self.user = sagemaker_role(stack, "UserRole")
        self.space = sagemaker_role(stack, "SpaceRole")
        self.profile = sagemaker_role(stack, "ProfileRole")
        self.domain = studio_domain(stack, self.user.role_arn, self.space.role_arn)
        p = sm.CfnUserProfile
        self.own_role_profile = p(
            stack,
            "OwnRoleProfile",
            domain_id=self.domain.attr_domain_id,
            user_profile_name="alice",
            user_settings=p.UserSettingsProperty(execution_role=self.profile.role_arn),
        )
        self.default_role_profile = p(
            stack, "DefaultRoleProfile", domain_id=self.domain.attr_domain_id, user_profile_name="bob"
        )
        self.space_l1 = sm.CfnSpace(stack, "Space", domain_id=self.domain.attr_domain_id, space_name="shared")
        self.all = [self.user, self.space, self.profile]
        self.image = Image(stack, "Image", image_name="img")
        self.image.add_version("V1", base_image=BASE)
        self.configs = {
            AppType.JUPYTER_LAB: AppImageConfig(
                stack, "JlConfig", app_image_config_name="jl-config", jupyter_lab=ContainerConfig()
            ),
            AppType.CODE_EDITOR: AppImageConfig(
                stack, "CeConfig", app_image_config_name="ce-config", code_editor=ContainerConfig()
            ),
            AppType.KERNEL_GATEWAY: AppImageConfig.from_app_image_config_name(
                stack, "KgConfig", "kg-config", AppType.KERNEL_GATEWAY
            ),
        }

    def attach(self, id: str, app_type: AppType = AppType.JUPYTER_LAB, **target: Any) -> StudioAttachment:
        return StudioAttachment(
            self.stack, id, image=self.image, app_image_config=self.configs[app_type], **target
        )


L1_GRANTS = {
    # target keywords (by the Roles' attribute names), app type, the L1 and the role that gets the grant
    "CfnDomain DefaultUserSettings": ({"domain": "domain"}, AppType.JUPYTER_LAB, "domain", "user"),
    "CfnDomain DefaultSpaceSettings": (
        {"domain": "domain", "default_space_settings": True},
        AppType.JUPYTER_LAB,
        "domain",
        "space",
    ),
    "CfnUserProfile with its own role": (
        {"domain": "domain", "user_profile": "own_role_profile"},
        AppType.CODE_EDITOR,
        "own_role_profile",
        "profile",
    ),
    "CfnUserProfile with the domain's": (
        {"domain": "domain", "user_profile": "default_role_profile"},
        AppType.CODE_EDITOR,
        "default_role_profile",
        "user",
    ),
    "CfnSpace": ({"domain": "domain", "space": "space_l1"}, AppType.KERNEL_GATEWAY, "space_l1", "space"),
}


@pytest.mark.parametrize("case", list(L1_GRANTS))
def test_an_l1_targets_execution_role_may_read_the_image_before_the_l1_changes(
    stack: cdk.Stack, case: str
) -> None:
    target, app_type, l1_name, grantee = L1_GRANTS[case]
    roles = Roles(stack)
    roles.attach(
        "Attach",
        app_type,
        **{k: getattr(roles, v) if k != "default_space_settings" else v for k, v in target.items()},
    )
    role: iam.Role = getattr(roles, grantee)
    config = roles.configs[app_type]
    cfn = config.node.default_child  # a defined config's literal name; an import's is its name
    name = cfn.app_image_config_name if cfn is not None else config.app_image_config_name  # type: ignore[attr-defined]
    config_arn = stack.resolve(
        stack.format_arn(service="sagemaker", resource="app-image-config", resource_name=name)
    )
    for other in roles.all:
        resources = granted_resources(stack, other)
        configs = config_statements(stack, other)
        if other is role:
            assert resources == read_arns("img"), case
            # and the config it runs (DescribeAppImageConfig), by its literal name
            assert configs == [
                {"Action": "sagemaker:DescribeAppImageConfig", "Effect": "Allow", "Resource": config_arn}
            ], case
        else:
            assert resources == [] and configs == [], f"{case}: {other.node.path} was granted too"
    # The L1 waits for the policy that holds the grant.
    resources = Template.from_stack(stack).to_json()["Resources"]
    policy_id = stack.get_logical_id(role.node.find_child("DefaultPolicy").node.default_child)  # type: ignore[arg-type]
    l1 = getattr(roles, l1_name)
    assert policy_id in resources[stack.get_logical_id(l1)]["DependsOn"]


def test_the_grant_is_made_once_per_role_and_image(stack: cdk.Stack) -> None:
    roles = Roles(stack)
    other = Image.from_image_name(stack, "Other", "other")
    roles.attach("Jl", AppType.JUPYTER_LAB, domain=roles.domain)
    roles.attach("Ce", AppType.CODE_EDITOR, domain=roles.domain)
    roles.attach("Profile", AppType.JUPYTER_LAB, domain=roles.domain, user_profile=roles.default_role_profile)
    StudioAttachment(
        stack,
        "AttachOther",
        image=other,
        app_image_config=roles.configs[AppType.JUPYTER_LAB],
        domain=roles.domain,
    )
    assert sorted(json.dumps(r, sort_keys=True) for r in granted_resources(stack, roles.user)) == sorted(
        json.dumps(r, sort_keys=True) for r in read_arns("img") + read_arns("other")
    )


def roles_given_as(stack: cdk.Stack, how: str) -> tuple[sm.CfnDomain, list[iam.Role]]:
    """A domain (and a profile and space of it) whose execution role is given some way the library
    may not change: an ARN string, an imported Role's ARN, an ARN parameter."""
    bystander = sagemaker_role(stack, "Bystander")  # a Role of the app that runs no Studio app
    arn = {
        "an ARN string": lambda: ROLE_ARN,
        "an imported role": lambda: iam.Role.from_role_arn(stack, "Imported", ROLE_ARN).role_arn,
        "an imported role, mutable=False": lambda: (
            iam.Role.from_role_arn(stack, "Imported", ROLE_ARN, mutable=False).role_arn
        ),
        "a parameter": lambda: cdk.CfnParameter(stack, "RoleArn").value_as_string,
    }[how]()
    return studio_domain(stack, arn, arn), [bystander]


@pytest.mark.parametrize(
    "how", ["an ARN string", "an imported role", "an imported role, mutable=False", "a parameter"]
)
def test_no_grant_to_a_role_the_app_does_not_define(stack: cdk.Stack, how: str) -> None:
    domain, bystanders = roles_given_as(stack, how)
    image = Image(stack, "Image", image_name="img")
    config = AppImageConfig(stack, "Config", app_image_config_name="cfg", jupyter_lab=ContainerConfig())
    profile = sm.CfnUserProfile(stack, "Profile", domain_id=domain.attr_domain_id, user_profile_name="bob")
    space = sm.CfnSpace(stack, "Space", domain_id=domain.attr_domain_id, space_name="shared")
    kg = AppImageConfig.from_app_image_config_name(stack, "Kg", "kg", AppType.KERNEL_GATEWAY)
    image.attach_to_studio("User", app_image_config=config, domain=domain)
    image.attach_to_studio("Space", app_image_config=config, domain=domain, default_space_settings=True)
    image.attach_to_studio("Profile", app_image_config=config, domain=domain, user_profile=profile)
    image.attach_to_studio("SpaceL1", app_image_config=kg, domain=domain, space=space)
    template = Template.from_stack(stack).to_json()
    assert "sagemaker:DescribeImage" not in json.dumps(template)
    for role in bystanders:
        assert statements_of(stack, role) == []
    # Each attachment says so, naming the role and the grants it needs, with an id to acknowledge.
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("not a Role of"))
    assert sorted(w.id for w in warnings) == [
        "/Stack/Image/Profile",
        "/Stack/Image/Space",
        "/Stack/Image/SpaceL1",
        "/Stack/Image/User",
    ]
    shown = ROLE_ARN if how != "a parameter" else '{"Ref": "RoleArn"}'
    for warning in warnings:
        text = str(warning.entry.data)
        assert studio.EXECUTION_ROLE_WARNING in text and shown in text
        assert "image.grant_read(<role>)" in text and "app_image_config.grant_read(<role>)" in text


def test_the_execution_role_warning_can_be_acknowledged(stack: cdk.Stack) -> None:
    domain, _ = roles_given_as(stack, "an ARN string")
    image = Image(stack, "Image", image_name="img")
    config = AppImageConfig(stack, "Config", app_image_config_name="cfg", jupyter_lab=ContainerConfig())
    attachment = image.attach_to_studio("User", app_image_config=config, domain=domain)
    cdk.Annotations.of(attachment).acknowledge_warning(
        studio.EXECUTION_ROLE_WARNING, "granted by the platform"
    )
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("not a Role of"))


def test_a_role_of_the_app_gets_the_grant_and_no_warning(stack: cdk.Stack) -> None:
    roles = Roles(stack)
    roles.attach("Attach", AppType.JUPYTER_LAB, domain=roles.domain)
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("not a Role of"))


def test_no_grant_for_an_existing_target(stack: cdk.Stack) -> None:
    """A string target's role is not the app's to know: the custom resource's function gets none either."""
    roles = Roles(stack)
    roles.attach("ExistingDomain", domain=DOMAIN)
    roles.attach("Profile", domain=roles.domain, user_profile="carol")
    template = Template.from_stack(stack).to_json()
    assert "sagemaker:DescribeImage" not in json.dumps(template)


def test_a_profile_of_an_existing_domain_without_a_role_of_its_own_grants_nothing(stack: cdk.Stack) -> None:
    roles = Roles(stack)
    profile = sm.CfnUserProfile(stack, "Lone", domain_id=DOMAIN, user_profile_name="dave")
    roles.attach("Attach", AppType.JUPYTER_LAB, domain=DOMAIN, user_profile=profile)
    assert "sagemaker:DescribeImage" not in json.dumps(Template.from_stack(stack).to_json())


# --- cdk-nag --------------------------------------------------------------------------------------------


def nagged(tmp_path: Path) -> cdk.App:
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def nag_report(tmp_path: Path) -> dict[str, Any]:
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return plugin  # type: ignore[no-any-return]


def findings(report: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    return sorted(
        (finding["ruleName"], construct["constructPath"])
        for finding in report.get(kind, [])
        for construct in finding["violatingConstructs"]
    )


def version_wildcard(name: str) -> str:
    """How cdk-nag names the image-version wildcard of one image in a finding."""
    arn = f"arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:image-version/{name}/*"
    return f"AwsSolutions-IAM5[Resource::{arn}]"


def test_the_grants_pass_aws_solutions_with_one_acknowledgement_per_role_and_image(tmp_path: Path) -> None:
    app = nagged(tmp_path)
    stack = cdk.Stack(app, "Stack")
    roles = Roles(stack)
    roles.attach("DomainAttach", domain=roles.domain)
    roles.attach(
        "ProfileAttach", AppType.CODE_EDITOR, domain=roles.domain, user_profile=roles.own_role_profile
    )
    roles.attach("SpaceAttach", AppType.KERNEL_GATEWAY, domain=roles.domain, space=roles.space_l1)
    app.synth()  # raises on any unacknowledged finding
    report = nag_report(tmp_path)
    assert report["conclusion"] == "success"
    assert findings(report, "violations") == []
    assert findings(report, "suppressedViolations") == sorted(
        [
            ("AwsSolutions-IAM5[Resource::*]", "Stack/Image/EcrAuthorizationPolicy/Resource"),
            (version_wildcard("img"), "Stack/ProfileRole/DefaultPolicy/Resource"),
            (version_wildcard("img"), "Stack/SpaceRole/DefaultPolicy/Resource"),
            (version_wildcard("img"), "Stack/UserRole/DefaultPolicy/Resource"),
        ]
    )
    reasons = [v["reason"] for v in report["suppressedViolations"] if "image-version" in v["ruleName"]]
    assert reasons and all("Stack/Image" in reason for reason in reasons)


def test_the_acknowledgement_covers_only_that_image_on_that_role(tmp_path: Path) -> None:
    """Another role's own image-version wildcard, and another image's on the granted role, are flagged."""
    app = nagged(tmp_path)
    stack = cdk.Stack(app, "Stack")
    roles = Roles(stack)
    roles.attach("DomainAttach", domain=roles.domain)
    other = sagemaker_role(stack, "Other")

    def wildcard(name: str) -> iam.PolicyStatement:
        arn = stack.format_arn(service="sagemaker", resource="image-version", resource_name=f"{name}/*")
        return iam.PolicyStatement(actions=["sagemaker:DescribeImageVersion"], resources=[arn])

    other.add_to_policy(wildcard("img"))
    iam.Policy(stack, "Mine", roles=[roles.user], statements=[wildcard("mine")])
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = nag_report(tmp_path)
    assert findings(report, "violations") == sorted(
        [
            (version_wildcard("img"), "Stack/Other/DefaultPolicy/Resource"),
            (version_wildcard("mine"), "Stack/Mine/Resource"),
        ]
    )
    assert (version_wildcard("img"), "Stack/UserRole/DefaultPolicy/Resource") in findings(
        report, "suppressedViolations"
    )


def test_a_grantee_in_another_stack_carries_its_own_acknowledgement(tmp_path: Path) -> None:
    app = nagged(tmp_path)
    images = cdk.Stack(app, "Images")
    studio = cdk.Stack(app, "Studio")
    image = Image(images, "Image", image_name="img")
    role = sagemaker_role(studio, "Execution")
    image.grant_read(role)
    app.synth()
    report = nag_report(tmp_path)
    assert findings(report, "violations") == []
    assert (version_wildcard("img"), "Studio/Execution/DefaultPolicy/Resource") in findings(
        report, "suppressedViolations"
    )


def test_grant_read_to_an_imported_role_is_acknowledged_on_the_policy_it_lands_in(tmp_path: Path) -> None:
    """Role.from_role_arn reaches Python as a jsii proxy, not a Construct: the acknowledgement goes on
    the policy the grant made under it, for that image only."""
    app = nagged(tmp_path)
    stack = cdk.Stack(app, "Stack")
    imported = iam.Role.from_role_arn(stack, "Imported", ROLE_ARN)
    Image(stack, "Image", image_name="img").grant_read(imported)
    app.synth()  # raises on an unacknowledged finding
    report = nag_report(tmp_path)
    assert report["conclusion"] == "success"
    assert findings(report, "suppressedViolations") == [
        ("AwsSolutions-IAM5[Resource::*]", "Stack/Image/EcrAuthorizationPolicy/Resource"),  # the image's own
        (version_wildcard("img"), "Stack/Imported/Policy/Resource"),
    ]
