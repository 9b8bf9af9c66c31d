"""Floating aliases: the custom resource that moves an alias (``latest``) to the version that claims it.

SageMaker lets an alias name only one version of an image, and CloudFormation creates version N+1
before it touches version N, so CloudFormation alone cannot move ``latest``. One crhelper function per
stack (``lambda/image_version_aliases``) does it for every version that asks.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from aws_cdk import Acknowledgment, CustomResource, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .tokens import identity, is_unresolved

RESOURCE_TYPE = "Custom::SageMakerImageVersionAliases"
# The library's own id for its one function per stack (construct ids are API: never change it).
PROVIDER_ID = "SageMakerImageVersionAliases99a58004dd95439190e8191abe1c2f49"
# Exactly what lambda/image_version_aliases/index.py calls (a contract test holds the two together).
SAGEMAKER_ACTIONS = (
    "sagemaker:UpdateImageVersion",
    "sagemaker:DescribeImageVersion",
    "sagemaker:ListAliases",
)
# The function may wait out "Resource was modified concurrently" for a few minutes; CloudFormation
# gives up on a silent function after SERVICE_TIMEOUT instead of the default hour.
FUNCTION_TIMEOUT = Duration.minutes(5)
SERVICE_TIMEOUT = Duration.minutes(10)

_HANDLER = "image_version_aliases"
_PACKAGE_DIR = Path(__file__).resolve().parent


def handler_directory() -> Path:
    """The handler's folder: inside the installed package, or ``lambda/`` of a checkout."""
    for candidate in (_PACKAGE_DIR / "lambda_handlers" / _HANDLER, _PACKAGE_DIR.parent / "lambda" / _HANDLER):
        if (candidate / "index.py").is_file():
            return candidate
    raise FileNotFoundError(f"the {_HANDLER} handler is missing from {_PACKAGE_DIR} and its checkout")


@cache
def function_code_directory() -> str:
    """The handler plus the installed crhelper, staged once per process without Docker or network.

    Caches and byte code are left out so that the asset hash is the same on every machine.
    """
    spec = importlib.util.find_spec("crhelper")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("crhelper must be installed: the aliases function ships it")
    staging = Path(tempfile.mkdtemp(prefix="sagemaker-image-aliases-"))
    atexit.register(shutil.rmtree, staging, ignore_errors=True)  # synthesis has copied it by then
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(handler_directory(), staging, dirs_exist_ok=True, ignore=ignore)
    shutil.copytree(spec.submodule_search_locations[0], staging / "crhelper", ignore=ignore)
    return str(staging)


class AliasesProvider(Construct):
    """The stack's one aliases function, its role, its log group, and the policy that grows per image."""

    @staticmethod
    def of(stack: Stack) -> AliasesProvider:
        """The stack's provider, made on first use (remembered in Python: a tree lookup is a round trip)."""
        provider = _PROVIDERS.get(stack)
        if provider is None:
            provider = _PROVIDERS[stack] = AliasesProvider(stack, PROVIDER_ID)
        return provider

    def __init__(self, scope: Stack, id: str) -> None:
        super().__init__(scope, id)
        self._stack = scope
        self.log_group = logs.LogGroup(self, "LogGroup", retention=logs.RetentionDays.ONE_YEAR)
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Moves floating aliases between versions of this stack's SageMaker images",
        )
        self._sagemaker = iam.PolicyStatement(actions=list(SAGEMAKER_ACTIONS))
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[role],
            statements=[
                # A log group's Arn attribute ends in ":*", which covers its streams and nothing else.
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                ),
                self._sagemaker,
            ],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="Custom::SageMakerImageVersionAliases: moves floating aliases between versions",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(function_code_directory()),
            timeout=FUNCTION_TIMEOUT,
            memory_size=256,
            role=role,
            log_group=self.log_group,
        )
        self.function.node.add_dependency(self.policy)
        self.function_arn = self.function.function_arn
        self._images: set[str] = set()
        self._image_keys: dict[str, str] = {}

    def allow_image(self, image_name: str) -> None:
        """Let the function act on this image and on any of its versions, and on nothing else."""
        stack = self._stack
        key = self._image_keys.get(image_name)
        if key is None:  # a literal name and an Image's name token resolve alike
            key = identity(stack, image_name)
            self._image_keys[image_name] = key
        if key in self._images:
            return
        self._images.add(key)
        self._sagemaker.add_resources(
            stack.format_arn(service="sagemaker", resource="image", resource_name=image_name),
            versions := stack.format_arn(
                service="sagemaker", resource="image-version", resource_name=f"{image_name}/*"
            ),
        )
        self._acknowledge(
            versions,
            "A move takes the alias from whichever version of the image holds it, so the function needs "
            "every version of this one image; SageMaker numbers them at deploy time",
        )

    def _acknowledge(self, resource: str, reason: str) -> None:
        """Acknowledge cdk-nag's IAM5 finding for exactly this wildcard resource on the policy."""
        rendered = _nag_resource(self._stack.resolve(resource))
        iam_finding = f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered}]"
        Validations.of(self.policy).acknowledge(Acknowledgment(id=iam_finding, reason=reason))


_PROVIDERS: WeakKeyDictionary[Stack, AliasesProvider] = WeakKeyDictionary()


def _nag_resource(resolved: Any) -> str:
    """How cdk-nag prints a resolved ARN in a finding id: intrinsics become ``<AWS::Region>`` etc."""
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        return "".join(_nag_resource(part) for part in resolved["Fn::Join"][1])
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        return f"<{'.'.join(resolved['Fn::GetAtt'])}>"
    return json.dumps(resolved)


def add_floating_aliases(
    version: Construct,
    *,
    stack: Stack,
    image_name: str,
    version_number: Any,
    aliases: list[str],
    config: dict[str, Any],
) -> CustomResource:
    """The custom resource that keeps ``aliases`` on ``version`` (construct id ``Aliases``).

    ``ConfigDigest`` changes with the version's mutable properties, so the resource runs again after
    any in-place update of the version and puts back what CloudFormation's own alias handling removed.
    """
    provider = AliasesProvider.of(stack)
    provider.allow_image(image_name)
    given = {key: value for key, value in config.items() if value is not None}
    # Resolving (a jsii round trip) is needed only to render tokens; it also drops what is not set.
    literal = not any(is_unresolved(value) for value in given.values())
    rendered = json.dumps(given if literal else stack.resolve(given), sort_keys=True)
    digest = hashlib.sha256(rendered.encode()).hexdigest()[:16]
    resource = CustomResource(
        version,
        "Aliases",
        service_token=provider.function_arn,
        resource_type=RESOURCE_TYPE,
        service_timeout=SERVICE_TIMEOUT,
        properties={
            "ImageName": image_name,
            "Version": version_number,
            "Aliases": aliases,
            "ConfigDigest": digest,
        },
    )
    resource.node.add_dependency(provider.policy)
    return resource
