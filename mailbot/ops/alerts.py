"""ops_alert mails to the admins: one when a problem starts, none while it lasts, one when it is over.

The problems are the checks of `ops.status` named in `status.ALERTS`; which of them are active lives in
the health table (rows `alert.<check>`), so a restart neither repeats an alert nor forgets a recovery."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from mailbot.app import App
from mailbot.cases.notify import base_context, queue_to_admins
from mailbot.ops.status import ALERTS, gather
from mailbot.outgoing.outbox import due_now
from mailbot.store import health
from mailbot.store.db import transaction
from mailbot.store.models import Health

log = logging.getLogger(__name__)


def run_alerts(app: App, now: datetime, status: dict[str, Any] | None = None) -> int:
    """Compare the checks with the alerts already sent; queue the start and end mails (one
    transaction). Returns how many mails were queued."""
    status = status if status is not None else gather(app, now)
    active = {r["check"]: r for r in status["reasons"] if r["check"] in ALERTS}
    queued = 0
    with transaction(app.factory) as s:
        for check in ALERTS:
            component = health.ALERT_PREFIX + check
            reason = active.get(check)
            known = s.get(Health, component)
            if reason is not None and (known is None or known.ok):
                row = health.mark_failed(s, component, now, reason["text"])
                # Also in the journal at once: for an SMTP failure the mail waits for SMTP to come back.
                log.error("ALERT %s: %s", check, reason["text"])
                queued += _queue(s, app, check, "start", row.error_since or now, reason["text"], now)
            elif reason is not None and known is not None:
                known.last_error = reason["text"][:2000]
                known.updated_at = now
            elif reason is None and known is not None and not known.ok:
                since = known.error_since or now
                log.warning("ALERT %s is over (since %s)", check, since.isoformat())
                due_now(s, "ops_alert", now)  # a start mail still waiting for a retry goes first
                queued += _queue(s, app, check, "end", since, known.last_error, now)
                health.mark_ok(s, component, now)
    return queued


def _queue(s: Any, app: App, check: str, state: str, since: datetime, detail: str, now: datetime) -> int:
    ctx = base_context(app, now) | {"alert": {"check": check, "state": state, "since": since, "detail": detail}}
    return queue_to_admins(s, app, None, "ops_alert", ctx, (check, since.isoformat(), state), now)
