"""The input checks of an attachment: kinds, settings, version numbers, environments, names across stacks."""

from __future__ import annotations

from typing import Any, cast
from weakref import WeakKeyDictionary

from aws_cdk import Annotations, CfnResource, Resource, Stack
from aws_cdk import aws_sagemaker as sagemaker
from constructs import IConstruct

from .. import validation
from ..enums import AppType
from ..interfaces import IAppImageConfig, IImage, IImageVersion
from ..stacks import _root
from ..tokens import identity, is_unresolved
from .contract import (
    DOCUMENTED_MEMBER_KERNEL_GATEWAY,
    KERNEL_GATEWAY_CAP_WARNING,
    MAX_CUSTOM_IMAGES,
    MAX_MEMBER_KERNEL_GATEWAY,
)

_FOREIGN_VERSION = (
    "{owner}: invalid version {version!r}: a version of another stack can be pinned only through a "
    "cross-stack reference (an export), and moving the pin or removing the version would then delete an "
    "export the target's stack still imports, which CloudFormation refuses. Pin it by number "
    "(version=<n>), leave version out for SageMaker's latest version, or declare the target (or, for an "
    "existing target, the attachment) in the version's stack"
)


def _check_kinds(
    owner: object,
    image: object,
    app_image_config: object,
    version: object,
    domain: object,
    user_profile: object,
    space: object,
) -> None:
    """Refuse a missing required keyword or a value of the wrong kind, before it meets an attribute."""
    for keyword, value, attribute, expected in (
        ("image", image, "image_name", "an IImage (an Image, or Image.from_image_name / from_image_arn)"),
        (
            "app_image_config",
            app_image_config,
            "app_type",
            "an IAppImageConfig (an AppImageConfig, or AppImageConfig.from_app_image_config_name)",
        ),
        ("domain", domain, None, "a domain id or a CfnDomain"),
    ):
        validation.check_required(owner, keyword, value, expected)
        if attribute is not None and (isinstance(value, str) or not hasattr(value, attribute)):
            raise validation.ValidationError(
                f"{owner}: invalid {keyword} {value!r}: expected {expected}, got {type(value).__name__}"
            )
    if version is not None and not isinstance(version, int | float) and not hasattr(version, "image"):
        raise validation.ValidationError(
            f"{owner}: invalid version {version!r}: expected an ImageVersion of the image, a version "
            f"number (int), or None for the image's latest version, got {type(version).__name__}"
        )
    for keyword, value, cfn_kind, expected in (
        ("domain", domain, sagemaker.CfnDomain, "a domain id or a CfnDomain"),
        ("user_profile", user_profile, sagemaker.CfnUserProfile, "a user profile's name or a CfnUserProfile"),
        ("space", space, sagemaker.CfnSpace, "a space's name or a CfnSpace"),
    ):
        if not isinstance(value, cfn_kind):
            validation.check_type(owner, keyword, value, str, expected)


def _check_environments(
    owner: object,
    stack: Stack,
    carrier: Stack,
    image: IImage,
    config: IAppImageConfig,
    version: object,
    target: IConstruct | None = None,
) -> None:
    """Refuse a target, image, config or pinned version of another account or region (both known) than
    the attachment's stack or the stack that carries the entry: every stack involved is compared."""
    stacks = [stack] if carrier is stack else [stack, carrier]
    things: list[tuple[str, object]] = [("image", image), ("app_image_config", config), ("version", version)]
    if target is not None:
        things.insert(0, ("target", target))
    for keyword, construct in things:
        if construct is None or isinstance(construct, int | float):
            continue
        home = _home_of(construct)
        if any(home is s for s in stacks) and not getattr(construct, "_environment_from_arn", False):
            continue  # in the same stack, and not imported from an ARN of elsewhere
        if isinstance(construct, CfnResource):  # an L1 target: its stack's environment
            theirs = _environment(home)
        else:
            env = cast(Resource, construct).env
            theirs = (env.account, env.region)
        for s in stacks:
            mine = _environment(s)
            if any(
                not is_unresolved(a) and not is_unresolved(b) and a != b
                for a, b in zip(mine, theirs, strict=True)
            ):
                raise validation.ValidationError(
                    f"{owner}: its {keyword} {cast(IConstruct, construct).node.path!r} is in account "
                    f"{theirs[0]!r}, region {theirs[1]!r}, but stack {s.node.path!r} is in account "
                    f"{mine[0]!r}, region {mine[1]!r}; Studio lists images of its own account and region"
                )


def _environment(stack: Stack) -> tuple[str, str]:
    environment = _ENVIRONMENTS.get(stack)
    if environment is None:
        environment = _ENVIRONMENTS[stack] = (stack.account, stack.region)
    return environment


# A stack's account and region, read once (two round trips) however many attachments ask.
_ENVIRONMENTS: WeakKeyDictionary[Stack, tuple[str, str]] = WeakKeyDictionary()


def _name_in(carrier: Stack, construct: object, name: str) -> str:
    """The name an entry carries: in another stack, the literal name where the library knows it.

    A name attribute read in another stack is an export, and the export goes when the attachment goes,
    while the target's stack (which deploys after) still imports it: CloudFormation refuses that. The
    literal needs no export; the attachment's dependency on the resource keeps the order.
    """
    given = getattr(construct, "_given_name", None)
    if getattr(construct, "_home", carrier) is carrier or not given or is_unresolved(given):
        return name
    return str(given)


def _home_of(construct: object) -> Stack:
    """The construct's stack: the one the library's constructs remember, else asked (a round trip)."""
    home = getattr(construct, "_home", None)
    return home if isinstance(home, Stack) else Stack.of(cast(IConstruct, construct))


def _foreign(carrier: Stack, version: object) -> bool:
    """Whether a version is of another top-level stack than the one that carries the entry."""
    home = _home_of(version)
    return home is not carrier and _root(home).node.path != _root(carrier).node.path


def _settings(owner: object, user_profile: object, space: object, default_space_settings: bool) -> str:
    """The settings object that holds the entry, or a ValidationError for a combination with none."""
    if user_profile is not None and space is not None:
        raise validation.ValidationError(
            f"{owner}: give user_profile or space, not both (a space's settings are not a profile's)"
        )
    if default_space_settings and (user_profile is not None or space is not None):
        raise validation.ValidationError(
            f"{owner}: invalid default_space_settings True: it is the domain's default for shared "
            "spaces, for a domain target only; leave it out with user_profile or space"
        )
    if user_profile is not None:
        return "UserSettings"
    if space is not None:
        return "SpaceSettings"
    return "DefaultSpaceSettings" if default_space_settings else "DefaultUserSettings"


def _version_number(owner: object, image: IImage, version: IImageVersion | int | float | None) -> Any:
    """The entry's ImageVersionNumber: a version's number (a token), a literal number, or None."""
    if version is None:
        return None
    if isinstance(version, bool) or (isinstance(version, int) and not 1 <= version <= validation.INT32_MAX):
        raise validation.ValidationError(
            f"{owner}: invalid version {version!r}: must be an ImageVersion of the image, a version "
            f"number from 1 to {validation.INT32_MAX}, or None for the image's latest version"
        )
    if isinstance(version, int):
        return version
    if isinstance(version, float):
        if is_unresolved(version):
            return version
        raise validation.ValidationError(f"{owner}: invalid version {version!r}: expected a whole number")
    theirs = version.image
    if theirs is not image:
        stack = Stack.of(image)
        same = identity(stack, theirs.image_name) == identity(stack, image.image_name)
        if not same:
            raise validation.ValidationError(
                f"{owner}: invalid version {version.node.path!r}: it is a version of image "
                f"{theirs.node.path!r}, not of {image.node.path!r}"
            )
    return version.version


def _shown_in(stack: Stack, name: Any) -> Any:
    return stack.resolve(name) if is_unresolved(name) else name


def custom_images_cap(settings: str, app_type: AppType) -> int:
    """How many entries one CustomImages list of ``settings`` and ``app_type`` may hold."""
    member = settings in ("UserSettings", "SpaceSettings") and app_type is AppType.KERNEL_GATEWAY
    return MAX_MEMBER_KERNEL_GATEWAY if member else MAX_CUSTOM_IMAGES


def check_cap(
    owner: validation.ConstructOwner, where: object, settings: str, app_type: AppType, count: int
) -> None:
    """Refuse the ``count``-th entry of a list past its cap; warn past the documented 5 of a member's
    KernelGateway list. ``where`` is shown with ``str()`` only then (a path is a round trip)."""
    cap = custom_images_cap(settings, app_type)
    if count > cap:
        source = (
            "CloudFormation's schema for a user profile's or a space's KernelGateway list"
            if cap == MAX_MEMBER_KERNEL_GATEWAY
            else "SageMaker's limit per app type"
        )
        raise validation.ValidationError(
            f"{owner}: {where}{settings}.{app_type.value}AppSettings would list more than {cap} custom "
            f"images, {source}"
        )
    if cap == MAX_MEMBER_KERNEL_GATEWAY and count == DOCUMENTED_MEMBER_KERNEL_GATEWAY + 1:
        Annotations.of(owner.construct).add_warning_v2(
            KERNEL_GATEWAY_CAP_WARNING,
            f"{where}{settings}.KernelGatewayAppSettings lists {count} custom images: the API "
            f"reference documents at most {DOCUMENTED_MEMBER_KERNEL_GATEWAY} on a user profile or a space "
            f"(CloudFormation's schema allows {MAX_MEMBER_KERNEL_GATEWAY}); SageMaker may refuse the update. "
            "Acknowledge this if your account takes more",
        )
