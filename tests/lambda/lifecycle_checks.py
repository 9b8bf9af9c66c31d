"""What every handler's life-cycle test checks at its end: each answer reached its own pre-signed URL,
and none of those URLs (or their signature) reached the logs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def logged(caplog: Any) -> str:
    """Everything the records carry: formatted text, raw messages, arguments and tracebacks."""
    parts = [caplog.text]
    for record in caplog.records:
        parts += [str(record.msg), repr(record.args), record.exc_text or ""]
    return "\n".join(parts)


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def assert_answered_without_leaks(
    sent: list[dict[str, Any]], endpoint: Any, caplog: Any, handler_logger: str, crhelper_sleeps: list[float]
) -> None:
    assert [path for path, _ in endpoint.received] == [path_and_query(e["ResponseURL"]) for e in sent]
    text = logged(caplog)
    assert "CloudFormation returned status code" in text  # crhelper's INFO lines were captured ...
    assert any(r.name == handler_logger for r in caplog.records)  # ... and the function's own
    for event in sent:
        assert event["ResponseURL"] not in text
        assert path_and_query(event["ResponseURL"]) not in text
    assert endpoint.signature not in text
    assert "X-Amz-Signature" not in text
    assert crhelper_sleeps == []  # no Delete waited (crhelper's default is 120 s each)
