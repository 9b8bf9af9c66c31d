"""Custom::SageMakerBaseImageCheck: check each base image before its ImageVersion exists.

Studio runs linux/amd64 only, and an image of another platform (one built on Apple silicon without
``--platform linux/amd64``) is accepted by CreateImageVersion, then fails at app start with an opaque
InternalFailure. This function reads each image from ECR first: the manifest (``BatchGetImage``; for a
multi-platform index, its linux/amd64 entry), then the config blob (``GetDownloadUrlForLayer`` and an
HTTPS GET), and answers FAILED naming the image and the fix, or SUCCESS with each image's digest.
Reads only; ``docs/base-image-check.md`` is the contract. The crhelper set-up, the clients and the
time budget are shared (``custom_resource``).
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from typing import Any, NamedTuple

import custom_resource
from botocore import xform_name  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from custom_resource import Deadline, cfn_resource, ecr, error_code, show

logger = logging.getLogger(__name__)

# Exactly the ECR actions this code calls; the function's IAM policy must grant these and no more.
ECR_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")

helper = cfn_resource()

PHYSICAL_ID = "base-image-check"  # one per stack, nothing to replace or delete
MAX_SECONDS = 240.0  # the whole invocation's budget (and never past 30 s before the Lambda deadline)
HTTP_TIMEOUT_SECONDS = 20.0  # one GET of a config blob
MAX_CONFIG_BYTES = 8 * 1024 * 1024  # a config blob is a few KiB; refuse to read more than this
MAX_REASON = 256  # crhelper keeps only the last 240 characters of a longer reason
MAX_RESPONSE = 4096  # CloudFormation's limit on the whole response body

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPES = [DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX]
INDEXES = (DOCKER_LIST, OCI_INDEX)

PROPERTIES = {"ServiceToken", "ServiceTimeout", "Images"}
FIELDS = {"Key", "ImageUri"}
KEY = re.compile(r"[A-Za-z0-9]{8,40}", re.ASCII)
# <account>.dkr.ecr[-fips].<region>.<suffix>/<repository>[:<tag>][@sha256:<digest>] (ECR's own rules)
IMAGE_URI = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]{2,}(?:-[a-z]+)+-[0-9]{1,2})\."
    r"(?:amazonaws\.com(?:\.cn)?|[a-z0-9-]+(?:\.[a-z0-9-]+)+)/"
    r"(?P<repository>(?=.{2,256}(?::|@|$))(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?",
    re.ASCII,
)
URI_FORM = "<account>.dkr.ecr.<region>.<suffix>/<repository>:<tag> or @sha256:<64 hex>"
# The fix ends each reason; with a URI of at most LABEL characters, some of ECR's own words still fit.
FIX_PLATFORM = " Fix: build with --platform linux/amd64, or use BaseImage.from_asset (builds for it)."
FIX_MISSING = " Fix: push it first, or correct the tag or digest in the BaseImage."
FIX_ACCESS = (
    " Fix: allow it to this function's role in the repository's policy (another account's), or opt out"
    " with check_base_image=False."
)
LABEL = 80


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: crhelper dispatches, and answers SUCCESS, or FAILED with str(error)."""
    helper(event, context)


class CheckFailed(RuntimeError):
    """An image fails the check (or cannot be read); the message is the whole reason."""


def fit(head: str, detail: str, tail: str = "") -> str:
    """head + detail + tail within MAX_REASON, cutting the middle of ``detail`` (crhelper would keep only
    the end, losing the image's name)."""
    room = MAX_REASON - len(head) - len(tail)
    if len(detail) > room:
        keep = max(room - 3, 0)
        detail = detail[: keep - keep // 3] + "..." + detail[len(detail) - keep // 3 :] if keep else "..."
    return (head + detail + tail)[:MAX_REASON]


def _fail(image: Image, detail: str, fix: str = "", *, verb: str = ":") -> CheckFailed:
    """The reason for one image: the URI (shortened), what is wrong, and the fix at the end."""
    return CheckFailed(fit(f"Base image {label(image.uri)}{verb} ", detail, fix))


def label(uri: str) -> str:
    """The URI, its middle cut when long: the account and region at the start, repository:tag at the end."""
    return uri if len(uri) <= LABEL else uri[:30] + "..." + uri[33 - LABEL :]


class Image(NamedTuple):
    """One ECR image reference; a digest wins over a tag (as in Docker); neither means ``latest``.

    (A NamedTuple, not a dataclass: tests and tools load this file by path, outside ``sys.modules``.)
    """

    uri: str
    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, uri: str) -> Image | None:
        match = IMAGE_URI.fullmatch(uri)
        if not match:
            return None
        return cls(uri, match["account"], match["region"], match["repository"], match["tag"], match["digest"])

    def image_id(self) -> dict[str, str]:
        return {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag or "latest"}

    def ref(self) -> str:
        return f"digest {self.digest}" if self.digest else f"tag {self.tag or 'latest'!r}"


def parse(props: Any) -> dict[str, Image]:
    """ResourceProperties' images by Key, validated up front: bad input fails at once, naming it."""
    if not isinstance(props, dict):
        raise ValueError(f"ResourceProperties must be an object, got {show(props)}")
    unknown = sorted(set(props) - PROPERTIES)
    if unknown:
        raise ValueError(f"Unknown property {show(unknown[0])}: expected Images (a list of Key, ImageUri)")
    listed = props.get("Images")
    if not isinstance(listed, list):
        raise ValueError(f"Images must be a list of {{Key, ImageUri}}, got {show(listed)}")
    images: dict[str, Image] = {}
    for n, item in enumerate(listed):
        if not isinstance(item, dict):
            raise ValueError(f"Images[{n}] must be an object {{Key, ImageUri}}, got {show(item)}")
        unknown = sorted(set(item) - FIELDS)
        if unknown:
            raise ValueError(f"Images[{n}] has an unknown field {show(unknown[0])}: expected Key, ImageUri")
        key, uri = item.get("Key"), item.get("ImageUri")
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise ValueError(f"Images[{n}].Key {show(key)} is invalid: expected 8-40 letters or digits")
        if key in images:
            raise ValueError(f"Images[{n}].Key {show(key)} is listed twice: keys must be unique")
        image = Image.parse(uri) if isinstance(uri, str) else None
        if image is None:
            raise ValueError(
                fit(f"Images[{n}].ImageUri ", show(uri), f" is not an ECR image URI ({URI_FORM})")
            )
        images[key] = image
    return images


def _old_uris(props: Any) -> dict[str, str]:
    """Key -> ImageUri of already-accepted (old) properties: lenient, never fails."""
    listed = props.get("Images") if isinstance(props, dict) else None
    pairs = (item for item in listed if isinstance(item, dict)) if isinstance(listed, list) else ()
    return {str(item.get("Key")): str(item.get("ImageUri")) for item in pairs}


def _check_size(event: dict[str, Any], images: dict[str, Image]) -> None:
    """Refuse, before any call, an answer that CloudFormation would reject as too large (4,096 bytes)."""
    body = {
        "Status": "SUCCESS",
        "PhysicalResourceId": PHYSICAL_ID,
        "StackId": event.get("StackId", ""),
        "RequestId": event.get("RequestId", ""),
        "LogicalResourceId": event.get("LogicalResourceId", ""),
        "Reason": "",
        "Data": {f"Digest{key}": "sha256:" + "0" * 64 for key in images},
        "NoEcho": False,
    }
    size = len(json.dumps(body))
    if size > MAX_RESPONSE:
        raise ValueError(
            f"{len(images)} images answer {size} bytes, past CloudFormation's {MAX_RESPONSE}-byte limit on a"
            " custom resource's response: list fewer images per resource, or shorter keys"
        )


class Registry:
    """ECR reads of one invocation, sharing one time budget."""

    def __init__(self, context: Any) -> None:
        self.deadline = Deadline(context, MAX_SECONDS)

    def _in_time(self, image: Image, doing: str) -> None:
        if not self.deadline.fits(0):
            raise _fail(image, f"ran out of time {doing}", " Fix: deploy again.")

    def _call(self, image: Image, operation: str, **params: Any) -> dict[str, Any]:
        self._in_time(image, f"before ECR's {operation}")
        client = ecr(image.region)
        try:
            return dict(getattr(client, xform_name(operation))(**params))
        except ClientError as error:
            raise _failure(image, operation, error) from error

    def manifest(self, image: Image, image_id: dict[str, str], what: str) -> tuple[str, dict[str, Any]]:
        """(digest, manifest) of one reference (``what``, for a reason), by BatchGetImage."""
        answer = self._call(
            image,
            "BatchGetImage",
            registryId=image.account,
            repositoryName=image.repository,
            imageIds=[image_id],
            acceptedMediaTypes=MEDIA_TYPES,
        )
        for failure in answer.get("failures") or []:
            code, why = failure.get("failureCode", ""), failure.get("failureReason", "")
            if code == "ImageNotFound":
                raise _fail(image, f"{what} not found", FIX_MISSING)
            raise _fail(image, f"ECR's BatchGetImage failed for {what}: {code}: {why}")
        images = answer.get("images") or []
        if not images:
            raise _fail(image, "ECR's BatchGetImage answered no image")
        found = images[0]
        manifest = json.loads(found["imageManifest"])
        media_type = found.get("imageManifestMediaType") or manifest.get("mediaType", "")
        if "manifests" in manifest:
            media_type = media_type if media_type in INDEXES else OCI_INDEX  # an OCI index may omit it
        manifest["mediaType"] = media_type
        return str(found["imageId"]["imageDigest"]), manifest

    def config(self, image: Image, digest: str) -> dict[str, Any]:
        """The config blob of a manifest, by GetDownloadUrlForLayer and an HTTPS GET of its URL."""
        answer = self._call(
            image,
            "GetDownloadUrlForLayer",
            registryId=image.account,
            repositoryName=image.repository,
            layerDigest=digest,
        )
        self._in_time(image, "before downloading its config")
        timeout = max(1.0, min(HTTP_TIMEOUT_SECONDS, self.deadline.at - custom_resource.clock()))
        url = str(answer.get("downloadUrl", ""))
        if not url.startswith("https://"):
            raise _fail(image, f"ECR answered no HTTPS URL: {show(url)}")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                blob = response.read(MAX_CONFIG_BYTES + 1)
        except (urllib.error.URLError, OSError) as error:
            raise _fail(image, f"could not download its config {digest}: {error}") from error
        if len(blob) > MAX_CONFIG_BYTES:
            raise _fail(image, f"its config is over {MAX_CONFIG_BYTES} bytes")
        try:
            config = json.loads(blob)
        except ValueError as error:
            raise _fail(image, f"its config is not JSON: {error}") from error
        return config if isinstance(config, dict) else {}


def _failure(image: Image, operation: str, error: ClientError) -> CheckFailed:
    """A CheckFailed for an ECR error: a missing image or repository, a refused read, or ECR's own words."""
    code, message = error_code(error), str(error.response.get("Error", {}).get("Message", ""))
    if code == "AccessDeniedException":
        action = f"ecr:{operation}"
        return _fail(image, f"({message})", FIX_ACCESS, verb=f": {action} was refused")
    missing = {
        "RepositoryNotFoundException": f"repository {image.repository}",
        "ImageNotFoundException": image.ref(),
        "LayersNotFoundException": "its config blob",
    }
    if code in missing:
        detail = f"{missing[code]} not found in registry {image.account} ({code}: {message})"
        return _fail(image, detail, FIX_MISSING)
    return _fail(image, f"ECR's {operation} failed: {code}: {message}")


def _platform(described: dict[str, Any]) -> str:
    """os/architecture[/variant] of an index entry's ``platform`` or of a config."""
    os_, arch, variant = (str(described.get(k) or "") for k in ("os", "architecture", "variant"))
    return f"{os_ or '?'}/{arch or '?'}" + (f"/{variant}" if variant else "")


def _amd64_entry(image: Image, index: dict[str, Any]) -> str:
    """The digest of an index's linux/amd64 entry; CheckFailed naming the platforms it has, if none."""
    entries = [entry for entry in index.get("manifests") or [] if isinstance(entry, dict)]
    for entry in entries:
        platform = entry.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return str(entry["digest"])
    has = [_platform(entry.get("platform") or {}) for entry in entries]
    has = list(dict.fromkeys(p for p in has if p != "unknown/unknown"))  # attestations: not platforms
    platforms = ", ".join(has) or "no platform"
    raise _fail(
        image, f"an index without linux/amd64 (Studio's); it has {platforms}.", FIX_PLATFORM, verb=" is"
    )


def check(registry: Registry, image: Image) -> str:
    """Read an image whole (manifest, amd64 entry, config) and return the digest of its amd64 manifest."""
    digest, manifest = registry.manifest(image, image.image_id(), image.ref())
    if manifest["mediaType"] in INDEXES:
        digest = _amd64_entry(image, manifest)
        digest, manifest = registry.manifest(image, {"imageDigest": digest}, f"its amd64 entry {digest}")
    if manifest["mediaType"] not in (DOCKER_MANIFEST, OCI_MANIFEST) or "digest" not in (
        manifest.get("config") or {}
    ):
        raise _fail(image, f"not an image manifest: {show(manifest['mediaType'])}")
    config = registry.config(image, str(manifest["config"]["digest"]))
    if config.get("os") != "linux" or config.get("architecture") != "amd64":
        found = _platform(config)
        raise _fail(image, f"{found}, but Studio runs linux/amd64 images only.", FIX_PLATFORM, verb=" is")
    logger.info("Base image %s: linux/amd64, %s", image.uri, digest)
    return digest


def resolve(registry: Registry, image: Image) -> str:
    """The digest ``check`` would answer for an image already checked: its manifest only, no config."""
    digest, manifest = registry.manifest(image, image.image_id(), image.ref())
    if manifest["mediaType"] in INDEXES:
        digest = _amd64_entry(image, manifest)
    logger.info("Base image %s unchanged: %s", image.uri, digest)
    return digest


def _answer(event: dict[str, Any], context: Any, images: dict[str, Image], recheck: set[str] | None) -> str:
    """Check the images (all, or those whose key is in ``recheck``; the others are only resolved), each
    URI once, and put every image's digest in the answer's Data."""
    _check_size(event, images)
    registry = Registry(context)
    digests: dict[str, str] = {}  # by URI
    data: dict[str, str] = {}
    for key, image in sorted(images.items(), key=lambda item: recheck is not None and item[0] not in recheck):
        full = recheck is None or key in recheck
        if image.uri not in digests:
            try:
                digests[image.uri] = (check if full else resolve)(registry, image)
            except CheckFailed:
                raise
            except Exception as error:  # a network error, a malformed answer: still name the image
                raise _fail(image, f"could not be read: {type(error).__name__}: {error}") from error
        data[f"Digest{key}"] = digests[image.uri]
    helper.Data.update(dict(sorted(data.items())))  # only once all passed: a FAILED answer carries none
    return PHYSICAL_ID


@helper.create
def create(event: dict[str, Any], context: Any) -> str:
    return _answer(event, context, parse(event["ResourceProperties"]), None)


@helper.update
def update(event: dict[str, Any], context: Any) -> str:
    """Check only the images whose ImageUri is new or changed; resolve the others' digests again
    (CloudFormation keeps only the attributes an Update answers)."""
    old = _old_uris(event.get("OldResourceProperties"))
    new = parse(event["ResourceProperties"])
    return _answer(event, context, new, {key for key, image in new.items() if old.get(key) != image.uri})


@helper.delete
def delete(event: dict[str, Any], context: Any) -> None:
    """Nothing to undo: the check only read."""
