"""Throttling is botocore's job: a real client built with the module's Config retries it.

A tiny local server speaks SageMaker's awsJson1_1 protocol (POST, X-Amz-Target) and answers each
operation's first request with a 400 ThrottlingException, then with success.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3

ANSWERS = {
    "SageMaker.ListAliases": {"SageMakerImageVersionAliases": ["latest", "foreign"]},
    "SageMaker.UpdateImageVersion": {
        "ImageVersionArn": "arn:aws:sagemaker:us-east-1:123456789012:image-version/my-image/3"
    },
}


class _SageMakerJson(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection, so handle_request() never blocks on a client

    def do_POST(self) -> None:
        server: Any = self.server
        target = self.headers.get("X-Amz-Target", "")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        first_time = target not in {seen for seen, _ in server.seen}
        server.seen.append((target, body))
        if target not in ANSWERS:
            status, payload = 400, {"__type": "ValidationException", "message": f"unexpected {target}"}
        elif first_time:
            status, payload = 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        else:
            status, payload = 200, ANSWERS[target]
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", f"req-{len(server.seen)}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(server: Any, max_requests: int, seconds: float, stop: threading.Event) -> None:
    """Serve until max_requests were seen, the time is up or the test is done; then stop by itself."""
    deadline = time.monotonic() + seconds
    try:
        while len(server.seen) < max_requests and time.monotonic() < deadline and not stop.is_set():
            server.handle_request()
    finally:
        server.server_close()


def test_throttling_is_retried_by_botocore_with_the_modules_config(index, shared, cfn, clock, monkeypatch):
    server: Any = HTTPServer(("127.0.0.1", 0), _SageMakerJson)
    server.timeout = 0.1
    server.seen = []
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(server, 4, 15.0, stop), daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = boto3.client(
        "sagemaker",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=shared.BOTO_CONFIG,
    )
    monkeypatch.setattr(shared, "SAGEMAKER", client)
    event = cfn.event("Delete", cfn.props(3, ["latest"]), physical_id="my-image/3/aliases")

    try:
        body = cfn.send(event)
    finally:
        stop.set()
        thread.join(timeout=5)

    assert body == cfn.expected(event, "SUCCESS", "my-image/3/aliases")
    assert server.seen == [
        ("SageMaker.ListAliases", {"ImageName": "my-image", "Version": 3, "MaxResults": 100}),
        ("SageMaker.ListAliases", {"ImageName": "my-image", "Version": 3, "MaxResults": 100}),
        (
            "SageMaker.UpdateImageVersion",
            {"ImageName": "my-image", "Version": 3, "AliasesToDelete": ["latest"]},
        ),
        (
            "SageMaker.UpdateImageVersion",
            {"ImageName": "my-image", "Version": 3, "AliasesToDelete": ["latest"]},
        ),
    ]
    assert clock.sleeps == []  # the retries were botocore's, not the function's ResourceInUse loop
    assert {f"sagemaker:{target.split('.')[1]}" for target, _ in server.seen} <= set(index.SAGEMAKER_ACTIONS)
