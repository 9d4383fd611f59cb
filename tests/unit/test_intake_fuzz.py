"""Hypothesis drives arbitrary and mutated mail through the whole routing path (no servers:
the stored-message stage), and no message may crash processing — each ends decided, with a reason."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mailbot.app import build_app
from mailbot.config import load_settings
from mailbot.domain.results import PollResult
from mailbot.intake.process import process_pending
from mailbot.store.models import InboundMessage
from tests.support.config import write_config
from tests.support.documents import make_pdf
from tests.support.mails import request_email

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fuzz")
    cfg = write_config(tmp, "127.0.0.1", 1, "u", "127.0.0.1", 1, f"sqlite:///{tmp / 'f.db'}")
    return build_app(load_settings(Path(cfg)), secret=secrets.token_bytes(16))


def run(app, raw: bytes) -> InboundMessage:  # type: ignore[no-untyped-def]
    with app.factory() as s:
        row = InboundMessage(mailbox="INBOX", uidvalidity=1, uid=int.from_bytes(secrets.token_bytes(4), "big"),
                             sha256=hashlib.sha256(raw).hexdigest(), raw_blob=app.store.put(raw), size=len(raw),
                             received_at=datetime.now(timezone.utc))
        s.add(row)
        s.commit()
        row_id = row.id
    process_pending(app, datetime.now(timezone.utc), PollResult())
    with app.factory() as s:
        return s.scalar(select(InboundMessage).where(InboundMessage.id == row_id))


def assert_decided(row: InboundMessage) -> None:
    # A processing exception leaves the row "new" (to be retried) with the error as its reason.
    assert row.status in {"processed", "ignored", "quarantined", "not_a_request"}, f"processing raised: {row.reason}"
    if row.status != "processed":
        assert row.reason


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash(app, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    assert_decided(run(app, raw))


header_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


@FUZZ
@given(subject=header_text, name=header_text, filename=header_text, body=st.text(max_size=300),
       cut=st.integers(min_value=0, max_value=4000), flip=st.integers(min_value=0, max_value=255))
def test_mutated_requests_never_crash(app, subject: str, name: str, filename: str, body: str,  # type: ignore[no-untyped-def]
                                      cut: int, flip: int) -> None:
    clean = lambda v: " ".join(v.replace("\r", " ").replace("\n", " ").split())[:70] or "x"  # noqa: E731
    try:
        raw = request_email("fuzz@example.org", clean(name), clean(subject), body,
                            [(clean(filename) + ".pdf", make_pdf(["Permohonan", body[:50]]))])
    except Exception:  # noqa: BLE001 - the stdlib's own builder chokes on some names: no input to feed
        return
    mutated = bytearray(raw[:cut] if cut else raw)
    if mutated:
        mutated[len(mutated) // 2] ^= flip
    assert_decided(run(app, bytes(mutated)))
