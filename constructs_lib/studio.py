"""Studio attachment: list an image (a version of it, or its latest) in a Studio domain, user profile or
space, so that the users it is for can run it.

A target this app defines (``CfnDomain``, ``CfnUserProfile``, ``CfnSpace``) gets the entry merged into its
own properties at synth: CloudFormation's Domain update resends the template's whole settings, so
anything written into it from outside would be lost at its next update. An existing target (a string)
gets it from ``Custom::SageMakerStudioCustomImages`` (``lambda/studio_custom_images``): one resource per
target and stack holds all of the stack's entries there, so a deploy makes one read-modify-write and one
update call per target, writing only the ``<AppType>AppSettings`` objects that hold them
(``docs/studio-custom-resource.md`` is the contract).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast
from weakref import WeakKeyDictionary

import jsii
from aws_cdk import (
    Annotations,
    Aspects,
    CfnResource,
    CustomResource,
    Duration,
    IAspect,
    IResolvable,
    IResolveContext,
    IStableAnyProducer,
    Lazy,
    Reference,
    Resource,
    Stack,
    Tokenization,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from . import validation
from .enums import AppType
from .interfaces import IAppImageConfig, IImage, IImageVersion
from .provider import FunctionProvider
from .tokens import identity, is_unresolved

RESOURCE_TYPE = "Custom::SageMakerStudioCustomImages"
# The library's own id for its one Studio function per stack (construct ids are API: never change it).
PROVIDER_ID = "SageMakerStudioCustomImagese6df6e51a32b4e069fe01e36b4723fe4"
# The id prefix of the construct that holds a stack's entries on one existing target (then the target).
TARGET_ID_PREFIX = "StudioCustomImages"
# Exactly what lambda/studio_custom_images/index.py calls (a contract test holds the two together).
SAGEMAKER_ACTIONS = (
    "sagemaker:DescribeDomain",
    "sagemaker:UpdateDomain",
    "sagemaker:DescribeUserProfile",
    "sagemaker:UpdateUserProfile",
    "sagemaker:DescribeSpace",
    "sagemaker:UpdateSpace",
)
# The function's waits and retries share the handler's budget (its MAX_SECONDS) and stop its
# SAFETY_MARGIN_SECONDS before the Lambda deadline: the function lives exactly as long as both, so the
# handler answers with its own reason, never Lambda's timeout. CloudFormation gives up on a silent
# function after SERVICE_TIMEOUT instead of the default hour. (A test holds these to the handler's.)
HANDLER_MAX_SECONDS = 600
HANDLER_SAFETY_MARGIN_SECONDS = 30
FUNCTION_TIMEOUT = Duration.seconds(HANDLER_MAX_SECONDS + HANDLER_SAFETY_MARGIN_SECONDS)
SERVICE_TIMEOUT = Duration.minutes(15)

# SageMaker lists at most this many CustomImages in one <AppType>AppSettings (botocore's model).
MAX_CUSTOM_IMAGES = 200
# Warning ids are API: users acknowledge them with Annotations.of(...).acknowledge_warning(id).
STUDIO_CLASSIC_WARNING = "@sagemaker-image-constructs/studio:studio-classic"
NO_VERSION_WARNING = "@sagemaker-image-constructs/studio:image-without-version"

# Where SageMaker has CustomImages, by the settings object that holds them (botocore's model).
APP_TYPES_IN = {
    "DefaultUserSettings": (AppType.KERNEL_GATEWAY, AppType.JUPYTER_LAB, AppType.CODE_EDITOR),
    "DefaultSpaceSettings": (AppType.KERNEL_GATEWAY, AppType.JUPYTER_LAB),
    "UserSettings": (AppType.KERNEL_GATEWAY, AppType.JUPYTER_LAB, AppType.CODE_EDITOR),
    "SpaceSettings": (AppType.KERNEL_GATEWAY,),
}
# The key of each settings object, and of each app's settings, in an L1's properties.
_SETTINGS_KEY = {
    "DefaultUserSettings": "defaultUserSettings",
    "DefaultSpaceSettings": "defaultSpaceSettings",
    "UserSettings": "userSettings",
    "SpaceSettings": "spaceSettings",
}
_APP_SETTINGS_KEY = {
    AppType.KERNEL_GATEWAY: "kernelGatewayAppSettings",
    AppType.JUPYTER_LAB: "jupyterLabAppSettings",
    AppType.CODE_EDITOR: "codeEditorAppSettings",
}

Target = str | sagemaker.CfnDomain | sagemaker.CfnUserProfile | sagemaker.CfnSpace


class StudioProvider(FunctionProvider):
    """The stack's one Studio function; its role grows by one ARN per target."""

    PROVIDER_ID = PROVIDER_ID
    HANDLER = "studio_custom_images"
    DESCRIPTION = (
        "Custom::SageMakerStudioCustomImages: lists custom images in Studio domains, user profiles and spaces"
    )
    ACTIONS = SAGEMAKER_ACTIONS
    # arn:aws-us-gov:sagemaker:us-isof-south-1:<12 digits>:user-profile/<domain id, 63>/<63>
    ARN_SIZE_ESTIMATE = 194
    TIMEOUT = FUNCTION_TIMEOUT


class StudioAttachment(Construct):
    """Lists a custom image in the ``CustomImages`` of a Studio domain, user profile or space.

    The app type (and so the ``<AppType>AppSettings`` the entry goes into) is the config's. The
    attachment waits for the image, the config and, when pinned, the version.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        image: IImage,
        app_image_config: IAppImageConfig,
        version: IImageVersion | int | float | None = None,
        domain: str | sagemaker.CfnDomain,
        user_profile: str | sagemaker.CfnUserProfile | None = None,
        space: str | sagemaker.CfnSpace | None = None,
        default_space_settings: bool = False,
    ) -> None:
        """
        :param image: the image to list (an ``Image`` or an import).
        :param app_image_config: how Studio runs it; its ``app_type`` picks the ``<AppType>AppSettings``.
        :param version: an ``ImageVersion`` of this image (the entry pins its number), a version
            number of 1 or more (or a numeric token), or None. Default: None, SageMaker's latest
            version of the image.
        :param domain: the domain: an existing domain's id (``d-...``) or a ``CfnDomain`` of this app.
        :param user_profile: a user profile of the domain (its name, or a ``CfnUserProfile`` of this
            app): the entry goes into its ``UserSettings``. Default: none, the domain's settings.
        :param space: a space of the domain (its name, or a ``CfnSpace``): the entry goes into its
            ``SpaceSettings`` (KernelGateway only). Default: none.
        :param default_space_settings: for a domain target only: list the image in the domain's
            ``DefaultSpaceSettings`` (shared spaces) instead of ``DefaultUserSettings``. Default: False.
        """
        super().__init__(scope, id)
        owner = validation.ConstructOwner("StudioAttachment", self)
        _check_kinds(owner, image, app_image_config, version, domain, user_profile, space)
        if isinstance(domain, str):  # checked whichever way the entry is written
            validation.check(owner, "domain (DomainId)", domain, validation.DOMAIN_ID)
        app_type = AppType(app_image_config.app_type)
        settings = _settings(owner, user_profile, space, default_space_settings)
        if app_type not in APP_TYPES_IN[settings]:
            allowed = ", ".join(str(a.value) for a in APP_TYPES_IN[settings])
            raise validation.ValidationError(
                f"{owner}: invalid app_image_config: a {app_type.value} config cannot be listed in "
                f"{settings}, whose CustomImages SageMaker has only for {allowed}"
            )
        number = _version_number(owner, image, version)
        l1 = _l1_target(domain, user_profile, space)
        # The stack whose template carries the entry: the L1's, or this one's (the custom resource).
        stack = getattr(image, "_home", None) if scope is cast(object, image) else None
        stack = stack or Stack.of(self)
        merged = _MergedTarget.of(l1) if l1 is not None else None
        carrier = merged.stack if merged is not None else stack
        _check_environments(owner, stack, carrier, image, app_image_config, version)

        self.image = image
        self.app_image_config = app_image_config
        self.app_type = app_type
        self.settings = settings
        config_name = app_image_config.app_image_config_name
        entry: dict[str, Any] = {
            "ImageName": _name_in(carrier, image, image.image_name),
            "AppImageConfigName": _name_in(carrier, app_image_config, config_name),
        }
        if number is not None:
            if not isinstance(version, int | float) and _foreign(carrier, version):
                path = cast(IConstruct, version).node.path
                raise validation.ValidationError(_FOREIGN_VERSION.format(owner=owner, version=path))
            entry["ImageVersionNumber"] = number
        # It waits for the image, the config (by its Ref, or where its name is a literal, explicitly) and
        # the version it lists: the pinned one, else the image's last version declared so far.
        waits_for: list[IConstruct] = list(getattr(image, "_image_resources", ()))
        if entry["AppImageConfigName"] is not config_name:
            waits_for.append(app_image_config)
        versions: list[IConstruct] = getattr(image, "_versions", [])
        if version is not None and not isinstance(version, int | float):
            waits_for.append(version)
        elif versions:
            waits_for.append(versions[-1])
        elif getattr(image, "_image_resources", None):
            # A version may still be declared after this: look again at synth.
            Aspects.of(self).add(_WaitForVersions(self, image))
        if app_type is AppType.KERNEL_GATEWAY:
            Annotations.of(self).add_warning_v2(
                STUDIO_CLASSIC_WARNING,
                "KernelGateway custom images show only in Studio Classic, which takes no new users; "
                "the current Studio lists custom images for JupyterLab and CodeEditor",
            )

        #: The custom resource that lists this entry (shared by the stack's attachments to the same
        #: existing target), or None when the entry is merged into an L1 of this app.
        self.resource: CustomResource | None = None
        if merged is not None:
            merged.add(owner, image, settings, app_type, entry, waits_for)
            self._carrier: IConstruct = merged.l1
        else:
            member = user_profile if user_profile is not None else space
            if member is not None:
                kind, cfn = (
                    ("user-profile", "UserProfileName")
                    if user_profile is not None
                    else ("space", "SpaceName")
                )
                assert isinstance(member, str)  # checked above; an L1 member went to the merge
                validation.check(owner, f"{kind.replace('-', '_')} ({cfn})", member, validation.STUDIO_NAME)
            target = _ExistingTarget.of(stack, domain, user_profile, space)
            _Listings.of(stack).add(owner, target.key, settings, app_type, entry["ImageName"], stack)
            target.add(settings, app_type, entry, waits_for)
            self.resource = target.resource
            self._carrier = target.resource


class _ExistingTarget(Construct):
    """A stack's entries on one existing domain, user profile or space, held by one custom resource.

    One resource, not one per attachment: CloudFormation then calls the function once per target per
    deploy, and the function makes one read-modify-write (one update call, one wait for InService),
    where resources chained per attachment made one each. The resource's ``CustomImages`` are produced
    at synth from the entries added here.
    """

    @classmethod
    def of(
        cls,
        stack: Stack,
        domain: str | sagemaker.CfnDomain,
        user_profile: str | sagemaker.CfnUserProfile | None,
        space: str | sagemaker.CfnSpace | None,
    ) -> _ExistingTarget:
        """The stack's construct for this target, made on the first attachment to it."""
        domain_id = domain.attr_domain_id if isinstance(domain, sagemaker.CfnDomain) else domain
        member = cast(str | None, user_profile if user_profile is not None else space)
        kind = "user-profile" if user_profile is not None else "space" if space is not None else "domain"
        parts = [domain_id, kind] if member is None else [domain_id, kind, member]
        # Named by what the parts resolve to: a literal and a token that resolves to it are one target.
        keys = [identity(stack, part) for part in parts]
        resolved = [json.loads(key) for key in keys]
        literal = all(isinstance(part, str) for part in resolved)
        if literal:
            id = "-".join([TARGET_ID_PREFIX, *(resolved if member is not None else resolved[:1])])
        else:
            digest = hashlib.sha256("/".join(keys).encode()).hexdigest()
            id = f"{TARGET_ID_PREFIX}{digest[:16]}"
        targets = _TARGETS.setdefault(stack, {})
        found = targets.get(id)
        if found is None:
            found = targets[id] = cls(stack, id, domain_id=domain_id, kind=kind, member=member)
            # Literal ids name one target app-wide; tokens resolve per stack.
            found.key = "/".join(resolved) if literal else f"{stack.node.path}/{id}"
        return found

    key: str  # the target, for the app-wide listings

    def __init__(self, scope: Stack, id: str, *, domain_id: str, kind: str, member: str | None) -> None:
        super().__init__(scope, id)
        self._entries: list[dict[str, Any]] = []
        self._waits_for: set[int] = set()
        provider = StudioProvider.of(scope)
        provider.allow(_arn(scope, kind, domain_id if member is None else f"{domain_id}/{member}"))
        properties: dict[str, Any] = {"DomainId": domain_id}
        if member is not None:
            properties["UserProfileName" if kind == "user-profile" else "SpaceName"] = member
        properties["CustomImages"] = Lazy.any(_Entries(self._entries))
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.function_arn,
            resource_type=RESOURCE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties=properties,
        )
        self.resource.node.add_dependency(provider.role)

    def add(
        self, settings: str, app_type: AppType, entry: dict[str, Any], waits_for: list[IConstruct]
    ) -> None:
        """List one more entry (the app's listings have refused duplicates), after what it waits for."""
        self._entries.append({"Settings": settings, "AppType": app_type.value, **entry})
        new = [construct for construct in waits_for if id(construct) not in self._waits_for]
        if new:
            self._waits_for.update(id(construct) for construct in new)
            self.resource.node.add_dependency(*new)


# The stack's targets by construct id: the same constructs the stack holds, found without the two round
# trips of node.try_find_child per attachment (36 of the studio bench's, for its 18 existing-target ones).
_TARGETS: WeakKeyDictionary[Stack, dict[str, _ExistingTarget]] = WeakKeyDictionary()


class _Listings(Construct):
    """What the app's attachments list on existing targets, by target, settings, app type and image.

    App-wide, under the app's root: two stacks listing one image on one target would share the entry,
    and deleting either stack would detach it for the other; and SageMaker takes at most
    ``MAX_CUSTOM_IMAGES`` per list.
    """

    ID = "SageMakerStudioCustomImagesListings"

    @classmethod
    def of(cls, stack: Stack) -> _Listings:
        listings = _LISTINGS.get(stack)
        if listings is None:
            root = stack.node.root
            found = root.node.try_find_child(cls.ID)
            listings = _LISTINGS[stack] = found if isinstance(found, _Listings) else cls(root, cls.ID)
        return listings

    def __init__(self, scope: IConstruct, id: str) -> None:
        super().__init__(cast(Construct, scope), id)
        self._lists: dict[tuple[str, str, str], dict[str, object]] = {}

    def add(
        self, owner: object, target: str, settings: str, app_type: AppType, name: str, stack: Stack
    ) -> None:
        listed = self._lists.setdefault((target, settings, app_type.value), {})
        image = identity(stack, name)
        by = listed.get(image)
        if by is not None:
            raise validation.ValidationError(
                f"{owner}: image {_shown_in(stack, name)!r} is already listed for {app_type.value} in "
                f"this target by {by}; two attachments would share one entry, and deleting either would "
                "detach it"
            )
        if len(listed) >= MAX_CUSTOM_IMAGES:
            raise validation.ValidationError(
                f"{owner}: {settings}.{app_type.value}AppSettings of this target would list more than "
                f"{MAX_CUSTOM_IMAGES} custom images, SageMaker's limit per app type"
            )
        listed[image] = owner


# Each stack's way to the app's listings, saving the three round trips of finding them per attachment.
_LISTINGS: WeakKeyDictionary[Stack, _Listings] = WeakKeyDictionary()


@jsii.implements(IStableAnyProducer)
class _Entries:
    """The custom resource's CustomImages, as the attachments added them by synth."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._entries = entries

    def produce(self) -> Any:
        return self._entries


class _MergedTarget(Construct):
    """The attachments merged into one L1 of this app, held under that L1 (found by its id)."""

    ID = "StudioCustomImages"

    @classmethod
    def of(cls, l1: CfnResource) -> _MergedTarget:
        found = l1.node.try_find_child(cls.ID)
        if found is not None:
            assert isinstance(found, _MergedTarget)
            return found
        return cls(l1, cls.ID)

    def __init__(self, l1: CfnResource, id: str) -> None:
        super().__init__(l1, id)
        self.l1 = l1
        self.stack = Stack.of(l1)
        self._lists: dict[str, _MergedCustomImages] = {}  # by the path of a CustomImages list
        self._roles: dict[str, list[iam.Role]] = {}  # the execution roles of each settings object
        self._granted: set[tuple[str, str]] = set()  # (role path, image name identity)
        self._waits_for: set[int] = set()  # what the L1 already depends on, by id()

    def add(
        self,
        owner: object,
        image: IImage,
        settings: str,
        app_type: AppType,
        entry: dict[str, Any],
        waits_for: list[IConstruct],
    ) -> None:
        """Add the entry to the L1's own CustomImages at synth, after the entries written there."""
        path = f"{settings}.{app_type.value}AppSettings.CustomImages"
        producer = self._lists.get(path)
        if producer is None:
            producer = self._lists[path] = _MergedCustomImages(self.l1, settings, app_type)
            self.l1.add_property_override(path, Lazy.any(producer))
        producer.add(owner, entry)
        new = [construct for construct in waits_for if id(construct) not in self._waits_for]
        if new:
            self._waits_for.update(id(construct) for construct in new)
            self.l1.node.add_dependency(*new)
        self._grant_read(image, settings)

    def _grant_read(self, image: IImage, settings: str) -> None:
        """Let the target's execution role, where it is a ``Role`` of this app, read the image.

        SageMaker describes the image version with that role when it updates the target, and leaves it
        Update_Failed when the role may not. The L1 waits for the grant.
        """
        roles = self._roles.get(settings)
        if roles is None:
            roles = self._roles[settings] = _execution_roles(self.l1, settings)
        for role in roles:
            key = (role.node.path, identity(self.stack, image.image_name))
            if key not in self._granted:
                self._granted.add(key)
                image.grant_read(role).apply_before(self.l1)


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
    owner: object, stack: Stack, carrier: Stack, image: IImage, config: IAppImageConfig, version: object
) -> None:
    """Refuse an image, config or pinned version of another account or region (both known) than the
    attachment's stack or the stack that carries the entry."""
    stacks = [stack] if carrier is stack else [stack, carrier]
    for keyword, construct in (("image", image), ("app_image_config", config), ("version", version)):
        if construct is None or isinstance(construct, int | float):
            continue
        home = _home_of(construct)
        if any(home is s for s in stacks) and not getattr(construct, "_environment_from_arn", False):
            continue  # in the same stack, and not imported from an ARN of elsewhere
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


def _root(stack: Stack) -> Stack:
    while stack.nested_stack_parent is not None:
        stack = stack.nested_stack_parent
    return stack


@jsii.implements(IAspect)
class _WaitForVersions:
    """At synth, for an attachment made before its image had a version: wait for the last version
    declared by then, or warn that the image has none (SageMaker cannot list an image without one)."""

    def __init__(self, attachment: StudioAttachment, image: IImage) -> None:
        self._attachment = attachment
        self._image = image
        self._done = False

    def visit(self, node: IConstruct) -> None:
        if self._done:
            return
        self._done = True
        versions = getattr(self._image, "_versions", [])
        if versions:
            self._attachment._carrier.node.add_dependency(versions[-1])
        else:
            Annotations.of(self._attachment).add_warning_v2(
                NO_VERSION_WARNING,
                f"Image {self._image.node.path} has no version in this app and the attachment pins none: "
                "SageMaker fails to list an image without versions. Add a version, or acknowledge this "
                "if the image already has versions",
            )


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


def _l1_target(domain: Target, user_profile: Target | None, space: Target | None) -> CfnResource | None:
    """The L1 of this app that receives the entry at synth, or None for the custom resource."""
    if isinstance(user_profile, sagemaker.CfnUserProfile):
        return user_profile
    if isinstance(space, sagemaker.CfnSpace):
        return space
    if isinstance(domain, sagemaker.CfnDomain) and user_profile is None and space is None:
        return domain
    return None


def _execution_roles(l1: CfnResource, settings: str) -> list[iam.Role]:
    """The ``Role`` constructs of this app that run the apps of an L1 target's settings.

    A profile without a role of its own, and a space, run with their domain's default (when that
    domain is a ``CfnDomain`` of this app too). A role given as an ARN string or an imported role is
    not ours to change: the README says what it needs.
    """
    properties = _properties(l1)
    arns: list[Any] = [_field(properties, _SETTINGS_KEY[settings], "executionRole")]
    if not isinstance(l1, sagemaker.CfnDomain) and arns[0] is None:
        domain = _referenced(_field(properties, "domainId"), sagemaker.CfnDomain)
        if isinstance(domain, sagemaker.CfnDomain):
            default = "DefaultUserSettings" if settings == "UserSettings" else "DefaultSpaceSettings"
            arns = [_field(_properties(domain), _SETTINGS_KEY[default], "executionRole")]
    roles = []
    for arn in arns:
        cfn_role = _referenced(arn, iam.CfnRole)
        role = cfn_role.node.scope if cfn_role is not None else None
        if isinstance(role, iam.Role):
            roles.append(role)
    return roles


def _referenced(value: Any, kind: type[CfnResource]) -> Any:
    """The L1 of ``kind`` whose attribute ``value`` is (a token that references it), else None."""
    if not isinstance(value, str) or not is_unresolved(value):
        return None
    reference = Tokenization.reverse(value)
    target = reference.target if isinstance(reference, Reference) else None
    return target if isinstance(target, kind) else None


def _arn(stack: Stack, resource: str, name: str) -> str:
    return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)


@dataclass
class _Listed:
    owner: object
    entry: dict[str, Any]
    name: str | None  # identity() of its ImageName


@jsii.implements(IStableAnyProducer)
class _MergedCustomImages:
    """The CustomImages of one L1's settings: the user's entries, then the attachments'.

    The user's entries are read when the first attachment comes (reading an L1's settings struct
    costs a round trip per field) and again at synth, for what the user changed since.
    """

    def __init__(self, l1: CfnResource, settings: str, app_type: AppType) -> None:
        self._l1 = l1
        self._stack = Stack.of(l1)
        self._settings = settings
        self._app_type = app_type
        self._listed: list[_Listed] = []
        self._written_names = {self._name(entry) for entry in self._written()}

    def add(self, owner: object, entry: dict[str, Any]) -> None:
        """Take one more entry, refusing an image listed already: by an attachment or by the user."""
        name = self._name(entry)
        by = next((listed.owner for listed in self._listed if listed.name == name), None)
        if by is None and name in self._written_names:
            by = f"{self._l1.node.path}'s own {self._settings}"
        if by is not None:
            raise validation.ValidationError(
                f"{owner}: image {_shown_in(self._stack, entry['ImageName'])!r} is already listed in "
                f"this {self._settings} by {by}; SageMaker lists an image once per app type"
            )
        if len(self._written_names) + len(self._listed) >= MAX_CUSTOM_IMAGES:
            raise validation.ValidationError(
                f"{owner}: {self._l1.node.path}'s {self._settings}.{self._app_type.value}AppSettings would "
                f"list more than {MAX_CUSTOM_IMAGES} custom images, SageMaker's limit per app type"
            )
        self._listed.append(_Listed(owner, entry, name))

    def produce(self) -> Any:
        """The user's entries as they are at synth, then the attachments'.

        Checked again here for entries the user wrote after attaching; an error raised inside
        resolution reaches Python as jsii's RuntimeError, with this message.
        """
        written = self._written()
        names = {self._name(entry) for entry in written}
        for listed in self._listed:
            if listed.name in names:
                raise validation.ValidationError(
                    f"{listed.owner}: image {_shown_in(self._stack, listed.entry['ImageName'])!r} is "
                    f"already listed in {self._l1.node.path}'s own {self._settings}; SageMaker lists an "
                    "image once per app type"
                )
        return written + [listed.entry for listed in self._listed]

    def _name(self, entry: Any) -> str | None:
        """The identity of an entry's ImageName (None for an entry that is a token as a whole)."""
        return identity(self._stack, str(entry["ImageName"])) if isinstance(entry, dict) else None

    def _written(self) -> list[Any]:
        """The entries the user wrote in the L1's properties (entries or tokens)."""
        app = _APP_SETTINGS_KEY[self._app_type]
        images = _field(_properties(self._l1), _SETTINGS_KEY[self._settings], app, "customImages")
        if images is None:
            return []
        if is_unresolved(images) or not isinstance(images, list):
            raise validation.ValidationError(
                f"{self._l1.node.path}: its {self._settings} CustomImages is a token, so attachments "
                "cannot be merged into it; list them as entries"
            )
        return [_entry(item) for item in images]


def _properties(l1: CfnResource) -> Any:
    """An L1's properties as plain data (camelCase keys, tokens as tokens), in one round trip.

    Reading a settings attribute instead costs a round trip per field of the struct, nested ones
    included (about 23 for a domain's UserSettings), since jsii copies the whole struct to Python.
    """
    return l1._cfn_properties


def _field(properties: Any, *path: str) -> Any:
    """The value at ``path`` in an L1's properties, or None where it is absent (or a token)."""
    for key in path:
        if not isinstance(properties, dict):
            return None
        properties = properties.get(key)
    return properties


def _entry(item: Any) -> Any:
    """A user's CustomImages entry as CloudFormation takes it."""
    if not isinstance(item, dict):
        return _CloudFormationEntry(item)
    return {_CFN_KEYS[key]: value for key, value in item.items() if key in _CFN_KEYS and value is not None}


_CFN_KEYS = {
    "imageName": "ImageName",
    "appImageConfigName": "AppImageConfigName",
    "imageVersionNumber": "ImageVersionNumber",
}


@jsii.implements(IResolvable)
class _CloudFormationEntry:
    """A user's entry that is a token, resolved with CloudFormation's keys.

    The L1 renames the fields of the entries it renders itself; a property override is taken as it is,
    so the struct a token stands for would keep jsii's camelCase keys there.
    """

    def __init__(self, item: Any) -> None:
        self._item = item

    @property
    def creation_stack(self) -> list[str]:
        return []

    def resolve(self, context: IResolveContext) -> Any:
        resolved = context.resolve(self._item)
        if isinstance(resolved, dict):
            return {_CFN_KEYS.get(key, key): value for key, value in resolved.items()}
        return resolved

    def to_string(self) -> str:
        return "StudioCustomImageEntry"


def _shown_in(stack: Stack, name: Any) -> Any:
    return stack.resolve(name) if is_unresolved(name) else name
