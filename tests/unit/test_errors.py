"""Every exception class mailbot defines derives from the one root, MailbotError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import mailbot
from mailbot.domain.errors import MailbotError

SKIP = ("mailbot.store.migrations",)  # Alembic's env.py runs only inside Alembic


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(mailbot.__path__, "mailbot.")
                  if not m.name.startswith(SKIP))


def test_every_mailbot_exception_has_the_one_root() -> None:
    strays = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException) and not issubclass(cls, MailbotError):
                strays.append(f"{name}.{cls.__name__}")
    assert strays == []


def test_the_walk_finds_the_layers() -> None:
    """The test above really looks at the package (a broken walk would pass it vacuously)."""
    names = _modules()
    for expected in ("mailbot.domain.workflow", "mailbot.cases.decisions", "mailbot.intake.parse",
                     "mailbot.outgoing.smtp", "mailbot.cli"):
        assert expected in names
