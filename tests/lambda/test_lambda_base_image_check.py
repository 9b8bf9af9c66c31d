"""Unit tests of the base-image-check custom resource (lambda/base_image_check), ECR stubbed.

Each region's ECR client is a real client under botocore's Stubber (which checks each call's params,
and the order), put in the shared module's per-region cache. The config blob that ECR's
GetDownloadUrlForLayer points at is served by a local HTTPS server whose certificate is issued by the
same throwaway CA as CloudFormation's ResponseURL endpoint (trusted through SSL_CERT_FILE).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import ModuleType
from typing import Any

import boto3
import pytest
import trustme
from botocore.stub import Stubber
from conftest import SERVICE_TOKEN, Cfn, CfnEndpoint, https_context
from local_https import serving

HANDLER = "base_image_check"
ACCOUNT = "123456789012"
OTHER = "210987654321"
REPO = "team/notebook"
URI = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{REPO}"
PHYSICAL_ID = "base-image-check"
KEY, KEY2, KEY3 = "Image0001", "Image0002", "Image0003"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPES = [DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX]
FIX_PLATFORM = " Fix: build with --platform linux/amd64, or use BaseImage.from_asset (builds for it)."
FIX_MISSING = " Fix: push it first, or correct the tag or digest in the BaseImage."


def sha256(data: str | bytes) -> str:
    return "sha256:" + hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


# --- the registry's side: blobs over HTTPS, ECR's API through the Stubber --------------------------


class Blobs:
    """What the presigned layer URLs serve: path -> (status, body); every GET's path is recorded."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.served: dict[str, tuple[int, bytes]] = {}
        self.gets: list[str] = []

    def add(self, digest: str, body: bytes, status: int = 200) -> str:
        path = f"/layers/{digest}"
        self.served[path] = (status, body)
        return f"https://127.0.0.1:{self.port}{path}?X-Amz-Signature=abc&X-Amz-Expires=3600"


@pytest.fixture(scope="session")
def blob_server(tls_ca: tuple[trustme.CA, str]) -> Iterator[Blobs]:
    ca, _ = tls_ca

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            blobs.gets.append(path)
            status, body = blobs.served.get(path, (404, b"<Error>NoSuchKey</Error>"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler, https_context(ca)) as port:
        blobs = Blobs(port)
        yield blobs


@pytest.fixture
def blobs(blob_server: Blobs, monkeypatch: pytest.MonkeyPatch) -> Blobs:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    blob_server.served.clear()
    blob_server.gets.clear()
    return blob_server


class OnlyStubbed(dict):  # type: ignore[type-arg]
    """The shared module's per-region ECR clients: a region the test did not stub fails the test."""

    def get(self, region: str, default: Any = None) -> Any:
        assert region in self, f"ECR client of an unexpected region {region!r}"
        return self[region]


@pytest.fixture(scope="session")
def ecr_clients(shared: ModuleType) -> dict[str, Any]:
    """Real clients made once (a client costs 0.1-0.3 s), with the module's Config, per region."""
    return {
        region: boto3.client("ecr", region_name=region, config=shared.BOTO_CONFIG)
        for region in ("us-east-1", "eu-west-1", "ap-southeast-2")
    }


class Ecr:
    """The Stubber on each region's ECR client, with helpers that publish images as ECR answers them."""

    def __init__(self, stubbers: dict[str, Stubber], blobs: Blobs) -> None:
        self.stubbers = stubbers
        self.blobs = blobs
        self.calls: list[tuple[str, str]] = []  # (region, operation) of every call the handler made

    def get(
        self,
        image_id: dict[str, str],
        manifest: str,
        media_type: str | None,
        *,
        repo: str = REPO,
        account: str = ACCOUNT,
        region: str = "us-east-1",
    ) -> str:
        """One BatchGetImage answering ``manifest``; returns its digest."""
        digest = sha256(manifest)
        image: dict[str, Any] = {
            "registryId": account,
            "repositoryName": repo,
            "imageId": {**image_id, "imageDigest": digest},
            "imageManifest": manifest,
        }
        if media_type:
            image["imageManifestMediaType"] = media_type
        self.stubbers[region].add_response(
            "batch_get_image",
            {"images": [image], "failures": []},
            self.get_params(image_id, repo=repo, account=account),
        )
        return digest

    @staticmethod
    def get_params(image_id: dict[str, str], *, repo: str = REPO, account: str = ACCOUNT) -> dict[str, Any]:
        return {
            "registryId": account,
            "repositoryName": repo,
            "imageIds": [image_id],
            "acceptedMediaTypes": MEDIA_TYPES,
        }

    def missing(self, image_id: dict[str, str], code: str = "ImageNotFound", *, repo: str = REPO) -> None:
        failure = {"imageId": image_id, "failureCode": code, "failureReason": "Requested image not found"}
        self.stubbers["us-east-1"].add_response(
            "batch_get_image", {"images": [], "failures": [failure]}, self.get_params(image_id, repo=repo)
        )

    def config(
        self,
        blob: bytes,
        *,
        repo: str = REPO,
        account: str = ACCOUNT,
        region: str = "us-east-1",
        status: int = 200,
    ) -> str:
        """GetDownloadUrlForLayer of a config blob, and the blob at the URL it answers; its digest."""
        digest = sha256(blob)
        self.stubbers[region].add_response(
            "get_download_url_for_layer",
            {"downloadUrl": self.blobs.add(digest, blob, status), "layerDigest": digest},
            {"registryId": account, "repositoryName": repo, "layerDigest": digest},
        )
        return digest

    def error(self, method: str, code: str, params: dict[str, Any], message: str = "denied") -> None:
        self.stubbers["us-east-1"].add_client_error(
            method,
            service_error_code=code,
            service_message=message,
            http_status_code=400,
            expected_params=params,
        )

    def image(
        self,
        image_id: dict[str, str],
        arch: str = "amd64",
        os: str = "linux",
        *,
        oci: bool = False,
        fetch: bool = True,
        status: int = 200,
        **where: Any,
    ) -> str:
        """A single-platform image read by ``image_id``: its manifest, then (``fetch``) its config blob.
        Returns the manifest's digest."""
        blob = config_blob(arch, os)
        manifest = image_manifest(sha256(blob), oci=oci)
        digest = self.get(image_id, manifest, OCI_MANIFEST if oci else DOCKER_MANIFEST, **where)
        if fetch:
            self.config(blob, status=status, **where)
        return digest

    def done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def config_blob(arch: str = "amd64", os: str = "linux", variant: str | None = None) -> bytes:
    config: dict[str, Any] = {
        "architecture": arch,
        "os": os,
        "config": {"User": "1000:100", "Env": ["PATH=/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256("layer")]},
    }
    if variant:
        config["variant"] = variant
    return json.dumps(config).encode()


def image_manifest(config_digest: str, *, oci: bool = False) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json"
                if oci
                else "application/vnd.docker.container.image.v1+json",
                "size": 1234,
                "digest": config_digest,
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 9, "digest": sha256("l")}
            ],
        }
    )


def index_manifest(entries: list[tuple[str, str]], *, oci: bool = False, media_type: bool = True) -> str:
    """An index of (platform "os/arch[/variant]", manifest digest) entries; "unknown/unknown" is an
    attestation, as docker buildx writes them."""
    manifests = []
    for platform, digest in entries:
        os, arch, *variant = platform.split("/")
        entry: dict[str, Any] = {
            "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
            "size": 500,
            "digest": digest,
            "platform": {"architecture": arch, "os": os, **({"variant": variant[0]} if variant else {})},
        }
        if platform == "unknown/unknown":
            entry["annotations"] = {"vnd.docker.reference.type": "attestation-manifest"}
        manifests.append(entry)
    index: dict[str, Any] = {"schemaVersion": 2, "manifests": manifests}
    if media_type:
        index["mediaType"] = OCI_INDEX if oci else DOCKER_LIST
    return json.dumps(index)


@pytest.fixture
def ecr(
    index: ModuleType,
    shared: ModuleType,
    ecr_clients: dict[str, Any],
    blobs: Blobs,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Ecr]:
    """Every region's client stubbed (an unexpected call fails the test); each call recorded, and all of
    them checked against ECR_ACTIONS (what the construct's IAM policy grants)."""
    stubbers = {region: Stubber(client) for region, client in ecr_clients.items()}
    stub = Ecr(stubbers, blobs)

    def recorder(region: str) -> Any:
        def record(model: Any, **_: Any) -> None:
            stub.calls.append((region, model.name))

        return record

    monkeypatch.setattr(shared, "ECR", OnlyStubbed(ecr_clients))
    for region, client in ecr_clients.items():
        client.meta.events.register(
            "before-parameter-build.ecr", recorder(region), unique_id="test-record-ecr"
        )
        stubbers[region].activate()
    try:
        yield stub
    finally:
        for region, client in ecr_clients.items():
            client.meta.events.unregister("before-parameter-build.ecr", unique_id="test-record-ecr")
            stubbers[region].deactivate()
    assert {f"ecr:{name}" for _, name in stub.calls} <= set(index.ECR_ACTIONS)


class CheckCfn(Cfn):
    resource_type = "Custom::SageMakerBaseImageCheck"
    logical_id = "BaseImageCheck"

    @staticmethod
    def props(*images: tuple[str, str], **extra: Any) -> dict[str, Any]:  # type: ignore[override]
        """ResourceProperties for (Key, ImageUri) pairs."""
        return {
            "ServiceToken": SERVICE_TOKEN,
            "Images": [{"Key": key, "ImageUri": uri} for key, uri in images],
            **extra,
        }

    def create(self, *images: tuple[str, str]) -> dict[str, Any]:
        return self.event("Create", self.props(*images))

    @staticmethod
    def answer(event: dict[str, Any], **digests: str) -> dict[str, Any]:
        """The SUCCESS answer with Data ``Digest<Key>`` for each key given."""
        data = {f"Digest{key}": digest for key, digest in digests.items()}
        return {**Cfn.expected(event, "SUCCESS", PHYSICAL_ID), "Data": data}


@pytest.fixture
def cfn(index: ModuleType, cfn_endpoint: CfnEndpoint) -> CheckCfn:
    return CheckCfn(index, cfn_endpoint)


def failed(body: dict[str, Any]) -> str:
    """The reason of a FAILED answer, checked to be whole: within crhelper's 256 characters."""
    assert body["Status"] == "FAILED", body
    assert body["Data"] == {}
    assert len(body["Reason"]) <= 256 and not body["Reason"].startswith("ERROR: (truncated)")
    return str(body["Reason"])


# --- single-platform images ------------------------------------------------------------------------


def test_create_checks_an_amd64_image_and_answers_its_digest(cfn, ecr, blobs):
    digest = ecr.image({"imageTag": "v1"})
    event = cfn.create((KEY, f"{URI}:v1"))

    assert cfn.send(event) == cfn.answer(event, **{KEY: digest})
    assert ecr.calls == [("us-east-1", "BatchGetImage"), ("us-east-1", "GetDownloadUrlForLayer")]
    assert len(blobs.gets) == 1
    ecr.done()


def test_oci_image_manifest_is_read_like_dockers(cfn, ecr):
    digest = ecr.image({"imageTag": "v1"}, oci=True)
    event = cfn.create((KEY, f"{URI}:v1"))

    assert cfn.send(event) == cfn.answer(event, **{KEY: digest})
    ecr.done()


def test_arm64_image_fails_naming_its_platform_and_the_fix(cfn, ecr):
    ecr.image({"imageTag": "v1"}, arch="arm64")
    event = cfn.create((KEY, f"{URI}:v1"))

    reason = failed(cfn.send(event))
    assert reason == (
        f"Base image {URI}:v1 is linux/arm64, but Studio runs linux/amd64 images only." + FIX_PLATFORM
    )
    ecr.done()


def test_windows_amd64_image_fails_too(cfn, ecr):
    ecr.image({"imageTag": "v1"}, os="windows")
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1"))))

    assert "is windows/amd64, but Studio runs linux/amd64" in reason
    ecr.done()


def test_digest_reference_is_read_by_digest(cfn, ecr):
    blob = config_blob()
    manifest = image_manifest(sha256(blob))
    digest = sha256(manifest)
    ecr.get({"imageDigest": digest}, manifest, DOCKER_MANIFEST)
    ecr.config(blob)
    event = cfn.create((KEY, f"{URI}@{digest}"))

    assert cfn.send(event) == cfn.answer(event, **{KEY: digest})
    ecr.done()


def test_a_digest_wins_over_a_tag_and_no_tag_means_latest(cfn, ecr):
    blob = config_blob()
    manifest = image_manifest(sha256(blob))
    digest = sha256(manifest)
    ecr.get({"imageDigest": digest}, manifest, DOCKER_MANIFEST)
    ecr.config(blob)
    latest = ecr.image({"imageTag": "latest"}, repo="plain")
    uri = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/plain"
    event = cfn.create((KEY, f"{URI}:v1@{digest}"), (KEY2, uri))

    assert cfn.send(event) == cfn.answer(event, **{KEY: digest, KEY2: latest})
    ecr.done()


def test_each_image_is_read_in_its_own_region_and_account(cfn, ecr):
    uri = f"{OTHER}.dkr.ecr.eu-west-1.amazonaws.com/{REPO}:v2"
    digest = ecr.image({"imageTag": "v2"}, account=OTHER, region="eu-west-1")
    event = cfn.create((KEY, uri))

    assert cfn.send(event) == cfn.answer(event, **{KEY: digest})
    assert ecr.calls == [("eu-west-1", "BatchGetImage"), ("eu-west-1", "GetDownloadUrlForLayer")]
    ecr.done()


def test_one_uri_under_two_keys_is_read_once(cfn, ecr):
    digest = ecr.image({"imageTag": "v1"})
    event = cfn.create((KEY, f"{URI}:v1"), (KEY2, f"{URI}:v1"))

    assert cfn.send(event) == cfn.answer(event, **{KEY: digest, KEY2: digest})
    ecr.done()


def test_every_image_is_checked_and_the_first_bad_one_fails_the_create(cfn, ecr):
    ecr.image({"imageTag": "v1"})
    ecr.image({"imageTag": "v2"}, arch="arm64")
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1"), (KEY2, f"{URI}:v2"))))

    assert reason.startswith(f"Base image {URI}:v2 is linux/arm64")
    ecr.done()


# --- multi-platform indexes ------------------------------------------------------------------------


def test_docker_manifest_list_follows_its_amd64_entry(cfn, ecr, blobs):
    blob = config_blob()
    amd64 = image_manifest(sha256(blob))
    entries = [
        ("linux/arm64/v8", sha256("arm")),
        ("linux/amd64", sha256(amd64)),
        ("unknown/unknown", sha256("a")),
    ]
    ecr.get({"imageTag": "v1"}, index_manifest(entries), DOCKER_LIST)
    ecr.get({"imageDigest": sha256(amd64)}, amd64, DOCKER_MANIFEST)
    ecr.config(blob)
    event = cfn.create((KEY, f"{URI}:v1"))

    assert cfn.send(event) == cfn.answer(event, **{KEY: sha256(amd64)})  # the amd64 manifest's digest
    assert [name for _, name in ecr.calls] == ["BatchGetImage", "BatchGetImage", "GetDownloadUrlForLayer"]
    ecr.done()


def test_oci_index_without_a_media_type_field_is_an_index_too(cfn, ecr):
    blob = config_blob()
    amd64 = image_manifest(sha256(blob), oci=True)
    entries = [("linux/arm64", sha256("arm")), ("linux/amd64", sha256(amd64))]
    ecr.get({"imageTag": "v1"}, index_manifest(entries, oci=True, media_type=False), None)
    ecr.get({"imageDigest": sha256(amd64)}, amd64, OCI_MANIFEST)
    ecr.config(blob)
    event = cfn.create((KEY, f"{URI}:v1"))

    assert cfn.send(event) == cfn.answer(event, **{KEY: sha256(amd64)})
    ecr.done()


def test_index_without_amd64_fails_naming_the_platforms_it_has(cfn, ecr):
    entries = [("linux/arm64", sha256("a")), ("linux/arm/v7", sha256("b")), ("unknown/unknown", sha256("c"))]
    ecr.get({"imageTag": "v1"}, index_manifest(entries, oci=True), OCI_INDEX)
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1"))))

    assert reason == (
        f"Base image {URI}:v1 is an index without linux/amd64 (Studio's); it has linux/arm64, linux/arm/v7."
        + FIX_PLATFORM
    )
    ecr.done()  # nothing read beyond the index


def test_index_whose_amd64_entry_is_not_amd64_inside_fails(cfn, ecr):
    blob = config_blob("arm64")
    inner = image_manifest(sha256(blob))
    ecr.get({"imageTag": "v1"}, index_manifest([("linux/amd64", sha256(inner))]), DOCKER_LIST)
    ecr.get({"imageDigest": sha256(inner)}, inner, DOCKER_MANIFEST)
    ecr.config(blob)
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1"))))

    assert reason.startswith(f"Base image {URI}:v1 is linux/arm64, but Studio runs linux/amd64")
    ecr.done()


def test_index_whose_amd64_entry_is_missing_fails_naming_it(cfn, ecr):
    entry = sha256("gone")
    ecr.get({"imageTag": "v1"}, index_manifest([("linux/amd64", entry)]), DOCKER_LIST)
    ecr.missing({"imageDigest": entry})
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1"))))

    assert reason == f"Base image {URI}:v1: its amd64 entry {entry} not found" + FIX_MISSING
    ecr.done()


# --- what cannot be read ---------------------------------------------------------------------------


def test_missing_tag_fails_naming_the_tag_and_the_fix(cfn, ecr):
    ecr.missing({"imageTag": "v9"})
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v9"))))

    assert reason == f"Base image {URI}:v9: tag 'v9' not found" + FIX_MISSING
    ecr.done()


def test_other_batch_get_image_failures_are_named_with_ecrs_words(cfn, ecr):
    ecr.missing({"imageTag": "v9"}, code="KmsError")
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v9"))))

    assert reason == (
        f"Base image {URI}:v9: ECR's BatchGetImage failed for tag 'v9': KmsError: Requested image not found"
    )
    ecr.done()


def test_missing_repository_fails_naming_it(cfn, ecr):
    ecr.error("batch_get_image", "RepositoryNotFoundException", ecr.get_params({"imageTag": "v1"}), "no repo")
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1"))))

    assert reason == (
        f"Base image {URI}:v1: repository {REPO} not found in registry {ACCOUNT}"
        " (RepositoryNotFoundException: no repo)" + FIX_MISSING
    )
    ecr.done()


@pytest.mark.parametrize("operation", ["BatchGetImage", "GetDownloadUrlForLayer"])
def test_a_refused_read_names_the_permission_and_both_fixes(cfn, ecr, operation):
    if operation == "BatchGetImage":
        ecr.error("batch_get_image", "AccessDeniedException", ecr.get_params({"imageTag": "v1"}))
    else:
        blob = config_blob()
        ecr.get({"imageTag": "v1"}, image_manifest(sha256(blob)), DOCKER_MANIFEST)
        params = {"registryId": ACCOUNT, "repositoryName": REPO, "layerDigest": sha256(blob)}
        ecr.error("get_download_url_for_layer", "AccessDeniedException", params)
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1"))))

    assert reason == (
        f"Base image {URI}:v1: ecr:{operation} was refused (denied) Fix: allow it to this function's role"
        " in the repository's policy (another account's), or opt out with check_base_image=False."
    )
    ecr.done()


def test_a_config_that_cannot_be_downloaded_fails_naming_the_image(cfn, ecr, blobs):
    ecr.image({"imageTag": "v1"}, status=403)
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1"))))

    assert reason.startswith(f"Base image {URI}:v1: could not download its config sha256:")
    assert "HTTP Error 403" in reason and len(blobs.gets) == 1
    ecr.done()


def test_a_download_url_that_is_not_https_is_not_fetched(cfn, ecr, blobs):
    blob = config_blob()
    ecr.get({"imageTag": "v1"}, image_manifest(sha256(blob)), DOCKER_MANIFEST)
    url = blobs.add(sha256(blob), blob).replace("https://", "http://")
    params = {"registryId": ACCOUNT, "repositoryName": REPO, "layerDigest": sha256(blob)}
    ecr.stubbers["us-east-1"].add_response(
        "get_download_url_for_layer", {"downloadUrl": url, "layerDigest": sha256(blob)}, params
    )
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1"))))

    assert reason.startswith(f"Base image {URI}:v1: ECR answered no HTTPS URL: 'http://127.0.0.1:")
    assert blobs.gets == []
    ecr.done()


def test_a_malformed_manifest_still_fails_naming_the_image(cfn, ecr):
    ecr.get({"imageTag": "v1"}, "{not json", DOCKER_MANIFEST)
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1"))))

    assert reason.startswith(f"Base image {URI}:v1: could not be read: JSONDecodeError:")
    ecr.done()


def test_no_time_left_fails_before_any_call(cfn, ecr):
    reason = failed(cfn.send(cfn.create((KEY, f"{URI}:v1")), remaining_ms=29_000))

    assert reason == f"Base image {URI}:v1: ran out of time before ECR's BatchGetImage Fix: deploy again."
    assert ecr.calls == []


def test_the_config_download_has_a_timeout_within_the_budget(cfn, ecr, index, monkeypatch):
    seen: list[float] = []
    urlopen = index.urllib.request.urlopen

    def timed(url: str, timeout: float) -> Any:
        seen.append(timeout)
        return urlopen(url, timeout=timeout)

    monkeypatch.setattr(index.urllib.request, "urlopen", timed)
    ecr.image({"imageTag": "v1"})
    ecr.image({"imageTag": "v2"})
    event = cfn.create((KEY, f"{URI}:v1"), (KEY2, f"{URI}:v2"))

    assert cfn.send(event, remaining_ms=30_000 + 5_000)["Status"] == "SUCCESS"
    assert seen == [5.0, 5.0]  # the budget's 5 s, not the 20 s default (the fake clock does not move)
    ecr.done()


def test_throttling_is_retried_by_botocore_with_the_modules_config(cfn, shared, clock, blobs, monkeypatch):
    """A local server speaks ECR's JSON protocol: every first call of an operation is throttled."""
    blob = config_blob()
    manifest = image_manifest(sha256(blob))
    url = blobs.add(sha256(blob), blob)
    answers = {
        "BatchGetImage": {
            "images": [
                {
                    "registryId": ACCOUNT,
                    "repositoryName": REPO,
                    "imageId": {"imageTag": "v1", "imageDigest": sha256(manifest)},
                    "imageManifest": manifest,
                    "imageManifestMediaType": DOCKER_MANIFEST,
                }
            ],
            "failures": [],
        },
        "GetDownloadUrlForLayer": {"downloadUrl": url, "layerDigest": sha256(blob)},
    }
    seen: list[str] = []

    class Json(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            operation = self.headers.get("X-Amz-Target", "").split(".")[-1]
            self.rfile.read(int(self.headers["Content-Length"]))
            first = operation not in seen
            seen.append(operation)
            status, payload = (
                (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
                if first
                else (
                    200,
                    answers[operation],
                )
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Json)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = boto3.client(
        "ecr",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        config=shared.BOTO_CONFIG,
    )
    monkeypatch.setattr(shared, "ECR", OnlyStubbed({"us-east-1": client}))
    event = cfn.create((KEY, f"{URI}:v1"))
    try:
        body = cfn.send(event)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    assert body == cfn.answer(event, **{KEY: sha256(manifest)})
    assert seen == ["BatchGetImage", "BatchGetImage", "GetDownloadUrlForLayer", "GetDownloadUrlForLayer"]
    assert clock.sleeps == []  # botocore's retries, not the function's


def test_ecr_clients_are_made_per_region_once_with_standard_retries(shared, monkeypatch):
    monkeypatch.setattr(shared, "ECR", {})
    client = shared.ecr("eu-central-1")

    assert client is shared.ecr("eu-central-1") is shared.ECR["eu-central-1"]
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 8}
    assert shared.ecr("us-west-2").meta.region_name == "us-west-2"


# --- Update and Delete -----------------------------------------------------------------------------


def test_update_rechecks_only_the_new_and_changed_images_and_resolves_the_others(cfn, ecr, blobs):
    old = cfn.props((KEY, f"{URI}:v1"), (KEY2, f"{URI}:v2"), (KEY3, f"{URI}:gone"))
    new = cfn.props((KEY, f"{URI}:v1"), (KEY2, f"{URI}:v3"), ("Image0004", f"{URI}:v4"))
    v3 = ecr.image({"imageTag": "v3"})  # changed: read whole, first
    v4 = ecr.image({"imageTag": "v4"})  # new
    v1 = ecr.image({"imageTag": "v1"}, fetch=False)  # unchanged: its manifest only
    event = cfn.event("Update", new, physical_id=PHYSICAL_ID, old=old)

    assert cfn.send(event) == cfn.answer(event, **{KEY: v1, KEY2: v3, "Image0004": v4})
    assert [name for _, name in ecr.calls].count("GetDownloadUrlForLayer") == 2 and len(blobs.gets) == 2
    ecr.done()


def test_update_resolves_an_unchanged_index_by_its_amd64_entry_without_reading_it(cfn, ecr):
    v2 = ecr.image({"imageTag": "v2"})  # the new image is checked first
    entries = [("linux/arm64", sha256("arm")), ("linux/amd64", sha256("amd"))]
    ecr.get({"imageTag": "v1"}, index_manifest(entries), DOCKER_LIST)
    old = cfn.props((KEY, f"{URI}:v1"))
    event = cfn.event(
        "Update", cfn.props((KEY, f"{URI}:v1"), (KEY2, f"{URI}:v2")), physical_id=PHYSICAL_ID, old=old
    )

    assert cfn.send(event) == cfn.answer(event, **{KEY: sha256("amd"), KEY2: v2})
    ecr.done()


def test_update_of_an_unchanged_image_gone_since_fails_naming_it(cfn, ecr):
    ecr.image({"imageTag": "v2"})
    ecr.missing({"imageTag": "v1"})
    old = cfn.props((KEY, f"{URI}:v1"))
    event = cfn.event(
        "Update", cfn.props((KEY, f"{URI}:v1"), (KEY2, f"{URI}:v2")), physical_id=PHYSICAL_ID, old=old
    )

    assert failed(cfn.send(event)) == f"Base image {URI}:v1: tag 'v1' not found" + FIX_MISSING
    ecr.done()


def test_update_with_a_moved_key_checks_the_image_under_its_new_key(cfn, ecr):
    digest = ecr.image({"imageTag": "v1"})  # KEY2 is new, though its URI was KEY's
    old = cfn.props((KEY, f"{URI}:v1"))
    event = cfn.event("Update", cfn.props((KEY2, f"{URI}:v1")), physical_id=PHYSICAL_ID, old=old)

    assert cfn.send(event) == cfn.answer(event, **{KEY2: digest})
    ecr.done()


def test_update_refuses_bad_new_properties_whatever_the_old_ones(cfn, ecr):
    event = cfn.event("Update", cfn.props((KEY, "nope")), physical_id=PHYSICAL_ID, old={"Images": "junk"})

    assert "Images[0].ImageUri 'nope' is not an ECR image URI" in failed(cfn.send(event))
    assert ecr.calls == []


@pytest.mark.parametrize("physical_id", [PHYSICAL_ID, "images-stack_BaseImageCheck_ABCD1234"])
def test_delete_calls_nothing_and_succeeds(cfn, ecr, blobs, physical_id):
    event = cfn.event("Delete", cfn.props((KEY, "not even a uri")), physical_id=physical_id)

    assert cfn.send(event) == Cfn.expected(event, "SUCCESS", physical_id)
    assert ecr.calls == [] and blobs.gets == []


# --- input -----------------------------------------------------------------------------------------

LONG_REPO = "/".join(["a" * 60] * 4)  # 243 characters: within ECR's 256
LONG_URI = f"{ACCOUNT}.dkr.ecr.ap-southeast-2.amazonaws.com/{LONG_REPO}:{'t' * 128}"


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        ({"Images": [], "Extra": "x"}, "Unknown property 'Extra': expected Images (a list of Key, ImageUri)"),
        ({}, "Images must be a list of {Key, ImageUri}, got None"),
        ({"Images": "a"}, "Images must be a list of {Key, ImageUri}, got 'a'"),
        ({"Images": ["a"]}, "Images[0] must be an object {Key, ImageUri}, got 'a'"),
        (
            {"Images": [{"Key": KEY, "ImageUri": URI, "Tag": "v1"}]},
            "Images[0] has an unknown field 'Tag': expected Key, ImageUri",
        ),
        ({"Images": [{"Key": "short", "ImageUri": URI}]}, "Images[0].Key 'short' is invalid: expected 8-40"),
        ({"Images": [{"Key": "Image-001", "ImageUri": URI}]}, "Images[0].Key 'Image-001' is invalid"),
        ({"Images": [{"ImageUri": URI}]}, "Images[0].Key None is invalid"),
        (
            {"Images": [{"Key": KEY, "ImageUri": URI}, {"Key": KEY, "ImageUri": URI}]},
            f"Images[1].Key '{KEY}' is listed twice: keys must be unique",
        ),
        ({"Images": [{"Key": KEY}]}, "Images[0].ImageUri None is not an ECR image URI"),
        (
            {"Images": [{"Key": KEY, "ImageUri": "docker.io/library/python:3.12"}]},
            "Images[0].ImageUri 'docker.io/library/python:3.12' is not an ECR image URI (<account>.dkr.ecr."
            "<region>.<suffix>/<repository>:<tag> or @sha256:<64 hex>)",
        ),
        (
            {"Images": [{"Key": KEY, "ImageUri": "public.ecr.aws/x/y:1"}]},
            "'public.ecr.aws/x/y:1' is not an ECR",
        ),
        ({"Images": [{"Key": KEY, "ImageUri": f"{URI.upper()}:v1"}]}, "is not an ECR image URI"),
        ({"Images": [{"Key": KEY, "ImageUri": f"{URI}/Upper:v1"}]}, "is not an ECR image URI"),
        ({"Images": [{"Key": KEY, "ImageUri": f"{URI}//x:v1"}]}, "is not an ECR image URI"),
        (
            {"Images": [{"Key": KEY, "ImageUri": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{REPO}-:v1"}]},
            "not an ECR",
        ),
        (
            {"Images": [{"Key": KEY, "ImageUri": f"1234.dkr.ecr.us-east-1.amazonaws.com/{REPO}:v1"}]},
            "not an ECR",
        ),
        ({"Images": [{"Key": KEY, "ImageUri": f"{URI}@sha256:abc"}]}, "is not an ECR image URI"),
        ({"Images": [{"Key": KEY, "ImageUri": f"{URI}:-v1"}]}, "is not an ECR image URI"),
        ({"Images": [{"Key": KEY, "ImageUri": f"{URI}:{'t' * 129}"}]}, "is not an ECR image URI"),
        (
            {"Images": [{"Key": KEY, "ImageUri": LONG_URI.replace(LONG_REPO, LONG_REPO + "/b" * 7)}]},
            "not an ECR",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_value(cfn, ecr, props, reason):
    event = cfn.event("Create", {"ServiceToken": SERVICE_TOKEN, **props})

    assert reason in failed(cfn.send(event))
    assert ecr.calls == []


@pytest.mark.parametrize(
    "uri",
    [
        f"{ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com/{REPO}:v1",
        f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn/{REPO}:v1",
        f"{ACCOUNT}.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/{REPO}:v1",
        f"{ACCOUNT}.dkr.ecr.eusc-de-east-1.amazonaws.eu/{REPO}:v1",
        f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/a_b.c-d/e-f9:V1.0_x-y",
        LONG_URI,
    ],
)
def test_ecr_uris_of_every_partition_and_ecrs_longest_names_are_taken(index, uri):
    assert index.parse({"Images": [{"Key": KEY, "ImageUri": uri}]})[KEY].uri == uri


def test_reasons_about_the_longest_uri_stay_whole_and_end_with_the_fix(cfn, ecr):
    """The URI's middle is cut (its account, region and tag's end stay), never the fix at the end."""
    where = {"repo": LONG_REPO, "region": "ap-southeast-2"}
    tag = {"imageTag": "t" * 128}
    ecr.get(
        tag,
        index_manifest([("linux/arm64", sha256("a")), ("linux/s390x", sha256("b"))]),
        DOCKER_LIST,
        **where,
    )
    ecr.image(tag, arch="arm64", **where)
    stubber = ecr.stubbers["ap-southeast-2"]
    denied = "User: arn:aws:sts::123456789012:assumed-role/x is not authorized " * 5
    stubber.add_client_error("batch_get_image", "AccessDeniedException", denied)
    failure = {"imageId": tag, "failureCode": "ImageNotFound", "failureReason": "x" * 300}
    stubber.add_response("batch_get_image", {"images": [], "failures": [failure]})
    stubber.add_client_error("batch_get_image", "ServerException", "y" * 400)
    fixes = [FIX_PLATFORM, FIX_PLATFORM, " or opt out with check_base_image=False.", FIX_MISSING, "yyy"]
    for fix in fixes:
        reason = failed(cfn.send(cfn.create((KEY, LONG_URI))))
        assert reason.startswith(f"Base image {LONG_URI[:30]}...{LONG_URI[-47:]}") and reason.endswith(fix)
    assert [name for _, name in ecr.calls].count("BatchGetImage") == 5
    ecr.done()


def test_too_many_images_for_one_answer_are_refused_before_any_call(cfn, ecr):
    images = [(f"Image{n:035d}", f"{URI}:v{n}") for n in range(31)]  # 40-character keys: 30 fit
    reason = failed(cfn.send(cfn.create(*images)))

    assert reason.startswith("31 images answer ") and "past CloudFormation's 4096-byte limit" in reason
    assert ecr.calls == []


def test_thirty_images_with_the_longest_keys_fit_an_answer(cfn, index):
    images = [(f"Image{n:035d}", f"{URI}:v{n}") for n in range(30)]
    event = cfn.create(*images)

    index._check_size(event, index.parse(event["ResourceProperties"]))  # no error


def test_an_empty_list_answers_no_data(cfn, ecr):
    event = cfn.create()

    assert cfn.send(event) == cfn.answer(event)
    assert ecr.calls == []


def test_ecr_actions_are_exactly_what_a_whole_check_calls(index, cfn, ecr):
    digest = ecr.image({"imageTag": "v1"})
    assert cfn.send(cfn.create((KEY, f"{URI}:v1")))["Data"] == {f"Digest{KEY}": digest}

    assert {f"ecr:{name}" for _, name in ecr.calls} == set(index.ECR_ACTIONS)
    assert index.ECR_ACTIONS == ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
