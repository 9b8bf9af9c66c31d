"""Studio's app image config (``AWS::SageMaker::AppImageConfig``): how Studio runs a custom image."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from aws_cdk import Annotations, Resource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from . import validation
from .enums import AppType
from .interfaces import IAppImageConfig
from .tokens import is_unresolved

T = TypeVar("T")

# Warning ids (acknowledge one with ``Annotations.of(config).acknowledge_warning(id)``).
KERNEL_GATEWAY_UID_GID_WARNING = "@sagemaker-image-constructs/app-image-config:kernel-gateway-uid-gid"
RESERVED_ENVIRONMENT_WARNING = "@sagemaker-image-constructs/app-image-config:reserved-environment-variable"

# Studio Classic runs KernelGateway images with these (DefaultUid, DefaultGid) pairs only
# (developer guide, studio-byoi-specs); SageMaker's defaults are 1000 and 100 (API FileSystemConfig).
KERNEL_GATEWAY_UID_GIDS = ((1000, 100), (0, 0))
DEFAULT_UID_GID = (1000, 100)
# SageMaker sets variables with these prefixes itself, and its values win (studio-updated-byoi-specs).
RESERVED_ENVIRONMENT_PREFIXES = ("AWS_", "SAGEMAKER_")


@dataclass(frozen=True)
class KernelSpec:
    """A Jupyter kernel of a KernelGateway image (``KernelSpec``).

    :param name: ``Name``: the kernel spec's name in the image, 1-1024 characters.
    :param display_name: ``DisplayName``, 1-1024 characters. Default: the name.
    """

    name: str
    display_name: str | None = None


@dataclass(frozen=True)
class FileSystemConfig:
    """Where the user's EFS home directory is mounted, and as whom (``FileSystemConfig``).

    :param mount_path: ``MountPath``, absolute, 1-1024 characters. Default: ``/home/sagemaker-user``.
    :param default_uid: ``DefaultUid``, 0-65535. Default: 1000. Studio Classic accepts only the pairs
        1000/100 and 0/0; any other pair is a synth warning.
    :param default_gid: ``DefaultGid``, 0-65535. Default: 100.
    """

    mount_path: str | None = None
    default_uid: int | float | None = None  # float: a numeric token (``jsii.Number``), not a literal
    default_gid: int | float | None = None


@dataclass(frozen=True)
class KernelGatewayConfig:
    """Run the image as a KernelGateway app (``KernelGatewayImageConfig``).

    :param kernel_specs: ``KernelSpecs``: exactly one kernel (CloudFormation's limit).
    :param file_system: ``FileSystemConfig``. Default: SageMaker's (``/home/sagemaker-user``, 1000/100).
    """

    kernel_specs: Sequence[KernelSpec]
    file_system: FileSystemConfig | None = None


@dataclass(frozen=True)
class ContainerConfig:
    """How to start the container of a JupyterLab or Code Editor app (``ContainerConfig``).

    :param arguments: ``ContainerArguments``: at most 50, each 1-64 characters, not blank.
        Default: none.
    :param entrypoint: ``ContainerEntrypoint``: at most 1 item, 1-256 characters, not blank.
        Default: the image's.
    :param environment: ``ContainerEnvironmentVariables``: at most 25; names and values 1-256
        characters, not blank. Names starting ``AWS_`` or ``SAGEMAKER_`` are a synth warning: SageMaker's
        own variables with those prefixes override the config's. Default: none.
    """

    arguments: Sequence[str] = ()
    entrypoint: Sequence[str] = ()
    environment: Mapping[str, str] | None = None


# What a Studio execution role needs on the config it runs (see README: known and inferred).
APP_IMAGE_CONFIG_READ_ACTIONS = ("sagemaker:DescribeAppImageConfig",)


class _AppImageConfigBase(Resource):
    """What a defined config and an import share."""

    app_image_config_name: str
    app_image_config_arn: str
    _given_name: str
    _home: Stack

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` describe this config (``sagemaker:DescribeAppImageConfig``): what AWS's Studio
        execution-role policies grant beside ``DescribeImageVersion``.

        The ARN names the config literally where its name is known, so a grantee in another stack of
        the same environment takes no reference to the config's stack.
        """
        name = self._given_name
        arn = (
            self._home.format_arn(service="sagemaker", resource="app-image-config", resource_name=name)
            if name and not is_unresolved(name)
            else self.app_image_config_arn
        )
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(APP_IMAGE_CONFIG_READ_ACTIONS), resource_arns=[arn]
        )


class AppImageConfig(_AppImageConfigBase):
    """Tells Studio how to run a custom image: as which app, with which kernel, user or entrypoint.

    Give exactly one of ``kernel_gateway``, ``jupyter_lab`` and ``code_editor``. Values are checked at
    synth time by the resource schema's rules; rules Studio documents but the schema lacks become
    warnings with an id, which can be acknowledged. Tags: use ``Tags.of(config)``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        app_image_config_name: str | None = None,
        kernel_gateway: KernelGatewayConfig | None = None,
        jupyter_lab: ContainerConfig | None = None,
        code_editor: ContainerConfig | None = None,
    ) -> None:
        """
        :param app_image_config_name: ``AppImageConfigName``: 1-63 letters, digits and ``-``, starting
            and ending with a letter or digit. Default: generated from the stack name and construct
            path (lowercase, unique per stack and path).
        :param kernel_gateway: run the image as a KernelGateway app (Studio Classic's notebooks).
        :param jupyter_lab: run the image as a JupyterLab app.
        :param code_editor: run the image as a Code Editor app.
        """
        # A literal physical name (not a Lazy one) also lets other environments reference the config.
        name = _generated_name(scope, id) if app_image_config_name is None else app_image_config_name
        super().__init__(scope, id, physical_name=name)
        # For a Studio attachment in another stack: the literal name needs no export, and the stack.
        self._given_name = name
        self._home = Stack.of(self)
        owner = validation.ConstructOwner("AppImageConfig", self)
        validation.check(
            owner, "app_image_config_name (AppImageConfigName)", name, validation.APP_IMAGE_CONFIG_NAME
        )

        given = [
            keyword
            for keyword, value in (
                ("kernel_gateway", kernel_gateway),
                ("jupyter_lab", jupyter_lab),
                ("code_editor", code_editor),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise validation.ValidationError(
                f"{owner}: give exactly one of kernel_gateway, jupyter_lab and code_editor "
                f"(got {' and '.join(given) or 'none'})"
            )

        kernel_gateway_config = jupyter_lab_config = code_editor_config = None
        self.app_type: AppType
        if kernel_gateway is not None:
            self.app_type = AppType.KERNEL_GATEWAY
            kernel_gateway_config = self._kernel_gateway(owner, kernel_gateway)
        elif jupyter_lab is not None:
            self.app_type = AppType.JUPYTER_LAB
            jupyter_lab_config = sagemaker.CfnAppImageConfig.JupyterLabAppImageConfigProperty(
                container_config=self._container(
                    owner, "jupyter_lab", "JupyterLabAppImageConfig", jupyter_lab
                )
            )
        else:
            assert code_editor is not None
            self.app_type = AppType.CODE_EDITOR
            code_editor_config = sagemaker.CfnAppImageConfig.CodeEditorAppImageConfigProperty(
                container_config=self._container(
                    owner, "code_editor", "CodeEditorAppImageConfig", code_editor
                )
            )

        resource = sagemaker.CfnAppImageConfig(
            self,
            "Resource",
            app_image_config_name=name,
            kernel_gateway_image_config=kernel_gateway_config,
            jupyter_lab_app_image_config=jupyter_lab_config,
            code_editor_app_image_config=code_editor_config,
        )
        # The Ref, not the literal: whatever names the config (a domain's CustomImages) waits for it.
        self.app_image_config_name: str = self._get_resource_name_attribute(resource.ref)
        self.app_image_config_arn: str = self._get_resource_arn_attribute(
            resource.attr_app_image_config_arn,
            service="sagemaker",
            resource="app-image-config",
            resource_name=self._physical_name,
        )

    def _kernel_gateway(
        self, owner: object, config: KernelGatewayConfig
    ) -> sagemaker.CfnAppImageConfig.KernelGatewayImageConfigProperty:
        _expect_type(owner, "kernel_gateway", config, KernelGatewayConfig)
        specs = _expect_sequence(owner, "kernel_gateway.kernel_specs", config.kernel_specs)
        validation.check_count(
            owner, "kernel_gateway.kernel_specs (KernelSpecs)", len(specs), validation.KERNEL_SPECS
        )
        kernel_specs = []
        for index, spec in enumerate(specs):
            where = f"kernel_gateway.kernel_specs[{index}]"
            cfn = f"KernelGatewayImageConfig.KernelSpecs[{index}]"
            _expect_type(owner, where, spec, KernelSpec)
            validation.check_required(owner, f"{where}.name ({cfn}.Name)", spec.name, "the kernel's name")
            validation.check(owner, f"{where}.name ({cfn}.Name)", spec.name, validation.KERNEL_NAME)
            validation.check(
                owner,
                f"{where}.display_name ({cfn}.DisplayName)",
                spec.display_name,
                validation.KERNEL_DISPLAY_NAME,
            )
            kernel_specs.append(
                sagemaker.CfnAppImageConfig.KernelSpecProperty(name=spec.name, display_name=spec.display_name)
            )

        file_system = config.file_system
        file_system_config = None
        if file_system is not None:
            where, cfn = "kernel_gateway.file_system", "KernelGatewayImageConfig.FileSystemConfig"
            _expect_type(owner, where, file_system, FileSystemConfig)
            validation.check(
                owner, f"{where}.mount_path ({cfn}.MountPath)", file_system.mount_path, validation.MOUNT_PATH
            )
            uid, gid = file_system.default_uid, file_system.default_gid
            validation.check_int(
                owner, f"{where}.default_uid ({cfn}.DefaultUid)", uid, validation.DEFAULT_UID
            )
            validation.check_int(
                owner, f"{where}.default_gid ({cfn}.DefaultGid)", gid, validation.DEFAULT_GID
            )
            self._warn_on_uid_gid(uid, gid)
            file_system_config = sagemaker.CfnAppImageConfig.FileSystemConfigProperty(
                mount_path=file_system.mount_path, default_uid=uid, default_gid=gid
            )
        return sagemaker.CfnAppImageConfig.KernelGatewayImageConfigProperty(
            kernel_specs=kernel_specs, file_system_config=file_system_config
        )

    def _warn_on_uid_gid(self, uid: float | None, gid: float | None) -> None:
        """Warn about a pair Studio Classic refuses at app start (with an opaque error), not at deploy."""
        if uid is None and gid is None:
            return
        effective = (
            DEFAULT_UID_GID[0] if uid is None else uid,
            DEFAULT_UID_GID[1] if gid is None else gid,
        )
        if any(isinstance(value, float) for value in effective):  # a numeric token: unknown until deploy
            return
        if effective not in KERNEL_GATEWAY_UID_GIDS:
            Annotations.of(self).add_warning_v2(
                KERNEL_GATEWAY_UID_GID_WARNING,
                "Studio Classic runs KernelGateway images only as DefaultUid/DefaultGid 1000/100 or 0/0; "
                f"this config gives {effective[0]}/{effective[1]} (an unset one is SageMaker's default: "
                "DefaultUid 1000, DefaultGid 100), and an app started with it fails",
            )

    def _container(
        self, owner: object, keyword: str, cfn_config: str, config: ContainerConfig
    ) -> sagemaker.CfnAppImageConfig.ContainerConfigProperty:
        _expect_type(owner, keyword, config, ContainerConfig)
        cfn = f"{cfn_config}.ContainerConfig"
        arguments = self._string_list(
            owner,
            f"{keyword}.arguments",
            f"{cfn}.ContainerArguments",
            config.arguments,
            validation.CONTAINER_ARGUMENTS,
            validation.CONTAINER_ARGUMENT,
        )
        entrypoint = self._string_list(
            owner,
            f"{keyword}.entrypoint",
            f"{cfn}.ContainerEntrypoint",
            config.entrypoint,
            validation.CONTAINER_ENTRYPOINT,
            validation.CONTAINER_ENTRYPOINT_ITEM,
        )
        environment = self._environment(
            owner, f"{keyword}.environment", f"{cfn}.ContainerEnvironmentVariables", config.environment
        )
        return sagemaker.CfnAppImageConfig.ContainerConfigProperty(
            container_arguments=arguments,
            container_entrypoint=entrypoint,
            container_environment_variables=environment,
        )

    @staticmethod
    def _string_list(
        owner: object,
        keyword: str,
        cfn: str,
        values: Sequence[str],
        count: validation.ItemCount,
        rule: validation.Rule,
    ) -> list[str] | None:
        """Check a list of strings; None for an empty one (not rendered)."""
        # A list token is a list of one encoded string, which passes as a token item.
        items = list(_expect_sequence(owner, keyword, values))
        validation.check_count(owner, f"{keyword} ({cfn})", len(items), count)
        for index, item in enumerate(items):
            validation.check(owner, f"{keyword}[{index}] ({cfn}[{index}])", item, rule)
        return items or None

    def _environment(
        self, owner: object, keyword: str, cfn: str, environment: Mapping[str, str] | None
    ) -> list[sagemaker.CfnAppImageConfig.CustomImageContainerEnvironmentVariableProperty] | None:
        if not environment:
            return None
        if not isinstance(environment, Mapping):
            raise validation.ValidationError(
                f"{owner}: invalid {keyword} ({cfn}): must be a mapping of names to values, "
                f"not {type(environment).__name__}"
            )
        validation.check_count(
            owner, f"{keyword} ({cfn})", len(environment), validation.CONTAINER_ENVIRONMENT
        )
        variables = []
        reserved = []
        for index, (key, value) in enumerate(environment.items()):
            validation.check(
                owner, f"{keyword} name ({cfn}[{index}].Key)", key, validation.CONTAINER_ENVIRONMENT_KEY
            )
            validation.check(
                owner,
                f"{keyword}[{key!r}] ({cfn}[{index}].Value)",
                value,
                validation.CONTAINER_ENVIRONMENT_VALUE,
            )
            if key.startswith(RESERVED_ENVIRONMENT_PREFIXES):
                reserved.append(key)
            variables.append(
                sagemaker.CfnAppImageConfig.CustomImageContainerEnvironmentVariableProperty(
                    key=key, value=value
                )
            )
        if reserved:
            Annotations.of(self).add_warning_v2(
                RESERVED_ENVIRONMENT_WARNING,
                f"environment variable(s) {', '.join(reserved)}: SageMaker sets its own variables "
                f"prefixed {' and '.join(RESERVED_ENVIRONMENT_PREFIXES)}, and they override the config's "
                "variables of the same name",
            )
        return variables

    @staticmethod
    def from_app_image_config_name(
        scope: Construct, id: str, name: str, app_type: AppType | str
    ) -> IAppImageConfig:
        """Import a config of the stack's account and region by name (a token is allowed).

        :param app_type: the app the config is for: an ``AppType`` or its string, not a token (a
            Studio attachment needs it at synth time).
        """
        owner = f"AppImageConfig.from_app_image_config_name {id!r}"
        validation.check_required(owner, "name (AppImageConfigName)", name, "the config's name")
        validation.check_required(owner, "app_type", app_type, "an AppType or its string")
        validation.check(owner, "name (AppImageConfigName)", name, validation.APP_IMAGE_CONFIG_NAME)
        app_type_value = validation.check_enum(owner, "app_type", app_type, AppType)
        if app_type_value is None or is_unresolved(app_type_value):
            raise validation.ValidationError(
                f"{owner}: invalid app_type {app_type!r}: must be one of "
                f"{', '.join(member.value for member in AppType)}, known at synth time"
            )
        arn = Stack.of(scope).format_arn(service="sagemaker", resource="app-image-config", resource_name=name)
        return _ImportedAppImageConfig(
            scope, id, app_image_config_name=name, app_image_config_arn=arn, app_type=AppType(app_type_value)
        )


class _ImportedAppImageConfig(_AppImageConfigBase):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        app_image_config_name: str,
        app_image_config_arn: str,
        app_type: AppType,
    ) -> None:
        super().__init__(scope, id)
        self._home = Stack.of(scope)  # for a Studio attachment's environment check, asked once
        self._given_name = app_image_config_name
        self.app_image_config_name: str = app_image_config_name
        self.app_image_config_arn: str = app_image_config_arn
        self.app_type = app_type


def _generated_name(scope: Construct, id: str) -> str:
    """A name made of the stack name and the construct path, ending in a hash of both.

    The hash makes it unique per stack and path, however much of the readable part is cut to fit 63
    characters. A nested stack's name is a token: the nearest stack with a literal name stands in, with
    the nested stack in the path. Lowercase, because SageMaker may report the name (and the ARN) in
    lowercase (the schema's propertyTransform): then the name, the Ref and the ARN agree.
    """
    stack = Stack.of(scope)
    while is_unresolved(stack.stack_name) and stack.nested_stack_parent is not None:
        stack = stack.nested_stack_parent
    stack_path = stack.node.path
    scope_path = scope.node.path
    relative = [*scope_path[len(stack_path) :].split("/"), id] if scope_path != stack_path else [id]
    parts = [stack.stack_name, *(part for part in relative if part)]
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:8]
    readable = "-".join(filter(None, (re.sub(r"[^a-z0-9]", "", part.lower()) for part in parts)))
    room = validation.APP_IMAGE_CONFIG_NAME.max_length - len(digest) - 1
    if len(readable) > room:  # keep the start (the stack) and the end (the construct), like CDK's names
        readable = readable[: room // 2] + readable[len(readable) - (room - room // 2) :]
    # It starts with the stack name's letter (CDK requires one) and ends with a letter or digit.
    return f"{readable}-{digest}"


def _expect_type(owner: object, keyword: str, value: object, expected: type) -> None:
    if not isinstance(value, expected):
        raise validation.ValidationError(
            f"{owner}: invalid {keyword}: must be a {expected.__name__}, not {type(value).__name__}"
        )


def _expect_sequence(owner: object, keyword: str, values: Sequence[T]) -> Sequence[T]:
    """A list or tuple; a lone string would otherwise be read as a list of characters."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise validation.ValidationError(
            f"{owner}: invalid {keyword} {values!r}: must be a list, not {type(values).__name__}"
        )
    return values
