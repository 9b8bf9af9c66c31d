"""Attachments merged into a ``CfnDomain``, ``CfnUserProfile`` or ``CfnSpace`` of the same stack."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import (
    CfnResource,
    IResolvable,
    IResolveContext,
    IStableAnyProducer,
    Lazy,
    Reference,
    Stack,
    Tokenization,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from .. import validation
from ..enums import AppType
from ..interfaces import IAppImageConfig, IImage
from ..tokens import identity, is_unresolved
from .checks import _shown_in, check_cap, custom_images_cap
from .contract import _APP_SETTINGS_KEY, _SETTINGS_KEY


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
        # The execution roles of each settings object: the app's Roles, and the others (ARNs)
        self._roles: dict[str, tuple[list[iam.Role], list[str]]] = {}
        self._granted: set[tuple[str, str]] = set()  # (role path, image or config name identity)
        self._waits_for: set[int] = set()  # what the L1 already depends on, by id()

    def add(
        self,
        owner: validation.ConstructOwner,
        image: IImage,
        config: IAppImageConfig,
        settings: str,
        app_type: AppType,
        entry: dict[str, Any],
        waits_for: list[IConstruct],
    ) -> list[str]:
        """Add the entry to the L1's own CustomImages at synth, after the entries written there; the
        execution roles it could not grant (not Roles of this app) are returned."""
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
        return self._grant_read(image, config, settings)

    def _grant_read(self, image: IImage, config: IAppImageConfig, settings: str) -> list[str]:
        """Let the target's execution role, where it is a ``Role`` of this app, read the image and the
        config.

        SageMaker describes the image version with that role when it updates the target, and leaves it
        Update_Failed when the role may not. The L1 waits for the grants.
        """
        found = self._roles.get(settings)
        if found is None:
            found = self._roles[settings] = _execution_roles(self.l1, settings)
        roles, others = found
        for role in roles:
            for readable, name in ((image, image.image_name), (config, config.app_image_config_name)):
                key = (role.node.path, identity(self.stack, name))
                if key not in self._granted:
                    self._granted.add(key)
                    readable.grant_read(role).apply_before(self.l1)
        return others


def _execution_roles(l1: CfnResource, settings: str) -> tuple[list[iam.Role], list[str]]:
    """The ``Role`` constructs of this app that run the apps of an L1 target's settings, and the other
    execution roles it names (an ARN string, or an imported role's ARN), shown as in the template.

    A profile without a role of its own, and a space, run with their domain's default (when that
    domain is a ``CfnDomain`` of this app too). A role given as an ARN string or an imported role is
    not ours to change: the attachment warns, naming the grants it needs.
    """
    properties = _properties(l1)
    arns: list[Any] = [_field(properties, _SETTINGS_KEY[settings], "executionRole")]
    if not isinstance(l1, sagemaker.CfnDomain) and arns[0] is None:
        domain = _referenced(_field(properties, "domainId"), sagemaker.CfnDomain)
        if isinstance(domain, sagemaker.CfnDomain):
            default = "DefaultUserSettings" if settings == "UserSettings" else "DefaultSpaceSettings"
            arns = [_field(_properties(domain), _SETTINGS_KEY[default], "executionRole")]
    roles, others = [], []
    for arn in arns:
        cfn_role = _referenced(arn, iam.CfnRole)
        role = cfn_role.node.scope if cfn_role is not None else None
        if isinstance(role, iam.Role):
            roles.append(role)
        elif arn is not None:
            others.append(json.dumps(Stack.of(l1).resolve(arn)) if is_unresolved(arn) else str(arn))
    return roles, others


def _referenced(value: Any, kind: type[CfnResource]) -> Any:
    """The L1 of ``kind`` whose attribute ``value`` is (a token that references it), else None."""
    if not isinstance(value, str) or not is_unresolved(value):
        return None
    reference = Tokenization.reverse(value)
    target = reference.target if isinstance(reference, Reference) else None
    return target if isinstance(target, kind) else None


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

    def add(self, owner: validation.ConstructOwner, entry: dict[str, Any]) -> None:
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
        count = len(self._written_names) + len(self._listed) + 1  # the user's entries count too
        check_cap(owner, _Possessive(self._l1), self._settings, self._app_type, count)
        self._listed.append(_Listed(owner, entry, name))

    def produce(self) -> Any:
        """The user's entries as they are at synth, then the attachments'.

        Checked again here for entries the user wrote after attaching; an error raised inside
        resolution reaches Python as jsii's RuntimeError, with this message.
        """
        written = self._written()
        cap = custom_images_cap(self._settings, self._app_type)
        if self._listed and len(written) + len(self._listed) > cap:  # the user wrote more since
            raise validation.ValidationError(
                f"{self._listed[-1].owner}: {self._l1.node.path}'s {self._settings}."
                f"{self._app_type.value}AppSettings lists {len(written)} entries of its own and "
                f"{len(self._listed)} attachments, more than {cap}"
            )
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


class _Possessive:
    """ "<path>'s ", read only when shown."""

    def __init__(self, construct: IConstruct) -> None:
        self._construct = construct

    def __str__(self) -> str:
        return f"{self._construct.node.path}'s "
