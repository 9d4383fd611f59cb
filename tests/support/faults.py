"""Faults of the processing step, injected through process_pending's / poll_once's `route=` parameter."""

from __future__ import annotations

from collections.abc import Callable

from mailbot.intake.route import route as real_route


class SimulatedKill(BaseException):
    """What the process sees of an OOM kill / watchdog kill -9 in the middle of one message."""


def route_raising_on(marker: str, make_error: Callable[[], BaseException]) -> Callable[..., None]:
    """The real route, except that a message whose subject contains `marker` raises `make_error()`."""

    def route(s, app, row, mail, now, *rest):  # type: ignore[no-untyped-def]
        if marker in mail.subject:
            raise make_error()
        return real_route(s, app, row, mail, now, *rest)

    return route


def route_killing_on(marker: str) -> Callable[..., None]:
    """Processing a message whose subject contains `marker` "kills the process" (SimulatedKill)."""
    return route_raising_on(marker, SimulatedKill)
