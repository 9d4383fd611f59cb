"""Opening a case from mail recorded as no request (SPEC §2 `not_a_request`; the list: admin/views.inbox_list)."""

from __future__ import annotations

from datetime import datetime

from mailbot.app import App
from mailbot.domain.errors import MailbotError
from mailbot.domain.states import InboundStatus
from mailbot.intake.parse import parse_message
from mailbot.intake.route import open_request
from mailbot.store.audit import add_event
from mailbot.store.db import transaction
from mailbot.store.models import InboundMessage


class InboxError(MailbotError):
    """`mailbot inbox open` cannot open a case from this message (the message is for the operator)."""


def open_case(app: App, row_id: int, user: str, now: datetime) -> str:
    """Make a case of message `row_id` (recorded as no request) from its stored raw copy, as if it had been
    a request, audited with the admin's name (`cli:<user>`); returns the case number."""
    actor = f"cli:{user}"
    with transaction(app.factory) as s:
        row = s.get(InboundMessage, row_id, with_for_update=True)
        if row is None:
            raise InboxError(f"message {row_id} not found")
        if row.status != InboundStatus.NOT_A_REQUEST:
            raise InboxError(f"message {row_id} is {row.status}, not a message recorded as no request")
        mail = parse_message(app.store.get(row.raw_blob))
        case = open_request(s, app, row, mail, now, actor)
        add_event(s, case, actor, "opened_from_inbox", now, message_id=row.id,
                  detail=f"message {row.id} recorded as not_a_request ({row.reason or '-'}) opened as a case")
        row.reason = ""
        return case.number
