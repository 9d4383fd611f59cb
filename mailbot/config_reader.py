"""Typed reading of the config's TOML tables: every problem is a ConfigError of one line naming the key and the fix."""

from __future__ import annotations

import dataclasses
import difflib
import re
from pathlib import Path
from typing import Any

from mailbot.domain.errors import MailbotError

SECURITY_MODES = ("ssl", "starttls", "none")
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class ConfigError(MailbotError):
    """A configuration problem; str() is one line that names the key and the fix."""


ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def env_name(value: str | None, key: str) -> str | None:
    """A *_env key must hold the NAME of a variable; never echo it otherwise (it may be the secret)."""
    if value and not ENV_NAME_RE.match(value):
        raise ConfigError(f"{key}: must be the name of an environment variable (letters, digits, _), "
                          f"e.g. MAILBOT_IMAP_PASSWORD; the secret itself never goes in the file")
    return value


def mask_url(url: str) -> str:
    """A URL fit for an error message: the password of `scheme://user:password@host` replaced by ***."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", url)


class TableReader:
    """Reads typed keys from one TOML table and reports unknown keys."""

    def __init__(self, table: Any, section: str, base: Path = Path(".")) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"{section}: must be a table ([{section}])")
        self.base = base
        self.table = table
        self.section = section
        self.seen: set[str] = set()

    def get(self, key: str, kind: type, default: Any) -> Any:
        self.seen.add(key)
        if key not in self.table:
            return default
        value = self.table[key]
        name = f"{self.section}.{key}"
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        if kind is bool and not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        if kind is str and not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string in quotes, got {value!r}")
        if kind is tuple:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
            return tuple(value)
        return value

    def required(self, key: str, kind: type) -> Any:
        if key not in self.table:
            raise ConfigError(f"{self.section}.{key}: missing; add it to [{self.section}]")
        return self.get(key, kind, None)

    def finish(self) -> None:
        for key in self.table:
            if key not in self.seen:
                hint = difflib.get_close_matches(key, sorted(self.seen), n=1)
                more = f" (did you mean {hint[0]}?)" if hint else ""
                raise ConfigError(f"{self.section}.{key}: unknown key{more}")


def positive(value: int, name: str) -> int:
    """`value` if above zero; else a ConfigError naming the key."""
    if value <= 0:
        raise ConfigError(f"{name}: must be a positive number, got {value}")
    return value


def security_mode(value: str, name: str) -> str:
    """One of ssl, starttls, none (SPEC §7)."""
    if value not in SECURITY_MODES:
        raise ConfigError(f"{name}: unknown security mode {value!r}; use one of ssl, starttls, none")
    return value


def email_address(value: str, name: str) -> str:
    """A plain address (no display name), lower-cased."""
    if not EMAIL_RE.match(value):
        raise ConfigError(f"{name}: {value!r} is not an email address")
    return value.lower()


_NAMED_ADDRESS_RE = re.compile(r'^\s*(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]*)>\s*$')
_UNSAFE_NAME_RE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def named_address(value: str, name: str) -> tuple[str, str]:
    """A bare address or `"Name <addr>"` (RFC 5322 style): (display name or "", lower-cased address).
    The name may be quoted; control characters, line breaks and bidi overrides are refused (it goes
    into the From header)."""
    m = _NAMED_ADDRESS_RE.match(value)
    if m is None:
        if "<" in value or ">" in value:
            raise ConfigError(f"{name}: {value!r} must be an address or \"Name <address>\"")
        return "", email_address(value.strip(), name)
    display = m.group("name").strip()
    if len(display) >= 2 and display[0] == display[-1] == '"':
        display = display[1:-1].replace('\\"', '"').strip()
    if _UNSAFE_NAME_RE.search(display):
        raise ConfigError(f"{name}: the display name must not contain control characters or line breaks")
    return display, email_address(m.group("addr").strip(), name)


def ca_file_path(r: TableReader, section: str) -> str:
    """The table's `ca_file`, resolved against the config's folder, which must exist ("" when unset)."""
    value = r.get("ca_file", str, "")
    if not value:
        return ""
    path = resolve_path(r.base, value)
    if not path.is_file():
        raise ConfigError(f"{section}.ca_file: {path} does not exist; give the PEM file of the server's CA")
    return str(path)


def resolve_path(base: Path, value: str) -> Path:
    """A path from the config: `~` expanded, relative paths taken from the config file's folder."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def simple_table(cls: type, r: TableReader) -> Any:
    """Build a flat dataclass of int/str/bool fields from a table, with type checks."""
    defaults = cls()
    values = {}
    for name in (f.name for f in dataclasses.fields(cls)):
        default = getattr(defaults, name)
        values[name] = r.get(name, type(default), default)
        if isinstance(default, int) and not isinstance(default, bool) and values[name] < 0:
            raise ConfigError(f"{r.section}.{name}: must not be negative")
    r.finish()
    return cls(**values)
