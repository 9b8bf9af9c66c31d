"""Cold start: importing the handler builds no AWS client; the first call builds the SageMaker one."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from typing import Any

import pytest


def fresh_import(index: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import the handler file again, and its shared module with it, as a new Lambda process would.

    Runs in the dummy AWS environment the ``handlers`` fixture set up; the session's shared module is
    put back in sys.modules after the test.
    """
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.delitem(sys.modules, "custom_resource")
    spec = importlib.util.spec_from_file_location("image_version_aliases_cold", index.__file__)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_import_builds_no_client_and_leaves_the_environment_alone(
    index: Any, shared: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = fresh_import(index, monkeypatch)
    fresh_shared = sys.modules["custom_resource"]
    assert fresh_shared is not shared
    assert fresh_shared.SAGEMAKER is None
    for polling_client in ("_lambda_client", "_events_client", "_logs_client"):
        assert not hasattr(module.helper, polling_client)
    assert "AWS_SAM_LOCAL" not in os.environ
    client = module.sagemaker()
    assert client is module.sagemaker() is fresh_shared.SAGEMAKER  # made once, then reused
    assert client.meta.service_model.service_name == "sagemaker"


def test_a_client_that_cannot_be_built_is_a_failed_answer(
    cfn, shared, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built at import, this error would be an init failure CloudFormation waits an hour to hear of."""

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("no endpoint for this partition")

    monkeypatch.setattr(shared, "SAGEMAKER", None)
    monkeypatch.setattr(shared.boto3, "client", broken)
    event = cfn.event("Create", cfn.props(1, ["latest"]))
    body = cfn.send(event)
    assert body["Status"] == "FAILED"
    assert body["Reason"] == "no endpoint for this partition"
    assert re.fullmatch(r"images-stack_LatestAliases_[A-Z0-9]{8}", body["PhysicalResourceId"])
