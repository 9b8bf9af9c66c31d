"""AppImageConfig: each config kind's template, every schema rule at its bounds (checked against cfn-lint's
copy of AWS's resource schema and by cfn-lint itself), the warnings, the generated name and imports."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match, Template
from cfnlint.api import ManualArgs, lint
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from constructs import Construct

from constructs_lib import (
    AppImageConfig,
    AppType,
    ContainerConfig,
    FileSystemConfig,
    IAppImageConfig,
    KernelGatewayConfig,
    KernelSpec,
    ValidationError,
)
from constructs_lib import validation as v
from constructs_lib.app_image_config import (
    KERNEL_GATEWAY_UID_GID_WARNING,
    RESERVED_ENVIRONMENT_WARNING,
)

TYPE = "AWS::SageMaker::AppImageConfig"
Props = dict[str, Any]


def kernel_gateway(**file_system: Any) -> Props:
    return {
        "kernel_gateway": KernelGatewayConfig(
            kernel_specs=[KernelSpec("python3")], file_system=FileSystemConfig(**file_system)
        )
    }


def properties(stack: cdk.Stack) -> dict[str, Any]:
    (resource,) = Template.from_stack(stack).find_resources(TYPE).values()
    return resource["Properties"]  # type: ignore[no-any-return]


def at(value: Any, path: str) -> Any:
    for key in path.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def lint_errors(template: Mapping[str, Any]) -> list[Any]:
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    return [m for m in matches if m.rule.id.startswith("E")]


# --- each config kind ---------------------------------------------------------------------------------


def test_kernel_gateway_template(stack: cdk.Stack) -> None:
    config = AppImageConfig(
        stack,
        "Config",
        app_image_config_name="my-kernels",
        kernel_gateway=KernelGatewayConfig(
            kernel_specs=[KernelSpec("python3", display_name="Python 3 (PyTorch)")],
            file_system=FileSystemConfig(
                mount_path="/home/sagemaker-user", default_uid=1000, default_gid=100
            ),
        ),
    )
    assert properties(stack) == {
        "AppImageConfigName": "my-kernels",
        "KernelGatewayImageConfig": {
            "KernelSpecs": [{"Name": "python3", "DisplayName": "Python 3 (PyTorch)"}],
            "FileSystemConfig": {"MountPath": "/home/sagemaker-user", "DefaultUid": 1000, "DefaultGid": 100},
        },
    }
    assert config.app_type is AppType.KERNEL_GATEWAY


def test_kernel_gateway_renders_only_what_is_given(stack: cdk.Stack) -> None:
    AppImageConfig(
        stack, "Config", app_image_config_name="k", kernel_gateway=KernelGatewayConfig([KernelSpec("ir")])
    )
    assert properties(stack) == {
        "AppImageConfigName": "k",
        "KernelGatewayImageConfig": {"KernelSpecs": [{"Name": "ir"}]},
    }


@pytest.mark.parametrize(
    ("keyword", "cfn", "app_type"),
    [
        ("jupyter_lab", "JupyterLabAppImageConfig", AppType.JUPYTER_LAB),
        ("code_editor", "CodeEditorAppImageConfig", AppType.CODE_EDITOR),
    ],
)
def test_container_config_templates(stack: cdk.Stack, keyword: str, cfn: str, app_type: AppType) -> None:
    container = ContainerConfig(
        arguments=["-c", "start-app --port 8888"],
        entrypoint=["/bin/bash"],
        environment={"PIP_INDEX_URL": "https://pypi.example.com/simple", "A": "1"},
    )
    props: Props = {keyword: container}
    config = AppImageConfig(stack, "Config", app_image_config_name="c", **props)
    assert properties(stack) == {
        "AppImageConfigName": "c",
        cfn: {
            "ContainerConfig": {
                "ContainerArguments": ["-c", "start-app --port 8888"],
                "ContainerEntrypoint": ["/bin/bash"],
                "ContainerEnvironmentVariables": [  # in the mapping's order
                    {"Key": "PIP_INDEX_URL", "Value": "https://pypi.example.com/simple"},
                    {"Key": "A", "Value": "1"},
                ],
            }
        },
    }
    assert config.app_type is app_type


@pytest.mark.parametrize(("keyword", "cfn"), [("jupyter_lab", "JupyterLab"), ("code_editor", "CodeEditor")])
def test_an_empty_container_config_still_names_the_app(stack: cdk.Stack, keyword: str, cfn: str) -> None:
    props: Props = {keyword: ContainerConfig(environment={})}
    AppImageConfig(stack, "Config", app_image_config_name="c", **props)
    assert properties(stack) == {"AppImageConfigName": "c", f"{cfn}AppImageConfig": {"ContainerConfig": {}}}


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({}, "none"),
        (
            {"kernel_gateway": KernelGatewayConfig([KernelSpec("k")]), "jupyter_lab": ContainerConfig()},
            "kernel_gateway and jupyter_lab",
        ),
        ({"jupyter_lab": ContainerConfig(), "code_editor": ContainerConfig()}, "jupyter_lab and code_editor"),
        (
            {
                "kernel_gateway": KernelGatewayConfig([KernelSpec("k")]),
                "jupyter_lab": ContainerConfig(),
                "code_editor": ContainerConfig(),
            },
            "kernel_gateway and jupyter_lab and code_editor",
        ),
    ],
)
def test_exactly_one_config_kind(stack: cdk.Stack, given: Props, named: str) -> None:
    expected = (
        r"^AppImageConfig 'Stack/Config': give exactly one of kernel_gateway, jupyter_lab and code_editor "
        rf"\(got {named}\)$"
    )
    with pytest.raises(ValidationError, match=expected):
        AppImageConfig(stack, "Config", **given)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"jupyter_lab": KernelGatewayConfig([KernelSpec("k")])}, "jupyter_lab: must be a ContainerConfig"),
        ({"kernel_gateway": ContainerConfig()}, "kernel_gateway: must be a KernelGatewayConfig, not Cont"),
        (
            {"kernel_gateway": KernelGatewayConfig(kernel_specs="python3")},  # type: ignore[arg-type]
            "kernel_gateway.kernel_specs 'python3': must be a list, not str",
        ),
        (
            {"kernel_gateway": KernelGatewayConfig(kernel_specs=["python3"])},  # type: ignore[list-item]
            r"kernel_gateway.kernel_specs\[0\]: must be a KernelSpec, not str",
        ),
        (
            {"kernel_gateway": KernelGatewayConfig([KernelSpec("k")], file_system="/home")},  # type: ignore[arg-type]
            "kernel_gateway.file_system: must be a FileSystemConfig, not str",
        ),
        (
            {"code_editor": ContainerConfig(arguments="--x")},
            "code_editor.arguments '--x': must be a list, not str",
        ),
        (
            {"code_editor": ContainerConfig(entrypoint="/bin/sh")},
            "code_editor.entrypoint '/bin/sh': must be a list",
        ),
        (
            {"code_editor": ContainerConfig(environment=[("K", "V")])},  # type: ignore[arg-type]
            "code_editor.environment .*: must be a mapping of names to values, not list",
        ),
    ],
)
def test_wrong_types_are_named(stack: cdk.Stack, props: Props, message: str) -> None:
    with pytest.raises(ValidationError, match=rf"^AppImageConfig 'Stack/Config': invalid {message}"):
        AppImageConfig(stack, "Config", app_image_config_name="c", **props)


# --- every schema rule, both sides of each bound --------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One property: how to set it through the construct, a valid value, its names, and its template path."""

    build: Callable[[Any], Props]
    valid: Any
    keyword: str
    cfn: str
    path: str


KG_SPEC = "KernelGatewayImageConfig.KernelSpecs"
KG_FS = "KernelGatewayImageConfig.FileSystemConfig"
JL = "JupyterLabAppImageConfig.ContainerConfig"
CE = "CodeEditorAppImageConfig.ContainerConfig"

NAME = Field(
    lambda x: {"app_image_config_name": x, "jupyter_lab": ContainerConfig()},
    "ok",
    "app_image_config_name",
    "AppImageConfigName",
    "AppImageConfigName",
)
KERNEL_SPECS = Field(
    lambda x: {"kernel_gateway": KernelGatewayConfig(kernel_specs=x)},
    [KernelSpec("python3")],
    "kernel_gateway.kernel_specs",
    "KernelSpecs",
    KG_SPEC,
)
KERNEL_NAME = Field(
    lambda x: {"kernel_gateway": KernelGatewayConfig([KernelSpec(x)])},
    "python3",
    "kernel_gateway.kernel_specs[0].name",
    f"{KG_SPEC}[0].Name",
    f"{KG_SPEC}.0.Name",
)
KERNEL_DISPLAY_NAME = Field(
    lambda x: {"kernel_gateway": KernelGatewayConfig([KernelSpec("python3", display_name=x)])},
    "Python 3",
    "kernel_gateway.kernel_specs[0].display_name",
    f"{KG_SPEC}[0].DisplayName",
    f"{KG_SPEC}.0.DisplayName",
)
MOUNT_PATH = Field(
    lambda x: kernel_gateway(mount_path=x),
    "/home/sagemaker-user",
    "kernel_gateway.file_system.mount_path",
    f"{KG_FS}.MountPath",
    f"{KG_FS}.MountPath",
)
UID = Field(
    lambda x: kernel_gateway(default_uid=x, default_gid=0),
    0,
    "kernel_gateway.file_system.default_uid",
    f"{KG_FS}.DefaultUid",
    f"{KG_FS}.DefaultUid",
)
GID = Field(
    lambda x: kernel_gateway(default_uid=0, default_gid=x),
    0,
    "kernel_gateway.file_system.default_gid",
    f"{KG_FS}.DefaultGid",
    f"{KG_FS}.DefaultGid",
)
ARGUMENTS = Field(
    lambda x: {"jupyter_lab": ContainerConfig(arguments=x)},
    ["--x"],
    "jupyter_lab.arguments",
    f"{JL}.ContainerArguments",
    f"{JL}.ContainerArguments",
)
ARGUMENT = Field(
    lambda x: {"jupyter_lab": ContainerConfig(arguments=["--first", x])},
    "--x",
    "jupyter_lab.arguments[1]",
    f"{JL}.ContainerArguments[1]",
    f"{JL}.ContainerArguments.1",
)
ENTRYPOINT = Field(
    lambda x: {"code_editor": ContainerConfig(entrypoint=x)},
    ["/bin/sh"],
    "code_editor.entrypoint",
    f"{CE}.ContainerEntrypoint",
    f"{CE}.ContainerEntrypoint",
)
ENTRYPOINT_ITEM = Field(
    lambda x: {"code_editor": ContainerConfig(entrypoint=[x])},
    "/bin/sh",
    "code_editor.entrypoint[0]",
    f"{CE}.ContainerEntrypoint[0]",
    f"{CE}.ContainerEntrypoint.0",
)
ENVIRONMENT = Field(
    lambda x: {"code_editor": ContainerConfig(environment=x)},
    {"K": "V"},
    "code_editor.environment",
    f"{CE}.ContainerEnvironmentVariables",
    f"{CE}.ContainerEnvironmentVariables",
)
ENV_KEY = Field(
    lambda x: {"code_editor": ContainerConfig(environment={"FIRST": "1", x: "V"})},
    "K",
    "code_editor.environment name",
    f"{CE}.ContainerEnvironmentVariables[1].Key",
    f"{CE}.ContainerEnvironmentVariables.1.Key",
)
ENV_VALUE = Field(
    lambda x: {"code_editor": ContainerConfig(environment={"FIRST": "1", "K": x})},
    "V",
    "code_editor.environment['K']",
    f"{CE}.ContainerEnvironmentVariables[1].Value",
    f"{CE}.ContainerEnvironmentVariables.1.Value",
)


def env(count: int) -> dict[str, str]:
    return {f"K{i}": "v" for i in range(count)}


def rendered_env(count: int) -> list[dict[str, str]]:
    return [{"Key": f"K{i}", "Value": "v"} for i in range(count)]


# (field, bad value, what the message says, the same value as it goes into a template for cfn-lint; None
# where cfn-lint cannot see the fault: it matches patterns by search, the service (Java) the whole value,
# and Java's "." matches no line break at all)
REJECTED: list[tuple[Field, Any, str, Any]] = [
    (NAME, "", "length must be 1-63 characters (got 0)", ""),
    (NAME, "a" * 64, "length must be 1-63 characters (got 64)", "a" * 64),
    (NAME, "-config", "must match the pattern", "-config"),
    (NAME, "_config", "must match the pattern", "_config"),
    (NAME, "config-", "must match the pattern", None),
    (NAME, "my_config", "must match the pattern", None),
    (NAME, "my.config", "must match the pattern", None),
    (NAME, "my config", "must match the pattern", None),
    (NAME, "config\n", "must match the pattern", None),
    (NAME, "caf\u00e9", "must match the pattern", None),
    (KERNEL_SPECS, [], "must have exactly 1 item(s) (got 0)", []),
    (
        KERNEL_SPECS,
        [KernelSpec("a"), KernelSpec("b")],
        "must have exactly 1 item(s) (got 2)",
        [{"Name": "a"}, {"Name": "b"}],
    ),
    (KERNEL_NAME, "", "length must be 1-1024 characters (got 0)", ""),
    (KERNEL_NAME, "n" * 1025, "length must be 1-1024 characters (got 1025)", "n" * 1025),
    (KERNEL_DISPLAY_NAME, "", "length must be 1-1024 characters (got 0)", ""),
    (KERNEL_DISPLAY_NAME, "d" * 1025, "length must be 1-1024 characters (got 1025)", "d" * 1025),
    (MOUNT_PATH, "", "length must be 1-1024 characters (got 0)", ""),
    (MOUNT_PATH, "home/sagemaker-user", "must match the pattern ^/.*", "home/sagemaker-user"),
    (MOUNT_PATH, "/" + "m" * 1024, "length must be 1-1024 characters (got 1025)", "/" + "m" * 1024),
    (MOUNT_PATH, "/home\n/user", "must match the pattern ^/.*", None),
    (MOUNT_PATH, "/home\r/user", "one line", None),
    (MOUNT_PATH, "/home\u2028/user", "one line", None),
    (UID, -1, "must be 0-65535", -1),
    (UID, 65536, "must be 0-65535", 65536),
    (UID, True, "must be an integer, not bool", True),
    (UID, 1000.0, "must be an integer, not float", None),
    (UID, "1000", "must be an integer, not str", None),
    (GID, -1, "must be 0-65535", -1),
    (GID, 65536, "must be 0-65535", 65536),
    (GID, False, "must be an integer, not bool", False),
    (ARGUMENTS, ["a"] * 51, "must have at most 50 item(s) (got 51)", ["a"] * 51),
    (ARGUMENT, "", "length must be 1-64 characters (got 0)", ""),
    (ARGUMENT, "a" * 65, "length must be 1-64 characters (got 65)", "a" * 65),
    (ARGUMENT, " ", r"must match the pattern ^(?!\s*$).+", " "),
    (ARGUMENT, "\t \f\v", r"must match the pattern ^(?!\s*$).+", "\t \f\v"),
    (ARGUMENT, "\u00a0", "not blank", "\u00a0"),  # Java's \s is ASCII; ECMAScript's and Python's are not
    (ARGUMENT, "\u3000 ", "not blank", "\u3000 "),
    (ARGUMENT, "\ufeff", "not blank", None),  # ECMAScript's \s only; cfn-lint (Python) sees a character
    (ARGUMENT, "a\nb", r"must match the pattern ^(?!\s*$).+", None),
    (ARGUMENT, "a\rb", "one line", None),
    (ARGUMENT, "a\u0085b", "one line", None),
    (ENTRYPOINT, ["/bin/sh", "-c"], "must have at most 1 item(s) (got 2)", ["/bin/sh", "-c"]),
    (ENTRYPOINT_ITEM, "", "length must be 1-256 characters (got 0)", ""),
    (ENTRYPOINT_ITEM, "e" * 257, "length must be 1-256 characters (got 257)", "e" * 257),
    (ENTRYPOINT_ITEM, "   ", "must match the pattern", "   "),
    (ENVIRONMENT, env(26), "must have at most 25 item(s) (got 26)", rendered_env(26)),
    (ENV_KEY, "", "length must be 1-256 characters (got 0)", ""),
    (ENV_KEY, "k" * 257, "length must be 1-256 characters (got 257)", "k" * 257),
    (ENV_KEY, "  ", "must match the pattern", "  "),
    (ENV_VALUE, "", "length must be 1-256 characters (got 0)", ""),
    (ENV_VALUE, "v" * 257, "length must be 1-256 characters (got 257)", "v" * 257),
    (ENV_VALUE, " ", "must match the pattern", " "),
    (ENV_VALUE, "line\u2029break", "one line", None),
]

ACCEPTED: list[tuple[Field, Any, Any]] = [
    (NAME, "a" * 63, "a" * 63),
    (NAME, "A", "A"),
    (NAME, "0", "0"),
    (NAME, "My--Config-9", "My--Config-9"),
    (KERNEL_NAME, "n" * 1024, "n" * 1024),
    (KERNEL_NAME, "x", "x"),
    (KERNEL_DISPLAY_NAME, "Python 3 (ipykernel) \u00e9 {any} " + "d" * 995, None),  # 1024
    (KERNEL_DISPLAY_NAME, "d" * 1024, "d" * 1024),
    (MOUNT_PATH, "/", "/"),
    (MOUNT_PATH, "/" + "m" * 1023, "/" + "m" * 1023),
    (MOUNT_PATH, "/home/caf\u00e9 user", "/home/caf\u00e9 user"),
    (UID, 0, 0),
    (UID, 65535, 65535),
    (GID, 65535, 65535),
    (ARGUMENTS, ["a"] * 50, ["a"] * 50),
    (ARGUMENT, "a" * 64, "a" * 64),
    (ARGUMENT, " a ", " a "),
    (ARGUMENT, "x", "x"),
    (ARGUMENT, "\u00a0x\u3000", "\u00a0x\u3000"),
    (ENTRYPOINT, ["/bin/sh"], ["/bin/sh"]),
    (ENTRYPOINT_ITEM, "e" * 256, "e" * 256),
    (ENVIRONMENT, env(25), rendered_env(25)),
    (ENV_KEY, "k" * 256, "k" * 256),
    (ENV_VALUE, "v" * 256, "v" * 256),
    (ENV_VALUE, " padded ", " padded "),
]


def case_id(case: tuple[Any, ...]) -> str:
    field, value = case[0], case[1]
    shown = repr(value) if len(repr(value)) <= 24 else f"{type(value).__name__}[{len(value)}]"
    return f"{field.keyword}={shown}"


def message(field: Field, value: Any, rule: str) -> str:
    shown = "" if isinstance(value, list | dict) else f" {re.escape(repr(value))}"
    return (
        rf"^AppImageConfig 'Stack/Config': invalid {re.escape(field.keyword)} \({re.escape(field.cfn)}\)"
        rf"{shown}: .*{re.escape(rule)}"
    )


@pytest.mark.parametrize("case", REJECTED, ids=case_id)
def test_rejects(stack: cdk.Stack, case: tuple[Field, Any, str, Any]) -> None:
    field, value, rule, _ = case
    with pytest.raises(ValidationError, match=message(field, value, rule)):
        AppImageConfig(stack, "Config", **field.build(value))


@pytest.mark.parametrize("case", ACCEPTED, ids=case_id)
def test_accepts_edge_values_unchanged(stack: cdk.Stack, case: tuple[Field, Any, Any]) -> None:
    field, value, rendered = case
    AppImageConfig(stack, "Config", **field.build(value))
    assert at(properties(stack), field.path) == (value if rendered is None else rendered)


def test_cfn_lint_accepts_every_accepted_edge_value(stack: cdk.Stack) -> None:
    for index, (field, value, _) in enumerate(ACCEPTED):
        AppImageConfig(stack, f"Config{index}", **field.build(value))
    assert [f"{m.rule.id} {m.path_string}" for m in lint_errors(Template.from_stack(stack).to_json())] == []


def test_cfn_lint_refuses_each_rejected_value_where_it_can_see_it(stack: cdk.Stack) -> None:
    """The oracle agrees: each value our validation refuses, forced past it through an L1 override, is
    an error for cfn-lint (from AWS's schema) at exactly that property."""
    expected = {}
    for index, (field, _, _, override) in enumerate(REJECTED):
        if override is None:
            continue
        config = AppImageConfig(stack, f"Config{index}", **field.build(field.valid))
        resource = config.node.default_child
        assert isinstance(resource, cdk.CfnResource)
        resource.add_property_override(field.path, override)
        expected[stack.get_logical_id(resource)] = field.path.split(".")
    found: dict[str, set[str]] = {}
    for match in lint_errors(Template.from_stack(stack).to_json()):
        _, logical_id, _, *path = match.path
        found.setdefault(logical_id, set()).add(".".join(map(str, path)))
    assert len(expected) >= 30
    for logical_id, path in expected.items():
        # At the property, or (a count) at the list, or (a type) at any item of the list.
        assert any(p == ".".join(path) or p.startswith(".".join(path) + ".") for p in found[logical_id]), (
            logical_id,
            path,
            found.get(logical_id),
        )


def test_unresolved_tokens_pass_through(stack: cdk.Stack) -> None:
    name = cdk.CfnParameter(stack, "Name").value_as_string
    kernel = cdk.CfnParameter(stack, "Kernel").value_as_string
    path = cdk.CfnParameter(stack, "Path").value_as_string
    uid = cdk.CfnParameter(stack, "Uid", type="Number").value_as_number
    gid = cdk.CfnParameter(stack, "Gid", type="Number").value_as_number
    AppImageConfig(
        stack,
        "Config",
        app_image_config_name=name,
        kernel_gateway=KernelGatewayConfig(
            [KernelSpec(kernel, display_name=kernel)],
            FileSystemConfig(path, default_uid=uid, default_gid=gid),
        ),
    )
    args = cdk.CfnParameter(stack, "Args", type="CommaDelimitedList").value_as_list
    entry = cdk.CfnParameter(stack, "Entry").value_as_string
    key = cdk.CfnParameter(stack, "Key").value_as_string
    AppImageConfig(
        stack,
        "Lab",
        app_image_config_name="lab",
        jupyter_lab=ContainerConfig(arguments=args, entrypoint=[entry], environment={key: entry}),
    )
    AppImageConfig(
        stack,
        "Editor",
        app_image_config_name="editor",
        code_editor=ContainerConfig(arguments=cdk.Fn.split(",", entry), entrypoint=cdk.Fn.split(",", entry)),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        TYPE,
        {
            "AppImageConfigName": {"Ref": "Name"},
            "KernelGatewayImageConfig": {
                "KernelSpecs": [{"Name": {"Ref": "Kernel"}, "DisplayName": {"Ref": "Kernel"}}],
                "FileSystemConfig": {
                    "MountPath": {"Ref": "Path"},
                    "DefaultUid": {"Ref": "Uid"},
                    "DefaultGid": {"Ref": "Gid"},
                },
            },
        },
    )
    template.has_resource_properties(
        TYPE,
        {
            "JupyterLabAppImageConfig": {
                "ContainerConfig": {
                    "ContainerArguments": {"Ref": "Args"},
                    "ContainerEntrypoint": [{"Ref": "Entry"}],
                    "ContainerEnvironmentVariables": [{"Key": {"Ref": "Key"}, "Value": {"Ref": "Entry"}}],
                }
            }
        },
    )
    split = {"Fn::Split": [",", {"Ref": "Entry"}]}
    template.has_resource_properties(
        TYPE,
        {
            "CodeEditorAppImageConfig": {
                "ContainerConfig": {"ContainerArguments": split, "ContainerEntrypoint": split}
            }
        },
    )
    assert Annotations.from_stack(stack).find_warning("*", Match.any_value()) == []  # unknown UID/GID


def test_a_token_does_not_hide_a_count(stack: cdk.Stack) -> None:
    token = cdk.CfnParameter(stack, "Arg").value_as_string
    with pytest.raises(ValidationError, match=r"must have at most 1 item\(s\) \(got 2\)"):
        AppImageConfig(stack, "Config", code_editor=ContainerConfig(entrypoint=[token, token]))


# --- the rules are the schema's -----------------------------------------------------------------------


def schema() -> dict[str, Any]:
    """The resource schema cfn-lint validates templates with (the same file its linting reads)."""
    return PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", TYPE).schema  # type: ignore[no-any-return]


def deref(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = root["definitions"][node["$ref"].removeprefix("#/definitions/")]
    return node


def test_every_rule_is_the_schemas() -> None:
    root = schema()
    defs = root["definitions"]

    def string(node: dict[str, Any]) -> tuple[Any, ...]:
        node = deref(root, node)
        assert node["type"] == "string"
        return node["minLength"], node["maxLength"], node.get("pattern")

    def rule(r: v.Rule) -> tuple[Any, ...]:
        return r.min_length, r.max_length, r.pattern

    def items(node: dict[str, Any]) -> tuple[Any, ...]:
        assert node["type"] == "array"
        return node["minItems"], node["maxItems"]

    def count(c: v.ItemCount) -> tuple[int, int]:
        return c.min_items, c.max_items

    assert rule(v.APP_IMAGE_CONFIG_NAME) == string(root["properties"]["AppImageConfigName"])
    kernel_gateway = defs["KernelGatewayImageConfig"]["properties"]
    assert count(v.KERNEL_SPECS) == items(kernel_gateway["KernelSpecs"])
    spec = deref(root, kernel_gateway["KernelSpecs"]["items"])["properties"]
    assert rule(v.KERNEL_NAME) == string(spec["Name"])
    assert rule(v.KERNEL_DISPLAY_NAME) == string(spec["DisplayName"])
    file_system = deref(root, kernel_gateway["FileSystemConfig"])["properties"]
    assert rule(v.MOUNT_PATH) == string(file_system["MountPath"])
    for ours, theirs in (
        (v.DEFAULT_UID, file_system["DefaultUid"]),
        (v.DEFAULT_GID, file_system["DefaultGid"]),
    ):
        assert theirs["type"] == "integer"
        assert (ours.minimum, ours.maximum) == (theirs["minimum"], theirs["maximum"])
    container = defs["ContainerConfig"]["properties"]
    assert count(v.CONTAINER_ARGUMENTS) == items(container["ContainerArguments"])
    assert rule(v.CONTAINER_ARGUMENT) == string(container["ContainerArguments"]["items"])
    assert count(v.CONTAINER_ENTRYPOINT) == items(container["ContainerEntrypoint"])
    assert rule(v.CONTAINER_ENTRYPOINT_ITEM) == string(container["ContainerEntrypoint"]["items"])
    assert count(v.CONTAINER_ENVIRONMENT) == items(container["ContainerEnvironmentVariables"])
    variable = deref(root, container["ContainerEnvironmentVariables"]["items"])
    assert variable["required"] == ["Key", "Value"]
    assert rule(v.CONTAINER_ENVIRONMENT_KEY) == string(variable["properties"]["Key"])
    assert rule(v.CONTAINER_ENVIRONMENT_VALUE) == string(variable["properties"]["Value"])


def test_the_schema_has_nothing_the_construct_leaves_out() -> None:
    """A property AWS adds to the schema (for example a file system for JupyterLab) fails here first."""
    root = schema()
    defs = root["definitions"]
    assert set(root["properties"]) == {
        "AppImageConfigName",
        "AppImageConfigArn",  # read-only
        "Tags",  # Tags.of(config)
        "KernelGatewayImageConfig",
        "JupyterLabAppImageConfig",
        "CodeEditorAppImageConfig",
    }
    assert set(defs["KernelGatewayImageConfig"]["properties"]) == {"KernelSpecs", "FileSystemConfig"}
    assert set(defs["KernelSpec"]["properties"]) == {"Name", "DisplayName"}
    assert set(defs["FileSystemConfig"]["properties"]) == {"MountPath", "DefaultUid", "DefaultGid"}
    assert set(defs["JupyterLabAppImageConfig"]["properties"]) == {"ContainerConfig"}
    assert set(defs["CodeEditorAppImageConfig"]["properties"]) == {"ContainerConfig"}
    assert set(defs["ContainerConfig"]["properties"]) == {
        "ContainerArguments",
        "ContainerEntrypoint",
        "ContainerEnvironmentVariables",
    }


def test_patterns_with_a_dot_are_matched_as_java_does() -> None:
    """Every rule whose pattern has '.' refuses every Java line terminator, not only Python's '\\n'."""
    rules = [value for value in vars(v).values() if isinstance(value, v.Rule)]
    checked = 0
    for r in rules:
        # A "." that is neither escaped nor inside a character class matches any character but a line break.
        if r.pattern and "." in re.sub(r"\\.|\[[^\]]*\]", "", r.pattern):
            assert isinstance(r, v.SingleLineRule), r
            for terminator in v.JAVA_LINE_TERMINATORS:
                assert r.violation(f"/a{terminator}b") is not None
            checked += 1
    assert checked == 5  # MountPath, ContainerArguments, ContainerEntrypoint, variables' Key and Value


def test_the_warning_assumes_the_schemas_defaults() -> None:
    file_system = schema()["definitions"]["FileSystemConfig"]["properties"]
    assert "defaults to 1000." in file_system["DefaultUid"]["description"]
    assert "defaults to 100." in file_system["DefaultGid"]["description"]


# --- warnings for documented runtime rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("uid", "gid", "shown"),
    [
        (1001, 100, "1001/100"),
        (1000, 0, "1000/0"),
        (0, 100, "0/100"),
        (0, None, "0/100"),
        (None, 0, "1000/0"),
        (65535, 65535, "65535/65535"),
    ],
)
def test_kernel_gateway_uid_gid_outside_studio_classics_pairs_warns(
    stack: cdk.Stack, uid: int | None, gid: int | None, shown: str
) -> None:
    AppImageConfig(stack, "Config", **kernel_gateway(default_uid=uid, default_gid=gid))
    Annotations.from_stack(stack).has_warning(
        "/Stack/Config",
        Match.string_like_regexp(
            rf"^Studio Classic runs KernelGateway images only as DefaultUid/DefaultGid 1000/100 or 0/0; "
            rf"this config gives {shown} .*\[ack: {re.escape(KERNEL_GATEWAY_UID_GID_WARNING)}\]$"
        ),
    )


@pytest.mark.parametrize(("uid", "gid"), [(1000, 100), (0, 0), (1000, None), (None, 100), (None, None)])
def test_kernel_gateway_uid_gid_pairs_studio_accepts_do_not_warn(
    stack: cdk.Stack, uid: int | None, gid: int | None
) -> None:
    AppImageConfig(stack, "Config", **kernel_gateway(default_uid=uid, default_gid=gid))
    assert Annotations.from_stack(stack).find_warning("*", Match.any_value()) == []


def test_warning_ids_are_stable() -> None:
    """Users acknowledge warnings by these ids: renaming one would bring back warnings they silenced."""
    assert (
        KERNEL_GATEWAY_UID_GID_WARNING
        == "@sagemaker-image-constructs/app-image-config:kernel-gateway-uid-gid"
    )
    assert RESERVED_ENVIRONMENT_WARNING == (
        "@sagemaker-image-constructs/app-image-config:reserved-environment-variable"
    )


def test_the_uid_gid_warning_can_be_acknowledged_by_its_id(stack: cdk.Stack) -> None:
    config = AppImageConfig(stack, "Config", **kernel_gateway(default_uid=1001, default_gid=1001))
    cdk.Annotations.of(config).acknowledge_warning(KERNEL_GATEWAY_UID_GID_WARNING, "our image runs as 1001")
    assert Annotations.from_stack(stack).find_warning("*", Match.any_value()) == []


@pytest.mark.parametrize("keyword", ["jupyter_lab", "code_editor"])
def test_environment_names_sagemaker_sets_itself_warn(stack: cdk.Stack, keyword: str) -> None:
    environment = {"AWS_REGION": "x", "MY_AWS_THING": "y", "SAGEMAKER_APP_TYPE": "z", "aws_lower": "w"}
    props: Props = {keyword: ContainerConfig(environment=environment)}
    AppImageConfig(stack, "Config", **props)
    Annotations.from_stack(stack).has_warning(
        "/Stack/Config",
        Match.string_like_regexp(
            rf"^environment variable\(s\) AWS_REGION, SAGEMAKER_APP_TYPE: .*override.*"
            rf"\[ack: {re.escape(RESERVED_ENVIRONMENT_WARNING)}\]"
        ),
    )


def test_other_environment_names_do_not_warn(stack: cdk.Stack) -> None:
    AppImageConfig(
        stack, "Config", jupyter_lab=ContainerConfig(environment={"MY_AWS_THING": "1", "aws_x": "2"})
    )
    assert Annotations.from_stack(stack).find_warning("*", Match.any_value()) == []


# --- the generated name -------------------------------------------------------------------------------


def generated(scope: Construct, id: str = "Config") -> str:
    config = AppImageConfig(scope, id, jupyter_lab=ContainerConfig())
    resource = config.node.default_child
    assert isinstance(resource, cdk.aws_sagemaker.CfnAppImageConfig)
    return resource.app_image_config_name


def nest(scope: Construct, *ids: str) -> Construct:
    for id in ids:
        scope = Construct(scope, id)
    return scope


def test_generated_names_are_valid_for_any_path(app: cdk.App) -> None:
    long_stack = cdk.Stack(app, "Long", stack_name="S" + "x-" * 63 + "y")  # 128 characters
    nested = cdk.NestedStack(cdk.Stack(app, "Parent"), "Nested")
    names = [
        generated(cdk.Stack(app, "Stack")),
        generated(long_stack),
        generated(nest(long_stack, *(f"Very_Long.Construct-Identifier{i}" for i in range(10)))),
        generated(nest(cdk.Stack(app, "Odd", stack_name="a--b-"), "_", "-", "..."), "__"),
        generated(nest(cdk.Stack(app, "Unicode"), "\u00e9\u6f22"), "\u00e9"),
        generated(nested),
        generated(nest(nested, "Team" * 20)),
    ]
    for name in names:
        assert v.APP_IMAGE_CONFIG_NAME.violation(name) is None, name
        assert name == name.lower()
    assert len(names[2]) == 63
    assert names[0].startswith("stack-config-")
    assert names[5].startswith("parent-nested-config-")  # the nested stack's own name is a token


def test_generated_names_are_unique_per_stack_and_path(app: cdk.App) -> None:
    a, b = cdk.Stack(app, "A"), cdk.Stack(app, "B")
    long = "L" + "x" * 60  # stack names: at most 128 characters
    middle_a = cdk.Stack(app, "MA", stack_name=f"{long}a{long}")
    middle_b = cdk.Stack(app, "MB", stack_name=f"{long}b{long}")
    deep = [f"Construct{i}" * 3 for i in range(6)]
    names = [
        generated(a),
        generated(b),  # the same path in another stack
        generated(nest(a, "Team")),  # another path in the same stack
        generated(nest(a, "Te", "am")),  # the same characters, another path
        generated(nest(a, "T_eam")),  # the same readable part
        generated(nest(middle_a, *deep)),  # names that differ only where the readable part is cut
        generated(nest(middle_b, *deep)),
    ]
    assert len(set(names)) == len(names), names


def test_generated_names_are_stable_across_synths() -> None:
    def name() -> str:
        return generated(nest(cdk.Stack(cdk.App(), "Stack", stack_name="prod-studio"), "Team"))

    assert name() == name() == "prodstudio-team-config-" + name()[-8:]


def test_a_given_name_is_kept(stack: cdk.Stack) -> None:
    AppImageConfig(stack, "Config", app_image_config_name="Shared-Config", jupyter_lab=ContainerConfig())
    assert properties(stack)["AppImageConfigName"] == "Shared-Config"


# --- attributes and import ----------------------------------------------------------------------------


def test_attributes_are_the_resources(stack: cdk.Stack) -> None:
    config: IAppImageConfig = AppImageConfig(stack, "Config", code_editor=ContainerConfig())
    logical_id = stack.get_logical_id(config.node.default_child)  # type: ignore[arg-type]
    assert stack.resolve(config.app_image_config_name) == {"Ref": logical_id}
    assert stack.resolve(config.app_image_config_arn) == {"Fn::GetAtt": [logical_id, "AppImageConfigArn"]}
    assert config.app_type == "CodeEditor"


def test_another_environment_sees_the_literal_name_and_arn(app: cdk.App) -> None:
    east = cdk.Stack(app, "East", env=cdk.Environment(account="111122223333", region="us-east-1"))
    west = cdk.Stack(app, "West", env=cdk.Environment(account="111122223333", region="us-west-2"))
    config = AppImageConfig(east, "Config", code_editor=ContainerConfig())
    name = properties(east)["AppImageConfigName"]
    assert west.resolve(config.app_image_config_name) == name
    assert west.resolve(config.app_image_config_arn) == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, f":sagemaker:us-east-1:111122223333:app-image-config/{name}"],
        ]
    }


@pytest.mark.parametrize("app_type", [AppType.KERNEL_GATEWAY, "JupyterLab", "CodeEditor"])
def test_import_by_name(stack_in: Callable[[str], cdk.Stack], app_type: AppType | str) -> None:
    stack = stack_in("eu-west-1")
    imported = AppImageConfig.from_app_image_config_name(stack, "Imported", "team-config", app_type)
    assert imported.app_image_config_name == "team-config"
    assert imported.app_type is AppType(app_type)
    assert stack.resolve(imported.app_image_config_arn) == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":sagemaker:eu-west-1:111122223333:app-image-config/team-config",
            ],
        ]
    }


def test_import_accepts_a_token_name(stack: cdk.Stack) -> None:
    name = cdk.CfnParameter(stack, "Name").value_as_string
    imported = AppImageConfig.from_app_image_config_name(stack, "Imported", name, AppType.JUPYTER_LAB)
    assert stack.resolve(imported.app_image_config_name) == {"Ref": "Name"}


@pytest.mark.parametrize(
    ("name", "app_type", "error"),
    [
        ("bad_name", "JupyterLab", r"invalid name \(AppImageConfigName\) 'bad_name': must match the pattern"),
        ("x" * 64, "JupyterLab", r"invalid name \(AppImageConfigName\) 'x+': length must be 1-63"),
        (
            "ok",
            "jupyterlab",
            "invalid app_type 'jupyterlab': must be one of KernelGateway, JupyterLab, CodeEditor",
        ),
        ("ok", "KERNEL_GATEWAY", "invalid app_type 'KERNEL_GATEWAY': must be one of"),
    ],
)
def test_import_refuses_bad_values(stack: cdk.Stack, name: str, app_type: str, error: str) -> None:
    with pytest.raises(
        ValidationError, match=rf"^AppImageConfig.from_app_image_config_name 'Imported': {error}"
    ):
        AppImageConfig.from_app_image_config_name(stack, "Imported", name, app_type)


def test_import_refuses_a_token_app_type(stack: cdk.Stack) -> None:
    token = cdk.CfnParameter(stack, "AppType").value_as_string
    with pytest.raises(ValidationError, match=r"invalid app_type .*known at synth time"):
        AppImageConfig.from_app_image_config_name(stack, "Imported", "ok", token)


def test_app_type_values() -> None:
    assert [(t.name, t.value) for t in AppType] == [
        ("KERNEL_GATEWAY", "KernelGateway"),
        ("JUPYTER_LAB", "JupyterLab"),
        ("CODE_EDITOR", "CodeEditor"),
    ]


# --- cfn-lint on every config kind --------------------------------------------------------------------


def every_config_kind(scope: Construct) -> AppImageConfig:
    kernels = AppImageConfig(
        scope,
        "Kernels",
        kernel_gateway=KernelGatewayConfig(
            [KernelSpec("python3", "Python 3")], FileSystemConfig("/home/sagemaker-user", 1000, 100)
        ),
    )
    container = ContainerConfig(arguments=["--x"], entrypoint=["/bin/sh"], environment={"K": "V"})
    AppImageConfig(scope, "Lab", jupyter_lab=container)
    AppImageConfig(scope, "Editor", code_editor=container)
    return kernels


def test_every_config_kind_passes_cfn_lint_and_the_oracle_is_live(app: cdk.App) -> None:
    valid = cdk.Stack(app, "Valid")
    every_config_kind(valid)
    control = cdk.Stack(app, "Control")
    resource = every_config_kind(control).node.default_child
    assert isinstance(resource, cdk.CfnResource)
    # A value our validation refuses, forced through the L1: the same check must find it.
    resource.add_property_override("KernelGatewayImageConfig.FileSystemConfig.DefaultUid", 65536)

    template = Template.from_stack(valid).to_json()
    assert {r["Type"] for r in template["Resources"].values()} == {TYPE}
    assert [set(r["Properties"]) - {"AppImageConfigName"} for r in template["Resources"].values()] == [
        {"KernelGatewayImageConfig"},
        {"JupyterLabAppImageConfig"},
        {"CodeEditorAppImageConfig"},
    ]
    assert lint_errors(template) == []
    errors = lint_errors(Template.from_stack(control).to_json())
    assert [(e.rule.id, e.path[-1]) for e in errors] == [("E3034", "DefaultUid")]
