"""The typed states of cases, inbound messages and outbox rows, and the request types (stored as their values)."""

from __future__ import annotations

import enum


class CaseStatus(enum.StrEnum):
    """Where a case stands in the SOP (SPEC §3)."""

    RECEIVED = "RECEIVED"
    AWAITING_DOCUMENTS = "AWAITING_DOCUMENTS"
    AWAITING_REVIEW = "AWAITING_REVIEW"
    APPROVED = "APPROVED"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


# The states a case never leaves; every other state is open.
CLOSED = frozenset({CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.EXPIRED})
OPEN_STATUSES = (CaseStatus.RECEIVED, CaseStatus.AWAITING_DOCUMENTS, CaseStatus.AWAITING_REVIEW,
                 CaseStatus.APPROVED)


class InboundStatus(enum.StrEnum):
    """What became of one message seen in the mailbox."""

    NEW = "new"  # committed, not yet processed
    PROCESSED = "processed"
    IGNORED = "ignored"  # automatic mail, refused codes: recorded, no case change
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"
    NOT_A_REQUEST = "not_a_request"  # no request type, sender not in the registry, no document: no case


class OutboxStatus(enum.StrEnum):
    """Where one outgoing mail stands; only mailbot.outgoing.outbox changes it."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class RequestType(enum.StrEnum):
    """What the PPK asks for."""

    RESET_PASSWORD = "reset_password"
    USER_ID_INFO = "user_id_info"
    BOTH = "both"
    UNKNOWN = "unknown"


# Request types that get a (proposed) temporary password, and those that get the user ID.
WANTS_PASSWORD = frozenset({RequestType.RESET_PASSWORD, RequestType.BOTH, RequestType.UNKNOWN})
WANTS_USER_ID = frozenset({RequestType.USER_ID_INFO, RequestType.BOTH})

REQUEST_TYPE_LABELS = {
    RequestType.RESET_PASSWORD: "reset password",
    RequestType.USER_ID_INFO: "informasi user ID",
    RequestType.BOTH: "reset password dan informasi user ID",
    RequestType.UNKNOWN: "jenis permohonan tidak dikenali",
}
