"""The set-aside parse against the plain one: parse_message with and without its base64 runs set aside."""

from __future__ import annotations

import dataclasses

from mailbot.intake.parse import ParseError, _set_aside, parse_message


def parsed_as_dict(raw: bytes, spool_min_run: int) -> dict | str:
    """parse_message's result as a dict (or the ParseError as text), for comparing two parses."""
    try:
        return dataclasses.asdict(parse_message(raw, spool_min_run=spool_min_run))
    except ParseError as exc:
        return f"ParseError: {exc}"


def both_ways(raw: bytes) -> tuple[dict | str, dict | str, bool]:
    """(plain parse, parse with every base64 run of >= 64 characters set aside, whether any was)."""
    plain = parsed_as_dict(raw, 10**12)
    used = _set_aside(raw, 64)[1] is not None
    return plain, parsed_as_dict(raw, 64), used
