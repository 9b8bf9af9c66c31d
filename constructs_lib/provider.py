"""What the library's custom-resource functions share: staged code, one function per stack, a role that
grows within IAM's limits.

Each function (``lambda/<handler>/index.py``) is a crhelper handler that answers CloudFormation itself,
so its ``CustomResource`` points straight at it (crhelper cannot sit behind ``custom_resources.Provider``).
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import shutil
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Self
from weakref import WeakKeyDictionary

import jsii
from aws_cdk import Acknowledgment, Aspects, Duration, IAspect, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct, IValidation

from .runtime import newest_python_runtime

_PACKAGE_DIR = Path(__file__).resolve().parent
_SHARED = "shared"  # lambda/shared/*.py: the code every handler imports (custom_resource.py)

# aws-cdk-lib splits a Role's DefaultPolicy into managed OverflowPolicy resources by an estimate of
# its size, counting each ARN token as this context value (default 150). The library's ARNs are
# formatted from a few pseudo parameters and names whose longest form is known, so each provider
# states that bound and CDK packs its policies by it, not by a guess.
ARN_SIZE_ESTIMATE_CONTEXT = "@aws-cdk/aws-iam.arnSizeEstimate"
# What CDK's split allows a role's DefaultPolicy (of IAM's 10,240) and each OverflowPolicy (of 6,144).
_INLINE_BUDGET = 10_000
_MANAGED_BUDGET = 6_000
# IAM's default quota of managed policies per role (raisable to 20, but not by CloudFormation): past it,
# the deploy fails when the role attaches the next OverflowPolicy.
MAX_MANAGED_POLICIES = 10


def lambda_directory(name: str) -> Path:
    """A folder of ``lambda/``: inside the installed package, or in the checkout."""
    for candidate in (_PACKAGE_DIR / "lambda_handlers" / name, _PACKAGE_DIR.parent / "lambda" / name):
        if candidate.is_dir() and any(candidate.glob("*.py")):
            return candidate
    raise FileNotFoundError(f"lambda/{name} is missing from {_PACKAGE_DIR} and its checkout")


@cache
def function_code_directory(handler: str) -> str:
    """``index.py`` of the handler, the shared module beside it and the installed crhelper, staged once
    per process without Docker or network.

    Caches and byte code are left out so that the asset hash is the same on every machine.
    """
    spec = importlib.util.find_spec("crhelper")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("crhelper must be installed: the library's functions ship it")
    staging = Path(tempfile.mkdtemp(prefix=f"sagemaker-image-{handler}-"))
    atexit.register(shutil.rmtree, staging, ignore_errors=True)  # synthesis has copied it by then
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(lambda_directory(handler), staging, dirs_exist_ok=True, ignore=ignore)
    shutil.copytree(lambda_directory(_SHARED), staging, dirs_exist_ok=True, ignore=ignore)
    shutil.copytree(spec.submodule_search_locations[0], staging / "crhelper", ignore=ignore)
    return str(staging)


class _FunctionProvider(Construct):
    """One crhelper function of a stack: its log group, its own role, and the permissions it grows.

    Permissions go into the role's DefaultPolicy in statements of bounded size, so that aws-cdk-lib's
    own split (``Role`` moves what exceeds IAM's inline limit into managed ``OverflowPolicy``
    resources) packs them tightly. A cdk-nag finding for a wildcard ARN is acknowledged on whichever
    of those policies ends up holding it, once the split has run.
    """

    # What each kind of function says of itself. PROVIDER_ID is its construct id under the stack, the
    # library's own (construct ids are API: never change one). ARN_SIZE_ESTIMATE is the longest ARN
    # it is ever granted, with every pseudo parameter at its longest.
    PROVIDER_ID: ClassVar[str]
    HANDLER: ClassVar[str]  # lambda/<HANDLER>/index.py
    DESCRIPTION: ClassVar[str]
    ACTIONS: ClassVar[Sequence[str]]
    ARN_SIZE_ESTIMATE: ClassVar[int]
    TIMEOUT: ClassVar[Duration]

    @classmethod
    def of(cls, stack: Stack) -> Self:
        """The stack's provider, made on first use (remembered in Python: a tree lookup is a round trip)."""
        providers = _PROVIDERS.setdefault(cls, WeakKeyDictionary())
        provider = providers.get(stack)
        if provider is None:
            provider = providers[stack] = cls(stack, cls.PROVIDER_ID)
        assert isinstance(provider, cls)
        return provider

    def __init__(self, scope: Stack, id: str) -> None:
        super().__init__(scope, id)
        self.node.set_context(ARN_SIZE_ESTIMATE_CONTEXT, self.ARN_SIZE_ESTIMATE)  # before any child
        self._stack = scope
        self._actions = list(self.ACTIONS)
        description = self.DESCRIPTION
        self.log_group: logs.LogGroup = logs.LogGroup(self, "LogGroup", retention=logs.RetentionDays.ONE_YEAR)
        self.role: iam.Role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        # A log group's Arn attribute ends in ":*", which covers its streams and nothing else.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function: lambda_.Function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=newest_python_runtime(),
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(function_code_directory(self.HANDLER)),
            timeout=self.TIMEOUT,
            memory_size=256,
            role=self.role,
            log_group=self.log_group,
        )
        self.function_arn: str = self.function.function_arn
        # Per set of actions, the statement being filled and how many ARNs it holds.
        self._statements: dict[tuple[str, ...], tuple[iam.PolicyStatement, int]] = {}
        self._acknowledgements: dict[str, str] = {}
        # On the role's own resource, a leaf: aws-cdk-lib calls an aspect back (into Python, a jsii
        # callback each) for every construct under the one it is added to, and under the role that is
        # every policy too. CDK visits the role, where its split runs, before its children.
        Aspects.of(self.role.node.default_child or self.role).add(_AcknowledgeWhereHeld(self))
        self.node.add_validation(_ManagedPolicyQuota(self))

    def allow(
        self,
        *arns: str,
        actions: Sequence[str] | None = None,
        wildcard_reason: str | None = None,
        nag_name: str | None = None,
    ) -> None:
        """Let the function call ``actions`` (by default its ``ACTIONS``) on ``arns``; ``wildcard_reason``
        acknowledges the last one (an ARN ending in ``*``) for cdk-nag, with that reason. ``nag_name`` is
        how cdk-nag prints that ARN, where the caller knows it; otherwise it is resolved (a round trip).

        Each set of actions fills statements of as many ARNs as fill one OverflowPolicy: the fewest
        policies (IAM lets a role have 10 managed ones by default), and the last, partial statement tops
        up the DefaultPolicy.
        """
        key = tuple(actions or self._actions)
        per_arn = self.ARN_SIZE_ESTIMATE + 3  # CDK counts the quotes and comma around each
        per_statement = max(1, (_MANAGED_BUDGET - 100 - 23 * len(key)) // per_arn)
        for arn in arns:
            current = self._statements.get(key)
            if current is None or current[1] >= per_statement:
                current = (iam.PolicyStatement(actions=list(key)), 0)
                self.role.add_to_principal_policy(current[0])
            statement, held = current
            statement.add_resources(arn)
            self._statements[key] = (statement, held + 1)
        if wildcard_reason is not None:
            if nag_name is None:
                nag_name = nag_resource(self._stack.resolve(arns[-1]))
            self._acknowledgements[nag_name] = wildcard_reason

    def _acknowledge_where_held(self) -> None:
        """After the role's split: acknowledge each wildcard on the policy whose document holds it."""
        if not self._acknowledgements:
            return
        policies = [c for c in self.role.node.children if isinstance(c, iam.Policy | iam.ManagedPolicy)]
        for child in policies:
            if len(policies) == 1:  # not split: the DefaultPolicy holds all, no document to resolve
                held = set(self._acknowledgements)
            else:
                document = self._stack.resolve(child.document)
                held = {
                    nag_resource(resource)
                    for statement in (document or {}).get("Statement", [])
                    for resource in _as_list(statement.get("Resource"))
                }
            acknowledgements = [
                Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{resource}]", reason=reason)
                for resource, reason in self._acknowledgements.items()
                if resource in held
            ]
            if acknowledgements:
                Validations.of(child).acknowledge(*acknowledgements)


_PROVIDERS: dict[type[_FunctionProvider], WeakKeyDictionary[Stack, _FunctionProvider]] = {}


@jsii.implements(IAspect)
class _AcknowledgeWhereHeld:
    """Runs after the Role's own split aspect: added later, below the role, at no higher priority."""

    def __init__(self, provider: _FunctionProvider) -> None:
        self._provider = provider
        self._done = False

    def visit(self, node: IConstruct) -> None:
        if not self._done:
            self._done = True
            self._provider._acknowledge_where_held()


@jsii.implements(IValidation)
class _ManagedPolicyQuota:
    """At synth, after aws-cdk-lib's split: a role with more OverflowPolicies than IAM lets it attach
    fails the synth, not the deploy an hour in."""

    def __init__(self, provider: _FunctionProvider) -> None:
        self._provider = provider

    def validate(self) -> list[str]:
        role = self._provider.role
        managed = sum(isinstance(child, iam.ManagedPolicy) for child in role.node.children)
        if managed <= MAX_MANAGED_POLICIES:
            return []
        return [
            f"{self._provider.node.path}: the function's role would need {managed} managed policies "
            f"(OverflowPolicy) for the ARNs its stack grants it, more than IAM's default quota of "
            f"{MAX_MANAGED_POLICIES} per role; spread what this stack's custom resources target over more "
            "stacks"
        ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def nag_resource(resolved: Any) -> str:
    """How cdk-nag prints a resolved ARN in a finding id: intrinsics become ``<AWS::Region>`` etc."""
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        return "".join(nag_resource(part) for part in resolved["Fn::Join"][1])
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if isinstance(resolved, dict) and isinstance(resolved.get("Fn::ImportValue"), str):
        return str(resolved["Fn::ImportValue"])  # the export's name
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        return f"<{'.'.join(resolved['Fn::GetAtt'])}>"
    return json.dumps(resolved)
