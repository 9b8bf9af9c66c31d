"""Studio attachment: list an image (a version of it, or its latest) in a Studio domain, user profile or
space, so that the users it is for can run it.

A target this app defines (``CfnDomain``, ``CfnUserProfile``, ``CfnSpace``) gets the entry merged into its
own properties at synth: CloudFormation's Domain update resends the template's whole settings, so
anything written into it from outside would be lost at its next update. An existing target (a string)
gets it from ``Custom::SageMakerStudioCustomImage`` (``lambda/studio_custom_images``), which writes only
that one ``<AppType>AppSettings`` object and detaches the entry on delete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import jsii
from aws_cdk import CfnResource, CustomResource, Duration, IStableAnyProducer, Lazy, Stack
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from . import validation
from .app_image_config import IAppImageConfig
from .enums import AppType
from .image import IImage, ImageBase
from .image_version import IImageVersion
from .provider import FunctionProvider
from .tokens import identity, is_unresolved

RESOURCE_TYPE = "Custom::SageMakerStudioCustomImage"
# The library's own id for its one Studio function per stack (construct ids are API: never change it).
PROVIDER_ID = "SageMakerStudioCustomImagese6df6e51a32b4e069fe01e36b4723fe4"
# Exactly what lambda/studio_custom_images/index.py calls (a contract test holds the two together).
SAGEMAKER_ACTIONS = (
    "sagemaker:DescribeDomain",
    "sagemaker:UpdateDomain",
    "sagemaker:DescribeUserProfile",
    "sagemaker:UpdateUserProfile",
    "sagemaker:DescribeSpace",
    "sagemaker:UpdateSpace",
)
# A domain update takes minutes: the function waits for InService (within 10 minutes less a margin),
# and CloudFormation gives up on a silent function after SERVICE_TIMEOUT instead of the default hour.
FUNCTION_TIMEOUT = Duration.minutes(10)
SERVICE_TIMEOUT = Duration.minutes(15)

# Where SageMaker has CustomImages, by the settings object that holds them (botocore's model).
APP_TYPES_IN = {
    "DefaultUserSettings": (AppType.KERNEL_GATEWAY, AppType.JUPYTER_LAB, AppType.CODE_EDITOR),
    "DefaultSpaceSettings": (AppType.KERNEL_GATEWAY, AppType.JUPYTER_LAB),
    "UserSettings": (AppType.KERNEL_GATEWAY, AppType.JUPYTER_LAB, AppType.CODE_EDITOR),
    "SpaceSettings": (AppType.KERNEL_GATEWAY,),
}
# The L1 attribute that holds each settings object.
_SETTINGS_ATTRIBUTE = {
    "DefaultUserSettings": "default_user_settings",
    "DefaultSpaceSettings": "default_space_settings",
    "UserSettings": "user_settings",
    "SpaceSettings": "space_settings",
}
_APP_SETTINGS_ATTRIBUTE = {
    AppType.KERNEL_GATEWAY: "kernel_gateway_app_settings",
    AppType.JUPYTER_LAB: "jupyter_lab_app_settings",
    AppType.CODE_EDITOR: "code_editor_app_settings",
}

Target = str | sagemaker.CfnDomain | sagemaker.CfnUserProfile | sagemaker.CfnSpace


class StudioProvider(FunctionProvider):
    """The stack's one Studio function; its role grows by one ARN per target."""

    PROVIDER_ID = PROVIDER_ID
    HANDLER = "studio_custom_images"
    DESCRIPTION = (
        "Custom::SageMakerStudioCustomImage: lists custom images in Studio domains, user profiles and spaces"
    )
    ACTIONS = SAGEMAKER_ACTIONS
    # arn:aws-us-gov:sagemaker:us-isof-south-1:<12 digits>:user-profile/<domain id, 63>/<63>
    ARN_SIZE_ESTIMATE = 194
    TIMEOUT = FUNCTION_TIMEOUT

    def __init__(self, scope: Stack, id: str) -> None:
        super().__init__(scope, id)
        self._targets: set[str] = set()

    def allow_target(self, key: str, resource: str, name: str) -> None:
        """Let the function describe and update this domain, user profile or space (``key``) once."""
        if key not in self._targets:
            self._targets.add(key)
            self.allow(_arn(self._stack, resource, name))


# The last attachment to each target in a stack: the next one waits for it (one read-modify-write at
# a time on a target), by stack, then by target key.
_LAST_ON_TARGET: WeakKeyDictionary[Stack, dict[str, CustomResource]] = WeakKeyDictionary()
# What the custom resources of a stack list, by target, app type and image: each by one attachment.
_LISTED_ON_TARGET: WeakKeyDictionary[Stack, dict[str, object]] = WeakKeyDictionary()
# Entries merged into an L1 of the app, by the L1 and then the path of its CustomImages list.
_MERGED: WeakKeyDictionary[CfnResource, dict[str, _MergedCustomImages]] = WeakKeyDictionary()


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
        for keyword, value, cfn_kind, expected in (
            ("domain", domain, sagemaker.CfnDomain, "a domain id or a CfnDomain"),
            (
                "user_profile",
                user_profile,
                sagemaker.CfnUserProfile,
                "a user profile's name or a CfnUserProfile",
            ),
            ("space", space, sagemaker.CfnSpace, "a space's name or a CfnSpace"),
        ):
            if not isinstance(value, cfn_kind):
                validation.check_type(owner, keyword, value, str, expected)
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

        self.image = image
        self.app_image_config = app_image_config
        self.app_type = app_type
        self.settings = settings
        entry: dict[str, Any] = {
            "ImageName": image.image_name,
            "AppImageConfigName": app_image_config.app_image_config_name,
        }
        if number is not None:
            entry["ImageVersionNumber"] = number
        waits_for: list[IConstruct] = []
        if isinstance(image, ImageBase):
            waits_for.extend(image._image_resources)
        if version is not None and not isinstance(version, int | float):
            waits_for.append(version)

        l1 = _l1_target(domain, user_profile, space)
        self.resource: CustomResource | None = None
        if l1 is not None:
            self._merge(owner, l1, settings, app_type, entry, waits_for)
        else:
            self.resource = self._custom_resource(
                owner, domain, user_profile, space, settings, app_type, entry, waits_for
            )

    def _merge(
        self,
        owner: object,
        l1: CfnResource,
        settings: str,
        app_type: AppType,
        entry: dict[str, Any],
        waits_for: list[IConstruct],
    ) -> None:
        """Add the entry to the L1's own CustomImages at synth, after the entries written there."""
        path = f"{settings}.{app_type.value}AppSettings.CustomImages"
        merged = _MERGED.setdefault(l1, {})
        producer = merged.get(path)
        if producer is None:
            producer = merged[path] = _MergedCustomImages(l1, settings, app_type)
            l1.add_property_override(path, Lazy.any(producer))
        producer.add(owner, entry)
        if waits_for:
            l1.node.add_dependency(*waits_for)

    def _custom_resource(
        self,
        owner: object,
        domain: str | sagemaker.CfnDomain,
        user_profile: str | sagemaker.CfnUserProfile | None,
        space: str | sagemaker.CfnSpace | None,
        settings: str,
        app_type: AppType,
        entry: dict[str, Any],
        waits_for: list[IConstruct],
    ) -> CustomResource:
        stack = Stack.of(self)
        domain_id = domain.attr_domain_id if isinstance(domain, sagemaker.CfnDomain) else domain
        properties: dict[str, Any] = {"DomainId": domain_id, "AppType": app_type.value, **entry}
        if user_profile is not None or space is not None:  # not both: _settings refused that
            kind, cfn, member = (
                ("user-profile", "UserProfileName", user_profile)
                if user_profile is not None
                else ("space", "SpaceName", space)
            )
            assert isinstance(member, str)  # checked above; an L1 member went to _merge
            validation.check(owner, f"{kind.replace('-', '_')} ({cfn})", member, validation.STUDIO_NAME)
            properties[cfn] = member
            target = (kind, f"{domain_id}/{member}")
            key = f"{identity(stack, domain_id)}/{kind}/{identity(stack, member)}"
        else:
            properties["Settings"] = settings
            target = ("domain", domain_id)
            key = identity(stack, domain_id)  # both settings of a domain are one UpdateDomain target

        listed = _LISTED_ON_TARGET.setdefault(stack, {})
        listing = f"{key}/{settings}/{app_type.value}/{identity(stack, entry['ImageName'])}"
        if listing in listed:
            raise validation.ValidationError(
                f"{owner}: image {_shown_in(stack, entry['ImageName'])!r} is already listed for "
                f"{app_type.value} in this target by {listed[listing]}; two attachments would share one "
                "entry, and deleting either would detach it"
            )
        listed[listing] = owner
        provider = StudioProvider.of(stack)
        provider.allow_target(key, *target)
        resource = CustomResource(
            self,
            "Resource",
            service_token=provider.function_arn,
            resource_type=RESOURCE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties=properties,
        )
        last = _LAST_ON_TARGET.setdefault(stack, {})
        previous = last.get(key)  # one read-modify-write on a target at a time
        resource.node.add_dependency(provider.role, *waits_for, *([previous] if previous else []))
        last[key] = resource
        return resource


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
        """The entries the user wrote in the L1's properties (structs, dicts or tokens)."""
        settings = getattr(self._l1, _SETTINGS_ATTRIBUTE[self._settings])
        app = _field(settings, _APP_SETTINGS_ATTRIBUTE[self._app_type])
        images = _field(app, "custom_images")
        if images is None:
            return []
        if is_unresolved(images) or not isinstance(images, list):
            raise validation.ValidationError(
                f"{self._l1.node.path}: its {self._settings} CustomImages is a token, so attachments "
                "cannot be merged into it; list them as entries"
            )
        return [_entry(item) for item in images]


def _field(struct: Any, name: str) -> Any:
    """A field of an L1 struct, which Python may hold as a struct, a dict (either case) or None."""
    if struct is None:
        return None
    if isinstance(struct, dict):
        camel = "".join(part.capitalize() for part in name.split("_"))
        for key in (name, camel, camel[0].lower() + camel[1:]):
            if key in struct:
                return struct[key]
        return None
    return getattr(struct, name, None)


def _entry(item: Any) -> Any:
    """A user's CustomImages entry as CloudFormation takes it (a token stays a token)."""
    if isinstance(item, dict) and "ImageName" in item:
        return item
    fields = {
        "ImageName": _field(item, "image_name"),
        "AppImageConfigName": _field(item, "app_image_config_name"),
        "ImageVersionNumber": _field(item, "image_version_number"),
    }
    if fields["ImageName"] is None:
        return item  # an IResolvable: CloudFormation gets what it resolves to
    return {key: value for key, value in fields.items() if value is not None}


def _shown_in(stack: Stack, name: Any) -> Any:
    return stack.resolve(name) if is_unresolved(name) else name
