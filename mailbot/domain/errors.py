"""The one exception root of mailbot: every error it raises on purpose is a MailbotError."""

# Each layer defines its own subclasses next to the code that raises them (ConfigError in config_reader.py,
# MailboxError in intake/mailbox.py, DecisionRefused in cases/records.py, ...); catching MailbotError catches
# every one of them and nothing else (tests/unit/test_errors.py checks that none is left out).

from __future__ import annotations


class MailbotError(Exception):
    """Root of every error mailbot raises on purpose (not bugs, not library errors passed through)."""


class NotReady(MailbotError):
    """The installation cannot serve this command as it is (a permission or ownership problem, a schema
    to migrate, a non-empty restore target): str() is one line naming the path and the fix; exit 2."""
