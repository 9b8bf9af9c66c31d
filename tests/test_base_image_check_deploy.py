"""A deploy of a synthesized stack through its base image check, as CloudFormation would run it.

The template is the construct's; the check resource's Create goes to the real handler
(``lambda/base_image_check/index.py``, loaded by path as in Lambda, ``deploy_sim.load_handler``), its
properties resolved and stringified as CloudFormation sends them (``deploy_sim.Resolver``). ECR is a real
botocore client under botocore's Stubber; the config blob ECR's GetDownloadUrlForLayer points at is
served over HTTPS on 127.0.0.1 with a throwaway CA's certificate (trustme), trusted through
SSL_CERT_FILE. SageMaker is a real botocore client under a Stubber too, every call recorded: the handler
gets it as the shared module's client, and this driver makes CreateImage and CreateImageVersion with it,
each resource only once all it DependsOn or references exists, stopping at the first failure (as
CloudFormation does, before rolling back).
"""

from __future__ import annotations

import hashlib
import json
import ssl
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import botocore.session
import deploy_sim
import pytest
import trustme
from aws_cdk.assertions import Template
from botocore.stub import Stubber
from local_https import serving

from constructs_lib import BaseImage, Image, base_image_check

HANDLER = Path(__file__).resolve().parents[1] / "lambda" / "base_image_check"
ACCOUNT = deploy_sim.ACCOUNT
REPO = "team/notebook"
URI = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{REPO}:1"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_TYPES = [
    DOCKER_MANIFEST,
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]


def sha256(data: str | bytes) -> str:
    return "sha256:" + hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


# --- the registry: a config blob over local HTTPS, ECR's API through the Stubber -------------------


class Blobs:
    def __init__(self, port: int) -> None:
        self.port = port
        self.served: dict[str, bytes] = {}
        self.gets: list[str] = []

    def add(self, body: bytes) -> tuple[str, str]:
        """(digest, presigned-like URL) of a blob now served."""
        digest = sha256(body)
        self.served[f"/layers/{digest}"] = body
        return digest, f"https://127.0.0.1:{self.port}/layers/{digest}?X-Amz-Signature=abc"


@pytest.fixture(scope="module")
def blobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Blobs]:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            served.gets.append(path)
            body = served.served.get(path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(Handler, context) as port, pytest.MonkeyPatch.context() as mp:
        served = Blobs(port)
        mp.setenv("SSL_CERT_FILE", str(ca_file))
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            mp.delenv(name, raising=False)
        yield served


def client(service: str) -> Any:
    return botocore.session.get_session().create_client(
        service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


class Aws:
    """ECR and SageMaker clients under Stubbers, every call recorded as (service, operation)."""

    def __init__(self, blobs: Blobs) -> None:
        self.blobs = blobs
        self.ecr, self.sagemaker = client("ecr"), client("sagemaker")
        self.ecr_stub, self.sagemaker_stub = Stubber(self.ecr), Stubber(self.sagemaker)
        self.calls: list[tuple[str, str]] = []
        for service, made in (("ecr", self.ecr), ("sagemaker", self.sagemaker)):
            made.meta.events.register(
                f"before-parameter-build.{service}",
                lambda model, _service=service, **_: self.calls.append((_service, model.name)),
            )

    def publish(self, arch: str) -> str:
        """ECR's answers for URI, a single-platform image of ``linux/<arch>``; its manifest's digest."""
        config = json.dumps({"architecture": arch, "os": "linux", "rootfs": {"type": "layers"}}).encode()
        config_digest, url = self.blobs.add(config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": len(config),
                    "digest": config_digest,
                },
                "layers": [],
            }
        )
        digest = sha256(manifest)
        repository = {"registryId": ACCOUNT, "repositoryName": REPO}
        self.ecr_stub.add_response(
            "batch_get_image",
            {
                "images": [
                    {
                        **repository,
                        "imageId": {"imageDigest": digest, "imageTag": "1"},
                        "imageManifest": manifest,
                        "imageManifestMediaType": DOCKER_MANIFEST,
                    }
                ],
                "failures": [],
            },
            {**repository, "imageIds": [{"imageTag": "1"}], "acceptedMediaTypes": MEDIA_TYPES},
        )
        self.ecr_stub.add_response(
            "get_download_url_for_layer",
            {"downloadUrl": url, "layerDigest": config_digest},
            {**repository, "layerDigest": config_digest},
        )
        return digest


@pytest.fixture
def aws(blobs: Blobs) -> Iterator[Aws]:
    made = Aws(blobs)
    with made.ecr_stub, made.sagemaker_stub:
        yield made


@pytest.fixture(scope="module")
def handler() -> ModuleType:
    return deploy_sim.load_handler(HANDLER, "base_image_check_deploy_index")


# --- CloudFormation ---------------------------------------------------------------------------------


class Deploy:
    """One stack's create: ``created`` logical ids in order, ``answers`` of the check resources."""

    def __init__(self, handler: ModuleType, aws: Aws, template: dict[str, Any]) -> None:
        self.handler, self.aws, self.template = handler, aws, template
        self.resolver = deploy_sim.Resolver(template)
        self.created: list[str] = []
        self.answers: dict[str, dict[str, Any]] = {}
        self.failed: str | None = None

    def run(self) -> Deploy:
        resources = self.template["Resources"]
        for rid in deploy_sim.dependency_order(self.template):
            resource = resources[rid]
            needs = set(resource.get("DependsOn", [])) | deploy_sim._references(
                resource.get("Properties", {})
            )
            assert needs & set(resources) <= set(self.created), f"{rid} before {needs - set(self.created)}"
            if not self.create(rid, resource):
                self.failed = rid
                return self  # CloudFormation creates nothing more, and rolls back
            self.created.append(rid)
        return self

    def create(self, rid: str, resource: dict[str, Any]) -> bool:
        kind, properties = resource["Type"], self.resolver.resolve(resource.get("Properties", {}))
        if kind == base_image_check.RESOURCE_TYPE:
            return self.check(rid, deploy_sim.as_strings(properties))
        if kind == "AWS::SageMaker::Image":
            self.aws.sagemaker.create_image(
                ImageName=properties["ImageName"], RoleArn=properties["ImageRoleArn"]
            )
        elif kind == "AWS::SageMaker::ImageVersion":
            name = str(properties["ImageName"]).rsplit("/", 1)[-1]
            self.aws.sagemaker.create_image_version(ImageName=name, BaseImage=properties["BaseImage"])
        return True

    def check(self, rid: str, properties: dict[str, Any]) -> bool:
        """The check resource's Create, sent to the real handler; its answer captured instead of PUT."""
        shared = sys.modules["custom_resource"]
        helper, answers = self.handler.helper, []

        def send(status: str | None = None, reason: str = "") -> None:
            type(helper)._send(
                helper, status, reason, send_response=lambda _url, body, *_: answers.append(body)
            )

        event = {
            "RequestType": "Create",
            "ServiceToken": properties["ServiceToken"],
            "ResponseURL": "https://cloudformation-custom-resource-response.fake/1",
            "StackId": self.resolver.pseudo["AWS::StackId"],
            "RequestId": "5b7c1e4a-0000-4000-8000-000000000001",
            "LogicalResourceId": rid,
            "ResourceType": base_image_check.RESOURCE_TYPE,
            "ResourceProperties": properties,
        }
        saved = shared.ECR, shared.SAGEMAKER
        shared.ECR, shared.SAGEMAKER = {"us-east-1": self.aws.ecr}, self.aws.sagemaker
        helper._send = send
        try:
            with deploy_sim.logging_levels_restored():
                clock = deploy_sim.FakeClock()
                self.handler.handler(event, deploy_sim.FakeContext(event["RequestId"], clock))
        finally:
            del helper._send
            shared.ECR, shared.SAGEMAKER = saved
        (answer,) = answers
        self.answers[rid] = answer
        return answer["Status"] == "SUCCESS"


def synthesize(check_base_image: bool = True) -> tuple[dict[str, Any], str, str]:
    """A stack of one image and one version of URI: its template, the version's id and the check's."""
    stack = cdk.Stack(cdk.App(), "Stack")
    version = Image(stack, "Image", image_name="team-image").add_version(
        "V1", base_image=BaseImage.from_uri(URI), check_base_image=check_base_image
    )
    template = Template.from_stack(stack).to_json()
    checks = [k for k, v in template["Resources"].items() if v["Type"] == base_image_check.RESOURCE_TYPE]
    return template, stack.get_logical_id(version.resource), checks[0] if checks else ""


def test_an_arm64_base_image_fails_the_check_and_the_version_is_never_created(
    handler: ModuleType, aws: Aws
) -> None:
    template, version_id, check_id = synthesize()
    # The template's truth: the version waits for the check, so a failed check leaves it uncreated.
    assert check_id in template["Resources"][version_id]["DependsOn"]
    aws.publish("arm64")
    aws.sagemaker_stub.add_response("create_image", {"ImageArn": "arn:aws:sagemaker:image/team-image"})

    deploy = Deploy(handler, aws, template).run()

    assert deploy.failed == check_id
    answer = deploy.answers[check_id]
    assert answer["Status"] == "FAILED"
    assert URI in answer["Reason"] and "linux/arm64" in answer["Reason"]
    assert "--platform linux/amd64" in answer["Reason"]
    assert version_id not in deploy.created
    assert ("sagemaker", "CreateImageVersion") not in aws.calls
    # The check only read ECR; the handler never called SageMaker (at most the image was made, before).
    assert [call for call in aws.calls if call[0] == "ecr"] == [
        ("ecr", "BatchGetImage"),
        ("ecr", "GetDownloadUrlForLayer"),
    ]
    assert [call for call in aws.calls if call[0] == "sagemaker"] in ([], [("sagemaker", "CreateImage")])
    aws.ecr_stub.assert_no_pending_responses()


def test_an_amd64_base_image_passes_and_the_version_is_created_after_the_check(
    handler: ModuleType, aws: Aws
) -> None:
    template, version_id, check_id = synthesize()
    digest = aws.publish("amd64")
    aws.sagemaker_stub.add_response("create_image", {"ImageArn": "arn:aws:sagemaker:image/team-image"})
    aws.sagemaker_stub.add_response(
        "create_image_version",
        {"ImageVersionArn": "arn:aws:sagemaker:image-version/team-image/1"},
        {"ImageName": "team-image", "BaseImage": URI},
    )

    deploy = Deploy(handler, aws, template).run()

    assert deploy.failed is None
    answer = deploy.answers[check_id]
    assert answer["Status"] == "SUCCESS"
    ((key, value),) = answer["Data"].items()
    assert value == digest
    # The version's base_image_digest is a GetAtt of exactly that attribute.
    (listed,) = template["Resources"][check_id]["Properties"]["Images"]
    assert key == f"Digest{listed['Key']}"
    assert deploy.created.index(check_id) < deploy.created.index(version_id)
    assert ("sagemaker", "CreateImageVersion") in aws.calls
    aws.ecr_stub.assert_no_pending_responses()
    aws.sagemaker_stub.assert_no_pending_responses()


def test_without_the_check_the_arm64_image_would_reach_sagemaker(handler: ModuleType, aws: Aws) -> None:
    """The deploy above can fail: opted out, nothing reads ECR and the version is created."""
    template, version_id, check_id = synthesize(check_base_image=False)
    assert check_id == ""
    aws.sagemaker_stub.add_response("create_image", {"ImageArn": "arn:aws:sagemaker:image/team-image"})
    aws.sagemaker_stub.add_response(
        "create_image_version", {"ImageVersionArn": "arn:aws:sagemaker:image-version/team-image/1"}
    )
    deploy = Deploy(handler, aws, template).run()
    assert version_id in deploy.created
    assert [call for call in aws.calls if call[0] == "ecr"] == []
