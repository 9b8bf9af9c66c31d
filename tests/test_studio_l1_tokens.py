"""StudioAttachment into an L1 of this app whose settings' CustomImages is a token: refused, by the L1's path.

The attachment's entry is appended to the entries the user wrote; a token (a list token, or an
IResolvable standing for the whole list) has no entries to append to until CloudFormation resolves it,
so the merge refuses it with a ValidationError that names the L1 and says "token". At attach time that
is the ValidationError itself; a token written after the attachment is found at synth, where the error
reaches Python as jsii's RuntimeError carrying the same message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_sagemaker as sm
from aws_cdk.assertions import Template

from constructs_lib import AppImageConfig, AppType, Image, StudioAttachment, ValidationError

ROLE = "arn:aws:iam::111122223333:role/studio-execution"
DOMAIN = "d-0123abc"
# Each kind of L1 target: its settings object, and an app type SageMaker has CustomImages for there.
KINDS = {
    "domain": ("DefaultUserSettings", AppType.JUPYTER_LAB),
    "domain-default-space": ("DefaultSpaceSettings", AppType.JUPYTER_LAB),
    "profile": ("UserSettings", AppType.JUPYTER_LAB),
    "space": ("SpaceSettings", AppType.KERNEL_GATEWAY),
}


@jsii.implements(cdk.IStableAnyProducer)
class _Produces:
    def __init__(self, value: Any) -> None:
        self._value = value

    def produce(self) -> Any:
        return self._value


def _entries(stack: cdk.Stack) -> list[Any]:
    return [{"imageName": "theirs", "appImageConfigName": "their-config"}]  # as the L1 takes them


def _parameter_list(stack: cdk.Stack) -> list[str]:
    return cdk.CfnParameter(stack, "Images", type="CommaDelimitedList").value_as_list


# Values for a settings object's CustomImages that are tokens as a whole. jsii takes no list token
# (a list of one "#{Token[...]}" string) where CustomImages is typed, so a list token reaches an L1 as
# Token.as_any of it; an IResolvable is taken as it is.
TOKENS: dict[str, Callable[[cdk.Stack], Any]] = {
    "list-token-as-list": lambda stack: cdk.Token.as_any(cdk.Token.as_list(cdk.Lazy.any(_Produces([])))),
    "list-token-fn-split": lambda stack: cdk.Token.as_any(cdk.Fn.split(",", cdk.Aws.STACK_NAME)),
    "list-token-parameter": lambda stack: cdk.Token.as_any(_parameter_list(stack)),
    "lazy-any": lambda stack: cdk.Lazy.any(_Produces(_entries(stack))),
    "get-att": lambda stack: cdk.Fn.get_att("Elsewhere", "CustomImages"),
}


def settings_of(kind: str, custom_images: Any) -> Any:
    """The settings struct of ``kind``'s L1 whose one app's CustomImages is ``custom_images``."""
    if kind in ("domain", "domain-default-space"):
        d = sm.CfnDomain
        apps = d.JupyterLabAppSettingsProperty(custom_images=custom_images)
        if kind == "domain":
            return d.UserSettingsProperty(execution_role=ROLE, jupyter_lab_app_settings=apps)
        return d.DefaultSpaceSettingsProperty(execution_role=ROLE, jupyter_lab_app_settings=apps)
    if kind == "profile":
        p = sm.CfnUserProfile
        return p.UserSettingsProperty(
            execution_role=ROLE,
            jupyter_lab_app_settings=p.JupyterLabAppSettingsProperty(custom_images=custom_images),
        )
    s = sm.CfnSpace
    return s.SpaceSettingsProperty(
        kernel_gateway_app_settings=s.KernelGatewayAppSettingsProperty(custom_images=custom_images)
    )


def make_l1(stack: cdk.Stack, kind: str, custom_images: Any) -> cdk.CfnResource:
    settings = settings_of(kind, custom_images)
    if kind == "domain":
        return sm.CfnDomain(
            stack, "Domain", auth_mode="IAM", domain_name="studio", default_user_settings=settings
        )
    if kind == "domain-default-space":
        return sm.CfnDomain(
            stack,
            "Domain",
            auth_mode="IAM",
            domain_name="studio",
            default_user_settings=sm.CfnDomain.UserSettingsProperty(execution_role=ROLE),
            default_space_settings=settings,
        )
    if kind == "profile":
        return sm.CfnUserProfile(
            stack, "Profile", domain_id=DOMAIN, user_profile_name="alice", user_settings=settings
        )
    return sm.CfnSpace(stack, "Space", domain_id=DOMAIN, space_name="shared", space_settings=settings)


def rewrite_settings(l1: cdk.CfnResource, kind: str, custom_images: Any) -> None:
    """Set the L1's settings again, as a user may after attaching."""
    settings = settings_of(kind, custom_images)
    if kind == "domain":
        assert isinstance(l1, sm.CfnDomain)
        l1.default_user_settings = settings
    elif kind == "domain-default-space":
        assert isinstance(l1, sm.CfnDomain)
        l1.default_space_settings = settings
    elif kind == "profile":
        assert isinstance(l1, sm.CfnUserProfile)
        l1.user_settings = settings
    else:
        assert isinstance(l1, sm.CfnSpace)
        l1.space_settings = settings


def attach(stack: cdk.Stack, l1: cdk.CfnResource, kind: str, id: str = "Attach") -> StudioAttachment:
    _, app_type = KINDS[kind]
    image = Image.from_image_name(stack, f"{id}Image", f"img-{id.lower()}")
    config = AppImageConfig.from_app_image_config_name(stack, f"{id}Config", "cfg", app_type)
    target: dict[str, Any] = {"domain": l1} if kind == "domain" else {}
    if kind == "domain-default-space":
        target = {"domain": l1, "default_space_settings": True}
    elif kind == "profile":
        target = {"domain": DOMAIN, "user_profile": l1}
    elif kind == "space":
        target = {"domain": DOMAIN, "space": l1}
    return StudioAttachment(stack, id, image=image, app_image_config=config, **target)


def refusal(stack: cdk.Stack, build: Callable[[], object]) -> str:
    """The message of the refusal, raised when attaching (ValidationError) or at synth (via jsii)."""
    with pytest.raises((ValidationError, RuntimeError)) as raised:
        build()
        Template.from_stack(stack)
    return str(raised.value)


def assert_names_the_token(message: str, l1: cdk.CfnResource, kind: str) -> None:
    settings, _ = KINDS[kind]
    assert f"{l1.node.path}: its {settings} CustomImages is a token" in message, message


@pytest.mark.parametrize("token", TOKENS.values(), ids=TOKENS.keys())
@pytest.mark.parametrize("kind", KINDS)
def test_a_token_custom_images_is_refused_at_attach(
    stack: cdk.Stack, kind: str, token: Callable[..., Any]
) -> None:
    l1 = make_l1(stack, kind, token(stack))
    message = refusal(stack, lambda: attach(stack, l1, kind))
    assert_names_the_token(message, l1, kind)


@pytest.mark.parametrize("token", TOKENS.values(), ids=TOKENS.keys())
@pytest.mark.parametrize("kind", KINDS)
def test_a_token_custom_images_written_after_attaching_is_refused_at_synth(
    stack: cdk.Stack, kind: str, token: Callable[..., Any]
) -> None:
    l1 = make_l1(stack, kind, [])
    attach(stack, l1, kind)
    rewrite_settings(l1, kind, token(stack))
    with pytest.raises(RuntimeError) as raised:  # raised inside resolution: jsii's RuntimeError
        Template.from_stack(stack)
    assert_names_the_token(str(raised.value), l1, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_the_l1_itself_refuses_a_bare_list_token(stack: cdk.Stack, kind: str) -> None:
    """Why the list tokens above are wrapped: jsii refuses a list token where CustomImages is typed."""
    with pytest.raises(RuntimeError, match=r"customImages"):
        make_l1(stack, kind, _parameter_list(stack))


@pytest.mark.parametrize("kind", KINDS)
def test_an_entry_that_is_a_token_keeps_its_cloudformation_keys_when_merged(
    stack: cdk.Stack, kind: str
) -> None:
    """The refusal is for a token standing for the whole list: a list whose entry is a token takes the
    attachment's entry after it, and CloudFormation gets both as the L1 alone would render them."""
    settings, app_type = KINDS[kind]
    l1 = make_l1(stack, kind, [cdk.Token.as_any(_entries(stack)[0])])
    attach(stack, l1, kind)
    properties = Template.from_stack(stack).to_json()["Resources"][stack.get_logical_id(l1)]["Properties"]
    assert properties[settings][f"{app_type.value}AppSettings"]["CustomImages"] == [
        {"ImageName": "theirs", "AppImageConfigName": "their-config"},
        {"ImageName": "img-attach", "AppImageConfigName": "cfg"},
    ]
