"""The one exception root of mailbot: every error it raises on purpose is a MailbotError.

Each layer defines its own subclasses next to the code that raises them (ConfigError in config.py,
MailboxError in intake/mailbox.py, DecisionRefused in cases/decisions.py, …); catching MailbotError
catches every one of them and nothing else."""

from __future__ import annotations


class MailbotError(Exception):
    """Root of every error mailbot raises on purpose (not bugs, not library errors passed through)."""
