"""The keyed hashes of the passwords sent to PPKs: recorded when the credentials mail is queued, read by redaction and the archive."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.domain.redaction import secret_digest
from mailbot.store.models import IssuedSecret


def record_issued(s: Session, key: bytes, case_id: int, password: str | None, now: datetime) -> None:
    """Keep the HMAC of a password that is being sent (once per case and value); never the password."""
    if not password:
        return
    digest = secret_digest(key, password)
    known = s.scalar(select(IssuedSecret.id).where(IssuedSecret.case_id == case_id,
                                                   IssuedSecret.digest == digest).limit(1))
    if known is None:
        s.add(IssuedSecret(case_id=case_id, digest=digest, created_at=now))


def issued_digests(s: Session, case_id: int | None = None) -> frozenset[str]:
    """Every recorded digest (of one case, with `case_id`)."""
    query = select(IssuedSecret.digest)
    if case_id is not None:
        query = query.where(IssuedSecret.case_id == case_id)
    return frozenset(s.scalars(query))
