"""Walk-in (hardcopy) requests registered from the CLI enter the same flow as email requests."""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path

from mailbot import cases as C
from mailbot.app import App
from mailbot.db import transaction
from mailbot.intake import evaluate_and_apply
from mailbot.parse import sanitize_filename


def register_hardcopy(app: App, *, name: str, nip: str, email: str, request_type: str, files: list[Path],
                      user: str | None, now: datetime) -> str:
    actor = f"cli:{user or getpass.getuser()}"
    with transaction(app.factory) as s:
        case = C.create_case(s, app, sender=email, sender_name=name, subject=f"Permohonan hardcopy {name}",
                             request_type=request_type, channel="hardcopy", now=now, actor=actor)
        items = [(sanitize_filename(f.name), "application/octet-stream", f.read_bytes()) for f in files]
        C.store_documents(s, app, case, items, now)
        evaluate_and_apply(s, app, case, f"{name} NIP {nip}", now, actor, first_contact=True, message_row=None)
        return case.number
