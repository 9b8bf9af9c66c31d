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

from typing import Any, cast

import jsii
from aws_cdk import (
    Annotations,
    Aspects,
    CfnResource,
    CustomResource,
    Duration,
    IAspect,
    Stack,
)
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from .. import validation
from ..enums import AppType, ReconcileDefault
from ..interfaces import IAppImageConfig, IImage, IImageVersion
from ..tokens import is_unresolved
from .checks import (
    _FOREIGN_VERSION,
    _check_environments,
    _check_kinds,
    _foreign,
    _name_in,
    _settings,
    _version_number,
)
from .contract import (
    APP_TYPES_IN,
    EXECUTION_ROLE_WARNING,
    NO_VERSION_WARNING,
    STUDIO_CLASSIC_WARNING,
    Target,
)
from .existing import _ExistingTarget
from .listings import _Listings
from .merged import _execution_roles, _field, _MergedTarget, _properties
from .reconcile import Reconciliation


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
        version: IImageVersion | int | None = None,
        domain: str | sagemaker.CfnDomain,
        user_profile: str | sagemaker.CfnUserProfile | None = None,
        space: str | sagemaker.CfnSpace | None = None,
        default_space_settings: bool = False,
        reconcile_interval: Duration | ReconcileDefault | None = ReconcileDefault.STACK,
        reconcile_on_change: bool = False,
    ) -> None:
        """
        :param image: the image to list (an ``Image`` or an import).
        :param app_image_config: how Studio runs it; its ``app_type`` picks the ``<AppType>AppSettings``.
        :param version: an ``ImageVersion`` of this image (the entry pins its number), a version
            number of 1 or more, or None. Default: None, SageMaker's latest version of the image. A
            numeric token (``Token.as_number``, a ``float`` in Python) is taken at run time too; a
            literal ``float`` is refused.
        :param domain: the domain: an existing domain's id (``d-...``) or a ``CfnDomain`` of this app.
        :param user_profile: a user profile of the domain (its name, or a ``CfnUserProfile`` of this
            app): the entry goes into its ``UserSettings``. Default: none, the domain's settings.
        :param space: a space of the domain (its name, or a ``CfnSpace``): the entry goes into its
            ``SpaceSettings`` (KernelGateway only). Default: none.
        :param default_space_settings: for a domain target only: list the image in the domain's
            ``DefaultSpaceSettings`` (shared spaces) instead of ``DefaultUserSettings``. Default: False.
        :param reconcile_interval: how often the Studio function puts back this entry when another
            writer removed it (whole minutes), or None for never. It applies to the target: the shortest
            interval its attachments in this stack ask for. For a target the custom resource carries (an
            existing one, or an L1 of another stack). Default: the stack's, 10 minutes unless
            ``set_default_reconcile_interval`` set another.
        :param reconcile_on_change: also put it back within about a minute of another writer's
            ``UpdateDomain``, ``UpdateUserProfile`` or ``UpdateSpace`` on the target, by a rule on
            CloudTrail's management events (the account must record them). Default: False.
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
        if settings == "DefaultSpaceSettings" and isinstance(l1, sagemaker.CfnDomain):
            _check_default_space_settings(owner, l1)
        # An L1 of this stack takes the entry into its own properties; one of another stack is a target
        # like an existing one, named by reference, so the attachment's stack depends on the target's.
        merged = _MergedTarget.of(l1) if l1 is not None and Stack.of(l1) is stack else None
        carrier = merged.stack if merged is not None else stack
        _check_environments(owner, stack, carrier, image, app_image_config, version, l1)
        if l1 is not None and merged is None:
            domain, user_profile, space = _named(l1, domain)
        elif merged is not None and (reconcile_on_change or reconcile_interval is not ReconcileDefault.STACK):
            raise validation.ValidationError(
                f"{owner}: reconcile_interval and reconcile_on_change are for a target the custom resource "
                f"carries; {l1.node.path if l1 else ''} is in the attachment's stack, whose template holds "
                "the entry"
            )

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
        # the version it lists: a pinned ImageVersion here; by number or unpinned, the image's own wait
        # (``_wait_for_version``, below), for versions declared before or after it.
        waits_for: list[IConstruct] = list(getattr(image, "_image_resources", ()))
        if entry["AppImageConfigName"] is not config_name:
            waits_for.append(app_image_config)
        latest = version is None or isinstance(version, int | float)  # the image's latest, or by number
        if not latest:
            waits_for.append(cast(IConstruct, version))
        elif getattr(image, "_image_resources", None) and not getattr(image, "_versions", None):
            # No version yet: warn at synth if none comes.
            Aspects.of(self).add(_WarnWithoutVersions(self, image))
        if app_type is AppType.KERNEL_GATEWAY:
            Annotations.of(self).add_warning_v2(
                STUDIO_CLASSIC_WARNING,
                "KernelGateway custom images show only in Studio Classic, which takes no new users; "
                "the current Studio lists custom images for JupyterLab and CodeEditor",
            )

        #: The custom resource that lists this entry (shared by the stack's attachments to the same
        #: existing target), or None when the entry is merged into an L1 of this app.
        self.resource: CustomResource | None = None
        ungranted: list[str] = []  # an L1 target's execution roles that are not Roles of this app
        if merged is not None:
            ungranted = merged.add(owner, image, app_image_config, settings, app_type, entry, waits_for)
            self._carrier: IConstruct = merged.l1
        else:
            member = user_profile if user_profile is not None else space
            if member is not None:
                kind, cfn = (
                    ("user-profile", "UserProfileName")
                    if user_profile is not None
                    else ("space", "SpaceName")
                )
                assert isinstance(member, str)  # checked above; an L1 member was named by then
                validation.check(owner, f"{kind.replace('-', '_')} ({cfn})", member, validation.STUDIO_NAME)
            target = _ExistingTarget.of(stack, domain, user_profile, space)
            _Listings.of(stack).add(owner, target.key, settings, app_type, entry["ImageName"], stack)
            target.add(settings, app_type, entry, waits_for)
            if l1 is not None:
                target.node.add_dependency(l1)
                roles, ungranted = _execution_roles(l1, settings)
                target.grant_read(image, app_image_config, roles)
            Reconciliation.of(stack).add(owner, target, reconcile_interval, reconcile_on_change)
            self.resource = target.resource
            self._carrier = target.resource
        if l1 is not None and ungranted:
            Annotations.of(self).add_warning_v2(
                EXECUTION_ROLE_WARNING,
                f"{l1.node.path} runs its apps with execution role {', '.join(ungranted)}, which is not a "
                "Role of this app, so the attachment cannot grant it: SageMaker leaves the target "
                "Update_Failed unless that role may read the image and the config. Grant them with "
                "image.grant_read(<role>) and app_image_config.grant_read(<role>) where the role is "
                "defined, then acknowledge this warning",
            )
        wait_for_version = getattr(image, "_wait_for_version", None)
        if latest and wait_for_version is not None:  # an Image of this app: its versions are known
            wait_for_version(self._carrier, carrier, number if isinstance(number, int) else None)

    @staticmethod
    def set_default_reconcile_interval(stack: Stack, interval: Duration | None) -> None:
        """The reconcile interval of ``stack``'s attachments that do not set their own (whole minutes),
        or None for none; call it before the stack's first attachment. Default: 10 minutes."""
        owner = validation.ConstructOwner("StudioAttachment.set_default_reconcile_interval", stack)
        Reconciliation.of(stack).set_default(owner, interval)


@jsii.implements(IAspect)
class _WarnWithoutVersions:
    """At synth, for an attachment made before its image had a version: warn if none came (SageMaker
    cannot list an image without one). The wait for versions is the image's (``_wait_for_version``)."""

    def __init__(self, attachment: StudioAttachment, image: IImage) -> None:
        self._attachment = attachment
        self._image = image
        self._done = False

    def visit(self, node: IConstruct) -> None:
        if self._done:
            return
        self._done = True
        if not getattr(self._image, "_versions", None):
            Annotations.of(self._attachment).add_warning_v2(
                NO_VERSION_WARNING,
                f"Image {self._image.node.path} has no version in this app and the attachment pins none: "
                "SageMaker fails to list an image without versions. Add a version, or acknowledge this "
                "if the image already has versions",
            )


def _check_default_space_settings(owner: object, domain: sagemaker.CfnDomain) -> None:
    """A domain's DefaultSpaceSettings must exist, with its ExecutionRole, for an entry there: CDK's own
    check only warns, and SageMaker refuses the block without the role."""
    space_settings = _field(_properties(domain), "defaultSpaceSettings")
    if space_settings is None or is_unresolved(space_settings):
        missing = "no DefaultSpaceSettings" if space_settings is None else "DefaultSpaceSettings as a token"
    elif _field(space_settings, "executionRole") is None:
        missing = "DefaultSpaceSettings without its ExecutionRole"
    else:
        return
    raise validation.ValidationError(
        f"{owner}: invalid default_space_settings True: {domain.node.path} has {missing}; give the "
        "CfnDomain default_space_settings with an execution_role (the role shared spaces run with), or "
        "leave default_space_settings out to list the image in DefaultUserSettings"
    )


def _named(
    l1: CfnResource, domain: str | sagemaker.CfnDomain
) -> tuple[str | sagemaker.CfnDomain, str | None, str | None]:
    """An L1 target of another stack as the custom resource takes it: its domain and its name.

    A domain id known at deploy time is exported explicitly (the export CDK would make for the
    reference), so that the attachment's stack names it by the same ``Fn::ImportValue`` everywhere,
    cdk-nag's findings included.
    """
    home = Stack.of(l1)

    def exported(value: str) -> str:
        return home.export_value(value) if is_unresolved(value) else value

    if isinstance(l1, sagemaker.CfnUserProfile):
        return exported(l1.domain_id), l1.user_profile_name, None
    if isinstance(l1, sagemaker.CfnSpace):
        return exported(l1.domain_id), None, l1.space_name
    return exported(cast(sagemaker.CfnDomain, l1).attr_domain_id), None, None


def _l1_target(domain: Target, user_profile: Target | None, space: Target | None) -> CfnResource | None:
    """The L1 of this app that receives the entry at synth, or None for the custom resource."""
    if isinstance(user_profile, sagemaker.CfnUserProfile):
        return user_profile
    if isinstance(space, sagemaker.CfnSpace):
        return space
    if isinstance(domain, sagemaker.CfnDomain) and user_profile is None and space is None:
        return domain
    return None
