"""Fixtures for the custom-resource functions in lambda/ and their shared module (lambda/shared).

No AWS: the shared SageMaker client is always stubbed with botocore's Stubber (which checks each call's
params against the real service model), and CloudFormation's pre-signed ResponseURL is a local HTTPS
server whose throwaway certificate (trustme) is trusted through SSL_CERT_FILE.

The handlers import the one ``custom_resource`` module (as in Lambda, where it sits beside index.py),
so all the state a test changes (client, clock, sleep) lives there and is patched per test, undone after.
A test module picks its handler with ``HANDLER = "<folder under lambda/>"``; the default is the aliases
one. The ``index``, ``sagemaker`` and ``cfn`` fixtures follow that choice. (The base image check's
tests stub ECR and serve config blobs themselves, over HTTPS certified by the same ``tls_ca``.)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import ssl
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import trustme
from botocore.stub import Stubber
from crhelper import CfnResource
from deploy_sim import logging_levels_restored  # crhelper changes the root logger's level
from local_https import serving
from moto import mock_aws

LAMBDA = Path(__file__).resolve().parents[2] / "lambda"
ALIASES = "image_version_aliases"
STUDIO = "studio_custom_images"
BASE_IMAGE_CHECK = "base_image_check"
# What the construct stages beside each index.py; a plain top-level import, as in Lambda.
for _folder in ("shared", "studio_custom_images"):  # the Studio handler's own modules too
    if str(LAMBDA / _folder) not in sys.path:
        sys.path.insert(0, str(LAMBDA / _folder))

IMAGE = "my-image"
STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/images-stack/6c0a4e70-1f2b-11ef-9d3e-0a1b2c3d4e5f"
)
SIGNATURE = "SECRET" + "5e1f" * 16
SERVICE_TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:image-version-aliases"
DUMMY_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


@pytest.fixture(scope="session")
def handlers() -> Iterator[dict[str, ModuleType]]:
    """The handler modules, imported by path (``lambda`` is a keyword) after dummy AWS settings are set."""
    with pytest.MonkeyPatch.context() as mp, logging_levels_restored():
        mp.delenv("AWS_PROFILE", raising=False)
        for name, value in DUMMY_ENV.items():
            mp.setenv(name, value)
        modules = {}
        for folder in (ALIASES, STUDIO, BASE_IMAGE_CHECK):
            spec = importlib.util.spec_from_file_location(f"{folder}_index", LAMBDA / folder / "index.py")
            assert spec and spec.loader
            modules[folder] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(modules[folder])
        yield modules


@pytest.fixture
def handler_name(request: pytest.FixtureRequest) -> str:
    """The folder of the handler under test: the test module's HANDLER, by default the aliases one."""
    return str(getattr(request.module, "HANDLER", ALIASES))


@pytest.fixture
def index(handlers: dict[str, ModuleType], handler_name: str) -> ModuleType:
    return handlers[handler_name]


@pytest.fixture(scope="session")
def shared(handlers: dict[str, ModuleType]) -> ModuleType:
    """The one ``custom_resource`` module both handlers imported."""
    module = sys.modules["custom_resource"]
    users = [handlers[ALIASES], sys.modules["studio_entries"]]  # the Studio handler's calls live there
    assert all(vars(user)["sagemaker"] is module.sagemaker for user in users)
    return module


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    with logging_levels_restored():
        yield


class FakeClock:
    """Stands in for the module's clock and sleep: sleeping advances the clock, instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def clock(shared: ModuleType, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(shared, "clock", fake)
    monkeypatch.setattr(shared, "sleep", fake.sleep)
    return fake


@pytest.fixture(autouse=True)
def operations(index: ModuleType, shared: ModuleType) -> Iterator[list[str]]:
    """Names of the SageMaker operations the module's client was asked to call during the test.

    Every test also checks here that each one is among SAGEMAKER_ACTIONS (what the IAM policy grants).
    """
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    events = shared.sagemaker().meta.events
    events.register("before-parameter-build.sagemaker", record, unique_id="test-record-operations")
    try:
        yield seen
    finally:
        events.unregister("before-parameter-build.sagemaker", unique_id="test-record-operations")
    assert {f"sagemaker:{name}" for name in seen} <= set(getattr(index, "SAGEMAKER_ACTIONS", ()))


@pytest.fixture(autouse=True)
def crhelper_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """What crhelper sleeps before answering a Delete (recorded, not slept).

    Its sleep is a default argument bound at import, so that default is what gets replaced.
    """
    slept: list[float] = []
    monkeypatch.setattr(CfnResource._wait_for_cwlogs, "__defaults__", (slept.append,))
    return slept


class SageMakerStub:
    """The Stubber on the module's real client, with one helper per call the function makes."""

    def __init__(self, stubber: Stubber) -> None:
        self.stubber = stubber

    def lists(
        self, version: int, aliases: list[str], *, token: str = "", next_token: str = "", image: str = IMAGE
    ) -> None:
        params: dict[str, Any] = {"ImageName": image, "Version": version, "MaxResults": 100}
        if token:
            params["NextToken"] = token
        response: dict[str, Any] = {"SageMakerImageVersionAliases": aliases}
        if next_token:
            response["NextToken"] = next_token
        self.stubber.add_response("list_aliases", response, params)

    def holder(self, alias: str, version: int | None, *, image: str = IMAGE) -> None:
        params = {"ImageName": image, "Alias": alias}
        if version is None:
            self.error("describe_image_version", "ResourceNotFound", params, f"No version has alias {alias}")
        else:
            arn = f"arn:aws:sagemaker:us-east-1:123456789012:image-version/{image}/{version}"
            self.stubber.add_response(
                "describe_image_version", {"Version": version, "ImageVersionArn": arn}, params
            )

    def update(
        self,
        version: int,
        *,
        add: list[str] | None = None,
        delete: list[str] | None = None,
        image: str = IMAGE,
    ) -> None:
        self.stubber.add_response(
            "update_image_version",
            {"ImageVersionArn": f"arn:aws:sagemaker:us-east-1:123456789012:image-version/{image}/{version}"},
            self.update_params(version, add=add, delete=delete, image=image),
        )

    @staticmethod
    def update_params(
        version: int, *, add: list[str] | None = None, delete: list[str] | None = None, image: str = IMAGE
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"ImageName": image, "Version": version}
        if add:
            params["AliasesToAdd"] = add
        if delete:
            params["AliasesToDelete"] = delete
        return params

    def error(self, method: str, code: str, params: dict[str, Any], message: str) -> None:
        self.stubber.add_client_error(
            method,
            service_error_code=code,
            service_message=message,
            http_status_code=400,
            expected_params=params,
        )

    def done(self) -> None:
        self.stubber.assert_no_pending_responses()


DOMAIN = "d-abc123xyz"
PROFILE = "alice"
SPACE = "team-space"
CONFIG = "my-config"
ARN = "arn:aws:sagemaker:us-east-1:123456789012"
# Studio targets: kind -> (API noun, ids beyond DomainId, physical id after "<DomainId>/", settings objects)
STUDIO_TARGETS: dict[str, tuple[str, dict[str, str], str, tuple[str, ...]]] = {
    "domain": ("domain", {}, "domain", ("DefaultUserSettings", "DefaultSpaceSettings")),
    "profile": ("user_profile", {"UserProfileName": PROFILE}, f"user-profile/{PROFILE}", ("UserSettings",)),
    "space": ("space", {"SpaceName": SPACE}, f"space/{SPACE}", ("SpaceSettings",)),
}
_ARNS = {
    "domain": ("DomainArn", "domain/{DomainId}"),
    "user_profile": ("UserProfileArn", "user-profile/{DomainId}/{UserProfileName}"),
    "space": ("SpaceArn", "space/{DomainId}/{SpaceName}"),
}


class StudioStub(SageMakerStub):
    """Describe*/Update* of the studio handler's targets, by kind (see STUDIO_TARGETS).

    Settings are given as SageMaker shows them: ``{"DefaultUserSettings": {"JupyterLabAppSettings":
    {...}}}``; ``settings=`` is a shorthand for the kind's first settings object.
    """

    @staticmethod
    def ids(kind: str, domain: str = DOMAIN) -> dict[str, str]:
        return {"DomainId": domain, **STUDIO_TARGETS[kind][1]}

    @staticmethod
    def method(verb: str, kind: str) -> str:
        return f"{verb}_{STUDIO_TARGETS[kind][0]}"

    def describe(
        self,
        kind: str = "domain",
        *,
        status: str = "InService",
        settings: dict[str, Any] | None = None,
        failure: str | None = None,
        domain: str = DOMAIN,
        **fields: Any,
    ) -> None:
        """A Describe* answer: ``settings`` as the kind's first settings object, plus ``fields``."""
        ids = self.ids(kind, domain)
        arn_key, arn = _ARNS[STUDIO_TARGETS[kind][0]]
        response: dict[str, Any] = {**ids, arn_key: f"{ARN}:{arn.format(**ids)}", "Status": status}
        if settings is not None:
            response[STUDIO_TARGETS[kind][3][0]] = settings
        response.update(fields)
        if failure:
            response["FailureReason"] = failure
        self.stubber.add_response(self.method("describe", kind), response, ids)

    def update_params(  # type: ignore[override]
        self, kind: str, changed: dict[str, dict[str, Any]], domain: str = DOMAIN
    ) -> dict[str, Any]:
        """What an update must carry: the ids and the changed settings objects, nothing else."""
        return {**self.ids(kind, domain), **changed}

    def update(  # type: ignore[override]
        self, kind: str, changed: dict[str, dict[str, Any]], domain: str = DOMAIN
    ) -> None:
        ids = self.ids(kind, domain)
        arn_key, arn = _ARNS[STUDIO_TARGETS[kind][0]]
        self.stubber.add_response(
            self.method("update", kind),
            {arn_key: f"{ARN}:{arn.format(**ids)}"},
            self.update_params(kind, changed, domain),
        )

    def fails(
        self, verb: str, kind: str, code: str, message: str, params: dict[str, Any] | None = None
    ) -> None:
        """A Describe* ("describe") or Update* ("update") call answering an error."""
        self.error(self.method(verb, kind), code, params if params is not None else self.ids(kind), message)


@pytest.fixture(autouse=True)
def sagemaker(shared: ModuleType, handler_name: str) -> Iterator[SageMakerStub]:
    """Always active, so an unexpected SageMaker call fails the test at once instead of reaching AWS."""
    with Stubber(shared.sagemaker()) as stubber:
        yield (StudioStub if handler_name == STUDIO else SageMakerStub)(stubber)


LEDGER = "/sagemaker-image-constructs/studio"


def owner_hash(stack_id: str, logical_id: str) -> str:
    """The contract's owner hash, computed here independently of the handler."""
    return hashlib.sha256(f"{stack_id}/{logical_id}".encode()).hexdigest()[:16]


class Ledger:
    """moto's Parameter Store (the real semantics, in memory) as the Studio handler's ledger.

    ``calls`` lists (operation, params) of every call the handler's own SSM client made; ``seed``,
    ``record`` and ``names`` use a client of their own, so they are not counted.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def names(self, under: str = LEDGER) -> list[str]:
        pages = self.client.get_paginator("get_parameters_by_path").paginate(Path=under, Recursive=True)
        return sorted(p["Name"] for page in pages for p in page["Parameters"])

    def value(self, name: str) -> str:
        return str(self.client.get_parameter(Name=name)["Parameter"]["Value"])

    def put(self, name: str, value: str) -> None:
        self.client.put_parameter(Name=name, Value=value, Type="String", Tier="Standard", Overwrite=True)

    def parts(self, physical_id: str, stack_id: str, logical_id: str) -> list[str]:
        """The parameter names of one owner's record, in order of n."""
        under = f"{LEDGER}/{physical_id}/{owner_hash(stack_id, logical_id)}"
        return sorted(self.names(under), key=lambda name: int(name.rsplit("/", 1)[1]))

    def record(self, physical_id: str, stack_id: str, logical_id: str) -> dict[str, Any] | None:
        """One owner's record, its parts joined and decoded; None if it has none."""
        parts = self.parts(physical_id, stack_id, logical_id)
        return json.loads("".join(self.value(name) for name in parts)) if parts else None

    def seed(
        self,
        physical_id: str,
        stack_id: str,
        logical_id: str,
        entries: list[dict[str, Any]],
        size: int = 4096,
    ) -> list[str]:
        """Write another owner's record as the contract lays it out; returns its parameter names."""
        text = json.dumps(
            {"StackId": stack_id, "LogicalResourceId": logical_id, "Entries": entries}, separators=(",", ":")
        )
        names = []
        for n, at in enumerate(range(0, len(text), size)):
            names.append(f"{LEDGER}/{physical_id}/{owner_hash(stack_id, logical_id)}/{n}")
            self.put(names[-1], text[at : at + size])
        return names


@pytest.fixture(scope="session")
def ssm_clients(handlers: dict[str, ModuleType]) -> tuple[Any, Any]:
    """Two SSM clients made once (a client costs 0.1-0.3 s): one put in the handler's place, one for
    the tests' own reads and seeds. Either reaches only moto: every test that runs the Studio handler
    is inside ``mock_aws``."""
    return boto3.client("ssm", region_name="us-east-1"), boto3.client("ssm", region_name="us-east-1")


@pytest.fixture(autouse=True)
def ssm(
    shared: ModuleType, handler_name: str, ssm_clients: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Ledger | None]:
    """For the Studio handler: moto's SSM (a fresh, empty store per test) for its ledger, its client
    reset after the test. Every SSM call is recorded, and checked against SSM_ACTIONS."""
    if handler_name != STUDIO:
        yield None
        return
    client, own = ssm_clients
    ledger = Ledger(own)

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        ledger.calls.append((model.name, json.loads(json.dumps(params))))

    with mock_aws():
        monkeypatch.setattr(shared, "SSM", client)
        client.meta.events.register("before-parameter-build.ssm", record, unique_id="test-record-ssm")
        try:
            yield ledger
        finally:
            client.meta.events.unregister("before-parameter-build.ssm", unique_id="test-record-ssm")
            monkeypatch.setattr(shared, "SSM", None)
    actions = sys.modules["studio_ledger"].SSM_ACTIONS
    assert {f"ssm:{name}" for name in ledger.operations} <= set(actions)
    # Only below the ledger's prefix, where the function's IAM policy lets it read and write.
    named = [p.get("Path") or p.get("Name") for _, p in ledger.calls if "Names" not in p]
    named += [name for _, p in ledger.calls for name in p.get("Names", [])]
    assert all(str(name).startswith(f"{LEDGER}/") for name in named), named


class CfnEndpoint:
    """What CloudFormation's pre-signed S3 URL would receive: every PUT's path and JSON body."""

    signature = SIGNATURE

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[str, dict[str, Any]]] = []

    def url(self, request_id: str) -> str:
        return (
            f"https://127.0.0.1:{self.port}/arn%3Aaws%3Acloudformation%7CAliases%7C{request_id}"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20250101T000000Z&X-Amz-SignedHeaders=host"
            "&X-Amz-Expires=7200&X-Amz-Credential=AKIAEXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
            f"&X-Amz-Signature={SIGNATURE}"
        )


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, str]:
    """A throwaway CA and its PEM file: every local HTTPS server's certificate is issued by it, and
    ``cfn_endpoint`` makes it trusted through SSL_CERT_FILE."""
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca, str(ca_file)


def https_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server-side TLS context with a certificate for 127.0.0.1 issued by ``ca``."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    return server_context


@pytest.fixture(scope="session")
def cfn_server(tls_ca: tuple[trustme.CA, str]) -> Iterator[tuple[CfnEndpoint, str]]:
    ca, ca_file = tls_ca
    server_context = https_context(ca)

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            endpoint.received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler, server_context) as port:
        endpoint = CfnEndpoint(port)
        yield endpoint, ca_file


@pytest.fixture(autouse=True)
def cfn_endpoint(cfn_server: tuple[CfnEndpoint, str], monkeypatch: pytest.MonkeyPatch) -> CfnEndpoint:
    endpoint, ca_file = cfn_server
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)  # crhelper's default SSL context reads it
    endpoint.received.clear()
    return endpoint


class FakeContext:
    """The parts of a Lambda context that crhelper and the function use."""

    function_name = "image-version-aliases"
    function_version = "$LATEST"
    invoked_function_arn = SERVICE_TOKEN
    memory_limit_in_mb = 256
    aws_request_id = "0d6f5a1e-5d3c-4f0e-9c55-000000000001"
    log_group_name = "/aws/lambda/image-version-aliases"
    log_stream_name = "2025/01/01/[$LATEST]0123456789abcdef"

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class Cfn:
    """Builds CloudFormation events, invokes the handler, and returns the one response it PUT."""

    resource_type = "Custom::SageMakerImageVersionAliases"
    logical_id = "LatestAliases"

    def __init__(self, index: ModuleType, endpoint: CfnEndpoint) -> None:
        self.index = index
        self.endpoint = endpoint
        self.count = 0

    @staticmethod
    def props(version: int | str, aliases: Any, image: str = IMAGE, **extra: Any) -> dict[str, Any]:
        """ResourceProperties as CloudFormation sends them (numbers as strings)."""
        return {
            "ServiceToken": SERVICE_TOKEN,
            "ImageName": image,
            "Version": str(version),
            "Aliases": aliases,
            "ConfigDigest": "d41d8cd98f00b204",
            **extra,
        }

    def event(
        self,
        request_type: str,
        properties: dict[str, Any],
        *,
        physical_id: str | None = None,
        old: dict[str, Any] | None = None,
        logical_id: str | None = None,
    ) -> dict[str, Any]:
        self.count += 1
        request_id = f"5b7c1e4a-0000-4000-8000-{self.count:012d}"
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": SERVICE_TOKEN,
            "ResponseURL": self.endpoint.url(request_id),
            "StackId": STACK_ID,
            "RequestId": request_id,
            "LogicalResourceId": logical_id or self.logical_id,
            "ResourceType": self.resource_type,
            "ResourceProperties": properties,
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old is not None:
            event["OldResourceProperties"] = old
        return event

    def send(
        self, event: dict[str, Any], remaining_ms: int = 300_000, handler: Callable[..., None] | None = None
    ) -> dict[str, Any]:
        before = len(self.endpoint.received)
        (handler or self.index.handler)(event, FakeContext(remaining_ms))
        new = self.endpoint.received[before:]
        assert len(new) == 1, f"expected exactly one response PUT, got {len(new)}"
        path, body = new[0]
        assert event["ResponseURL"].endswith(path), "crhelper must PUT to the pre-signed path and query"
        return body

    @staticmethod
    def expected(event: dict[str, Any], status: str, physical_id: str, reason: str = "") -> dict[str, Any]:
        return {
            "Status": status,
            "Reason": reason,
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": {},
            "NoEcho": False,
        }


class StudioCfn(Cfn):
    resource_type = "Custom::SageMakerStudioCustomImages"
    logical_id = "StudioImages"

    @staticmethod
    def physical_id(kind: str = "domain", domain: str = DOMAIN) -> str:
        """The id the studio handler answers for a target kind (its format is pinned by a test)."""
        return f"{domain}/{STUDIO_TARGETS[kind][2]}"

    @staticmethod
    def entry(
        settings: str = "DefaultUserSettings",
        app_type: str = "KernelGateway",
        image: str = IMAGE,
        config: str = CONFIG,
        version: int | str | None = None,
    ) -> dict[str, Any]:
        """One CustomImages entry as CloudFormation sends it (the version as a string)."""
        listed: dict[str, Any] = {
            "Settings": settings,
            "AppType": app_type,
            "ImageName": image,
            "AppImageConfigName": config,
        }
        if version is not None:
            listed["ImageVersionNumber"] = str(version)
        return listed

    @staticmethod
    def props(  # type: ignore[override]
        kind: str = "domain",
        *entries: dict[str, Any],
        domain: str = DOMAIN,
        **extra: Any,
    ) -> dict[str, Any]:
        """ResourceProperties for a target kind; no entries given: one KernelGateway entry of ours."""
        if not entries:
            entries = (StudioCfn.entry(STUDIO_TARGETS[kind][3][0]),)
        return {
            "ServiceToken": SERVICE_TOKEN,
            "ServiceTimeout": "660",
            "DomainId": domain,
            **STUDIO_TARGETS[kind][1],
            "CustomImages": list(entries),
            "LedgerVersion": "1",
            **extra,
        }


@pytest.fixture
def cfn(index: ModuleType, cfn_endpoint: CfnEndpoint, handler_name: str) -> Cfn:
    return (StudioCfn if handler_name == STUDIO else Cfn)(index, cfn_endpoint)
