"""A parsed inbound mail as plain values: what every later step reads instead of MIME."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Attachment:
    """One attached file, decoded."""

    filename: str
    content_type: str
    payload: bytes
    content_id: str | None
    inline: bool


class DerivedText(str):
    """The text of a mail that has no text/plain part, rendered from its HTML part (a str that says so)."""

    __slots__ = ()


@dataclass(frozen=True)
class ParsedMail:
    """Everything the intake needs from one message, decoded into plain Python values."""

    message_id: str | None
    from_addr: str
    from_name: str
    to: list[str]
    cc: list[str]
    reply_to: list[str]
    return_path: str | None
    subject: str
    date: datetime | None
    in_reply_to: list[str]
    references: list[str]
    text: str
    html: str | None
    attachments: list[Attachment]
    headers: dict[str, list[str]]
    content_type: str
    defects: list[str]

    @property
    def text_is_derived(self) -> bool:
        """True when `text` was rendered from the HTML part because the mail has no text/plain part."""
        return isinstance(self.text, DerivedText)

    def header(self, name: str) -> str | None:
        """First decoded value of header `name` (case-insensitive), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None
