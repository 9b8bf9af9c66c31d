"""Cold start: importing the handler builds no AWS client; the first call builds the SageMaker one."""

from __future__ import annotations

import importlib.util
import os
import re
from typing import Any

import pytest


def fresh_import(index: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import the handler file again, in the dummy AWS environment the ``index`` fixture set up."""
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    spec = importlib.util.spec_from_file_location("image_version_aliases_cold", index.__file__)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_import_builds_no_client_and_leaves_the_environment_alone(
    index: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = fresh_import(index, monkeypatch)
    assert module.SAGEMAKER is None
    for polling_client in ("_lambda_client", "_events_client", "_logs_client"):
        assert not hasattr(module.helper, polling_client)
    assert "AWS_SAM_LOCAL" not in os.environ
    client = module.sagemaker()
    assert client is module.sagemaker()  # made once, then reused
    assert client.meta.service_model.service_name == "sagemaker"


def test_a_client_that_cannot_be_built_is_a_failed_answer(
    cfn, index, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built at import, this error would be an init failure CloudFormation waits an hour to hear of."""

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("no endpoint for this partition")

    monkeypatch.setattr(index, "SAGEMAKER", None)
    monkeypatch.setattr(index.boto3, "client", broken)
    event = cfn.event("Create", cfn.props(1, ["latest"]))
    body = cfn.send(event)
    assert body["Status"] == "FAILED"
    assert body["Reason"] == "no endpoint for this partition"
    assert re.fullmatch(r"images-stack_LatestAliases_[A-Z0-9]{8}", body["PhysicalResourceId"])
