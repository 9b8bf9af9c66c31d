"""The per-target resource that lists a stack's entries on one existing domain, user profile or space."""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast
from weakref import WeakKeyDictionary

import jsii
from aws_cdk import (
    CfnParameter,
    CustomResource,
    IStableAnyProducer,
    Lazy,
    Reference,
    Stack,
    Tokenization,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct, IConstruct

from ..enums import AppType
from ..interfaces import IAppImageConfig, IImage
from ..tokens import identity, is_unresolved
from .checks import _environment
from .contract import (
    LEDGER_VERSION,
    RESOURCE_TYPE,
    SERVICE_TIMEOUT,
    TARGET_ID_PREFIX,
)
from .function import _StudioProvider


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
            found = targets[id] = cls(
                stack, id, domain_id=domain_id, kind=kind, member=member, literal=literal
            )
            found.key = _app_key(stack, id, parts, resolved)
        return found

    key: str  # the target, for the app-wide listings

    def __init__(
        self, scope: Stack, id: str, *, domain_id: str, kind: str, member: str | None, literal: bool
    ) -> None:
        super().__init__(scope, id)
        self.construct_id = id  # known here, without a round trip
        self.literal = literal  # whether its ids are literal (else tokens)
        self._entries: list[dict[str, Any]] = []
        self._waits_for: set[int] = set()
        self._granted: set[tuple[str, str]] = set()  # (execution role path, image or config identity)
        self.domain_id = domain_id
        provider = _StudioProvider.of(scope)
        #: The function's id for the target (``<domain>/domain``, ``<domain>/user-profile/<name>``...),
        #: which also names its path in the ledger.
        self.physical_id: str = "/".join([domain_id, kind] if member is None else [domain_id, kind, member])
        name = domain_id if member is None else f"{domain_id}/{member}"
        provider.allow_target(kind, name, self.physical_id, literal=literal)
        properties: dict[str, Any] = {"DomainId": domain_id}
        if member is not None:
            properties["UserProfileName" if kind == "user-profile" else "SpaceName"] = member
        properties["CustomImages"] = Lazy.any(_Entries(self._entries))
        properties["LedgerVersion"] = LEDGER_VERSION
        self.resource: CustomResource = CustomResource(
            self,
            "Resource",
            service_token=provider.function_arn,
            resource_type=RESOURCE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties=properties,
        )
        # Its node kept: each attachment that brings new waits adds them there, and reading ``node`` is a
        # round trip of its own.
        self._resource_node = self.resource.node
        self._resource_node.add_dependency(provider.role)

    def add(
        self, settings: str, app_type: AppType, entry: dict[str, Any], waits_for: list[IConstruct]
    ) -> None:
        """List one more entry (the app's listings have refused duplicates), after what it waits for."""
        self._entries.append({"Settings": settings, "AppType": app_type.value, **entry})
        new = [construct for construct in waits_for if id(construct) not in self._waits_for]
        if new:
            self._waits_for.update(id(construct) for construct in new)
            self._resource_node.add_dependency(*new)

    def grant_read(self, image: IImage, config: IAppImageConfig, roles: list[iam.Role]) -> None:
        """Let an L1 target's execution roles, of another stack, read the image and the config: by a
        policy of this stack attached to each role, so that the role's stack neither changes nor waits
        for this one."""
        stack = Stack.of(self)
        for role in roles:
            digest = hashlib.sha256(role.node.path.encode()).hexdigest()[:8]
            imported: iam.IRole | None = None
            for readable, name in ((image, image.image_name), (config, config.app_image_config_name)):
                key = (role.node.path, identity(stack, name))
                if key in self._granted:
                    continue
                self._granted.add(key)
                if imported is None:
                    found = self.node.try_find_child(f"ExecutionRole{digest}")
                    imported = (
                        cast(iam.IRole, found)
                        if found is not None
                        else iam.Role.from_role_arn(self, f"ExecutionRole{digest}", role.role_arn)
                    )
                readable.grant_read(imported).apply_before(self.resource)


def _app_key(stack: Stack, id: str, parts: list[str], resolved: list[Any]) -> str:
    """The target, as the app-wide listings know it: in the stack's account and region (two stages of
    a pipeline in two accounts are two targets), by its ids where they are literal or come from a known
    source (another stack's export, an SSM parameter), else only within this stack."""
    named = [_source(part, value) for part, value in zip(parts, resolved, strict=True)]
    if any(name is None for name in named):
        return f"{stack.node.path}/{id}"  # other tokens: per stack (the README says so)
    account, region = _environment(stack)
    return "/".join([account, region, *cast(list[str], named)])


def _source(part: str, resolved: Any) -> str | None:
    """A part of a target as the same string wherever it is used: a literal, ``import:<export name>``
    for ``Fn.import_value``, ``ssm:<parameter name>`` for an SSM parameter's value; else None."""
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and isinstance(resolved.get("Fn::ImportValue"), str):
        return f"import:{resolved['Fn::ImportValue']}"
    reference = Tokenization.reverse(part)
    target = reference.target if isinstance(reference, Reference) else None
    if isinstance(target, CfnParameter) and str(target.type).startswith("AWS::SSM::Parameter::Value"):
        default = target.default
        return f"ssm:{default}" if isinstance(default, str) and not is_unresolved(default) else None
    return None


# The stack's targets by construct id: the same constructs the stack holds, found without the two round
# trips of node.try_find_child per attachment (36 of the studio bench's, for its 18 existing-target ones).
_TARGETS: WeakKeyDictionary[Stack, dict[str, _ExistingTarget]] = WeakKeyDictionary()


@jsii.implements(IStableAnyProducer)
class _Entries:
    """The custom resource's CustomImages, as the attachments added them by synth."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._entries = entries

    def produce(self) -> Any:
        return self._entries
