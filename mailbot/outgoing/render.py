"""The only Jinja2 environment: the office's template folder first, then the templates inside the package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = ("ack", "incomplete", "review_request", "credentials", "rejected", "reminder_documents",
             "expired", "admin_digest", "admin_confirmation", "admin_command_error", "delivery_failure",
             "too_large", "auto_reply_limit", "quarantine_alert", "admin_notice", "ops_alert")
REPORT_TEMPLATE = "report/report.html.j2"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Renderer:
    """Renders `<name>.subject.txt`, `<name>.txt` and `<name>.html` with one shared context.

    `templates_dir` is the office's override folder (`[storage] templates_dir`): a file there replaces
    the package's file of the same name, every other file comes from the package. Jinja2 is imported
    and the environment built on the first render, so a command that sends no mail never pays for it."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.templates_dir = templates_dir
        self._env: Environment | None = None
        self._page_env: Environment | None = None

    @property
    def env(self) -> Environment:
        if self._env is None:
            from jinja2 import (
                ChoiceLoader,
                Environment,
                FileSystemLoader,
                PackageLoader,
                StrictUndefined,
                select_autoescape,
            )

            loaders: list[Any] = [PackageLoader("mailbot", "templates")]
            if self.templates_dir is not None:
                loaders.insert(0, FileSystemLoader(str(self.templates_dir)))
            self._env = Environment(
                loader=ChoiceLoader(loaders),
                # HTML mail and the report page (.html.j2) are escaped; text parts and subjects are not.
                autoescape=select_autoescape(enabled_extensions=("html", "j2"), default_for_string=False,
                                             default=False),
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
            )
            self._env.filters["wib"] = _format_local
        return self._env

    def render(self, name: str, context: dict[str, Any]) -> Rendered:
        subject = self.env.get_template(f"{name}.subject.txt").render(context)
        text = self.env.get_template(f"{name}.txt").render(context)
        html = self.env.get_template(f"{name}.html").render(context)
        return Rendered(" ".join(subject.split()), text, html)

    def render_page(self, path: str, context: dict[str, Any]) -> str:
        """One whole document from a template path such as `report/report.html.j2` (same loaders,
        filters and escaping as the mail; a page does not keep its template's final newline)."""
        if self._page_env is None:
            self._page_env = self.env.overlay(keep_trailing_newline=False)
        return self._page_env.get_template(path).render(context)

    def missing(self) -> list[str]:
        """Template files found neither in the office's folder nor in the package (`mailbot check`)."""
        have = set(self.env.list_templates())
        return [f"{n}.{ext}" for n in TEMPLATES for ext in ("subject.txt", "txt", "html")
                if f"{n}.{ext}" not in have] + ([] if REPORT_TEMPLATE in have else [REPORT_TEMPLATE])

    def overridden(self) -> list[str]:
        """The office's own template files (those that replace the package's)."""
        if self.templates_dir is None or not self.templates_dir.is_dir():
            return []
        return sorted(p.relative_to(self.templates_dir).as_posix() for p in self.templates_dir.rglob("*")
                      if p.is_file())


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
