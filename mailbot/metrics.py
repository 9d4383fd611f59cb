"""The only prometheus-client user: mailbot's metrics, served in the Prometheus text format.

Off unless `[metrics] listen` is set (the daemon then calls `serve`): until then every `observe_*` and
`count_*` is a no-op and prometheus-client is not even imported, so CLI commands pay nothing for it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from mailbot.domain.results import PollResult

log = logging.getLogger(__name__)

_lock = threading.Lock()
_metrics: dict[str, Any] | None = None  # name -> metric, once enabled


def enable() -> dict[str, Any]:
    """Create the metrics in a registry of their own (idempotent) and return them by name."""
    global _metrics
    with _lock:
        if _metrics is None:
            from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

            registry = CollectorRegistry()
            _metrics = {
                "registry": registry,
                "messages": Counter("mailbot_messages", "Inbound messages by outcome", ["outcome"],
                                    registry=registry),
                "mails": Counter("mailbot_mails", "Outgoing mails by SMTP result (sent, retried, failed)",
                                 ["result"], registry=registry),
                "cases": Gauge("mailbot_cases", "Cases by state", ["state"], registry=registry),
                "poll": Histogram("mailbot_poll_duration_seconds", "Duration of one IMAP intake pass",
                                  registry=registry, buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)),
                "ocr": Histogram("mailbot_ocr_seconds", "Seconds one OCR of a document took",
                                 registry=registry, buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)),
                "errors": Counter("mailbot_poll_errors", "Poll passes that ended with an error",
                                  registry=registry),
            }
        return _metrics


def enabled() -> bool:
    return _metrics is not None


def serve(listen: str) -> Any:
    """Serve /metrics on `listen` ("HOST:PORT", validated by the config) in a daemon thread; returns
    the HTTP server (call .shutdown() to stop it)."""
    from prometheus_client import start_http_server

    m = enable()
    host, _, port = listen.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host.strip("[]"), registry=m["registry"])
    log.info("metrics: serving Prometheus text format on http://%s/metrics", listen)
    return server


def observe_ocr_seconds(seconds: float) -> None:
    """The OCR pass calls this once per document it read."""
    if _metrics is not None:
        _metrics["ocr"].observe(seconds)


def observe_poll(seconds: float, result: PollResult) -> None:
    """One intake pass: its duration and what became of each message."""
    if _metrics is None:
        return
    _metrics["poll"].observe(seconds)
    for outcome in ("fetched", "processed", "ignored", "duplicates", "quarantined"):
        n = getattr(result, outcome)
        if n:
            _metrics["messages"].labels(outcome=outcome).inc(n)
    if result.errors:
        _metrics["errors"].inc()


def count_mails(sent: int, retried: int, failed: int) -> None:
    if _metrics is None:
        return
    for label, n in (("sent", sent), ("retried", retried), ("failed", failed)):
        if n:
            _metrics["mails"].labels(result=label).inc(n)


def set_cases(by_state: Mapping[str, int]) -> None:
    if _metrics is None:
        return
    for state, n in by_state.items():
        _metrics["cases"].labels(state=state).set(n)
