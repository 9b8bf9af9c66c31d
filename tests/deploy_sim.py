"""A deploy of a synthesized stack's Studio custom resources, as CloudFormation would run it.

No AWS and no CDK here: the input is template JSON (from any checkout of the library), the function is
the real handler loaded by path (``lambda/<folder>/index.py``, with ``lambda/shared`` on ``sys.path`` as
in Lambda), and SageMaker is :class:`FakeSageMaker`: a real botocore client whose calls are answered,
before any HTTP, from the state of the domains, user profiles and spaces it keeps. botocore validates
every request against its SageMaker model (as it would for AWS), and the fake checks every answer it
gives against the same model.

:class:`Deployer` plays CloudFormation for the Studio resources of a template:

- properties are resolved as CloudFormation would (``Ref``/``Fn::GetAtt`` of the template's resources to
  plausible physical values, ``Fn::Join`` and friends), and every scalar is passed as a string;
- **create** sends Create for each resource in dependency order; **update** (to a second template)
  sends Update, with ``OldResourceProperties``, only for the resources whose properties changed, Create
  for new logical ids, then, in the clean-up phase, Delete for removed ones and for the old physical id
  of a replaced one; **delete** sends Delete for each, in reverse dependency order;
- each invocation gets a Lambda context, and crhelper's answer is captured instead of PUT;
- a failed Create or Update is rolled back (Update back to the old properties for what it updated, the
  failed one included, then Delete for what it created);
- **reconcile** sends the function what the template's scheduled ``AWS::Events::Rule`` targets would
  (their ``Input`` resolved with this stack's id), after checking the rule as EventBridge and
  CloudFormation need it; **on_change** does the same for a CloudTrail record matching a rule's
  ``EventPattern``.

Several :class:`Deployer` (stacks of one app, or of several apps) may share one :class:`FakeSageMaker`,
one :class:`ParameterStore` (moto's SSM, inside ``mock_aws()``; the Studio function's ledger) and one
dict of exports (``Fn::ImportValue``); each sends its own stack id. SageMaker and SSM calls are counted
per phase and per invocation. :func:`load_handler` with ``isolated=True`` loads an older release's
handler (its own ``custom_resource``) beside this checkout's, for upgrades.

Used by ``tests/test_studio_deploy.py`` and, through ``bench/deploy_bench.py``, by ``make bench`` (which
runs it against another checkout's handler in a subprocess).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import itertools
import json
import logging
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

STUDIO_TYPE_PREFIX = "Custom::SageMakerStudioCustomImage"  # ...Image (one per attachment), ...Images
ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK_NAME = "deploy-sim"
STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/6c0a4e70-1f2b-11ef-9d3e-0a1b2c3d4e5f"
)
FUNCTION_TIMEOUT_MS = 630_000
STUDIO_TYPE = "Custom::SageMakerStudioCustomImages"  # one per target (0.3.0 on)
RECONCILE = "reconcile"  # the "SageMakerImageConstructs" value of the scheduled rule's event
MAX_INPUT = 8192  # EventBridge: a target's constant Input, at most (PutTargets)


def stack_id_of(stack_name: str) -> str:
    """A stack's id as CloudFormation makes it (an ARN ending in a uuid), fixed for a name."""
    if stack_name == STACK_NAME:
        return STACK_ID
    digest = hashlib.sha256(stack_name.encode()).hexdigest()
    uuid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/{uuid}"


LOGGERS = ("", "boto", "boto3", "botocore", "urllib3")  # the levels crhelper's log_helper.setup changes

# kind -> the API's noun, the settings objects it holds, the id parameters beyond DomainId, its ARN
KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str]] = {
    "domain": ("Domain", ("DefaultUserSettings", "DefaultSpaceSettings"), (), "domain/{DomainId}"),
    "user-profile": (
        "UserProfile",
        ("UserSettings",),
        ("UserProfileName",),
        "user-profile/{DomainId}/{UserProfileName}",
    ),
    "space": ("Space", ("SpaceSettings",), ("SpaceName",), "space/{DomainId}/{SpaceName}"),
}
_VERB_NOUN = re.compile(r"(Describe|Update)(Domain|UserProfile|Space)")


def target_key(domain_id: str, kind: str = "domain", name: str | None = None) -> str:
    """How the fake names a target: ``domain/d-x``, ``user-profile/d-x/alice``, ``space/d-x/s``."""
    return f"{kind}/{domain_id}" if name is None else f"{kind}/{domain_id}/{name}"


class SageMakerError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Catalog:
    """What exists in the account besides the targets: images (their version numbers) and configs."""

    images: dict[str, set[int]] = field(default_factory=dict)
    configs: dict[str, str] = field(default_factory=dict)  # AppImageConfigName -> app type

    def check(self, app_type: str, entry: dict[str, Any]) -> None:
        image, config = entry["ImageName"], entry["AppImageConfigName"]
        if image not in self.images:
            raise SageMakerError("ResourceNotFound", f"Image {image} does not exist")
        version = entry.get("ImageVersionNumber")
        if version is not None and version not in self.images[image]:
            raise SageMakerError("ResourceNotFound", f"Image version {version} of {image} does not exist")
        if self.configs.get(config) != app_type:
            raise SageMakerError(
                "ValidationException", f"AppImageConfig {config} is not a {app_type} config (or missing)"
            )


class FakeSageMaker:
    """Stateful SageMaker for Describe*/Update* of domains, user profiles and spaces.

    ``client`` is a real botocore SageMaker client: it validates each call's parameters against the
    service model and raises the modeled exceptions; the answers come from ``targets`` before any HTTP.
    An Update puts the target in ``Updating`` (a concurrent Update is ``ResourceInUse``) and replaces,
    in each settings object it carries, the members it carries; the target answers ``Updating`` to
    ``settle_after`` describes, then ``InService``.
    """

    def __init__(self, catalog: Catalog | None = None, settle_after: int = 1) -> None:
        self.catalog = catalog
        self.settle_after = settle_after
        self.targets: dict[str, dict[str, Any]] = {}
        self._pending: Counter[str] = Counter()
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (operation, params), every call
        self.updates: Counter[str] = Counter()  # target key -> Update* calls
        session = botocore.session.get_session()
        self.model = session.get_service_model("sagemaker")
        self.client = session.create_client(
            "sagemaker",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self._params: dict[str, Any] = {}
        events = self.client.meta.events
        events.register("before-parameter-build.sagemaker", self._validate, unique_id="deploy-sim-validate")
        events.register("before-call.sagemaker", self._answer, unique_id="deploy-sim-answer")

    def add(self, domain_id: str, kind: str = "domain", name: str | None = None, **settings: Any) -> str:
        """An existing target with these settings objects (``DefaultUserSettings={...}``...), InService."""
        allowed = KINDS[kind][1]
        assert set(settings) <= set(allowed), f"a {kind} has no {set(settings) - set(allowed)}"
        key = target_key(domain_id, kind, name)
        self.targets[key] = {"Status": "InService", **copy.deepcopy(settings)}
        return key

    def settings(self, key: str) -> dict[str, Any]:
        """A target's settings objects as they are now (a copy)."""
        return {k: v for k, v in copy.deepcopy(self.targets[key]).items() if k != "Status"}

    # --- botocore hooks ------------------------------------------------------------------------------

    def _validate(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """Every request, checked against botocore's model of its operation (the client checks too)."""
        report = ParamValidator().validate(params, model.input_shape)
        if report.has_errors():
            raise AssertionError(f"{model.name}: invalid request: {report.generate_report()}")
        self._params = copy.deepcopy(params)

    def _answer(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params, self._params = self._params, {}
        self.calls.append((model.name, params))
        match = _VERB_NOUN.fullmatch(model.name)
        if not match:
            raise AssertionError(f"the fake answers no {model.name}")
        try:
            body = (
                self._describe(match[2], params) if match[1] == "Describe" else self._update(match[2], params)
            )
        except SageMakerError as error:
            parsed = {
                "Error": {"Code": error.code, "Message": str(error)},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            return AWSResponse("https://sagemaker.fake", 400, {}, None), parsed
        report = ParamValidator().validate(body, model.output_shape)
        if report.has_errors():
            raise AssertionError(
                f"{model.name}: the fake's own answer is invalid: {report.generate_report()}"
            )
        return AWSResponse("https://sagemaker.fake", 200, {}, None), {
            **body,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    def _key(self, noun: str, params: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
        kind = next(kind for kind, spec in KINDS.items() if spec[0] == noun)
        ids = {"DomainId": params["DomainId"], **{p: params[p] for p in KINDS[kind][2]}}
        names = [params[p] for p in KINDS[kind][2]]
        key = target_key(params["DomainId"], kind, names[0] if names else None)
        if key not in self.targets:
            raise SageMakerError("ResourceNotFound", f"{key} does not exist")
        return key, kind, ids

    def _describe(self, noun: str, params: dict[str, Any]) -> dict[str, Any]:
        key, kind, ids = self._key(noun, params)
        state = self.targets[key]
        if state["Status"] == "Updating":
            if self._pending[key] > 0:
                self._pending[key] -= 1
            else:
                state["Status"] = "InService"
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:" + KINDS[kind][3].format(**ids)
        return {**ids, f"{noun}Arn": arn, **copy.deepcopy(state)}

    def _update(self, noun: str, params: dict[str, Any]) -> dict[str, Any]:
        key, kind, ids = self._key(noun, params)
        state = self.targets[key]
        if state["Status"] in ("Pending", "Updating", "Deleting"):
            raise SageMakerError("ResourceInUse", f"{key} is {state['Status']}")
        written = {k: v for k, v in params.items() if k not in ids}
        assert set(written) <= set(KINDS[kind][1]), f"{noun} update with {sorted(written)}"
        for settings, members in written.items():
            for app_settings, value in members.items():
                images = value.get("CustomImages", []) if isinstance(value, dict) else []
                names = [image["ImageName"] for image in images]
                if len(names) != len(set(names)):
                    raise SageMakerError("ValidationException", f"{settings}.{app_settings}: duplicate image")
                if self.catalog is not None:
                    for image in images:
                        self.catalog.check(app_settings.removesuffix("AppSettings"), image)
        for settings, members in written.items():
            state.setdefault(settings, {}).update(copy.deepcopy(members))
        state["Status"] = "Updating"
        self._pending[key] = self.settle_after
        self.updates[key] += 1
        return {f"{noun}Arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:" + KINDS[kind][3].format(**ids)}


# --- CloudFormation's side ------------------------------------------------------------------------------


def _short(logical_id: str) -> str:
    return hashlib.sha256(logical_id.encode()).hexdigest()[:10]


class Resolver:
    """Resolves a template's intrinsics to the physical values CloudFormation would give them."""

    def __init__(
        self,
        template: dict[str, Any],
        *,
        stack_name: str = STACK_NAME,
        stack_id: str | None = None,
        exports: dict[str, Any] | None = None,
    ) -> None:
        self.stack_name = stack_name
        self.pseudo: dict[str, str | None] = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": stack_id or stack_id_of(stack_name),
            "AWS::NoValue": None,
        }
        self.exports = exports if exports is not None else {}  # the account's exports, by name
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.parameters = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
        # An image's versions are numbered 1, 2, ... in the order they are created.
        self.version_numbers: dict[str, int] = {}
        seen: Counter[str] = Counter()
        for rid in dependency_order(template):
            if self.resources[rid]["Type"] == "AWS::SageMaker::ImageVersion":
                image = str(self.resolve(self.resources[rid]["Properties"]["ImageName"]))
                image = image.rsplit("/", 1)[-1]  # a name or an image ARN
                seen[image] += 1
                self.version_numbers[rid] = seen[image]

    def ref(self, rid: str) -> Any:
        if rid in self.pseudo:
            return self.pseudo[rid]
        if rid in self.parameters:
            return self.parameters[rid]
        resource = self.resources[rid]
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::SageMaker::AppImageConfig":
            return self.resolve(props["AppImageConfigName"])
        if kind == "AWS::SageMaker::Image":
            return self.get_att(rid, "ImageArn")
        if kind == "AWS::SageMaker::ImageVersion":
            return self.get_att(rid, "ImageVersionArn")
        return f"{self.stack_name}-{rid}-{_short(rid)}"

    def get_att(self, rid: str, attribute: str) -> Any:
        resource = self.resources[rid]
        kind, props = resource["Type"], resource.get("Properties", {})
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
        if kind == "AWS::SageMaker::ImageVersion" and attribute == "Version":
            return self.version_numbers[rid]
        if kind == "AWS::SageMaker::ImageVersion" and attribute == "ImageVersionArn":
            image = str(self.resolve(props["ImageName"])).rsplit("/", 1)[-1]
            return f"{arn}:image-version/{image}/{self.version_numbers[rid]}"
        if kind == "AWS::SageMaker::Image" and attribute == "ImageArn":
            return f"{arn}:image/{self.resolve(props['ImageName'])}"
        if kind == "AWS::SageMaker::Image" and attribute == "ImageName":
            return self.resolve(props["ImageName"])
        if kind == "AWS::SageMaker::AppImageConfig" and attribute == "AppImageConfigArn":
            return f"{arn}:app-image-config/{self.resolve(props['AppImageConfigName'])}"
        if kind == "AWS::SageMaker::Domain" and attribute == "DomainId":
            return f"d-{_short(rid)}"
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.ref(rid)}"
        if attribute == "Arn":
            service = kind.split("::")[1].lower()
            return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rid}"
        return f"{rid}.{attribute}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, arg),) = value.items()
            if name == "Ref":
                return self.ref(arg)
            if name == "Fn::GetAtt":
                rid, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(rid, attribute)
            if name == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(part)) for part in self.resolve(arg[1]))
            if name == "Fn::ImportValue":
                export = str(self.resolve(arg))
                if export not in self.exports:
                    raise DeployFailed(f"No export named {export} (deploy the exporting stack first)")
                return self.exports[export]
            if name == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if name == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if name == "Fn::Sub":
                text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

                def sub(match: re.Match[str]) -> str:
                    key = match[1]
                    if key in names:
                        return str(names[key])
                    rid, _, attribute = key.partition(".")
                    return str(self.get_att(rid, attribute) if attribute else self.ref(rid))

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if name.startswith("Fn::"):
                raise NotImplementedError(f"the simulator does not resolve {name}")
        return {key: self.resolve(item) for key, item in value.items()}


def as_strings(value: Any) -> Any:
    """Every scalar as a string, as CloudFormation passes a custom resource's properties."""
    if isinstance(value, dict):
        return {key: as_strings(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [as_strings(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        found: set[str] = set()
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            arg = value["Fn::GetAtt"]
            found.add(arg[0] if isinstance(arg, list) else arg.split(".", 1)[0])
        return found.union(*(_references(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_references(item) for item in value))
    return set()


def dependency_order(template: dict[str, Any]) -> list[str]:
    """The template's resources, each after what it references or DependsOn (template order otherwise)."""
    resources = template.get("Resources", {})
    order: list[str] = []
    done: set[str] = set()

    def visit(rid: str, path: tuple[str, ...]) -> None:
        if rid in done:
            return
        if rid in path:
            raise ValueError(f"circular dependency: {' -> '.join((*path, rid))}")
        resource = resources[rid]
        depends = resource.get("DependsOn", [])
        edges = (set([depends] if isinstance(depends, str) else depends)) | _references(
            resource.get("Properties", {})
        )
        for edge in sorted(e for e in edges if e in resources):
            visit(edge, (*path, rid))
        done.add(rid)
        order.append(rid)

    for rid in resources:
        visit(rid, ())
    return order


def studio_properties(
    template: dict[str, Any], resolver: Resolver | None = None
) -> dict[str, dict[str, Any]]:
    """The Studio custom resources of a template, in dependency order, with their properties as
    CloudFormation sends them (resolved, every scalar a string)."""
    resolver = resolver or Resolver(template)
    resources = template.get("Resources", {})
    return {
        rid: as_strings(resolver.resolve(resources[rid].get("Properties", {})))
        for rid in dependency_order(template)
        if resources[rid]["Type"].startswith(STUDIO_TYPE_PREFIX)
    }


def catalog_of(*templates: dict[str, Any], catalog: Catalog | None = None) -> Catalog:
    """The images (with their version numbers) and app image configs the templates create (added to
    ``catalog`` when given)."""
    catalog = catalog or Catalog()
    for template in templates:
        resolver = Resolver(template)
        for rid, resource in template.get("Resources", {}).items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::SageMaker::Image":
                catalog.images.setdefault(str(resolver.resolve(props["ImageName"])), set())
            elif resource["Type"] == "AWS::SageMaker::ImageVersion":
                image = str(resolver.resolve(props["ImageName"])).rsplit("/", 1)[-1]
                catalog.images.setdefault(image, set()).add(resolver.version_numbers[rid])
            elif resource["Type"] == "AWS::SageMaker::AppImageConfig":
                app_type = next(
                    k.removesuffix("ImageConfig").removesuffix("App")
                    for k in props
                    if k.endswith("ImageConfig") and k != "AppImageConfigName"
                )
                catalog.configs[str(resolver.resolve(props["AppImageConfigName"]))] = app_type
    return catalog


def targets_of(properties: dict[str, dict[str, Any]]) -> set[tuple[str, str, str | None]]:
    """The (DomainId, kind, name) of every target the resources' properties name."""
    found = set()
    for props in properties.values():
        if "UserProfileName" in props:
            found.add((props["DomainId"], "user-profile", props["UserProfileName"]))
        elif "SpaceName" in props:
            found.add((props["DomainId"], "space", props["SpaceName"]))
        else:
            found.add((props["DomainId"], "domain", None))
    return found


# --- the function ------------------------------------------------------------------------------------------


def _own_modules(folder: Path) -> set[str]:
    """The top-level modules a handler folder brings: its files beside index.py, and the shared ones."""
    return {
        path.stem
        for where in (folder, folder.parent / "shared")
        for path in where.glob("*.py")
        if path.stem != "index"
    }


def load_handler(folder: Path, module_name: str | None = None, *, isolated: bool = False) -> ModuleType:
    """``<folder>/index.py`` loaded by path, with ``<folder>/../shared`` importable as in Lambda.

    ``isolated``: the handler of another version (an older commit's files), loaded beside this checkout's:
    its own ``custom_resource`` and sibling modules are imported from its folders and then taken out of
    ``sys.modules`` again (what was there before is put back); :func:`wired` puts them in for each of its
    invocations. Without it, a ``custom_resource`` already imported must be this folder's.
    """
    shared = folder.parent / "shared"
    own = _own_modules(folder)
    if isolated:
        saved_modules = {name: sys.modules.pop(name) for name in own if name in sys.modules}
        saved_path = list(sys.path)
        sys.path[:0] = [str(folder), str(shared)]
    else:
        loaded = sys.modules.get("custom_resource")
        if loaded is not None:
            assert Path(str(loaded.__file__)).resolve() == (shared / "custom_resource.py").resolve(), (
                f"custom_resource is already loaded from {loaded.__file__}, not {shared}"
            )
        elif str(shared) not in sys.path:
            sys.path.insert(0, str(shared))
        # The handler's own modules beside index.py, importable as in Lambda (its folder is the task root).
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    suffix = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8] if isolated else ""
    name = module_name or f"deploy_sim_{folder.name}_index{suffix and '_' + suffix}"
    spec = importlib.util.spec_from_file_location(name, folder / "index.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    try:
        with logging_levels_restored():
            spec.loader.exec_module(module)
        # Which module objects this handler runs with, for wired() to put in place.
        module._deploy_sim_modules = {n: sys.modules[n] for n in own if n in sys.modules}  # type: ignore[attr-defined]
    finally:
        if isolated:
            for gone in own:
                sys.modules.pop(gone, None)
            sys.modules.update(saved_modules)
            sys.path[:] = saved_path
    return module


@contextlib.contextmanager
def logging_levels_restored() -> Iterator[None]:
    """crhelper sets the root logger's level on import and on every call; undo that."""
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


class FakeClock:
    """The shared module's clock and sleep: sleeping advances the clock, instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


class FakeContext:
    function_name = "studio-custom-images"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:studio-custom-images"
    memory_limit_in_mb = 256
    log_group_name = "/aws/lambda/studio-custom-images"
    log_stream_name = "2025/01/01/[$LATEST]0123456789abcdef"

    def __init__(self, request_id: str, clock: FakeClock) -> None:
        self.aws_request_id = request_id
        self._clock = clock
        self._started = clock()

    def get_remaining_time_in_millis(self) -> int:
        return int(FUNCTION_TIMEOUT_MS - (self._clock() - self._started) * 1000)


class ParameterStore:
    """SSM Parameter Store as moto keeps it (make it, and deploy, inside moto's ``mock_aws()``).

    ``client`` is what the handler's ``custom_resource.SSM`` is set to for each invocation; every call
    it makes is appended to ``calls`` (operation names). :meth:`parameters` reads without counting.
    One store is one account: every stack's deployer may share it.
    """

    def __init__(self) -> None:
        import boto3  # type: ignore[import-untyped]  # only here: the bench of an old checkout needs none

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self.client = session.client("ssm")
        self._reader = session.client("ssm")
        self.calls: list[str] = []
        self.client.meta.events.register("before-call.ssm", self._count, unique_id="deploy-sim-ssm-count")

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def parameters(self, path: str = "/") -> dict[str, str]:
        """Every parameter under ``path`` (recursively), name -> value."""
        found: dict[str, str] = {}
        for page in self._reader.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True):
            found.update({p["Name"]: p["Value"] for p in page["Parameters"]})
        return found


class _NoParameterStore:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"SSM {name}: the deployer has no ParameterStore (make one inside mock_aws())")


@contextlib.contextmanager
def wired(
    handler: ModuleType,
    sagemaker: FakeSageMaker,
    clock: FakeClock,
    ssm: ParameterStore | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """The handler's module talking to the fake client, the parameter store and the clock, its answers
    captured (then undone); the handler's own ``custom_resource`` (and sibling modules) in
    ``sys.modules`` meanwhile."""
    modules: dict[str, ModuleType] = getattr(
        handler, "_deploy_sim_modules", {"custom_resource": sys.modules["custom_resource"]}
    )
    saved_modules = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    shared = modules["custom_resource"]
    names = ("SAGEMAKER", "clock", "sleep", *(("SSM",) if hasattr(shared, "SSM") else ()))
    saved = {name: getattr(shared, name) for name in names}
    module_saved = {
        name: getattr(handler, name)
        for name in ("clock", "sleep")
        if getattr(handler, name, None) is not None and getattr(handler, name) is saved[name]
    }
    answers: list[dict[str, Any]] = []
    helper = handler.helper

    def send(status: str | None = None, reason: str = "") -> None:
        type(helper)._send(
            helper, status, reason, send_response=lambda _url, body, *_ssl: answers.append(body)
        )

    shared.SAGEMAKER, shared.clock, shared.sleep = sagemaker.client, clock, clock.sleep
    if "SSM" in saved:  # without a store, a client the handler made would reach AWS: refuse its use
        shared.SSM = ssm.client if ssm is not None else _NoParameterStore()
    for name in module_saved:
        setattr(handler, name, clock if name == "clock" else clock.sleep)
    helper._send = send
    try:
        with logging_levels_restored():
            yield answers
    finally:
        del helper._send
        for name, value in saved.items():
            setattr(shared, name, value)
        for name, value in module_saved.items():
            setattr(handler, name, value)
        for name, module in saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class DeployFailed(AssertionError):
    def __init__(self, message: str, physical_id: str | None = None) -> None:
        super().__init__(message)
        self.physical_id = physical_id  # what a FAILED answer gave (a failed Create's rollback deletes it)


@dataclass
class Phase:
    """What one stack operation cost: invocations, and the SageMaker and SSM calls by target and operation.

    ``invocations_calls``: for each invocation, its request, target (physical id, when known) and the
    SageMaker and SSM calls it made. ``results``: what reconcile invocations returned.
    """

    invocations: int = 0
    updates: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    ssm: Counter[str] = field(default_factory=Counter)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (RequestType, LogicalResourceId)
    invocation_calls: list[dict[str, Any]] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "invocations": self.invocations,
            "updates": dict(sorted(self.updates.items())),
            "calls": dict(sorted(self.calls.items())),
            "ssm": dict(sorted(self.ssm.items())),
            "requests": self.requests,
            "invocation_calls": self.invocation_calls,
        }

    def count(
        self,
        request: str,
        rid: str,
        target: str | None,
        sagemaker: FakeSageMaker,
        ssm: ParameterStore | None,
        before: tuple[int, Counter[str], int],
    ) -> None:
        calls_before, updates_before, ssm_before = before
        calls = Counter(name for name, _ in sagemaker.calls[calls_before:])
        ssm_calls = Counter(ssm.calls[ssm_before:] if ssm is not None else [])
        self.invocations += 1
        self.requests.append((request, rid))
        self.updates.update(sagemaker.updates - updates_before)
        self.calls.update(calls)
        self.ssm.update(ssm_calls)
        self.invocation_calls.append(
            {"request": request, "resource": rid, "target": target, "sagemaker": calls, "ssm": ssm_calls}
        )


class Deployer:
    """CloudFormation for one stack's Studio custom resources, with one handler behind them.

    Several deployers (stacks, apps) may share one :class:`FakeSageMaker`, one :class:`ParameterStore`
    and one ``exports`` dict (the account's); each sends its own stack id. ``handler`` may be swapped
    between deploys (a library upgrade replaces the function's code before the stack's resources run).
    A failed create or update is rolled back as CloudFormation does (``rollback=False`` to leave it).
    """

    def __init__(
        self,
        handler: ModuleType,
        sagemaker: FakeSageMaker,
        *,
        stack_name: str = STACK_NAME,
        stack_id: str | None = None,
        ssm: ParameterStore | None = None,
        exports: dict[str, Any] | None = None,
    ) -> None:
        self.handler = handler
        self.sagemaker = sagemaker
        self.ssm = ssm
        self.stack_name = stack_name
        self.stack_id = stack_id or stack_id_of(stack_name)
        self.exports = exports if exports is not None else {}
        self.clock = FakeClock()
        self.template: dict[str, Any] = {"Resources": {}}
        self.physical: dict[str, str] = {}
        self.properties: dict[str, dict[str, Any]] = {}
        self._exported: set[str] = set()
        self._requests = itertools.count(1)

    def resolver(self, template: dict[str, Any]) -> Resolver:
        return Resolver(template, stack_name=self.stack_name, stack_id=self.stack_id, exports=self.exports)

    def _before(self) -> tuple[int, Counter[str], int]:
        return (
            len(self.sagemaker.calls),
            Counter(self.sagemaker.updates),
            len(self.ssm.calls) if self.ssm else 0,
        )

    def _invoke(
        self,
        phase: Phase,
        request_type: str,
        rid: str,
        resource_type: str,
        properties: dict[str, Any],
        *,
        old: dict[str, Any] | None = None,
        physical_id: str | None = None,
    ) -> str:
        n = next(self._requests)
        request_id = f"5b7c1e4a-0000-4000-8000-{n:012d}"
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": properties.get("ServiceToken", ""),
            "ResponseURL": f"https://cloudformation-custom-resource-response.fake/{request_id}",
            "StackId": self.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": rid,
            "ResourceType": resource_type,
            "ResourceProperties": copy.deepcopy(properties),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old is not None:
            event["OldResourceProperties"] = copy.deepcopy(old)
        before = self._before()
        with wired(self.handler, self.sagemaker, self.clock, self.ssm) as answers:
            self.handler.handler(event, FakeContext(request_id, self.clock))
        answered = answers[0].get("PhysicalResourceId") if len(answers) == 1 else None
        phase.count(request_type, rid, answered or physical_id, self.sagemaker, self.ssm, before)
        if len(answers) != 1:
            raise DeployFailed(f"{request_type} {rid}: {len(answers)} answers, expected one")
        answer = answers[0]
        if answer["Status"] != "SUCCESS":
            raise DeployFailed(f"{request_type} {rid} FAILED: {answer['Reason']}", answered)
        return str(answer["PhysicalResourceId"])

    def create(self, template: dict[str, Any], *, rollback: bool = True) -> Phase:
        assert not self.physical, "create once, then update"
        return self.update(template, rollback=rollback)

    def update(self, template: dict[str, Any], *, rollback: bool = True) -> Phase:
        """Move the stack to ``template``: creates and updates in order, then the clean-up deletes.

        A Create or Update that fails rolls the deploy back (``rollback``): each resource updated in it,
        the failed one included, gets an Update back to its old properties, then each resource created
        in it (the failed one with the id it answered) a Delete, in reverse order; the stack stays as it
        was, and :class:`DeployFailed` is raised with the first reason (``phase`` and ``rollback_phase``
        on it).
        """
        phase = Phase()
        new = studio_properties(template, self.resolver(template))
        cleanup: list[tuple[str, str, dict[str, Any], str]] = []  # (rid, type, properties, physical id)
        created: list[tuple[str, str, dict[str, Any], str | None]] = []
        updated: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = []
        physical = dict(self.physical)
        try:
            for rid, props in new.items():
                resource_type = template["Resources"][rid]["Type"]
                if rid not in self.properties:
                    try:
                        physical[rid] = self._invoke(phase, "Create", rid, resource_type, props)
                    except DeployFailed as failed:
                        created.append((rid, resource_type, props, failed.physical_id))
                        raise
                    created.append((rid, resource_type, props, physical[rid]))
                elif props != self.properties[rid]:
                    old_id = physical[rid]
                    updated.append((rid, resource_type, self.properties[rid], props, old_id))
                    physical[rid] = self._invoke(
                        phase,
                        "Update",
                        rid,
                        resource_type,
                        props,
                        old=self.properties[rid],
                        physical_id=old_id,
                    )
                    if physical[rid] != old_id:  # a replacement: the old one goes in the clean-up
                        cleanup.append((rid, resource_type, self.properties[rid], old_id))
        except DeployFailed as failed:
            if rollback:
                failed.phase = phase  # type: ignore[attr-defined]
                failed.rollback_phase = self._roll_back(created, updated)  # type: ignore[attr-defined]
            raise
        self.physical = physical
        for rid in reversed(list(self.properties)):
            if rid not in new:
                resource_type = self.template["Resources"][rid]["Type"]
                cleanup.append((rid, resource_type, self.properties[rid], self.physical.pop(rid)))
        for rid, resource_type, props, physical_id in cleanup:
            self._invoke(phase, "Delete", rid, resource_type, props, physical_id=physical_id)
        self.template, self.properties = template, new
        self._publish(template)
        return phase

    def _roll_back(
        self,
        created: list[tuple[str, str, dict[str, Any], str | None]],
        updated: list[tuple[str, str, dict[str, Any], dict[str, Any], str]],
    ) -> Phase:
        phase = Phase()
        for rid, resource_type, old, new, physical_id in reversed(updated):
            self._invoke(phase, "Update", rid, resource_type, old, old=new, physical_id=physical_id)
        for rid, resource_type, props, physical_id in reversed(created):
            if physical_id is not None:
                self._invoke(phase, "Delete", rid, resource_type, props, physical_id=physical_id)
        return phase

    def _publish(self, template: dict[str, Any]) -> None:
        """The stack's exports, into the account's (those it no longer has, out)."""
        for name in self._exported:
            self.exports.pop(name, None)
        resolver = self.resolver(template)
        self._exported = set()
        for output in template.get("Outputs", {}).values():
            if "Export" in output:
                name = str(resolver.resolve(output["Export"]["Name"]))
                self.exports[name] = resolver.resolve(output["Value"])
                self._exported.add(name)

    def delete(self) -> Phase:
        phase = Phase()
        for rid in reversed(list(self.properties)):
            resource_type = self.template["Resources"][rid]["Type"]
            physical_id = self.physical.pop(rid)
            self._invoke(phase, "Delete", rid, resource_type, self.properties[rid], physical_id=physical_id)
        self.template, self.properties = {"Resources": {}}, {}
        self._publish(self.template)
        return phase

    # --- the scheduled reconciliation ------------------------------------------------------------------

    def reconcile_events(
        self,
        template: dict[str, Any] | None = None,
        *,
        every_target: bool = True,
        cloudtrail: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The events the template's scheduled rules send the Studio function (``template``: the stack's
        current one), each rule checked as EventBridge and CloudFormation would need it.

        A rule counts when it has a ``ScheduleExpression`` and ``Targets``; each target's ``Input`` is
        resolved (``Ref AWS::StackId`` is this stack's id) and decoded. Checked: the target is the
        function behind the Studio resources, EventBridge may invoke it (an ``AWS::Lambda::Permission``
        for ``events.amazonaws.com`` with the rule's ARN), the rule is enabled, the event names this
        stack, the rule ``DependsOn`` every per-target resource it lists, and (``every_target``; not when
        some attachments turn their schedule off) the rules together list every per-target resource.

        ``cloudtrail``: instead of the schedules, the rules with an ``EventPattern`` that this event
        (EventBridge's form of a CloudTrail record, :func:`cloudtrail_event`) matches.
        """
        template = self.template if template is None else template
        resources = template.get("Resources", {})
        resolver = self.resolver(template)
        studio = studio_properties(template, resolver)
        by_target = {}
        for rid, props in studio.items():
            if resources[rid]["Type"] == STUDIO_TYPE:
                by_target[physical_id_of(props)] = rid
        functions = {props.get("ServiceToken") for props in studio.values()}
        permissions = [
            resolver.resolve(r.get("Properties", {}))
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Permission"
        ]
        events: list[dict[str, Any]] = []
        listed: set[str] = set()
        for rid in dependency_order(template):
            resource = resources[rid]
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::Events::Rule":
                continue
            if cloudtrail is None and "ScheduleExpression" not in props:
                continue
            if cloudtrail is not None and not (
                "EventPattern" in props and matches(resolver.resolve(props["EventPattern"]), cloudtrail)
            ):
                continue
            assert props.get("State", "ENABLED") == "ENABLED", f"rule {rid} is {props['State']}"
            depends = resource.get("DependsOn", [])
            depends = {depends} if isinstance(depends, str) else set(depends)
            rule_arn = resolver.get_att(rid, "Arn")
            for target in props.get("Targets", []):
                arn = resolver.resolve(target["Arn"])
                assert arn in functions, f"rule {rid} targets {arn}, not the Studio function {functions}"
                assert any(
                    p.get("Principal") == "events.amazonaws.com"
                    and p.get("Action") == "lambda:InvokeFunction"
                    and p.get("SourceArn") == rule_arn
                    and p.get("FunctionName") in (arn, arn.rsplit(":", 1)[-1])
                    for p in permissions
                ), f"rule {rid}: no AWS::Lambda::Permission lets EventBridge invoke {arn}"
                text = str(resolver.resolve(target["Input"]))
                assert len(text) <= MAX_INPUT, f"rule {rid}: Input of {len(text)} chars (max 8192)"
                event = json.loads(text)
                assert event.get("SageMakerImageConstructs") == RECONCILE, event
                assert event.get("StackId") == self.stack_id, (event.get("StackId"), self.stack_id)
                for physical_id in event["Targets"]:
                    assert physical_id in by_target, f"rule {rid} lists {physical_id}: no resource of it"
                    assert by_target[physical_id] in depends, (
                        f"rule {rid} lists {physical_id} but does not DependsOn {by_target[physical_id]}"
                    )
                listed.update(event["Targets"])
                events.append(event)
        if every_target and cloudtrail is None:
            assert listed == set(by_target), f"rules list {sorted(listed)}, resources are {sorted(by_target)}"
        return events

    def on_change(self, operation: str, **params: str) -> Phase:
        """Another writer's ``operation`` (``UpdateDomain``...) with these ids, as CloudTrail records it:
        the function invoked by each rule whose pattern it matches (none: an empty phase)."""
        return self.reconcile(self.reconcile_events(cloudtrail=cloudtrail_event(operation, **params)))

    def reconcile(self, events: list[dict[str, Any]] | None = None) -> Phase:
        """Invoke the function with each scheduled event (:meth:`reconcile_events` unless given), as
        EventBridge does: the event alone, no CloudFormation answer expected; the results in ``results``."""
        phase = Phase()
        for event in self.reconcile_events() if events is None else events:
            n = next(self._requests)
            request_id = f"7e2d9c1b-0000-4000-8000-{n:012d}"
            before = self._before()
            with wired(self.handler, self.sagemaker, self.clock, self.ssm) as answers:
                result = self.handler.handler(copy.deepcopy(event), FakeContext(request_id, self.clock))
            phase.count(RECONCILE, ",".join(event.get("Targets", [])), None, self.sagemaker, self.ssm, before)
            assert answers == [], f"a scheduled run answered CloudFormation: {answers}"
            phase.results.append(result)
        return phase


def cloudtrail_event(operation: str, **params: str) -> dict[str, Any]:
    """The event EventBridge receives for a SageMaker API call CloudTrail recorded (a management event):
    ``requestParameters`` in CloudTrail's camelCase (``DomainId`` -> ``domainId``)."""
    return {
        "version": "0",
        "source": "aws.sagemaker",
        "detail-type": "AWS API Call via CloudTrail",
        "account": ACCOUNT,
        "region": REGION,
        "detail": {
            "eventSource": "sagemaker.amazonaws.com",
            "eventName": operation,
            "requestParameters": {key[0].lower() + key[1:]: value for key, value in params.items()},
        },
    }


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching for the patterns this library writes: every key of the pattern present in
    the event, a list of values matching when the event's value (or one of its values) is in it, a dict
    matching the event's dict. Content filters (``prefix``, ``anything-but``...) are not simulated."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(
            key in event and matches(want, event[key]) for key, want in pattern.items()
        )
    if isinstance(pattern, list):
        if any(isinstance(value, dict) for value in pattern):
            raise NotImplementedError(f"the simulator matches no content filter: {pattern}")
        got = event if isinstance(event, list) else [event]
        return any(value in pattern for value in got)
    raise ValueError(f"an event pattern's leaves are lists, not {pattern!r}")


def physical_id_of(props: dict[str, Any]) -> str:
    """The per-target resource's physical id (docs/studio-custom-resource.md), from its properties."""
    if "UserProfileName" in props:
        return f"{props['DomainId']}/user-profile/{props['UserProfileName']}"
    if "SpaceName" in props:
        return f"{props['DomainId']}/space/{props['SpaceName']}"
    return f"{props['DomainId']}/domain"


def simulate(
    lambda_folder: Path,
    templates: list[dict[str, Any]],
    seed: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Create with ``templates[0]``, update to each next one, delete; every target the templates name
    exists beforehand (with ``seed``'s settings where given, by :func:`target_key`).

    Returns each phase's figures (``create``, ``update``, ``update2``..., ``delete``, and ``reconcile``
    after the last update when the template has scheduled rules), the targets' settings after each phase,
    and the Studio resources of each template. Parameter Store is moto's (inside ``mock_aws``).
    """
    from moto import mock_aws

    handler = load_handler(lambda_folder)
    properties = [studio_properties(template) for template in templates]
    fake = FakeSageMaker(catalog_of(*templates))
    for domain_id, kind, name in sorted(set().union(*(targets_of(p) for p in properties)), key=str):
        key = target_key(domain_id, kind, name)
        fake.add(domain_id, kind, name, **(seed or {}).get(key, {}))
    report: dict[str, Any] = {"resources": [len(p) for p in properties], "phases": {}, "states": {}}
    with mock_aws():
        deployer = Deployer(handler, fake, ssm=ParameterStore())
        for n, template in enumerate(templates):
            name = "create" if n == 0 else "update" if n == 1 else f"update{n}"
            report["phases"][name] = (deployer.create if n == 0 else deployer.update)(template).as_dict()
            report["states"][name] = {key: fake.settings(key) for key in fake.targets}
        if any(_is_schedule(r) for r in deployer.template.get("Resources", {}).values()):
            report["phases"]["reconcile"] = deployer.reconcile().as_dict()
        report["phases"]["delete"] = deployer.delete().as_dict()
        report["states"]["delete"] = {key: fake.settings(key) for key in fake.targets}
    report["targets"] = sorted(fake.targets)
    return report


def _is_schedule(resource: dict[str, Any]) -> bool:
    return resource["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in resource.get("Properties", {})


if __name__ == "__main__":
    # ``deploy_sim.py LAMBDA_FOLDER TEMPLATE.json [TEMPLATE2.json ...]``: the report as JSON.
    folder, *paths = sys.argv[1:]
    print(
        json.dumps(
            simulate(Path(folder), [json.loads(Path(p).read_text()) for p in paths]), indent=1, default=dict
        )
    )
