"""Walk-in (hardcopy) requests registered from the CLI, entering the same flow as email."""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path

from mailbot.app import App
from mailbot.cases.checks import evaluate_and_apply, store_documents
from mailbot.cases.records import create_case
from mailbot.domain.text import sanitize_filename
from mailbot.store.db import transaction


def register_hardcopy(app: App, *, name: str, nip: str, email: str, request_type: str, files: list[Path],
                      user: str | None, now: datetime) -> str:
    actor = f"cli:{user or getpass.getuser()}"
    with transaction(app.factory) as s:
        case = create_case(s, app, sender=email, sender_name=name, subject=f"Permohonan hardcopy {name}",
                             request_type=request_type, channel="hardcopy", now=now, actor=actor)
        items = [(sanitize_filename(f.name), "application/octet-stream", f.read_bytes()) for f in files]
        store_documents(s, app, case, items, now)
        # The admin saw the originals at the desk: complete by the admin's word, straight to review.
        evaluate_and_apply(s, app, case, f"{name} NIP {nip}", now, actor, first_contact=True, message_row=None,
                           vouched=True)
        return case.number
