"""The shared module (lambda/shared/custom_resource.py) on its own: what both handlers rely on.

The ``shared`` fixture is the one module object both handlers imported; its clock and sleep are the
conftest's FakeClock for every test here, as for the handlers' tests.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def client_error(code: str, operation: str = "UpdateDomain") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "Resource was modified concurrently"}}, operation)


class Flaky:
    """A callable that raises the given errors first, then returns its params."""

    def __init__(self, *errors: ClientError) -> None:
        self.errors = list(errors)
        self.calls: list[dict[str, Any]] = []
        self.__name__ = "update_thing"

    def __call__(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        if self.errors:
            raise self.errors.pop(0)
        return {"got": params}


def test_both_handlers_share_the_module_but_not_their_crhelper(handlers: dict[str, ModuleType], shared):
    aliases, studio = handlers["image_version_aliases"], handlers["studio_custom_images"]
    # The Studio handler's calls live in its own modules beside index.py, all on the one shared module.
    entries, write, ledger = (
        sys.modules[name] for name in ("studio_entries", "studio_write", "studio_ledger")
    )
    assert aliases.sagemaker is entries.sagemaker is shared.sagemaker
    assert aliases.retry_in_use is write.retry_in_use is shared.retry_in_use
    assert ledger.ssm is shared.ssm
    assert aliases.helper is not studio.helper
    assert aliases.helper._create_func is aliases.create and studio.helper._create_func is studio.create


def test_cfn_resource_is_quiet_fast_and_pollless(shared, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    first, second = shared.cfn_resource(), shared.cfn_resource()
    assert first is not second  # one per handler: each registers its own create/update/delete
    assert first._log_level == "INFO"  # at DEBUG, crhelper logs the event and its ResponseURL
    assert first._sleep_on_delete == 0  # crhelper's default sleeps 120 s per Delete
    assert first._json_logging is False and first._boto_level == "CRITICAL"
    for polling_client in ("_lambda_client", "_events_client", "_logs_client"):
        assert not hasattr(first, polling_client)
    assert "AWS_SAM_LOCAL" not in os.environ


def test_cfn_resource_puts_a_set_aws_sam_local_back(shared, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_SAM_LOCAL", "set-by-sam")
    shared.cfn_resource()
    assert os.environ["AWS_SAM_LOCAL"] == "set-by-sam"


def test_sagemaker_client_is_made_once_with_standard_retries(shared, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(shared, "SAGEMAKER", None)
    client = shared.sagemaker()
    assert client is shared.sagemaker() is shared.SAGEMAKER
    assert client.meta.service_model.service_name == "sagemaker"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 8}


def test_deadline_is_the_cap_or_the_lambda_time_left_minus_the_margin(shared, clock):
    assert shared.SAFETY_MARGIN_SECONDS == 30 and shared.MAX_RETRY_SECONDS == 180
    assert shared.Deadline(Context(900_000)).at == clock.now + 180
    assert shared.Deadline(Context(100_000)).at == clock.now + 70
    assert shared.Deadline(Context(900_000), 600).at == clock.now + 600
    deadline = shared.Deadline(Context(40_000))  # 10 s
    assert deadline.fits(10) and not deadline.fits(10.5)
    assert deadline.wait(4) and clock.sleeps == [4]
    assert not deadline.wait(7) and clock.sleeps == [4]  # would overrun: no sleep at all
    assert deadline.elapsed() == 4


def test_retry_returns_the_first_success_and_passes_params(shared, clock):
    call = Flaky()
    deadline = shared.Deadline(Context(900_000))
    assert shared.retry_in_use(call, deadline=deadline, what="Thing 'x'", Name="x", N=1) == {
        "got": {"Name": "x", "N": 1}
    }
    assert call.calls == [{"Name": "x", "N": 1}] and clock.sleeps == []


def test_retry_raises_other_errors_at_once(shared, clock):
    call = Flaky(client_error("ValidationException"))
    with pytest.raises(ClientError, match="ValidationException"):
        shared.retry_in_use(call, deadline=shared.Deadline(Context(900_000)), what="Thing 'x'")
    assert len(call.calls) == 1 and clock.sleeps == []


def test_retry_backs_off_doubling_with_jitter(shared, clock, caplog):
    caplog.set_level(logging.INFO, logger="custom_resource")
    call = Flaky(*[client_error("ResourceInUse")] * 6)
    assert shared.retry_in_use(call, deadline=shared.Deadline(Context(900_000)), what="Thing 'x'") == {
        "got": {}
    }
    assert len(call.calls) == 7
    for n, slept in enumerate(clock.sleeps):  # 1, 2, 4, 8, 16, then the 30 s cap; each times 0.5-1
        assert min(30.0, 2.0**n) * 0.5 <= slept <= min(30.0, 2.0**n)
    assert "update_thing: ResourceInUse, retry 1 in" in caplog.text


def test_retry_delays_are_capped(shared, clock, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(shared.random, "uniform", lambda low, high: high)
    call = Flaky(*[client_error("ResourceInUse")] * 8)
    shared.retry_in_use(call, deadline=shared.Deadline(Context(900_000), 1000), what="Thing 'x'")
    assert clock.sleeps == [1, 2, 4, 8, 16, 30, 30, 30]


def test_retry_gives_up_after_max_attempts_naming_what(shared, clock):
    call = Flaky(*[client_error("ResourceInUse")] * 20)
    with pytest.raises(RuntimeError) as raised:
        shared.retry_in_use(call, deadline=shared.Deadline(Context(900_000), 10_000), what="Thing 'x'")
    assert str(raised.value).startswith(f"Thing 'x' still busy after {shared.MAX_ATTEMPTS} attempts: ")
    assert "ResourceInUse" in str(raised.value)
    assert len(call.calls) == shared.MAX_ATTEMPTS == 10 and len(clock.sleeps) == 9


def test_retry_gives_up_rather_than_sleep_past_the_deadline(shared, clock, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(shared.random, "uniform", lambda low, high: high)
    call = Flaky(*[client_error("ResourceInUse")] * 20)
    with pytest.raises(RuntimeError, match="still busy after 4 attempts"):
        shared.retry_in_use(call, deadline=shared.Deadline(Context(40_000)), what="Thing 'x'")
    assert clock.sleeps == [1, 2, 4]  # an 8 s sleep would end after 10 s


def test_show_cuts_long_values_and_error_code_reads_the_code(shared):
    assert shared.show("abc") == "'abc'"
    assert shared.show(None) == "None"
    long = shared.show("x" * 100)
    assert len(long) == 60 and long.startswith("'xxx") and long.endswith("...")
    assert shared.show("y" * 58) == "'" + "y" * 58 + "'"  # 60 characters: kept whole
    assert shared.error_code(client_error("ResourceInUse")) == "ResourceInUse"
    assert shared.error_code(ClientError({}, "Op")) == ""


def test_physical_ids_join_parts_and_parse_back_only_our_form(shared, caplog):
    assert (
        shared.make_physical_id("d-abc", "space", "s1", "KernelGateway", "img")
        == "d-abc/space/s1/KernelGateway/img"
    )
    for bad in ("", "a/b"):
        with pytest.raises(ValueError, match="free of '/'"):
            shared.make_physical_id("ok", bad)
    pattern = re.compile(r"(?P<image>[a-z-]+)/(?P<version>[0-9]+)/aliases")
    assert shared.parse_physical_id({"PhysicalResourceId": "my-image/3/aliases"}, pattern)["version"] == "3"
    caplog.set_level(logging.INFO, logger="custom_resource")
    assert shared.parse_physical_id({"PhysicalResourceId": "stack_Logical_ABCDEFGH"}, pattern) is None
    assert shared.parse_physical_id({"PhysicalResourceId": "my-image/3/aliases/x"}, pattern) is None
    assert shared.parse_physical_id({}, pattern) is None
    assert "not ours" in caplog.text
