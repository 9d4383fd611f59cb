"""The only Jinja2 environment: subject, text and autoescaped HTML of each template."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = ("ack", "incomplete", "review_request", "credentials", "rejected", "reminder_documents",
             "expired", "admin_digest", "admin_confirmation", "admin_command_error", "delivery_failure",
             "too_large", "auto_reply_limit", "quarantine_alert")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Renderer:
    """Renders `<name>.subject.txt`, `<name>.txt` and `<name>.html` with one shared context."""

    def __init__(self, templates_dir: Path) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["wib"] = _format_local

    def render(self, name: str, context: dict[str, Any]) -> Rendered:
        subject = self.env.get_template(f"{name}.subject.txt").render(context)
        text = self.env.get_template(f"{name}.txt").render(context)
        html = self.env.get_template(f"{name}.html").render(context)
        return Rendered(" ".join(subject.split()), text, html)

    def missing(self) -> list[str]:
        """Template files that do not exist (checked by `mailbot check`)."""
        have = set(self.env.list_templates())
        return [f"{n}.{ext}" for n in TEMPLATES for ext in ("subject.txt", "txt", "html")
                if f"{n}.{ext}" not in have]


def _format_local(value: Any, tz: Any = None) -> str:
    """Format an aware datetime in the office time zone, e.g. '24-11-2026 09:15 WIB'."""
    if value is None:
        return "-"
    if tz is not None:
        value = value.astimezone(tz)
    label = value.tzname() or ""
    if label == "+07":
        label = "WIB"
    return value.strftime("%d-%m-%Y %H:%M ") + label
