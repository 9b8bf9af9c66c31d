"""StudioAttachment, template side: the merge into this app's CfnDomain / CfnUserProfile / CfnSpace, the
one custom resource per existing target and stack (its entries, its id, what it waits for), the
validation, the function's role and timeout, the contract with the handler, cdk-nag and cfn-lint."""

from __future__ import annotations

import ast
import importlib.util
import itertools
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sagemaker as sm
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint
from template_graph import comes_after, references

from constructs_lib import (
    AppImageConfig,
    AppType,
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
from constructs_lib.image import ImageBase

TYPE = "Custom::SageMakerStudioCustomImages"
ROOT = Path(__file__).resolve().parents[1]
HANDLER = ROOT / "lambda" / "studio_custom_images" / "index.py"
SHARED = ROOT / "lambda" / "shared" / "custom_resource.py"
CONTRACT = ROOT / "docs" / "studio-custom-resource.md"
BASE = BaseImage.from_uri("111122223333.dkr.ecr.us-east-1.amazonaws.com/base:1")
ROLE = "arn:aws:iam::111122223333:role/studio-execution"
DOMAIN = "d-0123abc"
KG, JL, CE = AppType.KERNEL_GATEWAY, AppType.JUPYTER_LAB, AppType.CODE_EDITOR
# Where an entry goes for each kind of L1 target, and the app types SageMaker has CustomImages for there
# (the issue's table).
L1_CASES = [
    ("domain", "DefaultUserSettings", KG),
    ("domain", "DefaultUserSettings", JL),
    ("domain", "DefaultUserSettings", CE),
    ("domain", "DefaultSpaceSettings", KG),
    ("domain", "DefaultSpaceSettings", JL),
    ("profile", "UserSettings", KG),
    ("profile", "UserSettings", JL),
    ("profile", "UserSettings", CE),
    ("space", "SpaceSettings", KG),
]
L1_IDS = {"domain": "Domain", "profile": "Profile", "space": "Space"}


# --- helpers ------------------------------------------------------------------------------------------


@dataclass
class Kit:
    """An image with a version, a config of each app type, and the app's own Studio L1s."""

    stack: cdk.Stack
    image: Image
    version: ImageVersion
    configs: dict[AppType, AppImageConfig]
    domain: sm.CfnDomain
    profile: sm.CfnUserProfile
    space: sm.CfnSpace


def their_entry(struct: Any, name: str, version: int | None = None) -> Any:
    return struct(image_name=name, app_image_config_name="their-config", image_version_number=version)


def resource_spec(struct: Any) -> Any:
    return struct(instance_type="ml.t3.medium")


def make_domain(stack: cdk.Stack, id: str = "Domain") -> sm.CfnDomain:
    """A domain whose settings already hold the user's own entries and other settings."""
    d = sm.CfnDomain
    return d(
        stack,
        id,
        auth_mode="IAM",
        domain_name="studio",
        default_user_settings=d.UserSettingsProperty(
            execution_role=ROLE,
            security_groups=["sg-0123abcd"],
            jupyter_server_app_settings=d.JupyterServerAppSettingsProperty(
                default_resource_spec=d.ResourceSpecProperty(instance_type="system")
            ),
            kernel_gateway_app_settings=d.KernelGatewayAppSettingsProperty(
                custom_images=[their_entry(d.CustomImageProperty, "theirs-kg", 2)],
                default_resource_spec=resource_spec(d.ResourceSpecProperty),
            ),
            jupyter_lab_app_settings=d.JupyterLabAppSettingsProperty(
                custom_images=[their_entry(d.CustomImageProperty, "theirs-jl")],
                default_resource_spec=resource_spec(d.ResourceSpecProperty),
            ),
            code_editor_app_settings=d.CodeEditorAppSettingsProperty(
                custom_images=[their_entry(d.CustomImageProperty, "theirs-ce")],
                default_resource_spec=resource_spec(d.ResourceSpecProperty),
            ),
        ),
        default_space_settings=d.DefaultSpaceSettingsProperty(
            execution_role=ROLE,
            kernel_gateway_app_settings=d.KernelGatewayAppSettingsProperty(
                custom_images=[their_entry(d.CustomImageProperty, "theirs-space-kg")],
                default_resource_spec=resource_spec(d.ResourceSpecProperty),
            ),
            jupyter_lab_app_settings=d.JupyterLabAppSettingsProperty(
                custom_images=[their_entry(d.CustomImageProperty, "theirs-space-jl")],
            ),
        ),
    )


def make_profile(stack: cdk.Stack, domain_id: str = DOMAIN) -> sm.CfnUserProfile:
    p = sm.CfnUserProfile
    return p(
        stack,
        "Profile",
        domain_id=domain_id,
        user_profile_name="alice",
        user_settings=p.UserSettingsProperty(
            execution_role=ROLE,
            kernel_gateway_app_settings=p.KernelGatewayAppSettingsProperty(
                custom_images=[their_entry(p.CustomImageProperty, "theirs-kg")],
                default_resource_spec=resource_spec(p.ResourceSpecProperty),
            ),
            # The camelCase dict form of a struct, which CDK renders like the struct.
            jupyter_lab_app_settings={
                "customImages": [{"imageName": "theirs-jl", "appImageConfigName": "their-config"}],
                "defaultResourceSpec": {"instanceType": "ml.t3.medium"},
            },
            code_editor_app_settings=p.CodeEditorAppSettingsProperty(
                custom_images=[their_entry(p.CustomImageProperty, "theirs-ce", 1)],
            ),
        ),
    )


def make_space(stack: cdk.Stack, domain_id: str = DOMAIN) -> sm.CfnSpace:
    s = sm.CfnSpace
    return s(
        stack,
        "Space",
        domain_id=domain_id,
        space_name="shared",
        space_settings=s.SpaceSettingsProperty(
            jupyter_server_app_settings=s.JupyterServerAppSettingsProperty(
                default_resource_spec=s.ResourceSpecProperty(instance_type="system")
            ),
            kernel_gateway_app_settings=s.KernelGatewayAppSettingsProperty(
                custom_images=[their_entry(s.CustomImageProperty, "theirs-kg")],
                default_resource_spec=resource_spec(s.ResourceSpecProperty),
            ),
        ),
    )


def make_kit(stack: cdk.Stack) -> Kit:
    image = Image(stack, "Image", image_name="img")
    # Scaffolding: the base image check (its own function, tested in test_base_image_check) is off.
    version = image.add_version("V1", base_image=BASE, check_base_image=False)
    configs = {
        KG: AppImageConfig(
            stack,
            "KgConfig",
            app_image_config_name="kg-config",
            kernel_gateway=KernelGatewayConfig([KernelSpec("python3")]),
        ),
        JL: AppImageConfig(
            stack, "JlConfig", app_image_config_name="jl-config", jupyter_lab=ContainerConfig()
        ),
        CE: AppImageConfig(
            stack, "CeConfig", app_image_config_name="ce-config", code_editor=ContainerConfig()
        ),
    }
    return Kit(stack, image, version, configs, make_domain(stack), make_profile(stack), make_space(stack))


@pytest.fixture
def kit(stack: cdk.Stack) -> Kit:
    return make_kit(stack)


def logical_id(construct: Any) -> str:
    """The logical id of an L1, or of an L2's default child."""
    resource = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    return cdk.Stack.of(construct).get_logical_id(resource)


def resources_of(stack: cdk.Stack) -> dict[str, Any]:
    return Template.from_stack(stack).to_json()["Resources"]  # type: ignore[no-any-return]


def of_type(resources: dict[str, Any], type_: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == type_}


def entry(kit: Kit, app_type: AppType, version: Any = "pinned") -> dict[str, Any]:
    """The entry an attachment of ``kit.image`` renders, with ``version`` as given to it."""
    rendered: dict[str, Any] = {
        "ImageName": "img",
        "AppImageConfigName": {"Ref": logical_id(kit.configs[app_type])},
    }
    if version == "pinned":
        rendered["ImageVersionNumber"] = {"Fn::GetAtt": [logical_id(kit.version), "Version"]}
    elif version is not None:
        rendered["ImageVersionNumber"] = version
    return rendered


def l1_target(kit: Kit, target: str, settings: str) -> dict[str, Any]:
    """The keywords that aim an attachment at one of the kit's L1s."""
    if target == "domain":
        return {"domain": kit.domain, "default_space_settings": settings == "DefaultSpaceSettings"}
    if target == "profile":
        return {"domain": DOMAIN, "user_profile": kit.profile}
    return {"domain": DOMAIN, "space": kit.space}


@cache
def l1_baseline() -> str:
    """The kit's L1s as rendered without any attachment (JSON, so that each test gets its own copy)."""
    stack = cdk.Stack(cdk.App(), "Stack")
    resources = resources_of(make_kit(stack).stack)
    return json.dumps({name: resources[name] for name in L1_IDS.values()})


def baseline() -> dict[str, Any]:
    return json.loads(l1_baseline())  # type: ignore[no-any-return]


def custom_images(properties: dict[str, Any], settings: str, app_type: AppType) -> list[Any]:
    return properties[settings][f"{app_type.value}AppSettings"]["CustomImages"]  # type: ignore[no-any-return]


def cr_id(attachment: StudioAttachment) -> str:
    assert attachment.resource is not None
    return cdk.Stack.of(attachment).get_logical_id(attachment.resource.node.default_child)  # type: ignore[arg-type]


def provider_ids(stack: cdk.Stack) -> tuple[str, str, str]:
    """Logical ids of the Studio function, its role and the role's DefaultPolicy."""
    provider = studio._StudioProvider.of(stack)
    policy = provider.role.node.find_child("DefaultPolicy").node.default_child
    return (
        logical_id(provider.function),
        logical_id(provider.role),
        stack.get_logical_id(policy),  # type: ignore[arg-type]
    )


def arn(stack: cdk.Stack, resource: str, name: str) -> str:
    return json.dumps(
        stack.resolve(stack.format_arn(service="sagemaker", resource=resource, resource_name=name)),
        sort_keys=True,
    )


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def lint_errors(template: dict[str, Any]) -> list[str]:
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    return [f"{m.rule.id} {m.path_string}: {m.message}" for m in matches if m.rule.id.startswith("E")]


LOGGERS = ("", "boto", "boto3", "botocore", "urllib3")  # the levels crhelper changes on import


def module_constant(path: Path, name: str) -> Any:
    """A module-level constant of a Python file, read from its source (nothing imported or run)."""
    for node in ast.parse(path.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and getattr(node, "value", None):
            return ast.literal_eval(node.value)  # type: ignore[attr-defined]
    raise AssertionError(f"{path} has no constant {name}")


@cache
def load_handler() -> ModuleType:
    """The handler, by path (``lambda`` is a keyword), with ``lambda/shared`` importable as in Lambda."""
    for folder in (str(HANDLER.parents[1] / "shared"), str(HANDLER.parent)):  # as in Lambda
        if folder not in sys.path:
            sys.path.insert(0, folder)
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    try:
        spec = importlib.util.spec_from_file_location("studio_handler_contract", HANDLER)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    return module


# --- the merge into this app's L1s --------------------------------------------------------------------


@pytest.mark.parametrize(("target", "settings", "app_type"), L1_CASES)
def test_entry_is_merged_after_the_users_own_and_nothing_else_changes(
    kit: Kit, target: str, settings: str, app_type: AppType
) -> None:
    StudioAttachment(
        kit.stack,
        "Attach",
        image=kit.image,
        app_image_config=kit.configs[app_type],
        version=kit.version,
        **l1_target(kit, target, settings),
    )
    resources = resources_of(kit.stack)
    before = baseline()
    for name in L1_IDS.values():
        expected = before[name]["Properties"]
        if name == L1_IDS[target]:
            theirs = custom_images(expected, settings, app_type)
            assert theirs and theirs[0]["ImageName"].startswith("theirs-")  # the user's own, rendered
            theirs.append(entry(kit, app_type))
        assert resources[name]["Properties"] == expected, name
    assert of_type(resources, TYPE) == {}
    assert of_type(resources, "AWS::Lambda::Function") == {}
    assert not [k for k in resources if k.startswith(studio.PROVIDER_ID)]


@pytest.mark.parametrize(
    ("version", "rendered"), [("pinned", "pinned"), (3, 3), (None, None)], ids=["ImageVersion", "int", "None"]
)
@pytest.mark.parametrize("target", ["domain", "profile", "space"])
def test_version_in_a_merged_entry(kit: Kit, target: str, version: Any, rendered: Any) -> None:
    settings = {"domain": "DefaultUserSettings", "profile": "UserSettings", "space": "SpaceSettings"}[target]
    given = kit.version if version == "pinned" else version
    StudioAttachment(
        kit.stack,
        "Attach",
        image=kit.image,
        app_image_config=kit.configs[KG],
        version=given,
        **l1_target(kit, target, settings),
    )
    properties = resources_of(kit.stack)[L1_IDS[target]]["Properties"]
    assert custom_images(properties, settings, KG)[-1] == entry(kit, KG, rendered)


def test_bare_l1s_get_the_settings_path_created(stack: cdk.Stack) -> None:
    kit = make_kit(stack)
    profile = sm.CfnUserProfile(stack, "Bare", domain_id=DOMAIN, user_profile_name="bob")
    space = sm.CfnSpace(stack, "BareSpace", domain_id=DOMAIN, space_name="bare")
    StudioAttachment(
        stack, "P", image=kit.image, app_image_config=kit.configs[CE], domain=DOMAIN, user_profile=profile
    )
    StudioAttachment(
        stack, "S", image=kit.image, app_image_config=kit.configs[KG], domain=DOMAIN, space=space, version=2
    )
    resources = resources_of(stack)
    assert resources["Bare"]["Properties"] == {
        "DomainId": DOMAIN,
        "UserProfileName": "bob",
        "UserSettings": {"CodeEditorAppSettings": {"CustomImages": [entry(kit, CE, None)]}},
    }
    assert resources["BareSpace"]["Properties"] == {
        "DomainId": DOMAIN,
        "SpaceName": "bare",
        "SpaceSettings": {"KernelGatewayAppSettings": {"CustomImages": [entry(kit, KG, 2)]}},
    }


def test_several_attachments_to_one_l1_all_land_in_order(kit: Kit) -> None:
    other = Image.from_image_name(kit.stack, "Other", "other")
    third = Image(kit.stack, "Third", image_name="third")
    a: dict[str, Any] = {"app_image_config": kit.configs[KG], "domain": kit.domain}
    StudioAttachment(kit.stack, "A", image=kit.image, version=kit.version, **a)
    StudioAttachment(kit.stack, "B", image=other, version=5, **a)
    third.attach_to_studio("C", **a)
    # The same image in another app type and in the other settings object of the same domain is fine.
    StudioAttachment(kit.stack, "D", image=kit.image, app_image_config=kit.configs[JL], domain=kit.domain)
    StudioAttachment(
        kit.stack,
        "E",
        image=kit.image,
        app_image_config=kit.configs[KG],
        domain=kit.domain,
        default_space_settings=True,
    )
    properties = resources_of(kit.stack)["Domain"]["Properties"]
    before = baseline()["Domain"]["Properties"]
    kg_config = {"Ref": logical_id(kit.configs[KG])}
    assert custom_images(properties, "DefaultUserSettings", KG) == [
        *custom_images(before, "DefaultUserSettings", KG),
        entry(kit, KG),
        {"ImageName": "other", "AppImageConfigName": kg_config, "ImageVersionNumber": 5},
        {"ImageName": "third", "AppImageConfigName": kg_config},
    ]
    assert custom_images(properties, "DefaultUserSettings", JL) == [
        *custom_images(before, "DefaultUserSettings", JL),
        entry(kit, JL, None),
    ]
    assert custom_images(properties, "DefaultSpaceSettings", KG) == [
        *custom_images(before, "DefaultSpaceSettings", KG),
        entry(kit, KG, None),
    ]
    for untouched in (("DefaultUserSettings", CE), ("DefaultSpaceSettings", JL)):
        assert custom_images(properties, *untouched) == custom_images(before, *untouched)


@pytest.mark.parametrize("second", ["same image", "an import of the same name"])
def test_one_image_twice_in_one_list_is_refused(kit: Kit, second: str) -> None:
    image: ImageBase = (
        kit.image if second == "same image" else Image.from_image_name(kit.stack, "Same", "img")
    )
    StudioAttachment(kit.stack, "A", image=kit.image, app_image_config=kit.configs[JL], domain=kit.domain)
    with pytest.raises(
        ValidationError,
        match=r"^StudioAttachment 'Stack/B': image .+ is already listed in this DefaultUserSettings by "
        r"StudioAttachment 'Stack/A'",
    ):
        StudioAttachment(
            kit.stack, "B", image=image, app_image_config=kit.configs[JL], version=1, domain=kit.domain
        )


@pytest.mark.parametrize("other", ["another attachment", "the user's own entry"])
def test_a_duplicate_is_named_by_the_image_name_not_a_token(stack: cdk.Stack, other: str) -> None:
    """An Image's name is a token that resolves to the literal: the message shows the literal."""
    kit = make_kit(stack)
    name = "img" if other == "another attachment" else "theirs-kg"
    image = kit.image if other == "another attachment" else Image(stack, "Theirs", image_name=name)
    with pytest.raises(ValidationError, match=rf"image '{name}' is already listed"):
        for id in ("A", "B") if other == "another attachment" else ("A",):
            StudioAttachment(stack, id, image=image, app_image_config=kit.configs[KG], domain=kit.domain)


def test_an_entry_the_user_already_lists_is_a_validation_error(stack: cdk.Stack) -> None:
    kit = make_kit(stack)
    theirs = Image.from_image_name(stack, "Theirs", "theirs-kg")
    with pytest.raises(
        ValidationError,
        match=r"^StudioAttachment 'Stack/Attach': image 'theirs-kg' is already listed in this "
        r"DefaultUserSettings by Stack/Domain",
    ):
        StudioAttachment(stack, "Attach", image=theirs, app_image_config=kit.configs[KG], domain=kit.domain)


def test_an_entry_the_user_adds_after_the_attachment_is_refused_at_synth(stack: cdk.Stack) -> None:
    kit = make_kit(stack)
    StudioAttachment(stack, "Attach", image=kit.image, app_image_config=kit.configs[KG], domain=kit.domain)
    d = sm.CfnDomain
    kit.domain.default_user_settings = d.UserSettingsProperty(
        execution_role=ROLE,
        kernel_gateway_app_settings=d.KernelGatewayAppSettingsProperty(
            custom_images=[their_entry(d.CustomImageProperty, "img")]
        ),
    )
    with pytest.raises(Exception, match=r"image 'img' is already listed"):  # a Lazy's error comes via jsii
        Template.from_stack(stack)


@pytest.mark.parametrize(("target", "settings", "app_type"), [L1_CASES[0], L1_CASES[5], L1_CASES[8]])
def test_an_l1_target_waits_for_image_config_and_version(
    kit: Kit, target: str, settings: str, app_type: AppType
) -> None:
    StudioAttachment(
        kit.stack,
        "Attach",
        image=kit.image,
        app_image_config=kit.configs[app_type],
        version=kit.version,
        **l1_target(kit, target, settings),
    )
    resources = resources_of(kit.stack)
    l1 = L1_IDS[target]
    assert {logical_id(kit.image), logical_id(kit.version)} <= set(resources[l1]["DependsOn"])
    assert logical_id(kit.configs[app_type]) in references(resources[l1]["Properties"])
    for earlier in (kit.image, kit.version, kit.configs[app_type]):
        assert comes_after(resources, l1, logical_id(earlier))


# --- the custom resource for existing targets ---------------------------------------------------------


def string_target(kit: Kit, target: str) -> dict[str, Any]:
    return {
        "domain": {"domain": DOMAIN},
        "default space": {"domain": DOMAIN, "default_space_settings": True},
        "profile": {"domain": DOMAIN, "user_profile": "alice"},
        "space": {"domain": DOMAIN, "space": "shared"},
        "CfnDomain + profile": {"domain": kit.domain, "user_profile": "alice"},
        "CfnDomain + space": {"domain": kit.domain, "space": "shared"},
    }[target]


CR_CASES = [
    ("domain", JL, {}, "DefaultUserSettings"),
    ("domain", CE, {}, "DefaultUserSettings"),
    ("default space", KG, {}, "DefaultSpaceSettings"),
    ("default space", JL, {}, "DefaultSpaceSettings"),
    ("profile", CE, {"UserProfileName": "alice"}, "UserSettings"),
    ("space", KG, {"SpaceName": "shared"}, "SpaceSettings"),
    ("CfnDomain + profile", JL, {"UserProfileName": "alice"}, "UserSettings"),
    ("CfnDomain + space", KG, {"SpaceName": "shared"}, "SpaceSettings"),
]


@pytest.mark.parametrize(
    ("target", "app_type", "member", "settings"), CR_CASES, ids=[f"{c[0]}-{c[1].value}" for c in CR_CASES]
)
def test_custom_resource_properties(
    kit: Kit, target: str, app_type: AppType, member: dict[str, str], settings: str
) -> None:
    attachment = StudioAttachment(
        kit.stack,
        "Attach",
        image=kit.image,
        app_image_config=kit.configs[app_type],
        version=kit.version,
        **string_target(kit, target),
    )
    resources = resources_of(kit.stack)
    resource = resources[cr_id(attachment)]
    assert of_type(resources, TYPE) == {cr_id(attachment): resource}
    properties = dict(resource["Properties"])
    function_id, _, _ = provider_ids(kit.stack)
    assert properties.pop("ServiceToken") == {"Fn::GetAtt": [function_id, "Arn"]}
    timeout = int(properties.pop("ServiceTimeout"))
    assert timeout == studio.SERVICE_TIMEOUT.to_seconds()
    # CloudFormation waits longer than the function lives, and minutes, not its default hour.
    assert resources[function_id]["Properties"]["Timeout"] < timeout <= 900
    domain_id: Any = {"Fn::GetAtt": ["Domain", "DomainId"]} if target.startswith("Cfn") else DOMAIN
    assert properties == {
        "DomainId": domain_id,
        **member,
        "CustomImages": [{"Settings": settings, "AppType": app_type.value, **entry(kit, app_type)}],
        "LedgerVersion": studio.LEDGER_VERSION,
    }
    # The app's L1s are left alone: the entry is written by the custom resource only.
    before = baseline()
    for name in L1_IDS.values():
        assert resources[name]["Properties"] == before[name]["Properties"]


@pytest.mark.parametrize(("version", "rendered"), [("pinned", "pinned"), (7, 7), (None, None)])
def test_version_in_a_custom_resource(kit: Kit, version: Any, rendered: Any) -> None:
    attachment = StudioAttachment(
        kit.stack,
        "Attach",
        image=kit.image,
        app_image_config=kit.configs[KG],
        version=kit.version if version == "pinned" else version,
        domain=DOMAIN,
    )
    properties = resources_of(kit.stack)[cr_id(attachment)]["Properties"]
    assert properties["CustomImages"] == [
        {"Settings": "DefaultUserSettings", "AppType": "KernelGateway", **entry(kit, KG, rendered)}
    ]


def test_a_stacks_attachments_to_one_target_are_the_entries_of_one_resource_in_declaration_order(
    kit: Kit,
) -> None:
    """Interleaved attachments to four targets: four resources, each with its entries in order.

    A domain's DefaultUserSettings and DefaultSpaceSettings are one target (one UpdateDomain).
    """
    stack = kit.stack
    images: list[ImageBase] = [kit.image] + [
        Image.from_image_name(stack, f"I{n}", f"img-{n}") for n in range(1, 13)
    ]
    targets = ("domain", "profile", "space", "CfnDomain + profile")
    expected: dict[str, list[dict[str, Any]]] = {target: [] for target in targets}
    attachments: dict[str, list[StudioAttachment]] = {target: [] for target in targets}

    def attach(
        target: str, index: int, image: ImageBase, app_type: AppType, settings: str, **keywords: Any
    ) -> None:
        version = kit.version if image is kit.image else (index if index % 2 else None)
        where = string_target(kit, target)
        attachment = StudioAttachment(
            stack,
            f"A{len(attachments[target])}-{target.replace(' ', '')}",
            image=image,
            app_image_config=kit.configs[app_type],
            version=version,
            **where,
            **keywords,
        )
        attachments[target].append(attachment)
        name = "img" if image is kit.image else image.image_name
        rendered = "pinned" if image is kit.image else version
        expected[target].append(
            {
                "Settings": settings,
                "AppType": app_type.value,
                **entry(kit, app_type, rendered),
                "ImageName": name,
            }
        )

    for n, image in enumerate(images):
        attach("domain", n, image, (KG, JL, CE)[n % 3], "DefaultUserSettings")
        attach("profile", n, image, (CE, JL)[n % 2], "UserSettings")
        attach("domain", n, image, (KG, JL)[n % 2], "DefaultSpaceSettings", default_space_settings=True)
        attach("space", n, image, KG, "SpaceSettings")
        attach("CfnDomain + profile", n, image, JL, "UserSettings")
    resources = resources_of(stack)
    assert len(of_type(resources, TYPE)) == len(targets)
    ids = set()
    for target in targets:
        first = attachments[target][0]
        assert first.resource is not None
        assert all(a.resource is first.resource for a in attachments[target]), target
        ids.add(cr_id(first))
        assert resources[cr_id(first)]["Properties"]["CustomImages"] == expected[target], target
    assert len(ids) == len(targets)
    assert len(expected["domain"]) == 2 * len(images)


EXISTING_IDS = [
    ({"domain": DOMAIN}, "StudioCustomImages-d-0123abc", "StudioCustomImagesd0123abcF4F3FD23"),
    (
        {"domain": DOMAIN, "default_space_settings": True},
        "StudioCustomImages-d-0123abc",
        "StudioCustomImagesd0123abcF4F3FD23",
    ),
    (
        {"domain": DOMAIN, "user_profile": "alice"},
        "StudioCustomImages-d-0123abc-user-profile-alice",
        "StudioCustomImagesd0123abcuserprofilealice3D20EB90",
    ),
    (
        {"domain": DOMAIN, "space": "shared"},
        "StudioCustomImages-d-0123abc-space-shared",
        "StudioCustomImagesd0123abcspaceshared7736B2D0",
    ),
    ({"domain": "d-other"}, "StudioCustomImages-d-other", "StudioCustomImagesdotherC7EFD5A8"),
]


@pytest.mark.parametrize(("target", "construct_id", "logical"), EXISTING_IDS)
def test_the_resource_is_held_under_an_id_named_after_the_target(
    kit: Kit, target: dict[str, Any], construct_id: str, logical: str
) -> None:
    """Construct ids are API: the logical id follows them, and a new one would replace the resource."""
    attachment = StudioAttachment(
        kit.stack, "Attach", image=kit.image, app_image_config=kit.configs[KG], **target
    )
    assert attachment.resource is not None
    assert attachment.resource.node.path == f"Stack/{construct_id}/Resource"
    holder = kit.stack.node.try_find_child(construct_id)
    assert holder is not None and holder.node.find_child("Resource") is attachment.resource
    assert cr_id(attachment) == logical


def test_a_target_named_by_tokens_is_one_resource_for_what_they_resolve_to(kit: Kit) -> None:
    stack = kit.stack
    parameter = cdk.CfnParameter(stack, "DomainParam").value_as_string
    images = iter(Image.from_image_name(stack, f"I{n}", f"img-{n}") for n in range(8))

    def attach(id: str, domain: Any, user_profile: Any) -> StudioAttachment:
        return StudioAttachment(
            stack,
            id,
            image=next(images),
            app_image_config=kit.configs[JL],
            domain=domain,
            user_profile=user_profile,
        )

    same = [
        attach("ByAttribute", kit.domain, "alice"),
        attach("ByAttributeAgain", kit.domain, "alice"),
        attach("ByGetAtt", cdk.Token.as_string(kit.domain.get_att("DomainId")), "alice"),
        attach("ByJoinedName", kit.domain, cdk.Fn.join("", ["ali", "ce"])),
    ]
    others = [
        attach("OtherProfile", kit.domain, "bob"),
        attach("ParameterDomain", parameter, "alice"),
        attach("ParameterDomainAgain", parameter, "alice"),
    ]
    resource = same[0].resource
    assert resource is not None
    assert all(a.resource is resource for a in same)
    assert re.fullmatch(r"StudioCustomImages[0-9a-f]{16}", resource.node.scope.node.id)  # type: ignore[union-attr]
    # The id is a digest of what the tokens resolve to: stable from one synth to the next.
    assert resource.node.path == "Stack/StudioCustomImages8b6060d8defc1169/Resource"
    assert cr_id(same[0]) == "StudioCustomImages8b6060d8defc1169E01802C3"
    assert others[1].resource is others[2].resource
    assert len({id(a.resource) for a in [same[0], *others]}) == 3
    resources = resources_of(stack)
    assert len(of_type(resources, TYPE)) == 3
    rendered = resources[cr_id(same[0])]["Properties"]
    assert rendered["DomainId"] == {"Fn::GetAtt": ["Domain", "DomainId"]}
    assert [e["ImageName"] for e in rendered["CustomImages"]] == ["img-0", "img-1", "img-2", "img-3"]


@pytest.mark.parametrize("token_first", [False, True], ids=["literal first", "token first"])
def test_a_literal_and_a_token_that_resolves_to_it_name_one_target(kit: Kit, token_first: bool) -> None:
    stack = kit.stack
    other = Image.from_image_name(stack, "Other", "other")
    joined = cdk.Fn.join("", ["d-", "0123abc"])
    domains = [joined, DOMAIN] if token_first else [DOMAIN, joined]
    first, second = (
        StudioAttachment(stack, id, image=image, app_image_config=kit.configs[KG], domain=domain)
        for id, image, domain in zip(("A", "B"), (kit.image, other), domains, strict=True)
    )
    assert second.resource is first.resource is not None
    assert first.resource.node.path == "Stack/StudioCustomImages-d-0123abc/Resource"
    ((_, resource),) = of_type(resources_of(stack), TYPE).items()
    assert resource["Properties"]["DomainId"] == DOMAIN
    assert [e["ImageName"] for e in resource["Properties"]["CustomImages"]] == ["img", "other"]


def test_one_image_by_a_literal_and_a_token_domain_on_one_target_is_refused(kit: Kit) -> None:
    StudioAttachment(kit.stack, "A", image=kit.image, app_image_config=kit.configs[KG], domain=DOMAIN)
    joined = cdk.Fn.join("", ["d-", "0123abc"])
    with pytest.raises(ValidationError, match=r"image 'img' is already listed for KernelGateway"):
        StudioAttachment(kit.stack, "B", image=kit.image, app_image_config=kit.configs[KG], domain=joined)


def test_each_stack_holds_its_own_resource_for_a_target(app: cdk.App) -> None:
    stacks = {"One": ["a", "b"], "Two": ["c"]}
    attachments = []
    for name, image_names in stacks.items():
        stack = cdk.Stack(app, name)
        config = AppImageConfig.from_app_image_config_name(stack, "Config", "cfg", JL)
        for image_name in image_names:
            image = Image.from_image_name(stack, image_name, image_name)
            attachments.append(
                StudioAttachment(
                    stack, f"Attach-{image_name}", image=image, app_image_config=config, domain=DOMAIN
                )
            )
    assert attachments[0].resource is attachments[1].resource
    assert attachments[2].resource is not attachments[0].resource
    for stack in app.node.children:
        if not isinstance(stack, cdk.Stack):
            continue
        resources = resources_of(stack)
        ((resource_id, resource),) = of_type(resources, TYPE).items()
        assert resource_id.startswith("StudioCustomImagesd0123abc")
        assert [e["ImageName"] for e in resource["Properties"]["CustomImages"]] == stacks[stack.node.id]
        function_id, _, _ = provider_ids(stack)
        assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}
        template = Template.from_stack(stack).to_json()
        assert "Fn::ImportValue" not in json.dumps(template) and "Outputs" not in template
        assert stack.dependencies == []


def test_one_function_per_stack_serves_every_target(app: cdk.App) -> None:
    stacks = [cdk.Stack(app, name) for name in ("One", "Two")]
    for stack in stacks:
        kit = make_kit(stack)
        for index, target in enumerate(
            ("domain", "default space", "profile", "space", "CfnDomain + profile")
        ):
            image = Image.from_image_name(stack, f"I{index}", f"{stack.node.id.lower()}-{index}")
            StudioAttachment(
                stack,
                f"A{index}",
                image=image,
                app_image_config=kit.configs[KG],
                **string_target(kit, target),
            )
        other = Image.from_image_name(stack, "Other", f"{stack.node.id.lower()}-other")
        other.attach_to_studio("Other", app_image_config=kit.configs[JL], domain="d-other")
    for stack in stacks:
        resources = resources_of(stack)
        ((function_id, _),) = of_type(resources, "AWS::Lambda::Function").items()
        assert function_id.startswith(studio.PROVIDER_ID)
        attachments = of_type(resources, TYPE)
        assert len(attachments) == 5  # the domain's two settings objects are one target
        for resource in attachments.values():
            assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_function_asset_holds_the_studio_handler_and_crhelper_and_nothing_compiled(app: cdk.App) -> None:
    stack = cdk.Stack(app, "Stack")
    kit = make_kit(stack)
    StudioAttachment(stack, "Attach", image=kit.image, app_image_config=kit.configs[KG], domain=DOMAIN)
    assembly = app.synth()
    (function,) = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    directory = (
        Path(assembly.directory) / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    )
    files = sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
    assert "crhelper/__init__.py" in files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    for module in HANDLER.parent.glob("*.py"):  # index.py and its modules, at the asset's root
        assert (directory / module.name).read_bytes() == module.read_bytes()
    assert (directory / "custom_resource.py").read_bytes() == SHARED.read_bytes()


def test_the_function_lives_exactly_the_handlers_budget_and_its_safety_margin(stack: cdk.Stack) -> None:
    """Read from the handler and the shared module themselves, not from studio.py's copies of them."""
    budget = module_constant(HANDLER, "MAX_SECONDS")
    margin = module_constant(SHARED, "SAFETY_MARGIN_SECONDS")
    kit = make_kit(stack)
    attachment = StudioAttachment(
        stack, "Attach", image=kit.image, app_image_config=kit.configs[KG], domain=DOMAIN
    )
    resources = resources_of(stack)
    function_id, _, _ = provider_ids(stack)
    timeout = resources[function_id]["Properties"]["Timeout"]
    assert timeout == budget + margin
    assert timeout < int(resources[cr_id(attachment)]["Properties"]["ServiceTimeout"])


# --- dependencies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("pinned", [True, False])
def test_custom_resource_waits_for_image_config_version_and_the_functions_role(
    kit: Kit, pinned: bool
) -> None:
    attachment = StudioAttachment(
        kit.stack,
        "Attach",
        image=kit.image,
        app_image_config=kit.configs[KG],
        version=kit.version if pinned else 4,
        domain=DOMAIN,
    )
    resources = resources_of(kit.stack)
    resource = resources[cr_id(attachment)]
    _, role_id, policy_id = provider_ids(kit.stack)
    depends_on = set(resource["DependsOn"])
    assert {logical_id(kit.image), role_id, policy_id} <= depends_on
    if pinned:
        assert logical_id(kit.version) in depends_on
    (listed,) = resource["Properties"]["CustomImages"]
    assert listed["AppImageConfigName"] == {"Ref": logical_id(kit.configs[KG])}
    for earlier in (kit.image, kit.configs[KG], *([kit.version] if pinned else [])):
        assert comes_after(resources, cr_id(attachment), logical_id(earlier))


def test_one_resource_waits_for_every_attachments_image_config_and_pinned_version(kit: Kit) -> None:
    stack = kit.stack
    second = Image(stack, "Second", image_name="second")
    second_version = second.add_version("V1", base_image=BASE)
    third = Image(stack, "Third", image_name="third")
    attachments = [
        StudioAttachment(
            stack, "A", image=kit.image, app_image_config=kit.configs[KG], version=kit.version, domain=DOMAIN
        ),
        StudioAttachment(
            stack, "B", image=second, app_image_config=kit.configs[JL], version=second_version, domain=DOMAIN
        ),
        StudioAttachment(stack, "C", image=third, app_image_config=kit.configs[CE], version=4, domain=DOMAIN),
    ]
    assert attachments[0].resource is attachments[1].resource is attachments[2].resource
    resources = resources_of(stack)
    resource_id = cr_id(attachments[0])
    _, role_id, policy_id = provider_ids(stack)
    earlier = [kit.image, kit.version, second, second_version, third, *kit.configs.values()]
    assert {logical_id(c) for c in [kit.image, kit.version, second, second_version, third]} | {
        role_id,
        policy_id,
    } <= set(resources[resource_id]["DependsOn"])
    for construct in earlier:
        assert comes_after(resources, resource_id, logical_id(construct)), construct.node.path


def test_targets_are_separate_resources_and_none_waits_for_another(kit: Kit) -> None:
    stack = kit.stack
    parameter = cdk.CfnParameter(stack, "DomainParam", allowed_pattern="d-.*").value_as_string
    other = Image.from_image_name(stack, "Other", "other")

    def attach(id: str, image: ImageBase, app_type: AppType, **target: Any) -> str:
        return cr_id(
            StudioAttachment(stack, id, image=image, app_image_config=kit.configs[app_type], **target)
        )

    groups = {
        # Both settings objects of a domain are written by one UpdateDomain: one target.
        "domain": [
            attach("D1", kit.image, KG, domain=DOMAIN),
            attach("D2", kit.image, JL, domain=DOMAIN),
            attach("D3", kit.image, JL, domain=DOMAIN, default_space_settings=True),
            attach("D4", other, KG, domain=DOMAIN),
        ],
        "profile": [
            attach("P1", kit.image, KG, domain=DOMAIN, user_profile="alice"),
            attach("P2", kit.image, CE, domain=DOMAIN, user_profile="alice"),
        ],
        "space": [
            attach("S1", kit.image, KG, domain=DOMAIN, space="shared"),
            attach("S2", other, KG, domain=DOMAIN, space="shared"),
        ],
        "CfnDomain profile": [
            attach("C1", kit.image, KG, domain=kit.domain, user_profile="alice"),
            attach("C2", other, KG, domain=kit.domain, user_profile="alice"),
        ],
        "token domain": [
            attach("T1", kit.image, KG, domain=parameter),
            attach("T2", other, KG, domain=parameter),
        ],
        "other domain": [attach("O1", kit.image, KG, domain="d-other")],
        "other profile": [attach("O2", kit.image, KG, domain=DOMAIN, user_profile="bob")],
        "same name, other domain": [attach("O3", kit.image, KG, domain="d-other", user_profile="alice")],
        "other space": [attach("O4", kit.image, KG, domain=DOMAIN, space="private")],
    }
    resources = resources_of(stack)
    ids = {name: set(group) for name, group in groups.items()}
    assert all(len(group) == 1 for group in ids.values()), ids
    resource_ids = [next(iter(group)) for group in ids.values()]
    assert sorted(resource_ids) == sorted(of_type(resources, TYPE))
    for a, b in itertools.permutations(resource_ids, 2):
        assert not comes_after(resources, a, b), f"{a} waits for {b}"
    for a in resource_ids:
        assert not [d for d in resources[a].get("DependsOn", []) if resources[d]["Type"] == TYPE]


# --- validation ---------------------------------------------------------------------------------------

DOMAIN_RULE = "must match the pattern d-(-*[a-z0-9]){1,61}"
NAME_RULE = "must match the pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"


def length_rule(value: str) -> str:
    return f"length must be 1-63 characters (got {len(value)})"


BAD_VALUES = [
    ("domain", "DomainId", "", length_rule("")),
    ("domain", "DomainId", "d-", DOMAIN_RULE),
    ("domain", "DomainId", "D-abc", DOMAIN_RULE),
    ("domain", "DomainId", "d-ABC", DOMAIN_RULE),
    ("domain", "DomainId", "abc", DOMAIN_RULE),
    ("domain", "DomainId", "d-abc-", DOMAIN_RULE),
    ("domain", "DomainId", "d-a_b", DOMAIN_RULE),
    ("domain", "DomainId", "d-abc\n", DOMAIN_RULE),
    ("domain", "DomainId", "d-" + "a" * 62, length_rule("d-" + "a" * 62)),
    ("user_profile", "UserProfileName", "", length_rule("")),
    ("user_profile", "UserProfileName", "-alice", NAME_RULE),
    ("user_profile", "UserProfileName", "alice-", NAME_RULE),
    ("user_profile", "UserProfileName", "al_ice", NAME_RULE),
    ("user_profile", "UserProfileName", "al.ice", NAME_RULE),
    ("user_profile", "UserProfileName", "a" * 64, length_rule("a" * 64)),
    ("space", "SpaceName", "", length_rule("")),
    ("space", "SpaceName", "-s", NAME_RULE),
    ("space", "SpaceName", "s p", NAME_RULE),
    ("space", "SpaceName", "\u00e9t\u00e9", NAME_RULE),
    ("space", "SpaceName", "s" * 64, length_rule("s" * 64)),
]


@pytest.mark.parametrize(
    ("keyword", "cfn", "value", "rule"), BAD_VALUES, ids=[f"{c[0]}={c[2]!r}" for c in BAD_VALUES]
)
def test_rejects_bad_target_names(kit: Kit, keyword: str, cfn: str, value: str, rule: str) -> None:
    target: dict[str, Any] = {"domain": DOMAIN, keyword: value}
    message = f"StudioAttachment 'Stack/Attach': invalid {keyword} ({cfn}) {value!r}: {rule}"
    with pytest.raises(ValidationError, match=f"^{re.escape(message)}$"):
        StudioAttachment(kit.stack, "Attach", image=kit.image, app_image_config=kit.configs[KG], **target)
    assert of_type(resources_of(kit.stack), TYPE) == {}  # refused before a resource was made for it


GOOD_VALUES = [
    ("domain", "d-a"),
    ("domain", "d--a"),
    ("domain", "d-a-b--c9"),
    ("domain", "d-" + "a" * 61),
    ("user_profile", "A"),
    ("user_profile", "a--B-9"),
    ("user_profile", "a" * 63),
    ("space", "9"),
    ("space", "S-" + "s" * 61),
]


@pytest.mark.parametrize(("keyword", "value"), GOOD_VALUES, ids=[f"{k}={v!r}" for k, v in GOOD_VALUES])
def test_accepts_edge_target_names_unchanged(kit: Kit, keyword: str, value: str) -> None:
    target: dict[str, Any] = {"domain": DOMAIN, keyword: value}
    attachment = StudioAttachment(
        kit.stack, "Attach", image=kit.image, app_image_config=kit.configs[KG], **target
    )
    properties = resources_of(kit.stack)[cr_id(attachment)]["Properties"]
    cfn = {"domain": "DomainId", "user_profile": "UserProfileName", "space": "SpaceName"}[keyword]
    assert properties[cfn] == value


def test_tokens_pass_through(kit: Kit) -> None:
    stack = kit.stack
    domain = cdk.CfnParameter(stack, "DomainId").value_as_string
    profile = cdk.CfnParameter(stack, "ProfileP").value_as_string
    space = cdk.CfnParameter(stack, "SpaceP").value_as_string
    number = cdk.Token.as_number(cdk.CfnParameter(stack, "Number", type="Number").value)
    a = StudioAttachment(
        stack, "A", image=kit.image, app_image_config=kit.configs[KG], domain=domain, version=number
    )
    b = StudioAttachment(
        stack, "B", image=kit.image, app_image_config=kit.configs[JL], domain=domain, user_profile=profile
    )
    c = StudioAttachment(
        stack, "C", image=kit.image, app_image_config=kit.configs[KG], domain=domain, space=space
    )
    merged = StudioAttachment(
        stack, "D", image=kit.image, app_image_config=kit.configs[KG], domain=kit.domain, version=number
    )
    resources = resources_of(stack)
    assert resources[cr_id(a)]["Properties"]["DomainId"] == {"Ref": "DomainId"}
    (listed,) = resources[cr_id(a)]["Properties"]["CustomImages"]
    assert listed["ImageVersionNumber"] == {"Ref": "Number"}
    assert resources[cr_id(b)]["Properties"]["UserProfileName"] == {"Ref": "ProfileP"}
    assert resources[cr_id(c)]["Properties"]["SpaceName"] == {"Ref": "SpaceP"}
    assert merged.resource is None
    domain_images = custom_images(resources["Domain"]["Properties"], "DefaultUserSettings", KG)
    assert domain_images[-1]["ImageVersionNumber"] == {"Ref": "Number"}


def refused(kit: Kit, case: str) -> dict[str, Any]:
    """Keywords (besides scope and id) of an attachment the issue refuses."""
    other = Image(kit.stack, "Other", image_name="other")
    other_version = other.add_version("V", base_image=BASE)
    imported = ImageVersion.from_image_version_arn(
        kit.stack, "Imported", "arn:aws:sagemaker:us-east-1:111122223333:image-version/other/3"
    )
    base: dict[str, Any] = {"image": kit.image, "app_image_config": kit.configs[KG], "domain": DOMAIN}
    cases: dict[str, dict[str, Any]] = {
        "JupyterLab on a space": {"app_image_config": kit.configs[JL], "space": "shared"},
        "CodeEditor on a space": {"app_image_config": kit.configs[CE], "space": "shared"},
        "JupyterLab on a CfnSpace": {"app_image_config": kit.configs[JL], "space": kit.space},
        "CodeEditor on a CfnSpace": {"app_image_config": kit.configs[CE], "space": kit.space},
        "CodeEditor in DefaultSpaceSettings": {
            "app_image_config": kit.configs[CE],
            "default_space_settings": True,
        },
        "CodeEditor in a CfnDomain's DefaultSpaceSettings": {
            "app_image_config": kit.configs[CE],
            "domain": kit.domain,
            "default_space_settings": True,
        },
        "profile and space": {"user_profile": "alice", "space": "shared"},
        "CfnUserProfile and CfnSpace": {"user_profile": kit.profile, "space": kit.space},
        "CfnUserProfile and space": {"user_profile": kit.profile, "space": "shared"},
        "profile and CfnSpace": {"user_profile": "alice", "space": kit.space},
        "default_space_settings with a profile": {"user_profile": "alice", "default_space_settings": True},
        "default_space_settings with a CfnUserProfile": {
            "user_profile": kit.profile,
            "default_space_settings": True,
        },
        "default_space_settings with a space": {"space": "shared", "default_space_settings": True},
        "default_space_settings with a CfnSpace": {"space": kit.space, "default_space_settings": True},
        "a version of another image": {"version": other_version},
        "a version of another image, merged": {"version": other_version, "domain": kit.domain},
        "an imported version of another image": {"version": imported},
        "version 0": {"version": 0},
        "version -1": {"version": -1},
        "version True": {"version": True},
        "version False": {"version": False},
        "version 1.5": {"version": 1.5},
        "domain not a str": {"domain": 123},
    }
    return {**base, **cases[case]}


BAD_CONFIG = r"invalid app_image_config: "
ONLY_KG = r"whose CustomImages SageMaker has only for KernelGateway$"
NOT_BOTH = r"give user_profile or space, not both"
DOMAIN_ONLY = r"invalid default_space_settings True: .*for a domain target only"
MUST_BE = r"must be an ImageVersion of the image, a version number from 1 to 2147483647, or None"
REFUSALS = {
    "JupyterLab on a space": BAD_CONFIG
    + r"a JupyterLab config cannot be listed in SpaceSettings, "
    + ONLY_KG,
    "CodeEditor on a space": BAD_CONFIG
    + r"a CodeEditor config cannot be listed in SpaceSettings, "
    + ONLY_KG,
    "JupyterLab on a CfnSpace": BAD_CONFIG
    + r"a JupyterLab config cannot be listed in SpaceSettings, "
    + ONLY_KG,
    "CodeEditor on a CfnSpace": BAD_CONFIG
    + r"a CodeEditor config cannot be listed in SpaceSettings, "
    + ONLY_KG,
    "CodeEditor in DefaultSpaceSettings": r"invalid app_image_config: a CodeEditor config cannot be listed "
    r"in DefaultSpaceSettings, whose CustomImages SageMaker has only for KernelGateway, JupyterLab$",
    "CodeEditor in a CfnDomain's DefaultSpaceSettings": BAD_CONFIG
    + r"a CodeEditor config cannot be listed in DefaultSpaceSettings, ",
    "profile and space": NOT_BOTH,
    "CfnUserProfile and CfnSpace": NOT_BOTH,
    "CfnUserProfile and space": NOT_BOTH,
    "profile and CfnSpace": NOT_BOTH,
    "default_space_settings with a profile": DOMAIN_ONLY,
    "default_space_settings with a CfnUserProfile": DOMAIN_ONLY,
    "default_space_settings with a space": DOMAIN_ONLY,
    "default_space_settings with a CfnSpace": DOMAIN_ONLY,
    "a version of another image": r"invalid version 'Stack/Other/V': it is a version of image 'Stack/Other', "
    r"not of 'Stack/Image'$",
    "a version of another image, merged": r"invalid version 'Stack/Other/V': it is a version of image",
    "an imported version of another image": r"invalid version 'Stack/Imported': it is a version of image "
    r"'Stack/Imported/Image', not of 'Stack/Image'$",
    "version 0": r"invalid version 0: " + MUST_BE,
    "version -1": r"invalid version -1: " + MUST_BE,
    "version True": r"invalid version True: " + MUST_BE,
    "version False": r"invalid version False: " + MUST_BE,
    "version 1.5": r"invalid version 1\.5: expected a whole number$",
    "domain not a str": r"invalid domain 123: expected a domain id or a CfnDomain, got int$",
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refuses_what_the_issue_refuses(kit: Kit, case: str) -> None:
    before = baseline()
    with pytest.raises(ValidationError, match=r"^StudioAttachment 'Stack/Attach': " + REFUSALS[case]):
        StudioAttachment(kit.stack, "Attach", **refused(kit, case))
    # Refused before anything was written into an L1 or a custom resource made.
    resources = resources_of(kit.stack)
    assert of_type(resources, TYPE) == {}
    for name in L1_IDS.values():
        assert resources[name]["Properties"] == before[name]["Properties"]


@pytest.mark.parametrize("keyword", ["user_profile", "space"])
def test_a_wrong_type_of_profile_or_space_is_a_validation_error(kit: Kit, keyword: str) -> None:
    wrong = {"user_profile": kit.space, "space": kit.profile}[keyword]
    kind = type(wrong).__name__
    with pytest.raises(
        ValidationError,
        match=rf"^StudioAttachment 'Stack/Attach': invalid {keyword} .*: expected .*, got {kind}$",
    ):
        StudioAttachment(
            kit.stack,
            "Attach",
            image=kit.image,
            app_image_config=kit.configs[KG],
            domain=DOMAIN,
            **{keyword: wrong},
        )


@pytest.mark.parametrize("how", ["ImageVersion of an import by name", "version imported by ARN"])
def test_a_version_of_the_same_image_by_another_handle_is_accepted(kit: Kit, how: str) -> None:
    if how == "ImageVersion of an import by name":
        version: Any = Image.from_image_name(kit.stack, "Same", "img").add_version("V2", base_image=BASE)
        rendered: Any = {"Fn::GetAtt": [logical_id(version), "Version"]}
    else:
        version = ImageVersion.from_image_version_arn(
            kit.stack, "Imported", "arn:aws:sagemaker:us-east-1:111122223333:image-version/img/3"
        )
        rendered = 3
    attachment = StudioAttachment(
        kit.stack, "Attach", image=kit.image, app_image_config=kit.configs[KG], version=version, domain=DOMAIN
    )
    (listed,) = resources_of(kit.stack)[cr_id(attachment)]["Properties"]["CustomImages"]
    assert listed["ImageVersionNumber"] == rendered


# --- the function's role ------------------------------------------------------------------------------


def every_kind(stack: cdk.Stack, domain_in_stack: sm.CfnDomain | None = None) -> Kit:
    """Attachments of every kind: L1 merges, existing targets, CfnDomain with existing profile/space."""
    kit = make_kit(stack)
    image, configs = kit.image, kit.configs
    other = Image.from_image_name(stack, "Other", "other")
    image.attach_to_studio("DomainKg", app_image_config=configs[KG], version=kit.version, domain=kit.domain)
    image.attach_to_studio("DomainCe", app_image_config=configs[CE], version=1, domain=kit.domain)
    image.attach_to_studio(
        "DomainSpaceJl", app_image_config=configs[JL], domain=kit.domain, default_space_settings=True
    )
    image.attach_to_studio("ProfileL1", app_image_config=configs[JL], domain=DOMAIN, user_profile=kit.profile)
    image.attach_to_studio("SpaceL1", app_image_config=configs[KG], domain=DOMAIN, space=kit.space)
    image.attach_to_studio("ExistingDomain", app_image_config=configs[JL], version=kit.version, domain=DOMAIN)
    other.attach_to_studio("ExistingDomain2", app_image_config=configs[CE], version=2, domain=DOMAIN)
    image.attach_to_studio(
        "ExistingDefaultSpace", app_image_config=configs[KG], domain=DOMAIN, default_space_settings=True
    )
    image.attach_to_studio("OtherDomain", app_image_config=configs[KG], domain="d-other")
    image.attach_to_studio("ExistingProfile", app_image_config=configs[CE], domain=DOMAIN, user_profile="bob")
    other.attach_to_studio(
        "ExistingProfile2", app_image_config=configs[KG], domain=DOMAIN, user_profile="bob"
    )
    image.attach_to_studio("ExistingSpace", app_image_config=configs[KG], domain=DOMAIN, space="team")
    image.attach_to_studio(
        "L1DomainProfile", app_image_config=configs[JL], domain=kit.domain, user_profile="carol"
    )
    image.attach_to_studio("L1DomainSpace", app_image_config=configs[KG], domain=kit.domain, space="lab")
    return kit


def test_role_may_call_exactly_the_six_actions_on_exactly_the_targets(stack: cdk.Stack) -> None:
    kit = every_kind(stack)
    resources = resources_of(stack)
    _, role_id, _ = provider_ids(stack)
    role = resources[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert of_type(resources, "AWS::IAM::ManagedPolicy") == {}
    policies = [
        p
        for p in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    (policy,) = policies
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    ((log_group_id, _),) = of_type(resources, "AWS::Logs::LogGroup").items()
    logs = [s for s in statements if any(a.startswith("logs:") for a in as_list(s["Action"]))]
    assert logs == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
        }
    ]
    sagemaker = [s for s in statements if s not in logs and as_list(s["Action"])[0].startswith("sagemaker:")]
    ledger = [s for s in statements if s not in logs and s not in sagemaker]
    assert sagemaker
    granted: dict[tuple[str, ...], list[str]] = {}
    for statement in sagemaker + ledger:
        assert statement["Effect"] == "Allow"
        assert set(statement) == {"Action", "Effect", "Resource"}  # no Condition, no NotAction/NotResource
        resources = [json.dumps(stack.resolve(r), sort_keys=True) for r in as_list(statement["Resource"])]
        granted.setdefault(tuple(sorted(as_list(statement["Action"]))), []).extend(resources)
    domain_id = kit.domain.attr_domain_id
    targets = [
        ("domain", DOMAIN, "domain"),
        ("domain", "d-other", "domain"),
        ("user-profile", f"{DOMAIN}/bob", "user-profile/bob"),
        ("space", f"{DOMAIN}/team", "space/team"),
        ("user-profile", f"{domain_id}/carol", "user-profile/carol"),
        ("space", f"{domain_id}/lab", "space/lab"),
    ]
    # Each once, though several attachments share a target: SageMaker's actions on the target, the
    # ledger's read on its path, its writes on the records below that path (no wider).
    assert sorted(granted) == sorted(
        [
            tuple(sorted(studio.SAGEMAKER_ACTIONS)),
            ("ssm:GetParametersByPath",),
            ("ssm:DeleteParameters", "ssm:PutParameter"),
        ]
    )
    assert sorted(granted[tuple(sorted(studio.SAGEMAKER_ACTIONS))]) == sorted(
        arn(stack, kind, name) for kind, name, _ in targets
    )

    def parameter(name: str, domain: str, rest: str) -> str:
        arn = stack.format_arn(service="ssm", resource="parameter", resource_name=f"{name}/{domain}/{rest}")
        return json.dumps(stack.resolve(arn), sort_keys=True)

    prefix = studio.LEDGER_PREFIX.lstrip("/")
    paths = [(name.split("/")[0], rest) for _, name, rest in targets]
    assert sorted(granted[("ssm:GetParametersByPath",)]) == sorted(parameter(prefix, d, r) for d, r in paths)
    assert sorted(granted[("ssm:DeleteParameters", "ssm:PutParameter")]) == sorted(
        parameter(prefix, d, f"{r}/*") for d, r in paths
    )
    actions = [a for s in statements for a in as_list(s["Action"])]
    assert "iam:PassRole" not in actions
    assert not [a for a in actions if "*" in a]
    assert "*" not in json.dumps([s["Resource"] for s in sagemaker])
    assert sorted(studio.SAGEMAKER_ACTIONS) == [
        f"sagemaker:{verb}{noun}"
        for verb in ("Describe", "Update")
        for noun in ("Domain", "Space", "UserProfile")
    ]


def test_an_arn_appears_once_when_a_token_and_a_literal_name_the_same_target(stack: cdk.Stack) -> None:
    kit = make_kit(stack)
    for index, domain in enumerate((DOMAIN, cdk.Fn.join("", ["d-", "0123abc"]), DOMAIN)):
        image = Image.from_image_name(stack, f"I{index}", f"image-{index}")  # one image per listing
        StudioAttachment(stack, f"A{index}", image=image, app_image_config=kit.configs[KG], domain=domain)
    provider = studio._StudioProvider.of(stack)
    policy = provider.role.node.find_child("DefaultPolicy").node.default_child
    statements = stack.resolve(policy.policy_document)["Statement"]  # type: ignore[union-attr]
    resources = [r for s in statements[1:] for r in as_list(s["Resource"])]
    ledger = f"{studio.LEDGER_PREFIX.lstrip('/')}/{DOMAIN}/domain"
    assert resources == [
        stack.resolve(stack.format_arn(service="sagemaker", resource="domain", resource_name=DOMAIN)),
        stack.resolve(stack.format_arn(service="ssm", resource="parameter", resource_name=ledger)),
        stack.resolve(stack.format_arn(service="ssm", resource="parameter", resource_name=f"{ledger}/*")),
    ]


# --- the contract with the handler (docs/studio-custom-resource.md) ------------------------------------


def contract_tables() -> tuple[dict[str, bool], dict[str, bool]]:
    """The contract's properties and entry fields, each with whether it is required."""
    tables: dict[str, dict[str, bool]] = {}
    current: dict[str, bool] | None = None
    for line in CONTRACT.read_text().splitlines():
        if not line.startswith("|"):
            current = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] in ("property", "field"):
            current = tables.setdefault(cells[0], {})
        elif current is not None and set(cells[0]) - {"-", " "}:
            for name in re.findall(r"`(\w+)`", cells[0]):
                current[name] = "required" in cells[1]
    return tables["property"], tables["field"]


def as_deployed(value: Any, values: dict[str, str]) -> Any:
    """A property as CloudFormation hands it to the function: each Ref and Fn::GetAtt replaced by its
    deployed value (``values``, by logical id or ``id.Attribute``), and every scalar a string."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return values[value["Ref"]]
        if set(value) == {"Fn::GetAtt"}:
            return values[".".join(value["Fn::GetAtt"])]
        return {key: as_deployed(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [as_deployed(item, values) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def parsed_target(target: Any) -> tuple[Any, ...]:
    """The handler's Target, as (DomainId, UserProfileName, SpaceName)."""
    return (target.domain_id, target.profile, target.space)


def parsed_entry(entry: Any) -> tuple[Any, ...]:
    """The handler's Entry, as (Settings, AppType, ImageName, AppImageConfigName, ImageVersionNumber)."""
    return (entry.settings, entry.app_type, entry.image, entry.config, entry.version)


# What every_kind lists on existing targets, by (DomainId, UserProfileName, SpaceName) as deployed:
# (Settings, AppType, ImageName, AppImageConfigName, ImageVersionNumber) in declaration order.
DEPLOYED_DOMAIN = "d-fromtemplate"
EVERY_KIND_ENTRIES = {
    (DOMAIN, None, None): [
        ("DefaultUserSettings", "JupyterLab", "img", "jl-config", 1),
        ("DefaultUserSettings", "CodeEditor", "other", "ce-config", 2),
        ("DefaultSpaceSettings", "KernelGateway", "img", "kg-config", None),
    ],
    ("d-other", None, None): [("DefaultUserSettings", "KernelGateway", "img", "kg-config", None)],
    (DOMAIN, "bob", None): [
        ("UserSettings", "CodeEditor", "img", "ce-config", None),
        ("UserSettings", "KernelGateway", "other", "kg-config", None),
    ],
    (DOMAIN, None, "team"): [("SpaceSettings", "KernelGateway", "img", "kg-config", None)],
    (DEPLOYED_DOMAIN, "carol", None): [("UserSettings", "JupyterLab", "img", "jl-config", None)],
    (DEPLOYED_DOMAIN, None, "lab"): [("SpaceSettings", "KernelGateway", "img", "kg-config", None)],
}


def deployed_properties(stack: cdk.Stack, kit: Kit) -> list[dict[str, Any]]:
    """The ResourceProperties the function gets for each of the stack's custom resources."""
    function_id, _, _ = provider_ids(stack)
    names = {KG: "kg-config", JL: "jl-config", CE: "ce-config"}  # make_kit's configs' names
    values = {
        f"{function_id}.Arn": "arn:aws:lambda:us-east-1:111122223333:function:studio",
        f"{logical_id(kit.version)}.Version": "1",
        "Domain.DomainId": DEPLOYED_DOMAIN,
        **{logical_id(config): names[app_type] for app_type, config in kit.configs.items()},
    }
    return [as_deployed(r["Properties"], values) for r in of_type(resources_of(stack), TYPE).values()]


def test_contract_handler_calls_exactly_what_the_policy_allows(stack: cdk.Stack) -> None:
    handler = load_handler()
    assert tuple(handler.SAGEMAKER_ACTIONS) == tuple(studio.SAGEMAKER_ACTIONS)
    every_kind(stack)
    assert granted_actions(stack, "sagemaker:") == set(handler.SAGEMAKER_ACTIONS)


def granted_actions(stack: cdk.Stack, prefix: str) -> set[str]:
    """Every action of the stack's policies that starts with ``prefix``."""
    return {
        action
        for policy in of_type(resources_of(stack), "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in as_list(statement["Action"])
        if action.startswith(prefix)
    }


def test_contract_construct_and_handler_agree_on_the_ledger_and_the_reconcile_event(stack: cdk.Stack) -> None:
    """What the construct grants, renders and documents is what the function's modules use."""
    load_handler()  # its modules beside it, importable as in Lambda
    ledger, reconcile, entries = (
        sys.modules[name] for name in ("studio_ledger", "studio_reconcile", "studio_entries")
    )
    assert tuple(ledger.SSM_ACTIONS) == studio.SSM_ACTIONS
    assert ledger.PREFIX == studio.LEDGER_PREFIX
    assert entries.LEDGER_VERSION == studio.LEDGER_VERSION
    assert (reconcile.EVENT_KEY, reconcile.EVENT_VALUE) == (studio.RECONCILE_KEY, studio.RECONCILE_VALUE)
    assert (reconcile.METRIC_NAMESPACE, reconcile.METRIC_NAME) == (
        studio.METRIC_NAMESPACE,
        studio.METRIC_NAME,
    )
    every_kind(stack)
    assert granted_actions(stack, "ssm:") == set(ledger.SSM_ACTIONS)


def test_contract_construct_and_handler_agree_on_where_custom_images_exist() -> None:
    handler = load_handler()
    assert {(settings, app_type) for _, settings, app_type in L1_CASES} == {
        (settings, app_type) for settings, app_types in studio.APP_TYPES_IN.items() for app_type in app_types
    }
    assert {k: tuple(a.value for a in v) for k, v in studio.APP_TYPES_IN.items()} == {
        k: tuple(v) for k, v in handler.APP_TYPES_IN.items()
    }
    assert tuple(handler.APP_TYPES) == tuple(a.value for a in AppType)
    assert studio.RESOURCE_TYPE == TYPE


def test_contract_the_construct_renders_only_what_the_contract_names(stack: cdk.Stack) -> None:
    properties, fields = contract_tables()
    assert {"DomainId", "UserProfileName", "SpaceName", "CustomImages", "ServiceToken"} <= set(properties)
    assert {"Settings", "AppType", "ImageName", "AppImageConfigName", "ImageVersionNumber"} <= set(fields)
    every_kind(stack)
    rendered = of_type(resources_of(stack), TYPE)
    assert len(rendered) == len(EVERY_KIND_ENTRIES)
    for resource in rendered.values():
        props = resource["Properties"]
        assert set(props) <= set(properties)
        assert {name for name, required in properties.items() if required} <= set(props)
        assert not {"UserProfileName", "SpaceName"} <= set(props)
        settings = (
            {"UserSettings"}
            if "UserProfileName" in props
            else {"SpaceSettings"}
            if "SpaceName" in props
            else {"DefaultUserSettings", "DefaultSpaceSettings"}
        )
        assert props["CustomImages"]  # 1-n
        for listed in props["CustomImages"]:
            assert set(listed) <= set(fields)
            assert {name for name, required in fields.items() if required} <= set(listed)
            assert listed["Settings"] in settings
            assert AppType(listed["AppType"]) in studio.APP_TYPES_IN[listed["Settings"]]


def test_contract_handler_parses_what_the_construct_renders_as_cloudformation_sends_it(
    stack: cdk.Stack,
) -> None:
    handler = load_handler()
    kit = every_kind(stack)
    parsed = {}
    for props in deployed_properties(stack, kit):
        assert props["ServiceTimeout"] == str(studio.SERVICE_TIMEOUT.to_seconds())  # a string, as sent
        target, entries = handler._parse(props)
        parsed[parsed_target(target)] = [parsed_entry(e) for e in entries]
    assert parsed == EVERY_KIND_ENTRIES


def test_contract_handler_refuses_a_property_or_field_the_contract_does_not_name(stack: cdk.Stack) -> None:
    """So the parse above also says the construct renders nothing the handler would ignore."""
    handler = load_handler()
    kit = every_kind(stack)
    props = deployed_properties(stack, kit)[0]
    handler._parse(props)
    with pytest.raises(ValueError, match="Extra"):
        handler._parse({**props, "Extra": "x"})
    listed = [{**props["CustomImages"][0], "Extra": "x"}, *props["CustomImages"][1:]]
    with pytest.raises(ValueError, match="Extra"):
        handler._parse({**props, "CustomImages": listed})


# --- cdk-nag and cfn-lint -----------------------------------------------------------------------------


def test_every_kind_of_attachment_passes_aws_solutions_and_cfn_lint(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stack = cdk.Stack(app, "Stack")
    every_kind(stack)
    assembly = app.synth()  # raises on any unacknowledged finding
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert plugin["conclusion"] == "success"
    assert plugin.get("violations", []) == []
    suppressed = sorted(
        (finding["ruleName"], construct["constructPath"])
        for finding in plugin.get("suppressedViolations", [])
        for construct in finding["violatingConstructs"]
    )
    # The image's own ecr:GetAuthorizationToken, and of the Studio function only the records below each
    # of its 6 targets' ledger paths (<path>/*), on the policy that holds them.
    ledger = [finding for finding in suppressed if finding[0].startswith("AwsSolutions-IAM5[Resource::arn:")]
    assert [finding for finding in suppressed if finding not in ledger] == [
        ("AwsSolutions-IAM5[Resource::*]", "Stack/Image/EcrAuthorizationPolicy/Resource")
    ]
    policy = f"Stack/{studio.PROVIDER_ID}/Role/DefaultPolicy/Resource"
    arn = "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>"
    prefix = f"AwsSolutions-IAM5[Resource::{arn}:parameter{studio.LEDGER_PREFIX}/"
    assert len(ledger) == 6
    assert all(rule.startswith(prefix) and rule.endswith("/*]") and path == policy for rule, path in ledger)
    template = assembly.get_stack_by_name("Stack").template
    assert lint_errors(template) == []
    # What was linted holds every kind: one custom resource per existing target, entries in each L1.
    resources = template["Resources"]
    assert len(of_type(resources, TYPE)) == len(EVERY_KIND_ENTRIES)  # one per existing target
    merged = [
        ("Domain", "DefaultUserSettings", KG),
        ("Domain", "DefaultUserSettings", CE),
        ("Domain", "DefaultSpaceSettings", JL),
        ("Profile", "UserSettings", JL),
        ("Space", "SpaceSettings", KG),
    ]
    for name, settings, app_type in merged:
        assert [e["ImageName"] for e in custom_images(resources[name]["Properties"], settings, app_type)][
            1:
        ] == ["img"]


def test_cfn_lint_sees_a_broken_merge(stack: cdk.Stack) -> None:
    """The oracle is awake: an entry without AppImageConfigName in a domain is a schema error."""
    kit = make_kit(stack)
    kit.domain.add_property_override(
        "DefaultUserSettings.KernelGatewayAppSettings.CustomImages", [{"ImageName": "x"}]
    )
    assert [e for e in lint_errors(Template.from_stack(stack).to_json()) if "CustomImages" in e]


# --- image.attach_to_studio ---------------------------------------------------------------------------


ATTACH_CASES = {
    "CfnDomain": lambda kit: {"domain": kit.domain, "default_space_settings": True},
    "CfnUserProfile": lambda kit: {"domain": DOMAIN, "user_profile": kit.profile},
    "CfnSpace": lambda kit: {"domain": DOMAIN, "space": kit.space},
    "existing domain": lambda kit: {"domain": DOMAIN},
    "existing profile of a CfnDomain": lambda kit: {"domain": kit.domain, "user_profile": "alice"},
    "existing space": lambda kit: {"domain": DOMAIN, "space": "shared"},
}


@pytest.mark.parametrize("case", list(ATTACH_CASES))
def test_attach_to_studio_is_the_construct_under_the_image(case: str) -> None:
    target: Callable[[Kit], dict[str, Any]] = ATTACH_CASES[case]

    def build(method: bool) -> dict[str, Any]:
        stack = cdk.Stack(cdk.App(), "Stack")
        kit = make_kit(stack)
        keywords = {"app_image_config": kit.configs[KG], "version": kit.version, **target(kit)}
        if method:
            attachment = kit.image.attach_to_studio("Attach", **keywords)
        else:
            attachment = StudioAttachment(kit.image, "Attach", image=kit.image, **keywords)
        assert isinstance(attachment, StudioAttachment)
        assert attachment.node.path == "Stack/Image/Attach"
        assert attachment.image is kit.image and attachment.app_type is KG
        return Template.from_stack(stack).to_json()  # type: ignore[no-any-return]

    by_method = build(True)
    assert by_method == build(False)
    # Not trivially equal: the attachment is in it, as a custom resource or in one of the L1s.
    resources = by_method["Resources"]
    changed = [
        name for name, before in baseline().items() if resources[name]["Properties"] != before["Properties"]
    ]
    assert len(of_type(resources, TYPE)) + len(changed) == 1


def test_one_image_twice_on_one_existing_target_is_refused(kit: Kit) -> None:
    """Two attachments would share one entry of the resource: deleting either would detach the image."""
    StudioAttachment(kit.stack, "A", image=kit.image, app_image_config=kit.configs[KG], domain=DOMAIN)
    same = Image.from_image_name(kit.stack, "Same", "img")
    with pytest.raises(
        ValidationError,
        match=r"^StudioAttachment 'Stack/B': image 'img' is already listed for KernelGateway in this target "
        r"by StudioAttachment 'Stack/A'",
    ):
        StudioAttachment(
            kit.stack, "B", image=same, app_image_config=kit.configs[KG], version=2, domain=DOMAIN
        )
    # Another settings object, app type or target of the same domain is another entry.
    StudioAttachment(
        kit.stack,
        "C",
        image=kit.image,
        app_image_config=kit.configs[KG],
        domain=DOMAIN,
        default_space_settings=True,
    )
    StudioAttachment(kit.stack, "D", image=kit.image, app_image_config=kit.configs[JL], domain=DOMAIN)
    StudioAttachment(
        kit.stack, "E", image=kit.image, app_image_config=kit.configs[KG], domain=DOMAIN, user_profile="alice"
    )


def test_one_image_on_one_target_from_two_stacks_is_refused(app: cdk.App) -> None:
    """Each stack's resource would list the entry, and deleting either stack would detach it."""
    for name in ("One", "Two"):
        stack = cdk.Stack(app, name)
        config = AppImageConfig.from_app_image_config_name(stack, "Config", "cfg", JL)
        image = Image.from_image_name(stack, "Image", "img")
        if name == "One":
            StudioAttachment(
                stack, "A", image=image, app_image_config=config, domain=DOMAIN, user_profile="al"
            )
            continue
        StudioAttachment(
            stack, "Other", image=image, app_image_config=config, domain=DOMAIN
        )  # another target
        with pytest.raises(
            ValidationError,
            match=r"^StudioAttachment 'Two/B': image 'img' is already listed for JupyterLab in this target "
            r"by StudioAttachment 'One/A'",
        ):
            StudioAttachment(
                stack, "B", image=image, app_image_config=config, domain=DOMAIN, user_profile="al"
            )


@pytest.mark.parametrize(("version", "ok"), [(2**31 - 1, True), (2**31, False)])
def test_a_version_number_is_a_32_bit_integer(kit: Kit, version: int, ok: bool) -> None:
    def attach() -> StudioAttachment:
        return StudioAttachment(
            kit.stack, "A", image=kit.image, app_image_config=kit.configs[KG], version=version, domain=DOMAIN
        )

    if ok:
        assert attach().resource is not None
    else:
        with pytest.raises(ValidationError, match=rf"invalid version {version}: .*from 1 to 2147483647"):
            attach()


@pytest.mark.parametrize("target", ["profile", "space"])
def test_a_domain_id_is_checked_beside_an_l1_member_too(kit: Kit, target: str) -> None:
    member = {"profile": {"user_profile": kit.profile}, "space": {"space": kit.space}}[target]
    with pytest.raises(ValidationError, match=r"invalid domain \(DomainId\) 'D-bad'"):
        StudioAttachment(
            kit.stack, "A", image=kit.image, app_image_config=kit.configs[KG], domain="D-bad", **member
        )
