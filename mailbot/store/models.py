"""The SQLAlchemy tables: cases, events, messages, documents, findings, outbox, registry, codes, SLA."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Optional, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mailbot.domain.states import CaseStatus, InboundStatus, OutboxStatus, RequestType

E = TypeVar("E", bound=enum.StrEnum)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: object) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect: object) -> Optional[datetime]:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class StoredEnum(TypeDecorator[E]):
    """A StrEnum stored as its plain string value (the same VARCHAR as before: no data migration)."""

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int) -> None:
        super().__init__(length)
        self.enum_type = enum_type

    def process_bind_param(self, value: Optional[str], dialect: object) -> Optional[str]:
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: Optional[str], dialect: object) -> Optional[E]:
        return None if value is None else self.enum_type(value)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class CaseCounter(Base):
    __tablename__ = "case_counters"
    prefix: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class Ppk(Base):
    __tablename__ = "ppk_registry"
    id: Mapped[int] = mapped_column(primary_key=True)
    nama: Mapped[str] = mapped_column(String(200))
    nip: Mapped[str] = mapped_column(String(18), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    user_id: Mapped[str] = mapped_column(String(100), default="")
    satker: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def as_dict(self) -> dict[str, str]:
        """The registry entry as templates, the CLI and the archive show it."""
        return {"nama": self.nama, "nip": self.nip, "email": self.email, "user_id": self.user_id,
                "satker": self.satker}


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[CaseStatus] = mapped_column(StoredEnum(CaseStatus, 32), index=True)
    request_type: Mapped[RequestType] = mapped_column(StoredEnum(RequestType, 32), default=RequestType.UNKNOWN)
    channel: Mapped[str] = mapped_column(String(16), default="email")
    sender: Mapped[str] = mapped_column(String(254), index=True)
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    ppk_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ppk_registry.id"))
    review_round: Mapped[int] = mapped_column(Integer, default=0)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    # Secret material for the outcome; erased once the credentials mail is accepted (SPEC §5).
    proposed_password: Mapped[Optional[str]] = mapped_column(String(200))
    decided_by: Mapped[Optional[str]] = mapped_column(String(254))
    decision_note: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    archived_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    ppk: Mapped[Optional[Ppk]] = relationship()
    events: Mapped[list["Event"]] = relationship(back_populates="case", order_by="Event.id")
    documents: Mapped[list["Document"]] = relationship(back_populates="case", order_by="Document.id")
    messages: Mapped[list["InboundMessage"]] = relationship(back_populates="case",
                                                             order_by="InboundMessage.id")
    findings: Mapped[list["Finding"]] = relationship(back_populates="case", order_by="Finding.id")


class Event(Base):
    """Audit trail: every transition and every refusal, never deleted."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[Optional[int]] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[Optional[str]] = mapped_column(String(32))
    to_status: Mapped[Optional[str]] = mapped_column(String(32))
    message_id: Mapped[Optional[int]] = mapped_column(ForeignKey("inbound_messages.id"))
    detail: Mapped[str] = mapped_column(Text, default="")
    case: Mapped[Optional[Case]] = relationship(back_populates="events")


class InboundMessage(Base):
    """One message seen in the mailbox, committed (raw kept) before it is moved on the server."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_inbound_location"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200))
    uidvalidity: Mapped[int] = mapped_column(Integer)
    uid: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[Optional[str]] = mapped_column(String(998), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw_blob: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    from_addr: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[InboundStatus] = mapped_column(StoredEnum(InboundStatus, 16), default=InboundStatus.NEW,
                                                  index=True)
    kind: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[bool] = mapped_column(Boolean, default=False)
    # The Password: value of an admin reply, held from intake until the decision is applied, then erased;
    # the stored raw copy is redacted at intake (SPEC §5).
    secret: Mapped[Optional[str]] = mapped_column(String(200))
    case_id: Mapped[Optional[int]] = mapped_column(ForeignKey("cases.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    case: Mapped[Optional[Case]] = relationship(back_populates="messages")


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    message_id: Mapped[Optional[int]] = mapped_column(ForeignKey("inbound_messages.id"))
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200), default="")
    file_type: Mapped[str] = mapped_column(String(32), default="")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    usable: Mapped[bool] = mapped_column(Boolean, default=True)
    needs_manual_check: Mapped[bool] = mapped_column(Boolean, default=False)
    problem: Mapped[Optional[str]] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where `text` came from: "text" (the PDF's text layer), "ocr" (ocr_results), None (no text, or not yet).
    text_source: Mapped[Optional[str]] = mapped_column(String(8))
    case: Mapped[Case] = relationship(back_populates="documents")


class Finding(Base):
    """An automatic check result shown to the admin; each check round replaces the previous set."""

    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    case: Mapped[Case] = relationship(back_populates="findings")


class Outbox(Base):
    """A mail to send; written in the same transaction as the decision that wants it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    case_id: Mapped[Optional[int]] = mapped_column(ForeignKey("cases.id"), index=True)
    template: Mapped[str] = mapped_column(String(64))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    contains_secret: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[OutboxStatus] = mapped_column(StoredEnum(OutboxStatus, 16), default=OutboxStatus.PENDING,
                                                 index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)


class MailboxState(Base):
    __tablename__ = "mailbox_state"
    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(Integer)
    last_uid: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewCode(Base):
    """A review code issued to one admin for one review round of one case; single-use."""

    __tablename__ = "review_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    admin_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)


class SlaRecord(Base):
    """Working minutes one SOP step took on one case, against its standard."""

    __tablename__ = "sla_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    working_minutes: Mapped[float]
    standard_minutes: Mapped[int] = mapped_column(Integer)


class IssuedSecret(Base):
    """A keyed hash (HMAC-SHA256 with the App's secret key) of a password the bot sent to a PPK, kept
    after the password itself is erased so that redaction and the archive still recognise it."""

    __tablename__ = "issued_secrets"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutoReplyCount(Base):
    """Auto-replies sent per sender per day, for the flood cap of SPEC §4."""

    __tablename__ = "auto_reply_counts"
    sender: Mapped[str] = mapped_column(String(254), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class OcrResult(Base):
    """What OCR read from one file, by its SHA-256: a file sent again (in any case) is never read twice.
    `pending` until the OCR pass (cases/ocrjobs.py) has read it; `failed` with the problem (a limit hit)."""

    __tablename__ = "ocr_results"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | done | failed
    text: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[Optional[float]] = mapped_column(Float)
    low_confidence_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    words: Mapped[list[list[object]]] = mapped_column(JSON, default=list)  # [[word, confidence], …]
    pages: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    problem: Mapped[Optional[str]] = mapped_column(String(32))
    engine_version: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)


Index("ix_outbox_due", Outbox.status, Outbox.next_attempt_at)
# move_done looks for committed messages not yet moved on the server, every poll.
Index("ix_inbound_unmoved", InboundMessage.moved, InboundMessage.mailbox, InboundMessage.uidvalidity)
